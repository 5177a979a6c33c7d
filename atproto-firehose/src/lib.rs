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
//!
//! - `atproto-repo`: the validation layer ([`validate`]) checks each
//!   `#commit` with its sync v1.1 proof verifier (CAR reading, commit
//!   decoding, MST inversion); the frame codec does not use it.

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod capture;
pub mod error;
pub mod frame;
pub mod limits;
pub mod validate;

#[cfg(feature = "std")]
pub use capture::CaptureWriter;
pub use capture::{CaptureError, CaptureErrorKind, CaptureReader, CapturedFrame, append_record};
pub use error::{FrameError, Part};
pub use frame::{
    AccountMessage, Action, CommitMessage, ErrorMessage, Frame, IdentityMessage, InfoMessage,
    RepoOp, SyncMessage, UnknownMessage,
};
pub use limits::{MAX_COMMIT_BLOCKS_BYTES, MAX_COMMIT_OPS, MAX_FRAME_BYTES, MAX_SYNC_BLOCKS_BYTES};
pub use validate::{
    AccountState, AccountStore, Desync, KeySource, MemoryAccountStore, Mode, Outcome, StoreError,
    ValidationError, Validator, Warning,
};
