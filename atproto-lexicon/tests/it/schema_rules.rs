//! Documents that break the Lexicon rules are rejected with the reason and
//! the place; hostile documents never panic.

use atproto_lexicon::{Catalog, LexiconDoc, Schema, SchemaErrorKind as K};

/// A document with one def `main` holding `def`.
fn doc(def: &str) -> String {
    format!(r#"{{"lexicon":1,"id":"com.example.rules","defs":{{"main":{def}}}}}"#)
}

/// A document whose `main` is an object with one property `p`.
fn prop(schema: &str) -> String {
    doc(&format!(
        r#"{{"type":"object","properties":{{"p":{schema}}}}}"#
    ))
}

fn rejected(text: &str) -> (String, K) {
    let e = str::parse::<LexiconDoc>(text)
        .err()
        .unwrap_or_else(|| panic!("accepted: {text}"));
    (e.path().to_string(), e.kind().clone())
}

const P: &str = "/defs/main/properties/p";

#[test]
fn document_level_rules() {
    assert!(matches!(rejected("not json").1, K::Json(_)));
    assert_eq!(rejected("[]"), (String::new(), K::NotAnObject));
    assert_eq!(
        rejected(r#"{"id":"a.b.c","defs":{}}"#),
        (String::new(), K::MissingField("lexicon"))
    );
    assert_eq!(
        rejected(r#"{"lexicon":2,"id":"a.b.c","defs":{}}"#).1,
        K::LexiconVersion
    );
    assert_eq!(
        rejected(r#"{"lexicon":1,"id":"a.b.c"}"#).1,
        K::MissingField("defs")
    );
    assert_eq!(
        rejected(r#"{"lexicon":1,"id":"a.b.c","defs":{"a#b":{"type":"token"}}}"#),
        ("/defs/a#b".into(), K::InvalidDefName("a#b".into()))
    );
    assert_eq!(
        rejected(
            r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"query"},"other":{"type":"procedure"}}}"#
        ),
        ("/defs".into(), K::MultiplePrimary)
    );
    assert_eq!(
        rejected(r#"{"lexicon":1,"id":"a.b.c","defs":{"q":{"type":"query"}}}"#),
        ("/defs/q".into(), K::PrimaryNotMain("q".into()))
    );
    assert_eq!(
        rejected(&doc(r#"{"type":"whatever"}"#)),
        ("/defs/main/type".into(), K::UnknownType("whatever".into()))
    );
}

#[test]
fn placement_rules() {
    let not_here = |found, place| K::NotAllowedHere { found, place };
    assert_eq!(
        rejected(&doc(r#"{"type":"union","refs":[]}"#)).1,
        not_here("union", "a named def")
    );
    assert_eq!(
        rejected(&doc(r#"{"type":"params"}"#)).1,
        not_here("params", "a named def")
    );
    assert_eq!(
        rejected(&prop(
            r#"{"type":"record","key":"tid","record":{"type":"object"}}"#
        )),
        (P.into(), not_here("record", "an object property"))
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"token"}"#)).1,
        not_here("token", "an object property")
    );
    assert_eq!(
        rejected(&doc(
            r#"{"type":"query","parameters":{"type":"params","properties":{"o":{"type":"object"}}}}"#
        )),
        (
            "/defs/main/parameters/properties/o".into(),
            not_here("object", "a params property")
        )
    );
    assert_eq!(
        rejected(&doc(
            r#"{"type":"query","parameters":{"type":"params","properties":{"a":{"type":"array","items":{"type":"bytes"}}}}}"#
        ))
        .1,
        not_here("bytes", "the items of a params array")
    );
    assert_eq!(
        rejected(&doc(r#"{"type":"query","parameters":{"type":"object"}}"#)),
        (
            "/defs/main/parameters".into(),
            K::UnexpectedType {
                found: "object".into(),
                expected: "params"
            }
        )
    );
    assert_eq!(
        rejected(&doc(
            r#"{"type":"query","output":{"encoding":"application/json","schema":{"type":"string"}}}"#
        )),
        (
            "/defs/main/output/schema".into(),
            not_here("string", "a body or message schema")
        )
    );
    assert_eq!(
        rejected(&doc(
            r#"{"type":"procedure","input":{"schema":{"type":"object"}}}"#
        )),
        ("/defs/main/input".into(), K::MissingField("encoding"))
    );
}

#[test]
fn constraint_rules() {
    assert_eq!(
        rejected(&prop(r#"{"type":"integer","const":1,"default":1}"#)),
        (P.into(), K::ConstWithDefault)
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"boolean","const":true,"default":true}"#)).1,
        K::ConstWithDefault
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"string","const":"a","default":"a"}"#)).1,
        K::ConstWithDefault
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"integer","minimum":5,"maximum":4}"#)).1,
        K::MinGreaterThanMax {
            min_field: "minimum",
            max_field: "maximum"
        }
    );
    assert_eq!(
        rejected(&prop(
            r#"{"type":"string","minGraphemes":5,"maxGraphemes":4}"#
        ))
        .1,
        K::MinGreaterThanMax {
            min_field: "minGraphemes",
            max_field: "maxGraphemes"
        }
    );
    assert_eq!(
        rejected(&prop(
            r#"{"type":"array","items":{"type":"integer"},"minLength":2,"maxLength":1}"#
        ))
        .1,
        K::MinGreaterThanMax {
            min_field: "minLength",
            max_field: "maxLength"
        }
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"bytes","minLength":2,"maxLength":1}"#)).1,
        K::MinGreaterThanMax {
            min_field: "minLength",
            max_field: "maxLength"
        }
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"integer","maximum":3,"default":4}"#)),
        (
            format!("{P}/default"),
            K::ValueViolatesConstraints { field: "default" }
        )
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"string","enum":["a"],"default":"b"}"#)).1,
        K::ValueViolatesConstraints { field: "default" }
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"string","format":"did","const":"nope"}"#)).1,
        K::ValueViolatesConstraints { field: "const" }
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"integer","enum":[]}"#)).1,
        K::EmptyEnum
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"union","refs":[],"closed":true}"#)),
        (P.into(), K::EmptyClosedUnion)
    );
    // An empty open union is allowed (upstream has several).
    str::parse::<LexiconDoc>(&prop(r#"{"type":"union","refs":[]}"#)).unwrap();
    assert_eq!(
        rejected(&doc(
            r#"{"type":"object","required":["x"],"properties":{}}"#
        )),
        (
            "/defs/main/required/0".into(),
            K::UndeclaredProperty("x".into())
        )
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"string","format":"email"}"#)),
        (format!("{P}/format"), K::UnknownFormat("email".into()))
    );
    assert_eq!(
        rejected(&doc(
            r#"{"type":"record","key":"uuid","record":{"type":"object"}}"#
        ))
        .1,
        K::InvalidRecordKeyType("uuid".into())
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"blob","accept":["image"]}"#)),
        (
            format!("{P}/accept/0"),
            K::InvalidMimePattern("image".into())
        )
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"ref","ref":"not a ref"}"#)).1,
        K::InvalidRef("not a ref".into())
    );
    assert_eq!(
        rejected(&prop(r##"{"type":"union","refs":["#"]}"##)).1,
        K::InvalidRef("#".into())
    );
}

#[test]
fn wrong_types_for_constraint_values() {
    let wrong = |field, expected| K::WrongFieldType { field, expected };
    assert_eq!(
        rejected(&prop(r#"{"type":"string","maxLength":"ten"}"#)),
        (
            format!("{P}/maxLength"),
            wrong("maxLength", "a non-negative integer")
        )
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"string","minLength":-1}"#)).1,
        wrong("minLength", "a non-negative integer")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"integer","minimum":1.5}"#)).1,
        wrong("minimum", "an integer")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"integer","enum":["a"]}"#)).1,
        wrong("enum", "an array of integers")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"boolean","default":"yes"}"#)).1,
        wrong("default", "a boolean")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"string","knownValues":"a"}"#)).1,
        wrong("knownValues", "an array of strings")
    );
    assert_eq!(
        rejected(&prop(r##"{"type":"union","refs":"#a"}"##)).1,
        wrong("refs", "an array of strings")
    );
    assert_eq!(
        rejected(&prop(r##"{"type":"union","refs":["#a"],"closed":1}"##)).1,
        wrong("closed", "a boolean")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"blob","maxSize":true}"#)).1,
        wrong("maxSize", "a non-negative integer")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":"array"}"#)).1,
        K::MissingField("items")
    );
    assert_eq!(
        rejected(&prop(r#"{"type":7}"#)).1,
        wrong("type", "a string")
    );
    assert_eq!(
        rejected(&prop(r#"{"description":"no type"}"#)).1,
        K::MissingField("type")
    );
    assert_eq!(rejected(&prop(r#""string""#)), (P.into(), K::NotAnObject));
}

#[test]
fn unknown_fields_are_ignored() {
    let d = str::parse::<LexiconDoc>(
        r#"{"lexicon":1,"id":"com.example.rules","$comment":"x","futureField":[1,2],
            "defs":{"main":{"type":"string","maxLength":3,"futureConstraint":{"a":1},"description":"d"}}}"#,
    )
    .unwrap();
    match d.main() {
        Some(Schema::String(s)) => {
            assert_eq!(s.max_length, Some(3));
            assert_eq!(s.description.as_deref(), Some("d"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn catalog_rules() {
    let a = r##"{"lexicon":1,"id":"com.example.a","defs":{"main":{"type":"object","properties":{"b":{"type":"ref","ref":"com.example.b#thing"}}}}}"##;
    let b = r##"{"lexicon":1,"id":"com.example.b","defs":{"thing":{"type":"string"},"main":{"type":"query"}}}"##;
    // Missing target.
    let e = Catalog::from_strs([a]).unwrap_err();
    assert_eq!(e.kind(), &K::UnresolvedRef("com.example.b#thing".into()));
    assert_eq!(e.id(), Some("com.example.a"));
    assert_eq!(e.path(), "/defs/main/properties/b/ref");
    assert_eq!(
        e.to_string(),
        r#"com.example.a/defs/main/properties/b/ref: reference "com.example.b#thing" does not resolve"#
    );
    // Resolved.
    Catalog::from_strs([a, b]).unwrap();
    // Duplicate ids.
    assert_eq!(
        Catalog::from_strs([b, b]).unwrap_err().kind(),
        &K::DuplicateId("com.example.b".into())
    );
    // A ref to an endpoint is not data.
    let c = r##"{"lexicon":1,"id":"com.example.c","defs":{"main":{"type":"object","properties":{"q":{"type":"ref","ref":"com.example.b"}}}}}"##;
    assert_eq!(
        Catalog::from_strs([b, c]).unwrap_err().kind(),
        &K::RefToNonData {
            reference: "com.example.b".into(),
            found: "query"
        }
    );
    // The target's kind is named right even when its document compiles
    // after the referring one (ids sort `aa` before `zz`).
    let aa = r##"{"lexicon":1,"id":"com.example.aa","defs":{"main":{"type":"object","properties":{"q":{"type":"ref","ref":"com.example.zz"}}}}}"##;
    let zz = r##"{"lexicon":1,"id":"com.example.zz","defs":{"main":{"type":"procedure"}}}"##;
    assert_eq!(
        Catalog::from_strs([zz, aa]).unwrap_err().kind(),
        &K::RefToNonData {
            reference: "com.example.zz".into(),
            found: "procedure"
        }
    );
    // Union members must be objects or records.
    let d = r##"{"lexicon":1,"id":"com.example.d","defs":{"main":{"type":"object","properties":{"u":{"type":"union","refs":["com.example.b#thing"]}}}}}"##;
    assert_eq!(
        Catalog::from_strs([b, d]).unwrap_err().kind(),
        &K::UnionMemberNotObject {
            reference: "com.example.b#thing".into(),
            found: "string"
        }
    );
    // Cycles compile: a def that refers to itself, and two that refer to each other.
    let e = r##"{"lexicon":1,"id":"com.example.e","defs":{
        "main":{"type":"object","properties":{"next":{"type":"ref","ref":"#main"},"other":{"type":"ref","ref":"#other"}}},
        "other":{"type":"object","properties":{"back":{"type":"union","refs":["com.example.e"]}}}}}"##;
    let cat = Catalog::from_strs([e]).unwrap();
    let v = cat.def("com.example.e").unwrap();
    v.validate_json(r#"{"next":{"next":{"other":{"back":{"$type":"com.example.e","next":{}}}}}}"#)
        .unwrap();
    let err = v
        .validate_json(r#"{"next":{"other":{"back":{"$type":"com.example.e#main","next":7}}}}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "/next/other/back/next: expected object, found integer"
    );
}

#[test]
fn hostile_documents_do_not_panic() {
    // Deep nesting: serde_json's own limit or ours, never a stack overflow.
    let deep_items = format!(
        r#"{{"lexicon":1,"id":"a.b.c","defs":{{"main":{}"#,
        r#"{"type":"array","items":"#.repeat(100)
    );
    let deep_items = format!(
        "{deep_items}{{\"type\":\"integer\"}}{}}}}}}}",
        "}".repeat(100)
    );
    assert!(str::parse::<LexiconDoc>(&deep_items).is_err());
    let texts = [
        "",
        "{",
        "null",
        r#"{"lexicon":1,"id":"a.b.c","defs":[]}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":null}}"#,
        r#"{"lexicon":1e400,"id":"a.b.c","defs":{}}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"record"}}}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"record","key":"tid","record":[]}}}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"subscription","message":7}}}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"permission-set","permissions":[{"type":"x"}]}}}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"query","errors":[{}]}}}"#,
        r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"integer","minimum":99999999999999999999}}}"#,
    ];
    for t in texts {
        assert!(str::parse::<LexiconDoc>(t).is_err(), "{t}");
    }
}
