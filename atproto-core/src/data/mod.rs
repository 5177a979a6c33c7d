//! The ATProto data model: values, strict DAG-CBOR, ATProto JSON, blob refs and CIDs.
//!
//! # Design
//!
//! [`Value`] is the dynamic form of any data-model value (records, MST nodes,
//! commits, frames). It has two encodings:
//!
//! - **DAG-CBOR** ([`cbor`]), the canonical form that is hashed into
//!   [`Cid`](crate::Cid)s. The encoder ([`cbor::encode`]) and the strict decoder
//!   ([`cbor::decode`]) are hand-written: untrusted bytes from the network
//!   must be rejected unless they are *exactly* canonical (shortest heads,
//!   sorted unique string keys, no floats, only tag 42, definite lengths),
//!   because the bytes are hashed and passed on unchanged, and every length,
//!   count and depth is checked against [`Limits`] before anything is
//!   allocated. No general-purpose codec offers that combination.
//! - **ATProto JSON** ([`json`]), with `$link`, `$bytes` and blob objects.
//!
//! Typed records (Rust structs with `serde` derives) go through
//! [`cbor::to_vec`] / [`cbor::from_slice`], which use `serde_ipld_dagcbor`,
//! the IPLD project's maintained serde codec for DAG-CBOR: it writes keys in
//! canonical order and tag-42 links, so for data-model types its bytes equal
//! [`cbor::encode`] of the same data. It is not the gate for untrusted input;
//! the strict decoder is.
//!
//! Blobs ([`BlobRef`]) appear as [`Value::Blob`] when in the current form,
//! and encode back to byte-identical maps. CIDs are computed with
//! [`dag_cbor_cid`] / [`raw_cid`]; their binary form is read and written
//! only by [`parse_cid`] / [`encode_cid`] (see [`cid`]).

pub mod blob;
pub mod cbor;
pub mod cid;
pub mod json;
pub mod limits;
pub mod value;

pub use self::blob::{BlobForm, BlobRef, NotABlob};
pub use self::cbor::{CborError, CborErrorKind};
pub use self::cid::{
    ATPROTO_CID_LEN, CID_V1, CidError, CidErrorKind, CidField, DAG_CBOR_CODEC, MAX_DIGEST_LEN,
    RAW_CODEC, SHA2_256, SHA2_256_LEN, dag_cbor_cid, encode_cid, is_atproto_cid, parse_cid,
    parse_cid_prefix, raw_cid, sha256_cid, sha256_cid_head, split_sha256_cid, write_cid,
};
pub use self::json::{JsonError, JsonErrorKind};
pub use self::limits::{
    Limits, MAX_CBOR_SIZE, MAX_CID_LEN, MAX_CONTAINER_LEN, MAX_DEPTH, MAX_KEY_LEN, MAX_RECORD_CBOR,
    MAX_RECORD_JSON,
};
pub use self::value::Value;
