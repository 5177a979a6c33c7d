//! The on-wire MST node: a canonical DAG-CBOR encoder and a strict decoder.
//!
//! A node is `{"e": [{"k", "p", "t", "v"}, ...], "l": CID|null}` with map keys
//! in DAG-CBOR canonical order (shorter first, then bytewise), shortest-form
//! heads, and CIDs as tag 42 over the bytes `0x00 ‖ cid`. Each entry stores
//! its key as `p` (bytes shared with the previous entry's full key) and `k`
//! (the rest). The decoder accepts only that exact form, so a decoded node
//! re-encodes to the same bytes and the same CID.

use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::data::cbor::write_head;
use atproto_core::data::{
    ATPROTO_CID_LEN, CidErrorKind, DAG_CBOR_CODEC, MAX_CID_LEN, SHA2_256_LEN, cbor, parse_cid,
    sha256_cid, sha256_cid_head, split_sha256_cid,
};
use atproto_core::varint::VarintError;

use super::MstError;
use super::key::common_prefix_len;
use crate::record_path::{MAX_PATH_LEN, RecordPath, scan_key_bytes, validate};

/// The most entries a node may hold when decoded from untrusted bytes.
///
/// With fan-out 4 a node of an honestly built tree holds a handful of entries
/// (more than 100 has probability below 10^-12); the cap bounds the work and
/// memory a hostile block can demand while leaving ample room for trees whose
/// keys were chosen to crowd one node. Only decoding enforces it: the tree
/// accepts any key set its owner writes.
pub const MAX_NODE_ENTRIES: usize = 4096;

/// A decoded node, with its keys expanded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeData {
    /// The subtree holding keys below the first entry (`l`).
    pub left: Option<Cid>,
    /// The entries, sorted strictly ascending by key.
    pub entries: Vec<EntryData>,
}

/// One decoded entry of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryData {
    /// The full key.
    pub key: RecordPath,
    /// The value (`v`): the CID of the record.
    pub value: Cid,
    /// The subtree holding keys between this entry and the next (`t`).
    pub right: Option<Cid>,
}

impl NodeData {
    /// The canonical DAG-CBOR encoding of the node.
    ///
    /// The entries must be sorted by key; this is not checked.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 96);
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical DAG-CBOR encoding of the node to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        write_node_head(out, self.entries.len());
        let mut prev: &[u8] = &[];
        for e in &self.entries {
            write_entry(out, prev, e.key.as_bytes(), &e.value, e.right.as_ref());
            prev = e.key.as_bytes();
        }
        write_node_tail(out, self.left.as_ref());
    }

    /// The node's CID: CIDv1, dag-cbor, sha2-256 of [`encode`](Self::encode).
    pub fn cid(&self) -> Cid {
        node_cid(&self.encode())
    }

    /// Decodes a node from untrusted bytes.
    ///
    /// Rejects, with the byte offset: any non-canonical CBOR (long-form
    /// heads, indefinite lengths, map keys missing, extra or out of order),
    /// more than [`MAX_NODE_ENTRIES`] entries, a `p` larger than the previous
    /// key or smaller than the prefix actually shared, keys that are not
    /// valid MST keys or not strictly ascending, CIDs that are not CIDv1 or
    /// longer than [`MAX_CID_LEN`], and trailing bytes.
    /// Heights are not checked here: a node does not know its layer.
    pub fn decode(bytes: &[u8]) -> Result<Self, MstError> {
        let mut refs = NodeRefs::default();
        refs.decode(bytes)?;
        let mut entries = Vec::with_capacity(refs.entries.len());
        for (i, e) in refs.entries.iter().enumerate() {
            entries.push(EntryData {
                key: RecordPath::from_checked(refs.key(i)),
                value: e.value.cid(bytes),
                right: e.right.as_ref().map(|r| r.cid(bytes)),
            });
        }
        Ok(NodeData {
            left: refs.left.as_ref().map(|l| l.cid(bytes)),
            entries,
        })
    }
}

/// A CID inside a node's bytes, as the decoder checked it: where its binary
/// form (after the `0x00` prefix) starts in the node, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkRef {
    at: u32,
    len: u32,
}

