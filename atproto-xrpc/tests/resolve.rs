//! Identity resolvers (feature `resolve`): DIDs, handles, the bidirectional
//! check, caches and the service-auth key bridge. HTTP and DNS are fakes,
//! except one test through `ReqwestClient` against a server on 127.0.0.1.
// Helpers outside #[test] functions unwrap too: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atproto_core::{Curve, Did, Handle, Keypair, PublicKey};
use atproto_xrpc::identity::did_doc::MAX_DID_DOC_SIZE;
use atproto_xrpc::identity::handle_resolver::MAX_WELL_KNOWN_BYTES;
use atproto_xrpc::identity::{
    CacheConfig, CachingDidResolver, CachingHandleResolver, DefaultHandleResolver, DidDocError,
    DidDocument, DidKeyResolver, DidResolver, DnsTxtResolver, HandleResolver, IdentityResolver,
    ManualClock, MemoryDidResolver, MemoryHandleResolver, PlcResolver, ResolveError, Resolver,
    TxtLookup, TxtLookupError, WebResolver, WellKnownResolver, XrpcHandleResolver,
    key_from_document, resolve_signing_key,
};
use atproto_xrpc::service_auth::{
    AsyncSigningKeyResolver, Expected, ServiceAuthError, ServiceJwtParams, create_service_jwt,
    verify_service_jwt, verify_service_jwt_async,
};
use atproto_xrpc::transport::{BoxFuture, Bytes, HttpClient, HttpRequest, HttpResponse};
use atproto_xrpc::{ReqwestClient, SigningKeyResolver, TransportError};
use serde_json::json;

const PLC: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const PLC2: &str = "did:plc:44ybard66vv44zksje25o7dz";

fn did(s: &str) -> Did {
    s.parse().unwrap()
}

fn handle(s: &str) -> Handle {
    s.parse().unwrap()
}

fn key(seed: u8) -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[seed; 32]).unwrap()
}

/// A document for `id` claiming `handle`, with signing key `key`.
fn doc_json(id: &str, handle: Option<&str>, key: &PublicKey) -> serde_json::Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": id,
        "alsoKnownAs": handle.map(|h| vec![format!("at://{h}")]).unwrap_or_default(),
        "verificationMethod": [{
            "id": format!("{id}#atproto"),
            "type": "Multikey",
            "controller": id,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com",
        }],
    })
}

fn doc(id: &str, handle: Option<&str>, key: &PublicKey) -> DidDocument {
    DidDocument::parse(
        &serde_json::to_vec(&doc_json(id, handle, key)).unwrap(),
        &did(id),
    )
    .unwrap()
}

// ---------------------------------------------------------------- fakes

enum Route {
    Answer(u16, Vec<u8>),
    /// Answers after a short wait (a lookup that really suspends).
    Slow(u16, Vec<u8>),
    Hang,
    Fail,
}

/// An `HttpClient` answering from a table of URLs (404 for others) and
/// recording the URLs asked for.
#[derive(Default)]
struct FakeHttp {
    routes: Mutex<HashMap<String, Route>>,
    log: Mutex<Vec<String>>,
}

impl FakeHttp {
    fn answer(&self, url: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.routes
            .lock()
            .unwrap()
            .insert(url.to_owned(), Route::Answer(status, body.into()));
    }
    fn route(&self, url: &str, route: Route) {
        self.routes.lock().unwrap().insert(url.to_owned(), route);
    }
    fn json(&self, url: &str, value: &serde_json::Value) {
        self.answer(url, 200, serde_json::to_vec(value).unwrap());
    }
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl HttpClient for FakeHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let url = request.uri().to_string();
        assert_eq!(request.method(), http::Method::GET);
        self.log.lock().unwrap().push(url.clone());
        let mut slow = false;
        let answer = match self.routes.lock().unwrap().get(&url) {
            Some(Route::Answer(status, body)) => Some(Ok((*status, body.clone()))),
            Some(Route::Slow(status, body)) => {
                slow = true;
                Some(Ok((*status, body.clone())))
            }
            Some(Route::Fail) => Some(Err(TransportError::Timeout { url: url.clone() })),
            Some(Route::Hang) => None,
            None => Some(Ok((404, Vec::new()))),
        };
        Box::pin(async move {
            if slow {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            match answer {
                None => std::future::pending().await,
                Some(Err(e)) => Err(e),
                Some(Ok((status, body))) => Ok(http::Response::builder()
                    .status(status)
                    .body(Bytes::from(body))
                    .unwrap()),
            }
        })
    }
}

/// A `TxtLookup` from a table; names marked `hang` never answer, names
/// with a delay answer after it.
#[derive(Default)]
struct FakeDns {
    records: Mutex<HashMap<String, Result<Vec<String>, TxtLookupError>>>,
    delays: Mutex<HashMap<String, Duration>>,
    hang: Mutex<Vec<String>>,
}

impl FakeDns {
    fn set_txt(&self, name: &str, values: &[&str]) {
        self.records.lock().unwrap().insert(
            name.to_owned(),
            Ok(values.iter().map(|v| (*v).to_owned()).collect()),
        );
    }
}

