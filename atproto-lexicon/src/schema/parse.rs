//! JSON → schema model. Structural only: which types may appear where, and
//! the rules between fields, are in [`crate::check`].
//!
//! Written against `serde_json::Value` by hand rather than with serde derives
//! so every error names the field and its path, and so hostile input can only
//! ever produce an error (no panics; nesting bounded by [`MAX_SCHEMA_DEPTH`]).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use atproto_core::Nsid;
use serde_json::{Map, Value as Json};

use super::{
    ArraySchema, BlobSchema, Body, BooleanSchema, BytesSchema, Described, EndpointSchema, ErrorDef,
    IntegerSchema, LexiconDoc, MAX_SCHEMA_DEPTH, ObjectSchema, ParamsSchema, Permission,
    PermissionSetSchema, RecordKeyType, RecordSchema, RefSchema, Schema, StringFormat,
    StringSchema, SubscriptionSchema, UnionSchema,
};
use crate::error::{SchemaError, SchemaErrorKind as K};

type Result<T> = core::result::Result<T, SchemaError>;

fn err(kind: K) -> SchemaError {
    SchemaError::new(kind)
}

fn object(v: &Json) -> Result<&Map<String, Json>> {
    v.as_object().ok_or_else(|| err(K::NotAnObject))
}

fn wrong(field: &'static str, expected: &'static str) -> SchemaError {
    err(K::WrongFieldType { field, expected }).within(field)
}

fn opt_str(m: &Map<String, Json>, field: &'static str) -> Result<Option<String>> {
    match m.get(field) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong(field, "a string")),
    }
}

fn opt_bool(m: &Map<String, Json>, field: &'static str) -> Result<Option<bool>> {
    match m.get(field) {
        None => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong(field, "a boolean")),
    }
}

fn opt_int(m: &Map<String, Json>, field: &'static str) -> Result<Option<i64>> {
    match m.get(field) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong(field, "an integer")),
    }
}

fn opt_len(m: &Map<String, Json>, field: &'static str) -> Result<Option<u64>> {
    match m.get(field) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong(field, "a non-negative integer")),
    }
}

fn opt_str_list(m: &Map<String, Json>, field: &'static str) -> Result<Option<Vec<String>>> {
    match m.get(field) {
        None => Ok(None),
        Some(Json::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| wrong(field, "an array of strings")),
        Some(_) => Err(wrong(field, "an array of strings")),
    }
}

fn opt_str_map(m: &Map<String, Json>, field: &'static str) -> Result<BTreeMap<String, String>> {
    match m.get(field) {
        None => Ok(BTreeMap::new()),
        Some(Json::Object(o)) => o
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect::<Option<BTreeMap<_, _>>>()
            .ok_or_else(|| wrong(field, "an object of strings")),
        Some(_) => Err(wrong(field, "an object of strings")),
    }
}

fn type_of(m: &Map<String, Json>) -> Result<&str> {
    match m.get("type") {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(wrong("type", "a string")),
        None => Err(err(K::MissingField("type"))),
    }
}

/// Reads a whole document.
pub(super) fn doc(v: &Json) -> Result<LexiconDoc> {
    let m = object(v)?;
    match m.get("lexicon") {
        Some(Json::Number(n)) if n.as_u64() == Some(1) => {}
        Some(_) => return Err(err(K::LexiconVersion).within("lexicon")),
        None => return Err(err(K::MissingField("lexicon"))),
    }
    let id = match m.get("id") {
        Some(Json::String(s)) => s,
        Some(_) => return Err(wrong("id", "a string")),
        None => return Err(err(K::MissingField("id"))),
    };
    let id: Nsid = id
        .parse()
        .map_err(|e: atproto_core::SyntaxError| err(K::InvalidNsid(e.to_string())).within("id"))?;
    let in_doc = |e: SchemaError| e.in_doc(id.as_str());
    let revision = opt_int(m, "revision").map_err(in_doc)?;
    let description = opt_str(m, "description").map_err(in_doc)?;
    let defs_json = match m.get("defs") {
        Some(Json::Object(o)) => o,
        Some(_) => return Err(in_doc(wrong("defs", "an object"))),
        None => return Err(in_doc(err(K::MissingField("defs")))),
    };
    let mut defs = BTreeMap::new();
    for (name, def) in defs_json {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(in_doc(
                err(K::InvalidDefName(name.clone()))
                    .within(name)
                    .within("defs"),
            ));
        }
        let schema = schema(def, 0).map_err(|e| in_doc(e.within(name).within("defs")))?;
        defs.insert(name.clone(), schema);
    }
    Ok(LexiconDoc {
        id,
        revision,
        description,
        defs,
    })
}

