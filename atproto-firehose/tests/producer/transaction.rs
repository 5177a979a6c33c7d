//! `publish_batch_with`: events stored by the caller inside its own
//! transaction, visible only once that transaction committed.

use std::sync::{Arc, Mutex};
use std::thread;

use atproto_firehose::producer::{
    EventLog, MemoryLog, PublishError, PublishWithError, Sequencer, SequencerConfig, StoredEvent,
};
use atproto_firehose::{Frame, InfoMessage};

use crate::{Seen, account, events, open, ready};

/// The caller's "transaction": writes the events into the log the
/// sequencer reads (as a PDS inserts them into its events table).
fn commit_into(log: &MemoryLog, events: &[StoredEvent]) -> Result<(), String> {
    log.append(events).map_err(|e| e.to_string())
}

#[test]
fn a_failed_persist_publishes_nothing_and_the_seqs_are_reused() {
    let log = MemoryLog::default();
    let s = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    assert_eq!(s.publish(account(0)).unwrap(), 1);
    let mut live = s.subscribe(None).unwrap();
    let mut replay = s.subscribe(Some(0)).unwrap();

    let mut offered = Vec::new();
    let failed = s.publish_batch_with([account(1), account(2)], |events| {
        offered = events.iter().map(|e| e.seq).collect();
        Err("rolled back")
    });
    assert!(matches!(
        failed,
        Err(PublishWithError::Persist("rolled back"))
    ));
    assert_eq!(offered, [2, 3]);
    assert_eq!(s.last_seq(), 1);
    assert_eq!(s.live_buffer().events, 1);
    assert_eq!(ready(&mut live), open(vec![]));
    assert_eq!(ready(&mut replay), open(events(1, 1)));

    // The next publish gets seq 2 again, and only its events are seen.
    let seqs = s
        .publish_batch_with([account(3)], |events| commit_into(&log, events))
        .unwrap();
    assert_eq!(seqs, [2]);
    assert_eq!(ready(&mut live), open(events(2, 2)));
    assert_eq!(ready(&mut replay), open(events(2, 2)));
    let frame = Frame::decode(&log.read_after(1, 10).unwrap()[0].frame).unwrap();
    let Frame::Account(m) = frame else {
        panic!("not #account")
    };
    assert_eq!((m.seq, m.did.as_str()), (2, "did:plc:account3"));
}

#[test]
fn a_successful_persist_is_visible_and_the_log_append_is_not_called() {
    let log = MemoryLog::default();
    let s = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    let mut live = s.subscribe(None).unwrap();
    let seqs = s
        .publish_batch_with([account(0), account(1), account(2)], |events| {
            assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
            Ok::<_, String>(())
        })
        .unwrap();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(s.last_seq(), 3);
    assert_eq!(ready(&mut live), open(events(1, 3)));
    // The sequencer left storing to the caller: here it stored nothing.
    assert!(log.is_empty());
    assert_eq!(s.publish(account(3)).unwrap(), 4);
    assert_eq!(log.len(), 1);
}

#[test]
fn a_batch_that_cannot_be_sequenced_never_reaches_persist() {
    let s = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    let info = Frame::Info(InfoMessage {
        name: "x".into(),
        message: None,
        extra: Default::default(),
    });
    let mut called = false;
    let r = s.publish_batch_with([account(0), info], |_| {
        called = true;
        Ok::<_, String>(())
    });
    assert!(matches!(
        r,
        Err(PublishWithError::Publish(PublishError::NotAnEvent {
            index: 1,
            ..
        }))
    ));
    assert!(!called);
    assert_eq!(s.publish(account(0)).unwrap(), 1);

    // An empty batch still calls persist, so a caller may commit there.
    let mut empty_called = false;
    let seqs = s
        .publish_batch_with(Vec::<Frame>::new(), |events| {
            empty_called = events.is_empty();
            Ok::<_, String>(())
        })
        .unwrap();
    assert!(seqs.is_empty() && empty_called);

    s.shutdown();
    assert!(matches!(
        s.publish_batch_with([account(1)], |_| Ok::<_, String>(())),
        Err(PublishWithError::Publish(PublishError::ShutDown))
    ));
}

#[test]
fn concurrent_publishers_persist_in_seq_order_and_failures_leave_no_gap() {
    let log = MemoryLog::default();
    let s = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    let mut sub = s.subscribe(Some(0)).unwrap();
    // The order persist was called in, across every thread.
    let persisted = Arc::new(Mutex::new(Vec::<i64>::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (s, log, persisted) = (s.clone(), log.clone(), Arc::clone(&persisted));
            thread::spawn(move || {
                let mut ok = 0;
                for i in 0..50 {
                    let fail = (t + i) % 5 == 0;
                    let r = s.publish_batch_with([account(i), account(i + 1)], |events| {
                        if fail {
                            return Err("rolled back".to_string());
                        }
                        commit_into(&log, events)?;
                        persisted
                            .lock()
                            .unwrap()
                            .extend(events.iter().map(|e| e.seq));
                        Ok(())
                    });
                    match r {
                        Ok(seqs) => {
                            assert_eq!(seqs.len(), 2);
                            ok += 1;
                        }
                        Err(PublishWithError::Persist(_)) if fail => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let committed: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let want: Vec<i64> = (1..=committed * 2).collect();
    assert_eq!(*persisted.lock().unwrap(), want);
    assert_eq!(s.last_seq(), committed * 2);
    let seen: Vec<Seen> = ready(&mut sub).frames;
    assert_eq!(seen, events(1, committed * 2));
    assert_eq!(log.len() as i64, committed * 2);
}
