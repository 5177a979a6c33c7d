//! The repository error type.

use alloc::boxed::Box;

use atproto_core::Cid;
use atproto_core::data::CborError;
use atproto_core::syntax::{Did, Tid};

use crate::block_store::StoreError;
use crate::car::CarError;
use crate::commit::CommitError;
use crate::mst::MstError;
use crate::record_path::RecordPath;
use crate::suffix::Suffix;

/// Why a repository operation failed.
///
/// Not `Clone` nor `PartialEq`: store and CAR failures keep their cause.
/// Every wrapped error ([`MstError`], [`CommitError`], [`CarError`],
/// [`StoreError`]) is the [`source`](core::error::Error::source), and the
/// message repeats its text so that one line tells the whole story.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// A create on a path that already holds a record.
    #[error("record {path} already exists")]
    RecordExists {
        /// The record's path.
        path: RecordPath,
    },
    /// An update or delete of a path that holds no record.
    #[error("record {path} does not exist")]
    RecordNotFound {
        /// The record's path.
        path: RecordPath,
    },
    /// Two writes on the same path in one batch.
    #[error("two writes on {path} in one batch")]
    DuplicatePath {
        /// The record's path.
        path: RecordPath,
    },
    /// A record value is not a canonical DAG-CBOR map of the data model.
    #[error("record{}: {error}", Suffix(" ", .path.as_ref()))]
    InvalidRecord {
        /// The record's path (`None` from
        /// [`RecordValue::serialize`](super::RecordValue::serialize), which
        /// has none).
        path: Option<RecordPath>,
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
        path: RecordPath,
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
    /// The MST is malformed, a node is missing, or its store failed.
    #[error("{0}")]
    Mst(#[from] MstError),
    /// The commit does not decode, its signature does not verify, or no rev
    /// can follow the previous one.
    #[error("{0}")]
    Commit(#[from] CommitError),
    /// The CAR is malformed, a block does not hash to its CID, or reading
    /// or writing it failed.
    #[error("{0}")]
    Car(#[from] CarError),
    /// The block store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}
