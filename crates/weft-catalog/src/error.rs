//! The catalog's one error type. Each variant is one kind of refusal or failure (the server gives each
//! its own status and code in its error table); messages name the entity, the field and what to do.

use weft_log::LogError;

/// Everything the catalog refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A domain name or product id that is not a valid slug.
    #[error("invalid {kind} '{value}': {reason}")]
    InvalidId { kind: &'static str, value: String, reason: String },
    /// A well-formed request with a wrong field value; `field` is a path such as `outputPorts[1].topic`.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    /// An ODPS document that cannot be read (YAML syntax, wrong shape, or values Weft cannot map).
    #[error("invalid ODPS document: {0}")]
    InvalidOdps(String),
    /// An ODPS document the standard's JSON Schema refuses: the field (`outputPorts[0].version`, empty
    /// for the document itself), the line of the YAML text it is on, and why.
    #[error("invalid ODPS document: {}{}: {reason} (ODPS {} JSON Schema)",
        line.map(|l| format!("line {l}: ")).unwrap_or_default(),
        if field.is_empty() { "the document" } else { field.as_str() },
        crate::odps::standard::ODPS_SCHEMA_VERSION)]
    NotOdps { field: String, line: Option<usize>, reason: String },

    #[error("domain '{0}' does not exist")]
    DomainNotFound(String),
    #[error("data product '{0}' does not exist")]
    ProductNotFound(String),
    #[error("access request '{0}' does not exist")]
    AccessRequestNotFound(String),
    /// A lineage or impact query names a field the product's schema does not have.
    #[error("data product '{product}' has no field '{field}'")]
    FieldNotFound { product: String, field: String },

    #[error("domain '{0}' already exists")]
    DomainExists(String),
    #[error("data product '{0}' already exists")]
    ProductExists(String),
    /// Optimistic concurrency: the caller's view of the entity is stale.
    #[error("{entity} is at revision {current}, but the change was based on revision {expected}: reload it and retry")]
    RevisionConflict { entity: String, current: u64, expected: u64 },
    /// An access request that conflicts with the current state (a duplicate, or a decision its
    /// status does not allow).
    #[error("access request: {0}")]
    AccessConflict(String),
    /// The actor may not make this change (not an owner of the product or its domain).
    #[error("{actor} may not {action}: {reason}")]
    NotAllowed { actor: String, action: String, reason: String },
    /// The entity is still referenced and cannot go away.
    #[error("{entity} cannot be deleted: {reason}")]
    InUse { entity: String, reason: String },

    /// A lifecycle transition the product's current status does not allow.
    #[error("data product '{product}' cannot go from {from} to {to}: {reason}")]
    ForbiddenTransition { product: String, from: &'static str, to: &'static str, reason: String },
    /// A change the product's lifecycle status forbids (editing a retired product, deleting one that
    /// is not retired, asking a retired product for access...).
    #[error("data product '{product}': {reason}")]
    Forbidden { product: String, reason: String },
    /// Deleting a product is explicit: the request must confirm it.
    #[error("deleting data product '{product}' needs the explicit confirmation flag")]
    ConfirmationRequired { product: String },
    /// A change to a product others consume that needs a new major version.
    #[error("data product '{product}': {reason}")]
    BreakingChange { product: String, reason: String },

    /// Publishing (or editing a published product) without the metadata governance demands; each gap
    /// names the field and the rule it breaks.
    #[error(
        "data product '{product}' does not meet the publishing requirements: {}",
        gaps.iter().map(|g| g.message.as_str()).collect::<Vec<_>>().join("; ")
    )]
    PublishRequirements { product: String, gaps: Vec<PublishGap> },
    /// The change would make the lineage graph cyclic; `path` is the cycle, first node repeated last.
    #[error("lineage cycle: {}", path.join(" -> "))]
    LineageCycle { path: Vec<String> },

    #[error("the event log failed: {0}")]
    Log(#[from] LogError),
    /// A catalog event in the log that this version cannot read.
    #[error("catalog event at offset {offset} of {topic} cannot be read: {reason}")]
    CorruptEvent { topic: String, offset: u64, reason: String },
    #[error("the search index failed: {0}")]
    Search(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CatalogError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CatalogError::InvalidInput { field: field.into(), reason: reason.into() }
    }
}

impl From<tantivy::TantivyError> for CatalogError {
    fn from(e: tantivy::TantivyError) -> Self {
        CatalogError::Search(e.to_string())
    }
}

/// One publishing requirement a product does not meet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishGap {
    /// The spec field to fix: `description`, `qualityTier`, `outputPorts`, `outputPorts[0].schemaSubject`,
    /// `inputPorts[1].product`, `id` (its domain).
    pub field: String,
    /// Which rule: `domain-exists`, `description-required`, `quality-tier-required`,
    /// `output-port-required`, `schema-registered`, `input-not-retired`.
    pub rule: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl PublishGap {
    pub(crate) fn new(field: impl Into<String>, rule: &str, message: impl Into<String>) -> Self {
        PublishGap { field: field.into(), rule: rule.to_string(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_message_shows_the_path() {
        let e = CatalogError::LineageCycle { path: vec!["a.x".into(), "b.y".into(), "a.x".into()] };
        assert_eq!(e.to_string(), "lineage cycle: a.x -> b.y -> a.x");
    }

    #[test]
    fn publishing_gaps_read_as_one_message() {
        let e = CatalogError::PublishRequirements {
            product: "a.b".into(),
            gaps: vec![
                PublishGap::new("description", "description-required", "description is empty"),
                PublishGap::new("qualityTier", "quality-tier-required", "qualityTier is not set"),
            ],
        };
        assert_eq!(
            e.to_string(),
            "data product 'a.b' does not meet the publishing requirements: description is empty; qualityTier is not set"
        );
    }
}
