//! Public keys and signature verification.

use core::fmt;
use core::str::FromStr;

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

use super::{CryptoError, Curve};

/// A secp256k1 or P-256 public key.
///
/// `Debug` and `Display` show the key as a `did:key`; `FromStr` parses a
/// `did:key`. Text forms: [`to_multikey`](Self::to_multikey),
/// [`to_did_key`](Self::to_did_key), and for reading DID documents
/// [`from_verification_method`](Self::from_verification_method).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub(crate) inner: PublicKeyInner,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PublicKeyInner {
    K256(K256Key),
    P256(p256::ecdsa::VerifyingKey),
}

/// A secp256k1 key: RustCrypto's, and with the `libsecp256k1` feature the
/// same point parsed once by libsecp256k1, which verifies about twice as
/// fast (see the crate docs).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct K256Key {
    pub(crate) vk: k256::ecdsa::VerifyingKey,
    /// Always `Some` in practice: every point RustCrypto accepts,
    /// libsecp256k1 accepts too. Verification falls back to RustCrypto
    /// otherwise rather than fail.
    #[cfg(feature = "libsecp256k1")]
    ffi: Option<secp256k1::PublicKey>,
}

impl K256Key {
    pub(crate) fn new(vk: k256::ecdsa::VerifyingKey) -> Self {
        K256Key {
            #[cfg(feature = "libsecp256k1")]
            ffi: secp256k1::PublicKey::from_slice(vk.to_sec1_point(true).as_bytes()).ok(),
            vk,
        }
    }

