//! ATProto JSON ⇄ [`Value`].
//!
//! Links are `{"$link": "<cid>"}`, bytes `{"$bytes": "<base64>"}` (each with
//! exactly that one key), blobs `{"$type":"blob","ref":{"$link":…},"mimeType":…,"size":…}`.
//!
//! Numbers: every integer in `i64` is accepted and written back exactly. The
//! spec advises keeping integers within ±(2^53−1) so JavaScript readers stay
//! exact; that is a rule for writers and for Lexicon validation, so this
//! layer does not cap at 2^53 (the CBOR side accepts the full `i64` range too
//! and the two must agree). An integral float such as `123.0` is read as the
//! integer `123` (only within ±2^53, where floats are exact); any other float
//! is rejected.
//!
//! Duplicate object keys: the text parsers ([`from_str`], [`from_str_with`],
//! [`from_slice`], [`from_slice_with`], [`record_from_str`]) reject an object that repeats a
//! key ([`JsonErrorKind::DuplicateKey`]): the data model has no duplicate
//! map keys. [`from_json`] and friends cannot tell, as `serde_json::Value`
//! has already kept only the last of them.
//!
//! The text parsers read straight into [`Value`] in one pass (no
//! `serde_json::Value` in between) and give the very result, error
//! included, that [`from_json_with`] gives on the parsed text, duplicate
//! keys aside. When several members of an object fail, the one under the
//! smallest key is reported; [`from_json_with`] reports the first one it
//! iterates, which is the same unless `serde_json`'s `preserve_order`
//! feature is on in the build (then it is the first in the text).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use bytes::Bytes;
use serde_json::Value as Json;

use super::blob::check_blob_map;
use super::limits::Limits;
use super::value::Value;
use crate::syntax::CidString;

mod de;

/// Reads `$bytes`: standard alphabet, padding optional, non-zero trailing
/// bits tolerated (the reference vectors contain `"$bytes": "123"`).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Largest integer a float represents exactly (2^53).
const MAX_SAFE_FLOAT: f64 = 9_007_199_254_740_992.0;

/// Why ATProto JSON was rejected, and where (a JSON Pointer such as `/rcrd/a`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonError {
    path: String,
    kind: JsonErrorKind,
}

/// What was wrong with ATProto JSON input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Not JSON at all (the parser's message).
    Syntax(String),
    /// A number with a fractional part.
    Float,
    /// An integer outside `i64` (or an integral float beyond ±2^53).
    IntegerOutOfRange,
    /// `$link` that is not a string holding a valid CIDv1 (as
    /// [`CidString`] checks it).
    InvalidLink,
    /// `$bytes` that is not a string of base64.
    InvalidBytes,
    /// `{"$link": …}` with other keys beside it.
    LinkWithExtraKeys,
    /// `{"$bytes": …}` with other keys beside it.
    BytesWithExtraKeys,
    /// `$type` present but not a non-empty string.
    InvalidType,
    /// `$type: "blob"` with a field missing or mistyped.
    InvalidBlob(&'static str),
    /// A record that is not a JSON object.
    NotAnObject,
    /// Input longer than the limit.
    TooLarge,
    /// Containers nested deeper than the limit.
    TooDeep,
    /// An array or object with more elements than the limit.
    TooManyElements,
    /// An object key longer than the limit.
    KeyTooLong,
    /// An object with this key twice (only the text parsers can tell; the
    /// error's path points at the repeated member).
    DuplicateKey(String),
}

impl JsonError {
    fn new(kind: JsonErrorKind) -> Self {
        JsonError {
            path: String::new(),
            kind,
        }
    }

    /// Prepends one path segment (the error travels outward from where it happened).
    fn within(mut self, segment: &str) -> Self {
        let mut p = String::with_capacity(segment.len() + 1 + self.path.len());
        p.push('/');
        for c in segment.chars() {
            match c {
                '~' => p.push_str("~0"),
                '/' => p.push_str("~1"),
                c => p.push(c),
            }
        }
        p.push_str(&self.path);
        self.path = p;
        self
    }

    /// What was wrong.
    pub fn kind(&self) -> &JsonErrorKind {
        &self.kind
    }

