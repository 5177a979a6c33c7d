//! [`CarWriter`]: writes a CAR v1 in the order the caller gives.

use alloc::vec::Vec;

use atproto_core::Cid;

use super::error::{CarError, CarErrorKind, HeaderError};
use super::section::encode_header;
use atproto_core::data::{MAX_CID_LEN, encode_cid};
use atproto_core::varint::{self, MAX_U64_LEN};

/// The error a [`CarWrite`] sink fails with.
pub type SinkError = alloc::boxed::Box<dyn core::error::Error + Send + Sync>;

/// Where a [`CarWriter`] puts its bytes.
///
/// Implemented for every
/// [`std::io::Write`](https://doc.rust-lang.org/std/io/trait.Write.html)
/// with the `std` feature (including `Vec<u8>`), and for `Vec<u8>` without
/// it. Unbuffered sinks (a `File`, a socket) should be wrapped in a
/// `BufWriter`: the writer makes two small writes per block.
pub trait CarWrite {
    /// Writes all of `bytes`.
    ///
    /// # Errors
    /// The sink's own error; the [`CarWriter`] reports it as a
    /// [`CarErrorKind::Io`] [`CarError`] whose source it is.
    fn write_car_bytes(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
}

#[cfg(feature = "std")]
impl<W: std::io::Write + ?Sized> CarWrite for W {
    fn write_car_bytes(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.write_all(bytes).map_err(SinkError::from)
    }
}

#[cfg(not(feature = "std"))]
impl CarWrite for Vec<u8> {
    fn write_car_bytes(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Writes a CAR v1: the header on creation, then one section per
/// [`write_block`](CarWriter::write_block) call, in call order.
///
/// The writer does not hash: each CID must be the caller's CID of its block
/// (the repository layer computes them when it encodes the blocks).
#[derive(Debug)]
pub struct CarWriter<W> {
    out: W,
    written: u64,
    blocks: u64,
}

impl<W: CarWrite> CarWriter<W> {
    /// Writes the header `{roots, version: 1}` to `out`.
    ///
    /// # Errors
    /// [`HeaderError::NoRoots`] when `roots` is empty (readers refuse such a
    /// CAR), or [`CarErrorKind::Io`].
    pub fn new(mut out: W, roots: &[Cid]) -> Result<Self, CarError> {
        if roots.is_empty() {
            return Err(CarError::new(
                CarErrorKind::BadHeader(HeaderError::NoRoots),
                0,
            ));
        }
        let header = encode_header(roots);
        let mut prefix = [0u8; MAX_U64_LEN];
        let prefix = varint::encode(header.len() as u64, &mut prefix);
        let mut buf = Vec::with_capacity(prefix.len() + header.len());
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(&header);
        out.write_car_bytes(&buf).map_err(|e| CarError::io(e, 0))?;
        Ok(CarWriter {
            out,
            written: buf.len() as u64,
            blocks: 0,
        })
    }

    /// Writes one section: `varint(len(cid) + len(block)) ‖ cid ‖ block`.
    ///
    /// # Errors
    /// [`CarErrorKind::Io`], at the offset where the section started.
    pub fn write_block(&mut self, cid: &Cid, block: &[u8]) -> Result<(), CarError> {
        let mut cid_buf = [0u8; MAX_CID_LEN];
        let cid = encode_cid(cid, &mut cid_buf);
        let mut head = [0u8; MAX_U64_LEN + MAX_CID_LEN];
        let mut prefix = [0u8; MAX_U64_LEN];
        let prefix = varint::encode((cid.len() + block.len()) as u64, &mut prefix);
        let n = prefix.len() + cid.len();
        head[..prefix.len()].copy_from_slice(prefix);
        head[prefix.len()..n].copy_from_slice(cid);
        let at = |e| CarError::io(e, self.written);
        self.out.write_car_bytes(&head[..n]).map_err(at)?;
        self.out.write_car_bytes(block).map_err(at)?;
        self.written += (n + block.len()) as u64;
        self.blocks += 1;
        Ok(())
    }

    /// Bytes written so far, header included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Blocks written so far.
    pub fn blocks_written(&self) -> u64 {
        self.blocks
    }

    /// The sink, for example to inspect a `Vec<u8>` so far.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Ends writing and returns the sink. A CAR has no trailer; flushing a
    /// buffered sink is the caller's business.
    pub fn finish(self) -> W {
        self.out
    }
}
