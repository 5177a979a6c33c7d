//! Auth extractors: the bearer token, access tokens checked by an
//! application's [`AccessVerifier`], and service-auth tokens.
//!
//! Error names and statuses follow the reference PDS: no `Authorization`
//! header is `401 AuthenticationRequired`; a malformed header, or a token
//! that does not verify, is `400 InvalidToken`; an expired access token is
//! `400 ExpiredToken` (the status the reference client refreshes on); a
//! service-auth token that fails is `401` with the name of
//! [`ServiceAuthError::name`] (`BadJwtAudience`, `JwtReplayed`, …).

use std::fmt;
use std::sync::Arc;

use atproto_core::{Did, Nsid};
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::header::AUTHORIZATION;
use http::request::Parts;

use super::clock::{Clock, SystemClock};
use super::router::{MethodContext, outside_router};
use crate::error::{ErrorName, XrpcError};
use crate::jwt::{Alg, Claims, Jwt};
use crate::service_auth::{
    AsyncSigningKeyResolver, Expected, KeyFuture, MemoryReplayCache, ReplayCache, ServiceAuthError,
    VerifiedServiceJwt, verify_service_jwt_async,
};

fn invalid_token(message: &str) -> XrpcError {
    XrpcError::new("InvalidToken", message.to_owned())
}

fn auth_required() -> XrpcError {
    XrpcError::new(
        ErrorName::AuthenticationRequired,
        "Authentication Required".to_owned(),
    )
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive).
///
/// No header is `401 AuthenticationRequired`; another scheme or a header
/// that is not `<scheme> <token>` is `400 InvalidToken`.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(pub String);

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(…)")
    }
}

fn bearer(parts: &Parts) -> Result<&str, XrpcError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(auth_required)?;
    let text = value
        .to_str()
        .map_err(|_| invalid_token("Malformed authorization header"))?;
    let mut words = text.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some(scheme), Some(token), None) if !token.is_empty() => {
            if scheme.eq_ignore_ascii_case("Bearer") {
                Ok(token)
            } else {
                Err(invalid_token(&format!(
                    "Unsupported authorization type: {scheme}"
                )))
            }
        }
        _ => Err(invalid_token("Malformed authorization header")),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, XrpcError> {
        bearer(parts).map(|t| BearerToken(t.to_owned()))
    }
}

/// Checks access tokens; the application implements it (see
/// [`HmacSessionVerifier`] for the legacy HS256 session tokens) and makes it
/// reachable from its state ([`FromRef`]; it is cloned per request, so keep
/// it cheap to clone, e.g. an `Arc` inside).
pub trait AccessVerifier: Send + Sync + 'static {
    /// What a verified token yields (the caller's DID, scopes, …).
    type Output: Send + 'static;

    /// Verifies `token` from a request.
    ///
    /// # Errors
    /// The XRPC error to answer with (`InvalidToken`, `ExpiredToken`, …).
    fn verify(
        &self,
        token: &str,
        parts: &Parts,
    ) -> impl Future<Output = Result<Self::Output, XrpcError>> + Send;
}

/// A request whose bearer token `V` verified; holds what `V` returned.
///
/// Rejections: those of [`BearerToken`], then the verifier's. As
/// `Option<AuthRequired<V>>` it is optional auth: a request without an
/// `Authorization` header gets `None`, one with a bad header or token is
/// still refused.
pub struct AuthRequired<V: AccessVerifier>(pub V::Output);

impl<V: AccessVerifier> fmt::Debug for AuthRequired<V>
where
    V::Output: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthRequired").field(&self.0).finish()
    }
}

impl<S, V> FromRequestParts<S> for AuthRequired<V>
where
    S: Send + Sync,
    V: AccessVerifier + FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, XrpcError> {
        let verifier = V::from_ref(state);
        let token = bearer(parts)?.to_owned();
        verifier.verify(&token, parts).await.map(AuthRequired)
    }
}

/// Optional auth: `None` without an `Authorization` header, else `T`'s
/// answer (an error included).
async fn optional<S, T>(parts: &mut Parts, state: &S) -> Result<Option<T>, XrpcError>
where
    S: Send + Sync,
    T: FromRequestParts<S, Rejection = XrpcError>,
{
    if parts.headers.contains_key(AUTHORIZATION) {
        T::from_request_parts(parts, state).await.map(Some)
    } else {
        Ok(None)
    }
}

