//! Compact JWS tokens (`header.payload.signature`, base64url without padding)
//! signed with `ES256K` (secp256k1), `ES256` (P-256) or `HS256` (HMAC-SHA256).
//!
//! **Strict ECDSA.** Signing goes through [`Keypair::sign`] (SHA-256 of the
//! signing input, 64-byte `r‖s`, low-S). Verification uses the strict
//! [`PublicKey::verify`]: a high-S signature is rejected with
//! [`JwtError::HighS`] and an ASN.1 DER signature with
//! [`JwtError::DerSignature`], even though both are mathematically valid
//! ECDSA. The reference implementations accept high-S on JWTs; this crate
//! does not (issue 10 decided it), so a token has exactly one valid signature.
//!
//! **Bounded parsing.** A token longer than [`MAX_TOKEN_LEN`] bytes is
//! rejected before any decoding. base64url must be unpadded and canonical
//! (no trailing bits set); JSON nesting is limited by `serde_json`'s recursion
//! limit. A repeated named field (`alg`, `typ`, `kid`, or a claim of
//! [`Claims`]) is rejected; among the other fields kept in `extra`, the last
//! occurrence wins. Times must be JSON integers. Every failure is a
//! [`JwtError`]; nothing panics on input.

use atproto_core::{CryptoError, Keypair, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The longest token [`Jwt::parse`] accepts, in bytes (8 KiB). Service-auth and
/// session tokens are a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A JWS signature algorithm this module supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alg {
    /// ECDSA on secp256k1 with SHA-256.
    Es256k,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// HMAC with SHA-256 (shared secret; session tokens).
    Hs256,
}

impl Alg {
    /// The `alg` header value: `ES256K`, `ES256` or `HS256`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Alg::Es256k => "ES256K",
            Alg::Es256 => "ES256",
            Alg::Hs256 => "HS256",
        }
    }

    /// The algorithm for an `alg` header value (case-sensitive), if supported.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256K" => Some(Alg::Es256k),
            "ES256" => Some(Alg::Es256),
            "HS256" => Some(Alg::Hs256),
            _ => None,
        }
    }
}

/// The JOSE header of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The signature algorithm (`alg`).
    pub alg: Alg,
    /// The token type (`typ`), e.g. `JWT`, `at+jwt`, `refresh+jwt`.
    pub typ: Option<String>,
    /// The key id (`kid`).
    pub kid: Option<String>,
    /// Every other header field, kept as read.
    pub extra: Map<String, Value>,
}

impl Header {
    /// A header with `alg` and `typ: "JWT"`.
    #[must_use]
    pub fn new(alg: Alg) -> Self {
        Header {
            alg,
            typ: Some("JWT".to_owned()),
            kid: None,
            extra: Map::new(),
        }
    }
}

/// The header as JSON: `alg` as a string, so an unknown algorithm is a typed
/// error rather than a JSON error.
#[derive(Serialize, Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// The claims (payload) of a token. Times are seconds since the Unix epoch
/// and must be JSON integers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (`iss`): for service auth a DID, or `did#service-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience (`aud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Subject (`sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry time (`exp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued-at time (`iat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Token id (`jti`), unique per token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Lexicon method (`lxm`): the NSID a service-auth token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lxm: Option<String>,
    /// OAuth-style scope (`scope`), e.g. `com.atproto.access`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Every other claim, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Which part of a token an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The first part, the JOSE header.
    Header,
    /// The second part, the claims.
    Payload,
    /// The third part, the signature.
    Signature,
}

