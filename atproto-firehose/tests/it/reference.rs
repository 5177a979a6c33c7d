//! Every frame of the reference PDS capture decodes, its counts match the
//! capture's summary, and re-encoding gives the same bytes.

use std::collections::BTreeMap;

use atproto_firehose::{Action, CaptureReader, Frame};
use bytes::Bytes;

use crate::interop;

pub fn capture() -> Bytes {
    Bytes::from(std::fs::read(interop::firehose_dir().join("ref-pds-dev.frames")).expect("capture"))
}

fn summary() -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(interop::firehose_dir().join("ref-pds-dev.summary.json")).expect("summary"),
    )
    .expect("summary JSON")
}

fn bucket(n: usize) -> &'static str {
    match n {
        0 => "0",
        1 => "1",
        2..=10 => "2-10",
        11..=50 => "11-50",
        51..=200 => "51-200",
        _ => ">200",
    }
}

#[test]
fn every_frame_decodes_counts_match_and_reencodes_identically() {
    let data = capture();
    let (mut by_type, mut actions, mut per_commit) = (
        BTreeMap::<String, u64>::new(),
        BTreeMap::<&str, u64>::new(),
        BTreeMap::<&str, u64>::new(),
    );
    let (mut frames, mut with_prev_data, mut max_len) = (0u64, 0u64, 0usize);
    let (mut first_seq, mut last_seq) = (None, None);
    for record in CaptureReader::new(data.clone()) {
        let record = record.unwrap_or_else(|e| panic!("{e}"));
        frames += 1;
        max_len = max_len.max(record.message.len());
        *by_type
            .entry(record.frame.type_name().expect("no error frames").into())
            .or_default() += 1;
        let seq = record
            .frame
            .seq()
            .expect("every captured message has a seq");
        first_seq.get_or_insert(seq);
        if let Some(last) = last_seq {
            assert!(seq > last, "seq {seq} after {last}");
        }
        last_seq = Some(seq);
        if let Frame::Commit(c) = &record.frame {
            *per_commit.entry(bucket(c.ops.len())).or_default() += 1;
            with_prev_data += u64::from(c.prev_data.is_some());
            for op in &c.ops {
                *actions.entry(op.action.as_str()).or_default() += 1;
                assert_eq!(op.cid.is_none(), op.action == Action::Delete, "{op:?}");
                assert_eq!(op.prev.is_some(), op.action != Action::Create, "{op:?}");
            }
            // `blocks` is a slice of the capture's buffer, not a copy.
            let range = data.as_ptr_range();
            assert!(
                range.contains(&c.blocks.as_ptr()),
                "blocks copied at {}",
                record.offset
            );
            assert!(!c.blocks.is_empty());
        }
        assert_eq!(
            record.frame.encode(),
            record.message,
            "frame at byte {} re-encodes differently",
            record.offset
        );
    }
    let s = summary();
    assert_eq!(frames, s["frames"].as_u64().unwrap());
    let want = |v: &serde_json::Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    };
    assert_eq!(by_type, want(&s["byType"]));
    let to_owned = |m: BTreeMap<&str, u64>| -> BTreeMap<String, u64> {
        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    assert_eq!(to_owned(actions), want(&s["ops"]));
    assert_eq!(to_owned(per_commit), want(&s["opsPerCommit"]));
    assert_eq!(with_prev_data, s["withPrevData"].as_u64().unwrap());
    assert_eq!(first_seq, s["firstSeq"].as_i64());
    assert_eq!(last_seq, s["lastSeq"].as_i64());
    assert_eq!(max_len as u64, s["maxFrameBytes"].as_u64().unwrap());
}
