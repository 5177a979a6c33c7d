//! did:plc operations: build and sign them, compute the DID, verify a log.
//!
//! An operation is `{type: "plc_operation", rotationKeys, verificationMethods,
//! alsoKnownAs, services, prev, sig}`, a tombstone `{type: "plc_tombstone",
//! prev, sig}`. `sig` is a low-S ECDSA signature (base64url, no padding) over
//! the DAG-CBOR of the operation without `sig`, by one of the rotation keys of
//! the previous operation (the genesis operation by one of its own). `prev` is
//! the CID (DAG-CBOR, sha-256) of the previous signed operation as a string,
//! `null` in the genesis operation. The DID is `did:plc:` + the first 24
//! characters of base32-lower(sha256(DAG-CBOR of the signed genesis operation)).
//!
//! The legacy genesis type `create` (`{signingKey, recoveryKey, handle,
//! service, prev: null, sig}`, used until early 2023) is read and verified as
//! the first operation of a log, read as rotation keys `[recoveryKey,
//! signingKey]`, as the reference does; it is never written.
//!
//! [`verify_log`] checks a log of the canonical history (nullified operations
//! left out). [`verify_audit_log`] replays the directory's audit log
//! (`GET /{did}/log/audit`, every operation with its `createdAt` and
//! `nullified` flag) with the fork rules of the directory: an operation may
//! point its `prev` at an operation that already has a successor if it is
//! signed by a rotation key of higher priority (earlier in `rotationKeys`)
//! than the key that signed that successor, and no later than
//! [`RECOVERY_WINDOW_MS`] (72 hours) after it; the successor and everything
//! after it are then nullified. [`replay_audit_log`] is the same replay
//! without the `nullified` flags: a directory uses it to check a new
//! operation against its stored log.
//!
//! ```
//! use atproto_core::{Curve, Keypair};
//! use atproto_xrpc::identity::plc::{Operation, PlcData, PlcState, verify_log};
//!
//! let rotation = Keypair::from_private_bytes(Curve::K256, &[1; 32])?;
//! let signing = Keypair::from_private_bytes(Curve::K256, &[2; 32])?;
//! let data = PlcData::atproto(
//!     &signing.public_key(),
//!     &"alice.example.com".parse()?,
//!     "https://pds.example.com",
//!     &[rotation.public_key()],
//! );
//! let (genesis, did) = Operation::genesis(data.clone(), &rotation);
//! assert!(did.as_str().starts_with("did:plc:"));
//! let tombstone = Operation::tombstone(&genesis, &rotation);
//! assert_eq!(verify_log(&did, &[genesis.clone()])?, PlcState::Active(data));
//! assert_eq!(verify_log(&did, &[genesis, tombstone])?, PlcState::Tombstoned);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use atproto_core::cid::multibase::Base;
use atproto_core::data::{cbor, dag_cbor_cid};
use atproto_core::{Cid, CryptoError, Did, Handle, Keypair, PublicKey, Value};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::did_doc::{
    ATPROTO_KEY_ID, ATPROTO_PDS_ID, ATPROTO_PDS_TYPE, DidDocument, Service, VerificationMethod,
};

/// How long after an operation a higher-priority rotation key may still fork
/// the history before it: 72 hours, in milliseconds (exactly 72 hours is
/// still in time).
pub const RECOVERY_WINDOW_MS: i64 = 72 * 60 * 60 * 1000;

/// Largest operation accepted by [`parse_operation`], in bytes of JSON (the
/// directory refuses operations over 4000 bytes of DAG-CBOR).
pub const MAX_OPERATION_JSON: usize = 16 * 1024;
/// Largest log accepted by [`parse_log`], in bytes of JSON.
pub const MAX_LOG_JSON: usize = 4 * 1024 * 1024;
/// Most operations accepted by [`parse_log`] and [`verify_log`].
pub const MAX_LOG_OPS: usize = 1000;
/// Longest `prev` string parsed as a CID.
const MAX_CID_STRING: usize = 256;
/// Most rotation keys an operation may list (the directory's own limit);
/// bounds the signature checks per operation.
pub const MAX_ROTATION_KEYS: usize = 10;

