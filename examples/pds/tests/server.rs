//! The binary: configuration errors, the ready line, `_health`,
//! `describeServer`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Server, base_env, run_to_end};

#[tokio::test]
async fn it_serves_health_and_describe_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(dir.path());
    env.push(("PDS_SERVICE_HANDLE_DOMAINS", ".test,.example.test".into()));
    env.push((
        "PDS_PRIVACY_POLICY_URL",
        "https://example.test/privacy".into(),
    ));
    env.push(("PDS_SOME_FUTURE_SETTING", "ignored".into()));
    let server = Server::start(&env);
    assert!(server.url.starts_with("http://127.0.0.1:"));
    let port = server.url.rsplit(':').next().unwrap();
    assert_eq!(
        server.ready["publicUrl"],
        format!("http://localhost:{port}")
    );
    assert_eq!(server.ready["did"], "did:web:localhost");

    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/xrpc/_health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert!(body["version"].is_string());

    let describe: serde_json::Value = http
        .get(format!(
            "{}/xrpc/com.atproto.server.describeServer",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        describe,
        serde_json::json!({
            "did": "did:web:localhost",
            "availableUserDomains": [".test", ".example.test"],
            "inviteCodeRequired": false,
            "links": {"privacyPolicy": "https://example.test/privacy"},
            "contact": {},
        })
    );

    // A method this PDS does not serve yet.
    let missing = http
        .get(format!("{}/xrpc/com.atproto.sync.listRepos", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 501);
}

#[test]
fn a_missing_or_invalid_setting_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let without = |var: &str| -> Vec<(&'static str, String)> {
        base_env(dir.path())
            .into_iter()
            .filter(|(k, _)| *k != var)
            .collect()
    };
    let (code, err) = run_to_end(&without("PDS_JWT_SECRET"));
    assert_eq!(code, Some(2));
    assert_eq!(err, "pds: PDS_JWT_SECRET is required (or --jwt-secret)\n");

    let mut bad = base_env(dir.path());
    bad.push(("PDS_RATE_LIMITS_ENABLED", "maybe".into()));
    let (code, err) = run_to_end(&bad);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "pds: PDS_RATE_LIMITS_ENABLED: \"maybe\" is not true, false, 1 or 0\n"
    );

    let mut bad = base_env(dir.path());
    bad.push(("PDS_PORT", "http".into()));
    let (code, err) = run_to_end(&bad);
    assert_eq!((code, err.lines().count()), (Some(2), 1), "{err}");
    assert!(err.starts_with("pds: PDS_PORT"), "{err}");
}
