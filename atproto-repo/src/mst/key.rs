//! MST key helpers: height and shared prefixes (the keys themselves are
//! [`RecordPath`](crate::RecordPath)s).

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
