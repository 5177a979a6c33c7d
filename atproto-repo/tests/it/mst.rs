//! MST tests: shared vectors, commit-proof fixtures, properties, malformed nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, RangeFull};

use atproto_core::Cid;
use atproto_core::data::parse_cid;
use atproto_core::syntax::CidString;
use atproto_repo::mst::{
    DiffOp, EMPTY_TREE_ROOT, EntryData, MAX_NODE_ENTRIES, Mst, MstError, NodeData,
    common_prefix_len, key_height, node_cid,
};
use atproto_repo::{BlockStore, MemoryBlockStore, RecordPath};
use bytes::Bytes;
use proptest::prelude::*;

use super::interop::{json, lines};

fn cid(s: &str) -> Cid {
    CidString::parse_cid(s).unwrap()
}

fn value(i: u32) -> Cid {
    node_cid(&i.to_be_bytes())
}

pub(crate) fn p(s: &str) -> RecordPath {
    s.parse().unwrap()
}

fn paths<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> Vec<RecordPath> {
    keys.into_iter().map(|k| p(k.as_ref())).collect()
}

fn build<'a>(keys: impl IntoIterator<Item = &'a RecordPath>, v: Cid) -> Mst {
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
        assert!(RecordPath::is_valid(key), "{key}");
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
    let (a, b) = (
        p("com.example.record/3jqfcqzm3fo2j"),
        p("app.bsky.feed.post/9adeb165882c"),
    );
    mst.insert(&a, value(1)).unwrap();
    mst.insert(&b, value(2)).unwrap();
    assert_eq!(mst.height(), 8);
    mst.remove(&a).unwrap();
    mst.remove(&b).unwrap();
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
        // The fixtures' keys (`A0/374913`, ...) are valid paths though not
        // NSID collections: reading accepts them.
        let keys = paths(strs("keys"));
        let (adds, dels) = (paths(strs("adds")), paths(strs("dels")));
        let mut mst = build(&keys, leaf);
        let before = mst.root_cid().unwrap();
        assert_eq!(
            before.to_string(),
            case["rootBeforeCommit"].as_str().unwrap(),
            "{comment}"
        );
        // Insertion order does not matter.
        let mut rev = build(keys.iter().rev(), leaf);
        assert_eq!(rev.root_cid().unwrap(), before, "{comment} (reversed)");

        let mut store = MemoryBlockStore::new();
        mst.write_blocks(&mut store).unwrap();
        let old = Mst::load(store.clone(), before).unwrap();

        for k in &adds {
            assert_eq!(mst.insert(k, leaf).unwrap(), None, "{comment}: add {k}");
        }
        for k in &dels {
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

        // The covering proof of the operations is exactly the fixture's set,
        // from the in-memory tree and from a lazily loaded one.
        let ops: Vec<&RecordPath> = adds.iter().chain(&dels).collect();
        let want: BTreeSet<Cid> = strs("blocksInProof").into_iter().map(cid).collect();
        let mut proof = MemoryBlockStore::new();
        assert_eq!(mst.covering_proof(&ops, &mut proof).unwrap(), after);
        let got: BTreeSet<Cid> = proof.iter().map(|(c, _)| *c).collect();
        assert_eq!(got, want, "{comment}: covering proof");
        let mut lazy_after = Mst::load(post.clone(), after).unwrap();
        let mut proof = MemoryBlockStore::new();
        lazy_after.covering_proof(&ops, &mut proof).unwrap();
        for (c, b) in proof.iter() {
            assert_eq!(
                post.get(c).unwrap().as_ref(),
                Some(b),
                "{comment}: proof block bytes"
            );
        }
        assert_eq!(proof.iter().map(|(c, _)| *c).collect::<BTreeSet<_>>(), want);

        // Inversion: with only the proof blocks, undoing the operations
        // gives back the previous root.
        let mut inv = Mst::load(proof, after).unwrap();
        for k in &adds {
            assert_eq!(
                inv.remove(k).unwrap(),
                Some(leaf),
                "{comment}: invert add {k}"
            );
        }
        for k in &dels {
            assert_eq!(
                inv.insert(k, leaf).unwrap(),
                None,
                "{comment}: invert del {k}"
            );
        }
        assert_eq!(inv.root_cid().unwrap(), before, "{comment}: inverted root");

        // The same commit applied to the lazily loaded pre-commit tree.
        let mut lazy = Mst::load(store, before).unwrap();
        for k in &adds {
            lazy.insert(k, leaf).unwrap();
        }
        for k in &dels {
            lazy.remove(k).unwrap();
        }
        assert_eq!(lazy.root_cid().unwrap(), after, "{comment} (lazy)");

        // The diff is exactly the commit.
        let ops = old.diff(&mst).unwrap();
        let mut want: Vec<(RecordPath, bool)> = adds
            .iter()
            .map(|k| (k.clone(), true))
            .chain(dels.iter().map(|k| (k.clone(), false)))
            .collect();
        want.sort();
        let got: Vec<(RecordPath, bool)> = ops
            .iter()
            .map(|op| (op.key().clone(), matches!(op, DiffOp::Create { .. })))
            .collect();
        assert_eq!(got, want, "{comment}: diff");
        // The same against a root in the old tree's store.
        let mut both = old.store().clone();
        both.put_many(&mut post.iter().map(|(c, b)| (*c, b.clone())))
            .unwrap();
        let old_both = Mst::load(both, before).unwrap();
        assert_eq!(
            old_both.diff_root(after).unwrap(),
            ops,
            "{comment}: diff_root"
        );
        assert!(old_both.diff_root(before).unwrap().is_empty());
    }
    println!("firehose/commit-proof-fixtures.json: {} cases", cases.len());
    assert_eq!(cases.len(), 6);
}

