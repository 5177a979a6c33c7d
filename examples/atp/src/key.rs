//! `atp key generate` and `atp key did-key`, and the key files every command
//! that signs reads.
//!
//! Private keys never go on the command line, where `ps`, shell history and
//! CI logs would show them. They live in key files: the 32-byte private
//! scalar as 64 hex digits (whitespace around it, such as the trailing
//! newline an editor adds, is allowed).
//!
//! - `generate [--curve k256|p256] [--out FILE]`: a new key from the
//!   operating system's random source. With `--out`, writes it as a key file
//!   (created with mode 0600, never over an existing file) and prints its
//!   `did:key`; without, prints two lines, the private key as hex then its
//!   `did:key`, for a pipe into a file.
//! - `did-key --curve C --key-file FILE`: prints the `did:key` of the key in
//!   FILE.
//!
//! A key file that cannot be read, is not 64 hex digits, or holds no valid
//! scalar for the curve is a setup error (exit 2).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use atproto_core::crypto::{Curve, Keypair, Zeroizing};

use crate::{CmdError, CmdResult};

/// Subcommands of `atp key`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a new key pair from the operating system's random source.
    Generate {
        /// The curve: k256 (secp256k1, the usual choice) or p256.
        #[arg(long, default_value = "k256")]
        curve: Curve,
        /// Write the private key to this new key file (mode 0600) and print
        /// only the did:key.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the did:key of the private key in a key file.
    DidKey {
        /// The curve: k256 or p256.
        #[arg(long)]
        curve: Curve,
        /// The key file: the 32-byte private key as 64 hex digits.
        #[arg(long)]
        key_file: PathBuf,
    },
}

/// Runs `atp key`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Generate { curve, out } => {
            let keypair = Keypair::generate(curve);
            let text = key_file_text(&keypair)?;
            match out {
                Some(path) => write_key_file(&path, &text[..])?,
                None => std::io::stdout()
                    .lock()
                    .write_all(&text[..])
                    .map_err(CmdError::stdout)?,
            }
            println!("{}", keypair.public_key().to_did_key());
        }
        Command::DidKey { curve, key_file } => {
            let keypair = read_key_file(&key_file, curve)?;
            println!("{}", keypair.public_key().to_did_key());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A key file's content: 64 hex digits and a newline, zeroed on drop.
fn key_file_text(keypair: &Keypair) -> Result<Zeroizing<[u8; 65]>, CmdError> {
    let mut text = Zeroizing::new([b'\n'; 65]);
    hex::encode_to_slice(&keypair.private_bytes()[..], &mut text[..64])
        .map_err(|e| CmdError::Setup(format!("cannot write the key as hex: {e}")))?;
    Ok(text)
}

/// Creates `path` readable by its owner only and writes `text` to it.
fn write_key_file(path: &Path, text: &[u8]) -> Result<(), CmdError> {
    let fail = |e: std::io::Error| {
        CmdError::Setup(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists: a key file is never overwritten",
                path.display()
            )
        } else {
            format!("cannot write key file {}: {e}", path.display())
        })
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(text)
        .and_then(|()| file.sync_all())
        .map_err(fail)
}

/// Loads the private key in the key file at `path` for `curve`. The file's
/// bytes and the decoded scalar are zeroed once the key is built.
///
/// # Errors
/// [`CmdError::Setup`]: the file cannot be read, is not 64 hex digits
/// (surrounding whitespace aside), or is not a valid scalar for `curve`. The
/// message never quotes the file's content.
pub fn read_key_file(path: &Path, curve: Curve) -> Result<Keypair, CmdError> {
    let bad = |why: String| CmdError::Setup(format!("key file {}: {why}", path.display()));
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?);
    let digits = text.trim_ascii();
    if digits.len() != 64 {
        return Err(bad(format!(
            "expected the private key as 64 hex digits, found {} bytes",
            digits.len()
        )));
    }
    let mut scalar = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, &mut scalar[..]).map_err(|_| {
        bad("expected the private key as 64 hex digits, found other characters".to_owned())
    })?;
    Keypair::from_private_bytes(curve, &scalar[..])
        .map_err(|e| bad(format!("not a {curve} private key: {e}")))
}
