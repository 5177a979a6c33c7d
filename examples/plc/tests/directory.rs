//! The `plc` binary end to end on loopback: operations accepted and
//! refused with the reference's statuses, documents read back with
//! atproto-xrpc's `PlcResolver`, recovery forks, tombstones, restarts and
//! `/export` paging.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use atproto_core::{Did, Keypair};
use atproto_xrpc::identity::PlcData;
use atproto_xrpc::identity::plc::{
    Operation, PlcState, RECOVERY_WINDOW_MS, Tombstone, verify_audit_log,
};
use atproto_xrpc::identity::{DidResolver, PlcResolver, ResolveError};
use atproto_xrpc::transport::ReqwestClient;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support::{Plc, data, key, temp_dir};

const PDS: &str = "https://pds.example.com";

fn resolver(plc: &Plc) -> PlcResolver<ReqwestClient> {
    PlcResolver::with_directory(ReqwestClient::new().unwrap(), &plc.url)
}

#[tokio::test]
async fn genesis_then_update_are_served() {
    let dir = temp_dir("serve");
    let plc = Plc::start(&dir);
    let rotation = key(1);
    let signing = key(2);
    let first = data("alice.example.com", PDS, &signing, &[&rotation]);
    let (genesis, did) = Operation::genesis(first.clone(), &rotation);
    plc.accept(did.as_str(), &genesis).await;

    // The document, through the crate's resolver and as raw JSON.
    let doc = resolver(&plc).resolve_did(&did).await.unwrap();
    assert_eq!(doc, first.to_did_document(&did));
    assert_eq!(doc.handle().unwrap().as_str(), "alice.example.com");
    assert_eq!(doc.pds_endpoint().unwrap(), PDS);
    let (status, _) = plc.get(&format!("/{did}")).await;
    assert_eq!(status, 200);

    let body = plc.get_json(&format!("/{did}/data")).await;
    assert_eq!(
        body,
        json!({
            "did": did.as_str(),
            "verificationMethods": {"atproto": signing.public_key().to_did_key()},
            "rotationKeys": [rotation.public_key().to_did_key()],
            "alsoKnownAs": ["at://alice.example.com"],
            "services": {"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": PDS}},
        })
    );
    let last: Operation =
        serde_json::from_value(plc.get_json(&format!("/{did}/log/last")).await).unwrap();
    assert_eq!(last, genesis);

    // An update: new handle and PDS.
    let second = data(
        "alice.other.org",
        "https://pds2.example.net",
        &signing,
        &[&rotation],
    );
    let update = Operation::update(&genesis, second.clone(), &rotation);
    plc.accept(did.as_str(), &update).await;
    let doc = resolver(&plc).resolve_did(&did).await.unwrap();
    assert_eq!(doc, second.to_did_document(&did));

    let log: Vec<Operation> =
        serde_json::from_value(plc.get_json(&format!("/{did}/log")).await).unwrap();
    assert_eq!(log, vec![genesis.clone(), update.clone()]);
    let audit = plc.audit(did.as_str()).await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1].cid, update.cid().to_string());
    assert_eq!(
        verify_audit_log(&did, &audit),
        Ok(PlcState::Active(second.clone()))
    );
    let last: Operation =
        serde_json::from_value(plc.get_json(&format!("/{did}/log/last")).await).unwrap();
    assert_eq!(last, update);

    // Health.
    let health = plc.get_json("/_health").await;
    assert!(health["version"].is_string());
}

/// A DID whose rotation keys are `[recovery, rotation]`, created by
/// `rotation`, then moved away (`stolen`) by `rotation` alone.
struct Hijacked {
    recovery: Keypair,
    rotation: Keypair,
    signing: Keypair,
    good: PlcData,
    bad: PlcData,
    genesis: Operation,
    stolen: Operation,
    did: Did,
}

async fn hijacked(plc: &Plc, seed: u8, handle: &str) -> Hijacked {
    let (recovery, rotation, signing) = (key(seed), key(seed + 1), key(seed + 2));
    let good = data(handle, PDS, &signing, &[&recovery, &rotation]);
    let (genesis, did) = Operation::genesis(good.clone(), &rotation);
    plc.accept(did.as_str(), &genesis).await;
    let bad = data(
        "mallory.example.com",
        "https://evil.example",
        &signing,
        &[&rotation],
    );
    let stolen = Operation::update(&genesis, bad.clone(), &rotation);
    plc.accept(did.as_str(), &stolen).await;
    Hijacked {
        recovery,
        rotation,
        signing,
        good,
        bad,
        genesis,
        stolen,
        did,
    }
}

