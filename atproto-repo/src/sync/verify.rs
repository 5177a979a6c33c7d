//! [`verify_commit_proof`]: checking a `#commit` by inversion
//! ([`verify_commit_proof_unsigned`]: the same without the signature;
//! [`ProofCheck`]: any combination of the optional checks);
//! [`verify_sync_commit`]: checking a `#sync` event's commit.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;

use atproto_core::Cid;
use atproto_core::crypto::PublicKey;
use atproto_core::syntax::Did;
use bytes::Bytes;

use super::{MAX_COMMIT_OPS, Op, OpAction, ProofError};
use crate::block_store::{BlockStore, MemoryBlockStore, StoreError};
use crate::car::{CarLimits, CarReader};
use crate::commit::{Commit, SignatureCheck};
use crate::mst::Mst;

/// A `#commit` that passed [`verify_commit_proof`] (or
/// [`verify_commit_proof_unsigned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedCommit {
    /// The commit's CID (the slice's root).
    pub cid: Cid,
    /// The decoded commit (its `data` is the new MST root, `rev` its rev).
    pub commit: Commit,
    /// The previous MST root the ops were inverted to: the `prevData` the
    /// check was given, or without one ([`ProofCheck`] with no
    /// [`prev_data`](ProofCheck::prev_data)) the root the inversion gave.
    pub prev_data: Cid,
    /// Whether the commit's signature was checked: [`verify_commit_proof`]
    /// gives [`SignatureCheck::Verified`], [`verify_commit_proof_unsigned`]
    /// [`SignatureCheck::NotChecked`].
    pub signature: SignatureCheck,
}

/// Verifies a sync v1.1 `#commit`: `car_slice` is the event's `blocks`,
/// `ops` its `ops`, `prev_data` its `prevData` (for an account's first
/// commit, the empty tree's root,
/// [`EMPTY_TREE_ROOT`](crate::mst::EMPTY_TREE_ROOT)).
///
/// Checks, in order: at most [`MAX_COMMIT_OPS`] ops; the CAR (at most
/// 2,000,000 bytes, every block's hash); its first root is a commit in the
/// slice that decodes strictly; its `did` is `expected_did`; its signature
/// verifies with `key`, the account's signing key; each op is well formed
/// (create: `cid` only; update: `cid` and `prev`; delete: `prev` only) and
/// no path repeats; each create/update `cid` is the value at its path in the
/// new tree; then every op is undone on the partial tree (create → remove,
/// update → put `prev` back, delete → the path must be absent, insert
/// `prev`) and the resulting root must be `prev_data`.
///
/// The result's [`signature`](VerifiedCommit::signature) is
/// [`SignatureCheck::Verified`]. Record blocks are not required (a proof
/// may carry only the tree); [`ProofCheck::require_record_blocks`] adds
/// that check, and [`ProofCheck`] runs any other combination.
///
/// The rev, `since` and `prevData` against the consumer's stored state are
/// the caller's checks.
///
/// # Errors
/// A [`ProofError`] naming the first failed check; a node missing from the
/// slice is [`ProofError::Mst`] with [`MstError::MissingBlock`](crate::mst::MstError::MissingBlock).
pub fn verify_commit_proof(
    car_slice: impl Into<Bytes>,
    ops: &[Op],
    prev_data: &Cid,
    expected_did: &Did,
    key: &PublicKey,
) -> Result<VerifiedCommit, ProofError> {
    ProofCheck::new(expected_did)
        .signed_by(key)
        .prev_data(prev_data)
        .verify(car_slice, ops)
}

/// [`verify_commit_proof`] without the signature: every other check, and the
/// result's [`signature`](VerifiedCommit::signature) is
/// [`SignatureCheck::NotChecked`].
///
/// Without the signature anyone can forge a `#commit` that passes: the
/// inversion proves the ops match the trees, not that the account made
/// them. Use it only where the signature is checked elsewhere or does not
/// matter: a relay that already verified the event and hands it on inside
/// one trust boundary, commits this process produced itself, tests and
/// benchmarks. A consumer of the network firehose uses
/// [`verify_commit_proof`] with the key from the account's DID document.
///
/// # Errors
/// As [`verify_commit_proof`], except a bad signature.
pub fn verify_commit_proof_unsigned(
    car_slice: impl Into<Bytes>,
    ops: &[Op],
    prev_data: &Cid,
    expected_did: &Did,
) -> Result<VerifiedCommit, ProofError> {
    ProofCheck::new(expected_did)
        .prev_data(prev_data)
        .verify(car_slice, ops)
}

