#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod identity;
pub use identity::{DidDocError, DidDocument, PlcError};
