//! Private keys and signing.

use core::fmt;

use k256::ecdsa::signature::hazmat::PrehashSigner;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::public_key::{K256Key, PublicKeyInner, sha256};
use super::{CryptoError, Curve, PublicKey};

/// A secp256k1 or P-256 signing key.
///
/// Signatures are deterministic (RFC 6979), 64-byte `r‖s` big-endian and
/// always low-S. `Debug` shows only the curve and the public key; the secret
/// scalar is zeroed when the keypair (and each clone) is dropped.
#[derive(Clone)]
pub struct Keypair {
    inner: KeypairInner,
}

/// Only the RustCrypto signing keys hold the secret, and they zero it on
/// drop.
impl ZeroizeOnDrop for Keypair {}

// `Keypair`'s promise rests on this: it fails to compile if a RustCrypto
// release stops zeroizing its signing keys.
const _: fn() = || {
    fn zeroize_on_drop<T: ZeroizeOnDrop>() {}
    zeroize_on_drop::<k256::ecdsa::SigningKey>();
    zeroize_on_drop::<p256::ecdsa::SigningKey>();
};

#[derive(Clone)]
enum KeypairInner {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl Keypair {
    /// Generates a new random key on `curve` from the operating system's RNG.
    ///
    /// # Panics
    /// If the operating system's RNG fails, which does not happen on supported
    /// platforms.
    #[cfg(feature = "std")]
    #[must_use]
    pub fn generate(curve: Curve) -> Keypair {
        use k256::elliptic_curve::Generate;
        let inner = match curve {
            Curve::K256 => KeypairInner::K256(k256::ecdsa::SigningKey::generate()),
            Curve::P256 => KeypairInner::P256(p256::ecdsa::SigningKey::generate()),
        };
        Keypair { inner }
    }

    /// Loads a private key from its 32-byte big-endian scalar. Nothing is
    /// copied out of `bytes`: zeroing them afterwards is the caller's part.
    ///
    /// # Errors
    /// [`CryptoError::InvalidPrivateKey`] unless `bytes` is exactly 32 bytes
    /// holding a scalar in `1..n` for `curve`.
    pub fn from_private_bytes(curve: Curve, bytes: &[u8]) -> Result<Keypair, CryptoError> {
        // Checked here: the RustCrypto slice constructors zero-pad short
        // input. At 32 bytes they borrow the slice as it is.
        if bytes.len() != 32 {
            return Err(CryptoError::InvalidPrivateKey);
        }
        let inner = match curve {
            Curve::K256 => k256::ecdsa::SigningKey::from_slice(bytes).map(KeypairInner::K256),
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(bytes).map(KeypairInner::P256),
        }
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
        Ok(Keypair { inner })
    }

    /// The 32-byte big-endian private scalar, in a buffer that zeroes itself
    /// when dropped. Handle with care: it is the whole secret.
    #[must_use]
    pub fn private_bytes(&self) -> Zeroizing<[u8; 32]> {
        let scalar = Zeroizing::new(match &self.inner {
            KeypairInner::K256(sk) => sk.to_bytes(),
            KeypairInner::P256(sk) => sk.to_bytes(),
        });
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&scalar);
        out
    }

    /// The key's curve.
    #[must_use]
    pub fn curve(&self) -> Curve {
        match self.inner {
            KeypairInner::K256(_) => Curve::K256,
            KeypairInner::P256(_) => Curve::P256,
        }
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        let inner = match &self.inner {
            KeypairInner::K256(sk) => PublicKeyInner::K256(K256Key::new(*sk.verifying_key())),
            KeypairInner::P256(sk) => PublicKeyInner::P256(*sk.verifying_key()),
        };
        PublicKey { inner }
    }

    /// Signs `msg` the atproto way: SHA-256 of `msg`, then deterministic ECDSA
    /// (RFC 6979). Returns `r‖s` big-endian with S normalised to low-S.
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.sign_prehash(&sha256(msg))
    }

    /// Signs a SHA-256 hash computed by the caller; otherwise as [`sign`](Self::sign).
    #[must_use]
    pub fn sign_prehash(&self, hash: &[u8; 32]) -> [u8; 64] {
        // `sign_prehash` fails only for a prehash shorter than half the field
        // size (never for 32 bytes) or if RFC 6979 yields r or s = 0
        // (probability ~2^-256). The same `expect` sits inside RustCrypto's
        // own infallible `Signer::sign`.
        #[allow(clippy::expect_used)]
        match &self.inner {
            KeypairInner::K256(sk) => {
                let sig: k256::ecdsa::Signature =
                    sk.sign_prehash(hash).expect("ECDSA signing failed");
                sig.normalize_s().to_bytes().into()
            }
            KeypairInner::P256(sk) => {
                let sig: p256::ecdsa::Signature =
                    sk.sign_prehash(hash).expect("ECDSA signing failed");
                sig.normalize_s().to_bytes().into()
            }
        }
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("curve", &self.curve())
            .field("public_key", &self.public_key().to_did_key())
            .finish_non_exhaustive()
    }
}
