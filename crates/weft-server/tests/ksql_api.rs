//! ksqlDB's REST API over real HTTP: `/ksql`, `/query`, `/query-stream`, `/close-query`, `/inserts-stream`, `/info`,
//! `/healthcheck`.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
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

const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";

/// The content type ksqlDB's clients send with their JSON bodies.
const JSON: (&str, &str) = ("content-type", "application/json");

/// An open `/query-stream` answer: its status, content type, and its lines as they arrive.
struct Stream {
    status: u16,
    content_type: String,
    lines: mpsc::Receiver<String>,
}

impl Stream {
    fn next_line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(10)).expect("a line of the stream within 10 s")
    }

    /// Every remaining line, asserting that the body ends within 10 s.
    fn rest(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the stream did not end; so far {lines:?}"),
            }
        }
    }
}

/// Posts `body` to `path` and reads the answer line by line on a thread (the body may never end).
fn open_stream(api: &Api, path: &str, body: &Value, accept: Option<&str>) -> Stream {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    // ksqlDB's clients send a JSON content type; a body without one is refused (a cross-origin page
    // could send it without a CORS preflight).
    let mut request = agent.post(format!("{}{path}", api.base)).header("content-type", "application/json");
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send(body.to_string().as_bytes()).expect("HTTP exchange");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(response.into_body().into_reader()).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    Stream { status, content_type, lines }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[test]
fn query_stream_serves_push_and_pull_queries_in_both_framings() {
    let server = TestServer::start();
    let api = &server.api;
    ksql(api, DDL);
    produce(api, &[("a", 1), ("b", -2), ("a", 3)]);
    let push =
        json!({"sql": "SELECT ID, V FROM S EMIT CHANGES LIMIT 2;", "properties": {"auto.offset.reset": "earliest"}});

    // Delimited, asked for and by default (ksqlDB's default for this endpoint): metadata, rows, end.
    for accept in [Some(DELIMITED), None] {
        let stream = open_stream(api, "/query-stream", &push, accept);
        assert_eq!(stream.status, 200);
        assert_eq!(stream.content_type, DELIMITED);
        let lines = stream.rest();
        assert_eq!(lines.len(), 3, "{lines:?}");
        let metadata = parse(&lines[0]);
        assert!(metadata["queryId"].as_str().is_some_and(|id| !id.is_empty()), "{metadata}");
        assert_eq!(metadata["columnNames"], json!(["ID", "V"]));
        assert_eq!(metadata["columnTypes"], json!(["STRING", "INTEGER"]));
        assert_eq!(parse(&lines[1]), json!(["a", 1]));
        assert_eq!(parse(&lines[2]), json!(["b", -2]));
    }

    // application/json: the same items as one array; `streamsProperties` is taken as well.
    let body =
        json!({"sql": "SELECT V FROM S EMIT CHANGES LIMIT 3;", "streamsProperties": {"auto.offset.reset": "earliest"}});
    let reply =
        api.send("POST", "/query-stream", &[("accept", "application/json"), JSON], Some(body.to_string().as_bytes()));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let items = reply.json();
    let items = items.as_array().expect("one JSON array");
    assert_eq!(items[0]["columnNames"], json!(["V"]), "{items:?}");
    assert_eq!(items[1..], [json!([1]), json!([-2]), json!([3])], "{items:?}");

    // A pull query: metadata without a query id, its rows, then the end.
    ksql(api, "CREATE TABLE T AS SELECT ID, SUM(V) AS TOTAL FROM S GROUP BY ID;");
    wait_for_values(api, "T", 3);
    let pull = json!({"sql": "SELECT ID, TOTAL FROM T WHERE ID = 'a';"});
    let lines = open_stream(api, "/query-stream", &pull, Some(DELIMITED)).rest();
    let metadata = parse(&lines[0]);
    assert!(metadata.get("queryId").is_none(), "{metadata}");
    assert_eq!(metadata["columnNames"], json!(["ID", "TOTAL"]));
    assert_eq!(lines[1..].iter().map(|l| parse(l)).collect::<Vec<_>>(), vec![json!(["a", 4])]);
    let reply =
        api.send("POST", "/query-stream", &[("accept", "application/json"), JSON], Some(pull.to_string().as_bytes()));
    assert_eq!(reply.json(), json!([{"columnNames": ["ID", "TOTAL"], "columnTypes": ["STRING", "INTEGER"]}, ["a", 4]]));
}

#[test]
fn query_stream_errors_have_ksqldb_shape() {
    let server = TestServer::start();
    let api = &server.api;
    ksql(api, DDL);
    let send = |body: &[u8]| api.send("POST", "/query-stream", &[("accept", DELIMITED), JSON], Some(body));

    let reply = send(b"{not json");
    assert_eq!(reply.code(), (400, Some(40000)), "{}", reply.text());
    assert_eq!(reply.json()["@type"], "generic_error");
    assert!(reply.json()["message"].as_str().is_some_and(|m| m.starts_with("Invalid JSON in request")));
    let reply = send(br#"{"properties": {}}"#);
    assert_eq!(reply.code(), (400, Some(40000)), "{}", reply.text());
    assert!(reply.json()["message"].as_str().is_some_and(|m| m.contains("'sql'")), "{}", reply.text());
    let reply = send(br#"{"sql": "SELECT * FROM S EMIT CHANGES;", "properties": 3}"#);
    assert_eq!(reply.code(), (400, Some(40000)), "{}", reply.text());

    // A bad statement: statement_error with its text and the position in the message.
    let reply = send(br#"{"sql": "SELECT ID FRM S EMIT CHANGES;"}"#);
    assert_eq!(reply.code(), (400, Some(40001)), "{}", reply.text());
    let error = reply.json();
    assert_eq!(error["@type"], "statement_error", "{error}");
    assert_eq!(error["statementText"], "SELECT ID FRM S EMIT CHANGES;", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("line 1:")), "{error}");
    let reply = send(br#"{"sql": "SELECT * FROM NOPE EMIT CHANGES;"}"#);
    assert_eq!(reply.code(), (400, Some(40001)), "{}", reply.text());
    // Statements and PRINT belong to other endpoints.
    let reply = send(br#"{"sql": "SHOW STREAMS;"}"#);
    assert_eq!(reply.code(), (400, Some(40001)), "{}", reply.text());
    let reply = send(br#"{"sql": "PRINT 's';"}"#);
    assert_eq!(reply.code(), (400, Some(40001)), "{}", reply.text());
}

#[test]
fn close_query_ends_a_running_push_query() {
    let server = TestServer::start();
    let api = &server.api;
    ksql(api, DDL);
    let stream = open_stream(api, "/query-stream", &json!({"sql": "SELECT ID FROM S EMIT CHANGES;"}), Some(DELIMITED));
    assert_eq!(stream.status, 200);
    let id = parse(&stream.next_line())["queryId"].as_str().expect("queryId").to_string();
    // The query starts at the latest offsets: rows produced now arrive while it runs.
    produce(api, &[("x", 1)]);
    assert_eq!(parse(&stream.next_line()), json!(["x"]));

    let close = |id: &str| {
        let body = json!({"queryId": id}).to_string();
        api.send("POST", "/close-query", &[("content-type", "application/json")], Some(body.as_bytes()))
    };
    let reply = close(&id);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(stream.rest(), Vec::<String>::new(), "the stream ends after /close-query");
    // Closed queries are forgotten; unknown ids and bad bodies are ksqlDB's 40000.
    let reply = close(&id);
    assert_eq!(reply.code(), (400, Some(40000)), "{}", reply.text());
    assert_eq!(reply.json()["message"], format!("No query with id {id}"));
    let reply = api.send("POST", "/close-query", &[JSON], Some(b"{\"queryId\": 7}"));
    assert_eq!(reply.code(), (400, Some(40000)), "{}", reply.text());

    // A query that ended by its LIMIT cannot be closed any more either.
    produce(api, &[("y", 2)]);
    let limited =
        json!({"sql": "SELECT ID FROM S EMIT CHANGES LIMIT 1;", "properties": {"auto.offset.reset": "earliest"}});
    let stream = open_stream(api, "/query-stream", &limited, None);
    let id = parse(&stream.next_line())["queryId"].as_str().expect("queryId").to_string();
    assert_eq!(stream.rest(), vec!["[\"x\"]".to_string()]);
    assert_eq!(close(&id).code(), (400, Some(40000)));
}

#[test]
fn ksql_errors_carry_the_results_of_the_statements_before() {
    let server = TestServer::start();
    let api = &server.api;
    let text = "CREATE STREAM A (X INT) WITH (kafka_topic='a', value_format='JSON', partitions=1);\n\
                SHOW STREAMS;\n\
                DESCRIBE NOPE;\n\
                CREATE STREAM B (X INT) WITH (kafka_topic='b', value_format='JSON', partitions=1);";
    let (status, error) = ksql_at(api, "/ksql", text, json!({}));
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["@type"], "statement_error", "{error}");
    assert_eq!(error["error_code"], 40001, "{error}");
    assert_eq!(error["statementText"], "DESCRIBE NOPE", "{error}");
    let entities = error["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 2, "{error}");
    assert_eq!(entities[0]["@type"], "currentStatus", "{error}");
    assert_eq!(entities[1]["@type"], "streams", "{error}");
    // What ran before the failure took effect; what came after did not run.
    let shown = ksql(api, "SHOW STREAMS;");
    let names: Vec<&str> =
        shown[0]["streams"].as_array().expect("streams").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, vec!["A"], "{shown}");

    // A syntax error anywhere runs nothing: no entities.
    let (status, error) = ksql_at(api, "/ksql", "SHOW STREAMS; SHOW TABLS;", json!({}));
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["entities"], json!([]), "{error}");
}

#[test]
fn inserts_stream_acknowledges_every_row_and_refuses_bad_ones_alone() {
    let server = TestServer::start();
    let api = &server.api;
    ksql(api, DDL);
    let body = [
        r#"{"target": "s"}"#,
        r#"{"ID": "a", "V": 1}"#,
        r#"{"id": "b", "v": 2, "ROWTIME": 1700000000000}"#,
        r#"{"ID": "c", "NOPE": 3}"#,
        r#"{"ID": "d", "V": "not a number"}"#,
        r#"[1, 2]"#,
        r#"{"ID": "e", "V": 5"#,
        r#"{"ID": "f", "V": 6}"#,
    ]
    .join("\n");
    let reply = api.send("POST", "/inserts-stream", &[("content-type", "application/json")], Some(body.as_bytes()));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let acks: Vec<Value> = reply.text().lines().map(parse).collect();
    let statuses: Vec<(&str, u64)> =
        acks.iter().map(|a| (a["status"].as_str().unwrap_or("?"), a["seq"].as_u64().unwrap_or(99))).collect();
    assert_eq!(
        statuses,
        [("ok", 0), ("ok", 1), ("error", 2), ("error", 3), ("error", 4), ("error", 5), ("ok", 6)],
        "{acks:?}"
    );
    assert!(acks[2]["message"].as_str().unwrap_or_default().contains("NOPE"), "{}", acks[2]);
    assert!(acks[3]["message"].as_str().unwrap_or_default().contains('V'), "{}", acks[3]);
    // Exactly the acknowledged rows are in the topic, in order, with the ROWTIME given.
    let values = wait_for_values(api, "s", 3);
    assert_eq!(values, [json!({"ID": "a", "V": 1}), json!({"ID": "b", "V": 2}), json!({"ID": "f", "V": 6})]);
    let (_, records) = api.get("/api/v1/topics/s/records?from=earliest&limit=10");
    assert_eq!(records["records"][1]["timestamp"], 1_700_000_000_000i64);

    // The first line must name the target.
    let reply = api.send("POST", "/inserts-stream", &[JSON], Some(br#"{"nope": 1}"#));
    assert_eq!(reply.status, 400);
    assert_eq!(parse(&reply.text())["error_code"], 40000);
    let reply = api.send("POST", "/inserts-stream", &[JSON], Some(b"{\"target\": \"MISSING\"}\n{\"ID\": \"x\"}"));
    let ack = parse(reply.text().trim());
    assert_eq!((ack["status"].as_str(), ack["seq"].as_u64()), (Some("error"), Some(0)), "{ack}");
}

/// Why a query is in ERROR is there to read: `SHOW QUERIES` gives each query's last error
/// (`lastError`, Weft's own field) and `DESCRIBE ... EXTENDED` puts it beside the error count.
#[test]
fn a_failed_query_says_why() {
    let server = TestServer::start();
    let api = &server.api;
    ksql(
        api,
        "CREATE STREAM T (ID STRING KEY, AT STRING) WITH (kafka_topic='t', value_format='JSON', partitions=1, \
         timestamp='AT', timestamp_format='yyyy-MM-dd');",
    );
    api.produce("t", json!([{"key": "a", "value": {"AT": "not a date"}}]));
    let properties = json!({"auto.offset.reset": "earliest", "ksql.timestamp.throw.on.invalid": "true"});
    let (status, created) = ksql_at(api, "/ksql", "CREATE STREAM T2 AS SELECT ID, AT FROM T;", properties);
    assert_eq!(status, 200, "{created}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let query = loop {
        let shown = ksql(api, "SHOW QUERIES;");
        let query = shown[0]["queries"]
            .as_array()
            .and_then(|queries| queries.iter().find(|q| q["sinks"][0] == "T2").cloned())
            .unwrap_or(Value::Null);
        if query["state"] == "ERROR" && query["lastError"].is_string() {
            break query;
        }
        assert!(Instant::now() < deadline, "the query never failed: {shown}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let last = query["lastError"].as_str().unwrap_or_default();
    assert!(last.contains("Fatal user code error in TimestampExtractor callback for record"), "{query}");
    let described = ksql(api, "DESCRIBE T2 EXTENDED;");
    let stats = described[0]["sourceDescription"]["errorStats"].as_str().unwrap_or_default();
    assert!(stats.contains("errors=") && stats.contains("TimestampExtractor"), "{described}");
}
