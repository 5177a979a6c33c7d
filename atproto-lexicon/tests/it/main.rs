//! The atproto-lexicon integration tests: one binary, one module per area.
// Helpers outside `#[test]` functions may fail loudly too: a failed
// assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod endpoints;
mod fixtures;
#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;
mod properties;
mod records;
mod reuse;
mod schema_rules;
mod upstream;
mod validation;

use std::path::PathBuf;
use std::sync::OnceLock;

use atproto_lexicon::Catalog;

/// The upstream lexicon folder: `ATPROTO_LEXICONS`; else `lexicons/` beside
/// the interop vectors when `ATPROTO_INTEROP_TESTS` is set (both live in
/// `shared/`); else `../shared/lexicons` beside the workspace root, as
/// `interop::dir` defaults.
pub fn lexicons_dir() -> PathBuf {
    let dir = if let Some(d) = std::env::var_os("ATPROTO_LEXICONS") {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("ATPROTO_INTEROP_TESTS") {
        PathBuf::from(d).join("../lexicons")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/lexicons")
    };
    assert!(
        dir.is_dir(),
        "upstream lexicons not found at {} (set ATPROTO_LEXICONS)",
        dir.display()
    );
    dir
}

/// One catalog of every upstream lexicon, built once for the whole binary.
pub fn upstream_catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::from_dir(lexicons_dir()).unwrap_or_else(|e| panic!("{e}")))
}
