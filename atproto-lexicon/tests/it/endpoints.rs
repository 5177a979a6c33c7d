//! XRPC endpoints: query parameters, procedure bodies, subscription messages.

use atproto_core::Value;
use atproto_core::data::json;
use atproto_lexicon::{Catalog, EndpointKind, LookupError, ValidationErrorKind as K};

const DOC: &str = r##"{
  "lexicon": 1,
  "id": "com.example.search",
  "defs": {
    "main": {
      "type": "query",
      "parameters": {
        "type": "params",
        "required": ["q"],
        "properties": {
          "q": { "type": "string", "maxLength": 20 },
          "limit": { "type": "integer", "minimum": 1, "maximum": 100, "default": 50 },
          "includeReplies": { "type": "boolean", "default": false },
          "langs": { "type": "array", "items": { "type": "string", "format": "language" }, "maxLength": 3 },
          "ids": { "type": "array", "items": { "type": "integer" } },
          "sort": { "type": "string", "knownValues": ["top", "latest"], "default": "latest" }
        }
      },
      "output": {
        "encoding": "application/json",
        "schema": {
          "type": "object",
          "required": ["hits"],
          "properties": {
            "cursor": { "type": "string" },
            "hits": { "type": "array", "items": { "type": "ref", "ref": "#hit" } }
          }
        }
      },
      "errors": [{ "name": "BadQuery" }]
    },
    "hit": {
      "type": "object",
      "required": ["uri"],
      "properties": { "uri": { "type": "string", "format": "at-uri" } }
    }
  }
}"##;

const PROC: &str = r##"{
  "lexicon": 1,
  "id": "com.example.putThing",
  "defs": {
    "main": {
      "type": "procedure",
      "input": {
        "encoding": "application/json",
        "schema": {
          "type": "object",
          "required": ["name"],
          "properties": {
            "name": { "type": "string", "minLength": 1 },
            "public": { "type": "boolean", "default": true },
            "tags": { "type": "array", "items": { "type": "string" } }
          }
        }
      },
      "output": { "encoding": "application/json", "schema": { "type": "ref", "ref": "#result" } }
    },
    "result": {
      "type": "object",
      "required": ["ok"],
      "properties": { "ok": { "type": "boolean", "const": true } }
    }
  }
}"##;

const UPLOAD: &str = r#"{
  "lexicon": 1,
  "id": "com.example.upload",
  "defs": { "main": { "type": "procedure", "input": { "encoding": "*/*" } } }
}"#;

fn catalog() -> Catalog {
    Catalog::from_strs([DOC, PROC, UPLOAD]).unwrap()
}

#[test]
fn params_are_coerced_and_defaulted() {
    let c = catalog();
    let q = c.query("com.example.search").unwrap();
    assert_eq!(q.kind(), EndpointKind::Query);
    let p = q
        .validate_params(&[
            ("q", "cats"),
            ("langs", "en"),
            ("ids", "3"),
            ("langs", "pt-BR"),
            ("ids", "-7"),
            ("limit", "25"),
            ("unrelated", "x"),
        ])
        .unwrap();
    let expected = json::from_str(
        r#"{"q":"cats","limit":25,"includeReplies":false,"langs":["en","pt-BR"],"ids":[3,-7],"sort":"latest"}"#,
    )
    .unwrap();
    assert_eq!(p, expected);

    let p = q
        .validate_params(&[("q", "x"), ("includeReplies", "true")])
        .unwrap();
    assert_eq!(p.get("includeReplies"), Some(&Value::Bool(true)));
    assert_eq!(p.get("limit"), Some(&Value::Integer(50)));
    assert_eq!(p.get("langs"), None);
}

