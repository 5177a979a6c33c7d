//! CAR v1 reader and writer tests.
// Test helpers may unwrap and panic: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atproto_core::Cid;
use atproto_core::cid::multihash::Multihash;
use atproto_core::data::{
    CidError, CidErrorKind, CidField, DAG_CBOR_CODEC, RAW_CODEC, SHA2_256, Value, cbor,
    dag_cbor_cid, raw_cid, write_cid,
};
use atproto_core::syntax::CidString;
use atproto_core::varint::{self, MAX_VALUE, VarintError};
#[cfg(feature = "std")]
use atproto_repo::car::CarStreamReader;
use atproto_repo::car::{
    CarError, CarErrorKind, CarLimits, CarReader, CarWriter, HeaderError, load_car,
};
use bytes::Bytes;
use proptest::prelude::*;

use crate::interop;

/// What a reader produced: the roots and the blocks.
type Read = (Vec<Cid>, Vec<(Cid, Bytes)>);

/// What a reader produced, or the first error.
type Outcome = Result<Read, CarError>;

/// Blocks to write: CID and bytes.
type Blocks = Vec<(Cid, Vec<u8>)>;

/// What a CAR error says, in a comparable form: its offset and kind (a
/// `CarError` keeps an I/O cause, so it is not `PartialEq`).
fn what(e: &CarError) -> (u64, CarErrorKind) {
    (e.offset(), e.kind().clone())
}

/// An [`Outcome`] in a comparable form.
#[cfg(feature = "std")]
fn summary(o: &Outcome) -> Result<&Read, (u64, CarErrorKind)> {
    o.as_ref().map_err(what)
}

/// splitmix64: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn random_blocks(seed: u64, count: usize, max_len: usize) -> Vec<(Cid, Vec<u8>)> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| {
            let len = (rng.next() % (max_len as u64 + 1)) as usize;
            let block = rng.bytes(len);
            let cid = if i % 3 == 0 {
                raw_cid(&block)
            } else {
                dag_cbor_cid(&block)
            };
            (cid, block)
        })
        .collect()
}

fn write_car(roots: &[Cid], blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let mut w = CarWriter::new(Vec::new(), roots).unwrap();
    for (cid, block) in blocks {
        w.write_block(cid, block).unwrap();
    }
    assert_eq!(w.blocks_written(), blocks.len() as u64);
    let n = w.bytes_written();
    let out = w.finish();
    assert_eq!(n, out.len() as u64);
    out
}

fn read_slice(car: &[u8]) -> Outcome {
    read_slice_with(car, CarLimits::DEFAULT)
}

fn read_slice_with(car: &[u8], limits: CarLimits) -> Outcome {
    let mut r = CarReader::with_limits(car.to_vec(), limits)?;
    let roots = r.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some(b) = r.next_block()? {
        blocks.push(b);
    }
    Ok((roots, blocks))
}

/// A reader that hands out at most `step` bytes per call.
#[cfg(feature = "std")]
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

#[cfg(feature = "std")]
impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[cfg(feature = "std")]
fn read_stream_with(car: &[u8], step: usize, limits: CarLimits) -> Outcome {
    let mut r = CarStreamReader::with_limits(Trickle { data: car, step }, limits)?;
    let roots = r.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some(b) = r.next_block()? {
        blocks.push(b);
    }
    assert_eq!(r.offset(), car.len() as u64);
    Ok((roots, blocks))
}

#[cfg(feature = "std")]
fn read_stream(car: &[u8], step: usize) -> Outcome {
    read_stream_with(car, step, CarLimits::DEFAULT)
}

/// Every reader, on every input, gives the same answer.
fn read_all_ways(car: &[u8]) -> Outcome {
    let slice = read_slice(car);
    #[cfg(feature = "std")]
    for step in [1, 7, 1 << 20] {
        assert_eq!(
            summary(&read_stream(car, step)),
            summary(&slice),
            "stream step {step}"
        );
    }
    #[cfg(feature = "async")]
    assert_eq!(summary(&read_async(car)), summary(&slice), "async");
    slice
}

#[cfg(feature = "async")]
fn read_async(car: &[u8]) -> Outcome {
    use atproto_repo::car::AsyncCarReader;
    block_on(async {
        let mut r = AsyncCarReader::new(car).await?;
        let roots = r.roots().to_vec();
        let mut blocks = Vec::new();
        while let Some(b) = r.next_block().await? {
            blocks.push(b);
        }
        Ok((roots, blocks))
    })
}

#[cfg(feature = "async")]
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn kind(r: Outcome) -> CarErrorKind {
    r.unwrap_err().kind().clone()
}

