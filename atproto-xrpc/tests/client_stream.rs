//! Streamed XRPC bodies against a small axum server on 127.0.0.1: a 64 MiB
//! download read chunk by chunk, error statuses and retries before the body
//! starts, a streamed upload hashed by the server, a stalled server caught by
//! the idle timeout, and the default `send_streaming` of a transport that
//! only implements `send`.
#![allow(clippy::panic)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atproto_xrpc::client::{
    ClientError, MemorySessionStore, RetryPolicy, Session, SessionClient, Upload, XrpcCall,
    XrpcClient, XrpcRequest,
};
use atproto_xrpc::transport::{
    BodyStream, BoxFuture, DEFAULT_TIMEOUT, HttpRequest, HttpResponse, collect_body, once_stream,
    reader_stream,
};
use atproto_xrpc::{HttpClient, ReqwestClient, SendBody, TransportError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The download: 1024 chunks of 64 KiB, chunk `i` all bytes `i % 251`.
const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 1024;
const TOTAL: usize = CHUNK * CHUNKS;

#[derive(Default)]
struct Srv {
    /// Calls of `com.example.flaky`.
    flaky: AtomicUsize,
    /// Calls of `com.atproto.server.refreshSession`.
    refreshes: AtomicUsize,
    /// Calls of `com.example.authedUpload`.
    authed_uploads: AtomicUsize,
}

fn xrpc_error(status: u16, name: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": name, "message": message}).to_string(),
    )
        .into_response()
}

fn car_body() -> Body {
    Body::from_stream(futures_util::stream::iter(
        (0..CHUNKS).map(|i| Ok::<_, Infallible>(Bytes::from(vec![(i % 251) as u8; CHUNK]))),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn handle(State(s): State<Arc<Srv>>, request: Request) -> Response {
    let nsid = request.uri().path().trim_start_matches("/xrpc/").to_owned();
    let car = [(header::CONTENT_TYPE, "application/vnd.ipld.car")];
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let fresh = bearer == "Bearer fresh";
    match nsid.as_str() {
        "com.atproto.server.refreshSession" if bearer == "Bearer refresh" => {
            s.refreshes.fetch_add(1, Ordering::SeqCst);
            let out = json!({"did": "did:plc:alice", "handle": "alice.test",
                "accessJwt": "fresh", "refreshJwt": "refresh"});
            (
                [(header::CONTENT_TYPE, "application/json")],
                out.to_string(),
            )
                .into_response()
        }
        "com.example.authed" | "com.example.authedUpload" if !fresh => {
            if nsid == "com.example.authedUpload" {
                s.authed_uploads.fetch_add(1, Ordering::SeqCst);
            }
            xrpc_error(400, "ExpiredToken", "Token has expired")
        }
        "com.example.authed" => (car, "for alice").into_response(),
        "com.example.car" => (car, car_body()).into_response(),
        "com.example.missing" => xrpc_error(400, "RepoNotFound", "Could not find repo: did:x"),
        "com.example.flaky" => {
            if s.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                xrpc_error(503, "NotEnoughResources", "busy")
            } else {
                (car, "after a retry").into_response()
            }
        }
        "com.example.hang" => {
            let mut body = request.into_body().into_data_stream();
            while body.next().await.is_some() {}
            std::future::pending::<()>().await;
            xrpc_error(500, "InternalServerError", "unreachable")
        }
        "com.example.stall" => (
            car,
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, Infallible>>()),
        )
            .into_response(),
        "com.example.upload" | "com.example.authedUpload" => {
            let headers = request.headers().clone();
            let text = |name: header::HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let mut body = request.into_body().into_data_stream();
            let mut hasher = Sha256::new();
            let mut bytes = 0usize;
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else {
                    return xrpc_error(400, "InvalidRequest", "body broke off");
                };
                bytes += chunk.len();
                hasher.update(&chunk);
            }
            let out = json!({
                "sha256": hex(&hasher.finalize()),
                "bytes": bytes,
                "contentType": text(header::CONTENT_TYPE),
                "contentLength": text(header::CONTENT_LENGTH),
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                out.to_string(),
            )
                .into_response()
        }
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

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        jitter: 0.0,
    }
}

#[tokio::test]
async fn a_64_mib_car_streams_in_chunks_past_the_buffered_limit() -> TestResult {
    let (base, _srv) = serve().await?;
    let http = ReqwestClient::new()?.with_max_response_bytes(1024 * 1024);
    let client = XrpcClient::with_http(&base, http)?.with_retry(RetryPolicy::none());

    // Held whole, the body is over the limit.
    let whole = client.query_raw("com.example.car", &()).await;
    assert!(
        matches!(
            whole,
            Err(ClientError::Transport(TransportError::BodyTooLarge { .. }))
        ),
        "{whole:?}"
    );

    // Streamed, it is read a chunk at a time.
    let (content_type, mut body) = client.query_stream("com.example.car", &()).await?;
    assert_eq!(content_type, "application/vnd.ipld.car");
    let (mut total, mut chunks, mut largest) = (0usize, 0usize, 0usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        for (offset, byte) in chunk.iter().enumerate() {
            let at = total + offset;
            if *byte != ((at / CHUNK) % 251) as u8 {
                panic!("byte {at} is {byte}");
            }
        }
        total += chunk.len();
        chunks += 1;
        largest = largest.max(chunk.len());
    }
    assert_eq!(total, TOTAL);
    assert!(chunks > 16, "{chunks} chunks");
    assert!(largest <= 1024 * 1024, "a chunk of {largest} bytes");
    Ok(())
}

#[tokio::test]
async fn an_error_status_on_a_stream_is_an_xrpc_error() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = XrpcClient::new(&base)?;
    match client.query_stream("com.example.missing", &()).await {
        Err(ClientError::Xrpc(e)) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.name.as_str(), "RepoNotFound");
            assert_eq!(e.message.as_deref(), Some("Could not find repo: did:x"));
        }
        other => panic!("expected an XRPC error, got {:?}", other.map(|(t, _)| t)),
    }
    Ok(())
}

