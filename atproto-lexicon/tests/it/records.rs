//! Hand-written record suites (`tests/data/records/<nsid>.json`) validated
//! against the upstream lexicons (read from the vendored folder here, and
//! through the bundled catalog in `bundled.rs`).
//!
//! Each file is `{"nsid", "valid": [{name, rkey?, record}], "invalid":
//! [{name, rkey?, record, path, kind}]}` where `kind` is the start of the
//! expected [`ValidationErrorKind`](atproto_lexicon::ValidationErrorKind)'s
//! `Debug` form and `path` the JSON Pointer of the error (`""` for the
//! record key).

use atproto_core::data::json;
use atproto_lexicon::Catalog;

fn run(nsid: &str) {
    run_with(crate::upstream_catalog(), nsid);
}

/// Runs the suite of `nsid` through `catalog`.
pub fn run_with(catalog: &Catalog, nsid: &str) {
    let path = format!(
        "{}/tests/data/records/{nsid}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let suite: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(suite["nsid"], nsid);
    let v = catalog.record(nsid).unwrap();
    let valid = suite["valid"].as_array().unwrap();
    let invalid = suite["invalid"].as_array().unwrap();
    for case in valid {
        let name = &case["name"];
        let record = json::record_from_json(&case["record"])
            .unwrap_or_else(|e| panic!("{nsid} {name}: not ATProto JSON: {e}"));
        let rkey = case["rkey"].as_str().unwrap_or("3l7vx2wnd3c2p");
        if let Err(e) = v.validate_with_rkey(&record, rkey) {
            panic!("{nsid} valid case {name} rejected: {e}");
        }
    }
    for case in invalid {
        let name = &case["name"];
        let record = json::record_from_json(&case["record"])
            .unwrap_or_else(|e| panic!("{nsid} {name}: not ATProto JSON: {e}"));
        let rkey = case["rkey"].as_str().unwrap_or(match v.key_type() {
            atproto_lexicon::RecordKeyType::Literal(l) => l.as_str(),
            _ => "3l7vx2wnd3c2p",
        });
        let err = v
            .validate_with_rkey(&record, rkey)
            .err()
            .unwrap_or_else(|| panic!("{nsid} invalid case {name} accepted"));
        let kind = format!("{:?}", err.kind());
        let want = case["kind"].as_str().unwrap();
        assert!(
            kind.starts_with(want),
            "{nsid} {name}: expected {want}, got {kind}"
        );
        assert_eq!(
            err.path(),
            case["path"].as_str().unwrap(),
            "{nsid} {name}: {err}"
        );
    }
    println!("{nsid}: {} valid, {} invalid", valid.len(), invalid.len());
}

#[test]
fn feed_post() {
    run("app.bsky.feed.post");
}

#[test]
fn actor_profile() {
    run("app.bsky.actor.profile");
}

#[test]
fn graph_follow() {
    run("app.bsky.graph.follow");
}

#[test]
fn feed_like() {
    run("app.bsky.feed.like");
}

#[test]
fn error_display_names_path_and_reason() {
    let v = crate::upstream_catalog()
        .record("app.bsky.feed.post")
        .unwrap();
    let post = json::record_from_str(&format!(
        r#"{{"$type":"app.bsky.feed.post","text":"{}","createdAt":"2024-01-01T00:00:00Z"}}"#,
        "ü".repeat(301)
    ))
    .unwrap();
    let err = v.validate(&post).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/text: string too long (301 > 300 graphemes)"
    );
}