/// A service entry of a did:plc operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlcService {
    /// The service type, e.g. `AtprotoPersonalDataServer`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The endpoint URL.
    pub endpoint: String,
}

/// The identity data an operation sets (the reference's "document data"
/// without the DID).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlcData {
    /// `did:key`s allowed to sign the next operation, most powerful first.
    pub rotation_keys: Vec<String>,
    /// Verification methods by id; ATProto's signing key is `atproto`.
    pub verification_methods: BTreeMap<String, String>,
    /// Other names; the handle is `at://<handle>`.
    pub also_known_as: Vec<String>,
    /// Services by id; the PDS is `atproto_pds`.
    pub services: BTreeMap<String, PlcService>,
}

/// A regular operation (`type: "plc_operation"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlcOperation {
    /// See [`PlcData::rotation_keys`].
    pub rotation_keys: Vec<String>,
    /// See [`PlcData::verification_methods`].
    pub verification_methods: BTreeMap<String, String>,
    /// See [`PlcData::also_known_as`].
    pub also_known_as: Vec<String>,
    /// See [`PlcData::services`].
    pub services: BTreeMap<String, PlcService>,
    /// The CID string of the previous operation; `None` in a genesis operation.
    pub prev: Option<String>,
    /// The signature, base64url without padding.
    pub sig: String,
}

impl PlcOperation {
    /// The data this operation sets.
    #[must_use]
    pub fn data(&self) -> PlcData {
        PlcData {
            rotation_keys: self.rotation_keys.clone(),
            verification_methods: self.verification_methods.clone(),
            also_known_as: self.also_known_as.clone(),
            services: self.services.clone(),
        }
    }
}

/// A tombstone (`type: "plc_tombstone"`): the DID is deactivated for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// The CID string of the previous operation.
    pub prev: String,
    /// The signature, base64url without padding.
    pub sig: String,
}

/// The legacy genesis operation (`type: "create"`); read, never written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LegacyCreate {
    /// The `did:key` of the signing key (also the second rotation key).
    pub signing_key: String,
    /// The `did:key` of the recovery key (the first rotation key).
    pub recovery_key: String,
    /// The handle, without `at://`.
    pub handle: String,
    /// The PDS URL.
    pub service: String,
    /// Always `null`.
    pub prev: Option<String>,
    /// The signature, base64url without padding.
    pub sig: String,
}

/// A signed did:plc operation of any type. Its JSON form is the directory's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum Operation {
    /// `plc_operation`.
    #[serde(rename = "plc_operation")]
    Plc(PlcOperation),
    /// `plc_tombstone`.
    #[serde(rename = "plc_tombstone")]
    Tombstone(Tombstone),
    /// `create` (legacy genesis).
    #[serde(rename = "create")]
    LegacyCreate(LegacyCreate),
}

/// What a verified log leaves: the current data, or a tombstoned DID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlcState {
    /// The DID is active with this data.
    Active(PlcData),
    /// The last operation is a tombstone.
    Tombstoned,
}

