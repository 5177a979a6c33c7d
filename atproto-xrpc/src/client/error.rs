//! [`ClientError`]: why an XRPC call failed.

use crate::error::XrpcError;
use crate::transport::TransportError;

use super::store::StoreError;

/// Why an XRPC call, or a session operation around one, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a status outside 2xx. The error keeps the
    /// status, the name and message of the body (or the status's standard
    /// name), and the `Retry-After` / `RateLimit-*` headers. Boxed to keep
    /// `Result<_, ClientError>` small.
    #[error("XRPC error (HTTP {status}): {0}", status = .0.status)]
    Xrpc(Box<XrpcError>),
    /// The request got no response.
    #[error(transparent)]
    Transport(TransportError),
    /// A 2xx body that is not what the call expected (not JSON, or not the
    /// shape of the output type).
    #[error("response of {nsid} could not be decoded: {reason}")]
    Decode {
        /// The method called.
        nsid: String,
        /// What was wrong.
        reason: String,
    },
    /// Parameters or an input body that could not be encoded: parameters
    /// that are not a flat object of strings, numbers, booleans and arrays
    /// of those; an input that does not serialize to JSON.
    #[error("request to {nsid} could not be encoded: {reason}")]
    Encode {
        /// The method called.
        nsid: String,
        /// What was wrong.
        reason: String,
    },
    /// With validation on: the catalog does not hold the method, or the
    /// parameters, the input or the output break its lexicon.
    #[error("{part} of {nsid} failed lexicon validation: {reason}")]
    Validation {
        /// The method called.
        nsid: String,
        /// `method`, `params`, `input` or `output`.
        part: &'static str,
        /// What was wrong, and where.
        reason: String,
    },
    /// The text given as a method name is not an NSID.
    #[error("{nsid:?} is not a valid NSID: {reason}")]
    InvalidNsid {
        /// The text.
        nsid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service URL is not an `http://` or `https://` URL with a host.
    #[error("invalid service URL {url:?}: {reason}")]
    InvalidService {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The call needs a session and there is none (never logged in, logged
    /// out, or cleared after a failed refresh).
    #[error("no session: log in first")]
    NoSession,
    /// The session's refresh token was refused (`ExpiredToken` or
    /// `InvalidToken` from `com.atproto.server.refreshSession`); the session
    /// has been cleared, in memory and in the store.
    #[error("session expired, log in again: {0}")]
    SessionExpired(Box<XrpcError>),
    /// `com.atproto.server.getSession` answered for another account than
    /// the session being resumed.
    #[error("session is for {expected} but the server says {found}")]
    SessionMismatch {
        /// The session's DID.
        expected: String,
        /// The DID the server returned.
        found: String,
    },
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClientError {
    /// The XRPC error, if the server answered with one.
    pub fn xrpc(&self) -> Option<&XrpcError> {
        match self {
            ClientError::Xrpc(e) | ClientError::SessionExpired(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status, if the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        self.xrpc().map(|e| e.status)
    }

    /// Whether this is the server saying the access token has expired:
    /// status 400 or 401 with the error name `ExpiredToken` (the reference
    /// PDS sends 400).
    pub fn is_expired_token(&self) -> bool {
        matches!(self, ClientError::Xrpc(e) if is_expired_token(e))
    }
}

pub(crate) fn is_expired_token(e: &XrpcError) -> bool {
    matches!(e.status, 400 | 401) && e.name.as_str() == "ExpiredToken"
}

/// Whether a refresh failure means the refresh token is no good (the
/// reference agent's test: `ExpiredToken` or `InvalidToken`).
pub(crate) fn is_dead_refresh(e: &XrpcError) -> bool {
    matches!(e.name.as_str(), "ExpiredToken" | "InvalidToken")
}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        ClientError::Transport(e)
    }
}

impl From<XrpcError> for ClientError {
    fn from(e: XrpcError) -> Self {
        ClientError::Xrpc(Box::new(e))
    }
}
