//! The catalog and streaming SQL together over real HTTP: a product made in one step from a derived
//! stream (`POST /api/v1/products/from-sql`) with its ports and field lineage, and `DROP` refused for
//! sources that published products depend on (also after a restart).

mod common;

use std::time::{Duration, Instant};

use common::{Api, TestServer};
use serde_json::{json, Value};

const KSQL: &str = "application/vnd.ksql.v1+json";

fn ksql(api: &Api, text: &str) -> (u16, Value) {
    let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
    let reply = api.send("POST", "/ksql", &[("content-type", KSQL), ("accept", KSQL)], Some(body.as_bytes()));
    let value: Value =
        serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()));
    (reply.status, value)
}

fn ksql_ok(api: &Api, text: &str) {
    let (status, body) = ksql(api, text);
    assert_eq!(status, 200, "{text}: {body}");
}

fn as_alice(api: &Api, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let bytes = body.to_string();
    let reply = api.send(
        method,
        path,
        &[("content-type", "application/json"), ("x-weft-actor", "alice")],
        Some(bytes.as_bytes()),
    );
    let value = if reply.body.is_empty() { Value::Null } else { reply.json() };
    (reply.status, value)
}

/// The mesh before the query: domain `sales`, the AVRO stream `ORDERS` (whose first record registers
/// the schema of `orders-value`), the published product `sales.orders` on its topic, and a stream
/// derived from it.
fn setup(api: &Api) {
    let domain = json!({"name": "sales", "owningTeam": "team-sales",
                        "members": [{"user": "alice", "role": "owner"}]});
    assert_eq!(api.post("/api/v1/domains", &domain).0, 201);
    ksql_ok(
        api,
        "CREATE STREAM ORDERS (K STRING KEY, ID STRING, CUSTOMER STRING, AMOUNT DOUBLE) \
         WITH (kafka_topic='orders', value_format='AVRO', partitions=1);",
    );
    ksql_ok(api, "INSERT INTO ORDERS (K, ID, CUSTOMER, AMOUNT) VALUES ('k1', 'o-1', 'ann', 12.5);");
    let orders = json!({
        "id": "sales.orders", "name": "Orders", "owner": "alice", "description": "Every order",
        "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "orders",
                         "schemaSubject": "orders-value", "format": "avro"}]
    });
    assert_eq!(as_alice(api, "POST", "/api/v1/products", &orders).0, 201);
    let (status, body) = as_alice(api, "POST", "/api/v1/products/sales.orders/publish", &Value::Null);
    assert_eq!(status, 200, "{body}");
    ksql_ok(
        api,
        "CREATE STREAM ORDERS_ENRICHED WITH (kafka_topic='orders_enriched') AS SELECT K, ID, AMOUNT * 2 AS DOUBLED, \
         UCASE(CUSTOMER) AS CUSTOMER, 'web' AS CHANNEL FROM ORDERS;",
    );
    // The query registers its output schema when it writes its first record.
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.get("/registry/subjects/orders_enriched-value/versions").0 != 200 {
        assert!(Instant::now() < deadline, "the derived stream never registered its schema");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_product_is_made_from_a_derived_stream_and_protects_it_from_drop() {
    let mut server = TestServer::start();
    let api = &server.api;
    setup(api);

    let request = json!({"source": "ORDERS_ENRICHED", "id": "enriched-orders", "domain": "sales",
                         "quality_tier": "curated", "tags": ["orders"]});
    let (status, body) = as_alice(api, "POST", "/api/v1/products/from-sql", &request);
    assert_eq!(status, 201, "{body}");
    let product = &body["product"];
    assert_eq!(product["spec"]["id"], "sales.enriched-orders");
    assert_eq!(product["spec"]["name"], "ORDERS_ENRICHED");
    assert_eq!(product["spec"]["owner"], "alice");
    assert_eq!(product["lifecycle"]["status"], "draft");
    let port = &product["spec"]["outputPorts"][0];
    assert_eq!(port["topic"], "orders_enriched");
    assert_eq!(port["schemaSubject"], "orders_enriched-value");
    assert_eq!(port["format"], "avro");
    let inputs = product["spec"]["inputPorts"].as_array().expect("input ports");
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["product"], "sales.orders");
    assert_eq!(inputs[0]["port"], "events");
    assert_eq!(body["sql"]["inputs"], json!([{"name": "ORDERS", "topic": "orders"}]));

    // Field lineage; the key K (not in the value schemas) and the literal CHANNEL have none.
    let (status, lineage) = api.get("/api/v1/products/sales.enriched-orders/lineage/fields");
    assert_eq!(status, 200, "{lineage}");
    let edges: Vec<(String, String)> = lineage["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            assert_eq!(e["from"]["product"], "sales.orders");
            assert_eq!(e["to"]["product"], "sales.enriched-orders");
            (
                e["from"]["field"].as_str().unwrap_or_default().into(),
                e["to"]["field"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let expected = [("AMOUNT", "DOUBLED"), ("CUSTOMER", "CUSTOMER"), ("ID", "ID")];
    assert_eq!(edges, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    let (_, impact) = api.get("/api/v1/products/sales.orders/impact?field=AMOUNT");
    assert_eq!(impact["affected"][0]["fields"], json!(["DOUBLED"]), "{impact}");

    // The same id again, an unknown source, a source no query writes, a domain mismatch.
    let (status, body) = as_alice(api, "POST", "/api/v1/products/from-sql", &request);
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40901)), "{body}");
    let unknown = json!({"source": "NOPE", "id": "x", "domain": "sales"});
    let (status, body) = as_alice(api, "POST", "/api/v1/products/from-sql", &unknown);
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40407)), "{body}");
    let plain = json!({"source": "ORDERS", "id": "x", "domain": "sales"});
    let (status, body) = as_alice(api, "POST", "/api/v1/products/from-sql", &plain);
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40002)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("not written by a persistent query"), "{body}");
    let mismatch = json!({"source": "ORDERS_ENRICHED", "id": "ops.x", "domain": "sales"});
    assert_eq!(as_alice(api, "POST", "/api/v1/products/from-sql", &mismatch).0, 422);

    // Once the product is published, dropping its source is refused with the product's name.
    let (status, body) = as_alice(api, "POST", "/api/v1/products/sales.enriched-orders/publish", &Value::Null);
    assert_eq!(status, 200, "{body}");
    let (status, body) = ksql(api, "DROP STREAM ORDERS_ENRICHED;");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert_eq!(
        body["message"],
        "Cannot drop ORDERS_ENRICHED: published data products depend on it: sales.enriched-orders"
    );
    let (_, body) = ksql(api, "DROP STREAM ORDERS;");
    assert_eq!(
        body["message"],
        "Cannot drop ORDERS: published data products depend on it: sales.enriched-orders, sales.orders"
    );

    // The guard is wired again after a restart (and the replayed commands were not refused).
    server.restart();
    let api = &server.api;
    let (status, body) = ksql(api, "DROP STREAM ORDERS_ENRICHED;");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("sales.enriched-orders"), "{body}");
}

