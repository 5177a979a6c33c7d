//! Tests for the binary CID reader and writer (`atproto_core::data::cid`)
//! and the DAG-CBOR links read through it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atproto_core::Cid;
use atproto_core::cid::multihash::Multihash;
use atproto_core::data::cbor::{self, CborErrorKind};
use atproto_core::data::{
    ATPROTO_CID_LEN, CidError, CidErrorKind, CidField, DAG_CBOR_CODEC, Limits, MAX_CID_LEN,
    MAX_DIGEST_LEN, RAW_CODEC, SHA2_256, Value, dag_cbor_cid, encode_cid, parse_cid,
    parse_cid_prefix, raw_cid, sha256_cid, sha256_cid_head, split_sha256_cid, write_cid,
};
use atproto_core::varint::{MAX_VALUE, VarintError};
use proptest::prelude::*;

use super::data_model::hex;

fn bytes_of(cid: &Cid) -> Vec<u8> {
    let mut out = Vec::new();
    write_cid(cid, &mut out);
    out
}

fn varint_error(field: CidField, error: VarintError, offset: usize) -> CidError {
    CidError::new(CidErrorKind::Varint { field, error }, offset)
}

#[test]
fn builders_agree() {
    let cid = dag_cbor_cid(b"hello");
    let bytes = bytes_of(&cid);
    assert_eq!(bytes.len(), ATPROTO_CID_LEN);
    assert_eq!(bytes[..4], sha256_cid_head(DAG_CBOR_CODEC as u8));
    // The cid crate's own writer gives the same bytes.
    assert_eq!(bytes, cid.to_bytes());
    let (codec, digest) = split_sha256_cid(&bytes).unwrap();
    assert_eq!(u64::from(codec), DAG_CBOR_CODEC);
    assert_eq!(sha256_cid(DAG_CBOR_CODEC, digest), cid);
    assert_eq!(parse_cid(&bytes), Ok(cid));
    let raw = raw_cid(b"hello");
    assert_eq!(raw.codec(), RAW_CODEC);
    assert_eq!(raw.hash(), cid.hash());
    assert_eq!(raw.hash().code(), SHA2_256);
    // A CIDv0 is written as its bare multihash.
    let v0 = Cid::new_v0(*cid.hash()).unwrap();
    assert_eq!(bytes_of(&v0), bytes[2..]);
    assert_eq!(
        parse_cid(&bytes_of(&v0)),
        Err(CidError::new(CidErrorKind::V0, 0))
    );
    // The longest CID any `Cid` can hold fits the buffer.
    let widest = Cid::new_v1(
        u64::MAX,
        Multihash::<64>::wrap(u64::MAX, &[1; MAX_DIGEST_LEN]).unwrap(),
    );
    let mut buf = [0; MAX_CID_LEN];
    assert_eq!(encode_cid(&widest, &mut buf).len(), 86);
}

#[test]
fn prefix_form_reports_what_it_used() {
    let cid = dag_cbor_cid(b"x");
    let mut bytes = bytes_of(&cid);
    bytes.extend_from_slice(b"block bytes");
    assert_eq!(parse_cid_prefix(&bytes), Ok((cid, ATPROTO_CID_LEN)));
    assert_eq!(
        parse_cid(&bytes),
        Err(CidError::new(
            CidErrorKind::DigestLength {
                declared: 32,
                present: 43
            },
            3
        ))
    );
    // The fast path says no to any other CID, which the parser reads.
    let wide = Cid::new_v1(0x0129, *cid.hash());
    let wide_bytes = bytes_of(&wide);
    assert!(split_sha256_cid(&wide_bytes).is_none());
    assert_eq!(parse_cid(&wide_bytes), Ok(wide));
    assert!(split_sha256_cid(&bytes[..ATPROTO_CID_LEN - 1]).is_none());
}