/// Reads any schema, dispatching on `type`.
pub(super) fn schema(v: &Json, depth: usize) -> Result<Schema> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(err(K::TooDeep));
    }
    let m = object(v)?;
    let description = opt_str(m, "description")?;
    let described = Described {
        description: description.clone(),
    };
    Ok(match type_of(m)? {
        "boolean" => Schema::Boolean(BooleanSchema {
            description,
            default: opt_bool(m, "default")?,
            const_value: opt_bool(m, "const")?,
        }),
        "integer" => Schema::Integer(IntegerSchema {
            description,
            minimum: opt_int(m, "minimum")?,
            maximum: opt_int(m, "maximum")?,
            enum_values: match m.get("enum") {
                None => None,
                Some(Json::Array(a)) => Some(
                    a.iter()
                        .map(Json::as_i64)
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| wrong("enum", "an array of integers"))?,
                ),
                Some(_) => return Err(wrong("enum", "an array of integers")),
            },
            default: opt_int(m, "default")?,
            const_value: opt_int(m, "const")?,
        }),
        "string" => Schema::String(StringSchema {
            description,
            format: match opt_str(m, "format")? {
                None => None,
                Some(f) => Some(
                    StringFormat::from_name(&f)
                        .ok_or_else(|| err(K::UnknownFormat(f.clone())).within("format"))?,
                ),
            },
            min_length: opt_len(m, "minLength")?,
            max_length: opt_len(m, "maxLength")?,
            min_graphemes: opt_len(m, "minGraphemes")?,
            max_graphemes: opt_len(m, "maxGraphemes")?,
            known_values: opt_str_list(m, "knownValues")?.unwrap_or_default(),
            enum_values: opt_str_list(m, "enum")?,
            default: opt_str(m, "default")?,
            const_value: opt_str(m, "const")?,
        }),
        "bytes" => Schema::Bytes(BytesSchema {
            description,
            min_length: opt_len(m, "minLength")?,
            max_length: opt_len(m, "maxLength")?,
        }),
        "cid-link" => Schema::CidLink(described),
        "blob" => {
            let accept = opt_str_list(m, "accept")?;
            if let Some(a) = &accept {
                for (i, p) in a.iter().enumerate() {
                    if !valid_mime_pattern(p) {
                        return Err(err(K::InvalidMimePattern(p.clone()))
                            .within(&i.to_string())
                            .within("accept"));
                    }
                }
            }
            Schema::Blob(BlobSchema {
                description,
                accept,
                max_size: opt_len(m, "maxSize")?,
            })
        }
        "array" => {
            let items = m
                .get("items")
                .ok_or_else(|| err(K::MissingField("items")))?;
            Schema::Array(ArraySchema {
                description,
                items: Box::new(schema(items, depth + 1).map_err(|e| e.within("items"))?),
                min_length: opt_len(m, "minLength")?,
                max_length: opt_len(m, "maxLength")?,
            })
        }
        "object" => Schema::Object(object_schema(m, depth)?),
        "params" => Schema::Params(params(m, depth)?),
        "token" => Schema::Token(described),
        "ref" => Schema::Ref(RefSchema {
            description,
            reference: match m.get("ref") {
                Some(Json::String(s)) => s.clone(),
                Some(_) => return Err(wrong("ref", "a string")),
                None => return Err(err(K::MissingField("ref"))),
            },
        }),
        "union" => Schema::Union(UnionSchema {
            description,
            refs: opt_str_list(m, "refs")?.ok_or_else(|| err(K::MissingField("refs")))?,
            closed: opt_bool(m, "closed")?.unwrap_or(false),
        }),
        "unknown" => Schema::Unknown(described),
        "record" => {
            let key = match m.get("key") {
                Some(Json::String(s)) => RecordKeyType::from_name(s)
                    .ok_or_else(|| err(K::InvalidRecordKeyType(s.clone())).within("key"))?,
                Some(_) => return Err(wrong("key", "a string")),
                None => return Err(err(K::MissingField("key"))),
            };
            let record = m
                .get("record")
                .ok_or_else(|| err(K::MissingField("record")))?;
            let rm = object(record).map_err(|e| e.within("record"))?;
            if rm.get("type").and_then(Json::as_str) != Some("object") {
                return Err(err(K::RecordNotObject).within("record"));
            }
            Schema::Record(RecordSchema {
                description,
                key,
                record: object_schema(rm, depth + 1).map_err(|e| e.within("record"))?,
            })
        }
        t @ ("query" | "procedure") => {
            let e = EndpointSchema {
                description,
                parameters: parameters(m, depth)?,
                input: if t == "procedure" {
                    body(m, "input", depth)?
                } else {
                    None
                },
                output: body(m, "output", depth)?,
                errors: errors(m)?,
            };
            if t == "query" {
                Schema::Query(e)
            } else {
                Schema::Procedure(e)
            }
        }
        "subscription" => Schema::Subscription(SubscriptionSchema {
            description,
            parameters: parameters(m, depth)?,
            message: match m.get("message") {
                None => None,
                Some(msg) => {
                    let mm = object(msg).map_err(|e| e.within("message"))?;
                    match mm.get("schema") {
                        None => None,
                        Some(s) => Some(Box::new(
                            schema(s, depth + 1)
                                .map_err(|e| e.within("schema").within("message"))?,
                        )),
                    }
                }
            },
            errors: errors(m)?,
        }),
        "permission-set" => Schema::PermissionSet(PermissionSetSchema {
            description,
            title: opt_str(m, "title")?,
            title_lang: opt_str_map(m, "title:lang")?,
            detail: opt_str(m, "detail")?,
            detail_lang: opt_str_map(m, "detail:lang")?,
            permissions: match m.get("permissions") {
                None => Vec::new(),
                Some(Json::Array(a)) => a
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        permission(p).map_err(|e| e.within(&i.to_string()).within("permissions"))
                    })
                    .collect::<Result<Vec<_>>>()?,
                Some(_) => return Err(wrong("permissions", "an array")),
            },
        }),
        other => return Err(err(K::UnknownType(other.to_string())).within("type")),
    })
}

