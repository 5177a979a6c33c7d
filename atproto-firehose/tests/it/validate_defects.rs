//! Defective copies of the capture's events: each check of the validator
//! has a case that it alone catches, rejected for the right reason at the
//! right seq, with every other event of the capture still accepted; strict
//! and lenient mode differ only where a `#commit` lacks `prevData`.

use std::collections::BTreeMap;

use atproto_core::Cid;
use atproto_core::crypto::PublicKey;
use atproto_core::syntax::Tid;
use atproto_firehose::{
    AccountMessage, Action, CommitMessage, Desync, Frame, Mode, Outcome, SyncMessage,
    ValidationError, Validator, Warning,
};
use atproto_repo::ProofError;
use atproto_repo::commit::CommitError;
use bytes::Bytes;

use crate::validate::{
    blocks, car, frames, keys, now, only, reframe, resign, signed_commit, stranger,
};

/// One event fed to the validator, with the keys and time it is checked
/// with (the capture's keys and "now" unless given).
struct Step {
    frame: Frame,
    keys: Option<BTreeMap<String, PublicKey>>,
    now: Option<u64>,
}

impl Step {
    fn of(frame: Frame) -> Step {
        // Every defective copy goes through the codec's encoder and decoder.
        Step {
            frame: reframe(&frame),
            keys: None,
            now: None,
        }
    }

    fn keys(mut self, keys: BTreeMap<String, PublicKey>) -> Step {
        self.keys = Some(keys);
        self
    }
}

/// How far past the defect a case plays the capture (the whole capture,
/// at every frame, is `validate.rs`'s test; debug builds verify a few
/// hundred signatures a second).
const WINDOW: i64 = 300;

/// The capture up to `WINDOW` frames after `seq`.
fn window(seq: i64) -> Vec<Frame> {
    frames()
        .into_iter()
        .take_while(|f| f.seq().unwrap() <= seq + WINDOW)
        .collect()
}

/// The capture (up to `WINDOW` frames after `seq`) with `steps` fed right
/// before the frame `seq`.
fn with_before(seq: i64, steps: Vec<Step>) -> Vec<Step> {
    let mut steps = Some(steps);
    let mut out = Vec::new();
    for f in window(seq) {
        if f.seq() == Some(seq) {
            out.extend(steps.take().unwrap());
        }
        out.push(Step {
            frame: f,
            keys: None,
            now: None,
        });
    }
    out
}

/// Feeds every step to a fresh validator.
fn play(mode: Mode, steps: &[Step]) -> Vec<(i64, Outcome)> {
    let all = frames();
    let (keys, now) = (keys(), now(&all));
    let mut v = Validator::in_memory(mode);
    steps
        .iter()
        .map(|s| {
            let keys = s.keys.as_ref().unwrap_or(&keys);
            let outcome = v.frame(&s.frame, keys, s.now.unwrap_or(now)).unwrap();
            (s.frame.seq().unwrap(), outcome)
        })
        .collect()
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Rejected(e) => format!("rejected: {e}"),
        other => format!("{other:?}"),
    }
}

/// `bad` fed before the capture's frame `seq` is rejected, in both modes,
/// with an error `check` accepts that names the account; the original and
/// every other event are accepted (a rejected event changes no state).
fn rejected_alone(seq: i64, bad: Step, check: impl Fn(&ValidationError) -> bool) {
    let did = bad_did(&bad.frame);
    let steps = with_before(seq, vec![bad]);
    for mode in [Mode::Strict, Mode::Lenient] {
        let outcomes = play(mode, &steps);
        let mut rejected = 0;
        for (i, (s, o)) in outcomes.iter().enumerate() {
            match o {
                Outcome::Rejected(e) => {
                    rejected += 1;
                    assert_eq!(*s, seq, "{mode:?}: rejected at seq {s}, not {seq}: {e}");
                    assert!(check(e), "{mode:?}: seq {seq}: wrong reason: {e:?}");
                    if let Some(did) = &did {
                        assert!(e.to_string().contains(did.as_str()), "{e}");
                    }
                    // The frame right after is the original: accepted.
                    assert!(outcomes[i + 1].1.is_accepted());
                }
                o => assert!(
                    matches!(o, Outcome::Accepted { warnings } if warnings.is_empty()),
                    "{mode:?}: seq {s}: {}",
                    describe(o)
                ),
            }
        }
        assert_eq!(
            rejected, 1,
            "{mode:?}: exactly the defective copy is rejected"
        );
    }
}

