//! The XRPC client against a small axum server on 127.0.0.1: status
//! mapping, retries, headers, parameters, raw bodies, limits, validation,
//! sessions with single-flight refresh, and the session stores.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use atproto_xrpc::client::{
    CallOptions, ClientError, FileSessionStore, MemorySessionStore, RetryPolicy, Session,
    SessionClient, SessionStore, Timer, XrpcCall, XrpcClient, XrpcRequest,
};
use atproto_xrpc::transport::BoxFuture;
use atproto_xrpc::{
    ErrorName, LabelerList, ProxyTarget, QueryParams, RateLimit, RateLimitPolicy, ReqwestClient,
    RetryAfter, TransportError,
};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The server's state: counters and the session it issues.
#[derive(Default)]
struct Srv {
    /// Every request, in order: (method, nsid, raw query).
    log: Mutex<Vec<(String, String, String)>>,
    /// Calls of `com.example.flaky`.
    flaky: AtomicUsize,
    /// The last upload: content type and bytes.
    blob: Mutex<Option<(String, Bytes)>>,
    /// The token generation: valid tokens are access-<gen>, refresh-<gen>.
    generation: AtomicUsize,
    /// Whether access-<gen> is still accepted.
    access_valid: AtomicBool,
    /// Whether refreshSession refuses every token.
    refresh_refused: AtomicBool,
    refreshes: AtomicUsize,
    /// ExpiredToken answers sent.
    expired: AtomicUsize,
    deletes: AtomicUsize,
}

impl Srv {
    fn calls(&self, nsid: &str) -> usize {
        self.log
            .lock()
            .map(|l| l.iter().filter(|(_, n, _)| n == nsid).count())
            .unwrap_or(0)
    }
}

