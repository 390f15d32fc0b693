//! The catalog's one error type.
//!
//! [`CatalogError::status_and_code`] gives the HTTP status and the Confluent-style `error_code` (the status
//! followed by two digits telling errors of one status apart) that the REST layer answers with, as
//! `{"error_code": code, "message": err.to_string()}`. Messages name the entity, the field and what to do.

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
    /// A change the product's status forbids (editing a retired product, deleting without the flag...).
    #[error("data product '{product}': {reason}")]
    Forbidden { product: String, reason: String },
    /// A change to a product others consume that needs a new major version.
    #[error("data product '{product}': {reason}")]
    BreakingChange { product: String, reason: String },

    /// Publishing (or editing a published product) without the metadata governance demands.
    #[error("data product '{product}' does not meet the publishing requirements: {}", missing.join("; "))]
    PublishRequirements { product: String, missing: Vec<String> },
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
    /// `(http_status, error_code)`, Confluent style.
    pub fn status_and_code(&self) -> (u16, u32) {
        match self {
            CatalogError::InvalidInput { .. } => (422, 42201),
            CatalogError::InvalidId { .. } => (422, 42202),
            CatalogError::InvalidOdps(_) => (422, 42203),
            CatalogError::PublishRequirements { .. } => (422, 42204),
            CatalogError::LineageCycle { .. } => (422, 42205),
            CatalogError::DomainNotFound(_) => (404, 40401),
            CatalogError::ProductNotFound(_) => (404, 40402),
            CatalogError::FieldNotFound { .. } => (404, 40403),
            CatalogError::AccessRequestNotFound(_) => (404, 40405),
            CatalogError::AccessConflict(_) => (409, 40904),
            CatalogError::NotAllowed { .. } => (403, 40304),
            CatalogError::DomainExists(_) | CatalogError::ProductExists(_) => (409, 40901),
            CatalogError::RevisionConflict { .. } => (409, 40902),
            CatalogError::InUse { .. } => (409, 40903),
            CatalogError::ForbiddenTransition { .. } => (403, 40301),
            CatalogError::Forbidden { .. } => (403, 40302),
            CatalogError::BreakingChange { .. } => (403, 40303),
            CatalogError::Log(LogError::Closed) => (503, 50301),
            CatalogError::Log(LogError::Corrupt { .. }) | CatalogError::CorruptEvent { .. } => (500, 50002),
            CatalogError::Log(_) | CatalogError::Search(_) | CatalogError::Internal(_) => (500, 50001),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CatalogError::InvalidInput { field: field.into(), reason: reason.into() }
    }
}

impl From<tantivy::TantivyError> for CatalogError {
    fn from(e: tantivy::TantivyError) -> Self {
        CatalogError::Search(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_start_with_their_status() {
        let errors = [
            CatalogError::invalid("name", "empty"),
            CatalogError::ProductNotFound("a.b".into()),
            CatalogError::ProductExists("a.b".into()),
            CatalogError::ForbiddenTransition {
                product: "a.b".into(),
                from: "draft",
                to: "deprecated",
                reason: "x".into(),
            },
            CatalogError::LineageCycle { path: vec!["a.b".into(), "a.c".into(), "a.b".into()] },
            CatalogError::Log(LogError::Closed),
        ];
        for e in errors {
            let (status, code) = e.status_and_code();
            assert_eq!(u32::from(status), code / 100, "{e}");
        }
    }

    #[test]
    fn cycle_message_shows_the_path() {
        let e = CatalogError::LineageCycle { path: vec!["a.x".into(), "b.y".into(), "a.x".into()] };
        assert_eq!(e.to_string(), "lineage cycle: a.x -> b.y -> a.x");
    }
}