fn bad_did(f: &Frame) -> Option<String> {
    match f {
        Frame::Commit(c) => c
            .repo
            .parse::<atproto_core::syntax::Did>()
            .ok()
            .map(|_| c.repo.clone()),
        Frame::Sync(s) => Some(s.did.clone()),
        _ => None,
    }
}

fn proof(check: impl Fn(&ProofError) -> bool) -> impl Fn(&ValidationError) -> bool {
    move |e| matches!(e, ValidationError::Proof { error, .. } if check(error))
}

/// The first `#commit` after the genesis commits with exactly one op of
/// `action`.
fn single(action: Action) -> CommitMessage {
    frames()
        .into_iter()
        .find_map(|f| match f {
            Frame::Commit(c) if c.seq > 40 && c.ops.len() == 1 && c.ops[0].action == action => {
                Some(c)
            }
            _ => None,
        })
        .unwrap()
}

/// A later `#commit` with several ops.
fn multi() -> CommitMessage {
    frames()
        .into_iter()
        .find_map(|f| match f {
            Frame::Commit(c) if c.ops.len() >= 3 => Some(c),
            _ => None,
        })
        .unwrap()
}

fn commit(c: CommitMessage) -> Step {
    Step::of(Frame::Commit(c))
}

fn edit(c: &CommitMessage, f: impl FnOnce(&mut CommitMessage)) -> Step {
    let mut c = c.clone();
    f(&mut c);
    commit(c)
}

fn next_tid(rev: &str, by: u64) -> String {
    Tid::from_u64(rev.parse::<Tid>().unwrap().as_u64() + by).to_string()
}

#[test]
fn event_fields() {
    let c = single(Action::Create);
    rejected_alone(c.seq, edit(&c, |c| c.too_big = true), |e| {
        matches!(e, ValidationError::TooBig { .. })
    });
    rejected_alone(c.seq, edit(&c, |c| c.rebase = true), |e| {
        matches!(e, ValidationError::Rebase { .. })
    });
    rejected_alone(
        c.seq,
        edit(&c, |c| c.repo = "not a did".into()),
        |e| matches!(e, ValidationError::BadDid { value, .. } if value == "not a did"),
    );
    rejected_alone(c.seq, edit(&c, |c| c.rev = "not-a-tid".into()), |e| {
        matches!(e, ValidationError::BadRev { .. })
    });
    rejected_alone(
        c.seq,
        edit(&c, |c| c.ops[0].path = "no-slash".into()),
        |e| matches!(e, ValidationError::BadPath { index: 0, .. }),
    );
    // The event's rev is not the signed commit's.
    rejected_alone(c.seq, edit(&c, |c| c.rev = next_tid(&c.rev, 1)), |e| {
        matches!(
            e,
            ValidationError::RevMismatch {
                message: "#commit",
                ..
            }
        )
    });
    // The event's commit is not the slice's root.
    let other = c.prev_data.unwrap();
    rejected_alone(
        c.seq,
        edit(&c, |c| c.commit = other),
        |e| matches!(e, ValidationError::CommitMismatch { commit, .. } if **commit == other),
    );
}

#[test]
fn revs_against_the_clock_and_the_stored_state() {
    let c = single(Action::Create);
    let key = stranger();
    let did = c.repo.clone();
    // Signed (by a key the test hands over) with a rev 10 minutes after now.
    let now = now(&frames());
    let future = resign(&c, &key, |u| {
        u.rev = Tid::from_parts(now + 600_000_000, 0).unwrap()
    });
    rejected_alone(
        c.seq,
        commit(future).keys(only(&did, key.public_key())),
        |e| matches!(e, ValidationError::RevInFuture { .. }),
    );
    // A replay of the account's previous commit.
    let since = c.since.clone().unwrap();
    let previous = frames()
        .into_iter()
        .find_map(|f| match f {
            Frame::Commit(p) if p.repo == did && p.rev == since => Some(p),
            _ => None,
        })
        .unwrap();
    let replay = CommitMessage {
        seq: c.seq,
        ..previous
    };
    rejected_alone(
        c.seq,
        commit(replay),
        |e| matches!(e, ValidationError::RevNotIncreasing { rev, stored, .. } if rev == stored),
    );
    // A correctly chained commit (since, prevData) whose rev is the stored
    // one: only the rev order catches it.
    let same = resign(&c, &key, |u| u.rev = since.parse().unwrap());
    rejected_alone(
        c.seq,
        commit(same).keys(only(&did, key.public_key())),
        |e| matches!(e, ValidationError::RevNotIncreasing { .. }),
    );
}

