//! The registry state machine: what every query reads, what every command is checked against, and the
//! pure transition `apply(event)` that both live writes and the rebuild from the log go through.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use super::{
    DeletedFilter, Mode, RegisterRequest, RegisteredSchema, RegistryEvent, SchemaInfo, SubjectVersion, VersionSpec,
};
use crate::compat::{self, CompatibilityLevel, CompatibilityResult, PreviousVersion};
use crate::json_schema::JsonSchemaOptions;
use crate::schema::{ParsedSchema, ResolvedReference, SchemaDefinition, SchemaReference};
use crate::{RegistryError, Result, SchemaId};

/// Confluent's version numbers are positive 32-bit integers.
const MAX_VERSION: u32 = i32::MAX as u32;

#[derive(Debug)]
struct SchemaEntry {
    definition: SchemaDefinition,
    /// The text clients read back (see `RegistryEvent::SchemaCreated`).
    text: String,
    /// Parsed on first use (with its references resolved from the state at that time) and kept.
    parsed: OnceLock<std::result::Result<Arc<ParsedSchema>, String>>,
}

/// A version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: SchemaId,
    pub deleted: bool,
}

/// Subjects, versions, schemas, configs and modes. Changed only by [`RegistryState::apply`].
#[derive(Debug, Default)]
pub struct RegistryState {
    schemas: BTreeMap<SchemaId, SchemaEntry>,
    by_content: HashMap<SchemaDefinition, SchemaId>,
    subjects: BTreeMap<String, BTreeMap<u32, VersionEntry>>,
    /// How many versions (soft-deleted ones included) use each schema id: lookups by id are O(1).
    usage: HashMap<SchemaId, usize>,
    global_config: Option<CompatibilityLevel>,
    subject_config: BTreeMap<String, CompatibilityLevel>,
    global_mode: Option<Mode>,
    subject_mode: BTreeMap<String, Mode>,
    max_id: SchemaId,
    /// How JSON Schemas are compiled (a setting, not state: no event changes it).
    json_schema: JsonSchemaOptions,
}

/// A command's outcome: what the caller gets back and the events that make it so.
pub type Planned<T> = (T, Vec<RegistryEvent>);

