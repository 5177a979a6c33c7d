//! Tests for atproto-core's syntax module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;

use atproto_core::data::{CidError, CidErrorKind, CidField, dag_cbor_cid, raw_cid, write_cid};
#[cfg(feature = "std")]
use atproto_core::syntax::TidGenerator;
use atproto_core::syntax::{
    AtIdentifier, AtUri, CidString, Datetime, Did, Handle, Language, Nsid, Reason, RecordKey,
    SyntaxError, SyntaxKind, Tid, Uri,
};
use atproto_core::varint::VarintError;
use proptest::prelude::*;

use super::interop;

/// Every vector file under `syntax/`: (file stem, type).
const VECTOR_FILES: &[&str] = &[
    "atidentifier_syntax_invalid",
    "atidentifier_syntax_valid",
    "aturi_syntax_invalid",
    "aturi_syntax_valid",
    "cid_syntax_invalid",
    "cid_syntax_valid",
    "datetime_parse_invalid",
    "datetime_syntax_invalid",
    "datetime_syntax_valid",
    "did_syntax_invalid",
    "did_syntax_valid",
    "handle_syntax_invalid",
    "handle_syntax_valid",
    "language_parse_invalid",
    "language_syntax_invalid",
    "language_syntax_valid",
    "nsid_syntax_invalid",
    "nsid_syntax_valid",
    "recordkey_syntax_invalid",
    "recordkey_syntax_valid",
    "tid_syntax_invalid",
    "tid_syntax_valid",
    "uri_syntax_invalid",
    "uri_syntax_valid",
];

/// The cases of `cid_syntax_valid.txt` that pass the string-level grammar
/// ([`CidString::check_syntax`]) but are not CIDs, with why `CidString`
/// refuses each: upstream lists them as "contrived examples" of the
/// grammar. The reference TypeScript Lexicon validator (`CID.parse`) refuses
/// them too: it reads only `b` and `z` and checks the digest length.
const CID_GRAMMAR_ONLY: &[(&str, &str)] = &[
    ("mBcDxtdWx0aWhhc2g+", "unsupported multibase prefix 'm'"),
    (
        "z7x3CtScH765HvShXT",
        "multihash declares a 109-byte digest (at most 64)",
    ),
    (
        "7134036155352661643226414134664076",
        "unsupported multibase prefix '7'",
    ),
    // A real CIDv1, in base16: `b` and `z` are the only bases accepted.
    (
        "f017012202c5f688262e0ece8569aa6f94d60aad55ca8d9d83734e4a7430d0cff6588ec2b",
        "unsupported multibase prefix 'f'",
    ),
];

/// Whether a `*_syntax_valid` case is one the full parse refuses by design.
fn grammar_only(ty: &str, case: &str) -> bool {
    ty == "cid" && CID_GRAMMAR_ONLY.iter().any(|(c, _)| *c == case)
}

/// Full parse (`FromStr`) of `s` as the type named by a vector file prefix.
fn parse_as(ty: &str, s: &str) -> Result<(), SyntaxError> {
    match ty {
        "atidentifier" => AtIdentifier::from_str(s).map(drop),
        "aturi" => AtUri::from_str(s).map(drop),
        "cid" => CidString::from_str(s).map(drop),
        "datetime" => Datetime::from_str(s).map(drop),
        "did" => Did::from_str(s).map(drop),
        "handle" => Handle::from_str(s).map(drop),
        "language" => Language::from_str(s).map(drop),
        "nsid" => Nsid::from_str(s).map(drop),
        "recordkey" => RecordKey::from_str(s).map(drop),
        "tid" => Tid::from_str(s).map(drop),
        "uri" => Uri::from_str(s).map(drop),
        other => panic!("no syntax type for vector prefix {other:?}"),
    }
}

/// The grammar-only check, for the types that separate it from the full parse.
fn check_syntax_only(ty: &str, s: &str) -> Result<(), SyntaxError> {
    match ty {
        "datetime" => Datetime::check_syntax(s),
        "language" => Language::check_syntax(s),
        other => panic!("no grammar-only check for {other:?}"),
    }
}

/// `is_valid` of the type named by a vector file prefix.
fn is_valid_as(ty: &str, s: &str) -> bool {
    match ty {
        "atidentifier" => AtIdentifier::is_valid(s),
        "aturi" => AtUri::is_valid(s),
        "cid" => CidString::is_valid(s),
        "datetime" => Datetime::is_valid(s),
        "did" => Did::is_valid(s),
        "handle" => Handle::is_valid(s),
        "language" => Language::is_valid(s),
        "nsid" => Nsid::is_valid(s),
        "recordkey" => RecordKey::is_valid(s),
        "tid" => Tid::is_valid(s),
        "uri" => Uri::is_valid(s),
        other => panic!("no syntax type for vector prefix {other:?}"),
    }
}

