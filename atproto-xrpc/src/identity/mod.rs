//! Identity, pure logic: DID documents with their ATProto accessors, and
//! did:plc operations (build, sign, compute the DID, verify a log).
//!
//! `did_doc` and `plc` do no I/O: resolvers fetch the bytes, these modules
//! judge them. With the `resolve` feature, the network half: DID and handle
//! resolvers over [`HttpClient`](crate::HttpClient) and DNS, the
//! bidirectional [`IdentityResolver`], caches, and the bridge to service
//! auth's key resolvers ([`AsyncSigningKeyResolver`](crate::AsyncSigningKeyResolver)
//! and [`SigningKeyResolver`](crate::SigningKeyResolver)).

#[cfg(feature = "resolve")]
pub mod cache;
pub mod did_doc;
#[cfg(feature = "resolve")]
pub mod did_resolver;
#[cfg(feature = "resolve")]
pub mod dns;
#[cfg(feature = "resolve")]
pub mod handle_resolver;
#[cfg(feature = "resolve")]
pub mod identity_resolver;
#[cfg(feature = "resolve")]
pub mod key_resolver;
pub mod plc;

#[cfg(feature = "resolve")]
pub use cache::{
    CacheConfig, CachingDidResolver, CachingHandleResolver, Clock, ManualClock, SystemClock,
};
pub use did_doc::{DidDocError, DidDocument, Service, VerificationMethod};
#[cfg(feature = "resolve")]
pub use did_resolver::{
    DEFAULT_PLC_DIRECTORY, DidResolver, MemoryDidResolver, PlcResolver, ResolveError, Resolver,
    WebResolver,
};
#[cfg(feature = "resolve")]
pub use dns::{HickoryTxtLookup, TxtLookup, TxtLookupError};
#[cfg(feature = "resolve")]
pub use handle_resolver::{
    DefaultHandleResolver, DnsTxtResolver, HandleResolver, MemoryHandleResolver, WellKnownResolver,
    XrpcHandleResolver,
};
#[cfg(feature = "resolve")]
pub use identity_resolver::{IdentityResolver, ResolvedIdentity};
#[cfg(feature = "resolve")]
pub use key_resolver::{DidKeyResolver, key_from_document, resolve_signing_key};
pub use plc::{AuditEntry, Operation, PlcData, PlcError, PlcService, PlcState};
