//! Events to the handler: one task per shard of accounts, a bounded queue
//! each, and the low-water mark of fully processed seqs.

use core::future::Future;
use core::hash::{Hash, Hasher};
use core::sync::atomic::{AtomicBool, Ordering};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::vec::Vec;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::error::{ConsumerError, HandlerError};
use crate::frame::Frame;

/// One message from the firehose, handed to the [`Handler`].
#[derive(Clone, Debug)]
pub struct Event {
    /// The event's seq; `None` for `#info` (and an unknown message type
    /// without one).
    pub seq: Option<i64>,
    /// The message exactly as it came off the wire (what a capture stores).
    pub message: Bytes,
    /// The message, decoded (its `blocks` share `message`'s buffer).
    pub frame: Frame,
}

impl Event {
    /// The account the event is about: `repo` of a `#commit`, `did` of
    /// the others, `did` or `repo` of an unknown type that has one.
    pub fn account(&self) -> Option<&str> {
        match &self.frame {
            Frame::Commit(m) => Some(&m.repo),
            Frame::Sync(m) => Some(&m.did),
            Frame::Identity(m) => Some(&m.did),
            Frame::Account(m) => Some(&m.did),
            Frame::Unknown(u) => ["did", "repo"]
                .iter()
                .find_map(|k| u.body.get(*k).and_then(|v| v.as_str())),
            _ => None,
        }
    }
}

/// Processes the consumer's events.
///
/// Calls for one account come one at a time, in seq order; calls for
/// different accounts run in parallel (up to
/// [`ConsumerConfig::shards`](super::ConsumerConfig::shards) at once).
/// An event counts as processed when the call returns `Ok`; an `Err` stops
/// the consumer with [`ConsumerError::Handler`], the cursor left below that
/// event. A closure `Fn(Event) -> impl Future<Output = Result<(), HandlerError>>`
/// is a handler.
pub trait Handler: Send + Sync + 'static {
    /// Processes one event.
    fn handle(&self, event: Event) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, event: Event) -> impl Future<Output = Result<(), HandlerError>> + Send {
        self(event)
    }
}

/// The shard an account's events go to.
fn shard_of(account: Option<&str>, shards: usize) -> usize {
    // Fixed keys: the same account goes to the same shard all run long.
    let mut h = std::hash::DefaultHasher::new();
    account.hash(&mut h);
    usize::try_from(h.finish() % shards as u64).unwrap_or(0)
}

/// The seqs handed out and not yet below the low-water mark.
#[derive(Debug)]
struct Tracker {
    /// seq → done. Each holds a permit of the window, given back when the
    /// mark passes it.
    pending: BTreeMap<i64, (bool, OwnedSemaphorePermit)>,
    /// Every seq up to here is processed.
    low: Option<i64>,
}

impl Tracker {
    fn complete(&mut self, seq: i64) {
        if let Some(entry) = self.pending.get_mut(&seq) {
            entry.0 = true;
        }
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().0 {
                break;
            }
            let (seq, _permit) = entry.remove_entry();
            self.low = Some(seq);
        }
    }
}

#[derive(Debug)]
struct Shared {
    tracker: Mutex<Tracker>,
    /// Set when the workers are to stop without finishing their queues.
    stopping: AtomicBool,
}

impl Shared {
    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shard tasks and their queues.
pub(crate) struct Pool {
    senders: Vec<mpsc::Sender<Event>>,
    workers: Vec<JoinHandle<()>>,
    errors: mpsc::Receiver<ConsumerError>,
    shared: Arc<Shared>,
    window: Arc<Semaphore>,
}

impl Pool {
    /// Starts `shards` tasks with queues of `queue` events, at most
    /// `window` seqs between the low-water mark (from `low`) and the head.
    pub(crate) fn start<H: Handler>(
        handler: H,
        shards: usize,
        queue: usize,
        window: usize,
        low: Option<i64>,
    ) -> Pool {
        let handler = Arc::new(handler);
        let shards = shards.max(1);
        let shared = Arc::new(Shared {
            tracker: Mutex::new(Tracker {
                pending: BTreeMap::new(),
                low,
            }),
            stopping: AtomicBool::new(false),
        });
        let (error_tx, errors) = mpsc::channel(shards);
        let mut senders = Vec::with_capacity(shards);
        let mut workers = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (tx, rx) = mpsc::channel(queue.max(1));
            senders.push(tx);
            workers.push(tokio::spawn(work(
                handler.clone(),
                rx,
                shared.clone(),
                error_tx.clone(),
            )));
        }
        Pool {
            senders,
            workers,
            errors,
            shared,
            window: Arc::new(Semaphore::new(window.max(1))),
        }
    }

