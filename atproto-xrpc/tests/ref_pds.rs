//! Interop with the official TypeScript PDS and PLC directory, run on
//! loopback by `support/ref_pds.rs`. Skipped (and said so) when the runner is
//! not installed; `.ci/run` installs it and requires it.
//!
//! One PDS serves every scenario of this binary, run in order by one test,
//! since starting it costs seconds of two cores.

// A failed assumption in a test helper is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/ref_pds.rs"]
mod ref_pds;

use std::time::{SystemTime, UNIX_EPOCH};

use atproto_core::{Curve, Did, Keypair, Nsid, PublicKey};
use atproto_xrpc::identity::plc::{Operation, PlcData, PlcState, parse_log, verify_log};
use atproto_xrpc::service_auth::{
    Expected, MemoryReplayCache, ServiceJwtParams, SigningKeyResolver, create_service_jwt,
    random_jti, verify_service_jwt,
};
use atproto_xrpc::transport::Bytes;
use atproto_xrpc::{DidDocument, HttpClient, ReqwestClient};
use ref_pds::RefPds;
use serde_json::{Value, json};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn keypair() -> Keypair {
    Keypair::generate(Curve::K256)
}

/// Plain HTTP for the PLC directory (not XRPC) and for checks that must see
/// the wire exactly.
struct Http {
    client: ReqwestClient,
}

impl Http {
    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> (u16, Value) {
        let mut request = http::Request::builder().method(method).uri(url);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(json).expect("json"))
            }
            None => Bytes::new(),
        };
        let response = self
            .client
            .send(request.body(body).expect("request"))
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        (status, json)
    }
}

/// A key resolver over documents fetched beforehand (the verifier's trait is
/// synchronous; the network resolvers have their own tests).
struct FetchedKeys(Vec<(Did, PublicKey)>);

#[derive(Debug, thiserror::Error)]
#[error("no key for {0}")]
struct NoKey(String);

impl SigningKeyResolver for FetchedKeys {
    type Error = NoKey;
    fn signing_key(&self, did: &Did, _: Option<&str>, _: bool) -> Result<PublicKey, NoKey> {
        self.0
            .iter()
            .find(|(d, _)| d == did)
            .map(|(_, k)| k.clone())
            .ok_or_else(|| NoKey(did.to_string()))
    }
}

async fn plc_document(http: &Http, pds: &RefPds, did: &Did) -> DidDocument {
    let (status, doc) = http
        .send("GET", &format!("{}/{did}", pds.plc_url), None, None)
        .await;
    assert_eq!(status, 200, "PLC GET {did}: {doc}");
    DidDocument::parse(&serde_json::to_vec(&doc).expect("json"), did).expect("PLC document parses")
}

/// Our did:plc operations are accepted by the reference directory, and the
/// log it keeps verifies with our code.
async fn plc_operations(http: &Http, pds: &RefPds) {
    let rotation = keypair();
    let signing = keypair();
    let data = PlcData::atproto(
        &signing.public_key(),
        &"carol.test".parse().expect("handle"),
        &pds.public_url,
        &[rotation.public_key()],
    );
    let (genesis, did) = Operation::genesis(data.clone(), &rotation);
    let op_json = serde_json::to_value(&genesis).expect("op json");
    let (status, body) = http
        .send(
            "POST",
            &format!("{}/{did}", pds.plc_url),
            Some(&op_json),
            None,
        )
        .await;
    assert_eq!(status, 200, "PLC refused our genesis operation: {body}");

    let doc = plc_document(http, pds, &did).await;
    assert_eq!(doc.signing_key().expect("key"), signing.public_key());
    assert_eq!(
        doc.handle().map(|h| h.to_string()).as_deref(),
        Some("carol.test")
    );
    assert_eq!(doc.pds_endpoint().expect("pds"), pds.public_url);

    // An update signed by the rotation key is accepted ...
    let mut moved = data.clone();
    moved.also_known_as = vec!["at://carol2.test".to_owned()];
    let update = Operation::update(&genesis, moved.clone(), &rotation);
    let (status, body) = http
        .send(
            "POST",
            &format!("{}/{did}", pds.plc_url),
            Some(&serde_json::to_value(&update).expect("json")),
            None,
        )
        .await;
    assert_eq!(status, 200, "PLC refused our update: {body}");
    // ... one signed by the signing key (not a rotation key) is refused.
    let forged = Operation::update(&update, data.clone(), &signing);
    let (status, _) = http
        .send(
            "POST",
            &format!("{}/{did}", pds.plc_url),
            Some(&serde_json::to_value(&forged).expect("json")),
            None,
        )
        .await;
    assert_eq!(
        status, 400,
        "PLC accepted an operation by a non-rotation key"
    );

    // The directory's log is ours, and verifies.
    let (status, log) = http
        .send("GET", &format!("{}/{did}/log", pds.plc_url), None, None)
        .await;
    assert_eq!(status, 200);
    let ops = parse_log(&serde_json::to_vec(&log).expect("json")).expect("log parses");
    assert_eq!(ops, vec![genesis, update]);
    assert_eq!(
        verify_log(&did, &ops).expect("log verifies"),
        PlcState::Active(moved)
    );
}

