//! [`XrpcRouter`]: handlers keyed by NSID, built into an [`axum::Router`].

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use atproto_core::{Nsid, SyntaxError};
use atproto_lexicon::{Catalog, EndpointKind, EndpointValidator};
use axum::body::{Body, HttpBody};
use axum::extract::FromRequestParts;
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use axum::{Extension, Router};
use futures_util::StreamExt;
use http::Method as HttpMethod;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::request::Parts;

use crate::error::{ErrorName, XrpcError};
use crate::method::{self, MethodKind};

/// The default size limit of a JSON body ([`Input`](super::Input)): 1 MiB.
pub const DEFAULT_JSON_LIMIT: usize = 1024 * 1024;

/// The default size limit of a raw body ([`RawInput`](super::RawInput)):
/// 5 MiB.
pub const DEFAULT_RAW_LIMIT: usize = 5 * 1024 * 1024;

/// A lexicon catalog the router and the extractors share: the bundled
/// `&'static` one or one the application built.
#[derive(Clone)]
pub struct SharedCatalog(CatalogRef);

#[derive(Clone)]
enum CatalogRef {
    Static(&'static Catalog),
    Shared(Arc<Catalog>),
}

impl Deref for SharedCatalog {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        match &self.0 {
            CatalogRef::Static(c) => c,
            CatalogRef::Shared(c) => c,
        }
    }
}

impl fmt::Debug for SharedCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCatalog")
            .field("docs", &self.docs().len())
            .finish()
    }
}

impl From<&'static Catalog> for SharedCatalog {
    fn from(c: &'static Catalog) -> Self {
        Self(CatalogRef::Static(c))
    }
}

impl From<Arc<Catalog>> for SharedCatalog {
    fn from(c: Arc<Catalog>) -> Self {
        Self(CatalogRef::Shared(c))
    }
}

impl From<Catalog> for SharedCatalog {
    fn from(c: Catalog) -> Self {
        Self(CatalogRef::Shared(Arc::new(c)))
    }
}

/// The method a request was routed to, with the router's settings. The
/// router puts it in the request's extensions; the extractors read it, and
/// a handler can take it as an extractor too.
#[derive(Clone, Debug)]
pub struct MethodContext {
    nsid: Nsid,
    kind: MethodKind,
    catalog: Option<SharedCatalog>,
    json_limit: usize,
    raw_limit: usize,
}

impl MethodContext {
    /// A context for `nsid` outside a router (e.g. to test a handler), with
    /// no catalog and the default limits. The extractors find it as an
    /// `Arc<MethodContext>` in the request's extensions.
    #[must_use]
    pub fn new(nsid: Nsid, kind: MethodKind) -> Self {
        Self {
            nsid,
            kind,
            catalog: None,
            json_limit: DEFAULT_JSON_LIMIT,
            raw_limit: DEFAULT_RAW_LIMIT,
        }
    }

    /// The method's NSID.
    #[must_use]
    pub fn nsid(&self) -> &Nsid {
        &self.nsid
    }

    /// How the method is called.
    #[must_use]
    pub fn kind(&self) -> MethodKind {
        self.kind
    }

    /// The router's catalog, if it has one.
    #[must_use]
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_deref()
    }

    /// The size limit of a JSON body, in bytes.
    #[must_use]
    pub fn json_limit(&self) -> usize {
        self.json_limit
    }

    /// The size limit of a raw body, in bytes.
    #[must_use]
    pub fn raw_limit(&self) -> usize {
        self.raw_limit
    }

    /// The catalog's validator for this method, if the router has a catalog
    /// that defines it.
    #[must_use]
    pub fn endpoint(&self) -> Option<EndpointValidator<'_>> {
        let catalog = self.catalog()?;
        let nsid = self.nsid.as_str();
        match self.kind {
            MethodKind::Query => catalog.query(nsid),
            MethodKind::Procedure => catalog.procedure(nsid),
            MethodKind::Subscription => catalog.subscription(nsid),
        }
        .ok()
    }

    /// The context the router stored in a request's extensions.
    pub(crate) fn of(parts: &Parts) -> Option<&Arc<MethodContext>> {
        parts.extensions.get::<Arc<MethodContext>>()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MethodContext {
    type Rejection = XrpcError;

    /// # Errors
    /// `500 InternalServerError` outside an [`XrpcRouter`] route.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, XrpcError> {
        MethodContext::of(parts)
            .map(|c| MethodContext::clone(c))
            .ok_or_else(outside_router)
    }
}

