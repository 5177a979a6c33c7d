//! When a failed call is tried again, and how long to wait first.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::transport::{BoxFuture, TransportError};

use super::error::ClientError;

/// How many times a call is attempted and how long to wait between
/// attempts: exponential backoff from `base_delay`, capped at
/// `max_delay`, shortened by up to `jitter` of itself at random so that
/// clients that failed together do not come back together). A server's
/// `Retry-After` replaces the backoff, capped at `max_delay` too.
///
/// What is retried:
///
/// | failure | query (`GET`) | procedure (`POST`) |
/// |---|---|---|
/// | 429 RateLimitExceeded | yes | yes |
/// | 503 NotEnoughResources | yes | yes |
/// | 502 UpstreamFailure, 504 UpstreamTimeout | yes | no |
/// | timeout, connection failure | yes | no |
/// | any other status | no | no |
///
/// A query is idempotent, so it is retried on anything transient. A
/// procedure may have been carried out even though its answer was lost (a
/// 502 or 504 from a proxy after the PDS wrote, a connection cut after the
/// request went out), and doing it twice can create two records; it is
/// retried only on 429 and 503, the answers of a server (or its rate
/// limiter) that turned the request away without processing it. A body
/// held as [`bytes::Bytes`] is sent again unchanged; a streamed upload
/// ([`Upload`](super::Upload)) cannot be, so a call with one is never
/// retried. A streamed response is retried only until its 2xx head arrives.
///
/// Time comes from a [`Timer`], [`TokioTimer`] unless set, so that tests can
/// record the waits instead of sleeping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` (or `0`) never retries.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for each later one.
    pub base_delay: Duration,
    /// The longest wait, for the backoff and for a server's `Retry-After`.
    pub max_delay: Duration,
    /// The fraction (0 to 1) of each backoff wait that may be taken off at
    /// random. Not applied to `Retry-After`.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// Three attempts, 250 ms doubling, at most 10 s, 20 % jitter.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before attempt `attempt + 1` (after `attempt` failures,
    /// counting from 1): `base_delay · 2^(attempt-1)`, at most `max_delay`,
    /// less `jitter · random` of itself, where `random` is in `[0, 1]`.
    pub fn backoff(&self, attempt: u32, random: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self
            .base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        let cut = (self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0)).min(1.0);
        full.mul_f64(1.0 - cut)
    }

    /// The wait before trying again after `attempt` attempts ended in
    /// `error`, or `None` if the call should fail now. `idempotent` is true
    /// for queries; `now` is the time `Retry-After` dates are measured from.
    pub fn retry_delay(
        &self,
        error: &ClientError,
        attempt: u32,
        idempotent: bool,
        now: SystemTime,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let retry = match error {
            ClientError::Xrpc(e) => match e.status {
                429 | 503 => true,
                502 | 504 => idempotent,
                _ => false,
            },
            ClientError::Transport(TransportError::Timeout { .. })
            | ClientError::Transport(TransportError::Connect { .. }) => idempotent,
            _ => false,
        };
        if !retry {
            return None;
        }
        let server = error.xrpc().and_then(|e| e.retry_after);
        Some(match server {
            Some(after) => after.delay(now).min(self.max_delay),
            None => self.backoff(attempt, random_unit()),
        })
    }
}

/// A number in `[0, 1)` from the OS generator (0 if it fails: no jitter).
fn random_unit() -> f64 {
    getrandom::u64().map_or(0.0, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}

/// The client's clock: waits between attempts, and the time `Retry-After`
/// dates are measured from.
pub trait Timer: Send + Sync {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// The current time.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<T: Timer + ?Sized> Timer for Arc<T> {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).sleep(duration)
    }

    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The [`Timer`] of the tokio runtime and the system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
