//! [`ValueRef`]: a strictly decoded DAG-CBOR value that borrows its text and
//! byte strings from the input, for readers that take a few known fields out
//! of a message and convert only the rest to [`Value`].

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

/// One DAG-CBOR value decoded by [`decode_ref_with`] or
/// [`decode_ref_prefix_with`]: the same strict checks as
/// [`decode_with`](super::decode_with), but strings and byte strings are
/// slices of the input and maps are vectors of their entries in canonical
/// key order, so decoding allocates only one vector per array and map.
/// [`ValueRef::to_value`] gives the [`Value`] that
/// [`decode_with`](super::decode_with) returns for the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Integer(i64),
    /// A UTF-8 string, borrowed from the input.
    String(&'a str),
    /// A byte string, borrowed from the input.
    Bytes(&'a [u8]),
    /// A link (CBOR tag 42).
    Link(Cid),
    /// An array.
    Array(Vec<ValueRef<'a>>),
    /// A map: its entries in canonical key order (no key twice).
    Map(Vec<(&'a str, ValueRef<'a>)>),
    /// A map that the data model reads as a blob (`$type: "blob"` with
    /// exactly `ref`, `mimeType` and `size`, checked); [`Value::Blob`] once
    /// converted. Its entries as for [`ValueRef::Map`].
    Blob(Vec<(&'a str, ValueRef<'a>)>),
}

impl ValueRef<'_> {
    /// The owned [`Value`]; byte strings are copied.
    pub fn to_value(&self) -> Value {
        self.convert(None)
    }

    /// The owned [`Value`], where every byte string that lies within `src`
    /// (the buffer this value was decoded from) is a slice of it rather than
    /// a copy, as [`decode_bytes_with`](super::decode_bytes_with) gives.
    /// Byte strings outside `src` are copied.
    pub fn to_value_in(&self, src: &Bytes) -> Value {
        self.convert(Some(src))
    }

    fn convert(&self, src: Option<&Bytes>) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(*b),
            ValueRef::Integer(i) => Value::Integer(*i),
            ValueRef::String(s) => Value::String(String::from(*s)),
            ValueRef::Bytes(b) => Value::Bytes(match src {
                Some(src) => slice_of(src, b),
                None => Bytes::copy_from_slice(b),
            }),
            ValueRef::Link(cid) => Value::Link(*cid),
            ValueRef::Array(items) => Value::Array(items.iter().map(|v| v.convert(src)).collect()),
            ValueRef::Map(entries) => Value::Map(map_of(entries, src)),
            ValueRef::Blob(entries) => {
                let map = map_of(entries, src);
                // The scanner has checked the blob fields; this builds the ref.
                match check_blob_map(&map) {
                    Ok(Some(blob)) => Value::Blob(blob),
                    _ => Value::Map(map),
                }
            }
        }
    }
}

/// The entries of a [`ValueRef::Map`] as an owned map.
fn map_of(entries: &[(&str, ValueRef<'_>)], src: Option<&Bytes>) -> BTreeMap<String, Value> {
    entries
        .iter()
        .map(|(k, v)| (String::from(*k), v.convert(src)))
        .collect()
}

/// `part` as a slice of `src` when it lies within it, else a copy.
fn slice_of(src: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if start <= src.len() && end <= src.len() => src.slice(start..end),
        _ => Bytes::copy_from_slice(part),
    }
}

/// Decodes one canonical DAG-CBOR value filling all of `bytes` under
/// `limits`, borrowing its strings and byte strings.
///
/// # Errors
/// Exactly those of [`decode_with`](super::decode_with), at the same offsets.
pub fn decode_ref_with<'a>(bytes: &'a [u8], limits: &'a Limits) -> Result<ValueRef<'a>, CborError> {
    Scanner::run(bytes, limits, RefSink)
}

/// Decodes the one canonical DAG-CBOR value at the start of `bytes` under
/// `limits`, borrowing its strings and byte strings, and returns it with the
/// number of bytes it took.
///
/// # Errors
/// Exactly those of [`decode_prefix_with`](super::decode_prefix_with).
pub fn decode_ref_prefix_with<'a>(
    bytes: &'a [u8],
    limits: &'a Limits,
) -> Result<(ValueRef<'a>, usize), CborError> {
    Scanner::run_prefix(bytes, limits, RefSink)
}

/// The [`Sink`] that builds a [`ValueRef`].
struct RefSink;

impl<'a> Sink<'a> for RefSink {
    type Out = ValueRef<'a>;
    type Text = &'a str;
    type Seq = Vec<ValueRef<'a>>;
    type Map = Vec<(&'a str, ValueRef<'a>)>;

    #[inline]
    fn text(s: &'a [u8]) -> Option<&'a str> {
        core::str::from_utf8(s).ok()
    }

    #[inline]
    fn null(&self) -> ValueRef<'a> {
        ValueRef::Null
    }

    #[inline]
    fn bool(&self, b: bool) -> ValueRef<'a> {
        ValueRef::Bool(b)
    }

    #[inline]
    fn int(&self, i: i64) -> ValueRef<'a> {
        ValueRef::Integer(i)
    }

    #[inline]
    fn bytes(&self, _: usize, s: &'a [u8]) -> ValueRef<'a> {
        ValueRef::Bytes(s)
    }

    #[inline]
    fn string(&self, s: &'a str) -> ValueRef<'a> {
        ValueRef::String(s)
    }

    #[inline]
    fn link(&self, cid: Cid) -> ValueRef<'a> {
        ValueRef::Link(cid)
    }

    #[inline]
    fn seq(&self, len: usize) -> Vec<ValueRef<'a>> {
        Vec::with_capacity(len)
    }

    #[inline]
    fn push(&self, seq: &mut Vec<ValueRef<'a>>, item: ValueRef<'a>) {
        seq.push(item);
    }

    #[inline]
    fn end_seq(&self, seq: Vec<ValueRef<'a>>) -> ValueRef<'a> {
        ValueRef::Array(seq)
    }

    #[inline]
    fn map(&self, len: usize) -> Vec<(&'a str, ValueRef<'a>)> {
        Vec::with_capacity(len)
    }

    #[inline]
    fn insert(&self, map: &mut Vec<(&'a str, ValueRef<'a>)>, key: &'a str, item: ValueRef<'a>) {
        map.push((key, item));
    }

    #[inline]
    fn end_map(&self, map: Vec<(&'a str, ValueRef<'a>)>, blob: bool) -> ValueRef<'a> {
        if blob {
            ValueRef::Blob(map)
        } else {
            ValueRef::Map(map)
        }
    }
}
