//! XRPC query parameters: strings from a URL, read as their declared types.
//!
//! Integers are read as decimal `i64`, booleans as `true` or `false`, and
//! everything else is kept as a string. A parameter declared as an array
//! takes every occurrence of its name, in order; any other parameter may
//! appear at most once. Names the schema does not declare are ignored (they
//! are not part of the endpoint's contract, and servers commonly tolerate
//! them).

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

use atproto_core::Value;

use super::{defaults, object};
use crate::compiled::{Compiled, Node, NodeId, ObjectNode};
use crate::error::{ValidationError, ValidationErrorKind as K};

fn coerce(c: &Compiled, id: NodeId, s: &str) -> Result<Value, ValidationError> {
    match c.node(id) {
        Node::Integer(_) => s.parse::<i64>().map(Value::Integer).map_err(|_| {
            ValidationError::new(K::InvalidParam {
                expected: "integer",
            })
        }),
        Node::Boolean { .. } => match s {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(ValidationError::new(K::InvalidParam {
                expected: "boolean",
            })),
        },
        _ => Ok(Value::String(s.to_string())),
    }
}

/// Reads `pairs` as the parameters `params` declares, validates them and
/// fills defaults; returns them as a map.
pub(crate) fn read(
    c: &Compiled,
    params: &ObjectNode,
    pairs: &[(&str, &str)],
) -> Result<Value, ValidationError> {
    let mut m = BTreeMap::new();
    for p in params.props.iter() {
        let name = &*p.name;
        let mut given = pairs.iter().filter(|(k, _)| *k == name).map(|(_, v)| *v);
        if let Node::Array { items, .. } = c.node(p.node) {
            let mut a = Vec::new();
            for (i, s) in given.enumerate() {
                a.push(coerce(c, *items, s).map_err(|e| e.within_index(i).within(name))?);
            }
            if !a.is_empty() {
                m.insert(name.to_string(), Value::Array(a));
            }
        } else if let Some(s) = given.next() {
            if given.next().is_some() {
                return Err(ValidationError::new(K::RepeatedParam).within(name));
            }
            m.insert(
                name.to_string(),
                coerce(c, p.node, s).map_err(|e| e.within(name))?,
            );
        }
    }
    object(c, params, &m, 0)?;
    let mut v = Value::Map(m);
    apply_params_defaults(c, params, &mut v);
    Ok(v)
}

pub(crate) fn apply_params_defaults(c: &Compiled, params: &ObjectNode, v: &mut Value) {
    if let Value::Map(m) = v {
        for p in params.props.iter() {
            if !m.contains_key(&*p.name)
                && let Some(d) = defaults::default_of(c, p.node)
            {
                m.insert(p.name.to_string(), d);
            }
        }
    }
}
