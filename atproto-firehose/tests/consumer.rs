//! The firehose consumer against a local frames server: through a proxy
//! that cuts connections, on a paused clock for the timings, with parallel
//! and slow handlers, and error frames.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/frames_server.rs"]
mod frames_server;
#[path = "../../atproto-core/tests/it/interop.rs"]
mod interop;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atproto_firehose::consumer::{
    Backoff, BoxedIo, ConnectFuture, Consumer, ConsumerConfig, ConsumerError, Event, FileCursor,
    HandlerError, MemoryCursor, Status, SubscribeUrl, Transport,
};
use atproto_firehose::{Frame, InfoMessage};
use bytes::Bytes;
use frames_server::{FramesServer, Mode, capture_messages, cutting_proxy};
use tokio::sync::Notify;

fn capture() -> Vec<Bytes> {
    capture_messages(&interop::firehose_dir().join("ref-pds-dev.frames"))
}

/// An in-memory transport: each connection is a pipe whose other end the
/// frames server serves. No socket, so a paused clock stays exact.
struct Pipe {
    server: Arc<FramesServer>,
    buffer: usize,
    /// Connection attempts that fail before reaching the server.
    refuse: AtomicUsize,
}

impl Pipe {
    fn new(server: Arc<FramesServer>) -> Self {
        Pipe {
            server,
            buffer: 64 * 1024,
            refuse: AtomicUsize::new(0),
        }
    }
}

impl Transport for Pipe {
    fn connect<'a>(&'a self, _url: &'a SubscribeUrl) -> ConnectFuture<'a> {
        Box::pin(async move {
            if self
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "refused",
                ));
            }
            let (client, server) = tokio::io::duplex(self.buffer);
            tokio::spawn(self.server.clone().serve(server));
            Ok(Box::new(client) as BoxedIo)
        })
    }
}

/// Collects what the handler got; `stop` fires once `want` events came.
#[derive(Clone, Default)]
struct Collector {
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<Notify>,
}

impl Collector {
    fn push(&self, event: Event, want: usize) {
        let mut events = self.events.lock().unwrap();
        events.push(event);
        if events.len() >= want {
            self.stop.notify_one();
        }
    }

    fn messages(&self) -> Vec<Bytes> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.message.clone())
            .collect()
    }
}

fn config() -> ConsumerConfig {
    let mut c = ConsumerConfig::default();
    c.backoff_min = Duration::from_millis(1);
    c.backoff_max = Duration::from_millis(20);
    c.jitter_seed = Some(1);
    c
}

