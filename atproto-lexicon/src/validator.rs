//! Validator handles: a [`Catalog`] reference plus the index of one def.
//!
//! Each handle is `Copy`, borrows the catalog, and validates through `&self`:
//! obtain it once (the only name lookup), then validate as many values as
//! needed. Nothing is parsed, resolved or compiled while validating.

use alloc::format;
use alloc::string::ToString;

use atproto_core::data::json;
use atproto_core::{Nsid, RecordKey, Tid, Value};

use crate::catalog::Catalog;
use crate::compiled::{BodyNode, DefEntry, DefKind, EndpointNode, EndpointType, NodeId};
use crate::error::{LexiconError, ValidationError, ValidationErrorKind as K};
use crate::schema::RecordKeyType;
use crate::validate::{self, defaults, params};

fn entry(catalog: &Catalog, def: u32) -> Option<&DefEntry> {
    catalog.compiled.defs.get(def as usize)
}

/// Validates records of one record type.
#[derive(Clone, Copy, Debug)]
pub struct RecordValidator<'c> {
    catalog: &'c Catalog,
    def: u32,
    node: NodeId,
}

impl<'c> RecordValidator<'c> {
    pub(crate) fn new(catalog: &'c Catalog, def: u32) -> Self {
        let node = entry(catalog, def).map(|d| d.node).unwrap_or(NodeId::MAX);
        RecordValidator { catalog, def, node }
    }

    /// The record type's NSID.
    pub fn nsid(&self) -> &'c str {
        entry(self.catalog, self.def).map_or("", |d| d.nsid())
    }

    /// Which record keys the type allows.
    pub fn key_type(&self) -> &'c RecordKeyType {
        match entry(self.catalog, self.def).map(|d| &d.kind) {
            Some(DefKind::Record(k)) => k,
            _ => &RecordKeyType::Any,
        }
    }

    /// Validates a record: a map whose `$type` is this record type, with
    /// fields that match its schema.
    ///
    /// # Errors
    /// The first mismatch, with its path in the record.
    pub fn validate(&self, record: &Value) -> Result<(), ValidationError> {
        let Value::Map(m) = record else {
            return Err(ValidationError::new(K::WrongType {
                expected: "object",
                found: record.type_name(),
            }));
        };
        let nsid = self.nsid();
        match m.get("$type") {
            Some(Value::String(t)) if t == nsid => {}
            Some(Value::String(t)) => {
                return Err(ValidationError::new(K::RecordTypeMismatch {
                    expected: nsid.to_string(),
                    found: t.clone(),
                })
                .within("$type"));
            }
            _ => return Err(ValidationError::new(K::MissingType).within("$type")),
        }
        validate::check(&self.catalog.compiled, self.node, record, 0)
    }

    /// Checks a record key against the type's `key` (`tid`, `nsid`,
    /// `literal:<rkey>` or `any`).
    ///
    /// # Errors
    /// [`ValidationErrorKind::InvalidRecordKey`](crate::ValidationErrorKind::InvalidRecordKey),
    /// with an empty path.
    pub fn check_rkey(&self, rkey: &str) -> Result<(), ValidationError> {
        let bad = |why: &str| Err(ValidationError::new(K::InvalidRecordKey(why.to_string())));
        if let Err(e) = rkey.parse::<RecordKey>() {
            return bad(&e.to_string());
        }
        match self.key_type() {
            RecordKeyType::Any => Ok(()),
            RecordKeyType::Tid if Tid::is_valid(rkey) => Ok(()),
            RecordKeyType::Tid => bad("the record type requires a TID"),
            RecordKeyType::Nsid if Nsid::is_valid(rkey) => Ok(()),
            RecordKeyType::Nsid => bad("the record type requires an NSID"),
            RecordKeyType::Literal(l) if l == rkey => Ok(()),
            RecordKeyType::Literal(l) => bad(&format!("the record type requires the key {l:?}")),
        }
    }

    /// [`check_rkey`](Self::check_rkey), then [`validate`](Self::validate).
    ///
    /// # Errors
    /// As both.
    pub fn validate_with_rkey(&self, record: &Value, rkey: &str) -> Result<(), ValidationError> {
        self.check_rkey(rkey)?;
        self.validate(record)
    }

    /// Parses a record from ATProto JSON (core's record limits apply) and
    /// validates it; returns the parsed record.
    ///
    /// # Errors
    /// [`LexiconError::Json`] for text that is not an ATProto JSON object,
    /// [`LexiconError::Validation`] for a record that does not match.
    pub fn validate_json(&self, text: &str) -> Result<Value, LexiconError> {
        let v = json::record_from_str(text)?;
        self.validate(&v)?;
        Ok(v)
    }

    /// Validates, then fills every absent field that has a `default`.
    ///
    /// # Errors
    /// As [`validate`](Self::validate); on error `record` is unchanged.
    pub fn validate_and_apply_defaults(&self, record: &mut Value) -> Result<(), ValidationError> {
        self.validate(record)?;
        defaults::apply(&self.catalog.compiled, self.node, record, 0);
        Ok(())
    }
}

