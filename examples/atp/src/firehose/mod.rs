//! `atp firehose`: tools for `com.atproto.sync.subscribeRepos` captures.
//!
//! - `verify FILE (--keys KEYS.json | --plc URL)`: decode every frame of a
//!   capture and fully validate every `#commit` (see [`verify`]).

mod verify;

use crate::CmdResult;

/// Subcommands of `atp firehose`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Decode every frame of a capture and fully validate every #commit
    /// (sync v1.1, signatures, the rev/since chain of each account).
    Verify(verify::Args),
}

/// Runs `atp firehose`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Verify(args) => verify::run(args),
    }
}
