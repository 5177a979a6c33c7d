//! The typed frames of `com.atproto.sync.subscribeRepos`: a message is a
//! DAG-CBOR header `{op, t}` followed by a DAG-CBOR body.
//!
//! Decoding is strict (each item one canonical DAG-CBOR value, nothing
//! after the body) and lenient where the protocol says so: fields this crate
//! does not know are kept in each message's `extra` (and in each op's), an
//! unknown message type is kept as [`UnknownMessage`]; encoding writes them
//! back, so a frame from a newer server survives decode → encode unchanged.
//!
//! The header and the body are each decoded once by atproto-core's strict
//! decoder into borrowed values ([`ValueRef`]); the typed message is built
//! from those: keys are compared in place, `blocks` is a slice of the
//! message, and only unknown fields are converted to [`Value`]. Field errors
//! are reported after the whole body has passed the DAG-CBOR checks.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::data::cbor::{self, ValueRef};
use atproto_core::data::{Limits, Value};
use bytes::Bytes;

use crate::error::{FrameError, Part};
use crate::limits::{
    MAX_COMMIT_BLOCKS_BYTES, MAX_COMMIT_OPS, MAX_FRAME_BYTES, MAX_SYNC_BLOCKS_BYTES,
};

/// The header `op` of a message.
const OP_MESSAGE: i64 = 1;
/// The header `op` of an error frame.
const OP_ERROR: i64 = -1;

/// One firehose message, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
// `#commit` is nearly every frame of a firehose: boxing it would cost an
// allocation per frame to save bytes on the rare small ones.
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    /// `#commit`: a repository changed.
    Commit(CommitMessage),
    /// `#sync`: a repository's state was reset to a commit.
    Sync(SyncMessage),
    /// `#identity`: an account's DID document or handle may have changed.
    Identity(IdentityMessage),
    /// `#account`: an account's hosting status changed.
    Account(AccountMessage),
    /// `#info`: information from the server (`OutdatedCursor`).
    Info(InfoMessage),
    /// An error frame (header `op: -1`); the server closes after it.
    Error(ErrorMessage),
    /// A message of a type this crate does not know, kept as is.
    Unknown(UnknownMessage),
}

/// A `#commit` message. `blocks` shares the message's buffer (no copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitMessage {
    /// The event's sequence number.
    pub seq: i64,
    /// Deprecated; always `false` from current servers.
    pub rebase: bool,
    /// Deprecated; always `false` from current servers.
    pub too_big: bool,
    /// The repository's DID.
    pub repo: String,
    /// The CID of the new commit.
    pub commit: Cid,
    /// The new commit's revision (a TID).
    pub rev: String,
    /// The revision of the previous commit, `null` for a repository's first.
    pub since: Option<String>,
    /// A CAR slice: the commit block, the changed MST nodes and records.
    pub blocks: Bytes,
    /// The record operations.
    pub ops: Vec<RepoOp>,
    /// Blobs newly referenced (deprecated, usually empty).
    pub blobs: Vec<Cid>,
    /// When the server emitted the event (a datetime string).
    pub time: String,
    /// The MST root of the previous commit (absent for a repository's first).
    pub prev_data: Option<Cid>,
    /// Fields of the body this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// One operation of a `#commit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoOp {
    /// What was done.
    pub action: Action,
    /// `collection/rkey`.
    pub path: String,
    /// The new record's CID; `None` (encoded `null`) on delete.
    pub cid: Option<Cid>,
    /// The previous record's CID, on update and delete (absent on create).
    pub prev: Option<Cid>,
    /// Fields of the op this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// The `action` of a [`RepoOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `create`
    Create,
    /// `update`
    Update,
    /// `delete`
    Delete,
}

