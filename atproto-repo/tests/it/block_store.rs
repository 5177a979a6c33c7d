//! Block stores: forwarding through `&mut S` and `Box<S>`, batched writes,
//! and failures that keep their cause.

use std::cell::Cell;
use std::error::Error;

use atproto_core::Cid;
use atproto_core::crypto::{Curve, Keypair};
use atproto_core::data::{Value, dag_cbor_cid};
use atproto_core::syntax::{Did, Nsid, RecordKey};
use atproto_repo::repo::{RecordValue, RecordWrite, Repo, RepoError};
use atproto_repo::sync::{ProofError, verify_commit_proof_unsigned};
use atproto_repo::{BlockStore, MemoryBlockStore, Mst, MstError, StoreError};
use bytes::Bytes;

use super::mst::p;

/// A memory store that counts calls to each method. `has` and `put_many`
/// are its own (not the trait's defaults), so a wrapper that falls back to
/// a default instead of forwarding shows up in the counts.
#[derive(Debug, Default)]
struct CountingStore {
    blocks: MemoryBlockStore,
    gets: Cell<usize>,
    has: Cell<usize>,
    puts: usize,
    put_manys: usize,
    batched_blocks: usize,
}

impl BlockStore for CountingStore {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        self.blocks.get(cid)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.has.set(self.has.get() + 1);
        self.blocks.has(cid)
    }

    fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), StoreError> {
        self.puts += 1;
        self.blocks.put(cid, block)
    }

    fn put_many(
        &mut self,
        blocks: &mut dyn Iterator<Item = (Cid, Bytes)>,
    ) -> Result<(), StoreError> {
        self.put_manys += 1;
        for (cid, block) in blocks {
            self.batched_blocks += 1;
            self.blocks.put(cid, block)?;
        }
        Ok(())
    }
}

/// Calls every method once through `store`.
fn call_each<S: BlockStore>(mut store: S) {
    let block = Bytes::from_static(b"\xa0");
    let cid = dag_cbor_cid(&block);
    store.put(cid, block.clone()).unwrap();
    store
        .put_many(&mut [(cid, block.clone()), (cid, block)].into_iter())
        .unwrap();
    assert!(store.get(&cid).unwrap().is_some());
    assert!(store.has(&cid).unwrap());
}

#[test]
fn wrappers_forward_every_method() {
    let counts = |s: &CountingStore| (s.gets.get(), s.has.get(), s.puts, s.put_manys);
    let mut inner = CountingStore::default();
    call_each(&mut inner);
    assert_eq!(counts(&inner), (1, 1, 1, 1));
    call_each(&mut &mut inner);
    assert_eq!(counts(&inner), (2, 2, 2, 2));
    let mut boxed = Box::new(inner);
    call_each(&mut boxed);
    assert_eq!(counts(&boxed), (3, 3, 3, 3));
    // A boxed trait object is a store too (the trait is object safe).
    let mut object: Box<dyn BlockStore> = Box::new(MemoryBlockStore::new());
    call_each(&mut object);
    call_each(object);
}

fn key() -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[7; 32]).unwrap()
}

fn did() -> Did {
    "did:plc:7iza6de2dwap2sbkpav7c6c6".parse().unwrap()
}

fn create(i: u32) -> RecordWrite {
    let mut m = std::collections::BTreeMap::new();
    m.insert("$type".into(), Value::String("app.bsky.feed.post".into()));
    m.insert("text".into(), Value::String(format!("post {i}")));
    RecordWrite::Create {
        collection: "app.bsky.feed.post".parse::<Nsid>().unwrap(),
        rkey: RecordKey::try_from(format!("r{i:04}")).unwrap(),
        value: RecordValue::Value(Value::Map(m)),
    }
}

const NOW: u64 = 1_750_000_000_000_000;

/// A repository over `&mut CountingStore` writes each commit with exactly
/// one batched call and no single puts: the `&mut` wrapper forwards
/// `put_many` to the backend's own.
#[test]
fn one_batched_write_per_commit_through_a_mutable_reference() {
    let mut store = CountingStore::default();
    let k = key();
    let writes: Vec<RecordWrite> = (0..50).map(create).collect();
    let (mut repo, first) = Repo::create_at(&mut store, did(), &k, &writes, NOW).unwrap();
    let mut blocks = first.blocks.len();
    for round in 0..3u32 {
        let batch: Vec<RecordWrite> = (0..5).map(|i| create(100 + round * 10 + i)).collect();
        let data = repo
            .apply_writes_at(&batch, &k, NOW + u64::from(round) + 1)
            .unwrap();
        blocks += data.blocks.len();
    }
    drop(repo);
    assert_eq!(store.put_manys, 4, "one put_many per commit");
    assert_eq!(store.puts, 0, "no block written one by one");
    assert_eq!(store.batched_blocks, blocks);

    // The same through a box, which the repository owns.
    let (mut repo, _) =
        Repo::create_at(Box::new(CountingStore::default()), did(), &k, &writes, NOW).unwrap();
    repo.apply_writes_at(&[create(999)], &k, NOW + 1).unwrap();
    let store = repo.into_store();
    assert_eq!((store.put_manys, store.puts), (2, 0));
}

/// A store whose backend always fails with an I/O error.
#[derive(Debug)]
struct BrokenStore;