/// The PDS accepts an account we bring: a DID we registered with the
/// directory, and a service-auth token we signed for `createAccount`.
async fn bring_own_did(http: &Http, pds: &RefPds) {
    let rotation = keypair();
    let signing = keypair();
    let data = PlcData::atproto(
        &signing.public_key(),
        &"migrant.test".parse().expect("handle"),
        &pds.public_url,
        &[rotation.public_key()],
    );
    let (genesis, did) = Operation::genesis(data, &rotation);
    let (status, body) = http
        .send(
            "POST",
            &format!("{}/{did}", pds.plc_url),
            Some(&serde_json::to_value(&genesis).expect("json")),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let nsid: Nsid = "com.atproto.server.createAccount".parse().expect("nsid");
    let token = |lxm: &Nsid| {
        create_service_jwt(
            &ServiceJwtParams {
                iss: did.as_str(),
                aud: &pds.service_did,
                lxm: Some(lxm),
                now: now(),
                jti: &random_jti().expect("rng"),
            },
            &signing,
        )
        .expect("sign")
    };
    let input = json!({
        "did": did.as_str(),
        "handle": "migrant.test",
        "email": "migrant@example.com",
        "password": "migrant-password-1",
    });
    let url = format!("{}/xrpc/{nsid}", pds.pds_url);
    // Bound to another method: refused.
    let wrong: Nsid = "com.atproto.repo.createRecord".parse().expect("nsid");
    let (status, body) = http
        .send("POST", &url, Some(&input), Some(&token(&wrong)))
        .await;
    assert_eq!(
        status, 401,
        "PDS accepted a token bound to another method: {body}"
    );
    assert_eq!(body["error"], "BadJwtLexiconMethod", "{body}");
    // Signed by a key that is not the DID's: refused.
    let stranger = keypair();
    let bad = create_service_jwt(
        &ServiceJwtParams {
            iss: did.as_str(),
            aud: &pds.service_did,
            lxm: Some(&nsid),
            now: now(),
            jti: &random_jti().expect("rng"),
        },
        &stranger,
    )
    .expect("sign");
    let (status, body) = http.send("POST", &url, Some(&input), Some(&bad)).await;
    assert_eq!(status, 401, "PDS accepted a token by the wrong key: {body}");
    // Ours: accepted.
    let (status, body) = http
        .send("POST", &url, Some(&input), Some(&token(&nsid)))
        .await;
    assert_eq!(status, 200, "PDS refused our service-auth token: {body}");
    assert_eq!(body["did"], did.as_str());
    assert!(body["accessJwt"].is_string());
}

/// A service-auth token the PDS issues verifies with our verifier against the
/// key in the account's PLC document; tampering or a wrong audience fails.
async fn pds_issued_service_auth(http: &Http, pds: &RefPds) {
    let input = json!({
        "handle": "issuer.test",
        "email": "issuer@example.com",
        "password": "issuer-password-1",
    });
    let (status, account) = http
        .send(
            "POST",
            &format!("{}/xrpc/com.atproto.server.createAccount", pds.pds_url),
            Some(&input),
            None,
        )
        .await;
    assert_eq!(status, 200, "{account}");
    let did: Did = account["did"].as_str().expect("did").parse().expect("did");
    let access = account["accessJwt"].as_str().expect("accessJwt");
    let aud = "did:web:feed.example.com";
    let lxm: Nsid = "app.bsky.feed.getFeedSkeleton".parse().expect("nsid");
    let (status, body) = http
        .send(
            "GET",
            &format!(
                "{}/xrpc/com.atproto.server.getServiceAuth?aud={aud}&lxm={lxm}",
                pds.pds_url
            ),
            None,
            Some(access),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");

    let doc = plc_document(http, pds, &did).await;
    let keys = FetchedKeys(vec![(did.clone(), doc.signing_key().expect("key"))]);
    let replay = MemoryReplayCache::new(16);
    let expected = Expected {
        aud: Some(aud),
        lxm: Some(&lxm),
    };
    let verified = verify_service_jwt(token, &expected, now(), &keys, Some(&replay))
        .expect("the PDS's token verifies");
    assert_eq!(verified.did, did);
    // The same token again is a replay.
    let err = verify_service_jwt(token, &expected, now(), &keys, Some(&replay)).unwrap_err();
    assert_eq!(err.name(), "JwtReplayed");
    // Another audience, or a flipped signature byte: refused.
    let other = Expected {
        aud: Some("did:web:other.example.com"),
        lxm: Some(&lxm),
    };
    let err = verify_service_jwt(token, &other, now(), &keys, None).unwrap_err();
    assert_eq!(err.name(), "BadJwtAudience");
    // A character in the middle of the signature (the last one also holds
    // padding bits, which a strict decoder refuses before any check).
    let mut tampered = token.as_bytes().to_vec();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let err = verify_service_jwt(&tampered, &expected, now(), &keys, None).unwrap_err();
    assert_eq!(err.name(), "BadJwtSignature", "{err}");
}

#[test]
fn reference_pds_interop() {
    let Some(pds) = RefPds::start("reference_pds_interop") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let http = Http {
            client: ReqwestClient::new().expect("client"),
        };
        plc_operations(&http, &pds).await;
        bring_own_did(&http, &pds).await;
        pds_issued_service_auth(&http, &pds).await;
    });
    ref_pds::tell(&format!(
        "reference PDS (pid {}) interop: all scenarios passed",
        pds.pid()
    ));
}
