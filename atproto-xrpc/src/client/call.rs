//! One XRPC call: the request ([`XrpcRequest`], [`CallOptions`]), the
//! response ([`XrpcResponse`]), and the typed calls every client has
//! ([`XrpcCall`]).

use std::future::Future;
use std::time::Duration;

use atproto_core::Nsid;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::headers::{LabelerList, ProxyTarget};
use crate::method::{Method, MethodKind};
use crate::params::QueryParams;
use crate::transport::{
    BodyStream, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, SendBody, collect_body,
    once_stream,
};

use super::error::ClientError;

/// The content type of JSON bodies.
pub const JSON: &str = "application/json";

/// The content type assumed for a response that names none (RFC 9110 §8.3).
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A request body and its content type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestBody {
    /// The bytes, sent as they are.
    pub bytes: Bytes,
    /// The `Content-Type` header.
    pub content_type: String,
}

/// Per-call settings; what is unset falls back to the client's.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct CallOptions {
    /// `atproto-proxy` for this call (replaces the client's).
    pub proxy: Option<ProxyTarget>,
    /// `atproto-accept-labelers` for this call (replaces the client's).
    pub accept_labelers: Option<LabelerList>,
    /// `Authorization: Bearer <token>`. A [`SessionClient`](super::SessionClient)
    /// sets it to the session's access token when it is unset, and sends a
    /// call that sets it with that token and no session handling.
    pub bearer: Option<String>,
    /// The time limit of each attempt (else the transport's own); for a
    /// streamed call, until the response head arrives.
    pub timeout: Option<Duration>,
    /// More headers, sent after the client's and the ones above.
    pub headers: Vec<(String, String)>,
}

impl CallOptions {
    /// No settings: everything from the client.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `atproto-proxy`.
    pub fn proxy(mut self, target: ProxyTarget) -> Self {
        self.proxy = Some(target);
        self
    }

    /// Sets `atproto-accept-labelers`.
    pub fn accept_labelers(mut self, labelers: LabelerList) -> Self {
        self.accept_labelers = Some(labelers);
        self
    }

    /// Sets the bearer token.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Sets the time limit of each attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A whole XRPC request: the method (NSID and kind), the query parameters,
/// an optional body and the per-call options. Cloning is cheap (the body is
/// [`Bytes`]); a call that is retried sends the same request again.
#[derive(Clone, Debug, PartialEq)]
pub struct XrpcRequest {
    /// The method; its kind picks `GET` (query) or `POST` (procedure).
    pub method: Method,
    /// The query parameters.
    pub params: QueryParams,
    /// The body, for procedures.
    pub body: Option<RequestBody>,
    /// Per-call settings.
    pub options: CallOptions,
}

impl XrpcRequest {
    /// A request for `method` with no parameters, body or options.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            params: QueryParams::new(),
            body: None,
            options: CallOptions::default(),
        }
    }

    /// A query request for a method named by text.
    ///
    /// # Errors
    /// [`ClientError::InvalidNsid`].
    pub fn query(nsid: &str) -> Result<Self, ClientError> {
        Ok(Self::new(Method::query(parse_nsid(nsid)?)))
    }

    /// A procedure request for a method named by text.
    ///
    /// # Errors
    /// [`ClientError::InvalidNsid`].
    pub fn procedure(nsid: &str) -> Result<Self, ClientError> {
        Ok(Self::new(Method::procedure(parse_nsid(nsid)?)))
    }

    /// Sets the parameters.
    pub fn with_params(mut self, params: QueryParams) -> Self {
        self.params = params;
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, bytes: impl Into<Bytes>, content_type: impl Into<String>) -> Self {
        self.body = Some(RequestBody {
            bytes: bytes.into(),
            content_type: content_type.into(),
        });
        self
    }

    /// Sets the options.
    pub fn with_options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// The method's NSID as text.
    pub fn nsid(&self) -> &str {
        self.method.nsid.as_str()
    }

    /// Whether sending it twice does no harm: true for queries.
    pub fn is_idempotent(&self) -> bool {
        self.method.kind == MethodKind::Query
    }
}

/// A 2xx response.
#[derive(Clone, Debug)]
pub struct XrpcResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl XrpcResponse {
    /// The `Content-Type` header, if there is one and it is text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// Whether the body is JSON (`application/json`, parameters allowed).
    pub fn is_json(&self) -> bool {
        self.content_type().is_some_and(is_json)
    }

