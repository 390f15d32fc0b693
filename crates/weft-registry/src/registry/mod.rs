//! The registry: a state machine ([`RegistryState`]) fed by events kept in the `_weft_schemas` topic, and
//! the [`Registry`] service that turns Confluent API operations into those events.
//!
//! A write takes the writer lock, catches up with the log (so an append whose outcome was unknown is
//! seen before deciding anything), plans the events against the state, appends them as one batch, and
//! only then applies them. The state therefore never holds anything the log does not, and ids stay
//! dense because planning and appending are serialized.
//!
//! Several instances may share one log (servers on one Kafka cluster): each applies what the others
//! appended before every write and on [`Registry::refresh`]. Two writes planned at the same instant
//! on two instances could still both hand out the next id, so one instance decides at a time: on
//! Kafka the servers relay writes to an elected leader (`weft-server`'s `forward`), and the embedded
//! log locks its directory, so there one server process is the writer.
//!
//! # The Confluent REST API on this type
//!
//! | Endpoint | Method | Answer |
//! |---|---|---|
//! | `GET /schemas/types` | [`Registry::schema_types`] | `["AVRO","JSON"]` |
//! | `GET /schemas?subjectPrefix&deleted&latestOnly` | [`Registry::schemas`] | `[RegisteredSchema]` |
//! | `GET /schemas/ids/{id}?format` (and `/schema`) | [`Registry::schema_by_id_in`] | [`SchemaInfo`] (`maxId`: `state().max_id()`) |
//! | `GET /schemas/ids/{id}/versions?deleted` | [`Registry::versions_of_id`] | `[SubjectVersion]` |
//! | `GET /schemas/ids/{id}/subjects?deleted` | [`Registry::subjects_of_id`] | `[subject]` |
//! | `GET /subjects?subjectPrefix&deleted` | [`Registry::subjects`] | `[subject]` |
//! | `GET /subjects/{s}/versions?deleted` | [`Registry::versions`] | `[version]` |
//! | `GET /subjects/{s}/versions/{v}?deleted&format` (and `/schema`) | [`Registry::version_in`] | [`RegisteredSchema`] |
//! | `POST /subjects/{s}/versions?normalize` | [`Registry::register`] | [`crate::api::IdResponse`] |
//! | `POST /subjects/{s}?deleted` | [`Registry::lookup`] | [`RegisteredSchema`] |
//! | `DELETE /subjects/{s}?permanent` | [`Registry::delete_subject`] | `[version]` |
//! | `DELETE /subjects/{s}/versions/{v}?permanent` | [`Registry::delete_version`] | `version` |
//! | `GET /subjects/{s}/versions/{v}/referencedby` | [`Registry::referenced_by`] | `[id]` |
//! | `POST /compatibility/subjects/{s}/versions[/{v}]?verbose` | [`Registry::check_compatibility`] | [`CompatibilityResult`] (drop `messages` unless verbose) |
//! | `GET/PUT/DELETE /config[/{s}]?defaultToGlobal` | [`Registry::config`], [`Registry::set_config`], [`Registry::delete_config`] | [`crate::api::ConfigResponse`], [`crate::api::ConfigUpdate`] |
//! | `GET/PUT/DELETE /mode[/{s}]?defaultToGlobal&force` | [`Registry::mode`], [`Registry::set_mode`], [`Registry::delete_mode`] | [`crate::api::ModeBody`] |
//!
//! `{v}` parses with [`VersionSpec::from_str`] (42202), levels and modes with `FromStr` (42203, 42204),
//! and errors render with [`crate::api::ErrorBody::from_error`].
mod event;
mod state;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use serde::{Deserialize, Serialize};
use weft_log::{EventLog, LogError, ReadLimits, TopicConfig};

pub use event::RegistryEvent;
pub use state::{Planned, RegistryState, VersionEntry};

use crate::compat::{CompatibilityLevel, CompatibilityResult};
use crate::json_schema::JsonSchemaOptions;
use crate::schema::{ParsedSchema, SchemaDefinition, SchemaReference, SchemaType};
use crate::{RegistryError, Result, SchemaId};

/// The internal compacted topic holding the registry's events.
pub const SCHEMAS_TOPIC: &str = "_weft_schemas";

