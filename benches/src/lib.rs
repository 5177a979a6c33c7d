//! Workload records in the shapes the codec benches need. Keys, values and
//! record bytes come from `atproto_repo::workload`, the one definition of the
//! shared workloads.

use std::collections::BTreeMap;

use atproto_core::data::Value;
pub use atproto_repo::workload::{CREATED_AT, record};

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
