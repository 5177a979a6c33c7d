//! The atproto-lexicon integration tests: one binary, one module per area.
// Helpers outside `#[test]` functions may fail loudly too: a failed
// assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "bundled")]
mod bundled;
mod endpoints;
mod files;
mod fixtures;
#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;
mod properties;
mod records;
mod reuse;
mod schema_rules;
mod upstream;
mod validation;

use std::sync::OnceLock;

use atproto_lexicon::Catalog;

/// One catalog of every upstream lexicon, built once for the whole binary.
pub fn upstream_catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::from_dir(interop::lexicons_dir()).unwrap_or_else(|e| panic!("{e}"))
    })
}
