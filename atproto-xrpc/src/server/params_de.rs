//! A serde deserializer over query parameters for methods no catalog
//! defines: a struct's fields come from the pairs of that name, text is
//! parsed into the field's type (integers, floats, booleans `true` /
//! `false`), a sequence takes every value of its name (so `?tag=a` is a
//! one-element `Vec`), and a scalar field given several values is an error.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use crate::params::QueryParams;

/// Why query parameters did not fit the target type.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Reads `T` from the parameters.
pub(crate) fn from_params<T: de::DeserializeOwned>(params: &QueryParams) -> Result<T, Error> {
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in params.pairs() {
        grouped.entry(k.as_str()).or_default().push(v.as_str());
    }
    T::deserialize(Top {
        entries: grouped.into_iter(),
        value: None,
    })
}

struct Top<'a> {
    entries: std::collections::btree_map::IntoIter<&'a str, Vec<&'a str>>,
    value: Option<(&'a str, Vec<&'a str>)>,
}

impl<'de> de::Deserializer<'de> for Top<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Top<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some((k, v));
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (name, values) = self
            .value
            .take()
            .ok_or_else(|| Error("value asked before its key".to_owned()))?;
        seed.deserialize(Values { name, values })
    }
}

/// Every value of one name.
struct Values<'a> {
    name: &'a str,
    values: Vec<&'a str>,
}

impl<'a> Values<'a> {
    fn single(self) -> Result<Text<'a>, Error> {
        match self.values.as_slice() {
            [one] => Ok(Text {
                name: self.name,
                text: one,
            }),
            _ => Err(Error(format!(
                "parameter {:?} is given {} times but takes one value",
                self.name,
                self.values.len()
            ))),
        }
    }
}

/// `Option<T>` is `Some` of what is there (an absent name never reaches
/// here); a newtype is its inner value.
macro_rules! transparent {
    () => {
        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_some(self)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }
    };
}

macro_rules! scalar {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.single()?.$method(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Values<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.values.len() == 1 {
            self.single()?.deserialize_any(visitor)
        } else {
            self.deserialize_seq(visitor)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (name, given) = (self.name, self.values.len());
        let mut seq = Seq {
            items: self.values.into_iter(),
            name,
        };
        let value = visitor.visit_seq(&mut seq)?;
        // A tuple takes a fixed number of values: more are an error, not
        // silently dropped.
        match seq.items.len() {
            0 => Ok(value),
            left => Err(Error(format!(
                "parameter {name:?} is given {given} times but takes {} values",
                given - left
            ))),
        }
    }

    transparent!();

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    scalar! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_identifier
        deserialize_unit
    }

    forward_to_deserialize_any! {
        unit_struct tuple_struct map struct ignored_any
    }
}

struct Seq<'a> {
    items: std::vec::IntoIter<&'a str>,
    name: &'a str,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(text) => seed
                .deserialize(Text {
                    name: self.name,
                    text,
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

/// One value, as text.
struct Text<'a> {
    name: &'a str,
    text: &'a str,
}

impl Text<'_> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        self.text.parse().map_err(|_| {
            Error(format!(
                "parameter {:?} must be {what}, not {:?}",
                self.name, self.text
            ))
        })
    }
}

macro_rules! parsed {
    ($($method:ident => $visit:ident, $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.parse::<$ty>($what)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Text<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.text)
    }

    parsed! {
        deserialize_bool => visit_bool, bool, "true or false";
        deserialize_i8 => visit_i8, i8, "an integer";
        deserialize_i16 => visit_i16, i16, "an integer";
        deserialize_i32 => visit_i32, i32, "an integer";
        deserialize_i64 => visit_i64, i64, "an integer";
        deserialize_i128 => visit_i128, i128, "an integer";
        deserialize_u8 => visit_u8, u8, "a non-negative integer";
        deserialize_u16 => visit_u16, u16, "a non-negative integer";
        deserialize_u32 => visit_u32, u32, "a non-negative integer";
        deserialize_u64 => visit_u64, u64, "a non-negative integer";
        deserialize_u128 => visit_u128, u128, "a non-negative integer";
        deserialize_f32 => visit_f32, f32, "a number";
        deserialize_f64 => visit_f64, f64, "a number";
        deserialize_char => visit_char, char, "one character";
    }

    transparent!();

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.text.into_deserializer())
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}
