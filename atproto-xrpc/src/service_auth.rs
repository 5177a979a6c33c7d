//! Service auth: short-lived JWTs an account signs with its atproto signing
//! key to call another service on its behalf (`iss` the account DID, `aud`
//! the service DID, `lxm` the method).
//!
//! The rules follow the reference (`packages/xrpc-server/src/auth.ts`), in its
//! order and with its error names ([`ServiceAuthError::name`]):
//! header → `typ` not `at+jwt`/`refresh+jwt`/`dpop+jwt` (`BadJwtType`) →
//! payload with string `iss`, `aud` and integer `exp` (`BadJwt`) → not
//! expired (`JwtExpired`) → `aud` (`BadJwtAudience`) → `lxm`
//! (`BadJwtLexiconMethod`) → `iss` a DID or `did#id` (`BadJwtIss`) →
//! signature (`BadJwtSignature`; `HS256` is refused here before any key is
//! resolved): if it does not verify with the cached key (a bad signature, or
//! a key of the other curve), the key is re-resolved once with
//! `fresh = true` and the signature checked again if the key changed. A
//! malformed, DER or high-S signature fails without re-resolution.
//!
//! Differences, all stricter: a high-S or DER signature is rejected (see
//! [`crate::jwt`]); an `iat` more than [`CLOCK_LEEWAY_SECS`] in the future is
//! `BadJwt`; with a [`ReplayCache`], a token without `jti` is `BadJwt` and a
//! repeated `(iss, jti)` is `JwtReplayed`. Expiry allows
//! [`CLOCK_LEEWAY_SECS`] of clock skew (the reference allows none).
//!
//! The checks run in two forms sharing every step: [`verify_service_jwt`]
//! with a synchronous [`SigningKeyResolver`] (keys in memory, command-line
//! tools) and [`verify_service_jwt_async`] with an
//! [`AsyncSigningKeyResolver`] (servers, whose key lookups go to the network
//! and must not block a runtime thread).
//!
//! No clock is read: `now` (Unix seconds) is always a parameter.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use atproto_core::{Did, Keypair, Nsid, PublicKey};

use crate::jwt::{self, Alg, Claims, Header, Jwt, JwtError};

/// Lifetime of a token made by [`create_service_jwt`]: 60 seconds, as the
/// reference.
pub const SERVICE_JWT_LIFETIME_SECS: i64 = 60;

/// Clock skew tolerated when checking `exp` and `iat`: 5 seconds.
pub const CLOCK_LEEWAY_SECS: i64 = 5;

/// What a new service-auth token says.
#[derive(Debug, Clone)]
pub struct ServiceJwtParams<'a> {
    /// The issuer: the account DID, or `did#service-id`.
    pub iss: &'a str,
    /// The audience: the service DID, or `did#service-id`.
    pub aud: &'a str,
    /// The method the token is bound to, if any.
    pub lxm: Option<&'a Nsid>,
    /// The current time (Unix seconds); `iat`, and `exp` = `now` +
    /// [`SERVICE_JWT_LIFETIME_SECS`].
    pub now: i64,
    /// The token id, unique per token (the reference uses 16 random bytes in
    /// hex); the caller supplies it from its RNG.
    pub jti: &'a str,
}

/// Creates a service-auth token signed with the account's `key`: header
/// `{"typ":"JWT","alg":…}`, claims `iat`, `iss`, `aud`, `exp`, `lxm` (if
/// given) and `jti`.
///
/// # Errors
/// [`JwtError::UnsupportedAlg`] for a key whose curve has no JWT algorithm
/// here; [`JwtError::Json`] only if serialisation fails, which it does not
/// for these claims.
pub fn create_service_jwt(
    params: &ServiceJwtParams<'_>,
    key: &Keypair,
) -> Result<String, JwtError> {
    let curve_alg = key.curve().jwt_alg();
    let alg =
        Alg::from_name(curve_alg).ok_or_else(|| JwtError::UnsupportedAlg(curve_alg.to_owned()))?;
    let claims = Claims {
        iss: Some(params.iss.to_owned()),
        aud: Some(params.aud.to_owned()),
        exp: Some(params.now.saturating_add(SERVICE_JWT_LIFETIME_SECS)),
        iat: Some(params.now),
        jti: Some(params.jti.to_owned()),
        lxm: params.lxm.map(|n| n.as_str().to_owned()),
        ..Claims::default()
    };
    jwt::sign_ecdsa(&Header::new(alg), &claims, key)
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngError;

/// A fresh token id from the operating system's RNG: 16 random bytes as 32
/// lowercase hex digits, as the reference makes them. For
/// [`ServiceJwtParams::jti`].
///
/// # Errors
/// [`RngError`] if the OS RNG fails (it does not on supported platforms).
pub fn random_jti() -> Result<String, RngError> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| RngError)?;
    Ok(bytes
        .iter()
        .flat_map(|b| {
            [
                char::from(HEX[usize::from(b >> 4)]),
                char::from(HEX[usize::from(b & 0xf)]),
            ]
        })
        .collect())
}

