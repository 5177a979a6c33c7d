//! [`verify_car`]: load and fully verify a repository CAR in one pass
//! ([`verify_car_unsigned`]: the same without the signature).

use alloc::boxed::Box;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::cid::Version;
use atproto_core::crypto::PublicKey;
use atproto_core::data::{DAG_CBOR_CODEC, Limits, SHA2_256, cbor, sha256_cid};
use atproto_core::syntax::Did;
use bytes::Bytes;

use super::RepoError;
use crate::car::CarReader;
use crate::car::reader::RawBlock as Block;
use crate::commit::{Commit, SignatureCheck};
use crate::mst::{LinkRef, MstError, NodeRefs, key_height};
use crate::record_path::RecordPath;

/// A repository CAR that passed [`verify_car`] (or [`verify_car_unsigned`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedRepo {
    /// The commit's CID (the CAR's root).
    pub commit_cid: Cid,
    /// The commit.
    pub commit: Commit,
    /// MST nodes walked.
    pub node_count: usize,
    /// Blocks in the CAR (duplicates and unreachable blocks included).
    pub block_count: usize,
    /// Whether the commit's signature was checked: [`verify_car`] gives
    /// [`SignatureCheck::Verified`], [`verify_car_unsigned`]
    /// [`SignatureCheck::NotChecked`].
    pub signature: SignatureCheck,
    car: Bytes,
    blocks: Vec<Block>,
    records: RecordTable,
}

/// The records of a verified repository, in key order, packed: all paths in
/// one buffer and, per record, where its path ends and which block holds it
/// (the CID is read back from the CAR). Eight bytes a record plus its path,
/// instead of a [`RecordPath`] and a `Cid` (about 150 bytes) each.
#[derive(Debug, Clone, Default)]
struct RecordTable {
    /// Valid paths only: the node decoder accepts only valid MST keys.
    paths: Vec<u8>,
    entries: Vec<RecordEntry>,
}

#[derive(Debug, Clone, Copy)]
struct RecordEntry {
    /// End of the path in [`RecordTable::paths`] (it starts where the
    /// previous one ends). Prefix compression lets paths outgrow the CAR.
    path_end: usize,
    /// Index into [`VerifiedRepo::blocks`]: the reader's block limit
    /// ([`CarLimits::DEFAULT`](crate::car::CarLimits::DEFAULT), 64 Mi
    /// blocks) keeps it within `u32`.
    block: u32,
}

impl VerifiedRepo {
    /// The MST root (the commit's `data`).
    pub fn data_root(&self) -> Cid {
        self.commit.data
    }

    /// Every block of the CAR (hash-checked), as slices of its bytes.
    pub fn blocks(&self) -> impl Iterator<Item = (Cid, Bytes)> + '_ {
        self.blocks.iter().map(|b| self.block(*b))
    }

    /// How many records the repository holds.
    pub fn record_count(&self) -> usize {
        self.records.entries.len()
    }

    /// Every record's path and CID, in key order.
    pub fn records(
        &self,
    ) -> impl ExactSizeIterator<Item = (RecordPath, Cid)> + DoubleEndedIterator + '_ {
        (0..self.records.entries.len()).map(|i| {
            let (path, block) = self.record_at(i);
            (RecordPath::from_checked(path), self.block(block).0)
        })
    }

    /// The CID and bytes of the record at `path`, found by binary search.
    pub fn get(&self, path: &RecordPath) -> Option<(Cid, Bytes)> {
        let path = path.as_bytes();
        let n = self.records.entries.len();
        let i = partition(n, |i| self.record_at(i).0 < path);
        let (found, block) = (i < n).then(|| self.record_at(i))?;
        (found == path).then(|| self.block(block))
    }

    /// The path (checked by the node decoder) and block of the `i`-th
    /// record.
    fn record_at(&self, i: usize) -> (&[u8], Block) {
        let t = &self.records;
        let start = match i.checked_sub(1) {
            Some(p) => t.entries[p].path_end,
            None => 0,
        };
        let e = t.entries[i];
        let path = t.paths.get(start..e.path_end).unwrap_or_default();
        (path, self.blocks[e.block as usize])
    }

    fn block(&self, b: Block) -> (Cid, Bytes) {
        let (digest, codec) = b.key(&self.car);
        (
            sha256_cid(u64::from(codec), digest),
            self.car.slice(b.start..b.start + b.len as usize),
        )
    }
}