/// Why an operation or log was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlcError {
    /// The input is larger than the documented limit.
    #[error("{what} is {size} bytes (at most {max})")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The size found.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, or not a well-formed operation.
    #[error("malformed did:plc operation: {0}")]
    Json(String),
    /// The log has no operations, or more than [`MAX_LOG_OPS`].
    #[error("a did:plc log must hold 1 to {MAX_LOG_OPS} operations, not {0}")]
    LogLength(usize),
    /// The first operation is not a genesis operation (a tombstone, or `prev`
    /// is not null).
    #[error("operation 0 is not a genesis operation: {0}")]
    NotGenesis(&'static str),
    /// The hash of the genesis operation does not give the DID.
    #[error("genesis operation hashes to {computed}, not {expected}")]
    GenesisHash {
        /// The DID whose log this is.
        expected: String,
        /// The DID the genesis operation gives.
        computed: String,
    },
    /// A legacy `create` operation after the first.
    #[error("operation {index} is a legacy `create` operation, allowed only as genesis")]
    MisplacedCreate {
        /// The operation's position in the log.
        index: usize,
    },
    /// `prev` is not the CID of the previous operation.
    #[error("operation {index}: prev {found:?} is not the previous operation's CID {expected}")]
    WrongPrev {
        /// The operation's position in the log.
        index: usize,
        /// The previous operation's CID.
        expected: String,
        /// The `prev` found (`None` for null).
        found: Option<String>,
    },
    /// An operation after a tombstone.
    #[error("operation {index} follows a tombstone")]
    AfterTombstone {
        /// The operation's position in the log.
        index: usize,
    },
    /// `sig` is not base64url without padding.
    #[error("operation {index}: sig is not base64url without padding")]
    SigEncoding {
        /// The operation's position in the log.
        index: usize,
    },
    /// A rotation key that is not a supported `did:key`.
    #[error("operation {index}: rotation key {key:?} is invalid: {error}")]
    BadRotationKey {
        /// The operation's position in the log.
        index: usize,
        /// The key.
        key: String,
        /// Why it does not parse.
        error: CryptoError,
    },
    /// More than [`MAX_ROTATION_KEYS`] rotation keys may sign this operation.
    #[error("operation {index}: {count} rotation keys may sign it (at most {MAX_ROTATION_KEYS})")]
    TooManyRotationKeys {
        /// The operation's position in the log.
        index: usize,
        /// The number of rotation keys.
        count: usize,
    },
    /// No allowed rotation key verifies the signature (strict: 64-byte
    /// `r‖s`, low-S). For an operation that forks the history, the allowed
    /// keys are only those of higher priority than the key that signed the
    /// operation it nullifies.
    #[error("operation {index}: signature is not valid for any allowed rotation key")]
    BadSignature {
        /// The operation's position in the log.
        index: usize,
    },
    /// An audit-log entry for another DID.
    #[error("audit log entry {index} is for {found}, not this DID")]
    WrongDid {
        /// The entry's position in the log.
        index: usize,
        /// The entry's `did`.
        found: String,
    },
    /// An audit-log entry's `cid` is not its operation's CID.
    #[error("audit log entry {index}: cid {claimed} is not the operation's CID {computed}")]
    CidMismatch {
        /// The entry's position in the log.
        index: usize,
        /// The entry's `cid`.
        claimed: String,
        /// The operation's CID.
        computed: String,
    },
    /// An audit-log entry's `createdAt` is not a datetime, or is earlier than
    /// the entry before it.
    #[error("audit log entry {index}: createdAt {value:?} is not a datetime in log order")]
    BadTimestamp {
        /// The entry's position in the log.
        index: usize,
        /// The entry's `createdAt`.
        value: String,
    },
    /// `prev` is not the CID of an operation still in the history (unknown,
    /// later, or nullified).
    #[error("operation {index}: prev {prev:?} is not an operation of the current history")]
    UnknownPrev {
        /// The operation's position in the log.
        index: usize,
        /// The `prev` found (`None` for null).
        prev: Option<String>,
    },
    /// A fork more than [`RECOVERY_WINDOW_MS`] after the first operation it
    /// nullifies.
    #[error(
        "operation {index} forks the history {elapsed_ms} ms after the operation it nullifies (at most {RECOVERY_WINDOW_MS})"
    )]
    LateRecovery {
        /// The operation's position in the log.
        index: usize,
        /// The time from the first nullified operation to this one.
        elapsed_ms: i64,
    },
    /// An audit-log entry's `nullified` flag is not what the operations after
    /// it make it.
    #[error("audit log entry {index} says nullified = {claimed}, the log makes it {computed}")]
    NullifiedMismatch {
        /// The entry's position in the log.
        index: usize,
        /// The entry's flag.
        claimed: bool,
        /// The flag the replay gives.
        computed: bool,
    },
}

impl PlcData {
    /// The usual ATProto data: signing key `atproto`, handle
    /// `at://<handle>`, PDS `atproto_pds` of type `AtprotoPersonalDataServer`
    /// (`https://` is prefixed unless the URL has `http://` or `https://`),
    /// and the rotation keys in order of power.
    #[must_use]
    pub fn atproto(
        signing_key: &PublicKey,
        handle: &Handle,
        pds: &str,
        rotation_keys: &[PublicKey],
    ) -> Self {
        PlcData {
            rotation_keys: rotation_keys.iter().map(PublicKey::to_did_key).collect(),
            verification_methods: BTreeMap::from([(
                ATPROTO_KEY_ID.to_owned(),
                signing_key.to_did_key(),
            )]),
            also_known_as: vec![format!("at://{}", handle.as_str())],
            services: pds_service(pds),
        }
    }

