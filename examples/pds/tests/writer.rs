//! The writer over a real database: concurrent writes from several
//! accounts in group-committed batches, the firehose in step with the
//! commits (validated in strict mode), per-request failures alone, and a
//! restart on the same data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use atproto_core::crypto::{Curve, Keypair, PublicKey};
use atproto_core::syntax::{Did, Handle, Nsid, RecordKey};
use atproto_firehose::Frame;
use atproto_firehose::validate::{Mode, Outcome, Validator};
use atproto_repo::{RecordPath, RecordValue, RecordWrite, RepoError};
use futures_util::StreamExt;
use pds::Storage;
use pds::writer::{NewAccount, SwapRecord, WriteError, WriteRequest, WriterConfig};

fn post(text: &str) -> RecordValue {
    RecordValue::serialize(&serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2024-01-01T00:00:00.000Z",
    }))
    .unwrap()
}

fn nsid() -> Nsid {
    "app.bsky.feed.post".parse().unwrap()
}

fn create(rkey: &str, text: &str) -> RecordWrite {
    RecordWrite::Create {
        collection: nsid(),
        rkey: rkey.parse::<RecordKey>().unwrap(),
        value: post(text),
    }
}

fn did_of(n: usize) -> Did {
    format!("did:plc:testaccount{n:010}").parse().unwrap()
}

/// Creates `n` accounts; returns their DIDs and public keys.
async fn accounts(storage: &Storage, n: usize) -> BTreeMap<Did, PublicKey> {
    let mut keys = BTreeMap::new();
    for i in 0..n {
        let key = Keypair::generate(Curve::K256);
        let did = did_of(i);
        let created = storage
            .writer
            .create_account(NewAccount {
                did: did.clone(),
                handle: format!("user{i}.test").parse::<Handle>().unwrap(),
                email: Some(format!("user{i}@example.test")),
                password_hash: None,
                signing_key: key.clone(),
            })
            .await
            .unwrap();
        assert_eq!(created.seqs.len(), 3);
        keys.insert(did, key.public_key());
    }
    keys
}

/// Every event from cursor 0 up to `last`, decoded.
async fn firehose(storage: &Storage, last: i64) -> Vec<Frame> {
    let mut sub = storage.writer.sequencer().subscribe(Some(0)).unwrap();
    let mut frames = Vec::new();
    while frames.len() < usize::try_from(last).unwrap() {
        let bytes = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("firehose stalled")
            .expect("firehose ended");
        frames.push(Frame::decode(&bytes).unwrap());
    }
    frames
}

