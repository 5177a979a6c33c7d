//! Signed repository commits, version 3 (SPEC-NOTES §4).
//!
//! A commit is the DAG-CBOR map
//! `{did, rev, sig, data, prev, version: 3}` (keys in canonical order):
//! `data` is the MST root, `rev` a TID that increases with every commit,
//! `prev` the previous commit's CID or null (the key is always written), and
//! `sig` the 64-byte low-S ECDSA signature over the DAG-CBOR of the same map
//! **without** `sig`. The commit's CID covers the signed map.
//!
//! ```
//! use atproto_core::crypto::{Curve, Keypair};
//! use atproto_core::data::dag_cbor_cid;
//! use atproto_core::syntax::{Did, Tid};
//! use atproto_repo::commit::{Commit, UnsignedCommit};
//!
//! let key = Keypair::from_private_bytes(Curve::K256, &[7; 32])?;
//! let did: Did = "did:plc:7iza6de2dwap2sbkpav7c6c6".parse()?;
//! let rev = Tid::from_parts(1_700_000_000_000_000, 0)?;
//! let root = dag_cbor_cid(b"\xa2\x61\x65\x80\x61\x6c\xf6"); // {e: [], l: null}
//! let commit = UnsignedCommit::new(did, rev, root, None).sign(&key);
//! commit.verify(&key.public_key())?;
//!
//! let (cid, block) = commit.to_block();
//! assert_eq!(Commit::decode(&block)?, commit);
//! assert_eq!(dag_cbor_cid(&block), cid);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decisions
//!
//! - Decoding is strict: canonical DAG-CBOR (the core decoder), `version`
//!   exactly 3, every field present with its type, `did` and `rev` valid
//!   syntax, `prev` present (null or a link).
//! - Unknown extra fields are **kept** in [`Commit::extra`] and written back,
//!   so decode → encode reproduces the bytes and a signature made over them
//!   still verifies (indigo drops such fields; the TypeScript implementation
//!   keeps them in the signed bytes, which is what this follows).
//! - `version` is not a field: it can only be 3, so it is the constant
//!   [`COMMIT_VERSION`] (see [`Commit::version`]), written on encode and
//!   required on decode.
//! - The signature's length is not checked on decode; [`Commit::verify`]
//!   refuses anything but a 64-byte low-S `r‖s`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::crypto::{CryptoError, Keypair, PublicKey};
use atproto_core::data::cbor::write_head;
use atproto_core::data::{CborError, Value, cbor, dag_cbor_cid};
use atproto_core::syntax::{Did, SyntaxError, Tid};
use bytes::Bytes;

/// The commit format version this module reads and writes.
pub const COMMIT_VERSION: i64 = 3;

/// How far in the future a commit's rev may be: 5 minutes, in microseconds
/// (indigo's relay tolerance, SPEC-NOTES §4–§5).
pub const MAX_REV_FUTURE_MICROS: u64 = 5 * 60 * 1_000_000;

/// Whether a verification checked the commit's signature.
///
/// Every verifying entry point reports it: [`verify_car`](crate::repo::verify_car)
/// and [`verify_commit_proof`](crate::sync::verify_commit_proof) take the
/// account's key and give [`Verified`](Self::Verified); their `_unsigned`
/// variants skip the signature and give [`NotChecked`](Self::NotChecked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureCheck {
    /// The signature verified with the key the caller gave.
    Verified,
    /// The signature was not looked at: the data is only as trustworthy as
    /// wherever it came from.
    NotChecked,
}

impl SignatureCheck {
    /// `"verified"` or `"not checked"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureCheck::Verified => "verified",
            SignatureCheck::NotChecked => "not checked",
        }
    }

    /// Whether the signature was checked (and verified).
    pub fn is_verified(self) -> bool {
        self == SignatureCheck::Verified
    }
}