/// What a subject (or the whole registry) accepts (Confluent modes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    #[default]
    #[serde(rename = "READWRITE")]
    ReadWrite,
    #[serde(rename = "READONLY")]
    ReadOnly,
    #[serde(rename = "READONLY_OVERRIDE")]
    ReadOnlyOverride,
    /// Registration takes the schema id and version from the request, and skips compatibility checks.
    #[serde(rename = "IMPORT")]
    Import,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::ReadOnlyOverride => "READONLY_OVERRIDE",
            Mode::Import => "IMPORT",
        }
    }

    fn is_read_only(&self) -> bool {
        matches!(self, Mode::ReadOnly | Mode::ReadOnlyOverride)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "READWRITE" => Ok(Mode::ReadWrite),
            "READONLY" => Ok(Mode::ReadOnly),
            "READONLY_OVERRIDE" => Ok(Mode::ReadOnlyOverride),
            "IMPORT" => Ok(Mode::Import),
            _ => Err(RegistryError::InvalidMode(s.to_string())),
        }
    }
}

/// Which versions (or subjects) a listing shows, from Confluent's `deleted`, `deletedOnly` and
/// `deletedAsNegative` query flags (`deletedOnly` wins over `deleted`, as in Confluent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletedFilter {
    /// Live ones only (no flag).
    #[default]
    Live,
    /// Live and soft-deleted ones (`deleted=true`).
    Include,
    /// Soft-deleted ones only (`deletedOnly=true`).
    Only,
    /// Live and soft-deleted versions, a deleted one as its negated number (`deletedAsNegative=true`).
    AsNegative,
}

impl DeletedFilter {
    /// The filter Confluent applies for these flags.
    pub fn from_flags(deleted: bool, deleted_only: bool, deleted_as_negative: bool) -> Self {
        match (deleted_as_negative, deleted_only, deleted) {
            (true, _, _) => DeletedFilter::AsNegative,
            (false, true, _) => DeletedFilter::Only,
            (false, false, true) => DeletedFilter::Include,
            (false, false, false) => DeletedFilter::Live,
        }
    }

    /// Whether an entry that is (or is not) soft-deleted is listed.
    pub fn admits(self, deleted: bool) -> bool {
        match self {
            DeletedFilter::Live => !deleted,
            DeletedFilter::Only => deleted,
            DeletedFilter::Include | DeletedFilter::AsNegative => true,
        }
    }
}

/// A version in a URL: a number, or `latest` (also `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(u32),
}

impl FromStr for VersionSpec {
    type Err = RegistryError;

    /// Parses a URL segment; anything else than `latest`, `-1` or 1..=2^31-1 is 42202.
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 && n <= i32::MAX as u32 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::InvalidVersion(s.to_string())),
        }
    }
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Latest => f.write_str("latest"),
            VersionSpec::Number(n) => write!(f, "{n}"),
        }
    }
}

/// The body of `POST /subjects/{subject}/versions` (Confluent's `RegisterSchemaRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub schema: String,
    #[serde(default)]
    pub schema_type: SchemaType,
    #[serde(default)]
    pub references: Vec<SchemaReference>,
    /// Only in IMPORT mode: the id to register the schema under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<SchemaId>,
    /// Only in IMPORT mode (or equal to the next version): the version to register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// `?normalize=true`: the schema is read back in its canonical (normalized) text rather than as
    /// registered. A query parameter in Confluent's API, so never part of the body.
    #[serde(skip)]
    pub normalize: bool,
}

impl RegisterRequest {
    pub fn new(definition: SchemaDefinition) -> Self {
        RegisterRequest {
            schema: definition.schema,
            schema_type: definition.schema_type,
            references: definition.references,
            id: None,
            version: None,
            normalize: false,
        }
    }

    pub fn definition(&self) -> SchemaDefinition {
        SchemaDefinition {
            schema_type: self.schema_type,
            schema: self.schema.clone(),
            references: self.references.clone(),
        }
    }
}

impl From<SchemaDefinition> for RegisterRequest {
    fn from(definition: SchemaDefinition) -> Self {
        RegisterRequest::new(definition)
    }
}

fn is_avro(schema_type: &SchemaType) -> bool {
    *schema_type == SchemaType::Avro
}

/// A version of a subject, as `GET /subjects/{subject}/versions/{version}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredSchema {
    pub subject: String,
    pub version: u32,
    pub id: SchemaId,
    #[serde(default, skip_serializing_if = "is_avro")]
    pub schema_type: SchemaType,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

/// `?format=` on the endpoints that answer a schema, read as Confluent's `formattedString` reads it:
/// `serialized` gives a Protobuf schema as the base64 of its `FileDescriptorProto` (what Confluent's
/// Python and .NET deserializers ask for), and leaves other types' schemas as stored. Any other value
/// is the stored text, as Confluent answers a format it does not know: its `resolved` (an Avro schema
/// with its references inlined) and `ignore_extensions` (Protobuf) are not served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchemaFormat {
    #[default]
    Stored,
    Serialized,
}