fn header_bytes(v: &Value) -> Vec<u8> {
    let body = cbor::encode(v);
    let mut out = varint(body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn varint(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint::encode_to_vec(v, &mut out);
    out
}

fn cid_bytes(cid: &Cid) -> Vec<u8> {
    let mut out = Vec::new();
    write_cid(cid, &mut out);
    out
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn root() -> Cid {
    dag_cbor_cid(b"root")
}

/// A small valid CAR: three blocks, and the offsets where each section starts.
fn small_car() -> (Vec<u8>, Blocks, Vec<usize>) {
    let blocks = random_blocks(7, 3, 40);
    let mut w = CarWriter::new(Vec::new(), &[root()]).unwrap();
    let mut starts = Vec::new();
    for (cid, b) in &blocks {
        starts.push(w.bytes_written() as usize);
        w.write_block(cid, b).unwrap();
    }
    starts.push(w.bytes_written() as usize);
    (w.finish(), blocks, starts)
}

#[test]
fn round_trip_random_blocks() {
    for (seed, count, max_len) in [(1, 0, 0), (2, 1, 0), (3, 500, 300), (4, 40, 70_000)] {
        let blocks = random_blocks(seed, count, max_len);
        let roots = [root(), dag_cbor_cid(b"second root")];
        let car = write_car(&roots, &blocks);
        let (got_roots, got) = read_all_ways(&car).unwrap();
        assert_eq!(got_roots, roots);
        assert_eq!(got.len(), blocks.len());
        for ((cid, block), (got_cid, got_block)) in blocks.iter().zip(&got) {
            assert_eq!(cid, got_cid);
            assert_eq!(&block[..], &got_block[..]);
        }
        let mut reader = CarReader::new(car.clone()).unwrap();
        assert_eq!(reader.by_ref().count(), blocks.len());
        assert_eq!(reader.blocks_read(), blocks.len() as u64);
        assert_eq!(reader.offset(), car.len() as u64);
    }
}

#[test]
fn blocks_are_slices_of_the_input() {
    let (car, _, _) = small_car();
    let input = Bytes::from(car);
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    for item in CarReader::new(input.clone()).unwrap() {
        let (_, block) = item.unwrap();
        assert!(range.contains(&(block.as_ptr() as usize)) || block.is_empty());
    }
}

#[test]
fn header_matches_the_reference_layout() {
    // {roots: [cid], version: 1}: map(2) "roots" array(1) tag42 bytes(37) 0x00 cid "version" 1
    let cid = root();
    let car = write_car(&[cid], &[]);
    let mut expected = vec![0x3a, 0xa2, 0x65];
    expected.extend_from_slice(b"roots");
    expected.extend_from_slice(&[0x81, 0xd8, 0x2a, 0x58, 0x25, 0x00]);
    expected.extend_from_slice(&cid.to_bytes());
    expected.push(0x67);
    expected.extend_from_slice(b"version");
    expected.push(0x01);
    assert_eq!(car, expected);
}

#[test]
fn section_layout() {
    let block = b"hello".to_vec();
    let cid = raw_cid(&block);
    let car = write_car(&[cid], &[(cid, block.clone())]);
    let header_len = write_car(&[cid], &[]).len();
    let mut expected = vec![41u8];
    expected.extend_from_slice(&cid.to_bytes());
    expected.extend_from_slice(&block);
    assert_eq!(&car[header_len..], &expected[..]);
}

#[test]
fn any_order_duplicates_and_extra_blocks() {
    let blocks = random_blocks(9, 20, 100);
    let mut shuffled: Vec<_> = blocks.iter().rev().cloned().collect();
    shuffled.push(blocks[3].clone());
    shuffled.insert(0, blocks[5].clone());
    // The root names no block in the file at all.
    let car = write_car(&[root()], &shuffled);
    let (_, got) = read_all_ways(&car).unwrap();
    assert_eq!(got.len(), 22);
    let loaded = load_car(car, CarLimits::DEFAULT).unwrap();
    assert_eq!(loaded.roots, [root()]);
    assert_eq!(loaded.blocks.len(), 20);
    for (cid, block) in &blocks {
        assert_eq!(&loaded.blocks[cid][..], &block[..]);
    }
}

#[test]
fn interop_data_model_blocks() {
    // Blocks from the shared data-model fixtures: the reader must compute
    // exactly the CIDs the fixtures give.
    let fixtures = interop::json("data-model/data-model-fixtures.json");
    let mut blocks = Vec::new();
    for f in fixtures.as_array().unwrap() {
        let b64 = f["cbor_base64"].as_str().unwrap();
        let bytes = atproto_core::data::json::from_str(&format!(r#"{{"$bytes":"{b64}"}}"#))
            .unwrap()
            .as_bytes()
            .unwrap()
            .clone();
        let cid = CidString::parse_cid(f["cid"].as_str().unwrap()).unwrap();
        blocks.push((cid, bytes.to_vec()));
    }
    assert!(!blocks.is_empty());
    let car = write_car(&[blocks[0].0], &blocks);
    let (_, got) = read_all_ways(&car).unwrap();
    for ((cid, block), (got_cid, got_block)) in blocks.iter().zip(&got) {
        assert_eq!(cid, got_cid);
        assert_eq!(&block[..], &got_block[..]);
        assert_eq!(dag_cbor_cid(block), *cid);
    }
}

#[test]
fn truncated_at_every_byte() {
    let (car, blocks, starts) = small_car();
    for cut in 0..car.len() {
        let prefix = &car[..cut];
        let result = read_all_ways(prefix);
        if let Some(i) = starts.iter().position(|&s| s == cut) {
            // A cut at a section boundary is a valid, shorter CAR.
            let (_, got) = result.unwrap();
            assert_eq!(got.len(), i, "cut at {cut}");
            assert!(got.iter().zip(&blocks).all(|(g, b)| g.0 == b.0));
        } else {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), &CarErrorKind::Truncated, "cut at {cut}");
            let expected_offset = starts.iter().rev().find(|&&s| s <= cut).map_or(0, |&s| s);
            assert_eq!(err.offset(), expected_offset as u64, "cut at {cut}");
        }
    }
}

#[test]
fn wrong_block_hash() {
    let (mut car, blocks, starts) = small_car();
    // Flip the last byte of the second block.
    let end = starts[2] - 1;
    car[end] ^= 1;
    let err = read_all_ways(&car).unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::HashMismatch { cid: blocks[1].0 });
    assert!(err.is_hash_mismatch());
    // The offset is the block's first byte: after the 1-byte prefix and 36-byte CID.
    assert_eq!(err.offset(), starts[1] as u64 + 1 + 36);
    // A flipped digest byte in the CID is a mismatch too.
    let (mut car, _, starts) = small_car();
    car[starts[0] + 10] ^= 0x80;
    assert!(read_all_ways(&car).unwrap_err().is_hash_mismatch());
}

#[test]
fn reader_is_fused_after_an_error() {
    let (mut car, _, starts) = small_car();
    car[starts[1] + 5] ^= 1;
    let mut r = CarReader::new(car.clone()).unwrap();
    assert!(r.next().unwrap().is_ok());
    assert!(r.next().unwrap().is_err());
    assert!(r.next().is_none());
    assert!(matches!(r.next_block(), Ok(None)));
    #[cfg(feature = "std")]
    {
        let mut s = CarStreamReader::new(&car[..]).unwrap();
        assert!(s.next().unwrap().is_ok());
        assert!(s.next().unwrap().is_err());
        assert!(s.next().is_none());
    }
}

#[test]
fn huge_length_prefix_fails_fast() {
    let head = write_car(&[root()], &[]);
    // The largest varint (2^63 - 1, nine bytes), then a tiny body.
    let mut car = head.clone();
    car.extend_from_slice(&varint(MAX_VALUE));
    car.extend_from_slice(&[1, 2]);
    assert_eq!(
        kind(read_all_ways(&car)),
        CarErrorKind::BlockTooLarge { len: MAX_VALUE }
    );
    // u64::MAX takes ten bytes: past the varint limit.
    let mut car = head.clone();
    car.extend_from_slice(&varint(u64::MAX));
    car.extend_from_slice(&[1, 2]);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::VarintOverflow);
    // Limits raised to allow a 1 TiB block: the length is checked against
    // what is left (slice) or read chunk by chunk (stream), never allocated.
    let limits = CarLimits {
        max_block_size: usize::MAX / 2,
        max_total_size: u64::MAX,
        ..CarLimits::DEFAULT
    };
    let mut car = head.clone();
    car.extend_from_slice(&varint(1 << 40));
    car.extend_from_slice(&cid_bytes(&dag_cbor_cid(b""))[..4]);
    car.extend_from_slice(&[0, 0, 0]);
    let err = read_slice_with(&car, limits).unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::Truncated);
    assert_eq!(err.offset(), head.len() as u64);
    #[cfg(feature = "std")]
    {
        let err = read_stream_with(&car, 1 << 20, limits).unwrap_err();
        assert_eq!(err.kind(), &CarErrorKind::Truncated);
    }
    // A huge header length.
    let mut car = varint(u64::MAX >> 1);
    car.push(0xa2);
    assert_eq!(
        kind(read_all_ways(&car)),
        CarErrorKind::HeaderTooLarge { len: u64::MAX >> 1 }
    );
}