/// Looks up the signing key of a token's issuer (usually the `#atproto` key
/// of its DID document), synchronously, for [`verify_service_jwt`].
///
/// Meant for keys at hand and for offline or command-line use. A server,
/// whose lookups may go to the network, uses [`AsyncSigningKeyResolver`]
/// and [`verify_service_jwt_async`] so no runtime thread blocks.
pub trait SigningKeyResolver {
    /// Why a key could not be found.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The signing key for `did` (and the `#fragment` of the `iss`, if it had
    /// one, e.g. `atproto_labeler`). With `fresh`, bypass any cache: the
    /// verifier asks for that once, after the cached key failed.
    ///
    /// # Errors
    /// Whatever stopped the resolution; verification fails with
    /// [`ServiceAuthError::KeyResolution`].
    fn signing_key(
        &self,
        did: &Did,
        fragment: Option<&str>,
        fresh: bool,
    ) -> Result<PublicKey, Self::Error>;
}

/// The future of an [`AsyncSigningKeyResolver`] lookup.
pub type KeyFuture<'a, E> = Pin<Box<dyn Future<Output = Result<PublicKey, E>> + Send + 'a>>;

/// [`SigningKeyResolver`] for async code: looks up the signing key of a
/// token's issuer without blocking the thread, for
/// [`verify_service_jwt_async`] and the server's service-auth extractor.
///
/// Object safe (the future is boxed). With feature `resolve`,
/// [`DidKeyResolver`](crate::identity::DidKeyResolver) implements it over
/// any DID resolver; a [`SigningKeyResolver`] that answers from memory
/// becomes one with [`SyncKeys`].
pub trait AsyncSigningKeyResolver: Send + Sync {
    /// Why a key could not be found.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The signing key for `did` (and the `#fragment` of the `iss`, if it had
    /// one); `fresh` as for [`SigningKeyResolver::signing_key`].
    ///
    /// # Errors
    /// Whatever stopped the resolution; verification fails with
    /// [`ServiceAuthError::KeyResolution`].
    fn resolve_signing_key<'a>(
        &'a self,
        did: &'a Did,
        fragment: Option<&'a str>,
        fresh: bool,
    ) -> KeyFuture<'a, Self::Error>;
}

macro_rules! forward_async_keys {
    ($($ty:ty),*) => {$(
        impl<T: AsyncSigningKeyResolver + ?Sized> AsyncSigningKeyResolver for $ty {
            type Error = T::Error;
            fn resolve_signing_key<'a>(
                &'a self,
                did: &'a Did,
                fragment: Option<&'a str>,
                fresh: bool,
            ) -> KeyFuture<'a, T::Error> {
                (**self).resolve_signing_key(did, fragment, fresh)
            }
        }
    )*};
}
forward_async_keys!(std::sync::Arc<T>, Box<T>, &T);

/// An [`AsyncSigningKeyResolver`] over a [`SigningKeyResolver`] that answers
/// at once (keys held in memory, a fixed table): its answer is returned as a
/// ready future. Do not wrap a resolver that blocks (such as the sync side
/// of [`DidKeyResolver`](crate::identity::DidKeyResolver)); it would block
/// the task calling it.
#[derive(Debug, Clone, Default)]
pub struct SyncKeys<R>(pub R);

impl<R: SigningKeyResolver + Send + Sync> AsyncSigningKeyResolver for SyncKeys<R> {
    type Error = R::Error;

    fn resolve_signing_key<'a>(
        &'a self,
        did: &'a Did,
        fragment: Option<&'a str>,
        fresh: bool,
    ) -> KeyFuture<'a, R::Error> {
        Box::pin(std::future::ready(self.0.signing_key(did, fragment, fresh)))
    }
}

