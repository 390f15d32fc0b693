//! Both schema formats behind one type: what a schema text of either kind parses into, and what
//! canonical texts and payload validation are asked of.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::avro::AvroSchema;
use crate::json_schema::{JsonSchema, JsonSchemaOptions};
use crate::protobuf::ProtobufSchema;
use crate::{SchemaError, ValidationError};

/// A schema format, named as the Confluent API names it (`schemaType`; absent means AVRO).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    #[default]
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub fn as_str(&self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// The types that can be parsed (`GET /schemas/types`).
    pub fn supported() -> &'static [SchemaType] {
        &[SchemaType::Avro, SchemaType::Json, SchemaType::Protobuf]
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaType {
    type Err = SchemaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Ok(SchemaType::Avro),
            "JSON" => Ok(SchemaType::Json),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            _ => Err(SchemaError::UnknownType(s.to_string())),
        }
    }
}

/// The text of a schema another schema refers to (Confluent schema references): `name` is how the
/// referring schema names it (an Avro type's full name, a JSON Schema `$ref` URI, or the file name
/// a Protobuf `import` uses).
#[derive(Debug, Clone)]
pub struct ResolvedReference {
    pub name: String,
    pub schema: String,
}

/// A parsed schema of any format.
#[derive(Debug)]
pub enum ParsedSchema {
    Avro(AvroSchema),
    Json(JsonSchema),
    Protobuf(ProtobufSchema),
}

impl ParsedSchema {
    /// Parses a schema. `references` are the referenced schemas, transitively, dependencies first.
    pub fn parse(
        schema_type: SchemaType,
        text: &str,
        references: &[ResolvedReference],
    ) -> Result<ParsedSchema, SchemaError> {
        Self::parse_with(schema_type, text, references, JsonSchemaOptions::default())
    }

    /// [`ParsedSchema::parse`], JSON Schemas compiled with `options` (Avro has none).
    pub fn parse_with(
        schema_type: SchemaType,
        text: &str,
        references: &[ResolvedReference],
        options: JsonSchemaOptions,
    ) -> Result<ParsedSchema, SchemaError> {
        match schema_type {
            SchemaType::Avro => {
                let texts: Vec<&str> = references.iter().map(|r| r.schema.as_str()).collect();
                Ok(ParsedSchema::Avro(AvroSchema::parse_with_references(text, &texts)?))
            }
            SchemaType::Json => {
                let refs: Vec<(&str, &str)> = references.iter().map(|r| (r.name.as_str(), r.schema.as_str())).collect();
                Ok(ParsedSchema::Json(JsonSchema::parse_with(text, &refs, options)?))
            }
            SchemaType::Protobuf => {
                let refs: Vec<(&str, &str)> = references.iter().map(|r| (r.name.as_str(), r.schema.as_str())).collect();
                Ok(ParsedSchema::Protobuf(ProtobufSchema::parse_with_references(text, &refs)?))
            }
        }
    }

    pub fn schema_type(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Json(_) => SchemaType::Json,
            ParsedSchema::Protobuf(_) => SchemaType::Protobuf,
        }
    }

    /// The normalized text stored and compared for deduplication.
    pub fn canonical_text(&self) -> String {
        match self {
            ParsedSchema::Avro(schema) => schema.canonical_text(),
            ParsedSchema::Json(schema) => schema.canonical_text(),
            ParsedSchema::Protobuf(schema) => schema.canonical_text(),
        }
    }

    /// The text Confluent's registry stores for `submitted` (the text this schema was parsed from)
    /// when it is registered without `normalize`: Avro as Avro's Java library writes it (a record's
    /// `name` and `namespace` apart), JSON Schema compact with its members in the order written,
    /// Protobuf as submitted (a base64 descriptor as the `.proto` text printed from it, as Confluent
    /// keeps it).
    pub fn confluent_text(&self, submitted: &str) -> String {
        match self {
            ParsedSchema::Avro(schema) => schema.java_text(),
            ParsedSchema::Json(_) => crate::json::compact(submitted),
            ParsedSchema::Protobuf(schema) => schema.text().to_string(),
        }
    }

    /// Validates a JSON payload; the error says where in the payload and why. Protobuf payloads
    /// are binary only (Confluent's serializers write no JSON for them).
    pub fn validate_json(&self, value: &Value) -> Result<(), ValidationError> {
        match self {
            ParsedSchema::Avro(schema) => schema.validate_json(value),
            ParsedSchema::Json(schema) => schema.validate(value),
            ParsedSchema::Protobuf(_) => Err(protobuf_is_binary()),
        }
    }

    /// Parses and validates a JSON payload: the hot path of write-time validation; a rejection says
    /// where and why.
    pub fn validate_json_bytes(&self, bytes: &[u8]) -> Result<(), ValidationError> {
        match self {
            ParsedSchema::Avro(schema) => schema.validate_json_bytes(bytes),
            ParsedSchema::Json(schema) => schema.validate_bytes(bytes),
            ParsedSchema::Protobuf(_) => Err(protobuf_is_binary()),
        }
    }

    /// Validates the payload of a Confluent-framed message (what follows the header [`crate::wire::split`]
    /// removes): Avro binary for an Avro schema, JSON text for a JSON Schema, Confluent's message
    /// indexes and then the message for a Protobuf schema.
    pub fn validate_payload(&self, payload: &[u8]) -> Result<(), ValidationError> {
        match self {
            ParsedSchema::Avro(schema) => schema
                .validate_binary(payload)
                .map_err(|e| ValidationError { path: String::new(), message: e.to_string() }),
            ParsedSchema::Json(schema) => schema.validate_bytes(payload),
            ParsedSchema::Protobuf(schema) => schema.validate_payload(payload),
        }
    }

    pub fn as_avro(&self) -> Option<&AvroSchema> {
        match self {
            ParsedSchema::Avro(schema) => Some(schema),
            _ => None,
        }
    }

    pub fn as_json(&self) -> Option<&JsonSchema> {
        match self {
            ParsedSchema::Json(schema) => Some(schema),
            _ => None,
        }
    }

    pub fn as_protobuf(&self) -> Option<&ProtobufSchema> {
        match self {
            ParsedSchema::Protobuf(schema) => Some(schema),
            _ => None,
        }
    }
}

fn protobuf_is_binary() -> ValidationError {
    ValidationError {
        path: String::new(),
        message: "a Protobuf schema validates binary messages only (Confluent's wire format), not JSON".into(),
    }
}
