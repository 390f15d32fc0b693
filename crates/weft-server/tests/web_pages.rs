//! The endpoints the web application's pages need beyond the resource APIs, over real HTTP:
//! `POST /api/v1/sql/validate` (the SQL editor's check as you type), `GET /api/v1/history` (the
//! governance page's audit log across the mesh), `POST /api/v1/products:check` and the `field` of
//! refusals (the publish form places each gap and error by its field, never by reading a message),
//! `GET /api/v1/governance/violations` and `GET /api/v1/products/{id}/schema`.

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

/// The `field` of every gap, in order.
fn fields(gaps: &Value) -> Vec<&str> {
    gaps.as_array().into_iter().flatten().filter_map(|g| g["field"].as_str()).collect()
}

fn check(api: &Api, spec: &Value) -> Value {
    let (status, body) = api.post("/api/v1/products:check", spec);
    assert_eq!(status, 200, "{body}");
    body
}

const EVENT_SCHEMA: &str = r#"{"type": "record", "name": "Event", "fields": [
    {"name": "id", "type": "string", "doc": "The event's id"},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
        {"name": "email", "type": ["null", "string"], "default": null, "classification": "pii"}]}}
]}"#;

#[test]
fn the_publish_form_learns_each_gap_and_refusal_by_its_field() {
    let server = TestServer::start();
    let api = &server.api;
    send_as(api, "alice", "POST", "/api/v1/domains", &domain("orders"));

    // The gaps of a bare draft name their fields; filling the fields takes them away one by one.
    let mut spec = json!({"id": "orders.events", "name": "Order events", "owner": "alice"});
    let answer = check(api, &spec);
    assert_eq!(fields(&answer["gaps"]), ["description", "qualityTier", "outputPorts"], "{answer}");
    assert_eq!(fields(&answer["recommendations"]), ["documentation", "slaTier", "freshnessObjective", "tags"]);
    spec["description"] = json!("Every order event");
    spec["qualityTier"] = json!("curated");
    spec["outputPorts"] = json!([{"name": "events", "version": "1.0.0", "topic": "orders.events", "schemaSubject": "orders.events-value", "format": "avro"}]);
    let answer = check(api, &spec);
    assert_eq!(fields(&answer["gaps"]), ["outputPorts[0].schemaSubject"], "{answer}");
    assert_eq!(answer["gaps"][0]["rule"], "schema-registered");
    let (status, body) = api.post("/registry/subjects/orders.events-value/versions", &json!({"schema": EVENT_SCHEMA}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(fields(&check(api, &spec)["gaps"]), Vec::<&str>::new());
    spec["id"] = json!("billing.events");
    assert_eq!(fields(&check(api, &spec)["gaps"]), ["id"], "an unknown domain is the id's gap");

    // A value that does not parse is a 422 whose `field` says where, for the form to show it there.
    for (path, value, field) in [
        ("freshnessObjective", json!("15x"), "freshnessObjective"),
        ("version", json!("1.x"), "version"),
        ("qualityTier", json!("gold"), "qualityTier"),
    ] {
        let mut bad = spec.clone();
        bad[path] = value;
        let (status, body) = api.post("/api/v1/products:check", &bad);
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(field) && !message.contains(" at line "), "the path, not a position: {message}");
        assert_eq!(
            (status, body["error_code"].as_u64(), body["field"].as_str()),
            (422, Some(42201), Some(field)),
            "{body}"
        );
    }
    let mut bad = spec.clone();
    bad["outputPorts"][0]["topic"] = json!(7);
    let (_, body) = api.post("/api/v1/products:check", &bad);
    assert_eq!(body["field"], "outputPorts[0].topic", "{body}");

    // The catalog's own refusals carry the field too; a refused publish lists its gaps.
    let draft = json!({"id": "orders.events", "name": "Order events", "owner": "alice"});
    send_as(api, "alice", "POST", "/api/v1/products", &draft);
    let mut twice = draft.clone();
    twice["tags"] = json!(["a", "a"]);
    let (status, body) = api.put("/api/v1/products/orders.events", &twice);
    assert_eq!((status, body["field"].as_str()), (422, Some("tags[1]")), "{body}");
    let reply = api.send("POST", "/api/v1/products/orders.events/publish", &[], None);
    assert_eq!(reply.code(), (422, Some(42207)), "{}", reply.text());
    let refusal = reply.json();
    assert_eq!(fields(&refusal["gaps"]), ["description", "qualityTier", "outputPorts"], "{refusal}");
    assert!(refusal.get("field").is_none(), "{refusal}");
}

#[test]
fn violations_come_in_one_call_and_the_schema_with_its_fields() {
    let server = TestServer::start();
    let api = &server.api;
    send_as(api, "alice", "POST", "/api/v1/domains", &domain("orders"));
    send_as(api, "alice", "POST", "/api/v1/domains", &domain("billing"));
    send_as(
        api,
        "alice",
        "POST",
        "/api/v1/products",
        &json!({"id": "orders.draft", "name": "Draft", "owner": "alice"}),
    );
    send_as(
        api,
        "alice",
        "POST",
        "/api/v1/products",
        &json!({"id": "billing.draft", "name": "Draft", "owner": "alice"}),
    );
    let (status, body) = api.post("/registry/subjects/orders.events-value/versions", &json!({"schema": EVENT_SCHEMA}));
    assert_eq!(status, 200, "{body}");
    let published = json!({"id": "orders.events", "name": "Order events", "owner": "alice",
        "description": "Every order event", "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "orders.events", "schemaSubject": "orders.events-value", "format": "avro"}]});
    send_as(api, "alice", "POST", "/api/v1/products", &published);
    send_as(api, "alice", "POST", "/api/v1/products/orders.events/publish", &json!({}));

    let (status, all) = api.get("/api/v1/governance/violations");
    assert_eq!(status, 200, "{all}");
    let found: Vec<(&str, &str)> = all["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["kind"].as_str().unwrap_or(""), v["product"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        found,
        [
            ("cannot-publish", "billing.draft"),
            ("cannot-publish", "orders.draft"),
            ("missing-recommended", "orders.events")
        ]
    );
    assert_eq!(all["counts"]["cannot-publish"], 2);
    assert_eq!(all["counts"]["stale"], 0, "every kind is counted, zeros included: {all}");
    assert!(all["violations"][0]["details"][0].as_str().is_some_and(|d| d.contains("description")), "{all}");
    let (_, orders) = api.get("/api/v1/governance/violations?domain=orders");
    assert_eq!(orders["counts"]["cannot-publish"], 1, "{orders}");
    let (status, body) = api.get("/api/v1/governance/violations?domain=nowhere");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40403)), "{body}");

    let (status, schema) = api.get("/api/v1/products/orders.events/schema");
    assert_eq!(status, 200, "{schema}");
    assert_eq!(
        (schema["subject"].as_str(), schema["schemaType"].as_str()),
        (Some("orders.events-value"), Some("AVRO"))
    );
    let paths: Vec<(&str, u64)> = schema["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| (f["path"].as_str().unwrap_or(""), f["depth"].as_u64().unwrap_or(99)))
        .collect();
    assert_eq!(paths, [("id", 0), ("customer", 0), ("customer.email", 1)], "{schema}");
    let email = &schema["fields"][2];
    assert_eq!(
        (email["optional"].as_bool(), email["classification"].clone()),
        (Some(true), json!(["pii"])),
        "{schema}"
    );
    let (status, body) = api.get("/api/v1/products/orders.draft/schema");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40408)), "a draft without a port: {body}");
    let unregistered = json!({"id": "billing.events", "name": "Events", "owner": "alice",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "billing.events", "schemaSubject": "billing.events-value", "format": "avro"}]});
    send_as(api, "alice", "POST", "/api/v1/products", &unregistered);
    let (status, body) = api.get("/api/v1/products/billing.events/schema");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42209)), "{body}");
    let (status, body) = api.get("/api/v1/products/orders.nothing/schema");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{body}");
}
