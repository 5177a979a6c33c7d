//! The repository: an MST of records under a chain of signed commits.
//!
//! [`Repo`] ties an [`Mst`] (paths `<collection>/<rkey>` → record CIDs), the
//! record blocks and the current signed [`Commit`] together in one
//! [`BlockStore`]. A batch of [`RecordWrite`]s becomes one new commit in one
//! pass ([`Repo::apply_writes`]): the records are encoded (or validated)
//! once, only the touched MST nodes are re-hashed, and the returned
//! [`CommitData`] holds every new block, the firehose ops and the sync v1.1
//! proof blocks, so the `#commit` event is built without re-encoding.
//!
//! Export: [`Repo::export_car`] writes the whole repository as a CAR in the
//! streamable order (commit, then the MST in pre-order with each node's
//! records and subtrees in key order); [`Repo::export_car_since`] writes the
//! blocks a holder of an older rev lacks. Import: [`verify_car`] checks a
//! whole CAR in one pass (every hash once, signature, every MST invariant,
//! every record decodable); [`verify_car_unsigned`] does the same without the
//! signature, for CARs whose origin is already trusted.
//!
//! # Decisions
//! - Commits keep `prev` = the previous commit's CID (v3 allows null or a
//!   link). The chain lets [`Repo::export_car_since`] find the tree of an
//!   older rev; it requires the older commits and their MST nodes to stay
//!   in the store (nothing here ever deletes blocks).
//! - Records must be DAG-CBOR maps (`{"$type": ...}` objects); lexicon
//!   validation is the caller's business.
//! - A batch is atomic: every write is checked (path, existence, record
//!   bytes, no path twice) before the tree changes; if a later step fails,
//!   the tree is rolled back.

mod error;
mod export;
mod verify;

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::crypto::{Keypair, PublicKey};
use atproto_core::data::{Limits, Value, cbor, dag_cbor_cid};
use atproto_core::syntax::{Did, Nsid, RecordKey, Tid};
use bytes::Bytes;

pub use error::RepoError;
pub use verify::{VerifiedRepo, verify_car, verify_car_unsigned};

use crate::block_store::{BlockStore, MemoryBlockStore};
use crate::commit::{Commit, UnsignedCommit, next_rev_at};
use crate::mst::Mst;
use crate::record_path::RecordPath;
use crate::sync::{MAX_COMMIT_OPS, Op, OpAction, SliceError, proof_nodes, write_car_slice};

/// A record's content in a write.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecordValue {
    /// A data-model value; encoded once as canonical DAG-CBOR.
    Value(Value),
    /// Canonical DAG-CBOR bytes; validated once (strictly, without building
    /// a value: [`cbor::validate_record`]) and stored as given.
    Cbor(Bytes),
}

impl RecordValue {
    /// Serializes a typed record (any `serde::Serialize`) to DAG-CBOR.
    ///
    /// # Errors
    /// [`RepoError::InvalidRecord`] (with no path) when serialization
    /// fails.
    pub fn serialize<T: serde::Serialize + ?Sized>(record: &T) -> Result<Self, RepoError> {
        cbor::to_vec(record)
            .map(|v| RecordValue::Cbor(Bytes::from(v)))
            .map_err(|error| RepoError::InvalidRecord { path: None, error })
    }

    /// The block: its CID and canonical bytes.
    fn into_block(self, path: &RecordPath) -> Result<(Cid, Bytes), RepoError> {
        let bytes = match self {
            RecordValue::Value(v) => Bytes::from(cbor::encode(&v)),
            RecordValue::Cbor(b) => b,
        };
        cbor::validate_record(&bytes, &Limits::RECORD).map_err(|error| {
            RepoError::InvalidRecord {
                path: Some(path.clone()),
                error,
            }
        })?;
        Ok((dag_cbor_cid(&bytes), bytes))
    }
}

impl From<Value> for RecordValue {
    fn from(v: Value) -> Self {
        RecordValue::Value(v)
    }
}

