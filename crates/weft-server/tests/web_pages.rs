//! The endpoints the web application's pages need beyond the resource APIs, over real HTTP:
//! `POST /api/v1/sql/validate` (the SQL editor's check as you type) and `GET /api/v1/history` (the
//! governance page's audit log across the mesh).

mod common;

use common::{Api, TestServer};
use serde_json::{json, Value};

fn ksql(api: &Api, text: &str) -> Value {
    let (status, body) = api.post("/ksql", &json!({"ksql": text, "streamsProperties": {}}));
    assert_eq!(status, 200, "{body}");
    body
}

fn validate(api: &Api, sql: &str) -> Value {
    let (status, body) = api.post("/api/v1/sql/validate", &json!({ "sql": sql }));
    assert_eq!(status, 200, "{body}");
    body
}

fn source_names(api: &Api) -> Vec<String> {
    let shown = ksql(api, "SHOW STREAMS;");
    shown[0]["streams"]
        .as_array()
        .map_or(Vec::new(), |s| s.iter().filter_map(|s| s["name"].as_str().map(str::to_string)).collect())
}

#[test]
fn sql_validation_names_the_line_and_column_and_changes_nothing() {
    let server = TestServer::start();
    let api = &server.api;
    ksql(api, "CREATE STREAM ORDERS (ID STRING KEY, AMOUNT DOUBLE) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON', PARTITIONS=1);");

    // A valid CREATE ... AS SELECT: its query is given for the preview, and nothing is created.
    let text = "-- big ones\nCREATE STREAM BIG AS\n  SELECT ID, AMOUNT FROM ORDERS WHERE AMOUNT > 100;";
    let answer = validate(api, text);
    assert_eq!(answer["valid"], true, "{answer}");
    let statement = &answer["statements"][0];
    assert_eq!(statement["kind"], "createAsSelect");
    assert_eq!(statement["name"], "BIG");
    assert_eq!(statement["sourceKind"], "STREAM");
    assert_eq!(statement["line"], 2);
    assert_eq!(statement["column"], 1);
    assert_eq!(statement["select"], "SELECT ID, AMOUNT FROM ORDERS WHERE AMOUNT > 100");
    assert_eq!(statement["checked"], "full");
    assert_eq!(source_names(api), ["ORDERS"], "validation must not create anything");

    // A syntax error carries the parser's line and column.
    let answer = validate(api, "SELECT ID\nFROM ORDERS WHER AMOUNT > 1 EMIT CHANGES;");
    assert_eq!(answer["valid"], false);
    let error = &answer["errors"][0];
    assert_eq!(error["line"], 2, "{answer}");
    assert!(error["column"].as_u64().is_some_and(|c| c > 1), "{answer}");
    assert!(error["statement"].is_null());
    assert_eq!(answer["statements"], json!([]));

    // Unknown names are found by planning, and placed where the statement names them.
    let answer = validate(api, "SHOW STREAMS;\n\n  SELECT nope FROM ORDERS EMIT CHANGES;");
    assert_eq!(answer["valid"], false, "{answer}");
    let error = &answer["errors"][0];
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64(), error["statement"].as_u64()),
        (Some(3), Some(10), Some(1))
    );
    assert_eq!(answer["statements"][1]["line"], 3);
    assert_eq!(answer["statements"][1]["column"], 3);
    assert!(error["message"].as_str().is_some_and(|m| m.to_uppercase().contains("NOPE")), "{answer}");
    assert_eq!(answer["statements"][1]["push"], true);

    // Names that are taken, or missing.
    let answer = validate(api, "CREATE STREAM ORDERS (ID STRING) WITH (KAFKA_TOPIC='x', VALUE_FORMAT='JSON');");
    assert!(answer["errors"][0]["message"].as_str().is_some_and(|m| m.contains("already exists")), "{answer}");
    let answer = validate(api, "DROP STREAM GHOST;");
    assert!(answer["errors"][0]["message"].as_str().is_some_and(|m| m.contains("does not exist")), "{answer}");
    assert_eq!(validate(api, "DROP STREAM IF EXISTS GHOST;")["valid"], true);

    // A statement after one that creates a source is only checked for syntax: it may use that source.
    let answer = validate(
        api,
        "CREATE STREAM T (ID STRING) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', PARTITIONS=1);\nSELECT * FROM T EMIT CHANGES;",
    );
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["statements"][1]["checked"], "syntax");
    assert_eq!(answer["statements"][1]["line"], 2);
    assert_eq!(source_names(api), ["ORDERS"]);

    // The request itself is checked like every other body.
    let (status, body) = api.post("/api/v1/sql/validate", &json!({"text": "SELECT 1;"}));
    assert_eq!(status, 422, "{body}");
}

