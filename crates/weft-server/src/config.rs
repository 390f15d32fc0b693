//! The server's one configuration struct and where its values come from.
//!
//! Each setting is taken from the first source that gives it: command-line flags, then the environment
//! (`WEFT_*`), then the TOML file (`--config weft.toml`), then the defaults. Every source is first read
//! into a [`ConfigLayer`] (all fields optional) so that the precedence is one function,
//! [`ServerConfig::resolve`], and each source can be tested alone.
//!
//! The file's keys, with the environment variable of each:
//!
//! ```toml
//! data_dir = "weft-data"            # WEFT_DATA_DIR
//! listen = "127.0.0.1:8080"         # WEFT_LISTEN
//! fsync = "batch"                   # WEFT_FSYNC: "batch" (fsync every append) or a group commit interval in ms
//! max_body_bytes = 8388608          # WEFT_MAX_BODY_BYTES
//! max_records_per_request = 10000   # WEFT_MAX_RECORDS_PER_REQUEST
//! log_format = "text"               # WEFT_LOG_FORMAT: "text" or "json"
//! max_connections = 1024            # WEFT_MAX_CONNECTIONS
//! header_timeout_ms = 15000         # WEFT_HEADER_TIMEOUT_MS
//! max_pull_rows = 100000            # WEFT_MAX_PULL_ROWS
//! max_pull_bytes = 67108864         # WEFT_MAX_PULL_BYTES
//! profile_snapshot_ms = 30000       # WEFT_PROFILE_SNAPSHOT_MS
//! auth = "tokens"                   # WEFT_AUTH: "tokens" (API tokens, and OIDC when an issuer is set) or "none"
//! insecure_dev = false              # WEFT_INSECURE_DEV: allow auth = "none" on a non-loopback address
//! allowed_hosts = ["weft.example.com"]  # WEFT_ALLOWED_HOSTS (comma-separated): Host names served
//! oidc_issuer = "https://login.example.com/realms/acme"   # WEFT_OIDC_ISSUER
//! oidc_audience = "weft"            # WEFT_OIDC_AUDIENCE
//! oidc_jwks_url = "https://login.example.com/realms/acme/protocol/openid-connect/certs"  # WEFT_OIDC_JWKS_URL
//! oidc_user_claim = "preferred_username"  # WEFT_OIDC_USER_CLAIM (default sub)
//! oidc_groups_claim = "groups"      # WEFT_OIDC_GROUPS_CLAIM (default groups)
//! rate_limit = 1000                # WEFT_RATE_LIMIT: requests per second per signed-in principal (0: off)
//! tls_cert = "/etc/weft/cert.pem"   # WEFT_TLS_CERT: serve HTTPS with this certificate chain (PEM)
//! tls_key = "/etc/weft/key.pem"     # WEFT_TLS_KEY: and this private key (PEM: PKCS#8, PKCS#1 or SEC1)
//! json_schema_format = "assert"     # WEFT_JSON_SCHEMA_FORMAT: "assert" (every draft, as Confluent) or "specification"
//!
//! # The mesh on a Kafka cluster instead of the data directory (`weft serve --kafka BOOTSTRAP`, a binary
//! # built with the `kafka` feature). `config` holds librdkafka properties, passed through as given
//! # (`--kafka-config KEY=VALUE` adds to them and wins); librdkafka refuses a property it does not know.
//! [kafka]
//! bootstrap = "broker-1:9092,broker-2:9092"    # WEFT_KAFKA
//! config = { "security.protocol" = "SASL_SSL", "sasl.mechanism" = "PLAIN" }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use weft_mesh::log::{Durability, LogOptions};
use weft_mesh::registry::json_schema::FormatMode;