    /// ECDSA over a SHA-256 digest with a signature already in low-S form.
    fn verify_prehash(
        &self,
        hash: &[u8; 32],
        sig: &k256::ecdsa::Signature,
    ) -> Result<(), CryptoError> {
        #[cfg(feature = "libsecp256k1")]
        if let Some(ffi) = &self.ffi {
            // Compact `r‖s`, both already checked in range and non-zero by
            // RustCrypto's parser, S low: exactly what libsecp256k1 verifies.
            let sig = secp256k1::ecdsa::Signature::from_compact(&sig.to_bytes())
                .map_err(|_| CryptoError::BadSignature)?;
            return secp256k1::SECP256K1
                .verify_ecdsa(secp256k1::Message::from_digest(*hash), &sig, ffi)
                .map_err(|_| CryptoError::BadSignature);
        }
        self.vk
            .verify_prehash(hash, sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

/// Whether a high-S signature is refused (atproto rule) or normalised first
/// (lenient JWT verification).
#[derive(Clone, Copy, PartialEq, Eq)]
enum SPolicy {
    RequireLowS,
    AcceptHighS,
}

impl PublicKey {
    /// The key's curve.
    #[must_use]
    pub fn curve(&self) -> Curve {
        match self.inner {
            PublicKeyInner::K256(_) => Curve::K256,
            PublicKeyInner::P256(_) => Curve::P256,
        }
    }

    /// Parses a SEC1-encoded point: 33-byte compressed (`02`/`03` ‖ x) or
    /// 65-byte uncompressed (`04` ‖ x ‖ y).
    ///
    /// # Errors
    /// [`CryptoError::PublicKeyLength`] for any other length,
    /// [`CryptoError::InvalidPublicKey`] for a wrong SEC1 tag byte or if the
    /// bytes are not a point on `curve`.
    pub fn from_sec1_bytes(curve: Curve, bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes {
            [0x02 | 0x03, ..] if bytes.len() == 33 => {}
            [0x04, ..] if bytes.len() == 65 => {}
            // The RustCrypto decoder also takes the nonstandard "compact"
            // (`0x05`) tag; atproto keys are only ever `02`/`03` or `04`.
            _ if bytes.len() == 33 || bytes.len() == 65 => {
                return Err(CryptoError::InvalidPublicKey);
            }
            _ => {
                return Err(CryptoError::PublicKeyLength {
                    len: bytes.len(),
                    expected: "33 or 65",
                });
            }
        }
        let inner = match curve {
            Curve::K256 => k256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(|vk| PublicKeyInner::K256(K256Key::new(vk)))
                .map_err(|_| CryptoError::InvalidPublicKey)?,
            Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKeyInner::P256)
                .map_err(|_| CryptoError::InvalidPublicKey)?,
        };
        Ok(PublicKey { inner })
    }

    /// The 33-byte SEC1 compressed point (`02`/`03` ‖ x).
    #[must_use]
    pub fn to_compressed_bytes(&self) -> [u8; 33] {
        match &self.inner {
            PublicKeyInner::K256(k) => copy_33(k.vk.to_sec1_point(true).as_bytes()),
            PublicKeyInner::P256(vk) => copy_33(vk.to_sec1_point(true).as_bytes()),
        }
    }

    /// Verifies an atproto signature over `msg`: SHA-256 of `msg`, then ECDSA.
    ///
    /// Strict, as atproto requires for commits and PLC operations: the
    /// signature must be 64-byte compact `r‖s` and S must be low (≤ n/2).
    ///
    /// # Errors
    /// [`CryptoError::DerSignature`] for an ASN.1 DER signature,
    /// [`CryptoError::SignatureLength`] for any other length than 64,
    /// [`CryptoError::HighS`] for a high-S signature (even a mathematically
    /// valid one), [`CryptoError::BadSignature`] if it does not verify.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify_prehash(&sha256(msg), sig)
    }

    /// [`verify`](Self::verify) for a message already hashed with SHA-256.
    ///
    /// # Errors
    /// As for [`verify`](Self::verify).
    pub fn verify_prehash(&self, hash: &[u8; 32], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify_with(hash, sig, SPolicy::RequireLowS)
    }

    /// Verifies like [`verify`](Self::verify) but accepts high-S signatures,
    /// normalising S before checking. For JWT (`ES256K`/`ES256`) verification,
    /// where the reference implementations are lenient. The signature must
    /// still be 64-byte compact `r‖s`, as JWS requires.
    ///
    /// # Errors
    /// As for [`verify`](Self::verify), except never [`CryptoError::HighS`].
    pub fn verify_lenient(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify_with(&sha256(msg), sig, SPolicy::AcceptHighS)
    }

    fn verify_with(&self, hash: &[u8; 32], sig: &[u8], policy: SPolicy) -> Result<(), CryptoError> {
        check_compact(sig)?;
        match &self.inner {
            PublicKeyInner::K256(key) => {
                let sig = k256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| CryptoError::BadSignature)?;
                let sig = low_s(sig, sig.normalize_s(), policy)?;
                key.verify_prehash(hash, &sig)
            }
            PublicKeyInner::P256(vk) => {
                let sig = p256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| CryptoError::BadSignature)?;
                let sig = low_s(sig, sig.normalize_s(), policy)?;
                vk.verify_prehash(hash, &sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
        }
    }
}

/// Returns the low-S form of a signature, or `HighS` if the policy forbids
/// normalising. `normalized == sig` exactly when S is already low.
fn low_s<S: PartialEq>(sig: S, normalized: S, policy: SPolicy) -> Result<S, CryptoError> {
    if sig == normalized || policy == SPolicy::AcceptHighS {
        Ok(normalized)
    } else {
        Err(CryptoError::HighS)
    }
}

/// Requires a 64-byte compact signature; tells DER apart from other lengths.
fn check_compact(sig: &[u8]) -> Result<(), CryptoError> {
    if sig.len() == 64 {
        Ok(())
    } else if looks_like_der(sig) {
        Err(CryptoError::DerSignature)
    } else {
        Err(CryptoError::SignatureLength { len: sig.len() })
    }
}

/// An ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` of plausible size: tag
/// `0x30`, a short-form length covering the rest, and an `INTEGER` tag first.
fn looks_like_der(sig: &[u8]) -> bool {
    matches!(sig, [0x30, len, 0x02, ..] if usize::from(*len) + 2 == sig.len() && sig.len() >= 8 && sig.len() <= 72)
}

pub(crate) fn sha256(msg: &[u8]) -> [u8; 32] {
    Sha256::digest(msg).into()
}

fn copy_33(bytes: &[u8]) -> [u8; 33] {
    let mut out = [0u8; 33];
    // A compressed SEC1 point of a 256-bit curve is always 33 bytes.
    if bytes.len() == 33 {
        out.copy_from_slice(bytes);
    }
    out
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKey")
            .field(&self.to_did_key())
            .finish()
    }
}

impl core::hash::Hash for PublicKey {
    /// Hashes the curve and compressed point, consistent with `Eq`.
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.curve().hash(state);
        self.to_compressed_bytes().hash(state);
    }
}

impl fmt::Display for PublicKey {
    /// The key as a `did:key`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did_key())
    }
}

impl FromStr for PublicKey {
    type Err = CryptoError;

    /// Parses a `did:key`, as [`PublicKey::from_did_key`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicKey::from_did_key(s)
    }
}
