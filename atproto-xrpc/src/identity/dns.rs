//! DNS TXT lookups (feature `resolve`): the [`TxtLookup`] trait the handle
//! resolver uses, and [`HickoryTxtLookup`], its implementation over
//! hickory-resolver (Tokio, the system's resolver configuration).
//!
//! Tests and other runtimes implement [`TxtLookup`] themselves.

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

use crate::transport::BoxFuture;

/// Why a TXT lookup gave no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxtLookupError {
    /// The name has no TXT records (or does not exist).
    #[error("no TXT records")]
    NoRecords,
    /// The lookup failed (no answer from the servers, a network error, …).
    #[error("{0}")]
    Failed(String),
}

/// Looks up the TXT records of a DNS name.
pub trait TxtLookup: Send + Sync {
    /// The TXT records of `name` (a fully qualified name, ending in `.`),
    /// each record's character-strings joined into one string (bytes that
    /// are not UTF-8 replaced with U+FFFD).
    ///
    /// # Errors
    /// [`TxtLookupError::NoRecords`] if there are none.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, TxtLookupError>>;
}

impl<T: TxtLookup + ?Sized> TxtLookup for std::sync::Arc<T> {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, TxtLookupError>> {
        (**self).txt(name)
    }
}

/// A [`TxtLookup`] over hickory-resolver's Tokio resolver.
#[derive(Clone)]
pub struct HickoryTxtLookup {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryTxtLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryTxtLookup").finish_non_exhaustive()
    }
}

impl HickoryTxtLookup {
    /// A lookup using the system's configuration (`/etc/resolv.conf` on
    /// Unix, the registry on Windows).
    ///
    /// # Errors
    /// [`TxtLookupError::Failed`] if the configuration cannot be read.
    pub fn from_system_conf() -> Result<Self, TxtLookupError> {
        let resolver = TokioResolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| TxtLookupError::Failed(e.to_string()))?;
        Ok(HickoryTxtLookup { resolver })
    }

    /// A lookup over a resolver configured by the caller.
    #[must_use]
    pub fn from_resolver(resolver: TokioResolver) -> Self {
        HickoryTxtLookup { resolver }
    }

    async fn lookup(&self, name: &str) -> Result<Vec<String>, TxtLookupError> {
        let lookup = match self.resolver.txt_lookup(name).await {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() => return Err(TxtLookupError::NoRecords),
            Err(e) => return Err(TxtLookupError::Failed(e.to_string())),
        };
        let records: Vec<String> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|chunk| String::from_utf8_lossy(chunk))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Err(TxtLookupError::NoRecords);
        }
        Ok(records)
    }
}

impl TxtLookup for HickoryTxtLookup {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, TxtLookupError>> {
        Box::pin(self.lookup(name))
    }
}
