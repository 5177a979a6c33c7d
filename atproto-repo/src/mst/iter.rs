//! In-order traversal: iteration, ranges and paging.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::{Bound, RangeBounds};

use atproto_core::Cid;

use super::MstError;
use super::repr::ValueCid;
use super::tree::{Link, Mst, Node, child_layer, load_node};
use crate::block_store::BlockStore;
use crate::record_path::RecordPath;

/// A key and its value, as iteration yields them.
///
/// The key is a copy of the tree's (a [`RecordPath`] of up to 46 bytes is
/// copied without allocating).
pub type KeyValue = (RecordPath, Cid);

enum NodeRef<'a> {
    Borrowed(&'a Node),
    Owned(Box<Node>),
}

impl NodeRef<'_> {
    fn node(&self) -> &Node {
        match self {
            NodeRef::Borrowed(n) => n,
            NodeRef::Owned(n) => n,
        }
    }
}

/// A node being walked; `pos` runs over gap 0, entry 0, gap 1, ..., gap n
/// (even = gap `pos / 2`, odd = entry `pos / 2`).
struct Frame<'a> {
    node: NodeRef<'a>,
    pos: usize,
    lo: Option<Cow<'a, RecordPath>>,
    hi: Option<Cow<'a, RecordPath>>,
}

/// The bytes of an optional bound.
fn bytes<'b>(bound: &'b Option<Cow<'_, RecordPath>>) -> Option<&'b [u8]> {
    bound.as_deref().map(RecordPath::as_bytes)
}

/// Where a walker stands.
pub(crate) enum Pos<'w> {
    End,
    Leaf(&'w RecordPath, &'w ValueCid),
    /// A non-empty subtree, with its layer.
    Subtree(u8),
}

/// An in-order cursor over a tree that can step into or over subtrees.
pub(crate) struct Walker<'a, S: ?Sized> {
    store: &'a S,
    stack: Vec<Frame<'a>>,
}

impl<'a, S: BlockStore + ?Sized> Walker<'a, S> {
    pub(crate) fn new(root: &'a Node, store: &'a S) -> Self {
        let mut stack = Vec::with_capacity(16);
        stack.push(Frame {
            node: NodeRef::Borrowed(root),
            pos: 0,
            lo: None,
            hi: None,
        });
        Walker { store, stack }
    }

    /// Moves past finished nodes and empty gaps.
    fn normalize(&mut self) {
        while let Some(top) = self.stack.last_mut() {
            let node = top.node.node();
            if top.pos > 2 * node.entries.len() {
                self.stack.pop();
            } else if top.pos % 2 == 0 && matches!(node.gap(top.pos / 2), Link::Empty) {
                top.pos += 1;
            } else {
                return;
            }
        }
    }

