//! [`CborError`]: why DAG-CBOR bytes were rejected, and where.

use alloc::string::String;
use core::fmt;

use crate::data::CidError;

/// A DAG-CBOR decoding (or typed encoding) failure: what went wrong and at
/// which byte offset of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CborError {
    offset: usize,
    kind: CborErrorKind,
}

/// What was wrong with DAG-CBOR input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CborErrorKind {
    /// The input ended inside an item (or a declared length exceeds what is left).
    UnexpectedEof,
    /// A floating-point number: the data model has none.
    Float,
    /// An indefinite-length string, array or map.
    IndefiniteLength,
    /// An integer, length or tag argument not in its shortest form.
    NonCanonicalInteger,
    /// Map keys not in canonical order (length first, then bytewise).
    UnsortedMapKeys,
    /// The same map key twice.
    DuplicateMapKey,
    /// A tag other than 42 (the tag number is given).
    UnsupportedTag(u64),
    /// A map key that is not a text string.
    NonStringMapKey,
    /// A text string that is not valid UTF-8.
    InvalidUtf8,
    /// Tag 42 whose payload is not a byte string of `0x00` and at most
    /// [`Limits::max_cid_len`](crate::data::Limits::max_cid_len) more bytes.
    InvalidCid,
    /// Tag 42 over `0x00` and a binary CID that [`parse_cid`](crate::data::parse_cid)
    /// refuses (not CIDv1, a varint cut off, not minimal or too long, a digest
    /// not of its declared length, bytes after it); the [`CidError`] says which
    /// field and where in the CID.
    MalformedCid(CidError),
    /// An integer outside `i64`.
    IntegerOverflow,
    /// Bytes after the top-level item.
    TrailingBytes,
    /// Input longer than [`Limits::max_size`](crate::data::Limits::max_size).
    TooLarge,
    /// Containers nested deeper than [`Limits::max_depth`](crate::data::Limits::max_depth).
    TooDeep,
    /// A container with more than [`Limits::max_container_len`](crate::data::Limits::max_container_len) elements.
    TooManyElements,
    /// A map key longer than [`Limits::max_key_len`](crate::data::Limits::max_key_len).
    KeyTooLong,
    /// A simple value other than `false`, `true` and `null` (including `undefined`).
    InvalidSimpleValue,
    /// A reserved additional-information value (28–30) or a stray "break" byte.
    InvalidHeader,
    /// `$type` present but not a non-empty string.
    InvalidType,
    /// A map with `$type: "blob"` whose fields are missing or mistyped.
    InvalidBlob(&'static str),
    /// An error from the typed serde path ([`to_vec`](super::to_vec) / [`from_slice`](super::from_slice)).
    Serde(String),
}

impl CborError {
    /// An error of `kind` at byte `offset`.
    pub fn new(kind: CborErrorKind, offset: usize) -> Self {
        CborError { offset, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &CborErrorKind {
        &self.kind
    }

    /// The byte offset in the input where the offending item starts (0 for
    /// errors of the serde path, which does not report positions).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for CborErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CborErrorKind::UnexpectedEof => f.write_str("unexpected end of input"),
            CborErrorKind::Float => f.write_str("floats are not allowed in the data model"),
            CborErrorKind::IndefiniteLength => f.write_str("indefinite-length item"),
            CborErrorKind::NonCanonicalInteger => f.write_str("non-canonical integer encoding"),
            CborErrorKind::UnsortedMapKeys => f.write_str("map keys not in canonical order"),
            CborErrorKind::DuplicateMapKey => f.write_str("duplicate map key"),
            CborErrorKind::UnsupportedTag(t) => write!(f, "unsupported tag {t}"),
            CborErrorKind::NonStringMapKey => f.write_str("map key is not a string"),
            CborErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8 in string"),
            CborErrorKind::InvalidCid => {
                f.write_str("invalid CID link (expected bytes 0x00 followed by a CID)")
            }
            CborErrorKind::MalformedCid(e) => write!(f, "invalid CID link: {e}"),
            CborErrorKind::IntegerOverflow => f.write_str("integer out of i64 range"),
            CborErrorKind::TrailingBytes => f.write_str("trailing bytes after the value"),
            CborErrorKind::TooLarge => f.write_str("input too large"),
            CborErrorKind::TooDeep => f.write_str("nesting too deep"),
            CborErrorKind::TooManyElements => f.write_str("too many elements in container"),
            CborErrorKind::KeyTooLong => f.write_str("map key too long"),
            CborErrorKind::InvalidSimpleValue => {
                f.write_str("simple value other than true/false/null")
            }
            CborErrorKind::InvalidHeader => f.write_str("reserved or malformed item header"),
            CborErrorKind::InvalidType => f.write_str("`$type` must be a non-empty string"),
            CborErrorKind::InvalidBlob(why) => f.write_str(why),
            CborErrorKind::Serde(msg) => write!(f, "serde: {msg}"),
        }
    }
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl core::error::Error for CborError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            CborErrorKind::MalformedCid(e) => Some(e),
            _ => None,
        }
    }
}
