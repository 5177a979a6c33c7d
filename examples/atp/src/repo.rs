//! `atp repo create|ls|get`: build, list and read repositories as CAR files.
//!
//! - `create --did DID --key-hex HEX [--curve k256|p256] --records FILE --out OUT.car`:
//!   FILE holds JSON lines `{"collection": NSID, "rkey": RKEY, "value": record}`
//!   (ATProto JSON); writes the signed repository as CAR and prints
//!   `{"commit","data","rev","records"}` as JSON.
//! - `ls FILE`: one `collection/rkey CID` line per record, in key order.
//! - `get FILE COLLECTION/RKEY`: the record as ATProto JSON.
//!
//! `ls` and `get` fully verify the CAR first (hashes, commit, MST, records).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use atproto_core::crypto::{Curve, Keypair};
use atproto_core::data::{cbor, json};
use atproto_core::syntax::{Did, Nsid, RecordKey};
use atproto_repo::repo::{RecordValue, RecordWrite, Repo};
use atproto_repo::{MemoryBlockStore, RecordPath};
use bytes::Bytes;

use crate::CmdResult;

/// Subcommands of `atp repo`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a signed repository from JSON-lines records and write it as CAR.
    Create {
        /// The repository's DID.
        #[arg(long)]
        did: String,
        /// The signing key's 32 private bytes as hex.
        #[arg(long)]
        key_hex: String,
        /// The signing key's curve.
        #[arg(long, default_value = "k256")]
        curve: Curve,
        /// JSON lines: {"collection": NSID, "rkey": RKEY, "value": record}.
        #[arg(long)]
        records: PathBuf,
        /// Where to write the CAR.
        #[arg(long)]
        out: PathBuf,
    },
    /// List every record of a repository CAR: `collection/rkey CID`.
    Ls {
        /// The CAR file.
        file: PathBuf,
    },
    /// Print one record of a repository CAR as ATProto JSON.
    Get {
        /// The CAR file.
        file: PathBuf,
        /// The record's path, `collection/rkey`.
        path: String,
    },
}

/// Runs `atp repo`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Create {
            did,
            key_hex,
            curve,
            records,
            out,
        } => create(&did, &key_hex, curve, &records, &out),
        Command::Ls { file } => {
            let repo = load(&file)?;
            let mut stdout = BufWriter::new(std::io::stdout().lock());
            for entry in repo.records() {
                let (path, cid) = entry.map_err(|e| e.to_string())?;
                writeln!(stdout, "{path} {cid}").map_err(|e| e.to_string())?;
            }
            stdout.flush().map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get { file, path } => {
            let path: RecordPath = path.parse().map_err(|e| format!("{e}"))?;
            let repo = load(&file)?;
            let (_, block) = repo
                .get_path(&path)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no record at {path}"))?;
            let value = cbor::decode(&block).map_err(|e| format!("record {path}: {e}"))?;
            println!("{}", json::to_string(&value));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and fully verifies a repository CAR.
fn load(file: &Path) -> Result<Repo<MemoryBlockStore>, String> {
    let car = Bytes::from(crate::progress::read_file(file)?);
    let spinner = crate::progress::spinner("verifying");
    let result = Repo::from_car(car, None, None);
    spinner.finish_and_clear();
    result
        .map(|(repo, _)| repo)
        .map_err(|e| format!("{}: invalid repository: {e}", file.display()))
}

/// Parses one JSON line of the records file into a create.
fn parse_write(line: &str) -> Result<RecordWrite, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let field = |name: &str| v.get(name).ok_or_else(|| format!("missing \"{name}\""));
    let text = |name: &str| {
        field(name)?
            .as_str()
            .ok_or_else(|| format!("\"{name}\" is not a string"))
    };
    let collection: Nsid = text("collection")?.parse().map_err(|e| format!("{e}"))?;
    let rkey: RecordKey = text("rkey")?.parse().map_err(|e| format!("{e}"))?;
    let value = json::record_from_json(field("value")?).map_err(|e| format!("value: {e}"))?;
    Ok(RecordWrite::Create {
        collection,
        rkey,
        value: RecordValue::Value(value),
    })
}

fn create(did: &str, key_hex: &str, curve: Curve, records: &Path, out: &Path) -> CmdResult {
    let did: Did = did.parse().map_err(|e| format!("--did: {e}"))?;
    let key_bytes = hex::decode(key_hex.trim()).map_err(|e| format!("--key-hex: {e}"))?;
    let keypair =
        Keypair::from_private_bytes(curve, &key_bytes).map_err(|e| format!("--key-hex: {e}"))?;
    let text = std::fs::read_to_string(records)
        .map_err(|e| format!("cannot read {}: {e}", records.display()))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let bar = crate::progress::counter("parsing records", lines.len() as u64);
    let mut writes = Vec::with_capacity(lines.len());
    for (n, line) in lines {
        writes.push(
            parse_write(line).map_err(|e| format!("{} line {}: {e}", records.display(), n + 1))?,
        );
        bar.inc(1);
    }
    bar.finish_and_clear();

    let spinner = crate::progress::spinner("building and signing the repository");
    let (mut repo, commit) = Repo::create(MemoryBlockStore::new(), did, &keypair, &writes)
        .map_err(|e| format!("cannot create the repository: {e}"))?;
    spinner.set_message(format!("writing {}", out.display()));
    let file =
        std::fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut file = repo
        .export_car(BufWriter::new(file))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    file.flush()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    spinner.finish_and_clear();

    let summary = serde_json::json!({
        "commit": commit.cid.to_string(),
        "data": commit.data.to_string(),
        "rev": commit.rev.as_str(),
        "records": writes.len(),
    });
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}