    /// The DID document of `did` with this data, formatted as the directory
    /// serves it (keys as `Multikey` with ids `did#id`, services `#id`).
    #[must_use]
    pub fn to_did_document(&self, did: &Did) -> DidDocument {
        let mut context = vec![
            "https://www.w3.org/ns/did/v1".to_owned(),
            "https://w3id.org/security/multikey/v1".to_owned(),
        ];
        let mut verification_method = Vec::with_capacity(self.verification_methods.len());
        for (id, key) in &self.verification_methods {
            let suite = match PublicKey::from_did_key(key).map(|k| k.curve()) {
                Ok(atproto_core::Curve::K256) => {
                    Some("https://w3id.org/security/suites/secp256k1-2019/v1")
                }
                Ok(atproto_core::Curve::P256) => {
                    Some("https://w3id.org/security/suites/ecdsa-2019/v1")
                }
                _ => None,
            };
            if let Some(suite) = suite
                && !context.iter().any(|c| c == suite)
            {
                context.push(suite.to_owned());
            }
            verification_method.push(VerificationMethod {
                id: format!("{did}#{id}"),
                type_: "Multikey".to_owned(),
                controller: Some(did.as_str().to_owned()),
                public_key_multibase: Some(key.strip_prefix("did:key:").unwrap_or(key).to_owned()),
            });
        }
        DidDocument {
            context,
            id: did.as_str().to_owned(),
            also_known_as: self.also_known_as.clone(),
            verification_method,
            service: self
                .services
                .iter()
                .map(|(id, s)| Service {
                    id: format!("#{id}"),
                    type_: s.type_.clone(),
                    service_endpoint: serde_json::Value::String(s.endpoint.clone()),
                })
                .collect(),
        }
    }

    fn insert_into(&self, map: &mut BTreeMap<String, Value>) {
        let strings =
            |v: &[String]| Value::Array(v.iter().map(|s| Value::from(s.as_str())).collect());
        map.insert("rotationKeys".into(), strings(&self.rotation_keys));
        map.insert(
            "verificationMethods".into(),
            Value::Map(
                self.verification_methods
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect(),
            ),
        );
        map.insert("alsoKnownAs".into(), strings(&self.also_known_as));
        map.insert(
            "services".into(),
            Value::Map(
                self.services
                    .iter()
                    .map(|(k, s)| {
                        let entry = BTreeMap::from([
                            ("type".to_owned(), Value::from(s.type_.as_str())),
                            ("endpoint".to_owned(), Value::from(s.endpoint.as_str())),
                        ]);
                        (k.clone(), Value::Map(entry))
                    })
                    .collect(),
            ),
        );
    }
}

impl Operation {
    /// Signs a genesis operation setting `data`, and returns it with its DID.
    /// `signer` should be one of `data.rotation_keys`, or the directory will
    /// refuse the operation.
    #[must_use]
    pub fn genesis(data: PlcData, signer: &Keypair) -> (Operation, Did) {
        let op = Operation::signed_plc(data, None, signer);
        let did = op.genesis_did();
        (op, did)
    }

    /// Signs an operation that follows `prev` and sets `data`. `signer` must
    /// be one of `prev`'s rotation keys.
    #[must_use]
    pub fn update(prev: &Operation, data: PlcData, signer: &Keypair) -> Operation {
        Operation::signed_plc(data, Some(prev.cid().to_string()), signer)
    }

    /// Signs a tombstone that follows `prev`. `signer` must be one of
    /// `prev`'s rotation keys.
    #[must_use]
    pub fn tombstone(prev: &Operation, signer: &Keypair) -> Operation {
        let mut op = Operation::Tombstone(Tombstone {
            prev: prev.cid().to_string(),
            sig: String::new(),
        });
        op.sign(signer);
        op
    }

