//! The compiled form of a catalog: every schema becomes a [`Node`] in one
//! table, and every reference becomes the index of its target. Validation
//! walks this table only; names are looked up once, when a validator handle
//! is obtained, never while checking data.
//!
//! A def that refers to itself (an object with a property of its own type)
//! compiles to a node whose child index is its own index: compiling never
//! follows references, so cycles cannot make it loop, and validation
//! descends one data level per step, so the data's depth bounds it.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::check::split_ref;
use crate::error::{SchemaError, SchemaErrorKind as K};
use crate::schema::{
    Body, EndpointSchema, LexiconDoc, ObjectSchema, ParamsSchema, RecordKeyType, Schema,
};
use crate::validate::string::StringRules;

/// Index of a node in [`Compiled::nodes`].
pub(crate) type NodeId = u32;

/// One compiled schema.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// Reserved for a named def while the defs are being compiled.
    Placeholder,
    Boolean {
        const_value: Option<bool>,
        default: Option<bool>,
    },
    Integer(IntegerRules),
    String(Box<StringRules>),
    Bytes {
        min: Option<u64>,
        max: Option<u64>,
    },
    CidLink,
    Blob {
        accept: Option<Box<[Box<str>]>>,
        max_size: Option<u64>,
    },
    Array {
        items: NodeId,
        min: Option<u64>,
        max: Option<u64>,
    },
    Object(ObjectNode),
    Union {
        members: Box<[Member]>,
        closed: bool,
    },
    Unknown,
    /// A reference to a token: the value is the token's full name.
    Token(Box<str>),
    /// A def that does not describe data (query, procedure, subscription,
    /// permission-set).
    NotData,
}