impl TxtLookup for FakeDns {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, TxtLookupError>> {
        let hang = self.hang.lock().unwrap().iter().any(|n| n == name);
        let delay = self.delays.lock().unwrap().get(name).copied();
        let result = self
            .records
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or(Err(TxtLookupError::NoRecords));
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            result
        })
    }
}

/// A DID resolver over a `MemoryDidResolver` that counts fetches and can be
/// made to fail transiently.
#[derive(Default)]
struct CountingDids {
    inner: MemoryDidResolver,
    fetches: AtomicUsize,
    down: AtomicBool,
}

impl DidResolver for CountingDids {
    fn resolve_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(async move { Err(ResolveError::Timeout(did.to_string())) });
        }
        self.inner.resolve_did(did)
    }
}

// ---------------------------------------------------------------- did:web

#[tokio::test]
async fn did_web_with_port_is_percent_decoded() {
    let http = FakeHttp::default();
    let k = key(1).public_key();
    let id = "did:web:localhost%3A8080";
    http.json(
        "https://localhost:8080/.well-known/did.json",
        &doc_json(id, None, &k),
    );
    let web = WebResolver::new(&http);
    let got = web.resolve_did(&did(id)).await.unwrap();
    assert_eq!(got.signing_key().unwrap(), k);
    assert_eq!(http.log(), ["https://localhost:8080/.well-known/did.json"]);

    // Plain http only with the option, and only for loopback hosts.
    let loopback = WebResolver::new(&http).allow_http_loopback(true);
    assert_eq!(
        loopback.document_url(&did(id)).unwrap(),
        "http://localhost:8080/.well-known/did.json"
    );
    assert_eq!(
        loopback
            .document_url(&did("did:web:127.0.0.1%3A9000"))
            .unwrap(),
        "http://127.0.0.1:9000/.well-known/did.json"
    );
    assert_eq!(
        loopback.document_url(&did("did:web:example.com")).unwrap(),
        "https://example.com/.well-known/did.json"
    );
}

#[tokio::test]
async fn did_web_path_form_and_bad_hosts_are_rejected_without_a_request() {
    let http = FakeHttp::default();
    let web = WebResolver::new(&http);
    for (id, want_path) in [
        ("did:web:example.com:user:alice", true),
        ("did:web:example.com%3Aabc", false),
        ("did:web:example.com%3A99999", false),
        ("did:web:exa%2Fmple.com", false),
        ("did:web:%2Eexample.com", false),
    ] {
        let err = web.resolve_did(&did(id)).await.unwrap_err();
        if want_path {
            assert!(
                matches!(err, ResolveError::UnsupportedDidWebPath(_)),
                "{id}: {err}"
            );
        } else {
            assert!(
                matches!(err, ResolveError::InvalidDid { .. }),
                "{id}: {err}"
            );
        }
    }
    assert!(http.log().is_empty());
    let err = web.resolve_did(&did(PLC)).await.unwrap_err();
    assert!(matches!(err, ResolveError::UnsupportedMethod(m) if m == "plc"));
}

// ---------------------------------------------------------------- did:plc

#[tokio::test]
async fn plc_statuses_map_to_typed_errors() {
    let http = FakeHttp::default();
    let plc = PlcResolver::with_directory(&http, "http://plc.test/");
    assert_eq!(plc.directory(), "http://plc.test");
    let k = key(2).public_key();
    http.json(&format!("http://plc.test/{PLC}"), &doc_json(PLC, None, &k));
    http.answer(&format!("http://plc.test/{PLC2}"), 410, "");
    assert_eq!(
        plc.resolve_did(&did(PLC))
            .await
            .unwrap()
            .signing_key()
            .unwrap(),
        k
    );
    let err = plc.resolve_did(&did(PLC2)).await.unwrap_err();
    assert!(
        matches!(err, ResolveError::Deactivated(ref d) if d == PLC2),
        "{err}"
    );
    assert!(err.is_not_found());

    let missing = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    let err = plc.resolve_did(&did(missing)).await.unwrap_err();
    assert!(matches!(err, ResolveError::NotFound(_)), "{err}");
    assert!(err.is_not_found() && !err.is_transient());

    let sick = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
    http.answer(&format!("http://plc.test/{sick}"), 503, "");
    let err = plc.resolve_did(&did(sick)).await.unwrap_err();
    assert!(matches!(err, ResolveError::BadStatus { status: 503, .. }));
    assert!(err.is_transient());

    let slow = "did:plc:cccccccccccccccccccccccc";
    http.route(&format!("http://plc.test/{slow}"), Route::Fail);
    let err = plc.resolve_did(&did(slow)).await.unwrap_err();
    assert!(matches!(err, ResolveError::Timeout(_)), "{err}");

    // Not the did:plc form: refused before any request.
    let before = http.log().len();
    let err = plc.resolve_did(&did("did:plc:short")).await.unwrap_err();
    assert!(matches!(err, ResolveError::InvalidDid { .. }), "{err}");
    assert_eq!(http.log().len(), before);

    // The default directory.
    let default = PlcResolver::new(&http);
    let _ = default.resolve_did(&did(PLC)).await;
    assert_eq!(
        http.log().last().unwrap(),
        &format!("https://plc.directory/{PLC}")
    );
}

