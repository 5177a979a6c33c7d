//! Validation of the reference PDS capture: every commit validates in both
//! modes, the per-account state chain holds through the file, and the
//! helpers the defect tests share.

use std::collections::BTreeMap;

use atproto_core::Cid;
use atproto_core::crypto::{Curve, Keypair, PublicKey};
use atproto_core::syntax::{Did, Tid};
use atproto_firehose::{
    CaptureReader, CommitMessage, Frame, KeySource, MemoryAccountStore, Mode, Outcome, Validator,
};
use atproto_repo::CarReader;
use atproto_repo::commit::{Commit, UnsignedCommit};
use atproto_repo::sync::write_car_slice;
use bytes::Bytes;

use crate::interop;
use crate::reference::capture;

/// Each account's signing key, from the capture's key file.
pub fn keys() -> BTreeMap<String, PublicKey> {
    let text = std::fs::read(interop::firehose_dir().join("ref-pds-dev-keys.json")).expect("keys");
    let map: BTreeMap<String, String> = serde_json::from_slice(&text).expect("keys JSON");
    map.into_iter()
        .map(|(did, key)| (did, key.parse().expect("did:key")))
        .collect()
}

/// Every frame of the capture, decoded.
pub fn frames() -> Vec<Frame> {
    CaptureReader::new(capture())
        .map(|r| r.expect("frame").frame)
        .collect()
}

/// One minute after the newest rev of the capture: "now" for every test.
pub fn now(frames: &[Frame]) -> u64 {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Commit(c) => Some(c.rev.parse::<Tid>().unwrap().timestamp_micros()),
            _ => None,
        })
        .max()
        .unwrap()
        + 60_000_000
}

/// The frame through the codec: encoded, then decoded again.
pub fn reframe(frame: &Frame) -> Frame {
    Frame::decode(&Bytes::from(frame.encode())).expect("re-encoded frame decodes")
}