    /// Reads the body as `O`. An empty body reads as JSON `null`, so `()`
    /// and `Option<T>` fit methods that return nothing.
    ///
    /// # Errors
    /// [`ClientError::Decode`] naming `nsid`.
    pub fn json<O: DeserializeOwned>(&self, nsid: &str) -> Result<O, ClientError> {
        let body: &[u8] = if self.body.is_empty() {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| ClientError::Decode {
            nsid: nsid.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// A streamed request body for [`XrpcCall::send_streaming`]: a blob or a
/// CAR read chunk by chunk rather than held whole. It can be sent only once,
/// so a call with an upload is never retried.
pub struct Upload {
    /// The chunks.
    pub body: BodyStream,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The `Content-Length` header, if the length is known (else the body is
    /// sent chunked; a length that the stream does not match fails the call).
    pub content_length: Option<u64>,
}

impl Upload {
    /// An upload of `body` with its content type and, if known, length.
    pub fn new(
        body: BodyStream,
        content_type: impl Into<String>,
        content_length: Option<u64>,
    ) -> Self {
        Self {
            body,
            content_type: content_type.into(),
            content_length,
        }
    }
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

/// A 2xx response whose body is streamed.
pub struct XrpcStreamResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body, chunk by chunk; an `Err` item (a broken connection, an
    /// idle timeout) ends it.
    pub body: BodyStream,
}

impl XrpcStreamResponse {
    /// The `Content-Type` header, if there is one and it is text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// Reads the whole body, at most `limit` bytes.
    ///
    /// # Errors
    /// [`ClientError::Transport`]: the stream's error, or
    /// [`BodyTooLarge`](crate::TransportError::BodyTooLarge).
    pub async fn collect(self, limit: usize) -> Result<XrpcResponse, ClientError> {
        Ok(XrpcResponse {
            status: self.status,
            headers: self.headers,
            body: collect_body(self.body, limit).await?,
        })
    }
}

impl std::fmt::Debug for XrpcStreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XrpcStreamResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl From<XrpcResponse> for XrpcStreamResponse {
    /// The whole body as a stream of one chunk.
    fn from(response: XrpcResponse) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            body: once_stream(response.body),
        }
    }
}

pub(crate) fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(JSON))
}

pub(crate) fn parse_nsid(nsid: &str) -> Result<Nsid, ClientError> {
    nsid.parse()
        .map_err(|e: atproto_core::SyntaxError| ClientError::InvalidNsid {
            nsid: nsid.to_owned(),
            reason: e.to_string(),
        })
}

/// Encodes a serializable value as query parameters: a struct or map whose
/// members are strings, numbers, booleans, or arrays of those (one pair per
/// element, the name repeated); `None` members and `()` add nothing.
/// Names keep serde's spelling (use `#[serde(rename_all = "camelCase")]`
/// for the lexicon's).
///
/// # Errors
/// [`ClientError::Encode`] naming `nsid` for anything else (a nested object,
/// an array inside an array, a value that does not serialize).
pub fn encode_params<P: Serialize + ?Sized>(
    nsid: &str,
    params: &P,
) -> Result<QueryParams, ClientError> {
    let bad = |reason: String| ClientError::Encode {
        nsid: nsid.to_owned(),
        reason,
    };
    let map = match serde_json::to_value(params).map_err(|e| bad(e.to_string()))? {
        Json::Null => return Ok(QueryParams::new()),
        Json::Object(map) => map,
        other => return Err(bad(format!("parameters must be an object, not {other}"))),
    };
    let scalar = |name: &str, v: &Json| -> Result<Option<String>, ClientError> {
        match v {
            Json::Null => Ok(None),
            Json::Bool(b) => Ok(Some(b.to_string())),
            Json::Number(n) => Ok(Some(n.to_string())),
            Json::String(s) => Ok(Some(s.clone())),
            _ => Err(bad(format!(
                "parameter {name:?} must be a string, number or boolean"
            ))),
        }
    };
    let mut out = QueryParams::new();
    for (name, value) in &map {
        match value {
            Json::Array(items) => {
                for item in items {
                    if let Some(text) = scalar(name, item)? {
                        out.push(name, text);
                    }
                }
            }
            v => {
                if let Some(text) = scalar(name, v)? {
                    out.push(name, text);
                }
            }
        }
    }
    Ok(out)
}

/// Encodes an input as a JSON body; a value that serializes to `null`
/// (`()`, `None`) is no body at all.
fn encode_input<I: Serialize + ?Sized>(
    nsid: &str,
    input: &I,
) -> Result<Option<RequestBody>, ClientError> {
    let bad = |e: serde_json::Error| ClientError::Encode {
        nsid: nsid.to_owned(),
        reason: e.to_string(),
    };
    let value = serde_json::to_value(input).map_err(bad)?;
    if value.is_null() {
        return Ok(None);
    }
    Ok(Some(RequestBody {
        bytes: serde_json::to_vec(&value).map_err(bad)?.into(),
        content_type: JSON.to_owned(),
    }))
}

fn typed_request<P: Serialize + ?Sized>(
    kind: MethodKind,
    nsid: &str,
    params: &P,
    options: CallOptions,
) -> Result<XrpcRequest, ClientError> {
    let method = Method::new(parse_nsid(nsid)?, kind);
    Ok(XrpcRequest::new(method)
        .with_params(encode_params(nsid, params)?)
        .with_options(options))
}

async fn send_json<C: XrpcCall + ?Sized, O: DeserializeOwned>(
    client: &C,
    request: Result<XrpcRequest, ClientError>,
) -> Result<O, ClientError> {
    let request = request?;
    let nsid = request.nsid().to_owned();
    client.send(request).await?.json(&nsid)
}

/// The calls of an XRPC client: [`send`](XrpcCall::send) a whole
/// [`XrpcRequest`], and the typed and raw calls built on it.
/// [`XrpcClient`](super::XrpcClient) (no credentials unless given per call)
/// and [`SessionClient`](super::SessionClient) (the session's token, with
/// refresh) implement it; bring it into scope to call either.
///
/// Parameters are any [`Serialize`] struct or map (see [`encode_params`]);
/// `&()` is none. Outputs are any [`DeserializeOwned`] type; `()` fits a
/// method with no output.
pub trait XrpcCall: Send + Sync {
    /// Sends a request as it is (the escape hatch: any method, parameters,
    /// body and options) and returns the 2xx response.
    ///
    /// # Errors
    /// Every [`ClientError`] but `Decode` and `Encode`.
    fn send(
        &self,
        request: XrpcRequest,
    ) -> impl Future<Output = Result<XrpcResponse, ClientError>> + Send;

    /// Sends a request and returns the 2xx response once its head has
    /// arrived, with the body as a stream: for outputs too large to hold
    /// (a repository CAR, a video blob). With an `upload`, that stream is
    /// the request body (replacing `request.body`).
    ///
    /// Retries: a request without an upload is retried as
    /// [`send`](XrpcCall::send) is (per the [`RetryPolicy`](super::RetryPolicy)),
    /// but only until a 2xx head arrives: a body that breaks off midway is
    /// the stream's `Err` item, for the caller to handle. A request with an
    /// upload is sent once: the stream cannot be replayed. For the same
    /// reason a [`SessionClient`](super::SessionClient) refreshes an expired
    /// token and sends again only without an upload; with one, the
    /// `ExpiredToken` error is returned (call
    /// [`refresh`](super::SessionClient::refresh) and send a new stream).
    ///
    /// Validation: the parameters are checked, a streamed input is not, and
    /// a JSON output with a schema is read whole (at most
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]) and checked.
    ///
    /// The default implementation goes through [`send`](XrpcCall::send):
    /// it collects the upload (at most [`DEFAULT_MAX_REQUEST_BYTES`]) and
    /// returns the whole body as one chunk.
    ///
    /// # Errors
    /// As [`send`](XrpcCall::send).
    fn send_streaming(
        &self,
        mut request: XrpcRequest,
        upload: Option<Upload>,
    ) -> impl Future<Output = Result<XrpcStreamResponse, ClientError>> + Send {
        async move {
            if let Some(upload) = upload {
                let bytes = SendBody::Stream(upload.body)
                    .collect(request.nsid(), DEFAULT_MAX_REQUEST_BYTES)
                    .await?;
                request.body = Some(RequestBody {
                    bytes,
                    content_type: upload.content_type,
                });
            }
            Ok(self.send(request).await?.into())
        }
    }

