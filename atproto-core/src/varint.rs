//! Unsigned varints, the multiformats `unsigned-varint`: the one reader and
//! writer behind every varint the crates read or write (CID fields, CAR
//! length prefixes, multikey codecs).
//!
//! A varint is little-endian base-128: seven bits per byte, the high bit set
//! on every byte but the last. The [multiformats
//! specification](https://github.com/multiformats/unsigned-varint) makes two
//! rules that [`decode`] enforces on untrusted input:
//!
//! - **Minimal encoding.** A varint ends at its first byte without the high
//!   bit, and that byte is not `0x00` unless it is the only byte: `0x85 0x00`
//!   (5 in two bytes) is rejected with [`VarintError::NonMinimal`]. Every
//!   value then has exactly one encoding, so bytes that decode re-encode to
//!   themselves.
//! - **At most [`MAX_LEN`] = 9 bytes**, carrying 63 bits: values up to
//!   [`MAX_VALUE`] = 2^63 − 1. A ninth byte with its high bit set (a tenth
//!   would follow) is [`VarintError::Overflow`]. Go's `go-varint`, which
//!   `go-cid` and `go-car` use, applies the same limit; a 10-byte `u64` is
//!   never needed for a codec, a hash code or a length.
//!
//! [`VarintError::Truncated`] means the input ended inside the varint. It is
//! the one error a strict prefix of a valid varint can give (overflow and
//! non-minimal forms are only ever decided by bytes that are present), so a
//! streaming reader treats it as "need more bytes" until its input ends.
//!
//! The writers ([`encode`], [`encode_to_vec`]) write any `u64`; a value above
//! [`MAX_VALUE`] takes 10 bytes ([`MAX_U64_LEN`]), which [`decode`] refuses.
//!
//! ```
//! use atproto_core::varint::{self, VarintError};
//! let mut buf = [0; varint::MAX_U64_LEN];
//! assert_eq!(varint::encode(300, &mut buf), &[0xac, 0x02]);
//! assert_eq!(varint::decode(&[0xac, 0x02, 0xff]), Ok((300, 2)));
//! assert_eq!(varint::decode(&[0xac, 0x80, 0x00]), Err(VarintError::NonMinimal));
//! assert_eq!(varint::decode(&[0xac]), Err(VarintError::Truncated));
//! ```

use alloc::vec::Vec;

/// The longest varint [`decode`] accepts: 9 bytes (63 bits), the
/// multiformats limit.
pub const MAX_LEN: usize = 9;

/// The largest value [`decode`] accepts: 2^63 − 1, what [`MAX_LEN`] bytes
/// carry.
pub const MAX_VALUE: u64 = u64::MAX >> 1;

/// The room [`encode`] needs for any `u64`: 10 bytes.
pub const MAX_U64_LEN: usize = 10;

/// Why bytes are not a varint [`decode`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum VarintError {
    /// The input ends before the varint does: in a stream, more bytes are
    /// needed; at the end of the input, the varint is cut off.
    #[error("truncated varint")]
    Truncated,
    /// The varint is not in its shortest form (it ends with a `0x00` byte).
    #[error("varint not in its shortest form")]
    NonMinimal,
    /// The varint is longer than 9 bytes, so above 2^63 − 1.
    #[error("varint longer than 9 bytes")]
    Overflow,
}

/// Reads the varint at the start of `buf`: its value and the number of
/// bytes it takes. Bytes after it are not looked at.
///
/// # Errors
/// [`VarintError::Truncated`] if `buf` ends inside the varint (the "need
/// more bytes" answer of a stream), [`VarintError::NonMinimal`] for a
/// longer form than needed, [`VarintError::Overflow`] past [`MAX_LEN`]
/// bytes.
#[inline]
pub fn decode(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    // The one- and two-byte forms are nearly every varint read (codecs,
    // hash codes, digest lengths, CAR sections of blocks under 16 KiB).
    match *buf {
        [b0, ..] if b0 < 0x80 => Ok((u64::from(b0), 1)),
        [b0, b1, ..] if b1 < 0x80 => {
            if b1 == 0 {
                return Err(VarintError::NonMinimal);
            }
            Ok((u64::from(b0 & 0x7f) | (u64::from(b1) << 7), 2))
        }
        _ => decode_long(buf),
    }
}

/// [`decode`] past the two-byte fast path.
fn decode_long(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value = 0u64;
    for i in 0..MAX_LEN {
        let Some(&b) = buf.get(i) else {
            return Err(VarintError::Truncated);
        };
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if b == 0 && i > 0 {
                return Err(VarintError::NonMinimal);
            }
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Overflow)
}

/// How many bytes `value` takes as a varint: 1 to [`MAX_U64_LEN`].
#[inline]
pub const fn encoded_len(value: u64) -> usize {
    // Seven bits per byte, at least one byte.
    let bits = u64::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Writes `value` as a varint at the start of `buf`; returns the bytes
/// written (the first [`encoded_len`]`(value)` bytes of `buf`).
#[inline]
pub fn encode(value: u64, buf: &mut [u8; MAX_U64_LEN]) -> &[u8] {
    let mut v = value;
    let mut i = 0;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    &buf[..=i]
}

/// Appends `value` as a varint to `out`.
#[inline]
pub fn encode_to_vec(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(encode(value, &mut [0; MAX_U64_LEN]));
}
