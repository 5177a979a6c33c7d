//! MST tests: shared vectors, commit-proof fixtures, properties, malformed nodes.

use std::collections::{BTreeMap, BTreeSet};

use atproto_core::Cid;
use atproto_repo::mst::{
    DiffOp, EMPTY_TREE_ROOT, EntryData, MAX_NODE_ENTRIES, Mst, MstError, NodeData,
    common_prefix_len, key_height, node_cid, validate_key,
};
use atproto_repo::{BlockStore, MemoryBlockStore};
use bytes::Bytes;
use proptest::prelude::*;

use super::interop::{json, lines};

fn cid(s: &str) -> Cid {
    Cid::try_from(s).unwrap()
}

fn value(i: u32) -> Cid {
    node_cid(&i.to_be_bytes())
}

fn build<'a>(keys: impl IntoIterator<Item = &'a str>, v: Cid) -> Mst {
    let mut mst = Mst::new();
    for k in keys {
        assert_eq!(mst.insert(k, v).unwrap(), None, "{k}");
    }
    mst
}

#[test]
fn key_heights_vectors() {
    let cases = json("mst/key_heights.json");
    let cases = cases.as_array().unwrap();
    for case in cases {
        let key = case["key"].as_str().unwrap();
        let height = case["height"].as_u64().unwrap();
        assert_eq!(u64::from(key_height(key.as_bytes())), height, "{key:?}");
    }
    println!("mst/key_heights.json: {} cases", cases.len());
    assert_eq!(cases.len(), 9);
}

#[test]
fn common_prefix_vectors() {
    let cases = json("mst/common_prefix.json");
    let cases = cases.as_array().unwrap();
    for case in cases {
        let l = case["left"].as_str().unwrap();
        let r = case["right"].as_str().unwrap();
        let len = case["len"].as_u64().unwrap() as usize;
        assert_eq!(
            common_prefix_len(l.as_bytes(), r.as_bytes()),
            len,
            "{l:?} {r:?}"
        );
    }
    println!("mst/common_prefix.json: {} cases", cases.len());
    assert_eq!(cases.len(), 13);
}

#[test]
fn example_keys_heights() {
    let keys = lines("mst/example_keys.txt");
    for key in &keys {
        validate_key(key.as_bytes()).unwrap();
        let h = key.as_bytes()[1] - b'0';
        assert_eq!(key_height(key.as_bytes()), h, "{key}");
    }
    println!("mst/example_keys.txt: {} keys", keys.len());
    assert_eq!(keys.len(), 156);
}

#[test]
fn empty_tree_root() {
    let mut mst = Mst::new();
    assert_eq!(mst.root_cid().unwrap().to_string(), EMPTY_TREE_ROOT);
    assert_eq!(NodeData::default().cid().to_string(), EMPTY_TREE_ROOT);
    assert!(mst.is_empty());
    assert_eq!(mst.height(), 0);
    assert_eq!(mst.node_count().unwrap(), 1);
    // Emptied trees come back to the same root.
    mst.insert("com.example.record/3jqfcqzm3fo2j", value(1))
        .unwrap();
    mst.insert("app.bsky.feed.post/9adeb165882c", value(2))
        .unwrap();
    assert_eq!(mst.height(), 8);
    mst.remove("com.example.record/3jqfcqzm3fo2j").unwrap();
    mst.remove("app.bsky.feed.post/9adeb165882c").unwrap();
    assert_eq!(mst.root_cid().unwrap().to_string(), EMPTY_TREE_ROOT);
    assert_eq!(mst.height(), 0);
}

#[test]
fn commit_proof_fixtures() {
    let cases = json("firehose/commit-proof-fixtures.json");
    let cases = cases.as_array().unwrap();
    for case in cases {
        let comment = case["comment"].as_str().unwrap();
        let leaf = cid(case["leafValue"].as_str().unwrap());
        let strs = |f: &str| -> Vec<&str> {
            case[f]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect()
        };
        let keys = strs("keys");
        let mut mst = build(keys.iter().copied(), leaf);
        let before = mst.root_cid().unwrap();
        assert_eq!(
            before.to_string(),
            case["rootBeforeCommit"].as_str().unwrap(),
            "{comment}"
        );
        // Insertion order does not matter.
        let mut rev = build(keys.iter().rev().copied(), leaf);
        assert_eq!(rev.root_cid().unwrap(), before, "{comment} (reversed)");

        let mut store = MemoryBlockStore::new();
        mst.write_blocks(&mut store).unwrap();
        let old = Mst::load(store.clone(), before).unwrap();

        for k in strs("adds") {
            assert_eq!(mst.insert(k, leaf).unwrap(), None, "{comment}: add {k}");
        }
        for k in strs("dels") {
            assert_eq!(mst.remove(k).unwrap(), Some(leaf), "{comment}: del {k}");
        }
        let after = mst.root_cid().unwrap();
        assert_eq!(
            after.to_string(),
            case["rootAfterCommit"].as_str().unwrap(),
            "{comment}"
        );

        let mut post = MemoryBlockStore::new();
        assert_eq!(mst.write_all_blocks(&mut post).unwrap(), after);
        assert_eq!(post.len(), mst.node_count().unwrap());
        for c in strs("blocksInProof") {
            assert!(
                post.has(&cid(c)).unwrap(),
                "{comment}: proof block {c} not in the tree"
            );
        }

        // The same commit applied to the lazily loaded pre-commit tree.
        let mut lazy = Mst::load(store, before).unwrap();
        for k in strs("adds") {
            lazy.insert(k, leaf).unwrap();
        }
        for k in strs("dels") {
            lazy.remove(k).unwrap();
        }
        assert_eq!(lazy.root_cid().unwrap(), after, "{comment} (lazy)");

        // The diff is exactly the commit.
        let ops = old.diff(&mst).unwrap();
        let mut want: Vec<(String, bool)> = strs("adds")
            .into_iter()
            .map(|k| (k.to_owned(), true))
            .chain(strs("dels").into_iter().map(|k| (k.to_owned(), false)))
            .collect();
        want.sort();
        let got: Vec<(String, bool)> = ops
            .iter()
            .map(|op| (op.key().to_owned(), matches!(op, DiffOp::Create { .. })))
            .collect();
        assert_eq!(got, want, "{comment}: diff");
    }
    println!("firehose/commit-proof-fixtures.json: {} cases", cases.len());
    assert_eq!(cases.len(), 6);
}