    fn signed_plc(data: PlcData, prev: Option<String>, signer: &Keypair) -> Operation {
        let mut op = Operation::Plc(PlcOperation {
            rotation_keys: data.rotation_keys,
            verification_methods: data.verification_methods,
            also_known_as: data.also_known_as,
            services: data.services,
            prev,
            sig: String::new(),
        });
        op.sign(signer);
        op
    }

    fn sign(&mut self, signer: &Keypair) {
        let sig = URL_SAFE_NO_PAD.encode(signer.sign(&self.unsigned_cbor()));
        match self {
            Operation::Plc(op) => op.sig = sig,
            Operation::Tombstone(op) => op.sig = sig,
            Operation::LegacyCreate(op) => op.sig = sig,
        }
    }

    /// The `sig` string.
    #[must_use]
    pub fn sig(&self) -> &str {
        match self {
            Operation::Plc(op) => &op.sig,
            Operation::Tombstone(op) => &op.sig,
            Operation::LegacyCreate(op) => &op.sig,
        }
    }

    /// The `prev` string (`None` when null).
    #[must_use]
    pub fn prev(&self) -> Option<&str> {
        match self {
            Operation::Plc(op) => op.prev.as_deref(),
            Operation::Tombstone(op) => Some(&op.prev),
            Operation::LegacyCreate(op) => op.prev.as_deref(),
        }
    }

    /// The data this operation sets (a legacy `create` read as the reference
    /// normalises it); `None` for a tombstone.
    #[must_use]
    pub fn data(&self) -> Option<PlcData> {
        match self {
            Operation::Plc(op) => Some(op.data()),
            Operation::Tombstone(_) => None,
            Operation::LegacyCreate(op) => {
                let handle = op.handle.replace("http://", "").replace("https://", "");
                let handle = if op.handle.starts_with("at://") {
                    op.handle.clone()
                } else {
                    format!("at://{handle}")
                };
                Some(PlcData {
                    rotation_keys: vec![op.recovery_key.clone(), op.signing_key.clone()],
                    verification_methods: BTreeMap::from([(
                        ATPROTO_KEY_ID.to_owned(),
                        op.signing_key.clone(),
                    )]),
                    also_known_as: vec![handle],
                    services: pds_service(&op.service),
                })
            }
        }
    }

    /// The operation as a data-model map, with or without `sig`.
    fn to_value(&self, with_sig: bool) -> Value {
        let mut map = BTreeMap::new();
        let text = |s: &str| Value::from(s);
        let prev = |p: Option<&str>| p.map_or(Value::Null, text);
        match self {
            Operation::Plc(op) => {
                map.insert("type".into(), text("plc_operation"));
                op.data().insert_into(&mut map);
                map.insert("prev".into(), prev(op.prev.as_deref()));
            }
            Operation::Tombstone(op) => {
                map.insert("type".into(), text("plc_tombstone"));
                map.insert("prev".into(), text(&op.prev));
            }
            Operation::LegacyCreate(op) => {
                map.insert("type".into(), text("create"));
                map.insert("signingKey".into(), text(&op.signing_key));
                map.insert("recoveryKey".into(), text(&op.recovery_key));
                map.insert("handle".into(), text(&op.handle));
                map.insert("service".into(), text(&op.service));
                map.insert("prev".into(), prev(op.prev.as_deref()));
            }
        }
        if with_sig {
            map.insert("sig".into(), text(self.sig()));
        }
        Value::Map(map)
    }

    /// The DAG-CBOR bytes that `sig` signs: the operation without `sig`.
    #[must_use]
    pub fn unsigned_cbor(&self) -> Vec<u8> {
        cbor::encode(&self.to_value(false))
    }

    /// The DAG-CBOR bytes of the signed operation.
    #[must_use]
    pub fn signed_cbor(&self) -> Vec<u8> {
        cbor::encode(&self.to_value(true))
    }

    /// The operation's CID (DAG-CBOR, sha-256): what the next `prev` names.
    #[must_use]
    pub fn cid(&self) -> Cid {
        dag_cbor_cid(&self.signed_cbor())
    }

