//! DID resolution over the network (feature `resolve`): the [`DidResolver`]
//! trait, [`PlcResolver`] (did:plc through a PLC directory), [`WebResolver`]
//! (did:web through `/.well-known/did.json`), [`Resolver`] (dispatch by
//! method) and [`MemoryDidResolver`] (a fixed table, for tests and apps).
//!
//! Every request goes through [`HttpClient`], so another HTTP stack (or a
//! fake, in tests) plugs in. Documents are read with
//! [`DidDocument::parse`], which bounds their size
//! ([`MAX_DID_DOC_SIZE`](crate::identity::did_doc::MAX_DID_DOC_SIZE)) and
//! requires `id` to be the DID asked for.
//!
//! did:web follows the ATProto profile: only the host form
//! (`did:web:example.com`, or with a percent-encoded port,
//! `did:web:localhost%3A8080`); the path form (`did:web:example.com:user`) is
//! [`ResolveError::UnsupportedDidWebPath`]. The document is always fetched
//! over `https://`, unless [`WebResolver::allow_http_loopback`] is set and the
//! host is a loopback name or address (`localhost`, `*.localhost`,
//! `127.0.0.0/8`), for local development and tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atproto_core::Did;

use crate::identity::did_doc::{DidDocError, DidDocument};
use crate::transport::{BoxFuture, Bytes, HttpClient, HttpResponse, TransportError};

/// The public PLC directory, the default of [`PlcResolver`].
pub const DEFAULT_PLC_DIRECTORY: &str = "https://plc.directory";

/// Why a DID or a handle could not be resolved.
///
/// [`ResolveError::is_not_found`] tells the definite "does not exist"
/// answers (which caches keep for a short while) from transient failures.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The DID or handle does not exist (HTTP 404, no DNS record, …); the
    /// text names what was looked up.
    #[error("{0} not found")]
    NotFound(String),
    /// The DID was deactivated or tombstoned (the PLC directory answers 410).
    #[error("DID {0} is deactivated or tombstoned")]
    Deactivated(String),
    /// The DID document was rejected (malformed, too large, wrong `id`, or
    /// missing the key asked for).
    #[error("invalid DID document for {did}: {source}")]
    InvalidDocument {
        /// The DID resolved.
        did: String,
        /// What was wrong.
        #[source]
        source: DidDocError,
    },
    /// A response that is not what the protocol says (a bad body, a value
    /// that is not a DID, a body over the limit).
    #[error("invalid response from {url}: {reason}")]
    InvalidResponse {
        /// Where it came from.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// An HTTP status the resolver does not expect.
    #[error("unexpected HTTP status {status} from {url}")]
    BadStatus {
        /// The request URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The HTTP request failed.
    #[error("transport error: {0}")]
    Transport(#[source] Arc<TransportError>),
    /// The lookup did not finish in time; the text names what was looked up.
    #[error("resolving {0} timed out")]
    Timeout(String),
    /// The DID method has no resolver here.
    #[error("unsupported DID method {0:?}")]
    UnsupportedMethod(String),
    /// A did:web with a path (`did:web:host:path`), which ATProto does not
    /// allow.
    #[error("did:web with a path is not supported by ATProto: {0}")]
    UnsupportedDidWebPath(String),
    /// The DID is syntactically valid but not a resolvable form of its
    /// method (a did:plc that is not 24 base32 characters, a did:web whose
    /// host is not a host name).
    #[error("invalid DID {did}: {reason}")]
    InvalidDid {
        /// The DID.
        did: String,
        /// What was wrong.
        reason: String,
    },
    /// The text given is neither a DID nor a handle, or the handle may not be
    /// resolved (a disallowed TLD such as `.local`).
    #[error("invalid identifier {0:?}")]
    InvalidIdentifier(String),
    /// The DNS TXT record `_atproto.<handle>` holds more than one `did=`
    /// value.
    #[error("handle {handle} has conflicting DNS TXT values: {values:?}")]
    AmbiguousDns {
        /// The handle.
        handle: String,
        /// The `did=` values found.
        values: Vec<String>,
    },
    /// The DNS lookup failed (other than "no such record").
    #[error("DNS lookup of {name} failed: {message}")]
    Dns {
        /// The name queried.
        name: String,
        /// The resolver's message.
        message: String,
    },
    /// A synchronous caller ([`SigningKeyResolver`](crate::SigningKeyResolver))
    /// needed the network from inside a single-threaded Tokio runtime, where
    /// it cannot block.
    #[error(
        "cannot resolve {0} synchronously inside a current-thread Tokio runtime (use a multi-thread runtime, or resolve asynchronously first)"
    )]
    WouldBlock(String),
}

