//! The seven compatibility levels and how a new schema is checked against a subject's earlier versions,
//! with the messages the Confluent registry answers (`{errorType:..., description:...}`, then
//! `{oldSchemaVersion: n}`, `{oldSchema: '...'}`, `{compatibility: 'LEVEL'}` for each failing version).
//!
//! Whether an Avro reader reads a writer's data is the Avro specification's schema resolution
//! (`weft-schema`); whether a JSON Schema accepts what another accepts, and whether a Protobuf
//! message reads another's bytes, are Confluent's rule sets ([`json_schema`], [`protobuf`]). All
//! are worded here.

pub mod avro;
pub mod json_schema;
pub mod protobuf;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::schema::ParsedSchema;
use crate::RegistryError;

/// A compatibility level (Confluent semantics).
///
/// - BACKWARD: the new schema can read data written with the latest version.
/// - FORWARD: the latest version can read data written with the new schema.
/// - FULL: both.
/// - `*_TRANSITIVE`: the same against every earlier version, not only the latest.
/// - NONE: no check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub fn as_str(&self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn is_transitive(&self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether a schema accepted under this level is always accepted under `other`: this level checks
    /// every direction `other` checks, against every version `other` checks against.
    pub fn covers(&self, other: CompatibilityLevel) -> bool {
        (self.checks_backward() || !other.checks_backward())
            && (self.checks_forward() || !other.checks_forward())
            && (self.is_transitive() || !other.is_transitive())
    }

    fn checks_backward(&self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn checks_forward(&self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "NONE" => CompatibilityLevel::None,
            "BACKWARD" => CompatibilityLevel::Backward,
            "BACKWARD_TRANSITIVE" => CompatibilityLevel::BackwardTransitive,
            "FORWARD" => CompatibilityLevel::Forward,
            "FORWARD_TRANSITIVE" => CompatibilityLevel::ForwardTransitive,
            "FULL" => CompatibilityLevel::Full,
            "FULL_TRANSITIVE" => CompatibilityLevel::FullTransitive,
            _ => return Err(RegistryError::InvalidCompatibilityLevel(s.to_string())),
        })
    }
}

/// The answer of a compatibility check (`POST /compatibility/...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityResult {
    pub is_compatible: bool,
    /// Why not, one Confluent-style message per line (empty when compatible).
    pub messages: Vec<String>,
}

/// An earlier version a new schema is checked against.
pub struct PreviousVersion<'a> {
    pub version: u32,
    /// Its stored text, quoted in messages.
    pub text: &'a str,
    pub schema: &'a ParsedSchema,
}

/// Checks `new` against the earlier versions of a subject (oldest first) under `level`; the messages
/// say what is incompatible with which version. Non-transitive levels look at the latest version only.
pub fn check(level: CompatibilityLevel, new: &ParsedSchema, previous: &[PreviousVersion<'_>]) -> CompatibilityResult {
    let against: Vec<&PreviousVersion<'_>> = match level {
        CompatibilityLevel::None => Vec::new(),
        _ if level.is_transitive() => previous.iter().rev().collect(),
        _ => previous.last().into_iter().collect(),
    };
    let mut messages = Vec::new();
    for old in against {
        let mut found = Vec::new();
        if level.checks_backward() {
            found.extend(incompatibilities(new, old.schema, "new", "old"));
        }
        if level.checks_forward() {
            found.extend(incompatibilities(old.schema, new, "old", "new"));
        }
        if !found.is_empty() {
            messages.extend(found);
            messages.push(format!("{{oldSchemaVersion: {}}}", old.version));
            messages.push(format!("{{oldSchema: '{}'}}", old.text));
            messages.push(format!("{{compatibility: '{}'}}", level.as_str()));
        }
    }
    CompatibilityResult { is_compatible: messages.is_empty(), messages }
}

/// Every reason `reader` cannot read what `writer` wrote, as Confluent-style message strings naming the
/// schemas `reader_label` and `writer_label` ("new", "old").
pub fn incompatibilities(
    reader: &ParsedSchema,
    writer: &ParsedSchema,
    reader_label: &str,
    writer_label: &str,
) -> Vec<String> {
    match (reader, writer) {
        (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => r
            .incompatibilities_reading(w)
            .iter()
            .map(|i| {
                format!(
                    "{{errorType:'{}', description:'{}', additionalInfo:'{}'}}",
                    i.kind.as_str(),
                    avro::describe(i, reader_label, writer_label),
                    i.detail
                )
            })
            .collect(),
        (ParsedSchema::Json(r), ParsedSchema::Json(w)) => json_schema::incompatibilities(r, w)
            .iter()
            .map(|i| {
                format!("{{errorType:'{}', description:'{}'}}", i.change.as_str(), i.describe(reader_label, writer_label))
            })
            .collect(),
        (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) => protobuf::incompatibilities(r, w)
            .iter()
            .map(|i| {
                format!("{{errorType:'{}', description:'{}'}}", i.change.as_str(), i.describe(reader_label, writer_label))
            })
            .collect(),
        _ => vec![format!(
            "{{errorType:'SCHEMA_TYPE_CHANGED', description:'Incompatible because of different schema type: the {reader_label} schema is {} and the {writer_label} schema is {}'}}",
            reader.schema_type(),
            writer.schema_type()
        )],
    }
}

#[cfg(test)]
mod tests;
