//! Sync v1.1 commit proofs: fixtures, production through the repository,
//! verification by inversion, and tampering.

use std::collections::BTreeSet;

use atproto_core::Cid;
use atproto_core::crypto::{Curve, Keypair};
use atproto_core::data::Value;
use atproto_core::syntax::{CidString, Did, Nsid, RecordKey, Tid};
use atproto_repo::car::CarReader;
use atproto_repo::commit::{CommitError, SignatureCheck, UnsignedCommit};

use super::commit::tampered_signatures;
use atproto_repo::mst::{EMPTY_TREE_ROOT, NodeData};
use atproto_repo::repo::{RecordValue, RecordWrite, Repo};
use atproto_repo::sync::{
    Op, OpAction, ProofCheck, ProofError, proof_nodes, verify_commit_proof,
    verify_commit_proof_unsigned, verify_sync_commit, write_car_slice,
};
use atproto_repo::{BlockStore, MemoryBlockStore, Mst, RecordPath};
use bytes::Bytes;
use proptest::prelude::*;

use super::interop::json;
use super::mst::p;

fn key() -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[7; 32]).unwrap()
}

fn did() -> Did {
    "did:plc:7iza6de2dwap2sbkpav7c6c6".parse().unwrap()
}

fn cid(s: &str) -> Cid {
    CidString::parse_cid(s).unwrap()
}

/// The slice's MST node CIDs (blocks that decode as nodes).
fn slice_nodes(slice: &Bytes) -> BTreeSet<Cid> {
    CarReader::new(slice.clone())
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, b)| NodeData::decode(b).is_ok())
        .map(|(c, _)| c)
        .collect()
}

