//! Storage on embedded SQLite: one database file, `pds.sqlite`, in the
//! data directory, in WAL mode with `synchronous=FULL` (a committed
//! transaction is on disk before the commit returns).
//!
//! - [`schema`]: the tables and their migrations (`PRAGMA user_version`);
//! - [`blocks`]: an `atproto_repo::BlockStore` over an open connection or
//!   transaction, so a repo write runs inside the writer's transaction;
//! - [`events`]: the firehose event log, an
//!   `atproto_firehose::producer::EventLog` over the `event` table;
//! - [`accounts`]: account rows.
//!
//! One connection writes (the [writer](crate::writer)'s thread); readers use
//! a [`ReadPool`] of their own connections, which WAL lets read while the
//! writer writes, each seeing only committed transactions.

pub mod accounts;
pub mod blocks;
pub mod events;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The database file's name in the data directory.
pub const DB_FILE: &str = "pds.sqlite";

/// How long a connection waits for another's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("database: {context}: {source}")]
pub struct DbError {
    /// What was being done.
    pub context: &'static str,
    /// SQLite's error.
    #[source]
    pub source: rusqlite::Error,
}

/// Attaches a context to SQLite errors.
pub trait Context<T> {
    /// The error, with `context`.
    fn context(self, context: &'static str) -> Result<T, DbError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn context(self, context: &'static str) -> Result<T, DbError> {
        self.map_err(|source| DbError { context, source })
    }
}

/// The database's location and how connections to it are opened.
#[derive(Clone, Debug)]
pub struct Database {
    path: PathBuf,
}

impl Database {
    /// Creates `dir` if needed, opens (or creates) the database in it and
    /// brings its schema up to date. Returns the database and the write
    /// connection.
    ///
    /// # Errors
    /// The directory cannot be created, the file cannot be opened, or a
    /// migration failed (the schema is then unchanged).
    pub fn open(dir: &Path) -> Result<(Database, Connection), OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let db = Database {
            path: dir.join(DB_FILE),
        };
        let mut conn = db.connect(false)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .context("setting WAL mode")?;
        schema::migrate(&mut conn)?;
        Ok((db, conn))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new connection: `synchronous=FULL`, a busy timeout, and for a
    /// reader `query_only`.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn connect(&self, read_only: bool) -> Result<Connection, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags).context("opening")?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting busy timeout")?;
        conn.pragma_update(None, "synchronous", "FULL")
            .context("setting synchronous=FULL")?;
        if read_only {
            conn.pragma_update(None, "query_only", true)
                .context("setting query_only")?;
        }
        Ok(conn)
    }

    /// A pool of `size` (at least 1) read connections.
    ///
    /// # Errors
    /// A connection cannot be opened.
    pub fn read_pool(&self, size: usize) -> Result<ReadPool, DbError> {
        let conns = (0..size.max(1))
            .map(|_| self.connect(true).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(ReadPool {
            conns,
            next: AtomicUsize::new(0),
        })
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data directory cannot be created.
    #[error("cannot create {}: {source}", dir.display())]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("{0}")]
    Db(#[from] DbError),
    /// The database was written by a newer version of this server.
    #[error("the database's schema version {found} is newer than this server's {known}")]
    TooNew {
        /// The version found.
        found: i64,
        /// The newest this server knows.
        known: i64,
    },
}

/// Read connections, shared: [`with`](ReadPool::with) lends a free one (or
/// waits for one).
#[derive(Debug)]
pub struct ReadPool {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReadPool {
    /// Runs `f` on a connection of the pool.
    pub fn with<R>(&self, f: impl FnOnce(&Connection) -> R) -> R {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(conn) = self.conns.get((start + i) % n)
                && let Ok(guard) = conn.try_lock()
            {
                return f(&guard);
            }
        }
        // All busy: wait for the one this call was given.
        let conn = &self.conns[start % n];
        let guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&guard)
    }
}
