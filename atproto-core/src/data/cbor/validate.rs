//! Validate-only strict DAG-CBOR: the decoder's checks without building a value.

use cid::Cid;

use super::error::{CborError, CborErrorKind as K};
use super::scan::{Scanner, Sink};
use crate::data::limits::Limits;

/// Checks that `bytes` is exactly one canonical DAG-CBOR value of the ATProto
/// data model under `limits`, without building it.
///
/// The checks are those of [`decode_with`](super::decode_with), made by the
/// same scanner (shortest-form heads, definite lengths, no floats, text keys
/// in canonical order without duplicates, valid UTF-8, tag 42 only holding
/// `0x00 ‖ CIDv1`, `$type` a non-empty string, well-formed blob maps, no
/// trailing bytes, every [`Limits`] bound), so `validate(b, l)` is `Ok`
/// exactly when `decode_with(b, l)` is, and fails with the same error at the
/// same offset. It allocates nothing.
///
/// # Errors
/// The first problem, as [`decode_with`](super::decode_with) reports it.
#[inline]
pub fn validate(bytes: &[u8], limits: &Limits) -> Result<(), CborError> {
    Scanner::run(bytes, limits, Nothing)
}

/// Checks that `bytes` is one record: a canonical DAG-CBOR **map** of the
/// ATProto data model under `limits` (see [`validate`]). Use
/// [`Limits::RECORD`] for repository records.
///
/// # Errors
/// [`CborErrorKind::InvalidType`](K::InvalidType) at offset 0 when the
/// top-level item is not a map (checked on the first byte, before anything
/// else, [`TooLarge`](K::TooLarge) included); otherwise as [`validate`]
/// (so empty input is [`UnexpectedEof`](K::UnexpectedEof) at 0).
#[inline]
pub fn validate_record(bytes: &[u8], limits: &Limits) -> Result<(), CborError> {
    if bytes.first().is_some_and(|b| b >> 5 != 5) {
        return Err(CborError::new(K::InvalidType, 0));
    }
    validate(bytes, limits)
}

/// Whether `s` is UTF-8. Record strings and keys are nearly always ASCII,
/// which a word-at-a-time scan settles faster than a full UTF-8 check.
#[inline]
fn is_utf8(s: &[u8]) -> bool {
    s.is_ascii() || core::str::from_utf8(s).is_ok()
}

/// The [`Sink`] that builds nothing: every method is a no-op that
/// monomorphisation removes, leaving the scanner's checks alone.
struct Nothing;

impl<'a> Sink<'a> for Nothing {
    type Out = ();
    type Text = ();
    type Seq = ();
    type Map = ();

    #[inline]
    fn text(s: &'a [u8]) -> Option<()> {
        is_utf8(s).then_some(())
    }

    #[inline]
    fn null(&self) {}
    #[inline]
    fn bool(&self, _: bool) {}
    #[inline]
    fn int(&self, _: i64) {}
    #[inline]
    fn bytes(&self, _: usize, _: &'a [u8]) {}
    #[inline]
    fn string(&self, (): ()) {}
    #[inline]
    fn link(&self, _: Cid) {}
    #[inline]
    fn seq(&self, _: usize) {}
    #[inline]
    fn push(&self, (): &mut (), (): ()) {}
    #[inline]
    fn end_seq(&self, (): ()) {}
    #[inline]
    fn map(&self, _: usize) {}
    #[inline]
    fn insert(&self, (): &mut (), (): (), (): ()) {}
    #[inline]
    fn end_map(&self, (): (), _: bool) {}
}
