//! Two SHA-256 compressions in lockstep on the x86 SHA extensions.
//!
//! Each `sha256rnds2` takes several cycles to produce its result and the
//! next round needs it, so one message runs at the instruction's latency.
//! Interleaving the rounds of two independent messages issues the second
//! message's round while the first one's is in flight: two digests for a
//! little more than the time of one.
//!
//! The round structure follows Intel's description of the extensions (the
//! state held as ABEF/CDGH, four rounds per step with the message schedule
//! done by `sha256msg1`/`sha256msg2`); the unit tests in the parent module
//! compare every result with the `sha2` crate.

#[cfg(target_arch = "x86")]
use core::arch::x86::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_extract_epi32, _mm_set_epi32,
    _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
    _mm_shuffle_epi8, _mm_shuffle_epi32,
};
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_extract_epi32, _mm_set_epi32,
    _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
    _mm_shuffle_epi8, _mm_shuffle_epi32,
};

use sha2::block_api::compress256;
use sha2::digest::array::Array;
use sha2::digest::consts::U64;

use super::{H0, HashQueue, digest_bytes};

// Runtime detection through RustCrypto's `cpufeatures` (what `sha2` uses
// for its own choice of backend): one cached CPUID query, `no_std`.
cpufeatures::new!(sha_ni, "sha", "sse2", "ssse3", "sse4.1");

/// Hashes every message of `queue` and returns `true`, or returns `false`
/// at once when this CPU lacks the SHA extensions.
#[inline]
pub(super) fn queue<'a, Q: HashQueue<'a>>(queue: &mut Q) -> bool {
    if !sha_ni::get() {
        return false;
    }
    // SAFETY: `queue_sha_ni` is safe apart from its target features, and
    // `sha_ni::get()` just confirmed the running CPU has every one of them.
    #[allow(unsafe_code)]
    unsafe {
        queue_sha_ni(queue);
    }
    true
}

/// The SHA-256 round constants (FIPS 180-4 §4.2.2).
const K: [u32; 64] = [
    0x428a_2f98,
    0x7137_4491,
    0xb5c0_fbcf,
    0xe9b5_dba5,
    0x3956_c25b,
    0x59f1_11f1,
    0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98,
    0x1283_5b01,
    0x2431_85be,
    0x550c_7dc3,
    0x72be_5d74,
    0x80de_b1fe,
    0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1,
    0xefbe_4786,
    0x0fc1_9dc6,
    0x240c_a1cc,
    0x2de9_2c6f,
    0x4a74_84aa,
    0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152,
    0xa831_c66d,
    0xb003_27c8,
    0xbf59_7fc7,
    0xc6e0_0bf3,
    0xd5a7_9147,
    0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85,
    0x2e1b_2138,
    0x4d2c_6dfc,
    0x5338_0d13,
    0x650a_7354,
    0x766a_0abb,
    0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1,
    0xa81a_664b,
    0xc24b_8b70,
    0xc76c_51a3,
    0xd192_e819,
    0xd699_0624,
    0xf40e_3585,
    0x106a_a070,
    0x19a4_c116,
    0x1e37_6c08,
    0x2748_774c,
    0x34b0_bcb5,
    0x391c_0cb3,
    0x4ed8_aa4a,
    0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee,
    0x78a5_636f,
    0x84c8_7814,
    0x8cc7_0208,
    0x90be_fffa,
    0xa450_6ceb,
    0xbef9_a3f7,
    0xc671_78f2,
];

/// One message's working state in the order the instructions want.
#[derive(Clone, Copy)]
struct State {
    abef: __m128i,
    cdgh: __m128i,
}

/// A message as SHA-256 compresses it: its full 64-byte blocks where they
/// lie, then one or two padded tail blocks built on the stack (FIPS 180-4
/// §5.1.1: a `1` bit, zeros, the length in bits as 64-bit big-endian).
struct Padded<'a> {
    full: &'a [[u8; 64]],
    tail: [[u8; 64]; 2],
    /// 1 when the rest of the message leaves room for the length, else 2.
    tail_len: usize,
}

