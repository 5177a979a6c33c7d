//! `atp car verify FILE [--did-key DIDKEY]`: full verification of a repo CAR.
//!
//! Every block hash, the commit, the signature (when a key is given), every
//! MST invariant and every record. On success prints
//! `{"did","rev","commit","data","records","blocks","signature"}` as JSON and
//! exits 0, where `signature` is `"verified"` with `--did-key` and
//! `"not checked"` without; on failure (a wrong signature included) prints
//! `invalid: REASON` on stdout and exits 1. A `--did-key` that does not parse
//! or a FILE that cannot be read exits 2.

use std::path::PathBuf;
use std::process::ExitCode;

use atproto_core::crypto::PublicKey;
use atproto_repo::repo::{verify_car, verify_car_unsigned};
use bytes::Bytes;

use crate::{CmdError, CmdResult};

/// Subcommands of `atp car`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Fully verify a repository CAR file.
    Verify {
        /// The CAR file.
        file: PathBuf,
        /// Verify the commit's signature with this did:key (the account's
        /// signing key); without it the signature is not checked.
        #[arg(long)]
        did_key: Option<String>,
    },
}

/// Runs `atp car`.
pub fn run(cmd: Command) -> CmdResult {
    let Command::Verify { file, did_key } = cmd;
    let key = did_key
        .as_deref()
        .map(PublicKey::from_did_key)
        .transpose()
        .map_err(|e| CmdError::Setup(format!("--did-key: {e}")))?;
    let car = Bytes::from(crate::progress::read_file(&file)?);
    let spinner = crate::progress::spinner("verifying");
    let result = match &key {
        Some(key) => verify_car(car, None, key),
        None => verify_car_unsigned(car, None),
    };
    spinner.finish_and_clear();
    match result {
        Ok(repo) => {
            let summary = serde_json::json!({
                "did": repo.commit.did.as_str(),
                "rev": repo.commit.rev.as_str(),
                "commit": repo.commit_cid.to_string(),
                "data": repo.data_root().to_string(),
                "records": repo.record_count(),
                "blocks": repo.block_count,
                "signature": repo.signature.as_str(),
            });
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid: {}", crate::one_line(&e.to_string()));
            Ok(ExitCode::FAILURE)
        }
    }
}
