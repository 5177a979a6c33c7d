//! `atp identity resolve`: a handle or DID to its DID, verified handle, PDS
//! and signing key, through `atproto_xrpc`'s resolvers.
//!
//! `resolve HANDLE_OR_DID [--plc URL] [--handle-resolver URL]`: did:plc
//! through the directory at URL (default `https://plc.directory`), did:web
//! over HTTPS; a handle through DNS TXT and HTTPS well-known in parallel (DNS
//! wins when they disagree), or with `--handle-resolver` through that
//! service's `com.atproto.identity.resolveHandle`. The handle is checked both
//! ways. Prints `{"did","handle","pds","signingKey"}` (`handle` is
//! `handle.invalid` when the document does not claim it back; `pds` and
//! `signingKey` are null when the document has none). Exit 1 if the DID (or
//! the handle) cannot be resolved.

use std::process::ExitCode;

use atproto_core::PublicKey;
use atproto_xrpc::ReqwestClient;
use atproto_xrpc::identity::{
    DefaultHandleResolver, HandleResolver, HickoryTxtLookup, IdentityResolver, ResolveError,
    Resolver, XrpcHandleResolver,
};

use crate::xrpc::runtime;
use crate::{CmdError, CmdResult};

/// Subcommands of `atp identity`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Resolve a handle or DID, checking the handle both ways.
    Resolve {
        /// A handle (alice.example.com) or a DID (did:plc:…, did:web:…).
        identifier: String,
        /// The did:plc directory.
        #[arg(long, default_value = atproto_xrpc::identity::DEFAULT_PLC_DIRECTORY)]
        plc: String,
        /// Resolve handles through this service's
        /// com.atproto.identity.resolveHandle instead of DNS and HTTPS.
        #[arg(long)]
        handle_resolver: Option<String>,
    },
}

/// Runs `atp identity`.
pub fn run(cmd: Command) -> CmdResult {
    let Command::Resolve {
        identifier,
        plc,
        handle_resolver,
    } = cmd;
    runtime()?.block_on(resolve(&identifier, &plc, handle_resolver.as_deref()))
}

/// The DID resolver every command uses: did:plc at `plc`, did:web over HTTPS.
pub fn did_resolver(plc: &str) -> Result<Resolver<ReqwestClient>, CmdError> {
    Ok(Resolver::new(http()?).with_plc_directory(plc))
}

fn http() -> Result<ReqwestClient, CmdError> {
    ReqwestClient::new().map_err(|e| CmdError::Setup(format!("cannot build the HTTP client: {e}")))
}

/// A resolution failure: a "no" (exit 1) unless the input was malformed.
fn resolve_error(e: ResolveError) -> CmdError {
    match e {
        ResolveError::InvalidIdentifier(_) | ResolveError::InvalidDid { .. } => {
            CmdError::Setup(e.to_string())
        }
        other => CmdError::No(other.to_string()),
    }
}

async fn resolve(identifier: &str, plc: &str, handle_service: Option<&str>) -> CmdResult {
    let handles: Box<dyn HandleResolver> = match handle_service {
        Some(url) => Box::new(XrpcHandleResolver::new(http()?, url)),
        None => {
            let dns = HickoryTxtLookup::from_system_conf()
                .map_err(|e| CmdError::Setup(format!("cannot set up DNS: {e}")))?;
            Box::new(DefaultHandleResolver::new(dns, http()?))
        }
    };
    let resolver = IdentityResolver::new(did_resolver(plc)?, handles);
    let identity = resolver
        .resolve_identifier(identifier)
        .await
        .map_err(resolve_error)?;
    println!(
        "{}",
        serde_json::json!({
            "did": identity.did.as_str(),
            "handle": identity.handle.as_str(),
            "pds": identity.pds,
            "signingKey": identity.signing_key.as_ref().map(PublicKey::to_did_key),
        })
    );
    Ok(ExitCode::SUCCESS)
}
