//! Rate limiting per key: a [`RateLimiter`] (usable directly, e.g. per DID
//! inside a handler once auth has run) and [`RateLimitLayer`], the tower
//! layer that applies one to every request with a pluggable key ([`PeerIp`],
//! or any `Fn(&Request) -> Option<String>`).
//!
//! Windows are aligned on the Unix epoch (a 60 s window resets at each
//! whole minute). [`Window::Fixed`] counts the requests of the current
//! window; [`Window::Sliding`] adds the previous window's count weighted by
//! how much of it still overlaps the last `window` (the usual
//! sliding-window counter). A refused request is `429 RateLimitExceeded`
//! with `Retry-After` (the end of the window, or for a sliding window the
//! time at which the weighted count lets one more in) and does not count;
//! every answer carries `RateLimit-Limit`, `-Remaining`, `-Reset` (Unix
//! seconds) and `-Policy` (`<limit>;w=<seconds>`), as the reference server
//! sends them.
//!
//! Memory is bounded: at most [`RateLimitConfig::max_keys`] keys are
//! tracked. Keys idle for a whole window are dropped once per window; when
//! the table is still full, the key with the oldest and smallest count is
//! evicted to make room.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tower::{Layer, Service};

use super::clock::{Clock, SystemClock};
use super::response::add_headers;
use crate::error::{ErrorName, XrpcError};
use crate::headers::{RateLimit, RateLimitPolicy, RetryAfter};

/// How requests are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// The requests of the current window.
    Fixed,
    /// The current window's requests plus the previous window's, weighted
    /// by their overlap with the last window length.
    Sliding,
}

/// A limit: `limit` requests per `window` per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests allowed per window.
    pub limit: u64,
    /// The window length (whole milliseconds; at least 1 ms is used).
    pub window: Duration,
    /// Fixed or sliding.
    pub kind: Window,
    /// The most keys tracked at once.
    pub max_keys: usize,
}

/// The default [`RateLimitConfig::max_keys`].
pub const DEFAULT_MAX_KEYS: usize = 100_000;

impl RateLimitConfig {
    /// `limit` requests per fixed `window`.
    #[must_use]
    pub fn fixed(limit: u64, window: Duration) -> Self {
        Self {
            limit,
            window,
            kind: Window::Fixed,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }

    /// `limit` requests per sliding `window`.
    #[must_use]
    pub fn sliding(limit: u64, window: Duration) -> Self {
        Self {
            kind: Window::Sliding,
            ..Self::fixed(limit, window)
        }
    }

    /// Tracks at most `max_keys` keys (at least 1).
    #[must_use]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    fn window_ms(&self) -> u64 {
        u64::try_from(self.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// The window index (`now_ms / window_ms`) `count` belongs to.
    index: u64,
    count: u64,
    /// The count of window `index - 1`.
    prev: u64,
}

struct Table {
    buckets: HashMap<String, Bucket>,
    purged_at: u64,
}

/// Counts requests per key. Cheap to clone (shared state).
#[derive(Clone)]
pub struct RateLimiter {
    config: RateLimitConfig,
    clock: Arc<dyn Clock>,
    table: Arc<Mutex<Table>>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter on the system clock.
    #[must_use]
    pub fn new(config: RateLimitConfig) -> Self {
        Self::with_clock(config, SystemClock)
    }

    /// A limiter reading the time from `clock`.
    #[must_use]
    pub fn with_clock(config: RateLimitConfig, clock: impl Clock) -> Self {
        Self {
            config,
            clock: Arc::new(clock),
            table: Arc::new(Mutex::new(Table {
                buckets: HashMap::new(),
                purged_at: 0,
            })),
        }
    }

    /// Its configuration.
    #[must_use]
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The number of keys tracked.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().buckets.len()
    }

    /// Whether no key is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table stays consistent even if a holder panicked.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request for `key`.
    ///
    /// # Errors
    /// `429 RateLimitExceeded` (with `Retry-After` and the `RateLimit-*`
    /// values) when the key is over its limit; the request is not counted.
    pub fn check(&self, key: &str) -> Result<RateLimit, XrpcError> {
        let w = self.config.window_ms();
        let now_ms = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let index = now_ms / w;
        let window_end_ms = index.saturating_add(1).saturating_mul(w);
        let reset = window_end_ms.div_ceil(1000);
        let limit = self.config.limit;
        let policy = Some(RateLimitPolicy {
            limit,
            window_secs: self.config.window.as_secs().max(1),
        });

        let mut table = self.lock();
        if table.purged_at != index {
            table.purged_at = index;
            table
                .buckets
                .retain(|_, b| b.index.saturating_add(1) >= index);
        }
        if !table.buckets.contains_key(key) && table.buckets.len() >= self.config.max_keys {
            let victim = table
                .buckets
                .iter()
                .min_by_key(|(_, b)| (b.index, b.count))
                .map(|(k, _)| k.clone());
            if let Some(victim) = victim {
                table.buckets.remove(&victim);
            }
        }
        let bucket = table.buckets.entry(key.to_owned()).or_insert(Bucket {
            index,
            count: 0,
            prev: 0,
        });
        if bucket.index != index {
            bucket.prev = if bucket.index.saturating_add(1) == index {
                bucket.count
            } else {
                0
            };
            bucket.count = 0;
            bucket.index = index;
        }
        let used = match self.config.kind {
            Window::Fixed => bucket.count,
            Window::Sliding => {
                let left = u128::from(window_end_ms - now_ms);
                let weighted = u128::from(bucket.prev) * left / u128::from(w);
                bucket
                    .count
                    .saturating_add(u64::try_from(weighted).unwrap_or(u64::MAX))
            }
        };
        if used >= limit {
            let rate = RateLimit {
                limit,
                remaining: 0,
                reset,
                policy,
            };
            let mut err = XrpcError::new(
                ErrorName::RateLimitExceeded,
                "Rate Limit Exceeded".to_owned(),
            );
            let left = window_end_ms - now_ms;
            let wait_ms = match self.config.kind {
                Window::Fixed => left,
                Window::Sliding => sliding_wait(bucket.count, bucket.prev, limit, left, w),
            };
            err.retry_after = Some(RetryAfter::Seconds(wait_ms.div_ceil(1000).max(1)));
            err.rate_limit = Some(rate);
            return Err(err);
        }
        bucket.count += 1;
        Ok(RateLimit {
            limit,
            remaining: limit - used - 1,
            reset,
            policy,
        })
    }
}

/// How long (ms) until one more request fits a sliding window that holds
/// `count` requests, after a previous window of `prev`, `left` ms before its
/// end (window `w` ms). The weighted count only falls as time passes, so
/// waiting at least this long is enough if nothing else is counted.
fn sliding_wait(count: u64, prev: u64, limit: u64, left: u64, w: u64) -> u64 {
    let (count, prev, limit, left, w) = (
        u128::from(count),
        u128::from(prev),
        u128::from(limit),
        u128::from(left),
        u128::from(w),
    );
    // `floor(p · l / w) < k` holds while `l ≤ (k·w − 1) / p`: the longest
    // remainder `l` of a window at which `p` weighs less than `k`.
    let longest = |p: u128, k: u128| (k * w).saturating_sub(1) / p.max(1);
    let wait = if limit == 0 {
        left
    } else if count < limit {
        // This window's count fits; wait until the previous one weighs
        // little enough.
        left.saturating_sub(longest(prev, limit - count))
    } else {
        // Into the next window, until this window's count weighs less than
        // the limit there.
        left + w.saturating_sub(longest(count, limit))
    };
    u64::try_from(wait).unwrap_or(u64::MAX)
}

/// Picks the rate-limit key of a request; `None` leaves it unlimited.
pub trait KeyFn: Clone + Send + Sync + 'static {
    /// The key of `req`.
    fn key(&self, req: &Request) -> Option<String>;
}