impl From<Bytes> for RecordValue {
    fn from(b: Bytes) -> Self {
        RecordValue::Cbor(b)
    }
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecordWrite {
    /// A new record; the path must be free.
    Create {
        /// The collection (NSID).
        collection: Nsid,
        /// The record key.
        rkey: RecordKey,
        /// The record.
        value: RecordValue,
    },
    /// A new version of a record; the path must hold one.
    Update {
        /// The collection (NSID).
        collection: Nsid,
        /// The record key.
        rkey: RecordKey,
        /// The record.
        value: RecordValue,
    },
    /// Removes a record; the path must hold one.
    Delete {
        /// The collection (NSID).
        collection: Nsid,
        /// The record key.
        rkey: RecordKey,
    },
}

impl RecordWrite {
    /// The record's path, `<collection>/<rkey>`.
    pub fn path(&self) -> RecordPath {
        let (RecordWrite::Create {
            collection, rkey, ..
        }
        | RecordWrite::Update {
            collection, rkey, ..
        }
        | RecordWrite::Delete { collection, rkey }) = self;
        RecordPath::new(collection, rkey)
    }
}

/// Everything one commit produced, for the PDS's block transaction and its
/// firehose `#commit` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitData {
    /// The commit's CID (`#commit.commit`).
    pub cid: Cid,
    /// The signed commit.
    pub commit: Commit,
    /// The commit's block bytes.
    pub commit_block: Bytes,
    /// The commit's rev (`#commit.rev`).
    pub rev: Tid,
    /// The previous commit's rev (`#commit.since`), `None` for the first.
    pub since: Option<Tid>,
    /// The previous MST root (`#commit.prevData`), `None` for the first.
    pub prev_data: Option<Cid>,
    /// The new MST root (the commit's `data`).
    pub data: Cid,
    /// The operations, in the batch's order (`#commit.ops`).
    pub ops: Vec<Op>,
    /// The new blocks, all persisted: the commit, then the new MST nodes,
    /// then the new record blocks.
    pub blocks: Vec<(Cid, Bytes)>,
    /// The unchanged MST nodes inversion needs (the covering proof minus the
    /// new nodes). Empty when the commit has more than [`MAX_COMMIT_OPS`]
    /// ops, since it cannot travel in a `#commit` event then.
    pub proof_blocks: Vec<(Cid, Bytes)>,
    /// How many of `blocks` (after the commit) are MST nodes.
    pub node_count: usize,
}

impl CommitData {
    /// The `#commit.blocks` CAR slice: root the commit; the commit block,
    /// the new MST nodes, the proof nodes, the new records.
    ///
    /// # Errors
    /// [`SliceError::TooManyOps`] or [`SliceError::TooLarge`] when the commit
    /// exceeds the firehose limits (emit `#sync` instead).
    pub fn car_slice(&self) -> Result<Vec<u8>, SliceError> {
        let nodes_end = 1 + self.node_count;
        let order = self.blocks[..nodes_end.min(self.blocks.len())]
            .iter()
            .chain(&self.proof_blocks)
            .chain(self.blocks.get(nodes_end..).unwrap_or_default())
            .map(|(c, b)| (c, &b[..]));
        write_car_slice(&self.cid, order, self.ops.len())
    }
}

/// A repository over a block store.
#[derive(Debug, Clone)]
pub struct Repo<S: BlockStore> {
    mst: Mst<S>,
    commit: Commit,
    cid: Cid,
}

/// One write checked and encoded, ready to apply.
struct Prepared {
    op: Op,
    record: Option<(Cid, Bytes)>,
}

impl<S: BlockStore> Repo<S> {
    /// Creates a repository for `did` holding `writes` (creates only make
    /// sense here), signs its first commit with `keypair`, and persists every
    /// block into `store`. The rev comes from the system clock.
    ///
    /// # Errors
    /// As [`Repo::apply_writes`].
    #[cfg(feature = "std")]
    pub fn create(
        store: S,
        did: Did,
        keypair: &Keypair,
        writes: &[RecordWrite],
    ) -> Result<(Self, CommitData), RepoError> {
        Self::create_at(store, did, keypair, writes, Tid::now().timestamp_micros())
    }

