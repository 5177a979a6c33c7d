//! Checking data against compiled schemas.
//!
//! Plain validation reads the data and allocates nothing unless it fails
//! (the error's path is built on the way out). Defaults are filled in by a
//! separate pass over `&mut Value` that runs only after validation succeeded
//! ([`RecordValidator::validate_and_apply_defaults`](crate::RecordValidator::validate_and_apply_defaults)).
//!
//! Semantics (SPEC-NOTES §7): `null` only where a property is `nullable`;
//! undeclared object fields are allowed; `enum` is closed, `knownValues` is
//! advice and not checked; a required property that is absent but has a
//! `default` counts as present (the default fills it); an open union accepts
//! objects of any `$type` it does not list, unchecked; a `$type` of
//! `nsid#main` is the same as `nsid`; blobs in the legacy `{cid, mimeType}`
//! form are accepted, with `accept` checked and `maxSize` unchecked (their
//! size is unknown).

pub(crate) mod defaults;
pub(crate) mod params;
pub(crate) mod string;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

use atproto_core::{BlobRef, Value};

use crate::compiled::{Compiled, IntegerRules, Member, Node, NodeId, ObjectNode};
use crate::error::{ValidationError, ValidationErrorKind as K};

/// Deepest nesting of objects and arrays the validator descends into. Data
/// decoded by atproto-core is already bounded at 32 levels; this bound
/// protects against [`Value`]s built by hand, and against schemas that refer
/// to themselves.
pub const MAX_VALIDATION_DEPTH: usize = 64;

type Result<T = ()> = core::result::Result<T, ValidationError>;

fn fail(kind: K) -> ValidationError {
    ValidationError::new(kind)
}

fn wrong(expected: &'static str, v: &Value) -> ValidationError {
    fail(K::WrongType {
        expected,
        found: v.type_name(),
    })
}

/// The union member a `$type` names, comparing `nsid#main` as `nsid`.
pub(crate) fn member<'m>(members: &'m [Member], ty: &str) -> Option<&'m Member> {
    let ty = ty.strip_suffix("#main").unwrap_or(ty);
    members.iter().find(|m| *m.name == *ty)
}

/// Checks `v` against node `id`.
pub(crate) fn check(c: &Compiled, id: NodeId, v: &Value, depth: usize) -> Result {
    match c.node(id) {
        Node::Placeholder | Node::NotData => Ok(()),
        Node::Boolean { const_value, .. } => {
            let b = v.as_bool().ok_or_else(|| wrong("boolean", v))?;
            if const_value.is_some_and(|c| c != b) {
                return Err(fail(K::ConstMismatch));
            }
            Ok(())
        }
        Node::Integer(rules) => {
            let i = v.as_i64().ok_or_else(|| wrong("integer", v))?;
            integer(rules, i).map_err(fail)
        }
        Node::String(rules) => {
            let s = v.as_str().ok_or_else(|| wrong("string", v))?;
            rules.check(s).map_err(fail)
        }
        Node::Bytes { min, max } => {
            let b = v.as_bytes().ok_or_else(|| wrong("bytes", v))?;
            let len = b.len() as u64;
            if let Some(min) = *min
                && len < min
            {
                return Err(fail(K::BytesTooShort { len, min }));
            }
            if let Some(max) = *max
                && len > max
            {
                return Err(fail(K::BytesTooLong { len, max }));
            }
            Ok(())
        }
        Node::CidLink => v.as_link().map(|_| ()).ok_or_else(|| wrong("cid-link", v)),
        Node::Blob { accept, max_size } => {
            let (mime, size) = match v {
                Value::Blob(b) => (b.mime_type.as_str(), Some(b.size)),
                Value::Map(_) => match BlobRef::from_value(v) {
                    // The legacy form: size unknown.
                    Some(b) => return blob(accept.as_deref(), None, &b.mime_type, None),
                    None => return Err(wrong("blob", v)),
                },
                _ => return Err(wrong("blob", v)),
            };
            blob(accept.as_deref(), *max_size, mime, size)
        }
        Node::Array { items, min, max } => {
            let a = v.as_array().ok_or_else(|| wrong("array", v))?;
            let len = a.len() as u64;
            if let Some(min) = *min
                && len < min
            {
                return Err(fail(K::ArrayTooShort { len, min }));
            }
            if let Some(max) = *max
                && len > max
            {
                return Err(fail(K::ArrayTooLong { len, max }));
            }
            if depth >= MAX_VALIDATION_DEPTH {
                return Err(fail(K::TooDeep));
            }
            for (i, item) in a.iter().enumerate() {
                check(c, *items, item, depth + 1).map_err(|e| e.within_index(i))?;
            }
            Ok(())
        }
        Node::Object(o) => match v {
            Value::Map(m) => object(c, o, m, depth),
            _ => Err(wrong("object", v)),
        },
        Node::Union { members, closed } => {
            let Value::Map(m) = v else {
                return Err(wrong("object", v));
            };
            let ty = match m.get("$type") {
                Some(Value::String(t)) => t,
                _ => return Err(fail(K::MissingType)),
            };
            match member(members, ty) {
                Some(mem) => check(c, mem.node, v, depth),
                None if *closed => Err(fail(K::TypeNotInUnion(ty.clone()))),
                None => Ok(()),
            }
        }
        Node::Unknown => match v {
            Value::Map(_) => Ok(()),
            _ => Err(wrong("object", v)),
        },
        Node::Token(name) => match v.as_str() {
            Some(s) if *s == **name => Ok(()),
            Some(_) => Err(fail(K::TokenMismatch(name.to_string()))),
            None => Err(wrong("string", v)),
        },
    }
}