fn keys_strategy(max: usize) -> impl Strategy<Value = BTreeSet<RecordPath>> {
    // Few collections and short rkeys, so keys share prefixes and collide.
    let key = (0..3u8, "[a-z0-9]{1,6}").prop_map(|(c, r)| {
        let coll = ["app.bsky.feed.post", "app.bsky.feed.like", "com.example.x"][c as usize];
        p(&format!("{coll}/{r}"))
    });
    proptest::collection::btree_set(key, 0..max)
}

fn reference_root(keys: &BTreeMap<RecordPath, Cid>) -> Cid {
    let mut mst = Mst::new();
    for (k, v) in keys {
        mst.insert(k, *v).unwrap();
    }
    mst.root_cid().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn root_depends_only_on_the_key_set(
        keys in keys_strategy(120),
        extra in keys_strategy(40),
        seed in any::<u64>(),
    ) {
        let target: BTreeMap<RecordPath, Cid> =
            keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i as u32))).collect();
        let want = reference_root(&target);
        // Insert the keys plus some extra ones in a shuffled order, hashing
        // along the way, then remove the extras in another order.
        let mut all: Vec<&RecordPath> = keys.iter().chain(extra.iter()).collect();
        let mut rng = seed;
        let mut shuffle = |v: &mut Vec<&RecordPath>| {
            for i in (1..v.len()).rev() {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                v.swap(i, (rng % (i as u64 + 1)) as usize);
            }
        };
        shuffle(&mut all);
        let mut mst = Mst::new();
        for (n, k) in all.iter().enumerate() {
            mst.insert(k, target.get(*k).copied().unwrap_or(value(9999))).unwrap();
            if n % 7 == 0 {
                mst.root_cid().unwrap();
            }
        }
        let mut extras: Vec<&RecordPath> = extra.iter().filter(|k| !target.contains_key(*k)).collect();
        shuffle(&mut extras);
        for (n, k) in extras.iter().enumerate() {
            prop_assert_eq!(mst.remove(k).unwrap(), Some(value(9999)));
            if n % 5 == 0 {
                mst.root_cid().unwrap();
            }
        }
        // Overlapping keys got a placeholder value first; set the real ones.
        for k in extra.iter().filter(|k| target.contains_key(*k)) {
            mst.insert(k, target[k]).unwrap();
        }
        prop_assert_eq!(mst.root_cid().unwrap(), want);
        let got: Vec<(RecordPath, Cid)> = mst.entries().unwrap();
        let expect: Vec<(RecordPath, Cid)> = target.into_iter().collect();
        prop_assert_eq!(got, expect);
    }

    #[test]
    fn diff_applied_yields_the_other_tree(
        a in keys_strategy(80),
        b in keys_strategy(80),
        hash_first in any::<bool>(),
    ) {
        let va: BTreeMap<RecordPath, Cid> = a.iter().map(|k| (k.clone(), value(k.len() as u32))).collect();
        let vb: BTreeMap<RecordPath, Cid> = b.iter().map(|k| (k.clone(), value(k.len() as u32 % 3))).collect();
        let mut ta = Mst::new();
        for (k, v) in &va { ta.insert(k, *v).unwrap(); }
        let mut tb = Mst::new();
        for (k, v) in &vb { tb.insert(k, *v).unwrap(); }
        if hash_first {
            ta.root_cid().unwrap();
            tb.root_cid().unwrap();
        }
        let ops = ta.diff(&tb).unwrap();
        let keys: Vec<&RecordPath> = ops.iter().map(DiffOp::key).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "diff not in key order");
        for op in &ops {
            match op {
                DiffOp::Create { key, cid } => prop_assert_eq!(ta.insert(key, *cid).unwrap(), None),
                DiffOp::Update { key, prev, cid } => prop_assert_eq!(ta.insert(key, *cid).unwrap(), Some(*prev)),
                DiffOp::Delete { key, prev } => prop_assert_eq!(ta.remove(key).unwrap(), Some(*prev)),
                _ => unreachable!(),
            }
        }
        prop_assert_eq!(ta.root_cid().unwrap(), tb.root_cid().unwrap());
        prop_assert!(ta.diff(&tb).unwrap().is_empty());
    }

    #[test]
    fn write_then_load_round_trips(keys in keys_strategy(150), edits in keys_strategy(20)) {
        let mut mst = Mst::new();
        for (i, k) in keys.iter().enumerate() { mst.insert(k, value(i as u32)).unwrap(); }
        let mut store = MemoryBlockStore::new();
        let root = mst.write_blocks(&mut store).unwrap();
        prop_assert_eq!(store.len(), mst.node_count().unwrap());
        let loaded = Mst::load(store.clone(), root).unwrap();
        prop_assert_eq!(loaded.entries().unwrap(), mst.entries().unwrap());
        prop_assert_eq!(loaded.height(), mst.height());
        prop_assert_eq!(loaded.node_count().unwrap(), mst.node_count().unwrap());
        for k in &keys { prop_assert_eq!(loaded.get(k).unwrap(), mst.get(k).unwrap()); }

        // Edits on the lazy tree match edits on the in-memory one, and only
        // the changed nodes are written.
        let mut lazy = Mst::load(store.clone(), root).unwrap();
        let mut lazy2 = Mst::load(store, root).unwrap();
        for (i, k) in edits.iter().enumerate() {
            if i % 2 == 0 {
                let want = mst.remove(k).unwrap();
                prop_assert_eq!(lazy.remove(k).unwrap(), want);
                prop_assert_eq!(lazy2.remove(k).unwrap(), want);
            } else {
                let want = mst.insert(k, value(7)).unwrap();
                prop_assert_eq!(lazy.insert(k, value(7)).unwrap(), want);
                prop_assert_eq!(lazy2.insert(k, value(7)).unwrap(), want);
            }
        }
        let want = mst.root_cid().unwrap();
        prop_assert_eq!(lazy.root_cid().unwrap(), want);
        // write_blocks gives only the new nodes; with them the old store
        // holds the new tree.
        let mut fresh = MemoryBlockStore::new();
        prop_assert_eq!(lazy.write_blocks(&mut fresh).unwrap(), want);
        prop_assert!(fresh.len() <= mst.node_count().unwrap());
        prop_assert_eq!(lazy.persist().unwrap(), want); // nothing left to write
        let mut store = lazy.into_store();
        store.put_many(&mut fresh.iter().map(|(c, b)| (*c, b.clone()))).unwrap();
        let reloaded = Mst::load(store, want).unwrap();
        prop_assert_eq!(reloaded.entries().unwrap(), mst.entries().unwrap());
        // persist writes into the tree's own store.
        prop_assert_eq!(lazy2.persist().unwrap(), want);
        let reloaded = Mst::load(lazy2.into_store(), want).unwrap();
        prop_assert_eq!(reloaded.entries().unwrap(), mst.entries().unwrap());
    }

    #[test]
    fn iteration_ranges_and_pages(keys in keys_strategy(150), probe in "[a-z0-9]{1,6}", limit in 1usize..20) {
        let mut mst = Mst::new();
        for (i, k) in keys.iter().enumerate() { mst.insert(k, value(i as u32)).unwrap(); }
        let all: Vec<RecordPath> = keys.iter().cloned().collect();
        let got: Vec<RecordPath> = mst.iter().map(|kv| kv.unwrap().0).collect();
        prop_assert_eq!(&got, &all);

        let start = p(&format!("app.bsky.feed.like/{probe}"));
        let end = p(&format!("app.bsky.feed.post/{probe}"));
        let got = |it: atproto_repo::mst::Iter<'_, MemoryBlockStore>| -> Vec<RecordPath> {
            it.map(|kv| kv.unwrap().0).collect()
        };
        let want = |keep: &dyn Fn(&RecordPath) -> bool| -> Vec<RecordPath> {
            all.iter().filter(|k| keep(k)).cloned().collect()
        };
        // Every kind of bound: start..end, start..=end, start.., ..end,
        // ..=end, (start, end] and ..; by reference or by value.
        prop_assert_eq!(got(mst.range(&start..&end)), want(&|k| *k >= start && *k < end));
        prop_assert_eq!(got(mst.range(start.clone()..end.clone())), want(&|k| *k >= start && *k < end));
        prop_assert_eq!(got(mst.range(&start..=&end)), want(&|k| *k >= start && *k <= end));
        prop_assert_eq!(got(mst.range(&start..)), want(&|k| *k >= start));
        prop_assert_eq!(got(mst.range(..&end)), want(&|k| *k < end));
        prop_assert_eq!(got(mst.range(..=&end)), want(&|k| *k <= end));
        let bounds = (Bound::Excluded(&start), Bound::Included(&end));
        prop_assert_eq!(got(mst.range(bounds)), want(&|k| *k > start && *k <= end));
        prop_assert_eq!(got(mst.range::<RangeFull>(..)), all.clone());
        // A key in the tree as both bounds.
        if let Some(k) = all.first() {
            prop_assert_eq!(got(mst.range(k..=k)), vec![k.clone()]);
            prop_assert!(got(mst.range(k..k)).is_empty());
        }

        let want: Vec<&RecordPath> = all.iter().filter(|k| k.collection() == "app.bsky.feed.post").collect();
        let got: Vec<RecordPath> = mst.list_prefix("app.bsky.feed.post").map(|kv| kv.unwrap().0).collect();
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), want);
        // A prefix of a collection is not that collection.
        prop_assert_eq!(mst.list_prefix("app.bsky.feed.pos").count(), 0);

        // Paging with a cursor visits every key once, in order, also lazily.
        let mut store = MemoryBlockStore::new();
        let root = mst.write_blocks(&mut store).unwrap();
        let lazy = Mst::load(store, root).unwrap();
        for tree_is_lazy in [false, true] {
            let mut seen = Vec::new();
            let mut cursor: Option<RecordPath> = None;
            loop {
                let page = if tree_is_lazy {
                    lazy.list(cursor.as_ref(), limit).unwrap()
                } else {
                    mst.list(cursor.as_ref(), limit).unwrap()
                };
                prop_assert!(page.len() <= limit);
                let Some(last) = page.last() else { break };
                cursor = Some(last.0.clone());
                seen.extend(page.into_iter().map(|(k, _)| k));
            }
            prop_assert_eq!(&seen, &all);
        }
        let after = p(&format!("app.bsky.feed.like/{probe}"));
        let want: Vec<&RecordPath> = all.iter().filter(|k| **k > after).take(limit).collect();
        let got: Vec<RecordPath> = lazy.list(Some(&after), limit).unwrap().into_iter().map(|(k, _)| k).collect();
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), want);
    }

    #[test]
    fn covering_proofs_allow_inversion(
        keys in keys_strategy(120),
        adds in keys_strategy(6),
        del_picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        let keys: Vec<RecordPath> = keys.into_iter().collect();
        let mut mst = Mst::new();
        for (i, k) in keys.iter().enumerate() { mst.insert(k, value(i as u32)).unwrap(); }
        let before = mst.root_cid().unwrap();
        let mut store = MemoryBlockStore::new();
        mst.write_blocks(&mut store).unwrap();
        let mut lazy = Mst::load(store, before).unwrap();

        let dels: BTreeSet<&RecordPath> = if keys.is_empty() {
            BTreeSet::new()
        } else {
            del_picks.iter().map(|ix| ix.get(&keys)).collect()
        };
        let adds: Vec<&RecordPath> = adds.iter().filter(|k| !keys.contains(k)).collect();
        let mut ops: Vec<(&RecordPath, Option<Cid>)> = Vec::new();
        for k in &adds {
            ops.push((k, lazy.insert(k, value(77)).unwrap()));
        }
        for k in &dels {
            ops.push((k, lazy.remove(k).unwrap()));
        }
        let after = lazy.root_cid().unwrap();
        let mut proof = MemoryBlockStore::new();
        // Owned paths and references both work.
        let op_keys: Vec<RecordPath> = ops.iter().map(|(k, _)| (*k).clone()).collect();
        prop_assert_eq!(lazy.covering_proof(&op_keys, &mut proof).unwrap(), after);
        let mut again = MemoryBlockStore::new();
        lazy.covering_proof(ops.iter().map(|(k, _)| *k), &mut again).unwrap();
        prop_assert_eq!(&again, &proof);

        // Invert, in either order, against the proof blocks alone.
        for reverse in [false, true] {
            let mut inv = Mst::load(proof.clone(), after).unwrap();
            let mut order: Vec<&(&RecordPath, Option<Cid>)> = ops.iter().collect();
            if reverse {
                order.reverse();
            }
            for (k, prev) in order {
                match prev {
                    None => prop_assert_eq!(inv.remove(k).unwrap(), Some(value(77))),
                    Some(v) => prop_assert_eq!(inv.insert(k, *v).unwrap(), None),
                }
            }
            prop_assert_eq!(inv.root_cid().unwrap(), before);
        }
    }

    #[test]
    fn node_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(node) = NodeData::decode(&bytes) {
            prop_assert_eq!(node.encode(), bytes);
        }
    }
}

