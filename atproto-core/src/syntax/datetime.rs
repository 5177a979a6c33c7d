//! [`Datetime`]: an RFC 3339 / ISO 8601 timestamp as used in ATProto data.

use alloc::string::String;
use core::cmp::Ordering;
use core::fmt::Write as _;
use core::hash::{Hash, Hasher};

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::Datetime;

/// Longest accepted datetime string, in bytes.
pub const MAX_DATETIME_LEN: usize = 64;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A datetime: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
///
/// Parsing (`FromStr`, `TryFrom`, serde) checks the grammar (uppercase `T`
/// and `Z`, exact zero padding, a timezone, no `-00:00`, at most
/// [`MAX_DATETIME_LEN`] bytes) and the meaning: a real calendar date
/// (proleptic Gregorian, leap years included), hour ≤ 23, minute ≤ 59,
/// second ≤ 60 (leap second), offset ≤ 23:59, and the instant, once the
/// offset is applied, not before `0000-01-01T00:00:00Z`.
/// [`Datetime::check_syntax`] runs only the grammar check.
///
/// The original text is kept and is what `Display`, serde, equality,
/// hashing and ordering use, so a value round-trips byte for byte. To
/// compare instants, use [`Datetime::cmp_instant`] or
/// [`Datetime::timestamp_micros`].
///
/// ```
/// use atproto_core::syntax::Datetime;
/// let a: Datetime = "1985-04-12T23:20:50.123Z".parse()?;
/// let b: Datetime = "1985-04-12T16:20:50.123-07:00".parse()?;
/// assert_ne!(a, b);
/// assert_eq!(a.cmp_instant(&b), core::cmp::Ordering::Equal);
/// assert!("2023-02-29T00:00:00Z".parse::<Datetime>().is_err());
/// # Ok::<(), atproto_core::syntax::SyntaxError>(())
/// ```
#[derive(Clone)]
pub struct Datetime {
    text: String,
    fields: Fields,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fields {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    /// Minutes east of UTC.
    offset_minutes: i16,
    /// Byte offset of the timezone designator (for error messages).
    tz_at: usize,
    offset_hour: u8,
    offset_minute: u8,
}

/// The grammar check: digits where digits go, the separators, the timezone.
fn scan(s: &str) -> Result<Fields, SyntaxError> {
    check_len(KIND, s, MAX_DATETIME_LEN)?;
    let b = s.as_bytes();
    let digits = |start: usize, n: usize| -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for i in start..start + n {
            match b.get(i) {
                Some(c) if c.is_ascii_digit() => v = v * 10 + u32::from(c - b'0'),
                Some(_) => return Err(SyntaxError::invalid_char(KIND, s, i)),
                None => return Err(SyntaxError::at(KIND, i, Reason::Expected("a digit"))),
            }
        }
        Ok(v)
    };
    let lit = |i: usize, want: u8, what: &'static str| -> Result<(), SyntaxError> {
        match b.get(i) {
            Some(&c) if c == want => Ok(()),
            Some(_) => Err(SyntaxError::invalid_char(KIND, s, i)),
            None => Err(SyntaxError::at(KIND, i, Reason::Expected(what))),
        }
    };
    let year = digits(0, 4)?;
    lit(4, b'-', "'-'")?;
    let month = digits(5, 2)?;
    lit(7, b'-', "'-'")?;
    let day = digits(8, 2)?;
    lit(10, b'T', "'T'")?;
    let hour = digits(11, 2)?;
    lit(13, b':', "':'")?;
    let minute = digits(14, 2)?;
    lit(16, b':', "':'")?;
    let second = digits(17, 2)?;
    let mut i = 19;
    let mut nanosecond = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 9 {
                nanosecond = nanosecond * 10 + u32::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(match b.get(i) {
                Some(_) => SyntaxError::invalid_char(KIND, s, i),
                None => SyntaxError::at(KIND, i, Reason::Expected("fraction digits")),
            });
        }
        for _ in (i - start)..9 {
            nanosecond *= 10;
        }
    }
    let tz_at = i;
    let (offset_hour, offset_minute, negative) = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            (0, 0, false)
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(i + 1, 2)?;
            lit(i + 3, b':', "':' in the offset")?;
            let om = digits(i + 4, 2)?;
            if sign == b'-' && oh == 0 && om == 0 {
                return Err(SyntaxError::at(
                    KIND,
                    i,
                    Reason::Invalid("offset \"-00:00\" (unknown local offset) is not allowed"),
                ));
            }
            i += 6;
            (oh, om, sign == b'-')
        }
        Some(_) => return Err(SyntaxError::invalid_char(KIND, s, i)),
        None => {
            return Err(SyntaxError::at(
                KIND,
                i,
                Reason::Expected("a timezone ('Z' or '+HH:MM')"),
            ));
        }
    };
    if i != b.len() {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    // Every value is at most 4 decimal digits, so the narrowing casts are exact.
    let offset = (offset_hour * 60 + offset_minute) as i16;
    Ok(Fields {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        nanosecond,
        offset_minutes: if negative { -offset } else { offset },
        tz_at,
        offset_hour: offset_hour as u8,
        offset_minute: offset_minute as u8,
    })
}

const fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

const fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date for a count of days from 1970-01-01: (year, month, day).
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Microseconds from the Unix epoch to 0000-01-01T00:00:00Z.
const MIN_TIMESTAMP_MICROS: i64 = days_from_civil(0, 1, 1) * MICROS_PER_DAY;

impl Fields {
    fn timestamp_micros(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let secs =
            (i64::from(self.hour) * 60 + i64::from(self.minute)) * 60 + i64::from(self.second);
        days * MICROS_PER_DAY + secs * 1_000_000 + i64::from(self.nanosecond / 1000)
            - i64::from(self.offset_minutes) * 60_000_000
    }

