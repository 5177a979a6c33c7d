//! The consumer against the real producer: a [`Sequencer`] serving the
//! reference capture's events over loopback WebSockets
//! (`support/ws_server.rs`), publishing them from another task while the
//! consumer runs, through a proxy that cuts the connection at seeded random
//! points (`support/frames_server.rs`). The consumer's output is the
//! producer's log, frame for frame: no gap, no duplicate.
//!
//! Needs both features: `cargo test -p atproto-firehose --features
//! producer,consumer --test producer_consumer`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/frames_server.rs"]
mod frames_server;
#[path = "../../atproto-core/tests/it/interop.rs"]
mod interop;
#[path = "support/ws_server.rs"]
mod ws_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atproto_firehose::Frame;
use atproto_firehose::consumer::{
    Consumer, ConsumerConfig, Event, HandlerError, MemoryCursor, Status,
};
use atproto_firehose::producer::{EventLog, MemoryLog, Sequencer, SequencerConfig};
use bytes::Bytes;
use frames_server::{capture_messages, cutting_proxy};
use tokio::sync::Notify;
use ws_server::WsServer;

/// The capture's events, decoded (the sequencer gives them new seqs).
fn capture_events() -> Vec<Frame> {
    capture_messages(&interop::firehose_dir().join("ref-pds-dev.frames"))
        .iter()
        .map(|m| Frame::decode(m).unwrap())
        .filter(|f| f.seq().is_some())
        .collect()
}

/// Events published per step, and the pause between steps: the capture
/// (2,228 events) takes about two seconds to publish, so the cuts fall in
/// replay and in live reading alike.
const STEP: usize = 8;
const PAUSE: Duration = Duration::from_millis(7);
/// The proxy cuts this many connections, each after 1..=MAX_CUT bytes from
/// the server (the capture is 6.2 MB).
const CUTS: usize = 25;
const MAX_CUT: u64 = 300_000;

/// What the handler received, in the order its calls finished.
#[derive(Default)]
struct Received {
    events: Mutex<Vec<(Option<i64>, Bytes)>>,
    all_in: Notify,
}

/// A `Connecting` status seen: the cursor the consumer resumed from and the
/// producer's last seq at that moment.
#[derive(Clone, Copy, Debug)]
struct Resume {
    cursor: Option<i64>,
    head: i64,
}