pub(crate) fn outside_router() -> XrpcError {
    XrpcError::new(
        ErrorName::InternalServerError,
        "handler is not mounted through an XrpcRouter".to_owned(),
    )
}

/// Why [`XrpcRouter::build`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// A method was registered under a text that is not an NSID.
    #[error("cannot route {nsid:?}: not an NSID: {source}")]
    InvalidNsid {
        /// The text given.
        nsid: String,
        /// What is wrong with it.
        source: SyntaxError,
    },
    /// Two handlers were registered for one NSID.
    #[error("two handlers registered for {nsid}")]
    Duplicate {
        /// The NSID.
        nsid: String,
    },
    /// The catalog defines the NSID as another kind of method (or as no
    /// method at all).
    #[error("{nsid} is registered as a {registered} but the catalog defines it as {catalog}")]
    KindMismatch {
        /// The NSID.
        nsid: String,
        /// The kind it was registered as.
        registered: MethodKind,
        /// What the catalog says it is.
        catalog: &'static str,
    },
}

struct Route<S> {
    nsid: String,
    kind: MethodKind,
    handler: MethodRouter<S>,
}

/// Builds an [`axum::Router`] serving XRPC methods at `/xrpc/<nsid>`.
///
/// - [`query`](Self::query) routes `GET`, [`procedure`](Self::procedure)
///   `POST`, [`subscription`](Self::subscription) a WebSocket `GET`; the
///   handler is any axum handler, usually taking this module's extractors.
/// - A registered NSID called with the other HTTP method (and, with a
///   catalog, an unregistered NSID the catalog defines) is answered `400
///   InvalidRequest` "Incorrect HTTP method (POST) expected GET", as the
///   reference server does.
/// - Any other `/xrpc/<nsid>` is `501 MethodNotImplemented`; a path whose
///   segment is not an NSID is `400 InvalidRequest` ("invalid xrpc path").
/// - `GET /xrpc/_health` is `{"version": …}` ([`version`](Self::version),
///   by default this crate's version).
///
/// The router adds no fallback of its own outside `/xrpc/`, so its result
/// merges with the application's other routes.
pub struct XrpcRouter<S = ()> {
    routes: Vec<Route<S>>,
    catalog: Option<SharedCatalog>,
    json_limit: usize,
    raw_limit: usize,
    version: String,
}

impl<S: Clone + Send + Sync + 'static> Default for XrpcRouter<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> fmt::Debug for XrpcRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrpcRouter")
            .field(
                "routes",
                &self
                    .routes
                    .iter()
                    .map(|r| (&r.nsid, r.kind))
                    .collect::<Vec<_>>(),
            )
            .field("catalog", &self.catalog)
            .field("json_limit", &self.json_limit)
            .field("raw_limit", &self.raw_limit)
            .field("version", &self.version)
            .finish()
    }
}

