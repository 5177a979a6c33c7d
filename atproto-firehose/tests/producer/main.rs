//! Tests of the producer (feature `producer`): the sequencer, every cursor
//! case, the replay→live switch under concurrent writes, slow consumers and
//! memory, restart, window eviction, and serving over real WebSockets.
//!
//! Its own test binary because of [`CountingAlloc`]: the memory test counts
//! the bytes its own thread holds, through a global allocator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use atproto_firehose::producer::{
    Clock, EventLog, MemoryLog, Retention, Sequencer, SequencerConfig, Subscription,
};
use atproto_firehose::{AccountMessage, Frame, SyncMessage};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

#[path = "../support/ws_server.rs"]
mod ws_server;

mod cursors;
mod memory;
mod restart;
mod slow;
mod switch;
mod transaction;
mod ws;

/// The system allocator, counting the bytes each thread has allocated and
/// not freed (a thread-local counter: tests running in parallel on other
/// threads do not disturb it).
struct CountingAlloc;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread-local may be gone while a thread exits.
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + delta));
}

// SAFETY: every call is forwarded to `System` with the caller's arguments;
// the counter neither allocates nor touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Bytes this thread holds (allocated minus freed since it started).
fn thread_live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

/// A clock the test moves by hand.
#[derive(Clone, Default)]
struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    fn set_hours(&self, hours: i64) {
        self.0.store(hours * 3_600_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A sequencer over `log` with a manual clock (at hour 0).
fn sequencer_with_clock(
    log: MemoryLog,
    config: SequencerConfig,
) -> (Sequencer<MemoryLog>, ManualClock) {
    let clock = ManualClock::default();
    let s = Sequencer::with_clock(log, config, Arc::new(clock.clone())).unwrap();
    (s, clock)
}

/// A small event (`#account`); the sequencer sets its `seq`.
fn account(n: usize) -> Frame {
    Frame::Account(AccountMessage {
        seq: 0,
        did: format!("did:plc:account{n}"),
        time: "2024-01-01T00:00:00.000Z".into(),
        active: true,
        status: None,
        extra: Default::default(),
    })
}

/// An event whose frame is about `blocks + 100` bytes (`#sync`).
fn sync_event(blocks: usize) -> Frame {
    Frame::Sync(SyncMessage {
        seq: 0,
        did: "did:plc:sync".into(),
        rev: "3kabcdefghijk".into(),
        blocks: Bytes::from(vec![0u8; blocks]),
        time: "2024-01-01T00:00:00.000Z".into(),
        extra: Default::default(),
    })
}

/// Publishes `n` small events; returns the last `seq`.
fn publish_n<L: EventLog>(s: &Sequencer<L>, n: usize) -> i64 {
    let mut last = 0;
    for i in 0..n {
        last = s.publish(account(i)).unwrap();
    }
    last
}

/// What a frame is, for exact comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// An event, by `seq`.
    Event(i64),
    /// `#info` with this name.
    Info(String),
    /// An error frame with this name.
    Error(String),
}

fn seen(bytes: &Bytes) -> Seen {
    match Frame::decode(bytes).unwrap() {
        Frame::Info(i) => Seen::Info(i.name),
        Frame::Error(e) => Seen::Error(e.error),
        other => Seen::Event(other.seq().unwrap()),
    }
}

/// Events `from ..= to`.
fn events(from: i64, to: i64) -> Vec<Seen> {
    (from..=to).map(Seen::Event).collect()
}

/// What the stream yields without waiting, and whether it ended.
#[derive(Debug, PartialEq, Eq)]
struct Ready {
    frames: Vec<Seen>,
    ended: bool,
}

/// The frame the stream yields without waiting (it must have one).
fn next_now<L: EventLog>(sub: &mut Subscription<L>) -> Bytes {
    sub.next().now_or_never().flatten().expect("no frame ready")
}

fn ready<L: EventLog>(sub: &mut Subscription<L>) -> Ready {
    let mut frames = Vec::new();
    loop {
        match sub.next().now_or_never() {
            Some(Some(bytes)) => frames.push(seen(&bytes)),
            Some(None) => {
                return Ready {
                    frames,
                    ended: true,
                };
            }
            None => {
                return Ready {
                    frames,
                    ended: false,
                };
            }
        }
    }
}

/// `frames`, the stream still open (waiting for more).
fn open(frames: Vec<Seen>) -> Ready {
    Ready {
        frames,
        ended: false,
    }
}

/// `frames`, then the end of the stream.
fn ended(frames: Vec<Seen>) -> Ready {
    Ready {
        frames,
        ended: true,
    }
}

fn info(name: &str) -> Seen {
    Seen::Info(name.into())
}

fn error(name: &str) -> Seen {
    Seen::Error(name.into())
}

/// A memory log with only a count bound.
fn log_of(max_events: usize) -> MemoryLog {
    MemoryLog::new(Retention {
        max_age: None,
        max_events: Some(max_events),
        max_bytes: None,
    })
}
