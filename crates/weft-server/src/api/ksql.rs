//! ksqlDB's REST API over the streaming SQL engine ([`weft_sql::Engine`]), at the server root as
//! ksqlDB has it:
//!
//! | method and path | what |
//! | --- | --- |
//! | `POST /ksql` | `{"ksql": "...;", "streamsProperties": {...}}`: runs statements, answers a JSON array of ksqlDB entities |
//! | `POST /query` | a push query (streamed chunked JSON array: a header, then rows), a pull query or `PRINT` |
//! | `POST /query-stream` | `{"sql": "...", "properties": {...}}`: a push or pull query, as newline-delimited JSON or one JSON array |
//! | `POST /close-query` | `{"queryId": "..."}`: ends a push query running on `/query-stream` |
//! | `POST /inserts-stream` | `{"target": "..."}` then one JSON row per line: inserts them, one acknowledgement per row |
//! | `GET /info` | `{"KsqlServerInfo": {...}}` |
//! | `GET /healthcheck` | `{"isHealthy": true, "details": {...}}` |
//!
//! Errors keep ksqlDB's shape: `{"@type": "statement_error", "error_code": 40001, "message": "...",
//! "statementText": "...", "entities": [...]}` (HTTP 400; 500 for server errors), where `entities`
//! holds the results of the statements of the request that ran before the failing one. Request
//! bodies may be sent as `application/vnd.ksql.v1+json` or `application/json`.
//!
//! `/query-stream`, `/close-query` and `/inserts-stream` are ksqlDB's "HTTP/2 streaming API", served
//! over HTTP/2 (as ksqlDB's clients require; see [`crate::listen`]) and over HTTP/1.1 with a chunked
//! body. As in ksqlDB (`QueryStreamHandler`), the answer is
//! `application/vnd.ksqlapi.delimited.v1` unless the client accepts only `application/json`:
//! delimited, a metadata line `{"queryId", "columnNames", "columnTypes"}` (`queryId` for push
//! queries only) and then one JSON array of column values per line; JSON, the same items as one
//! array. Errors before the first row are `{"@type": "generic_error" | "statement_error",
//! "error_code", "message"}` with HTTP 400; an error while streaming is written as one more item of
//! that shape. Unlike the old `/query`, there is no final "Limit Reached" item: the body just ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value as Json};
use weft_mesh::weft_sql::plan::OutputColumn;
use weft_mesh::weft_sql::{
    row_to_json, schema_text_of, FieldInfo, PushQuery, QueryHandle, QueryInfo, SourceInfo, SqlError, StatementResult,
};

use super::{Ctx, RawBody};
use crate::AppState;

/// The SQL engine's error of a mesh call (the mesh's SQL calls fail only with the engine's errors).
fn sql_error(error: weft_mesh::MeshError) -> SqlError {
    match error {
        weft_mesh::MeshError::Sql(e) => e,
        other => SqlError::Forbidden(other.to_string()),
    }
}

/// ksqlDB's versioned content type.
pub const KSQL_CONTENT_TYPE: &str = "application/vnd.ksql.v1+json";

/// The newline-delimited answer of `/query-stream` (ksqlDB's default for that endpoint).
pub const DELIMITED_CONTENT_TYPE: &str = "application/vnd.ksqlapi.delimited.v1";

/// How long one wait for push-query rows lasts before checking whether the client is still there.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The same for `/query-stream`, shorter so that `/close-query` ends a query promptly.
const STREAM_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The ksqlDB routes (merged at the server root).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ksql", post(ksql))
        .route("/query", post(query))
        .route("/query-stream", post(query_stream))
        .route("/close-query", post(close_query))
        .route("/inserts-stream", post(inserts_stream))
        .route("/info", get(info))
        .route("/healthcheck", get(healthcheck))
        .layer(Extension(RunningQueries::default()))
}

/// The push queries streaming on `/query-stream`, by id, each with the flag `/close-query` raises.
#[derive(Clone, Default)]
struct RunningQueries(Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>);