/// `type/subtype`, `type/*` or `*/*`, with no spaces.
fn valid_mime_pattern(p: &str) -> bool {
    let Some((t, s)) = p.split_once('/') else {
        return false;
    };
    let part = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',' && b != b';')
    };
    part(t) && part(s) && (t != "*" || s == "*")
}

fn properties(m: &Map<String, Json>, depth: usize) -> Result<BTreeMap<String, Schema>> {
    match m.get("properties") {
        None => Ok(BTreeMap::new()),
        Some(Json::Object(o)) => {
            let mut out = BTreeMap::new();
            for (k, v) in o {
                let s = schema(v, depth + 1).map_err(|e| e.within(k).within("properties"))?;
                out.insert(k.clone(), s);
            }
            Ok(out)
        }
        Some(_) => Err(wrong("properties", "an object")),
    }
}

fn object_schema(m: &Map<String, Json>, depth: usize) -> Result<ObjectSchema> {
    Ok(ObjectSchema {
        description: opt_str(m, "description")?,
        properties: properties(m, depth)?,
        required: opt_str_list(m, "required")?.unwrap_or_default(),
        nullable: opt_str_list(m, "nullable")?.unwrap_or_default(),
    })
}

fn params(m: &Map<String, Json>, depth: usize) -> Result<ParamsSchema> {
    Ok(ParamsSchema {
        description: opt_str(m, "description")?,
        properties: properties(m, depth)?,
        required: opt_str_list(m, "required")?.unwrap_or_default(),
    })
}

fn parameters(m: &Map<String, Json>, depth: usize) -> Result<Option<ParamsSchema>> {
    let Some(p) = m.get("parameters") else {
        return Ok(None);
    };
    let inner = |p: &Json| -> Result<ParamsSchema> {
        let pm = object(p)?;
        let t = type_of(pm)?;
        if t != "params" {
            return Err(err(K::UnexpectedType {
                found: t.to_string(),
                expected: "params",
            }));
        }
        params(pm, depth + 1)
    };
    inner(p).map(Some).map_err(|e| e.within("parameters"))
}

fn body(m: &Map<String, Json>, field: &'static str, depth: usize) -> Result<Option<Body>> {
    let Some(b) = m.get(field) else {
        return Ok(None);
    };
    let inner = |b: &Json| -> Result<Body> {
        let bm = object(b)?;
        Ok(Body {
            description: opt_str(bm, "description")?,
            encoding: opt_str(bm, "encoding")?.ok_or_else(|| err(K::MissingField("encoding")))?,
            schema: match bm.get("schema") {
                None => None,
                Some(s) => Some(Box::new(
                    schema(s, depth + 1).map_err(|e| e.within("schema"))?,
                )),
            },
        })
    };
    inner(b).map(Some).map_err(|e| e.within(field))
}

fn errors(m: &Map<String, Json>) -> Result<Vec<ErrorDef>> {
    let Some(v) = m.get("errors") else {
        return Ok(Vec::new());
    };
    let Json::Array(a) = v else {
        return Err(wrong("errors", "an array"));
    };
    a.iter()
        .enumerate()
        .map(|(i, e)| {
            let inner = || -> Result<ErrorDef> {
                let em = object(e)?;
                Ok(ErrorDef {
                    name: opt_str(em, "name")?.ok_or_else(|| err(K::MissingField("name")))?,
                    description: opt_str(em, "description")?,
                })
            };
            inner().map_err(|e| e.within(&i.to_string()).within("errors"))
        })
        .collect()
}

fn permission(v: &Json) -> Result<Permission> {
    let m = object(v)?;
    let t = type_of(m)?;
    if t != "permission" {
        return Err(err(K::UnexpectedType {
            found: t.to_string(),
            expected: "permission",
        }));
    }
    Ok(Permission {
        resource: opt_str(m, "resource")?.ok_or_else(|| err(K::MissingField("resource")))?,
        collection: opt_str_list(m, "collection")?.unwrap_or_default(),
        action: opt_str_list(m, "action")?.unwrap_or_default(),
        lxm: opt_str_list(m, "lxm")?.unwrap_or_default(),
        aud: opt_str(m, "aud")?,
        inherit_aud: opt_bool(m, "inheritAud")?,
    })
}
