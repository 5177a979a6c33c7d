//! Canonical ("strict") DAG-CBOR: the hashed form of the data model.
//!
//! - [`encode`] / [`encode_into`]: hand-written canonical encoder for [`Value`](crate::data::Value).
//! - [`decode`] / [`decode_with`] / [`decode_bytes`]: hand-written strict decoder
//!   for untrusted bytes, bounded by [`Limits`].
//! - [`decode_ref_with`] / [`decode_ref_prefix_with`]: the same decoder
//!   building a [`ValueRef`] that borrows strings and byte strings from the
//!   input, for readers that take known fields out of a message themselves.
//! - [`validate`] / [`validate_record`]: the same checks without building a
//!   value (no allocation), for bytes that are only to be accepted or refused.
//!
//! Decoding and validating are one scanner (private `scan` module) generic
//! over what it builds, so they accept the same inputs and report the same
//! error at the same offset.
//! - [`to_vec`] / [`from_slice`]: typed records through `serde_ipld_dagcbor`.

mod decode;
mod encode;
mod error;
mod scan;
mod validate;
mod value_ref;

use alloc::string::ToString;
use alloc::vec::Vec;

pub use decode::{decode, decode_bytes, decode_bytes_with, decode_prefix_with, decode_with};
pub use encode::{encode, encode_into, write_head, write_link};
pub use error::{CborError, CborErrorKind};
pub use validate::{validate, validate_record};
pub use value_ref::{ValueRef, decode_ref_prefix_with, decode_ref_with};

use crate::data::limits::Limits;

/// Serializes a typed value to DAG-CBOR through `serde_ipld_dagcbor`.
///
/// Struct fields and map keys come out in canonical order, so for data-model
/// types the bytes equal [`encode`] of the same data. Avoid `f32`/`f64`
/// fields: they are written as CBOR floats, which the data model (and
/// [`decode`]) rejects.
///
/// # Errors
/// [`CborErrorKind::Serde`] when the type cannot be serialized (for example a
/// map with non-string keys).
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CborError> {
    serde_ipld_dagcbor::to_vec(value)
        .map_err(|e| CborError::new(CborErrorKind::Serde(e.to_string()), 0))
}

/// Deserializes a typed value from DAG-CBOR through `serde_ipld_dagcbor`.
///
/// `serde_ipld_dagcbor` enforces DAG-CBOR's basic rules (definite lengths,
/// tag 42 only) but not every canonical-form rule; for untrusted bytes that
/// must be canonical, run [`decode`] first. Input larger than
/// [`Limits::DEFAULT`]'s `max_size` is refused.
///
/// # Errors
/// [`CborErrorKind::TooLarge`], or [`CborErrorKind::Serde`] when the bytes do
/// not decode as `T`.
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CborError> {
    if bytes.len() > Limits::DEFAULT.max_size {
        return Err(CborError::new(CborErrorKind::TooLarge, 0));
    }
    serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|e| CborError::new(CborErrorKind::Serde(e.to_string()), 0))
}
