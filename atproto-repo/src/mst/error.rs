//! The MST error type.

use alloc::boxed::Box;

use atproto_core::Cid;

use crate::block_store::StoreError;
use crate::suffix::Suffix;

/// Why an MST operation failed.
///
/// Not `Clone` nor `PartialEq`: a store failure carries the backend's own
/// error as its [`source`](core::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MstError {
    /// A node's bytes are not the canonical DAG-CBOR of a well-formed node.
    #[error("malformed MST node{}: byte {offset}: {reason}", Suffix(" ", .cid.as_deref()))]
    MalformedNode {
        /// The node's CID, when it was being loaded from a store.
        cid: Option<Box<Cid>>,
        /// Byte offset in the node's encoding where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A node holds more entries than [`MAX_NODE_ENTRIES`](super::MAX_NODE_ENTRIES).
    #[error("MST node{} has {count} entries; the limit is {max}", Suffix(" ", .cid.as_deref()))]
    TooManyEntries {
        /// The node's CID, when it was being loaded from a store.
        cid: Option<Box<Cid>>,
        /// The entry count the node declares.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// A node is well formed but does not fit where the tree places it.
    #[error("invalid MST structure in node {cid}: {reason}")]
    Structure {
        /// The offending node.
        cid: Box<Cid>,
        /// What is wrong (wrong layer, keys outside the parent's range, ...).
        reason: &'static str,
    },
    /// A node the tree needs is not in the block store.
    #[error("MST node {cid} is missing from the block store")]
    MissingBlock {
        /// The node's CID.
        cid: Box<Cid>,
    },
    /// A block's bytes do not hash to the CID it was fetched by.
    #[error("block {cid} does not hash to its CID")]
    HashMismatch {
        /// The CID the block was stored under.
        cid: Box<Cid>,
    },
    /// A CID cannot address an MST node, or cannot be a value (CIDv0).
    #[error("unsupported CID {cid}: {reason}")]
    UnsupportedCid {
        /// The CID.
        cid: Box<Cid>,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An internal invariant of the in-memory tree was broken (a bug).
    #[error("internal MST invariant broken: {0}")]
    Internal(&'static str),
    /// The block store failed; the [`StoreError`] is the
    /// [`source`](core::error::Error::source).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl MstError {
    /// Attaches the CID of the node being loaded to a decoding error.
    pub(crate) fn in_node(self, node: &Cid) -> Self {
        match self {
            Self::MalformedNode {
                cid: None,
                offset,
                reason,
            } => Self::MalformedNode {
                cid: Some(Box::new(*node)),
                offset,
                reason,
            },
            Self::TooManyEntries {
                cid: None,
                count,
                max,
            } => Self::TooManyEntries {
                cid: Some(Box::new(*node)),
                count,
                max,
            },
            other => other,
        }
    }

    pub(crate) fn structure(cid: &Cid, reason: &'static str) -> Self {
        Self::Structure {
            cid: Box::new(*cid),
            reason,
        }
    }
}
