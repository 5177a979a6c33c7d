//! The XRPC client against the reference TypeScript PDS (skipped, saying
//! so, when its runner is not installed; see `support/ref_pds.rs`): account
//! creation, login, records, a blob, a CAR, error names, single-flight
//! refresh of an expired access token, resume and logout, all with lexicon
//! validation on.

// Test support: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/ref_pds.rs"]
mod ref_pds;

use std::sync::Arc;

use atproto_xrpc::client::{
    CallOptions, ClientError, MemorySessionStore, Session, SessionClient, SessionStore, XrpcCall,
    XrpcClient,
};
use atproto_xrpc::jwt::{Jwt, sign_hs256};
use bytes::Bytes;
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

async fn scenario(pds: &ref_pds::RefPds) {
    let client = XrpcClient::new(&pds.pds_url)
        .unwrap()
        .with_validation(atproto_lexicon::bundled::catalog());
    let created: Value = client
        .procedure(
            "com.atproto.server.createAccount",
            &(),
            &json!({"handle": "alice.test", "email": "alice@example.com", "password": "hunter22"}),
        )
        .await
        .unwrap();
    let did = created["did"].as_str().unwrap().to_owned();

    let store = Arc::new(MemorySessionStore::new());
    let agent = Arc::new(SessionClient::new(client.clone(), store.clone()));
    let bad = agent.login("alice.test", "nope", None).await.unwrap_err();
    let e = bad.xrpc().unwrap();
    assert_eq!((e.status, e.name.as_str()), (401, "AuthenticationRequired"));

    let session = agent.login("alice.test", "hunter22", None).await.unwrap();
    assert_eq!(session.did, did);
    assert_eq!(session.handle, "alice.test");
    assert_eq!(session.email.as_deref(), Some("alice@example.com"));
    assert_eq!(store.load().unwrap(), Some(session.clone()));

    let post = json!({
        "repo": did,
        "collection": "app.bsky.feed.post",
        "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-05-01T12:00:00Z"},
    });
    let written: Value = agent
        .procedure("com.atproto.repo.createRecord", &(), &post)
        .await
        .unwrap();
    assert!(written["uri"].as_str().unwrap().starts_with("at://"));

    let blob: Value = agent
        .procedure_raw(
            "com.atproto.repo.uploadBlob",
            &(),
            Bytes::from_static(PNG),
            "image/png",
        )
        .await
        .unwrap();
    assert_eq!(blob["blob"]["mimeType"], "image/png");
    assert_eq!(blob["blob"]["size"], PNG.len());

    let (content_type, car) = agent
        .query_raw("com.atproto.sync.getRepo", &json!({"did": did}))
        .await
        .unwrap();
    assert_eq!(content_type, "application/vnd.ipld.car");
    assert!(car.len() > 100);

    let listed: Value = agent
        .query(
            "com.atproto.repo.listRecords",
            &json!({"repo": did, "collection": "app.bsky.feed.post", "limit": 5}),
        )
        .await
        .unwrap();
    assert_eq!(listed["records"].as_array().unwrap().len(), 1);

    let missing = agent
        .query::<_, Value>(
            "com.atproto.repo.getRecord",
            &json!({"repo": did, "collection": "app.bsky.feed.post", "rkey": "3zzzzzzzzzzzz"}),
        )
        .await
        .unwrap_err();
    let e = missing.xrpc().unwrap();
    assert_eq!((e.status, e.name.as_str()), (400, "RecordNotFound"));

    // An expired access token, signed with the PDS's secret: 400
    // ExpiredToken, and 16 callers share one refresh.
    let jwt = Jwt::parse(&session.access_jwt).unwrap();
    let mut claims = jwt.claims().clone();
    let iat = claims.iat.unwrap();
    claims.iat = Some(iat - 100);
    claims.exp = Some(iat - 10);
    let expired = sign_hs256(jwt.header(), &claims, pds.jwt_secret.as_bytes()).unwrap();
    let raw = client
        .query_with::<_, Value>(
            "com.atproto.server.getSession",
            &(),
            CallOptions::new().bearer(expired.clone()),
        )
        .await
        .unwrap_err();
    assert!(raw.is_expired_token(), "{raw}");
    agent
        .set_session(Session {
            access_jwt: expired,
            ..session.clone()
        })
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let agent = agent.clone();
        tasks.spawn(async move {
            agent
                .query::<_, Value>("com.atproto.server.getSession", &())
                .await
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap()["did"], did.as_str());
    }
    let refreshed = agent.session().unwrap();
    assert_ne!(refreshed.refresh_jwt, session.refresh_jwt);
    assert_eq!(store.load().unwrap(), Some(refreshed.clone()));

    let resumed = agent.resume(refreshed.clone()).await.unwrap();
    assert_eq!(resumed.did, did);

    // A refresh token the PDS never issued: the session is dropped.
    agent
        .set_session(Session {
            refresh_jwt: "not-a-token".into(),
            ..refreshed.clone()
        })
        .unwrap();
    let err = agent.refresh().await.unwrap_err();
    assert!(matches!(err, ClientError::SessionExpired(_)), "{err}");
    assert_eq!(agent.session(), None);
    assert_eq!(store.load().unwrap(), None);

    agent.set_session(refreshed).unwrap();
    agent.logout().await.unwrap();
    assert_eq!(agent.session(), None);
    // The deleted session's refresh token no longer works.
    let other = SessionClient::new(client.clone(), MemorySessionStore::new());
    other.set_session(resumed).unwrap();
    assert!(other.refresh().await.is_err());
}

#[test]
fn client_against_reference_pds() {
    let Some(pds) = ref_pds::RefPds::start("client_against_reference_pds") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(scenario(&pds));
    ref_pds::tell(&format!(
        "reference PDS (pid {}) client interop: all steps passed",
        pds.pid()
    ));
}
