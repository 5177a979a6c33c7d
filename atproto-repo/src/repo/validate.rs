//! A validate-only pass over DAG-CBOR: the checks of the core strict decoder
//! (`atproto_core::data::cbor::decode_with`), without building a `Value`.
//!
//! Loading a repository checks every record; building a tree of values for
//! each one only to drop it costs more than the checks themselves, so this
//! scanner walks the bytes once, allocates nothing, and reports the same
//! [`CborError`] kinds at the same offsets.

use atproto_core::cid::{Cid, Version};
use atproto_core::data::{CborError, CborErrorKind as K, Limits};

/// Checks that `bytes` is one record: a canonical DAG-CBOR map of the
/// ATProto data model under `limits` (see [`validate_dag_cbor`]).
///
/// # Errors
/// As [`validate_dag_cbor`], or [`CborErrorKind::InvalidType`](K::InvalidType)
/// at offset 0 when the top-level item is not a map.
pub fn validate_record(bytes: &[u8], limits: &Limits) -> Result<(), CborError> {
    if bytes.first().is_some_and(|b| b >> 5 != 5) {
        return Err(CborError::new(K::InvalidType, 0));
    }
    validate_dag_cbor(bytes, limits)
}

/// Checks that `bytes` is exactly one canonical DAG-CBOR value of the ATProto
/// data model under `limits`: shortest-form heads, definite lengths, no
/// floats, text keys in canonical order without duplicates, valid UTF-8, tag
/// 42 only (holding `0x00 ‖ CIDv1`), `$type` a non-empty string, well-formed
/// blob maps, no trailing bytes.
///
/// # Errors
/// The first problem, as the core decoder reports it.
pub fn validate_dag_cbor(bytes: &[u8], limits: &Limits) -> Result<(), CborError> {
    if bytes.len() > limits.max_size {
        return Err(CborError::new(K::TooLarge, 0));
    }
    let mut s = Scanner {
        buf: bytes,
        pos: 0,
        limits,
    };
    s.value(0)?;
    if s.pos != bytes.len() {
        return Err(CborError::new(K::TrailingBytes, s.pos));
    }
    Ok(())
}

/// What a value turned out to be, as far as blob and `$type` checks care.
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

struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
}

type R<T> = Result<T, CborError>;

/// Whether `s` is UTF-8; record strings and keys are nearly always ASCII,
/// which a word-at-a-time scan settles faster than a full decode.
#[inline]
fn is_utf8(s: &[u8]) -> bool {
    s.is_ascii() || core::str::from_utf8(s).is_ok()
}

fn err<T>(kind: K, at: usize) -> R<T> {
    Err(CborError::new(kind, at))
}

impl<'a> Scanner<'a> {
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

    #[inline]
    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        let rest = self.buf.len() - self.pos;
        let n = match usize::try_from(n) {
            Ok(n) if n <= rest => n,
            _ => return err(K::UnexpectedEof, self.pos),
        };
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

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

    fn container_len(&self, arg: u64, min_item: u64, start: usize) -> R<()> {
        if arg > self.limits.max_container_len as u64 {
            return err(K::TooManyElements, start);
        }
        if arg.saturating_mul(min_item) > (self.buf.len() - self.pos) as u64 {
            return err(K::UnexpectedEof, self.pos);
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> R<Kind> {
        let start = self.pos;
        let ib = self.byte()?;
        let major = ib >> 5;
        let info = ib & 0x1f;
        if major == 7 {
            return match info {
                20..=22 => Ok(Kind::Other),
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
                Ok(if major == 0 { Kind::UInt } else { Kind::Other })
            }
            2 => {
                self.take(arg)?;
                Ok(Kind::Other)
            }
            3 => {
                let s = self.take(arg)?;
                if !is_utf8(s) {
                    return err(K::InvalidUtf8, start);
                }
                Ok(match s {
                    b"" => Kind::StrEmpty,
                    b"blob" => Kind::StrBlob,
                    _ => Kind::Str,
                })
            }
            4 => {
                if depth >= self.limits.max_depth {
                    return err(K::TooDeep, start);
                }
                self.container_len(arg, 1, start)?;
                for _ in 0..arg {
                    self.value(depth + 1)?;
                }
                Ok(Kind::Other)
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
                self.link(start)?;
                Ok(Kind::Link)
            }
            _ => err(K::InvalidHeader, start),
        }
    }

    fn map(&mut self, arg: u64, depth: usize, start: usize) -> R<Kind> {
        self.container_len(arg, 2, start)?;
        let mut prev: Option<&'a [u8]> = None;
        // The kinds of the four keys the data model gives meaning to.
        let (mut ty, mut rf, mut size, mut mime) =
            (Kind::Absent, Kind::Absent, Kind::Absent, Kind::Absent);
        for _ in 0..arg {
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
            if !is_utf8(key) {
                return err(K::InvalidUtf8, key_start);
            }
            let kind = self.value(depth + 1)?;
            match key {
                b"$type" => ty = kind,
                b"ref" => rf = kind,
                b"size" => size = kind,
                b"mimeType" => mime = kind,
                _ => {}
            }
        }
        match ty {
            Kind::Absent | Kind::Str => {}
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
            }
            _ => return err(K::InvalidType, start),
        }
        Ok(Kind::Other)
    }

    fn link(&mut self, start: usize) -> R<()> {
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
            Ok(cid) if cid_bytes.is_empty() && cid.version() == Version::V1 => Ok(()),
            _ => err(K::InvalidCid, start),
        }
    }
}
