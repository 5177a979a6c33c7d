//! Validation semantics on a purpose-built lexicon: defaults, blobs, unions,
//! nullable, const, enum and knownValues, tokens, self-reference, depth, and
//! reuse of compiled validators.

use std::collections::BTreeMap;

use atproto_core::data::json;
use atproto_core::{BlobRef, Cid, Value};
use atproto_lexicon::{Catalog, LexiconError, MAX_VALIDATION_DEPTH, ValidationErrorKind as K};

const DOC: &str = r##"{
  "lexicon": 1,
  "id": "com.example.kitchen",
  "defs": {
    "main": {
      "type": "record",
      "key": "any",
      "record": {
        "type": "object",
        "required": ["name", "level"],
        "nullable": ["note"],
        "properties": {
          "name": { "type": "string" },
          "level": { "type": "integer", "default": 3, "minimum": 1, "maximum": 5 },
          "flag": { "type": "boolean", "default": true },
          "mode": { "type": "string", "default": "calm", "enum": ["calm", "loud"] },
          "color": { "type": "string", "knownValues": ["red", "green"] },
          "version": { "type": "integer", "const": 2 },
          "on": { "type": "boolean", "const": true },
          "note": { "type": "string" },
          "avatar": { "type": "blob", "accept": ["image/*"], "maxSize": 1000 },
          "anything": { "type": "blob", "accept": ["*/*"] },
          "exact": { "type": "blob", "accept": ["video/mp4", "image/gif"] },
          "open": { "type": "union", "refs": ["#a", "#b"] },
          "closed": { "type": "union", "refs": ["#a", "#b"], "closed": true },
          "many": { "type": "array", "items": { "type": "union", "refs": ["#a"] } },
          "tree": { "type": "ref", "ref": "#node" },
          "status": { "type": "ref", "ref": "#active" },
          "link": { "type": "cid-link" },
          "raw": { "type": "bytes", "maxLength": 4 },
          "any": { "type": "unknown" }
        }
      }
    },
    "a": {
      "type": "object",
      "properties": { "x": { "type": "integer", "default": 7 }, "y": { "type": "string" } }
    },
    "b": {
      "type": "object",
      "required": ["z"],
      "properties": { "z": { "type": "boolean" } }
    },
    "node": {
      "type": "object",
      "properties": {
        "label": { "type": "string", "default": "leaf" },
        "children": { "type": "array", "items": { "type": "ref", "ref": "#node" } }
      }
    },
    "active": { "type": "token", "description": "a state" }
  }
}"##;

fn catalog() -> Catalog {
    Catalog::from_strs([DOC]).unwrap()
}

/// The base record with `fields` (`,"k":v…`) added or replacing its own
/// (one JSON object cannot repeat a key).
fn rec(fields: &str) -> Value {
    let base = r#"{"$type":"com.example.kitchen","name":"n","level":2}"#;
    let extra = format!("{{{}}}", fields.strip_prefix(',').unwrap_or(fields));
    match (json::record_from_str(base), json::record_from_str(&extra)) {
        (Ok(Value::Map(mut m)), Ok(Value::Map(e))) => {
            m.extend(e);
            Value::Map(m)
        }
        other => panic!("{other:?}"),
    }
}

fn err_of(c: &Catalog, v: &Value) -> (String, K) {
    let e = c
        .record("com.example.kitchen")
        .unwrap()
        .validate(v)
        .unwrap_err();
    (e.path().to_string(), e.kind().clone())
}

