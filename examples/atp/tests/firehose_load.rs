//! `atp firehose tail` under load, as a process of its own so its memory is
//! the consumer's alone: an in-process producer (`Sequencer` over
//! loopback WebSockets, `atproto-firehose/tests/support/ws_server.rs`)
//! publishes the reference capture's `#commit` events, cycled and
//! re-sequenced (real sizes: 0.3 to 27 kB, 2.8 kB on average), at a steady
//! rate for about ten seconds while the test counts the lines `tail`
//! prints and samples its `/proc/PID/status` and `/proc/PID/stat`.
//!
//! The target: sustained 2,000 events/s from a local producer with
//! RSS under 64 MB. The figures are printed; for optimized ones run
//! `cargo test -p atp --release --test firehose_load -- --nocapture`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;
#[path = "../../../atproto-firehose/tests/support/ws_server.rs"]
mod ws_server;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use atproto_firehose::producer::{MemoryLog, Retention, Sequencer, SequencerConfig};
use atproto_firehose::{CaptureReader, Frame};
use bytes::Bytes;
use tokio::time::MissedTickBehavior;
use ws_server::WsServer;

/// The rate the consumer must sustain (events/s)...
const TARGET_RATE: f64 = 2_000.0;
/// ...and the producer offers 10% more, so that "at least the target,
/// first line to last" holds with room for the first and last lag.
const EVENTS_PER_TICK: usize = 22;
const TICK: Duration = Duration::from_millis(10);
/// Ticks: 1,000 × 10 ms = ten seconds, 22,000 events.
const TICKS: usize = 1_000;
/// The consumer's resident memory must stay under this.
const RSS_LIMIT_KB: u64 = 64 * 1024;
/// The last event must be printed within this of its publication.
const MAX_FINAL_LAG: Duration = Duration::from_secs(1);

/// The capture's `#commit` events, decoded (their `blocks` share one
/// buffer), with the size of each message.
fn capture_commits() -> Vec<(Frame, usize)> {
    let path = interop::firehose_dir().join("ref-pds-dev.frames");
    let mut reader = CaptureReader::new(Bytes::from(std::fs::read(path).unwrap()));
    let mut commits = Vec::new();
    while let Some(record) = reader.next_message() {
        let message = record.unwrap().1;
        let frame = Frame::decode(&message).unwrap();
        if matches!(frame, Frame::Commit(_)) {
            commits.push((frame, message.len()));
        }
    }
    commits
}

/// What the child printed: each line's seq and when it arrived.
fn drain_lines(child: &mut Child) -> JoinHandle<Vec<(i64, Instant)>> {
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut lines = Vec::with_capacity(TICKS * EVENTS_PER_TICK);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let at = Instant::now();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(value["type"], "#commit", "{line}");
            lines.push((value["seq"].as_i64().unwrap(), at));
        }
        lines
    })
}

/// The child's resource use, as last read from `/proc`.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    /// Peak resident set (VmHWM), kB.
    peak_rss_kb: u64,
    /// Largest VmRSS sampled, kB.
    max_sampled_rss_kb: u64,
    /// User + system CPU time, in clock ticks (USER_HZ, 100 on Linux).
    cpu_ticks: u64,
    samples: usize,
}

