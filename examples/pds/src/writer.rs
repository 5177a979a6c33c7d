//! The writer: one thread owns the database's write connection and applies
//! every repo change, with group commit.
//!
//! Handlers call a cloneable [`WriterHandle`] ([`write`](WriterHandle::write),
//! [`apply`](WriterHandle::apply), [`create_account`](WriterHandle::create_account),
//! [`publish`](WriterHandle::publish)); each call is a job sent over a
//! channel. The thread takes every pending job (up to
//! [`WriterConfig::max_batch`]) and runs them in ONE transaction:
//!
//! 1. each job under a `SAVEPOINT`: its account is read, its swaps checked,
//!    `atproto_repo::Repo::apply_writes_at` runs over the transaction
//!    ([`SqlBlockStore`]), the record index and the account's head are
//!    updated, and its firehose frames are built (`#commit` with the sync
//!    v1.1 CAR slice, `prevData`, `since` and the ops). A job that fails
//!    (`RecordExists`, `InvalidSwap`, ...) rolls back to its savepoint and
//!    is answered alone; the others go on;
//! 2. the frames of every job are published with
//!    `Sequencer::publish_batch_with`: the sequencer gives them their `seq`s,
//!    the events are inserted into the `event` table in the same
//!    transaction, and the transaction commits (one fsync for the whole
//!    batch) before any subscriber can see them;
//! 3. each job is answered: its result, or, if the commit failed, the
//!    error (nothing of the batch was then stored or published).
//!
//! So a write, its blocks, its record index rows, the new head and its
//! firehose event are durable together or not at all, and an answer is
//! sent only after the commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use atproto_core::Cid;
use atproto_core::crypto::{Curve, Keypair};
use atproto_core::syntax::{Datetime, Did, Handle, Tid};
use atproto_firehose::producer::{PublishWithError, Sequencer};
use atproto_firehose::{
    AccountMessage, Action, CommitMessage, Frame, IdentityMessage, RepoOp, SyncMessage,
};
use atproto_repo::sync::{SliceError, write_car_slice};
use atproto_repo::{CommitData, OpAction, RecordPath, RecordWrite, Repo, RepoError};
use bytes::Bytes;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use crate::store::blocks::SqlBlockStore;
use crate::store::events::{SqlEventLog, frame_did, insert_events};
use crate::store::{Context, DbError, accounts};

/// The sequencer over the PDS's event table.
pub type PdsSequencer = Sequencer<SqlEventLog>;

/// The writer's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    /// At most this many jobs in one transaction. Default 256.
    pub max_batch: usize,
    /// Jobs waiting beyond this make callers wait to send. Default 4096.
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: 256,
            queue: 4096,
        }
    }
}

/// A record's expected state for a write (`swapRecord`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapRecord {
    /// The record's path.
    pub path: RecordPath,
    /// The CID it must have now; `None`: it must not exist.
    pub expected: Option<Cid>,
}

/// One repo write: a batch of record writes for one account, as one commit.
#[derive(Clone, Debug)]
pub struct WriteRequest {
    /// The account.
    pub did: Did,
    /// The writes, in order (one commit).
    pub writes: Vec<RecordWrite>,
    /// The commit the repo must be at (`swapCommit`).
    pub swap_commit: Option<Cid>,
    /// Records that must be at a given CID (`swapRecord`).
    pub swap_records: Vec<SwapRecord>,
}

/// One record written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenRecord {
    /// What was done.
    pub action: OpAction,
    /// `at://<did>/<collection>/<rkey>`.
    pub uri: String,
    /// The new record's CID (`None` for a delete).
    pub cid: Option<Cid>,
}

/// A committed write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// The new commit's CID.
    pub commit: Cid,
    /// The new commit's rev.
    pub rev: Tid,
    /// The `seq` of its `#commit` event.
    pub seq: i64,
    /// Each write, in the request's order.
    pub records: Vec<WrittenRecord>,
}

/// A new account to store: the PLC registration is the caller's, done.
#[derive(Clone)]
pub struct NewAccount {
    /// Its DID.
    pub did: Did,
    /// Its handle.
    pub handle: Handle,
    /// Its email address.
    pub email: Option<String>,
    /// Its password, hashed (argon2id, by the caller).
    pub password_hash: Option<String>,
    /// Its repo signing key (secp256k1).
    pub signing_key: Keypair,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// A stored account and its empty repo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedAccount {
    /// The repo's first commit.
    pub commit: Cid,
    /// Its rev.
    pub rev: Tid,
    /// The `seq`s of its `#identity`, `#account` and `#sync` events.
    pub seqs: Vec<i64>,
}

