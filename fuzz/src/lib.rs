//! Shared checks for the fuzz targets: each target is one call into here.

use std::fmt::Display;
use std::str::FromStr;

use atproto_core::data::{cbor, json};
use atproto_repo::car::{CarReader, CarWriter};
use atproto_repo::commit::Commit;
use atproto_repo::mst::NodeData;

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
