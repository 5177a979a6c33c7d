//! The one-pass JSON parser (`json::from_slice_with`) against a reference: the
//! previous implementation (`serde_json::Value` first, then a conversion),
//! kept here verbatim. Both must give the same value, or the same error kind
//! at the same path, on any text without repeated keys; repeated keys are
//! rejected by the parser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use atproto_core::data::json::{self, JsonErrorKind as K};
use atproto_core::data::{BlobRef, Limits, Value, dag_cbor_cid, raw_cid};
use atproto_core::syntax::CidString;
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use cid::Cid;
use proptest::prelude::*;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

// ---------------------------------------------------------------- reference

/// An error as (kind, JSON Pointer).
type Error = (K, String);

/// The parser's result in comparable form.
fn direct(text: &[u8], limits: &Limits) -> Result<Value, Error> {
    json::from_slice_with(text, limits).map_err(|e| (e.kind().clone(), e.path().to_owned()))
}

/// `from_json_with` on the text parsed by `serde_json`.
fn via_json(text: &[u8], limits: &Limits) -> Result<Value, Error> {
    if text.len() > limits.max_size {
        return Err((K::TooLarge, String::new()));
    }
    let json: Json =
        serde_json::from_slice(text).map_err(|e| (K::Syntax(e.to_string()), String::new()))?;
    json::from_json_with(&json, limits).map_err(|e| (e.kind().clone(), e.path().to_owned()))
}

/// The implementation before the one-pass parser, verbatim but for the
/// error type.
fn reference(text: &[u8], limits: &Limits) -> Result<Value, Error> {
    if text.len() > limits.max_size {
        return Err((K::TooLarge, String::new()));
    }
    let json: Json =
        serde_json::from_slice(text).map_err(|e| (K::Syntax(e.to_string()), String::new()))?;
    convert(&json, 0, limits)
}

const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const MAX_SAFE_FLOAT: f64 = 9_007_199_254_740_992.0;

fn err(kind: K) -> Error {
    (kind, String::new())
}

fn within((kind, path): Error, segment: &str) -> Error {
    let mut p = String::from("/");
    for c in segment.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
    p.push_str(&path);
    (kind, p)
}

fn convert(v: &Json, depth: usize, limits: &Limits) -> Result<Value, Error> {
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Integer(number(n)?),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => {
            if depth >= limits.max_depth {
                return Err(err(K::TooDeep));
            }
            if a.len() > limits.max_container_len {
                return Err(err(K::TooManyElements));
            }
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                out.push(convert(x, depth + 1, limits).map_err(|e| within(e, &i.to_string()))?);
            }
            Value::Array(out)
        }
        Json::Object(o) => {
            if let Some(link) = o.get("$link") {
                if o.len() != 1 {
                    return Err(err(K::LinkWithExtraKeys));
                }
                return match link.as_str().map(CidString::parse_cid) {
                    Some(Ok(c)) => Ok(Value::Link(c)),
                    _ => Err(err(K::InvalidLink)),
                };
            }
            if let Some(b) = o.get("$bytes") {
                if o.len() != 1 {
                    return Err(err(K::BytesWithExtraKeys));
                }
                return match b.as_str().map(|s| LENIENT_BASE64.decode(s)) {
                    Some(Ok(bytes)) => Ok(Value::Bytes(Bytes::from(bytes))),
                    _ => Err(err(K::InvalidBytes)),
                };
            }
            if depth >= limits.max_depth {
                return Err(err(K::TooDeep));
            }
            if o.len() > limits.max_container_len {
                return Err(err(K::TooManyElements));
            }
            let mut map = BTreeMap::new();
            for (k, x) in o {
                if k.len() > limits.max_key_len {
                    return Err(within(err(K::KeyTooLong), k));
                }
                let x = convert(x, depth + 1, limits).map_err(|e| within(e, k))?;
                map.insert(k.clone(), x);
            }
            if let Some(t) = map.get("$type") {
                if !matches!(t, Value::String(s) if !s.is_empty()) {
                    return Err(within(err(K::InvalidType), "$type"));
                }
                match check_blob_map(&map) {
                    Ok(Some(blob)) => return Ok(Value::Blob(blob)),
                    Ok(None) => {}
                    Err(why) => return Err(err(K::InvalidBlob(why))),
                }
            }
            Value::Map(map)
        }
    })
}

