//! [`CarStreamReader`]: reads a CAR from any [`std::io::Read`], and the
//! buffered framing it shares with the async reader.

use alloc::vec::Vec;

use atproto_core::Cid;
use bytes::{Buf, Bytes, BytesMut};

use super::CarLimits;
use super::error::{CarError, CarErrorKind};
use super::section::{check_section, parse_header, read_varint};

/// How much a reader asks its source for at a time. Reads are bounded by
/// this, so a length prefix that promises more than the source delivers
/// costs at most one chunk beyond what was actually received.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// The result of one framing step.
pub(crate) enum Step<T> {
    /// The buffer must hold at least this many bytes before trying again.
    Need(usize),
    /// An item was framed and consumed from the buffer.
    Done(T),
    /// The input ended cleanly between sections.
    End,
}

/// Sans-I/O framing over a growing buffer: the offset of the buffer's first
/// byte in the stream, how many blocks have been framed, and the limits.
#[derive(Debug)]
pub(crate) struct Framer {
    pub(crate) limits: CarLimits,
    pub(crate) offset: u64,
    pub(crate) blocks: u64,
}

impl Framer {
    pub(crate) fn new(limits: CarLimits) -> Self {
        Framer {
            limits,
            offset: 0,
            blocks: 0,
        }
    }

    /// Frames one length-prefixed item; returns its body and the body's offset.
    fn frame(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
        header: bool,
    ) -> Result<Step<(Bytes, u64)>, CarError> {
        let start = self.offset;
        let at = |kind| CarError::new(kind, start);
        if !header && eof && buf.is_empty() {
            return Ok(Step::End);
        }
        let (len, prefix) = match read_varint(buf) {
            Ok(Some(v)) => v,
            Ok(None) if eof => return Err(at(CarErrorKind::Truncated)),
            Ok(None) => return Ok(Step::Need(buf.len() + 1)),
            Err(kind) => return Err(at(kind)),
        };
        if header {
            if len > self.limits.max_header_size as u64 {
                return Err(at(CarErrorKind::HeaderTooLarge { len }));
            }
        } else {
            if self.blocks >= self.limits.max_blocks {
                return Err(at(CarErrorKind::TooManyBlocks));
            }
            if len > self.limits.max_section_len() {
                return Err(at(CarErrorKind::BlockTooLarge { len }));
            }
        }
        let total = len.saturating_add(prefix as u64);
        if start.saturating_add(total) > self.limits.max_total_size {
            return Err(at(CarErrorKind::TotalTooLarge));
        }
        let Ok(total) = usize::try_from(total) else {
            return Err(at(CarErrorKind::BlockTooLarge { len }));
        };
        if buf.len() < total {
            return if eof {
                Err(at(CarErrorKind::Truncated))
            } else {
                Ok(Step::Need(total))
            };
        }
        buf.advance(prefix);
        let body = buf.split_to(total - prefix).freeze();
        self.offset += total as u64;
        Ok(Step::Done((body, start + prefix as u64)))
    }

    /// Frames and decodes the header.
    pub(crate) fn header(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
    ) -> Result<Step<Vec<Cid>>, CarError> {
        Ok(match self.frame(buf, eof, true)? {
            Step::Done((body, at)) => Step::Done(
                parse_header(&body).map_err(|e| CarError::new(CarErrorKind::BadHeader(e), at))?,
            ),
            Step::Need(n) => Step::Need(n),
            Step::End => Step::End,
        })
    }

    /// Frames one section and checks its block.
    pub(crate) fn block(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
    ) -> Result<Step<(Cid, Bytes)>, CarError> {
        Ok(match self.frame(buf, eof, false)? {
            Step::Done((body, at)) => {
                let (cid, cid_len) = check_section(&body, self.limits.max_block_size)
                    .map_err(|(kind, rel)| CarError::new(kind, at + rel as u64))?;
                self.blocks += 1;
                Step::Done((cid, body.slice(cid_len..)))
            }
            Step::Need(n) => Step::Need(n),
            Step::End => Step::End,
        })
    }
}