impl BlockStore for BrokenStore {
    fn get(&self, _: &Cid) -> Result<Option<Bytes>, StoreError> {
        Err(StoreError::backend(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "disk says no",
        )))
    }

    fn put(&mut self, _: Cid, _: Bytes) -> Result<(), StoreError> {
        Err(StoreError::backend("read-only medium"))
    }
}

/// `err` and its `source` chain, in order.
fn chain<'a>(err: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&e| e.source()).collect()
}

#[test]
fn store_failures_keep_their_cause() {
    let root = dag_cbor_cid(b"\xa0");
    // Mst → StoreError → io::Error.
    let err = Mst::load(BrokenStore, root).unwrap_err();
    assert!(
        matches!(err, MstError::Store(StoreError::Backend { .. })),
        "{err}"
    );
    let links = chain(&err);
    assert_eq!(links.len(), 3, "{links:?}");
    assert!(links[1].is::<StoreError>());
    let io = links[2].downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    // The message alone still says what happened.
    assert!(err.to_string().contains("disk says no"), "{err}");

    // RepoError → MstError → StoreError → io::Error.
    let err = Repo::open(BrokenStore, root).unwrap_err();
    assert!(matches!(err, RepoError::Store(_)), "{err}");
    let links = chain(&err);
    assert!(links[1].is::<StoreError>(), "{links:?}");
    assert!(links.last().unwrap().is::<std::io::Error>());
    let mut mst = Mst::with_store(BrokenStore);
    mst.insert(&p("a/b"), root).unwrap();
    let err = RepoError::from(mst.persist().unwrap_err());
    let links = chain(&err);
    assert_eq!(links.len(), 4, "{links:?}");
    assert!(links[1].is::<MstError>() && links[2].is::<StoreError>());
    assert_eq!(links[3].to_string(), "read-only medium");

    // A batch the store refuses leaves the repository as it was, and the
    // error leads to the backend's.
    let mut store = FlakyStore::default();
    let k = key();
    let writes: Vec<RecordWrite> = (0..20).map(create).collect();
    let (mut repo, _) = Repo::create_at(&mut store, did(), &k, &writes, NOW).unwrap();
    let before = (repo.commit_cid(), repo.data_root(), repo.rev());
    repo.store().fail.set(true);
    let err = repo
        .apply_writes_at(&[create(100)], &k, NOW + 1)
        .unwrap_err();
    assert!(matches!(err, RepoError::Store(_)), "{err}");
    let io = chain(&err).last().unwrap().downcast_ref::<std::io::Error>();
    assert_eq!(io.unwrap().to_string(), "transaction aborted");
    assert_eq!((repo.commit_cid(), repo.data_root(), repo.rev()), before);
    repo.store().fail.set(false);
    let data = repo.apply_writes_at(&[create(100)], &k, NOW + 2).unwrap();
    assert_eq!(data.prev_data, Some(before.1));
    let car = repo.export_car(Vec::new()).unwrap();
    let v = atproto_repo::verify_car(car.into(), Some(&did()), &k.public_key()).unwrap();
    assert_eq!(v.record_count(), 21);
}

/// A memory store whose batched writes fail while `fail` is set.
#[derive(Debug, Default)]
struct FlakyStore {
    blocks: MemoryBlockStore,
    fail: Cell<bool>,
}

impl BlockStore for FlakyStore {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        self.blocks.get(cid)
    }

    fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), StoreError> {
        self.blocks.put(cid, block)
    }

    fn put_many(
        &mut self,
        blocks: &mut dyn Iterator<Item = (Cid, Bytes)>,
    ) -> Result<(), StoreError> {
        if self.fail.get() {
            return Err(StoreError::backend(std::io::Error::other(
                "transaction aborted",
            )));
        }
        self.blocks.put_many(blocks)
    }
}

#[test]
fn proof_errors_expose_what_they_wrap() {
    let k = key();
    let (mut repo, _) =
        Repo::create_at(MemoryBlockStore::new(), did(), &k, &[create(1)], NOW).unwrap();
    let data = repo.apply_writes_at(&[create(2)], &k, NOW + 1).unwrap();
    let prev = data.prev_data.unwrap();
    let slice = data.car_slice().unwrap();
    // A cut slice: ProofError::Car → CarError.
    let err =
        verify_commit_proof_unsigned(slice[..slice.len() - 3].to_vec(), &data.ops, &prev, &did())
            .unwrap_err();
    assert!(matches!(err, ProofError::Car(_)), "{err}");
    let car = err
        .source()
        .unwrap()
        .downcast_ref::<atproto_repo::CarError>();
    assert!(car.unwrap().is_truncated());
    // A slice without the new root node: ProofError::Mst → MstError.
    let kept: Vec<(Cid, Bytes)> = atproto_repo::CarReader::new(slice)
        .unwrap()
        .map(Result::unwrap)
        .filter(|(c, _)| *c != data.data)
        .collect();
    let without_root = atproto_repo::sync::write_car_slice(
        &data.cid,
        kept.iter().map(|(c, b)| (c, &b[..])),
        data.ops.len(),
    )
    .unwrap();
    let err = verify_commit_proof_unsigned(without_root, &data.ops, &prev, &did()).unwrap_err();
    assert!(err.is_missing_block(), "{err}");
    let mst = err.source().unwrap().downcast_ref::<MstError>().unwrap();
    assert!(matches!(mst, MstError::MissingBlock { cid } if **cid == data.data));
}