impl core::fmt::Display for Part {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a token could not be parsed, signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("token is {len} bytes, longer than the limit of {max}")]
    TooLong {
        /// The token's length in bytes.
        len: usize,
        /// The limit, [`MAX_TOKEN_LEN`].
        max: usize,
    },
    /// The token is not three non-empty-header/payload parts joined by `.`.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A part is not unpadded canonical base64url.
    #[error("the {0} is not unpadded base64url")]
    Base64(Part),
    /// The header or payload is not the expected JSON object.
    #[error("the {part} is not a valid JSON object: {message}")]
    Json {
        /// The part that failed.
        part: Part,
        /// What `serde_json` reported.
        message: String,
    },
    /// The header's `alg` is not `ES256K`, `ES256` or `HS256`.
    #[error("unsupported alg {0:?} (expected ES256K, ES256 or HS256)")]
    UnsupportedAlg(String),
    /// The header's `alg` does not fit the key it is verified or signed with.
    #[error("alg {alg} does not match the key ({key})")]
    AlgKeyMismatch {
        /// The token's algorithm.
        alg: &'static str,
        /// What the key is for: `ES256K`, `ES256` or `HS256`.
        key: &'static str,
    },
    /// The signature is not the right length (64 bytes `r‖s` for ECDSA,
    /// 32 for HS256).
    #[error("the signature is {len} bytes (expected {expected})")]
    SignatureLength {
        /// The decoded signature length.
        len: usize,
        /// The expected length.
        expected: usize,
    },
    /// An ASN.1 DER ECDSA signature; JWS requires 64-byte `r‖s`.
    #[error("DER-encoded signature rejected (JWS requires 64-byte r‖s)")]
    DerSignature,
    /// A high-S ECDSA signature (valid, but malleable); rejected.
    #[error("high-S signature rejected (low-S required)")]
    HighS,
    /// The signature does not verify for this key and token.
    #[error("signature verification failed")]
    BadSignature,
    /// The HMAC implementation refused the secret (HMAC takes keys of any
    /// length, so this is not expected to occur).
    #[error("HMAC-SHA256 refused the secret")]
    HmacKey,
}

/// A parsed, not yet verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    header: Header,
    claims: Claims,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    /// Parses a compact JWS: checks the length bound, splits on `.`, decodes
    /// the three base64url parts and the header and claims JSON. The
    /// signature is not checked; call a `verify_*` method.
    ///
    /// # Errors
    /// [`JwtError::TooLong`], [`JwtError::Malformed`], [`JwtError::Base64`],
    /// [`JwtError::Json`] or [`JwtError::UnsupportedAlg`].
    pub fn parse(token: &str) -> Result<Jwt, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::TooLong {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("expected three parts separated by '.'"));
        };
        if h.is_empty() || p.is_empty() || s.is_empty() {
            return Err(JwtError::Malformed("a part is empty"));
        }
        let raw: RawHeader = decode_json(h, Part::Header)?;
        let alg = Alg::from_name(&raw.alg).ok_or(JwtError::UnsupportedAlg(raw.alg))?;
        let header = Header {
            alg,
            typ: raw.typ,
            kid: raw.kid,
            extra: raw.extra,
        };
        let claims: Claims = decode_json(p, Part::Payload)?;
        let signature = decode_b64(s, Part::Signature)?;
        Ok(Jwt {
            header,
            claims,
            signing_input: token[..h.len() + 1 + p.len()].to_owned(),
            signature,
        })
    }

    /// The header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The claims.
    #[must_use]
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Consumes the token, returning its claims.
    #[must_use]
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// The signed bytes: `header.payload` as they appear in the token.
    #[must_use]
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The decoded signature bytes.
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Verifies an `ES256K`/`ES256` signature with `key`, strictly: 64-byte
    /// `r‖s`, low-S.
    ///
    /// # Errors
    /// [`JwtError::AlgKeyMismatch`] if `alg` is not the key's curve's
    /// algorithm; [`JwtError::DerSignature`], [`JwtError::SignatureLength`],
    /// [`JwtError::HighS`] or [`JwtError::BadSignature`].
    pub fn verify_ecdsa(&self, key: &PublicKey) -> Result<(), JwtError> {
        check_alg(self.header.alg, key.curve().jwt_alg())?;
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|e| match e {
                CryptoError::DerSignature => JwtError::DerSignature,
                CryptoError::HighS => JwtError::HighS,
                CryptoError::SignatureLength { len } => {
                    JwtError::SignatureLength { len, expected: 64 }
                }
                _ => JwtError::BadSignature,
            })
    }

    /// Verifies an `HS256` signature with the shared `secret`, comparing in
    /// constant time.
    ///
    /// # Errors
    /// [`JwtError::AlgKeyMismatch`] if `alg` is not `HS256`;
    /// [`JwtError::SignatureLength`] or [`JwtError::BadSignature`].
    pub fn verify_hs256(&self, secret: &[u8]) -> Result<(), JwtError> {
        check_alg(self.header.alg, Alg::Hs256.as_str())?;
        if self.signature.len() != 32 {
            return Err(JwtError::SignatureLength {
                len: self.signature.len(),
                expected: 32,
            });
        }
        hmac_sha256(secret, self.signing_input.as_bytes())?
            .verify_slice(&self.signature)
            .map_err(|_| JwtError::BadSignature)
    }
}