#[test]
fn account_status() {
    let c = single(Action::Create);
    let account = |active: bool| {
        Step::of(Frame::Account(AccountMessage {
            seq: c.seq,
            did: c.repo.clone(),
            time: c.time.clone(),
            active,
            status: (!active).then(|| "takendown".to_owned()),
            extra: Default::default(),
        }))
    };
    let steps = with_before(
        c.seq,
        vec![account(false), commit(c.clone()), account(true)],
    );
    for mode in [Mode::Strict, Mode::Lenient] {
        let outcomes = play(mode, &steps);
        let bad: Vec<_> = outcomes.iter().filter(|(_, o)| !o.is_accepted()).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, c.seq);
        assert!(matches!(
            bad[0].1.rejection(),
            Some(ValidationError::AccountInactive { status: Some(s), .. }) if s == "takendown"
        ));
    }
}

#[test]
fn signatures_and_keys() {
    let c = single(Action::Create);
    let did = c.repo.clone();
    // Forged: signed by another key, checked with the account's.
    let forged = resign(&c, &stranger(), |_| {});
    rejected_alone(c.seq, commit(forged), |e| {
        matches!(
            e,
            ValidationError::BadSignature {
                message: "#commit",
                ..
            }
        ) && e.is_key_maybe_stale()
    });
    // The right commit with a stale key: rejected, then (re-resolved) accepted.
    let stale = commit(c.clone()).keys(only(&did, stranger().public_key()));
    rejected_alone(c.seq, stale, ValidationError::is_key_maybe_stale);
    // No key at all.
    rejected_alone(c.seq, commit(c.clone()).keys(BTreeMap::new()), |e| {
        matches!(e, ValidationError::NoKey { .. }) && !e.is_key_maybe_stale()
    });
    // Another account's DID on this commit: that account's key, wrong DID.
    let other = frames()
        .into_iter()
        .find_map(|f| match f {
            Frame::Commit(o) if o.repo != did => Some(o.repo),
            _ => None,
        })
        .unwrap();
    rejected_alone(
        c.seq,
        edit(&c, |c| c.repo = other),
        proof(|e| matches!(e, ProofError::WrongDid { .. })),
    );
}

#[test]
fn the_car_slice() {
    let c = single(Action::Create);
    let (root, bl) = blocks(&c.blocks);
    let signed = signed_commit(&c);
    let record = c.ops[0].cid.unwrap();
    // A byte of the last block changed.
    let mut bytes = c.blocks.to_vec();
    *bytes.last_mut().unwrap() ^= 1;
    rejected_alone(
        c.seq,
        edit(&c, |c| c.blocks = Bytes::from(bytes)),
        proof(|e| matches!(e, ProofError::Car(car) if car.is_hash_mismatch())),
    );
    let without = |drop: Cid| -> Bytes {
        let kept: Vec<_> = bl.iter().filter(|(c, _)| *c != drop).cloned().collect();
        car(&root, &kept)
    };
    rejected_alone(
        c.seq,
        edit(&c, |c| c.blocks = without(root)),
        proof(|e| matches!(e, ProofError::MissingCommit { .. })),
    );
    rejected_alone(
        c.seq,
        edit(&c, |c| c.blocks = without(record)),
        proof(|e| matches!(e, ProofError::MissingRecord { cid, .. } if **cid == record)),
    );
    rejected_alone(
        c.seq,
        edit(&c, |c| c.blocks = without(signed.data)),
        proof(
            |e| matches!(e, ProofError::Mst(atproto_repo::MstError::MissingBlock { cid }) if **cid == signed.data),
        ),
    );
    // The root is a block that is not a commit (the record), and the event
    // says so.
    let rec_block = bl.iter().find(|(c, _)| *c == record).unwrap().clone();
    rejected_alone(
        c.seq,
        edit(&c, |c| {
            c.blocks = car(&record, &[rec_block]);
            c.commit = record;
        }),
        proof(|e| {
            matches!(
                e,
                ProofError::Commit(
                    CommitError::MissingField(_) | CommitError::UnsupportedVersion(_)
                )
            )
        }),
    );
}

