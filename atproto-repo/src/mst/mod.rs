//! The Merkle Search Tree (MST): the key/value index of a repository.
//!
//! Keys are record paths ([`RecordPath`](crate::RecordPath),
//! `<collection>/<rkey>`, validated when built); values are record CIDs.
//! A key's height is half the number of leading zero bits of SHA-256(key)
//! (fan-out 4), and a node holds the keys of one height, with subtrees one
//! layer down between them. The shape depends only on the set of keys, so
//! any insertion order gives the same root CID.
//!
//! - [`Mst`]: the tree (lazy loading from a [`BlockStore`](crate::block_store::BlockStore),
//!   insert, remove, iteration, ranges, paging, diff, cached hashing,
//!   covering proofs for sync v1.1 commits).
//! - [`NodeData`]: the on-wire node, with a canonical encoder and a strict
//!   decoder for untrusted bytes.
//! - [`key_height`], [`common_prefix_len`]: key helpers over bytes.
//!
//! ```
//! use atproto_repo::mst::{Mst, EMPTY_TREE_ROOT};
//! use atproto_repo::block_store::MemoryBlockStore;
//! use atproto_repo::RecordPath;
//!
//! let mut mst = Mst::new();
//! assert_eq!(mst.root_cid()?.to_string(), EMPTY_TREE_ROOT);
//! let value = mst.root_cid()?; // any CID will do as a value
//! let path: RecordPath = "app.bsky.feed.post/3jzfcijpj2z2a".parse()?;
//! mst.insert(&path, value)?;
//! assert_eq!(mst.get(&path)?, Some(value));
//!
//! let mut store = MemoryBlockStore::new();
//! let root = mst.write_blocks(&mut store)?;
//! let loaded = Mst::load(&mut store, root)?;
//! assert_eq!(loaded.entries()?, [(path, value)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod diff;
mod error;
mod iter;
mod key;
mod node;
mod proof;
mod repr;
mod tree;

pub use atproto_core::data::MAX_CID_LEN;
pub use diff::DiffOp;
pub use error::MstError;
pub use iter::{Iter, KeyValue};
pub use key::{common_prefix_len, key_height};
pub use node::{EntryData, MAX_NODE_ENTRIES, NodeData, node_cid};
pub(crate) use node::{LinkRef, NodeRefs, cid_from_digest};
pub use tree::Mst;
pub(crate) use tree::{Link, Node, child_layer, gap_bounds, load_node};

/// The CID of the empty tree's root node, `{l: null, e: []}`.
pub const EMPTY_TREE_ROOT: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
