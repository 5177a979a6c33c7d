//! The capture file format: each message as `unsigned LEB128 length ‖
//! message bytes`, one after another (what `atp firehose tail --save`
//! writes). The length prefix is the multiformats unsigned varint of
//! [`atproto_core::varint`] (shortest form only).

use alloc::vec::Vec;

use atproto_core::varint::{self, VarintError};
use bytes::Bytes;

use crate::error::FrameError;
use crate::frame::Frame;
use crate::limits::MAX_FRAME_BYTES;

/// One message read from a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Where its record (the length prefix) starts in the capture.
    pub offset: usize,
    /// The message bytes (a slice of the capture, no copy).
    pub message: Bytes,
    /// The message, decoded.
    pub frame: Frame,
}

/// Why a capture record could not be read; `offset` is where the record
/// (its length prefix) starts in the capture.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("capture record at byte {offset}: {kind}")]
pub struct CaptureError {
    /// Where the record starts.
    pub offset: usize,
    /// What was wrong.
    pub kind: CaptureErrorKind,
}

/// What was wrong with a capture record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The length prefix is not a varint (cut off, not shortest, too long).
    #[error("bad length prefix: {0}")]
    Length(VarintError),
    /// The length says more bytes than the capture has left.
    #[error("message of {len} bytes, only {available} left")]
    Truncated {
        /// The length the prefix gives.
        len: u64,
        /// The bytes left after the prefix.
        available: usize,
    },
    /// The length is over [`MAX_FRAME_BYTES`].
    #[error("message of {len} bytes over the {max}-byte limit")]
    TooLarge {
        /// The length the prefix gives.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The record is whole but its message is not a frame.
    #[error("{0}")]
    Frame(FrameError),
}

/// Reads a capture: an iterator over its frames, in order.
///
/// A framing error (length prefix, truncation, size) ends the iteration
/// after it is yielded, since the next record's start is unknown; a
/// message that does not decode is yielded as an error and reading goes
/// on with the next record.
#[derive(Clone, Debug)]
pub struct CaptureReader {
    data: Bytes,
    pos: usize,
}

impl CaptureReader {
    /// A reader over a whole capture.
    pub fn new(data: Bytes) -> Self {
        CaptureReader { data, pos: 0 }
    }

    /// Where the next record starts.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The next record's message bytes, undecoded, with its offset.
    ///
    /// # Errors
    /// [`CaptureError`] with any kind but [`CaptureErrorKind::Frame`].
    pub fn next_message(&mut self) -> Option<Result<(usize, Bytes), CaptureError>> {
        let offset = self.pos;
        let rest = self.data.get(offset..).filter(|r| !r.is_empty())?;
        let fail = |kind| Err(CaptureError { offset, kind });
        let (len, used) = match varint::decode(rest) {
            Ok(v) => v,
            Err(e) => {
                self.pos = self.data.len();
                return Some(fail(CaptureErrorKind::Length(e)));
            }
        };
        let available = rest.len() - used;
        let n = match usize::try_from(len) {
            Ok(n) if n <= MAX_FRAME_BYTES => n,
            _ => {
                self.pos = self.data.len();
                return Some(fail(CaptureErrorKind::TooLarge {
                    len,
                    max: MAX_FRAME_BYTES,
                }));
            }
        };
        if n > available {
            self.pos = self.data.len();
            return Some(fail(CaptureErrorKind::Truncated { len, available }));
        }
        let start = offset + used;
        self.pos = start + n;
        Some(Ok((offset, self.data.slice(start..start + n))))
    }
}

impl Iterator for CaptureReader {
    type Item = Result<CapturedFrame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.next_message()?
                .and_then(|(offset, message)| match Frame::decode(&message) {
                    Ok(frame) => Ok(CapturedFrame {
                        offset,
                        message,
                        frame,
                    }),
                    Err(e) => Err(CaptureError {
                        offset,
                        kind: CaptureErrorKind::Frame(e),
                    }),
                }),
        )
    }
}

/// Appends one record (`length ‖ message`) to a capture being built.
///
/// # Errors
/// [`FrameError::FrameTooLarge`] for a message over
/// [`MAX_FRAME_BYTES`], which a reader refuses;
/// nothing is appended then.
pub fn append_record(out: &mut Vec<u8>, message: &[u8]) -> Result<(), FrameError> {
    if message.len() > MAX_FRAME_BYTES {
        return Err(FrameError::FrameTooLarge {
            len: message.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    varint::encode_to_vec(message.len() as u64, out);
    out.extend_from_slice(message);
    Ok(())
}

/// Writes a capture to an [`std::io::Write`], one record at a time.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct CaptureWriter<W> {
    inner: W,
    record: Vec<u8>,
}

#[cfg(feature = "std")]
impl<W: std::io::Write> CaptureWriter<W> {
    /// A writer appending records to `inner`.
    pub fn new(inner: W) -> Self {
        CaptureWriter {
            inner,
            record: Vec::new(),
        }
    }

    /// Writes one message as it came off the wire.
    ///
    /// # Errors
    /// The writer's I/O errors; [`std::io::ErrorKind::InvalidInput`] for a
    /// message over [`MAX_FRAME_BYTES`].
    pub fn write_message(&mut self, message: &[u8]) -> std::io::Result<()> {
        self.record.clear();
        append_record(&mut self.record, message)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.inner.write_all(&self.record)
    }

    /// Encodes a frame and writes it.
    ///
    /// # Errors
    /// As [`write_message`](CaptureWriter::write_message).
    pub fn write_frame(&mut self, frame: &Frame) -> std::io::Result<()> {
        let message = frame.encode();
        self.write_message(&message)
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// The flush's I/O error.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}
