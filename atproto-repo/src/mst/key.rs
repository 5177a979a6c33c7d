//! MST keys: syntax, height and shared prefixes.

use alloc::string::String;

use super::MstError;

/// The longest MST key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks that `key` is a valid MST key: `<collection>/<rkey>` with exactly
/// one `/`, both halves non-empty, only `[a-zA-Z0-9_~\-:.]` otherwise, and at
/// most [`MAX_KEY_LEN`] bytes.
pub fn validate_key(key: &[u8]) -> Result<(), MstError> {
    if key.len() <= MAX_KEY_LEN && is_valid_key(key) {
        return Ok(());
    }
    invalid_key(key)
}

/// One pass over `key`: every byte allowed, exactly one `/`, neither first
/// nor last.
#[inline]
fn is_valid_key(key: &[u8]) -> bool {
    match scan_key_bytes(key) {
        Some((1, slash)) => slash > 0 && slash + 1 < key.len(),
        _ => false,
    }
}

/// Scans bytes of a key: `None` if one is neither allowed nor `/`, else how
/// many `/` there are and where the last one is.
#[inline]
pub(crate) fn scan_key_bytes(bytes: &[u8]) -> Option<(usize, usize)> {
    // One branch-free pass: keys are short, so separate passes for the
    // table, the count and the position cost more than they save.
    let mut all_allowed = true;
    let mut slashes = 0;
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        all_allowed &= KEY_OR_SLASH[usize::from(b)];
        let slash = b == b'/';
        slashes += usize::from(slash);
        last = if slash { i } else { last };
    }
    all_allowed.then_some((slashes, last))
}

/// Says why `key` is not a valid MST key (or accepts it after all).
#[cold]
fn invalid_key(key: &[u8]) -> Result<(), MstError> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.len() > MAX_KEY_LEN {
        Some("longer than 1024 bytes")
    } else {
        check_key_chars(key)
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(MstError::InvalidKey {
            key: String::from_utf8_lossy(&key[..key.len().min(MAX_KEY_LEN + 1)]).into_owned(),
            reason,
        }),
    }
}

/// Bytes allowed in a key besides the one `/`: `[a-zA-Z0-9_~\-:.]`.
const KEY_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'~' | b'-' | b':' | b'.');
        b += 1;
    }
    t
};

/// [`KEY_BYTE`] and `/`.
const KEY_OR_SLASH: [bool; 256] = {
    let mut t = KEY_BYTE;
    t[b'/' as usize] = true;
    t
};

fn check_key_chars(key: &[u8]) -> Option<&'static str> {
    let Some(slash) = key.iter().position(|&b| b == b'/') else {
        return Some("no '/' between collection and record key");
    };
    let (collection, rkey) = (&key[..slash], &key[slash + 1..]);
    if !collection.iter().all(|&b| KEY_BYTE[usize::from(b)]) {
        return Some("character outside [a-zA-Z0-9_~-:.] in the collection");
    }
    if !rkey.iter().all(|&b| KEY_BYTE[usize::from(b)]) {
        return Some(if rkey.contains(&b'/') {
            "more than one '/'"
        } else {
            "character outside [a-zA-Z0-9_~-:.] in the record key"
        });
    }
    if collection.is_empty() {
        Some("empty collection")
    } else if rkey.is_empty() {
        Some("empty record key")
    } else {
        None
    }
}

/// The height (layer) of a key: the number of leading zero bits of
/// SHA-256(key), halved and rounded down (fan-out 4).
pub fn key_height(key: &[u8]) -> u8 {
    // The digest is the state words in big-endian order, so its leading
    // zero bits are the words' leading zeros.
    let mut zeros: u32 = 0;
    for w in crate::hash::sha256_words(key) {
        zeros += w.leading_zeros();
        if w != 0 {
            break;
        }
    }
    // At most 256 zero bits, so the height fits in a u8.
    (zeros / 2) as u8
}

/// The length of the longest common byte prefix of `a` and `b`.
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
