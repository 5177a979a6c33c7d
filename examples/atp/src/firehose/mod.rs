//! `atp firehose`: the `com.atproto.sync.subscribeRepos` firehose, through
//! `atproto_firehose`.
//!
//! - `tail URL`: follow a firehose, one JSON line per event (see [`tail`]).
//! - `verify FILE (--keys KEYS.json | --plc URL)`: decode every frame of a
//!   capture and fully validate every `#commit` (see [`verify`]).

mod tail;
mod verify;

use crate::CmdResult;

/// Subcommands of `atp firehose`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Follow a firehose: one JSON line per event, optionally saving every
    /// frame; reconnects from the last seq on a dropped connection.
    Tail(tail::Args),
    /// Decode every frame of a capture and fully validate every #commit
    /// (sync v1.1, signatures, the rev/since chain of each account).
    Verify(verify::Args),
}

/// Runs `atp firehose`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Tail(args) => tail::run(args),
        Command::Verify(args) => verify::run(args),
    }
}