    /// As [`Repo::create`], with the clock given (microseconds since the
    /// Unix epoch) for `no_std` and tests.
    ///
    /// # Errors
    /// As [`Repo::apply_writes`].
    pub fn create_at(
        store: S,
        did: Did,
        keypair: &Keypair,
        writes: &[RecordWrite],
        now_micros: u64,
    ) -> Result<(Self, CommitData), RepoError> {
        let mut mst = Mst::with_store(store);
        let data = commit_batch(&mut mst, &did, None, writes, keypair, now_micros)?;
        let repo = Repo {
            mst,
            commit: data.commit.clone(),
            cid: data.cid,
        };
        Ok((repo, data))
    }

    /// Opens the repository whose current commit is `commit_cid` in `store`.
    /// Only the commit and the MST root are read now; other nodes are read
    /// (and checked) on demand.
    ///
    /// # Errors
    /// [`RepoError::MissingCommit`], a commit that does not decode, or an
    /// MST root that cannot be loaded.
    pub fn open(store: S, commit_cid: Cid) -> Result<Self, RepoError> {
        let commit = read_commit(&store, &commit_cid)?;
        let mst = Mst::load(store, commit.data)?;
        Ok(Repo {
            mst,
            commit,
            cid: commit_cid,
        })
    }

    /// Applies `writes` as one new signed commit (rev from the system clock).
    ///
    /// # Errors
    /// [`RepoError::RecordExists`] (create on a taken path),
    /// [`RepoError::RecordNotFound`] (update/delete of a free path),
    /// [`RepoError::DuplicatePath`], [`RepoError::InvalidRecord`], an MST
    /// node that cannot be loaded ([`RepoError::Mst`]), or a store failure.
    /// The repository is unchanged after any error.
    #[cfg(feature = "std")]
    pub fn apply_writes(
        &mut self,
        writes: &[RecordWrite],
        keypair: &Keypair,
    ) -> Result<CommitData, RepoError> {
        let now = Tid::now().timestamp_micros();
        self.apply_writes_at(writes, keypair, now)
    }

    /// As [`Repo::apply_writes`], with the clock given (microseconds since
    /// the Unix epoch). The rev is the TID of `now_micros`, or the previous
    /// rev + 1 if that is not greater.
    ///
    /// # Errors
    /// As [`Repo::apply_writes`].
    pub fn apply_writes_at(
        &mut self,
        writes: &[RecordWrite],
        keypair: &Keypair,
        now_micros: u64,
    ) -> Result<CommitData, RepoError> {
        let prev = (&self.commit, self.cid);
        let data = commit_batch(
            &mut self.mst,
            &self.commit.did,
            Some(prev),
            writes,
            keypair,
            now_micros,
        )?;
        self.commit = data.commit.clone();
        self.cid = data.cid;
        Ok(data)
    }

    /// The record at `collection/rkey`: its CID and block.
    ///
    /// # Errors
    /// [`RepoError::MissingRecord`] when the MST names a record the store
    /// lacks; MST and store failures.
    pub fn get_record(
        &self,
        collection: &Nsid,
        rkey: &RecordKey,
    ) -> Result<Option<(Cid, Bytes)>, RepoError> {
        self.get_path(&RecordPath::new(collection, rkey))
    }

    /// The record at a path `<collection>/<rkey>`: its CID and block.
    ///
    /// # Errors
    /// As [`Repo::get_record`].
    pub fn get_path(&self, path: &RecordPath) -> Result<Option<(Cid, Bytes)>, RepoError> {
        let Some(cid) = self.mst.get(path)? else {
            return Ok(None);
        };
        let block = self.mst.store().get(&cid)?;
        match block {
            Some(b) => Ok(Some((cid, b))),
            None => Err(RepoError::MissingRecord {
                path: path.clone(),
                cid: alloc::boxed::Box::new(cid),
            }),
        }
    }

