//! Errors of producing and verifying commit proofs.

use alloc::boxed::Box;

use atproto_core::Cid;
use atproto_core::syntax::Did;

use crate::car::CarError;
use crate::commit::CommitError;
use crate::mst::MstError;
use crate::record_path::RecordPath;

/// Why a `#commit` CAR slice could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SliceError {
    /// More operations than a `#commit` event may carry; emit `#sync` or
    /// split the batch.
    #[error("{count} operations exceed the {max} a #commit event may carry")]
    TooManyOps {
        /// The operations in the commit.
        count: usize,
        /// The limit ([`MAX_COMMIT_OPS`](super::MAX_COMMIT_OPS)).
        max: usize,
    },
    /// The slice would exceed the firehose size limit; emit `#sync` or
    /// split the batch.
    #[error("CAR slice of {size} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The slice's size (an estimate when refused before writing).
        size: usize,
        /// The limit ([`MAX_SLICE_SIZE`](super::MAX_SLICE_SIZE)).
        max: usize,
    },
    /// Writing the CAR failed (the [`CarError`] is the source).
    #[error("{0}")]
    Car(#[from] CarError),
}

impl SliceError {
    /// Whether the commit is too big for a `#commit` event (the caller
    /// should emit a `#sync` event or split the batch).
    pub fn is_too_big(&self) -> bool {
        matches!(self, Self::TooManyOps { .. } | Self::TooLarge { .. })
    }
}

/// Why a `#commit` proof was rejected.
///
/// Not `Clone` nor `PartialEq`: CAR and MST failures keep their cause as the
/// [`source`](core::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The CAR slice is malformed, too large, or a block does not hash to
    /// its CID (the [`CarError`] is the source).
    #[error("commit CAR slice: {0}")]
    Car(#[from] CarError),
    /// More operations than [`MAX_COMMIT_OPS`](super::MAX_COMMIT_OPS).
    #[error("{count} operations exceed the limit of {max}")]
    TooManyOps {
        /// The operations given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The CAR's first root (the commit) is not in the slice.
    #[error("commit block {cid} is missing from the slice")]
    MissingCommit {
        /// The root CID.
        cid: Box<Cid>,
    },
    /// The commit does not decode, or its signature does not verify.
    #[error("{0}")]
    Commit(#[from] CommitError),
    /// The commit is for another account.
    #[error("commit is for {found}, expected {expected}")]
    WrongDid {
        /// The DID the caller expected.
        expected: Box<Did>,
        /// The DID in the commit.
        found: Box<Did>,
    },
    /// An op's fields do not fit its action (a create with `prev`, a delete
    /// with `cid`, an update without `prev`, ...).
    #[error("malformed {action} op on {path}: {reason}")]
    MalformedOp {
        /// The op's action (`create`, `update`, `delete`).
        action: &'static str,
        /// The op's path.
        path: RecordPath,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two ops on the same path.
    #[error("two ops on {path}")]
    DuplicatePath {
        /// The path.
        path: RecordPath,
    },
    /// A create/update op's CID differs from the value the new tree holds at
    /// its path (or the path is absent), or a delete's path is still present.
    #[error("op on {path} does not match the tree: {reason}")]
    OpMismatch {
        /// The op's path.
        path: RecordPath,
        /// What differs.
        reason: &'static str,
    },
    /// A create/update op's record block is not in the slice (checked by
    /// [`ProofCheck::require_record_blocks`](super::ProofCheck::require_record_blocks)).
    #[error("record block {cid} of the op on {path} is missing from the slice")]
    MissingRecord {
        /// The op's path.
        path: RecordPath,
        /// The op's `cid`.
        cid: Box<Cid>,
    },
    /// The partial tree cannot be read or inverted: a node the inversion
    /// needs is missing ([`MstError::MissingBlock`]) or malformed (the
    /// [`MstError`] is the source).
    #[error("partial MST: {0}")]
    Mst(#[from] MstError),
    /// Undoing every op did not give back the previous root.
    #[error("inverted root {got} differs from prevData {expected}")]
    RootMismatch {
        /// `prevData`.
        expected: Box<Cid>,
        /// The root after inversion.
        got: Box<Cid>,
    },
}

impl ProofError {
    /// Whether the slice lacks a block the check needs (the commit, an MST
    /// node, or a required record): the producer sent an incomplete proof.
    pub fn is_missing_block(&self) -> bool {
        matches!(
            self,
            Self::MissingCommit { .. }
                | Self::MissingRecord { .. }
                | Self::Mst(MstError::MissingBlock { .. })
        )
    }
}
