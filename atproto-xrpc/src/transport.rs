//! The HTTP transport under the client and the identity resolvers.
//!
//! [`HttpClient`] sends an [`http::Request`] and returns an
//! [`http::Response`], either whole ([`send`](HttpClient::send): [`Bytes`]
//! in, [`Bytes`] out) or streamed ([`send_streaming`](HttpClient::send_streaming):
//! a [`SendBody`] in, a [`BodyStream`] out, for blob uploads and repository
//! CARs of hundreds of megabytes). The crate's client, session handling and
//! resolvers are written against it, so another runtime or HTTP stack plugs
//! in by implementing it; tests plug in fakes. Only `send` must be
//! implemented: the default `send_streaming` collects a streamed request body
//! (at most [`DEFAULT_MAX_REQUEST_BYTES`]), calls `send`, and hands the whole
//! response body back as a stream of one chunk.
//!
//! [`ReqwestClient`] is the implementation that ships, and it streams both
//! ways. reqwest is the
//! ecosystem's standard async HTTP client (hyper underneath); it is built here
//! with rustls and the Mozilla roots (`webpki-roots`) and the `ring` provider,
//! so nothing depends on the system's OpenSSL or certificate store and no C
//! toolchain beyond `ring`'s is needed. reqwest 0.12 is used rather than 0.13
//! because 0.13's rustls default pulls in `aws-lc-rs` (cmake and a long C build).
//!
//! Response bodies read by `send` are read in full, but never past a limit
//! ([`DEFAULT_MAX_RESPONSE_BYTES`] unless set with
//! [`ReqwestClient::with_max_response_bytes`]); a larger body is
//! [`TransportError::BodyTooLarge`], not an allocation the peer controls.
//! A streamed body has no such limit: the caller holds one chunk at a time.
//!
//! # Time limits
//!
//! [`ReqwestClient`] has three:
//!
//! - the connect timeout ([`DEFAULT_CONNECT_TIMEOUT`]): establishing the
//!   connection;
//! - the request timeout ([`DEFAULT_TIMEOUT`]): for `send`, the whole
//!   exchange, connection to last body byte; for `send_streaming`, the time
//!   until the response's status and headers arrive, counted from the start
//!   for a [`SendBody::Full`] request and from the end of the request body
//!   for a [`SendBody::Stream`] (an upload takes as long as it takes);
//! - the idle timeout ([`DEFAULT_IDLE_TIMEOUT`]): the longest wait for the
//!   next chunk of a response body. A download that keeps moving runs as
//!   long as it needs; one that stalls fails with
//!   [`TransportError::Timeout`] instead of hanging.
//!
//! An upload itself is not timed by the transport (a slow source is not a
//! fault); wrap the call in `tokio::time::timeout` to bound it.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

/// A request as the transport sends it.
pub type HttpRequest = http::Request<Bytes>;
/// A response as the transport returns it: status, headers and the whole body.
pub type HttpResponse = http::Response<Bytes>;
/// The future an [`HttpClient`] returns (boxed, so the trait is object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A body as a stream of chunks: a streamed response body, or the source of
/// a streamed request body. An `Err` item ends it.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;
/// A request whose body may be streamed.
pub type StreamingRequest = http::Request<SendBody>;
/// A response whose body is streamed.
pub type StreamingResponse = http::Response<BodyStream>;

/// Default limit on a response body read by [`ReqwestClient`]: 256 MiB, room
/// for a large repository CAR from `com.atproto.sync.getRepo`.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Limit on a streamed request body that has to be collected before it is
/// sent: by the default [`HttpClient::send_streaming`], which sends through
/// [`HttpClient::send`]. 256 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;

/// Default limit on the time of one request: connection to last body byte
/// for [`HttpClient::send`], to the response head for
/// [`HttpClient::send_streaming`] (see the [module docs](self)).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default limit on the time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default limit on the wait for the next chunk of a response body.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The body of a [`StreamingRequest`]: whole bytes (which can be sent again),
/// or a stream that is consumed as it is sent.
pub enum SendBody {
    /// The whole body.
    Full(Bytes),
    /// A body read chunk by chunk; set `Content-Length` on the request if the
    /// length is known (else it is sent chunked).
    Stream(BodyStream),
}

impl SendBody {
    /// Collects the body, failing with [`TransportError::RequestTooLarge`]
    /// past `limit` bytes (`url` names the request in errors).
    ///
    /// # Errors
    /// `RequestTooLarge`, or the stream's own error.
    pub async fn collect(self, url: &str, limit: usize) -> Result<Bytes, TransportError> {
        match self {
            SendBody::Full(bytes) => Ok(bytes),
            SendBody::Stream(stream) => collect_body(stream, limit).await.map_err(|e| match e {
                TransportError::BodyTooLarge { limit, .. } => TransportError::RequestTooLarge {
                    url: url.to_owned(),
                    limit,
                },
                other => other,
            }),
        }
    }
}

