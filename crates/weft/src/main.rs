//! `weft`: runs the Weft server, and works with a running one over its REST API.

mod access;
mod client;
#[cfg(feature = "kafka")]
mod cluster;
mod consume;
mod contract;
mod dead_letters;
mod demo;
mod domain;
#[cfg(feature = "kafka")]
mod kafka;
mod policy;
mod produce;
mod product;
mod schema;
mod security;
mod sql;
mod time;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use weft_mesh::registry::json_schema::FormatMode;
use weft_server::{ConfigLayer, FsyncPolicy, LogFormat, Server, ServerConfig};

use crate::client::{array, encode, Client};

// Records, rows and requests are many small short-lived allocations, spread over the server's
// worker threads; glibc's malloc spent about a third of a persistent query's CPU on them (perf,
// the EMIT CHANGES workload of scripts/bench-vs-flink), mimalloc's thread-local pages far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::consume::Start;
use crate::produce::LineFormat;

extern "C" {
    // mimalloc.h (v3, the version the mimalloc crate builds by default): an option at run time.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}
/// `mi_option_purge_delay` in mimalloc.h's `mi_option_t` (the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
/// How long memory mimalloc freed waits before it goes back to the OS.
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// mimalloc gives freed memory back to the OS ("purges" it) once its purge delay (1 s) has passed
/// since the first of it was freed, and then all that is free at once, including what was freed a
/// moment before. A server under load allocates that memory again at once, and the kernel zeroes
/// every page of it again (2 MiB a fault where transparent huge pages back it). REST ingestion of
/// 1,000-record requests (`produce_http -- ingest` against `weft serve`) took 0.7 to 1.2 page
/// faults per request with the default and 0.1 with 10 s, and 8 to 17% less CPU per record
/// (medians of two sittings); persistent queries (`weft-sql`'s `sql -- end_to_end`) were no
/// slower. Memory freed after a burst still goes back, 10 s later. `MIMALLOC_PURGE_DELAY` set by
/// the operator wins.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's documented run-time setter; the option index is checked by a test.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

/// Weft: a data mesh platform in one binary.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about)]
struct Cli {
    /// The server to talk to.
    #[arg(long, global = true, env = "WEFT_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An API token to sign in with (from `weft token create`, or the one the server printed on its
    /// first start); sent as `Authorization: Bearer`.
    #[arg(long, global = true, env = "WEFT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// On a development server without authentication (`weft serve --auth none`): whom to act as.
    #[arg(long, global = true, env = "WEFT_ACTOR", default_value = "anonymous")]
    actor: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (flags beat WEFT_* environment variables, which beat the --config file).
    Serve(Box<ServeArgs>),
    /// Run the server with a live demo data mesh: five domains, products, SQL-derived products, generators.
    Demo(demo::DemoArgs),
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Produce JSON lines from a file or standard input.
    Produce(ProduceArgs),
    /// Print records as JSON lines.
    Consume(ConsumeArgs),
    /// Read and commit consumer group offsets.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Create, show, list, change and delete the catalog's domains.
    #[command(subcommand)]
    Domain(domain::DomainCommand),
    /// Data products: create, find, publish, deprecate, retire, lineage, export, apply ODPS files.
    #[command(subcommand)]
    Product(product::ProductCommand),
    /// Access to data products: request, list, approve, deny, revoke.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Data contracts (ODCS v3): apply, list, get, export, attach to a product's port, test against a
    /// product's data, diff two versions.
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// The platform's global governance policies: get, set from a YAML or JSON file (admins only).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// What a product's port does with records that break its rules, and its dead letters: list,
    /// replay after a fix, drop with a reason.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(dead_letters::DeadLetterCommand),
    /// Register, get, list and check schemas in the schema registry.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(security::TokenCommand),
    /// Users and service accounts, and their teams (platform admins change them).
    #[command(subcommand)]
    User(security::UserCommand),
    /// The audit log: every change and refused request, newest last; --follow for live entries.
    Audit(security::AuditArgs),
    /// Who the token signs in as.
    Whoami,
    /// Run ksqlDB statements (-f FILE or -e TEXT), stream one query (-e "SELECT ... EMIT CHANGES;"),
    /// or, with neither, an interactive prompt with history.
    Sql(sql::SqlArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Where the log keeps its data [env: WEFT_DATA_DIR] [default: weft-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run the mesh on this Kafka cluster (bootstrap servers, host:port[,host:port...]) instead of the
    /// embedded log in the data directory [env: WEFT_KAFKA] [config file: kafka.bootstrap].
    #[cfg(feature = "kafka")]
    #[arg(long, value_name = "BOOTSTRAP")]
    kafka: Option<String>,
    /// A librdkafka property of the Kafka clients, e.g. security.protocol=SASL_SSL (repeatable; added to
    /// the config file's kafka.config, winning over it).
    #[cfg(feature = "kafka")]
    #[arg(long = "kafka-config", value_name = "KEY=VALUE")]
    kafka_config: Vec<String>,
    /// On Kafka: the URL the other servers on the cluster reach this one at, to forward the
    /// mesh's ordered writes when it leads [default: http(s)://the listen address].
    #[cfg(feature = "kafka")]
    #[arg(long, value_name = "URL")]
    advertise_url: Option<String>,
    /// Address to listen on [env: WEFT_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A TOML configuration file [env: WEFT_CONFIG].
    #[arg(long)]
    config: Option<PathBuf>,
    /// "batch" to fsync every append, or a group commit interval in milliseconds [env: WEFT_FSYNC] [default: 5].
    #[arg(long)]
    fsync: Option<FsyncPolicy>,
    /// The largest request body accepted [env: WEFT_MAX_BODY_BYTES] [default: 8388608].
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// The most records one produce request may carry [env: WEFT_MAX_RECORDS_PER_REQUEST] [default: 10000].
    #[arg(long)]
    max_records_per_request: Option<usize>,
    /// Log lines as "text" or "json" (one object per line) [env: WEFT_LOG_FORMAT] [default: text]; levels
    /// come from WEFT_LOG (e.g. "info,weft::http=warn").
    #[arg(long)]
    log_format: Option<LogFormat>,
    /// Connections served at once; more get 503 [env: WEFT_MAX_CONNECTIONS] [default: 10000].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Milliseconds to send a request's headers, or to sit idle between requests, before the connection
    /// is closed [env: WEFT_HEADER_TIMEOUT_MS] [default: 15000].
    #[arg(long)]
    header_timeout_ms: Option<u64>,
    /// The most rows a SQL pull query answers [env: WEFT_MAX_PULL_ROWS] [default: 100000].
    #[arg(long)]
    max_pull_rows: Option<usize>,
    /// The most bytes (as JSON) a SQL pull query answers [env: WEFT_MAX_PULL_BYTES] [default: 67108864].
    #[arg(long)]
    max_pull_bytes: Option<usize>,
    /// Milliseconds between snapshots of a live profile that changed, kept in the log so a restart
    /// catches up from there [env: WEFT_PROFILE_SNAPSHOT_MS] [default: 30000].
    #[arg(long)]
    profile_snapshot_ms: Option<u64>,
    /// "tokens" (API tokens, and OIDC JWTs when an issuer is set) or "none" (development: callers are
    /// whoever X-Weft-Actor names; loopback only) [env: WEFT_AUTH] [default: tokens].
    #[arg(long)]
    auth: Option<weft_server::AuthMode>,
    /// With --auth none, serve a non-loopback address anyway: everyone who reaches it acts as anyone
    /// [env: WEFT_INSECURE_DEV].
    #[arg(long)]
    insecure_dev: bool,
    /// A Host name the server answers to besides the loopback names (repeatable) [env: WEFT_ALLOWED_HOSTS].
    #[arg(long = "allowed-host")]
    allowed_hosts: Vec<String>,
    /// Accept JWTs of this OpenID Connect issuer [env: WEFT_OIDC_ISSUER]; needs --oidc-audience.
    #[arg(long)]
    oidc_issuer: Option<String>,
    /// The audience the issuer's JWTs must name [env: WEFT_OIDC_AUDIENCE].
    #[arg(long)]
    oidc_audience: Option<String>,
    /// The issuer's JWKS URL (default: from its discovery document) [env: WEFT_OIDC_JWKS_URL].
    #[arg(long)]
    oidc_jwks_url: Option<String>,
    /// The claim naming the user [env: WEFT_OIDC_USER_CLAIM] [default: sub].
    #[arg(long)]
    oidc_user_claim: Option<String>,
    /// The claim listing the user's groups (teams) [env: WEFT_OIDC_GROUPS_CLAIM] [default: groups].
    #[arg(long)]
    oidc_groups_claim: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM) [env: WEFT_TLS_CERT]; needs --tls-key.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1) [env: WEFT_TLS_KEY].
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Requests per second per signed-in principal, 0 for no limit [env: WEFT_RATE_LIMIT] [default: 1000].
    #[arg(long)]
    rate_limit: Option<u32>,
    /// JSON Schema `format`: "assert" under every draft, as Confluent does, or as the "specification"
    /// says (an annotation from 2019-09 on) [env: WEFT_JSON_SCHEMA_FORMAT] [default: assert].
    #[arg(long)]
    json_schema_format: Option<FormatMode>,
}

#[derive(Debug, Subcommand)]
enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Kafka topic configuration, e.g. --config retention.ms=86400000 (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        config: Vec<(String, String)>,
    },
    /// List topic names.
    List,
    /// Show a topic's partitions, offsets, sizes and configuration as JSON.
    Describe { name: String },
    /// Delete a topic and all its records.
    Delete { name: String },
}

