//! [`Nsid`]: a namespaced identifier naming a Lexicon schema.

use alloc::string::String;

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::Nsid;

/// Longest accepted NSID, in bytes (253 for the domain authority, 1 for the
/// dot and 63 for the name).
pub const MAX_NSID_LEN: usize = 317;

string_newtype!(
    /// A namespaced identifier: a reversed domain name (the authority)
    /// followed by a name, e.g. `app.bsky.feed.post`.
    ///
    /// At least three dot-separated segments of 1–63 bytes and at most
    /// [`MAX_NSID_LEN`] bytes. The first segment starts with a letter; the
    /// domain segments are `[a-zA-Z0-9-]` without a leading or trailing `-`;
    /// the name (last segment) is a letter followed by `[a-zA-Z0-9]`. The
    /// authority is case-insensitive, the name case-sensitive.
    ///
    /// ```
    /// use atproto_core::syntax::Nsid;
    /// let nsid: Nsid = "app.bsky.feed.post".parse()?;
    /// assert_eq!(nsid.authority(), "feed.bsky.app");
    /// assert_eq!(nsid.name(), "post");
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    Nsid,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    check_len(KIND, s, MAX_NSID_LEN)?;
    let b = s.as_bytes();
    if let Some(i) = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
    {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    let total = s.split('.').count();
    if total < 3 {
        return Err(SyntaxError::new(
            KIND,
            Reason::TooFewSegments {
                found: total,
                min: 3,
            },
        ));
    }
    let mut start = 0;
    for (idx, seg) in s.split('.').enumerate() {
        let number = idx + 1;
        let sb = seg.as_bytes();
        if sb.is_empty() {
            return Err(SyntaxError::at(
                KIND,
                start,
                Reason::Invalid("empty segment"),
            ));
        }
        if sb.len() > 63 {
            return Err(SyntaxError::at(
                KIND,
                start,
                Reason::LabelTooLong {
                    label: number,
                    max: 63,
                },
            ));
        }
        let first_must_be_letter = number == 1 || number == total;
        if first_must_be_letter && !sb[0].is_ascii_alphabetic() {
            return Err(SyntaxError::at(
                KIND,
                start,
                Reason::Invalid(if number == 1 {
                    "first segment must start with a letter"
                } else {
                    "name must start with a letter"
                }),
            ));
        }
        if number == total {
            if let Some(j) = sb.iter().position(|&c| c == b'-') {
                return Err(SyntaxError::invalid_char(KIND, s, start + j));
            }
        } else if sb[0] == b'-' {
            return Err(SyntaxError::at(
                KIND,
                start,
                Reason::Invalid("segment starts with '-'"),
            ));
        } else if sb[sb.len() - 1] == b'-' {
            return Err(SyntaxError::at(
                KIND,
                start + sb.len() - 1,
                Reason::Invalid("segment ends with '-'"),
            ));
        }
        start += sb.len() + 1;
    }
    Ok(())
}

impl Nsid {
    /// The name: the last segment, e.g. `"post"` (case-sensitive).
    pub fn name(&self) -> &str {
        let s = self.as_str();
        s.rsplit('.').next().unwrap_or(s)
    }

    /// The domain segments before the name, as written: `"app.bsky.feed"`.
    pub fn authority_segments(&self) -> &str {
        let s = self.as_str();
        &s[..s.len() - self.name().len() - 1]
    }

    /// The authority as a lowercase domain name (segments reversed), e.g.
    /// `"feed.bsky.app"` for `app.bsky.feed.post`.
    pub fn authority(&self) -> String {
        let mut out = String::with_capacity(self.as_str().len());
        for (i, seg) in self.authority_segments().rsplit('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(seg);
        }
        out.make_ascii_lowercase();
        out
    }

    /// The dot-separated segments, in order.
    pub fn segments(&self) -> core::str::Split<'_, char> {
        self.as_str().split('.')
    }
}
