//! The atproto-repo integration tests: one binary, one module per area.

mod car;
mod commit;
#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;
mod mst;
