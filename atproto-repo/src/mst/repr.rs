//! Compact in-memory form of value CIDs.
//!
//! A tree of 100,000 keys spends most of its time walking entries, so an
//! entry keeps its key as a [`RecordPath`](crate::RecordPath) (inline when
//! short, as almost every repository path is) and its value as a bare
//! SHA-256 digest when the CID is the usual CIDv1 + sha2-256: an entry is
//! 112 bytes with no further allocation, instead of a 96-byte `Cid` plus a
//! separately allocated key.

use alloc::boxed::Box;
use alloc::vec::Vec;

use atproto_core::Cid;
use atproto_core::cid::Version;
use atproto_core::data::{SHA2_256, SHA2_256_LEN, sha256_cid};

use super::node::{write_cid, write_sha256_link};

/// A value CID: a bare digest for CIDv1 + sha2-256, boxed otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueCid {
    Sha256 {
        codec: u64,
        digest: [u8; SHA2_256_LEN],
    },
    Other(Box<Cid>),
}

impl ValueCid {
    pub(crate) fn new(cid: &Cid) -> Self {
        let mh = cid.hash();
        match <[u8; SHA2_256_LEN]>::try_from(mh.digest()) {
            Ok(digest) if cid.version() == Version::V1 && mh.code() == SHA2_256 => {
                ValueCid::Sha256 {
                    codec: cid.codec(),
                    digest,
                }
            }
            _ => ValueCid::Other(Box::new(*cid)),
        }
    }

    pub(crate) fn to_cid(&self) -> Cid {
        match self {
            ValueCid::Sha256 { codec, digest } => sha256_cid(*codec, digest),
            ValueCid::Other(cid) => **cid,
        }
    }

    /// Writes the CID as DAG-CBOR (tag 42).
    #[inline]
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            ValueCid::Sha256 { codec, digest } if *codec < 0x80 => {
                write_sha256_link(out, *codec as u8, digest);
            }
            other => write_cid(out, &other.to_cid()),
        }
    }
}
