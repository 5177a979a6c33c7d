//! A consumer that stops reading costs no memory: measured with the
//! counting allocator, on one thread.

use atproto_firehose::producer::{MemoryLog, Retention, Sequencer, SequencerConfig};

use crate::{ended, error, ready, sync_event, thread_live_bytes};

const FRAME_BLOCKS: usize = 1_000;

/// Publishes `n` events of about 1.1 kB.
fn publish(s: &Sequencer<MemoryLog>, n: usize) {
    for _ in 0..n {
        s.publish(sync_event(FRAME_BLOCKS)).unwrap();
    }
}

/// 100 subscribers stop reading while 20,000 events (about 22 MB) are
/// published: the memory this thread holds stays that of the log and the
/// live buffer, not of 100 queues; then each stalled subscriber gets
/// `ConsumerTooSlow`.
#[test]
fn stalled_consumers_hold_no_memory_and_get_consumer_too_slow() {
    let config = SequencerConfig {
        live_buffer_events: 1_000,
        live_buffer_bytes: 1 << 20,
        ..SequencerConfig::default()
    };
    let log = MemoryLog::new(Retention {
        max_age: None,
        max_events: Some(2_000),
        max_bytes: None,
    });
    let s = Sequencer::new(log, config).unwrap();
    let mut stalled: Vec<_> = (0..100).map(|_| s.subscribe(None).unwrap()).collect();
    // Warm up: the log and the buffer reach their bounds.
    publish(&s, 3_000);
    let mut samples = Vec::with_capacity(17);
    let warm = thread_live_bytes();
    for _ in 0..17 {
        publish(&s, 1_000);
        samples.push(thread_live_bytes() - warm);
    }
    let growth = samples.iter().copied().max().unwrap_or(0);
    let log_bytes = s.log().retained_bytes();
    let buffer = s.live_buffer();
    eprintln!(
        "memory: after warm-up {warm} B held; while 17,000 more events (~{} MB) were \
         published to 100 stalled subscribers, growth stayed <= {growth} B (samples {samples:?}); \
         log {log_bytes} B in {} events, live buffer {} events {} B (shared with the log)",
        17_000 * (FRAME_BLOCKS + 100) / 1_000_000,
        s.log().len(),
        buffer.events,
        buffer.bytes,
    );
    // One per-subscriber queue of the 17,000 events would be ~19 MB; all
    // of them ~1.9 GB. The growth allowed is noise: 64 kB.
    assert!(growth < 64 * 1024, "memory grew by {growth} bytes");
    assert!(buffer.bytes <= 1 << 20 && buffer.events <= 1_000);
    assert_eq!(s.log().len(), 2_000);
    for sub in &mut stalled {
        assert_eq!(ready(sub), ended(vec![error("ConsumerTooSlow")]));
    }
}
