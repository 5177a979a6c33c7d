//! `atp`: a command-line tool for the AT Protocol, assembled only from the
//! public `atproto-*` crates.
//!
//! Scripts drive it, so every subcommand keeps a fixed output contract
//! (documented on each subcommand and in the workspace README), and all of
//! them share one exit-code convention: 0 success; 1 the answer is "no" (an
//! invalid value, a bad CAR, a failed check, a wrong signature); 2 a usage or
//! setup error (bad flags, a file that cannot be read, a bad key file).
//! Errors are one line on stderr, `error: MESSAGE`.

mod bench;
mod car;
mod cbor;
mod firehose;
mod identity;
mod input;
mod jwt;
mod key;
mod lexicon;
mod mst;
mod progress;
mod repo;
mod syntax;
mod xrpc;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Resolve handles and DIDs, checking handles both ways.
    #[command(subcommand)]
    Identity(identity::Command),
    /// Verify service-auth JWTs.
    #[command(subcommand)]
    Jwt(jwt::Command),
    /// Call XRPC methods, with or without a logged-in session.
    #[command(subcommand)]
    Xrpc(xrpc::Command),
    /// Verify firehose (subscribeRepos) captures.
    #[command(subcommand)]
    Firehose(firehose::Command),
}

fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let result = match cli.command {
        Command::Syntax(args) => syntax::run(args),
        Command::Cbor(cmd) => cbor::run(cmd),
        Command::Key(cmd) => key::run(cmd),
        Command::Mst(cmd) => mst::run(cmd),
        Command::Repo(cmd) => repo::run(cmd),
        Command::Car(cmd) => car::run(cmd),
        Command::Lexicon(cmd) => lexicon::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Identity(cmd) => identity::run(cmd),
        Command::Jwt(cmd) => jwt::run(cmd),
        Command::Xrpc(cmd) => xrpc::run(cmd),
        Command::Firehose(cmd) => firehose::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(e.message()));
            e.exit_code()
        }
    }
}

/// The command line, parsed. A missing subcommand is a usage error like any
/// other (clap's derive would print the whole help instead).
fn parse_args() -> Result<Cli, clap::Error> {
    fn no_help_instead_of_errors(cmd: clap::Command) -> clap::Command {
        cmd.arg_required_else_help(false)
            .mut_subcommands(no_help_instead_of_errors)
    }
    let matches = no_help_instead_of_errors(Cli::command()).try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// `--help` and `--version` print as usual (exit 0); anything else clap
/// refuses is a usage error: one line on stderr, exit 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Nothing to do if stdout is gone.
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = one_line(&e.render().to_string());
    match text.strip_prefix("error: ") {
        Some(rest) => eprintln!("error: {rest}"),
        None => eprintln!("error: {text}"),
    }
    ExitCode::from(2)
}

/// `text` on one line: each line trimmed, empty ones dropped, the rest joined
/// with `; ` (or a space after a colon). Every message `atp` prints goes
/// through here, so a multi-line library or clap message never breaks the
/// one-line contract.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

/// Why a command did not succeed. The variant is the exit code, the same
/// for every subcommand (see the README's `atp` table).
#[derive(Debug)]
pub enum CmdError {
    /// The answer is "no": an invalid value, a bad CAR, a failed check, a
    /// wrong signature. Exit 1.
    No(String),
    /// The command could not do what was asked: bad usage, a file that
    /// cannot be read or written, a bad key file. Exit 2.
    Setup(String),
}

impl CmdError {
    /// The message, without the `error: ` prefix.
    pub fn message(&self) -> &str {
        match self {
            CmdError::No(m) | CmdError::Setup(m) => m,
        }
    }

    /// Standard output could not be written (exit 2).
    pub fn stdout(e: std::io::Error) -> CmdError {
        CmdError::Setup(format!("cannot write standard output: {e}"))
    }

    /// 1 for [`CmdError::No`], 2 for [`CmdError::Setup`].
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CmdError::No(_) => ExitCode::FAILURE,
            CmdError::Setup(_) => ExitCode::from(2),
        }
    }
}

/// What a subcommand returns: its exit code when it printed its own answer
/// (0, or 1 for a "no" verdict printed on stdout), or a [`CmdError`] for
/// `main` to print on stderr.
type CmdResult = Result<ExitCode, CmdError>;

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn messages_are_flattened_to_one_line() {
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(
            one_line("error: bad value 'x'\n  [possible values: a, b]\n\nUsage: atp x\r\n"),
            "error: bad value 'x'; [possible values: a, b]; Usage: atp x"
        );
        assert_eq!(
            one_line("missing:\n  <KIND>\n  <VALUE>"),
            "missing: <KIND>; <VALUE>"
        );
        assert_eq!(one_line("\n\n"), "");
    }
}