fn json_response(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn xrpc_error(status: u16, name: &str, message: &str) -> Response {
    json_response(status, json!({"error": name, "message": message}))
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

fn session_json(generation: usize) -> Value {
    json!({
        "did": "did:plc:alice",
        "handle": "alice.test",
        "accessJwt": format!("access-{generation}"),
        "refreshJwt": format!("refresh-{generation}"),
        "email": "alice@example.com",
        "emailConfirmed": true,
        "active": true,
        "didDoc": {"id": "did:plc:alice"}
    })
}

/// Checks the access token: `Ok` when it is the current one, else the
/// reference PDS's answer (400 ExpiredToken for an old or expired token).
fn check_access(s: &Srv, headers: &HeaderMap) -> Result<String, Response> {
    let token = bearer(headers);
    let current = format!("access-{}", s.generation.load(Ordering::SeqCst));
    if token == current && s.access_valid.load(Ordering::SeqCst) {
        Ok(token)
    } else if token.starts_with("access-") {
        s.expired.fetch_add(1, Ordering::SeqCst);
        Err(xrpc_error(400, "ExpiredToken", "Token has expired"))
    } else {
        Err(xrpc_error(401, "AuthenticationRequired", "no token"))
    }
}

async fn handle(State(s): State<Arc<Srv>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let nsid = parts
        .uri
        .path()
        .strip_prefix("/xrpc/")
        .unwrap_or_default()
        .to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    if let Ok(mut log) = s.log.lock() {
        log.push((parts.method.to_string(), nsid.clone(), raw_query.clone()));
    }
    let params = QueryParams::decode(&raw_query).unwrap_or_default();
    let param = |name: &str| params.get(name).unwrap_or_default().to_owned();
    let headers = parts.headers;
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    match nsid.as_str() {
        "com.example.echo" => json_response(
            200,
            json!({
                "method": parts.method.to_string(),
                "query": raw_query,
                "params": params.pairs(),
                "proxy": header_text("atproto-proxy"),
                "labelers": header_text("atproto-accept-labelers"),
                "authorization": header_text("authorization"),
                "userAgent": header_text("user-agent"),
                "extra": header_text("x-extra"),
                "body": String::from_utf8_lossy(&body),
                "contentType": header_text("content-type"),
            }),
        ),
        "com.example.status" => {
            let status: u16 = param("status").parse().unwrap_or(500);
            let mut response = if params.get("raw").is_some() {
                (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    [(header::CONTENT_TYPE, "text/html")],
                    param("raw"),
                )
                    .into_response()
            } else {
                xrpc_error(status, &param("name"), &param("message"))
            };
            if params.get("limited").is_some() {
                let h = response.headers_mut();
                for (name, value) in [
                    ("retry-after", "30"),
                    ("ratelimit-limit", "100"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "1700000000"),
                    ("ratelimit-policy", "100;w=300"),
                ] {
                    h.insert(
                        name,
                        value
                            .parse()
                            .unwrap_or(header::HeaderValue::from_static("")),
                    );
                }
            }
            response
        }
        "com.example.flaky" => {
            let n = s.flaky.fetch_add(1, Ordering::SeqCst);
            let fails: usize = param("fails").parse().unwrap_or(0);
            if n < fails {
                let status: u16 = param("status").parse().unwrap_or(503);
                let mut response = xrpc_error(status, "Flaky", "try again");
                if let Some(after) = params.get("retryAfter")
                    && let Ok(v) = after.parse()
                {
                    response.headers_mut().insert("retry-after", v);
                }
                response
            } else {
                json_response(200, json!({"attempt": n + 1}))
            }
        }
        "com.example.upload" => {
            let content_type = header_text("content-type").unwrap_or_default();
            let size = body.len();
            if let Ok(mut blob) = s.blob.lock() {
                *blob = Some((content_type.clone(), body));
            }
            json_response(200, json!({"size": size, "mimeType": content_type}))
        }
        "com.example.download" => match s.blob.lock().ok().and_then(|b| b.clone()) {
            Some((content_type, bytes)) => {
                ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
            }
            None => xrpc_error(400, "BlobNotFound", "nothing uploaded"),
        },
        "com.example.text" => ([(header::CONTENT_TYPE, "text/plain")], "hello").into_response(),
        "com.example.big" => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from(vec![7u8; 4096]),
        )
            .into_response(),
        "com.example.slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            json_response(200, json!({}))
        }
        "com.atproto.identity.resolveHandle" => json_response(200, json!({"did": param("did")})),
        "com.atproto.server.createSession" => {
            let input: Value = serde_json::from_slice(&body).unwrap_or_default();
            if input["identifier"] == "alice.test" && input["password"] == "hunter2" {
                let generation = s.generation.fetch_add(1, Ordering::SeqCst) + 1;
                s.access_valid.store(true, Ordering::SeqCst);
                json_response(200, session_json(generation))
            } else {
                xrpc_error(
                    401,
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                )
            }
        }
        "com.atproto.server.getSession" => match check_access(&s, &headers) {
            Ok(_) => json_response(
                200,
                json!({"did": "did:plc:alice", "handle": "alice2.test", "email": "new@example.com", "active": true}),
            ),
            Err(r) => r,
        },
        "com.atproto.server.refreshSession" => {
            s.refreshes.fetch_add(1, Ordering::SeqCst);
            let generation = s.generation.load(Ordering::SeqCst);
            if s.refresh_refused.load(Ordering::SeqCst)
                || bearer(&headers) != format!("refresh-{generation}")
            {
                return xrpc_error(400, "ExpiredToken", "Token has been revoked");
            }
            // Long enough for concurrent callers to pile up behind it.
            tokio::time::sleep(Duration::from_millis(150)).await;
            s.generation.store(generation + 1, Ordering::SeqCst);
            s.access_valid.store(true, Ordering::SeqCst);
            let mut answer = session_json(generation + 1);
            if let Some(m) = answer.as_object_mut() {
                m.remove("email");
                m.remove("emailConfirmed");
            }
            json_response(200, answer)
        }
        "com.atproto.server.deleteSession" => {
            let generation = s.generation.load(Ordering::SeqCst);
            if bearer(&headers) == format!("refresh-{generation}") {
                s.deletes.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK.into_response()
            } else {
                xrpc_error(400, "InvalidToken", "bad refresh token")
            }
        }
        "com.example.authed" => match check_access(&s, &headers) {
            Ok(token) => json_response(200, json!({"token": token})),
            Err(r) => r,
        },
        _ => xrpc_error(501, "MethodNotImplemented", "Method Not Implemented"),
    }
}

async fn serve() -> Result<(String, Arc<Srv>), Box<dyn std::error::Error>> {
    let srv = Arc::new(Srv::default());
    let app = axum::Router::new().fallback(handle).with_state(srv.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}"), srv))
}

/// A timer that records the waits and returns at once, at a fixed "now".
#[derive(Clone)]
struct RecordingTimer {
    sleeps: Arc<Mutex<Vec<Duration>>>,
    now: SystemTime,
}

impl RecordingTimer {
    fn new() -> Self {
        Self {
            sleeps: Arc::default(),
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Timer for RecordingTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        if let Ok(mut s) = self.sleeps.lock() {
            s.push(duration);
        }
        Box::pin(async {})
    }

    fn now(&self) -> SystemTime {
        self.now
    }
}

fn no_retry(base: &str) -> Result<XrpcClient, ClientError> {
    Ok(XrpcClient::new(base)?.with_retry(RetryPolicy::none()))
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(10),
        jitter: 0.0,
    }
}

