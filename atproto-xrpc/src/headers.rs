//! XRPC header names and the values that have a structure.
//!
//! Names are lowercase `&str` constants: HTTP header names are
//! case-insensitive, HTTP/2 sends them lowercase, and lowercase is the form
//! `http::HeaderName::from_static` accepts, so they plug into any HTTP stack
//! without this crate depending on one.

use core::fmt;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use atproto_core::{Did, SyntaxError};

/// `atproto-proxy`: the service a PDS should forward the request to,
/// `<did>#<service id>` ([`ProxyTarget`]).
pub const ATPROTO_PROXY: &str = "atproto-proxy";
/// `atproto-accept-labelers`: the labelers whose labels the client wants
/// ([`LabelerList`]).
pub const ATPROTO_ACCEPT_LABELERS: &str = "atproto-accept-labelers";
/// `atproto-content-labelers`: the labelers whose labels the response holds
/// ([`LabelerList`]).
pub const ATPROTO_CONTENT_LABELERS: &str = "atproto-content-labelers";
/// `Atproto-Repo-Rev`: the revision (a TID) of the account's repository the
/// response reflects.
pub const ATPROTO_REPO_REV: &str = "atproto-repo-rev";
/// `Retry-After`: when to retry, in seconds or as a date ([`RetryAfter`]).
pub const RETRY_AFTER: &str = "retry-after";
/// `RateLimit-Limit`: requests allowed in the window ([`RateLimit`]).
pub const RATELIMIT_LIMIT: &str = "ratelimit-limit";
/// `RateLimit-Remaining`: requests left in the window ([`RateLimit`]).
pub const RATELIMIT_REMAINING: &str = "ratelimit-remaining";
/// `RateLimit-Reset`: when the window resets, in Unix seconds ([`RateLimit`]).
pub const RATELIMIT_RESET: &str = "ratelimit-reset";
/// `RateLimit-Policy`: `<limit>;w=<window seconds>` ([`RateLimitPolicy`]).
pub const RATELIMIT_POLICY: &str = "ratelimit-policy";
/// `WWW-Authenticate`: sent with 401 answers.
pub const WWW_AUTHENTICATE: &str = "www-authenticate";

/// The longest header value the parsers here read, in bytes.
pub const MAX_HEADER_VALUE_LEN: usize = 8 * 1024;

/// The most labelers [`LabelerList::parse`] reads.
pub const MAX_LABELERS: usize = 256;

fn check_len(header: &'static str, value: &str) -> Result<(), HeaderError> {
    if value.len() > MAX_HEADER_VALUE_LEN {
        return Err(HeaderError::TooLong {
            header,
            len: value.len(),
            max: MAX_HEADER_VALUE_LEN,
        });
    }
    Ok(())
}

/// The value of `atproto-proxy`: a service DID and the id of a service entry
/// in its DID document (without the `#`), e.g. `did:web:api.bsky.app#bsky_appview`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProxyTarget {
    /// The service's DID.
    pub did: Did,
    /// The service id, the fragment after `#`.
    pub service_id: String,
}

impl ProxyTarget {
    /// A target from its parts.
    pub fn new(did: Did, service_id: impl Into<String>) -> Self {
        Self {
            did,
            service_id: service_id.into(),
        }
    }

    /// Reads `did#service_id` with the reference PDS's rules: exactly one
    /// `#`, text on both sides of it, no spaces, and a valid DID before it.
    ///
    /// # Errors
    /// [`HeaderError::TooLong`], or [`HeaderError::InvalidProxy`] saying
    /// what is wrong.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        check_len(ATPROTO_PROXY, value)?;
        let bad = |reason| Err(HeaderError::InvalidProxy { reason });
        let Some((did, service_id)) = value.split_once('#') else {
            return bad(ProxyError::MissingServiceId);
        };
        if did.is_empty() {
            return bad(ProxyError::MissingDid);
        }
        if service_id.is_empty() {
            return bad(ProxyError::MissingServiceId);
        }
        if service_id.contains('#') {
            return bad(ProxyError::ExtraHash);
        }
        if value.contains(' ') {
            return bad(ProxyError::Space);
        }
        match did.parse::<Did>() {
            Ok(did) => Ok(Self::new(did, service_id)),
            Err(e) => bad(ProxyError::InvalidDid(e)),
        }
    }
}

impl fmt::Display for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.did.as_str(), self.service_id)
    }
}

impl core::str::FromStr for ProxyTarget {
    type Err = HeaderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// One labeler in `atproto-accept-labelers` / `atproto-content-labelers`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Labeler {
    /// The labeler's DID.
    pub did: Did,
    /// The `;redact` parameter: the client asks that content this labeler
    /// takes down be removed from answers rather than only labelled.
    pub redact: bool,
}

