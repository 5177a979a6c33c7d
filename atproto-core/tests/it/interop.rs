//! Locates the shared ATProto interop vectors and upstream lexicons and
//! reads them in place. Included by path from every crate's tests and from
//! the benches and fuzz targets.
//!
//! The vectors come from `ATPROTO_INTEROP_TESTS`, defaulting to
//! `../shared/interop-tests` beside the workspace root. A missing folder or
//! file is a test failure, never a silent skip.

// Each test binary that includes this file uses only some of the readers.
#![allow(dead_code, clippy::panic)]

use std::path::{Path, PathBuf};

/// `shared/NAME` beside the workspace root, found from whichever package
/// includes this file (a crate, `examples/atp`, `benches`, `fuzz`).
fn shared(name: &str) -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("../shared").join(name))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| here.join("../../shared").join(name))
}

/// The interop-tests folder.
pub fn dir() -> PathBuf {
    let dir = match std::env::var_os("ATPROTO_INTEROP_TESTS") {
        Some(d) => PathBuf::from(d),
        None => shared("interop-tests"),
    };
    assert!(
        dir.is_dir(),
        "interop vectors not found at {} (set ATPROTO_INTEROP_TESTS)",
        dir.display()
    );
    dir
}

/// The upstream lexicon folder: `ATPROTO_LEXICONS`; else `lexicons/` beside
/// the interop vectors when `ATPROTO_INTEROP_TESTS` is set (both live in
/// `shared/`); else `../shared/lexicons` beside the workspace root.
pub fn lexicons_dir() -> PathBuf {
    let dir = match (
        std::env::var_os("ATPROTO_LEXICONS"),
        std::env::var_os("ATPROTO_INTEROP_TESTS"),
    ) {
        (Some(d), _) => PathBuf::from(d),
        (None, Some(d)) => PathBuf::from(d).join("../lexicons"),
        (None, None) => shared("lexicons"),
    };
    assert!(
        dir.is_dir(),
        "upstream lexicons not found at {} (set ATPROTO_LEXICONS)",
        dir.display()
    );
    dir
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