fn xrpc_err(result: Result<Value, ClientError>) -> atproto_xrpc::XrpcError {
    match result {
        Err(ClientError::Xrpc(e)) => *e,
        other => panic!("expected an XRPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn every_error_status_maps_to_its_name_and_status() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = no_retry(&base)?;
    let cases: &[(u16, &str)] = &[
        (400, "InvalidRequest"),
        (401, "AuthenticationRequired"),
        (403, "Forbidden"),
        (404, "XRPCNotSupported"),
        (413, "PayloadTooLarge"),
        (500, "InternalServerError"),
        (501, "MethodNotImplemented"),
        (502, "UpstreamFailure"),
        (503, "NotEnoughResources"),
        (504, "UpstreamTimeout"),
        (400, "RecordNotFound"),
    ];
    for &(status, name) in cases {
        let params = json!({"status": status, "name": name, "message": format!("m{status}")});
        let e = xrpc_err(client.query("com.example.status", &params).await);
        assert_eq!(e.status, status, "{name}");
        assert_eq!(e.name.as_str(), name);
        assert_eq!(e.message.as_deref(), Some(format!("m{status}").as_str()));
        assert_eq!(e.retry_after, None);
        assert_eq!(e.rate_limit, None);
    }
    // Bodies that are not XRPC errors: the status's standard name.
    for (status, name) in [
        (500, ErrorName::InternalServerError),
        (404, ErrorName::XRPCNotSupported),
        (413, ErrorName::PayloadTooLarge),
        (418, ErrorName::InvalidRequest),
    ] {
        let params = json!({"status": status, "raw": "<html>oops</html>"});
        let e = xrpc_err(client.query("com.example.status", &params).await);
        assert_eq!((e.status, e.name, e.message), (status, name, None));
    }
    // An unknown method on the reference server.
    let e = xrpc_err(client.query("com.example.nothing", &()).await);
    assert_eq!((e.status, e.name), (501, ErrorName::MethodNotImplemented));
    Ok(())
}

#[tokio::test]
async fn rate_limit_headers_are_kept() -> TestResult {
    let (base, srv) = serve().await?;
    let client = no_retry(&base)?;
    let params =
        json!({"status": 429, "name": "RateLimitExceeded", "message": "slow down", "limited": 1});
    let error = client
        .query::<_, Value>("com.example.status", &params)
        .await;
    let Err(error) = error else {
        panic!("429 must fail")
    };
    assert_eq!(error.status(), Some(429));
    assert!(error.to_string().contains("429"), "{error}");
    let e = error.xrpc().ok_or("no XRPC error")?;
    assert_eq!(e.name, ErrorName::RateLimitExceeded);
    assert_eq!(e.retry_after, Some(RetryAfter::Seconds(30)));
    assert_eq!(
        e.rate_limit,
        Some(RateLimit {
            limit: 100,
            remaining: 0,
            reset: 1_700_000_000,
            policy: Some(RateLimitPolicy {
                limit: 100,
                window_secs: 300
            }),
        })
    );
    assert_eq!(
        srv.calls("com.example.status"),
        1,
        "RetryPolicy::none sends once"
    );
    Ok(())
}

#[tokio::test]
async fn queries_retry_transient_failures_with_backoff() -> TestResult {
    let (base, srv) = serve().await?;
    let timer = RecordingTimer::new();
    let client = XrpcClient::new(&base)?
        .with_retry(policy(3))
        .with_timer(timer.clone());
    let out: Value = client
        .query("com.example.flaky", &json!({"fails": 2, "status": 503}))
        .await?;
    assert_eq!(out["attempt"], 3);
    assert_eq!(srv.calls("com.example.flaky"), 3);
    assert_eq!(
        timer.sleeps(),
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
    Ok(())
}

#[tokio::test]
async fn retries_stop_at_max_attempts() -> TestResult {
    let (base, srv) = serve().await?;
    let timer = RecordingTimer::new();
    let client = XrpcClient::new(&base)?
        .with_retry(policy(3))
        .with_timer(timer.clone());
    let e = xrpc_err(
        client
            .query("com.example.flaky", &json!({"fails": 10, "status": 502}))
            .await,
    );
    assert_eq!(e.status, 502);
    assert_eq!(srv.calls("com.example.flaky"), 3);
    assert_eq!(timer.sleeps().len(), 2);
    Ok(())
}

#[tokio::test]
async fn non_transient_errors_are_not_retried() -> TestResult {
    let (base, srv) = serve().await?;
    let timer = RecordingTimer::new();
    let client = XrpcClient::new(&base)?
        .with_retry(policy(5))
        .with_timer(timer.clone());
    for status in [400, 401, 500, 501] {
        let e = xrpc_err(
            client
                .query(
                    "com.example.status",
                    &json!({"status": status, "name": "X"}),
                )
                .await,
        );
        assert_eq!(e.status, status);
    }
    assert_eq!(srv.calls("com.example.status"), 4);
    assert!(timer.sleeps().is_empty());
    Ok(())
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped() -> TestResult {
    let (base, srv) = serve().await?;
    let timer = RecordingTimer::new();
    let client = XrpcClient::new(&base)?
        .with_retry(policy(2))
        .with_timer(timer.clone());
    let _: Value = client
        .query(
            "com.example.flaky",
            &json!({"fails": 1, "status": 429, "retryAfter": "7"}),
        )
        .await?;
    assert_eq!(timer.sleeps(), [Duration::from_secs(7)]);

    // An HTTP date, measured from the timer's clock.
    srv.flaky.store(0, Ordering::SeqCst);
    let date = httpdate::fmt_http_date(timer.now + Duration::from_secs(4));
    let _: Value = client
        .query(
            "com.example.flaky",
            &json!({"fails": 1, "status": 503, "retryAfter": date}),
        )
        .await?;
    assert_eq!(timer.sleeps()[1], Duration::from_secs(4));

    // More than the policy's max_delay: capped.
    srv.flaky.store(0, Ordering::SeqCst);
    let _: Value = client
        .query(
            "com.example.flaky",
            &json!({"fails": 1, "status": 429, "retryAfter": "3600"}),
        )
        .await?;
    assert_eq!(timer.sleeps()[2], Duration::from_secs(10));
    assert_eq!(srv.calls("com.example.flaky"), 6);
    Ok(())
}

#[tokio::test]
async fn procedures_retry_only_when_the_server_did_not_process_them() -> TestResult {
    let (base, srv) = serve().await?;
    let timer = RecordingTimer::new();
    let client = XrpcClient::new(&base)?
        .with_retry(policy(3))
        .with_timer(timer.clone());
    let input = json!({"x": 1});
    for status in [502, 504, 500] {
        srv.flaky.store(0, Ordering::SeqCst);
        let e = xrpc_err(
            client
                .procedure(
                    "com.example.flaky",
                    &json!({"fails": 1, "status": status}),
                    &input,
                )
                .await,
        );
        assert_eq!(e.status, status);
    }
    assert_eq!(
        srv.calls("com.example.flaky"),
        3,
        "502, 504, 500: one attempt each"
    );
    for status in [429, 503] {
        srv.flaky.store(0, Ordering::SeqCst);
        let out: Value = client
            .procedure(
                "com.example.flaky",
                &json!({"fails": 1, "status": status}),
                &input,
            )
            .await?;
        assert_eq!(out["attempt"], 2);
    }
    assert_eq!(srv.calls("com.example.flaky"), 7);
    assert_eq!(timer.sleeps().len(), 2);
    Ok(())
}

#[tokio::test]
async fn transport_errors_retry_queries_only() -> TestResult {
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let timer = RecordingTimer::new();
    let client = XrpcClient::new(&base)?
        .with_retry(policy(3))
        .with_timer(timer.clone());
    let r: Result<Value, _> = client.query("com.example.echo", &()).await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(TransportError::Connect { .. }))
        ),
        "{r:?}"
    );
    assert_eq!(timer.sleeps().len(), 2);
    let r: Result<Value, _> = client.procedure("com.example.echo", &(), &json!({})).await;
    assert!(matches!(r, Err(ClientError::Transport(_))), "{r:?}");
    assert_eq!(timer.sleeps().len(), 2, "a procedure is not retried");
    Ok(())
}

#[derive(Serialize)]
struct EchoParams<'a> {
    tags: Vec<&'a str>,
    limit: i64,
    flag: bool,
    cursor: Option<&'a str>,
}