#[test]
fn params_errors() {
    let c = catalog();
    let q = c.query("com.example.search").unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, K);
    let cases: &[Case] = &[
        (&[], "/q", K::MissingRequired),
        (
            &[("q", "a"), ("limit", "ten")],
            "/limit",
            K::InvalidParam {
                expected: "integer",
            },
        ),
        (
            &[("q", "a"), ("limit", "2.5")],
            "/limit",
            K::InvalidParam {
                expected: "integer",
            },
        ),
        (
            &[("q", "a"), ("limit", "0")],
            "/limit",
            K::IntegerTooSmall {
                value: 0,
                minimum: 1,
            },
        ),
        (
            &[("q", "a"), ("limit", "101")],
            "/limit",
            K::IntegerTooLarge {
                value: 101,
                maximum: 100,
            },
        ),
        (
            &[("q", "a"), ("includeReplies", "yes")],
            "/includeReplies",
            K::InvalidParam {
                expected: "boolean",
            },
        ),
        (&[("q", "a"), ("q", "b")], "/q", K::RepeatedParam),
        (
            &[("q", "a"), ("ids", "1"), ("ids", "x")],
            "/ids/1",
            K::InvalidParam {
                expected: "integer",
            },
        ),
        (
            &[
                ("q", "a"),
                ("langs", "en"),
                ("langs", "de"),
                ("langs", "fr"),
                ("langs", "ja"),
            ],
            "/langs",
            K::ArrayTooLong { len: 4, max: 3 },
        ),
        (
            &[("q", "this query is far too long")],
            "/q",
            K::StringTooLong { len: 26, max: 20 },
        ),
    ];
    for (pairs, path, kind) in cases {
        let err = q.validate_params(pairs).unwrap_err();
        assert_eq!(err.kind(), kind, "{pairs:?}");
        assert_eq!(err.path(), *path, "{pairs:?}");
    }
    // Unknown sort values are fine: knownValues is advice.
    q.validate_params(&[("q", "a"), ("sort", "random")])
        .unwrap();
}

