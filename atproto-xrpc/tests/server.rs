//! The XRPC server building blocks (feature `server`): routing, extractors,
//! auth, rate limiting (oneshot, mock clock) and the WebSocket subscription
//! route (a real loopback listener).
// Helpers outside `#[test]` functions may fail loudly too: a failed
// assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use atproto_core::{Curve, Did, Keypair, PublicKey};
use atproto_xrpc::XrpcError;
use atproto_xrpc::jwt::{self, Alg, Claims, Header};
use atproto_xrpc::server::{
    AuthRequired, BearerToken, HmacSessionVerifier, Input, ManualClock, MethodContext, Output,
    Params, PeerIp, RateLimitConfig, RateLimitLayer, RateLimiter, RawInput, RouterError,
    ServiceAuth, ServiceAuthVerifier, SubscriptionRequest, VerifiedAccess, XrpcRouter,
};
use atproto_xrpc::service_auth::{
    AsyncSigningKeyResolver, KeyFuture, ServiceJwtParams, SigningKeyResolver, SyncKeys,
    create_service_jwt,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};
use http::{HeaderMap, Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------- helpers

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// Asserts an XRPC error answer: status, `error` name, JSON content type.
    #[track_caller]
    fn error(&self, status: u16, name: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["error"], name, "body: {}", self.body);
        assert!(
            self.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }

    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        &self.body
    }

    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(
    app: &Router,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Answer {
    let mut req = Request::post(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    send(app, req.body(body.into()).unwrap()).await
}

// ---------------------------------------------------------------- the app

const SECRET: &[u8] = b"session secret";
const NOW: u64 = 1_700_000_000;
const SERVICE_DID: &str = "did:web:api.example.com";
const ISS: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

#[derive(Clone)]
struct AppState {
    access: HmacSessionVerifier,
    service: ServiceAuthVerifier,
}

impl FromRef<AppState> for HmacSessionVerifier {
    fn from_ref(s: &AppState) -> Self {
        s.access.clone()
    }
}

impl FromRef<AppState> for ServiceAuthVerifier {
    fn from_ref(s: &AppState) -> Self {
        s.service.clone()
    }
}

struct OneKey(PublicKey);

impl SigningKeyResolver for OneKey {
    type Error = std::convert::Infallible;
    fn signing_key(&self, _: &Did, _: Option<&str>, _: bool) -> Result<PublicKey, Self::Error> {
        Ok(self.0.clone())
    }
}

#[derive(Deserialize, Serialize)]
struct Timeline {
    limit: i64,
    cursor: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Loose {
    n: i64,
    #[serde(default)]
    tag: Vec<String>,
    flag: Option<bool>,
}

async fn timeline(Params(p): Params<Timeline>) -> Output<Timeline> {
    Output(p)
}

async fn loose(Params(p): Params<Loose>) -> Output<Loose> {
    Output(p)
}

async fn typed_params(Params(p): Params<Value>) -> Output<Value> {
    Output(p)
}

async fn echo(Input(body): Input<Value>) -> Output<Value> {
    Output(body)
}

async fn raw(RawInput { mime, body }: RawInput) -> Output<Value> {
    Output(json!({ "mime": mime, "size": body.len() }))
}

async fn whoami(AuthRequired(who): AuthRequired<HmacSessionVerifier>) -> Output<Value> {
    let VerifiedAccess { did, scope, .. } = who;
    Output(json!({ "did": did.as_str(), "scope": scope }))
}

async fn service_call(ServiceAuth(jwt): ServiceAuth, ctx: MethodContext) -> Output<Value> {
    Output(json!({ "iss": jwt.did.as_str(), "lxm": ctx.nsid().as_str() }))
}

async fn no_input() -> Output<Value> {
    Output(json!({}))
}

async fn maybe_whoami(who: Option<AuthRequired<HmacSessionVerifier>>) -> Output<Value> {
    Output(json!({ "did": who.map(|AuthRequired(w)| w.did.as_str().to_owned()) }))
}

async fn maybe_service(auth: Option<ServiceAuth>) -> Output<Value> {
    Output(json!({ "iss": auth.map(|ServiceAuth(jwt)| jwt.did.as_str().to_owned()) }))
}

async fn token(BearerToken(t): BearerToken) -> Output<Value> {
    Output(json!({ "token": t }))
}

async fn failing() -> Result<Output<Value>, XrpcError> {
    let mut e = XrpcError::new("RecordNotFound", "no such record".to_owned());
    e.retry_after = Some(atproto_xrpc::RetryAfter::Seconds(7));
    Err(e)
}

struct Fixture {
    app: Router,
    key: Keypair,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let key = Keypair::generate(Curve::K256);
    let clock = ManualClock::at_unix_secs(NOW);
    let state = AppState {
        access: HmacSessionVerifier::new(SECRET).clock(clock.clone()),
        // A plain in-memory resolver (feature `server` alone).
        service: ServiceAuthVerifier::new(SERVICE_DID, SyncKeys(OneKey(key.public_key())))
            .clock(clock.clone()),
    };
    let app = XrpcRouter::<AppState>::new()
        .catalog(atproto_lexicon::bundled::catalog())
        .version("1.2.3")
        .json_limit(1024)
        .raw_limit(2048)
        .query("app.bsky.feed.getTimeline", timeline)
        .query("app.bsky.actor.getProfile", typed_params)
        .query("app.bsky.actor.getProfiles", typed_params)
        .query("com.example.loose", loose)
        .procedure("com.atproto.repo.createRecord", echo)
        .procedure("com.example.echo", echo)
        .procedure("com.atproto.repo.importRepo", raw)
        .procedure("com.atproto.repo.uploadBlob", raw)
        .procedure("com.example.raw", raw)
        .query("com.example.whoami", whoami)
        .query("com.example.token", token)
        .query("com.example.maybeWhoami", maybe_whoami)
        .query("com.example.maybeService", maybe_service)
        .procedure("com.atproto.server.activateAccount", no_input)
        .query("com.example.service", service_call)
        .query("com.example.failing", failing)
        .subscription("com.atproto.sync.subscribeRepos", numbered_frames)
        .build()
        .unwrap()
        .with_state(state);
    Fixture { app, key, clock }
}

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn health_answers_the_version() {
    let f = fixture();
    let a = get(&f.app, "/xrpc/_health").await;
    assert_eq!(a.ok(), &json!({ "version": "1.2.3" }));
    assert!(
        a.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn wrong_http_method_is_invalid_request_as_the_reference() {
    let f = fixture();
    let a = post(&f.app, "/xrpc/app.bsky.feed.getTimeline", None, "").await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), "Incorrect HTTP method (POST) expected GET");

    let a = get(&f.app, "/xrpc/com.example.echo").await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), "Incorrect HTTP method (GET) expected POST");

    let a = send(
        &f.app,
        Request::delete("/xrpc/com.example.echo")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    a.error(400, "InvalidRequest");

    // A method the catalog defines but nobody serves: the method is still
    // checked first, as the reference's catch-all does.
    let a = post(&f.app, "/xrpc/app.bsky.feed.getAuthorFeed", None, "").await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), "Incorrect HTTP method (POST) expected GET");
}

