//! [`CarReader`]: a zero-copy reader over a CAR held in memory.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use atproto_core::Cid;
use bytes::Bytes;

use super::CarLimits;
use super::error::{CarError, CarErrorKind};
use super::section::{
    ATPROTO_CID_LEN, check_section, check_section_raw, parse_header, read_varint,
};

/// A hash-checked block as [`CarReader::next_raw`] returns it: its CID is
/// the [`ATPROTO_CID_LEN`] bytes before `start`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawBlock {
    /// Where the block starts in the input.
    pub(crate) start: usize,
    /// Where the block ends in the input.
    pub(crate) end: usize,
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

    /// Reads the next block and checks its hash, without building a CID or
    /// a `Bytes` handle: the block's range in [`input`](Self::input). `Ok(None)` at the end (and after an error).
    #[inline]
    pub(crate) fn next_raw(&mut self) -> Result<Option<RawBlock>, CarError> {
        if self.fused || self.pos == self.input.len() {
            return Ok(None);
        }
        let read = self.read_raw();
        if read.is_err() {
            self.fused = true;
        }
        read.map(Some)
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

    #[inline]
    fn read_raw(&mut self) -> Result<RawBlock, CarError> {
        let body = self.section_body()?;
        check_section_raw(&self.input[body.clone()], self.limits.max_block_size)
            .map_err(|(kind, rel)| CarError::new(kind, (body.start + rel) as u64))?;
        let raw = RawBlock {
            start: body.start + ATPROTO_CID_LEN,
            end: body.end,
        };
        self.pos = body.end;
        self.blocks += 1;
        Ok(raw)
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
        // bulk, several times faster than inserting block by block.
        let mut blocks = Vec::new();
        while let Some(block) = self.next_block()? {
            blocks.push(block);
        }
        Ok(blocks.into_iter().collect())
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
