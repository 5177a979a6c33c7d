//! Tests for atproto-core's syntax module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;

#[cfg(feature = "std")]
use atproto_core::syntax::TidGenerator;
use atproto_core::syntax::{
    AtIdentifier, AtUri, CidString, Datetime, Did, Handle, Language, Nsid, Reason, RecordKey,
    SyntaxError, SyntaxKind, Tid, Uri,
};
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
                "syntax_valid" => {
                    if let Err(e) = result {
                        panic!("{stem}: rejected valid {case:?}: {e}");
                    }
                }
                "syntax_invalid" => {
                    assert!(result.is_err(), "{stem}: accepted invalid {case:?}");
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
}

#[test]
fn valid_cases_round_trip_through_display_and_serde() {
    for stem in VECTOR_FILES.iter().filter(|f| f.ends_with("_syntax_valid")) {
        let ty = stem.split_once('_').unwrap().0;
        for case in interop::lines(&format!("syntax/{stem}.txt")) {
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

#[test]
fn cid_string_decodes() {
    let s =
        CidString::from_str("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi").unwrap();
    let cid = s.to_cid().unwrap();
    assert_eq!(cid.to_string(), s.as_str());
    assert_eq!(CidString::from_cid(&cid).unwrap(), s);
    for bad in [
        "bafyaaaaaaaaaaaaaaa",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdiaa",
        "zzzzzzzzzzz",
    ] {
        let e = CidString::from_str(bad).unwrap().to_cid().unwrap_err();
        assert!(
            e.to_string().starts_with("cid: not a parseable CID"),
            "{bad}: {e}"
        );
    }
    // Other multibase prefixes decode too.
    let f = CidString::from_str(
        "f017012202c5f688262e0ece8569aa6f94d60aad55ca8d9d83734e4a7430d0cff6588ec2b",
    )
    .unwrap();
    assert_eq!(f.to_cid().unwrap().codec(), 0x70);
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
