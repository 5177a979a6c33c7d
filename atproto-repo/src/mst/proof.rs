//! Covering proofs: the nodes a commit carries so a consumer holding only
//! them can check each operation and invert it (sync v1.1).
//!
//! For each key the proof holds, in the tree after the commit:
//! - the path down to the key, or to the last node that could hold it;
//! - the path down to its left neighbour (the subtree just before it);
//! - the path down to its right neighbour (the subtree just after it, or
//!   the one where it would be when absent).
//!
//! These are the rules of the reference implementation's
//! `getCoveringProof`, and the `firehose/commit-proof-fixtures.json`
//! vectors pin the resulting node sets.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use atproto_core::Cid;
use bytes::Bytes;

use super::MstError;
use super::node::cid_from_digest;
use super::tree::{Link, Mst, Node, gap_parts, resolve};
use crate::block_store::BlockStore;
use crate::record_path::RecordPath;

#[derive(Clone, Copy)]
enum Rule {
    Key,
    LeftNeighbour,
    RightNeighbour,
}

/// Gap `g` if it holds a subtree.
fn subtree_at(node: &Node, g: usize) -> Option<usize> {
    (!matches!(node.gap(g), Link::Empty)).then_some(g)
}

/// Whether `node` is in the proof under `rule`, and the gap to go on into.
///
/// In a node's in-order sequence (subtrees and keys interleaved), the
/// neighbour just before a key, or before where it would be, is the subtree
/// at gap `i` (else a key, which ends the descent); the one just after a
/// present key `j` is the subtree at gap `j + 1`.
fn step(node: &Node, key: &[u8], rule: Rule) -> (bool, Option<usize>) {
    match (rule, node.search(key)) {
        (Rule::Key, Ok(_)) => (true, None),
        (Rule::Key, Err(i)) => {
            let g = subtree_at(node, i);
            (g.is_some(), g)
        }
        (Rule::LeftNeighbour, Ok(i) | Err(i)) => (true, subtree_at(node, i)),
        (Rule::RightNeighbour, Ok(j)) => (true, subtree_at(node, j + 1)),
        (Rule::RightNeighbour, Err(i)) => (true, subtree_at(node, i)),
    }
}

struct Prover<'p, T: ?Sized> {
    out: &'p mut T,
    done: BTreeSet<[u8; 32]>,
    buf: Vec<u8>,
}

impl<T: BlockStore + ?Sized> Prover<'_, T> {
    #[allow(clippy::too_many_arguments)]
    fn prove<S: BlockStore + ?Sized>(
        &mut self,
        node: &mut Node,
        key: &[u8],
        rule: Rule,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        store: &S,
    ) -> Result<(), MstError> {
        let (include, next) = step(node, key, rule);
        if include {
            self.emit(node)?;
        }
        let Some(g) = next else {
            return Ok(());
        };
        let Some(layer) = node.layer.checked_sub(1) else {
            return Err(MstError::Internal("a layer-0 node has a subtree"));
        };
        let (clo, chi, link) = gap_parts(&mut node.left, &mut node.entries, g, lo, hi);
        match resolve(link, layer, clo, chi, store)? {
            Some(child) => self.prove(child, key, rule, clo, chi, store),
            None => Ok(()),
        }
    }

    fn emit(&mut self, node: &Node) -> Result<(), MstError> {
        let digest = node
            .cid
            .ok_or(MstError::Internal("proof node not hashed"))?;
        if self.done.insert(digest) {
            self.buf.clear();
            node.encode(&mut self.buf)?;
            self.out
                .put(cid_from_digest(&digest), Bytes::copy_from_slice(&self.buf))?;
        }
        Ok(())
    }
}

impl<S: BlockStore> Mst<S> {
    /// Writes into `out` the covering proof of `keys`: the nodes that show
    /// each key's value (or absence) and its neighbours on both sides. With
    /// these blocks a consumer can check the operations of a commit on
    /// `keys` and invert them to the previous root. Returns the root CID.
    ///
    /// Nodes not in memory are read from the tree's store (and kept).
    pub fn covering_proof<I, K, T>(&mut self, keys: I, out: &mut T) -> Result<Cid, MstError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<RecordPath>,
        T: BlockStore + ?Sized,
    {
        let root = self.root_cid()?;
        let mut prover = Prover {
            out,
            done: BTreeSet::new(),
            buf: core::mem::take(&mut self.scratch),
        };
        prover.emit(&self.root)?;
        let mut result = Ok(());
        'keys: for key in keys {
            let key = key.as_ref().as_bytes();
            for rule in [Rule::Key, Rule::LeftNeighbour, Rule::RightNeighbour] {
                result = prover.prove(&mut self.root, key, rule, None, None, &self.store);
                if result.is_err() {
                    break 'keys;
                }
            }
        }
        self.scratch = prover.buf;
        result.map(|()| root)
    }
}
