//! `atp bench`: the MST workloads, timed without criterion through the
//! shared harness (`atproto_workloads::mst`), so a researcher can measure
//! from the command line and get the figures the criterion bench gets.
//!
//! Each subcommand prints `key: value` lines (the harness reports' `Display`).

use std::process::ExitCode;

use atproto_workloads::Workload;
use atproto_workloads::mst::{bench_build, bench_writes};

use crate::{CmdError, CmdResult};

/// Subcommands of `atp bench`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Scenario 1: build an MST from an empty tree and compute its root CID.
    ///
    /// Prints the workload, the runs, build time (best and median; key
    /// generation is not timed), inserts per second, root CID, node count
    /// and tree height.
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
    /// Scenario 2: single writes into a tree holding S(N).
    ///
    /// Each new key is inserted (with the new root), then removed again
    /// (with the new root); prints the median and 99th percentile of each,
    /// in µs, and the root of S(N), which every removal must give back.
    MstWrite {
        /// Keys in the tree: S(N).
        #[arg(long, default_value_t = 100_000)]
        n: u64,
        /// Where the new keys come from: S (the next TIDs) or R (hash keys).
        #[arg(long, default_value = "S")]
        keys: Workload,
        /// Number of new keys, each written and removed once.
        #[arg(long, default_value_t = 1000)]
        writes: u64,
    },
}

/// Runs `atp bench`.
pub fn run(cmd: Command) -> CmdResult {
    let report = match cmd {
        Command::Mst { workload, n, runs } => bench_build(workload, n, runs).map(|r| r.to_string()),
        Command::MstWrite { n, keys, writes } => {
            bench_writes(n, keys, writes).map(|r| r.to_string())
        }
    };
    // The workload is generated here, so a harness error (a tree error, a
    // root that does not come back) means the benchmark could not run
    // (exit 2), not that some input was invalid.
    let report = report.map_err(|e| CmdError::Setup(format!("the benchmark failed: {e}")))?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}
