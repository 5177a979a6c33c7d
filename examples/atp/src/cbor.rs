//! `atp cbor from-json|to-json|cid [FILE]`: ATProto JSON ⇄ DAG-CBOR.
//!
//! Input comes from FILE, or standard input when FILE is absent or `-`.
//! `from-json` writes raw DAG-CBOR bytes to standard output; `to-json` reads
//! DAG-CBOR through the strict decoder and prints ATProto JSON; `cid` prints
//! the CID of the JSON input's DAG-CBOR encoding.
//!
//! Input that is not (ATProto JSON | strict DAG-CBOR) exits 1; input that
//! cannot be read exits 2.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use atproto_core::data::{Value, cbor, json};

use crate::{CmdError, CmdResult};

/// Subcommands of `atp cbor`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// ATProto JSON in, canonical DAG-CBOR bytes out.
    FromJson {
        /// Input file (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
    /// DAG-CBOR in (strictly checked), ATProto JSON out.
    ToJson {
        /// Input file (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
    /// ATProto JSON in, the CID of its DAG-CBOR encoding out.
    Cid {
        /// Input file (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
}

fn json_input(file: Option<&std::path::Path>) -> Result<Value, CmdError> {
    let bytes = crate::input::read_all(file)?;
    json::from_slice(&bytes).map_err(|e| CmdError::No(format!("invalid ATProto JSON: {e}")))
}

/// Runs `atp cbor`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::FromJson { file } => {
            let value = json_input(file.as_deref())?;
            let mut out = std::io::stdout().lock();
            out.write_all(&cbor::encode(&value))
                .and_then(|()| out.flush())
                .map_err(CmdError::stdout)?;
        }
        Command::ToJson { file } => {
            let bytes = crate::input::read_all(file.as_deref())?;
            let value =
                cbor::decode(&bytes).map_err(|e| CmdError::No(format!("invalid DAG-CBOR: {e}")))?;
            println!("{}", json::to_string(&value));
        }
        Command::Cid { file } => {
            let value = json_input(file.as_deref())?;
            println!("{}", value.cid());
        }
    }
    Ok(ExitCode::SUCCESS)
}