impl core::fmt::Display for SignatureCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a commit was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The bytes are not canonical DAG-CBOR.
    #[error("commit is not canonical DAG-CBOR: {0}")]
    Cbor(CborError),
    /// The top-level value is not a map.
    #[error("commit is not a map")]
    NotAMap,
    /// A required field is absent.
    #[error("commit field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong type.
    #[error("commit field `{field}` must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A `version` other than 3.
    #[error("unsupported commit version {0} (expected 3)")]
    UnsupportedVersion(i64),
    /// `did` is not a valid DID.
    #[error("commit `did`: {0}")]
    BadDid(SyntaxError),
    /// `rev` is not a valid TID.
    #[error("commit `rev`: {0}")]
    BadRev(SyntaxError),
    /// The signature does not verify (wrong key, tampered commit, high-S,
    /// DER or wrong length).
    #[error("commit signature: {0}")]
    Signature(CryptoError),
    /// The rev is not greater than the previous commit's.
    #[error("commit rev {rev} is not after the previous rev {prev}")]
    RevNotIncreasing {
        /// The previous commit's rev.
        prev: Tid,
        /// This commit's rev.
        rev: Tid,
    },
    /// The rev's timestamp is more than [`MAX_REV_FUTURE_MICROS`] ahead of now.
    #[error("commit rev {rev} is too far in the future")]
    RevInFuture {
        /// This commit's rev.
        rev: Tid,
    },
    /// No TID after the previous rev exists (it is the largest TID).
    #[error("no rev after {0}")]
    RevExhausted(Tid),
}

/// A commit before signing: everything but `sig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsignedCommit {
    /// The repository's DID.
    pub did: Did,
    /// The revision: a TID greater than every earlier commit's.
    pub rev: Tid,
    /// The MST root.
    pub data: Cid,
    /// The previous commit's CID, if any.
    pub prev: Option<Cid>,
    /// Fields other than the six of version 3, kept so that they are signed
    /// and written back. Keys that name a version-3 field are ignored when
    /// encoding.
    pub extra: BTreeMap<String, Value>,
}

/// A signed commit (version 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The repository's DID.
    pub did: Did,
    /// The revision: a TID greater than every earlier commit's.
    pub rev: Tid,
    /// The MST root.
    pub data: Cid,
    /// The previous commit's CID, if any.
    pub prev: Option<Cid>,
    /// The signature over [`Commit::unsigned_cbor`]: 64 bytes `r‖s`, low-S.
    pub sig: Bytes,
    /// Fields other than the six of version 3, as in [`UnsignedCommit::extra`].
    pub extra: BTreeMap<String, Value>,
}

impl UnsignedCommit {
    /// An unsigned commit with no extra fields.
    pub fn new(did: Did, rev: Tid, data: Cid, prev: Option<Cid>) -> Self {
        UnsignedCommit {
            did,
            rev,
            data,
            prev,
            extra: BTreeMap::new(),
        }
    }

    /// The canonical DAG-CBOR that is signed: the commit map without `sig`.
    pub fn to_cbor(&self) -> Vec<u8> {
        encode(&self.fields(), None)
    }

    /// Signs the commit with `key` (SHA-256 of [`UnsignedCommit::to_cbor`],
    /// ECDSA, low-S).
    pub fn sign(self, key: &Keypair) -> Commit {
        let sig = key.sign(&self.to_cbor());
        Commit {
            did: self.did,
            rev: self.rev,
            data: self.data,
            prev: self.prev,
            sig: Bytes::copy_from_slice(&sig),
            extra: self.extra,
        }
    }

    /// The commit format version: always [`COMMIT_VERSION`].
    pub fn version(&self) -> i64 {
        COMMIT_VERSION
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            did: &self.did,
            rev: &self.rev,
            data: &self.data,
            prev: self.prev.as_ref(),
            extra: &self.extra,
        }
    }
}

impl Commit {
    /// Decodes a commit from its block bytes, strictly (see the
    /// [module docs](self)). `sig` is copied out of `bytes`; use
    /// [`Commit::decode_bytes`] to slice it instead.
    ///
    /// # Errors
    /// A [`CommitError`] naming the first problem found.
    pub fn decode(bytes: &[u8]) -> Result<Self, CommitError> {
        from_value(cbor::decode(bytes).map_err(CommitError::Cbor)?)
    }

    /// As [`Commit::decode`], with `sig` (and any byte strings in extra
    /// fields) as slices of `bytes`.
    ///
    /// # Errors
    /// As [`Commit::decode`].
    pub fn decode_bytes(bytes: &Bytes) -> Result<Self, CommitError> {
        from_value(cbor::decode_bytes(bytes).map_err(CommitError::Cbor)?)
    }

    /// The canonical DAG-CBOR of the signed commit (the block bytes).
    pub fn to_cbor(&self) -> Vec<u8> {
        encode(&self.fields(), Some(&self.sig))
    }

    /// The canonical DAG-CBOR of the commit without `sig`: the signed bytes.
    pub fn unsigned_cbor(&self) -> Vec<u8> {
        encode(&self.fields(), None)
    }

