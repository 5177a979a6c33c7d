//! The [`Sequencer`]: assigns `seq`, stores each event in the [`EventLog`],
//! keeps the shared live buffer subscribers read from.

use std::collections::{HashMap, VecDeque};
use std::string::String;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::Waker;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use atproto_core::data::Value;
use bytes::Bytes;

use crate::frame::Frame;
use crate::producer::error::{EndReason, PublishError, PublishWithError, SubscribeError};
use crate::producer::log::{EventLog, StoredEvent};
use crate::producer::subscription::{Start, Subscription};
use crate::producer::{DEFAULT_REPLAY_WINDOW, MAX_SEQ};

/// Where the sequencer reads the time: stamps events and measures the replay
/// window. Tests plug a manual clock in.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The sequencer's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequencerConfig {
    /// A cursor whose next event is older than this (or was trimmed from
    /// the log) gets `#info OutdatedCursor` and replays from the first event
    /// inside it. Default 72 hours.
    pub replay_window: Duration,
    /// The shared live buffer holds at most this many of the newest events:
    /// a live subscriber may fall behind the newest event by at most this
    /// many before it gets `ConsumerTooSlow`. Default 10,000.
    pub live_buffer_events: usize,
    /// As `live_buffer_events`, in frame bytes. Default 64 MiB. The buffer
    /// is shared: this is the bound however many subscribers there are.
    pub live_buffer_bytes: usize,
    /// A replaying subscriber reads the log this many events at a time
    /// (and holds at most one such page). Default 500, as the reference.
    pub replay_page: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            replay_window: DEFAULT_REPLAY_WINDOW,
            live_buffer_events: 10_000,
            live_buffer_bytes: 64 << 20,
            replay_page: 500,
        }
    }
}

/// What the shared live buffer holds now ([`Sequencer::live_buffer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveBufferStats {
    /// Events held.
    pub events: usize,
    /// Their frame bytes.
    pub bytes: usize,
    /// Every published event with a `seq` greater than this is in the buffer.
    pub floor: i64,
    /// The last published `seq` (`0` before the first).
    pub head: i64,
}

/// Assigns each event its `seq`, stores it in the [`EventLog`] and serves
/// subscribers. Cloning gives another handle on the same sequencer;
/// dropping the last handle [shuts it down](Sequencer::shutdown).
///
/// One sequencer per log: two sequencers appending to the same log would
/// assign the same `seq` twice (the log rejects the second).
pub struct Sequencer<L: EventLog> {
    shared: Arc<Shared<L>>,
}

impl<L: EventLog> Clone for Sequencer<L> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::SeqCst);
        Sequencer {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Dropping the last handle shuts the sequencer down, so no subscription
/// waits forever for events nobody can publish.
impl<L: EventLog> Drop for Sequencer<L> {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shutdown();
        }
    }
}

impl<L: EventLog> core::fmt::Debug for Sequencer<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sequencer")
            .field("live_buffer", &self.live_buffer())
            .field("shut_down", &self.is_shut_down())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared<L> {
    pub(crate) log: L,
    pub(crate) config: SequencerConfig,
    clock: Arc<dyn Clock>,
    writer: Mutex<Writer>,
    recent: RwLock<Recent>,
    wakers: Mutex<HashMap<u64, Waker>>,
    closed: AtomicBool,
    next_id: AtomicU64,
    /// Live `Sequencer` handles (subscriptions do not count).
    handles: AtomicUsize,
}

struct Writer {
    last_seq: i64,
    last_stamp: i64,
}

/// The newest events, in `seq` order; every published event with
/// `seq > floor` is here.
struct Recent {
    events: VecDeque<(i64, Bytes)>,
    bytes: usize,
    floor: i64,
    head: i64,
}

/// What a subscriber at `pos` finds in the live buffer.
pub(crate) enum Next {
    /// The next event after `pos`.
    Event(i64, Bytes),
    /// Events after `pos` have left the buffer.
    Behind,
    /// Nothing after `pos` yet (the waker, if given, is registered).
    CaughtUp,
}

impl<L: EventLog> Sequencer<L> {
    /// A sequencer over `log`, continuing after the log's last `seq`, with
    /// the system clock.
    ///
    /// # Errors
    /// The log failed to say its last `seq`.
    pub fn new(log: L, config: SequencerConfig) -> Result<Sequencer<L>, SubscribeError> {
        Sequencer::with_clock(log, config, Arc::new(SystemClock))
    }