use crate::ServerError;

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where the embedded log keeps its files.
    pub data_dir: PathBuf,
    /// The address to listen on; port 0 picks a free port (see [`crate::Server::local_addr`]).
    pub listen: SocketAddr,
    pub fsync: FsyncPolicy,
    /// The largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// The most records one produce request may carry.
    pub max_records_per_request: usize,
    /// How log lines are written: human-readable text, or one JSON object per line.
    pub log_format: LogFormat,
    /// Connections served at once; past it a new connection gets 503 and is closed.
    pub max_connections: usize,
    /// Milliseconds a client may take to send a request's headers, or sit idle between requests,
    /// before its connection is closed.
    pub header_timeout_ms: u64,
    /// The most rows a SQL pull query answers; past it the query fails, saying so.
    pub max_pull_rows: usize,
    /// The most bytes (as JSON) a SQL pull query answers; past it the query fails, saying so.
    pub max_pull_bytes: usize,
    /// Milliseconds between snapshots of a live profile that changed (they are also taken after
    /// 100,000 records and on shutdown; a start reads the records after the last one).
    pub profile_snapshot_ms: u64,
    /// How callers prove who they are.
    pub auth: AuthMode,
    /// With `auth = none`, serve on an address other than loopback anyway (a development machine
    /// shared on purpose; everyone who reaches the port is whoever they claim to be).
    pub insecure_dev: bool,
    /// The `Host` names requests may carry (DNS rebinding protection). Empty: the loopback names, the
    /// listen address, and with authentication on and a wildcard listen address, any name.
    pub allowed_hosts: Vec<String>,
    /// An OpenID Connect issuer whose JWTs are accepted as bearer tokens.
    pub oidc: Option<OidcConfig>,
    /// Milliseconds before a failed webhook delivery's first retry (doubled for each next one).
    pub webhook_retry_ms: u64,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Requests per second one signed-in principal may make (bursts up to twice that); 0: no limit.
    pub rate_limit: u32,
    /// Whether JSON Schema `format` asserts under every draft (Confluent's behaviour, the default) or
    /// as the specification says (an annotation from 2019-09 on).
    pub json_schema_format: FormatMode,
    /// Run the mesh on this Kafka cluster rather than the embedded log in `data_dir` (opened by a
    /// binary built with Kafka support; the server itself only carries the settings).
    pub kafka: Option<KafkaSettings>,
}

/// Where the Kafka cluster is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub bootstrap: String,
    /// librdkafka properties of every client (`security.protocol`, `sasl.*`, `ssl.*`, ...), as given.
    pub config: BTreeMap<String, String>,
}

/// The `[kafka]` section of one source: the bootstrap servers and librdkafka properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaLayer {
    pub bootstrap: Option<String>,
    #[serde(default)]
    pub config: BTreeMap<String, KafkaProperty>,
}

impl KafkaLayer {
    /// Each property from `self` when it has one, else from `lower`.
    fn or(self, lower: KafkaLayer) -> KafkaLayer {
        let mut config = lower.config;
        config.extend(self.config);
        KafkaLayer { bootstrap: self.bootstrap.or(lower.bootstrap), config }
    }
}

/// A librdkafka property's value: librdkafka takes text, and a TOML file may write `linger.ms = 5`
/// or `enable.idempotence = true` without quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaProperty(pub String);

impl<'de> Deserialize<'de> for KafkaProperty {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Integer(i64),
            Boolean(bool),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("a librdkafka property is a string, an integer or a boolean"))?
        {
            Raw::Text(text) => Ok(KafkaProperty(text)),
            Raw::Integer(n) => Ok(KafkaProperty(n.to_string())),
            Raw::Boolean(b) => Ok(KafkaProperty(b.to_string())),
        }
    }
}

/// Where the server's certificate chain and private key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the server authenticates its callers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// API tokens (and OpenID Connect JWTs when an issuer is configured); authorization enforced.
    #[default]
    Tokens,
    /// No authentication: a client is whoever `X-Weft-Actor` names, with every right. Loopback only
    /// unless `insecure_dev`.
    None,
}

impl FromStr for AuthMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tokens" | "token" => Ok(AuthMode::Tokens),
            "none" => Ok(AuthMode::None),
            other => Err(format!("'{other}' is not an auth mode: use tokens or none")),
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMode::Tokens => "tokens",
            AuthMode::None => "none",
        })
    }
}

/// The OpenID Connect issuer the server trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    /// Where the issuer's keys are; default: the issuer's discovery document's `jwks_uri`.
    pub jwks_url: Option<String>,
    pub user_claim: String,
    pub groups_claim: String,
    /// The least time between two fetches of the issuer's keys (a token naming an unknown key fetches
    /// them again: the issuer rotated its keys).
    pub keys_refresh_ms: u64,
}

/// How the server writes its log lines (one per request, one per change, warnings and errors).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("'{other}' is not a log format: use text or json")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

impl ServerConfig {
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_DATA_DIR: &'static str = "weft-data";
    pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
    pub const DEFAULT_MAX_RECORDS_PER_REQUEST: usize = 10_000;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 15_000;
    pub const DEFAULT_PROFILE_SNAPSHOT_MS: u64 = 30_000;
    pub const DEFAULT_RATE_LIMIT: u32 = 1000;

