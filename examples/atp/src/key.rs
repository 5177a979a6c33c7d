//! `atp key generate` and `atp key did-key`.
//!
//! `generate --curve k256|p256` prints two lines: the private key as 64 hex
//! digits, then its `did:key`. `did-key --curve C --private-hex HEX` prints the
//! `did:key` of an existing private key.

use std::process::ExitCode;

use atproto_core::crypto::{Curve, Keypair};

use crate::CmdResult;

/// Subcommands of `atp key`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a new key pair from the operating system's random source.
    Generate {
        /// The curve: k256 (secp256k1, the usual choice) or p256.
        #[arg(long, default_value = "k256")]
        curve: Curve,
    },
    /// Print the did:key of a private key.
    DidKey {
        /// The curve: k256 or p256.
        #[arg(long)]
        curve: Curve,
        /// The 32-byte private key as hex.
        #[arg(long)]
        private_hex: String,
    },
}

/// Runs `atp key`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Generate { curve } => {
            let keypair = Keypair::generate(curve);
            println!("{}", hex::encode(keypair.private_bytes()));
            println!("{}", keypair.public_key().to_did_key());
        }
        Command::DidKey { curve, private_hex } => {
            let bytes = hex::decode(private_hex.trim())
                .map_err(|e| format!("--private-hex is not hex: {e}"))?;
            let keypair = Keypair::from_private_bytes(curve, &bytes)
                .map_err(|e| format!("invalid private key: {e}"))?;
            println!("{}", keypair.public_key().to_did_key());
        }
    }
    Ok(ExitCode::SUCCESS)
}
