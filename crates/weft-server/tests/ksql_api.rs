//! ksqlDB's REST API over real HTTP: `/ksql`, `/query`, `/info`, `/healthcheck`.

mod common;

use std::time::{Duration, Instant};

use common::{Api, TestServer};
use serde_json::{json, Value};

const KSQL: &str = "application/vnd.ksql.v1+json";

/// Sends `{"ksql": text}` to `path`, returning the status and the parsed body (ksqlDB error shape
/// checked on failures).
fn ksql_at(api: &Api, path: &str, text: &str, properties: Value) -> (u16, Value) {
    let body = json!({"ksql": text, "streamsProperties": properties}).to_string();
    let reply = api.send("POST", path, &[("content-type", KSQL), ("accept", KSQL)], Some(body.as_bytes()));
    let value: Value =
        serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()));
    if reply.status >= 400 {
        assert!(value["@type"].is_string(), "{value}");
        assert!(value["error_code"].is_u64(), "{value}");
        assert!(value["message"].is_string(), "{value}");
        assert!(value["entities"].is_array(), "{value}");
    }
    (reply.status, value)
}

fn ksql(api: &Api, text: &str) -> Value {
    let (status, body) = ksql_at(api, "/ksql", text, json!({"auto.offset.reset": "earliest"}));
    assert_eq!(status, 200, "{body}");
    body
}

fn query(api: &Api, text: &str) -> Value {
    let (status, body) = ksql_at(api, "/query", text, json!({"auto.offset.reset": "earliest"}));
    assert_eq!(status, 200, "{body}");
    body
}

/// The values of every record of `topic` once it holds at least `n` (waits up to 20 s).
fn wait_for_values(api: &Api, topic: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = api.get(&format!("/api/v1/topics/{topic}/records?from=earliest&limit=1000"));
        if status == 200 {
            let values: Vec<Value> =
                body["records"].as_array().map(|r| r.iter().map(|r| r["value"].clone()).collect()).unwrap_or_default();
            if values.len() >= n {
                return values;
            }
        }
        assert!(Instant::now() < deadline, "{topic} has not {n} records: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const DDL: &str = "CREATE STREAM S (ID STRING, V INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);";

fn produce(api: &Api, values: &[(&str, i64)]) {
    let records: Vec<Value> = values.iter().map(|(id, v)| json!({"value": {"ID": id, "V": v}})).collect();
    api.produce("s", Value::Array(records));
}

#[test]
fn statements_queries_and_errors() {
    let server = TestServer::start();
    let api = &server.api;
    let created = ksql(api, DDL);
    assert_eq!(created[0]["@type"], "currentStatus", "{created}");
    assert_eq!(created[0]["commandStatus"]["status"], "SUCCESS", "{created}");
    produce(api, &[("a", 1), ("b", -2), ("a", 3)]);

    let derived = ksql(api, "CREATE STREAM P AS SELECT ID, V FROM S WHERE V > 0;");
    assert_eq!(derived[0]["@type"], "currentStatus", "{derived}");
    assert!(derived[0]["commandStatus"]["queryId"].is_string(), "{derived}");
    let values = wait_for_values(api, "P", 2);
    assert_eq!(values, vec![json!({"ID": "a", "V": 1}), json!({"ID": "a", "V": 3})]);

    let shown = ksql(api, "SHOW STREAMS;");
    assert_eq!(shown[0]["@type"], "streams", "{shown}");
    let names: Vec<&str> =
        shown[0]["streams"].as_array().expect("streams").iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.contains(&"S") && names.contains(&"P"), "{shown}");

    let described = ksql(api, "DESCRIBE P;");
    assert_eq!(described[0]["@type"], "sourceDescription", "{described}");
    let description = &described[0]["sourceDescription"];
    assert_eq!(description["name"], "P");
    assert_eq!(description["topic"], "P");
    let fields: Vec<&str> =
        description["fields"].as_array().expect("fields").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(fields, vec!["ID", "V"]);

    // A syntax error: 400, ksqlDB's shape, the position in the message.
    let (status, error) = ksql_at(api, "/ksql", "SHOW STREAMS;\nCREATE STREAM X AS SELEC * FROM S;", json!({}));
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["@type"], "statement_error");
    assert_eq!(error["error_code"], 40001);
    assert!(error["message"].as_str().is_some_and(|m| m.contains("line 2:20")), "{error}");
    assert!(error["statementText"].as_str().is_some_and(|t| t.contains("SELEC")), "{error}");

    // Not JSON, wrong shape: ksqlDB errors, never a panic.
    let reply = api.send("POST", "/ksql", &[("content-type", "application/json")], Some(b"{not json"));
    assert_eq!(reply.status, 400, "{}", reply.text());
    let reply = api.send("POST", "/ksql", &[("content-type", "application/json")], Some(b"{\"ksql\": 3}"));
    assert_eq!(reply.status, 400, "{}", reply.text());

    // A push query with LIMIT 2: header, two rows, then the end.
    let rows = query(api, "SELECT ID, V FROM S EMIT CHANGES LIMIT 2;");
    let rows = rows.as_array().expect("array");
    assert!(rows[0]["header"]["queryId"].is_string(), "{rows:?}");
    assert_eq!(rows[0]["header"]["schema"], "`ID` STRING, `V` INTEGER", "{rows:?}");
    let columns: Vec<&Value> = rows.iter().filter_map(|r| r.get("row")).map(|r| &r["columns"]).collect();
    assert_eq!(columns, vec![&json!(["a", 1]), &json!(["b", -2])]);

    // A pull query on an aggregated table.
    ksql(api, "CREATE TABLE T AS SELECT ID, SUM(V) AS TOTAL FROM S GROUP BY ID;");
    wait_for_values(api, "T", 3);
    let pulled = query(api, "SELECT ID, TOTAL FROM T WHERE ID = 'a';");
    let pulled = pulled.as_array().expect("array");
    assert!(pulled[0]["header"]["schema"].as_str().is_some_and(|s| s.contains("TOTAL")), "{pulled:?}");
    assert_eq!(pulled[1..], [json!({"row": {"columns": ["a", 4]}})], "{pulled:?}");

    // A statement for the other endpoint.
    let (status, error) = ksql_at(api, "/query", "SHOW STREAMS;", json!({}));
    assert_eq!(status, 400, "{error}");
}

