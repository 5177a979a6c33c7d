//! Bounds applied to untrusted data-model input (DAG-CBOR and ATProto JSON).

/// Bounds checked while decoding, before anything is allocated.
///
/// All values come from the ATProto data-model specification as summarised in
/// `SPEC-NOTES.md` §2 ("Limits"). Decoders compare every length, count and
/// nesting level read from input against these numbers before allocating or
/// recursing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest accepted input, in bytes (the whole CBOR document or JSON text).
    pub max_size: usize,
    /// Deepest accepted nesting of arrays and maps. The top-level container is
    /// at depth 1, so `max_depth` nested containers are accepted and one more
    /// is rejected.
    pub max_depth: usize,
    /// Most elements in one array, or entries in one map.
    pub max_container_len: usize,
    /// Longest map key, in bytes of UTF-8.
    pub max_key_len: usize,
    /// Longest binary CID inside a link (tag 42 payload without its `0x00`
    /// prefix), in bytes.
    pub max_cid_len: usize,
}

/// Largest accepted record in DAG-CBOR form: 1 MiB (SPEC-NOTES §2, "record CBOR 1 MiB").
pub const MAX_RECORD_CBOR: usize = 1024 * 1024;

/// Largest accepted record in ATProto JSON form: 2 MiB (SPEC-NOTES §2, "record JSON 2 MiB").
pub const MAX_RECORD_JSON: usize = 2 * 1024 * 1024;

/// Largest accepted DAG-CBOR document of any kind: 5 MiB (SPEC-NOTES §2, "any CBOR parse 5 MiB").
pub const MAX_CBOR_SIZE: usize = 5 * 1024 * 1024;

/// Deepest accepted nesting of containers: 32 (SPEC-NOTES §2, "nesting depth 32").
pub const MAX_DEPTH: usize = 32;

/// Most elements per array or entries per map: 131,072 (SPEC-NOTES §2,
/// "131,072 elements per container").
pub const MAX_CONTAINER_LEN: usize = 131_072;

/// Longest map key: 8192 bytes (SPEC-NOTES §2, "key 8192 bytes").
pub const MAX_KEY_LEN: usize = 8192;

/// Longest binary CID: 100 bytes (SPEC-NOTES §2, "CID 100 bytes").
pub const MAX_CID_LEN: usize = 100;

impl Limits {
    /// Limits for any DAG-CBOR parse (blocks, frames, commits): 5 MiB input,
    /// depth 32, 131,072 elements per container, keys of 8192 bytes, CIDs of
    /// 100 bytes.
    pub const DEFAULT: Limits = Limits {
        max_size: MAX_CBOR_SIZE,
        max_depth: MAX_DEPTH,
        max_container_len: MAX_CONTAINER_LEN,
        max_key_len: MAX_KEY_LEN,
        max_cid_len: MAX_CID_LEN,
    };

    /// Limits for one record in DAG-CBOR form: as [`Limits::DEFAULT`] but at
    /// most [`MAX_RECORD_CBOR`] (1 MiB) of input. For records in JSON form use
    /// [`Limits::RECORD_JSON`].
    pub const RECORD: Limits = Limits {
        max_size: MAX_RECORD_CBOR,
        ..Limits::DEFAULT
    };

    /// Limits for one record in ATProto JSON form: as [`Limits::DEFAULT`] but
    /// at most [`MAX_RECORD_JSON`] (2 MiB) of input text.
    pub const RECORD_JSON: Limits = Limits {
        max_size: MAX_RECORD_JSON,
        ..Limits::DEFAULT
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
