//! Filling absent fields with their schema's `default`.

use alloc::string::ToString;

use atproto_core::Value;

use super::{MAX_VALIDATION_DEPTH, member};
use crate::compiled::{Compiled, Node, NodeId};

/// The default value of a node, if it has one (booleans, integers, strings).
pub(crate) fn default_of(c: &Compiled, id: NodeId) -> Option<Value> {
    match c.node(id) {
        Node::Boolean {
            default: Some(d), ..
        } => Some(Value::Bool(*d)),
        Node::Integer(r) => r.default.map(Value::Integer),
        Node::String(r) => r.default.as_deref().map(|s| Value::String(s.to_string())),
        _ => None,
    }
}

/// Whether a node has a default, without building it.
pub(crate) fn has_default(c: &Compiled, id: NodeId) -> bool {
    match c.node(id) {
        Node::Boolean { default, .. } => default.is_some(),
        Node::Integer(r) => r.default.is_some(),
        Node::String(r) => r.default.is_some(),
        _ => false,
    }
}

/// Fills absent properties that have a default, everywhere below `v`. Runs
/// after validation, so the shape of `v` is known to match.
pub(crate) fn apply(c: &Compiled, id: NodeId, v: &mut Value, depth: usize) {
    if depth >= MAX_VALIDATION_DEPTH {
        return;
    }
    match c.node(id) {
        Node::Object(o) => {
            let Value::Map(m) = v else { return };
            for p in o.props.iter() {
                match m.get_mut(&*p.name) {
                    Some(x) => apply(c, p.node, x, depth + 1),
                    None => {
                        if let Some(d) = default_of(c, p.node) {
                            m.insert(p.name.to_string(), d);
                        }
                    }
                }
            }
        }
        Node::Array { items, .. } => {
            if let Value::Array(a) = v {
                for x in a.iter_mut() {
                    apply(c, *items, x, depth + 1);
                }
            }
        }
        Node::Union { members, .. } => {
            let target = v
                .get("$type")
                .and_then(Value::as_str)
                .and_then(|t| member(members, t))
                .map(|m| m.node);
            if let Some(node) = target {
                apply(c, node, v, depth);
            }
        }
        _ => {}
    }
}
