//! Where a [`Session`] is kept between runs: [`SessionStore`], with
//! [`MemorySessionStore`] and [`FileSessionStore`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::session::Session;

/// Keeps the session: [`SessionClient`](super::SessionClient) saves it after
/// login and each refresh, and clears it at logout or when the refresh token
/// is refused.
///
/// The trait is synchronous: a session is a few hundred bytes of JSON, and
/// the store is touched at login, at each token refresh and at logout, not
/// per call.
pub trait SessionStore: Send + Sync {
    /// The stored session, `None` if there is none.
    ///
    /// # Errors
    /// The store could not be read, or holds something that is not a session.
    fn load(&self) -> Result<Option<Session>, StoreError>;

    /// Stores `session`, replacing any other.
    ///
    /// # Errors
    /// The store could not be written.
    fn save(&self, session: &Session) -> Result<(), StoreError>;

    /// Removes the stored session (no error if there is none).
    ///
    /// # Errors
    /// The store could not be written.
    fn clear(&self) -> Result<(), StoreError>;
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn load(&self) -> Result<Option<Session>, StoreError> {
        (**self).load()
    }
    fn save(&self, session: &Session) -> Result<(), StoreError> {
        (**self).save(session)
    }
    fn clear(&self) -> Result<(), StoreError> {
        (**self).clear()
    }
}

/// Why a [`SessionStore`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("session file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a session in JSON.
    #[error("session file {path} is not a session: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

/// A store in memory: the session lasts as long as the store.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    session: Mutex<Option<Session>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for MemorySessionStore {
    fn load(&self) -> Result<Option<Session>, StoreError> {
        Ok(self
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn save(&self, session: &Session) -> Result<(), StoreError> {
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.clone());
        Ok(())
    }

    fn clear(&self) -> Result<(), StoreError> {
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// A store in one JSON file (the [`Session`] fields, camelCase as the
/// reference's `createSession` output).
///
/// Saving writes a temporary file beside it (created afresh, owner-only
/// permissions, mode `0600` on Unix, synced) and renames it over the file,
/// so a reader sees the old session or the new one, never half of one, and
/// the tokens are never readable by other users.
#[derive(Debug, Clone)]
pub struct FileSessionStore {
    path: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FileSessionStore {
    /// A store in the file at `path` (its directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn temp_path(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "session".to_owned());
        let unique = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        self.path.with_file_name(unique)
    }

    fn write_temp(&self, temp: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

impl SessionStore for FileSessionStore {
    fn load(&self) -> Result<Option<Session>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Format {
                path: self.path.clone(),
                source,
            })
    }

    fn save(&self, session: &Session) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(session).map_err(|source| StoreError::Format {
            path: self.path.clone(),
            source,
        })?;
        let temp = self.temp_path();
        let written = self
            .write_temp(&temp, &bytes)
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = written {
            // Best effort: the temporary file may not exist.
            let _ = std::fs::remove_file(&temp);
            return Err(self.io(e));
        }
        Ok(())
    }

    fn clear(&self) -> Result<(), StoreError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }
}