/// `Option<AuthRequired<V>>`: optional auth. No `Authorization` header is
/// `None`; a header that is malformed, or a token that does not verify, is
/// still the error, as for [`AuthRequired`].
impl<S, V> OptionalFromRequestParts<S> for AuthRequired<V>
where
    S: Send + Sync,
    V: AccessVerifier + FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, XrpcError> {
        optional(parts, state).await
    }
}

/// The scope of the legacy session access token.
pub const ACCESS_SCOPE: &str = "com.atproto.access";

/// What [`HmacSessionVerifier`] found in a valid token.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedAccess {
    /// The account (`sub`).
    pub did: Did,
    /// The token's `scope`.
    pub scope: String,
    /// Every claim.
    pub claims: Claims,
}

/// Verifies the legacy session access tokens a PDS issues: HS256 with the
/// server's secret, `typ` `at+jwt`, not expired (`exp` required, no
/// leeway), `sub` a DID, no `lxm` (a service-auth token is not an access
/// token), `scope` one of the accepted scopes (by default
/// [`ACCESS_SCOPE`]) and, if set, `aud` the expected audience.
///
/// A bad signature, type, subject or scope is `400 InvalidToken`; an
/// expired token (with a valid signature) is `400 ExpiredToken`.
#[derive(Clone)]
pub struct HmacSessionVerifier {
    secret: Arc<[u8]>,
    scopes: Arc<[String]>,
    audience: Option<Arc<str>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HmacSessionVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSessionVerifier")
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl HmacSessionVerifier {
    /// A verifier for tokens signed with `secret`, accepting scope
    /// [`ACCESS_SCOPE`], any audience, on the system clock.
    #[must_use]
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into().into(),
            scopes: vec![ACCESS_SCOPE.to_owned()].into(),
            audience: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Accepts these scopes instead.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = T>, T: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Requires `aud` to be `audience` (the service's DID).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into().into());
        self
    }

    /// Reads the time from `clock`.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies `token` now.
    ///
    /// # Errors
    /// `InvalidToken` or `ExpiredToken`, as the type docs say.
    pub fn verify_token(&self, token: &str) -> Result<VerifiedAccess, XrpcError> {
        let jwt = Jwt::parse(token).map_err(|_| invalid_token("Malformed token"))?;
        if jwt.header().alg != Alg::Hs256 || jwt.verify_hs256(&self.secret).is_err() {
            return Err(invalid_token("Token could not be verified"));
        }
        if jwt.header().typ.as_deref() != Some("at+jwt") {
            return Err(invalid_token("Invalid token type"));
        }
        let claims = jwt.into_claims();
        let Some(exp) = claims.exp else {
            return Err(invalid_token("Token has no expiry"));
        };
        if self.clock.unix_secs() >= exp {
            return Err(XrpcError::new(
                "ExpiredToken",
                "Token has expired".to_owned(),
            ));
        }
        if claims.lxm.is_some() {
            return Err(invalid_token("Malformed token"));
        }
        if let Some(want) = &self.audience
            && claims.aud.as_deref() != Some(&**want)
        {
            return Err(invalid_token("Token audience does not match"));
        }
        let Some(did) = claims.sub.as_deref().and_then(|s| s.parse::<Did>().ok()) else {
            return Err(invalid_token("Malformed token"));
        };
        let scope = match &claims.scope {
            Some(s) if self.scopes.iter().any(|a| a == s) => s.clone(),
            _ => return Err(invalid_token("Bad token scope")),
        };
        Ok(VerifiedAccess { did, scope, claims })
    }
}

impl AccessVerifier for HmacSessionVerifier {
    type Output = VerifiedAccess;

    async fn verify(&self, token: &str, _parts: &Parts) -> Result<VerifiedAccess, XrpcError> {
        self.verify_token(token)
    }
}

/// The most live tokens the default replay cache of a
/// [`ServiceAuthVerifier`] remembers.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// A key resolution failure, type-erased.
#[derive(Debug)]
struct KeyError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for KeyError {}

/// Erases a resolver's error type.
struct Erased<R>(R);

impl<R: AsyncSigningKeyResolver> AsyncSigningKeyResolver for Erased<R> {
    type Error = KeyError;
    fn resolve_signing_key<'a>(
        &'a self,
        did: &'a Did,
        fragment: Option<&'a str>,
        fresh: bool,
    ) -> KeyFuture<'a, KeyError> {
        let lookup = self.0.resolve_signing_key(did, fragment, fresh);
        Box::pin(async move { lookup.await.map_err(|e| KeyError(Box::new(e))) })
    }
}

type DynResolver = dyn AsyncSigningKeyResolver<Error = KeyError>;

