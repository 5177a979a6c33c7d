//! Why a message is not a frame [`Frame::decode`](crate::Frame::decode) accepts.

use atproto_core::data::CborError;

/// Which of a message's two items an error is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The header `{op, t}`.
    Header,
    /// The body after it.
    Body,
}

impl core::fmt::Display for Part {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Body => "body",
        })
    }
}

/// Why a message is not a frame. Byte offsets are from the start of the
/// message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The message is longer than [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES).
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    FrameTooLarge {
        /// The message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header or the body is not one canonical DAG-CBOR item (this
    /// covers a truncated message and bytes after the body).
    #[error("{part}: bad DAG-CBOR at byte {offset}: {error}")]
    Cbor {
        /// Which item.
        part: Part,
        /// Where in the message the error is.
        offset: usize,
        /// What the strict decoder said (its offset is within the item).
        error: CborError,
    },
    /// The message ends right after the header: no body.
    #[error("no body after the header (byte {offset})")]
    MissingBody {
        /// Where the body should start.
        offset: usize,
    },
    /// A field is missing or has the wrong type.
    #[error("{part} of {message}: field `{field}` {problem}")]
    Field {
        /// Which item.
        part: Part,
        /// The message type (`#commit`, …; `header` for the header itself).
        message: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong with it (`is missing`, `is not a string`, …).
        problem: &'static str,
    },
    /// The header or body is not a map.
    #[error("{part} is not a map")]
    NotAMap {
        /// Which item.
        part: Part,
    },
    /// A header `op` other than `1` (message) or `-1` (error).
    #[error("header op {0} is neither 1 nor -1")]
    UnknownOp(i64),
    /// A `blocks` CAR slice over its limit.
    #[error("{message}: blocks of {len} bytes over the {max}-byte limit")]
    BlocksTooLarge {
        /// `#commit` or `#sync`.
        message: &'static str,
        /// The slice's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `#commit` with more than [`MAX_COMMIT_OPS`](crate::MAX_COMMIT_OPS) ops.
    #[error("#commit: {count} ops over the limit of {max}")]
    TooManyOps {
        /// How many ops the commit has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An op whose `action` is not `create`, `update` or `delete`.
    #[error("#commit: op {index} has unknown action")]
    UnknownAction {
        /// The op's index in `ops`.
        index: usize,
    },
}
