//! The `atp` output contract, checked by running the binary the way scripts do.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use atproto_core::syntax::CidString;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;

fn atp(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("atp starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("stdin written");
    child.wait_with_output().expect("atp finishes")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// Every syntax vector file, fed through `--stdin`: one verdict per case line.
#[test]
fn syntax_stdin_matches_vectors() {
    let kinds = [
        ("atidentifier", "at-identifier"),
        ("aturi", "at-uri"),
        ("cid", "cid"),
        ("datetime", "datetime"),
        ("did", "did"),
        ("handle", "handle"),
        ("language", "language"),
        ("nsid", "nsid"),
        ("recordkey", "rkey"),
        ("tid", "tid"),
        ("uri", "uri"),
    ];
    let mut total = 0;
    for (prefix, kind) in kinds {
        for (suffix, want_valid) in [
            ("syntax_valid", true),
            ("syntax_invalid", false),
            ("parse_invalid", false),
        ] {
            let path = interop::dir().join(format!("syntax/{prefix}_{suffix}.txt"));
            if suffix == "parse_invalid" && !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("vector file");
            let cases: Vec<&str> = text
                .split('\n')
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            let input: String = cases.iter().map(|c| format!("{c}\n")).collect();
            let out = atp(&["syntax", kind, "--stdin"], input.as_bytes());
            assert!(out.status.success(), "--stdin exits 0");
            let verdicts: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
            assert_eq!(
                verdicts.len(),
                cases.len(),
                "{prefix}_{suffix}: one line per case"
            );
            for (case, verdict) in cases.iter().zip(&verdicts) {
                // `cid_syntax_valid` also lists strings that pass only the
                // string-level grammar and are not CIDs (atproto-core's
                // syntax tests name them): there the CLI must agree with
                // the library.
                let want_valid = want_valid && (prefix != "cid" || CidString::is_valid(case));
                if want_valid {
                    assert_eq!(verdict, "valid", "{kind} {case:?}");
                } else {
                    assert!(
                        verdict.starts_with("invalid: "),
                        "{kind} {case:?} gave {verdict:?}"
                    );
                }
            }
            total += cases.len();
        }
    }
    println!("atp syntax --stdin: {total} cases");
    assert!(
        total > 500,
        "expected the full syntax vector set, ran {total}"
    );
}

#[test]
fn syntax_single_value_exit_codes() {
    let ok = atp(&["syntax", "did", "did:plc:z72i7hdynmk6r22z27h6tvur"], b"");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(stdout(&ok), "valid\n");
    let bad = atp(&["syntax", "handle", "-not-a-handle"], b"");
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).starts_with("invalid: "), "{}", stdout(&bad));
}

/// `from-json`, `to-json` and `cid` reproduce the data-model fixtures exactly.
#[test]
fn cbor_commands_match_fixtures() {
    let text = std::fs::read_to_string(interop::dir().join("data-model/data-model-fixtures.json"))
        .expect("fixtures");
    let fixtures: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let fixtures = fixtures.as_array().expect("array");
    for f in fixtures {
        let json = serde_json::to_vec(&f["json"]).expect("JSON");
        let cbor = atp(&["cbor", "from-json"], &json);
        assert!(cbor.status.success());
        let expected = STANDARD_NO_PAD
            .decode(f["cbor_base64"].as_str().expect("string"))
            .expect("base64");
        assert_eq!(cbor.stdout, expected, "from-json bytes");

        let back = atp(&["cbor", "to-json"], &cbor.stdout);
        assert!(back.status.success());
        let back: serde_json::Value =
            serde_json::from_slice(&back.stdout).expect("to-json prints JSON");
        assert_eq!(back, f["json"]);

        let cid = atp(&["cbor", "cid"], &json);
        assert_eq!(stdout(&cid).trim_end(), f["cid"].as_str().expect("string"));
    }
    assert_eq!(fixtures.len(), 3);

    let bad = atp(&["cbor", "to-json"], &[0xa1, 0x01, 0x02]);
    assert_eq!(bad.status.code(), Some(1), "non-string map key is rejected");
}

#[test]
fn key_commands() {
    let text = std::fs::read_to_string(interop::dir().join("crypto/w3c_didkey_K256.json"))
        .expect("vectors");
    let cases: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    for case in cases.as_array().expect("array") {
        let hex = case["privateKeyBytesHex"].as_str().expect("hex");
        let out = atp(
            &["key", "did-key", "--curve", "k256", "--private-hex", hex],
            b"",
        );
        assert!(out.status.success());
        assert_eq!(
            stdout(&out).trim_end(),
            case["publicDidKey"].as_str().expect("did")
        );
    }
    for (curve, prefix) in [("k256", "did:key:zQ3s"), ("p256", "did:key:zDnae")] {
        let out = atp(&["key", "generate", "--curve", curve], b"");
        assert!(out.status.success());
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 64);
        assert!(lines[1].starts_with(prefix), "{}", lines[1]);
        let again = atp(
            &[
                "key",
                "did-key",
                "--curve",
                curve,
                "--private-hex",
                lines[0],
            ],
            b"",
        );
        assert_eq!(stdout(&again).trim_end(), lines[1]);
    }
}

