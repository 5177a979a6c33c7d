//! [`AtIdentifier`]: a DID or a handle.

use alloc::string::String;
use core::cmp::Ordering;

use super::error::{SyntaxError, SyntaxKind};
use super::{Did, Handle};

/// Either a [`Did`] or a [`Handle`], as accepted where an account is named
/// (the authority of an AT-URI, `repo` parameters).
///
/// A string starting with `did:` is parsed as a DID, anything else as a
/// handle. Ordering compares the strings.
///
/// ```
/// use atproto_core::syntax::AtIdentifier;
/// let id: AtIdentifier = "did:plc:7iza6de2dwap2sbkpav7c6c6".parse()?;
/// assert!(id.as_did().is_some());
/// let id: AtIdentifier = "alice.bsky.social".parse()?;
/// assert!(id.as_handle().is_some());
/// # Ok::<(), atproto_core::syntax::SyntaxError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AtIdentifier {
    /// A DID.
    Did(Did),
    /// A handle.
    Handle(Handle),
}

impl AtIdentifier {
    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Did(d) => d.as_str(),
            Self::Handle(h) => h.as_str(),
        }
    }

    /// The DID, if this is one.
    pub fn as_did(&self) -> Option<&Did> {
        match self {
            Self::Did(d) => Some(d),
            Self::Handle(_) => None,
        }
    }

    /// The handle, if this is one.
    pub fn as_handle(&self) -> Option<&Handle> {
        match self {
            Self::Handle(h) => Some(h),
            Self::Did(_) => None,
        }
    }

    /// Whether `s` is a valid DID or handle.
    pub fn is_valid(s: &str) -> bool {
        if s.starts_with("did:") {
            Did::is_valid(s)
        } else {
            Handle::is_valid(s)
        }
    }

    /// The identifier as an owned `String`.
    pub fn into_string(self) -> String {
        match self {
            Self::Did(d) => d.into_string(),
            Self::Handle(h) => h.into_string(),
        }
    }

    fn parse_str(s: &str) -> Result<Self, SyntaxError> {
        Self::parse_string(s.into())
    }

    fn parse_string(s: String) -> Result<Self, SyntaxError> {
        let within = |e: SyntaxError| e.within(SyntaxKind::AtIdentifier, 0);
        if s.starts_with("did:") {
            Did::try_from(s).map(Self::Did).map_err(within)
        } else {
            Handle::try_from(s).map(Self::Handle).map_err(within)
        }
    }
}

impl PartialOrd for AtIdentifier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AtIdentifier {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl From<Did> for AtIdentifier {
    fn from(did: Did) -> Self {
        Self::Did(did)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(handle: Handle) -> Self {
        Self::Handle(handle)
    }
}

impl From<AtIdentifier> for String {
    fn from(id: AtIdentifier) -> String {
        id.into_string()
    }
}

impl_string_traits!(AtIdentifier, SyntaxKind::AtIdentifier);