#[test]
fn the_ops_and_the_inversion() {
    let c = single(Action::Create);
    let signed = signed_commit(&c);
    let cid = c.ops[0].cid.unwrap();
    // A create with a prev.
    rejected_alone(
        c.seq,
        edit(&c, |c| c.ops[0].prev = Some(cid)),
        proof(|e| matches!(e, ProofError::MalformedOp { .. })),
    );
    rejected_alone(
        c.seq,
        edit(&c, |c| {
            let op = c.ops[0].clone();
            c.ops.push(op);
        }),
        proof(|e| matches!(e, ProofError::DuplicatePath { .. })),
    );
    // The op claims a cid whose block is in the slice (the MST root) but
    // which is not the tree's value at its path.
    rejected_alone(
        c.seq,
        edit(&c, |c| c.ops[0].cid = Some(signed.data)),
        proof(|e| matches!(e, ProofError::OpMismatch { .. })),
    );
    // prevData that the inversion does not give.
    rejected_alone(
        c.seq,
        edit(&c, |c| c.prev_data = Some(signed.data)),
        proof(|e| matches!(e, ProofError::RootMismatch { .. })),
    );
    // An op dropped from a multi-op commit: the inversion no longer reaches
    // prevData.
    let m = multi();
    rejected_alone(
        m.seq,
        edit(&m, |m| {
            m.ops.pop();
        }),
        proof(|e| {
            matches!(
                e,
                ProofError::RootMismatch { .. } | ProofError::OpMismatch { .. }
            )
        }),
    );
    // Updates and deletes carry prev (sync v1.1).
    for action in [Action::Update, Action::Delete] {
        let u = single(action);
        rejected_alone(
            u.seq,
            edit(&u, |u| u.ops[0].prev = None),
            proof(|e| matches!(e, ProofError::MalformedOp { .. })),
        );
        // A wrong prev inverts to another root.
        let other = signed_commit(&u).data;
        rejected_alone(
            u.seq,
            edit(&u, |u| u.ops[0].prev = Some(other)),
            proof(|e| matches!(e, ProofError::RootMismatch { .. })),
        );
    }
}

/// Limits the codec enforces are enforced again for messages built by hand.
#[test]
fn limits_hold_without_the_codec() {
    let c = single(Action::Create);
    let all = frames();
    let key = &keys()[&c.repo];
    let mut v = Validator::in_memory(Mode::Strict);
    let mut big = c.clone();
    big.blocks = Bytes::from(vec![0u8; 2_000_001]);
    let o = v.commit(&big, key, now(&all)).unwrap();
    assert!(
        matches!(
            o.rejection(),
            Some(ValidationError::Proof {
                error: ProofError::Car(_),
                ..
            })
        ),
        "{o:?}"
    );
    let mut many = c.clone();
    many.ops = (0..201).map(|_| c.ops[0].clone()).collect();
    let o = v.commit(&many, key, now(&all)).unwrap();
    assert!(
        matches!(
            o.rejection(),
            Some(ValidationError::Proof {
                error: ProofError::TooManyOps { count: 201, .. },
                ..
            })
        ),
        "{o:?}"
    );
}

/// The `#sync` event with this seq built from a `#commit`'s commit block.
fn sync_of(c: &CommitMessage, seq: i64) -> SyncMessage {
    let (root, bl) = blocks(&c.blocks);
    let block = bl.into_iter().find(|(x, _)| *x == root).unwrap();
    SyncMessage {
        seq,
        did: c.repo.clone(),
        rev: c.rev.clone(),
        blocks: car(&root, &[block]),
        time: c.time.clone(),
        extra: Default::default(),
    }
}

