//! The mesh's one error type: the domain crates' errors, kept typed, and what the mesh itself refuses.
//!
//! Nothing here knows HTTP: the server maps each variant (and each domain error's variant) to its one
//! status and code in its error table.

use weft_catalog::CatalogError;
use weft_log::LogError;
use weft_registry::RegistryError;
use weft_sql::SqlError;

/// Everything a mesh call refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A data contract that cannot be read or used (each problem located by path and line).
    #[error(transparent)]
    Contract(#[from] weft_contract::ContractError),

    /// One record of a write cannot be written as it is (`field` is `key`, `value`, `value.amount`,
    /// `partition`, ...); nothing of the request was written.
    #[error("invalid record at [{index}].{field}: {reason}")]
    InvalidRecord { index: usize, field: String, reason: String },
    /// Records of a write break the rules their port enforces (its schema, its contract), and the
    /// port's policy is `reject`: nothing of the request was written. Each broken record is listed.
    #[error("{}", records_break_rules(topic, *total, records))]
    RecordsBreakRules { topic: String, total: usize, records: Vec<crate::contracts::RecordViolations> },
    /// An error about one part of a request (`offsets[2]`), kept as the error it is.
    #[error("{at}: {source}")]
    At { at: String, source: Box<MeshError> },
    /// Consumer groups named `_weft*` hold the platform's own positions.
    #[error("consumer group '{0}' is internal: groups named _weft* hold the platform's own positions")]
    InternalGroup(String),
    /// A well-formed request whose parameters are out of range or contradict each other.
    #[error("{0}")]
    InvalidRequest(String),
    /// A product's output port declares a format with a schema, but its subject has none yet.
    #[error(
        "data product '{product}' declares {format} records on topic '{topic}', but its schema subject \
         '{subject}' has no schema: register one first"
    )]
    PortSchemaMissing { product: String, topic: String, subject: String, format: String },
    /// A port's format the write path cannot encode JSON records into.
    #[error("data product '{product}' declares {format} records on topic '{topic}', which Weft cannot encode yet")]
    UnsupportedFormat { product: String, topic: String, format: String },
    /// A retired product serves no data.
    #[error("data product '{0}' is retired: its data is no longer served")]
    ProductRetired(String),
    /// The product has no served output port matching the request.
    #[error("{0}")]
    PortNotFound(String),
    /// `from-sql`: no stream or table of that name.
    #[error("stream or table '{0}' does not exist")]
    SqlSourceNotFound(String),
    /// `from-sql`: the source is not written by a persistent query, so it has no lineage.
    #[error(
        "{0} is not written by a persistent query (CREATE STREAM|TABLE ... AS SELECT or INSERT INTO ... SELECT), \
         so there is no lineage to derive a product from: create the product with POST /api/v1/products instead"
    )]
    NotDerived(String),
    /// `from-sql`: the source's value format has no schema subject a product's port could name.
    #[error(
        "{source_name} has value format {format}, which has no schema subject: a product's output port needs \
         AVRO, JSON or JSON_SR values"
    )]
    FormatWithoutSchema { source_name: String, format: String },
    /// A topic that products serve or read cannot be deleted.
    #[error("topic '{topic}' cannot be deleted: {} depend on it (retire them first)", products.join(", "))]
    TopicInUse { topic: String, products: Vec<String> },
    /// No contract of that id (and version).
    #[error("no data contract '{id}'{}", version.as_ref().map(|v| format!(" version {v}")).unwrap_or_default())]
    ContractNotFound { id: String, version: Option<String> },
    /// A contract version is immutable: the same id and version with another document.
    #[error(
        "data contract '{id}' version {version} exists with another document: a contract version never changes, \
         give the new document a new version"
    )]
    ContractVersionExists { id: String, version: String },
    /// A contract and the schema of the port it would govern disagree on fields.
    #[error(
        "data contract '{contract}' does not fit the port's schema (subject '{subject}'): {}",
        mismatches.iter().map(|m| m.message.as_str()).collect::<Vec<_>>().join("; ")
    )]
    ContractSchemaMismatch { contract: String, subject: String, mismatches: Vec<weft_contract::FieldMismatch> },
    /// Only platform admins set the global policies.
    #[error("'{0}' is not a platform admin: only platform admins set the global policies")]
    NotPlatformAdmin(String),
    /// A global policies document that cannot be used: which field, and why.
    #[error("invalid policies: {field}: {reason}")]
    InvalidPolicy { field: String, reason: String },
    /// The policies changed since the version a change was based on.
    #[error("the policies are at version {current}, not {expected}: read them again and redo the change")]
    PoliciesChanged { expected: u64, current: u64 },
    /// The request's credential is missing, malformed, expired, revoked or not trusted.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// The principal may not do this (not in the domain, not an admin, a read-only token).
    #[error("'{principal}' may not {action}: {reason}")]
    Forbidden { principal: String, action: String, reason: String },
    /// Reading a product's data needs a grant the principal does not hold.
    #[error(
        "'{principal}' has no grant on data product '{product}': request access (POST /api/v1/products/{product}/access-requests) \
         and wait for its owners to approve"
    )]
    NotGranted { principal: String, product: String },
    /// No user or service account of that name.
    #[error("no user or service account '{0}'")]
    UserNotFound(String),
    /// No webhook subscription of that id (or not the caller's).
    #[error("no webhook '{0}'")]
    WebhookNotFound(String),
    /// No API token of that id.
    #[error("no API token '{0}'")]
    TokenNotFound(String),
    /// A failure inside the platform that is not the caller's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The first broken record as [`MeshError::InvalidRecord`] words it, then how many more there are.
fn records_break_rules(topic: &str, total: usize, records: &[crate::contracts::RecordViolations]) -> String {
    let Some(first) = records.first() else { return format!("records of topic '{topic}' break its rules") };
    let mut text = String::new();
    for (n, violation) in first.violations.iter().enumerate() {
        let field = violation.field.as_deref().unwrap_or("value");
        let rule = if violation.rule == "schema" { String::new() } else { format!(" (rule {})", violation.rule) };
        let sep = if n == 0 { "" } else { "; " };
        text.push_str(&format!("{sep}invalid record at [{}].{field}: {}{rule}", first.index, violation.reason));
    }
    if records.len() > 1 {
        text.push_str(&format!(
            "; {} more of the {total} records break the rules of topic '{topic}' (each is listed under `records`); nothing was written",
            records.len() - 1
        ));
    }
    text
}

/// Result alias of this crate.
pub type Result<T, E = MeshError> = std::result::Result<T, E>;
