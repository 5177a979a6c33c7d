//! The database: pragmas, migrations, the block store inside a
//! transaction, the event log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use atproto_core::crypto::{Curve, Keypair};
use atproto_core::syntax::Did;
use atproto_firehose::producer::{EventLog, Sequencer, SequencerConfig, StoredEvent};
use atproto_firehose::{AccountMessage, Frame};
use atproto_repo::{BlockStore, Repo};
use bytes::Bytes;
use pds::store::blocks::SqlBlockStore;
use pds::store::events::SqlEventLog;
use pds::store::{Database, schema};

#[test]
fn the_database_is_wal_durable_and_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, conn) = Database::open(dir.path()).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::MIGRATIONS.len() as i64);
    let reader = db.connect(true).unwrap();
    assert!(
        reader.execute("DELETE FROM account", []).is_err(),
        "readers are query_only"
    );
    drop((conn, reader));
    // Opening again applies nothing and keeps the data.
    let (_, conn) = Database::open(dir.path()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::MIGRATIONS.len() as i64);
    // A database from a newer server is refused.
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Database::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("newer"), "{err}");
}

#[test]
fn a_repo_lives_in_the_transaction_it_was_written_in() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut conn) = Database::open(dir.path()).unwrap();
    let did: Did = "did:plc:blocks".parse().unwrap();
    let key = Keypair::generate(Curve::K256);

    // Rolled back: nothing stays.
    let tx = conn.transaction().unwrap();
    Repo::create(SqlBlockStore::new(&tx, 1), did.clone(), &key, &[]).unwrap();
    drop(tx);
    let count: i64 = conn
        .query_row("SELECT count(*) FROM repo_block", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0);

    // Committed: the repo opens from its head, for this account only.
    let tx = conn.transaction().unwrap();
    let (_, data) = Repo::create(SqlBlockStore::new(&tx, 1), did.clone(), &key, &[]).unwrap();
    tx.commit().unwrap();
    let repo = Repo::open(SqlBlockStore::new(&conn, 1), data.cid).unwrap();
    assert_eq!(repo.did(), &did);
    assert!(SqlBlockStore::new(&conn, 1).has(&data.cid).unwrap());
    assert!(!SqlBlockStore::new(&conn, 2).has(&data.cid).unwrap());
    assert!(Repo::open(SqlBlockStore::new(&conn, 2), data.cid).is_err());
}

fn account(did: &str) -> Frame {
    Frame::Account(AccountMessage {
        seq: 0,
        did: did.into(),
        time: "2024-01-01T00:00:00.000Z".into(),
        active: true,
        status: None,
        extra: Default::default(),
    })
}

#[test]
fn the_event_table_is_an_event_log_a_sequencer_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _conn) = Database::open(dir.path()).unwrap();
    let reads = Arc::new(db.read_pool(2).unwrap());
    let log = SqlEventLog::new(&db, Arc::clone(&reads)).unwrap();
    assert_eq!(log.last_seq().unwrap(), None);
    assert_eq!(log.trimmed_through().unwrap(), 0);

    let sequencer = Sequencer::new(log.clone(), SequencerConfig::default()).unwrap();
    for i in 0..5 {
        assert_eq!(
            sequencer
                .publish(account(&format!("did:plc:e{i}")))
                .unwrap(),
            i + 1
        );
    }
    assert_eq!(log.last_seq().unwrap(), Some(5));
    let page = log.read_after(2, 2).unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    let Frame::Account(m) = Frame::decode(&page[0].frame).unwrap() else {
        panic!("not #account")
    };
    assert_eq!((m.seq, m.did.as_str()), (3, "did:plc:e2"));
    let did: Option<String> = reads.with(|c| {
        c.query_row("SELECT did FROM event WHERE seq = 3", [], |r| r.get(0))
            .unwrap()
    });
    assert_eq!(did.as_deref(), Some("did:plc:e2"));
    let t = page[0].sequenced_at_ms;
    // The first event stamped at or after seq 3's time.
    let first = log.first_since(t).unwrap().unwrap();
    assert!(first <= 3);
    assert!(log.read_after(first - 1, 1).unwrap()[0].sequenced_at_ms >= t);
    assert_eq!(log.first_since(i64::MAX).unwrap(), None);
    assert_eq!(log.first_since(0).unwrap(), Some(1));

    // A seq appended twice is refused.
    let dup = StoredEvent {
        seq: 5,
        sequenced_at_ms: t,
        frame: Bytes::from_static(b"x"),
    };
    assert!(log.append(&[dup]).is_err());

    // A new sequencer continues after the table's last seq.
    sequencer.shutdown();
    drop(sequencer);
    let again = Sequencer::new(log, SequencerConfig::default()).unwrap();
    assert_eq!(again.publish(account("did:plc:e5")).unwrap(), 6);
}