#[tokio::test]
async fn params_arrays_repeat_the_key_and_scalars_are_text() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = no_retry(&base)?;
    let params = EchoParams {
        tags: vec!["a", "b c", "d&e"],
        limit: 5,
        flag: true,
        cursor: None,
    };
    let out: Value = client.query("com.example.echo", &params).await?;
    assert_eq!(out["method"], "GET");
    assert_eq!(
        out["params"],
        json!([
            ["tags", "a"],
            ["tags", "b c"],
            ["tags", "d&e"],
            ["limit", "5"],
            ["flag", "true"]
        ])
        .as_array()
        .map(|a| {
            let mut v = a.clone();
            v.sort_by_key(|p| p[0].to_string());
            Value::Array(v)
        })
        .ok_or("array")?
    );
    let query = out["query"].as_str().ok_or("query")?;
    assert!(query.contains("tags=a&tags=b+c&tags=d%26e"), "{query}");
    assert!(!query.contains("cursor"), "None is left out: {query}");

    // Nested objects are refused before sending.
    let r: Result<Value, _> = client
        .query("com.example.echo", &json!({"a": {"b": 1}}))
        .await;
    assert!(
        matches!(r, Err(ClientError::Encode { ref nsid, .. }) if nsid == "com.example.echo"),
        "{r:?}"
    );
    // So is a bad NSID.
    let r: Result<Value, _> = client.query("not an nsid", &()).await;
    assert!(matches!(r, Err(ClientError::InvalidNsid { .. })), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn headers_proxy_labelers_bearer_user_agent() -> TestResult {
    let (base, _srv) = serve().await?;
    let proxy: ProxyTarget = "did:web:api.bsky.app#bsky_appview".parse()?;
    let labelers: LabelerList = "did:plc:ar7c4by46qjdydhdevvrndac;redact".parse()?;
    let client = no_retry(&base)?
        .with_proxy(proxy)
        .with_accept_labelers(labelers)
        .with_user_agent("atp-test/1")
        .with_header("x-extra", "yes");
    let out: Value = client.query("com.example.echo", &()).await?;
    assert_eq!(out["proxy"], "did:web:api.bsky.app#bsky_appview");
    assert_eq!(out["labelers"], "did:plc:ar7c4by46qjdydhdevvrndac;redact");
    assert_eq!(out["userAgent"], "atp-test/1");
    assert_eq!(out["extra"], "yes");
    assert_eq!(out["authorization"], Value::Null);

    // Per call: another proxy, a bearer token.
    let options = CallOptions::new()
        .proxy("did:web:mod.example#atproto_labeler".parse()?)
        .bearer("tok");
    let out: Value = client.query_with("com.example.echo", &(), options).await?;
    assert_eq!(out["proxy"], "did:web:mod.example#atproto_labeler");
    assert_eq!(out["authorization"], "Bearer tok");

    // Default user agent: the transport's.
    let out: Value = no_retry(&base)?.query("com.example.echo", &()).await?;
    assert!(
        out["userAgent"]
            .as_str()
            .is_some_and(|u| u.starts_with("atproto-xrpc/"))
    );
    Ok(())
}

#[tokio::test]
async fn blob_upload_and_download_round_trip() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = no_retry(&base)?;
    let blob: Bytes = (0..=255u8).cycle().take(10_000).collect::<Vec<u8>>().into();
    let out: Value = client
        .procedure_raw("com.example.upload", &(), blob.clone(), "image/png")
        .await?;
    assert_eq!(out, json!({"size": 10_000, "mimeType": "image/png"}));
    let (content_type, bytes) = client.query_raw("com.example.download", &()).await?;
    assert_eq!(content_type, "image/png");
    assert_eq!(bytes, blob);
    Ok(())
}

