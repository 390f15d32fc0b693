//! The declarative test harness: runs the JSON cases in `tests/cases/*.json`.
//!
//! A case file is `{"comments": [...], "tests": [case, ...]}`, modelled on ksqlDB's query-validation
//! tests. A case:
//!
//! ```json
//! {
//!   "name": "filter with BETWEEN",
//!   "statements": ["CREATE STREAM ...;", "CREATE STREAM OUTPUT AS SELECT ...;"],
//!   "properties": {"auto.offset.reset": "earliest"},
//!   "inputs": [{"topic": "t", "key": "k", "value": {"A": 1}, "timestamp": 0}],
//!   "restart_inputs": [{"topic": "t", "key": "k", "value": {"A": 2}, "timestamp": 5}],
//!   "outputs": [{"topic": "OUTPUT", "key": "k", "value": {"A": 1}, "timestamp": 0,
//!                "window": {"start": 0, "end": 1000, "type": "time"}}],
//!   "pull": [{"sql": "SELECT * FROM T WHERE K = 'k';", "rows": [["k", 1]]}],
//!   "schemas": [{"subject": "t-value", "schema": {"type": "record", ...}}],
//!   "registered": [{"subject": "OUTPUT-key", "schema": "int"}],
//!   "expected_error": {"message": "does not exist"}
//! }
//! ```
//!
//! `expected_error` is met by the statements' error or, when they succeed, by the error of a query
//! processing the inputs (a query that fails on a record, as ksqlDB's StreamsException).
//!
//! `schemas` are registered in the schema registry before the statements run (AVRO and JSON_SR
//! sources infer their columns from them); `registered` checks, after all inputs, that the latest
//! schema of each subject equals the given JSON (AVRO and JSON_SR sinks register `<topic>-key` and
//! `<topic>-value`). Inputs and outputs of AVRO and JSON_SR keys and values are encoded and decoded
//! in the Confluent wire format by the source's own codec, so `key` and `value` stay plain JSON.
//!
//! An input may carry record `headers` (`[{"KEY": "k", "VALUE": "<base64>"}]`, a null VALUE being a
//! header without a value), which `HEADERS` and `HEADER('k')` columns read.
//!
//! A DELIMITED key is read as its text (`"a,1"`, `"10"`), as in ksqlDB's tests (an expected number
//! matches its text); one of several columns is also given as its text. Inputs are processed one at a time, in order (as ksqlDB's test driver does), and are encoded
//! with the formats of a source declared on their topic (a JSON value is
//! written as given, so the engine's own JSON decoding is exercised); `null` values are tombstones.
//! With `restart_inputs`, the engine and the log are closed after the first inputs are processed,
//! reopened from disk, `restart_statements` run, and the remaining inputs fed. Outputs are compared per topic, in order, for
//! every topic named in `outputs` and every sink of a CREATE ... AS SELECT (only the named ones with
//! `"only_named_outputs": true`); numbers compare by value.
//! `properties` defaults to `auto.offset.reset = earliest`. `topics` are created (with their partition
//! counts) before the statements run.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value as Json;
use weft_log::{partition_for_key, Durability, EmbeddedLog, EventLog, LogOptions, ReadLimits, Record};
use weft_sql::format::{Format, WindowType};
use weft_sql::registry::{RegistryHandle, SchemaRegistry, SchemaType};

thread_local! {
    /// Schemas a case registers before its statements run.
    static PRE_REGISTER: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}
use weft_sql::metastore::SourceDef;
use weft_sql::{Engine, EngineOptions, StartFrom, StatementResult};

#[derive(Debug, Deserialize)]
pub struct CaseFile {
    pub tests: Vec<Case>,
}