#[tokio::test]
async fn a_stream_is_retried_before_its_body_starts() -> TestResult {
    let (base, srv) = serve().await?;
    let client = XrpcClient::new(&base)?.with_retry(quick_retry());
    let (_, body) = client.query_stream("com.example.flaky", &()).await?;
    assert_eq!(collect_body(body, 1024).await?, "after a retry");
    assert_eq!(srv.flaky.load(Ordering::SeqCst), 2);
    Ok(())
}

fn upload_chunks() -> (Vec<Bytes>, String, usize) {
    let chunks: Vec<Bytes> = (0..512u32)
        .map(|i| Bytes::from(i.to_le_bytes().repeat(1024 + i as usize)))
        .collect();
    let mut hasher = Sha256::new();
    for c in &chunks {
        hasher.update(c);
    }
    let len = chunks.iter().map(Bytes::len).sum();
    (chunks, hex(&hasher.finalize()), len)
}

fn stream_of(chunks: Vec<Bytes>) -> BodyStream {
    Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)))
}

#[tokio::test]
async fn an_upload_streams_many_chunks_with_or_without_a_length() -> TestResult {
    let (base, _srv) = serve().await?;
    let client = XrpcClient::new(&base)?;
    let (chunks, sha, len) = upload_chunks();

    let out: Value = client
        .procedure_stream(
            "com.example.upload",
            &(),
            stream_of(chunks.clone()),
            "video/mp4",
            Some(len as u64),
        )
        .await?;
    assert_eq!(out["sha256"], sha.as_str());
    assert_eq!(out["bytes"], len);
    assert_eq!(out["contentType"], "video/mp4");
    assert_eq!(out["contentLength"], len.to_string());

    // Without a length it goes chunked.
    let out: Value = client
        .procedure_stream(
            "com.example.upload",
            &(),
            stream_of(chunks),
            "video/mp4",
            None,
        )
        .await?;
    assert_eq!(out["sha256"], sha.as_str());
    assert_eq!(out["contentLength"], Value::Null);

    // A source that fails fails the call.
    let broken: BodyStream = Box::pin(futures_util::stream::iter([
        Ok(Bytes::from_static(b"start")),
        Err(TransportError::Source(std::io::Error::other("disk gone"))),
    ]));
    let r: Result<Value, _> = client
        .procedure_stream("com.example.upload", &(), broken, "video/mp4", None)
        .await;
    assert!(r.is_err(), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn an_upload_from_a_reader_is_read_in_chunks() -> TestResult {
    let (base, _srv) = serve().await?;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
    let expected = hex(&Sha256::digest(&data));
    let chunks: Vec<Bytes> = reader_stream(std::io::Cursor::new(data.clone()), 4096)
        .map(|c| c.unwrap_or_default())
        .collect()
        .await;
    assert_eq!(chunks.len(), data.len().div_ceil(4096));
    let client = XrpcClient::new(&base)?;
    let out: Value = client
        .procedure_stream(
            "com.example.upload",
            &(),
            reader_stream(std::io::Cursor::new(data), 4096),
            "application/octet-stream",
            None,
        )
        .await?;
    assert_eq!(out["sha256"], expected.as_str());
    Ok(())
}

#[tokio::test]
async fn a_stalled_body_fails_with_the_idle_timeout() -> TestResult {
    let (base, _srv) = serve().await?;
    let http = ReqwestClient::new()?.with_idle_timeout(Duration::from_millis(200));
    let client = XrpcClient::with_http(&base, http)?.with_retry(RetryPolicy::none());
    let started = Instant::now();
    let (_, mut body) = client.query_stream("com.example.stall", &()).await?;
    let next = body.next().await;
    assert!(
        matches!(next, Some(Err(TransportError::Timeout { .. }))),
        "{next:?}"
    );
    assert!(body.next().await.is_none());
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < DEFAULT_TIMEOUT,
        "{elapsed:?}"
    );

    // The buffered call fails the same way, not after the request timeout.
    let started = Instant::now();
    let r = client.query_raw("com.example.stall", &()).await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(TransportError::Timeout { .. }))
        ),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

