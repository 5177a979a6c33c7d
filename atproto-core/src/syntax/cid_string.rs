//! [`CidString`]: a CID in its string form.

use alloc::string::{String, ToString};

use super::error::{Reason, SyntaxError, SyntaxKind};

const KIND: SyntaxKind = SyntaxKind::Cid;

/// Shortest accepted CID string, in bytes.
pub const MIN_CID_STRING_LEN: usize = 8;
/// Longest accepted CID string, in bytes.
pub const MAX_CID_STRING_LEN: usize = 256;

string_newtype!(
    /// A CID string, checked at the string level only:
    /// [`MIN_CID_STRING_LEN`]–[`MAX_CID_STRING_LEN`] bytes of
    /// `[a-zA-Z0-9+=]`, not a legacy CIDv0 (`Qm…`). Any multibase prefix
    /// passes; [`CidString::to_cid`] does the real decode.
    ///
    /// ```
    /// use atproto_core::syntax::CidString;
    /// let s: CidString = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".parse()?;
    /// assert_eq!(s.to_cid()?.version(), atproto_core::cid::Version::V1);
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    CidString,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.len() < MIN_CID_STRING_LEN {
        return Err(SyntaxError::new(
            KIND,
            Reason::TooShort {
                len: s.len(),
                min: MIN_CID_STRING_LEN,
            },
        ));
    }
    if s.len() > MAX_CID_STRING_LEN {
        return Err(SyntaxError::new(
            KIND,
            Reason::TooLong {
                len: s.len(),
                max: MAX_CID_STRING_LEN,
            },
        ));
    }
    if let Some(i) = s
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'+' || c == b'='))
    {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    if s.starts_with("Qm") {
        return Err(SyntaxError::at(
            KIND,
            0,
            Reason::Invalid("CIDv0 (\"Qm...\") is not supported"),
        ));
    }
    Ok(())
}

impl CidString {
    /// Decodes the string into a [`cid::Cid`]: multibase, then version,
    /// codec and multihash, with no bytes left over.
    pub fn to_cid(&self) -> Result<cid::Cid, SyntaxError> {
        let fail = |msg: String| SyntaxError::new(KIND, Reason::Cid(msg));
        let (_, bytes) = multibase::decode(self.as_str()).map_err(|e| fail(e.to_string()))?;
        let mut rest = bytes.as_slice();
        let cid = cid::Cid::read_bytes(&mut rest).map_err(|e| fail(e.to_string()))?;
        if !rest.is_empty() {
            return Err(fail(alloc::format!("{} trailing bytes", rest.len())));
        }
        Ok(cid)
    }
}

impl CidString {
    /// The string form of a CID (base32 for CIDv1). Fails for a CIDv0, whose
    /// `Qm…` string is not accepted.
    pub fn from_cid(cid: &cid::Cid) -> Result<Self, SyntaxError> {
        Self::parse_string(cid.to_string())
    }
}