#[tokio::test]
async fn unknown_methods_are_not_implemented() {
    let f = fixture();
    get(&f.app, "/xrpc/com.example.nothingHere")
        .await
        .error(501, "MethodNotImplemented");
    get(&f.app, "/xrpc/app.bsky.feed.getAuthorFeed?actor=x")
        .await
        .error(501, "MethodNotImplemented");
    post(
        &f.app,
        "/xrpc/com.example.nothingHere",
        Some("application/json"),
        "{}",
    )
    .await
    .error(501, "MethodNotImplemented");
}

#[tokio::test]
async fn bad_nsids_in_the_path_are_invalid_requests() {
    let f = fixture();
    for path in [
        "/xrpc/nodots",
        "/xrpc/com.example.",
        "/xrpc/com..example.x",
        "/xrpc/com.example.x/extra",
        "/xrpc/1com.example.x",
        "/xrpc/com.exa%20mple.x",
        "/xrpc/_other",
    ] {
        let a = get(&f.app, path).await;
        a.error(400, "InvalidRequest");
        assert_eq!(a.message(), "invalid xrpc path", "{path}");
    }
    // Outside /xrpc/ the router claims nothing.
    assert_eq!(get(&f.app, "/other").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn handler_errors_carry_their_status_and_headers() {
    let f = fixture();
    let a = get(&f.app, "/xrpc/com.example.failing").await;
    a.error(400, "RecordNotFound");
    assert_eq!(a.message(), "no such record");
    assert_eq!(a.header("retry-after"), Some("7"));
}

#[test]
fn build_refuses_bad_registrations() {
    async fn h() {}
    let bad = XrpcRouter::<()>::new().query("not an nsid", h).build();
    assert!(matches!(bad, Err(RouterError::InvalidNsid { .. })));

    let dup = XrpcRouter::<()>::new()
        .query("com.example.a", h)
        .procedure("com.example.a", h)
        .build();
    assert_eq!(
        dup.err(),
        Some(RouterError::Duplicate {
            nsid: "com.example.a".into()
        })
    );

    let kind = XrpcRouter::<()>::new()
        .catalog(atproto_lexicon::bundled::catalog())
        .procedure("app.bsky.feed.getTimeline", h)
        .build();
    assert!(matches!(
        kind,
        Err(RouterError::KindMismatch {
            catalog: "query",
            ..
        })
    ));
    // A record type is not a method at all.
    let record = XrpcRouter::<()>::new()
        .catalog(atproto_lexicon::bundled::catalog())
        .query("app.bsky.feed.post", h)
        .build();
    assert!(matches!(record, Err(RouterError::KindMismatch { .. })));
}

// ---------------------------------------------------------------- params

#[tokio::test]
async fn catalog_coerces_and_validates_params() {
    let f = fixture();
    let a = get(&f.app, "/xrpc/app.bsky.feed.getTimeline?limit=50").await;
    assert_eq!(a.ok()["limit"], json!(50));
    assert!(a.ok()["limit"].is_i64());

    // The lexicon's default fills an absent limit.
    let a = get(&f.app, "/xrpc/app.bsky.feed.getTimeline?cursor=abc").await;
    assert_eq!(a.ok(), &json!({ "limit": 50, "cursor": "abc" }));

    let a = get(&f.app, "/xrpc/app.bsky.feed.getTimeline?limit=abc").await;
    a.error(400, "InvalidRequest");
    assert!(a.message().contains("limit"), "{}", a.message());

    // Out of the lexicon's range (1..=100).
    get(&f.app, "/xrpc/app.bsky.feed.getTimeline?limit=101")
        .await
        .error(400, "InvalidRequest");
    get(&f.app, "/xrpc/app.bsky.feed.getTimeline?limit=0")
        .await
        .error(400, "InvalidRequest");
}

#[tokio::test]
async fn catalog_checks_required_params_and_arrays() {
    let f = fixture();
    get(&f.app, "/xrpc/app.bsky.actor.getProfile")
        .await
        .error(400, "InvalidRequest");
    let a = get(
        &f.app,
        "/xrpc/app.bsky.actor.getProfile?actor=alice.bsky.social&extra=1",
    )
    .await;
    // Undeclared names are dropped.
    assert_eq!(a.ok(), &json!({ "actor": "alice.bsky.social" }));
    // A format violation.
    get(
        &f.app,
        "/xrpc/app.bsky.actor.getProfile?actor=not%20a%20handle",
    )
    .await
    .error(400, "InvalidRequest");

    let a = get(
        &f.app,
        "/xrpc/app.bsky.actor.getProfiles?actors=alice.bsky.social&actors=did:plc:ewvi7nxzyoun6zhxrhs64oiz",
    )
    .await;
    assert_eq!(
        a.ok(),
        &json!({ "actors": ["alice.bsky.social", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"] })
    );
    let a = get(&f.app, "/xrpc/app.bsky.actor.getProfiles?actors=bob.test").await;
    assert_eq!(a.ok(), &json!({ "actors": ["bob.test"] }));
}

#[tokio::test]
async fn params_without_catalog_entry_use_serde() {
    let f = fixture();
    let a = get(
        &f.app,
        "/xrpc/com.example.loose?n=5&tag=a&tag=b+c&flag=true",
    )
    .await;
    assert_eq!(
        a.ok(),
        &json!({ "n": 5, "tag": ["a", "b c"], "flag": true })
    );
    let a = get(&f.app, "/xrpc/com.example.loose?n=-3&tag=one").await;
    assert_eq!(a.ok(), &json!({ "n": -3, "tag": ["one"], "flag": null }));

    // Uncoercible, missing, repeated scalar, bad boolean.
    for q in ["n=x", "", "n=1&n=2", "n=1&flag=yes", "tag=a"] {
        let a = get(&f.app, &format!("/xrpc/com.example.loose?{q}")).await;
        a.error(400, "InvalidRequest");
    }
    // A query string that is not UTF-8 once decoded.
    get(&f.app, "/xrpc/com.example.loose?n=%FF")
        .await
        .error(400, "InvalidRequest");
}

/// Found by the `xrpc_server_request` fuzz target: a body sent with neither
/// `Content-Length` nor `Transfer-Encoding` (as HTTP/2 may) reached a
/// method that takes none.
#[tokio::test]
async fn body_without_length_headers_is_refused_where_none_is_expected() {
    let f = fixture();
    let uri = "/xrpc/com.atproto.server.activateAccount";
    let req = Request::post(uri).body(Body::from("{}")).unwrap();
    assert!(!req.headers().contains_key("content-length"));
    let a = send(&f.app, req).await;
    a.error(400, "InvalidRequest");
    assert_eq!(
        a.message(),
        "A request body was provided when none was expected"
    );
    // An empty body still passes.
    let req = Request::post(uri).body(Body::empty()).unwrap();
    send(&f.app, req).await.ok();
    let req = Request::get("/xrpc/com.example.maybeWhoami")
        .body(Body::from("x"))
        .unwrap();
    send(&f.app, req).await.error(400, "InvalidRequest");
}

/// Found by the `xrpc_server_request` fuzz target: `POST /xrpc/_health`
/// was axum's bare `405`, not an XRPC error.
#[tokio::test]
async fn health_with_another_method_is_invalid_request() {
    let f = fixture();
    let a = post(&f.app, "/xrpc/_health", None, "").await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), "invalid xrpc path");
}

/// Found by the `xrpc_server_request` fuzz target: `/xrpc/` without an
/// NSID was axum's bare `404`, not an XRPC error (the reference's
/// catch-all answers `400 InvalidRequest` "invalid xrpc path").
#[tokio::test]
async fn xrpc_prefix_without_nsid_is_invalid_request() {
    let f = fixture();
    for uri in ["/xrpc/", "/xrpc/?limit=1"] {
        let a = get(&f.app, uri).await;
        a.error(400, "InvalidRequest");
        assert_eq!(a.message(), "invalid xrpc path");
    }
    let a = post(&f.app, "/xrpc/", Some("application/json"), "{}").await;
    a.error(400, "InvalidRequest");
}

/// Found by the `xrpc_server_request` / `xrpc_params_de` fuzz targets: a
/// tuple parameter given more values than it takes was accepted with the
/// extra values silently dropped.
#[tokio::test]
async fn tuple_params_refuse_extra_values() {
    #[derive(Deserialize, Serialize)]
    struct Pair {
        pair: (u8, String),
    }
    async fn pair(Params(p): Params<Pair>) -> Output<Pair> {
        Output(p)
    }
    let app: Router = XrpcRouter::new()
        .query("com.example.pair", pair)
        .build()
        .unwrap();
    let a = get(&app, "/xrpc/com.example.pair?pair=1&pair=a").await;
    assert_eq!(a.ok(), &json!({ "pair": [1, "a"] }));
    for q in ["pair=1&pair=a&pair=b", "pair=1"] {
        get(&app, &format!("/xrpc/com.example.pair?{q}"))
            .await
            .error(400, "InvalidRequest");
    }
}

// ---------------------------------------------------------------- bodies

const RECORD: &str = r#"{"repo":"alice.bsky.social","collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00Z"}}"#;

#[tokio::test]
async fn json_input_is_validated_by_the_catalog() {
    let f = fixture();
    let uri = "/xrpc/com.atproto.repo.createRecord";
    let a = post(&f.app, uri, Some("application/json"), RECORD).await;
    assert_eq!(a.ok()["collection"], "app.bsky.feed.post");
    // With a charset parameter and odd case.
    let a = post(&f.app, uri, Some("Application/JSON; charset=utf-8"), RECORD).await;
    a.ok();

    // Lexicon-invalid: a required field missing, a bad format.
    let a = post(
        &f.app,
        uri,
        Some("application/json"),
        r#"{"repo":"alice.bsky.social","record":{}}"#,
    )
    .await;
    a.error(400, "InvalidRequest");
    assert!(a.message().contains("collection"), "{}", a.message());
    let bad = RECORD.replace("app.bsky.feed.post\",\"record", "not an nsid\",\"record");
    post(&f.app, uri, Some("application/json"), bad)
        .await
        .error(400, "InvalidRequest");
    // Not an object.
    post(&f.app, uri, Some("application/json"), "[1]")
        .await
        .error(400, "InvalidRequest");
}

#[tokio::test]
async fn json_input_failures() {
    let f = fixture();
    for uri in [
        "/xrpc/com.atproto.repo.createRecord",
        "/xrpc/com.example.echo",
    ] {
        let a = post(&f.app, uri, None, "{}").await;
        a.error(400, "InvalidRequest");
        assert!(a.message().contains("Content-Type"), "{}", a.message());

        let a = post(&f.app, uri, Some("text/plain"), "{}").await;
        a.error(400, "InvalidRequest");
        assert_eq!(
            a.message(),
            "Wrong request encoding (Content-Type): text/plain"
        );

        post(&f.app, uri, Some("not a mime"), "{}")
            .await
            .error(400, "InvalidRequest");
        post(&f.app, uri, Some("application/json"), "{\"a\":")
            .await
            .error(400, "InvalidRequest");
        post(&f.app, uri, Some("application/json"), "")
            .await
            .error(400, "InvalidRequest");
        post(&f.app, uri, Some("application/json"), "{} trailing")
            .await
            .error(400, "InvalidRequest");

        // Over the 1024-byte JSON limit: by Content-Length...
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000));
        post(&f.app, uri, Some("application/json"), big.clone())
            .await
            .error(413, "PayloadTooLarge");
        // ...and streamed without one.
        let chunks: Vec<Result<Bytes, std::io::Error>> = big
            .into_bytes()
            .chunks(100)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let streamed = Body::from_stream(stream::iter(chunks));
        post(&f.app, uri, Some("application/json"), streamed)
            .await
            .error(413, "PayloadTooLarge");
    }
    // Without a catalog entry any JSON goes.
    let a = post(
        &f.app,
        "/xrpc/com.example.echo",
        Some("application/json"),
        "{\"a\":[1,2]}",
    )
    .await;
    assert_eq!(a.ok(), &json!({ "a": [1, 2] }));
}

#[tokio::test]
async fn raw_input_checks_the_lexicon_encoding_and_size() {
    let f = fixture();
    let car = "/xrpc/com.atproto.repo.importRepo";
    let a = post(
        &f.app,
        car,
        Some("application/vnd.ipld.car"),
        vec![1u8; 100],
    )
    .await;
    assert_eq!(
        a.ok(),
        &json!({ "mime": "application/vnd.ipld.car", "size": 100 })
    );
    let a = post(&f.app, car, Some("application/json"), "{}").await;
    a.error(400, "InvalidRequest");
    assert_eq!(
        a.message(),
        "Wrong request encoding (Content-Type): application/json"
    );
    post(&f.app, car, None, vec![1u8; 10])
        .await
        .error(400, "InvalidRequest");
    post(
        &f.app,
        car,
        Some("application/vnd.ipld.car"),
        vec![0u8; 4096],
    )
    .await
    .error(413, "PayloadTooLarge");

    // uploadBlob takes */*.
    let a = post(
        &f.app,
        "/xrpc/com.atproto.repo.uploadBlob",
        Some("image/png"),
        vec![7u8; 3],
    )
    .await;
    assert_eq!(a.ok(), &json!({ "mime": "image/png", "size": 3 }));
    // Not in the catalog: any type.
    let a = post(
        &f.app,
        "/xrpc/com.example.raw",
        Some("text/x-anything"),
        "hello",
    )
    .await;
    assert_eq!(a.ok(), &json!({ "mime": "text/x-anything", "size": 5 }));
}

#[tokio::test]
async fn raw_input_wildcard_encodings() {
    let catalog = atproto_lexicon::Catalog::from_strs([r#"{
        "lexicon": 1, "id": "com.example.upload",
        "defs": {"main": {"type": "procedure", "input": {"encoding": "image/*, text/plain"}}}
    }"#])
    .unwrap();
    let app: Router = XrpcRouter::new()
        .catalog(catalog)
        .procedure("com.example.upload", raw)
        .build()
        .unwrap();
    let uri = "/xrpc/com.example.upload";
    for ok in ["image/jpeg", "image/png", "text/plain", "IMAGE/webp"] {
        assert_eq!(
            post(&app, uri, Some(ok), "x").await.status,
            StatusCode::OK,
            "{ok}"
        );
    }
    for bad in ["text/html", "application/octet-stream", "imagex/png"] {
        post(&app, uri, Some(bad), "x")
            .await
            .error(400, "InvalidRequest");
    }
}

// ---------------------------------------------------------------- auth

fn access_token(sub: &str, exp: i64, scope: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Alg::Hs256);
    header.typ = Some("at+jwt".into());
    let claims = Claims {
        sub: Some(sub.into()),
        aud: Some("did:web:pds.example.com".into()),
        scope: Some(scope.into()),
        iat: Some(NOW as i64 - 10),
        exp: Some(exp),
        ..Claims::default()
    };
    jwt::sign_hs256(&header, &claims, secret).unwrap()
}

async fn with_bearer(app: &Router, uri: &str, auth: &str) -> Answer {
    send(
        app,
        Request::get(uri)
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn bearer_and_access_token_extractors() {
    let f = fixture();
    let uri = "/xrpc/com.example.whoami";
    let good = access_token(ISS, NOW as i64 + 3600, "com.atproto.access", SECRET);

    let a = get(&f.app, uri).await;
    a.error(401, "AuthenticationRequired");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));

    let a = with_bearer(&f.app, uri, &format!("Bearer {good}")).await;
    assert_eq!(
        a.ok(),
        &json!({ "did": ISS, "scope": "com.atproto.access" })
    );
    // The scheme is case-insensitive.
    with_bearer(&f.app, uri, &format!("bearer {good}"))
        .await
        .ok();

    // Malformed headers and other schemes.
    for h in [
        "Bearer",
        "Bearer  x",
        &format!("Basic {good}"),
        "Bearer a b",
    ] {
        with_bearer(&f.app, uri, h).await.error(400, "InvalidToken");
    }
    // Bad tokens: garbage, wrong secret, wrong scope, not a DID.
    for t in [
        "garbage".to_owned(),
        access_token(ISS, NOW as i64 + 3600, "com.atproto.access", b"other"),
        access_token(ISS, NOW as i64 + 3600, "com.atproto.refresh", SECRET),
        access_token("alice", NOW as i64 + 3600, "com.atproto.access", SECRET),
    ] {
        with_bearer(&f.app, uri, &format!("Bearer {t}"))
            .await
            .error(400, "InvalidToken");
    }
    // Expired: the name the reference client refreshes on.
    let expired = access_token(ISS, NOW as i64 - 1, "com.atproto.access", SECRET);
    with_bearer(&f.app, uri, &format!("Bearer {expired}"))
        .await
        .error(400, "ExpiredToken");
    // Time passes for the good token too.
    f.clock.advance(Duration::from_secs(3600));
    with_bearer(&f.app, uri, &format!("Bearer {good}"))
        .await
        .error(400, "ExpiredToken");

    // BearerToken alone hands the token over.
    let a = with_bearer(&f.app, "/xrpc/com.example.token", "Bearer abc.def").await;
    assert_eq!(a.ok(), &json!({ "token": "abc.def" }));
}

fn service_token(key: &Keypair, aud: &str, lxm: &str, now: u64, jti: &str) -> String {
    let lxm = lxm.parse().unwrap();
    create_service_jwt(
        &ServiceJwtParams {
            iss: ISS,
            aud,
            lxm: Some(&lxm),
            now: now as i64,
            jti,
        },
        key,
    )
    .unwrap()
}

#[tokio::test]
async fn service_auth_extractor() {
    let f = fixture();
    let uri = "/xrpc/com.example.service";
    let good = service_token(&f.key, SERVICE_DID, "com.example.service", NOW, "j1");
    let a = with_bearer(&f.app, uri, &format!("Bearer {good}")).await;
    assert_eq!(a.ok(), &json!({ "iss": ISS, "lxm": "com.example.service" }));
    // Replayed.
    with_bearer(&f.app, uri, &format!("Bearer {good}"))
        .await
        .error(401, "JwtReplayed");

    get(&f.app, uri).await.error(401, "AuthenticationRequired");
    let wrong_aud = service_token(
        &f.key,
        "did:web:other.example.com",
        "com.example.service",
        NOW,
        "j2",
    );
    with_bearer(&f.app, uri, &format!("Bearer {wrong_aud}"))
        .await
        .error(401, "BadJwtAudience");
    let wrong_lxm = service_token(&f.key, SERVICE_DID, "com.example.whoami", NOW, "j3");
    with_bearer(&f.app, uri, &format!("Bearer {wrong_lxm}"))
        .await
        .error(401, "BadJwtLexiconMethod");
    let other_key = Keypair::generate(Curve::K256);
    let forged = service_token(&other_key, SERVICE_DID, "com.example.service", NOW, "j4");
    with_bearer(&f.app, uri, &format!("Bearer {forged}"))
        .await
        .error(401, "BadJwtSignature");
    let old = service_token(&f.key, SERVICE_DID, "com.example.service", NOW - 3600, "j5");
    with_bearer(&f.app, uri, &format!("Bearer {old}"))
        .await
        .error(401, "JwtExpired");
    with_bearer(&f.app, uri, "Bearer x.y.z")
        .await
        .error(401, "BadJwt");
}

#[tokio::test]
async fn optional_auth_is_none_without_a_header_and_an_error_with_a_bad_one() {
    let f = fixture();
    let uri = "/xrpc/com.example.maybeWhoami";
    assert_eq!(get(&f.app, uri).await.ok(), &json!({ "did": null }));
    let good = access_token(ISS, NOW as i64 + 3600, "com.atproto.access", SECRET);
    let a = with_bearer(&f.app, uri, &format!("Bearer {good}")).await;
    assert_eq!(a.ok(), &json!({ "did": ISS }));
    // A header that is there but wrong is refused, not ignored.
    let expired = access_token(ISS, NOW as i64 - 1, "com.atproto.access", SECRET);
    for (header, name) in [
        ("Basic abc".to_owned(), "InvalidToken"),
        (format!("Bearer {expired}"), "ExpiredToken"),
    ] {
        with_bearer(&f.app, uri, &header).await.error(400, name);
    }

    // The same for service auth.
    let uri = "/xrpc/com.example.maybeService";
    assert_eq!(get(&f.app, uri).await.ok(), &json!({ "iss": null }));
    let good = service_token(&f.key, SERVICE_DID, "com.example.maybeService", NOW, "m1");
    let a = with_bearer(&f.app, uri, &format!("Bearer {good}")).await;
    assert_eq!(a.ok(), &json!({ "iss": ISS }));
    with_bearer(&f.app, uri, &format!("Bearer {good}"))
        .await
        .error(401, "JwtReplayed");
    let forged = service_token(
        &Keypair::generate(Curve::K256),
        SERVICE_DID,
        "com.example.maybeService",
        NOW,
        "m2",
    );
    with_bearer(&f.app, uri, &format!("Bearer {forged}"))
        .await
        .error(401, "BadJwtSignature");
    with_bearer(&f.app, uri, "Bearer")
        .await
        .error(400, "InvalidToken");
}

/// A key resolver whose lookups wait until the key is published on a
/// channel, by another task of the same runtime.
struct PublishedKey {
    key: tokio::sync::watch::Receiver<Option<PublicKey>>,
    lookups: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("the key was never published")]
struct NeverPublished;

impl AsyncSigningKeyResolver for PublishedKey {
    type Error = NeverPublished;
    fn resolve_signing_key<'a>(
        &'a self,
        did: &'a Did,
        _: Option<&'a str>,
        _: bool,
    ) -> KeyFuture<'a, NeverPublished> {
        Box::pin(async move {
            assert_eq!(did.as_str(), ISS);
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let mut rx = self.key.clone();
            let key = rx
                .wait_for(Option::is_some)
                .await
                .map_err(|_| NeverPublished)?;
            key.clone().ok_or(NeverPublished)
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn service_auth_awaits_key_lookups_on_a_current_thread_runtime() {
    // The lookup can only finish once another task on this one thread runs:
    // a verifier blocking the thread on it (as the synchronous bridge would,
    // or refuse with WouldBlock) would never answer.
    let key = Keypair::generate(Curve::P256);
    let (publish, rx) = tokio::sync::watch::channel(None);
    let resolver = std::sync::Arc::new(PublishedKey {
        key: rx,
        lookups: std::sync::atomic::AtomicUsize::new(0),
    });
    let verifier = ServiceAuthVerifier::new(SERVICE_DID, std::sync::Arc::clone(&resolver))
        .clock(ManualClock::at_unix_secs(NOW));
    let app = XrpcRouter::<ServiceAuthVerifier>::new()
        .query("com.example.service", service_call)
        .build()
        .unwrap()
        .with_state(verifier);

    let token = service_token(&key, SERVICE_DID, "com.example.service", NOW, "ct1");
    let call = {
        let app = app.clone();
        tokio::spawn(async move {
            with_bearer(
                &app,
                "/xrpc/com.example.service",
                &format!("Bearer {token}"),
            )
            .await
        })
    };
    // The request is waiting on its lookup; the thread is free meanwhile.
    while resolver.lookups.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    assert!(!call.is_finished());
    get(&app, "/xrpc/_health").await.ok();
    assert!(!call.is_finished());

    publish.send_replace(Some(key.public_key()));
    let a = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the request finished")
        .unwrap();
    assert_eq!(a.ok(), &json!({ "iss": ISS, "lxm": "com.example.service" }));
    assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1);
}

/// With `resolve`, the network key resolver plugs into the verifier as it
/// is. A `did:key` issuer is its own key, so nothing is fetched.
#[cfg(feature = "resolve")]
#[tokio::test(flavor = "current_thread")]
async fn service_auth_with_the_did_key_resolver() {
    use atproto_xrpc::ReqwestClient;
    use atproto_xrpc::identity::{CacheConfig, CachingDidResolver, DidKeyResolver, Resolver};

    let keys: DidKeyResolver<CachingDidResolver<Resolver<ReqwestClient>>> =
        DidKeyResolver::new(CachingDidResolver::new(
            Resolver::new(ReqwestClient::new().unwrap()),
            CacheConfig::default(),
        ));
    let verifier =
        ServiceAuthVerifier::new(SERVICE_DID, keys).clock(ManualClock::at_unix_secs(NOW));
    let app = XrpcRouter::<ServiceAuthVerifier>::new()
        .query("com.example.service", service_call)
        .build()
        .unwrap()
        .with_state(verifier);
    let key = Keypair::generate(Curve::K256);
    let iss = key.public_key().to_did_key();
    let lxm = "com.example.service".parse().unwrap();
    let token = create_service_jwt(
        &ServiceJwtParams {
            iss: &iss,
            aud: SERVICE_DID,
            lxm: Some(&lxm),
            now: NOW as i64,
            jti: "dk1",
        },
        &key,
    )
    .unwrap();
    let a = with_bearer(
        &app,
        "/xrpc/com.example.service",
        &format!("Bearer {token}"),
    )
    .await;
    assert_eq!(a.ok()["iss"], iss);
}

// ---------------------------------------------------------------- request bodies

fn with_body(
    req: http::request::Builder,
    headers: &[(&str, &str)],
    body: &'static str,
) -> Request<Body> {
    headers
        .iter()
        .fold(req, |r, (k, v)| r.header(*k, *v))
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_body_where_none_is_expected_is_refused() {
    let f = fixture();
    let query = "/xrpc/app.bsky.feed.getTimeline?limit=5";
    let refused = "A request body was provided when none was expected";

    // A query with a Content-Length other than 0.
    let a = send(
        &f.app,
        with_body(Request::get(query), &[("content-length", "3")], "abc"),
    )
    .await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), refused);
    // A chunked body with data.
    let a = send(
        &f.app,
        with_body(
            Request::get(query),
            &[("transfer-encoding", "chunked")],
            "x",
        ),
    )
    .await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), refused);
    // An empty body, declared or chunked, is allowed, as is none at all.
    for headers in [
        &[("content-length", "0")][..],
        &[("transfer-encoding", "chunked")][..],
        &[][..],
    ] {
        let a = send(&f.app, with_body(Request::get(query), headers, "")).await;
        assert_eq!(a.ok()["limit"], 5, "{headers:?}");
    }

    // A procedure whose lexicon declares no input.
    let uri = "/xrpc/com.atproto.server.activateAccount";
    let a = send(
        &f.app,
        with_body(
            Request::post(uri),
            &[
                ("content-type", "application/json"),
                ("content-length", "2"),
            ],
            "{}",
        ),
    )
    .await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), refused);
    send(&f.app, with_body(Request::post(uri), &[], ""))
        .await
        .ok();
    // Procedures with an input, or that the catalog does not define, read
    // their bodies as before.
    let a = send(
        &f.app,
        with_body(
            Request::post("/xrpc/com.example.echo"),
            &[
                ("content-type", "application/json"),
                ("content-length", "7"),
            ],
            "{\"a\":1}",
        ),
    )
    .await;
    assert_eq!(a.ok(), &json!({ "a": 1 }));
    // The method is still checked first.
    let a = send(
        &f.app,
        with_body(Request::post(query), &[("content-length", "3")], "abc"),
    )
    .await;
    a.error(400, "InvalidRequest");
    assert_eq!(a.message(), "Incorrect HTTP method (POST) expected GET");
}

