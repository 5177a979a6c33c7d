//! The atproto-core integration tests: one binary, one module per area.

mod cid;
mod crypto;
#[cfg(feature = "libsecp256k1")]
mod crypto_backend;
mod data_model;
mod interop;
mod json_parse;
mod syntax;
mod varint;
mod vendored;