/// Publishes the capture from another task while a consumer reads it
/// through a proxy that cuts `CUTS` connections at points drawn from
/// `seed`; checks the consumer got the producer's log, frame for frame.
async fn cut_at_random(seed: u64, shards: usize) {
    let events = capture_events();
    let total = events.len();
    let sequencer = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    let server = WsServer::start(sequencer.clone()).await.unwrap();
    let (proxy, cuts) = cutting_proxy(server.addr, seed, MAX_CUT, CUTS).await;

    let received = Arc::new(Received::default());
    let sink = received.clone();
    let resumes = Arc::new(Mutex::new(Vec::new()));
    let seen = resumes.clone();
    let watched = sequencer.clone();
    let drops = Arc::new(AtomicUsize::new(0));
    let dropped = drops.clone();
    let store = Arc::new(MemoryCursor::new(Some(0)));
    let mut config = ConsumerConfig::default();
    config.backoff_min = Duration::from_millis(1);
    config.backoff_max = Duration::from_millis(20);
    config.jitter_seed = Some(seed);
    config.shards = shards;
    let consumer = Consumer::new(&format!("ws://{proxy}"), store.clone())
        .unwrap()
        .with_config(config)
        .on_status(move |status| match status {
            Status::Connecting { url } => {
                let cursor = url
                    .split_once("cursor=")
                    .and_then(|(_, c)| c.parse::<i64>().ok());
                let head = watched.last_seq();
                seen.lock().unwrap().push(Resume { cursor, head });
            }
            Status::Disconnected { .. } => {
                dropped.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        });

    // The writer: the capture's events, re-sequenced, a few at a time,
    // alternating single publishes and atomic batches.
    let writer = {
        let sequencer = sequencer.clone();
        tokio::spawn(async move {
            for (i, step) in events.chunks(STEP).enumerate() {
                if i % 2 == 0 {
                    sequencer.publish_batch(step.iter().cloned()).unwrap();
                } else {
                    for frame in step {
                        sequencer.publish(frame.clone()).unwrap();
                    }
                }
                tokio::time::sleep(PAUSE).await;
            }
        })
    };

    let stop = received.clone();
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(120),
        consumer.run_until(
            move |event: Event| {
                let sink = sink.clone();
                async move {
                    let mut events = sink.events.lock().unwrap();
                    events.push((event.seq, event.message));
                    if events.len() >= total {
                        sink.all_in.notify_one();
                    }
                    Ok::<(), HandlerError>(())
                }
            },
            async move { stop.all_in.notified().await },
        ),
    )
    .await
    .expect("the consumer got every event within 120 s")
    .expect("the consumer stopped without error");
    let elapsed = started.elapsed();
    writer.await.unwrap();

    // The producer's log: every event, in seq order, as sent.
    let log: Vec<Bytes> = sequencer
        .log()
        .read_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.frame)
        .collect();
    assert_eq!(log.len(), total, "the log holds every published event");
    let head = sequencer.last_seq();
    assert_eq!(head, i64::try_from(total).unwrap());

    let mut got = std::mem::take(&mut *received.events.lock().unwrap());
    assert_eq!(got.len(), total, "one handler call per event");
    if shards == 1 {
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "one shard: handed over in seq order"
        );
    } else {
        got.sort_by_key(|(seq, _)| *seq);
    }
    let seqs: Vec<i64> = got.iter().map(|(seq, _)| seq.unwrap()).collect();
    assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "no gap, no duplicate");
    let messages: Vec<Bytes> = got.into_iter().map(|(_, m)| m).collect();
    assert!(
        messages == log,
        "the consumer's output is the producer's log"
    );
    assert_eq!(store.get(), Some(head), "the stored cursor is the last seq");

    let cut = cuts.load(Ordering::SeqCst);
    assert!(
        cut >= CUTS / 2,
        "seed {seed:#x}: the proxy cut {cut} connections"
    );
    assert!(
        drops.load(Ordering::SeqCst) >= cut,
        "every cut was a reconnection"
    );
    let resumes = resumes.lock().unwrap().clone();
    assert_eq!(resumes[0].cursor, Some(0));
    assert!(
        resumes.windows(2).all(|w| w[0].cursor <= w[1].cursor),
        "each reconnection resumes from the last seq read: {resumes:?}"
    );
    let replayed = resumes[1..]
        .iter()
        .filter(|r| r.cursor.is_some_and(|c| c < r.head))
        .count();
    assert!(
        replayed > 0,
        "some reconnection replayed events published while it was away: {resumes:?}"
    );
    eprintln!(
        "seed {seed:#x}, {shards} shard(s): {total} events in {:.2} s, {cut} cuts, \
         {} connections ({replayed} resumed behind the producer's head)",
        elapsed.as_secs_f64(),
        resumes.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_from_seed_1_one_shard() {
    cut_at_random(1, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_from_seed_2_one_shard() {
    cut_at_random(0x2b0c_51d3, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_from_seed_3_four_shards() {
    cut_at_random(0x9e37_79b9_7f4a_7c15, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_from_seed_4_eight_shards() {
    cut_at_random(0xdead_beef, 8).await;
}

/// The consumer's throughput in process, for the record: 20,000 `#commit`
/// events of the capture (cycled, re-sequenced) published before it
/// connects, read from cursor 0 over a loopback WebSocket with the default
/// configuration (eight shards) and a handler that only counts. The
/// issue's target is 2,000 events/s sustained; the figure is printed
/// (`-- --nocapture`). `atp firehose tail` is measured as a process of its
/// own, memory included, by `examples/atp/tests/firehose_load.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_throughput_from_a_local_producer() {
    const EVENTS: usize = 20_000;
    let commits: Vec<Frame> = capture_events()
        .into_iter()
        .filter(|f| matches!(f, Frame::Commit(_)))
        .collect();
    let sequencer = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    for chunk in commits
        .iter()
        .cycle()
        .take(EVENTS)
        .collect::<Vec<_>>()
        .chunks(100)
    {
        sequencer
            .publish_batch(chunk.iter().map(|f| (*f).clone()))
            .unwrap();
    }
    let bytes = sequencer.log().retained_bytes();
    let server = WsServer::start(sequencer.clone()).await.unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let all_in = Arc::new(Notify::new());
    let (counted, done) = (count.clone(), all_in.clone());
    let store = Arc::new(MemoryCursor::new(Some(0)));
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(60),
        Consumer::new(&server.base_url(), store.clone())
            .unwrap()
            .run_until(
                move |_event: Event| {
                    let (counted, done) = (counted.clone(), done.clone());
                    async move {
                        if counted.fetch_add(1, Ordering::SeqCst) + 1 == EVENTS {
                            done.notify_one();
                        }
                        Ok::<(), HandlerError>(())
                    }
                },
                async move { all_in.notified().await },
            ),
    )
    .await
    .expect("every event within 60 s")
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(count.load(Ordering::SeqCst), EVENTS);
    assert_eq!(store.get(), Some(i64::try_from(EVENTS).unwrap()));
    let rate = EVENTS as f64 / elapsed;
    eprintln!(
        "consumer: {EVENTS} events ({:.1} MB) in {elapsed:.2} s: {rate:.0} events/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / elapsed
    );
    assert!(rate >= 2_000.0, "{rate:.0} events/s");
}
