#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod mst;
pub mod timing;
pub mod workload;

pub use mst::{BenchResult, BuildReport, WriteReport, bench_build, bench_writes, build};
pub use timing::{Timings, repeat, time};
pub use workload::{
    BENCH_DID, BENCH_KEY_SEED, CREATED_AT, Key, Workload, bench_did, bench_keypair, record, tid,
};