impl RegistryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty state whose JSON Schemas compile with `json_schema`.
    pub fn with_options(json_schema: JsonSchemaOptions) -> Self {
        RegistryState { json_schema, ..Self::default() }
    }

    /// The state transition. Total: every event applies, so a rebuild never stops half-way.
    pub fn apply(&mut self, event: &RegistryEvent) {
        match event {
            RegistryEvent::SchemaCreated { id, schema, text } => {
                if let Some(old) = self.schemas.get(id) {
                    if self.by_content.get(&old.definition) == Some(id) {
                        self.by_content.remove(&old.definition);
                    }
                }
                self.by_content.insert(schema.clone(), *id);
                let text = text.clone().unwrap_or_else(|| schema.schema.clone());
                self.schemas.insert(*id, SchemaEntry { definition: schema.clone(), text, parsed: OnceLock::new() });
                self.max_id = self.max_id.max(*id);
            }
            RegistryEvent::VersionWritten { subject, version, id, deleted } => {
                let entry = VersionEntry { id: *id, deleted: *deleted };
                let replaced = self.subjects.entry(subject.clone()).or_default().insert(*version, entry);
                if let Some(old) = replaced {
                    self.release(old.id);
                }
                *self.usage.entry(*id).or_default() += 1;
            }
            RegistryEvent::VersionPurged { subject, version } => {
                if let Some(versions) = self.subjects.get_mut(subject) {
                    let removed = versions.remove(version);
                    if versions.is_empty() {
                        self.subjects.remove(subject);
                    }
                    if let Some(old) = removed {
                        self.release(old.id);
                    }
                }
            }
            RegistryEvent::ConfigSet { subject: None, compatibility } => self.global_config = Some(*compatibility),
            RegistryEvent::ConfigSet { subject: Some(subject), compatibility } => {
                self.subject_config.insert(subject.clone(), *compatibility);
            }
            RegistryEvent::ConfigDeleted { subject: None } => self.global_config = None,
            RegistryEvent::ConfigDeleted { subject: Some(subject) } => {
                self.subject_config.remove(subject);
            }
            RegistryEvent::ModeSet { subject: None, mode } => self.global_mode = Some(*mode),
            RegistryEvent::ModeSet { subject: Some(subject), mode } => {
                self.subject_mode.insert(subject.clone(), *mode);
            }
            RegistryEvent::ModeDeleted { subject: None } => self.global_mode = None,
            RegistryEvent::ModeDeleted { subject: Some(subject) } => {
                self.subject_mode.remove(subject);
            }
        }
    }

    fn release(&mut self, id: SchemaId) {
        if let Some(count) = self.usage.get_mut(&id) {
            *count -= 1;
            if *count == 0 {
                self.usage.remove(&id);
            }
        }
    }

    // ----- queries -----

    /// The highest schema id ever assigned (0 when none): the next new schema gets this plus one.
    pub fn max_id(&self) -> SchemaId {
        self.max_id
    }

    /// `GET /schemas/ids/{id}`: a schema still used by some version (soft-deleted ones included).
    pub fn schema_by_id(&self, id: SchemaId) -> Result<SchemaInfo> {
        let entry = self.schemas.get(&id).filter(|_| self.is_used(id)).ok_or_else(|| schema_not_found(id))?;
        Ok(SchemaInfo { schema: entry.text.clone(), ..SchemaInfo::from(&entry.definition) })
    }

    /// The parsed (and compiled) schema of an id, e.g. to validate payloads framed with that id.
    pub fn parsed_schema(&self, id: SchemaId) -> Result<Arc<ParsedSchema>> {
        let entry = self.schemas.get(&id).ok_or_else(|| schema_not_found(id))?;
        let parsed = entry.parsed.get_or_init(|| {
            let references = self.resolve_references(&entry.definition.references).map_err(|e| e.to_string())?;
            ParsedSchema::parse_with(
                entry.definition.schema_type,
                &entry.definition.schema,
                &references,
                self.json_schema,
            )
            .map(Arc::new)
            .map_err(|e| e.to_string())
        });
        parsed.clone().map_err(|e| RegistryError::Store(format!("stored schema {id} does not parse: {e}")))
    }

    /// `GET /schemas/ids/{id}/versions`: the subject versions using a schema.
    pub fn versions_of_id(&self, id: SchemaId, include_deleted: bool) -> Result<Vec<SubjectVersion>> {
        if !self.schemas.contains_key(&id) || !self.is_used(id) {
            return Err(schema_not_found(id));
        }
        Ok(self
            .subjects
            .iter()
            .flat_map(|(subject, versions)| {
                versions
                    .iter()
                    .filter(move |(_, v)| v.id == id && (include_deleted || !v.deleted))
                    .map(move |(version, _)| SubjectVersion { subject: subject.clone(), version: *version })
            })
            .collect())
    }

    /// `GET /schemas/ids/{id}/subjects`.
    pub fn subjects_of_id(&self, id: SchemaId, include_deleted: bool) -> Result<Vec<String>> {
        let mut subjects: Vec<String> =
            self.versions_of_id(id, include_deleted)?.into_iter().map(|sv| sv.subject).collect();
        subjects.dedup();
        Ok(subjects)
    }

    fn is_used(&self, id: SchemaId) -> bool {
        self.usage.contains_key(&id)
    }

    /// `GET /subjects`: subjects with a live version (or any version, with `include_deleted`).
    pub fn subjects(&self, prefix: Option<&str>, include_deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(name, versions)| {
                prefix.is_none_or(|p| name.starts_with(p)) && (include_deleted || versions.values().any(|v| !v.deleted))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `GET /subjects?deletedOnly=`: [`RegistryState::subjects`] under any [`DeletedFilter`]; a subject
    /// is deleted when all its versions are.
    pub fn subjects_filtered(&self, prefix: Option<&str>, filter: DeletedFilter) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(name, versions)| {
                let deleted = versions.values().all(|v| v.deleted);
                prefix.is_none_or(|p| name.starts_with(p)) && filter.admits(deleted)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `GET /subjects/{subject}/versions?deletedOnly=&deletedAsNegative=`: 40401 when the subject has
    /// no version the filter could show (any version but under [`DeletedFilter::Live`]).
    pub fn versions_filtered(&self, subject: &str, filter: DeletedFilter) -> Result<Vec<i64>> {
        let versions = self.subject_versions(subject, filter != DeletedFilter::Live)?;
        Ok(versions
            .iter()
            .filter(|(_, v)| filter.admits(v.deleted))
            .map(|(n, v)| if filter == DeletedFilter::AsNegative && v.deleted { -i64::from(*n) } else { i64::from(*n) })
            .collect())
    }

    /// `GET /schemas?subjectPrefix=&deleted=&latestOnly=`: registered versions, by subject then version.
    pub fn schemas(&self, prefix: Option<&str>, include_deleted: bool, latest_only: bool) -> Vec<RegisteredSchema> {
        let mut out = Vec::new();
        for (subject, versions) in &self.subjects {
            if prefix.is_some_and(|p| !subject.starts_with(p)) {
                continue;
            }
            let visible: Vec<(&u32, &VersionEntry)> =
                versions.iter().filter(|(_, v)| include_deleted || !v.deleted).collect();
            let chosen = if latest_only { visible.last().copied().into_iter().collect() } else { visible };
            out.extend(chosen.into_iter().filter_map(|(n, v)| self.registered(subject, *n, v.id).ok()));
        }
        out
    }

    /// `GET /subjects/{subject}/versions`.
    pub fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<u32>> {
        let versions = self.subject_versions(subject, include_deleted)?;
        Ok(versions.iter().filter(|(_, v)| include_deleted || !v.deleted).map(|(n, _)| *n).collect())
    }

    /// `GET /subjects/{subject}/versions/{version}`.
    pub fn version(&self, subject: &str, spec: VersionSpec, include_deleted: bool) -> Result<RegisteredSchema> {
        let versions = self.subject_versions(subject, include_deleted)?;
        let (number, entry) = match spec {
            VersionSpec::Latest => versions
                .iter()
                .rev()
                .find(|(_, v)| include_deleted || !v.deleted)
                .map(|(n, v)| (*n, *v))
                .ok_or_else(|| RegistryError::version_not_found(subject, "latest"))?,
            VersionSpec::Number(n) => match versions.get(&n) {
                Some(v) if include_deleted || !v.deleted => (n, *v),
                _ => return Err(RegistryError::version_not_found(subject, n)),
            },
        };
        self.registered(subject, number, entry.id)
    }

    fn registered(&self, subject: &str, version: u32, id: SchemaId) -> Result<RegisteredSchema> {
        let entry = self.schemas.get(&id).ok_or_else(|| schema_not_found(id))?;
        Ok(RegisteredSchema {
            subject: subject.to_string(),
            version,
            id,
            schema_type: entry.definition.schema_type,
            schema: entry.text.clone(),
            references: entry.definition.references.clone(),
        })
    }

    /// A subject's versions; not found when it has none, or only soft-deleted ones and `include_deleted` is off.
    fn subject_versions(&self, subject: &str, include_deleted: bool) -> Result<&BTreeMap<u32, VersionEntry>> {
        match self.subjects.get(subject) {
            Some(versions) if include_deleted || versions.values().any(|v| !v.deleted) => Ok(versions),
            _ => Err(RegistryError::SubjectNotFound(subject.to_string())),
        }
    }

    /// `POST /subjects/{subject}`: the version of `subject` holding this schema.
    pub fn lookup(&self, subject: &str, schema: &SchemaDefinition, include_deleted: bool) -> Result<RegisteredSchema> {
        let versions = self.subject_versions(subject, include_deleted)?;
        let (canonical, _) = self.canonicalize(schema)?;
        let id =
            self.by_content.get(&canonical).ok_or_else(|| RegistryError::SchemaNotFound("Schema not found".into()))?;
        let (version, _) = versions
            .iter()
            .rev()
            .find(|(_, v)| v.id == *id && (include_deleted || !v.deleted))
            .ok_or_else(|| RegistryError::SchemaNotFound("Schema not found".into()))?;
        self.registered(subject, *version, *id)
    }

    /// `GET /subjects/{subject}/versions/{version}/referencedby`: ids of live schemas referring to it.
    pub fn referenced_by(&self, subject: &str, spec: VersionSpec) -> Result<Vec<SchemaId>> {
        let version = self.version(subject, spec, false)?.version;
        Ok(self.referencing_ids(subject, version, false))
    }

    fn referencing_ids(&self, subject: &str, version: u32, include_deleted: bool) -> Vec<SchemaId> {
        let used: BTreeSet<SchemaId> = self
            .subjects
            .values()
            .flat_map(|versions| versions.values())
            .filter(|v| include_deleted || !v.deleted)
            .map(|v| v.id)
            .collect();
        used.into_iter()
            .filter(|id| {
                self.schemas.get(id).is_some_and(|entry| {
                    entry.definition.references.iter().any(|r| r.subject == subject && r.version == version)
                })
            })
            .collect()
    }

    /// The compatibility level of a subject (`GET /config/{subject}`), or the global one (`subject: None`).
    /// Without `default_to_global`, a subject without its own level is an error (40408).
    pub fn config(&self, subject: Option<&str>, default_to_global: bool) -> Result<CompatibilityLevel> {
        match subject {
            None => Ok(self.global_config.unwrap_or_default()),
            Some(subject) => match self.subject_config.get(subject) {
                Some(level) => Ok(*level),
                None if default_to_global => Ok(self.global_config.unwrap_or_default()),
                None => Err(RegistryError::SubjectCompatibilityNotConfigured(subject.to_string())),
            },
        }
    }

    /// The mode of a subject (`GET /mode/{subject}`), or the global one (`subject: None`).
    pub fn mode(&self, subject: Option<&str>, default_to_global: bool) -> Result<Mode> {
        match subject {
            None => Ok(self.global_mode.unwrap_or_default()),
            Some(subject) => match self.subject_mode.get(subject) {
                Some(mode) => Ok(*mode),
                None if default_to_global => Ok(self.global_mode.unwrap_or_default()),
                None => Err(RegistryError::SubjectModeNotConfigured(subject.to_string())),
            },
        }
    }

    fn effective_mode(&self, subject: &str) -> Mode {
        self.subject_mode.get(subject).copied().or(self.global_mode).unwrap_or_default()
    }

    /// `POST /compatibility/subjects/{subject}/versions[/{version}]`: checks a schema against one version
    /// (`Some`), or against the versions the subject's level names (`None`).
    pub fn check_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        schema: &SchemaDefinition,
    ) -> Result<CompatibilityResult> {
        let level = self.config(Some(subject), true)?;
        let (_, parsed) = self.canonicalize(schema)?;
        let candidates: Vec<(u32, SchemaId)> = match version {
            Some(spec) => {
                let registered = self.version(subject, spec, false)?;
                vec![(registered.version, registered.id)]
            }
            None => match self.subjects.get(subject) {
                Some(versions) => versions.iter().filter(|(_, v)| !v.deleted).map(|(n, v)| (*n, v.id)).collect(),
                None => Vec::new(),
            },
        };
        let level = match (version, level) {
            // Against one given version, transitivity has nothing more to look at.
            (Some(_), CompatibilityLevel::BackwardTransitive) => CompatibilityLevel::Backward,
            (Some(_), CompatibilityLevel::ForwardTransitive) => CompatibilityLevel::Forward,
            (Some(_), CompatibilityLevel::FullTransitive) => CompatibilityLevel::Full,
            (_, level) => level,
        };
        self.check_against(level, &parsed, &candidates)
    }

    fn check_against(
        &self,
        level: CompatibilityLevel,
        parsed: &ParsedSchema,
        versions: &[(u32, SchemaId)],
    ) -> Result<CompatibilityResult> {
        let mut loaded = Vec::with_capacity(versions.len());
        for (version, id) in versions {
            let schema = self.parsed_schema(*id)?;
            let text = self.schemas.get(id).map(|e| e.definition.schema.as_str()).unwrap_or("");
            loaded.push((*version, text, schema));
        }
        let previous: Vec<PreviousVersion<'_>> =
            loaded.iter().map(|(version, text, schema)| PreviousVersion { version: *version, text, schema }).collect();
        Ok(compat::check(level, parsed, &previous))
    }

    /// Parses a submitted schema and gives the definition it is stored and deduplicated as.
    pub fn canonicalize(&self, schema: &SchemaDefinition) -> Result<(SchemaDefinition, ParsedSchema)> {
        let references = self.resolve_references(&schema.references)?;
        let parsed = ParsedSchema::parse_with(schema.schema_type, &schema.schema, &references, self.json_schema)?;
        let canonical = SchemaDefinition {
            schema_type: schema.schema_type,
            schema: parsed.canonical_text(),
            references: schema.references.clone(),
        };
        Ok((canonical, parsed))
    }

    /// The referenced schemas, transitively, each after the schemas it refers to.
    fn resolve_references(&self, references: &[SchemaReference]) -> Result<Vec<ResolvedReference>> {
        let mut resolved = Vec::new();
        let mut seen = BTreeSet::new();
        for reference in references {
            self.resolve_reference(reference, &mut resolved, &mut seen, 0)?;
        }
        Ok(resolved)
    }

    fn resolve_reference(
        &self,
        reference: &SchemaReference,
        resolved: &mut Vec<ResolvedReference>,
        seen: &mut BTreeSet<(String, u32)>,
        depth: usize,
    ) -> Result<()> {
        if depth > 64 {
            return Err(RegistryError::InvalidSchema("schema references nest deeper than 64".into()));
        }
        if !seen.insert((reference.subject.clone(), reference.version)) {
            return Ok(());
        }
        let missing = || {
            RegistryError::InvalidSchema(format!(
                "reference '{}' points to subject '{}' version {}, which does not exist or is deleted",
                reference.name, reference.subject, reference.version
            ))
        };
        let entry = self
            .subjects
            .get(&reference.subject)
            .and_then(|versions| versions.get(&reference.version))
            .filter(|v| !v.deleted)
            .ok_or_else(missing)?;
        let schema = self.schemas.get(&entry.id).ok_or_else(missing)?;
        for inner in &schema.definition.references {
            self.resolve_reference(inner, resolved, seen, depth + 1)?;
        }
        resolved.push(ResolvedReference { name: reference.name.clone(), schema: schema.definition.schema.clone() });
        Ok(())
    }

    // ----- commands: each checks against the state and returns the events that carry it out -----

    /// `POST /subjects/{subject}/versions`: the schema's id, and the events registering it.
    pub fn plan_register(&self, subject: &str, request: &RegisterRequest) -> Result<Planned<SchemaId>> {
        self.plan_register_with_floor(subject, request, None)
    }

    /// [`RegistryState::plan_register`], the schema also checked under `floor` (besides the subject's
    /// own level) when it is given: a minimum the subject's configuration cannot lower.
    pub fn plan_register_with_floor(
        &self,
        subject: &str,
        request: &RegisterRequest,
        floor: Option<CompatibilityLevel>,
    ) -> Result<Planned<SchemaId>> {
        check_subject(subject)?;
        let mode = self.effective_mode(subject);
        if mode.is_read_only() {
            return Err(RegistryError::OperationNotPermitted(format!("Subject {subject} is in read-only mode")));
        }
        let (canonical, parsed) = self.canonicalize(&request.definition())?;
        let existing_id = self.by_content.get(&canonical).copied();
        let versions = self.subjects.get(subject);
        let live =
            |id: SchemaId| versions.and_then(|vs| vs.iter().find(|(_, v)| v.id == id && !v.deleted).map(|(n, _)| *n));
        let next_version = versions.and_then(|vs| vs.keys().next_back()).map_or(1, |last| last.saturating_add(1));

        if let Some(id) = existing_id {
            if let Some(version) = live(id) {
                if let Some(given) = request.id.filter(|given| *given != id) {
                    return Err(RegistryError::IdDoesNotMatch { given, existing: id });
                }
                if request.version.is_some_and(|given| given != version) {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "the schema is already registered as version {version} of subject {subject}"
                    )));
                }
                return Ok((id, Vec::new()));
            }
        }

        let (id, version) = if mode == Mode::Import {
            let id = match (request.id, existing_id) {
                (Some(given), Some(existing)) if given != existing => {
                    return Err(RegistryError::IdDoesNotMatch { given, existing })
                }
                (Some(given), _) => given,
                (None, Some(existing)) => existing,
                (None, None) => self.next_id()?,
            };
            if id == 0 || id > i32::MAX as u32 {
                return Err(RegistryError::OperationNotPermitted(format!(
                    "schema id {id} is out of range [1, 2^31-1]"
                )));
            }
            if let Some(entry) = self.schemas.get(&id) {
                if entry.definition != canonical {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Overwrite new schema with id {id} is not permitted."
                    )));
                }
            }
            let version = request.version.unwrap_or(next_version);
            if version == 0 || version > MAX_VERSION {
                return Err(RegistryError::InvalidVersion(version.to_string()));
            }
            if versions.is_some_and(|vs| vs.contains_key(&version)) {
                return Err(RegistryError::OperationNotPermitted(format!(
                    "version {version} of subject {subject} already exists; delete it permanently first"
                )));
            }
            (id, version)
        } else {
            match (request.id, existing_id) {
                (Some(given), Some(existing)) if given != existing => {
                    return Err(RegistryError::IdDoesNotMatch { given, existing })
                }
                (Some(_), None) => {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "a schema id can only be given in IMPORT mode (subject {subject} is in {} mode)",
                        mode.as_str()
                    )))
                }
                _ => {}
            }
            if request.version.is_some_and(|given| given != next_version) {
                return Err(RegistryError::OperationNotPermitted(format!(
                    "the next version of subject {subject} is {next_version}; other versions can only be given in IMPORT mode"
                )));
            }
            if next_version > MAX_VERSION {
                return Err(RegistryError::InvalidVersion(next_version.to_string()));
            }
            let level = self.config(Some(subject), true)?;
            let live_versions: Vec<(u32, SchemaId)> = versions
                .map(|vs| vs.iter().filter(|(_, v)| !v.deleted).map(|(n, v)| (*n, v.id)).collect())
                .unwrap_or_default();
            let result = self.check_against(level, &parsed, &live_versions)?;
            if !result.is_compatible {
                return Err(RegistryError::IncompatibleSchema {
                    subject: subject.to_string(),
                    messages: result.messages,
                });
            }
            if let Some(floor) = floor.filter(|floor| !level.covers(*floor)) {
                let result = self.check_against(floor, &parsed, &live_versions)?;
                if !result.is_compatible {
                    return Err(RegistryError::BelowCompatibilityFloor {
                        subject: subject.to_string(),
                        floor,
                        level,
                        messages: result.messages,
                    });
                }
            }
            let id = match existing_id {
                Some(id) => id,
                None => self.next_id()?,
            };
            (id, next_version)
        };

        let mut events = Vec::with_capacity(2);
        if !self.schemas.contains_key(&id) {
            // Confluent keeps the registered schema as its format's library writes it back, and the
            // normalized form only when asked to (`?normalize=true`); identity stays the canonical text.
            let text =
                if request.normalize { canonical.schema.clone() } else { parsed.confluent_text(&request.schema) };
            events.push(RegistryEvent::SchemaCreated { id, schema: canonical, text: Some(text) });
        }
        events.push(RegistryEvent::VersionWritten { subject: subject.to_string(), version, id, deleted: false });
        Ok((id, events))
    }

    fn next_id(&self) -> Result<SchemaId> {
        match self.max_id.checked_add(1) {
            Some(id) if id <= i32::MAX as u32 => Ok(id),
            _ => Err(RegistryError::Store("schema ids are exhausted".into())),
        }
    }

    fn check_writable(&self, subject: &str) -> Result<()> {
        if self.effective_mode(subject).is_read_only() {
            return Err(RegistryError::OperationNotPermitted(format!("Subject {subject} is in read-only mode")));
        }
        Ok(())
    }

    /// `DELETE /subjects/{subject}[?permanent=true]`: the versions deleted. A permanent delete needs a
    /// soft delete first, as in Confluent, and also drops the subject's config and mode.
    pub fn plan_delete_subject(&self, subject: &str, permanent: bool) -> Result<Planned<Vec<u32>>> {
        self.check_writable(subject)?;
        let versions = self.subjects.get(subject).ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let live: Vec<u32> = versions.iter().filter(|(_, v)| !v.deleted).map(|(n, _)| *n).collect();
        if !permanent {
            if live.is_empty() {
                return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
            }
            for version in &live {
                self.check_unreferenced(subject, *version, false)?;
            }
            let events = live
                .iter()
                .map(|n| RegistryEvent::VersionWritten {
                    subject: subject.to_string(),
                    version: *n,
                    id: versions[n].id,
                    deleted: true,
                })
                .collect();
            return Ok((live, events));
        }
        if !live.is_empty() {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
        }
        let all: Vec<u32> = versions.keys().copied().collect();
        for version in &all {
            self.check_unreferenced(subject, *version, true)?;
        }
        let mut events: Vec<RegistryEvent> =
            all.iter().map(|n| RegistryEvent::VersionPurged { subject: subject.to_string(), version: *n }).collect();
        if self.subject_config.contains_key(subject) {
            events.push(RegistryEvent::ConfigDeleted { subject: Some(subject.to_string()) });
        }
        if self.subject_mode.contains_key(subject) {
            events.push(RegistryEvent::ModeDeleted { subject: Some(subject.to_string()) });
        }
        Ok((all, events))
    }

    /// `DELETE /subjects/{subject}/versions/{version}[?permanent=true]`: the version deleted.
    pub fn plan_delete_version(&self, subject: &str, spec: VersionSpec, permanent: bool) -> Result<Planned<u32>> {
        self.check_writable(subject)?;
        let versions = self.subjects.get(subject).ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let (number, entry) = match spec {
            VersionSpec::Latest => versions
                .iter()
                .rev()
                .find(|(_, v)| permanent || !v.deleted)
                .map(|(n, v)| (*n, *v))
                .ok_or_else(|| RegistryError::version_not_found(subject, "latest"))?,
            VersionSpec::Number(n) => {
                (n, *versions.get(&n).ok_or_else(|| RegistryError::version_not_found(subject, n))?)
            }
        };
        if !permanent {
            if entry.deleted {
                return Err(RegistryError::VersionSoftDeleted { subject: subject.to_string(), version: number });
            }
            self.check_unreferenced(subject, number, false)?;
            let event = RegistryEvent::VersionWritten {
                subject: subject.to_string(),
                version: number,
                id: entry.id,
                deleted: true,
            };
            return Ok((number, vec![event]));
        }
        if !entry.deleted {
            return Err(RegistryError::VersionNotSoftDeleted { subject: subject.to_string(), version: number });
        }
        self.check_unreferenced(subject, number, true)?;
        Ok((number, vec![RegistryEvent::VersionPurged { subject: subject.to_string(), version: number }]))
    }

    fn check_unreferenced(&self, subject: &str, version: u32, include_deleted: bool) -> Result<()> {
        let referenced_by = self.referencing_ids(subject, version, include_deleted);
        if referenced_by.is_empty() {
            Ok(())
        } else {
            Err(RegistryError::ReferenceExists { subject: subject.to_string(), version, referenced_by })
        }
    }

    /// `PUT /config[/{subject}]`.
    pub fn plan_set_config(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<Planned<CompatibilityLevel>> {
        if let Some(subject) = subject {
            check_subject(subject)?;
        }
        Ok((level, vec![RegistryEvent::ConfigSet { subject: subject.map(str::to_string), compatibility: level }]))
    }

    /// `DELETE /config[/{subject}]`: the level that was in force before; the global level returns to BACKWARD.
    pub fn plan_delete_config(&self, subject: Option<&str>) -> Result<Planned<CompatibilityLevel>> {
        let previous = match subject {
            None => self.global_config.unwrap_or_default(),
            Some(subject) => match self.subject_config.get(subject) {
                Some(level) => *level,
                None if !self.subjects.contains_key(subject) => {
                    return Err(RegistryError::SubjectNotFound(subject.to_string()))
                }
                None => return Err(RegistryError::SubjectCompatibilityNotConfigured(subject.to_string())),
            },
        };
        Ok((previous, vec![RegistryEvent::ConfigDeleted { subject: subject.map(str::to_string) }]))
    }

    /// `PUT /mode[/{subject}][?force=true]`. Entering IMPORT needs an empty registry (or subject) unless forced.
    pub fn plan_set_mode(&self, subject: Option<&str>, mode: Mode, force: bool) -> Result<Planned<Mode>> {
        if let Some(subject) = subject {
            check_subject(subject)?;
        }
        if mode == Mode::Import && !force {
            let has_schemas = match subject {
                None => !self.subjects.is_empty(),
                Some(subject) => self.subjects.contains_key(subject),
            };
            if has_schemas {
                return Err(RegistryError::OperationNotPermitted(
                    "Cannot import since found existing subjects; use force=true to switch to IMPORT anyway".into(),
                ));
            }
        }
        Ok((mode, vec![RegistryEvent::ModeSet { subject: subject.map(str::to_string), mode }]))
    }

    /// `DELETE /mode/{subject}`: the mode that was set.
    pub fn plan_delete_mode(&self, subject: Option<&str>) -> Result<Planned<Mode>> {
        let previous = match subject {
            None => self.global_mode.unwrap_or_default(),
            Some(subject) => *self
                .subject_mode
                .get(subject)
                .ok_or_else(|| RegistryError::SubjectModeNotConfigured(subject.to_string()))?,
        };
        Ok((previous, vec![RegistryEvent::ModeDeleted { subject: subject.map(str::to_string) }]))
    }
}

fn schema_not_found(id: SchemaId) -> RegistryError {
    RegistryError::SchemaNotFound(format!("Schema {id} not found"))
}

/// Confluent accepts any subject name; refusing empty, overlong and control-character names keeps
/// URLs and logs sane.
fn check_subject(subject: &str) -> Result<()> {
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(RegistryError::InvalidSubject(subject.to_string()));
    }
    Ok(())
}