/// Validators check formats of every string in a record: `is_valid` must
/// not allocate on valid input (a rejection may build its error).
#[test]
fn is_valid_does_not_allocate() {
    let mut failures = Vec::new();
    for stem in VECTOR_FILES.iter().filter(|s| s.ends_with("_syntax_valid")) {
        let (ty, _) = stem.split_once('_').unwrap();
        for case in interop::lines(&format!("syntax/{stem}.txt")) {
            if grammar_only(ty, &case) {
                continue;
            }
            let mut valid = false;
            let info = allocation_counter::measure(|| valid = is_valid_as(ty, &case));
            assert!(valid, "{stem}: {case:?}");
            if info.count_total != 0 {
                failures.push(format!("{ty}::is_valid({case:?}): {}", info.count_total));
            }
        }
    }
    assert!(failures.is_empty(), "allocations:\n{}", failures.join("\n"));
}

#[test]
fn vector_files_are_all_known_and_present() {
    let dir = interop::dir().join("syntax");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    on_disk.sort();
    let expected: Vec<String> = VECTOR_FILES.iter().map(|f| format!("{f}.txt")).collect();
    for f in &expected {
        assert!(
            on_disk.contains(f),
            "expected vector file syntax/{f} is missing"
        );
    }
    for f in &on_disk {
        assert!(
            expected.contains(f),
            "vector file syntax/{f} is not covered by these tests"
        );
    }
}

#[test]
fn interop_vectors() {
    let mut total = 0;
    for stem in VECTOR_FILES {
        let (ty, mode) = stem.split_once('_').unwrap();
        let cases = interop::lines(&format!("syntax/{stem}.txt"));
        assert!(!cases.is_empty(), "{stem}.txt has no cases");
        for case in &cases {
            let result = parse_as(ty, case);
            match mode {
                "syntax_valid" if grammar_only(ty, case) => {
                    let (_, why) = CID_GRAMMAR_ONLY.iter().find(|(c, _)| c == case).unwrap();
                    let e = result.expect_err(case);
                    assert!(e.to_string().contains(why), "{stem}: {case:?}: {e}");
                    CidString::check_syntax(case).unwrap();
                }
                "syntax_valid" => {
                    if let Err(e) = result {
                        panic!("{stem}: rejected valid {case:?}: {e}");
                    }
                    if ty == "cid" {
                        CidString::check_syntax(case).unwrap();
                    }
                }
                "syntax_invalid" => {
                    assert!(result.is_err(), "{stem}: accepted invalid {case:?}");
                    if ty == "cid" {
                        assert!(CidString::check_syntax(case).is_err(), "{case:?}");
                    }
                }
                "parse_invalid" => {
                    assert!(
                        result.is_err(),
                        "{stem}: accepted semantically invalid {case:?}"
                    );
                    if let Err(e) = check_syntax_only(ty, case) {
                        panic!(
                            "{stem}: grammar check rejected {case:?}, which should pass it: {e}"
                        );
                    }
                }
                other => panic!("unknown vector file kind {other:?}"),
            }
        }
        println!("{stem}.txt: {} cases", cases.len());
        total += cases.len();
    }
    println!(
        "syntax vectors: {total} cases in {} files",
        VECTOR_FILES.len()
    );
    let cid_valid = interop::lines("syntax/cid_syntax_valid.txt");
    for (case, _) in CID_GRAMMAR_ONLY {
        assert!(
            cid_valid.iter().any(|c| c == case),
            "{case:?} is no longer a vector"
        );
    }
}

#[test]
fn valid_cases_round_trip_through_display_and_serde() {
    for stem in VECTOR_FILES.iter().filter(|f| f.ends_with("_syntax_valid")) {
        let ty = stem.split_once('_').unwrap().0;
        for case in interop::lines(&format!("syntax/{stem}.txt")) {
            if grammar_only(ty, &case) {
                continue;
            }
            let json = serde_json::to_string(&case).unwrap();
            let shown = match ty {
                "atidentifier" => round_trip::<AtIdentifier>(&case, &json),
                "aturi" => round_trip::<AtUri>(&case, &json),
                "cid" => round_trip::<CidString>(&case, &json),
                "datetime" => round_trip::<Datetime>(&case, &json),
                "did" => round_trip::<Did>(&case, &json),
                "handle" => round_trip::<Handle>(&case, &json),
                "language" => round_trip::<Language>(&case, &json),
                "nsid" => round_trip::<Nsid>(&case, &json),
                "recordkey" => round_trip::<RecordKey>(&case, &json),
                "tid" => round_trip::<Tid>(&case, &json),
                "uri" => round_trip::<Uri>(&case, &json),
                other => panic!("unknown type {other}"),
            };
            assert_eq!(shown, case, "{stem}: display of {case:?}");
        }
    }
}

