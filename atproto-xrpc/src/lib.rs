#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod jwt;
pub mod service_auth;

pub use jwt::{Alg, Claims, Header, Jwt, JwtError};
pub use service_auth::{
    Expected, MemoryReplayCache, ReplayCache, ReplayError, RngError, ServiceAuthError,
    ServiceJwtParams, SigningKeyResolver, VerifiedServiceJwt, create_service_jwt, random_jti,
    verify_service_jwt,
};