#[test]
fn keys_of_every_length_and_cidv0_values() {
    let mut mst = Mst::new();
    let v = value(0);
    // The longest path, paths around the inline limit, and odd bytes.
    let keys = paths([
        format!("c/{}", "x".repeat(1022)),
        format!("c/{}", "y".repeat(43)),
        format!("c/{}", "y".repeat(44)),
        format!("c/{}", "y".repeat(45)),
        "a/b".to_owned(),
        "app.bsky.feed.post/3jzfcijpj2z2a".to_owned(),
        "c/~_-:.AZaz09".to_owned(),
    ]);
    for k in &keys {
        assert_eq!(mst.insert(k, v).unwrap(), None, "{k}");
    }
    let mut store = MemoryBlockStore::new();
    let root = mst.write_blocks(&mut store).unwrap();
    let loaded = Mst::load(store, root).unwrap();
    let mut sorted = keys.clone();
    sorted.sort();
    let got: Vec<RecordPath> = loaded.iter().map(|kv| kv.unwrap().0).collect();
    assert_eq!(got, sorted);
    for k in &keys {
        assert_eq!(loaded.get(k).unwrap(), Some(v), "{k}");
    }
    let err = mst
        .insert(&p("a/v0"), Cid::new_v0(*value(1).hash()).unwrap())
        .unwrap_err();
    assert!(matches!(err, MstError::UnsupportedCid { .. }), "{err}");
}