impl SchemaFormat {
    /// The format a `format` query parameter names (absent or unknown: the stored text).
    pub fn from_param(value: Option<&str>) -> SchemaFormat {
        match value {
            Some(value) if value.trim().eq_ignore_ascii_case("serialized") => SchemaFormat::Serialized,
            _ => SchemaFormat::Stored,
        }
    }
}

/// A schema by id, as `GET /schemas/ids/{id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaInfo {
    #[serde(default, skip_serializing_if = "is_avro")]
    pub schema_type: SchemaType,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl From<&SchemaDefinition> for SchemaInfo {
    fn from(definition: &SchemaDefinition) -> Self {
        SchemaInfo {
            schema_type: definition.schema_type,
            schema: definition.schema.clone(),
            references: definition.references.clone(),
        }
    }
}

/// A subject and version, as `GET /schemas/ids/{id}/versions` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
}

/// The schema registry service over an event log. Cheap to share (`Arc<Registry>`); every method may
/// block on the log, so async callers use a blocking thread pool.
pub struct Registry {
    log: Arc<dyn EventLog>,
    state: RwLock<RegistryState>,
    /// The next log offset to apply; held while planning and appending, which serializes writes.
    writer: Mutex<u64>,
}

/// How a registry reads schemas: its settings, which no event changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// How JSON Schemas compile, for registration and for validating payloads: by default `format` is
    /// asserted under every draft, as Confluent does (see ARCHITECTURE.md, "The schema registry").
    pub json_schema: JsonSchemaOptions,
}

impl Registry {
    /// Opens the registry on `log` with the default options.
    pub fn open(log: Arc<dyn EventLog>) -> Result<Registry> {
        Self::open_with(log, RegistryOptions::default())
    }

