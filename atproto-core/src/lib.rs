#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod crypto;
pub mod data;
pub mod syntax;
pub mod varint;

pub use cid::{self, Cid};

// The types nearly every user needs, at the crate root.
pub use crypto::{CryptoError, Curve, Keypair, PublicKey};
pub use data::{BlobRef, CborError, JsonError, Limits, Value};
#[cfg(feature = "std")]
pub use syntax::TidGenerator;
pub use syntax::{
    AtIdentifier, AtUri, CidString, Datetime, Did, Handle, Language, Nsid, RecordKey, SyntaxError,
    Tid, Uri,
};
