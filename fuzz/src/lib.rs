//! Shared checks for the fuzz targets: each target is one call into here.

use std::fmt::Display;
use std::str::FromStr;

use atproto_core::Cid;
use atproto_core::Value;
use atproto_core::crypto::PublicKey;
use atproto_core::data::{cbor, json};
use atproto_firehose::{CaptureReader, Frame, FrameError, Mode, Validator};
use atproto_lexicon::{Catalog, EndpointKind, LexiconDoc, RecordValidator};
use atproto_repo::MemoryBlockStore;
use atproto_repo::car::{CarReader, CarWriter};
use atproto_repo::commit::Commit;
use atproto_repo::mst::NodeData;
use atproto_repo::repo::{RecordValue, RecordWrite, Repo, RepoError, verify_car_unsigned};
use atproto_repo::sync::{Op, verify_commit_proof};
use atproto_workloads::{Workload, bench_did, bench_keypair};
use bytes::Bytes;
use std::sync::OnceLock;

mod server;
pub use server::{xrpc_params_de, xrpc_server_request};

/// A syntax type must never panic, and whatever it accepts must print back
/// exactly as given and parse again.
pub fn syntax_round_trip<T>(input: &str)
where
    T: FromStr + Display,
{
    if let Ok(parsed) = input.parse::<T>() {
        let printed = parsed.to_string();
        assert_eq!(
            printed, input,
            "accepted value does not print back as given"
        );
        assert!(
            printed.parse::<T>().is_ok(),
            "printed value does not parse again"
        );
    }
}

/// The strict decoder accepts only canonical DAG-CBOR, so whatever it accepts
/// must re-encode to the very same bytes.
pub fn cbor_round_trip(input: &[u8]) {
    if let Ok(value) = cbor::decode(input) {
        assert_eq!(
            cbor::encode(&value),
            input,
            "accepted CBOR is not canonical"
        );
    }
}

/// Whatever the JSON parser accepts must survive JSON and CBOR round trips.
/// The one-pass parser must give what `from_json` gives on the text parsed by
/// `serde_json` (value, or error kind and path), unless it reports a repeated
/// key, which `serde_json::Value` cannot show. (This assumes `serde_json`
/// without `preserve_order`, so that both see object members in key order.)
pub fn json_round_trip(input: &[u8]) {
    let parsed = json::from_slice(input);
    if let Ok(text) = std::str::from_utf8(input) {
        assert_eq!(
            json::from_str(text),
            parsed,
            "from_str and from_slice differ"
        );
    }
    let is_duplicate =
        |e: &json::JsonError| matches!(e.kind(), json::JsonErrorKind::DuplicateKey(_));
    if !parsed.as_ref().is_err_and(is_duplicate) {
        let reference = match serde_json::from_slice::<serde_json::Value>(input) {
            Ok(v) => json::from_json(&v).map_err(|e| (e.kind().clone(), e.path().to_owned())),
            Err(e) => Err((json::JsonErrorKind::Syntax(e.to_string()), String::new())),
        };
        let got = parsed
            .clone()
            .map_err(|e| (e.kind().clone(), e.path().to_owned()));
        assert_eq!(got, reference, "parser and from_json disagree");
    }
    if let Ok(value) = parsed {
        let text = json::to_string(&value);
        let again = json::from_str(&text).expect("printed JSON must parse again");
        assert_eq!(again, value, "JSON round trip changed the value");
        let bytes = cbor::encode(&value);
        assert_eq!(
            cbor::decode(&bytes).expect("encoder output must decode"),
            value
        );
    }
}

/// A CAR the reader accepts whole (header, every block hash-checked) must be
/// written back byte for byte: the reader takes only canonical headers and
/// minimal varints. `verify_car` must meet the same CAR error as the reader.
pub fn car_round_trip(input: &[u8]) {
    let read = CarReader::from_slice(input).and_then(|reader| {
        let roots = reader.roots().to_vec();
        Ok((roots, reader.collect::<Result<Vec<_>, _>>()?))
    });
    // `verify_car` frames and hashes the CAR its own way (two blocks at a
    // time): it must stop at the same CAR error, or at none.
    // (A `CarError` is not `PartialEq`: it may keep an I/O cause. Offset
    // and kind say everything about an in-memory CAR.)
    let verify_error = match verify_car_unsigned(Bytes::copy_from_slice(input), None) {
        Err(RepoError::Car(e)) => Some((e.offset(), e.kind().clone())),
        _ => None,
    };
    assert_eq!(
        verify_error,
        read.as_ref().err().map(|e| (e.offset(), e.kind().clone())),
        "verify_car and the reader disagree on the CAR"
    );
    let Ok((roots, blocks)) = read else {
        return;
    };
    let mut writer = CarWriter::new(Vec::new(), &roots).expect("accepted roots can be written");
    for (cid, block) in &blocks {
        writer
            .write_block(cid, block)
            .expect("writing to a Vec cannot fail");
    }
    assert_eq!(
        writer.finish(),
        input,
        "accepted CAR does not write back as given"
    );
}