#[test]
fn params_value_form() {
    let c = catalog();
    let q = c.query("com.example.search").unwrap();
    q.validate_params_value(&json::from_str(r#"{"q":"a","limit":3}"#).unwrap())
        .unwrap();
    let err = q
        .validate_params_value(&json::from_str(r#"{"q":"a","limit":"3"}"#).unwrap())
        .unwrap_err();
    assert_eq!(err.path(), "/limit");
}

#[test]
fn query_output() {
    let c = catalog();
    let q = c.query("com.example.search").unwrap();
    assert_eq!(q.output_encoding(), Some("application/json"));
    q.validate_output(
        &json::from_str(r#"{"hits":[{"uri":"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz"}]}"#).unwrap(),
    )
    .unwrap();
    let err = q
        .validate_output(
            &json::from_str(
                r#"{"hits":[{"uri":"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz"},{"uri":"nope"}]}"#,
            )
            .unwrap(),
        )
        .unwrap_err();
    assert_eq!(err.path(), "/hits/1/uri");
    // A query has no input.
    assert_eq!(
        q.validate_input(&Value::Null).unwrap_err().kind(),
        &K::NoSchema("input")
    );
}

#[test]
fn procedure_input_and_output() {
    let c = catalog();
    let p = c.procedure("com.example.putThing").unwrap();
    assert_eq!(p.kind(), EndpointKind::Procedure);
    assert_eq!(p.input_encoding(), Some("application/json"));
    let mut body = json::from_str(r#"{"name":"lamp","tags":["a"]}"#).unwrap();
    p.validate_input(&body).unwrap();
    assert_eq!(
        body.get("public"),
        None,
        "plain validation leaves the body alone"
    );
    p.validate_and_apply_input_defaults(&mut body).unwrap();
    assert_eq!(body.get("public"), Some(&Value::Bool(true)));

    let err = p
        .validate_input(&json::from_str(r#"{"name":""}"#).unwrap())
        .unwrap_err();
    assert_eq!(
        (err.path(), err.kind()),
        ("/name", &K::StringTooShort { len: 0, min: 1 })
    );
    let err = p
        .validate_input(&json::from_str(r#"{"tags":[1]}"#).unwrap())
        .unwrap_err();
    assert_eq!(err.path(), "/tags/0");

    p.validate_output(&json::from_str(r#"{"ok":true}"#).unwrap())
        .unwrap();
    let err = p
        .validate_output(&json::from_str(r#"{"ok":false}"#).unwrap())
        .unwrap_err();
    assert_eq!((err.path(), err.kind()), ("/ok", &K::ConstMismatch));

    // A binary body has an encoding but no schema to validate against.
    let up = c.procedure("com.example.upload").unwrap();
    assert_eq!(up.input_encoding(), Some("*/*"));
    assert_eq!(
        up.validate_input(&Value::Null).unwrap_err().kind(),
        &K::NoSchema("input")
    );
}

#[test]
fn lookups_check_the_kind() {
    let c = catalog();
    assert!(matches!(
        c.procedure("com.example.search"),
        Err(LookupError::WrongType {
            expected: "procedure",
            found: "query",
            ..
        })
    ));
    assert!(matches!(
        c.record("com.example.search"),
        Err(LookupError::WrongType { .. })
    ));
    assert!(matches!(
        c.query("com.example.nothing"),
        Err(LookupError::NotFound(_))
    ));
    assert_eq!(
        c.endpoint_kind("com.example.putThing"),
        Some(EndpointKind::Procedure)
    );
    assert_eq!(c.endpoint_kind("com.example.search#hit"), None);
    assert!(c.def("com.example.search#hit").is_ok());
    assert!(c.def("com.example.search").is_err());
}

#[cfg(feature = "std")]
#[test]
fn subscription_messages() {
    let mut b = Catalog::builder();
    b.add_dir(crate::interop::lexicons_dir()).unwrap();
    b.add_str(&crate::interop::read("lexicon/catalog/subscription.json"))
        .unwrap();
    let c = b.build().unwrap();
    let s = c.subscription("example.lexicon.subscription").unwrap();
    assert_eq!(s.kind(), EndpointKind::Subscription);
    let params = s.validate_params(&[("cursor", "12")]).unwrap();
    assert_eq!(params.get("cursor"), Some(&Value::Integer(12)));

    // With `$type` inside the message, as a union member.
    s.validate_message(
        &json::from_str(r##"{"$type":"example.lexicon.subscription#yo","seq":1,"yo":true}"##)
            .unwrap(),
    )
    .unwrap();
    let err = s
        .validate_message(
            &json::from_str(r##"{"$type":"example.lexicon.subscription#yo","seq":1}"##).unwrap(),
        )
        .unwrap_err();
    assert_eq!((err.path(), err.kind()), ("/yo", &K::MissingRequired));
    // With the type beside the body, as in a frame header `t`.
    s.validate_message_as(
        "#info",
        &json::from_str(r#"{"name":"OutdatedCursor"}"#).unwrap(),
    )
    .unwrap();
    s.validate_message_as(
        "example.lexicon.subscription#yo",
        &json::from_str(r#"{"seq":1,"yo":false}"#).unwrap(),
    )
    .unwrap();
    let err = s
        .validate_message_as(
            "#info",
            &json::from_str(r#"{"message":"no name"}"#).unwrap(),
        )
        .unwrap_err();
    assert_eq!(err.path(), "/name");
    // The message union is open: unknown event types pass.
    s.validate_message_as("#somethingNew", &json::from_str("{}").unwrap())
        .unwrap();

    // The real firehose.
    let repos = c.subscription("com.atproto.sync.subscribeRepos").unwrap();
    repos
        .validate_message_as(
            "#identity",
            &json::from_str(r#"{"seq":5,"did":"did:plc:ewvi7nxzyoun6zhxrhs64oiz","time":"2024-11-05T18:31:59.123Z"}"#).unwrap(),
        )
        .unwrap();
    let err = repos
        .validate_message_as(
            "#account",
            &json::from_str(r#"{"seq":5,"did":"did:plc:ewvi7nxzyoun6zhxrhs64oiz","time":"2024-11-05T18:31:59.123Z"}"#).unwrap(),
        )
        .unwrap_err();
    assert_eq!((err.path(), err.kind()), ("/active", &K::MissingRequired));
}
