//! The workloads against values computed outside this crate, from the
//! definitions in `BENCH-WORKLOADS.md` alone (a short Python script with
//! `hashlib` and a hand-written CBOR map).

use atproto_core::data::dag_cbor_cid;
use atproto_workloads::{BENCH_DID, Workload, bench_did, bench_keypair, record, tid};

#[test]
fn tids_follow_the_formula() {
    assert_eq!(tid(0).as_str(), "3ke6kg3wk2222");
    assert_eq!(tid(1).as_str(), "3ke6kg3wkzc22");
    assert_eq!(tid(99_999).as_str(), "3ke6kj3cbcs22");
}

#[test]
fn sequential_keys_and_values() {
    assert_eq!(
        Workload::Sequential.key(0).as_str(),
        "app.bsky.feed.post/3ke6kg3wk2222"
    );
    let (key, cid) = Workload::Sequential.entry(1);
    assert_eq!(key.as_str(), "app.bsky.feed.post/3ke6kg3wkzc22");
    assert_eq!(cid, dag_cbor_cid(&record("post 1")));
    assert_eq!(
        Workload::Sequential.entry(0).1.to_string(),
        "bafyreifppznicswzvfxotb3bwbculaqq2h3v3ahdtuawvuyrwkzqqr5ite"
    );
}

#[test]
fn random_keys_and_values() {
    assert_eq!(
        Workload::Random.key(0).as_str(),
        "com.example.record/5feceb66ffc86f38"
    );
    assert_eq!(
        Workload::Random.key(1).as_str(),
        "com.example.record/6b86b273ff34fce1"
    );
    assert_eq!(
        Workload::Random.entry(0).1.to_string(),
        "bafyreigm3bf6kzo6yczuoh6k37ka5q5newkxxlhwhr7ck7bjk3kcg4umky"
    );
}

#[test]
fn record_bytes_are_the_canonical_map() {
    // {"text": "post 0", "$type": …, "createdAt": …}: keys by length, then bytes.
    let expected = "a3647465787466706f73742030652474797065726170702e62736b792e66656564\
                    2e706f7374696372656174656441747818323032332d31312d31345432323a3133\
                    3a32302e3030305a";
    let hex: String = record("post 0")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, expected);
    assert_eq!(Workload::Sequential.record(7), record("post 7"));
    assert_eq!(Workload::Random.record(7), record("rec 7"));
}

#[test]
fn entries_are_the_first_n_in_order() {
    let entries = Workload::Random.entries(5);
    assert_eq!(entries.len(), 5);
    for (i, entry) in (0..5).zip(&entries) {
        assert_eq!(*entry, Workload::Random.entry(i));
    }
    let mut keys: Vec<_> = Workload::Sequential
        .entries(50)
        .into_iter()
        .map(|e| e.0)
        .collect();
    let inserted = keys.clone();
    keys.sort();
    assert_eq!(keys, inserted, "S(N) keys come in increasing order");
}

#[test]
fn bench_repository_identity() {
    assert_eq!(bench_did().map(|d| d.to_string()).as_deref(), Ok(BENCH_DID));
    let key = bench_keypair().expect("the bench key is a valid k256 key");
    let hex: String = key
        .private_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // SHA-256("atproto-bench-key").
    assert_eq!(
        hex,
        "db705164fb1e137e73396c3819f3e559b30f56508fbe55326f4b123004f1a33f"
    );
}

#[test]
fn workload_names_parse() {
    for (text, workload) in [
        ("S", Workload::Sequential),
        ("s", Workload::Sequential),
        ("sequential", Workload::Sequential),
        ("R", Workload::Random),
        ("random", Workload::Random),
    ] {
        assert_eq!(text.parse::<Workload>(), Ok(workload));
    }
    let err = "X".parse::<Workload>().expect_err("X is no workload");
    assert!(err.contains("\"X\""), "{err}");
    assert_eq!(Workload::Sequential.letter(), 'S');
    assert_eq!(Workload::Random.letter(), 'R');
}
