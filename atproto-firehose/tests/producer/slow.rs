//! Slow consumers get `ConsumerTooSlow` at the documented bound; shutdown
//! ends every stream.

use atproto_firehose::producer::{
    EndReason, MemoryLog, PublishError, SequencerConfig, SubscribeError,
};
use futures_util::StreamExt;

use crate::{
    Seen, account, ended, error, events, log_of, open, publish_n, ready, sequencer_with_clock,
    sync_event,
};

fn small_buffer(events: usize, bytes: usize) -> SequencerConfig {
    SequencerConfig {
        live_buffer_events: events,
        live_buffer_bytes: bytes,
        ..SequencerConfig::default()
    }
}

#[test]
fn live_consumer_may_lag_by_the_buffer_and_not_one_more() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), small_buffer(10, usize::MAX));
    let mut at_limit = s.subscribe(None).unwrap();
    let mut over = s.subscribe(None).unwrap();
    publish_n(&s, 10);
    // 10 behind, with a buffer of 10: still served.
    assert_eq!(ready(&mut at_limit), open(events(1, 10)));
    publish_n(&s, 1);
    // 11 behind: the event after its position left the buffer.
    assert_eq!(ready(&mut over), ended(vec![error("ConsumerTooSlow")]));
    assert!(matches!(
        over.end_reason(),
        Some(EndReason::ConsumerTooSlow)
    ));
    assert_eq!(
        over.end_reason().unwrap().error_name(),
        Some("ConsumerTooSlow")
    );
    assert_eq!(ready(&mut at_limit), open(events(11, 11)));
}

#[test]
fn the_byte_bound_counts_too() {
    // Frames of about 1,100 bytes, a buffer of 5,000 bytes: four fit.
    let (s, _) = sequencer_with_clock(MemoryLog::default(), small_buffer(1_000, 5_000));
    let mut keeps_up = s.subscribe(None).unwrap();
    let mut stalls = s.subscribe(None).unwrap();
    for _ in 0..4 {
        s.publish(sync_event(1_000)).unwrap();
    }
    assert_eq!(s.live_buffer().events, 4);
    assert_eq!(ready(&mut keeps_up), open(events(1, 4)));
    s.publish(sync_event(1_000)).unwrap();
    assert_eq!(s.live_buffer().events, 4);
    assert_eq!(ready(&mut keeps_up), open(events(5, 5)));
    assert_eq!(ready(&mut stalls), ended(vec![error("ConsumerTooSlow")]));
}

#[test]
fn a_frame_bigger_than_the_byte_bound_is_still_served() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), small_buffer(1_000, 100));
    let mut sub = s.subscribe(None).unwrap();
    s.publish(sync_event(5_000)).unwrap();
    assert_eq!(ready(&mut sub), open(events(1, 1)));
}

#[test]
fn a_replaying_consumer_is_not_held_to_the_live_buffer() {
    // Buffer of 4: a cursor 90 events back replays from the log.
    let (s, _) = sequencer_with_clock(MemoryLog::default(), small_buffer(4, usize::MAX));
    publish_n(&s, 100);
    let mut sub = s.subscribe(Some(10)).unwrap();
    assert_eq!(ready(&mut sub), open(events(11, 100)));
    // Caught up: now live, and held to the buffer.
    assert!(sub.is_live());
    publish_n(&s, 5);
    assert_eq!(ready(&mut sub), ended(vec![error("ConsumerTooSlow")]));
}

#[test]
fn a_replaying_consumer_overtaken_by_log_trimming_is_too_slow() {
    let config = SequencerConfig {
        live_buffer_events: 4,
        replay_page: 5,
        ..SequencerConfig::default()
    };
    let (s, _) = sequencer_with_clock(log_of(50), config);
    publish_n(&s, 40);
    let mut sub = s.subscribe(Some(0)).unwrap();
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(crate::seen(&crate::next_now(&mut sub)));
    }
    assert_eq!(first, events(1, 3));
    // It holds its page (4, 5); the log now trims through seq 90.
    publish_n(&s, 100);
    assert_eq!(s.log().first_seq(), Some(91));
    let mut want = events(4, 5);
    want.push(error("ConsumerTooSlow"));
    assert_eq!(ready(&mut sub), ended(want));
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_waiting_streams_and_refuses_new_work() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 2);
    let mut sub = s.subscribe(Some(0)).unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(bytes) = sub.next().await {
            got.push(crate::seen(&bytes));
        }
        (got, matches!(sub.end_reason(), Some(EndReason::ShutDown)))
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!reader.is_finished());
    s.shutdown();
    let (got, shut_down) = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, vec![Seen::Event(1), Seen::Event(2)]);
    assert!(shut_down);
    assert!(s.is_shut_down());
    assert!(matches!(s.publish(account(0)), Err(PublishError::ShutDown)));
    assert!(matches!(s.subscribe(None), Err(SubscribeError::ShutDown)));
}

#[test]
fn dropping_the_last_handle_shuts_down() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    let mut sub = s.subscribe(None).unwrap();
    let other = s.clone();
    drop(s);
    assert!(!other.is_shut_down());
    assert_eq!(other.publish(account(0)).unwrap(), 1);
    assert_eq!(ready(&mut sub), open(events(1, 1)));
    drop(other);
    assert_eq!(ready(&mut sub), ended(vec![]));
    assert!(matches!(sub.end_reason(), Some(EndReason::ShutDown)));
}