/// Why a job was not applied. Nothing of it was stored or published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// No account has this DID.
    #[error("could not find repo: {0}")]
    RepoNotFound(String),
    /// The account is not active.
    #[error("repo {did} is {status}")]
    RepoInactive {
        /// The account.
        did: String,
        /// Why (`deactivated`, `takendown`, ...).
        status: String,
    },
    /// `swapCommit` or `swapRecord` did not match.
    #[error("{0}")]
    InvalidSwap(String),
    /// The repo refused the writes (a record that exists, one that does not,
    /// a path twice, a record that is not valid DAG-CBOR).
    #[error("{0}")]
    Repo(#[from] RepoError),
    /// The commit is too large for a `#commit` event.
    #[error("{0}")]
    TooLarge(#[from] SliceError),
    /// A new account's DID, handle or email is taken.
    #[error("{field} already taken")]
    Taken {
        /// `did`, `handle` or `email`.
        field: &'static str,
    },
    /// The database failed; with a batch, the whole batch was rolled back.
    #[error("{0}")]
    Db(String),
    /// The firehose refused the batch; it was rolled back.
    #[error("firehose: {0}")]
    Publish(String),
    /// Stored data this server cannot use (a signing key that does not
    /// load, an account without a repo).
    #[error("corrupt account {did}: {problem}")]
    Corrupt {
        /// The account.
        did: String,
        /// What is wrong.
        problem: String,
    },
    /// The writer has stopped.
    #[error("the writer has stopped")]
    Stopped,
}

impl From<DbError> for WriteError {
    fn from(e: DbError) -> Self {
        WriteError::Db(e.to_string())
    }
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        WriteError::Db(e.to_string())
    }
}

/// A job and where its answer goes.
enum Job {
    Write(
        WriteRequest,
        oneshot::Sender<Result<WriteResult, WriteError>>,
    ),
    Create(
        NewAccount,
        oneshot::Sender<Result<CreatedAccount, WriteError>>,
    ),
    Publish(Vec<Frame>, oneshot::Sender<Result<Vec<i64>, WriteError>>),
}

impl Job {
    fn fail(self, e: WriteError) {
        match self {
            Job::Write(_, reply) => drop(reply.send(Err(e))),
            Job::Create(_, reply) => drop(reply.send(Err(e))),
            Job::Publish(_, reply) => drop(reply.send(Err(e))),
        }
    }
}

/// What a job did inside the transaction, before the commit.
enum Done {
    Write(WriteResult),
    Create(CreatedAccount),
    Publish,
}

/// A handle on the writer thread; cheap to clone. The thread ends once
/// every handle is dropped.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    jobs: mpsc::Sender<Job>,
    sequencer: PdsSequencer,
    stats: Arc<Counters>,
}

/// What the writer has done since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions run (one per batch).
    pub batches: u64,
    /// Jobs taken, in all batches.
    pub jobs: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Write(r, _) => write!(f, "Write({})", r.did),
            Job::Create(a, _) => write!(f, "Create({})", a.did),
            Job::Publish(frames, _) => write!(f, "Publish({} frames)", frames.len()),
        }
    }
}

