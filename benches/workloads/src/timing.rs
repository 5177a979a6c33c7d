//! The stopwatch of every timing tool outside criterion: one timed call
//! ([`time`]), repeated runs ([`repeat`]) and their summary ([`Timings`]).
//!
//! ```
//! use atproto_workloads::timing::{Timings, repeat};
//! let (timings, sum) = repeat(3, || Ok::<u64, ()>((1..=100).sum()))?;
//! assert_eq!((timings.len(), sum), (3, 5050));
//! assert!(timings.best() <= timings.median());
//! # Ok::<(), ()>(())
//! ```

use std::time::{Duration, Instant};

/// Runs `f` once and returns its output with the time it took.
pub fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Runs `f` `runs` times (at least once), timing each run; returns the
/// timings and the output of the last run. The first error stops the runs.
pub fn repeat<T, E>(runs: usize, mut f: impl FnMut() -> Result<T, E>) -> Result<(Timings, T), E> {
    let mut samples = Vec::with_capacity(runs.max(1));
    let (out, elapsed) = time(&mut f);
    samples.push(elapsed);
    let mut last = out?;
    for _ in 1..runs {
        let (out, elapsed) = time(&mut f);
        samples.push(elapsed);
        last = out?;
    }
    Ok((Timings::from_samples(samples), last))
}

/// The durations of several runs of one operation, sorted from fastest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timings {
    sorted: Vec<Duration>,
}

impl Timings {
    /// Summarises `samples` (in any order).
    pub fn from_samples(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Timings { sorted: samples }
    }

    /// How many runs were timed.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no run was timed.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The fastest run (zero when nothing was timed).
    pub fn best(&self) -> Duration {
        self.quantile(0.0)
    }

    /// The median run: the upper middle one for an even count (zero when
    /// nothing was timed).
    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The run at quantile `q` (0.0 = fastest, 1.0 = slowest), nearest rank
    /// below (zero when nothing was timed). `quantile(0.99)` of 1,000 runs is
    /// the 991st fastest.
    pub fn quantile(&self, q: f64) -> Duration {
        let last = self.sorted.len().saturating_sub(1);
        // The float-to-index cast saturates; the clamp keeps q in range.
        let index = ((self.sorted.len() as f64 * q.clamp(0.0, 1.0)) as usize).min(last);
        self.sorted.get(index).copied().unwrap_or_default()
    }

    /// The sum of all runs.
    pub fn total(&self) -> Duration {
        self.sorted.iter().sum()
    }

    /// Operations per second when one run does `ops` of them, at the
    /// median run (0 when the median is zero).
    pub fn rate(&self, ops: u64) -> f64 {
        let secs = self.median().as_secs_f64();
        if secs > 0.0 { ops as f64 / secs } else { 0.0 }
    }
}

/// A duration in milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A duration in microseconds, for printing.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Throughput in MB/s (10^6 bytes) of `bytes` processed in `d` (0 for a zero
/// duration).
pub fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 {
        bytes as f64 / secs / 1e6
    } else {
        0.0
    }
}