    /// The DID this operation gives as genesis: `did:plc:` + the first 24
    /// characters of base32-lower(sha256(signed DAG-CBOR)).
    #[must_use]
    pub fn genesis_did(&self) -> Did {
        let cid = self.cid();
        let b32 = Base::Base32Lower.encode(cid.hash().digest());
        let did = format!("did:plc:{}", b32.get(..24).unwrap_or(&b32));
        // `did:plc:` and 24 characters of `[a-z2-7]` always make a valid DID.
        #[allow(clippy::expect_used)]
        did.parse().expect("did:plc: + base32 is a valid DID")
    }

    /// Checks `sig` against `allowed` (`did:key`s, tried in order) and
    /// returns the position of the key that signed.
    ///
    /// `index` is the operation's position in its log, for the errors.
    ///
    /// # Errors
    /// [`PlcError::TooManyRotationKeys`] for more than [`MAX_ROTATION_KEYS`]
    /// keys, [`PlcError::SigEncoding`], [`PlcError::BadRotationKey`] for a key
    /// that does not parse before one verifies, [`PlcError::BadSignature`].
    pub fn verify_signature(&self, allowed: &[String], index: usize) -> Result<usize, PlcError> {
        if allowed.len() > MAX_ROTATION_KEYS {
            return Err(PlcError::TooManyRotationKeys {
                index,
                count: allowed.len(),
            });
        }
        let sig = URL_SAFE_NO_PAD
            .decode(self.sig())
            .map_err(|_| PlcError::SigEncoding { index })?;
        let msg = self.unsigned_cbor();
        for (i, key) in allowed.iter().enumerate() {
            let public =
                PublicKey::from_did_key(key).map_err(|error| PlcError::BadRotationKey {
                    index,
                    key: key.clone(),
                    error,
                })?;
            if public.verify(&msg, &sig).is_ok() {
                return Ok(i);
            }
        }
        Err(PlcError::BadSignature { index })
    }
}

/// The `atproto_pds` service map for `pds`, with `https://` prefixed unless
/// it has `http://` or `https://` (as the reference does).
fn pds_service(pds: &str) -> BTreeMap<String, PlcService> {
    let endpoint = if pds.starts_with("https://") || pds.starts_with("http://") {
        pds.to_owned()
    } else {
        format!("https://{pds}")
    };
    BTreeMap::from([(
        ATPROTO_PDS_ID.to_owned(),
        PlcService {
            type_: ATPROTO_PDS_TYPE.to_owned(),
            endpoint,
        },
    )])
}

/// Parses one operation from JSON, at most [`MAX_OPERATION_JSON`] bytes.
/// Unknown fields and unknown types are rejected, as the directory does.
///
/// # Errors
/// [`PlcError::TooLarge`] or [`PlcError::Json`].
pub fn parse_operation(json: &[u8]) -> Result<Operation, PlcError> {
    if json.len() > MAX_OPERATION_JSON {
        return Err(PlcError::TooLarge {
            what: "operation",
            size: json.len(),
            max: MAX_OPERATION_JSON,
        });
    }
    serde_json::from_slice(json).map_err(|e| PlcError::Json(e.to_string()))
}

/// Parses a log (a JSON array of operations, as the directory's `/log`
/// serves it), at most [`MAX_LOG_JSON`] bytes and [`MAX_LOG_OPS`] operations.
///
/// # Errors
/// [`PlcError::TooLarge`], [`PlcError::Json`] or [`PlcError::LogLength`].
pub fn parse_log(json: &[u8]) -> Result<Vec<Operation>, PlcError> {
    parse_list("log", json)
}

/// Reads a JSON array of at most [`MAX_LOG_JSON`] bytes and 1 to
/// [`MAX_LOG_OPS`] entries.
fn parse_list<T: serde::de::DeserializeOwned>(
    what: &'static str,
    json: &[u8],
) -> Result<Vec<T>, PlcError> {
    if json.len() > MAX_LOG_JSON {
        return Err(PlcError::TooLarge {
            what,
            size: json.len(),
            max: MAX_LOG_JSON,
        });
    }
    let list: Vec<T> = serde_json::from_slice(json).map_err(|e| PlcError::Json(e.to_string()))?;
    if list.is_empty() || list.len() > MAX_LOG_OPS {
        return Err(PlcError::LogLength(list.len()));
    }
    Ok(list)
}