impl WriterHandle {
    /// Starts the writer thread on `conn` (the database's write connection),
    /// publishing through `sequencer` (built on the same database's
    /// [`SqlEventLog`]).
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(
        conn: Connection,
        sequencer: PdsSequencer,
        config: WriterConfig,
    ) -> std::io::Result<(WriterHandle, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let thread_sequencer = sequencer.clone();
        let max_batch = config.max_batch.max(1);
        let stats = Arc::new(Counters::default());
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("pds-writer".into())
            .spawn(move || run(conn, rx, thread_sequencer, max_batch, &thread_stats))?;
        Ok((
            WriterHandle {
                jobs: tx,
                sequencer,
                stats,
            },
            thread,
        ))
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.stats.batches.load(Ordering::Relaxed),
            jobs: self.stats.jobs.load(Ordering::Relaxed),
        }
    }

    /// The sequencer (for `subscribeRepos`).
    pub fn sequencer(&self) -> &PdsSequencer {
        &self.sequencer
    }

    async fn send<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, WriteError>>) -> Job,
    ) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(job(reply))
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Applies `writes` to `did`'s repo as one commit, if the repo is at
    /// `swap_commit` (when given). Answers once the commit and its
    /// `#commit` event are durable.
    ///
    /// # Errors
    /// See [`WriteError`].
    pub async fn write(
        &self,
        did: Did,
        writes: Vec<RecordWrite>,
        swap_commit: Option<Cid>,
    ) -> Result<WriteResult, WriteError> {
        self.apply(WriteRequest {
            did,
            writes,
            swap_commit,
            swap_records: Vec::new(),
        })
        .await
    }

    /// As [`write`](Self::write), with `swapRecord` preconditions too.
    ///
    /// # Errors
    /// See [`WriteError`].
    pub async fn apply(&self, request: WriteRequest) -> Result<WriteResult, WriteError> {
        self.send(|reply| Job::Write(request, reply)).await
    }

    /// Stores a new account and its empty repo (first commit signed with
    /// its key) and publishes `#identity`, `#account` and `#sync`, in that
    /// order, in the same transaction.
    ///
    /// # Errors
    /// [`WriteError::Taken`] for a DID, handle or email in use; see
    /// [`WriteError`].
    pub async fn create_account(&self, account: NewAccount) -> Result<CreatedAccount, WriteError> {
        self.send(|reply| Job::Create(account, reply)).await
    }

    /// Publishes events that go with no repo write (`#identity` after a
    /// handle change, `#account` after a status change), in a writer
    /// transaction. PDS code publishes only through the writer: a
    /// `Sequencer::publish` from elsewhere would wait for the writer's
    /// transaction while holding the sequencer's lock the writer needs.
    ///
    /// # Errors
    /// See [`WriteError`].
    pub async fn publish(&self, frames: Vec<Frame>) -> Result<Vec<i64>, WriteError> {
        self.send(|reply| Job::Publish(frames, reply)).await
    }
}

/// The thread: a batch of every pending job at a time.
fn run(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    sequencer: PdsSequencer,
    max_batch: usize,
    stats: &Counters,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        run_batch(&mut conn, &sequencer, batch);
    }
    tracing::debug!("writer stopped");
}

/// What each job of a batch produced.
struct Applied {
    job: Job,
    outcome: Result<(Done, usize), WriteError>,
}

fn run_batch(conn: &mut Connection, sequencer: &PdsSequencer, batch: Vec<Job>) {
    let size = batch.len();
    let mut tx = match conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("starting a write transaction")
    {
        Ok(tx) => tx,
        Err(e) => {
            let msg = e.to_string();
            tracing::error!(error = %msg, "write batch failed");
            for job in batch {
                job.fail(WriteError::Db(msg.clone()));
            }
            return;
        }
    };
    let now = now_micros();
    let mut frames = Vec::new();
    let mut dids = Vec::new();
    let mut applied = Vec::with_capacity(size);
    for job in batch {
        let outcome = apply_in_savepoint(&mut tx, &job, now).map(|(done, job_frames)| {
            let count = job_frames.len();
            for (did, frame) in job_frames {
                dids.push(did);
                frames.push(frame);
            }
            (done, count)
        });
        applied.push(Applied { job, outcome });
    }
    let published = sequencer.publish_batch_with(frames, move |events| {
        insert_events(&tx, events, &dids)?;
        tx.commit()
    });
    match published {
        Ok(seqs) => {
            let mut seqs = seqs.into_iter();
            for Applied { job, outcome } in applied {
                match outcome {
                    Ok((done, count)) => {
                        let job_seqs: Vec<i64> = seqs.by_ref().take(count).collect();
                        answer(job, done, job_seqs);
                    }
                    Err(e) => job.fail(e),
                }
            }
        }
        Err(e) => {
            let e = match e {
                PublishWithError::Persist(e) => WriteError::Db(format!("committing: {e}")),
                PublishWithError::Publish(e) => WriteError::Publish(e.to_string()),
                other => WriteError::Publish(other.to_string()),
            };
            tracing::error!(error = %e, jobs = size, "write batch rolled back");
            for Applied { job, outcome } in applied {
                job.fail(match outcome {
                    Ok(_) => clone_batch_error(&e),
                    Err(own) => own,
                });
            }
        }
    }
}

