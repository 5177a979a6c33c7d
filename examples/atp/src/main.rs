//! `atp`: a command-line tool for the AT Protocol, assembled only from the
//! public `atproto-*` crates.
//!
//! Scripts drive it, so every subcommand keeps a fixed output contract
//! (documented on each subcommand and in the workspace README).

mod bench;
mod car;
mod cbor;
mod input;
mod key;
mod lexicon;
mod mst;
mod progress;
mod repo;
mod syntax;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line tool for the AT Protocol.
#[derive(Parser)]
#[command(name = "atp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check identifier and string-format syntax (DID, handle, NSID, TID, …).
    Syntax(syntax::Args),
    /// Convert between ATProto JSON and DAG-CBOR, and compute CIDs.
    #[command(subcommand)]
    Cbor(cbor::Command),
    /// Generate signing keys and derive did:key identifiers.
    #[command(subcommand)]
    Key(key::Command),
    /// Merkle Search Tree tools.
    #[command(subcommand)]
    Mst(mst::Command),
    /// Create, list and read repositories (CAR files).
    #[command(subcommand)]
    Repo(repo::Command),
    /// Verify CAR files.
    #[command(subcommand)]
    Car(car::Command),
    /// Check Lexicon schema documents and validate records against them.
    #[command(subcommand)]
    Lexicon(lexicon::Command),
    /// Time the shared benchmark workloads without criterion.
    #[command(subcommand)]
    Bench(bench::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Syntax(args) => syntax::run(args),
        Command::Cbor(cmd) => cbor::run(cmd),
        Command::Key(cmd) => key::run(cmd),
        Command::Mst(cmd) => mst::run(cmd),
        Command::Repo(cmd) => repo::run(cmd),
        Command::Car(cmd) => car::run(cmd),
        Command::Lexicon(cmd) => lexicon::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What a subcommand returns: its exit code, or a message for stderr (exit 1).
type CmdResult = Result<ExitCode, String>;