    /// Where: a JSON Pointer (RFC 6901) to the offending value, `""` for the top level.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonErrorKind::Syntax(m) => write!(f, "invalid JSON: {m}"),
            JsonErrorKind::Float => f.write_str("floats are not allowed in the data model"),
            JsonErrorKind::IntegerOutOfRange => f.write_str("integer out of range"),
            JsonErrorKind::InvalidLink => {
                f.write_str("`$link` must be a string holding a valid CID")
            }
            JsonErrorKind::InvalidBytes => f.write_str("`$bytes` must be a base64 string"),
            JsonErrorKind::LinkWithExtraKeys => {
                f.write_str("`$link` object must have exactly one key")
            }
            JsonErrorKind::BytesWithExtraKeys => {
                f.write_str("`$bytes` object must have exactly one key")
            }
            JsonErrorKind::InvalidType => f.write_str("`$type` must be a non-empty string"),
            JsonErrorKind::InvalidBlob(why) => f.write_str(why),
            JsonErrorKind::NotAnObject => f.write_str("a record must be a JSON object"),
            JsonErrorKind::TooLarge => f.write_str("input too large"),
            JsonErrorKind::TooDeep => f.write_str("nesting too deep"),
            JsonErrorKind::TooManyElements => f.write_str("too many elements in container"),
            JsonErrorKind::KeyTooLong => f.write_str("object key too long"),
            JsonErrorKind::DuplicateKey(k) => write!(f, "duplicate object key {k:?}"),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.kind)
    }
}

impl core::error::Error for JsonError {}

/// Parses ATProto JSON text into a [`Value`] under [`Limits::DEFAULT`].
///
/// # Errors
/// Invalid JSON, or JSON that breaks the data model (see [`JsonErrorKind`]).
pub fn from_str(s: &str) -> Result<Value, JsonError> {
    from_str_with(s, &Limits::DEFAULT)
}

/// Parses ATProto JSON text into a [`Value`] under `limits`: as
/// [`from_slice_with`], a little faster as the text is known to be UTF-8.
///
/// # Errors
/// As [`from_slice_with`].
pub fn from_str_with(s: &str, limits: &Limits) -> Result<Value, JsonError> {
    if s.len() > limits.max_size {
        return Err(JsonError::new(JsonErrorKind::TooLarge));
    }
    de::parse(serde_json::Deserializer::from_str(s), limits)
}

/// Parses ATProto JSON bytes into a [`Value`] under [`Limits::DEFAULT`].
///
/// # Errors
/// As [`from_str`].
pub fn from_slice(s: &[u8]) -> Result<Value, JsonError> {
    from_slice_with(s, &Limits::DEFAULT)
}

/// Parses ATProto JSON bytes into a [`Value`] under `limits`.
///
/// # Errors
/// As [`from_str`], plus anything past `limits`.
pub fn from_slice_with(s: &[u8], limits: &Limits) -> Result<Value, JsonError> {
    if s.len() > limits.max_size {
        return Err(JsonError::new(JsonErrorKind::TooLarge));
    }
    de::parse(serde_json::Deserializer::from_slice(s), limits)
}

/// Converts parsed JSON into a [`Value`] under [`Limits::DEFAULT`].
///
/// # Errors
/// JSON that breaks the data model (see [`JsonErrorKind`]).
pub fn from_json(v: &Json) -> Result<Value, JsonError> {
    from_json_with(v, &Limits::DEFAULT)
}

/// Converts parsed JSON into a [`Value`] under `limits` (its `max_size` does
/// not apply: the text is already parsed). Repeated keys cannot be seen
/// here: `serde_json` kept the last one.
///
/// # Errors
/// As [`from_json`], plus anything past `limits`.
pub fn from_json_with(v: &Json, limits: &Limits) -> Result<Value, JsonError> {
    convert(v, 0, limits)
}

/// Parses a record: ATProto JSON whose top level is an object, at most
/// [`MAX_RECORD_JSON`](super::limits::MAX_RECORD_JSON) bytes.
///
/// # Errors
/// As [`from_str`], plus [`JsonErrorKind::NotAnObject`].
pub fn record_from_str(s: &str) -> Result<Value, JsonError> {
    check_record(from_str_with(s, &Limits::RECORD_JSON)?)
}

