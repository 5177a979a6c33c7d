//! [`BlobRef`]: a reference to a blob (an image, a video…) stored beside a repository.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

use cid::Cid;
use serde::{Deserialize, Serialize};

use super::value::Value;
use crate::syntax::CidString;

/// A reference to a blob.
///
/// Read from either form, written only in the current one:
///
/// - current: `{"$type":"blob","ref":{"$link":"bafkrei…"},"mimeType":"image/png","size":64961}`
///   (in DAG-CBOR `ref` is a tag-42 link);
/// - legacy (read only): `{"cid":"bafkrei…","mimeType":"image/png"}`, whose
///   size is unknown and reads as `0`.
///
/// Use [`BlobRef::from_value_with_form`] to learn which form a value had.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobRef {
    /// The CID of the blob's bytes (normally codec raw, `bafkrei…`).
    pub cid: Cid,
    /// The MIME type declared by the uploader, e.g. `image/jpeg`.
    pub mime_type: String,
    /// Size of the blob in bytes (`0` when read from the legacy form).
    pub size: u64,
}

/// Which of the two blob forms a value had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlobForm {
    /// `{"$type":"blob","ref":…,"mimeType":…,"size":…}`.
    Current,
    /// `{"cid":…,"mimeType":…}`: read only, never written.
    Legacy,
}

impl BlobRef {
    /// A blob reference in the current form.
    pub fn new(cid: Cid, mime_type: impl Into<String>, size: u64) -> Self {
        BlobRef {
            cid,
            mime_type: mime_type.into(),
            size,
        }
    }

    /// Reads a blob reference from a [`Value::Blob`], or from a map in the
    /// current or legacy form. `None` if `v` is neither.
    pub fn from_value(v: &Value) -> Option<BlobRef> {
        Self::from_value_with_form(v).map(|(b, _)| b)
    }

    /// As [`BlobRef::from_value`], also telling which form was read.
    pub fn from_value_with_form(v: &Value) -> Option<(BlobRef, BlobForm)> {
        match v {
            Value::Blob(b) => Some((b.clone(), BlobForm::Current)),
            Value::Map(m) => {
                if m.contains_key("$type") {
                    return check_blob_map(m)
                        .ok()
                        .flatten()
                        .map(|b| (b, BlobForm::Current));
                }
                let cid = m.get("cid")?.as_str()?;
                let mime_type = m.get("mimeType")?.as_str()?;
                if m.len() != 2 {
                    return None;
                }
                let cid = CidString::parse_cid(cid).ok()?;
                Some((BlobRef::new(cid, mime_type, 0), BlobForm::Legacy))
            }
            _ => None,
        }
    }

    /// The current-form map this reference encodes to (what
    /// [`Value::Blob`] is written as).
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        m.insert("$type".to_string(), Value::String("blob".to_string()));
        m.insert("ref".to_string(), Value::Link(self.cid));
        m.insert(
            "mimeType".to_string(),
            Value::String(self.mime_type.clone()),
        );
        // Sizes beyond i64 cannot be represented in the data model; saturate.
        m.insert(
            "size".to_string(),
            Value::Integer(i64::try_from(self.size).unwrap_or(i64::MAX)),
        );
        m
    }
}

impl TryFrom<&Value> for BlobRef {
    type Error = NotABlob;
    fn try_from(v: &Value) -> Result<Self, Self::Error> {
        BlobRef::from_value(v).ok_or(NotABlob)
    }
}

/// The error of [`BlobRef::try_from`]: the value is not a blob in either form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("value is not a blob reference")]
pub struct NotABlob;

/// Checks a map whose `$type` may be `"blob"`.
///
/// `Ok(None)`: not a blob (`$type` absent or another string) or a blob map
/// with extra keys (kept as a plain map so it round-trips). `Ok(Some)`: a
/// well-formed current blob with exactly the four keys. `Err`: `$type` is
/// `"blob"` but a field is missing or mistyped.
pub(crate) fn check_blob_map(m: &BTreeMap<String, Value>) -> Result<Option<BlobRef>, &'static str> {
    match m.get("$type") {
        Some(Value::String(t)) if t == "blob" => {}
        _ => return Ok(None),
    }
    let cid = match m.get("ref") {
        Some(Value::Link(c)) => *c,
        Some(_) => return Err("blob `ref` must be a link"),
        None => return Err("blob is missing `ref`"),
    };
    let mime_type = match m.get("mimeType") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("blob `mimeType` must be a string"),
        None => return Err("blob is missing `mimeType`"),
    };
    let size = match m.get("size") {
        Some(Value::Integer(i)) if *i >= 0 => *i as u64,
        Some(_) => return Err("blob `size` must be a non-negative integer"),
        None => return Err("blob is missing `size`"),
    };
    if m.len() != 4 {
        return Ok(None);
    }
    Ok(Some(BlobRef::new(cid, mime_type.clone(), size)))
}

/// Serializes a link: `{"$link": "…"}` for human-readable formats, the CID
/// itself (tag 42 under `serde_ipld_dagcbor`) otherwise.
pub(crate) struct LinkRef<'a>(pub(crate) &'a Cid);

impl Serialize for LinkRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if s.is_human_readable() {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("$link", &self.0.to_string())?;
            m.end()
        } else {
            self.0.serialize(s)
        }
    }
}

struct LinkDe(Cid);

impl<'de> Deserialize<'de> for LinkDe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Link {
                #[serde(rename = "$link")]
                link: String,
            }
            let l = Link::deserialize(d)?;
            CidString::parse_cid(&l.link)
                .map(LinkDe)
                .map_err(serde::de::Error::custom)
        } else {
            Cid::deserialize(d).map(LinkDe)
        }
    }
}

/// Always writes the current form (`$type`, `ref`, `mimeType`, `size`).
impl Serialize for BlobRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("$type", "blob")?;
        m.serialize_entry("ref", &LinkRef(&self.cid))?;
        m.serialize_entry("mimeType", &self.mime_type)?;
        m.serialize_entry("size", &self.size)?;
        m.end()
    }
}

/// Reads the current form, or the legacy `{cid, mimeType}` form (size `0`).
impl<'de> Deserialize<'de> for BlobRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "$type")]
            ty: Option<String>,
            #[serde(rename = "ref")]
            link: Option<LinkDe>,
            cid: Option<String>,
            #[serde(rename = "mimeType")]
            mime_type: String,
            size: Option<u64>,
        }
        let raw = Raw::deserialize(d)?;
        match (raw.ty.as_deref(), raw.link, raw.cid, raw.size) {
            (Some("blob"), Some(link), _, Some(size)) => {
                Ok(BlobRef::new(link.0, raw.mime_type, size))
            }
            (None, None, Some(cid), None) => CidString::parse_cid(&cid)
                .map(|cid| BlobRef::new(cid, raw.mime_type, 0))
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "expected a blob: {$type: \"blob\", ref, mimeType, size} or legacy {cid, mimeType}",
            )),
        }
    }
}
