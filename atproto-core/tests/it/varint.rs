//! Tests for the strict unsigned varint (`atproto_core::varint`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atproto_core::varint::{
    self, MAX_LEN, MAX_U64_LEN, MAX_VALUE, VarintError, decode, encode, encode_to_vec, encoded_len,
};
use proptest::prelude::*;

fn encoded(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    encode_to_vec(v, &mut out);
    out
}

/// What `decode` must answer, from the definition: LEB128, at most
/// `MAX_LEN` bytes, the last byte not `0x00` unless it is the only one.
fn reference(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let Some(end) = buf.iter().position(|b| b & 0x80 == 0) else {
        return Err(if buf.len() >= MAX_LEN {
            VarintError::Overflow
        } else {
            VarintError::Truncated
        });
    };
    if end >= MAX_LEN {
        return Err(VarintError::Overflow);
    }
    if end > 0 && buf[end] == 0 {
        return Err(VarintError::NonMinimal);
    }
    let value = buf[..=end]
        .iter()
        .rev()
        .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7f));
    Ok((value, end + 1))
}

#[test]
fn known_encodings() {
    for (v, bytes) in [
        (0u64, &[0x00][..]),
        (1, &[0x01]),
        (0x7f, &[0x7f]),
        (0x80, &[0x80, 0x01]),
        (300, &[0xac, 0x02]),
        (0x71, &[0x71]),
        (0xe7, &[0xe7, 0x01]),
        (0x1200, &[0x80, 0x24]),
        (16_383, &[0xff, 0x7f]),
        (16_384, &[0x80, 0x80, 0x01]),
        (
            MAX_VALUE,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ),
    ] {
        assert_eq!(encoded(v), bytes, "{v}");
        assert_eq!(encode(v, &mut [0; MAX_U64_LEN]), bytes, "{v}");
        assert_eq!(encoded_len(v), bytes.len(), "{v}");
        assert_eq!(decode(bytes), Ok((v, bytes.len())), "{v}");
    }
    assert_eq!(encoded_len(u64::MAX), MAX_U64_LEN);
    assert_eq!(encoded(u64::MAX).len(), MAX_U64_LEN);
    assert_eq!(decode(&[]), Err(VarintError::Truncated));
}

/// Every input of one or two bytes (the inlined fast path) and every
/// three-byte input with a continuation on its first two bytes.
#[test]
fn short_inputs_match_the_definition() {
    for a in 0..=255u8 {
        assert_eq!(decode(&[a]), reference(&[a]), "{a:02x}");
        for b in 0..=255u8 {
            assert_eq!(decode(&[a, b]), reference(&[a, b]), "{a:02x} {b:02x}");
        }
    }
    for a in 0x80..=255u8 {
        for b in 0x80..=255u8 {
            for c in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let buf = [a, b, c];
                assert_eq!(decode(&buf), reference(&buf));
            }
        }
    }
}

/// The multiformats overflow rule: the ninth byte must end the varint.
#[test]
fn the_ninth_byte_ends_it() {
    let mut nine = vec![0xff; 8];
    nine.push(0x7f);
    assert_eq!(decode(&nine), Ok((MAX_VALUE, 9)));
    // 2^63 needs ten bytes: `80 ×9 01`, the form the cid crate accepted.
    let mut ten = vec![0x80; 9];
    ten.push(0x01);
    assert_eq!(decode(&ten), Err(VarintError::Overflow));
    assert_eq!(encoded(MAX_VALUE + 1), ten);
    // Nine continuation bytes are an overflow even before the tenth arrives:
    // no more input can make them valid.
    assert_eq!(decode(&[0x80; 9]), Err(VarintError::Overflow));
    assert_eq!(decode(&[0x80; 8]), Err(VarintError::Truncated));
    // The fuzz case: ten bytes, bits past the 64th in the last.
    let fuzz = [0x82, 0x97, 0x82, 0x82, 0x97, 0x82, 0xf4, 0xa1, 0xdd, 0x70];
    assert_eq!(decode(&fuzz), Err(VarintError::Overflow));
}

proptest! {
    #[test]
    fn round_trip(v in 0..=MAX_VALUE, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mut buf = encoded(v);
        let len = buf.len();
        prop_assert_eq!(len, encoded_len(v));
        prop_assert!(len <= MAX_LEN);
        buf.extend_from_slice(&tail);
        prop_assert_eq!(decode(&buf), Ok((v, len)));
        // Every strict prefix asks for more bytes.
        for cut in 0..len {
            prop_assert_eq!(decode(&buf[..cut]), Err(VarintError::Truncated));
        }
    }

    #[test]
    fn values_past_63_bits_are_written_but_refused(v in (MAX_VALUE + 1)..=u64::MAX) {
        let buf = encoded(v);
        prop_assert_eq!(buf.len(), MAX_U64_LEN);
        prop_assert_eq!(decode(&buf), Err(VarintError::Overflow));
    }

    /// Padding a varint with `0x80 … 0x00` keeps its value but is never
    /// accepted: non-minimal within nine bytes, overflow past them.
    #[test]
    fn every_non_minimal_form_is_refused(v in 0..=MAX_VALUE, pad in 1usize..10, tail in any::<u8>()) {
        let mut buf = encoded(v);
        *buf.last_mut().unwrap() |= 0x80;
        buf.extend(std::iter::repeat_n(0x80, pad - 1));
        buf.push(0x00);
        let expected = if buf.len() <= MAX_LEN {
            VarintError::NonMinimal
        } else {
            VarintError::Overflow
        };
        prop_assert_eq!(reference(&buf), Err(expected));
        buf.push(tail);
        prop_assert_eq!(decode(&buf), Err(expected));
    }

    /// Any input whose first nine bytes all carry a continuation bit.
    #[test]
    fn every_overflow_is_refused(
        head in proptest::array::uniform9(0x80..=0xffu8),
        tail in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut buf = head.to_vec();
        buf.extend_from_slice(&tail);
        prop_assert_eq!(decode(&buf), Err(VarintError::Overflow));
    }

    #[test]
    fn decode_matches_the_definition(
        buf in proptest::collection::vec(prop_oneof![3 => 0x80..=0xffu8, 1 => any::<u8>()], 0..14),
    ) {
        prop_assert_eq!(decode(&buf), reference(&buf));
    }

    #[test]
    fn encoded_len_matches_encode(v in any::<u64>()) {
        prop_assert_eq!(encode(v, &mut [0; MAX_U64_LEN]).len(), encoded_len(v));
        let mut out = vec![0xaa];
        varint::encode_to_vec(v, &mut out);
        let mut buf = [0; MAX_U64_LEN];
        prop_assert_eq!(&out[1..], encode(v, &mut buf));
    }
}
