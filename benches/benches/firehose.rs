//! Scenario 6 of the shared workloads (the firehose) on the reference PDS
//! capture vendored in `testdata/firehose/` (2,228 frames, 2,198 `#commit`),
//! this project beside the peer Rust crates `jacquard-repo` and `rsky-repo`
//! in the same run, on one core:
//!
//! - **decode + hash**: decode every frame and check the SHA-256 of every
//!   block of every `#commit`'s CAR slice against its CID.
//! - **validate**: full sync v1.1 validation of every `#commit` (the frame,
//!   the CAR slice and its hashes, root = commit, did, the signature with the
//!   account's key, each op against the new tree, inversion to `prevData`).
//!
//! The validate workload is the 2,188 commits that carry `prevData`: an
//! account's first commit has none (nothing to invert to), and jacquard's
//! `validate_v1_1` refuses such a commit.
//!
//! Before anything is timed, every implementation must accept every commit
//! of the capture and give the same commit CIDs as ours: a fast wrong answer
//! is worthless.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench firehose`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use atproto_benches::require_all_same;
use atproto_core::Cid;
use atproto_core::crypto::PublicKey;
use atproto_firehose::{CaptureReader, Frame, Mode, Validator};
use atproto_repo::car::{CarLimits, CarReader};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rsky_repo::storage::readable_blockstore::ReadableBlockstore;
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;

const OURS: &str = "atproto-firehose";
const JACQUARD: &str = "jacquard-repo";
const RSKY: &str = "rsky-repo";

#[path = "../../atproto-core/tests/it/interop.rs"]
mod interop;

/// The capture: every message, and each account's did:key.
struct Capture {
    frames: Vec<Bytes>,
    /// The `#commit` frames that carry `prevData`.
    provable: Vec<Bytes>,
    commits: usize,
    keys: BTreeMap<String, String>,
}

fn capture() -> Capture {
    let dir = interop::firehose_dir();
    let data = std::fs::read(dir.join("ref-pds-dev.frames")).expect("capture file");
    let mut reader = CaptureReader::new(Bytes::from(data));
    let mut frames = Vec::new();
    while let Some(next) = reader.next_message() {
        frames.push(next.expect("capture framing").1);
    }
    let keys: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(dir.join("ref-pds-dev-keys.json")).expect("keys file"),
    )
    .expect("keys JSON");
    let commits = frames
        .iter()
        .filter(|f| matches!(Frame::decode(f), Ok(Frame::Commit(_))))
        .count();
    let provable = frames
        .iter()
        .filter(|f| matches!(Frame::decode(f), Ok(Frame::Commit(c)) if c.prev_data.is_some()))
        .cloned()
        .collect();
    Capture {
        frames,
        provable,
        commits,
        keys,
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

// ------------------------------------------------------------------ ours

/// Decodes a frame and checks every block hash of a commit's slice; returns
/// the commit CID (`None` for other frames).
fn ours_decode_hash(message: &Bytes) -> Option<String> {
    let Frame::Commit(commit) = Frame::decode(message).expect("decode") else {
        return None;
    };
    let car = CarReader::with_limits(commit.blocks.clone(), CarLimits::FIREHOSE).expect("car");
    black_box(car.into_blocks().expect("block hashes"));
    Some(commit.commit.to_string())
}

/// Full strict validation of one frame with a [`Validator`] (which carries
/// each account's rev/since/prevData chain from frame to frame); the commit
/// CID.
fn ours_validate(
    validator: &mut Validator,
    message: &Bytes,
    keys: &BTreeMap<String, PublicKey>,
    now: u64,
) -> Option<String> {
    let frame = Frame::decode(message).expect("decode");
    let outcome = validator.frame(&frame, keys, now).expect("store");
    let Frame::Commit(commit) = frame else {
        return None;
    };
    assert!(outcome.is_accepted(), "seq {}: {outcome:?}", commit.seq);
    Some(commit.commit.to_string())
}

fn now_micros() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    since.as_micros() as u64
}

// -------------------------------------------------------------- jacquard

type JacquardMessage = jacquard_api::com_atproto::sync::subscribe_repos::SubscribeReposMessage;