/// The value of `atproto-accept-labelers` or `atproto-content-labelers`: a
/// comma-separated list of labeler DIDs, each optionally with `;redact`,
/// e.g. `did:plc:ar7c4by46qjdydhdevvrndac;redact, did:plc:abc`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelerList {
    /// The labelers, in order of first appearance, each DID once.
    pub labelers: Vec<Labeler>,
}

impl LabelerList {
    /// Reads the list as the reference AppView does (a structured-field list
    /// of DIDs): members separated by `,` with optional spaces; parameters
    /// after `;`, where `redact` or `redact=?1` sets [`Labeler::redact`],
    /// `redact=?0` leaves it unset and other parameters are ignored. An empty
    /// or blank value is an empty list. A DID listed twice is kept once, at
    /// its first place, redacted if any of its entries says so.
    ///
    /// # Errors
    /// [`HeaderError::TooLong`], [`HeaderError::TooManyLabelers`] above
    /// [`MAX_LABELERS`], [`HeaderError::EmptyLabeler`] for an empty member
    /// (`a,,b`, a trailing comma), [`HeaderError::InvalidLabelerDid`].
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        check_len("atproto-accept-labelers/atproto-content-labelers", value)?;
        let mut out = Self::default();
        let trimmed = value.trim_matches([' ', '\t']);
        if trimmed.is_empty() {
            return Ok(out);
        }
        let mut seen: HashSet<Did> = HashSet::new();
        for (index, member) in trimmed.split(',').enumerate() {
            if index >= MAX_LABELERS {
                return Err(HeaderError::TooManyLabelers { max: MAX_LABELERS });
            }
            let mut parts = member.trim_matches([' ', '\t']).split(';');
            let did_text = parts.next().unwrap_or_default();
            if did_text.is_empty() {
                return Err(HeaderError::EmptyLabeler { index });
            }
            let did: Did = did_text
                .parse()
                .map_err(|source| HeaderError::InvalidLabelerDid { index, source })?;
            let redact = parts.any(|p| {
                let p = p.trim_start_matches(' ');
                p == "redact" || p == "redact=?1"
            });
            if seen.insert(did.clone()) {
                out.labelers.push(Labeler { did, redact });
            } else if redact {
                for l in out.labelers.iter_mut().filter(|l| l.did == did) {
                    l.redact = true;
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for LabelerList {
    /// `did1;redact,did2`, the reference's format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.labelers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(l.did.as_str())?;
            if l.redact {
                f.write_str(";redact")?;
            }
        }
        Ok(())
    }
}

impl core::str::FromStr for LabelerList {
    type Err = HeaderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn parse_u64(header: &'static str, value: &str) -> Result<u64, HeaderError> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::NotANumber { header });
    }
    v.parse().map_err(|_| HeaderError::NotANumber { header })
}

/// The value of `Retry-After`: a delay in seconds (what the reference
/// server sends) or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryAfter {
    /// Wait this many seconds.
    Seconds(u64),
    /// Wait until this time (whole seconds).
    Date(SystemTime),
}

impl RetryAfter {
    /// Reads `delay-seconds` or an HTTP date (the IMF-fixdate form
    /// `Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete RFC 850 and asctime
    /// forms HTTP recipients must accept), the latter with the `httpdate`
    /// crate that hyper uses.
    ///
    /// # Errors
    /// [`HeaderError::TooLong`], [`HeaderError::InvalidRetryAfter`] for
    /// anything else (negative or fractional numbers, numbers above
    /// `u64::MAX`, malformed dates).
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        check_len(RETRY_AFTER, value)?;
        let v = value.trim_matches([' ', '\t']);
        if v.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return parse_u64(RETRY_AFTER, v)
                .map(RetryAfter::Seconds)
                .map_err(|_| HeaderError::InvalidRetryAfter);
        }
        httpdate::parse_http_date(v)
            .map(RetryAfter::Date)
            .map_err(|_| HeaderError::InvalidRetryAfter)
    }

    /// How long to wait from `now`: the seconds, or the time left until the
    /// date (zero once it has passed).
    pub fn delay(&self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Seconds(s) => Duration::from_secs(*s),
            RetryAfter::Date(t) => t.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

impl fmt::Display for RetryAfter {
    /// The seconds, or the date in IMF-fixdate form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryAfter::Seconds(s) => write!(f, "{s}"),
            RetryAfter::Date(t) => f.write_str(&httpdate::fmt_http_date(*t)),
        }
    }
}