/// The batch-wide error, for each job of the batch.
fn clone_batch_error(e: &WriteError) -> WriteError {
    match e {
        WriteError::Publish(m) => WriteError::Publish(m.clone()),
        other => WriteError::Db(other.to_string()),
    }
}

fn answer(job: Job, done: Done, seqs: Vec<i64>) {
    match (job, done) {
        (Job::Write(_, reply), Done::Write(mut result)) => {
            result.seq = seqs.first().copied().unwrap_or(0);
            let _ = reply.send(Ok(result));
        }
        (Job::Create(_, reply), Done::Create(mut created)) => {
            created.seqs = seqs;
            let _ = reply.send(Ok(created));
        }
        (Job::Publish(_, reply), Done::Publish) => {
            let _ = reply.send(Ok(seqs));
        }
        (job, _) => job.fail(WriteError::Db("writer: mismatched job outcome".into())),
    }
}

/// A frame to publish and the DID it is about.
type Outgoing = (Option<String>, Frame);

/// Runs one job under a savepoint: kept on success, rolled back on error.
fn apply_in_savepoint(
    tx: &mut Transaction<'_>,
    job: &Job,
    now: u64,
) -> Result<(Done, Vec<Outgoing>), WriteError> {
    let sp = tx.savepoint().context("opening a savepoint")?;
    let out = match job {
        Job::Write(req, _) => apply_write(&sp, req, now),
        Job::Create(account, _) => create_account(&sp, account, now),
        Job::Publish(frames, _) => Ok((
            Done::Publish,
            frames.iter().map(|f| (frame_did(f), f.clone())).collect(),
        )),
    }?;
    sp.commit().context("releasing a savepoint")?;
    Ok(out)
}

fn apply_write(
    conn: &Connection,
    req: &WriteRequest,
    now: u64,
) -> Result<(Done, Vec<Outgoing>), WriteError> {
    let did = req.did.as_str();
    let account =
        accounts::by_did(conn, did)?.ok_or_else(|| WriteError::RepoNotFound(did.to_string()))?;
    if !account.active {
        return Err(WriteError::RepoInactive {
            did: did.to_string(),
            status: account.status.unwrap_or_else(|| "deactivated".into()),
        });
    }
    let corrupt = |problem: &str| WriteError::Corrupt {
        did: did.to_string(),
        problem: problem.to_string(),
    };
    let head = account.head.ok_or_else(|| corrupt("no repo head"))?;
    if let Some(swap) = &req.swap_commit
        && *swap != head
    {
        return Err(WriteError::InvalidSwap(format!("Commit was at {head}")));
    }
    for swap in &req.swap_records {
        let current = record_cid(conn, account.id, &swap.path)?;
        if current != swap.expected {
            return Err(WriteError::InvalidSwap(match current {
                Some(cid) => format!("Record was at {cid}"),
                None => "Record was at null".to_string(),
            }));
        }
    }
    let keypair = Keypair::from_private_bytes(Curve::K256, &account.signing_key)
        .map_err(|_| corrupt("signing key does not load"))?;
    let mut repo = Repo::open(SqlBlockStore::new(conn, account.id), head)?;
    let data = repo.apply_writes_at(&req.writes, &keypair, now)?;
    index_ops(conn, account.id, &data)?;
    accounts::set_head(conn, account.id, &data.cid, &data.rev)?;
    let frame = commit_frame(did, &data, now)?;
    let records = data
        .ops
        .iter()
        .map(|op| WrittenRecord {
            action: op.action,
            uri: format!("at://{did}/{}", op.path.as_str()),
            cid: op.cid,
        })
        .collect();
    let result = WriteResult {
        commit: data.cid,
        rev: data.rev,
        seq: 0,
        records,
    };
    Ok((Done::Write(result), vec![(Some(did.to_string()), frame)]))
}

