//! The Lexicon schema language as Rust types.
//!
//! A [`LexiconDoc`] is one schema file: `{"lexicon": 1, "id": <NSID>, "defs": {…}}`.
//! Each def, and each schema nested inside one, is a [`Schema`]. Documents are
//! read with [`str::parse`] (or [`LexiconDoc::from_slice`] / [`LexiconDoc::from_json`]), which
//! parses and then checks the document on its own (see [`crate::check`]);
//! references between documents are resolved by a [`Catalog`](crate::Catalog).
//!
//! Fields the language does not define are ignored, so documents written for
//! a newer revision of the language still load. Descriptions are kept.

mod parse;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use atproto_core::Nsid;

use crate::error::SchemaError;

/// Deepest nesting of schemas inside one def that the parser follows (an
/// array of objects of arrays…). Upstream documents nest at most about six
/// levels; the bound keeps hostile documents from exhausting the stack.
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// One Lexicon document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LexiconDoc {
    /// The document's NSID (`id`).
    pub id: Nsid,
    /// The optional `revision` number.
    pub revision: Option<i64>,
    /// The optional `description`.
    pub description: Option<String>,
    /// The named defs; `main` is the primary one, referred to by the bare NSID.
    pub defs: BTreeMap<String, Schema>,
}

impl LexiconDoc {
    /// Parses and checks a document from JSON bytes (for text, use
    /// [`str::parse`]: `LexiconDoc` implements [`FromStr`](core::str::FromStr)).
    ///
    /// # Errors
    /// Input that is not JSON, or a document that breaks the Lexicon rules.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SchemaError> {
        let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            SchemaError::new(crate::error::SchemaErrorKind::Json(
                alloc::string::ToString::to_string(&e),
            ))
        })?;
        Self::from_json(&json)
    }

    /// Parses and checks a document from parsed JSON.
    ///
    /// # Errors
    /// A document that breaks the Lexicon rules.
    pub fn from_json(json: &serde_json::Value) -> Result<Self, SchemaError> {
        let doc = parse::doc(json)?;
        doc.check()?;
        Ok(doc)
    }

    /// Checks the rules that hold within one document (see [`crate::check`]).
    ///
    /// # Errors
    /// The first rule broken.
    pub fn check(&self) -> Result<(), SchemaError> {
        crate::check::check_doc(self).map_err(|e| e.in_doc(self.id.as_str()))
    }

    /// The primary def (`main`) if the document has one.
    pub fn main(&self) -> Option<&Schema> {
        self.defs.get("main")
    }
}

/// Parses and checks a document from JSON text.
impl core::str::FromStr for LexiconDoc {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        Self::from_slice(text.as_bytes())
    }
}

/// One schema: a named def or a schema nested inside one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schema {
    /// `boolean`.
    Boolean(BooleanSchema),
    /// `integer`.
    Integer(IntegerSchema),
    /// `string`.
    String(StringSchema),
    /// `bytes`.
    Bytes(BytesSchema),
    /// `cid-link`.
    CidLink(Described),
    /// `blob`.
    Blob(BlobSchema),
    /// `array`.
    Array(ArraySchema),
    /// `object`.
    Object(ObjectSchema),
    /// `params` (the query parameters of an endpoint).
    Params(ParamsSchema),
    /// `token`: a named value with no data of its own.
    Token(Described),
    /// `ref`: the schema of another def.
    Ref(RefSchema),
    /// `union`: one of several object defs, told apart by `$type`.
    Union(UnionSchema),
    /// `unknown`: any object.
    Unknown(Described),
    /// `record`: a repository record type.
    Record(RecordSchema),
    /// `query`: an XRPC `GET` endpoint.
    Query(EndpointSchema),
    /// `procedure`: an XRPC `POST` endpoint.
    Procedure(EndpointSchema),
    /// `subscription`: an XRPC event stream.
    Subscription(SubscriptionSchema),
    /// `permission-set`: a bundle of OAuth permissions.
    PermissionSet(PermissionSetSchema),
}