    pub(crate) fn peek(&mut self) -> Pos<'_> {
        self.normalize();
        let Some(top) = self.stack.last() else {
            return Pos::End;
        };
        let node = top.node.node();
        if top.pos % 2 == 1 {
            let e = &node.entries[top.pos / 2];
            Pos::Leaf(&e.key, &e.value)
        } else {
            Pos::Subtree(node.layer.saturating_sub(1))
        }
    }

    /// The CID of the subtree the walker stands on, if known without
    /// hashing (call after `peek` gave a subtree).
    pub(crate) fn subtree_cid(&self) -> Option<Cid> {
        let top = self.stack.last()?;
        top.node.node().gap(top.pos / 2).known_cid()
    }

    /// Takes the leaf the walker stands on (call after `peek` gave a leaf).
    pub(crate) fn take_leaf(&mut self) -> Option<KeyValue> {
        let top = self.stack.last_mut()?;
        let i = top.pos / 2;
        top.pos += 1;
        let e = top.node.node().entries.get(i)?;
        Some((e.key.clone(), e.value.to_cid()))
    }

    /// Steps over the subtree the walker stands on.
    pub(crate) fn skip(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.pos += 1;
        }
    }

    /// Steps into the subtree the walker stands on, loading it if needed.
    pub(crate) fn descend(&mut self) -> Result<(), MstError> {
        let Some(top) = self.stack.last_mut() else {
            return Ok(());
        };
        let g = top.pos / 2;
        top.pos = 2 * g + 1;
        let (child, lo, hi) = match &top.node {
            NodeRef::Borrowed(n) => {
                let n: &'a Node = n;
                let lo = match g {
                    0 => top.lo.clone(),
                    _ => Some(Cow::Borrowed(&n.entries[g - 1].key)),
                };
                let hi = match n.entries.get(g) {
                    Some(e) => Some(Cow::Borrowed(&e.key)),
                    None => top.hi.clone(),
                };
                let child = match n.gap(g) {
                    Link::Empty => return Ok(()),
                    Link::Node(c) => NodeRef::Borrowed(c),
                    Link::Stub(cid) => {
                        let layer = child_layer(n)?;
                        let (c, _) =
                            load_node(self.store, cid, Some(layer), bytes(&lo), bytes(&hi))?;
                        NodeRef::Owned(Box::new(c))
                    }
                };
                (child, lo, hi)
            }
            NodeRef::Owned(n) => {
                let lo = match g {
                    0 => top.lo.clone(),
                    _ => Some(Cow::Owned(n.entries[g - 1].key.clone())),
                };
                let hi = match n.entries.get(g) {
                    Some(e) => Some(Cow::Owned(e.key.clone())),
                    None => top.hi.clone(),
                };
                let child = match n.gap(g) {
                    Link::Empty => return Ok(()),
                    Link::Node(_) => {
                        return Err(MstError::Internal("loaded node under a stored one"));
                    }
                    Link::Stub(cid) => {
                        let layer = child_layer(n)?;
                        let (c, _) =
                            load_node(self.store, cid, Some(layer), bytes(&lo), bytes(&hi))?;
                        NodeRef::Owned(Box::new(c))
                    }
                };
                (child, lo, hi)
            }
        };
        self.stack.push(Frame {
            node: child,
            pos: 0,
            lo,
            hi,
        });
        Ok(())
    }

    /// Positions the walker at the first key `>= start` (or `> start`).
    pub(crate) fn seek(&mut self, start: &[u8], inclusive: bool) -> Result<(), MstError> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(());
            };
            let node = top.node.node();
            match node
                .entries
                .binary_search_by(|e| e.key.as_bytes().cmp(start))
            {
                Ok(i) => {
                    top.pos = if inclusive { 2 * i + 1 } else { 2 * i + 2 };
                    return Ok(());
                }
                Err(g) => {
                    top.pos = 2 * g;
                    if matches!(node.gap(g), Link::Empty) {
                        top.pos += 1;
                        return Ok(());
                    }
                    let depth = self.stack.len();
                    self.descend()?;
                    if self.stack.len() == depth {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// An in-order iterator over a tree's keys and values.
///
/// Nodes not in memory are read from the store and checked as the
/// iteration reaches them; a failure is yielded once, then iteration stops.
pub struct Iter<'a, S: ?Sized> {
    walker: Walker<'a, S>,
    /// Where iteration stops: a key beyond this bound ends it.
    end: Bound<Box<[u8]>>,
    error: Option<MstError>,
    done: bool,
}

impl<'a, S: BlockStore + ?Sized> Iter<'a, S> {
    fn new(root: &'a Node, store: &'a S) -> Self {
        Iter {
            walker: Walker::new(root, store),
            end: Bound::Unbounded,
            error: None,
            done: false,
        }
    }

    fn seek(mut self, start: &[u8], inclusive: bool) -> Self {
        if let Err(e) = self.walker.seek(start, inclusive) {
            self.error = Some(e);
        }
        self
    }
}

impl<'a, S: BlockStore + ?Sized> Iterator for Iter<'a, S> {
    type Item = Result<KeyValue, MstError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.error.take() {
            self.done = true;
            return Some(Err(e));
        }
        loop {
            match self.walker.peek() {
                Pos::End => {
                    self.done = true;
                    return None;
                }
                Pos::Leaf(key, _) => {
                    let past_end = match &self.end {
                        Bound::Included(end) => key.as_bytes() > &end[..],
                        Bound::Excluded(end) => key.as_bytes() >= &end[..],
                        Bound::Unbounded => false,
                    };
                    if past_end {
                        self.done = true;
                        return None;
                    }
                    return self.walker.take_leaf().map(Ok);
                }
                Pos::Subtree(..) => {
                    if let Err(e) = self.walker.descend() {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

impl<S: BlockStore> Mst<S> {
    /// Every key and value, in key order.
    pub fn iter(&self) -> Iter<'_, S> {
        Iter::new(&self.root, &self.store)
    }

    /// Every key and value, in key order, collected.
    pub fn entries(&self) -> Result<Vec<KeyValue>, MstError> {
        self.iter().collect()
    }

    /// The keys in `range`, in order: `mst.range(&a..&b)`, `mst.range(&a..)`,
    /// `mst.range(&a..=&b)`, ...
    pub fn range<R: RangeBounds<RecordPath>>(&self, range: R) -> Iter<'_, S> {
        let it = Iter::new(&self.root, &self.store);
        let mut it = match range.start_bound() {
            Bound::Included(start) => it.seek(start.as_bytes(), true),
            Bound::Excluded(start) => it.seek(start.as_bytes(), false),
            Bound::Unbounded => it,
        };
        it.end = match range.end_bound() {
            Bound::Included(end) => Bound::Included(end.as_bytes().into()),
            Bound::Excluded(end) => Bound::Excluded(end.as_bytes().into()),
            Bound::Unbounded => Bound::Unbounded,
        };
        it
    }

    /// The records of one collection (keys `<collection>/...`), in order.
    ///
    /// The collection is a string rather than an
    /// [`Nsid`](atproto_core::syntax::Nsid): a tree may hold any valid
    /// [`RecordPath`]. A collection with a `/` or another byte a path cannot
    /// hold lists nothing.
    pub fn list_prefix(&self, collection: &str) -> Iter<'_, S> {
        self.list_collection(collection, None)
    }

    /// The records of `collection` after the record key `after` (all of
    /// them when `None`), in order.
    pub(crate) fn list_collection(&self, collection: &str, after: Option<&str>) -> Iter<'_, S> {
        let mut start = Vec::with_capacity(collection.len() + 1 + after.map_or(0, str::len));
        start.extend_from_slice(collection.as_bytes());
        start.push(b'/');
        let mut it = match after {
            Some(after) => {
                let len = start.len();
                start.extend_from_slice(after.as_bytes());
                let it = Iter::new(&self.root, &self.store).seek(&start, false);
                start.truncate(len);
                it
            }
            None => Iter::new(&self.root, &self.store).seek(&start, true),
        };
        // '0' is the byte after '/', so this ends right after the collection.
        start.pop();
        start.push(b'0');
        it.end = Bound::Excluded(start.into_boxed_slice());
        it
    }

    /// The keys after `after` (all keys when `None`), in order.
    pub fn iter_after(&self, after: Option<&RecordPath>) -> Iter<'_, S> {
        let it = Iter::new(&self.root, &self.store);
        match after {
            Some(after) => it.seek(after.as_bytes(), false),
            None => it,
        }
    }

    /// One page: up to `limit` entries with keys after the cursor `after`.
    ///
    /// Pass the last key of a page as `after` to get the next one.
    pub fn list(
        &self,
        after: Option<&RecordPath>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, MstError> {
        self.iter_after(after).take(limit).collect()
    }
}