/// Every frame of the capture arrives once, in order, though the proxy cuts
/// the connection at random points (mid-frame, mid-handshake): the
/// consumer's output is the server's frames, frame for frame, and the
/// stored cursor is the last seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cuts_lose_nothing_and_duplicate_nothing() {
    let frames = capture();
    let server = FramesServer::new(frames.clone(), Mode::Serve);
    let upstream = server.clone().listen().await;
    let (proxy, cuts) = cutting_proxy(upstream, 0x5eed, 400_000, 25).await;
    let store = Arc::new(MemoryCursor::new(Some(0)));
    let mut c = config();
    c.shards = 1;
    let collector = Collector::default();
    let sink = collector.clone();
    let want = frames.len();
    let reconnects = Arc::new(AtomicUsize::new(0));
    let counted = reconnects.clone();
    let consumer = Consumer::new(&format!("ws://{proxy}"), store.clone())
        .unwrap()
        .with_config(c)
        .on_status(move |s| {
            if matches!(s, Status::Disconnected { .. }) {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
    let stop = collector.stop.clone();
    tokio::time::timeout(
        Duration::from_secs(120),
        consumer.run_until(
            move |event: Event| {
                let sink = sink.clone();
                async move {
                    sink.push(event, want);
                    Ok::<(), HandlerError>(())
                }
            },
            async move { stop.notified().await },
        ),
    )
    .await
    .expect("finishes")
    .expect("no error");
    assert!(
        cuts.load(Ordering::SeqCst) >= 20,
        "the proxy cut connections"
    );
    assert!(reconnects.load(Ordering::SeqCst) >= 20);
    let got = collector.messages();
    assert_eq!(got.len(), frames.len());
    assert!(got == frames, "frame for frame");
    assert_eq!(store.get(), Some(server.head()));
    let conns = server.connections();
    assert!(
        conns
            .iter()
            .all(|c| c.path == "/xrpc/com.atproto.sync.subscribeRepos")
    );
    assert_eq!(conns[0].cursor, Some(0));
    assert!(
        conns.windows(2).all(|w| w[0].cursor <= w[1].cursor),
        "each reconnection resumes from the last seq read"
    );
}

/// Four shards: handler calls overlap across accounts, never within one,
/// and each account's events come in seq order; each seq exactly once.
#[tokio::test(start_paused = true)]
async fn shards_run_in_parallel_and_keep_each_account_in_order() {
    let frames = capture();
    let server = FramesServer::new(frames.clone(), Mode::Serve);
    let mut c = config();
    c.shards = 4;
    c.shard_queue = 4;
    c.window = 64;
    let store = Arc::new(MemoryCursor::new(Some(0)));
    let collector = Collector::default();
    let sink = collector.clone();
    let want = frames.len();
    let busy: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (b, r, m) = (busy.clone(), running.clone(), most.clone());
    let stop = collector.stop.clone();
    Consumer::new("ws://pipe", store.clone())
        .unwrap()
        .with_config(c)
        .with_transport(Pipe::new(server.clone()))
        .run_until(
            move |event: Event| {
                let (sink, busy, running, most) = (sink.clone(), b.clone(), r.clone(), m.clone());
                async move {
                    let account = event.account().unwrap_or_default().to_string();
                    {
                        let mut busy = busy.lock().unwrap();
                        let n = busy.entry(account.clone()).or_default();
                        assert_eq!(*n, 0, "two calls at once for {account}");
                        *n += 1;
                    }
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let seq = event.seq.unwrap_or(0) as u64;
                    tokio::time::sleep(Duration::from_millis(1 + seq * 7919 % 13)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    *busy.lock().unwrap().get_mut(&account).unwrap() -= 1;
                    sink.push(event, want);
                    Ok::<(), HandlerError>(())
                }
            },
            async move { stop.notified().await },
        )
        .await
        .unwrap();
    assert!(most.load(Ordering::SeqCst) > 1, "handlers ran in parallel");
    let events = collector.events.lock().unwrap();
    let mut seqs: Vec<i64> = events.iter().filter_map(|e| e.seq).collect();
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for e in events.iter() {
        let seq = e.seq.unwrap();
        let prev = last.insert(e.account().unwrap(), seq);
        assert!(prev.is_none_or(|p| p < seq), "account order at {seq}");
    }
    let handed_in_order = seqs.windows(2).all(|w| w[0] < w[1]);
    assert!(!handed_in_order, "accounts interleave out of global order");
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=server.head()).collect::<Vec<_>>(),
        "every seq once"
    );
    assert_eq!(store.get(), Some(server.head()), "the mark reached the end");
}

/// A silent server: each connection ends after the liveness timeout, and
/// the next one starts after exactly the jittered backoff delay, the steps
/// doubling up to the maximum.
#[tokio::test(start_paused = true)]
async fn liveness_timeout_and_backoff_on_a_paused_clock() {
    let server = FramesServer::new(capture()[..3].to_vec(), Mode::Silent);
    let mut c = ConsumerConfig::default();
    c.liveness_timeout = Duration::from_secs(10);
    c.backoff_min = Duration::from_secs(1);
    c.backoff_max = Duration::from_secs(8);
    c.healthy_after = Duration::from_secs(3600);
    c.jitter_seed = Some(42);
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let log = reasons.clone();
    let watched = server.clone();
    let start = tokio::time::Instant::now();
    Consumer::new("ws://pipe", MemoryCursor::new(Some(0)))
        .unwrap()
        .with_config(c)
        .with_transport(Pipe::new(server.clone()))
        .on_status(move |s| {
            if let Status::Disconnected { reason, retry_in } = s {
                log.lock().unwrap().push((reason.clone(), *retry_in));
            }
        })
        .run_until(
            |_event: Event| async { Ok::<(), HandlerError>(()) },
            async move {
                while watched.connections().len() < 7 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        )
        .await
        .unwrap();
    let conns = server.connections();
    let mut expected = Backoff::new(Duration::from_secs(1), Duration::from_secs(8), 42);
    assert_eq!(conns[0].at, start, "the first attempt is immediate");
    for (i, w) in conns.windows(2).enumerate() {
        let step = expected.step();
        let delay = expected.next_delay();
        assert!(delay >= step / 2 && delay <= step);
        // tokio's timers tick in whole milliseconds, rounding up.
        let gap = w[1].at - w[0].at;
        let want = Duration::from_secs(10) + delay;
        assert!(
            gap >= want && gap <= want + Duration::from_millis(2),
            "connection {i}: {gap:?}, not the liveness timeout then the backoff delay {want:?}"
        );
    }
    assert_eq!(
        expected.step(),
        Duration::from_secs(8),
        "capped at the maximum"
    );
    let reasons = reasons.lock().unwrap();
    assert!(
        reasons.iter().all(|(r, _)| r == "no message for 10 s"),
        "{reasons:?}"
    );
}

/// Refused connections back off further each time; a connection that stays
/// up past `healthy_after` resets the backoff to its first step.
#[tokio::test(start_paused = true)]
async fn backoff_grows_on_failures_and_resets_after_a_healthy_connection() {
    let server = FramesServer::new(capture()[..3].to_vec(), Mode::Silent);
    let mut c = ConsumerConfig::default();
    c.liveness_timeout = Duration::from_secs(40);
    c.backoff_min = Duration::from_secs(1);
    c.backoff_max = Duration::from_secs(60);
    c.healthy_after = Duration::from_secs(30);
    c.jitter_seed = Some(7);
    let pipe = Pipe::new(server.clone());
    pipe.refuse.store(3, Ordering::SeqCst);
    let delays = Arc::new(Mutex::new(Vec::new()));
    let log = delays.clone();
    let seen = delays.clone();
    Consumer::new("ws://pipe", MemoryCursor::new(None))
        .unwrap()
        .with_config(c)
        .with_transport(pipe)
        .on_status(move |s| {
            if let Status::Disconnected { retry_in, .. } = s {
                log.lock().unwrap().push(*retry_in);
            }
        })
        .run_until(
            |_event: Event| async { Ok::<(), HandlerError>(()) },
            async move {
                while seen.lock().unwrap().len() < 5 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        )
        .await
        .unwrap();
    let delays = delays.lock().unwrap().clone();
    let mut expected = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 7);
    let mut want: Vec<Duration> = (0..3).map(|_| expected.next_delay()).collect();
    // The fourth and fifth attempts connect and stay up 40 s (> 30 s):
    // each resets the backoff.
    for _ in 0..2 {
        expected.reset();
        want.push(expected.next_delay());
    }
    assert_eq!(delays, want);
    assert!(delays[2] >= Duration::from_secs(2), "third step is 4 s");
    assert!(
        delays[3] <= Duration::from_secs(1),
        "back to the first step"
    );
    assert_eq!(server.connections()[0].cursor, None, "no cursor: live");
}

/// A cursor past the server's last seq: the `FutureCursor` error frame ends
/// the run with its name and message, and no reconnection is tried.
#[tokio::test(start_paused = true)]
async fn an_error_frame_ends_the_consumer() {
    let server = FramesServer::new(capture()[..5].to_vec(), Mode::Serve);
    let err = Consumer::new("ws://pipe", MemoryCursor::new(Some(99)))
        .unwrap()
        .with_transport(Pipe::new(server.clone()))
        .run(|_event: Event| async { Ok::<(), HandlerError>(()) })
        .await
        .unwrap_err();
    let ConsumerError::Server { name, message } = &err else {
        panic!("{err}");
    };
    assert_eq!(name, "FutureCursor");
    assert_eq!(message.as_deref(), Some("Cursor in the future."));
    assert_eq!(err.to_string(), "FutureCursor: Cursor in the future.");
    assert_eq!(server.connections().len(), 1);
}

/// `#info` (no seq) reaches the handler in its place; the events read
/// before an error frame are processed and the cursor stored before the
/// run ends.
#[tokio::test(start_paused = true)]
async fn info_reaches_the_handler_and_events_before_an_error_are_kept() {
    let capture = capture();
    let info = Bytes::from(
        Frame::Info(InfoMessage {
            name: "OutdatedCursor".into(),
            message: None,
            extra: Default::default(),
        })
        .encode(),
    );
    let mut messages = vec![info.clone()];
    messages.extend_from_slice(&capture[..4]);
    messages.push(frames_server::error_frame("ConsumerTooSlow", "too slow"));
    let server = FramesServer::new(messages, Mode::Serve);
    let store = Arc::new(MemoryCursor::new(None));
    let collector = Collector::default();
    let sink = collector.clone();
    let mut c = config();
    c.shards = 1;
    let err = Consumer::new("ws://pipe", store.clone())
        .unwrap()
        .with_config(c)
        .with_transport(Pipe::new(server))
        .run(move |event: Event| {
            let sink = sink.clone();
            async move {
                sink.push(event, usize::MAX);
                Ok::<(), HandlerError>(())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "ConsumerTooSlow: too slow");
    let got = collector.messages();
    assert_eq!(got[0], info);
    assert_eq!(collector.events.lock().unwrap()[0].seq, None);
    assert_eq!(&got[1..], &capture[..4]);
    assert_eq!(store.get(), Some(4));
}

/// A handler that fails stops the consumer; the cursor stays below the
/// failed seq.
#[tokio::test(start_paused = true)]
async fn a_failing_handler_stops_the_consumer_below_its_seq() {
    let server = FramesServer::new(capture()[..50].to_vec(), Mode::Serve);
    let store = Arc::new(MemoryCursor::new(Some(0)));
    let mut c = config();
    c.shards = 1;
    let err = Consumer::new("ws://pipe", store.clone())
        .unwrap()
        .with_config(c)
        .with_transport(Pipe::new(server))
        .run(|event: Event| async move {
            if event.seq == Some(20) {
                return Err::<(), HandlerError>("disk full".into());
            }
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConsumerError::Handler { seq: Some(20), .. }),
        "{err}"
    );
    assert_eq!(err.to_string(), "handler failed on seq 20: disk full");
    assert_eq!(store.get(), Some(19));
}

/// A handler that does not return: the reader stops reading (the server's
/// writes stall on the full pipe) instead of queueing frames; once the
/// handler moves, every frame arrives.
#[tokio::test(start_paused = true)]
async fn a_slow_handler_stalls_the_reader_instead_of_buffering() {
    let frames = capture();
    let server = FramesServer::new(frames.clone(), Mode::Serve);
    let mut c = config();
    c.shards = 2;
    c.shard_queue = 4;
    c.window = 16;
    c.liveness_timeout = Duration::from_secs(5);
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let collector = Collector::default();
    let (g, e, sink) = (gate.clone(), entered.clone(), collector.clone());
    let want = frames.len();
    let stop = collector.stop.clone();
    let mut pipe = Pipe::new(server.clone());
    pipe.buffer = 16 * 1024;
    let run = tokio::spawn(
        Consumer::new("ws://pipe", MemoryCursor::new(Some(0)))
            .unwrap()
            .with_config(c)
            .with_transport(pipe)
            .run_until(
                move |event: Event| {
                    let (gate, entered, sink) = (g.clone(), e.clone(), sink.clone());
                    async move {
                        entered.fetch_add(1, Ordering::SeqCst);
                        gate.acquire().await.unwrap().forget();
                        sink.push(event, want);
                        Ok::<(), HandlerError>(())
                    }
                },
                async move { stop.notified().await },
            ),
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    let sent = server.sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        server.sent.load(Ordering::SeqCst),
        sent,
        "the server is stalled"
    );
    // 16 seqs in the window, plus what fits in the 16 KiB pipe and the
    // WebSocket buffers: nowhere near the 2,228 frames.
    assert!(sent < 64, "{sent} frames left the server");
    assert!(entered.load(Ordering::SeqCst) <= 2, "one call per shard");
    assert_eq!(
        server.connections().len(),
        1,
        "a stall is not a dead connection"
    );
    gate.add_permits(frames.len());
    run.await.unwrap().unwrap();
    assert_eq!(collector.messages().len(), frames.len());
}

/// A run stopped midway stores its cursor in a file; the next run starts
/// there: the two outputs together are the frames, once each.
#[tokio::test(start_paused = true)]
async fn a_file_cursor_carries_a_stopped_run_to_the_next() {
    let frames = capture()[..300].to_vec();
    let server = FramesServer::new(frames.clone(), Mode::Serve);
    let dir = std::env::temp_dir().join(format!("firehose-consumer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cursor");
    std::fs::write(&path, "0\n").unwrap();
    let mut c = config();
    c.shards = 1;
    let mut all = Vec::new();
    let mut first_run = 0;
    for run in 0..2 {
        let want = if run == 0 {
            120
        } else {
            frames.len() - all.len()
        };
        let collector = Collector::default();
        let sink = collector.clone();
        let stop = collector.stop.clone();
        Consumer::new("ws://pipe", FileCursor::new(&path))
            .unwrap()
            .with_config(c.clone())
            .with_transport(Pipe::new(server.clone()))
            .run_until(
                move |event: Event| {
                    let sink = sink.clone();
                    async move {
                        sink.push(event, want);
                        Ok::<(), HandlerError>(())
                    }
                },
                async move { stop.notified().await },
            )
            .await
            .unwrap();
        let got = collector.messages();
        let last = Frame::decode(got.last().unwrap()).unwrap().seq().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{last}\n"));
        all.extend(got);
        if run == 0 {
            first_run = all.len();
        }
    }
    assert!(all == frames, "nothing lost, nothing twice across the runs");
    assert!(first_run >= 120);
    assert_eq!(server.connections()[1].cursor, Some(first_run as i64));
    std::fs::remove_dir_all(&dir).unwrap();
}
