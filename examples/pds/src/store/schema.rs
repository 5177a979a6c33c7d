//! The tables, created by numbered migrations: `PRAGMA user_version` is
//! the number applied; each migration runs in its own transaction.
//!
//! | table | what |
//! | --- | --- |
//! | `account` | one row per account: DID, handle, email, password hash, signing key, status, repo head (commit CID and rev) |
//! | `repo_block` | every repo block of an account: CID → bytes |
//! | `record` | the record index: (account, collection, rkey) → CID and rev |
//! | `blob` | blob metadata (the bytes are files on disk) |
//! | `event` | the firehose log: seq, time, DID, the encoded frame |
//! | `meta` | server-wide integers (`trimmed_through`) |

use rusqlite::Connection;

use super::{Context, OpenError};

/// Every migration, in order; the database's `user_version` is how many
/// have been applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE account (
        id INTEGER PRIMARY KEY,
        did TEXT NOT NULL UNIQUE,
        handle TEXT UNIQUE,
        email TEXT UNIQUE COLLATE NOCASE,
        password_hash TEXT,
        signing_key BLOB NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        status TEXT,
        head_cid BLOB,
        head_rev TEXT,
        created_at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE repo_block (
        account INTEGER NOT NULL,
        cid BLOB NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (account, cid)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE record (
        account INTEGER NOT NULL,
        collection TEXT NOT NULL,
        rkey TEXT NOT NULL,
        cid BLOB NOT NULL,
        rev TEXT NOT NULL,
        PRIMARY KEY (account, collection, rkey)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE blob (
        account INTEGER NOT NULL,
        cid TEXT NOT NULL,
        mime_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (account, cid)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE event (
        seq INTEGER PRIMARY KEY,
        sequenced_at_ms INTEGER NOT NULL,
        did TEXT,
        frame BLOB NOT NULL
    ) STRICT;
    CREATE INDEX event_time ON event (sequenced_at_ms);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) STRICT;
    ",
];

/// Applies the migrations the database lacks.
///
/// # Errors
/// A migration failed (it is rolled back), or the database is newer than
/// this server.
pub fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    let known = MIGRATIONS.len() as i64;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .context("reading the schema version")?;
    if version > known {
        return Err(OpenError::TooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction().context("starting a migration")?;
        tx.execute_batch(sql).context("running a migration")?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .context("recording the schema version")?;
        tx.commit().context("committing a migration")?;
        tracing::info!(version = i + 1, "database migrated");
    }
    Ok(())
}
