//! The engine: the catalog of streams, tables and persistent queries, and the one entry point
//! ([`Engine::execute`]) that runs statements, as ksqlDB's `POST /ksql` does.
//!
//! Every statement that changes the catalog (CREATE, DROP, TERMINATE, INSERT INTO ... SELECT) is
//! appended to the command topic `_weft_sql_commands` once it succeeded; [`Engine::open`] replays
//! that topic, so streams, tables and persistent queries (with the same query ids) come back after a
//! restart, and each query resumes from its committed positions (see [`crate::runtime`]).
//!
//! Command records (one partition, kept forever): value
//! `{"seq": n, "statement": "<statement text>", "properties": {<request properties>}, "principal":
//! "<who ran it>"}`; a persistent query reads and writes as the principal whose statement started it
//! (commands written before principals were recorded run as [`ANONYMOUS`]). Query ids
//! derive from `seq` (`CSAS_<NAME>_<seq>`, `CTAS_<NAME>_<seq>`, `INSERTQUERY_<seq>`), so replay
//! gives every query its id back.
//!
//! Several engines may share one log (several servers on one Kafka cluster): [`Engine::refresh`]
//! applies the commands the others appended (the engine calls it before each statement that changes
//! the catalog, the mesh whenever the command topic grows), and [`EngineOptions::query_gate`] says
//! on which of them the persistent queries run; a query that starts running on an engine is first
//! reopened from the log, since another engine ran it meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use weft_log::{CleanupPolicy, EventLog, ReadLimits, Record, TopicConfig};

use crate::access::{DataAccess, DataPath, LogAccess};
use crate::aggregate::AggregateOp;
use crate::ast::{
    CreateAsSelect, CreateSource, Expr, KeyConstraint, ParsedStatement, PropValue, Properties, Query, SelectItem,
    ShowKind, SourceKind, Statement,
};
use crate::error::{Result, SqlError};
use crate::expr::{compile, Scope};
use crate::format::{from_json_value, to_json_value, Column, Format};
use crate::metastore::{Decoded, Kind, SourceDef, RESERVED_COLUMNS, ROWTIME};
use crate::plan::{plan_query, Operator, OutputColumn, Plan, PlannedQuery, Purpose};
use crate::runtime::{
    materialize, repartition_topic, wait_for_change, Change, Origin, Part, PersistentQuery, PushQuery, QueryTask,
    Repartitioner, Row, RowSink, StartFrom,
};
use crate::types::{SqlType, Value};

/// The topic holding the engine's command log.
pub const COMMAND_TOPIC: &str = "_weft_sql_commands";

/// The principal of calls that name none (and of commands recorded before principals were).
pub const ANONYMOUS: &str = "anonymous";

/// How an [`Engine`] behaves.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where queries start without `auto.offset.reset` (ksqlDB's default is `latest`).
    pub default_offset_reset: StartFrom,
    /// Run each persistent query on its own thread. When false, [`Engine::run_until_idle`] drives
    /// them (tests, tools).
    pub background: bool,
    /// Partitions of topics created for derived sources when neither `PARTITIONS` nor an input says.
    pub default_partitions: u32,
    /// The schema registry behind the AVRO format (schemas of AVRO sources are inferred from it and
    /// derived AVRO topics register theirs in it).
    pub schema_registry: Option<crate::registry::RegistryHandle>,
    /// The write and read paths of user data (the mesh's); `None`: the log as it is ([`LogAccess`]).
    pub data_access: Option<AccessHandle>,
    /// The most rows a pull query answers; past it the query fails with an error that says so, instead
    /// of the server building an answer of any size in memory.
    pub max_pull_rows: usize,
    /// The most bytes a pull query's rows take as JSON; past it the query fails, saying so, so that a
    /// few wide rows cannot do what many narrow ones may not.
    pub max_pull_bytes: usize,
    /// Which of the queries' tasks this server runs now (several servers on one log share them);
    /// `None`: all of them. Where it says no, a task is known (its query's statement, its sink) but
    /// not run, and a task that starts running here again is first reopened from the log, as after
    /// a restart. With a gate, every task is the same on every server: a stateless query of one
    /// input has one per partition (not [`EngineOptions::query_tasks`]).
    pub query_gate: Option<QueryGate>,
    /// How many instances (threads) a stateless query of one input runs as, each with its share of
    /// the input's partitions (at most one per partition); aggregations and joins run as one.
    pub query_tasks: usize,
}

/// Says whether this server runs task `index` of a query's `count` tasks now (see
/// [`EngineOptions::query_gate`]). A query of one task asks for task 0 of 1.
#[derive(Clone)]
pub struct QueryGate(pub Arc<dyn Fn(u32, u32) -> bool + Send + Sync>);

impl std::fmt::Debug for QueryGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryGate")
    }
}

/// The default of [`EngineOptions::max_pull_rows`].
pub const DEFAULT_MAX_PULL_ROWS: usize = 100_000;
/// The default of [`EngineOptions::max_pull_bytes`] (64 MiB).
pub const DEFAULT_MAX_PULL_BYTES: usize = 64 << 20;

/// A shareable [`DataAccess`] for [`EngineOptions`].
#[derive(Clone)]
pub struct AccessHandle(pub Arc<dyn DataAccess>);

impl std::fmt::Debug for AccessHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataAccess")
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            default_offset_reset: StartFrom::Latest,
            background: true,
            default_partitions: 1,
            schema_registry: None,
            data_access: None,
            max_pull_rows: DEFAULT_MAX_PULL_ROWS,
            max_pull_bytes: DEFAULT_MAX_PULL_BYTES,
            query_gate: None,
            query_tasks: 1,
        }
    }
}

/// A column as `DESCRIBE` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// `"KEY"`, `"PRIMARY KEY"` or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A stream or table as `SHOW` and `DESCRIBE` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub topic: String,
    pub key_format: String,
    pub value_format: String,
    pub windowed: bool,
    pub fields: Vec<FieldInfo>,
    pub statement: String,
    pub read_queries: Vec<String>,
    pub write_queries: Vec<String>,
    pub timestamp: Option<String>,
    pub partitions: u32,
}

/// A persistent query as `SHOW QUERIES` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryInfo {
    pub id: String,
    pub statement: String,
    pub sink: String,
    pub sink_topic: String,
    pub sources: Vec<String>,
    pub state: String,
    pub records_read: u64,
    pub records_written: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    /// The query's tasks (see [`EngineOptions::query_gate`]), how many of them run on this server
    /// now, and how many have their state open here (a server opens a task when it first runs it).
    pub tasks: u32,
    pub tasks_here: u32,
    pub tasks_open: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
}

/// The outcome of one statement; each variant maps onto one ksqlDB REST response entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatementResult {
    /// CREATE STREAM/TABLE, DROP, TERMINATE, SET, INSERT VALUES: ksqlDB's `currentStatus`.
    Status {
        statement: String,
        message: String,
        query_id: Option<String>,
    },
    Streams {
        statement: String,
        streams: Vec<SourceInfo>,
    },
    Tables {
        statement: String,
        tables: Vec<SourceInfo>,
    },
    Queries {
        statement: String,
        queries: Vec<QueryInfo>,
    },
    Topics {
        statement: String,
        topics: Vec<TopicInfo>,
    },
    Description {
        statement: String,
        source: Box<SourceInfo>,
        extended: bool,
        /// `DESCRIBE EXTENDED`: the queries reading and writing the source, with their counters.
        queries: Vec<QueryInfo>,
    },
    Explain {
        statement: String,
        query_id: Option<String>,
        plan: String,
        sink: Option<String>,
    },
    Properties {
        statement: String,
        properties: BTreeMap<String, String>,
    },
    Functions {
        statement: String,
        scalar: Vec<String>,
        aggregate: Vec<String>,
    },
    /// A pull query's rows (projection order), values as JSON.
    Rows {
        statement: String,
        columns: Vec<FieldInfo>,
        rows: Vec<Vec<serde_json::Value>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
struct Command {
    seq: u64,
    statement: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    principal: Option<String>,
}

/// A running task of a persistent query, shared with the thread that drives it.
type TaskHandle = Arc<Mutex<Box<dyn QueryTask>>>;

/// Opens a task of a persistent query from the log (and reopens it: each call starts afresh).
type TaskOpener = Box<dyn Fn() -> Result<Box<dyn QueryTask>> + Send>;

/// A task opened when it first runs on this server (see [`Engine::start_query`]).
struct Deferred {
    open: TaskOpener,
    task: Option<Box<dyn QueryTask>>,
    reads: Vec<(String, u32)>,
    /// The counters until the task opens.
    stats: crate::runtime::QueryStats,
}

impl Deferred {
    fn new(open: TaskOpener, reads: Vec<(String, u32)>) -> Deferred {
        Deferred { open, task: None, reads, stats: crate::runtime::QueryStats::default() }
    }

    fn opened(&mut self) -> Result<&mut Box<dyn QueryTask>> {
        if self.task.is_none() {
            let mut task = (self.open)()?;
            *task.stats_mut() = std::mem::take(&mut self.stats);
            task.stats_mut().failing = false;
            self.task = Some(task);
        }
        self.task.as_mut().ok_or_else(|| SqlError::analysis("a task failed to open"))
    }
}

impl QueryTask for Deferred {
    fn poll(&mut self, max_records: usize) -> Result<usize> {
        self.opened()?.poll(max_records)
    }

    fn commit_pending(&mut self) -> Result<()> {
        match self.task.as_mut() {
            Some(task) => task.commit_pending(),
            None => Ok(()),
        }
    }

    /// Opens the task afresh from the log, keeping its counters.
    fn recover(&mut self) -> Result<()> {
        if let Some(old) = self.task.take() {
            self.stats = old.stats().clone();
        }
        self.opened().map(|_| ())
    }

    fn input_partitions(&self) -> Vec<(String, u32)> {
        self.reads.clone()
    }

    fn stats(&self) -> &crate::runtime::QueryStats {
        self.task.as_ref().map_or(&self.stats, |t| t.stats())
    }

    fn stats_mut(&mut self) -> &mut crate::runtime::QueryStats {
        match self.task.as_mut() {
            Some(task) => task.stats_mut(),
            None => &mut self.stats,
        }
    }

    fn query_stats(&self) -> crate::runtime::QueryStats {
        self.task.as_ref().map_or_else(|| self.stats.clone(), |t| t.query_stats())
    }

    fn table_snapshot(&self) -> Option<Vec<Row>> {
        self.task.as_ref().and_then(|t| t.table_snapshot())
    }

    fn is_open(&self) -> bool {
        self.task.is_some()
    }
}

/// How a query is cut into tasks (see [`Engine::query_layout`]).
enum Layout {
    /// Instances of the query, each processing its part of the input.
    Parts(Vec<Part>),
    /// An aggregation through its repartition topic: repartitioners for the input partitions
    /// `copiers`, then one instance per partition of that topic (`partitions`, as many as the input).
    Repartitioned { copiers: Vec<Vec<u32>>, partitions: u32 },
}

struct QueryEntry {
    statement: String,
    sink: String,
    sources: Vec<String>,
    plan: Plan,
    /// One instance, or several sharing the input's partitions ([`EngineOptions::query_tasks`]).
    runners: Vec<TaskHandle>,
    stop: Arc<AtomicBool>,
    /// One per runner once started.
    threads: Vec<JoinHandle<()>>,
    /// Per runner: it runs on this server, so its in-memory state is current (see
    /// [`EngineOptions::query_gate`]).
    hosted: Vec<Arc<AtomicBool>>,
}

#[derive(Default)]
struct State {
    sources: BTreeMap<String, SourceDef>,
    queries: BTreeMap<String, QueryEntry>,
    properties: BTreeMap<String, String>,
    next_seq: u64,
    /// Custom types (`CREATE TYPE`) by name.
    types: BTreeMap<String, SqlType>,
}

/// What [`Engine::execute_each`] ran: the results of the statements that succeeded, in order, and
/// the first failing statement's text and error (the statements after it did not run).
#[derive(Debug)]
pub struct Executed {
    pub results: Vec<StatementResult>,
    pub failed: Option<(String, SqlError)>,
}

/// The streaming SQL engine over one event log.
pub struct Engine {
    log: Arc<dyn EventLog>,
    /// User data goes through here, never through `log` (see [`crate::access`]).
    data: Arc<dyn DataAccess>,
    options: EngineOptions,
    state: Mutex<State>,
    /// Serializes catalog changes (check, act, record), so concurrent requests cannot both create
    /// the same name or take the same query id.
    ddl: Mutex<()>,
    /// Counter of push query ids.
    transient: std::sync::atomic::AtomicU64,
    /// The command topic is being replayed.
    replaying: AtomicBool,
    /// The offset of the next command to apply from the command topic.
    next_command: Mutex<u64>,
    /// Asked before a DROP (the catalog's veto); see [`Engine::set_drop_guard`].
    drop_guard: std::sync::RwLock<Option<Arc<dyn crate::lineage::DropGuard>>>,
}

/// Whether a statement changes the catalog (and is recorded in the command topic).
fn changes_catalog(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::CreateSource(_)
            | Statement::CreateAsSelect(_)
            | Statement::InsertInto { .. }
            | Statement::Drop { .. }
            | Statement::Terminate(_)
            | Statement::CreateType { .. }
            | Statement::DropType { .. }
            | Statement::Alter { .. }
    )
}

/// Whether `text` holds a statement that changes the catalog: several servers on one log let one
/// of them decide those, in one order. Text that does not parse changes nothing.
pub fn text_changes_catalog(text: &str) -> bool {
    crate::parser::parse_statements_any_type(text)
        .is_ok_and(|statements| statements.iter().any(|s| changes_catalog(&s.statement)))
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn prop_text(props: &Properties, key: &str) -> Option<String> {
    props.get(key).map(PropValue::as_text)
}

fn prop_u32(props: &Properties, key: &str) -> Result<Option<u32>> {
    match props.get(key) {
        None => Ok(None),
        Some(v) => {
            v.as_text().parse::<u32>().ok().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                SqlError::analysis(format!("invalid {key} '{}': expected a positive integer", v.as_text()))
            })
        }
    }
}

/// `RETENTION_MS` for topics the statement creates (`None`: kept forever).
fn prop_retention(props: &Properties) -> Result<Option<i64>> {
    match props.get("RETENTION_MS") {
        None => Ok(None),
        Some(v) => match v.as_text().parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(ms) if ms > 0 => Ok(Some(ms)),
            _ => Err(SqlError::analysis(format!(
                "invalid RETENTION_MS '{}': expected a positive number of milliseconds or -1",
                v.as_text()
            ))),
        },
    }
}

/// A request or `SET` property's name as the engine keeps it: ksqlDB resolves a Kafka Streams (or
/// consumer) setting with or without its `ksql.streams.` prefix to one property
/// (`ksql.streams.auto.offset.reset` is `auto.offset.reset`), so the prefix is dropped.
pub fn property_name(name: &str) -> &str {
    name.strip_prefix("ksql.streams.").filter(|rest| !rest.is_empty()).unwrap_or(name)
}

/// `properties` under the names [`property_name`] gives them.
fn canonical_properties(properties: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    properties.iter().map(|(name, value)| (property_name(name).to_string(), value.clone())).collect()
}

const KNOWN_PROPERTIES: &[&str] = &[
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "RETENTION_MS",
    "WINDOW_TYPE",
    "WINDOW_SIZE",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "KEY_SCHEMA_FULL_NAME",
    "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
    "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
];

/// The value record's full name: `VALUE_AVRO_SCHEMA_FULL_NAME`, or its newer spelling.
fn value_schema_full_name(props: &Properties) -> Option<String> {
    prop_text(props, "VALUE_AVRO_SCHEMA_FULL_NAME").or_else(|| prop_text(props, "VALUE_SCHEMA_FULL_NAME"))
}

/// ksqlDB's checks of the schema full-name properties: only AVRO (of Weft's formats) names its
/// schemas, and a name is never blank.
fn check_schema_full_names(props: &Properties, key: Format, value: Format) -> Result<()> {
    let named =
        [("VALUE_AVRO_SCHEMA_FULL_NAME", value), ("VALUE_SCHEMA_FULL_NAME", value), ("KEY_SCHEMA_FULL_NAME", key)];
    for (property, format) in named {
        let Some(name) = prop_text(props, property) else { continue };
        if !matches!(format, Format::Avro | Format::Protobuf | Format::ProtobufNoSr) {
            return Err(SqlError::analysis(format!(
                "{} does not support the following configs: [fullSchemaName]",
                format.name()
            )));
        }
        if name.trim().is_empty() {
            return Err(SqlError::analysis("fullSchemaName cannot be empty. Format configuration: {fullSchemaName=}"));
        }
    }
    Ok(())
}