    /// Opens the registry on `log`, creating `_weft_schemas` when missing and rebuilding the state from it.
    pub fn open_with(log: Arc<dyn EventLog>, options: RegistryOptions) -> Result<Registry> {
        match log.create_topic(SCHEMAS_TOPIC, TopicConfig::compacted(1)) {
            Ok(_) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let state = RwLock::new(RegistryState::with_options(options.json_schema));
        let registry = Registry { log, state, writer: Mutex::new(0) };
        {
            let mut next_offset = registry.writer.lock().unwrap_or_else(|e| e.into_inner());
            registry.catch_up(&mut next_offset)?;
        }
        Ok(registry)
    }

    /// Read access to the state, for queries this type does not wrap. Writes wait while the guard lives:
    /// drop it before calling a method that writes, or that thread deadlocks.
    pub fn state(&self) -> RwLockReadGuard<'_, RegistryState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies what other servers on the same log appended since this one last read it (a server
    /// calls this when the schemas topic grows; every write does it before deciding).
    pub fn refresh(&self) -> Result<()> {
        let mut next_offset = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Usually nothing is new: the watermark says so without a fetch (which on Kafka waits).
        if *next_offset >= self.log.offsets(SCHEMAS_TOPIC, 0)?.1 {
            return Ok(());
        }
        self.catch_up(&mut next_offset)
    }

    /// Applies every record from `next_offset` up to the log's high watermark.
    fn catch_up(&self, next_offset: &mut u64) -> Result<()> {
        loop {
            let read = match self.log.read(SCHEMAS_TOPIC, 0, *next_offset, ReadLimits::default()) {
                Ok(read) => read,
                // Records before the log start are gone (nothing of ours removes them, but be safe).
                Err(LogError::OffsetOutOfRange { earliest, .. }) if earliest > *next_offset => {
                    *next_offset = earliest;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if !read.records.is_empty() {
                let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
                for record in &read.records {
                    let event = RegistryEvent::from_record(record.key.as_deref(), record.value.as_deref())
                        .map_err(|e| RegistryError::Store(format!("{SCHEMAS_TOPIC} offset {}: {e}", record.offset)))?;
                    state.apply(&event);
                }
            }
            let done = read.records.is_empty() || read.next_offset >= read.high_watermark;
            *next_offset = read.next_offset.max(*next_offset);
            if done {
                return Ok(());
            }
        }
    }

    /// Plans a command against the current state, makes its events durable, then applies them.
    fn write<T>(&self, plan: impl FnOnce(&RegistryState) -> Result<Planned<T>>) -> Result<T> {
        let mut next_offset = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(&mut next_offset)?;
        let (output, events) = plan(&self.state())?;
        if events.is_empty() {
            return Ok(output);
        }
        let records = events.iter().map(RegistryEvent::to_record).collect();
        let appended = self.log.append(SCHEMAS_TOPIC, 0, records)?;
        if appended.base_offset == *next_offset {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            for event in &events {
                state.apply(event);
            }
            *next_offset = appended.last_offset + 1;
        } else {
            // Someone else appended in between: replay the log in its order, our batch included.
            self.catch_up(&mut next_offset)?;
        }
        Ok(output)
    }

    // ----- schemas -----

    /// `GET /schemas/types`.
    pub fn schema_types(&self) -> Vec<SchemaType> {
        SchemaType::supported().to_vec()
    }

    /// `GET /schemas/ids/{id}` (40403 when unknown or only hard-deleted versions used it).
    pub fn schema_by_id(&self, id: SchemaId) -> Result<SchemaInfo> {
        self.state().schema_by_id(id)
    }

    /// The compiled schema of an id, to validate or decode payloads framed with it.
    pub fn parsed_schema(&self, id: SchemaId) -> Result<Arc<ParsedSchema>> {
        self.state().parsed_schema(id)
    }

    /// `GET /schemas/ids/{id}/versions?deleted=`.
    pub fn versions_of_id(&self, id: SchemaId, include_deleted: bool) -> Result<Vec<SubjectVersion>> {
        self.state().versions_of_id(id, include_deleted)
    }

    /// `GET /schemas/ids/{id}/subjects?deleted=`.
    pub fn subjects_of_id(&self, id: SchemaId, include_deleted: bool) -> Result<Vec<String>> {
        self.state().subjects_of_id(id, include_deleted)
    }

    // ----- subjects -----

    /// `GET /subjects?subjectPrefix=&deleted=`.
    pub fn subjects(&self, prefix: Option<&str>, include_deleted: bool) -> Vec<String> {
        self.state().subjects(prefix, include_deleted)
    }

    /// `GET /subjects?subjectPrefix=&deleted=&deletedOnly=`.
    pub fn subjects_filtered(&self, prefix: Option<&str>, filter: DeletedFilter) -> Vec<String> {
        self.state().subjects_filtered(prefix, filter)
    }

    /// `GET /subjects/{subject}/versions?deleted=&deletedOnly=&deletedAsNegative=`: version numbers, a
    /// soft-deleted one negated under [`DeletedFilter::AsNegative`].
    pub fn versions_filtered(&self, subject: &str, filter: DeletedFilter) -> Result<Vec<i64>> {
        self.state().versions_filtered(subject, filter)
    }

    /// `GET /subjects/{subject}/metadata?key=&value=&deleted=`: the latest version whose metadata holds
    /// every pair. Weft keeps no schema metadata, so, as Confluent answers for versions registered
    /// without any, no version matches: 40403 for a subject that exists, 40401 otherwise.
    pub fn latest_with_metadata(&self, subject: &str, include_deleted: bool) -> Result<RegisteredSchema> {
        self.state().versions(subject, include_deleted)?;
        Err(RegistryError::SchemaNotFound("Schema not found".into()))
    }

    /// `GET /schemas?subjectPrefix=&deleted=&latestOnly=`.
    pub fn schemas(&self, prefix: Option<&str>, include_deleted: bool, latest_only: bool) -> Vec<RegisteredSchema> {
        self.state().schemas(prefix, include_deleted, latest_only)
    }

    /// `GET /subjects/{subject}/versions?deleted=`.
    pub fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<u32>> {
        self.state().versions(subject, include_deleted)
    }

    /// `GET /subjects/{subject}/versions/{version}?deleted=` (and `/schema` is its `schema` field).
    pub fn version(&self, subject: &str, version: VersionSpec, include_deleted: bool) -> Result<RegisteredSchema> {
        self.state().version(subject, version, include_deleted)
    }

    /// [`Registry::version`] with its schema in `format` (`?format=`).
    pub fn version_in(
        &self,
        subject: &str,
        version: VersionSpec,
        include_deleted: bool,
        format: SchemaFormat,
    ) -> Result<RegisteredSchema> {
        let mut registered = self.version(subject, version, include_deleted)?;
        registered.schema = self.formatted(registered.id, registered.schema_type, registered.schema, format)?;
        Ok(registered)
    }

    /// [`Registry::schema_by_id`] with its schema in `format` (`?format=`).
    pub fn schema_by_id_in(&self, id: SchemaId, format: SchemaFormat) -> Result<SchemaInfo> {
        let mut info = self.schema_by_id(id)?;
        info.schema = self.formatted(id, info.schema_type, info.schema, format)?;
        Ok(info)
    }

    fn formatted(&self, id: SchemaId, schema_type: SchemaType, stored: String, format: SchemaFormat) -> Result<String> {
        match (format, schema_type) {
            (SchemaFormat::Serialized, SchemaType::Protobuf) => {
                Ok(self.parsed_schema(id)?.as_protobuf().map_or(stored, |schema| schema.serialized()))
            }
            _ => Ok(stored),
        }
    }

    /// `POST /subjects/{subject}/versions`: registers a schema and returns its global id. Registering a
    /// schema the subject already has (the same canonical text) returns its id again. A new schema is
    /// read back as Confluent would answer it: as registered (Avro as Avro's Java library writes it),
    /// or in its canonical text with `request.normalize`.
    pub fn register(&self, subject: &str, request: &RegisterRequest) -> Result<SchemaId> {
        self.write(|state| state.plan_register(subject, request))
    }

    /// [`Registry::register`], the schema also checked under `floor` when given (a minimum level the
    /// platform's policies set for the subject, which its own configuration cannot lower); checked under
    /// the writer lock, so no registration slips between the check and the write.
    pub fn register_with_floor(
        &self,
        subject: &str,
        request: &RegisterRequest,
        floor: Option<CompatibilityLevel>,
    ) -> Result<SchemaId> {
        self.write(|state| state.plan_register_with_floor(subject, request, floor))
    }

    /// `POST /subjects/{subject}?deleted=`: which version of the subject holds this schema.
    pub fn lookup(&self, subject: &str, schema: &SchemaDefinition, include_deleted: bool) -> Result<RegisteredSchema> {
        self.state().lookup(subject, schema, include_deleted)
    }

    /// `DELETE /subjects/{subject}?permanent=`: the deleted versions.
    pub fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<u32>> {
        self.write(|state| state.plan_delete_subject(subject, permanent))
    }

    /// `DELETE /subjects/{subject}/versions/{version}?permanent=`: the deleted version.
    pub fn delete_version(&self, subject: &str, version: VersionSpec, permanent: bool) -> Result<u32> {
        self.write(|state| state.plan_delete_version(subject, version, permanent))
    }

    /// `GET /subjects/{subject}/versions/{version}/referencedby`.
    pub fn referenced_by(&self, subject: &str, version: VersionSpec) -> Result<Vec<SchemaId>> {
        self.state().referenced_by(subject, version)
    }

    // ----- compatibility -----

    /// `POST /compatibility/subjects/{subject}/versions/{version}` (`Some`) or `.../versions` (`None`);
    /// the messages are the verbose answer.
    pub fn check_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        schema: &SchemaDefinition,
    ) -> Result<CompatibilityResult> {
        self.state().check_compatibility(subject, version, schema)
    }

    // ----- config -----

    /// `GET /config` (`None`) or `GET /config/{subject}?defaultToGlobal=`.
    pub fn config(&self, subject: Option<&str>, default_to_global: bool) -> Result<CompatibilityLevel> {
        self.state().config(subject, default_to_global)
    }

    /// `PUT /config` or `PUT /config/{subject}`.
    pub fn set_config(&self, subject: Option<&str>, level: CompatibilityLevel) -> Result<CompatibilityLevel> {
        self.write(|state| state.plan_set_config(subject, level))
    }

    /// `DELETE /config` or `DELETE /config/{subject}`: the level that was set.
    pub fn delete_config(&self, subject: Option<&str>) -> Result<CompatibilityLevel> {
        self.write(|state| state.plan_delete_config(subject))
    }

    // ----- mode -----

    /// `GET /mode` (`None`) or `GET /mode/{subject}?defaultToGlobal=`.
    pub fn mode(&self, subject: Option<&str>, default_to_global: bool) -> Result<Mode> {
        self.state().mode(subject, default_to_global)
    }

    /// `PUT /mode[/{subject}]?force=`.
    pub fn set_mode(&self, subject: Option<&str>, mode: Mode, force: bool) -> Result<Mode> {
        self.write(|state| state.plan_set_mode(subject, mode, force))
    }

    /// `DELETE /mode[/{subject}]`: the mode that was set.
    pub fn delete_mode(&self, subject: Option<&str>) -> Result<Mode> {
        self.write(|state| state.plan_delete_mode(subject))
    }
}

#[cfg(test)]
mod tests;
