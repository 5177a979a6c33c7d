//! DID documents and did:plc operations (`atproto_xrpc::identity`).
// Helpers outside #[test] functions unwrap too: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use atproto_core::cid::multibase::{self, Base};
use atproto_core::{CryptoError, Curve, Did, Handle, Keypair, PublicKey};
use atproto_xrpc::identity::did_doc::{MAX_DID_DOC_SIZE, MAX_DOC_ENTRIES};
use atproto_xrpc::identity::plc::{parse_log, parse_operation, verify_log};
use atproto_xrpc::identity::{DidDocError, DidDocument, Operation, PlcData, PlcError, PlcState};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn did() -> Did {
    DID.parse().unwrap()
}

fn key(seed: u8) -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[seed; 32]).unwrap()
}

fn p256(seed: u8) -> Keypair {
    Keypair::from_private_bytes(Curve::P256, &[seed; 32]).unwrap()
}

fn parse(doc: &serde_json::Value) -> Result<DidDocument, DidDocError> {
    DidDocument::parse(&serde_json::to_vec(doc).unwrap(), &did())
}

/// A document as the PLC directory serves it, with the given key and
/// service ids.
fn doc_with_ids(key_id: &str, pds_id: &str, multikey: &str) -> serde_json::Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID,
        "alsoKnownAs": ["at://alice.example.com"],
        "verificationMethod": [{
            "id": key_id,
            "type": "Multikey",
            "controller": DID,
            "publicKeyMultibase": multikey,
        }],
        "service": [{
            "id": pds_id,
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com",
        }],
        "somethingElse": {"kept": "or ignored, never rejected"},
    })
}

// ---------------------------------------------------------------- documents

#[test]
fn did_fragment_ids_are_found() {
    let k = key(1).public_key();
    let doc = parse(&doc_with_ids(
        &format!("{DID}#atproto"),
        &format!("{DID}#atproto_pds"),
        &k.to_multikey(),
    ))
    .unwrap();
    assert_eq!(doc.signing_key().unwrap(), k);
    assert_eq!(doc.pds_endpoint().unwrap(), "https://pds.example.com");
    assert_eq!(doc.handle().unwrap().as_str(), "alice.example.com");
}

#[test]
fn bare_fragment_ids_are_found() {
    let k = p256(2).public_key();
    let doc = parse(&doc_with_ids("#atproto", "#atproto_pds", &k.to_multikey())).unwrap();
    assert_eq!(doc.signing_key().unwrap(), k);
    assert_eq!(doc.pds_endpoint().unwrap(), "https://pds.example.com");
}

#[test]
fn ids_of_another_did_or_fragment_do_not_match() {
    let k = key(1).public_key();
    for (key_id, pds_id) in [
        (
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto",
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto_pds",
        ),
        ("#atproto_other", "#atproto_pds_x"),
        ("atproto", "atproto_pds"),
        (&format!("{DID}x#atproto"), &format!("{DID}x#atproto_pds")),
    ] {
        let doc = parse(&doc_with_ids(key_id, pds_id, &k.to_multikey())).unwrap();
        assert_eq!(
            doc.signing_key(),
            Err(DidDocError::MissingSigningKey),
            "{key_id}"
        );
        assert_eq!(doc.pds_endpoint(), Err(DidDocError::MissingPds), "{pds_id}");
    }
}

#[test]
fn first_atproto_key_wins() {
    let (a, b) = (key(1).public_key(), key(2).public_key());
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", &a.to_multikey());
    doc["verificationMethod"].as_array_mut().unwrap().push(json!({
        "id": "#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": b.to_multikey(),
    }));
    assert_eq!(parse(&doc).unwrap().signing_key().unwrap(), a);
}

