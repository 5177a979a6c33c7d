//! JWT (ES256K, ES256, HS256) and service auth.
// Helpers outside `#[test]` functions may fail loudly too: a failed
// assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};

use atproto_core::{Curve, Did, Keypair, Nsid, PublicKey};
use atproto_xrpc::jwt::{self, Alg, Claims, Header, Jwt, JwtError, MAX_TOKEN_LEN, Part};
use atproto_xrpc::service_auth::random_jti;
use atproto_xrpc::service_auth::{
    AsyncSigningKeyResolver, CLOCK_LEEWAY_SECS, Expected, KeyFuture, MemoryReplayCache,
    ReplayCache, ReplayError, SERVICE_JWT_LIFETIME_SECS, ServiceAuthError, ServiceJwtParams,
    SigningKeyResolver, SyncKeys, create_service_jwt, verify_service_jwt, verify_service_jwt_async,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const NOW: i64 = 1_700_000_000;
const ISS: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const AUD: &str = "did:web:api.example.com";
const LXM: &str = "com.atproto.repo.getRecord";

/// secp256k1 group order n, big-endian.
const K256_N: [u8; 32] = hex32("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
/// P-256 group order n, big-endian.
const P256_N: [u8; 32] = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

const fn hex32(s: &str) -> [u8; 32] {
    const fn nib(c: u8) -> u8 {
        if c <= b'9' { c - b'0' } else { c - b'a' + 10 }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nib(b[2 * i]) << 4 | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

fn keypair(curve: Curve, seed: u8) -> Keypair {
    Keypair::from_private_bytes(curve, &[seed; 32]).expect("valid scalar")
}

fn claims() -> Claims {
    Claims {
        iss: Some(ISS.to_owned()),
        aud: Some(AUD.to_owned()),
        exp: Some(NOW + 60),
        iat: Some(NOW),
        ..Claims::default()
    }
}

/// [`claims`] bound to [`LXM`], without `jti`.
fn lxm_claims() -> Claims {
    Claims {
        lxm: Some(LXM.to_owned()),
        ..claims()
    }
}

fn alg_of(curve: Curve) -> Alg {
    Alg::from_name(curve.jwt_alg()).expect("curve alg")
}

/// Replaces the signature part of `token` with `sig`.
fn with_signature(token: &str, sig: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').expect("three parts");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn signature_of(token: &str) -> Vec<u8> {
    let (_, s) = token.rsplit_once('.').expect("three parts");
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// `n - s` for the 64-byte `r‖s` signature: the high-S twin of a low-S one.
fn negate_s(sig: &[u8], n: &[u8; 32]) -> Vec<u8> {
    let mut out = sig.to_vec();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(n[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        out[32 + i] = (d + 256 * borrow) as u8;
    }
    out
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` for a 64-byte `r‖s`.
fn to_der(sig: &[u8]) -> Vec<u8> {
    fn int(x: &[u8]) -> Vec<u8> {
        let start = x.iter().position(|&b| b != 0).unwrap_or(31);
        let mut v = x[start..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let body = [int(&sig[..32]), int(&sig[32..])].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn ecdsa_round_trip_both_curves() {
    for curve in [Curve::K256, Curve::P256] {
        let key = keypair(curve, 3);
        let mut header = Header::new(alg_of(curve));
        header.kid = Some("k1".to_owned());
        header
            .extra
            .insert("x-extra".to_owned(), serde_json::json!(7));
        let mut c = claims();
        c.sub = Some("sub".to_owned());
        c.jti = Some("j".to_owned());
        c.lxm = Some(LXM.to_owned());
        c.scope = Some("com.atproto.access".to_owned());
        c.extra.insert("nonce".to_owned(), serde_json::json!("n"));
        let token = jwt::sign_ecdsa(&header, &c, &key).expect("sign");
        assert_eq!(token.split('.').count(), 3);
        assert!(!token.contains('='));
        let parsed = Jwt::parse(&token).expect("parse");
        assert_eq!(parsed.header(), &header);
        assert_eq!(parsed.claims(), &c);
        assert_eq!(parsed.signature().len(), 64);
        parsed.verify_ecdsa(&key.public_key()).expect("verify");
        // Another key of the same curve does not verify it.
        assert_eq!(
            parsed.verify_ecdsa(&keypair(curve, 4).public_key()),
            Err(JwtError::BadSignature)
        );
    }
}

#[test]
fn signing_produces_low_s() {
    for (curve, n) in [(Curve::K256, K256_N), (Curve::P256, P256_N)] {
        let half = {
            // floor(n / 2), big-endian shift right by one bit.
            let mut h = [0u8; 32];
            let mut carry = 0u8;
            for i in 0..32 {
                h[i] = (n[i] >> 1) | (carry << 7);
                carry = n[i] & 1;
            }
            h
        };
        for seed in 1..20u8 {
            let key = keypair(curve, seed);
            let mut c = claims();
            c.jti = Some(format!("{seed}"));
            let token = jwt::sign_ecdsa(&Header::new(alg_of(curve)), &c, &key).expect("sign");
            let sig = signature_of(&token);
            assert!(sig[32..] <= half[..], "{curve} seed {seed}: high S");
        }
    }
}

#[test]
fn high_s_and_der_rejected() {
    for (curve, n) in [(Curve::K256, K256_N), (Curve::P256, P256_N)] {
        let key = keypair(curve, 5);
        let token = jwt::sign_ecdsa(&Header::new(alg_of(curve)), &claims(), &key).expect("sign");
        let sig = signature_of(&token);

        let high = with_signature(&token, &negate_s(&sig, &n));
        let parsed = Jwt::parse(&high).expect("parse");
        assert_eq!(parsed.verify_ecdsa(&key.public_key()), Err(JwtError::HighS));

        let der = with_signature(&token, &to_der(&sig));
        let parsed = Jwt::parse(&der).expect("parse");
        assert_eq!(
            parsed.verify_ecdsa(&key.public_key()),
            Err(JwtError::DerSignature)
        );

        let short = with_signature(&token, &sig[..63]);
        assert_eq!(
            Jwt::parse(&short)
                .expect("parse")
                .verify_ecdsa(&key.public_key()),
            Err(JwtError::SignatureLength {
                len: 63,
                expected: 64
            })
        );
    }
}

#[test]
fn hs256_round_trip_and_rejections() {
    let secret = b"session secret";
    let header = Header::new(Alg::Hs256);
    let token = jwt::sign_hs256(&header, &claims(), secret).expect("sign");
    let parsed = Jwt::parse(&token).expect("parse");
    assert_eq!(parsed.signature().len(), 32);
    parsed.verify_hs256(secret).expect("verify");
    assert_eq!(
        parsed.verify_hs256(b"other secret"),
        Err(JwtError::BadSignature)
    );
    // A truncated MAC is a length error, not a prefix match.
    let sig = signature_of(&token);
    let short = Jwt::parse(&with_signature(&token, &sig[..16])).expect("parse");
    assert_eq!(
        short.verify_hs256(secret),
        Err(JwtError::SignatureLength {
            len: 16,
            expected: 32
        })
    );
    // An HS256 token is not verified as ECDSA and vice versa.
    let key = keypair(Curve::K256, 1);
    assert!(matches!(
        parsed.verify_ecdsa(&key.public_key()),
        Err(JwtError::AlgKeyMismatch {
            alg: "HS256",
            key: "ES256K"
        })
    ));
    let es =
        Jwt::parse(&jwt::sign_ecdsa(&Header::new(Alg::Es256k), &claims(), &key).expect("sign"))
            .expect("parse");
    assert!(matches!(
        es.verify_hs256(secret),
        Err(JwtError::AlgKeyMismatch { .. })
    ));
}

#[test]
fn alg_key_mismatch() {
    let k = keypair(Curve::K256, 1);
    let p = keypair(Curve::P256, 1);
    assert!(matches!(
        jwt::sign_ecdsa(&Header::new(Alg::Es256), &claims(), &k),
        Err(JwtError::AlgKeyMismatch {
            alg: "ES256",
            key: "ES256K"
        })
    ));
    assert!(matches!(
        jwt::sign_hs256(&Header::new(Alg::Es256), &claims(), b"s"),
        Err(JwtError::AlgKeyMismatch { .. })
    ));
    let token = jwt::sign_ecdsa(&Header::new(Alg::Es256k), &claims(), &k).expect("sign");
    assert!(matches!(
        Jwt::parse(&token)
            .expect("parse")
            .verify_ecdsa(&p.public_key()),
        Err(JwtError::AlgKeyMismatch {
            alg: "ES256K",
            key: "ES256"
        })
    ));
}

#[test]
fn tampering_detected() {
    let key = keypair(Curve::K256, 9);
    let token = jwt::sign_ecdsa(&Header::new(Alg::Es256k), &claims(), &key).expect("sign");
    let parts: Vec<&str> = token.split('.').collect();

    // Payload: a different audience, re-encoded.
    let mut c = claims();
    c.aud = Some("did:web:evil.example".to_owned());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).expect("json"));
    let t = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(
        Jwt::parse(&t)
            .expect("parse")
            .verify_ecdsa(&key.public_key()),
        Err(JwtError::BadSignature)
    );

    // Header: an extra field.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256K","typ":"JWT","kid":"x"}"#);
    let t = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(
        Jwt::parse(&t)
            .expect("parse")
            .verify_ecdsa(&key.public_key()),
        Err(JwtError::BadSignature)
    );

    // Signature: one bit flipped in r.
    let mut sig = signature_of(&token);
    sig[0] ^= 1;
    let t = with_signature(&token, &sig);
    assert_eq!(
        Jwt::parse(&t)
            .expect("parse")
            .verify_ecdsa(&key.public_key()),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn malformed_tokens_typed_errors() {
    let key = keypair(Curve::P256, 2);
    let token = jwt::sign_ecdsa(&Header::new(Alg::Es256), &claims(), &key).expect("sign");
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);

    assert!(matches!(Jwt::parse("a.b"), Err(JwtError::Malformed(_))));
    assert!(matches!(
        Jwt::parse(&format!("{token}.x")),
        Err(JwtError::Malformed(_))
    ));
    assert!(matches!(
        Jwt::parse(&format!(".{}.{}", parts[1], parts[2])),
        Err(JwtError::Malformed(_))
    ));
    assert!(matches!(Jwt::parse(""), Err(JwtError::Malformed(_))));
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        Jwt::parse(&long),
        Err(JwtError::TooLong {
            len: MAX_TOKEN_LEN + 1,
            max: MAX_TOKEN_LEN
        })
    );
    // Padding, the standard alphabet and stray characters are not base64url.
    assert_eq!(
        Jwt::parse(&format!("{}=.{}.{}", parts[0], parts[1], parts[2])),
        Err(JwtError::Base64(Part::Header))
    );
    assert_eq!(
        Jwt::parse(&format!("{}.{}+.{}", parts[0], parts[1], parts[2])),
        Err(JwtError::Base64(Part::Payload))
    );
    assert_eq!(
        Jwt::parse(&format!("{}.{}.{}!", parts[0], parts[1], parts[2])),
        Err(JwtError::Base64(Part::Signature))
    );
    // JSON that is not an object, or misses alg, or has a non-integer exp.
    for (h, p, part) in [
        ("[1]", r#"{"iss":"x"}"#, Part::Header),
        (r#"{"typ":"JWT"}"#, r#"{"iss":"x"}"#, Part::Header),
        (r#"{"alg":"ES256""#, r#"{"iss":"x"}"#, Part::Header),
        (r#"{"alg":"ES256"}"#, "null", Part::Payload),
        (r#"{"alg":"ES256"}"#, r#"{"exp":1.5}"#, Part::Payload),
        (r#"{"alg":"ES256"}"#, r#"{"iss":5}"#, Part::Payload),
    ] {
        let t = format!("{}.{}.{}", b64(h), b64(p), parts[2]);
        assert!(
            matches!(Jwt::parse(&t), Err(JwtError::Json { part: got, .. }) if got == part),
            "{h} {p}"
        );
    }
    for alg in ["none", "RS256", "es256k", "HS512"] {
        let t = format!(
            "{}.{}.{}",
            b64(&format!(r#"{{"alg":"{alg}"}}"#)),
            parts[1],
            parts[2]
        );
        assert_eq!(
            Jwt::parse(&t),
            Err(JwtError::UnsupportedAlg(alg.to_owned()))
        );
    }
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(s in "[A-Za-z0-9_.=+-]{0,200}") {
        let _ = Jwt::parse(&s);
    }
}

// ---- service auth ----

/// A resolver with a cached and a fresh key, counting calls.
struct Resolver {
    cached: PublicKey,
    fresh: PublicKey,
    calls: RefCell<Vec<bool>>,
    fail: Cell<bool>,
    /// The `#fragment` of the `iss` the resolver expects to be asked for.
    fragment: Option<&'static str>,
}

#[derive(Debug, thiserror::Error)]
#[error("no such DID")]
struct NotFound;

impl Resolver {
    fn new(cached: PublicKey, fresh: PublicKey) -> Self {
        Resolver {
            cached,
            fresh,
            calls: RefCell::new(Vec::new()),
            fail: Cell::new(false),
            fragment: None,
        }
    }
}

impl SigningKeyResolver for Resolver {
    type Error = NotFound;
    fn signing_key(
        &self,
        did: &Did,
        fragment: Option<&str>,
        fresh: bool,
    ) -> Result<PublicKey, NotFound> {
        assert_eq!(did.as_str(), ISS);
        assert_eq!(fragment, self.fragment);
        self.calls.borrow_mut().push(fresh);
        if self.fail.get() {
            return Err(NotFound);
        }
        Ok(if fresh {
            self.fresh.clone()
        } else {
            self.cached.clone()
        })
    }
}

fn lxm() -> Nsid {
    LXM.parse().expect("nsid")
}

fn service_token(key: &Keypair, jti: &str) -> String {
    service_token_with(key, ISS, Some(&lxm()), jti)
}

fn service_token_with(key: &Keypair, iss: &str, lxm: Option<&Nsid>, jti: &str) -> String {
    let params = ServiceJwtParams {
        iss,
        aud: AUD,
        lxm,
        now: NOW,
        jti,
    };
    create_service_jwt(&params, key).expect("create")
}

fn expected(lxm: &Nsid) -> Expected<'_> {
    Expected {
        aud: Some(AUD),
        lxm: Some(lxm),
    }
}

/// Signs arbitrary claims under an arbitrary header with `key`.
fn custom_token(key: &Keypair, typ: Option<&str>, c: &Claims) -> String {
    let mut h = Header::new(alg_of(key.curve()));
    h.typ = typ.map(str::to_owned);
    jwt::sign_ecdsa(&h, c, key).expect("sign")
}

fn verify(
    token: &str,
    resolver: &Resolver,
    now: i64,
) -> Result<atproto_xrpc::VerifiedServiceJwt, ServiceAuthError> {
    let lxm = lxm();
    verify_service_jwt(token, &expected(&lxm), now, resolver, None)
}

#[test]
fn service_jwt_round_trip_both_curves() {
    for curve in [Curve::K256, Curve::P256] {
        let key = keypair(curve, 11);
        let token = service_token(&key, "abc");
        let parsed = Jwt::parse(&token).expect("parse");
        assert_eq!(parsed.header().typ.as_deref(), Some("JWT"));
        assert_eq!(parsed.header().alg.as_str(), curve.jwt_alg());
        let c = parsed.claims();
        assert_eq!(c.iss.as_deref(), Some(ISS));
        assert_eq!(c.aud.as_deref(), Some(AUD));
        assert_eq!(c.lxm.as_deref(), Some(LXM));
        assert_eq!(c.iat, Some(NOW));
        assert_eq!(c.exp, Some(NOW + SERVICE_JWT_LIFETIME_SECS));
        assert_eq!(c.jti.as_deref(), Some("abc"));

        let r = Resolver::new(key.public_key(), key.public_key());
        let v = verify(&token, &r, NOW + 10).expect("verify");
        assert_eq!(v.did.as_str(), ISS);
        assert_eq!(v.claims.jti.as_deref(), Some("abc"));
        assert_eq!(*r.calls.borrow(), vec![false]);
    }
    // Without lxm the claim is absent.
    let key = keypair(Curve::K256, 1);
    let token = service_token_with(&key, ISS, None, "j");
    assert_eq!(Jwt::parse(&token).expect("parse").claims().lxm, None);
}

#[test]
fn service_jwt_forbidden_types() {
    let key = keypair(Curve::K256, 1);
    let r = Resolver::new(key.public_key(), key.public_key());
    for typ in ["at+jwt", "refresh+jwt", "dpop+jwt"] {
        let e =
            verify(&custom_token(&key, Some(typ), &lxm_claims()), &r, NOW).expect_err("rejected");
        assert_eq!(e.name(), "BadJwtType");
        assert!(matches!(e, ServiceAuthError::BadJwtType(t) if t == typ));
    }
    // No typ, or another one, is fine.
    let c = lxm_claims();
    verify(&custom_token(&key, None, &c), &r, NOW).expect("no typ");
    verify(&custom_token(&key, Some("jwt"), &c), &r, NOW).expect("lowercase jwt");
}

#[test]
fn service_jwt_claim_rules() {
    let key = keypair(Curve::K256, 1);
    let r = Resolver::new(key.public_key(), key.public_key());
    let base = lxm_claims;
    let name = |c: &Claims, now: i64| {
        verify(&custom_token(&key, Some("JWT"), c), &r, now)
            .map(|_| ())
            .map_err(|e| e.name())
    };

    assert_eq!(name(&base(), NOW), Ok(()));
    // Required claims.
    for strip in 0..3 {
        let mut c = base();
        match strip {
            0 => c.iss = None,
            1 => c.aud = None,
            _ => c.exp = None,
        }
        assert_eq!(name(&c, NOW), Err("BadJwt"), "strip {strip}");
    }
    // exp, with the leeway.
    let exp = NOW + 60;
    assert_eq!(name(&base(), exp + CLOCK_LEEWAY_SECS), Ok(()));
    assert_eq!(
        name(&base(), exp + CLOCK_LEEWAY_SECS + 1),
        Err("JwtExpired")
    );
    // iat in the future beyond the leeway.
    let mut c = base();
    c.iat = Some(NOW + CLOCK_LEEWAY_SECS);
    assert_eq!(name(&c, NOW), Ok(()));
    c.iat = Some(NOW + CLOCK_LEEWAY_SECS + 1);
    assert_eq!(name(&c, NOW), Err("BadJwt"));
    // aud.
    let mut c = base();
    c.aud = Some("did:web:other.example".to_owned());
    assert_eq!(name(&c, NOW), Err("BadJwtAudience"));
    // lxm: wrong, then missing.
    let mut c = base();
    c.lxm = Some("com.atproto.repo.putRecord".to_owned());
    assert_eq!(name(&c, NOW), Err("BadJwtLexiconMethod"));
    c.lxm = None;
    assert_eq!(name(&c, NOW), Err("BadJwtLexiconMethod"));
    // iss: not a DID, empty fragment, two fragments.
    for iss in [
        "alice.example.com",
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz#",
        "did:plc:x#a#b",
        "#frag",
    ] {
        let mut c = base();
        c.iss = Some(iss.to_owned());
        assert_eq!(name(&c, NOW), Err("BadJwtIss"), "{iss}");
    }
    // The checks are skipped when nothing is expected.
    let mut c = base();
    c.aud = Some("did:web:other.example".to_owned());
    c.lxm = None;
    let token = custom_token(&key, None, &c);
    verify_service_jwt(
        &token,
        &Expected {
            aud: None,
            lxm: None,
        },
        NOW,
        &r,
        None,
    )
    .expect("no expectations");
}

#[test]
fn service_jwt_fragment_issuer() {
    let key = keypair(Curve::P256, 8);
    let token = service_token_with(&key, &format!("{ISS}#atproto_labeler"), None, "j");
    let r = Resolver {
        fragment: Some("atproto_labeler"),
        ..Resolver::new(key.public_key(), key.public_key())
    };
    let v = verify_service_jwt(
        &token,
        &Expected {
            aud: Some(AUD),
            lxm: None,
        },
        NOW,
        &r,
        None,
    )
    .expect("verify");
    assert_eq!(v.did.as_str(), ISS);
    assert_eq!(*r.calls.borrow(), vec![false]);
}

#[test]
fn service_jwt_signature_rules() {
    let key = keypair(Curve::K256, 21);
    let token = service_token(&key, "j");
    let r = Resolver::new(key.public_key(), key.public_key());
    let high = with_signature(&token, &negate_s(&signature_of(&token), &K256_N));
    let e = verify(&high, &r, NOW).expect_err("high-S");
    assert!(matches!(
        e,
        ServiceAuthError::BadJwtSignature(JwtError::HighS)
    ));
    assert_eq!(e.name(), "BadJwtSignature");
    // A format failure is not retried with a fresh key.
    assert_eq!(*r.calls.borrow(), vec![false]);

    let der = with_signature(&token, &to_der(&signature_of(&token)));
    assert!(matches!(
        verify(&der, &r, NOW),
        Err(ServiceAuthError::BadJwtSignature(JwtError::DerSignature))
    ));

    let garbage = format!("{}.{}", token.rsplit_once('.').expect("parts").0, "%%");
    assert_eq!(
        verify(&garbage, &r, NOW).map(|_| ()).map_err(|e| e.name()),
        Err("BadJwt")
    );

    // An HS256 token is refused before any key is resolved.
    let r = Resolver::new(key.public_key(), key.public_key());
    let hs = jwt::sign_hs256(&Header::new(Alg::Hs256), &lxm_claims(), b"secret").unwrap();
    let e = verify(&hs, &r, NOW).expect_err("HS256");
    assert_eq!(e.name(), "BadJwtSignature");
    assert!(r.calls.borrow().is_empty());

    r.fail.set(true);
    let e = verify(&token, &r, NOW).expect_err("unresolvable");
    assert!(matches!(e, ServiceAuthError::KeyResolution(_)));
}

#[test]
fn stale_key_re_resolved_once() {
    let rotated = keypair(Curve::K256, 31);
    let stale = keypair(Curve::K256, 32);
    let token = service_token(&rotated, "j");

    // The cached key is stale; the fresh one verifies.
    let r = Resolver::new(stale.public_key(), rotated.public_key());
    verify(&token, &r, NOW).expect("verifies after a fresh resolve");
    assert_eq!(*r.calls.borrow(), vec![false, true]);

    // The cached key is of the other curve (alg mismatch): also re-resolved.
    let r = Resolver::new(keypair(Curve::P256, 1).public_key(), rotated.public_key());
    verify(&token, &r, NOW).expect("verifies after a fresh resolve");
    assert_eq!(*r.calls.borrow(), vec![false, true]);

    // Both keys wrong: exactly one retry, then BadJwtSignature.
    let wrong = keypair(Curve::K256, 33);
    let r = Resolver::new(stale.public_key(), wrong.public_key());
    let e = verify(&token, &r, NOW).expect_err("wrong key");
    assert!(matches!(
        e,
        ServiceAuthError::BadJwtSignature(JwtError::BadSignature)
    ));
    assert_eq!(*r.calls.borrow(), vec![false, true]);

    // The fresh key is the same as the cached one: one resolve, no second check.
    let r = Resolver::new(stale.public_key(), stale.public_key());
    let e = verify(&token, &r, NOW).expect_err("wrong key");
    assert_eq!(e.name(), "BadJwtSignature");
    assert_eq!(*r.calls.borrow(), vec![false, true]);
}

#[test]
fn replay_cache_rejects_second_use() {
    let key = keypair(Curve::K256, 41);
    let r = Resolver::new(key.public_key(), key.public_key());
    let cache = MemoryReplayCache::new(16);
    let lxm = lxm();
    let token = service_token(&key, "once");
    verify_service_jwt(&token, &expected(&lxm), NOW, &r, Some(&cache)).expect("first use");
    let e =
        verify_service_jwt(&token, &expected(&lxm), NOW + 1, &r, Some(&cache)).expect_err("replay");
    assert!(matches!(
        e,
        ServiceAuthError::JwtReplayed(ReplayError::Replayed)
    ));
    assert_eq!(e.name(), "JwtReplayed");
    // Another jti is fine.
    verify_service_jwt(
        &service_token(&key, "twice"),
        &expected(&lxm),
        NOW,
        &r,
        Some(&cache),
    )
    .expect("other jti");
    assert_eq!(cache.len(), 2);

    // A token without jti cannot be checked for replay.
    let c = lxm_claims();
    let e = verify_service_jwt(
        &custom_token(&key, None, &c),
        &expected(&lxm),
        NOW,
        &r,
        Some(&cache),
    )
    .expect_err("no jti");
    assert_eq!(e.name(), "BadJwt");

    // A token whose signature fails is not recorded.
    let wrong = keypair(Curve::K256, 42);
    let bad = service_token(&wrong, "unsigned");
    assert!(verify_service_jwt(&bad, &expected(&lxm), NOW, &r, Some(&cache)).is_err());
    assert_eq!(cache.len(), 2);
}

#[test]
fn replay_cache_expiry_and_bounds() {
    let cache = MemoryReplayCache::new(2);
    assert!(cache.is_empty());
    cache.check_and_insert(ISS, "a", NOW + 10, NOW).expect("a");
    assert_eq!(
        cache.check_and_insert(ISS, "a", NOW + 10, NOW + 10),
        Err(ReplayError::Replayed)
    );
    // The same jti from another issuer is a different token.
    cache
        .check_and_insert("did:plc:other", "a", NOW + 20, NOW)
        .expect("other iss");
    // Full of live entries: refused, nothing forgotten.
    assert_eq!(
        cache.check_and_insert(ISS, "b", NOW + 30, NOW + 5),
        Err(ReplayError::Full)
    );
    assert_eq!(cache.len(), 2);
    // Once "a" expired it is dropped to make room.
    cache
        .check_and_insert(ISS, "b", NOW + 30, NOW + 11)
        .expect("room after expiry");
    assert_eq!(cache.len(), 2);
    // An expired entry no longer blocks its jti (the token itself would be
    // rejected as expired by then).
    cache.purge(NOW + 25);
    assert_eq!(cache.len(), 1);
    cache
        .check_and_insert("did:plc:other", "a", NOW + 40, NOW + 25)
        .expect("expired entry dropped");
    cache.purge(NOW + 1000);
    assert!(cache.is_empty());
}

#[test]
fn replay_entry_kept_until_token_expiry() {
    let key = keypair(Curve::P256, 43);
    let r = Resolver::new(key.public_key(), key.public_key());
    let cache = MemoryReplayCache::new(4);
    let lxm = lxm();
    let token = service_token(&key, "keep");
    verify_service_jwt(&token, &expected(&lxm), NOW, &r, Some(&cache)).expect("first");
    // Purging at the last moment the token is still accepted keeps the entry.
    let last = NOW + SERVICE_JWT_LIFETIME_SECS + CLOCK_LEEWAY_SECS;
    cache.purge(last);
    let e =
        verify_service_jwt(&token, &expected(&lxm), last, &r, Some(&cache)).expect_err("replay");
    assert_eq!(e.name(), "JwtReplayed");
    assert_eq!(
        verify_service_jwt(&token, &expected(&lxm), last + 1, &r, Some(&cache))
            .map_err(|e| e.name())
            .map(|_| ()),
        Err("JwtExpired")
    );
}

// ---- service auth, async ----

/// The async counterpart of [`Resolver`]: the same answers, each after
/// yielding to the runtime once (a lookup that really waits).
struct AsyncResolver {
    cached: PublicKey,
    fresh: PublicKey,
    calls: Mutex<Vec<bool>>,
    fail: bool,
    fragment: Option<&'static str>,
}

impl AsyncResolver {
    fn like(r: &Resolver) -> Self {
        AsyncResolver {
            cached: r.cached.clone(),
            fresh: r.fresh.clone(),
            calls: Mutex::new(Vec::new()),
            fail: r.fail.get(),
            fragment: r.fragment,
        }
    }

    fn calls(&self) -> Vec<bool> {
        self.calls.lock().unwrap().clone()
    }
}

impl AsyncSigningKeyResolver for AsyncResolver {
    type Error = NotFound;
    fn resolve_signing_key<'a>(
        &'a self,
        did: &'a Did,
        fragment: Option<&'a str>,
        fresh: bool,
    ) -> KeyFuture<'a, NotFound> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            assert_eq!(did.as_str(), ISS);
            assert_eq!(fragment, self.fragment);
            self.calls.lock().unwrap().push(fresh);
            if self.fail {
                return Err(NotFound);
            }
            Ok(if fresh {
                self.fresh.clone()
            } else {
                self.cached.clone()
            })
        })
    }
}

/// What a verification came to, comparable across the two forms.
fn outcome(
    r: Result<atproto_xrpc::VerifiedServiceJwt, ServiceAuthError>,
) -> Result<String, String> {
    r.map(|v| v.did.as_str().to_owned())
        .map_err(|e| format!("{}: {e}", e.name()))
}

#[tokio::test(flavor = "current_thread")]
async fn async_verify_agrees_with_sync_verify() {
    let key = keypair(Curve::K256, 51);
    let p256 = keypair(Curve::P256, 52);
    let other = keypair(Curve::K256, 53);
    let token = service_token(&key, "j");
    let mut expired = lxm_claims();
    expired.exp = Some(NOW - 60);
    let mut wrong_aud = lxm_claims();
    wrong_aud.aud = Some("did:web:other.example".to_owned());
    let mut no_lxm = lxm_claims();
    no_lxm.lxm = None;
    let mut bad_iss = lxm_claims();
    bad_iss.iss = Some("alice.example.com".to_owned());
    let tokens = [
        token.clone(),
        custom_token(&key, Some("at+jwt"), &lxm_claims()),
        custom_token(&key, None, &expired),
        custom_token(&key, None, &wrong_aud),
        custom_token(&key, None, &no_lxm),
        custom_token(&key, None, &bad_iss),
        with_signature(&token, &negate_s(&signature_of(&token), &K256_N)),
        with_signature(&token, &to_der(&signature_of(&token))),
        jwt::sign_hs256(&Header::new(Alg::Hs256), &lxm_claims(), b"secret").unwrap(),
        "not a token".to_owned(),
    ];
    // (cached, fresh, fail): right key; rotated; other curve cached;
    // both wrong; the same wrong key twice; unresolvable.
    let keys = [
        (key.public_key(), key.public_key(), false),
        (other.public_key(), key.public_key(), false),
        (p256.public_key(), key.public_key(), false),
        (other.public_key(), p256.public_key(), false),
        (other.public_key(), other.public_key(), false),
        (key.public_key(), key.public_key(), true),
    ];
    let lxm = lxm();
    let mut checked = 0;
    for t in &tokens {
        for (cached, fresh, fail) in &keys {
            let sync = Resolver::new(cached.clone(), fresh.clone());
            sync.fail.set(*fail);
            let asy = AsyncResolver::like(&sync);
            let a = verify_service_jwt(t, &expected(&lxm), NOW, &sync, None);
            let b = verify_service_jwt_async(t, &expected(&lxm), NOW, &asy, None).await;
            assert_eq!(outcome(a), outcome(b), "{t}");
            assert_eq!(*sync.calls.borrow(), asy.calls(), "{t}");
            checked += 1;
        }
    }
    assert_eq!(checked, tokens.len() * keys.len());

    // A rotated key: the fresh one is fetched once and verifies.
    let r = AsyncResolver::like(&Resolver::new(other.public_key(), key.public_key()));
    let v = verify_service_jwt_async(&token, &expected(&lxm), NOW, &r, None)
        .await
        .expect("fresh key verifies");
    assert_eq!(v.did.as_str(), ISS);
    assert_eq!(r.calls(), vec![false, true]);

    // A fragment issuer passes its fragment.
    let frag = service_token_with(&key, &format!("{ISS}#atproto_labeler"), None, "f");
    let r = AsyncResolver {
        fragment: Some("atproto_labeler"),
        ..AsyncResolver::like(&Resolver::new(key.public_key(), key.public_key()))
    };
    let any_lxm = Expected {
        aud: Some(AUD),
        lxm: None,
    };
    verify_service_jwt_async(&frag, &any_lxm, NOW, &r, None)
        .await
        .expect("fragment issuer");
}

#[tokio::test(flavor = "current_thread")]
async fn async_verify_replay_cache_and_resolver_forms() {
    let key = keypair(Curve::P256, 61);
    let cache = MemoryReplayCache::new(4);
    let lxm = lxm();
    let token = service_token(&key, "once");

    // Behind an `Arc<dyn …>`, as a server stores it.
    let r: Arc<dyn AsyncSigningKeyResolver<Error = NotFound>> = Arc::new(AsyncResolver::like(
        &Resolver::new(key.public_key(), key.public_key()),
    ));
    verify_service_jwt_async(&token, &expected(&lxm), NOW, &r, Some(&cache))
        .await
        .expect("first use");
    let e = verify_service_jwt_async(&token, &expected(&lxm), NOW, &r, Some(&cache))
        .await
        .expect_err("replay");
    assert!(matches!(
        e,
        ServiceAuthError::JwtReplayed(ReplayError::Replayed)
    ));
    // A token whose signature fails is not recorded.
    let bad = service_token(&keypair(Curve::P256, 62), "unsigned");
    assert!(
        verify_service_jwt_async(&bad, &expected(&lxm), NOW, &r, Some(&cache))
            .await
            .is_err()
    );
    assert_eq!(cache.len(), 1);

    // A synchronous in-memory resolver, wrapped.
    struct OneKey(PublicKey);
    impl SigningKeyResolver for OneKey {
        type Error = NotFound;
        fn signing_key(&self, _: &Did, _: Option<&str>, _: bool) -> Result<PublicKey, NotFound> {
            Ok(self.0.clone())
        }
    }
    let keys = SyncKeys(OneKey(key.public_key()));
    let v = verify_service_jwt_async(
        &service_token(&key, "other"),
        &expected(&lxm),
        NOW,
        &keys,
        None,
    )
    .await
    .expect("sync keys");
    assert_eq!(v.claims.jti.as_deref(), Some("other"));
    let e = verify_service_jwt_async(&bad, &expected(&lxm), NOW, &keys, None)
        .await
        .expect_err("wrong key");
    assert_eq!(e.name(), "BadJwtSignature");
}

// ---- known-answer vectors ----

/// RFC 7515 A.1 / RFC 7519 §3.1: the HS256 example.
#[test]
fn rfc7515_a1_hs256_vector() {
    let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let secret = URL_SAFE_NO_PAD
        .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
        .unwrap();
    let jwt = Jwt::parse(token).unwrap();
    assert_eq!(jwt.header().alg, Alg::Hs256);
    assert_eq!(jwt.header().typ.as_deref(), Some("JWT"));
    assert_eq!(jwt.claims().iss.as_deref(), Some("joe"));
    assert_eq!(jwt.claims().exp, Some(1_300_819_380));
    assert_eq!(
        jwt.claims().extra.get("http://example.com/is_root"),
        Some(&serde_json::Value::Bool(true))
    );
    jwt.verify_hs256(&secret).unwrap();
    let mut wrong = secret.clone();
    wrong[0] ^= 1;
    assert_eq!(jwt.verify_hs256(&wrong), Err(JwtError::BadSignature));
}

/// RFC 7515 A.3: the ES256 example. Its signature happens to be high-S (as
/// generic JOSE libraries produce half the time), so the strict verifier
/// refuses it; its low-S twin verifies, which shows the signing input, the
/// key and the `r‖s` handling agree with the RFC.
#[test]
fn rfc7515_a3_es256_vector_is_high_s() {
    let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let token = format!(
        "{input}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
    );
    let x = URL_SAFE_NO_PAD
        .decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
        .unwrap();
    let y = URL_SAFE_NO_PAD
        .decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
        .unwrap();
    let d = URL_SAFE_NO_PAD
        .decode("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI")
        .unwrap();
    let key = PublicKey::from_sec1_bytes(Curve::P256, &[&[4u8][..], &x, &y].concat()).unwrap();
    let keypair = Keypair::from_private_bytes(Curve::P256, &d).unwrap();
    assert_eq!(keypair.public_key(), key);

    let jwt = Jwt::parse(&token).unwrap();
    assert_eq!(jwt.header().alg, Alg::Es256);
    assert_eq!(jwt.claims().iss.as_deref(), Some("joe"));
    assert_eq!(jwt.verify_ecdsa(&key), Err(JwtError::HighS));

    let twin = with_signature(&token, &negate_s(jwt.signature(), &P256_N));
    Jwt::parse(&twin).unwrap().verify_ecdsa(&key).unwrap();

    // Signing the same input with the RFC's key gives a low-S signature that
    // verifies.
    let ours = jwt::sign_ecdsa(jwt.header(), jwt.claims(), &keypair).unwrap();
    Jwt::parse(&ours).unwrap().verify_ecdsa(&key).unwrap();
}

#[test]
fn random_jti_is_fresh_hex() {
    let a = random_jti().unwrap();
    let b = random_jti().unwrap();
    assert_eq!(a.len(), 32);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
        "{a}"
    );
    assert_ne!(a, b);
    // Usable as a service-auth jti.
    let key = keypair(Curve::K256, 50);
    let token = service_token(&key, &a);
    assert_eq!(
        Jwt::parse(&token).unwrap().claims().jti.as_deref(),
        Some(a.as_str())
    );
}

#[test]
fn duplicate_named_fields_rejected() {
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    for (h, p, part) in [
        (
            r#"{"alg":"ES256"}"#,
            r#"{"iss":"a","iss":"b"}"#,
            Part::Payload,
        ),
        (
            r#"{"alg":"ES256"}"#,
            r#"{"aud":"a","exp":1,"aud":"b"}"#,
            Part::Payload,
        ),
        (r#"{"alg":"ES256","alg":"ES256K"}"#, "{}", Part::Header),
        (
            r#"{"alg":"ES256","typ":"JWT","typ":"at+jwt"}"#,
            "{}",
            Part::Header,
        ),
    ] {
        let t = format!("{}.{}.AAAA", b64(h), b64(p));
        assert!(
            matches!(Jwt::parse(&t), Err(JwtError::Json { part: got, .. }) if got == part),
            "{h} {p}"
        );
    }
}