fn round_trip<T>(case: &str, json: &str) -> String
where
    T: FromStr<Err = SyntaxError>
        + TryFrom<String, Error = SyntaxError>
        + for<'a> TryFrom<&'a str, Error = SyntaxError>
        + std::fmt::Display
        + std::fmt::Debug
        + AsRef<str>
        + Eq
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let parsed: T = case.parse().unwrap();
    assert_eq!(parsed.as_ref(), case);
    assert_eq!(T::try_from(case).unwrap(), parsed);
    assert_eq!(T::try_from(case.to_owned()).unwrap(), parsed);
    let from_json: T = serde_json::from_str(json).unwrap();
    assert_eq!(from_json, parsed, "serde of {case:?}");
    assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
    let from_value: T = serde_json::from_value(serde_json::Value::String(case.to_owned())).unwrap();
    assert_eq!(from_value, parsed);
    parsed.to_string()
}

#[test]
fn serde_rejects_invalid_with_the_syntax_message() {
    let err = serde_json::from_str::<Did>("\"did:plc:abc#x\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did: invalid character '#' at byte 11"),
        "{err}"
    );
    let err = serde_json::from_str::<Datetime>("\"1985-04-31T00:00:00Z\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("day 31 does not exist in month 4"), "{err}");
    assert!(serde_json::from_str::<Handle>("42").is_err());
    assert!(serde_json::from_str::<Tid>("\"zzzzzzzzzzzzz\"").is_err());
}

#[test]
fn error_messages_say_what_and_where() {
    let e = Did::from_str("did:method:val#two").unwrap_err();
    assert_eq!(e.to_string(), "did: invalid character '#' at byte 14");
    assert_eq!(e.kind(), SyntaxKind::Did);
    assert_eq!(e.offset(), Some(14));
    assert_eq!(e.reason(), &Reason::InvalidChar('#'));

    let long_label = format!("short.{}.test", "o".repeat(64));
    let e = Handle::from_str(&long_label).unwrap_err();
    assert_eq!(
        e.to_string(),
        "handle: label 2 longer than 63 bytes at byte 6"
    );

    let e = Datetime::from_str("2023-04-31T00:00:00Z").unwrap_err();
    assert_eq!(
        e.to_string(),
        "datetime: day 31 does not exist in month 4 of year 2023 at byte 8"
    );
    let e = Datetime::from_str("2023-02-29T00:00:00Z").unwrap_err();
    assert!(
        e.to_string().contains("day 29 does not exist in month 2"),
        "{e}"
    );
    let e = Datetime::from_str("1985-04-12T25:20:50.123Z").unwrap_err();
    assert_eq!(
        e.to_string(),
        "datetime: hour 25 is out of range at byte 11"
    );
    let e = Datetime::from_str("0000-01-01T00:00:00+01:00").unwrap_err();
    assert!(e.to_string().contains("before year 0000"), "{e}");
    let e = Datetime::from_str("1985-04-12T23:20:50.123-00:00").unwrap_err();
    assert!(e.to_string().contains("-00:00"), "{e}");

    let e = AtUri::from_str("at://did:plc:asdf123/com.atproto.feed.p@st").unwrap_err();
    assert_eq!(
        e.to_string(),
        "at-uri: nsid: invalid character '@' at byte 39"
    );
    assert_eq!(e.kind(), SyntaxKind::Nsid);
    assert_eq!(e.context(), Some(SyntaxKind::AtUri));

    let e = Language::from_str("en-rozaj-ROZAJ").unwrap_err();
    assert_eq!(
        e.to_string(),
        "language: duplicate variant \"ROZAJ\" at byte 9"
    );
    let e = Language::from_str("en-a-foo-A-bar").unwrap_err();
    assert!(
        e.to_string()
            .contains("duplicate extension singleton \"A\""),
        "{e}"
    );

    let e = Handle::from_str("bücher.test").unwrap_err();
    assert_eq!(e.to_string(), "handle: invalid character 'ü' at byte 1");
    let e = Tid::from_str("").unwrap_err();
    assert_eq!(e.to_string(), "tid: empty string");
    let e = Uri::from_str(&"x".repeat(9000)).unwrap_err();
    assert!(
        e.to_string()
            .contains("9000 bytes is longer than the limit of 8192"),
        "{e}"
    );
}

#[test]
fn try_from_string_does_not_copy() {
    let s = String::from("did:plc:7iza6de2dwap2sbkpav7c6c6");
    let ptr = s.as_ptr();
    let did = Did::try_from(s).unwrap();
    assert_eq!(did.as_str().as_ptr(), ptr);
    let back = did.into_string();
    assert_eq!(back.as_ptr(), ptr);

    let s = String::from("1985-04-12T23:20:50.123Z");
    let ptr = s.as_ptr();
    let back = Datetime::try_from(s).unwrap().into_string();
    assert_eq!(back.as_ptr(), ptr);
}