impl Action {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        match s {
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// A `#sync` message. `blocks` shares the message's buffer (no copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncMessage {
    /// The event's sequence number.
    pub seq: i64,
    /// The account's DID.
    pub did: String,
    /// The commit's revision.
    pub rev: String,
    /// A CAR slice holding the commit block.
    pub blocks: Bytes,
    /// When the server emitted the event.
    pub time: String,
    /// Fields of the body this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// An `#identity` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityMessage {
    /// The event's sequence number.
    pub seq: i64,
    /// The account's DID.
    pub did: String,
    /// When the server emitted the event.
    pub time: String,
    /// The current handle, if the server says it.
    pub handle: Option<String>,
    /// Fields of the body this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// An `#account` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountMessage {
    /// The event's sequence number.
    pub seq: i64,
    /// The account's DID.
    pub did: String,
    /// When the server emitted the event.
    pub time: String,
    /// Whether the account is active.
    pub active: bool,
    /// Why it is not (`takendown`, `suspended`, `deleted`, `deactivated`,
    /// `desynchronized`, `throttled`, or another).
    pub status: Option<String>,
    /// Fields of the body this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// An `#info` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoMessage {
    /// `OutdatedCursor`, or another name.
    pub name: String,
    /// A human-readable message.
    pub message: Option<String>,
    /// Fields of the body this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// An error frame (`op: -1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// `FutureCursor`, `ConsumerTooSlow`, or another name.
    pub error: String,
    /// A human-readable message.
    pub message: Option<String>,
    /// Fields of the body this crate does not know, kept for re-encoding.
    pub extra: BTreeMap<String, Value>,
}

/// A message whose type (`t`) this crate does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMessage {
    /// The header's `t`.
    pub t: String,
    /// The body, as a generic value (a map).
    pub body: BTreeMap<String, Value>,
}

impl Frame {
    /// Decodes one message. Byte strings (`blocks`) are slices of `message`.
    ///
    /// # Errors
    /// [`FrameError`]: the message is over a limit of [`crate::limits`], its
    /// header or body is not one canonical DAG-CBOR map, bytes follow the
    /// body, or a known message lacks a field or has one of the wrong type.
    pub fn decode(message: &Bytes) -> Result<Frame, FrameError> {
        if message.len() > MAX_FRAME_BYTES {
            return Err(FrameError::FrameTooLarge {
                len: message.len(),
                max: MAX_FRAME_BYTES,
            });
        }
        let limits = Limits::DEFAULT;
        let (header, used) =
            cbor::decode_ref_prefix_with(message, &limits).map_err(|error| FrameError::Cbor {
                part: Part::Header,
                offset: error.offset(),
                error,
            })?;
        let ValueRef::Map(header) = header else {
            return Err(FrameError::NotAMap { part: Part::Header });
        };
        let mut h = Fields::new(header, message, Part::Header, "header");
        let op = h.int("op")?;
        let t = match op {
            OP_MESSAGE => Some(h.str("t")?),
            OP_ERROR => None,
            other => return Err(FrameError::UnknownOp(other)),
        };
        if used == message.len() {
            return Err(FrameError::MissingBody { offset: used });
        }
        let body =
            cbor::decode_ref_with(&message[used..], &limits).map_err(|error| FrameError::Cbor {
                part: Part::Body,
                offset: used + error.offset(),
                error,
            })?;
        let ValueRef::Map(body) = body else {
            return Err(FrameError::NotAMap { part: Part::Body });
        };
        let Some(t) = t else {
            let mut b = Fields::new(body, message, Part::Body, "error frame");
            return Ok(Frame::Error(ErrorMessage {
                error: b.string("error")?,
                message: b.opt_string("message")?,
                extra: b.rest(),
            }));
        };
        Ok(match t {
            "#commit" => Frame::Commit(decode_commit(Fields::new(
                body,
                message,
                Part::Body,
                "#commit",
            ))?),
            "#sync" => {
                let mut b = Fields::new(body, message, Part::Body, "#sync");
                let blocks = b.bytes("blocks")?;
                check_blocks("#sync", &blocks, MAX_SYNC_BLOCKS_BYTES)?;
                Frame::Sync(SyncMessage {
                    seq: b.int("seq")?,
                    did: b.string("did")?,
                    rev: b.string("rev")?,
                    blocks,
                    time: b.string("time")?,
                    extra: b.rest(),
                })
            }
            "#identity" => {
                let mut b = Fields::new(body, message, Part::Body, "#identity");
                Frame::Identity(IdentityMessage {
                    seq: b.int("seq")?,
                    did: b.string("did")?,
                    time: b.string("time")?,
                    handle: b.opt_string("handle")?,
                    extra: b.rest(),
                })
            }
            "#account" => {
                let mut b = Fields::new(body, message, Part::Body, "#account");
                Frame::Account(AccountMessage {
                    seq: b.int("seq")?,
                    did: b.string("did")?,
                    time: b.string("time")?,
                    active: b.bool("active")?,
                    status: b.opt_string("status")?,
                    extra: b.rest(),
                })
            }
            "#info" => {
                let mut b = Fields::new(body, message, Part::Body, "#info");
                Frame::Info(InfoMessage {
                    name: b.string("name")?,
                    message: b.opt_string("message")?,
                    extra: b.rest(),
                })
            }
            _ => Frame::Unknown(UnknownMessage {
                t: t.into(),
                body: owned(&body, message),
            }),
        })
    }

