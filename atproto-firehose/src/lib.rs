#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
//!
//! # Dependencies
//!
//! - `atproto-core`: the strict DAG-CBOR decoder and encoder (canonical
//!   form, CIDv1 links, nesting and size limits), `Value`, `Cid` and the
//!   unsigned varint of the capture format; the codec adds no second CBOR
//!   implementation.
//! - `bytes`: a decoded `blocks` is a `Bytes` slice of the message's
//!   buffer, so a 2 MB CAR slice is never copied (the same type
//!   `atproto-core` hands out for zero-copy byte strings).
//! - `thiserror`: the error enums, as in the other crates (`no_std`-capable).
//! - `futures-core` (feature `producer`): the `Stream` trait a subscription
//!   implements, so a server on any runtime can drive it; the producer needs
//!   no tokio.
//! - With the `consumer` feature only: `tokio` (tasks, bounded channels,
//!   `tokio::time` for every timer), `tokio-tungstenite` (the WebSocket),
//!   `futures-util` (its stream), `tokio-rustls`, `rustls` (ring provider)
//!   and `webpki-roots` for `wss://` — the TLS stack `atproto-xrpc` already
//!   uses through reqwest.
//! - `atproto-repo`: the validation layer ([`validate`]) checks each
//!   `#commit` with its sync v1.1 proof verifier (CAR reading, commit
//!   decoding, MST inversion); the frame codec does not use it.

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod capture;
#[cfg(feature = "consumer")]
pub mod consumer;
pub mod error;
pub mod frame;
pub mod limits;
#[cfg(feature = "producer")]
pub mod producer;
pub mod validate;

#[cfg(feature = "std")]
pub use capture::CaptureWriter;
pub use capture::{CaptureError, CaptureErrorKind, CaptureReader, CapturedFrame, append_record};
#[cfg(feature = "consumer")]
pub use consumer::{
    Consumer, ConsumerConfig, ConsumerError, CursorStore, FileCursor, MemoryCursor,
};
pub use error::{FrameError, Part};
pub use frame::{
    AccountMessage, Action, CommitMessage, ErrorMessage, Frame, IdentityMessage, InfoMessage,
    RepoOp, SyncMessage, UnknownMessage,
};
pub use limits::{MAX_COMMIT_BLOCKS_BYTES, MAX_COMMIT_OPS, MAX_FRAME_BYTES, MAX_SYNC_BLOCKS_BYTES};
#[cfg(feature = "producer")]
pub use producer::{
    EndReason, EventLog, MemoryLog, PublishError, Retention, Sequencer, SequencerConfig,
    SubscribeError, Subscription,
};
pub use validate::{
    AccountState, AccountStore, Desync, KeySource, MemoryAccountStore, Mode, Outcome, StoreError,
    ValidationError, Validator, Warning,
};