impl<F> KeyFn for F
where
    F: Fn(&Request) -> Option<String> + Clone + Send + Sync + 'static,
{
    fn key(&self, req: &Request) -> Option<String> {
        self(req)
    }
}

/// Keys by the peer's IP address, from axum's `ConnectInfo<SocketAddr>`
/// (serve with `into_make_service_with_connect_info::<SocketAddr>()`);
/// requests without it are not limited. Behind a proxy, key by the
/// forwarded address with a closure instead.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerIp;

impl KeyFn for PeerIp {
    fn key(&self, req: &Request) -> Option<String> {
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    }
}

/// The tower layer: limits every request by the key `K` picks.
#[derive(Clone, Debug)]
pub struct RateLimitLayer<K> {
    limiter: RateLimiter,
    key: K,
}

impl<K: KeyFn> RateLimitLayer<K> {
    /// A layer with its own limiter of `config` (system clock).
    #[must_use]
    pub fn new(config: RateLimitConfig, key: K) -> Self {
        Self::from_limiter(RateLimiter::new(config), key)
    }

    /// A layer counting in `limiter` (shared with other layers or handlers,
    /// or on a test clock).
    #[must_use]
    pub fn from_limiter(limiter: RateLimiter, key: K) -> Self {
        Self { limiter, key }
    }

    /// The limiter.
    #[must_use]
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

impl<S, K: KeyFn> Layer<S> for RateLimitLayer<K> {
    type Service = RateLimitService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            key: self.key.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimitService<S, K> {
    inner: S,
    limiter: RateLimiter,
    key: K,
}

impl<S, K> Service<Request> for RateLimitService<S, K>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    K: KeyFn,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let Some(key) = self.key.key(&req) else {
            return Box::pin(self.inner.call(req));
        };
        match self.limiter.check(&key) {
            Err(refused) => Box::pin(async move { Ok(refused.into_response()) }),
            Ok(rate) => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let mut res = fut.await?;
                    add_headers(res.headers_mut(), rate.to_headers());
                    Ok(res)
                })
            }
        }
    }
}
