//! [`RecordPath`]: the validated path of a record in a repository,
//! `<collection>/<rkey>`, which is also its key in the MST.
//!
//! # Which paths are valid
//!
//! A path is valid when it follows the MST key rules (SPEC-NOTES §4):
//! exactly one `/`, a non-empty collection before it and a non-empty record
//! key after it, only the bytes `[a-zA-Z0-9_~\-:.]` besides the `/`, and at
//! most [`MAX_PATH_LEN`] bytes. These are the rules for what any repository
//! may hold, so they are what parsing ([`FromStr`](core::str::FromStr),
//! `TryFrom`, serde), reading and verifying accept: the collection need not
//! be an NSID nor the record key a valid [`RecordKey`] (the interop
//! commit-proof vectors hold keys such as `A0/374913`, and the reference
//! implementations read them).
//!
//! Writes build their paths from typed parts with [`RecordPath::new`]
//! (an [`Nsid`] and a [`RecordKey`]), so a repository this crate writes
//! holds only NSID collections and valid record keys. The typed accessors
//! [`RecordPath::collection_nsid`] and [`RecordPath::record_key`] check the
//! stricter syntax when a caller needs it.
//!
//! # Representation
//!
//! Paths are the MST's keys, so they are built and compared on its hot
//! path. A path of up to 46 bytes (almost every real one:
//! `app.bsky.feed.post/3jzfcijpj2z2a` is 32) is stored inline with no heap
//! allocation; a longer one takes one boxed slice. Either way the value is
//! 48 bytes, clones of short paths are a copy, and comparisons are bytewise
//! (the MST order).
//!
//! ```
//! use atproto_core::syntax::{Nsid, RecordKey};
//! use atproto_repo::RecordPath;
//!
//! let path: RecordPath = "app.bsky.feed.post/3jzfcijpj2z2a".parse()?;
//! assert_eq!(path.collection(), "app.bsky.feed.post");
//! assert_eq!(path.rkey(), "3jzfcijpj2z2a");
//!
//! let nsid: Nsid = "app.bsky.feed.post".parse()?;
//! let rkey: RecordKey = "3jzfcijpj2z2a".parse()?;
//! assert_eq!(RecordPath::new(&nsid, &rkey), path);
//!
//! assert!("app.bsky.feed.post".parse::<RecordPath>().is_err()); // no `/`
//! assert!("a/b/c".parse::<RecordPath>().is_err()); // two `/`
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};

use atproto_core::syntax::{Nsid, RecordKey, SyntaxError};

use crate::suffix::Suffix;

/// The longest record path, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// Paths up to this many bytes are stored inline.
const INLINE: usize = 46;

/// A validated record path `<collection>/<rkey>`: a repository's MST key.
///
/// See the [module docs](self) for the rules and the representation.
/// Ordered bytewise (the MST order); displays, debugs and serializes as its
/// string.
#[derive(Clone)]
pub struct RecordPath(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

// A path is as small as the tree's entries were built around.
const _: () = assert!(core::mem::size_of::<RecordPath>() == 48);

impl RecordPath {
    /// The path of record `rkey` in collection `collection`.
    ///
    /// Cannot fail: NSIDs and record keys use only path bytes, and the
    /// longest NSID (317 bytes) and record key (512) fit together within
    /// [`MAX_PATH_LEN`].
    pub fn new(collection: &Nsid, rkey: &RecordKey) -> Self {
        let (c, r) = (collection.as_str().as_bytes(), rkey.as_str().as_bytes());
        let len = c.len() + 1 + r.len();
        let path = if len <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..c.len()].copy_from_slice(c);
            bytes[c.len()] = b'/';
            bytes[c.len() + 1..len].copy_from_slice(r);
            RecordPath(Repr::Inline {
                len: len as u8,
                bytes,
            })
        } else {
            let mut v = Vec::with_capacity(len);
            v.extend_from_slice(c);
            v.push(b'/');
            v.extend_from_slice(r);
            RecordPath(Repr::Heap(v.into_boxed_slice()))
        };
        debug_assert!(validate(path.as_bytes()).is_ok());
        path
    }

    /// Wraps bytes that are already known to be a valid path (the MST node
    /// decoder checks every key it accepts).
    pub(crate) fn from_checked(bytes: &[u8]) -> Self {
        debug_assert!(validate(bytes).is_ok());
        if bytes.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            RecordPath(Repr::Inline {
                len: bytes.len() as u8,
                bytes: buf,
            })
        } else {
            RecordPath(Repr::Heap(bytes.into()))
        }
    }

    /// Whether `s` is a valid path (the check of [`FromStr`](core::str::FromStr)).
    pub fn is_valid(s: &str) -> bool {
        validate(s.as_bytes()).is_ok()
    }

    /// The path's bytes (ASCII).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        // Every constructor checked the bytes, all ASCII: the fallback is
        // unreachable.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The collection and the record key, split at the `/`.
    pub fn split(&self) -> (&str, &str) {
        self.as_str().split_once('/').unwrap_or_default()
    }

    /// The collection: the part before the `/` (an NSID in paths this crate
    /// writes, not necessarily in paths it reads).
    pub fn collection(&self) -> &str {
        self.split().0
    }

    /// The record key: the part after the `/`.
    pub fn rkey(&self) -> &str {
        self.split().1
    }

    /// The collection as an [`Nsid`].
    ///
    /// # Errors
    /// The [`SyntaxError`] when the collection is not a valid NSID.
    pub fn collection_nsid(&self) -> Result<Nsid, SyntaxError> {
        self.collection().parse()
    }

    /// The record key as a [`RecordKey`].
    ///
    /// # Errors
    /// The [`SyntaxError`] when it is not a valid record key (`.` and `..`
    /// are valid path halves but not record keys).
    pub fn record_key(&self) -> Result<RecordKey, SyntaxError> {
        self.rkey().parse()
    }

    /// The path's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Always `false`: a path holds at least `c/r`. Present because `len` is.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl PartialEq for RecordPath {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for RecordPath {}