/// Validates values against one def that describes data.
#[derive(Clone, Copy, Debug)]
pub struct DefValidator<'c> {
    catalog: &'c Catalog,
    def: u32,
    node: NodeId,
}

impl<'c> DefValidator<'c> {
    pub(crate) fn new(catalog: &'c Catalog, def: u32) -> Self {
        let node = entry(catalog, def).map(|d| d.node).unwrap_or(NodeId::MAX);
        DefValidator { catalog, def, node }
    }

    /// The def's full name (`nsid` for `main`, else `nsid#def`).
    pub fn name(&self) -> &'c str {
        entry(self.catalog, self.def).map_or("", |d| &d.name)
    }

    /// The def's Lexicon type (`object`, `string`, `record`, …).
    pub fn type_name(&self) -> &'static str {
        entry(self.catalog, self.def).map_or("", DefEntry::type_name)
    }

    /// Validates a value.
    ///
    /// # Errors
    /// The first mismatch, with its path in the value.
    pub fn validate(&self, value: &Value) -> Result<(), ValidationError> {
        validate::check(&self.catalog.compiled, self.node, value, 0)
    }

    /// Parses ATProto JSON (core's default limits apply) and validates it;
    /// returns the parsed value.
    ///
    /// # Errors
    /// [`LexiconError::Json`] or [`LexiconError::Validation`].
    pub fn validate_json(&self, text: &str) -> Result<Value, LexiconError> {
        let v = json::from_str(text)?;
        self.validate(&v)?;
        Ok(v)
    }

    /// Validates, then fills every absent field that has a `default`.
    ///
    /// # Errors
    /// As [`validate`](Self::validate); on error `value` is unchanged.
    pub fn validate_and_apply_defaults(&self, value: &mut Value) -> Result<(), ValidationError> {
        self.validate(value)?;
        defaults::apply(&self.catalog.compiled, self.node, value, 0);
        Ok(())
    }
}

/// What kind of XRPC endpoint a def is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointKind {
    /// `query`: HTTP `GET`.
    Query,
    /// `procedure`: HTTP `POST`.
    Procedure,
    /// `subscription`: an event stream over WebSocket.
    Subscription,
}

impl From<EndpointType> for EndpointKind {
    fn from(t: EndpointType) -> Self {
        match t {
            EndpointType::Query => EndpointKind::Query,
            EndpointType::Procedure => EndpointKind::Procedure,
            EndpointType::Subscription => EndpointKind::Subscription,
        }
    }
}

/// Validates the parameters, bodies and messages of one XRPC endpoint.
#[derive(Clone, Copy, Debug)]
pub struct EndpointValidator<'c> {
    catalog: &'c Catalog,
    def: u32,
    endpoint: &'c EndpointNode,
}

impl<'c> EndpointValidator<'c> {
    pub(crate) fn new(catalog: &'c Catalog, def: u32, endpoint: &'c EndpointNode) -> Self {
        EndpointValidator {
            catalog,
            def,
            endpoint,
        }
    }

