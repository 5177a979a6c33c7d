//! `atp bench mst --workload S|R --n N`: the MST build workload, timed
//! without criterion, so a researcher can measure from the command line.
//!
//! Prints `key: value` lines: the workload, build time (best and median of
//! the runs; key generation is not timed), inserts per second, root CID, node
//! count and tree height.

use std::process::ExitCode;
use std::time::Instant;

use atproto_repo::mst::Mst;
use atproto_repo::workload::Workload;

use crate::{CmdError, CmdResult};

/// Subcommands of `atp bench`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Build an MST from an empty tree and compute its root CID.
    Mst {
        /// S (sequential TID keys) or R (random hash keys), as in BENCH-WORKLOADS.md.
        #[arg(long, default_value = "S")]
        workload: Workload,
        /// Number of keys.
        #[arg(long, default_value_t = 100_000)]
        n: u64,
        /// Timed runs (the best and the median are printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

/// Runs `atp bench`.
pub fn run(cmd: Command) -> CmdResult {
    let Command::Mst { workload, n, runs } = cmd;
    let entries = workload.entries(n);
    let mut times = Vec::with_capacity(runs.max(1));
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let mut mst = Mst::new();
        for (key, cid) in &entries {
            mst.insert(key, *cid).map_err(failed)?;
        }
        let root = mst.root_cid().map_err(failed)?;
        times.push(start.elapsed().as_secs_f64());
        last = Some((mst, root));
    }
    let (mst, root) = last.ok_or_else(|| CmdError::Setup("no run".to_owned()))?;
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    println!("workload: {}({n})", workload.letter());
    println!("runs: {}", times.len());
    println!("build_ms_best: {:.2}", best * 1e3);
    println!("build_ms_median: {:.2}", median * 1e3);
    println!("inserts_per_s: {:.0}", n as f64 / median);
    println!("root: {root}");
    println!("nodes: {}", mst.node_count().map_err(failed)?);
    println!("height: {}", mst.height());
    Ok(ExitCode::SUCCESS)
}

/// The workload is generated here, so a tree error means the benchmark could
/// not run (exit 2), not that some input was invalid.
fn failed(e: atproto_repo::MstError) -> CmdError {
    CmdError::Setup(format!("the benchmark failed: {e}"))
}