#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    pub statements: Vec<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub inputs: Vec<InputRecord>,
    #[serde(default)]
    pub restart_inputs: Option<Vec<InputRecord>>,
    /// Statements run after the restart, before `restart_inputs`.
    #[serde(default)]
    pub restart_statements: Vec<String>,
    #[serde(default)]
    pub outputs: Vec<OutputRecord>,
    #[serde(default)]
    pub pull: Vec<PullCheck>,
    #[serde(default)]
    pub expected_error: Option<ExpectedError>,
    /// Schemas registered before the statements run: `[{"subject": ..., "schema": {...}}]`.
    #[serde(default)]
    pub schemas: Vec<SchemaSpec>,
    /// The latest schema each subject must have once the case ran.
    #[serde(default)]
    pub registered: Vec<SchemaSpec>,
    /// Topics created before the statements run: `[{"name": ..., "partitions": n}]`.
    #[serde(default)]
    pub topics: Vec<TopicSpec>,
    /// Compare only the topics named in `outputs`, as ksqlDB's test driver does (the QTT runner);
    /// by default every sink is compared too, so an unexpected record anywhere fails the case.
    #[serde(default)]
    pub only_named_outputs: bool,
}

#[derive(Debug, Deserialize)]
pub struct TopicSpec {
    pub name: String,
    #[serde(default = "one")]
    pub partitions: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
pub struct SchemaSpec {
    pub subject: String,
    pub schema: Json,
    /// `PROTOBUF` for a `.proto` text given as a JSON string (registered, and compared, as the text).
    #[serde(default)]
    pub schema_type: Option<String>,
}

impl SchemaSpec {
    /// The schema text as registered.
    fn text(&self) -> String {
        match (&self.schema, self.schema_type.as_deref()) {
            (Json::String(text), Some("PROTOBUF")) => text.clone(),
            (schema, _) => schema.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct InputRecord {
    pub topic: String,
    #[serde(default)]
    pub key: Json,
    /// Window bounds of a windowed key: `{"start": ms, "end": ms}`.
    #[serde(default)]
    pub window: Option<Json>,
    #[serde(default)]
    pub value: Json,
    /// A JSON value's text as written, object fields in their order (`value` sorts them): what a
    /// JSON or NONE-format record holds when given (the QTT runner gives it).
    #[serde(default)]
    pub value_text: Option<String>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Record headers: `[{"KEY": "k", "VALUE": "<base64>" or null}]`, as ksqlDB's tests give them.
    #[serde(default)]
    pub headers: Vec<Json>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct OutputRecord {
    pub topic: String,
    #[serde(default)]
    pub key: Json,
    #[serde(default)]
    pub value: Json,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub window: Option<Json>,
}

#[derive(Debug, Deserialize)]
pub struct PullCheck {
    pub sql: String,
    #[serde(default)]
    pub rows: Vec<Vec<Json>>,
    /// Compare the rows as a multiset (ksqlDB leaves the order of a table scan unspecified).
    #[serde(default)]
    pub unordered: bool,
    /// The pull query must fail with an error containing this text.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExpectedError {
    pub message: String,
}

/// An in-memory schema registry, persisted next to the log so it survives restarts in a case.
pub struct FileRegistry {
    path: std::path::PathBuf,
    schemas: Mutex<Vec<(String, String)>>,
}

impl FileRegistry {
    fn open(dir: &Path) -> Arc<FileRegistry> {
        let path = dir.join("registry.json");
        let schemas = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Arc::new(FileRegistry { path, schemas: Mutex::new(schemas) })
    }
}

impl SchemaRegistry for FileRegistry {
    fn register(&self, subject: &str, _schema_type: SchemaType, schema: &str) -> weft_sql::Result<u32> {
        let mut s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = s.iter().position(|(sub, sch)| sub == subject && sch == schema) {
            return Ok(i as u32 + 1);
        }
        s.push((subject.to_string(), schema.to_string()));
        let _ = std::fs::write(&self.path, serde_json::to_vec(&*s).unwrap_or_default());
        Ok(s.len() as u32)
    }

    fn schema_by_id(&self, id: u32) -> weft_sql::Result<String> {
        let s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
        id.checked_sub(1)
            .and_then(|i| s.get(i as usize))
            .map(|x| x.1.clone())
            .ok_or_else(|| weft_sql::SqlError::Serde(format!("schema {id} not found")))
    }

    fn latest(&self, subject: &str) -> weft_sql::Result<(u32, String)> {
        let s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
        s.iter()
            .enumerate()
            .rev()
            .find(|(_, (sub, _))| sub == subject)
            .map(|(i, (_, sch))| (i as u32 + 1, sch.clone()))
            .ok_or_else(|| weft_sql::SqlError::Serde(format!("subject {subject} not found")))
    }
}

fn open_engine(dir: &Path) -> (Arc<EmbeddedLog>, Engine) {
    let registry = FileRegistry::open(dir);
    for (subject, schema) in PRE_REGISTER.with(|p| p.borrow().clone()) {
        let _ = registry.register(&subject, SchemaType::Avro, &schema);
    }
    let registry: Arc<dyn SchemaRegistry> = registry;
    let mut options = LogOptions::new(dir);
    options.durability = Durability::GroupCommit { interval: std::time::Duration::from_millis(1) };
    let log = EmbeddedLog::open(options).expect("open log");
    let options = EngineOptions {
        default_offset_reset: StartFrom::Earliest,
        background: false,
        default_partitions: 1,
        schema_registry: Some(RegistryHandle(registry)),
        data_access: None,
        max_pull_rows: weft_sql::engine::DEFAULT_MAX_PULL_ROWS,
        max_pull_bytes: weft_sql::engine::DEFAULT_MAX_PULL_BYTES,
        query_gate: None,
        query_tasks: 1,
    };
    let dyn_log: Arc<dyn EventLog> = log.clone();
    let engine = Engine::open(dyn_log, options).expect("open engine");
    (log, engine)
}

/// Runs one case; `Err` describes the mismatch.
pub fn run_case(case: &Case) -> Result<(), String> {
    // tmpfs when there is one: fsync is what the cases would otherwise wait on.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.map_err(|e| e.to_string())?;
    PRE_REGISTER.with(|p| *p.borrow_mut() = case.schemas.iter().map(|s| (s.subject.clone(), s.text())).collect());
    let (log, engine) = open_engine(dir.path());
    for t in &case.topics {
        let config = weft_log::TopicConfig { partitions: t.partitions, ..weft_log::TopicConfig::default() };
        log.create_topic(&t.name, config).map_err(|e| format!("create topic {}: {e}", t.name))?;
    }
    let mut props = case.properties.clone();
    props.entry("auto.offset.reset".into()).or_insert_with(|| "earliest".into());
    let text = case.statements.join("\n");
    let result = engine.execute_with_properties(&text, &props);
    if let Some(expected) = &case.expected_error {
        return match result {
            Err(e) if e.to_string().contains(&expected.message) => Ok(()),
            Err(e) => Err(format!("expected an error containing {:?}, got: {e}", expected.message)),
            // As in ksqlDB's test driver, the error may come from a query processing the inputs.
            Ok(_) => match produce(&engine, log.as_ref(), &case.inputs) {
                Err(e) if e.contains(&expected.message) => Ok(()),
                Err(e) => Err(format!("expected an error containing {:?}, got: {e}", expected.message)),
                Ok(()) => Err(format!(
                    "expected an error containing {:?}, but the statements succeeded and the queries processed the \
                     inputs",
                    expected.message
                )),
            },
        };
    }
    let results = result.map_err(|e| format!("statements failed: {e}"))?;
    let _ = results.iter().filter(|r| matches!(r, StatementResult::Status { .. })).count();
    let mut sinks: BTreeSet<String> = BTreeSet::new();
    for s in engine.sources() {
        if s.query_id.is_some() {
            sinks.insert(s.topic.clone());
        }
    }
    produce(&engine, log.as_ref(), &case.inputs)?;
    engine.run_until_idle().map_err(|e| format!("query failed: {e}"))?;
    let (log, engine) = match &case.restart_inputs {
        Some(more) => {
            drop(engine);
            drop(log);
            let (log, engine) = open_engine(dir.path());
            if !case.restart_statements.is_empty() {
                engine
                    .execute_with_properties(&case.restart_statements.join("\n"), &props)
                    .map_err(|e| format!("statements after the restart failed: {e}"))?;
            }
            produce(&engine, log.as_ref(), more)?;
            engine.run_until_idle().map_err(|e| format!("query failed after restart: {e}"))?;
            (log, engine)
        }
        None => (log, engine),
    };
    let mut topics: BTreeSet<String> = case.outputs.iter().map(|o| o.topic.clone()).collect();
    if !case.only_named_outputs {
        topics.extend(sinks);
    }
    for topic in &topics {
        let expected: Vec<&OutputRecord> = case.outputs.iter().filter(|o| &o.topic == topic).collect();
        let actual = read_topic(&engine, log.as_ref(), topic)?;
        compare_topic(topic, &expected, &actual)?;
    }
    let registry = FileRegistry::open(dir.path());
    for expected in &case.registered {
        let (_, text) = registry
            .latest(&expected.subject)
            .map_err(|e| format!("subject {} was not registered: {e}", expected.subject))?;
        if expected.schema_type.as_deref() == Some("PROTOBUF") {
            if text != expected.text() {
                return Err(format!(
                    "subject {}: expected schema {:?}, registered {text:?}",
                    expected.subject,
                    expected.text()
                ));
            }
            continue;
        }
        let actual: Json = serde_json::from_str(&text).map_err(|e| format!("registered schema is not JSON: {e}"))?;
        if actual != expected.schema {
            return Err(format!(
                "subject {}: expected schema {}, registered {actual}",
                expected.subject, expected.schema
            ));
        }
    }
    for check in &case.pull {
        let result = engine.pull(&check.sql);
        if let Some(expected) = &check.error {
            match result {
                Err(e) if e.to_string().contains(expected.as_str()) => continue,
                Err(e) => {
                    return Err(format!(
                        "pull query {:?}: expected an error containing {expected:?}, got: {e}",
                        check.sql
                    ))
                }
                Ok(_) => return Err(format!("pull query {:?}: expected an error containing {expected:?}", check.sql)),
            }
        }
        let (_, mut rows) = result.map_err(|e| format!("pull query {:?} failed: {e}", check.sql))?;
        let mut want = check.rows.clone();
        if check.unordered {
            rows.sort_by_key(|r| Json::Array(r.clone()).to_string());
            want.sort_by_key(|r| Json::Array(r.clone()).to_string());
        }
        let same = rows.len() == want.len()
            && rows.iter().zip(&want).all(|(a, b)| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_eq(x, y)));
        if !same {
            return Err(format!("pull query {:?}: expected rows {:?}, got {:?}", check.sql, check.rows, rows));
        }
    }
    Ok(())
}

fn source_on_topic(engine: &Engine, topic: &str) -> Option<SourceDef> {
    let mut sources = engine.sources();
    // Prefer sources declared with columns over derived ones.
    sources.sort_by_key(|s| s.query_id.is_some());
    sources.into_iter().find(|s| s.topic == topic)
}

fn produce(engine: &Engine, log: &dyn EventLog, inputs: &[InputRecord]) -> Result<(), String> {
    for input in inputs {
        let source = source_on_topic(engine, &input.topic);
        let window = input.window.as_ref().map(|w| weft_sql::format::WindowBounds {
            start: w.get("start").and_then(Json::as_i64).unwrap_or(0),
            end: w.get("end").and_then(Json::as_i64).unwrap_or(0),
        });
        let key = encode_key(source.as_ref(), &input.key, window)?;
        let value = match (&input.value, source.as_ref().map(|s| s.value_format)) {
            (Json::Null, _) => None,
            (Json::String(s), Some(Format::Delimited)) => Some(s.as_bytes().to_vec()),
            (v, Some(Format::Avro | Format::JsonSr | Format::Protobuf | Format::ProtobufNoSr)) => {
                let s = source.as_ref().ok_or("no source")?;
                let codec = s.value_codec();
                let vals: Vec<weft_sql::types::Value> = if codec.unwrapped {
                    // `WRAP_SINGLE_VALUE=false`: the record is the single column's value itself.
                    let col = &s.value_columns[0];
                    vec![weft_sql::engine::json_to_value(&avro_spec(v, &col.ty), &col.ty).map_err(|e| e.to_string())?]
                } else {
                    codec
                        .columns
                        .iter()
                        .map(|c| {
                            let field = v.get(&c.name).or_else(|| {
                                v.as_object()
                                    .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(&c.name)).map(|x| x.1))
                            });
                            weft_sql::engine::json_to_value(&avro_spec(field.unwrap_or(&Json::Null), &c.ty), &c.ty)
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Result<_, _>>()?
                };
                let mut buf = Vec::new();
                codec.encode(&vals.iter().collect::<Vec<_>>(), &mut buf).map_err(|e| e.to_string())?;
                Some(buf)
            }
            (v, Some(Format::Kafka)) => {
                let s = source.as_ref().ok_or("no source")?;
                let col = s.value_columns.first().ok_or("KAFKA value without a column")?;
                let sql = weft_sql::engine::json_to_value(v, &col.ty).map_err(|e| e.to_string())?;
                let codec = s.value_codec();
                let mut buf = Vec::new();
                codec.encode(&[&sql], &mut buf).map_err(|e| e.to_string())?;
                Some(buf)
            }
            (Json::String(s), _) if s.starts_with("RAW:") => Some(s.as_bytes()[4..].to_vec()),
            (v, _) => match &input.value_text {
                Some(text) => Some(text.clone().into_bytes()),
                None => Some(serde_json::to_vec(v).map_err(|e| e.to_string())?),
            },
        };
        let partitions = log.describe_topic(&input.topic).map_err(|e| e.to_string())?.partitions.len() as u32;
        let partition = key.as_deref().map_or(0, |k| partition_for_key(k, partitions));
        let headers = input
            .headers
            .iter()
            .map(|h| {
                let key = h.get("KEY").and_then(Json::as_str).ok_or("a header without a KEY")?.to_string();
                let value = match h.get("VALUE") {
                    Some(Json::String(b64)) => {
                        Some(weft_sql::format::unbase64(b64).ok_or("a header VALUE not base64")?)
                    }
                    _ => None,
                };
                Ok(weft_log::Header { key, value })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        log.append(
            &input.topic,
            partition,
            vec![Record { key, value, headers, timestamp: Some(input.timestamp.unwrap_or(0)) }],
        )
        .map_err(|e| format!("produce to {}: {e}", input.topic))?;
        // Like ksqlDB's test driver, each input is processed before the next one is produced, so the
        // processing order across topics is the order of the case's inputs.
        engine.run_until_idle().map_err(|e| format!("query failed: {e}"))?;
    }
    Ok(())
}

/// An input value of an AVRO or JSON_SR record as ksqlDB's test driver reads it: a number may be
/// given as its text (`"1"` for a DATE's days), as in its `date.json` and `time.json`.
fn avro_spec(v: &Json, ty: &weft_sql::types::SqlType) -> Json {
    use weft_sql::types::SqlType;
    match (v, ty) {
        (Json::String(text), SqlType::Int | SqlType::Bigint | SqlType::Date | SqlType::Time | SqlType::Timestamp) => {
            text.parse::<i64>().map_or_else(|_| v.clone(), Json::from)
        }
        (Json::Array(items), SqlType::Array(inner)) => Json::Array(items.iter().map(|i| avro_spec(i, inner)).collect()),
        (Json::Object(m), SqlType::Map(_, inner)) => {
            Json::Object(m.iter().map(|(k, x)| (k.clone(), avro_spec(x, inner))).collect())
        }
        (Json::Object(m), SqlType::Struct(fields)) => Json::Object(
            m.iter()
                .map(|(k, x)| {
                    let field = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(k));
                    (k.clone(), field.map_or_else(|| x.clone(), |(_, t)| avro_spec(x, t)))
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

fn encode_key(
    source: Option<&SourceDef>,
    key: &Json,
    window: Option<weft_sql::format::WindowBounds>,
) -> Result<Option<Vec<u8>>, String> {
    if key.is_null() {
        return Ok(None);
    }
    let Some(source) = source else {
        return Ok(Some(match key {
            Json::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        }));
    };
    let codec = source.key_codec();
    if let (Json::String(text), Format::Delimited, None) = (key, codec.format, window) {
        // A DELIMITED key is given as the text written (`"foo,bar"`, `"\"22\""`).
        return Ok(Some(text.as_bytes().to_vec()));
    }
    let protobuf = matches!(codec.format, Format::Protobuf | Format::ProtobufNoSr);
    let values: Vec<weft_sql::types::Value> = if codec.columns.len() == 1 && !protobuf {
        vec![weft_sql::engine::json_to_value(key, &codec.columns[0].ty).map_err(|e| e.to_string())?]
    } else {
        codec
            .columns
            .iter()
            .map(|c| {
                // ksqlDB's test driver writes a JSON key as given, and its serde matches field
                // names to columns ignoring case (`{"id": 1}` feeds `ID`).
                let field = key.get(&c.name).or_else(|| {
                    key.as_object()
                        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(&c.name)).map(|(_, v)| v))
                });
                let v = field.cloned().unwrap_or(Json::Null);
                weft_sql::engine::json_to_value(&v, &c.ty).map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?
    };
    let refs: Vec<&weft_sql::types::Value> = values.iter().collect();
    if let (Some(weft_sql::registry::SchemaCodec::Protobuf(message)), None) = (codec.schema.as_deref(), window) {
        // A Protobuf key is a message even when its one column is null (ksqlDB's driver writes it so).
        let mut buf = Vec::new();
        message.encode(&codec.columns, &refs, &mut buf).map_err(|e| e.to_string())?;
        return Ok(Some(buf));
    }
    codec.encode(&refs, window).map_err(|e| e.to_string())
}

struct Actual {
    key: Json,
    /// The key as written, for a DELIMITED key (ksqlDB's tests give those as their text).
    key_text: Option<String>,
    value: Json,
    timestamp: i64,
    window: Option<(i64, i64, &'static str)>,
}

fn read_topic(engine: &Engine, log: &dyn EventLog, topic: &str) -> Result<Vec<Actual>, String> {
    let source = engine
        .sources()
        .into_iter()
        .find(|s| s.topic == topic && s.query_id.is_some())
        .or_else(|| source_on_topic(engine, topic));
    let partitions = match log.describe_topic(topic) {
        Ok(d) => d.partitions.len() as u32,
        Err(_) => return Ok(Vec::new()),
    };
    let mut records = Vec::new();
    for p in 0..partitions {
        let mut offset = 0;
        loop {
            let r = log.read(topic, p, offset, ReadLimits::default()).map_err(|e| e.to_string())?;
            if r.records.is_empty() {
                break;
            }
            offset = r.next_offset;
            records.extend(r.records);
        }
    }
    let mut out = Vec::new();
    for rec in records {
        let (key, window) = match &source {
            Some(s) => decode_key(s, rec.key.as_deref())?,
            None => (rec.key.as_ref().map_or(Json::Null, |k| Json::String(String::from_utf8_lossy(k).into())), None),
        };
        let value = match (&rec.value, source.as_ref().map(|s| s.value_format)) {
            (None, _) => Json::Null,
            (Some(v), Some(Format::Json | Format::Avro | Format::JsonSr))
                if source.as_ref().is_some_and(|s| s.value_codec().unwrapped) =>
            {
                // `WRAP_SINGLE_VALUE=false`: the record is the single column's value itself.
                let s = source.as_ref().ok_or("no source")?;
                let mut row = vec![weft_sql::types::Value::Null; 1];
                s.value_codec().decode_into(v, &mut row).map_err(|e| e.to_string())?;
                weft_sql::format::to_json_value(&row[0], &s.value_columns[0].ty)
            }
            (Some(v), Some(Format::Json) | None) => {
                serde_json::from_slice(v).map_err(|e| format!("output is not JSON: {e}"))?
            }
            (Some(v), Some(Format::Delimited)) => Json::String(String::from_utf8_lossy(v).into()),
            (Some(v), Some(Format::Avro | Format::JsonSr | Format::Protobuf | Format::ProtobufNoSr)) => {
                let s = source.as_ref().ok_or("no source")?;
                let mut codec = s.value_codec();
                if let Some(columns) = pinned_value_columns(s)? {
                    codec.columns = columns;
                }
                let mut row = vec![weft_sql::types::Value::Null; codec.columns.len()];
                codec.decode_into(v, &mut row).map_err(|e| e.to_string())?;
                let mut m = serde_json::Map::new();
                for (c, x) in codec.columns.iter().zip(&row) {
                    m.insert(c.name.clone(), weft_sql::format::to_json_value(x, &c.ty));
                }
                Json::Object(m)
            }
            (Some(v), Some(_)) => {
                let s = source.as_ref().ok_or("no source")?;
                let mut row = vec![weft_sql::types::Value::Null; s.value_columns.len()];
                s.value_codec().decode_into(v, &mut row).map_err(|e| e.to_string())?;
                weft_sql::format::to_json_value(&row[0], &s.value_columns[0].ty)
            }
        };
        let key_text = match (&source, &rec.key) {
            (Some(s), Some(k)) if s.key_codec().format == Format::Delimited && s.window.is_none() => {
                Some(String::from_utf8_lossy(k).into_owned())
            }
            _ => None,
        };
        out.push(Actual { key, key_text, value, timestamp: rec.timestamp, window });
    }
    Ok(out)
}

/// The columns of the schema a sink pins with `VALUE_SCHEMA_ID`, which its records are written
/// with: read with them, as ksqlDB's test driver reads a record with its writer's schema, they show
/// the schema's fields that no column of the sink gives.
fn pinned_value_columns(sink: &SourceDef) -> Result<Option<Vec<weft_sql::format::Column>>, String> {
    let (Some(id), Some(registry)) = (sink.value_schema_id, sink.registry.as_ref()) else { return Ok(None) };
    let text = registry.0.schema_by_id(id).map_err(|e| e.to_string())?;
    let columns = match sink.value_format {
        Format::Avro => weft_sql::avro::AvroSchema::parse(&text).and_then(|s| s.columns()),
        Format::JsonSr => weft_sql::registry::columns_from_json_schema(&text),
        Format::Protobuf => weft_sql::protobuf::columns_from_schema(&text, sink.value_schema_full_name.as_deref()),
        _ => return Ok(None),
    };
    columns.map(Some).map_err(|e| format!("pinned value schema {id}: {e}"))
}

type WindowOut = Option<(i64, i64, &'static str)>;

fn decode_key(source: &SourceDef, key: Option<&[u8]>) -> Result<(Json, WindowOut), String> {
    let codec = source.key_codec();
    let mut row = vec![weft_sql::types::Value::Null; codec.columns.len()];
    let bounds = codec.decode_into(key, &mut row).map_err(|e| format!("bad output key: {e}"))?;
    let json = if key.is_none() {
        Json::Null
    } else if source.key_format == Format::Delimited && source.window.is_none() {
        Json::String(String::from_utf8_lossy(key.unwrap_or_default()).into())
    } else if codec.columns.len() == 1 && !matches!(codec.format, Format::Protobuf | Format::ProtobufNoSr) {
        weft_sql::format::to_json_value(&row[0], &codec.columns[0].ty)
    } else if codec.columns.is_empty() {
        Json::Null
    } else {
        let mut m = serde_json::Map::new();
        for (c, v) in codec.columns.iter().zip(&row) {
            m.insert(c.name.clone(), weft_sql::format::to_json_value(v, &c.ty));
        }
        Json::Object(m)
    };
    let window = match (bounds, source.window) {
        (Some(b), Some(w)) => {
            let end = w.size_ms.map_or(b.end, |s| b.start + s);
            Some((b.start, end, if w.kind == WindowType::Session { "session" } else { "time" }))
        }
        _ => None,
    };
    Ok((json, window))
}

fn compare_topic(topic: &str, expected: &[&OutputRecord], actual: &[Actual]) -> Result<(), String> {
    let show_actual = || {
        actual
            .iter()
            .map(|a| {
                let w = a.window.map(|(s, e, _)| format!(" window [{s}, {e})")).unwrap_or_default();
                format!("  key {} value {} ts {}{w}", a.key, a.value, a.timestamp)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if expected.len() != actual.len() {
        return Err(format!(
            "topic {topic}: expected {} records, got {}:\n{}",
            expected.len(),
            actual.len(),
            show_actual()
        ));
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        // A DELIMITED key is read as its text; a number or boolean expected there is its text.
        let key_ok = json_eq(&e.key, &a.key)
            || matches!((&e.key, &a.key_text), (Json::String(e), Some(a)) if e == a)
            || matches!((&e.key, &a.key), (Json::Number(_) | Json::Bool(_), Json::String(text)) if written_as(&e.key, text));
        let mut ok = key_ok && json_eq(&e.value, &a.value);
        if let Some(ts) = e.timestamp {
            ok &= ts == a.timestamp;
        }
        if let Some(w) = &e.window {
            let start = w.get("start").and_then(Json::as_i64);
            let end = w.get("end").and_then(Json::as_i64);
            ok &= a.window.is_some_and(|(s, en, _)| Some(s) == start && Some(en) == end);
        }
        if !ok {
            return Err(format!(
                "topic {topic}, record {i}: expected key {} value {} ts {:?} window {:?}; actual records:\n{}",
                e.key,
                e.value,
                e.timestamp,
                e.window,
                show_actual()
            ));
        }
    }
    Ok(())
}

/// JSON equality of an expected value `a` with an actual `b`, numbers compared by value (1 == 1.0)
/// and an expected field found under its name or upper-cased (as ksqlDB's test driver finds it:
/// `ExpectedRecordComparator`, so `AS json_v` matches `{"json_v": ...}`).
pub fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Json::Object(x), Json::Object(y)) => {
            // As ksqlDB's driver: an expected field the actual lacks compares with null.
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| json_eq(v, y.get(k).or_else(|| y.get(&k.to_uppercase())).unwrap_or(&Json::Null)))
        }
        // ksqlDB's driver reads a decimal expected as text ("1.0") as a number.
        (Json::String(x), Json::Number(y)) if x.contains('.') => {
            x.parse::<f64>().ok().zip(y.as_f64()).is_some_and(|(x, y)| x == y)
        }
        _ => a == b,
    }
}

/// Whether `text` is how `value` (a number or boolean) is written as JSON.
fn written_as(value: &Json, text: &str) -> bool {
    let written = value.to_string();
    written == text
}
