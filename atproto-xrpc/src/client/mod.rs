//! The XRPC client (feature `client`): typed and raw calls over an
//! [`HttpClient`], errors as [`ClientError`], optional lexicon validation,
//! the `atproto-proxy` / `atproto-accept-labelers` headers, retries
//! ([`RetryPolicy`]) and sessions with token refresh ([`SessionClient`]).
//!
//! [`XrpcClient`] talks to one service (a PDS, an AppView, …) and sends no
//! credentials unless a call carries a bearer token in its
//! [`CallOptions`]. [`SessionClient`] wraps it with an account's session:
//! it logs in, sends the access token with every call, and refreshes it when
//! the server says it has expired. Both implement [`XrpcCall`], which holds
//! the calls; bring it into scope.
//!
//! ```no_run
//! use atproto_xrpc::client::{XrpcCall, XrpcClient};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize)]
//! struct Params<'a> {
//!     actors: &'a [&'a str],
//! }
//!
//! #[derive(Deserialize)]
//! struct Profiles {
//!     profiles: Vec<serde_json::Value>,
//! }
//!
//! # async fn run() -> Result<(), atproto_xrpc::client::ClientError> {
//! let client = XrpcClient::new("https://public.api.bsky.app")?
//!     .with_validation(atproto_lexicon::bundled::catalog());
//! // GET /xrpc/app.bsky.actor.getProfiles?actors=alice.bsky.social&actors=bob.bsky.social
//! let out: Profiles = client
//!     .query(
//!         "app.bsky.actor.getProfiles",
//!         &Params { actors: &["alice.bsky.social", "bob.bsky.social"] },
//!     )
//!     .await?;
//! println!("{} profiles", out.profiles.len());
//! # Ok(())
//! # }
//! ```

mod call;
mod error;
mod retry;
mod session;
mod store;

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use atproto_core::Value;
use atproto_core::data::json;
use atproto_lexicon::{Catalog, EndpointValidator, ValidationError, ValidationErrorKind};

use crate::error::XrpcError;
use crate::headers::{self, LabelerList, ProxyTarget, RetryAfter};
use crate::method::MethodKind;
use crate::transport::{
    DEFAULT_MAX_RESPONSE_BYTES, HttpClient, HttpRequest, ReqwestClient, SendBody, TransportError,
    collect_body,
};

pub use call::{
    CallOptions, JSON, OCTET_STREAM, RequestBody, Upload, XrpcCall, XrpcRequest, XrpcResponse,
    XrpcStreamResponse, encode_params,
};
pub use error::ClientError;
pub use retry::{RetryPolicy, Timer, TokioTimer};
pub use session::{Session, SessionClient};
pub use store::{FileSessionStore, MemorySessionStore, SessionStore, StoreError};

type SharedCatalog = Arc<dyn Borrow<Catalog> + Send + Sync>;

/// An XRPC client for one service.
///
/// Built with [`XrpcClient::new`] (reqwest) or [`XrpcClient::with_http`]
/// (any [`HttpClient`]), then configured with the `with_*` methods. The
/// calls are those of [`XrpcCall`]. Cloning shares the transport.
///
/// A status outside 2xx is [`ClientError::Xrpc`] with the body's error name
/// and message and the `Retry-After` / `RateLimit-*` headers. Calls are
/// retried per the [`RetryPolicy`] (the default: three attempts; its docs
/// say which failures are retried).
///
/// ```no_run
/// use atproto_xrpc::client::{CallOptions, XrpcCall, XrpcClient};
/// use atproto_xrpc::ProxyTarget;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = XrpcClient::new("https://pds.example.com")?
///     .with_proxy("did:web:api.bsky.app#bsky_appview".parse::<ProxyTarget>()?);
/// let out: serde_json::Value = client
///     .query_with(
///         "app.bsky.feed.getTimeline",
///         &serde_json::json!({"limit": 10}),
///         CallOptions::new().bearer("access-jwt"),
///     )
///     .await?;
/// # let _ = out;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct XrpcClient<H: HttpClient = ReqwestClient> {
    http: H,
    service: String,
    catalog: Option<SharedCatalog>,
    proxy: Option<ProxyTarget>,
    accept_labelers: Option<LabelerList>,
    user_agent: Option<String>,
    headers: Vec<(String, String)>,
    retry: RetryPolicy,
    timer: Arc<dyn Timer>,
    timeout: Option<Duration>,
}