/// `'30 seconds'` as milliseconds.
fn parse_duration_text(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let n: i64 = parts.next()?.parse().ok()?;
    let unit = parts.next()?.to_ascii_uppercase();
    if parts.next().is_some() {
        return None;
    }
    let factor = match unit.trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor).filter(|ms| *ms > 0)
}

/// `WINDOW_TYPE` / `WINDOW_SIZE` of a source whose keys are windowed.
fn window_props(props: &Properties) -> Result<Option<crate::metastore::WindowInfo>> {
    use crate::format::WindowType;
    let size = prop_text(props, "WINDOW_SIZE");
    let Some(kind) = prop_text(props, "WINDOW_TYPE") else {
        return match size {
            Some(_) => Err(SqlError::analysis("'WINDOW_SIZE' requires 'WINDOW_TYPE'")),
            None => Ok(None),
        };
    };
    match kind.to_ascii_uppercase().as_str() {
        "SESSION" => match size {
            Some(_) => Err(SqlError::analysis("'WINDOW_SIZE' should not be set for SESSION windows.")),
            None => Ok(Some(crate::metastore::WindowInfo { kind: WindowType::Session, size_ms: None, hopping: false })),
        },
        "TUMBLING" | "HOPPING" => {
            let size = size.ok_or_else(|| {
                SqlError::analysis(format!("'WINDOW_SIZE' is required for {} windows.", kind.to_ascii_uppercase()))
            })?;
            let ms = parse_duration_text(&size).ok_or_else(|| {
                // ksqlDB names the unit it does not know when the rest is a number.
                let why = match size.split_whitespace().collect::<Vec<_>>().as_slice() {
                    [n, unit] if n.parse::<i64>().is_ok() => {
                        format!(". Unknown time unit: '{}'", unit.to_ascii_uppercase())
                    }
                    _ => String::new(),
                };
                SqlError::analysis(format!("Configuration WINDOW_SIZE is invalid: Invalid duration: '{size}'{why}"))
            })?;
            let hopping = kind.eq_ignore_ascii_case("HOPPING");
            Ok(Some(crate::metastore::WindowInfo { kind: WindowType::Time, size_ms: Some(ms), hopping }))
        }
        other => {
            Err(SqlError::analysis(format!("Invalid WINDOW_TYPE '{other}': expected TUMBLING, HOPPING or SESSION")))
        }
    }
}