// ---------------------------------------------------------------- rate limits

fn limited(config: RateLimitConfig, clock: &ManualClock) -> (Router, RateLimiter) {
    async fn ping() -> Output<Value> {
        Output(json!({}))
    }
    let limiter = RateLimiter::with_clock(config, clock.clone());
    let by_header = |req: &Request<Body>| {
        req.headers()
            .get("x-client")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let app = XrpcRouter::new()
        .query("com.example.ping", ping)
        .build()
        .unwrap()
        .layer(RateLimitLayer::from_limiter(limiter.clone(), by_header));
    (app, limiter)
}

async fn ping_as(app: &Router, client: &str) -> Answer {
    send(
        app,
        Request::get("/xrpc/com.example.ping")
            .header("x-client", client)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn fixed_window_rate_limit() {
    // 1_700_000_000 is a multiple of 10: the window starts now.
    let clock = ManualClock::at_unix_secs(NOW);
    let (app, _) = limited(RateLimitConfig::fixed(3, Duration::from_secs(10)), &clock);
    for remaining in ["2", "1", "0"] {
        let a = ping_as(&app, "a").await;
        a.ok();
        assert_eq!(a.header("ratelimit-limit"), Some("3"));
        assert_eq!(a.header("ratelimit-remaining"), Some(remaining));
        assert_eq!(a.header("ratelimit-reset"), Some("1700000010"));
        assert_eq!(a.header("ratelimit-policy"), Some("3;w=10"));
    }
    clock.advance(Duration::from_secs(4));
    let a = ping_as(&app, "a").await;
    a.error(429, "RateLimitExceeded");
    assert_eq!(a.header("retry-after"), Some("6"));
    assert_eq!(a.header("ratelimit-remaining"), Some("0"));
    assert_eq!(a.header("ratelimit-limit"), Some("3"));
    assert_eq!(a.header("ratelimit-reset"), Some("1700000010"));
    assert_eq!(a.header("ratelimit-policy"), Some("3;w=10"));
    // Another key has its own budget; requests without a key are unlimited.
    ping_as(&app, "b").await.ok();
    let free = get(&app, "/xrpc/com.example.ping").await;
    free.ok();
    assert_eq!(free.header("ratelimit-limit"), None);
    // A new window.
    clock.advance(Duration::from_secs(6));
    let a = ping_as(&app, "a").await;
    a.ok();
    assert_eq!(a.header("ratelimit-remaining"), Some("2"));
    assert_eq!(a.header("ratelimit-reset"), Some("1700000020"));
    // Errors from the router count and carry the headers too.
    let a = send(
        &app,
        Request::get("/xrpc/com.example.unknown")
            .header("x-client", "a")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    a.error(501, "MethodNotImplemented");
    assert_eq!(a.header("ratelimit-remaining"), Some("1"));
}

#[tokio::test]
async fn sliding_window_rate_limit() {
    let clock = ManualClock::at_unix_secs(NOW);
    let (app, _) = limited(RateLimitConfig::sliding(4, Duration::from_secs(10)), &clock);
    for _ in 0..4 {
        ping_as(&app, "a").await.ok();
    }
    ping_as(&app, "a").await.error(429, "RateLimitExceeded");
    // The next window starts, but the last 10 s still hold all 4.
    clock.advance(Duration::from_secs(10));
    ping_as(&app, "a").await.error(429, "RateLimitExceeded");
    // Halfway: the previous window weighs 2, so 2 more fit.
    clock.advance(Duration::from_secs(5));
    let a = ping_as(&app, "a").await;
    a.ok();
    assert_eq!(a.header("ratelimit-remaining"), Some("1"));
    ping_as(&app, "a").await.ok();
    ping_as(&app, "a").await.error(429, "RateLimitExceeded");
    // Two windows later everything is forgotten.
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        ping_as(&app, "a").await.header("ratelimit-remaining"),
        Some("3")
    );
}

#[tokio::test]
async fn rate_limiter_memory_is_bounded() {
    let clock = ManualClock::at_unix_secs(NOW);
    let (app, limiter) = limited(
        RateLimitConfig::fixed(5, Duration::from_secs(10)).max_keys(3),
        &clock,
    );
    for i in 0..10 {
        ping_as(&app, &format!("client{i}")).await.ok();
        assert!(limiter.len() <= 3);
    }
    assert_eq!(limiter.len(), 3);
    // Idle keys are dropped once a whole window has passed.
    clock.advance(Duration::from_secs(30));
    ping_as(&app, "fresh").await.ok();
    assert_eq!(limiter.len(), 1);
}

#[tokio::test]
async fn peer_ip_key() {
    async fn ping() -> &'static str {
        "pong"
    }
    let clock = ManualClock::at_unix_secs(NOW);
    let limiter =
        RateLimiter::with_clock(RateLimitConfig::fixed(1, Duration::from_secs(60)), clock);
    let app: Router = XrpcRouter::new()
        .query("com.example.ping", ping)
        .build()
        .unwrap()
        .layer(RateLimitLayer::from_limiter(limiter, PeerIp));
    let from = |ip: [u8; 4]| {
        let mut req = Request::get("/xrpc/com.example.ping")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 4000))));
        req
    };
    assert_eq!(send(&app, from([10, 0, 0, 1])).await.status, StatusCode::OK);
    send(&app, from([10, 0, 0, 1]))
        .await
        .error(429, "RateLimitExceeded");
    assert_eq!(send(&app, from([10, 0, 0, 2])).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- subscriptions

/// Frames `cursor`, `cursor + 1`, … (5 of them unless `limit` says
/// otherwise), each as its decimal text; `forever=true` never ends and
/// flags `DROPPED` when the server drops it.
async fn numbered_frames(
    req: SubscriptionRequest,
    _state: AppState,
) -> Result<stream::BoxStream<'static, Bytes>, XrpcError> {
    let start = req.cursor.unwrap_or(0);
    if start < 0 {
        return Err(XrpcError::new(
            "FutureCursor",
            "cursor in the future".to_owned(),
        ));
    }
    if req.params.get("forever").is_some() {
        let guard = DropFlag;
        return Ok(stream::iter(start..)
            .map(move |i| {
                let _ = &guard;
                Bytes::from(i.to_string())
            })
            .boxed());
    }
    Ok(stream::iter(start..start + 5)
        .map(|i| Bytes::from(i.to_string()))
        .boxed())
}

