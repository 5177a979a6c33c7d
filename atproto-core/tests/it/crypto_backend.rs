//! With the `libsecp256k1` feature, secp256k1 signatures are verified by
//! libsecp256k1 instead of RustCrypto's `k256`: both must give the same
//! answer on every signature, valid or not, low-S or high-S.
#![allow(clippy::unwrap_used)]

use atproto_core::crypto::{CryptoError, Curve, Keypair, PublicKey};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// RustCrypto's verdict on a compact signature, with the atproto low-S rule.
fn k256_verdict(key: &PublicKey, hash: &[u8; 32], sig: &[u8; 64]) -> Result<(), CryptoError> {
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&key.to_compressed_bytes()).unwrap();
    let sig = k256::ecdsa::Signature::from_slice(sig).map_err(|_| CryptoError::BadSignature)?;
    if sig.normalize_s() != sig {
        return Err(CryptoError::HighS);
    }
    vk.verify_prehash(hash, &sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// The same signature with S replaced by n - S (valid, but high-S).
fn high_s(sig: &[u8; 64]) -> [u8; 64] {
    let s = k256::ecdsa::Signature::from_slice(sig).unwrap();
    let (r, s) = s.split_scalars();
    let flipped = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    flipped.to_bytes().into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn libsecp256k1_agrees_with_k256(
        secret in prop::array::uniform32(1u8..),
        msg in prop::collection::vec(any::<u8>(), 0..64),
        flip in 0usize..512,
        junk in prop::array::uniform32(any::<u8>()),
    ) {
        let Ok(pair) = Keypair::from_private_bytes(Curve::K256, &secret) else {
            return Ok(());
        };
        let key = pair.public_key();
        let hash: [u8; 32] = Sha256::digest(&msg).into();
        let good = pair.sign_prehash(&hash);
        let mut bad = good;
        bad[flip / 8] ^= 1 << (flip % 8);
        let mut random = [0u8; 64];
        random[..32].copy_from_slice(&junk);
        random[32..].copy_from_slice(&hash);
        let mut other_hash = hash;
        other_hash[0] ^= 1;

        prop_assert_eq!(key.verify_prehash(&hash, &good), Ok(()));
        for (h, sig) in [(&hash, good), (&other_hash, good), (&hash, bad), (&hash, random), (&hash, high_s(&good))] {
            prop_assert_eq!(key.verify_prehash(h, &sig), k256_verdict(&key, h, &sig));
        }
        // Lenient verification normalises S first: the high-S twin passes.
        prop_assert_eq!(key.verify_lenient(&msg, &high_s(&good)), Ok(()));
    }
}