impl std::fmt::Debug for SendBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendBody::Full(bytes) => f.debug_tuple("Full").field(&bytes.len()).finish(),
            SendBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl From<Bytes> for SendBody {
    fn from(bytes: Bytes) -> Self {
        SendBody::Full(bytes)
    }
}

impl From<BodyStream> for SendBody {
    fn from(stream: BodyStream) -> Self {
        SendBody::Stream(stream)
    }
}

/// A stream of one chunk (none if `bytes` is empty).
pub fn once_stream(bytes: Bytes) -> BodyStream {
    let chunk = (!bytes.is_empty()).then_some(Ok(bytes));
    Box::pin(futures_util::stream::iter(chunk))
}

/// A stream of the chunks a reader gives, `chunk_size` bytes at most each
/// (e.g. a file for an upload). Reads block: fine for local files, not for
/// sockets or pipes that may wait. A read error ends the stream with
/// [`TransportError::Source`].
pub fn reader_stream<R: Read + Send + 'static>(reader: R, chunk_size: usize) -> BodyStream {
    let chunk_size = chunk_size.max(1);
    Box::pin(futures_util::stream::unfold(
        Some(reader),
        move |reader| async move {
            let mut reader = reader?;
            let mut buf = vec![0; chunk_size];
            loop {
                return match reader.read(&mut buf) {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), Some(reader)))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Some((Err(TransportError::Source(e)), None)),
                };
            }
        },
    ))
}

