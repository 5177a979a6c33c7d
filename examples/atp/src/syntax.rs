//! `atp syntax KIND VALUE` and `atp syntax KIND --stdin`.
//!
//! Contract: for one VALUE, print `valid` (exit 0) or `invalid: REASON`
//! (exit 1). With `--stdin`, every input line (exactly as given, without its
//! `\n`) gets one output line, `valid` or `invalid: REASON`, and the exit code
//! is 0. Standard input that cannot be read is a setup error (exit 2).

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::str::FromStr;

use atproto_core::syntax::{
    AtIdentifier, AtUri, CidString, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid, Uri,
};

use crate::{CmdError, CmdResult};

/// Arguments of `atp syntax`.
#[derive(clap::Args)]
pub struct Args {
    /// Which syntax to check.
    kind: Kind,
    /// The value to check (may start with `-`).
    #[arg(allow_hyphen_values = true, required_unless_present = "stdin")]
    value: Option<String>,
    /// Check every line of standard input instead of VALUE.
    #[arg(long, conflicts_with = "value")]
    stdin: bool,
}

/// The syntaxes `atp syntax` knows.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    Did,
    Handle,
    Nsid,
    Tid,
    Rkey,
    AtUri,
    AtIdentifier,
    Datetime,
    Language,
    Cid,
    Uri,
}

fn parse_as<T: FromStr>(value: &str) -> Result<(), String>
where
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map(drop).map_err(|e| e.to_string())
}

fn check(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Did => parse_as::<Did>(value),
        Kind::Handle => parse_as::<Handle>(value),
        Kind::Nsid => parse_as::<Nsid>(value),
        Kind::Tid => parse_as::<Tid>(value),
        Kind::Rkey => parse_as::<RecordKey>(value),
        Kind::AtUri => parse_as::<AtUri>(value),
        Kind::AtIdentifier => parse_as::<AtIdentifier>(value),
        Kind::Datetime => parse_as::<Datetime>(value),
        Kind::Language => parse_as::<Language>(value),
        Kind::Cid => parse_as::<CidString>(value),
        Kind::Uri => parse_as::<Uri>(value),
    }
}

fn verdict(kind: Kind, line: &[u8]) -> String {
    match std::str::from_utf8(line) {
        Err(e) => format!("invalid: not UTF-8 at byte {}", e.valid_up_to()),
        Ok(value) => match check(kind, value) {
            Ok(()) => "valid".to_owned(),
            Err(reason) => format!("invalid: {}", crate::one_line(&reason)),
        },
    }
}

/// Runs `atp syntax`.
pub fn run(args: Args) -> CmdResult {
    if args.stdin {
        let input = crate::input::read_all(None)?;
        let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        // Text that ends with a newline has no line after it.
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let mut out = BufWriter::new(std::io::stdout().lock());
        for line in lines {
            writeln!(out, "{}", verdict(args.kind, line)).map_err(CmdError::stdout)?;
        }
        out.flush().map_err(CmdError::stdout)?;
        return Ok(ExitCode::SUCCESS);
    }
    let value = args.value.unwrap_or_default();
    let line = verdict(args.kind, value.as_bytes());
    println!("{line}");
    Ok(if line == "valid" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