fn jacquard_decode_hash(rt: &Runtime, message: &[u8]) -> Option<String> {
    let JacquardMessage::Commit(commit) = JacquardMessage::decode_framed(message).expect("decode")
    else {
        return None;
    };
    let car = rt
        .block_on(jacquard_repo::car::parse_car_bytes(&commit.blocks))
        .expect("car");
    for (cid, bytes) in &car.blocks {
        assert_eq!(cid.hash().digest(), Sha256::digest(bytes).as_slice());
    }
    Some(commit.commit.to_string())
}

fn jacquard_validate(
    rt: &Runtime,
    message: &[u8],
    keys: &BTreeMap<String, jacquard_common::types::crypto::PublicKey<'static>>,
) -> Option<String> {
    let JacquardMessage::Commit(commit) = JacquardMessage::decode_framed(message).expect("decode")
    else {
        return None;
    };
    let key = &keys[commit.repo.as_str()];
    rt.block_on(jacquard_repo::commit::firehose::validate_v1_1(&commit, key))
        .expect("jacquard validates");
    Some(commit.commit.to_string())
}

// ------------------------------------------------------------------ rsky

/// A frame's body as rsky's lexicon type, decoded with the DAG-CBOR crate
/// rsky uses (`serde_ipld_dagcbor`), after skipping the header.
fn rsky_commit(message: &[u8]) -> Option<rsky_lexicon::com::atproto::sync::SubscribeReposCommit> {
    #[derive(serde::Deserialize)]
    struct Header {
        t: Option<String>,
    }
    let mut reader = std::io::Cursor::new(message);
    let header: Header = serde_ipld_dagcbor::de::from_reader_once(&mut reader).expect("header");
    if header.t.as_deref() != Some("#commit") {
        return None;
    }
    let used = reader.position() as usize;
    Some(serde_ipld_dagcbor::from_slice(&message[used..]).expect("rsky commit body"))
}

fn rsky_decode_hash(rt: &Runtime, message: &[u8]) -> Option<String> {
    let commit = rsky_commit(message)?;
    let car = rt
        .block_on(rsky_repo::car::read_car_with_root(commit.blocks))
        .expect("car");
    for (cid, bytes) in car.blocks.map.iter() {
        let cid: Cid = cid.parse().expect("cid");
        assert_eq!(cid.hash().digest(), Sha256::digest(&bytes.0).as_slice());
    }
    Some(commit.commit.to_string())
}

type RskyStorage = Arc<tokio::sync::RwLock<dyn rsky_repo::storage::types::RepoStorage>>;

/// rsky has no sync v1.1 verifier; the inversion composed from its public
/// pieces (as the repo bench's scenario 5 does it).
async fn rsky_validate(message: &[u8], keys: &BTreeMap<String, String>) -> Option<String> {
    let c = rsky_commit(message)?;
    let car = rsky_repo::car::read_car_with_root(c.blocks)
        .await
        .expect("car");
    let store = rsky_repo::storage::memory_blockstore::MemoryBlockstore::new(Some(car.blocks))
        .await
        .expect("store");
    let bytes = store
        .get_bytes(&car.root)
        .await
        .expect("get")
        .expect("commit block");
    let commit: rsky_repo::types::Commit = serde_ipld_dagcbor::from_slice(&bytes).expect("commit");
    assert_eq!(commit.did, c.repo);
    assert!(
        rsky_repo::util::verify_commit_sig(commit.clone(), &keys[&c.repo]).expect("sig"),
        "rsky: bad signature"
    );
    let storage: RskyStorage = Arc::new(tokio::sync::RwLock::new(store));
    let mut mst = rsky_repo::mst::MST::load(storage, commit.data, None).expect("mst");
    for op in &c.ops {
        assert_eq!(mst.get(&op.path).await.expect("get"), op.cid, "{}", op.path);
    }
    for op in c.ops.iter().rev() {
        mst = match (op.action.as_str(), op.prev) {
            ("create", None) => mst.delete(&op.path).await.expect("delete"),
            ("update", Some(prev)) => mst.update(&op.path, prev).await.expect("update"),
            ("delete", Some(prev)) => mst.add(&op.path, prev, None).await.expect("add"),
            other => panic!("rsky: malformed op {other:?}"),
        };
    }
    let root = mst.get_pointer().await.expect("root");
    assert_eq!(Some(root), c.prev_data, "rsky: inversion");
    Some(c.commit.to_string())
}

