//! CIDs as ATProto uses them: CIDv1, sha2-256, codec dag-cbor or raw.

use cid::{Cid, Version};
use sha2::{Digest, Sha256};

/// Multicodec code of DAG-CBOR (`0x71`): records, MST nodes, commits (`bafyrei…`).
pub const DAG_CBOR_CODEC: u64 = 0x71;
/// Multicodec code of raw bytes (`0x55`): blobs (`bafkrei…`).
pub const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256 (`0x12`).
pub const SHA2_256: u64 = 0x12;

fn sha256_cid(codec: u64, bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    // A 32-byte digest always fits the 64-byte multihash, so `wrap` cannot fail.
    let hash = cid::multihash::Multihash::<64>::wrap(SHA2_256, &digest).unwrap_or_default();
    Cid::new_v1(codec, hash)
}

/// The CID of a DAG-CBOR block: CIDv1, codec `0x71`, sha2-256 of `bytes`.
///
/// `bytes` should be canonical DAG-CBOR (see [`crate::data::cbor::encode`]);
/// the CID covers exactly these bytes.
pub fn dag_cbor_cid(bytes: &[u8]) -> Cid {
    sha256_cid(DAG_CBOR_CODEC, bytes)
}

/// The CID of a blob: CIDv1, codec `0x55` (raw), sha2-256 of `bytes`.
pub fn raw_cid(bytes: &[u8]) -> Cid {
    sha256_cid(RAW_CODEC, bytes)
}

/// Whether `cid` has the form ATProto blesses for new data: version 1,
/// sha2-256 with a 32-byte digest, codec dag-cbor or raw.
///
/// Decoders do not require this of every link they read (a CID found in
/// existing data is kept as is); writers and validators use it.
pub fn is_atproto_cid(cid: &Cid) -> bool {
    cid.version() == Version::V1
        && (cid.codec() == DAG_CBOR_CODEC || cid.codec() == RAW_CODEC)
        && cid.hash().code() == SHA2_256
        && cid.hash().size() == 32
}
