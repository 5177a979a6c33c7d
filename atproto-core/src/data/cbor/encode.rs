//! Canonical DAG-CBOR encoding of [`Value`].

use alloc::string::String;
use alloc::vec::Vec;

use cid::Cid;

use crate::data::cid::encode_cid;
use crate::data::limits::MAX_CID_LEN;
use crate::data::value::Value;

/// Canonical DAG-CBOR bytes of `v`.
///
/// Shortest integer and length heads, map keys sorted by encoded length then
/// bytewise, links as tag 42 over `0x00 ‖ binary CID`, blobs as their
/// current-form map. The output is accepted by [`decode`](super::decode)
/// (as long as blob sizes fit in `i64`) and hashes to [`Value::cid`].
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(v, &mut out);
    out
}

/// Appends the canonical DAG-CBOR bytes of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Integer(i) => {
            if *i >= 0 {
                write_head(out, 0, *i as u64);
            } else {
                // -1 - i, computed without overflow for i64::MIN.
                write_head(out, 1, !(*i as u64));
            }
        }
        Value::String(s) => text(out, s),
        Value::Bytes(b) => {
            write_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Link(c) => write_link(c, out),
        Value::Array(a) => {
            write_head(out, 4, a.len() as u64);
            for x in a {
                encode_into(x, out);
            }
        }
        Value::Map(m) => {
            write_head(out, 5, m.len() as u64);
            // A BTreeMap iterates bytewise, which is already canonical when
            // key lengths never decrease (the common case: no allocation).
            // Otherwise a stable sort by length gives the (length, bytes) order.
            if m.keys().map(String::len).is_sorted() {
                for (k, x) in m {
                    text(out, k);
                    encode_into(x, out);
                }
            } else {
                let mut entries: Vec<(&str, &Value)> =
                    m.iter().map(|(k, v)| (k.as_str(), v)).collect();
                entries.sort_by_key(|(k, _)| k.len());
                for (k, x) in entries {
                    text(out, k);
                    encode_into(x, out);
                }
            }
        }
        Value::Blob(b) => {
            // Canonical key order: ref(3), size(4), $type(5), mimeType(8).
            out.push(0xa4);
            text(out, "ref");
            write_link(&b.cid, out);
            text(out, "size");
            write_head(out, 0, b.size);
            text(out, "$type");
            text(out, "blob");
            text(out, "mimeType");
            text(out, &b.mime_type);
        }
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    write_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends `cid` as a DAG-CBOR link: tag 42 over a byte string of `0x00`
/// and the binary CID ([`encode_cid`]).
pub fn write_link(cid: &Cid, out: &mut Vec<u8>) {
    let mut buf = [0; MAX_CID_LEN];
    let bytes = encode_cid(cid, &mut buf);
    out.extend_from_slice(&[0xd8, 42]);
    write_head(out, 2, bytes.len() as u64 + 1);
    out.push(0);
    out.extend_from_slice(bytes);
}

/// Appends a CBOR head (major type 0–7 + argument) in its shortest form,
/// as canonical DAG-CBOR requires: the one head writer of every encoder in
/// the workspace (values, MST nodes, commits).
///
/// ```
/// let mut out = Vec::new();
/// atproto_core::data::cbor::write_head(&mut out, 3, 300); // a text string of 300 bytes
/// assert_eq!(out, [0x79, 0x01, 0x2c]);
/// ```
#[inline]
pub fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}