#[test]
fn insert_get_update_remove() {
    let mut mst = Mst::new();
    let keys = paths((0..500).map(|i| format!("com.example.record/{i:05}")));
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(mst.insert(k, value(i as u32)).unwrap(), None);
    }
    let r1 = mst.root_cid().unwrap();
    assert_eq!(mst.insert(&keys[7], value(7)).unwrap(), Some(value(7)));
    assert_eq!(mst.root_cid().unwrap(), r1, "same value, same root");
    assert_eq!(mst.insert(&keys[7], value(1000)).unwrap(), Some(value(7)));
    assert_ne!(mst.root_cid().unwrap(), r1);
    assert_eq!(mst.get(&keys[7]).unwrap(), Some(value(1000)));
    assert_eq!(mst.insert(&keys[7], value(7)).unwrap(), Some(value(1000)));
    assert_eq!(mst.root_cid().unwrap(), r1);
    let nope = p("com.example.record/nope");
    assert_eq!(mst.get(&nope).unwrap(), None);
    assert_eq!(mst.remove(&nope).unwrap(), None);
    assert_eq!(mst.root_cid().unwrap(), r1);
    for (i, k) in keys.iter().enumerate().rev() {
        assert_eq!(mst.remove(k).unwrap(), Some(value(i as u32)), "{k}");
        assert_eq!(mst.get(k).unwrap(), None);
    }
    assert_eq!(mst.root_cid().unwrap().to_string(), EMPTY_TREE_ROOT);
}