/// The `#commit` with this seq.
pub fn commit_at(frames: &[Frame], seq: i64) -> CommitMessage {
    frames
        .iter()
        .find_map(|f| match f {
            Frame::Commit(c) if c.seq == seq => Some(c.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no #commit at seq {seq}"))
}

/// The blocks of a CAR slice, in order, and its root.
pub fn blocks(slice: &Bytes) -> (Cid, Vec<(Cid, Bytes)>) {
    let reader = CarReader::new(slice.clone()).unwrap();
    let root = reader.roots()[0];
    (root, reader.map(Result::unwrap).collect())
}

/// A CAR slice with this root and these blocks.
pub fn car(root: &Cid, blocks: &[(Cid, Bytes)]) -> Bytes {
    Bytes::from(write_car_slice(root, blocks.iter().map(|(c, b)| (c, &b[..])), 0).unwrap())
}

/// The commit a `#commit` carries.
pub fn signed_commit(msg: &CommitMessage) -> Commit {
    let (root, blocks) = blocks(&msg.blocks);
    let block = &blocks.iter().find(|(c, _)| *c == root).unwrap().1;
    Commit::decode(block).unwrap()
}

/// `msg` with its commit changed by `edit` and signed by `key`: the new
/// commit block replaces the old one, `commit` and `rev` follow it.
pub fn resign(
    msg: &CommitMessage,
    key: &Keypair,
    edit: impl FnOnce(&mut UnsignedCommit),
) -> CommitMessage {
    let (root, old) = blocks(&msg.blocks);
    let mut unsigned = signed_commit(msg).unsigned();
    edit(&mut unsigned);
    let (cid, block) = unsigned.sign(key).to_block();
    let mut new = vec![(cid, block)];
    new.extend(old.into_iter().filter(|(c, _)| *c != root));
    let mut out = msg.clone();
    out.blocks = car(&cid, &new);
    out.commit = cid;
    out.rev = signed_commit(&out).rev.to_string();
    out
}

/// A key no account has.
pub fn stranger() -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[42; 32]).unwrap()
}

/// A key source with one key.
pub fn only(did: &str, key: PublicKey) -> BTreeMap<String, PublicKey> {
    BTreeMap::from([(did.to_owned(), key)])
}

/// Runs every frame through a fresh validator: each frame's seq and outcome.
pub fn run(mode: Mode, frames: &[Frame], keys: &impl KeySource, now: u64) -> Vec<(i64, Outcome)> {
    let mut v = Validator::in_memory(mode);
    frames
        .iter()
        .map(|f| (f.seq().unwrap(), v.frame(f, keys, now).unwrap()))
        .collect()
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Rejected(e) => format!("rejected: {e}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn every_commit_of_the_capture_validates_in_both_modes() {
    let frames = frames();
    let keys = keys();
    let now = now(&frames);
    for mode in [Mode::Strict, Mode::Lenient] {
        let mut v = Validator::in_memory(mode);
        let mut commits = 0;
        let mut last: BTreeMap<String, CommitMessage> = BTreeMap::new();
        for f in &frames {
            let outcome = v.frame(f, &keys, now).unwrap();
            let seq = f.seq().unwrap();
            assert!(
                matches!(&outcome, Outcome::Accepted { warnings } if warnings.is_empty()),
                "{mode:?}: seq {seq}: {}",
                describe(&outcome)
            );
            if let Frame::Commit(c) = f {
                commits += 1;
                last.insert(c.repo.clone(), c.clone());
            }
        }
        assert_eq!(commits, 2198);
        // The state chain: each account's state is its last commit.
        let store: &MemoryAccountStore = v.store();
        assert_eq!(store.len(), 10);
        for (did, state) in store.iter() {
            let c = &last[did.as_str()];
            let signed = signed_commit(c);
            assert_eq!(
                state.rev.map(|r| r.to_string()),
                Some(c.rev.clone()),
                "{did}"
            );
            assert_eq!(state.commit, Some(c.commit), "{did}");
            assert_eq!(state.data, Some(signed.data), "{did}");
            assert!(state.active && state.status.is_none() && !state.desynchronized);
            assert!(
                state
                    .handle
                    .as_deref()
                    .is_some_and(|h| h.ends_with(".test"))
            );
        }
    }
}

/// A consumer that starts mid-stream knows no account: commits with
/// `prevData` are checked by inversion alone, and the chain from there on.
#[test]
fn starting_mid_stream_accepts_unknown_accounts() {
    let frames = frames();
    let outcomes = run(Mode::Strict, &frames[1000..], &keys(), now(&frames));
    for (seq, o) in &outcomes {
        assert!(o.is_accepted(), "seq {seq}: {}", describe(o));
    }
}

/// An account's first commit (`since` null, no `prevData`) inverts to the
/// empty tree: a later commit dressed up as a first one does not.
#[test]
fn a_first_commit_must_invert_to_the_empty_tree() {
    let frames = frames();
    let keys = keys();
    let mut c = commit_at(&frames, 47); // the account's second record
    assert!(c.prev_data.is_some() && c.since.is_some() && c.ops.len() == 1);
    c.since = None;
    c.prev_data = None;
    for mode in [Mode::Strict, Mode::Lenient] {
        let mut v = Validator::in_memory(mode);
        let o = v
            .frame(&reframe(&Frame::Commit(c.clone())), &keys, now(&frames))
            .unwrap();
        assert!(
            matches!(
                o.rejection(),
                Some(atproto_firehose::ValidationError::Proof {
                    error: atproto_repo::ProofError::RootMismatch { .. },
                    ..
                })
            ),
            "{}",
            describe(&o)
        );
        assert!(v.store().is_empty(), "a rejected event stores nothing");
    }
    // The genuine first commits (seq 3, 7, …) are accepted by a fresh validator.
    let mut v = Validator::in_memory(Mode::Strict);
    let first = commit_at(&frames, 3);
    assert!(first.since.is_none() && first.prev_data.is_none());
    assert!(
        v.frame(&Frame::Commit(first), &keys, now(&frames))
            .unwrap()
            .is_accepted()
    );
}

/// The key is the caller's: a map keyed by `Did` works as well as one keyed
/// by text, and `Validator::commit` takes it as an argument.
#[test]
fn keys_by_did_and_by_argument() {
    let frames = frames();
    let by_did: BTreeMap<Did, PublicKey> = keys()
        .into_iter()
        .map(|(d, k)| (d.parse().unwrap(), k))
        .collect();
    let now = now(&frames);
    let outcomes = run(Mode::Strict, &frames[..200], &by_did, now);
    assert!(outcomes.iter().all(|(_, o)| o.is_accepted()));
    let c = commit_at(&frames, 3);
    let key = &keys()[&c.repo];
    let mut v = Validator::in_memory(Mode::Strict);
    assert!(v.commit(&c, key, now).unwrap().is_accepted());
}

/// A rough timing, not a benchmark (the criterion bench is the reference):
/// `cargo test --release -p atproto-firehose --test it -- --ignored --nocapture throughput`.
#[test]
#[ignore = "a timing; run in release"]
fn throughput() {
    let frames = frames();
    let (keys, now) = (keys(), now(&frames));
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let mut v = Validator::in_memory(Mode::Strict);
        for f in &frames {
            assert!(v.frame(f, &keys, now).unwrap().is_accepted());
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "full validation: {:.0} frames/s ({} frames, best of 5)",
        frames.len() as f64 / best,
        frames.len()
    );
}