/// The first index in `0..n` for which `below` is false (`below` must be
/// true on a prefix of the range).
fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The CAR's blocks with a cursor: a CAR in the streamable order is
/// consumed front to back without any lookup structure; anything else falls
/// back to a sorted index built once.
struct Blocks<'a> {
    car: &'a [u8],
    blocks: &'a [Block],
    next: usize,
    index: Option<Vec<u32>>,
}

impl<'a> Blocks<'a> {
    /// The block with `codec` and sha2-256 `digest`.
    #[inline]
    fn get(&mut self, codec: u64, digest: &[u8; 32]) -> Option<(u32, &'a [u8])> {
        let car = self.car;
        if let Some(b) = self.blocks.get(self.next)
            && b.key(car) == (digest, codec as u8)
            && codec < 0x80
        {
            self.next += 1;
            return Some(((self.next - 1) as u32, b.bytes(car)));
        }
        let codec = u8::try_from(codec).ok()?;
        let blocks = self.blocks;
        let index = self.index.get_or_insert_with(|| {
            let mut ix: Vec<u32> = (0..blocks.len() as u32).collect();
            ix.sort_unstable_by(|a, b| {
                blocks[*a as usize]
                    .key(car)
                    .cmp(&blocks[*b as usize].key(car))
            });
            ix
        });
        let at = index
            .binary_search_by(|i| blocks[*i as usize].key(car).cmp(&(digest, codec)))
            .ok()?;
        let i = index[at];
        Some((i, blocks[i as usize].bytes(car)))
    }

    /// The block `cid` names, if it is in the CAR.
    fn get_cid(&mut self, cid: &Cid) -> Option<(u32, &'a [u8])> {
        let mh = cid.hash();
        if cid.version() != Version::V1 || mh.code() != SHA2_256 {
            return None;
        }
        let digest = <&[u8; 32]>::try_from(mh.digest()).ok()?;
        self.get(cid.codec(), digest)
    }
}

/// Reads a repository CAR and verifies all of it: every block's hash (once,
/// while reading); the root is a commit that decodes strictly; its `did` is
/// `did` (not checked when `None`); its signature verifies with `key`, the
/// account's signing key; every MST node is present, canonical, with keys
/// sorted, at the right layer, inside its parent's range, prefix-compressed
/// correctly, with no empty node below the root; every record is present and
/// is a canonical DAG-CBOR map (checked without building values). The
/// result's [`signature`](VerifiedRepo::signature) is
/// [`SignatureCheck::Verified`].
///
/// Blocks are slices of `car` (nothing is copied). A CAR written in the
/// streamable order (as [`Repo::export_car`](super::Repo::export_car) does)
/// is checked front to back; other orders cost one extra sort.
///
/// # Errors
/// [`RepoError::Car`] (truncated, malformed, hash mismatch),
/// [`RepoError::MissingCommit`], [`RepoError::Commit`] (undecodable, bad
/// signature), [`RepoError::WrongDid`], [`RepoError::Mst`] (missing or
/// malformed node, wrong layer, keys out of order or range),
/// [`RepoError::MissingRecord`], [`RepoError::InvalidRecord`].
pub fn verify_car(
    car: Bytes,
    did: Option<&Did>,
    key: &PublicKey,
) -> Result<VerifiedRepo, RepoError> {
    verify(car, did, Some(key))
}

/// [`verify_car`] without the signature: every other check, and the
/// result's [`signature`](VerifiedRepo::signature) is
/// [`SignatureCheck::NotChecked`].
///
/// Anyone can write a CAR that passes this: it proves the blocks hang
/// together, not who wrote them. Use it only where the signature is someone
/// else's job or was already done: a CAR this process exported itself or
/// read back from its own storage, a test or a benchmark, a tool that
/// inspects a file of unknown origin and says so. Data that came over the
/// network and will be served or trusted goes through [`verify_car`] with the
/// key from the account's DID document.
///
/// # Errors
/// As [`verify_car`], except a bad signature.
pub fn verify_car_unsigned(car: Bytes, did: Option<&Did>) -> Result<VerifiedRepo, RepoError> {
    verify(car, did, None)
}

