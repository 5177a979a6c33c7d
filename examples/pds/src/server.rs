//! The HTTP side: the XRPC router (atproto-xrpc's [`XrpcRouter`]) and the
//! handlers that exist so far: `GET /xrpc/_health` (the router's own) and
//! `com.atproto.server.describeServer`.

use std::sync::Arc;

use atproto_xrpc::XrpcError;
use atproto_xrpc::server::{Output, RouterError, XrpcRouter};
use axum::Router;
use axum::extract::State;
use serde::Serialize;

use crate::Storage;
use crate::config::Config;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// The public URL (from the bound port in dev mode).
    pub public_url: Arc<str>,
    /// The database, the sequencer and the writer.
    pub storage: Storage,
}

/// `com.atproto.server.describeServer`'s output.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DescribeServer {
    /// The service's DID.
    pub did: String,
    /// The handle suffixes accounts may take.
    pub available_user_domains: Vec<String>,
    /// Whether createAccount needs an invite code.
    pub invite_code_required: bool,
    /// Links to the service's policies (fields absent when not configured).
    pub links: Links,
    /// How to reach the operator.
    pub contact: Contact,
}

/// describeServer's `links`.
#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    /// `PDS_PRIVACY_POLICY_URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_policy: Option<String>,
    /// `PDS_TERMS_OF_SERVICE_URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
}

/// describeServer's `contact`.
#[derive(Serialize, Debug, Default)]
pub struct Contact {
    /// `PDS_CONTACT_EMAIL_ADDRESS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

async fn describe_server(
    State(state): State<AppState>,
) -> Result<Output<DescribeServer>, XrpcError> {
    let c = &state.config;
    Ok(Output(DescribeServer {
        did: c.service_did.to_string(),
        available_user_domains: c.handle_domains.clone(),
        invite_code_required: c.invite_required,
        links: Links {
            privacy_policy: c.privacy_policy_url.clone(),
            terms_of_service: c.terms_of_service_url.clone(),
        },
        contact: Contact {
            email: c.contact_email.clone(),
        },
    }))
}

/// The axum app: every XRPC method served so far, over `state`.
///
/// # Errors
/// [`RouterError`] if a method is registered wrongly (a bug, caught by the
/// tests).
pub fn router(state: AppState) -> Result<Router, RouterError> {
    let app = XrpcRouter::<AppState>::new()
        .catalog(atproto_lexicon::bundled::catalog())
        .version(env!("CARGO_PKG_VERSION"))
        .query("com.atproto.server.describeServer", describe_server)
        .build()?;
    Ok(app.with_state(state))
}
