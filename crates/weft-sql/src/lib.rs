//! Weft's streaming SQL engine, in the ksqlDB dialect, over the event log.
//!
//! Layers, each usable and tested on its own:
//! - [`lexer`] and [`parser`] turn text into the [`ast`]; errors carry line, column and what was
//!   expected;
//! - [`types`], [`expr`] and [`functions`] compile expressions once (column references become row
//!   indexes, types are checked) and evaluate them over rows without copying column values;
//! - [`plan`] (with [`aggregate`] and [`join`]) turns a `SELECT` into an executable operator plus a
//!   printable plan (`EXPLAIN`): projections, filters, `PARTITION BY`, the table function
//!   `EXPLODE`, `GROUP BY` with windows, and joins;
//! - [`mod@format`], [`avro`] and [`registry`] read and write record keys and values (JSON, JSON_SR,
//!   AVRO, KAFKA, DELIMITED); AVRO and JSON_SR use a schema registry the caller provides
//!   ([`registry::SchemaRegistry`], passed in [`EngineOptions::schema_registry`]). Avro itself and the
//!   Confluent wire format are `weft-schema`'s; [`avro`] keeps only the mapping between SQL columns
//!   and Avro schemas and the decoding into (encoding from) SQL values;
//! - [`runtime`] runs persistent queries with an exactly-once effect over the log, push queries and
//!   pull queries;
//! - [`engine`] keeps the catalog (replayed from the command topic `_weft_sql_commands`) and runs
//!   statements.
//!
//! # Wiring the ksqlDB REST API
//!
//! `POST /ksql` (`{"ksql": "...", "streamsProperties": {...}}`):
//! [`Engine::execute_with_properties`] returns one [`StatementResult`] per statement (serializable;
//! each variant maps to one ksqlDB entity: `currentStatus`, `streams`, `tables`, `queries`,
//! `kafka_topics`, `sourceDescription`, `queryDescription`, `properties`, `function_names`). On
//! error, [`SqlError::error_code`] gives ksqlDB's code (`40001` bad statement, `40002` a query sent to
//! `/ksql`, `50000` server error) and the message is the ksqlDB-style text.
//!
//! `POST /query` (and `/query-stream`): [`Engine::query`] returns a [`QueryHandle`]:
//! - `Push(push)`: send a header with [`schema_text_of`]`(&push.columns)`, then loop on
//!   [`PushQuery::next_rows`] (a timeout keeps the connection responsive to disconnects) and
//!   convert each row with [`row_to_json`]; stop when [`PushQuery::is_done`] (LIMIT) or the client
//!   leaves (dropping the handle is all the cleanup there is);
//! - `Pull { columns, rows }`: header plus rows, then end;
//! - `Print(print)`: loop on [`PrintQuery::next_lines`].
//!
//! `auto.offset.reset` (or ksqlDB's full name, `ksql.streams.auto.offset.reset`: see
//! [`engine::property_name`]) in the request properties chooses `earliest` or `latest` (the default) for
//! push queries and for persistent queries created by the request. All calls block on log I/O: run
//! them on a blocking thread pool.
//!
//! Persistent queries run on their own threads ([`EngineOptions::background`]); a query whose batch
//! fails (the log refused a write) is reopened from the log and carries on, with the same
//! exactly-once guarantee as after a restart.

pub mod access;
pub mod aggregate;
pub mod ast;
pub mod avro;
mod coerce;
pub mod engine;
mod error;
pub mod expr;
pub mod format;
pub mod functions;
pub mod join;
pub mod lexer;
pub mod lineage;
pub mod metastore;
pub mod parser;
pub mod plan;
pub mod protobuf;
pub mod registry;
pub mod runtime;
mod sqlformat;
pub mod types;
mod url;
pub mod zone;

pub use access::{DataAccess, DataPath, LogAccess, Routed, Writer};
pub use engine::{
    row_to_json, schema_text_of, text_changes_catalog, AccessHandle, Engine, EngineOptions, FieldInfo, PrintQuery,
    QueryGate, QueryHandle, QueryInfo, SourceInfo, StatementResult,
};
pub use error::{Result, SqlError};
pub use runtime::{PushQuery, Row, StartFrom};
