//! [`TidGenerator`]: monotonic TIDs from the system clock (std only).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::tid::{MAX_TID_CLOCK_ID, MAX_TID_TIMESTAMP, Tid};

/// The last TID value handed out in this process, by any generator.
static LAST: AtomicU64 = AtomicU64::new(0);

/// Generates TIDs from the system clock, never repeating within the process.
///
/// All generators share one process-wide "last value": each new TID is
/// `max(now_micros << 10 | clock_id, last + 1)`, installed with a
/// compare-exchange. So TIDs are unique across threads and strictly
/// increasing in the order they are handed out, even if the clock stalls or
/// steps back. The default clock id is chosen once per process from
/// std's randomly keyed hasher.
///
/// ```
/// use atproto_core::syntax::{Tid, TidGenerator};
/// let tids = TidGenerator::new();
/// let a = tids.next_tid();
/// let b = Tid::now();
/// assert!(a < b);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TidGenerator {
    clock_id: u16,
}

fn process_clock_id() -> u16 {
    static CLOCK_ID: OnceLock<u16> = OnceLock::new();
    *CLOCK_ID.get_or_init(|| {
        let seed = (
            now_micros(),
            std::process::id(),
            &LAST as *const AtomicU64 as usize,
        );
        (RandomState::new().hash_one(seed) & u64::from(MAX_TID_CLOCK_ID)) as u16
    })
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .min(MAX_TID_TIMESTAMP)
}

impl TidGenerator {
    /// A generator using this process's clock id.
    pub fn new() -> Self {
        Self {
            clock_id: process_clock_id(),
        }
    }

    /// A generator with a chosen clock id (only its low 10 bits are used).
    /// Uniqueness within the process still holds; across processes it is
    /// the caller's job to pick distinct ids.
    pub fn with_clock_id(clock_id: u16) -> Self {
        Self {
            clock_id: clock_id & MAX_TID_CLOCK_ID,
        }
    }

    /// The clock id this generator puts in the low 10 bits.
    pub fn clock_id(&self) -> u16 {
        self.clock_id
    }

    /// The next TID: the current time, or one more than the last TID handed
    /// out in this process if the clock has not moved past it.
    pub fn next_tid(&self) -> Tid {
        let mut last = LAST.load(Ordering::Acquire);
        loop {
            let candidate = (now_micros() << 10) | u64::from(self.clock_id);
            let next = candidate.max(last.saturating_add(1));
            match LAST.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Tid::from_u64(next),
                Err(actual) => last = actual,
            }
        }
    }
}

impl Default for TidGenerator {
    fn default() -> Self {
        Self::new()
    }
}