impl LinkRef {
    /// The codec and digest of a CIDv1 sha2-256 link with a one-byte codec
    /// (every link an honest repository holds), borrowed from `node`, the
    /// bytes it was decoded from.
    #[inline]
    pub(crate) fn sha256<'a>(&self, node: &'a [u8]) -> Option<(u64, &'a [u8; SHA2_256_LEN])> {
        let at = self.at as usize;
        let (codec, digest) = split_sha256_cid(node.get(at..at + self.len as usize)?)?;
        Some((u64::from(codec), digest))
    }

    /// The link as a [`Cid`]; `node` is the bytes it was decoded from.
    pub(crate) fn cid(&self, node: &[u8]) -> Cid {
        if let Some((codec, digest)) = self.sha256(node) {
            return sha256_cid(codec, digest);
        }
        let at = self.at as usize;
        // The decoder checked these bytes with `parse_cid`: the fallback is
        // unreachable.
        node.get(at..at + self.len as usize)
            .and_then(|b| parse_cid(b).ok())
            .unwrap_or_default()
    }
}

/// One entry of a [`NodeRefs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryRef {
    /// End of the full key in [`NodeRefs::keys`] (it starts where the
    /// previous one ends).
    key_end: u32,
    /// The value (`v`).
    pub(crate) value: LinkRef,
    /// The subtree after this entry (`t`).
    pub(crate) right: Option<LinkRef>,
}

/// A decoded node that borrows its links from the node's bytes and keeps its
/// keys, expanded, in one buffer: decoding allocates nothing once the
/// buffers have grown, so one `NodeRefs` per tree level serves a whole walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeRefs {
    /// The left subtree (`l`).
    pub(crate) left: Option<LinkRef>,
    /// The entries, sorted strictly ascending by key.
    pub(crate) entries: Vec<EntryRef>,
    /// The full keys, one after another.
    keys: Vec<u8>,
}

impl NodeRefs {
    /// The full key of entry `i`.
    #[inline]
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(p) => self.entries[p].key_end as usize,
            None => 0,
        };
        &self.keys[start..self.entries[i].key_end as usize]
    }

    /// Decodes `bytes` into `self` with the checks of [`NodeData::decode`].
    pub(crate) fn decode(&mut self, bytes: &[u8]) -> Result<(), MstError> {
        self.left = None;
        self.entries.clear();
        self.keys.clear();
        let mut r = Reader { buf: bytes, pos: 0 };
        if bytes.len() > u32::MAX as usize {
            return Err(r.error("node larger than 4 GiB"));
        }
        r.expect_map_len(2)?;
        r.expect_key(b"e")?;
        let at = r.pos;
        let count = r.head_of(MAJOR_ARRAY, "expected the entry array `e`")?;
        if count > MAX_NODE_ENTRIES as u64 {
            return Err(MstError::TooManyEntries {
                cid: None,
                count,
                max: MAX_NODE_ENTRIES,
            });
        }
        // Each entry takes at least 15 bytes, so a count beyond what the
        // input could hold is refused before allocating.
        if count as usize > (bytes.len() - r.pos) / 15 {
            return Err(r.error_at(at, "more entries declared than the node has bytes"));
        }
        self.entries.reserve(count as usize);
        let mut prev_start = 0;
        // Where the previous key's `/` is (none before the first entry).
        let mut prev_slash = usize::MAX;
        for i in 0..count as usize {
            r.expect_map_len(4)?;
            r.expect_key(b"k")?;
            let k_at = r.pos;
            let k_len = r.head_of(MAJOR_BYTES, "expected the key suffix `k` as bytes")?;
            if k_len > MAX_PATH_LEN as u64 {
                return Err(r.error_at(k_at, "key suffix longer than 1024 bytes"));
            }
            let suffix = r.take(k_len as usize)?;
            r.expect_key(b"p")?;
            let p_at = r.pos;
            let p = r.head_of(
                MAJOR_UINT,
                "expected the prefix length `p` as an unsigned integer",
            )?;
            let prev_len = self.keys.len() - prev_start;
            if p > prev_len as u64 {
                let reason = if i == 0 {
                    "the first entry's prefix length `p` must be 0"
                } else {
                    "prefix length `p` exceeds the previous key's length"
                };
                return Err(r.error_at(p_at, reason));
            }
            let p = p as usize;
            let start = self.keys.len();
            self.keys.extend_from_within(prev_start..prev_start + p);
            self.keys.extend_from_slice(suffix);
            let (prev, key) = self.keys[prev_start..].split_at(prev_len);
            if i > 0 {
                // `key` is `prev[..p] ‖ suffix`, so one byte decides the
                // order: it sorts after `prev` exactly when the suffix is
                // not empty and, unless `prev` ends at `p`, its first byte
                // is above `prev[p]` (if equal, `p` is not the full shared
                // prefix).
                match (prev.get(p), suffix.first()) {
                    (_, None) => {
                        return Err(r.error_at(k_at, "entry keys are not strictly ascending"));
                    }
                    (Some(b), Some(s)) if s < b => {
                        return Err(r.error_at(k_at, "entry keys are not strictly ascending"));
                    }
                    (Some(b), Some(s)) if s == b => {
                        return Err(r.error_at(
                            p_at,
                            "prefix length `p` is not the full prefix shared with the previous key",
                        ));
                    }
                    _ => debug_assert!(key > prev),
                }
            }
            // As `record_path::validate`, scanning only the suffix: the previous key
            // was valid, so its prefix holds allowed bytes and at most the
            // one `/` at `prev_slash`.
            let valid = match scan_key_bytes(suffix) {
                Some((n, at)) => {
                    let slash = match (prev_slash < p, n) {
                        (true, 0) => Some(prev_slash),
                        (false, 1) => Some(p + at),
                        _ => None,
                    };
                    match slash {
                        Some(slash) if slash > 0 && slash + 1 < key.len() => {
                            prev_slash = slash;
                            key.len() <= MAX_PATH_LEN
                        }
                        _ => false,
                    }
                }
                None => false,
            };
            if !valid {
                debug_assert!(validate(key).is_err());
                return Err(r.error_at(k_at, "entry key is not a valid MST key"));
            }
            debug_assert!(validate(key).is_ok());
            r.expect_key(b"t")?;
            let right = r.nullable_link()?;
            r.expect_key(b"v")?;
            let value = r.link()?;
            prev_start = start;
            self.entries.push(EntryRef {
                key_end: self.keys.len() as u32,
                value,
                right,
            });
        }
        r.expect_key(b"l")?;
        self.left = r.nullable_link()?;
        if r.pos != bytes.len() {
            return Err(r.error("trailing bytes after the node"));
        }
        Ok(())
    }
}