impl RunningQueries {
    fn register(&self, id: &str) -> Registration {
        let closed = Arc::new(AtomicBool::new(false));
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), closed.clone());
        Registration { queries: self.clone(), id: id.to_string(), closed }
    }

    /// Asks the query to end; `false` when no such query runs.
    fn close(&self, id: &str) -> bool {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id) {
            Some(closed) => {
                closed.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// A running query's entry, removed however its stream ends (LIMIT, close, client gone, error).
struct Registration {
    queries: RunningQueries,
    id: String,
    closed: Arc<AtomicBool>,
}

impl Registration {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.queries.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

/// The body of `/ksql` and `/query`.
struct KsqlRequest {
    ksql: String,
    properties: BTreeMap<String, String>,
}

/// ksqlDB's error response.
fn error_response(headers: &HeaderMap, code: u32, message: &str, statement: &str) -> Response {
    error_response_with(headers, code, message, statement, Vec::new())
}

/// ksqlDB's error response whose `entities` are the results of the statements that ran before.
fn error_response_with(
    headers: &HeaderMap,
    code: u32,
    message: &str,
    statement: &str,
    entities: Vec<Json>,
) -> Response {
    let body = json!({
        "@type": error_kind(code),
        "error_code": code,
        "message": message,
        "statementText": statement,
        "entities": entities,
    });
    json_response(headers, error_status(code), &body)
}

/// ksqlDB's statuses: 403 for its forbidden codes (403xx), 500 for server errors, else 400.
fn error_status(code: u32) -> StatusCode {
    match code {
        50000.. => StatusCode::INTERNAL_SERVER_ERROR,
        40300..=40399 => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn error_kind(code: u32) -> &'static str {
    if code == 40000 || code >= 50000 || (40300..=40399).contains(&code) {
        "generic_error"
    } else {
        "statement_error"
    }
}

fn sql_error_response(headers: &HeaderMap, error: &SqlError, statement: &str) -> Response {
    error_response(headers, error.error_code(), &error.to_string(), statement)
}

/// The content type answers use: ksqlDB's own when the client asked for it, JSON otherwise.
fn response_content_type(headers: &HeaderMap) -> &'static str {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let sent = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("vnd.ksql") || (!accept.contains("application/json") && sent.contains("vnd.ksql")) {
        KSQL_CONTENT_TYPE
    } else {
        "application/json"
    }
}

fn json_response(headers: &HeaderMap, status: StatusCode, body: &Json) -> Response {
    (status, [(CONTENT_TYPE, response_content_type(headers))], body.to_string()).into_response()
}

/// Parses the request body; `Err` is a 40000 error's message and statement text.
fn parse_request(headers: &HeaderMap, bytes: &[u8]) -> Result<KsqlRequest, (String, String)> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !(essence == "application/json" || essence == KSQL_CONTENT_TYPE || essence.is_empty()) {
        return Err((
            format!("unsupported content type '{content_type}': send application/json or {KSQL_CONTENT_TYPE}"),
            String::new(),
        ));
    }
    let body: Json = serde_json::from_slice(bytes)
        .map_err(|e| (format!("the request body is not valid JSON: {e}"), String::new()))?;
    let Some(ksql) = body.get("ksql").and_then(Json::as_str) else {
        return Err(("the request body needs a string field 'ksql'".to_string(), String::new()));
    };
    let mut properties = BTreeMap::new();
    match body.get("streamsProperties") {
        None | Some(Json::Null) => {}
        Some(Json::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                properties.insert(name.clone(), value);
            }
        }
        Some(_) => return Err(("'streamsProperties' must be an object".to_string(), ksql.to_string())),
    }
    Ok(KsqlRequest { ksql: ksql.to_string(), properties })
}

/// `POST /ksql`.
async fn ksql(State(state): State<AppState>, Ctx(ctx): Ctx, headers: HeaderMap, RawBody(bytes): RawBody) -> Response {
    let request = match parse_request(&headers, &bytes) {
        Ok(request) => request,
        Err((message, statement)) => return error_response(&headers, 40000, &message, &statement),
    };
    let mesh = state.mesh.clone();
    let text = request.ksql.clone();
    let outcome =
        tokio::task::spawn_blocking(move || mesh.sql_execute(&ctx, &text, &request.properties).map_err(sql_error))
            .await;
    match outcome {
        Ok(Ok(executed)) => {
            let entities: Vec<Json> = executed.results.iter().map(entity).collect();
            match executed.failed {
                None => json_response(&headers, StatusCode::OK, &Json::Array(entities)),
                Some((statement, e)) => {
                    error_response_with(&headers, e.error_code(), &e.to_string(), &statement, entities)
                }
            }
        }
        Ok(Err(e)) => sql_error_response(&headers, &e, &request.ksql),
        Err(e) => error_response(&headers, 50000, &format!("the statement failed: {e}"), &request.ksql),
    }
}

