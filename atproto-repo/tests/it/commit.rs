//! Signed commit tests.
// Test helpers may unwrap and panic: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use atproto_core::Cid;
use atproto_core::crypto::{CryptoError, Curve, Keypair};
use atproto_core::data::{Value, cbor, dag_cbor_cid};
use atproto_core::syntax::{Did, Tid};
use atproto_repo::commit::{
    COMMIT_VERSION, Commit, CommitError, MAX_REV_FUTURE_MICROS, UnsignedCommit,
    check_rev_not_future, next_rev, next_rev_at,
};
use bytes::Bytes;

const K256_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

const T0: u64 = 1_700_000_000_000_000;

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// a - b for big-endian 256-bit a >= b.
fn sub(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

fn keys() -> [Keypair; 2] {
    [
        Keypair::from_private_bytes(Curve::K256, &[0x11; 32]).unwrap(),
        Keypair::from_private_bytes(Curve::P256, &[0x22; 32]).unwrap(),
    ]
}

fn did() -> Did {
    "did:plc:7iza6de2dwap2sbkpav7c6c6".parse().unwrap()
}

fn rev(micros: u64) -> Tid {
    Tid::from_parts(micros, 7).unwrap()
}

fn unsigned(prev: Option<Cid>) -> UnsignedCommit {
    UnsignedCommit::new(did(), rev(T0), dag_cbor_cid(b"mst root"), prev)
}

fn value_form(c: &Commit, with_sig: bool) -> Value {
    let mut m = BTreeMap::new();
    m.insert("did".to_owned(), Value::String(c.did.to_string()));
    m.insert("version".to_owned(), Value::Integer(3));
    m.insert("data".to_owned(), Value::Link(c.data));
    m.insert("rev".to_owned(), Value::String(c.rev.to_string()));
    m.insert("prev".to_owned(), c.prev.map_or(Value::Null, Value::Link));
    if with_sig {
        m.insert("sig".to_owned(), Value::Bytes(c.sig.clone()));
    }
    for (k, v) in &c.extra {
        m.insert(k.clone(), v.clone());
    }
    Value::Map(m)
}

#[test]
fn sign_verify_round_trip_k256_p256() {
    for key in keys() {
        for prev in [None, Some(dag_cbor_cid(b"previous commit"))] {
            let c = unsigned(prev).sign(&key);
            assert_eq!(c.sig.len(), 64);
            assert_eq!(c.version(), COMMIT_VERSION);
            c.verify(&key.public_key()).unwrap();
            let other = Keypair::from_private_bytes(key.curve(), &[0x33; 32]).unwrap();
            assert_eq!(
                c.verify(&other.public_key()),
                Err(CommitError::Signature(CryptoError::BadSignature))
            );
            // Sign → encode → decode → verify.
            let (cid, block) = c.to_block();
            assert_eq!(cid, dag_cbor_cid(&block));
            assert_eq!(cid, c.cid());
            let back = Commit::decode(&block).unwrap();
            assert_eq!(back, c);
            back.verify(&key.public_key()).unwrap();
            let sliced = Commit::decode_bytes(&block).unwrap();
            assert_eq!(sliced, c);
            assert_eq!(sliced.to_cbor(), block);
            assert_eq!(back.unsigned().sign(&key).sig.len(), 64);
        }
    }
}

#[test]
fn tampered_fields_fail() {
    for key in keys() {
        let pk = key.public_key();
        let c = unsigned(Some(dag_cbor_cid(b"p"))).sign(&key);
        let bad = Err(CommitError::Signature(CryptoError::BadSignature));
        let mut t = c.clone();
        t.data = dag_cbor_cid(b"other root");
        assert_eq!(t.verify(&pk), bad);
        let mut t = c.clone();
        t.rev = rev(T0 + 1);
        assert_eq!(t.verify(&pk), bad);
        let mut t = c.clone();
        t.did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
        assert_eq!(t.verify(&pk), bad);
        let mut t = c.clone();
        t.prev = None;
        assert_eq!(t.verify(&pk), bad);
        let mut t = c.clone();
        t.extra.insert("x".into(), Value::Integer(1));
        assert_eq!(t.verify(&pk), bad);
        let mut t = c.clone();
        let mut sig = t.sig.to_vec();
        sig[5] ^= 1;
        t.sig = Bytes::from(sig);
        assert_eq!(t.verify(&pk), bad);
        let mut t = c.clone();
        t.sig = t.sig.slice(..63);
        assert_eq!(
            t.verify(&pk),
            Err(CommitError::Signature(CryptoError::SignatureLength {
                len: 63
            }))
        );
    }
}

/// `c` with its signature tampered two ways: one bit of `r` flipped, and
/// `s` replaced by `n - s` (the same signature made high-S: ECDSA
/// malleability, which strict verification refuses).
pub(crate) fn tampered_signatures(c: &Commit, curve: Curve) -> [Commit; 2] {
    let n = hex32(if curve == Curve::K256 { K256_N } else { P256_N });
    let mut flipped = c.clone();
    let mut sig = c.sig.to_vec();
    sig[5] ^= 0x10;
    flipped.sig = Bytes::from(sig);
    let mut high = c.clone();
    let mut sig = c.sig.to_vec();
    let high_s = sub(&n, &sig[32..]);
    sig[32..].copy_from_slice(&high_s);
    high.sig = Bytes::from(sig);
    [flipped, high]
}

#[test]
fn high_s_signature_fails() {
    for key in keys() {
        let c = unsigned(None).sign(&key);
        let [_, high] = tampered_signatures(&c, key.curve());
        assert_eq!(
            high.verify(&key.public_key()),
            Err(CommitError::Signature(CryptoError::HighS))
        );
    }
}

#[test]
fn encoding_matches_value_encoder() {
    let key = &keys()[0];
    for prev in [None, Some(dag_cbor_cid(b"prev"))] {
        let c = unsigned(prev).sign(key);
        assert_eq!(c.to_cbor(), cbor::encode(&value_form(&c, true)));
        assert_eq!(c.unsigned_cbor(), cbor::encode(&value_form(&c, false)));
        assert_eq!(c.unsigned().to_cbor(), c.unsigned_cbor());
        // The strict decoder accepts our bytes (they are canonical).
        assert_eq!(cbor::decode(&c.to_cbor()).unwrap(), value_form(&c, true));
    }
}

#[test]
fn field_order_and_null_prev() {
    let c = unsigned(None).sign(&keys()[0]);
    let bytes = c.to_cbor();
    assert_eq!(bytes[0], 0xa6);
    let pos = |k: &str| {
        let mut needle = vec![0x60 | k.len() as u8];
        needle.extend_from_slice(k.as_bytes());
        bytes
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .unwrap()
    };
    let order: Vec<usize> = ["did", "rev", "sig", "data", "prev", "version"]
        .iter()
        .map(|k| pos(k))
        .collect();
    assert!(order.is_sorted(), "{order:?}");
    // `prev` is present and null; `version` is the last byte.
    assert_eq!(bytes[pos("prev") + 5], 0xf6);
    assert_eq!(bytes.last(), Some(&3));
    let v = cbor::decode(&bytes).unwrap();
    assert_eq!(v.get("prev"), Some(&Value::Null));
    let unsigned = c.unsigned_cbor();
    assert_eq!(unsigned[0], 0xa5);
    assert!(cbor::decode(&unsigned).unwrap().get("sig").is_none());
}

fn decode_value(v: &Value) -> Result<Commit, CommitError> {
    Commit::decode(&cbor::encode(v))
}

#[test]
fn strict_decoding() {
    let c = unsigned(Some(dag_cbor_cid(b"p"))).sign(&keys()[0]);
    let good = value_form(&c, true);
    assert_eq!(decode_value(&good).unwrap(), c);
    let with = |k: &str, v: Value| {
        let mut m = good.as_map().unwrap().clone();
        m.insert(k.into(), v);
        Value::Map(m)
    };
    let without = |k: &str| {
        let mut m = good.as_map().unwrap().clone();
        m.remove(k);
        Value::Map(m)
    };
    assert_eq!(
        decode_value(&with("version", Value::Integer(2))),
        Err(CommitError::UnsupportedVersion(2))
    );
    assert_eq!(
        decode_value(&with("version", "3".into())),
        Err(CommitError::WrongType {
            field: "version",
            expected: "an integer"
        })
    );
    for field in ["did", "rev", "sig", "data", "prev", "version"] {
        assert_eq!(
            decode_value(&without(field)),
            Err(CommitError::MissingField(field))
        );
    }
    assert!(matches!(
        decode_value(&with("did", "not a did".into())),
        Err(CommitError::BadDid(_))
    ));
    assert!(matches!(
        decode_value(&with("rev", "3jzfcijpj2z2".into())),
        Err(CommitError::BadRev(_))
    ));
    assert!(matches!(
        decode_value(&with("prev", Value::Integer(0))),
        Err(CommitError::WrongType { field: "prev", .. })
    ));
    assert!(matches!(
        decode_value(&with("data", Value::Null)),
        Err(CommitError::WrongType { field: "data", .. })
    ));
    assert!(matches!(
        decode_value(&with("sig", "abc".into())),
        Err(CommitError::WrongType { field: "sig", .. })
    ));
    assert!(matches!(
        decode_value(&with("did", Value::Integer(1))),
        Err(CommitError::WrongType { field: "did", .. })
    ));
    assert_eq!(
        decode_value(&Value::Array(vec![])),
        Err(CommitError::NotAMap)
    );
    // Non-canonical bytes: a trailing byte, and the version as a two-byte integer.
    let mut bytes = c.to_cbor();
    bytes.push(0);
    assert!(matches!(Commit::decode(&bytes), Err(CommitError::Cbor(_))));
    let mut bytes = c.to_cbor();
    let last = bytes.len() - 1;
    bytes[last] = 0x18;
    bytes.push(3);
    assert!(matches!(Commit::decode(&bytes), Err(CommitError::Cbor(_))));
}

#[test]
fn unknown_fields_are_kept_and_signed() {
    for key in keys() {
        let mut u = unsigned(None);
        u.extra.insert("zzz".into(), Value::Integer(42));
        u.extra
            .insert("a".into(), Value::Array(vec![Value::Bool(true)]));
        let c = u.clone().sign(&key);
        let bytes = c.to_cbor();
        assert_eq!(bytes, cbor::encode(&value_form(&c, true)));
        let back = Commit::decode(&bytes).unwrap();
        assert_eq!(back.extra, u.extra);
        assert_eq!(back.to_cbor(), bytes);
        back.verify(&key.public_key()).unwrap();
    }
    // Extra entries named like a v3 field never override it.
    let mut u = unsigned(None);
    u.extra.insert("version".into(), Value::Integer(9));
    u.extra.insert("sig".into(), Value::Integer(9));
    assert_eq!(u.to_cbor(), unsigned(None).to_cbor());
    u.extra.insert("other".into(), Value::Null);
    let v = cbor::decode(&u.to_cbor()).unwrap();
    assert_eq!(v.get("version"), Some(&Value::Integer(3)));
    assert!(v.get("sig").is_none());
}

#[test]
fn rev_generation_is_monotonic() {
    // No previous commit: now.
    assert_eq!(
        next_rev_at(None, T0, 5).unwrap(),
        Tid::from_parts(T0, 5).unwrap()
    );
    // Previous rev earlier: now.
    let prev = rev(T0 - 10);
    assert_eq!(
        next_rev_at(Some(prev), T0, 5).unwrap(),
        Tid::from_parts(T0, 5).unwrap()
    );
    // The clock went backwards, or stalled: prev + 1.
    let prev = rev(T0 + 1_000_000);
    let next = next_rev_at(Some(prev), T0, 5).unwrap();
    assert_eq!(next.as_u64(), prev.as_u64() + 1);
    assert!(next > prev);
    let same = Tid::from_parts(T0, 5).unwrap();
    assert!(next_rev_at(Some(same), T0, 5).unwrap() > same);
    // A run of commits in the same microsecond stays strictly increasing.
    let mut last = None;
    for _ in 0..2000 {
        let r = next_rev_at(last, T0, 1).unwrap();
        if let Some(l) = last {
            assert!(r > l);
        }
        last = Some(r);
    }
    // The largest TID has no successor.
    let max = Tid::from_u64(u64::MAX >> 1);
    assert_eq!(
        next_rev_at(Some(max), T0, 0),
        Err(CommitError::RevExhausted(max))
    );
    // Out-of-range inputs.
    assert!(matches!(
        next_rev_at(None, u64::MAX, 0),
        Err(CommitError::BadRev(_))
    ));
    assert!(matches!(
        next_rev_at(None, T0, 1024),
        Err(CommitError::BadRev(_))
    ));
    // With the system clock.
    let a = next_rev(None).unwrap();
    let b = next_rev(Some(a)).unwrap();
    assert!(b > a);
    let far = rev(u64::MAX >> 20);
    assert!(next_rev(Some(far)).unwrap() > far);
}

#[test]
fn rev_checks() {
    let now = T0;
    let at =
        |micros| UnsignedCommit::new(did(), rev(micros), dag_cbor_cid(b"r"), None).sign(&keys()[0]);
    at(now).check_rev(None, now).unwrap();
    at(now + MAX_REV_FUTURE_MICROS)
        .check_rev(None, now)
        .unwrap();
    assert_eq!(
        at(now + MAX_REV_FUTURE_MICROS + 1).check_rev(None, now),
        Err(CommitError::RevInFuture {
            rev: rev(now + MAX_REV_FUTURE_MICROS + 1)
        })
    );
    assert!(check_rev_not_future(rev(now - 1), now).is_ok());
    // Strictly greater than the previous rev.
    at(now).check_rev(Some(rev(now - 1)), now).unwrap();
    assert_eq!(
        at(now).check_rev(Some(rev(now)), now),
        Err(CommitError::RevNotIncreasing {
            prev: rev(now),
            rev: rev(now)
        })
    );
    assert!(matches!(
        at(now - 5).check_rev(Some(rev(now)), now),
        Err(CommitError::RevNotIncreasing { .. })
    ));
}
