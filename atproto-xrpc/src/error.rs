//! The XRPC error: a name, an optional message, the HTTP status, and the
//! `Retry-After` / `RateLimit-*` headers that came with it.
//!
//! On the wire the body is JSON `{"error": Name, "message"?: text}`.

use core::fmt;

use crate::headers::{self, HeaderError, RateLimit, RetryAfter};

/// The largest error body [`XrpcError::from_response`] parses, in bytes; a
/// larger body is treated as not being an XRPC error body.
pub const MAX_ERROR_BODY_LEN: usize = 64 * 1024;

macro_rules! error_names {
    ($($(#[$doc:meta])* $variant:ident = $status:literal,)*) => {
        /// An XRPC error name: the standard ones of the protocol, and any
        /// other (a method's own, such as `ExpiredToken`, `InvalidToken` or
        /// `RecordNotFound`) kept as [`ErrorName::Other`].
        ///
        /// Names compare by their text, so `Other("Forbidden")` equals
        /// `Forbidden`; [`ErrorName::parse`] never builds the former.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum ErrorName {
            $($(#[$doc])* $variant,)*
            /// Any other name, as sent.
            Other(String),
        }

        impl ErrorName {
            /// Every standard name, in status order.
            pub const STANDARD: &'static [ErrorName] = &[$(ErrorName::$variant,)*];

            /// The name as sent.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorName::$variant => stringify!($variant),)*
                    ErrorName::Other(s) => s,
                }
            }

            /// The name for a text, a standard variant when it is one.
            pub fn parse(name: &str) -> Self {
                match name {
                    $(stringify!($variant) => ErrorName::$variant,)*
                    other => ErrorName::Other(other.to_owned()),
                }
            }

            /// The HTTP status of a standard name (the reference's
            /// `ResponseType` table); `None` for [`ErrorName::Other`].
            pub fn status(&self) -> Option<u16> {
                match self {
                    $(ErrorName::$variant => Some($status),)*
                    ErrorName::Other(_) => None,
                }
            }

            /// The standard name for an HTTP error status, as the reference
            /// client picks it when a body names none: the name of that
            /// status if it has one, else `InvalidRequest` for other 4xx,
            /// `InternalServerError` for 5xx and above, and
            /// `XRPCNotSupported` below 400.
            pub fn from_status(status: u16) -> Self {
                match status {
                    $($status => ErrorName::$variant,)*
                    400..=499 => ErrorName::InvalidRequest,
                    500.. => ErrorName::InternalServerError,
                    _ => ErrorName::XRPCNotSupported,
                }
            }
        }
    };
}

error_names! {
    /// 400: the request is malformed or breaks the method's rules.
    InvalidRequest = 400,
    /// 401: credentials are missing or not accepted.
    AuthenticationRequired = 401,
    /// 403: the caller may not do this.
    Forbidden = 403,
    /// 404: the server does not serve XRPC at this path.
    XRPCNotSupported = 404,
    /// 406: the server cannot answer in an accepted format.
    NotAcceptable = 406,
    /// 413: the body is too large.
    PayloadTooLarge = 413,
    /// 415: the body's content type is not accepted.
    UnsupportedMediaType = 415,
    /// 429: too many requests.
    RateLimitExceeded = 429,
    /// 500: the server failed.
    InternalServerError = 500,
    /// 501: the server does not implement the method.
    MethodNotImplemented = 501,
    /// 502: a service the server relies on failed.
    UpstreamFailure = 502,
    /// 503: the server is overloaded.
    NotEnoughResources = 503,
    /// 504: a service the server relies on did not answer in time.
    UpstreamTimeout = 504,
}

impl PartialEq for ErrorName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ErrorName {}

impl core::hash::Hash for ErrorName {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ErrorName {
    fn from(name: &str) -> Self {
        Self::parse(name)
    }
}

/// An XRPC error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XrpcError {
    /// The HTTP status.
    pub status: u16,
    /// The error name.
    pub name: ErrorName,
    /// The human-readable message, if any.
    pub message: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<RetryAfter>,
    /// The `RateLimit-*` headers.
    pub rate_limit: Option<RateLimit>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Body<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    error: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    message: Option<std::borrow::Cow<'a, str>>,
}

impl XrpcError {
    /// An error with the status of its name: the standard status for a
    /// standard name, 400 for any other (a method's own errors are invalid
    /// requests, as in the reference server).
    pub fn new(name: impl Into<ErrorName>, message: impl Into<Option<String>>) -> Self {
        let name = name.into();
        Self::with_status(name.status().unwrap_or(400), name, message)
    }

    /// An error with an explicit status.
    pub fn with_status(
        status: u16,
        name: impl Into<ErrorName>,
        message: impl Into<Option<String>>,
    ) -> Self {
        Self {
            status,
            name: name.into(),
            message: message.into(),
            retry_after: None,
            rate_limit: None,
        }
    }

    /// Reads an error response from its status and body, as the reference
    /// client does: a JSON object whose `error` and `message` members are
    /// strings when present (other members ignored) gives them; a body that
    /// is not that shape (not JSON, not an object, a non-string member,
    /// longer than [`MAX_ERROR_BODY_LEN`]) is ignored. A missing name is the
    /// standard one for the status ([`ErrorName::from_status`]). Never fails.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let parsed = if body.len() <= MAX_ERROR_BODY_LEN {
            serde_json::from_slice::<Body<'_>>(body).ok()
        } else {
            None
        };
        let (name, message) = match parsed {
            Some(b) => (b.error, b.message),
            None => (None, None),
        };
        let name = match name {
            Some(n) => ErrorName::parse(&n),
            None => ErrorName::from_status(status),
        };
        Self::with_status(status, name, message.map(|m| m.into_owned()))
    }

    /// Adds `Retry-After` and `RateLimit-*` from the response headers,
    /// through `header` (a case-insensitive lookup by the lowercase names of
    /// [`crate::headers`]).
    ///
    /// # Errors
    /// A header that is present but malformed ([`RetryAfter::parse`],
    /// [`RateLimit::from_headers`]); callers that prefer to ignore such
    /// headers can keep the error they had.
    pub fn with_headers<'a>(
        mut self,
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, HeaderError> {
        self.retry_after = header(headers::RETRY_AFTER)
            .map(RetryAfter::parse)
            .transpose()?;
        self.rate_limit = RateLimit::from_headers(header)?;
        Ok(self)
    }

    /// The JSON body, `{"error":…,"message":…}` (no `message` when there is
    /// none).
    pub fn to_json(&self) -> String {
        let body = Body {
            error: Some(self.name.as_str().into()),
            message: self.message.as_deref().map(Into::into),
        };
        // A struct of two optional strings always serializes.
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// The headers to send with the error: `Retry-After` and `RateLimit-*`
    /// when set.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(s) = self.retry_after {
            v.push((headers::RETRY_AFTER, s.to_string()));
        }
        if let Some(r) = &self.rate_limit {
            v.extend(r.to_headers());
        }
        v
    }
}

impl fmt::Display for XrpcError {
    /// `Name: message`, or `Name` alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

impl std::error::Error for XrpcError {}
