//! The DID document and its ATProto accessors.
//!
//! A document is parsed with [`DidDocument::parse`], which bounds the input
//! ([`MAX_DID_DOC_SIZE`] bytes, [`MAX_DOC_ENTRIES`] entries per list) and
//! requires `id` to equal the DID that was resolved. Fields this module does
//! not use (`@context`, `controller`, other key types, …) are ignored, never
//! rejected. The accessors follow the ATProto rules:
//!
//! - [`DidDocument::handle`]: the first `alsoKnownAs` entry that is `at://`
//!   followed by a valid handle, lowercased;
//! - [`DidDocument::signing_key`]: the first verification method with id
//!   `#atproto`, of type `Multikey` (or a legacy
//!   `EcdsaSecp256{k,r}1VerificationKey2019`);
//! - [`DidDocument::pds_endpoint`]: the first service `#atproto_pds` of type
//!   `AtprotoPersonalDataServer`.
//!
//! Ids match in both forms, `#frag` and `did#frag` (with the document's DID).
//!
//! ```
//! use atproto_core::Did;
//! use atproto_xrpc::identity::DidDocument;
//!
//! let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse()?;
//! let json = br##"{
//!   "id": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
//!   "alsoKnownAs": ["at://Atproto.com"],
//!   "verificationMethod": [{
//!     "id": "did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto",
//!     "type": "Multikey",
//!     "controller": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
//!     "publicKeyMultibase": "zQ3shunBKsXixLxKtC5qeSG9E4J5RkGN57im31pcTzbNQnm5w"
//!   }],
//!   "service": [{
//!     "id": "#atproto_pds",
//!     "type": "AtprotoPersonalDataServer",
//!     "serviceEndpoint": "https://enoki.us-east.host.bsky.network"
//!   }]
//! }"##;
//! let doc = DidDocument::parse(json, &did)?;
//! assert_eq!(doc.handle().map(|h| h.into_string()).as_deref(), Some("atproto.com"));
//! assert_eq!(doc.pds_endpoint()?, "https://enoki.us-east.host.bsky.network");
//! assert!(doc.signing_key()?.to_did_key().starts_with("did:key:zQ3sh"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use atproto_core::{CryptoError, Did, Handle, PublicKey};
use serde::{Deserialize, Serialize};

/// Largest DID document accepted by [`DidDocument::parse`], in bytes.
pub const MAX_DID_DOC_SIZE: usize = 64 * 1024;

/// Most entries accepted in each of `alsoKnownAs`, `verificationMethod` and
/// `service`.
pub const MAX_DOC_ENTRIES: usize = 64;

/// The verification method id fragment of the ATProto signing key.
pub const ATPROTO_KEY_ID: &str = "atproto";
/// The service id fragment of the account's PDS.
pub const ATPROTO_PDS_ID: &str = "atproto_pds";
/// The service type of a PDS.
pub const ATPROTO_PDS_TYPE: &str = "AtprotoPersonalDataServer";

/// A DID document: the fields ATProto reads. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// The JSON-LD contexts, if any.
    #[serde(rename = "@context", default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    /// The DID this document describes.
    pub id: String,
    /// Other names of the subject; ATProto handles are `at://<handle>`.
    #[serde(default)]
    pub also_known_as: Vec<String>,
    /// Public keys.
    #[serde(default)]
    pub verification_method: Vec<VerificationMethod>,
    /// Service endpoints.
    #[serde(default)]
    pub service: Vec<Service>,
}

/// One entry of `verificationMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    /// `#frag` or `did#frag`.
    pub id: String,
    /// `Multikey`, or a legacy suite name.
    #[serde(rename = "type")]
    pub type_: String,
    /// The controlling DID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The key, multibase-encoded (absent for key forms ATProto does not use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_multibase: Option<String>,
}

/// One entry of `service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `#frag` or `did#frag`.
    pub id: String,
    /// The service type, e.g. `AtprotoPersonalDataServer`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The endpoint: a URL string for ATProto services (DID Core also allows
    /// maps and arrays, kept as they are).
    pub service_endpoint: serde_json::Value,
}