impl<'a> Padded<'a> {
    /// No message (compresses as nothing); [`set`](Self::set) fills it.
    const EMPTY: Padded<'static> = Padded {
        full: &[],
        tail: [[0; 64]; 2],
        tail_len: 0,
    };

    /// Makes this the padding of `data`, in place.
    #[inline]
    fn set(&mut self, data: &'a [u8]) {
        let (full, rest) = Array::<u8, U64>::slice_as_chunks(data);
        self.full = Array::cast_slice_to_core(full);
        self.tail = [[0; 64]; 2];
        self.tail[0][..rest.len()].copy_from_slice(rest);
        self.tail[0][rest.len()] = 0x80;
        self.tail_len = if rest.len() < 56 { 1 } else { 2 };
        let bits = (data.len() as u64).wrapping_mul(8).to_be_bytes();
        self.tail[self.tail_len - 1][56..].copy_from_slice(&bits);
    }

    /// How many blocks the message compresses as.
    #[inline]
    fn len(&self) -> usize {
        self.full.len() + self.tail_len
    }

    /// Block `j` (below [`len`](Self::len)).
    #[inline]
    fn block(&self, j: usize) -> &[u8; 64] {
        match self.full.get(j) {
            Some(b) => b,
            None => &self.tail[j - self.full.len()],
        }
    }

    /// Compresses blocks `from..` into `state`.
    #[inline]
    fn compress_from(&self, state: &mut [u32; 8], from: usize) {
        // Each call loads and stores the state, so runs of blocks go in
        // one call.
        if let Some(full) = self.full.get(from..)
            && !full.is_empty()
        {
            compress256(state, full);
        }
        let tail = from.saturating_sub(self.full.len());
        compress256(state, &self.tail[tail..self.tail_len]);
    }
}

/// One of the two lanes: the message it is hashing and its next block.
struct Lane<'a, Id> {
    /// `None` once the queue has run dry.
    id: Option<Id>,
    message: Padded<'a>,
    at: usize,
}

impl<'a, Id: Copy> Lane<'a, Id> {
    /// Takes the queue's next message, if any.
    #[inline]
    fn load<Q: HashQueue<'a, Id = Id>>(&mut self, queue: &mut Q) {
        self.id = queue.next().map(|(id, message)| {
            self.message.set(message);
            id
        });
        self.at = 0;
    }

    #[inline]
    fn finished(&self) -> bool {
        self.at == self.message.len()
    }
}

/// Runs two lanes in lockstep, one block of each per step; a lane whose
/// message ends hands its digest back and takes the next message, so both
/// stay busy until the queue runs dry.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn queue_sha_ni<'a, Q: HashQueue<'a>>(queue: &mut Q) {
    let h = to_state(&H0);
    let mut s = [h, h];
    let mut lanes = [(); 2].map(|()| Lane {
        id: None,
        message: Padded::EMPTY,
        at: 0,
    });
    for lane in &mut lanes {
        lane.load(queue);
    }
    while let [Lane { id: Some(_), .. }, Lane { id: Some(_), .. }] = lanes {
        let [a, b] = &mut lanes;
        compress2(&mut s, a.message.block(a.at), b.message.block(b.at));
        for (lane, s) in lanes.iter_mut().zip(&mut s) {
            lane.at += 1;
            if lane.finished() {
                if let Some(id) = lane.id {
                    queue.done(id, digest_bytes(from_state(*s)));
                }
                lane.load(queue);
                *s = h;
            }
        }
    }
    // At most one lane is left: it finishes alone.
    for (lane, s) in lanes.iter().zip(s) {
        if let Some(id) = lane.id {
            let mut words = from_state(s);
            lane.message.compress_from(&mut words, lane.at);
            queue.done(id, digest_bytes(words));
        }
    }
}

#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn to_state(w: &[u32; 8]) -> State {
    let word = |i: usize| w[i] as i32;
    let dcba = _mm_set_epi32(word(3), word(2), word(1), word(0));
    let hgfe = _mm_set_epi32(word(7), word(6), word(5), word(4));
    let cdab = _mm_shuffle_epi32(dcba, 0xB1);
    let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    State {
        abef: _mm_alignr_epi8(cdab, efgh, 8),
        cdgh: _mm_blend_epi16(efgh, cdab, 0xF0),
    }
}

#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn from_state(s: State) -> [u32; 8] {
    let feba = _mm_shuffle_epi32(s.abef, 0x1B);
    let dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
    let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
    let hgef = _mm_alignr_epi8(dchg, feba, 8);
    [
        _mm_extract_epi32(dcba, 0) as u32,
        _mm_extract_epi32(dcba, 1) as u32,
        _mm_extract_epi32(dcba, 2) as u32,
        _mm_extract_epi32(dcba, 3) as u32,
        _mm_extract_epi32(hgef, 0) as u32,
        _mm_extract_epi32(hgef, 1) as u32,
        _mm_extract_epi32(hgef, 2) as u32,
        _mm_extract_epi32(hgef, 3) as u32,
    ]
}

