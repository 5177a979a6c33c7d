//! Jittered exponential backoff between connection attempts.

use core::time::Duration;

/// The delays between reconnection attempts: attempt `n` (from 0) waits a
/// uniformly random time in `[b/2, b]` with `b = min(min × 2ⁿ, max)`
/// ("equal jitter": never less than half the step, so a crowd of consumers
/// spreads out without any of them retrying at once).
/// [`reset`](Backoff::reset) starts over at `min` (the consumer does so
/// after a connection that stayed up for
/// [`ConsumerConfig::healthy_after`](super::ConsumerConfig::healthy_after)).
#[derive(Clone, Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// A backoff from `min` to `max` (`max` is raised to `min` if lower),
    /// its jitter drawn from a generator seeded with `seed` (the same seed
    /// gives the same delays).
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
            rng: SplitMix64(seed),
        }
    }

    /// The step before jitter for the next attempt: `min × 2ⁿ`, at most `max`.
    pub fn step(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt, then one step further.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step();
        self.attempt = self.attempt.saturating_add(1).min(31);
        let half = step / 2;
        let spread = u64::try_from((step - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = match spread.checked_add(1) {
            Some(n) => self.rng.next() % n,
            None => self.rng.next(),
        };
        half + Duration::from_nanos(jitter)
    }

    /// Back to `min` for the next attempt.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// SplitMix64: enough randomness for jitter, no dependency.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A seed that differs between processes and consumers (the standard
/// library's randomly keyed hasher), for the default configuration.
pub(crate) fn random_seed() -> u64 {
    use core::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_jittered_within_bounds_and_reset() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(1000), 7);
        let steps = [100, 200, 400, 800, 1000, 1000, 1000];
        let mut delays = std::vec::Vec::new();
        for step in steps {
            assert_eq!(b.step(), ms(step));
            let d = b.next_delay();
            assert!(d >= ms(step) / 2 && d <= ms(step), "{d:?} for step {step}");
            delays.push(d);
        }
        assert!(
            delays.windows(2).any(|w| w[0] * 2 != w[1]),
            "jittered, not exact doublings"
        );
        b.reset();
        assert_eq!(b.step(), ms(100));
        let mut again = Backoff::new(ms(100), ms(1000), 7);
        let replay: std::vec::Vec<_> = steps.iter().map(|_| again.next_delay()).collect();
        assert_eq!(replay, delays, "the same seed gives the same delays");
        // Many attempts never overflow.
        for _ in 0..100 {
            assert!(b.next_delay() <= ms(1000));
        }
    }
}
