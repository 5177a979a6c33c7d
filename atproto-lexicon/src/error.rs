//! Errors: schema documents that break the Lexicon rules ([`SchemaError`]),
//! data that breaks a schema ([`ValidationError`]), names missing from a
//! catalog ([`LookupError`]), and [`LexiconError`] that gathers them.
//!
//! Every error says where: a JSON Pointer (RFC 6901) into the schema document
//! or into the data, built only once an error has happened.

use alloc::string::String;
use core::fmt;

use atproto_core::JsonError;

use crate::schema::StringFormat;

/// Appends `segment` to a JSON Pointer, escaping `~` and `/`.
fn push_segment(out: &mut String, segment: &str) {
    out.push('/');
    for c in segment.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Prepends one segment to a pointer (errors travel outward from where they happened).
fn prepend(path: &mut String, segment: &str) {
    let mut p = String::with_capacity(segment.len() + 1 + path.len());
    push_segment(&mut p, segment);
    p.push_str(path);
    *path = p;
}

/// A Lexicon document that is not valid, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    id: Option<String>,
    path: String,
    kind: SchemaErrorKind,
}

/// What was wrong with a Lexicon document (or with a set of them).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The text is not JSON (the parser's message).
    Json(String),
    /// A JSON object was expected here.
    NotAnObject,
    /// A field the Lexicon language requires is absent.
    MissingField(&'static str),
    /// A field has the wrong JSON type (e.g. `"maxLength": "ten"`).
    WrongFieldType {
        /// The field's name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `lexicon` is not the integer `1`.
    LexiconVersion,
    /// `id` is not a valid NSID (the syntax error's message).
    InvalidNsid(String),
    /// A def name that is empty or holds characters other than ASCII
    /// letters, digits, `_` and `-`.
    InvalidDefName(String),
    /// A `type` this implementation does not know.
    UnknownType(String),
    /// A schema of this type is not allowed in this position (e.g. `unknown`
    /// or `ref` as a named def, `record` inside an object, `params` outside
    /// an endpoint).
    NotAllowedHere {
        /// The schema's type.
        found: &'static str,
        /// Where it was found.
        place: &'static str,
    },
    /// A slot that takes one schema type holds another (e.g. `parameters`
    /// that is not `params`).
    UnexpectedType {
        /// The type found.
        found: String,
        /// The type required.
        expected: &'static str,
    },
    /// A `record` def whose `record` is not an `object` schema.
    RecordNotObject,
    /// More than one primary def (record, query, procedure, subscription,
    /// permission-set) in one document.
    MultiplePrimary,
    /// A primary def not named `main`.
    PrimaryNotMain(String),
    /// A string `format` this implementation does not know.
    UnknownFormat(String),
    /// A record `key` that is not `tid`, `nsid`, `any` or `literal:<rkey>`.
    InvalidRecordKeyType(String),
    /// A reference that is not `nsid`, `nsid#def` or `#def`.
    InvalidRef(String),
    /// A blob `accept` entry that is not a MIME pattern (`type/subtype`,
    /// `type/*` or `*/*`).
    InvalidMimePattern(String),
    /// `const` and `default` on the same schema.
    ConstWithDefault,
    /// A lower bound above its upper bound.
    MinGreaterThanMax {
        /// The lower bound's field (`minimum`, `minLength`, `minGraphemes`).
        min_field: &'static str,
        /// The upper bound's field.
        max_field: &'static str,
    },
    /// A `default` or `const` that the schema's own constraints reject.
    ValueViolatesConstraints {
        /// `default` or `const`.
        field: &'static str,
    },
    /// An empty `enum` list: no value could ever pass.
    EmptyEnum,
    /// A closed union with no refs: no value could ever pass.
    EmptyClosedUnion,
    /// A name in `required` or `nullable` that is not among the properties.
    UndeclaredProperty(String),
    /// Two documents in one catalog with the same `id`.
    DuplicateId(String),
    /// A reference to a def that is not in the catalog.
    UnresolvedRef(String),
    /// A reference to a def that does not describe data (a query,
    /// procedure, subscription or permission-set).
    RefToNonData {
        /// The reference as written.
        reference: String,
        /// The target's type.
        found: &'static str,
    },
    /// A union member that is not an object or a record.
    UnionMemberNotObject {
        /// The reference as written.
        reference: String,
        /// The target's type.
        found: &'static str,
    },
    /// Schemas nested deeper than [`MAX_SCHEMA_DEPTH`](crate::schema::MAX_SCHEMA_DEPTH).
    TooDeep,
}

impl SchemaError {
    pub(crate) fn new(kind: SchemaErrorKind) -> Self {
        SchemaError {
            id: None,
            path: String::new(),
            kind,
        }
    }

    pub(crate) fn within(mut self, segment: &str) -> Self {
        prepend(&mut self.path, segment);
        self
    }

    pub(crate) fn in_doc(mut self, id: &str) -> Self {
        if self.id.is_none() {
            self.id = Some(id.into());
        }
        self
    }

    /// What was wrong.
    pub fn kind(&self) -> &SchemaErrorKind {
        &self.kind
    }

    /// Where in the document: a JSON Pointer such as `/defs/main/record`
    /// (`""` for the document itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `id` of the document, once known.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl fmt::Display for SchemaErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SchemaErrorKind as K;
        match self {
            K::Json(m) => write!(f, "invalid JSON: {m}"),
            K::NotAnObject => f.write_str("expected a JSON object"),
            K::MissingField(name) => write!(f, "missing field `{name}`"),
            K::WrongFieldType { field, expected } => write!(f, "`{field}` must be {expected}"),
            K::LexiconVersion => f.write_str("`lexicon` must be the integer 1"),
            K::InvalidNsid(why) => write!(f, "`id` is not a valid NSID: {why}"),
            K::InvalidDefName(n) => write!(f, "invalid def name {n:?}"),
            K::UnknownType(t) => write!(f, "unknown schema type {t:?}"),
            K::NotAllowedHere { found, place } => {
                write!(f, "type `{found}` is not allowed as {place}")
            }
            K::UnexpectedType { found, expected } => {
                write!(f, "expected a `{expected}` schema, found `{found}`")
            }
            K::RecordNotObject => f.write_str("a record's `record` must be an `object` schema"),
            K::MultiplePrimary => f.write_str("more than one primary def in one document"),
            K::PrimaryNotMain(n) => write!(f, "primary def {n:?} must be named `main`"),
            K::UnknownFormat(s) => write!(f, "unknown string format {s:?}"),
            K::InvalidRecordKeyType(s) => write!(f, "invalid record key type {s:?}"),
            K::InvalidRef(s) => write!(f, "invalid reference {s:?}"),
            K::InvalidMimePattern(s) => write!(f, "invalid MIME pattern {s:?}"),
            K::ConstWithDefault => f.write_str("`const` and `default` cannot both be set"),
            K::MinGreaterThanMax {
                min_field,
                max_field,
            } => write!(f, "`{min_field}` is greater than `{max_field}`"),
            K::ValueViolatesConstraints { field } => {
                write!(f, "`{field}` breaks the schema's own constraints")
            }
            K::EmptyEnum => f.write_str("`enum` is empty"),
            K::EmptyClosedUnion => f.write_str("a closed union needs at least one ref"),
            K::UndeclaredProperty(n) => write!(f, "{n:?} is not a declared property"),
            K::DuplicateId(id) => write!(f, "two documents with id {id:?}"),
            K::UnresolvedRef(r) => write!(f, "reference {r:?} does not resolve"),
            K::RefToNonData { reference, found } => {
                write!(
                    f,
                    "reference {reference:?} points to a `{found}`, not to data"
                )
            }
            K::UnionMemberNotObject { reference, found } => write!(
                f,
                "union member {reference:?} is a `{found}`, not an object or record"
            ),
            K::TooDeep => f.write_str("schemas nested too deeply"),
        }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.id {
            write!(f, "{id}")?;
            if !self.path.is_empty() {
                write!(f, "{}", self.path)?;
            }
            write!(f, ": ")?;
        } else if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl core::error::Error for SchemaError {}

/// Data that does not match a schema, and where in the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    path: String,
    kind: ValidationErrorKind,
}

/// Why data does not match its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationErrorKind {
    /// The value has the wrong data-model type.
    WrongType {
        /// The Lexicon type required (`object`, `string`, `blob`, …).
        expected: &'static str,
        /// The data-model type found ([`Value::type_name`](atproto_core::Value::type_name)).
        found: &'static str,
    },
    /// A required property is absent (the path names the property).
    MissingRequired,
    /// `null` where the property is not `nullable`.
    NullNotAllowed,
    /// A value other than the schema's `const`.
    ConstMismatch,
    /// A value outside the schema's closed `enum`.
    NotInEnum,
    /// An integer below `minimum`.
    IntegerTooSmall {
        /// The value.
        value: i64,
        /// The bound.
        minimum: i64,
    },
    /// An integer above `maximum`.
    IntegerTooLarge {
        /// The value.
        value: i64,
        /// The bound.
        maximum: i64,
    },
    /// A string shorter than `minLength` UTF-8 bytes.
    StringTooShort {
        /// Length in bytes.
        len: u64,
        /// The bound.
        min: u64,
    },
    /// A string longer than `maxLength` UTF-8 bytes.
    StringTooLong {
        /// Length in bytes.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// A string with fewer than `minGraphemes` grapheme clusters.
    TooFewGraphemes {
        /// Number of extended grapheme clusters.
        count: u64,
        /// The bound.
        min: u64,
    },
    /// A string with more than `maxGraphemes` grapheme clusters.
    TooManyGraphemes {
        /// Number of extended grapheme clusters.
        count: u64,
        /// The bound.
        max: u64,
    },
    /// A string that does not have its declared `format`.
    InvalidFormat {
        /// The format.
        format: StringFormat,
        /// The syntax error's message.
        reason: String,
    },
    /// A byte string shorter than `minLength`.
    BytesTooShort {
        /// Length in bytes.
        len: u64,
        /// The bound.
        min: u64,
    },
    /// A byte string longer than `maxLength`.
    BytesTooLong {
        /// Length in bytes.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// An array with fewer than `minLength` elements.
    ArrayTooShort {
        /// Number of elements.
        len: u64,
        /// The bound.
        min: u64,
    },
    /// An array with more than `maxLength` elements.
    ArrayTooLong {
        /// Number of elements.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// A blob larger than `maxSize`.
    BlobTooLarge {
        /// The blob's declared size.
        size: u64,
        /// The bound.
        max: u64,
    },
    /// A blob whose MIME type matches no `accept` pattern.
    BlobMimeNotAccepted(String),
    /// A union member (or record) without a string `$type`.
    MissingType,
    /// A closed union member whose `$type` is not one of the union's refs.
    TypeNotInUnion(String),
    /// A record whose `$type` is not the record type's NSID.
    RecordTypeMismatch {
        /// The record type.
        expected: String,
        /// The `$type` found.
        found: String,
    },
    /// A record key that is not valid for the record type.
    InvalidRecordKey(String),
    /// A string that is not the token the schema refers to.
    TokenMismatch(String),
    /// A query parameter that cannot be read as its declared type.
    InvalidParam {
        /// The declared type.
        expected: &'static str,
    },
    /// A query parameter given more than once although it is not an array.
    RepeatedParam,
    /// The endpoint declares no schema for this body or message.
    NoSchema(&'static str),
    /// Data nested deeper than the validator follows
    /// ([`MAX_VALIDATION_DEPTH`](crate::MAX_VALIDATION_DEPTH)).
    TooDeep,
}

impl ValidationError {
    pub(crate) fn new(kind: ValidationErrorKind) -> Self {
        ValidationError {
            path: String::new(),
            kind,
        }
    }

    pub(crate) fn within(mut self, segment: &str) -> Self {
        prepend(&mut self.path, segment);
        self
    }

    pub(crate) fn within_index(self, index: usize) -> Self {
        self.within(&alloc::format!("{index}"))
    }

    /// What was wrong.
    pub fn kind(&self) -> &ValidationErrorKind {
        &self.kind
    }

    /// Where in the data: a JSON Pointer such as `/embed/images/0/alt`
    /// (`""` for the value itself).
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for ValidationErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ValidationErrorKind as K;
        match self {
            K::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            K::MissingRequired => f.write_str("required field missing"),
            K::NullNotAllowed => f.write_str("null is not allowed here"),
            K::ConstMismatch => f.write_str("value differs from the schema's const"),
            K::NotInEnum => f.write_str("value not in enum"),
            K::IntegerTooSmall { value, minimum } => {
                write!(f, "integer too small ({value} < {minimum})")
            }
            K::IntegerTooLarge { value, maximum } => {
                write!(f, "integer too large ({value} > {maximum})")
            }
            K::StringTooShort { len, min } => write!(f, "string too short ({len} < {min} bytes)"),
            K::StringTooLong { len, max } => write!(f, "string too long ({len} > {max} bytes)"),
            K::TooFewGraphemes { count, min } => {
                write!(f, "string too short ({count} < {min} graphemes)")
            }
            K::TooManyGraphemes { count, max } => {
                write!(f, "string too long ({count} > {max} graphemes)")
            }
            K::InvalidFormat { format, reason } => {
                write!(f, "invalid {} string: {reason}", format.as_str())
            }
            K::BytesTooShort { len, min } => write!(f, "bytes too short ({len} < {min})"),
            K::BytesTooLong { len, max } => write!(f, "bytes too long ({len} > {max})"),
            K::ArrayTooShort { len, min } => {
                write!(f, "array too short ({len} < {min} elements)")
            }
            K::ArrayTooLong { len, max } => write!(f, "array too long ({len} > {max} elements)"),
            K::BlobTooLarge { size, max } => write!(f, "blob too large ({size} > {max} bytes)"),
            K::BlobMimeNotAccepted(m) => write!(f, "blob MIME type {m:?} not accepted"),
            K::MissingType => f.write_str("missing `$type`"),
            K::TypeNotInUnion(t) => write!(f, "`$type` {t:?} is not a member of the closed union"),
            K::RecordTypeMismatch { expected, found } => {
                write!(f, "record `$type` is {found:?}, expected {expected:?}")
            }
            K::InvalidRecordKey(why) => write!(f, "invalid record key: {why}"),
            K::TokenMismatch(t) => write!(f, "expected the token {t:?}"),
            K::InvalidParam { expected } => write!(f, "parameter is not a valid {expected}"),
            K::RepeatedParam => f.write_str("parameter given more than once"),
            K::NoSchema(what) => write!(f, "the endpoint declares no {what} schema"),
            K::TooDeep => f.write_str("data nested too deeply"),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

impl core::error::Error for ValidationError {}

/// A name that a catalog cannot hand out a validator for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    /// No def of that name.
    NotFound(String),
    /// A def of that name exists but is of another type.
    WrongType {
        /// The name asked for.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The def's type.
        found: &'static str,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NotFound(n) => write!(f, "no lexicon def named {n:?}"),
            LookupError::WrongType {
                name,
                expected,
                found,
            } => write!(f, "{name:?} is a `{found}`, not a `{expected}`"),
        }
    }
}

impl core::error::Error for LookupError {}

/// Any error of this crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum LexiconError {
    /// A schema document is invalid.
    Schema(SchemaError),
    /// A name is not in the catalog.
    Lookup(LookupError),
    /// The data is not ATProto JSON.
    Json(JsonError),
    /// The data does not match the schema.
    Validation(ValidationError),
    /// A file holds an invalid document.
    #[cfg(feature = "std")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong with it.
        error: SchemaError,
    },
    /// A file or directory could not be read.
    #[cfg(feature = "std")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

impl fmt::Display for LexiconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexiconError::Schema(e) => write!(f, "invalid lexicon: {e}"),
            LexiconError::Lookup(e) => e.fmt(f),
            LexiconError::Json(e) => write!(f, "invalid data: {e}"),
            LexiconError::Validation(e) => e.fmt(f),
            #[cfg(feature = "std")]
            LexiconError::File { path, error } => {
                write!(f, "{}: invalid lexicon: {error}", path.display())
            }
            #[cfg(feature = "std")]
            LexiconError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl core::error::Error for LexiconError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            LexiconError::Schema(e) => Some(e),
            LexiconError::Lookup(e) => Some(e),
            LexiconError::Json(e) => Some(e),
            LexiconError::Validation(e) => Some(e),
            #[cfg(feature = "std")]
            LexiconError::File { error, .. } => Some(error),
            #[cfg(feature = "std")]
            LexiconError::Io { error, .. } => Some(error),
        }
    }
}

impl From<SchemaError> for LexiconError {
    fn from(e: SchemaError) -> Self {
        LexiconError::Schema(e)
    }
}

#[cfg(feature = "std")]
impl From<crate::files::ReadDirError> for LexiconError {
    fn from(e: crate::files::ReadDirError) -> Self {
        let (path, error) = e.into_parts();
        LexiconError::Io { path, error }
    }
}

impl From<LookupError> for LexiconError {
    fn from(e: LookupError) -> Self {
        LexiconError::Lookup(e)
    }
}

impl From<JsonError> for LexiconError {
    fn from(e: JsonError) -> Self {
        LexiconError::Json(e)
    }
}

impl From<ValidationError> for LexiconError {
    fn from(e: ValidationError) -> Self {
        LexiconError::Validation(e)
    }
}
