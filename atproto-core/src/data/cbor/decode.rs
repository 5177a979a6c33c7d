//! The strict DAG-CBOR decoder for untrusted input.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;
use cid::Cid;

use super::error::CborError;
use super::scan::{Scanner, Sink};
use crate::data::blob::check_blob_map;
use crate::data::limits::Limits;
use crate::data::value::Value;

/// Decodes one canonical DAG-CBOR value under [`Limits::DEFAULT`].
///
/// Byte strings are copied out of `bytes`; use [`decode_bytes`] to get
/// zero-copy slices instead.
///
/// Besides the canonical-form rules, the data-model rules are checked: a
/// `$type` key must hold a non-empty string, and a map with `$type: "blob"`
/// must have a link `ref`, a string `mimeType` and a non-negative integer
/// `size`. Links must hold a CIDv1 (any codec and hash; see
/// [`is_atproto_cid`](crate::data::is_atproto_cid) for the stricter check).
///
/// # Errors
/// Anything that is not canonical DAG-CBOR of the ATProto data model: see
/// [`CborErrorKind`](super::CborErrorKind).
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    decode_with(bytes, &Limits::DEFAULT)
}

/// Decodes one canonical DAG-CBOR value under `limits`.
///
/// # Errors
/// As [`decode`], plus anything past `limits`.
pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Value, CborError> {
    Scanner::run(bytes, limits, ValueSink { src: None })
}

/// Decodes the one canonical DAG-CBOR value at the start of `bytes` under
/// `limits`, and returns it with the number of bytes it took: for formats
/// that put items one after another (a firehose message is a header item
/// followed by a body item). What follows the item is not looked at.
///
/// # Errors
/// As [`decode_with`], except that bytes after the item are no error.
pub fn decode_prefix_with(bytes: &[u8], limits: &Limits) -> Result<(Value, usize), CborError> {
    Scanner::run_prefix(bytes, limits, ValueSink { src: None })
}

/// As [`decode`], but every [`Value::Bytes`] is a slice of `bytes` (no copy).
///
/// # Errors
/// As [`decode`].
pub fn decode_bytes(bytes: &Bytes) -> Result<Value, CborError> {
    decode_bytes_with(bytes, &Limits::DEFAULT)
}

/// As [`decode_with`], but every [`Value::Bytes`] is a slice of `bytes` (no copy).
///
/// # Errors
/// As [`decode_with`].
pub fn decode_bytes_with(bytes: &Bytes, limits: &Limits) -> Result<Value, CborError> {
    Scanner::run(bytes, limits, ValueSink { src: Some(bytes) })
}

/// The [`Sink`] that builds a [`Value`]; byte strings are sliced from `src`
/// when given (zero-copy), copied otherwise.
struct ValueSink<'a> {
    src: Option<&'a Bytes>,
}

impl<'a> Sink<'a> for ValueSink<'a> {
    type Out = Value;
    type Text = &'a str;
    type Seq = Vec<Value>;
    type Map = BTreeMap<String, Value>;

    #[inline]
    fn text(s: &'a [u8]) -> Option<&'a str> {
        core::str::from_utf8(s).ok()
    }

    #[inline]
    fn null(&self) -> Value {
        Value::Null
    }

    #[inline]
    fn bool(&self, b: bool) -> Value {
        Value::Bool(b)
    }

    #[inline]
    fn int(&self, i: i64) -> Value {
        Value::Integer(i)
    }

    #[inline]
    fn bytes(&self, at: usize, s: &'a [u8]) -> Value {
        Value::Bytes(match self.src {
            Some(src) => src.slice(at..at + s.len()),
            None => Bytes::copy_from_slice(s),
        })
    }

    #[inline]
    fn string(&self, s: &'a str) -> Value {
        Value::String(String::from(s))
    }

    #[inline]
    fn link(&self, cid: Cid) -> Value {
        Value::Link(cid)
    }

    #[inline]
    fn seq(&self, len: usize) -> Vec<Value> {
        Vec::with_capacity(len)
    }

    #[inline]
    fn push(&self, seq: &mut Vec<Value>, item: Value) {
        seq.push(item);
    }

    #[inline]
    fn end_seq(&self, seq: Vec<Value>) -> Value {
        Value::Array(seq)
    }

    #[inline]
    fn map(&self, _: usize) -> BTreeMap<String, Value> {
        BTreeMap::new()
    }

    #[inline]
    fn insert(&self, map: &mut BTreeMap<String, Value>, key: &'a str, item: Value) {
        map.insert(String::from(key), item);
    }

    #[inline]
    fn end_map(&self, map: BTreeMap<String, Value>, blob: bool) -> Value {
        // The scanner has checked the blob fields; this only builds the ref.
        if blob && let Ok(Some(blob)) = check_blob_map(&map) {
            return Value::Blob(blob);
        }
        Value::Map(map)
    }
}
