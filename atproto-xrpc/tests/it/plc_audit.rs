//! did:plc audit logs: the fork and nullification rules
//! (`atproto_xrpc::identity::plc::verify_audit_log`).
// Helpers outside #[test] functions unwrap too: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atproto_core::{Curve, Did, Keypair};
use atproto_xrpc::identity::plc::{
    AuditEntry, AuditReplay, RECOVERY_WINDOW_MS, parse_audit_log, replay_audit_log,
    verify_audit_log,
};
use atproto_xrpc::identity::{Operation, PlcData, PlcError, PlcState};

/// `testdata/did-method-plc/audit_log/<rel>`, parsed.
fn vector(rel: &str) -> (Did, Vec<AuditEntry>) {
    let json = serde_json::to_vec(&crate::identity::audit_log(rel)).unwrap();
    let entries = parse_audit_log(&json).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (entries[0].did.parse().unwrap(), entries)
}

#[test]
fn reference_audit_logs_replay_with_their_nullifications() {
    for name in crate::identity::VALID_LOGS {
        let (did, entries) = vector(&format!("valid/{name}"));
        let state = verify_audit_log(&did, &entries).unwrap_or_else(|e| panic!("{name}: {e}"));
        let last = entries.iter().rev().find(|e| !e.nullified).unwrap();
        match last.operation.data() {
            Some(data) => assert_eq!(state, PlcState::Active(data), "{name}"),
            None => assert_eq!(state, PlcState::Tombstoned, "{name}"),
        }
    }
}

#[test]
fn reference_invalid_audit_logs_are_rejected() {
    for (name, check) in [
        (
            "log_invalid_nullification_reused_key.json",
            (|e: &PlcError| matches!(e, PlcError::BadSignature { index: 2 }))
                as fn(&PlcError) -> bool,
        ),
        (
            "log_invalid_nullification_too_slow.json",
            |e| matches!(e, PlcError::LateRecovery { index: 2, elapsed_ms } if *elapsed_ms > RECOVERY_WINDOW_MS),
        ),
        ("log_invalid_update_nullified.json", |e| {
            matches!(e, PlcError::UnknownPrev { index: 4, .. })
        }),
        ("log_invalid_update_tombstoned.json", |e| {
            matches!(e, PlcError::AfterTombstone { index: 2 })
        }),
        ("log_invalid_sig_der.json", |e| {
            matches!(e, PlcError::BadSignature { index: 0 })
        }),
        ("log_invalid_sig_k256_high_s.json", |e| {
            matches!(e, PlcError::BadSignature { index: 0 })
        }),
        ("log_invalid_sig_b64_padding_chars.json", |e| {
            matches!(e, PlcError::SigEncoding { index: 0 })
        }),
    ] {
        let (did, entries) = vector(&format!("invalid/{name}"));
        let err = verify_audit_log(&did, &entries).unwrap_err();
        assert!(check(&err), "{name}: {err}");
    }
}

#[test]
fn entries_must_match_their_did_cid_time_and_flags() {
    let (did, entries) = vector("valid/log_nullification.json");
    let mut bad = entries.clone();
    bad[1].nullified = false;
    assert!(matches!(
        verify_audit_log(&did, &bad),
        Err(PlcError::NullifiedMismatch {
            index: 1,
            claimed: false,
            computed: true
        })
    ));
    let mut bad = entries.clone();
    bad[1].cid = entries[0].cid.clone();
    assert!(matches!(
        verify_audit_log(&did, &bad),
        Err(PlcError::CidMismatch { index: 1, .. })
    ));
    let mut bad = entries.clone();
    bad[1].created_at = "1969-12-31T23:59:59.000Z".into();
    assert!(matches!(
        verify_audit_log(&did, &bad),
        Err(PlcError::BadTimestamp { index: 1, .. })
    ));
    let mut bad = entries.clone();
    bad[2].created_at = "yesterday".into();
    assert!(matches!(
        verify_audit_log(&did, &bad),
        Err(PlcError::BadTimestamp { index: 2, .. })
    ));
    let mut bad = entries.clone();
    bad[1].did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".into();
    assert!(matches!(
        verify_audit_log(&did, &bad),
        Err(PlcError::WrongDid { index: 1, .. })
    ));
    assert_eq!(verify_audit_log(&did, &[]), Err(PlcError::LogLength(0)));
    assert!(matches!(
        parse_audit_log(b"[]"),
        Err(PlcError::LogLength(0))
    ));
}

