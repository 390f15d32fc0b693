//! The one error shape of the API, `{"error_code": <int>, "message": "..."}`, the one table of its
//! codes, and the library's error.
//!
//! Error codes follow the Confluent REST Proxy convention: the HTTP status followed by two digits that
//! tell errors of the same status apart, so clients can branch on the code without parsing messages.
//! Each code has exactly one meaning ([`ErrorCode`]); every error of the mesh and of the domain
//! crates maps to one of them here, by its variant, so a new variant cannot go without a code. The
//! registry under `/registry` and ksqlDB's API under `/ksql` answer with their own projects' codes
//! (Confluent's and ksqlDB's), which their clients branch on; those tables live with their handlers.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use weft_mesh::catalog::CatalogError;
use weft_mesh::log::LogError;
use weft_mesh::weft_sql::SqlError;
use weft_mesh::MeshError;

/// What went wrong at the library boundary (starting or running the server).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("the platform failed to start: {0}")]
    Mesh(#[from] MeshError),
    #[error("the server thread failed: {0}")]
    Thread(String),
}

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal,)+) => {
        /// Every `error_code` of `/api/v1`, each with one meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $name = $code,)+
        }

        impl ErrorCode {
            /// The whole table, in code order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)+];

            /// What the code means (its documentation line), for the table in the API's documentation.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }
    };
}

error_codes! {
    /// The body is not JSON at all (syntax error, truncated).
    MalformedJson = 40001,
    /// `from-sql`: the stream or table is not written by a persistent query, so it has no lineage.
    NotDerived = 40002,
    /// `from-sql`: the source's value format has no schema subject for a product's output port.
    FormatWithoutSchema = 40003,
    /// No credential, or one that does not sign in (malformed, expired, revoked, wrong issuer or signature).
    Unauthenticated = 40101,
    /// Internal `_weft*` topics and consumer groups hold platform state: clients may read them, not change them.
    InternalState = 40301,
    /// The product's lifecycle status does not allow this (a retired product is read-only and serves no data).
    ProductStatusForbids = 40302,
    /// A change to a published product that needs a new major version.
    BreakingChange = 40303,
    /// The acting user may not make this change (not an owner of the product or its domain, not a platform admin).
    NotAllowed = 40304,
    /// A lifecycle transition the product's current status does not allow.
    ForbiddenTransition = 40305,
    /// Deleting needs the explicit confirmation flag.
    ConfirmationRequired = 40306,
    /// Reading a product's data needs a grant (an approved access request) the caller does not hold.
    NotGranted = 40307,
    /// No route has this path.
    RouteNotFound = 40400,
    /// No such topic.
    TopicNotFound = 40401,
    /// The topic has no such partition.
    PartitionNotFound = 40402,
    /// No such domain.
    DomainNotFound = 40403,
    /// No such data product.
    ProductNotFound = 40404,
    /// The product's schema has no such field.
    FieldNotFound = 40405,
    /// No such access request.
    AccessRequestNotFound = 40406,
    /// No such SQL stream or table.
    SqlSourceNotFound = 40407,
    /// The product has no served output port of that name or version.
    PortNotFound = 40408,
    /// No data contract of that id (or version).
    ContractNotFound = 40409,
    /// No such user or service account.
    UserNotFound = 40410,
    /// No such API token.
    TokenNotFound = 40411,
    /// No such webhook subscription (or not the caller's).
    WebhookNotFound = 40412,
    /// Signing in with an identity provider, on a server that has none (`oidc_issuer`).
    NoIdentityProvider = 40413,
    /// The route does not take this method.
    MethodNotAllowed = 40500,
    /// The topic, domain or product to create already exists.
    AlreadyExists = 40901,
    /// Optimistic concurrency: the change was based on an older revision.
    RevisionConflict = 40902,
    /// Still referenced: a domain with products, a product others consume, a topic products depend on.
    InUse = 40903,
    /// An access request's status does not allow the decision, or a request is already pending.
    AccessConflict = 40904,
    /// The request body is larger than `max_body_bytes`, or a batch larger than the log takes.
    TooLarge = 41301,
    /// A produce request has more than `max_records_per_request` records.
    TooManyRecords = 41302,
    /// The request body's content type is not JSON (or YAML for documents).
    UnsupportedMediaType = 41501,
    /// The requested offset is outside the offsets the partition holds.
    OffsetOutOfRange = 41601,
    /// The request's Host is not a name this server answers to (`allowed_hosts`).
    HostNotAllowed = 42101,
    /// Well-formed JSON or query parameters with a wrong field, type or value.
    InvalidInput = 42201,
    /// An invalid name or id (topic, domain, product).
    InvalidName = 42202,
    /// An invalid topic configuration.
    InvalidTopicConfig = 42203,
    /// A record that cannot be written as it is (its value breaks the product's schema or contract, a bad partition or timestamp).
    InvalidRecord = 42204,
    /// An invalid consumer group name.
    InvalidGroup = 42205,
    /// An ODPS document that cannot be read.
    InvalidOdps = 42206,
    /// The product does not meet the publishing requirements (each gap listed).
    PublishRequirements = 42207,
    /// The change would make the lineage graph cyclic.
    LineageCycle = 42208,
    /// The product's output port declares a schema format, but its subject has no schema yet.
    PortSchemaMissing = 42209,
    /// The product's output port declares a format records cannot be encoded in yet.
    UnsupportedFormat = 42210,
    /// A data contract that is not valid ODCS or that Weft cannot check (each problem with its path and line).
    InvalidContract = 42211,
    /// A data contract and the schema of the port it would govern disagree on fields (each one listed).
    ContractSchemaMismatch = 42212,
    /// The principal sent more requests than `rate_limit` allows; retry after the `Retry-After` seconds.
    TooManyRequests = 42901,
    /// A failure inside the server.
    Internal = 50001,
    /// Stored data failed its checksum.
    CorruptData = 50002,
    /// The storage failed (details in the server's log, never in the answer).
    StorageError = 50003,
    /// The server is shutting down.
    Unavailable = 50301,
    /// The server is at its limit of connections (`max_connections`); retry later.
    TooManyConnections = 50302,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        let status = self as u32 / 100;
        StatusCode::from_u16(status as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// An error answered to an HTTP client; every `/api/v1` error response is one of these.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Structured detail some errors carry (the publishing gaps), sent beside the message.
    pub details: Option<serde_json::Value>,
    /// The request field the error is about, as a path (`tags[1]`, `outputPorts[0].topic`), when known.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: None, field: None }
    }

    /// The `error_code` the client receives.
    pub fn error_code(&self) -> u32 {
        self.code as u32
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
        self.code.status()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.error_code())
    }
}

