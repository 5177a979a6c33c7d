//! The strict DAG-CBOR decoder for untrusted input.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;
use cid::{Cid, Version};

use super::error::{CborError, CborErrorKind as K};
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
    Decoder::run(bytes, None, limits)
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
    Decoder::run(bytes, Some(bytes), limits)
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    src: Option<&'a Bytes>,
}

type DResult<T> = core::result::Result<T, CborError>;

fn err<T>(kind: K, offset: usize) -> DResult<T> {
    Err(CborError::new(kind, offset))
}

impl<'a> Decoder<'a> {
    fn run(buf: &'a [u8], src: Option<&'a Bytes>, limits: &'a Limits) -> DResult<Value> {
        if buf.len() > limits.max_size {
            return err(K::TooLarge, 0);
        }
        let mut d = Decoder {
            buf,
            pos: 0,
            limits,
            src,
        };
        let v = d.value(0)?;
        if d.pos != buf.len() {
            return err(K::TrailingBytes, d.pos);
        }
        Ok(v)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> DResult<u8> {
        match self.buf.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => err(K::UnexpectedEof, self.pos),
        }
    }

    /// Takes `n` bytes; fails without allocating when fewer are left.
    fn take(&mut self, n: u64) -> DResult<&'a [u8]> {
        let n = match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => n,
            _ => return err(K::UnexpectedEof, self.pos),
        };
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: u64) -> DResult<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The argument of a head whose first byte had additional info `info`,
    /// rejecting non-shortest forms.
    fn arg(&mut self, info: u8, start: usize) -> DResult<u64> {
        let (v, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (self.be(1)?, 24),
            25 => (self.be(2)?, 0x100),
            26 => (self.be(4)?, 0x1_0000),
            27 => (self.be(8)?, 0x1_0000_0000),
            31 => return err(K::IndefiniteLength, start),
            _ => return err(K::InvalidHeader, start),
        };
        if v < min {
            return err(K::NonCanonicalInteger, start);
        }
        Ok(v)
    }

    fn container_len(&self, arg: u64, min_item: u64, start: usize) -> DResult<usize> {
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

    fn value(&mut self, depth: usize) -> DResult<Value> {
        let start = self.pos;
        let ib = self.byte()?;
        let major = ib >> 5;
        let info = ib & 0x1f;
        if major == 7 {
            return match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
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
            0 => {
                if arg > i64::MAX as u64 {
                    return err(K::IntegerOverflow, start);
                }
                Ok(Value::Integer(arg as i64))
            }
            1 => {
                if arg > i64::MAX as u64 {
                    return err(K::IntegerOverflow, start);
                }
                Ok(Value::Integer(!(arg as i64)))
            }
            2 => {
                let begin = self.pos;
                let s = self.take(arg)?;
                Ok(Value::Bytes(match self.src {
                    Some(src) => src.slice(begin..begin + s.len()),
                    None => Bytes::copy_from_slice(s),
                }))
            }
            3 => {
                let s = self.take(arg)?;
                match core::str::from_utf8(s) {
                    Ok(s) => Ok(Value::String(String::from(s))),
                    Err(_) => err(K::InvalidUtf8, start),
                }
            }
            4 => {
                if depth >= self.limits.max_depth {
                    return err(K::TooDeep, start);
                }
                let len = self.container_len(arg, 1, start)?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::Array(items))
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
                self.link(start).map(Value::Link)
            }
            _ => err(K::InvalidHeader, start),
        }
    }

    fn map(&mut self, arg: u64, depth: usize, start: usize) -> DResult<Value> {
        let len = self.container_len(arg, 2, start)?;
        let mut map = BTreeMap::new();
        let mut prev: Option<&'a [u8]> = None;
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
                    core::cmp::Ordering::Less => {}
                    core::cmp::Ordering::Equal => return err(K::DuplicateMapKey, key_start),
                    core::cmp::Ordering::Greater => return err(K::UnsortedMapKeys, key_start),
                }
            }
            prev = Some(key);
            let key = match core::str::from_utf8(key) {
                Ok(k) => String::from(k),
                Err(_) => return err(K::InvalidUtf8, key_start),
            };
            let v = self.value(depth + 1)?;
            map.insert(key, v);
        }
        if let Some(t) = map.get("$type") {
            if !matches!(t, Value::String(s) if !s.is_empty()) {
                return err(K::InvalidType, start);
            }
            match check_blob_map(&map) {
                Ok(Some(blob)) => return Ok(Value::Blob(blob)),
                Ok(None) => {}
                Err(why) => return err(K::InvalidBlob(why), start),
            }
        }
        Ok(Value::Map(map))
    }

    /// The payload of tag 42: a byte string `0x00 ‖ binary CIDv1`.
    fn link(&mut self, start: usize) -> DResult<Cid> {
        let ib = self.byte()?;
        if ib >> 5 != 2 {
            return err(K::InvalidCid, start);
        }
        let len = self.arg(ib & 0x1f, self.pos - 1)?;
        let payload = self.take(len)?;
        let Some((&0, mut cid_bytes)) = payload.split_first() else {
            return err(K::InvalidCid, start);
        };
        if cid_bytes.len() > self.limits.max_cid_len {
            return err(K::InvalidCid, start);
        }
        match Cid::read_bytes(&mut cid_bytes) {
            Ok(cid) if cid_bytes.is_empty() && cid.version() == Version::V1 => Ok(cid),
            _ => err(K::InvalidCid, start),
        }
    }
}