/// Signs `claims` under `header` with an ECDSA keypair (low-S `r‖s`).
///
/// # Errors
/// [`JwtError::AlgKeyMismatch`] if `header.alg` is not the keypair's curve's
/// algorithm; [`JwtError::Json`] if a claim cannot be serialised.
pub fn sign_ecdsa(header: &Header, claims: &Claims, key: &Keypair) -> Result<String, JwtError> {
    check_alg(header.alg, key.curve().jwt_alg())?;
    let mut token = signing_input(header, claims)?;
    let sig = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut token);
    Ok(token)
}

/// Signs `claims` under `header` with HMAC-SHA256 and a shared `secret`.
///
/// # Errors
/// [`JwtError::AlgKeyMismatch`] if `header.alg` is not `HS256`;
/// [`JwtError::Json`] if a claim cannot be serialised; [`JwtError::HmacKey`]
/// if the HMAC implementation refuses the secret.
pub fn sign_hs256(header: &Header, claims: &Claims, secret: &[u8]) -> Result<String, JwtError> {
    check_alg(header.alg, Alg::Hs256.as_str())?;
    let mut token = signing_input(header, claims)?;
    let mac = hmac_sha256(secret, token.as_bytes())?
        .finalize()
        .into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(mac, &mut token);
    Ok(token)
}

/// Requires the token's `alg` to be the algorithm the key is for.
fn check_alg(alg: Alg, key_alg: &'static str) -> Result<(), JwtError> {
    if alg.as_str() == key_alg {
        Ok(())
    } else {
        Err(JwtError::AlgKeyMismatch {
            alg: alg.as_str(),
            key: key_alg,
        })
    }
}

fn hmac_sha256(secret: &[u8], msg: &[u8]) -> Result<Hmac<Sha256>, JwtError> {
    // HMAC accepts keys of any length (long keys are hashed first), so this
    // does not fail; the error is mapped rather than unwrapped all the same.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| JwtError::HmacKey)?;
    mac.update(msg);
    Ok(mac)
}

fn signing_input(header: &Header, claims: &Claims) -> Result<String, JwtError> {
    let raw = RawHeader {
        alg: header.alg.as_str().to_owned(),
        typ: header.typ.clone(),
        kid: header.kid.clone(),
        extra: header.extra.clone(),
    };
    let h = serde_json::to_vec(&raw).map_err(|e| json_error(Part::Header, &e))?;
    let p = serde_json::to_vec(claims).map_err(|e| json_error(Part::Payload, &e))?;
    let mut out = URL_SAFE_NO_PAD.encode(h);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(p, &mut out);
    Ok(out)
}

fn decode_b64(s: &str, part: Part) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::Base64(part))
}

fn decode_json<T: serde::de::DeserializeOwned>(s: &str, part: Part) -> Result<T, JwtError> {
    let bytes = decode_b64(s, part)?;
    serde_json::from_slice(&bytes).map_err(|e| json_error(part, &e))
}

fn json_error(part: Part, e: &serde_json::Error) -> JwtError {
    JwtError::Json {
        part,
        message: e.to_string(),
    }
}
