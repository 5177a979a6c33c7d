//! The atproto-repo integration tests: one binary, one module per area.
// Helpers outside `#[test]` functions may fail loudly too: a failed
// assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod block_store;
mod car;
mod commit;
#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;
mod mst;
mod record_path;
mod repo;
mod sync;
