use crate::{CompatibilityLevel, SchemaId};

/// Everything the registry refuses or fails at, one variant per Confluent error code.
///
/// [`RegistryError::status_and_code`] gives the HTTP status and the Confluent `error_code` the REST layer
/// answers with (`{"error_code": code, "message": err.to_string()}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {version} not found.")]
    VersionNotFound { subject: String, version: String },
    #[error("{0}")]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{subject}' Version {version} was soft deleted. Set permanent=true to delete permanently")]
    VersionSoftDeleted { subject: String, version: u32 },
    #[error("Subject '{subject}' Version {version} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted { subject: String, version: u32 },
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    /// The schema breaks the subject's compatibility level; `messages` say what and where.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", messages.join(", "))]
    IncompatibleSchema { subject: String, messages: Vec<String> },
    /// The schema passes the subject's own level but not the minimum level its registration was held
    /// to ([`crate::Registry::register_with_floor`]).
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\" under the minimum compatibility {floor} (the subject's own level is {level}), details: [{}]", messages.join(", "))]
    BelowCompatibilityFloor {
        subject: String,
        floor: CompatibilityLevel,
        level: CompatibilityLevel,
        messages: Vec<String>,
    },
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level '{0}'. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE")]
    InvalidCompatibilityLevel(String),
    #[error("Invalid mode '{0}'. Valid values are READWRITE, READONLY, IMPORT")]
    InvalidMode(String),
    #[error("{0}")]
    OperationNotPermitted(String),
    /// The version is referenced by other schemas, so it cannot be deleted.
    #[error("One or more references exist to the schema {{subject={subject}, version={version}}}: referenced by schema ids {referenced_by:?}")]
    ReferenceExists { subject: String, version: u32, referenced_by: Vec<SchemaId> },
    /// The schema is already registered under another id than the one the request gives.
    #[error("New schema id {given} does not match the existing schema id {existing}")]
    IdDoesNotMatch { given: SchemaId, existing: SchemaId },
    #[error("Invalid subject '{0}': a subject is 1 to 255 characters without control characters")]
    InvalidSubject(String),
    /// The event log failed; the registry state is unchanged.
    #[error("Error in the schema store: {0}")]
    Store(String),
}

impl RegistryError {
    /// `(http_status, confluent_error_code)`, as the Confluent Schema Registry answers.
    pub fn status_and_code(&self) -> (u16, u32) {
        match self {
            RegistryError::SubjectNotFound(_) => (404, 40401),
            RegistryError::VersionNotFound { .. } => (404, 40402),
            RegistryError::SchemaNotFound(_) => (404, 40403),
            RegistryError::SubjectSoftDeleted(_) => (404, 40404),
            RegistryError::SubjectNotSoftDeleted(_) => (404, 40405),
            RegistryError::VersionSoftDeleted { .. } => (404, 40406),
            RegistryError::VersionNotSoftDeleted { .. } => (404, 40407),
            RegistryError::SubjectCompatibilityNotConfigured(_) => (404, 40408),
            RegistryError::SubjectModeNotConfigured(_) => (404, 40409),
            RegistryError::IncompatibleSchema { .. } | RegistryError::BelowCompatibilityFloor { .. } => (409, 409),
            RegistryError::InvalidSchema(_) => (422, 42201),
            RegistryError::InvalidVersion(_) => (422, 42202),
            RegistryError::InvalidCompatibilityLevel(_) => (422, 42203),
            RegistryError::InvalidMode(_) => (422, 42204),
            RegistryError::OperationNotPermitted(_) => (422, 42205),
            RegistryError::ReferenceExists { .. } => (422, 42206),
            RegistryError::IdDoesNotMatch { .. } => (422, 42207),
            RegistryError::InvalidSubject(_) => (422, 42208),
            RegistryError::Store(_) => (500, 50001),
        }
    }

    pub(crate) fn version_not_found(subject: &str, version: impl ToString) -> Self {
        RegistryError::VersionNotFound { subject: subject.to_string(), version: version.to_string() }
    }
}

/// A schema text that does not parse (or a type that is not supported) is Confluent's "invalid schema".
impl From<weft_schema::SchemaError> for RegistryError {
    fn from(err: weft_schema::SchemaError) -> Self {
        RegistryError::InvalidSchema(err.to_string())
    }
}

impl From<weft_log::LogError> for RegistryError {
    fn from(err: weft_log::LogError) -> Self {
        RegistryError::Store(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_confluent() {
        assert_eq!(RegistryError::SubjectNotFound("s".into()).status_and_code(), (404, 40401));
        assert_eq!(RegistryError::version_not_found("s", 3).status_and_code(), (404, 40402));
        assert_eq!(RegistryError::InvalidSchema("x".into()).status_and_code(), (422, 42201));
        let err = RegistryError::IncompatibleSchema { subject: "s".into(), messages: vec!["a".into(), "b".into()] };
        assert_eq!(err.status_and_code(), (409, 409));
        assert!(err.to_string().contains("details: [a, b]"), "{err}");
        assert_eq!(RegistryError::Store("disk".into()).status_and_code(), (500, 50001));
    }
}