impl<S: Clone + Send + Sync + 'static> XrpcRouter<S> {
    /// A router with no methods, no catalog and the default limits.
    #[must_use]
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            catalog: None,
            json_limit: DEFAULT_JSON_LIMIT,
            raw_limit: DEFAULT_RAW_LIMIT,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Validates parameters and JSON bodies of the methods `catalog`
    /// defines ([`Params`](super::Params), [`Input`](super::Input)) and
    /// checks raw bodies' MIME types against their `input.encoding`
    /// ([`RawInput`](super::RawInput)). Methods it does not define are read
    /// by serde alone.
    #[must_use]
    pub fn catalog(mut self, catalog: impl Into<SharedCatalog>) -> Self {
        self.catalog = Some(catalog.into());
        self
    }

    /// The largest JSON body accepted, in bytes (default
    /// [`DEFAULT_JSON_LIMIT`]); larger is `413 PayloadTooLarge`.
    #[must_use]
    pub fn json_limit(mut self, bytes: usize) -> Self {
        self.json_limit = bytes;
        self
    }

    /// The largest raw body accepted, in bytes (default
    /// [`DEFAULT_RAW_LIMIT`]); larger is `413 PayloadTooLarge`.
    #[must_use]
    pub fn raw_limit(mut self, bytes: usize) -> Self {
        self.raw_limit = bytes;
        self
    }

    /// The `version` that `GET /xrpc/_health` reports.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    fn add(mut self, nsid: &str, kind: MethodKind, handler: MethodRouter<S>) -> Self {
        self.routes.push(Route {
            nsid: nsid.to_owned(),
            kind,
            handler,
        });
        self
    }

    /// Serves the query `nsid` (`GET`) with `handler`. An NSID that does
    /// not parse, or is registered twice, fails [`build`](Self::build).
    #[must_use]
    pub fn query<H, T>(self, nsid: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(nsid, MethodKind::Query, get(handler))
    }

    /// Serves the procedure `nsid` (`POST`) with `handler`.
    #[must_use]
    pub fn procedure<H, T>(self, nsid: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(nsid, MethodKind::Procedure, post(handler))
    }

    /// Serves the subscription `nsid` with an axum `handler` that upgrades
    /// the connection itself (with [`stream_frames`](super::stream_frames)
    /// for instance). [`subscription`](Self::subscription) is the usual
    /// way, from a stream producer.
    #[must_use]
    pub fn subscription_handler<H, T>(self, nsid: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(nsid, MethodKind::Subscription, get(handler))
    }

    /// Serves the subscription `nsid` from `producer`: for each WebSocket
    /// request, it gets the parameters ([`SubscriptionRequest`](super::SubscriptionRequest))
    /// and the state and returns the stream of already-encoded binary
    /// frames to send, or an error answered over HTTP before the upgrade.
    /// See [`subscription`](super::subscription).
    #[must_use]
    pub fn subscription<P, Fut, St>(self, nsid: &str, producer: P) -> Self
    where
        P: Fn(super::SubscriptionRequest, S) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<St, XrpcError>> + Send + 'static,
        St: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
    {
        self.add(
            nsid,
            MethodKind::Subscription,
            get(super::subscription::producer_handler::<S, P, Fut, St>(
                producer,
            )),
        )
    }

    /// The axum router.
    ///
    /// # Errors
    /// [`RouterError`]: a registered name that is not an NSID, an NSID
    /// registered twice, or one the catalog defines as another kind.
    pub fn build(self) -> Result<Router<S>, RouterError> {
        let mut seen: HashMap<Nsid, MethodKind> = HashMap::new();
        let mut router = Router::new();
        for route in self.routes {
            let nsid: Nsid = route
                .nsid
                .parse()
                .map_err(|source| RouterError::InvalidNsid {
                    nsid: route.nsid.clone(),
                    source,
                })?;
            if seen.insert(nsid.clone(), route.kind).is_some() {
                return Err(RouterError::Duplicate { nsid: route.nsid });
            }
            if let Some(catalog) = &self.catalog
                && let Some(found) = catalog.doc(nsid.as_str()).map(|_| {
                    catalog
                        .endpoint_kind(nsid.as_str())
                        .map_or("no method", endpoint_name)
                })
                && found != route.kind.as_str()
            {
                return Err(RouterError::KindMismatch {
                    nsid: route.nsid,
                    registered: route.kind,
                    catalog: found,
                });
            }
            let ctx = Arc::new(MethodContext {
                nsid: nsid.clone(),
                kind: route.kind,
                catalog: self.catalog.clone(),
                json_limit: self.json_limit,
                raw_limit: self.raw_limit,
            });
            let expected = route.kind.http_method();
            let takes_no_body = match route.kind {
                MethodKind::Query => true,
                MethodKind::Procedure => {
                    ctx.endpoint().is_some_and(|e| e.input_encoding().is_none())
                }
                MethodKind::Subscription => false,
            };
            let mut handler = route.handler;
            if takes_no_body {
                handler = handler.route_layer(axum::middleware::from_fn(refuse_body));
            }
            let handler = handler
                .fallback(move |method: HttpMethod| async move {
                    wrong_method(&method, expected).into_response()
                })
                .layer(Extension(ctx));
            router = router.route(&method::path(&nsid), handler);
        }
        let version = self.version;
        let health = format!("{{\"version\":{}}}", serde_json::Value::String(version));
        let catalog = self.catalog;
        let unrouted_fn = move |method: HttpMethod, uri: http::Uri| {
            let catalog = catalog.clone();
            async move { unrouted(&method, uri.path(), catalog.as_deref()) }
        };
        Ok(router
            .route(
                "/xrpc/_health",
                // Another method is the catch-all's answer (`_health` is no
                // NSID: `400`), not axum's bare `405`.
                get(move || {
                    let body = health.clone();
                    async move { health_response(body) }
                })
                .fallback(unrouted_fn.clone()),
            )
            // `/xrpc/` itself too (no NSID: `400`), as the reference's
            // catch-all takes every path under `/xrpc/`.
            .route("/xrpc/", any(unrouted_fn.clone()))
            .route("/xrpc/{*rest}", any(unrouted_fn)))
    }
}