    /// One page of a collection: up to `limit` records with record keys
    /// after the cursor `after` (the record key of the last record of the
    /// previous page), in key order, as `(path, cid, block)`.
    ///
    /// # Errors
    /// As [`Repo::get_record`].
    pub fn list_records(
        &self,
        collection: &Nsid,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<(RecordPath, Cid, Bytes)>, RepoError> {
        let mut out = Vec::new();
        let page = self
            .mst
            .list_collection(collection.as_str(), after.map(RecordKey::as_str));
        for kv in page.take(limit) {
            let (path, cid) = kv?;
            let block = self
                .mst
                .store()
                .get(&cid)?
                .ok_or_else(|| RepoError::MissingRecord {
                    path: path.clone(),
                    cid: alloc::boxed::Box::new(cid),
                })?;
            out.push((path, cid, block));
        }
        Ok(out)
    }

    /// Every record's path and CID, in key order.
    pub fn records(&self) -> impl Iterator<Item = Result<(RecordPath, Cid), RepoError>> + '_ {
        self.mst.iter().map(|kv| kv.map_err(RepoError::from))
    }

    /// The current commit.
    pub fn commit(&self) -> &Commit {
        &self.commit
    }

    /// The current commit's CID.
    pub fn commit_cid(&self) -> Cid {
        self.cid
    }

    /// The repository's DID.
    pub fn did(&self) -> &Did {
        &self.commit.did
    }

    /// The current rev.
    pub fn rev(&self) -> Tid {
        self.commit.rev
    }

    /// The current MST root (the commit's `data`).
    pub fn data_root(&self) -> Cid {
        self.commit.data
    }

    /// The MST.
    pub fn mst(&self) -> &Mst<S> {
        &self.mst
    }

    /// The block store.
    pub fn store(&self) -> &S {
        self.mst.store()
    }

    /// Gives back the block store.
    pub fn into_store(self) -> S {
        self.mst.into_store()
    }
}

impl Repo<MemoryBlockStore> {
    /// Loads a CAR as a repository in memory after [`verify_car`] (every
    /// check, the signature with `key`).
    ///
    /// # Errors
    /// As [`verify_car`].
    pub fn from_car(
        car: Bytes,
        did: Option<&Did>,
        key: &PublicKey,
    ) -> Result<(Self, VerifiedRepo), RepoError> {
        Self::from_verified(verify_car(car, did, key)?)
    }

    /// [`Repo::from_car`] without the signature ([`verify_car_unsigned`]:
    /// read its docs for when that is acceptable); the returned
    /// [`VerifiedRepo::signature`] says
    /// [`NotChecked`](crate::commit::SignatureCheck::NotChecked).
    ///
    /// # Errors
    /// As [`verify_car_unsigned`].
    pub fn from_car_unsigned(
        car: Bytes,
        did: Option<&Did>,
    ) -> Result<(Self, VerifiedRepo), RepoError> {
        Self::from_verified(verify_car_unsigned(car, did)?)
    }

    fn from_verified(verified: VerifiedRepo) -> Result<(Self, VerifiedRepo), RepoError> {
        let store: MemoryBlockStore = verified.blocks().collect();
        let repo = Repo::open(store, verified.commit_cid)?;
        Ok((repo, verified))
    }
}

fn read_commit<S: BlockStore + ?Sized>(store: &S, cid: &Cid) -> Result<Commit, RepoError> {
    let bytes = store.get(cid)?.ok_or_else(|| RepoError::MissingCommit {
        cid: alloc::boxed::Box::new(*cid),
    })?;
    Ok(Commit::decode_bytes(&bytes)?)
}

/// Checks and encodes every write against the current tree.
fn prepare<S: BlockStore>(
    mst: &Mst<S>,
    writes: &[RecordWrite],
) -> Result<Vec<Prepared>, RepoError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(writes.len());
    for w in writes {
        let path = w.path();
        let current = mst.get(&path)?;
        let (action, value) = match w {
            RecordWrite::Create { value, .. } => (OpAction::Create, Some(value)),
            RecordWrite::Update { value, .. } => (OpAction::Update, Some(value)),
            RecordWrite::Delete { .. } => (OpAction::Delete, None),
        };
        match (action, current) {
            (OpAction::Create, Some(_)) => return Err(RepoError::RecordExists { path }),
            (OpAction::Update | OpAction::Delete, None) => {
                return Err(RepoError::RecordNotFound { path });
            }
            _ => {}
        }
        if !seen.insert(path.clone()) {
            return Err(RepoError::DuplicatePath { path });
        }
        let record = match value {
            Some(v) => Some(v.clone().into_block(&path)?),
            None => None,
        };
        out.push(Prepared {
            op: Op {
                action,
                path,
                cid: record.as_ref().map(|(c, _)| *c),
                prev: current,
            },
            record,
        });
    }
    Ok(out)
}