#[tokio::test]
async fn escape_hatch_sends_any_method_and_body() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = no_retry(&base)?;
    let mut params = QueryParams::new();
    params.push_array("uri", ["at://a", "at://b"]);
    let request = XrpcRequest::procedure("com.example.echo")?
        .with_params(params)
        .with_body(&b"{\"k\":true}"[..], "application/json")
        .with_options(CallOptions::new().header("x-extra", "1"));
    assert_eq!(
        client.url(&request),
        format!("{base}/xrpc/com.example.echo?uri=at%3A%2F%2Fa&uri=at%3A%2F%2Fb")
    );
    let response = client.send(request).await?;
    assert_eq!(response.status, 200);
    assert!(response.is_json());
    let out: Value = response.json("com.example.echo")?;
    assert_eq!(out["method"], "POST");
    assert_eq!(out["body"], "{\"k\":true}");
    assert_eq!(out["contentType"], "application/json");
    assert_eq!(out["extra"], "1");

    // A procedure whose input is `()` sends no body.
    let out: Value = client.procedure("com.example.echo", &(), &()).await?;
    assert_eq!(
        (out["body"].as_str(), &out["contentType"]),
        (Some(""), &Value::Null)
    );
    Ok(())
}

#[tokio::test]
async fn undecodable_output_is_a_decode_error() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = no_retry(&base)?;
    let r: Result<Value, _> = client.query("com.example.text", &()).await;
    assert!(
        matches!(r, Err(ClientError::Decode { ref nsid, .. }) if nsid == "com.example.text"),
        "{r:?}"
    );
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Wrong {
        missing: String,
    }
    let r: Result<Wrong, _> = client.query("com.example.echo", &()).await;
    assert!(matches!(r, Err(ClientError::Decode { .. })), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn response_size_limit_and_timeout() -> TestResult {
    let (base, _srv) = serve().await?;
    let http = ReqwestClient::new()?.with_max_response_bytes(1024);
    let client = XrpcClient::with_http(&base, http)?.with_retry(RetryPolicy::none());
    let r = client.query_raw("com.example.big", &()).await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(TransportError::BodyTooLarge {
                limit: 1024,
                ..
            }))
        ),
        "{r:?}"
    );
    let (_, small) = no_retry(&base)?.query_raw("com.example.big", &()).await?;
    assert_eq!(small.len(), 4096);

    let started = std::time::Instant::now();
    let options = CallOptions::new().timeout(Duration::from_millis(100));
    let r: Result<Value, _> = client.query_with("com.example.slow", &(), options).await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(TransportError::Timeout { .. }))
        ),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let client = client.with_timeout(Duration::from_millis(100));
    let r: Result<Value, _> = client.query("com.example.slow", &()).await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(TransportError::Timeout { .. }))
        ),
        "{r:?}"
    );
    Ok(())
}

