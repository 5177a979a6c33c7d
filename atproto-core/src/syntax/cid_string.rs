//! [`CidString`]: a CID in its string form.

use alloc::string::ToString;

use cid::Cid;

use super::error::{Reason, SyntaxError, SyntaxKind};
use crate::data::{MAX_CID_LEN, parse_cid};

const KIND: SyntaxKind = SyntaxKind::Cid;

/// Shortest accepted CID string, in bytes.
pub const MIN_CID_STRING_LEN: usize = 8;
/// Longest accepted CID string, in bytes.
pub const MAX_CID_STRING_LEN: usize = 256;

/// Multibase prefix of RFC 4648 base32, lower case, no padding.
const BASE32_LOWER: u8 = b'b';
/// Multibase prefix of base58btc.
const BASE58_BTC: u8 = b'z';

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const BASE58_ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

string_newtype!(
    /// A CID string: a multibase prefix and a CIDv1 in that base, with
    /// nothing after it.
    ///
    /// # What is accepted
    ///
    /// The bases are those the reference TypeScript implementation's
    /// Lexicon `cid` format accepts (`@atproto/lexicon`, `CID.parse` of
    /// `multiformats`): `b`, RFC 4648 base32 in lower case without padding
    /// (the canonical form, `bafyrei…`), and `z`, base58btc. Every other
    /// prefix (`f` base16, `m` base64, `B` base32 upper, …) is refused, as
    /// there. (The newer `@atproto/lex` is stricter still: only the
    /// canonical `b…` form.)
    ///
    /// The text after the prefix must use only that base's alphabet and
    /// decode with no partial byte left over, and the bytes must be exactly
    /// one CIDv1 as [`parse_cid`](crate::data::parse_cid) reads it: minimal
    /// varints, a multihash whose declared digest length is the number of
    /// bytes present, nothing after it. CIDv0 (`Qm…`, or a bare multihash in
    /// base58btc) is refused (SPEC-NOTES §1).
    ///
    /// [`CidString::check_syntax`] is the string-level grammar alone (the
    /// one the interop vectors `syntax/cid_syntax_*.txt` and Go's
    /// `syntax.ParseCID` describe): some strings pass it and are not CIDs.
    ///
    /// The string is kept as given; [`CidString::to_cid`] decodes it.
    ///
    /// ```
    /// use atproto_core::syntax::CidString;
    /// let s: CidString = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".parse()?;
    /// assert_eq!(s.to_cid()?.version(), atproto_core::cid::Version::V1);
    /// assert!("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR".parse::<CidString>().is_err());
    /// assert!("f017012202c5f688262e0ece8569aa6f94d60aad55ca8d9d83734e4a7430d0cff6588ec2b".parse::<CidString>().is_err());
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    CidString,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    decode(s).map(drop)
}

/// The string-level checks shared by [`decode`] and
/// [`CidString::check_syntax`]: length, and not CIDv0.
fn check_len_and_v0(s: &str) -> Result<(), SyntaxError> {
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
    if s.starts_with("Qm") {
        return Err(SyntaxError::at(
            KIND,
            0,
            Reason::Invalid("CIDv0 (\"Qm...\") is not supported"),
        ));
    }
    Ok(())
}

/// Checks `s` and decodes it into the CID it names. Allocates nothing
/// unless it fails.
fn decode(s: &str) -> Result<Cid, SyntaxError> {
    check_len_and_v0(s)?;
    let mut buf = [0; MAX_CID_LEN];
    let bytes = match s.as_bytes() {
        [BASE32_LOWER, text @ ..] => base32_decode(text, &mut buf)?,
        [BASE58_BTC, text @ ..] => base58_decode(text, &mut buf)?,
        _ => {
            let c = s.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            return Err(SyntaxError::at(KIND, 0, Reason::Multibase(c)));
        }
    };
    parse_cid(bytes).map_err(|e| SyntaxError::new(KIND, Reason::Cid(e)))
}

