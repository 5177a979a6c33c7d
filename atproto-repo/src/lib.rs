#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod block_store;
pub mod mst;

pub use block_store::{BlockStore, MemoryBlockStore, StoreError};
pub use mst::{DiffOp, Mst, MstError};
