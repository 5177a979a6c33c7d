//! `atp firehose`: the `com.atproto.sync.subscribeRepos` firehose, through
//! `atproto_firehose`.

mod tail;

use crate::CmdResult;

/// Subcommands of `atp firehose`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Follow a firehose: one JSON line per event, optionally saving every
    /// frame; reconnects from the last seq on a dropped connection.
    Tail(tail::Args),
}

/// Runs `atp firehose`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Tail(args) => tail::run(args),
    }
}