#[test]
fn bad_varints() {
    let head = write_car(&[root()], &[]);
    // 11 bytes.
    let mut car = head.clone();
    car.extend_from_slice(&[0x80; 10]);
    car.push(0x01);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::VarintOverflow);
    // 10 bytes, the last carrying only the 64th bit: 2^63, past the
    // nine-byte limit of multiformats varints.
    let mut car = head.clone();
    car.extend_from_slice(&[0x80; 9]);
    car.push(0x01);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::VarintOverflow);
    // 10 bytes, the last carrying more than the 64th bit.
    let mut car = head.clone();
    car.extend_from_slice(&[0xff; 9]);
    car.push(0x02);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::VarintOverflow);
    // Nine continuation bytes: refused before the tenth arrives, in a
    // stream too.
    let mut car = head.clone();
    car.extend_from_slice(&[0x80; 9]);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::VarintOverflow);
    // Non-minimal: 0x85 0x00 is 5 in two bytes.
    let mut car = head.clone();
    car.extend_from_slice(&[0x85, 0x00, 1, 2, 3, 4, 5]);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::NonMinimalVarint);
    let mut car = head.clone();
    car.extend_from_slice(&[0x85, 0x80, 0x00]);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::NonMinimalVarint);
    // A section length cut off by the end of input.
    let mut car = head;
    car.extend_from_slice(&[0x85, 0x80]);
    assert_eq!(kind(read_all_ways(&car)), CarErrorKind::Truncated);
    // In the header prefix too.
    assert_eq!(
        kind(read_all_ways(&[0x80; 11])),
        CarErrorKind::VarintOverflow
    );
    assert_eq!(
        kind(read_all_ways(&[0xa5, 0x00])),
        CarErrorKind::NonMinimalVarint
    );
}