#[tokio::test]
async fn oversized_and_invalid_documents_are_rejected() {
    let http = FakeHttp::default();
    let plc = PlcResolver::with_directory(&http, "http://plc.test");
    let url = format!("http://plc.test/{PLC}");

    let mut big = doc_json(PLC, None, &key(1).public_key());
    big["padding"] = json!("x".repeat(MAX_DID_DOC_SIZE));
    http.json(&url, &big);
    let err = plc.resolve_did(&did(PLC)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::InvalidDocument {
                source: DidDocError::TooLarge { .. },
                ..
            }
        ),
        "{err}"
    );

    http.answer(&url, 200, "<html>not json</html>");
    let err = plc.resolve_did(&did(PLC)).await.unwrap_err();
    assert!(matches!(
        err,
        ResolveError::InvalidDocument {
            source: DidDocError::Json(_),
            ..
        }
    ));

    // A document for another DID.
    http.json(&url, &doc_json(PLC2, None, &key(1).public_key()));
    let err = plc.resolve_did(&did(PLC)).await.unwrap_err();
    assert!(matches!(
        err,
        ResolveError::InvalidDocument {
            source: DidDocError::IdMismatch { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn resolver_dispatches_by_method() {
    let http = Arc::new(FakeHttp::default());
    let k = key(3).public_key();
    http.json(&format!("http://plc.test/{PLC}"), &doc_json(PLC, None, &k));
    http.json(
        "http://localhost:7000/.well-known/did.json",
        &doc_json("did:web:localhost%3A7000", None, &k),
    );
    let resolver = Resolver::new(Arc::clone(&http))
        .with_plc_directory("http://plc.test")
        .allow_http_loopback(true);
    assert!(resolver.resolve_did(&did(PLC)).await.is_ok());
    assert!(
        resolver
            .resolve_did(&did("did:web:localhost%3A7000"))
            .await
            .is_ok()
    );
    let err = resolver
        .resolve_did(&did(
            "did:key:zQ3shunBKsXixLxKtC5qeSG9E4J5RkGN57im31pcTzbNQnm5w",
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::UnsupportedMethod(m) if m == "key"));
}

// ---------------------------------------------------------------- handles

#[tokio::test]
async fn dns_txt_needs_exactly_one_did_value() {
    let dns = FakeDns::default();
    dns.set_txt(
        "_atproto.one.example.com.",
        &["v=spf1 -all", &format!("did={PLC}")],
    );
    dns.set_txt(
        "_atproto.dup.example.com.",
        &[&format!("did={PLC}"), &format!("did={PLC}")],
    );
    dns.set_txt(
        "_atproto.two.example.com.",
        &[&format!("did={PLC}"), &format!("did={PLC2}")],
    );
    dns.set_txt("_atproto.bad.example.com.", &["did=not a did"]);
    dns.records.lock().unwrap().insert(
        "_atproto.broken.example.com.".into(),
        Err(TxtLookupError::Failed("SERVFAIL".into())),
    );
    let r = DnsTxtResolver::new(dns);
    // Looked up in lowercase.
    assert_eq!(
        r.resolve_handle(&handle("One.Example.COM")).await.unwrap(),
        did(PLC)
    );
    assert_eq!(
        r.resolve_handle(&handle("dup.example.com")).await.unwrap(),
        did(PLC)
    );
    let err = r
        .resolve_handle(&handle("two.example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ResolveError::AmbiguousDns { values, .. } if values.len() == 2),
        "{err}"
    );
    let err = r
        .resolve_handle(&handle("bad.example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::InvalidResponse { .. }), "{err}");
    let err = r
        .resolve_handle(&handle("none.example.com"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = r
        .resolve_handle(&handle("broken.example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::Dns { .. }) && err.is_transient());
    let err = r
        .resolve_handle(&handle("printer.local"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::InvalidIdentifier(_)), "{err}");
}

#[tokio::test]
async fn well_known_reads_the_first_line_with_a_limit() {
    let http = FakeHttp::default();
    let url = |h: &str| format!("https://{h}/.well-known/atproto-did");
    http.answer(&url("a.example.com"), 200, format!("  {PLC}  \nignored\n"));
    http.answer(&url("b.example.com"), 200, "hello");
    http.answer(
        &url("c.example.com"),
        200,
        format!("{PLC}\n{}", " ".repeat(MAX_WELL_KNOWN_BYTES)),
    );
    http.answer(&url("d.example.com"), 500, "");
    let r = WellKnownResolver::new(&http);
    assert_eq!(
        r.resolve_handle(&handle("A.example.com")).await.unwrap(),
        did(PLC)
    );
    for (h, check) in [
        (
            "b.example.com",
            (|e: &ResolveError| matches!(e, ResolveError::InvalidResponse { .. }))
                as fn(&ResolveError) -> bool,
        ),
        ("c.example.com", |e| {
            matches!(e, ResolveError::InvalidResponse { .. })
        }),
        ("d.example.com", |e| {
            matches!(e, ResolveError::BadStatus { status: 500, .. })
        }),
        ("e.example.com", ResolveError::is_not_found),
    ] {
        let err = r.resolve_handle(&handle(h)).await.unwrap_err();
        assert!(check(&err), "{h}: {err}");
    }
    // The loopback option: http, and the .localhost TLD allowed.
    let local = WellKnownResolver::new(&http).allow_http_loopback(true);
    http.answer("http://alice.localhost/.well-known/atproto-did", 200, PLC2);
    assert_eq!(
        local
            .resolve_handle(&handle("alice.localhost"))
            .await
            .unwrap(),
        did(PLC2)
    );
    assert!(matches!(
        r.resolve_handle(&handle("alice.localhost")).await,
        Err(ResolveError::InvalidIdentifier(_))
    ));
}

type FakeDefault =
    DefaultHandleResolver<DnsTxtResolver<Arc<FakeDns>>, WellKnownResolver<Arc<FakeHttp>>>;

/// DNS and HTTPS over fakes: `dns_value` / `http_value` are the answers
/// for `alice.example.com` (None: no record).
fn default_resolver(
    dns_value: Option<&str>,
    http_value: Option<&str>,
) -> (Arc<FakeDns>, Arc<FakeHttp>, FakeDefault) {
    let dns = Arc::new(FakeDns::default());
    let http = Arc::new(FakeHttp::default());
    if let Some(v) = dns_value {
        dns.set_txt("_atproto.alice.example.com.", &[&format!("did={v}")]);
    }
    if let Some(v) = http_value {
        http.answer("https://alice.example.com/.well-known/atproto-did", 200, v);
    }
    let r = DefaultHandleResolver::new(Arc::clone(&dns), Arc::clone(&http))
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    (dns, http, r)
}

#[tokio::test]
async fn dns_wins_when_both_answer_and_disagree() {
    let (dns, http, r) = default_resolver(Some(PLC), Some(PLC2));
    // HTTPS answers at once, DNS a little later: DNS still wins.
    dns.delays.lock().unwrap().insert(
        "_atproto.alice.example.com.".into(),
        Duration::from_millis(30),
    );
    assert_eq!(
        r.resolve_handle(&handle("alice.example.com"))
            .await
            .unwrap(),
        did(PLC)
    );
    assert_eq!(http.log().len(), 1, "both ran");
}

#[tokio::test]
async fn one_method_timing_out_gives_the_others_answer() {
    let (dns, _http, r) = default_resolver(None, Some(PLC2));
    dns.hang
        .lock()
        .unwrap()
        .push("_atproto.alice.example.com.".into());
    assert_eq!(
        r.resolve_handle(&handle("alice.example.com"))
            .await
            .unwrap(),
        did(PLC2)
    );

    let (_dns, http, r) = default_resolver(Some(PLC), None);
    http.route(
        "https://alice.example.com/.well-known/atproto-did",
        Route::Hang,
    );
    assert_eq!(
        r.resolve_handle(&handle("alice.example.com"))
            .await
            .unwrap(),
        did(PLC)
    );

    // Both hang: a timeout (transient, not "not found").
    let (dns, http, r) = default_resolver(None, None);
    dns.hang
        .lock()
        .unwrap()
        .push("_atproto.alice.example.com.".into());
    http.route(
        "https://alice.example.com/.well-known/atproto-did",
        Route::Hang,
    );
    let err = r
        .resolve_handle(&handle("alice.example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::Timeout(_)), "{err}");
}

#[tokio::test]
async fn default_resolver_falls_back_and_reports_not_found() {
    // Ambiguous DNS: the HTTPS answer is used, as the reference does.
    let (dns, _http, r) = default_resolver(None, Some(PLC2));
    dns.set_txt(
        "_atproto.alice.example.com.",
        &[&format!("did={PLC}"), &format!("did={PLC2}")],
    );
    assert_eq!(
        r.resolve_handle(&handle("alice.example.com"))
            .await
            .unwrap(),
        did(PLC2)
    );
    // Nothing anywhere.
    let (_dns, _http, r) = default_resolver(None, None);
    let err = r
        .resolve_handle(&handle("alice.example.com"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    // A disallowed TLD is refused, not "not found".
    let err = r
        .resolve_handle(&handle("printer.local"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::InvalidIdentifier(_)), "{err}");
}

#[tokio::test]
async fn xrpc_handle_resolver_asks_the_service() {
    let http = FakeHttp::default();
    http.json(
        "https://api.test/xrpc/com.atproto.identity.resolveHandle?handle=alice.example.com",
        &json!({ "did": PLC }),
    );
    http.answer(
        "https://api.test/xrpc/com.atproto.identity.resolveHandle?handle=bob.example.com",
        400,
        r#"{"error":"InvalidRequest","message":"Unable to resolve handle"}"#,
    );
    http.json(
        "https://api.test/xrpc/com.atproto.identity.resolveHandle?handle=eve.example.com",
        &json!({ "did": "nope" }),
    );
    let r = XrpcHandleResolver::new(&http, "https://api.test/");
    assert_eq!(
        r.resolve_handle(&handle("Alice.example.com"))
            .await
            .unwrap(),
        did(PLC)
    );
    assert!(
        r.resolve_handle(&handle("bob.example.com"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(matches!(
        r.resolve_handle(&handle("eve.example.com")).await,
        Err(ResolveError::InvalidResponse { .. })
    ));
}

// ---------------------------------------------------------------- bidirectional

type MemoryIdentities = IdentityResolver<Arc<MemoryDidResolver>, Arc<MemoryHandleResolver>>;

fn identities() -> (
    Arc<MemoryDidResolver>,
    Arc<MemoryHandleResolver>,
    MemoryIdentities,
) {
    let dids = Arc::new(MemoryDidResolver::new());
    let handles = Arc::new(MemoryHandleResolver::new());
    let r = IdentityResolver::new(Arc::clone(&dids), Arc::clone(&handles));
    (dids, handles, r)
}

#[tokio::test]
async fn handles_are_checked_both_ways() {
    let (dids, handles, r) = identities();
    let k = key(4).public_key();
    dids.insert(doc(PLC, Some("Alice.Example.com"), &k));
    handles.insert(&handle("alice.example.com"), did(PLC));

    for input in [PLC, "alice.example.com", "@ALICE.example.com"] {
        let id = r.resolve_identifier(input).await.unwrap();
        assert_eq!(id.did, did(PLC), "{input}");
        assert_eq!(id.handle.as_str(), "alice.example.com", "{input}");
        assert!(id.handle_is_valid());
        assert_eq!(id.pds.as_deref(), Some("https://pds.example.com"));
        assert_eq!(
            id.signing_key.as_ref().unwrap().to_did_key(),
            k.to_did_key()
        );
    }

    // The handle points elsewhere: from the DID side, handle.invalid.
    handles.insert(&handle("alice.example.com"), did(PLC2));
    let id = r.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(id.handle, Handle::INVALID);
    assert!(!id.handle_is_valid());
    // The handle does not resolve at all: also handle.invalid.
    handles.remove(&handle("alice.example.com"));
    assert_eq!(
        r.resolve_did(&did(PLC)).await.unwrap().handle,
        Handle::INVALID
    );

    // From the handle side: the DID's document claims another handle.
    dids.insert(doc(PLC2, Some("mallory.example.com"), &k));
    handles.insert(&handle("bob.example.com"), did(PLC2));
    let id = r.resolve_identifier("bob.example.com").await.unwrap();
    assert_eq!(id.did, did(PLC2));
    assert_eq!(id.handle, Handle::INVALID);

    // No handle claimed.
    dids.insert(doc(PLC2, None, &k));
    assert_eq!(
        r.resolve_did(&did(PLC2)).await.unwrap().handle,
        Handle::INVALID
    );

    for bad in ["", "did:", "not a handle", "did:plc:"] {
        assert!(matches!(
            r.resolve_identifier(bad).await,
            Err(ResolveError::InvalidIdentifier(_))
        ));
    }
    assert!(
        r.resolve_identifier("nobody.example.com")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn documents_with_odd_fragments_or_missing_keys() {
    let (dids, _handles, r) = identities();
    let k = key(5).public_key();
    let label = key(6).public_key();
    // Bare fragments, an extra labeler key, no PDS.
    let json = json!({
        "id": PLC,
        "verificationMethod": [
            {"id": "#atproto", "type": "Multikey", "publicKeyMultibase": k.to_multikey()},
            {"id": format!("{PLC}#atproto_label"), "type": "Multikey",
             "publicKeyMultibase": label.to_multikey()},
            {"id": "#other", "type": "JsonWebKey2020"}
        ],
        "service": [{"id": "#atproto_pds", "type": "SomethingElse", "serviceEndpoint": "https://x"}],
    });
    let d = DidDocument::parse(&serde_json::to_vec(&json).unwrap(), &did(PLC)).unwrap();
    dids.insert(d.clone());
    let id = r.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(id.signing_key, Some(k.clone()));
    assert_eq!(id.pds, None);
    assert_eq!(key_from_document(&d, None).unwrap(), k);
    assert_eq!(key_from_document(&d, Some("atproto_label")).unwrap(), label);
    assert!(matches!(
        key_from_document(&d, Some("other")),
        Err(ResolveError::InvalidDocument {
            source: DidDocError::MissingPublicKeyMultibase,
            ..
        })
    ));
    assert!(matches!(
        key_from_document(&d, Some("missing")),
        Err(ResolveError::InvalidDocument {
            source: DidDocError::MissingSigningKey,
            ..
        })
    ));

    // No #atproto key at all: resolves, without a key; the key lookup fails.
    let json = json!({"id": PLC2, "verificationMethod": [
        {"id": "#atproto_x", "type": "Multikey", "publicKeyMultibase": k.to_multikey()}]});
    dids.insert(DidDocument::parse(&serde_json::to_vec(&json).unwrap(), &did(PLC2)).unwrap());
    let id = r.resolve_did(&did(PLC2)).await.unwrap();
    assert_eq!(id.signing_key, None);
    assert!(matches!(
        resolve_signing_key(r.did_resolver(), &did(PLC2), None, false).await,
        Err(ResolveError::InvalidDocument {
            source: DidDocError::MissingSigningKey,
            ..
        })
    ));
    // Deactivated DIDs are an error, not an identity.
    dids.deactivate(&did(PLC2));
    assert!(matches!(
        r.resolve_did(&did(PLC2)).await,
        Err(ResolveError::Deactivated(_))
    ));
}

// ---------------------------------------------------------------- caches

fn config() -> CacheConfig {
    CacheConfig {
        ttl: Duration::from_secs(60),
        stale_ttl: Duration::from_secs(600),
        negative_ttl: Duration::from_secs(10),
        max_entries: 2,
    }
}

fn cached() -> (
    Arc<CountingDids>,
    Arc<ManualClock>,
    CachingDidResolver<Arc<CountingDids>>,
) {
    let source = Arc::new(CountingDids::default());
    let clock = Arc::new(ManualClock::new());
    let cache = CachingDidResolver::with_clock(Arc::clone(&source), config(), clock.clone());
    (source, clock, cache)
}

fn fetches(source: &CountingDids) -> usize {
    source.fetches.load(Ordering::SeqCst)
}

#[tokio::test]
async fn cache_hits_and_expires() {
    let (source, clock, cache) = cached();
    source.inner.insert(doc(PLC, None, &key(1).public_key()));
    cache.resolve_did(&did(PLC)).await.unwrap();
    cache.resolve_did(&did(PLC)).await.unwrap();
    clock.advance(Duration::from_secs(59));
    cache.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(fetches(&source), 1);
    assert_eq!(cache.len(), 1);
    // Past ttl + stale_ttl: dropped and fetched again, inline.
    clock.advance(Duration::from_secs(700));
    cache.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(fetches(&source), 2);
    // refresh_did always fetches.
    cache.refresh_did(&did(PLC)).await.unwrap();
    assert_eq!(fetches(&source), 3);
    cache.invalidate(&did(PLC));
    assert!(cache.is_empty());
}

#[tokio::test]
async fn not_found_is_cached_briefly_and_transient_failures_not_at_all() {
    let (source, clock, cache) = cached();
    for _ in 0..3 {
        assert!(
            cache
                .resolve_did(&did(PLC))
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
    assert_eq!(fetches(&source), 1);
    source.inner.insert(doc(PLC, None, &key(1).public_key()));
    assert!(cache.resolve_did(&did(PLC)).await.is_err(), "still cached");
    clock.advance(Duration::from_secs(10));
    assert!(cache.resolve_did(&did(PLC)).await.is_ok());
    assert_eq!(fetches(&source), 2);

    source.down.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        assert!(matches!(
            cache.resolve_did(&did(PLC2)).await,
            Err(ResolveError::Timeout(_))
        ));
    }
    assert_eq!(fetches(&source), 4, "a timeout is not cached");
}

#[tokio::test]
async fn cache_evicts_the_least_recently_used() {
    let (source, _clock, cache) = cached();
    let third = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    for id in [PLC, PLC2, third] {
        source.inner.insert(doc(id, None, &key(1).public_key()));
    }
    cache.resolve_did(&did(PLC)).await.unwrap();
    cache.resolve_did(&did(PLC2)).await.unwrap();
    cache.resolve_did(&did(PLC)).await.unwrap(); // PLC2 is now the oldest use
    cache.resolve_did(&did(third)).await.unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(fetches(&source), 3);
    cache.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(fetches(&source), 3, "PLC kept");
    cache.resolve_did(&did(PLC2)).await.unwrap();
    assert_eq!(fetches(&source), 4, "PLC2 was evicted");
}

#[tokio::test]
async fn stale_answers_are_served_while_refreshed_in_the_background() {
    let (source, clock, cache) = cached();
    let old = key(1).public_key();
    let new = key(2).public_key();
    source.inner.insert(doc(PLC, None, &old));
    cache.resolve_did(&did(PLC)).await.unwrap();
    source.inner.insert(doc(PLC, None, &new));
    clock.advance(Duration::from_secs(61));

    // Stale: the old answer at once, one refresh started.
    let got = cache.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(got.signing_key().unwrap(), old);
    assert!(cache.is_refreshing(&did(PLC)));
    let got = cache.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(got.signing_key().unwrap(), old, "refresh still pending");
    for _ in 0..100 {
        if !cache.is_refreshing(&did(PLC)) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(!cache.is_refreshing(&did(PLC)));
    assert_eq!(fetches(&source), 2, "one background refresh");
    let got = cache.resolve_did(&did(PLC)).await.unwrap();
    assert_eq!(got.signing_key().unwrap(), new);
    assert_eq!(fetches(&source), 2);

    // A failed refresh keeps the stale answer.
    clock.advance(Duration::from_secs(61));
    source.down.store(true, Ordering::SeqCst);
    assert!(cache.resolve_did(&did(PLC)).await.is_ok());
    for _ in 0..100 {
        if !cache.is_refreshing(&did(PLC)) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(fetches(&source), 3);
    assert!(cache.resolve_did(&did(PLC)).await.is_ok());
}

#[test]
fn stale_answers_outside_a_runtime_refresh_inline() {
    let (source, clock, cache) = cached();
    source.inner.insert(doc(PLC, None, &key(1).public_key()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(cache.resolve_did(&did(PLC))).unwrap();
    drop(runtime);
    source.inner.insert(doc(PLC, None, &key(2).public_key()));
    clock.advance(Duration::from_secs(61));
    // The fake resolver needs no runtime: poll by hand.
    let got = futures_lite_block_on(cache.resolve_did(&did(PLC))).unwrap();
    assert_eq!(got.signing_key().unwrap(), key(2).public_key());
    assert_eq!(fetches(&source), 2);
}

/// Polls a future that never waits (the fakes here) to completion without
/// a runtime.
fn futures_lite_block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the future waited"),
    }
}

#[tokio::test]
async fn handle_cache_is_case_insensitive_and_negative() {
    let source = Arc::new(MemoryHandleResolver::new());
    let clock = Arc::new(ManualClock::new());
    let cache = CachingHandleResolver::with_clock(Arc::clone(&source), config(), clock.clone());
    source.insert(&handle("alice.example.com"), did(PLC));
    assert_eq!(
        cache
            .resolve_handle(&handle("ALICE.example.com"))
            .await
            .unwrap(),
        did(PLC)
    );
    source.insert(&handle("alice.example.com"), did(PLC2));
    assert_eq!(
        cache
            .resolve_handle(&handle("alice.example.com"))
            .await
            .unwrap(),
        did(PLC),
        "served from the cache"
    );
    assert_eq!(
        cache
            .refresh_handle(&handle("Alice.Example.Com"))
            .await
            .unwrap(),
        did(PLC2)
    );
    assert_eq!(cache.len(), 1);
    assert!(
        cache
            .resolve_handle(&handle("bob.example.com"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    source.insert(&handle("bob.example.com"), did(PLC));
    assert!(
        cache
            .resolve_handle(&handle("bob.example.com"))
            .await
            .is_err()
    );
    clock.advance(Duration::from_secs(11));
    assert!(
        cache
            .resolve_handle(&handle("bob.example.com"))
            .await
            .is_ok()
    );
}

// ---------------------------------------------------------------- service auth

fn token(signer: &Keypair, now: i64) -> String {
    create_service_jwt(
        &ServiceJwtParams {
            iss: PLC,
            aud: "did:web:service.example.com",
            lxm: None,
            now,
            jti: "0123",
        },
        signer,
    )
    .unwrap()
}

const NOW: i64 = 1_700_000_000;

fn expected() -> Expected<'static> {
    Expected {
        aud: Some("did:web:service.example.com"),
        lxm: None,
    }
}

#[test]
fn service_auth_re_resolves_a_rotated_key_once() {
    // No runtime: DidKeyResolver runs its own.
    let (source, _clock, cache) = cached();
    source.inner.insert(doc(PLC, None, &key(1).public_key()));
    let keys = DidKeyResolver::new(cache);
    assert_eq!(
        keys.signing_key(&did(PLC), None, false).unwrap(),
        key(1).public_key()
    );
    // The account rotates its key; the cache still has the old one.
    source.inner.insert(doc(PLC, None, &key(2).public_key()));
    let ok = verify_service_jwt(&token(&key(2), NOW), &expected(), NOW, &keys, None).unwrap();
    assert_eq!(ok.did, did(PLC));
    assert_eq!(fetches(&source), 2, "re-resolved once");
    // The fresh key is now cached.
    verify_service_jwt(&token(&key(2), NOW), &expected(), NOW, &keys, None).unwrap();
    assert_eq!(fetches(&source), 2);
    // A token by some other key: one re-resolution, then BadJwtSignature.
    let err = verify_service_jwt(&token(&key(3), NOW), &expected(), NOW, &keys, None).unwrap_err();
    assert_eq!(err.name(), "BadJwtSignature");
    assert_eq!(fetches(&source), 3);
    // An unknown issuer: a resolution error.
    source.inner.remove(&did(PLC));
    keys.inner().clear();
    let err = verify_service_jwt(&token(&key(2), NOW), &expected(), NOW, &keys, None).unwrap_err();
    assert!(matches!(err, ServiceAuthError::KeyResolution(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_auth_resolves_inside_a_multi_thread_runtime() {
    let http = Arc::new(FakeHttp::default());
    http.json(
        &format!("http://plc.test/{PLC}"),
        &doc_json(PLC, None, &key(7).public_key()),
    );
    let plc = PlcResolver::with_directory(Arc::clone(&http), "http://plc.test");
    let keys = DidKeyResolver::new(CachingDidResolver::new(plc, CacheConfig::default()));
    verify_service_jwt(&token(&key(7), NOW), &expected(), NOW, &keys, None).unwrap();
    assert_eq!(http.log().len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn service_auth_in_a_current_thread_runtime_uses_the_cache_only() {
    let (source, _clock, cache) = cached();
    source.inner.insert(doc(PLC, None, &key(1).public_key()));
    // The fake answers without waiting, so even a miss completes at once.
    let keys = DidKeyResolver::new(cache.clone());
    verify_service_jwt(&token(&key(1), NOW), &expected(), NOW, &keys, None).unwrap();

    // A resolver that must wait cannot be driven from here.
    let http = Arc::new(FakeHttp::default());
    http.route(&format!("http://plc.test/{PLC}"), Route::Hang);
    let keys = DidKeyResolver::new(PlcResolver::with_directory(http, "http://plc.test"));
    let err = keys.signing_key(&did(PLC), None, false).unwrap_err();
    assert!(matches!(err, ResolveError::WouldBlock(_)), "{err}");
    // Warmed asynchronously first, the cache then answers synchronously.
    let warm = resolve_signing_key(&cache, &did(PLC), None, false)
        .await
        .unwrap();
    assert_eq!(warm, key(1).public_key());
}

#[tokio::test(flavor = "current_thread")]
async fn service_auth_async_resolves_over_the_network_on_a_current_thread_runtime() {
    let http = Arc::new(FakeHttp::default());
    let url = format!("http://plc.test/{PLC}");
    let slow_doc = |k: &Keypair| {
        Route::Slow(
            200,
            serde_json::to_vec(&doc_json(PLC, None, &k.public_key())).unwrap(),
        )
    };
    http.route(&url, slow_doc(&key(1)));
    let plc = PlcResolver::with_directory(Arc::clone(&http), "http://plc.test");
    let keys = DidKeyResolver::new(CachingDidResolver::new(plc, CacheConfig::default()));
    // The blocking bridge cannot wait for this lookup here...
    let err = SigningKeyResolver::signing_key(&keys, &did(PLC), None, false).unwrap_err();
    assert!(matches!(err, ResolveError::WouldBlock(_)), "{err}");
    let before = http.log().len();
    // ...the async side awaits it.
    let got = AsyncSigningKeyResolver::resolve_signing_key(&keys, &did(PLC), None, false)
        .await
        .unwrap();
    assert_eq!(got, key(1).public_key());
    let ok = verify_service_jwt_async(&token(&key(1), NOW), &expected(), NOW, &keys, None)
        .await
        .unwrap();
    assert_eq!(ok.did, did(PLC));
    assert_eq!(http.log().len(), before + 1, "the second lookup was cached");
    // The key rotates: the cached one fails, one fresh fetch verifies.
    http.route(&url, slow_doc(&key(2)));
    verify_service_jwt_async(&token(&key(2), NOW), &expected(), NOW, &keys, None)
        .await
        .unwrap();
    assert_eq!(http.log().len(), before + 2);
    // An unknown issuer is a key resolution failure.
    http.route(&url, Route::Answer(404, Vec::new()));
    keys.inner().clear();
    let err = verify_service_jwt_async(&token(&key(2), NOW), &expected(), NOW, &keys, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceAuthError::KeyResolution(_)), "{err}");
}

// ---------------------------------------------------------------- real HTTP

#[tokio::test]
async fn did_web_with_port_over_real_http_on_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = format!("did:web:127.0.0.1%3A{port}");
    let k = key(8).public_key();
    let body = serde_json::to_string(&doc_json(&id, Some("alice.example.com"), &k)).unwrap();
    let app = axum::Router::new().route(
        "/.well-known/did.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = ReqwestClient::new().unwrap();
    let web = WebResolver::new(client.clone()).allow_http_loopback(true);
    let got = web.resolve_did(&did(&id)).await.unwrap();
    assert_eq!(got.signing_key().unwrap(), k);
    assert_eq!(got.handle().unwrap().as_str(), "alice.example.com");

    // The whole identity, through the dispatching resolver.
    let handles = MemoryHandleResolver::new();
    handles.insert(&handle("alice.example.com"), did(&id));
    let ids = IdentityResolver::new(
        Resolver::new(client.clone()).allow_http_loopback(true),
        handles,
    );
    let resolved = ids.resolve_identifier("alice.example.com").await.unwrap();
    assert_eq!(resolved.did.as_str(), id);
    assert!(resolved.handle_is_valid());

    // Without the option, https to a plain-http server fails (transport).
    let strict = WebResolver::new(client);
    let err = strict.resolve_did(&did(&id)).await.unwrap_err();
    assert!(
        matches!(err, ResolveError::Transport(_) | ResolveError::Timeout(_)),
        "{err}"
    );
    server.abort();
}

#[tokio::test]
async fn request_time_limits_and_did_key_issuers() {
    let http = FakeHttp::default();
    http.route(&format!("http://plc.test/{PLC}"), Route::Hang);
    let plc = PlcResolver::with_directory(&http, "http://plc.test")
        .with_timeout(Duration::from_millis(20));
    let err = plc.resolve_did(&did(PLC)).await.unwrap_err();
    assert!(matches!(err, ResolveError::Timeout(_)) && err.is_transient());
    http.route(
        "https://slow.example.com/.well-known/atproto-did",
        Route::Hang,
    );
    let wk = WellKnownResolver::new(&http).with_timeout(Duration::from_millis(20));
    assert!(matches!(
        wk.resolve_handle(&handle("slow.example.com")).await,
        Err(ResolveError::Timeout(_))
    ));

    // A did:key issuer is its own key; nothing is fetched.
    let before = http.log().len();
    let k = key(9).public_key();
    let got = resolve_signing_key(&plc, &did(&k.to_did_key()), None, false)
        .await
        .unwrap();
    assert_eq!(got, k);
    assert_eq!(http.log().len(), before);
}
