//! [`RecordKey`]: the key of a record within a collection.

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::RecordKey;

/// Longest accepted record key, in bytes.
pub const MAX_RECORD_KEY_LEN: usize = 512;

string_newtype!(
    /// A record key: 1–[`MAX_RECORD_KEY_LEN`] bytes of `[a-zA-Z0-9_~.:-]`,
    /// other than `.` and `..`.
    ///
    /// ```
    /// use atproto_core::syntax::RecordKey;
    /// assert!(RecordKey::is_valid("self"));
    /// assert!(RecordKey::is_valid("3jzfcijpj2z2a"));
    /// assert!(!RecordKey::is_valid(".."));
    /// ```
    RecordKey,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    check_len(KIND, s, MAX_RECORD_KEY_LEN)?;
    if let Some(i) = s
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'~' | b'.' | b':' | b'-')))
    {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    if s == "." || s == ".." {
        return Err(SyntaxError::at(
            KIND,
            0,
            Reason::Invalid("\".\" and \"..\" are not record keys"),
        ));
    }
    Ok(())
}