static DROPPED: AtomicBool = AtomicBool::new(false);

struct DropFlag;

impl Drop for DropFlag {
    fn drop(&mut self) {
        DROPPED.store(true, Ordering::SeqCst);
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

#[tokio::test]
async fn websocket_streams_frames_in_order_and_closes() {
    use tokio_tungstenite::tungstenite::Message;
    let f = fixture();
    let addr = serve(f.app.clone()).await;
    let url = format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos?cursor=7");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut got = Vec::new();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Binary(b))) => got.push(String::from_utf8(b.to_vec()).unwrap()),
            Some(Ok(Message::Close(frame))) => break frame,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(got, ["7", "8", "9", "10", "11"]);
    assert_eq!(u16::from(close.unwrap().code), 1000);
}

#[tokio::test]
async fn websocket_stops_when_the_client_goes_away() {
    use tokio_tungstenite::tungstenite::Message;
    let f = fixture();
    let addr = serve(f.app.clone()).await;
    let url = format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos?forever=1");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for want in ["0", "1", "2"] {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], want.as_bytes()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(!DROPPED.load(Ordering::SeqCst));
    ws.send(Message::Close(None)).await.unwrap();
    drop(ws);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !DROPPED.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "producer not dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn subscription_refusals_are_http_errors() {
    let f = fixture();
    // Not an upgrade.
    let a = get(&f.app, "/xrpc/com.atproto.sync.subscribeRepos").await;
    a.error(400, "InvalidRequest");
    // Over a real connection, a bad cursor and the producer's own error.
    let addr = serve(f.app.clone()).await;
    for (q, name) in [
        ("cursor=abc", "InvalidRequest"),
        ("cursor=-1", "FutureCursor"),
    ] {
        let url = format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos?{q}");
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), StatusCode::BAD_REQUEST);
                let body: Value = serde_json::from_slice(res.body().as_deref().unwrap()).unwrap();
                assert_eq!(body["error"], name);
            }
            other => panic!("expected an HTTP refusal, got {other:?}"),
        }
    }
    // Wrong method.
    post(&f.app, "/xrpc/com.atproto.sync.subscribeRepos", None, "")
        .await
        .error(400, "InvalidRequest");
}