#[test]
fn commit_proof_fixtures_through_the_pipeline() {
    let cases = json("firehose/commit-proof-fixtures.json");
    let k = key();
    let mut equal = 0;
    for case in cases.as_array().unwrap() {
        let comment = case["comment"].as_str().unwrap();
        let leaf = cid(case["leafValue"].as_str().unwrap());
        let strs = |f: &str| -> Vec<String> {
            case[f]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let paths = |f: &str| -> Vec<RecordPath> { strs(f).iter().map(|k| p(k)).collect() };
        // Fixture keys are not NSID paths, so the tree is driven directly;
        // the store holds the "before" tree and the new tree is loaded lazily.
        let mut mst = Mst::new();
        for key in paths("keys") {
            mst.insert(&key, leaf).unwrap();
        }
        let before = mst.root_cid().unwrap();
        assert_eq!(
            before.to_string(),
            case["rootBeforeCommit"].as_str().unwrap(),
            "{comment}"
        );
        let mut store = MemoryBlockStore::new();
        mst.write_blocks(&mut store).unwrap();
        let mut mst = Mst::load(store, before).unwrap();
        let mut ops = Vec::new();
        for a in paths("adds") {
            assert_eq!(mst.insert(&a, leaf).unwrap(), None);
            ops.push(Op::create(a, leaf));
        }
        for d in paths("dels") {
            assert_eq!(mst.remove(&d).unwrap(), Some(leaf));
            ops.push(Op::delete(d, leaf));
        }
        let after = mst.root_cid().unwrap();
        assert_eq!(
            after.to_string(),
            case["rootAfterCommit"].as_str().unwrap(),
            "{comment}"
        );

        let mut new_nodes = MemoryBlockStore::new();
        mst.write_blocks(&mut new_nodes).unwrap();
        let mut proof = MemoryBlockStore::new();
        assert_eq!(proof_nodes(&mut mst, &ops, &mut proof).unwrap(), after);
        let commit = UnsignedCommit::new(did(), Tid::from_u64(1 << 40), after, None).sign(&k);
        let (ccid, cblock) = commit.to_block();
        let mut blocks: Vec<(Cid, Bytes)> = vec![(ccid, cblock)];
        blocks.extend(new_nodes.iter().map(|(c, b)| (*c, b.clone())));
        blocks.extend(
            proof
                .iter()
                .filter(|(c, _)| !new_nodes.has(c).unwrap())
                .map(|(c, b)| (*c, b.clone())),
        );
        let slice = Bytes::from(
            write_car_slice(&ccid, blocks.iter().map(|(c, b)| (c, &b[..])), ops.len()).unwrap(),
        );

        let want: BTreeSet<Cid> = strs("blocksInProof").iter().map(|s| cid(s)).collect();
        let got = slice_nodes(&slice);
        assert!(
            want.is_subset(&got),
            "{comment}: blocksInProof ⊆ slice nodes"
        );
        if want == got {
            equal += 1;
        }
        let v = verify_commit_proof(slice.clone(), &ops, &before, &did(), &k.public_key()).unwrap();
        assert_eq!(v.commit.data, after);
        // Wrong prevData fails.
        assert!(matches!(
            verify_commit_proof_unsigned(slice, &ops, &after, &did()),
            Err(ProofError::RootMismatch { .. })
        ));
    }
    assert_eq!(
        equal, 6,
        "the slice's MST nodes equal blocksInProof in every case"
    );
}

fn post(text: &str) -> RecordValue {
    let mut m = std::collections::BTreeMap::new();
    m.insert("$type".into(), Value::String("app.bsky.feed.post".into()));
    m.insert("text".into(), Value::String(text.into()));
    RecordValue::Value(Value::Map(m))
}

fn rkey(i: u32) -> RecordKey {
    RecordKey::try_from(format!("r{i}").as_str()).unwrap()
}

fn coll() -> Nsid {
    "app.bsky.feed.post".parse().unwrap()
}

/// The nodes on the search path of `key` in the tree at `root` (root down
/// to the node that holds it or where it would go).
fn search_path(store: &MemoryBlockStore, root: Cid, key: &RecordPath, out: &mut BTreeSet<Cid>) {
    let mut at = Some(root);
    while let Some(c) = at {
        out.insert(c);
        let node = NodeData::decode(&store.get(&c).unwrap().unwrap()).unwrap();
        let i = node.entries.partition_point(|e| e.key < *key);
        if node.entries.get(i).is_some_and(|e| e.key == *key) {
            return;
        }
        at = if i == 0 {
            node.left
        } else {
            node.entries[i - 1].right
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn proofs_verify_and_tampering_fails(
        n in 1u32..120,
        creates in proptest::collection::btree_set(200u32..260, 0..5),
        updates in proptest::collection::btree_set(0u32..120, 0..4),
        deletes in proptest::collection::btree_set(0u32..120, 0..4),
    ) {
        let k = key();
        let writes: Vec<RecordWrite> = (0..n).map(|i| RecordWrite::Create { collection: coll(), rkey: rkey(i), value: post(&format!("p{i}")) }).collect();
        let (mut repo, _) = Repo::create_at(MemoryBlockStore::new(), did(), &k, &writes, 1_750_000_000_000_000).unwrap();
        let mut batch: Vec<RecordWrite> = creates.iter().map(|i| RecordWrite::Create { collection: coll(), rkey: rkey(*i), value: post("new") }).collect();
        batch.extend(updates.iter().filter(|i| **i < n).map(|i| RecordWrite::Update { collection: coll(), rkey: rkey(*i), value: post("upd") }));
        batch.extend(deletes.iter().filter(|i| **i < n && !updates.contains(i)).map(|i| RecordWrite::Delete { collection: coll(), rkey: rkey(*i) }));
        prop_assume!(!batch.is_empty());
        let data = repo.apply_writes_at(&batch, &k, 1_750_000_000_100_000).unwrap();
        let prev = data.prev_data.unwrap();
        let slice = Bytes::from(data.car_slice().unwrap());
        let pk = k.public_key();
        prop_assert!(verify_commit_proof(slice.clone(), &data.ops, &prev, &did(), &pk).is_ok());

        // Dropping any node on an op's search path fails; dropping any other
        // block never gives a wrong answer.
        let mut needed = BTreeSet::new();
        for op in &data.ops {
            search_path(repo.store(), data.data, &op.path, &mut needed);
        }
        let blocks: Vec<(Cid, Bytes)> = CarReader::new(slice.clone()).unwrap().map(Result::unwrap).collect();
        for (drop, _) in blocks.iter().skip(1) {
            let kept = blocks.iter().filter(|(c, _)| c != drop).map(|(c, b)| (c, &b[..]));
            let s = Bytes::from(write_car_slice(&data.cid, kept, data.ops.len()).unwrap());
            let res = verify_commit_proof(s, &data.ops, &prev, &did(), &pk);
            if needed.contains(drop) {
                prop_assert!(res.as_ref().is_err_and(ProofError::is_missing_block), "{:?}", res);
            }
        }
        assert!(matches!(
            verify_commit_proof_unsigned(blocks_without_commit(&blocks, &data.cid), &data.ops, &prev, &did()),
            Err(ProofError::MissingCommit { .. })
        ));

        // Altering any op, or prevData, fails.
        let other = atproto_core::data::dag_cbor_cid(b"\xa1\x61x\x01");
        for i in 0..data.ops.len() {
            let mut variants: Vec<Op> = Vec::new();
            let op = &data.ops[i];
            for action in [OpAction::Create, OpAction::Update, OpAction::Delete] {
                if action != op.action {
                    variants.push(Op { action, ..op.clone() });
                }
            }
            variants.push(Op { path: p(&format!("{}x", op.path)), ..op.clone() });
            variants.push(Op { cid: Some(other), ..op.clone() });
            variants.push(Op { cid: None, ..op.clone() });
            variants.push(Op { prev: Some(other), ..op.clone() });
            variants.push(Op { prev: None, ..op.clone() });
            for v in variants {
                if v == *op { continue; }
                let mut ops = data.ops.clone();
                ops[i] = v;
                prop_assert!(verify_commit_proof_unsigned(slice.clone(), &ops, &prev, &did()).is_err(), "{:?}", ops[i]);
            }
            // Dropping an op fails too.
            let mut ops = data.ops.clone();
            ops.remove(i);
            prop_assert!(verify_commit_proof_unsigned(slice.clone(), &ops, &prev, &did()).is_err());
        }
        let mut dup = data.ops.clone();
        dup.push(data.ops[0].clone());
        assert!(matches!(verify_commit_proof_unsigned(slice.clone(), &dup, &prev, &did()), Err(ProofError::DuplicatePath { path }) if path == data.ops[0].path));
        assert!(matches!(verify_commit_proof_unsigned(slice.clone(), &data.ops, &data.data, &did()), Err(ProofError::RootMismatch { .. })));
        let wrong: Did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
        assert!(matches!(verify_commit_proof_unsigned(slice.clone(), &data.ops, &prev, &wrong), Err(ProofError::WrongDid { .. })));
        let other_key = Keypair::from_private_bytes(Curve::K256, &[8; 32]).unwrap().public_key();
        assert!(matches!(verify_commit_proof(slice, &data.ops, &prev, &did(), &other_key), Err(ProofError::Commit(_))));
    }
}

/// As for `verify_car`: the keyed entry point checks the signature and says
/// so, the unsigned one says it did not, and a wrong key or a tampered
/// signature fails the keyed one on a slice that is otherwise right.
#[test]
fn commit_proof_signature_is_checked_with_the_key_and_reported() {
    let k = key();
    let writes = |range: core::ops::Range<u32>| -> Vec<RecordWrite> {
        range
            .map(|i| RecordWrite::Create {
                collection: coll(),
                rkey: rkey(i),
                value: post("x"),
            })
            .collect()
    };
    let now = 1_750_000_000_000_000;
    let (mut repo, _) =
        Repo::create_at(MemoryBlockStore::new(), did(), &k, &writes(0..20), now).unwrap();
    let data = repo
        .apply_writes_at(&writes(20..23), &k, now + 1000)
        .unwrap();
    let prev = data.prev_data.unwrap();
    let slice = Bytes::from(data.car_slice().unwrap());
    let pk = k.public_key();

    let v = verify_commit_proof(slice.clone(), &data.ops, &prev, &did(), &pk).unwrap();
    assert_eq!(v.signature, SignatureCheck::Verified);
    let v = verify_commit_proof_unsigned(slice.clone(), &data.ops, &prev, &did()).unwrap();
    assert_eq!(v.signature, SignatureCheck::NotChecked);
    let wrong = Keypair::from_private_bytes(Curve::P256, &[7; 32])
        .unwrap()
        .public_key();
    assert!(matches!(
        verify_commit_proof(slice.clone(), &data.ops, &prev, &did(), &wrong),
        Err(ProofError::Commit(CommitError::Signature(_)))
    ));

    let blocks: Vec<(Cid, Bytes)> = CarReader::new(slice).unwrap().map(Result::unwrap).collect();
    for tampered in tampered_signatures(&v.commit, Curve::K256) {
        let (cid, block) = tampered.to_block();
        let swapped: Vec<(Cid, Bytes)> = blocks
            .iter()
            .map(|(c, b)| {
                if *c == v.cid {
                    (cid, block.clone())
                } else {
                    (*c, b.clone())
                }
            })
            .collect();
        let bad = Bytes::from(
            write_car_slice(
                &cid,
                swapped.iter().map(|(c, b)| (c, &b[..])),
                data.ops.len(),
            )
            .unwrap(),
        );
        let unchecked =
            verify_commit_proof_unsigned(bad.clone(), &data.ops, &prev, &did()).unwrap();
        assert_eq!(unchecked.signature, SignatureCheck::NotChecked);
        assert!(matches!(
            verify_commit_proof(bad, &data.ops, &prev, &did(), &pk),
            Err(ProofError::Commit(CommitError::Signature(_)))
        ));
    }
}

fn blocks_without_commit(blocks: &[(Cid, Bytes)], commit: &Cid) -> Bytes {
    let kept = blocks
        .iter()
        .filter(|(c, _)| c != commit)
        .map(|(c, b)| (c, &b[..]));
    Bytes::from(write_car_slice(commit, kept, 0).unwrap())
}

#[test]
fn first_commit_inverts_to_the_empty_tree_and_limits_apply() {
    let k = key();
    let writes: Vec<RecordWrite> = (0..3)
        .map(|i| RecordWrite::Create {
            collection: coll(),
            rkey: rkey(i),
            value: post("x"),
        })
        .collect();
    let (mut repo, data) = Repo::create_at(
        MemoryBlockStore::new(),
        did(),
        &k,
        &writes,
        1_750_000_000_000_000,
    )
    .unwrap();
    assert_eq!(data.prev_data, None);
    let slice = Bytes::from(data.car_slice().unwrap());
    verify_commit_proof(
        slice,
        &data.ops,
        &cid(EMPTY_TREE_ROOT),
        &did(),
        &k.public_key(),
    )
    .unwrap();

    let big: Vec<RecordWrite> = (100..301)
        .map(|i| RecordWrite::Create {
            collection: coll(),
            rkey: rkey(i),
            value: post("x"),
        })
        .collect();
    let data = repo
        .apply_writes_at(&big, &k, 1_750_000_000_100_000)
        .unwrap();
    let err = data.car_slice().unwrap_err();
    assert!(err.is_too_big(), "{err:?}");
    let huge = "y".repeat(900_000);
    let big: Vec<RecordWrite> = (400..403)
        .map(|i| RecordWrite::Create {
            collection: coll(),
            rkey: rkey(i),
            value: post(&huge),
        })
        .collect();
    let data = repo
        .apply_writes_at(&big, &k, 1_750_000_000_200_000)
        .unwrap();
    assert!(matches!(
        data.car_slice(),
        Err(atproto_repo::SliceError::TooLarge { .. })
    ));
    let _ = OpAction::from_wire("create");
}

/// `ProofCheck`: record blocks required only when asked (each missing one
/// named), the inverted root reported when no `prevData` is given, and
/// `verify_sync_commit` on a slice that holds only the commit.
#[test]
fn proof_check_options_and_sync_commits() {
    let k = key();
    let pk = k.public_key();
    let now = 1_750_000_000_000_000;
    let writes = |range: core::ops::Range<u32>| -> Vec<RecordWrite> {
        range
            .map(|i| RecordWrite::Create {
                collection: coll(),
                rkey: rkey(i),
                value: post(&format!("r{i}")),
            })
            .collect()
    };
    let (mut repo, _) =
        Repo::create_at(MemoryBlockStore::new(), did(), &k, &writes(0..30), now).unwrap();
    let data = repo
        .apply_writes_at(&writes(30..33), &k, now + 1000)
        .unwrap();
    let prev = data.prev_data.unwrap();
    let slice = Bytes::from(data.car_slice().unwrap());
    let me = did();
    let full = ProofCheck::new(&me)
        .signed_by(&pk)
        .prev_data(&prev)
        .require_record_blocks();
    assert_eq!(
        full.verify(slice.clone(), &data.ops).unwrap().prev_data,
        prev
    );
    // Without prevData the inversion's root is reported.
    let v = ProofCheck::new(&did())
        .verify(slice.clone(), &data.ops)
        .unwrap();
    assert_eq!(
        (v.prev_data, v.signature),
        (prev, SignatureCheck::NotChecked)
    );

    let blocks: Vec<(Cid, Bytes)> = CarReader::new(slice.clone())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for op in &data.ops {
        let record = op.cid.unwrap();
        let kept = blocks
            .iter()
            .filter(|(c, _)| *c != record)
            .map(|(c, b)| (c, &b[..]));
        let s = Bytes::from(write_car_slice(&data.cid, kept, data.ops.len()).unwrap());
        // The inversion alone does not notice; the record check does.
        assert!(verify_commit_proof(s.clone(), &data.ops, &prev, &did(), &pk).is_ok());
        let e = full.verify(s, &data.ops).unwrap_err();
        assert!(e.is_missing_block());
        assert!(
            matches!(&e, ProofError::MissingRecord { path, cid } if *path == op.path && **cid == record),
            "{e}"
        );
    }

    // A #sync slice: the commit alone.
    let commit = blocks.iter().find(|(c, _)| *c == data.cid).unwrap();
    let sync = Bytes::from(write_car_slice(&data.cid, [(&commit.0, &commit.1[..])], 0).unwrap());
    let v = verify_sync_commit(sync.clone(), &did(), Some(&pk)).unwrap();
    assert_eq!(
        (v.cid, v.commit.data, v.signature),
        (data.cid, data.data, SignatureCheck::Verified)
    );
    assert_eq!(
        verify_sync_commit(sync.clone(), &did(), None)
            .unwrap()
            .signature,
        SignatureCheck::NotChecked
    );
    let wrong: Did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
    assert!(matches!(
        verify_sync_commit(sync.clone(), &wrong, Some(&pk)),
        Err(ProofError::WrongDid { .. })
    ));
    let other = Keypair::from_private_bytes(Curve::K256, &[8; 32])
        .unwrap()
        .public_key();
    assert!(matches!(
        verify_sync_commit(sync, &did(), Some(&other)),
        Err(ProofError::Commit(CommitError::Signature(_)))
    ));
    assert!(matches!(
        verify_sync_commit(blocks_without_commit(&blocks, &data.cid), &did(), Some(&pk)),
        Err(ProofError::MissingCommit { .. })
    ));
}