#[test]
fn did_accessors() {
    let did = Did::from_str("did:plc:7iza6de2dwap2sbkpav7c6c6").unwrap();
    assert_eq!(did.method(), "plc");
    assert_eq!(did.identifier(), "7iza6de2dwap2sbkpav7c6c6");
    assert!(did.is_plc() && !did.is_web());
    did.check_plc_form().unwrap();

    let web = Did::from_str("did:web:localhost%3A1234").unwrap();
    assert!(web.is_web());
    assert_eq!(web.identifier(), "localhost%3A1234");
    assert!(web.check_plc_form().is_err());

    let short = Did::from_str("did:plc:asdf123").unwrap();
    assert!(short.check_plc_form().is_err());
    assert!(
        Did::from_str("did:plc:7iza6de2dwap2sbkpav7c6c1")
            .unwrap()
            .check_plc_form()
            .is_err()
    );

    let st = Did::from_static("did:method::::val").unwrap();
    assert_eq!(st.method(), "method");
    assert_eq!(st.identifier(), ":::val");
    assert_eq!(String::from(st.clone()), "did:method::::val");
    assert_eq!(st, "did:method::::val");
}

#[test]
fn handle_normalisation_and_tlds() {
    let h = Handle::from_str("XX.LCS.MIT.EDU").unwrap();
    assert_eq!(h.normalized().as_str(), "xx.lcs.mit.edu");
    assert_eq!(h.clone().into_normalized().as_str(), "xx.lcs.mit.edu");
    assert_eq!(h.as_str(), "XX.LCS.MIT.EDU");
    assert_ne!(h, h.normalized());
    assert_eq!(h.tld(), "EDU");
    assert!(!h.is_disallowed_tld());
    for tld in [
        "alt",
        "arpa",
        "example",
        "internal",
        "invalid",
        "local",
        "localhost",
        "onion",
    ] {
        let h = Handle::from_str(&format!("name.{tld}")).unwrap();
        assert!(h.is_disallowed_tld(), "{tld}");
    }
    assert!(Handle::from_str("john.ONION").unwrap().is_disallowed_tld());
    assert_eq!(Handle::INVALID.as_str(), "handle.invalid");
    assert!(Handle::INVALID.is_invalid_sentinel());
    assert!(Handle::INVALID.is_disallowed_tld());
    assert_eq!(Handle::from_str("handle.invalid").unwrap(), Handle::INVALID);
}

#[test]
fn nsid_accessors() {
    let n = Nsid::from_str("App.Bsky.feed.getPostThread").unwrap();
    assert_eq!(n.name(), "getPostThread");
    assert_eq!(n.authority(), "feed.bsky.app");
    assert_eq!(n.authority_segments(), "App.Bsky.feed");
    assert_eq!(n.segments().count(), 4);
    assert!(Nsid::from_str("com.example").is_err());
    assert!(Nsid::from_str("com.example.fooBar.2").is_err());
}

#[test]
fn at_uri_accessors_and_builders() {
    let u = AtUri::from_str("at://did:plc:asdf123/com.atproto.feed.post/record").unwrap();
    assert_eq!(u.authority(), "did:plc:asdf123");
    assert_eq!(u.collection(), Some("com.atproto.feed.post"));
    assert_eq!(u.rkey(), Some("record"));
    assert_eq!(
        u.authority_id(),
        AtIdentifier::Did(Did::from_str("did:plc:asdf123").unwrap())
    );
    assert_eq!(u.collection_nsid().unwrap().name(), "post");
    assert_eq!(u.record_key().unwrap().as_str(), "record");

    let repo = AtUri::from_str("at://user.bsky.social").unwrap();
    assert_eq!(repo.collection(), None);
    assert_eq!(repo.rkey(), None);
    assert!(repo.authority_id().as_handle().is_some());

    let id = AtIdentifier::from_str("alice.test").unwrap();
    let nsid = Nsid::from_str("app.bsky.feed.post").unwrap();
    let rkey = RecordKey::from_str("3jzfcijpj2z2a").unwrap();
    assert_eq!(AtUri::for_repo(&id).as_str(), "at://alice.test");
    assert_eq!(
        AtUri::for_collection(&id, &nsid).as_str(),
        "at://alice.test/app.bsky.feed.post"
    );
    let rec = AtUri::for_record(&id, &nsid, &rkey);
    assert_eq!(
        rec.as_str(),
        "at://alice.test/app.bsky.feed.post/3jzfcijpj2z2a"
    );
    assert_eq!(AtUri::from_str(rec.as_str()).unwrap(), rec);
}

#[test]
fn at_identifier_kinds_and_order() {
    let d = AtIdentifier::from_str("did:web:example.com").unwrap();
    let h = AtIdentifier::from_str("alice.test").unwrap();
    assert!(d.as_did().is_some() && d.as_handle().is_none());
    assert!(h.as_handle().is_some() && h.as_did().is_none());
    assert!(h < d, "ordered as strings");
    let e = AtIdentifier::from_str("did:method:").unwrap_err();
    assert_eq!(e.kind(), SyntaxKind::Did);
    assert_eq!(e.context(), Some(SyntaxKind::AtIdentifier));
}