    /// As [`decode`](Frame::decode), from a borrowed slice (copied once).
    ///
    /// # Errors
    /// As [`decode`](Frame::decode).
    pub fn decode_slice(message: &[u8]) -> Result<Frame, FrameError> {
        Frame::decode(&Bytes::copy_from_slice(message))
    }

    /// The message type: `#commit`, …, the `t` of an unknown message;
    /// `None` for an error frame.
    pub fn type_name(&self) -> Option<&str> {
        Some(match self {
            Frame::Commit(_) => "#commit",
            Frame::Sync(_) => "#sync",
            Frame::Identity(_) => "#identity",
            Frame::Account(_) => "#account",
            Frame::Info(_) => "#info",
            Frame::Error(_) => return None,
            Frame::Unknown(u) => &u.t,
        })
    }

    /// The event's sequence number, for the message types that have one.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Frame::Commit(m) => Some(m.seq),
            Frame::Sync(m) => Some(m.seq),
            Frame::Identity(m) => Some(m.seq),
            Frame::Account(m) => Some(m.seq),
            Frame::Info(_) | Frame::Error(_) => None,
            Frame::Unknown(u) => u.body.get("seq").and_then(Value::as_i64),
        }
    }

    /// The canonical message: header then body, each canonical DAG-CBOR.
    /// Limits are not checked here.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// As [`encode`](Frame::encode), appending to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut header = BTreeMap::new();
        match self.type_name() {
            Some(t) => {
                header.insert("op".into(), Value::Integer(OP_MESSAGE));
                header.insert("t".into(), Value::String(t.into()));
            }
            None => {
                header.insert("op".into(), Value::Integer(OP_ERROR));
            }
        }
        cbor::encode_into(&Value::Map(header), out);
        let mut b = match self {
            Frame::Commit(m) => m.extra.clone(),
            Frame::Sync(m) => m.extra.clone(),
            Frame::Identity(m) => m.extra.clone(),
            Frame::Account(m) => m.extra.clone(),
            Frame::Info(m) => m.extra.clone(),
            Frame::Error(m) => m.extra.clone(),
            Frame::Unknown(u) => u.body.clone(),
        };
        match self {
            Frame::Commit(m) => encode_commit(m, &mut b),
            Frame::Sync(m) => {
                put(&mut b, "seq", Value::Integer(m.seq));
                put(&mut b, "did", str(&m.did));
                put(&mut b, "rev", str(&m.rev));
                put(&mut b, "blocks", Value::Bytes(m.blocks.clone()));
                put(&mut b, "time", str(&m.time));
            }
            Frame::Identity(m) => {
                put(&mut b, "seq", Value::Integer(m.seq));
                put(&mut b, "did", str(&m.did));
                put(&mut b, "time", str(&m.time));
                put_opt(&mut b, "handle", m.handle.as_deref().map(str));
            }
            Frame::Account(m) => {
                put(&mut b, "seq", Value::Integer(m.seq));
                put(&mut b, "did", str(&m.did));
                put(&mut b, "time", str(&m.time));
                put(&mut b, "active", Value::Bool(m.active));
                put_opt(&mut b, "status", m.status.as_deref().map(str));
            }
            Frame::Info(m) => {
                put(&mut b, "name", str(&m.name));
                put_opt(&mut b, "message", m.message.as_deref().map(str));
            }
            Frame::Error(m) => {
                put(&mut b, "error", str(&m.error));
                put_opt(&mut b, "message", m.message.as_deref().map(str));
            }
            Frame::Unknown(_) => {}
        }
        cbor::encode_into(&Value::Map(b), out);
    }
}

