//! Why a consumer stopped.

use std::boxed::Box;
use std::string::String;

use crate::error::FrameError;

/// What a [`Handler`](super::Handler) returns when it cannot process an
/// event.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why [`Consumer::run_until`](super::Consumer::run_until) returned an error.
///
/// Connection failures (refused, reset, TLS, handshake, the liveness
/// timeout, a close) are not errors: the consumer reconnects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The URL is not a `ws://` or `wss://` URL the consumer can use.
    #[error("bad firehose URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server sent an error frame (`op: -1`), e.g. `FutureCursor` or
    /// `ConsumerTooSlow`, and closed.
    #[error("{name}{}", message.as_deref().map(|m| std::format!(": {m}")).unwrap_or_default())]
    Server {
        /// The error name (`FutureCursor`, …).
        name: String,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// A message is not a frame (bad DAG-CBOR, a missing field, over a
    /// limit): the connection is dropped and the consumer stops rather
    /// than skip an event.
    #[error("frame after seq {after}: {error}", after = after_seq.map_or_else(|| "(none)".into(), |s| std::format!("{s}")))]
    Frame {
        /// The last seq read before it, if any.
        after_seq: Option<i64>,
        /// Why it does not decode.
        error: FrameError,
    },
    /// The handler failed on an event; the cursor stays below its seq.
    #[error("handler failed on {}: {error}", seq.map_or_else(|| "an event without seq".into(), |s| std::format!("seq {s}")))]
    Handler {
        /// The event's seq (`None` for `#info`).
        seq: Option<i64>,
        /// The handler's error.
        error: HandlerError,
    },
    /// The cursor store could not be read or written.
    #[error("cursor store: {0}")]
    Cursor(#[source] std::io::Error),
}