/// What the [`ServiceAuth`] extractor checks tokens with: this service's
/// DID (the required `aud`), the application's [`AsyncSigningKeyResolver`],
/// a [`ReplayCache`] (by default a [`MemoryReplayCache`] of
/// [`DEFAULT_REPLAY_CAPACITY`]) and a clock. Cheap to clone; make it
/// reachable from the router state ([`FromRef`]).
///
/// Keys are looked up asynchronously
/// ([`verify_service_jwt_async`]): a resolution that goes to the network
/// suspends the request's task and never blocks a runtime thread, on a
/// multi-thread or a current-thread runtime alike. With feature `resolve`,
/// [`DidKeyResolver`](crate::identity::DidKeyResolver) over a
/// (caching) DID resolver plugs in directly; keys held in memory behind a
/// synchronous [`SigningKeyResolver`](crate::SigningKeyResolver) plug in
/// wrapped in [`SyncKeys`](crate::SyncKeys).
#[derive(Clone)]
pub struct ServiceAuthVerifier {
    audience: Arc<str>,
    resolver: Arc<DynResolver>,
    replay: Option<Arc<dyn ReplayCache + Send + Sync>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ServiceAuthVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAuthVerifier")
            .field("audience", &self.audience)
            .field("replay_cache", &self.replay.is_some())
            .finish_non_exhaustive()
    }
}

impl ServiceAuthVerifier {
    /// A verifier for tokens addressed to `audience` (this service's DID,
    /// or `did#service-id`), keys from `resolver` (any
    /// [`AsyncSigningKeyResolver`], an `Arc` of one included).
    pub fn new<R>(audience: impl Into<String>, resolver: R) -> Self
    where
        R: AsyncSigningKeyResolver + 'static,
    {
        Self {
            audience: audience.into().into(),
            resolver: Arc::new(Erased(resolver)),
            replay: Some(Arc::new(MemoryReplayCache::new(DEFAULT_REPLAY_CAPACITY))),
            clock: Arc::new(SystemClock),
        }
    }

    /// Remembers `jti`s in `cache` instead (shared between verifiers, or
    /// another implementation).
    #[must_use]
    pub fn replay_cache(mut self, cache: Arc<dyn ReplayCache + Send + Sync>) -> Self {
        self.replay = Some(cache);
        self
    }

    /// Keeps no replay cache: a token may then be used until it expires.
    #[must_use]
    pub fn without_replay_cache(mut self) -> Self {
        self.replay = None;
        self
    }

    /// Reads the time from `clock`.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies `token` for a call of `lxm` now, with
    /// [`verify_service_jwt_async`].
    ///
    /// # Errors
    /// The [`ServiceAuthError`].
    pub async fn verify(
        &self,
        token: &str,
        lxm: &Nsid,
    ) -> Result<VerifiedServiceJwt, ServiceAuthError> {
        let expected = Expected {
            aud: Some(&self.audience),
            lxm: Some(lxm),
        };
        verify_service_jwt_async(
            token,
            &expected,
            self.clock.unix_secs(),
            &*self.resolver,
            self.replay.as_deref(),
        )
        .await
    }
}

/// A request carrying a valid service-auth token for the method being
/// called (`lxm` = the route's NSID, `aud` = the [`ServiceAuthVerifier`]'s
/// audience).
///
/// No header is `401 AuthenticationRequired`, a malformed header `400
/// InvalidToken`, a token that fails `401` with the
/// [`ServiceAuthError::name`]; outside an [`XrpcRouter`](super::XrpcRouter)
/// route (no method to bind `lxm` to) it is `500 InternalServerError`.
/// `Option<ServiceAuth>` makes it optional: no header is `None`, a header
/// with a bad token still the error.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAuth(pub VerifiedServiceJwt);

impl<S> FromRequestParts<S> for ServiceAuth
where
    S: Send + Sync,
    ServiceAuthVerifier: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, XrpcError> {
        let ctx = MethodContext::of(parts).ok_or_else(outside_router)?;
        let token = bearer(parts)?;
        ServiceAuthVerifier::from_ref(state)
            .verify(token, ctx.nsid())
            .await
            .map(ServiceAuth)
            .map_err(|e| XrpcError::with_status(401, e.name(), Some(e.to_string())))
    }
}

/// `Option<ServiceAuth>`: no `Authorization` header is `None`; anything
/// else is checked as for [`ServiceAuth`], a failure still the error.
impl<S> OptionalFromRequestParts<S> for ServiceAuth
where
    S: Send + Sync,
    ServiceAuthVerifier: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, XrpcError> {
        optional(parts, state).await
    }
}
