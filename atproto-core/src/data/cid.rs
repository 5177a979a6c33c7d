//! CIDs as ATProto uses them, and the one reader and writer of their binary
//! form.
//!
//! # Binary form
//!
//! A CIDv1 is four [varints](crate::varint) and a digest: the version `1`,
//! the content codec, the multihash code, the digest length, then the
//! digest. [`parse_cid`] (the whole input) and [`parse_cid_prefix`] (a CID
//! at the start of longer input) read it strictly: every varint minimal and
//! at most 9 bytes, version 1 only (a CIDv0, a bare sha2-256 multihash, is
//! refused), a digest of at most [`MAX_DIGEST_LEN`] bytes that is all there,
//! and for [`parse_cid`] nothing after it. So bytes that parse are exactly
//! what [`encode_cid`] writes back. Every CID read from bytes in these
//! crates (DAG-CBOR links, MST nodes, CAR sections, CID strings) goes
//! through them.
//!
//! ATProto itself writes one form: CIDv1, codec dag-cbor ([`DAG_CBOR_CODEC`],
//! records, MST nodes, commits, `bafyrei…`) or raw ([`RAW_CODEC`], blobs,
//! `bafkrei…`), sha2-256 ([`SHA2_256`]) with a 32-byte digest: the
//! [`ATPROTO_CID_LEN`] = 36 bytes `01 ‖ codec ‖ 12 20 ‖ digest`. The block
//! readers' fast paths take it apart with [`split_sha256_cid`] and build it
//! with [`sha256_cid`] / [`sha256_cid_head`].

use cid::multihash::Multihash;
use cid::{Cid, Version};
use core::fmt;
use sha2::{Digest, Sha256};

use super::limits::MAX_CID_LEN;
use crate::varint::{self, VarintError};

/// The CID version these crates read: 1.
pub const CID_V1: u64 = 1;
/// Multicodec code of DAG-CBOR (`0x71`): records, MST nodes, commits (`bafyrei…`).
pub const DAG_CBOR_CODEC: u64 = 0x71;
/// Multicodec code of raw bytes (`0x55`): blobs (`bafkrei…`).
pub const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256 (`0x12`).
pub const SHA2_256: u64 = 0x12;
/// Length of a sha2-256 digest: 32 bytes.
pub const SHA2_256_LEN: usize = 32;
/// The longest multihash digest a [`Cid`] holds: 64 bytes.
pub const MAX_DIGEST_LEN: usize = 64;
/// Length of the binary form of an ATProto CID (CIDv1, a one-byte codec,
/// sha2-256): version, codec, hash code and digest length, one byte each,
/// then the 32-byte digest.
pub const ATPROTO_CID_LEN: usize = 4 + SHA2_256_LEN;

/// The CID of `bytes` hashed with sha2-256, with `codec`.
fn hash_cid(codec: u64, bytes: &[u8]) -> Cid {
    sha256_cid(codec, &Sha256::digest(bytes).into())
}

/// The CID of a DAG-CBOR block: CIDv1, codec `0x71`, sha2-256 of `bytes`.
///
/// `bytes` should be canonical DAG-CBOR (see [`crate::data::cbor::encode`]);
/// the CID covers exactly these bytes.
pub fn dag_cbor_cid(bytes: &[u8]) -> Cid {
    hash_cid(DAG_CBOR_CODEC, bytes)
}

/// The CID of a blob: CIDv1, codec `0x55` (raw), sha2-256 of `bytes`.
pub fn raw_cid(bytes: &[u8]) -> Cid {
    hash_cid(RAW_CODEC, bytes)
}

/// The CIDv1 with `codec` whose multihash is the sha2-256 `digest`.
#[inline]
pub fn sha256_cid(codec: u64, digest: &[u8; SHA2_256_LEN]) -> Cid {
    // 32 bytes always fit the 64-byte multihash, so `wrap` cannot fail.
    let hash = Multihash::<MAX_DIGEST_LEN>::wrap(SHA2_256, digest).unwrap_or_default();
    Cid::new_v1(codec, hash)
}