#[tokio::test]
async fn recovery_key_forks_within_the_window() {
    let dir = temp_dir("fork");
    let plc = Plc::start(&dir);
    // The lower-priority key moves the account twice...
    let Hijacked {
        recovery,
        rotation,
        good,
        bad,
        genesis,
        stolen,
        did,
        ..
    } = hijacked(&plc, 11, "bob.example.com").await;
    let after = Operation::update(&stolen, bad, &rotation);
    plc.accept(did.as_str(), &after).await;

    // ...a fork by the same key is refused...
    let same_key = Operation::update(&genesis, good.clone(), &rotation);
    let (status, message) = plc.submit(did.as_str(), &same_key).await;
    assert_eq!(
        (status, message.contains("signature")),
        (400, true),
        "{message}"
    );

    // ...and the recovery key takes it back from the genesis.
    let recovered = Operation::update(&genesis, good.clone(), &recovery);
    plc.accept(did.as_str(), &recovered).await;
    let doc = resolver(&plc).resolve_did(&did).await.unwrap();
    assert_eq!(doc, good.to_did_document(&did));

    let audit = plc.audit(did.as_str()).await;
    let flags: Vec<bool> = audit.iter().map(|e| e.nullified).collect();
    assert_eq!(flags, vec![false, true, true, false]);
    assert_eq!(
        verify_audit_log(&did, &audit),
        Ok(PlcState::Active(good.clone()))
    );
    let log: Vec<Operation> =
        serde_json::from_value(plc.get_json(&format!("/{did}/log")).await).unwrap();
    assert_eq!(log, vec![genesis, recovered.clone()]);

    // Building on a nullified operation is refused.
    let on_nullified = Operation::update(&after, good.clone(), &recovery);
    let (status, message) = plc.submit(did.as_str(), &on_nullified).await;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("not an operation of the current history"),
        "{message}"
    );
    assert_eq!(plc.audit(did.as_str()).await.len(), 4, "nothing written");
}

#[tokio::test]
async fn a_fork_after_72_hours_is_refused() {
    let dir = temp_dir("late");
    let mut plc = Plc::start(&dir);
    let Hijacked {
        recovery,
        good,
        genesis,
        did,
        ..
    } = hijacked(&plc, 21, "carol.example.com").await;

    // 72 hours and a minute pass: move the stored times back (the server
    // is stopped; the store keeps times in milliseconds).
    plc.stop();
    let db = rusqlite::Connection::open(dir.join("plc.sqlite")).unwrap();
    let shift = RECOVERY_WINDOW_MS + 60_000;
    let moved = db
        .execute(
            "UPDATE operations SET created_at = created_at - ?1 WHERE did = ?2",
            rusqlite::params![shift, did.as_str()],
        )
        .unwrap();
    assert_eq!(moved, 2);
    drop(db);
    let plc = Plc::start(&dir);

    let recovered = Operation::update(&genesis, good, &recovery);
    let (status, message) = plc.submit(did.as_str(), &recovered).await;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("after the operation it nullifies"),
        "{message}"
    );
    let audit = plc.audit(did.as_str()).await;
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|e| !e.nullified));
}

#[tokio::test]
async fn a_tombstone_makes_the_did_gone() {
    let dir = temp_dir("tomb");
    let plc = Plc::start(&dir);
    let rotation = key(31);
    let first = data("dan.example.com", PDS, &key(32), &[&rotation]);
    let (genesis, did) = Operation::genesis(first.clone(), &rotation);
    plc.accept(did.as_str(), &genesis).await;
    let tombstone = Operation::tombstone(&genesis, &rotation);
    plc.accept(did.as_str(), &tombstone).await;

    for path in [format!("/{did}"), format!("/{did}/data")] {
        let (status, body) = plc.get(&path).await;
        assert_eq!(status, 410, "{path}");
        assert_eq!(support::message(&body), format!("DID not available: {did}"));
    }
    let err = resolver(&plc).resolve_did(&did).await.unwrap_err();
    assert!(matches!(err, ResolveError::Deactivated(_)), "{err}");
    let last: Operation =
        serde_json::from_value(plc.get_json(&format!("/{did}/log/last")).await).unwrap();
    assert_eq!(last, tombstone);
    assert_eq!(
        verify_audit_log(&did, &plc.audit(did.as_str()).await),
        Ok(PlcState::Tombstoned)
    );

    // Nothing follows a tombstone.
    let revive = Operation::update(&tombstone, first, &rotation);
    let (status, message) = plc.submit(did.as_str(), &revive).await;
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("tombstone"), "{message}");
}