/// An audit entry for `op`, accepted `ms` after the epoch.
fn entry(did: &Did, op: &Operation, ms: i64, nullified: bool) -> AuditEntry {
    let secs = ms / 1000;
    AuditEntry {
        did: did.as_str().to_owned(),
        operation: op.clone(),
        cid: op.cid().to_string(),
        nullified,
        created_at: format!(
            "1970-01-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + secs / 86_400,
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60,
            ms % 1000
        ),
    }
}

#[test]
fn a_higher_priority_key_forks_within_72_hours() {
    let key = |seed: u8| Keypair::from_private_bytes(Curve::K256, &[seed; 32]).unwrap();
    let (recovery, rotation, signing) = (key(1), key(2), key(3));
    let data = PlcData::atproto(
        &signing.public_key(),
        &"alice.example.com".parse().unwrap(),
        "https://pds.example.com",
        &[recovery.public_key(), rotation.public_key()],
    );
    let (genesis, did) = Operation::genesis(data.clone(), &rotation);
    let mut hijacked = data.clone();
    hijacked.also_known_as = vec!["at://mallory.example.com".into()];
    // The lower-priority key moves the account...
    let stolen = Operation::update(&genesis, hijacked.clone(), &rotation);
    let after = Operation::update(&stolen, hijacked, &rotation);
    // ...and the recovery key takes it back from the genesis.
    let recovered = Operation::update(&genesis, data.clone(), &recovery);

    let t1 = 1000;
    let log = |fork_ms: i64| {
        vec![
            entry(&did, &genesis, 0, false),
            entry(&did, &stolen, t1, true),
            entry(&did, &after, t1 + 1, true),
            entry(&did, &recovered, fork_ms, false),
        ]
    };
    assert_eq!(
        verify_audit_log(&did, &log(t1 + RECOVERY_WINDOW_MS)),
        Ok(PlcState::Active(data.clone()))
    );
    assert!(matches!(
        verify_audit_log(&did, &log(t1 + RECOVERY_WINDOW_MS + 1)),
        Err(PlcError::LateRecovery { index: 3, .. })
    ));

    // A directory's check of the fork: the stored flags (none set yet) are
    // not read, the replay says which entries the new one nullifies.
    let mut proposed = log(t1 + 10);
    for e in &mut proposed {
        e.nullified = false;
    }
    assert_eq!(
        replay_audit_log(&did, &proposed),
        Ok(AuditReplay {
            state: PlcState::Active(data.clone()),
            nullified: vec![false, true, true, false],
        })
    );
    assert!(matches!(
        verify_audit_log(&did, &proposed),
        Err(PlcError::NullifiedMismatch { index: 1, .. })
    ));
    assert!(matches!(
        replay_audit_log(&did, &log(t1 + RECOVERY_WINDOW_MS + 1)),
        Err(PlcError::LateRecovery { index: 3, .. })
    ));

    // The same key (or a lower one) cannot fork.
    let again = Operation::update(&genesis, data.clone(), &rotation);
    let mut bad = log(t1 + 5);
    bad[3] = entry(&did, &again, t1 + 5, false);
    assert_eq!(
        verify_audit_log(&did, &bad),
        Err(PlcError::BadSignature { index: 3 })
    );

    // Building on a nullified operation is refused.
    let mut bad = log(t1 + 5);
    let on_nullified = Operation::update(&after, data, &recovery);
    bad.push(entry(&did, &on_nullified, t1 + 6, false));
    assert!(matches!(
        verify_audit_log(&did, &bad),
        Err(PlcError::UnknownPrev { index: 4, .. })
    ));
}