/// Whether `cid` has the form ATProto blesses for new data: version 1,
/// sha2-256 with a 32-byte digest, codec dag-cbor or raw.
///
/// Decoders do not require this of every link they read (a CID found in
/// existing data is kept as is); writers and validators use it.
pub fn is_atproto_cid(cid: &Cid) -> bool {
    cid.version() == Version::V1
        && (cid.codec() == DAG_CBOR_CODEC || cid.codec() == RAW_CODEC)
        && cid.hash().code() == SHA2_256
        && usize::from(cid.hash().size()) == SHA2_256_LEN
}

/// The first four bytes of the binary form of a CIDv1 sha2-256 with the
/// one-byte `codec` (below `0x80`): `01 ‖ codec ‖ 12 20`. The 32-byte
/// digest follows them.
#[inline]
pub const fn sha256_cid_head(codec: u8) -> [u8; 4] {
    [CID_V1 as u8, codec, SHA2_256 as u8, SHA2_256_LEN as u8]
}

/// Takes apart the CIDv1 sha2-256 with a one-byte codec (every CID an
/// honest repository holds) at the start of `bytes`: its codec and digest.
///
/// `None` when `bytes` starts with anything else, including any other valid
/// CID; [`parse_cid_prefix`] reads those. When this returns `Some`, that
/// parser would return the same CID and [`ATPROTO_CID_LEN`].
#[inline]
pub fn split_sha256_cid(bytes: &[u8]) -> Option<(u8, &[u8; SHA2_256_LEN])> {
    match bytes {
        [version, codec, code, len, rest @ ..]
            if u64::from(*version) == CID_V1
                && *codec < 0x80
                && u64::from(*code) == SHA2_256
                && usize::from(*len) == SHA2_256_LEN =>
        {
            Some((*codec, rest.first_chunk()?))
        }
        _ => None,
    }
}

/// Writes the binary form of `cid` at the start of `buf` (CIDv1: version,
/// codec, hash code, digest length and digest; CIDv0: the multihash alone);
/// returns the bytes written. Any [`Cid`] takes at most 86 bytes, so the
/// buffer is never too small.
pub fn encode_cid<'a>(cid: &Cid, buf: &'a mut [u8; MAX_CID_LEN]) -> &'a [u8] {
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        if let Some(dst) = buf.get_mut(n..n + bytes.len()) {
            dst.copy_from_slice(bytes);
            n += bytes.len();
        }
    };
    let mut tmp = [0; varint::MAX_U64_LEN];
    let hash = cid.hash();
    if cid.version() == Version::V1 {
        put(varint::encode(CID_V1, &mut tmp));
        put(varint::encode(cid.codec(), &mut tmp));
    }
    put(varint::encode(hash.code(), &mut tmp));
    put(varint::encode(u64::from(hash.size()), &mut tmp));
    put(hash.digest());
    &buf[..n]
}

/// Appends the binary form of `cid` (as [`encode_cid`] writes it) to `out`.
pub fn write_cid(cid: &Cid, out: &mut alloc::vec::Vec<u8>) {
    out.extend_from_slice(encode_cid(cid, &mut [0; MAX_CID_LEN]));
}

/// Parses `bytes` as exactly one binary CIDv1, with nothing after it.
///
/// # Errors
/// A [`CidError`] saying which field is wrong and where (see the [module
/// docs](self) for the rules).
pub fn parse_cid(bytes: &[u8]) -> Result<Cid, CidError> {
    parse(bytes, true).map(|(cid, _)| cid)
}

/// Parses the binary CIDv1 at the start of `bytes`; returns it and the
/// number of bytes it takes. What follows it is not looked at.
///
/// # Errors
/// As [`parse_cid`], except that bytes after the digest are allowed.
pub fn parse_cid_prefix(bytes: &[u8]) -> Result<(Cid, usize), CidError> {
    parse(bytes, false)
}