impl<H: HttpClient> fmt::Debug for XrpcClient<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrpcClient")
            .field("service", &self.service)
            .field("validation", &self.catalog.is_some())
            .field("proxy", &self.proxy)
            .field("accept_labelers", &self.accept_labelers)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl XrpcClient<ReqwestClient> {
    /// A client for the service at `service` (e.g. `https://bsky.social`,
    /// `http://127.0.0.1:2583`) over a [`ReqwestClient`] with its defaults.
    ///
    /// # Errors
    /// [`ClientError::InvalidService`], or [`ClientError::Transport`] if
    /// reqwest cannot be set up.
    pub fn new(service: &str) -> Result<Self, ClientError> {
        Self::with_http(service, ReqwestClient::new()?)
    }
}

impl<H: HttpClient> XrpcClient<H> {
    /// A client for the service at `service` over `http`.
    ///
    /// The URL is `http://` or `https://`, a host, an optional port and an
    /// optional path prefix (a trailing `/` is dropped); methods are under
    /// `<service>/xrpc/<nsid>`.
    ///
    /// # Errors
    /// [`ClientError::InvalidService`] for another scheme, no host, a query
    /// or a fragment.
    pub fn with_http(service: &str, http: H) -> Result<Self, ClientError> {
        Ok(Self {
            http,
            service: check_service(service)?,
            catalog: None,
            proxy: None,
            accept_labelers: None,
            user_agent: None,
            headers: Vec::new(),
            retry: RetryPolicy::default(),
            timer: Arc::new(TokioTimer),
            timeout: None,
        })
    }

    /// Validates every call against `catalog`: the method must be in it,
    /// parameters and JSON input are checked before sending and JSON output
    /// after. Takes `&'static Catalog` (e.g.
    /// `atproto_lexicon::bundled::catalog()`), `Arc<Catalog>` or `Catalog`.
    pub fn with_validation(
        mut self,
        catalog: impl Borrow<Catalog> + Send + Sync + 'static,
    ) -> Self {
        self.catalog = Some(Arc::new(catalog));
        self
    }

    /// Sends `atproto-proxy: <target>` with every call (a call's
    /// [`CallOptions::proxy`] replaces it).
    pub fn with_proxy(mut self, target: ProxyTarget) -> Self {
        self.proxy = Some(target);
        self
    }

    /// Sends `atproto-accept-labelers` with every call (a call's
    /// [`CallOptions::accept_labelers`] replaces it).
    pub fn with_accept_labelers(mut self, labelers: LabelerList) -> Self {
        self.accept_labelers = Some(labelers);
        self
    }

    /// Sends `User-Agent: <agent>` (else the transport's own).
    pub fn with_user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// Sends a header with every call.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the retry policy ([`RetryPolicy::none`] to never retry).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the clock used for waits between attempts.
    pub fn with_timer(mut self, timer: impl Timer + 'static) -> Self {
        self.timer = Arc::new(timer);
        self
    }

    /// Limits each attempt of every call to `timeout` (a call's
    /// [`CallOptions::timeout`] replaces it); the transport's own limit
    /// still applies. A streamed call is limited until its response head
    /// arrives, not while its body is read.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The service URL, without a trailing `/`.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The transport.
    pub fn http(&self) -> &H {
        &self.http
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The URL of a request: `<service>/xrpc/<nsid>[?params]`.
    pub fn url(&self, request: &XrpcRequest) -> String {
        let mut url = format!("{}{}", self.service, request.method.path());
        if !request.params.is_empty() {
            url.push('?');
            url.push_str(&request.params.encode());
        }
        url
    }

    /// The request's method, URL and headers; `content` is the body's
    /// content type and, for a stream, its length if known.
    fn build(
        &self,
        request: &XrpcRequest,
        content: Option<(&str, Option<u64>)>,
    ) -> Result<http::request::Parts, ClientError> {
        let options = &request.options;
        let mut builder = http::Request::builder()
            .method(request.method.http_method())
            .uri(self.url(request));
        let mut add = |name: &str, value: &str| {
            builder = std::mem::take(&mut builder).header(name, value);
        };
        if let Some(agent) = &self.user_agent {
            add(http::header::USER_AGENT.as_str(), agent);
        }
        for (name, value) in &self.headers {
            add(name, value);
        }
        if let Some(target) = options.proxy.as_ref().or(self.proxy.as_ref()) {
            add(headers::ATPROTO_PROXY, &target.to_string());
        }
        if let Some(list) = options
            .accept_labelers
            .as_ref()
            .or(self.accept_labelers.as_ref())
        {
            add(headers::ATPROTO_ACCEPT_LABELERS, &list.to_string());
        }
        if let Some(token) = &options.bearer {
            add(
                http::header::AUTHORIZATION.as_str(),
                &format!("Bearer {token}"),
            );
        }
        for (name, value) in &options.headers {
            add(name, value);
        }
        if let Some((content_type, length)) = content {
            add(http::header::CONTENT_TYPE.as_str(), content_type);
            if let Some(length) = length {
                add(http::header::CONTENT_LENGTH.as_str(), &length.to_string());
            }
        }
        builder.body(()).map(|r| r.into_parts().0).map_err(|e| {
            ClientError::Transport(TransportError::InvalidRequest(format!(
                "request to {}: {e}",
                request.nsid()
            )))
        })
    }

    /// Waits for `sent` within the call's time limit, if it has one.
    async fn timed<T>(
        &self,
        request: &XrpcRequest,
        url: String,
        sent: impl std::future::Future<Output = Result<T, TransportError>>,
    ) -> Result<T, ClientError> {
        Ok(match request.options.timeout.or(self.timeout) {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| TransportError::Timeout { url })??,
            None => sent.await?,
        })
    }

