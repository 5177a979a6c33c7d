//! What the validator concluded about one event.

use alloc::string::String;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::syntax::{Did, Tid};

use super::ValidationError;

/// What [`Validator`](super::Validator) concluded about one event.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The event is valid and the account's state now reflects it. In
    /// lenient mode `warnings` lists what strict mode would have refused.
    Accepted {
        /// What lenient mode let through (always empty in strict mode).
        warnings: Vec<Warning>,
    },
    /// The event is valid in itself (every proof and signature check
    /// passed) but does not follow from the account's stored state: events
    /// were missed. The account is marked desynchronized and its state moves
    /// to this commit. Resyncing is the caller's job: fetch the repository
    /// with `com.atproto.sync.getRepo` and call
    /// [`Validator::resynced`](super::Validator::resynced) (a `#sync` event
    /// resets it too). Until then each of the account's commits is reported
    /// as [`Desync::AwaitingResync`].
    Desynchronized {
        /// Why.
        reason: Desync,
        /// As for [`Outcome::Accepted`].
        warnings: Vec<Warning>,
    },
    /// The event failed a check; no state changed.
    Rejected(ValidationError),
    /// Nothing to validate: `#info`, error frames, unknown message types.
    Ignored,
}

impl Outcome {
    /// Whether the event was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }

    /// The rejection, if the event was rejected.
    pub fn rejection(&self) -> Option<&ValidationError> {
        match self {
            Outcome::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// The lenient-mode warnings of an accepted or desynchronized event.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            Outcome::Accepted { warnings } | Outcome::Desynchronized { warnings, .. } => warnings,
            Outcome::Rejected(_) | Outcome::Ignored => &[],
        }
    }
}

/// What lenient mode accepted that strict mode rejects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// A `#commit` with `since` and no `prevData`. Every other check ran;
    /// the root the inversion gave was compared with the stored `data`
    /// when there is one (a mismatch desynchronizes the account), and
    /// not compared with anything otherwise.
    #[error("#commit for {did} rev {rev}: prevData is missing (lenient mode: accepted)")]
    MissingPrevData {
        /// The account.
        did: Did,
        /// The event's rev.
        rev: Tid,
    },
}

/// Why a valid event does not follow from the account's stored state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Desync {
    /// The event's `since` is not the stored rev.
    #[error("#commit for {did}: since {} is not the stored rev {stored}", since.as_deref().unwrap_or("null"))]
    SinceMismatch {
        /// The account.
        did: Did,
        /// The event's `since`.
        since: Option<String>,
        /// The stored rev.
        stored: Tid,
    },
    /// The event's `prevData` (in lenient mode without one: the root the
    /// inversion gave) is not the stored MST root.
    #[error("#commit for {did}: prevData {prev_data} is not the stored data {stored}")]
    PrevDataMismatch {
        /// The account.
        did: Did,
        /// The previous root the event proves.
        prev_data: Cid,
        /// The stored root.
        stored: Cid,
    },
    /// The account was already desynchronized and has not been resynced.
    #[error("#commit for {did}: the account is desynchronized and awaits a resync")]
    AwaitingResync {
        /// The account.
        did: Did,
    },
}
