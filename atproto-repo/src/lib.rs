#![doc = include_str!("../README.md")]
#![no_std]
// One `unsafe` call, in `hash::shani`, behind the `sha-ni` feature (see
// that module); without the feature the crate has none.
#![cfg_attr(feature = "sha-ni", deny(unsafe_code))]
#![cfg_attr(not(feature = "sha-ni"), forbid(unsafe_code))]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod block_store;
pub mod car;
pub mod commit;
mod hash;
pub mod mst;
pub mod record_path;
pub mod repo;
mod suffix;
pub mod sync;

pub use block_store::{BlockStore, MemoryBlockStore, StoreError};
#[cfg(feature = "async")]
pub use car::AsyncCarReader;
#[cfg(feature = "std")]
pub use car::CarStreamReader;
pub use car::{CarError, CarLimits, CarReader, CarWriter, LoadedCar, load_car};
pub use commit::{Commit, CommitError, SignatureCheck, UnsignedCommit};
pub use mst::{DiffOp, Mst, MstError};
pub use record_path::{RecordPath, RecordPathError};
pub use repo::{
    CommitData, RecordValue, RecordWrite, Repo, RepoError, VerifiedRepo, verify_car,
    verify_car_unsigned,
};
pub use sync::{
    Op, OpAction, ProofCheck, ProofError, SliceError, VerifiedCommit, VerifiedSync,
    verify_commit_proof, verify_commit_proof_unsigned, verify_sync_commit,
};
