//! [`Catalog`]: a set of Lexicon documents with every reference resolved and
//! every schema compiled, handing out validators.

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

use atproto_core::Value;

use crate::compiled::{self, Compiled, DefKind, EndpointType};
use crate::error::{LexiconError, LookupError, SchemaError, SchemaErrorKind};
use crate::schema::LexiconDoc;
use crate::validator::{DefValidator, EndpointKind, EndpointValidator, RecordValidator};

/// Lexicon documents, checked, with references resolved and schemas compiled.
///
/// Build one with [`Catalog::builder`] (or [`Catalog::from_strs`], or
/// [`Catalog::from_dir`] with the `std` feature), then ask it for validator
/// handles: [`Catalog::record`], [`Catalog::def`], [`Catalog::query`],
/// [`Catalog::procedure`], [`Catalog::subscription`]. A handle is a `Copy`
/// pair of `&Catalog` and an index; get it once and validate any number of
/// values through `&self` methods. The catalog is immutable after building
/// and `Send + Sync`, so one catalog can serve every thread.
#[derive(Clone, Debug)]
pub struct Catalog {
    docs: Vec<LexiconDoc>,
    pub(crate) compiled: Compiled,
}

/// Collects documents for a [`Catalog`].
#[derive(Clone, Debug, Default)]
pub struct CatalogBuilder {
    docs: BTreeMap<alloc::string::String, LexiconDoc>,
}