/// Makes room for one read at the end of `buf`; returns the previous length.
pub(crate) fn grow(buf: &mut BytesMut) -> usize {
    let old = buf.len();
    buf.resize(old + READ_CHUNK, 0);
    old
}

/// Reads a CAR v1 from a [`std::io::Read`], checking every block's hash.
///
/// The reader keeps its own buffer and reads in chunks of 64 KiB, so `R`
/// needs no `BufReader`. Blocks come out as [`Bytes`] that share these chunk
/// buffers (holding on to a small block keeps its chunk alive). The checks
/// and limits are those of [`CarReader`](super::CarReader), except that the
/// total size is counted as the bytes arrive. After an error the reader is
/// fused.
#[derive(Debug)]
pub struct CarStreamReader<R> {
    reader: R,
    buf: BytesMut,
    eof: bool,
    framer: Framer,
    roots: Vec<Cid>,
    fused: bool,
}

impl<R: std::io::Read> CarStreamReader<R> {
    /// Reads the header from `reader` with [`CarLimits::DEFAULT`].
    ///
    /// # Errors
    /// A [`CarError`] if the header is missing, too large or malformed, or
    /// reading fails ([`CarErrorKind::Io`], with the
    /// [`std::io::Error`] as the source).
    pub fn new(reader: R) -> Result<Self, CarError> {
        Self::with_limits(reader, CarLimits::DEFAULT)
    }

    /// Reads the header from `reader` under `limits`.
    ///
    /// # Errors
    /// As [`CarStreamReader::new`].
    pub fn with_limits(reader: R, limits: CarLimits) -> Result<Self, CarError> {
        let mut this = CarStreamReader {
            reader,
            buf: BytesMut::with_capacity(READ_CHUNK),
            eof: false,
            framer: Framer::new(limits),
            roots: Vec::new(),
            fused: false,
        };
        loop {
            match this.framer.header(&mut this.buf, this.eof)? {
                Step::Done(roots) => {
                    this.roots = roots;
                    return Ok(this);
                }
                Step::Need(n) => this.fill(n)?,
                Step::End => return Err(CarError::new(CarErrorKind::Truncated, 0)),
            }
        }
    }

    /// The header's roots (never empty).
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The byte offset of the next section.
    pub fn offset(&self) -> u64 {
        self.framer.offset
    }

    /// How many blocks have been read so far.
    pub fn blocks_read(&self) -> u64 {
        self.framer.blocks
    }

    /// Reads the next block and checks its hash; `Ok(None)` at the end of
    /// the input (and after an error).
    ///
    /// # Errors
    /// As [`CarReader::next_block`](super::CarReader::next_block), plus
    /// [`CarErrorKind::Io`].
    pub fn next_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        if self.fused {
            return Ok(None);
        }
        let read = self.read_block();
        if read.is_err() {
            self.fused = true;
        }
        read
    }

    fn read_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        loop {
            match self.framer.block(&mut self.buf, self.eof)? {
                Step::Done(block) => return Ok(Some(block)),
                Step::Need(n) => self.fill(n)?,
                Step::End => return Ok(None),
            }
        }
    }

    /// Reads until the buffer holds `need` bytes or the source ends.
    fn fill(&mut self, need: usize) -> Result<(), CarError> {
        while self.buf.len() < need && !self.eof {
            let old = grow(&mut self.buf);
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    self.eof = n == 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(CarError::io(e, self.framer.offset + old as u64));
                }
            }
        }
        Ok(())
    }
}

impl<R: std::io::Read> Iterator for CarStreamReader<R> {
    type Item = Result<(Cid, Bytes), CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

impl<R: std::io::Read> core::iter::FusedIterator for CarStreamReader<R> {}
