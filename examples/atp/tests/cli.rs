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
        .env_remove("ATP_PASSWORD")
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
    let dir = temp_dir("key-commands");
    let key_file = dir.join("key.hex");
    let key_file = key_file.to_str().expect("path");
    for case in cases.as_array().expect("array") {
        let hex = case["privateKeyBytesHex"].as_str().expect("hex");
        // Whitespace around the digits is allowed, as an editor leaves it.
        std::fs::write(key_file, format!("  {hex}\r\n\n")).expect("key file");
        let out = atp(
            &["key", "did-key", "--curve", "k256", "--key-file", key_file],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out).trim_end(),
            case["publicDidKey"].as_str().expect("did")
        );
    }
    for (curve, prefix) in [("k256", "did:key:zQ3s"), ("p256", "did:key:zDnae")] {
        // To stdout, for a pipe into a file.
        let out = atp(&["key", "generate", "--curve", curve], b"");
        assert!(out.status.success());
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 64);
        assert!(lines[1].starts_with(prefix), "{}", lines[1]);
        std::fs::write(key_file, format!("{}\n", lines[0])).expect("key file");
        let again = atp(
            &["key", "did-key", "--curve", curve, "--key-file", key_file],
            b"",
        );
        assert_eq!(stdout(&again).trim_end(), lines[1]);

        // To a new key file, readable by its owner only.
        let generated = dir.join(format!("generated-{curve}.hex"));
        let generated = generated.to_str().expect("path");
        let out = atp(
            &["key", "generate", "--curve", curve, "--out", generated],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let did = stdout(&out);
        assert!(did.starts_with(prefix) && did.lines().count() == 1, "{did}");
        let written = std::fs::read_to_string(generated).expect("key file");
        assert_eq!(written.len(), 65, "64 hex digits and a newline");
        assert!(written[..64].bytes().all(|b| b.is_ascii_hexdigit()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(generated)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let again = atp(
            &["key", "did-key", "--curve", curve, "--key-file", generated],
            b"",
        );
        assert_eq!(stdout(&again), did);
        // An existing key file is never overwritten.
        let out = atp(&["key", "generate", "--out", generated], b"");
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(generated).expect("key file"),
            written
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The key never reaches stdout or stderr by any other way than `generate`:
/// a bad key file's error does not quote it.
#[test]
fn key_file_errors_do_not_quote_the_key() {
    let dir = temp_dir("key-file-errors");
    // Not hex at the end, too short, too long, a scalar out of range.
    let secretish = "9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0";
    let cases = [
        format!("{secretish}x"),
        secretish.to_owned(),
        format!("{secretish}cc"),
        "f".repeat(64),
        String::new(),
    ];
    for (i, text) in cases.iter().enumerate() {
        let file = dir.join(format!("bad-{i}.hex"));
        std::fs::write(&file, text).expect("key file");
        let file = file.to_str().expect("path");
        for args in [
            vec!["key", "did-key", "--curve", "k256", "--key-file", file],
            vec![
                "repo",
                "create",
                "--did",
                "did:plc:z72i7hdynmk6r22z27h6tvur",
                "--key-file",
                file,
                "--records",
                "/dev/null",
                "--out",
                "/dev/null",
            ],
        ] {
            let out = atp(&args, b"");
            assert_eq!(out.status.code(), Some(2), "{text:?}");
            let err = stderr(&out);
            assert!(err.starts_with("error: key file "), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(!err.contains(&secretish[..16]), "{err}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
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

#[test]
fn bench_mst_write_gives_back_the_tree_root() {
    let build = atp(&["bench", "mst", "--n", "2000", "--runs", "1"], b"");
    assert!(build.status.success());
    let text = stdout(&build);
    let root = text
        .lines()
        .find_map(|l| l.strip_prefix("root: "))
        .expect("a root line");
    for keys in ["S", "R"] {
        let out = atp(
            &[
                "bench",
                "mst-write",
                "--n",
                "2000",
                "--keys",
                keys,
                "--writes",
                "50",
            ],
            b"",
        );
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("tree: S(2000)\nkeys: {keys}\nwrites: 50\n")),
            "{text}"
        );
        // The other lines are the harness report's (atproto-workloads tests them).
        assert!(text.ends_with(&format!("\nroot: {root}\n")), "{text}");
    }
    let bad = atp(&["bench", "mst-write", "--keys", "X"], b"");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown workload is a usage error"
    );
}

/// The repository pipeline: create → verify (with and without the right key) → ls → get.
#[test]
fn repo_create_verify_ls_get() {
    const DID_KEY: &str = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
    let records = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/records.jsonl");
    let key_file = demo_key_file();
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
            "--key-file",
            key_file.to_str().expect("path"),
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
    assert_eq!(verified["signature"], "verified");
    let out = atp(&["car", "verify", car], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let unchecked: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(unchecked["signature"], "not checked");
    assert_eq!(unchecked["commit"], verified["commit"]);

    let other_key = "did:key:zQ3shVc2UkAfJCdc1TR8E66J85h48P43r93q8jGPkPpjF9Ef9";
    let out = atp(&["car", "verify", car, "--did-key", other_key], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "invalid: commit signature: signature verification failed\n"
    );

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
    let n = atproto_lexicon::json_files(&dir).expect("lexicons").len();
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

/// An `app.bsky.feed.post` record with this text, as JSON.
fn post(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2024-05-01T12:00:00Z",
    }))
    .expect("JSON")
}

/// `atp ARGS` (a `lexicon validate` of `app.bsky.feed.post`) accepts a post
/// and rejects one with too many graphemes, with the contract's lines.
fn assert_post_verdicts(args: &[&str]) {
    let out = atp(args, &post("hello 🦀"));
    assert_eq!(stdout(&out), "valid\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    let out = atp(args, &post(&"🦀".repeat(301)));
    assert_eq!(
        stdout(&out),
        "invalid: /text: string too long (301 > 300 graphemes)\n"
    );
    assert_eq!(out.status.code(), Some(1));
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
    assert_post_verdicts(&args);

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

/// Without `--schemas`, `validate` uses the lexicons built into `atp`: no
/// file is read, and the verdicts are those of the same documents on disk.
#[test]
fn lexicon_validate_bundled_without_schemas() {
    let args = ["lexicon", "validate", "--nsid", "app.bsky.feed.post"];
    assert_post_verdicts(&args);

    // The same cases through `--schemas` give the same lines.
    let dir = interop::lexicons_dir();
    let mut with_dir = vec![
        "lexicon",
        "validate",
        "--schemas",
        dir.to_str().expect("path"),
    ];
    with_dir.extend(&args[2..]);
    for input in [post("hi"), post(&"x".repeat(3001)), b"{}".to_vec()] {
        let bundled = atp(&args, &input);
        let on_disk = atp(&with_dir, &input);
        assert_eq!(stdout(&bundled), stdout(&on_disk));
        assert_eq!(bundled.status.code(), on_disk.status.code());
    }

    // Another namespace, a record key, and a FILE argument.
    let follow = br#"{"$type": "app.bsky.graph.follow", "subject": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "createdAt": "2024-11-05T18:31:59Z"}"#;
    let tmp = temp_dir("lexicon-bundled");
    let file = tmp.join("follow.json");
    std::fs::write(&file, follow).expect("write");
    let file = file.to_str().expect("path");
    let nsid = ["lexicon", "validate", "--nsid", "app.bsky.graph.follow"];
    let out = atp(
        &[&nsid[..], &["--rkey", "3l7vx2wnd3c2p", file]].concat(),
        b"",
    );
    assert_eq!(stdout(&out), "valid\n");
    let out = atp(&[&nsid[..], &["--rkey", "self", file]].concat(), b"");
    assert!(
        stdout(&out).starts_with("invalid: invalid record key: "),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&tmp).ok();

    // A type outside the bundled namespaces, or not a record: exit 2.
    for (nsid, message) in [
        (
            "com.example.unknown",
            "no lexicon def named \"com.example.unknown\" in the bundled lexicons (app.bsky, chat.bsky, com.atproto, tools.ozone); use --schemas DIR for others",
        ),
        (
            "site.standard.document",
            "no lexicon def named \"site.standard.document\" in the bundled lexicons",
        ),
        (
            "chat.bsky.convo.getConvo",
            "\"chat.bsky.convo.getConvo\" is a `query`, not a `record`",
        ),
    ] {
        let out = atp(&["lexicon", "validate", "--nsid", nsid], b"");
        assert_eq!(out.status.code(), Some(2), "{nsid}");
        assert!(stdout(&out).is_empty(), "{nsid}: {}", stdout(&out));
        assert!(
            stderr(&out).starts_with("error: ") && stderr(&out).contains(message),
            "{nsid}: {}",
            stderr(&out)
        );
    }
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

/// The demo key file shipped for the README's command.
fn demo_key_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/demo-key-not-secret.hex")
}

/// How a command is expected to end.
#[derive(Clone, Copy, Debug)]
enum Ends {
    /// Exit 0, nothing on stderr.
    Yes,
    /// Exit 1 with the verdict on stdout and nothing on stderr.
    NoOnStdout,
    /// Exit 1, one `error: ` line on stderr.
    No,
    /// Exit 2, one `error: ` line on stderr, nothing on stdout.
    Setup,
}

fn check_ending(args: &[&str], stdin: &[u8], want: Ends) {
    let out = atp(args, stdin);
    let (err, text) = (stderr(&out), stdout(&out));
    let code = out.status.code();
    match want {
        Ends::Yes => {
            assert_eq!(code, Some(0), "{args:?}: {err}");
            assert!(err.is_empty(), "{args:?}: {err}");
        }
        Ends::NoOnStdout => {
            assert_eq!(code, Some(1), "{args:?}: {err}");
            assert!(err.is_empty(), "{args:?}: {err}");
            assert!(!text.is_empty(), "{args:?}: no verdict");
        }
        Ends::No | Ends::Setup => {
            let want_code = if matches!(want, Ends::No) { 1 } else { 2 };
            assert_eq!(code, Some(want_code), "{args:?}: {err}");
            assert!(text.is_empty(), "{args:?}: {text}");
            assert!(err.starts_with("error: "), "{args:?}: {err}");
            assert!(
                err.ends_with('\n') && err.lines().count() == 1,
                "{args:?}: not one line: {err:?}"
            );
        }
    }
}

/// One exit-code convention for every command: 0 yes, 1 no, 2 usage or
/// setup; errors are one line on stderr. Each command: a success, a "no"
/// where it has one, and a setup error (a bad flag or an unreadable file).
#[test]
fn every_command_follows_the_exit_code_convention() {
    use Ends::{No, NoOnStdout, Setup, Yes};
    let dir = temp_dir("exit-codes");
    let path = |name: &str| dir.join(name).to_str().expect("path").to_owned();
    let missing = path("missing");
    let key = demo_key_file();
    let key = key.to_str().expect("path");
    let records = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/records.jsonl");
    let records = records.to_str().expect("path");
    let (car, bad_records, bad_key, truncated) = (
        path("repo.car"),
        path("bad.jsonl"),
        path("bad-key.hex"),
        path("truncated.car"),
    );
    std::fs::write(
        &bad_records,
        "{\"collection\": \"app.bsky.feed.post\", \"rkey\": \"a/b\", \"value\": {}}\n",
    )
    .expect("write");
    std::fs::write(&bad_key, "not a key\n").expect("write");
    let did = "did:plc:z72i7hdynmk6r22z27h6tvur";
    let create = |records: &str, key: &str, out: &str| {
        vec![
            "repo",
            "create",
            "--did",
            did,
            "--key-file",
            key,
            "--records",
            records,
            "--out",
            out,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<String>>()
    };
    let run = |args: &[String], stdin: &[u8], want: Ends| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check_ending(&args, stdin, want);
    };
    run(&create(records, key, &car), b"", Yes);
    let bytes = std::fs::read(&car).expect("CAR");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    run(&create(&bad_records, key, &path("x.car")), b"", No);
    run(&create(records, &bad_key, &path("x.car")), b"", Setup);
    run(&create(records, &missing, &path("x.car")), b"", Setup);
    run(&create(&missing, key, &path("x.car")), b"", Setup);
    run(&create(records, key, &path("no-dir/x.car")), b"", Setup);

    // A small catalog: one valid record type.
    let schemas = path("schemas");
    std::fs::create_dir_all(&schemas).expect("dir");
    std::fs::write(
        dir.join("schemas/thing.json"),
        r#"{"lexicon": 1, "id": "com.example.thing", "defs": {"main": {"type": "record",
            "key": "any", "record": {"type": "object", "required": ["n"],
            "properties": {"n": {"type": "integer"}}}}}}"#,
    )
    .expect("write");
    let broken = path("broken");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::write(dir.join("broken/x.json"), "{").expect("write");
    let validate = ["lexicon", "validate", "--schemas", &schemas, "--nsid"];
    fn with<'a>(validate: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [validate, extra].concat()
    }

    let session = path("session.json");
    let other_key = "did:key:zQ3shVc2UkAfJCdc1TR8E66J85h48P43r93q8jGPkPpjF9Ef9";
    let demo_did_key = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
    let cases: Vec<(Vec<&str>, &[u8], Ends)> = vec![
        // No command, or a flag that does not exist: clap's errors, on one line.
        (vec![], b"", Setup),
        (vec!["key"], b"", Setup),
        (
            vec!["syntax", "did", "did:plc:z72i7hdynmk6r22z27h6tvur"],
            b"",
            Yes,
        ),
        (vec!["syntax", "did", "did:plc:"], b"", NoOnStdout),
        (vec!["syntax", "colour", "red"], b"", Setup),
        (
            vec!["syntax", "did", "--stdin"],
            b"did:web:example.com\nnope\n",
            Yes,
        ),
        (vec!["cbor", "cid"], br#"{"a": 1}"#, Yes),
        (vec!["cbor", "from-json"], b"{", No),
        (vec!["cbor", "to-json"], &[0xa1, 0x01, 0x02], No),
        (vec!["cbor", "cid", &missing], b"", Setup),
        (vec!["key", "generate"], b"", Yes),
        (
            vec!["key", "did-key", "--curve", "k256", "--key-file", key],
            b"",
            Yes,
        ),
        (
            vec!["key", "did-key", "--curve", "k256", "--key-file", &bad_key],
            b"",
            Setup,
        ),
        (
            vec!["key", "did-key", "--curve", "k256", "--key-file", &missing],
            b"",
            Setup,
        ),
        (
            vec!["key", "did-key", "--curve", "k256", "--private-hex", "00"],
            b"",
            Setup,
        ),
        (vec!["mst", "root"], b"", Yes),
        (
            vec!["mst", "root"],
            b"no-slash bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm\n",
            No,
        ),
        (vec!["mst", "root", &missing], b"", Setup),
        (vec!["repo", "create", "--key-hex", "00"], b"", Setup),
        (vec!["repo", "ls", &car], b"", Yes),
        (vec!["repo", "ls", &truncated], b"", No),
        (vec!["repo", "ls", &missing], b"", Setup),
        (
            vec!["repo", "get", &car, "app.bsky.actor.profile/self"],
            b"",
            Yes,
        ),
        (
            vec!["repo", "get", &car, "app.bsky.actor.profile/other"],
            b"",
            No,
        ),
        (
            vec!["repo", "get", &missing, "app.bsky.actor.profile/self"],
            b"",
            Setup,
        ),
        (vec!["car", "verify", &car], b"", Yes),
        (
            vec!["car", "verify", &car, "--did-key", demo_did_key],
            b"",
            Yes,
        ),
        (
            vec!["car", "verify", &car, "--did-key", other_key],
            b"",
            NoOnStdout,
        ),
        (vec!["car", "verify", &truncated], b"", NoOnStdout),
        (
            vec!["car", "verify", &car, "--did-key", "did:key:nope"],
            b"",
            Setup,
        ),
        (vec!["car", "verify", &missing], b"", Setup),
        (vec!["lexicon", "check", &schemas], b"", Yes),
        (vec!["lexicon", "check", &broken], b"", NoOnStdout),
        (vec!["lexicon", "check", &missing], b"", Setup),
        (
            with(&validate, &["com.example.thing"]),
            br#"{"$type": "com.example.thing", "n": 1}"#,
            Yes,
        ),
        (
            with(&validate, &["com.example.thing"]),
            br#"{"$type": "com.example.thing", "n": "1"}"#,
            NoOnStdout,
        ),
        (with(&validate, &["com.example.other"]), b"", Setup),
        (
            with(&validate, &["com.example.thing", &missing]),
            b"",
            Setup,
        ),
        (vec!["bench", "mst", "--n", "100", "--runs", "1"], b"", Yes),
        (vec!["bench", "mst", "--workload", "Q"], b"", Setup),
        // Network commands without a network: only what fails before or at
        // the connection (closed loopback port). The successes and the
        // server's "no" are in `xrpc_ref_pds.rs`, against the reference PDS.
        (
            vec!["xrpc", "call", "com.atproto.server.describeServer"],
            b"",
            Setup,
        ),
        (
            vec![
                "xrpc",
                "call",
                "--service",
                "http://127.0.0.1:9",
                "not-an-nsid",
            ],
            b"",
            Setup,
        ),
        (
            vec![
                "xrpc",
                "call",
                "--service",
                "http://127.0.0.1:9",
                "com.atproto.server.describeServer",
            ],
            b"",
            Setup,
        ),
        (
            vec![
                "xrpc",
                "call",
                "--session",
                &missing,
                "com.atproto.server.getSession",
            ],
            b"",
            Setup,
        ),
        (
            vec![
                "xrpc",
                "login",
                "--service",
                "http://127.0.0.1:9",
                "--identifier",
                "a.test",
                "--session",
                &session,
            ],
            b"",
            Setup,
        ),
        (
            vec![
                "jwt",
                "verify",
                "not.a.jwt",
                "--aud",
                "did:web:svc.example.com",
            ],
            b"",
            NoOnStdout,
        ),
        (vec!["identity", "resolve", "not a handle"], b"", Setup),
    ];
    for (args, stdin, want) in cases {
        check_ending(&args, stdin, want);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [
        &["--help"][..],
        &["repo", "create", "--help"],
        &["--version"],
    ] {
        let out = atp(args, b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!stdout(&out).is_empty());
        assert!(stderr(&out).is_empty());
    }
    let out = atp(&["repo", "create", "--help"], b"");
    assert!(stdout(&out).contains("--key-file"));
    assert!(!stdout(&out).contains("--key-hex"));
}
