//! The HTTP transport under the client and the identity resolvers.
//!
//! [`HttpClient`] is one method: send an [`http::Request`] with a
//! [`Bytes`] body, get an [`http::Response`] with the whole body. The crate's
//! client, session handling and resolvers are written against it, so another
//! runtime or HTTP stack plugs in by implementing it; tests plug in fakes.
//!
//! [`ReqwestClient`] is the implementation that ships. reqwest is the
//! ecosystem's standard async HTTP client (hyper underneath); it is built here
//! with rustls and the Mozilla roots (`webpki-roots`) and the `ring` provider,
//! so nothing depends on the system's OpenSSL or certificate store and no C
//! toolchain beyond `ring`'s is needed. reqwest 0.12 is used rather than 0.13
//! because 0.13's rustls default pulls in `aws-lc-rs` (cmake and a long C build).
//!
//! Response bodies are read in full, but never past a limit
//! ([`DEFAULT_MAX_RESPONSE_BYTES`] unless set with
//! [`ReqwestClient::with_max_response_bytes`]); a larger body is
//! [`TransportError::BodyTooLarge`], not an allocation the peer controls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use bytes::Bytes;

/// A request as the transport sends it.
pub type HttpRequest = http::Request<Bytes>;
/// A response as the transport returns it: status, headers and the whole body.
pub type HttpResponse = http::Response<Bytes>;
/// The future an [`HttpClient`] returns (boxed, so the trait is object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Default limit on a response body read by [`ReqwestClient`]: 256 MiB, room
/// for a large repository CAR from `com.atproto.sync.getRepo`.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Default limit on the time of one request, connection to last body byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default limit on the time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends HTTP requests. Implement it to run the client or the resolvers over
/// another HTTP stack; [`ReqwestClient`] is the implementation that ships.
///
/// The URL of the request is absolute (`http://…` or `https://…`).
/// An implementation returns every response it gets, whatever its status:
/// deciding what a 4xx or 5xx means is the caller's job.
pub trait HttpClient: Send + Sync {
    /// Sends `request` and returns the response with its whole body.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

impl<T: HttpClient + ?Sized> HttpClient for Arc<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        (**self).send(request)
    }
}

impl<T: HttpClient + ?Sized> HttpClient for &T {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        (**self).send(request)
    }
}

impl<T: HttpClient + ?Sized> HttpClient for Box<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        (**self).send(request)
    }
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request did not complete within its time limit.
    #[error("request to {url} timed out")]
    Timeout {
        /// The request's URL.
        url: String,
    },
    /// No connection could be made, or it broke before the response was read.
    #[error("request to {url} failed: {source}")]
    Connect {
        /// The request's URL.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The response body was longer than the transport's limit.
    #[error("response from {url} is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The request's URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The request could not be built (a bad URL or header).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// An [`HttpClient`] over [`reqwest::Client`] (rustls, webpki roots).
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
}

impl ReqwestClient {
    /// A client with [`DEFAULT_TIMEOUT`], [`DEFAULT_CONNECT_TIMEOUT`] and
    /// [`DEFAULT_MAX_RESPONSE_BYTES`], and no redirects followed (an XRPC
    /// answer is never a redirect; a resolver that must not be led elsewhere
    /// depends on it).
    pub fn new() -> Result<Self, TransportError> {
        Self::with_timeouts(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)
    }

    /// A client with the given time limits for a whole request and for
    /// connecting.
    pub fn with_timeouts(timeout: Duration, connect: Duration) -> Result<Self, TransportError> {
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("atproto-xrpc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        Ok(Self::from_client(inner))
    }

    /// Wraps a `reqwest::Client` built by the caller.
    pub fn from_client(inner: reqwest::Client) -> Self {
        Self {
            inner,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Sets the limit on a response body.
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    async fn send_inner(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = request.uri().to_string();
        let request = reqwest::Request::try_from(request)
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let classify = |e: reqwest::Error, url: &str| {
            if e.is_timeout() {
                TransportError::Timeout { url: url.into() }
            } else {
                TransportError::Connect {
                    url: url.into(),
                    source: Box::new(e),
                }
            }
        };
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| classify(e, &url))?;
        let limit = self.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(TransportError::BodyTooLarge { url, limit });
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, &url))? {
            if body.len() + chunk.len() > limit {
                return Err(TransportError::BodyTooLarge { url, limit });
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body.freeze())
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))
    }
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(self.send_inner(request))
    }
}
