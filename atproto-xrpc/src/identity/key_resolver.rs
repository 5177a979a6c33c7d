//! Signing keys from DID documents (feature `resolve`): the bridge from a
//! [`DidResolver`] to service auth's key resolvers, so issuers are resolved
//! over the network.
//!
//! [`DidKeyResolver`] implements both:
//!
//! - [`AsyncSigningKeyResolver`], for
//!   [`verify_service_jwt_async`](crate::verify_service_jwt_async) and the
//!   server's service-auth extractor: the resolution is awaited. **Servers
//!   use this one.**
//! - [`SigningKeyResolver`], for the synchronous
//!   [`verify_service_jwt`](crate::verify_service_jwt) in offline and
//!   command-line code. Resolvers are async, so it runs the resolution to
//!   completion, which may block the calling thread on the network:
//!   - inside a multi-thread Tokio runtime, with `block_in_place`;
//!   - outside any runtime, on a temporary current-thread runtime;
//!   - inside a current-thread runtime it cannot block: an answer that is
//!     ready at once (a [`CachingDidResolver`](crate::identity::CachingDidResolver)
//!     hit, fresh or stale) is used, anything needing the network is
//!     [`ResolveError::WouldBlock`]. Async code uses the
//!     [`AsyncSigningKeyResolver`] side instead.
//!
//! With `fresh` (the verifiers' retry after a failed signature) the
//! document is fetched again with [`DidResolver::refresh_did`], which
//! replaces a cached copy.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use atproto_core::{Did, PublicKey};

use crate::identity::did_doc::{ATPROTO_KEY_ID, DidDocError, DidDocument};
use crate::identity::did_resolver::{DidResolver, ResolveError};
use crate::service_auth::{AsyncSigningKeyResolver, KeyFuture, SigningKeyResolver};
use crate::transport::TransportError;

/// The key of `document` for `fragment`: the `#atproto` signing key when
/// `fragment` is `None` or `atproto`, otherwise the verification method
/// `#<fragment>` (e.g. `atproto_label`).
///
/// # Errors
/// [`ResolveError::InvalidDocument`] with [`DidDocError::MissingSigningKey`],
/// [`DidDocError::MissingPublicKeyMultibase`] or
/// [`DidDocError::BadSigningKey`].
pub fn key_from_document(
    document: &DidDocument,
    fragment: Option<&str>,
) -> Result<PublicKey, ResolveError> {
    let invalid = |source| ResolveError::InvalidDocument {
        did: document.id.clone(),
        source,
    };
    match fragment {
        None | Some(ATPROTO_KEY_ID) => document.signing_key().map_err(invalid),
        Some(frag) => {
            let method = document
                .verification_method(frag)
                .ok_or_else(|| invalid(DidDocError::MissingSigningKey))?;
            let multibase = method
                .public_key_multibase
                .as_deref()
                .ok_or_else(|| invalid(DidDocError::MissingPublicKeyMultibase))?;
            PublicKey::from_verification_method(&method.type_, multibase)
                .map_err(|e| invalid(DidDocError::BadSigningKey(e)))
        }
    }
}

/// Resolves `did` with `resolver` (or, with `fresh`, re-fetches it) and
/// returns its key for `fragment` (see [`key_from_document`]). A `did:key`
/// is its own key and is not resolved, as in the reference.
///
/// # Errors
/// The resolution's [`ResolveError`], or the document has no such key.
pub async fn resolve_signing_key<R: DidResolver + ?Sized>(
    resolver: &R,
    did: &Did,
    fragment: Option<&str>,
    fresh: bool,
) -> Result<PublicKey, ResolveError> {
    if did.method() == "key" {
        return PublicKey::from_did_key(did.as_str()).map_err(|e| ResolveError::InvalidDid {
            did: did.as_str().to_owned(),
            reason: e.to_string(),
        });
    }
    let document = if fresh {
        resolver.refresh_did(did).await?
    } else {
        resolver.resolve_did(did).await?
    };
    key_from_document(&document, fragment)
}

/// An [`AsyncSigningKeyResolver`] and a [`SigningKeyResolver`] over a
/// [`DidResolver`] (usually a
/// [`CachingDidResolver`](crate::identity::CachingDidResolver)); see the
/// [module docs](self) for how each waits.
#[derive(Debug, Clone)]
pub struct DidKeyResolver<R> {
    resolver: R,
}

impl<R: DidResolver> DidKeyResolver<R> {
    /// Wraps `resolver`.
    pub fn new(resolver: R) -> Self {
        DidKeyResolver { resolver }
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.resolver
    }
}

impl<R: DidResolver> AsyncSigningKeyResolver for DidKeyResolver<R> {
    type Error = ResolveError;

    fn resolve_signing_key<'a>(
        &'a self,
        did: &'a Did,
        fragment: Option<&'a str>,
        fresh: bool,
    ) -> KeyFuture<'a, ResolveError> {
        Box::pin(resolve_signing_key(&self.resolver, did, fragment, fresh))
    }
}

/// Blocks the calling thread while the network is used; see the
/// [module docs](self). Servers use the [`AsyncSigningKeyResolver`] side.
impl<R: DidResolver> SigningKeyResolver for DidKeyResolver<R> {
    type Error = ResolveError;

    fn signing_key(
        &self,
        did: &Did,
        fragment: Option<&str>,
        fresh: bool,
    ) -> Result<PublicKey, ResolveError> {
        block_on(
            did,
            resolve_signing_key(&self.resolver, did, fragment, fresh),
        )
    }
}

/// Runs `future` to completion from synchronous code; see the
/// [module docs](self).
fn block_on<T>(
    did: &Did,
    future: impl Future<Output = Result<T, ResolveError>>,
) -> Result<T, ResolveError> {
    use tokio::runtime::{Builder, Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        Ok(_) => {
            let mut future = pin!(future);
            match future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(result) => result,
                Poll::Pending => Err(ResolveError::WouldBlock(did.as_str().to_owned())),
            }
        }
        Err(_) => {
            let runtime = Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    ResolveError::transport(TransportError::InvalidRequest(format!(
                        "cannot start a Tokio runtime to resolve {did}: {e}"
                    )))
                })?;
            runtime.block_on(future)
        }
    }
}
