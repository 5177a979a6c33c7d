//! The capture format: reading, writing, and errors with offsets.

use atproto_core::varint::VarintError;
#[cfg(feature = "std")]
use atproto_firehose::CaptureWriter;
use atproto_firehose::{
    CaptureErrorKind, CaptureReader, FrameError, MAX_FRAME_BYTES, append_record,
};
use bytes::Bytes;

use crate::reference::capture;

#[cfg(feature = "std")]
#[test]
fn writer_reproduces_the_capture() {
    let data = capture();
    let mut w = CaptureWriter::new(Vec::new());
    let mut v = Vec::new();
    for record in CaptureReader::new(data.clone()).take(50) {
        let record = record.unwrap();
        w.write_frame(&record.frame).unwrap();
        append_record(&mut v, &record.message).unwrap();
    }
    let out = w.into_inner().unwrap();
    assert_eq!(out, v);
    assert_eq!(&data[..out.len()], &out[..]);
}

fn first_two() -> (Vec<u8>, usize) {
    let mut r = CaptureReader::new(capture());
    r.next().unwrap().unwrap();
    let second = r.offset();
    r.next().unwrap().unwrap();
    (capture()[..r.offset()].to_vec(), second)
}

#[test]
fn truncated_record_is_an_error_at_its_offset_and_ends_reading() {
    let (mut data, second) = first_two();
    data.pop();
    let mut r = CaptureReader::new(Bytes::from(data));
    assert!(r.next().unwrap().is_ok());
    let e = r.next().unwrap().unwrap_err();
    assert_eq!(e.offset, second);
    assert!(matches!(e.kind, CaptureErrorKind::Truncated { .. }), "{e}");
    assert!(r.next().is_none());
}

#[test]
fn bad_length_prefixes() {
    // Cut off inside the varint.
    let e = CaptureReader::new(Bytes::from_static(&[0x80]))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (e.offset, e.kind),
        (0, CaptureErrorKind::Length(VarintError::Truncated))
    );
    // Not the shortest form.
    let e = CaptureReader::new(Bytes::from_static(&[0x81, 0x00, 0xa0]))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind, CaptureErrorKind::Length(VarintError::NonMinimal));
    // Over the frame limit (checked before looking for the bytes).
    let mut big = Vec::new();
    atproto_core::varint::encode_to_vec(MAX_FRAME_BYTES as u64 + 1, &mut big);
    let e = CaptureReader::new(Bytes::from(big))
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(e.kind, CaptureErrorKind::TooLarge { .. }), "{e}");
}

#[test]
fn a_bad_message_is_reported_and_reading_goes_on() {
    let (good, second) = first_two();
    let mut data = Vec::new();
    append_record(&mut data, &[0xa0]).unwrap(); // a header with no op
    let bad_len = data.len();
    data.extend_from_slice(&good[..second]);
    let mut r = CaptureReader::new(Bytes::from(data));
    let e = r.next().unwrap().unwrap_err();
    assert_eq!(e.offset, 0);
    assert!(
        matches!(
            e.kind,
            CaptureErrorKind::Frame(FrameError::Field { field: "op", .. })
        ),
        "{e}"
    );
    assert_eq!(r.next().unwrap().unwrap().offset, bad_len);
    assert!(r.next().is_none());
}

#[test]
fn writer_refuses_an_oversized_message() {
    let mut v = Vec::new();
    let big = vec![0u8; MAX_FRAME_BYTES + 1];
    assert!(matches!(
        append_record(&mut v, &big),
        Err(FrameError::FrameTooLarge { .. })
    ));
    assert!(v.is_empty());
    #[cfg(feature = "std")]
    let e = CaptureWriter::new(Vec::new())
        .write_message(&big)
        .unwrap_err();
    #[cfg(feature = "std")]
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
