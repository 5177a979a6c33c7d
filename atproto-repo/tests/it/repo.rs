//! Repository tests: writes, export, verify_car, malformed CARs.

use atproto_core::Cid;
use atproto_core::crypto::{Curve, Keypair};
use atproto_core::data::{Value, cbor};
use atproto_core::syntax::{Did, Nsid, RecordKey, Tid};
use atproto_repo::car::{CarReader, CarWriter, load_car};
use atproto_repo::commit::{CommitError, SignatureCheck, UnsignedCommit};

use super::commit::tampered_signatures;
use atproto_repo::mst::{EntryData, MstError, NodeData, key_height};
use atproto_repo::repo::{
    RecordValue, RecordWrite, Repo, RepoError, verify_car, verify_car_unsigned,
};
use atproto_repo::{BlockStore, MemoryBlockStore, RecordPath};

use super::mst::p;
use bytes::Bytes;

const NOW: u64 = 1_750_000_000_000_000;

fn key() -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[7; 32]).unwrap()
}

fn did() -> Did {
    "did:plc:7iza6de2dwap2sbkpav7c6c6".parse().unwrap()
}

fn post(text: &str) -> Value {
    let mut m = std::collections::BTreeMap::new();
    m.insert("$type".into(), Value::String("app.bsky.feed.post".into()));
    m.insert("text".into(), Value::String(text.into()));
    Value::Map(m)
}

fn rkey(i: u64) -> RecordKey {
    RecordKey::try_from(Tid::from_u64((1_700_000_000_000_000 + i * 1000) << 10).as_str()).unwrap()
}

fn coll(c: &str) -> Nsid {
    c.parse().unwrap()
}

fn create(c: &str, i: u64, text: &str) -> RecordWrite {
    RecordWrite::Create {
        collection: coll(c),
        rkey: rkey(i),
        value: RecordValue::Value(post(text)),
    }
}

fn sample(n: u64) -> (Repo<MemoryBlockStore>, Vec<RecordWrite>) {
    let writes: Vec<RecordWrite> = (0..n)
        .map(|i| {
            let c = if i % 3 == 0 {
                "app.bsky.feed.like"
            } else {
                "app.bsky.feed.post"
            };
            create(c, i, &format!("post {i}"))
        })
        .collect();
    let (repo, _) = Repo::create_at(MemoryBlockStore::new(), did(), &key(), &writes, NOW).unwrap();
    (repo, writes)
}