/// Why a replay cache refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The `(iss, jti)` pair was seen before and has not expired.
    #[error("jti already used")]
    Replayed,
    /// The cache holds its maximum of unexpired entries.
    #[error("replay cache full")]
    Full,
}

/// Remembers the `jti` of accepted tokens until they expire, so each token is
/// accepted once. `&self` methods, so one cache can be shared (e.g. in an
/// `Arc`) between handlers.
pub trait ReplayCache {
    /// Records `(iss, jti)`, valid until `expires_at` (Unix seconds), at time
    /// `now`.
    ///
    /// # Errors
    /// [`ReplayError::Replayed`] if the pair is already recorded and not
    /// expired; [`ReplayError::Full`] if there is no room.
    fn check_and_insert(
        &self,
        iss: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), ReplayError>;
}

/// An in-memory [`ReplayCache`] holding at most `capacity` unexpired entries
/// (with capacity 0 it refuses every token).
/// When full, expired entries are dropped; if none have expired the new token
/// is refused ([`ReplayError::Full`]) rather than forgetting a live one.
#[derive(Debug)]
pub struct MemoryReplayCache {
    capacity: usize,
    entries: Mutex<HashMap<(String, String), i64>>,
}

impl MemoryReplayCache {
    /// A cache for at most `capacity` live tokens.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        MemoryReplayCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The number of entries held (expired ones included until purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry that expired before `now`.
    pub fn purge(&self, now: i64) {
        self.lock().retain(|_, exp| *exp >= now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), i64>> {
        // A poisoned lock only means another thread panicked mid-call; the
        // map itself is always consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_insert(
        &self,
        iss: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), ReplayError> {
        let mut map = self.lock();
        let key = (iss.to_owned(), jti.to_owned());
        if let Some(&exp) = map.get(&key)
            && exp >= now
        {
            return Err(ReplayError::Replayed);
        }
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, exp| *exp >= now);
            if map.len() >= self.capacity {
                return Err(ReplayError::Full);
            }
        }
        map.insert(key, expires_at);
        Ok(())
    }
}

/// What the verifying service expects of a token.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The required `aud` (the service's DID, or `did#id`); `None` skips the
    /// check, as the reference allows.
    pub aud: Option<&'a str>,
    /// The required `lxm`; `None` skips the check.
    pub lxm: Option<&'a Nsid>,
}

/// Why a service-auth token was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceAuthError {
    /// Malformed token or claims (`BadJwt`).
    #[error("poorly formatted jwt: {0}")]
    BadJwt(String),
    /// A forbidden `typ` (`BadJwtType`).
    #[error("invalid jwt type {0:?}")]
    BadJwtType(String),
    /// `exp` is past (`JwtExpired`).
    #[error("jwt expired")]
    JwtExpired,
    /// `aud` is not the expected audience (`BadJwtAudience`).
    #[error("jwt audience does not match service did")]
    BadJwtAudience,
    /// `lxm` missing or not the expected method (`BadJwtLexiconMethod`).
    #[error("bad or missing jwt lexicon method (\"lxm\"), must match: {expected}")]
    BadJwtLexiconMethod {
        /// The method the service expected.
        expected: String,
    },
    /// `iss` is not a DID or `did#id` (`BadJwtIss`).
    #[error("jwt iss is not a valid did")]
    BadJwtIss,
    /// The signature is malformed or does not verify (`BadJwtSignature`).
    #[error("jwt signature does not match jwt issuer: {0}")]
    BadJwtSignature(JwtError),
    /// The `(iss, jti)` pair was already used (`JwtReplayed`).
    #[error("jwt replayed: {0}")]
    JwtReplayed(ReplayError),
    /// The issuer's signing key could not be resolved.
    #[error("could not resolve the jwt issuer's signing key: {0}")]
    KeyResolution(Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceAuthError {
    /// The XRPC error name the reference uses for this rejection (sent with
    /// HTTP 401 `AuthRequired`-style responses). Key resolution failures are
    /// `BadJwtSignature`, as the reference reports any verification failure.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            ServiceAuthError::BadJwt(_) => "BadJwt",
            ServiceAuthError::BadJwtType(_) => "BadJwtType",
            ServiceAuthError::JwtExpired => "JwtExpired",
            ServiceAuthError::BadJwtAudience => "BadJwtAudience",
            ServiceAuthError::BadJwtLexiconMethod { .. } => "BadJwtLexiconMethod",
            ServiceAuthError::BadJwtIss => "BadJwtIss",
            ServiceAuthError::BadJwtSignature(_) | ServiceAuthError::KeyResolution(_) => {
                "BadJwtSignature"
            }
            ServiceAuthError::JwtReplayed(_) => "JwtReplayed",
        }
    }
}

