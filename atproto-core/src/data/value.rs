//! [`Value`]: one node of the ATProto data model.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;
use cid::Cid;

use super::blob::BlobRef;

/// One value of the ATProto data model.
///
/// Maps are kept in a [`BTreeMap`] so iteration order is deterministic; the
/// DAG-CBOR encoder re-sorts keys into canonical order (length first, then
/// bytewise). There are no floats: the data model has none.
///
/// A map of the current blob form (`{"$type":"blob","ref":…,"mimeType":…,"size":…}`,
/// exactly those four keys, well typed) decodes as [`Value::Blob`] and encodes
/// back to the very same map, so bytes round-trip. The legacy blob form
/// `{cid, mimeType}` stays a [`Value::Map`]; read it with [`BlobRef::from_value`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `null`. Distinct from an absent map key.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Integer(i64),
    /// A UTF-8 string.
    String(String),
    /// A byte string; a slice of the input when decoded with
    /// [`crate::data::cbor::decode_bytes`].
    Bytes(Bytes),
    /// A link to other content (CBOR tag 42, JSON `{"$link": …}`).
    Link(Cid),
    /// An array.
    Array(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
    /// A blob reference in the current form.
    Blob(BlobRef),
}

impl Value {
    /// The data-model name of this value's type: `null`, `boolean`,
    /// `integer`, `string`, `bytes`, `cid-link`, `array`, `object` or `blob`
    /// (the names Lexicon uses).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Link(_) => "cid-link",
            Value::Array(_) => "array",
            Value::Map(_) => "object",
            Value::Blob(_) => "blob",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The CID, if this is a link.
    pub fn as_link(&self) -> Option<&Cid> {
        match self {
            Value::Link(c) => Some(c),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is a map. A [`Value::Blob`] is not a map here.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The blob reference, if this is a current-form blob.
    pub fn as_blob(&self) -> Option<&BlobRef> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// The value under `key`, if this is a map holding it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The `$type` of a map, if it has a string one. A blob's `$type` is `blob`.
    pub fn type_field(&self) -> Option<&str> {
        match self {
            Value::Blob(_) => Some("blob"),
            _ => self.get("$type").and_then(Value::as_str),
        }
    }

    /// Canonical DAG-CBOR bytes of this value.
    pub fn to_dag_cbor(&self) -> Vec<u8> {
        super::cbor::encode(self)
    }

    /// The CID of this value's canonical DAG-CBOR bytes (CIDv1, dag-cbor, sha2-256).
    pub fn cid(&self) -> Cid {
        super::cid::dag_cbor_cid(&self.to_dag_cbor())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.into())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<Bytes> for Value {
    fn from(v: Bytes) -> Self {
        Value::Bytes(v)
    }
}

impl From<Cid> for Value {
    fn from(v: Cid) -> Self {
        Value::Link(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(v: BTreeMap<String, Value>) -> Self {
        Value::Map(v)
    }
}

impl From<BlobRef> for Value {
    fn from(v: BlobRef) -> Self {
        Value::Blob(v)
    }
}

/// Serializes in the form the serializer expects: ATProto JSON
/// (`$link`/`$bytes`/blob objects) for human-readable formats such as
/// `serde_json`, the DAG-CBOR data model (bytes, tag-42 links) otherwise.
///
/// Map keys are emitted in `BTreeMap` order; `serde_ipld_dagcbor` re-sorts
/// them canonically.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => s.serialize_i64(*i),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(b) => {
                if s.is_human_readable() {
                    let mut m = s.serialize_map(Some(1))?;
                    m.serialize_entry("$bytes", &super::json::encode_base64(b))?;
                    m.end()
                } else {
                    s.serialize_bytes(b)
                }
            }
            Value::Link(c) => super::blob::LinkRef(c).serialize(s),
            Value::Array(a) => s.collect_seq(a),
            Value::Map(m) => s.collect_map(m),
            Value::Blob(b) => b.serialize(s),
        }
    }
}
