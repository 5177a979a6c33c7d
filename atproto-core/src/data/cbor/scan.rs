//! The one strict DAG-CBOR scanner behind [`decode`](super::decode) and
//! [`validate`](super::validate).
//!
//! [`Scanner`] walks the bytes once and makes every check: shortest-form
//! heads, definite lengths, no floats, text keys in canonical order without
//! duplicates, UTF-8, tag 42 holding `0x00 ‖ CIDv1`, `$type` and blob maps,
//! and every [`Limits`] bound. What it produces is up to a [`Sink`]: the
//! decoder's `ValueSink` builds a [`Value`](crate::data::Value), the
//! borrowed decoder's `RefSink` a [`ValueRef`](super::ValueRef), while the
//! validator's `Nothing` builds nothing, so the validate-only path is the same
//! code monomorphised with every build step compiled away: keys are compared
//! in place as byte slices, and the `$type`/blob checks read only the small
//! [`Kind`]s the scanner takes from the bytes of the items under the four
//! keys that matter.

use core::cmp::Ordering;

use cid::Cid;

use super::error::{CborError, CborErrorKind as K};
use crate::data::cid::parse_cid;
use crate::data::limits::Limits;

type R<T> = Result<T, CborError>;

fn err<T>(kind: K, at: usize) -> R<T> {
    Err(CborError::new(kind, at))
}

/// What a scanner produces, item by item. The scanner has made every check
/// before it calls a sink (UTF-8 excepted: see [`Sink::text`]), so no method
/// can fail.
pub(super) trait Sink<'a> {
    /// One decoded item.
    type Out;
    /// A text string or key known to be UTF-8.
    type Text;
    /// An array under construction.
    type Seq;
    /// A map under construction.
    type Map;

    /// `s` as [`Self::Text`], or `None` when it is not UTF-8. The one rule a
    /// sink checks, since a builder needs a `&str` and getting one from a
    /// separate check would validate twice.
    fn text(s: &'a [u8]) -> Option<Self::Text>;

    fn null(&self) -> Self::Out;
    fn bool(&self, b: bool) -> Self::Out;
    fn int(&self, i: i64) -> Self::Out;
    /// A byte string: `s` is `buf[at..at + s.len()]`.
    fn bytes(&self, at: usize, s: &'a [u8]) -> Self::Out;
    fn string(&self, s: Self::Text) -> Self::Out;
    fn link(&self, cid: Cid) -> Self::Out;

    fn seq(&self, len: usize) -> Self::Seq;
    fn push(&self, seq: &mut Self::Seq, item: Self::Out);
    fn end_seq(&self, seq: Self::Seq) -> Self::Out;

    /// A map of `len` entries, to be filled by [`Sink::insert`].
    fn map(&self, len: usize) -> Self::Map;
    fn insert(&self, map: &mut Self::Map, key: Self::Text, item: Self::Out);
    /// The finished map; `blob` when it is a well-formed blob of exactly
    /// the four fields `$type`, `ref`, `mimeType` and `size`.
    fn end_map(&self, map: Self::Map, blob: bool) -> Self::Out;
}

/// What an item turned out to be, as far as the `$type` and blob checks care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Absent,
    Link,
    Str,
    StrEmpty,
    StrBlob,
    UInt,
    Other,
}

impl Kind {
    /// The kind of the item whose canonical encoding (already checked) is
    /// `item`: read from the bytes, so that no sink has to report it.
    #[inline]
    fn of(item: &[u8]) -> Kind {
        match item {
            [0x60] => Kind::StrEmpty,
            [0x64, b'b', b'l', b'o', b'b'] => Kind::StrBlob,
            [ib, ..] => match ib >> 5 {
                0 => Kind::UInt,
                3 => Kind::Str,
                // Only tag 42 gets past the scanner.
                6 => Kind::Link,
                _ => Kind::Other,
            },
            [] => Kind::Absent,
        }
    }
}

pub(super) struct Scanner<'a, S> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    sink: S,
}