    /// The endpoint's NSID.
    pub fn nsid(&self) -> &'c str {
        entry(self.catalog, self.def).map_or("", |d| d.nsid())
    }

    /// Query, procedure or subscription.
    pub fn kind(&self) -> EndpointKind {
        self.endpoint.kind.into()
    }

    /// Reads URL query parameters (`(name, value)` pairs, already
    /// percent-decoded, a repeated name for each element of an array) as the
    /// types the endpoint declares, validates them and fills defaults.
    /// Returns them as a map; names the endpoint does not declare are left
    /// out. An endpoint without `parameters` yields an empty map.
    ///
    /// # Errors
    /// [`ValidationErrorKind::InvalidParam`](crate::ValidationErrorKind::InvalidParam)
    /// for text that is not the declared type, then any constraint the values
    /// break; the path is `/<name>` (or `/<name>/<index>` in an array).
    pub fn validate_params(&self, pairs: &[(&str, &str)]) -> Result<Value, ValidationError> {
        match &self.endpoint.params {
            Some(p) => params::read(&self.catalog.compiled, p, pairs),
            None => Ok(Value::Map(Default::default())),
        }
    }

    /// Validates parameters that are already typed values (a map).
    ///
    /// # Errors
    /// The first mismatch.
    pub fn validate_params_value(&self, value: &Value) -> Result<(), ValidationError> {
        let Value::Map(m) = value else {
            return Err(ValidationError::new(K::WrongType {
                expected: "params",
                found: value.type_name(),
            }));
        };
        match &self.endpoint.params {
            Some(p) => validate::object(&self.catalog.compiled, p, m, 0),
            None => Ok(()),
        }
    }

    /// The `encoding` of the procedure's input, if it declares one.
    pub fn input_encoding(&self) -> Option<&'c str> {
        self.endpoint.input.as_ref().map(|b| &*b.encoding)
    }

    /// The `encoding` of the output, if the endpoint declares one.
    pub fn output_encoding(&self) -> Option<&'c str> {
        self.endpoint.output.as_ref().map(|b| &*b.encoding)
    }

    fn body(
        &self,
        body: Option<&BodyNode>,
        what: &'static str,
        v: &Value,
    ) -> Result<(), ValidationError> {
        match body.and_then(|b| b.schema) {
            Some(node) => validate::check(&self.catalog.compiled, node, v, 0),
            None => Err(ValidationError::new(K::NoSchema(what))),
        }
    }

    /// Validates a procedure's JSON input body.
    ///
    /// # Errors
    /// [`ValidationErrorKind::NoSchema`](crate::ValidationErrorKind::NoSchema)
    /// if the endpoint declares no input schema, else the first mismatch.
    pub fn validate_input(&self, body: &Value) -> Result<(), ValidationError> {
        self.body(self.endpoint.input.as_ref(), "input", body)
    }

    /// Validates a JSON output body.
    ///
    /// # Errors
    /// As [`validate_input`](Self::validate_input), for the output.
    pub fn validate_output(&self, body: &Value) -> Result<(), ValidationError> {
        self.body(self.endpoint.output.as_ref(), "output", body)
    }

    /// Validates, then fills defaults in, a procedure's JSON input body.
    ///
    /// # Errors
    /// As [`validate_input`](Self::validate_input); on error `body` is unchanged.
    pub fn validate_and_apply_input_defaults(
        &self,
        body: &mut Value,
    ) -> Result<(), ValidationError> {
        self.validate_input(body)?;
        if let Some(node) = self.endpoint.input.as_ref().and_then(|b| b.schema) {
            defaults::apply(&self.catalog.compiled, node, body, 0);
        }
        Ok(())
    }

    /// Validates a subscription message that carries its own `$type`
    /// (checked like a union member).
    ///
    /// # Errors
    /// [`ValidationErrorKind::NoSchema`](crate::ValidationErrorKind::NoSchema)
    /// if the endpoint declares no message schema, else the first mismatch.
    pub fn validate_message(&self, message: &Value) -> Result<(), ValidationError> {
        match self.endpoint.message {
            Some(node) => validate::check(&self.catalog.compiled, node, message, 0),
            None => Err(ValidationError::new(K::NoSchema("message"))),
        }
    }

    /// Validates a subscription message body whose type travels beside it,
    /// as in a firehose frame header `{"t": "#commit"}`: `ty` is `#def`
    /// (relative to this subscription) or a full `nsid#def`.
    ///
    /// # Errors
    /// [`ValidationErrorKind::TypeNotInUnion`](crate::ValidationErrorKind::TypeNotInUnion)
    /// if the message union does not list `ty` and is closed; an open union
    /// accepts unknown types unchecked, as for union members in data.
    pub fn validate_message_as(&self, ty: &str, body: &Value) -> Result<(), ValidationError> {
        let Some(node) = self.endpoint.message else {
            return Err(ValidationError::new(K::NoSchema("message")));
        };
        let c = &self.catalog.compiled;
        match c.node(node) {
            crate::compiled::Node::Union { members, closed } => {
                let nsid = self.nsid();
                let found = members.iter().find(|m| match ty.strip_prefix('#') {
                    Some(local) => m
                        .name
                        .strip_prefix(nsid)
                        .and_then(|r| r.strip_prefix('#'))
                        .is_some_and(|r| r == local),
                    None => *m.name == *ty.strip_suffix("#main").unwrap_or(ty),
                });
                match found {
                    Some(m) => validate::check(c, m.node, body, 0),
                    None if *closed => Err(ValidationError::new(K::TypeNotInUnion(ty.to_string()))),
                    None => Ok(()),
                }
            }
            _ => validate::check(c, node, body, 0),
        }
    }
}
