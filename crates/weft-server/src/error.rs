//! The one error shape of the API, `{"error_code": <int>, "message": "..."}`, and the library's error.
//!
//! Error codes follow the Confluent REST Proxy convention: the HTTP status followed by two digits that
//! tell errors of the same status apart, so clients can branch on the code without parsing messages.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use weft_log::LogError;

/// What went wrong at the library boundary (starting or running the server).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("the event log failed: {0}")]
    Log(#[from] LogError),
    #[error("the schema registry failed to start: {0}")]
    Registry(#[from] weft_registry::RegistryError),
    #[error("the catalog failed to start: {0}")]
    Catalog(#[from] weft_catalog::CatalogError),
    #[error("the SQL engine failed to start: {0}")]
    Sql(#[from] weft_sql::SqlError),
    #[error("the server thread failed: {0}")]
    Thread(String),
}

/// The API's error codes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not JSON at all (syntax error, truncated).
    MalformedJson = 40001,
    /// No route has this path.
    RouteNotFound = 40400,
    /// Internal `_weft*` topics hold platform state: clients may read them, not change them.
    InternalTopic = 40301,
    TopicNotFound = 40401,
    PartitionNotFound = 40402,
    MethodNotAllowed = 40500,
    TopicExists = 40901,
    /// The request body is larger than `max_body_bytes`, or a batch larger than the log takes.
    TooLarge = 41301,
    /// A produce request has more than `max_records_per_request` records.
    TooManyRecords = 41302,
    /// The requested offset is outside the offsets the partition holds.
    OffsetOutOfRange = 41601,
    /// Well-formed JSON or query parameters with a wrong field, type or value.
    InvalidInput = 42201,
    InvalidTopicName = 42202,
    InvalidTopicConfig = 42203,
    InvalidRecord = 42204,
    InvalidGroup = 42205,
    Internal = 50001,
    CorruptData = 50002,
    Unavailable = 50301,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        let status = self as u32 / 100;
        StatusCode::from_u16(status as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// An error answered to an HTTP client; every error response of the server is one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The server's own code. For an error a domain crate numbered itself ([`ApiError::numbered`]), the
    /// server code of the same status; [`ApiError::error_code`] is what the client gets.
    pub code: ErrorCode,
    pub message: String,
    /// `(status, error_code)` of an error numbered by a domain crate (the catalog, the registry): they
    /// follow the same convention with their own numbering per resource, so they go out unchanged.
    numbered: Option<(u16, u32)>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), numbered: None }
    }

    /// An error a domain crate numbered itself, answered with exactly that status and code.
    pub fn numbered(status: u16, error_code: u32, message: impl Into<String>) -> Self {
        let code = match status {
            400 => ErrorCode::MalformedJson,
            403 => ErrorCode::InternalTopic,
            404 => ErrorCode::RouteNotFound,
            405 => ErrorCode::MethodNotAllowed,
            409 => ErrorCode::TopicExists,
            413 => ErrorCode::TooLarge,
            416 => ErrorCode::OffsetOutOfRange,
            422 => ErrorCode::InvalidInput,
            503 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        let numbered = StatusCode::from_u16(status).is_ok().then_some((status, error_code));
        ApiError { code, message: message.into(), numbered }
    }

    /// The `error_code` the client receives.
    pub fn error_code(&self) -> u32 {
        self.numbered.map_or(self.code as u32, |(_, code)| code)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    /// A body that could not be read as the JSON the route takes; serde's message carries line and column.
    pub fn from_json(error: &serde_json::Error) -> Self {
        match error.classify() {
            serde_json::error::Category::Data => Self::invalid(format!("invalid request body: {error}")),
            _ => Self::new(ErrorCode::MalformedJson, format!("malformed JSON in request body: {error}")),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.numbered.and_then(|(status, _)| StatusCode::from_u16(status).ok()).unwrap_or(self.code.status())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.error_code())
    }
}

impl std::error::Error for ApiError {}

impl From<weft_catalog::CatalogError> for ApiError {
    fn from(error: weft_catalog::CatalogError) -> Self {
        let (status, code) = error.status_and_code();
        ApiError::numbered(status, code, error.to_string())
    }
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        let code = match &error {
            LogError::TopicNotFound(_) => ErrorCode::TopicNotFound,
            LogError::TopicExists(_) => ErrorCode::TopicExists,
            LogError::InternalTopic(_) => ErrorCode::InternalTopic,
            LogError::InvalidTopicName { .. } => ErrorCode::InvalidTopicName,
            LogError::PartitionNotFound { .. } => ErrorCode::PartitionNotFound,
            LogError::InvalidConfig { .. } => ErrorCode::InvalidTopicConfig,
            LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            LogError::InvalidRecord { .. } | LogError::EmptyBatch => ErrorCode::InvalidRecord,
            LogError::BatchTooLarge { .. } => ErrorCode::TooLarge,
            LogError::InvalidGroup(_) => ErrorCode::InvalidGroup,
            LogError::Corrupt { .. } => ErrorCode::CorruptData,
            LogError::Closed => ErrorCode::Unavailable,
            LogError::Io { .. } => ErrorCode::Internal,
        };
        ApiError::new(code, error.to_string())
    }
}

/// Every error response's body.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The HTTP status followed by two digits, e.g. 40402.
    pub error_code: u32,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody { error_code: self.error_code(), message: self.message };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_their_status() {
        assert_eq!(ErrorCode::TopicNotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(ErrorCode::TooManyRecords.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ErrorCode::OffsetOutOfRange.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(ErrorCode::InvalidGroup.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(ErrorCode::Unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn log_errors_map_to_codes() {
        let cases = [
            (LogError::TopicNotFound("t".into()), ErrorCode::TopicNotFound),
            (LogError::TopicExists("t".into()), ErrorCode::TopicExists),
            (
                LogError::PartitionNotFound { topic: "t".into(), partition: 3, partitions: 1 },
                ErrorCode::PartitionNotFound,
            ),
            (LogError::BatchTooLarge { size: 2, max: 1 }, ErrorCode::TooLarge),
            (LogError::Closed, ErrorCode::Unavailable),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let api = ApiError::from(error);
            assert_eq!(api.code, code);
            assert_eq!(api.message, message);
        }
    }

    #[test]
    fn catalog_errors_keep_their_own_codes() {
        let api = ApiError::from(weft_catalog::CatalogError::ProductNotFound("a.b".into()));
        assert_eq!((api.status(), api.error_code()), (StatusCode::NOT_FOUND, 40402));
        assert_eq!(api.code.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.to_string(), "data product 'a.b' does not exist (40402)");
    }

    #[test]
    fn json_syntax_and_data_errors_differ() {
        let syntax = serde_json::from_str::<serde_json::Value>("{\"a\":").unwrap_err();
        assert_eq!(ApiError::from_json(&syntax).code, ErrorCode::MalformedJson);
        let data = serde_json::from_str::<u32>("\"x\"").unwrap_err();
        let api = ApiError::from_json(&data);
        assert_eq!(api.code, ErrorCode::InvalidInput);
        assert!(api.message.contains("line 1"), "{}", api.message);
    }
}
