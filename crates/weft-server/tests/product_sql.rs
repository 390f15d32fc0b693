//! Where SQL names and products meet: `POST /api/v1/products/{id}/sql-source` declares the stream over
//! a product's output port once and for all, and `GET /api/v1/sql/sources` names the product each
//! stream serves.

mod common;

use common::{shop_orders_avro_product, Api, TestServer};
use serde_json::{json, Value};

const KSQL: &str = "application/vnd.ksql.v1+json";

fn ksql_at(api: &Api, path: &str, text: &str) -> Value {
    let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
    let reply = api.send("POST", path, &[("content-type", KSQL), ("accept", KSQL)], Some(body.as_bytes()));
    assert_eq!(reply.status, 200, "{text}: {}", reply.text());
    reply.json()
}

fn sql_source(api: &Api, id: &str) -> (u16, Value) {
    let reply = api.send("POST", &format!("/api/v1/products/{id}/sql-source"), &[], None);
    (reply.status, reply.json())
}

/// The products `GET /api/v1/sql/sources` says the source `name` serves (None: no such source).
fn served_by(api: &Api, name: &str) -> Option<Vec<String>> {
    let (status, answer) = api.get("/api/v1/sql/sources");
    assert_eq!(status, 200, "{answer}");
    let source = answer["sources"].as_array().expect("sources").iter().find(|s| s["name"] == name)?.clone();
    Some(
        source["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| p["product"].as_str().unwrap().into())
            .collect(),
    )
}

const ORDER: &str =
    r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"amount","type":"double"}]}"#;

#[test]
fn a_products_stream_is_declared_on_first_use_then_reused_and_queried() {
    let mut server = TestServer::start();
    shop_orders_avro_product(&server.api, ORDER, 1);
    server.api.produce(
        "shop.orders",
        json!([{"key": "o1", "value": {"id": "o1", "amount": 10.5}}, {"key": "o2", "value": {"id": "o2", "amount": 2.0}}]),
    );
    assert_eq!(served_by(&server.api, "SHOP_ORDERS"), None);

    let (status, first) = sql_source(&server.api, "shop.orders");
    assert_eq!(status, 201, "{first}");
    assert_eq!((first["name"].as_str(), first["kind"].as_str()), (Some("SHOP_ORDERS"), Some("STREAM")), "{first}");
    assert_eq!((first["created"].as_bool(), first["topic"].as_str()), (Some(true), Some("shop.orders")));
    assert_eq!(
        first["statement"],
        "CREATE STREAM SHOP_ORDERS (ID STRING, AMOUNT DOUBLE) WITH (KAFKA_TOPIC='shop.orders', VALUE_FORMAT='AVRO')"
    );

    // The second call reuses it.
    let (status, second) = sql_source(&server.api, "shop.orders");
    assert_eq!(status, 200, "{second}");
    assert_eq!((second["name"].as_str(), second["created"].as_bool()), (Some("SHOP_ORDERS"), Some(false)));

    // It is an ordinary stream: described, and queried over the records already there.
    let described = ksql_at(&server.api, "/ksql", "DESCRIBE SHOP_ORDERS;");
    let fields: Vec<(String, String)> = described[0]["sourceDescription"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| (f["name"].as_str().unwrap().into(), f["schema"]["type"].as_str().unwrap().into()))
        .collect();
    assert_eq!(fields, [("ID".to_string(), "STRING".to_string()), ("AMOUNT".into(), "DOUBLE".into())]);
    let rows = ksql_at(&server.api, "/query", "SELECT ID, AMOUNT FROM SHOP_ORDERS EMIT CHANGES LIMIT 2;");
    let columns: Vec<&Value> =
        rows.as_array().expect("rows").iter().filter_map(|r| r.get("row")).map(|r| &r["columns"]).collect();
    assert_eq!(columns, [&json!(["o1", 10.5]), &json!(["o2", 2.0])]);

    // The source listing names the product it serves.
    assert_eq!(served_by(&server.api, "SHOP_ORDERS"), Some(vec!["shop.orders".to_string()]));

    // The declaration is a SQL command like any other: it survives a restart, and is still reused.
    server.restart();
    let (status, again) = sql_source(&server.api, "shop.orders");
    assert_eq!((status, again["name"].as_str()), (200, Some("SHOP_ORDERS")), "{again}");
}