/// Verifies the log of `did` (its canonical history, oldest first) and
/// returns the resulting state.
///
/// Checks: the first operation is a genesis (`plc_operation` or legacy
/// `create`, `prev` null) signed by one of its own rotation keys and hashing
/// to `did`; each later one is a `plc_operation` or `plc_tombstone` whose
/// `prev` is the CID of the one before and which is signed by one of that
/// one's rotation keys; a tombstone can only be last. Signatures are strict:
/// base64url without padding, 64-byte `r‖s`, low-S.
///
/// # Errors
/// The [`PlcError`] of the first operation that fails.
pub fn verify_log(did: &Did, ops: &[Operation]) -> Result<PlcState, PlcError> {
    let Some((first, rest)) = ops.split_first() else {
        return Err(PlcError::LogLength(0));
    };
    if ops.len() > MAX_LOG_OPS {
        return Err(PlcError::LogLength(ops.len()));
    }
    let Some(mut data) = first.data() else {
        return Err(PlcError::NotGenesis("a tombstone"));
    };
    first.verify_signature(&data.rotation_keys, 0)?;
    let computed = first.genesis_did();
    if computed != *did {
        return Err(PlcError::GenesisHash {
            expected: did.as_str().to_owned(),
            computed: computed.into_string(),
        });
    }
    if first.prev().is_some() {
        return Err(PlcError::NotGenesis("prev is not null"));
    }
    let mut prev_cid = first.cid();
    for (i, op) in rest.iter().enumerate() {
        let index = i + 1;
        if matches!(op, Operation::LegacyCreate(_)) {
            return Err(PlcError::MisplacedCreate { index });
        }
        let linked = op
            .prev()
            // A CID string is about 60 characters; the bound keeps the
            // base58 decoder (quadratic) from seeing megabytes.
            .filter(|p| p.len() <= MAX_CID_STRING)
            .and_then(|p| Cid::try_from(p).ok())
            .is_some_and(|p| p == prev_cid);
        if !linked {
            return Err(PlcError::WrongPrev {
                index,
                expected: prev_cid.to_string(),
                found: op.prev().map(str::to_owned),
            });
        }
        op.verify_signature(&data.rotation_keys, index)?;
        match op.data() {
            Some(next) => data = next,
            None if index == ops.len() - 1 => return Ok(PlcState::Tombstoned),
            None => return Err(PlcError::AfterTombstone { index: index + 1 }),
        }
        prev_cid = op.cid();
    }
    Ok(PlcState::Active(data))
}

/// One entry of the directory's audit log (`GET /{did}/log/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// The DID.
    pub did: String,
    /// The signed operation.
    pub operation: Operation,
    /// The operation's CID, as the directory computed it.
    pub cid: String,
    /// Whether a later fork nullified it.
    pub nullified: bool,
    /// When the directory accepted it (RFC 3339).
    pub created_at: String,
}

/// Reads an audit log (a JSON array of [`AuditEntry`]), at most
/// [`MAX_LOG_JSON`] bytes and 1 to [`MAX_LOG_OPS`] entries.
///
/// # Errors
/// [`PlcError::TooLarge`], [`PlcError::Json`] or [`PlcError::LogLength`].
pub fn parse_audit_log(json: &[u8]) -> Result<Vec<AuditEntry>, PlcError> {
    parse_list("audit log", json)
}

/// Replays an audit log of `did` with the fork and nullification rules (see
/// the [module docs](self)) and returns the state its current history
/// leaves. Each entry must be for `did`, carry its operation's CID, and be
/// in `createdAt` order; each `nullified` flag must be what the replay gives.
///
/// # Errors
/// The errors of [`replay_audit_log`], and [`PlcError::NullifiedMismatch`].
pub fn verify_audit_log(did: &Did, entries: &[AuditEntry]) -> Result<PlcState, PlcError> {
    let replay = replay_audit_log(did, entries)?;
    for (index, (entry, computed)) in entries.iter().zip(replay.nullified).enumerate() {
        if entry.nullified != computed {
            return Err(PlcError::NullifiedMismatch {
                index,
                claimed: entry.nullified,
                computed,
            });
        }
    }
    Ok(replay.state)
}

