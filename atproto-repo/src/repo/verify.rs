//! [`verify_car`]: load and fully verify a repository CAR in one pass.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::cid::Version;
use atproto_core::crypto::PublicKey;
use atproto_core::data::Limits;
use atproto_core::syntax::Did;
use bytes::Bytes;

use super::{RepoError, validate_record};
use crate::car::CarReader;
use crate::commit::Commit;
use crate::mst::{MstError, NodeData, key_height};

/// Multicodec dag-cbor.
const DAG_CBOR: u64 = 0x71;
/// Multihash sha2-256.
const SHA2_256: u64 = 0x12;

/// A repository CAR that passed [`verify_car`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedRepo {
    /// The commit's CID (the CAR's root).
    pub commit_cid: Cid,
    /// The commit.
    pub commit: Commit,
    /// Every record's path and CID, in key order.
    pub records: Vec<(String, Cid)>,
    /// MST nodes walked.
    pub node_count: usize,
    /// Blocks in the CAR (duplicates and unreachable blocks included).
    pub block_count: usize,
    blocks: Vec<Block>,
}

impl VerifiedRepo {
    /// The MST root (the commit's `data`).
    pub fn data_root(&self) -> Cid {
        self.commit.data
    }

    /// Every block of the CAR (hash-checked), as slices of its bytes.
    pub fn blocks(&self) -> impl Iterator<Item = (Cid, Bytes)> + '_ {
        self.blocks.iter().map(|b| (b.cid(), b.bytes.clone()))
    }
}

/// A hash-checked block, keyed by what a CID link compares.
#[derive(Debug, Clone)]
struct Block {
    digest: [u8; 32],
    codec: u64,
    bytes: Bytes,
}

impl Block {
    fn cid(&self) -> Cid {
        let mh = atproto_core::cid::multihash::Multihash::wrap(SHA2_256, &self.digest)
            .unwrap_or_default();
        Cid::new_v1(self.codec, mh)
    }
}

/// The CAR's blocks with a cursor: a CAR in the streamable order is
/// consumed front to back without any lookup structure; anything else falls
/// back to a sorted index built once.
struct Blocks {
    blocks: Vec<Block>,
    next: usize,
    index: Option<Vec<u32>>,
}

impl Blocks {
    fn get(&mut self, cid: &Cid) -> Option<Bytes> {
        let mh = cid.hash();
        if cid.version() != Version::V1 || mh.code() != SHA2_256 || mh.size() != 32 {
            return None;
        }
        let digest = mh.digest();
        let codec = cid.codec();
        if let Some(b) = self.blocks.get(self.next) {
            if b.digest[..] == *digest && b.codec == codec {
                self.next += 1;
                return Some(b.bytes.clone());
            }
        }
        let blocks = &self.blocks;
        let index = self.index.get_or_insert_with(|| {
            let mut ix: Vec<u32> = (0..blocks.len() as u32).collect();
            ix.sort_unstable_by(|a, b| {
                let (a, b) = (&blocks[*a as usize], &blocks[*b as usize]);
                (a.digest, a.codec).cmp(&(b.digest, b.codec))
            });
            ix
        });
        let at = index
            .binary_search_by(|i| {
                let b = &blocks[*i as usize];
                (&b.digest[..], b.codec).cmp(&(digest, codec))
            })
            .ok()?;
        Some(blocks[index[at] as usize].bytes.clone())
    }
}

/// Reads a repository CAR and verifies all of it: every block's hash (once,
/// while reading); the root is a commit that decodes strictly; its `did` is
/// `did` and its signature verifies with `key` (each skipped when `None`);
/// every MST node is present, canonical, with keys sorted, at the right
/// layer, inside its parent's range, prefix-compressed correctly, with no
/// empty node below the root; every record is present and is a canonical
/// DAG-CBOR map (checked without building values).
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
    key: Option<&PublicKey>,
) -> Result<VerifiedRepo, RepoError> {
    // Repository blocks average well over 100 bytes with their section head.
    let mut blocks = Vec::with_capacity(car.len() / 128);
    let mut reader = CarReader::new(car)?;
    let root = reader.roots()[0];
    while let Some((cid, bytes)) = reader.next_block()? {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(cid.hash().digest());
        blocks.push(Block {
            digest,
            codec: cid.codec(),
            bytes,
        });
    }
    let block_count = blocks.len();
    let mut blocks = Blocks {
        blocks,
        next: 0,
        index: None,
    };
    let commit_bytes = blocks.get(&root).ok_or_else(|| RepoError::MissingCommit {
        cid: Box::new(root),
    })?;
    let commit = Commit::decode_bytes(&commit_bytes)?;
    if let Some(did) = did {
        if commit.did != *did {
            return Err(RepoError::WrongDid {
                expected: Box::new(did.clone()),
                found: Box::new(commit.did.clone()),
            });
        }
    }
    if let Some(key) = key {
        commit.verify(key)?;
    }
    let mut walk = Walk {
        blocks: &mut blocks,
        records: Vec::new(),
        nodes: 0,
    };
    walk.node(&commit.data, None, None, None)?;
    let Walk { records, nodes, .. } = walk;
    Ok(VerifiedRepo {
        commit_cid: root,
        commit,
        records,
        node_count: nodes,
        block_count,
        blocks: blocks.blocks,
    })
}