fn integer(r: &IntegerRules, i: i64) -> core::result::Result<(), K> {
    if r.const_value.is_some_and(|c| c != i) {
        return Err(K::ConstMismatch);
    }
    if r.enum_values.as_ref().is_some_and(|e| !e.contains(&i)) {
        return Err(K::NotInEnum);
    }
    if let Some(minimum) = r.min
        && i < minimum
    {
        return Err(K::IntegerTooSmall { value: i, minimum });
    }
    if let Some(maximum) = r.max
        && i > maximum
    {
        return Err(K::IntegerTooLarge { value: i, maximum });
    }
    Ok(())
}

/// Whether `mime` matches `pattern` (`type/subtype`, `type/*`, `*/*`).
pub(crate) fn mime_matches(pattern: &str, mime: &str) -> bool {
    if pattern == "*/*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => mime
            .split_once('/')
            .is_some_and(|(t, _)| t.eq_ignore_ascii_case(prefix)),
        None => pattern.eq_ignore_ascii_case(mime),
    }
}

fn blob(
    accept: Option<&[alloc::boxed::Box<str>]>,
    max: Option<u64>,
    mime: &str,
    size: Option<u64>,
) -> Result {
    if let (Some(max), Some(size)) = (max, size)
        && size > max
    {
        return Err(fail(K::BlobTooLarge { size, max }));
    }
    if let Some(accept) = accept
        && !accept.iter().any(|p| mime_matches(p, mime))
    {
        return Err(fail(K::BlobMimeNotAccepted(mime.to_string())));
    }
    Ok(())
}

/// Checks an object's fields: every present declared field first, then the
/// required ones that are absent. A value that breaks its schema is thus
/// reported before a missing field elsewhere in the same object.
///
/// The declared properties and the data's keys are both sorted (the same
/// byte order), so one merged pass pairs them: no lookup per property.
pub(crate) fn object(
    c: &Compiled,
    o: &ObjectNode,
    m: &BTreeMap<String, Value>,
    depth: usize,
) -> Result {
    if depth >= MAX_VALIDATION_DEPTH {
        return Err(fail(K::TooDeep));
    }
    let mut missing = None;
    let mut data = m.iter().peekable();
    for p in o.props.iter() {
        let name: &str = &p.name;
        let mut found = None;
        while let Some((k, v)) = data.peek() {
            match k.as_str().cmp(name) {
                core::cmp::Ordering::Less => {
                    data.next();
                }
                core::cmp::Ordering::Equal => {
                    found = Some(*v);
                    data.next();
                    break;
                }
                core::cmp::Ordering::Greater => break,
            }
        }
        match found {
            None => {
                if p.required && missing.is_none() && !defaults::has_default(c, p.node) {
                    missing = Some(name);
                }
            }
            Some(Value::Null) if p.nullable => {}
            Some(Value::Null) => return Err(fail(K::NullNotAllowed).within(name)),
            Some(x) => check(c, p.node, x, depth + 1).map_err(|e| e.within(name))?,
        }
    }
    match missing {
        Some(name) => Err(fail(K::MissingRequired).within(name)),
        None => Ok(()),
    }
}