    /// A configuration with defaults for everything but the data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            fsync: FsyncPolicy::default(),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_records_per_request: Self::DEFAULT_MAX_RECORDS_PER_REQUEST,
            log_format: LogFormat::default(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout_ms: Self::DEFAULT_HEADER_TIMEOUT_MS,
            max_pull_rows: weft_mesh::weft_sql::engine::DEFAULT_MAX_PULL_ROWS,
            max_pull_bytes: weft_mesh::weft_sql::engine::DEFAULT_MAX_PULL_BYTES,
            profile_snapshot_ms: Self::DEFAULT_PROFILE_SNAPSHOT_MS,
            auth: AuthMode::default(),
            insecure_dev: false,
            allowed_hosts: Vec::new(),
            oidc: None,
            webhook_retry_ms: 1000,
            tls: None,
            rate_limit: Self::DEFAULT_RATE_LIMIT,
            json_schema_format: FormatMode::default(),
            kafka: None,
        }
    }

    /// Merges the sources, highest precedence first: `flags`, then `env`, then the file named by
    /// `flags.config` or `env.config` (when any), then the defaults.
    pub fn resolve(flags: ConfigLayer, env: ConfigLayer) -> Result<Self, ServerError> {
        let file = match flags.config.as_ref().or(env.config.as_ref()) {
            Some(path) => ConfigLayer::from_file(path)?,
            None => ConfigLayer::default(),
        };
        let merged = flags.or(env).or(file);
        let defaults = ServerConfig::new(Self::DEFAULT_DATA_DIR);
        let config = ServerConfig {
            data_dir: merged.data_dir.unwrap_or(defaults.data_dir),
            listen: merged.listen.unwrap_or(defaults.listen),
            fsync: merged.fsync.unwrap_or(defaults.fsync),
            max_body_bytes: merged.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_records_per_request: merged.max_records_per_request.unwrap_or(defaults.max_records_per_request),
            log_format: merged.log_format.unwrap_or(defaults.log_format),
            max_connections: merged.max_connections.unwrap_or(defaults.max_connections),
            header_timeout_ms: merged.header_timeout_ms.unwrap_or(defaults.header_timeout_ms),
            max_pull_rows: merged.max_pull_rows.unwrap_or(defaults.max_pull_rows),
            max_pull_bytes: merged.max_pull_bytes.unwrap_or(defaults.max_pull_bytes),
            profile_snapshot_ms: merged.profile_snapshot_ms.unwrap_or(defaults.profile_snapshot_ms),
            auth: merged.auth.unwrap_or(defaults.auth),
            insecure_dev: merged.insecure_dev.unwrap_or(false),
            allowed_hosts: merged.allowed_hosts.unwrap_or_default(),
            webhook_retry_ms: defaults.webhook_retry_ms,
            rate_limit: merged.rate_limit.unwrap_or(defaults.rate_limit),
            tls: match (merged.tls_cert, merged.tls_key) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => return Err(ServerError::Config("tls_cert and tls_key: give both, or neither".into())),
            },
            oidc: match (merged.oidc_issuer, merged.oidc_audience) {
                (None, None) => None,
                (Some(issuer), Some(audience)) => Some(OidcConfig {
                    issuer,
                    audience,
                    jwks_url: merged.oidc_jwks_url,
                    user_claim: merged.oidc_user_claim.unwrap_or_else(|| "sub".to_string()),
                    groups_claim: merged.oidc_groups_claim.unwrap_or_else(|| "groups".to_string()),
                    keys_refresh_ms: 5000,
                }),
                _ => {
                    return Err(ServerError::Config(
                        "oidc_issuer and oidc_audience: give both (the issuer's JWTs must name Weft as audience)"
                            .into(),
                    ))
                }
            },
            json_schema_format: merged.json_schema_format.unwrap_or(defaults.json_schema_format),
            kafka: match merged.kafka {
                None => None,
                Some(KafkaLayer { bootstrap: Some(bootstrap), config }) if !bootstrap.trim().is_empty() => {
                    Some(KafkaSettings {
                        bootstrap: bootstrap.trim().to_string(),
                        config: config.into_iter().map(|(key, value)| (key, value.0)).collect(),
                    })
                }
                Some(KafkaLayer { bootstrap: Some(_), .. }) => {
                    return Err(ServerError::Config("kafka.bootstrap: must name at least one host:port".into()))
                }
                Some(KafkaLayer { bootstrap: None, config }) => {
                    let keys: Vec<&str> = config.keys().map(String::as_str).collect();
                    return Err(ServerError::Config(format!(
                        "kafka.config ({}) is set but kafka.bootstrap is not: name the cluster \
                         (--kafka BOOTSTRAP, WEFT_KAFKA or kafka.bootstrap in the file)",
                        keys.join(", ")
                    )));
                }
            },
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ServerError> {
        let invalid = |key: &str, reason: &str| ServerError::Config(format!("{key}: {reason}"));
        if self.max_body_bytes == 0 {
            return Err(invalid("max_body_bytes", "must be at least 1"));
        }
        if self.max_records_per_request == 0 {
            return Err(invalid("max_records_per_request", "must be at least 1"));
        }
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        if self.header_timeout_ms == 0 {
            return Err(invalid("header_timeout_ms", "must be at least 1"));
        }
        if self.max_pull_rows == 0 {
            return Err(invalid("max_pull_rows", "must be at least 1"));
        }
        if self.max_pull_bytes == 0 {
            return Err(invalid("max_pull_bytes", "must be at least 1"));
        }
        if self.profile_snapshot_ms == 0 {
            return Err(invalid("profile_snapshot_ms", "must be at least 1"));
        }
        if self.auth == AuthMode::None && !self.listen.ip().is_loopback() && !self.insecure_dev {
            return Err(invalid(
                "auth",
                &format!(
                    "without authentication (auth = none) weft serves loopback only, and {} is not loopback: \
                     listen on 127.0.0.1, turn authentication on (auth = tokens), or pass --insecure-dev to \
                     let everyone who reaches the port act as anyone",
                    self.listen
                ),
            ));
        }
        if self.oidc.is_some() && self.auth == AuthMode::None {
            return Err(invalid("oidc_issuer", "OpenID Connect needs auth = tokens"));
        }
        for host in &self.allowed_hosts {
            if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
                return Err(invalid("allowed_hosts", &format!("'{host}' is not a host name")));
            }
        }
        Ok(())
    }

    /// The options the embedded log is opened with.
    pub fn log_options(&self) -> LogOptions {
        let mut options = LogOptions::new(&self.data_dir);
        options.durability = self.fsync.durability();
        options
    }
}

