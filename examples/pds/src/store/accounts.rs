//! Account rows.

use atproto_core::Cid;
use atproto_core::syntax::Tid;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// One account as stored (without its password hash).
#[derive(Clone)]
pub struct AccountRow {
    /// The row id, which keys its blocks and records.
    pub id: i64,
    /// The DID.
    pub did: String,
    /// The handle.
    pub handle: Option<String>,
    /// The email address.
    pub email: Option<String>,
    /// The repo signing key: a secp256k1 private scalar (32 bytes).
    pub signing_key: Vec<u8>,
    /// Whether the account is active.
    pub active: bool,
    /// Why it is not (`deactivated`, `takendown`, ...).
    pub status: Option<String>,
    /// The repo's current commit.
    pub head: Option<Cid>,
    /// The current commit's rev.
    pub rev: Option<Tid>,
}

/// The signing key stays out of logs.
impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("active", &self.active)
            .field("status", &self.status)
            .field("head", &self.head)
            .field("rev", &self.rev)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, did, handle, email, signing_key, active, status, head_cid, head_rev";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AccountRow> {
    let head: Option<Vec<u8>> = r.get(7)?;
    let head = head
        .map(|b| Cid::try_from(&b[..]))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Blob, Box::new(e))
        })?;
    let rev: Option<String> = r.get(8)?;
    let rev = rev.map(|s| s.parse::<Tid>()).transpose().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(AccountRow {
        id: r.get(0)?,
        did: r.get(1)?,
        handle: r.get(2)?,
        email: r.get(3)?,
        signing_key: r.get(4)?,
        active: r.get(5)?,
        status: r.get(6)?,
        head,
        rev,
    })
}

/// The account with DID `did`.
///
/// # Errors
/// SQLite failed, or a stored head does not parse.
pub fn by_did(conn: &Connection, did: &str) -> rusqlite::Result<Option<AccountRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM account WHERE did = ?1"))?;
    stmt.query_row([did], from_row).optional()
}

/// Every account, by row id.
///
/// # Errors
/// SQLite failed, or a stored head does not parse.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<AccountRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM account ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// Which unique column a new account collides on, if any.
///
/// # Errors
/// SQLite failed.
pub fn taken(
    conn: &Connection,
    did: &str,
    handle: &str,
    email: Option<&str>,
) -> rusqlite::Result<Option<&'static str>> {
    let mut stmt = conn.prepare_cached(
        "SELECT CASE WHEN did = ?1 THEN 'did' WHEN handle = ?2 THEN 'handle' ELSE 'email' END \
         FROM account WHERE did = ?1 OR handle = ?2 OR (?3 IS NOT NULL AND email = ?3) LIMIT 1",
    )?;
    let found: Option<String> = stmt
        .query_row(params![did, handle, email], |r| r.get(0))
        .optional()?;
    Ok(found.map(|f| match f.as_str() {
        "did" => "did",
        "handle" => "handle",
        _ => "email",
    }))
}

/// Inserts a new account (no repo yet); returns its row id.
///
/// # Errors
/// SQLite failed (a unique column taken included).
pub fn insert(
    conn: &Connection,
    did: &str,
    handle: &str,
    email: Option<&str>,
    password_hash: Option<&str>,
    signing_key: &[u8],
    created_at: &str,
) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO account (did, handle, email, password_hash, signing_key, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    stmt.execute(params![
        did,
        handle,
        email,
        password_hash,
        signing_key,
        created_at
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Moves the account's repo head.
///
/// # Errors
/// SQLite failed.
pub fn set_head(conn: &Connection, id: i64, head: &Cid, rev: &Tid) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare_cached("UPDATE account SET head_cid = ?2, head_rev = ?3 WHERE id = ?1")?;
    stmt.execute(params![id, head.to_bytes(), rev.as_str()])?;
    Ok(())
}
