//! [`CarReader`]: a zero-copy reader over a CAR held in memory.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::data::{ATPROTO_CID_LEN, SHA2_256_LEN, split_sha256_cid};
use bytes::Bytes;

use super::CarLimits;
use super::error::{CarError, CarErrorKind};
use super::section::{
    check_section, cid_of, hash_mismatch, parse_header, read_varint, split_section,
};
use crate::hash::HashQueue;

/// A hash-checked block as [`CarReader::read_all_raw`] lists it: where it
/// lies in the input. Its CID (always `01 ‖ codec ‖ 12 20 ‖ digest`, as the
/// reader accepts no other form) is the [`ATPROTO_CID_LEN`] bytes before
/// it, so a table of these needs no copy of the digests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawBlock {
    /// Where the block starts in the input.
    pub(crate) start: usize,
    /// Its length: at most the reader's block size limit, itself bounded
    /// by [`CarLimits`] far below 4 GiB.
    pub(crate) len: u32,
}

impl RawBlock {
    /// The block's bytes in `input`, the bytes it was read from.
    #[inline]
    pub(crate) fn bytes(self, input: &[u8]) -> &[u8] {
        input
            .get(self.start..self.start + self.len as usize)
            .unwrap_or_default()
    }

    /// The digest and codec of the block's CID in `input`.
    #[inline]
    pub(crate) fn key(self, input: &[u8]) -> (&[u8; SHA2_256_LEN], u8) {
        match input
            .get(self.start - ATPROTO_CID_LEN..)
            .and_then(split_sha256_cid)
        {
            Some((codec, digest)) => (digest, codec),
            None => (&[0; SHA2_256_LEN], 0),
        }
    }
}

/// Reads a CAR v1 held in memory, checking every block's hash.
///
/// Blocks are returned as [`Bytes`] slices of the input: nothing is copied,
/// and each byte is hashed once. Construction reads and checks the header;
/// [`next_block`](CarReader::next_block) (or the [`Iterator`]) then yields
/// the blocks in file order. After an error the reader is fused.
///
/// See the [module docs](super) for what is checked.
#[derive(Clone, Debug)]
pub struct CarReader {
    input: Bytes,
    pos: usize,
    roots: Vec<Cid>,
    limits: CarLimits,
    blocks: u64,
    fused: bool,
}

impl CarReader {
    /// Reads the header of `input` with [`CarLimits::DEFAULT`].
    ///
    /// `input` may be a `Vec<u8>`, a `&'static [u8]` or [`Bytes`]; for a
    /// borrowed slice use [`CarReader::from_slice`].
    ///
    /// # Errors
    /// A [`CarError`] if the header is missing, too large or malformed, or
    /// the input exceeds the total size limit.
    pub fn new(input: impl Into<Bytes>) -> Result<Self, CarError> {
        Self::with_limits(input, CarLimits::DEFAULT)
    }

    /// Copies `input` once into a [`Bytes`] buffer, then reads it as
    /// [`CarReader::new`] does.
    ///
    /// # Errors
    /// As [`CarReader::new`].
    pub fn from_slice(input: &[u8]) -> Result<Self, CarError> {
        Self::new(Bytes::copy_from_slice(input))
    }

