//! One-shot SHA-256 of slices held in memory, one at a time or many
//! independent ones two at a time.
//!
//! Repository blocks and MST keys are short (most fit in one or two 64-byte
//! blocks), so the streaming hasher's buffering and finalisation cost a
//! noticeable share of each hash. [`sha256`] drives the compression function
//! directly: full blocks straight from the input, the padded tail from the
//! stack.
//!
//! A single SHA-256 is one long dependency chain: on x86 with the SHA
//! extensions each 64-byte block waits on the latency of its round
//! instructions while the core's SHA unit sits mostly idle. Two independent
//! messages compressed in lockstep fill that idle time. [`sha256_queue`]
//! does this for a stream of messages (a CAR's blocks): two lanes, each
//! taking the next message as soon as its own ends, so both stay busy
//! whatever the lengths. On the S(100k) repository (20.3 MB CAR, 126,693
//! blocks) it took load + full verification from 23.4 to 19.2 ms
//! (`cargo run --release -p atproto-repo --example repo_bench`), faster than
//! one streaming SHA-256 over the same bytes. MST key heights stay one at a
//! time: each hash there overlaps the check of its record, and batching them
//! per node measured slower.
//!
//! The two-lane kernel lives in `shani`, behind the default `sha-ni`
//! feature: the one place in the crate that needs `unsafe`, a call into a
//! function compiled for CPU features that the running CPU was checked to
//! have. Without the feature, and on other CPUs and architectures, messages
//! are hashed in turn with the `sha2` crate's compression function; the
//! tests compare both paths with `sha2`'s streaming hasher.

#[cfg(all(feature = "sha-ni", any(target_arch = "x86", target_arch = "x86_64")))]
mod shani;

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
    digest_bytes(sha256_words(data))
}

/// SHA-256 of `data` as the eight big-endian state words (the digest is
/// their bytes in order): for callers that look only at its first bits.
#[inline]
pub(crate) fn sha256_words(data: &[u8]) -> [u32; 8] {
    let mut state = H0;
    // As `Padded`, but with one tail block when one is enough: the common
    // case of keys and small records.
    let (blocks, rest) = Array::<u8, U64>::slice_as_chunks(data);
    if !blocks.is_empty() {
        compress256(&mut state, Array::cast_slice_to_core(blocks));
    }
    let bits = (data.len() as u64).wrapping_mul(8).to_be_bytes();
    if rest.len() < 56 {
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

/// Messages to hash, handed out on demand and answered as each digest is
/// ready: the way to hash many independent messages (a CAR's blocks) at the
/// speed of [`sha256_queue`].
pub(crate) trait HashQueue<'a> {
    /// What identifies a message to [`done`](Self::done).
    type Id: Copy;

    /// The next message, or `None` when there are no more (or the queue
    /// wants to stop: the messages in flight still finish).
    fn next(&mut self) -> Option<(Self::Id, &'a [u8])>;

    /// The SHA-256 of message `id`. Digests arrive in about the order the
    /// messages were handed out, not exactly: two are in flight at a time.
    fn done(&mut self, id: Self::Id, digest: [u8; 32]);
}

/// Hashes every message of `queue`, two at a time in lockstep where the CPU
/// has the SHA extensions (one after the other elsewhere).
#[inline]
pub(crate) fn sha256_queue<'a, Q: HashQueue<'a>>(queue: &mut Q) {
    #[cfg(all(feature = "sha-ni", any(target_arch = "x86", target_arch = "x86_64")))]
    if shani::queue(queue) {
        return;
    }
    sha256_queue_in_turn(queue);
}

/// [`sha256_queue`] one message after the other.
fn sha256_queue_in_turn<'a, Q: HashQueue<'a>>(queue: &mut Q) {
    while let Some((id, message)) = queue.next() {
        queue.done(id, sha256(message));
    }
}

/// The digest whose big-endian words are `words`.
#[inline]
fn digest_bytes(words: [u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(words) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{HashQueue, sha256, sha256_queue, sha256_queue_in_turn};
    use alloc::vec;
    use alloc::vec::Vec;
    use sha2::{Digest, Sha256};

    fn reference(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn message(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32).map(|i| (i * 7 + seed) as u8).collect()
    }

    #[test]
    fn matches_the_streaming_hasher_at_every_tail_length() {
        for len in 0..300 {
            let data = message(len, 3);
            assert_eq!(sha256(&data), reference(&data), "length {len}");
        }
    }

    /// A queue over a list of messages that records every digest.
    struct Listed<'a> {
        messages: &'a [Vec<u8>],
        next: usize,
        stop_after: usize,
        digests: Vec<Option<[u8; 32]>>,
    }

    impl<'a> HashQueue<'a> for Listed<'a> {
        type Id = usize;

        fn next(&mut self) -> Option<(usize, &'a [u8])> {
            let i = self.next;
            let m = self.messages.get(i).filter(|_| i < self.stop_after)?;
            self.next += 1;
            Some((i, m))
        }

        fn done(&mut self, id: usize, digest: [u8; 32]) {
            assert!(
                self.digests[id].replace(digest).is_none(),
                "message {id} twice"
            );
        }
    }

    /// The digests `sha256_queue` gives, after checking that the portable
    /// path (the one CPUs without SHA extensions take) gives the same.
    fn run_queue(messages: &[Vec<u8>], stop_after: usize) -> Vec<Option<[u8; 32]>> {
        let [fast, portable] = [sha256_queue, sha256_queue_in_turn].map(|run| {
            let mut q = Listed {
                messages,
                next: 0,
                stop_after,
                digests: vec![None; messages.len()],
            };
            run(&mut q);
            q.digests
        });
        assert_eq!(fast, portable);
        fast
    }

    /// Lengths across the padding edges (55/56 bytes of tail) and from one
    /// to four blocks, in an order that makes the two lanes switch messages
    /// at every possible offset from each other.
    #[test]
    fn the_queue_matches_the_streaming_hasher() {
        let lengths: Vec<usize> = (0..=260)
            .filter(|l| l % 64 < 2 || matches!(l % 64, 54..=58 | 62 | 63) || l % 17 == 0)
            .collect();
        let mut messages = Vec::new();
        for (i, &la) in lengths.iter().enumerate() {
            for &lb in &lengths[i % 7..] {
                messages.push(message(la, 1));
                messages.push(message(lb, (i % 251) as u32));
            }
        }
        let digests = run_queue(&messages, usize::MAX);
        for (i, (m, d)) in messages.iter().zip(&digests).enumerate() {
            assert_eq!(*d, Some(reference(m)), "message {i} of {} bytes", m.len());
        }
    }

    #[test]
    fn a_queue_of_zero_one_and_three_messages() {
        for n in [0, 1, 3] {
            let messages: Vec<Vec<u8>> = (0..n).map(|i| message(40 + 70 * i, 2)).collect();
            let digests = run_queue(&messages, usize::MAX);
            let want: Vec<_> = messages.iter().map(|m| Some(reference(m))).collect();
            assert_eq!(digests, want);
        }
    }

    /// A queue that stops early still gets every message it handed out.
    #[test]
    fn a_queue_that_stops_finishes_what_it_handed_out() {
        let messages: Vec<Vec<u8>> = (0..9).map(|i| message(10 + 50 * i, 4)).collect();
        let digests = run_queue(&messages, 4);
        for (i, (m, d)) in messages.iter().zip(&digests).enumerate() {
            assert_eq!(*d, (i < 4).then(|| reference(m)), "message {i}");
        }
    }
}