/// The top-level type of a type text (`ARRAY<STRING>` is an `ARRAY`), as ksqlDB's field schemas have it.
fn type_head(ty: &str) -> &str {
    ty.split(['<', '(', ' ']).next().unwrap_or(ty)
}

fn field_json(field: &FieldInfo) -> Json {
    let mut out = json!({
        "name": field.name,
        "schema": {"type": type_head(&field.ty), "fields": null, "memberSchema": null},
    });
    if field.key.is_some() {
        out["type"] = json!("KEY");
    }
    out
}

fn source_summary(source: &SourceInfo) -> Json {
    json!({
        "type": source.kind,
        "name": source.name,
        "topic": source.topic,
        "keyFormat": source.key_format,
        "valueFormat": source.value_format,
        "isWindowed": source.windowed,
    })
}

fn query_json(query: &QueryInfo) -> Json {
    json!({
        "queryString": query.statement,
        "sinks": [query.sink],
        "sinkKafkaTopics": [query.sink_topic],
        "id": query.id,
        "statusCount": {query.state.clone(): 1},
        "queryType": "PERSISTENT",
        "state": query.state,
        // Weft's own: the query's tasks, and those this server runs and holds open now.
        "tasks": {"count": query.tasks, "runningHere": query.tasks_here, "openHere": query.tasks_open},
        // Weft's own: why the query last failed or skipped a record (an ERROR query retries).
        "lastError": query.last_error,
    })
}

/// One statement's result as a ksqlDB entity.
fn entity(result: &StatementResult) -> Json {
    match result {
        StatementResult::Status { statement, message, query_id } => json!({
            "@type": "currentStatus",
            "statementText": statement,
            "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            "warnings": [],
        }),
        StatementResult::Streams { statement, streams } => json!({
            "@type": "streams",
            "statementText": statement,
            "streams": streams.iter().map(source_summary).collect::<Vec<_>>(),
            "warnings": [],
        }),
        StatementResult::Tables { statement, tables } => json!({
            "@type": "tables",
            "statementText": statement,
            "tables": tables.iter().map(source_summary).collect::<Vec<_>>(),
            "warnings": [],
        }),
        StatementResult::Queries { statement, queries } => json!({
            "@type": "queries",
            "statementText": statement,
            "queries": queries.iter().map(query_json).collect::<Vec<_>>(),
            "warnings": [],
        }),
        StatementResult::Topics { statement, topics } => json!({
            "@type": "kafka_topics",
            "statementText": statement,
            "topics": topics.iter().map(|t| json!({
                "name": t.name,
                "replicaInfo": vec![1; t.partitions as usize],
            })).collect::<Vec<_>>(),
            "warnings": [],
        }),
        StatementResult::Description { statement, source, extended, queries } => {
            let stats: Vec<String> = queries
                .iter()
                .map(|q| format!("{}: records-read={} records-written={}", q.id, q.records_read, q.records_written))
                .collect();
            let errors: Vec<String> = queries
                .iter()
                .filter(|q| q.errors > 0)
                .map(|q| match &q.last_error {
                    Some(last) => format!("{}: errors={} (last: {last})", q.id, q.errors),
                    None => format!("{}: errors={}", q.id, q.errors),
                })
                .collect();
            json!({
                "@type": "sourceDescription",
                "statementText": statement,
                "sourceDescription": {
                    "name": source.name,
                    "windowType": null,
                    "readQueries": source.read_queries.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                    "writeQueries": source.write_queries.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                    "fields": source.fields.iter().map(field_json).collect::<Vec<_>>(),
                    "type": source.kind,
                    "timestamp": source.timestamp.clone().unwrap_or_default(),
                    "statistics": stats.join(", "),
                    "errorStats": errors.join(", "),
                    "extended": extended,
                    "keyFormat": source.key_format,
                    "valueFormat": source.value_format,
                    "topic": source.topic,
                    "partitions": source.partitions,
                    "replication": 1,
                    "statement": source.statement,
                    "queryOffsetSummaries": [],
                    "sourceConstraints": [],
                },
                "warnings": [],
            })
        }
        StatementResult::Explain { statement, query_id, plan, sink } => json!({
            "@type": "queryDescription",
            "statementText": statement,
            "queryDescription": {
                "id": query_id,
                "statementText": statement,
                "sinks": sink.iter().collect::<Vec<_>>(),
                "executionPlan": plan,
                "topology": plan,
            },
            "warnings": [],
        }),
        StatementResult::Properties { statement, properties } => json!({
            "@type": "properties",
            "statementText": statement,
            "properties": properties.iter().map(|(name, value)| json!({
                "name": name, "scope": "KSQL", "value": value,
            })).collect::<Vec<_>>(),
            "overwrittenProperties": [],
            "defaultProperties": [],
            "warnings": [],
        }),
        StatementResult::Functions { statement, scalar, aggregate } => {
            let functions: Vec<Json> = scalar
                .iter()
                .map(|name| json!({"name": name, "type": "SCALAR"}))
                .chain(aggregate.iter().map(|name| json!({"name": name, "type": "AGGREGATE"})))
                .collect();
            json!({
                "@type": "function_names",
                "statementText": statement,
                "functions": functions,
                "warnings": [],
            })
        }
        StatementResult::Rows { statement, columns, rows } => json!({
            "@type": "rows",
            "statementText": statement,
            "schema": columns.iter().map(|c| format!("`{}` {}{}", c.name, c.ty, if c.key.is_some() { " KEY" } else { "" })).collect::<Vec<_>>().join(", "),
            "rows": rows,
            "warnings": [],
        }),
    }
}