/// The CID of a node's encoding: CIDv1, dag-cbor, sha2-256.
pub fn node_cid(bytes: &[u8]) -> Cid {
    cid_from_digest(&crate::hash::sha256(bytes))
}

/// The CID of a node from its sha2-256 digest: CIDv1, dag-cbor.
pub(crate) fn cid_from_digest(digest: &[u8; SHA2_256_LEN]) -> Cid {
    sha256_cid(DAG_CBOR_CODEC, digest)
}

/// The DAG-CBOR head of a link to a CID of [`ATPROTO_CID_LEN`] bytes: tag
/// 42, a byte string of 37 bytes, and its `0x00` prefix.
pub(crate) const SHA256_LINK_HEAD: [u8; 5] = [0xd8, 0x2a, 0x58, 1 + ATPROTO_CID_LEN as u8, 0x00];

/// The length of such a link: its head and the CID.
const SHA256_LINK_LEN: usize = SHA256_LINK_HEAD.len() + ATPROTO_CID_LEN;

/// Writes a link to the CID with `codec` (below `0x80`) and sha2-256
/// `digest`.
#[inline]
pub(crate) fn write_sha256_link(out: &mut Vec<u8>, codec: u8, digest: &[u8; SHA2_256_LEN]) {
    out.extend_from_slice(&SHA256_LINK_HEAD);
    out.extend_from_slice(&sha256_cid_head(codec));
    out.extend_from_slice(digest);
}

/// Writes the CID of a node (CIDv1, dag-cbor, sha2-256) from its digest.
#[inline]
pub(crate) fn write_node_link(out: &mut Vec<u8>, digest: &[u8; SHA2_256_LEN]) {
    write_sha256_link(out, DAG_CBOR_CODEC as u8, digest);
}

const MAJOR_UINT: u8 = 0;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const CBOR_NULL: u8 = 0xf6;
const CID_TAG: u64 = 42;

/// Writes `cid` as DAG-CBOR: tag 42 over the bytes `0x00 ‖ cid`.
#[inline]
pub(crate) fn write_cid(out: &mut Vec<u8>, cid: &Cid) {
    cbor::write_link(cid, out);
}

#[inline]
fn write_nullable_cid(out: &mut Vec<u8>, cid: Option<&Cid>) {
    match cid {
        Some(cid) => write_cid(out, cid),
        None => out.push(CBOR_NULL),
    }
}