/// Collects a body stream, failing with [`TransportError::BodyTooLarge`]
/// (its `url` empty) past `limit` bytes.
///
/// # Errors
/// `BodyTooLarge`, or the stream's own error.
pub async fn collect_body(mut body: BodyStream, limit: usize) -> Result<Bytes, TransportError> {
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = body.try_next().await? {
        if out.len() + chunk.len() > limit {
            return Err(TransportError::BodyTooLarge {
                url: String::new(),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Sends HTTP requests. Implement it to run the client or the resolvers over
/// another HTTP stack; [`ReqwestClient`] is the implementation that ships.
///
/// The URL of the request is absolute (`http://…` or `https://…`).
/// An implementation returns every response it gets, whatever its status:
/// deciding what a 4xx or 5xx means is the caller's job.
pub trait HttpClient: Send + Sync {
    /// Sends `request` and returns the response with its whole body.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;

    /// Sends `request`, whose body may be a stream, and returns the response
    /// once its head has arrived, with the body as a stream.
    ///
    /// The default goes through [`send`](HttpClient::send): it collects a
    /// streamed request body (at most [`DEFAULT_MAX_REQUEST_BYTES`], else
    /// [`TransportError::RequestTooLarge`]) and returns the whole response
    /// body as one chunk. Implementations that can stream override it.
    fn send_streaming(
        &self,
        request: StreamingRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, TransportError>> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let body = body.collect(&url, DEFAULT_MAX_REQUEST_BYTES).await?;
            let response = self.send(http::Request::from_parts(parts, body)).await?;
            Ok(response.map(once_stream))
        })
    }
}

macro_rules! forward_http_client {
    ($($ty:ty),*) => {$(
        impl<T: HttpClient + ?Sized> HttpClient for $ty {
            fn send(
                &self,
                request: HttpRequest,
            ) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
                (**self).send(request)
            }

            fn send_streaming(
                &self,
                request: StreamingRequest,
            ) -> BoxFuture<'_, Result<StreamingResponse, TransportError>> {
                (**self).send_streaming(request)
            }
        }
    )*};
}

forward_http_client!(Arc<T>, &T, Box<T>);

/// Why a request got no response, or its body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request, or the wait for the next chunk of its response body,
    /// did not complete within its time limit.
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
    /// A streamed request body was longer than the limit of a transport
    /// that must collect it before sending.
    #[error("request body to {url} is larger than the limit of {limit} bytes")]
    RequestTooLarge {
        /// The request's URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The source of a streamed request body failed (e.g. reading a file).
    #[error("reading the request body failed: {0}")]
    Source(#[source] std::io::Error),
    /// The request could not be built (a bad URL or header).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// An [`HttpClient`] over [`reqwest::Client`] (rustls, webpki roots). It
/// streams both ways; the [module docs](self) say how its time limits apply.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
    timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
}

impl ReqwestClient {
    /// A client with [`DEFAULT_TIMEOUT`], [`DEFAULT_CONNECT_TIMEOUT`],
    /// [`DEFAULT_IDLE_TIMEOUT`] and [`DEFAULT_MAX_RESPONSE_BYTES`], and no
    /// redirects followed (an XRPC answer is never a redirect; a resolver
    /// that must not be led elsewhere depends on it).
    pub fn new() -> Result<Self, TransportError> {
        Self::with_timeouts(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)
    }

    /// A client with the given request and connect timeouts (the idle
    /// timeout is [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn with_timeouts(timeout: Duration, connect: Duration) -> Result<Self, TransportError> {
        let inner = reqwest::Client::builder()
            .connect_timeout(connect)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("atproto-xrpc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        Ok(Self {
            timeout: Some(timeout),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            ..Self::from_client(inner)
        })
    }

    /// Wraps a `reqwest::Client` built by the caller: its own time limits
    /// apply, and no others (reqwest's `timeout` covers a whole streamed
    /// download too; prefer its `read_timeout`, or
    /// [`with_idle_timeout`](Self::with_idle_timeout)).
    pub fn from_client(inner: reqwest::Client) -> Self {
        Self {
            inner,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: None,
            idle_timeout: None,
        }
    }

    /// Sets the limit on a response body read whole.
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Sets the longest wait for the next chunk of a response body.
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    async fn send_inner(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = request.uri().to_string();
        let limit = self.max_response_bytes;
        let read = async {
            let response = self.stream_inner(request.map(SendBody::Full)).await?;
            let too_long = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .is_some_and(|len| len > limit as u64);
            if too_long {
                return Err(TransportError::BodyTooLarge {
                    url: url.clone(),
                    limit,
                });
            }
            let (parts, body) = response.into_parts();
            let body = collect_body(body, limit).await.map_err(|e| match e {
                TransportError::BodyTooLarge { limit, .. } => TransportError::BodyTooLarge {
                    url: url.clone(),
                    limit,
                },
                other => other,
            })?;
            Ok(http::Response::from_parts(parts, body))
        };
        match self.timeout {
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| TransportError::Timeout { url: url.clone() })?,
            None => read.await,
        }
    }

    async fn stream_inner(
        &self,
        request: StreamingRequest,
    ) -> Result<StreamingResponse, TransportError> {
        let url = request.uri().to_string();
        let (parts, body) = request.into_parts();
        let (body, body_sent) = match body {
            SendBody::Full(bytes) => (reqwest::Body::from(bytes), None),
            SendBody::Stream(stream) => {
                let (sent, body_sent) = tokio::sync::oneshot::channel::<()>();
                // Signals the end of the body (or its failure): the wait for
                // the response head starts then.
                let stream = futures_util::stream::unfold(
                    (stream, Some(sent)),
                    |(mut stream, mut sent)| async move {
                        let item = stream.next().await;
                        if !matches!(item, Some(Ok(_))) {
                            sent.take().map(|s| s.send(()));
                        }
                        item.map(|item| (item, (stream, sent)))
                    },
                );
                (reqwest::Body::wrap_stream(stream), Some(body_sent))
            }
        };
        let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let mut response = self.head(request, body_sent, &url).await?;
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let chunks = response.bytes_stream().map_err({
            let url = url.clone();
            move |e| classify(e, &url)
        });
        let body: BodyStream = match self.idle_timeout {
            Some(idle) => idle_limited(Box::pin(chunks), idle, url),
            None => Box::pin(chunks),
        };
        builder
            .body(body)
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))
    }

    /// Sends the request and waits for the response head, within the
    /// request timeout (counted from the end of a streamed body).
    async fn head(
        &self,
        request: reqwest::Request,
        body_sent: Option<tokio::sync::oneshot::Receiver<()>>,
        url: &str,
    ) -> Result<reqwest::Response, TransportError> {
        let execute = self.inner.execute(request);
        let timed_out = |_| TransportError::Timeout {
            url: url.to_owned(),
        };
        let response = match (self.timeout, body_sent) {
            (None, _) => execute.await,
            (Some(limit), None) => tokio::time::timeout(limit, execute)
                .await
                .map_err(timed_out)?,
            (Some(limit), Some(body_sent)) => {
                let mut execute = std::pin::pin!(execute);
                match futures_util::future::select(execute.as_mut(), body_sent).await {
                    futures_util::future::Either::Left((response, _)) => response,
                    futures_util::future::Either::Right(_) => tokio::time::timeout(limit, execute)
                        .await
                        .map_err(timed_out)?,
                }
            }
        };
        response.map_err(|e| classify(e, url))
    }
}

fn classify(e: reqwest::Error, url: &str) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout { url: url.into() }
    } else {
        TransportError::Connect {
            url: url.into(),
            source: Box::new(e),
        }
    }
}

/// Ends `body` with [`TransportError::Timeout`] when a chunk takes longer
/// than `idle` to come.
fn idle_limited(body: BodyStream, idle: Duration, url: String) -> BodyStream {
    Box::pin(futures_util::stream::unfold(Some(body), move |body| {
        let url = url.clone();
        async move {
            let mut body = body?;
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
                Ok(Some(Err(e))) => Some((Err(e), None)),
                Ok(None) => None,
                Err(_) => Some((Err(TransportError::Timeout { url }), None)),
            }
        }
    }))
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(self.send_inner(request))
    }

    fn send_streaming(
        &self,
        request: StreamingRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, TransportError>> {
        Box::pin(self.stream_inner(request))
    }
}
