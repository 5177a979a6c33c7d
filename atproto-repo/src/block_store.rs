//! Content-addressed block storage.
//!
//! A [`BlockStore`] maps CIDs to the bytes they address. The repository code
//! never does I/O itself: databases, files and caches plug in through this
//! trait, and [`MemoryBlockStore`] serves tests and short-lived tools.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;

use atproto_core::Cid;
use bytes::Bytes;

/// Why a [`BlockStore`] operation failed.
///
/// Not `Clone` nor `PartialEq`: a backend failure keeps the backend's own
/// error, reachable through [`source`](core::error::Error::source) (and
/// `downcast_ref`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage backend failed; its error is the `source`.
    #[error("block store backend error: {source}")]
    Backend {
        /// What the backend reported (an I/O or database error, ...).
        source: Box<dyn core::error::Error + Send + Sync>,
    },
    /// The store does not accept writes.
    #[error("the block store is read-only")]
    ReadOnly,
}

impl StoreError {
    /// A backend failure caused by `source`: any error type, or a message
    /// (`&str` and `String` convert too).
    pub fn backend(source: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        StoreError::Backend {
            source: source.into(),
        }
    }
}

/// A content-addressed block store: CID → bytes.
///
/// Implementations store what they are given; checking that a block hashes to
/// its CID is the reader's job (the MST verifies every node it loads).
///
/// The trait is object safe, and `&mut S` and `Box<S>` (so also
/// `Box<dyn BlockStore>`) are block stores that forward every method to
/// `S`, including a backend's own [`put_many`](BlockStore::put_many).
pub trait BlockStore {
    /// The block addressed by `cid`, if the store holds it.
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError>;

    /// Whether the store holds the block addressed by `cid`.
    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.get(cid)?.is_some())
    }

    /// Stores `block` under `cid` (a no-op when it is already present).
    fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), StoreError>;

    /// Stores many blocks, in the order given; backends override this to
    /// write them in one batch (one transaction). [`Repo`](crate::Repo)
    /// writes each commit with one call, the commit block last.
    ///
    /// The default calls [`put`](BlockStore::put) for each block.
    fn put_many(
        &mut self,
        blocks: &mut dyn Iterator<Item = (Cid, Bytes)>,
    ) -> Result<(), StoreError> {
        for (cid, block) in blocks {
            self.put(cid, block)?;
        }
        Ok(())
    }

    /// Whether every block [`get`](BlockStore::get) returns is known to
    /// hash to its CID, so a reader may skip hashing it again (the MST then
    /// loads nodes without re-hashing them: every byte hashed once).
    ///
    /// Return `true` only from a store that checked each block against its
    /// CID on the way in and whose writes keep that true (refused, or
    /// checked). The default, `false`, is always safe.
    fn blocks_verified(&self) -> bool {
        false
    }
}

/// Implements [`BlockStore`] for a pointer to `S` by forwarding every method.
macro_rules! forward_block_store {
    ($pointer:ty) => {
        impl<S: BlockStore + ?Sized> BlockStore for $pointer {
            fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
                (**self).get(cid)
            }

            fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
                (**self).has(cid)
            }

            fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), StoreError> {
                (**self).put(cid, block)
            }

            fn put_many(
                &mut self,
                blocks: &mut dyn Iterator<Item = (Cid, Bytes)>,
            ) -> Result<(), StoreError> {
                (**self).put_many(blocks)
            }

            fn blocks_verified(&self) -> bool {
                (**self).blocks_verified()
            }
        }
    };
}

forward_block_store!(&mut S);
forward_block_store!(Box<S>);

/// A block store in memory, ordered by CID so iteration is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryBlockStore {
    blocks: BTreeMap<Cid, Bytes>,
}

impl MemoryBlockStore {
    /// An empty store.
    pub const fn new() -> Self {
        Self {
            blocks: BTreeMap::new(),
        }
    }

    /// The number of blocks held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the store holds no block.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Every block, in CID order.
    pub fn iter(&self) -> impl Iterator<Item = (&Cid, &Bytes)> {
        self.blocks.iter()
    }

    /// Removes a block, returning it if it was present.
    pub fn remove(&mut self, cid: &Cid) -> Option<Bytes> {
        self.blocks.remove(cid)
    }
}

impl BlockStore for MemoryBlockStore {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        Ok(self.blocks.get(cid).cloned())
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.blocks.contains_key(cid))
    }

    fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), StoreError> {
        self.blocks.entry(cid).or_insert(block);
        Ok(())
    }
}

impl FromIterator<(Cid, Bytes)> for MemoryBlockStore {
    fn from_iter<I: IntoIterator<Item = (Cid, Bytes)>>(iter: I) -> Self {
        Self {
            blocks: iter.into_iter().collect(),
        }
    }
}