#[tokio::test]
async fn extractors_outside_the_router() {
    // MethodContext and ServiceAuth need the router; Params falls back to serde.
    async fn ctx(c: MethodContext) -> String {
        c.nsid().to_string()
    }
    async fn p(Params(l): Params<Loose>) -> Output<Loose> {
        Output(l)
    }
    let app: Router = Router::new()
        .route("/ctx", axum::routing::get(ctx))
        .route("/p", axum::routing::get(p));
    get(&app, "/ctx").await.error(500, "InternalServerError");
    assert_eq!(get(&app, "/p?n=4").await.ok()["n"], 4);
}

#[tokio::test]
async fn websocket_backpressure_bounds_what_the_producer_runs_ahead() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use atproto_xrpc::server::stream_frames;
    use axum::extract::ws::WebSocketUpgrade;
    use tokio_tungstenite::tungstenite::Message;

    const FRAME: usize = 64 * 1024;
    let pulled = Arc::new(AtomicU64::new(0));
    let counter = pulled.clone();
    let handler = move |ws: WebSocketUpgrade| {
        let counter = counter.clone();
        async move {
            let payload = Bytes::from(vec![0xabu8; FRAME]);
            let frames = stream::repeat(payload).map(move |b| {
                counter.fetch_add(1, Ordering::SeqCst);
                b
            });
            stream_frames(ws, frames)
        }
    };
    let app: Router = XrpcRouter::new()
        .subscription_handler("com.example.flood", handler)
        .build()
        .unwrap();
    let addr = serve(app).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/xrpc/com.example.flood"))
            .await
            .unwrap();
    // The client reads nothing for a while: the server may fill the socket
    // buffers, no more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = pulled.load(Ordering::SeqCst);
    assert!(ahead > 0);
    assert!(
        ahead < 2_000,
        "{ahead} frames of 64 KiB pulled for a client that reads nothing"
    );
    for _ in 0..3 {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => assert_eq!(b.len(), FRAME),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn access_verifier_checks_type_and_audience() {
    let clock = ManualClock::at_unix_secs(NOW);
    let v = HmacSessionVerifier::new(SECRET)
        .clock(clock)
        .audience("did:web:pds.example.com");
    let good = access_token(ISS, NOW as i64 + 60, "com.atproto.access", SECRET);
    assert_eq!(v.verify_token(&good).unwrap().did.as_str(), ISS);

    let other_aud = HmacSessionVerifier::new(SECRET)
        .clock(ManualClock::at_unix_secs(NOW))
        .audience("did:web:elsewhere.example.com");
    assert_eq!(
        other_aud.verify_token(&good).unwrap_err().name.as_str(),
        "InvalidToken"
    );

    // A refresh token (typ refresh+jwt) is not an access token, even with
    // an accepted scope.
    let mut header = Header::new(Alg::Hs256);
    header.typ = Some("refresh+jwt".into());
    let claims = Claims {
        sub: Some(ISS.into()),
        scope: Some("com.atproto.access".into()),
        exp: Some(NOW as i64 + 60),
        ..Claims::default()
    };
    let refresh = jwt::sign_hs256(&header, &claims, SECRET).unwrap();
    let e = v.verify_token(&refresh).unwrap_err();
    assert_eq!((e.status, e.name.as_str()), (400, "InvalidToken"));

    // Other scopes can be accepted instead.
    let refresh_ok = HmacSessionVerifier::new(SECRET)
        .clock(ManualClock::at_unix_secs(NOW))
        .scopes(["com.atproto.appPass"]);
    let app_pass = access_token(ISS, NOW as i64 + 60, "com.atproto.appPass", SECRET);
    assert_eq!(
        refresh_ok.verify_token(&app_pass).unwrap().scope,
        "com.atproto.appPass"
    );
    assert!(refresh_ok.verify_token(&good).is_err());
}
