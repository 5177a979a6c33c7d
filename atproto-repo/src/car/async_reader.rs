//! [`AsyncCarReader`]: reads a CAR from a [`futures_io::AsyncRead`].

use alloc::vec::Vec;
use core::pin::Pin;

use atproto_core::Cid;
use bytes::{Bytes, BytesMut};
use futures_io::AsyncRead;

use super::CarLimits;
use super::error::{CarError, CarErrorKind};
use super::stream::{Framer, READ_CHUNK, Step, grow};

/// Reads a CAR v1 from a [`futures_io::AsyncRead`], checking every block's
/// hash (feature `async`).
///
/// Behaves as [`CarStreamReader`](super::CarStreamReader): own 64 KiB chunk
/// buffer, same checks and limits, fused after an error. For a tokio reader,
/// wrap it with `tokio_util::compat::TokioAsyncReadCompatExt::compat`.
#[derive(Debug)]
pub struct AsyncCarReader<R> {
    reader: R,
    buf: BytesMut,
    eof: bool,
    framer: Framer,
    roots: Vec<Cid>,
    fused: bool,
}

impl<R: AsyncRead + Unpin> AsyncCarReader<R> {
    /// Reads the header from `reader` with [`CarLimits::DEFAULT`].
    ///
    /// # Errors
    /// A [`CarError`] if the header is missing, too large or malformed, or
    /// reading fails ([`CarErrorKind::Io`], with the
    /// [`std::io::Error`] as the source).
    pub async fn new(reader: R) -> Result<Self, CarError> {
        Self::with_limits(reader, CarLimits::DEFAULT).await
    }

    /// Reads the header from `reader` under `limits`.
    ///
    /// # Errors
    /// As [`AsyncCarReader::new`].
    pub async fn with_limits(reader: R, limits: CarLimits) -> Result<Self, CarError> {
        let mut this = AsyncCarReader {
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
                Step::Need(n) => this.fill(n).await?,
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
    pub async fn next_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        if self.fused {
            return Ok(None);
        }
        let read = self.read_block().await;
        if read.is_err() {
            self.fused = true;
        }
        read
    }

    async fn read_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        loop {
            match self.framer.block(&mut self.buf, self.eof)? {
                Step::Done(block) => return Ok(Some(block)),
                Step::Need(n) => self.fill(n).await?,
                Step::End => return Ok(None),
            }
        }
    }

    async fn fill(&mut self, need: usize) -> Result<(), CarError> {
        while self.buf.len() < need && !self.eof {
            let old = grow(&mut self.buf);
            let read = core::future::poll_fn(|cx| {
                Pin::new(&mut self.reader).poll_read(cx, &mut self.buf[old..])
            })
            .await;
            match read {
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
