//! [`AtUri`]: an `at://` URI naming a repository, collection or record.

use alloc::borrow::Cow;
use alloc::string::String;

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};
use super::{AtIdentifier, Did, Handle, Nsid, RecordKey};

const KIND: SyntaxKind = SyntaxKind::AtUri;
const PREFIX: &str = "at://";

/// Longest accepted AT-URI, in bytes.
pub const MAX_AT_URI_LEN: usize = 8192;

string_newtype!(
    /// An AT-URI in the strict form used in Lexicon data:
    /// `at://AUTHORITY[/COLLECTION[/RKEY]]`.
    ///
    /// The authority is a [`Did`] or [`Handle`], the collection an [`Nsid`],
    /// the record key a [`RecordKey`]; no trailing slash, query or fragment;
    /// at most [`MAX_AT_URI_LEN`] bytes.
    ///
    /// ```
    /// use atproto_core::syntax::AtUri;
    /// let uri: AtUri = "at://did:plc:7iza6de2dwap2sbkpav7c6c6/app.bsky.feed.post/3jzfcijpj2z2a".parse()?;
    /// assert_eq!(uri.authority(), "did:plc:7iza6de2dwap2sbkpav7c6c6");
    /// assert_eq!(uri.collection(), Some("app.bsky.feed.post"));
    /// assert_eq!(uri.rkey(), Some("3jzfcijpj2z2a"));
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    AtUri,
    KIND,
    validate
);

pub(crate) fn validate(s: &str) -> Result<(), SyntaxError> {
    check_len(KIND, s, MAX_AT_URI_LEN)?;
    let b = s.as_bytes();
    for (i, want) in PREFIX.bytes().enumerate() {
        match b.get(i) {
            Some(&c) if c == want => {}
            Some(_) => return Err(SyntaxError::invalid_char(KIND, s, i)),
            None => {
                return Err(SyntaxError::at(
                    KIND,
                    i,
                    Reason::Expected("\"at://\" prefix"),
                ));
            }
        }
    }
    let rest = &s[PREFIX.len()..];
    let mut parts = rest.splitn(3, '/');
    let authority = parts.next().unwrap_or_default();
    let mut base = PREFIX.len();
    if authority.is_empty() {
        return Err(SyntaxError::at(
            KIND,
            base,
            Reason::Expected("an authority (DID or handle)"),
        ));
    }
    if authority.starts_with("did:") {
        super::did::validate(authority).map_err(|e| e.within(KIND, base))?;
    } else {
        super::handle::validate(authority).map_err(|e| e.within(KIND, base))?;
    }
    base += authority.len() + 1;
    if let Some(collection) = parts.next() {
        super::nsid::validate(collection).map_err(|e| e.within(KIND, base))?;
        base += collection.len() + 1;
        if let Some(rkey) = parts.next() {
            super::record_key::validate(rkey).map_err(|e| e.within(KIND, base))?;
        }
    }
    Ok(())
}

impl AtUri {
    fn parts(&self) -> core::str::SplitN<'_, char> {
        self.as_str()[PREFIX.len()..].splitn(3, '/')
    }

    /// The authority (a DID or handle) as written.
    pub fn authority(&self) -> &str {
        self.parts().next().unwrap_or_default()
    }

    /// The authority as a typed [`AtIdentifier`] (copies it).
    pub fn authority_id(&self) -> AtIdentifier {
        let a = self.authority();
        if a.starts_with("did:") {
            AtIdentifier::Did(Did::from_validated(a.into()))
        } else {
            AtIdentifier::Handle(Handle::from_validated(a.into()))
        }
    }

    /// The collection NSID, if present.
    pub fn collection(&self) -> Option<&str> {
        self.parts().nth(1)
    }

    /// The collection as a typed [`Nsid`] (copies it).
    pub fn collection_nsid(&self) -> Option<Nsid> {
        self.collection().map(|c| Nsid::from_validated(c.into()))
    }

    /// The record key, if present.
    pub fn rkey(&self) -> Option<&str> {
        self.parts().nth(2)
    }

    /// The record key as a typed [`RecordKey`] (copies it).
    pub fn record_key(&self) -> Option<RecordKey> {
        self.rkey().map(|r| RecordKey::from_validated(r.into()))
    }

    /// `at://AUTHORITY`.
    pub fn for_repo(authority: &AtIdentifier) -> Self {
        Self::build(authority, None, None)
    }

    /// `at://AUTHORITY/COLLECTION`.
    pub fn for_collection(authority: &AtIdentifier, collection: &Nsid) -> Self {
        Self::build(authority, Some(collection), None)
    }

    /// `at://AUTHORITY/COLLECTION/RKEY`.
    pub fn for_record(authority: &AtIdentifier, collection: &Nsid, rkey: &RecordKey) -> Self {
        Self::build(authority, Some(collection), Some(rkey))
    }

    // The parts' own limits (2048 + 317 + 512) keep the result far below
    // MAX_AT_URI_LEN, so building cannot fail.
    fn build(
        authority: &AtIdentifier,
        collection: Option<&Nsid>,
        rkey: Option<&RecordKey>,
    ) -> Self {
        let mut s = String::from(PREFIX);
        s.push_str(authority.as_str());
        if let Some(c) = collection {
            s.push('/');
            s.push_str(c.as_str());
            if let Some(r) = rkey {
                s.push('/');
                s.push_str(r.as_str());
            }
        }
        Self(Cow::Owned(s))
    }
}