impl PartialOrd for RecordPath {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RecordPath {
    /// Bytewise, the order of the MST (and of `str` on ASCII).
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for RecordPath {
    /// As the `str`, so that maps keyed by paths can be searched by `&str`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for RecordPath {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for RecordPath {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl core::borrow::Borrow<str> for RecordPath {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<RecordPath> for RecordPath {
    /// Lets functions take owned paths and references alike
    /// (`K: AsRef<RecordPath>`).
    fn as_ref(&self) -> &RecordPath {
        self
    }
}

impl AsRef<str> for RecordPath {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RecordPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RecordPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::str::FromStr for RecordPath {
    type Err = RecordPathError;

    fn from_str(s: &str) -> Result<Self, RecordPathError> {
        validate(s.as_bytes())?;
        Ok(Self::from_checked(s.as_bytes()))
    }
}

impl TryFrom<&str> for RecordPath {
    type Error = RecordPathError;

    fn try_from(s: &str) -> Result<Self, RecordPathError> {
        s.parse()
    }
}

impl TryFrom<String> for RecordPath {
    type Error = RecordPathError;

    /// Keeps the string's buffer for a path too long to store inline.
    fn try_from(s: String) -> Result<Self, RecordPathError> {
        validate(s.as_bytes())?;
        if s.len() <= INLINE {
            Ok(Self::from_checked(s.as_bytes()))
        } else {
            Ok(RecordPath(Repr::Heap(s.into_bytes().into_boxed_slice())))
        }
    }
}

impl From<RecordPath> for String {
    fn from(path: RecordPath) -> Self {
        String::from(path.as_str())
    }
}

impl serde::Serialize for RecordPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for RecordPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RecordPath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record path `<collection>/<rkey>`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RecordPath, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RecordPath, E> {
                RecordPath::try_from(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_string(Visitor)
    }
}

/// Why a string is not a valid [`RecordPath`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid record path {path:?}: {reason}{}", Suffix(" at byte ", .offset.as_ref()))]
#[non_exhaustive]
pub struct RecordPathError {
    /// The input (lossily decoded when it was not UTF-8, cut after
    /// [`MAX_PATH_LEN`] + 1 bytes).
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
    /// The byte offset of the offending character, when one is to blame.
    pub offset: Option<usize>,
}

/// Checks `path` against the MST key rules (see the [module docs](self)).
#[inline]
pub(crate) fn validate(path: &[u8]) -> Result<(), RecordPathError> {
    match scan_key_bytes(path) {
        Some((1, slash)) if slash > 0 && slash + 1 < path.len() && path.len() <= MAX_PATH_LEN => {
            Ok(())
        }
        _ => Err(invalid(path)),
    }
}

/// Scans bytes of a path: `None` if one is neither allowed nor `/`, else how
/// many `/` there are and where the last one is.
#[inline]
pub(crate) fn scan_key_bytes(bytes: &[u8]) -> Option<(usize, usize)> {
    // One branch-free pass: paths are short, so separate passes for the
    // table, the count and the position cost more than they save.
    let mut all_allowed = true;
    let mut slashes = 0;
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        all_allowed &= KEY_OR_SLASH[usize::from(b)];
        let slash = b == b'/';
        slashes += usize::from(slash);
        last = if slash { i } else { last };
    }
    all_allowed.then_some((slashes, last))
}

/// Says why `path` is not valid (called once `validate` found it is not).
#[cold]
fn invalid(path: &[u8]) -> RecordPathError {
    let (reason, offset) = if path.is_empty() {
        ("empty path", None)
    } else if path.len() > MAX_PATH_LEN {
        ("longer than 1024 bytes", None)
    } else {
        match path.iter().position(|&b| !KEY_OR_SLASH[usize::from(b)]) {
            Some(at) => ("character outside [a-zA-Z0-9_~-:.] and '/'", Some(at)),
            None => match path.iter().position(|&b| b == b'/') {
                None => ("no '/' between collection and record key", None),
                Some(0) => ("empty collection", Some(0)),
                Some(slash) => match path[slash + 1..].iter().position(|&b| b == b'/') {
                    Some(at) => ("more than one '/'", Some(slash + 1 + at)),
                    None => ("empty record key", Some(slash + 1)),
                },
            },
        }
    };
    RecordPathError {
        path: String::from_utf8_lossy(&path[..path.len().min(MAX_PATH_LEN + 1)]).into_owned(),
        reason,
        offset,
    }
}

/// Bytes allowed in a path besides the one `/`: `[a-zA-Z0-9_~\-:.]`.
const KEY_OR_SLASH: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'~' | b'-' | b':' | b'.' | b'/');
        b += 1;
    }
    t
};