/// Undoes the first `n` ops (in reverse); the nodes they touched are in
/// memory, so this does not read the store.
fn undo<S: BlockStore>(mst: &mut Mst<S>, ops: &[Prepared]) {
    for p in ops.iter().rev() {
        // Errors cannot happen on paths already loaded; there is nothing
        // better to do with one here than to keep undoing.
        let _ = match p.op.prev {
            Some(prev) => mst.insert(&p.op.path, prev).map(|_| ()),
            None => mst.remove(&p.op.path).map(|_| ()),
        };
    }
}

fn commit_batch<S: BlockStore>(
    mst: &mut Mst<S>,
    did: &Did,
    prev: Option<(&Commit, Cid)>,
    writes: &[RecordWrite],
    keypair: &Keypair,
    now_micros: u64,
) -> Result<CommitData, RepoError> {
    let prepared = prepare(mst, writes)?;
    let since = prev.map(|(c, _)| c.rev);
    // Computed before the tree changes, so nothing needs undoing on error.
    let rev = next_rev_at(since, now_micros, 0)?;
    for (i, p) in prepared.iter().enumerate() {
        let res = match p.op.cid {
            Some(cid) => mst.insert(&p.op.path, cid).map(|_| ()),
            None => mst.remove(&p.op.path).map(|_| ()),
        };
        if let Err(e) = res {
            undo(mst, &prepared[..i]);
            return Err(e.into());
        }
    }
    match finish_commit(mst, did, prev, rev, since, &prepared, keypair) {
        Ok(data) => Ok(data),
        Err(e) => {
            undo(mst, &prepared);
            Err(e)
        }
    }
}

fn finish_commit<S: BlockStore>(
    mst: &mut Mst<S>,
    did: &Did,
    prev: Option<(&Commit, Cid)>,
    rev: Tid,
    since: Option<Tid>,
    prepared: &[Prepared],
    keypair: &Keypair,
) -> Result<CommitData, RepoError> {
    let data = mst.root_cid()?;
    let mut new_nodes = MemoryBlockStore::new();
    mst.write_blocks(&mut new_nodes)?;
    let ops: Vec<Op> = prepared.iter().map(|p| p.op.clone()).collect();
    let mut proof_blocks = Vec::new();
    if ops.len() <= MAX_COMMIT_OPS {
        let mut proof = MemoryBlockStore::new();
        proof_nodes(mst, &ops, &mut proof)?;
        proof_blocks = proof
            .iter()
            .filter(|(c, _)| !new_nodes.has(c).unwrap_or(false))
            .map(|(c, b)| (*c, b.clone()))
            .collect();
    }
    let commit = UnsignedCommit::new(did.clone(), rev, data, prev.map(|(_, c)| c)).sign(keypair);
    let (cid, commit_block) = commit.to_block();
    let node_count = new_nodes.len();
    let mut blocks = Vec::with_capacity(1 + node_count + prepared.len());
    blocks.push((cid, commit_block.clone()));
    blocks.extend(new_nodes.iter().map(|(c, b)| (*c, b.clone())));
    blocks.extend(prepared.iter().filter_map(|p| p.record.clone()));
    // One batch, the commit last: a store that fails part way never holds
    // a commit whose blocks are missing.
    mst.store_mut().put_many(
        &mut blocks
            .iter()
            .skip(1)
            .chain(core::iter::once(&blocks[0]))
            .cloned(),
    )?;
    Ok(CommitData {
        cid,
        commit,
        commit_block,
        rev,
        since,
        prev_data: prev.map(|(c, _)| c.data),
        data,
        ops,
        blocks,
        proof_blocks,
        node_count,
    })
}