fn number(n: &serde_json::Number) -> Result<i64, Error> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.is_u64() {
        return Err(err(K::IntegerOutOfRange));
    }
    match n.as_f64() {
        Some(f) if (-MAX_SAFE_FLOAT..=MAX_SAFE_FLOAT).contains(&f) => {
            let i = f as i64;
            if i as f64 == f {
                Ok(i)
            } else {
                Err(err(K::Float))
            }
        }
        Some(f) if f.is_finite() => Err(err(K::IntegerOutOfRange)),
        _ => Err(err(K::Float)),
    }
}

fn check_blob_map(m: &BTreeMap<String, Value>) -> Result<Option<BlobRef>, &'static str> {
    match m.get("$type") {
        Some(Value::String(t)) if t == "blob" => {}
        _ => return Ok(None),
    }
    let cid = match m.get("ref") {
        Some(Value::Link(c)) => *c,
        Some(_) => return Err("blob `ref` must be a link"),
        None => return Err("blob is missing `ref`"),
    };
    let mime_type = match m.get("mimeType") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("blob `mimeType` must be a string"),
        None => return Err("blob is missing `mimeType`"),
    };
    let size = match m.get("size") {
        Some(Value::Integer(i)) if *i >= 0 => *i as u64,
        Some(_) => return Err("blob `size` must be a non-negative integer"),
        None => return Err("blob is missing `size`"),
    };
    if m.len() != 4 {
        return Ok(None);
    }
    Ok(Some(BlobRef::new(cid, mime_type.clone(), size)))
}