#[test]
fn datetime_components_and_instants() {
    let d = Datetime::from_str("1985-04-12T23:20:50.123456789Z").unwrap();
    assert_eq!(
        (
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        (1985, 4, 12, 23, 20, 50)
    );
    assert_eq!(d.nanosecond(), 123_456_789);
    assert_eq!(d.offset_minutes(), 0);
    assert_eq!(d.timestamp_micros(), 482_196_050_123_456);

    let local = Datetime::from_str("1985-04-12T16:20:50.123456789-07:00").unwrap();
    assert_eq!(local.offset_minutes(), -420);
    assert_eq!(local.timestamp_micros(), d.timestamp_micros());
    assert_eq!(local.cmp_instant(&d), std::cmp::Ordering::Equal);
    assert_ne!(local, d);
    assert_eq!(local.to_string(), "1985-04-12T16:20:50.123456789-07:00");

    // Leap years: 2000 and 2024 yes, 1900 and 2023 no, year 0 yes.
    for ok in [
        "2000-02-29T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "0000-02-29T00:00:00Z",
    ] {
        assert!(Datetime::is_valid(ok), "{ok}");
    }
    for bad in [
        "1900-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-06-31T00:00:00Z",
    ] {
        assert!(!Datetime::is_valid(bad), "{bad}");
        Datetime::check_syntax(bad).unwrap();
    }
    assert!(Datetime::is_valid("2016-12-31T23:59:60Z"));
    assert!(!Datetime::is_valid("2016-12-31T23:59:61Z"));
    assert!(!Datetime::is_valid("2016-12-31T23:59:59+24:00"));
    assert!(!Datetime::is_valid("2016-12-31T23:59:59+01:60"));
    assert!(Datetime::is_valid("0000-01-01T00:30:00+00:30"));
    assert!(!Datetime::is_valid("0000-01-01T00:29:59.999+00:30"));
    assert!(Datetime::is_valid("0000-01-01T00:00:00-01:00"));
    assert_eq!(
        Datetime::from_str("1970-01-01T00:00:00Z")
            .unwrap()
            .timestamp_micros(),
        0
    );

    for micros in [
        0,
        482_196_050_123_000,
        482_196_050_123_456,
        -62_167_219_200_000_000,
        1_700_000_000_000_001,
    ] {
        let d = Datetime::from_timestamp_micros(micros).unwrap();
        assert_eq!(d.timestamp_micros(), micros, "{d}");
    }
    assert_eq!(
        Datetime::from_timestamp_micros(0).unwrap().as_str(),
        "1970-01-01T00:00:00.000Z"
    );
    assert!(Datetime::from_timestamp_micros(-62_167_219_200_000_001).is_err());
    assert!(Datetime::from_timestamp_micros(i64::MIN).is_err());
    assert!(Datetime::from_timestamp_micros(i64::MAX).is_err());
    #[cfg(feature = "std")]
    let now = Datetime::now();
    #[cfg(feature = "std")]
    assert!(now.year() >= 2024, "{now}");
}

#[test]
fn language_parts() {
    let l = Language::from_str("en-GB-boont-r-extended-sequence-x-private").unwrap();
    assert_eq!(l.primary_language(), Some("en"));
    assert_eq!(l.region(), Some("GB"));
    assert_eq!(l.script(), None);
    let l = Language::from_str("zh-yue-Hant-HK").unwrap();
    assert_eq!(
        (l.primary_language(), l.script(), l.region()),
        (Some("zh"), Some("Hant"), Some("HK"))
    );
    assert_eq!(Language::from_str("es-419").unwrap().region(), Some("419"));
    assert!(Language::from_str("i-klingon").unwrap().is_grandfathered());
    assert!(Language::from_str("x-whatever").unwrap().is_private_use());
    assert!(Language::from_str("x").is_err());
    assert!(Language::from_str("en-a").is_err());
    assert!(Language::from_str("en-x").is_err());
    assert!(Language::from_str("en-US-x-a-b-c-d").is_ok());
    assert!(Language::from_str("en-123456789").is_err());
}

/// The binary CIDv1 of `bytes`' sha2-256 with `codec`, and its base32 form.
fn cid_b32(bytes: &[u8]) -> String {
    multibase::encode(multibase::Base::Base32Lower, bytes)
}

fn cid_b58(bytes: &[u8]) -> String {
    multibase::encode(multibase::Base::Base58Btc, bytes)
}

/// The reason `s` is refused as a CID string.
fn cid_reason(s: &str) -> (Option<usize>, Reason) {
    let e = CidString::from_str(s).unwrap_err();
    assert_eq!(e.kind(), SyntaxKind::Cid);
    assert!(!CidString::is_valid(s));
    assert!(CidString::parse_cid(s).is_err());
    (e.offset(), e.reason().clone())
}

fn cid_error(kind: CidErrorKind, offset: usize) -> (Option<usize>, Reason) {
    (None, Reason::Cid(CidError::new(kind, offset)))
}

#[test]
fn cid_string_decodes() {
    let b32 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    let s = CidString::from_str(b32).unwrap();
    let cid = s.to_cid().unwrap();
    assert_eq!(cid.to_string(), s.as_str());
    assert_eq!(CidString::from_cid(&cid).unwrap(), s);
    assert_eq!(CidString::parse_cid(b32).unwrap(), cid);
    // ATProto's own CIDs.
    for c in [dag_cbor_cid(b"x"), raw_cid(b"x")] {
        assert_eq!(CidString::parse_cid(&c.to_string()).unwrap(), c);
    }
}

/// base58btc (`z…`) is accepted, as the reference TypeScript Lexicon
/// validator does; the string is kept as given.
#[test]
fn cid_string_accepts_base58btc() {
    let cid = dag_cbor_cid(b"x");
    let mut bytes = Vec::new();
    write_cid(&cid, &mut bytes);
    let z = cid_b58(&bytes);
    assert!(z.starts_with('z'));
    let s = CidString::from_str(&z).unwrap();
    assert_eq!(s.as_str(), z);
    assert_eq!(s.to_cid().unwrap(), cid);
    // The upstream vector: a dag-pb CIDv1 in base58btc.
    let v = CidString::from_str("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7").unwrap();
    assert_eq!(v.to_cid().unwrap().codec(), 0x70);
    // A leading zero byte is a leading `1`: not a CID (version 0).
    let mut zero = vec![0];
    zero.extend_from_slice(&bytes);
    assert_eq!(
        cid_reason(&cid_b58(&zero)),
        cid_error(CidErrorKind::Version(0), 0)
    );
}

#[test]
fn cid_string_refuses_other_bases_and_foreign_characters() {
    let cid = dag_cbor_cid(b"x");
    let mut bytes = Vec::new();
    write_cid(&cid, &mut bytes);
    // Unknown or unaccepted multibase prefixes, even over a real CID.
    for (base, prefix) in [
        (multibase::Base::Base16Lower, 'f'),
        (multibase::Base::Base32Upper, 'B'),
        (multibase::Base::Base64, 'm'),
        (multibase::Base::Base64Url, 'u'),
        (multibase::Base::Base36Lower, 'k'),
    ] {
        let text = multibase::encode(base, &bytes);
        assert_eq!(
            cid_reason(&text),
            (Some(0), Reason::Multibase(prefix)),
            "{text}"
        );
    }
    assert_eq!(
        cid_reason("xafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"),
        (Some(0), Reason::Multibase('x'))
    );
    // Characters outside the base's alphabet, with their offset.
    let b32 = cid.to_string();
    let b58 = cid_b58(&bytes);
    let base32_foreign = [
        (7, 'A'),
        (9, '1'),
        (11, '8'),
        (12, '='),
        (20, '+'),
        (5, 'é'),
    ];
    let base58_foreign = [(4, '0'), (6, 'O'), (8, 'I'), (10, 'l'), (12, '+')];
    for (text, foreign) in [(&b32, &base32_foreign[..]), (&b58, &base58_foreign[..])] {
        for &(at, c) in foreign {
            let mut bad = text.clone();
            bad.replace_range(at..at + 1, &c.to_string());
            assert_eq!(
                cid_reason(&bad),
                (Some(at), Reason::InvalidChar(c)),
                "{bad}"
            );
        }
    }
    // Padding is not part of unpadded base32.
    assert_eq!(
        cid_reason(&format!("{b32}====")),
        (Some(b32.len()), Reason::InvalidChar('='))
    );
    // base32 that does not end on a whole byte: one character more or
    // fewer, or set bits past the last byte.
    for bad in [format!("{b32}a"), b32[..b32.len() - 1].to_owned()] {
        let (_, reason) = cid_reason(&bad);
        assert_eq!(
            reason,
            Reason::Invalid("base32 text does not end on a whole byte"),
            "{bad}"
        );
    }
    // 36 bytes are 58 characters with 2 spare bits: setting one is a
    // second spelling of the same bytes.
    const BASE32: &str = "abcdefghijklmnopqrstuvwxyz234567";
    let last = BASE32.find(b32.chars().last().unwrap()).unwrap();
    assert_eq!(last & 3, 0);
    let mut odd_bits = b32[..b32.len() - 1].to_owned();
    odd_bits.push(BASE32.as_bytes()[last | 1] as char);
    assert_eq!(
        cid_reason(&odd_bits),
        (
            Some(odd_bits.len() - 1),
            Reason::Invalid("base32 text does not end on a whole byte")
        )
    );
}

#[test]
fn cid_string_refuses_what_is_not_one_cidv1() {
    let digest = [7u8; 32];
    let cid = |bytes: &[u8]| cid_b32(bytes);
    let with = |head: &[u8], digest: &[u8]| [head, digest].concat();
    // Truncated digest: 31 of the 32 bytes declared.
    assert_eq!(
        cid_reason(&cid(&with(&[1, 0x71, 0x12, 0x20], &digest[..31]))),
        cid_error(
            CidErrorKind::DigestLength {
                declared: 32,
                present: 31
            },
            3
        )
    );
    // Trailing bytes after the digest.
    assert_eq!(
        cid_reason(&cid(&with(
            &[1, 0x71, 0x12, 0x20],
            &[&digest[..], &[0]].concat()
        ))),
        cid_error(
            CidErrorKind::DigestLength {
                declared: 32,
                present: 33
            },
            3
        )
    );
    // A declared digest longer than any multihash holds.
    assert_eq!(
        cid_reason(&cid(&with(&[1, 0x71, 0x13, 0x41], &[9; 65]))),
        cid_error(CidErrorKind::DigestTooLong(65), 3)
    );
    // CIDv0: as `Qm…`, and as a bare multihash in base58btc.
    let (at, reason) = cid_reason("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR");
    assert_eq!(at, Some(0));
    assert!(matches!(reason, Reason::Invalid(m) if m.contains("CIDv0")));
    let v0 = with(&[0x12, 0x20], &digest);
    assert_eq!(cid_reason(&cid_b58(&v0)), cid_error(CidErrorKind::V0, 0));
    assert_eq!(cid_reason(&cid(&v0)), cid_error(CidErrorKind::V0, 0));
    // Version 2; a non-minimal codec varint; an overflowing hash code.
    assert_eq!(
        cid_reason(&cid(&with(&[2, 0x71, 0x12, 0x20], &digest))),
        cid_error(CidErrorKind::Version(2), 0)
    );
    assert_eq!(
        cid_reason(&cid(&with(&[1, 0xf1, 0x00, 0x12, 0x20], &digest))),
        cid_error(
            CidErrorKind::Varint {
                field: CidField::Codec,
                error: VarintError::NonMinimal
            },
            1
        )
    );
    let mut long = vec![1, 0x71];
    long.extend_from_slice(&[0xff; 9]);
    long.push(0x01);
    long.extend_from_slice(&[0x20; 33]);
    assert_eq!(
        cid_reason(&cid(&long)),
        cid_error(
            CidErrorKind::Varint {
                field: CidField::HashCode,
                error: VarintError::Overflow
            },
            2
        )
    );
    // Decoded bytes longer than any CID.
    let (_, reason) = cid_reason(&format!("b{}", "a".repeat(200)));
    assert_eq!(
        reason,
        Reason::Invalid("decodes to more bytes than any CID holds")
    );
    // The messages say what is wrong.
    let e = CidString::from_str(&cid(&with(&[1, 0x71, 0x12, 0x20], &digest[..31]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cid: not a valid CID: multihash declares a 32-byte digest but 31 bytes follow (CID byte 3)"
    );
    let e = CidString::from_str(
        "f017012202c5f688262e0ece8569aa6f94d60aad55ca8d9d83734e4a7430d0cff6588ec2b",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cid: unsupported multibase prefix 'f' (expected 'b' for base32 or 'z' for base58btc) at byte 0"
    );
}

#[test]
fn record_key_and_uri() {
    assert!(RecordKey::is_valid("literal:self"));
    assert!(!RecordKey::is_valid(&"o".repeat(513)));
    assert!(RecordKey::is_valid(&"o".repeat(512)));
    assert_eq!(Uri::from_str("dns:example.com").unwrap().scheme(), "dns");
}

#[test]
fn tid_round_trips() {
    let t = Tid::from_str("3jzfcijpj2z2a").unwrap();
    assert_eq!(t.as_str(), "3jzfcijpj2z2a");
    assert_eq!(Tid::from_u64(t.as_u64()), t);
    assert_eq!(
        Tid::from_parts(t.timestamp_micros(), t.clock_id()).unwrap(),
        t
    );
    assert_eq!(Tid::from_u64(0).as_str(), "2222222222222");
    assert_eq!(Tid::from_u64(u64::MAX >> 1).as_str(), "bzzzzzzzzzzzz");
    assert_eq!(Tid::from_u64(u64::MAX).as_str(), "jzzzzzzzzzzzz");
    assert!(Tid::from_parts(1 << 53, 0).is_err());
    assert!(Tid::from_parts(0, 1024).is_err());
    assert_eq!(format!("{t:?}"), "Tid(\"3jzfcijpj2z2a\")");
    let a = Tid::from_u64(5);
    let b = Tid::from_u64(6);
    assert!(a < b && a.as_str() < b.as_str());
}

#[cfg(feature = "std")]
#[test]
fn tid_generator_is_monotonic_and_unique_across_threads() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 5_000;
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            std::thread::spawn(move || {
                let g = if i % 2 == 0 {
                    TidGenerator::new()
                } else {
                    TidGenerator::with_clock_id(7)
                };
                (0..PER_THREAD)
                    .map(|j| if j % 3 == 0 { Tid::now() } else { g.next_tid() })
                    .collect::<Vec<Tid>>()
            })
        })
        .collect();
    let mut all = std::collections::HashSet::new();
    for h in handles {
        let tids = h.join().unwrap();
        for pair in tids.windows(2) {
            assert!(
                pair[0] < pair[1],
                "not increasing: {:?} then {:?}",
                pair[0],
                pair[1]
            );
            assert!(pair[0].as_str() < pair[1].as_str());
        }
        for t in tids {
            assert!(Tid::is_valid(t.as_str()));
            assert!(all.insert(t), "duplicate TID {t:?}");
        }
    }
    assert_eq!(all.len(), THREADS * PER_THREAD);
    let g = TidGenerator::new();
    assert!(g.clock_id() <= 1023);
    let t = g.next_tid();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(t.timestamp_micros() <= now + 1_000_000 && t.timestamp_micros() + 60_000_000 > now);
}

