//! `atp jwt verify`: checks a service-auth token as a service receiving it
//! would.
//!
//! `verify TOKEN --aud DID [--lxm NSID] [--plc URL]`: the token's format,
//! `typ` (not an access, refresh or DPoP token), `exp`/`iat` (5 s leeway),
//! `aud` equal to `--aud`, `lxm` equal to `--lxm` when given, and the
//! signature by the issuer's `#atproto` key, resolved from its DID document
//! (did:plc through `--plc`, did:web over HTTPS; re-resolved once if the
//! signature fails, in case the key was rotated). Prints
//! `{"iss","aud","lxm","exp"}`, or the verdict `invalid: NAME: REASON` (also on
//! stdout) with exit 1 (the name as the reference calls it, e.g.
//! `BadJwtAudience`).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use atproto_core::Nsid;
use atproto_xrpc::identity::{DEFAULT_PLC_DIRECTORY, DidKeyResolver};
use atproto_xrpc::service_auth::{Expected, verify_service_jwt_async};

use crate::{CmdError, CmdResult};

/// Subcommands of `atp jwt`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Verify a service-auth JWT: claims, then the signature by the issuer's
    /// key from its DID document.
    Verify {
        /// The token (compact JWS).
        token: String,
        /// The audience the token must name: this service's DID (or
        /// did#service-id).
        #[arg(long)]
        aud: String,
        /// The method the token must be bound to.
        #[arg(long)]
        lxm: Option<Nsid>,
        /// The did:plc directory the issuer's document is read from.
        #[arg(long, default_value = DEFAULT_PLC_DIRECTORY)]
        plc: String,
    },
}

/// Runs `atp jwt`.
pub fn run(cmd: Command) -> CmdResult {
    let Command::Verify {
        token,
        aud,
        lxm,
        plc,
    } = cmd;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CmdError::Setup("the system clock is before 1970".to_owned()))?
        .as_secs();
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let keys = DidKeyResolver::new(crate::identity::did_resolver(&plc)?);
    let expected = Expected {
        aud: Some(&aud),
        lxm: lxm.as_ref(),
    };
    let verdict = crate::xrpc::runtime()?.block_on(verify_service_jwt_async(
        &token, &expected, now, &keys, None,
    ));
    match verdict {
        Ok(verified) => {
            let claims = &verified.claims;
            println!(
                "{}",
                serde_json::json!({
                    "iss": claims.iss,
                    "aud": claims.aud,
                    "lxm": claims.lxm,
                    "exp": claims.exp,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid: {}: {}", e.name(), crate::one_line(&e.to_string()));
            Ok(ExitCode::FAILURE)
        }
    }
}
