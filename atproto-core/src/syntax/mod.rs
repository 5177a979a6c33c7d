//! Syntax types: validated identifiers and string formats.
//!
//! Each type is proof that its string passed the ATProto syntax rules: parse
//! once at the edge (`FromStr`, `TryFrom<&str>`, `TryFrom<String>` without
//! copying, or serde), then pass the typed value around. Every type is
//! `Clone + Debug + Eq + Hash + Ord`, displays and serializes as its string,
//! and fails with a [`SyntaxError`] that names the type, the problem and the
//! byte offset. The validators are hand-written byte scanners; no input can
//! make them panic.
//!
//! | type | example |
//! |---|---|
//! | [`Did`] | `did:plc:7iza6de2dwap2sbkpav7c6c6` |
//! | [`Handle`] | `alice.bsky.social` |
//! | [`AtIdentifier`] | a DID or a handle |
//! | [`Nsid`] | `app.bsky.feed.post` |
//! | [`Tid`] | `3jzfcijpj2z2a` |
//! | [`RecordKey`] | `self`, a TID, … |
//! | [`AtUri`] | `at://did:plc:…/app.bsky.feed.post/3jzfcijpj2z2a` |
//! | [`Datetime`] | `1985-04-12T23:20:50.123Z` |
//! | [`Language`] | `pt-BR` |
//! | [`CidString`] | `bafyrei…` |
//! | [`Uri`] | `https://example.com/` |
//!
//! ```
//! use atproto_core::syntax::{AtUri, Nsid};
//! let uri: AtUri = "at://alice.bsky.social/app.bsky.feed.post".parse()?;
//! assert_eq!(uri.collection_nsid(), Some("app.bsky.feed.post".parse::<Nsid>()?));
//! let err = "did:plc:abc#frag".parse::<atproto_core::syntax::Did>().unwrap_err();
//! assert_eq!(err.to_string(), "did: invalid character '#' at byte 11");
//! # Ok::<(), atproto_core::syntax::SyntaxError>(())
//! ```

#[macro_use]
mod newtype;

mod at_identifier;
mod at_uri;
mod cid_string;
mod datetime;
mod did;
mod error;
mod handle;
mod language;
mod nsid;
mod record_key;
mod tid;
#[cfg(feature = "std")]
mod tid_generator;
mod uri;

pub use at_identifier::AtIdentifier;
pub use at_uri::{AtUri, MAX_AT_URI_LEN};
pub use cid_string::{CidString, MAX_CID_STRING_LEN, MIN_CID_STRING_LEN};
pub use datetime::{Datetime, MAX_DATETIME_LEN};
pub use did::{Did, MAX_DID_LEN};
pub use error::{Reason, SyntaxError, SyntaxKind};
pub use handle::{DISALLOWED_TLDS, Handle, MAX_HANDLE_LEN};
pub use language::{Language, MAX_LANGUAGE_LEN};
pub use nsid::{MAX_NSID_LEN, Nsid};
pub use record_key::{MAX_RECORD_KEY_LEN, RecordKey};
pub use tid::{MAX_TID_CLOCK_ID, MAX_TID_TIMESTAMP, TID_LEN, Tid};
#[cfg(feature = "std")]
pub use tid_generator::TidGenerator;
pub use uri::{MAX_URI_LEN, Uri};
