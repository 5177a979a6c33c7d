//! [`SyntaxError`]: why a string is not a valid identifier, and where.

use alloc::string::String;
use core::fmt;

use crate::data::CidError;

/// Which syntax type a [`SyntaxError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SyntaxKind {
    /// [`Did`](super::Did).
    Did,
    /// [`Handle`](super::Handle).
    Handle,
    /// [`Nsid`](super::Nsid).
    Nsid,
    /// [`Tid`](super::Tid).
    Tid,
    /// [`RecordKey`](super::RecordKey).
    RecordKey,
    /// [`AtUri`](super::AtUri).
    AtUri,
    /// [`AtIdentifier`](super::AtIdentifier).
    AtIdentifier,
    /// [`Datetime`](super::Datetime).
    Datetime,
    /// [`Language`](super::Language).
    Language,
    /// [`CidString`](super::CidString).
    Cid,
    /// [`Uri`](super::Uri).
    Uri,
}

impl SyntaxKind {
    /// The short lowercase name used in error messages, e.g. `"record key"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Did => "did",
            Self::Handle => "handle",
            Self::Nsid => "nsid",
            Self::Tid => "tid",
            Self::RecordKey => "record key",
            Self::AtUri => "at-uri",
            Self::AtIdentifier => "at-identifier",
            Self::Datetime => "datetime",
            Self::Language => "language",
            Self::Cid => "cid",
            Self::Uri => "uri",
        }
    }
}

impl fmt::Display for SyntaxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with the input (the "what" of a [`SyntaxError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The input is empty.
    Empty,
    /// The input is longer than the type allows.
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The input is shorter than the type allows.
    TooShort {
        /// Length of the input in bytes.
        len: usize,
        /// The minimum in bytes.
        min: usize,
    },
    /// A character that is not allowed at this position.
    InvalidChar(char),
    /// The input ended, or had something else, where this was expected.
    Expected(&'static str),
    /// Another structural problem, described in words.
    Invalid(&'static str),
    /// A dot-separated label or segment (numbered from 1) is too long.
    LabelTooLong {
        /// 1-based label number.
        label: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Fewer dot-separated segments than required.
    TooFewSegments {
        /// Number of segments found.
        found: usize,
        /// The minimum.
        min: usize,
    },
    /// A datetime field is outside its range.
    OutOfRange {
        /// The field, e.g. `"hour"`.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// A day that the month does not have (e.g. 31 April, 29 February 2023).
    NoSuchDay {
        /// Day of month.
        day: u8,
        /// Month, 1–12.
        month: u8,
        /// Year.
        year: u16,
    },
    /// A language variant or extension singleton that appears twice.
    Duplicate {
        /// `"variant"` or `"extension singleton"`.
        what: &'static str,
        /// The repeated subtag as written the second time.
        subtag: String,
    },
    /// A CID string whose multibase prefix is not one of those accepted
    /// (`b` base32, `z` base58btc).
    Multibase(char),
    /// A CID string whose decoded bytes are not a CIDv1 (the [`CidError`]
    /// says which field is wrong and where in the binary CID).
    Cid(CidError),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty string"),
            Self::TooLong { len, max } => {
                write!(f, "{len} bytes is longer than the limit of {max}")
            }
            Self::TooShort { len, min } => {
                write!(f, "{len} bytes is shorter than the minimum of {min}")
            }
            Self::InvalidChar(c) => write!(f, "invalid character {c:?}"),
            Self::Expected(what) => write!(f, "expected {what}"),
            Self::Invalid(what) => f.write_str(what),
            Self::LabelTooLong { label, max } => write!(f, "label {label} longer than {max} bytes"),
            Self::TooFewSegments { found, min } => {
                write!(f, "{found} segment(s), at least {min} required")
            }
            Self::OutOfRange { field, value } => write!(f, "{field} {value} is out of range"),
            Self::NoSuchDay { day, month, year } => {
                write!(
                    f,
                    "day {day} does not exist in month {month} of year {year:04}"
                )
            }
            Self::Duplicate { what, subtag } => write!(f, "duplicate {what} {subtag:?}"),
            Self::Multibase(c) => write!(
                f,
                "unsupported multibase prefix {c:?} (expected 'b' for base32 or 'z' for base58btc)"
            ),
            Self::Cid(e) => write!(f, "not a valid CID: {e}"),
        }
    }
}

/// Why a string is not a valid syntax type.
///
/// The message names the type, what is wrong and the byte offset where it
/// applies, e.g. `did: invalid character '#' at byte 14`. When the failing
/// part is embedded in a larger identifier (the DID inside an AT-URI), the
/// outer type comes first (`at-uri: nsid: invalid character '@' at byte 38`)
/// and the offset is relative to the whole input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}{kind}: {reason}{}", ContextPrefix(.context), AtOffset(.offset))]
pub struct SyntaxError {
    kind: SyntaxKind,
    context: Option<SyntaxKind>,
    offset: Option<usize>,
    reason: Reason,
}

struct ContextPrefix<'a>(&'a Option<SyntaxKind>);

impl fmt::Display for ContextPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(kind) => write!(f, "{kind}: "),
            None => Ok(()),
        }
    }
}

struct AtOffset<'a>(&'a Option<usize>);

impl fmt::Display for AtOffset<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => write!(f, " at byte {at}"),
            None => Ok(()),
        }
    }
}

impl SyntaxError {
    /// An error about the whole input (no particular offset).
    pub(crate) fn new(kind: SyntaxKind, reason: Reason) -> Self {
        Self {
            kind,
            context: None,
            offset: None,
            reason,
        }
    }

    /// An error at byte `offset` of the input.
    pub(crate) fn at(kind: SyntaxKind, offset: usize, reason: Reason) -> Self {
        Self {
            kind,
            context: None,
            offset: Some(offset),
            reason,
        }
    }

    /// An [`Reason::InvalidChar`] error for the character starting at byte `offset` of `s`.
    pub(crate) fn invalid_char(kind: SyntaxKind, s: &str, offset: usize) -> Self {
        let c = s
            .get(offset..)
            .and_then(|t| t.chars().next())
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        Self::at(kind, offset, Reason::InvalidChar(c))
    }

    /// Re-frames an error about a part of a larger identifier: the part starts
    /// at byte `base` of the outer input.
    pub(crate) fn within(mut self, outer: SyntaxKind, base: usize) -> Self {
        self.context = Some(outer);
        self.offset = self.offset.map(|o| o + base);
        self
    }

    /// The type whose rules were broken (for an embedded part, the part's type).
    pub fn kind(&self) -> SyntaxKind {
        self.kind
    }

    /// The enclosing type when the failing part was embedded in a larger one
    /// (e.g. [`SyntaxKind::AtUri`] for a bad collection NSID).
    pub fn context(&self) -> Option<SyntaxKind> {
        self.context
    }

    /// Byte offset in the input where the problem is, if it is at one place.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// What is wrong.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

/// Shorthand for the common length checks: empty, and longer than `max`.
pub(crate) fn check_len(kind: SyntaxKind, s: &str, max: usize) -> Result<(), SyntaxError> {
    if s.is_empty() {
        return Err(SyntaxError::new(kind, Reason::Empty));
    }
    if s.len() > max {
        return Err(SyntaxError::new(
            kind,
            Reason::TooLong { len: s.len(), max },
        ));
    }
    Ok(())
}
