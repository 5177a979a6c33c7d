//! Locates the test data vendored in this repository and reads it: the
//! interop vectors in `testdata/interop-tests/`, the upstream lexicons in
//! `atproto-lexicon/lexicons/` and the firehose capture in
//! `testdata/firehose/`. Included by path from every crate's tests,
//! the `atp` tests, the benches and the fuzz targets.
//!
//! Only the repository itself is read: the workspace root is the nearest
//! ancestor of the including package's folder that holds
//! `testdata/interop-tests`. A missing folder or file is a loud failure,
//! never a silent skip. The `PROVENANCE.md` beside each copy names its
//! upstream commit.

// Each test binary that includes this file uses only some of the readers.
#![allow(dead_code, clippy::panic)]

use std::path::{Path, PathBuf};

/// Where the interop vectors sit, from the workspace root.
const VECTORS: &str = "testdata/interop-tests";
/// Where the upstream lexicons sit, from the workspace root.
const LEXICONS: &str = "atproto-lexicon/lexicons";
/// Where the firehose capture from the reference PDS sits.
const FIREHOSE: &str = "testdata/firehose";

/// The workspace root, found from whichever package includes this file (a
/// crate, `examples/atp`, `benches`, `fuzz`).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    match here.ancestors().find(|a| a.join(VECTORS).is_dir()) {
        Some(root) => root.to_path_buf(),
        None => panic!(
            "no {VECTORS} folder in {} or any folder above it: the vendored test data is missing from this checkout",
            here.display()
        ),
    }
}

/// A folder of the repository, which must exist.
fn folder(rel: &str) -> PathBuf {
    let dir = root().join(rel);
    assert!(
        dir.is_dir(),
        "{} is missing from this checkout",
        dir.display()
    );
    dir
}

/// The interop-tests folder, `testdata/interop-tests`.
pub fn dir() -> PathBuf {
    folder(VECTORS)
}

/// The upstream lexicon folder, `atproto-lexicon/lexicons`.
pub fn lexicons_dir() -> PathBuf {
    folder(LEXICONS)
}

/// The firehose capture folder, `testdata/firehose` (see its
/// `PROVENANCE.md`).
pub fn firehose_dir() -> PathBuf {
    folder(FIREHOSE)
}

/// The text of one vector file, e.g. `syntax/did_syntax_valid.txt`.
pub fn read(rel: &str) -> String {
    let path = dir().join(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read interop vector {}: {e}", path.display()))
}

/// The cases of a `.txt` vector file: every line exactly as written (split on
/// `\n` only, never trimmed), skipping empty lines and lines starting with `#`.
pub fn lines(rel: &str) -> Vec<String> {
    read(rel)
        .split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// A `.json` vector file, parsed.
pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("bad JSON in {rel}: {e}"))
}
