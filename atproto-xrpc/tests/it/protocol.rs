//! Protocol types: method paths, query parameters, the error type, headers.
// Helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, UNIX_EPOCH};

use atproto_core::Nsid;
use atproto_xrpc::error::MAX_ERROR_BODY_LEN;
use atproto_xrpc::headers::{self, ProxyError};
use atproto_xrpc::method::{self, MAX_PATH_LEN};
use atproto_xrpc::params::{MAX_PARAM_PAIRS, MAX_QUERY_LEN};
use atproto_xrpc::{
    ErrorName, HeaderError, LabelerList, Method, MethodKind, ParamsError, PathError, ProxyTarget,
    QueryParams, RateLimit, RateLimitPolicy, RetryAfter, XrpcError,
};

fn nsid(s: &str) -> Nsid {
    s.parse().unwrap()
}

// ---- method ----

#[test]
fn method_kinds_and_http_methods() {
    let n = nsid("com.atproto.repo.getRecord");
    assert_eq!(Method::query(n.clone()).http_method(), "GET");
    assert_eq!(Method::procedure(n.clone()).http_method(), "POST");
    let sub = Method::subscription(nsid("com.atproto.sync.subscribeRepos"));
    assert_eq!(sub.http_method(), "GET");
    assert_eq!(sub.kind, MethodKind::Subscription);
    assert_eq!(MethodKind::Procedure.to_string(), "procedure");
    assert_eq!(Method::query(n).path(), "/xrpc/com.atproto.repo.getRecord");
}

#[test]
fn path_round_trip_with_query() {
    let n = nsid("app.bsky.feed.getTimeline");
    let p = method::path(&n);
    let parsed = method::parse_path(&p).unwrap();
    assert_eq!(parsed.nsid, n);
    assert_eq!(parsed.query, None);
    let target = format!("{p}?limit=5&cursor=abc");
    let parsed = method::parse_path(&target).unwrap();
    assert_eq!(parsed.nsid, n);
    assert_eq!(parsed.query, Some("limit=5&cursor=abc"));
    let q = QueryParams::decode(parsed.query.unwrap()).unwrap();
    assert_eq!(q.get("limit"), Some("5"));
}