#[tokio::test]
async fn service_urls_are_checked() {
    for bad in [
        "ftp://x.example",
        "http://",
        "x.example",
        "https://x.example/?q=1",
        "https://x.example/#f",
    ] {
        assert!(
            matches!(
                XrpcClient::new(bad),
                Err(ClientError::InvalidService { .. })
            ),
            "{bad}"
        );
    }
    let client = XrpcClient::new("https://pds.example:8443/").map(|c| c.service().to_owned());
    assert_eq!(client.ok().as_deref(), Some("https://pds.example:8443"));
}

#[tokio::test]
async fn lexicon_validation_checks_params_input_and_output() -> TestResult {
    let (base, srv) = serve().await?;
    let client = no_retry(&base)?.with_validation(atproto_lexicon::bundled::catalog());
    let part = |r: Result<Value, ClientError>| match r {
        Err(ClientError::Validation { part, .. }) => part,
        other => panic!("expected a validation error, got {other:?}"),
    };
    // Not in the catalog.
    assert_eq!(part(client.query("com.example.echo", &()).await), "method");
    // A procedure called as a query.
    assert_eq!(
        part(client.query("com.atproto.repo.createRecord", &()).await),
        "method"
    );
    // Missing required parameter.
    assert_eq!(
        part(
            client
                .query("com.atproto.identity.resolveHandle", &())
                .await
        ),
        "params"
    );
    // Input without its required fields.
    let r = client
        .procedure(
            "com.atproto.repo.createRecord",
            &(),
            &json!({"repo": "did:plc:alice"}),
        )
        .await;
    assert_eq!(part(r), "input");
    assert_eq!(
        srv.log.lock().map(|l| l.len()).unwrap_or(99),
        0,
        "nothing was sent"
    );
    // Output that breaks the schema: `did` must be a DID.
    let params = json!({"handle": "alice.test", "did": "not-a-did"});
    assert_eq!(
        part(
            client
                .query("com.atproto.identity.resolveHandle", &params)
                .await
        ),
        "output"
    );
    let params = json!({"handle": "alice.test", "did": "did:plc:alice"});
    let out: Value = client
        .query("com.atproto.identity.resolveHandle", &params)
        .await?;
    assert_eq!(out["did"], "did:plc:alice");
    Ok(())
}

fn session_client(base: &str) -> Result<(SessionClient, Arc<MemorySessionStore>), ClientError> {
    let store = Arc::new(MemorySessionStore::new());
    Ok((SessionClient::new(no_retry(base)?, store.clone()), store))
}

