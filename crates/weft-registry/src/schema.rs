//! Schemas as the registry stores them: a submitted definition and its references to other subjects.
//! The formats themselves (parsing, canonical texts, validation) are `weft-schema`'s, re-exported here.

use serde::{Deserialize, Serialize};

pub use weft_schema::{ParsedSchema, ResolvedReference, SchemaType};

/// A reference from a schema to a version of another subject (Confluent `references`): `name` is how the
/// schema refers to it (an Avro type's full name, or a JSON Schema `$ref` URI).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// A schema as a client submits it, and as the registry stores it (with its canonical text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDefinition {
    #[serde(default)]
    pub schema_type: SchemaType,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl SchemaDefinition {
    pub fn new(schema_type: SchemaType, schema: impl Into<String>) -> Self {
        SchemaDefinition { schema_type, schema: schema.into(), references: Vec::new() }
    }

    pub fn avro(schema: impl Into<String>) -> Self {
        Self::new(SchemaType::Avro, schema)
    }

    pub fn json(schema: impl Into<String>) -> Self {
        Self::new(SchemaType::Json, schema)
    }

    pub fn with_references(mut self, references: Vec<SchemaReference>) -> Self {
        self.references = references;
        self
    }
}