#[test]
fn missing_key_and_missing_multibase() {
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", "x");
    doc["verificationMethod"] = json!([]);
    assert_eq!(
        parse(&doc).unwrap().signing_key(),
        Err(DidDocError::MissingSigningKey)
    );
    doc.as_object_mut().unwrap().remove("verificationMethod");
    assert_eq!(
        parse(&doc).unwrap().signing_key(),
        Err(DidDocError::MissingSigningKey)
    );
    doc["verificationMethod"] = json!([{"id": "#atproto", "type": "Multikey", "publicKeyJwk": {}}]);
    assert_eq!(
        parse(&doc).unwrap().signing_key(),
        Err(DidDocError::MissingPublicKeyMultibase)
    );
}

#[test]
fn bad_keys_are_typed_errors() {
    for (type_, multibase) in [
        ("Multikey", "zQ3shNotAKey"),
        ("Multikey", "not-multibase"),
        (
            "JsonWebKey2020",
            "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF",
        ),
    ] {
        let mut doc = doc_with_ids("#atproto", "#atproto_pds", multibase);
        doc["verificationMethod"][0]["type"] = json!(type_);
        assert!(
            matches!(
                parse(&doc).unwrap().signing_key(),
                Err(DidDocError::BadSigningKey(_))
            ),
            "{type_} {multibase}"
        );
    }
}

#[test]
fn legacy_key_types_are_read() {
    for (suite, pair) in [
        ("EcdsaSecp256k1VerificationKey2019", key(3)),
        ("EcdsaSecp256r1VerificationKey2019", p256(4)),
    ] {
        let public = pair.public_key();
        // The legacy form: base58btc of the bare point, no multicodec.
        let legacy = multibase::encode(Base::Base58Btc, public.to_compressed_bytes());
        let mut doc = doc_with_ids("#atproto", "#atproto_pds", &legacy);
        doc["verificationMethod"][0]["type"] = json!(suite);
        assert_eq!(
            parse(&doc).unwrap().signing_key().unwrap(),
            public,
            "{suite}"
        );
    }
}

#[test]
fn wrong_id_is_rejected() {
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", "x");
    doc["id"] = json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(
        parse(&doc),
        Err(DidDocError::IdMismatch {
            expected: DID.to_owned(),
            found: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".to_owned()
        })
    );
}

#[test]
fn first_valid_handle_is_taken_lowercased() {
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", "x");
    doc["alsoKnownAs"] = json!([
        "https://alice.example.com",
        "at://not_a_handle",
        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "at://Alice.Example.COM",
        "at://bob.example.com",
    ]);
    assert_eq!(
        parse(&doc).unwrap().handle(),
        Some("alice.example.com".parse::<Handle>().unwrap())
    );
    doc["alsoKnownAs"] = json!(["https://alice.example.com", "at://x"]);
    assert_eq!(parse(&doc).unwrap().handle(), None);
}

