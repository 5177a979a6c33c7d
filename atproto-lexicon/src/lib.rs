#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "bundled")]
pub mod bundled;
pub mod catalog;
pub mod check;
mod compiled;
pub mod error;
#[cfg(feature = "std")]
pub mod files;
pub mod schema;
mod validate;
pub mod validator;

pub use catalog::{Catalog, CatalogBuilder};
pub use error::{
    LexiconError, LookupError, SchemaError, SchemaErrorKind, ValidationError, ValidationErrorKind,
};
#[cfg(feature = "std")]
pub use files::{ReadDirError, json_files};
pub use schema::{LexiconDoc, RecordKeyType, Schema, StringFormat};
pub use validate::MAX_VALIDATION_DEPTH;
pub use validator::{DefValidator, EndpointKind, EndpointValidator, RecordValidator};