#[test]
fn bad_paths_are_typed_errors() {
    assert_eq!(
        method::parse_path("/api/com.example.foo"),
        Err(PathError::NotXrpc)
    );
    assert_eq!(
        method::parse_path("xrpc/com.example.foo"),
        Err(PathError::NotXrpc)
    );
    for bad in [
        "/xrpc/",
        "/xrpc/com.example",
        "/xrpc/com.example.foo/",
        "/xrpc/com.example.foo/bar",
        "/xrpc/_health",
        "/xrpc/com.exa%6Dple.foo",
        "/xrpc/1com.example.foo",
    ] {
        match method::parse_path(bad) {
            Err(PathError::InvalidNsid { segment, .. }) => {
                assert_eq!(format!("/xrpc/{segment}"), bad.split('?').next().unwrap())
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let long = format!("/xrpc/com.example.foo?{}", "a".repeat(MAX_PATH_LEN));
    assert!(matches!(
        method::parse_path(&long),
        Err(PathError::TooLong { .. })
    ));
    let msg = method::parse_path("/xrpc/com..foo")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("com..foo"), "{msg}");
}

// ---- params ----

#[test]
fn encode_arrays_repeat_the_key_and_values_are_typed() {
    let mut q = QueryParams::new();
    q.push("actor", "alice.bsky.social")
        .push("limit", 30_i64)
        .push("includePins", true)
        .push_array("tag", ["a", "b"])
        .push_array("none", Vec::<&str>::new());
    assert_eq!(
        q.encode(),
        "actor=alice.bsky.social&limit=30&includePins=true&tag=a&tag=b"
    );
    assert_eq!(q.get_all("tag").collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(QueryParams::decode(&q.encode()).unwrap(), q);
    assert_eq!(QueryParams::new().encode(), "");
}

#[test]
fn percent_encoding_of_reserved_and_non_ascii() {
    let mut q = QueryParams::new();
    q.push("q", "a b&c=d+e/f?g#h%i")
        .push("uri", "at://did:plc:abc/app.bsky.feed.post/3k")
        .push("text", "café 🦋");
    let enc = q.encode();
    assert_eq!(
        enc,
        "q=a+b%26c%3Dd%2Be%2Ff%3Fg%23h%25i\
         &uri=at%3A%2F%2Fdid%3Aplc%3Aabc%2Fapp.bsky.feed.post%2F3k\
         &text=caf%C3%A9+%F0%9F%A6%8B"
    );
    let back = QueryParams::decode(&enc).unwrap();
    assert_eq!(back, q);
    // %20 as well as + is a space; a stray % stays literal.
    let d = QueryParams::decode("?a=x%20y&b=100%&c=%zz").unwrap();
    assert_eq!(d.as_pairs(), [("a", "x y"), ("b", "100%"), ("c", "%zz")]);
}

#[test]
fn decode_edge_cases() {
    let d = QueryParams::decode("a=1&&b&=v&c=x=y&").unwrap();
    assert_eq!(
        d.as_pairs(),
        [("a", "1"), ("b", ""), ("", "v"), ("c", "x=y")]
    );
    assert!(QueryParams::decode("").unwrap().is_empty());
    assert!(QueryParams::decode("?").unwrap().is_empty());
    assert_eq!(
        QueryParams::decode("a=1&b=%FF"),
        Err(ParamsError::NotUtf8 { pair: 1 })
    );
    assert_eq!(
        QueryParams::decode("%C3=1"),
        Err(ParamsError::NotUtf8 { pair: 0 })
    );
}

#[test]
fn decode_limits() {
    let at_limit = "a".repeat(MAX_QUERY_LEN);
    assert_eq!(QueryParams::decode(&at_limit).unwrap().len(), 1);
    let over = "a".repeat(MAX_QUERY_LEN + 1);
    assert_eq!(
        QueryParams::decode(&over),
        Err(ParamsError::TooLong {
            len: MAX_QUERY_LEN + 1,
            max: MAX_QUERY_LEN
        })
    );
    let many = vec!["k=v"; MAX_PARAM_PAIRS].join("&");
    assert_eq!(QueryParams::decode(&many).unwrap().len(), MAX_PARAM_PAIRS);
    let too_many = vec!["k=v"; MAX_PARAM_PAIRS + 1].join("&");
    assert_eq!(
        QueryParams::decode(&too_many),
        Err(ParamsError::TooManyPairs {
            max: MAX_PARAM_PAIRS
        })
    );
}

#[test]
fn decoded_pairs_feed_the_lexicon_params_validator() {
    let catalog = atproto_lexicon::bundled::catalog();
    let q = catalog.query("app.bsky.feed.getAuthorFeed").unwrap();
    let params = QueryParams::decode("actor=alice.bsky.social&limit=30").unwrap();
    let v = q.validate_params(&params.as_pairs()).unwrap();
    assert_eq!(v.get("limit"), Some(&atproto_core::Value::Integer(30)));
    let posts = catalog.query("app.bsky.feed.getPosts").unwrap();
    let mut p = QueryParams::new();
    p.push_array(
        "uris",
        [
            "at://did:plc:abc/app.bsky.feed.post/3k1",
            "at://did:plc:abc/app.bsky.feed.post/3k2",
        ],
    );
    let decoded = QueryParams::decode(&p.encode()).unwrap();
    let v = posts.validate_params(&decoded.as_pairs()).unwrap();
    match v.get("uris") {
        Some(atproto_core::Value::Array(a)) => assert_eq!(a.len(), 2),
        other => panic!("{other:?}"),
    }
}

// ---- error ----

const TABLE: &[(&str, u16)] = &[
    ("InvalidRequest", 400),
    ("AuthenticationRequired", 401),
    ("Forbidden", 403),
    ("XRPCNotSupported", 404),
    ("NotAcceptable", 406),
    ("PayloadTooLarge", 413),
    ("UnsupportedMediaType", 415),
    ("RateLimitExceeded", 429),
    ("InternalServerError", 500),
    ("MethodNotImplemented", 501),
    ("UpstreamFailure", 502),
    ("NotEnoughResources", 503),
    ("UpstreamTimeout", 504),
];

#[test]
fn every_standard_name_and_status() {
    assert_eq!(ErrorName::STANDARD.len(), TABLE.len());
    for (name, status) in TABLE {
        let n = ErrorName::parse(name);
        assert!(!matches!(n, ErrorName::Other(_)), "{name}");
        assert_eq!(n.as_str(), *name);
        assert_eq!(n.status(), Some(*status), "{name}");
        assert_eq!(ErrorName::from_status(*status), n);
        let e = XrpcError::new(n.clone(), None);
        assert_eq!(e.status, *status);
        let back = XrpcError::from_response(*status, e.to_json().as_bytes());
        assert_eq!(back, e);
    }
    // Statuses without a name of their own, as the reference client maps them.
    assert_eq!(ErrorName::from_status(418), ErrorName::InvalidRequest);
    assert_eq!(ErrorName::from_status(599), ErrorName::InternalServerError);
    assert_eq!(ErrorName::from_status(302), ErrorName::XRPCNotSupported);
}

#[test]
fn unknown_names_are_kept() {
    for name in ["ExpiredToken", "InvalidToken", "RecordNotFound", ""] {
        let n = ErrorName::parse(name);
        assert_eq!(n, ErrorName::Other(name.to_owned()));
        assert_eq!(n.status(), None);
    }
    let e = XrpcError::new("ExpiredToken", Some("Token has expired".to_owned()));
    assert_eq!(e.status, 400);
    assert_eq!(
        e.to_json(),
        r#"{"error":"ExpiredToken","message":"Token has expired"}"#
    );
    assert_eq!(e.to_string(), "ExpiredToken: Token has expired");
    let back = XrpcError::from_response(400, e.to_json().as_bytes());
    assert_eq!(back.name.as_str(), "ExpiredToken");
    assert_eq!(back.message.as_deref(), Some("Token has expired"));
    // Names compare by text.
    assert_eq!(ErrorName::Other("Forbidden".into()), ErrorName::Forbidden);
    let e = XrpcError::with_status(401, "InvalidToken", None);
    assert_eq!(e.to_string(), "InvalidToken");
    assert_eq!(e.to_json(), r#"{"error":"InvalidToken"}"#);
    let as_std: &dyn std::error::Error = &e;
    assert_eq!(as_std.to_string(), "InvalidToken");
}

#[test]
fn malformed_bodies_fall_back_to_the_status() {
    for body in [
        &b""[..],
        b"not json",
        b"<html>502 Bad Gateway</html>",
        b"[1,2]",
        b"\"InvalidRequest\"",
        br#"{"error": 5, "message": "x"}"#,
        br#"{"error": "X", "message": {"a": 1}}"#,
        br#"{"error": "X""#,
    ] {
        let e = XrpcError::from_response(502, body);
        assert_eq!(e.name, ErrorName::UpstreamFailure, "{body:?}");
        assert_eq!(e.message, None);
        assert_eq!(e.status, 502);
    }
    // Only a message: the name comes from the status; extra members ignored.
    let e = XrpcError::from_response(429, br#"{"message":"slow down","extra":[1]}"#);
    assert_eq!(e.name, ErrorName::RateLimitExceeded);
    assert_eq!(e.to_string(), "RateLimitExceeded: slow down");
    // Escapes in the body are decoded.
    let e = XrpcError::from_response(400, br#"{"error":"Bad\u0041","message":"a\"b"}"#);
    assert_eq!(e.name.as_str(), "BadA");
    assert_eq!(e.message.as_deref(), Some("a\"b"));
    // An oversized body is not parsed.
    let mut big = br#"{"error":"Forbidden","message":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', MAX_ERROR_BODY_LEN));
    big.extend(br#""}"#);
    assert_eq!(
        XrpcError::from_response(500, &big).name,
        ErrorName::InternalServerError
    );
}

#[test]
fn retry_after_and_rate_limit_headers() {
    let hs = [
        ("retry-after", "30"),
        ("ratelimit-limit", "3000"),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", "1733540000"),
        ("ratelimit-policy", "3000;w=300"),
    ];
    let lookup = |n: &str| hs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let e = XrpcError::from_response(429, br#"{"error":"RateLimitExceeded"}"#)
        .with_headers(lookup)
        .unwrap();
    assert_eq!(e.retry_after, Some(RetryAfter::Seconds(30)));
    let rl = e.rate_limit.unwrap();
    assert_eq!(
        rl,
        RateLimit {
            limit: 3000,
            remaining: 0,
            reset: 1_733_540_000,
            policy: Some(RateLimitPolicy {
                limit: 3000,
                window_secs: 300
            }),
        }
    );
    let mut sent = e.headers();
    sent.sort();
    let mut expect: Vec<_> = hs.iter().map(|(k, v)| (*k, v.to_string())).collect();
    expect.sort();
    assert_eq!(sent, expect);
    // No headers at all.
    let e = XrpcError::new(ErrorName::Forbidden, None)
        .with_headers(|_| None)
        .unwrap();
    assert_eq!((e.retry_after, e.rate_limit), (None, None));
    assert!(e.headers().is_empty());
    // A date, read and written in IMF-fixdate form; the delay counts from `now`.
    let hs = [("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")];
    let lookup = |n: &str| hs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let e = XrpcError::new(ErrorName::NotEnoughResources, None)
        .with_headers(lookup)
        .unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(e.retry_after, Some(RetryAfter::Date(at)));
    assert_eq!(e.headers(), [("retry-after", hs[0].1.to_owned())]);
    let ra = e.retry_after.unwrap();
    assert_eq!(
        ra.delay(at - Duration::from_secs(90)),
        Duration::from_secs(90)
    );
    assert_eq!(ra.delay(at + Duration::from_secs(5)), Duration::ZERO);
    assert_eq!(
        RetryAfter::parse("Sunday, 06-Nov-94 08:49:37 GMT").unwrap(),
        RetryAfter::Date(at)
    );
    assert_eq!(
        RetryAfter::Seconds(120).delay(UNIX_EPOCH),
        Duration::from_secs(120)
    );
    assert_eq!(" 7 ".parse::<RetryAfter>(), Ok(RetryAfter::Seconds(7)));
    // Bad values.
    for bad in [
        "",
        "-1",
        "1.5",
        "99999999999999999999999",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "tomorrow",
    ] {
        assert_eq!(
            RetryAfter::parse(bad),
            Err(HeaderError::InvalidRetryAfter),
            "{bad}"
        );
    }
    let bad = [("retry-after", "soon")];
    let lookup = |n: &str| bad.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    assert_eq!(
        XrpcError::new(ErrorName::Forbidden, None).with_headers(lookup),
        Err(HeaderError::InvalidRetryAfter)
    );
    let partial = |n: &str| (n == "ratelimit-limit").then_some("10");
    assert_eq!(
        RateLimit::from_headers(partial),
        Err(HeaderError::MissingRateLimit)
    );
    assert_eq!(
        RateLimitPolicy::parse("10"),
        Err(HeaderError::MissingWindow)
    );
    assert!(RateLimitPolicy::parse("x;w=1").is_err());
    assert_eq!(
        RateLimitPolicy::parse("10; q=1; w=60").unwrap().window_secs,
        60
    );
}

// ---- headers ----

#[test]
fn proxy_header_parsing() {
    let p = ProxyTarget::parse("did:web:api.bsky.app#bsky_appview").unwrap();
    assert_eq!(p.did.as_str(), "did:web:api.bsky.app");
    assert_eq!(p.service_id, "bsky_appview");
    assert_eq!(p.to_string(), "did:web:api.bsky.app#bsky_appview");
    let p: ProxyTarget = "did:plc:ar7c4by46qjdydhdevvrndac#atproto_labeler"
        .parse()
        .unwrap();
    assert_eq!(ProxyTarget::parse(&p.to_string()).unwrap(), p);

    let reason = |v: &str| match ProxyTarget::parse(v) {
        Err(HeaderError::InvalidProxy { reason }) => reason,
        other => panic!("{v}: {other:?}"),
    };
    assert_eq!(reason("did:web:api.bsky.app"), ProxyError::MissingServiceId);
    assert_eq!(
        reason("did:web:api.bsky.app#"),
        ProxyError::MissingServiceId
    );
    assert_eq!(reason("#bsky_appview"), ProxyError::MissingDid);
    assert_eq!(reason("did:web:a.b#x#y"), ProxyError::ExtraHash);
    assert_eq!(reason("did:web:a.b#bsky appview"), ProxyError::Space);
    assert!(matches!(reason("not-a-did#svc"), ProxyError::InvalidDid(_)));
    assert!(matches!(reason("did:web:#svc"), ProxyError::InvalidDid(_)));
    assert!(matches!(
        reason("did:PLC:abc#svc"),
        ProxyError::InvalidDid(_)
    ));
    assert!(matches!(
        ProxyTarget::parse(&format!("did:web:a.b#{}", "x".repeat(9000))),
        Err(HeaderError::TooLong { .. })
    ));
}

#[test]
fn labeler_lists() {
    let l = LabelerList::parse(
        "did:plc:ar7c4by46qjdydhdevvrndac;redact, did:plc:abc ,did:web:mod.example.com;redact=?0",
    )
    .unwrap();
    let got: Vec<_> = l
        .labelers
        .iter()
        .map(|l| (l.did.as_str(), l.redact))
        .collect();
    assert_eq!(
        got,
        [
            ("did:plc:ar7c4by46qjdydhdevvrndac", true),
            ("did:plc:abc", false),
            ("did:web:mod.example.com", false),
        ]
    );
    assert_eq!(
        l.to_string(),
        "did:plc:ar7c4by46qjdydhdevvrndac;redact,did:plc:abc,did:web:mod.example.com"
    );
    assert_eq!(LabelerList::parse(&l.to_string()).unwrap(), l);
    // Duplicates kept once, redacted if any entry says so; other params ignored.
    let d = LabelerList::parse("did:plc:a;x=1, did:plc:b, did:plc:a;redact=?1").unwrap();
    assert_eq!(d.to_string(), "did:plc:a;redact,did:plc:b");
    assert!(LabelerList::parse("").unwrap().labelers.is_empty());
    assert!(LabelerList::parse("  ").unwrap().labelers.is_empty());
    assert_eq!(
        LabelerList::parse("did:plc:a,,did:plc:b"),
        Err(HeaderError::EmptyLabeler { index: 1 })
    );
    assert_eq!(
        LabelerList::parse("did:plc:a,"),
        Err(HeaderError::EmptyLabeler { index: 1 })
    );
    assert!(matches!(
        LabelerList::parse("did:plc:a, bsky.app;redact"),
        Err(HeaderError::InvalidLabelerDid { index: 1, .. })
    ));
    let many = vec!["did:plc:a"; headers::MAX_LABELERS + 1].join(",");
    assert!(matches!(
        LabelerList::parse(&many),
        Err(HeaderError::TooManyLabelers { .. })
    ));
}

#[test]
fn header_names() {
    assert_eq!(headers::ATPROTO_PROXY, "atproto-proxy");
    assert_eq!(headers::ATPROTO_ACCEPT_LABELERS, "atproto-accept-labelers");
    assert_eq!(
        headers::ATPROTO_CONTENT_LABELERS,
        "atproto-content-labelers"
    );
    assert!(headers::ATPROTO_REPO_REV.eq_ignore_ascii_case("Atproto-Repo-Rev"));
    for name in [
        headers::RETRY_AFTER,
        headers::RATELIMIT_LIMIT,
        headers::RATELIMIT_REMAINING,
        headers::RATELIMIT_RESET,
        headers::RATELIMIT_POLICY,
    ] {
        assert_eq!(name, name.to_ascii_lowercase());
    }
}

mod props {
    use atproto_xrpc::{QueryParams, XrpcError};
    use proptest::prelude::*;

    proptest! {
        /// Any text pairs survive encode → decode, in order.
        #[test]
        fn params_round_trip(pairs in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..16)) {
            // An empty piece (`name` and `value` both empty) encodes to `=`,
            // which decodes back to ("", "").
            let q: QueryParams = pairs.iter().cloned().collect();
            let back = QueryParams::decode(&q.encode()).unwrap();
            prop_assert_eq!(back, q);
        }

        /// Decoding arbitrary text never panics and stays within the limits.
        #[test]
        fn decode_arbitrary_text(s in ".{0,200}") {
            if let Ok(q) = QueryParams::decode(&s) {
                prop_assert!(q.len() <= atproto_xrpc::params::MAX_PARAM_PAIRS);
            }
        }

        /// Any name and message survive the JSON body.
        #[test]
        fn error_body_round_trip(name in ".{0,20}", message in proptest::option::of(".{0,40}"), status in 400u16..600) {
            let e = XrpcError::with_status(status, name.as_str(), message);
            let back = XrpcError::from_response(status, e.to_json().as_bytes());
            prop_assert_eq!(back, e);
        }

        /// Arbitrary bytes as an error body never panic.
        #[test]
        fn error_body_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..200), status in 0u16..1000) {
            let e = XrpcError::from_response(status, &body);
            prop_assert_eq!(e.status, status);
        }
    }
}