/// The `typ` values a service-auth token must not carry.
const FORBIDDEN_TYPES: [&str; 3] = ["at+jwt", "refresh+jwt", "dpop+jwt"];

/// A verified token's claims, with `iss`, `aud` and `exp` known present.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedServiceJwt {
    /// The issuer's DID.
    pub did: Did,
    /// The claims as read.
    pub claims: Claims,
}

/// Verifies a service-auth token at time `now` (Unix seconds): the rules in
/// the [module docs](self), the signature against the key `resolver` gives
/// for the issuer (re-resolved fresh once if it fails), then, if `replay` is
/// given, records the `jti` (only after the signature verified, so unsigned
/// tokens cannot fill the cache). Entries are kept until `exp` +
/// [`CLOCK_LEEWAY_SECS`], as long as the token would be accepted.
///
/// The resolver is called synchronously: fine for keys held in memory and
/// for command-line tools; a server resolving keys over the network uses
/// [`verify_service_jwt_async`] instead, which does the same checks.
///
/// # Errors
/// A [`ServiceAuthError`]; [`ServiceAuthError::name`] gives its XRPC name.
pub fn verify_service_jwt<R: SigningKeyResolver + ?Sized>(
    token: &str,
    expected: &Expected<'_>,
    now: i64,
    resolver: &R,
    replay: Option<&dyn ReplayCache>,
) -> Result<VerifiedServiceJwt, ServiceAuthError> {
    let checked = Checked::new(token, expected, now)?;
    let (did, fragment) = checked.issuer();
    let key = resolver
        .signing_key(did, fragment, false)
        .map_err(key_resolution)?;
    if checked.needs_fresh_key(&key)? {
        let fresh = resolver
            .signing_key(did, fragment, true)
            .map_err(key_resolution)?;
        checked.verify_fresh_key(&key, &fresh)?;
    }
    checked.finish(now, replay)
}

/// [`verify_service_jwt`] with an [`AsyncSigningKeyResolver`]: the same
/// checks in the same order, the key resolutions awaited. This is the one a
/// server uses, so that no worker thread blocks on a key lookup.
///
/// # Errors
/// A [`ServiceAuthError`]; [`ServiceAuthError::name`] gives its XRPC name.
pub async fn verify_service_jwt_async<R: AsyncSigningKeyResolver + ?Sized>(
    token: &str,
    expected: &Expected<'_>,
    now: i64,
    resolver: &R,
    replay: Option<&(dyn ReplayCache + Send + Sync)>,
) -> Result<VerifiedServiceJwt, ServiceAuthError> {
    let checked = Checked::new(token, expected, now)?;
    let (did, fragment) = checked.issuer();
    let key = resolver
        .resolve_signing_key(did, fragment, false)
        .await
        .map_err(key_resolution)?;
    if checked.needs_fresh_key(&key)? {
        let fresh = resolver
            .resolve_signing_key(did, fragment, true)
            .await
            .map_err(key_resolution)?;
        checked.verify_fresh_key(&key, &fresh)?;
    }
    checked.finish(now, replay.map(|r| r as &dyn ReplayCache))
}

fn key_resolution<E: std::error::Error + Send + Sync + 'static>(e: E) -> ServiceAuthError {
    ServiceAuthError::KeyResolution(Box::new(e))
}

/// A token that passed every check needing no key: the steps
/// [`verify_service_jwt`] and [`verify_service_jwt_async`] share.
struct Checked {
    jwt: Jwt,
    did: Did,
    /// `exp`, known present.
    exp: i64,
}

