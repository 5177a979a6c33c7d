//! The in-memory tree: nodes, lazy loading, insert, remove and hashing.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::mem;

use atproto_core::Cid;
use atproto_core::cid::Version;
use atproto_core::data::{DAG_CBOR_CODEC, SHA2_256, SHA2_256_LEN};
use bytes::Bytes;

use super::MstError;
use super::key::key_height;
use super::node::{
    NodeRefs, cid_from_digest, write_cid, write_entry_start, write_entry_value_key,
    write_node_head, write_node_link, write_node_tail_key, write_null,
};
use super::repr::ValueCid;
use crate::block_store::{BlockStore, MemoryBlockStore};
use crate::record_path::RecordPath;

/// A link from a node to a subtree one layer down.
#[derive(Debug, Clone, Default)]
pub(crate) enum Link {
    /// No subtree.
    #[default]
    Empty,
    /// A subtree still in the block store, loaded on demand.
    Stub(Box<Cid>),
    /// A subtree in memory.
    Node(Box<Node>),
}

impl Link {
    fn is_empty(&self) -> bool {
        matches!(self, Link::Empty)
    }

    fn from_cid(cid: Option<Cid>) -> Self {
        match cid {
            Some(cid) => Link::Stub(Box::new(cid)),
            None => Link::Empty,
        }
    }

    fn from_node(node: Box<Node>) -> Self {
        if node.is_empty() {
            Link::Empty
        } else {
            Link::Node(node)
        }
    }

    /// Writes the link as DAG-CBOR; in-memory nodes must have been hashed.
    #[inline]
    fn write(&self, out: &mut Vec<u8>) -> Result<(), MstError> {
        match self {
            Link::Empty => write_null(out),
            Link::Stub(cid) => write_cid(out, cid),
            Link::Node(n) => match &n.cid {
                Some(digest) => write_node_link(out, digest),
                None => {
                    return Err(MstError::Internal(
                        "child node not hashed before its parent",
                    ));
                }
            },
        }
        Ok(())
    }

    /// The CID if it is known without hashing.
    pub(crate) fn known_cid(&self) -> Option<Cid> {
        match self {
            Link::Empty => None,
            Link::Stub(cid) => Some(**cid),
            Link::Node(n) => n.cid.as_ref().map(cid_from_digest),
        }
    }
}

/// One key of a node, its value, and the subtree after it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: RecordPath,
    pub(crate) value: ValueCid,
    pub(crate) right: Link,
}

/// A node in memory. All its keys have height `layer`; its subtrees are at
/// `layer - 1`.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) layer: u8,
    pub(crate) left: Link,
    pub(crate) entries: Vec<Entry>,
    /// The SHA-256 digest of the node's encoding (its CID is dag-cbor
    /// CIDv1 over it), or `None` when it changed since it was last hashed.
    pub(crate) cid: Option<[u8; 32]>,
    /// Whether the node's block has been written (or came from the store).
    stored: bool,
}