impl CatalogBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a document that was already parsed (it is checked again).
    ///
    /// # Errors
    /// A document that breaks the Lexicon rules, or whose `id` is already in
    /// the builder.
    pub fn add_doc(&mut self, doc: LexiconDoc) -> Result<&mut Self, SchemaError> {
        doc.check()?;
        let id = doc.id.as_str().to_string();
        if self.docs.contains_key(&id) {
            return Err(SchemaError::new(SchemaErrorKind::DuplicateId(id.clone())).in_doc(&id));
        }
        self.docs.insert(id, doc);
        Ok(self)
    }

    /// Parses, checks and adds a document from JSON text.
    ///
    /// # Errors
    /// As [`LexiconDoc::from_slice`] and [`CatalogBuilder::add_doc`].
    pub fn add_str(&mut self, text: &str) -> Result<&mut Self, SchemaError> {
        self.add_doc(text.parse()?)
    }

    /// Parses, checks and adds a document from JSON bytes.
    ///
    /// # Errors
    /// As [`CatalogBuilder::add_str`].
    pub fn add_slice(&mut self, bytes: &[u8]) -> Result<&mut Self, SchemaError> {
        self.add_doc(LexiconDoc::from_slice(bytes)?)
    }

    /// Parses, checks and adds a document from parsed JSON.
    ///
    /// # Errors
    /// As [`CatalogBuilder::add_str`].
    pub fn add_json(&mut self, json: &serde_json::Value) -> Result<&mut Self, SchemaError> {
        self.add_doc(LexiconDoc::from_json(json)?)
    }

    /// Reads, checks and adds one document file.
    ///
    /// # Errors
    /// The file cannot be read ([`LexiconError::Io`]) or holds an invalid
    /// document ([`LexiconError::File`]).
    #[cfg(feature = "std")]
    pub fn add_file(
        &mut self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<&mut Self, LexiconError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| LexiconError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        self.add_slice(&bytes).map_err(|error| LexiconError::File {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(self)
    }

    /// Adds every `*.json` file under `dir`, recursively, in sorted path
    /// order (as [`crate::files::json_files`] lists them). Other files are
    /// skipped.
    ///
    /// # Errors
    /// As [`CatalogBuilder::add_file`], plus directories that cannot be listed.
    #[cfg(feature = "std")]
    pub fn add_dir(&mut self, dir: impl AsRef<std::path::Path>) -> Result<&mut Self, LexiconError> {
        for f in crate::files::json_files(dir)? {
            self.add_file(&f)?;
        }
        Ok(self)
    }

    /// Resolves every reference and compiles the catalog.
    ///
    /// # Errors
    /// A reference to a def no document has ([`SchemaErrorKind::UnresolvedRef`]),
    /// a reference to an endpoint or permission set, or a union member that
    /// is not an object or record.
    pub fn build(self) -> Result<Catalog, SchemaError> {
        let docs: Vec<LexiconDoc> = self.docs.into_values().collect();
        let compiled = compiled::compile(&docs)?;
        Ok(Catalog { docs, compiled })
    }
}

impl Catalog {
    /// A builder to add documents to.
    pub fn builder() -> CatalogBuilder {
        CatalogBuilder::new()
    }

    /// A catalog of the documents in `texts` (JSON text each).
    ///
    /// # Errors
    /// As [`CatalogBuilder::add_str`] and [`CatalogBuilder::build`].
    pub fn from_strs<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Catalog, SchemaError> {
        let mut b = CatalogBuilder::new();
        for t in texts {
            b.add_str(t)?;
        }
        b.build()
    }

    /// A catalog of every `*.json` document under `dir`, recursively.
    ///
    /// # Errors
    /// As [`CatalogBuilder::add_dir`] and [`CatalogBuilder::build`].
    #[cfg(feature = "std")]
    pub fn from_dir(dir: impl AsRef<std::path::Path>) -> Result<Catalog, LexiconError> {
        let mut b = CatalogBuilder::new();
        b.add_dir(dir)?;
        Ok(b.build()?)
    }

    /// The documents, sorted by `id`.
    pub fn docs(&self) -> &[LexiconDoc] {
        &self.docs
    }

    /// The document with this `id`.
    pub fn doc(&self, nsid: &str) -> Option<&LexiconDoc> {
        self.docs
            .binary_search_by(|d| d.id.as_str().cmp(nsid))
            .ok()
            .and_then(|i| self.docs.get(i))
    }

    /// How many named defs the catalog holds.
    pub fn def_count(&self) -> usize {
        self.compiled.defs.len()
    }

    /// How many compiled schema nodes the catalog holds (named defs and
    /// every schema nested in them; references add none). Fixed once the
    /// catalog is built: validation never compiles anything.
    pub fn node_count(&self) -> usize {
        self.compiled.nodes.len()
    }

    fn find(&self, name: &str) -> Result<(u32, &compiled::DefEntry), LookupError> {
        self.compiled
            .lookup(name)
            .ok_or_else(|| LookupError::NotFound(name.to_string()))
    }

    fn wrong(name: &str, expected: &'static str, def: &compiled::DefEntry) -> LookupError {
        LookupError::WrongType {
            name: name.to_string(),
            expected,
            found: def.type_name(),
        }
    }

    /// The validator of the record type `nsid` (its `main` def).
    ///
    /// # Errors
    /// No such def, or it is not a record.
    pub fn record(&self, nsid: &str) -> Result<RecordValidator<'_>, LookupError> {
        let (i, def) = self.find(nsid)?;
        match def.kind {
            DefKind::Record(_) => Ok(RecordValidator::new(self, i)),
            _ => Err(Self::wrong(nsid, "record", def)),
        }
    }

    /// The validator of any def that describes data (`nsid`, `nsid#def`):
    /// an object, string, array, token, … or a record's fields (without the
    /// record's `$type` check).
    ///
    /// # Errors
    /// No such def, or it is an endpoint or a permission set.
    pub fn def(&self, reference: &str) -> Result<DefValidator<'_>, LookupError> {
        let (i, def) = self.find(reference)?;
        match def.kind {
            DefKind::Data(_) | DefKind::Record(_) => Ok(DefValidator::new(self, i)),
            _ => Err(Self::wrong(reference, "data def", def)),
        }
    }

    fn endpoint(
        &self,
        nsid: &str,
        want: EndpointType,
        name: &'static str,
    ) -> Result<EndpointValidator<'_>, LookupError> {
        let (i, def) = self.find(nsid)?;
        match &def.kind {
            DefKind::Endpoint(e) if e.kind == want => Ok(EndpointValidator::new(self, i, e)),
            _ => Err(Self::wrong(nsid, name, def)),
        }
    }

    /// The validator of the query `nsid`.
    ///
    /// # Errors
    /// No such def, or it is not a query.
    pub fn query(&self, nsid: &str) -> Result<EndpointValidator<'_>, LookupError> {
        self.endpoint(nsid, EndpointType::Query, "query")
    }

    /// The validator of the procedure `nsid`.
    ///
    /// # Errors
    /// No such def, or it is not a procedure.
    pub fn procedure(&self, nsid: &str) -> Result<EndpointValidator<'_>, LookupError> {
        self.endpoint(nsid, EndpointType::Procedure, "procedure")
    }

    /// The validator of the subscription `nsid`.
    ///
    /// # Errors
    /// No such def, or it is not a subscription.
    pub fn subscription(&self, nsid: &str) -> Result<EndpointValidator<'_>, LookupError> {
        self.endpoint(nsid, EndpointType::Subscription, "subscription")
    }

    /// The kind of endpoint `nsid` is, if it is one.
    pub fn endpoint_kind(&self, nsid: &str) -> Option<EndpointKind> {
        match &self.compiled.lookup(nsid)?.1.kind {
            DefKind::Endpoint(e) => Some(EndpointKind::from(e.kind)),
            _ => None,
        }
    }

    /// Validates a record against the record type its `$type` names.
    ///
    /// # Errors
    /// No `$type` ([`LexiconError::Validation`]), an unknown record type
    /// ([`LexiconError::Lookup`]), or data that does not match.
    pub fn validate_record(&self, record: &Value) -> Result<(), LexiconError> {
        let Some(ty) = record.get("$type").and_then(Value::as_str) else {
            return Err(crate::error::ValidationError::new(
                crate::error::ValidationErrorKind::MissingType,
            )
            .into());
        };
        Ok(self.record(ty)?.validate(record)?)
    }
}