/// CIDs in section headers whose varints are too long or not minimal: each
/// refused with the field named, at the CID's offset.
#[test]
fn section_cids_with_bad_varints() {
    let block = b"abc";
    let digest = raw_cid(block).hash().digest().to_vec();
    let with = |head: &[u8]| [head, &digest[..]].concat();
    let cases = [
        // The ten-byte form of 2^63 as the codec.
        (
            with(&[
                1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x12, 0x20,
            ]),
            CidField::Codec,
            VarintError::Overflow,
            1,
        ),
        // raw (0x55) in two bytes.
        (
            with(&[1, 0xd5, 0x00, 0x12, 0x20]),
            CidField::Codec,
            VarintError::NonMinimal,
            1,
        ),
        (
            with(&[0x81, 0x00, 0x55, 0x12, 0x20]),
            CidField::Version,
            VarintError::NonMinimal,
            0,
        ),
        (
            with(&[1, 0x55, 0x92, 0x00, 0x20]),
            CidField::HashCode,
            VarintError::NonMinimal,
            2,
        ),
        (
            with(&[1, 0x55, 0x12, 0xa0, 0x00]),
            CidField::DigestLength,
            VarintError::NonMinimal,
            3,
        ),
        (
            vec![
                1, 0x55, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            CidField::HashCode,
            VarintError::Overflow,
            2,
        ),
    ];
    let head = write_car(&[root()], &[]).len();
    for (cid, field, error, at) in cases {
        let car = section(&cid, block);
        let err = read_all_ways(&car).unwrap_err();
        let expected = CidError::new(CidErrorKind::Varint { field, error }, at);
        assert_eq!(
            err.kind(),
            &CarErrorKind::MalformedCid(expected),
            "{cid:02x?}"
        );
        // The offset is the CID's, past the one-byte section length.
        assert_eq!(err.offset(), head as u64 + 1);
    }
}

#[test]
fn bad_headers() {
    let roots = Value::Array(vec![Value::Link(root())]);
    let cases: Vec<(Vec<u8>, HeaderError)> = vec![
        (
            header_bytes(&map(&[
                ("roots", roots.clone()),
                ("version", Value::Integer(2)),
            ])),
            HeaderError::UnsupportedVersion,
        ),
        (
            // The CARv2 pragma.
            header_bytes(&map(&[("version", Value::Integer(2))])),
            HeaderError::UnsupportedVersion,
        ),
        (
            header_bytes(&map(&[("roots", roots.clone()), ("version", "1".into())])),
            HeaderError::UnsupportedVersion,
        ),
        (
            header_bytes(&map(&[
                ("roots", Value::Array(vec![])),
                ("version", Value::Integer(1)),
            ])),
            HeaderError::NoRoots,
        ),
        (
            header_bytes(&map(&[("version", Value::Integer(1))])),
            HeaderError::MissingRoots,
        ),
        (
            header_bytes(&map(&[("roots", roots.clone())])),
            HeaderError::MissingVersion,
        ),
        (
            header_bytes(&map(&[
                ("roots", Value::Array(vec![Value::Integer(1)])),
                ("version", Value::Integer(1)),
            ])),
            HeaderError::RootsNotCids,
        ),
        (
            header_bytes(&map(&[
                ("roots", Value::Link(root())),
                ("version", Value::Integer(1)),
            ])),
            HeaderError::RootsNotCids,
        ),
        (
            header_bytes(&map(&[
                ("roots", roots.clone()),
                ("version", Value::Integer(1)),
                ("extra", Value::Null),
            ])),
            HeaderError::UnknownKey("extra".into()),
        ),
        (
            header_bytes(&Value::Array(vec![roots.clone()])),
            HeaderError::NotAMap,
        ),
        (vec![0x00], HeaderError::Empty),
    ];
    for (car, expected) in cases {
        let err = read_all_ways(&car).unwrap_err();
        assert_eq!(err.kind(), &CarErrorKind::BadHeader(expected), "{car:02x?}");
    }
    // Non-canonical CBOR: keys in the wrong order, and a non-shortest integer.
    let good = header_bytes(&map(&[
        ("roots", roots.clone()),
        ("version", Value::Integer(1)),
    ]));
    let body = &good[1..];
    let version_at = body.len() - 9;
    let mut unsorted = vec![0xa2];
    unsorted.extend_from_slice(&body[version_at..]);
    unsorted.extend_from_slice(&body[1..version_at]);
    let mut car = varint(unsorted.len() as u64);
    car.extend_from_slice(&unsorted);
    let mut long_int = good.clone();
    long_int[0] += 1;
    let last = long_int.len() - 1;
    long_int[last] = 0x18;
    long_int.push(0x01);
    for car in [car, long_int] {
        match read_all_ways(&car).unwrap_err().kind() {
            CarErrorKind::BadHeader(HeaderError::Cbor(_)) => {}
            other => panic!("expected a CBOR error, got {other:?}"),
        }
    }
    // Header bytes followed by trailing bytes inside the declared length.
    let mut trailing = good.clone();
    trailing[0] += 1;
    trailing.push(0xf6);
    assert!(matches!(
        kind(read_all_ways(&trailing)),
        CarErrorKind::BadHeader(HeaderError::Cbor(_))
    ));
    assert_eq!(kind(read_all_ways(&[])), CarErrorKind::Truncated);
}

fn section(cid_bytes: &[u8], block: &[u8]) -> Vec<u8> {
    let mut car = write_car(&[root()], &[]);
    car.extend_from_slice(&varint((cid_bytes.len() + block.len()) as u64));
    car.extend_from_slice(cid_bytes);
    car.extend_from_slice(block);
    car
}

#[test]
fn unsupported_cids() {
    let block = b"abc";
    let sha512 = Cid::new_v1(
        DAG_CBOR_CODEC,
        Multihash::<64>::wrap(0x13, &[7; 64]).unwrap(),
    );
    assert_eq!(
        kind(read_all_ways(&section(&cid_bytes(&sha512), block))),
        CarErrorKind::UnsupportedHash(0x13)
    );
    let identity = Cid::new_v1(RAW_CODEC, Multihash::<64>::wrap(0x00, block).unwrap());
    assert_eq!(
        kind(read_all_ways(&section(&cid_bytes(&identity), block))),
        CarErrorKind::UnsupportedHash(0)
    );
    let dag_pb = Cid::new_v1(0x70, *raw_cid(block).hash());
    assert_eq!(
        kind(read_all_ways(&section(&cid_bytes(&dag_pb), block))),
        CarErrorKind::UnsupportedCodec(0x70)
    );
    let v0 = Cid::new_v0(*raw_cid(block).hash()).unwrap();
    assert_eq!(
        kind(read_all_ways(&section(&cid_bytes(&v0), block))),
        CarErrorKind::MalformedCid(CidError::new(CidErrorKind::V0, 0))
    );
    let short_digest = Cid::new_v1(
        DAG_CBOR_CODEC,
        Multihash::<64>::wrap(SHA2_256, &[1; 20]).unwrap(),
    );
    assert_eq!(
        kind(read_all_ways(&section(&cid_bytes(&short_digest), block))),
        CarErrorKind::BadCid("sha2-256 digest must be 32 bytes")
    );
    let mut v2 = cid_bytes(&dag_cbor_cid(block));
    v2[0] = 2;
    assert_eq!(
        kind(read_all_ways(&section(&v2, block))),
        CarErrorKind::MalformedCid(CidError::new(CidErrorKind::Version(2), 0))
    );
    // A section shorter than its CID.
    let cid = cid_bytes(&dag_cbor_cid(block));
    assert_eq!(
        kind(read_all_ways(&section(&cid[..20], &[]))),
        CarErrorKind::MalformedCid(CidError::new(
            CidErrorKind::DigestLength {
                declared: 32,
                present: 16
            },
            3
        ))
    );
    // The error points at the CID.
    let car = section(&cid_bytes(&sha512), block);
    let head = write_car(&[root()], &[]).len();
    assert_eq!(read_slice(&car).unwrap_err().offset(), head as u64 + 1);
}

#[test]
fn trailing_garbage() {
    let (car, _, _) = small_car();
    for garbage in [&[0x05][..], &[0x05, 1, 2], &[0x00], &[0xff], &[0x01, 0x01]] {
        let mut bad = car.clone();
        bad.extend_from_slice(garbage);
        let err = read_all_ways(&bad).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                CarErrorKind::Truncated | CarErrorKind::MalformedCid(_)
            ),
            "{garbage:?}: {err}"
        );
        // Truncation points at the section, a bad CID at the CID.
        let expected = car.len() + usize::from(!err.is_truncated());
        assert_eq!(err.offset(), expected as u64);
    }
}

