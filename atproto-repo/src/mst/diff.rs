//! The difference between two trees, as record operations.

use alloc::vec::Vec;
use core::cmp::Ordering;

use atproto_core::Cid;

use super::MstError;
use super::iter::{Pos, Walker};
use super::tree::{Mst, load_node};
use crate::block_store::BlockStore;
use crate::record_path::RecordPath;

/// One change between two trees.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiffOp {
    /// The key is only in the new tree.
    Create {
        /// The key.
        key: RecordPath,
        /// Its value in the new tree.
        cid: Cid,
    },
    /// The key is in both trees with different values.
    Update {
        /// The key.
        key: RecordPath,
        /// Its value in the old tree.
        prev: Cid,
        /// Its value in the new tree.
        cid: Cid,
    },
    /// The key is only in the old tree.
    Delete {
        /// The key.
        key: RecordPath,
        /// Its value in the old tree.
        prev: Cid,
    },
}

impl DiffOp {
    /// The key the operation is about.
    pub fn key(&self) -> &RecordPath {
        match self {
            DiffOp::Create { key, .. }
            | DiffOp::Update { key, .. }
            | DiffOp::Delete { key, .. } => key,
        }
    }
}

/// Whether both walkers stand on subtrees with the same known CID.
fn same_subtree<S, T>(a: &Walker<'_, S>, b: &Walker<'_, T>) -> bool
where
    S: BlockStore + ?Sized,
    T: BlockStore + ?Sized,
{
    match (a.subtree_cid(), b.subtree_cid()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

enum Step {
    Done,
    Delete,
    Create,
    Same { updated: bool },
    SkipBoth,
    DescendOld,
    DescendNew,
    DescendBoth,
}

impl<S: BlockStore> Mst<S> {
    /// The operations that turn `self` into `new`, in key order.
    ///
    /// Subtrees whose CIDs are equal on both sides are skipped without being
    /// read, so the work is proportional to the change when both trees have
    /// been hashed ([`root_cid`](Self::root_cid)) or loaded from a store;
    /// nodes changed since the last hash are compared entry by entry.
    pub fn diff<T: BlockStore>(&self, new: &Mst<T>) -> Result<Vec<DiffOp>, MstError> {
        if self.root.cid.is_some() && self.root.cid == new.root.cid {
            return Ok(Vec::new());
        }
        diff_walk(
            Walker::new(&self.root, &self.store),
            Walker::new(&new.root, &new.store),
        )
    }

    /// The operations that turn `self` into the tree whose root is
    /// `new_root`, read (lazily, with the usual checks) from this tree's
    /// store.
    pub fn diff_root(&self, new_root: Cid) -> Result<Vec<DiffOp>, MstError> {
        let (new, _) = load_node(&self.store, &new_root, None, None, None)?;
        if self.root.cid.is_some() && self.root.cid == new.cid {
            return Ok(Vec::new());
        }
        diff_walk(
            Walker::new(&self.root, &self.store),
            Walker::new(&new, &self.store),
        )
    }
}

fn diff_walk<S, T>(mut a: Walker<'_, S>, mut b: Walker<'_, T>) -> Result<Vec<DiffOp>, MstError>
where
    S: BlockStore + ?Sized,
    T: BlockStore + ?Sized,
{
    let mut ops = Vec::new();
    loop {
        let step = match (a.peek(), b.peek()) {
            (Pos::End, Pos::End) => Step::Done,
            (Pos::Subtree(..), Pos::End) | (Pos::Subtree(..), Pos::Leaf(..)) => Step::DescendOld,
            (Pos::End, Pos::Subtree(..)) | (Pos::Leaf(..), Pos::Subtree(..)) => Step::DescendNew,
            (Pos::Leaf(..), Pos::End) => Step::Delete,
            (Pos::End, Pos::Leaf(..)) => Step::Create,
            (Pos::Leaf(ka, va), Pos::Leaf(kb, vb)) => match ka.cmp(kb) {
                Ordering::Less => Step::Delete,
                Ordering::Greater => Step::Create,
                Ordering::Equal => Step::Same { updated: va != vb },
            },
            (Pos::Subtree(la), Pos::Subtree(lb)) => {
                if la == lb && same_subtree(&a, &b) {
                    Step::SkipBoth
                } else if la > lb {
                    Step::DescendOld
                } else if lb > la {
                    Step::DescendNew
                } else {
                    Step::DescendBoth
                }
            }
        };
        match step {
            Step::Done => return Ok(ops),
            Step::Delete => {
                if let Some((key, prev)) = a.take_leaf() {
                    ops.push(DiffOp::Delete { key, prev });
                }
            }
            Step::Create => {
                if let Some((key, cid)) = b.take_leaf() {
                    ops.push(DiffOp::Create { key, cid });
                }
            }
            Step::Same { updated } => {
                let old = a.take_leaf();
                let new = b.take_leaf();
                if let (true, Some((_, prev)), Some((key, cid))) = (updated, old, new) {
                    ops.push(DiffOp::Update { key, prev, cid });
                }
            }
            Step::SkipBoth => {
                a.skip();
                b.skip();
            }
            Step::DescendOld => a.descend()?,
            Step::DescendNew => b.descend()?,
            Step::DescendBoth => {
                a.descend()?;
                b.descend()?;
            }
        }
    }
}
