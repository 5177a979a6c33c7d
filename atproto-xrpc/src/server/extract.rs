//! Extractors for query parameters and request bodies. Every rejection is
//! an [`XrpcError`]: `400 InvalidRequest` for anything malformed or
//! invalid, `413 PayloadTooLarge` past the size limit.

use atproto_core::Value;
use atproto_core::data::json;
use atproto_lexicon::ValidationErrorKind;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::params_de;
use super::router::{DEFAULT_JSON_LIMIT, DEFAULT_RAW_LIMIT, MethodContext};
use crate::error::{ErrorName, XrpcError};
use crate::params::QueryParams;

fn invalid(message: String) -> XrpcError {
    XrpcError::new(ErrorName::InvalidRequest, message)
}

/// The query parameters, read into `T`.
///
/// With a catalog that defines the method, the lexicon reads them
/// (`EndpointValidator::validate_params`): text is coerced to the declared
/// integer, boolean and array types, constraints are checked, defaults are
/// filled and undeclared names dropped; `T` is then deserialised from that
/// typed map. Otherwise `T` is deserialised from the text pairs directly
/// (text parsed as the field's type, a repeated name into a sequence).
///
/// A query string that does not decode, text of the wrong type, a missing
/// required or an invalid parameter, or a `T` that does not fit is `400
/// InvalidRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params<T>(pub T);

/// Reads the query parameters of a request: the decoded pairs, and the
/// lexicon's typed map when the catalog defines the method.
pub(crate) fn read_params(parts: &Parts) -> Result<(QueryParams, Option<Value>), XrpcError> {
    let query = parts.uri.query().unwrap_or("");
    let params =
        QueryParams::decode(query).map_err(|e| invalid(format!("invalid query string: {e}")))?;
    let typed = match MethodContext::of(parts).and_then(|c| c.endpoint()) {
        Some(endpoint) => Some(
            endpoint
                .validate_params(&params.as_pairs())
                .map_err(|e| invalid(format!("invalid {} parameters: {e}", endpoint.nsid())))?,
        ),
        None => None,
    };
    Ok((params, typed))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, XrpcError> {
        let (params, typed) = read_params(parts)?;
        let value = match typed {
            Some(typed) => serde_json::from_value(json::to_json(&typed))
                .map_err(|e| invalid(format!("parameters do not fit: {e}"))),
            None => params_de::from_params(&params)
                .map_err(|e| invalid(format!("invalid parameters: {e}"))),
        }?;
        Ok(Params(value))
    }
}

/// A JSON request body, read into `T`.
///
/// `Content-Type` must be `application/json` (parameters such as
/// `charset` ignored); the body may be at most the router's JSON limit
/// ([`DEFAULT_JSON_LIMIT`] by default). With a catalog whose method declares
/// an input schema, the body is read as ATProto JSON, validated and its
/// defaults filled before `T` is deserialised from it.
///
/// No or another content type, malformed JSON, a body the schema refuses or
/// a `T` that does not fit is `400 InvalidRequest`; a body over the limit
/// is `413 PayloadTooLarge`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = XrpcError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, XrpcError> {
        let (parts, body) = req.into_parts();
        let ctx = MethodContext::of(&parts).cloned();
        let mime = content_type(&parts.headers)?;
        if mime != "application/json" {
            return Err(wrong_encoding(&mime));
        }
        let limit = ctx.as_ref().map_or(DEFAULT_JSON_LIMIT, |c| c.json_limit());
        let bytes = read_body(&parts.headers, body, limit).await?;
        // Only a body with a schema is read as ATProto data (which refuses
        // floats); any other JSON is serde's alone.
        let endpoint = ctx
            .as_deref()
            .and_then(MethodContext::endpoint)
            .filter(|e| {
                !matches!(e.validate_input(&Value::Null),
                    Err(err) if matches!(err.kind(), ValidationErrorKind::NoSchema(_)))
            });
        if let Some(endpoint) = endpoint {
            let mut value =
                json::from_slice(&bytes).map_err(|e| invalid(format!("invalid JSON body: {e}")))?;
            match endpoint.validate_and_apply_input_defaults(&mut value) {
                Ok(()) => {
                    return serde_json::from_value(json::to_json(&value))
                        .map(Input)
                        .map_err(|e| invalid(format!("input does not fit: {e}")));
                }
                Err(e) => {
                    return Err(invalid(format!("invalid {} input: {e}", endpoint.nsid())));
                }
            }
        }
        serde_json::from_slice(&bytes)
            .map(Input)
            .map_err(|e| invalid(format!("invalid JSON body: {e}")))
    }
}