#[test]
fn limits() {
    let (car, _, starts) = small_car();
    let few = CarLimits {
        max_blocks: 2,
        ..CarLimits::DEFAULT
    };
    let err = read_slice_with(&car, few).unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::TooManyBlocks);
    assert_eq!(err.offset(), starts[2] as u64);
    #[cfg(feature = "std")]
    assert_eq!(
        read_stream_with(&car, 3, few).unwrap_err().kind(),
        &CarErrorKind::TooManyBlocks
    );

    let small_total = CarLimits {
        max_total_size: car.len() as u64 - 1,
        ..CarLimits::DEFAULT
    };
    assert_eq!(
        read_slice_with(&car, small_total).unwrap_err().kind(),
        &CarErrorKind::TotalTooLarge
    );
    #[cfg(feature = "std")]
    {
        let err = read_stream_with(&car, 5, small_total).unwrap_err();
        assert_eq!(err.kind(), &CarErrorKind::TotalTooLarge);
        assert_eq!(err.offset(), starts[2] as u64);
    }
    let exact = CarLimits {
        max_total_size: car.len() as u64,
        ..CarLimits::DEFAULT
    };
    assert!(read_slice_with(&car, exact).is_ok());
    #[cfg(feature = "std")]
    assert!(read_stream_with(&car, 5, exact).is_ok());

    // Block size: a block one byte over is refused, exactly at the limit is fine.
    let block = vec![7u8; 1000];
    let cid = raw_cid(&block);
    let car = write_car(&[cid], &[(cid, block)]);
    let at = |n| CarLimits {
        max_block_size: n,
        ..CarLimits::DEFAULT
    };
    assert!(read_slice_with(&car, at(1000)).is_ok());
    #[cfg(feature = "std")]
    assert!(read_stream_with(&car, 64, at(1000)).is_ok());
    assert_eq!(
        read_slice_with(&car, at(999)).unwrap_err().kind(),
        &CarErrorKind::BlockTooLarge { len: 1036 }
    );
    #[cfg(feature = "std")]
    assert_eq!(
        read_stream_with(&car, 64, at(999)).unwrap_err().kind(),
        &CarErrorKind::BlockTooLarge { len: 1036 }
    );
    // Far over: refused from the length prefix alone.
    assert_eq!(
        read_slice_with(&car, at(10)).unwrap_err().kind(),
        &CarErrorKind::BlockTooLarge { len: 1036 }
    );

    let tiny_header = CarLimits {
        max_header_size: 10,
        ..CarLimits::DEFAULT
    };
    assert!(matches!(
        read_slice_with(&car, tiny_header).unwrap_err().kind(),
        CarErrorKind::HeaderTooLarge { .. }
    ));
    assert_eq!(CarLimits::FIREHOSE.max_total_size, 2_000_000);
}

