//! The XRPC server (feature `server`) under untrusted requests: the whole
//! router with every extractor (`xrpc_server_request`), and the query
//! parameters deserializer alone through the public `Params` extractor
//! (`xrpc_params_de`).

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use atproto_core::Did;
use atproto_core::crypto::PublicKey;
use atproto_xrpc::QueryParams;
use atproto_xrpc::jwt::{self, Alg, Claims, Header};
use atproto_xrpc::server::{
    AuthRequired, HmacSessionVerifier, Input, ManualClock, MethodContext, Output, Params, RawInput,
    ServiceAuth, ServiceAuthVerifier, VerifiedAccess, XrpcRouter,
};
use atproto_xrpc::service_auth::{
    ServiceJwtParams, SigningKeyResolver, SyncKeys, create_service_jwt,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts};
use http::{HeaderValue, Method, Request};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::jwt_key;

const SECRET: &[u8] = b"fuzz session secret";
const NOW: u64 = 1_700_000_000;
const SERVICE_DID: &str = "did:web:api.example.com";
const USER_DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const JSON_LIMIT: usize = 512;
const RAW_LIMIT: usize = 1024;

// ------------------------------------------------------------ parameters

/// The parameters of `com.example.loose` (no lexicon: the server's own
/// deserializer reads them).
#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct Loose {
    n: Option<i64>,
    s: Option<String>,
    flag: Option<bool>,
    #[serde(default)]
    tag: Vec<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Alpha,
    Beta,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Wrapped(u32);

/// Every shape the deserializer takes: scalars of each kind, text, an
/// enum, a newtype, a tuple and sequences.
#[derive(Debug, Deserialize)]
struct Rich {
    n: Option<i64>,
    u: Option<u8>,
    f: Option<f64>,
    flag: Option<bool>,
    c: Option<char>,
    e: Option<Kind>,
    w: Option<Wrapped>,
    pair: Option<(u8, String)>,
    s: Option<String>,
    #[serde(default)]
    tag: Vec<String>,
    #[serde(default)]
    nums: Vec<i32>,
}

/// The pairs grouped by name, in the order given.
fn grouped(params: &QueryParams) -> BTreeMap<&str, Vec<&str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in params.pairs() {
        map.entry(k.as_str()).or_default().push(v.as_str());
    }
    map
}

/// One optional scalar: absent, or given once and parsed.
fn one<T: std::str::FromStr>(map: &BTreeMap<&str, Vec<&str>>, name: &str) -> Result<Option<T>, ()> {
    match map.get(name).map(Vec::as_slice) {
        None => Ok(None),
        Some([text]) => text.parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}

fn all<T: std::str::FromStr>(map: &BTreeMap<&str, Vec<&str>>, name: &str) -> Result<Vec<T>, ()> {
    map.get(name)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|t| t.parse().map_err(|_| ()))
        .collect()
}

/// What `Params<Loose>` must give, worked out independently.
fn loose_model(params: &QueryParams) -> Result<Loose, ()> {
    let map = grouped(params);
    Ok(Loose {
        n: one(&map, "n")?,
        s: one(&map, "s")?,
        flag: one(&map, "flag")?,
        tag: all(&map, "tag")?,
    })
}

/// What `Params<Rich>` must give, as `(fields…)` compared one by one.
fn check_rich(params: &QueryParams, got: Result<&Rich, &atproto_xrpc::XrpcError>) {
    let map = grouped(params);
    let model = (|| {
        let e = match one::<String>(&map, "e")?.as_deref() {
            None => None,
            Some("alpha") => Some(Kind::Alpha),
            Some("beta") => Some(Kind::Beta),
            Some(_) => return Err(()),
        };
        let pair = match map.get("pair").map(Vec::as_slice) {
            None => None,
            Some([a, b]) => Some((a.parse::<u8>().map_err(|_| ())?, (*b).to_owned())),
            Some(_) => return Err(()),
        };
        Ok((
            one::<i64>(&map, "n")?,
            one::<u8>(&map, "u")?,
            one::<f64>(&map, "f")?.map(f64::to_bits),
            one::<bool>(&map, "flag")?,
            one::<char>(&map, "c")?,
            e,
            one::<u32>(&map, "w")?.map(Wrapped),
            pair,
            one::<String>(&map, "s")?,
            all::<String>(&map, "tag")?,
            all::<i32>(&map, "nums")?,
        ))
    })();
    match (model, got) {
        (Ok(want), Ok(r)) => {
            let have = (
                r.n,
                r.u,
                r.f.map(f64::to_bits),
                r.flag,
                r.c,
                r.e.as_ref().map(|k| match k {
                    Kind::Alpha => Kind::Alpha,
                    Kind::Beta => Kind::Beta,
                }),
                r.w.as_ref().map(|w| Wrapped(w.0)),
                r.pair.clone(),
                r.s.clone(),
                r.tag.clone(),
                r.nums.clone(),
            );
            assert_eq!(have, want, "Params<Rich> read the query wrongly");
        }
        (Err(()), Err(e)) => assert_invalid_request(e),
        (Ok(want), Err(e)) => panic!("Params<Rich> refused a fitting query ({want:?}): {e}"),
        (Err(()), Ok(r)) => panic!("Params<Rich> accepted a query that does not fit: {r:?}"),
    }
}

