//! The bidirectional identity check (feature `resolve`): a handle is an
//! account's only if the handle resolves to the DID *and* the DID document
//! claims the handle back (`alsoKnownAs: ["at://<handle>"]`).
//!
//! [`IdentityResolver`] does both directions from either end and returns a
//! [`ResolvedIdentity`]; a handle that does not verify is reported as
//! [`Handle::INVALID`] (`handle.invalid`), as the reference does, and any
//! failure of the handle lookup in the back-check counts as "does not
//! verify". Handles are compared in lowercase.
//!
//! A resolver for an app or a service, with caches, and the same DID cache
//! serving service-auth verification:
//!
//! ```no_run
//! use atproto_xrpc::identity::{
//!     CacheConfig, CachingDidResolver, CachingHandleResolver, DefaultHandleResolver,
//!     DidKeyResolver, HickoryTxtLookup, IdentityResolver, Resolver,
//! };
//! use atproto_xrpc::{Expected, ReqwestClient, verify_service_jwt_async};
//!
//! # async fn run(token: &str, now: i64) -> Result<(), Box<dyn std::error::Error>> {
//! let http = ReqwestClient::new()?;
//! let dids = CachingDidResolver::new(Resolver::new(http.clone()), CacheConfig::default());
//! let handles = CachingHandleResolver::new(
//!     DefaultHandleResolver::new(HickoryTxtLookup::from_system_conf()?, http),
//!     CacheConfig::default(),
//! );
//! let identities = IdentityResolver::new(dids.clone(), handles);
//!
//! let id = identities.resolve_identifier("atproto.com").await?;
//! println!("{} {} {:?}", id.did, id.handle, id.pds);
//! if let Some(key) = &id.signing_key {
//!     println!("{}", key.to_did_key());
//! }
//!
//! // Service auth: issuers' keys through the same cache (re-fetched once
//! // when a cached key fails to verify), awaited rather than blocking.
//! let keys = DidKeyResolver::new(dids);
//! let expected = Expected { aud: Some("did:web:feed.example.com"), lxm: None };
//! let verified = verify_service_jwt_async(token, &expected, now, &keys, None).await?;
//! println!("call from {}", verified.did);
//! # Ok(())
//! # }
//! ```
//!
//! The same with fixed tables, as tests use it:
//!
//! ```
//! use atproto_core::Did;
//! use atproto_xrpc::identity::{
//!     DidDocument, IdentityResolver, MemoryDidResolver, MemoryHandleResolver,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse()?;
//! let dids = MemoryDidResolver::new();
//! dids.insert(DidDocument::parse(
//!     br#"{"id":"did:plc:ewvi7nxzyoun6zhxrhs64oiz","alsoKnownAs":["at://Alice.example.com"]}"#,
//!     &did,
//! )?);
//! let handles = MemoryHandleResolver::new();
//! handles.insert(&"alice.example.com".parse()?, did.clone());
//! let identities = IdentityResolver::new(dids, handles);
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let id = runtime.block_on(identities.resolve_identifier("@ALICE.example.com"))?;
//! assert_eq!(id.did, did);
//! assert_eq!(id.handle.as_str(), "alice.example.com");
//! assert_eq!(id.signing_key, None); // this document has no #atproto key
//! # Ok(())
//! # }
//! ```

use atproto_core::{Did, Handle, PublicKey};

use crate::identity::did_doc::DidDocument;
use crate::identity::did_resolver::{DidResolver, ResolveError};
use crate::identity::handle_resolver::HandleResolver;

/// An account's identity, with its handle checked both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedIdentity {
    /// The DID.
    pub did: Did,
    /// The verified handle (lowercase), or [`Handle::INVALID`] if the
    /// document claims none or the claimed one does not resolve back to
    /// `did`.
    pub handle: Handle,
    /// The PDS endpoint of the document, if it has a valid one.
    pub pds: Option<String>,
    /// The `#atproto` signing key, if the document has a valid one
    /// (`to_did_key()` prints it as `did:key:…`).
    pub signing_key: Option<PublicKey>,
    /// The whole document.
    pub document: DidDocument,
}

impl ResolvedIdentity {
    /// Whether the handle verified (it is not `handle.invalid`).
    #[must_use]
    pub fn handle_is_valid(&self) -> bool {
        !self.handle.is_invalid_sentinel()
    }
}

/// Resolves identities from a handle or a DID, checking the handle both
/// ways. Generic over the two resolvers (typically a
/// [`CachingDidResolver`](crate::identity::CachingDidResolver) and a
/// [`CachingHandleResolver`](crate::identity::CachingHandleResolver)).
#[derive(Debug, Clone)]
pub struct IdentityResolver<D, H> {
    dids: D,
    handles: H,
}

impl<D: DidResolver, H: HandleResolver> IdentityResolver<D, H> {
    /// Combines a DID resolver and a handle resolver.
    pub fn new(dids: D, handles: H) -> Self {
        IdentityResolver { dids, handles }
    }

    /// The DID resolver.
    pub fn did_resolver(&self) -> &D {
        &self.dids
    }

    /// The handle resolver.
    pub fn handle_resolver(&self) -> &H {
        &self.handles
    }

    /// Resolves `did`, then checks the handle its document claims.
    ///
    /// # Errors
    /// The DID resolution's [`ResolveError`]; a handle that does not verify
    /// is not an error.
    pub async fn resolve_did(&self, did: &Did) -> Result<ResolvedIdentity, ResolveError> {
        let document = self.dids.resolve_did(did).await?;
        let handle = match document.handle() {
            Some(claimed) => match self.handles.resolve_handle(&claimed).await {
                Ok(back) if back == *did => claimed,
                _ => Handle::INVALID,
            },
            None => Handle::INVALID,
        };
        Ok(identity(did.clone(), handle, document))
    }

    /// Resolves `handle` to a DID, resolves the DID and checks that its
    /// document claims `handle`.
    ///
    /// # Errors
    /// The handle's or the DID's [`ResolveError`]; a document that does not
    /// claim the handle is not an error (the handle is `handle.invalid`).
    pub async fn resolve_handle(&self, handle: &Handle) -> Result<ResolvedIdentity, ResolveError> {
        let handle = handle.normalized();
        let did = self.handles.resolve_handle(&handle).await?;
        let document = self.dids.resolve_did(&did).await?;
        let verified = if document.handle().as_ref() == Some(&handle) {
            handle
        } else {
            Handle::INVALID
        };
        Ok(identity(did, verified, document))
    }

    /// Resolves a DID (`did:…`) or a handle (optionally written `@handle`).
    ///
    /// # Errors
    /// [`ResolveError::InvalidIdentifier`] if `identifier` is neither, or the
    /// resolution's [`ResolveError`].
    pub async fn resolve_identifier(
        &self,
        identifier: &str,
    ) -> Result<ResolvedIdentity, ResolveError> {
        let invalid = || ResolveError::InvalidIdentifier(identifier.to_owned());
        if identifier.starts_with("did:") {
            let did: Did = identifier.parse().map_err(|_| invalid())?;
            self.resolve_did(&did).await
        } else {
            let text = identifier.strip_prefix('@').unwrap_or(identifier);
            let handle: Handle = text.parse().map_err(|_| invalid())?;
            self.resolve_handle(&handle).await
        }
    }
}

fn identity(did: Did, handle: Handle, document: DidDocument) -> ResolvedIdentity {
    ResolvedIdentity {
        pds: document.pds_endpoint().ok().map(str::to_owned),
        signing_key: document.signing_key().ok(),
        did,
        handle,
        document,
    }
}
