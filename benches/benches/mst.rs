//! Scenarios 1 and 2 of the shared workloads, this project beside the peer
//! Rust crates `atrium-repo` and `rsky-repo` in the same run:
//!
//! 1. MST build: insert all N keys of S(N) / R(N) into an empty tree, then
//!    compute the root CID.
//! 2. Single write: insert one new key into a tree holding S(N) and
//!    recompute the root (each timed write is undone, untimed, afterwards).
//!
//! Our side runs the MST harness of `atproto-workloads` (the functions
//! `atp bench mst` and `atp bench mst-write` time), under criterion here.
//! Before anything is timed, every peer's roots are checked against ours: a
//! peer that differs fails the run, unless it is listed in [`expect`] as
//! known wrong with the upstream report, in which case it is not timed.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench mst`.
//! `ATPROTO_BENCH_QUICK=1` limits it to 10,000 keys.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use atproto_benches::{Expect, check_peer, require_same};
use atproto_core::Cid;
use atproto_workloads::mst::{build, fresh_entries, insert_root, remove_root};
use atproto_workloads::timing::time;
use atproto_workloads::{Key, Workload};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const ATRIUM: &str = "atrium-repo";
const RSKY: &str = "rsky-repo";

/// What each peer is known to give on each build workload.
fn expect(peer: &str, workload: Workload) -> Expect {
    match (peer, workload) {
        (ATRIUM, Workload::Random) => Expect::KnownWrong(
            "mst::Tree loses entries under random insertion order, \
             https://github.com/atrium-rs/atrium/issues/343",
        ),
        _ => Expect::Same,
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn ours(entries: &[(Key, Cid)]) -> Cid {
    build(entries).expect("build").1
}

type AtriumTree = atrium_repo::mst::Tree<atrium_repo::blockstore::MemoryBlockStore>;

async fn atrium(entries: &[(Key, Cid)]) -> (AtriumTree, Cid) {
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

async fn rsky(entries: &[(Key, Cid)]) -> (rsky_repo::mst::MST, Cid) {
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

fn build_trees(c: &mut Criterion) {
    let rt = runtime();
    for workload in [Workload::Sequential, Workload::Random] {
        for n in sizes() {
            let entries = workload.entries(n);
            let name = format!("{}({n})", workload.letter());
            let root = ours(&entries);
            println!("{name} root: atproto-repo {root}");
            let what = format!("{name} root");
            let (_, atrium_root) = rt.block_on(atrium(&entries));
            let time_atrium =
                check_peer(&what, ATRIUM, &root, &atrium_root, expect(ATRIUM, workload));
            let (_, rsky_root) = rt.block_on(rsky(&entries));
            let time_rsky = check_peer(&what, RSKY, &root, &rsky_root, expect(RSKY, workload));

            let mut g = c.benchmark_group(format!("mst build {name}"));
            g.sample_size(10);
            g.measurement_time(Duration::from_secs(if n > 10_000 { 20 } else { 5 }));
            g.bench_function("atproto-repo", |b| b.iter(|| black_box(ours(&entries))));
            if time_atrium {
                g.bench_function(ATRIUM, |b| {
                    b.iter(|| black_box(rt.block_on(atrium(&entries)).1))
                });
            }
            if time_rsky {
                g.bench_function(RSKY, |b| {
                    b.iter(|| black_box(rt.block_on(rsky(&entries)).1))
                });
            }
            g.finish();
        }
    }
}

/// Criterion's total for `iters` single writes: each picks the next of
/// `extra`, times `write` and runs `undo` untimed.
fn timed_writes<S, T>(
    iters: u64,
    next: &mut usize,
    extra: &[(Key, Cid)],
    state: &mut S,
    mut write: impl FnMut(&mut S, &Key, Cid) -> T,
    mut undo: impl FnMut(&mut S, &Key, T),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (k, v) = &extra[*next % extra.len()];
        *next += 1;
        let (written, elapsed) = time(|| write(state, k, *v));
        total += elapsed;
        undo(state, k, written);
    }
    total
}

/// Times `write` (insert + new root) over fresh keys, undoing each one untimed.
fn single_writes(c: &mut Criterion) {
    let rt = runtime();
    let n = *sizes().last().expect("a size");
    let base = Workload::Sequential.entries(n);
    let extra = fresh_entries(n, Workload::Sequential, 1000);
    let (first_key, first_cid) = &extra[0];

    // The roots after one insert and after undoing it, checked before timing.
    let (mut mst, base_root) = build(&base).expect("build");
    let inserted = insert_root(&mut mst, first_key, *first_cid).expect("insert");
    assert_eq!(remove_root(&mut mst, first_key).expect("remove"), base_root);
    println!("S({n}) + {first_key}: root: atproto-repo {inserted}");
    let what = format!("S({n}) + {first_key}: root");
    let back = format!("S({n}) + {first_key}, removed again: root");

    let (mut tree, _) = rt.block_on(atrium(&base));
    rt.block_on(tree.add(first_key.as_str(), *first_cid))
        .expect("add");
    require_same(&what, ATRIUM, &inserted, &tree.root());
    rt.block_on(tree.delete(first_key.as_str()))
        .expect("delete");
    require_same(&back, ATRIUM, &base_root, &tree.root());

    let (mut rsky_mst, _) = rt.block_on(rsky(&base));
    let mut added = rt
        .block_on(rsky_mst.add(first_key.as_str(), *first_cid, None))
        .expect("add");
    require_same(
        &what,
        RSKY,
        &inserted,
        &rt.block_on(added.get_pointer()).expect("root"),
    );
    // rsky's `delete` takes a `&String`.
    let mut rsky_mst = rt
        .block_on(added.delete(&first_key.to_string()))
        .expect("delete");
    require_same(
        &back,
        RSKY,
        &base_root,
        &rt.block_on(rsky_mst.get_pointer()).expect("root"),
    );

    let mut g = c.benchmark_group(format!("mst single insert + root into S({n})"));
    g.bench_function(BenchmarkId::from_parameter("atproto-repo"), |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            timed_writes(
                iters,
                &mut i,
                &extra,
                &mut mst,
                |m, k, v| black_box(insert_root(m, k, v).expect("insert")),
                |m, k, _| {
                    remove_root(m, k).expect("remove");
                },
            )
        })
    });
    g.bench_function(BenchmarkId::from_parameter(ATRIUM), |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            timed_writes(
                iters,
                &mut i,
                &extra,
                &mut tree,
                |t, k, v| {
                    rt.block_on(t.add(k.as_str(), v)).expect("add");
                    black_box(t.root())
                },
                |t, k, _| rt.block_on(t.delete(k.as_str())).expect("delete"),
            )
        })
    });
    g.bench_function(BenchmarkId::from_parameter(RSKY), |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            timed_writes(
                iters,
                &mut i,
                &extra,
                &mut rsky_mst,
                |m, k, v| {
                    let added = rt.block_on(m.add(k.as_str(), v, None)).expect("add");
                    black_box(rt.block_on(added.get_pointer()).expect("root"));
                    added
                },
                |m, k, mut added| *m = rt.block_on(added.delete(&k.to_string())).expect("delete"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, build_trees, single_writes);
criterion_main!(benches);
