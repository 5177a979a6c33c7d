//! Tests for atproto-core's data model module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use atproto_core::Cid;
use atproto_core::data::cbor::{self, CborErrorKind as K};
use atproto_core::data::json::{self, JsonErrorKind};
use atproto_core::data::{
    BlobForm, BlobRef, CidError, CidErrorKind, CidField, DAG_CBOR_CODEC, Limits, RAW_CODEC, Value,
    dag_cbor_cid, is_atproto_cid, raw_cid, write_cid,
};
use atproto_core::varint::VarintError;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn cases(rel: &str) -> Vec<serde_json::Value> {
    match super::interop::json(rel) {
        serde_json::Value::Array(a) => a,
        other => panic!("{rel}: expected an array, got {other}"),
    }
}

// ---------------------------------------------------------------- interop

#[test]
fn fixtures_round_trip() {
    let cases = cases("data-model/data-model-fixtures.json");
    assert_eq!(cases.len(), 3);
    for (i, case) in cases.iter().enumerate() {
        let expected_cbor = B64.decode(case["cbor_base64"].as_str().unwrap()).unwrap();
        let expected_cid = case["cid"].as_str().unwrap();

        // JSON → CBOR, byte for byte.
        let value = json::from_json(&case["json"]).unwrap_or_else(|e| panic!("case {i}: {e}"));
        let cbor = value.to_dag_cbor();
        assert_eq!(cbor, expected_cbor, "case {i}: JSON → CBOR");
        assert_eq!(value.cid().to_string(), expected_cid, "case {i}: CID");
        assert_eq!(dag_cbor_cid(&expected_cbor).to_string(), expected_cid);

        // CBOR → JSON, through the strict decoder (copying and zero-copy).
        let decoded = cbor::decode(&expected_cbor).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(decoded, value, "case {i}: decoded value");
        let zero_copy = cbor::decode_bytes(&Bytes::from(expected_cbor.clone())).unwrap();
        assert_eq!(zero_copy, value);
        assert_eq!(
            json::to_json(&decoded),
            case["json"],
            "case {i}: CBOR → JSON"
        );
        let text = json::to_string(&decoded);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            case["json"]
        );
    }
}

#[test]
fn fixture_blob_is_a_blob_value() {
    let cases = cases("data-model/data-model-fixtures.json");
    let v = json::from_json(&cases[1]["json"]).unwrap();
    let blob = v.get("c").and_then(Value::as_blob).expect("blob");
    assert_eq!(blob.mime_type, "image/jpeg");
    assert_eq!(blob.size, 10000);
    assert_eq!(blob.cid.codec(), RAW_CODEC);
    assert!(is_atproto_cid(&blob.cid));
    assert_eq!(v.get("c").unwrap().type_name(), "blob");
    assert_eq!(
        v.get("a").unwrap().as_link().unwrap().codec(),
        DAG_CBOR_CODEC
    );
}

#[test]
fn valid_json_accepted() {
    let cases = cases("data-model/data-model-valid.json");
    assert!(!cases.is_empty());
    for case in &cases {
        let text = serde_json::to_string(&case["json"]).unwrap();
        json::record_from_str(&text).unwrap_or_else(|e| panic!("{}: rejected: {e}", case["note"]));
        json::record_from_json(&case["json"]).unwrap();
    }
    println!("data-model-valid.json: {} accepted", cases.len());
}

#[test]
fn invalid_json_rejected() {
    let cases = cases("data-model/data-model-invalid.json");
    assert!(!cases.is_empty());
    for case in &cases {
        let text = serde_json::to_string(&case["json"]).unwrap();
        let err = json::record_from_str(&text);
        assert!(err.is_err(), "{}: accepted {text}", case["note"]);
        assert!(json::record_from_json(&case["json"]).is_err());
        println!("rejected {}: {}", case["note"], err.unwrap_err());
    }
    println!("data-model-invalid.json: {} rejected", cases.len());
}