/// A `kB` field of `/proc/PID/status`.
fn status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// utime + stime of `/proc/PID/stat` (fields 14 and 15; the command name
/// in parentheses may hold spaces, so count from after it).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Samples the child's memory and CPU every 20 ms until `done`.
fn sample(pid: u32, done: Arc<AtomicBool>) -> JoinHandle<Usage> {
    std::thread::spawn(move || {
        let mut usage = Usage::default();
        while !done.load(Ordering::SeqCst) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
            if let (Ok(status), Ok(stat)) = (status, stat)
                // A process that exited (a zombie) has no memory fields.
                && let (Some(hwm), Some(rss)) =
                    (status_kb(&status, "VmHWM:"), status_kb(&status, "VmRSS:"))
            {
                usage.peak_rss_kb = usage.peak_rss_kb.max(hwm);
                usage.max_sampled_rss_kb = usage.max_sampled_rss_kb.max(rss);
                usage.cpu_ticks = cpu_ticks(&stat).unwrap_or(usage.cpu_ticks);
                usage.samples += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        usage
    })
}

/// Waits for the child, killing it after `limit`.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("atp firehose tail still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn tail_sustains_2000_events_per_second_under_64_mb() {
    let commits = capture_commits();
    assert!(commits.len() > 2_000);
    // The log keeps the newest 10,000 events (the test's memory, not the
    // child's); the live buffer is the default 10,000 events: a consumer
    // that fell that far behind would get `ConsumerTooSlow` and exit 1.
    let log = MemoryLog::new(Retention {
        max_age: None,
        max_events: Some(10_000),
        max_bytes: None,
    });
    let sequencer = Sequencer::new(log, SequencerConfig::default()).unwrap();
    let server = WsServer::start(sequencer.clone()).await.unwrap();

    // `--cursor 0`: every event, whenever the child subscribes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_atp"))
        .args(["firehose", "tail", &server.base_url()])
        .args(["--cursor", "0", "--idle-exit", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("atp runs");
    let pid = child.id();
    let lines = drain_lines(&mut child);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = sample(pid, done.clone());
    let connected = Instant::now();
    while server.connections() == 0 {
        assert!(
            connected.elapsed() < Duration::from_secs(10),
            "tail did not connect"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The producer: EVENTS_PER_TICK events per tick, one atomic batch each,
    // the capture's commits cycled; (last seq of the batch, when published).
    let mut published: Vec<(i64, Instant)> = Vec::with_capacity(TICKS);
    let mut cycle = commits.iter().cycle();
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut bytes = 0;
    let start = Instant::now();
    for _ in 0..TICKS {
        interval.tick().await;
        let batch = cycle.by_ref().take(EVENTS_PER_TICK).map(|(frame, len)| {
            bytes += len;
            frame.clone()
        });
        let seqs = sequencer.publish_batch(batch).unwrap();
        published.push((*seqs.last().unwrap(), Instant::now()));
    }
    let publish_span = start.elapsed();
    let total = TICKS * EVENTS_PER_TICK;

    let status = tokio::task::spawn_blocking(move || {
        let status = wait(&mut child, Duration::from_secs(30));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    })
    .await
    .unwrap();
    done.store(true, Ordering::SeqCst);
    let usage = sampler.join().unwrap();
    let lines = lines.join().unwrap();
    let (status, stderr) = status;
    assert!(status.success(), "tail: {status}: {stderr}");

    // Every event printed, once, in order.
    assert_eq!(lines.len(), total, "lines printed: {stderr}");
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, (seq, _))| *seq == i64::try_from(i).unwrap() + 1),
        "the seqs printed are 1..={total}, contiguous"
    );

    // Lag: each line against the moment its batch was published.
    let mut lags = Vec::with_capacity(total);
    let mut batch = 0;
    for (seq, at) in &lines {
        while published[batch].0 < *seq {
            batch += 1;
        }
        lags.push(at.saturating_duration_since(published[batch].1));
    }
    let final_lag = lags[total - 1];
    let max_lag = lags.iter().max().copied().unwrap_or_default();
    lags.sort_unstable();
    let p99_lag = lags[total * 99 / 100];
    let first = lines[0].1;
    let last = lines[total - 1].1;
    let consumer_rate = (total - 1) as f64 / (last - first).as_secs_f64();
    let offered_rate = total as f64 / publish_span.as_secs_f64();
    let cpu_s = usage.cpu_ticks as f64 / 100.0;
    eprintln!(
        "atp firehose tail: {total} events ({:.1} MB of frames offered at {offered_rate:.0} events/s \
         for {:.2} s); printed at {consumer_rate:.0} events/s (first line to last); lag: final \
         {:.1} ms, p99 {:.1} ms, max {:.1} ms; peak RSS (VmHWM) {:.1} MB, largest VmRSS sampled \
         {:.1} MB ({} samples); CPU {cpu_s:.2} s ({:.0}% of one core over the run)",
        bytes as f64 / 1e6,
        publish_span.as_secs_f64(),
        final_lag.as_secs_f64() * 1e3,
        p99_lag.as_secs_f64() * 1e3,
        max_lag.as_secs_f64() * 1e3,
        usage.peak_rss_kb as f64 / 1024.0,
        usage.max_sampled_rss_kb as f64 / 1024.0,
        usage.samples,
        100.0 * cpu_s / (last - first).as_secs_f64(),
    );
    assert!(usage.samples > 100, "the sampler read /proc while tail ran");
    assert!(
        consumer_rate >= TARGET_RATE,
        "sustained {consumer_rate:.0} events/s, below {TARGET_RATE}"
    );
    assert!(
        final_lag <= MAX_FINAL_LAG,
        "the last event was printed {final_lag:?} after it was published"
    );
    assert!(
        usage.peak_rss_kb < RSS_LIMIT_KB,
        "peak RSS {} kB, over {RSS_LIMIT_KB} kB",
        usage.peak_rss_kb
    );
}