impl std::error::Error for ApiError {}

/// The code of a log error.
fn log_code(error: &LogError) -> ErrorCode {
    match error {
        LogError::TopicNotFound(_) => ErrorCode::TopicNotFound,
        LogError::TopicExists(_) => ErrorCode::AlreadyExists,
        LogError::InternalTopic(_) => ErrorCode::InternalState,
        LogError::InvalidTopicName { .. } => ErrorCode::InvalidName,
        LogError::PartitionNotFound { .. } => ErrorCode::PartitionNotFound,
        LogError::InvalidConfig { .. } => ErrorCode::InvalidTopicConfig,
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        LogError::InvalidRecord { .. } | LogError::EmptyBatch => ErrorCode::InvalidRecord,
        LogError::BatchTooLarge { .. } => ErrorCode::TooLarge,
        LogError::InvalidGroup(_) => ErrorCode::InvalidGroup,
        LogError::Corrupt { .. } => ErrorCode::CorruptData,
        LogError::Closed | LogError::Backend(_) => ErrorCode::Unavailable,
        LogError::Io { .. } => ErrorCode::StorageError,
    }
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        let code = log_code(&error);
        match code {
            // Paths and OS errors belong in the operator's log, not in answers to clients.
            ErrorCode::StorageError | ErrorCode::CorruptData => {
                tracing::error!(error = %error, "storage failure");
                let message = match code {
                    ErrorCode::CorruptData => "stored data failed its checksum; the server's log names the file",
                    _ => "the storage failed; the server's log has the details",
                };
                ApiError::new(code, message)
            }
            _ => ApiError::new(code, error.to_string()),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        let error = match error {
            CatalogError::Log(log) => return log.into(),
            other => other,
        };
        let code = match &error {
            CatalogError::InvalidId { .. } => ErrorCode::InvalidName,
            CatalogError::InvalidInput { .. } => ErrorCode::InvalidInput,
            CatalogError::InvalidOdps(_) | CatalogError::NotOdps { .. } => ErrorCode::InvalidOdps,
            CatalogError::DomainNotFound(_) => ErrorCode::DomainNotFound,
            CatalogError::ProductNotFound(_) => ErrorCode::ProductNotFound,
            CatalogError::AccessRequestNotFound(_) => ErrorCode::AccessRequestNotFound,
            CatalogError::FieldNotFound { .. } => ErrorCode::FieldNotFound,
            CatalogError::DomainExists(_) | CatalogError::ProductExists(_) => ErrorCode::AlreadyExists,
            CatalogError::RevisionConflict { .. } => ErrorCode::RevisionConflict,
            CatalogError::AccessConflict(_) => ErrorCode::AccessConflict,
            CatalogError::NotAllowed { .. } => ErrorCode::NotAllowed,
            CatalogError::InUse { .. } => ErrorCode::InUse,
            CatalogError::ForbiddenTransition { .. } => ErrorCode::ForbiddenTransition,
            CatalogError::Forbidden { .. } => ErrorCode::ProductStatusForbids,
            CatalogError::ConfirmationRequired { .. } => ErrorCode::ConfirmationRequired,
            CatalogError::BreakingChange { .. } => ErrorCode::BreakingChange,
            CatalogError::PublishRequirements { .. } => ErrorCode::PublishRequirements,
            CatalogError::LineageCycle { .. } => ErrorCode::LineageCycle,
            CatalogError::CorruptEvent { .. } => ErrorCode::CorruptData,
            CatalogError::Search(_) | CatalogError::Internal(_) | CatalogError::Log(_) => ErrorCode::Internal,
        };
        let details = match &error {
            CatalogError::PublishRequirements { gaps, .. } => Some(serde_json::json!({ "gaps": gaps })),
            CatalogError::NotOdps { line: Some(line), .. } => Some(serde_json::json!({ "line": line })),
            _ => None,
        };
        let field = match &error {
            CatalogError::InvalidInput { field, .. } => Some(field.clone()),
            CatalogError::NotOdps { field, .. } => Some(field.clone()),
            _ => None,
        };
        ApiError { code, message: error.to_string(), details, field }
    }
}

