//! The repository error type.

use alloc::boxed::Box;
use alloc::string::String;

use atproto_core::Cid;
use atproto_core::data::CborError;
use atproto_core::syntax::{Did, Tid};

use crate::block_store::StoreError;
use crate::car::CarError;
use crate::commit::CommitError;
use crate::mst::MstError;

/// Why a repository operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// A create on a path that already holds a record.
    #[error("record {path} already exists")]
    RecordExists {
        /// The record's path.
        path: String,
    },
    /// An update or delete of a path that holds no record.
    #[error("record {path} does not exist")]
    RecordNotFound {
        /// The record's path.
        path: String,
    },
    /// Two writes on the same path in one batch.
    #[error("two writes on {path} in one batch")]
    DuplicatePath {
        /// The record's path.
        path: String,
    },
    /// A record value is not a canonical DAG-CBOR map of the data model.
    #[error("record {path}: {error}")]
    InvalidRecord {
        /// The record's path.
        path: String,
        /// What is wrong with its bytes (offset and kind).
        error: CborError,
    },
    /// A block the repository needs (a commit) is not in the store or CAR.
    #[error("commit block {cid} is missing")]
    MissingCommit {
        /// The commit's CID.
        cid: Box<Cid>,
    },
    /// A record the MST points to is not in the store or CAR.
    #[error("record {path} ({cid}) is missing")]
    MissingRecord {
        /// The record's path.
        path: String,
        /// Its CID.
        cid: Box<Cid>,
    },
    /// The commit is for another account.
    #[error("repository is {found}, expected {expected}")]
    WrongDid {
        /// The DID the caller expected.
        expected: Box<Did>,
        /// The DID in the commit.
        found: Box<Did>,
    },
    /// No commit with a rev at or before the requested one is reachable
    /// through the commit chain (`prev` links) in the store.
    #[error("no commit at or before rev {rev} in the store")]
    UnknownRev {
        /// The rev asked for.
        rev: Tid,
    },
    /// The MST is malformed, a node is missing, or a path is invalid.
    #[error(transparent)]
    Mst(#[from] MstError),
    /// The commit does not decode, its signature does not verify, or no rev
    /// can follow the previous one.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// The CAR is malformed or a block does not hash to its CID.
    #[error(transparent)]
    Car(#[from] CarError),
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RepoError {
    /// Whether a block the operation needs is absent (commit, MST node or
    /// record).
    pub fn is_missing_block(&self) -> bool {
        matches!(
            self,
            Self::MissingCommit { .. }
                | Self::MissingRecord { .. }
                | Self::Mst(MstError::MissingBlock { .. })
        )
    }
}
