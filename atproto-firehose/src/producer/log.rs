//! Where the sequencer keeps its events: the [`EventLog`] trait a server
//! implements over its database, and [`MemoryLog`], bounded by a
//! [`Retention`].

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use std::vec::Vec;

use bytes::Bytes;

/// One sequenced event as the log stores it: the whole frame message, already
/// encoded with its `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's sequence number (`> 0`, strictly increasing in the log).
    pub seq: i64,
    /// When the sequencer stored it, in milliseconds since the Unix epoch
    /// (by the sequencer's [`Clock`](crate::producer::Clock)). The replay
    /// window is measured on this.
    pub sequenced_at_ms: i64,
    /// The frame message (header ‖ body), sent to subscribers unchanged.
    pub frame: Bytes,
}

/// The durable log of sequenced events.
///
/// The [`Sequencer`](crate::producer::Sequencer) calls [`append`](Self::append)
/// from one publisher at a time, in `seq` order, and makes the events visible
/// to subscribers only after it returns `Ok`: an implementation must have made
/// the batch durable (and atomic: all of it or none) by then.
///
/// The other methods are called by subscribers while they replay, from inside
/// `Stream::poll_next`, so they should be quick (an indexed query).
/// Implementations use interior mutability and must be shareable between
/// threads.
pub trait EventLog: Send + Sync + 'static {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Stores `events` (sorted by `seq`, each `seq` greater than every
    /// stored one) durably and atomically.
    ///
    /// # Errors
    /// The store failed; none of `events` may then be stored.
    fn append(&self, events: &[StoredEvent]) -> Result<(), Self::Error>;

    /// The greatest `seq` ever appended (even if trimmed since), `None` for a
    /// log that never held an event. A new sequencer continues after it.
    ///
    /// # Errors
    /// The store failed.
    fn last_seq(&self) -> Result<Option<i64>, Self::Error>;

    /// Up to `limit` stored events with `seq > after`, in `seq` order.
    ///
    /// # Errors
    /// The store failed.
    fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, Self::Error>;

    /// The `seq` of the first stored event with `sequenced_at_ms >= time_ms`
    /// (`None` if there is none).
    ///
    /// # Errors
    /// The store failed.
    fn first_since(&self, time_ms: i64) -> Result<Option<i64>, Self::Error>;

    /// The greatest `seq` the log has removed by its retention (`0` if it
    /// never removed one). A subscriber whose position is below it has
    /// missed events: the sequencer sends `#info OutdatedCursor` (on
    /// subscribe) or `ConsumerTooSlow` (while replaying).
    ///
    /// # Errors
    /// The store failed.
    fn trimmed_through(&self) -> Result<i64, Self::Error>;
}

/// A shared log is a log: a server keeps an `Arc` of its store for other
/// uses and gives the sequencer a clone.
impl<T: EventLog> EventLog for std::sync::Arc<T> {
    type Error = T::Error;

    fn append(&self, events: &[StoredEvent]) -> Result<(), T::Error> {
        (**self).append(events)
    }

    fn last_seq(&self) -> Result<Option<i64>, T::Error> {
        (**self).last_seq()
    }

    fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, T::Error> {
        (**self).read_after(after, limit)
    }

    fn first_since(&self, time_ms: i64) -> Result<Option<i64>, T::Error> {
        (**self).first_since(time_ms)
    }

    fn trimmed_through(&self) -> Result<i64, T::Error> {
        (**self).trimmed_through()
    }
}

/// How much a [`MemoryLog`] keeps. Each bound is optional; the oldest events
/// go first once any bound is exceeded, checked on every append (the newest
/// event is always kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this (by `sequenced_at_ms`, measured against the
    /// newest appended event) are removed. Default 72 hours, the replay
    /// window of the reference PDS.
    pub max_age: Option<Duration>,
    /// At most this many events. Default 100,000.
    pub max_events: Option<usize>,
    /// At most this many frame bytes. Default 256 MiB.
    pub max_bytes: Option<usize>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Some(crate::producer::DEFAULT_REPLAY_WINDOW),
            max_events: Some(100_000),
            max_bytes: Some(256 << 20),
        }
    }
}