/// A block as four vectors of big-endian message words.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn load(block: &[u8; 64]) -> [__m128i; 4] {
    // Swaps the bytes of each 32-bit word.
    let swap = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0B, 0x0405_0607_0001_0203);
    let mut q = [0i64; 8];
    for (q, bytes) in q.iter_mut().zip(block.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        *q = i64::from_le_bytes(b);
    }
    [
        _mm_shuffle_epi8(_mm_set_epi64x(q[1], q[0]), swap),
        _mm_shuffle_epi8(_mm_set_epi64x(q[3], q[2]), swap),
        _mm_shuffle_epi8(_mm_set_epi64x(q[5], q[4]), swap),
        _mm_shuffle_epi8(_mm_set_epi64x(q[7], q[6]), swap),
    ]
}

/// Round constants `4i..4i+4` as one vector.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn k4(i: usize) -> __m128i {
    let k = |j: usize| K[4 * i + j] as i32;
    _mm_set_epi32(k(3), k(2), k(1), k(0))
}

/// The next four message words from the previous sixteen (`w0` oldest).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn schedule(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
    let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
    _mm_sha256msg2_epu32(t, w3)
}

/// Rounds `4i..4i+4` of both messages, the two chains interleaved.
macro_rules! rounds4 {
    ($s:ident, $wa:expr, $wb:expr, $i:expr) => {{
        let k = k4($i);
        let ta = _mm_add_epi32($wa, k);
        let tb = _mm_add_epi32($wb, k);
        $s[0].cdgh = _mm_sha256rnds2_epu32($s[0].cdgh, $s[0].abef, ta);
        $s[1].cdgh = _mm_sha256rnds2_epu32($s[1].cdgh, $s[1].abef, tb);
        let (ta, tb) = (_mm_shuffle_epi32(ta, 0x0E), _mm_shuffle_epi32(tb, 0x0E));
        $s[0].abef = _mm_sha256rnds2_epu32($s[0].abef, $s[0].cdgh, ta);
        $s[1].abef = _mm_sha256rnds2_epu32($s[1].abef, $s[1].cdgh, tb);
    }};
}

/// Extends both schedules by four words (into slot `$n`, from the slots
/// `$w0..$w3`, oldest first), then runs their rounds.
macro_rules! schedule_rounds4 {
    ($s:ident, $a:ident, $b:ident, $w0:tt, $w1:tt, $w2:tt, $w3:tt, $n:tt, $i:expr) => {{
        $a[$n] = schedule($a[$w0], $a[$w1], $a[$w2], $a[$w3]);
        $b[$n] = schedule($b[$w0], $b[$w1], $b[$w2], $b[$w3]);
        rounds4!($s, $a[$n], $b[$n], $i);
    }};
}

/// One block of each message into its state.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress2(s: &mut [State; 2], a: &[u8; 64], b: &[u8; 64]) {
    let saved = *s;
    let (wa, wb) = (load(a), load(b));
    // Five slots each: the schedule's last sixteen words and the next four.
    let mut a = [wa[0], wa[1], wa[2], wa[3], wa[0]];
    let mut b = [wb[0], wb[1], wb[2], wb[3], wb[0]];
    rounds4!(s, a[0], b[0], 0);
    rounds4!(s, a[1], b[1], 1);
    rounds4!(s, a[2], b[2], 2);
    rounds4!(s, a[3], b[3], 3);
    schedule_rounds4!(s, a, b, 0, 1, 2, 3, 4, 4);
    schedule_rounds4!(s, a, b, 1, 2, 3, 4, 0, 5);
    schedule_rounds4!(s, a, b, 2, 3, 4, 0, 1, 6);
    schedule_rounds4!(s, a, b, 3, 4, 0, 1, 2, 7);
    schedule_rounds4!(s, a, b, 4, 0, 1, 2, 3, 8);
    schedule_rounds4!(s, a, b, 0, 1, 2, 3, 4, 9);
    schedule_rounds4!(s, a, b, 1, 2, 3, 4, 0, 10);
    schedule_rounds4!(s, a, b, 2, 3, 4, 0, 1, 11);
    schedule_rounds4!(s, a, b, 3, 4, 0, 1, 2, 12);
    schedule_rounds4!(s, a, b, 4, 0, 1, 2, 3, 13);
    schedule_rounds4!(s, a, b, 0, 1, 2, 3, 4, 14);
    schedule_rounds4!(s, a, b, 1, 2, 3, 4, 0, 15);
    for (s, saved) in s.iter_mut().zip(saved) {
        s.abef = _mm_add_epi32(s.abef, saved.abef);
        s.cdgh = _mm_add_epi32(s.cdgh, saved.cdgh);
    }
}
