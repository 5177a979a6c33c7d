//! Sync v1.1 validation of the firehose, with a per-account state machine.
//!
//! A [`Validator`] takes decoded frames in order ([`Validator::frame`]) and
//! says for each an [`Outcome`]: accepted (with any lenient-mode
//! [`Warning`]s), desynchronized ([`Desync`]), or rejected
//! ([`ValidationError`], one variant per check). The account's signing key
//! comes from the caller ([`KeySource`], or an argument of
//! [`Validator::commit`]/[`Validator::sync`]); the time "now" too, in
//! microseconds since the Unix epoch.
//!
//! # The checks of a `#commit` (SPEC-NOTES §5), in order
//! 1. `repo` is a DID ([`ValidationError::BadDid`]); `tooBig` and `rebase`
//!    are false ([`TooBig`](ValidationError::TooBig),
//!    [`Rebase`](ValidationError::Rebase)); `rev` is a TID
//!    ([`BadRev`](ValidationError::BadRev)) at most 5 minutes after now
//!    ([`RevInFuture`](ValidationError::RevInFuture)).
//! 2. Against the stored state: the account is active
//!    ([`AccountInactive`](ValidationError::AccountInactive)); `rev` is
//!    after the stored rev ([`RevNotIncreasing`](ValidationError::RevNotIncreasing)).
//! 3. `prevData` is present unless `since` is null (the account's first
//!    commit, inverted to the empty tree); strict mode rejects its absence
//!    ([`MissingPrevData`](ValidationError::MissingPrevData)), lenient mode
//!    accepts with [`Warning::MissingPrevData`].
//! 4. Each op's path is a record path ([`BadPath`](ValidationError::BadPath)).
//! 5. The proof, by [`atproto_repo::sync::ProofCheck`] (every failure is
//!    [`ValidationError::Proof`] naming the [`ProofError`](atproto_repo::sync::ProofError)
//!    variant, except the signature): at most 200 ops; the CAR slice at
//!    most 2,000,000 bytes with every block's hash checked (each byte hashed
//!    once); its root block is a commit that decodes strictly, whose `did`
//!    is `repo`; its signature verifies with the account's key
//!    ([`NoKey`](ValidationError::NoKey),
//!    [`BadSignature`](ValidationError::BadSignature)); ops well formed, no
//!    duplicate path; the record block of every create/update present; each
//!    create/update `cid` is the tree's value at its path; undoing every op
//!    gives `prevData`.
//! 6. The slice's root is the event's `commit`
//!    ([`CommitMismatch`](ValidationError::CommitMismatch)) and the commit's
//!    rev is the event's `rev` ([`RevMismatch`](ValidationError::RevMismatch)).
//! 7. The chain: a valid commit whose `since` is not the stored rev, or
//!    whose previous root is not the stored `data`, makes the account
//!    desynchronized ([`Outcome::Desynchronized`]); the state moves on to
//!    the commit either way. An account never seen before has no chain to
//!    check.
//!
//! # Strict and lenient
//! [`Mode::Strict`] and [`Mode::Lenient`] differ in exactly one place: a
//! `#commit` with a non-null `since` and no `prevData`. Strict rejects it
//! ([`ValidationError::MissingPrevData`]); lenient (what relays ran before
//! switching to sync v1.1) runs every other check, inverts the ops without
//! comparing the result to a `prevData`, compares that result with the
//! stored `data` if there is one (a difference desynchronizes the account
//! as it would in strict mode), and accepts with
//! [`Warning::MissingPrevData`]. Every other event gets the same outcome in
//! both modes.
//!
//! # The other events
//! - `#sync`: the commit in its `blocks` is checked (CAR and hashes, the
//!   root block is a commit by `did`, its signature, its rev is the
//!   event's, not in the future and not before the stored rev) and the
//!   account's state is reset to it: rev, `data`, commit, no longer
//!   desynchronized.
//! - `#account`: records `active` and `status`.
//! - `#identity`: records the handle; the account's key may have changed,
//!   so a caller caching keys drops the DID's entry.
//! - `#info`, error frames and unknown types: [`Outcome::Ignored`].
//!
//! Not checked here: that the event came from the account's PDS (a relay
//! knows its upstream hosts; the validator does not), `seq` order (the
//! consumer's cursor), lexicon validity of records (relays do not).

mod commit;
mod error;
mod keys;
mod outcome;
mod state;

use atproto_core::Cid;
use atproto_core::crypto::PublicKey;
use atproto_core::syntax::{Did, Tid};

pub use error::ValidationError;
pub use keys::KeySource;
pub use outcome::{Desync, Outcome, Warning};
pub use state::{AccountState, AccountStore, MemoryAccountStore, StoreError};

use crate::frame::{AccountMessage, CommitMessage, Frame, IdentityMessage, SyncMessage};

/// How a `#commit` without `prevData` is treated (the only difference; see
/// the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Sync v1.1 as specified: rejected.
    #[default]
    Strict,
    /// What relays ran before switching: accepted with a warning.
    Lenient,
}

/// Validates firehose events in order and keeps each account's state in a
/// [`AccountStore`].
///
/// Events of one account must be given in order; events of different
/// accounts are independent (a consumer may shard accounts across several
/// validators, each with its own store or a shared one).
#[derive(Clone, Debug, Default)]
pub struct Validator<S = MemoryAccountStore> {
    store: S,
    mode: Mode,
}

