//! The mesh's one write path and one read path, through the real server: no writer reaches an internal
//! topic, every writer places a key where Kafka would, string keys are Kafka's strings, and a product
//! whose port declares Avro holds Avro in the Confluent wire format that Confluent's own deserializer
//! reads. The Kafka references are code others wrote: kafka-python's port of the Java default
//! partitioner and confluent-kafka's AvroDeserializer, from the venv `scripts/test` builds.

mod common;

use std::time::{Duration, Instant};

use common::{python_script, Api, TestServer};
use serde_json::{json, Value};

fn run_python(script: &str, args: &[&str]) -> String {
    let output = python_script(script).args(args).output().expect("python runs");
    assert!(
        output.status.success(),
        "{script} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// `{"ksql": text}` to `/ksql` (earliest offsets), returning status and body (ksqlDB's error shape).
fn ksql(api: &Api, text: &str) -> (u16, Value) {
    let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
    let reply = api.send("POST", "/ksql", &[("content-type", "application/json")], Some(body.as_bytes()));
    (reply.status, serde_json::from_slice(&reply.body).expect("JSON"))
}

fn ksql_ok(api: &Api, text: &str) -> Value {
    let (status, body) = ksql(api, text);
    assert_eq!(status, 200, "{text}: {body}");
    body
}

/// The rows of a pull query, waiting up to 20 s for `n` of them.
fn pull(api: &Api, text: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = ksql_ok(api, text);
        let rows = body[0]["rows"].as_array().cloned().unwrap_or_default();
        if rows.len() >= n {
            return rows;
        }
        assert!(Instant::now() < deadline, "{text}: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn domain(name: &str) -> Value {
    json!({"name": name, "description": format!("The {name} domain"), "owningTeam": format!("team-{name}"),
           "members": [{"user": "alice", "role": "owner"}]})
}

/// Every record of `topic`, all partitions.
fn read_all(api: &Api, topic: &str) -> Vec<Value> {
    let (status, body) = api.get(&format!("/api/v1/topics/{topic}/records?limit=10000"));
    assert_eq!(status, 200, "{body}");
    body["records"].as_array().cloned().unwrap_or_default()
}

#[test]
fn no_writer_reaches_an_internal_topic() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("plain", 1);
    api.produce("plain", json!([{"key": "k", "value": {"V": 1}}]));
    let catalog_end = || api.latest_offsets("_weft_catalog");
    // Some catalog state to protect.
    let (status, body) = api.post("/api/v1/domains", &domain("sales"));
    assert_eq!(status, 201, "{body}");
    let before = catalog_end();

    // REST produce.
    let (status, body) = api.post("/api/v1/topics/_weft_catalog/records", &json!([{"value": {"forged": true}}]));
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");

    // SQL: declaring a stream over an internal topic reads it, which is allowed; writing it is not.
    ksql_ok(
        api,
        "CREATE STREAM STATE (K STRING KEY, V INT) WITH (KAFKA_TOPIC='_weft_catalog', VALUE_FORMAT='JSON');
         CREATE STREAM PLAIN (K STRING KEY, V INT) WITH (KAFKA_TOPIC='plain', VALUE_FORMAT='JSON');",
    );
    for (statement, what) in [
        ("INSERT INTO STATE (K, V) VALUES ('x', 9);", "INSERT VALUES"),
        ("INSERT INTO STATE SELECT * FROM PLAIN EMIT CHANGES;", "a query's sink (INSERT INTO ... SELECT)"),
        ("CREATE STREAM SNEAKY WITH (KAFKA_TOPIC='_weft_sneaky') AS SELECT * FROM PLAIN EMIT CHANGES;", "CSAS"),
    ] {
        let (status, body) = ksql(api, statement);
        assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{what}: {body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("internal"), "{what}: {body}");
    }

    // ksqlDB's /inserts-stream: the row is refused in its acknowledgement.
    let reply = api.send(
        "POST",
        "/inserts-stream",
        &[("content-type", "application/vnd.ksqlapi.delimited.v1")],
        Some(b"{\"target\": \"STATE\"}\n{\"K\": \"x\", \"V\": 9}\n"),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let ack: Value = serde_json::from_str(reply.text().lines().next().expect("one ack")).expect("JSON");
    assert_eq!((ack["status"].as_str(), ack["error_code"].as_u64()), (Some("error"), Some(40301)), "{ack}");

    // Consumer groups named _weft* are the platform's (persistent queries keep their positions there).
    let (status, body) = api.post(
        "/api/v1/groups/_weft_sql_CSAS_X_1/offsets",
        &json!({"offsets": [{"topic": "plain", "partition": 0, "offset": 0}]}),
    );
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");

    assert_eq!(catalog_end(), before, "nothing reached the catalog's topic");
    let (_, topics) = api.get("/api/v1/topics?internal=true");
    assert!(!topics["topics"].as_array().expect("topics").contains(&json!("_weft_sneaky")), "{topics}");
    // Reading it is still allowed, through SQL too.
    let rows = pull(api, "SELECT K FROM STATE;", 1);
    assert!(!rows.is_empty());
}

#[test]
fn every_writer_places_a_key_where_kafkas_default_partitioner_would() {
    let server = TestServer::start();
    let api = &server.api;
    let partitions = 6;
    api.create_topic("placed", partitions);
    let rest_keys: Vec<String> = (0..24).map(|i| format!("customer-{i}")).collect();
    let sql_keys: Vec<String> = (0..12).map(|i| format!("order-{i}")).collect();

    let records: Vec<Value> = rest_keys.iter().map(|k| json!({"key": k, "value": {"V": 1}})).collect();
    api.produce("placed", Value::Array(records));
    ksql_ok(api, "CREATE STREAM PLACED (K STRING KEY, V INT) WITH (KAFKA_TOPIC='placed', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');");
    for key in &sql_keys {
        ksql_ok(api, &format!("INSERT INTO PLACED (K, V) VALUES ('{key}', 2);"));
    }
    let stream = "{\"target\": \"PLACED\"}\n{\"K\": \"stream-1\", \"V\": 3}\n{\"K\": \"stream-2\", \"V\": 3}\n";
    let reply = api.send("POST", "/inserts-stream", &[("content-type", "application/json")], Some(stream.as_bytes()));
    assert_eq!(reply.status, 200, "{}", reply.text());
    // A persistent query's output, keyed by the same strings, into a topic with as many partitions.
    ksql_ok(
        api,
        "CREATE STREAM COPIED WITH (KAFKA_TOPIC='copied', KEY_FORMAT='KAFKA', PARTITIONS=6) AS \
         SELECT K, V FROM PLACED EMIT CHANGES;",
    );

    let mut all_keys: Vec<String> = rest_keys.clone();
    all_keys.extend(sql_keys.iter().cloned());
    all_keys.extend(["stream-1".to_string(), "stream-2".to_string()]);
    let mut args = vec![partitions.to_string()];
    args.extend(all_keys.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reference: Value = serde_json::from_str(&run_python("kafka_partitions.py", &args)).expect("JSON");

    let placed = read_all(api, "placed");
    assert_eq!(placed.len(), all_keys.len());
    for record in &placed {
        let key = record["key"].as_str().expect("a string key");
        assert_eq!(record["partition"], reference[key], "{key}: {record}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let copied = loop {
        let copied = read_all(api, "copied");
        if copied.len() == all_keys.len() || Instant::now() > deadline {
            break copied;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(copied.len(), all_keys.len());
    for record in &copied {
        let key = record["key"].as_str().expect("a string key");
        assert_eq!(record["partition"], reference[key], "the query's output too: {key}: {record}");
    }
}

#[test]
fn a_string_key_written_over_rest_is_the_same_string_to_sql() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("people", 1);
    api.produce(
        "people",
        json!([{"key": "a", "value": {"NAME": "Ada"}}, {"key": "ümlaut", "value": {"NAME": "Ünal"}}]),
    );
    ksql_ok(api, "CREATE STREAM PEOPLE (ID STRING KEY, NAME STRING) WITH (KAFKA_TOPIC='people', VALUE_FORMAT='JSON');");
    let rows = pull(api, "SELECT ID, LEN(ID) AS L, NAME FROM PEOPLE;", 2);
    assert_eq!(rows, vec![json!(["a", 1, "Ada"]), json!(["ümlaut", 6, "Ünal"])]);
    // And back over REST, as the string it was.
    let read = read_all(api, "people");
    assert_eq!((read[0]["key"].clone(), read[1]["key"].clone()), (json!("a"), json!("ümlaut")));
}

const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
    {"name":"order_id","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"channel","type":{"type":"enum","name":"Channel","symbols":["web","store"]}},
    {"name":"coupon","type":["null","string"],"default":null},
    {"name":"lines","type":{"type":"array","items":"int"}}]}"#;

fn avro_product(api: &Api) {
    common::shop_orders_avro_product(api, ORDER_SCHEMA, 2);
}

#[test]
fn an_avro_ports_records_are_confluent_avro_that_confluents_deserializer_reads() {
    let server = TestServer::start();
    let api = &server.api;
    avro_product(api);
    let orders = vec![
        json!({"order_id": "o-1", "amount": 12.5, "channel": "web", "coupon": null, "lines": [1, 2]}),
        json!({"order_id": "o-2", "amount": 3.0, "channel": "store", "coupon": "SPRING", "lines": []}),
    ];
    let records: Vec<Value> = orders.iter().map(|o| json!({"key": o["order_id"], "value": o})).collect();
    api.produce("shop.orders", Value::Array(records));

    // A value that does not fit the schema is refused, naming the record and the field; nothing is written.
    let (status, body) = api.post(
        "/api/v1/topics/shop.orders/records",
        &json!([{"key": "o-3", "value": {"order_id": "o-3", "amount": "lots"}}]),
    );
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42204)), "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("[0]") && message.contains("value.amount"), "{message}");
    assert_eq!(api.latest_offsets("shop.orders").iter().sum::<u64>(), 2);

    // Confluent's deserializers, given Weft's registry, read exactly what was produced.
    let out = run_python("avro_port_consumer.py", &[&api.base, "shop.orders"]);
    let mut decoded: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    decoded.sort_by_key(|r| r["key"].as_str().map(str::to_string));
    assert_eq!(decoded.len(), 2, "{out}");
    for (record, order) in decoded.iter().zip(&orders) {
        assert_eq!(record["key"], order["order_id"]);
        assert_eq!(&record["value"], order);
        assert_eq!(record["schema_id"], 1);
    }

    // Weft's read path decodes them back to the same JSON, naming the schema id.
    let read = read_all(api, "shop.orders");
    for record in &read {
        assert_eq!(record["value_schema_id"], 1, "{record}");
        assert!(orders.contains(&record["value"]), "{record}");
    }
    // A writer that does not encode as the port declares is refused by the write path, whoever it is:
    // here SQL declaring the topic as JSON.
    ksql_ok(api, "CREATE STREAM ORDERS_AS_JSON (K STRING KEY, ORDER_ID STRING) WITH (KAFKA_TOPIC='shop.orders', VALUE_FORMAT='JSON');");
    let (status, body) = ksql(api, "INSERT INTO ORDERS_AS_JSON (K, ORDER_ID) VALUES ('o-9', 'o-9');");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("Confluent wire format"), "{body}");
    assert_eq!(api.latest_offsets("shop.orders").iter().sum::<u64>(), 2, "nothing was written");

    // And the SQL engine reads the topic as AVRO (columns from the registry).
    ksql_ok(api, "CREATE STREAM ORDERS (K STRING KEY) WITH (KAFKA_TOPIC='shop.orders', VALUE_FORMAT='AVRO');");
    let mut rows = pull(api, "SELECT ORDER_ID, AMOUNT, CHANNEL FROM ORDERS;", 2);
    rows.sort_by_key(|r| r[0].as_str().map(str::to_string));
    assert_eq!(rows, vec![json!(["o-1", 12.5, "web"]), json!(["o-2", 3.0, "store"])]);
}