    /// The commit without its signature.
    pub fn unsigned(&self) -> UnsignedCommit {
        UnsignedCommit {
            did: self.did.clone(),
            rev: self.rev,
            data: self.data,
            prev: self.prev,
            extra: self.extra.clone(),
        }
    }

    /// Verifies the signature against `key`, strictly: 64-byte `r‖s`,
    /// low-S, over [`Commit::unsigned_cbor`].
    ///
    /// # Errors
    /// [`CommitError::Signature`] with the reason.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CommitError> {
        key.verify(&self.unsigned_cbor(), &self.sig)
            .map_err(CommitError::Signature)
    }

    /// [`Commit::verify`] when there is a key; what the verifying entry
    /// points report either way.
    pub(crate) fn check_signature(
        &self,
        key: Option<&PublicKey>,
    ) -> Result<SignatureCheck, CommitError> {
        match key {
            Some(key) => self.verify(key).map(|()| SignatureCheck::Verified),
            None => Ok(SignatureCheck::NotChecked),
        }
    }

    /// The commit's CID (dag-cbor, sha2-256 of [`Commit::to_cbor`]).
    pub fn cid(&self) -> Cid {
        dag_cbor_cid(&self.to_cbor())
    }

    /// The commit as a block: its CID and its bytes.
    pub fn to_block(&self) -> (Cid, Bytes) {
        let bytes = self.to_cbor();
        (dag_cbor_cid(&bytes), Bytes::from(bytes))
    }

    /// The commit format version: always [`COMMIT_VERSION`].
    pub fn version(&self) -> i64 {
        COMMIT_VERSION
    }

    /// Checks this commit's rev against the previous commit's rev (it must be
    /// greater) and against the clock (at most [`MAX_REV_FUTURE_MICROS`]
    /// ahead of `now_micros`, microseconds since the Unix epoch).
    ///
    /// # Errors
    /// [`CommitError::RevNotIncreasing`] or [`CommitError::RevInFuture`].
    pub fn check_rev(&self, prev_rev: Option<Tid>, now_micros: u64) -> Result<(), CommitError> {
        if let Some(prev) = prev_rev
            && self.rev <= prev
        {
            return Err(CommitError::RevNotIncreasing {
                prev,
                rev: self.rev,
            });
        }
        check_rev_not_future(self.rev, now_micros)
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            did: &self.did,
            rev: &self.rev,
            data: &self.data,
            prev: self.prev.as_ref(),
            extra: &self.extra,
        }
    }
}

/// Fails if `rev`'s timestamp is more than [`MAX_REV_FUTURE_MICROS`] ahead
/// of `now_micros` (microseconds since the Unix epoch).
///
/// # Errors
/// [`CommitError::RevInFuture`].
pub fn check_rev_not_future(rev: Tid, now_micros: u64) -> Result<(), CommitError> {
    if rev.timestamp_micros() > now_micros.saturating_add(MAX_REV_FUTURE_MICROS) {
        return Err(CommitError::RevInFuture { rev });
    }
    Ok(())
}

/// The rev for a new commit: the TID of `now_micros` with `clock_id`, or
/// `prev + 1` if that is not greater than `prev` (the clock went backwards or
/// stalled), so that revs strictly increase.
///
/// # Errors
/// [`CommitError::BadRev`] if `now_micros` or `clock_id` do not fit a TID;
/// [`CommitError::RevExhausted`] if `prev` is the largest TID.
pub fn next_rev_at(prev: Option<Tid>, now_micros: u64, clock_id: u16) -> Result<Tid, CommitError> {
    let now = Tid::from_parts(now_micros, clock_id).map_err(CommitError::BadRev)?;
    match prev {
        Some(prev) if now <= prev => {
            let next = prev.as_u64() + 1;
            // The top bit of a TID is reserved as zero.
            if next >> 63 != 0 {
                return Err(CommitError::RevExhausted(prev));
            }
            Ok(Tid::from_u64(next))
        }
        _ => Ok(now),
    }
}

/// The rev for a new commit from the system clock: the greater of
/// [`Tid::now`] and `prev + 1`.
///
/// # Errors
/// [`CommitError::RevExhausted`] if `prev` is the largest TID.
#[cfg(feature = "std")]
pub fn next_rev(prev: Option<Tid>) -> Result<Tid, CommitError> {
    let now = Tid::now();
    next_rev_at(prev, now.timestamp_micros(), now.clock_id())
}

