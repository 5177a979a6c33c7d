//! In-order traversal: iteration, ranges and paging.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use atproto_core::Cid;

use super::MstError;
use super::repr::ValueCid;
use super::tree::{Link, Mst, Node, child_layer, load_node};
use crate::block_store::BlockStore;

/// A key and its value, as iteration yields them.
///
/// The key borrows from the tree when its node is in memory and is owned
/// when the node was read from the store for this traversal.
pub type KeyValue<'a> = (Cow<'a, str>, Cid);

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
    lo: Option<Cow<'a, str>>,
    hi: Option<Cow<'a, str>>,
}

/// Where a walker stands.
pub(crate) enum Pos<'w> {
    End,
    Leaf(&'w str, &'w ValueCid),
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
    pub(crate) fn take_leaf(&mut self) -> Option<KeyValue<'a>> {
        let top = self.stack.last_mut()?;
        let i = top.pos / 2;
        top.pos += 1;
        match &top.node {
            NodeRef::Borrowed(n) => {
                let n: &'a Node = n;
                let e = n.entries.get(i)?;
                Some((Cow::Borrowed(&*e.key), e.value.to_cid()))
            }
            NodeRef::Owned(n) => {
                let e = n.entries.get(i)?;
                Some((Cow::Owned(String::from(&*e.key)), e.value.to_cid()))
            }
        }
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
                    _ => Some(Cow::Borrowed(&*n.entries[g - 1].key)),
                };
                let hi = match n.entries.get(g) {
                    Some(e) => Some(Cow::Borrowed(&*e.key)),
                    None => top.hi.clone(),
                };
                let child = match n.gap(g) {
                    Link::Empty => return Ok(()),
                    Link::Node(c) => NodeRef::Borrowed(c),
                    Link::Stub(cid) => {
                        let layer = child_layer(n)?;
                        let (c, _) =
                            load_node(self.store, cid, Some(layer), lo.as_deref(), hi.as_deref())?;
                        NodeRef::Owned(Box::new(c))
                    }
                };
                (child, lo, hi)
            }
            NodeRef::Owned(n) => {
                let lo = match g {
                    0 => top.lo.clone(),
                    _ => Some(Cow::Owned(String::from(&*n.entries[g - 1].key))),
                };
                let hi = match n.entries.get(g) {
                    Some(e) => Some(Cow::Owned(String::from(&*e.key))),
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
                            load_node(self.store, cid, Some(layer), lo.as_deref(), hi.as_deref())?;
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
    pub(crate) fn seek(&mut self, start: &str, inclusive: bool) -> Result<(), MstError> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(());
            };
            let node = top.node.node();
            match node
                .entries
                .binary_search_by(|e| e.key.bytes().cmp(start.as_bytes()))
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
    end: Option<Box<str>>,
    error: Option<MstError>,
    done: bool,
}

impl<'a, S: BlockStore + ?Sized> Iter<'a, S> {
    fn new(root: &'a Node, store: &'a S) -> Self {
        Iter {
            walker: Walker::new(root, store),
            end: None,
            error: None,
            done: false,
        }
    }

    fn seek(mut self, start: &str, inclusive: bool) -> Self {
        if let Err(e) = self.walker.seek(start, inclusive) {
            self.error = Some(e);
        }
        self
    }
}

impl<'a, S: BlockStore + ?Sized> Iterator for Iter<'a, S> {
    type Item = Result<KeyValue<'a>, MstError>;

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
                    if self.end.as_deref().is_some_and(|end| key >= end) {
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
    pub fn entries(&self) -> Result<Vec<(String, Cid)>, MstError> {
        self.iter()
            .map(|kv| kv.map(|(k, v)| (k.into_owned(), v)))
            .collect()
    }

    /// The keys in `range` (start inclusive, end exclusive), in order.
    pub fn range(&self, range: core::ops::Range<&str>) -> Iter<'_, S> {
        let mut it = Iter::new(&self.root, &self.store).seek(range.start, true);
        it.end = Some(range.end.into());
        it
    }

    /// The records of one collection (keys `<collection>/...`), in order.
    pub fn list_prefix(&self, collection: &str) -> Iter<'_, S> {
        let mut start = String::with_capacity(collection.len() + 1);
        start.push_str(collection);
        start.push('/');
        let mut it = Iter::new(&self.root, &self.store).seek(&start, true);
        // '0' is the byte after '/', so this ends right after the collection.
        start.pop();
        start.push('0');
        it.end = Some(start.into_boxed_str());
        it
    }

    /// The keys after `after` (all keys when `None`), in order.
    pub fn iter_after(&self, after: Option<&str>) -> Iter<'_, S> {
        let it = Iter::new(&self.root, &self.store);
        match after {
            Some(after) => it.seek(after, false),
            None => it,
        }
    }

    /// One page: up to `limit` entries with keys after the cursor `after`.
    ///
    /// Pass the last key of a page as `after` to get the next one.
    pub fn list(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, Cid)>, MstError> {
        self.iter_after(after)
            .take(limit)
            .map(|kv| kv.map(|(k, v)| (k.into_owned(), v)))
            .collect()
    }
}
