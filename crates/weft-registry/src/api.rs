//! Request and response bodies of the Confluent Schema Registry REST API that are not already domain
//! types ([`crate::RegisterRequest`], [`crate::RegisteredSchema`], [`crate::SchemaInfo`],
//! [`crate::SubjectVersion`], [`crate::CompatibilityResult`]), so an HTTP handler only moves data.

use serde::{Deserialize, Serialize};

use crate::{CompatibilityLevel, Mode, RegistryError, SchemaId};

/// `{"error_code": 40401, "message": "..."}`, with the HTTP status to send it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_code: u32,
    pub message: String,
}

impl ErrorBody {
    /// The HTTP status and the body for an error.
    pub fn from_error(err: &RegistryError) -> (u16, ErrorBody) {
        let (status, error_code) = err.status_and_code();
        (status, ErrorBody { error_code, message: err.to_string() })
    }
}

/// `POST /subjects/{subject}/versions` answers `{"id": 1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdResponse {
    pub id: SchemaId,
}

/// `PUT /config[/{subject}]` takes and answers `{"compatibility": "FULL"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigUpdate {
    pub compatibility: String,
}

impl ConfigUpdate {
    /// The level asked for (42203 when it is not one).
    pub fn level(&self) -> Result<CompatibilityLevel, RegistryError> {
        self.compatibility.parse()
    }
}

/// `GET /config[/{subject}]` answers `{"compatibilityLevel": "FULL"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    pub compatibility_level: CompatibilityLevel,
}

/// `PUT /mode[/{subject}]` takes, and `GET` answers, `{"mode": "READONLY"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeBody {
    pub mode: String,
}

impl ModeBody {
    /// The mode asked for (42204 when it is not one).
    pub fn mode(&self) -> Result<Mode, RegistryError> {
        self.mode.parse()
    }
}

impl From<Mode> for ModeBody {
    fn from(mode: Mode) -> Self {
        ModeBody { mode: mode.as_str().to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_confluent_shapes() {
        let (status, body) = ErrorBody::from_error(&RegistryError::SubjectNotFound("s".into()));
        assert_eq!(status, 404);
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"error_code":40401,"message":"Subject 's' not found."}"#);
        let response = ConfigResponse { compatibility_level: CompatibilityLevel::FullTransitive };
        assert_eq!(serde_json::to_string(&response).unwrap(), r#"{"compatibilityLevel":"FULL_TRANSITIVE"}"#);
        let update: ConfigUpdate = serde_json::from_str(r#"{"compatibility":"forward"}"#).unwrap();
        assert_eq!(update.level().unwrap(), CompatibilityLevel::Forward);
        let bad = ConfigUpdate { compatibility: "SOMETIMES".into() };
        assert_eq!(bad.level().unwrap_err().status_and_code(), (422, 42203));
        assert_eq!(serde_json::to_string(&ModeBody::from(Mode::Import)).unwrap(), r#"{"mode":"IMPORT"}"#);
        assert_eq!(ModeBody { mode: "nope".into() }.mode().unwrap_err().status_and_code(), (422, 42204));
        assert_eq!(serde_json::to_string(&IdResponse { id: 3 }).unwrap(), r#"{"id":3}"#);
    }
}
