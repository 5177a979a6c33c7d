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

    #[cfg(feature = "std")]
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

/// Every Lexicon type name.
const TYPES: &[&str] = &[
    "boolean",
    "integer",
    "string",
    "bytes",
    "cid-link",
    "blob",
    "array",
    "object",
    "params",
    "token",
    "ref",
    "union",
    "unknown",
    "record",
    "query",
    "procedure",
    "subscription",
    "permission-set",
];

/// JSON shaped like a schema: Lexicon keywords as keys and type names,
/// numbers, strings and refs as values, nested a few levels.
fn schema_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        (-1.0e3f64..1.0e3).prop_map(J::from),
        prop::sample::select(
            TYPES
                .iter()
                .copied()
                .chain([
                    "permission",
                    "tid",
                    "any",
                    "literal:self",
                    "#main",
                    "#other",
                    "com.example.fuzz",
                    "com.example.fuzz#other",
                    "image/*",
                    "did",
                    "application/json",
                    "",
                ])
                .collect::<Vec<_>>(),
        )
        .prop_map(J::from),
    ];
    let types = prop::sample::select(TYPES);
    leaf.prop_recursive(6, 96, 8, move |inner| {
        let keys = prop::sample::select(vec![
            "ref",
            "refs",
            "closed",
            "items",
            "properties",
            "required",
            "nullable",
            "record",
            "key",
            "parameters",
            "input",
            "output",
            "message",
            "schema",
            "encoding",
            "errors",
            "name",
            "default",
            "const",
            "enum",
            "knownValues",
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "minGraphemes",
            "maxGraphemes",
            "format",
            "accept",
            "maxSize",
            "permissions",
            "resource",
            "main",
            "other",
        ])
        .prop_map(String::from);
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            1 => prop::collection::btree_map(keys.clone(), inner.clone(), 0..4)
                .prop_map(|m| J::Object(m.into_iter().collect())),
            // Mostly schema-like objects: a `type` and a few keywords.
            4 => (types.clone(), prop::collection::btree_map(keys, inner, 0..4)).prop_map(|(t, m)| {
                let mut o: serde_json::Map<String, J> = m.into_iter().collect();
                o.insert("type".into(), J::from(t));
                J::Object(o)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn schema_parsing_never_panics(main in schema_json(), other in schema_json(), data in value()) {
        let doc = serde_json::json!({
            "lexicon": 1,
            "id": "com.example.fuzz",
            "defs": { "main": main, "other": other },
        });
        let _ = atproto_lexicon::LexiconDoc::from_json(&main);
        if let Ok(d) = atproto_lexicon::LexiconDoc::from_json(&doc) {
            let mut b = atproto_lexicon::Catalog::builder();
            b.add_doc(d).unwrap();
            if let Ok(c) = b.build() {
                // Whatever compiled, validating anything against it terminates.
                for name in ["com.example.fuzz", "com.example.fuzz#other"] {
                    if let Ok(v) = c.def(name) {
                        let _ = v.validate(&data);
                        let mut copy = data.clone();
                        let _ = v.validate_and_apply_defaults(&mut copy);
                    }
                    if let Ok(r) = c.record(name) {
                        let _ = r.validate(&data);
                    }
                    for e in [c.query(name), c.procedure(name), c.subscription(name)].into_iter().flatten() {
                        let _ = e.validate_params(&[("a", "1"), ("b", "true")]);
                        let _ = e.validate_input(&data);
                        let _ = e.validate_output(&data);
                        let _ = e.validate_message(&data);
                        let _ = e.validate_message_as("#other", &data);
                    }
                }
            }
        }
    }
}