/// Whether some object in `text` (valid JSON) repeats a key.
fn has_duplicate_key(text: &[u8]) -> bool {
    struct Dup;
    impl<'de> DeserializeSeed<'de> for Dup {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Dup {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            let mut dup = false;
            while let Some(d) = seq.next_element_seed(Dup)? {
                dup |= d;
            }
            Ok(dup)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut keys = BTreeSet::new();
            let mut dup = false;
            while let Some(k) = map.next_key::<String>()? {
                dup |= !keys.insert(k);
                dup |= map.next_value_seed(Dup)?;
            }
            Ok(dup)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    Dup.deserialize(&mut de).unwrap_or(false)
}

/// The property: the parser agrees with the reference, and `from_json_with`
/// too, except that repeated keys make the parser fail.
fn agrees(text: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let got = direct(text, limits);
    if let Ok(text) = std::str::from_utf8(text) {
        let from_str = json::from_str_with(text, limits);
        let from_str = from_str.map_err(|e| (e.kind().clone(), e.path().to_owned()));
        prop_assert_eq!(
            &from_str,
            &got,
            "from_str_with differs from from_slice_with"
        );
    }
    let want = reference(text, limits);
    prop_assert_eq!(&via_json(text, limits), &want, "from_json_with changed");
    if has_duplicate_key(text) {
        prop_assert!(got.is_err(), "repeated key accepted: {:?}", got);
    } else {
        prop_assert!(
            !matches!(got, Err((K::DuplicateKey(_), _))),
            "no repeated key, yet {:?}",
            got
        );
        prop_assert_eq!(got, want);
    }
    Ok(())
}

// ---------------------------------------------------------------- inputs

/// Limits the generated inputs straddle.
const LIMITS: [Limits; 4] = [
    Limits::DEFAULT,
    Limits {
        max_size: 1 << 20,
        max_depth: 3,
        max_container_len: 3,
        max_key_len: 4,
        max_cid_len: 100,
    },
    Limits {
        max_size: 1 << 20,
        max_depth: 1,
        max_container_len: 1,
        max_key_len: 5,
        max_cid_len: 100,
    },
    Limits {
        max_size: 1 << 20,
        max_depth: 0,
        max_container_len: 0,
        max_key_len: 0,
        max_cid_len: 100,
    },
];

/// JSON to print, numbers as written.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    /// Members in this order, keys possibly repeated.
    Obj(Vec<(String, J)>),
}

impl J {
    fn text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            J::Arr(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            J::Obj(o) => {
                out.push('{');
                for (i, (k, x)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    x.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn obj(members: &[(&str, J)]) -> J {
    J::Obj(
        members
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// Numbers at every edge: ±2^53 as integers and floats, the `i64` and `u64`
/// ends, integral and real floats, exponents, out-of-range literals.
fn arb_number() -> impl Strategy<Value = String> {
    const EDGES: &[&str] = &[
        "0",
        "-0",
        "1",
        "-1",
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "-9007199254740992",
        "-9007199254740993",
        "9007199254740992.0",
        "9007199254740993.0",
        "9007199254740994.0",
        "-9007199254740992.0",
        "-9007199254740994.0",
        "9.007199254740992e15",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "123.0",
        "1.5",
        "-0.0",
        "1e2",
        "1E300",
        "-1e300",
        "1e400",
        "1e-400",
        "0.1",
        "2.5e-3",
        "100e-2",
    ];
    prop_oneof![
        4 => proptest::sample::select(EDGES).prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|i| i.to_string()),
        1 => any::<u64>().prop_map(|u| u.to_string()),
        1 => any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        1 => (-(1i64 << 54)..(1i64 << 54)).prop_map(|i| format!("{i}.0")),
    ]
}

fn cids() -> Vec<String> {
    let v0 = Cid::new_v0(*dag_cbor_cid(b"x").hash()).unwrap();
    vec![
        dag_cbor_cid(b"a").to_string(),
        raw_cid(b"b").to_string(),
        v0.to_string(),
        "bafyinvalid".to_owned(),
        String::new(),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    let fixed = cids()
        .into_iter()
        .chain(
            [
                "AQID",
                "AQI=",
                "AQI",
                "123",
                "A*",
                "blob",
                "image/png",
                "a\"b\\c\n",
                "é😀",
                "$link",
            ]
            .map(str::to_owned),
        )
        .collect::<Vec<_>>();
    prop_oneof![
        3 => proptest::sample::select(fixed),
        1 => "\\PC{0,6}",
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(
            &[
                "$link", "$bytes", "$type", "ref", "mimeType", "size", "cid", "a", "b", "z",
                "é", "😀", "a/b~c", "", "text",
            ][..]
        )
        .prop_map(str::to_owned),
        1 => "[a-z$]{0,6}",
        1 => Just("k".repeat(8193)),
    ]
}

fn arb_leaf() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        arb_number().prop_map(J::Num),
        arb_string().prop_map(J::Str),
    ]
}

/// Members with distinct keys, in any order.
fn unique_members(inner: impl Strategy<Value = J>) -> impl Strategy<Value = J> {
    proptest::collection::btree_map(arb_key(), inner, 0..6)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(J::Obj)
}

fn arb_json() -> impl Strategy<Value = J> {
    arb_leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            3 => proptest::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
            3 => unique_members(inner.clone()),
            // Keys may repeat.
            2 => proptest::collection::vec(
                (proptest::sample::select(&["a", "b", "$link", "$type"][..]), inner.clone()),
                0..5,
            )
            .prop_map(|m| J::Obj(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            // `$link` and `$bytes` objects, well formed or not.
            1 => (proptest::sample::select(cids()), any::<bool>()).prop_map(|(c, pad)| {
                let extra: &[(&str, J)] = if pad { &[("a", J::Null)] } else { &[] };
                let mut m = vec![("$link".to_owned(), J::Str(c))];
                m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
                J::Obj(m)
            }),
            1 => inner.clone().prop_map(|x| obj(&[("$link", x)])),
            1 => inner.clone().prop_map(|x| obj(&[("$bytes", x)])),
            // Blobs: each field right or replaced, members in any order.
            2 => (
                proptest::sample::select(cids()),
                proptest::option::of(inner.clone()),
                proptest::option::of(inner.clone()),
                proptest::option::of(inner.clone()),
                proptest::option::of(inner),
                0..5usize,
            )
                .prop_map(|(c, t, r, m, s, drop)| {
                    let mut members = vec![
                        ("$type".to_owned(), t.unwrap_or(J::Str("blob".into()))),
                        (
                            "ref".to_owned(),
                            r.unwrap_or_else(|| obj(&[("$link", J::Str(c))])),
                        ),
                        ("mimeType".to_owned(), m.unwrap_or(J::Str("image/png".into()))),
                        ("size".to_owned(), s.unwrap_or(J::Num("1234".into()))),
                    ];
                    if drop < members.len() {
                        members.remove(drop);
                    }
                    members
                })
                .prop_shuffle()
                .prop_map(J::Obj),
        ]
    })
}

/// `x` under containers, each an array, a plain object or (rarely) a `$link`
/// object.
fn nested(x: J, shells: &[u8]) -> J {
    shells.iter().fold(x, |x, s| match s % 64 {
        0..32 => J::Arr(vec![x]),
        32..63 => obj(&[("a", x)]),
        _ => obj(&[("$link", x)]),
    })
}

/// Values nested right around `max_depth` (for each limit set).
fn arb_deep() -> impl Strategy<Value = J> {
    (
        arb_json(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..6),
            proptest::collection::vec(any::<u8>(), 29..36),
        ],
    )
        .prop_map(|(x, shells)| nested(x, &shells))
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_agrees_with_reference(j in arb_json()) {
        let text = j.text();
        for limits in &LIMITS {
            agrees(text.as_bytes(), limits)?;
        }
    }

    #[test]
    fn parser_agrees_near_max_depth(j in arb_deep()) {
        let text = j.text();
        for limits in &LIMITS {
            agrees(text.as_bytes(), limits)?;
        }
    }

    #[test]
    fn parser_agrees_on_broken_text(
        j in arb_json(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![
            proptest::sample::select(&b"{}[]\":,0-.e1 \\\xff"[..]),
            any::<u8>(),
        ],
        cut in any::<prop::sample::Index>(),
    ) {
        let text = j.text().into_bytes();
        let mut changed = text.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        let cut = &text[..cut.index(text.len())];
        for limits in &LIMITS {
            agrees(&changed, limits)?;
            agrees(cut, limits)?;
        }
    }

    /// Containers right around `max_container_len`.
    #[test]
    fn parser_agrees_near_max_container_len(
        len in 0..6usize,
        items in proptest::collection::vec(arb_leaf(), 6),
        keys in proptest::collection::vec(arb_key(), 6),
        depth in 0..3usize,
    ) {
        let depth = vec![0; depth];
        let arr = J::Arr(items[..len].to_vec());
        let o = J::Obj(keys[..len].iter().cloned().zip(items.iter().cloned()).collect());
        for x in [arr, o] {
            let text = nested(x, &depth).text();
            for limits in &LIMITS {
                agrees(text.as_bytes(), limits)?;
            }
        }
    }
}

// ---------------------------------------------------------------- examples

fn parse_err(text: &str) -> Error {
    direct(text.as_bytes(), &Limits::DEFAULT).unwrap_err()
}

fn dup(key: &str, path: &str) -> Error {
    (K::DuplicateKey(key.to_owned()), path.to_owned())
}

#[test]
fn duplicate_keys_are_rejected() {
    assert_eq!(parse_err(r#"{"a": 1, "a": 1}"#), dup("a", "/a"));
    assert_eq!(parse_err(r#"{"a": 1, "b": 2, "a": 3}"#), dup("a", "/a"));
    assert_eq!(
        parse_err(r#"{"x": [0, {"b": {}, "a/b": 1, "a/b": null}]}"#),
        dup("a/b", "/x/1/a~1b")
    );
    // The first repetition in the text.
    assert_eq!(
        parse_err(r#"{"b": 1, "a": 1, "a": 2, "b": 2}"#),
        dup("a", "/a")
    );
    // Also in `$link`, `$bytes` and blob objects, and in records.
    let cid = dag_cbor_cid(b"a");
    assert_eq!(
        parse_err(&format!(r#"{{"$link": "{cid}", "$link": "{cid}"}}"#)),
        dup("$link", "/$link")
    );
    assert_eq!(
        parse_err(r#"{"$bytes": "AQI", "$bytes": "AQI"}"#),
        dup("$bytes", "/$bytes")
    );
    let e = json::record_from_str(r#"{"$type": "x", "$type": "x"}"#).unwrap_err();
    assert_eq!(e.kind(), &K::DuplicateKey("$type".into()));
    assert_eq!(e.path(), "/$type");
    assert_eq!(e.to_string(), r#"/$type: duplicate object key "$type""#);
    // The same text through `serde_json::Value` keeps the last value.
    let json: Json = serde_json::from_str(r#"{"a": 1, "a": 2}"#).unwrap();
    assert_eq!(
        json::from_json(&json).unwrap().get("a"),
        Some(&Value::Integer(2))
    );
}

#[test]
fn duplicate_key_ranks_as_an_error_of_its_object() {
    // Before every other rule of that object, and before its members' errors.
    assert_eq!(parse_err(r#"{"a": 1.5, "b": 1, "b": 1}"#), dup("b", "/b"));
    assert_eq!(parse_err(r#"{"$link": 1, "x": 1, "x": 1}"#), dup("x", "/x"));
    let deep = |n| format!("{}{{\"a\": 1, \"a\": 1}}{}", "[".repeat(n), "]".repeat(n));
    assert_eq!(
        parse_err(&deep(32)),
        dup("a", &format!("{}/a", "/0".repeat(32)))
    );
    // Unless its container is past the limits: it is then not even looked at.
    assert_eq!(parse_err(&deep(33)), (K::TooDeep, "/0".repeat(32)));
    // Among members, by key order as for any member error.
    assert_eq!(
        parse_err(r#"{"b": {"x": 1, "x": 1}, "a": 1.5}"#),
        (K::Float, "/a".into())
    );
    assert_eq!(
        parse_err(r#"{"a": {"x": 1, "x": 1}, "b": 1.5}"#),
        dup("x", "/a/x")
    );
    // In an array, the first failing element.
    assert_eq!(
        parse_err(r#"[1.5, {"x": 1, "x": 1}]"#),
        (K::Float, "/0".into())
    );
    // A syntax error anywhere still wins.
    assert!(matches!(parse_err(r#"{"a": 1, "a": 1"#).0, K::Syntax(_)));
}

#[test]
fn error_priorities_are_unchanged() {
    let cases = [
        // Syntax after a data-model error.
        r#"[1.5, }"#,
        r#"{"a": 1.5} x"#,
        // Lone surrogates, control characters, bad escapes.
        r#"["\ud800"]"#,
        "[\"a\u{1}\"]",
        r#"{"a\x": 1}"#,
        // Out-of-range literal past the depth limit.
        &format!("{}1e400{}", "[".repeat(40), "]".repeat(40)),
        // serde_json's recursion limit past ours.
        &format!("{}{}", "[".repeat(129), "]".repeat(129)),
        &format!("{}{}", "[".repeat(128), "]".repeat(128)),
        // Members in key order, not text order.
        r#"{"b": 1.5, "a": [1.5]}"#,
        &format!(r#"{{"b": 1.5, "{}": 1}}"#, "a".repeat(8193)),
        &format!(r#"{{"a": 1.5, "{}": 1}}"#, "z".repeat(8193)),
        // `$link` / `$bytes` before depth, size and member rules.
        &format!(
            r#"{}{{"$link": "{}"}}{}"#,
            "[".repeat(32),
            dag_cbor_cid(b"a"),
            "]".repeat(32)
        ),
        &format!("{}{{\"$link\": [1.5]}}{}", "[".repeat(40), "]".repeat(40)),
        r#"{"z": 1.5, "$bytes": "AQI"}"#,
        r#"{"$bytes": {"$bytes": "AQI"}}"#,
        r#"{"$link": {"$link": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}"#,
        // `$type` after the members.
        r#"{"$type": 1, "a": 1.5}"#,
        r#"{"$type": "", "a": 1}"#,
        r#"{"$type": "blob", "ref": 1.5}"#,
        r#"{"$type": "blob", "size": -1, "mimeType": "x", "ref": {"$link": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity"}}"#,
    ];
    for text in cases {
        for limits in &LIMITS {
            let got = direct(text.as_bytes(), limits);
            let from_str = json::from_str_with(text, limits);
            assert_eq!(
                from_str.map_err(|e| (e.kind().clone(), e.path().to_owned())),
                got,
                "{text}"
            );
            assert_eq!(got, reference(text.as_bytes(), limits), "{text}");
            assert_eq!(via_json(text.as_bytes(), limits), got, "{text}");
        }
    }
}

#[test]
fn container_length_edges() {
    let limits = Limits::DEFAULT;
    let n = limits.max_container_len;
    for len in [n, n + 1] {
        let arr = format!("[{}]", vec!["0"; len].join(","));
        let o = format!(
            "{{{}}}",
            (0..len)
                .map(|i| format!("\"{i}\":0"))
                .collect::<Vec<_>>()
                .join(",")
        );
        for text in [arr, o] {
            let got = direct(text.as_bytes(), &limits);
            assert_eq!(got.is_ok(), len == n);
            assert_eq!(got, reference(text.as_bytes(), &limits));
        }
    }
}

#[test]
fn strings_keep_escapes_and_unicode() {
    let text = r#"{"a\"b": "x\ny\u00e9\ud83d\ude00", "plain": "é😀"}"#;
    let v = json::from_str(text).unwrap();
    assert_eq!(v.get("a\"b").and_then(Value::as_str), Some("x\nyé😀"));
    assert_eq!(v.get("plain").and_then(Value::as_str), Some("é😀"));
    assert_eq!(v, reference(text.as_bytes(), &Limits::DEFAULT).unwrap());
}