/// A commit the strict decoder accepts must encode back to the same bytes.
pub fn commit_round_trip(input: &[u8]) {
    if let Ok(commit) = Commit::decode(input) {
        assert_eq!(
            commit.to_cbor(),
            input,
            "accepted commit does not encode back as given"
        );
    }
}

/// A firehose message the frame decoder accepts must encode to a message
/// that decodes to the same frame (not always to the same bytes: unknown
/// fields are skipped, absent and `null` optional fields read alike).
pub fn firehose_frame(input: &[u8]) {
    let decoded = Frame::decode_slice(input);
    frame_cbor_verdict_agrees(input, &decoded);
    if let Ok(frame) = decoded {
        let encoded = frame.encode();
        match Frame::decode_slice(&encoded) {
            Ok(again) => assert_eq!(again, frame, "re-encoded frame decodes differently"),
            // Writing out an absent `since` or op `cid` as `null` can take a
            // message at the size limit over it.
            Err(FrameError::FrameTooLarge { .. }) => {}
            Err(e) => panic!("re-encoded frame does not decode: {e}"),
        }
    }
}

/// A capture file (`LEB128 length ‖ message` records) never panics the
/// reader: offsets only grow, a framing error ends the reading, and every
/// record it hands out is within the input.
pub fn firehose_capture(input: &[u8]) {
    let data = Bytes::copy_from_slice(input);
    let mut reader = CaptureReader::new(data.clone());
    let mut last = 0;
    while let Some(next) = reader.next_message() {
        match next {
            Ok((offset, message)) => {
                assert!(offset >= last, "record offsets go backwards");
                assert!(offset + message.len() <= data.len(), "record past the end");
                last = offset;
            }
            Err(e) => assert!(e.offset >= last, "error offset goes backwards"),
        }
    }
    // The typed iterator decodes each record; it must stop too.
    let records = CaptureReader::new(data).count();
    assert!(records <= input.len(), "more records than bytes");
}

/// The vendored capture's accounts and their signing keys.
fn capture_keys() -> &'static std::collections::BTreeMap<String, PublicKey> {
    static KEYS: OnceLock<std::collections::BTreeMap<String, PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let text = include_str!("../../testdata/firehose/ref-pds-dev-keys.json");
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_str(text).expect("the vendored keys file is JSON");
        map.into_iter()
            .map(|(did, key)| (did, key.parse().expect("a did:key")))
            .collect()
    })
}

/// Sync v1.1 validation of any frame never panics, with the capture's real
/// keys (so mutated real commits reach the signature and inversion checks),
/// and lenient mode accepts whatever strict mode accepts.
pub fn firehose_validate(input: &[u8]) {
    let Ok(frame) = Frame::decode_slice(input) else {
        return;
    };
    // 2027-01-15: after the capture, so its revs are not in the future.
    let now = 1_800_000_000_000_000;
    let mut strict = Validator::in_memory(Mode::Strict);
    let mut lenient = Validator::in_memory(Mode::Lenient);
    let s = strict
        .frame(&frame, capture_keys(), now)
        .expect("the in-memory store does not fail");
    let l = lenient
        .frame(&frame, capture_keys(), now)
        .expect("the in-memory store does not fail");
    if s.is_accepted() {
        assert!(
            l.is_accepted(),
            "strict accepts what lenient refuses: {l:?}"
        );
    }
}

