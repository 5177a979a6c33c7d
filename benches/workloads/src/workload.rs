//! The deterministic benchmark workloads of the shared `BENCH-WORKLOADS.md`,
//! so that figures from the benches, the `atp bench` command, the timing
//! examples and other implementations all measure the very same keys and
//! values.
//!
//! | workload | key `i` | value of key `i` |
//! |---|---|---|
//! | [`Workload::Sequential`] S(N) | `app.bsky.feed.post/` + [`tid`]`(i)` | CID of [`record`]`("post {i}")` |
//! | [`Workload::Random`] R(N) | `com.example.record/` + hex of the first 8 bytes of SHA-256(decimal `i`) | CID of [`record`]`("rec {i}")` |
//!
//! ```
//! use atproto_workloads::{Workload, tid};
//! assert_eq!(Workload::Sequential.key(0).as_str(), format!("app.bsky.feed.post/{}", tid(0)));
//! let entries = Workload::Random.entries(3);
//! assert_eq!(entries.len(), 3);
//! ```

use std::collections::BTreeMap;

use atproto_core::crypto::{Curve, Keypair};
use atproto_core::data::{Value, cbor, dag_cbor_cid};
use atproto_core::syntax::{Did, Tid};
use atproto_core::{Cid, CryptoError, SyntaxError};
use sha2::{Digest, Sha256};

use atproto_repo::RecordPath;

/// The `createdAt` of every workload record.
pub const CREATED_AT: &str = "2023-11-14T22:13:20.000Z";

/// The DID of the benchmark repository (scenario 3).
pub const BENCH_DID: &str = "did:plc:benchbenchbenchbenchbenc";

/// The ASCII seed whose SHA-256 is the benchmark repository's k256 key.
pub const BENCH_KEY_SEED: &str = "atproto-bench-key";

/// `tid(i)`: the TID of the integer `((1_700_000_000_000_000 + i*1000) << 10) | 0`.
pub fn tid(i: u64) -> Tid {
    Tid::from_u64((1_700_000_000_000_000 + i * 1000) << 10)
}

/// `record(text)`: the DAG-CBOR of
/// `{"$type":"app.bsky.feed.post","text":text,"createdAt":"2023-11-14T22:13:20.000Z"}`.
pub fn record(text: &str) -> Vec<u8> {
    let mut map = BTreeMap::new();
    map.insert("$type".to_string(), Value::from("app.bsky.feed.post"));
    map.insert("text".to_string(), Value::from(text));
    map.insert("createdAt".to_string(), Value::from(CREATED_AT));
    cbor::encode(&Value::Map(map))
}

/// The benchmark repository's DID, [`BENCH_DID`].
pub fn bench_did() -> Result<Did, SyntaxError> {
    Did::from_static(BENCH_DID)
}

/// The benchmark repository's signing key: k256, private key = SHA-256 of [`BENCH_KEY_SEED`].
pub fn bench_keypair() -> Result<Keypair, CryptoError> {
    Keypair::from_private_bytes(Curve::K256, &Sha256::digest(BENCH_KEY_SEED.as_bytes()))
}

/// The MST key (`collection/rkey`) of a workload entry: the record path
/// [`Mst`](atproto_repo::mst::Mst) takes, validated once when the workload
/// is generated (never in a timed loop). Read it as text with `as_str()`.
pub type Key = RecordPath;

/// One of the two key/value workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// S(N): TID record keys in increasing order, as an account posting over time writes them.
    Sequential,
    /// R(N): hash-like keys in random order.
    Random,
}

impl Workload {
    /// The workload's one-letter name, `S` or `R`.
    pub fn letter(self) -> char {
        match self {
            Workload::Sequential => 'S',
            Workload::Random => 'R',
        }
    }

    /// The MST key (`collection/rkey`) of entry `i`.
    // An NSID, a `/` and a TID or 16 hex digits: always a valid path (the
    // tests check keys of both workloads), so the `expect` cannot fire.
    #[allow(clippy::expect_used)]
    pub fn key(self, i: u64) -> Key {
        let key = match self {
            Workload::Sequential => format!("app.bsky.feed.post/{}", tid(i)),
            Workload::Random => {
                let digest = Sha256::digest(i.to_string().as_bytes());
                let mut key = String::with_capacity(19 + 16);
                key.push_str("com.example.record/");
                for b in &digest[..8] {
                    key.push_str(&format!("{b:02x}"));
                }
                key
            }
        };
        RecordPath::try_from(key).expect("a workload key is a valid record path")
    }

    /// The record block (DAG-CBOR) of entry `i`.
    pub fn record(self, i: u64) -> Vec<u8> {
        match self {
            Workload::Sequential => record(&format!("post {i}")),
            Workload::Random => record(&format!("rec {i}")),
        }
    }

    /// Entry `i`: its key and the CID of its record.
    pub fn entry(self, i: u64) -> (Key, Cid) {
        (self.key(i), dag_cbor_cid(&self.record(i)))
    }

    /// Entries `0..n` in insertion order.
    pub fn entries(self, n: u64) -> Vec<(Key, Cid)> {
        (0..n).map(|i| self.entry(i)).collect()
    }
}

impl std::str::FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "S" | "s" | "sequential" => Ok(Workload::Sequential),
            "R" | "r" | "random" => Ok(Workload::Random),
            _ => Err(format!("unknown workload {s:?} (expected S or R)")),
        }
    }
}
