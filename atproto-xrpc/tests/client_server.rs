//! The crate's own client (`XrpcClient`, `SessionClient`) against the
//! crate's own server (`server::XrpcRouter` with the bundled lexicon
//! catalog), served on 127.0.0.1 in-process: every error status, extractor
//! failures and size limits, sessions with single-flight refresh, retries
//! behind `RateLimitLayer`, the proxy and labeler headers, array
//! parameters, blob bodies and the client's response size limit.
// Helpers outside `#[test]` functions may fail loudly too: a failed
// assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use atproto_core::data::cid::raw_cid;
use atproto_lexicon::bundled::catalog;
use atproto_xrpc::client::{
    CallOptions, ClientError, MemorySessionStore, RetryPolicy, Session, SessionClient,
    SessionStore, Timer, XrpcCall, XrpcClient, XrpcRequest,
};
use atproto_xrpc::jwt::{self, Alg, Claims, Header, Jwt};
use atproto_xrpc::server::{
    AccessVerifier, AuthRequired, BearerToken, Clock, HmacSessionVerifier, Input, ManualClock,
    Output, Params, PeerIp, RateLimitConfig, RateLimitLayer, RateLimiter, RawInput, VerifiedAccess,
    XrpcRouter,
};
use atproto_xrpc::transport::BoxFuture;
use atproto_xrpc::{
    ErrorName, LabelerList, ProxyTarget, RateLimit, RateLimitPolicy, ReqwestClient, RetryAfter,
    TransportError, XrpcError,
};
use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SECRET: &[u8] = b"client-server test secret";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const HANDLE: &str = "alice.test";
const PASSWORD: &str = "hunter2";
/// Lifetimes of the tokens the server issues, on its `ManualClock`.
const ACCESS_TTL: u64 = 60;
const REFRESH_TTL: u64 = 3600;
/// The server's time when a test starts (Unix seconds).
const START: u64 = 1_700_000_003;
/// The router's size limits.
const JSON_LIMIT: usize = 8 * 1024;
const RAW_LIMIT: usize = 1024 * 1024;
const CAR: &str = "application/vnd.ipld.car";

// ---------------------------------------------------------------- server

/// What the handlers share: the server's clock, the refresh tokens it
/// revoked, and counters the tests read.
#[derive(Default)]
struct Shared {
    clock: Option<ManualClock>,
    jti: AtomicUsize,
    /// `jti`s of refresh tokens no longer honoured.
    revoked: Mutex<HashSet<String>>,
    /// `com.atproto.server.refreshSession` calls answered with new tokens.
    refreshes: AtomicUsize,
    /// `com.atproto.server.refreshSession` calls, answered or not.
    refresh_calls: AtomicUsize,
    /// When set, refreshSession fails with this (transient) error.
    refresh_outage: Mutex<Option<XrpcError>>,
    /// `getSession` calls that passed auth.
    sessions: AtomicUsize,
    /// `ExpiredToken` answers of the access verifier.
    expired: AtomicUsize,
    /// When set, refreshSession waits until this many `ExpiredToken`
    /// answers have gone out (so that every concurrent caller is refused
    /// before the first refresh completes).
    hold_refresh_until_expired: Mutex<Option<usize>>,
    /// The last upload: MIME type and bytes.
    upload: Mutex<Option<(String, Bytes)>>,
}

impl Shared {
    fn clock(&self) -> &ManualClock {
        self.clock.as_ref().expect("the server has a clock")
    }

    fn now(&self) -> u64 {
        self.clock().unix_secs() as u64
    }
}

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    verifier: CountingVerifier,
}

/// The crate's `HmacSessionVerifier`, counting its `ExpiredToken` answers.
#[derive(Clone)]
struct CountingVerifier {
    inner: HmacSessionVerifier,
    shared: Arc<Shared>,
}

impl AccessVerifier for CountingVerifier {
    type Output = VerifiedAccess;