impl ResolveError {
    /// Whether this is a definite "does not exist" answer
    /// ([`NotFound`](Self::NotFound) or [`Deactivated`](Self::Deactivated)),
    /// as opposed to a failure that may pass.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ResolveError::NotFound(_) | ResolveError::Deactivated(_)
        )
    }

    /// Whether this failure may pass on retry: transport errors, timeouts,
    /// DNS failures, 429 and 5xx statuses.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ResolveError::Transport(_)
            | ResolveError::Timeout(_)
            | ResolveError::Dns { .. }
            | ResolveError::WouldBlock(_) => true,
            ResolveError::BadStatus { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub(crate) fn transport(e: TransportError) -> Self {
        match e {
            TransportError::Timeout { url } => ResolveError::Timeout(url),
            other => ResolveError::Transport(Arc::new(other)),
        }
    }
}

/// Resolves a DID to its document. Object safe (the future is boxed, as
/// [`HttpClient`]'s), so resolvers can be stacked as `Box<dyn DidResolver>`.
pub trait DidResolver: Send + Sync {
    /// The document of `did`.
    ///
    /// # Errors
    /// A [`ResolveError`].
    fn resolve_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>>;

    /// The document of `did`, bypassing any cache (a cache stores the answer).
    /// Resolvers without a cache resolve as [`resolve_did`](Self::resolve_did).
    ///
    /// # Errors
    /// A [`ResolveError`].
    fn refresh_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        self.resolve_did(did)
    }
}

/// Implements a resolver trait for `Arc`, `Box` and `&` of implementors.
macro_rules! forward_resolver {
    ($trait:ident, $resolve:ident, $refresh:ident, $arg:ty, $out:ty) => {
        forward_resolver!(@one $trait, $resolve, $refresh, $arg, $out, std::sync::Arc<T>);
        forward_resolver!(@one $trait, $resolve, $refresh, $arg, $out, Box<T>);
        forward_resolver!(@one $trait, $resolve, $refresh, $arg, $out, &T);
    };
    (@one $trait:ident, $resolve:ident, $refresh:ident, $arg:ty, $out:ty, $ty:ty) => {
        impl<T: $trait + ?Sized> $trait for $ty {
            fn $resolve<'a>(&'a self, arg: &'a $arg) -> BoxFuture<'a, Result<$out, ResolveError>> {
                (**self).$resolve(arg)
            }
            fn $refresh<'a>(&'a self, arg: &'a $arg) -> BoxFuture<'a, Result<$out, ResolveError>> {
                (**self).$refresh(arg)
            }
        }
    };
}
pub(crate) use forward_resolver;
forward_resolver!(DidResolver, resolve_did, refresh_did, Did, DidDocument);

/// Sends a `GET` for `url` with the given `Accept` header, within `limit`
/// if there is one.
pub(crate) async fn http_get<C: HttpClient + ?Sized>(
    client: &C,
    url: &str,
    accept: &str,
    limit: Option<Duration>,
) -> Result<HttpResponse, ResolveError> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, accept)
        .body(Bytes::new())
        .map_err(|e| {
            ResolveError::transport(TransportError::InvalidRequest(format!("{url}: {e}")))
        })?;
    let send = client.send(request);
    let result = match limit {
        Some(limit) => tokio::time::timeout(limit, send)
            .await
            .map_err(|_| ResolveError::Timeout(url.to_owned()))?,
        None => send.await,
    };
    result.map_err(ResolveError::transport)
}

/// Adds `with_timeout` to an HTTP resolver with a `timeout` field, and
/// implements the resolver trait with its `async fn resolve`.
macro_rules! http_resolver {
    ($ty:ident, $trait:ident :: $method:ident ( $arg:ty ) -> $out:ty) => {
        impl<C: HttpClient> $ty<C> {
            /// Limits each request to `limit` (beyond the transport's own
            /// limit); past it, [`ResolveError::Timeout`].
            #[must_use]
            pub fn with_timeout(mut self, limit: std::time::Duration) -> Self {
                self.timeout = Some(limit);
                self
            }
        }

        impl<C: HttpClient> $trait for $ty<C> {
            fn $method<'a>(&'a self, arg: &'a $arg) -> BoxFuture<'a, Result<$out, ResolveError>> {
                Box::pin(self.resolve(arg))
            }
        }
    };
}
pub(crate) use http_resolver;