impl<'a, S: Sink<'a>> Scanner<'a, S> {
    /// Scans exactly one value filling all of `buf`.
    pub(super) fn run(buf: &'a [u8], limits: &'a Limits, sink: S) -> R<S::Out> {
        let (out, used) = Self::run_prefix(buf, limits, sink)?;
        if used != buf.len() {
            return err(K::TrailingBytes, used);
        }
        Ok(out)
    }

    /// Scans one value at the start of `buf`; returns it and the bytes it
    /// took (what follows is left to the caller).
    pub(super) fn run_prefix(buf: &'a [u8], limits: &'a Limits, sink: S) -> R<(S::Out, usize)> {
        if buf.len() > limits.max_size {
            return err(K::TooLarge, 0);
        }
        let mut s = Scanner {
            buf,
            pos: 0,
            limits,
            sink,
        };
        let out = s.value(0)?;
        Ok((out, s.pos))
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    fn byte(&mut self) -> R<u8> {
        match self.buf.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => err(K::UnexpectedEof, self.pos),
        }
    }

    /// Takes `n` bytes; fails without allocating when fewer are left.
    #[inline]
    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        let n = match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => n,
            _ => return err(K::UnexpectedEof, self.pos),
        };
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The argument of a head whose first byte had additional info `info`,
    /// rejecting non-shortest forms.
    #[inline]
    fn arg(&mut self, info: u8, start: usize) -> R<u64> {
        let (n, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (1, 24),
            25 => (2, 0x100),
            26 => (4, 0x1_0000),
            27 => (8, 0x1_0000_0000),
            31 => return err(K::IndefiniteLength, start),
            _ => return err(K::InvalidHeader, start),
        };
        let v = self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if v < min {
            return err(K::NonCanonicalInteger, start);
        }
        Ok(v)
    }

    fn container_len(&self, arg: u64, min_item: u64, start: usize) -> R<usize> {
        if arg > self.limits.max_container_len as u64 {
            return err(K::TooManyElements, start);
        }
        // Every element needs at least `min_item` bytes: refuse a length the
        // rest of the input cannot hold before reserving memory for it.
        if arg.saturating_mul(min_item) > self.remaining() as u64 {
            return err(K::UnexpectedEof, self.pos);
        }
        Ok(arg as usize)
    }

    /// An item inside a container: short text strings and small integers,
    /// the bulk of record fields, are read in place; anything else goes
    /// through [`Self::value`].
    #[inline(always)]
    fn item(&mut self, depth: usize) -> R<S::Out> {
        let start = self.pos;
        if let Some(&ib) = self.buf.get(start) {
            let info = usize::from(ib & 0x1f);
            match ib >> 5 {
                3 if info <= 24 => {
                    // A one-byte length must be at least 24 (shortest form);
                    // anything else is left to `value` to report.
                    let (from, len) = match info {
                        24 => match self.buf.get(start + 1) {
                            Some(&n) if n >= 24 => (start + 2, usize::from(n)),
                            _ => return self.value(depth),
                        },
                        _ => (start + 1, info),
                    };
                    if let Some(s) = self.buf.get(from..from + len) {
                        self.pos = from + len;
                        let Some(text) = S::text(s) else {
                            return err(K::InvalidUtf8, start);
                        };
                        return Ok(self.sink.string(text));
                    }
                }
                0 if info < 24 => {
                    self.pos = start + 1;
                    return Ok(self.sink.int(info as i64));
                }
                _ => {}
            }
        }
        self.value(depth)
    }

    fn value(&mut self, depth: usize) -> R<S::Out> {
        let start = self.pos;
        let ib = self.byte()?;
        let major = ib >> 5;
        let info = ib & 0x1f;
        if major == 7 {
            return match info {
                20 => Ok(self.sink.bool(false)),
                21 => Ok(self.sink.bool(true)),
                22 => Ok(self.sink.null()),
                25..=27 => err(K::Float, start),
                28..=31 => err(K::InvalidHeader, start),
                _ => err(K::InvalidSimpleValue, start),
            };
        }
        if info == 31 && matches!(major, 0 | 1 | 6) {
            return err(K::InvalidHeader, start);
        }
        let arg = self.arg(info, start)?;
        match major {
            0 | 1 => {
                if arg > i64::MAX as u64 {
                    return err(K::IntegerOverflow, start);
                }
                Ok(self.sink.int(if major == 0 {
                    arg as i64
                } else {
                    !(arg as i64)
                }))
            }
            2 => {
                let at = self.pos;
                let s = self.take(arg)?;
                Ok(self.sink.bytes(at, s))
            }
            3 => {
                let s = self.take(arg)?;
                let Some(text) = S::text(s) else {
                    return err(K::InvalidUtf8, start);
                };
                Ok(self.sink.string(text))
            }
            4 => {
                if depth >= self.limits.max_depth {
                    return err(K::TooDeep, start);
                }
                let len = self.container_len(arg, 1, start)?;
                let mut seq = self.sink.seq(len);
                for _ in 0..len {
                    let item = self.item(depth + 1)?;
                    self.sink.push(&mut seq, item);
                }
                Ok(self.sink.end_seq(seq))
            }
            5 => {
                if depth >= self.limits.max_depth {
                    return err(K::TooDeep, start);
                }
                self.map(arg, depth, start)
            }
            6 => {
                if arg != 42 {
                    return err(K::UnsupportedTag(arg), start);
                }
                let cid = self.link(start)?;
                Ok(self.sink.link(cid))
            }
            _ => err(K::InvalidHeader, start),
        }
    }

    fn map(&mut self, arg: u64, depth: usize, start: usize) -> R<S::Out> {
        let len = self.container_len(arg, 2, start)?;
        let mut map = self.sink.map(len);
        let mut prev: Option<&'a [u8]> = None;
        // The kinds of the items under the four keys the data model gives
        // meaning to.
        let (mut ty, mut rf, mut size, mut mime) =
            (Kind::Absent, Kind::Absent, Kind::Absent, Kind::Absent);
        for _ in 0..len {
            let key_start = self.pos;
            let ib = self.byte()?;
            if ib >> 5 != 3 {
                return err(K::NonStringMapKey, key_start);
            }
            let klen = self.arg(ib & 0x1f, key_start)?;
            if klen > self.limits.max_key_len as u64 {
                return err(K::KeyTooLong, key_start);
            }
            let key = self.take(klen)?;
            if let Some(p) = prev {
                match (p.len(), p).cmp(&(key.len(), key)) {
                    Ordering::Less => {}
                    Ordering::Equal => return err(K::DuplicateMapKey, key_start),
                    Ordering::Greater => return err(K::UnsortedMapKeys, key_start),
                }
            }
            prev = Some(key);
            let Some(text) = S::text(key) else {
                return err(K::InvalidUtf8, key_start);
            };
            let item_start = self.pos;
            let item = self.item(depth + 1)?;
            let slot = match key {
                b"$type" => Some(&mut ty),
                b"ref" => Some(&mut rf),
                b"size" => Some(&mut size),
                b"mimeType" => Some(&mut mime),
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = Kind::of(&self.buf[item_start..self.pos]);
            }
            self.sink.insert(&mut map, text, item);
        }
        let blob = match ty {
            Kind::Absent | Kind::Str => false,
            Kind::StrBlob => {
                let why = match (rf, mime, size) {
                    (Kind::Absent, _, _) => Some("blob is missing `ref`"),
                    (k, _, _) if k != Kind::Link => Some("blob `ref` must be a link"),
                    (_, Kind::Absent, _) => Some("blob is missing `mimeType`"),
                    (_, k, _) if !matches!(k, Kind::Str | Kind::StrEmpty | Kind::StrBlob) => {
                        Some("blob `mimeType` must be a string")
                    }
                    (_, _, Kind::Absent) => Some("blob is missing `size`"),
                    (_, _, k) if k != Kind::UInt => {
                        Some("blob `size` must be a non-negative integer")
                    }
                    _ => None,
                };
                if let Some(why) = why {
                    return err(K::InvalidBlob(why), start);
                }
                len == 4
            }
            _ => return err(K::InvalidType, start),
        };
        Ok(self.sink.end_map(map, blob))
    }

    /// The payload of tag 42: a byte string `0x00 ‖ binary CIDv1`.
    fn link(&mut self, start: usize) -> R<Cid> {
        let ib = self.byte()?;
        if ib >> 5 != 2 {
            return err(K::InvalidCid, start);
        }
        let len = self.arg(ib & 0x1f, self.pos - 1)?;
        let payload = self.take(len)?;
        let Some((&0, cid_bytes)) = payload.split_first() else {
            return err(K::InvalidCid, start);
        };
        if cid_bytes.len() > self.limits.max_cid_len {
            return err(K::InvalidCid, start);
        }
        parse_cid(cid_bytes).or_else(|e| err(K::MalformedCid(e), start))
    }
}