/// `atp mst root` reproduces the roots of the commit-proof fixtures.
#[test]
fn mst_root_matches_fixtures() {
    let text = std::fs::read_to_string(interop::dir().join("firehose/commit-proof-fixtures.json"))
        .expect("fixtures");
    let cases: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let cases = cases.as_array().expect("array");
    for case in cases {
        let leaf = case["leafValue"].as_str().expect("cid");
        let keys = case["keys"].as_array().expect("keys");
        let input: String = keys
            .iter()
            .map(|k| format!("{} {leaf}\n", k.as_str().expect("key")))
            .collect();
        let out = atp(&["mst", "root"], input.as_bytes());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout(&out).trim_end(),
            case["rootBeforeCommit"].as_str().expect("cid")
        );
    }
    assert_eq!(cases.len(), 6);

    let bad = atp(
        &["mst", "root"],
        b"no-slash bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm\n",
    );
    assert_eq!(bad.status.code(), Some(1), "an invalid MST key is refused");
    let empty = atp(&["mst", "root"], b"");
    assert_eq!(
        stdout(&empty).trim_end(),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
}

#[test]
fn bench_mst_prints_the_workload_root() {
    let out = atp(
        &[
            "bench",
            "mst",
            "--workload",
            "S",
            "--n",
            "10000",
            "--runs",
            "1",
        ],
        b"",
    );
    assert!(out.status.success());
    let text = stdout(&out);
    // The S(10,000) root; a separate Python build of the same tree gives it too.
    assert!(
        text.contains("root: bafyreic5cqr43yvwrykhwngfipl3zhs73acj65ehkkkjrhvpuwtdd7luri"),
        "{text}"
    );
    for field in ["build_ms_best:", "inserts_per_s:", "nodes:", "height:"] {
        assert!(text.contains(field), "missing {field} in {text}");
    }
}

