//! The crypto module's error type.

use alloc::string::String;

use crate::varint::VarintError;

/// Why a key, multikey, did:key or signature was rejected.
///
/// No variant carries another crate's error type: the RustCrypto and
/// multibase errors are deliberately opaque and are mapped to the variant that
/// says what was wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The private key is not 32 bytes, or is zero or not below the curve order.
    #[error("invalid private key: expected a 32-byte scalar in 1..n")]
    InvalidPrivateKey,
    /// The public key bytes are not a valid SEC1 point on the curve.
    #[error("invalid public key: not a valid SEC1 point on the curve")]
    InvalidPublicKey,
    /// Decoded public key bytes have the wrong length.
    #[error("invalid public key length: {len} bytes (expected {expected})")]
    PublicKeyLength {
        /// The number of key bytes found.
        len: usize,
        /// What was expected (e.g. `"33"` or `"33 or 65"`).
        expected: &'static str,
    },
    /// A curve name that is not `k256`/`secp256k1`/`p256`/`secp256r1`.
    #[error("unsupported curve {0:?} (expected k256, secp256k1, p256 or secp256r1)")]
    UnsupportedCurve(String),
    /// A multikey whose multicodec prefix is not secp256k1-pub (`0xe7`) or
    /// p256-pub (`0x1200`).
    #[error("unknown multicodec 0x{0:x} (expected secp256k1-pub 0xe7 or p256-pub 0x1200)")]
    UnknownMulticodec(u64),
    /// A multikey too short to hold a multicodec varint.
    #[error("multikey is missing or has a truncated multicodec prefix")]
    MissingMulticodec,
    /// A multikey whose multicodec varint is not in its shortest form or is
    /// longer than 9 bytes (see [`crate::varint`]).
    #[error("multikey has a malformed multicodec prefix: {0}")]
    MalformedMulticodec(VarintError),
    /// The string is not base58btc multibase (`z` prefix and base58 alphabet).
    #[error("invalid multibase: expected base58btc ('z' prefix, base58 alphabet)")]
    InvalidMultibase,
    /// The string does not start with `did:key:`.
    #[error("not a did:key (expected a `did:key:z…` string)")]
    NotDidKey,
    /// A signature that is neither 64-byte compact `r‖s` nor DER.
    #[error("invalid signature length: {len} bytes (expected 64-byte r‖s)")]
    SignatureLength {
        /// The number of signature bytes found.
        len: usize,
    },
    /// An ASN.1 DER-encoded signature; atproto requires 64-byte compact `r‖s`.
    #[error("DER-encoded signatures are not accepted (expected 64-byte r‖s)")]
    DerSignature,
    /// The signature's S is above n/2; atproto requires low-S.
    #[error("high-S signature rejected (atproto requires low-S)")]
    HighS,
    /// The signature does not verify for this key and message (or r/s are
    /// zero or out of range).
    #[error("signature verification failed")]
    BadSignature,
    /// A DID-document verification method type this module does not read.
    #[error("unknown verification method type {0:?}")]
    UnknownVerificationMethodType(String),
}
