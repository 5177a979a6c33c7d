//! The replay→live switch while another task publishes: every frame
//! exactly once, in order, none missing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use atproto_firehose::Frame;
use atproto_firehose::producer::{MemoryLog, Retention, Sequencer, SequencerConfig};
use futures_util::StreamExt;

use crate::{account, publish_n};

const ROUNDS: usize = 40;

/// Reads `sub` until it yields `last`; returns every seq it yielded.
async fn read_until(
    mut sub: atproto_firehose::Subscription<MemoryLog>,
    last: i64,
    reached: &AtomicI64,
) -> Vec<i64> {
    let mut seqs = Vec::new();
    while let Some(bytes) = sub.next().await {
        let seq = Frame::decode(&bytes).unwrap().seq().unwrap();
        seqs.push(seq);
        reached.store(seq, Ordering::SeqCst);
        if seq == last {
            return seqs;
        }
        if seqs.len() % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    panic!(
        "stream ended at {:?}: {:?}",
        seqs.last(),
        sub.end_reason().map(ToString::to_string)
    );
}

fn assert_contiguous(seqs: &[i64], from: i64, to: i64, round: usize) {
    let want: Vec<i64> = (from..=to).collect();
    if seqs != want.as_slice() {
        let gap = seqs.windows(2).find(|w| w[1] != w[0] + 1);
        panic!(
            "round {round}: {} frames, wanted {}..={to}; first break {gap:?}",
            seqs.len(),
            from
        );
    }
}

/// Events 1..=500 were published by an earlier sequencer, so they are only
/// in the log: a subscriber with cursor 10 replays them from the log a page
/// at a time, then switches to the live buffer while a writer on another
/// thread publishes 3,000 more as fast as it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_to_live_switch_under_concurrent_writes() {
    for round in 0..ROUNDS {
        let log = MemoryLog::new(Retention {
            max_age: None,
            max_events: None,
            max_bytes: None,
        });
        publish_n(
            &Sequencer::new(log.clone(), SequencerConfig::default()).unwrap(),
            500,
        );
        let config = SequencerConfig {
            replay_page: 7,
            ..SequencerConfig::default()
        };
        let s = Sequencer::new(log, config).unwrap();
        assert_eq!(s.live_buffer().floor, 500);
        let sub = s.subscribe(Some(10)).unwrap();
        let writer = {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..3_000 {
                    s.publish(account(i)).unwrap();
                    if i % 32 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        let reached = AtomicI64::new(0);
        let seqs = read_until(sub, 3_500, &reached).await;
        writer.await.unwrap();
        assert_contiguous(&seqs, 11, 3_500, round);
    }
}

/// A live buffer of 256 events, the cursor far behind it: the subscriber
/// replays from the log, moves into the buffer, may fall out of it again
/// while it still replays (back to the log), and ends live. The writer
/// keeps within 128 events of the reader so that, once live, the reader
/// is never too slow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffer_and_log_switches_under_concurrent_writes() {
    for round in 0..ROUNDS {
        let config = SequencerConfig {
            live_buffer_events: 256,
            replay_page: 5,
            ..SequencerConfig::default()
        };
        let s = Sequencer::new(MemoryLog::default(), config).unwrap();
        publish_n(&s, 1_000);
        let cursor = (round as i64 * 17) % 900;
        let sub = s.subscribe(Some(cursor)).unwrap();
        let reached = Arc::new(AtomicI64::new(cursor));
        let writer = {
            let (s, reached) = (s.clone(), Arc::clone(&reached));
            tokio::spawn(async move {
                let mut i = 0;
                while i < 2_000 {
                    if s.last_seq() - reached.load(Ordering::SeqCst) < 128 {
                        s.publish(account(i)).unwrap();
                        i += 1;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        let seqs = read_until(sub, 3_000, &reached).await;
        writer.await.unwrap();
        assert_contiguous(&seqs, cursor + 1, 3_000, round);
    }
}

/// Many subscribers at once, each from its own cursor, one writer: each
/// gets exactly its range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_subscribers_each_get_their_exact_range() {
    let log = MemoryLog::default();
    publish_n(
        &Sequencer::new(log.clone(), SequencerConfig::default()).unwrap(),
        300,
    );
    let s = Sequencer::new(
        log,
        SequencerConfig {
            replay_page: 11,
            ..SequencerConfig::default()
        },
    )
    .unwrap();
    let mut readers = Vec::new();
    for cursor in [None, Some(0), Some(1), Some(150), Some(299), Some(300)] {
        let sub = s.subscribe(cursor).unwrap();
        readers.push(tokio::spawn(async move {
            let reached = AtomicI64::new(0);
            (cursor, read_until(sub, 2_300, &reached).await)
        }));
    }
    for i in 0..2_000 {
        s.publish(account(i)).unwrap();
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    for r in readers {
        let (cursor, seqs) = r.await.unwrap();
        let from = cursor.map_or(301, |c| c + 1);
        assert_contiguous(&seqs, from, 2_300, 0);
    }
}