    async fn attempt(&self, request: &XrpcRequest) -> Result<XrpcResponse, ClientError> {
        let content = request
            .body
            .as_ref()
            .map(|b| (b.content_type.as_str(), None));
        let parts = self.build(request, content)?;
        let url = parts.uri.to_string();
        let body = request
            .body
            .as_ref()
            .map(|b| b.bytes.clone())
            .unwrap_or_default();
        let sent = self.http.send(HttpRequest::from_parts(parts, body));
        let (parts, body) = self.timed(request, url, sent).await?.into_parts();
        if parts.status.is_success() {
            return Ok(XrpcResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            });
        }
        Err(xrpc_error(&parts, &body))
    }

    /// One attempt with a streamed response: the 2xx head and the body as
    /// it comes, or the error (its body read, at most [`MAX_ERROR_BODY`]).
    /// `upload` replaces the request's body.
    async fn attempt_streaming(
        &self,
        request: &XrpcRequest,
        upload: Option<Upload>,
    ) -> Result<XrpcStreamResponse, ClientError> {
        let (parts, body) = match upload {
            Some(upload) => (
                self.build(request, Some((&upload.content_type, upload.content_length)))?,
                SendBody::Stream(upload.body),
            ),
            None => {
                let content = request
                    .body
                    .as_ref()
                    .map(|b| (b.content_type.as_str(), None));
                let body = request
                    .body
                    .as_ref()
                    .map(|b| b.bytes.clone())
                    .unwrap_or_default();
                (self.build(request, content)?, SendBody::Full(body))
            }
        };
        let url = parts.uri.to_string();
        let sent = self
            .http
            .send_streaming(http::Request::from_parts(parts, body));
        let (parts, body) = self.timed(request, url, sent).await?.into_parts();
        if parts.status.is_success() {
            return Ok(XrpcStreamResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            });
        }
        // A body past the limit, or one that breaks off, leaves the
        // status's own name and message.
        let body = collect_body(body, MAX_ERROR_BODY).await.unwrap_or_default();
        Err(xrpc_error(&parts, &body))
    }

    /// Runs `attempt` until it succeeds or the retry policy gives up.
    async fn retrying<T, F>(
        &self,
        idempotent: bool,
        mut attempt: impl FnMut() -> F,
    ) -> Result<T, ClientError>
    where
        F: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut tries = 1;
        loop {
            match attempt().await {
                Ok(response) => return Ok(response),
                Err(error) => {
                    let now = self.timer.now();
                    match self.retry.retry_delay(&error, tries, idempotent, now) {
                        Some(delay) => {
                            self.timer.sleep(delay).await;
                            tries += 1;
                        }
                        None => return Err(error),
                    }
                }
            }
        }
    }

    fn endpoint(
        &self,
        request: &XrpcRequest,
    ) -> Result<Option<EndpointValidator<'_>>, ClientError> {
        match &self.catalog {
            Some(catalog) => Ok(Some(check_request((**catalog).borrow(), request)?)),
            None => Ok(None),
        }
    }

    async fn send_request(&self, request: XrpcRequest) -> Result<XrpcResponse, ClientError> {
        let endpoint = self.endpoint(&request)?;
        let response = self
            .retrying(request.is_idempotent(), || self.attempt(&request))
            .await?;
        if let Some(endpoint) = &endpoint {
            check_output(endpoint, request.nsid(), &response)?;
        }
        Ok(response)
    }

    async fn send_streaming_request(
        &self,
        request: XrpcRequest,
        upload: Option<Upload>,
    ) -> Result<XrpcStreamResponse, ClientError> {
        let endpoint = self.endpoint(&request)?;
        let response = match upload {
            // A stream is consumed by the first attempt: none other.
            Some(upload) => self.attempt_streaming(&request, Some(upload)).await?,
            None => {
                self.retrying(request.is_idempotent(), || {
                    self.attempt_streaming(&request, None)
                })
                .await?
            }
        };
        match &endpoint {
            // A JSON output with a schema is small: read and checked whole.
            Some(endpoint)
                if response.content_type().is_some_and(call::is_json)
                    && has_schema(|v| endpoint.validate_output(v)) =>
            {
                let response = response.collect(DEFAULT_MAX_RESPONSE_BYTES).await?;
                check_output(endpoint, request.nsid(), &response)?;
                Ok(response.into())
            }
            _ => Ok(response),
        }
    }
}