    /// Reads the header of `input` under `limits`.
    ///
    /// # Errors
    /// As [`CarReader::new`].
    pub fn with_limits(input: impl Into<Bytes>, limits: CarLimits) -> Result<Self, CarError> {
        let input = input.into();
        if input.len() as u64 > limits.max_total_size {
            return Err(CarError::new(
                CarErrorKind::TotalTooLarge,
                limits.max_total_size,
            ));
        }
        let (len, prefix) = match read_varint(&input) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(CarError::new(CarErrorKind::Truncated, 0)),
            Err(kind) => return Err(CarError::new(kind, 0)),
        };
        if len > limits.max_header_size as u64 {
            return Err(CarError::new(CarErrorKind::HeaderTooLarge { len }, 0));
        }
        if len > (input.len() - prefix) as u64 {
            return Err(CarError::new(CarErrorKind::Truncated, 0));
        }
        let end = prefix + len as usize;
        let roots = parse_header(&input[prefix..end])
            .map_err(|e| CarError::new(CarErrorKind::BadHeader(e), prefix as u64))?;
        Ok(CarReader {
            input,
            pos: end,
            roots,
            limits,
            blocks: 0,
            fused: false,
        })
    }

    /// The header's roots (never empty). For a repository, the first is the
    /// commit.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The limits this reader applies.
    pub fn limits(&self) -> &CarLimits {
        &self.limits
    }

    /// The byte offset of the next section.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// How many blocks have been read so far.
    pub fn blocks_read(&self) -> u64 {
        self.blocks
    }

    /// Reads the next block and checks its hash; `Ok(None)` at the end of
    /// the input (and after an error).
    ///
    /// # Errors
    /// A [`CarError`] for a truncated or oversized section, a malformed or
    /// unsupported CID, or a block that does not hash to its CID.
    pub fn next_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        if self.fused || self.pos == self.input.len() {
            return Ok(None);
        }
        let read = self.read_section();
        if read.is_err() {
            self.fused = true;
        }
        read.map(Some)
    }

    /// Reads every remaining block and checks its hash, without building a
    /// CID or a `Bytes` handle: appends each block's place in
    /// [`input`](Self::input) to `out`, in order. Blocks are hashed two at
    /// a time where the CPU allows (see `crate::hash`); an error is still
    /// the one of the first bad section, and `out` is then unspecified.
    pub(crate) fn read_all_raw(&mut self, out: &mut Vec<RawBlock>) -> Result<(), CarError> {
        if self.fused {
            return Ok(());
        }
        let input = self.input.clone();
        let mut queue = RawQueue {
            reader: self,
            input: &input,
            out,
            error: None,
        };
        crate::hash::sha256_queue(&mut queue);
        match queue.error {
            Some(e) => {
                self.fused = true;
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Reads the next section's CID and block, checking everything but
    /// the hash.
    #[inline(always)]
    fn frame_raw(&mut self) -> Result<RawBlock, CarError> {
        let body = self.section_body()?;
        if let Err((kind, rel)) =
            split_section(&self.input[body.clone()], self.limits.max_block_size)
        {
            return Err(CarError::new(kind, (body.start + rel) as u64));
        }
        self.pos = body.end;
        self.blocks += 1;
        let start = body.start + ATPROTO_CID_LEN;
        Ok(RawBlock {
            start,
            // `section_body` checked the length against the limits.
            len: u32::try_from(body.end - start).unwrap_or(u32::MAX),
        })
    }

    /// The whole input.
    pub(crate) fn input(&self) -> &Bytes {
        &self.input
    }

    #[inline]
    fn read_section(&mut self) -> Result<(Cid, Bytes), CarError> {
        let body = self.section_body()?;
        let (cid, cid_len) =
            check_section(&self.input[body.clone()], self.limits.max_block_size)
                .map_err(|(kind, rel)| CarError::new(kind, (body.start + rel) as u64))?;
        self.pos = body.end;
        self.blocks += 1;
        Ok((cid, self.input.slice(body.start + cid_len..body.end)))
    }

    /// Reads the next section's length and checks it against the limits
    /// and the input; returns the range of its CID and block.
    #[inline]
    fn section_body(&self) -> Result<core::ops::Range<usize>, CarError> {
        let start = self.pos;
        let rest = &self.input[start..];
        let at = |kind| CarError::new(kind, start as u64);
        let (len, prefix) = match read_varint(rest) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(at(CarErrorKind::Truncated)),
            Err(kind) => return Err(at(kind)),
        };
        if self.blocks >= self.limits.max_blocks {
            return Err(at(CarErrorKind::TooManyBlocks));
        }
        if len > self.limits.max_section_len() {
            return Err(at(CarErrorKind::BlockTooLarge { len }));
        }
        if len > (rest.len() - prefix) as u64 {
            return Err(at(CarErrorKind::Truncated));
        }
        let body = start + prefix;
        Ok(body..body + len as usize)
    }

    /// Reads every remaining block into a map from CID to block. Duplicate
    /// blocks collapse into one entry (their bytes are identical, since each
    /// was checked against its CID).
    ///
    /// # Errors
    /// The first [`CarError`] met, as [`CarReader::next_block`].
    pub fn into_blocks(mut self) -> Result<BTreeMap<Cid, Bytes>, CarError> {
        // Collecting first lets the map sort once and build its nodes in
        // bulk, several times faster than inserting block by block; reading
        // raw hashes two blocks at a time.
        let mut raw = Vec::new();
        self.read_all_raw(&mut raw)?;
        let input = &self.input;
        Ok(raw
            .into_iter()
            .map(|b| {
                // `read_all_raw` accepted every CID, all in this one form.
                let (digest, codec) = b.key(input);
                let end = b.start + b.len as usize;
                (cid_of(codec, digest), input.slice(b.start..end))
            })
            .collect())
    }
}

/// The CAR's sections as a [`HashQueue`]: framed on demand, checked as
/// their digests arrive.
struct RawQueue<'r, 'a> {
    reader: &'r mut CarReader,
    input: &'a [u8],
    out: &'r mut Vec<RawBlock>,
    /// The error of the first bad section seen; no section is handed out
    /// once there is one.
    error: Option<CarError>,
}

impl<'a> HashQueue<'a> for RawQueue<'_, 'a> {
    type Id = RawBlock;

    #[inline]
    fn next(&mut self) -> Option<(RawBlock, &'a [u8])> {
        if self.error.is_some() || self.reader.pos == self.input.len() {
            return None;
        }
        match self.reader.frame_raw() {
            Ok(block) => {
                self.out.push(block);
                Some((block, block.bytes(self.input)))
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    #[inline]
    fn done(&mut self, block: RawBlock, digest: [u8; 32]) {
        let (expected, codec) = block.key(self.input);
        if *expected != digest {
            let (kind, rel) = hash_mismatch(codec, expected);
            let e = CarError::new(kind, (block.start - ATPROTO_CID_LEN + rel) as u64);
            // Two sections are in flight: the earlier one's error wins.
            if self
                .error
                .as_ref()
                .is_none_or(|old| e.offset() < old.offset())
            {
                self.error = Some(e);
            }
        }
    }
}

impl Iterator for CarReader {
    type Item = Result<(Cid, Bytes), CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

impl core::iter::FusedIterator for CarReader {}

/// A whole CAR loaded into memory: its roots and its blocks by CID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadedCar {
    /// The header's roots (never empty when produced by [`load_car`]).
    pub roots: Vec<Cid>,
    /// Every block, by CID, each a slice of the input.
    pub blocks: BTreeMap<Cid, Bytes>,
}

/// Reads a whole CAR held in memory into a [`LoadedCar`], checking every
/// block's hash (see [`CarReader`]).
///
/// # Errors
/// The first [`CarError`] met.
pub fn load_car(input: impl Into<Bytes>, limits: CarLimits) -> Result<LoadedCar, CarError> {
    let reader = CarReader::with_limits(input, limits)?;
    let roots = reader.roots.clone();
    let blocks = reader.into_blocks()?;
    Ok(LoadedCar { roots, blocks })
}
