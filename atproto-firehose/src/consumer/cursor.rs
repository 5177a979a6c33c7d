//! Where a consumer keeps its cursor between runs.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::string::ToString;
use std::sync::{Arc, Mutex, PoisonError};

/// Keeps the consumer's cursor: the seq up to which every event has been
/// processed (a low-water mark). [`Consumer`](super::Consumer) loads it
/// once at the start and stores it as it advances (at most once per
/// [`ConsumerConfig::persist_interval`](super::ConsumerConfig::persist_interval),
/// and when it stops).
///
/// Calls are synchronous and short; an implementation that talks to a
/// database should keep them so (or hand the value to its own task).
pub trait CursorStore: Send + Sync + 'static {
    /// The stored cursor, `None` when there is none yet (the consumer then
    /// starts live, without a cursor).
    ///
    /// # Errors
    /// The store could not be read.
    fn load(&self) -> io::Result<Option<i64>>;

    /// Replaces the stored cursor.
    ///
    /// # Errors
    /// The store could not be written.
    fn store(&self, seq: i64) -> io::Result<()>;
}

impl<T: CursorStore + ?Sized> CursorStore for Arc<T> {
    fn load(&self) -> io::Result<Option<i64>> {
        (**self).load()
    }

    fn store(&self, seq: i64) -> io::Result<()> {
        (**self).store(seq)
    }
}

/// A cursor kept in memory (lost with the process): for tests, and for a
/// command that starts from a cursor it was given.
#[derive(Debug, Default)]
pub struct MemoryCursor {
    seq: Mutex<Option<i64>>,
}

impl MemoryCursor {
    /// A store holding `seq` (`None`: start live).
    pub fn new(seq: Option<i64>) -> Self {
        MemoryCursor {
            seq: Mutex::new(seq),
        }
    }

    /// The cursor now.
    pub fn get(&self) -> Option<i64> {
        *self.seq.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CursorStore for MemoryCursor {
    fn load(&self) -> io::Result<Option<i64>> {
        Ok(self.get())
    }

    fn store(&self, seq: i64) -> io::Result<()> {
        *self.seq.lock().unwrap_or_else(PoisonError::into_inner) = Some(seq);
        Ok(())
    }
}

/// A cursor in a file, as the decimal seq and a newline. A store writes a
/// temporary file beside it (`NAME.tmp`), syncs it and renames it over the
/// file, so a crash leaves the old cursor or the new one, never a torn one.
#[derive(Clone, Debug)]
pub struct FileCursor {
    path: PathBuf,
}

impl FileCursor {
    /// A store in `path` (created on the first store; its folder must exist).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCursor { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map_or_else(OsString::new, OsString::from);
        name.push(".tmp");
        self.path.with_file_name(name)
    }
}

impl CursorStore for FileCursor {
    /// # Errors
    /// The file cannot be read, or holds something other than one integer
    /// ([`io::ErrorKind::InvalidData`], naming the file). A missing file is
    /// `Ok(None)`.
    fn load(&self) -> io::Result<Option<i64>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        text.trim().parse::<i64>().map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                std::format!("{}: not a cursor: {e}", self.path.display()),
            )
        })
    }

    fn store(&self, seq: i64) -> io::Result<()> {
        let temp = self.temp_path();
        let mut file = std::fs::File::create(&temp)?;
        file.write_all((seq.to_string() + "\n").as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_cursor_round_trips_and_replaces_atomically() {
        let dir = std::env::temp_dir().join(std::format!(
            "atproto-firehose-cursor-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileCursor::new(dir.join("cursor"));
        assert_eq!(store.load().unwrap(), None);
        store.store(17).unwrap();
        store.store(2228).unwrap();
        assert_eq!(store.load().unwrap(), Some(2228));
        assert_eq!(
            std::fs::read_to_string(store.path()).unwrap(),
            "2228\n",
            "one integer and a newline"
        );
        assert!(!store.temp_path().exists(), "the temporary file is renamed");
        std::fs::write(store.path(), "x").unwrap();
        let e = store.load().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("not a cursor"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_cursor_through_an_arc() {
        let store = Arc::new(MemoryCursor::new(Some(3)));
        let shared: Arc<dyn CursorStore> = store.clone();
        shared.store(5).unwrap();
        assert_eq!(store.get(), Some(5));
        assert_eq!(shared.load().unwrap(), Some(5));
    }
}