/// Writes the start of a node: the map head, `"e"` and the array head.
#[inline]
pub(crate) fn write_node_head(out: &mut Vec<u8>, entries: usize) {
    out.extend_from_slice(&[0xa2, 0x61, b'e']);
    write_head(out, MAJOR_ARRAY, entries as u64);
}

/// Writes one entry, compressing `key` against the previous entry's key.
fn write_entry(out: &mut Vec<u8>, prev: &[u8], key: &[u8], value: &Cid, right: Option<&Cid>) {
    write_entry_start(out, prev, key);
    write_nullable_cid(out, right);
    write_entry_value_key(out);
    write_cid(out, value);
}

/// Writes an entry up to its `t` link: the map head, `k`, `p` and `"t"`.
#[inline]
pub(crate) fn write_entry_start(out: &mut Vec<u8>, prev: &[u8], key: &[u8]) {
    let p = common_prefix_len(prev, key);
    out.extend_from_slice(&[0xa4, 0x61, b'k']);
    write_head(out, MAJOR_BYTES, (key.len() - p) as u64);
    out.extend_from_slice(&key[p..]);
    out.extend_from_slice(&[0x61, b'p']);
    write_head(out, MAJOR_UINT, p as u64);
    out.extend_from_slice(&[0x61, b't']);
}

/// Writes the map key `"v"`; the value CID follows.
#[inline]
pub(crate) fn write_entry_value_key(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x61, b'v']);
}

/// Writes `null`.
#[inline]
pub(crate) fn write_null(out: &mut Vec<u8>) {
    out.push(CBOR_NULL);
}

/// Writes the end of a node: `"l"` and the left subtree link.
fn write_node_tail(out: &mut Vec<u8>, left: Option<&Cid>) {
    write_node_tail_key(out);
    write_nullable_cid(out, left);
}