/// Why a DID document, or one of its ATProto fields, was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DidDocError {
    /// The document is larger than [`MAX_DID_DOC_SIZE`].
    #[error("DID document is {size} bytes (at most {max})")]
    TooLarge {
        /// The size found.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, or not shaped like a DID document.
    #[error("malformed DID document: {0}")]
    Json(String),
    /// A list holds more than [`MAX_DOC_ENTRIES`] entries.
    #[error("DID document has {count} `{field}` entries (at most {max})")]
    TooManyEntries {
        /// The field name.
        field: &'static str,
        /// The number of entries found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// `id` is not the DID that was asked for.
    #[error("DID document id {found:?} does not match the requested DID {expected:?}")]
    IdMismatch {
        /// The DID that was resolved.
        expected: String,
        /// The document's `id`.
        found: String,
    },
    /// No verification method `#atproto`.
    #[error("DID document has no `#atproto` verification method")]
    MissingSigningKey,
    /// The `#atproto` method has no `publicKeyMultibase`.
    #[error("the `#atproto` verification method has no publicKeyMultibase")]
    MissingPublicKeyMultibase,
    /// The `#atproto` key does not parse.
    #[error("bad `#atproto` signing key: {0}")]
    BadSigningKey(CryptoError),
    /// No service `#atproto_pds` of type `AtprotoPersonalDataServer`.
    #[error("DID document has no `#atproto_pds` service of type AtprotoPersonalDataServer")]
    MissingPds,
    /// The PDS endpoint is not an `http://` or `https://` URL string.
    #[error("bad `#atproto_pds` endpoint: {0}")]
    BadPdsEndpoint(String),
}

impl DidDocument {
    /// Parses a document resolved for `did`: at most [`MAX_DID_DOC_SIZE`]
    /// bytes, at most [`MAX_DOC_ENTRIES`] entries per list, and `id` equal to
    /// `did`.
    ///
    /// # Errors
    /// [`DidDocError::TooLarge`], [`DidDocError::Json`],
    /// [`DidDocError::TooManyEntries`] or [`DidDocError::IdMismatch`].
    pub fn parse(json: &[u8], did: &Did) -> Result<Self, DidDocError> {
        if json.len() > MAX_DID_DOC_SIZE {
            return Err(DidDocError::TooLarge {
                size: json.len(),
                max: MAX_DID_DOC_SIZE,
            });
        }
        let doc: DidDocument =
            serde_json::from_slice(json).map_err(|e| DidDocError::Json(e.to_string()))?;
        for (field, count) in [
            ("alsoKnownAs", doc.also_known_as.len()),
            ("verificationMethod", doc.verification_method.len()),
            ("service", doc.service.len()),
        ] {
            if count > MAX_DOC_ENTRIES {
                return Err(DidDocError::TooManyEntries {
                    field,
                    count,
                    max: MAX_DOC_ENTRIES,
                });
            }
        }
        if doc.id != did.as_str() {
            return Err(DidDocError::IdMismatch {
                expected: did.as_str().to_owned(),
                found: doc.id,
            });
        }
        Ok(doc)
    }

    /// Whether `id` names the fragment `frag` of this document: `#frag` or
    /// `<id>#frag`.
    #[must_use]
    pub fn id_matches(&self, id: &str, frag: &str) -> bool {
        let tail = match id.strip_prefix(self.id.as_str()) {
            Some(rest) if !rest.is_empty() => rest,
            _ => id,
        };
        tail.strip_prefix('#') == Some(frag)
    }

    /// The handle: the first `alsoKnownAs` entry of the form `at://<handle>`
    /// with a valid handle, lowercased. `None` if there is none.
    #[must_use]
    pub fn handle(&self) -> Option<Handle> {
        self.also_known_as.iter().find_map(|aka| {
            aka.strip_prefix("at://")
                .and_then(|h| h.parse::<Handle>().ok())
                .map(Handle::into_normalized)
        })
    }

    /// The first verification method with fragment `frag`.
    #[must_use]
    pub fn verification_method(&self, frag: &str) -> Option<&VerificationMethod> {
        self.verification_method
            .iter()
            .find(|m| self.id_matches(&m.id, frag))
    }

    /// The ATProto signing key: the first verification method `#atproto`,
    /// `Multikey` or a legacy `EcdsaSecp256{k,r}1VerificationKey2019`.
    ///
    /// # Errors
    /// [`DidDocError::MissingSigningKey`],
    /// [`DidDocError::MissingPublicKeyMultibase`], or
    /// [`DidDocError::BadSigningKey`] for an unknown type or a bad key.
    pub fn signing_key(&self) -> Result<PublicKey, DidDocError> {
        let method = self
            .verification_method(ATPROTO_KEY_ID)
            .ok_or(DidDocError::MissingSigningKey)?;
        let multibase = method
            .public_key_multibase
            .as_deref()
            .ok_or(DidDocError::MissingPublicKeyMultibase)?;
        PublicKey::from_verification_method(&method.type_, multibase)
            .map_err(DidDocError::BadSigningKey)
    }

    /// The first service with fragment `frag` and type `type_`.
    #[must_use]
    pub fn service(&self, frag: &str, type_: &str) -> Option<&Service> {
        self.service
            .iter()
            .find(|s| s.type_ == type_ && self.id_matches(&s.id, frag))
    }

    /// The PDS endpoint: the first service `#atproto_pds` of type
    /// `AtprotoPersonalDataServer`, whose endpoint must be an `http(s)://` URL.
    ///
    /// # Errors
    /// [`DidDocError::MissingPds`] or [`DidDocError::BadPdsEndpoint`].
    pub fn pds_endpoint(&self) -> Result<&str, DidDocError> {
        let service = self
            .service(ATPROTO_PDS_ID, ATPROTO_PDS_TYPE)
            .ok_or(DidDocError::MissingPds)?;
        match service.service_endpoint.as_str() {
            Some(url)
                if url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"))
                    .is_some_and(|host| !host.is_empty()) =>
            {
                Ok(url)
            }
            _ => Err(DidDocError::BadPdsEndpoint(
                service.service_endpoint.to_string(),
            )),
        }
    }
}