#[tokio::test]
async fn login_calls_resume_and_logout() -> TestResult {
    let (base, srv) = serve().await?;
    let (client, store) = session_client(&base)?;
    let r: Result<Value, _> = client.query("com.example.authed", &()).await;
    assert!(matches!(r, Err(ClientError::NoSession)), "{r:?}");

    let wrong = client.login("alice.test", "wrong", None).await;
    let Err(wrong) = wrong else {
        panic!("a wrong password must fail")
    };
    assert_eq!(
        wrong.xrpc().map(|e| e.name.clone()),
        Some(ErrorName::AuthenticationRequired)
    );
    assert_eq!(client.session(), None);

    let session = client.login("alice.test", "hunter2", None).await?;
    assert_eq!(session.did, "did:plc:alice");
    assert_eq!(session.handle, "alice.test");
    assert_eq!(session.access_jwt, "access-1");
    assert_eq!(session.refresh_jwt, "refresh-1");
    assert_eq!(session.service, base);
    assert_eq!(session.email.as_deref(), Some("alice@example.com"));
    assert_eq!(store.load()?, Some(session.clone()));
    assert!(
        !format!("{session:?}").contains("access-1"),
        "Debug hides tokens"
    );

    let out: Value = client.query("com.example.authed", &()).await?;
    assert_eq!(out["token"], "access-1");

    // Resume in another client: getSession checks it and updates the fields.
    let (other, other_store) = session_client(&base)?;
    let resumed = other.resume(session.clone()).await?;
    assert_eq!(resumed.handle, "alice2.test");
    assert_eq!(resumed.email.as_deref(), Some("new@example.com"));
    assert_eq!(resumed.access_jwt, "access-1");
    assert_eq!(other_store.load()?, Some(resumed));

    // A call with its own bearer token is sent as it is.
    let options = CallOptions::new().bearer("service-token");
    let out: Value = client.query_with("com.example.echo", &(), options).await?;
    assert_eq!(out["authorization"], "Bearer service-token");

    // Resuming a session of another account fails and clears it.
    let (third, third_store) = session_client(&base)?;
    third_store.save(&session)?;
    let bob = Session {
        did: "did:plc:bob".into(),
        ..session.clone()
    };
    let r = third.resume(bob).await;
    assert!(
        matches!(r, Err(ClientError::SessionMismatch { ref expected, ref found })
            if expected == "did:plc:bob" && found == "did:plc:alice"),
        "{r:?}"
    );
    assert_eq!(third.session(), None);
    assert_eq!(third_store.load()?, None);

    // A token the server does not know (401): no current session, store kept.
    let (fourth, fourth_store) = session_client(&base)?;
    fourth_store.save(&session)?;
    let stranger = Session {
        access_jwt: "bogus".into(),
        ..session.clone()
    };
    let r = fourth.resume(stranger).await;
    assert_eq!(r.err().and_then(|e| e.status()), Some(401));
    assert_eq!(fourth.session(), None);
    assert_eq!(fourth_store.load()?, Some(session.clone()));

    client.logout().await?;
    assert_eq!(srv.deletes.load(Ordering::SeqCst), 1);
    assert_eq!(client.session(), None);
    assert_eq!(store.load()?, None);
    assert!(matches!(client.logout().await, Err(ClientError::NoSession)));
    Ok(())
}

#[tokio::test]
async fn expired_token_is_refreshed_once_for_16_concurrent_callers() -> TestResult {
    let (base, srv) = serve().await?;
    let (client, store) = session_client(&base)?;
    client.login("alice.test", "hunter2", None).await?;
    srv.access_valid.store(false, Ordering::SeqCst);

    let client = Arc::new(client);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let client = client.clone();
        tasks.spawn(async move { client.query::<_, Value>("com.example.authed", &()).await });
    }
    let mut n = 0;
    while let Some(result) = tasks.join_next().await {
        let out = result??;
        assert_eq!(out["token"], "access-2");
        n += 1;
    }
    assert_eq!(n, 16);
    assert_eq!(
        srv.refreshes.load(Ordering::SeqCst),
        1,
        "one refresh for all"
    );
    let expired = srv.expired.load(Ordering::SeqCst);
    assert!(
        expired >= 2,
        "several callers saw the token expire ({expired})"
    );
    assert!(
        srv.calls("com.example.authed") >= 17,
        "the first attempts and the retries"
    );
    let session = client.session().ok_or("no session")?;
    assert_eq!(
        (session.access_jwt.as_str(), session.refresh_jwt.as_str()),
        ("access-2", "refresh-2")
    );
    assert_eq!(
        session.email.as_deref(),
        Some("alice@example.com"),
        "kept across refresh"
    );
    assert_eq!(store.load()?, Some(session));
    Ok(())
}

