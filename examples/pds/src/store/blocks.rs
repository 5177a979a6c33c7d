//! [`SqlBlockStore`]: an account's repo blocks in the `repo_block` table,
//! through a borrowed connection: a `rusqlite::Transaction` or `Savepoint`
//! (both deref to `Connection`), so `atproto_repo::Repo` reads and writes
//! inside the writer's open transaction.

use atproto_core::Cid;
use atproto_repo::{BlockStore, StoreError};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

/// The blocks of account `account` (its `account.id`) over `conn`.
#[derive(Clone, Copy, Debug)]
pub struct SqlBlockStore<'c> {
    conn: &'c Connection,
    account: i64,
}

impl<'c> SqlBlockStore<'c> {
    /// The store of `account` over `conn`.
    pub fn new(conn: &'c Connection, account: i64) -> Self {
        SqlBlockStore { conn, account }
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

const INSERT: &str = "INSERT OR IGNORE INTO repo_block (account, cid, bytes) VALUES (?1, ?2, ?3)";

impl BlockStore for SqlBlockStore<'_> {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM repo_block WHERE account = ?1 AND cid = ?2")
            .map_err(backend)?;
        stmt.query_row(params![self.account, cid.to_bytes()], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .optional()
        .map(|b| b.map(Bytes::from))
        .map_err(backend)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM repo_block WHERE account = ?1 AND cid = ?2")
            .map_err(backend)?;
        stmt.exists(params![self.account, cid.to_bytes()])
            .map_err(backend)
    }

    fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(INSERT).map_err(backend)?;
        stmt.execute(params![self.account, cid.to_bytes(), &block[..]])
            .map_err(backend)?;
        Ok(())
    }

    /// One prepared statement for the whole batch.
    fn put_many(
        &mut self,
        blocks: &mut dyn Iterator<Item = (Cid, Bytes)>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(INSERT).map_err(backend)?;
        for (cid, block) in blocks {
            stmt.execute(params![self.account, cid.to_bytes(), &block[..]])
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Only the writer stores blocks here, and only through
    /// `atproto_repo::Repo`, which computes each CID from the bytes it
    /// stores: a block read back hashes to its CID, so the MST need not hash
    /// it again. (Whatever stores blocks here later, an imported CAR, must
    /// keep this true: only blocks `verify_car` hashed.)
    fn blocks_verified(&self) -> bool {
        true
    }
}
