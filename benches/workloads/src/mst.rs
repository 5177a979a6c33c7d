//! The one MST timing harness, for scenarios 1 and 2 of `BENCH-WORKLOADS.md`.
//!
//! [`build`] is the build every tool times: `atp bench mst` through
//! [`bench_build`], and the criterion bench (`benches/benches/mst.rs`), which
//! times the same function under criterion. [`insert_root`] and
//! [`remove_root`] are the single writes of scenario 2, timed by
//! [`bench_writes`] (`atp bench mst-write`) and by the criterion bench.
//! Workload keys ([`Key`], the type [`Mst`] takes) reach the tree in two
//! private functions only, `insert` and `remove`.
//!
//! ```
//! use atproto_workloads::Workload;
//! use atproto_workloads::mst::bench_build;
//! let report = bench_build(Workload::Sequential, 100, 1)?;
//! assert_eq!(report.timings.len(), 1);
//! assert!(report.to_string().contains(&format!("root: {}", report.root)));
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

use std::error::Error;
use std::fmt;

use atproto_core::Cid;
use atproto_repo::mst::Mst;

use crate::timing::{Timings, ms, repeat, time, us};
use crate::workload::{Key, Workload};

/// What the harness returns: its errors are the tree's own, or a broken
/// expectation (a key already present, a root that does not come back),
/// either of which means the measurement is void.
pub type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Sets `key` to `cid` in `mst`; fails if `key` was already there.
fn insert(mst: &mut Mst, key: &Key, cid: Cid) -> BenchResult<()> {
    match mst.insert(key, cid)? {
        None => Ok(()),
        Some(_) => Err(format!("workload key {key} inserted twice").into()),
    }
}

/// Removes `key` from `mst`; fails if it was not there.
fn remove(mst: &mut Mst, key: &Key) -> BenchResult<()> {
    match mst.remove(key)? {
        Some(_) => Ok(()),
        None => Err(format!("workload key {key} missing on remove").into()),
    }
}

/// Scenario 1: inserts `entries` in order into an empty tree, then computes
/// the root CID.
pub fn build(entries: &[(Key, Cid)]) -> BenchResult<(Mst, Cid)> {
    let mut mst = Mst::new();
    for (key, cid) in entries {
        insert(&mut mst, key, *cid)?;
    }
    let root = mst.root_cid()?;
    Ok((mst, root))
}

/// Scenario 2, one write: inserts the new `key` and recomputes the root.
pub fn insert_root(mst: &mut Mst, key: &Key, cid: Cid) -> BenchResult<Cid> {
    insert(mst, key, cid)?;
    Ok(mst.root_cid()?)
}

/// Scenario 2, one delete: removes the present `key` and recomputes the root.
pub fn remove_root(mst: &mut Mst, key: &Key) -> BenchResult<Cid> {
    remove(mst, key)?;
    Ok(mst.root_cid()?)
}

/// What [`bench_build`] measured; its `Display` is the output of
/// `atp bench mst`, one `key: value` line each.
#[derive(Clone, Debug)]
pub struct BuildReport {
    /// The workload built.
    pub workload: Workload,
    /// Its number of keys.
    pub n: u64,
    /// The time of each build (key generation untimed).
    pub timings: Timings,
    /// The root CID (the same for every run).
    pub root: Cid,
    /// Nodes in the tree.
    pub nodes: usize,
    /// The tree's height: the layer of its root node.
    pub height: u8,
}

/// Scenario 1, timed: builds the first `n` entries of `workload` `runs`
/// times (at least once). Fails if two runs give different roots.
pub fn bench_build(workload: Workload, n: u64, runs: usize) -> BenchResult<BuildReport> {
    let entries = workload.entries(n);
    let mut first = None;
    let (timings, (mst, root)) = repeat(runs, || -> BenchResult<(Mst, Cid)> {
        let (mst, root) = build(&entries)?;
        if *first.get_or_insert(root) != root {
            return Err(format!("{}({n}) built two different roots", workload.letter()).into());
        }
        Ok((mst, root))
    })?;
    Ok(BuildReport {
        workload,
        n,
        timings,
        root,
        nodes: mst.node_count()?,
        height: mst.height(),
    })
}

impl fmt::Display for BuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.timings;
        writeln!(f, "workload: {}({})", self.workload.letter(), self.n)?;
        writeln!(f, "runs: {}", t.len())?;
        writeln!(f, "build_ms_best: {:.2}", ms(t.best()))?;
        writeln!(f, "build_ms_median: {:.2}", ms(t.median()))?;
        writeln!(f, "inserts_per_s: {:.0}", t.rate(self.n))?;
        writeln!(f, "root: {}", self.root)?;
        writeln!(f, "nodes: {}", self.nodes)?;
        write!(f, "height: {}", self.height)
    }
}

/// What [`bench_writes`] measured; its `Display` is the output of
/// `atp bench mst-write`, one `key: value` line each.
#[derive(Clone, Debug)]
pub struct WriteReport {
    /// The tree written into holds the first `n` entries of S.
    pub n: u64,
    /// Where the new keys come from.
    pub keys: Workload,
    /// Each insert of a new key + new root.
    pub insert: Timings,
    /// Each removal of that key again + new root.
    pub remove: Timings,
    /// The root of S(`n`), which every removal gave back.
    pub root: Cid,
}

/// The `count` keys new to S(`n`) that [`bench_writes`] writes: S entries
/// `n..n + count`, or R entries `0..count` (another collection, so none is
/// in S).
pub fn fresh_entries(n: u64, keys: Workload, count: u64) -> Vec<(Key, Cid)> {
    match keys {
        Workload::Sequential => (n..n + count).map(|i| keys.entry(i)).collect(),
        Workload::Random => keys.entries(count),
    }
}

/// Scenario 2, timed: into a tree holding S(`n`) (built untimed), inserts
/// each of `count` new keys ([`fresh_entries`]) with its new root, then
/// removes it again with its new root. Fails if a removal does not give back
/// the root of S(`n`).
pub fn bench_writes(n: u64, keys: Workload, count: u64) -> BenchResult<WriteReport> {
    let (mut mst, root) = build(&Workload::Sequential.entries(n))?;
    let fresh = fresh_entries(n, keys, count);
    let mut inserts = Vec::with_capacity(fresh.len());
    let mut removes = Vec::with_capacity(fresh.len());
    for (key, cid) in &fresh {
        let (with, inserted) = time(|| insert_root(&mut mst, key, *cid));
        with?;
        let (back, removed) = time(|| remove_root(&mut mst, key));
        let back = back?;
        if back != root {
            return Err(format!("removing {key} gave root {back}, not S({n})'s {root}").into());
        }
        inserts.push(inserted);
        removes.push(removed);
    }
    Ok(WriteReport {
        n,
        keys,
        insert: Timings::from_samples(inserts),
        remove: Timings::from_samples(removes),
        root,
    })
}

impl fmt::Display for WriteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tree: S({})", self.n)?;
        writeln!(f, "keys: {}", self.keys.letter())?;
        writeln!(f, "writes: {}", self.insert.len())?;
        writeln!(f, "insert_us_median: {:.2}", us(self.insert.median()))?;
        writeln!(f, "insert_us_p99: {:.2}", us(self.insert.quantile(0.99)))?;
        writeln!(f, "remove_us_median: {:.2}", us(self.remove.median()))?;
        writeln!(f, "remove_us_p99: {:.2}", us(self.remove.quantile(0.99)))?;
        write!(f, "root: {}", self.root)
    }
}