/// Borrowed view of the fields every encoding needs.
struct Fields<'a> {
    did: &'a Did,
    rev: &'a Tid,
    data: &'a Cid,
    prev: Option<&'a Cid>,
    extra: &'a BTreeMap<String, Value>,
}

const RESERVED: [&str; 6] = ["did", "rev", "sig", "data", "prev", "version"];

/// Encodes the commit map (with `sig` when given) as canonical DAG-CBOR.
fn encode(f: &Fields<'_>, sig: Option<&[u8]>) -> Vec<u8> {
    if f.extra.keys().any(|k| !RESERVED.contains(&k.as_str())) {
        return cbor::encode(&to_value(f, sig));
    }
    // Hand-written fast path: keys in canonical order (length, then bytes):
    // did, rev, sig, data, prev, version.
    let mut out = Vec::with_capacity(64 + f.did.as_str().len() + 2 * 40 + 66);
    out.push(if sig.is_some() { 0xa6 } else { 0xa5 });
    key(&mut out, "did");
    write_head(&mut out, 3, f.did.as_str().len() as u64);
    out.extend_from_slice(f.did.as_str().as_bytes());
    key(&mut out, "rev");
    write_head(&mut out, 3, f.rev.as_str().len() as u64);
    out.extend_from_slice(f.rev.as_str().as_bytes());
    if let Some(sig) = sig {
        key(&mut out, "sig");
        write_head(&mut out, 2, sig.len() as u64);
        out.extend_from_slice(sig);
    }
    key(&mut out, "data");
    cbor::write_link(f.data, &mut out);
    key(&mut out, "prev");
    match f.prev {
        Some(prev) => cbor::write_link(prev, &mut out),
        None => out.push(0xf6),
    }
    key(&mut out, "version");
    out.push(COMMIT_VERSION as u8);
    out
}

fn key(out: &mut Vec<u8>, k: &str) {
    write_head(out, 3, k.len() as u64);
    out.extend_from_slice(k.as_bytes());
}

/// The commit map as a [`Value`] (extra fields first, so that the six
/// version-3 fields win over same-named extras).
fn to_value(f: &Fields<'_>, sig: Option<&[u8]>) -> Value {
    let mut map = f.extra.clone();
    map.insert("did".into(), Value::String(f.did.as_str().into()));
    map.insert("rev".into(), Value::String(f.rev.as_str().into()));
    match sig {
        Some(sig) => {
            map.insert("sig".into(), Value::Bytes(Bytes::copy_from_slice(sig)));
        }
        None => {
            map.remove("sig");
        }
    }
    map.insert("data".into(), Value::Link(*f.data));
    map.insert(
        "prev".into(),
        f.prev.map_or(Value::Null, |p| Value::Link(*p)),
    );
    map.insert("version".into(), Value::Integer(COMMIT_VERSION));
    Value::Map(map)
}

fn from_value(value: Value) -> Result<Commit, CommitError> {
    let Value::Map(mut map) = value else {
        return Err(CommitError::NotAMap);
    };
    let mut take = |field: &'static str| map.remove(field).ok_or(CommitError::MissingField(field));
    let wrong = |field, expected| CommitError::WrongType { field, expected };

    let version = match take("version")? {
        Value::Integer(v) => v,
        _ => return Err(wrong("version", "an integer")),
    };
    if version != COMMIT_VERSION {
        return Err(CommitError::UnsupportedVersion(version));
    }
    let did = match take("did")? {
        Value::String(s) => Did::try_from(s).map_err(CommitError::BadDid)?,
        _ => return Err(wrong("did", "a string")),
    };
    let rev = match take("rev")? {
        Value::String(s) => s.parse::<Tid>().map_err(CommitError::BadRev)?,
        _ => return Err(wrong("rev", "a string")),
    };
    let data = match take("data")? {
        Value::Link(c) => c,
        _ => return Err(wrong("data", "a CID link")),
    };
    let prev = match take("prev")? {
        Value::Link(c) => Some(c),
        Value::Null => None,
        _ => return Err(wrong("prev", "a CID link or null")),
    };
    let sig = match take("sig")? {
        Value::Bytes(b) => b,
        _ => return Err(wrong("sig", "bytes")),
    };
    Ok(Commit {
        did,
        rev,
        data,
        prev,
        sig,
        extra: map,
    })
}
