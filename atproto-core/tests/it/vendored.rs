//! The vendored firehose capture is whole: its length-prefixed framing
//! splits into exactly the frames its summary counts. (Decoding and
//! validating the frames is the firehose crate's business.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atproto_core::varint;

use crate::interop;

#[test]
fn firehose_capture_frames_match_its_summary() {
    let dir = interop::firehose_dir();
    let frames = std::fs::read(dir.join("ref-pds-dev.frames")).expect("capture");
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("ref-pds-dev.summary.json")).expect("summary"),
    )
    .expect("summary JSON");
    let (mut at, mut count, mut largest) = (0usize, 0u64, 0u64);
    while at < frames.len() {
        let (len, used) = varint::decode(&frames[at..])
            .unwrap_or_else(|e| panic!("frame {count} at byte {at}: bad length prefix: {e}"));
        at += used;
        let end = at + usize::try_from(len).expect("length fits");
        assert!(
            end <= frames.len(),
            "frame {count} at byte {at} runs past the end"
        );
        // Every message is a DAG-CBOR header map followed by a body map.
        assert_eq!(
            frames[at] & 0xe0,
            0xa0,
            "frame {count} does not start with a map"
        );
        at = end;
        count += 1;
        largest = largest.max(len);
    }
    assert_eq!(count, summary["frames"].as_u64().expect("frames"));
    assert_eq!(
        frames.len() as u64,
        summary["bytes"].as_u64().expect("bytes")
    );
    assert_eq!(largest, summary["maxFrameBytes"].as_u64().expect("max"));
    let keys: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("ref-pds-dev-keys.json")).expect("keys"))
            .expect("keys JSON");
    assert_eq!(
        keys.len() as u64,
        summary["traffic"]["accounts"].as_u64().expect("accounts")
    );
    for (did, key) in &keys {
        assert!(did.starts_with("did:plc:"), "{did}");
        atproto_core::crypto::PublicKey::from_did_key(key.as_str().expect("did:key"))
            .unwrap_or_else(|e| panic!("{did}: {e}"));
    }
}
