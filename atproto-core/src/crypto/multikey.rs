//! Text forms of public keys: multikey, `did:key`, and the legacy
//! DID-document `EcdsaSecp256{k,r}1VerificationKey2019` encoding.
//!
//! A multikey is `z` + base58btc(multicodec varint ‖ 33-byte compressed
//! point), with varint `0xe7 0x01` (secp256k1-pub, `zQ3s…`) or `0x80 0x24`
//! (p256-pub, `zDnae…`). A `did:key` is `did:key:` + multikey. The legacy
//! form is a multibase string of the bare point with no multicodec prefix;
//! atproto only reads it, never writes it.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{CryptoError, Curve, PublicKey};

/// The `did:key:` method prefix.
const DID_KEY_PREFIX: &str = "did:key:";

/// Multicodec code for secp256k1-pub.
const MULTICODEC_K256: u64 = 0xe7;
/// Multicodec code for p256-pub.
const MULTICODEC_P256: u64 = 0x1200;

/// The longest multikey accepted, in characters; a valid one is about 50.
/// Bounds the base58 decoding work (quadratic in the input length).
const MAX_MULTIKEY_LEN: usize = 128;

impl PublicKey {
    /// The key as a multikey: `z` + base58btc(multicodec ‖ compressed point).
    #[must_use]
    pub fn to_multikey(&self) -> String {
        let mut bytes = Vec::with_capacity(35);
        bytes.extend_from_slice(&self.curve().multicodec_prefix());
        bytes.extend_from_slice(&self.to_compressed_bytes());
        multibase::encode(multibase::Base::Base58Btc, bytes)
    }

    /// Parses a multikey (`zQ3s…` for secp256k1, `zDnae…` for P-256).
    ///
    /// # Errors
    /// [`CryptoError::InvalidMultibase`] if not `z` + base58btc,
    /// [`CryptoError::MissingMulticodec`] / [`CryptoError::UnknownMulticodec`]
    /// for a missing or unsupported codec, [`CryptoError::PublicKeyLength`]
    /// unless exactly a 33-byte compressed point follows, and
    /// [`CryptoError::InvalidPublicKey`] if the point is not on the curve.
    pub fn from_multikey(multikey: &str) -> Result<Self, CryptoError> {
        let bytes = decode_base58btc(multikey)?;
        let (codec, used) = read_varint(&bytes).ok_or(CryptoError::MissingMulticodec)?;
        let curve = match codec {
            MULTICODEC_K256 => Curve::K256,
            MULTICODEC_P256 => Curve::P256,
            other => return Err(CryptoError::UnknownMulticodec(other)),
        };
        // Only the minimal two-byte varint is canonical.
        if used != 2 {
            return Err(CryptoError::UnknownMulticodec(codec));
        }
        let point = bytes.get(used..).unwrap_or_default();
        if point.len() != 33 {
            return Err(CryptoError::PublicKeyLength {
                len: point.len(),
                expected: "33",
            });
        }
        PublicKey::from_sec1_bytes(curve, point)
    }

    /// The key as a `did:key`: `did:key:` + [multikey](Self::to_multikey).
    #[must_use]
    pub fn to_did_key(&self) -> String {
        let mut out = String::from(DID_KEY_PREFIX);
        out.push_str(&self.to_multikey());
        out
    }

    /// Parses a `did:key` (`did:key:zQ3s…` or `did:key:zDnae…`).
    ///
    /// # Errors
    /// [`CryptoError::NotDidKey`] without the `did:key:` prefix, otherwise as
    /// for [`from_multikey`](Self::from_multikey).
    pub fn from_did_key(did: &str) -> Result<Self, CryptoError> {
        let multikey = did
            .strip_prefix(DID_KEY_PREFIX)
            .ok_or(CryptoError::NotDidKey)?;
        PublicKey::from_multikey(multikey)
    }

    /// Parses a legacy DID-document key: `suite` is
    /// `EcdsaSecp256k1VerificationKey2019` or `EcdsaSecp256r1VerificationKey2019`
    /// and `public_key_multibase` is base58btc multibase of the SEC1 point with
    /// no multicodec prefix (compressed, or uncompressed for old documents).
    ///
    /// # Errors
    /// [`CryptoError::UnknownVerificationMethodType`] for another suite,
    /// [`CryptoError::InvalidMultibase`], [`CryptoError::PublicKeyLength`] or
    /// [`CryptoError::InvalidPublicKey`] for a bad key.
    pub fn from_legacy_multibase(
        suite: &str,
        public_key_multibase: &str,
    ) -> Result<Self, CryptoError> {
        let curve = match suite {
            "EcdsaSecp256k1VerificationKey2019" => Curve::K256,
            "EcdsaSecp256r1VerificationKey2019" => Curve::P256,
            other => {
                return Err(CryptoError::UnknownVerificationMethodType(
                    other.to_string(),
                ));
            }
        };
        let bytes = decode_base58btc(public_key_multibase)?;
        PublicKey::from_sec1_bytes(curve, &bytes)
    }

    /// Parses a DID-document verification method from its `type` and
    /// `publicKeyMultibase`: `Multikey` (the current atproto form) or either
    /// legacy `EcdsaSecp256{k,r}1VerificationKey2019` suite.
    ///
    /// # Errors
    /// [`CryptoError::UnknownVerificationMethodType`] for any other type,
    /// otherwise as for [`from_multikey`](Self::from_multikey) or
    /// [`from_legacy_multibase`](Self::from_legacy_multibase).
    pub fn from_verification_method(
        type_: &str,
        public_key_multibase: &str,
    ) -> Result<Self, CryptoError> {
        match type_ {
            "Multikey" => PublicKey::from_multikey(public_key_multibase),
            suite => PublicKey::from_legacy_multibase(suite, public_key_multibase),
        }
    }
}

/// Decodes `z` + base58btc, refusing other multibase prefixes and over-long input.
fn decode_base58btc(s: &str) -> Result<Vec<u8>, CryptoError> {
    let body = s.strip_prefix('z').ok_or(CryptoError::InvalidMultibase)?;
    if body.is_empty() || s.len() > MAX_MULTIKEY_LEN {
        return Err(CryptoError::InvalidMultibase);
    }
    multibase::Base::Base58Btc
        .decode(body)
        .map_err(|_| CryptoError::InvalidMultibase)
}

/// Reads an unsigned LEB128 varint of at most 9 bytes (the multiformats
/// limit); returns the value and the number of bytes used.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().take(9).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}
