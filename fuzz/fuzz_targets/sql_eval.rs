//! The SQL expression path: a query is parsed, planned and evaluated over a fixed stream `S` (a
//! column of every type, rows with ordinary, extreme and null values) and a fixed table `TB`, by
//! the engine itself (no persistent query runs, so nothing is written per input). A query with
//! `EMIT CHANGES` runs as a push query over what `S` holds (aggregations and joins included), a
//! query without as a pull query; `EXPLAIN` plans every query, `CREATE ... AS SELECT` and
//! `INSERT INTO ... SELECT` without running it. Work per input is bounded: the sources are small
//! and fixed, so anything slow or large is the expression's own doing.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use weft_log::{EmbeddedLog, EventLog, LogOptions, Record};
use weft_sql::ast::Statement;
use weft_sql::parser::parse_statements;
use weft_sql::{Engine, EngineOptions, QueryHandle, StartFrom};

/// Column names follow the ones the SQL test cases use most (`crates/weft-sql/tests/cases`), so that
/// their queries, read from `S`, are seeds that plan.
const DDL: &str = "\
CREATE STREAM S (K STRING KEY, ID STRING, A INT, B INT, C INT, I INT, V INT, L BIGINT, V0 BIGINT, \
    D DOUBLE, X DOUBLE, DC DECIMAL(10, 2), S STRING, N STRING, NAME STRING, J STRING, BO BOOLEAN, \
    BY BYTES, T TIMESTAMP, TS TIMESTAMP, DT DATE, TM TIME, ARR ARRAY<STRING>, AI ARRAY<INT>, \
    M MAP<STRING, INT>, ST STRUCT<X INT, Y STRING, Z ARRAY<DOUBLE>>) \
  WITH (kafka_topic='s', value_format='JSON', partitions=2);
CREATE TABLE TB (ID STRING PRIMARY KEY, NAME STRING, V INT) WITH (kafka_topic='tb', value_format='JSON', partitions=1);";

/// `(key, value)` of the records of `S`: ordinary values, the extremes of each type, empty and
/// non-ASCII text, and nulls.
const ROWS: &[(&str, &str)] = &[
    (
        "a",
        r#"{"ID":"a","A":1,"B":2,"C":3,"I":4,"V":5,"L":10,"V0":11,"D":1.5,"X":-2.25,"DC":12.34,"S":"hello, world","N":"n","NAME":"alice","J":"{\"a\":{\"b\":1},\"items\":[{\"id\":1},{\"id\":2}]}","BO":true,"BY":"aGVsbG8=","T":1700000000000,"TS":1700000000123,"DT":19000,"TM":3600000,"ARR":["b","a","b"],"AI":[3,1,2],"M":{"k":1,"l":2},"ST":{"X":7,"Y":"seven","Z":[0.5]}}"#,
    ),
    (
        "b",
        r#"{"ID":"b","A":2147483647,"B":-1,"C":0,"I":2147483647,"V":0,"L":9223372036854775807,"V0":-9223372036854775808,"D":1.7976931348623157e308,"X":5e-324,"DC":99999999.99,"S":"","N":"","NAME":"","J":"","BO":false,"BY":"","T":0,"TS":253402300799999,"DT":0,"TM":0,"ARR":[],"AI":[],"M":{},"ST":{"X":null,"Y":"","Z":[]}}"#,
    ),
    (
        "c",
        r#"{"ID":"c","A":-2147483648,"B":-2147483648,"C":-1,"I":-2147483648,"V":-2147483648,"L":-9223372036854775808,"V0":0,"D":-0.0,"X":0.1,"DC":-99999999.99,"S":"\u00c4\u00d6\u00fc \u2603 \ud834\udd1e %_\\ '","N":null,"NAME":"2024-02-29","J":"[1,2","BO":null,"T":-1,"TS":-62135596800000,"DT":-1,"TM":86399999,"ARR":[null,""],"AI":[null,-1],"M":{"":null},"ST":null}"#,
    ),
    ("", r#"{}"#),
];

const TABLE_ROWS: &[(&str, &str)] =
    &[("a", r#"{"NAME":"one","V":1}"#), ("b", r#"{"NAME":"two","V":null}"#), ("z", r#"{"V":3}"#)];

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir =
            if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a temporary directory");
        let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("the log");
        let options =
            EngineOptions { background: false, default_offset_reset: StartFrom::Earliest, ..EngineOptions::default() };
        let engine = Engine::open(log.clone() as Arc<dyn EventLog>, options).expect("the engine");
        engine.execute(DDL).expect("the fixture's sources");
        let record = |(key, value): &(&str, &str), timestamp: i64| Record {
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: vec![],
            timestamp: Some(timestamp),
        };
        for (i, row) in ROWS.iter().enumerate() {
            log.append("s", (i % 2) as u32, vec![record(row, 1_000 * i as i64)]).expect("a record of S");
        }
        let table: Vec<Record> = TABLE_ROWS.iter().map(|row| record(row, 0)).collect();
        log.append("tb", 0, table).expect("the records of TB");
        Fixture { _dir: dir, engine }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(statements) = parse_statements(text) else { return };
    let [parsed] = statements.as_slice() else { return };
    let engine = &fixture().engine;
    let properties = BTreeMap::from([("auto.offset.reset".to_string(), "earliest".to_string())]);
    match &parsed.statement {
        Statement::Query(query) => {
            let _ = engine.execute(&format!("EXPLAIN {}", parsed.text));
            if query.emit.is_some() {
                if let Ok(mut push) = engine.push_query(text, &properties) {
                    if let Ok(rows) = push.drain_available(10_000) {
                        for row in &rows {
                            let _ = weft_sql::row_to_json(row, &push.columns);
                        }
                    }
                }
            } else if let Ok(QueryHandle::Pull { columns, rows }) = engine.query(text, &properties) {
                for row in &rows {
                    let _ = weft_sql::row_to_json(row, &columns);
                }
            }
        }
        Statement::CreateAsSelect(_) | Statement::InsertInto { .. } => {
            let _ = engine.execute(&format!("EXPLAIN {}", parsed.text));
        }
        Statement::Explain(_) => {
            let _ = engine.execute(text);
        }
        _ => {}
    }
});