/// The frame decoder reads its two items with atproto-core's borrowed
/// decoder: its DAG-CBOR verdict on each must be the owned decoder's (the
/// same error at the same offset; a frame accepted only when both items
/// are), and an unknown message's body that decoder's map.
fn frame_cbor_verdict_agrees(input: &[u8], decoded: &Result<Frame, FrameError>) {
    use atproto_core::data::{CborError, Limits};
    use atproto_firehose::{MAX_FRAME_BYTES, Part};
    if input.len() > MAX_FRAME_BYTES {
        return;
    }
    let cbor_error = |part, offset, error: CborError| FrameError::Cbor {
        part,
        offset,
        error,
    };
    let used = match cbor::decode_prefix_with(input, &Limits::DEFAULT) {
        Ok((_, used)) => used,
        Err(e) => {
            assert_eq!(
                decoded.as_ref().err(),
                Some(&cbor_error(Part::Header, e.offset(), e.clone())),
                "header verdict differs from the owned decoder's"
            );
            return;
        }
    };
    let body = cbor::decode_bytes_with(&Bytes::copy_from_slice(&input[used..]), &Limits::DEFAULT);
    match decoded {
        Err(FrameError::Cbor {
            part: Part::Body,
            offset,
            error,
        }) => assert_eq!(
            body.err()
                .map(|e| cbor_error(Part::Body, used + e.offset(), e)),
            Some(cbor_error(Part::Body, *offset, error.clone())),
            "body verdict differs from the owned decoder's"
        ),
        Err(FrameError::Cbor { .. }) => panic!("header error after a header the decoder accepts"),
        Err(_) => {}
        Ok(frame) => {
            let body = body.expect("a frame accepted with a body the owned decoder refuses");
            if let Frame::Unknown(u) = frame {
                assert_eq!(Value::Map(u.body.clone()), body, "unknown body differs");
            }
        }
    }
}

/// An MST node the strict decoder accepts must encode back to the same bytes.
pub fn mst_node_round_trip(input: &[u8]) {
    if let Ok(node) = NodeData::decode(input) {
        let mut out = Vec::new();
        node.encode_into(&mut out);
        assert_eq!(
            out, input,
            "accepted MST node does not encode back as given"
        );
    }
}

/// A real sync v1.1 commit (slice, ops, previous root) on a 64-record repo,
/// built once: the commit-proof target mutates it.
struct ProofCase {
    slice: Vec<u8>,
    ops: Vec<Op>,
    prev_data: Cid,
    /// The key that signed the commit.
    key: PublicKey,
}

fn proof_case() -> &'static ProofCase {
    static CASE: OnceLock<ProofCase> = OnceLock::new();
    CASE.get_or_init(|| {
        let key = bench_keypair().expect("bench key");
        let create = |i: u64| {
            let (path, _) = Workload::Sequential.entry(i);
            RecordWrite::Create {
                collection: path.collection_nsid().expect("nsid"),
                rkey: path.record_key().expect("rkey"),
                value: RecordValue::Cbor(Workload::Sequential.record(i).into()),
            }
        };
        let writes: Vec<_> = (0..64).map(create).collect();
        let now = 1_800_000_000_000_000;
        let (mut repo, _) = Repo::create_at(
            MemoryBlockStore::new(),
            bench_did().expect("did"),
            &key,
            &writes,
            now,
        )
        .expect("repo");
        let prev_data = repo.data_root();
        let mut batch: Vec<_> = (64..67).map(create).collect();
        let deleted = Workload::Sequential.key(3);
        batch.push(RecordWrite::Delete {
            collection: deleted.collection_nsid().expect("nsid"),
            rkey: deleted.record_key().expect("rkey"),
        });
        let commit = repo.apply_writes_at(&batch, &key, now + 1).expect("commit");
        ProofCase {
            slice: commit.car_slice().expect("slice"),
            ops: commit.ops.clone(),
            prev_data,
            key: key.public_key(),
        }
    })
}

/// Sync v1.1 commit verification must never panic: the input patches a real
/// commit's slice (pairs of offset and byte) and may drop or retarget ops.
/// The unpatched commit must verify.
pub fn commit_proof(data: &[u8]) {
    let case = proof_case();
    let did = bench_did().expect("did");
    let mut slice = case.slice.clone();
    let mut ops = case.ops.clone();
    let (control, patches) = data.split_first().unwrap_or((&0, &[]));
    for patch in patches.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([patch[0], patch[1]]));
        if let Some(byte) = slice.get_mut(at) {
            *byte = patch[2];
        }
    }
    match control % 4 {
        1 => drop(ops.pop()),
        2 => ops.reverse(),
        3 => slice.truncate(usize::from(*control) * 8),
        _ => {}
    }
    let result = verify_commit_proof(
        bytes::Bytes::from(slice.clone()),
        &ops,
        &case.prev_data,
        &did,
        &case.key,
    );
    if slice == case.slice && ops == case.ops {
        assert!(
            result.is_ok(),
            "the unmodified commit must verify: {result:?}"
        );
    }
}

