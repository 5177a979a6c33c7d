//! XRPC server building blocks on axum 0.8 (feature `server`).
//!
//! - [`XrpcRouter`] builds an [`axum::Router`] from handlers keyed by NSID,
//!   mounted at `/xrpc/<nsid>`, with the reference server's answers for
//!   everything else: a known NSID called with the wrong HTTP method is
//!   `400 InvalidRequest` ("Incorrect HTTP method (POST) expected GET"), an
//!   unknown NSID `501 MethodNotImplemented`, a path that is not an NSID
//!   (`/xrpc/` alone included) `400 InvalidRequest`, and `GET /xrpc/_health` answers
//!   `{"version": …}`.
//! - Extractors ([`extract`]): [`Params`] (query parameters, read and
//!   coerced by the lexicon [`Catalog`](atproto_lexicon::Catalog) when the
//!   router has one), [`Input`] (a JSON body, validated against the
//!   method's input schema), [`RawInput`] (any body with its MIME type,
//!   checked against the lexicon's `input.encoding`), each with a size
//!   limit.
//! - Auth ([`auth`]): [`BearerToken`], [`AuthRequired`] over an
//!   [`AccessVerifier`] the application supplies (with
//!   [`HmacSessionVerifier`] for HS256 session tokens), and [`ServiceAuth`]
//!   verifying inter-service tokens with
//!   [`verify_service_jwt_async`](crate::service_auth::verify_service_jwt_async)
//!   (keys looked up without blocking); as `Option<…>`, both auth
//!   extractors make auth optional.
//! - A request body sent to a method that takes none (a query, a procedure
//!   whose lexicon declares no input) is refused, as by the reference.
//! - [`RateLimitLayer`] ([`rate_limit`]): a tower layer limiting requests
//!   per key in fixed or sliding windows, with `RateLimit-*` headers.
//! - Subscriptions ([`subscription`]): a WebSocket route that sends each
//!   item of a producer's stream as one binary message.
//!
//! Every failure is answered as XRPC JSON `{"error", "message"}` with its
//! status: [`XrpcError`](crate::XrpcError) implements
//! [`IntoResponse`](axum::response::IntoResponse) (adding `Retry-After` and
//! `RateLimit-*` from its fields, and `WWW-Authenticate: Bearer` on 401).
//!
//! ```
//! use atproto_xrpc::XrpcError;
//! use atproto_xrpc::server::{Input, Output, Params, XrpcRouter};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Feed {
//!     limit: i64,
//! }
//!
//! #[derive(Serialize)]
//! struct Page {
//!     limit: i64,
//! }
//!
//! async fn get_timeline(Params(p): Params<Feed>) -> Result<Output<Page>, XrpcError> {
//!     Ok(Output(Page { limit: p.limit }))
//! }
//!
//! async fn echo(Input(body): Input<serde_json::Value>) -> Output<serde_json::Value> {
//!     Output(body)
//! }
//!
//! let app: axum::Router = XrpcRouter::new()
//!     .catalog(atproto_lexicon::bundled::catalog())
//!     .query("app.bsky.feed.getTimeline", get_timeline)
//!     .procedure("com.example.echo", echo)
//!     .build()?;
//! // axum::serve(listener, app).await?;
//! # Ok::<(), atproto_xrpc::server::RouterError>(())
//! ```

pub mod auth;
pub mod clock;
pub mod extract;
mod params_de;
pub mod rate_limit;
pub mod response;
pub mod router;
pub mod subscription;

pub use auth::{
    ACCESS_SCOPE, AccessVerifier, AuthRequired, BearerToken, DEFAULT_REPLAY_CAPACITY,
    HmacSessionVerifier, ServiceAuth, ServiceAuthVerifier, VerifiedAccess,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use extract::{Input, Params, RawInput};
pub use rate_limit::{
    DEFAULT_MAX_KEYS, KeyFn, PeerIp, RateLimitConfig, RateLimitLayer, RateLimitService,
    RateLimiter, Window,
};
pub use response::Output;
pub use router::{
    DEFAULT_JSON_LIMIT, DEFAULT_RAW_LIMIT, MethodContext, RouterError, SharedCatalog, XrpcRouter,
};
pub use subscription::{SubscriptionRequest, stream_frames};