#[test]
fn integer_like_float_reads_as_integer() {
    let v = json::from_str(r#"{"a": 123.0, "b": -0.0, "c": 1e2}"#).unwrap();
    assert_eq!(v.get("a"), Some(&Value::Integer(123)));
    assert_eq!(v.get("b"), Some(&Value::Integer(0)));
    assert_eq!(v.get("c"), Some(&Value::Integer(100)));
    let e = json::from_str(r#"{"rcrd": {"a": 123.456}}"#).unwrap_err();
    assert_eq!(e.kind(), &JsonErrorKind::Float);
    assert_eq!(e.path(), "/rcrd/a");
    assert_eq!(
        e.to_string(),
        "/rcrd/a: floats are not allowed in the data model"
    );
    let e = json::from_str(r#"{"x": [1, {"a/b": 1.5}]}"#).unwrap_err();
    assert_eq!(e.path(), "/x/1/a~1b");
    // Full i64 range accepted, beyond it rejected.
    let v = json::from_str("9223372036854775807").unwrap();
    assert_eq!(v, Value::Integer(i64::MAX));
    let e = json::from_str("9223372036854775808").unwrap_err();
    assert_eq!(e.kind(), &JsonErrorKind::IntegerOutOfRange);
    assert_eq!(
        json::from_str("1e300").unwrap_err().kind(),
        &JsonErrorKind::IntegerOutOfRange
    );
}

#[test]
fn json_bytes_are_lenient_on_read_unpadded_on_write() {
    for s in ["AQID", "AQI", "AQI=", "123"] {
        let v = json::from_str(&format!(r#"{{"$bytes": "{s}"}}"#))
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(v.as_bytes().is_some());
    }
    let v = json::from_str(r#"{"$bytes": "AQI="}"#).unwrap();
    assert_eq!(v.as_bytes().unwrap().as_ref(), &[1, 2]);
    assert_eq!(json::to_string(&v), r#"{"$bytes":"AQI"}"#);
    assert_eq!(
        json::from_str(r#"{"$bytes": "A*"}"#).unwrap_err().kind(),
        &JsonErrorKind::InvalidBytes
    );
}

#[test]
fn json_limits() {
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    json::from_str(&deep(32)).unwrap();
    assert_eq!(
        json::from_str(&deep(33)).unwrap_err().kind(),
        &JsonErrorKind::TooDeep
    );
    let long_key = format!(r#"{{"{}": 1}}"#, "k".repeat(8193));
    assert_eq!(
        json::from_str(&long_key).unwrap_err().kind(),
        &JsonErrorKind::KeyTooLong
    );
    let small = Limits {
        max_container_len: 2,
        ..Limits::DEFAULT
    };
    assert_eq!(
        json::from_slice_with(b"[1,2,3]", &small)
            .unwrap_err()
            .kind(),
        &JsonErrorKind::TooManyElements
    );
    let big = format!("\"{}\"", "x".repeat(2 * 1024 * 1024));
    assert_eq!(
        json::record_from_str(&big).unwrap_err().kind(),
        &JsonErrorKind::TooLarge
    );
}

// ---------------------------------------------------------------- blobs

#[test]
fn legacy_blob_stays_a_map_and_reads_as_blob() {
    let text = r#"{"cid": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity", "mimeType": "image/png"}"#;
    let v = json::from_str(text).unwrap();
    assert!(v.as_map().is_some());
    let (blob, form) = BlobRef::from_value_with_form(&v).unwrap();
    assert_eq!(form, BlobForm::Legacy);
    assert_eq!(blob.mime_type, "image/png");
    assert_eq!(blob.size, 0);
    assert_eq!(BlobRef::try_from(&v).unwrap(), blob);
    assert!(BlobRef::try_from(&Value::Null).is_err());
    // Serde reads both forms and writes only the current one.
    let de: BlobRef = serde_json::from_str(text).unwrap();
    assert_eq!(de, blob);
    let out = serde_json::to_value(&de).unwrap();
    assert_eq!(out["$type"], "blob");
    assert_eq!(json::to_json(&Value::Blob(de)), out);
}

#[test]
fn blob_bytes_round_trip_and_extra_keys_stay_map() {
    let cid = raw_cid(b"hello");
    let blob = Value::Blob(BlobRef::new(cid, "text/plain", 5));
    let bytes = blob.to_dag_cbor();
    assert_eq!(
        bytes,
        Value::Map(BlobRef::new(cid, "text/plain", 5).to_map()).to_dag_cbor()
    );
    assert_eq!(cbor::decode(&bytes).unwrap(), blob);
    let mut m = BlobRef::new(cid, "text/plain", 5).to_map();
    m.insert("extra".into(), Value::Null);
    let v = Value::Map(m);
    assert_eq!(cbor::decode(&v.to_dag_cbor()).unwrap(), v);
    assert_eq!(json::from_json(&json::to_json(&v)).unwrap(), v);
    // A `$type: blob` map with a mistyped field is rejected by both decoders.
    let mut bad = BlobRef::new(cid, "text/plain", 5).to_map();
    bad.insert("size".into(), Value::String("5".into()));
    let bad = Value::Map(bad);
    assert!(matches!(
        cbor::decode(&bad.to_dag_cbor()).unwrap_err().kind(),
        K::InvalidBlob(_)
    ));
    assert!(matches!(
        json::from_json(&json::to_json(&bad)).unwrap_err().kind(),
        JsonErrorKind::InvalidBlob(_)
    ));
}

// ---------------------------------------------------------------- strict decoder corpus

/// Bytes from hex digits, with whitespace between them ignored.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn cid_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    write_cid(&dag_cbor_cid(b"x"), &mut out);
    out
}

fn link_with_payload(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xd8, 0x2a, 0x58, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

fn text_map(key: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0xa1, 0x60 | key.len() as u8];
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(value);
    out
}

/// Inputs the strict decoder must reject, with the kind it must report.
fn malformed_corpus() -> Vec<(&'static str, Vec<u8>, K)> {
    let mut cid_no_prefix = cid_bytes();
    cid_no_prefix.insert(0, 0x01);
    let mut cid_v0 = vec![0x00, 0x12, 0x20];
    cid_v0.extend_from_slice(&[7; 32]);
    let mut cid_trailing = vec![0x00];
    cid_trailing.extend_from_slice(&cid_bytes());
    cid_trailing.push(0x00);
    let mut tag42_text = vec![0xd8, 0x2a, 0x78, 37, 0x00];
    tag42_text.extend_from_slice(&cid_bytes());

    let corpus: Vec<(&'static str, Vec<u8>, K)> = vec![
        ("f16", hex("f9 3c00"), K::Float),
        ("f32", hex("fa 3f800000"), K::Float),
        ("f64", hex("fb 3ff0000000000000"), K::Float),
        ("float in map", hex("a1 6161 fb 3ff0000000000000"), K::Float),
        ("indefinite array", hex("9f 01 ff"), K::IndefiniteLength),
        ("indefinite map", hex("bf 6161 01 ff"), K::IndefiniteLength),
        ("indefinite text", hex("7f 6161 ff"), K::IndefiniteLength),
        ("indefinite bytes", hex("5f 4100 ff"), K::IndefiniteLength),
        ("int 1-byte form", hex("18 17"), K::NonCanonicalInteger),
        ("int 2-byte form", hex("19 00ff"), K::NonCanonicalInteger),
        (
            "int 4-byte form",
            hex("1a 0000ffff"),
            K::NonCanonicalInteger,
        ),
        (
            "int 8-byte form",
            hex("1b 00000000ffffffff"),
            K::NonCanonicalInteger,
        ),
        (
            "negative int long form",
            hex("38 00"),
            K::NonCanonicalInteger,
        ),
        (
            "text length long form",
            hex("78 01 61"),
            K::NonCanonicalInteger,
        ),
        (
            "bytes length long form",
            hex("59 0001 00"),
            K::NonCanonicalInteger,
        ),
        (
            "array length long form",
            hex("98 01 01"),
            K::NonCanonicalInteger,
        ),
        (
            "map length long form",
            hex("b8 01 6161 01"),
            K::NonCanonicalInteger,
        ),
        (
            "tag number long form",
            hex("d9 002a 40"),
            K::NonCanonicalInteger,
        ),
        (
            "unsorted keys",
            hex("a2 6162 01 6161 02"),
            K::UnsortedMapKeys,
        ),
        (
            "longer key first",
            hex("a2 626161 01 6162 02"),
            K::UnsortedMapKeys,
        ),
        (
            "duplicate keys",
            hex("a2 6161 01 6161 02"),
            K::DuplicateMapKey,
        ),
        ("int key", hex("a1 01 02"), K::NonStringMapKey),
        ("bytes key", hex("a1 4161 02"), K::NonStringMapKey),
        ("tag 0", hex("c0 60"), K::UnsupportedTag(0)),
        ("tag 1", hex("c1 01"), K::UnsupportedTag(1)),
        ("tag 43", hex("d8 2b 40"), K::UnsupportedTag(43)),
        ("tag 42 on a string", tag42_text, K::InvalidCid),
        (
            "tag 42 without 0x00",
            link_with_payload(&cid_no_prefix[1..]),
            K::InvalidCid,
        ),
        (
            "tag 42 with 0x01 prefix",
            link_with_payload(&cid_no_prefix),
            K::InvalidCid,
        ),
        ("tag 42 empty", hex("d8 2a 40"), K::InvalidCid),
        (
            "bad CID",
            hex("d8 2a 42 00ff"),
            K::MalformedCid(CidError::new(
                CidErrorKind::Varint {
                    field: CidField::Version,
                    error: VarintError::Truncated,
                },
                0,
            )),
        ),
        (
            "CIDv0 in link",
            link_with_payload(&cid_v0),
            K::MalformedCid(CidError::new(CidErrorKind::V0, 0)),
        ),
        (
            "CID with trailing bytes",
            link_with_payload(&cid_trailing),
            K::MalformedCid(CidError::new(
                CidErrorKind::DigestLength {
                    declared: 32,
                    present: 33,
                },
                3,
            )),
        ),
        ("undefined", hex("f7"), K::InvalidSimpleValue),
        ("simple value 0xf0", hex("f0"), K::InvalidSimpleValue),
        (
            "simple value 0xf8 0x20",
            hex("f8 20"),
            K::InvalidSimpleValue,
        ),
        ("stray break", hex("ff"), K::InvalidHeader),
        ("reserved info 28", hex("1c"), K::InvalidHeader),
        (
            "array of 2^32 elements",
            hex("9b 0000000100000000 01 02 03"),
            K::TooManyElements,
        ),
        (
            "bytes of 2^32",
            hex("5b 0000000100000000 01 02 03"),
            K::UnexpectedEof,
        ),
        (
            "text of 2^64-1",
            hex("7b ffffffffffffffff 61"),
            K::UnexpectedEof,
        ),
        (
            "array longer than input",
            hex("99 ffff 01 02 03"),
            K::UnexpectedEof,
        ),
        ("map longer than input", hex("a3 6161 01"), K::UnexpectedEof),
        (
            "depth 33",
            [vec![0x81; 33], vec![0x01]].concat(),
            K::TooDeep,
        ),
        (
            "depth 33 maps",
            [[0xa1, 0x61, 0x61].repeat(33), vec![0x01]].concat(),
            K::TooDeep,
        ),
        ("trailing bytes", hex("01 02"), K::TrailingBytes),
        ("trailing after map", hex("a0 00"), K::TrailingBytes),
        ("invalid UTF-8", hex("62 c328"), K::InvalidUtf8),
        ("invalid UTF-8 key", hex("a1 61ff 01"), K::InvalidUtf8),
        (
            "negative int -2^64",
            hex("3b ffffffffffffffff"),
            K::IntegerOverflow,
        ),
        (
            "negative int -2^63-1",
            hex("3b 8000000000000000"),
            K::IntegerOverflow,
        ),
        (
            "positive int 2^63",
            hex("1b 8000000000000000"),
            K::IntegerOverflow,
        ),
        ("empty input", vec![], K::UnexpectedEof),
        ("empty $type", text_map("$type", &[0x60]), K::InvalidType),
        ("null $type", text_map("$type", &[0xf6]), K::InvalidType),
        (
            "key too long",
            [hex("a1 79 2001"), vec![b'k'; 8193], vec![0x01]].concat(),
            K::KeyTooLong,
        ),
    ];
    corpus
}

#[test]
fn malformed_cbor_corpus() {
    let corpus = malformed_corpus();
    assert!(corpus.len() >= 25);
    for (name, bytes, kind) in &corpus {
        match cbor::decode(bytes) {
            Ok(v) => panic!("{name}: accepted as {v:?}"),
            Err(e) => assert_eq!(e.kind(), kind, "{name}: {e}"),
        }
        // The zero-copy path agrees.
        let e = cbor::decode_bytes(&Bytes::from(bytes.clone())).unwrap_err();
        assert_eq!(e.kind(), kind, "{name} (decode_bytes)");
    }
    println!("malformed CBOR corpus: {} cases rejected", corpus.len());
}

#[test]
fn edge_values_accepted() {
    assert_eq!(
        cbor::decode(&hex("3b 7fffffffffffffff")).unwrap(),
        Value::Integer(i64::MIN)
    );
    assert_eq!(
        cbor::decode(&hex("1b 7fffffffffffffff")).unwrap(),
        Value::Integer(i64::MAX)
    );
    assert!(cbor::decode(&[[0x81; 32].as_slice(), &[0x01]].concat()).is_ok());
    let bytes = Value::Integer(i64::MIN).to_dag_cbor();
    assert_eq!(bytes, hex("3b 7fffffffffffffff"));
}

#[test]
fn huge_lengths_do_not_allocate_under_loose_limits() {
    // With the element limit lifted, the length check against the remaining
    // input must still stop a 2^32-element array before any allocation.
    let loose = Limits {
        max_container_len: usize::MAX,
        ..Limits::DEFAULT
    };
    let e = cbor::decode_with(&hex("9b 0000000100000000 010203"), &loose).unwrap_err();
    assert_eq!(e.kind(), &K::UnexpectedEof);
    let e = cbor::decode_with(&hex("ba ffffffff 010203"), &loose).unwrap_err();
    assert_eq!(e.kind(), &K::UnexpectedEof);
}

#[test]
fn limits_are_enforced() {
    let doc = hex("83 01 02 03");
    let tiny = Limits {
        max_size: 3,
        ..Limits::DEFAULT
    };
    assert_eq!(
        cbor::decode_with(&doc, &tiny).unwrap_err().kind(),
        &K::TooLarge
    );
    let short = Limits {
        max_container_len: 2,
        ..Limits::DEFAULT
    };
    assert_eq!(
        cbor::decode_with(&doc, &short).unwrap_err().kind(),
        &K::TooManyElements
    );
    let shallow = Limits {
        max_depth: 1,
        ..Limits::DEFAULT
    };
    assert_eq!(
        cbor::decode_with(&hex("81 81 01"), &shallow)
            .unwrap_err()
            .kind(),
        &K::TooDeep
    );
    let cid_small = Limits {
        max_cid_len: 35,
        ..Limits::DEFAULT
    };
    let link = Value::Link(dag_cbor_cid(b"x")).to_dag_cbor();
    cbor::decode(&link).unwrap();
    assert_eq!(
        cbor::decode_with(&link, &cid_small).unwrap_err().kind(),
        &K::InvalidCid
    );
    assert_eq!(Limits::RECORD.max_size, 1024 * 1024);
    assert_eq!(Limits::DEFAULT.max_size, 5 * 1024 * 1024);
}

#[test]
fn every_truncation_is_rejected() {
    for case in cases("data-model/data-model-fixtures.json") {
        let full = B64.decode(case["cbor_base64"].as_str().unwrap()).unwrap();
        cbor::decode(&full).unwrap();
        for n in 0..full.len() {
            let e = cbor::decode(&full[..n]).unwrap_err();
            assert_eq!(e.kind(), &K::UnexpectedEof, "prefix of {n} bytes");
        }
    }
}

// ---------------------------------------------------------------- validate-only path

/// `validate` and `validate_record` agree with `decode_with`: same success,
/// same error kind at the same offset.
fn validate_agrees(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    let value = cbor::decode_with(bytes, limits);
    // The borrowed decoder: the same value or the same error.
    let borrowed = cbor::decode_ref_with(bytes, limits).map(|v| v.to_value());
    if borrowed != value {
        return Err(format!(
            "decode_ref_with {borrowed:?} != decode_with {value:?} on {bytes:02x?}"
        ));
    }
    let prefix = cbor::decode_prefix_with(bytes, limits);
    let borrowed = cbor::decode_ref_prefix_with(bytes, limits).map(|(v, n)| (v.to_value(), n));
    if borrowed != prefix {
        return Err(format!(
            "decode_ref_prefix_with {borrowed:?} != decode_prefix_with {prefix:?} on {bytes:02x?}"
        ));
    }
    let decoded = value.map(|_| ());
    let validated = cbor::validate(bytes, limits);
    if decoded != validated {
        return Err(format!(
            "validate {validated:?} != decode_with {decoded:?} on {bytes:02x?}"
        ));
    }
    let record = cbor::validate_record(bytes, limits);
    let expected = match bytes.first() {
        Some(b) if b >> 5 != 5 => Err(cbor::CborError::new(K::InvalidType, 0)),
        _ => validated,
    };
    if record != expected {
        return Err(format!(
            "validate_record {record:?} != {expected:?} on {bytes:02x?}"
        ));
    }
    Ok(())
}

const AGREEMENT_LIMITS: [Limits; 5] = [
    Limits::DEFAULT,
    Limits::RECORD,
    Limits {
        max_size: 3,
        ..Limits::DEFAULT
    },
    Limits {
        max_depth: 1,
        max_container_len: 2,
        ..Limits::DEFAULT
    },
    Limits {
        max_key_len: 2,
        max_cid_len: 35,
        ..Limits::DEFAULT
    },
];

#[test]
fn validate_agrees_on_malformed_corpus() {
    let corpus = malformed_corpus();
    for (name, bytes, kind) in &corpus {
        let e = cbor::validate(bytes, &Limits::DEFAULT).unwrap_err();
        assert_eq!(e.kind(), kind, "{name}: {e}");
        for limits in &AGREEMENT_LIMITS {
            validate_agrees(bytes, limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    println!("validate agrees on {} malformed inputs", corpus.len());
}

#[test]
fn validate_agrees_on_fixtures_and_every_truncation() {
    let mut checked = 0;
    for case in cases("data-model/data-model-fixtures.json") {
        let full = B64.decode(case["cbor_base64"].as_str().unwrap()).unwrap();
        cbor::validate(&full, &Limits::DEFAULT).unwrap();
        cbor::validate_record(&full, &Limits::RECORD).unwrap();
        for n in 0..=full.len() {
            for limits in &AGREEMENT_LIMITS {
                validate_agrees(&full[..n], limits)
                    .unwrap_or_else(|e| panic!("prefix of {n} bytes: {e}"));
                checked += 1;
            }
        }
    }
    println!("validate agrees on {checked} fixture prefixes × limits");
}

#[test]
fn validate_record_requires_a_map() {
    let record = Limits::RECORD;
    cbor::validate_record(&hex("a0"), &record).unwrap();
    cbor::validate(&hex("01"), &record).unwrap();
    for not_a_map in [hex("01"), hex("80"), hex("60"), hex("f6"), hex("ff")] {
        let e = cbor::validate_record(&not_a_map, &record).unwrap_err();
        assert_eq!(
            (e.kind(), e.offset()),
            (&K::InvalidType, 0),
            "{not_a_map:02x?}"
        );
    }
    // The first-byte check comes before the size check; empty input is EOF.
    let big = [vec![0x5a, 0, 0x10, 0, 0], vec![0; 0x10_0000]].concat();
    assert_eq!(
        cbor::validate(&big, &record).unwrap_err().kind(),
        &K::TooLarge
    );
    assert_eq!(
        cbor::validate_record(&big, &record).unwrap_err().kind(),
        &K::InvalidType
    );
    let e = cbor::validate_record(&[], &record).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&K::UnexpectedEof, 0));
    // Errors inside a map are the decoder's, offsets included.
    let e = cbor::validate_record(&hex("a1 6161 18 05"), &record).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&K::NonCanonicalInteger, 3));
    let e = cbor::validate_record(&hex("a0 00"), &record).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&K::TrailingBytes, 1));
}

#[test]
fn validate_checks_blobs_and_type_like_decode() {
    let cid = raw_cid(b"hello");
    let good = BlobRef::new(cid, "text/plain", 5).to_map();
    let mut cases: Vec<BTreeMap<String, Value>> = vec![good.clone()];
    for key in ["ref", "mimeType", "size"] {
        let mut m = good.clone();
        m.remove(key);
        cases.push(m);
        for bad in [
            Value::Null,
            Value::Integer(-1),
            Value::from(""),
            Value::from("blob"),
            Value::Link(cid),
            Value::Blob(BlobRef::new(cid, "a/b", 1)),
        ] {
            let mut m = good.clone();
            m.insert(key.into(), bad);
            cases.push(m);
        }
    }
    for ty in [
        Value::from(""),
        Value::Integer(1),
        Value::from("x"),
        Value::Null,
    ] {
        let mut m = good.clone();
        m.insert("$type".into(), ty);
        cases.push(m);
    }
    let mut extra = good.clone();
    extra.insert("extra".into(), Value::Null);
    cases.push(extra);
    let mut rejected = 0;
    for m in cases {
        let bytes = Value::Map(m).to_dag_cbor();
        validate_agrees(&bytes, &Limits::DEFAULT).unwrap();
        // Nested, so that errors are reported past offset 0.
        let nested = [vec![0x82, 0x01], bytes.clone()].concat();
        validate_agrees(&nested, &Limits::DEFAULT).unwrap();
        let in_map = [vec![0xa1, 0x61, b'a'], bytes.clone()].concat();
        validate_agrees(&in_map, &Limits::DEFAULT).unwrap();
        rejected += usize::from(cbor::validate(&bytes, &Limits::DEFAULT).is_err());
    }
    assert!(rejected >= 10, "only {rejected} rejected");
}

#[test]
fn error_display_names_offset() {
    let e = cbor::decode(&hex("a1 6161 18 05")).unwrap_err();
    assert_eq!(e.kind(), &K::NonCanonicalInteger);
    assert_eq!(e.offset(), 3);
    assert_eq!(e.to_string(), "non-canonical integer encoding at byte 3");
}

#[test]
fn decode_bytes_is_zero_copy() {
    let v = Value::Array(vec![Value::Bytes(Bytes::from_static(b"hello world"))]);
    let input = Bytes::from(v.to_dag_cbor());
    let out = cbor::decode_bytes(&input).unwrap();
    let b = out.as_array().unwrap()[0].as_bytes().unwrap();
    assert_eq!(b.as_ref(), b"hello world");
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    assert!(
        range.contains(&(b.as_ptr() as usize)),
        "not a slice of the input"
    );
}

#[test]
fn cid_helpers() {
    let c = dag_cbor_cid(b"");
    assert!(c.to_string().starts_with("bafyrei"));
    assert!(raw_cid(b"").to_string().starts_with("bafkrei"));
    assert!(is_atproto_cid(&c));
    let v0 = Cid::try_from("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n").unwrap();
    assert!(!is_atproto_cid(&v0));
    // The empty MST node from SPEC-NOTES §4.
    let mut m = BTreeMap::new();
    m.insert("l".to_string(), Value::Null);
    m.insert("e".to_string(), Value::Array(vec![]));
    assert_eq!(
        Value::Map(m).cid().to_string(),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
}

// ---------------------------------------------------------------- typed serde path

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Post {
    #[serde(rename = "$type")]
    ty: String,
    text: String,
    #[serde(rename = "createdAt")]
    created_at: String,
    langs: Vec<String>,
    #[serde(rename = "replyCount")]
    reply_count: i64,
    parent: Option<Cid>,
    image: BlobRef,
}

#[test]
fn typed_serde_round_trip_matches_value_encoding() {
    let post = Post {
        ty: "app.bsky.feed.post".into(),
        text: "hello 👋".into(),
        created_at: "2024-01-01T00:00:00.000Z".into(),
        langs: vec!["en".into(), "fr".into()],
        reply_count: -3,
        parent: Some(dag_cbor_cid(b"parent")),
        image: BlobRef::new(raw_cid(b"img"), "image/png", 1234),
    };
    let bytes = cbor::to_vec(&post).unwrap();

    let mut m = BTreeMap::new();
    m.insert("$type".to_string(), Value::from("app.bsky.feed.post"));
    m.insert("text".to_string(), Value::from("hello 👋"));
    m.insert(
        "createdAt".to_string(),
        Value::from("2024-01-01T00:00:00.000Z"),
    );
    m.insert(
        "langs".to_string(),
        Value::Array(vec!["en".into(), "fr".into()]),
    );
    m.insert("replyCount".to_string(), Value::Integer(-3));
    m.insert("parent".to_string(), Value::Link(dag_cbor_cid(b"parent")));
    m.insert(
        "image".to_string(),
        Value::Blob(BlobRef::new(raw_cid(b"img"), "image/png", 1234)),
    );
    let value = Value::Map(m);

    assert_eq!(
        bytes,
        cbor::encode(&value),
        "serde bytes differ from the canonical encoder"
    );
    assert_eq!(cbor::decode(&bytes).unwrap(), value);
    let back: Post = cbor::from_slice(&bytes).unwrap();
    assert_eq!(back, post);
    // Value itself serializes identically through serde_ipld_dagcbor.
    assert_eq!(cbor::to_vec(&value).unwrap(), bytes);
    // Typed errors are mapped into CborError.
    let e = cbor::from_slice::<Post>(&hex("a0")).unwrap_err();
    assert!(matches!(e.kind(), K::Serde(_)), "{e}");
}

// ---------------------------------------------------------------- properties

fn arb_cid() -> impl Strategy<Value = Cid> {
    (any::<[u8; 16]>(), any::<bool>()).prop_map(|(seed, raw)| {
        if raw {
            raw_cid(&seed)
        } else {
            dag_cbor_cid(&seed)
        }
    })
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        (-30i64..30).prop_map(Value::Integer),
        "\\PC{0,12}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::Bytes(Bytes::from(b))),
        arb_cid().prop_map(Value::Link),
        (
            arb_cid(),
            "[a-z]{1,8}/[a-z0-9.+-]{1,12}",
            0..=i64::MAX as u64
        )
            .prop_map(|(cid, mime, size)| Value::Blob(BlobRef::new(cid, mime, size))),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z0-9_é😀]{0,10}", inner, 0..8)
                .prop_map(Value::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn cbor_round_trip(v in arb_value()) {
        let bytes = cbor::encode(&v);
        let back = cbor::decode(&bytes);
        prop_assert!(back.is_ok(), "strict decoder rejected encoder output: {:?}", back);
        prop_assert_eq!(back.unwrap(), v.clone());
        let zero_copy = cbor::decode_bytes(&Bytes::from(bytes.clone())).unwrap();
        prop_assert_eq!(&zero_copy, &v);
        // The hand-written encoder agrees with serde_ipld_dagcbor.
        prop_assert_eq!(cbor::to_vec(&v).unwrap(), bytes);
    }

    #[test]
    fn json_round_trip(v in arb_value()) {
        let back = json::from_json(&json::to_json(&v));
        prop_assert!(back.is_ok(), "{:?}", back);
        prop_assert_eq!(back.unwrap(), v.clone());
        let text = json::to_string(&v);
        prop_assert_eq!(json::from_str(&text).unwrap(), v);
    }

    #[test]
    fn validate_agrees_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for limits in &AGREEMENT_LIMITS {
            prop_assert_eq!(validate_agrees(&bytes, limits), Ok(()));
        }
    }

    #[test]
    fn validate_agrees_on_encoder_output(
        v in arb_value(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = cbor::encode(&v);
        prop_assert_eq!(cbor::validate(&bytes, &Limits::DEFAULT), Ok(()));
        for limits in &AGREEMENT_LIMITS {
            prop_assert_eq!(validate_agrees(&bytes, limits), Ok(()));
        }
        // One byte changed, and a truncation.
        let mut changed = bytes.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        prop_assert_eq!(validate_agrees(&changed, &Limits::DEFAULT), Ok(()));
        prop_assert_eq!(validate_agrees(&bytes[..cut.index(bytes.len())], &Limits::DEFAULT), Ok(()));
    }

    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = cbor::decode(&bytes) {
            // Anything accepted is canonical: it re-encodes to the same bytes.
            prop_assert_eq!(cbor::encode(&v), bytes);
        }
    }
}

#[test]
fn value_ref_borrows_from_the_input_and_converts_like_decode() {
    use atproto_core::data::cbor::ValueRef;
    let cid = dag_cbor_cid(b"x");
    let blob = Value::Blob(BlobRef::new(cid, "image/png", 7));
    let v = Value::Map(BTreeMap::from([
        (
            "b".to_string(),
            Value::Bytes(Bytes::from_static(b"\x01\x02\x03")),
        ),
        ("s".to_string(), Value::String("hé".into())),
        ("blob".to_string(), blob.clone()),
        (
            "list".to_string(),
            Value::Array(vec![Value::Null, Value::Bool(true), Value::Link(cid)]),
        ),
    ]));
    let src = Bytes::from(cbor::encode(&v));
    let r = cbor::decode_ref_with(&src, &Limits::DEFAULT).unwrap();
    let ValueRef::Map(entries) = &r else {
        panic!("not a map: {r:?}")
    };
    // Entries in canonical key order; strings and bytes point into `src`.
    let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["b", "s", "blob", "list"]);
    let ValueRef::Bytes(b) = &entries[0].1 else {
        panic!("not bytes")
    };
    assert_eq!(*b, b"\x01\x02\x03");
    assert!(src.as_ptr_range().contains(&b.as_ptr()));
    assert_eq!(entries[1].1, ValueRef::String("hé"));
    assert!(matches!(entries[2].1, ValueRef::Blob(_)));
    assert_eq!(entries[2].1.to_value(), blob);
    // Converted: equal to the owned decoders' values; `to_value_in` slices
    // `src`, `to_value` copies.
    assert_eq!(r.to_value(), v);
    assert_eq!(r.to_value_in(&src), cbor::decode_bytes(&src).unwrap());
    let Value::Map(m) = r.to_value_in(&src) else {
        panic!("not a map")
    };
    let Some(Value::Bytes(sliced)) = m.get("b") else {
        panic!("no bytes")
    };
    assert_eq!(sliced.as_ptr(), b.as_ptr());
    let Value::Map(m) = r.to_value() else {
        panic!("not a map")
    };
    let Some(Value::Bytes(copied)) = m.get("b") else {
        panic!("no bytes")
    };
    assert_ne!(copied.as_ptr(), b.as_ptr());
    // Bytes outside the buffer given are copied, not sliced.
    let other = Bytes::from_static(b"unrelated");
    assert_eq!(r.to_value_in(&other), v);
}

#[test]
fn decode_prefix_reads_one_item_and_reports_its_length() {
    use atproto_core::data::{CborErrorKind, Limits, cbor};
    // {"a": 1} then a stray byte: the prefix decoder stops after the map.
    let bytes = [0xa1, 0x61, b'a', 0x01, 0xff];
    let (v, used) = cbor::decode_prefix_with(&bytes, &Limits::DEFAULT).unwrap();
    assert_eq!(used, 4);
    assert_eq!(v.get("a").and_then(Value::as_i64), Some(1));
    // The whole-input decoder refuses the same bytes.
    assert_eq!(
        cbor::decode(&bytes).unwrap_err().kind(),
        &CborErrorKind::TrailingBytes
    );
    // Canonical-form rules still hold inside the item.
    let err = cbor::decode_prefix_with(&[0x18, 0x01, 0x00], &Limits::DEFAULT).unwrap_err();
    assert_eq!(err.kind(), &CborErrorKind::NonCanonicalInteger);
    let err = cbor::decode_prefix_with(&[0xa1, 0x61], &Limits::DEFAULT).unwrap_err();
    assert_eq!(err.kind(), &CborErrorKind::UnexpectedEof);
}
