//! Responses: [`XrpcError`] as an axum response, and [`Output`], a JSON
//! success body.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{StatusCode, header};

use crate::error::XrpcError;

/// `application/json; charset=utf-8`, the content type of every JSON body
/// this module writes.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Adds `(name, value)` pairs (lowercase names, as [`crate::headers`]
/// gives them) to a header map; a value that is not a valid header value is
/// skipped (the values come from numbers and dates, so it does not happen).
pub(crate) fn add_headers(map: &mut http::HeaderMap, pairs: Vec<(&'static str, String)>) {
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::try_from(value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
}

impl IntoResponse for XrpcError {
    /// The JSON body `{"error","message"?}` with the error's status (500 if
    /// the status is not a valid HTTP error status), `Retry-After` and
    /// `RateLimit-*` from its fields, and `WWW-Authenticate: Bearer` on a
    /// 401 (HTTP requires a challenge there).
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = Response::new(Body::from(self.to_json()));
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
        add_headers(headers, self.headers());
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// A successful JSON answer: `200` with `T` serialised as the body.
///
/// A value that fails to serialise (a map with non-string keys, a failing
/// `Serialize` impl) is answered as `500 InternalServerError`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Output<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Output<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut res = Response::new(Body::from(body));
                res.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
                res
            }
            Err(e) => XrpcError::new(
                crate::ErrorName::InternalServerError,
                format!("could not serialise the response: {e}"),
            )
            .into_response(),
        }
    }
}