/// As [`record_from_str`], from already-parsed JSON (no size limit applies).
///
/// # Errors
/// As [`from_json`], plus [`JsonErrorKind::NotAnObject`].
pub fn record_from_json(v: &Json) -> Result<Value, JsonError> {
    check_record(from_json_with(v, &Limits::RECORD_JSON)?)
}

fn check_record(v: Value) -> Result<Value, JsonError> {
    match v {
        Value::Map(_) => Ok(v),
        _ => Err(JsonError::new(JsonErrorKind::NotAnObject)),
    }
}

fn convert(v: &Json, depth: usize, limits: &Limits) -> Result<Value, JsonError> {
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Integer(number(n)?),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => {
            check_container(depth, a.len(), limits)?;
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                out.push(convert(x, depth + 1, limits).map_err(|e| e.within(&i.to_string()))?);
            }
            Value::Array(out)
        }
        Json::Object(o) => {
            // Members are converted only while they can decide the outcome:
            // not in an object the container rules reject anyway, not after
            // the first failing member (in key order). The others are kept
            // shallow, for the `$link` / `$bytes` rules.
            let mut skim = depth >= limits.max_depth || o.len() > limits.max_container_len;
            let mut failed = None;
            let mut map = BTreeMap::new();
            for (k, x) in o {
                let x = if skim {
                    shallow(x)
                } else if k.len() > limits.max_key_len {
                    failed = Some(JsonError::new(JsonErrorKind::KeyTooLong).within(k));
                    skim = true;
                    shallow(x)
                } else {
                    match convert(x, depth + 1, limits) {
                        Ok(x) => x,
                        Err(e) => {
                            failed = Some(e.within(k));
                            skim = true;
                            Value::Null
                        }
                    }
                };
                map.insert(k.clone(), x);
            }
            return finish_object(map, failed, depth, limits);
        }
    })
}

/// A member of an object whose members are not converted: its string, if it
/// is one (all the `$link` / `$bytes` rules look at), else a placeholder.
fn shallow(v: &Json) -> Value {
    match v {
        Json::String(s) => Value::String(s.clone()),
        _ => Value::Null,
    }
}

/// The depth and size rules of an array or object at `depth` with `len`
/// elements.
fn check_container(depth: usize, len: usize, limits: &Limits) -> Result<(), JsonError> {
    if depth >= limits.max_depth {
        return Err(JsonError::new(JsonErrorKind::TooDeep));
    }
    if len > limits.max_container_len {
        return Err(JsonError::new(JsonErrorKind::TooManyElements));
    }
    Ok(())
}

/// The rules of one JSON object once its members are known, shared by
/// [`from_json_with`] and the direct parser and applied in this order:
///
/// 1. `$link` / `$bytes` objects ([`link_or_bytes`]), whatever their depth;
/// 2. the depth and size rules ([`check_container`]);
/// 3. `failed`, the error of the first failing member in key order;
/// 4. `$type` and blobs ([`typed_map`]).
///
/// `map` holds every key of the object. A member that was not converted (it
/// failed, or the object is past a limit) holds its string if it is one and
/// a placeholder otherwise: only the `$link` / `$bytes` rules look at it, and
/// they only ask whether it is a string.
fn finish_object(
    map: BTreeMap<String, Value>,
    failed: Option<JsonError>,
    depth: usize,
    limits: &Limits,
) -> Result<Value, JsonError> {
    if let Some(special) = link_or_bytes(&map) {
        return special;
    }
    check_container(depth, map.len(), limits)?;
    if let Some(e) = failed {
        return Err(e);
    }
    typed_map(map)
}