    /// As [`new`](Sequencer::new), reading the time from `clock`.
    ///
    /// # Errors
    /// The log failed to say its last `seq`.
    pub fn with_clock(
        log: L,
        config: SequencerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Sequencer<L>, SubscribeError> {
        let last = log
            .last_seq()
            .map_err(|e| SubscribeError::Log(e.into()))?
            .unwrap_or(0)
            .max(0);
        let config = SequencerConfig {
            live_buffer_events: config.live_buffer_events.max(1),
            replay_page: config.replay_page.max(1),
            ..config
        };
        Ok(Sequencer {
            shared: Arc::new(Shared {
                log,
                config,
                clock,
                writer: Mutex::new(Writer {
                    last_seq: last,
                    last_stamp: i64::MIN,
                }),
                recent: RwLock::new(Recent {
                    events: VecDeque::new(),
                    bytes: 0,
                    floor: last,
                    head: last,
                }),
                wakers: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
                handles: AtomicUsize::new(1),
            }),
        })
    }

    /// The log it stores events in.
    pub fn log(&self) -> &L {
        &self.shared.log
    }

    /// Its limits.
    pub fn config(&self) -> SequencerConfig {
        self.shared.config
    }

    /// The last `seq` subscribers can see (`0` before the first event).
    pub fn last_seq(&self) -> i64 {
        self.shared.read_recent().head
    }

    /// What the shared live buffer holds now.
    pub fn live_buffer(&self) -> LiveBufferStats {
        let r = self.shared.read_recent();
        LiveBufferStats {
            events: r.events.len(),
            bytes: r.bytes,
            floor: r.floor,
            head: r.head,
        }
    }

    /// Sequences one event: sets its `seq`, encodes it once, appends it to
    /// the log, then makes it visible to subscribers. The frame's other
    /// fields (`time` included) are the caller's. Returns the `seq`.
    ///
    /// # Errors
    /// See [`PublishError`]; on error nothing was published.
    pub fn publish(&self, frame: Frame) -> Result<i64, PublishError> {
        let seqs = self.publish_batch([frame])?;
        Ok(seqs.first().copied().unwrap_or(0))
    }

    /// Sequences several events atomically (consecutive `seq`s, one log
    /// append), as a PDS does for an account's creation (`#identity`,
    /// `#account`, `#commit`, `#sync`). Returns their `seq`s.
    ///
    /// # Errors
    /// See [`PublishError`]; on error nothing of the batch was published.
    pub fn publish_batch(
        &self,
        frames: impl IntoIterator<Item = Frame>,
    ) -> Result<Vec<i64>, PublishError> {
        let log = &self.shared.log;
        self.publish_batch_with(frames, |events| {
            if events.is_empty() {
                return Ok(());
            }
            log.append(events)
        })
        .map_err(|e| match e {
            PublishWithError::Publish(e) => e,
            PublishWithError::Persist(e) => PublishError::Log(e.into()),
        })
    }

    /// Sequences several events that the caller stores itself, inside its
    /// own database transaction: the two-phase form of
    /// [`publish_batch`](Sequencer::publish_batch).
    ///
    /// Under the sequencer's publish lock (so `seq`s stay in order across
    /// publishers) it gives the frames the next `seq`s, encodes and checks
    /// them as `publish_batch` does, then calls `persist` with the stored
    /// events. `persist` writes them into the table the sequencer's
    /// [`EventLog`] reads, in the same transaction as the change they
    /// describe, and commits that transaction durably before it returns
    /// `Ok`. Only then are the events made visible to subscribers and the
    /// `seq`s consumed. If `persist` returns `Err`, nothing is visible and
    /// the next publish reuses the same `seq`s. The log's
    /// [`append`](EventLog::append) is not called.
    ///
    /// `persist` is called even for an empty batch (with no events), so a
    /// caller may commit there unconditionally. It runs under the publish
    /// lock: it must not publish on this sequencer itself.
    ///
    /// # Errors
    /// [`PublishWithError::Publish`] when the batch cannot be sequenced
    /// (`persist` was then not called); [`PublishWithError::Persist`] with
    /// `persist`'s own error.
    pub fn publish_batch_with<E>(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        persist: impl FnOnce(&[StoredEvent]) -> Result<(), E>,
    ) -> Result<Vec<i64>, PublishWithError<E>> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(PublishError::ShutDown.into());
        }
        let mut writer = lock(&shared.writer);
        let stamp = shared.clock.now_ms().max(writer.last_stamp);
        let mut events = Vec::new();
        let mut seq = writer.last_seq;
        for (index, mut frame) in frames.into_iter().enumerate() {
            seq += 1;
            if seq > MAX_SEQ {
                return Err(PublishError::SeqExhausted(seq).into());
            }
            set_seq(&mut frame, seq, index)?;
            let bytes = Bytes::from(frame.encode());
            // The frame consumers will decode: refuse one they would reject.
            Frame::decode(&bytes).map_err(|error| PublishError::Frame { index, error })?;
            events.push(StoredEvent {
                seq,
                sequenced_at_ms: stamp,
                frame: bytes,
            });
        }
        persist(&events).map_err(PublishWithError::Persist)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        writer.last_seq = seq;
        writer.last_stamp = stamp;
        let seqs = events.iter().map(|e| e.seq).collect();
        {
            let mut recent = shared.write_recent();
            for e in events {
                recent.bytes += e.frame.len();
                recent.events.push_back((e.seq, e.frame));
            }
            recent.head = seq;
            let (max_events, max_bytes) = (
                shared.config.live_buffer_events,
                shared.config.live_buffer_bytes,
            );
            while recent.events.len() > max_events
                || (recent.bytes > max_bytes && recent.events.len() > 1)
            {
                let Some((gone, frame)) = recent.events.pop_front() else {
                    break;
                };
                recent.bytes -= frame.len();
                recent.floor = gone;
            }
        }
        drop(writer);
        shared.wake_all();
        Ok(seqs)
    }

    /// A subscriber's stream of frame messages from `cursor` (the
    /// `subscribeRepos` query parameter): see the [module docs](crate::producer)
    /// for each case.
    ///
    /// # Errors
    /// The sequencer is shut down, or the log failed while the cursor was
    /// looked up.
    pub fn subscribe(&self, cursor: Option<i64>) -> Result<Subscription<L>, SubscribeError> {
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(SubscribeError::ShutDown);
        }
        let head = shared.read_recent().head;
        let start = match cursor {
            None => Start::Live(head),
            Some(c) if c > head => Start::Future,
            Some(c) => {
                // Below every seq, as 0 is (the reference answers the same).
                let c = c.max(0);
                let log_err = |e: L::Error| SubscribeError::Log(e.into());
                let cutoff = shared.clock.now_ms().saturating_sub(
                    i64::try_from(shared.config.replay_window.as_millis()).unwrap_or(i64::MAX),
                );
                let trimmed = shared.log.trimmed_through().map_err(log_err)?;
                let next = shared.log.read_after(c, 1).map_err(log_err)?;
                let aged = next.first().is_some_and(|e| e.sequenced_at_ms < cutoff);
                if trimmed > c || aged {
                    let pos = match shared.log.first_since(cutoff).map_err(log_err)? {
                        Some(first) => (first - 1).max(trimmed),
                        None => head,
                    };
                    Start::Outdated(pos)
                } else {
                    Start::Replay(c)
                }
            }
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(Subscription::new(Arc::clone(shared), id, start))
    }

    /// Shuts the sequencer down: publishing fails from now on and every
    /// subscription stream ends (its [`end_reason`](Subscription::end_reason)
    /// is [`EndReason::ShutDown`]), so a server's send loops finish.
    pub fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake_all();
    }

    /// Whether [`shutdown`](Sequencer::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shared.is_closed()
    }
}