/// The checks of a `#commit` proof, chosen one by one:
/// [`verify_commit_proof`] is
/// `ProofCheck::new(did).signed_by(key).prev_data(prev)`.
///
/// [`new`](Self::new) alone runs the checks every proof gets (see
/// [`verify_commit_proof`]): the CAR and its hashes, the commit and its
/// `did`, the ops' shapes, their values in the new tree and the inversion.
/// Each builder method adds one:
/// - [`signed_by`](Self::signed_by): the commit's signature;
/// - [`prev_data`](Self::prev_data): the inverted root must equal it
///   (without it, [`VerifiedCommit::prev_data`] is whatever root the
///   inversion gave: what `prevData` should have been; a firehose consumer
///   in lenient mode uses it for events that lack `prevData`);
/// - [`require_record_blocks`](Self::require_record_blocks): the block of
///   every create/update `cid` is in the slice (sync v1.1 says a `#commit`
///   carries its new records; the inversion alone does not notice when
///   they are missing).
#[derive(Clone, Copy, Debug)]
pub struct ProofCheck<'a> {
    expected_did: &'a Did,
    key: Option<&'a PublicKey>,
    prev_data: Option<&'a Cid>,
    require_records: bool,
}

impl<'a> ProofCheck<'a> {
    /// The checks every proof gets, for a commit by `expected_did`.
    pub fn new(expected_did: &'a Did) -> Self {
        ProofCheck {
            expected_did,
            key: None,
            prev_data: None,
            require_records: false,
        }
    }

    /// Also verify the commit's signature with `key`, the account's signing
    /// key.
    #[must_use]
    pub fn signed_by(mut self, key: &'a PublicKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Also require the inverted root to be `prev_data` (the event's
    /// `prevData`).
    #[must_use]
    pub fn prev_data(mut self, prev_data: &'a Cid) -> Self {
        self.prev_data = Some(prev_data);
        self
    }

    /// Also require the block of every create/update op's `cid` in the slice
    /// ([`ProofError::MissingRecord`] otherwise).
    #[must_use]
    pub fn require_record_blocks(mut self) -> Self {
        self.require_records = true;
        self
    }

    /// Runs the chosen checks on `car_slice` (the event's `blocks`) and `ops`.
    ///
    /// # Errors
    /// A [`ProofError`] naming the first failed check, in the order of
    /// [`verify_commit_proof`]; [`ProofError::MissingRecord`] comes after
    /// the ops' shapes and before their values in the tree.
    pub fn verify(
        &self,
        car_slice: impl Into<Bytes>,
        ops: &[Op],
    ) -> Result<VerifiedCommit, ProofError> {
        verify(car_slice.into(), ops, self)
    }
}

/// A `#sync` event's commit, checked by [`verify_sync_commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedSync {
    /// The commit's CID (the slice's root).
    pub cid: Cid,
    /// The decoded commit: the account's state is now its `rev` and `data`.
    pub commit: Commit,
    /// Whether the signature was checked ([`SignatureCheck::Verified`] when
    /// a key was given).
    pub signature: SignatureCheck,
}

/// Verifies a `#sync` event's `blocks`: a CAR (every block's hash checked)
/// whose first root is a commit in the slice that decodes strictly, whose
/// `did` is `expected_did` and, when `key` is given, whose signature
/// verifies with it. The MST is not in a `#sync` slice and is not looked at.
///
/// # Errors
/// [`ProofError::Car`], [`ProofError::MissingCommit`],
/// [`ProofError::Commit`] (undecodable commit, bad signature) or
/// [`ProofError::WrongDid`].
pub fn verify_sync_commit(
    car_slice: impl Into<Bytes>,
    expected_did: &Did,
    key: Option<&PublicKey>,
) -> Result<VerifiedSync, ProofError> {
    let (mut store, root) = read_slice(car_slice.into())?;
    let (commit, signature) = take_commit(&mut store, &root, expected_did, key)?;
    Ok(VerifiedSync {
        cid: root,
        commit,
        signature,
    })
}

/// Every block of a slice (hashes checked) and its first root.
fn read_slice(car_slice: Bytes) -> Result<(MemoryBlockStore, Cid), ProofError> {
    let reader = CarReader::with_limits(car_slice, CarLimits::FIREHOSE)?;
    let root = reader.roots()[0];
    // Hashing two blocks at a time and building the map in one go.
    let store = reader.into_blocks()?.into_iter().collect();
    Ok((store, root))
}