fn ok(c: &Catalog, v: &Value) {
    c.record("com.example.kitchen")
        .unwrap()
        .validate(v)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn defaults_are_applied_only_on_request() {
    let c = catalog();
    let v = c.record("com.example.kitchen").unwrap();
    // `level` is required but has a default: absent is fine.
    let mut r = json::record_from_str(
        r##"{"$type":"com.example.kitchen","name":"n","open":{"$type":"com.example.kitchen#a"},
            "many":[{"$type":"com.example.kitchen#a","x":1},{"$type":"com.example.kitchen#a"}],
            "tree":{"children":[{"children":[{}]}]}}"##,
    )
    .unwrap();
    let before = r.clone();
    v.validate(&r).unwrap();
    assert_eq!(r, before, "plain validation does not change the value");
    v.validate_and_apply_defaults(&mut r).unwrap();
    assert_eq!(r.get("level"), Some(&Value::Integer(3)));
    assert_eq!(r.get("flag"), Some(&Value::Bool(true)));
    assert_eq!(r.get("mode"), Some(&Value::from("calm")));
    assert_eq!(r.get("color"), None, "no default, nothing filled");
    assert_eq!(r.get("version"), None, "const is not a default");
    assert_eq!(r.get("open").unwrap().get("x"), Some(&Value::Integer(7)));
    let many = r.get("many").unwrap().as_array().unwrap();
    assert_eq!(
        many[0].get("x"),
        Some(&Value::Integer(1)),
        "present values stay"
    );
    assert_eq!(many[1].get("x"), Some(&Value::Integer(7)));
    let tree = r.get("tree").unwrap();
    assert_eq!(tree.get("label"), Some(&Value::from("leaf")));
    let grandchild = &tree.get("children").unwrap().as_array().unwrap()[0]
        .get("children")
        .unwrap()
        .as_array()
        .unwrap()[0];
    assert_eq!(grandchild.get("label"), Some(&Value::from("leaf")));
    // The result still validates.
    v.validate(&r).unwrap();

    // On error nothing is filled.
    let mut bad = rec(r#","level":9"#);
    let copy = bad.clone();
    assert!(v.validate_and_apply_defaults(&mut bad).is_err());
    assert_eq!(bad, copy);
}

fn blob(mime: &str, size: u64) -> Value {
    let cid: Cid = "bafkreicwfvffifxztz2honeubib7lvp3w5ygz55e2gok4ekh2yl34buee4"
        .parse()
        .unwrap();
    Value::Blob(BlobRef::new(cid, mime, size))
}

fn with(field: &str, value: Value) -> Value {
    let mut r = rec("");
    if let Value::Map(m) = &mut r {
        m.insert(field.to_string(), value);
    }
    r
}

#[test]
fn blob_accept_and_max_size() {
    let c = catalog();
    ok(&c, &with("avatar", blob("image/png", 1000)));
    ok(&c, &with("avatar", blob("image/webp", 1)));
    assert_eq!(
        err_of(&c, &with("avatar", blob("image/png", 1001))),
        (
            "/avatar".into(),
            K::BlobTooLarge {
                size: 1001,
                max: 1000
            }
        )
    );
    assert_eq!(
        err_of(&c, &with("avatar", blob("video/mp4", 10))),
        ("/avatar".into(), K::BlobMimeNotAccepted("video/mp4".into()))
    );
    // `image/*` needs the slash: `imagery/png` is not an image.
    assert!(matches!(
        err_of(&c, &with("avatar", blob("imagery/png", 1))).1,
        K::BlobMimeNotAccepted(_)
    ));
    ok(
        &c,
        &with("anything", blob("application/x-whatever", 99_999_999)),
    );
    ok(&c, &with("exact", blob("image/gif", 5)));
    assert!(matches!(
        err_of(&c, &with("exact", blob("image/png", 5))).1,
        K::BlobMimeNotAccepted(_)
    ));
    // The legacy form is read; its size is unknown so maxSize cannot apply.
    let legacy = json::from_str(
        r#"{"cid":"bafkreicwfvffifxztz2honeubib7lvp3w5ygz55e2gok4ekh2yl34buee4","mimeType":"image/jpeg"}"#,
    )
    .unwrap();
    ok(&c, &with("avatar", legacy));
    let legacy_text = json::from_str(
        r#"{"cid":"bafkreicwfvffifxztz2honeubib7lvp3w5ygz55e2gok4ekh2yl34buee4","mimeType":"text/plain"}"#,
    )
    .unwrap();
    assert!(matches!(
        err_of(&c, &with("avatar", legacy_text)).1,
        K::BlobMimeNotAccepted(_)
    ));
}

#[test]
fn unions_open_and_closed() {
    let c = catalog();
    ok(
        &c,
        &rec(r##","open":{"$type":"com.example.kitchen#b","z":true}"##),
    );
    ok(
        &c,
        &rec(r##","open":{"$type":"com.example.other#thing","anything":1}"##),
    );
    ok(
        &c,
        &rec(r##","closed":{"$type":"com.example.kitchen#a","x":1}"##),
    );
    assert_eq!(
        err_of(
            &c,
            &rec(r##","closed":{"$type":"com.example.other#thing"}"##)
        ),
        (
            "/closed".into(),
            K::TypeNotInUnion("com.example.other#thing".into())
        )
    );
    assert_eq!(
        err_of(&c, &rec(r##","open":{"$type":"com.example.kitchen#b"}"##)),
        ("/open/z".into(), K::MissingRequired)
    );
    assert_eq!(
        err_of(&c, &rec(r##","open":{"z":true}"##)),
        ("/open".into(), K::MissingType)
    );
    // Core's JSON reader refuses a non-string `$type`; a hand-built value can have one.
    let typed_7 = Value::Map(BTreeMap::from([("$type".to_string(), Value::Integer(7))]));
    assert_eq!(
        err_of(&c, &with("open", typed_7)),
        ("/open".into(), K::MissingType)
    );
    assert_eq!(
        err_of(
            &c,
            &rec(
                r##","many":[{"$type":"com.example.kitchen#a"},{"$type":"com.example.kitchen#a","x":"1"}]"##
            )
        ),
        (
            "/many/1/x".into(),
            K::WrongType {
                expected: "integer",
                found: "string"
            }
        )
    );
}

#[test]
fn nullable_const_enum_known_values() {
    let c = catalog();
    ok(&c, &rec(r#","note":null"#));
    ok(&c, &rec(r#","note":"text""#));
    assert_eq!(
        err_of(&c, &rec(r#","name":null"#)),
        ("/name".into(), K::NullNotAllowed)
    );
    // `null` is not absent: a required nullable field… is `note` not
    // required; `name` is required and not nullable.
    assert_eq!(
        err_of(&c, &rec(r#","flag":null"#)),
        ("/flag".into(), K::NullNotAllowed)
    );

    ok(&c, &rec(r#","version":2,"on":true"#));
    assert_eq!(
        err_of(&c, &rec(r#","version":3"#)),
        ("/version".into(), K::ConstMismatch)
    );
    assert_eq!(
        err_of(&c, &rec(r#","on":false"#)),
        ("/on".into(), K::ConstMismatch)
    );

    ok(&c, &rec(r#","mode":"loud""#));
    assert_eq!(
        err_of(&c, &rec(r#","mode":"quiet""#)),
        ("/mode".into(), K::NotInEnum)
    );
    // knownValues is advice: anything goes.
    ok(&c, &rec(r#","color":"ultraviolet""#));

    assert_eq!(
        err_of(&c, &rec(r#","level":0"#)),
        (
            "/level".into(),
            K::IntegerTooSmall {
                value: 0,
                minimum: 1
            }
        )
    );
}

#[test]
fn tokens_links_bytes_unknown() {
    let c = catalog();
    ok(&c, &rec(r#","status":"com.example.kitchen#active""#));
    assert_eq!(
        err_of(&c, &rec(r#","status":"active""#)),
        (
            "/status".into(),
            K::TokenMismatch("com.example.kitchen#active".into())
        )
    );
    ok(
        &c,
        &rec(r#","link":{"$link":"bafyreihamwexbxhceg5il5qgwy7ogmwuvfjtyi3nrsb4snf4f3m52qdlbq"}"#),
    );
    ok(&c, &rec(r#","raw":{"$bytes":"AQID"}"#));
    assert_eq!(
        err_of(&c, &rec(r#","raw":{"$bytes":"AQIDBAU="}"#)),
        ("/raw".into(), K::BytesTooLong { len: 5, max: 4 })
    );
    ok(
        &c,
        &rec(r#","any":{"$type":"whatever","deep":[1,2,{"x":null}]}"#),
    );
    assert_eq!(
        err_of(&c, &rec(r#","any":[1]"#)),
        (
            "/any".into(),
            K::WrongType {
                expected: "object",
                found: "array"
            }
        )
    );
}

#[test]
fn record_type_and_key() {
    let c = catalog();
    let v = c.record("com.example.kitchen").unwrap();
    v.check_rkey("anything-goes").unwrap();
    assert!(matches!(
        v.check_rkey("..").unwrap_err().kind(),
        K::InvalidRecordKey(_)
    ));
    let not_a_map = Value::Array(vec![]);
    assert_eq!(
        v.validate(&not_a_map).unwrap_err().kind(),
        &K::WrongType {
            expected: "object",
            found: "array"
        }
    );
    // Catalog-level dispatch on `$type`.
    c.validate_record(&rec("")).unwrap();
    let unknown = json::from_str(r#"{"$type":"com.example.nothing"}"#).unwrap();
    assert!(matches!(
        c.validate_record(&unknown),
        Err(LexiconError::Lookup(_))
    ));
    // JSON entry point: data-model errors come from core, schema errors from here.
    assert!(matches!(
        v.validate_json(r#"{"$type":"com.example.kitchen","name":"n","level":1.5}"#),
        Err(LexiconError::Json(_))
    ));
    assert!(matches!(
        v.validate_json(r#"{"$type":"com.example.kitchen","name":1}"#),
        Err(LexiconError::Validation(_))
    ));
}

fn tree(depth: usize) -> Value {
    let mut v = Value::Map(BTreeMap::new());
    for _ in 0..depth {
        let mut m = BTreeMap::new();
        m.insert("children".to_string(), Value::Array(vec![v]));
        v = Value::Map(m);
    }
    v
}

#[test]
fn self_reference_is_bounded_by_data_depth() {
    let c = catalog();
    let node = c.def("com.example.kitchen#node").unwrap();
    // Each level is an object and an array: two steps of depth.
    node.validate(&tree(MAX_VALIDATION_DEPTH / 2 - 1)).unwrap();
    let err = node.validate(&tree(MAX_VALIDATION_DEPTH)).unwrap_err();
    assert_eq!(err.kind(), &K::TooDeep);
    assert!(err.path().starts_with("/children/0/children/0"));
    // Too deep to validate, so no defaults are filled either.
    let mut deep = tree(MAX_VALIDATION_DEPTH * 2);
    atproto_lexicon::DefValidator::validate_and_apply_defaults(&node, &mut deep).unwrap_err();
}

#[cfg(feature = "std")]
#[test]
fn validators_are_compiled_once_and_shared() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Catalog>();
    assert_send_sync::<atproto_lexicon::RecordValidator<'static>>();

    let c = crate::upstream_catalog();
    let nodes = c.node_count();
    // One lookup, then a `Copy` handle that validates through `&self`.
    let post = c.record("app.bsky.feed.post").unwrap();
    let records: Vec<Value> = (0..500)
        .map(|i| {
            json::record_from_str(&format!(
                r#"{{"$type":"app.bsky.feed.post","text":"post number {i}","createdAt":"2024-01-01T00:00:00Z","langs":["en"]}}"#
            ))
            .unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for chunk in records.chunks(125) {
            s.spawn(move || {
                for r in chunk {
                    post.validate(r).unwrap();
                }
            });
        }
    });
    // Validation compiled nothing new: the node table is what building made.
    assert_eq!(c.node_count(), nodes);
    // Two handles for the same type are interchangeable.
    let again = c.record("app.bsky.feed.post").unwrap();
    assert_eq!(again.nsid(), post.nsid());
}
