//! [`Uri`]: a generic URI as allowed in Lexicon `uri` strings.

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::Uri;

/// Longest accepted URI, in bytes.
pub const MAX_URI_LEN: usize = 8192;

string_newtype!(
    /// A URI with a scheme: `^[a-z][a-z.-]{0,80}:[[:graph:]]+$`, at most
    /// [`MAX_URI_LEN`] bytes. Only the scheme is checked in detail; the rest
    /// is any printable ASCII without spaces.
    ///
    /// ```
    /// use atproto_core::syntax::Uri;
    /// assert!(Uri::is_valid("https://example.com/path?q=1#frag"));
    /// assert!(!Uri::is_valid("example.com"));
    /// ```
    Uri,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    check_len(KIND, s, MAX_URI_LEN)?;
    let b = s.as_bytes();
    if !b[0].is_ascii_lowercase() {
        return Err(SyntaxError::invalid_char(KIND, s, 0));
    }
    let mut i = 1;
    while i < b.len() && (b[i].is_ascii_lowercase() || b[i] == b'.' || b[i] == b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b':') => {}
        Some(_) => return Err(SyntaxError::invalid_char(KIND, s, i)),
        None => {
            return Err(SyntaxError::at(
                KIND,
                i,
                Reason::Expected("':' after the scheme"),
            ));
        }
    }
    if i > 81 {
        return Err(SyntaxError::at(
            KIND,
            0,
            Reason::Invalid("scheme longer than 81 bytes"),
        ));
    }
    if i + 1 == b.len() {
        return Err(SyntaxError::at(
            KIND,
            i + 1,
            Reason::Expected("something after the scheme"),
        ));
    }
    if let Some(j) = b[i + 1..].iter().position(|c| !c.is_ascii_graphic()) {
        return Err(SyntaxError::invalid_char(KIND, s, i + 1 + j));
    }
    Ok(())
}

impl Uri {
    /// The scheme, e.g. `"https"`.
    pub fn scheme(&self) -> &str {
        let s = self.as_str();
        s.split(':').next().unwrap_or(s)
    }
}