fn sync(s: SyncMessage) -> Step {
    Step::of(Frame::Sync(s))
}

#[test]
fn sync_events() {
    let all = frames();
    // A commit whose account already has two commits (the first's sync
    // is then older than the stored rev).
    let c = later(&single(Action::Create)).remove(0);
    // The sync of the account's current commit (the one before `c`) is
    // accepted before `c`; the checks of a #sync each catch a copy.
    let prev = all
        .iter()
        .find_map(|f| match f {
            Frame::Commit(p) if p.repo == c.repo && Some(&p.rev) == c.since.as_ref() => {
                Some(p.clone())
            }
            _ => None,
        })
        .unwrap();
    let current = sync_of(&prev, c.seq);
    let steps = with_before(c.seq, vec![sync(current.clone())]);
    assert!(
        play(Mode::Strict, &steps)
            .iter()
            .all(|(_, o)| o.is_accepted())
    );

    let mut s = current.clone();
    s.rev = next_tid(&s.rev, 1);
    rejected_alone(c.seq, sync(s), |e| {
        matches!(
            e,
            ValidationError::RevMismatch {
                message: "#sync",
                ..
            }
        )
    });
    let mut s = current.clone();
    s.rev = "nope".into();
    rejected_alone(c.seq, sync(s), |e| {
        matches!(
            e,
            ValidationError::BadRev {
                message: "#sync",
                ..
            }
        )
    });
    rejected_alone(
        c.seq,
        sync(current.clone()).keys(only(&c.repo, stranger().public_key())),
        |e| {
            matches!(
                e,
                ValidationError::BadSignature {
                    message: "#sync",
                    ..
                }
            )
        },
    );
    rejected_alone(c.seq, sync(current.clone()).keys(BTreeMap::new()), |e| {
        matches!(
            e,
            ValidationError::NoKey {
                message: "#sync",
                ..
            }
        )
    });
    let mut s = current.clone();
    let mut bytes = s.blocks.to_vec();
    *bytes.last_mut().unwrap() ^= 1;
    s.blocks = Bytes::from(bytes);
    rejected_alone(c.seq, sync(s), proof(|e| matches!(e, ProofError::Car(_))));
    // Another account's sync block under this DID.
    let other = all
        .iter()
        .find_map(|f| match f {
            Frame::Commit(o) if o.repo != c.repo && o.seq > 40 => Some(o.clone()),
            _ => None,
        })
        .unwrap();
    let mut s = sync_of(&other, c.seq);
    s.did = c.repo.clone();
    s.rev = current.rev.clone();
    rejected_alone(
        c.seq,
        sync(s),
        proof(|e| matches!(e, ProofError::WrongDid { .. })),
    );
    // Older than the stored rev: the sync of the account's first commit.
    let genesis = all
        .iter()
        .find_map(|f| match f {
            Frame::Commit(g) if g.repo == c.repo && g.since.is_none() => Some(g.clone()),
            _ => None,
        })
        .unwrap();
    rejected_alone(c.seq, sync(sync_of(&genesis, c.seq)), |e| {
        matches!(
            e,
            ValidationError::RevNotIncreasing {
                message: "#sync",
                ..
            }
        )
    });
    // Signed with a rev in the future.
    let key = stranger();
    let now = now(&all);
    let future = resign(&prev, &key, |u| {
        u.rev = Tid::from_parts(now + 600_000_000, 0).unwrap()
    });
    rejected_alone(
        c.seq,
        sync(sync_of(&future, c.seq)).keys(only(&c.repo, key.public_key())),
        |e| {
            matches!(
                e,
                ValidationError::RevInFuture {
                    message: "#sync",
                    ..
                }
            )
        },
    );
}

/// The capture (up to `WINDOW` frames after `seq`) with the frame `seq`
/// replaced by `with` (or dropped).
fn replaced(seq: i64, with: Option<Frame>) -> Vec<Step> {
    window(seq)
        .into_iter()
        .filter_map(|f| {
            if f.seq() == Some(seq) {
                with.clone().map(Step::of)
            } else {
                Some(Step {
                    frame: f,
                    keys: None,
                    now: None,
                })
            }
        })
        .collect()
}