impl Engine {
    /// Opens the engine over `log`, replaying the command topic.
    pub fn open(log: Arc<dyn EventLog>, options: EngineOptions) -> Result<Engine> {
        if !log.list_topics().iter().any(|t| t == COMMAND_TOPIC) {
            let config = TopicConfig { partitions: 1, retention_ms: None, ..TopicConfig::default() };
            match log.create_topic(COMMAND_TOPIC, config) {
                Ok(_) | Err(weft_log::LogError::TopicExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let data = match &options.data_access {
            Some(handle) => handle.0.clone(),
            None => Arc::new(LogAccess::new(log.clone())),
        };
        let engine = Engine {
            log,
            data,
            options,
            state: Mutex::new(State::default()),
            ddl: Mutex::new(()),
            transient: std::sync::atomic::AtomicU64::new(0),
            replaying: AtomicBool::new(false),
            next_command: Mutex::new(0),
            drop_guard: std::sync::RwLock::new(None),
        };
        let (start, _) = engine.log.offsets(COMMAND_TOPIC, 0)?;
        engine.apply_commands(start, false)?;
        Ok(engine)
    }

    /// Applies the commands other servers sharing the log appended since the last look (several
    /// servers on one Kafka cluster): their streams, tables and queries appear here as they did
    /// there, and queries this server is to run start. Commands this server appended itself are
    /// skipped (their `seq` is below the next one it would give). Returns how many were applied.
    pub fn refresh(&self) -> Result<usize> {
        let from = *self.next_command.lock().unwrap_or_else(|e| e.into_inner());
        let (_, end) = self.log.offsets(COMMAND_TOPIC, 0)?;
        if end <= from {
            return Ok(0);
        }
        self.apply_commands(from, true)
    }

    /// Replays the command topic from `from` as [`Engine::open`] does, then starts the threads of
    /// the queries it opened; `only_new`: skips commands whose `seq` this engine has already taken.
    /// The properties set on this server are kept across it.
    fn apply_commands(&self, from: u64, only_new: bool) -> Result<usize> {
        // One replay at a time, and no statement of this server in the middle of it.
        let _ddl = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.next_command.lock().unwrap_or_else(|e| e.into_inner());
        let from = from.max(*next);
        let saved = lock(&self.state).properties.clone();
        self.replaying.store(true, Ordering::SeqCst);
        let replayed = self.replay(from, only_new);
        self.replaying.store(false, Ordering::SeqCst);
        lock(&self.state).properties = saved;
        let (next_offset, applied) = replayed?;
        *next = next_offset;
        drop(next);
        self.start_replayed()?;
        Ok(applied)
    }

    /// Applies the commands from `offset` to the end of the command topic; the next offset and how
    /// many were applied. The caller holds the `ddl` lock.
    fn replay(&self, mut offset: u64, only_new: bool) -> Result<(u64, usize)> {
        let (_, end) = self.log.offsets(COMMAND_TOPIC, 0)?;
        let mut applied = 0;
        while offset < end {
            let r = self.log.read(COMMAND_TOPIC, 0, offset, ReadLimits::default())?;
            if r.records.is_empty() {
                break;
            }
            for rec in &r.records {
                let Some(value) = &rec.value else { continue };
                let Ok(cmd) = serde_json::from_slice::<Command>(value) else { continue };
                {
                    let mut st = lock(&self.state);
                    if only_new && cmd.seq < st.next_seq {
                        continue;
                    }
                    st.next_seq = cmd.seq;
                    st.properties = canonical_properties(&cmd.properties);
                }
                // A command that worked once and fails now (e.g. its topic was deleted) is skipped,
                // so one bad command never blocks the others.
                let principal = cmd.principal.as_deref().unwrap_or(ANONYMOUS);
                if let Ok(stmts) = self.parse(&cmd.statement) {
                    for s in stmts {
                        let _ = self.execute_locked(&s, true, principal);
                    }
                }
                applied += 1;
                let mut st = lock(&self.state);
                st.next_seq = cmd.seq + 1;
                st.properties.clear();
            }
            offset = r.next_offset;
        }
        Ok((offset, applied))
    }

    /// The log the engine runs on.
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// Runs statements in order (the body of ksqlDB's `POST /ksql`). Parsing happens first, so a
    /// syntax error anywhere runs nothing; otherwise execution stops at the first failing statement
    /// (earlier statements keep their effect).
    pub fn execute(&self, text: &str) -> Result<Vec<StatementResult>> {
        self.execute_with_properties(text, &BTreeMap::new())
    }

    /// [`Engine::execute`] with request properties (ksqlDB's `streamsProperties`, e.g.
    /// `auto.offset.reset`).
    pub fn execute_with_properties(
        &self,
        text: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<Vec<StatementResult>> {
        let executed = self.execute_each(text, properties)?;
        match executed.failed {
            Some((_, error)) => Err(error),
            None => Ok(executed.results),
        }
    }

    /// [`Engine::execute_with_properties`] that keeps the results of the statements that ran before
    /// a failing one (they took effect), as ksqlDB's `POST /ksql` reports them in the error's
    /// `entities`. `Err` only for text that does not parse, in which case nothing ran.
    pub fn execute_each(&self, text: &str, properties: &BTreeMap<String, String>) -> Result<Executed> {
        self.execute_each_as(ANONYMOUS, text, properties)
    }

    /// [`Engine::execute_each`] for `principal`: what the statements read and write, they read and
    /// write as `principal`, and the persistent queries they start keep running as `principal`.
    pub fn execute_each_as(
        &self,
        principal: &str,
        text: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<Executed> {
        let statements = self.parse(text)?;
        let properties = &canonical_properties(properties);
        let saved = {
            let mut st = lock(&self.state);
            let saved = st.properties.clone();
            st.properties.extend(properties.iter().map(|(k, v)| (k.clone(), v.clone())));
            saved
        };
        let mut results = Vec::new();
        let mut failed = None;
        for s in &statements {
            match self.execute_one(s, principal) {
                Ok(r) => results.push(r),
                Err(e) => {
                    failed = Some((s.text.clone(), e));
                    break;
                }
            }
        }
        {
            // Request properties last for the request; SET persists beyond it.
            let mut st = lock(&self.state);
            for k in properties.keys() {
                match saved.get(k) {
                    Some(v) => st.properties.insert(k.clone(), v.clone()),
                    None => st.properties.remove(k),
                };
            }
        }
        Ok(Executed { results, failed })
    }

    fn record_command(&self, text: &str, principal: &str) -> Result<()> {
        let mut st = lock(&self.state);
        let cmd = Command {
            seq: st.next_seq,
            statement: text.to_string(),
            properties: st.properties.clone(),
            principal: Some(principal.to_string()),
        };
        st.next_seq += 1;
        drop(st);
        let value = serde_json::to_vec(&cmd).map_err(|e| SqlError::Serde(e.to_string()))?;
        self.log.append(COMMAND_TOPIC, 0, vec![Record { value: Some(value), ..Record::default() }])?;
        Ok(())
    }

    fn execute_one(&self, parsed: &ParsedStatement, principal: &str) -> Result<StatementResult> {
        if !changes_catalog(&parsed.statement) {
            return self.execute_locked(parsed, false, principal);
        }
        // Decided on the latest catalog: what other servers on the log recorded comes first.
        self.refresh()?;
        let _ddl = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        self.execute_locked(parsed, false, principal)
    }

    /// Runs one statement; for a statement that changes the catalog, the caller holds the `ddl`
    /// lock.
    fn execute_locked(&self, parsed: &ParsedStatement, replaying: bool, principal: &str) -> Result<StatementResult> {
        let text = parsed.text.clone();
        match &parsed.statement {
            Statement::CreateSource(c) => {
                let r = self.create_source(c, &text, replaying)?;
                if !replaying {
                    self.record_command(&text, principal)?;
                }
                Ok(r)
            }
            Statement::CreateAsSelect(c) => self.create_as_select(c, &text, replaying, principal),
            Statement::InsertInto { target, query } => {
                if !lock(&self.state).sources.contains_key(target) {
                    // ksqlDB places the error after `INSERT INTO` (its AstSanitizer's location).
                    return Err(SqlError::analysis(format!(
                        "Line: {}, Col: {}: Source `{target}` does not exist.",
                        parsed.line,
                        parsed.column + "INSERT INTO".len() as u32 + 1
                    )));
                }
                self.insert_into(target, query, &text, replaying, principal)
            }
            Statement::InsertValues { target, columns, values } => {
                self.insert_values(target, columns.as_deref(), values, &text, principal)
            }
            Statement::Query(q) => {
                if q.emit.is_some() {
                    return Err(SqlError::QueryEndpoint(
                        "push queries (EMIT CHANGES) stream their rows: run them with Engine::query (POST /query)"
                            .into(),
                    ));
                }
                self.pull_query(q, &text, principal)
            }
            Statement::Show { kind, extended } => Ok(self.show(*kind, *extended, &text)),
            Statement::Describe { name, extended } => {
                let st = lock(&self.state);
                let source = st.sources.get(name).ok_or_else(|| unknown_source(name))?;
                let info = describe(&st, source);
                let queries = if *extended {
                    query_infos(&st)
                        .into_iter()
                        .filter(|q| info.read_queries.contains(&q.id) || info.write_queries.contains(&q.id))
                        .collect()
                } else {
                    Vec::new()
                };
                Ok(StatementResult::Description {
                    statement: text,
                    source: Box::new(info),
                    extended: *extended,
                    queries,
                })
            }
            Statement::DescribeFunction(name) => {
                // Table functions and those taking lambdas are functions too (EXPLODE, TRANSFORM).
                if !crate::functions::exists(name) {
                    return Err(SqlError::analysis(format!("Can't find any functions with the name '{name}'")));
                }
                Ok(StatementResult::Functions {
                    statement: text,
                    scalar: if crate::functions::is_aggregate(name) { vec![] } else { vec![name.clone()] },
                    aggregate: if crate::functions::is_aggregate(name) { vec![name.clone()] } else { vec![] },
                })
            }
            Statement::Explain(inner) => self.explain(inner, &text),
            Statement::ExplainQuery(id) => {
                let st = lock(&self.state);
                let q = st
                    .queries
                    .get(id)
                    .ok_or_else(|| SqlError::analysis(format!("query with id '{id}' does not exist")))?;
                Ok(StatementResult::Explain {
                    statement: q.statement.clone(),
                    query_id: Some(id.clone()),
                    plan: q.plan.to_string(),
                    sink: Some(q.sink.clone()),
                })
            }
            Statement::Drop { kind, name, if_exists, delete_topic } => {
                let r = self.drop_source(*kind, name, *if_exists, *delete_topic, &text)?;
                if !replaying {
                    self.record_command(&text, principal)?;
                }
                Ok(r)
            }
            Statement::Terminate(id) => {
                let r = self.terminate(id.as_deref(), &text)?;
                if !replaying {
                    self.record_command(&text, principal)?;
                }
                Ok(r)
            }
            Statement::Print { .. } => {
                Err(SqlError::QueryEndpoint("PRINT streams records: run it with Engine::query (POST /query)".into()))
            }
            Statement::Set { name, value } => {
                lock(&self.state).properties.insert(property_name(name).to_string(), value.clone());
                Ok(StatementResult::Status {
                    statement: text,
                    message: format!("Successfully changed local property '{name}' to '{value}'."),
                    query_id: None,
                })
            }
            Statement::Unset(name) => {
                lock(&self.state).properties.remove(property_name(name));
                Ok(StatementResult::Status {
                    statement: text,
                    message: format!("Successfully unset local property '{name}'."),
                    query_id: None,
                })
            }
            Statement::CreateType { name, ty, if_not_exists } => {
                let message = {
                    let mut st = lock(&self.state);
                    match st.types.get(name) {
                        // ksqlDB's RegisterTypeFactory and DdlCommandExec wording.
                        Some(existing) if !if_not_exists => {
                            return Err(SqlError::analysis(format!(
                                "Cannot register custom type '{name}' since it is already registered with type: \
                                 {existing}"
                            )))
                        }
                        Some(existing) => format!("{name} is already registered with type {existing}"),
                        None => {
                            st.types.insert(name.clone(), ty.clone());
                            format!("Registered custom type with name '{name}' and SQL type {ty}")
                        }
                    }
                };
                if !replaying {
                    self.record_command(&text, principal)?;
                }
                Ok(StatementResult::Status { statement: text, message, query_id: None })
            }
            Statement::DropType { name, if_exists } => {
                let removed = lock(&self.state).types.remove(name).is_some();
                if !removed && !if_exists {
                    return Err(SqlError::analysis(format!("Type {name} does not exist.")));
                }
                if removed && !replaying {
                    self.record_command(&text, principal)?;
                }
                let message =
                    if removed { format!("Dropped type '{name}'") } else { format!("Type '{name}' does not exist") };
                Ok(StatementResult::Status { statement: text, message, query_id: None })
            }
            Statement::Alter { kind, name, columns } => {
                let r = self.alter_source((*kind).into(), name, columns, &text)?;
                if !replaying {
                    self.record_command(&text, principal)?;
                }
                Ok(r)
            }
        }
    }

    /// `ALTER STREAM|TABLE ... ADD COLUMN`: value columns appended to a stream or table that a
    /// `CREATE STREAM|TABLE` declared; the queries already reading it keep the columns they had.
    fn alter_source(
        &self,
        kind: Kind,
        name: &str,
        columns: &[(String, SqlType)],
        text: &str,
    ) -> Result<StatementResult> {
        let mut st = lock(&self.state);
        let kind_word = kind.name().to_lowercase();
        // ksqlDB's AlterSourceFactory, then its DdlCommandExec, in their order and words.
        let Some(source) = st.sources.get_mut(name) else {
            return Err(SqlError::analysis(format!("Source {name} does not exist.")));
        };
        if source.read_only {
            return Err(SqlError::analysis(format!(
                "Cannot alter {kind_word} '{name}': ALTER operations are not supported on source {kind_word}s."
            )));
        }
        if source.kind != kind {
            return Err(SqlError::analysis(format!(
                "Incompatible data source type is {}, but statement was ALTER {}",
                source.kind.name(),
                kind.name()
            )));
        }
        if source.query_id.is_some() {
            return Err(SqlError::analysis("ALTER command is not supported for CREATE ... AS statements."));
        }
        // Header columns stay last (they are the last `headers.len()` value columns).
        let mut values = source.value_columns.clone();
        let headers = values.split_off(values.len().saturating_sub(source.headers.len()));
        for (column, ty) in columns {
            let taken = source.key_columns.iter().chain(&values).chain(&headers).any(|c| &c.name == column);
            if taken {
                return Err(SqlError::analysis(format!(
                    "Cannot add column `{column}` to schema. A column with the same name already exists."
                )));
            }
            values.push(Column { name: column.clone(), ty: ty.clone() });
        }
        values.extend(headers);
        source.value_columns = values;
        let word = if kind == Kind::Stream { "Stream" } else { "Table" };
        Ok(StatementResult::Status {
            statement: text.to_string(),
            message: format!("{word} {name} altered."),
            query_id: None,
        })
    }

    /// The custom types (`CREATE TYPE`) by name.
    pub fn types(&self) -> BTreeMap<String, SqlType> {
        lock(&self.state).types.clone()
    }

    /// Parses `text` with the custom types registered so far.
    fn parse(&self, text: &str) -> Result<Vec<ParsedStatement>> {
        let types = lock(&self.state).types.clone();
        crate::parser::parse_statements_with_types(text, &types)
    }

    fn lookup(&self) -> impl Fn(&str) -> Result<SourceDef> + '_ {
        move |name: &str| lock(&self.state).sources.get(name).cloned().ok_or_else(|| unknown_source(name))
    }

    fn start_from(&self) -> StartFrom {
        let st = lock(&self.state);
        StartFrom::from_property(
            st.properties.get("auto.offset.reset").map(String::as_str),
            self.options.default_offset_reset,
        )
    }

    fn create_source(&self, c: &CreateSource, text: &str, replaying: bool) -> Result<StatementResult> {
        let kind: Kind = c.kind.into();
        for key in c.properties.keys() {
            if !KNOWN_PROPERTIES.contains(&key.as_str()) {
                return Err(SqlError::analysis(format!("invalid config variable(s) in the WITH clause: {key}")));
            }
        }
        {
            let st = lock(&self.state);
            let existing = st.sources.get(&c.name);
            // A source (read-only) stream or table is never replaced, nor replaces one.
            if c.or_replace && (c.read_only || existing.is_some_and(|e| e.read_only)) {
                let kind = kind.name().to_lowercase();
                return Err(SqlError::analysis(format!(
                    "Cannot add {kind} '{}': CREATE OR REPLACE is not supported on source {kind}s.",
                    c.name
                )));
            }
            if let Some(existing) = existing {
                if c.if_not_exists {
                    return Ok(StatementResult::Status {
                        statement: text.to_string(),
                        message: format!("{} {} already exists", existing.kind.name(), c.name),
                        query_id: None,
                    });
                }
                if !c.or_replace {
                    return Err(SqlError::analysis(format!(
                        "Cannot add {} '{}': A {} with the same name already exists",
                        kind.name().to_lowercase(),
                        c.name,
                        existing.kind.name().to_lowercase()
                    )));
                }
                if existing.query_id.is_some() {
                    return Err(SqlError::analysis(format!(
                        "Cannot replace '{}': it is written by query {}",
                        c.name,
                        existing.query_id.clone().unwrap_or_default()
                    )));
                }
            }
        }
        let topic = prop_text(&c.properties, "KAFKA_TOPIC").ok_or_else(|| {
            SqlError::analysis("Missing required property \"KAFKA_TOPIC\" which has no default value.")
        })?;
        let engine_properties = lock(&self.state).properties.clone();
        let (key_format, value_format) = formats(&c.properties, None, &engine_properties)?;
        check_schema_full_names(&c.properties, key_format, value_format)?;
        let value_delimiter = value_delimiter(&c.properties, value_format, None)?;
        let key_delimiter = key_delimiter(&c.properties, key_format, None)?;
        let mut key_columns = Vec::new();
        let mut value_columns = Vec::new();
        // Header columns come last among the value columns (`SourceDef::headers`).
        let mut header_columns = Vec::new();
        let mut headers = Vec::new();
        let mut seen = BTreeSet::new();
        for col in &c.columns {
            if !seen.insert(col.name.clone()) {
                return Err(SqlError::analysis(format!("duplicate column name '{}'", col.name)));
            }
            if RESERVED_COLUMNS.contains(&col.name.as_str()) {
                return Err(SqlError::analysis(format!(
                    "'{}' is a reserved column name. You cannot use it as a name for a column.",
                    col.name
                )));
            }
            if col.key == KeyConstraint::Headers {
                check_header_column(col, headers.contains(&None))?;
            } else if col.key != KeyConstraint::None {
                check_key_type(&col.name, &col.ty)?;
            } else {
                check_value_format(
                    value_format,
                    std::slice::from_ref(&Column { name: col.name.clone(), ty: col.ty.clone() }),
                )?;
            }
            check_map_keys(value_format, &col.ty)?;
            let column = Column { name: col.name.clone(), ty: col.ty.clone() };
            match (col.key, kind) {
                (KeyConstraint::None, _) => value_columns.push(column),
                (KeyConstraint::Key, Kind::Stream) | (KeyConstraint::PrimaryKey, Kind::Table) => {
                    key_columns.push(column)
                }
                (KeyConstraint::Key, Kind::Table) => {
                    return Err(SqlError::analysis(format!(
                        "Line: {}, Col: {}: Column `{}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.",
                        col.pos.line, col.pos.column, col.name
                    )))
                }
                (KeyConstraint::PrimaryKey, Kind::Stream) => {
                    return Err(SqlError::analysis(format!(
                        "Line: {}, Col: {}: Column `{}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.",
                        col.pos.line, col.pos.column, col.name
                    )))
                }
                (KeyConstraint::Headers, _) => {
                    header_columns.push(column);
                    headers.push(col.header.clone());
                }
            }
        }
        check_schema_ids(&c.properties, (key_format, &key_columns), (value_format, &value_columns))?;
        // ksqlDB: the columns of AVRO, JSON_SR and PROTOBUF values and keys may come from the registry.
        if value_columns.is_empty() && matches!(value_format, Format::Avro | Format::JsonSr | Format::Protobuf) {
            let schema = self.registered_schema(&c.properties, &topic, value_format, "value")?;
            value_columns = match value_format {
                Format::Avro => crate::avro::AvroSchema::parse(&schema)?.columns()?,
                Format::Protobuf => {
                    crate::protobuf::columns_from_schema(&schema, value_schema_full_name(&c.properties).as_deref())?
                }
                _ => crate::registry::columns_from_json_schema(&schema)?,
            };
            // Unwrapped, the whole value is the one column `ROWVAL`, a record being a STRUCT.
            if unwrap_single_value(&c.properties, &engine_properties) == Some(true) {
                value_columns =
                    vec![Column { name: "ROWVAL".into(), ty: crate::registry::whole_schema_type(&value_columns) }];
            }
        }
        if key_columns.is_empty() && matches!(key_format, Format::Avro | Format::JsonSr | Format::Protobuf) {
            let schema = self.registered_schema(&c.properties, &topic, key_format, "key")?;
            key_columns = match key_format {
                Format::Protobuf => crate::protobuf::columns_from_schema(
                    &schema,
                    prop_text(&c.properties, "KEY_SCHEMA_FULL_NAME").as_deref(),
                )?,
                _ => crate::registry::key_columns_from_schema(key_format, &schema)?,
            };
        }
        if key_columns.is_empty() && value_columns.is_empty() && header_columns.is_empty() {
            return Err(SqlError::analysis("No columns supplied."));
        }
        check_wrap_single_value(&c.properties, &value_columns)?;
        if value_format == Format::None {
            check_value_format(value_format, &value_columns)?;
        }
        if kind == Kind::Table && key_columns.is_empty() {
            return Err(SqlError::analysis("Tables require a PRIMARY KEY. Please define the PRIMARY KEY."));
        }
        check_key_format(key_format, &key_columns)?;
        check_kafka_value(value_format, &value_columns)?;
        if key_columns.is_empty() && window_props(&c.properties)?.is_some() {
            return Err(SqlError::analysis("Windowed sources require a key column."));
        }
        value_columns.extend(header_columns);
        let (timestamp_column, timestamp_format) = timestamp_props(&c.properties, &key_columns, &value_columns)?;
        let retention = prop_retention(&c.properties)?;
        let partitions =
            self.ensure_topic(&topic, prop_u32(&c.properties, "PARTITIONS")?, retention, kind, replaying, true)?;
        let source = SourceDef {
            name: c.name.clone(),
            kind,
            topic,
            key_columns,
            value_columns,
            key_format,
            value_format,
            unwrap_single_value: unwrap_single_value(&c.properties, &engine_properties) == Some(true),
            headers,
            value_delimiter,
            key_delimiter,
            key_schema_full_name: prop_text(&c.properties, "KEY_SCHEMA_FULL_NAME"),
            value_schema_full_name: value_schema_full_name(&c.properties),
            // A source's schema id names the schema its columns came from; it writes as before.
            value_schema_id: None,
            window: window_props(&c.properties)?,
            timestamp_column,
            timestamp_format,
            partitions,
            statement: text.to_string(),
            query_id: None,
            read_only: c.read_only,
            registry: self.options.schema_registry.clone(),
        };
        lock(&self.state).sources.insert(c.name.clone(), source);
        let noun = if kind == Kind::Stream { "Stream" } else { "Table" };
        Ok(StatementResult::Status { statement: text.to_string(), message: format!("{noun} created"), query_id: None })
    }

    /// Makes sure `topic` exists; returns its partition count.
    fn ensure_topic(
        &self,
        topic: &str,
        partitions: Option<u32>,
        retention_ms: Option<i64>,
        kind: Kind,
        replaying: bool,
        declared: bool,
    ) -> Result<u32> {
        match self.log.describe_topic(topic) {
            Ok(d) => {
                let actual = d.partitions.len() as u32;
                if let Some(p) = partitions {
                    if p != actual && !replaying {
                        return Err(SqlError::analysis(format!(
                            "A Kafka topic with the name '{topic}' already exists, with different partition count \
                             ({actual}) than requested ({p})"
                        )));
                    }
                }
                Ok(actual)
            }
            Err(weft_log::LogError::TopicNotFound(_)) => {
                let Some(p) = partitions.or((!declared).then_some(self.options.default_partitions)) else {
                    return Err(SqlError::analysis(format!(
                        "Topic '{topic}' does not exist. If you want to create a new topic for the {} please re-run \
                         the statement providing the required 'PARTITIONS' configuration in the WITH clause (and, \
                         optionally, 'REPLICAS').",
                        kind.name().to_lowercase()
                    )));
                };
                // Derived data is kept until RETENTION_MS says otherwise (the log is the history).
                let mut config = TopicConfig { partitions: p, retention_ms, ..TopicConfig::default() };
                if kind == Kind::Table {
                    config.cleanup_policy = CleanupPolicy::Compact;
                }
                match self.log.create_topic(topic, config) {
                    Ok(_) | Err(weft_log::LogError::TopicExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(p)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn plan(&self, query: &Query, purpose: Purpose, sink: Option<&str>) -> Result<PlannedQuery> {
        plan_query(query, &self.lookup(), purpose, sink)
    }

    /// How a CREATE ... AS SELECT is planned: as ksqlDB's new planner plans it when
    /// `ksql.new.query.planner.enabled` is on (and refused with its words where it has no plan: it
    /// plans only projections of one source), else as ksqlDB has always planned it.
    fn create_as_select_purpose(&self, query: &Query) -> Result<Purpose> {
        let new_planner = lock(&self.state)
            .properties
            .get("ksql.new.query.planner.enabled")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if !new_planner {
            return Ok(Purpose::Persistent);
        }
        let unsupported = [
            (query.filter.is_some(), "WHERE"),
            (!query.group_by.is_empty(), "GROUP BY"),
            (query.having.is_some(), "HAVING"),
            (query.window.is_some(), "WINDOWS"),
            (!query.partition_by.is_empty(), "PARTITION BY"),
            (query.limit.is_some(), "LIMIT"),
            (!query.joins.is_empty(), "joins"),
        ];
        if let Some((_, what)) = unsupported.iter().find(|(used, _)| *used) {
            return Err(SqlError::analysis(format!(
                "New query planner does not support {what}. Set ksql.new.query.planner.enabled=false."
            )));
        }
        Ok(Purpose::PersistentSelectedKeys)
    }

    fn create_as_select(
        &self,
        c: &CreateAsSelect,
        text: &str,
        replaying: bool,
        principal: &str,
    ) -> Result<StatementResult> {
        for key in c.properties.keys() {
            if !KNOWN_PROPERTIES.contains(&key.as_str()) {
                return Err(SqlError::analysis(format!("invalid config variable(s) in the WITH clause: {key}")));
            }
        }
        {
            let st = lock(&self.state);
            if let Some(existing) = st.sources.get(&c.name) {
                if c.if_not_exists {
                    return Ok(StatementResult::Status {
                        statement: text.to_string(),
                        message: format!("{} {} already exists", existing.kind.name(), c.name),
                        query_id: None,
                    });
                }
                if !c.or_replace || existing.query_id.is_none() {
                    return Err(SqlError::analysis(format!(
                        "Cannot add {} '{}': A {} with the same name already exists",
                        c.kind.name().to_lowercase(),
                        c.name,
                        existing.kind.name().to_lowercase()
                    )));
                }
            }
        }
        if c.query.limit.is_some() {
            return Err(SqlError::analysis(format!(
                "CREATE {} AS SELECT statements don't support LIMIT clause.",
                c.kind.name()
            )));
        }
        if c.query.emit == Some(crate::ast::Emit::Final) && c.query.window.is_none() {
            return Err(SqlError::analysis("EMIT FINAL is only supported for windowed aggregations."));
        }
        let purpose = self.create_as_select_purpose(&c.query)?;
        let planned = match self.plan(&c.query, purpose, Some(&c.name)) {
            Ok(planned) => planned,
            Err(e) => {
                // ksqlDB's analyzer refuses an unknown TIMESTAMP column before its planner checks
                // the projection's key.
                if prop_text(&c.properties, "TIMESTAMP").is_some() {
                    if let Ok(t) = self.plan(&c.query, Purpose::Transient, Some(&c.name)) {
                        timestamp_props(&c.properties, &t.key_columns(), &t.value_columns())?;
                    }
                }
                return Err(e);
            }
        };
        let kind: Kind = c.kind.into();
        if kind != planned.kind {
            let (want, got) = (kind.name(), planned.kind.name());
            return Err(SqlError::analysis(format!(
                "Invalid result type. Your SELECT query produces a {got}. Please use CREATE {got} AS SELECT statement \
                 instead of CREATE {want} AS SELECT."
            )));
        }
        let input = &planned.inputs[0];
        let engine_properties = lock(&self.state).properties.clone();
        let (mut key_format, value_format) = formats(&c.properties, Some(input), &engine_properties)?;
        check_schema_full_names(&c.properties, key_format, value_format)?;
        let value_delimiter = value_delimiter(&c.properties, value_format, Some(input))?;
        let key_columns = planned.key_columns();
        // A key format inherited from a keyless source (`NONE`) gives way to the default once the
        // result has a key (PARTITION BY, GROUP BY, a join), as in ksqlDB.
        let explicit_key_format = ["KEY_FORMAT", "FORMAT"].iter().any(|p| prop_text(&c.properties, p).is_some());
        if key_format == Format::None && !key_columns.is_empty() && !explicit_key_format {
            // ksqlDB's default key format, which the request's properties may set.
            let default = lock(&self.state).properties.get("ksql.persistence.default.format.key").cloned();
            key_format = match default {
                Some(f) => Format::parse(&f)?,
                None => Format::Kafka,
            };
        }
        if key_columns.is_empty() && key_format != Format::None && prop_text(&c.properties, "KEY_FORMAT").is_some() {
            return Err(SqlError::analysis(format!(
                "Key format specified for {} without key columns.",
                kind.name().to_lowercase()
            )));
        }
        for col in &key_columns {
            check_key_type(&col.name, &col.ty)?;
        }
        // ksqlDB quotes the analysed statement after this refusal (a KsqlStatementException).
        check_key_format(key_format, &key_columns).map_err(|e| match e {
            SqlError::Analysis(m) => match crate::sqlformat::create_as_select(c, input) {
                Some(statement) => SqlError::Analysis(format!("{m}\nStatement: {statement}")),
                None => SqlError::Analysis(m),
            },
            other => other,
        })?;
        let key_delimiter = key_delimiter(&c.properties, key_format, Some(input))?;
        let value_columns = planned.value_columns();
        check_value_format(value_format, &value_columns)?;
        check_wrap_single_value(&c.properties, &value_columns)?;
        check_kafka_value(value_format, &value_columns)?;
        for col in &value_columns {
            check_map_keys(value_format, &col.ty)?;
        }
        check_constructed_map_keys(&c.query, input, value_format)?;
        self.check_schema_id_columns(&c.properties, value_format, "value", &value_columns)?;
        self.check_schema_id_columns(&c.properties, key_format, "key", &key_columns)?;
        // Without KAFKA_TOPIC the sink's topic is its name, after `ksql.output.topic.name.prefix`.
        let topic = prop_text(&c.properties, "KAFKA_TOPIC").unwrap_or_else(|| {
            let prefix = engine_properties.get("ksql.output.topic.name.prefix").map_or("", String::as_str);
            format!("{prefix}{}", c.name)
        });
        // Refused before the topic is made or the query starts (the write path would refuse every record).
        self.data.check_write(principal, &topic)?;
        let (timestamp_column, timestamp_format) = timestamp_props(&c.properties, &key_columns, &value_columns)?;
        let partitions = prop_u32(&c.properties, "PARTITIONS")?
            .unwrap_or_else(|| planned.inputs.iter().map(|i| i.partitions).max().unwrap_or(1));
        let partitions =
            self.ensure_topic(&topic, Some(partitions), prop_retention(&c.properties)?, kind, true, false)?;
        let seq = lock(&self.state).next_seq;
        // CREATE OR REPLACE keeps the query id, so the new query resumes where the old one stopped
        // (ksqlDB's in-place upgrade); only stateless queries can be replaced that way.
        let replaced =
            if c.or_replace { lock(&self.state).sources.get(&c.name).and_then(|s| s.query_id.clone()) } else { None };
        if replaced.is_some() && !matches!(planned.operator, Operator::Stateless(_)) {
            return Err(SqlError::analysis(format!(
                "Cannot upgrade {}: CREATE OR REPLACE only supports queries without aggregations or joins",
                c.name
            )));
        }
        let query_id = match &replaced {
            Some(old) => old.clone(),
            None => format!("{}_{}_{}", if kind == Kind::Stream { "CSAS" } else { "CTAS" }, c.name, seq),
        };
        let sink = SourceDef {
            name: c.name.clone(),
            kind,
            topic,
            key_columns,
            value_columns,
            key_format,
            value_format,
            unwrap_single_value: unwrap_single_value(&c.properties, &engine_properties) == Some(true),
            headers: Vec::new(),
            value_delimiter,
            key_delimiter,
            key_schema_full_name: prop_text(&c.properties, "KEY_SCHEMA_FULL_NAME"),
            value_schema_full_name: value_schema_full_name(&c.properties),
            value_schema_id: prop_u32(&c.properties, "VALUE_SCHEMA_ID")?,
            window: planned.window,
            timestamp_column,
            timestamp_format,
            partitions,
            statement: text.to_string(),
            query_id: Some(query_id.clone()),
            read_only: false,
            registry: self.options.schema_registry.clone(),
        };
        if let Some(old) = &replaced {
            // Stop the old query; the topic, the id and the committed positions stay.
            self.stop_query(old, false);
        }
        self.start_query(&query_id, &c.query, purpose, planned, sink.clone(), text, principal)?;
        lock(&self.state).sources.insert(c.name.clone(), sink);
        if !replaying {
            self.record_command(text, principal)?;
        }
        Ok(StatementResult::Status {
            statement: text.to_string(),
            message: format!("Created query with ID {query_id}"),
            query_id: Some(query_id),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn start_query(
        &self,
        id: &str,
        query: &Query,
        purpose: Purpose,
        planned: PlannedQuery,
        sink: SourceDef,
        text: &str,
        principal: &str,
    ) -> Result<()> {
        let sources: Vec<String> = planned.inputs.iter().map(|s| s.name.clone()).collect();
        let plan = {
            let mut plan = planned.plan.clone();
            plan.steps.push(format!("SINK {} {} (topic: {})", sink.kind.name(), sink.name, sink.topic));
            plan
        };
        let limits = collect_limits(&lock(&self.state).properties);
        let throw_on_invalid_timestamp = lock(&self.state)
            .properties
            .get("ksql.timestamp.throw.on.invalid")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut planned = planned;
        if let Some(op) = planned.operator.aggregate_mut() {
            op.set_collect_limits(limits.0, limits.1);
        }
        // The query can be planned again from its statement and input definitions, to reopen it
        // from the log after a failure; `internal_input` replaces its input's topic (the second
        // stage of a repartitioned aggregation reads the repartition topic).
        let replan = |internal_input: Option<String>| -> crate::runtime::SharedRebuild {
            let (query, mut inputs, sink_name) = (query.clone(), planned.inputs.clone(), sink.name.clone());
            if let (Some(topic), Some(input)) = (internal_input, inputs.first_mut()) {
                input.topic = topic;
            }
            Arc::new(move || {
                let lookup =
                    |name: &str| inputs.iter().find(|s| s.name == name).cloned().ok_or_else(|| unknown_source(name));
                let mut planned = plan_query(&query, &lookup, purpose, Some(&sink_name))?;
                if let Some(op) = planned.operator.aggregate_mut() {
                    op.set_collect_limits(limits.0, limits.1);
                }
                Ok(planned)
            })
        };
        let data = DataPath::new(self.data.clone(), principal);
        let start = self.start_from();
        // Each task's opener, and the input partitions it reads.
        let mut openers: Vec<(TaskOpener, Vec<(String, u32)>)> = Vec::new();
        let input_topic = planned.inputs.first().map(|i| i.topic.clone()).unwrap_or_default();
        let layout = self.query_layout(id, &planned);
        match layout {
            Layout::Parts(parts) => {
                let rebuild = replan(None);
                for part in parts {
                    let reads = match &part {
                        Part::Whole => planned
                            .inputs
                            .iter()
                            .flat_map(|i| (0..self.partitions_of(&i.topic)).map(|p| (i.topic.clone(), p)))
                            .collect(),
                        Part::Partitions(owned) => owned.iter().map(|p| (input_topic.clone(), *p)).collect(),
                        Part::Keyed(p) => vec![(input_topic.clone(), *p)],
                    };
                    let (id, log, data, sink, rebuild) =
                        (id.to_string(), self.log.clone(), data.clone(), sink.clone(), rebuild.clone());
                    let open: TaskOpener = Box::new(move || {
                        let mut runner = PersistentQuery::open_part(
                            &id,
                            log.clone(),
                            data.clone(),
                            rebuild()?,
                            &sink,
                            start,
                            part.clone(),
                        )?;
                        let again = rebuild.clone();
                        runner.set_rebuild(Box::new(move || again()));
                        if throw_on_invalid_timestamp {
                            runner.throw_on_invalid_timestamp();
                        }
                        Ok(Box::new(runner))
                    });
                    openers.push((open, reads));
                }
            }
            Layout::Repartitioned { copiers, partitions } => {
                let topic = repartition_topic(id);
                match self.log.create_topic(&topic, TopicConfig { partitions, ..TopicConfig::default() }) {
                    Ok(_) | Err(weft_log::LogError::TopicExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                let first_stage = replan(None);
                for owned in copiers {
                    let reads = owned.iter().map(|p| (input_topic.clone(), *p)).collect();
                    let (id, log, data, rebuild) =
                        (id.to_string(), self.log.clone(), data.clone(), first_stage.clone());
                    let open: TaskOpener = Box::new(move || {
                        let mut copier =
                            Repartitioner::open(&id, log.clone(), data.clone(), rebuild.clone(), owned.clone(), start)?;
                        if throw_on_invalid_timestamp {
                            copier.throw_on_invalid_timestamp();
                        }
                        Ok(Box::new(copier))
                    });
                    openers.push((open, reads));
                }
                let second_stage = replan(Some(topic.clone()));
                let internal = data.reading_internal(self.log.clone(), &topic);
                for q in 0..partitions {
                    let (id, log, data, sink, rebuild) =
                        (id.to_string(), self.log.clone(), internal.clone(), sink.clone(), second_stage.clone());
                    let open: TaskOpener = Box::new(move || {
                        let part = Part::Keyed(q);
                        let from = StartFrom::Earliest;
                        let mut runner =
                            PersistentQuery::open_part(&id, log.clone(), data.clone(), rebuild()?, &sink, from, part)?;
                        let again = rebuild.clone();
                        runner.set_rebuild(Box::new(move || again()));
                        runner.reads_internal_input();
                        Ok(Box::new(runner))
                    });
                    openers.push((open, vec![(topic.clone(), q)]));
                }
            }
        }
        // With several servers, a task is opened (its state restored) only where it runs: on the
        // others it would only be thrown away when it moves there, reopened from the log. A new
        // query opens at once, so that its first task pins its start where it was created.
        let new_query = self.log.committed_offsets(&format!("_weft_sql_{id}"))?.is_empty();
        let defer = self.options.query_gate.is_some() && !new_query;
        let mut runners: Vec<TaskHandle> = Vec::with_capacity(openers.len());
        for (open, reads) in openers {
            let task: Box<dyn QueryTask> = if defer { Box::new(Deferred::new(open, reads)) } else { open()? };
            runners.push(Arc::new(Mutex::new(task)));
        }
        let stop = Arc::new(AtomicBool::new(false));
        // Hosted until a gate says otherwise; the query's threads keep this current.
        let hosted: Vec<Arc<AtomicBool>> =
            runners.iter().map(|_| Arc::new(AtomicBool::new(self.options.query_gate.is_none()))).collect();
        // While the command topic replays, queries only open: a later DROP or TERMINATE in the log
        // must stop them before they process anything. Threads start once the replay is done.
        let mut threads = Vec::new();
        if self.options.background && !self.replaying.load(Ordering::SeqCst) {
            for (task, runner) in runners.iter().enumerate() {
                let at = (task as u32, runners.len() as u32);
                threads.push(self.spawn(id, runner.clone(), stop.clone(), hosted[task].clone(), at)?);
            }
        }
        let entry = QueryEntry {
            statement: text.to_string(),
            sink: sink.name.clone(),
            sources,
            plan,
            runners,
            stop,
            threads,
            hosted,
        };
        lock(&self.state).queries.insert(id.to_string(), entry);
        Ok(())
    }

    /// The partition count of `topic` (1 when it cannot be read: the task's opening reports that).
    fn partitions_of(&self, topic: &str) -> u32 {
        self.log.describe_topic(topic).map_or(1, |t| (t.partitions.len() as u32).max(1))
    }

    /// How a query's input is shared among its tasks (Kafka Streams' tasks):
    /// - a stateless query of one input: [`EngineOptions::query_tasks`] instances, each with every
    ///   so-many-th partition (one per partition under a gate, so every server cuts it alike);
    /// - an aggregation of one stream of several partitions: one instance per partition, each with
    ///   its partition's groups, over the input itself when the groups lie within its keys, else
    ///   over the query's repartition topic, which repartitioners copy the input to by group
    ///   (one per partition under a gate, else [`EngineOptions::query_tasks`] of them);
    /// - anything else, and an aggregation whose changelog an earlier version made with one
    ///   partition: one instance.
    fn query_layout(&self, id: &str, planned: &PlannedQuery) -> Layout {
        let whole = Layout::Parts(vec![Part::Whole]);
        if let Operator::Join(op) = &planned.operator {
            // Inputs partitioned alike by a key serialized alike: each partition pair joins apart.
            let counts: Vec<u32> = planned.inputs.iter().map(|i| self.partitions_of(&i.topic)).collect();
            let first = &planned.inputs[0];
            let alike = planned.inputs.iter().zip(&counts).all(|(i, n)| {
                *n == counts[0] && i.key_columns.len() == 1 && i.key_format == first.key_format && i.window.is_none()
            });
            if planned.inputs.len() == 2 && counts[0] > 1 && alike && op.joins_on_keys() {
                return Layout::Parts((0..counts[0]).map(Part::Keyed).collect());
            }
            return whole;
        }
        let Some(input) = planned.inputs.first().filter(|_| planned.inputs.len() == 1) else {
            return whole;
        };
        let partitions = match self.log.describe_topic(&input.topic) {
            Ok(info) => (info.partitions.len() as u32).max(1),
            Err(_) => return whole,
        };
        // Under a gate, every server must cut the query into the same tasks.
        let shares = |partitions: u32| -> Vec<Vec<u32>> {
            let tasks = match self.options.query_gate {
                Some(_) => partitions,
                None => self.options.query_tasks.clamp(1, partitions as usize) as u32,
            };
            (0..tasks).map(|task| (0..partitions).filter(|p| p % tasks == task).collect()).collect()
        };
        match &planned.operator {
            Operator::Stateless(_) if partitions > 1 => {
                let shares = shares(partitions);
                if shares.len() == 1 {
                    return whole;
                }
                Layout::Parts(shares.into_iter().map(Part::Partitions).collect())
            }
            Operator::Aggregate(op)
                if partitions > 1
                    && input.window.is_none()
                    && !op.aggregates_table()
                    && AggregateOp::changelog_partitions(self.log.as_ref(), id).is_none_or(|n| n == partitions) =>
            {
                if op.groups_within_input_keys() {
                    Layout::Parts((0..partitions).map(Part::Keyed).collect())
                } else if input.headers.is_empty() {
                    Layout::Repartitioned { copiers: shares(partitions), partitions }
                } else {
                    whole
                }
            }
            _ => whole,
        }
    }

    /// Starts the thread that runs task `task` of a query's `tasks`.
    fn spawn(
        &self,
        id: &str,
        runner: TaskHandle,
        stop: Arc<AtomicBool>,
        hosted: Arc<AtomicBool>,
        (task, tasks): (u32, u32),
    ) -> Result<JoinHandle<()>> {
        let log = self.log.clone();
        let gate =
            self.options.query_gate.clone().map(|QueryGate(gate)| -> RunsHere { Box::new(move || gate(task, tasks)) });
        std::thread::Builder::new()
            .name(format!("weft-sql-{id}"))
            .spawn(move || run_in_background(log, runner, stop, Hosting { gate, hosted }))
            .map_err(|e| SqlError::analysis(format!("cannot start a query thread: {e}")))
    }

    /// Starts the threads of the queries the replay opened.
    fn start_replayed(&self) -> Result<()> {
        if !self.options.background {
            return Ok(());
        }
        type Pending = (String, Vec<TaskHandle>, Arc<AtomicBool>, Vec<Arc<AtomicBool>>);
        let pending: Vec<Pending> = lock(&self.state)
            .queries
            .iter()
            .filter(|(_, q)| q.threads.is_empty())
            .map(|(id, q)| (id.clone(), q.runners.clone(), q.stop.clone(), q.hosted.clone()))
            .collect();
        for (id, runners, stop, hosted) in pending {
            let mut threads = Vec::new();
            let tasks = runners.len() as u32;
            for (task, (runner, hosted)) in runners.into_iter().zip(hosted).enumerate() {
                threads.push(self.spawn(&id, runner, stop.clone(), hosted, (task as u32, tasks))?);
            }
            if let Some(q) = lock(&self.state).queries.get_mut(&id) {
                q.threads = threads;
            }
        }
        Ok(())
    }

    /// Stops a query; with `cleanup` (TERMINATE, DROP) its internal changelog and repartition
    /// topics go too.
    fn stop_query(&self, id: &str, cleanup: bool) -> bool {
        let entry = lock(&self.state).queries.remove(id);
        match entry {
            Some(mut e) => {
                e.stop.store(true, Ordering::SeqCst);
                for t in std::mem::take(&mut e.threads) {
                    t.thread().unpark();
                    let _ = t.join();
                }
                if cleanup {
                    let topics = self.log.list_topics();
                    for internal in [format!("_weft_sql_{id}_changelog"), repartition_topic(id)] {
                        if topics.contains(&internal) {
                            let _ = self.log.delete_internal_topic(&internal);
                        }
                    }
                }
                true
            }
            None => false,
        }
    }

    /// A C*AS with `KEY_SCHEMA_ID` / `VALUE_SCHEMA_ID` writes with that schema: its columns must
    /// be the query's, by name, type and position, as ksqlDB's DefaultSchemaInjector checks.
    fn check_schema_id_columns(
        &self,
        properties: &Properties,
        format: Format,
        part: &str,
        columns: &[Column],
    ) -> Result<()> {
        let id_property = format!("{}_SCHEMA_ID", part.to_uppercase());
        if prop_text(properties, &id_property).is_none() || columns.is_empty() {
            return Ok(());
        }
        let schema = self.registered_schema(properties, "", format, part)?;
        let mut theirs = match (format, part) {
            (Format::Avro, "value") => crate::avro::AvroSchema::parse(&schema)?.columns()?,
            (Format::JsonSr, "value") => crate::registry::columns_from_json_schema(&schema)?,
            (Format::Avro | Format::JsonSr, _) => crate::registry::key_columns_from_schema(format, &schema)?,
            _ => return Ok(()),
        };
        // ksqlDB takes a record's field names as written (`c1`); Weft's inference upper-cases them.
        let written: Vec<String> = serde_json::from_str::<serde_json::Value>(&schema)
            .ok()
            .and_then(|s| s.get("fields").and_then(|f| f.as_array()).cloned())
            .map(|fields| fields.iter().filter_map(|f| f.get("name")?.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if written.len() == theirs.len() {
            theirs.iter_mut().zip(written).for_each(|(c, name)| c.name = name);
        }
        let suffix = if part == "key" { " KEY" } else { "" };
        let listed = |cols: &[&Column]| {
            cols.iter().map(|c| format!("`{}` {}{suffix}", c.name, c.ty)).collect::<Vec<_>>().join(", ")
        };
        let changed: Vec<&Column> = columns
            .iter()
            .enumerate()
            // Names compare ignoring case, struct fields' too (see above); types otherwise exactly.
            .filter(|(i, c)| {
                theirs.get(*i).is_none_or(|t| {
                    !t.name.eq_ignore_ascii_case(&c.name) || !t.ty.to_string().eq_ignore_ascii_case(&c.ty.to_string())
                })
            })
            .map(|(_, c)| c)
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        Err(SqlError::analysis(format!(
            "The following {part} columns are changed, missing or reordered: [{}]. Schema from schema registry is [{}]",
            listed(&changed),
            listed(&theirs.iter().collect::<Vec<_>>())
        )))
    }

    /// The schema text of a source's `part` ("key" or "value") in the registry: the one
    /// `KEY_SCHEMA_ID` / `VALUE_SCHEMA_ID` pins, else the latest of subject `<topic>-<part>`.
    fn registered_schema(&self, properties: &Properties, topic: &str, format: Format, part: &str) -> Result<String> {
        let registry = self.options.schema_registry.as_ref().ok_or_else(|| {
            let what = if part == "key" { format!("{} key", format.name()) } else { format.name().to_string() };
            SqlError::analysis(format!("the {what} format needs a schema registry: none is configured"))
        })?;
        let id_property = format!("{}_SCHEMA_ID", part.to_uppercase());
        match prop_u32(properties, &id_property)? {
            Some(id) => registry
                .0
                .schema_by_id(id)
                .map_err(|e| SqlError::analysis(format!("{id_property} {id} is not in the schema registry: {e}"))),
            None => {
                let subject = format!("{topic}-{part}");
                let (_, schema) = registry.0.latest(&subject).map_err(|e| {
                    // ksqlDB's sentence first, then which subject and why.
                    SqlError::analysis(format!(
                        "Schema for message {part}s on topic '{topic}' does not exist in the Schema Registry. \
                         (no {part} schema for subject '{subject}' in the schema registry: {e})"
                    ))
                })?;
                Ok(schema)
            }
        }
    }

    fn insert_into(
        &self,
        target: &str,
        query: &Query,
        text: &str,
        replaying: bool,
        principal: &str,
    ) -> Result<StatementResult> {
        let sink = self.lookup()(target)?;
        if sink.kind == Kind::Table {
            return Err(SqlError::analysis(format!(
                "INSERT INTO can only be used to insert into a stream. {target} is a table."
            )));
        }
        if sink.read_only {
            return Err(SqlError::analysis(format!("Cannot insert into read-only stream: {target}")));
        }
        if !sink.headers.is_empty() {
            return Err(SqlError::analysis(format!("Cannot insert into {target} because it has header columns")));
        }
        self.data.check_write(principal, &sink.topic)?;
        if query.limit.is_some() {
            return Err(SqlError::analysis("INSERT INTO statements don't support LIMIT clause."));
        }
        let mut planned = self.plan(query, Purpose::Persistent, Some(target))?;
        // ksqlDB casts a result column to the sink's type where the cast only widens a number.
        let widened = implicit_casts(query, &planned, &sink);
        let query = match &widened {
            Some(q) => {
                planned = self.plan(q, Purpose::Persistent, Some(target))?;
                q
            }
            None => query,
        };
        if planned.kind != sink.kind {
            return Err(SqlError::analysis(format!(
                "Incompatible data sink and query result. Data sink ({target}) type is {} but select query result is {}.",
                sink.kind.name(),
                planned.kind.name()
            )));
        }
        let same = |a: &[Column], b: &[Column]| {
            a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| y.name == x.name && y.ty == x.ty))
        };
        if !same(&planned.key_columns(), &sink.key_columns) || !same(&planned.value_columns(), &sink.value_columns) {
            return Err(SqlError::analysis(format!(
                "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
                schema_text(&planned.key_columns(), &planned.value_columns()),
                schema_text(&sink.key_columns, &sink.value_columns)
            )));
        }
        let seq = lock(&self.state).next_seq;
        let query_id = format!("INSERTQUERY_{seq}");
        self.start_query(&query_id, query, Purpose::Persistent, planned, sink, text, principal)?;
        if !replaying {
            self.record_command(text, principal)?;
        }
        Ok(StatementResult::Status {
            statement: text.to_string(),
            message: format!("Created query with ID {query_id}"),
            query_id: Some(query_id),
        })
    }

    fn insert_values(
        &self,
        target: &str,
        columns: Option<&[String]>,
        values: &[Expr],
        text: &str,
        principal: &str,
    ) -> Result<StatementResult> {
        let source = self.lookup()(target).map_err(|e| {
            // ksqlDB names the source and, when only the case differs, the one meant.
            let hint = alternatives_hint(&lock(&self.state), target, None);
            match hint {
                Some(hint) => {
                    SqlError::analysis(format!("Cannot insert values into an unknown stream/table: `{target}`{hint}"))
                }
                None if matches!(e, SqlError::Analysis(_)) => {
                    SqlError::analysis(format!("Cannot insert values into an unknown stream/table: `{target}`"))
                }
                None => e,
            }
        })?;
        if source.read_only {
            return Err(read_only_values(&source));
        }
        self.data.check_write(principal, &source.topic)?;
        let all: Vec<String> = source.key_columns.iter().chain(&source.value_columns).map(|c| c.name.clone()).collect();
        let names: Vec<String> = columns.map(<[String]>::to_vec).unwrap_or_else(|| all.clone());
        let headers: Vec<&str> =
            source.header_columns().map(|(c, _)| c.name.as_str()).filter(|h| names.iter().any(|n| n == h)).collect();
        if !headers.is_empty() {
            return Err(SqlError::analysis(format!("Cannot insert into HEADER columns: {}", headers.join(", "))));
        }
        if names.len() != values.len() {
            return Err(SqlError::analysis(format!(
                "expected {} values but got {}: every listed column needs a value",
                names.len(),
                values.len()
            )));
        }
        let mut row: BTreeMap<String, Value> = BTreeMap::new();
        let empty = Scope::default();
        for (name, e) in names.iter().zip(values) {
            let ty = if name == ROWTIME {
                SqlType::Bigint
            } else {
                source
                    .key_columns
                    .iter()
                    .chain(&source.value_columns)
                    .find(|c| &c.name == name)
                    .map(|c| c.ty.clone())
                    .ok_or_else(|| SqlError::analysis(format!("column name {name} does not exist in {target}")))?
            };
            let c = compile(e, &empty)?;
            let v = c.eval(&[]).into_owned();
            let v = if v.is_null() { v } else { crate::functions::cast_value(&v, &ty) };
            if v.is_null() && !c.eval(&[]).is_null() {
                return Err(SqlError::analysis(format!("Expected type {ty} for field {name} but got {e} ({})", c.ty)));
            }
            row.insert(name.clone(), v);
        }
        self.append_row(&source, &row, principal)?;
        Ok(StatementResult::Status { statement: text.to_string(), message: "Inserted 1 row".into(), query_id: None })
    }

    /// Inserts one row given as a JSON object of column names (case-insensitive, as unquoted SQL
    /// names are) to values, as ksqlDB's `/inserts-stream` does; `ROWTIME` sets the record time.
    /// Unknown columns and values of the wrong type are refused, naming the column.
    pub fn insert_json(&self, target: &str, row: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
        self.insert_json_as(ANONYMOUS, target, row)
    }

    /// [`Engine::insert_json`] for `principal`.
    pub fn insert_json_as(
        &self,
        principal: &str,
        target: &str,
        row: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let source = self.lookup()(&target.to_uppercase()).or_else(|_| self.lookup()(target))?;
        if source.read_only {
            return Err(read_only_values(&source));
        }
        self.data.check_write(principal, &source.topic)?;
        let mut values: BTreeMap<String, Value> = BTreeMap::new();
        for (field, json) in row {
            let upper = field.to_uppercase();
            let (name, ty) = if upper == ROWTIME {
                (upper, SqlType::Bigint)
            } else {
                let column = source
                    .key_columns
                    .iter()
                    .chain(&source.value_columns)
                    .find(|c| c.name == upper || c.name == *field)
                    .ok_or_else(|| {
                        SqlError::analysis(format!("column name {field} does not exist in {}", source.name))
                    })?;
                if source.header_columns().any(|(h, _)| h.name == column.name) {
                    return Err(SqlError::analysis(format!("Cannot insert into HEADER columns: {}", column.name)));
                }
                (column.name.clone(), column.ty.clone())
            };
            let value = from_json_value(json, &ty)
                .map_err(|e| SqlError::analysis(format!("invalid value for column {field} ({ty}): {e}")))?;
            values.insert(name, value);
        }
        self.append_row(&source, &values, principal)
    }

    /// Encodes a row of named values as `source`'s key and value and writes it to its topic through
    /// the write path, which partitions it as Kafka's default partitioner does.
    fn append_row(&self, source: &SourceDef, row: &BTreeMap<String, Value>, principal: &str) -> Result<()> {
        let null = Value::Null;
        let keys: Vec<&Value> = source.key_columns.iter().map(|c| row.get(&c.name).unwrap_or(&null)).collect();
        let vals: Vec<&Value> =
            source.encoded_value_columns().iter().map(|c| row.get(&c.name).unwrap_or(&null)).collect();
        let key = source.key_codec().encode(&keys, None)?;
        let mut value = Vec::new();
        source.value_codec().encode(&vals, &mut value)?;
        let timestamp = match row.get(ROWTIME) {
            Some(v) => v.as_i64(),
            None => None,
        };
        let record = Record { key, value: Some(value), headers: Vec::new(), timestamp };
        self.data.write(principal, &source.topic, vec![(None, record)], crate::access::Writer::Statement)
    }

    fn show(&self, kind: ShowKind, _extended: bool, text: &str) -> StatementResult {
        let st = lock(&self.state);
        let statement = text.to_string();
        match kind {
            ShowKind::Streams | ShowKind::Tables => {
                let want = if kind == ShowKind::Streams { Kind::Stream } else { Kind::Table };
                let list: Vec<SourceInfo> =
                    st.sources.values().filter(|s| s.kind == want).map(|s| describe(&st, s)).collect();
                if kind == ShowKind::Streams {
                    StatementResult::Streams { statement, streams: list }
                } else {
                    StatementResult::Tables { statement, tables: list }
                }
            }
            ShowKind::Queries => StatementResult::Queries { statement, queries: query_infos(&st) },
            ShowKind::Topics => {
                let topics = self
                    .log
                    .list_topics()
                    .into_iter()
                    .filter(|t| !t.starts_with(weft_log::INTERNAL_TOPIC_PREFIX))
                    .map(|name| {
                        let partitions = self.log.describe_topic(&name).map_or(0, |d| d.partitions.len() as u32);
                        TopicInfo { name, partitions }
                    })
                    .collect();
                StatementResult::Topics { statement, topics }
            }
            ShowKind::Properties => StatementResult::Properties { statement, properties: st.properties.clone() },
            ShowKind::Functions => StatementResult::Functions {
                statement,
                scalar: crate::functions::SCALAR_FUNCTIONS.iter().map(|s| s.to_string()).collect(),
                aggregate: crate::functions::AGGREGATES.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    fn explain(&self, inner: &Statement, text: &str) -> Result<StatementResult> {
        let (query, sink) = match inner {
            Statement::Query(q) => (q, None),
            Statement::CreateAsSelect(c) => (&c.query, Some(c.name.clone())),
            Statement::InsertInto { target, query } => (query, Some(target.clone())),
            _ => {
                return Err(SqlError::analysis("EXPLAIN needs a query, CREATE ... AS SELECT or INSERT INTO ... SELECT"))
            }
        };
        let purpose = if sink.is_some() { Purpose::Persistent } else { Purpose::Transient };
        let planned = self.plan(query, purpose, sink.as_deref())?;
        let mut plan = planned.plan.clone();
        if let Some(s) = &sink {
            plan.steps.push(format!("SINK {s}"));
        }
        Ok(StatementResult::Explain { statement: text.to_string(), query_id: None, plan: plan.to_string(), sink })
    }

    fn drop_source(
        &self,
        kind: SourceKind,
        name: &str,
        if_exists: bool,
        delete_topic: bool,
        text: &str,
    ) -> Result<StatementResult> {
        let kind: Kind = kind.into();
        let source = {
            let st = lock(&self.state);
            match st.sources.get(name) {
                None if if_exists => {
                    return Ok(StatementResult::Status {
                        statement: text.to_string(),
                        message: format!("Source `{name}` does not exist."),
                        query_id: None,
                    })
                }
                None => {
                    // ksqlDB's DropSourceFactory: "Stream X does not exist.", with a hint at a
                    // source of the other kind by that name.
                    let hint = alternatives_hint(&st, name, Some(kind)).unwrap_or_default();
                    let word = if kind == Kind::Stream { "Stream" } else { "Table" };
                    return Err(SqlError::analysis(format!("{word} {name} does not exist.{hint}")));
                }
                Some(s) if s.kind != kind => {
                    return Err(SqlError::analysis(format!(
                        "Incompatible data source type is {}, but statement was DROP {}",
                        s.kind.name(),
                        kind.name()
                    )))
                }
                Some(s) => s.clone(),
            }
        };
        if delete_topic && source.read_only {
            return Err(SqlError::analysis(format!("Cannot delete topic for read-only source: {name}")));
        }
        let guard = self.drop_guard.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(guard) = guard.filter(|_| !self.replaying.load(Ordering::SeqCst)) {
            let dependents = guard.dependents(name, &source.topic);
            if !dependents.is_empty() {
                return Err(SqlError::analysis(format!(
                    "Cannot drop {name}: published data products depend on it: {}",
                    dependents.join(", ")
                )));
            }
        }
        let (readers, writers) = {
            let st = lock(&self.state);
            let readers: Vec<String> = st
                .queries
                .iter()
                .filter(|(_, q)| q.sources.iter().any(|s| s == name))
                .map(|(id, _)| id.clone())
                .collect();
            let writers: Vec<String> =
                st.queries.iter().filter(|(_, q)| q.sink == name).map(|(id, _)| id.clone()).collect();
            (readers, writers)
        };
        if !readers.is_empty() {
            return Err(SqlError::analysis(format!(
                "Cannot drop {name}. The following queries read from this source: [{}] and the following queries write \
                 into this source: [{}]. You need to terminate them before dropping {name}.",
                readers.join(", "),
                writers.join(", ")
            )));
        }
        // ksqlDB terminates the query that created the source along with it.
        for w in &writers {
            self.stop_query(w, true);
        }
        lock(&self.state).sources.remove(name);
        if delete_topic {
            match self.log.delete_topic(&source.topic) {
                Ok(()) | Err(weft_log::LogError::TopicNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(StatementResult::Status {
            statement: text.to_string(),
            message: format!("Source `{name}` (topic: {}) was dropped.", source.topic),
            query_id: None,
        })
    }

    fn terminate(&self, id: Option<&str>, text: &str) -> Result<StatementResult> {
        let ids: Vec<String> = match id {
            Some(id) => {
                if !lock(&self.state).queries.contains_key(id) {
                    return Err(SqlError::analysis(format!("Unknown queryId: {id}")));
                }
                vec![id.to_string()]
            }
            None => lock(&self.state).queries.keys().cloned().collect(),
        };
        for id in &ids {
            self.stop_query(id, true);
            // The sink stays; it just has no writer any more.
            let mut st = lock(&self.state);
            for s in st.sources.values_mut() {
                if s.query_id.as_deref() == Some(id) {
                    s.query_id = None;
                }
            }
        }
        Ok(StatementResult::Status {
            statement: text.to_string(),
            message: if id.is_some() { "Query terminated.".into() } else { "All queries terminated.".into() },
            query_id: id.map(str::to_string),
        })
    }

    fn pull_query(&self, q: &Query, text: &str, principal: &str) -> Result<StatementResult> {
        check_pull(q)?;
        let planned = self.plan(q, Purpose::Transient, None)?;
        let columns = planned.columns.clone();
        let rows = self.run_pull(planned, principal)?;
        let cap = self.options.max_pull_bytes;
        let mut bytes = 0usize;
        let mut answer = Vec::with_capacity(rows.len());
        for row in &rows {
            let row = row_to_json(row, &columns);
            bytes = bytes.saturating_add(json_len(&row));
            if bytes > cap {
                return Err(SqlError::analysis(format!(
                    "the pull query's answer is larger than {cap} bytes (max_pull_bytes): select fewer columns, \
                     narrow it with WHERE or LIMIT, or follow it with a push query (EMIT CHANGES)"
                )));
            }
            answer.push(row);
        }
        Ok(StatementResult::Rows { statement: text.to_string(), columns: field_infos(&columns), rows: answer })
    }

    /// Runs a pull query: over a table, its current rows; over a stream, the records so far.
    fn run_pull(&self, planned: PlannedQuery, principal: &str) -> Result<Vec<Row>> {
        let limit = planned.limit;
        let source = planned.inputs.first().cloned().ok_or_else(|| SqlError::analysis("query has no source"))?;
        let data = DataPath::new(self.data.clone(), principal);
        data.check_read(&source.topic)?;
        // The answer may hold up to `LIMIT` rows, and never more than the cap.
        let cap = self.options.max_pull_rows;
        let wanted = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let too_many = || {
            SqlError::analysis(format!(
                "the pull query's answer has more than {cap} rows (max_pull_rows): narrow it with WHERE or LIMIT, \
                 or follow it with a push query (EMIT CHANGES)"
            ))
        };
        let mut rows = Vec::new();
        match (&planned.operator, source.kind) {
            (Operator::Stateless(op), Kind::Table) => {
                // A table an aggregation maintains is read from the query's state; other tables
                // from their topic.
                // Only a query running here has current state; elsewhere its topic is the answer.
                let runners = source.query_id.as_ref().and_then(|id| {
                    lock(&self.state)
                        .queries
                        .get(id)
                        .filter(|q| q.hosted.iter().all(|h| h.load(Ordering::SeqCst)))
                        .map(|q| q.runners.clone())
                });
                // The instances of a query split by key hold its groups between them.
                let snapshot = runners.and_then(|runners| {
                    let mut rows = Vec::new();
                    for r in runners {
                        rows.extend(r.lock().unwrap_or_else(|e| e.into_inner()).table_snapshot()?);
                    }
                    Some(rows)
                });
                let table: Vec<Row> = match snapshot {
                    Some(rows) => rows,
                    None => {
                        materialize(self.log.as_ref(), &data, &source, cap.saturating_mul(10))?.into_values().collect()
                    }
                };
                let mut sink = Collect(&mut rows);
                for (i, row) in table.iter().enumerate() {
                    let origin = Origin { input: 0, partition: 0, offset: i as u64 };
                    op.process(row, Decoded::Row, origin, &mut sink)?;
                    if sink.0.len() >= wanted {
                        break;
                    }
                    if sink.0.len() > cap {
                        return Err(too_many());
                    }
                }
            }
            (Operator::Stateless(_), Kind::Stream) => {
                // A scan of the stream so far.
                let mut push = PushQuery::open(self.log.clone(), data, planned, StartFrom::Earliest)?;
                rows = push.drain_available(cap)?;
                if rows.len() > cap {
                    return Err(too_many());
                }
            }
            _ => {
                return Err(SqlError::Unsupported(
                    "pull queries with aggregations or joins: query the materialized table instead".into(),
                ))
            }
        }
        if let Some(l) = limit {
            rows.truncate(l as usize);
        }
        Ok(rows)
    }

    /// The body of ksqlDB's `POST /query`: a push query (`EMIT CHANGES`), a pull query or `PRINT`.
    pub fn query(&self, sql: &str, properties: &BTreeMap<String, String>) -> Result<QueryHandle> {
        self.query_as(ANONYMOUS, sql, properties)
    }

    /// [`Engine::query`] for `principal` (whose reads the query's are).
    pub fn query_as(&self, principal: &str, sql: &str, properties: &BTreeMap<String, String>) -> Result<QueryHandle> {
        let stmts = self.parse(sql)?;
        if stmts.len() != 1 {
            return Err(SqlError::analysis("expected exactly one query"));
        }
        match &stmts[0].statement {
            Statement::Print { .. } => Ok(QueryHandle::Print(self.print_topic_as(principal, sql)?)),
            Statement::Query(q) if q.emit.is_some() => {
                Ok(QueryHandle::Push(Box::new(self.push_query_as(principal, sql, properties)?)))
            }
            Statement::Query(q) => {
                check_pull(q)?;
                let planned = self.plan(q, Purpose::Transient, None)?;
                let columns = planned.columns.clone();
                let rows = self.run_pull(planned, principal)?;
                Ok(QueryHandle::Pull { columns, rows })
            }
            _ => Err(SqlError::analysis("POST /query runs SELECT and PRINT statements; use /ksql for the others")),
        }
    }

    /// Starts `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]` (ksqlDB's `POST /query`).
    pub fn print_topic(&self, sql: &str) -> Result<PrintQuery> {
        self.print_topic_as(ANONYMOUS, sql)
    }

    /// [`Engine::print_topic`] for `principal`.
    pub fn print_topic_as(&self, principal: &str, sql: &str) -> Result<PrintQuery> {
        let mut stmts = self.parse(sql)?;
        let Some(Statement::Print { topic, from_beginning, interval, limit }) = stmts.pop().map(|s| s.statement) else {
            return Err(SqlError::analysis("expected a PRINT statement"));
        };
        // ksqlDB resolves unquoted names case-insensitively against existing topics.
        let topics = self.log.list_topics();
        let topic = topics
            .iter()
            .find(|t| **t == topic)
            .or_else(|| topics.iter().find(|t| t.eq_ignore_ascii_case(&topic)))
            .cloned()
            .ok_or_else(|| SqlError::analysis(format!("Could not find topic '{topic}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive.")))?;
        let data = DataPath::new(self.data.clone(), principal);
        data.check_read(&topic)?;
        let partitions = self.log.describe_topic(&topic)?.partitions.len() as u32;
        let mut positions = Vec::new();
        let mut receivers = Vec::new();
        for p in 0..partitions {
            let (earliest, latest) = self.log.offsets(&topic, p)?;
            positions.push(if from_beginning { earliest } else { latest });
            receivers.push(self.log.subscribe(&topic, p)?);
        }
        Ok(PrintQuery {
            data,
            topic,
            positions,
            receivers,
            interval: interval.unwrap_or(1).max(1),
            seen: 0,
            limit,
            printed: 0,
        })
    }

    /// Starts a push query (`SELECT ... EMIT CHANGES`, ksqlDB's `POST /query`). `properties` may set
    /// `auto.offset.reset` (`earliest` or `latest`, the default).
    pub fn push_query(&self, sql: &str, properties: &BTreeMap<String, String>) -> Result<PushQuery> {
        self.push_query_as(ANONYMOUS, sql, properties)
    }

    /// [`Engine::push_query`] for `principal` (whose reads the query's are).
    pub fn push_query_as(
        &self,
        principal: &str,
        sql: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<PushQuery> {
        let mut stmts = self.parse(sql)?;
        if stmts.len() != 1 {
            return Err(SqlError::analysis("expected exactly one SELECT statement"));
        }
        let Statement::Query(q) = stmts.remove(0).statement else {
            return Err(SqlError::analysis("expected a SELECT statement"));
        };
        if q.emit.is_none() {
            return Err(SqlError::analysis(
                "a push query needs EMIT CHANGES; without it, use execute() for a pull query",
            ));
        }
        let planned = self.plan(&q, Purpose::Transient, None)?;
        let start = match canonical_properties(properties).get("auto.offset.reset") {
            Some(v) => StartFrom::from_property(Some(v), StartFrom::Latest),
            None => {
                let st = lock(&self.state);
                StartFrom::from_property(st.properties.get("auto.offset.reset").map(String::as_str), StartFrom::Latest)
            }
        };
        let source = planned.inputs.first().map(|s| s.name.clone()).unwrap_or_default();
        let data = DataPath::new(self.data.clone(), principal);
        let mut push = PushQuery::open(self.log.clone(), data, planned, start)?;
        let n = self.transient.fetch_add(1, Ordering::Relaxed);
        push.id = format!("transient_{source}_{n}");
        Ok(push)
    }

    /// Runs a pull query given as text and returns its column descriptions and rows.
    pub fn pull(&self, sql: &str) -> Result<(Vec<FieldInfo>, Vec<Vec<serde_json::Value>>)> {
        match self.execute(sql)?.pop() {
            Some(StatementResult::Rows { columns, rows, .. }) => Ok((columns, rows)),
            _ => Err(SqlError::analysis("expected a pull query")),
        }
    }

    /// Drives every persistent query until none has input left (when not running in background).
    /// Returns the number of input records consumed.
    pub fn run_until_idle(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let runners: Vec<TaskHandle> =
                lock(&self.state).queries.values().flat_map(|q| q.runners.iter().cloned()).collect();
            let mut progress = 0;
            for r in runners {
                let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
                if r.stats_mut().failing {
                    r.recover()?;
                }
                match r.run_until_idle() {
                    Ok(n) => progress += n,
                    Err(e) => {
                        // The next call reopens the query from the log before polling again.
                        r.stats_mut().failing = true;
                        r.stats_mut().errors += 1;
                        r.stats_mut().last_error = Some(e.to_string());
                        return Err(e);
                    }
                }
            }
            total += progress;
            if progress == 0 {
                return Ok(total);
            }
        }
    }

    /// The definition of a stream or table.
    pub fn source(&self, name: &str) -> Option<SourceDef> {
        lock(&self.state).sources.get(name).cloned()
    }

    /// Installs the hook asked before every `DROP STREAM` / `DROP TABLE` (not during the replay of
    /// the command topic: a drop that was recorded happened).
    pub fn set_drop_guard(&self, guard: Arc<dyn crate::lineage::DropGuard>) {
        *self.drop_guard.write().unwrap_or_else(|e| e.into_inner()) = Some(guard);
    }

    /// The column lineage of a stream or table written by persistent queries (`CREATE ... AS
    /// SELECT`, `INSERT INTO ... SELECT`, including terminated ones that created it); `None` for an
    /// unknown name or a source no query writes.
    pub fn lineage(&self, name: &str) -> Option<crate::lineage::QueryLineage> {
        let (sink, written_by, sources) = {
            let st = lock(&self.state);
            let sink = st.sources.get(name)?.clone();
            let mut written_by: Vec<(Option<String>, String)> = st
                .queries
                .iter()
                .filter(|(_, q)| q.sink == name)
                .map(|(id, q)| (Some(id.clone()), q.statement.clone()))
                .collect();
            if !written_by.iter().any(|(_, text)| *text == sink.statement) {
                written_by.insert(0, (None, sink.statement.clone()));
            }
            (sink, written_by, st.sources.clone())
        };
        let lookup = |n: &str| sources.get(n).cloned();
        let mut lineage = crate::lineage::QueryLineage {
            sink: sink.name.clone(),
            sink_topic: sink.topic.clone(),
            query_ids: Vec::new(),
            inputs: Vec::new(),
            columns: Vec::new(),
        };
        let mut found = false;
        for (id, text) in written_by {
            let Ok(statements) = self.parse(&text) else { continue };
            for parsed in statements {
                let query = match &parsed.statement {
                    Statement::CreateAsSelect(c) => &c.query,
                    Statement::InsertInto { query, .. } => query,
                    _ => continue,
                };
                found = true;
                let (inputs, columns) = crate::lineage::lineage_of(query, &sink, &lookup);
                for input in inputs {
                    if !lineage.inputs.contains(&input) {
                        lineage.inputs.push(input);
                    }
                }
                if lineage.columns.is_empty() {
                    lineage.columns = columns;
                } else {
                    for (have, more) in lineage.columns.iter_mut().zip(columns) {
                        have.inputs.extend(more.inputs);
                        have.inputs.sort();
                        have.inputs.dedup();
                    }
                }
            }
            lineage.query_ids.extend(id);
        }
        found.then_some(lineage)
    }

    /// Every stream and table.
    pub fn sources(&self) -> Vec<SourceDef> {
        lock(&self.state).sources.values().cloned().collect()
    }

    /// Persistent queries and their counters.
    pub fn queries(&self) -> Vec<QueryInfo> {
        query_infos(&lock(&self.state))
    }

    /// Stops every query thread (the catalog stays in the command topic).
    pub fn shutdown(&self) {
        let ids: Vec<String> = lock(&self.state).queries.keys().cloned().collect();
        for id in ids {
            self.stop_query(&id, false);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What [`Engine::query`] started.
pub enum QueryHandle {
    /// Stream rows with [`PushQuery::next_rows`] until the client leaves or [`PushQuery::is_done`].
    Push(Box<PushQuery>),
    /// All rows at once.
    Pull { columns: Vec<OutputColumn>, rows: Vec<Row> },
    /// Stream lines with [`PrintQuery::next_lines`].
    Print(PrintQuery),
}

/// ksqlDB's schema string of a result (`` `ID` STRING KEY, `X` INTEGER ``), for `/query` headers.
pub fn schema_text_of(columns: &[OutputColumn]) -> String {
    columns
        .iter()
        .map(|c| format!("`{}` {}{}", c.name, c.ty, if c.is_key { " KEY" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A running `PRINT`: the topic's records as text lines, in ksqlDB's format.
pub struct PrintQuery {
    data: DataPath,
    pub topic: String,
    positions: Vec<u64>,
    receivers: Vec<tokio::sync::watch::Receiver<u64>>,
    interval: u64,
    seen: u64,
    limit: Option<u64>,
    printed: u64,
}

impl PrintQuery {
    pub fn is_done(&self) -> bool {
        self.limit.is_some_and(|l| self.printed >= l)
    }

    /// The next lines (`rowtime: ..., key: ..., value: ..., partition: n`), waiting up to `timeout`.
    pub fn next_lines(&mut self, timeout: Duration) -> Result<Vec<String>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let mut lines = Vec::new();
            for p in 0..self.positions.len() {
                if self.is_done() {
                    break;
                }
                let r = self.data.read(&self.topic, p as u32, self.positions[p], ReadLimits::default())?;
                for rec in &r.records {
                    if self.is_done() {
                        break;
                    }
                    self.seen += 1;
                    if !(self.seen - 1).is_multiple_of(self.interval) {
                        continue;
                    }
                    let text = |b: &Option<Vec<u8>>| match b {
                        None => "<null>".to_string(),
                        Some(b) => String::from_utf8(b.clone()).unwrap_or_else(|_| crate::format::base64(b)),
                    };
                    let rowtime = crate::functions::format_millis(rec.timestamp, "yyyy/MM/dd HH:mm:ss.SSS", 0)
                        .unwrap_or_default();
                    lines.push(format!(
                        "rowtime: {rowtime} Z, key: {}, value: {}, partition: {p}",
                        text(&rec.key),
                        text(&rec.value)
                    ));
                    self.printed += 1;
                }
                self.positions[p] = r.next_offset.max(self.positions[p]);
            }
            let now = std::time::Instant::now();
            if !lines.is_empty() || self.is_done() || now >= deadline {
                return Ok(lines);
            }
            wait_for_change(&mut self.receivers, deadline - now);
        }
    }
}

struct Collect<'a>(&'a mut Vec<Row>);

impl RowSink for Collect<'_> {
    fn emit(&mut self, change: Change<'_>, _origin: Origin) -> Result<()> {
        if !change.tombstone {
            self.0.push(change.cols.iter().map(|c| c.clone().into_owned()).collect());
        }
        Ok(())
    }
}

/// Whether a task runs on this server now: its [`EngineOptions::query_gate`] answer.
type RunsHere = Box<dyn Fn() -> bool + Send>;

/// Where a task runs, and whether it runs here now.
struct Hosting {
    gate: Option<RunsHere>,
    hosted: Arc<AtomicBool>,
}

/// How often a query that does not run here asks the gate again.
const GATE_CHECK: Duration = Duration::from_millis(200);

/// The pauses between the attempts of a failing query: doubling from the first to the last, as
/// ksqlDB backs off a query in ERROR. A failure that will not go away (a record the query cannot
/// process, a sink it may not write) is then tried a few times a minute instead of twice a second
/// forever, and a passing one (a log briefly full) is still retried within a second.
///
/// The schedule starts again after a minute without failures rather than after the first batch
/// that goes through: a batch's write fails after the batch has been handed over (the next poll
/// finds it), so a query failing on every attempt still has polls that succeed in between.
#[derive(Debug)]
struct RetryBackoff {
    next: Duration,
    last_failure: Option<std::time::Instant>,
}

impl RetryBackoff {
    const FIRST: Duration = Duration::from_millis(500);
    const LAST: Duration = Duration::from_secs(30);
    const QUIET: Duration = Duration::from_secs(60);

    fn new() -> RetryBackoff {
        RetryBackoff { next: Self::FIRST, last_failure: None }
    }

    /// The pause after an attempt that failed at `now`.
    fn failed(&mut self, now: std::time::Instant) -> Duration {
        if self.last_failure.is_some_and(|last| now.saturating_duration_since(last) > Self::QUIET) {
            self.next = Self::FIRST;
        }
        self.last_failure = Some(now);
        let pause = self.next;
        self.next = (self.next * 2).min(Self::LAST);
        pause
    }
}

/// Sleeps for `pause`, or less if the query is stopped meanwhile ([`Engine::stop_query`] unparks
/// the thread): a TERMINATE does not wait out a failing query's backoff.
fn pause_unless_stopped(pause: Duration, stop: &AtomicBool) {
    let until = std::time::Instant::now() + pause;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left);
    }
}

fn run_in_background(log: Arc<dyn EventLog>, runner: TaskHandle, stop: Arc<AtomicBool>, hosting: Hosting) {
    // The state in memory is the log's as of the last batch run here; once another server may
    // have run the query, it is reopened from the log before the next batch.
    let mut stale = false;
    let mut backoff = RetryBackoff::new();
    let mut receivers = Vec::new();
    {
        let r = runner.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, p) in r.input_partitions() {
            if let Ok(rx) = log.subscribe(&topic, p) {
                receivers.push(rx);
            }
        }
    }
    while !stop.load(Ordering::SeqCst) {
        if hosting.gate.as_ref().is_some_and(|runs_here| !runs_here()) {
            if !stale {
                // Handing over: what was written is committed before another server starts.
                let mut r = runner.lock().unwrap_or_else(|e| e.into_inner());
                hosting.hosted.store(false, Ordering::SeqCst);
                if !r.stats_mut().failing {
                    if let Err(e) = r.commit_pending() {
                        r.stats_mut().errors += 1;
                        r.stats_mut().last_error = Some(e.to_string());
                    }
                }
                stale = true;
            }
            std::thread::sleep(GATE_CHECK);
            continue;
        }
        let result = {
            let mut r = runner.lock().unwrap_or_else(|e| e.into_inner());
            // After a failure the in-memory state may be ahead of the log, and after another server
            // ran the query behind it: reopen from the log first.
            let result = if r.stats_mut().failing || stale {
                let reopened = r.recover().map(|_| 1);
                stale = false;
                reopened
            } else {
                hosting.hosted.store(true, Ordering::SeqCst);
                r.poll(crate::runtime::BATCH_RECORDS)
            };
            if let Err(e) = &result {
                r.stats_mut().failing = true;
                r.stats_mut().errors += 1;
                r.stats_mut().last_error = Some(e.to_string());
            }
            result
        };
        match result {
            Ok(0) => {
                wait_for_change(&mut receivers, Duration::from_millis(200));
            }
            Ok(_) => {}
            Err(_) => pause_unless_stopped(backoff.failed(std::time::Instant::now()), &stop),
        }
    }
    // Commit what was written, so the next start does not replay it (it would only drop it again).
    let mut r = runner.lock().unwrap_or_else(|e| e.into_inner());
    if !r.stats_mut().failing {
        if let Err(e) = r.commit_pending() {
            r.stats_mut().errors += 1;
            r.stats_mut().last_error = Some(e.to_string());
        }
    }
}

/// ksqlDB refuses key columns that are or contain maps: a map's serialized order is not stable, so
/// equal keys could land in different partitions (ksqlDB issue 6621). The message is ksqlDB's.
pub(crate) fn check_key_type(name: &str, ty: &SqlType) -> Result<()> {
    fn has_map(ty: &SqlType) -> bool {
        match ty {
            SqlType::Map(..) => true,
            SqlType::Array(inner) => has_map(inner),
            SqlType::Struct(fields) => fields.iter().any(|(_, t)| has_map(t)),
            _ => false,
        }
    }
    if has_map(ty) {
        return Err(SqlError::analysis(format!(
            "Map keys, including types that contain maps, are not supported as they may lead to unexpected \
             behavior due to inconsistent serialization. Key column name: `{name}`. Column type: {ty}. See \
             https://github.com/confluentinc/ksql/issues/6621 for more."
        )));
    }
    Ok(())
}

/// ksqlDB's checks of a `HEADERS` or `HEADER('k')` column: its type, and one `HEADERS` column at
/// most (`has_all`: one was declared before).
fn check_header_column(col: &crate::ast::ColumnDef, has_all: bool) -> Result<()> {
    match &col.header {
        None if has_all => Err(SqlError::analysis("Schema already contains a HEADERS column.")),
        None if col.ty != crate::metastore::headers_type() => Err(SqlError::analysis(format!(
            "Invalid type for HEADERS column: expected ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got {}",
            col.ty
        ))),
        Some(key) if col.ty != SqlType::Bytes => {
            Err(SqlError::analysis(format!("Invalid type for HEADER('{key}') column: expected BYTES, got {}", col.ty)))
        }
        _ => Ok(()),
    }
}

/// Map keys are STRING in every value format, refused in the format's words as ksqlDB does.
fn check_map_keys(format: Format, ty: &SqlType) -> Result<()> {
    match ty {
        SqlType::Map(k, v) => {
            if **k != SqlType::String {
                return Err(SqlError::analysis(match format {
                    Format::Avro => "Avro only supports MAPs with STRING keys".to_string(),
                    Format::Json | Format::JsonSr => "JSON only supports MAP types with STRING keys".to_string(),
                    Format::Protobuf | Format::ProtobufNoSr => {
                        format!("{} format only supports MAP types with STRING keys", format.name())
                    }
                    _ => format!("MAP keys must be STRING, found {ty}"),
                }));
            }
            check_map_keys(format, v)
        }
        SqlType::Array(inner) => check_map_keys(format, inner),
        SqlType::Struct(fields) => fields.iter().try_for_each(|(_, t)| check_map_keys(format, t)),
        _ => Ok(()),
    }
}

/// ksqlDB types `MAP(k := v)` by its keys: a C*AS over one source that builds a map with keys of
/// another type than STRING is refused for the formats whose maps have STRING keys (Weft holds
/// every map's keys as text, so the map's column type alone does not show it).
fn check_constructed_map_keys(query: &Query, input: &SourceDef, format: Format) -> Result<()> {
    if !query.joins.is_empty()
        || !matches!(format, Format::Avro | Format::Json | Format::JsonSr | Format::Protobuf | Format::ProtobufNoSr)
    {
        return Ok(());
    }
    let scope = input.scope(query.from.qualifier());
    let mut key_type = None;
    for item in &query.select {
        let SelectItem::Expr { expr, .. } = item else { continue };
        expr.walk(&mut |e| {
            let Expr::Map(entries) = e else { return };
            // The keys' common type: STRING when one key is (a literal such as 10 joins it).
            // Keys that do not compile here (lambda parameters, aggregates) are left to the planner.
            let types: Vec<SqlType> =
                entries.iter().filter_map(|(k, _)| crate::expr::compile(k, &scope).ok()).map(|c| c.ty).collect();
            if !types.contains(&SqlType::String) {
                if let Some(t) = types.into_iter().find(|t| *t != SqlType::Null) {
                    key_type.get_or_insert(t);
                }
            }
        });
    }
    match key_type {
        Some(k) => check_map_keys(format, &SqlType::Map(Box::new(k), Box::new(SqlType::String))),
        None => Ok(()),
    }
}

/// Whether ksqlDB's INSERT INTO casts a result of type `from` to the sink's `to` on its own: a
/// number widened (INT to BIGINT, DECIMAL or DOUBLE; BIGINT to DECIMAL or DOUBLE; DECIMAL to DOUBLE or
/// to a DECIMAL with room for its digits).
fn widens(from: &SqlType, to: &SqlType) -> bool {
    match (from, to) {
        (SqlType::Int, SqlType::Bigint | SqlType::Double | SqlType::Decimal { .. }) => true,
        (SqlType::Bigint, SqlType::Double | SqlType::Decimal { .. }) => true,
        (SqlType::Decimal { .. }, SqlType::Double) => true,
        (SqlType::Decimal { precision: p, scale: s }, SqlType::Decimal { precision: p2, scale: s2 }) => {
            p2.saturating_sub(*s2) >= p.saturating_sub(*s) && s2 >= s
        }
        _ => false,
    }
}

/// The query with `CAST(item AS sink type)` around each explicitly selected item whose type the
/// sink widens, or `None` when there is none (or `*` leaves the items unnamed).
fn implicit_casts(query: &Query, planned: &PlannedQuery, sink: &SourceDef) -> Option<Query> {
    let mut changed = false;
    let mut select = Vec::with_capacity(query.select.len());
    for item in &query.select {
        let SelectItem::Expr { expr, alias } = item else { return None };
        let name = alias.clone().or_else(|| expr.implicit_name());
        let planned_ty = name.as_ref().and_then(|n| planned.columns.iter().find(|c| c.name == *n)).map(|c| &c.ty);
        let sink_ty =
            name.as_ref().and_then(|n| sink.key_columns.iter().chain(&sink.value_columns).find(|c| c.name == *n));
        match (planned_ty, sink_ty, name) {
            (Some(from), Some(to), Some(name)) if from != &to.ty && widens(from, &to.ty) => {
                changed = true;
                select.push(SelectItem::Expr {
                    expr: Expr::Cast { expr: Box::new(expr.clone()), ty: to.ty.clone() },
                    alias: Some(name),
                });
            }
            _ => select.push(item.clone()),
        }
    }
    changed.then(|| Query { select, ..query.clone() })
}

/// ksqlDB's refusal of rows inserted into a source (read-only) stream or table.
fn read_only_values(source: &SourceDef) -> SqlError {
    SqlError::analysis(format!(
        "Cannot insert values into read-only {}: {}",
        source.kind.name().to_lowercase(),
        source.name
    ))
}

/// The most values COLLECT_LIST and COLLECT_SET keep: ksqlDB's `ksql.functions.collect_list.limit`
/// and `ksql.functions.collect_set.limit`, 1000 by default.
fn collect_limits(properties: &BTreeMap<String, String>) -> (usize, usize) {
    let limit = |name: &str| properties.get(name).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(1000);
    (limit("ksql.functions.collect_list.limit"), limit("ksql.functions.collect_set.limit"))
}

/// ksqlDB's hint (MetaStoreImpl.checkAlternatives) at the sources whose names differ from `name`
/// only in case, of `kind` when given.
fn alternatives_hint(st: &State, name: &str, kind: Option<Kind>) -> Option<String> {
    let found: Vec<&SourceDef> = st
        .sources
        .values()
        .filter(|s| s.name.eq_ignore_ascii_case(name) && s.name != name && kind.is_none_or(|k| s.kind == k))
        .collect();
    match found.as_slice() {
        [] => None,
        [one] if one.name.chars().any(|c| c.is_lowercase()) => Some(format!(
            "\nDid you mean \"{}\"? Hint: wrap the source name in double quotes to make it case-sensitive.",
            one.name
        )),
        [one] => Some(format!("\nDid you mean {}? Hint: try removing double quotes from the source name.", one.name)),
        many => {
            let n = many.len();
            let mut hint = String::from("\nDid you mean ");
            for (i, s) in many.iter().enumerate() {
                let punctuation = match i {
                    _ if i + 2 < n => ", ",
                    0 if n == 2 => " or ",
                    _ if i + 2 == n => ", or ",
                    _ => "? ",
                };
                hint.push_str(&format!("\"{}\" ({}){punctuation}", s.name, s.kind.name()));
            }
            hint.push_str("Hint: wrap the source name in double quotes to make it case-sensitive.");
            Some(hint)
        }
    }
}

fn unknown_source(name: &str) -> SqlError {
    SqlError::analysis(format!("{name} does not exist."))
}

/// The character between a DELIMITED value's fields: `VALUE_DELIMITER` (one character, or `TAB` or
/// `SPACE`), else the source's a CSAS reads, else a comma; refused, in ksqlDB's words, for other
/// formats and with `WRAP_SINGLE_VALUE=true` (DELIMITED values are never wrapped).
fn value_delimiter(props: &Properties, format: Format, inherit: Option<&SourceDef>) -> Result<char> {
    // DELIMITED and KAFKA values are never wrapped.
    if matches!(format, Format::Delimited | Format::Kafka)
        && matches!(props.get("WRAP_SINGLE_VALUE"), Some(PropValue::Bool(true)))
    {
        return Err(SqlError::analysis(format!(
            "Format '{}' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
            format.name()
        )));
    }
    let inherited = inherit.filter(|s| s.value_format == Format::Delimited).map(|s| s.value_delimiter);
    delimiter(props, "VALUE_DELIMITER", format, inherited)
}

/// The character between a DELIMITED key's fields: `KEY_DELIMITER`, else the one of the source a
/// CSAS reads, else a comma (checked as `VALUE_DELIMITER` is).
fn key_delimiter(props: &Properties, format: Format, inherit: Option<&SourceDef>) -> Result<char> {
    let inherited = inherit.filter(|s| s.key_format == Format::Delimited).map(|s| s.key_delimiter);
    delimiter(props, "KEY_DELIMITER", format, inherited)
}

fn delimiter(props: &Properties, property: &str, format: Format, inherited: Option<char>) -> Result<char> {
    let given = prop_text(props, property);
    if format != Format::Delimited {
        if given.is_some() {
            return Err(SqlError::analysis(format!(
                "{} does not support the following configs: [delimiter]",
                format.name()
            )));
        }
        return Ok(',');
    }
    let Some(text) = given else {
        return Ok(inherited.unwrap_or(','));
    };
    let invalid = |why: String| {
        SqlError::analysis(format!(
            "Failed to prepare statement: Configuration {property} is invalid: {why}\nExample valid value: ';'"
        ))
    };
    let mut chars = text.chars();
    match (text.as_str(), chars.next(), chars.next()) {
        ("TAB", ..) => Ok('\t'),
        ("SPACE", ..) => Ok(' '),
        (_, None | Some(' ' | '\t'), None) => Err(invalid(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the special \
             values 'TAB' or 'SPACE'"
                .into(),
        )),
        (_, Some(c), None) => Ok(c),
        _ => Err(invalid(format!(
            "Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB,SPACE"
        ))),
    }
}

/// Whether a source's single value column is written unwrapped: `WRAP_SINGLE_VALUE`, else the
/// `ksql.persistence.wrap.single.values` property (ksqlDB's default for single-field values).
fn unwrap_single_value(props: &Properties, engine: &BTreeMap<String, String>) -> Option<bool> {
    match props.get("WRAP_SINGLE_VALUE") {
        Some(PropValue::Bool(wrap)) => Some(!wrap),
        _ => engine.get("ksql.persistence.wrap.single.values").and_then(|v| v.trim().parse::<bool>().ok()).map(|w| !w),
    }
}

/// The KAFKA value format holds one column.
fn check_kafka_value(format: Format, values: &[Column]) -> Result<()> {
    if format == Format::Kafka && values.len() > 1 {
        return Err(SqlError::analysis(format!(
            "The 'KAFKA' format only supports a single field. Got: [{}]",
            values.iter().map(|c| format!("`{}` {}", c.name, c.ty)).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// ksqlDB refuses an explicit `WRAP_SINGLE_VALUE` unless the value has exactly one column.
/// ksqlDB's rules for `KEY_SCHEMA_ID`/`VALUE_SCHEMA_ID` on CREATE STREAM/TABLE: the schema gives
/// the columns, so the format must infer them from a schema and no columns may be declared.
fn check_schema_ids(props: &Properties, key: (Format, &[Column]), value: (Format, &[Column])) -> Result<()> {
    for (part, (format, declared)) in [("KEY", key), ("VALUE", value)] {
        if !props.contains_key(&format!("{part}_SCHEMA_ID")) {
            continue;
        }
        if !matches!(format, Format::Avro | Format::JsonSr | Format::Protobuf) {
            return Err(SqlError::analysis(format!(
                "{part}_FORMAT should support schema inference when {part}_SCHEMA_ID is provided. Current format is {}.",
                format.name()
            )));
        }
        if !declared.is_empty() {
            return Err(SqlError::analysis(format!(
                "Table elements and {part}_SCHEMA_ID cannot both exist for create statement."
            )));
        }
    }
    Ok(())
}

fn check_wrap_single_value(props: &Properties, values: &[Column]) -> Result<()> {
    if let Some(format) = prop_text(props, "VALUE_FORMAT").or_else(|| prop_text(props, "FORMAT")) {
        let format = format.to_ascii_uppercase();
        let unwrapped = prop_text(props, "WRAP_SINGLE_VALUE").is_some_and(|w| w.eq_ignore_ascii_case("false"));
        if unwrapped && format.starts_with("PROTOBUF") {
            return Err(SqlError::analysis(format!(
                "Format '{format}' does not support 'WRAP_SINGLE_VALUE' set to 'false'."
            )));
        }
    }
    if props.contains_key("WRAP_SINGLE_VALUE") && values.len() != 1 {
        return Err(SqlError::analysis("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"));
    }
    Ok(())
}

/// The key and value formats of a statement: `KEY_FORMAT`/`VALUE_FORMAT`, else `FORMAT` (both),
/// else the source a CREATE ... AS SELECT reads, else the defaults the request's properties set
/// (`ksql.persistence.default.format.key`/`.value`; the key's is KAFKA without one).
fn formats(
    props: &Properties,
    inherit: Option<&SourceDef>,
    engine: &BTreeMap<String, String>,
) -> Result<(Format, Format)> {
    let both = prop_text(props, "FORMAT");
    for single in ["KEY_FORMAT", "VALUE_FORMAT"] {
        if both.is_some() && prop_text(props, single).is_some() {
            return Err(SqlError::analysis(format!(
                "Cannot supply both '{single}' and 'FORMAT' properties, as 'FORMAT' sets both key and value \
                 formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."
            )));
        }
    }
    let default = |which: &str| engine.get(&format!("ksql.persistence.default.format.{which}")).cloned();
    let value = match (prop_text(props, "VALUE_FORMAT"), &both, inherit) {
        (Some(v), _, _) => Format::parse(&v)?,
        (None, Some(b), _) => Format::parse(b)?,
        (None, None, Some(s)) => s.value_format,
        (None, None, None) => match default("value") {
            Some(f) => Format::parse(&f)?,
            None => {
                return Err(SqlError::analysis(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or \
                     set a default via the 'ksql.persistence.default.format.value' config.",
                ))
            }
        },
    };
    let key = match (prop_text(props, "KEY_FORMAT"), &both, inherit) {
        (Some(k), _, _) => Format::parse(&k)?,
        (None, Some(b), _) => Format::parse(b)?,
        (None, None, Some(s)) => s.key_format,
        (None, None, None) => match default("key") {
            Some(f) => Format::parse(&f)?,
            None => Format::Kafka,
        },
    };
    Ok((key, value))
}

fn check_key_format(format: Format, keys: &[Column]) -> Result<()> {
    match format {
        Format::Kafka if keys.len() > 1 => {
            let columns = keys.iter().map(|c| format!("`{}` {} KEY", c.name, c.ty)).collect::<Vec<_>>().join(", ");
            Err(SqlError::analysis(format!(
                "Key format does not support schema.\nformat: KAFKA\nschema: Persistence{{columns=[{columns}], \
                 features=[]}}\nreason: The 'KAFKA' format only supports a single field. Got: [{columns}]"
            )))
        }
        Format::None if !keys.is_empty() => Err(none_with_columns(keys, " KEY")),
        _ => match keys.iter().find_map(|c| unsupported_type(format, c)) {
            Some(reason) => Err(SqlError::analysis(format!(
                "Key format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[]}}\n\
                 reason: {reason}",
                format.name(),
                keys.iter().map(|c| format!("`{}` {} KEY", c.name, c.ty)).collect::<Vec<_>>().join(", ")
            ))),
            None => Ok(()),
        },
    }
}

/// ksqlDB's refusal of columns in the `NONE` format (`suffix` marks key columns).
fn none_with_columns(columns: &[Column], suffix: &str) -> SqlError {
    let listed = columns.iter().map(|c| format!("`{}` {}{suffix}", c.name, c.ty)).collect::<Vec<_>>().join(", ");
    SqlError::analysis(format!("The 'NONE' format can only be used when no columns are defined. Got: [{listed}]"))
}

/// ksqlDB's refusal of value columns a format cannot hold (its message, for the reason's text).
fn check_value_format(format: Format, values: &[Column]) -> Result<()> {
    if format == Format::Kafka && values.len() > 1 {
        return Err(SqlError::analysis(format!(
            "The 'KAFKA' format only supports a single field. Got: [{}]",
            values.iter().map(|c| format!("`{}` {}", c.name, c.ty)).collect::<Vec<_>>().join(", ")
        )));
    }
    if format == Format::None {
        // A value without columns is ksqlDB's, not Weft's yet.
        return Err(if values.is_empty() {
            SqlError::analysis("the NONE format is only valid as a KEY_FORMAT")
        } else {
            none_with_columns(values, "")
        });
    }
    if format == Format::Avro {
        crate::avro::check_names(values)?;
    }
    match values.iter().find_map(|c| unsupported_type(format, c)) {
        Some(reason) => Err(SqlError::analysis(format!(
            "Value format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[]}}\n\
             reason: {reason}",
            format.name(),
            values.iter().map(|c| format!("`{}` {}", c.name, c.ty)).collect::<Vec<_>>().join(", ")
        ))),
        None => Ok(()),
    }
}

/// Why `format` cannot hold `column`, as ksqlDB words it: KAFKA holds only the Kafka serializers'
/// primitives, DELIMITED nothing nested.
fn unsupported_type(format: Format, column: &Column) -> Option<String> {
    let ty = &column.ty;
    let base = match ty {
        SqlType::Array(_) => "ARRAY".to_string(),
        SqlType::Map(..) => "MAP".to_string(),
        SqlType::Struct(_) => "STRUCT".to_string(),
        SqlType::Decimal { .. } => "DECIMAL".to_string(),
        t => t.to_string(),
    };
    let refused = match format {
        Format::Kafka => {
            !matches!(ty, SqlType::String | SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Bytes)
        }
        Format::Delimited => matches!(ty, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)),
        _ => false,
    };
    // ksqlDB's DELIMITED check names the column, its KAFKA one does not.
    let column = if format == Format::Delimited { format!(", column: `{}`", column.name) } else { String::new() };
    refused.then(|| format!("The '{}' format does not support type '{base}'{column}", format.name()))
}

fn timestamp_props(props: &Properties, keys: &[Column], values: &[Column]) -> Result<(Option<String>, Option<String>)> {
    let Some(ts) = prop_text(props, "TIMESTAMP") else { return Ok((None, None)) };
    let ts = ts.to_ascii_uppercase();
    let ts = values.iter().chain(keys).find(|c| c.name == ts || c.name.eq_ignore_ascii_case(&ts)).ok_or_else(|| {
        SqlError::analysis(format!("The TIMESTAMP column set in the WITH clause does not exist in the schema: '{ts}'"))
    })?;
    let format = prop_text(props, "TIMESTAMP_FORMAT");
    match (&ts.ty, &format) {
        (SqlType::Bigint | SqlType::Timestamp, _) | (SqlType::String, _) => {}
        (t, _) => {
            return Err(SqlError::analysis(format!(
                "Timestamp column, `{}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format \
                 specified. Found {t}",
                ts.name
            )))
        }
    }
    Ok((Some(ts.name.clone()), format))
}

fn schema_text(keys: &[Column], values: &[Column]) -> String {
    let mut parts: Vec<String> = keys.iter().map(|c| format!("`{}` {} KEY", c.name, c.ty)).collect();
    parts.extend(values.iter().map(|c| format!("`{}` {}", c.name, c.ty)));
    parts.join(", ")
}

fn describe(st: &State, s: &SourceDef) -> SourceInfo {
    let key_word = if s.kind == Kind::Table { "PRIMARY KEY" } else { "KEY" };
    let mut fields: Vec<FieldInfo> = s
        .key_columns
        .iter()
        .map(|c| FieldInfo { name: c.name.clone(), ty: c.ty.to_string(), key: Some(key_word.into()) })
        .collect();
    fields.extend(s.value_columns.iter().map(|c| FieldInfo { name: c.name.clone(), ty: c.ty.to_string(), key: None }));
    SourceInfo {
        name: s.name.clone(),
        kind: s.kind.name().into(),
        topic: s.topic.clone(),
        key_format: s.key_format.name().into(),
        value_format: s.value_format.name().into(),
        windowed: s.window.is_some(),
        fields,
        statement: s.statement.clone(),
        read_queries: st
            .queries
            .iter()
            .filter(|(_, q)| q.sources.contains(&s.name))
            .map(|(id, _)| id.clone())
            .collect(),
        write_queries: st.queries.iter().filter(|(_, q)| q.sink == s.name).map(|(id, _)| id.clone()).collect(),
        timestamp: s.timestamp_column.clone(),
        partitions: s.partitions,
    }
}

fn query_infos(st: &State) -> Vec<QueryInfo> {
    st.queries
        .iter()
        .map(|(id, q)| {
            // The instances sharing the query's partitions add up to the query.
            let mut stats = crate::runtime::QueryStats::default();
            for runner in &q.runners {
                let r = runner.lock().unwrap_or_else(|e| e.into_inner()).query_stats();
                stats.records_read += r.records_read;
                stats.records_written += r.records_written;
                stats.errors += r.errors;
                stats.failing |= r.failing;
                if r.last_error.is_some() {
                    stats.last_error = r.last_error.clone();
                }
            }
            QueryInfo {
                id: id.clone(),
                statement: q.statement.clone(),
                sink: q.sink.clone(),
                sink_topic: st.sources.get(&q.sink).map(|s| s.topic.clone()).unwrap_or_default(),
                sources: q.sources.clone(),
                state: if stats.failing { "ERROR".into() } else { "RUNNING".into() },
                records_read: stats.records_read,
                records_written: stats.records_written,
                errors: stats.errors,
                last_error: stats.last_error,
                tasks: q.runners.len() as u32,
                tasks_here: q.hosted.iter().filter(|h| h.load(Ordering::SeqCst)).count() as u32,
                tasks_open: q.runners.iter().filter(|r| r.lock().unwrap_or_else(|e| e.into_inner()).is_open()).count()
                    as u32,
            }
        })
        .collect()
}

/// Column descriptions of a query result, for the REST header.
pub fn field_infos(columns: &[OutputColumn]) -> Vec<FieldInfo> {
    columns
        .iter()
        .map(|c| FieldInfo { name: c.name.clone(), ty: c.ty.to_string(), key: c.is_key.then(|| "KEY".to_string()) })
        .collect()
}

/// A result row as JSON values, in ksqlDB's JSON representation.
/// The length of `row` written as JSON, counted without building the text.
fn json_len(row: &[serde_json::Value]) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and a JSON value always serializes.
    let _ = serde_json::to_writer(&mut count, row);
    count.0
}

pub fn row_to_json(row: &[Value], columns: &[OutputColumn]) -> Vec<serde_json::Value> {
    row.iter().zip(columns).map(|(v, c)| to_json_value(v, &c.ty)).collect()
}

/// A JSON value as the SQL value of a column (test inputs, REST inserts).
pub fn json_to_value(v: &serde_json::Value, ty: &SqlType) -> Result<Value> {
    from_json_value(v, ty)
}

/// ksqlDB's restrictions on pull queries (a `SELECT` without `EMIT`).
fn check_pull(q: &Query) -> Result<()> {
    let clause = if !q.group_by.is_empty() {
        "GROUP BY"
    } else if q.window.is_some() {
        "WINDOW"
    } else if !q.joins.is_empty() {
        "JOIN"
    } else if !q.partition_by.is_empty() {
        "PARTITION BY"
    } else if q.having.is_some() {
        "HAVING"
    } else {
        // ROWPARTITION and ROWOFFSET have no meaning for a row read from state.
        let disallowed = |exprs: &mut dyn Iterator<Item = &Expr>| -> Vec<String> {
            let mut found: Vec<String> = Vec::new();
            for e in exprs {
                e.walk(&mut |x| {
                    if let Expr::Column { name, .. } = x {
                        if (name == "ROWPARTITION" || name == "ROWOFFSET") && !found.iter().any(|f| f == name) {
                            found.push(name.clone());
                        }
                    }
                });
            }
            found
        };
        let in_select = disallowed(&mut q.select.iter().filter_map(|s| match s {
            SelectItem::Expr { expr, .. } => Some(expr),
            _ => None,
        }));
        let in_where = disallowed(&mut q.filter.iter());
        for (clause, cols) in [("SELECT", in_select), ("WHERE", in_where)] {
            if !cols.is_empty() {
                let list: Vec<String> = cols.iter().map(|c| format!("`{c}`")).collect();
                return Err(SqlError::analysis(format!(
                    "Pull queries don't support the following columns in {clause} clauses: {}",
                    list.join(", ")
                )));
            }
        }
        return Ok(());
    };
    Err(SqlError::analysis(format!(
        "Pull queries don't support {clause} clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if \
         you intended to issue a push query."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn failing_attempts_pause_longer_each_time_up_to_the_last_and_start_again_after_a_quiet_minute() {
        let mut backoff = RetryBackoff::new();
        let start = Instant::now();
        let pauses: Vec<u64> =
            (0..9u64).map(|i| backoff.failed(start + Duration::from_secs(i)).as_millis() as u64).collect();
        assert_eq!(pauses, vec![500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        // A failure within a minute of the last one continues the schedule ...
        assert_eq!(backoff.failed(start + Duration::from_secs(60)), Duration::from_secs(30));
        // ... one after a minute without failures starts it again.
        assert_eq!(backoff.failed(start + Duration::from_secs(125)), Duration::from_millis(500));
        assert_eq!(backoff.failed(start + Duration::from_secs(126)), Duration::from_secs(1));
    }
}
