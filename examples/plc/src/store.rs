//! The operation log on SQLite: one table, one transaction per accepted
//! operation.
//!
//! `operations` holds every operation ever accepted, nullified ones too:
//! `seq` (the order of acceptance, the `/export?after=N` cursor), `did`,
//! `cid`, `operation` (the JSON of the parsed operation, so fields in a
//! fixed order), `nullified` (0/1) and `created_at` (milliseconds since the
//! epoch). The database runs in WAL mode with `synchronous = FULL`: an
//! acknowledged operation is on disk before the answer goes out.
//!
//! Writes go through one connection behind a mutex, in `BEGIN IMMEDIATE`
//! transactions: submissions are checked and applied one at a time, so two
//! operations racing on the same `prev` can never both land. Reads use a
//! second connection and never wait for a write (WAL).
//!
//! `created_at` increases strictly across the whole table (an operation
//! arriving in the same millisecond as the one before is stamped one
//! millisecond later): `/export?after=<createdAt>` pages without skipping or
//! repeating, and a DID's operations are always in a clear order.

use std::path::Path;
use std::sync::Mutex;

use atproto_core::Did;
use atproto_core::syntax::Datetime;
use atproto_xrpc::identity::plc::{
    AuditEntry, MAX_LOG_OPS, Operation, PlcError, PlcState, replay_audit_log,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    did TEXT NOT NULL,
    cid TEXT NOT NULL,
    operation TEXT NOT NULL,
    nullified INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (did, cid)
);
CREATE INDEX IF NOT EXISTS operations_by_did ON operations (did, created_at);
CREATE INDEX IF NOT EXISTS operations_by_time ON operations (created_at, cid);
";

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "plc.sqlite";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored row does not read back (a damaged or foreign database).
    #[error("stored operation {cid} of {did} does not read back: {reason}")]
    Corrupt {
        /// The row's DID.
        did: String,
        /// The row's CID.
        cid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database was written by a newer build.
    #[error("database schema version {0} is newer than this build's ({SCHEMA_VERSION})")]
    Schema(i64),
    /// The data directory cannot be created.
    #[error("cannot create {path}: {error}")]
    Directory {
        /// The directory.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
}

/// Why a submitted operation was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The operation does not follow the log (the message says why).
    #[error(transparent)]
    Invalid(#[from] PlcError),
    /// The DID already has [`MAX_LOG_OPS`] operations.
    #[error("{did} has {MAX_LOG_OPS} operations, the most this directory keeps")]
    LogFull {
        /// The DID.
        did: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SubmitError {
    fn from(error: rusqlite::Error) -> Self {
        SubmitError::Store(StoreError::Sql(error))
    }
}

/// One stored operation.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The acceptance order.
    pub seq: i64,
    /// The DID.
    pub did: String,
    /// The operation's CID.
    pub cid: String,
    /// The operation.
    pub operation: Operation,
    /// Whether a later fork nullified it.
    pub nullified: bool,
    /// When it was accepted, milliseconds since the epoch.
    pub created_ms: i64,
}

impl Stored {
    /// `createdAt` as the directory writes it (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
    pub fn created_at(&self) -> String {
        format_ms(self.created_ms)
    }

    /// The audit-log entry of this operation.
    pub fn audit_entry(&self) -> AuditEntry {
        AuditEntry {
            did: self.did.clone(),
            operation: self.operation.clone(),
            cid: self.cid.clone(),
            nullified: self.nullified,
            created_at: self.created_at(),
        }
    }
}

/// What an accepted operation did.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The operation as stored.
    pub stored: Stored,
    /// The CIDs of the operations it nullified (a recovery fork).
    pub nullified: Vec<String>,
    /// The state the DID is in now.
    pub state: PlcState,
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ms(ms: i64) -> String {
    Datetime::from_timestamp_micros(ms.saturating_mul(1000)).map_or_else(
        |_| String::from("1970-01-01T00:00:00.000Z"),
        |d| d.into_string(),
    )
}

/// Milliseconds since the epoch now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The database: a write connection and a read connection.
pub struct Store {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Locks `m`, taking the connection back from a panicked holder (SQLite
/// rolls back an open transaction when its statement handle goes).
fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const COLUMNS: &str = "seq, did, cid, operation, nullified, created_at";

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, bool, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn to_stored(
    (seq, did, cid, json, nullified, created_ms): (i64, String, String, String, bool, i64),
) -> Result<Stored, StoreError> {
    let operation = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
        did: did.clone(),
        cid: cid.clone(),
        reason: e.to_string(),
    })?;
    Ok(Stored {
        seq,
        did,
        cid,
        operation,
        nullified,
        created_ms,
    })
}

fn query(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, read_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(to_stored(row?)?);
    }
    Ok(out)
}

/// Every operation of `did`, oldest first, nullified ones too.
fn audit_log(conn: &Connection, did: &str) -> Result<Vec<Stored>, StoreError> {
    query(
        conn,
        &format!("SELECT {COLUMNS} FROM operations WHERE did = ?1 ORDER BY created_at, seq"),
        params![did],
    )
}

impl Store {
    /// Opens (or creates) the database in `dir`, creating the directory.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or database cannot be set up.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::Directory {
            path: dir.display().to_string(),
            error,
        })?;
        let path = dir.join(DB_FILE);
        let writer = open_connection(&path)?;
        let version: i64 = writer.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Schema(version));
        }
        writer.execute_batch(SCHEMA)?;
        writer.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        let reader = open_connection(&path)?;
        Ok(Store {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Sql`].
    pub fn health(&self) -> Result<(), StoreError> {
        lock(&self.reader).query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Checks `op` as the next operation of `did` and stores it: the stored
    /// audit log plus `op` (stamped now) must replay under the directory's
    /// rules; the operations it forks away are marked nullified in the same
    /// transaction.
    ///
    /// # Errors
    /// [`SubmitError::Invalid`] with the rule it breaks,
    /// [`SubmitError::LogFull`], [`SubmitError::Store`].
    pub fn submit(&self, did: &Did, op: &Operation) -> Result<Accepted, SubmitError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let log = audit_log(&tx, did.as_str())?;
        if log.len() >= MAX_LOG_OPS {
            return Err(SubmitError::LogFull {
                did: did.as_str().to_owned(),
            });
        }
        let latest: Option<i64> = tx
            .query_row("SELECT MAX(created_at) FROM operations", [], |r| r.get(0))
            .optional()?
            .flatten();
        let created_ms = latest.map_or(now_ms(), |t| now_ms().max(t.saturating_add(1)));
        let stored = Stored {
            seq: 0,
            did: did.as_str().to_owned(),
            cid: op.cid().to_string(),
            operation: op.clone(),
            nullified: false,
            created_ms,
        };
        let mut entries: Vec<AuditEntry> = log.iter().map(Stored::audit_entry).collect();
        entries.push(stored.audit_entry());
        let replay = replay_audit_log(did, &entries)?;
        let json = serde_json::to_string(op).map_err(|e| StoreError::Corrupt {
            did: stored.did.clone(),
            cid: stored.cid.clone(),
            reason: e.to_string(),
        })?;
        tx.execute(
            "INSERT INTO operations (did, cid, operation, nullified, created_at) \
             VALUES (?1, ?2, ?3, 0, ?4)",
            params![stored.did, stored.cid, json, created_ms],
        )?;
        let seq = tx.last_insert_rowid();
        let mut nullified = Vec::new();
        for (row, now_nullified) in log.iter().zip(&replay.nullified) {
            if *now_nullified && !row.nullified {
                tx.execute(
                    "UPDATE operations SET nullified = 1 WHERE seq = ?1",
                    params![row.seq],
                )?;
                nullified.push(row.cid.clone());
            }
        }
        tx.commit()?;
        Ok(Accepted {
            stored: Stored { seq, ..stored },
            nullified,
            state: replay.state,
        })
    }

    /// Every operation of `did`, oldest first, nullified ones too (empty for
    /// an unknown DID).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn audit_log(&self, did: &str) -> Result<Vec<Stored>, StoreError> {
        audit_log(&lock(&self.reader), did)
    }

    /// The current history of `did` (nullified operations left out), oldest
    /// first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn log(&self, did: &str) -> Result<Vec<Stored>, StoreError> {
        query(
            &lock(&self.reader),
            &format!(
                "SELECT {COLUMNS} FROM operations WHERE did = ?1 AND nullified = 0 \
                 ORDER BY created_at, seq"
            ),
            params![did],
        )
    }

    /// The last operation of the current history of `did`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn last(&self, did: &str) -> Result<Option<Stored>, StoreError> {
        let mut rows = query(
            &lock(&self.reader),
            &format!(
                "SELECT {COLUMNS} FROM operations WHERE did = ?1 AND nullified = 0 \
                 ORDER BY created_at DESC, seq DESC LIMIT 1"
            ),
            params![did],
        )?;
        Ok(rows.pop())
    }

    /// Up to `count` operations accepted after `after_ms` (all when `None`),
    /// in `createdAt` order.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn export_by_time(
        &self,
        count: u32,
        after_ms: Option<i64>,
    ) -> Result<Vec<Stored>, StoreError> {
        query(
            &lock(&self.reader),
            &format!(
                "SELECT {COLUMNS} FROM operations WHERE created_at > ?1 \
                 ORDER BY created_at, cid LIMIT ?2"
            ),
            params![after_ms.unwrap_or(i64::MIN), count],
        )
    }

    /// Up to `count` operations with `seq` above `after`, in `seq` order.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn export_by_seq(&self, count: u32, after: i64) -> Result<Vec<Stored>, StoreError> {
        query(
            &lock(&self.reader),
            &format!("SELECT {COLUMNS} FROM operations WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
            params![after, count],
        )
    }
}