/// Whether `host` (a host name or address, without port) is a loopback one.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `https://<authority>`, or `http://` if allowed for a loopback host.
pub(crate) fn origin(authority: &str, allow_http_loopback: bool) -> String {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    if allow_http_loopback && is_loopback_host(host) {
        format!("http://{authority}")
    } else {
        format!("https://{authority}")
    }
}

/// Fetches the DID document of `did` at `url`: 200 → parsed, 404 → not
/// found, 410 → deactivated, any other status an error.
async fn fetch_document<C: HttpClient>(
    client: &C,
    did: &Did,
    url: &str,
    limit: Option<Duration>,
) -> Result<DidDocument, ResolveError> {
    let response = http_get(
        client,
        url,
        "application/did+ld+json, application/json",
        limit,
    )
    .await?;
    match response.status().as_u16() {
        200 => DidDocument::parse(response.body(), did).map_err(|source| {
            ResolveError::InvalidDocument {
                did: did.as_str().to_owned(),
                source,
            }
        }),
        404 => Err(ResolveError::NotFound(format!("DID {did}"))),
        410 => Err(ResolveError::Deactivated(did.as_str().to_owned())),
        status => Err(ResolveError::BadStatus {
            url: url.to_owned(),
            status,
        }),
    }
}

/// Resolves did:plc through a PLC directory: `GET {directory}/{did}`.
///
/// 404 is [`ResolveError::NotFound`]; 410 (the directory's answer for a
/// tombstoned DID) is [`ResolveError::Deactivated`].
#[derive(Debug, Clone)]
pub struct PlcResolver<C> {
    client: C,
    directory: String,
    timeout: Option<Duration>,
}

impl<C: HttpClient> PlcResolver<C> {
    /// A resolver using [`DEFAULT_PLC_DIRECTORY`].
    pub fn new(client: C) -> Self {
        Self::with_directory(client, DEFAULT_PLC_DIRECTORY)
    }

    /// A resolver using the directory at `url` (e.g. `http://127.0.0.1:2582`);
    /// a trailing `/` is ignored.
    pub fn with_directory(client: C, url: &str) -> Self {
        PlcResolver {
            client,
            directory: url.trim_end_matches('/').to_owned(),
            timeout: None,
        }
    }

    /// The directory URL.
    #[must_use]
    pub fn directory(&self) -> &str {
        &self.directory
    }

    async fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        did.check_plc_form().map_err(|e| ResolveError::InvalidDid {
            did: did.as_str().to_owned(),
            reason: e.to_string(),
        })?;
        let url = format!("{}/{}", self.directory, did);
        fetch_document(&self.client, did, &url, self.timeout).await
    }
}

http_resolver!(PlcResolver, DidResolver::resolve_did(Did) -> DidDocument);

/// Resolves did:web (host form only) through
/// `https://<host>/.well-known/did.json`; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct WebResolver<C> {
    client: C,
    allow_http_loopback: bool,
    timeout: Option<Duration>,
}

impl<C: HttpClient> WebResolver<C> {
    /// A resolver that uses `https://` only.
    pub fn new(client: C) -> Self {
        WebResolver {
            client,
            allow_http_loopback: false,
            timeout: None,
        }
    }