/// Validates `frames` in order (strict mode): every `#commit` and `#sync`
/// accepted, nothing rejected; returns the seqs.
fn validate(frames: &[Frame], keys: &BTreeMap<Did, PublicKey>) -> Vec<i64> {
    let mut validator = Validator::in_memory(Mode::Strict);
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
        + 60_000_000;
    let mut seqs = Vec::new();
    for f in frames {
        let outcome = validator.frame(f, keys, now).unwrap();
        match f {
            Frame::Commit(_) | Frame::Sync(_) => {
                assert!(outcome.is_accepted(), "seq {:?}: {outcome:?}", f.seq())
            }
            _ => assert!(!matches!(outcome, Outcome::Rejected(_)), "{outcome:?}"),
        }
        seqs.push(f.seq().unwrap());
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_land_and_the_firehose_matches_them_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), WriterConfig::default()).unwrap();
    let keys = accounts(&storage, 4).await;

    // 4 accounts × 25 writes, all at once.
    let mut tasks = Vec::new();
    for a in 0..4 {
        for i in 0..25 {
            let writer = storage.writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .write(did_of(a), vec![create(&format!("p{i}"), "hello")], None)
                    .await
            }));
        }
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    let mut seqs: Vec<i64> = results.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (13..=112).collect::<Vec<_>>());
    assert!(
        results
            .iter()
            .all(|r| r.records.len() == 1 && r.records[0].cid.is_some())
    );
    assert!(
        results[0].records[0]
            .uri
            .starts_with("at://did:plc:testaccount")
    );

    let frames = firehose(&storage, 112).await;
    assert_eq!(validate(&frames, &keys), (1..=112).collect::<Vec<_>>());
    // Group commit: the 104 jobs ran in fewer transactions.
    let stats = storage.writer.stats();
    assert_eq!(stats.jobs, 104);
    assert!(stats.batches < stats.jobs, "{stats:?}");
    // Account creation: #identity, #account, #sync, in that order.
    assert!(matches!(
        (&frames[0], &frames[1], &frames[2]),
        (Frame::Identity(_), Frame::Account(_), Frame::Sync(_))
    ));

    // Each account's head is the last commit the firehose carried for it.
    let heads: BTreeMap<String, String> = storage.reads.with(|c| {
        let mut stmt = c.prepare("SELECT did, head_rev FROM account").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    });
    let mut last_rev = BTreeMap::new();
    for f in &frames {
        if let Frame::Commit(c) = f {
            last_rev.insert(c.repo.clone(), c.rev.clone());
        }
    }
    assert_eq!(heads, last_rev);
    let records: i64 = storage
        .reads
        .with(|c| c.query_row("SELECT count(*) FROM record", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(records, 100);

    // Restart on the same directory: the sequence and every head continue.
    storage.writer.sequencer().shutdown();
    drop(storage);
    let storage = Storage::open(dir.path(), WriterConfig::default()).unwrap();
    assert_eq!(storage.writer.sequencer().last_seq(), 112);
    for a in 0..4 {
        let r = storage
            .writer
            .write(did_of(a), vec![create("after-restart", "again")], None)
            .await
            .unwrap();
        assert_eq!(r.seq, 113 + i64::try_from(a).unwrap());
    }
    let frames = firehose(&storage, 116).await;
    assert_eq!(validate(&frames, &keys), (1..=116).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_request_in_a_batch_is_answered_alone() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), WriterConfig::default()).unwrap();
    let keys = accounts(&storage, 2).await;
    let first = storage
        .writer
        .write(did_of(0), vec![create("taken", "first")], None)
        .await
        .unwrap();

    // Many requests at once, so they share batches; some must fail.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let writer = storage.writer.clone();
        let req = match i % 4 {
            // A create on a taken path.
            0 => WriteRequest {
                did: did_of(0),
                writes: vec![create("taken", "again")],
                swap_commit: None,
                swap_records: vec![],
            },
            // A swapCommit that is stale.
            1 => WriteRequest {
                did: did_of(1),
                writes: vec![create(&format!("s{i}"), "x")],
                swap_commit: Some(first.commit),
                swap_records: vec![],
            },
            // A swapRecord that does not match.
            2 => WriteRequest {
                did: did_of(0),
                writes: vec![create(&format!("r{i}"), "x")],
                swap_commit: None,
                swap_records: vec![SwapRecord {
                    path: RecordPath::new(&nsid(), &"taken".parse().unwrap()),
                    expected: None,
                }],
            },
            _ => WriteRequest {
                did: did_of(i % 2),
                writes: vec![create(&format!("ok{i}"), "fine")],
                swap_commit: None,
                swap_records: vec![],
            },
        };
        tasks.push(tokio::spawn(async move { (i, writer.apply(req).await) }));
    }
    let mut ok = 0;
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match (i % 4, r) {
            (0, Err(WriteError::Repo(RepoError::RecordExists { .. }))) => {}
            (1 | 2, Err(WriteError::InvalidSwap(_))) => {}
            (3, Ok(_)) => ok += 1,
            (_, other) => panic!("request {i}: {other:?}"),
        }
    }
    assert_eq!(ok, 10);
    // Unknown account.
    let unknown = storage
        .writer
        .write(did_of(9), vec![create("a", "b")], None)
        .await;
    assert!(matches!(unknown, Err(WriteError::RepoNotFound(_))));
    // A handle taken.
    let taken = storage
        .writer
        .create_account(NewAccount {
            did: did_of(7),
            handle: "user0.test".parse().unwrap(),
            email: None,
            password_hash: None,
            signing_key: Keypair::generate(Curve::K256),
        })
        .await;
    assert!(matches!(taken, Err(WriteError::Taken { field: "handle" })));

    // Exactly the successful writes are on the firehose: 2 × 3 creation
    // events, the first write, 10 more; no gap.
    assert_eq!(storage.writer.sequencer().last_seq(), 17);
    let frames = firehose(&storage, 17).await;
    assert_eq!(validate(&frames, &keys), (1..=17).collect::<Vec<_>>());
    let commits = frames
        .iter()
        .filter(|f| matches!(f, Frame::Commit(_)))
        .count();
    assert_eq!(commits, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_answers_every_request_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), WriterConfig::default()).unwrap();
    let keys = accounts(&storage, 1).await;
    // Another connection takes the next seq, so the batch's event insert
    // fails and its transaction rolls back.
    let other = storage.db.connect(false).unwrap();
    other
        .execute(
            "INSERT INTO event (seq, sequenced_at_ms, did, frame) VALUES (4, 0, NULL, x'00')",
            [],
        )
        .unwrap();
    let mut sub = storage.writer.sequencer().subscribe(None).unwrap();
    let failed = storage
        .writer
        .write(did_of(0), vec![create("a", "lost")], None)
        .await;
    assert!(matches!(failed, Err(WriteError::Db(_))), "{failed:?}");
    assert_eq!(storage.writer.sequencer().last_seq(), 3);
    assert!(futures_util::FutureExt::now_or_never(sub.next()).is_none());
    let records: i64 = storage
        .reads
        .with(|c| c.query_row("SELECT count(*) FROM record", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(records, 0);

    // Once the seq is free again, the same seq is used and the repo goes on
    // from the head the failed write never moved.
    other
        .execute("DELETE FROM event WHERE seq = 4", [])
        .unwrap();
    let ok = storage
        .writer
        .write(did_of(0), vec![create("a", "kept")], None)
        .await
        .unwrap();
    assert_eq!(ok.seq, 4);
    let frames = firehose(&storage, 4).await;
    assert_eq!(validate(&frames, &keys), vec![1, 2, 3, 4]);
}