impl Validator<MemoryAccountStore> {
    /// A validator keeping state in memory.
    pub fn in_memory(mode: Mode) -> Self {
        Validator::new(MemoryAccountStore::new(), mode)
    }
}

impl<S: AccountStore> Validator<S> {
    /// A validator keeping state in `store`.
    pub fn new(store: S, mode: Mode) -> Self {
        Validator { store, mode }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The account store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The account store, mutably.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives back the account store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Validates one frame: `#commit` and `#sync` with the key `keys` gives
    /// for the account ([`ValidationError::NoKey`] if none), `#account` and
    /// `#identity` update the state, anything else is
    /// [`Outcome::Ignored`]. `now_micros` is the current time in
    /// microseconds since the Unix epoch.
    ///
    /// # Errors
    /// [`StoreError`] if the store failed; a failed check is an
    /// [`Outcome::Rejected`], not an error.
    pub fn frame<K: KeySource + ?Sized>(
        &mut self,
        frame: &Frame,
        keys: &K,
        now_micros: u64,
    ) -> Result<Outcome, StoreError> {
        match frame {
            Frame::Commit(m) => match parse_did("#commit", &m.repo) {
                Ok(did) => {
                    let key = keys.signing_key(&did);
                    commit::finish(self.check_commit(m, &did, key.as_ref(), now_micros))
                }
                Err(e) => Ok(Outcome::Rejected(*e)),
            },
            Frame::Sync(m) => match parse_did("#sync", &m.did) {
                Ok(did) => {
                    let key = keys.signing_key(&did);
                    commit::finish(self.check_sync(m, &did, key.as_ref(), now_micros))
                }
                Err(e) => Ok(Outcome::Rejected(*e)),
            },
            Frame::Account(m) => self.account(m),
            Frame::Identity(m) => self.identity(m),
            Frame::Info(_) | Frame::Error(_) | Frame::Unknown(_) => Ok(Outcome::Ignored),
        }
    }

    /// Validates a `#commit` whose account's signing key is `key` (see the
    /// [module docs](self) for the checks) and updates the account's state.
    ///
    /// # Errors
    /// [`StoreError`] if the store failed.
    pub fn commit(
        &mut self,
        msg: &CommitMessage,
        key: &PublicKey,
        now_micros: u64,
    ) -> Result<Outcome, StoreError> {
        match parse_did("#commit", &msg.repo) {
            Ok(did) => commit::finish(self.check_commit(msg, &did, Some(key), now_micros)),
            Err(e) => Ok(Outcome::Rejected(*e)),
        }
    }

    /// Validates a `#sync` whose account's signing key is `key` and resets
    /// the account's state to its commit.
    ///
    /// # Errors
    /// [`StoreError`] if the store failed.
    pub fn sync(
        &mut self,
        msg: &SyncMessage,
        key: &PublicKey,
        now_micros: u64,
    ) -> Result<Outcome, StoreError> {
        match parse_did("#sync", &msg.did) {
            Ok(did) => commit::finish(self.check_sync(msg, &did, Some(key), now_micros)),
            Err(e) => Ok(Outcome::Rejected(*e)),
        }
    }

    /// Records an `#account` event's `active` and `status`.
    ///
    /// # Errors
    /// [`StoreError`] if the store failed.
    pub fn account(&mut self, msg: &AccountMessage) -> Result<Outcome, StoreError> {
        let did = match parse_did("#account", &msg.did) {
            Ok(did) => did,
            Err(e) => return Ok(Outcome::Rejected(*e)),
        };
        let mut state = self.store.get(&did)?.unwrap_or_default();
        state.active = msg.active;
        state.status.clone_from(&msg.status);
        self.store.put(&did, state)?;
        Ok(accepted())
    }

    /// Records an `#identity` event's handle (the account's DID document may
    /// have changed: a caller caching signing keys drops this DID's).
    ///
    /// # Errors
    /// [`StoreError`] if the store failed.
    pub fn identity(&mut self, msg: &IdentityMessage) -> Result<Outcome, StoreError> {
        let did = match parse_did("#identity", &msg.did) {
            Ok(did) => did,
            Err(e) => return Ok(Outcome::Rejected(*e)),
        };
        let mut state = self.store.get(&did)?.unwrap_or_default();
        state.handle.clone_from(&msg.handle);
        self.store.put(&did, state)?;
        Ok(accepted())
    }

    /// The caller resynced `did` (fetched its repository with `getRepo` and
    /// verified it): its state becomes that commit's, no longer
    /// desynchronized.
    ///
    /// # Errors
    /// [`StoreError`] if the store failed.
    pub fn resynced(
        &mut self,
        did: &Did,
        rev: Tid,
        data: Cid,
        commit: Cid,
    ) -> Result<(), StoreError> {
        let mut state = self.store.get(did)?.unwrap_or_default();
        state.rev = Some(rev);
        state.data = Some(data);
        state.commit = Some(commit);
        state.desynchronized = false;
        self.store.put(did, state)
    }
}

fn accepted() -> Outcome {
    Outcome::Accepted {
        warnings: alloc::vec::Vec::new(),
    }
}

/// The DID of an event (the error boxed: it is large and rare).
fn parse_did(
    message: &'static str,
    value: &str,
) -> Result<Did, alloc::boxed::Box<ValidationError>> {
    value.parse().map_err(|error| {
        alloc::boxed::Box::new(ValidationError::BadDid {
            message,
            value: value.into(),
            error,
        })
    })
}
