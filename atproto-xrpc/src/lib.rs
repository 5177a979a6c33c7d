#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod headers;
pub mod identity;
pub mod jwt;
pub mod method;
pub mod params;
#[cfg(feature = "server")]
pub mod server;
pub mod service_auth;
#[cfg(feature = "client")]
pub mod transport;

#[cfg(feature = "client")]
pub use client::{
    CallOptions, ClientError, FileSessionStore, MemorySessionStore, RetryPolicy, Session,
    SessionClient, SessionStore, StoreError, Timer, TokioTimer, XrpcCall, XrpcClient, XrpcRequest,
    XrpcResponse,
};
pub use error::{ErrorName, XrpcError};
pub use headers::{
    HeaderError, Labeler, LabelerList, ProxyTarget, RateLimit, RateLimitPolicy, RetryAfter,
};
#[cfg(feature = "resolve")]
pub use identity::{
    CacheConfig, CachingDidResolver, CachingHandleResolver, DefaultHandleResolver, DidKeyResolver,
    DidResolver, HandleResolver, IdentityResolver, ResolveError, ResolvedIdentity, Resolver,
};
pub use identity::{DidDocError, DidDocument, PlcError};
pub use jwt::{Alg, Claims, Header, Jwt, JwtError};
pub use method::{Method, MethodKind, PathError, XrpcPath};
pub use params::{ParamValue, ParamsError, QueryParams};
pub use service_auth::{
    AsyncSigningKeyResolver, Expected, KeyFuture, MemoryReplayCache, ReplayCache, ReplayError,
    RngError, ServiceAuthError, ServiceJwtParams, SigningKeyResolver, SyncKeys, VerifiedServiceJwt,
    create_service_jwt, random_jti, verify_service_jwt, verify_service_jwt_async,
};
#[cfg(feature = "client")]
pub use transport::{
    BodyStream, HttpClient, HttpRequest, HttpResponse, ReqwestClient, SendBody, StreamingRequest,
    StreamingResponse, TransportError,
};