impl Checked {
    /// Parses `token` and checks, in the reference's order, its `typ`, the
    /// presence of `iss`, `aud` and `exp`, the times, `aud`, `lxm`, `iss`,
    /// and that the algorithm is not `HS256`.
    fn new(token: &str, expected: &Expected<'_>, now: i64) -> Result<Self, ServiceAuthError> {
        let jwt = Jwt::parse(token).map_err(|e| ServiceAuthError::BadJwt(e.to_string()))?;
        if let Some(typ) = &jwt.header().typ
            && FORBIDDEN_TYPES.contains(&typ.as_str())
        {
            return Err(ServiceAuthError::BadJwtType(typ.clone()));
        }
        let claims = jwt.claims();
        let (Some(iss), Some(aud), Some(exp)) = (&claims.iss, &claims.aud, claims.exp) else {
            return Err(ServiceAuthError::BadJwt(
                "iss, aud and exp are required".to_owned(),
            ));
        };
        if now > exp.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(ServiceAuthError::JwtExpired);
        }
        if let Some(iat) = claims.iat
            && iat > now.saturating_add(CLOCK_LEEWAY_SECS)
        {
            return Err(ServiceAuthError::BadJwt("iat is in the future".to_owned()));
        }
        if let Some(want) = expected.aud
            && aud != want
        {
            return Err(ServiceAuthError::BadJwtAudience);
        }
        if let Some(want) = expected.lxm
            && claims.lxm.as_deref() != Some(want.as_str())
        {
            return Err(ServiceAuthError::BadJwtLexiconMethod {
                expected: want.as_str().to_owned(),
            });
        }
        let (did, _) = parse_iss(iss)?;
        if jwt.header().alg == Alg::Hs256 {
            // A shared-secret token cannot be an account's signature; refused
            // before any key is resolved.
            return Err(ServiceAuthError::BadJwtSignature(JwtError::UnsupportedAlg(
                "HS256".to_owned(),
            )));
        }
        Ok(Checked { jwt, did, exp })
    }

    /// The issuer's DID and the `#fragment` of its `iss`, if any.
    fn issuer(&self) -> (&Did, Option<&str>) {
        let fragment = self
            .jwt
            .claims()
            .iss
            .as_deref()
            .and_then(|iss| iss.split_once('#'))
            .map(|(_, frag)| frag);
        (&self.did, fragment)
    }

    /// Checks the signature with the (possibly cached) `key`: `Ok(false)`
    /// if it verifies, `Ok(true)` if it does not in a way a rotated key
    /// explains (a bad signature, a key of the other curve), so the key is
    /// to be resolved again with `fresh`.
    fn needs_fresh_key(&self, key: &PublicKey) -> Result<bool, ServiceAuthError> {
        match self.jwt.verify_ecdsa(key) {
            Ok(()) => Ok(false),
            Err(JwtError::BadSignature | JwtError::AlgKeyMismatch { .. }) => Ok(true),
            Err(e) => Err(ServiceAuthError::BadJwtSignature(e)),
        }
    }

    /// Checks the signature with the `fresh` key, after `cached` failed; the
    /// same key again fails at once.
    fn verify_fresh_key(
        &self,
        cached: &PublicKey,
        fresh: &PublicKey,
    ) -> Result<(), ServiceAuthError> {
        if fresh == cached {
            return Err(ServiceAuthError::BadJwtSignature(JwtError::BadSignature));
        }
        self.jwt
            .verify_ecdsa(fresh)
            .map_err(ServiceAuthError::BadJwtSignature)
    }

    /// After the signature verified: records the `jti` in `replay`, if
    /// given, until `exp` + [`CLOCK_LEEWAY_SECS`].
    fn finish(
        self,
        now: i64,
        replay: Option<&dyn ReplayCache>,
    ) -> Result<VerifiedServiceJwt, ServiceAuthError> {
        if let Some(cache) = replay {
            let claims = self.jwt.claims();
            let (Some(iss), Some(jti)) = (&claims.iss, &claims.jti) else {
                return Err(ServiceAuthError::BadJwt("jti is required".to_owned()));
            };
            cache
                .check_and_insert(iss, jti, self.exp.saturating_add(CLOCK_LEEWAY_SECS), now)
                .map_err(ServiceAuthError::JwtReplayed)?;
        }
        Ok(VerifiedServiceJwt {
            did: self.did,
            claims: self.jwt.into_claims(),
        })
    }
}

/// Splits an `iss` into its DID and optional fragment: `did` or `did#id` with
/// a non-empty `id` and no second `#`.
fn parse_iss(iss: &str) -> Result<(Did, Option<&str>), ServiceAuthError> {
    let (did, fragment) = match iss.split_once('#') {
        None => (iss, None),
        Some((_, frag)) if frag.is_empty() || frag.contains('#') => {
            return Err(ServiceAuthError::BadJwtIss);
        }
        Some((did, frag)) => (did, Some(frag)),
    };
    let did = did
        .parse::<Did>()
        .map_err(|_| ServiceAuthError::BadJwtIss)?;
    Ok((did, fragment))
}
