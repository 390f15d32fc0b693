//! ksqlDB's REST API over the streaming SQL engine ([`weft_sql::Engine`]), at the server root as
//! ksqlDB has it:
//!
//! | method and path | what |
//! | --- | --- |
//! | `POST /ksql` | `{"ksql": "...;", "streamsProperties": {...}}`: runs statements, answers a JSON array of ksqlDB entities |
//! | `POST /query` | a push query (streamed chunked JSON array: a header, then rows), a pull query or `PRINT` |
//! | `GET /info` | `{"KsqlServerInfo": {...}}` |
//! | `GET /healthcheck` | `{"isHealthy": true, "details": {...}}` |
//!
//! Errors keep ksqlDB's shape: `{"@type": "statement_error", "error_code": 40001, "message": "...",
//! "statementText": "...", "entities": []}` (HTTP 400; 500 for server errors). Request bodies may be
//! sent as `application/vnd.ksql.v1+json` or `application/json`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};
use weft_sql::{row_to_json, schema_text_of, FieldInfo, QueryHandle, QueryInfo, SourceInfo, SqlError, StatementResult};

use super::RawBody;
use crate::AppState;

/// ksqlDB's versioned content type.
pub const KSQL_CONTENT_TYPE: &str = "application/vnd.ksql.v1+json";

/// How long one wait for push-query rows lasts before checking whether the client is still there.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The ksqlDB routes (merged at the server root).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ksql", post(ksql))
        .route("/query", post(query))
        .route("/info", get(info))
        .route("/healthcheck", get(healthcheck))
}

/// The body of `/ksql` and `/query`.
struct KsqlRequest {
    ksql: String,
    properties: BTreeMap<String, String>,
}

/// ksqlDB's error response.
fn error_response(headers: &HeaderMap, code: u32, message: &str, statement: &str) -> Response {
    let status = if code >= 50000 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
    let kind = if code == 40000 || code >= 50000 { "generic_error" } else { "statement_error" };
    let body = json!({
        "@type": kind,
        "error_code": code,
        "message": message,
        "statementText": statement,
        "entities": [],
    });
    json_response(headers, status, &body)
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
async fn ksql(State(state): State<AppState>, headers: HeaderMap, RawBody(bytes): RawBody) -> Response {
    let request = match parse_request(&headers, &bytes) {
        Ok(request) => request,
        Err((message, statement)) => return error_response(&headers, 40000, &message, &statement),
    };
    let engine = state.sql.clone();
    let text = request.ksql.clone();
    let outcome = tokio::task::spawn_blocking(move || engine.execute_with_properties(&text, &request.properties)).await;
    match outcome {
        Ok(Ok(results)) => {
            let entities: Vec<Json> = results.iter().map(entity).collect();
            json_response(&headers, StatusCode::OK, &Json::Array(entities))
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
            let errors: Vec<String> =
                queries.iter().filter(|q| q.errors > 0).map(|q| format!("{}: errors={}", q.id, q.errors)).collect();
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
async fn query(State(state): State<AppState>, headers: HeaderMap, RawBody(bytes): RawBody) -> Response {
    let request = match parse_request(&headers, &bytes) {
        Ok(request) => request,
        Err((message, statement)) => return error_response(&headers, 40000, &message, &statement),
    };
    let engine = state.sql.clone();
    let text = request.ksql.clone();
    let properties = request.properties.clone();
    let handle = match tokio::task::spawn_blocking(move || engine.query(&text, &properties)).await {
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
