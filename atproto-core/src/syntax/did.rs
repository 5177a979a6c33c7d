//! [`Did`]: a decentralized identifier.

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::Did;

/// Longest accepted DID, in bytes.
pub const MAX_DID_LEN: usize = 2048;

string_newtype!(
    /// A DID with valid generic syntax: `did:<method>:<identifier>`.
    ///
    /// Grammar: `^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$`, at most
    /// [`MAX_DID_LEN`] bytes, case-sensitive. Any method is accepted here;
    /// whether the method is supported, and whether the DID resolves, are
    /// separate questions. [`Did::check_plc_form`] checks the stricter
    /// `did:plc` form.
    ///
    /// ```
    /// use atproto_core::syntax::Did;
    /// let did: Did = "did:plc:7iza6de2dwap2sbkpav7c6c6".parse()?;
    /// assert_eq!(did.method(), "plc");
    /// assert!(did.is_plc());
    /// assert!("did:plc:xyz#frag".parse::<Did>().is_err());
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    Did,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    check_len(KIND, s, MAX_DID_LEN)?;
    let b = s.as_bytes();
    for (i, want) in b"did:".iter().enumerate() {
        match b.get(i) {
            Some(c) if c == want => {}
            Some(_) => return Err(SyntaxError::invalid_char(KIND, s, i)),
            None => {
                return Err(SyntaxError::at(
                    KIND,
                    i,
                    Reason::Expected("\"did:\" prefix"),
                ));
            }
        }
    }
    let mut i = 4;
    while i < b.len() && b[i].is_ascii_lowercase() {
        i += 1;
    }
    if i == 4 {
        return Err(if i == b.len() {
            SyntaxError::at(KIND, i, Reason::Expected("a method name"))
        } else {
            SyntaxError::invalid_char(KIND, s, i)
        });
    }
    match b.get(i) {
        Some(b':') => {}
        Some(_) => return Err(SyntaxError::invalid_char(KIND, s, i)),
        None => {
            return Err(SyntaxError::at(
                KIND,
                i,
                Reason::Expected("':' after the method"),
            ));
        }
    }
    let id_start = i + 1;
    if id_start == b.len() {
        return Err(SyntaxError::at(
            KIND,
            id_start,
            Reason::Expected("a method-specific identifier"),
        ));
    }
    for (j, &c) in b.iter().enumerate().skip(id_start) {
        if !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'%' | b'-')) {
            return Err(SyntaxError::invalid_char(KIND, s, j));
        }
    }
    if matches!(b[b.len() - 1], b':' | b'%') {
        return Err(SyntaxError::at(
            KIND,
            b.len() - 1,
            Reason::Invalid("must not end with ':' or '%'"),
        ));
    }
    Ok(())
}

impl Did {
    /// The method, e.g. `"plc"` or `"web"`.
    pub fn method(&self) -> &str {
        let rest = &self.as_str()[4..];
        rest.split(':').next().unwrap_or(rest)
    }

    /// The method-specific identifier: everything after `did:<method>:`.
    pub fn identifier(&self) -> &str {
        let s = self.as_str();
        &s[4 + self.method().len() + 1..]
    }

    /// Whether this is a `did:plc`.
    pub fn is_plc(&self) -> bool {
        self.method() == "plc"
    }

    /// Whether this is a `did:web`.
    pub fn is_web(&self) -> bool {
        self.method() == "web"
    }

    /// Checks the strict `did:plc` form `did:plc:[a-z2-7]{24}`.
    ///
    /// Not part of generic DID syntax: `did:plc:asdf123` is a valid [`Did`]
    /// but fails this check.
    pub fn check_plc_form(&self) -> Result<(), SyntaxError> {
        let s = self.as_str();
        if !self.is_plc() {
            return Err(SyntaxError::at(KIND, 4, Reason::Expected("method \"plc\"")));
        }
        let id = self.identifier();
        if id.len() != 24 {
            return Err(SyntaxError::at(
                KIND,
                8,
                Reason::Invalid("did:plc identifier must be 24 characters"),
            ));
        }
        for (j, c) in id.bytes().enumerate() {
            if !matches!(c, b'a'..=b'z' | b'2'..=b'7') {
                return Err(SyntaxError::invalid_char(KIND, s, 8 + j));
            }
        }
        Ok(())
    }
}
