//! [`Tid`]: a timestamp identifier.

use core::cmp::Ordering;
use core::hash::{Hash, Hasher};

use super::error::{Reason, SyntaxError, SyntaxKind};

const KIND: SyntaxKind = SyntaxKind::Tid;

/// Length of a TID string.
pub const TID_LEN: usize = 13;

/// The base32-sortable alphabet: digit value `i` is `ALPHABET[i]`.
const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// Largest timestamp a TID holds: 53 bits of microseconds.
pub const MAX_TID_TIMESTAMP: u64 = (1 << 53) - 1;
/// Largest clock id: 10 bits.
pub const MAX_TID_CLOCK_ID: u16 = (1 << 10) - 1;

/// A TID: a 64-bit value written as 13 characters of base32-sortable.
///
/// The value is `0 | 53-bit microseconds since the Unix epoch | 10-bit clock
/// id`. The string sorts the same way as the number. The grammar is
/// `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`.
///
/// `Tid` is `Copy`: it keeps the `u64` and its 13-byte text side by side so
/// that [`Tid::as_str`] and `AsRef<str>` work without allocating. Equality,
/// hashing and ordering follow the number.
///
/// The grammar admits a first character in `c..j`, which sets the top bit
/// that the spec reserves as zero; such TIDs parse (they are syntactically
/// valid) and [`Tid::timestamp_micros`] ignores that bit.
///
/// ```
/// use atproto_core::syntax::Tid;
/// let tid = Tid::from_parts(1_700_000_000_000_000, 42)?;
/// let back: Tid = tid.as_str().parse()?;
/// assert_eq!(back, tid);
/// assert_eq!(back.timestamp_micros(), 1_700_000_000_000_000);
/// assert_eq!(back.clock_id(), 42);
/// # Ok::<(), atproto_core::syntax::SyntaxError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Tid {
    value: u64,
    text: [u8; TID_LEN],
}

fn digit_value(c: u8) -> Option<u64> {
    match c {
        b'2'..=b'7' => Some(u64::from(c - b'2')),
        b'a'..=b'z' => Some(u64::from(c - b'a') + 6),
        _ => None,
    }
}

impl Tid {
    /// The TID for a raw 64-bit value. Every `u64` has a TID string.
    pub const fn from_u64(value: u64) -> Self {
        let mut text = [0u8; TID_LEN];
        let mut i = 0;
        while i < TID_LEN {
            let shift = 5 * (TID_LEN - 1 - i);
            text[i] = ALPHABET[((value >> shift) & 31) as usize];
            i += 1;
        }
        Tid { value, text }
    }

    /// The TID for a timestamp (microseconds since the Unix epoch, at most
    /// [`MAX_TID_TIMESTAMP`]) and a clock id (at most [`MAX_TID_CLOCK_ID`]).
    pub fn from_parts(timestamp_micros: u64, clock_id: u16) -> Result<Self, SyntaxError> {
        if timestamp_micros > MAX_TID_TIMESTAMP {
            return Err(SyntaxError::new(
                KIND,
                Reason::Invalid("timestamp does not fit in 53 bits"),
            ));
        }
        if clock_id > MAX_TID_CLOCK_ID {
            return Err(SyntaxError::new(
                KIND,
                Reason::OutOfRange {
                    field: "clock id",
                    value: u32::from(clock_id),
                },
            ));
        }
        Ok(Self::from_u64(
            (timestamp_micros << 10) | u64::from(clock_id),
        ))
    }

    /// The 64-bit value.
    pub const fn as_u64(&self) -> u64 {
        self.value
    }

    /// Microseconds since the Unix epoch (bits 62..10).
    pub const fn timestamp_micros(&self) -> u64 {
        (self.value >> 10) & MAX_TID_TIMESTAMP
    }

    /// The 10-bit clock id.
    pub const fn clock_id(&self) -> u16 {
        (self.value & MAX_TID_CLOCK_ID as u64) as u16
    }

    /// The 13-character string.
    pub fn as_str(&self) -> &str {
        // The text is always 13 ASCII bytes from ALPHABET.
        core::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// Whether `s` is a valid TID string.
    pub fn is_valid(s: &str) -> bool {
        Self::parse_str(s).is_ok()
    }

    fn parse_str(s: &str) -> Result<Self, SyntaxError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(SyntaxError::new(KIND, Reason::Empty));
        }
        let mut value: u64 = 0;
        for (i, &c) in b.iter().enumerate().take(TID_LEN) {
            let d = match digit_value(c) {
                Some(d) if i > 0 || d < 16 => d,
                _ => return Err(SyntaxError::invalid_char(KIND, s, i)),
            };
            value = (value << 5) | d;
        }
        if b.len() != TID_LEN {
            return Err(SyntaxError::new(
                KIND,
                Reason::Invalid("a TID is exactly 13 characters"),
            ));
        }
        Ok(Self::from_u64(value))
    }

    fn parse_string(s: alloc::string::String) -> Result<Self, SyntaxError> {
        Self::parse_str(&s)
    }

    /// The current time as a TID, from the process-wide monotonic generator
    /// (see [`TidGenerator`](super::TidGenerator)).
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        super::TidGenerator::new().next_tid()
    }
}

impl PartialEq for Tid {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Tid {}

impl Hash for Tid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl PartialOrd for Tid {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tid {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl core::fmt::Debug for Tid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Tid").field(&self.as_str()).finish()
    }
}

impl From<Tid> for u64 {
    fn from(tid: Tid) -> u64 {
        tid.value
    }
}

impl From<u64> for Tid {
    fn from(value: u64) -> Tid {
        Tid::from_u64(value)
    }
}

impl_string_traits!(Tid, KIND);