impl Schema {
    /// The `type` name as written in documents.
    pub fn type_name(&self) -> &'static str {
        match self {
            Schema::Boolean(_) => "boolean",
            Schema::Integer(_) => "integer",
            Schema::String(_) => "string",
            Schema::Bytes(_) => "bytes",
            Schema::CidLink(_) => "cid-link",
            Schema::Blob(_) => "blob",
            Schema::Array(_) => "array",
            Schema::Object(_) => "object",
            Schema::Params(_) => "params",
            Schema::Token(_) => "token",
            Schema::Ref(_) => "ref",
            Schema::Union(_) => "union",
            Schema::Unknown(_) => "unknown",
            Schema::Record(_) => "record",
            Schema::Query(_) => "query",
            Schema::Procedure(_) => "procedure",
            Schema::Subscription(_) => "subscription",
            Schema::PermissionSet(_) => "permission-set",
        }
    }

    /// Whether this is a primary type (record, query, procedure,
    /// subscription, permission-set): at most one per document, named `main`.
    pub fn is_primary(&self) -> bool {
        matches!(
            self,
            Schema::Record(_)
                | Schema::Query(_)
                | Schema::Procedure(_)
                | Schema::Subscription(_)
                | Schema::PermissionSet(_)
        )
    }

    /// The schema's `description`, if any.
    pub fn description(&self) -> Option<&str> {
        match self {
            Schema::Boolean(s) => s.description.as_deref(),
            Schema::Integer(s) => s.description.as_deref(),
            Schema::String(s) => s.description.as_deref(),
            Schema::Bytes(s) => s.description.as_deref(),
            Schema::CidLink(s) | Schema::Token(s) | Schema::Unknown(s) => s.description.as_deref(),
            Schema::Blob(s) => s.description.as_deref(),
            Schema::Array(s) => s.description.as_deref(),
            Schema::Object(s) => s.description.as_deref(),
            Schema::Params(s) => s.description.as_deref(),
            Schema::Ref(s) => s.description.as_deref(),
            Schema::Union(s) => s.description.as_deref(),
            Schema::Record(s) => s.description.as_deref(),
            Schema::Query(s) | Schema::Procedure(s) => s.description.as_deref(),
            Schema::Subscription(s) => s.description.as_deref(),
            Schema::PermissionSet(s) => s.description.as_deref(),
        }
    }
}

/// A schema with nothing but a description (`cid-link`, `token`, `unknown`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Described {
    /// The `description`.
    pub description: Option<String>,
}

/// `boolean`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BooleanSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `default`: filled in when the field is absent.
    pub default: Option<bool>,
    /// `const`: the only value allowed.
    pub const_value: Option<bool>,
}

/// `integer`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntegerSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `minimum`, inclusive.
    pub minimum: Option<i64>,
    /// `maximum`, inclusive.
    pub maximum: Option<i64>,
    /// `enum`: the closed set of allowed values.
    pub enum_values: Option<Vec<i64>>,
    /// `default`.
    pub default: Option<i64>,
    /// `const`.
    pub const_value: Option<i64>,
}

/// `string`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StringSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `format`: a syntax the value must have.
    pub format: Option<StringFormat>,
    /// `minLength` in UTF-8 bytes.
    pub min_length: Option<u64>,
    /// `maxLength` in UTF-8 bytes.
    pub max_length: Option<u64>,
    /// `minGraphemes`: extended grapheme clusters.
    pub min_graphemes: Option<u64>,
    /// `maxGraphemes`.
    pub max_graphemes: Option<u64>,
    /// `knownValues`: suggested values, not enforced.
    pub known_values: Vec<String>,
    /// `enum`: the closed set of allowed values.
    pub enum_values: Option<Vec<String>>,
    /// `default`.
    pub default: Option<String>,
    /// `const`.
    pub const_value: Option<String>,
}

/// The `format` of a string schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StringFormat {
    /// `at-identifier`: a DID or a handle.
    AtIdentifier,
    /// `at-uri`.
    AtUri,
    /// `cid`: a CID in string form.
    Cid,
    /// `datetime`.
    Datetime,
    /// `did`.
    Did,
    /// `handle`.
    Handle,
    /// `nsid`.
    Nsid,
    /// `tid`.
    Tid,
    /// `record-key`.
    RecordKey,
    /// `uri`: any URI with a scheme.
    Uri,
    /// `language`: a BCP 47 tag.
    Language,
}

impl StringFormat {
    /// Every format, in the order of the specification's table.
    pub const ALL: [StringFormat; 11] = [
        StringFormat::AtIdentifier,
        StringFormat::AtUri,
        StringFormat::Cid,
        StringFormat::Datetime,
        StringFormat::Did,
        StringFormat::Handle,
        StringFormat::Nsid,
        StringFormat::Tid,
        StringFormat::RecordKey,
        StringFormat::Uri,
        StringFormat::Language,
    ];

    /// The name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            StringFormat::AtIdentifier => "at-identifier",
            StringFormat::AtUri => "at-uri",
            StringFormat::Cid => "cid",
            StringFormat::Datetime => "datetime",
            StringFormat::Did => "did",
            StringFormat::Handle => "handle",
            StringFormat::Nsid => "nsid",
            StringFormat::Tid => "tid",
            StringFormat::RecordKey => "record-key",
            StringFormat::Uri => "uri",
            StringFormat::Language => "language",
        }
    }

    /// The format of that name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// `bytes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BytesSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `minLength` in bytes.
    pub min_length: Option<u64>,
    /// `maxLength` in bytes.
    pub max_length: Option<u64>,
}