#[cfg(feature = "std")]
#[test]
fn stream_io_errors() {
    #[derive(Debug)]
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let (car, _, _) = small_car();
            let n = self.0.min(buf.len()).min(car.len());
            buf[..n].copy_from_slice(&car[..n]);
            self.0 = 0;
            Ok(n)
        }
    }
    let err = CarStreamReader::new(Failing(0)).unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::Io);
    assert_io_cause(&err, "disk on fire");
    let (car, _, starts) = small_car();
    let mut r = CarStreamReader::new(Failing(starts[1] + 3)).unwrap();
    assert!(r.next_block().unwrap().is_some());
    let err = r.next_block().unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::Io);
    assert_io_cause(&err, "disk on fire");
    assert_eq!(err.offset(), starts[1] as u64 + 3);
    assert!(car.len() > starts[1] + 3);
    // Through a repository error too: the CAR error is its source.
    let repo_err = atproto_repo::RepoError::from(err);
    let source = std::error::Error::source(&repo_err).unwrap();
    let car_err = source.downcast_ref::<CarError>().unwrap();
    assert_io_cause(car_err, "disk on fire");
}

/// `err` failed on an I/O error with `message`, kept as the
/// `std::io::Error` itself: as its source, through `io_error`, and in its
/// one-line message.
#[cfg(feature = "std")]
fn assert_io_cause(err: &CarError, message: &str) {
    let source = std::error::Error::source(err).expect("an I/O error has a source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("the source is the std::io::Error");
    assert_eq!(io.to_string(), message);
    assert_eq!(err.io_error().unwrap().kind(), io.kind());
    assert!(
        err.to_string()
            .ends_with(&format!("I/O error at byte {}: {message}", err.offset())),
        "{err}"
    );
}

#[cfg(feature = "std")]
#[test]
fn writer_io_errors_keep_the_sink_error() {
    /// Takes this many more bytes, then fails.
    #[derive(Debug)]
    struct Full(usize);
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "sink full",
                ));
            }
            let n = self.0.min(buf.len());
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = CarWriter::new(Full(0), &[root()]).unwrap_err();
    assert_eq!((err.offset(), err.kind()), (0, &CarErrorKind::Io));
    assert_io_cause(&err, "sink full");
    assert_eq!(
        err.io_error().unwrap().kind(),
        std::io::ErrorKind::StorageFull
    );
    let header = write_car(&[root()], &[]).len();
    let mut w = CarWriter::new(Full(header + 5), &[root()]).unwrap();
    let err = w.write_block(&root(), b"block").unwrap_err();
    assert_eq!(err.offset(), header as u64);
    assert_io_cause(&err, "sink full");
}