fn endpoint_name(kind: EndpointKind) -> &'static str {
    match kind {
        EndpointKind::Query => "query",
        EndpointKind::Procedure => "procedure",
        EndpointKind::Subscription => "subscription",
        _ => "another kind of method",
    }
}

fn health_response(body: String) -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            super::response::JSON_CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

/// Refuses a request body sent to a method that takes none (a query, or a
/// procedure whose lexicon declares no `input`), as the reference server
/// does: a `Content-Length` other than `0` is refused at once; a body sent
/// with `Transfer-Encoding`, or with neither header (as HTTP/2 may), is
/// read and refused if it holds any byte (an empty body passes).
async fn refuse_body(req: axum::extract::Request, next: Next) -> Response {
    let headers = req.headers();
    if !headers.contains_key(TRANSFER_ENCODING) {
        match headers.get(CONTENT_LENGTH) {
            Some(len) if len.as_bytes() != b"0" => return unexpected_body().into_response(),
            Some(_) => return next.run(req).await,
            None if req.body().size_hint().exact() == Some(0) => return next.run(req).await,
            None => {}
        }
    }
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(_) => return unexpected_body().into_response(),
            Err(e) => {
                return XrpcError::new(
                    ErrorName::InvalidRequest,
                    format!("Failed to process unexpected request body: {e}"),
                )
                .into_response();
            }
        }
    }
    next.run(axum::extract::Request::from_parts(parts, Body::empty()))
        .await
}

fn unexpected_body() -> XrpcError {
    XrpcError::new(
        ErrorName::InvalidRequest,
        "A request body was provided when none was expected".to_owned(),
    )
}

fn wrong_method(method: &HttpMethod, expected: &str) -> XrpcError {
    XrpcError::new(
        ErrorName::InvalidRequest,
        format!("Incorrect HTTP method ({method}) expected {expected}"),
    )
}

/// The answer for an `/xrpc/…` path no route took.
fn unrouted(method: &HttpMethod, path: &str, catalog: Option<&Catalog>) -> Response {
    let Ok(parsed) = method::parse_path(path) else {
        return XrpcError::new(ErrorName::InvalidRequest, "invalid xrpc path".to_owned())
            .into_response();
    };
    let expected = catalog
        .and_then(|c| c.endpoint_kind(parsed.nsid.as_str()))
        .and_then(|k| match k {
            EndpointKind::Query => Some("GET"),
            EndpointKind::Procedure => Some("POST"),
            _ => None,
        });
    if let Some(expected) = expected
        && method.as_str() != expected
    {
        return wrong_method(method, expected).into_response();
    }
    XrpcError::new(
        ErrorName::MethodNotImplemented,
        "Method Not Implemented".to_owned(),
    )
    .into_response()
}
