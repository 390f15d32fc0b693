//! The registry as the catalog sees it: subjects and the fields of their latest schemas.

use std::sync::Arc;

use weft_catalog::{FieldInfo, SchemaLookup};
use weft_registry::{field_summaries, Registry, VersionSpec};

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