/// `sig` with `s` replaced by `n - s` (the high-S twin of a valid signature).
fn high_s(op: &Operation) -> Operation {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let mut sig = URL_SAFE_NO_PAD.decode(op.sig()).unwrap();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(sig[32 + i]) - borrow;
        sig[32 + i] = (d & 0xff) as u8;
        borrow = i16::from(d < 0);
    }
    with_sig(op, URL_SAFE_NO_PAD.encode(sig))
}

fn with_sig(op: &Operation, sig: String) -> Operation {
    let mut value = serde_json::to_value(op).unwrap();
    value["sig"] = Value::String(sig);
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn every_refusal_has_its_status_and_writes_nothing() {
    let dir = temp_dir("refuse");
    let plc = Plc::start(&dir);
    let rotation = key(41);
    let signing = key(42);
    let stranger = key(43);
    let first = data("erin.example.com", PDS, &signing, &[&rotation]);
    let (genesis, did) = Operation::genesis(first.clone(), &rotation);
    let (other_genesis, _) = Operation::genesis(
        data("frank.example.com", PDS, &signing, &[&rotation]),
        &rotation,
    );
    let d = did.as_str();

    // Unknown DIDs: 404 on every read.
    for path in ["", "/data", "/log", "/log/audit", "/log/last"] {
        let (status, body) = plc.get(&format!("/{did}{path}")).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            support::message(&body),
            format!("DID not registered: {did}")
        );
    }

    // Genesis refusals.
    let refusals: Vec<(&str, Operation, &str)> = vec![
        (
            "genesis for another DID",
            other_genesis.clone(),
            "hashes to",
        ),
        (
            "high-S signature",
            high_s(&genesis),
            "signature is not valid",
        ),
        (
            "signed by a key not among its rotation keys",
            Operation::genesis(first.clone(), &stranger).0,
            "signature is not valid",
        ),
        (
            "an update before any genesis",
            Operation::update(&other_genesis, first.clone(), &rotation),
            "hashes to",
        ),
        (
            "a tombstone first",
            Operation::tombstone(&genesis, &rotation),
            "not a genesis",
        ),
    ];
    for (what, op, needle) in &refusals {
        let (status, message) = plc.submit(d, op).await;
        assert_eq!(status, 400, "{what}: {message}");
        assert!(message.contains(needle), "{what}: {message}");
    }
    // The DID in the path must be did:plc's form.
    let (status, message) = plc.submit("did:plc:short", &genesis).await;
    assert_eq!(
        (status, message.as_str()),
        (400, "Improperly formatted did: did:plc:short")
    );
    let (status, _) = plc.get(&format!("/{d}")).await;
    assert_eq!(status, 404, "nothing was written");

    plc.accept(d, &genesis).await;

    // Update refusals.
    let second = data("erin2.example.com", PDS, &signing, &[&rotation]);
    let good = Operation::update(&genesis, second.clone(), &rotation);
    // Signed by a valid key; only `prev` (another DID's genesis) is wrong.
    let wrong_prev = Operation::update(&other_genesis, second.clone(), &rotation);
    let refusals: Vec<(&str, Operation, &str)> = vec![
        (
            "prev not in the log",
            wrong_prev,
            "not an operation of the current history",
        ),
        (
            "signed by a stranger",
            Operation::update(&genesis, second.clone(), &stranger),
            "signature is not valid",
        ),
        ("high-S update", high_s(&good), "signature is not valid"),
        (
            "a second genesis",
            genesis.clone(),
            "not an operation of the current history",
        ),
        (
            "a tampered operation",
            with_sig(
                &good,
                Operation::update(&genesis, first.clone(), &rotation)
                    .sig()
                    .to_owned(),
            ),
            "signature is not valid",
        ),
        (
            "a tombstone signed by a stranger",
            Operation::Tombstone(Tombstone {
                prev: genesis.cid().to_string(),
                sig: Operation::tombstone(&genesis, &stranger).sig().to_owned(),
            }),
            "signature is not valid",
        ),
    ];
    for (what, op, needle) in &refusals {
        let (status, message) = plc.submit(d, op).await;
        assert_eq!(status, 400, "{what}: {message}");
        assert!(message.contains(needle), "{what}: {message}");
    }

    // Malformed and oversized bodies.
    let mut eleven = second.clone();
    eleven.also_known_as = (0..11).map(|i| format!("at://h{i}.example.com")).collect();
    let mut big = second.clone();
    for i in 0..9 {
        big.services.insert(
            format!("svc{i}"),
            atproto_xrpc::identity::PlcService {
                type_: "T".repeat(200),
                endpoint: format!("https://{}", "e".repeat(480)),
            },
        );
    }
    let op_json = |op: &Operation| serde_json::to_vec(op).unwrap();
    let mut unknown_field = serde_json::to_value(&good).unwrap();
    unknown_field["extra"] = json!(1);
    let legacy = json!({
        "type": "create", "signingKey": signing.public_key().to_did_key(),
        "recoveryKey": rotation.public_key().to_did_key(), "handle": "x.test",
        "service": PDS, "prev": null, "sig": "AAAA",
    });
    let bodies: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not JSON", b"{nope".to_vec(), 400, "Not a valid operation"),
        (
            "an unknown field",
            serde_json::to_vec(&unknown_field).unwrap(),
            400,
            "Not a valid operation",
        ),
        (
            "an unknown type",
            br#"{"type":"plc_other","prev":null,"sig":"x"}"#.to_vec(),
            400,
            "Not a valid operation",
        ),
        (
            "a legacy create",
            serde_json::to_vec(&legacy).unwrap(),
            400,
            "only plc_operation and plc_tombstone",
        ),
        (
            "eleven alsoKnownAs",
            op_json(&Operation::update(&genesis, eleven, &rotation)),
            400,
            "too many alsoKnownAs",
        ),
        (
            "over 4000 bytes of CBOR",
            op_json(&Operation::update(&genesis, big, &rotation)),
            400,
            "operation too large",
        ),
        (
            "over 16 KiB of JSON",
            vec![b' '; 20 * 1024],
            400,
            "is 20480 bytes",
        ),
        ("over 64 KiB of body", vec![b' '; 70 * 1024], 413, ""),
    ];
    for (what, body, want, needle) in bodies {
        let (status, body) = plc.post_bytes(&format!("/{d}"), body).await;
        let message = support::message(&body);
        assert_eq!(status, want, "{what}: {message}");
        assert!(message.contains(needle), "{what}: {message}");
    }

    // Nothing was written by any of them; the good update still goes in.
    assert_eq!(plc.audit(d).await.len(), 1);
    plc.accept(d, &good).await;
    assert_eq!(
        verify_audit_log(&did, &plc.audit(d).await),
        Ok(PlcState::Active(second))
    );
}