// ---- malformed nodes ----

fn leaf_node(keys: &[&str]) -> NodeData {
    NodeData {
        left: None,
        entries: keys
            .iter()
            .map(|k| EntryData {
                key: p(k),
                value: value(1),
                right: None,
            })
            .collect(),
    }
}

/// The bytes of a leaf node holding `keys` as given, valid or not, in the
/// encoder's form (for short keys and few entries: every length fits a
/// one-byte CBOR head).
fn raw_leaf(keys: &[&str]) -> Vec<u8> {
    let value = value(1).to_bytes();
    let mut out = vec![0xa2, 0x61, b'e', 0x80 | keys.len() as u8];
    let mut prev: &[u8] = &[];
    for k in keys {
        let k = k.as_bytes();
        let p = common_prefix_len(prev, k);
        out.extend([0xa4, 0x61, b'k', 0x40 | (k.len() - p) as u8]);
        out.extend(&k[p..]);
        out.extend([0x61, b'p', p as u8, 0x61, b't', 0xf6, 0x61, b'v']);
        out.extend([0xd8, 0x2a, 0x58, 1 + value.len() as u8, 0x00]);
        out.extend(&value);
        prev = k;
    }
    out.extend([0x61, b'l', 0xf6]);
    out
}

#[test]
fn raw_leaf_is_the_encoder_on_valid_keys() {
    for keys in [&H0[..], &["ab/c", "ab/d", "b/0"], &[]] {
        assert_eq!(raw_leaf(keys), leaf_node(keys).encode(), "{keys:?}");
    }
}

fn malformed(bytes: &[u8]) -> (usize, &'static str) {
    match NodeData::decode(bytes) {
        Err(MstError::MalformedNode { offset, reason, .. }) => (offset, reason),
        other => panic!("expected MalformedNode, got {other:?}"),
    }
}

/// Keys of height 0, in order.
const H0: [&str; 3] = ["A0/374913", "C0/451630", "E0/670489"];

#[test]
fn decoder_round_trips_and_rejects_non_canonical_bytes() {
    let node = leaf_node(&H0);
    let good = node.encode();
    assert_eq!(NodeData::decode(&good).unwrap(), node);
    let shown = format!("{}", NodeData::decode(&good[..good.len() - 1]).unwrap_err());
    assert!(shown.contains("end of input"), "{shown}");

    // Every truncation is an error, never a panic.
    for n in 0..good.len() {
        assert!(NodeData::decode(&good[..n]).is_err());
    }
    // Trailing bytes.
    let mut t = good.clone();
    t.push(0);
    assert_eq!(malformed(&t), (good.len(), "trailing bytes after the node"));
    // Map keys out of order: "l" before "e".
    let empty = NodeData::default().encode();
    assert_eq!(empty, [0xa2, 0x61, b'e', 0x80, 0x61, b'l', 0xf6]);
    assert_eq!(malformed(&[0xa2, 0x61, b'l', 0xf6, 0x61, b'e', 0x80]).0, 1);
    // A non-shortest array length (0x98 0x00 for an empty array).
    let (off, reason) = malformed(&[0xa2, 0x61, b'e', 0x98, 0x00, 0x61, b'l', 0xf6]);
    assert_eq!((off, reason), (3, "integer or length not in shortest form"));
    // Indefinite-length array.
    assert_eq!(
        malformed(&[0xa2, 0x61, b'e', 0x9f, 0xff, 0x61, b'l', 0xf6]).1,
        "indefinite-length items are not allowed"
    );
    // A missing "l".
    assert!(NodeData::decode(&[0xa1, 0x61, b'e', 0x80]).is_err());
    // An extra map key.
    assert!(
        NodeData::decode(&[0xa3, 0x61, b'e', 0x80, 0x61, b'l', 0xf6, 0x61, b'x', 0xf6]).is_err()
    );
    // "l" must be a CID or null, not false.
    assert!(NodeData::decode(&[0xa2, 0x61, b'e', 0x80, 0x61, b'l', 0xf4]).is_err());
}

