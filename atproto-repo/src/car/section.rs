//! The sans-I/O core shared by every reader: varints, the header, and the
//! check of one section (CID, hash).

use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::cid::multihash::Multihash;
use atproto_core::data::{DAG_CBOR_CODEC, Limits, RAW_CODEC, SHA2_256, Value, cbor};

use super::error::{CarErrorKind, HeaderError};

/// Length of the binary form of an ATProto CID: version, codec, hash code,
/// digest length (one byte each) and the 32-byte digest.
pub(crate) const ATPROTO_CID_LEN: usize = 36;

/// Longest accepted varint: 10 bytes carry 64 bits.
const MAX_VARINT_LEN: usize = 10;

/// Reads an unsigned LEB128 varint from the start of `buf`.
///
/// `Ok(None)` means `buf` ends before the varint does (more input needed).
/// Varints must be minimal and fit `u64`.
#[inline]
pub(crate) fn read_varint(buf: &[u8]) -> Result<Option<(u64, usize)>, CarErrorKind> {
    // Fast path: most section lengths (blocks under 16 KiB) take two bytes.
    match buf {
        [b0, ..] if b0 & 0x80 == 0 => return Ok(Some((u64::from(*b0), 1))),
        [b0, b1, ..] if b1 & 0x80 == 0 => {
            if *b1 == 0 {
                return Err(CarErrorKind::NonMinimalVarint);
            }
            return Ok(Some((u64::from(b0 & 0x7f) | (u64::from(*b1) << 7), 2)));
        }
        _ => {}
    }
    let mut value = 0u64;
    for i in 0..MAX_VARINT_LEN {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        // The tenth byte may only carry the 64th bit.
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(CarErrorKind::VarintOverflow);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(CarErrorKind::NonMinimalVarint);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(CarErrorKind::VarintOverflow)
}

/// Appends `value` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn write_varint(out: &mut [u8; MAX_VARINT_LEN], mut value: u64) -> usize {
    let mut i = 0;
    while value >= 0x80 {
        out[i] = (value as u8) | 0x80;
        value >>= 7;
        i += 1;
    }
    out[i] = value as u8;
    i + 1
}

/// Decodes the header bytes (without their length prefix) into the roots.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Vec<Cid>, HeaderError> {
    if bytes.is_empty() {
        return Err(HeaderError::Empty);
    }
    let limits = Limits {
        max_size: bytes.len(),
        ..Limits::DEFAULT
    };
    let value = cbor::decode_with(bytes, &limits).map_err(HeaderError::Cbor)?;
    let Value::Map(map) = value else {
        return Err(HeaderError::NotAMap);
    };
    if let Some(key) = map.keys().find(|k| *k != "roots" && *k != "version") {
        return Err(HeaderError::UnknownKey(key.clone()));
    }
    match map.get("version") {
        None => return Err(HeaderError::MissingVersion),
        Some(Value::Integer(1)) => {}
        Some(_) => return Err(HeaderError::UnsupportedVersion),
    }
    let Some(roots) = map.get("roots") else {
        return Err(HeaderError::MissingRoots);
    };
    let Value::Array(roots) = roots else {
        return Err(HeaderError::RootsNotCids);
    };
    if roots.is_empty() {
        return Err(HeaderError::NoRoots);
    }
    roots
        .iter()
        .map(|r| r.as_link().copied().ok_or(HeaderError::RootsNotCids))
        .collect()
}

/// Encodes the header `{roots, version: 1}` (without its length prefix).
pub(crate) fn encode_header(roots: &[Cid]) -> Vec<u8> {
    let mut map = alloc::collections::BTreeMap::new();
    map.insert(
        alloc::string::String::from("roots"),
        Value::Array(roots.iter().copied().map(Value::Link).collect()),
    );
    map.insert(alloc::string::String::from("version"), Value::Integer(1));
    cbor::encode(&Value::Map(map))
}

/// Parses the CID at the start of a complete section and checks the block
/// that follows it against the CID's digest.
///
/// Returns the CID and its length in bytes. Errors carry the offset within
/// the section where the offending item starts.
#[inline]
pub(crate) fn check_section(
    section: &[u8],
    max_block_size: usize,
) -> Result<(Cid, usize), (CarErrorKind, usize)> {
    let (codec, digest) = check_section_raw(section, max_block_size)?;
    Ok((cid_of(codec, digest), ATPROTO_CID_LEN))
}

