//! Why the validator rejected an event: one variant per check, each message
//! naming the message type, the account and what failed. The event's `seq`
//! is the caller's to add (it has the frame).

use alloc::boxed::Box;
use alloc::string::String;

use atproto_core::Cid;
use atproto_core::crypto::CryptoError;
use atproto_core::syntax::{Did, SyntaxError, Tid};
use atproto_repo::record_path::RecordPathError;
use atproto_repo::sync::ProofError;

/// Why an event was rejected. A rejected event changes no account state.
///
/// `message` fields are the message type, `#commit` or `#sync`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The event's `repo`/`did` is not a DID.
    #[error("{message}: repo {value:?} is not a DID: {error}")]
    BadDid {
        /// The message type.
        message: &'static str,
        /// The field's text.
        value: String,
        /// What the DID parser said.
        error: SyntaxError,
    },
    /// The event's `rev` is not a TID.
    #[error("{message} for {did}: rev {value:?} is not a TID: {error}")]
    BadRev {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
        /// The field's text.
        value: String,
        /// What the TID parser said.
        error: SyntaxError,
    },
    /// `tooBig` is set: the event does not carry its changes (deprecated;
    /// sync v1.1 refuses it).
    #[error("#commit for {did} rev {rev}: tooBig is set (sync v1.1 refuses it)")]
    TooBig {
        /// The account.
        did: Did,
        /// The event's rev.
        rev: String,
    },
    /// `rebase` is set (deprecated; sync v1.1 refuses it).
    #[error("#commit for {did} rev {rev}: rebase is set (sync v1.1 refuses it)")]
    Rebase {
        /// The account.
        did: Did,
        /// The event's rev.
        rev: String,
    },
    /// The rev's timestamp is more than 5 minutes
    /// ([`MAX_REV_FUTURE_MICROS`](atproto_repo::commit::MAX_REV_FUTURE_MICROS))
    /// after the caller's "now".
    #[error("{message} for {did}: rev {rev} is more than 5 minutes in the future")]
    RevInFuture {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
        /// The event's rev.
        rev: Tid,
    },
    /// The rev is not after the account's stored rev (for `#sync`: before
    /// it; a `#sync` may restate the current commit).
    #[error("{message} for {did}: rev {rev} is not after the stored rev {stored}")]
    RevNotIncreasing {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
        /// The event's rev.
        rev: Tid,
        /// The stored rev.
        stored: Tid,
    },
    /// A `#commit` of an account whose last `#account` said it is not active.
    #[error("#commit for {did}: the account is not active (status {})", status.as_deref().unwrap_or("none"))]
    AccountInactive {
        /// The account.
        did: Did,
        /// The status the `#account` event gave.
        status: Option<String>,
    },
    /// Strict mode: a `#commit` with `since` (not the account's first) and
    /// no `prevData`. Lenient mode accepts it with
    /// [`Warning::MissingPrevData`](super::Warning::MissingPrevData).
    #[error(
        "#commit for {did} rev {rev}: prevData is missing (only an account's first commit may omit it)"
    )]
    MissingPrevData {
        /// The account.
        did: Did,
        /// The event's rev.
        rev: Tid,
    },
    /// An op's `path` is not a record path (`collection/rkey`).
    #[error("#commit for {did}: op {index}: {error}")]
    BadPath {
        /// The account.
        did: Did,
        /// The op's index in `ops`.
        index: usize,
        /// What is wrong with the path.
        error: RecordPathError,
    },
    /// The caller's [`KeySource`](super::KeySource) has no key for the
    /// account.
    #[error("{message} for {did}: no signing key is known for the account")]
    NoKey {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
    },
    /// The commit's signature does not verify with the key given. The key
    /// may be stale (the account rotated it): re-resolve the DID once and
    /// validate the event again
    /// ([`is_key_maybe_stale`](Self::is_key_maybe_stale)).
    #[error(
        "{message} for {did}: the commit signature does not verify with the account's key ({error}); the key may be stale"
    )]
    BadSignature {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
        /// What the verifier said.
        error: CryptoError,
    },
    /// The `blocks` CAR slice does not prove the event (the [`ProofError`]
    /// names the check: CAR and hashes, the commit block, its DID, the ops'
    /// shapes, a missing record block, the tree's values, the inversion to
    /// `prevData`).
    #[error("{message} for {did}: {error}")]
    Proof {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
        /// The failed check.
        error: ProofError,
    },
    /// The slice's root (the commit it proves) is not the event's `commit`.
    #[error("#commit for {did}: the blocks' root {root} is not the event's commit {commit}")]
    CommitMismatch {
        /// The account.
        did: Did,
        /// The CAR slice's root.
        root: Box<Cid>,
        /// The event's `commit`.
        commit: Box<Cid>,
    },
    /// The signed commit's rev is not the event's `rev`.
    #[error(
        "{message} for {did}: the commit's rev {commit_rev} is not the event's rev {event_rev}"
    )]
    RevMismatch {
        /// The message type.
        message: &'static str,
        /// The account.
        did: Did,
        /// The event's rev.
        event_rev: Tid,
        /// The signed commit's rev.
        commit_rev: Tid,
    },
}

impl ValidationError {
    /// Whether the account's key may be stale: the signature failed, so
    /// re-resolving the DID document and validating the event once more
    /// may succeed.
    pub fn is_key_maybe_stale(&self) -> bool {
        matches!(self, ValidationError::BadSignature { .. })
    }

    /// The account the event was for (`None` when its DID did not parse).
    pub fn did(&self) -> Option<&Did> {
        match self {
            ValidationError::BadDid { .. } => None,
            ValidationError::BadRev { did, .. }
            | ValidationError::TooBig { did, .. }
            | ValidationError::Rebase { did, .. }
            | ValidationError::RevInFuture { did, .. }
            | ValidationError::RevNotIncreasing { did, .. }
            | ValidationError::AccountInactive { did, .. }
            | ValidationError::MissingPrevData { did, .. }
            | ValidationError::BadPath { did, .. }
            | ValidationError::NoKey { did, .. }
            | ValidationError::BadSignature { did, .. }
            | ValidationError::Proof { did, .. }
            | ValidationError::CommitMismatch { did, .. }
            | ValidationError::RevMismatch { did, .. } => Some(did),
        }
    }
}