#[test]
fn writer_refuses_no_roots() {
    let err = CarWriter::new(Vec::new(), &[]).unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::BadHeader(HeaderError::NoRoots));
}

#[cfg(feature = "std")]
#[test]
fn writer_to_io_write() {
    let blocks = random_blocks(11, 10, 50);
    let mut file = std::io::Cursor::new(Vec::new());
    let mut w = CarWriter::new(&mut file, &[root()]).unwrap();
    for (cid, b) in &blocks {
        w.write_block(cid, b).unwrap();
    }
    w.finish();
    assert_eq!(file.into_inner(), write_car(&[root()], &blocks));
}

fn mutate(car: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut out = car.to_vec();
    for &(at, b) in edits {
        if !out.is_empty() {
            let i = at % out.len();
            out[i] = b;
        }
    }
    out.truncate(cut % (out.len() + 1));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Any answer will do, as long as every reader gives it.
        let _ = read_all_ways(&data);
    }

    #[test]
    fn mutated_cars_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        let (car, _, _) = small_car();
        let _ = read_all_ways(&mutate(&car, &edits, cut));
    }

    #[test]
    fn any_blocks_round_trip(blocks in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..200), 0..20)
    ) {
        let blocks: Vec<(Cid, Vec<u8>)> =
            blocks.into_iter().map(|b| (dag_cbor_cid(&b), b)).collect();
        let car = write_car(&[root()], &blocks);
        let (_, got) = read_slice(&car).unwrap();
        prop_assert_eq!(got.len(), blocks.len());
        for ((c, b), (gc, gb)) in blocks.iter().zip(&got) {
            prop_assert_eq!(c, gc);
            prop_assert_eq!(&b[..], &gb[..]);
        }
    }
}

/// An async reader that is not ready every other poll and hands out at most
/// `step` bytes at a time.
#[cfg(feature = "async")]
struct Hesitant<'a> {
    data: &'a [u8],
    step: usize,
    ready: bool,
}

#[cfg(feature = "async")]
impl futures_io::AsyncRead for Hesitant<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.ready = !self.ready;
        if !self.ready {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        std::task::Poll::Ready(Ok(n))
    }
}

