//! The firehose event log in the `event` table.
//!
//! The writer inserts its events with [`insert_events`] inside its own
//! transaction (through `Sequencer::publish_batch_with`); [`SqlEventLog`]
//! is the `EventLog` the sequencer replays from, reading through the
//! [`ReadPool`]. Its [`append`](EventLog::append), for a
//! `Sequencer::publish` outside the writer, writes on a connection of its
//! own; the PDS itself publishes through the writer (see
//! [`WriterHandle::publish`](crate::writer::WriterHandle::publish)).

use std::sync::{Arc, Mutex, PoisonError};

use atproto_firehose::Frame;
use atproto_firehose::producer::{EventLog, StoredEvent};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Context, Database, DbError, ReadPool};

/// Inserts `events` (the DID of each in `dids`, same order) on `conn`,
/// inside whatever transaction is open there.
///
/// # Errors
/// SQLite failed (a `seq` already stored included).
pub fn insert_events(
    conn: &Connection,
    events: &[StoredEvent],
    dids: &[Option<String>],
) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO event (seq, sequenced_at_ms, did, frame) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, e) in events.iter().enumerate() {
        let did = dids.get(i).and_then(Option::as_deref);
        stmt.execute(params![e.seq, e.sequenced_at_ms, did, &e.frame[..]])?;
    }
    Ok(())
}

/// The `event` table as an [`EventLog`].
#[derive(Debug, Clone)]
pub struct SqlEventLog {
    reads: Arc<ReadPool>,
    append: Arc<Mutex<Connection>>,
}

impl SqlEventLog {
    /// The log of `db`, read through `reads`.
    ///
    /// # Errors
    /// The append connection cannot be opened.
    pub fn new(db: &Database, reads: Arc<ReadPool>) -> Result<SqlEventLog, DbError> {
        Ok(SqlEventLog {
            reads,
            append: Arc::new(Mutex::new(db.connect(false)?)),
        })
    }
}

impl EventLog for SqlEventLog {
    type Error = DbError;

    fn append(&self, events: &[StoredEvent]) -> Result<(), DbError> {
        let mut conn = self.append.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .context("appending events")?;
        let dids: Vec<Option<String>> = events.iter().map(|e| event_did(&e.frame)).collect();
        insert_events(&tx, events, &dids).context("appending events")?;
        tx.commit().context("committing appended events")
    }

    fn last_seq(&self) -> Result<Option<i64>, DbError> {
        self.reads.with(|c| {
            c.query_row("SELECT max(seq) FROM event", [], |r| r.get(0))
                .context("reading the last seq")
        })
    }

    fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, DbError> {
        self.reads.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, sequenced_at_ms, frame FROM event WHERE seq > ?1 \
                     ORDER BY seq LIMIT ?2",
                )
                .context("reading events")?;
            let rows = stmt
                .query_map(
                    params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| {
                        Ok(StoredEvent {
                            seq: r.get(0)?,
                            sequenced_at_ms: r.get(1)?,
                            frame: Bytes::from(r.get::<_, Vec<u8>>(2)?),
                        })
                    },
                )
                .context("reading events")?;
            rows.collect::<Result<_, _>>().context("reading events")
        })
    }

    fn first_since(&self, time_ms: i64) -> Result<Option<i64>, DbError> {
        // Times never decrease along seq (the sequencer stamps them so).
        self.reads.with(|c| {
            c.query_row(
                "SELECT seq FROM event WHERE sequenced_at_ms >= ?1 \
                 ORDER BY sequenced_at_ms, seq LIMIT 1",
                [time_ms],
                |r| r.get(0),
            )
            .optional()
            .context("finding the replay window")
        })
    }

    fn trimmed_through(&self) -> Result<i64, DbError> {
        self.reads.with(|c| {
            c.query_row(
                "SELECT value FROM meta WHERE key = 'trimmed_through'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .context("reading trimmed_through")
        })
    }
}

/// The DID an encoded event is about, for the `event.did` column.
pub fn event_did(frame: &Bytes) -> Option<String> {
    frame_did(&Frame::decode(frame).ok()?)
}

/// The DID an event frame is about: `repo` of `#commit`, `did` of the
/// others.
pub fn frame_did(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Commit(m) => Some(m.repo.clone()),
        Frame::Sync(m) => Some(m.did.clone()),
        Frame::Identity(m) => Some(m.did.clone()),
        Frame::Account(m) => Some(m.did.clone()),
        _ => None,
    }
}
