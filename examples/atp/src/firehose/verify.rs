//! `atp firehose verify FILE (--keys KEYS.json | --plc URL)`.
//!
//! FILE is a capture: each binary WebSocket message unchanged, as `unsigned
//! LEB128 length ‖ bytes`. Every frame is decoded and every `#commit` fully
//! validated in strict mode by `atproto_firehose::Validator` (CAR hashes,
//! root = commit, did/rev, signature, record blocks present, MST inversion
//! to `prevData`, the rev/since chain of each account through the file);
//! `#sync`, `#account` and `#identity` update the accounts' state.
//!
//! Keys: `--keys` reads `{"did:…": "did:key:…"}`; `--plc URL` resolves each
//! DID's signing key through that PLC directory (did:web over HTTPS), once
//! per DID, and once more when a signature fails (the key may have been
//! rotated).
//!
//! Prints `{"frames","commits","verified","errors":[{"seq","reason"}…]}`:
//! `verified` counts the commits accepted; an error is a frame that does not
//! decode (`seq` null), an event rejected, a commit that does not follow its
//! account's previous one (`desynchronized: …`) or an error frame. Exit 0
//! iff there is no error, 1 otherwise, 2 for an unreadable FILE or a bad
//! keys file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use atproto_core::PublicKey;
use atproto_core::syntax::Did;
use atproto_firehose::{CaptureReader, Frame, Mode, Outcome, Validator};
use atproto_xrpc::ReqwestClient;
use atproto_xrpc::identity::{DidResolver, Resolver};
use serde_json::{Value, json};

use crate::identity::did_resolver;
use crate::xrpc::runtime;
use crate::{CmdError, CmdResult};

/// Arguments of `atp firehose verify`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("key-source").required(true).args(["keys", "plc"])))]
pub struct Args {
    /// The capture file.
    file: PathBuf,
    /// A JSON object mapping each DID to its signing key as did:key.
    #[arg(long, value_name = "KEYS.json")]
    keys: Option<PathBuf>,
    /// Resolve signing keys through this did:plc directory.
    #[arg(long, value_name = "URL")]
    plc: Option<String>,
}

