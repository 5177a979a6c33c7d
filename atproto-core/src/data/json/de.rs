//! The one-pass parser behind [`from_slice_with`](super::from_slice_with):
//! ATProto JSON text straight into [`Value`], driven by
//! `serde_json::Deserializer`, with no `serde_json::Value` in between.
//!
//! It gives exactly what `from_json_with(&serde_json::from_slice(text)?)`
//! gives, errors included, except that a repeated object key is rejected
//! ([`JsonErrorKind::DuplicateKey`]) instead of silently keeping the last
//! value. To get the same error when the text has several problems:
//!
//! - A data-model error does not stop the parse. It travels as the `Ok` side
//!   of serde's result ([`Parsed`]) and the rest of the text is still read, so
//!   that a syntax error anywhere wins, as it did when the whole text was
//!   parsed first. serde's own error is only ever a syntax error (including
//!   `serde_json`'s recursion limit and trailing characters).
//! - Parts whose content cannot change the outcome (past the depth or size
//!   limit, after a failing array element) are read with [`Skip`] or
//!   [`Shallow`], which still go through `deserialize_any` like
//!   `serde_json::Value` does: numbers are range-checked and nesting counts
//!   toward the recursion limit exactly as before (`deserialize_ignored_any`
//!   would do neither).
//! - An object ends in [`finish_object`](super::finish_object), the rules
//!   `from_json_with` applies too; among failing members the one under the
//!   smallest key is reported, as when iterating a `serde_json::Map` (in key
//!   order unless `serde_json`'s `preserve_order` feature is on).
//! - Under `serde_json`'s `arbitrary_precision` feature, numbers beyond
//!   `i64`/`u64` arrive as a map ([`NUMBER_TOKEN`]) and are read as
//!   `serde_json::Value` reads them.
//! - A repeated key rejects its object before any other rule of that object;
//!   the path points at the repeated member.

use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{JsonError, JsonErrorKind, check_container, finish_object, integral, number, unsigned};
use crate::data::limits::Limits;
use crate::data::value::Value;

/// One JSON value read: the data-model value, or the error
/// `from_json_with` would report for it.
type Parsed = Result<Value, JsonError>;

/// Parses the text `de` reads (already checked against `limits.max_size`).
pub(super) fn parse<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    limits: &Limits,
) -> Result<Value, JsonError> {
    let parsed = Node { depth: 0, limits }
        .deserialize(&mut de)
        .and_then(|parsed| de.end().map(|()| parsed));
    parsed.map_err(|e| JsonError::new(JsonErrorKind::Syntax(e.to_string())))?
}

/// Reads one value at `depth` (the top level is at 0) into a [`Value`].
#[derive(Clone, Copy)]
struct Node<'l> {
    depth: usize,
    limits: &'l Limits,
}

impl Node<'_> {
    fn child(self) -> Self {
        Node {
            depth: self.depth + 1,
            ..self
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        Ok(Ok(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Parsed, E> {
        Ok(Ok(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Parsed, E> {
        Ok(Ok(Value::Integer(i)))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Parsed, E> {
        Ok(unsigned(u).map(Value::Integer))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Parsed, E> {
        Ok(integral(f).map(Value::Integer))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Parsed, E> {
        Ok(Ok(Value::String(s.into())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Parsed, E> {
        Ok(Ok(Value::String(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        let limits = self.limits;
        let mut out = Vec::new();
        let mut failed = None;
        // Elements are converted while they can decide the outcome: within
        // the depth and size limits, up to the first failing one.
        if self.depth < limits.max_depth {
            while out.len() < limits.max_container_len {
                match seq.next_element_seed(self.child())? {
                    None => return Ok(Ok(Value::Array(out))),
                    Some(Ok(v)) => out.push(v),
                    Some(Err(e)) => {
                        failed = Some(e.within(&out.len().to_string()));
                        break;
                    }
                }
            }
        }
        // The rest is only read (for its syntax) and counted.
        let mut len = out.len() + usize::from(failed.is_some());
        while seq.next_element_seed(Skip)?.is_some() {
            len = len.saturating_add(1);
        }
        if let Err(e) = check_container(self.depth, len, limits) {
            return Ok(Err(e));
        }
        Ok(match failed {
            Some(e) => Err(e),
            None => Ok(Value::Array(out)),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Parsed, A::Error> {
        let limits = self.limits;
        let deep = self.depth >= limits.max_depth;
        let mut map = BTreeMap::new();
        // The error of the failing member with the smallest key, and that key.
        let mut failed: Option<(String, JsonError)> = None;
        while let Some(key) = access.next_key::<String>()? {
            if map.is_empty() && key == NUMBER_TOKEN && arbitrary_precision() {
                return number_map(access);
            }
            let value = if deep || map.len() >= limits.max_container_len {
                // The object is rejected whatever its members hold.
                access.next_value_seed(Shallow)?
            } else if key.len() > limits.max_key_len {
                fail(&mut failed, &key, JsonError::new(JsonErrorKind::KeyTooLong));
                access.next_value_seed(Shallow)?
            } else {
                match access.next_value_seed(self.child())? {
                    Ok(v) => v,
                    Err(e) => {
                        fail(&mut failed, &key, e);
                        Value::Null
                    }
                }
            };
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    let key = slot.key();
                    while access.next_entry_seed(Skip, Skip)?.is_some() {}
                    let e = JsonError::new(JsonErrorKind::DuplicateKey(key.clone()));
                    return Ok(Err(e.within(key)));
                }
            }
        }
        Ok(finish_object(
            map,
            failed.map(|(_, e)| e),
            self.depth,
            limits,
        ))
    }
}

/// Records the error `e` of member `key` if no member with a smaller key
/// failed yet.
fn fail(failed: &mut Option<(String, JsonError)>, key: &str, e: JsonError) {
    if failed.as_ref().is_none_or(|(k, _)| key < k.as_str()) {
        *failed = Some((key.into(), e.within(key)));
    }
}

/// Reads a member that is not converted: its string if it is one (all the
/// `$link` / `$bytes` rules look at), else a placeholder.
struct Shallow;

impl<'de> DeserializeSeed<'de> for Shallow {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shallow {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Skip.visit_seq(seq).map(|()| Value::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Skip.visit_map(map).map(|()| Value::Null)
    }
}

/// Reads a value only for its syntax.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry_seed(Skip, Skip)?.is_some() {}
        Ok(())
    }
}

/// With `serde_json`'s `arbitrary_precision` feature (which any crate in a
/// build can turn on), numbers that are not an `i64` or `u64` reach a
/// visitor as a one-entry map under this key, holding the number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether numbers come as [`NUMBER_TOKEN`] maps in this build. Only asked
/// when an object's first key is that token.
fn arbitrary_precision() -> bool {
    struct Probe;
    impl<'de> Visitor<'de> for Probe {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
            Ok(true)
        }
    }
    serde_json::Deserializer::from_slice(b"0.5")
        .deserialize_any(Probe)
        .unwrap_or(false)
}

/// A number under `arbitrary_precision`, its key already read; what
/// `serde_json::Value` makes of it, then [`number`].
fn number_map<'de, A: MapAccess<'de>>(mut access: A) -> Result<Parsed, A::Error> {
    let text: String = access.next_value()?;
    let n: serde_json::Number = text.parse().map_err(de::Error::custom)?;
    Ok(number(&n).map(Value::Integer))
}
