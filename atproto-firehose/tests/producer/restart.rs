//! Restart on the same log, window eviction, publish errors, log failures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use atproto_firehose::producer::{
    EndReason, EventLog, MemoryLog, MemoryLogError, PublishError, Retention, Sequencer,
    SequencerConfig, StoredEvent,
};
use atproto_firehose::{Frame, InfoMessage};

use crate::{Seen, account, ended, events, log_of, open, publish_n, ready, sync_event};

#[test]
fn a_new_sequencer_on_the_same_log_continues_the_seq() {
    let log = MemoryLog::default();
    let first = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    assert_eq!(publish_n(&first, 5), 5);
    first.shutdown();
    drop(first);
    let second = Sequencer::new(log, SequencerConfig::default()).unwrap();
    assert_eq!(second.last_seq(), 5);
    assert_eq!(second.publish(account(0)).unwrap(), 6);
    // Replay spans both: events 4, 5 from the log, 6 from the live buffer.
    let mut sub = second.subscribe(Some(3)).unwrap();
    assert_eq!(ready(&mut sub), open(events(4, 6)));
    // A cursor past the restart point is in the future as before.
    let mut future = second.subscribe(Some(7)).unwrap();
    assert_eq!(
        ready(&mut future),
        ended(vec![crate::error("FutureCursor")])
    );
}

#[test]
fn the_seq_continues_after_a_log_that_trimmed_everything_but_the_last() {
    let log = log_of(1);
    publish_n(
        &Sequencer::new(log.clone(), SequencerConfig::default()).unwrap(),
        9,
    );
    assert_eq!(log.len(), 1);
    assert_eq!(log.last_seq().unwrap(), Some(9));
    let s = Sequencer::new(log, SequencerConfig::default()).unwrap();
    assert_eq!(s.publish(account(0)).unwrap(), 10);
}

#[test]
fn memory_log_evicts_by_count_bytes_and_age() {
    let by_count = log_of(3);
    let s = Sequencer::new(by_count.clone(), SequencerConfig::default()).unwrap();
    publish_n(&s, 10);
    assert_eq!((by_count.len(), by_count.first_seq()), (3, Some(8)));
    assert_eq!(by_count.trimmed_through().unwrap(), 7);

    let by_bytes = MemoryLog::new(Retention {
        max_age: None,
        max_events: None,
        max_bytes: Some(3_500),
    });
    let s = Sequencer::new(by_bytes.clone(), SequencerConfig::default()).unwrap();
    for _ in 0..10 {
        s.publish(sync_event(1_000)).unwrap();
    }
    assert_eq!(by_bytes.len(), 3);
    assert!(by_bytes.retained_bytes() <= 3_500);
    assert_eq!(by_bytes.first_seq(), Some(8));

    let by_age = MemoryLog::new(Retention {
        max_age: Some(Duration::from_secs(72 * 3_600)),
        max_events: None,
        max_bytes: None,
    });
    let (s, clock) = crate::sequencer_with_clock(by_age.clone(), SequencerConfig::default());
    publish_n(&s, 3); // hour 0
    clock.set_hours(50);
    publish_n(&s, 2); // hour 50
    assert_eq!(by_age.len(), 5);
    clock.set_hours(73);
    publish_n(&s, 1); // hour 73: the events of hour 0 leave
    assert_eq!((by_age.len(), by_age.first_seq()), (3, Some(4)));
    // A subscriber from the start is told it missed events.
    let mut sub = s.subscribe(Some(0)).unwrap();
    let mut want = vec![crate::info("OutdatedCursor")];
    want.extend(events(4, 6));
    assert_eq!(ready(&mut sub), open(want));
}

#[test]
fn memory_log_rejects_out_of_order_appends() {
    let log = MemoryLog::default();
    let e = |seq| StoredEvent {
        seq,
        sequenced_at_ms: 0,
        frame: bytes::Bytes::from_static(b"x"),
    };
    log.append(&[e(3)]).unwrap();
    assert_eq!(
        log.append(&[e(4), e(4)]),
        Err(MemoryLogError::OutOfOrder { seq: 4, last: 4 })
    );
    assert_eq!(log.len(), 1);
    // Two sequencers on one log: the second's first seq is refused.
    let a = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    let b = Sequencer::new(log, SequencerConfig::default()).unwrap();
    assert_eq!(a.publish(account(0)).unwrap(), 4);
    assert!(matches!(b.publish(account(0)), Err(PublishError::Log(_))));
}