/// Runs `atp firehose verify`.
pub fn run(args: Args) -> CmdResult {
    let data = std::fs::read(&args.file)
        .map_err(|e| CmdError::Setup(format!("cannot read {}: {e}", args.file.display())))?;
    let mut keys = match (&args.keys, &args.plc) {
        (Some(path), _) => Keys::File(read_keys(path)?),
        (None, Some(plc)) => Keys::Plc(Box::new(Plc {
            resolver: did_resolver(plc)?,
            runtime: runtime()?,
            cache: BTreeMap::new(),
        })),
        (None, None) => return Err(CmdError::Setup("give --keys or --plc".into())),
    };
    let now = now_micros();
    let mut validator = Validator::in_memory(Mode::Strict);
    let (mut frames, mut commits, mut verified) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for record in CaptureReader::new(bytes::Bytes::from(data)) {
        frames += 1;
        let frame = match record {
            Ok(record) => record.frame,
            Err(e) => {
                errors.push(json!({"seq": Value::Null, "reason": e.to_string()}));
                continue;
            }
        };
        let seq = frame.seq();
        let did = match &frame {
            Frame::Commit(c) => {
                commits += 1;
                c.repo.parse::<Did>().ok()
            }
            Frame::Sync(s) => s.did.parse::<Did>().ok(),
            Frame::Error(e) => {
                let message = e.message.as_deref().unwrap_or("");
                errors.push(
                    json!({"seq": seq, "reason": format!("error frame {}: {message}", e.error)}),
                );
                continue;
            }
            _ => None,
        };
        if let Some(did) = &did {
            keys.prepare(did, false);
        }
        let mut outcome = validate(&mut validator, &frame, &keys, now)?;
        if let (Some(did), Some(e)) = (&did, outcome.rejection())
            && e.is_key_maybe_stale()
            && keys.prepare(did, true)
        {
            // Re-resolved once: the same event again (a rejection changed
            // no state).
            outcome = validate(&mut validator, &frame, &keys, now)?;
        }
        match outcome {
            Outcome::Accepted { .. } => verified += u64::from(matches!(frame, Frame::Commit(_))),
            Outcome::Desynchronized { reason, .. } => {
                errors.push(json!({"seq": seq, "reason": format!("desynchronized: {reason}")}));
            }
            Outcome::Rejected(e) => {
                errors.push(json!({"seq": seq, "reason": keys.explain(did.as_ref(), &e)}));
            }
            _ => {}
        }
    }
    // The contract's key order (a `json!` map would sort the keys).
    println!(
        "{{\"frames\":{frames},\"commits\":{commits},\"verified\":{verified},\"errors\":{}}}",
        Value::Array(errors.clone())
    );
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn validate(
    validator: &mut Validator,
    frame: &Frame,
    keys: &Keys,
    now: u64,
) -> Result<Outcome, CmdError> {
    validator
        .frame(frame, keys, now)
        .map_err(|e| CmdError::Setup(e.to_string()))
}

/// Where the signing keys come from.
enum Keys {
    /// A keys file.
    File(BTreeMap<String, PublicKey>),
    /// A DID resolver.
    Plc(Box<Plc>),
}

/// A DID resolver, and what it said for each DID so far (the key, or why
/// there is none).
struct Plc {
    resolver: Resolver<ReqwestClient>,
    runtime: tokio::runtime::Runtime,
    cache: BTreeMap<Did, Result<PublicKey, String>>,
}

impl Keys {
    /// Makes sure `did` was resolved (`again`: resolve it once more,
    /// bypassing any cache). Whether a (new) resolution ran.
    fn prepare(&mut self, did: &Did, again: bool) -> bool {
        let Keys::Plc(plc) = self else {
            return false;
        };
        let Plc {
            resolver,
            runtime,
            cache,
        } = &mut **plc;
        if cache.contains_key(did) && !again {
            return false;
        }
        let fetched = runtime.block_on(async {
            let doc = if again {
                resolver.refresh_did(did).await
            } else {
                resolver.resolve_did(did).await
            };
            doc.map_err(|e| format!("cannot resolve {did}: {e}"))?
                .signing_key()
                .map_err(|e| format!("{did} has no usable signing key: {e}"))
        });
        cache.insert(did.clone(), fetched);
        true
    }

    /// The reason printed for a rejection: why there is no key when the
    /// resolver said so.
    fn explain(&self, did: Option<&Did>, e: &atproto_firehose::ValidationError) -> String {
        if let (Keys::Plc(plc), Some(did), atproto_firehose::ValidationError::NoKey { .. }) =
            (self, did, e)
            && let Some(Err(why)) = plc.cache.get(did)
        {
            return format!("{e}: {why}");
        }
        e.to_string()
    }
}

impl atproto_firehose::KeySource for Keys {
    fn signing_key(&self, did: &Did) -> Option<PublicKey> {
        match self {
            Keys::File(map) => map.signing_key(did),
            Keys::Plc(plc) => plc.cache.get(did).and_then(|k| k.as_ref().ok()).cloned(),
        }
    }
}

/// Reads `{"did:…": "did:key:…"}`.
fn read_keys(path: &PathBuf) -> Result<BTreeMap<String, PublicKey>, CmdError> {
    let bad = |why: String| CmdError::Setup(format!("keys file {}: {why}", path.display()));
    let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("not a JSON object of strings: {e}")))?;
    map.into_iter()
        .map(|(did, key)| {
            did.parse::<Did>()
                .map_err(|e| bad(format!("{did:?} is not a DID: {e}")))?;
            let key = key
                .parse::<PublicKey>()
                .map_err(|e| bad(format!("the key of {did} is not a did:key: {e}")))?;
            Ok((did, key))
        })
        .collect()
}

/// Microseconds since the Unix epoch.
fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
