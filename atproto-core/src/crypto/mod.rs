//! Keys and signatures: secp256k1 (k256) and P-256, low-S ECDSA, multikey and did:key.
//!
//! atproto signs with ECDSA over SHA-256 on two curves, secp256k1 (`ES256K`,
//! the usual default) and NIST P-256 (`ES256`). A signature is 64 bytes,
//! `r‖s` big-endian. Keys travel as multikeys (`zQ3s…`, `zDnae…`) and
//! `did:key`s; see [`PublicKey::to_did_key`].
//!
//! ```
//! use atproto_core::crypto::{Curve, Keypair, PublicKey};
//!
//! let key = Keypair::from_private_bytes(Curve::K256, &[7u8; 32])?;
//! let sig = key.sign(b"hello");
//! let did = key.public_key().to_did_key();
//! assert!(did.starts_with("did:key:zQ3s"));
//! PublicKey::from_did_key(&did)?.verify(b"hello", &sig)?;
//! # Ok::<(), atproto_core::crypto::CryptoError>(())
//! ```
//!
//! # Design decisions
//!
//! **Why RustCrypto `k256`/`p256`.** They are pure Rust, build under
//! `no_std` with only `alloc` (so this module works on embedded targets and
//! in WebAssembly without a C toolchain), aim for constant-time secret
//! operations, and are the Rust ecosystem's standard ECDSA implementation
//! (used by the existing Rust atproto crates too). `k256`, including its
//! ECDSA, was audited by NCC Group (the issues found were fixed); `p256`'s
//! own README notes its arithmetic has not been independently audited, which
//! is the same trade-off every pure-Rust P-256 option has today. C bindings
//! such as `secp256k1` would be faster but cover one curve and need a C
//! compiler. Their types stay private: [`Keypair`], [`PublicKey`] and
//! [`CryptoError`] are this crate's own, so a RustCrypto major release is not
//! a breaking change here.
//!
//! **Low-S.** atproto requires low-S signatures (S ≤ n/2) for commits and PLC
//! operations, to rule out signature malleability. [`Keypair::sign`] always
//! normalises S (RustCrypto does so for k256 but not for p256), and
//! [`PublicKey::verify`] rejects a high-S signature with
//! [`CryptoError::HighS`] even though it is mathematically valid ECDSA. It
//! also rejects ASN.1 DER signatures ([`CryptoError::DerSignature`]): only
//! 64-byte compact `r‖s` is accepted.
//!
//! **Lenient JWT verification.** The reference implementations verify
//! inter-service JWTs (`ES256K`/`ES256`) without the low-S rule, and some
//! issuers (e.g. generic JOSE libraries with P-256) emit high-S. So
//! [`PublicKey::verify_lenient`] exists for JWT use: it normalises S before
//! verifying, but still requires the 64-byte compact form that JWS mandates.
//! Everything that is stored or hashed into a repository or PLC log uses the
//! strict [`PublicKey::verify`].
//!
//! **Secrets.** A [`Keypair`]'s scalar is zeroed when the keypair is dropped
//! (RustCrypto's signing keys zeroize themselves; [`Keypair`] holds nothing
//! else secret), its `Debug` shows only the curve and the public key, and
//! [`Keypair::private_bytes`] hands the scalar out in a [`Zeroizing`] buffer
//! that zeroes itself in turn. Keep copies of key material the same way.

mod curve;
mod error;
mod keypair;
mod multikey;
mod public_key;

pub use curve::Curve;
pub use error::CryptoError;
pub use keypair::Keypair;
pub use public_key::PublicKey;
/// A value zeroed on drop (from the `zeroize` crate): how secret bytes leave
/// this module.
pub use zeroize::Zeroizing;