/// The repository pipeline: create → verify (with and without the right key) → ls → get.
#[test]
fn repo_create_verify_ls_get() {
    const KEY: &str = "9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c";
    const DID_KEY: &str = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
    let records = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/records.jsonl");
    let dir = std::env::temp_dir().join(format!("atp-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let car = dir.join("repo.car");
    let car = car.to_str().expect("UTF-8 path");

    let out = atp(
        &[
            "repo",
            "create",
            "--did",
            "did:plc:z72i7hdynmk6r22z27h6tvur",
            "--key-hex",
            KEY,
            "--records",
            records.to_str().expect("path"),
            "--out",
            car,
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(created["records"], 5);

    let out = atp(&["car", "verify", car, "--did-key", DID_KEY], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let verified: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(verified["did"], "did:plc:z72i7hdynmk6r22z27h6tvur");
    for field in ["commit", "data", "rev", "records"] {
        assert_eq!(verified[field], created[field], "{field}");
    }
    assert!(verified["blocks"].as_u64().expect("count") >= 6);

    let other_key = "did:key:zQ3shVc2UkAfJCdc1TR8E66J85h48P43r93q8jGPkPpjF9Ef9";
    let out = atp(&["car", "verify", car, "--did-key", other_key], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("invalid: "), "{}", stdout(&out));

    let out = atp(&["repo", "ls", car], b"");
    let listing = stdout(&out);
    let paths: Vec<&str> = listing
        .lines()
        .map(|l| l.split(' ').next().expect("path"))
        .collect();
    assert_eq!(paths.len(), 5);
    assert!(
        paths.windows(2).all(|w| w[0] < w[1]),
        "key order: {paths:?}"
    );
    assert!(paths.contains(&"app.bsky.actor.profile/self"));

    let out = atp(
        &["repo", "get", car, "app.bsky.feed.post/3l3qo2vutsw2b"],
        b"",
    );
    assert!(out.status.success());
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(record["text"], "Hello from atp! 🦀");
    let missing = atp(
        &["repo", "get", car, "app.bsky.feed.post/3l3qo2vutsw2z"],
        b"",
    );
    assert_eq!(missing.status.code(), Some(1));

    // A truncated CAR is refused with a reason, never a crash.
    let bytes = std::fs::read(car).expect("CAR");
    let truncated = dir.join("truncated.car");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let out = atp(&["car", "verify", truncated.to_str().expect("path")], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("invalid: "), "{}", stdout(&out));
    std::fs::remove_dir_all(&dir).ok();
}

/// How many `*.json` files there are under `dir`, recursively.
fn count_json(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("directory")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            if p.is_dir() {
                count_json(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "json"))
            }
        })
        .sum()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atp-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn lexicon_check_upstream_is_clean() {
    let dir = interop::lexicons_dir();
    let n = count_json(&dir);
    assert!(n > 300, "expected the full upstream set, found {n}");
    let out = atp(&["lexicon", "check", dir.to_str().expect("path")], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), format!("{n} documents, 0 invalid\n"));
}

/// Several bad documents at once: each is listed with its own reason, and
/// unresolved references are blamed on the document that holds them.
#[test]
fn lexicon_check_lists_each_invalid_document() {
    let dir = temp_dir("lexicon-check");
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, text).expect("write");
    };
    // Valid: a record type in a subdirectory using a def from another file.
    write(
        "good/defs.json",
        r#"{"lexicon": 1, "id": "com.example.good.defs", "defs": {
            "thing": {"type": "object", "properties": {"n": {"type": "integer"}}}}}"#,
    );
    write(
        "good/nested/post.json",
        r#"{"lexicon": 1, "id": "com.example.good.post", "defs": {"main": {
            "type": "record", "key": "tid", "record": {"type": "object",
            "properties": {"thing": {"type": "ref", "ref": "com.example.good.defs#thing"}}}}}}"#,
    );
    write("notes.txt", "not a lexicon, and not *.json: skipped");
    // Invalid on their own.
    write(
        "bad-nsid.json",
        r#"{"lexicon": 1, "id": "com..example", "defs": {"x": {"type": "integer"}}}"#,
    );
    write(
        "not-main.json",
        r#"{"lexicon": 1, "id": "com.example.notmain", "defs": {"post": {
            "type": "record", "key": "tid", "record": {"type": "object", "properties": {}}}}}"#,
    );
    write(
        "malformed.json",
        r#"{"lexicon": 1, "id": "com.example.broken", "#,
    );
    write(
        "zz-duplicate.json",
        r#"{"lexicon": 1, "id": "com.example.good.defs", "defs": {"y": {"type": "string"}}}"#,
    );
    // Fine on their own; invalid in the catalog (the second only because
    // the first is).
    write(
        "dangling.json",
        r#"{"lexicon": 1, "id": "com.example.dangling", "defs": {"main": {
            "type": "object", "properties": {"x": {"type": "ref", "ref": "com.example.nowhere#thing"}}}}}"#,
    );
    write(
        "uses-broken.json",
        r#"{"lexicon": 1, "id": "com.example.usesbroken", "defs": {"main": {
            "type": "array", "items": {"type": "ref", "ref": "com.example.dangling"}}}}"#,
    );

    let out = atp(&["lexicon", "check", dir.to_str().expect("path")], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let expected = [
        ("bad-nsid.json", "`id` is not a valid NSID"),
        (
            "dangling.json",
            "com.example.dangling/defs/main/properties/x/ref: reference \"com.example.nowhere#thing\" does not resolve",
        ),
        ("malformed.json", "invalid JSON"),
        ("not-main.json", "primary def \"post\" must be named `main`"),
        (
            "uses-broken.json",
            "reference \"com.example.dangling\" does not resolve (com.example.dangling is in",
        ),
        (
            "zz-duplicate.json",
            "two documents with id \"com.example.good.defs\"",
        ),
    ];
    assert_eq!(lines.len(), expected.len() + 1, "{text}");
    for (line, (file, reason)) in lines.iter().zip(expected) {
        let prefix = format!("{}: ", dir.join(file).display());
        assert!(line.starts_with(&prefix), "{line:?} is not about {file}");
        assert!(line.contains(reason), "{line:?} lacks {reason:?}");
    }
    assert_eq!(lines[expected.len()], "8 documents, 6 invalid");

    // The two valid documents validate records together.
    let out = atp(
        &[
            "lexicon",
            "validate",
            "--schemas",
            dir.to_str().expect("path"),
            "--nsid",
            "com.example.good.post",
        ],
        br#"{"$type": "com.example.good.post", "thing": {"n": "one"}}"#,
    );
    assert_eq!(
        stdout(&out),
        "invalid: /thing/n: expected integer, found string\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("warning: left out of the catalog: "),
        "{}",
        stderr(&out)
    );
    // A record type whose document is invalid is a setup error.
    let out = atp(
        &[
            "lexicon",
            "validate",
            "--schemas",
            dir.to_str().expect("path"),
            "--nsid",
            "com.example.notmain",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("not-main.json"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}

/// Every `record-data-*` case against the interop catalog, fed on stdin.
#[test]
fn lexicon_validate_matches_record_data_vectors() {
    let catalog = interop::dir().join("lexicon/catalog");
    let catalog = catalog.to_str().expect("path");
    let mut total = 0;
    for (file, want_valid) in [
        ("record-data-valid.json", true),
        ("record-data-invalid.json", false),
    ] {
        let text =
            std::fs::read_to_string(interop::dir().join("lexicon").join(file)).expect("vectors");
        let cases: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        for case in cases.as_array().expect("array") {
            let data = serde_json::to_vec(&case["data"]).expect("JSON");
            let rkey = case["rkey"].as_str().expect("rkey");
            // Standard input both ways: no FILE, and FILE `-`; with and without the key.
            let runs: [&[&str]; 2] = [&[], &["--rkey", rkey, "-"]];
            for extra in runs {
                let mut args = vec![
                    "lexicon",
                    "validate",
                    "--schemas",
                    catalog,
                    "--nsid",
                    "example.lexicon.record",
                ];
                args.extend_from_slice(extra);
                let out = atp(&args, &data);
                let verdict = stdout(&out);
                if want_valid {
                    assert_eq!(verdict, "valid\n", "{}", case["name"]);
                    assert_eq!(out.status.code(), Some(0));
                } else {
                    assert!(
                        verdict.starts_with("invalid: ") && verdict.lines().count() == 1,
                        "{} gave {verdict:?}",
                        case["name"]
                    );
                    assert_eq!(out.status.code(), Some(1), "{}", case["name"]);
                }
            }
            total += 1;
        }
    }
    assert_eq!(total, 53);
}

#[test]
fn lexicon_validate_upstream_post() {
    let dir = interop::lexicons_dir();
    let schemas = dir.to_str().expect("path");
    let args = [
        "lexicon",
        "validate",
        "--schemas",
        schemas,
        "--nsid",
        "app.bsky.feed.post",
    ];
    let post = |text: &str| {
        serde_json::to_vec(&serde_json::json!({
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": "2024-05-01T12:00:00Z",
        }))
        .expect("JSON")
    };
    let out = atp(&args, &post("hello 🦀"));
    assert_eq!(stdout(&out), "valid\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    let out = atp(&args, &post(&"🦀".repeat(301)));
    assert_eq!(
        stdout(&out),
        "invalid: /text: string too long (301 > 300 graphemes)\n"
    );
    assert_eq!(out.status.code(), Some(1));

    // From a FILE, with a record key the type does not allow.
    let tmp = temp_dir("lexicon-validate");
    let file = tmp.join("post.json");
    std::fs::write(&file, post("hi")).expect("write");
    let mut with_file = args.to_vec();
    with_file.extend(["--rkey", "self", file.to_str().expect("path")]);
    let out = atp(&with_file, b"");
    assert!(
        stdout(&out).starts_with("invalid: invalid record key: "),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1));
    with_file.retain(|a| *a != "--rkey" && *a != "self");
    let out = atp(&with_file, b"");
    assert_eq!(stdout(&out), "valid\n");

    // Not JSON, or not a record of this type.
    let out = atp(&args, b"{\"text\": ");
    assert!(
        stdout(&out).starts_with("invalid: /: invalid JSON"),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1));
    let out = atp(&args, br#"{"$type": "app.bsky.feed.like"}"#);
    assert_eq!(
        stdout(&out),
        "invalid: /$type: record `$type` is \"app.bsky.feed.like\", expected \"app.bsky.feed.post\"\n"
    );
    std::fs::remove_dir_all(&tmp).ok();
}

/// Setup errors exit 2 with a message on stderr and nothing on stdout.
#[test]
fn lexicon_setup_errors_exit_2() {
    let dir = interop::lexicons_dir();
    let schemas = dir.to_str().expect("path");
    let missing = dir.join("no-such-dir");
    let missing = missing.to_str().expect("path");
    for (args, message) in [
        (
            vec![
                "validate",
                "--schemas",
                schemas,
                "--nsid",
                "com.example.unknown",
            ],
            "no lexicon def named \"com.example.unknown\"",
        ),
        (
            vec![
                "validate",
                "--schemas",
                schemas,
                "--nsid",
                "app.bsky.feed.getTimeline",
            ],
            "is a `query`, not a `record`",
        ),
        (
            vec![
                "validate",
                "--schemas",
                missing,
                "--nsid",
                "app.bsky.feed.post",
            ],
            "cannot read directory",
        ),
        (
            vec![
                "validate",
                "--schemas",
                schemas,
                "--nsid",
                "app.bsky.feed.post",
                missing,
            ],
            "cannot read",
        ),
        (vec!["check", missing], "cannot read directory"),
    ] {
        let mut full = vec!["lexicon"];
        full.extend(&args);
        // No input: atp exits before reading it, and a write would race with that.
        let out = atp(&full, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains(message),
            "{args:?}: {err}"
        );
    }
}