impl<L> Shared<L> {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn read_recent(&self) -> RwLockReadGuard<'_, Recent> {
        self.recent.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_recent(&self) -> RwLockWriteGuard<'_, Recent> {
        self.recent.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The event after `pos` in the live buffer. With `waker`, registers it
    /// for subscriber `id` when there is none yet (under the buffer's lock,
    /// so a publish cannot slip between the check and the registration).
    pub(crate) fn next_after(&self, pos: i64, waker: Option<(u64, &Waker)>) -> Next {
        let recent = self.read_recent();
        if pos < recent.floor {
            return Next::Behind;
        }
        let i = recent.events.partition_point(|(seq, _)| *seq <= pos);
        if let Some((seq, frame)) = recent.events.get(i) {
            return Next::Event(*seq, frame.clone());
        }
        if let Some((id, waker)) = waker {
            let mut wakers = lock(&self.wakers);
            match wakers.get_mut(&id) {
                Some(w) if w.will_wake(waker) => {}
                Some(w) => w.clone_from(waker),
                None => {
                    wakers.insert(id, waker.clone());
                }
            }
        }
        Next::CaughtUp
    }

    pub(crate) fn forget(&self, id: u64) {
        lock(&self.wakers).remove(&id);
    }

    fn wake_all(&self) {
        let woken: Vec<Waker> = lock(&self.wakers).drain().map(|(_, w)| w).collect();
        for w in woken {
            w.wake();
        }
    }
}

impl<L: EventLog> Shared<L> {
    /// A page of the log after `pos`, or why the subscriber cannot go on.
    pub(crate) fn log_page(&self, pos: i64) -> Result<Vec<StoredEvent>, EndReason> {
        let log_err = |e: L::Error| EndReason::Log(e.into());
        let page = self
            .log
            .read_after(pos, self.config.replay_page)
            .map_err(log_err)?;
        // Read after the page: if the log trimmed events after `pos` before
        // the read, the page starts past them and the subscriber lost them.
        let trimmed = self.log.trimmed_through().map_err(log_err)?;
        if trimmed > pos && page.first().is_none_or(|e| e.seq > trimmed) {
            return Err(EndReason::ConsumerTooSlow);
        }
        Ok(page)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded state is consistent between statements that can panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sets the `seq` of an event frame.
fn set_seq(frame: &mut Frame, seq: i64, index: usize) -> Result<(), PublishError> {
    match frame {
        Frame::Commit(m) => m.seq = seq,
        Frame::Sync(m) => m.seq = seq,
        Frame::Identity(m) => m.seq = seq,
        Frame::Account(m) => m.seq = seq,
        Frame::Unknown(m) => {
            m.body.insert(String::from("seq"), Value::Integer(seq));
        }
        Frame::Info(_) => {
            return Err(PublishError::NotAnEvent {
                index,
                kind: "#info",
            });
        }
        Frame::Error(_) => {
            return Err(PublishError::NotAnEvent {
                index,
                kind: "an error frame",
            });
        }
    }
    Ok(())
}