#[test]
fn create_export_verify_round_trip() {
    let (mut repo, _) = sample(300);
    let car = Bytes::from(repo.export_car(Vec::new()).unwrap());
    let pk = key().public_key();
    let v = verify_car(car.clone(), Some(&did()), &pk).unwrap();
    assert_eq!(v.commit_cid, repo.commit_cid());
    assert_eq!(v.commit, *repo.commit());
    assert_eq!(v.data_root(), repo.data_root());
    let records: Vec<(RecordPath, Cid)> = repo.records().map(Result::unwrap).collect();
    assert_eq!(listing(&v), records);
    assert_eq!(records.len(), 300);
    assert_eq!(v.record_count(), 300);
    assert_eq!(v.records().len(), 300);
    // Lookup by path gives the record's block.
    for (path, cid) in &records {
        let (found, bytes) = v.get(path).unwrap();
        assert_eq!(found, *cid);
        assert_eq!(atproto_core::data::dag_cbor_cid(&bytes), *cid);
    }
    assert!(v.get(&p("app.bsky.feed.post/zzzzzzzzzzzzz")).is_none());
    assert!(v.get(&p("a/a")).is_none());
    // The repository's own reads by path agree.
    for (path, cid) in records.iter().step_by(37) {
        assert_eq!(repo.get_path(path).unwrap().unwrap().0, *cid);
        let typed = repo
            .get_record(
                &path.collection_nsid().unwrap(),
                &path.record_key().unwrap(),
            )
            .unwrap();
        assert_eq!(typed.unwrap().0, *cid);
    }
    assert_eq!(repo.get_path(&p("app.bsky.feed.post/zzz")).unwrap(), None);
    assert_eq!(v.records().next_back().unwrap().0, records[299].0);
    assert_eq!(v.block_count, 1 + v.node_count + 300);

    // Streamable order: commit first, then the root node.
    let mut r = CarReader::new(car.clone()).unwrap();
    assert_eq!(r.next_block().unwrap().unwrap().0, repo.commit_cid());
    assert_eq!(r.next_block().unwrap().unwrap().0, repo.data_root());

    // Wrong key, wrong DID.
    let other = Keypair::from_private_bytes(Curve::K256, &[8; 32]).unwrap();
    assert!(matches!(
        verify_car(car.clone(), None, &other.public_key()),
        Err(RepoError::Commit(_))
    ));
    let wrong: Did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
    assert!(matches!(
        verify_car_unsigned(car.clone(), Some(&wrong)),
        Err(RepoError::WrongDid { .. })
    ));

    // Any block order verifies (reversed sections).
    let loaded = load_car(car.clone(), Default::default()).unwrap();
    let mut w = CarWriter::new(Vec::new(), &loaded.roots).unwrap();
    for (c, b) in loaded.blocks.iter().rev() {
        w.write_block(c, b).unwrap();
    }
    let v2 = verify_car(Bytes::from(w.finish()), None, &pk).unwrap();
    assert_eq!(listing(&v2), listing(&v));

    // from_car gives a working repository.
    let (loaded, _) = Repo::from_car(car, Some(&did()), &pk).unwrap();
    assert_eq!(loaded.data_root(), repo.data_root());
    let (cid, block) = loaded
        .get_record(&coll("app.bsky.feed.post"), &rkey(1))
        .unwrap()
        .unwrap();
    assert_eq!(cbor::decode(&block).unwrap(), post("post 1"));
    assert_eq!(atproto_core::data::dag_cbor_cid(&block), cid);
}