fn create_account(
    conn: &Connection,
    account: &NewAccount,
    now: u64,
) -> Result<(Done, Vec<Outgoing>), WriteError> {
    let did = account.did.as_str();
    let handle = account.handle.as_str();
    if let Some(field) = accounts::taken(conn, did, handle, account.email.as_deref())? {
        return Err(WriteError::Taken { field });
    }
    let time = datetime(now);
    let key = account.signing_key.private_bytes();
    let id = accounts::insert(
        conn,
        did,
        handle,
        account.email.as_deref(),
        account.password_hash.as_deref(),
        &key[..],
        &time,
    )?;
    let (_, data) = Repo::create_at(
        SqlBlockStore::new(conn, id),
        account.did.clone(),
        &account.signing_key,
        &[],
        now,
    )?;
    accounts::set_head(conn, id, &data.cid, &data.rev)?;
    let blocks = write_car_slice(&data.cid, [(&data.cid, &data.commit_block[..])], 0)?;
    let owner = Some(did.to_string());
    let frames = vec![
        (
            owner.clone(),
            Frame::Identity(IdentityMessage {
                seq: 0,
                did: did.to_string(),
                time: time.clone(),
                handle: Some(handle.to_string()),
                extra: Default::default(),
            }),
        ),
        (
            owner.clone(),
            Frame::Account(AccountMessage {
                seq: 0,
                did: did.to_string(),
                time: time.clone(),
                active: true,
                status: None,
                extra: Default::default(),
            }),
        ),
        (
            owner,
            Frame::Sync(SyncMessage {
                seq: 0,
                did: did.to_string(),
                rev: data.rev.to_string(),
                blocks: Bytes::from(blocks),
                time,
                extra: Default::default(),
            }),
        ),
    ];
    let created = CreatedAccount {
        commit: data.cid,
        rev: data.rev,
        seqs: Vec::new(),
    };
    Ok((Done::Create(created), frames))
}

/// The record index follows the commit's ops.
fn index_ops(conn: &Connection, account: i64, data: &CommitData) -> Result<(), WriteError> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO record (account, collection, rkey, cid, rev) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (account, collection, rkey) DO UPDATE SET cid = excluded.cid, rev = excluded.rev",
    )?;
    let mut delete = conn.prepare_cached(
        "DELETE FROM record WHERE account = ?1 AND collection = ?2 AND rkey = ?3",
    )?;
    let rev = data.rev.as_str();
    for op in &data.ops {
        let (collection, rkey) = op.path.split();
        match op.cid {
            Some(cid) => {
                upsert.execute(params![account, collection, rkey, cid.to_bytes(), rev])?;
            }
            None => {
                delete.execute(params![account, collection, rkey])?;
            }
        }
    }
    Ok(())
}

/// The record index's CID for `path`.
fn record_cid(
    conn: &Connection,
    account: i64,
    path: &RecordPath,
) -> Result<Option<Cid>, WriteError> {
    use rusqlite::OptionalExtension;
    let (collection, rkey) = path.split();
    let mut stmt = conn.prepare_cached(
        "SELECT cid FROM record WHERE account = ?1 AND collection = ?2 AND rkey = ?3",
    )?;
    let bytes: Option<Vec<u8>> = stmt
        .query_row(params![account, collection, rkey], |r| r.get(0))
        .optional()?;
    bytes
        .map(|b| Cid::try_from(&b[..]))
        .transpose()
        .map_err(|e| WriteError::Db(format!("record index holds a bad CID: {e}")))
}

/// The `#commit` event of `data` (sync v1.1).
pub fn commit_frame(did: &str, data: &CommitData, now: u64) -> Result<Frame, SliceError> {
    let blocks = data.car_slice()?;
    Ok(Frame::Commit(CommitMessage {
        seq: 0,
        rebase: false,
        too_big: false,
        repo: did.to_string(),
        commit: data.cid,
        rev: data.rev.to_string(),
        since: data.since.map(|s| s.to_string()),
        blocks: Bytes::from(blocks),
        ops: data
            .ops
            .iter()
            .map(|op| RepoOp {
                action: match op.action {
                    OpAction::Create => Action::Create,
                    OpAction::Update => Action::Update,
                    OpAction::Delete => Action::Delete,
                },
                path: op.path.as_str().to_string(),
                cid: op.cid,
                prev: op.prev,
                extra: Default::default(),
            })
            .collect(),
        blobs: Vec::new(),
        time: datetime(now),
        prev_data: data.prev_data,
        extra: Default::default(),
    }))
}

/// Now, in microseconds since the Unix epoch.
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `micros`, as the reference writes event
/// times.
fn datetime(micros: u64) -> String {
    let ms = micros - micros % 1000;
    Datetime::from_timestamp_micros(i64::try_from(ms).unwrap_or(i64::MAX))
        .map(Datetime::into_string)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_string())
}