#[tokio::test]
async fn resume_refreshes_an_expired_session() -> TestResult {
    let (base, srv) = serve().await?;
    let (first, _) = session_client(&base)?;
    let session = first.login("alice.test", "hunter2", None).await?;
    srv.access_valid.store(false, Ordering::SeqCst);
    let (client, store) = session_client(&base)?;
    let resumed = client.resume(session).await?;
    assert_eq!(srv.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(resumed.access_jwt, "access-2");
    assert_eq!(resumed.handle, "alice2.test");
    assert_eq!(store.load()?, Some(resumed));
    // refresh() on demand.
    let again = client.refresh().await?;
    assert_eq!(again.refresh_jwt, "refresh-3");
    assert_eq!(again.handle, "alice.test", "the refresh answer's handle");
    assert_eq!(again.email.as_deref(), Some("new@example.com"), "kept");
    Ok(())
}

#[tokio::test]
async fn refused_refresh_clears_the_session() -> TestResult {
    let (base, srv) = serve().await?;
    let (client, store) = session_client(&base)?;
    client.login("alice.test", "hunter2", None).await?;
    srv.access_valid.store(false, Ordering::SeqCst);
    srv.refresh_refused.store(true, Ordering::SeqCst);

    let r: Result<Value, _> = client.query("com.example.authed", &()).await;
    match r {
        Err(ClientError::SessionExpired(e)) => {
            assert_eq!((e.status, e.name.as_str()), (400, "ExpiredToken"))
        }
        other => panic!("expected SessionExpired, got {other:?}"),
    }
    assert_eq!(srv.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        srv.calls("com.example.authed"),
        1,
        "not retried after a failed refresh"
    );
    assert_eq!(client.session(), None);
    assert_eq!(store.load()?, None);
    let r: Result<Value, _> = client.query("com.example.authed", &()).await;
    assert!(matches!(r, Err(ClientError::NoSession)), "{r:?}");
    Ok(())
}

fn sample_session(n: u32) -> Session {
    Session {
        did: "did:plc:alice".into(),
        handle: "alice.test".into(),
        access_jwt: format!("access-{n}"),
        refresh_jwt: format!("refresh-{n}"),
        service: "https://pds.example".into(),
        email: None,
        email_confirmed: None,
        email_auth_factor: None,
        active: Some(true),
        status: None,
    }
}

#[tokio::test]
async fn file_store_round_trip_atomic_and_private() -> TestResult {
    let dir = std::env::temp_dir().join(format!("atproto-xrpc-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("session.json");
    let store = FileSessionStore::new(&path);
    assert_eq!(store.load()?, None);
    store.clear()?;

    store.save(&sample_session(1))?;
    assert_eq!(store.load()?, Some(sample_session(1)));
    let text = std::fs::read_to_string(&path)?;
    let json: Value = serde_json::from_str(&text)?;
    assert_eq!(json["accessJwt"], "access-1");
    assert_eq!(json["refreshJwt"], "refresh-1");
    assert_eq!(json["service"], "https://pds.example");
    assert!(json.get("email").is_none());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)?.permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    store.save(&sample_session(2))?;
    assert_eq!(store.load()?, Some(sample_session(2)));
    let names: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names, ["session.json"], "no temporary file left");

    // A SessionClient restores what the file holds.
    let client = SessionClient::new(XrpcClient::new("https://pds.example")?, store.clone());
    assert_eq!(client.restore()?, Some(sample_session(2)));
    assert_eq!(client.session(), Some(sample_session(2)));

    std::fs::write(&path, "not json")?;
    assert!(store.load().is_err());
    store.clear()?;
    assert_eq!(store.load()?, None);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn backoff_doubles_caps_and_jitters() {
    let p = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        jitter: 0.5,
    };
    assert_eq!(p.backoff(1, 0.0), Duration::from_millis(100));
    assert_eq!(p.backoff(2, 0.0), Duration::from_millis(200));
    assert_eq!(p.backoff(4, 0.0), Duration::from_millis(800));
    assert_eq!(p.backoff(5, 0.0), Duration::from_secs(1));
    assert_eq!(p.backoff(60, 0.0), Duration::from_secs(1));
    assert_eq!(p.backoff(1, 1.0), Duration::from_millis(50));
    assert_eq!(p.backoff(2, 0.5), Duration::from_millis(150));
    let e = ClientError::Xrpc(Box::new(atproto_xrpc::XrpcError::new(
        "RateLimitExceeded",
        None,
    )));
    let now = SystemTime::now();
    assert!(p.retry_delay(&e, 9, false, now).is_some());
    assert_eq!(p.retry_delay(&e, 10, false, now), None);
    assert_eq!(RetryPolicy::none().retry_delay(&e, 1, true, now), None);
}

#[test]
fn params_encoding() -> TestResult {
    let mut m = BTreeMap::new();
    m.insert("a", json!([1, 2]));
    m.insert("b", json!(false));
    m.insert("c", Value::Null);
    let p = atproto_xrpc::client::encode_params("x.y.z", &m)?;
    assert_eq!(p.encode(), "a=1&a=2&b=false");
    assert!(atproto_xrpc::client::encode_params("x.y.z", &json!([1])).is_err());
    assert!(atproto_xrpc::client::encode_params("x.y.z", &json!({"a": [[1]]})).is_err());
    Ok(())
}