#[test]
fn publish_stores_the_frame_with_its_seq_encoded_once() {
    let s = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    let mut sub = s.subscribe(None).unwrap();
    let mut frame = account(1);
    if let Frame::Account(a) = &mut frame {
        a.seq = 999; // overwritten
    }
    assert_eq!(s.publish(frame.clone()).unwrap(), 1);
    let stored = s.log().read_after(0, 10).unwrap();
    let bytes = crate::next_now(&mut sub);
    // The subscriber gets the stored frame itself: same buffer, no copy.
    assert_eq!(bytes.as_ptr(), stored[0].frame.as_ptr());
    if let Frame::Account(a) = &mut frame {
        a.seq = 1;
    }
    assert_eq!(Frame::decode(&bytes).unwrap(), frame);
}

#[test]
fn batches_are_atomic_and_consecutive() {
    let s = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    let mut sub = s.subscribe(None).unwrap();
    assert_eq!(
        s.publish_batch([account(0), account(1), sync_event(10), account(2)])
            .unwrap(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(ready(&mut sub), open(events(1, 4)));
    // A bad frame anywhere: nothing of the batch is published.
    let bad = sync_event(10_001);
    match s.publish_batch([account(0), bad]) {
        Err(PublishError::Frame { index: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    let info = Frame::Info(InfoMessage {
        name: "OutdatedCursor".into(),
        message: None,
        extra: Default::default(),
    });
    assert!(matches!(
        s.publish(info),
        Err(PublishError::NotAnEvent { index: 0, .. })
    ));
    assert_eq!(ready(&mut sub), open(vec![]));
    assert_eq!(s.log().len(), 4);
    // The refused frames used no seq.
    assert_eq!(s.publish(account(5)).unwrap(), 5);
    assert_eq!(ready(&mut sub), open(vec![Seen::Event(5)]));
    assert_eq!(s.publish_batch([]).unwrap(), Vec::<i64>::new());
}

/// A log whose operations fail while `failing` is set.
#[derive(Default)]
struct FlakyLog {
    inner: MemoryLog,
    failing: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("the disk is on fire")]
struct Fire;

impl FlakyLog {
    fn check(&self) -> Result<(), Fire> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Fire);
        }
        Ok(())
    }
}

impl EventLog for FlakyLog {
    type Error = Fire;
    fn append(&self, events: &[StoredEvent]) -> Result<(), Fire> {
        self.check()?;
        self.inner.append(events).map_err(|_| Fire)
    }
    fn last_seq(&self) -> Result<Option<i64>, Fire> {
        self.check()?;
        Ok(self.inner.last_seq().unwrap())
    }
    fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, Fire> {
        self.check()?;
        Ok(self.inner.read_after(after, limit).unwrap())
    }
    fn first_since(&self, time_ms: i64) -> Result<Option<i64>, Fire> {
        self.check()?;
        Ok(self.inner.first_since(time_ms).unwrap())
    }
    fn trimmed_through(&self) -> Result<i64, Fire> {
        self.check()?;
        Ok(self.inner.trimmed_through().unwrap())
    }
}

#[test]
fn log_failures_are_typed_and_publish_nothing() {
    let log = std::sync::Arc::new(FlakyLog::default());
    publish_n(
        &Sequencer::new(log.clone(), SequencerConfig::default()).unwrap(),
        10,
    );
    let s = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    let mut live = s.subscribe(None).unwrap();
    let mut replaying = s.subscribe(Some(2)).unwrap();
    log.failing.store(true, Ordering::SeqCst);
    let err = s.publish(account(0)).unwrap_err();
    assert!(matches!(err, PublishError::Log(_)));
    assert_eq!(
        err.to_string(),
        "event log append failed: the disk is on fire"
    );
    assert!(s.subscribe(Some(1)).is_err());
    assert_eq!(ready(&mut live), open(vec![]));
    // Replaying from a failing log: the stream ends without a frame.
    assert_eq!(ready(&mut replaying), ended(vec![]));
    assert!(matches!(replaying.end_reason(), Some(EndReason::Log(_))));
    assert_eq!(replaying.end_reason().unwrap().error_name(), None);
    log.failing.store(false, Ordering::SeqCst);
    assert_eq!(s.publish(account(0)).unwrap(), 11);
    assert_eq!(ready(&mut live), open(events(11, 11)));
}

#[test]
fn seq_stops_at_two_to_the_53() {
    let log = MemoryLog::default();
    log.append(&[StoredEvent {
        seq: atproto_firehose::producer::MAX_SEQ,
        sequenced_at_ms: 0,
        frame: bytes::Bytes::from_static(b"x"),
    }])
    .unwrap();
    let s = Sequencer::new(log, SequencerConfig::default()).unwrap();
    assert!(matches!(
        s.publish(account(0)),
        Err(PublishError::SeqExhausted(_))
    ));
}