fn parse(bytes: &[u8], exact: bool) -> Result<(Cid, usize), CidError> {
    let mut pos = 0;
    let mut read = |field: CidField| {
        let at = pos;
        let rest = bytes.get(at..).unwrap_or_default();
        let (value, len) = varint::decode(rest)
            .map_err(|error| CidError::new(CidErrorKind::Varint { field, error }, at))?;
        pos += len;
        Ok((value, at))
    };
    if bytes.starts_with(&[SHA2_256 as u8, SHA2_256_LEN as u8]) {
        return Err(CidError::new(CidErrorKind::V0, 0));
    }
    let (version, _) = read(CidField::Version)?;
    if version != CID_V1 {
        return Err(CidError::new(CidErrorKind::Version(version), 0));
    }
    let (codec, _) = read(CidField::Codec)?;
    let (code, _) = read(CidField::HashCode)?;
    let (declared, len_at) = read(CidField::DigestLength)?;
    let too_long = || CidError::new(CidErrorKind::DigestTooLong(declared), len_at);
    if declared > MAX_DIGEST_LEN as u64 {
        return Err(too_long());
    }
    let rest = bytes.get(pos..).unwrap_or_default();
    let len = declared as usize;
    if rest.len() < len || (exact && rest.len() != len) {
        let present = rest.len();
        return Err(CidError::new(
            CidErrorKind::DigestLength { declared, present },
            len_at,
        ));
    }
    let hash = Multihash::<MAX_DIGEST_LEN>::wrap(code, &rest[..len]).map_err(|_| too_long())?;
    Ok((Cid::new_v1(codec, hash), pos + len))
}

/// Why bytes are not a binary CID [`parse_cid`] accepts, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CidError {
    offset: usize,
    kind: CidErrorKind,
}

impl CidError {
    /// An error of `kind` at byte `offset` of the CID.
    pub fn new(kind: CidErrorKind, offset: usize) -> Self {
        CidError { offset, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &CidErrorKind {
        &self.kind
    }

    /// The byte offset, from the start of the CID, of the field at fault.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for CidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (CID byte {})", self.kind, self.offset)
    }
}

impl core::error::Error for CidError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            CidErrorKind::Varint { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What was wrong with a binary CID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CidErrorKind {
    /// A field's varint is cut off, not minimal, or too long.
    #[error("{field}: {error}")]
    Varint {
        /// The field being read.
        field: CidField,
        /// What was wrong with its varint.
        error: VarintError,
    },
    /// A CIDv0 (a bare sha2-256 multihash, `12 20 …`): only CIDv1 is read.
    #[error("CIDv0 is not accepted (only CIDv1)")]
    V0,
    /// A version other than 1.
    #[error("unsupported CID version {0} (only CIDv1)")]
    Version(u64),
    /// A multihash that declares a digest longer than [`MAX_DIGEST_LEN`] bytes.
    #[error("multihash declares a {0}-byte digest (at most 64)")]
    DigestTooLong(u64),
    /// The digest is not as long as the multihash declares: fewer bytes
    /// follow, or (for the whole-input [`parse_cid`]) more.
    #[error("multihash declares a {declared}-byte digest but {present} bytes follow")]
    DigestLength {
        /// The declared digest length.
        declared: u64,
        /// The bytes after the digest length.
        present: usize,
    },
}

/// A field of a binary CID, as [`CidErrorKind::Varint`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CidField {
    /// The version.
    Version,
    /// The content codec.
    Codec,
    /// The multihash code.
    HashCode,
    /// The multihash digest length.
    DigestLength,
}

impl fmt::Display for CidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CidField::Version => "CID version",
            CidField::Codec => "CID codec",
            CidField::HashCode => "multihash code",
            CidField::DigestLength => "multihash digest length",
        })
    }
}