#[derive(Debug, Args)]
struct ProduceArgs {
    topic: String,
    /// A JSON-lines file (standard input when absent or "-").
    #[arg(long)]
    file: Option<PathBuf>,
    /// Records per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Use this field of each value as the record key.
    #[arg(long, conflicts_with = "records")]
    key_field: Option<String>,
    /// Each line is a full record {"key", "value", "headers", "timestamp", "partition"} instead of a value.
    #[arg(long)]
    records: bool,
}

#[derive(Debug, Args)]
struct ConsumeArgs {
    topic: String,
    /// Read one partition (all partitions when absent).
    #[arg(long)]
    partition: Option<u32>,
    /// earliest, latest, an offset (42), a cursor (0:12,1:40), a time (2026-12-06T23:00:00Z) or how long
    /// ago (15m, 2h, 1d) [default: earliest, or latest with --follow]; with --group, only where the group
    /// has committed nothing.
    #[arg(long)]
    from: Option<Start>,
    /// Stop after this many records.
    #[arg(long)]
    limit: Option<usize>,
    /// Keep printing records as they arrive.
    #[arg(long)]
    follow: bool,
    /// Read as this consumer group: resume where it committed, and commit as records are printed.
    #[arg(long)]
    group: Option<String>,
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Show a group's committed offsets as JSON.
    Offsets { group: String },
    /// Commit the next offset GROUP will read in TOPIC's PARTITION.
    Commit {
        group: String,
        topic: String,
        partition: u32,
        offset: u64,
        #[arg(long, default_value = "")]
        metadata: String,
    },
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, not '{s}'")),
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        // The failing checks were reported as the command's output.
        Err(error) if error.downcast_ref::<contract::ChecksFailed>().is_some() => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A reader that stopped reading our output (`weft consume ... | head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

fn run(cli: Cli) -> Result<()> {
    let client = Client::with_token(&cli.url, cli.token.as_deref()).acting_as(&cli.actor);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Demo(args) => demo::run(args),
        Command::Topic(TopicCommand::Create { name, partitions, config }) => {
            let config: BTreeMap<String, String> = config.into_iter().collect();
            let created =
                client.post("/api/v1/topics", &json!({"name": name, "partitions": partitions, "config": config}))?;
            writeln!(out, "created topic '{name}' with {} partitions", created["partition_count"])?;
            Ok(())
        }
        Command::Topic(TopicCommand::List) => {
            for name in array(&client.get("/api/v1/topics")?, "topics")? {
                writeln!(out, "{}", name.as_str().unwrap_or_default())?;
            }
            Ok(())
        }
        Command::Topic(TopicCommand::Describe { name }) => {
            let description = client.get(&format!("/api/v1/topics/{}", encode(&name)))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&description)?)?;
            Ok(())
        }
        Command::Topic(TopicCommand::Delete { name }) => {
            client.delete(&format!("/api/v1/topics/{}", encode(&name)))?;
            writeln!(out, "deleted topic '{name}'")?;
            Ok(())
        }
        Command::Produce(args) => {
            let format =
                if args.records { LineFormat::Records } else { LineFormat::Values { key_field: args.key_field } };
            let produced = produce::run(&client, &args.topic, args.file.as_deref(), args.batch, &format)?;
            writeln!(out, "produced {produced} records to '{}'", args.topic)?;
            Ok(())
        }
        Command::Consume(args) => {
            let source = consume::Source::topic(&args.topic);
            let default = if args.follow { Start::Latest } else { Start::Earliest };
            let mut group = args.group.as_deref().map(|name| consume::Group::new(name, &args.topic));
            let from = match (&group, args.from) {
                (Some(group), from) => group.resume_from(&client, args.partition, from.unwrap_or(default))?,
                (None, from) => from.unwrap_or(default),
            };
            if args.follow {
                consume::follow(&client, &source, args.partition, from, args.limit, group.as_mut(), &mut out)?;
            } else {
                consume::history(&client, &source, args.partition, from, args.limit, group.as_mut(), &mut out)?;
            }
            Ok(())
        }
        Command::Group(GroupCommand::Offsets { group }) => {
            let offsets = client.get(&format!("/api/v1/groups/{}/offsets", encode(&group)))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&offsets)?)?;
            Ok(())
        }
        Command::Group(GroupCommand::Commit { group, topic, partition, offset, metadata }) => {
            let body =
                json!({"offsets": [{"topic": topic, "partition": partition, "offset": offset, "metadata": metadata}]});
            client.post(&format!("/api/v1/groups/{}/offsets", encode(&group)), &body)?;
            writeln!(out, "committed offset {offset} of {topic}/{partition} for group '{group}'")?;
            Ok(())
        }
        Command::Domain(command) => domain::run(&client, &cli.actor, command, &mut out),
        Command::Product(command) => product::run(&client, &cli.actor, command, &mut out),
        Command::Access(command) => access::run(&client, &cli.actor, command, &mut out),
        Command::Contract(command) => contract::run(&client, &cli.actor, command, &mut out),
        Command::DeadLetters(command) => dead_letters::run(&client, &cli.actor, command, &mut out),
        Command::Policy(command) => policy::run(&client, &cli.actor, command, &mut out),
        Command::Schema(command) => schema::run(&client, command, &mut out),
        Command::Sql(args) => sql::run(&client, args, &mut out),
        Command::Token(command) => security::run_token(&client, command, &mut out),
        Command::User(command) => security::run_user(&client, command, &mut out),
        Command::Audit(args) => security::run_audit(&client, args, &mut out),
        Command::Whoami => security::run_whoami(&client, &mut out),
    }
}

/// The time now, epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn serve(args: ServeArgs) -> Result<()> {
    #[cfg(feature = "kafka")]
    let kafka = kafka::flags(args.kafka, &args.kafka_config)?;
    #[cfg(not(feature = "kafka"))]
    let kafka = None;
    let flags = ConfigLayer {
        config: args.config,
        data_dir: args.data_dir,
        listen: args.listen,
        fsync: args.fsync,
        max_body_bytes: args.max_body_bytes,
        max_records_per_request: args.max_records_per_request,
        log_format: args.log_format,
        max_connections: args.max_connections,
        header_timeout_ms: args.header_timeout_ms,
        max_pull_rows: args.max_pull_rows,
        max_pull_bytes: args.max_pull_bytes,
        profile_snapshot_ms: args.profile_snapshot_ms,
        auth: args.auth,
        insecure_dev: args.insecure_dev.then_some(true),
        allowed_hosts: (!args.allowed_hosts.is_empty()).then_some(args.allowed_hosts),
        oidc_issuer: args.oidc_issuer,
        oidc_audience: args.oidc_audience,
        oidc_jwks_url: args.oidc_jwks_url,
        oidc_user_claim: args.oidc_user_claim,
        oidc_groups_claim: args.oidc_groups_claim,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        rate_limit: args.rate_limit,
        json_schema_format: args.json_schema_format,
        kafka,
    };
    let config = ServerConfig::resolve(flags, ConfigLayer::from_env()?)?;
    #[cfg(not(feature = "kafka"))]
    if let Some(kafka) = &config.kafka {
        anyhow::bail!(
            "the configuration names a Kafka cluster ({}: WEFT_KAFKA or [kafka] in the config file), but this weft \
             was built without Kafka support: build it with `cargo build --release -p weft --features kafka`",
            kafka.bootstrap
        );
    }
    weft_server::init_logging(config.log_format, "info");
    raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        #[cfg(feature = "kafka")]
        if let Some(settings) = &config.kafka {
            let bootstrap = settings.bootstrap.clone();
            let log = kafka::connect(settings).await?;
            let server = cluster::bind(&config, log, args.advertise_url.as_deref()).await?;
            let scheme = if config.tls.is_some() { "https" } else { "http" };
            eprintln!("weft listening on {scheme}://{} (Kafka cluster {bootstrap})", server.local_addr()?);
            return serve_until_signal(server, &config).await;
        }
        let server = Server::bind(&config).await?;
        let addr = server.local_addr()?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        eprintln!(
            "weft listening on {scheme}://{addr} (data dir {}, fsync {})",
            config.data_dir.display(),
            config.fsync
        );
        serve_until_signal(server, &config).await
    })?;
    Ok(())
}

/// Serves until a shutdown signal, printing the bootstrap admin's token on a first start.
async fn serve_until_signal(server: Server, config: &ServerConfig) -> Result<()> {
    let addr = server.local_addr()?;
    match config.auth {
        weft_server::AuthMode::None => eprintln!(
            "WARNING: authentication is OFF (--auth none): anyone who reaches http://{addr} acts as whoever \
             they name, with every right. Use it for development on this machine only."
        ),
        weft_server::AuthMode::Tokens => {
            if let Some(token) = server.bootstrap_token() {
                eprintln!(
                    "\nFirst start: created the platform admin 'admin'. Its API token, shown this once:\n\n    {token}\n\n\
                     Sign in with it (WEFT_TOKEN=... weft whoami, or the web app), create people's and \
                     services' tokens with `weft user set` and `weft token create --for NAME`, and keep it secret.\n"
                );
            }
        }
    }
    server.run(weft_server::shutdown_signal()).await?;
    eprintln!("weft stopped");
    Ok(())
}

/// Lifts the soft limit on open files to the hard limit: a server holds one descriptor per
/// connection and per cached segment file, and distributions' default soft limit (1,024) is the
/// first thing a busy server runs into (Kafka's docs ask for 100,000). The log bounds its own
/// descriptors from the limit it finds, so this only gives connections room.
pub fn raise_file_limit() {
    // SAFETY: getrlimit and setrlimit read and write the plain struct they are given.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("could not raise the open-file limit to {}", limit.rlim_max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The option index names the purge delay: its default, mimalloc's 1,000 ms, is no other
    /// option's; and setting it takes.
    #[test]
    fn the_allocator_option_set_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: mimalloc's documented run-time getter and setter.
        unsafe {
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), 1000, "not mimalloc v3's purge delay");
            tune_allocator();
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), PURGE_DELAY_MS);
            mi_option_set(MI_OPTION_PURGE_DELAY, 1000);
        }
    }

    #[test]
    fn key_values_parse() {
        assert_eq!(parse_key_value("retention.ms=5"), Ok(("retention.ms".into(), "5".into())));
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=x").is_err());
    }
}
