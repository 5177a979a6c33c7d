//! The atproto-core integration tests: one binary, one module per area.

mod cid;
mod crypto;
mod data_model;
mod interop;
mod json_parse;
mod syntax;
mod varint;
mod vendored;