#[test]
fn a_plain_json_derived_stream_gets_a_schema_and_can_be_published() {
    let server = TestServer::start();
    let api = &server.api;
    setup(api);
    ksql_ok(
        api,
        "CREATE STREAM BIG_ORDERS WITH (kafka_topic='big_orders', value_format='JSON') AS \
         SELECT K, ID, AMOUNT FROM ORDERS WHERE AMOUNT > 10;",
    );
    // ksqlDB registers no schema for plain JSON; from-sql describes the output columns instead.
    assert_eq!(api.get("/registry/subjects/big_orders-value/versions").0, 404);
    let request = json!({"source": "BIG_ORDERS", "id": "big-orders", "domain": "sales",
                         "description": "Orders over 10", "qualityTier": "curated"});
    let (status, body) = as_alice(api, "POST", "/api/v1/products/from-sql", &request);
    assert_eq!(status, 201, "{body}");
    let (status, latest) = api.get("/registry/subjects/big_orders-value/versions/latest");
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["schemaType"], "JSON");
    let schema: Value = serde_json::from_str(latest["schema"].as_str().expect("schema text")).expect("JSON Schema");
    let mut properties: Vec<&String> = schema["properties"].as_object().expect("properties").keys().collect();
    properties.sort();
    // The key column K is in the record key, not in the value.
    assert_eq!(properties, ["AMOUNT", "ID"]);
    // Nullable, as ksqlDB's JSON_SR schemas are.
    assert_eq!(schema["properties"]["AMOUNT"], json!({"oneOf": [{"type": "null"}, {"type": "number"}]}));
    let (status, body) = as_alice(api, "POST", "/api/v1/products/sales.big-orders/publish", &Value::Null);
    assert_eq!(status, 200, "{body}");
    // Field lineage now has a schema to land on.
    let (status, fields) = api.get("/api/v1/products/sales.big-orders/lineage/fields");
    assert_eq!(status, 200, "{fields}");
    assert!(fields.to_string().contains("AMOUNT"), "{fields}");
}
