//! Finding Lexicon documents on disk: [`json_files`], the one recursive
//! directory walk of the workspace (the catalog, the `atp` tool, the tests
//! and the benches all list documents through it). Needs the `std` feature.

use alloc::vec::Vec;
use core::fmt;
use std::path::{Path, PathBuf};

/// Every `*.json` file under `dir`, recursively, sorted by path.
///
/// Other files are skipped; so are directories that hold none. Symbolic
/// links are followed, to files and to directories alike. The extension is
/// matched exactly (`x.JSON` is skipped). The walk is iterative, so deep
/// trees do not grow the stack.
///
/// ```no_run
/// # fn main() -> Result<(), atproto_lexicon::files::ReadDirError> {
/// for path in atproto_lexicon::files::json_files("lexicons")? {
///     println!("{}", path.display());
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// A directory (`dir` itself or one below it) that cannot be listed: the
/// error names it and keeps the [`std::io::Error`] as its source.
pub fn json_files(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, ReadDirError> {
    let mut files = Vec::new();
    let mut pending = alloc::vec![dir.as_ref().to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => return Err(ReadDirError { path: dir, error }),
        };
        for entry in entries {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(error) => return Err(ReadDirError { path: dir, error }),
            };
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A directory that could not be listed, and why.
#[derive(Debug)]
pub struct ReadDirError {
    path: PathBuf,
    error: std::io::Error,
}

impl ReadDirError {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The I/O error (also [`std::error::Error::source`]).
    pub fn io_error(&self) -> &std::io::Error {
        &self.error
    }

    /// The directory and the I/O error.
    pub fn into_parts(self) -> (PathBuf, std::io::Error) {
        (self.path, self.error)
    }
}

impl fmt::Display for ReadDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read directory {}: {}",
            self.path.display(),
            self.error
        )
    }
}

impl core::error::Error for ReadDirError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}
