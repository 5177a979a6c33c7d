//! CAR export: the whole repository, or the blocks added since a rev.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::syntax::Tid;
use bytes::Bytes;

use super::{Repo, RepoError, read_commit};
use crate::block_store::BlockStore;
use crate::car::{CarWrite, CarWriter};
use crate::mst::{
    DiffOp, Link, MstError, Node, child_layer, cid_from_digest, gap_bounds, load_node,
};

/// Walks a tree in the streamable CAR order: each node, then (in key order)
/// its left subtree, then each entry's record and right subtree.
struct Exporter<'a, S: ?Sized, W> {
    store: &'a S,
    out: &'a mut CarWriter<W>,
    buf: Vec<u8>,
    /// Subtrees to leave out (already held by the receiver).
    skip: Option<&'a BTreeSet<Cid>>,
    /// Records to write; all when `None`.
    records: Option<&'a BTreeSet<Cid>>,
}

impl<S: BlockStore + ?Sized, W: CarWrite> Exporter<'_, S, W> {
    fn node(
        &mut self,
        node: &Node,
        block: Option<&Bytes>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) -> Result<(), RepoError> {
        let digest = node.cid.ok_or(MstError::Internal("node not hashed"))?;
        let cid = cid_from_digest(&digest);
        match block {
            Some(b) => self.out.write_block(&cid, b)?,
            None => {
                self.buf.clear();
                node.encode(&mut self.buf)?;
                self.out.write_block(&cid, &self.buf)?;
            }
        }
        for g in 0..=node.entries.len() {
            let (clo, chi) = gap_bounds(node, g, lo, hi);
            match node.gap(g) {
                Link::Empty => {}
                Link::Node(child) => {
                    let skip = match (&self.skip, child.cid) {
                        (Some(skip), Some(d)) => skip.contains(&cid_from_digest(&d)),
                        _ => false,
                    };
                    if !skip {
                        self.node(child, None, clo, chi)?;
                    }
                }
                Link::Stub(cid) => {
                    if self.skip.is_some_and(|s| s.contains(cid)) {
                        continue;
                    }
                    let (child, bytes) =
                        load_node(self.store, cid, Some(child_layer(node)?), clo, chi)?;
                    self.node(&child, Some(&bytes), clo, chi)?;
                }
            }
            if let Some(e) = node.entries.get(g) {
                let value = e.value.to_cid();
                if self.records.is_some_and(|r| !r.contains(&value)) {
                    continue;
                }
                let record = self
                    .store
                    .get(&value)?
                    .ok_or_else(|| RepoError::MissingRecord {
                        path: e.key.clone(),
                        cid: Box::new(value),
                    })?;
                self.out.write_block(&value, &record)?;
            }
        }
        Ok(())
    }
}

/// Every node CID of the stored tree under `cid`.
fn collect_nodes<S: BlockStore + ?Sized>(
    store: &S,
    cid: &Cid,
    layer: Option<u8>,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    out: &mut BTreeSet<Cid>,
) -> Result<(), MstError> {
    if !out.insert(*cid) {
        return Ok(());
    }
    let (node, _) = load_node(store, cid, layer, lo, hi)?;
    for g in 0..=node.entries.len() {
        if let Link::Stub(child) = node.gap(g) {
            let (clo, chi) = gap_bounds(&node, g, lo, hi);
            collect_nodes(store, child, Some(child_layer(&node)?), clo, chi, out)?;
        }
    }
    Ok(())
}

impl<S: BlockStore> Repo<S> {
    /// Writes the whole repository as a CAR v1 (root: the commit) in the
    /// streamable order: the commit block, then the MST in pre-order — each
    /// node, then in key order its left subtree, each entry's record block
    /// and the entry's right subtree (SPEC-NOTES §4). Returns the sink.
    ///
    /// # Errors
    /// A missing node or record, or a write failure.
    pub fn export_car<W: CarWrite>(&mut self, out: W) -> Result<W, RepoError> {
        self.export(out, None, None)
    }

    /// Writes, as a CAR v1 (root: the current commit), what a holder of the
    /// repository at rev `since` lacks: the current commit, the MST nodes
    /// not in the tree of `since`, and the records created or updated
    /// since, in the same streamable order as [`Repo::export_car`].
    ///
    /// The tree of `since` is the one of the newest commit with a rev at or
    /// before `since`, found by following `prev` links from the current
    /// commit; those commits and their MST nodes must still be in the store
    /// (this crate never deletes blocks). Cost: the old tree's nodes are all
    /// read once, plus the diff.
    ///
    /// # Errors
    /// [`RepoError::UnknownRev`] when no such commit is reachable; missing
    /// blocks; write failures.
    pub fn export_car_since<W: CarWrite>(&mut self, since: Tid, out: W) -> Result<W, RepoError> {
        let mut commit = self.commit.clone();
        while commit.rev > since {
            let Some(prev) = commit.prev else {
                return Err(RepoError::UnknownRev { rev: since });
            };
            commit = match read_commit(self.mst.store(), &prev) {
                Ok(c) => c,
                Err(RepoError::MissingCommit { .. }) => {
                    return Err(RepoError::UnknownRev { rev: since });
                }
                Err(e) => return Err(e),
            };
        }
        let old_root = commit.data;
        let mut old_nodes = BTreeSet::new();
        collect_nodes(
            self.mst.store(),
            &old_root,
            None,
            None,
            None,
            &mut old_nodes,
        )?;
        // Diff from the current tree to the old one: what it deletes or
        // updates are the records the receiver lacks.
        let records: BTreeSet<Cid> = self
            .mst
            .diff_root(old_root)?
            .into_iter()
            .filter_map(|op| match op {
                DiffOp::Update { prev, .. } | DiffOp::Delete { prev, .. } => Some(prev),
                _ => None,
            })
            .collect();
        self.export(out, Some(&old_nodes), Some(&records))
    }

    fn export<W: CarWrite>(
        &mut self,
        out: W,
        skip: Option<&BTreeSet<Cid>>,
        records: Option<&BTreeSet<Cid>>,
    ) -> Result<W, RepoError> {
        let root = self.mst.root_cid()?;
        let commit_block = self
            .mst
            .store()
            .get(&self.cid)?
            .unwrap_or_else(|| Bytes::from(self.commit.to_cbor()));
        let mut writer = CarWriter::new(out, core::slice::from_ref(&self.cid))?;
        writer.write_block(&self.cid, &commit_block)?;
        if skip.is_none_or(|s| !s.contains(&root)) {
            let mut ex = Exporter {
                store: self.mst.store(),
                out: &mut writer,
                buf: Vec::new(),
                skip,
                records,
            };
            ex.node(&self.mst.root, None, None, None)?;
        }
        Ok(writer.finish())
    }
}