/// Both entry points: the signature is checked exactly when `key` is given.
fn verify(
    car: Bytes,
    did: Option<&Did>,
    key: Option<&PublicKey>,
) -> Result<VerifiedRepo, RepoError> {
    let reader = CarReader::new(car)?;
    let root = reader.roots()[0];
    let car = reader.input().clone();
    let mut reader = reader;
    // Repository blocks average well over 100 bytes with their section head.
    let mut blocks = Vec::with_capacity(car.len() / 100);
    reader.read_all_raw(&mut blocks)?;
    drop(reader);
    let block_count = blocks.len();
    let mut index = Blocks {
        car: &car,
        blocks: &blocks,
        next: 0,
        index: None,
    };
    let (_, commit_bytes) = index
        .get_cid(&root)
        .ok_or_else(|| RepoError::MissingCommit {
            cid: Box::new(root),
        })?;
    let commit = Commit::decode_bytes(&car.slice_ref(commit_bytes))?;
    if let Some(did) = did
        && commit.did != *did
    {
        return Err(RepoError::WrongDid {
            expected: Box::new(did.clone()),
            found: Box::new(commit.did.clone()),
        });
    }
    let signature = commit.check_signature(key)?;
    // Capacity hints: at most one record per block, and an entry takes
    // well over 50 bytes of some node; paths are shorter than their record
    // and its entry together. Pages never written are never resident.
    let mut walk = Walk {
        blocks: index,
        paths: Vec::with_capacity(car.len() / 4),
        records: Vec::with_capacity(block_count.min(car.len() / 50)),
        nodes: 0,
        levels: Vec::new(),
    };
    walk.node(Target::Cid(&commit.data), 0, None, None, None)?;
    let Walk {
        paths,
        records: entries,
        nodes,
        ..
    } = walk;
    let records = RecordTable { paths, entries };
    Ok(VerifiedRepo {
        commit_cid: root,
        commit,
        records,
        node_count: nodes,
        block_count,
        signature,
        car,
        blocks,
    })
}

/// A node to visit: the root (from the commit) or a link inside a node.
#[derive(Clone, Copy)]
enum Target<'a> {
    Cid(&'a Cid),
    Link(&'a LinkRef, &'a [u8]),
}

impl Target<'_> {
    fn cid(self) -> Cid {
        match self {
            Target::Cid(cid) => *cid,
            Target::Link(link, node) => link.cid(node),
        }
    }

    fn codec(self) -> u64 {
        match self {
            Target::Cid(cid) => cid.codec(),
            Target::Link(link, node) => match link.sha256(node) {
                Some((codec, _)) => codec,
                None => link.cid(node).codec(),
            },
        }
    }
}

struct Walk<'a> {
    blocks: Blocks<'a>,
    /// Paths, as [`RecordTable::paths`].
    paths: Vec<u8>,
    records: Vec<RecordEntry>,
    nodes: usize,
    /// One decoding buffer per depth, reused by every node at that depth.
    levels: Vec<NodeRefs>,
}

