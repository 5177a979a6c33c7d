//! CAR v1: the archive format of repositories (`getRepo`) and of firehose
//! `blocks` slices.
//!
//! A CAR is a varint-prefixed DAG-CBOR header `{roots: [CID, …], version: 1}`
//! followed by sections `varint(len(cid) + len(block)) ‖ cid ‖ block`.
//!
//! # Reading
//!
//! - [`CarReader`] reads a CAR held in memory ([`Bytes`](bytes::Bytes)):
//!   blocks come out as slices of the input, nothing is copied, and every
//!   byte is hashed once.
//! - `CarStreamReader` (feature `std`) reads from any
//!   [`std::io::Read`](https://doc.rust-lang.org/std/io/trait.Read.html).
//! - `AsyncCarReader` (feature `async`) reads from a
//!   [`futures_io::AsyncRead`](https://docs.rs/futures-io) (tokio users:
//!   `tokio_util::compat`). `futures-io` was chosen over tokio to keep the
//!   crate runtime-agnostic.
//!
//! Every reader checks, for every block:
//! - the CID is CIDv1 with codec dag-cbor (`0x71`) or raw (`0x55`) and a
//!   sha2-256 multihash with a 32-byte digest (the form ATProto writes; CIDv0
//!   and other hashes are rejected, since a block whose hash cannot be checked
//!   cannot be trusted);
//! - SHA-256 of the block equals the CID's digest.
//!
//! Blocks may come in any order; duplicate blocks and blocks unreachable from
//! the roots are accepted (SPEC-NOTES §4). Whether the blocks form a valid
//! repository is for the layers above to check.
//!
//! Strictness decisions: the header must be canonical DAG-CBOR with exactly
//! the keys `roots` (a non-empty array of CIDs) and `version` (the integer
//! 1); varints (length prefixes and the CID's fields) are read with
//! [`atproto_core::varint`]: minimal, and at most 9 bytes. Every length read from input is checked
//! against [`CarLimits`] and, for in-memory input, against what is left,
//! before anything is allocated. After an error a reader is fused: it yields
//! no further blocks.
//!
//! # Writing
//!
//! [`CarWriter`] writes the header and sections to a `Vec<u8>` or (feature
//! `std`) any [`std::io::Write`](https://doc.rust-lang.org/std/io/trait.Write.html), in the order the caller gives.
//!
//! ```
//! use atproto_core::data::dag_cbor_cid;
//! use atproto_repo::car::{CarReader, CarWriter};
//!
//! let block = b"\xa1\x61\x61\x01"; // {"a": 1}
//! let cid = dag_cbor_cid(block);
//! let mut writer = CarWriter::new(Vec::new(), &[cid])?;
//! writer.write_block(&cid, block)?;
//! let car = writer.finish();
//!
//! let mut reader = CarReader::new(car)?;
//! assert_eq!(reader.roots(), &[cid]);
//! let (got_cid, got_block) = reader.next_block()?.expect("one block");
//! assert_eq!((got_cid, &got_block[..]), (cid, &block[..]));
//! assert!(reader.next_block()?.is_none());
//! # Ok::<(), atproto_repo::car::CarError>(())
//! ```

#[cfg(feature = "async")]
mod async_reader;
mod error;
pub(crate) mod reader;
pub(crate) mod section;
#[cfg(feature = "std")]
mod stream;
mod writer;

#[cfg(feature = "async")]
pub use async_reader::AsyncCarReader;
pub use error::{CarError, CarErrorKind, HeaderError};
pub use reader::{CarReader, LoadedCar, load_car};
#[cfg(feature = "std")]
pub use stream::CarStreamReader;
pub use writer::{CarWrite, CarWriter, SinkError};

/// Largest accepted header by default: 64 KiB (a one-root header is 58 bytes;
/// this leaves room for about a thousand roots).
pub const MAX_HEADER_SIZE: usize = 64 * 1024;

/// Largest accepted block by default: 2 MiB (records are at most 1 MiB of
/// DAG-CBOR, SPEC-NOTES §2; MST nodes and commits are far smaller; the rest
/// is slack for raw blocks).
pub const MAX_BLOCK_SIZE: usize = 2 * 1024 * 1024;

/// Largest accepted CAR by default: 16 GiB (repositories hold up to
/// single-digit millions of records, SPEC-NOTES §4, a few GiB).
pub const MAX_TOTAL_SIZE: u64 = 16 * 1024 * 1024 * 1024;

/// Most blocks accepted by default: 64 Mi (a record and about 1.3 MST nodes
/// per key for ten million keys, with room to spare).
pub const MAX_BLOCKS: u64 = 64 * 1024 * 1024;

/// Largest firehose `blocks` CAR slice: 2,000,000 bytes (SPEC-NOTES §5).
pub const MAX_FIREHOSE_CAR_SIZE: u64 = 2_000_000;

/// Bounds applied while reading a CAR, each checked before allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CarLimits {
    /// Largest header (after its length prefix), in bytes.
    pub max_header_size: usize,
    /// Largest block (the bytes after the CID), in bytes. A section's length
    /// prefix is refused as soon as it exceeds this plus the 100 bytes a CID
    /// may take ([`MAX_CID_LEN`](atproto_core::data::MAX_CID_LEN)).
    pub max_block_size: usize,
    /// Largest CAR, in bytes, header and length prefixes included.
    pub max_total_size: u64,
    /// Most blocks (sections), duplicates included.
    pub max_blocks: u64,
}

impl CarLimits {
    /// Limits for whole repositories: header 64 KiB, blocks 2 MiB, total
    /// 16 GiB, 64 Mi blocks.
    pub const DEFAULT: CarLimits = CarLimits {
        max_header_size: MAX_HEADER_SIZE,
        max_block_size: MAX_BLOCK_SIZE,
        max_total_size: MAX_TOTAL_SIZE,
        max_blocks: MAX_BLOCKS,
    };

    /// Limits for a firehose `#commit` `blocks` slice: as [`CarLimits::DEFAULT`]
    /// but at most [`MAX_FIREHOSE_CAR_SIZE`] bytes in all.
    pub const FIREHOSE: CarLimits = CarLimits {
        max_total_size: MAX_FIREHOSE_CAR_SIZE,
        ..CarLimits::DEFAULT
    };

    /// The largest section length prefix these limits let through.
    pub(crate) fn max_section_len(&self) -> u64 {
        (self.max_block_size as u64).saturating_add(atproto_core::data::MAX_CID_LEN as u64)
    }
}

impl Default for CarLimits {
    fn default() -> Self {
        CarLimits::DEFAULT
    }
}