    /// Every seq up to this one is processed.
    pub(crate) fn low_water(&self) -> Option<i64> {
        self.shared.tracker().low
    }

    /// The first handler failure (pending forever while there is none).
    pub(crate) async fn failed(&mut self) -> ConsumerError {
        match self.errors.recv().await {
            Some(e) => e,
            None => core::future::pending().await,
        }
    }

    /// Hands `event` to its account's shard, waiting (not reading the
    /// socket) while the window or the shard's queue is full.
    pub(crate) async fn dispatch(&mut self, event: Event) -> Result<(), ConsumerError> {
        let seq = event.seq;
        if let Some(seq) = seq {
            let permit = tokio::select! {
                biased;
                e = self.errors.recv() => return Err(e.unwrap_or_else(|| gone(Some(seq)))),
                p = self.window.clone().acquire_owned() => p.map_err(|_| gone(Some(seq)))?,
            };
            self.shared.tracker().pending.insert(seq, (false, permit));
        }
        let shard = shard_of(event.account(), self.senders.len());
        let Some(tx) = self.senders.get(shard) else {
            return Err(gone(seq));
        };
        tokio::select! {
            biased;
            e = self.errors.recv() => Err(e.unwrap_or_else(|| gone(seq))),
            r = tx.send(event) => r.map_err(|_| gone(seq)),
        }
    }

    /// Closes the queues and waits for the shard tasks: with `drain`, after
    /// they processed what is queued; without, after the calls under way.
    /// The first handler failure, if any, and the low-water mark then.
    pub(crate) async fn finish(mut self, drain: bool) -> (Option<ConsumerError>, Option<i64>) {
        if !drain {
            self.shared.stopping.store(true, Ordering::SeqCst);
        }
        self.senders.clear();
        let mut panicked = false;
        for worker in self.workers.drain(..) {
            panicked |= worker.await.is_err();
        }
        let failure = match self.errors.try_recv() {
            Ok(e) => Some(e),
            Err(_) if panicked => Some(gone(None)),
            Err(_) => None,
        };
        (failure, self.low_water())
    }
}

/// A shard task ended without saying why: its handler panicked.
fn gone(seq: Option<i64>) -> ConsumerError {
    ConsumerError::Handler {
        seq,
        error: "the handler task of this account's shard panicked".into(),
    }
}

async fn work<H: Handler>(
    handler: Arc<H>,
    mut rx: mpsc::Receiver<Event>,
    shared: Arc<Shared>,
    errors: mpsc::Sender<ConsumerError>,
) {
    while let Some(event) = rx.recv().await {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let seq = event.seq;
        match handler.handle(event).await {
            Ok(()) => {
                if let Some(seq) = seq {
                    shared.tracker().complete(seq);
                }
            }
            Err(error) => {
                shared.stopping.store(true, Ordering::SeqCst);
                // One message per shard task at most: the channel has room.
                let _ = errors.try_send(ConsumerError::Handler { seq, error });
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_the_end_of_the_done_prefix() {
        let window = Arc::new(Semaphore::new(10));
        let mut t = Tracker {
            pending: BTreeMap::new(),
            low: Some(2),
        };
        for seq in [3, 5, 8] {
            let permit = window.clone().try_acquire_owned().unwrap();
            t.pending.insert(seq, (false, permit));
        }
        t.complete(5);
        assert_eq!(t.low, Some(2), "3 is not done");
        t.complete(3);
        assert_eq!(t.low, Some(5), "3 and 5 done; 4 does not exist (a gap)");
        assert_eq!(window.available_permits(), 9, "their two permits are back");
        t.complete(8);
        assert_eq!(t.low, Some(8));
        assert!(t.pending.is_empty());
    }

    #[test]
    fn an_account_always_goes_to_the_same_shard() {
        let a = shard_of(Some("did:plc:a"), 8);
        for _ in 0..3 {
            assert_eq!(shard_of(Some("did:plc:a"), 8), a);
        }
        let spread: std::collections::BTreeSet<_> = (0..64)
            .map(|i| shard_of(Some(&std::format!("did:plc:{i}")), 8))
            .collect();
        assert!(spread.len() > 4, "accounts spread over the shards");
    }
}