fn assert_invalid_request(e: &atproto_xrpc::XrpcError) {
    assert_eq!(e.status, 400, "a parameter error is not 400: {e}");
    assert_eq!(e.name.as_str(), "InvalidRequest", "wrong error name: {e}");
}

/// Runs a future that never waits (the extractors over request parts).
fn ready<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the extractor waited"),
    }
}

/// Any query text through the public `Params` extractor outside a router
/// (so without a catalog: the server's own serde deserializer). Whatever
/// it gives must be what the decoded pairs say, worked out independently;
/// every refusal is `400 InvalidRequest`.
pub fn xrpc_params_de(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(req) = Request::get(format!("/xrpc/com.example.q?{text}")).body(()) else {
        return;
    };
    let (mut parts, ()) = req.into_parts();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let decoded = QueryParams::decode(&query);

    let rich = ready(Params::<Rich>::from_request_parts(&mut parts, &()));
    let map = ready(Params::<BTreeMap<String, Value>>::from_request_parts(
        &mut parts,
        &(),
    ));
    let Ok(params) = decoded else {
        assert_invalid_request(rich.as_ref().expect_err("a bad query string was accepted"));
        assert_invalid_request(map.as_ref().expect_err("a bad query string was accepted"));
        return;
    };
    check_rich(&params, rich.as_ref().map(|Params(r)| r));
    // Untyped: each name is its text, or the list of its texts.
    let want: BTreeMap<String, Value> = grouped(&params)
        .into_iter()
        .map(|(k, v)| {
            let value = match v.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            (k.to_owned(), value)
        })
        .collect();
    match map {
        Ok(Params(got)) => assert_eq!(got, want, "untyped parameters read wrongly"),
        Err(e) => panic!("untyped parameters refused: {e}"),
    }
}

// ---------------------------------------------------------------- the app

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
    algorithm: Option<String>,
    limit: i64,
    cursor: Option<String>,
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
    let VerifiedAccess { did, .. } = who;
    Output(json!({ "did": did.as_str() }))
}

async fn maybe_whoami(who: Option<AuthRequired<HmacSessionVerifier>>) -> Output<Value> {
    Output(json!({ "did": who.map(|AuthRequired(w)| w.did.as_str().to_owned()) }))
}

async fn service_call(ServiceAuth(jwt): ServiceAuth, ctx: MethodContext) -> Output<Value> {
    Output(json!({ "iss": jwt.did.as_str(), "lxm": ctx.nsid().as_str() }))
}

async fn no_input() -> Output<Value> {
    Output(json!({}))
}

async fn everything(
    who: Option<AuthRequired<HmacSessionVerifier>>,
    Params(p): Params<Loose>,
    Input(body): Input<Value>,
) -> Output<Value> {
    let did = who.map(|AuthRequired(w)| w.did.as_str().to_owned());
    Output(json!({ "did": did, "params": p, "body": body }))
}

/// The routes the fuzz input picks from (by index; one more index takes
/// the NSID from the input).
const ROUTES: &[&str] = &[
    "app.bsky.feed.getTimeline",
    "app.bsky.actor.getProfile",
    "com.example.loose",
    "com.example.echo",
    "com.atproto.repo.createRecord",
    "com.example.raw",
    "com.atproto.repo.uploadBlob",
    "com.atproto.repo.importRepo",
    "com.example.whoami",
    "com.example.maybeWhoami",
    "com.example.service",
    "com.atproto.server.activateAccount",
    "com.example.all",
    "_health",
];