#[derive(Clone, Debug)]
pub(crate) struct IntegerRules {
    pub(crate) min: Option<i64>,
    pub(crate) max: Option<i64>,
    pub(crate) enum_values: Option<Box<[i64]>>,
    pub(crate) const_value: Option<i64>,
    pub(crate) default: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ObjectNode {
    /// Sorted by name in byte order, as data maps are: validation pairs the
    /// two in one merged pass.
    pub(crate) props: Box<[Prop]>,
}

#[derive(Clone, Debug)]
pub(crate) struct Prop {
    pub(crate) name: Box<str>,
    pub(crate) node: NodeId,
    pub(crate) required: bool,
    pub(crate) nullable: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// `nsid` for a `main` def, `nsid#def` otherwise: the `$type` data carries.
    pub(crate) name: Box<str>,
    pub(crate) node: NodeId,
}

/// What a named def is.
#[derive(Clone, Debug)]
pub(crate) enum DefKind {
    /// Data of the given Lexicon type (object, string, token, …).
    Data(&'static str),
    Record(RecordKeyType),
    Endpoint(Box<EndpointNode>),
    PermissionSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndpointType {
    Query,
    Procedure,
    Subscription,
}

#[derive(Clone, Debug)]
pub(crate) struct EndpointNode {
    pub(crate) kind: EndpointType,
    pub(crate) params: Option<ObjectNode>,
    pub(crate) input: Option<BodyNode>,
    pub(crate) output: Option<BodyNode>,
    pub(crate) message: Option<NodeId>,
}

#[derive(Clone, Debug)]
pub(crate) struct BodyNode {
    pub(crate) encoding: Box<str>,
    pub(crate) schema: Option<NodeId>,
}

#[derive(Clone, Debug)]
pub(crate) struct DefEntry {
    /// `nsid` for `main`, `nsid#def` otherwise.
    pub(crate) name: Box<str>,
    /// Length of the NSID prefix of `name`.
    pub(crate) nsid_len: usize,
    pub(crate) node: NodeId,
    pub(crate) kind: DefKind,
}

impl DefEntry {
    pub(crate) fn nsid(&self) -> &str {
        self.name.get(..self.nsid_len).unwrap_or(&self.name)
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            DefKind::Data(t) => t,
            DefKind::Record(_) => "record",
            DefKind::Endpoint(e) => match e.kind {
                EndpointType::Query => "query",
                EndpointType::Procedure => "procedure",
                EndpointType::Subscription => "subscription",
            },
            DefKind::PermissionSet => "permission-set",
        }
    }
}

/// The compiled catalog.
#[derive(Clone, Debug, Default)]
pub(crate) struct Compiled {
    pub(crate) nodes: Vec<Node>,
    pub(crate) defs: Vec<DefEntry>,
    /// `nsid#def` (always with the `#`) → index into `defs`.
    pub(crate) index: BTreeMap<String, u32>,
}

impl Compiled {
    /// The def a reference names (`nsid`, `nsid#def`), if any.
    pub(crate) fn lookup(&self, reference: &str) -> Option<(u32, &DefEntry)> {
        let i = *if reference.contains('#') {
            self.index.get(reference)
        } else {
            self.index.get(&format!("{reference}#main"))
        }?;
        self.defs.get(i as usize).map(|d| (i, d))
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        self.nodes.get(id as usize).unwrap_or(&Node::NotData)
    }
}

fn to_id(n: usize) -> NodeId {
    NodeId::try_from(n).unwrap_or(NodeId::MAX)
}

/// Compiles documents whose ids are distinct and which each passed
/// [`LexiconDoc::check`].
pub(crate) fn compile(docs: &[LexiconDoc]) -> Result<Compiled, SchemaError> {
    let mut c = Compiled::default();
    // Pass 1: one slot per named def, so references can point at it.
    let mut targets: Vec<&Schema> = Vec::new();
    for doc in docs {
        for (name, def) in &doc.defs {
            let nsid = doc.id.as_str();
            let display = if name == "main" {
                nsid.to_string()
            } else {
                format!("{nsid}#{name}")
            };
            let kind = match def {
                Schema::Record(r) => DefKind::Record(r.key.clone()),
                Schema::Query(_) | Schema::Procedure(_) | Schema::Subscription(_) => {
                    // Filled in by pass 2; the kind is right from the start
                    // so errors about references to it name it correctly.
                    DefKind::Endpoint(Box::new(EndpointNode {
                        kind: match def {
                            Schema::Query(_) => EndpointType::Query,
                            Schema::Procedure(_) => EndpointType::Procedure,
                            _ => EndpointType::Subscription,
                        },
                        params: None,
                        input: None,
                        output: None,
                        message: None,
                    }))
                }
                Schema::PermissionSet(_) => DefKind::PermissionSet,
                other => DefKind::Data(other.type_name()),
            };
            c.index
                .insert(format!("{nsid}#{name}"), to_id(c.defs.len()));
            c.defs.push(DefEntry {
                name: display.into(),
                nsid_len: nsid.len(),
                node: to_id(c.nodes.len()),
                kind,
            });
            c.nodes.push(Node::Placeholder);
            targets.push(def);
        }
    }
    // Pass 2: fill the slots.
    let mut i = 0;
    for doc in docs {
        for name in doc.defs.keys() {
            let def = targets.get(i).copied();
            let Some(def) = def else { break };
            let mut cx = Compiler {
                c: &mut c,
                doc: doc.id.as_str(),
            };
            cx.def(i, def)
                .map_err(|e| e.within(name).within("defs").in_doc(doc.id.as_str()))?;
            i += 1;
        }
    }
    Ok(c)
}

struct Compiler<'a> {
    c: &'a mut Compiled,
    doc: &'a str,
}

impl Compiler<'_> {
    fn def(&mut self, i: usize, def: &Schema) -> Result<(), SchemaError> {
        let slot = self.c.defs.get(i).map(|d| d.node).unwrap_or(NodeId::MAX);
        match def {
            Schema::Record(r) => {
                let node = self.object(&r.record).map_err(|e| e.within("record"))?;
                self.set(slot, node);
            }
            Schema::Query(e) | Schema::Procedure(e) => {
                let kind = if matches!(def, Schema::Query(_)) {
                    EndpointType::Query
                } else {
                    EndpointType::Procedure
                };
                let node = self.endpoint(kind, e)?;
                self.set_endpoint(i, node);
                self.set(slot, Node::NotData);
            }
            Schema::Subscription(s) => {
                let params = self.params_opt(s.parameters.as_ref())?;
                let message = match &s.message {
                    Some(m) => Some(
                        self.schema(m)
                            .map_err(|e| e.within("schema").within("message"))?,
                    ),
                    None => None,
                };
                self.set_endpoint(
                    i,
                    EndpointNode {
                        kind: EndpointType::Subscription,
                        params,
                        input: None,
                        output: None,
                        message,
                    },
                );
                self.set(slot, Node::NotData);
            }
            Schema::PermissionSet(_) => self.set(slot, Node::NotData),
            Schema::Token(_) => {
                let name = self
                    .c
                    .defs
                    .get(i)
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                self.set(slot, Node::Token(name));
            }
            other => {
                let node = self.build(other)?;
                self.set(slot, node);
            }
        }
        Ok(())
    }

    fn set(&mut self, slot: NodeId, node: Node) {
        if let Some(n) = self.c.nodes.get_mut(slot as usize) {
            *n = node;
        }
    }

    fn set_endpoint(&mut self, i: usize, node: EndpointNode) {
        if let Some(d) = self.c.defs.get_mut(i) {
            d.kind = DefKind::Endpoint(Box::new(node));
        }
    }

    fn endpoint(
        &mut self,
        kind: EndpointType,
        e: &EndpointSchema,
    ) -> Result<EndpointNode, SchemaError> {
        Ok(EndpointNode {
            kind,
            params: self.params_opt(e.parameters.as_ref())?,
            input: self.body(e.input.as_ref()).map_err(|e| e.within("input"))?,
            output: self
                .body(e.output.as_ref())
                .map_err(|e| e.within("output"))?,
            message: None,
        })
    }

    fn body(&mut self, b: Option<&Body>) -> Result<Option<BodyNode>, SchemaError> {
        let Some(b) = b else { return Ok(None) };
        let schema = match &b.schema {
            Some(s) => Some(self.schema(s).map_err(|e| e.within("schema"))?),
            None => None,
        };
        Ok(Some(BodyNode {
            encoding: b.encoding.as_str().into(),
            schema,
        }))
    }