#[test]
fn decoder_rejects_bad_entries() {
    let node = leaf_node(&H0);
    let good = node.encode();
    // p is the byte after "p" in each entry; the second entry shares 0 bytes.
    let p_positions: Vec<usize> = good
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == &[0x61, b'p'])
        .map(|(i, _)| i + 2)
        .collect();
    assert_eq!(p_positions.len(), 3);
    // First entry with p > 0.
    let mut b = good.clone();
    b[p_positions[0]] = 1;
    assert_eq!(
        malformed(&b),
        (
            p_positions[0],
            "the first entry's prefix length `p` must be 0"
        )
    );
    // p larger than the previous key.
    let mut b = good.clone();
    b[p_positions[1]] = 20;
    assert_eq!(
        malformed(&b).1,
        "prefix length `p` exceeds the previous key's length"
    );

    // Unsorted and duplicate keys (encoded by hand: the encoder trusts its input).
    let unsorted = raw_leaf(&["C0/451630", "A0/374913"]);
    assert_eq!(
        malformed(&unsorted).1,
        "entry keys are not strictly ascending"
    );
    let dup = raw_leaf(&["A0/374913", "A0/374913"]);
    assert_eq!(malformed(&dup).1, "entry keys are not strictly ascending");
    // p smaller than the shared prefix: "ab/c" then "ab/d" written with p=0.
    let mut b = leaf_node(&["ab/c", "ab/d"]).encode();
    let at = b.windows(3).position(|w| w == [0x61, b'p', 0x03]).unwrap() + 2;
    assert_eq!(b[at], 3);
    // Rewrite the second entry as k="ab/d", p=0 (same length change: k grows by 3).
    let k_at = b[..at]
        .windows(3)
        .rposition(|w| w == [0x61, b'k', 0x41])
        .unwrap();
    b.splice(k_at + 2..k_at + 4, [0x44, b'a', b'b', b'/', b'd']);
    b[at + 3] = 0;
    assert_eq!(
        malformed(&b).1,
        "prefix length `p` is not the full prefix shared with the previous key"
    );
    // Invalid key characters.
    let bad = raw_leaf(&["coll/bad key"]);
    assert_eq!(malformed(&bad).1, "entry key is not a valid MST key");
    // A CIDv0 value.
    let mut b = leaf_node(&["a/b"]).encode();
    let v_at = b.windows(2).rposition(|w| w == [0x61, b'v']).unwrap() + 2;
    b.truncate(v_at);
    b.extend_from_slice(&[0xd8, 0x2a, 0x58, 0x23, 0x00, 0x12, 0x20]);
    b.extend_from_slice(&[7; 32]);
    b.extend_from_slice(&[0x61, b'l', 0xf6]);
    assert_eq!(malformed(&b).1, "only CIDv1 links are allowed");
}

/// CIDs whose varints are too long, not minimal or cut off, in a node's
/// value link: refused with the offset of the field at fault.
#[test]
fn decoder_refuses_cids_with_bad_varints() {
    let d = [7u8; 32];
    let with = |head: &[u8], digest: &[u8]| [head, digest].concat();
    let cases: [(Vec<u8>, usize, &str); 7] = [
        // The ten-byte form of 2^63 as the codec.
        (
            with(
                &[
                    1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x12, 0x20,
                ],
                &d,
            ),
            1,
            "CID varint too long",
        ),
        (
            with(
                &[
                    1, 0x71, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x20,
                ],
                &d,
            ),
            2,
            "CID varint too long",
        ),
        (
            with(&[0x81, 0x00, 0x71, 0x12, 0x20], &d),
            0,
            "CID varint not in shortest form",
        ),
        (
            with(&[1, 0xf1, 0x00, 0x12, 0x20], &d),
            1,
            "CID varint not in shortest form",
        ),
        (
            with(&[1, 0x71, 0x12, 0xa0, 0x00], &d),
            3,
            "CID varint not in shortest form",
        ),
        (
            with(&[1, 0x71, 0x12, 0x20], &d[..31]),
            3,
            "multihash digest length does not match the CID length",
        ),
        (vec![1, 0x71, 0x12, 0xa0], 3, "truncated CID"),
    ];
    for (cid, at, reason) in cases {
        let mut b = leaf_node(&["a/b"]).encode();
        let v_at = b.windows(2).rposition(|w| w == [0x61, b'v']).unwrap() + 2;
        b.truncate(v_at);
        let len = cid.len() as u8 + 1;
        if len < 24 {
            b.extend_from_slice(&[0xd8, 0x2a, 0x40 | len, 0x00]);
        } else {
            b.extend_from_slice(&[0xd8, 0x2a, 0x58, len, 0x00]);
        }
        let cid_at = b.len();
        b.extend_from_slice(&cid);
        b.extend_from_slice(&[0x61, b'l', 0xf6]);
        assert_eq!(malformed(&b), (cid_at + at, reason), "{cid:02x?}");
    }
}

