//! The size limits a decoded frame is held to (SPEC-NOTES §5, after the
//! reference PDS and relay).

/// The largest message accepted, header and body together: 5 MiB, the
/// same bound as [`atproto_core::data::limits::MAX_CBOR_SIZE`].
pub const MAX_FRAME_BYTES: usize = 5 * 1024 * 1024;

/// The largest `blocks` CAR slice of a `#commit`.
pub const MAX_COMMIT_BLOCKS_BYTES: usize = 2_000_000;

/// The largest `blocks` CAR slice of a `#sync` (it holds the commit block only).
pub const MAX_SYNC_BLOCKS_BYTES: usize = 10_000;

/// The most `ops` a `#commit` may carry.
pub const MAX_COMMIT_OPS: usize = 200;
