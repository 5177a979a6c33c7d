//! Property tests: validation never panics, whatever the value.

use std::collections::BTreeMap;

use atproto_core::Value;
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        "\\PC{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "app.bsky.feed.post",
            "app.bsky.embed.images",
            "app.bsky.richtext.facet#mention",
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            "2024-01-01T00:00:00Z",
            "en",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "$type",
                    "text",
                    "createdAt",
                    "embed",
                    "images",
                    "alt",
                    "image",
                    "facets",
                    "index",
                    "features",
                    "did",
                    "reply",
                    "root",
                    "parent",
                    "uri",
                    "cid",
                    "langs",
                ])
                .prop_map(String::from),
                inner,
                0..6,
            )
            .prop_map(|m: BTreeMap<String, Value>| Value::Map(m)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validation_never_panics(v in value()) {
        let c = crate::upstream_catalog();
        let post = c.record("app.bsky.feed.post").unwrap();
        let _ = post.validate(&v);
        let mut copy = v.clone();
        if post.validate_and_apply_defaults(&mut copy).is_err() {
            prop_assert_eq!(&copy, &v);
        }
        let _ = c.def("app.bsky.richtext.facet").unwrap().validate(&v);
        let _ = c.validate_record(&v);
        let q = c.query("app.bsky.feed.searchPosts").unwrap();
        if let Value::String(s) = &v {
            let _ = q.validate_params(&[("q", s), ("limit", s), ("sort", s)]);
        }
    }
}
