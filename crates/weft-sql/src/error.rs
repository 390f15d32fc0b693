use weft_log::LogError;

/// Everything the SQL engine refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement text is not valid ksqlDB syntax (worded as ksqlDB words it: `line 2:59: Syntax
    /// Error` and then what was expected).
    #[error("line {line}:{column}: Syntax Error\n{message}")]
    Parse { line: u32, column: u32, message: String },
    /// The statement is well formed but refers to something unknown or mixes types wrongly.
    #[error("{0}")]
    Analysis(String),
    /// Valid ksqlDB that this engine does not implement yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// A record could not be read or written in the source's format.
    #[error("serialization error: {0}")]
    Serde(String),
    /// A statement that streams (push query, PRINT) sent to the statement endpoint.
    #[error("{0}")]
    QueryEndpoint(String),
    /// The platform refused a read or write of a topic (an internal topic written; later, no grant).
    #[error("{0}")]
    Forbidden(String),
    /// The schema registry refused or failed a lookup or registration; `missing` when the schema or
    /// subject asked for does not exist.
    #[error("schema registry: {message}")]
    SchemaRegistry { missing: bool, message: String },
    /// A persistent query failed on a record and stops there (ksqlDB's StreamsException: a
    /// function's error that fails the query, such as a DECIMAL SUM overflow).
    #[error("Exception caught in process: {0}")]
    Processing(String),
    /// A record's TIMESTAMP column gave no time under `ksql.timestamp.throw.on.invalid`: the query
    /// stops there (Kafka Streams' words for an exception of ksqlDB's timestamp extractor).
    #[error("Fatal user code error in TimestampExtractor callback for record {record}: {reason}")]
    TimestampExtractor { record: String, reason: String },
    #[error(transparent)]
    Log(#[from] LogError),
}

impl SqlError {
    /// ksqlDB's REST error code for this error (`40001` bad statement, `40002` statement for the
    /// `/query` endpoint, `40301` a topic the platform refuses, `50000` server error).
    pub fn error_code(&self) -> u32 {
        match self {
            SqlError::Parse { .. } | SqlError::Analysis(_) | SqlError::Unsupported(_) => 40001,
            SqlError::SchemaRegistry { missing: true, .. } => 40001,
            SqlError::SchemaRegistry { missing: false, .. } => 50000,
            SqlError::QueryEndpoint(_) => 40002,
            // ksqlDB's ERROR_CODE_FORBIDDEN_KAFKA_ACCESS.
            SqlError::Forbidden(_) => 40301,
            SqlError::Serde(_) | SqlError::Log(_) | SqlError::Processing(_) | SqlError::TimestampExtractor { .. } => {
                50000
            }
        }
    }

    pub(crate) fn analysis(message: impl Into<String>) -> SqlError {
        SqlError::Analysis(message.into())
    }
}

/// Result alias of this crate.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
