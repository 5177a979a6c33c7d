//! The atproto-repo integration tests: one binary, one module per area.

#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;
mod mst;