impl core::str::FromStr for RetryAfter {
    type Err = HeaderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `RateLimit-Policy`: `<limit>;w=<window seconds>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimitPolicy {
    /// Requests allowed per window.
    pub limit: u64,
    /// The window, in seconds.
    pub window_secs: u64,
}

impl RateLimitPolicy {
    /// Reads `<limit>;w=<seconds>`; other parameters are ignored.
    ///
    /// # Errors
    /// [`HeaderError::NotANumber`] for a bad limit or window,
    /// [`HeaderError::MissingWindow`] without `w=`.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        check_len(RATELIMIT_POLICY, value)?;
        let mut parts = value.split(';');
        let limit = parse_u64(RATELIMIT_POLICY, parts.next().unwrap_or_default())?;
        let window = parts
            .find_map(|p| p.trim_matches([' ', '\t']).strip_prefix("w="))
            .ok_or(HeaderError::MissingWindow)?;
        Ok(Self {
            limit,
            window_secs: parse_u64(RATELIMIT_POLICY, window)?,
        })
    }
}

impl fmt::Display for RateLimitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};w={}", self.limit, self.window_secs)
    }
}

/// The `RateLimit-*` headers of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// `RateLimit-Limit`.
    pub limit: u64,
    /// `RateLimit-Remaining`.
    pub remaining: u64,
    /// `RateLimit-Reset`, Unix seconds.
    pub reset: u64,
    /// `RateLimit-Policy`, if sent.
    pub policy: Option<RateLimitPolicy>,
}

impl RateLimit {
    /// Reads the headers through `header` (a case-insensitive lookup by the
    /// lowercase names here). `Ok(None)` when `RateLimit-Limit`,
    /// `-Remaining` and `-Reset` are all absent.
    ///
    /// # Errors
    /// [`HeaderError::MissingRateLimit`] when some but not all of those three
    /// are present, [`HeaderError::NotANumber`] for a bad value, and the
    /// errors of [`RateLimitPolicy::parse`].
    pub fn from_headers<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Option<Self>, HeaderError> {
        let (limit, remaining, reset) = (
            header(RATELIMIT_LIMIT),
            header(RATELIMIT_REMAINING),
            header(RATELIMIT_RESET),
        );
        let (limit, remaining, reset) = match (limit, remaining, reset) {
            (None, None, None) => return Ok(None),
            (Some(l), Some(r), Some(s)) => (l, r, s),
            _ => return Err(HeaderError::MissingRateLimit),
        };
        Ok(Some(Self {
            limit: parse_u64(RATELIMIT_LIMIT, limit)?,
            remaining: parse_u64(RATELIMIT_REMAINING, remaining)?,
            reset: parse_u64(RATELIMIT_RESET, reset)?,
            policy: header(RATELIMIT_POLICY)
                .map(RateLimitPolicy::parse)
                .transpose()?,
        }))
    }

    /// The headers to send: `(name, value)` pairs, the policy last if set.
    pub fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (RATELIMIT_LIMIT, self.limit.to_string()),
            (RATELIMIT_REMAINING, self.remaining.to_string()),
            (RATELIMIT_RESET, self.reset.to_string()),
        ];
        if let Some(p) = self.policy {
            v.push((RATELIMIT_POLICY, p.to_string()));
        }
        v
    }
}

/// Why the text of an `atproto-proxy` header is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// Nothing before `#`.
    #[error("no DID before '#'")]
    MissingDid,
    /// No `#`, or nothing after it.
    #[error("no service id (expected did#service_id)")]
    MissingServiceId,
    /// More than one `#`.
    #[error("more than one '#'")]
    ExtraHash,
    /// A space in the value.
    #[error("contains a space")]
    Space,
    /// The part before `#` is not a DID.
    #[error("{0}")]
    InvalidDid(SyntaxError),
}

/// Why a header value could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The value is longer than [`MAX_HEADER_VALUE_LEN`].
    #[error("{header} header is {len} bytes, more than the limit of {max}")]
    TooLong {
        /// The header (or headers) being read.
        header: &'static str,
        /// The value's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bad `atproto-proxy` value.
    #[error("bad atproto-proxy header: {reason}")]
    InvalidProxy {
        /// What is wrong.
        reason: ProxyError,
    },
    /// An empty member in a labeler list.
    #[error("labeler list member {index} (counting from 0) is empty")]
    EmptyLabeler {
        /// Its position.
        index: usize,
    },
    /// A labeler list member that is not a DID.
    #[error("labeler list member {index} (counting from 0) is not a DID: {source}")]
    InvalidLabelerDid {
        /// Its position.
        index: usize,
        /// What is wrong with it.
        source: SyntaxError,
    },
    /// More than [`MAX_LABELERS`] labelers.
    #[error("labeler list has more than {max} members")]
    TooManyLabelers {
        /// The limit.
        max: usize,
    },
    /// A value that should be a non-negative decimal integer is not.
    #[error("{header} header is not a non-negative decimal integer")]
    NotANumber {
        /// The header's name.
        header: &'static str,
    },
    /// `Retry-After` that is neither a number of seconds nor an HTTP date.
    #[error("retry-after header is neither delay-seconds nor an HTTP date")]
    InvalidRetryAfter,
    /// `RateLimit-Policy` without `w=`.
    #[error("ratelimit-policy header has no w=<seconds> parameter")]
    MissingWindow,
    /// Some of `RateLimit-Limit`, `-Remaining`, `-Reset` are present but not all.
    #[error("ratelimit-limit, ratelimit-remaining and ratelimit-reset must come together")]
    MissingRateLimit,
}