/// When an append is made durable (the log's [`Durability`] as configured by people).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fsync = "batch"`: every append is fsynced before it is acknowledged.
    EveryBatch,
    /// `fsync = 5` (milliseconds): appends wait for a shared fsync that runs at this interval.
    GroupCommit { interval_ms: u64 },
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::GroupCommit { interval_ms: 5 }
    }
}

impl FsyncPolicy {
    pub fn durability(self) -> Durability {
        match self {
            FsyncPolicy::EveryBatch => Durability::EveryBatch,
            FsyncPolicy::GroupCommit { interval_ms } => {
                Durability::GroupCommit { interval: Duration::from_millis(interval_ms) }
            }
        }
    }
}

impl FromStr for FsyncPolicy {
    type Err = String;

    /// `batch`, or a group commit interval in milliseconds (`5` or `5ms`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("batch") {
            return Ok(FsyncPolicy::EveryBatch);
        }
        let digits = s.strip_suffix("ms").unwrap_or(s).trim();
        match digits.parse::<u64>() {
            Ok(interval_ms) if interval_ms > 0 => Ok(FsyncPolicy::GroupCommit { interval_ms }),
            _ => Err(format!(
                "invalid fsync policy '{s}': expected \"batch\" or a group commit interval in milliseconds (1 or more)"
            )),
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::EveryBatch => f.write_str("batch"),
            FsyncPolicy::GroupCommit { interval_ms } => write!(f, "{interval_ms}ms"),
        }
    }
}

