//! Writing a contract back as YAML, members in the order the standard's documents use.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// Members the standard writes first, in its order; the ones it nests under them ([`LAST`]) come
/// last, and any other member in between, alphabetically. One list for every level: a name means the
/// same thing wherever it appears.
const FIRST: &[&str] = &[
    "apiVersion",
    "kind",
    "id",
    "name",
    "username",
    "property",
    "role",
    "channel",
    "server",
    "type",
    "value",
    "unit",
    "version",
    "status",
    "tenant",
    "domain",
    "dataProduct",
    "description",
    "purpose",
    "usage",
    "limitations",
    "businessName",
    "physicalName",
    "physicalType",
    "logicalType",
    "logicalTypeOptions",
    "required",
    "unique",
    "primaryKey",
    "primaryKeyPosition",
    "partitioned",
    "partitionKeyPosition",
    "classification",
    "criticalDataElement",
    "metric",
    "rule",
    "arguments",
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
    "query",
    "engine",
    "implementation",
];

/// Members holding the nested parts of an element, written after everything else.
const LAST: &[&str] = &["servers", "schema", "properties", "items", "quality"];

fn rank(key: &str) -> usize {
    if let Some(i) = FIRST.iter().position(|k| *k == key) {
        return i;
    }
    match LAST.iter().position(|k| *k == key) {
        Some(i) => FIRST.len() + 1 + i,
        None => FIRST.len(),
    }
}

/// A value serialized with its mappings' members in the order of [`rank`].
struct Ordered<'a>(&'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then_with(|| a.0.cmp(b.0)));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Ordered(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Ordered(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The document as YAML.
pub(crate) fn write(document: &Value) -> String {
    match serde_saphyr::to_string(&Ordered(document)) {
        Ok(text) => text,
        // A JSON value always serializes; should the writer ever refuse one, JSON is YAML too.
        Err(_) => serde_json::to_string_pretty(document).unwrap_or_default(),
    }
}