fn decode_commit(mut b: Fields<'_>) -> Result<CommitMessage, FrameError> {
    let blocks = b.bytes("blocks")?;
    check_blocks("#commit", &blocks, MAX_COMMIT_BLOCKS_BYTES)?;
    let raw_ops = b.array("ops")?;
    if raw_ops.len() > MAX_COMMIT_OPS {
        return Err(FrameError::TooManyOps {
            count: raw_ops.len(),
            max: MAX_COMMIT_OPS,
        });
    }
    let mut ops = Vec::with_capacity(raw_ops.len());
    for (index, op) in raw_ops.into_iter().enumerate() {
        let ValueRef::Map(op) = op else {
            return Err(b.err("ops", "holds an op that is not a map"));
        };
        let mut o = Fields::new(op, b.src, Part::Body, "#commit op");
        let action = Action::parse(o.str("action")?).ok_or(FrameError::UnknownAction { index })?;
        ops.push(RepoOp {
            action,
            path: o.string("path")?,
            cid: o.opt_link("cid")?,
            prev: o.opt_link("prev")?,
            extra: o.rest(),
        });
    }
    let raw_blobs = b.array("blobs")?;
    let mut blobs = Vec::with_capacity(raw_blobs.len());
    for blob in raw_blobs {
        match blob {
            ValueRef::Link(cid) => blobs.push(cid),
            _ => return Err(b.err("blobs", "holds something other than a link")),
        }
    }
    Ok(CommitMessage {
        seq: b.int("seq")?,
        rebase: b.bool("rebase")?,
        too_big: b.bool("tooBig")?,
        repo: b.string("repo")?,
        commit: b.link("commit")?,
        rev: b.string("rev")?,
        since: b.opt_string("since")?,
        blocks,
        ops,
        blobs,
        time: b.string("time")?,
        prev_data: b.opt_link("prevData")?,
        extra: b.rest(),
    })
}

fn encode_commit(m: &CommitMessage, b: &mut BTreeMap<String, Value>) {
    put(b, "seq", Value::Integer(m.seq));
    put(b, "rebase", Value::Bool(m.rebase));
    put(b, "tooBig", Value::Bool(m.too_big));
    put(b, "repo", str(&m.repo));
    put(b, "commit", Value::Link(m.commit));
    put(b, "rev", str(&m.rev));
    put(b, "since", m.since.as_deref().map_or(Value::Null, str));
    put(b, "blocks", Value::Bytes(m.blocks.clone()));
    let ops = m
        .ops
        .iter()
        .map(|op| {
            let mut o = op.extra.clone();
            put(&mut o, "action", str(op.action.as_str()));
            put(&mut o, "path", str(&op.path));
            put(&mut o, "cid", op.cid.map_or(Value::Null, Value::Link));
            put_opt(&mut o, "prev", op.prev.map(Value::Link));
            Value::Map(o)
        })
        .collect();
    put(b, "ops", Value::Array(ops));
    put(
        b,
        "blobs",
        Value::Array(m.blobs.iter().copied().map(Value::Link).collect()),
    );
    put(b, "time", str(&m.time));
    put_opt(b, "prevData", m.prev_data.map(Value::Link));
}

fn check_blocks(message: &'static str, blocks: &Bytes, max: usize) -> Result<(), FrameError> {
    if blocks.len() > max {
        return Err(FrameError::BlocksTooLarge {
            message,
            len: blocks.len(),
            max,
        });
    }
    Ok(())
}

fn str(s: &str) -> Value {
    Value::String(s.into())
}

fn put(map: &mut BTreeMap<String, Value>, key: &str, v: Value) {
    map.insert(key.into(), v);
}

fn put_opt(map: &mut BTreeMap<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        put(map, key, v);
    }
}

