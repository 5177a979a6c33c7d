//! The `lexicon/` interop vectors: schema documents and record data.

use atproto_core::data::json;
use atproto_lexicon::{Catalog, LexiconDoc, SchemaErrorKind};

use crate::interop;

fn cases(rel: &str) -> Vec<serde_json::Value> {
    let v = interop::json(rel);
    let cases = v
        .as_array()
        .unwrap_or_else(|| panic!("{rel} is not an array"))
        .clone();
    println!("{rel}: {} cases", cases.len());
    cases
}

const CATALOG_FILES: [&str; 5] = [
    "permission-set.json",
    "procedure.json",
    "query.json",
    "record.json",
    "subscription.json",
];

fn record_catalog() -> Catalog {
    let mut b = Catalog::builder();
    b.add_str(&interop::read("lexicon/catalog/record.json"))
        .unwrap();
    b.build().unwrap()
}

#[test]
fn catalog_documents_parse_and_check() {
    for f in CATALOG_FILES {
        let rel = format!("lexicon/catalog/{f}");
        str::parse::<LexiconDoc>(&interop::read(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    println!("lexicon/catalog: {} documents", CATALOG_FILES.len());
}

#[cfg(feature = "std")]
#[test]
fn catalog_documents_resolve_with_upstream() {
    // procedure.json refers to app.bsky.actor.defs#preferences, so it
    // resolves only beside the upstream lexicons.
    let mut b = Catalog::builder();
    b.add_dir(crate::interop::lexicons_dir()).unwrap();
    for f in CATALOG_FILES {
        b.add_str(&interop::read(&format!("lexicon/catalog/{f}")))
            .unwrap();
    }
    let c = b.build().unwrap();
    assert!(c.record("example.lexicon.record").is_ok());
    assert!(c.query("example.lexicon.query").is_ok());
    assert!(c.procedure("example.lexicon.procedure").is_ok());
    assert!(c.subscription("example.lexicon.subscription").is_ok());
    // Alone, the procedure's external ref is missing.
    let mut alone = Catalog::builder();
    alone
        .add_str(&interop::read("lexicon/catalog/procedure.json"))
        .unwrap();
    let err = alone.build().unwrap_err();
    assert_eq!(
        err.kind(),
        &SchemaErrorKind::UnresolvedRef("app.bsky.actor.defs#preferences".into())
    );
    assert_eq!(
        err.path(),
        "/defs/main/input/schema/properties/preferences/ref"
    );
}

#[test]
fn lexicon_valid() {
    for (i, case) in cases("lexicon/lexicon-valid.json").iter().enumerate() {
        LexiconDoc::from_json(&case["lexicon"])
            .unwrap_or_else(|e| panic!("case {i} ({}): {e}", case["name"]));
    }
}

#[test]
fn lexicon_invalid() {
    use SchemaErrorKind as K;
    // Case index → (path, expected kind).
    let expected: [(&str, K); 7] = [
        ("/lexicon", K::LexiconVersion),
        (
            "/id",
            K::WrongFieldType {
                field: "id",
                expected: "a string",
            },
        ),
        ("/id", K::InvalidNsid(String::new())),
        (
            "/defs/demo",
            K::NotAllowedHere {
                found: "unknown",
                place: "a named def",
            },
        ),
        (
            "/defs/demo",
            K::NotAllowedHere {
                found: "ref",
                place: "a named def",
            },
        ),
        ("/defs/demo", K::PrimaryNotMain("demo".into())),
        ("/defs/main/record", K::RecordNotObject),
    ];
    let cases = cases("lexicon/lexicon-invalid.json");
    assert_eq!(cases.len(), expected.len());
    for (i, (case, (path, kind))) in cases.iter().zip(expected).enumerate() {
        let err = LexiconDoc::from_json(&case["lexicon"])
            .err()
            .unwrap_or_else(|| panic!("case {i} ({}) accepted", case["name"]));
        let same = match (&kind, err.kind()) {
            (K::InvalidNsid(_), K::InvalidNsid(_)) => true,
            (a, b) => a == b,
        };
        assert!(same, "case {i} ({}): got {:?}", case["name"], err.kind());
        assert_eq!(err.path(), path, "case {i} ({})", case["name"]);
    }
}

#[test]
fn record_data_valid() {
    let catalog = record_catalog();
    let v = catalog.record("example.lexicon.record").unwrap();
    for (i, case) in cases("lexicon/record-data-valid.json").iter().enumerate() {
        let data = json::from_json(&case["data"]).unwrap();
        let rkey = case["rkey"].as_str().unwrap();
        v.validate_with_rkey(&data, rkey)
            .unwrap_or_else(|e| panic!("case {i} ({}): {e}", case["name"]));
    }
}

#[test]
fn record_data_invalid() {
    // Case index → (path, start of the error kind's Debug form). Keyed on
    // the index: names repeat. Cases 0 and 47–49 also lack the required
    // `integer`; only case 0 is about that, the others must fail for their
    // `unknown` field.
    let expected: [(&str, &str); 50] = [
        ("/integer", "MissingRequired"),
        (
            "/boolean",
            r#"WrongType { expected: "boolean", found: "string" }"#,
        ),
        (
            "/integer",
            r#"WrongType { expected: "integer", found: "string" }"#,
        ),
        ("/string", "NullNotAllowed"),
        (
            "/string",
            r#"WrongType { expected: "string", found: "integer" }"#,
        ),
        (
            "/bytes",
            r#"WrongType { expected: "bytes", found: "string" }"#,
        ),
        (
            "/bytes",
            r#"WrongType { expected: "bytes", found: "object" }"#,
        ),
        (
            "/bytes",
            r#"WrongType { expected: "bytes", found: "object" }"#,
        ),
        (
            "/cid-link",
            r#"WrongType { expected: "cid-link", found: "string" }"#,
        ),
        (
            "/blob",
            r#"WrongType { expected: "blob", found: "string" }"#,
        ),
        (
            "/blob",
            r#"WrongType { expected: "blob", found: "object" }"#,
        ),
        (
            "/array",
            r#"WrongType { expected: "array", found: "integer" }"#,
        ),
        (
            "/array/0",
            r#"WrongType { expected: "integer", found: "boolean" }"#,
        ),
        (
            "/object",
            r#"WrongType { expected: "object", found: "integer" }"#,
        ),
        (
            "/object/a",
            r#"WrongType { expected: "integer", found: "string" }"#,
        ),
        (
            "/ref",
            r#"WrongType { expected: "object", found: "integer" }"#,
        ),
        (
            "/ref",
            r#"WrongType { expected: "object", found: "string" }"#,
        ),
        ("/formats/handle", "InvalidFormat { format: Handle"),
        ("/formats/did", "InvalidFormat { format: Did"),
        (
            "/formats/atidentifier",
            "InvalidFormat { format: AtIdentifier",
        ),
        ("/formats/nsid", "InvalidFormat { format: Nsid"),
        ("/formats/aturi", "InvalidFormat { format: AtUri"),
        ("/formats/cid", "InvalidFormat { format: Cid"),
        ("/formats/datetime", "InvalidFormat { format: Datetime"),
        ("/formats/language", "InvalidFormat { format: Language"),
        ("/formats/uri", "InvalidFormat { format: Uri"),
        ("/formats/tid", "InvalidFormat { format: Tid"),
        ("/formats/recordkey", "InvalidFormat { format: RecordKey"),
        ("/constInteger", "ConstMismatch"),
        ("/enumInteger", "NotInEnum"),
        (
            "/rangeInteger",
            "IntegerTooLarge { value: 9000, maximum: 20 }",
        ),
        ("/lenString", "StringTooShort { len: 1, min: 10 }"),
        ("/lenString", "StringTooLong { len: 23, max: 20 }"),
        ("/graphemeString", "TooFewGraphemes { count: 2, min: 10 }"),
        ("/graphemeString", "TooManyGraphemes { count: 23, max: 20 }"),
        ("/enumString", "NotInEnum"),
        ("/sizeBytes", "BytesTooShort { len: 3, min: 10 }"),
        ("/sizeBytes", "BytesTooLong { len: 33, max: 20 }"),
        ("/lenArray", "ArrayTooShort { len: 1, min: 2 }"),
        ("/lenArray", "ArrayTooLong { len: 10, max: 5 }"),
        ("/sizeBlob", "BlobTooLarge { size: 12345, max: 20 }"),
        ("/acceptBlob", r#"BlobMimeNotAccepted("text/plain")"#),
        (
            "/union",
            r#"WrongType { expected: "object", found: "integer" }"#,
        ),
        ("/union", "MissingType"),
        (
            "/closedUnion",
            r#"TypeNotInUnion("example.unknown-lexicon.blah")"#,
        ),
        (
            "/closedUnion",
            r#"TypeNotInUnion("example.lexicon.record#demoObjectTwo")"#,
        ),
        (
            "/union/a",
            r#"WrongType { expected: "integer", found: "string" }"#,
        ),
        (
            "/unknown",
            r#"WrongType { expected: "object", found: "boolean" }"#,
        ),
        (
            "/unknown",
            r#"WrongType { expected: "object", found: "bytes" }"#,
        ),
        (
            "/unknown",
            r#"WrongType { expected: "object", found: "blob" }"#,
        ),
    ];
    let catalog = record_catalog();
    let v = catalog.record("example.lexicon.record").unwrap();
    let cases = cases("lexicon/record-data-invalid.json");
    assert_eq!(cases.len(), expected.len());
    for (i, (case, (path, kind))) in cases.iter().zip(expected).enumerate() {
        let data = json::from_json(&case["data"])
            .unwrap_or_else(|e| panic!("case {i} ({}): data rejected by core: {e}", case["name"]));
        let rkey = case["rkey"].as_str().unwrap();
        let err = v
            .validate_with_rkey(&data, rkey)
            .err()
            .unwrap_or_else(|| panic!("case {i} ({}) accepted", case["name"]));
        let got = format!("{:?}", err.kind());
        assert!(
            got.starts_with(kind),
            "case {i} ({}): expected {kind}, got {got}",
            case["name"]
        );
        assert_eq!(err.path(), path, "case {i} ({}): {err}", case["name"]);
    }
}
