//! XRPC method kinds and the `/xrpc/<nsid>` path.
//!
//! A method is an NSID plus its kind: a query is `GET /xrpc/<nsid>`, a
//! procedure is `POST /xrpc/<nsid>`, and a subscription is a WebSocket
//! upgrade of `GET /xrpc/<nsid>`.

use core::fmt;

use atproto_core::syntax::MAX_NSID_LEN;
use atproto_core::{Nsid, SyntaxError};

/// The path prefix every XRPC method lives under.
pub const XRPC_PREFIX: &str = "/xrpc/";

/// The longest path [`parse_path`] reads, in bytes: the prefix, the longest
/// NSID ([`MAX_NSID_LEN`]) and a query string of
/// [`crate::params::MAX_QUERY_LEN`] after a `?`.
pub const MAX_PATH_LEN: usize = XRPC_PREFIX.len() + MAX_NSID_LEN + 1 + crate::params::MAX_QUERY_LEN;

/// How a method is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// A read: `GET`, parameters in the query string.
    Query,
    /// A write: `POST`, parameters in the query string, input in the body.
    Procedure,
    /// An event stream: a WebSocket upgrade of `GET`.
    Subscription,
}

impl MethodKind {
    /// The HTTP method of the request: `GET` for queries and subscriptions,
    /// `POST` for procedures.
    pub fn http_method(self) -> &'static str {
        match self {
            MethodKind::Query | MethodKind::Subscription => "GET",
            MethodKind::Procedure => "POST",
        }
    }

    /// The lexicon's name for the kind: `query`, `procedure` or `subscription`.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Query => "query",
            MethodKind::Procedure => "procedure",
            MethodKind::Subscription => "subscription",
        }
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method: its NSID and its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Method {
    /// The method's NSID, e.g. `com.atproto.repo.getRecord`.
    pub nsid: Nsid,
    /// How it is called.
    pub kind: MethodKind,
}

impl Method {
    /// A method of the given kind.
    pub fn new(nsid: Nsid, kind: MethodKind) -> Self {
        Self { nsid, kind }
    }

    /// A query (`GET`).
    pub fn query(nsid: Nsid) -> Self {
        Self::new(nsid, MethodKind::Query)
    }

    /// A procedure (`POST`).
    pub fn procedure(nsid: Nsid) -> Self {
        Self::new(nsid, MethodKind::Procedure)
    }

    /// A subscription (WebSocket `GET`).
    pub fn subscription(nsid: Nsid) -> Self {
        Self::new(nsid, MethodKind::Subscription)
    }

    /// The HTTP method of its requests ([`MethodKind::http_method`]).
    pub fn http_method(&self) -> &'static str {
        self.kind.http_method()
    }

    /// Its path, `/xrpc/<nsid>`.
    pub fn path(&self) -> String {
        path(&self.nsid)
    }
}

/// The path of a method: `/xrpc/<nsid>`. NSIDs hold only ASCII letters,
/// digits, `-` and `.`, so the path needs no percent-encoding.
pub fn path(nsid: &Nsid) -> String {
    let mut s = String::with_capacity(XRPC_PREFIX.len() + nsid.as_str().len());
    s.push_str(XRPC_PREFIX);
    s.push_str(nsid.as_str());
    s
}

/// A request target split into its method NSID and its query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XrpcPath<'a> {
    /// The method named by the path.
    pub nsid: Nsid,
    /// The text after `?`, if there was a `?` (still percent-encoded; read it
    /// with [`crate::params::QueryParams::decode`]).
    pub query: Option<&'a str>,
}

/// Reads a request target `/xrpc/<nsid>[?query]`.
///
/// The NSID is checked with `atproto_core`'s NSID rules; nothing follows it
/// but an optional `?query` (no further segments, no trailing `/`). Paths
/// that are not NSIDs, such as the server's `/xrpc/_health`, are the
/// router's business and fail here with [`PathError::InvalidNsid`].
///
/// # Errors
/// [`PathError::TooLong`] above [`MAX_PATH_LEN`], [`PathError::NotXrpc`]
/// without the `/xrpc/` prefix, [`PathError::InvalidNsid`] when the segment
/// is not a valid NSID.
pub fn parse_path(target: &str) -> Result<XrpcPath<'_>, PathError> {
    if target.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong {
            len: target.len(),
            max: MAX_PATH_LEN,
        });
    }
    let rest = target.strip_prefix(XRPC_PREFIX).ok_or(PathError::NotXrpc)?;
    let (segment, query) = match rest.split_once('?') {
        Some((s, q)) => (s, Some(q)),
        None => (rest, None),
    };
    let nsid: Nsid = segment.parse().map_err(|source| PathError::InvalidNsid {
        segment: segment.to_owned(),
        source,
    })?;
    Ok(XrpcPath { nsid, query })
}

/// Why a request target is not an XRPC method path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The target is longer than [`MAX_PATH_LEN`].
    #[error("XRPC path is {len} bytes, more than the limit of {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The target does not start with `/xrpc/`.
    #[error("path does not start with /xrpc/")]
    NotXrpc,
    /// The segment after `/xrpc/` is not a valid NSID.
    #[error("bad NSID {segment:?} in XRPC path: {source}")]
    InvalidNsid {
        /// The segment as it was found.
        segment: String,
        /// What is wrong with it.
        source: SyntaxError,
    },
}