/// A borrowed map's entries as an owned map; byte strings are slices of
/// `src`, the message they were decoded from.
fn owned(entries: &[(&str, ValueRef<'_>)], src: &Bytes) -> BTreeMap<String, Value> {
    entries
        .iter()
        .map(|(k, v)| (String::from(*k), v.to_value_in(src)))
        .collect()
}

/// Typed reads of a decoded map's fields, with errors that name the field.
/// Each read takes the field out of the entries (strings are borrowed from
/// the message until a field is kept); what is left at the end is the fields
/// this crate does not know ([`Fields::rest`]), the only ones converted to
/// [`Value`].
struct Fields<'a> {
    entries: Vec<(&'a str, ValueRef<'a>)>,
    /// The message the entries borrow from: `blocks` and the byte strings of
    /// `extra` are slices of it.
    src: &'a Bytes,
    part: Part,
    message: &'static str,
}

impl<'a> Fields<'a> {
    fn new(
        entries: Vec<(&'a str, ValueRef<'a>)>,
        src: &'a Bytes,
        part: Part,
        message: &'static str,
    ) -> Self {
        Fields {
            entries,
            src,
            part,
            message,
        }
    }

    /// The fields not read.
    fn rest(self) -> BTreeMap<String, Value> {
        owned(&self.entries, self.src)
    }

    fn err(&self, field: &'static str, problem: &'static str) -> FrameError {
        FrameError::Field {
            part: self.part,
            message: self.message,
            field,
            problem,
        }
    }

    /// The field, taken out of the entries, if present.
    fn take(&mut self, field: &str) -> Option<ValueRef<'a>> {
        let at = self.entries.iter().position(|(k, _)| *k == field)?;
        Some(self.entries.swap_remove(at).1)
    }

    fn req(&mut self, field: &'static str) -> Result<ValueRef<'a>, FrameError> {
        self.take(field)
            .ok_or_else(|| self.err(field, "is missing"))
    }

    /// The field, or `None` when absent or `null`.
    fn opt(&mut self, field: &'static str) -> Option<ValueRef<'a>> {
        self.take(field).filter(|v| *v != ValueRef::Null)
    }

    fn int(&mut self, field: &'static str) -> Result<i64, FrameError> {
        match self.req(field)? {
            ValueRef::Integer(i) => Ok(i),
            _ => Err(self.err(field, "is not an integer")),
        }
    }

    fn bool(&mut self, field: &'static str) -> Result<bool, FrameError> {
        match self.req(field)? {
            ValueRef::Bool(b) => Ok(b),
            _ => Err(self.err(field, "is not a boolean")),
        }
    }

    fn str(&mut self, field: &'static str) -> Result<&'a str, FrameError> {
        match self.req(field)? {
            ValueRef::String(s) => Ok(s),
            _ => Err(self.err(field, "is not a string")),
        }
    }

    fn string(&mut self, field: &'static str) -> Result<String, FrameError> {
        self.str(field).map(String::from)
    }

    fn opt_string(&mut self, field: &'static str) -> Result<Option<String>, FrameError> {
        match self.opt(field) {
            None => Ok(None),
            Some(ValueRef::String(s)) => Ok(Some(s.into())),
            Some(_) => Err(self.err(field, "is not a string")),
        }
    }

    fn link(&mut self, field: &'static str) -> Result<Cid, FrameError> {
        match self.req(field)? {
            ValueRef::Link(cid) => Ok(cid),
            _ => Err(self.err(field, "is not a link")),
        }
    }

    fn opt_link(&mut self, field: &'static str) -> Result<Option<Cid>, FrameError> {
        match self.opt(field) {
            None => Ok(None),
            Some(ValueRef::Link(cid)) => Ok(Some(cid)),
            Some(_) => Err(self.err(field, "is not a link")),
        }
    }

    /// A byte string field, as a slice of the message (no copy).
    fn bytes(&mut self, field: &'static str) -> Result<Bytes, FrameError> {
        match self.req(field)? {
            // The entries were decoded from `src`: the slice lies within it.
            ValueRef::Bytes(b) => Ok(self.src.slice_ref(b)),
            _ => Err(self.err(field, "is not a byte string")),
        }
    }

    fn array(&mut self, field: &'static str) -> Result<Vec<ValueRef<'a>>, FrameError> {
        match self.req(field)? {
            ValueRef::Array(a) => Ok(a),
            _ => Err(self.err(field, "is not an array")),
        }
    }
}