struct Server {
    runtime: tokio::runtime::Runtime,
    app: Router,
    access_token: String,
    service_token: String,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let clock = ManualClock::at_unix_secs(NOW);
        let key = jwt_key();
        let state = AppState {
            access: HmacSessionVerifier::new(SECRET).clock(clock.clone()),
            // No replay cache: the same token may come in every run.
            service: ServiceAuthVerifier::new(SERVICE_DID, SyncKeys(OneKey(key.public_key())))
                .without_replay_cache()
                .clock(clock),
        };
        let app = XrpcRouter::<AppState>::new()
            .catalog(atproto_lexicon::bundled::catalog())
            .version("fuzz")
            .json_limit(JSON_LIMIT)
            .raw_limit(RAW_LIMIT)
            .query(ROUTES[0], timeline)
            .query(ROUTES[1], typed_params)
            .query(ROUTES[2], loose)
            .procedure(ROUTES[3], echo)
            .procedure(ROUTES[4], echo)
            .procedure(ROUTES[5], raw)
            .procedure(ROUTES[6], raw)
            .procedure(ROUTES[7], raw)
            .query(ROUTES[8], whoami)
            .query(ROUTES[9], maybe_whoami)
            .query(ROUTES[10], service_call)
            .procedure(ROUTES[11], no_input)
            .procedure(ROUTES[12], everything)
            .build()
            .expect("the fuzz router builds")
            .with_state(state);
        let mut header = Header::new(Alg::Hs256);
        header.typ = Some("at+jwt".into());
        let claims = Claims {
            sub: Some(USER_DID.into()),
            scope: Some(atproto_xrpc::server::ACCESS_SCOPE.into()),
            iat: Some(NOW as i64 - 10),
            exp: Some(NOW as i64 + 3600),
            ..Claims::default()
        };
        let access_token = jwt::sign_hs256(&header, &claims, SECRET).expect("signs");
        let lxm = ROUTES[10].parse().expect("an NSID");
        let service_token = create_service_jwt(
            &ServiceJwtParams {
                iss: USER_DID,
                aud: SERVICE_DID,
                lxm: Some(&lxm),
                now: NOW as i64,
                jti: "fuzz",
            },
            key,
        )
        .expect("signs");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime");
        Server {
            runtime,
            app,
            access_token,
            service_token,
        }
    })
}

/// How the fuzz input sets the `Authorization` header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    /// `Bearer <valid access token>`.
    Access,
    /// `Bearer <valid service token for com.example.service>`.
    Service,
    /// `bearer <valid access token>` (the scheme is case-insensitive).
    AccessLower,
    /// The header text from the input.
    Raw,
    /// `Bearer <text from the input>`.
    Token,
}

/// The request the fuzz input describes: byte 0 the method, byte 1 the
/// route, byte 2 content type / length / chunked flags, byte 3 the auth
/// mode; then, separated by NUL bytes, the NSID (for the last route index),
/// the query, a header text and the body (the rest, NULs included).
struct Case<'a> {
    method: Method,
    route: Option<&'static str>,
    nsid: &'a [u8],
    query: &'a [u8],
    header: &'a [u8],
    body: &'a [u8],
    content_type: u8,
    length: u8,
    chunked: bool,
    auth: Auth,
}

impl<'a> Case<'a> {
    fn parse(input: &'a [u8]) -> Option<Self> {
        let [m, r, flags, a, rest @ ..] = input else {
            return None;
        };
        let mut fields = rest.splitn(4, |&b| b == 0);
        let mut next = || fields.next().unwrap_or_default();
        let (nsid, query, header, body) = (next(), next(), next(), next());
        Some(Case {
            method: [Method::GET, Method::POST, Method::HEAD, Method::PUT][usize::from(m % 4)]
                .clone(),
            route: ROUTES.get(usize::from(*r) % (ROUTES.len() + 1)).copied(),
            nsid,
            query,
            header,
            body,
            content_type: flags & 7,
            length: (flags >> 3) & 3,
            chunked: flags & 0x20 != 0,
            auth: [
                Auth::None,
                Auth::Access,
                Auth::Service,
                Auth::AccessLower,
                Auth::Raw,
                Auth::Token,
            ][usize::from(a % 6)],
        })
    }

    fn content_type(&self) -> Option<&[u8]> {
        Some(match self.content_type {
            0 => return None,
            1 => b"application/json",
            2 => b"Application/JSON; charset=utf-8",
            3 => b"text/plain",
            4 => b"image/png",
            5 => b"application/vnd.ipld.car",
            6 => b"*/*",
            _ => self.header,
        })
    }

