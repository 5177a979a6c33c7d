//! The XRPC server stack (atproto-xrpc, feature `server`) on loopback, and
//! service-auth verification against the raw signature check.
//!
//! `requests`: an in-process axum server on `127.0.0.1:0`, built with
//! `XrpcRouter` and the bundled lexicon catalog, driven by `CONNECTIONS`
//! keep-alive HTTP/1.1 connections (hyper's client connection API), each
//! sending its share of the requests one after another, so `CONNECTIONS`
//! requests are in flight at once. Throughput is requests per second
//! through the whole stack: TCP, HTTP parsing, routing, extractors, the
//! handler and the JSON answer.
//! - `query`: `GET /xrpc/app.bsky.feed.getTimeline?limit=30&cursor=…`,
//!   parameters read and coerced by the catalog into a typed struct, a small
//!   JSON answer;
//! - `procedure`: `POST /xrpc/com.atproto.repo.createRecord` with a post
//!   record (about 200 bytes of JSON), read as ATProto JSON and validated
//!   against the lexicon's input schema, then into a typed struct.
//!
//! Each answer is checked (status 200, expected body) before timing.
//!
//! `service_auth`: one ES256K service-auth token, verified
//! - `raw_es256k_verify`: the signature alone (`PublicKey::verify` of the
//!   token's signing input), the floor;
//! - `verify_service_jwt`: the whole check (parse, base64url and JSON
//!   decoding, claims, key lookup, signature), no replay cache (a repeated
//!   token would be a replay);
//! - `verify_service_jwt_replay_cache`: the same plus a `MemoryReplayCache`
//!   insert, on tokens with distinct `jti`s signed before timing (a fresh
//!   cache per sample; past `TOKENS` iterations in a sample a token repeats
//!   and is refused, after the same work: the replay check comes last).
//!
//! Issue 10 asks for service-auth verify within 10% of the raw signature
//! verify rate; the summary after the run of `service_auth` gives both.
//!
//! `ATPROTO_BENCH_QUICK=1` shortens every measurement (1 s, 10 samples).
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench xrpc_server`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atproto_core::{Curve, Did, Keypair, PublicKey};
use atproto_xrpc::jwt::Jwt;
use atproto_xrpc::server::{Input, Output, Params, XrpcRouter};
use atproto_xrpc::service_auth::{
    Expected, MemoryReplayCache, ServiceJwtParams, SigningKeyResolver, create_service_jwt,
    verify_service_jwt,
};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

/// Concurrent keep-alive connections (requests in flight).
const CONNECTIONS: usize = 16;

/// Distinct tokens for the replay-cache row.
const TOKENS: usize = 20_000;

fn quick() -> bool {
    std::env::var_os("ATPROTO_BENCH_QUICK").is_some()
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    if quick() {
        g.sample_size(10)
            .measurement_time(Duration::from_secs(1))
            .warm_up_time(Duration::from_millis(300));
    } else {
        g.sample_size(20)
            .measurement_time(Duration::from_secs(5))
            .warm_up_time(Duration::from_secs(1));
    }
    g
}

// ---------------------------------------------------------------- server

#[derive(Deserialize)]
struct TimelineParams {
    limit: i64,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct TimelinePage {
    feed: [u8; 0],
    cursor: String,
    limit: i64,
}

async fn get_timeline(Params(p): Params<TimelineParams>) -> Output<TimelinePage> {
    Output(TimelinePage {
        feed: [],
        cursor: p.cursor.unwrap_or_default(),
        limit: p.limit,
    })
}

#[derive(Deserialize)]
struct CreateRecord {
    repo: String,
    collection: String,
    record: serde_json::Value,
}

#[derive(Serialize)]
struct Created {
    uri: String,
}

async fn create_record(Input(input): Input<CreateRecord>) -> Output<Created> {
    black_box(&input.record);
    Output(Created {
        uri: format!("at://{}/{}/3jzfcijpj2z2a", input.repo, input.collection),
    })
}

const RECORD: &str = r#"{"repo":"alice.bsky.social","collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","text":"Hello from the XRPC server bench, with a few words of text.","createdAt":"2024-05-01T12:00:00.000Z","langs":["en"]}}"#;
const QUERY: &str = "/xrpc/app.bsky.feed.getTimeline?limit=30&cursor=3kabcdefgh2x";
const PROCEDURE: &str = "/xrpc/com.atproto.repo.createRecord";

async fn serve() -> SocketAddr {
    let app: axum::Router = XrpcRouter::new()
        .catalog(atproto_lexicon::bundled::catalog())
        .query("app.bsky.feed.getTimeline", get_timeline)
        .procedure("com.atproto.repo.createRecord", create_record)
        .build()
        .expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

#[derive(Clone, Copy)]
enum Call {
    Query,
    Procedure,
}

fn request(call: Call) -> http::Request<Full<Bytes>> {
    let builder = http::Request::builder().header("host", "127.0.0.1");
    match call {
        Call::Query => builder
            .method("GET")
            .uri(QUERY)
            .body(Full::new(Bytes::new())),
        Call::Procedure => builder
            .method("POST")
            .uri(PROCEDURE)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(RECORD.as_bytes()))),
    }
    .expect("request")
}

async fn one(send: &mut SendRequest<Full<Bytes>>, call: Call) -> (u16, Bytes) {
    send.ready().await.expect("ready");
    let res = send.send_request(request(call)).await.expect("send");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

/// Sends `n` requests over the connections, `CONNECTIONS` at a time, and
/// returns the connections with the elapsed time.
async fn run(
    conns: Vec<SendRequest<Full<Bytes>>>,
    call: Call,
    n: u64,
) -> (Vec<SendRequest<Full<Bytes>>>, Duration) {
    let per = n.div_ceil(conns.len() as u64);
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut send| {
            tokio::spawn(async move {
                for _ in 0..per {
                    let (status, body) = one(&mut send, call).await;
                    assert_eq!(status, 200);
                    black_box(body);
                }
                send
            })
        })
        .collect();
    let mut back = Vec::with_capacity(tasks.len());
    for t in tasks {
        back.push(t.await.expect("task"));
    }
    (back, start.elapsed())
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(serve());
    let mut conns = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..CONNECTIONS {
            v.push(connect(addr).await);
        }
        v
    });

    // The answers, checked before timing.
    rt.block_on(async {
        let (status, body) = one(&mut conns[0], Call::Query).await;
        assert_eq!(
            (status, &body[..]),
            (
                200,
                &br#"{"feed":[],"cursor":"3kabcdefgh2x","limit":30}"#[..]
            )
        );
        let (status, body) = one(&mut conns[0], Call::Procedure).await;
        assert_eq!(
            (status, &body[..]),
            (
                200,
                &br#"{"uri":"at://alice.bsky.social/app.bsky.feed.post/3jzfcijpj2z2a"}"#[..]
            )
        );
        println!("xrpc_server: query and procedure answers checked");
    });

    let mut g = configure(c, "requests");
    g.throughput(Throughput::Elements(1));
    for (name, call) in [("query", Call::Query), ("procedure", Call::Procedure)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let taken = std::mem::take(&mut conns);
                let (back, elapsed) = rt.block_on(run(taken, call, iters));
                conns = back;
                // `run` rounds up to whole rounds per connection.
                let sent = iters.div_ceil(CONNECTIONS as u64) * CONNECTIONS as u64;
                elapsed.mul_f64(iters as f64 / sent as f64)
            });
        });
    }
    g.finish();
}

// ---------------------------------------------------------------- service auth

struct OneKey(PublicKey);

impl SigningKeyResolver for OneKey {
    type Error = std::convert::Infallible;
    fn signing_key(&self, _: &Did, _: Option<&str>, _: bool) -> Result<PublicKey, Self::Error> {
        Ok(self.0.clone())
    }
}

const NOW: i64 = 1_700_000_000;
const ISS: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const AUD: &str = "did:web:api.example.com";

fn token(key: &Keypair, lxm: &atproto_core::Nsid, jti: &str) -> String {
    create_service_jwt(
        &ServiceJwtParams {
            iss: ISS,
            aud: AUD,
            lxm: Some(lxm),
            now: NOW,
            jti,
        },
        key,
    )
    .expect("token")
}

fn service_auth(c: &mut Criterion) {
    let key = Keypair::generate(Curve::K256);
    let public = key.public_key();
    let lxm: atproto_core::Nsid = "com.atproto.repo.getRecord".parse().expect("nsid");
    let tok = token(&key, &lxm, "bench-jti");
    let parsed = Jwt::parse(&tok).expect("parse");
    let resolver = OneKey(public.clone());
    let expected = Expected {
        aud: Some(AUD),
        lxm: Some(&lxm),
    };
    public
        .verify(parsed.signing_input().as_bytes(), parsed.signature())
        .expect("raw verify");
    verify_service_jwt(&tok, &expected, NOW + 1, &resolver, None).expect("service verify");
    let tokens: Vec<String> = (0..TOKENS)
        .map(|i| token(&key, &lxm, &format!("jti-{i}")))
        .collect();

    let mut g = configure(c, "service_auth");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_es256k_verify", |b| {
        b.iter(|| {
            public
                .verify(
                    black_box(parsed.signing_input().as_bytes()),
                    black_box(parsed.signature()),
                )
                .expect("verify")
        })
    });
    g.bench_function("verify_service_jwt", |b| {
        b.iter(|| {
            verify_service_jwt(black_box(&tok), &expected, NOW + 1, &resolver, None)
                .expect("verify")
        })
    });
    g.bench_function("verify_service_jwt_replay_cache", |b| {
        b.iter_custom(|iters| {
            // A fresh cache per sample, so each token is new to it.
            let cache = MemoryReplayCache::new(TOKENS);
            let start = Instant::now();
            for i in 0..iters {
                let t = &tokens[i as usize % TOKENS];
                black_box(verify_service_jwt(t, &expected, NOW + 1, &resolver, Some(&cache)).ok());
            }
            start.elapsed()
        })
    });
    g.finish();

    // A direct side-by-side figure, independent of criterion's report.
    let n = if quick() { 2_000 } else { 20_000 };
    let t0 = Instant::now();
    for _ in 0..n {
        black_box(public.verify(parsed.signing_input().as_bytes(), parsed.signature())).ok();
    }
    let raw_each = t0.elapsed() / n;
    let t1 = Instant::now();
    for _ in 0..n {
        black_box(verify_service_jwt(
            &tok,
            &expected,
            NOW + 1,
            &resolver,
            None,
        ))
        .ok();
    }
    let full_each = t1.elapsed() / n;
    println!(
        "service_auth (side by side, {n} each): raw ES256K verify {raw_each:?}/op ({:.0}/s), verify_service_jwt {full_each:?}/op ({:.0}/s): {:+.1}%",
        1.0 / raw_each.as_secs_f64(),
        1.0 / full_each.as_secs_f64(),
        (full_each.as_secs_f64() / raw_each.as_secs_f64() - 1.0) * 100.0
    );
}

criterion_group!(benches, requests, service_auth);
criterion_main!(benches);
