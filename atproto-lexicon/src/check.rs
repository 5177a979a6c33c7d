//! The rules a Lexicon document must follow on its own, before any other
//! document is looked at.
//!
//! - at most one primary def (record, query, procedure, subscription,
//!   permission-set), and it is named `main`;
//! - named defs are not `ref`, `union`, `unknown` or `params` (a def must
//!   say what data *is*; these only say where to look or accept anything);
//! - primary types appear only as named defs; `token` only as a named def;
//!   `params` only as an endpoint's `parameters`;
//! - params properties are boolean, integer, string, unknown, or arrays of
//!   those; endpoint bodies and subscription messages are object, ref or union;
//! - `const` and `default` are never both set, and each satisfies the
//!   schema's own constraints; no lower bound above its upper bound; no
//!   empty `enum`; no closed union without refs;
//! - names in `required` and `nullable` are declared properties;
//! - references are `nsid`, `nsid#def` or `#def`.
//!
//! Whether references point anywhere is checked when a
//! [`Catalog`](crate::Catalog) is built, since that needs the other documents.

use alloc::string::ToString;

use atproto_core::Nsid;

use crate::error::{SchemaError, SchemaErrorKind as K};
use crate::schema::{
    BlobSchema, Body, IntegerSchema, LexiconDoc, ObjectSchema, ParamsSchema, Schema, StringSchema,
};
use crate::validate::string::StringRules;

type Result<T = ()> = core::result::Result<T, SchemaError>;

/// Where a schema sits; decides which types are allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    NamedDef,
    Property,
    Items,
    ParamsProperty,
    ParamsItems,
    Body,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::NamedDef => "a named def",
            Place::Property => "an object property",
            Place::Items => "array items",
            Place::ParamsProperty => "a params property",
            Place::ParamsItems => "the items of a params array",
            Place::Body => "a body or message schema",
        }
    }

    fn allows(self, s: &Schema) -> bool {
        use Schema as S;
        match self {
            Place::NamedDef => !matches!(s, S::Ref(_) | S::Union(_) | S::Unknown(_) | S::Params(_)),
            Place::Property | Place::Items => {
                !s.is_primary() && !matches!(s, S::Params(_) | S::Token(_))
            }
            Place::ParamsProperty => matches!(
                s,
                S::Boolean(_) | S::Integer(_) | S::String(_) | S::Unknown(_) | S::Array(_)
            ),
            Place::ParamsItems => matches!(
                s,
                S::Boolean(_) | S::Integer(_) | S::String(_) | S::Unknown(_)
            ),
            Place::Body => matches!(s, S::Object(_) | S::Ref(_) | S::Union(_)),
        }
    }
}

pub(crate) fn check_doc(doc: &LexiconDoc) -> Result {
    let primaries = doc.defs.values().filter(|s| s.is_primary()).count();
    if primaries > 1 {
        return Err(SchemaError::new(K::MultiplePrimary).within("defs"));
    }
    for (name, def) in &doc.defs {
        let at = |e: SchemaError| e.within(name).within("defs");
        if def.is_primary() && name != "main" {
            return Err(at(SchemaError::new(K::PrimaryNotMain(name.clone()))));
        }
        schema(def, Place::NamedDef).map_err(at)?;
    }
    Ok(())
}

fn not_here(s: &Schema, place: Place) -> SchemaError {
    SchemaError::new(K::NotAllowedHere {
        found: s.type_name(),
        place: place.name(),
    })
}

fn schema(s: &Schema, place: Place) -> Result {
    if !place.allows(s) {
        return Err(not_here(s, place));
    }
    match s {
        Schema::Boolean(b) => {
            if b.const_value.is_some() && b.default.is_some() {
                return Err(SchemaError::new(K::ConstWithDefault));
            }
        }
        Schema::Integer(i) => integer(i)?,
        Schema::String(st) => string(st)?,
        Schema::Bytes(b) => bounds(b.min_length, b.max_length, "minLength", "maxLength")?,
        Schema::Blob(BlobSchema { .. })
        | Schema::CidLink(_)
        | Schema::Token(_)
        | Schema::Unknown(_) => {}
        Schema::Array(a) => {
            bounds(a.min_length, a.max_length, "minLength", "maxLength")?;
            let items = match place {
                Place::ParamsProperty => Place::ParamsItems,
                _ => Place::Items,
            };
            schema(&a.items, items).map_err(|e| e.within("items"))?;
        }
        Schema::Object(o) => object(o)?,
        Schema::Params(p) => params(p)?,
        Schema::Ref(r) => reference(&r.reference).map_err(|e| e.within("ref"))?,
        Schema::Union(u) => {
            if u.closed && u.refs.is_empty() {
                return Err(SchemaError::new(K::EmptyClosedUnion));
            }
            for (i, r) in u.refs.iter().enumerate() {
                reference(r).map_err(|e| e.within(&i.to_string()).within("refs"))?;
            }
        }
        Schema::Record(r) => object(&r.record).map_err(|e| e.within("record"))?,
        Schema::Query(e) | Schema::Procedure(e) => {
            if let Some(p) = &e.parameters {
                params(p).map_err(|e| e.within("parameters"))?;
            }
            if let Some(b) = &e.input {
                body(b).map_err(|e| e.within("input"))?;
            }
            if let Some(b) = &e.output {
                body(b).map_err(|e| e.within("output"))?;
            }
        }
        Schema::Subscription(sub) => {
            if let Some(p) = &sub.parameters {
                params(p).map_err(|e| e.within("parameters"))?;
            }
            if let Some(m) = &sub.message {
                schema(m, Place::Body).map_err(|e| e.within("schema").within("message"))?;
            }
        }
        Schema::PermissionSet(_) => {}
    }
    Ok(())
}