struct Walk<'b> {
    blocks: &'b mut Blocks,
    records: Vec<(String, Cid)>,
    nodes: usize,
}

impl Walk<'_> {
    /// Checks the node `cid` (at `layer`, `None` for the root) and, in the
    /// streamable order, its subtrees and records.
    fn node(
        &mut self,
        cid: &Cid,
        layer: Option<u8>,
        lo: Option<&str>,
        hi: Option<&str>,
    ) -> Result<(), RepoError> {
        if cid.codec() != DAG_CBOR {
            return Err(MstError::UnsupportedCid {
                cid: Box::new(*cid),
                reason: "an MST node must be CIDv1 dag-cbor",
            }
            .into());
        }
        let bytes = self.blocks.get(cid).ok_or_else(|| MstError::MissingBlock {
            cid: Box::new(*cid),
        })?;
        // The block's hash was checked when the CAR was read.
        let mut node = NodeData::decode(&bytes).map_err(|e| with_cid(e, cid))?;
        self.nodes += 1;
        let layer = check_node(&node, cid, layer, lo, hi)?;
        let child = layer.checked_sub(1);
        if let (Some(left), Some(l)) = (&node.left, child) {
            let first = node.entries.first().map(|e| e.key.as_str());
            self.node(left, Some(l), lo, first.or(hi))?;
        }
        for i in 0..node.entries.len() {
            let e = &node.entries[i];
            let record = self
                .blocks
                .get(&e.value)
                .ok_or_else(|| RepoError::MissingRecord {
                    path: e.key.clone(),
                    cid: Box::new(e.value),
                })?;
            validate_record(&record, &Limits::RECORD).map_err(|error| {
                RepoError::InvalidRecord {
                    path: e.key.clone(),
                    error,
                }
            })?;
            // The key moves into the listing once the subtree after it,
            // which it bounds, has been walked.
            let slot = self.records.len();
            self.records.push((String::new(), e.value));
            if let (Some(right), Some(l)) = (&e.right, child) {
                let next = node.entries.get(i + 1).map(|n| n.key.as_str()).or(hi);
                self.node(right, Some(l), Some(&e.key), next)?;
            }
            self.records[slot].0 = core::mem::take(&mut node.entries[i].key);
        }
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
    data: &NodeData,
    cid: &Cid,
    layer: Option<u8>,
    lo: Option<&str>,
    hi: Option<&str>,
) -> Result<u8, MstError> {
    let structure = |reason| MstError::Structure {
        cid: Box::new(*cid),
        reason,
    };
    let layer = match (layer, data.entries.first()) {
        (Some(layer), _) => {
            if data.entries.is_empty() && data.left.is_none() {
                return Err(structure("empty node below the root"));
            }
            layer
        }
        (None, Some(first)) => key_height(first.key.as_bytes()),
        (None, None) if data.left.is_some() => {
            return Err(structure(
                "the root has no entries and only points to a subtree",
            ));
        }
        (None, None) => 0,
    };
    for e in &data.entries {
        if key_height(e.key.as_bytes()) != layer {
            return Err(structure("a key's height differs from its node's layer"));
        }
    }
    if layer == 0 && (data.left.is_some() || data.entries.iter().any(|e| e.right.is_some())) {
        return Err(structure("a layer-0 node has subtrees"));
    }
    if let (Some(lo), Some(first)) = (lo, data.entries.first()) {
        if first.key.as_str() <= lo {
            return Err(structure("keys below the range the parent node gives"));
        }
    }
    if let (Some(hi), Some(last)) = (hi, data.entries.last()) {
        if last.key.as_str() >= hi {
            return Err(structure("keys above the range the parent node gives"));
        }
    }
    Ok(layer)
}
