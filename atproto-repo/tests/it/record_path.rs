//! `RecordPath`: validation, round trips, order, typed parts.

use std::collections::{BTreeSet, HashSet};

use atproto_core::syntax::{Nsid, RecordKey, SyntaxKind};
use atproto_repo::RecordPath;
use atproto_repo::record_path::{MAX_PATH_LEN, RecordPathError};
use proptest::prelude::*;

fn err(s: &str) -> RecordPathError {
    s.parse::<RecordPath>().unwrap_err()
}

#[test]
fn valid_paths() {
    let long_rkey = "x".repeat(MAX_PATH_LEN - 2);
    for s in [
        "a/b",
        "app.bsky.feed.post/3jzfcijpj2z2a",
        // Not NSIDs nor record keys, but valid MST keys: reading takes them.
        "A0/374913",
        "c/.",
        "c/..",
        "-/~",
        "c/~_-:.AZaz09",
        &format!("c/{long_rkey}"),
    ] {
        let path: RecordPath = s.parse().unwrap();
        assert_eq!(path.as_str(), s);
        assert_eq!(path.len(), s.len());
        assert!(!path.is_empty());
        assert!(RecordPath::is_valid(s), "{s}");
        let (c, r) = s.split_once('/').unwrap();
        assert_eq!(path.split(), (c, r));
        assert_eq!((path.collection(), path.rkey()), (c, r));
    }
}

#[test]
fn invalid_paths_say_why_and_where() {
    let too_long = format!("c/{}", "x".repeat(MAX_PATH_LEN - 1));
    let cases: &[(&str, &str, Option<usize>)] = &[
        ("", "empty path", None),
        (
            "app.bsky.feed.post",
            "no '/' between collection and record key",
            None,
        ),
        ("/rkey", "empty collection", Some(0)),
        ("/", "empty collection", Some(0)),
        ("coll/", "empty record key", Some(5)),
        ("a/b/c", "more than one '/'", Some(3)),
        ("a//", "more than one '/'", Some(2)),
        (
            "coll/r key",
            "character outside [a-zA-Z0-9_~-:.] and '/'",
            Some(6),
        ),
        (
            "coll/ré",
            "character outside [a-zA-Z0-9_~-:.] and '/'",
            Some(6),
        ),
        (
            "co#l/r",
            "character outside [a-zA-Z0-9_~-:.] and '/'",
            Some(2),
        ),
        (
            "coll/r\0",
            "character outside [a-zA-Z0-9_~-:.] and '/'",
            Some(6),
        ),
        (&too_long, "longer than 1024 bytes", None),
    ];
    for (s, reason, offset) in cases {
        let e = err(s);
        assert_eq!((e.reason, e.offset), (*reason, *offset), "{s:?}");
        assert!(!RecordPath::is_valid(s), "{s:?}");
        assert!(RecordPath::try_from(s.to_string()).is_err(), "{s:?}");
        let shown = e.to_string();
        assert!(shown.starts_with("invalid record path "), "{shown}");
        assert!(shown.contains(reason), "{shown}");
        if let Some(at) = offset {
            assert!(shown.ends_with(&format!(" at byte {at}")), "{shown}");
        }
    }
    // The input is kept (cut after the limit) so the message shows it.
    assert_eq!(err("a/b/c").path, "a/b/c");
    assert_eq!(err(&"y".repeat(5000)).path.len(), MAX_PATH_LEN + 1);
    // Exactly at the limit is fine; one more byte is not.
    let at_limit = format!("c/{}", "x".repeat(MAX_PATH_LEN - 2));
    assert_eq!(at_limit.len(), MAX_PATH_LEN);
    assert!(RecordPath::is_valid(&at_limit));
    assert_eq!(too_long.len(), MAX_PATH_LEN + 1);
}

#[test]
fn round_trips_short_and_long() {
    for s in [
        "a/b".to_string(),
        // Around the 46-byte inline limit, and far beyond it.
        format!("c/{}", "y".repeat(43)),
        format!("c/{}", "y".repeat(44)),
        format!("c/{}", "y".repeat(45)),
        format!("com.example.record/{}", "z".repeat(600)),
    ] {
        let a: RecordPath = s.parse().unwrap();
        let b = RecordPath::try_from(s.clone()).unwrap();
        let c = RecordPath::try_from(s.as_str()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_string(), s);
        assert_eq!(format!("{a:?}"), format!("{s:?}"));
        assert_eq!(String::from(a.clone()), s);
        assert_eq!(a.as_bytes(), s.as_bytes());
        assert_eq!(a, *s.as_str());
        assert_eq!(a, s.as_str());
        // serde: a JSON string both ways.
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, serde_json::to_string(&s).unwrap());
        assert_eq!(serde_json::from_str::<RecordPath>(&json).unwrap(), a);
        let clone = a.clone();
        assert_eq!(clone, a);
    }
    for bad in ["\"a\"", "\"a/b/c\"", "\"\"", "12"] {
        assert!(serde_json::from_str::<RecordPath>(bad).is_err(), "{bad}");
    }
    let e = serde_json::from_str::<RecordPath>("\"x//\"").unwrap_err();
    assert!(e.to_string().contains("more than one '/'"), "{e}");
}

