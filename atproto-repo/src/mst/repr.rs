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

use super::node::{SHA2_256, cid_from_codec_digest, write_cid};

/// A value CID: a bare digest for CIDv1 + sha2-256, boxed otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueCid {
    Sha256 { codec: u64, digest: [u8; 32] },
    Other(Box<Cid>),
}

impl ValueCid {
    pub(crate) fn new(cid: &Cid) -> Self {
        let mh = cid.hash();
        if cid.version() == Version::V1 && mh.code() == SHA2_256 && mh.size() == 32 {
            let mut digest = [0u8; 32];
            digest.copy_from_slice(mh.digest());
            ValueCid::Sha256 {
                codec: cid.codec(),
                digest,
            }
        } else {
            ValueCid::Other(Box::new(*cid))
        }
    }

    pub(crate) fn to_cid(&self) -> Cid {
        match self {
            ValueCid::Sha256 { codec, digest } => cid_from_codec_digest(*codec, digest),
            ValueCid::Other(cid) => **cid,
        }
    }

    /// Writes the CID as DAG-CBOR (tag 42).
    #[inline]
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            ValueCid::Sha256 { codec, digest } if *codec < 0x80 => {
                out.extend_from_slice(&[
                    0xd8,
                    0x2a,
                    0x58,
                    0x25,
                    0x00,
                    0x01,
                    *codec as u8,
                    0x12,
                    0x20,
                ]);
                out.extend_from_slice(digest);
            }
            other => write_cid(out, &other.to_cid()),
        }
    }
}