impl Node {
    fn new(layer: u8) -> Self {
        Node {
            layer,
            left: Link::Empty,
            entries: Vec::new(),
            cid: None,
            stored: false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.left.is_empty()
    }

    fn touch(&mut self) {
        self.cid = None;
        self.stored = false;
    }

    pub(crate) fn gap(&self, g: usize) -> &Link {
        if g == 0 {
            &self.left
        } else {
            &self.entries[g - 1].right
        }
    }

    fn gap_mut(&mut self, g: usize) -> &mut Link {
        if g == 0 {
            &mut self.left
        } else {
            &mut self.entries[g - 1].right
        }
    }

    pub(crate) fn search(&self, key: &[u8]) -> Result<usize, usize> {
        if self.entries.len() > 8 {
            return self.entries.binary_search_by(|e| e.key.as_bytes().cmp(key));
        }
        // Nodes hold about four entries: a forward scan touches memory in
        // order and beats a binary search's unpredictable branches.
        for (i, e) in self.entries.iter().enumerate() {
            match e.key.as_bytes().cmp(key) {
                core::cmp::Ordering::Less => {}
                core::cmp::Ordering::Equal => return Ok(i),
                core::cmp::Ordering::Greater => return Err(i),
            }
        }
        Err(self.entries.len())
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), MstError> {
        write_node_head(out, self.entries.len());
        let mut prev: &[u8] = &[];
        for e in &self.entries {
            write_entry_start(out, prev, e.key.as_bytes());
            e.right.write(out)?;
            write_entry_value_key(out);
            e.value.write(out);
            prev = e.key.as_bytes();
        }
        write_node_tail_key(out);
        self.left.write(out)
    }

    /// The node's digest, hashing it and any changed descendants first.
    fn compute_cid(&mut self, buf: &mut Vec<u8>) -> Result<[u8; 32], MstError> {
        if let Some(cid) = self.cid {
            return Ok(cid);
        }
        if let Link::Node(n) = &mut self.left {
            n.compute_cid(buf)?;
        }
        for e in &mut self.entries {
            if let Link::Node(n) = &mut e.right {
                n.compute_cid(buf)?;
            }
        }
        buf.clear();
        self.encode(buf)?;
        let digest: [u8; 32] = crate::hash::sha256(buf.as_slice());
        self.cid = Some(digest);
        Ok(digest)
    }

    /// Writes this node and its changed descendants into `store`.
    fn write<T: BlockStore + ?Sized>(
        &mut self,
        store: &mut T,
        buf: &mut Vec<u8>,
    ) -> Result<Cid, MstError> {
        if self.stored
            && let Some(digest) = &self.cid
        {
            return Ok(cid_from_digest(digest));
        }
        if let Link::Node(n) = &mut self.left {
            n.write(store, buf)?;
        }
        for e in &mut self.entries {
            if let Link::Node(n) = &mut e.right {
                n.write(store, buf)?;
            }
        }
        buf.clear();
        self.encode(buf)?;
        let digest: [u8; 32] = match self.cid {
            Some(digest) => digest,
            None => crate::hash::sha256(buf.as_slice()),
        };
        let cid = cid_from_digest(&digest);
        store.put(cid, Bytes::copy_from_slice(buf))?;
        self.cid = Some(digest);
        self.stored = true;
        Ok(cid)
    }

    // ---- mutation (every node on the path is already in memory) ----

    /// Inserts or updates `key`; returns the previous value and whether the
    /// tree changed.
    fn insert(
        &mut self,
        key: &RecordPath,
        height: u8,
        value: ValueCid,
    ) -> Result<(Option<ValueCid>, bool), MstError> {
        match self.search(key.as_bytes()) {
            Ok(i) => {
                let e = &mut self.entries[i];
                if e.value == value {
                    return Ok((Some(value), false));
                }
                let old = mem::replace(&mut e.value, value);
                self.touch();
                Ok((Some(old), true))
            }
            Err(g) if self.layer == height => {
                let (l, r) = split(mem::take(self.gap_mut(g)), key.as_bytes())?;
                *self.gap_mut(g) = l;
                self.entries.insert(
                    g,
                    Entry {
                        key: key.clone(),
                        value,
                        right: r,
                    },
                );
                self.touch();
                Ok((None, true))
            }
            Err(g) => {
                let child_layer = self.layer - 1;
                let link = self.gap_mut(g);
                if link.is_empty() {
                    *link = Link::Node(Box::new(Node::new(child_layer)));
                }
                let Link::Node(child) = link else {
                    return Err(MstError::Internal("insert path not loaded"));
                };
                let (old, changed) = child.insert(key, height, value)?;
                if changed {
                    self.touch();
                }
                Ok((old, changed))
            }
        }
    }

    fn remove(&mut self, key: &[u8], height: u8) -> Result<Option<ValueCid>, MstError> {
        match self.search(key) {
            Ok(i) => {
                let e = self.entries.remove(i);
                let left = mem::take(self.gap_mut(i));
                *self.gap_mut(i) = merge(left, e.right)?;
                self.touch();
                Ok(Some(e.value))
            }
            Err(_) if self.layer <= height => Ok(None),
            Err(g) => {
                let link = self.gap_mut(g);
                let removed = match link {
                    Link::Empty => return Ok(None),
                    Link::Stub(_) => return Err(MstError::Internal("remove path not loaded")),
                    Link::Node(child) => {
                        let removed = child.remove(key, height)?;
                        if removed.is_some() && child.is_empty() {
                            *link = Link::Empty;
                        }
                        removed
                    }
                };
                if removed.is_some() {
                    self.touch();
                }
                Ok(removed)
            }
        }
    }

    // ---- loading the nodes a mutation will touch ----

    /// Loads every node on the search path of `key` (which is also the path
    /// a split around `key` follows).
    fn load_path<S: BlockStore + ?Sized>(
        &mut self,
        key: &[u8],
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        store: &S,
    ) -> Result<(), MstError> {
        let Err(g) = self.search(key) else {
            return Ok(());
        };
        if self.layer == 0 {
            return Ok(());
        }
        let layer = self.layer - 1;
        let (clo, chi, link) = gap_parts(&mut self.left, &mut self.entries, g, lo, hi);
        match resolve(link, layer, clo, chi, store)? {
            Some(child) => child.load_path(key, clo, chi, store),
            None => Ok(()),
        }
    }

    /// Loads the nodes removing `key` touches: its search path, then the
    /// facing edges of the two subtrees around it, which get merged.
    fn load_remove_path<S: BlockStore + ?Sized>(
        &mut self,
        key: &[u8],
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        store: &S,
    ) -> Result<(), MstError> {
        if self.layer == 0 {
            return Ok(());
        }
        let layer = self.layer - 1;
        match self.search(key) {
            Ok(i) => {
                let (clo, chi, link) = gap_parts(&mut self.left, &mut self.entries, i, lo, hi);
                load_edge(link, layer, clo, chi, Edge::Right, store)?;
                let (clo, chi, link) = gap_parts(&mut self.left, &mut self.entries, i + 1, lo, hi);
                load_edge(link, layer, clo, chi, Edge::Left, store)
            }
            Err(g) => {
                let (clo, chi, link) = gap_parts(&mut self.left, &mut self.entries, g, lo, hi);
                match resolve(link, layer, clo, chi, store)? {
                    Some(child) => child.load_remove_path(key, clo, chi, store),
                    None => Ok(()),
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Edge {
    Left,
    Right,
}

fn load_edge<S: BlockStore + ?Sized>(
    link: &mut Link,
    layer: u8,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    edge: Edge,
    store: &S,
) -> Result<(), MstError> {
    let Some(node) = resolve(link, layer, lo, hi, store)? else {
        return Ok(());
    };
    if node.layer == 0 {
        return Ok(());
    }
    let child_layer = node.layer - 1;
    let g = match edge {
        Edge::Left => 0,
        Edge::Right => node.entries.len(),
    };
    let (clo, chi, link) = gap_parts(&mut node.left, &mut node.entries, g, lo, hi);
    load_edge(link, child_layer, clo, chi, edge, store)
}

/// The subtree link at gap `g` with the key range it must hold.
pub(crate) fn gap_parts<'a>(
    left: &'a mut Link,
    entries: &'a mut [Entry],
    g: usize,
    lo: Option<&'a [u8]>,
    hi: Option<&'a [u8]>,
) -> (Option<&'a [u8]>, Option<&'a [u8]>, &'a mut Link) {
    let (before, after) = entries.split_at_mut(g);
    let after: &'a [Entry] = after;
    let chi = match after.first() {
        Some(e) => Some(e.key.as_bytes()),
        None => hi,
    };
    match before.split_last_mut() {
        None => (lo, chi, left),
        Some((e, _)) => {
            let Entry { key, right, .. } = e;
            (Some(key.as_bytes()), chi, right)
        }
    }
}

/// Replaces a stub by its node, loaded and checked, and returns the node.
pub(crate) fn resolve<'n, S: BlockStore + ?Sized>(
    link: &'n mut Link,
    layer: u8,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    store: &S,
) -> Result<Option<&'n mut Node>, MstError> {
    if let Link::Stub(cid) = link {
        let (node, _) = load_node(store, cid, Some(layer), lo, hi)?;
        *link = Link::Node(Box::new(node));
    }
    match link {
        Link::Node(n) => Ok(Some(n)),
        _ => Ok(None),
    }
}

/// Splits a subtree into the keys below `key` and the keys above it.
fn split(link: Link, key: &[u8]) -> Result<(Link, Link), MstError> {
    let mut node = match link {
        Link::Empty => return Ok((Link::Empty, Link::Empty)),
        Link::Stub(_) => return Err(MstError::Internal("split path not loaded")),
        Link::Node(node) => node,
    };
    let Err(g) = node.search(key) else {
        return Err(MstError::Internal("key found below its own layer"));
    };
    let (ml, mr) = split(mem::take(node.gap_mut(g)), key)?;
    let right = Node {
        layer: node.layer,
        left: mr,
        entries: node.entries.split_off(g),
        cid: None,
        stored: false,
    };
    *node.gap_mut(g) = ml;
    node.touch();
    let right = if right.is_empty() {
        Link::Empty
    } else {
        Link::Node(Box::new(right))
    };
    Ok((Link::from_node(node), right))
}

/// Joins two adjacent subtrees of the same layer.
fn merge(a: Link, b: Link) -> Result<Link, MstError> {
    match (a, b) {
        (Link::Empty, x) | (x, Link::Empty) => Ok(x),
        (Link::Node(mut a), Link::Node(b)) => {
            let b = *b;
            let last = a.entries.len();
            let mid = merge(mem::take(a.gap_mut(last)), b.left)?;
            *a.gap_mut(last) = mid;
            a.entries.extend(b.entries);
            a.touch();
            Ok(Link::Node(a))
        }
        _ => Err(MstError::Internal("merge path not loaded")),
    }
}

/// Fetches a node, checks its hash and structure, and decodes it.
///
/// `layer` is the layer the parent implies (`None` for the root, whose layer
/// comes from its keys); `lo` and `hi` bound its keys (exclusive).
pub(crate) fn load_node<S: BlockStore + ?Sized>(
    store: &S,
    cid: &Cid,
    layer: Option<u8>,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
) -> Result<(Node, Bytes), MstError> {
    let mh = cid.hash();
    if cid.version() != Version::V1 || cid.codec() != DAG_CBOR_CODEC {
        return Err(MstError::UnsupportedCid {
            cid: Box::new(*cid),
            reason: "an MST node must be CIDv1 dag-cbor",
        });
    }
    if mh.code() != SHA2_256 || usize::from(mh.size()) != SHA2_256_LEN {
        return Err(MstError::UnsupportedCid {
            cid: Box::new(*cid),
            reason: "an MST node must be hashed with sha2-256",
        });
    }
    let bytes = store.get(cid)?.ok_or_else(|| MstError::MissingBlock {
        cid: Box::new(*cid),
    })?;
    if !store.blocks_verified() && crate::hash::sha256(&bytes)[..] != *mh.digest() {
        return Err(MstError::HashMismatch {
            cid: Box::new(*cid),
        });
    }
    // Decoded into borrowed form and built straight into the tree's own
    // representation: no intermediate `NodeData` with a `String` per key.
    let mut data = NodeRefs::default();
    data.decode(&bytes).map_err(|e| e.in_node(cid))?;
    let count = data.entries.len();
    let layer = match (layer, count) {
        (Some(layer), _) => {
            if count == 0 && data.left.is_none() {
                return Err(MstError::structure(cid, "empty node below the root"));
            }
            layer
        }
        (None, 1..) => key_height(data.key(0)),
        (None, 0) if data.left.is_some() => {
            return Err(MstError::structure(
                cid,
                "the root has no entries and only points to a subtree",
            ));
        }
        (None, 0) => 0,
    };
    for i in 0..count {
        if key_height(data.key(i)) != layer {
            return Err(MstError::structure(
                cid,
                "a key's height differs from its node's layer",
            ));
        }
    }
    if layer == 0 && (data.left.is_some() || data.entries.iter().any(|e| e.right.is_some())) {
        return Err(MstError::structure(cid, "a layer-0 node has subtrees"));
    }
    if let (Some(lo), 1..) = (lo, count)
        && data.key(0) <= lo
    {
        return Err(MstError::structure(
            cid,
            "keys below the range the parent node gives",
        ));
    }
    if let (Some(hi), 1..) = (hi, count)
        && data.key(count - 1) >= hi
    {
        return Err(MstError::structure(
            cid,
            "keys above the range the parent node gives",
        ));
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(mh.digest());
    let mut entries = Vec::with_capacity(count);
    for (i, e) in data.entries.iter().enumerate() {
        entries.push(Entry {
            // The decoder accepted only valid keys.
            key: RecordPath::from_checked(data.key(i)),
            value: ValueCid::new(&e.value.cid(&bytes)),
            right: Link::from_cid(e.right.map(|r| r.cid(&bytes))),
        });
    }
    let node = Node {
        layer,
        left: Link::from_cid(data.left.map(|l| l.cid(&bytes))),
        entries,
        cid: Some(digest),
        stored: true,
    };
    Ok((node, bytes))
}

/// A Merkle Search Tree mapping record paths ([`RecordPath`],
/// `<collection>/<rkey>`) to record CIDs.
///
/// The tree keeps changed nodes in memory and reads the others from its block
/// store `S` on demand, checking each one (hash, canonical encoding, layers,
/// key order) as it is loaded. Node CIDs are cached, so [`root_cid`]
/// re-hashes only the nodes changed since the previous call.
///
/// [`root_cid`]: Mst::root_cid
#[derive(Debug, Clone)]
pub struct Mst<S = MemoryBlockStore> {
    pub(crate) root: Node,
    pub(crate) store: S,
    pub(crate) scratch: Vec<u8>,
    /// Whether nodes may still be in the store only; trees built in memory
    /// skip the loading pass before each mutation.
    lazy: bool,
}

impl Mst<MemoryBlockStore> {
    /// An empty tree backed by an empty [`MemoryBlockStore`].
    pub fn new() -> Self {
        Self::with_store(MemoryBlockStore::new())
    }
}

impl Default for Mst<MemoryBlockStore> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: BlockStore> Mst<S> {
    /// An empty tree that loads nothing and persists into `store`.
    pub fn with_store(store: S) -> Self {
        Mst {
            root: Node::new(0),
            store,
            scratch: Vec::new(),
            lazy: false,
        }
    }

    /// Opens the tree whose root node is `root` in `store`.
    ///
    /// Only the root node is read now (and checked); the other nodes are read
    /// and checked when an operation first needs them.
    pub fn load(store: S, root: Cid) -> Result<Self, MstError> {
        let (node, _) = load_node(&store, &root, None, None, None)?;
        Ok(Mst {
            root: node,
            store,
            scratch: Vec::new(),
            lazy: true,
        })
    }

    /// The block store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The block store, mutably.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives back the block store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Whether the tree holds no key.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// The layer of the root node: the greatest key height (0 when empty).
    pub fn height(&self) -> u8 {
        self.root.layer
    }

    /// The value stored under `key`.
    ///
    /// Fails only when a node on the key's path cannot be loaded.
    pub fn get(&self, key: &RecordPath) -> Result<Option<Cid>, MstError> {
        get_in(&self.root, key.as_bytes(), None, None, &self.store)
    }

    /// Sets `key` to `value`, returning the previous value.
    ///
    /// Fails on a CIDv0 value or a node on the key's path that cannot be
    /// loaded; the tree is unchanged then (every node the write touches is
    /// loaded before anything changes).
    pub fn insert(&mut self, key: &RecordPath, value: Cid) -> Result<Option<Cid>, MstError> {
        if value.version() != Version::V1 {
            return Err(MstError::UnsupportedCid {
                cid: Box::new(value),
                reason: "values must be CIDv1",
            });
        }
        let height = key_height(key.as_bytes());
        if self.lazy {
            self.root
                .load_path(key.as_bytes(), None, None, &self.store)?;
        }
        if self.root.is_empty() {
            self.root.layer = height;
        }
        while self.root.layer < height {
            let layer = self.root.layer + 1;
            let old = mem::replace(&mut self.root, Node::new(layer));
            self.root.left = Link::Node(Box::new(old));
        }
        let (old, _) = self.root.insert(key, height, ValueCid::new(&value))?;
        Ok(old.map(|v| v.to_cid()))
    }

    /// Removes `key`, returning its value.
    ///
    /// Fails on a node on the key's path (or on the edges of the two
    /// subtrees its removal merges) that cannot be loaded; the tree is
    /// unchanged then.
    pub fn remove(&mut self, key: &RecordPath) -> Result<Option<Cid>, MstError> {
        let key = key.as_bytes();
        let height = key_height(key);
        if height > self.root.layer {
            return Ok(None);
        }
        if self.lazy {
            self.root.load_remove_path(key, None, None, &self.store)?;
        }
        let removed = self.root.remove(key, height)?.map(|v| v.to_cid());
        while self.root.entries.is_empty() {
            let Some(layer) = self.root.layer.checked_sub(1) else {
                break;
            };
            let Some(child) = resolve(&mut self.root.left, layer, None, None, &self.store)? else {
                self.root = Node::new(0);
                break;
            };
            let child = mem::replace(child, Node::new(0));
            self.root = child;
        }
        Ok(removed)
    }

    /// The root CID, re-hashing only the nodes changed since the last call.
    pub fn root_cid(&mut self) -> Result<Cid, MstError> {
        Ok(cid_from_digest(&self.root.compute_cid(&mut self.scratch)?))
    }

    /// Writes every node created or changed since the last write into
    /// `store`, and returns the root CID.
    ///
    /// Nodes that came from this tree's own store are not copied; use
    /// [`write_all_blocks`](Self::write_all_blocks) to copy the whole tree.
    pub fn write_blocks<T: BlockStore + ?Sized>(&mut self, store: &mut T) -> Result<Cid, MstError> {
        self.root.write(store, &mut self.scratch)
    }

    /// Writes the nodes created or changed since the last write into the
    /// tree's own store, and returns the root CID.
    pub fn persist(&mut self) -> Result<Cid, MstError> {
        self.root.write(&mut self.store, &mut self.scratch)
    }

    /// Writes every node of the tree into `store` (reading the ones not in
    /// memory from the tree's own store), and returns the root CID.
    pub fn write_all_blocks<T: BlockStore + ?Sized>(
        &mut self,
        store: &mut T,
    ) -> Result<Cid, MstError> {
        let root = self.root_cid()?;
        let mut buf = mem::take(&mut self.scratch);
        let result = visit_nodes(
            &self.root,
            None,
            None,
            None,
            &self.store,
            &mut |node, bytes| {
                let cid = cid_from_digest(&node.cid.ok_or(MstError::Internal("node not hashed"))?);
                let block = match bytes {
                    Some(bytes) => bytes.clone(),
                    None => {
                        buf.clear();
                        node.encode(&mut buf)?;
                        Bytes::copy_from_slice(&buf)
                    }
                };
                store.put(cid, block)?;
                Ok(())
            },
        );
        self.scratch = buf;
        result.map(|()| root)
    }

    /// The number of nodes, reading every node not in memory.
    pub fn node_count(&self) -> Result<usize, MstError> {
        let mut n = 0;
        visit_nodes(&self.root, None, None, None, &self.store, &mut |_, _| {
            n += 1;
            Ok(())
        })?;
        Ok(n)
    }
}

fn get_in<S: BlockStore + ?Sized>(
    node: &Node,
    key: &[u8],
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    store: &S,
) -> Result<Option<Cid>, MstError> {
    let g = match node.search(key) {
        Ok(i) => return Ok(Some(node.entries[i].value.to_cid())),
        Err(g) => g,
    };
    let (clo, chi) = gap_bounds(node, g, lo, hi);
    match node.gap(g) {
        Link::Empty => Ok(None),
        Link::Node(child) => get_in(child, key, clo, chi, store),
        Link::Stub(cid) => {
            let layer = child_layer(node)?;
            let (child, _) = load_node(store, cid, Some(layer), clo, chi)?;
            get_in(&child, key, clo, chi, store)
        }
    }
}

pub(crate) fn child_layer(node: &Node) -> Result<u8, MstError> {
    node.layer
        .checked_sub(1)
        .ok_or(MstError::Internal("a layer-0 node has a subtree"))
}

/// The exclusive key range of the subtree at gap `g`.
pub(crate) fn gap_bounds<'a>(
    node: &'a Node,
    g: usize,
    lo: Option<&'a [u8]>,
    hi: Option<&'a [u8]>,
) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
    let clo = if g == 0 {
        lo
    } else {
        Some(node.entries[g - 1].key.as_bytes())
    };
    let chi = match node.entries.get(g) {
        Some(e) => Some(e.key.as_bytes()),
        None => hi,
    };
    (clo, chi)
}

/// Calls `f` on `node` and every node below it in pre-order, loading (and
/// checking) the ones not in memory; `f` also gets the block of a node that
/// was loaded.
fn visit_nodes<S, F>(
    node: &Node,
    block: Option<&Bytes>,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    store: &S,
    f: &mut F,
) -> Result<(), MstError>
where
    S: BlockStore + ?Sized,
    F: FnMut(&Node, Option<&Bytes>) -> Result<(), MstError>,
{
    f(node, block)?;
    for g in 0..=node.entries.len() {
        let (clo, chi) = gap_bounds(node, g, lo, hi);
        match node.gap(g) {
            Link::Empty => {}
            Link::Node(child) => visit_nodes(child, None, clo, chi, store, f)?,
            Link::Stub(cid) => {
                let (child, bytes) = load_node(store, cid, Some(child_layer(node)?), clo, chi)?;
                visit_nodes(&child, Some(&bytes), clo, chi, store, f)?;
            }
        }
    }
    Ok(())
}
