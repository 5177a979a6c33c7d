//! The `#commit` and `#sync` checks and their state transitions (the order
//! is the module docs' list).

use alloc::boxed::Box;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::crypto::PublicKey;
use atproto_core::data::dag_cbor_cid;
use atproto_core::syntax::{Did, Tid};
use atproto_repo::commit::{CommitError, check_rev_not_future};
use atproto_repo::record_path::RecordPath;
use atproto_repo::sync::{Op, OpAction, ProofCheck, ProofError, verify_sync_commit};

use super::{
    AccountState, AccountStore, Desync, Mode, Outcome, StoreError, ValidationError, Validator,
    Warning,
};
use crate::frame::{Action, CommitMessage, SyncMessage};

/// The empty MST node `{e: [], l: null}`: an account's first commit
/// inverts to its CID ([`EMPTY_TREE_ROOT`](atproto_repo::mst::EMPTY_TREE_ROOT)).
const EMPTY_NODE: [u8; 7] = [0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6];

/// A check failed, or the store did.
pub(super) enum Fail {
    // Boxed: every check's `Result` carries it.
    Invalid(Box<ValidationError>),
    Store(StoreError),
}

impl From<ValidationError> for Fail {
    fn from(e: ValidationError) -> Self {
        Fail::Invalid(Box::new(e))
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

/// A failed check becomes the outcome; a store failure the error.
pub(super) fn finish(result: Result<Outcome, Fail>) -> Result<Outcome, StoreError> {
    match result {
        Ok(outcome) => Ok(outcome),
        Err(Fail::Invalid(e)) => Ok(Outcome::Rejected(*e)),
        Err(Fail::Store(e)) => Err(e),
    }
}

impl<S: AccountStore> Validator<S> {
    pub(super) fn check_commit(
        &mut self,
        msg: &CommitMessage,
        did: &Did,
        key: Option<&PublicKey>,
        now_micros: u64,
    ) -> Result<Outcome, Fail> {
        const M: &str = "#commit";
        // 1. The event's own fields.
        if msg.too_big {
            return Err(ValidationError::TooBig {
                did: did.clone(),
                rev: msg.rev.clone(),
            }
            .into());
        }
        if msg.rebase {
            return Err(ValidationError::Rebase {
                did: did.clone(),
                rev: msg.rev.clone(),
            }
            .into());
        }
        let rev = parse_rev(M, did, &msg.rev)?;
        not_future(M, did, rev, now_micros)?;

        // 2. Against the stored state.
        let stored = self.store.get(did)?;
        if let Some(state) = &stored {
            if !state.active {
                return Err(ValidationError::AccountInactive {
                    did: did.clone(),
                    status: state.status.clone(),
                }
                .into());
            }
            if let Some(stored_rev) = state.rev
                && rev <= stored_rev
            {
                return Err(ValidationError::RevNotIncreasing {
                    message: M,
                    did: did.clone(),
                    rev,
                    stored: stored_rev,
                }
                .into());
            }
        }

        // 3. prevData.
        let mut warnings = Vec::new();
        let first_root;
        let prev_data = match (&msg.prev_data, &msg.since) {
            (Some(prev), _) => Some(prev),
            (None, None) => {
                first_root = dag_cbor_cid(&EMPTY_NODE);
                Some(&first_root)
            }
            (None, Some(_)) => match self.mode {
                Mode::Strict => {
                    return Err(ValidationError::MissingPrevData {
                        did: did.clone(),
                        rev,
                    }
                    .into());
                }
                Mode::Lenient => {
                    warnings.push(Warning::MissingPrevData {
                        did: did.clone(),
                        rev,
                    });
                    None
                }
            },
        };

        // 4. Paths.
        let mut ops = Vec::with_capacity(msg.ops.len());
        for (index, op) in msg.ops.iter().enumerate() {
            let path = RecordPath::try_from(op.path.as_str()).map_err(|error| {
                ValidationError::BadPath {
                    did: did.clone(),
                    index,
                    error,
                }
            })?;
            ops.push(Op {
                action: match op.action {
                    Action::Create => OpAction::Create,
                    Action::Update => OpAction::Update,
                    Action::Delete => OpAction::Delete,
                },
                path,
                cid: op.cid,
                prev: op.prev,
            });
        }

        // 5. The proof.
        let key = key.ok_or_else(|| {
            Fail::from(ValidationError::NoKey {
                message: M,
                did: did.clone(),
            })
        })?;
        let mut check = ProofCheck::new(did).signed_by(key).require_record_blocks();
        if let Some(prev) = prev_data {
            check = check.prev_data(prev);
        }
        let verified = check
            .verify(msg.blocks.clone(), &ops)
            .map_err(|e| proof_error(M, did, e))?;

        // 6. The proof is of this event.
        if verified.cid != msg.commit {
            return Err(ValidationError::CommitMismatch {
                did: did.clone(),
                root: Box::new(verified.cid),
                commit: Box::new(msg.commit),
            }
            .into());
        }
        same_rev(M, did, rev, verified.commit.rev)?;

        // 7. The chain.
        let mut state = stored.unwrap_or_default();
        let desync = if state.desynchronized {
            Some(Desync::AwaitingResync { did: did.clone() })
        } else {
            chain_break(&state, msg, did, &verified.prev_data)
        };
        state.rev = Some(rev);
        state.data = Some(verified.commit.data);
        state.commit = Some(verified.cid);
        state.desynchronized = desync.is_some();
        self.store.put(did, state)?;
        Ok(match desync {
            None => Outcome::Accepted { warnings },
            Some(reason) => Outcome::Desynchronized { reason, warnings },
        })
    }

    pub(super) fn check_sync(
        &mut self,
        msg: &SyncMessage,
        did: &Did,
        key: Option<&PublicKey>,
        now_micros: u64,
    ) -> Result<Outcome, Fail> {
        const M: &str = "#sync";
        let rev = parse_rev(M, did, &msg.rev)?;
        not_future(M, did, rev, now_micros)?;
        let stored = self.store.get(did)?;
        if let Some(stored_rev) = stored.as_ref().and_then(|s| s.rev)
            && rev < stored_rev
        {
            return Err(ValidationError::RevNotIncreasing {
                message: M,
                did: did.clone(),
                rev,
                stored: stored_rev,
            }
            .into());
        }
        let key = key.ok_or_else(|| {
            Fail::from(ValidationError::NoKey {
                message: M,
                did: did.clone(),
            })
        })?;
        let verified = verify_sync_commit(msg.blocks.clone(), did, Some(key))
            .map_err(|e| proof_error(M, did, e))?;
        same_rev(M, did, rev, verified.commit.rev)?;
        let mut state = stored.unwrap_or_default();
        state.rev = Some(rev);
        state.data = Some(verified.commit.data);
        state.commit = Some(verified.cid);
        state.desynchronized = false;
        self.store.put(did, state)?;
        Ok(Outcome::Accepted {
            warnings: Vec::new(),
        })
    }
}

/// Why a valid commit does not follow from `state` (`None`: it does, or
/// there is nothing stored to follow from).
fn chain_break(
    state: &AccountState,
    msg: &CommitMessage,
    did: &Did,
    prev_data: &Cid,
) -> Option<Desync> {
    let stored = state.rev?;
    if msg.since.as_deref() != Some(stored.as_str()) {
        return Some(Desync::SinceMismatch {
            did: did.clone(),
            since: msg.since.clone(),
            stored,
        });
    }
    match state.data {
        Some(data) if data != *prev_data => Some(Desync::PrevDataMismatch {
            did: did.clone(),
            prev_data: *prev_data,
            stored: data,
        }),
        _ => None,
    }
}

fn parse_rev(message: &'static str, did: &Did, value: &str) -> Result<Tid, Fail> {
    value.parse().map_err(|error| {
        Fail::from(ValidationError::BadRev {
            message,
            did: did.clone(),
            value: value.into(),
            error,
        })
    })
}

fn not_future(message: &'static str, did: &Did, rev: Tid, now_micros: u64) -> Result<(), Fail> {
    check_rev_not_future(rev, now_micros).map_err(|_| {
        Fail::from(ValidationError::RevInFuture {
            message,
            did: did.clone(),
            rev,
        })
    })
}

fn same_rev(message: &'static str, did: &Did, event_rev: Tid, commit_rev: Tid) -> Result<(), Fail> {
    if event_rev == commit_rev {
        return Ok(());
    }
    Err(ValidationError::RevMismatch {
        message,
        did: did.clone(),
        event_rev,
        commit_rev,
    }
    .into())
}

/// A failed proof; a bad signature gets its own variant (the key may be
/// stale).
fn proof_error(message: &'static str, did: &Did, error: ProofError) -> Fail {
    Fail::from(match error {
        ProofError::Commit(CommitError::Signature(error)) => ValidationError::BadSignature {
            message,
            did: did.clone(),
            error,
        },
        error => ValidationError::Proof {
            message,
            did: did.clone(),
            error,
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_stay_small() {
        // Every `Result` of the checks carries one.
        assert!(core::mem::size_of::<super::Fail>() <= 16);
    }

    use super::EMPTY_NODE;
    use alloc::string::ToString;

    #[test]
    fn empty_node_is_the_empty_tree_root() {
        assert_eq!(
            atproto_core::data::dag_cbor_cid(&EMPTY_NODE).to_string(),
            atproto_repo::mst::EMPTY_TREE_ROOT
        );
    }
}
