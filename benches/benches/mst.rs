//! Scenarios 1 and 2 of the shared workloads, this project beside the peer
//! Rust crates `atrium-repo` and `rsky-repo` in the same run:
//!
//! 1. MST build: insert all N keys of S(N) / R(N) into an empty tree, then
//!    compute the root CID.
//! 2. Single write: insert one new key into a tree holding S(100,000) and
//!    recompute the root (each timed write is undone, untimed, afterwards).
//!
//! The root CIDs of every implementation are printed before the timings: a
//! fast wrong answer is worthless.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench mst`.
//! `ATPROTO_BENCH_QUICK=1` limits it to 10,000 keys.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atproto_core::Cid;
use atproto_repo::RecordPath;
use atproto_repo::mst::Mst;
use atproto_repo::workload::Workload;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn ours(entries: &[(RecordPath, Cid)]) -> (Mst, Cid) {
    let mut mst = Mst::new();
    for (k, v) in entries {
        mst.insert(k, *v).expect("insert");
    }
    let root = mst.root_cid().expect("root");
    (mst, root)
}

async fn atrium(
    entries: &[(RecordPath, Cid)],
) -> (
    atrium_repo::mst::Tree<atrium_repo::blockstore::MemoryBlockStore>,
    Cid,
) {
    let store = atrium_repo::blockstore::MemoryBlockStore::new();
    let mut tree = atrium_repo::mst::Tree::create(store).await.expect("create");
    for (k, v) in entries {
        tree.add(k.as_str(), *v).await.expect("add");
    }
    let root = tree.root();
    (tree, root)
}

fn rsky_storage() -> Arc<tokio::sync::RwLock<dyn rsky_repo::storage::types::RepoStorage>> {
    Arc::new(tokio::sync::RwLock::new(
        rsky_repo::storage::memory_blockstore::MemoryBlockstore::default(),
    ))
}

async fn rsky(entries: &[(RecordPath, Cid)]) -> (rsky_repo::mst::MST, Cid) {
    let mut mst = rsky_repo::mst::MST::create(rsky_storage(), None, None)
        .await
        .expect("create");
    for (k, v) in entries {
        mst = mst.add(k.as_str(), *v, None).await.expect("add");
    }
    let root = mst.get_pointer().await.expect("root");
    (mst, root)
}

fn sizes() -> Vec<u64> {
    if std::env::var_os("ATPROTO_BENCH_QUICK").is_some() {
        vec![10_000]
    } else {
        vec![10_000, 100_000]
    }
}

fn build(c: &mut Criterion) {
    let rt = runtime();
    for workload in [Workload::Sequential, Workload::Random] {
        for n in sizes() {
            let entries = workload.entries(n);
            let name = format!("{}({n})", workload.letter());
            let (_, root) = ours(&entries);
            let (_, atrium_root) = rt.block_on(atrium(&entries));
            let (_, rsky_root) = rt.block_on(rsky(&entries));
            let verdict = |r: Cid| if r == root { "same" } else { "DIFFERENT" };
            println!("{name} root: atproto-repo {root}");
            println!(
                "{name} root: atrium-repo  {atrium_root} ({})",
                verdict(atrium_root)
            );
            println!(
                "{name} root: rsky-repo    {rsky_root} ({})",
                verdict(rsky_root)
            );

            let mut g = c.benchmark_group(format!("mst build {name}"));
            g.sample_size(10);
            g.measurement_time(Duration::from_secs(if n > 10_000 { 20 } else { 5 }));
            g.bench_function("atproto-repo", |b| b.iter(|| black_box(ours(&entries).1)));
            g.bench_function("atrium-repo", |b| {
                b.iter(|| black_box(rt.block_on(atrium(&entries)).1))
            });
            g.bench_function("rsky-repo", |b| {
                b.iter(|| black_box(rt.block_on(rsky(&entries)).1))
            });
            g.finish();
        }
    }
}

/// Times `write` (insert + new root) over fresh keys, undoing each one untimed.
fn single_writes(c: &mut Criterion) {
    let rt = runtime();
    let n = *sizes().last().expect("a size");
    let base = Workload::Sequential.entries(n);
    let extra: Vec<(RecordPath, Cid)> = (n..n + 1000)
        .map(|i| Workload::Sequential.entry(i))
        .collect();
    let mut g = c.benchmark_group(format!("mst single insert + root into S({n})"));

    let (mut mst, _) = ours(&base);
    g.bench_function(BenchmarkId::from_parameter("atproto-repo"), |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (k, v) = &extra[i % extra.len()];
                i += 1;
                let t = Instant::now();
                mst.insert(k, *v).expect("insert");
                black_box(mst.root_cid().expect("root"));
                total += t.elapsed();
                mst.remove(k).expect("remove");
            }
            total
        })
    });

    let (mut tree, _) = rt.block_on(atrium(&base));
    g.bench_function(BenchmarkId::from_parameter("atrium-repo"), |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (k, v) = &extra[i % extra.len()];
                i += 1;
                let t = Instant::now();
                rt.block_on(tree.add(k.as_str(), *v)).expect("add");
                black_box(tree.root());
                total += t.elapsed();
                rt.block_on(tree.delete(k.as_str())).expect("delete");
            }
            total
        })
    });

    let (mut rsky_mst, _) = rt.block_on(rsky(&base));
    g.bench_function(BenchmarkId::from_parameter("rsky-repo"), |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (k, v) = &extra[i % extra.len()];
                i += 1;
                let t = Instant::now();
                let mut added = rt
                    .block_on(rsky_mst.add(k.as_str(), *v, None))
                    .expect("add");
                black_box(rt.block_on(added.get_pointer()).expect("root"));
                total += t.elapsed();
                rsky_mst = rt.block_on(added.delete(&k.to_string())).expect("delete");
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, build, single_writes);
criterion_main!(benches);
