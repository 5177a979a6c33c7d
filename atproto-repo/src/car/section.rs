//! The sans-I/O core shared by every reader: varints, the header, and the
//! check of one section (CID, hash).

use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::data::{
    ATPROTO_CID_LEN, DAG_CBOR_CODEC, Limits, RAW_CODEC, SHA2_256, SHA2_256_LEN, Value, cbor,
    parse_cid_prefix, sha256_cid, split_sha256_cid,
};
use atproto_core::varint::{self, VarintError};

use super::error::{CarErrorKind, HeaderError};

/// Reads the varint length prefix at the start of `buf` with
/// [`atproto_core::varint::decode`].
///
/// `Ok(None)` means `buf` ends before the varint does (more input needed).
#[inline]
pub(crate) fn read_varint(buf: &[u8]) -> Result<Option<(u64, usize)>, CarErrorKind> {
    match varint::decode(buf) {
        Ok(v) => Ok(Some(v)),
        Err(VarintError::Truncated) => Ok(None),
        Err(VarintError::NonMinimal) => Err(CarErrorKind::NonMinimalVarint),
        Err(_) => Err(CarErrorKind::VarintOverflow),
    }
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
    let (codec, digest) = match split_sha256_cid(section) {
        Some((codec, digest)) if matches!(u64::from(codec), DAG_CBOR_CODEC | RAW_CODEC) => {
            (codec, digest)
        }
        _ => return Err((diagnose_cid(section), 0)),
    };
    let block = &section[ATPROTO_CID_LEN..];
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
pub(crate) fn hash_mismatch(codec: u8, digest: &[u8; SHA2_256_LEN]) -> (CarErrorKind, usize) {
    let cid = cid_of(codec, digest);
    (CarErrorKind::HashMismatch { cid }, ATPROTO_CID_LEN)
}

/// The CIDv1 / sha2-256 of `digest` with `codec`.
#[inline]
pub(crate) fn cid_of(codec: u8, digest: &[u8; SHA2_256_LEN]) -> Cid {
    sha256_cid(u64::from(codec), digest)
}

/// Says why `section` does not start with a CIDv1 / dag-cbor or raw /
/// sha2-256 / 32-byte digest (the only form [`check_section`] accepts).
#[cold]
fn diagnose_cid(section: &[u8]) -> CarErrorKind {
    let cid = match parse_cid_prefix(section) {
        Ok((cid, _)) => cid,
        Err(e) => return CarErrorKind::MalformedCid(e),
    };
    let hash = cid.hash();
    if cid.codec() != DAG_CBOR_CODEC && cid.codec() != RAW_CODEC {
        CarErrorKind::UnsupportedCodec(cid.codec())
    } else if hash.code() != SHA2_256 {
        CarErrorKind::UnsupportedHash(hash.code())
    } else {
        CarErrorKind::BadCid("sha2-256 digest must be 32 bytes")
    }
}
