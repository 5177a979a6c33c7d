//! [`CarError`]: why a CAR file was rejected, and where.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use atproto_core::Cid;
use atproto_core::data::{CborError, CidError};

/// A CAR reading or writing failure: what went wrong ([`CarErrorKind`]) and
/// at which byte offset of the CAR stream.
///
/// The offset is where the offending item starts: the length prefix of a
/// section, the first byte of a CID, the first byte of a block.
///
/// When the underlying reader or writer failed ([`CarErrorKind::Io`]), its
/// own error is kept as the [`source`](core::error::Error::source), so the
/// type is neither `Clone` nor `PartialEq`; compare
/// [`kind`](CarError::kind) and [`offset`](CarError::offset) instead.
#[derive(Debug)]
#[non_exhaustive]
pub struct CarError {
    offset: u64,
    kind: CarErrorKind,
    cause: Option<Box<dyn core::error::Error + Send + Sync>>,
}

impl CarError {
    /// An error of `kind` at byte `offset`.
    pub fn new(kind: CarErrorKind, offset: u64) -> Self {
        CarError {
            offset,
            kind,
            cause: None,
        }
    }

    /// A failure of the underlying reader or writer ([`CarErrorKind::Io`])
    /// at byte `offset`, keeping its error as the source.
    pub fn io(cause: impl Into<Box<dyn core::error::Error + Send + Sync>>, offset: u64) -> Self {
        CarError {
            offset,
            kind: CarErrorKind::Io,
            cause: Some(cause.into()),
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &CarErrorKind {
        &self.kind
    }

    /// The byte offset in the CAR stream where the offending item starts
    /// (for writers: how many bytes had been written).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the input ended early (a cut-off download, a short read).
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, CarErrorKind::Truncated)
    }

    /// Whether a block's bytes do not hash to its CID.
    pub fn is_hash_mismatch(&self) -> bool {
        matches!(self.kind, CarErrorKind::HashMismatch { .. })
    }

    /// The [`std::io::Error`] of the underlying reader or writer, when that
    /// is what failed.
    #[cfg(feature = "std")]
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.cause.as_ref()?.downcast_ref()
    }
}

impl fmt::Display for CarError {
    /// The kind and offset, then the cause's message if there is one (the
    /// message alone tells the whole story).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)?;
        match &self.cause {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
    }
}

impl core::error::Error for CarError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match (&self.kind, &self.cause) {
            (_, Some(cause)) => Some(&**cause),
            (CarErrorKind::BadHeader(HeaderError::Cbor(e)), None) => Some(e),
            (CarErrorKind::MalformedCid(e), None) => Some(e),
            _ => None,
        }
    }
}

/// What was wrong with a CAR file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CarErrorKind {
    /// The input ended inside the header or a section.
    #[error("truncated CAR: input ends inside an item")]
    Truncated,
    /// A length prefix longer than 9 bytes (above 2^63 − 1), the
    /// multiformats limit ([`atproto_core::varint`]).
    #[error("varint longer than 9 bytes")]
    VarintOverflow,
    /// A length prefix not in its shortest form (a trailing `0x00` byte).
    #[error("varint not in its shortest form")]
    NonMinimalVarint,
    /// The header's length prefix exceeds [`CarLimits::max_header_size`](super::CarLimits::max_header_size).
    #[error("CAR header of {len} bytes exceeds the limit")]
    HeaderTooLarge {
        /// The declared header length.
        len: u64,
    },
    /// The header is not `{roots: [CID, …], version: 1}` in canonical DAG-CBOR.
    #[error("bad CAR header: {0}")]
    BadHeader(HeaderError),
    /// A section (CID + block) longer than the block limit allows
    /// ([`CarLimits::max_block_size`](super::CarLimits::max_block_size)).
    #[error("block section of {len} bytes exceeds the limit")]
    BlockTooLarge {
        /// The declared section length (CID and block).
        len: u64,
    },
    /// The CAR is longer than [`CarLimits::max_total_size`](super::CarLimits::max_total_size).
    #[error("CAR exceeds the total size limit")]
    TotalTooLarge,
    /// More blocks than [`CarLimits::max_blocks`](super::CarLimits::max_blocks).
    #[error("CAR exceeds the block count limit")]
    TooManyBlocks,
    /// A section whose CID is not a strict CIDv1 (CIDv0, another version, a
    /// varint cut off, not minimal or too long, a digest running past the
    /// section); the [`CidError`] names the field and its offset in the CID.
    #[error("bad CID: {0}")]
    MalformedCid(CidError),
    /// A section whose CID is a sha2-256 CIDv1 with a digest that is not
    /// 32 bytes.
    #[error("bad CID: {0}")]
    BadCid(&'static str),
    /// A CID whose codec is neither dag-cbor (`0x71`) nor raw (`0x55`).
    #[error("unsupported CID codec 0x{0:x} (expected dag-cbor 0x71 or raw 0x55)")]
    UnsupportedCodec(u64),
    /// A CID whose multihash is not sha2-256 (`0x12`), the only hash ATProto uses.
    #[error("unsupported multihash 0x{0:x} (expected sha2-256 0x12)")]
    UnsupportedHash(u64),
    /// The block's SHA-256 differs from the digest in its CID.
    #[error("block does not hash to its CID {cid}")]
    HashMismatch {
        /// The CID the section claimed.
        cid: Cid,
    },
    /// The underlying reader or writer failed; its error is the
    /// [`CarError`]'s source (see [`CarError::io`]).
    #[error("I/O error")]
    Io,
}

/// Why a CAR header was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// A header length of zero.
    #[error("empty header")]
    Empty,
    /// The header is not canonical DAG-CBOR.
    #[error("{0}")]
    Cbor(CborError),
    /// The header is not a map.
    #[error("header is not a map")]
    NotAMap,
    /// A key other than `roots` and `version`.
    #[error("unexpected header key {0:?}")]
    UnknownKey(String),
    /// No `version` key.
    #[error("missing `version`")]
    MissingVersion,
    /// A `version` other than the integer 1 (CARv2 files start with a
    /// `{version: 2}` pragma and are not read here).
    #[error("unsupported version (only CAR v1 is read)")]
    UnsupportedVersion,
    /// No `roots` key.
    #[error("missing `roots`")]
    MissingRoots,
    /// `roots` is not an array of CID links.
    #[error("`roots` is not an array of CIDs")]
    RootsNotCids,
    /// `roots` is an empty array.
    #[error("`roots` is empty")]
    NoRoots,
}