/// Writes the map key `"l"`; the left link follows.
#[inline]
pub(crate) fn write_node_tail_key(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x61, b'l']);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error_at(&self, offset: usize, reason: &'static str) -> MstError {
        MstError::MalformedNode {
            cid: None,
            offset,
            reason,
        }
    }

    fn error(&self, reason: &'static str) -> MstError {
        self.error_at(self.pos, reason)
    }

    fn byte(&mut self) -> Result<u8, MstError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.error("unexpected end of input"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MstError> {
        if self.buf.len() - self.pos < n {
            return Err(self.error("unexpected end of input"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a head of major type `major` in shortest form, returning its
    /// argument.
    #[inline]
    fn head_of(&mut self, major: u8, wrong_type: &'static str) -> Result<u64, MstError> {
        // Fast paths: an argument below 24 sits in the initial byte; one
        // from 24 to 255 (key lengths, prefixes) in the byte after it.
        match self.buf.get(self.pos..) {
            Some(&[b, ..]) if b >> 5 == major && b & 0x1f < 24 => {
                self.pos += 1;
                Ok(u64::from(b & 0x1f))
            }
            Some(&[b, n, ..]) if b == major << 5 | 24 && n >= 24 => {
                self.pos += 2;
                Ok(u64::from(n))
            }
            _ => self.long_head_of(major, wrong_type),
        }
    }

    #[cold]
    fn long_head_of(&mut self, major: u8, wrong_type: &'static str) -> Result<u64, MstError> {
        let start = self.pos;
        let b = self.byte()?;
        if b >> 5 != major {
            return Err(self.error_at(start, wrong_type));
        }
        let info = b & 0x1f;
        let (v, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.byte()?), 24),
            25 => (
                u64::from(u16::from_be_bytes([self.byte()?, self.byte()?])),
                0x100,
            ),
            26 => {
                let s = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let s = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            31 => return Err(self.error_at(start, "indefinite-length items are not allowed")),
            _ => return Err(self.error_at(start, "reserved CBOR additional information")),
        };
        if v < min {
            return Err(self.error_at(start, "integer or length not in shortest form"));
        }
        Ok(v)
    }

    #[inline]
    fn expect_map_len(&mut self, n: u64) -> Result<(), MstError> {
        // `n` is 2 or 4: the head is the one byte `0xa0 | n`.
        if self.buf.get(self.pos) == Some(&(0xa0 | n as u8)) {
            self.pos += 1;
            return Ok(());
        }
        self.expect_map_len_slow(n)
    }

    #[cold]
    fn expect_map_len_slow(&mut self, n: u64) -> Result<(), MstError> {
        let start = self.pos;
        let wrong = if n == 2 {
            "expected a node: a map with keys \"e\" and \"l\""
        } else {
            "expected an entry: a map with keys \"k\", \"p\", \"t\" and \"v\""
        };
        if self.head_of(MAJOR_MAP, wrong)? != n {
            return Err(self.error_at(start, wrong));
        }
        Ok(())
    }

    /// Reads the one-letter text `key`.
    #[inline]
    fn expect_key(&mut self, key: &'static [u8; 1]) -> Result<(), MstError> {
        if self.buf.get(self.pos..self.pos + 2) == Some(&[0x61, key[0]]) {
            self.pos += 2;
            return Ok(());
        }
        self.expect_key_slow(key)
    }

    #[cold]
    fn expect_key_slow(&mut self, key: &'static [u8; 1]) -> Result<(), MstError> {
        let start = self.pos;
        let reason = match &key[..] {
            b"e" => "expected map key \"e\"",
            b"l" => "expected map key \"l\"",
            b"k" => "expected map key \"k\"",
            b"p" => "expected map key \"p\"",
            b"t" => "expected map key \"t\"",
            _ => "expected map key \"v\"",
        };
        let len = self.head_of(MAJOR_TEXT, reason)?;
        if len != key.len() as u64 || self.take(key.len())? != &key[..] {
            return Err(self.error_at(start, reason));
        }
        Ok(())
    }

    fn nullable_link(&mut self) -> Result<Option<LinkRef>, MstError> {
        if self.buf.get(self.pos) == Some(&CBOR_NULL) {
            self.pos += 1;
            Ok(None)
        } else {
            self.link().map(Some)
        }
    }

    #[inline]
    fn link(&mut self) -> Result<LinkRef, MstError> {
        // The canonical form of a CIDv1 with a one-byte codec and a sha2-256
        // digest, exactly what `other_link` accepts for such a link.
        if let Some(link) = self.buf.get(self.pos..self.pos + SHA256_LINK_LEN)
            && link.starts_with(&SHA256_LINK_HEAD)
            && split_sha256_cid(&link[SHA256_LINK_HEAD.len()..]).is_some()
        {
            let at = (self.pos + SHA256_LINK_HEAD.len()) as u32;
            self.pos += SHA256_LINK_LEN;
            return Ok(LinkRef {
                at,
                len: ATPROTO_CID_LEN as u32,
            });
        }
        self.other_link()
    }

    /// Any other link: checked with [`parse_cid`], which the fast path
    /// agrees with.
    #[cold]
    fn other_link(&mut self) -> Result<LinkRef, MstError> {
        let start = self.pos;
        if self.head_of(MAJOR_TAG, "expected a CID (tag 42) or null")? != CID_TAG {
            return Err(self.error_at(start, "expected a CID (tag 42)"));
        }
        let len_at = self.pos;
        let len = self.head_of(MAJOR_BYTES, "expected the CID bytes after tag 42")?;
        if len > MAX_CID_LEN as u64 + 1 {
            return Err(self.error_at(len_at, "CID longer than 100 bytes"));
        }
        let body_at = self.pos;
        let body = self.take(len as usize)?;
        match body.first() {
            Some(0) => {}
            Some(_) => {
                return Err(self.error_at(
                    body_at,
                    "CID bytes must start with the 0x00 multibase prefix",
                ));
            }
            None => return Err(self.error_at(body_at, "empty CID")),
        }
        parse_cid(&body[1..]).map_err(|e| {
            let reason = match e.kind() {
                CidErrorKind::V0 | CidErrorKind::Version(_) => "only CIDv1 links are allowed",
                CidErrorKind::Varint {
                    error: VarintError::Truncated,
                    ..
                } => "truncated CID",
                CidErrorKind::Varint {
                    error: VarintError::NonMinimal,
                    ..
                } => "CID varint not in shortest form",
                CidErrorKind::Varint { .. } => "CID varint too long",
                CidErrorKind::DigestTooLong(_) => "multihash digest longer than 64 bytes",
                _ => "multihash digest length does not match the CID length",
            };
            self.error_at(body_at + 1 + e.offset(), reason)
        })?;
        // `parse_cid` accepted a leading `0x00` and at most 100 more bytes.
        Ok(LinkRef {
            at: (body_at + 1) as u32,
            len: (len - 1) as u32,
        })
    }
}