#[tokio::test]
async fn racing_updates_on_one_prev_land_once() {
    let dir = temp_dir("race");
    let plc = std::sync::Arc::new(Plc::start(&dir));
    let rotation = key(51);
    let signing = key(52);
    let (genesis, did) = Operation::genesis(
        data("gina.example.com", PDS, &signing, &[&rotation]),
        &rotation,
    );
    plc.accept(did.as_str(), &genesis).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let op = Operation::update(
            &genesis,
            data(&format!("gina{i}.example.com"), PDS, &signing, &[&rotation]),
            &rotation,
        );
        let plc = std::sync::Arc::clone(&plc);
        let did = did.clone();
        tasks.push(tokio::spawn(async move {
            plc.submit(did.as_str(), &op).await.0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);
    let audit = plc.audit(did.as_str()).await;
    assert_eq!(audit.len(), 2);
    assert!(verify_audit_log(&did, &audit).is_ok());
}

#[tokio::test]
async fn a_restart_keeps_everything() {
    let dir = temp_dir("restart");
    let mut plc = Plc::start(&dir);
    let Hijacked {
        recovery,
        rotation,
        signing,
        good,
        genesis,
        did,
        ..
    } = hijacked(&plc, 61, "hal.example.com").await;
    let recovered = Operation::update(&genesis, good.clone(), &recovery);
    plc.accept(did.as_str(), &recovered).await;
    let (tomb_genesis, tomb_did) = Operation::genesis(
        data("ivy.example.com", PDS, &signing, &[&rotation]),
        &rotation,
    );
    plc.accept(tomb_did.as_str(), &tomb_genesis).await;
    plc.accept(
        tomb_did.as_str(),
        &Operation::tombstone(&tomb_genesis, &rotation),
    )
    .await;

    let audit = plc.audit(did.as_str()).await;
    let (_, export) = plc.get("/export").await;
    plc.stop();

    let plc = Plc::start(&dir);
    assert_eq!(plc.audit(did.as_str()).await, audit);
    assert_eq!(plc.get("/export").await.1, export);
    let doc = resolver(&plc).resolve_did(&did).await.unwrap();
    assert_eq!(doc, good.to_did_document(&did));
    assert_eq!(plc.get(&format!("/{tomb_did}")).await.0, 410);
    // The chain goes on from where it was.
    let next = data("hal2.example.com", PDS, &signing, &[&recovery, &rotation]);
    plc.accept(
        did.as_str(),
        &Operation::update(&recovered, next.clone(), &rotation),
    )
    .await;
    assert_eq!(
        verify_audit_log(&did, &plc.audit(did.as_str()).await),
        Ok(PlcState::Active(next))
    );
}

/// `/export` as lines of JSON.
async fn export(plc: &Plc, query: &str) -> Vec<Value> {
    let (status, body) = plc.get(&format!("/export{query}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn export_pages_by_time_and_by_seq() {
    let dir = temp_dir("export");
    let plc = Plc::start(&dir);
    let rotation = key(71);
    let signing = key(72);
    let mut cids = Vec::new();
    for i in 0..5 {
        let (genesis, did) = Operation::genesis(
            data(&format!("user{i}.example.com"), PDS, &signing, &[&rotation]),
            &rotation,
        );
        plc.accept(did.as_str(), &genesis).await;
        cids.push(genesis.cid().to_string());
        let update = Operation::update(
            &genesis,
            data(
                &format!("user{i}b.example.com"),
                PDS,
                &signing,
                &[&rotation],
            ),
            &rotation,
        );
        plc.accept(did.as_str(), &update).await;
        cids.push(update.cid().to_string());
    }

    let all = export(&plc, "").await;
    let got: Vec<&str> = all.iter().map(|l| l["cid"].as_str().unwrap()).collect();
    assert_eq!(got, cids);
    let first = &all[0];
    assert_eq!(first["nullified"], false);
    assert!(first["did"].as_str().unwrap().starts_with("did:plc:"));
    let op: Operation = serde_json::from_value(first["operation"].clone()).unwrap();
    assert_eq!(op.cid().to_string(), cids[0]);
    let (_, body) = plc.get("/export").await;
    assert!(
        !body.ends_with(b"\n"),
        "lines are separated, not terminated"
    );

    // Paging by createdAt, three at a time.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let query = if after.is_empty() {
            "?count=3".to_owned()
        } else {
            format!("?count=3&after={after}")
        };
        let page = export(&plc, &query).await;
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last["createdAt"].as_str().unwrap().to_owned();
        paged.extend(page.iter().map(|l| l["cid"].as_str().unwrap().to_owned()));
    }
    assert_eq!(paged, cids);
    let times: BTreeSet<&str> = all
        .iter()
        .map(|l| l["createdAt"].as_str().unwrap())
        .collect();
    assert_eq!(
        times.len(),
        all.len(),
        "createdAt is unique: paging cannot skip"
    );

    // Paging by seq.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = export(&plc, &format!("?count=4&after={after}")).await;
        let Some(last) = page.last() else { break };
        for line in &page {
            assert_eq!(line["type"], "sequenced_op");
        }
        after = last["seq"].as_i64().unwrap();
        paged.extend(page.iter().map(|l| l["cid"].as_str().unwrap().to_owned()));
    }
    assert_eq!(paged, cids);

    // A count over 1000 is cut to 1000; bad parameters are 400.
    assert_eq!(export(&plc, "?count=5000").await.len(), 10);
    for query in ["?count=0", "?count=-1", "?count=x", "?after=yesterday"] {
        let (status, body) = plc.get(&format!("/export{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(support::message(&body).starts_with("Invalid"), "{query}");
    }
    let (status, _) = plc.get("/export?after=2999-01-01T00:00:00Z").await;
    assert_eq!(status, 200);
}