    /// With `allow`, a loopback host (`localhost`, `*.localhost`,
    /// `127.0.0.0/8`) is fetched over plain `http://`. Off by default.
    #[must_use]
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    /// The URL of the document of `did` (a did:web, host form).
    ///
    /// # Errors
    /// [`ResolveError::UnsupportedMethod`] for another method,
    /// [`ResolveError::UnsupportedDidWebPath`] for the path form, and
    /// [`ResolveError::InvalidDid`] if the decoded host is not `host` or
    /// `host:port`.
    pub fn document_url(&self, did: &Did) -> Result<String, ResolveError> {
        if !did.is_web() {
            return Err(ResolveError::UnsupportedMethod(did.method().to_owned()));
        }
        let id = did.identifier();
        if id.contains(':') {
            return Err(ResolveError::UnsupportedDidWebPath(did.as_str().to_owned()));
        }
        let invalid = |reason: &str| ResolveError::InvalidDid {
            did: did.as_str().to_owned(),
            reason: reason.to_owned(),
        };
        let authority = percent_encoding::percent_decode_str(id)
            .decode_utf8()
            .map_err(|_| invalid("percent-encoding is not UTF-8"))?;
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (&*authority, None),
        };
        if let Some(port) = port
            && (port.is_empty()
                || port.len() > 5
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().is_err())
        {
            return Err(invalid("the port is not a number from 0 to 65535"));
        }
        let host_ok = !host.is_empty()
            && !host.starts_with('.')
            && !host.ends_with('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
        if !host_ok {
            return Err(invalid("the host is not a domain name or IPv4 address"));
        }
        Ok(format!(
            "{}/.well-known/did.json",
            origin(&authority.to_ascii_lowercase(), self.allow_http_loopback)
        ))
    }

    async fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        let url = self.document_url(did)?;
        fetch_document(&self.client, did, &url, self.timeout).await
    }
}

http_resolver!(WebResolver, DidResolver::resolve_did(Did) -> DidDocument);

/// Resolves did:plc and did:web with one HTTP client, dispatching on the
/// method; any other method is [`ResolveError::UnsupportedMethod`].
#[derive(Debug, Clone)]
pub struct Resolver<C> {
    plc: PlcResolver<C>,
    web: WebResolver<C>,
}

impl<C: HttpClient + Clone> Resolver<C> {
    /// did:plc through [`DEFAULT_PLC_DIRECTORY`], did:web over `https://`.
    pub fn new(client: C) -> Self {
        Resolver {
            plc: PlcResolver::new(client.clone()),
            web: WebResolver::new(client),
        }
    }
}

impl<C: HttpClient> Resolver<C> {
    /// From the two method resolvers, configured as wanted.
    pub fn from_parts(plc: PlcResolver<C>, web: WebResolver<C>) -> Self {
        Resolver { plc, web }
    }

    /// Uses the PLC directory at `url`.
    #[must_use]
    pub fn with_plc_directory(mut self, url: &str) -> Self {
        self.plc.directory = url.trim_end_matches('/').to_owned();
        self
    }

    /// See [`WebResolver::allow_http_loopback`].
    #[must_use]
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.web.allow_http_loopback = allow;
        self
    }

    /// Limits each request of both methods to `limit`; see
    /// [`PlcResolver::with_timeout`].
    #[must_use]
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.plc.timeout = Some(limit);
        self.web.timeout = Some(limit);
        self
    }
}

impl<C: HttpClient> DidResolver for Resolver<C> {
    fn resolve_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        match did.method() {
            "plc" => self.plc.resolve_did(did),
            "web" => self.web.resolve_did(did),
            other => {
                let e = ResolveError::UnsupportedMethod(other.to_owned());
                Box::pin(async move { Err(e) })
            }
        }
    }
}

/// A fixed table of DID documents; unknown DIDs are
/// [`ResolveError::NotFound`]. Shareable (`&self` methods).
#[derive(Debug, Default)]
pub struct MemoryDidResolver {
    entries: Mutex<HashMap<String, Option<DidDocument>>>,
}

impl MemoryDidResolver {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a document, under its `id`.
    pub fn insert(&self, doc: DidDocument) {
        self.lock().insert(doc.id.clone(), Some(doc));
    }

    /// Marks `did` as deactivated ([`ResolveError::Deactivated`]).
    pub fn deactivate(&self, did: &Did) {
        self.lock().insert(did.as_str().to_owned(), None);
    }

    /// Removes `did`, which becomes not found.
    pub fn remove(&self, did: &Did) {
        self.lock().remove(did.as_str());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<DidDocument>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DidResolver for MemoryDidResolver {
    fn resolve_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        let result = match self.lock().get(did.as_str()) {
            Some(Some(doc)) => Ok(doc.clone()),
            Some(None) => Err(ResolveError::Deactivated(did.as_str().to_owned())),
            None => Err(ResolveError::NotFound(format!("DID {did}"))),
        };
        Box::pin(async move { result })
    }
}
