//! The two curves atproto signs with.

use core::fmt;
use core::str::FromStr;

use alloc::string::ToString;

use super::CryptoError;

/// Multicodec code for secp256k1-pub (the varint `0xe7 0x01`, `zQ3s…`).
const MULTICODEC_K256: u64 = 0xe7;
/// Multicodec code for p256-pub (the varint `0x80 0x24`, `zDnae…`).
const MULTICODEC_P256: u64 = 0x1200;

/// An elliptic curve supported by atproto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Curve {
    /// secp256k1 (`ES256K`), the usual default for atproto repository keys.
    K256,
    /// NIST P-256 / secp256r1 (`ES256`).
    P256,
}

impl Curve {
    /// The JWT/JWS `alg` for ECDSA with SHA-256 on this curve: `ES256K` or `ES256`.
    #[must_use]
    pub const fn jwt_alg(self) -> &'static str {
        match self {
            Curve::K256 => "ES256K",
            Curve::P256 => "ES256",
        }
    }

    /// The curve for a JWT `alg` (`ES256K` or `ES256`), or `None` for any other
    /// algorithm.
    #[must_use]
    pub fn from_jwt_alg(alg: &str) -> Option<Self> {
        match alg {
            "ES256K" => Some(Curve::K256),
            "ES256" => Some(Curve::P256),
            _ => None,
        }
    }

    /// The short name, `k256` or `p256` (the `Display` form).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Curve::K256 => "k256",
            Curve::P256 => "p256",
        }
    }

    /// The multicodec code that prefixes this curve's key in a multikey.
    pub(crate) const fn multicodec(self) -> u64 {
        match self {
            Curve::K256 => MULTICODEC_K256,
            Curve::P256 => MULTICODEC_P256,
        }
    }

    /// The curve whose keys a multikey with multicodec `code` holds.
    pub(crate) const fn from_multicodec(code: u64) -> Option<Self> {
        match code {
            MULTICODEC_K256 => Some(Curve::K256),
            MULTICODEC_P256 => Some(Curve::P256),
            _ => None,
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Curve {
    type Err = CryptoError;

    /// Accepts `k256`, `secp256k1`, `p256` and `secp256r1` (exact, lower case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "k256" | "secp256k1" => Ok(Curve::K256),
            "p256" | "secp256r1" => Ok(Curve::P256),
            other => Err(CryptoError::UnsupportedCurve(other.to_string())),
        }
    }
}
