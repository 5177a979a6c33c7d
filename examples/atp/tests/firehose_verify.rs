//! `atp firehose verify`: the output contract and exit codes, over the
//! reference PDS capture, defective copies of it, and a loopback PLC
//! directory.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use atproto_core::PublicKey;
use atproto_firehose::{CaptureReader, Frame, append_record};
use bytes::Bytes;
use serde_json::Value;

#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;

fn atp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atp"))
        .args(args)
        .output()
        .expect("atp runs")
}

fn capture() -> PathBuf {
    interop::firehose_dir().join("ref-pds-dev.frames")
}

fn keys_file() -> PathBuf {
    interop::firehose_dir().join("ref-pds-dev-keys.json")
}

fn keys() -> BTreeMap<String, String> {
    serde_json::from_slice(&std::fs::read(keys_file()).unwrap()).unwrap()
}

fn run(file: &Path, flag: &str, value: &str) -> (Value, Output) {
    let out = atp(&["firehose", "verify", file.to_str().unwrap(), flag, value]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (json, out)
}

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atp-firehose-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The capture with each frame passed through `edit` (`None` drops it).
fn edited(edit: impl Fn(Frame) -> Option<Frame>) -> Vec<u8> {
    let data = Bytes::from(std::fs::read(capture()).unwrap());
    let mut out = Vec::new();
    for r in CaptureReader::new(data) {
        if let Some(f) = edit(r.unwrap().frame) {
            append_record(&mut out, &f.encode()).unwrap();
        }
    }
    out
}

#[test]
fn the_capture_verifies() {
    let (json, out) = run(&capture(), "--keys", keys_file().to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json,
        serde_json::json!({"frames": 2228, "commits": 2198, "verified": 2198, "errors": []})
    );
    // The contract's key order.
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with(r#"{"frames":2228,"commits":2198,"verified":2198,"errors":[]}"#)
    );
}

#[test]
fn defects_are_reported_with_their_seq() {
    // seq 41: tooBig set; seq 45: a record byte changed; seq 50 dropped,
    // so the account's next commit (51) does not follow.
    let bytes = edited(|f| match f {
        Frame::Commit(mut c) if c.seq == 41 => {
            c.too_big = true;
            Some(Frame::Commit(c))
        }
        Frame::Commit(mut c) if c.seq == 45 => {
            let mut b = c.blocks.to_vec();
            *b.last_mut().unwrap() ^= 1;
            c.blocks = Bytes::from(b);
            Some(Frame::Commit(c))
        }
        Frame::Commit(c) if c.seq == 50 => None,
        f => Some(f),
    });
    let file = tmp("defects.frames", &bytes);
    let (json, out) = run(&file, "--keys", keys_file().to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["frames"], 2227);
    assert_eq!(json["commits"], 2197);
    let errors = json["errors"].as_array().unwrap();
    let reason = |i: usize| errors[i]["reason"].as_str().unwrap();
    let seq = |i: usize| errors[i]["seq"].as_i64().unwrap();
    assert_eq!((seq(0), seq(1)), (41, 45));
    assert!(reason(0).contains("tooBig"), "{}", reason(0));
    assert!(reason(1).contains("hash"), "{}", reason(1));
    // Every other error is a desynchronized account: the next commit of
    // each of the three accounts (41 and 45 rejected, 50 missing) has a
    // `since` that does not follow, and their later commits await a resync.
    let since: Vec<i64> = (2..errors.len())
        .filter(|i| reason(*i).contains("since"))
        .map(seq)
        .collect();
    assert_eq!(since, [47, 51, 53]);
    assert!((2..errors.len()).all(|i| reason(i).starts_with("desynchronized: ")));
    assert_eq!(
        json["verified"].as_u64().unwrap() + errors.len() as u64,
        2197
    );

    // A frame that does not decode: seq null, the rest still checked.
    let mut bytes = edited(Some);
    append_record(&mut bytes, b"\xa1\x62op\x01").unwrap();
    let (json, out) = run(
        &tmp("junk.frames", &bytes),
        "--keys",
        keys_file().to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (json["frames"].as_u64(), json["verified"].as_u64()),
        (Some(2229), Some(2198))
    );
    assert_eq!(json["errors"][0]["seq"], Value::Null);
}

#[test]
fn a_wrong_key_fails_that_accounts_events() {
    let mut keys = keys();
    let did = keys.keys().next().unwrap().clone();
    let other = keys.values().nth(1).unwrap().clone();
    keys.insert(did.clone(), other);
    let file = tmp("wrong-keys.json", &serde_json::to_vec(&keys).unwrap());
    let (json, out) = run(&capture(), "--keys", file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    let errors = json["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for e in errors {
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains(&did) && reason.contains("signature"),
            "{reason}"
        );
    }
}

#[test]
fn setup_errors_exit_2() {
    let k = keys_file();
    let k = k.to_str().unwrap();
    let out = atp(&[
        "firehose",
        "verify",
        "/nonexistent/capture.frames",
        "--keys",
        k,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    for (name, text) in [
        ("not-json.json", "nope"),
        (
            "bad-did.json",
            r#"{"nodid": "did:key:zQ3shVSddKyNxGs3V8gL9beSfHsCeQgWpoL4csrpPBKWUwbhm"}"#,
        ),
        (
            "bad-key.json",
            r#"{"did:plc:cmtseuchbospprkpwvq3m3wk": "did:key:nope"}"#,
        ),
    ] {
        let (_, out) = run(
            &capture(),
            "--keys",
            tmp(name, text.as_bytes()).to_str().unwrap(),
        );
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: keys file") && err.lines().count() == 1,
            "{err}"
        );
    }
    // Neither --keys nor --plc, or both.
    assert_eq!(
        atp(&["firehose", "verify", capture().to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    let both = atp(&[
        "firehose",
        "verify",
        capture().to_str().unwrap(),
        "--keys",
        k,
        "--plc",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

/// A loopback PLC directory: `GET /DID` answers the DID document with the
/// key from the keys file. Returns its URL.
fn plc_directory() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = keys();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split(' ').nth(1).unwrap_or("/");
            let did = path.trim_start_matches('/').replace("%3A", ":");
            let (status, body) = match keys.get(&did) {
                Some(key) => {
                    let key: PublicKey = key.parse().unwrap();
                    let doc = serde_json::json!({
                        "@context": ["https://www.w3.org/ns/did/v1"],
                        "id": did,
                        "alsoKnownAs": [],
                        "verificationMethod": [{
                            "id": format!("{did}#atproto"),
                            "type": "Multikey",
                            "controller": did,
                            "publicKeyMultibase": key.to_multikey(),
                        }],
                        "service": [],
                    });
                    ("200 OK", doc.to_string())
                }
                None => ("404 Not Found", "{}".to_owned()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn keys_from_a_plc_directory() {
    let url = plc_directory();
    let (json, out) = run(&capture(), "--plc", &url);
    assert!(
        out.status.success(),
        "{} {json}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json["verified"], 2198);
}