    /// No body, nothing announcing one.
    fn bodiless(&self) -> bool {
        self.body.is_empty() && matches!(self.length, 0 | 1) && !self.chunked
    }
}

fn build_request(case: &Case<'_>, server: &Server) -> Option<Request<Body>> {
    let path = match case.route {
        Some(nsid) => format!("/xrpc/{nsid}"),
        None => format!("/xrpc/{}", std::str::from_utf8(case.nsid).ok()?),
    };
    let uri = if case.query.is_empty() {
        path
    } else {
        format!("{path}?{}", std::str::from_utf8(case.query).ok()?)
    };
    let mut req = Request::builder().method(case.method.clone()).uri(uri);
    if let Some(ct) = case.content_type() {
        req = req.header("content-type", HeaderValue::from_bytes(ct).ok()?);
    }
    match case.length {
        1 => req = req.header("content-length", case.body.len()),
        2 => req = req.header("content-length", case.body.len() + 1),
        3 => req = req.header("content-length", HeaderValue::from_bytes(case.header).ok()?),
        _ => {}
    }
    if case.chunked {
        req = req.header("transfer-encoding", "chunked");
    }
    let auth = match case.auth {
        Auth::None => None,
        Auth::Access => Some(format!("Bearer {}", server.access_token).into_bytes()),
        Auth::Service => Some(format!("Bearer {}", server.service_token).into_bytes()),
        Auth::AccessLower => Some(format!("bearer {}", server.access_token).into_bytes()),
        Auth::Raw => Some(case.header.to_vec()),
        Auth::Token => Some([b"Bearer ", case.header].concat()),
    };
    if let Some(auth) = auth {
        req = req.header("authorization", HeaderValue::from_bytes(&auth).ok()?);
    }
    req.body(Body::from(case.body.to_vec())).ok()
}

/// A request from the fuzz input through the router: no panic, a status
/// among those XRPC answers with, an XRPC error body on every failure, and
/// the echo handlers' answers agree with what was sent.
pub fn xrpc_server_request(input: &[u8]) {
    let Some(case) = Case::parse(input) else {
        return;
    };
    let server = server();
    let Some(req) = build_request(&case, server) else {
        return;
    };
    // What the server reads: the URI's query (a `#` ends it).
    let query = req.uri().query().unwrap_or("").to_owned();
    let (status, content_type, body) = server.runtime.block_on(async {
        let res = server
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.as_bytes().to_vec());
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("a response body reads");
        (status, content_type, body)
    });
    assert!(
        matches!(status, 200 | 400 | 401 | 413 | 501),
        "unexpected status {status}: {body:?}"
    );
    if case.method == Method::HEAD {
        return;
    }
    let json: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("status {status}, body is not JSON ({e}): {body:?}"));
    assert!(
        content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with(b"application/json")),
        "status {status}, content type {content_type:?}"
    );
    if status != 200 {
        check_error_body(&json, status);
    } else {
        check_answer(&case, &query, &json);
    }
    check_expected_success(&case, &query, status, &json);
}

fn check_error_body(json: &Value, status: u16) {
    let obj = json
        .as_object()
        .unwrap_or_else(|| panic!("status {status}, error body is not an object: {json}"));
    assert!(
        obj.get("error").is_some_and(Value::is_string),
        "status {status}, no error name: {json}"
    );
    assert!(
        obj.get("message").is_none_or(Value::is_string),
        "status {status}, message is not text: {json}"
    );
}

