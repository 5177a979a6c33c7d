//! [`Handle`]: a DNS-name handle.

use alloc::borrow::Cow;

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::Handle;

/// Longest accepted handle, in bytes.
pub const MAX_HANDLE_LEN: usize = 253;

/// Top-level domains that pass handle syntax but must never be resolved.
pub const DISALLOWED_TLDS: &[&str] = &[
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];

string_newtype!(
    /// A handle: a DNS hostname with at least two labels.
    ///
    /// Each label is 1–63 bytes of `[a-zA-Z0-9-]` that neither starts nor
    /// ends with `-`; the last label (TLD) starts with a letter; the whole
    /// handle is at most [`MAX_HANDLE_LEN`] bytes. Handles are
    /// case-insensitive: the original text is kept, [`Handle::normalized`]
    /// lowercases it. Equality and ordering compare the text as written.
    ///
    /// ```
    /// use atproto_core::syntax::Handle;
    /// let h: Handle = "Alice.Bsky.Social".parse()?;
    /// assert_eq!(h.normalized().as_str(), "alice.bsky.social");
    /// assert!("alice".parse::<Handle>().is_err());
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    Handle,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    check_len(KIND, s, MAX_HANDLE_LEN)?;
    let b = s.as_bytes();
    if let Some(i) = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
    {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    let mut start = 0;
    let mut count = 0;
    for label in s.split('.') {
        count += 1;
        check_label(label, start, count)?;
        start += label.len() + 1;
    }
    if count < 2 {
        return Err(SyntaxError::new(
            KIND,
            Reason::TooFewSegments {
                found: count,
                min: 2,
            },
        ));
    }
    let tld_start = s.rfind('.').map_or(0, |i| i + 1);
    if !b[tld_start].is_ascii_alphabetic() {
        return Err(SyntaxError::at(
            KIND,
            tld_start,
            Reason::Invalid("top-level domain must start with a letter"),
        ));
    }
    Ok(())
}

/// One DNS label (already known to be `[a-zA-Z0-9-]*`) starting at byte `start`.
fn check_label(label: &str, start: usize, number: usize) -> Result<(), SyntaxError> {
    let b = label.as_bytes();
    if b.is_empty() {
        return Err(SyntaxError::at(KIND, start, Reason::Invalid("empty label")));
    }
    if b.len() > 63 {
        return Err(SyntaxError::at(
            KIND,
            start,
            Reason::LabelTooLong {
                label: number,
                max: 63,
            },
        ));
    }
    if b[0] == b'-' {
        return Err(SyntaxError::at(
            KIND,
            start,
            Reason::Invalid("label starts with '-'"),
        ));
    }
    if b[b.len() - 1] == b'-' {
        return Err(SyntaxError::at(
            KIND,
            start + b.len() - 1,
            Reason::Invalid("label ends with '-'"),
        ));
    }
    Ok(())
}

impl Handle {
    /// The sentinel `handle.invalid`, shown when a DID's handle does not verify.
    pub const INVALID: Handle = Handle(Cow::Borrowed("handle.invalid"));

    /// The lowercase (normalised) form of this handle.
    pub fn normalized(&self) -> Handle {
        if self.as_str().bytes().any(|c| c.is_ascii_uppercase()) {
            Handle(Cow::Owned(self.as_str().to_ascii_lowercase()))
        } else {
            self.clone()
        }
    }

    /// Lowercases this handle in place of the original text.
    pub fn into_normalized(self) -> Handle {
        match self.0 {
            Cow::Owned(mut s) => {
                s.make_ascii_lowercase();
                Handle(Cow::Owned(s))
            }
            Cow::Borrowed(_) => self.normalized(),
        }
    }

    /// The last label, e.g. `"social"`, as written.
    pub fn tld(&self) -> &str {
        let s = self.as_str();
        s.rsplit('.').next().unwrap_or(s)
    }

    /// Whether the TLD is one of [`DISALLOWED_TLDS`] (compared case-insensitively).
    /// Such handles are syntactically valid but must not be resolved.
    pub fn is_disallowed_tld(&self) -> bool {
        let tld = self.tld();
        DISALLOWED_TLDS.iter().any(|d| d.eq_ignore_ascii_case(tld))
    }

    /// Whether this is the `handle.invalid` sentinel (case-insensitively).
    pub fn is_invalid_sentinel(&self) -> bool {
        self.as_str().eq_ignore_ascii_case("handle.invalid")
    }
}