/// What replaying an audit log gives (see [`replay_audit_log`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReplay {
    /// The state the current history leaves.
    pub state: PlcState,
    /// For each entry, whether a later fork nullifies it.
    pub nullified: Vec<bool>,
}

/// Replays an audit log of `did` as [`verify_audit_log`] does, but reads no
/// `nullified` flag: it returns the flags the operations give. A directory
/// checks a submitted operation with it: the stored log plus the new entry
/// (stamped with its arrival time) must replay, and the flags that turn
/// `true` are the operations the new one nullifies.
///
/// # Errors
/// The errors of [`verify_log`] (with entry positions as indexes),
/// [`PlcError::WrongDid`], [`PlcError::CidMismatch`],
/// [`PlcError::BadTimestamp`], [`PlcError::UnknownPrev`] (`prev` not in the
/// current history, e.g. a nullified operation), [`PlcError::BadSignature`]
/// (also a fork not signed by a higher-priority key),
/// [`PlcError::LateRecovery`].
pub fn replay_audit_log(did: &Did, entries: &[AuditEntry]) -> Result<AuditReplay, PlcError> {
    /// An operation of the current history.
    struct Kept {
        cid: Cid,
        data: Option<PlcData>,
        created_ms: i64,
        index: usize,
    }
    if entries.is_empty() || entries.len() > MAX_LOG_OPS {
        return Err(PlcError::LogLength(entries.len()));
    }
    let mut history: Vec<Kept> = Vec::new();
    let mut nullified = vec![false; entries.len()];
    let mut last_ms = i64::MIN;
    for (index, entry) in entries.iter().enumerate() {
        if entry.did != did.as_str() {
            return Err(PlcError::WrongDid {
                index,
                found: entry.did.clone(),
            });
        }
        let created_ms = entry
            .created_at
            .parse::<atproto_core::syntax::Datetime>()
            .ok()
            .map(|t| t.timestamp_micros().div_euclid(1000))
            .filter(|ms| *ms >= last_ms)
            .ok_or_else(|| PlcError::BadTimestamp {
                index,
                value: entry.created_at.clone(),
            })?;
        last_ms = created_ms;
        let op = &entry.operation;
        let cid = op.cid();
        if cid.to_string() != entry.cid {
            return Err(PlcError::CidMismatch {
                index,
                claimed: entry.cid.clone(),
                computed: cid.to_string(),
            });
        }
        if index == 0 {
            verify_log(did, std::slice::from_ref(op))?;
        } else {
            if matches!(op, Operation::LegacyCreate(_)) {
                return Err(PlcError::MisplacedCreate { index });
            }
            let prev = op
                .prev()
                .filter(|p| p.len() <= MAX_CID_STRING)
                .and_then(|p| Cid::try_from(p).ok());
            let Some(pos) = history.iter().position(|k| Some(k.cid) == prev) else {
                return Err(PlcError::UnknownPrev {
                    index,
                    prev: op.prev().map(str::to_owned),
                });
            };
            let Some(base) = &history[pos].data else {
                return Err(PlcError::AfterTombstone { index });
            };
            match history.get(pos + 1) {
                None => {
                    op.verify_signature(&base.rotation_keys, index)?;
                }
                Some(disputed) => {
                    // A fork: only keys above the disputed operation's signer.
                    let signer = entries[disputed.index]
                        .operation
                        .verify_signature(&base.rotation_keys, disputed.index)?;
                    op.verify_signature(&base.rotation_keys[..signer], index)?;
                    let elapsed_ms = created_ms.saturating_sub(disputed.created_ms);
                    if elapsed_ms > RECOVERY_WINDOW_MS {
                        return Err(PlcError::LateRecovery { index, elapsed_ms });
                    }
                    for gone in history.drain(pos + 1..) {
                        nullified[gone.index] = true;
                    }
                }
            }
        }
        history.push(Kept {
            cid,
            data: op.data(),
            created_ms,
            index,
        });
    }
    let state = match history.last().and_then(|k| k.data.clone()) {
        Some(data) => PlcState::Active(data),
        None => PlcState::Tombstoned,
    };
    Ok(AuditReplay { state, nullified })
}