/// Whatever the value, every way into a compiled validator must return a
/// verdict: validation, defaults, record keys, endpoint parameters, bodies
/// and messages. Validation errors must print. A value that fails
/// validation must come out of `validate_and_apply_defaults` unchanged.
fn exercise_def(catalog: &Catalog, name: &str, data: &Value) {
    if let Ok(record) = catalog.record(name) {
        let verdict = record.validate(data).map_err(|e| e.to_string());
        let _ = record.check_rkey("self").map_err(|e| e.to_string());
        let _ = record.validate_with_rkey(data, "3l7vx2wnd3c2p");
        let mut copy = data.clone();
        if record.validate_and_apply_defaults(&mut copy).is_err() {
            assert_eq!(&copy, data, "failed validation changed the record");
        } else {
            assert!(verdict.is_ok(), "defaults applied to an invalid record");
        }
    }
    if let Ok(def) = catalog.def(name) {
        let _ = (def.name(), def.type_name());
        let _ = def.validate(data).map_err(|e| e.to_string());
        let mut copy = data.clone();
        if def.validate_and_apply_defaults(&mut copy).is_err() {
            assert_eq!(&copy, data, "failed validation changed the value");
        }
    }
    let endpoint = match catalog.endpoint_kind(name) {
        Some(EndpointKind::Query) => catalog.query(name),
        Some(EndpointKind::Procedure) => catalog.procedure(name),
        Some(EndpointKind::Subscription) => catalog.subscription(name),
        _ => return,
    }
    .expect("the catalog named this endpoint's kind");
    // URL parameters: the data's string members (and strings in its
    // arrays, as repeated names).
    let mut pairs = Vec::new();
    if let Value::Map(m) = data {
        for (k, v) in m {
            match v {
                Value::String(s) => pairs.push((k.as_str(), s.as_str())),
                Value::Array(items) => pairs.extend(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|s| (k.as_str(), s)),
                ),
                _ => {}
            }
        }
    }
    let _ = endpoint.validate_params(&pairs).map_err(|e| e.to_string());
    let _ = endpoint.validate_params_value(data);
    let _ = (endpoint.input_encoding(), endpoint.output_encoding());
    let _ = endpoint.validate_input(data).map_err(|e| e.to_string());
    let _ = endpoint.validate_output(data);
    let mut copy = data.clone();
    if endpoint
        .validate_and_apply_input_defaults(&mut copy)
        .is_err()
    {
        assert_eq!(&copy, data, "failed validation changed the input");
    }
    let _ = endpoint.validate_message(data);
    let ty = data.get("$type").and_then(Value::as_str).unwrap_or("#main");
    let _ = endpoint.validate_message_as(ty, data);
}

/// Arbitrary bytes as a Lexicon document: parsing, the document rules,
/// compiling a one-document catalog and validating with every def of it must
/// never panic. The data validated comes from the input too: its top-level
/// `"data"` member if it has one (documents may carry unknown fields), else
/// the document itself read as ATProto JSON.
pub fn lexicon_schema(input: &[u8]) {
    let doc = match LexiconDoc::from_slice(input) {
        Ok(doc) => doc,
        Err(e) => return drop(e.to_string()),
    };
    let _ = doc
        .main()
        .map(|m| (m.type_name(), m.is_primary(), m.description()));
    let id = doc.id.as_str().to_owned();
    let names: Vec<String> = doc
        .defs
        .keys()
        .map(|d| match d.as_str() {
            "main" => id.clone(),
            _ => format!("{id}#{d}"),
        })
        .collect();
    let mut builder = Catalog::builder();
    if let Err(e) = builder.add_doc(doc) {
        return drop(e.to_string());
    }
    let catalog = match builder.build() {
        Ok(catalog) => catalog,
        Err(e) => return drop(e.to_string()),
    };
    assert!(
        catalog.doc(&id).is_some(),
        "a built catalog lost its document"
    );
    let _ = (catalog.def_count(), catalog.node_count());
    let data = match json::from_slice(input) {
        Ok(Value::Map(mut m)) => m.remove("data").unwrap_or(Value::Map(m)),
        Ok(v) => v,
        Err(_) => Value::Null,
    };
    for name in &names {
        exercise_def(&catalog, name, &data);
    }
    let _ = catalog.validate_record(&data).map_err(|e| e.to_string());
}

const POST: &str = "app.bsky.feed.post";

/// The upstream lexicons built into atproto-lexicon (the `bundled`
/// feature), compiled once. Called from the target's `init`, so the catalog
/// is built before the first input; nothing is read from disk.
pub fn upstream_catalog() -> &'static Catalog {
    atproto_lexicon::bundled::catalog()
}

