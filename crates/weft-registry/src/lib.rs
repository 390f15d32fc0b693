//! Weft's schema registry: subjects, versions, ids, compatibility levels and modes, kept in the event log.
//!
//! The formats are not here: `weft-schema` parses Avro and JSON Schema with precise errors, gives
//! canonical texts (what deduplication compares), resolves an Avro reader against a writer, validates
//! payloads and frames them in the Confluent wire format. This crate re-exports it ([`avro`],
//! [`json_schema`], [`wire`], [`ParsedSchema`], [`SchemaType`], [`field_summaries`]) and builds on it:
//!
//! - [`schema`] holds what a client submits ([`SchemaDefinition`], with [`SchemaReference`]s to other
//!   subjects), which the registry resolves and parses into a [`ParsedSchema`].
//! - [`compat`] holds the seven compatibility levels, Confluent's rules for JSON Schema differences,
//!   and the messages the Confluent registry answers with for Avro and JSON Schema incompatibilities.
//! - [`registry`] is the state machine of subjects, versions, ids, configs and modes ([`RegistryState`], a
//!   pure `apply(event)`), and the [`Registry`] service that validates a command, appends its events to
//!   the `_weft_schemas` topic of the event log and applies them. The state is rebuilt from that topic.
//!
//! The HTTP layer is deliberately not here: every Confluent REST endpoint maps to one [`Registry`] method
//! (each method's documentation names its endpoint), bodies are the serde types of [`registry`] and
//! [`api`], and every refusal is a [`RegistryError`] that knows its HTTP status and Confluent error code.
//!
//! Invariants the registry keeps:
//! - schema ids are global, dense from 1 (IMPORT mode takes ids from the request), and never given to
//!   another schema, even across restarts, crashes mid-write and hard deletes (a schema id's record is
//!   never tombstoned, so compaction cannot forget it);
//! - the same schema (same type, canonical text and references) always gets the same id, whatever the subject;
//! - a subject's versions start at 1 and a new one is one past the highest it holds, soft-deleted included.
//!
//! Not done here: schema `metadata`/`ruleSet`, contexts, and `$ref`s relative to nested `$id`s.
//! JSON Schema compatibility does not analyse `if`/`then`/`else`, `dependentSchemas`, `unevaluated*`,
//! `propertyNames`, `contains` and `patternProperties`: adding or changing them is reported as
//! incompatible (`KEYWORD_CHANGED`) rather than assumed harmless. Validation enforces all of them.

pub mod api;
pub mod compat;
mod error;
pub mod registry;
pub mod schema;
#[cfg(test)]
mod test_support;

pub use compat::{CompatibilityLevel, CompatibilityResult};
pub use error::RegistryError;
pub use registry::{
    DeletedFilter, Mode, RegisterRequest, RegisteredSchema, Registry, RegistryEvent, RegistryOptions, RegistryState,
    SchemaFormat, SchemaInfo, SubjectVersion, VersionSpec, SCHEMAS_TOPIC,
};
pub use schema::{ParsedSchema, SchemaDefinition, SchemaReference, SchemaType};
pub use weft_schema::{avro, json_schema, wire};
pub use weft_schema::{field_summaries, FieldSummary, ValidationError};

/// A global schema id (Confluent: a positive 32-bit integer, dense from 1).
pub type SchemaId = u32;

/// Result alias of this crate.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
