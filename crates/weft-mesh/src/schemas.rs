//! The registry as the catalog and the SQL engine see it (each reaches schemas only through a trait of
//! its own), and the one rule that ties schemas to the catalog: when a subject's latest schema
//! changes, whoever changed it, the products using that subject are re-indexed.

use std::sync::Arc;

use weft_catalog::{Catalog, FieldInfo, SchemaLookup};
use weft_registry::{field_summaries, RegisterRequest, Registry, SchemaDefinition, SchemaType, VersionSpec};

/// Adapts the [`Registry`] to the catalog's [`SchemaLookup`].
pub struct RegistrySchemas {
    registry: Arc<Registry>,
}

impl RegistrySchemas {
    pub fn new(registry: Arc<Registry>) -> Self {
        RegistrySchemas { registry }
    }
}

impl SchemaLookup for RegistrySchemas {
    fn latest_fields(&self, subject: &str) -> Option<Vec<FieldInfo>> {
        let latest = self.registry.version(subject, VersionSpec::Latest, false).ok()?;
        let fields = field_summaries(latest.schema_type, &latest.schema)
            .into_iter()
            .map(|f| FieldInfo { name: f.path, field_type: f.type_name, doc: f.doc })
            .collect();
        Some(fields)
    }

    fn subject_exists(&self, subject: &str, version: Option<u32>) -> bool {
        let spec = version.map_or(VersionSpec::Latest, VersionSpec::Number);
        self.registry.version(subject, spec, false).is_ok()
    }
}

/// The catalog searches the field names of each product's latest schema: after the latest version of
/// a subject changes, the products that use it are re-indexed. The schema change already stands, so a
/// failure here is logged, not returned (a restart re-indexes everything from the log).
pub(crate) fn schema_changed(catalog: &Catalog, subject: &str) {
    if let Err(e) = catalog.schema_changed(subject) {
        tracing::warn!(subject, error = %e, "re-indexing the catalog after a schema change failed");
    }
}

/// Adapts the [`Registry`] to the SQL engine's [`weft_sql::registry::SchemaRegistry`] (AVRO and
/// JSON_SR sources read their schemas from it; derived sources register theirs in it, and the
/// catalog hears of it as of any other registration).
pub struct SqlSchemas {
    registry: Arc<Registry>,
    catalog: Arc<Catalog>,
}

impl SqlSchemas {
    pub fn new(registry: Arc<Registry>, catalog: Arc<Catalog>) -> Self {
        SqlSchemas { registry, catalog }
    }
}

fn sql_error(e: weft_registry::RegistryError) -> weft_sql::SqlError {
    use weft_registry::RegistryError as E;
    let missing = matches!(e, E::SubjectNotFound(_) | E::VersionNotFound { .. } | E::SchemaNotFound(_));
    weft_sql::SqlError::SchemaRegistry { missing, message: e.to_string() }
}

impl weft_sql::registry::SchemaRegistry for SqlSchemas {
    fn register(
        &self,
        subject: &str,
        schema_type: weft_sql::registry::SchemaType,
        schema: &str,
    ) -> weft_sql::Result<u32> {
        let schema_type = match schema_type {
            weft_sql::registry::SchemaType::Avro => SchemaType::Avro,
            weft_sql::registry::SchemaType::Json => SchemaType::Json,
            weft_sql::registry::SchemaType::Protobuf => SchemaType::Protobuf,
        };
        let definition = SchemaDefinition { schema_type, schema: schema.to_string(), references: Vec::new() };
        let before = self.registry.version(subject, VersionSpec::Latest, false).ok().map(|v| v.id);
        let id = self.registry.register(subject, &RegisterRequest::new(definition)).map_err(sql_error)?;
        if before != Some(id) {
            schema_changed(&self.catalog, subject);
        }
        Ok(id)
    }

    fn schema_by_id(&self, id: u32) -> weft_sql::Result<String> {
        self.registry.schema_by_id(id).map(|info| info.schema).map_err(sql_error)
    }

    fn latest(&self, subject: &str) -> weft_sql::Result<(u32, String)> {
        self.registry.version(subject, VersionSpec::Latest, false).map(|v| (v.id, v.schema)).map_err(sql_error)
    }
}
