//! `atp mst root [FILE]`: the MST root CID of a key → value set.
//!
//! Input lines are `KEY CID` (one space); keys are inserted in input order
//! (a later line with the same key replaces the value). Prints the root CID.
//! A malformed line, key or CID exits 1; input that cannot be read exits 2.

use std::path::PathBuf;
use std::process::ExitCode;

use atproto_core::syntax::CidString;
use atproto_repo::RecordPath;
use atproto_repo::mst::Mst;

use crate::{CmdError, CmdResult};

/// Subcommands of `atp mst`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the root CID of the tree holding the input's `KEY CID` lines.
    Root {
        /// Input file (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
}

/// Runs `atp mst`.
pub fn run(cmd: Command) -> CmdResult {
    let Command::Root { file } = cmd;
    let input = crate::input::read_all(file.as_deref())?;
    let text =
        String::from_utf8(input).map_err(|e| CmdError::No(format!("input is not UTF-8: {e}")))?;
    let mut mst = Mst::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (key, cid) = line
            .split_once(' ')
            .ok_or_else(|| CmdError::No(format!("line {}: expected `KEY CID`", n + 1)))?;
        let cid = CidString::parse_cid(cid)
            .map_err(|e| CmdError::No(format!("line {}: invalid CID {cid:?}: {e}", n + 1)))?;
        let key: RecordPath = key
            .parse()
            .map_err(|e| CmdError::No(format!("line {}: {e}", n + 1)))?;
        mst.insert(&key, cid)
            .map_err(|e| CmdError::No(format!("line {}: {e}", n + 1)))?;
    }
    let root = mst.root_cid().map_err(|e| CmdError::No(e.to_string()))?;
    println!("{root}");
    Ok(ExitCode::SUCCESS)
}