/// The account's commits after `c`, up to `WINDOW` frames after it.
fn later(c: &CommitMessage) -> Vec<CommitMessage> {
    window(c.seq)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Commit(n) if n.repo == c.repo && n.seq > c.seq => Some(n),
            _ => None,
        })
        .collect()
}

/// The capture without `c`, with the account's next commit replaced by
/// `next`.
fn gap_then(c: &CommitMessage, next: &CommitMessage) -> Vec<Step> {
    let mut steps = replaced(c.seq, None);
    let at = steps
        .iter()
        .position(|s| s.frame.seq() == Some(next.seq))
        .unwrap();
    steps[at] = Step::of(Frame::Commit(next.clone()));
    steps
}

/// Which seqs were not plainly accepted, with their outcomes.
fn not_accepted(outcomes: &[(i64, Outcome)]) -> BTreeMap<i64, &Outcome> {
    outcomes
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Accepted { warnings } if warnings.is_empty()))
        .map(|(s, o)| (*s, o))
        .collect()
}

#[test]
fn desynchronization_and_resync() {
    let c = single(Action::Create);
    let next = later(&c);
    // `since` altered (it is not signed): a valid commit that does not
    // follow the stored rev. The account stays desynchronized for the rest
    // of the capture.
    let mut bad = c.clone();
    bad.since = Some(next_tid(c.since.as_deref().unwrap(), 1));
    for mode in [Mode::Strict, Mode::Lenient] {
        let outcomes = play(mode, &replaced(c.seq, Some(Frame::Commit(bad.clone()))));
        let odd = not_accepted(&outcomes);
        assert_eq!(odd.len(), 1 + next.len());
        assert!(matches!(
            odd[&c.seq],
            Outcome::Desynchronized {
                reason: Desync::SinceMismatch { .. },
                ..
            }
        ));
        for n in &next {
            assert!(matches!(
                odd[&n.seq],
                Outcome::Desynchronized {
                    reason: Desync::AwaitingResync { .. },
                    ..
                }
            ));
        }
    }

    // A gap (the commit dropped): the next commit's since and prevData
    // both differ; since is reported.
    let outcomes = play(Mode::Strict, &replaced(c.seq, None));
    let odd = not_accepted(&outcomes);
    assert!(matches!(
        odd[&next[0].seq],
        Outcome::Desynchronized {
            reason: Desync::SinceMismatch { .. },
            ..
        }
    ));

    // The gap with the next commit's since pointing at the stored rev:
    // only prevData catches it.
    let mut n0 = next[0].clone();
    n0.since.clone_from(&c.since);
    let steps = gap_then(&c, &n0);
    let outcomes = play(Mode::Strict, &steps);
    let odd = not_accepted(&outcomes);
    assert!(
        matches!(
            odd[&n0.seq],
            Outcome::Desynchronized {
                reason: Desync::PrevDataMismatch { .. },
                ..
            }
        ),
        "{:?}",
        odd[&n0.seq]
    );
    assert_eq!(odd.len(), next.len(), "the later commits await a resync");

    // A #sync after the third later commit resets the account: everything
    // after it is accepted.
    let resync_at = &next[2];
    let mut steps = replaced(c.seq, Some(Frame::Commit(bad.clone())));
    let at = steps
        .iter()
        .position(|s| s.frame.seq() == Some(resync_at.seq))
        .unwrap();
    steps.insert(at + 1, sync(sync_of(resync_at, resync_at.seq)));
    let outcomes = play(Mode::Strict, &steps);
    let odd = not_accepted(&outcomes);
    assert_eq!(odd.len(), 1 + 3, "{odd:?}");
    assert!(odd.keys().all(|s| *s <= resync_at.seq));

    // Or the caller resyncs through getRepo and says so.
    let all = frames();
    let (keys, now) = (keys(), now(&all));
    let mut v = Validator::in_memory(Mode::Strict);
    for f in all.iter().take_while(|f| f.seq() != Some(c.seq)) {
        v.frame(f, &keys, now).unwrap();
    }
    assert!(matches!(
        v.frame(&Frame::Commit(bad), &keys, now).unwrap(),
        Outcome::Desynchronized { .. }
    ));
    let did = c.repo.parse().unwrap();
    assert!(v.store().state(&did).unwrap().desynchronized);
    let signed = signed_commit(&c);
    v.resynced(&did, signed.rev, signed.data, c.commit).unwrap();
    assert!(!v.store().state(&did).unwrap().desynchronized);
    for n in &next {
        assert!(
            v.frame(&Frame::Commit(n.clone()), &keys, now)
                .unwrap()
                .is_accepted()
        );
    }
}