/// The request body's MIME type as the server reads it.
fn mime_of(case: &Case<'_>) -> Option<String> {
    let ct = case.content_type()?;
    if !ct.iter().all(|&b| b == b'\t' || (32..127).contains(&b)) {
        return None;
    }
    let ct = std::str::from_utf8(ct).ok()?;
    let mime = ct.split(';').next()?.trim();
    match mime.split_once('/') {
        Some((t, s)) if !t.is_empty() && !s.is_empty() && !s.contains('/') => {
            Some(mime.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The request body as the echo handlers answer it: parsed, printed and
/// read again (`serde_json` without `float_roundtrip` may read a printed
/// float as its neighbour, on either side).
fn sent_json(body: &[u8]) -> Value {
    let sent: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    let printed = serde_json::to_vec(&sent).expect("a JSON value prints");
    serde_json::from_slice(&printed).expect("printed JSON reads again")
}

/// A `200` answer agrees with the request.
fn check_answer(case: &Case<'_>, query: &str, json: &Value) {
    match case.route {
        Some("app.bsky.feed.getTimeline") => {
            let limit = json["limit"].as_i64().expect("a limit");
            assert!((1..=100).contains(&limit), "limit {limit} out of range");
        }
        Some("app.bsky.actor.getProfile") => {
            assert!(
                json["actor"].is_string(),
                "getProfile without actor: {json}"
            );
        }
        Some("com.example.loose") => {
            let want = QueryParams::decode(query)
                .ok()
                .and_then(|p| loose_model(&p).ok())
                .unwrap_or_else(|| panic!("accepted bad parameters {query:?}: {json}"));
            assert_eq!(json, &json!(want), "loose parameters echoed wrongly");
        }
        Some("com.example.echo") => {
            let sent = sent_json(case.body);
            assert_eq!(json, &sent, "JSON body echoed wrongly");
            assert_eq!(mime_of(case).as_deref(), Some("application/json"));
        }
        Some("com.atproto.repo.createRecord") => {
            assert!(
                json["collection"].is_string() && json["record"].is_object(),
                "createRecord accepted an invalid input: {json}"
            );
        }
        Some(
            nsid @ ("com.example.raw"
            | "com.atproto.repo.uploadBlob"
            | "com.atproto.repo.importRepo"),
        ) => {
            assert_eq!(json["size"], json!(case.body.len()), "raw body size");
            let mime = mime_of(case).expect("a raw body has a content type");
            assert_eq!(json["mime"], json!(mime), "raw body MIME type");
            if nsid == "com.atproto.repo.importRepo" {
                assert_eq!(mime, "application/vnd.ipld.car");
            }
        }
        Some("com.example.whoami") => assert_eq!(json["did"], json!(USER_DID)),
        Some("com.example.maybeWhoami") => {
            let want = if case.auth == Auth::None {
                Value::Null
            } else {
                json!(USER_DID)
            };
            assert_eq!(json["did"], want, "optional auth answered wrongly");
        }
        Some("com.example.service") => {
            assert_eq!(json["iss"], json!(USER_DID));
            assert_eq!(json["lxm"], json!("com.example.service"));
        }
        Some("com.atproto.server.activateAccount") => {
            // (Unless a `Content-Length: 0` said there is none, which is
            // what HTTP/1 goes by.)
            assert!(
                case.body.is_empty() || (case.length == 3 && case.header == b"0"),
                "a body was taken by a method without input"
            );
        }
        Some("com.example.all") => {
            let sent = sent_json(case.body);
            assert_eq!(json["body"], sent, "JSON body echoed wrongly");
            let params = QueryParams::decode(query)
                .ok()
                .and_then(|p| loose_model(&p).ok())
                .unwrap_or_else(|| panic!("accepted bad parameters {query:?}: {json}"));
            assert_eq!(json["params"], json!(params));
            if case.auth == Auth::None {
                assert_eq!(json["did"], Value::Null);
            } else {
                assert_eq!(json["did"], json!(USER_DID));
            }
        }
        Some("_health") => assert_eq!(json, &json!({ "version": "fuzz" })),
        _ => {}
    }
}

/// The requests that must succeed do.
fn check_expected_success(case: &Case<'_>, query: &str, status: u16, json: &Value) {
    let valid_access = matches!(case.auth, Auth::Access | Auth::AccessLower);
    let get = case.method == Method::GET && case.bodiless();
    let must_succeed = match case.route {
        Some("com.example.whoami") => get && valid_access,
        Some("com.example.maybeWhoami") => get && (valid_access || case.auth == Auth::None),
        Some("com.example.service") => get && case.auth == Auth::Service,
        Some("_health") => get,
        Some("com.example.loose") => {
            get && QueryParams::decode(query).is_ok_and(|p| loose_model(&p).is_ok())
        }
        Some("com.example.echo") => {
            case.method == Method::POST
                && mime_of(case).as_deref() == Some("application/json")
                && case.body.len() <= JSON_LIMIT
                && matches!(case.length, 0 | 1)
                && serde_json::from_slice::<Value>(case.body).is_ok()
        }
        Some("com.example.raw") => {
            case.method == Method::POST
                && mime_of(case).is_some()
                && case.body.len() <= RAW_LIMIT
                && matches!(case.length, 0 | 1)
        }
        _ => false,
    };
    assert!(
        !must_succeed || status == 200,
        "a valid request was refused ({status}): {json}"
    );
}
