//! The deterministic workloads of `../shared/docs/BENCH-WORKLOADS.md`, built
//! with the project's own types so every bench measures the same inputs.

use std::collections::BTreeMap;

use atproto_core::data::{Value, cbor};
use atproto_core::syntax::Tid;

/// The `createdAt` every workload record carries.
pub const CREATED_AT: &str = "2023-11-14T22:13:20.000Z";

/// `tid(i)`: the TID of `((1_700_000_000_000_000 + i*1000) << 10) | 0`.
pub fn tid(i: u64) -> Tid {
    Tid::from_u64((1_700_000_000_000_000 + i * 1000) << 10)
}

/// The workload record `{"$type":"app.bsky.feed.post","text":text,"createdAt":…}` as a value.
pub fn record_value(text: &str) -> Value {
    let mut map = BTreeMap::new();
    map.insert(
        "$type".to_owned(),
        Value::String("app.bsky.feed.post".to_owned()),
    );
    map.insert("text".to_owned(), Value::String(text.to_owned()));
    map.insert("createdAt".to_owned(), Value::String(CREATED_AT.to_owned()));
    Value::Map(map)
}

/// `record(text)`: the DAG-CBOR bytes of the workload record.
pub fn record(text: &str) -> Vec<u8> {
    cbor::encode(&record_value(text))
}

/// The same record as a typed struct, for the serde path.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
pub struct Post {
    /// Always `app.bsky.feed.post`.
    #[serde(rename = "$type")]
    pub type_: String,
    /// The post text.
    pub text: String,
    /// Creation time.
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

/// The workload record as a typed [`Post`].
pub fn post(text: &str) -> Post {
    Post {
        type_: "app.bsky.feed.post".to_owned(),
        text: text.to_owned(),
        created_at: CREATED_AT.to_owned(),
    }
}
