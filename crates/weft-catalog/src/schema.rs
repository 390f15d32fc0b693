//! What the catalog needs from the schema registry, as a trait the server implements over it.
//!
//! Publishing needs "an output port with a registered schema", and search and field lineage need the
//! fields of a port's schema. The catalog does not depend on the registry crate: the server adapts the
//! registry to [`SchemaLookup`]; tests use a small in-memory implementation.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// One field of a schema. Nested fields use dotted paths (`address.city`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInfo {
    pub name: String,
    /// The field's type as the schema language writes it (`string`, `long`, `record`...).
    #[serde(rename = "type")]
    pub field_type: String,
    /// The field's documentation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
}

impl FieldInfo {
    pub fn new(name: impl Into<String>, field_type: impl Into<String>, doc: Option<&str>) -> Self {
        FieldInfo { name: name.into(), field_type: field_type.into(), doc: doc.map(str::to_string) }
    }
}

/// Read access to the schema registry. Calls must be cheap (they run while the catalog indexes).
pub trait SchemaLookup: Send + Sync + 'static {
    /// The fields of the latest schema registered under `subject`, or `None` if the subject is unknown.
    fn latest_fields(&self, subject: &str) -> Option<Vec<FieldInfo>>;
    /// Whether `subject` has a schema (the given version, or any version when `None`).
    fn subject_exists(&self, subject: &str, version: Option<u32>) -> bool;
}

/// A registry held in memory: subjects with their versions' fields. Used by tests and benchmarks, and
/// handy for embedding the catalog without a registry.
#[derive(Debug, Default)]
pub struct InMemorySchemas {
    subjects: RwLock<BTreeMap<String, Vec<Vec<FieldInfo>>>>,
}

impl InMemorySchemas {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a new version of `subject` and returns its version number (from 1).
    pub fn register(&self, subject: &str, fields: Vec<FieldInfo>) -> u32 {
        let mut subjects = self.subjects.write().unwrap_or_else(|e| e.into_inner());
        let versions = subjects.entry(subject.to_string()).or_default();
        versions.push(fields);
        versions.len() as u32
    }
}

impl SchemaLookup for InMemorySchemas {
    fn latest_fields(&self, subject: &str) -> Option<Vec<FieldInfo>> {
        self.subjects.read().unwrap_or_else(|e| e.into_inner()).get(subject).and_then(|v| v.last().cloned())
    }

    fn subject_exists(&self, subject: &str, version: Option<u32>) -> bool {
        let subjects = self.subjects.read().unwrap_or_else(|e| e.into_inner());
        match (subjects.get(subject), version) {
            (None, _) => false,
            (Some(v), None) => !v.is_empty(),
            (Some(v), Some(n)) => n >= 1 && (n as usize) <= v.len(),
        }
    }
}
