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
use crate::varint::{self, VarintError};

/// The `did:key:` method prefix.
const DID_KEY_PREFIX: &str = "did:key:";

/// The longest multikey accepted, in characters; a valid one is about 50.
/// Bounds the base58 decoding work (quadratic in the input length).
const MAX_MULTIKEY_LEN: usize = 128;

impl PublicKey {
    /// The key as a multikey: `z` + base58btc(multicodec ‖ compressed point).
    #[must_use]
    pub fn to_multikey(&self) -> String {
        let mut bytes = Vec::with_capacity(35);
        varint::encode_to_vec(self.curve().multicodec(), &mut bytes);
        bytes.extend_from_slice(&self.to_compressed_bytes());
        multibase::encode(multibase::Base::Base58Btc, bytes)
    }

    /// Parses a multikey (`zQ3s…` for secp256k1, `zDnae…` for P-256).
    ///
    /// # Errors
    /// [`CryptoError::InvalidMultibase`] if not `z` + base58btc,
    /// [`CryptoError::MissingMulticodec`] / [`CryptoError::UnknownMulticodec`]
    /// for a missing or unsupported codec, [`CryptoError::MalformedMulticodec`]
    /// for a codec varint that is not minimal or too long, [`CryptoError::PublicKeyLength`]
    /// unless exactly a 33-byte compressed point follows, and
    /// [`CryptoError::InvalidPublicKey`] if the point is not on the curve.
    pub fn from_multikey(multikey: &str) -> Result<Self, CryptoError> {
        let bytes = decode_base58btc(multikey)?;
        let (codec, used) = varint::decode(&bytes).map_err(|e| match e {
            VarintError::Truncated => CryptoError::MissingMulticodec,
            e => CryptoError::MalformedMulticodec(e),
        })?;
        let curve = Curve::from_multicodec(codec).ok_or(CryptoError::UnknownMulticodec(codec))?;
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