#[test]
fn decoder_caps_entries() {
    let mut b = vec![0xa2, 0x61, b'e', 0x99];
    b.extend_from_slice(&((MAX_NODE_ENTRIES + 1) as u16).to_be_bytes());
    assert!(matches!(
        NodeData::decode(&b),
        Err(MstError::TooManyEntries { count, max: MAX_NODE_ENTRIES, .. }) if count == MAX_NODE_ENTRIES as u64 + 1
    ));
    // Many entries declared, few bytes present: refused before allocating.
    let b = [0xa2, 0x61, b'e', 0x99, 0x0f, 0xff, 0xa4];
    assert_eq!(
        malformed(&b).1,
        "more entries declared than the node has bytes"
    );
    // Exactly at the cap is fine.
    let keys: Vec<String> = (0..MAX_NODE_ENTRIES).map(|i| format!("c/{i:06}")).collect();
    let node = leaf_node(&keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        NodeData::decode(&node.encode()).unwrap().entries.len(),
        MAX_NODE_ENTRIES
    );
}

/// A store holding one hand-made block under its real CID.
fn store_with(blocks: &[&NodeData]) -> MemoryBlockStore {
    blocks
        .iter()
        .map(|n| (n.cid(), Bytes::from(n.encode())))
        .collect()
}

#[test]
fn loading_checks_hashes_and_structure() {
    // Wrong hash: bytes stored under another node's CID.
    let good = leaf_node(&H0);
    let mut store = MemoryBlockStore::new();
    store
        .put(good.cid(), Bytes::from(leaf_node(&H0[..2]).encode()))
        .unwrap();
    let err = Mst::load(store, good.cid()).unwrap_err();
    assert!(matches!(err, MstError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not hash"), "{err}");

    // Missing root.
    let err = Mst::load(MemoryBlockStore::new(), good.cid()).unwrap_err();
    assert!(matches!(err, MstError::MissingBlock { .. }), "{err}");

    // Malformed node bytes under their real CID: the error names the node.
    let bytes = [0xa2, 0x61, b'e', 0x98, 0x00, 0x61, b'l', 0xf6];
    let c = node_cid(&bytes);
    let mut store = MemoryBlockStore::new();
    store.put(c, Bytes::copy_from_slice(&bytes)).unwrap();
    let err = Mst::load(store, c).unwrap_err();
    assert!(err.to_string().contains(&c.to_string()), "{err}");
    assert!(err.to_string().contains("byte 3"), "{err}");

    // Keys of different heights in one node.
    let mixed = leaf_node(&["A0/374913", "B1/986427"]);
    let err = Mst::load(store_with(&[&mixed]), mixed.cid()).unwrap_err();
    assert!(matches!(err, MstError::Structure { .. }), "{err}");

    // A layer-1 root whose child holds a layer-1 key (wrong depth).
    let child = leaf_node(&["B1/986427"]);
    let mut root = leaf_node(&["F1/085263"]);
    root.left = Some(child.cid());
    let mst = Mst::load(store_with(&[&root, &child]), root.cid()).unwrap();
    let err = mst.entries().unwrap_err();
    assert!(matches!(err, MstError::Structure { .. }), "{err}");

    // A child whose keys lie outside the gap it hangs from.
    let child = leaf_node(&["G0/765327"]);
    let mut root = leaf_node(&["F1/085263"]);
    root.left = Some(child.cid());
    let mst = Mst::load(store_with(&[&root, &child]), root.cid()).unwrap();
    let err = mst.entries().unwrap_err();
    assert!(err.to_string().contains("range"), "{err}");
    let mut mst = mst;
    assert_eq!(mst.get(&p("G0/765327")).unwrap(), None);
    assert!(mst.get(&p("A0/374913")).is_err());
    assert!(mst.insert(&p("A0/374913"), value(1)).is_err());
    assert!(mst.remove(&p("A0/374913")).is_err());

    // A layer-0 node with a subtree.
    let mut bad = leaf_node(&["A0/374913"]);
    bad.left = Some(leaf_node(&["0/0"]).cid());
    let err = Mst::load(store_with(&[&bad]), bad.cid()).unwrap_err();
    assert!(err.to_string().contains("layer-0"), "{err}");

    // A root with no entries that points only to a subtree.
    let child = leaf_node(&H0);
    let root = NodeData {
        left: Some(child.cid()),
        entries: vec![],
    };
    let err = Mst::load(store_with(&[&root, &child]), root.cid()).unwrap_err();
    assert!(
        err.to_string().contains("only points to a subtree"),
        "{err}"
    );

    // An empty node below the root.
    let empty = NodeData::default();
    let mut root = leaf_node(&["F1/085263"]);
    root.left = Some(empty.cid());
    let mst = Mst::load(store_with(&[&root, &empty]), root.cid()).unwrap();
    assert!(
        mst.entries()
            .unwrap_err()
            .to_string()
            .contains("empty node")
    );

    // A root CID that is not dag-cbor sha2-256.
    let raw = Cid::new_v1(0x55, *good.cid().hash());
    let err = Mst::load(store_with(&[&good]), raw).unwrap_err();
    assert!(matches!(err, MstError::UnsupportedCid { .. }), "{err}");
}

#[test]
fn larger_tree_deletes_and_diff() {
    // 3,000 keys (heights up to 5 or so), half removed in a scrambled order.
    let keys = paths(
        (0..3000u32).map(|i| format!("app.bsky.feed.like/{:08x}", i.wrapping_mul(2_654_435_761))),
    );
    let mut full = Mst::new();
    for (i, k) in keys.iter().enumerate() {
        full.insert(k, value(i as u32)).unwrap();
    }
    let full_root = full.root_cid().unwrap();
    let mut store = MemoryBlockStore::new();
    full.write_blocks(&mut store).unwrap();

    let mut lazy = Mst::load(store, full_root).unwrap();
    let mut kept = Mst::new();
    for (i, k) in keys.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(lazy.remove(k).unwrap(), Some(value(i as u32)));
        } else {
            kept.insert(k, value(i as u32)).unwrap();
        }
    }
    assert_eq!(lazy.root_cid().unwrap(), kept.root_cid().unwrap());
    assert_eq!(lazy.height(), kept.height());

    let ops = full.diff(&lazy).unwrap();
    assert_eq!(ops.len(), 1500);
    assert!(ops.iter().all(|op| matches!(op, DiffOp::Delete { .. })));
    let back = lazy.diff(&full).unwrap();
    assert!(back.iter().all(|op| matches!(op, DiffOp::Create { .. })));
    assert_eq!(back.len(), 1500);
    println!(
        "3000-key tree: height {}, {} nodes",
        full.height(),
        full.node_count().unwrap()
    );
}

