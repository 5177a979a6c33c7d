//! Times the MST build workloads of `BENCH-WORKLOADS.md` (S(N) and R(N)):
//! insert N keys into an empty tree, then compute the root CID; and single
//! writes (insert or delete one key, then the new root) on S(100,000).
//!
//! `cargo run --release -p atproto-repo --example mst_build`
// A measuring tool over fixed inputs: any failure is a bug to see at once.
#![allow(clippy::expect_used)]

use std::time::Instant;

use atproto_core::Cid;
use atproto_repo::mst::Mst;
use atproto_repo::workload::Workload;
use atproto_repo::{MemoryBlockStore, RecordPath};

fn s_workload(n: u64) -> Vec<(RecordPath, Cid)> {
    Workload::Sequential.entries(n)
}

fn r_workload(n: u64) -> Vec<(RecordPath, Cid)> {
    Workload::Random.entries(n)
}

fn build(kv: &[(RecordPath, Cid)]) -> (Mst, Cid) {
    let mut mst = Mst::new();
    for (k, v) in kv {
        mst.insert(k, *v).expect("insert");
    }
    let root = mst.root_cid().expect("root");
    (mst, root)
}

fn main() {
    // `mst_build R 100000` runs one build workload only (for profiling).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("load") {
        let (mut mst, root) = build(&s_workload(100_000));
        let mut store = MemoryBlockStore::new();
        mst.write_blocks(&mut store).expect("write");
        let t = Instant::now();
        for _ in 0..10 {
            let loaded = Mst::load(&mut store, root).expect("load");
            assert_eq!(
                loaded
                    .iter()
                    .try_fold(0usize, |n, kv| kv.map(|_| n + 1))
                    .expect("list"),
                100_000
            );
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / 10.0;
        println!("S(100000) load + verify + list: {ms:.2} ms (mean of 10)");
        return;
    }
    if let [name, n] = args.as_slice() {
        let n: u64 = n.parse().expect("N");
        let kv = if name == "S" {
            s_workload(n)
        } else {
            r_workload(n)
        };
        let t = Instant::now();
        let mut root = None;
        for _ in 0..20 {
            root = Some(build(&kv).1);
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / 20.0;
        println!(
            "{name}({n}) build: {ms:8.2} ms (mean of 20)  root {}",
            root.expect("root")
        );
        return;
    }
    for (name, n, kv) in [
        ("S", 10_000, s_workload(10_000)),
        ("S", 100_000, s_workload(100_000)),
        ("R", 10_000, r_workload(10_000)),
        ("R", 100_000, r_workload(100_000)),
    ] {
        let mut best = f64::MAX;
        let mut root = None;
        for _ in 0..5 {
            let t = Instant::now();
            let (mst, cid) = build(&kv);
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
            root = Some(cid);
            drop(mst);
        }
        let root = root.expect("root");
        println!("{name}({n}) build: {best:8.2} ms (best of 5)  root {root}");
    }

    // Single writes on S(100,000).
    let kv = s_workload(100_000);
    let (mut mst, root0) = build(&kv);
    let extra = s_workload(101_000);
    let mut ins = Vec::new();
    for (k, v) in &extra[100_000..] {
        let t = Instant::now();
        mst.insert(k, *v).expect("insert");
        let _ = mst.root_cid().expect("root");
        ins.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut del = Vec::new();
    for (k, _) in &extra[100_000..] {
        let t = Instant::now();
        mst.remove(k).expect("remove");
        let _ = mst.root_cid().expect("root");
        del.push(t.elapsed().as_secs_f64() * 1e6);
    }
    assert_eq!(mst.root_cid().expect("root"), root0);
    ins.sort_by(f64::total_cmp);
    del.sort_by(f64::total_cmp);
    println!(
        "S(100000) single insert + root: median {:.2} µs, p99 {:.2} µs",
        ins[500], ins[990]
    );
    println!(
        "S(100000) single delete + root: median {:.2} µs, p99 {:.2} µs",
        del[500], del[990]
    );
    // Random keys into the 100k tree (more spread-out paths).
    let rk = r_workload(1000);
    let mut ins = Vec::new();
    for (k, v) in &rk {
        let t = Instant::now();
        mst.insert(k, *v).expect("insert");
        let _ = mst.root_cid().expect("root");
        ins.push(t.elapsed().as_secs_f64() * 1e6);
    }
    ins.sort_by(f64::total_cmp);
    println!(
        "S(100000) + random-key insert + root: median {:.2} µs, p99 {:.2} µs",
        ins[500], ins[990]
    );
    // Write S(100,000) to a store, then load it lazily and list everything
    // (every node read, hash-checked and structure-checked once).
    let (mut mst, root) = build(&kv);
    let mut store = MemoryBlockStore::new();
    let t = Instant::now();
    mst.write_blocks(&mut store).expect("write");
    let write_ms = t.elapsed().as_secs_f64() * 1e3;
    let bytes: usize = store.iter().map(|(_, b)| b.len()).sum();
    let t = Instant::now();
    let loaded = Mst::load(&mut store, root).expect("load");
    let n = loaded
        .iter()
        .try_fold(0usize, |n, kv| kv.map(|_| n + 1))
        .expect("list");
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(n, 100_000);
    println!(
        "S(100000) write_blocks: {write_ms:.2} ms ({} nodes, {:.1} MB); load + verify + list: {load_ms:.2} ms",
        store.len(),
        bytes as f64 / 1e6
    );
}
