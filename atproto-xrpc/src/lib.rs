#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

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

pub use error::{ErrorName, XrpcError};
pub use headers::{
    HeaderError, Labeler, LabelerList, ProxyTarget, RateLimit, RateLimitPolicy, RetryAfter,
};
pub use identity::{DidDocError, DidDocument, PlcError};
pub use jwt::{Alg, Claims, Header, Jwt, JwtError};
pub use method::{Method, MethodKind, PathError, XrpcPath};
pub use params::{ParamValue, ParamsError, QueryParams};
pub use service_auth::{
    Expected, MemoryReplayCache, ReplayCache, ReplayError, RngError, ServiceAuthError,
    ServiceJwtParams, SigningKeyResolver, VerifiedServiceJwt, create_service_jwt, random_jti,
    verify_service_jwt,
};
#[cfg(feature = "client")]
pub use transport::{HttpClient, HttpRequest, HttpResponse, ReqwestClient, TransportError};