/// The most of an error response's body that is read for its name and
/// message: 64 KiB.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The error of a response outside 2xx: the body's name and message, and
/// the `Retry-After` / `RateLimit-*` headers.
fn xrpc_error(parts: &http::response::Parts, body: &[u8]) -> ClientError {
    let lookup = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let error = XrpcError::from_response(parts.status.as_u16(), body);
    let error = match error.clone().with_headers(lookup) {
        Ok(e) => e,
        // A malformed RateLimit header must not hide a good Retry-After.
        Err(_) => XrpcError {
            retry_after: lookup(headers::RETRY_AFTER).and_then(|v| RetryAfter::parse(v).ok()),
            ..error
        },
    };
    ClientError::Xrpc(Box::new(error))
}

impl<H: HttpClient> XrpcCall for XrpcClient<H> {
    fn send(
        &self,
        request: XrpcRequest,
    ) -> impl std::future::Future<Output = Result<XrpcResponse, ClientError>> + Send {
        self.send_request(request)
    }

    /// Streams the response; with no `upload`, retried as
    /// [`send`](XrpcCall::send) is, but only before the body starts. An
    /// `upload` is sent once, never retried.
    fn send_streaming(
        &self,
        request: XrpcRequest,
        upload: Option<Upload>,
    ) -> impl std::future::Future<Output = Result<XrpcStreamResponse, ClientError>> + Send {
        self.send_streaming_request(request, upload)
    }
}

fn check_service(service: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::InvalidService {
        url: service.to_owned(),
        reason: reason.to_owned(),
    };
    if service.contains('#') {
        return Err(bad("a service URL has no fragment"));
    }
    let uri: http::Uri = service
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if uri.query().is_some() {
        return Err(bad("a service URL has no query"));
    }
    Ok(service.trim_end_matches('/').to_owned())
}

fn invalid(nsid: &str, part: &'static str, reason: impl fmt::Display) -> ClientError {
    ClientError::Validation {
        nsid: nsid.to_owned(),
        part,
        reason: reason.to_string(),
    }
}

/// Whether the endpoint declares a schema for a body, asked of its check
/// (which answers `NoSchema` for any value when it does not). A body
/// without a schema is bytes, even when it is JSON (a blob, say): it is
/// not read as ATProto data, which would refuse floats.
fn has_schema(check: impl FnOnce(&Value) -> Result<(), ValidationError>) -> bool {
    !matches!(check(&Value::Null), Err(e) if matches!(e.kind(), ValidationErrorKind::NoSchema(_)))
}

fn check_request<'c>(
    catalog: &'c Catalog,
    request: &XrpcRequest,
) -> Result<EndpointValidator<'c>, ClientError> {
    let nsid = request.nsid();
    let endpoint = match request.method.kind {
        MethodKind::Query => catalog.query(nsid),
        MethodKind::Procedure => catalog.procedure(nsid),
        MethodKind::Subscription => catalog.subscription(nsid),
    }
    .map_err(|e| invalid(nsid, "method", e))?;
    endpoint
        .validate_params(&request.params.as_pairs())
        .map_err(|e| invalid(nsid, "params", e))?;
    if let Some(body) = &request.body
        && call::is_json(&body.content_type)
        && has_schema(|v| endpoint.validate_input(v))
    {
        let value = json::from_slice(&body.bytes).map_err(|e| invalid(nsid, "input", e))?;
        endpoint
            .validate_input(&value)
            .map_err(|e| invalid(nsid, "input", e))?;
    }
    Ok(endpoint)
}

fn check_output(
    endpoint: &EndpointValidator<'_>,
    nsid: &str,
    response: &XrpcResponse,
) -> Result<(), ClientError> {
    if !response.is_json()
        || response.body.is_empty()
        || !has_schema(|v| endpoint.validate_output(v))
    {
        return Ok(());
    }
    let value = json::from_slice(&response.body).map_err(|e| invalid(nsid, "output", e))?;
    endpoint
        .validate_output(&value)
        .map_err(|e| invalid(nsid, "output", e))
}