/// A transport with only `send`: it records the request body and answers
/// with a fixed body.
#[derive(Default)]
struct FakeHttp {
    seen: Mutex<Vec<(String, Bytes)>>,
}

impl HttpClient for FakeHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((content_type, request.body().clone()));
        }
        Box::pin(async {
            http::Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Bytes::from_static(br#"{"ok":true}"#))
                .map_err(|e| TransportError::InvalidRequest(e.to_string()))
        })
    }
}

#[tokio::test]
async fn the_default_send_streaming_goes_through_send() -> TestResult {
    let fake = FakeHttp::default();
    let chunks = vec![
        Bytes::from_static(b"one "),
        Bytes::from_static(b"two "),
        Bytes::from_static(b"three"),
    ];
    let request = http::Request::builder()
        .method("POST")
        .uri("http://fake.example/xrpc/com.example.upload")
        .body(SendBody::Stream(stream_of(chunks.clone())))?;
    let response = fake.send_streaming(request).await?;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    assert_eq!(
        body.next().await.transpose()?,
        Some(Bytes::from_static(br#"{"ok":true}"#))
    );
    assert!(body.next().await.is_none());
    assert_eq!(
        fake.seen.lock().map(|s| s[0].1.clone()).ok(),
        Some(Bytes::from_static(b"one two three"))
    );

    // The XRPC client streams over it too.
    let client = XrpcClient::with_http("http://fake.example", &fake)?;
    let out: Value = client
        .procedure_stream(
            "com.example.upload",
            &(),
            stream_of(chunks),
            "text/plain",
            None,
        )
        .await?;
    assert_eq!(out, json!({"ok": true}));
    let (content_type, body) = client.query_stream("com.example.car", &()).await?;
    assert_eq!(content_type, "application/json");
    assert_eq!(collect_body(body, 64).await?, r#"{"ok":true}"#);
    let seen = fake.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[1],
        (
            "text/plain".to_owned(),
            Bytes::from_static(b"one two three")
        )
    );

    // A streamed body has to fit the limit to be collected.
    let r = SendBody::Stream(once_stream(Bytes::from_static(b"0123456789")))
        .collect("http://fake.example/x", 4)
        .await;
    assert!(
        matches!(r, Err(TransportError::RequestTooLarge { limit: 4, .. })),
        "{r:?}"
    );
    let request = XrpcRequest::procedure("com.example.upload")?;
    let upload = Upload::new(
        stream_of(vec![Bytes::from_static(b"x")]),
        "text/plain",
        Some(1),
    );
    let response = client.send_streaming(request, Some(upload)).await?;
    assert_eq!(response.status, 200);
    Ok(())
}

#[tokio::test]
async fn a_session_refreshes_for_a_stream_but_not_for_an_upload() -> TestResult {
    let (base, srv) = serve().await?;
    let stale: Session = serde_json::from_value(json!({"did": "did:plc:alice",
        "handle": "alice.test", "accessJwt": "stale", "refreshJwt": "refresh"}))?;
    let agent = SessionClient::new(XrpcClient::new(&base)?, MemorySessionStore::default());

    // A streamed query is replayable: refreshed and sent again.
    agent.set_session(stale.clone())?;
    let (_, body) = agent.query_stream("com.example.authed", &()).await?;
    assert_eq!(collect_body(body, 64).await?, "for alice");
    assert_eq!(srv.refreshes.load(Ordering::SeqCst), 1);

    // An upload is not: the ExpiredToken answer comes back.
    agent.set_session(stale)?;
    let upload = || stream_of(vec![Bytes::from_static(b"video")]);
    let r: Result<Value, _> = agent
        .procedure_stream("com.example.authedUpload", &(), upload(), "video/mp4", None)
        .await;
    assert!(matches!(&r, Err(e) if e.is_expired_token()), "{r:?}");
    assert_eq!(srv.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(srv.authed_uploads.load(Ordering::SeqCst), 1);

    // The caller refreshes and sends a new stream.
    agent.refresh().await?;
    let out: Value = agent
        .procedure_stream("com.example.authedUpload", &(), upload(), "video/mp4", None)
        .await?;
    assert_eq!(out["bytes"], 5);
    Ok(())
}

#[tokio::test]
async fn the_request_timeout_starts_after_a_streamed_upload() -> TestResult {
    let (base, _srv) = serve().await?;
    let http = ReqwestClient::with_timeouts(Duration::from_millis(300), Duration::from_secs(5))?;
    let client = XrpcClient::with_http(&base, http)?;
    let slow = || -> BodyStream {
        Box::pin(futures_util::stream::iter(0..4u8).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok(Bytes::from(vec![i; 1000]))
        }))
    };

    // The upload takes twice the request timeout, and succeeds.
    let started = Instant::now();
    let out: Value = client
        .procedure_stream("com.example.upload", &(), slow(), "video/mp4", None)
        .await?;
    assert_eq!(out["bytes"], 4000);
    assert!(started.elapsed() >= Duration::from_millis(600));

    // A server that never answers after the upload times out.
    let started = Instant::now();
    let r: Result<Value, _> = client
        .procedure_stream("com.example.hang", &(), slow(), "video/mp4", None)
        .await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(TransportError::Timeout { .. }))
        ),
        "{r:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    Ok(())
}