// --------------------------------------------------------------- benches

fn firehose(c: &mut Criterion) {
    let cap = capture();
    let ours_keys: BTreeMap<String, PublicKey> = cap
        .keys
        .iter()
        .map(|(did, key)| (did.clone(), PublicKey::from_did_key(key).expect("did:key")))
        .collect();
    let jacquard_keys: BTreeMap<_, _> = cap
        .keys
        .iter()
        .map(|(did, key)| {
            let multibase = key.strip_prefix("did:key:").expect("did:key");
            let key = jacquard_common::types::crypto::PublicKey::decode_owned(multibase)
                .expect("jacquard key");
            (did.clone(), key)
        })
        .collect();
    let rt = runtime();
    println!(
        "capture: {} frames, {} #commit ({} with prevData), {} accounts",
        cap.frames.len(),
        cap.commits,
        cap.provable.len(),
        cap.keys.len()
    );

    // The answers first: every commit CID, from every implementation.
    let ours: Vec<String> = cap.frames.iter().filter_map(ours_decode_hash).collect();
    assert_eq!(ours.len(), cap.commits);
    let theirs: Vec<String> = cap
        .frames
        .iter()
        .filter_map(|f| jacquard_decode_hash(&rt, f))
        .collect();
    require_all_same("decode + hash: commit CIDs", JACQUARD, &ours, &theirs);
    let theirs: Vec<String> = cap
        .frames
        .iter()
        .filter_map(|f| rsky_decode_hash(&rt, f))
        .collect();
    require_all_same("decode + hash: commit CIDs", RSKY, &ours, &theirs);

    let now = now_micros();
    let mut validator = Validator::in_memory(Mode::Strict);
    let ours: Vec<String> = cap
        .provable
        .iter()
        .filter_map(|f| ours_validate(&mut validator, f, &ours_keys, now))
        .collect();
    assert_eq!(ours.len(), cap.provable.len());
    println!(
        "validate: {OURS:<16} all {} commits valid (last {})",
        ours.len(),
        ours.last().expect("commits")
    );
    let theirs: Vec<String> = cap
        .provable
        .iter()
        .filter_map(|f| jacquard_validate(&rt, f, &jacquard_keys))
        .collect();
    require_all_same("validate: commit CIDs", JACQUARD, &ours, &theirs);
    let theirs: Vec<String> = cap
        .provable
        .iter()
        .filter_map(|f| rt.block_on(rsky_validate(f, &cap.keys)))
        .collect();
    require_all_same("validate: commit CIDs", RSKY, &ours, &theirs);

    let mut g = c.benchmark_group("firehose/decode_hash");
    g.throughput(Throughput::Elements(cap.frames.len() as u64));
    g.bench_function(OURS, |b| {
        b.iter(|| {
            for f in &cap.frames {
                black_box(ours_decode_hash(f));
            }
        })
    });
    g.bench_function(JACQUARD, |b| {
        b.iter(|| {
            for f in &cap.frames {
                black_box(jacquard_decode_hash(&rt, f));
            }
        })
    });
    g.bench_function(RSKY, |b| {
        b.iter(|| {
            for f in &cap.frames {
                black_box(rsky_decode_hash(&rt, f));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("firehose/validate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(cap.provable.len() as u64));
    g.bench_function(OURS, |b| {
        b.iter(|| {
            let mut validator = Validator::in_memory(Mode::Strict);
            for f in &cap.provable {
                black_box(ours_validate(&mut validator, f, &ours_keys, now));
            }
        })
    });
    g.bench_function(JACQUARD, |b| {
        b.iter(|| {
            for f in &cap.provable {
                black_box(jacquard_validate(&rt, f, &jacquard_keys));
            }
        })
    });
    g.bench_function(RSKY, |b| {
        b.iter(|| {
            for f in &cap.provable {
                black_box(rt.block_on(rsky_validate(f, &cap.keys)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, firehose);
criterion_main!(benches);
