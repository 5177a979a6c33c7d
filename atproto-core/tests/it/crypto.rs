//! Tests for atproto-core's crypto module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atproto_core::crypto::{CryptoError, Curve, Keypair, PublicKey};
use atproto_core::varint::VarintError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn str_field<'a>(case: &'a serde_json::Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing {key} in {case}"))
}

// ---- shared vectors -------------------------------------------------------

#[test]
fn signature_fixtures() {
    let cases = super::interop::json("crypto/signature-fixtures.json");
    let cases = cases.as_array().expect("array of cases");
    assert_eq!(cases.len(), 6);
    let (mut valid, mut high_s, mut der) = (0, 0, 0);
    for case in cases {
        let comment = str_field(case, "comment");
        let curve = match str_field(case, "algorithm") {
            "ES256" => Curve::P256,
            "ES256K" => Curve::K256,
            other => panic!("unknown algorithm {other}"),
        };
        assert_eq!(Curve::from_jwt_alg(curve.jwt_alg()), Some(curve));

        let from_did = PublicKey::from_did_key(str_field(case, "publicKeyDid")).unwrap();
        let from_legacy = PublicKey::from_legacy_multibase(
            str_field(case, "didDocSuite"),
            str_field(case, "publicKeyMultibase"),
        )
        .unwrap();
        assert_eq!(from_did, from_legacy, "{comment}");
        assert_eq!(from_did.curve(), curve, "{comment}");
        assert_eq!(from_did.to_did_key(), str_field(case, "publicKeyDid"));
        let via_vm = PublicKey::from_verification_method(
            str_field(case, "didDocSuite"),
            str_field(case, "publicKeyMultibase"),
        )
        .unwrap();
        assert_eq!(via_vm, from_did);

        let msg = STANDARD_NO_PAD
            .decode(str_field(case, "messageBase64"))
            .unwrap();
        let sig = STANDARD_NO_PAD
            .decode(str_field(case, "signatureBase64"))
            .unwrap();
        let tags: Vec<&str> = case["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let result = from_did.verify(&msg, &sig);
        if case["validSignature"].as_bool().unwrap() {
            assert_eq!(result, Ok(()), "{comment}");
            assert_eq!(from_did.verify_lenient(&msg, &sig), Ok(()), "{comment}");
            valid += 1;
        } else if tags.contains(&"high-s") {
            assert_eq!(result, Err(CryptoError::HighS), "{comment}");
            assert_eq!(from_did.verify_lenient(&msg, &sig), Ok(()), "{comment}");
            high_s += 1;
        } else if tags.contains(&"der-encoded") {
            assert_eq!(result, Err(CryptoError::DerSignature), "{comment}");
            assert_eq!(
                from_did.verify_lenient(&msg, &sig),
                Err(CryptoError::DerSignature)
            );
            der += 1;
        } else {
            panic!("invalid case without a known tag: {comment}");
        }
    }
    println!("signature fixtures: {valid} valid, {high_s} high-S rejected, {der} DER rejected");
    assert_eq!((valid, high_s, der), (2, 2, 2));
}

#[test]
fn w3c_did_key_k256() {
    let cases = super::interop::json("crypto/w3c_didkey_K256.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let secret = hex(str_field(case, "privateKeyBytesHex"));
        let did = str_field(case, "publicDidKey");
        let key = Keypair::from_private_bytes(Curve::K256, &secret).unwrap();
        assert_eq!(key.private_bytes().as_slice(), secret.as_slice());
        assert_eq!(key.public_key().to_did_key(), did);
        assert_eq!(PublicKey::from_did_key(did).unwrap().to_did_key(), did);
        assert_eq!(did.parse::<PublicKey>().unwrap(), key.public_key());
    }
    println!("w3c did:key K256: {} cases", cases.len());
}

#[test]
fn w3c_did_key_p256() {
    let cases = super::interop::json("crypto/w3c_didkey_P256.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 1);
    for case in cases {
        let secret = multibase::Base::Base58Btc
            .decode(str_field(case, "privateKeyBytesBase58"))
            .unwrap();
        let did = str_field(case, "publicDidKey");
        let key = Keypair::from_private_bytes(Curve::P256, &secret).unwrap();
        assert_eq!(key.public_key().to_did_key(), did);
        assert_eq!(PublicKey::from_did_key(did).unwrap().to_did_key(), did);
        assert_eq!(key.public_key().to_string(), did);
    }
    println!("w3c did:key P256: {} cases", cases.len());
}

// ---- signing --------------------------------------------------------------

const K256_N: &str = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";
const P256_N: &str = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

fn order(curve: Curve) -> [u8; 32] {
    let n = match curve {
        Curve::K256 => K256_N,
        Curve::P256 => P256_N,
        _ => unreachable!(),
    };
    hex(n).try_into().unwrap()
}

/// n >> 1, i.e. floor(n/2); low-S means S <= this.
fn half_order(curve: Curve) -> [u8; 32] {
    let n = order(curve);
    let mut out = [0u8; 32];
    let mut carry = 0u8;
    for i in 0..32 {
        out[i] = (n[i] >> 1) | carry;
        carry = (n[i] & 1) << 7;
    }
    out
}

/// a - b for big-endian 256-bit a >= b.
fn sub(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

fn test_keys() -> Vec<Keypair> {
    let mut keys = Vec::new();
    for curve in [Curve::K256, Curve::P256] {
        for seed in 1u8..=4 {
            let mut secret = [0u8; 32];
            for (i, b) in secret.iter_mut().enumerate() {
                *b = seed.wrapping_mul(31).wrapping_add(i as u8);
            }
            keys.push(Keypair::from_private_bytes(curve, &secret).unwrap());
        }
        #[cfg(feature = "std")]
        keys.push(Keypair::generate(curve));
    }
    keys
}

#[test]
fn sign_verify_round_trips_are_low_s() {
    let mut count = 0;
    for key in test_keys() {
        let pk = key.public_key();
        let half = half_order(key.curve());
        for i in 0..60u32 {
            let msg = format!("message {i} for {}", key.curve()).repeat(i as usize % 5 + 1);
            let sig = key.sign(msg.as_bytes());
            assert!(sig[32..] <= half[..], "high S produced on {}", key.curve());
            assert_eq!(sig, key.sign(msg.as_bytes()), "RFC 6979 is deterministic");
            assert_eq!(pk.verify(msg.as_bytes(), &sig), Ok(()));
            assert_eq!(pk.verify_lenient(msg.as_bytes(), &sig), Ok(()));
            let hash: [u8; 32] = sha2::Sha256::digest(msg.as_bytes()).into();
            assert_eq!(key.sign_prehash(&hash), sig);
            assert_eq!(pk.verify_prehash(&hash, &sig), Ok(()));
            count += 1;
        }
    }
    println!("sign/verify round trips: {count}");
}

use sha2::Digest as _;

#[test]
fn tampering_and_wrong_keys_fail() {
    let keys = test_keys();
    for (k, key) in keys.iter().enumerate() {
        let msg = b"atproto signed bytes";
        let sig = key.sign(msg);
        let pk = key.public_key();
        for bit in [0usize, 7, 100, 255, 256, 300, 511] {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = pk.verify(msg, &bad).unwrap_err();
            // Flipping a high bit of S can make it high-S; either way it fails.
            assert!(
                matches!(err, CryptoError::BadSignature | CryptoError::HighS),
                "{err:?}"
            );
        }
        let mut bad_msg = *msg;
        bad_msg[0] ^= 1;
        assert_eq!(pk.verify(&bad_msg, &sig), Err(CryptoError::BadSignature));
        for (j, other) in keys.iter().enumerate() {
            if j != k {
                assert_eq!(
                    other.public_key().verify(msg, &sig),
                    Err(CryptoError::BadSignature)
                );
            }
        }
    }
}

#[test]
fn high_s_strict_rejects_lenient_accepts() {
    for key in test_keys() {
        let n = order(key.curve());
        let pk = key.public_key();
        for i in 0..10u8 {
            let msg = [i; 17];
            let sig = key.sign(&msg);
            let mut high = sig;
            high[32..].copy_from_slice(&sub(&n, &sig[32..]));
            assert!(high[32..] > half_order(key.curve())[..]);
            assert_eq!(pk.verify(&msg, &high), Err(CryptoError::HighS));
            assert_eq!(pk.verify_lenient(&msg, &high), Ok(()));
            // Lenient is not lax about everything else.
            let mut other = high;
            other[0] ^= 0x40;
            assert_eq!(
                pk.verify_lenient(&msg, &other),
                Err(CryptoError::BadSignature)
            );
        }
    }
}

#[test]
fn signature_shape_errors() {
    let key = Keypair::from_private_bytes(Curve::K256, &[9u8; 32]).unwrap();
    let pk = key.public_key();
    let sig = key.sign(b"x");
    assert_eq!(
        pk.verify(b"x", &sig[..63]),
        Err(CryptoError::SignatureLength { len: 63 })
    );
    assert_eq!(
        pk.verify(b"x", &[]),
        Err(CryptoError::SignatureLength { len: 0 })
    );
    let mut long = sig.to_vec();
    long.push(0);
    assert_eq!(
        pk.verify(b"x", &long),
        Err(CryptoError::SignatureLength { len: 65 })
    );
    // r = 0, s = 0, s = n: out of range.
    assert_eq!(pk.verify(b"x", &[0u8; 64]), Err(CryptoError::BadSignature));
    let mut s_n = sig;
    s_n[32..].copy_from_slice(&order(Curve::K256));
    assert_eq!(pk.verify(b"x", &s_n), Err(CryptoError::BadSignature));
}

// ---- keys -------------------------------------------------------------------

#[test]
fn private_key_validation() {
    for curve in [Curve::K256, Curve::P256] {
        let n = order(curve);
        assert_eq!(
            Keypair::from_private_bytes(curve, &[0u8; 32]).unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
        assert_eq!(
            Keypair::from_private_bytes(curve, &n).unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
        assert_eq!(
            Keypair::from_private_bytes(curve, &[0xffu8; 32]).unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
        // Short input is not zero-padded.
        assert_eq!(
            Keypair::from_private_bytes(curve, &[1u8; 31]).unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
        assert_eq!(
            Keypair::from_private_bytes(curve, &[1u8; 33]).unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
        let n_minus_1 = sub(&n, &[&[0u8; 31][..], &[1]].concat());
        let key = Keypair::from_private_bytes(curve, &n_minus_1).unwrap();
        assert_eq!(*key.private_bytes(), n_minus_1);
        #[cfg(feature = "std")]
        {
            let generated = Keypair::generate(curve);
            assert_eq!(generated.curve(), curve);
            let reloaded =
                Keypair::from_private_bytes(curve, &generated.private_bytes()[..]).unwrap();
            assert_eq!(reloaded.public_key(), generated.public_key());
        }
    }
}

#[test]
fn keypair_debug_hides_secret() {
    let fixed = Keypair::from_private_bytes(Curve::P256, &[0x42u8; 32]).unwrap();
    #[cfg(feature = "std")]
    let keys = [
        fixed,
        Keypair::generate(Curve::K256),
        Keypair::generate(Curve::P256),
    ];
    #[cfg(not(feature = "std"))]
    let keys = [fixed];
    for key in keys {
        let secret = key.private_bytes();
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let bytes = format!("{:?}", &secret[..]);
        let did = key.public_key().to_did_key();
        for dbg in [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{:?}", key.clone()),
            format!("{:?}", Some(&key)),
        ] {
            assert!(dbg.contains(&did), "{dbg}");
            assert!(!dbg.to_lowercase().contains(&hex), "{dbg}");
            assert!(!dbg.contains(&bytes[1..bytes.len() - 1]), "{dbg}");
            // Not even a 4-byte run of the secret, in hex.
            for run in hex.as_bytes().chunks(8) {
                let run = std::str::from_utf8(run).unwrap();
                assert!(!dbg.to_lowercase().contains(run), "{run} in {dbg}");
            }
        }
    }
    let pk = Keypair::from_private_bytes(Curve::K256, &[0x42u8; 32])
        .unwrap()
        .public_key();
    assert_eq!(
        format!("{pk:?}"),
        format!("PublicKey({:?})", pk.to_did_key())
    );
}

/// The secret is zeroed on drop: the keypair says so (and the crate does not
/// compile if RustCrypto's signing keys stop zeroizing), and the copy
/// `private_bytes` hands out zeroes itself.
#[test]
fn key_material_is_zeroized() {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<Keypair>();
    let key = Keypair::from_private_bytes(Curve::K256, &[7u8; 32]).unwrap();
    let mut copy = key.private_bytes();
    assert_eq!(*copy, [7u8; 32]);
    zeroize::Zeroize::zeroize(&mut copy);
    assert_eq!(*copy, [0u8; 32]);
}

#[test]
fn sec1_and_multikey_round_trips() {
    for key in test_keys() {
        let pk = key.public_key();
        let compressed = pk.to_compressed_bytes();
        assert!(compressed[0] == 2 || compressed[0] == 3);
        assert_eq!(
            PublicKey::from_sec1_bytes(pk.curve(), &compressed).unwrap(),
            pk
        );
        let mk = pk.to_multikey();
        let prefix = match pk.curve() {
            Curve::K256 => "zQ3s",
            _ => "zDnae",
        };
        assert!(mk.starts_with(prefix), "{mk}");
        assert_eq!(PublicKey::from_multikey(&mk).unwrap(), pk);
        assert_eq!(
            PublicKey::from_verification_method("Multikey", &mk).unwrap(),
            pk
        );
        // Wrong curve for these bytes: either not on the other curve or a
        // different key, never the same one.
        let other = match pk.curve() {
            Curve::K256 => Curve::P256,
            _ => Curve::K256,
        };
        if let Ok(wrong) = PublicKey::from_sec1_bytes(other, &compressed) {
            assert_ne!(wrong, pk);
            assert_eq!(
                wrong.verify(b"m", &key.sign(b"m")),
                Err(CryptoError::BadSignature)
            );
        }
    }
}

#[test]
fn public_keys_hash_by_value() {
    let set: std::collections::HashSet<PublicKey> = test_keys()
        .iter()
        .chain(test_keys().iter())
        .map(Keypair::public_key)
        .collect();
    // 4 fixed keys per curve appear twice; the generated ones (with `std`)
    // are fresh.
    let generated = if cfg!(feature = "std") { 4 } else { 0 };
    assert_eq!(set.len(), 8 + generated);
}

#[test]
fn legacy_uncompressed_key_accepted() {
    let cases = super::interop::json("crypto/signature-fixtures.json");
    let case = &cases[1]; // K-256, valid
    let pk = PublicKey::from_did_key(str_field(case, "publicKeyDid")).unwrap();
    // Decompress through the public API of k256 (test-only) to build the 65-byte form.
    let uncompressed = k256::ecdsa::VerifyingKey::from_sec1_bytes(&pk.to_compressed_bytes())
        .unwrap()
        .to_sec1_point(false);
    let mb = multibase::encode(multibase::Base::Base58Btc, uncompressed.as_bytes());
    let legacy =
        PublicKey::from_legacy_multibase("EcdsaSecp256k1VerificationKey2019", &mb).unwrap();
    assert_eq!(legacy, pk);
    assert_eq!(
        PublicKey::from_sec1_bytes(Curve::K256, uncompressed.as_bytes()).unwrap(),
        pk
    );
    // Hybrid (0x06/0x07) and compact (0x05) tags are refused.
    for tag in [0x05u8, 0x06, 0x07] {
        let mut bytes = uncompressed.as_bytes().to_vec();
        bytes[0] = tag;
        assert_eq!(
            PublicKey::from_sec1_bytes(Curve::K256, &bytes),
            Err(CryptoError::InvalidPublicKey)
        );
    }
    let mut compact = pk.to_compressed_bytes();
    compact[0] = 0x05;
    assert_eq!(
        PublicKey::from_sec1_bytes(Curve::K256, &compact),
        Err(CryptoError::InvalidPublicKey)
    );
}

#[test]
fn curve_names() {
    for (s, c) in [
        ("k256", Curve::K256),
        ("secp256k1", Curve::K256),
        ("p256", Curve::P256),
        ("secp256r1", Curve::P256),
    ] {
        assert_eq!(s.parse::<Curve>().unwrap(), c);
    }
    assert_eq!(Curve::K256.to_string(), "k256");
    assert_eq!(Curve::P256.to_string(), "p256");
    assert_eq!(Curve::K256.jwt_alg(), "ES256K");
    assert_eq!(Curve::P256.jwt_alg(), "ES256");
    assert_eq!(
        "ed25519".parse::<Curve>(),
        Err(CryptoError::UnsupportedCurve("ed25519".into()))
    );
    assert_eq!(Curve::from_jwt_alg("EdDSA"), None);
}

// ---- malformed did:key / multikey --------------------------------------------

fn b58(bytes: &[u8]) -> String {
    multibase::encode(multibase::Base::Base58Btc, bytes)
}

#[test]
fn malformed_did_keys() {
    let good = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
    let pk = PublicKey::from_did_key(good).unwrap();
    let point = pk.to_compressed_bytes();

    let cases: Vec<(String, CryptoError)> = vec![
        ("".into(), CryptoError::NotDidKey),
        ("did:web:example.com".into(), CryptoError::NotDidKey),
        (
            "DID:KEY:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme".into(),
            CryptoError::NotDidKey,
        ),
        (good.replace("did:key:", "did:plc:"), CryptoError::NotDidKey),
        ("did:key:".into(), CryptoError::InvalidMultibase),
        ("did:key:z".into(), CryptoError::InvalidMultibase),
        // Not base58btc: base32 prefix, or characters outside the alphabet.
        (
            good.replace("did:key:z", "did:key:b"),
            CryptoError::InvalidMultibase,
        ),
        (good.replace('h', "0"), CryptoError::InvalidMultibase),
        (good.replace('h', "l"), CryptoError::InvalidMultibase),
        (format!("{good} "), CryptoError::InvalidMultibase),
        (
            format!("did:key:z{}", "1".repeat(500)),
            CryptoError::InvalidMultibase,
        ),
        // Unknown codec: ed25519-pub (0xed), x25519 (0xec), bls (0xe7 is taken).
        (
            format!("did:key:{}", b58(&[&[0xed, 0x01][..], &[7u8; 32]].concat())),
            CryptoError::UnknownMulticodec(0xed),
        ),
        (
            format!("did:key:{}", b58(&[&[0x12][..], &point].concat())),
            CryptoError::UnknownMulticodec(0x12),
        ),
        // Missing/truncated varint.
        (
            format!("did:key:{}", b58(&[0x80])),
            CryptoError::MissingMulticodec,
        ),
        // secp256k1-pub (0xe7) in three bytes instead of two, and a codec
        // varint past nine bytes (the ten-byte form of 2^63).
        (
            format!(
                "did:key:{}",
                b58(&[&[0xe7, 0x81, 0x00][..], &point].concat())
            ),
            CryptoError::MalformedMulticodec(VarintError::NonMinimal),
        ),
        (
            format!(
                "did:key:{}",
                b58(&[&[0x80; 9][..], &[0x01], &point].concat())
            ),
            CryptoError::MalformedMulticodec(VarintError::Overflow),
        ),
        (
            format!("did:key:{}", b58(&[0xff; 9])),
            CryptoError::MalformedMulticodec(VarintError::Overflow),
        ),
        // Wrong length after the prefix: uncompressed, truncated, extended.
        (
            format!("did:key:{}", b58(&[0xe7, 0x01, 0x02])),
            CryptoError::PublicKeyLength {
                len: 1,
                expected: "33",
            },
        ),
        (
            format!(
                "did:key:{}",
                b58(&[&[0xe7, 0x01][..], &point[..32]].concat())
            ),
            CryptoError::PublicKeyLength {
                len: 32,
                expected: "33",
            },
        ),
        (
            format!(
                "did:key:{}",
                b58(&[&[0xe7, 0x01][..], &point, &[0]].concat())
            ),
            CryptoError::PublicKeyLength {
                len: 34,
                expected: "33",
            },
        ),
        // Bare point without multicodec (the legacy form) is not a did:key.
        (
            format!("did:key:{}", b58(&point)),
            CryptoError::UnknownMulticodec(u64::from(point[0])),
        ),
        // Not on the curve: x = 5 has no secp256k1 point (5^3+7 = 132 is a
        // non-residue mod p), bad SEC1 tag byte, x >= p.
        (
            format!(
                "did:key:{}",
                b58(&[&[0xe7, 0x01, 0x02][..], &[0u8; 31], &[5]].concat())
            ),
            CryptoError::InvalidPublicKey,
        ),
        // Regression: the SEC1 "compact" tag 0x05 (x only) is decodable by
        // RustCrypto but is not a compressed point; it must not alias the key.
        (
            format!(
                "did:key:{}",
                b58(&[&[0xe7, 0x01, 0x05][..], &point[1..]].concat())
            ),
            CryptoError::InvalidPublicKey,
        ),
        (
            format!(
                "did:key:{}",
                b58(&[&[0xe7, 0x01, 0x04][..], &point[1..]].concat())
            ),
            CryptoError::InvalidPublicKey,
        ),
        (
            format!(
                "did:key:{}",
                b58(&[&[0x80, 0x24, 0x02][..], &[0xff; 32]].concat())
            ),
            CryptoError::InvalidPublicKey,
        ),
    ];
    for (input, want) in &cases {
        assert_eq!(
            PublicKey::from_did_key(input).as_ref(),
            Err(want),
            "input {input:?}"
        );
        assert_eq!(input.parse::<PublicKey>().as_ref(), Err(want));
    }
    println!("malformed did:key cases: {}", cases.len());
}

#[test]
fn verification_method_types() {
    let cases = super::interop::json("crypto/signature-fixtures.json");
    let mb = str_field(&cases[0], "publicKeyMultibase");
    assert_eq!(
        PublicKey::from_verification_method("Ed25519VerificationKey2020", mb),
        Err(CryptoError::UnknownVerificationMethodType(
            "Ed25519VerificationKey2020".into()
        ))
    );
    // Legacy key fed as Multikey lacks the codec; a multikey fed as legacy
    // has 35 bytes.
    assert!(PublicKey::from_verification_method("Multikey", mb).is_err());
    let mk = str_field(&cases[0], "publicKeyDid")
        .strip_prefix("did:key:")
        .unwrap();
    assert_eq!(
        PublicKey::from_legacy_multibase("EcdsaSecp256r1VerificationKey2019", mk),
        Err(CryptoError::PublicKeyLength {
            len: 35,
            expected: "33 or 65"
        })
    );
    // Legacy P-256 point read as secp256k1 is not the same key.
    let as_k = PublicKey::from_legacy_multibase("EcdsaSecp256k1VerificationKey2019", mb);
    assert_ne!(
        as_k.ok(),
        Some(PublicKey::from_did_key(str_field(&cases[0], "publicKeyDid")).unwrap())
    );
}

proptest! {
    #[test]
    fn from_did_key_never_panics(s in ".{0,80}") {
        let _ = PublicKey::from_did_key(&s);
        let _ = PublicKey::from_did_key(&format!("did:key:z{s}"));
        let _ = PublicKey::from_multikey(&s);
        let _ = PublicKey::from_legacy_multibase("EcdsaSecp256k1VerificationKey2019", &s);
    }

    #[test]
    fn base58_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..70)) {
        let mk = b58(&bytes);
        let _ = PublicKey::from_multikey(&mk);
        let _ = PublicKey::from_legacy_multibase("EcdsaSecp256r1VerificationKey2019", &mk);
        let mut prefixed = vec![0xe7, 0x01];
        prefixed.extend_from_slice(&bytes);
        let _ = PublicKey::from_multikey(&b58(&prefixed));
    }

    #[test]
    fn verify_never_panics(sig in proptest::collection::vec(any::<u8>(), 0..80), msg in proptest::collection::vec(any::<u8>(), 0..40)) {
        for curve in [Curve::K256, Curve::P256] {
            let pk = Keypair::from_private_bytes(curve, &[3u8; 32]).unwrap().public_key();
            prop_assert!(pk.verify(&msg, &sig).is_err());
            let _ = pk.verify_lenient(&msg, &sig);
            let _ = PublicKey::from_sec1_bytes(curve, &sig);
        }
    }
}