/// A request body of any type, with its MIME type.
///
/// `Content-Type` is required; with a catalog whose method declares an
/// `input.encoding`, it must be one of the listed types (`*/*` takes any,
/// `image/*` any image). The body may be at most the router's raw limit
/// ([`DEFAULT_RAW_LIMIT`] by default).
///
/// No or a refused content type is `400 InvalidRequest`; a body over the
/// limit is `413 PayloadTooLarge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawInput {
    /// The MIME type (`type/subtype`, lowercase, without parameters).
    pub mime: String,
    /// The body.
    pub body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for RawInput {
    type Rejection = XrpcError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, XrpcError> {
        let (parts, body) = req.into_parts();
        let ctx = MethodContext::of(&parts).cloned();
        let mime = content_type(&parts.headers)?;
        if let Some(accepted) = ctx
            .as_deref()
            .and_then(MethodContext::endpoint)
            .and_then(|e| e.input_encoding())
            && !encoding_matches(accepted, &mime)
        {
            return Err(wrong_encoding(&mime));
        }
        let limit = ctx.as_ref().map_or(DEFAULT_RAW_LIMIT, |c| c.raw_limit());
        let body = read_body(&parts.headers, body, limit).await?;
        Ok(RawInput { mime, body })
    }
}

fn wrong_encoding(mime: &str) -> XrpcError {
    invalid(format!("Wrong request encoding (Content-Type): {mime}"))
}

/// The request's MIME type: `type/subtype` of `Content-Type`, lowercase.
fn content_type(headers: &HeaderMap) -> Result<String, XrpcError> {
    let missing =
        || invalid("Request encoding (Content-Type) required but not provided".to_owned());
    let value = headers.get(CONTENT_TYPE).ok_or_else(missing)?;
    let text = value
        .to_str()
        .map_err(|_| invalid("Content-Type is not visible ASCII".to_owned()))?;
    let mime = text.split(';').next().unwrap_or("").trim();
    match mime.split_once('/') {
        Some((t, s)) if !t.is_empty() && !s.is_empty() && !s.contains('/') => {
            Ok(mime.to_ascii_lowercase())
        }
        _ if mime.is_empty() => Err(missing()),
        _ => Err(invalid(format!("malformed Content-Type: {text:?}"))),
    }
}

/// Whether `mime` is among the comma-separated `accepted` types of a
/// lexicon `encoding` (`*/*`, `type/*` or exact, case-insensitively).
pub(crate) fn encoding_matches(accepted: &str, mime: &str) -> bool {
    accepted.split(',').map(str::trim).any(|a| {
        a == "*/*"
            || a.eq_ignore_ascii_case(mime)
            || a.strip_suffix("/*").is_some_and(|prefix| {
                mime.len() > prefix.len()
                    && mime.as_bytes()[prefix.len()] == b'/'
                    && mime[..prefix.len()].eq_ignore_ascii_case(prefix)
            })
    })
}

fn too_large(limit: usize) -> XrpcError {
    XrpcError::new(
        ErrorName::PayloadTooLarge,
        format!("request entity too large (limit {limit} bytes)"),
    )
}

/// Reads the body, refusing more than `limit` bytes: at once by a larger
/// `Content-Length`, else as soon as the streamed body passes the limit.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, XrpcError> {
    if let Some(len) = headers.get(CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("invalid content-length".to_owned()))?;
        if len > limit as u64 {
            return Err(too_large(limit));
        }
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| invalid(format!("could not read the request body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