    /// Calls the query `nsid` with `params` and reads its JSON output.
    ///
    /// # Errors
    /// As [`send`](XrpcCall::send), plus [`ClientError::Encode`] for
    /// parameters that do not encode and [`ClientError::Decode`] for an
    /// output that is not an `O`.
    fn query<P, O>(
        &self,
        nsid: &str,
        params: &P,
    ) -> impl Future<Output = Result<O, ClientError>> + Send
    where
        P: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        self.query_with(nsid, params, CallOptions::default())
    }

    /// [`query`](XrpcCall::query) with per-call options.
    ///
    /// # Errors
    /// As [`query`](XrpcCall::query).
    fn query_with<P, O>(
        &self,
        nsid: &str,
        params: &P,
        options: CallOptions,
    ) -> impl Future<Output = Result<O, ClientError>> + Send
    where
        P: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let request = typed_request(MethodKind::Query, nsid, params, options);
        send_json(self, request)
    }

    /// Calls the procedure `nsid` with `params` and the JSON `input` (no
    /// body when it serializes to `null`, e.g. `&()`), and reads its JSON
    /// output.
    ///
    /// # Errors
    /// As [`query`](XrpcCall::query).
    fn procedure<P, I, O>(
        &self,
        nsid: &str,
        params: &P,
        input: &I,
    ) -> impl Future<Output = Result<O, ClientError>> + Send
    where
        P: Serialize + ?Sized,
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        self.procedure_with(nsid, params, input, CallOptions::default())
    }

    /// [`procedure`](XrpcCall::procedure) with per-call options.
    ///
    /// # Errors
    /// As [`query`](XrpcCall::query).
    fn procedure_with<P, I, O>(
        &self,
        nsid: &str,
        params: &P,
        input: &I,
        options: CallOptions,
    ) -> impl Future<Output = Result<O, ClientError>> + Send
    where
        P: Serialize + ?Sized,
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let request = typed_request(MethodKind::Procedure, nsid, params, options).and_then(|r| {
            Ok(XrpcRequest {
                body: encode_input(nsid, input)?,
                ..r
            })
        });
        send_json(self, request)
    }

    /// Calls the query `nsid` and returns its output as bytes with its
    /// content type ([`OCTET_STREAM`] if the server named none): a CAR
    /// from `com.atproto.sync.getRepo`, a blob from `getBlob`.
    ///
    /// # Errors
    /// As [`send`](XrpcCall::send), plus [`ClientError::Encode`].
    fn query_raw<P>(
        &self,
        nsid: &str,
        params: &P,
    ) -> impl Future<Output = Result<(String, Bytes), ClientError>> + Send
    where
        P: Serialize + ?Sized,
    {
        let request = typed_request(MethodKind::Query, nsid, params, CallOptions::default());
        async move {
            let response = self.send(request?).await?;
            let content_type = response.content_type().unwrap_or(OCTET_STREAM).to_owned();
            Ok((content_type, response.body))
        }
    }

    /// Calls the procedure `nsid` with a body of bytes and its content type
    /// (a blob for `com.atproto.repo.uploadBlob`, a CAR for `importRepo`)
    /// and reads its JSON output.
    ///
    /// # Errors
    /// As [`query`](XrpcCall::query).
    fn procedure_raw<P, O>(
        &self,
        nsid: &str,
        params: &P,
        body: Bytes,
        content_type: &str,
    ) -> impl Future<Output = Result<O, ClientError>> + Send
    where
        P: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let request = typed_request(MethodKind::Procedure, nsid, params, CallOptions::default())
            .map(|r| r.with_body(body, content_type));
        send_json(self, request)
    }

    /// Calls the query `nsid` and returns its output as a stream with its
    /// content type ([`OCTET_STREAM`] if the server named none): a
    /// repository CAR from `com.atproto.sync.getRepo`, a blob from
    /// `getBlob`, never held whole. Retried as [`query`](XrpcCall::query)
    /// is, but only before the body starts (see
    /// [`send_streaming`](XrpcCall::send_streaming)).
    ///
    /// # Errors
    /// As [`send`](XrpcCall::send), plus [`ClientError::Encode`]. An error
    /// status is [`ClientError::Xrpc`] with the body's name and message.
    fn query_stream<P>(
        &self,
        nsid: &str,
        params: &P,
    ) -> impl Future<Output = Result<(String, BodyStream), ClientError>> + Send
    where
        P: Serialize + ?Sized,
    {
        let request = typed_request(MethodKind::Query, nsid, params, CallOptions::default());
        async move {
            let response = self.send_streaming(request?, None).await?;
            let content_type = response.content_type().unwrap_or(OCTET_STREAM).to_owned();
            Ok((content_type, response.body))
        }
    }

    /// Calls the procedure `nsid` with a streamed body, its content type
    /// and its length if known (a video for `com.atproto.repo.uploadBlob`,
    /// a CAR for `importRepo`), and reads its JSON output (at most
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]). Sent once, never retried (see
    /// [`send_streaming`](XrpcCall::send_streaming)).
    ///
    /// # Errors
    /// As [`query`](XrpcCall::query); the stream's own error is
    /// [`ClientError::Transport`].
    fn procedure_stream<P, O>(
        &self,
        nsid: &str,
        params: &P,
        body: BodyStream,
        content_type: &str,
        content_length: Option<u64>,
    ) -> impl Future<Output = Result<O, ClientError>> + Send
    where
        P: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let request = typed_request(MethodKind::Procedure, nsid, params, CallOptions::default());
        let upload = Upload::new(body, content_type, content_length);
        async move {
            let request = request?;
            let nsid = request.nsid().to_owned();
            self.send_streaming(request, Some(upload))
                .await?
                .collect(DEFAULT_MAX_RESPONSE_BYTES)
                .await?
                .json(&nsid)
        }
    }
}