impl From<SqlError> for ApiError {
    fn from(error: SqlError) -> Self {
        match error {
            SqlError::Log(log) => log.into(),
            SqlError::Forbidden(message) => ApiError::new(ErrorCode::InternalState, message),
            SqlError::Parse { .. } | SqlError::Analysis(_) | SqlError::Unsupported(_) | SqlError::QueryEndpoint(_) => {
                ApiError::invalid(error.to_string())
            }
            SqlError::Serde(_)
            | SqlError::SchemaRegistry { .. }
            | SqlError::Processing(_)
            | SqlError::TimestampExtractor { .. } => ApiError::new(ErrorCode::Internal, error.to_string()),
        }
    }
}

impl From<MeshError> for ApiError {
    fn from(error: MeshError) -> Self {
        let code = match error {
            MeshError::Log(e) => return e.into(),
            MeshError::Catalog(e) => return e.into(),
            MeshError::Sql(e) => return e.into(),
            // Outside `/registry`, a registry refusal is the platform's own doing.
            MeshError::Registry(e) => return ApiError::new(ErrorCode::Internal, e.to_string()),
            MeshError::At { at, source } => {
                let mut api = ApiError::from(*source);
                api.message = format!("{at}: {}", api.message);
                return api;
            }
            MeshError::InvalidRecord { .. } => ErrorCode::InvalidRecord,
            MeshError::RecordsBreakRules { ref records, .. } => {
                let mut api = ApiError::new(ErrorCode::InvalidRecord, error.to_string());
                api.details = Some(serde_json::json!({ "records": records }));
                return api;
            }
            MeshError::InvalidRequest(_) => ErrorCode::InvalidInput,
            MeshError::InternalGroup(_) => ErrorCode::InternalState,
            MeshError::PortSchemaMissing { .. } => ErrorCode::PortSchemaMissing,
            MeshError::UnsupportedFormat { .. } => ErrorCode::UnsupportedFormat,
            MeshError::ProductRetired(_) => ErrorCode::ProductStatusForbids,
            MeshError::PortNotFound(_) => ErrorCode::PortNotFound,
            MeshError::SqlSourceNotFound(_) => ErrorCode::SqlSourceNotFound,
            MeshError::NotDerived(_) => ErrorCode::NotDerived,
            MeshError::FormatWithoutSchema { .. } => ErrorCode::FormatWithoutSchema,
            MeshError::TopicInUse { .. } => ErrorCode::InUse,
            MeshError::Contract(ref contract) => {
                let mut api = ApiError::new(ErrorCode::InvalidContract, error.to_string());
                if let weft_mesh::contracts::ContractError::Invalid { problems } = contract {
                    api.details = Some(serde_json::json!({ "problems": problems }));
                }
                return api;
            }
            MeshError::ContractSchemaMismatch { ref mismatches, .. } => {
                let mut api = ApiError::new(ErrorCode::ContractSchemaMismatch, error.to_string());
                api.details = Some(serde_json::json!({ "mismatches": mismatches }));
                return api;
            }
            MeshError::ContractNotFound { .. } => ErrorCode::ContractNotFound,
            MeshError::ContractVersionExists { .. } => ErrorCode::AlreadyExists,
            MeshError::NotPlatformAdmin(_) => ErrorCode::NotAllowed,
            MeshError::InvalidPolicy { ref field, .. } => {
                let mut api = ApiError::new(ErrorCode::InvalidInput, error.to_string());
                api.field = Some(field.clone());
                return api;
            }
            MeshError::PoliciesChanged { .. } => ErrorCode::RevisionConflict,
            MeshError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            MeshError::Forbidden { .. } => ErrorCode::NotAllowed,
            MeshError::NotGranted { .. } => ErrorCode::NotGranted,
            MeshError::UserNotFound(_) => ErrorCode::UserNotFound,
            MeshError::TokenNotFound(_) => ErrorCode::TokenNotFound,
            MeshError::WebhookNotFound(_) => ErrorCode::WebhookNotFound,
            MeshError::Internal(_) => ErrorCode::Internal,
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
    /// Publishing requirements not met: `[{"field", "rule", "message"}]` (42207 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub gaps: Option<serde_json::Value>,
    /// Records of a write that break their port's rules, every one: `[{"index", "violations": [{"rule",
    /// "field", "reason"}]}]` (42204 under the `reject` policy; nothing of the request was written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub records: Option<serde_json::Value>,
    /// What is wrong with a refused data contract, every problem: `[{"path", "line", "message"}]` (42211).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub problems: Option<serde_json::Value>,
    /// The fields on which a contract and a port's schema disagree: `[{"field", "kind", "message"}]` (42212).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub mismatches: Option<serde_json::Value>,
    /// The request field a 42201 is about, as a path (`tags[1]`, `outputPorts[0].topic`), when the
    /// server knows it, so forms can show the error next to the field without reading the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The line of the YAML document a 42206 is about (1-based), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut details = self.details;
        let mut take = |key: &str| details.as_mut().and_then(|d| d.get_mut(key).map(serde_json::Value::take));
        let gaps = take("gaps");
        let records = take("records");
        let problems = take("problems");
        let mismatches = take("mismatches");
        let line = take("line").and_then(|l| l.as_u64());
        let body = ErrorBody {
            error_code: self.code as u32,
            message: self.message,
            gaps,
            records,
            problems,
            mismatches,
            field: self.field,
            line,
        };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_meaning_and_carries_its_status() {
        let mut seen = std::collections::BTreeMap::new();
        for code in ErrorCode::ALL {
            let number = *code as u32;
            assert!(seen.insert(number, code).is_none(), "{number} is used twice");
            assert!((40_000..60_000).contains(&number), "{number}");
            assert_eq!(u32::from(code.status().as_u16()), number / 100, "{code:?}");
            assert!(!code.meaning().is_empty(), "{code:?} has no meaning");
        }
        let meanings: std::collections::BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.meaning()).collect();
        assert_eq!(meanings.len(), ErrorCode::ALL.len(), "two codes share a meaning");
    }

    #[test]
    fn log_errors_map_to_codes() {
        let cases = [
            (LogError::TopicNotFound("t".into()), ErrorCode::TopicNotFound),
            (LogError::TopicExists("t".into()), ErrorCode::AlreadyExists),
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
    fn storage_errors_leave_paths_out_of_the_answer() {
        let error = LogError::Io {
            path: "/var/lib/weft/topics/orders/0/00000000000000000000.log".into(),
            source: std::io::Error::other("disk on fire"),
        };
        let api = ApiError::from(error);
        assert_eq!(api.code, ErrorCode::StorageError);
        assert!(!api.message.contains("/var/lib") && !api.message.contains("disk on fire"), "{}", api.message);
    }

    #[test]
    fn catalog_errors_get_their_codes_and_gaps() {
        let api = ApiError::from(CatalogError::ProductNotFound("a.b".into()));
        assert_eq!((api.status(), api.error_code()), (StatusCode::NOT_FOUND, 40404));
        assert_eq!(api.to_string(), "data product 'a.b' does not exist (40404)");
        let gap = weft_mesh::catalog::PublishGap {
            field: "description".into(),
            rule: "description-required".into(),
            message: "description is empty".into(),
        };
        let api = ApiError::from(CatalogError::PublishRequirements { product: "a.b".into(), gaps: vec![gap] });
        assert_eq!(api.error_code(), 42207);
        let body = api.details.expect("details");
        assert_eq!(body["gaps"][0]["field"], "description");
        let api = ApiError::from(CatalogError::InvalidInput { field: "tags[1]".into(), reason: "twice".into() });
        assert_eq!((api.error_code(), api.field.as_deref()), (42201, Some("tags[1]")));
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
