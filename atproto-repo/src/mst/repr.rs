//! Compact in-memory forms of keys and CIDs.
//!
//! A tree of 100,000 keys spends most of its time walking entries, so an
//! entry keeps its key inline when it is short (almost every repository
//! path is) and its value as a bare SHA-256 digest when the CID is the usual
//! CIDv1 + sha2-256: an entry is 112 bytes with no further allocation,
//! instead of a 96-byte `Cid` plus a separately allocated key.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use atproto_core::Cid;
use atproto_core::cid::Version;
use atproto_core::data::{SHA2_256, SHA2_256_LEN, sha256_cid};

use super::node::{write_cid, write_sha256_link};

/// Keys up to this many bytes are stored inline.
const INLINE_KEY: usize = 46;

/// An MST key (validated ASCII), inline when short.
#[derive(Clone)]
pub(crate) enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<str>),
}

impl Key {
    pub(crate) fn new(s: &str) -> Self {
        if s.len() <= INLINE_KEY {
            let mut bytes = [0u8; INLINE_KEY];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Key::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(s.into())
        }
    }

    /// The key's bytes, without re-checking UTF-8 (for comparisons and
    /// encoding).
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(s) => s.as_bytes(),
        }
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Built from a `&str` prefix, so always valid UTF-8; the
            // fallback is unreachable.
            Key::Inline { len, bytes } => {
                core::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Key::Heap(s) => s,
        }
    }
}

impl Deref for Key {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A value CID: a bare digest for CIDv1 + sha2-256, boxed otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueCid {
    Sha256 {
        codec: u64,
        digest: [u8; SHA2_256_LEN],
    },
    Other(Box<Cid>),
}

impl ValueCid {
    pub(crate) fn new(cid: &Cid) -> Self {
        let mh = cid.hash();
        match <[u8; SHA2_256_LEN]>::try_from(mh.digest()) {
            Ok(digest) if cid.version() == Version::V1 && mh.code() == SHA2_256 => {
                ValueCid::Sha256 {
                    codec: cid.codec(),
                    digest,
                }
            }
            _ => ValueCid::Other(Box::new(*cid)),
        }
    }

    pub(crate) fn to_cid(&self) -> Cid {
        match self {
            ValueCid::Sha256 { codec, digest } => sha256_cid(*codec, digest),
            ValueCid::Other(cid) => **cid,
        }
    }

    /// Writes the CID as DAG-CBOR (tag 42).
    #[inline]
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            ValueCid::Sha256 { codec, digest } if *codec < 0x80 => {
                write_sha256_link(out, *codec as u8, digest);
            }
            other => write_cid(out, &other.to_cid()),
        }
    }
}