fn parse_everything(s: &str) {
    let _ = Did::from_str(s);
    let _ = Handle::from_str(s);
    let _ = Nsid::from_str(s);
    let _ = Tid::from_str(s);
    let _ = RecordKey::from_str(s);
    let _ = AtUri::from_str(s);
    let _ = AtIdentifier::from_str(s);
    let _ = Datetime::from_str(s);
    let _ = Datetime::check_syntax(s);
    let _ = Language::from_str(s);
    let _ = Language::check_syntax(s);
    if let Ok(c) = CidString::from_str(s) {
        let _ = c.to_cid();
    }
    let _ = Uri::from_str(s);
    if let Err(e) = Handle::from_str(s) {
        let _ = e.to_string();
    }
}

#[test]
fn huge_and_odd_inputs_do_not_panic() {
    for s in [
        "x".repeat(1 << 20),
        "é".repeat(100_000),
        "-".repeat(10_000),
        ".".repeat(10_000),
        format!("at://{}", "a.".repeat(5000)),
        format!("did:a:{}", "%".repeat(3000)),
        "\0\u{ffff}\u{10ffff}".to_owned(),
        String::new(),
    ] {
        parse_everything(&s);
    }
}

proptest! {
    #[test]
    fn any_string_parses_or_errors(s in "\\PC{0,80}") {
        parse_everything(&s);
    }

    #[test]
    fn identifier_like_strings_parse_or_error(s in "[a-zA-Z0-9:./#%_~+=@ -]{0,40}") {
        parse_everything(&s);
        parse_everything(&format!("at://{s}"));
        parse_everything(&format!("did:{s}"));
        parse_everything(&format!("1985-04-12T{s}"));
    }

    #[test]
    fn error_offsets_are_in_bounds(s in "(at://|did:|1985-04-12T)?[a-zA-Z0-9:./#%_+-]{0,40}|\\PC{0,40}") {
        for e in [
            Did::from_str(&s).err(),
            Handle::from_str(&s).err(),
            Nsid::from_str(&s).err(),
            Tid::from_str(&s).err(),
            AtUri::from_str(&s).err(),
            AtIdentifier::from_str(&s).err(),
            Datetime::from_str(&s).err(),
            Language::from_str(&s).err(),
            Uri::from_str(&s).err(),
        ].into_iter().flatten() {
            if let Some(at) = e.offset() {
                prop_assert!(at <= s.len(), "{} for {:?}", e, s);
            }
        }
    }

    #[test]
    fn tid_parts_round_trip(ts in 0u64..(1 << 53), clock in 0u16..1024) {
        let tid = Tid::from_parts(ts, clock).unwrap();
        let parsed: Tid = tid.to_string().parse().unwrap();
        prop_assert_eq!(parsed, tid);
        prop_assert_eq!(parsed.timestamp_micros(), ts);
        prop_assert_eq!(parsed.clock_id(), clock);
        prop_assert_eq!(parsed.as_str().len(), 13);
    }

    #[test]
    fn tid_order_matches_string_order(a in any::<u64>(), b in any::<u64>()) {
        let (ta, tb) = (Tid::from_u64(a), Tid::from_u64(b));
        prop_assert_eq!(ta.cmp(&tb), ta.as_str().cmp(tb.as_str()));
        prop_assert_eq!(Tid::from_str(ta.as_str()).unwrap(), ta);
    }

    #[test]
    fn datetime_from_micros_round_trips(micros in -62_167_219_200_000_000i64..253_402_300_799_999_999) {
        let d = Datetime::from_timestamp_micros(micros).unwrap();
        prop_assert_eq!(d.timestamp_micros(), micros);
        let again: Datetime = d.as_str().parse().unwrap();
        prop_assert_eq!(again, d);
    }
}