/// A CAR slice's blocks, every hash checked by [`read_slice`]: the MST loads
/// its nodes from here without hashing them again. Read-only, so nothing
/// unchecked gets in.
struct SliceBlocks(MemoryBlockStore);

impl BlockStore for SliceBlocks {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        self.0.get(cid)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.0.has(cid)
    }

    fn put(&mut self, _: Cid, _: Bytes) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn blocks_verified(&self) -> bool {
        true
    }
}

/// Takes the commit block `root` out of `store`, decodes it, checks its
/// DID and (with a key) its signature.
fn take_commit(
    store: &mut MemoryBlockStore,
    root: &Cid,
    expected_did: &Did,
    key: Option<&PublicKey>,
) -> Result<(Commit, SignatureCheck), ProofError> {
    let commit_bytes = store
        .remove(root)
        .ok_or_else(|| ProofError::MissingCommit {
            cid: Box::new(*root),
        })?;
    let commit = Commit::decode_bytes(&commit_bytes)?;
    if commit.did != *expected_did {
        return Err(ProofError::WrongDid {
            expected: Box::new(expected_did.clone()),
            found: Box::new(commit.did.clone()),
        });
    }
    let signature = commit.check_signature(key)?;
    Ok((commit, signature))
}

/// Every entry point: the checks `check` selects.
fn verify(
    car_slice: Bytes,
    ops: &[Op],
    check: &ProofCheck<'_>,
) -> Result<VerifiedCommit, ProofError> {
    if ops.len() > MAX_COMMIT_OPS {
        return Err(ProofError::TooManyOps {
            count: ops.len(),
            max: MAX_COMMIT_OPS,
        });
    }
    let (mut store, root) = read_slice(car_slice)?;
    let (commit, signature) = take_commit(&mut store, &root, check.expected_did, check.key)?;

    let mut seen = BTreeSet::new();
    for op in ops {
        check_op_shape(op)?;
        if !seen.insert(&op.path) {
            return Err(ProofError::DuplicatePath {
                path: op.path.clone(),
            });
        }
    }
    if check.require_records {
        for op in ops {
            if let Some(cid) = op.cid
                && !store.has(&cid).map_err(crate::mst::MstError::from)?
            {
                return Err(ProofError::MissingRecord {
                    path: op.path.clone(),
                    cid: Box::new(cid),
                });
            }
        }
    }

    let mut mst = Mst::load(SliceBlocks(store), commit.data)?;
    for op in ops {
        let now = mst.get(&op.path)?;
        if op.action != OpAction::Delete && now != op.cid {
            return Err(mismatch(
                op,
                "the tree's value at the path is not the op's cid",
            ));
        }
    }
    for op in ops {
        match op.action {
            OpAction::Create => {
                if mst.remove(&op.path)? != op.cid {
                    return Err(mismatch(op, "created value not found"));
                }
            }
            OpAction::Update => {
                let prev = op.prev.ok_or_else(|| mismatch(op, "no prev"))?;
                if mst.insert(&op.path, prev)? != op.cid {
                    return Err(mismatch(op, "updated value not found"));
                }
            }
            OpAction::Delete => {
                let prev = op.prev.ok_or_else(|| mismatch(op, "no prev"))?;
                if mst.insert(&op.path, prev)?.is_some() {
                    return Err(mismatch(op, "deleted path is still in the tree"));
                }
            }
        }
    }
    let got = mst.root_cid()?;
    if let Some(expected) = check.prev_data
        && got != *expected
    {
        return Err(ProofError::RootMismatch {
            expected: Box::new(*expected),
            got: Box::new(got),
        });
    }
    Ok(VerifiedCommit {
        cid: root,
        commit,
        prev_data: got,
        signature,
    })
}

fn mismatch(op: &Op, reason: &'static str) -> ProofError {
    ProofError::OpMismatch {
        path: op.path.clone(),
        reason,
    }
}

fn check_op_shape(op: &Op) -> Result<(), ProofError> {
    let reason = match (op.action, op.cid.is_some(), op.prev.is_some()) {
        (OpAction::Create, false, _) => "a create needs a cid",
        (OpAction::Create, _, true) => "a create has no prev",
        (OpAction::Update, false, _) => "an update needs a cid",
        (OpAction::Update, _, false) => "an update needs prev (sync v1.1)",
        (OpAction::Delete, true, _) => "a delete has no cid",
        (OpAction::Delete, _, false) => "a delete needs prev (sync v1.1)",
        _ => return Ok(()),
    };
    Err(ProofError::MalformedOp {
        action: op.action.as_str(),
        path: op.path.clone(),
        reason,
    })
}