/// `blob`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `accept`: MIME patterns (`image/png`, `image/*`, `*/*`); absent means any.
    pub accept: Option<Vec<String>>,
    /// `maxSize` in bytes.
    pub max_size: Option<u64>,
}

/// `array`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArraySchema {
    /// The `description`.
    pub description: Option<String>,
    /// `items`: the schema of every element.
    pub items: Box<Schema>,
    /// `minLength` in elements.
    pub min_length: Option<u64>,
    /// `maxLength` in elements.
    pub max_length: Option<u64>,
}

/// `object`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `properties`: the declared fields. Undeclared fields in data are allowed.
    pub properties: BTreeMap<String, Schema>,
    /// `required`: fields that must be present.
    pub required: Vec<String>,
    /// `nullable`: fields that may be `null`.
    pub nullable: Vec<String>,
}

/// `params`: an endpoint's query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParamsSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `properties`: boolean, integer, string, unknown, or arrays of those.
    pub properties: BTreeMap<String, Schema>,
    /// `required`.
    pub required: Vec<String>,
}

/// `ref`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `ref`: `nsid`, `nsid#def` or `#def`, as written.
    pub reference: String,
}

/// `union`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnionSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `refs`: the member defs, as written.
    pub refs: Vec<String>,
    /// `closed`: whether values of other `$type`s are rejected (default: open).
    pub closed: bool,
}

/// `record`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `key`: which record keys are allowed.
    pub key: RecordKeyType,
    /// `record`: the schema of the record's fields.
    pub record: ObjectSchema,
}

/// A record type's `key`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKeyType {
    /// `tid`: a TID.
    Tid,
    /// `nsid`: an NSID.
    Nsid,
    /// `any`: any valid record key.
    Any,
    /// `literal:<value>`: exactly that key (e.g. `literal:self`).
    Literal(String),
}

impl RecordKeyType {
    /// Reads `tid`, `nsid`, `any` or `literal:<rkey>`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "tid" => Some(RecordKeyType::Tid),
            "nsid" => Some(RecordKeyType::Nsid),
            "any" => Some(RecordKeyType::Any),
            _ => {
                let lit = s.strip_prefix("literal:")?;
                atproto_core::RecordKey::is_valid(lit).then(|| RecordKeyType::Literal(lit.into()))
            }
        }
    }
}

/// `query` and `procedure`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `parameters`.
    pub parameters: Option<ParamsSchema>,
    /// `input` (procedures only; always `None` for queries).
    pub input: Option<Body>,
    /// `output`.
    pub output: Option<Body>,
    /// `errors`: the endpoint's own error names.
    pub errors: Vec<ErrorDef>,
}

/// An endpoint's `input` or `output`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Body {
    /// The `description`.
    pub description: Option<String>,
    /// `encoding`: a MIME type such as `application/json` or `*/*`.
    pub encoding: String,
    /// `schema`: an object, ref or union (JSON bodies only).
    pub schema: Option<Box<Schema>>,
}

/// One of an endpoint's `errors`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorDef {
    /// `name`, as sent in the `error` field of an XRPC error.
    pub name: String,
    /// The `description`.
    pub description: Option<String>,
}

/// `subscription`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `parameters`.
    pub parameters: Option<ParamsSchema>,
    /// `message.schema`: normally a union of the event types.
    pub message: Option<Box<Schema>>,
    /// `errors`.
    pub errors: Vec<ErrorDef>,
}

/// `permission-set`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionSetSchema {
    /// The `description`.
    pub description: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `title:lang`: translations of the title by language tag.
    pub title_lang: BTreeMap<String, String>,
    /// `detail`.
    pub detail: Option<String>,
    /// `detail:lang`: translations of the detail by language tag.
    pub detail_lang: BTreeMap<String, String>,
    /// `permissions`.
    pub permissions: Vec<Permission>,
}

/// One `permission` of a permission set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Permission {
    /// `resource`: `repo`, `rpc`, `blob`, …
    pub resource: String,
    /// `collection`: record NSIDs (repo permissions).
    pub collection: Vec<String>,
    /// `action`: `create`, `update`, `delete` (repo permissions).
    pub action: Vec<String>,
    /// `lxm`: endpoint NSIDs or `*` (rpc permissions).
    pub lxm: Vec<String>,
    /// `aud`: the service audience (rpc permissions).
    pub aud: Option<String>,
    /// `inheritAud`: take the audience from the permission set's user.
    pub inherit_aud: Option<bool>,
}