fn body(b: &Body) -> Result {
    match &b.schema {
        Some(s) => schema(s, Place::Body).map_err(|e| e.within("schema")),
        None => Ok(()),
    }
}

fn bounds(
    min: Option<u64>,
    max: Option<u64>,
    min_field: &'static str,
    max_field: &'static str,
) -> Result {
    match (min, max) {
        (Some(a), Some(b)) if a > b => Err(SchemaError::new(K::MinGreaterThanMax {
            min_field,
            max_field,
        })),
        _ => Ok(()),
    }
}

fn integer(i: &IntegerSchema) -> Result {
    if i.const_value.is_some() && i.default.is_some() {
        return Err(SchemaError::new(K::ConstWithDefault));
    }
    if let (Some(a), Some(b)) = (i.minimum, i.maximum)
        && a > b
    {
        return Err(SchemaError::new(K::MinGreaterThanMax {
            min_field: "minimum",
            max_field: "maximum",
        }));
    }
    if i.enum_values.as_ref().is_some_and(|e| e.is_empty()) {
        return Err(SchemaError::new(K::EmptyEnum).within("enum"));
    }
    let fits = |v: i64| {
        i.minimum.is_none_or(|m| v >= m)
            && i.maximum.is_none_or(|m| v <= m)
            && i.enum_values.as_ref().is_none_or(|e| e.contains(&v))
    };
    for (field, v) in [("default", i.default), ("const", i.const_value)] {
        if v.is_some_and(|v| !fits(v)) {
            return Err(SchemaError::new(K::ValueViolatesConstraints { field }).within(field));
        }
    }
    Ok(())
}

fn string(s: &StringSchema) -> Result {
    if s.const_value.is_some() && s.default.is_some() {
        return Err(SchemaError::new(K::ConstWithDefault));
    }
    bounds(s.min_length, s.max_length, "minLength", "maxLength")?;
    bounds(
        s.min_graphemes,
        s.max_graphemes,
        "minGraphemes",
        "maxGraphemes",
    )?;
    if s.enum_values.as_ref().is_some_and(|e| e.is_empty()) {
        return Err(SchemaError::new(K::EmptyEnum).within("enum"));
    }
    let rules = StringRules::from_schema(s);
    for (field, v) in [("default", &s.default), ("const", &s.const_value)] {
        if let Some(v) = v
            && rules.check(v).is_err()
        {
            return Err(SchemaError::new(K::ValueViolatesConstraints { field }).within(field));
        }
    }
    Ok(())
}

fn declared(
    props: &alloc::collections::BTreeMap<alloc::string::String, Schema>,
    names: &[alloc::string::String],
    field: &'static str,
) -> Result {
    for (i, n) in names.iter().enumerate() {
        if !props.contains_key(n) {
            return Err(SchemaError::new(K::UndeclaredProperty(n.clone()))
                .within(&i.to_string())
                .within(field));
        }
    }
    Ok(())
}

fn object(o: &ObjectSchema) -> Result {
    declared(&o.properties, &o.required, "required")?;
    declared(&o.properties, &o.nullable, "nullable")?;
    for (name, p) in &o.properties {
        schema(p, Place::Property).map_err(|e| e.within(name).within("properties"))?;
    }
    Ok(())
}

fn params(p: &ParamsSchema) -> Result {
    declared(&p.properties, &p.required, "required")?;
    for (name, s) in &p.properties {
        schema(s, Place::ParamsProperty).map_err(|e| e.within(name).within("properties"))?;
    }
    Ok(())
}

/// Splits a reference into its NSID (empty for a local `#def`) and def name
/// (`main` for a bare NSID), checking both.
pub(crate) fn split_ref(r: &str) -> Option<(&str, &str)> {
    let (nsid, name) = match r.split_once('#') {
        Some((n, d)) => (n, d),
        None => (r, "main"),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let nsid_ok = (nsid.is_empty() && r.starts_with('#')) || Nsid::is_valid(nsid);
    (name_ok && nsid_ok).then_some((nsid, name))
}

fn reference(r: &str) -> Result {
    match split_ref(r) {
        Some(_) => Ok(()),
        None => Err(SchemaError::new(K::InvalidRef(r.to_string()))),
    }
}