/// The error for a character outside the alphabet at `i` of the text
/// after the prefix.
fn bad_char(text: &[u8], i: usize) -> SyntaxError {
    // `text` is the tail of a `&str`, so it is UTF-8 from `i` on.
    let c = core::str::from_utf8(text.get(i..).unwrap_or_default())
        .ok()
        .and_then(|t| t.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    SyntaxError::at(KIND, i + 1, Reason::InvalidChar(c))
}

fn decoded_too_long() -> SyntaxError {
    SyntaxError::new(
        KIND,
        Reason::Invalid("decodes to more bytes than any CID holds"),
    )
}

/// Decodes RFC 4648 base32 (lower case, no padding) into `buf`: only the
/// alphabet, a length that ends on a whole byte, and zero bits after it.
fn base32_decode<'a>(text: &[u8], buf: &'a mut [u8; MAX_CID_LEN]) -> Result<&'a [u8], SyntaxError> {
    if text.len() * 5 / 8 > buf.len() {
        return Err(decoded_too_long());
    }
    let (mut acc, mut bits, mut n) = (0u32, 0u32, 0);
    for (i, &c) in text.iter().enumerate() {
        let Some(v) = BASE32_ALPHABET.iter().position(|&a| a == c) else {
            return Err(bad_char(text, i));
        };
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            buf[n] = (acc >> bits) as u8;
            n += 1;
        }
        acc &= (1 << bits) - 1;
    }
    // Five or more bits left over would be a character with no byte in it
    // (an impossible length); set bits left over, a second spelling.
    if bits >= 5 || acc != 0 {
        return Err(SyntaxError::at(
            KIND,
            text.len(),
            Reason::Invalid("base32 text does not end on a whole byte"),
        ));
    }
    Ok(&buf[..n])
}

/// Decodes base58btc into `buf`: each leading `1` is a zero byte, the rest
/// a big-endian number.
fn base58_decode<'a>(text: &[u8], buf: &'a mut [u8; MAX_CID_LEN]) -> Result<&'a [u8], SyntaxError> {
    // The number, least significant byte first, in `num[..len]`.
    let mut num = [0u8; MAX_CID_LEN];
    let mut len = 0;
    for (i, &c) in text.iter().enumerate() {
        let Some(v) = BASE58_ALPHABET.iter().position(|&a| a == c) else {
            return Err(bad_char(text, i));
        };
        let mut carry = v as u32;
        for byte in &mut num[..len] {
            carry += u32::from(*byte) * 58;
            *byte = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            let Some(byte) = num.get_mut(len) else {
                return Err(decoded_too_long());
            };
            *byte = carry as u8;
            len += 1;
            carry >>= 8;
        }
    }
    let zeros = text
        .iter()
        .take_while(|&&c| c == BASE58_ALPHABET[0])
        .count();
    let total = zeros + len;
    if total > buf.len() {
        return Err(decoded_too_long());
    }
    buf[..zeros].fill(0);
    for (dst, src) in buf[zeros..total].iter_mut().zip(num[..len].iter().rev()) {
        *dst = *src;
    }
    Ok(&buf[..total])
}

impl CidString {
    /// Checks only the string-level grammar: [`MIN_CID_STRING_LEN`] to
    /// [`MAX_CID_STRING_LEN`] bytes of `[a-zA-Z0-9+=]`, not starting with
    /// `Qm` (CIDv0). This is the rule of the interop vectors and of Go's
    /// `syntax.ParseCID`; it does not decode, so strings that are not CIDs
    /// pass it. `FromStr` does the full check.
    ///
    /// # Errors
    /// A [`SyntaxError`] naming the first rule broken.
    pub fn check_syntax(s: &str) -> Result<(), SyntaxError> {
        check_len_and_v0(s)?;
        match s
            .bytes()
            .position(|c| !(c.is_ascii_alphanumeric() || c == b'+' || c == b'='))
        {
            Some(i) => Err(SyntaxError::invalid_char(KIND, s, i)),
            None => Ok(()),
        }
    }

    /// Checks `s` as [`CidString`] does and returns the CID it names, without
    /// keeping the string: how ATProto JSON reads `$link` and legacy blob
    /// `cid` strings.
    ///
    /// # Errors
    /// As for `FromStr`.
    pub fn parse_cid(s: &str) -> Result<Cid, SyntaxError> {
        decode(s)
    }

    /// Decodes the string into a [`cid::Cid`]. Cannot fail for a value that
    /// was validated on construction; the `Result` stays for callers that
    /// treat every decode as fallible.
    ///
    /// # Errors
    /// As for `FromStr`.
    pub fn to_cid(&self) -> Result<Cid, SyntaxError> {
        decode(self.as_str())
    }

    /// The canonical string form of a CID (base32 `b…`). Fails for a CIDv0,
    /// whose `Qm…` string is not accepted.
    ///
    /// # Errors
    /// A [`SyntaxError`] for a CID this type does not accept.
    pub fn from_cid(cid: &Cid) -> Result<Self, SyntaxError> {
        Self::parse_string(cid.to_string())
    }
}