#[test]
fn reads_and_paging() {
    let (repo, _) = sample(30);
    let likes = coll("app.bsky.feed.like");
    let page1 = repo.list_records(&likes, None, 4).unwrap();
    assert_eq!(page1.len(), 4);
    let cursor = page1[3].0.record_key().unwrap();
    let page2 = repo.list_records(&likes, Some(&cursor), 100).unwrap();
    assert_eq!(page1.len() + page2.len(), 10);
    assert!(page2.iter().all(|(k, _, _)| *k > page1[3].0));
    // Every record listed is the collection's, with its block.
    for (path, cid, block) in page1.iter().chain(&page2) {
        assert_eq!(path.collection(), "app.bsky.feed.like");
        assert_eq!(atproto_core::data::dag_cbor_cid(block), *cid);
    }
    // Pages of one record walk the collection in order.
    let mut seen = Vec::new();
    let mut cursor: Option<RecordKey> = None;
    while let Some((path, _, _)) = repo.list_records(&likes, cursor.as_ref(), 1).unwrap().pop() {
        cursor = Some(path.record_key().unwrap());
        seen.push(path);
    }
    let all: Vec<RecordPath> = page1.iter().chain(&page2).map(|r| r.0.clone()).collect();
    assert_eq!(seen, all);
    // A collection the repository does not hold, and one that is a prefix
    // of a held one, list nothing.
    assert!(
        repo.list_records(&coll("app.bsky.feed.repost"), None, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        repo.list_records(&coll("app.bsky.feed.lik"), None, 10)
            .unwrap()
            .is_empty()
    );
    assert!(repo.get_record(&likes, &rkey(1)).unwrap().is_none());
    assert!(repo.get_record(&likes, &rkey(0)).unwrap().is_some());
    assert_eq!(repo.did(), &did());
}

#[test]
fn writes_are_atomic_and_checked() {
    let (mut repo, _) = sample(20);
    let before = (repo.commit_cid(), repo.data_root(), repo.rev());
    let k = key();
    let posts = coll("app.bsky.feed.post");
    type Case = (Vec<RecordWrite>, fn(&RepoError) -> bool);
    let bad_batches: Vec<Case> = vec![
        (
            vec![
                create("app.bsky.feed.post", 100, "ok"),
                create("app.bsky.feed.post", 1, "taken"),
            ],
            |e| matches!(e, RepoError::RecordExists { .. }),
        ),
        (
            vec![
                create("app.bsky.feed.post", 101, "ok"),
                RecordWrite::Delete {
                    collection: posts.clone(),
                    rkey: rkey(999),
                },
            ],
            |e| matches!(e, RepoError::RecordNotFound { .. }),
        ),
        (
            vec![RecordWrite::Update {
                collection: posts.clone(),
                rkey: rkey(998),
                value: RecordValue::Value(post("x")),
            }],
            |e| matches!(e, RepoError::RecordNotFound { .. }),
        ),
        (
            vec![
                create("app.bsky.feed.post", 102, "a"),
                create("app.bsky.feed.post", 102, "b"),
            ],
            |e| matches!(e, RepoError::DuplicatePath { .. }),
        ),
        (
            vec![RecordWrite::Create {
                collection: posts.clone(),
                rkey: rkey(103),
                value: RecordValue::Cbor(Bytes::from_static(b"\xa1\x61a\xfb\0\0\0\0\0\0\0\0")),
            }],
            |e| matches!(e, RepoError::InvalidRecord { .. }),
        ),
        (
            vec![RecordWrite::Create {
                collection: posts.clone(),
                rkey: rkey(104),
                value: RecordValue::Cbor(Bytes::from_static(b"\x01")),
            }],
            |e| matches!(e, RepoError::InvalidRecord { .. }),
        ),
    ];
    for (batch, want) in bad_batches {
        let err = repo.apply_writes_at(&batch, &k, NOW + 5).unwrap_err();
        // Path errors name the path of the failing write.
        match &err {
            RepoError::RecordExists { path }
            | RepoError::RecordNotFound { path }
            | RepoError::DuplicatePath { path }
            | RepoError::InvalidRecord {
                path: Some(path), ..
            } => {
                assert!(batch.iter().any(|w| w.path() == *path), "{err}");
                assert!(err.to_string().contains(path.as_str()), "{err}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(want(&err), "{err:?}");
        assert_eq!((repo.commit_cid(), repo.data_root(), repo.rev()), before);
        let mut repo2 = repo.clone();
        repo2.apply_writes_at(&[], &k, NOW + 6).unwrap();
    }

    // A good batch: create, update, delete; typed records work too.
    #[derive(serde::Serialize)]
    struct Like<'a> {
        #[serde(rename = "$type")]
        ty: &'a str,
        text: &'a str,
    }
    let typed = RecordValue::serialize(&Like {
        ty: "app.bsky.feed.post",
        text: "typed",
    })
    .unwrap();
    let batch = vec![
        RecordWrite::Create {
            collection: posts.clone(),
            rkey: rkey(200),
            value: typed,
        },
        RecordWrite::Update {
            collection: posts.clone(),
            rkey: rkey(1),
            value: RecordValue::Value(post("new")),
        },
        RecordWrite::Delete {
            collection: posts.clone(),
            rkey: rkey(2),
        },
    ];
    let data = repo.apply_writes_at(&batch, &k, NOW - 10).unwrap();
    assert!(
        data.rev > before.2,
        "rev is monotonic even when the clock goes back"
    );
    assert_eq!(data.since, Some(before.2));
    assert_eq!(data.prev_data, Some(before.1));
    assert_eq!(data.commit.prev, Some(before.0));
    assert_eq!(data.ops.len(), 3);
    assert_eq!(data.ops[2].cid, None);
    assert!(data.ops[1].prev.is_some() && data.ops[2].prev.is_some());
    for (c, b) in &data.blocks {
        assert_eq!(repo.store().get(c).unwrap().as_ref(), Some(b));
    }
    // Deleted values are not among the new blocks.
    let del_prev = data.ops[2].prev.unwrap();
    assert!(data.blocks.iter().all(|(c, _)| *c != del_prev));
    // Reopen lazily from the store.
    let reopened = Repo::open(repo.store().clone(), repo.commit_cid()).unwrap();
    assert_eq!(reopened.get_record(&posts, &rkey(2)).unwrap(), None);
    assert_eq!(
        cbor::decode(&reopened.get_record(&posts, &rkey(1)).unwrap().unwrap().1).unwrap(),
        post("new")
    );
}

#[test]
fn export_since_applies_on_top_of_an_older_export() {
    let (mut repo, _) = sample(200);
    let k = key();
    let old_car = repo.export_car(Vec::new()).unwrap();
    let old_rev = repo.rev();
    let posts = coll("app.bsky.feed.post");
    for round in 0..3u64 {
        let batch = vec![
            create("app.bsky.feed.post", 1000 + round, "later"),
            RecordWrite::Update {
                collection: posts.clone(),
                rkey: rkey(1 + round * 3),
                value: RecordValue::Value(post("upd")),
            },
            RecordWrite::Delete {
                collection: posts.clone(),
                rkey: rkey(2 + round * 3),
            },
        ];
        repo.apply_writes_at(&batch, &k, NOW + 1000 * (round + 1))
            .unwrap();
    }
    let diff = repo.export_car_since(old_rev, Vec::new()).unwrap();
    assert!(diff.len() < old_car.len() / 4);
    let mut store: MemoryBlockStore = load_car(Bytes::from(old_car), Default::default())
        .unwrap()
        .blocks
        .into_iter()
        .collect();
    let diff = load_car(Bytes::from(diff), Default::default()).unwrap();
    assert_eq!(diff.roots[0], repo.commit_cid());
    store.put_many(&mut diff.blocks.into_iter()).unwrap();
    // Everything is there: a full export from the combined store verifies.
    let mut combined = Repo::open(store, repo.commit_cid()).unwrap();
    let car = combined.export_car(Vec::new()).unwrap();
    let v = verify_car(Bytes::from(car), Some(&did()), &k.public_key()).unwrap();
    let records: Vec<(RecordPath, Cid)> = repo.records().map(Result::unwrap).collect();
    assert_eq!(listing(&v), records);
    // Since the current rev: just the commit.
    let none = repo.export_car_since(repo.rev(), Vec::new()).unwrap();
    assert_eq!(
        load_car(Bytes::from(none), Default::default())
            .unwrap()
            .blocks
            .len(),
        1
    );
    // Before the first commit: unknown.
    let early = Tid::from_u64(1 << 20);
    assert!(matches!(
        repo.export_car_since(early, Vec::new()),
        Err(RepoError::UnknownRev { .. })
    ));
}

/// Rewrites a CAR with `edit` applied to its (cid, block) list.
fn rewrite(
    car: &Bytes,
    roots: Option<Vec<Cid>>,
    edit: impl FnOnce(&mut Vec<(Cid, Bytes)>),
) -> Bytes {
    let mut r = CarReader::new(car.clone()).unwrap();
    let roots = roots.unwrap_or_else(|| r.roots().to_vec());
    let mut blocks = Vec::new();
    while let Some(b) = r.next_block().unwrap() {
        blocks.push(b);
    }
    edit(&mut blocks);
    let mut w = CarWriter::new(Vec::new(), &roots).unwrap();
    for (c, b) in &blocks {
        w.write_block(c, b).unwrap();
    }
    Bytes::from(w.finish())
}

#[test]
fn malformed_cars_are_rejected() {
    let (mut repo, _) = sample(60);
    let car = Bytes::from(repo.export_car(Vec::new()).unwrap());
    let data = repo.data_root();
    let records: Vec<(RecordPath, Cid)> = repo.records().map(Result::unwrap).collect();
    let rec = records[7].1;

    // Missing MST node (the root).
    let bad = rewrite(&car, None, |b| b.retain(|(c, _)| *c != data));
    assert!(matches!(
        verify_car_unsigned(bad, None),
        Err(RepoError::Mst(MstError::MissingBlock { .. }))
    ));
    // Missing record.
    let bad = rewrite(&car, None, |b| b.retain(|(c, _)| *c != rec));
    let err = verify_car_unsigned(bad, None).unwrap_err();
    assert!(
        matches!(&err, RepoError::MissingRecord { path, .. } if *path == records[7].0),
        "{err}"
    );
    // Wrong root: the root names a record, not a commit.
    let bad = rewrite(&car, Some(vec![rec]), |_| {});
    assert!(matches!(
        verify_car_unsigned(bad, None),
        Err(RepoError::Commit(_))
    ));
    // A root that is absent.
    let absent = atproto_core::data::dag_cbor_cid(b"\xa0");
    let bad = rewrite(&car, Some(vec![absent]), |_| {});
    assert!(matches!(
        verify_car_unsigned(bad, None),
        Err(RepoError::MissingCommit { .. })
    ));
    // Truncated.
    let bad = car.slice(..car.len() - 10);
    assert!(matches!(verify_car_unsigned(bad, None), Err(RepoError::Car(e)) if e.is_truncated()));
    // Tampered record bytes (hash mismatch): flip the last byte of a block.
    let mut tampered = car.to_vec();
    let n = tampered.len();
    tampered[n - 1] ^= 1;
    assert!(
        matches!(verify_car_unsigned(Bytes::from(tampered), None), Err(RepoError::Car(e)) if e.is_hash_mismatch())
    );
    // A record that is not valid DAG-CBOR (well hashed).
    let junk = Bytes::from_static(b"\xa1\x61a\xf7");
    let junk_cid = atproto_core::data::dag_cbor_cid(&junk);
    let k = key();
    let mut mst = atproto_repo::Mst::new();
    let junk_path = p("app.bsky.feed.post/3jzfcijpj2z2a");
    mst.insert(&junk_path, junk_cid).unwrap();
    let root = mst.root_cid().unwrap();
    let mut blocks = MemoryBlockStore::new();
    mst.write_blocks(&mut blocks).unwrap();
    let commit = UnsignedCommit::new(did(), Tid::from_u64(1 << 40), root, None).sign(&k);
    let (ccid, cblock) = commit.to_block();
    let mut w = CarWriter::new(Vec::new(), &[ccid]).unwrap();
    w.write_block(&ccid, &cblock).unwrap();
    for (c, b) in blocks.iter() {
        w.write_block(c, b).unwrap();
    }
    w.write_block(&junk_cid, &junk).unwrap();
    assert!(matches!(
        verify_car_unsigned(Bytes::from(w.finish()), None),
        Err(RepoError::InvalidRecord { path: Some(path), .. }) if path == junk_path
    ));

    // Commit with a bad signature (signed by another key).
    let other = Keypair::from_private_bytes(Curve::K256, &[9; 32]).unwrap();
    let forged = repo.commit().unsigned().sign(&other);
    let (fcid, fblock) = forged.to_block();
    let bad = rewrite(&car, Some(vec![fcid]), |b| b[0] = (fcid, fblock));
    assert!(verify_car_unsigned(bad.clone(), None).is_ok());
    assert!(matches!(
        verify_car(bad, None, &k.public_key()),
        Err(RepoError::Commit(atproto_repo::CommitError::Signature(_)))
    ));
}

/// The keyed entry points check the signature and say so; the unsigned ones
/// say they did not; a wrong key or a tampered signature fails the keyed
/// ones even though everything else about the CAR is right.
#[test]
fn signature_is_checked_with_the_key_and_reported() {
    let (mut repo, _) = sample(40);
    let car = Bytes::from(repo.export_car(Vec::new()).unwrap());
    let pk = key().public_key();

    let v = verify_car(car.clone(), Some(&did()), &pk).unwrap();
    assert_eq!(v.signature, SignatureCheck::Verified);
    let (_, v) = Repo::from_car(car.clone(), Some(&did()), &pk).unwrap();
    assert_eq!(v.signature, SignatureCheck::Verified);
    let v = verify_car_unsigned(car.clone(), Some(&did())).unwrap();
    assert_eq!(v.signature, SignatureCheck::NotChecked);
    let (opened, v) = Repo::from_car_unsigned(car.clone(), None).unwrap();
    assert_eq!(v.signature, SignatureCheck::NotChecked);
    assert_eq!(opened.commit_cid(), repo.commit_cid());

    for wrong in [
        Keypair::from_private_bytes(Curve::K256, &[8; 32]).unwrap(),
        Keypair::from_private_bytes(Curve::P256, &[7; 32]).unwrap(),
    ] {
        let wrong = wrong.public_key();
        assert!(matches!(
            verify_car(car.clone(), Some(&did()), &wrong),
            Err(RepoError::Commit(CommitError::Signature(_)))
        ));
        assert!(matches!(
            Repo::from_car(car.clone(), None, &wrong),
            Err(RepoError::Commit(CommitError::Signature(_)))
        ));
    }

    // The commit re-encoded with a tampered signature, under its new CID.
    for tampered in tampered_signatures(repo.commit(), Curve::K256) {
        let (cid, block) = tampered.to_block();
        let bad = rewrite(&car, Some(vec![cid]), |b| b[0] = (cid, block));
        let v = verify_car_unsigned(bad.clone(), Some(&did())).unwrap();
        assert_eq!(v.signature, SignatureCheck::NotChecked);
        assert!(matches!(
            verify_car(bad.clone(), Some(&did()), &pk),
            Err(RepoError::Commit(CommitError::Signature(_)))
        ));
        assert!(Repo::from_car(bad, Some(&did()), &pk).is_err());
    }
}

#[test]
fn mst_node_at_the_wrong_depth_is_rejected() {
    // Two keys of height 0 placed in a root whose child is also layer 0:
    // hand-build a root at layer 1 pointing to a layer-1 key's node.
    let leaf = atproto_core::data::dag_cbor_cid(b"\xa1\x65$type\x61x");
    let k0: Vec<RecordPath> = (0..400)
        .map(|i| p(&format!("app.bsky.feed.post/k{i}")))
        .collect();
    let h0 = k0.iter().find(|k| key_height(k.as_bytes()) == 0).unwrap();
    let h1 = k0.iter().find(|k| key_height(k.as_bytes()) == 1).unwrap();
    let h1b = k0
        .iter()
        .filter(|k| key_height(k.as_bytes()) == 1)
        .nth(1)
        .unwrap();
    // Child holds a height-1 key but sits at layer 0 under a layer-1 root.
    let (lo, hi) = if h1 < h1b { (h1, h1b) } else { (h1b, h1) };
    let child = NodeData {
        left: None,
        entries: vec![EntryData {
            key: lo.clone(),
            value: leaf,
            right: None,
        }],
    };
    let root = NodeData {
        left: Some(child.cid()),
        entries: vec![EntryData {
            key: hi.clone(),
            value: leaf,
            right: None,
        }],
    };
    let _ = h0;
    let k = key();
    let commit = UnsignedCommit::new(did(), Tid::from_u64(1 << 40), root.cid(), None).sign(&k);
    let (ccid, cblock) = commit.to_block();
    let mut w = CarWriter::new(Vec::new(), &[ccid]).unwrap();
    w.write_block(&ccid, &cblock).unwrap();
    w.write_block(&root.cid(), &root.encode()).unwrap();
    w.write_block(&child.cid(), &child.encode()).unwrap();
    w.write_block(&leaf, b"\xa1\x65$type\x61x").unwrap();
    let err = verify_car_unsigned(Bytes::from(w.finish()), None).unwrap_err();
    assert!(
        matches!(err, RepoError::Mst(MstError::Structure { .. })),
        "{err:?}"
    );
}

/// A verified repository's records as owned pairs.
fn listing(v: &atproto_repo::repo::VerifiedRepo) -> Vec<(RecordPath, Cid)> {
    v.records().collect()
}
