#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod headers;
pub mod identity;
pub mod method;
pub mod params;

pub use error::{ErrorName, XrpcError};
pub use headers::{
    HeaderError, Labeler, LabelerList, ProxyTarget, RateLimit, RateLimitPolicy, RetryAfter,
};
pub use identity::{DidDocError, DidDocument, PlcError};
pub use method::{Method, MethodKind, PathError, XrpcPath};
pub use params::{ParamValue, ParamsError, QueryParams};