impl<'de> Deserialize<'de> for FsyncPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected \"batch\" or a number of milliseconds"))?
        {
            Raw::Millis(ms) => format!("{ms}").parse(),
            Raw::Text(text) => text.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The settings one source gives; `None` means "this source does not say".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// The TOML file to read (from `--config` or `WEFT_CONFIG`; never read from a file itself).
    #[serde(skip)]
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub fsync: Option<FsyncPolicy>,
    pub max_body_bytes: Option<usize>,
    pub max_records_per_request: Option<usize>,
    pub log_format: Option<LogFormat>,
    pub max_connections: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub max_pull_rows: Option<usize>,
    pub max_pull_bytes: Option<usize>,
    pub profile_snapshot_ms: Option<u64>,
    pub auth: Option<AuthMode>,
    pub insecure_dev: Option<bool>,
    pub allowed_hosts: Option<Vec<String>>,
    pub oidc_issuer: Option<String>,
    pub oidc_audience: Option<String>,
    pub oidc_jwks_url: Option<String>,
    pub oidc_user_claim: Option<String>,
    pub oidc_groups_claim: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub rate_limit: Option<u32>,
    pub json_schema_format: Option<FormatMode>,
    pub kafka: Option<KafkaLayer>,
}

impl ConfigLayer {
    /// Reads `WEFT_CONFIG`, `WEFT_DATA_DIR`, `WEFT_LISTEN`, `WEFT_FSYNC`, `WEFT_MAX_BODY_BYTES`,
    /// `WEFT_MAX_RECORDS_PER_REQUEST`, `WEFT_LOG_FORMAT`, `WEFT_MAX_CONNECTIONS`,
    /// `WEFT_HEADER_TIMEOUT_MS`, `WEFT_MAX_PULL_ROWS`, `WEFT_MAX_PULL_BYTES`,
    /// `WEFT_PROFILE_SNAPSHOT_MS`, `WEFT_JSON_SCHEMA_FORMAT` and `WEFT_KAFKA` (the bootstrap servers) from
    /// the process environment.
    pub fn from_env() -> Result<Self, ServerError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`ConfigLayer::from_env`], with the variables looked up by `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ServerError> {
        fn parse<T: FromStr>(name: &str, value: Option<String>) -> Result<Option<T>, ServerError>
        where
            T::Err: fmt::Display,
        {
            value
                .filter(|v| !v.is_empty())
                .map(|v| v.parse::<T>().map_err(|e| ServerError::Config(format!("environment variable {name}: {e}"))))
                .transpose()
        }
        Ok(ConfigLayer {
            config: var("WEFT_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from),
            data_dir: var("WEFT_DATA_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
            listen: parse("WEFT_LISTEN", var("WEFT_LISTEN"))?,
            fsync: parse("WEFT_FSYNC", var("WEFT_FSYNC"))?,
            max_body_bytes: parse("WEFT_MAX_BODY_BYTES", var("WEFT_MAX_BODY_BYTES"))?,
            max_records_per_request: parse("WEFT_MAX_RECORDS_PER_REQUEST", var("WEFT_MAX_RECORDS_PER_REQUEST"))?,
            log_format: parse("WEFT_LOG_FORMAT", var("WEFT_LOG_FORMAT"))?,
            max_connections: parse("WEFT_MAX_CONNECTIONS", var("WEFT_MAX_CONNECTIONS"))?,
            header_timeout_ms: parse("WEFT_HEADER_TIMEOUT_MS", var("WEFT_HEADER_TIMEOUT_MS"))?,
            max_pull_rows: parse("WEFT_MAX_PULL_ROWS", var("WEFT_MAX_PULL_ROWS"))?,
            max_pull_bytes: parse("WEFT_MAX_PULL_BYTES", var("WEFT_MAX_PULL_BYTES"))?,
            profile_snapshot_ms: parse("WEFT_PROFILE_SNAPSHOT_MS", var("WEFT_PROFILE_SNAPSHOT_MS"))?,
            auth: parse("WEFT_AUTH", var("WEFT_AUTH"))?,
            insecure_dev: parse("WEFT_INSECURE_DEV", var("WEFT_INSECURE_DEV"))?,
            allowed_hosts: var("WEFT_ALLOWED_HOSTS")
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.split(',').map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect()),
            oidc_issuer: var("WEFT_OIDC_ISSUER").filter(|v| !v.is_empty()),
            oidc_audience: var("WEFT_OIDC_AUDIENCE").filter(|v| !v.is_empty()),
            oidc_jwks_url: var("WEFT_OIDC_JWKS_URL").filter(|v| !v.is_empty()),
            oidc_user_claim: var("WEFT_OIDC_USER_CLAIM").filter(|v| !v.is_empty()),
            oidc_groups_claim: var("WEFT_OIDC_GROUPS_CLAIM").filter(|v| !v.is_empty()),
            tls_cert: var("WEFT_TLS_CERT").filter(|v| !v.is_empty()).map(PathBuf::from),
            tls_key: var("WEFT_TLS_KEY").filter(|v| !v.is_empty()).map(PathBuf::from),
            rate_limit: parse("WEFT_RATE_LIMIT", var("WEFT_RATE_LIMIT"))?,
            json_schema_format: parse("WEFT_JSON_SCHEMA_FORMAT", var("WEFT_JSON_SCHEMA_FORMAT"))?,
            kafka: var("WEFT_KAFKA")
                .filter(|v| !v.trim().is_empty())
                .map(|bootstrap| KafkaLayer { bootstrap: Some(bootstrap), config: BTreeMap::new() }),
        })
    }

    /// Reads a TOML file; unknown keys and bad values are errors that name the key and the line.
    pub fn from_file(path: &Path) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read config file {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ServerError::Config(format!("config file {}: {e}", path.display())))
    }

    /// Parses the file format (see the module documentation).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str::<ConfigLayer>(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// Each setting from `self` when it has one, else from `lower`.
    pub fn or(self, lower: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            config: self.config.or(lower.config),
            data_dir: self.data_dir.or(lower.data_dir),
            listen: self.listen.or(lower.listen),
            fsync: self.fsync.or(lower.fsync),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            max_records_per_request: self.max_records_per_request.or(lower.max_records_per_request),
            log_format: self.log_format.or(lower.log_format),
            max_connections: self.max_connections.or(lower.max_connections),
            header_timeout_ms: self.header_timeout_ms.or(lower.header_timeout_ms),
            max_pull_rows: self.max_pull_rows.or(lower.max_pull_rows),
            max_pull_bytes: self.max_pull_bytes.or(lower.max_pull_bytes),
            profile_snapshot_ms: self.profile_snapshot_ms.or(lower.profile_snapshot_ms),
            auth: self.auth.or(lower.auth),
            insecure_dev: self.insecure_dev.or(lower.insecure_dev),
            allowed_hosts: self.allowed_hosts.or(lower.allowed_hosts),
            oidc_issuer: self.oidc_issuer.or(lower.oidc_issuer),
            oidc_audience: self.oidc_audience.or(lower.oidc_audience),
            oidc_jwks_url: self.oidc_jwks_url.or(lower.oidc_jwks_url),
            oidc_user_claim: self.oidc_user_claim.or(lower.oidc_user_claim),
            oidc_groups_claim: self.oidc_groups_claim.or(lower.oidc_groups_claim),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            rate_limit: self.rate_limit.or(lower.rate_limit),
            json_schema_format: self.json_schema_format.or(lower.json_schema_format),
            kafka: match (self.kafka, lower.kafka) {
                (Some(upper), Some(lower)) => Some(upper.or(lower)),
                (upper, lower) => upper.or(lower),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policy_parses_batch_and_intervals() {
        assert_eq!("batch".parse::<FsyncPolicy>(), Ok(FsyncPolicy::EveryBatch));
        assert_eq!("10".parse::<FsyncPolicy>(), Ok(FsyncPolicy::GroupCommit { interval_ms: 10 }));
        assert_eq!("10ms".parse::<FsyncPolicy>(), Ok(FsyncPolicy::GroupCommit { interval_ms: 10 }));
        assert!("0".parse::<FsyncPolicy>().is_err());
        assert!("sometimes".parse::<FsyncPolicy>().unwrap_err().contains("batch"));
        assert_eq!(
            FsyncPolicy::GroupCommit { interval_ms: 3 }.durability(),
            Durability::GroupCommit { interval: Duration::from_millis(3) }
        );
    }

    #[test]
    fn file_layer_reads_every_key() {
        let layer = ConfigLayer::from_toml(
            "data_dir = \"/d\"\nlisten = \"0.0.0.0:9000\"\nfsync = 20\nmax_body_bytes = 1000\nmax_records_per_request = 7\n\
             log_format = \"json\"\nmax_connections = 50\nheader_timeout_ms = 2000\n",
        )
        .unwrap();
        assert_eq!(layer.log_format, Some(LogFormat::Json));
        assert_eq!((layer.max_connections, layer.header_timeout_ms), (Some(50), Some(2000)));
        assert_eq!(layer.data_dir, Some(PathBuf::from("/d")));
        assert_eq!(layer.listen, Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(layer.fsync, Some(FsyncPolicy::GroupCommit { interval_ms: 20 }));
        assert_eq!(layer.max_body_bytes, Some(1000));
        assert_eq!(layer.max_records_per_request, Some(7));
        assert_eq!(ConfigLayer::from_toml("fsync = \"batch\"").unwrap().fsync, Some(FsyncPolicy::EveryBatch));
    }

    #[test]
    fn unknown_file_key_names_key_and_line() {
        let err = ConfigLayer::from_toml("listen = \"127.0.0.1:1\"\n\ncolour = \"red\"\n").unwrap_err();
        assert!(err.contains("colour"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let err = ConfigLayer::from_toml("fsync = \"often\"\n").unwrap_err();
        assert!(err.contains("line 1") && err.contains("batch"), "{err}");
    }

    #[test]
    fn the_kafka_section_names_the_cluster_and_passes_properties_through() {
        let text = "listen = \"127.0.0.1:1\"\n\n[kafka]\nbootstrap = \" b1:9092,b2:9092 \"\n\
                    config = { \"security.protocol\" = \"SASL_SSL\", \"linger.ms\" = 5, \"enable.idempotence\" = true }\n";
        let config = ServerConfig::resolve(ConfigLayer::from_toml(text).unwrap(), ConfigLayer::default()).unwrap();
        let kafka = config.kafka.expect("a Kafka cluster");
        assert_eq!(kafka.bootstrap, "b1:9092,b2:9092");
        let properties: Vec<(&str, &str)> = kafka.config.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(properties, [("enable.idempotence", "true"), ("linger.ms", "5"), ("security.protocol", "SASL_SSL")]);
        // Without the section, the embedded log.
        let config = ServerConfig::resolve(ConfigLayer::default(), ConfigLayer::default()).unwrap();
        assert_eq!(config.kafka, None);
    }

    #[test]
    fn the_kafka_section_refuses_unknown_keys_and_values_naming_the_line() {
        let err = ConfigLayer::from_toml("[kafka]\nbootstrap = \"b:9092\"\nbrokers = \"b:9092\"\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("brokers"), "{err}");
        assert!(err.contains("bootstrap") && err.contains("config"), "the keys it knows: {err}");
        let err =
            ConfigLayer::from_toml("[kafka]\nbootstrap = \"b:9092\"\n[kafka.config]\n\"acks\" = [1]\n").unwrap_err();
        assert!(err.contains("line 4") && err.contains("a string, an integer or a boolean"), "{err}");
        let err = ConfigLayer::from_toml("[kafka]\nbootstrap = 9092\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        // Properties without a cluster, and an empty cluster, are refused by name.
        let file = ConfigLayer::from_toml("[kafka.config]\n\"security.protocol\" = \"SSL\"\n").unwrap();
        let err = ServerConfig::resolve(file, ConfigLayer::default()).unwrap_err().to_string();
        assert!(err.contains("kafka.config (security.protocol)") && err.contains("kafka.bootstrap"), "{err}");
        let file = ConfigLayer::from_toml("[kafka]\nbootstrap = \" \"\n").unwrap();
        let err = ServerConfig::resolve(file, ConfigLayer::default()).unwrap_err().to_string();
        assert!(err.contains("kafka.bootstrap"), "{err}");
    }

    #[test]
    fn kafka_flags_beat_env_beat_file_property_by_property() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("weft.toml");
        std::fs::write(
            &file,
            "[kafka]\nbootstrap = \"file:9092\"\nconfig = { \"client.id\" = \"from-file\", \"linger.ms\" = \"7\" }\n",
        )
        .unwrap();
        let file_name = file.to_string_lossy().into_owned();
        let layer = |bootstrap: Option<&str>, config: &[(&str, &str)]| KafkaLayer {
            bootstrap: bootstrap.map(str::to_string),
            config: config.iter().map(|(k, v)| (k.to_string(), KafkaProperty(v.to_string()))).collect(),
        };
        let env = ConfigLayer::from_vars(|name| match name {
            "WEFT_CONFIG" => Some(file_name.clone()),
            "WEFT_KAFKA" => Some("env:9092".to_string()),
            _ => None,
        })
        .unwrap();
        let flags = ConfigLayer { kafka: Some(layer(None, &[("client.id", "from-flag")])), ..ConfigLayer::default() };
        let kafka = ServerConfig::resolve(flags, env.clone()).unwrap().kafka.unwrap();
        assert_eq!(kafka.bootstrap, "env:9092");
        assert_eq!(kafka.config["client.id"], "from-flag");
        assert_eq!(kafka.config["linger.ms"], "7", "the file's other property stays");
        let flags = ConfigLayer { kafka: Some(layer(Some("flag:9092"), &[])), ..ConfigLayer::default() };
        let kafka = ServerConfig::resolve(flags, env).unwrap().kafka.unwrap();
        assert_eq!((kafka.bootstrap.as_str(), kafka.config["client.id"].as_str()), ("flag:9092", "from-file"));
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("weft.toml");
        std::fs::write(&file, "data_dir = \"/from-file\"\nlisten = \"127.0.0.1:3\"\nfsync = 9\nmax_body_bytes = 33\n")
            .unwrap();
        let file_name = file.to_string_lossy().into_owned();
        let env = ConfigLayer::from_vars(|name| match name {
            "WEFT_CONFIG" => Some(file_name.clone()),
            "WEFT_LISTEN" => Some("127.0.0.1:2".into()),
            "WEFT_FSYNC" => Some("batch".into()),
            _ => None,
        })
        .unwrap();
        let flags = ConfigLayer { listen: Some("127.0.0.1:1".parse().unwrap()), ..ConfigLayer::default() };
        let config = ServerConfig::resolve(flags, env.clone()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:1".parse().unwrap());
        assert_eq!(config.fsync, FsyncPolicy::EveryBatch);
        assert_eq!(config.data_dir, PathBuf::from("/from-file"));
        assert_eq!(config.max_body_bytes, 33);
        assert_eq!(config.max_records_per_request, ServerConfig::DEFAULT_MAX_RECORDS_PER_REQUEST);

        let config = ServerConfig::resolve(ConfigLayer::default(), env).unwrap();
        assert_eq!(config.listen, "127.0.0.1:2".parse().unwrap());

        let defaults = ServerConfig::resolve(ConfigLayer::default(), ConfigLayer::default()).unwrap();
        assert_eq!(defaults, ServerConfig::new(ServerConfig::DEFAULT_DATA_DIR));
        assert_eq!(defaults.listen.to_string(), ServerConfig::DEFAULT_LISTEN);
    }

    #[test]
    fn the_profile_snapshot_interval_comes_from_each_source_and_is_positive() {
        assert_eq!(ConfigLayer::from_toml("profile_snapshot_ms = 250").unwrap().profile_snapshot_ms, Some(250));
        let env =
            ConfigLayer::from_vars(|name| (name == "WEFT_PROFILE_SNAPSHOT_MS").then(|| "500".to_string())).unwrap();
        assert_eq!(ServerConfig::resolve(ConfigLayer::default(), env).unwrap().profile_snapshot_ms, 500);
        let zero = ConfigLayer { profile_snapshot_ms: Some(0), ..ConfigLayer::default() };
        let err = ServerConfig::resolve(zero, ConfigLayer::default()).unwrap_err();
        assert!(err.to_string().contains("profile_snapshot_ms"), "{err}");
    }

    #[test]
    fn the_json_schema_format_mode_comes_from_each_source() {
        assert_eq!(ServerConfig::new("d").json_schema_format, FormatMode::Assert);
        let file = ConfigLayer::from_toml("json_schema_format = \"specification\"").unwrap();
        assert_eq!(file.json_schema_format, Some(FormatMode::Specification));
        let env = ConfigLayer::from_vars(|name| (name == "WEFT_JSON_SCHEMA_FORMAT").then(|| "Specification".into()));
        let config = ServerConfig::resolve(ConfigLayer::default(), env.unwrap()).unwrap();
        assert_eq!(config.json_schema_format, FormatMode::Specification);
        let err = ConfigLayer::from_toml("json_schema_format = \"sometimes\"").unwrap_err();
        assert!(err.contains("line 1") && err.contains("specification"), "{err}");
        let err = ConfigLayer::from_vars(|name| (name == "WEFT_JSON_SCHEMA_FORMAT").then(|| "no".into())).unwrap_err();
        assert!(err.to_string().contains("WEFT_JSON_SCHEMA_FORMAT") && err.to_string().contains("assert"), "{err}");
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        let err = ConfigLayer::from_vars(|name| (name == "WEFT_LISTEN").then(|| "nowhere".to_string())).unwrap_err();
        assert!(err.to_string().contains("WEFT_LISTEN"), "{err}");
    }
}