    /// The semantic check.
    fn check(&self) -> Result<(), SyntaxError> {
        let range = |at: usize, field: &'static str, value: u8, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(SyntaxError::at(
                    KIND,
                    at,
                    Reason::OutOfRange {
                        field,
                        value: u32::from(value),
                    },
                ))
            }
        };
        range(5, "month", self.month, (1..=12).contains(&self.month))?;
        range(8, "day", self.day, self.day >= 1)?;
        if self.day > days_in_month(i64::from(self.year), self.month) {
            return Err(SyntaxError::at(
                KIND,
                8,
                Reason::NoSuchDay {
                    day: self.day,
                    month: self.month,
                    year: self.year,
                },
            ));
        }
        range(11, "hour", self.hour, self.hour <= 23)?;
        range(14, "minute", self.minute, self.minute <= 59)?;
        range(17, "second", self.second, self.second <= 60)?;
        range(
            self.tz_at + 1,
            "offset hour",
            self.offset_hour,
            self.offset_hour <= 23,
        )?;
        range(
            self.tz_at + 4,
            "offset minute",
            self.offset_minute,
            self.offset_minute <= 59,
        )?;
        if self.timestamp_micros() < MIN_TIMESTAMP_MICROS {
            return Err(SyntaxError::at(
                KIND,
                self.tz_at,
                Reason::Invalid("instant is before year 0000 once the offset is applied"),
            ));
        }
        Ok(())
    }
}

impl Datetime {
    /// Checks only the grammar (digit positions, separators, timezone form),
    /// not whether the date and time exist. `FromStr` does both.
    pub fn check_syntax(s: &str) -> Result<(), SyntaxError> {
        scan(s).map(|_| ())
    }

    /// Whether `s` is a valid datetime (the full check of `FromStr`).
    pub fn is_valid(s: &str) -> bool {
        scan(s).and_then(|f| f.check()).is_ok()
    }

    fn parse_str(s: &str) -> Result<Self, SyntaxError> {
        let fields = scan(s)?;
        fields.check()?;
        Ok(Self {
            text: s.into(),
            fields,
        })
    }

    fn parse_string(s: String) -> Result<Self, SyntaxError> {
        let fields = scan(&s)?;
        fields.check()?;
        Ok(Self { text: s, fields })
    }

    /// The original text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The original text, owned.
    pub fn into_string(self) -> String {
        self.text
    }

    /// Year as written (local to the offset), 0–9999.
    pub fn year(&self) -> u16 {
        self.fields.year
    }

    /// Month as written, 1–12.
    pub fn month(&self) -> u8 {
        self.fields.month
    }

    /// Day of month as written, 1–31.
    pub fn day(&self) -> u8 {
        self.fields.day
    }

    /// Hour as written, 0–23.
    pub fn hour(&self) -> u8 {
        self.fields.hour
    }

    /// Minute as written, 0–59.
    pub fn minute(&self) -> u8 {
        self.fields.minute
    }

    /// Second as written, 0–60 (60 is a leap second).
    pub fn second(&self) -> u8 {
        self.fields.second
    }

    /// The fraction of the second in nanoseconds (digits past the ninth are dropped).
    pub fn nanosecond(&self) -> u32 {
        self.fields.nanosecond
    }

    /// The offset from UTC in minutes (east positive); 0 for `Z`.
    pub fn offset_minutes(&self) -> i16 {
        self.fields.offset_minutes
    }

    /// Microseconds since the Unix epoch (UTC), truncating finer digits. A
    /// leap second counts as the first second of the next minute. Negative
    /// before 1970.
    pub fn timestamp_micros(&self) -> i64 {
        self.fields.timestamp_micros()
    }

    /// Compares the instants (after applying offsets), to nanosecond precision.
    pub fn cmp_instant(&self, other: &Self) -> Ordering {
        let key = |d: &Self| (d.timestamp_micros(), d.fields.nanosecond % 1000);
        key(self).cmp(&key(other))
    }

    /// The UTC datetime for microseconds since the Unix epoch, written as
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (or with six fraction digits when the
    /// value is not a whole millisecond). Fails outside years 0000–9999.
    pub fn from_timestamp_micros(micros: i64) -> Result<Self, SyntaxError> {
        let days = micros.div_euclid(MICROS_PER_DAY);
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return Err(SyntaxError::new(
                KIND,
                Reason::Invalid("year outside 0000-9999"),
            ));
        }
        let secs = in_day / 1_000_000;
        let frac = in_day % 1_000_000;
        let mut text = String::with_capacity(27);
        let _ = write!(
            text,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        let _ = if frac % 1000 == 0 {
            write!(text, ".{:03}Z", frac / 1000)
        } else {
            write!(text, ".{frac:06}Z")
        };
        Self::parse_string(text)
    }

    /// The current time (UTC, microsecond precision).
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        // Only a system clock outside years 0000-9999 falls back to the epoch.
        Self::from_timestamp_micros(micros).unwrap_or_else(|_| Self {
            text: String::from("1970-01-01T00:00:00.000Z"),
            fields: Fields {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                nanosecond: 0,
                offset_minutes: 0,
                tz_at: 23,
                offset_hour: 0,
                offset_minute: 0,
            },
        })
    }
}

impl PartialEq for Datetime {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Datetime {}

impl Hash for Datetime {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Datetime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Datetime {
    /// Compares the text (for `Z` datetimes with equal precision this is
    /// chronological); see [`Datetime::cmp_instant`] for instants.
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl core::fmt::Debug for Datetime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Datetime").field(&self.text).finish()
    }
}

impl From<Datetime> for String {
    fn from(d: Datetime) -> String {
        d.text
    }
}

impl_string_traits!(Datetime, KIND);
