//! `atp xrpc`, `atp identity` and `atp jwt` against the official TypeScript
//! PDS and PLC directory on loopback: the command-line contract end to end.
//! Skipped (and said so) when the reference runner is not installed;
//! `.ci/run` installs it and requires it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../../../atproto-xrpc/tests/support/ref_pds.rs"]
mod ref_pds;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use atproto_xrpc::jwt::{Jwt, sign_hs256};
use ref_pds::RefPds;
use serde_json::{Value, json};

const PASSWORD: &str = "cli-password-1";

fn atp(args: &[&str], stdin: &[u8], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atp"));
    command
        .args(args)
        .env_remove("ATP_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        command.env("ATP_PASSWORD", p);
    }
    let mut child = command.spawn().expect("atp starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("stdin written");
    child.wait_with_output().expect("atp finishes")
}

/// Runs `atp` and expects exit 0 and one JSON object on stdout.
fn ok(args: &[&str], stdin: &[u8], password: Option<&str>) -> Value {
    let out = atp(args, stdin, password);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "atp {args:?}: {stderr}");
    assert!(stderr.is_empty(), "atp {args:?}: {stderr}");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    serde_json::from_str(&text).expect("JSON on stdout")
}

/// Runs `atp` and expects exit `code` with one `error: ` line on stderr,
/// which it returns.
fn fails(args: &[&str], stdin: &[u8], password: Option<&str>, code: i32) -> String {
    let out = atp(args, stdin, password);
    let stderr = String::from_utf8(out.stderr).expect("UTF-8");
    assert_eq!(out.status.code(), Some(code), "atp {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "atp {args:?}: stdout not empty");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr.trim_end().to_owned()
}

fn session_file(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("session.json");
    let s = path.to_str().expect("path").to_owned();
    (path, s)
}

/// The session file's access token replaced by an expired one, signed with
/// the PDS's own secret so that only the expiry is wrong.
fn expire_access_token(session: &Path, secret: &str) -> String {
    let mut file: Value =
        serde_json::from_slice(&std::fs::read(session).expect("session file")).expect("JSON");
    let jwt = Jwt::parse(file["accessJwt"].as_str().expect("accessJwt")).expect("a JWT");
    let mut claims = jwt.claims().clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    claims.iat = Some(now - 7200);
    claims.exp = Some(now - 3600);
    let expired = sign_hs256(jwt.header(), &claims, secret.as_bytes()).expect("sign");
    file["accessJwt"] = Value::String(expired.clone());
    std::fs::write(session, serde_json::to_vec(&file).expect("JSON")).expect("write");
    expired
}

#[test]
fn atp_against_the_reference_pds() {
    let Some(pds) = RefPds::start("atp_against_the_reference_pds") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("atp-ref-pds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (session, session_arg) = session_file(&dir);
    let service = pds.pds_url.as_str();

    // An account, through a plain procedure call with a JSON body on stdin.
    let account = ok(
        &[
            "xrpc",
            "call",
            "--service",
            service,
            "com.atproto.server.createAccount",
            "--input",
            "-",
        ],
        json!({"handle": "cli.test", "email": "cli@example.com", "password": PASSWORD})
            .to_string()
            .as_bytes(),
        None,
    );
    let did = account["did"].as_str().expect("did").to_owned();

    // Login: the password only from the environment; a wrong one is the
    // server's "no" (exit 1, its error name and message).
    let login = [
        "xrpc",
        "login",
        "--service",
        service,
        "--identifier",
        "cli.test",
        "--session",
        &session_arg,
    ];
    let err = fails(&login, b"", None, 2);
    assert!(err.contains("ATP_PASSWORD"), "{err}");
    let err = fails(&login, b"", Some("wrong-password"), 1);
    assert!(err.starts_with("error: AuthenticationRequired: "), "{err}");
    let who = ok(&login, b"", Some(PASSWORD));
    assert_eq!(who, json!({"did": did, "handle": "cli.test"}));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&session)
            .expect("session")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "session file mode {mode:o}");
    }
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&session).expect("read")).expect("JSON");
    for field in ["service", "did", "handle", "accessJwt", "refreshJwt"] {
        assert!(
            saved[field].is_string(),
            "session file lacks {field}: {saved}"
        );
    }

    // Writes with the session, then pages through them with repeated calls.
    for i in 0..3 {
        let created = ok(
            &[
                "xrpc",
                "call",
                "--session",
                &session_arg,
                "com.atproto.repo.createRecord",
                "--input",
                "-",
            ],
            json!({
                "repo": did,
                "collection": "app.bsky.feed.post",
                "record": {"$type": "app.bsky.feed.post", "text": format!("post {i}"),
                           "createdAt": "2026-12-07T00:00:00.000Z"},
            })
            .to_string()
            .as_bytes(),
            None,
        );
        assert!(created["uri"].as_str().expect("uri").starts_with("at://"));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec![
            "xrpc".to_owned(),
            "call".to_owned(),
            "--service".to_owned(),
            service.to_owned(),
            "com.atproto.repo.listRecords".to_owned(),
            format!("repo={did}"),
            "collection=app.bsky.feed.post".to_owned(),
            "limit=2".to_owned(),
        ];
        if let Some(c) = &cursor {
            args.push(format!("cursor={c}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let page = ok(&args, b"", None);
        let records = page["records"].as_array().expect("records");
        assert!(records.len() <= 2);
        seen.extend(records.iter().map(|r| r["value"]["text"].clone()));
        match page["cursor"].as_str() {
            Some(c) if !records.is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    assert_eq!(
        seen,
        vec![json!("post 2"), json!("post 1"), json!("post 0")]
    );

    // The server's "no": exit 1 with its error name.
    let err = fails(
        &[
            "xrpc",
            "call",
            "--service",
            service,
            "com.atproto.repo.getRecord",
            &format!("repo={did}"),
            "collection=app.bsky.feed.post",
            "rkey=3zzzzzzzzzzzz",
        ],
        b"",
        None,
        1,
    );
    assert!(err.starts_with("error: RecordNotFound"), "{err}");

    // An expired access token: refreshed once, the file rewritten, the call
    // answered.
    let expired = expire_access_token(&session, &pds.jwt_secret);
    let me = ok(
        &[
            "xrpc",
            "call",
            "--session",
            &session_arg,
            "com.atproto.server.getSession",
        ],
        b"",
        None,
    );
    assert_eq!(me["did"], did.as_str());
    let rewritten: Value =
        serde_json::from_slice(&std::fs::read(&session).expect("read")).expect("JSON");
    assert_ne!(
        rewritten["accessJwt"],
        expired.as_str(),
        "session file not rewritten"
    );
    assert_ne!(
        rewritten["refreshJwt"], saved["refreshJwt"],
        "refresh token not rotated"
    );

    // A blob upload (raw body) and a CAR download (non-JSON answer).
    let png = dir.join("blob.bin");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nnot really an image").expect("write");
    let blob = ok(
        &[
            "xrpc",
            "call",
            "--session",
            &session_arg,
            "com.atproto.repo.uploadBlob",
            "--input",
            png.to_str().expect("path"),
            "--encoding",
            "image/png",
        ],
        b"",
        None,
    );
    assert_eq!(blob["blob"]["size"], 27);
    assert_eq!(blob["blob"]["mimeType"], "image/png");
    let car = dir.join("repo.car");
    let car_arg = car.to_str().expect("path");
    let fetched = ok(
        &[
            "xrpc",
            "call",
            "--service",
            service,
            "com.atproto.sync.getRepo",
            &format!("did={did}"),
            "--output",
            car_arg,
        ],
        b"",
        None,
    );
    assert_eq!(fetched["contentType"], "application/vnd.ipld.car");
    let err = fails(
        &[
            "xrpc",
            "call",
            "--service",
            service,
            "com.atproto.sync.getRepo",
            &format!("did={did}"),
        ],
        b"",
        None,
        2,
    );
    assert!(err.contains("--output"), "{err}");

    // Identity: the handle through the PDS's resolveHandle, the DID through
    // the PLC directory, both directions checked; the repo's signature
    // verifies with the key found there.
    let plc = pds.plc_url.as_str();
    let identity = ok(
        &[
            "identity",
            "resolve",
            "cli.test",
            "--plc",
            plc,
            "--handle-resolver",
            service,
        ],
        b"",
        None,
    );
    assert_eq!(identity["did"], did.as_str());
    assert_eq!(identity["handle"], "cli.test");
    assert_eq!(identity["pds"], pds.public_url.as_str());
    let key = identity["signingKey"]
        .as_str()
        .expect("signingKey")
        .to_owned();
    assert!(key.starts_with("did:key:z"), "{key}");
    let by_did = ok(
        &[
            "identity",
            "resolve",
            &did,
            "--plc",
            plc,
            "--handle-resolver",
            service,
        ],
        b"",
        None,
    );
    assert_eq!(by_did, identity);
    let verified = ok(&["car", "verify", car_arg, "--did-key", &key], b"", None);
    assert_eq!(verified["signature"], "verified", "{verified}");
    let err = fails(
        &[
            "identity",
            "resolve",
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
            "--plc",
            plc,
        ],
        b"",
        None,
        1,
    );
    assert!(err.contains("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"), "{err}");

    // Service auth: a token the PDS issues verifies; the wrong audience is a
    // verdict of "no".
    let aud = "did:web:feed.example.com";
    let lxm = "app.bsky.feed.getFeedSkeleton";
    let token = ok(
        &[
            "xrpc",
            "call",
            "--session",
            &session_arg,
            "com.atproto.server.getServiceAuth",
            &format!("aud={aud}"),
            &format!("lxm={lxm}"),
        ],
        b"",
        None,
    );
    let token = token["token"].as_str().expect("token");
    let claims = ok(
        &[
            "jwt", "verify", token, "--aud", aud, "--lxm", lxm, "--plc", plc,
        ],
        b"",
        None,
    );
    assert_eq!(claims["iss"], did.as_str());
    assert_eq!(claims["aud"], aud);
    assert_eq!(claims["lxm"], lxm);
    assert!(claims["exp"].is_i64());
    let out = atp(
        &[
            "jwt",
            "verify",
            token,
            "--aud",
            "did:web:other.example.com",
            "--plc",
            plc,
        ],
        b"",
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let verdict = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(verdict.starts_with("invalid: BadJwtAudience"), "{verdict}");

    std::fs::remove_dir_all(&dir).ok();
    ref_pds::tell(&format!(
        "atp against the reference PDS (pid {}): passed",
        pds.pid()
    ));
}