/// Every way a binary CID can be wrong, with the field and offset named.
#[test]
fn every_error_names_its_field() {
    let d = [7u8; 32];
    let with = |head: &[u8], digest: &[u8]| [head, digest].concat();
    let cases: Vec<(Vec<u8>, CidError)> = vec![
        (
            vec![],
            varint_error(CidField::Version, VarintError::Truncated, 0),
        ),
        (with(&[0x12, 0x20], &d), CidError::new(CidErrorKind::V0, 0)),
        (
            with(&[0, 0x71, 0x12, 0x20], &d),
            CidError::new(CidErrorKind::Version(0), 0),
        ),
        (
            with(&[3, 0x71, 0x12, 0x20], &d),
            CidError::new(CidErrorKind::Version(3), 0),
        ),
        (
            with(&[0x81, 0x00, 0x71, 0x12, 0x20], &d),
            varint_error(CidField::Version, VarintError::NonMinimal, 0),
        ),
        (
            vec![1],
            varint_error(CidField::Codec, VarintError::Truncated, 1),
        ),
        (
            with(&[1, 0xf1, 0x00, 0x12, 0x20], &d),
            varint_error(CidField::Codec, VarintError::NonMinimal, 1),
        ),
        (
            with(
                &[
                    1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x12, 0x20,
                ],
                &d,
            ),
            varint_error(CidField::Codec, VarintError::Overflow, 1),
        ),
        (
            vec![1, 0x71, 0x92],
            varint_error(CidField::HashCode, VarintError::Truncated, 2),
        ),
        (
            with(&[1, 0x71, 0x92, 0x00, 0x20], &d),
            varint_error(CidField::HashCode, VarintError::NonMinimal, 2),
        ),
        (
            vec![1, 0x71, 0x12],
            varint_error(CidField::DigestLength, VarintError::Truncated, 3),
        ),
        (
            with(&[1, 0x71, 0x12, 0xa0, 0x00], &d),
            varint_error(CidField::DigestLength, VarintError::NonMinimal, 3),
        ),
        (
            with(&[1, 0x71, 0x13, 0x41], &[0; 65]),
            CidError::new(CidErrorKind::DigestTooLong(65), 3),
        ),
        (
            with(&[1, 0x71, 0x12, 0x20], &d[..31]),
            CidError::new(
                CidErrorKind::DigestLength {
                    declared: 32,
                    present: 31,
                },
                3,
            ),
        ),
        (
            with(&[1, 0x71, 0x12, 0x20], &[&d[..], &[0]].concat()),
            CidError::new(
                CidErrorKind::DigestLength {
                    declared: 32,
                    present: 33,
                },
                3,
            ),
        ),
    ];
    for (bytes, expected) in &cases {
        assert_eq!(parse_cid(bytes), Err(*expected), "{bytes:02x?}");
    }
    assert_eq!(
        cases[7].1.to_string(),
        "CID codec: varint longer than 9 bytes (CID byte 1)"
    );
}

/// The `cbor_strict` fuzz crash: a tag-42 CID whose codec varint is 10
/// bytes long with bits past the 64th. The strict decoder accepted it and
/// re-encoded it differently; it must refuse it, saying why.
#[test]
fn fuzz_regression_overlong_codec_varint_in_a_link() {
    let input = hex("8282 2b04 d82a 5400 0182 9782 8297 82f4 a1dd 70ff ffff 8280 8006 00");
    let e = cbor::decode(&input).unwrap_err();
    let why = varint_error(CidField::Codec, VarintError::Overflow, 1);
    assert_eq!(e.kind(), &CborErrorKind::MalformedCid(why));
    assert_eq!(e.offset(), 4, "the tag's offset");
    assert_eq!(
        e.to_string(),
        "invalid CID link: CID codec: varint longer than 9 bytes (CID byte 1) at byte 4"
    );
    assert_eq!(cbor::validate(&input, &Limits::DEFAULT), Err(e));
    assert!(std::error::Error::source(&cbor::decode(&input).unwrap_err()).is_some());
}

/// A link holding `cid` (without the `0x00` prefix).
fn link(cid: &[u8]) -> Vec<u8> {
    let len = cid.len() as u8 + 1;
    let mut out = if len < 24 {
        vec![0xd8, 0x2a, 0x40 | len]
    } else {
        vec![0xd8, 0x2a, 0x58, len]
    };
    out.push(0x00);
    out.extend_from_slice(cid);
    out
}