#[test]
fn built_from_typed_parts() {
    let nsid: Nsid = "app.bsky.feed.post".parse().unwrap();
    let rkey: RecordKey = "3jzfcijpj2z2a".parse().unwrap();
    let path = RecordPath::new(&nsid, &rkey);
    assert_eq!(path, "app.bsky.feed.post/3jzfcijpj2z2a");
    assert_eq!(path.collection_nsid().unwrap(), nsid);
    assert_eq!(path.record_key().unwrap(), rkey);
    // The longest NSID and record key still make a path (on the heap).
    let long_nsid: Nsid = format!("{}.b.c", "a".repeat(63)).parse().unwrap();
    let long_rkey: RecordKey = "k".repeat(512).parse().unwrap();
    let long = RecordPath::new(&long_nsid, &long_rkey);
    assert_eq!(long.as_str(), format!("{long_nsid}/{long_rkey}"));
    assert_eq!(long, long.as_str().parse::<RecordPath>().unwrap());
    // Paths a repository may hold but a write cannot build: the typed
    // accessors say what is missing.
    let fixture: RecordPath = "A0/374913".parse().unwrap();
    assert_eq!(
        fixture.collection_nsid().unwrap_err().kind(),
        SyntaxKind::Nsid
    );
    assert_eq!(fixture.record_key().unwrap().as_str(), "374913");
    let dot: RecordPath = "app.bsky.feed.post/.".parse().unwrap();
    assert_eq!(dot.record_key().unwrap_err().kind(), SyntaxKind::RecordKey);
}

#[test]
fn ordered_bytewise_and_usable_as_string_keys() {
    let strs = ["b/a", "a/b", "a.b/c", "a/a", "A/z", "a~/a", "a-/a", "a0/a"];
    let mut by_str: Vec<&str> = strs.to_vec();
    by_str.sort();
    let mut by_path: Vec<RecordPath> = strs.iter().map(|s| s.parse().unwrap()).collect();
    by_path.sort();
    let back: Vec<&str> = by_path.iter().map(RecordPath::as_str).collect();
    assert_eq!(back, by_str);
    // '/' sorts below '0': the MST order puts "a/..." before "a0/...".
    assert!("a/z".parse::<RecordPath>().unwrap() < "a0/a".parse().unwrap());
    // Borrow<str> and Hash agree with str: sets of paths look up by &str.
    let tree: BTreeSet<RecordPath> = by_path.iter().cloned().collect();
    let hash: HashSet<RecordPath> = by_path.iter().cloned().collect();
    for s in strs {
        assert!(tree.contains(s) && hash.contains(s), "{s}");
    }
    assert!(!tree.contains("a/c") && !hash.contains("a/c"));
}

proptest! {
    #[test]
    fn any_valid_string_round_trips(c in "[a-zA-Z0-9_~:.-]{1,60}", r in "[a-zA-Z0-9_~:.-]{1,60}") {
        let s = format!("{c}/{r}");
        let path: RecordPath = s.parse().unwrap();
        prop_assert_eq!(path.as_str(), s.as_str());
        prop_assert_eq!(path.split(), (c.as_str(), r.as_str()));
        prop_assert_eq!(RecordPath::try_from(s.clone()).unwrap(), path);
    }

    #[test]
    fn order_is_the_str_order(a in "[a-c/.~]{1,8}/[a-c.]{1,50}", b in "[a-c.~]{1,8}/[a-c.]{1,50}") {
        if let (Ok(pa), Ok(pb)) = (a.parse::<RecordPath>(), b.parse::<RecordPath>()) {
            prop_assert_eq!(pa.cmp(&pb), a.cmp(&b));
            prop_assert_eq!(pa == pb, a == b);
        }
    }

    #[test]
    fn the_check_never_panics_and_agrees_with_the_rules(s in "[a-z/ é.]{0,12}") {
        let ok = s.matches('/').count() == 1
            && !s.starts_with('/')
            && !s.ends_with('/')
            && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'/' || b == b'.');
        prop_assert_eq!(RecordPath::is_valid(&s), ok, "{:?}", s);
    }
}
