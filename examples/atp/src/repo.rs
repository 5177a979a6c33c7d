//! `atp repo create|ls|get`: build, list and read repositories as CAR files.
//!
//! - `create --did DID --key-file KEYFILE [--curve k256|p256] --records FILE --out OUT.car`:
//!   KEYFILE holds the signing key (see [`crate::key`]); FILE holds JSON
//!   lines `{"collection": NSID, "rkey": RKEY, "value": record}` (ATProto
//!   JSON); writes the signed repository as CAR and prints
//!   `{"commit","data","rev","records"}` as JSON.
//! - `ls FILE`: one `collection/rkey CID` line per record, in key order.
//! - `get FILE COLLECTION/RKEY`: the record as ATProto JSON.
//!
//! `ls` and `get` fully verify the CAR first (hashes, commit, MST, records;
//! not the signature, as no key is given: `atp car verify --did-key` checks
//! it).
//!
//! Exit 1: a records line that is not a valid record, a repository that
//! cannot be built from them (such as a path given twice), a CAR that fails
//! verification, no record at the path. Exit 2: a flag value that does not
//! parse (`--did`), a bad key file, a file that cannot be read or written.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use atproto_core::crypto::Curve;
use atproto_core::data::{cbor, json};
use atproto_core::syntax::{Did, Nsid, RecordKey};
use atproto_repo::repo::{RecordValue, RecordWrite, Repo};
use atproto_repo::{MemoryBlockStore, RecordPath};
use bytes::Bytes;

use crate::{CmdError, CmdResult};

/// Subcommands of `atp repo`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a signed repository from JSON-lines records and write it as CAR.
    Create {
        /// The repository's DID.
        #[arg(long)]
        did: String,
        /// The key file holding the signing key (64 hex digits).
        #[arg(long)]
        key_file: PathBuf,
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
            key_file,
            curve,
            records,
            out,
        } => create(&did, &key_file, curve, &records, &out),
        Command::Ls { file } => {
            let repo = load(&file)?;
            let mut stdout = BufWriter::new(std::io::stdout().lock());
            for entry in repo.records() {
                let (path, cid) = entry.map_err(|e| CmdError::No(e.to_string()))?;
                writeln!(stdout, "{path} {cid}").map_err(CmdError::stdout)?;
            }
            stdout.flush().map_err(CmdError::stdout)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get { file, path } => {
            let path: RecordPath = path.parse().map_err(|e| CmdError::No(format!("{e}")))?;
            let repo = load(&file)?;
            let (_, block) = repo
                .get_path(&path)
                .map_err(|e| CmdError::No(e.to_string()))?
                .ok_or_else(|| CmdError::No(format!("no record at {path}")))?;
            let value =
                cbor::decode(&block).map_err(|e| CmdError::No(format!("record {path}: {e}")))?;
            println!("{}", json::to_string(&value));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and fully verifies a repository CAR, all but its signature (there is
/// no key to check it with).
fn load(file: &Path) -> Result<Repo<MemoryBlockStore>, CmdError> {
    let car = Bytes::from(crate::progress::read_file(file)?);
    let spinner = crate::progress::spinner("verifying");
    let result = Repo::from_car_unsigned(car, None);
    spinner.finish_and_clear();
    result
        .map(|(repo, _)| repo)
        .map_err(|e| CmdError::No(format!("{}: invalid repository: {e}", file.display())))
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

fn create(did: &str, key_file: &Path, curve: Curve, records: &Path, out: &Path) -> CmdResult {
    let did: Did = did
        .parse()
        .map_err(|e| CmdError::Setup(format!("--did: {e}")))?;
    let keypair = crate::key::read_key_file(key_file, curve)?;
    let text = std::fs::read_to_string(records)
        .map_err(|e| CmdError::Setup(format!("cannot read {}: {e}", records.display())))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let bar = crate::progress::counter("parsing records", lines.len() as u64);
    let mut writes = Vec::with_capacity(lines.len());
    for (n, line) in lines {
        writes.push(
            parse_write(line)
                .map_err(|e| CmdError::No(format!("{} line {}: {e}", records.display(), n + 1)))?,
        );
        bar.inc(1);
    }
    bar.finish_and_clear();

    let spinner = crate::progress::spinner("building and signing the repository");
    let (mut repo, commit) = Repo::create(MemoryBlockStore::new(), did, &keypair, &writes)
        .map_err(|e| CmdError::No(format!("cannot create the repository: {e}")))?;
    spinner.set_message(format!("writing {}", out.display()));
    let cannot_write =
        |e: &dyn std::fmt::Display| CmdError::Setup(format!("cannot write {}: {e}", out.display()));
    let file = std::fs::File::create(out).map_err(|e| cannot_write(&e))?;
    let mut file = repo
        .export_car(BufWriter::new(file))
        .map_err(|e| cannot_write(&e))?;
    file.flush().map_err(|e| cannot_write(&e))?;
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