/// An [`EventLog`] in memory, bounded by a [`Retention`]. Frames are shared
/// `Bytes`: a replaying subscriber clones handles, never the bytes. Cloning
/// a `MemoryLog` gives another handle on the same log (a restarted
/// sequencer can be built on it).
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    inner: std::sync::Arc<Mutex<MemoryInner>>,
    retention: Retention,
}

#[derive(Debug, Default)]
struct MemoryInner {
    events: VecDeque<StoredEvent>,
    bytes: usize,
    last_seq: Option<i64>,
    trimmed_through: i64,
}

/// [`MemoryLog`]'s error: an event appended out of `seq` order (a bug of the
/// caller; the sequencer never does it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryLogError {
    /// An appended `seq` is not greater than the last stored one.
    #[error("event seq {seq} appended after seq {last}")]
    OutOfOrder {
        /// The appended event's `seq`.
        seq: i64,
        /// The greatest `seq` already in the log.
        last: i64,
    },
}

impl MemoryLog {
    /// An empty log with this retention.
    pub fn new(retention: Retention) -> MemoryLog {
        MemoryLog {
            inner: Default::default(),
            retention,
        }
    }

    /// The retention it was made with.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// How many events it holds now.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame bytes it holds now (the sum of the frames' lengths).
    pub fn retained_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The `seq` of the oldest event it holds.
    pub fn first_seq(&self) -> Option<i64> {
        self.lock().events.front().map(|e| e.seq)
    }

    fn lock(&self) -> MutexGuard<'_, MemoryInner> {
        // The state is consistent after every statement that can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryInner {
    fn index_after(&self, seq: i64) -> usize {
        self.events.partition_point(|e| e.seq <= seq)
    }

    fn trim(&mut self, r: &Retention) {
        let newest = match self.events.back() {
            Some(e) => e.sequenced_at_ms,
            None => return,
        };
        let cutoff = r
            .max_age
            .map(|age| newest.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)));
        while self.events.len() > 1 {
            let Some(front) = self.events.front() else {
                break;
            };
            let too_old = cutoff.is_some_and(|c| front.sequenced_at_ms < c);
            let too_many = r.max_events.is_some_and(|m| self.events.len() > m.max(1));
            let too_big = r.max_bytes.is_some_and(|m| self.bytes > m);
            if !(too_old || too_many || too_big) {
                break;
            }
            if let Some(gone) = self.events.pop_front() {
                self.bytes -= gone.frame.len();
                self.trimmed_through = gone.seq;
            }
        }
    }
}

impl EventLog for MemoryLog {
    type Error = MemoryLogError;

    fn append(&self, events: &[StoredEvent]) -> Result<(), MemoryLogError> {
        let mut inner = self.lock();
        let mut last = inner.last_seq.unwrap_or(0);
        for e in events {
            if e.seq <= last {
                return Err(MemoryLogError::OutOfOrder { seq: e.seq, last });
            }
            last = e.seq;
        }
        for e in events {
            inner.bytes += e.frame.len();
            inner.events.push_back(e.clone());
        }
        if let Some(e) = events.last() {
            inner.last_seq = Some(e.seq);
        }
        inner.trim(&self.retention);
        Ok(())
    }

    fn last_seq(&self) -> Result<Option<i64>, MemoryLogError> {
        Ok(self.lock().last_seq)
    }

    fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, MemoryLogError> {
        let inner = self.lock();
        let start = inner.index_after(after);
        Ok(inner.events.range(start..).take(limit).cloned().collect())
    }

    fn first_since(&self, time_ms: i64) -> Result<Option<i64>, MemoryLogError> {
        let inner = self.lock();
        // `sequenced_at_ms` never decreases along the log: the sequencer
        // stamps under its publish lock with a clock it keeps monotonic.
        let i = inner
            .events
            .partition_point(|e| e.sequenced_at_ms < time_ms);
        Ok(inner.events.get(i).map(|e| e.seq))
    }

    fn trimmed_through(&self) -> Result<i64, MemoryLogError> {
        Ok(self.lock().trimmed_through)
    }
}