/// [`check_section`] without building the CID: the codec and the digest,
/// borrowed from the section. The block is `section[ATPROTO_CID_LEN..]`.
#[inline]
pub(crate) fn check_section_raw(
    section: &[u8],
    max_block_size: usize,
) -> Result<(u8, &[u8; 32]), (CarErrorKind, usize)> {
    let Section {
        codec,
        digest,
        block,
    } = split_section(section, max_block_size)?;
    if crate::hash::sha256(block) != *digest {
        return Err(hash_mismatch(codec, digest));
    }
    Ok((codec, digest))
}

/// A section split into its CID's codec and digest and its block.
pub(crate) struct Section<'a> {
    pub(crate) codec: u8,
    pub(crate) digest: &'a [u8; 32],
    pub(crate) block: &'a [u8],
}

/// Splits a complete section, checking the CID's form and the block's size
/// but not its hash.
#[inline]
pub(crate) fn split_section(
    section: &[u8],
    max_block_size: usize,
) -> Result<Section<'_>, (CarErrorKind, usize)> {
    let (codec, digest, block) = match section {
        [1, codec @ (0x71 | 0x55), 0x12, 0x20, rest @ ..] if rest.len() >= 32 => {
            let (digest, block) = rest.split_at(32);
            match <&[u8; 32]>::try_from(digest) {
                Ok(digest) => (*codec, digest, block),
                Err(_) => return Err((diagnose_cid(section), 0)),
            }
        }
        _ => return Err((diagnose_cid(section), 0)),
    };
    if block.len() > max_block_size {
        return Err((
            CarErrorKind::BlockTooLarge {
                len: section.len() as u64,
            },
            0,
        ));
    }
    Ok(Section {
        codec,
        digest,
        block,
    })
}

/// The error for a block whose hash is not its CID's `digest`, at its
/// offset in the section (just after the CID).
#[cold]
pub(crate) fn hash_mismatch(codec: u8, digest: &[u8]) -> (CarErrorKind, usize) {
    let cid = cid_of(codec, digest);
    (CarErrorKind::HashMismatch { cid }, ATPROTO_CID_LEN)
}

/// The CIDv1 / sha2-256 of `digest` with `codec`.
pub(crate) fn cid_of(codec: u8, digest: &[u8]) -> Cid {
    // Every caller's digest is 32 bytes, which always fits the 64-byte
    // multihash.
    let hash = Multihash::<64>::wrap(SHA2_256, digest).unwrap_or_default();
    Cid::new_v1(u64::from(codec), hash)
}

/// Says why `section` does not start with a CIDv1 / dag-cbor or raw /
/// sha2-256 / 32-byte digest (the only form [`check_section`] accepts).
#[cold]
fn diagnose_cid(section: &[u8]) -> CarErrorKind {
    if let [0x12, 0x20, ..] = section {
        return CarErrorKind::BadCid("CIDv0 is not accepted");
    }
    let mut rest = section;
    for field in 0..4 {
        let value = match read_varint(rest) {
            Ok(Some((v, n))) => {
                rest = &rest[n..];
                v
            }
            Ok(None) => return CarErrorKind::BadCid("CID runs past the end of its section"),
            Err(_) => return CarErrorKind::BadCid("malformed varint in CID"),
        };
        match field {
            0 if value != 1 => return CarErrorKind::BadCid("unsupported CID version"),
            1 if value != DAG_CBOR_CODEC && value != RAW_CODEC => {
                return CarErrorKind::UnsupportedCodec(value);
            }
            2 if value != SHA2_256 => return CarErrorKind::UnsupportedHash(value),
            3 if value != 32 => return CarErrorKind::BadCid("sha2-256 digest must be 32 bytes"),
            _ => {}
        }
    }
    CarErrorKind::BadCid("CID runs past the end of its section")
}

/// The binary form of `cid` (CIDv1: four varints and the digest; CIDv0: the
/// multihash alone) in a stack buffer, and its length.
pub(crate) fn cid_bytes(cid: &Cid, out: &mut [u8; 104]) -> usize {
    let mut n = 0;
    let mut push = |v: u64, out: &mut [u8; 104]| {
        let mut tmp = [0u8; MAX_VARINT_LEN];
        let len = write_varint(&mut tmp, v);
        out[n..n + len].copy_from_slice(&tmp[..len]);
        n += len;
    };
    let hash = cid.hash();
    if cid.version() == atproto_core::cid::Version::V1 {
        push(1, out);
        push(cid.codec(), out);
    }
    push(hash.code(), out);
    push(u64::from(hash.size()), out);
    let digest = hash.digest();
    out[n..n + digest.len()].copy_from_slice(digest);
    n + digest.len()
}