fn send_as(api: &Api, actor: &str, method: &str, path: &str, body: &Value) -> Value {
    let bytes = body.to_string();
    let reply = api.send(
        method,
        path,
        &[("content-type", "application/json"), ("x-weft-actor", actor)],
        Some(bytes.as_bytes()),
    );
    assert!(reply.status < 300, "{method} {path}: {} {}", reply.status, reply.text());
    reply.json()
}

fn domain(name: &str) -> Value {
    json!({"name": name, "owningTeam": format!("team-{name}"), "members": [{"user": "alice", "role": "owner"}]})
}

#[test]
fn the_mesh_history_pages_newest_first_and_filters() {
    let server = TestServer::start();
    let api = &server.api;
    send_as(api, "alice", "POST", "/api/v1/domains", &domain("orders"));
    send_as(api, "bob", "POST", "/api/v1/domains", &domain("billing"));
    let spec = json!({"id": "orders.events", "name": "Order events", "owner": "alice"});
    send_as(api, "alice", "POST", "/api/v1/products", &spec);
    let mut changed = spec.clone();
    changed["description"] = json!("Every order");
    send_as(api, "carol", "PUT", "/api/v1/products/orders.events", &changed);

    let (status, all) = api.get("/api/v1/history");
    assert_eq!(status, 200, "{all}");
    let entries = all["history"].as_array().cloned().unwrap_or_default();
    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["entity"].as_str().unwrap_or("").to_string(), e["actor"].as_str().unwrap_or("").to_string()))
        .collect();
    let expected = [
        ("product/orders.events", "carol"),
        ("product/orders.events", "alice"),
        ("domain/billing", "bob"),
        ("domain/orders", "alice"),
    ];
    assert_eq!(summary, expected.map(|(a, b)| (a.to_string(), b.to_string())), "newest first: {all}");
    assert_eq!(entries[0]["changed"], json!(["description"]));
    assert_eq!(entries[0]["event"]["type"], "ProductUpdated");
    assert!(all["next"].is_null(), "the whole history fits: {all}");

    // Pages of one, following `next`, visit every entry once, in order.
    let mut offsets = Vec::new();
    let mut path = "/api/v1/history?limit=1".to_string();
    loop {
        let (status, page) = api.get(&path);
        assert_eq!(status, 200, "{page}");
        offsets.extend(page["history"].as_array().into_iter().flatten().map(|e| e["offset"].as_u64()));
        match page["next"].as_u64() {
            Some(next) => path = format!("/api/v1/history?limit=1&before={next}"),
            None => break,
        }
    }
    let all_offsets: Vec<Option<u64>> = entries.iter().map(|e| e["offset"].as_u64()).collect();
    assert_eq!(offsets, all_offsets);

    // Filters.
    let (_, alice) = api.get("/api/v1/history?actor=alice");
    assert_eq!(alice["history"].as_array().map(Vec::len), Some(2), "{alice}");
    let (_, billing) = api.get("/api/v1/history?domain=billing");
    let entities: Vec<&str> =
        billing["history"].as_array().into_iter().flatten().filter_map(|e| e["entity"].as_str()).collect();
    assert_eq!(entities, ["domain/billing"]);
    let (_, orders) = api.get("/api/v1/history?domain=orders&limit=2");
    assert_eq!(orders["history"].as_array().map(Vec::len), Some(2));
    assert!(orders["next"].is_u64(), "an older orders entry remains: {orders}");

    for bad in ["limit=0", "limit=501", "before=x", "colour=red"] {
        let (status, body) = api.get(&format!("/api/v1/history?{bad}"));
        assert_eq!(status, 422, "{bad}: {body}");
    }
}
