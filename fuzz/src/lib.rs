//! Shared checks for the fuzz targets: each target is one call into here.

use std::fmt::Display;
use std::str::FromStr;

use atproto_core::Cid;
use atproto_core::data::{cbor, json};
use atproto_repo::MemoryBlockStore;
use atproto_repo::car::{CarReader, CarWriter};
use atproto_repo::commit::Commit;
use atproto_repo::mst::NodeData;
use atproto_repo::repo::{RecordValue, RecordWrite, Repo};
use atproto_repo::sync::{Op, verify_commit_proof};
use atproto_repo::workload::{Workload, bench_did, bench_keypair};
use std::sync::OnceLock;

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
pub fn json_round_trip(input: &[u8]) {
    if let Ok(value) = json::from_slice(input) {
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
/// minimal varints.
pub fn car_round_trip(input: &[u8]) {
    let Ok(reader) = CarReader::from_slice(input) else {
        return;
    };
    let roots = reader.roots().to_vec();
    let Ok(blocks) = reader.collect::<Result<Vec<_>, _>>() else {
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
}

fn proof_case() -> &'static ProofCase {
    static CASE: OnceLock<ProofCase> = OnceLock::new();
    CASE.get_or_init(|| {
        let key = bench_keypair().expect("bench key");
        let create = |i: u64| {
            let (path, _) = Workload::Sequential.entry(i);
            let (collection, rkey) = path.split_once('/').expect("path");
            RecordWrite::Create {
                collection: collection.parse().expect("nsid"),
                rkey: rkey.parse().expect("rkey"),
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
        let (collection, rkey) = deleted.split_once('/').expect("path");
        let (collection, rkey) = (
            collection.parse().expect("nsid"),
            rkey.parse().expect("rkey"),
        );
        batch.push(RecordWrite::Delete { collection, rkey });
        let commit = repo.apply_writes_at(&batch, &key, now + 1).expect("commit");
        ProofCase {
            slice: commit.car_slice().expect("slice"),
            ops: commit.ops.clone(),
            prev_data,
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
        None,
    );
    if slice == case.slice && ops == case.ops {
        assert!(
            result.is_ok(),
            "the unmodified commit must verify: {result:?}"
        );
    }
}
