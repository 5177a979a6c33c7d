//! Keys and signatures: secp256k1 (k256) and P-256, low-S ECDSA, multikey and did:key.