impl<'a> Walk<'a> {
    /// Checks the node `target` (at `layer`, `None` for the root; `depth`
    /// steps below the root) and, in the streamable order, its subtrees and
    /// records.
    fn node(
        &mut self,
        target: Target<'_>,
        depth: usize,
        layer: Option<u8>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) -> Result<(), RepoError> {
        if target.codec() != DAG_CBOR_CODEC {
            return Err(MstError::UnsupportedCid {
                cid: Box::new(target.cid()),
                reason: "an MST node must be CIDv1 dag-cbor",
            }
            .into());
        }
        let found = match target {
            Target::Cid(cid) => self.blocks.get_cid(cid),
            Target::Link(link, node) => link
                .sha256(node)
                .and_then(|(codec, digest)| self.blocks.get(codec, digest)),
        };
        let (_, bytes): (u32, &'a [u8]) = found.ok_or_else(|| MstError::MissingBlock {
            cid: Box::new(target.cid()),
        })?;
        if self.levels.len() <= depth {
            self.levels.resize_with(depth + 1, NodeRefs::default);
        }
        let mut node = core::mem::take(&mut self.levels[depth]);
        // The block's hash was checked when the CAR was read.
        node.decode(bytes).map_err(|e| with_cid(e, &target.cid()))?;
        self.nodes += 1;
        let known = layer.is_some();
        let layer = check_node(&node, target, layer, lo, hi)?;
        let child = layer.checked_sub(1);
        if let (Some(left), Some(l)) = (&node.left, child) {
            let first = node.entries.first().map(|_| node.key(0));
            self.node(
                Target::Link(left, bytes),
                depth + 1,
                Some(l),
                lo,
                first.or(hi),
            )?;
        }
        for (i, e) in node.entries.iter().enumerate() {
            let key = node.key(i);
            // The key's height, checked after the record: SHA-256 is one
            // long dependency chain, and the record checks in between run
            // beside it instead of after it. The root's first key gave the
            // layer, so it is not hashed again.
            let height = if i == 0 && !known {
                layer
            } else {
                key_height(key)
            };
            let record = e
                .value
                .sha256(bytes)
                .and_then(|(codec, digest)| self.blocks.get(codec, digest));
            let path = || RecordPath::from_checked(key);
            let (block, record) = record.ok_or_else(|| RepoError::MissingRecord {
                path: path(),
                cid: Box::new(e.value.cid(bytes)),
            })?;
            cbor::validate_record(record, &Limits::RECORD).map_err(|error| {
                RepoError::InvalidRecord {
                    path: Some(path()),
                    error,
                }
            })?;
            if height != layer {
                return Err(MstError::Structure {
                    cid: Box::new(target.cid()),
                    reason: "a key's height differs from its node's layer",
                }
                .into());
            }
            self.paths.extend_from_slice(key);
            self.records.push(RecordEntry {
                path_end: self.paths.len(),
                block,
            });
            if let (Some(right), Some(l)) = (&e.right, child) {
                let next = node.entries.get(i + 1).map(|_| node.key(i + 1)).or(hi);
                self.node(
                    Target::Link(right, bytes),
                    depth + 1,
                    Some(l),
                    Some(key),
                    next,
                )?;
            }
        }
        self.levels[depth] = node;
        Ok(())
    }
}

fn with_cid(e: MstError, cid: &Cid) -> MstError {
    match e {
        MstError::MalformedNode {
            cid: None,
            offset,
            reason,
        } => MstError::MalformedNode {
            cid: Some(Box::new(*cid)),
            offset,
            reason,
        },
        MstError::TooManyEntries {
            cid: None,
            count,
            max,
        } => MstError::TooManyEntries {
            cid: Some(Box::new(*cid)),
            count,
            max,
        },
        other => other,
    }
}

/// The structural checks of a node in its place; returns its layer.
fn check_node(
    data: &NodeRefs,
    target: Target<'_>,
    layer: Option<u8>,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
) -> Result<u8, MstError> {
    let structure = |reason| MstError::Structure {
        cid: Box::new(target.cid()),
        reason,
    };
    let count = data.entries.len();
    let layer = match (layer, count) {
        (Some(layer), _) => {
            if count == 0 && data.left.is_none() {
                return Err(structure("empty node below the root"));
            }
            layer
        }
        (None, 1..) => key_height(data.key(0)),
        (None, 0) if data.left.is_some() => {
            return Err(structure(
                "the root has no entries and only points to a subtree",
            ));
        }
        (None, 0) => 0,
    };
    if layer == 0 && (data.left.is_some() || data.entries.iter().any(|e| e.right.is_some())) {
        return Err(structure("a layer-0 node has subtrees"));
    }
    if let (Some(lo), 1..) = (lo, count)
        && data.key(0) <= lo
    {
        return Err(structure("keys below the range the parent node gives"));
    }
    if let (Some(hi), 1..) = (hi, count)
        && data.key(count - 1) >= hi
    {
        return Err(structure("keys above the range the parent node gives"));
    }
    Ok(layer)
}