/// The one place strict and lenient differ: a `#commit` with `since` and
/// no `prevData`.
#[test]
fn strict_and_lenient_differ_on_missing_prev_data() {
    let c = single(Action::Create);
    let next = later(&c);
    let mut bad = c.clone();
    bad.prev_data = None;
    let steps = replaced(c.seq, Some(Frame::Commit(bad.clone())));

    let strict = play(Mode::Strict, &steps);
    let odd = not_accepted(&strict);
    assert!(matches!(
        odd[&c.seq].rejection(),
        Some(ValidationError::MissingPrevData { .. })
    ));
    // Rejected, so the account's next commit no longer follows: desync.
    assert!(matches!(
        odd[&next[0].seq],
        Outcome::Desynchronized {
            reason: Desync::SinceMismatch { .. },
            ..
        }
    ));

    let lenient = play(Mode::Lenient, &steps);
    let odd = not_accepted(&lenient);
    assert_eq!(odd.len(), 1, "{odd:?}");
    assert!(
        matches!(odd[&c.seq], Outcome::Accepted { warnings } if matches!(warnings[..], [Warning::MissingPrevData { .. }]))
    );

    // Lenient still compares the inversion's root with the stored data.
    let mut n0 = next[0].clone();
    n0.prev_data = None;
    n0.since.clone_from(&c.since);
    let steps = gap_then(&c, &n0);
    let lenient = play(Mode::Lenient, &steps);
    assert!(matches!(
        &lenient.iter().find(|(s, _)| *s == n0.seq).unwrap().1,
        Outcome::Desynchronized { reason: Desync::PrevDataMismatch { .. }, warnings } if warnings.len() == 1
    ));
    let strict = play(Mode::Strict, &steps);
    assert!(matches!(
        strict
            .iter()
            .find(|(s, _)| *s == n0.seq)
            .unwrap()
            .1
            .rejection(),
        Some(ValidationError::MissingPrevData { .. })
    ));

    // An unknown account: lenient has nothing to compare with and accepts.
    let all = frames();
    let (keys, now) = (keys(), now(&all));
    let mut v = Validator::in_memory(Mode::Lenient);
    let o = v.frame(&Frame::Commit(bad.clone()), &keys, now).unwrap();
    assert_eq!(o.warnings().len(), 1);
    assert!(o.is_accepted());
    let mut v = Validator::in_memory(Mode::Strict);
    assert!(
        v.frame(&Frame::Commit(bad), &keys, now)
            .unwrap()
            .rejection()
            .is_some()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Any byte of a commit's `blocks` changed: never accepted, never a
    /// panic, and the account's state untouched.
    #[test]
    fn a_changed_byte_of_blocks_is_never_accepted(pick in 0usize..2198, at in 0usize..100_000, x in 1u8..=255) {
        let all = frames();
        let commits: Vec<&CommitMessage> = all.iter().filter_map(|f| match f {
            Frame::Commit(c) => Some(c),
            _ => None,
        }).collect();
        let c = commits[pick];
        let mut bytes = c.blocks.to_vec();
        let at = at % bytes.len();
        bytes[at] ^= x;
        let bad = CommitMessage { blocks: Bytes::from(bytes), ..c.clone() };
        let (keys, now) = (keys(), now(&all));
        let mut v = Validator::in_memory(Mode::Lenient);
        let o = v.commit(&bad, &keys[&c.repo], now).unwrap();
        proptest::prop_assert!(o.rejection().is_some(), "byte {} of seq {}: {:?}", at, c.seq, o);
        proptest::prop_assert!(v.store().is_empty());
    }
}