    async fn verify(&self, token: &str, _parts: &Parts) -> Result<VerifiedAccess, XrpcError> {
        let result = self.inner.verify_token(token);
        if let Err(e) = &result
            && e.name.as_str() == "ExpiredToken"
        {
            self.shared.expired.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
}

impl FromRef<App> for CountingVerifier {
    fn from_ref(app: &App) -> Self {
        app.verifier.clone()
    }
}

fn internal(e: impl std::fmt::Display) -> XrpcError {
    XrpcError::new(ErrorName::InternalServerError, e.to_string())
}

fn invalid_token(message: &str) -> XrpcError {
    XrpcError::new("InvalidToken", message.to_owned())
}

/// An HS256 token of type `typ` for the test account.
fn sign(shared: &Shared, typ: &str, scope: &str, ttl: u64) -> Result<String, XrpcError> {
    let mut header = Header::new(Alg::Hs256);
    header.typ = Some(typ.to_owned());
    let now = shared.now();
    let claims = Claims {
        sub: Some(DID.to_owned()),
        scope: Some(scope.to_owned()),
        iat: Some(now as i64),
        exp: Some((now + ttl) as i64),
        jti: Some(format!("jti-{}", shared.jti.fetch_add(1, Ordering::SeqCst))),
        ..Claims::default()
    };
    jwt::sign_hs256(&header, &claims, SECRET).map_err(internal)
}

fn new_session(shared: &Shared) -> Result<Output<Value>, XrpcError> {
    Ok(Output(json!({
        "did": DID,
        "handle": HANDLE,
        "accessJwt": sign(shared, "at+jwt", "com.atproto.access", ACCESS_TTL)?,
        "refreshJwt": sign(shared, "refresh+jwt", "com.atproto.refresh", REFRESH_TTL)?,
        "active": true,
    })))
}

#[derive(Deserialize)]
struct CreateSession {
    identifier: String,
    password: String,
}

async fn create_session(
    State(app): State<App>,
    Input(input): Input<CreateSession>,
) -> Result<Output<Value>, XrpcError> {
    if input.identifier != HANDLE || input.password != PASSWORD {
        return Err(XrpcError::new(
            ErrorName::AuthenticationRequired,
            "Invalid identifier or password".to_owned(),
        ));
    }
    new_session(&app.shared)
}

/// Checks a refresh token (signature, type, expiry, revocation), revokes it
/// (rotation, as the reference PDS does) and issues new tokens.
async fn refresh_session(
    State(app): State<App>,
    BearerToken(token): BearerToken,
) -> Result<Output<Value>, XrpcError> {
    let shared = &app.shared;
    shared.refresh_calls.fetch_add(1, Ordering::SeqCst);
    let hold = *shared.hold_refresh_until_expired.lock().unwrap();
    if let Some(n) = hold {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while shared.expired.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        waited.map_err(|_| internal("not every caller was refused in time"))?;
    }
    if let Some(e) = shared.refresh_outage.lock().unwrap().clone() {
        return Err(e);
    }
    let jwt = Jwt::parse(&token).map_err(|_| invalid_token("Malformed token"))?;
    if jwt.verify_hs256(SECRET).is_err() || jwt.header().typ.as_deref() != Some("refresh+jwt") {
        return Err(invalid_token("Invalid token type"));
    }
    let claims = jwt.into_claims();
    if claims.exp.is_none_or(|exp| shared.now() as i64 >= exp) {
        return Err(XrpcError::new(
            "ExpiredToken",
            "Token has expired".to_owned(),
        ));
    }
    let jti = claims.jti.unwrap_or_default();
    if !shared.revoked.lock().unwrap().insert(jti) {
        return Err(invalid_token("Token has been revoked"));
    }
    shared.refreshes.fetch_add(1, Ordering::SeqCst);
    new_session(shared)
}

async fn get_session(
    State(app): State<App>,
    AuthRequired(access): AuthRequired<CountingVerifier>,
) -> Output<Value> {
    app.shared.sessions.fetch_add(1, Ordering::SeqCst);
    Output(json!({"did": access.did.as_str(), "handle": HANDLE, "active": true}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fail {
    name: String,
    status: Option<u16>,
    message: Option<String>,
    retry_after: Option<u64>,
    /// `Retry-After` as an HTTP date, in Unix seconds.
    retry_at: Option<u64>,
}

/// Answers with the error the parameters name (and `Retry-After`).
async fn fail(Params(p): Params<Fail>) -> Result<Output<()>, XrpcError> {
    let mut e = match p.status {
        Some(status) => XrpcError::with_status(status, p.name.as_str(), p.message),
        None => XrpcError::new(p.name.as_str(), p.message),
    };
    e.retry_after = p.retry_after.map(RetryAfter::Seconds).or(p
        .retry_at
        .map(|t| RetryAfter::Date(SystemTime::UNIX_EPOCH + Duration::from_secs(t))));
    Err(e)
}

#[derive(Deserialize)]
struct Timeline {
    limit: i64,
    cursor: Option<String>,
}

async fn get_timeline(Params(p): Params<Timeline>) -> Output<Value> {
    Output(json!({"limit": p.limit, "cursor": p.cursor, "feed": []}))
}

#[derive(Deserialize)]
struct Actors {
    actors: Vec<String>,
}

async fn get_profiles(Params(p): Params<Actors>) -> Output<Value> {
    Output(json!({"actors": p.actors}))
}

/// A method the catalog does not define: its parameters are read by serde.
#[derive(Deserialize)]
struct Tags {
    tag: Vec<String>,
    n: Vec<u32>,
}

async fn tags(Params(p): Params<Tags>) -> Output<Value> {
    Output(json!({"tag": p.tag, "n": p.n}))
}

async fn echo(Input(body): Input<Value>) -> Output<Value> {
    Output(body)
}

/// Parses `atproto-proxy` and `atproto-accept-labelers` and echoes them.
async fn echo_headers(headers: HeaderMap) -> Result<Output<Value>, XrpcError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bad = |e: atproto_xrpc::headers::HeaderError| {
        XrpcError::new(ErrorName::InvalidRequest, e.to_string())
    };
    let proxy = text("atproto-proxy")
        .map(ProxyTarget::parse)
        .transpose()
        .map_err(bad)?;
    let labelers = text("atproto-accept-labelers")
        .map(LabelerList::parse)
        .transpose()
        .map_err(bad)?;
    Ok(Output(json!({
        "proxy": proxy.map(|p| json!({"did": p.did.as_str(), "service": p.service_id})),
        "labelers": labelers.map(|l| l.labelers.iter()
            .map(|l| json!({"did": l.did.as_str(), "redact": l.redact}))
            .collect::<Vec<_>>()),
    })))
}

/// The blob reference of `bytes`, as `uploadBlob` answers it.
fn blob_ref(mime: &str, bytes: &[u8]) -> Value {
    json!({
        "$type": "blob",
        "ref": {"$link": raw_cid(bytes).to_string()},
        "mimeType": mime,
        "size": bytes.len(),
    })
}

async fn upload_blob(State(app): State<App>, raw: RawInput) -> Output<Value> {
    let blob = blob_ref(&raw.mime, &raw.body);
    *app.shared.upload.lock().unwrap() = Some((raw.mime, raw.body));
    Output(json!({ "blob": blob }))
}

/// `n` bytes of a pattern that does not repeat at any power of two.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

#[derive(Deserialize)]
struct Repo {
    did: String,
}

async fn get_repo(Params(p): Params<Repo>) -> Result<Response, XrpcError> {
    if p.did != DID {
        return Err(XrpcError::new(
            "RepoNotFound",
            format!("Could not find repo: {}", p.did),
        ));
    }
    Ok(([(CONTENT_TYPE, CAR)], pattern(300_000)).into_response())
}

/// The last upload, with its MIME type.
async fn get_blob(State(app): State<App>) -> Result<Response, XrpcError> {
    let upload = app.shared.upload.lock().unwrap().clone();
    let (mime, bytes) =
        upload.ok_or_else(|| XrpcError::new("BlobNotFound", "Blob not found".to_owned()))?;
    Ok(([(CONTENT_TYPE, mime)], bytes).into_response())
}

#[derive(Deserialize)]
struct Big {
    size: usize,
    chunked: bool,
}

/// A body of `size` bytes, with a `Content-Length` or streamed in chunks
/// without one.
async fn big(Params(p): Params<Big>) -> Response {
    let bytes = Bytes::from(vec![b'x'; p.size]);
    let body = if p.chunked {
        let chunks: Vec<Result<Bytes, Infallible>> = bytes
            .chunks(4096)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(bytes)
    };
    ([(CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

/// Answers after 10 s.
async fn slow() -> Output<Value> {
    tokio::time::sleep(Duration::from_secs(10)).await;
    Output(json!({}))
}

fn app() -> (axum::Router, Arc<Shared>) {
    let clock = ManualClock::at_unix_secs(START);
    let shared = Arc::new(Shared {
        clock: Some(clock.clone()),
        ..Shared::default()
    });
    let state = App {
        shared: shared.clone(),
        verifier: CountingVerifier {
            inner: HmacSessionVerifier::new(SECRET).clock(clock),
            shared: shared.clone(),
        },
    };
    let router = XrpcRouter::<App>::new()
        .catalog(catalog())
        .json_limit(JSON_LIMIT)
        .raw_limit(RAW_LIMIT)
        .procedure("com.atproto.server.createSession", create_session)
        .procedure("com.atproto.server.refreshSession", refresh_session)
        .query("com.atproto.server.getSession", get_session)
        .query("com.example.fail", fail)
        .query("app.bsky.feed.getTimeline", get_timeline)
        .query("app.bsky.actor.getProfiles", get_profiles)
        .query("com.example.tags", tags)
        .procedure("com.example.echo", echo)
        .query("com.example.headers", echo_headers)
        .procedure("com.atproto.repo.uploadBlob", upload_blob)
        .query("com.atproto.sync.getRepo", get_repo)
        .query("com.atproto.sync.getBlob", get_blob)
        .query("com.example.big", big)
        .query("com.example.slow", slow)
        .build()
        .expect("the router builds");
    (router.with_state(state), shared)
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

async fn start() -> (String, Arc<Shared>) {
    let (router, shared) = app();
    (serve(router).await, shared)
}

fn client(base: &str) -> XrpcClient {
    XrpcClient::new(base)
        .unwrap()
        .with_retry(RetryPolicy::none())
}

#[track_caller]
fn xrpc_err<T: Debug>(result: Result<T, ClientError>) -> XrpcError {
    match result {
        Err(ClientError::Xrpc(e)) => *e,
        other => panic!("expected an XRPC error, got {other:?}"),
    }
}

#[track_caller]
fn assert_error(e: &XrpcError, status: u16, name: &str, message: &str) {
    assert_eq!(
        (e.status, e.name.as_str()),
        (status, name),
        "message: {:?}",
        e.message
    );
    let got = e.message.as_deref().unwrap_or_default();
    assert!(
        got.starts_with(message),
        "{got:?} should start with {message:?}"
    );
}

/// Asserts a `400 InvalidRequest` whose message starts with `message`.
#[track_caller]
fn assert_invalid<T: Debug>(result: Result<T, ClientError>, message: &str) {
    assert_error(&xrpc_err(result), 400, "InvalidRequest", message);
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn every_standard_error_reaches_the_client_as_sent() -> TestResult {
    let (base, _) = start().await;
    let client = client(&base);
    assert_eq!(ErrorName::STANDARD.len(), 13);
    for name in ErrorName::STANDARD {
        let message = format!("{name} from the handler");
        let e = xrpc_err(
            client
                .query::<_, Value>(
                    "com.example.fail",
                    &json!({"name": name.as_str(), "message": message}),
                )
                .await,
        );
        assert_eq!(Some(e.status), name.status(), "{name}");
        assert_eq!(&e.name, name);
        assert!(!matches!(e.name, ErrorName::Other(_)), "{name}");
        assert_eq!(e.message.as_deref(), Some(message.as_str()));
        assert_eq!((e.retry_after, e.rate_limit), (None, None));
        assert_eq!(
            client
                .query::<_, Value>("com.example.fail", &json!({"name": name.as_str()}))
                .await
                .unwrap_err()
                .xrpc()
                .map(|e| (e.status, e.message.clone())),
            Some((name.status().unwrap(), None)),
            "{name} without a message"
        );
    }
    // A method's own names: status 400 unless the handler picks another.
    for (name, status, want) in [
        ("RecordNotFound", None, 400),
        ("AccountTakedown", Some(401), 401),
        ("RepoDeactivated", Some(403), 403),
    ] {
        let e = xrpc_err(
            client
                .query::<_, Value>(
                    "com.example.fail",
                    &json!({"name": name, "status": status, "message": "why"}),
                )
                .await,
        );
        assert_eq!(e.status, want);
        assert_eq!(e.name, ErrorName::Other(name.to_owned()));
        assert_eq!(e.message.as_deref(), Some("why"));
    }
    // The typed error of a catalog method reaches the client with its name.
    let e = xrpc_err(
        client
            .query_raw(
                "com.atproto.sync.getRepo",
                &json!({"did": "did:plc:nobody"}),
            )
            .await,
    );
    assert_error(
        &e,
        400,
        "RepoNotFound",
        "Could not find repo: did:plc:nobody",
    );
    // Auth extractor failures.
    let e = xrpc_err(
        client
            .query::<_, Value>("com.atproto.server.getSession", &())
            .await,
    );
    assert_error(&e, 401, "AuthenticationRequired", "Authentication Required");
    let e = xrpc_err(
        client
            .query_with::<_, Value>(
                "com.atproto.server.getSession",
                &(),
                CallOptions::new().bearer("not-a-jwt"),
            )
            .await,
    );
    assert_error(&e, 400, "InvalidToken", "Malformed token");
    // Outside `/xrpc/` the router adds nothing: axum's bare 404 is read as
    // the status's standard name.
    let elsewhere = self::client(&format!("{base}/elsewhere"));
    let e = xrpc_err(elsewhere.query::<_, Value>("com.example.fail", &()).await);
    assert_eq!(
        (e.status, &e.name, e.message),
        (404, &ErrorName::XRPCNotSupported, None)
    );
    Ok(())
}

#[tokio::test]
async fn handler_retry_after_is_honoured_on_503() -> TestResult {
    let (base, shared) = start().await;
    let (client, timer) = retrying(&base, shared.clock(), false);
    let e = xrpc_err(
        client
            .query::<_, Value>(
                "com.example.fail",
                &json!({"name": "NotEnoughResources", "message": "busy", "retryAfter": 2}),
            )
            .await,
    );
    assert_error(&e, 503, "NotEnoughResources", "busy");
    assert_eq!(e.retry_after, Some(RetryAfter::Seconds(2)));
    assert_eq!(timer.sleeps(), [Duration::from_secs(2); 2]);
    // An HTTP date, measured from the client timer's "now".
    let e = xrpc_err(
        client
            .query::<_, Value>(
                "com.example.fail",
                &json!({"name": "RateLimitExceeded", "retryAt": START + 5}),
            )
            .await,
    );
    assert_eq!(e.status, 429);
    assert_eq!(
        e.retry_after,
        Some(RetryAfter::Date(
            SystemTime::UNIX_EPOCH + Duration::from_secs(START + 5)
        ))
    );
    assert_eq!(timer.sleeps()[2..], [Duration::from_secs(5); 2]);
    // Not transient: no retry.
    let e = xrpc_err(
        client
            .query::<_, Value>("com.example.fail", &json!({"name": "Forbidden"}))
            .await,
    );
    assert_eq!(e.status, 403);
    assert_eq!(timer.sleeps().len(), 4);
    Ok(())
}

#[tokio::test]
async fn router_answers_unknown_methods_and_wrong_http_methods() -> TestResult {
    let (base, _) = start().await;
    let client = client(&base);
    // Neither registered nor in the catalog.
    let e = xrpc_err(client.query::<_, Value>("com.example.nothing", &()).await);
    assert_error(&e, 501, "MethodNotImplemented", "Method Not Implemented");
    let e = xrpc_err(
        client
            .procedure::<_, _, Value>("com.example.nothing", &(), &json!({}))
            .await,
    );
    assert_error(&e, 501, "MethodNotImplemented", "Method Not Implemented");
    // In the catalog, not registered, called the right way.
    let e = xrpc_err(
        client
            .query::<_, Value>("app.bsky.actor.getProfile", &json!({"actor": HANDLE}))
            .await,
    );
    assert_error(&e, 501, "MethodNotImplemented", "Method Not Implemented");
    // The wrong HTTP method: registered, or known to the catalog.
    assert_invalid(
        client
            .procedure::<_, _, Value>("com.example.fail", &(), &json!({}))
            .await,
        "Incorrect HTTP method (POST) expected GET",
    );
    assert_invalid(
        client.query::<_, Value>("com.example.echo", &()).await,
        "Incorrect HTTP method (GET) expected POST",
    );
    assert_invalid(
        client
            .procedure::<_, _, Value>("app.bsky.actor.getProfile", &(), &())
            .await,
        "Incorrect HTTP method (POST) expected GET",
    );
    Ok(())
}

#[tokio::test]
async fn extractor_failures_reach_the_client() -> TestResult {
    let (base, _) = start().await;
    let client = client(&base);
    // Parameters coerced and checked by the catalog.
    let out: Value = client
        .query("app.bsky.feed.getTimeline", &json!({"limit": 7}))
        .await?;
    assert_eq!(out["limit"], 7);
    let out: Value = client.query("app.bsky.feed.getTimeline", &()).await?;
    assert_eq!(out["limit"], 50, "the lexicon's default");
    for bad in ["abc", "0", "101", "1.5"] {
        assert_invalid(
            client
                .query::<_, Value>("app.bsky.feed.getTimeline", &json!({"limit": bad}))
                .await,
            "invalid app.bsky.feed.getTimeline parameters",
        );
    }
    assert_invalid(
        client
            .query::<_, Value>("app.bsky.actor.getProfiles", &())
            .await,
        "invalid app.bsky.actor.getProfiles parameters",
    );
    // Serde-read parameters of a method outside the catalog.
    assert_invalid(
        client
            .query::<_, Value>("com.example.tags", &json!({"tag": "a", "n": "x"}))
            .await,
        "invalid parameters",
    );

    // JSON input the lexicon refuses, malformed JSON, no or a wrong body type.
    assert_invalid(
        client
            .procedure::<_, _, Value>(
                "com.atproto.server.createSession",
                &(),
                &json!({"identifier": HANDLE}),
            )
            .await,
        "invalid com.atproto.server.createSession input",
    );
    assert_invalid(
        client
            .procedure::<_, _, Value>(
                "com.atproto.server.createSession",
                &(),
                &json!({"identifier": HANDLE, "password": 12}),
            )
            .await,
        "invalid com.atproto.server.createSession input",
    );
    let send = |body: &'static str, content_type: &'static str| {
        let request = XrpcRequest::procedure("com.atproto.server.createSession")
            .unwrap()
            .with_body(body, content_type);
        client.send(request)
    };
    assert_invalid(
        send("{not json", "application/json").await,
        "invalid JSON body",
    );
    assert_invalid(
        send(r#"{"identifier":"a","password":"b"}"#, "text/plain").await,
        "Wrong request encoding (Content-Type): text/plain",
    );
    assert_invalid(
        client
            .procedure::<_, _, Value>("com.atproto.server.createSession", &(), &())
            .await,
        "Request encoding (Content-Type) required but not provided",
    );
    // A wrong password is the handler's own 401.
    let e = xrpc_err(
        client
            .procedure::<_, _, Value>(
                "com.atproto.server.createSession",
                &(),
                &json!({"identifier": HANDLE, "password": "nope"}),
            )
            .await,
    );
    assert_error(
        &e,
        401,
        "AuthenticationRequired",
        "Invalid identifier or password",
    );
    Ok(())
}

#[tokio::test]
async fn oversized_bodies_are_payload_too_large() -> TestResult {
    let (base, shared) = start().await;
    let client = client(&base);
    // JSON: exactly at the limit passes, one byte over does not.
    let fill = |total: usize| json!({"x": "a".repeat(total - r#"{"x":""}"#.len())});
    let at_limit = fill(JSON_LIMIT);
    assert_eq!(serde_json::to_vec(&at_limit)?.len(), JSON_LIMIT);
    let out: Value = client.procedure("com.example.echo", &(), &at_limit).await?;
    assert_eq!(out, at_limit);
    let e = xrpc_err(
        client
            .procedure::<_, _, Value>("com.example.echo", &(), &fill(JSON_LIMIT + 1))
            .await,
    );
    assert_error(
        &e,
        413,
        "PayloadTooLarge",
        &format!("request entity too large (limit {JSON_LIMIT} bytes)"),
    );
    // Raw: the limit passes, one byte over does not (and is not stored).
    let out: Value = client
        .procedure_raw(
            "com.atproto.repo.uploadBlob",
            &(),
            Bytes::from(pattern(RAW_LIMIT)),
            "image/png",
        )
        .await?;
    assert_eq!(out["blob"]["size"], RAW_LIMIT);
    *shared.upload.lock().unwrap() = None;
    let e = xrpc_err(
        client
            .procedure_raw::<_, Value>(
                "com.atproto.repo.uploadBlob",
                &(),
                Bytes::from(pattern(RAW_LIMIT + 1)),
                "image/png",
            )
            .await,
    );
    assert_error(
        &e,
        413,
        "PayloadTooLarge",
        &format!("request entity too large (limit {RAW_LIMIT} bytes)"),
    );
    // Far more than the socket buffers hold: the early answer still
    // reaches the client as the 413, not as a broken connection.
    let e = xrpc_err(
        client
            .procedure_raw::<_, Value>(
                "com.atproto.repo.uploadBlob",
                &(),
                Bytes::from(vec![7u8; 16 * RAW_LIMIT]),
                "image/png",
            )
            .await,
    );
    assert_eq!((e.status, e.name.as_str()), (413, "PayloadTooLarge"));
    assert!(shared.upload.lock().unwrap().is_none());
    Ok(())
}

// ---------------------------------------------------------------- sessions

fn session_client(base: &str) -> (Arc<SessionClient>, Arc<MemorySessionStore>) {
    let store = Arc::new(MemorySessionStore::new());
    let client = XrpcClient::new(base)
        .unwrap()
        .with_retry(RetryPolicy::none())
        .with_validation(catalog());
    (Arc::new(SessionClient::new(client, store.clone())), store)
}

/// 16 concurrent `getSession` calls through `client`, once the server has
/// been told to hold its first refresh until all 16 have been refused.
async fn get_session_16_times(client: &Arc<SessionClient>) -> Vec<Result<Value, ClientError>> {
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .query::<_, Value>("com.atproto.server.getSession", &())
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("the call task ran"));
    }
    results
}

fn jti(token: &str) -> String {
    Jwt::parse(token).unwrap().into_claims().jti.unwrap()
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_for_16_concurrent_callers() -> TestResult {
    let (base, shared) = start().await;
    let (client, store) = session_client(&base);
    let wrong = client.login(HANDLE, "nope", None).await;
    assert_error(&xrpc_err(wrong), 401, "AuthenticationRequired", "Invalid");
    let first = client.login(HANDLE, PASSWORD, None).await?;
    assert_eq!((first.did.as_str(), first.handle.as_str()), (DID, HANDLE));
    assert_eq!(first.service, base);
    assert_eq!(store.load()?, Some(first.clone()));
    let info: Value = client.query("com.atproto.server.getSession", &()).await?;
    assert_eq!(info["did"], DID);
    assert_eq!(shared.sessions.load(Ordering::SeqCst), 1);

    // The refresh token is no access token.
    let e = xrpc_err(
        client
            .query_with::<_, Value>(
                "com.atproto.server.getSession",
                &(),
                CallOptions::new().bearer(first.refresh_jwt.clone()),
            )
            .await,
    );
    assert_error(&e, 400, "InvalidToken", "Invalid token type");

    // The access token expires; 16 callers are refused together and the
    // refresh waits until all 16 have been.
    shared.clock().advance(Duration::from_secs(ACCESS_TTL + 1));
    *shared.hold_refresh_until_expired.lock().unwrap() = Some(16);
    for result in get_session_16_times(&client).await {
        assert_eq!(result?["did"], DID);
    }
    assert_eq!(shared.expired.load(Ordering::SeqCst), 16);
    assert_eq!(shared.refreshes.load(Ordering::SeqCst), 1, "single flight");
    assert_eq!(shared.sessions.load(Ordering::SeqCst), 1 + 16);
    let second = client.session().unwrap();
    assert_ne!(second.access_jwt, first.access_jwt);
    assert_ne!(second.refresh_jwt, first.refresh_jwt);
    assert_eq!(store.load()?, Some(second.clone()));
    // The old refresh token was rotated out by the server.
    assert!(
        shared
            .revoked
            .lock()
            .unwrap()
            .contains(&jti(&first.refresh_jwt))
    );

    // The new access token works without another refresh.
    *shared.hold_refresh_until_expired.lock().unwrap() = None;
    let _: Value = client.query("com.atproto.server.getSession", &()).await?;
    assert_eq!(shared.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(shared.expired.load(Ordering::SeqCst), 16);
    Ok(())
}

/// A refresh that fails for a passing reason (the server is down) is tried
/// once for all the callers refused together, not once per caller; the
/// session is kept and the next call refreshes.
#[tokio::test]
async fn failed_refresh_is_single_flight_too() -> TestResult {
    let (base, shared) = start().await;
    let (client, store) = session_client(&base);
    let session = client.login(HANDLE, PASSWORD, None).await?;
    shared.clock().advance(Duration::from_secs(ACCESS_TTL));
    *shared.refresh_outage.lock().unwrap() = Some(XrpcError::new(
        ErrorName::UpstreamFailure,
        "database unavailable".to_owned(),
    ));
    *shared.hold_refresh_until_expired.lock().unwrap() = Some(16);
    let mut names = Vec::new();
    for result in get_session_16_times(&client).await {
        names.push(xrpc_err(result).name.as_str().to_owned());
    }
    assert_eq!(shared.refresh_calls.load(Ordering::SeqCst), 1, "{names:?}");
    // The caller that refreshed sees the refresh's failure, the others the
    // answer to their own call.
    assert_eq!(names.iter().filter(|n| *n == "UpstreamFailure").count(), 1);
    assert_eq!(names.iter().filter(|n| *n == "ExpiredToken").count(), 15);
    assert_eq!(client.session(), Some(session.clone()));
    assert_eq!(store.load()?, Some(session));

    // The server is back: the next call refreshes and succeeds.
    *shared.refresh_outage.lock().unwrap() = None;
    *shared.hold_refresh_until_expired.lock().unwrap() = None;
    let info: Value = client.query("com.atproto.server.getSession", &()).await?;
    assert_eq!(info["did"], DID);
    assert_eq!(shared.refresh_calls.load(Ordering::SeqCst), 2);
    assert_eq!(shared.refreshes.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn revoked_or_expired_refresh_token_ends_the_session() -> TestResult {
    let (base, shared) = start().await;
    let (client, store) = session_client(&base);

    // Revoked: InvalidToken from refreshSession.
    let session = client.login(HANDLE, PASSWORD, None).await?;
    shared
        .revoked
        .lock()
        .unwrap()
        .insert(jti(&session.refresh_jwt));
    shared.clock().advance(Duration::from_secs(ACCESS_TTL));
    let result = client
        .query::<_, Value>("com.atproto.server.getSession", &())
        .await;
    match result {
        Err(ClientError::SessionExpired(e)) => {
            assert_error(&e, 400, "InvalidToken", "Token has been revoked")
        }
        other => panic!("expected SessionExpired, got {other:?}"),
    }
    assert_eq!(client.session(), None);
    assert_eq!(store.load()?, None);
    assert!(matches!(
        client
            .query::<_, Value>("com.atproto.server.getSession", &())
            .await,
        Err(ClientError::NoSession)
    ));

    // Expired: ExpiredToken from refreshSession.
    client.login(HANDLE, PASSWORD, None).await?;
    shared.clock().advance(Duration::from_secs(REFRESH_TTL + 1));
    match client.refresh().await {
        Err(ClientError::SessionExpired(e)) => {
            assert_error(&e, 400, "ExpiredToken", "Token has expired")
        }
        other => panic!("expected SessionExpired, got {other:?}"),
    }
    assert_eq!(client.session(), None);
    assert_eq!(store.load()?, None);
    assert_eq!(shared.refreshes.load(Ordering::SeqCst), 0);
    assert_eq!(shared.sessions.load(Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn resume_checks_the_session_with_the_server() -> TestResult {
    let (base, shared) = start().await;
    let (client, store) = session_client(&base);
    let session = client.login(HANDLE, PASSWORD, None).await?;
    let (other, other_store) = session_client(&base);
    // An expired access token: getSession refreshes it, then answers.
    shared.clock().advance(Duration::from_secs(ACCESS_TTL));
    let resumed = other.resume(session.clone()).await?;
    assert_eq!((resumed.did.as_str(), resumed.active), (DID, Some(true)));
    assert_ne!(resumed.access_jwt, session.access_jwt);
    assert_eq!(other_store.load()?, Some(resumed.clone()));
    assert_eq!(shared.refreshes.load(Ordering::SeqCst), 1);
    // The server answers for another account than the session says.
    let mismatch = Session {
        did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
        ..resumed.clone()
    };
    match other.resume(mismatch).await {
        Err(ClientError::SessionMismatch { expected, found }) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", DID)
            );
        }
        other => panic!("expected SessionMismatch, got {other:?}"),
    }
    assert_eq!((other.session(), other_store.load()?), (None, None));
    // An access token the server refuses outright: no session, store cleared.
    let garbage = Session {
        access_jwt: "garbage".to_owned(),
        ..resumed
    };
    let e = xrpc_err(other.resume(garbage).await);
    assert_error(&e, 400, "InvalidToken", "Malformed token");
    assert_eq!((other.session(), other_store.load()?), (None, None));
    // The first client's refresh token was rotated out by the resume.
    assert!(matches!(
        client.refresh().await,
        Err(ClientError::SessionExpired(_))
    ));
    assert_eq!(store.load()?, None);
    Ok(())
}

// ---------------------------------------------------------------- retries

/// The client's timer on the server's clock: `sleep` records the wait and,
/// when `advance` is set, moves the server's clock by it (no real waiting).
#[derive(Clone)]
struct ClockTimer {
    clock: ManualClock,
    advance: bool,
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl ClockTimer {
    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Timer for ClockTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().unwrap().push(duration);
        if self.advance {
            self.clock.advance(duration);
        }
        Box::pin(async {})
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

/// A server of two methods behind the limit `config` per peer IP, on a
/// manual clock at [`START`]; the count of calls that got through.
async fn limited(config: RateLimitConfig) -> (String, ManualClock, Arc<AtomicUsize>) {
    let clock = ManualClock::at_unix_secs(START);
    let limiter = RateLimiter::with_clock(config, clock.clone());
    let served = Arc::new(AtomicUsize::new(0));
    let (q, p) = (served.clone(), served.clone());
    let router = XrpcRouter::<()>::new()
        .query("com.example.limited", move || {
            let n = q.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Output(json!({ "n": n })) }
        })
        .procedure("com.example.limitedWrite", move || {
            let n = p.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Output(json!({ "n": n })) }
        })
        .build()
        .unwrap()
        .layer(RateLimitLayer::from_limiter(limiter, PeerIp));
    // Keyed by the peer's address: served with connect info.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), clock, served)
}

const WINDOW: Duration = Duration::from_secs(10);

/// In a sliding window the server's `Retry-After` is the time until the
/// request fits, and a client that waits exactly that long gets through.
#[tokio::test]
async fn sliding_window_retry_after_is_when_the_request_fits() -> TestResult {
    let (base, clock, served) = limited(RateLimitConfig::sliding(2, WINDOW)).await;
    let (client, timer) = retrying(&base, &clock, true);
    for _ in 0..2 {
        let _: Value = client.query("com.example.limited", &()).await?;
    }
    // At …003 the window …000-…009 holds 2: the request fits once the next
    // window has begun (…010 + 1 ms, where the 2 weigh 1.9998, so 1).
    let _: Value = client.query("com.example.limited", &()).await?;
    assert_eq!(timer.sleeps(), [Duration::from_secs(8)]);
    assert_eq!(clock.unix_secs(), 1_700_000_011);
    // At …011 the window holds 1 and the previous 2 weigh 1.8 (so 1): the
    // next fits when they weigh under 1, after …015.
    let _: Value = client.query("com.example.limited", &()).await?;
    assert_eq!(
        timer.sleeps(),
        [Duration::from_secs(8), Duration::from_secs(5)]
    );
    assert_eq!(served.load(Ordering::SeqCst), 4);
    Ok(())
}

fn retrying(base: &str, clock: &ManualClock, advance: bool) -> (XrpcClient, ClockTimer) {
    let timer = ClockTimer {
        clock: clock.clone(),
        advance,
        sleeps: Arc::default(),
    };
    let client = XrpcClient::new(base)
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(60),
            jitter: 0.0,
        })
        .with_timer(timer.clone());
    (client, timer)
}

#[tokio::test]
async fn rate_limited_calls_wait_for_retry_after_and_then_succeed() -> TestResult {
    let (base, clock, served) = limited(RateLimitConfig::fixed(1, WINDOW)).await;
    let (client, timer) = retrying(&base, &clock, true);
    let out: Value = client.query("com.example.limited", &()).await?;
    assert_eq!(out["n"], 1);
    // Over the limit: the server says wait 7 s (to the end of the window
    // 1_700_000_000..=1_700_000_009); the client waits that, then succeeds.
    let out: Value = client.query("com.example.limited", &()).await?;
    assert_eq!(out["n"], 2);
    assert_eq!(timer.sleeps(), [Duration::from_secs(7)]);
    assert_eq!(clock.unix_secs(), 1_700_000_010);
    // A procedure turned away by the limiter was not processed: retried too.
    let out: Value = client
        .procedure("com.example.limitedWrite", &(), &json!({}))
        .await?;
    assert_eq!(out["n"], 3);
    assert_eq!(
        timer.sleeps(),
        [Duration::from_secs(7), Duration::from_secs(10)]
    );
    assert_eq!(served.load(Ordering::SeqCst), 3);
    Ok(())
}

#[tokio::test]
async fn exhausted_retries_keep_the_rate_limit_fields() -> TestResult {
    let (base, clock, served) = limited(RateLimitConfig::fixed(2, WINDOW)).await;
    let (client, timer) = retrying(&base, &clock, false);
    // Answers inside the limit carry the RateLimit-* headers.
    for remaining in ["1", "0"] {
        let response = client
            .send(XrpcRequest::query("com.example.limited")?)
            .await?;
        assert_eq!(response.headers["ratelimit-limit"], "2");
        assert_eq!(response.headers["ratelimit-remaining"], remaining);
        assert_eq!(response.headers["ratelimit-reset"], "1700000010");
        assert_eq!(response.headers["ratelimit-policy"], "2;w=10");
    }
    let e = xrpc_err(client.query::<_, Value>("com.example.limited", &()).await);
    assert_error(&e, 429, "RateLimitExceeded", "Rate Limit Exceeded");
    assert_eq!(e.retry_after, Some(RetryAfter::Seconds(7)));
    assert_eq!(
        e.rate_limit,
        Some(RateLimit {
            limit: 2,
            remaining: 0,
            reset: 1_700_000_010,
            policy: Some(RateLimitPolicy {
                limit: 2,
                window_secs: 10
            }),
        })
    );
    // Three attempts, two waits of the server's Retry-After.
    assert_eq!(timer.sleeps(), [Duration::from_secs(7); 2]);
    assert_eq!(served.load(Ordering::SeqCst), 2);
    Ok(())
}

// ---------------------------------------------------------------- headers, params, bodies, limits

#[tokio::test]
async fn proxy_and_labeler_headers_reach_the_handler() -> TestResult {
    let (base, _) = start().await;
    let appview: ProxyTarget = "did:web:api.bsky.app#bsky_appview".parse()?;
    let labelers: LabelerList =
        "did:plc:ar7c4by46qjdydhdevvrndac;redact, did:web:labeler.example.com".parse()?;
    let client = client(&base)
        .with_proxy(appview)
        .with_accept_labelers(labelers);
    let out: Value = client.query("com.example.headers", &()).await?;
    assert_eq!(
        out,
        json!({
            "proxy": {"did": "did:web:api.bsky.app", "service": "bsky_appview"},
            "labelers": [
                {"did": "did:plc:ar7c4by46qjdydhdevvrndac", "redact": true},
                {"did": "did:web:labeler.example.com", "redact": false},
            ],
        })
    );
    // A call's own proxy replaces the client's.
    let out: Value = client
        .query_with(
            "com.example.headers",
            &(),
            CallOptions::new().proxy("did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto_labeler".parse()?),
        )
        .await?;
    assert_eq!(
        out["proxy"],
        json!({"did": DID, "service": "atproto_labeler"})
    );
    // None sent, none seen.
    let out: Value = self::client(&base)
        .query("com.example.headers", &())
        .await?;
    assert_eq!(out, json!({"proxy": null, "labelers": null}));
    Ok(())
}

#[tokio::test]
async fn array_params_arrive_as_arrays_in_order() -> TestResult {
    let (base, _) = start().await;
    let client = client(&base);
    let actors = ["zed.test", DID, "alice.test", "bob.example.com"];
    let out: Value = client
        .query("app.bsky.actor.getProfiles", &json!({"actors": actors}))
        .await?;
    assert_eq!(out["actors"], json!(actors));
    // One element is still an array.
    let out: Value = client
        .query("app.bsky.actor.getProfiles", &json!({"actors": [HANDLE]}))
        .await?;
    assert_eq!(out["actors"], json!([HANDLE]));
    // The lexicon's maxLength (25) and item format are checked.
    let many: Vec<String> = (0..26).map(|i| format!("user{i}.test")).collect();
    assert_invalid(
        client
            .query::<_, Value>("app.bsky.actor.getProfiles", &json!({"actors": many}))
            .await,
        "invalid app.bsky.actor.getProfiles parameters",
    );
    let e = xrpc_err(
        client
            .query::<_, Value>(
                "app.bsky.actor.getProfiles",
                &json!({"actors": [HANDLE, "not an identifier"]}),
            )
            .await,
    );
    assert_eq!((e.status, e.name.as_str()), (400, "InvalidRequest"));
    // Outside the catalog: serde reads repeated keys into sequences, and
    // text that needs escaping survives the round trip.
    let tags = ["b&c", "a=1", "ü ñ", "#x", "1+1", "100%", "", "a"];
    let out: Value = client
        .query("com.example.tags", &json!({"tag": tags, "n": [3, 1, 2]}))
        .await?;
    assert_eq!(out, json!({"tag": tags, "n": [3, 1, 2]}));
    // The server's query limits: 256 pairs and 8 KiB.
    let pairs: Vec<String> = (0..255).map(|i| i.to_string()).collect();
    let out: Value = client
        .query("com.example.tags", &json!({"tag": pairs, "n": [1]}))
        .await?;
    assert_eq!(out["tag"].as_array().map(Vec::len), Some(255));
    let too_many: Vec<String> = (0..256).map(|i| i.to_string()).collect();
    assert_invalid(
        client
            .query::<_, Value>("com.example.tags", &json!({"tag": too_many, "n": [1]}))
            .await,
        "invalid query string",
    );
    assert_invalid(
        client
            .query::<_, Value>(
                "com.example.tags",
                &json!({"tag": ["x".repeat(8 * 1024)], "n": [1]}),
            )
            .await,
        "invalid query string",
    );
    Ok(())
}

#[tokio::test]
async fn blob_bodies_round_trip_exactly() -> TestResult {
    let (base, shared) = start().await;
    let client = client(&base);
    let blob = Bytes::from(pattern(1024 * 1024));
    let out: Value = client
        .procedure_raw(
            "com.atproto.repo.uploadBlob",
            &(),
            blob.clone(),
            "image/webp",
        )
        .await?;
    assert_eq!(out, json!({"blob": blob_ref("image/webp", &blob)}));
    assert_eq!(out["blob"]["size"], 1024 * 1024);
    let (mime, got) = shared.upload.lock().unwrap().take().unwrap();
    assert_eq!(mime, "image/webp");
    assert!(got == blob, "the uploaded bytes differ");
    // Parameters of the content type are not part of the MIME type.
    let _: Value = client
        .procedure_raw(
            "com.atproto.repo.uploadBlob",
            &(),
            Bytes::from_static(b"hello"),
            "Text/Plain; charset=utf-8",
        )
        .await?;
    let (mime, got) = shared.upload.lock().unwrap().take().unwrap();
    assert_eq!((mime.as_str(), &got[..]), ("text/plain", &b"hello"[..]));

    let (content_type, car) = client
        .query_raw("com.atproto.sync.getRepo", &json!({"did": DID}))
        .await?;
    assert_eq!(content_type, CAR);
    assert_eq!(car.len(), 300_000);
    assert!(car == pattern(300_000), "the CAR bytes differ");
    Ok(())
}

/// A blob that happens to be JSON is bytes, not ATProto data: a validating
/// client sends and reads it as it is, floats and all, since neither
/// `uploadBlob`'s input nor `getBlob`'s output has a schema.
#[tokio::test]
async fn json_blobs_are_not_validated_as_data() -> TestResult {
    let (base, shared) = start().await;
    let client = client(&base).with_validation(catalog());
    let blob = Bytes::from_static(br#"{"half": 0.5, "big": 1e300}"#);
    let out: Value = client
        .procedure_raw(
            "com.atproto.repo.uploadBlob",
            &(),
            blob.clone(),
            "application/json",
        )
        .await?;
    assert_eq!(out["blob"], blob_ref("application/json", &blob));
    let params =
        json!({"did": DID, "cid": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"});
    let (content_type, got) = client
        .query_raw("com.atproto.sync.getBlob", &params)
        .await?;
    assert_eq!(
        (content_type.as_str(), got),
        ("application/json", blob.clone())
    );
    // Where there is a schema, the JSON is still checked.
    match client
        .procedure::<_, _, Value>(
            "com.atproto.server.createSession",
            &(),
            &json!({"identifier": HANDLE, "password": 1.5}),
        )
        .await
    {
        Err(ClientError::Validation { part, .. }) => assert_eq!(part, "input"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(shared.upload.lock().unwrap().is_some());

    // On the server too: `Input` on a catalog method without an input
    // schema reads the JSON with serde alone.
    let router = XrpcRouter::<()>::new()
        .catalog(catalog())
        .procedure("com.atproto.repo.uploadBlob", echo)
        .build()?;
    let client = self::client(&serve(router).await);
    let out: Value = client
        .procedure_raw("com.atproto.repo.uploadBlob", &(), blob, "application/json")
        .await?;
    assert_eq!(out, json!({"half": 0.5, "big": 1e300}));
    Ok(())
}

#[tokio::test]
async fn response_size_limit_of_the_client() -> TestResult {
    let (base, _) = start().await;
    const LIMIT: usize = 64 * 1024;
    let client =
        XrpcClient::with_http(&base, ReqwestClient::new()?.with_max_response_bytes(LIMIT))?;
    for chunked in [false, true] {
        let (_, body) = client
            .query_raw(
                "com.example.big",
                &json!({"size": LIMIT, "chunked": chunked}),
            )
            .await?;
        assert_eq!(body.len(), LIMIT, "chunked: {chunked}");
        let result = client
            .query_raw(
                "com.example.big",
                &json!({"size": LIMIT + 1, "chunked": chunked}),
            )
            .await;
        match result {
            Err(ClientError::Transport(TransportError::BodyTooLarge { url, limit })) => {
                assert_eq!(limit, LIMIT);
                assert!(
                    url.starts_with(&format!("{base}/xrpc/com.example.big?")),
                    "{url}"
                );
            }
            other => panic!("expected BodyTooLarge (chunked: {chunked}), got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn call_timeout_of_the_client() -> TestResult {
    let (base, _) = start().await;
    let client = client(&base).with_timeout(Duration::from_millis(100));
    let started = std::time::Instant::now();
    match client.query::<_, Value>("com.example.slow", &()).await {
        Err(ClientError::Transport(TransportError::Timeout { url })) => {
            assert_eq!(url, format!("{base}/xrpc/com.example.slow"));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn router_nested_under_a_path_prefix() -> TestResult {
    let (router, _) = app();
    let base = serve(axum::Router::new().nest("/pds", router)).await;
    let client = client(&format!("{base}/pds/"));
    let out: Value = client
        .query("app.bsky.feed.getTimeline", &json!({"limit": 3}))
        .await?;
    assert_eq!(out["limit"], 3);
    let e = xrpc_err(client.query::<_, Value>("com.example.nothing", &()).await);
    assert_error(&e, 501, "MethodNotImplemented", "Method Not Implemented");
    assert_invalid(
        client.query::<_, Value>("com.example.echo", &()).await,
        "Incorrect HTTP method (GET)",
    );
    Ok(())
}

/// A catalog-validated JSON input with ATProto's `$type`, `$link` and
/// `$bytes` objects reaches the handler unchanged (read as the data model,
/// validated, written back as JSON).
#[tokio::test]
async fn atproto_json_input_survives_validation() -> TestResult {
    let router = XrpcRouter::<()>::new()
        .catalog(catalog())
        .procedure("com.atproto.repo.createRecord", echo)
        .build()?;
    let base = serve(router).await;
    let client = client(&base);
    let input = json!({
        "repo": DID,
        "collection": "app.bsky.feed.post",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": "hi ü",
            "createdAt": "2024-01-01T00:00:00.000Z",
            "embed": {
                "$type": "app.bsky.embed.images",
                "images": [{
                    "alt": "",
                    "image": {
                        "$type": "blob",
                        "ref": {"$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},
                        "mimeType": "image/png",
                        "size": 12345
                    }
                }]
            },
            "facets": [],
            "bytesField": {"$bytes": "AAEC"},
            "big": 9007199254740991i64
        }
    });
    let out: Value = client
        .procedure("com.atproto.repo.createRecord", &(), &input)
        .await?;
    assert_eq!(out, input);
    // The record's fields are the data model's: a float is refused.
    let mut float = input.clone();
    float["record"]["big"] = json!(1.5);
    assert_invalid(
        client
            .procedure::<_, _, Value>("com.atproto.repo.createRecord", &(), &float)
            .await,
        "invalid JSON body",
    );
    Ok(())
}
