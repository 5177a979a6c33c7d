//! Every limit and malformation has its typed error.

use atproto_core::data::{CborErrorKind, Value, cbor};
use atproto_firehose::{
    CaptureReader, CommitMessage, ErrorMessage, Frame, FrameError, MAX_COMMIT_BLOCKS_BYTES,
    MAX_COMMIT_OPS, MAX_FRAME_BYTES, MAX_SYNC_BLOCKS_BYTES, Part, SyncMessage,
};
use bytes::Bytes;

use crate::reference::capture;

fn map(fields: &[(&str, Value)]) -> Value {
    Value::Map(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn message(header: &Value, body: &Value) -> Vec<u8> {
    let mut out = cbor::encode(header);
    out.extend(cbor::encode(body));
    out
}

fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
    Frame::decode(&Bytes::copy_from_slice(bytes))
}

fn cbor_error(r: Result<Frame, FrameError>) -> (Part, usize, CborErrorKind) {
    match r {
        Err(FrameError::Cbor {
            part,
            offset,
            error,
        }) => (part, offset, error.kind().clone()),
        other => panic!("not a CBOR error: {other:?}"),
    }
}

/// The first frame of a type from the capture, and its bytes.
fn first(type_name: &str) -> (Frame, Bytes) {
    CaptureReader::new(capture())
        .map(Result::unwrap)
        .find(|r| r.frame.type_name() == Some(type_name))
        .map(|r| (r.frame, r.message))
        .unwrap()
}

fn first_commit_with_ops() -> CommitMessage {
    CaptureReader::new(capture())
        .map(Result::unwrap)
        .find_map(|r| match r.frame {
            Frame::Commit(c) if !c.ops.is_empty() => Some(c),
            _ => None,
        })
        .unwrap()
}

#[test]
fn truncated_messages() {
    let (_, bytes) = first("#commit");
    let (part, offset, kind) = cbor_error(decode(&bytes[..bytes.len() - 1]));
    assert_eq!((part, kind), (Part::Body, CborErrorKind::UnexpectedEof));
    assert!(offset < bytes.len());
    let (part, _, kind) = cbor_error(decode(&bytes[..3]));
    assert_eq!((part, kind), (Part::Header, CborErrorKind::UnexpectedEof));
    assert!(matches!(
        decode(&[]),
        Err(FrameError::Cbor {
            part: Part::Header,
            ..
        })
    ));
    // A header and no body.
    let header = cbor::encode(&map(&[("op", Value::Integer(1)), ("t", s("#commit"))]));
    assert_eq!(
        decode(&header),
        Err(FrameError::MissingBody {
            offset: header.len()
        })
    );
}

#[test]
fn trailing_bytes_after_the_body() {
    let (_, bytes) = first("#identity");
    let mut b = bytes.to_vec();
    b.push(0xa0);
    assert_eq!(
        cbor_error(decode(&b)),
        (Part::Body, bytes.len(), CborErrorKind::TrailingBytes)
    );
}

#[test]
fn wrong_header_types() {
    let body = map(&[("name", s("OutdatedCursor"))]);
    let field = |h: Value| match decode(&message(&h, &body)) {
        Err(FrameError::Field {
            part: Part::Header,
            field,
            problem,
            ..
        }) => (field, problem),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(map(&[("op", s("1")), ("t", s("#info"))])),
        ("op", "is not an integer")
    );
    assert_eq!(field(map(&[("t", s("#info"))])), ("op", "is missing"));
    assert_eq!(
        field(map(&[("op", Value::Integer(1)), ("t", Value::Integer(3))])),
        ("t", "is not a string")
    );
    assert_eq!(
        field(map(&[("op", Value::Integer(1))])),
        ("t", "is missing")
    );
    assert_eq!(
        decode(&message(
            &map(&[("op", Value::Integer(2)), ("t", s("#info"))]),
            &body
        )),
        Err(FrameError::UnknownOp(2))
    );
    assert_eq!(
        decode(&message(&Value::Array(vec![]), &body)),
        Err(FrameError::NotAMap { part: Part::Header })
    );
    let h = map(&[("op", Value::Integer(1)), ("t", s("#info"))]);
    assert_eq!(
        decode(&message(&h, &Value::Integer(1))),
        Err(FrameError::NotAMap { part: Part::Body })
    );
    // Unknown header fields are tolerated.
    let h = map(&[
        ("op", Value::Integer(1)),
        ("t", s("#info")),
        ("x", Value::Null),
    ]);
    assert!(matches!(decode(&message(&h, &body)), Ok(Frame::Info(_))));
}

#[test]
fn error_frames() {
    let h = map(&[("op", Value::Integer(-1))]);
    let b = message(
        &h,
        &map(&[
            ("error", s("FutureCursor")),
            ("message", s("cursor in the future")),
        ]),
    );
    let frame = decode(&b).unwrap();
    assert_eq!(
        frame,
        Frame::Error(ErrorMessage {
            error: "FutureCursor".into(),
            message: Some("cursor in the future".into()),
            extra: Default::default(),
        })
    );
    assert_eq!(frame.type_name(), None);
    assert_eq!(frame.encode(), b);
    let b = message(&h, &map(&[("error", s("ConsumerTooSlow"))]));
    assert_eq!(decode(&b).unwrap().encode(), b);
    assert!(matches!(
        decode(&message(&h, &map(&[("message", s("no name"))]))),
        Err(FrameError::Field {
            field: "error",
            problem: "is missing",
            ..
        })
    ));
}

#[test]
fn non_canonical_cbor() {
    // `op` as a two-byte integer: {"t": "#info", "op": 0x18 0x01}.
    let mut b = vec![
        0xa2, 0x61, b't', 0x65, b'#', b'i', b'n', b'f', b'o', 0x62, b'o', b'p', 0x18, 0x01,
    ];
    b.extend(cbor::encode(&map(&[("name", s("x"))])));
    assert_eq!(
        cbor_error(decode(&b)),
        (Part::Header, 12, CborErrorKind::NonCanonicalInteger)
    );
    // Header keys out of canonical order ("op" before "t").
    let mut b = vec![
        0xa2, 0x62, b'o', b'p', 0x01, 0x61, b't', 0x65, b'#', b'i', b'n', b'f', b'o',
    ];
    let header_len = b.len();
    // Body keys out of order too, but the header is read first.
    b.extend([0xa1, 0x64, b'n', b'a', b'm', b'e', 0x61, b'x']);
    assert_eq!(cbor_error(decode(&b)).2, CborErrorKind::UnsortedMapKeys);
    // A float in the body.
    let mut b = cbor::encode(&map(&[("op", Value::Integer(1)), ("t", s("#info"))]));
    b.extend([0xa1, 0x64, b'n', b'a', b'm', b'e', 0xf9, 0x3c, 0x00]);
    assert_eq!(
        cbor_error(decode(&b)),
        (Part::Body, header_len + 6, CborErrorKind::Float)
    );
}

#[test]
fn unknown_types_and_unknown_fields_are_kept() {
    let h = map(&[("op", Value::Integer(1)), ("t", s("#future"))]);
    let b = message(&h, &map(&[("seq", Value::Integer(7)), ("what", s("new"))]));
    let frame = decode(&b).unwrap();
    let Frame::Unknown(u) = &frame else {
        panic!("{frame:?}")
    };
    assert_eq!(u.t, "#future");
    assert_eq!(u.body.get("what"), Some(&s("new")));
    assert_eq!((frame.type_name(), frame.seq()), (Some("#future"), Some(7)));
    assert_eq!(frame.encode(), b);

    let (identity, bytes) = first("#identity");
    let body = cbor::decode(
        &bytes[cbor::encode(&map(&[("op", Value::Integer(1)), ("t", s("#identity"))])).len()..],
    )
    .unwrap();
    let Value::Map(mut body) = body else { panic!() };
    body.insert("zNewField".into(), Value::Bool(true));
    let h = map(&[("op", Value::Integer(1)), ("t", s("#identity"))]);
    let newer = message(&h, &Value::Map(body));
    let decoded = decode(&newer).unwrap();
    let Frame::Identity(ref m) = decoded else {
        panic!("{decoded:?}")
    };
    // The known fields are as before; the new one is kept, and written back.
    assert_eq!(m.extra.get("zNewField"), Some(&Value::Bool(true)));
    let Frame::Identity(ref old) = identity else {
        panic!()
    };
    assert_eq!(
        (&m.did, &m.handle, m.seq, &m.time),
        (&old.did, &old.handle, old.seq, &old.time)
    );
    assert_eq!(decoded.encode(), newer);

    // An unknown field of an op is kept too.
    let mut c = first_commit_with_ops();
    c.ops[0]
        .extra
        .insert("note".into(), s("from a newer server"));
    c.extra.insert("zz".into(), Value::Integer(3));
    let frame = Frame::Commit(c);
    assert_eq!(decode(&frame.encode()).unwrap(), frame);
}

#[test]
fn missing_and_mistyped_body_fields() {
    let h = map(&[("op", Value::Integer(1)), ("t", s("#account"))]);
    let r = decode(&message(
        &h,
        &map(&[
            ("seq", Value::Integer(1)),
            ("did", s("did:plc:x")),
            ("time", s("t")),
            ("active", s("yes")),
        ]),
    ));
    assert_eq!(
        r,
        Err(FrameError::Field {
            part: Part::Body,
            message: "#account",
            field: "active",
            problem: "is not a boolean"
        })
    );
    let mut c = first_commit_with_ops();
    let h = map(&[("op", Value::Integer(1)), ("t", s("#commit"))]);
    c.ops.truncate(1);
    let Value::Map(mut body) =
        cbor::decode(&Frame::Commit(c).encode()[cbor::encode(&h).len()..]).unwrap()
    else {
        panic!()
    };
    let Some(Value::Array(ops)) = body.get_mut("ops") else {
        panic!()
    };
    let Value::Map(op) = &mut ops[0] else {
        panic!()
    };
    op.insert("action".into(), s("rename"));
    assert_eq!(
        decode(&message(&h, &Value::Map(body))),
        Err(FrameError::UnknownAction { index: 0 })
    );
}

#[test]
fn frame_size_limit() {
    let mut b = vec![0u8; MAX_FRAME_BYTES + 1];
    b[0] = 0xa0;
    assert_eq!(
        decode(&b),
        Err(FrameError::FrameTooLarge {
            len: MAX_FRAME_BYTES + 1,
            max: MAX_FRAME_BYTES
        })
    );
}

#[test]
fn commit_blocks_limit() {
    let mut c = first_commit_with_ops();
    c.blocks = Bytes::from(vec![0u8; MAX_COMMIT_BLOCKS_BYTES]);
    assert!(decode(&Frame::Commit(c.clone()).encode()).is_ok());
    c.blocks = Bytes::from(vec![0u8; MAX_COMMIT_BLOCKS_BYTES + 1]);
    assert_eq!(
        decode(&Frame::Commit(c).encode()),
        Err(FrameError::BlocksTooLarge {
            message: "#commit",
            len: MAX_COMMIT_BLOCKS_BYTES + 1,
            max: MAX_COMMIT_BLOCKS_BYTES
        })
    );
}

#[test]
fn sync_blocks_limit() {
    let (Frame::Sync(s), _) = first("#sync") else {
        panic!()
    };
    let with = |n: usize| {
        decode(
            &Frame::Sync(SyncMessage {
                blocks: Bytes::from(vec![0u8; n]),
                ..s.clone()
            })
            .encode(),
        )
    };
    assert!(with(MAX_SYNC_BLOCKS_BYTES).is_ok());
    assert_eq!(
        with(MAX_SYNC_BLOCKS_BYTES + 1),
        Err(FrameError::BlocksTooLarge {
            message: "#sync",
            len: MAX_SYNC_BLOCKS_BYTES + 1,
            max: MAX_SYNC_BLOCKS_BYTES
        })
    );
}

#[test]
fn ops_limit() {
    let mut c = first_commit_with_ops();
    let op = c.ops[0].clone();
    c.ops = vec![op; MAX_COMMIT_OPS];
    assert!(decode(&Frame::Commit(c.clone()).encode()).is_ok());
    c.ops.push(c.ops[0].clone());
    assert_eq!(
        decode(&Frame::Commit(c).encode()),
        Err(FrameError::TooManyOps {
            count: MAX_COMMIT_OPS + 1,
            max: MAX_COMMIT_OPS
        })
    );
}