#[test]
fn links_with_bad_varints_are_refused() {
    let d = [5u8; 32];
    let with = |head: &[u8]| [head, &d[..]].concat();
    let cases = [
        // The ten-byte form of 2^63, which the cid crate read.
        (
            with(&[
                1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x12, 0x20,
            ]),
            varint_error(CidField::Codec, VarintError::Overflow, 1),
        ),
        // dag-cbor written in two bytes.
        (
            with(&[1, 0xf1, 0x00, 0x12, 0x20]),
            varint_error(CidField::Codec, VarintError::NonMinimal, 1),
        ),
        (
            with(&[1, 0x71, 0x92, 0x80, 0x00, 0x20]),
            varint_error(CidField::HashCode, VarintError::NonMinimal, 2),
        ),
        (
            with(&[1, 0x71, 0x12, 0xa0, 0x00]),
            varint_error(CidField::DigestLength, VarintError::NonMinimal, 3),
        ),
        (
            vec![
                1, 0x71, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            varint_error(CidField::HashCode, VarintError::Overflow, 2),
        ),
        (
            vec![1, 0x71, 0x12, 0xa0],
            varint_error(CidField::DigestLength, VarintError::Truncated, 3),
        ),
    ];
    for (cid, why) in cases {
        // Alone and inside a map, through both strict paths.
        for (bytes, at) in [
            (link(&cid), 0),
            ([&hex("a1 6161")[..], &link(&cid)].concat(), 3),
        ] {
            let e = cbor::decode(&bytes).unwrap_err();
            assert_eq!(e.kind(), &CborErrorKind::MalformedCid(why), "{cid:02x?}");
            assert_eq!(e.offset(), at);
            assert_eq!(cbor::validate(&bytes, &Limits::DEFAULT), Err(e));
        }
    }
}

/// The encoder writes any `Cid`; one whose codec needs ten bytes is not
/// read back, the only case where encoder output is refused.
#[test]
fn ten_byte_codecs_are_written_but_not_read() {
    let hash = *dag_cbor_cid(b"x").hash();
    let fits = Value::Link(Cid::new_v1(MAX_VALUE, hash));
    assert_eq!(cbor::decode(&cbor::encode(&fits)).unwrap(), fits);
    let wide = Value::Link(Cid::new_v1(MAX_VALUE + 1, hash));
    assert_eq!(
        cbor::decode(&cbor::encode(&wide)).unwrap_err().kind(),
        &CborErrorKind::MalformedCid(varint_error(CidField::Codec, VarintError::Overflow, 1))
    );
}

fn any_cid() -> impl Strategy<Value = Cid> {
    (
        0..=MAX_VALUE,
        0..=MAX_VALUE,
        proptest::collection::vec(any::<u8>(), 0..=MAX_DIGEST_LEN),
    )
        .prop_map(|(codec, code, digest)| {
            Cid::new_v1(codec, Multihash::<64>::wrap(code, &digest).unwrap())
        })
}

proptest! {
    #[test]
    fn any_cidv1_round_trips(cid in any_cid(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let bytes = bytes_of(&cid);
        prop_assert_eq!(&bytes, &cid.to_bytes());
        prop_assert_eq!(parse_cid(&bytes), Ok(cid));
        let mut longer = bytes.clone();
        longer.extend_from_slice(&tail);
        prop_assert_eq!(parse_cid_prefix(&longer), Ok((cid, bytes.len())));
        // Every cut is refused, by both forms.
        for cut in 0..bytes.len() {
            prop_assert!(parse_cid(&bytes[..cut]).is_err());
            prop_assert!(parse_cid_prefix(&bytes[..cut]).is_err());
        }
        // And it reads back as a link.
        let value = Value::Link(cid);
        prop_assert_eq!(cbor::decode(&cbor::encode(&value)).unwrap(), value);
    }

    /// Whatever the parser accepts, the writer gives back byte for byte.
    #[test]
    fn accepted_bytes_write_back(
        bytes in proptest::collection::vec(any::<u8>(), 0..48).prop_map(|b| [&[1][..], &b].concat()),
    ) {
        if let Ok((cid, used)) = parse_cid_prefix(&bytes) {
            prop_assert_eq!(bytes_of(&cid), &bytes[..used]);
        }
        if let Ok(cid) = parse_cid(&bytes) {
            prop_assert_eq!(bytes_of(&cid), bytes);
        }
    }

    #[test]
    fn sha256_fast_path_agrees(codec in 0u8..0x80, digest in any::<[u8; 32]>(), tail in any::<u8>()) {
        let cid = sha256_cid(u64::from(codec), &digest);
        let mut bytes = bytes_of(&cid);
        prop_assert_eq!(&bytes[..4], &sha256_cid_head(codec));
        bytes.push(tail);
        prop_assert_eq!(split_sha256_cid(&bytes), Some((codec, &digest)));
        prop_assert_eq!(parse_cid_prefix(&bytes), Ok((cid, ATPROTO_CID_LEN)));
    }
}