#[test]
fn a_stream_over_the_topic_is_the_products_and_names_do_not_clash() {
    let server = TestServer::start();
    let api = &server.api;
    let domain = json!({"name": "web", "owningTeam": "team-web", "members": [{"user": "alice", "role": "owner"}]});
    assert_eq!(api.post("/api/v1/domains", &domain).0, 201);
    let schema = json!({"type": "object", "properties": {"page": {"type": "string"}, "ms": {"type": "integer"}}});
    for topic in ["clicks", "views", "bare"] {
        api.create_topic(topic, 1);
        let (status, body) = api.post(
            &format!("/registry/subjects/{topic}-value/versions"),
            &json!({"schemaType": "JSON", "schema": schema.to_string()}),
        );
        assert_eq!(status, 200, "{body}");
    }
    for (id, topic) in [("web.clicks", "clicks"), ("web.views", "views"), ("web.empty", "nothing-yet")] {
        if topic == "nothing-yet" {
            api.create_topic(topic, 1);
        }
        let spec = json!({"id": id, "name": id, "owner": "alice", "outputPorts": [{"name": "events",
            "version": "1.0.0", "topic": topic, "schemaSubject": format!("{topic}-value"), "format": "json"}]});
        assert_eq!(api.post("/api/v1/products", &spec).0, 201);
    }
    // A user's stream over the clicks topic is the product's; a stream over another topic holds the
    // name `WEB_VIEWS`, so the views product's stream is `WEB_VIEWS_2`.
    ksql_at(api, "/ksql", "CREATE STREAM MY_CLICKS (PAGE STRING) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');");
    ksql_at(api, "/ksql", "CREATE STREAM WEB_VIEWS (PAGE STRING) WITH (KAFKA_TOPIC='bare', VALUE_FORMAT='JSON');");
    let (status, clicks) = sql_source(api, "web.clicks");
    assert_eq!((status, clicks["name"].as_str(), clicks["created"].as_bool()), (200, Some("MY_CLICKS"), Some(false)));
    let (status, views) = sql_source(api, "web.views");
    assert_eq!((status, views["name"].as_str()), (201, Some("WEB_VIEWS_2")), "{views}");
    assert_eq!(
        views["statement"],
        "CREATE STREAM WEB_VIEWS_2 (MS BIGINT, PAGE STRING) WITH (KAFKA_TOPIC='views', VALUE_FORMAT='JSON')"
    );
    api.produce("views", json!([{"value": {"page": "/home", "ms": 12}}]));
    let rows = ksql_at(api, "/query", "SELECT PAGE, MS FROM WEB_VIEWS_2 EMIT CHANGES LIMIT 1;");
    assert!(rows.as_array().expect("rows").iter().any(|r| r["row"]["columns"] == json!(["/home", 12])), "{rows}");
    assert_eq!(served_by(api, "MY_CLICKS"), Some(vec!["web.clicks".to_string()]));
    assert_eq!(served_by(api, "WEB_VIEWS"), Some(vec![]));

    // Refusals declare nothing: no schema yet, no such product.
    let (status, error) = sql_source(api, "web.empty");
    assert_eq!((status, error["error_code"].as_u64()), (422, Some(42209)), "{error}");
    let (status, error) = sql_source(api, "web.nothing");
    assert_eq!((status, error["error_code"].as_u64()), (404, Some(40404)), "{error}");
    // A schema SQL has no columns for: refused, saying whose.
    api.create_topic("mixed", 1);
    let mixed = json!({"type": "object", "properties": {"v": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}});
    let (status, body) = api
        .post("/registry/subjects/mixed-value/versions", &json!({"schemaType": "JSON", "schema": mixed.to_string()}));
    assert_eq!(status, 200, "{body}");
    let spec = json!({"id": "web.mixed", "name": "Mixed", "owner": "alice", "outputPorts": [{"name": "events",
        "version": "1.0.0", "topic": "mixed", "schemaSubject": "mixed-value", "format": "json"}]});
    assert_eq!(api.post("/api/v1/products", &spec).0, 201);
    let (status, error) = sql_source(api, "web.mixed");
    assert_eq!(status, 422, "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the columns of port events of 'web.mixed' (subject mixed-value version 1): ")
            && message.contains("unions"),
        "{error}"
    );
    let (_, sources) = api.get("/api/v1/sql/sources");
    let names: Vec<&str> = sources["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["MY_CLICKS", "WEB_VIEWS", "WEB_VIEWS_2"]);
}
