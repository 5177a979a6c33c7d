//! One-shot SHA-256 of a slice held in memory.
//!
//! Repository blocks and MST keys are short (most fit in one or two 64-byte
//! blocks), so the streaming hasher's buffering and finalisation cost a
//! noticeable share of each hash. This drives the compression function
//! directly: full blocks straight from the input, the padded tail from the
//! stack.

use sha2::block_api::compress256;
use sha2::digest::array::Array;
use sha2::digest::consts::U64;

/// The SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of `data`.
#[inline]
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(sha256_words(data)) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// SHA-256 of `data` as the eight big-endian state words (the digest is
/// their bytes in order): for callers that look only at its first bits.
#[inline]
pub(crate) fn sha256_words(data: &[u8]) -> [u32; 8] {
    let mut state = H0;
    // All full blocks in one call: each call loads and stores the state.
    let (blocks, rest) = Array::<u8, U64>::slice_as_chunks(data);
    if !blocks.is_empty() {
        compress256(&mut state, Array::cast_slice_to_core(blocks));
    }
    let bits = (data.len() as u64).wrapping_mul(8).to_be_bytes();
    if rest.len() < 56 {
        // One padded block: the common case of keys and small records.
        let mut tail = [[0u8; 64]; 1];
        tail[0][..rest.len()].copy_from_slice(rest);
        tail[0][rest.len()] = 0x80;
        tail[0][56..].copy_from_slice(&bits);
        compress256(&mut state, &tail);
    } else {
        let mut tail = [[0u8; 64]; 2];
        tail[0][..rest.len()].copy_from_slice(rest);
        tail[0][rest.len()] = 0x80;
        tail[1][56..].copy_from_slice(&bits);
        compress256(&mut state, &tail);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::sha256;
    use sha2::{Digest, Sha256};

    #[test]
    fn matches_the_streaming_hasher_at_every_tail_length() {
        let data: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let want: [u8; 32] = Sha256::digest(&data[..len]).into();
            assert_eq!(sha256(&data[..len]), want, "length {len}");
        }
    }
}
