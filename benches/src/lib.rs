//! What the benches share: workload records in the shapes the codec benches
//! need, and the check every peer comparison goes through before anything is
//! timed. Keys, values and record bytes come from `atproto-workloads`, the one
//! definition of the shared workloads.

use std::collections::BTreeMap;
use std::fmt::Display;

use atproto_core::data::Value;
pub use atproto_workloads::{CREATED_AT, record};

/// The workload record `{"$type":"app.bsky.feed.post","text":text,"createdAt":…}` as a value.
pub fn record_value(text: &str) -> Value {
    let mut map = BTreeMap::new();
    map.insert(
        "$type".to_owned(),
        Value::String("app.bsky.feed.post".to_owned()),
    );
    map.insert("text".to_owned(), Value::String(text.to_owned()));
    map.insert("createdAt".to_owned(), Value::String(CREATED_AT.to_owned()));
    Value::Map(map)
}

/// The same record as a typed struct, for the serde path.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
pub struct Post {
    /// Always `app.bsky.feed.post`.
    #[serde(rename = "$type")]
    pub type_: String,
    /// The post text.
    pub text: String,
    /// Creation time.
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

/// The workload record as a typed [`Post`].
pub fn post(text: &str) -> Post {
    Post {
        type_: "app.bsky.feed.post".to_owned(),
        text: text.to_owned(),
        created_at: CREATED_AT.to_owned(),
    }
}

/// Whether a peer gives the right answer on a workload, as far as we know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The peer must give our answer.
    Same,
    /// The peer is known to give a wrong answer here, for the reason given
    /// (an upstream bug report): it is not timed.
    KnownWrong(&'static str),
}

/// The check before timing: `peer`'s answer for `what` against ours
/// (atproto-repo's), printed either way. Returns whether the peer may be
/// timed: `true` when it gives our answer and is expected to.
///
/// # Panics
///
/// A fast wrong answer is worthless, so the bench run fails (before anything
/// is timed, with both answers in the message) when a peer differs from us
/// unexpectedly, or when a peer listed as [`Expect::KnownWrong`] agrees with
/// us now (the list is stale: the peer should be timed again).
#[track_caller]
pub fn check_peer<T: PartialEq + Display>(
    what: &str,
    peer: &str,
    ours: &T,
    theirs: &T,
    expect: Expect,
) -> bool {
    match (ours == theirs, expect) {
        (true, Expect::Same) => {
            println!("{what}: {peer:<12} {theirs} (same as atproto-repo)");
            true
        }
        (false, Expect::KnownWrong(reason)) => {
            println!(
                "{what}: {peer:<12} {theirs}, not atproto-repo's {ours}: known wrong ({reason}); not timed"
            );
            false
        }
        (false, Expect::Same) => panic!(
            "{what}: {peer} gives {theirs}, atproto-repo gives {ours}; \
             a peer that disagrees fails the bench run (nothing timed)"
        ),
        (true, Expect::KnownWrong(reason)) => panic!(
            "{what}: {peer} now gives atproto-repo's {ours}, but is listed as known wrong \
             ({reason}); remove it from the list so that it is timed"
        ),
    }
}

/// [`check_peer`] for an answer the peer must give.
///
/// # Panics
///
/// When the answers differ, as [`check_peer`].
#[track_caller]
pub fn require_same<T: PartialEq + Display>(what: &str, peer: &str, ours: &T, theirs: &T) {
    check_peer(what, peer, ours, theirs, Expect::Same);
}

/// [`require_same`] for a sequence of answers (one per step), printing one
/// line for the whole sequence.
///
/// # Panics
///
/// At the first step whose answers differ (or when the lengths differ),
/// naming the step.
#[track_caller]
pub fn require_all_same<T: PartialEq + Display>(what: &str, peer: &str, ours: &[T], theirs: &[T]) {
    let steps = ours.len();
    if theirs.len() != steps {
        require_same(&format!("{what}: steps"), peer, &steps, &theirs.len());
    }
    for (step, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if a != b {
            require_same(&format!("{what}, step {}", step + 1), peer, a, b);
        }
    }
    if let Some(last) = theirs.last() {
        println!("{what}: {peer:<12} all {steps} same as atproto-repo (last {last})");
    }
}

/// The value of a peer's (or our own) operation that must succeed on the
/// workload, such as verifying a CAR we wrote.
///
/// # Panics
///
/// When it failed: the bench run fails before anything is timed, with the
/// error in the message.
#[track_caller]
pub fn require_ok<T, E: Display>(what: &str, who: &str, result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {who} failed: {e}; the bench run fails (nothing timed)"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Expect, check_peer, require_all_same, require_ok, require_same};

    #[test]
    fn same_answers_are_timed() {
        assert!(check_peer("root", "peer", &1, &1, Expect::Same));
        require_same("root", "peer", &"a", &"a");
    }

    #[test]
    #[should_panic(expected = "root: peer gives 2, atproto-repo gives 1")]
    fn a_different_answer_fails() {
        require_same("root", "peer", &1, &2);
    }

    #[test]
    fn a_known_wrong_answer_is_not_timed() {
        assert!(!check_peer(
            "root",
            "peer",
            &1,
            &2,
            Expect::KnownWrong("bug 1")
        ));
    }

    #[test]
    #[should_panic(expected = "listed as known wrong (bug 1)")]
    fn a_known_wrong_peer_that_agrees_fails() {
        check_peer("root", "peer", &1, &1, Expect::KnownWrong("bug 1"));
    }

    #[test]
    fn same_sequences_pass() {
        require_all_same("roots", "peer", &[1, 2, 3], &[1, 2, 3]);
    }

    #[test]
    #[should_panic(expected = "roots, step 2: peer gives 5, atproto-repo gives 2")]
    fn a_sequence_fails_at_its_first_difference() {
        require_all_same("roots", "peer", &[1, 2, 3], &[1, 5, 6]);
    }

    #[test]
    #[should_panic(expected = "roots: steps: peer gives 2, atproto-repo gives 3")]
    fn a_shorter_sequence_fails() {
        require_all_same("roots", "peer", &[1, 2, 3], &[1, 2]);
    }

    #[test]
    fn ok_results_pass_through() {
        assert_eq!(require_ok("verify", "peer", Ok::<_, String>(3)), 3);
    }

    #[test]
    #[should_panic(expected = "verify: peer failed: bad block")]
    fn a_failed_operation_fails() {
        require_ok::<(), _>("verify", "peer", Err("bad block"));
    }
}