#[cfg(feature = "async")]
#[test]
fn async_reader_with_pending_source() {
    use atproto_repo::car::AsyncCarReader;
    let blocks = random_blocks(21, 50, 3000);
    let car = write_car(&[root()], &blocks);
    for step in [1, 13, 100_000] {
        let got: Vec<(Cid, Bytes)> = block_on(async {
            let source = Hesitant {
                data: &car,
                step,
                ready: false,
            };
            let mut r = AsyncCarReader::new(source).await.unwrap();
            assert_eq!(r.roots(), [root()]);
            let mut got = Vec::new();
            while let Some(b) = r.next_block().await.unwrap() {
                got.push(b);
            }
            assert_eq!(r.offset(), car.len() as u64);
            got
        });
        assert_eq!(got.len(), blocks.len());
        for ((c, b), (gc, gb)) in blocks.iter().zip(&got) {
            assert_eq!(c, gc);
            assert_eq!(&b[..], &gb[..]);
        }
    }
    // Truncated and corrupted input through the async path.
    let (mut small, _, starts) = small_car();
    assert_eq!(
        kind(read_async(&small[..small.len() - 1])),
        CarErrorKind::Truncated
    );
    small[starts[1] - 1] ^= 1;
    assert!(read_async(&small).unwrap_err().is_hash_mismatch());
}

/// An async source that fails: the reader keeps its `std::io::Error`.
#[cfg(feature = "async")]
#[test]
fn async_reader_keeps_io_errors() {
    #[derive(Debug)]
    struct Broken;
    impl futures_io::AsyncRead for Broken {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(Err(std::io::Error::other("cable cut")))
        }
    }
    let err = block_on(atproto_repo::car::AsyncCarReader::new(Broken)).unwrap_err();
    assert_eq!(err.kind(), &CarErrorKind::Io);
    assert_io_cause(&err, "cable cut");
}

/// The CAR error `verify_car` stops at, if it stops at one. It (like
/// `load_car`) reads through a path that hashes two blocks at a time and
/// frames ahead, so these tests hold it to the plain reader's answers.
fn verify_car_error(car: &[u8]) -> Option<CarError> {
    match atproto_repo::verify_car_unsigned(Bytes::copy_from_slice(car), None) {
        Err(atproto_repo::RepoError::Car(e)) => Some(e),
        _ => None,
    }
}

/// Every corrupted byte and every cut of a CAR with blocks of varied
/// lengths (so the two hashing lanes change messages at varied offsets from
/// each other): `verify_car` fails on the same CAR error, at the same
/// offset, as the plain reader, or on none when the reader finds none.
#[test]
fn verify_car_reports_the_readers_car_errors() {
    let blocks = random_blocks(11, 12, 300);
    let car = write_car(&[root()], &blocks);
    let mut cases = 0;
    for at in 0..car.len() {
        let mut flipped = car.clone();
        flipped[at] ^= 0x21;
        for input in [&flipped[..], &car[..at]] {
            let want = read_slice(input).err();
            let want = want.as_ref().map(what);
            assert_eq!(
                verify_car_error(input).as_ref().map(what),
                want,
                "byte {at}"
            );
            let loaded = load_car(Bytes::copy_from_slice(input), CarLimits::DEFAULT);
            assert_eq!(loaded.err().as_ref().map(what), want, "load_car, byte {at}");
            cases += usize::from(want.is_some());
        }
    }
    assert!(cases > car.len(), "only {cases} failing inputs");
}

/// Two bad blocks hashed side by side, or a bad block before a bad section
/// that was framed before the block's hash was known: the first one is
/// reported.
#[test]
fn verify_car_reports_the_first_of_two_bad_sections() {
    let blocks = random_blocks(12, 8, 200);
    let car = write_car(&[root()], &blocks);
    let starts: Vec<usize> = {
        let mut r = CarReader::new(car.clone()).unwrap();
        let mut starts = vec![r.offset() as usize];
        while r.next_block().unwrap().is_some() {
            starts.push(r.offset() as usize);
        }
        starts
    };
    for i in 0..blocks.len() - 1 {
        // The last byte of each of blocks i and i + 1.
        let mut two = car.clone();
        two[starts[i + 1] - 1] ^= 1;
        two[starts[i + 2] - 1] ^= 1;
        let want = read_slice(&two).unwrap_err();
        assert_eq!(
            want.kind(),
            &CarErrorKind::HashMismatch { cid: blocks[i].0 }
        );
        assert_eq!(
            verify_car_error(&two).as_ref().map(what),
            Some(what(&want)),
            "blocks {i} and {}",
            i + 1
        );
        // Block i bad, and the section after it cut short.
        let mut cut = car[..starts[i + 2] - 1].to_vec();
        cut[starts[i + 1] - 1] ^= 1;
        let want = read_slice(&cut).unwrap_err();
        assert!(want.is_hash_mismatch(), "{want}");
        assert_eq!(
            verify_car_error(&cut).as_ref().map(what),
            Some(what(&want)),
            "block {i} then a cut"
        );
    }
}
