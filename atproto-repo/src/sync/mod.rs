//! Sync v1.1 commit proofs: the firehose `#commit` CAR slice and its
//! verification by inversion (SPEC-NOTES §5).
//!
//! A producer sends, with each commit, the blocks a consumer holding only the
//! previous root CID needs to check it: the signed commit, the new MST nodes,
//! the covering proof of every changed path (the neighbours inversion
//! touches) and the new record blocks. [`Op`] lists the record operations.
//!
//! A consumer calls [`verify_commit_proof`]: the slice's root is the commit,
//! the commit is signed by the account's key, every create/update op's CID is
//! what the partial tree holds at its path, and undoing every op on the
//! partial tree gives back `prevData`. [`verify_commit_proof_unsigned`] skips
//! the signature, for commits whose origin is already trusted; the result
//! says which one ran ([`VerifiedCommit::signature`]). [`ProofCheck`] picks
//! the optional checks one by one (the signature, the comparison with
//! `prevData`, the presence of every new record's block), and
//! [`verify_sync_commit`] checks the commit of a `#sync` event.
//!
//! Producing: [`Repo::apply_writes_at`](crate::repo::Repo::apply_writes_at)
//! (and `Repo::apply_writes`, with `std`) returns
//! a [`CommitData`](crate::repo::CommitData) whose
//! [`car_slice`](crate::repo::CommitData::car_slice) is the `blocks` field;
//! [`proof_nodes`] and [`write_car_slice`] are the lower-level steps for
//! trees that are not in a [`Repo`](crate::repo::Repo).

mod error;
mod verify;

use alloc::vec::Vec;

use atproto_core::Cid;

pub use error::{ProofError, SliceError};
pub use verify::{
    ProofCheck, VerifiedCommit, VerifiedSync, verify_commit_proof, verify_commit_proof_unsigned,
    verify_sync_commit,
};

use crate::block_store::BlockStore;
use crate::car::{CarWriter, MAX_FIREHOSE_CAR_SIZE};
use crate::mst::{Mst, MstError};
use crate::record_path::RecordPath;

/// Most operations in one `#commit` event: 200 (SPEC-NOTES §5).
pub const MAX_COMMIT_OPS: usize = 200;

/// Largest `#commit` `blocks` CAR slice: 2,000,000 bytes (SPEC-NOTES §5).
pub const MAX_SLICE_SIZE: usize = MAX_FIREHOSE_CAR_SIZE as usize;

/// What an operation did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpAction {
    /// A new record.
    Create,
    /// A record replaced.
    Update,
    /// A record removed.
    Delete,
}

impl OpAction {
    /// The wire name: `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpAction::Create => "create",
            OpAction::Update => "update",
            OpAction::Delete => "delete",
        }
    }

    /// Parses a wire name.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "create" => Some(OpAction::Create),
            "update" => Some(OpAction::Update),
            "delete" => Some(OpAction::Delete),
            _ => None,
        }
    }
}

/// One record operation of a commit, as the firehose `#commit` `ops` carry it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Op {
    /// What happened.
    pub action: OpAction,
    /// The record's path, `<collection>/<rkey>` (the MST key).
    pub path: RecordPath,
    /// The new record's CID (`None` for a delete).
    pub cid: Option<Cid>,
    /// The previous record's CID (for updates and deletes; sync v1.1).
    pub prev: Option<Cid>,
}

impl Op {
    /// A create of `path` with value `cid`.
    pub fn create(path: RecordPath, cid: Cid) -> Self {
        Op {
            action: OpAction::Create,
            path,
            cid: Some(cid),
            prev: None,
        }
    }

    /// An update of `path` from `prev` to `cid`.
    pub fn update(path: RecordPath, cid: Cid, prev: Cid) -> Self {
        Op {
            action: OpAction::Update,
            path,
            cid: Some(cid),
            prev: Some(prev),
        }
    }

    /// A delete of `path`, whose value was `prev`.
    pub fn delete(path: RecordPath, prev: Cid) -> Self {
        Op {
            action: OpAction::Delete,
            path,
            cid: None,
            prev: Some(prev),
        }
    }
}

/// Writes into `out` the MST nodes of `mst` (the tree after the commit) that
/// a consumer needs to check and invert `ops`: the covering proof of their
/// paths. Returns the root CID.
///
/// # Errors
/// An [`MstError`] if a node on those paths cannot be loaded.
pub fn proof_nodes<S, T>(mst: &mut Mst<S>, ops: &[Op], out: &mut T) -> Result<Cid, MstError>
where
    S: BlockStore,
    T: BlockStore + ?Sized,
{
    mst.covering_proof(ops.iter().map(|op| &op.path), out)
}

/// Writes a `#commit` `blocks` CAR slice: header with root `commit`, then
/// `blocks` in the given order (the commit block first, by convention).
///
/// # Errors
/// [`SliceError::TooManyOps`] when `op_count` exceeds [`MAX_COMMIT_OPS`],
/// [`SliceError::TooLarge`] when the CAR would exceed [`MAX_SLICE_SIZE`]
/// (checked before writing). Either way the caller should emit a `#sync`
/// event (or split the batch) instead.
pub fn write_car_slice<'b, I>(
    commit: &Cid,
    blocks: I,
    op_count: usize,
) -> Result<Vec<u8>, SliceError>
where
    I: IntoIterator<Item = (&'b Cid, &'b [u8])> + Clone,
{
    if op_count > MAX_COMMIT_OPS {
        return Err(SliceError::TooManyOps {
            count: op_count,
            max: MAX_COMMIT_OPS,
        });
    }
    // header ≈ 58 bytes; each section: varint (≤ 3) + CID (36) + block.
    let mut size = 64usize;
    for (cid, block) in blocks.clone() {
        size += 3 + cid.encoded_len() + block.len();
    }
    if size > MAX_SLICE_SIZE + 64 {
        return Err(SliceError::TooLarge {
            size,
            max: MAX_SLICE_SIZE,
        });
    }
    let mut w = CarWriter::new(Vec::with_capacity(size), core::slice::from_ref(commit))?;
    for (cid, block) in blocks {
        w.write_block(cid, block)?;
    }
    let out = w.finish();
    if out.len() > MAX_SLICE_SIZE {
        return Err(SliceError::TooLarge {
            size: out.len(),
            max: MAX_SLICE_SIZE,
        });
    }
    Ok(out)
}
