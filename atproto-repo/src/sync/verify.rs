//! [`verify_commit_proof`]: checking a `#commit` by inversion
//! ([`verify_commit_proof_unsigned`]: the same without the signature).

use alloc::boxed::Box;
use alloc::collections::BTreeSet;

use atproto_core::Cid;
use atproto_core::crypto::PublicKey;
use atproto_core::syntax::Did;
use bytes::Bytes;

use super::{MAX_COMMIT_OPS, Op, OpAction, ProofError};
use crate::block_store::MemoryBlockStore;
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
    /// The previous MST root the ops were inverted to.
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
/// [`SignatureCheck::Verified`].
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
    verify(car_slice.into(), ops, prev_data, expected_did, Some(key))
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
    verify(car_slice.into(), ops, prev_data, expected_did, None)
}

/// Both entry points: the signature is checked exactly when `key` is given.
fn verify(
    car_slice: Bytes,
    ops: &[Op],
    prev_data: &Cid,
    expected_did: &Did,
    key: Option<&PublicKey>,
) -> Result<VerifiedCommit, ProofError> {
    if ops.len() > MAX_COMMIT_OPS {
        return Err(ProofError::TooManyOps {
            count: ops.len(),
            max: MAX_COMMIT_OPS,
        });
    }
    let reader = CarReader::with_limits(car_slice, CarLimits::FIREHOSE)?;
    let root = reader.roots()[0];
    let mut store = MemoryBlockStore::new();
    for block in reader {
        let (cid, bytes) = block?;
        crate::block_store::BlockStore::put(&mut store, cid, bytes)
            .map_err(crate::mst::MstError::from)?;
    }
    let commit_bytes = store
        .remove(&root)
        .ok_or_else(|| ProofError::MissingCommit {
            cid: Box::new(root),
        })?;
    let commit = Commit::decode_bytes(&commit_bytes)?;
    if commit.did != *expected_did {
        return Err(ProofError::WrongDid {
            expected: Box::new(expected_did.clone()),
            found: Box::new(commit.did.clone()),
        });
    }
    let signature = commit.check_signature(key)?;

    let mut seen = BTreeSet::new();
    for op in ops {
        check_op_shape(op)?;
        if !seen.insert(&op.path) {
            return Err(ProofError::DuplicatePath {
                path: op.path.clone(),
            });
        }
    }

    let mut mst = Mst::load(store, commit.data)?;
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
    if got != *prev_data {
        return Err(ProofError::RootMismatch {
            expected: Box::new(*prev_data),
            got: Box::new(got),
        });
    }
    Ok(VerifiedCommit {
        cid: root,
        commit,
        prev_data: *prev_data,
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