/// The decoder checks each prefix-compressed key from its suffix and the
/// previous key's `/`; it must agree with `RecordPath`'s check on whole keys.
#[test]
fn decoder_key_checks_agree_with_record_path() {
    let cases: &[(&[&str], bool)] = &[
        (&["a/b", "a/c", "a/cd", "ab/c"], true),
        // The second key has no '/': it shares only "a" with "a/b".
        (&["a/b", "ab"], false),
        // A second '/' in the suffix.
        (&["a/b", "a/b/c"], false),
        // '/' last.
        (&["a/b", "a/b", "b/"], false),
        (&["a/b", "b/"], false),
        // '/' first.
        (&["/a", "/b"], false),
        // A bad byte in the shared prefix cannot arise (the previous key was
        // checked), but one in the suffix must be caught.
        (&["coll/a", "coll/a b"], false),
    ];
    for (keys, ok) in cases {
        let sorted = keys.windows(2).all(|w| w[0] < w[1]);
        let valid = keys.iter().all(|k| RecordPath::is_valid(k));
        assert_eq!(valid && sorted, *ok, "{keys:?}");
        match NodeData::decode(&raw_leaf(keys)) {
            Ok(decoded) => {
                assert!(ok, "{keys:?} accepted");
                assert_eq!(decoded, leaf_node(keys));
            }
            Err(e) => assert!(!ok, "{keys:?} rejected: {e}"),
        }
    }
}

/// Links other than CIDv1 sha2-256 with a one-byte codec take the decoder's
/// general path and still round-trip.
#[test]
fn decoder_keeps_uncommon_links() {
    // CIDv1, codec dag-pb (0x70), sha2-512 (0x13) with a 64-byte digest.
    let mut bytes = vec![0x01, 0x70, 0x13, 0x40];
    bytes.extend((0..64u8).map(|i| i.wrapping_mul(7)));
    let odd = parse_cid(&bytes).unwrap();
    // CIDv1 with a two-byte codec varint (0x0129, dag-json).
    let mut bytes = vec![0x01, 0xa9, 0x02, 0x12, 0x20];
    bytes.extend([9u8; 32]);
    let wide = parse_cid(&bytes).unwrap();
    let mut node = leaf_node(&H0);
    node.entries[0].value = odd;
    node.entries[2].value = wide;
    let encoded = node.encode();
    let decoded = NodeData::decode(&encoded).unwrap();
    assert_eq!(decoded, node);
    assert_eq!(decoded.encode(), encoded);
}