#[test]
fn info_and_healthcheck() {
    let server = TestServer::start();
    let (status, info) = server.api.get("/info");
    assert_eq!(status, 200);
    assert_eq!(info["KsqlServerInfo"]["serverStatus"], "RUNNING", "{info}");
    assert!(info["KsqlServerInfo"]["version"].is_string(), "{info}");
    assert!(info["KsqlServerInfo"]["kafkaClusterId"].is_string(), "{info}");
    assert!(info["KsqlServerInfo"]["ksqlServiceId"].is_string(), "{info}");
    let (status, health) = server.api.get("/healthcheck");
    assert_eq!(status, 200);
    assert_eq!(health["isHealthy"], true, "{health}");
    assert!(health["details"].is_object(), "{health}");
}

#[test]
fn persistent_queries_survive_a_restart_without_duplicates() {
    let mut server = TestServer::start();
    ksql(&server.api, DDL);
    ksql(&server.api, "CREATE STREAM P AS SELECT ID, V FROM S WHERE V > 0;");
    produce(&server.api, &[("a", 1), ("b", 2)]);
    assert_eq!(wait_for_values(&server.api, "P", 2).len(), 2);
    server.restart();
    produce(&server.api, &[("c", 3), ("d", -4)]);
    wait_for_values(&server.api, "P", 3);
    // Give a duplicating query the time to show it.
    std::thread::sleep(Duration::from_millis(500));
    let values = wait_for_values(&server.api, "P", 3);
    let ids: Vec<&str> = values.iter().filter_map(|v| v["ID"].as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    let shown = ksql(&server.api, "SHOW QUERIES;");
    assert_eq!(shown[0]["queries"].as_array().map(Vec::len), Some(1), "{shown}");
}