/// One decoded value through the `app.bsky.feed.post` validator and, by its
/// `$type`, through whichever upstream record type it claims to be.
fn validate_post_value(catalog: &Catalog, post: RecordValidator<'_>, value: &Value) {
    let verdict = post.validate(value).map_err(|e| e.to_string());
    let _ = post.validate_with_rkey(value, "3l7vx2wnd3c2p");
    let mut copy = value.clone();
    if post.validate_and_apply_defaults(&mut copy).is_err() {
        assert_eq!(&copy, value, "failed validation changed the record");
    } else {
        assert!(verdict.is_ok(), "defaults applied to an invalid record");
    }
    let by_type = catalog.validate_record(value).map_err(|e| e.to_string());
    if value.get("$type").and_then(Value::as_str) == Some(POST) {
        assert_eq!(
            by_type.is_ok(),
            verdict.is_ok(),
            "the catalog and the post validator disagree: {by_type:?} / {verdict:?}"
        );
    }
}

/// Arbitrary bytes as an `app.bsky.feed.post` record, both as ATProto JSON
/// (through `validate_json`) and as DAG-CBOR: validation must never panic,
/// and `validate_json` must agree with parsing then validating.
pub fn lexicon_validate(input: &[u8]) {
    let catalog = upstream_catalog();
    let post = catalog
        .record(POST)
        .expect("checked when the catalog was built");
    if let Ok(text) = std::str::from_utf8(input) {
        let direct = post.validate_json(text).map_err(|e| e.to_string());
        match json::record_from_str(text) {
            Ok(value) => {
                assert_eq!(
                    direct.is_ok(),
                    post.validate(&value).is_ok(),
                    "validate_json disagrees with parse then validate"
                );
                validate_post_value(catalog, post, &value);
            }
            Err(_) => assert!(direct.is_err(), "validate_json accepted unparsable JSON"),
        }
    }
    if let Ok(value) = cbor::decode(input) {
        validate_post_value(catalog, post, &value);
    }
}

/// Any text as an XRPC query string: decoding never panics, and what it
/// accepts encodes to a query that decodes to the same pairs (when the
/// encoding, which may be longer than the input, is within the limit).
pub fn xrpc_query(input: &[u8]) {
    use atproto_xrpc::params::MAX_QUERY_LEN;
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(params) = atproto_xrpc::QueryParams::decode(text) {
        let encoded = params.encode();
        if encoded.len() > MAX_QUERY_LEN {
            return;
        }
        let again = atproto_xrpc::QueryParams::decode(&encoded)
            .expect("an encoded query within the limit decodes again");
        assert_eq!(
            again.pairs(),
            params.pairs(),
            "query pairs changed on a round trip"
        );
    }
}

/// Any bytes as the DID document of a fixed DID: parsing and every
/// accessor return values or typed errors, never panic.
pub fn did_document(input: &[u8]) {
    let did: atproto_core::Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
        .parse()
        .expect("valid DID");
    if let Ok(doc) = atproto_xrpc::DidDocument::parse(input, &did) {
        let _ = doc.handle();
        let _ = doc.signing_key();
        let _ = doc.pds_endpoint();
    }
}

/// Any bytes as a did:plc operation log: parsing and verification never
/// panic; each parsed operation writes back to JSON that parses to the same
/// operation.
pub fn plc_log(input: &[u8]) {
    use atproto_xrpc::identity::plc::{parse_log, parse_operation, verify_log};
    if let Ok(ops) = parse_log(input) {
        for op in &ops {
            let json = serde_json::to_vec(op).expect("an operation serializes");
            assert_eq!(
                parse_operation(&json).as_ref(),
                Ok(op),
                "operation changed on a JSON round trip"
            );
        }
        if let Some(first) = ops.first() {
            let _ = verify_log(&first.genesis_did(), &ops);
        }
    }
}

/// Any text as a compact JWS: parsing and verification never panic, and a
/// parsed token keeps its signed input as given.
pub fn jwt_parse(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(jwt) = atproto_xrpc::Jwt::parse(text) {
        assert!(
            text.starts_with(jwt.signing_input()),
            "signing input is not the token's prefix"
        );
        let _ = jwt.verify_ecdsa(&jwt_key().public_key());
        let _ = jwt.verify_hs256(b"fuzz secret");
    }
}

fn jwt_key() -> &'static atproto_core::crypto::Keypair {
    static KEY: OnceLock<atproto_core::crypto::Keypair> = OnceLock::new();
    KEY.get_or_init(|| bench_keypair().expect("the bench key"))
}