#[test]
fn pds_needs_type_and_http_url() {
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", "x");
    doc["service"][0]["type"] = json!("SomethingElse");
    assert_eq!(
        parse(&doc).unwrap().pds_endpoint(),
        Err(DidDocError::MissingPds)
    );
    for bad in [
        json!("ftp://pds.example.com"),
        json!("https://"),
        json!({"uri": "https://x"}),
    ] {
        doc["service"][0]["type"] = json!("AtprotoPersonalDataServer");
        doc["service"][0]["serviceEndpoint"] = bad.clone();
        assert!(
            matches!(
                parse(&doc).unwrap().pds_endpoint(),
                Err(DidDocError::BadPdsEndpoint(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn size_and_entry_limits() {
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", "x");
    doc["padding"] = json!("a".repeat(MAX_DID_DOC_SIZE));
    assert!(matches!(
        parse(&doc),
        Err(DidDocError::TooLarge {
            max: MAX_DID_DOC_SIZE,
            ..
        })
    ));
    let mut doc = doc_with_ids("#atproto", "#atproto_pds", "x");
    doc["alsoKnownAs"] = json!(vec!["at://a.example.com"; MAX_DOC_ENTRIES + 1]);
    assert_eq!(
        parse(&doc),
        Err(DidDocError::TooManyEntries {
            field: "alsoKnownAs",
            count: MAX_DOC_ENTRIES + 1,
            max: MAX_DOC_ENTRIES
        })
    );
}

#[test]
fn malformed_json_is_a_typed_error() {
    for bad in [
        &b"{"[..],
        b"[]",
        b"{\"alsoKnownAs\": []}",
        b"{\"id\": 5}",
        b"\xff",
    ] {
        assert!(
            matches!(DidDocument::parse(bad, &did()), Err(DidDocError::Json(_))),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------- did:plc, reference vectors

/// `testdata/did-method-plc/audit_log/<rel>`: vendored from did-method-plc.
pub(crate) fn audit_log(rel: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/did-method-plc/audit_log")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The canonical history of an audit log (nullified entries left out): the
/// DID, the operations and the CIDs the directory gave them.
fn history(rel: &str) -> (Did, Vec<Operation>, Vec<String>) {
    let log = audit_log(rel);
    let entries: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["nullified"] == json!(false))
        .collect();
    let did = entries[0]["did"].as_str().unwrap().parse().unwrap();
    let ops = entries
        .iter()
        .map(|e| parse_operation(&serde_json::to_vec(&e["operation"]).unwrap()).unwrap())
        .collect();
    let cids = entries
        .iter()
        .map(|e| e["cid"].as_str().unwrap().to_owned())
        .collect();
    (did, ops, cids)
}

pub(crate) const VALID_LOGS: &[&str] = &[
    "log_bnewbold_robocracy.json",
    "log_bskyapp.json",
    "log_duplicate_rotation_keys.json",
    "log_empty_rotation_keys.json",
    "log_legacy_dholms.json",
    "log_nullification.json",
    "log_nullification_at_exactly_72h.json",
    "log_nullification_nontrivial.json",
    "log_nullified_tombstone.json",
    "log_tombstone.json",
];

#[test]
fn reference_logs_verify_with_their_dids_and_cids() {
    for name in VALID_LOGS {
        let (did, ops, cids) = history(&format!("valid/{name}"));
        // The reference's genesis vector: the signed genesis op hashes to the DID.
        assert_eq!(ops[0].genesis_did(), did, "{name}");
        for (op, cid) in ops.iter().zip(&cids) {
            assert_eq!(&op.cid().to_string(), cid, "{name}");
            // The JSON form round-trips.
            let again = parse_operation(&serde_json::to_vec(op).unwrap()).unwrap();
            assert_eq!(&again, op, "{name}");
        }
        let state = verify_log(&did, &ops).unwrap_or_else(|e| panic!("{name}: {e}"));
        match ops.last().unwrap().data() {
            Some(data) => assert_eq!(state, PlcState::Active(data), "{name}"),
            None => assert_eq!(state, PlcState::Tombstoned, "{name}"),
        }
    }
}

#[test]
fn reference_tombstone_log_ends_tombstoned() {
    let (did, ops, _) = history("valid/log_tombstone.json");
    assert_eq!(verify_log(&did, &ops), Ok(PlcState::Tombstoned));
    // Without the tombstone the DID is active.
    assert!(matches!(
        verify_log(&did, &ops[..1]),
        Ok(PlcState::Active(_))
    ));
}

#[test]
fn reference_legacy_create_log_gives_a_document() {
    let (did, ops, _) = history("valid/log_legacy_dholms.json");
    assert!(matches!(ops[0], Operation::LegacyCreate(_)));
    assert_eq!(did.as_str(), "did:plc:yk4dd2qkboz2yv6tpubpc6co");
    let PlcState::Active(data) = verify_log(&did, &ops).unwrap() else {
        panic!("active expected");
    };
    let doc = data.to_did_document(&did);
    let doc = DidDocument::parse(&serde_json::to_vec(&doc).unwrap(), &did).unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "dholms.xyz");
    assert_eq!(doc.pds_endpoint().unwrap(), "https://bsky.social");
    assert_eq!(
        doc.signing_key().unwrap().to_did_key(),
        "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
    );
    // The legacy genesis alone reads as the reference normalises it.
    let genesis = ops[0].data().unwrap();
    assert_eq!(
        genesis.rotation_keys,
        [
            "did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg",
            "did:key:zQ3shP5TBe1sQfSttXty15FAEHV1DZgcxRZNxvEWnPfLFwLxJ"
        ]
    );
    assert_eq!(genesis.also_known_as, ["at://dan.bsky.social"]);
    // A `create` is allowed only as genesis.
    let mut misplaced = ops.clone();
    misplaced.push(ops[0].clone());
    assert_eq!(
        verify_log(&did, &misplaced),
        Err(PlcError::MisplacedCreate { index: 5 })
    );
}

#[test]
fn reference_invalid_logs_are_rejected() {
    let encoding = PlcError::SigEncoding { index: 0 };
    let signature = PlcError::BadSignature { index: 0 };
    for (name, want) in [
        ("log_invalid_sig_b64_newline.json", &encoding),
        ("log_invalid_sig_b64_padding_bits.json", &encoding),
        ("log_invalid_sig_b64_padding_chars.json", &encoding),
        ("log_invalid_sig_der.json", &signature),
        ("log_invalid_sig_k256_high_s.json", &signature),
        ("log_invalid_sig_p256_high_s.json", &signature),
        (
            "log_invalid_update_tombstoned.json",
            &PlcError::AfterTombstone { index: 2 },
        ),
    ] {
        let (did, ops, _) = history(&format!("invalid/{name}"));
        assert_eq!(verify_log(&did, &ops).as_ref(), Err(want), "{name}");
    }
}

#[test]
fn reference_high_s_signatures_are_otherwise_valid() {
    // Refused only for being high-S: lenient verification accepts them.
    for name in [
        "log_invalid_sig_k256_high_s.json",
        "log_invalid_sig_p256_high_s.json",
    ] {
        let (_, ops, _) = history(&format!("invalid/{name}"));
        let sig = URL_SAFE_NO_PAD.decode(ops[0].sig()).unwrap();
        let signer = PublicKey::from_did_key(&ops[0].data().unwrap().rotation_keys[0]).unwrap();
        let msg = ops[0].unsigned_cbor();
        assert_eq!(signer.verify(&msg, &sig), Err(CryptoError::HighS), "{name}");
        signer.verify_lenient(&msg, &sig).unwrap();
    }
}

// ---------------------------------------------------------------- did:plc, built here

fn handle(h: &str) -> Handle {
    h.parse().unwrap()
}

/// Rotation keys 10 (most powerful) and 11, signing key 12.
fn genesis() -> (Operation, Did, PlcData) {
    let data = PlcData::atproto(
        &key(12).public_key(),
        &handle("alice.example.com"),
        "pds.example.com",
        &[key(10).public_key(), p256(11).public_key()],
    );
    let (op, did) = Operation::genesis(data.clone(), &p256(11));
    (op, did, data)
}

#[test]
fn genesis_gives_a_plc_did_and_the_reference_json_form() {
    let (op, did, data) = genesis();
    did.check_plc_form().unwrap();
    assert_eq!(op.genesis_did(), did);
    assert_eq!(
        verify_log(&did, std::slice::from_ref(&op)),
        Ok(PlcState::Active(data))
    );
    let json = serde_json::to_value(&op).unwrap();
    assert_eq!(json["type"], "plc_operation");
    assert_eq!(json["prev"], serde_json::Value::Null);
    assert_eq!(json["alsoKnownAs"], json!(["at://alice.example.com"]));
    assert_eq!(
        json["services"],
        json!({"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.example.com"}})
    );
    assert_eq!(
        json["verificationMethods"]["atproto"],
        key(12).public_key().to_did_key()
    );
    let sig = json["sig"].as_str().unwrap();
    assert_eq!(sig.len(), 86, "64 bytes in base64url without padding");
    assert!(!sig.contains(['=', '+', '/']));
    // Signing is deterministic (RFC 6979): the same data gives the same DID.
    assert_eq!(genesis().1, did);
}

#[test]
fn update_chain_verifies() {
    let (g, did, data) = genesis();
    let mut moved = data.clone();
    moved.also_known_as = vec!["at://alice2.example.com".into()];
    let u1 = Operation::update(&g, moved, &key(10));
    let mut rotated = data.clone();
    rotated.rotation_keys = vec![key(20).public_key().to_did_key()];
    let u2 = Operation::update(&u1, rotated.clone(), &p256(11));
    let mut last = rotated.clone();
    last.verification_methods
        .insert("atproto".into(), key(21).public_key().to_did_key());
    let u3 = Operation::update(&u2, last.clone(), &key(20));
    assert_eq!(u1.prev(), Some(g.cid().to_string().as_str()));
    let log = [g, u1, u2, u3];
    assert_eq!(verify_log(&did, &log), Ok(PlcState::Active(last)));
    // Parsed back from the directory's JSON log form, the same.
    let parsed = parse_log(&serde_json::to_vec(&log).unwrap()).unwrap();
    assert_eq!(parsed, log);
}

#[test]
fn tampered_operation_fails_its_signature() {
    let (g, did, data) = genesis();
    let mut u = Operation::update(&g, data.clone(), &key(10));
    if let Operation::Plc(op) = &mut u {
        op.also_known_as = vec!["at://mallory.example.com".into()];
    }
    assert_eq!(
        verify_log(&did, &[g.clone(), u]),
        Err(PlcError::BadSignature { index: 1 })
    );
    // A tampered genesis changes the DID too, but fails its signature first.
    let mut g2 = g;
    if let Operation::Plc(op) = &mut g2 {
        op.also_known_as.push("at://x.example.com".into());
    }
    assert_eq!(
        verify_log(&did, &[g2]),
        Err(PlcError::BadSignature { index: 0 })
    );
}

#[test]
fn non_rotation_key_signer_is_rejected() {
    let (g, did, data) = genesis();
    // Key 12 is the atproto signing key, not a rotation key.
    let u = Operation::update(&g, data.clone(), &key(12));
    assert_eq!(
        verify_log(&did, &[g.clone(), u]),
        Err(PlcError::BadSignature { index: 1 })
    );
    // After a rotation, the old rotation keys no longer count.
    let mut rotated = data.clone();
    rotated.rotation_keys = vec![key(20).public_key().to_did_key()];
    let u1 = Operation::update(&g, rotated, &key(10));
    let u2 = Operation::update(&u1, data, &key(10));
    assert_eq!(
        verify_log(&did, &[g, u1, u2]),
        Err(PlcError::BadSignature { index: 2 })
    );
}

#[test]
fn wrong_prev_is_rejected() {
    let (g, did, data) = genesis();
    let u1 = Operation::update(&g, data.clone(), &key(10));
    // Also built on the genesis, so its prev is not u1's CID.
    let u2 = Operation::update(&g, data.clone(), &key(10));
    assert_eq!(
        verify_log(&did, &[g.clone(), u1.clone(), u2]),
        Err(PlcError::WrongPrev {
            index: 2,
            expected: u1.cid().to_string(),
            found: Some(g.cid().to_string())
        })
    );
    // An update as genesis: it names a prev.
    let u1_did = u1.genesis_did();
    assert_eq!(
        verify_log(&u1_did, std::slice::from_ref(&u1)),
        Err(PlcError::NotGenesis("prev is not null"))
    );
    // An update whose prev is not a CID at all, or absurdly long.
    let mut long = Operation::update(&g, data.clone(), &key(10));
    if let Operation::Plc(op) = &mut long {
        op.prev = Some(format!("z{}", "1".repeat(100_000)));
    }
    assert!(matches!(
        verify_log(&did, &[g.clone(), long]),
        Err(PlcError::WrongPrev { index: 1, .. })
    ));
    let mut u3 = Operation::update(&g, data, &key(10));
    if let Operation::Plc(op) = &mut u3 {
        op.prev = Some("not-a-cid".into());
    }
    assert!(matches!(
        verify_log(&did, &[g, u3]),
        Err(PlcError::WrongPrev { index: 1, .. })
    ));
}

#[test]
fn genesis_must_hash_to_the_did() {
    let (g, _, _) = genesis();
    let other: Did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
    assert_eq!(
        verify_log(&other, std::slice::from_ref(&g)),
        Err(PlcError::GenesisHash {
            expected: other.as_str().to_owned(),
            computed: g.genesis_did().as_str().to_owned()
        })
    );
    assert_eq!(verify_log(&other, &[]), Err(PlcError::LogLength(0)));
}

#[test]
fn tombstone_ends_the_log() {
    let (g, did, data) = genesis();
    let t = Operation::tombstone(&g, &key(10));
    assert_eq!(serde_json::to_value(&t).unwrap()["type"], "plc_tombstone");
    assert_eq!(
        verify_log(&did, &[g.clone(), t.clone()]),
        Ok(PlcState::Tombstoned)
    );
    let after = Operation::update(&t, data, &key(10));
    assert_eq!(
        verify_log(&did, &[g.clone(), t.clone(), after]),
        Err(PlcError::AfterTombstone { index: 2 })
    );
    // A tombstone by a key that may not sign, and a tombstone as genesis.
    let bad = Operation::tombstone(&g, &key(12));
    assert_eq!(
        verify_log(&did, &[g, bad]),
        Err(PlcError::BadSignature { index: 1 })
    );
    assert_eq!(
        verify_log(&did, &[t]),
        Err(PlcError::NotGenesis("a tombstone"))
    );
}

#[test]
fn operation_parsing_is_strict_and_bounded() {
    let (g, _, _) = genesis();
    let mut json = serde_json::to_value(&g).unwrap();
    json["extra"] = json!(1);
    assert!(matches!(
        parse_operation(&serde_json::to_vec(&json).unwrap()),
        Err(PlcError::Json(_))
    ));
    let mut json = serde_json::to_value(&g).unwrap();
    json["type"] = json!("plc_something");
    assert!(matches!(
        parse_operation(&serde_json::to_vec(&json).unwrap()),
        Err(PlcError::Json(_))
    ));
    let big = vec![b' '; 17 * 1024];
    assert!(matches!(
        parse_operation(&big),
        Err(PlcError::TooLarge { .. })
    ));
    assert_eq!(parse_log(b"[]"), Err(PlcError::LogLength(0)));
    assert!(matches!(parse_log(b"{"), Err(PlcError::Json(_))));
}

#[test]
fn plc_data_to_document_round_trips_through_the_accessors() {
    let (_, did, data) = genesis();
    let doc = data.to_did_document(&did);
    assert_eq!(doc.signing_key().unwrap(), key(12).public_key());
    assert_eq!(doc.handle().unwrap().as_str(), "alice.example.com");
    assert_eq!(doc.pds_endpoint().unwrap(), "https://pds.example.com");
    assert!(doc.context.iter().any(|c| c.ends_with("secp256k1-2019/v1")));
    let _ = PublicKey::from_did_key(&data.rotation_keys[0]).unwrap();
}

#[test]
fn rotation_keys_are_bounded_and_must_parse() {
    let (g, did, data) = genesis();
    let mut many = data.clone();
    many.rotation_keys = (0..11u8)
        .map(|i| key(30 + i).public_key().to_did_key())
        .collect();
    let u1 = Operation::update(&g, many, &key(10));
    let u2 = Operation::update(&u1, data.clone(), &key(30));
    assert_eq!(
        verify_log(&did, &[g.clone(), u1, u2]),
        Err(PlcError::TooManyRotationKeys {
            index: 2,
            count: 11
        })
    );
    let mut bad = data.clone();
    bad.rotation_keys = vec!["did:key:zBad".into(), key(10).public_key().to_did_key()];
    let u1 = Operation::update(&g, bad, &key(10));
    let u2 = Operation::update(&u1, data, &key(10));
    assert!(matches!(
        verify_log(&did, &[g, u1, u2]),
        Err(PlcError::BadRotationKey { index: 2, .. })
    ));
}
