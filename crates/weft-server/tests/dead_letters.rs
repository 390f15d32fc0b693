//! Records that break their port's rules, through the real server: refused whole under `reject`,
//! dead-lettered under `dead-letter` (listed, replayed after a fix, dropped with a reason), counted.

mod common;

use common::{Api, TestServer};
use serde_json::{json, Value};

const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
    {"name":"order_id","type":"string"},
    {"name":"amount","type":"double"}]}"#;

fn avro_product(api: &Api) {
    common::shop_orders_avro_product(api, ORDER_SCHEMA, 2);
}

fn records_in(api: &Api, topic: &str) -> Vec<Value> {
    let (status, body) = api.get(&format!("/api/v1/topics/{topic}/records?limit=1000"));
    assert_eq!(status, 200, "{body}");
    body["records"].as_array().cloned().unwrap_or_default()
}

fn set_policy(api: &Api, policy: &str) {
    let (status, body) = api.put("/api/v1/products/shop.orders/governance", &json!({"policy": policy}));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["port"].as_str(), body["policy"].as_str()), (Some("events"), Some(policy)), "{body}");
}

fn good(id: &str) -> Value {
    json!({"key": id, "value": {"order_id": id, "amount": 10.5}})
}

#[test]
fn under_reject_a_broken_record_refuses_the_request_and_every_broken_record_is_listed() {
    let server = TestServer::start();
    let api = &server.api;
    avro_product(api);
    let (status, body) = api.get("/api/v1/products/shop.orders/governance");
    assert_eq!((status, body["policy"].as_str()), (200, Some("reject")), "the default policy: {body}");
    let request = json!([
        good("o-1"),
        {"key": "o-2", "value": {"order_id": "o-2", "amount": "not a number"}},
        good("o-3"),
        {"key": "o-4", "value": {"amount": 1.0}},
    ]);
    let (status, body) = api.post("/api/v1/topics/shop.orders/records", &request);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42204)), "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("invalid record at [1].value.amount"), "{message}");
    assert!(message.contains("1 more of the 4 records"), "{message}");
    let listed: Vec<(u64, String)> = body["records"]
        .as_array()
        .expect("records listed")
        .iter()
        .map(|r| (r["index"].as_u64().unwrap_or(99), r["violations"][0]["field"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(listed, vec![(1, "value.amount".to_string()), (3, "value".to_string())]);
    assert!(records_in(api, "shop.orders").is_empty(), "nothing of the request was written");
    let (_, metrics) = api.get_text("/metrics");
    assert!(
        metrics.contains("weft_product_records_total{product=\"shop.orders\",outcome=\"rejected\"} 4"),
        "{metrics}"
    );
}

#[test]
fn under_dead_letter_broken_records_wait_in_the_dead_letters_until_replayed_or_dropped() {
    let server = TestServer::start();
    let api = &server.api;
    avro_product(api);
    set_policy(api, "dead-letter");
    let request = json!([
        good("o-1"),
        {"key": "o-2", "value": {"order_id": "o-2", "amount": "not a number"}, "headers": {"source": "till-7"}},
        good("o-3"),
        {"key": "o-4", "value": {"amount": 1.0}},
        {"key": "o-5", "value": {"order_id": "o-5", "amount": "12"}},
    ]);
    let reply = api.send(
        "POST",
        "/api/v1/topics/shop.orders/records",
        &[("content-type", "application/json"), ("x-weft-actor", "till-service")],
        Some(request.to_string().as_bytes()),
    );
    let body = reply.json();
    assert_eq!(reply.status, 200, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["dead_lettered"].as_u64()), (Some(2), Some(3)), "{body}");
    let offsets = body["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), 5, "one entry per record, in request order");
    for (i, dead) in [(0, false), (1, true), (2, false), (3, true), (4, true)] {
        assert_eq!(offsets[i]["dead_letter_topic"].as_str().is_some(), dead, "record {i}: {}", offsets[i]);
    }
    assert_eq!(offsets[1]["dead_letter_topic"], "_weft_dlq.shop.orders");
    assert_eq!(offsets[1]["violations"][0]["rule"], "schema");
    assert_eq!(offsets[1]["violations"][0]["field"], "value.amount");
    // A missing field is reported at the record that lacks it, naming the field.
    assert_eq!(offsets[3]["violations"][0]["field"], "value");
    assert!(offsets[3]["violations"][0]["reason"].as_str().is_some_and(|r| r.contains("'order_id'")));
    let written = records_in(api, "shop.orders");
    let mut ids: Vec<&str> = written.iter().filter_map(|r| r["value"]["order_id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["o-1", "o-3"], "the good records were written");

    // The dead letters, with why, who and where.
    let (status, page) = api.get("/api/v1/products/shop.orders/dead-letters");
    assert_eq!(status, 200, "{page}");
    assert_eq!((page["total"].as_u64(), page["unresolved"].as_u64()), (Some(3), Some(3)), "{page}");
    assert_eq!(page["by_rule"]["schema"], 3);
    let first = &page["entries"][0];
    assert_eq!(first["value"], json!({"order_id": "o-2", "amount": "not a number"}), "kept as sent");
    assert_eq!(first["key"], "o-2");
    assert_eq!(first["topic"], "shop.orders");
    assert_eq!(first["producer"], "till-service");
    assert_eq!(first["headers"]["source"], "till-7", "the record's own headers are kept");
    assert!(first["violations"][0]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{first}");
    // A Kafka consumer of the dead-letter topic sees the reason in the headers.
    let raw = records_in(api, "_weft_dlq.shop.orders");
    assert_eq!(raw.len(), 3);
    assert_eq!(raw[0]["headers"]["weft.dlq.rule"], "schema");
    assert_eq!(raw[0]["headers"]["weft.dlq.field"], "value.amount");
    assert_eq!(raw[0]["headers"]["weft.dlq.topic"], "shop.orders");
    assert_eq!(raw[0]["headers"]["weft.dlq.producer"], "till-service");
    // Clients read the dead-letter topic but never write it.
    let (status, body) = api.post("/api/v1/topics/_weft_dlq.shop.orders/records", &json!([good("x")]));
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");

    // A replay before any fix: they still fail and stay.
    let (status, report) = api.post("/api/v1/products/shop.orders/dead-letters:replay", &json!({}));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["replayed"].as_array().map(Vec::len), Some(0), "{report}");
    assert_eq!(report["failed"].as_array().map(Vec::len), Some(3), "{report}");
    assert_eq!(records_in(api, "shop.orders").len(), 2);

    // The data is fixed upstream by a schema that takes amounts as strings too; replay by offset.
    let v2 = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
        {"name":"order_id","type":"string"},
        {"name":"amount","type":["double","string"]}]}"#;
    let (status, body) = api.post("/registry/subjects/shop.orders-value/versions", &json!({"schema": v2}));
    assert_eq!(status, 200, "{body}");
    let o2 = page["entries"][0]["offset"].as_u64().expect("offset");
    let o5 = page["entries"][2]["offset"].as_u64().expect("offset");
    let (status, report) = api.post("/api/v1/products/shop.orders/dead-letters:replay", &json!({"offsets": [o2, o5]}));
    assert_eq!(status, 200, "{report}");
    let replayed: Vec<u64> =
        report["replayed"].as_array().expect("replayed").iter().filter_map(|r| r["offset"].as_u64()).collect();
    assert_eq!(replayed, vec![o2, o5], "{report}");
    let written = records_in(api, "shop.orders");
    assert_eq!(written.len(), 4);
    assert!(
        written.iter().any(
            |r| r["value"]["amount"] == json!({"string": "not a number"}) || r["value"]["amount"] == "not a number"
        ),
        "{written:?}"
    );
    // Replayed ones are not replayed twice.
    let (_, report) = api.post("/api/v1/products/shop.orders/dead-letters:replay", &json!({"offsets": [o2]}));
    assert_eq!(report["replayed"].as_array().map(Vec::len), Some(0), "{report}");

    // The one left is dropped, with a reason; without one, nothing is.
    let (status, body) = api.post("/api/v1/products/shop.orders/dead-letters:drop", &json!({"reason": " "}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) = api.post(
        "/api/v1/products/shop.orders/dead-letters:drop",
        &json!({"reason": "an order without id cannot be placed", "rule": "schema"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dropped"].as_array().map(Vec::len), Some(1), "{body}");
    let (_, page) = api.get("/api/v1/products/shop.orders/dead-letters?include_resolved=true");
    assert_eq!((page["total"].as_u64(), page["unresolved"].as_u64()), (Some(3), Some(0)), "{page}");
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["resolution"]["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["replayed", "dropped", "replayed"]);

    // The counts: received = accepted + dead-lettered.
    let (_, metrics) = api.get_text("/metrics");
    for (outcome, n) in [("received", 7), ("accepted", 4), ("dead_lettered", 3)] {
        let line = format!("weft_product_records_total{{product=\"shop.orders\",outcome=\"{outcome}\"}} {n}\n");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}

#[test]
fn the_policy_survives_a_restart_and_bad_policies_are_refused() {
    let mut server = TestServer::start();
    avro_product(&server.api);
    set_policy(&server.api, "dead-letter");
    let (status, body) = server.api.put("/api/v1/products/shop.orders/governance", &json!({"policy": "ignore"}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) =
        server.api.put("/api/v1/products/shop.orders/governance", &json!({"policy": "reject", "port": "nope"}));
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40408)), "{body}");
    server.restart();
    let (status, body) = server.api.get("/api/v1/products/shop.orders/governance");
    assert_eq!((status, body["policy"].as_str()), (200, Some("dead-letter")), "{body}");
    let (status, body) =
        server.api.post("/api/v1/topics/shop.orders/records", &json!([{"key": "x", "value": {"amount": 1.0}}]));
    assert_eq!((status, body["dead_lettered"].as_u64()), (200, Some(1)), "{body}");
}

fn ksql(api: &Api, text: &str) -> (u16, Value) {
    let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
    let reply = api.send("POST", "/ksql", &[("content-type", "application/json")], Some(body.as_bytes()));
    (reply.status, serde_json::from_slice(&reply.body).expect("JSON"))
}

/// Waits up to 20 s for `probe` to hold.
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !probe() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// SQL writers meet the same rules: a persistent query whose rows break the port's schema sends them
/// to the dead letters and keeps running even under `reject` (nobody waits to be told); an INSERT is
/// refused under `reject` and dead-lettered under `dead-letter`, stored as the engine encoded it.
#[test]
fn sql_writers_meet_the_ports_rules_and_a_query_keeps_running() {
    let server = TestServer::start();
    let api = &server.api;
    avro_product(api);
    api.create_topic("raw-orders", 1);
    let (status, body) = ksql(
        api,
        "CREATE STREAM RAW (K STRING KEY, ORDER_ID STRING, AMOUNT DOUBLE) WITH (KAFKA_TOPIC='raw-orders', VALUE_FORMAT='JSON');
         CREATE STREAM AS_JSON WITH (KAFKA_TOPIC='shop.orders', VALUE_FORMAT='JSON') AS SELECT * FROM RAW;",
    );
    assert_eq!(status, 200, "{body}");
    api.produce(
        "raw-orders",
        json!([{"key": "o-1", "value": {"ORDER_ID": "o-1", "AMOUNT": 2.0}},
                                     {"key": "o-2", "value": {"ORDER_ID": "o-2", "AMOUNT": 3.0}}]),
    );
    eventually("the query's rows reach the dead letters", || {
        let (_, page) = api.get("/api/v1/products/shop.orders/dead-letters");
        page["total"] == 2
    });
    let (_, page) = api.get("/api/v1/products/shop.orders/dead-letters");
    let entry = &page["entries"][0];
    assert_eq!(entry["encoding"], "stored", "{entry}");
    assert_eq!(entry["value"], json!({"ORDER_ID": "o-1", "AMOUNT": 2.0}), "read back as readers would: {entry}");
    assert_eq!(entry["violations"][0]["rule"], "schema");
    assert!(records_in(api, "shop.orders").is_empty(), "nothing the port contradicts landed");
    let (_, queries) = ksql(api, "SHOW QUERIES;");
    assert!(queries.to_string().contains("RUNNING"), "the query keeps running: {queries}");

    // An INSERT someone waits for is refused under reject...
    let (status, body) = ksql(api, "INSERT INTO AS_JSON (K, ORDER_ID, AMOUNT) VALUES ('o-9', 'o-9', 1.0);");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("Confluent wire format"), "{body}");
    // ...and dead-lettered under dead-letter.
    set_policy(api, "dead-letter");
    let (status, body) = ksql(api, "INSERT INTO AS_JSON (K, ORDER_ID, AMOUNT) VALUES ('o-9', 'o-9', 1.0);");
    assert_eq!(status, 200, "{body}");
    let (_, page) = api.get("/api/v1/products/shop.orders/dead-letters");
    assert_eq!(page["total"], 3, "{page}");
    assert_eq!(page["entries"][2]["key"], "o-9");
}

/// A raw input topic: what producers write there (here through REST produce to the bare topic, stored
/// as sent, as a Kafka producer's JSON would be) is validated into the product's topic, and broken
/// records into its dead letters with their reasons even under `reject` (no producer waits to be
/// told); settings that cannot work are refused, and a restart validates nothing twice.
#[test]
fn a_raw_input_topic_is_validated_into_the_product_and_its_dead_letters() {
    let mut server = TestServer::start();
    avro_product(&server.api);
    server.api.create_topic("shop.orders.raw", 2);
    let governance = |api: &Api, body: Value| api.put("/api/v1/products/shop.orders/governance", &body);
    for (body, status, code, says) in [
        (json!({"raw_input_topic": "nope"}), 404, 40401, "nope"),
        (json!({"raw_input_topic": "shop.orders"}), 422, 42201, "product 'shop.orders' serves it"),
        (json!({"raw_input_topic": "_weft_catalog"}), 422, 42201, "internal topic"),
        (json!({"port": "events"}), 422, 42201, "changes nothing"),
    ] {
        let (got, answer) = governance(&server.api, body.clone());
        assert_eq!((got, answer["error_code"].as_u64()), (status, Some(code)), "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap_or_default().contains(says), "{body}: {answer}");
    }
    let (status, body) = governance(&server.api, json!({"raw_input_topic": "shop.orders.raw"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["raw_input_topic"].as_str(), body["policy"].as_str()), (Some("shop.orders.raw"), Some("reject")));

    server.api.produce(
        "shop.orders.raw",
        json!([good("o-1"), {"key": "o-2", "value": {"order_id": "o-2", "amount": "lots"}}, good("o-3")]),
    );
    eventually("two records validated into shop.orders", || records_in(&server.api, "shop.orders").len() == 2);
    let written = records_in(&server.api, "shop.orders");
    let mut ids: Vec<&str> = written.iter().filter_map(|r| r["value"]["order_id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["o-1", "o-3"]);
    assert!(written.iter().all(|r| r["value_schema_id"] == 1), "encoded as the Avro port declares: {written:?}");
    assert!(
        written
            .iter()
            .all(|r| r["headers"]["weft.raw.offset"].as_str().is_some_and(|o| o.starts_with("shop.orders.raw/"))),
        "each names its raw origin: {written:?}"
    );
    eventually("the broken one dead-lettered", || {
        server.api.get("/api/v1/products/shop.orders/dead-letters").1["total"].as_u64() == Some(1)
    });
    let (_, page) = server.api.get("/api/v1/products/shop.orders/dead-letters");
    let entry = &page["entries"][0];
    assert_eq!((entry["key"].as_str(), entry["producer"].as_str()), (Some("o-2"), Some("system:raw-input")), "{entry}");
    assert_eq!(entry["violations"][0]["field"], "value.amount", "{entry}");

    // Positions are kept: after a restart only what is new is validated.
    server.restart();
    server.api.produce("shop.orders.raw", json!([good("o-4")]));
    eventually("o-4 validated", || records_in(&server.api, "shop.orders").len() == 3);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(records_in(&server.api, "shop.orders").len(), 3, "nothing validated twice");
    let (_, page) = server.api.get("/api/v1/products/shop.orders/dead-letters");
    assert_eq!(page["total"].as_u64(), Some(1), "{page}");

    // No raw input any more: new raw records stay where they are.
    let (status, body) = governance(&server.api, json!({"raw_input_topic": ""}));
    assert_eq!((status, body.get("raw_input_topic")), (200, None), "{body}");
    server.api.produce("shop.orders.raw", json!([good("o-5")]));
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(records_in(&server.api, "shop.orders").len(), 3);
}