/// Ids for pull queries' headers.
static PULL_QUERIES: AtomicU64 = AtomicU64::new(0);

/// `POST /query`.
async fn query(State(state): State<AppState>, Ctx(ctx): Ctx, headers: HeaderMap, RawBody(bytes): RawBody) -> Response {
    let request = match parse_request(&headers, &bytes) {
        Ok(request) => request,
        Err((message, statement)) => return error_response(&headers, 40000, &message, &statement),
    };
    let mesh = state.mesh.clone();
    let text = request.ksql.clone();
    let properties = request.properties.clone();
    let handle =
        match tokio::task::spawn_blocking(move || mesh.sql_query(&ctx, &text, &properties).map_err(sql_error)).await {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => return sql_error_response(&headers, &e, &request.ksql),
            Err(e) => return error_response(&headers, 50000, &format!("the query failed: {e}"), &request.ksql),
        };
    let content_type = response_content_type(&headers);
    match handle {
        QueryHandle::Pull { columns, rows } => {
            let id = format!("transient_pull_{}", PULL_QUERIES.fetch_add(1, Ordering::Relaxed) + 1);
            let mut out = vec![json!({"header": {"queryId": id, "schema": schema_text_of(&columns)}})];
            out.extend(rows.iter().map(|row| json!({"row": {"columns": row_to_json(row, &columns)}})));
            json_response(&headers, StatusCode::OK, &Json::Array(out))
        }
        QueryHandle::Push(mut push) => {
            let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
            let mut shutdown = state.shutdown_receiver();
            let header = json!({"header": {"queryId": push.id, "schema": schema_text_of(&push.columns)}});
            tokio::task::spawn_blocking(move || {
                if sender.blocking_send(Bytes::from(format!("[{header}"))).is_err() {
                    return;
                }
                let ending = loop {
                    if *shutdown.borrow_and_update() {
                        break None;
                    }
                    if sender.is_closed() {
                        // The client went away: dropping the handle is the cleanup.
                        return;
                    }
                    if push.is_done() {
                        break Some(json!({"finalMessage": "Limit Reached"}));
                    }
                    match push.next_rows(POLL_INTERVAL) {
                        Ok(rows) => {
                            for row in rows {
                                let line = json!({"row": {"columns": row_to_json(&row, &push.columns)}});
                                if sender.blocking_send(Bytes::from(format!(",\n{line}"))).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            break Some(json!({"errorMessage": {
                                "@type": "generic_error",
                                "error_code": e.error_code(),
                                "message": e.to_string(),
                            }}));
                        }
                    }
                };
                let tail = match ending {
                    Some(last) => format!(",\n{last}]\n"),
                    None => "]\n".to_string(),
                };
                let _ = sender.blocking_send(Bytes::from(tail));
            });
            stream_response(content_type, receiver)
        }
        QueryHandle::Print(mut print) => {
            let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
            let mut shutdown = state.shutdown_receiver();
            tokio::task::spawn_blocking(move || loop {
                if *shutdown.borrow_and_update() || sender.is_closed() || print.is_done() {
                    return;
                }
                match print.next_lines(POLL_INTERVAL) {
                    Ok(lines) => {
                        for line in lines {
                            if sender.blocking_send(Bytes::from(format!("{line}\n"))).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = sender.blocking_send(Bytes::from(format!("error: {e}\n")));
                        return;
                    }
                }
            });
            stream_response("text/plain; charset=utf-8", receiver)
        }
    }
}

/// The body of `/query-stream`: `{"sql": "...", "properties": {...}}` (`streamsProperties` is taken
/// too, as ksqlDB's own curl example sends it).
struct QueryStreamRequest {
    sql: String,
    properties: BTreeMap<String, String>,
}

/// An error of the streaming API, in ksqlDB's shape for it (no `entities`).
fn stream_error(code: u32, message: &str, statement: Option<&str>) -> Response {
    let mut body = json!({"@type": error_kind(code), "error_code": code, "message": message});
    if let Some(statement) = statement {
        body["statementText"] = json!(statement);
    }
    (error_status(code), [(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Parses a streaming API body; `Err` is the 40000 error's message (ksqlDB: "Invalid JSON in request").
fn parse_query_stream_request(bytes: &[u8]) -> Result<QueryStreamRequest, String> {
    let body: Json = serde_json::from_slice(bytes).map_err(|e| format!("Invalid JSON in request: {e}"))?;
    let Some(sql) = body.get("sql").and_then(Json::as_str) else {
        return Err("Invalid JSON in request: the body needs a string field 'sql'".to_string());
    };
    let mut properties = BTreeMap::new();
    for field in ["streamsProperties", "properties"] {
        match body.get(field) {
            None | Some(Json::Null) => {}
            Some(Json::Object(map)) => {
                for (name, value) in map {
                    let value = match value {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    properties.insert(name.clone(), value);
                }
            }
            Some(_) => return Err(format!("Invalid JSON in request: '{field}' must be an object")),
        }
    }
    Ok(QueryStreamRequest { sql: sql.to_string(), properties })
}

/// Whether a `/query-stream` client gets one JSON array rather than delimited lines: only when it
/// accepts `application/json` and not the delimited type (ksqlDB's default).
fn wants_json_array(headers: &HeaderMap) -> bool {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    accept.contains("application/json") && !accept.contains(DELIMITED_CONTENT_TYPE)
}

/// Writes `/query-stream` items in the chosen framing.
struct Framing {
    json_array: bool,
    first: bool,
}

impl Framing {
    fn item(&mut self, item: &Json) -> Bytes {
        let text = if !self.json_array {
            format!("{item}\n")
        } else if self.first {
            format!("[{item}")
        } else {
            format!(",{item}")
        };
        self.first = false;
        Bytes::from(text)
    }

    fn end(&self) -> Option<Bytes> {
        self.json_array.then(|| Bytes::from_static(if self.first { b"[]" } else { b"]" }))
    }

    fn content_type(&self) -> &'static str {
        if self.json_array {
            "application/json"
        } else {
            DELIMITED_CONTENT_TYPE
        }
    }
}

/// ksqlDB's query metadata item: column names and types, and the id of a push query.
fn query_metadata(id: Option<&str>, columns: &[OutputColumn]) -> Json {
    let mut metadata = json!({
        "columnNames": columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        "columnTypes": columns.iter().map(|c| c.ty.to_string()).collect::<Vec<_>>(),
    });
    if let Some(id) = id {
        metadata["queryId"] = json!(id);
    }
    metadata
}

/// `POST /query-stream`.
async fn query_stream(
    State(state): State<AppState>,
    Extension(running): Extension<RunningQueries>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    RawBody(bytes): RawBody,
) -> Response {
    let request = match parse_query_stream_request(&bytes) {
        Ok(request) => request,
        Err(message) => return stream_error(40000, &message, None),
    };
    let mesh = state.mesh.clone();
    let text = request.sql.clone();
    let handle =
        match tokio::task::spawn_blocking(move || mesh.sql_query(&ctx, &text, &request.properties).map_err(sql_error))
            .await
        {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => return stream_error(e.error_code(), &e.to_string(), Some(&request.sql)),
            Err(e) => return stream_error(50000, &format!("the query failed: {e}"), Some(&request.sql)),
        };
    let mut framing = Framing { json_array: wants_json_array(&headers), first: true };
    let content_type = framing.content_type();
    match handle {
        QueryHandle::Pull { columns, rows } => {
            let mut body = Vec::new();
            body.extend_from_slice(&framing.item(&query_metadata(None, &columns)));
            for row in &rows {
                body.extend_from_slice(&framing.item(&Json::Array(row_to_json(row, &columns))));
            }
            if let Some(end) = framing.end() {
                body.extend_from_slice(&end);
            }
            (StatusCode::OK, [(CONTENT_TYPE, content_type)], body).into_response()
        }
        QueryHandle::Push(push) => {
            let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
            let registration = running.register(&push.id);
            let shutdown = state.shutdown_receiver();
            tokio::task::spawn_blocking(move || stream_push(*push, registration, framing, shutdown, sender));
            stream_response(content_type, receiver)
        }
        QueryHandle::Print(_) => {
            stream_error(40001, "PRINT is not served by /query-stream: send it to /query", Some(&request.sql))
        }
    }
}

/// Streams a push query's rows until its LIMIT, `/close-query`, the client leaving or shutdown.
fn stream_push(
    mut push: PushQuery,
    registration: Registration,
    mut framing: Framing,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    sender: tokio::sync::mpsc::Sender<Bytes>,
) {
    if sender.blocking_send(framing.item(&query_metadata(Some(&push.id), &push.columns))).is_err() {
        return;
    }
    while !push.is_done() && !registration.is_closed() && !*shutdown.borrow_and_update() {
        if sender.is_closed() {
            // The client went away: dropping the handle and the registration is the cleanup.
            return;
        }
        match push.next_rows(STREAM_POLL_INTERVAL) {
            Ok(rows) => {
                for row in rows {
                    if sender.blocking_send(framing.item(&Json::Array(row_to_json(&row, &push.columns)))).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                let error = json!({"@type": "generic_error", "error_code": e.error_code(), "message": e.to_string()});
                let _ = sender.blocking_send(framing.item(&error));
                break;
            }
        }
    }
    if let Some(end) = framing.end() {
        let _ = sender.blocking_send(end);
    }
}

/// `POST /close-query`: `{"queryId": "..."}`; an empty 200 answer once the query is told to end.
async fn close_query(Extension(running): Extension<RunningQueries>, RawBody(bytes): RawBody) -> Response {
    let body: Json = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(e) => return stream_error(40000, &format!("Invalid JSON in request: {e}"), None),
    };
    let Some(id) = body.get("queryId").and_then(Json::as_str) else {
        return stream_error(40000, "Invalid JSON in request: the body needs a string field 'queryId'", None);
    };
    if running.close(id) {
        StatusCode::OK.into_response()
    } else {
        stream_error(40000, &format!("No query with id {id}"), None)
    }
}

/// `POST /inserts-stream`: newline-delimited JSON, first `{"target": "STREAM"}`, then one object
/// per row (column name to value). Answers one acknowledgement per row, in order, newline-delimited:
/// `{"status": "ok", "seq": N}` or `{"status": "error", "seq": N, "error_code": ..., "message": ...}`;
/// a bad row does not stop the rows after it.
///
/// Full duplex as ksqlDB's (`InsertsStreamEndpoint`): each row is inserted and acknowledged as soon
/// as its line arrives, while the client is still sending, so a client may wait for a row's
/// acknowledgement before sending the next. That needs HTTP/2 (over HTTP/1.1 clients send the
/// whole body first; the answer is the same). Only the header line is awaited before the answer
/// starts, so that a bad one is a 400; the answer ends when the request body does, when the client
/// goes away or when the server shuts down.
async fn inserts_stream(State(state): State<AppState>, Ctx(ctx): Ctx, body: Body) -> Response {
    let mut lines = LineReader::new(body, state.limits.max_body_bytes);
    let header: Json = match lines.next_line().await {
        Ok(Some(line)) => match serde_json::from_slice(&line) {
            Ok(header) => header,
            Err(e) => return stream_error(40000, &format!("Invalid JSON in request: the first line: {e}"), None),
        },
        Ok(None) => return stream_error(40000, "Invalid JSON in request: the body is empty", None),
        Err(message) => return stream_error(40000, &message, None),
    };
    let Some(target) = header.get("target").and_then(Json::as_str).map(str::to_string) else {
        return stream_error(40000, "Invalid JSON in request: the first line needs a string field 'target'", None);
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    let mesh = state.mesh.clone();
    let mut shutdown = state.shutdown_receiver();
    tokio::spawn(async move {
        let mut seq = 0u64;
        loop {
            let line = tokio::select! {
                line = lines.next_line() => line,
                _ = shutdown.wait_for(|shutting_down| *shutting_down) => break,
                // The client stopped reading acknowledgements: nothing more is wanted.
                () = sender.closed() => break,
            };
            let line = match line {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(message) => {
                    let error = json!({"status": "error", "seq": seq, "error_code": 40000, "message": message});
                    let _ = sender.send(Bytes::from(format!("{error}\n"))).await;
                    break;
                }
            };
            let outcome = match serde_json::from_slice::<Json>(&line) {
                Ok(Json::Object(row)) => {
                    let (mesh, ctx, target) = (mesh.clone(), ctx.clone(), target.clone());
                    match tokio::task::spawn_blocking(move || mesh.sql_insert(&ctx, &target, &row)).await {
                        Ok(inserted) => inserted.map_err(sql_error).map_err(|e| (e.error_code(), e.to_string())),
                        Err(e) => Err((50000, format!("the insert failed: {e}"))),
                    }
                }
                Ok(_) => Err((40000, "a row must be a JSON object of column names to values".to_string())),
                Err(e) => Err((40000, format!("Invalid JSON in row: {e}"))),
            };
            let ack = match outcome {
                Ok(()) => json!({"status": "ok", "seq": seq}),
                Err((code, message)) => json!({"status": "error", "seq": seq, "error_code": code, "message": message}),
            };
            if sender.send(Bytes::from(format!("{ack}\n"))).await.is_err() {
                break;
            }
            seq += 1;
        }
    });
    stream_response(DELIMITED_CONTENT_TYPE, receiver)
}

/// The non-blank lines of a request body as they arrive, each at most `max_line` bytes.
struct LineReader {
    body: axum::body::BodyDataStream,
    buffer: Vec<u8>,
    /// Where the search for the next newline resumes (the bytes before it hold none).
    scanned: usize,
    max_line: usize,
    ended: bool,
}

impl LineReader {
    fn new(body: Body, max_line: usize) -> Self {
        LineReader { body: body.into_data_stream(), buffer: Vec::new(), scanned: 0, max_line, ended: false }
    }

    /// The next non-blank line, without its line ending; `None` at the end of the body; `Err` a
    /// message saying why the body cannot be read on.
    async fn next_line(&mut self) -> Result<Option<Vec<u8>>, String> {
        use futures_util::StreamExt;
        loop {
            if let Some(at) = self.buffer[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + at;
                let line: Vec<u8> = self.buffer.drain(..=end).take(end).collect();
                self.scanned = 0;
                if line.trim_ascii().is_empty() {
                    continue;
                }
                return Ok(Some(line));
            }
            self.scanned = self.buffer.len();
            if self.buffer.len() > self.max_line {
                return Err(format!(
                    "a line is longer than the server's limit of {} bytes (max_body_bytes)",
                    self.max_line
                ));
            }
            if self.ended {
                // The last line may lack its newline.
                let line = std::mem::take(&mut self.buffer);
                self.scanned = 0;
                return Ok((!line.trim_ascii().is_empty()).then_some(line));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(format!("cannot read the request body: {e}")),
                None => self.ended = true,
            }
        }
    }
}

/// A chunked response of whatever the receiver gets, ending when its sender is dropped.
fn stream_response(content_type: &'static str, receiver: tokio::sync::mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    (StatusCode::OK, [(CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response()
}

/// `GET /info`.
async fn info(headers: HeaderMap) -> Response {
    let body = json!({"KsqlServerInfo": {
        "version": env!("CARGO_PKG_VERSION"),
        "kafkaClusterId": "weft",
        "ksqlServiceId": "default_",
        "serverStatus": "RUNNING",
    }});
    json_response(&headers, StatusCode::OK, &body)
}

/// `GET /healthcheck`.
async fn healthcheck(headers: HeaderMap) -> Response {
    let body = json!({
        "isHealthy": true,
        "details": {
            "metastore": {"isHealthy": true},
            "kafka": {"isHealthy": true},
            "commandRunner": {"isHealthy": true},
        },
    });
    json_response(&headers, StatusCode::OK, &body)
}
