//! Every cursor case, with the exact frames each subscriber gets.

use atproto_firehose::producer::{EndReason, MemoryLog, Retention, SequencerConfig};

use crate::{
    Seen, account, ended, error, events, info, log_of, open, publish_n, ready, sequencer_with_clock,
};

#[test]
fn no_cursor_is_live_only() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 3);
    let mut sub = s.subscribe(None).unwrap();
    assert!(sub.is_live());
    assert_eq!(ready(&mut sub), open(vec![]));
    publish_n(&s, 2);
    assert_eq!(ready(&mut sub), open(events(4, 5)));
    assert_eq!(sub.position(), Some(5));
    assert!(sub.end_reason().is_none());
}

#[test]
fn future_cursor_is_one_error_frame_then_the_end() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    // An empty log: any cursor above 0 is in the future.
    let mut sub = s.subscribe(Some(1)).unwrap();
    assert_eq!(ready(&mut sub), ended(vec![error("FutureCursor")]));
    assert!(matches!(sub.end_reason(), Some(EndReason::FutureCursor)));

    publish_n(&s, 3);
    let mut sub = s.subscribe(Some(4)).unwrap();
    assert_eq!(ready(&mut sub), ended(vec![error("FutureCursor")]));
    let reason = sub.end_reason().unwrap();
    assert_eq!(reason.error_name(), Some("FutureCursor"));
    // It stays ended, whatever is published later.
    publish_n(&s, 5);
    assert_eq!(ready(&mut sub), ended(vec![]));
}

#[test]
fn the_error_frame_says_what_the_reference_says() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    let mut sub = s.subscribe(Some(7)).unwrap();
    let bytes = crate::next_now(&mut sub);
    let atproto_firehose::Frame::Error(e) = atproto_firehose::Frame::decode(&bytes).unwrap() else {
        panic!("not an error frame");
    };
    assert_eq!(e.error, "FutureCursor");
    assert_eq!(e.message.as_deref(), Some("Cursor in the future."));
    // The exact wire form: header {op: -1}, body {error, message}.
    assert_eq!(&bytes[..4], &[0xa1, 0x62, b'o', b'p']);
}

#[test]
fn cursor_inside_the_window_replays_after_it_then_goes_live() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 10);
    let mut sub = s.subscribe(Some(4)).unwrap();
    assert!(!sub.is_live());
    assert_eq!(ready(&mut sub), open(events(5, 10)));
    assert!(sub.is_live());
    publish_n(&s, 1);
    assert_eq!(ready(&mut sub), open(events(11, 11)));
}

#[test]
fn cursor_at_the_last_seq_is_live_with_nothing_replayed() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 6);
    let mut sub = s.subscribe(Some(6)).unwrap();
    assert_eq!(ready(&mut sub), open(vec![]));
    publish_n(&s, 2);
    assert_eq!(ready(&mut sub), open(events(7, 8)));
}

#[test]
fn cursor_zero_is_the_whole_window_without_info_when_nothing_was_lost() {
    let (s, _) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    // An empty log: cursor 0 is not in the future (the reference compares
    // with its last seq, 0), it is live.
    let mut empty = s.subscribe(Some(0)).unwrap();
    assert_eq!(ready(&mut empty), open(vec![]));
    publish_n(&s, 4);
    assert_eq!(ready(&mut empty), open(events(1, 4)));
    let mut sub = s.subscribe(Some(0)).unwrap();
    assert_eq!(ready(&mut sub), open(events(1, 4)));
    // A negative cursor is below every seq: the same.
    let mut neg = s.subscribe(Some(-5)).unwrap();
    assert_eq!(ready(&mut neg), open(events(1, 4)));
}

#[test]
fn cursor_older_than_the_age_window_gets_info_then_the_window() {
    let (s, clock) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 2); // seq 1, 2 at hour 0
    clock.set_hours(10);
    publish_n(&s, 2); // seq 3, 4 at hour 10
    clock.set_hours(75); // the window (72 h) starts at hour 3
    let outdated = || vec![info("OutdatedCursor"), Seen::Event(3), Seen::Event(4)];
    for cursor in [0, 1] {
        let mut sub = s.subscribe(Some(cursor)).unwrap();
        assert_eq!(ready(&mut sub), open(outdated()), "cursor {cursor}");
        publish_n(&s, 0);
    }
    // The event after cursor 2 is inside the window: no info.
    let mut sub = s.subscribe(Some(2)).unwrap();
    assert_eq!(ready(&mut sub), open(events(3, 4)));
    // Then live.
    publish_n(&s, 1);
    assert_eq!(ready(&mut sub), open(events(5, 5)));
}

#[test]
fn info_frame_carries_the_reference_message() {
    let (s, clock) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 1);
    clock.set_hours(100);
    let mut sub = s.subscribe(Some(0)).unwrap();
    let bytes = crate::next_now(&mut sub);
    let atproto_firehose::Frame::Info(i) = atproto_firehose::Frame::decode(&bytes).unwrap() else {
        panic!("not #info");
    };
    assert_eq!(i.name, "OutdatedCursor");
    assert_eq!(
        i.message.as_deref(),
        Some("Requested cursor exceeded limit. Possibly missing events")
    );
}

#[test]
fn window_with_no_event_left_is_info_then_live() {
    let (s, clock) = sequencer_with_clock(MemoryLog::default(), SequencerConfig::default());
    publish_n(&s, 2);
    clock.set_hours(100);
    let mut sub = s.subscribe(Some(0)).unwrap();
    assert_eq!(ready(&mut sub), open(vec![info("OutdatedCursor")]));
    publish_n(&s, 1);
    assert_eq!(ready(&mut sub), open(events(3, 3)));
}

#[test]
fn cursor_before_trimmed_events_gets_info_then_what_the_log_kept() {
    let (s, _) = sequencer_with_clock(log_of(5), SequencerConfig::default());
    publish_n(&s, 8); // the log keeps 4..=8
    assert_eq!(s.log().first_seq(), Some(4));
    for cursor in [0, 1, 2] {
        let mut sub = s.subscribe(Some(cursor)).unwrap();
        let mut want = vec![info("OutdatedCursor")];
        want.extend(events(4, 8));
        assert_eq!(ready(&mut sub), open(want), "cursor {cursor}");
    }
    // Cursor 3: nothing after it was lost.
    let mut sub = s.subscribe(Some(3)).unwrap();
    assert_eq!(ready(&mut sub), open(events(4, 8)));
}

#[test]
fn age_window_is_configurable() {
    let config = SequencerConfig {
        replay_window: std::time::Duration::from_secs(3_600),
        ..SequencerConfig::default()
    };
    let (s, clock) = sequencer_with_clock(
        MemoryLog::new(Retention {
            max_age: None,
            ..Retention::default()
        }),
        config,
    );
    publish_n(&s, 1);
    clock.set_hours(2);
    s.publish(account(9)).unwrap();
    let mut sub = s.subscribe(Some(0)).unwrap();
    assert_eq!(
        ready(&mut sub),
        open(vec![info("OutdatedCursor"), Seen::Event(2)])
    );
}