/// `{"$link": "<cid>"}` and `{"$bytes": "<base64>"}`: `None` if the object
/// has neither key.
fn link_or_bytes(map: &BTreeMap<String, Value>) -> Option<Result<Value, JsonError>> {
    use JsonErrorKind as K;
    if let Some(link) = map.get("$link") {
        if map.len() != 1 {
            return Some(Err(JsonError::new(K::LinkWithExtraKeys)));
        }
        return Some(
            link.as_str()
                .and_then(|s| CidString::parse_cid(s).ok())
                .map(Value::Link)
                .ok_or(JsonError::new(K::InvalidLink)),
        );
    }
    if let Some(b) = map.get("$bytes") {
        if map.len() != 1 {
            return Some(Err(JsonError::new(K::BytesWithExtraKeys)));
        }
        return Some(match b.as_str().map(|s| LENIENT_BASE64.decode(s)) {
            Some(Ok(bytes)) => Ok(Value::Bytes(Bytes::from(bytes))),
            _ => Err(JsonError::new(K::InvalidBytes)),
        });
    }
    None
}

/// A map with all members converted: `$type`, when present, must be a
/// non-empty string, and `$type: "blob"` makes it a [`Value::Blob`] (or an
/// error if malformed).
fn typed_map(map: BTreeMap<String, Value>) -> Result<Value, JsonError> {
    if let Some(t) = map.get("$type") {
        if !matches!(t, Value::String(s) if !s.is_empty()) {
            return Err(JsonError::new(JsonErrorKind::InvalidType).within("$type"));
        }
        match check_blob_map(&map) {
            Ok(Some(blob)) => return Ok(Value::Blob(blob)),
            Ok(None) => {}
            Err(why) => return Err(JsonError::new(JsonErrorKind::InvalidBlob(why))),
        }
    }
    Ok(Value::Map(map))
}

fn number(n: &serde_json::Number) -> Result<i64, JsonError> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if let Some(u) = n.as_u64() {
        return unsigned(u);
    }
    match n.as_f64() {
        Some(f) => integral(f),
        None => Err(JsonError::new(JsonErrorKind::Float)),
    }
}

/// A JSON integer beyond `i64` (the parser hands those over as `u64`).
fn unsigned(u: u64) -> Result<i64, JsonError> {
    i64::try_from(u).map_err(|_| JsonError::new(JsonErrorKind::IntegerOutOfRange))
}

/// A JSON number with a fraction or exponent: an integer only if integral
/// and within ±2^53.
fn integral(f: f64) -> Result<i64, JsonError> {
    // `f64::fract` is not in `core`: compare with the truncated value instead.
    if (-MAX_SAFE_FLOAT..=MAX_SAFE_FLOAT).contains(&f) {
        let i = f as i64;
        if i as f64 == f {
            Ok(i)
        } else {
            Err(JsonError::new(JsonErrorKind::Float))
        }
    } else if f.is_finite() {
        // Beyond 2^53 every float is integral but no longer exact.
        Err(JsonError::new(JsonErrorKind::IntegerOutOfRange))
    } else {
        Err(JsonError::new(JsonErrorKind::Float))
    }
}

/// Base64 as ATProto JSON writes it: standard alphabet, no padding.
pub(crate) fn encode_base64(b: &[u8]) -> String {
    STANDARD_NO_PAD.encode(b)
}

/// The ATProto JSON form of `v` as a `serde_json::Value`.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => single("$bytes", encode_base64(b)),
        Value::Link(c) => single("$link", c.to_string()),
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, x)| (k.clone(), to_json(x))).collect()),
        Value::Blob(b) => {
            let mut o = serde_json::Map::new();
            o.insert("$type".into(), Json::from("blob"));
            o.insert("ref".into(), single("$link", b.cid.to_string()));
            o.insert("mimeType".into(), Json::String(b.mime_type.clone()));
            o.insert("size".into(), Json::from(b.size));
            Json::Object(o)
        }
    }
}

fn single(key: &str, s: String) -> Json {
    let mut o = serde_json::Map::new();
    o.insert(key.into(), Json::String(s));
    Json::Object(o)
}

/// The ATProto JSON text of `v` (compact, object keys in bytewise order).
pub fn to_string(v: &Value) -> String {
    // Serializing a `Value` into a string cannot fail: every map key is a
    // string and no I/O is involved.
    serde_json::to_string(v).unwrap_or_default()
}