    fn params_opt(&mut self, p: Option<&ParamsSchema>) -> Result<Option<ObjectNode>, SchemaError> {
        match p {
            Some(p) => Ok(Some(
                self.props(&p.properties, &p.required, &[])
                    .map_err(|e| e.within("parameters"))?,
            )),
            None => Ok(None),
        }
    }

    /// Compiles a nested schema to a node index (a reference compiles to its
    /// target's index, adding no node).
    fn schema(&mut self, s: &Schema) -> Result<NodeId, SchemaError> {
        if let Schema::Ref(r) = s {
            return self
                .resolve(&r.reference, false)
                .map_err(|e| e.within("ref"));
        }
        let node = self.build(s)?;
        let id = to_id(self.c.nodes.len());
        self.c.nodes.push(node);
        Ok(id)
    }

    fn build(&mut self, s: &Schema) -> Result<Node, SchemaError> {
        Ok(match s {
            Schema::Boolean(b) => Node::Boolean {
                const_value: b.const_value,
                default: b.default,
            },
            Schema::Integer(i) => Node::Integer(IntegerRules {
                min: i.minimum,
                max: i.maximum,
                enum_values: i.enum_values.as_ref().map(|e| e.as_slice().into()),
                const_value: i.const_value,
                default: i.default,
            }),
            Schema::String(st) => Node::String(Box::new(StringRules::from_schema(st))),
            Schema::Bytes(b) => Node::Bytes {
                min: b.min_length,
                max: b.max_length,
            },
            Schema::CidLink(_) => Node::CidLink,
            Schema::Blob(b) => Node::Blob {
                accept: b
                    .accept
                    .as_ref()
                    .map(|a| a.iter().map(|p| Box::from(p.as_str())).collect()),
                max_size: b.max_size,
            },
            Schema::Array(a) => Node::Array {
                items: self.schema(&a.items).map_err(|e| e.within("items"))?,
                min: a.min_length,
                max: a.max_length,
            },
            Schema::Object(o) => self.object(o)?,
            Schema::Union(u) => {
                let mut members = Vec::with_capacity(u.refs.len());
                for (i, r) in u.refs.iter().enumerate() {
                    let node = self
                        .resolve(r, true)
                        .map_err(|e| e.within(&i.to_string()).within("refs"))?;
                    members.push(Member {
                        name: self.canonical(r).into(),
                        node,
                    });
                }
                Node::Union {
                    members: members.into(),
                    closed: u.closed,
                }
            }
            Schema::Unknown(_) => Node::Unknown,
            // `check` keeps these out of nested positions; compile them inertly.
            Schema::Ref(_)
            | Schema::Params(_)
            | Schema::Token(_)
            | Schema::Record(_)
            | Schema::Query(_)
            | Schema::Procedure(_)
            | Schema::Subscription(_)
            | Schema::PermissionSet(_) => Node::NotData,
        })
    }

    fn object(&mut self, o: &ObjectSchema) -> Result<Node, SchemaError> {
        Ok(Node::Object(self.props(
            &o.properties,
            &o.required,
            &o.nullable,
        )?))
    }

    fn props(
        &mut self,
        properties: &BTreeMap<String, Schema>,
        required: &[String],
        nullable: &[String],
    ) -> Result<ObjectNode, SchemaError> {
        let mut props = Vec::with_capacity(properties.len());
        for (name, s) in properties {
            let node = self
                .schema(s)
                .map_err(|e| e.within(name).within("properties"))?;
            props.push(Prop {
                name: name.as_str().into(),
                node,
                required: required.contains(name),
                nullable: nullable.contains(name),
            });
        }
        Ok(ObjectNode {
            props: props.into(),
        })
    }

    /// The full name of a reference as data's `$type` carries it.
    fn canonical(&self, r: &str) -> String {
        match split_ref(r) {
            Some((nsid, name)) => {
                let nsid = if nsid.is_empty() { self.doc } else { nsid };
                if name == "main" {
                    nsid.to_string()
                } else {
                    format!("{nsid}#{name}")
                }
            }
            None => r.to_string(),
        }
    }

    fn resolve(&self, r: &str, union_member: bool) -> Result<NodeId, SchemaError> {
        let (nsid, name) =
            split_ref(r).ok_or_else(|| SchemaError::new(K::InvalidRef(r.to_string())))?;
        let nsid = if nsid.is_empty() { self.doc } else { nsid };
        let def = self
            .c
            .index
            .get(&format!("{nsid}#{name}"))
            .and_then(|i| self.c.defs.get(*i as usize))
            .ok_or_else(|| SchemaError::new(K::UnresolvedRef(r.to_string())))?;
        let found = def.type_name();
        match &def.kind {
            DefKind::Endpoint(_) | DefKind::PermissionSet => {
                return Err(SchemaError::new(K::RefToNonData {
                    reference: r.to_string(),
                    found,
                }));
            }
            DefKind::Data(t) if union_member && *t != "object" => {
                return Err(SchemaError::new(K::UnionMemberNotObject {
                    reference: r.to_string(),
                    found,
                }));
            }
            _ => {}
        }
        Ok(def.node)
    }
}
