//! Where the validator gets each account's signing key.

use alloc::collections::BTreeMap;
use alloc::string::String;

use atproto_core::crypto::PublicKey;
use atproto_core::syntax::Did;

/// Gives the signing key (`#atproto` verification method) of an account.
///
/// Synchronous on purpose: a caller resolving DID documents over the
/// network does it before validating (or from a cache), and when a
/// signature fails with [`ValidationError::BadSignature`](super::ValidationError::BadSignature)
/// ([`is_key_maybe_stale`](super::ValidationError::is_key_maybe_stale)) it
/// re-resolves the DID once and validates the same event again: a rejected
/// event leaves the account's state unchanged, so the retry sees what the
/// first attempt saw.
pub trait KeySource {
    /// The current signing key of `did`, or `None` if it is not known
    /// (the event is rejected with
    /// [`ValidationError::NoKey`](super::ValidationError::NoKey)).
    fn signing_key(&self, did: &Did) -> Option<PublicKey>;
}

impl<K: KeySource + ?Sized> KeySource for &K {
    fn signing_key(&self, did: &Did) -> Option<PublicKey> {
        (**self).signing_key(did)
    }
}

impl KeySource for BTreeMap<Did, PublicKey> {
    fn signing_key(&self, did: &Did) -> Option<PublicKey> {
        self.get(did).cloned()
    }
}

/// Keyed by the DID's text, as a `{"did:…": "did:key:…"}` file reads.
impl KeySource for BTreeMap<String, PublicKey> {
    fn signing_key(&self, did: &Did) -> Option<PublicKey> {
        self.get(did.as_str()).cloned()
    }
}
