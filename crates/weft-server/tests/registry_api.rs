//! End-to-end tests of the Confluent Schema Registry REST API under `/registry`: a real server on
//! 127.0.0.1:0, exercised through real HTTP, checked against Confluent's documented semantics and codes.

mod common;

use std::time::Duration;

use base64::Engine;

use common::TestServer;
use serde_json::{json, Value};

const V1: &str = "application/vnd.schemaregistry.v1+json";

/// A client for `/registry` that checks Confluent's content type and error shape on every answer.
struct Registry {
    base: String,
    agent: ureq::Agent,
}

impl Registry {
    fn new(server: &TestServer) -> Registry {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Registry { base: format!("{}/registry", server.api.base), agent }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (status, text) = self.get_text(path);
        (status, parse(status, &text))
    }

    fn get_text(&self, path: &str) -> (u16, String) {
        Self::text(self.agent.get(format!("{}{path}", self.base)).call())
    }

    fn delete(&self, path: &str) -> (u16, Value) {
        let (status, text) = Self::text(self.agent.delete(format!("{}{path}", self.base)).call());
        (status, parse(status, &text))
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, Some(V1), body.to_string().as_bytes())
    }

    fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.agent.put(format!("{}{path}", self.base)).header("content-type", V1);
        let (status, text) = Self::text(request.send(body.to_string().as_bytes()));
        (status, parse(status, &text))
    }

    fn post_raw(&self, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (status, text) = Self::text(request.send(body));
        (status, parse(status, &text))
    }

    fn text(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
        let mut response = response.expect("HTTP exchange");
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(content_type, V1, "answer with status {status}");
        (status, response.body_mut().read_to_string().expect("body"))
    }

    /// Registers an Avro schema, asserting success, and returns its id.
    fn register(&self, subject: &str, schema: &Value) -> u64 {
        self.register_body(subject, &json!({"schema": schema.to_string()}))
    }

    fn register_body(&self, subject: &str, body: &Value) -> u64 {
        let (status, answer) = self.post(&format!("/subjects/{}/versions", encode(subject)), body);
        assert_eq!(status, 200, "{answer}");
        answer["id"].as_u64().expect("id")
    }
}

fn parse(status: u16, text: &str) -> Value {
    let body: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {text}"));
    if status >= 400 {
        let code = body["error_code"].as_u64().unwrap_or_else(|| panic!("no error_code in {body}"));
        assert!(code == u64::from(status) || code / 100 == u64::from(status), "code {code} with status {status}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "extra fields in error {body}");
    }
    body
}

fn code(answer: &(u16, Value)) -> (u16, u64) {
    (answer.0, answer.1["error_code"].as_u64().unwrap_or(0))
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn record(name: &str, fields: Value) -> Value {
    json!({"type": "record", "name": name, "namespace": "weft.test", "fields": fields})
}

fn order_v1() -> Value {
    record("Order", json!([{"name": "id", "type": "long"}, {"name": "amount", "type": "double"}]))
}

fn order_v2() -> Value {
    record(
        "Order",
        json!([{"name": "id", "type": "long"}, {"name": "amount", "type": "double"},
               {"name": "currency", "type": "string", "default": "EUR"}]),
    )
}

/// Incompatible with v1 and v2 under BACKWARD: a new field without a default.
fn order_bad() -> Value {
    record(
        "Order",
        json!([{"name": "id", "type": "long"}, {"name": "amount", "type": "double"},
               {"name": "customer", "type": "string"}]),
    )
}

#[test]
fn root_types_unknown_routes_and_methods() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    assert_eq!(registry.get(""), (200, json!({})));
    assert_eq!(registry.get("/schemas/types"), (200, json!(["AVRO", "JSON", "PROTOBUF"])));
    assert_eq!(registry.get("/subjects"), (200, json!([])));
    assert_eq!(registry.get("/schemas"), (200, json!([])));

    assert_eq!(code(&registry.get("/nothing/here")), (404, 404));
    assert_eq!(code(&registry.get("/subjects/s/versions/1/nothing")), (404, 404));
    assert_eq!(code(&registry.delete("/schemas/types")), (405, 405));
    // Confluent has no GET /subjects/{subject}: it is POST (lookup) and DELETE.
    assert_eq!(code(&registry.get("/subjects/s")), (405, 405));
    // A non-numeric id matches no route in Confluent.
    assert_eq!(code(&registry.get("/schemas/ids/abc")), (404, 404));
}

#[test]
fn register_lookup_and_ids() {
    let server = TestServer::start();
    let registry = Registry::new(&server);

    let id = registry.register("orders-value", &order_v1());
    assert_eq!(id, 1);
    assert_eq!(registry.register("orders-value", &order_v1()), 1, "registering twice gives the same id");
    // Whitespace and key order do not matter: the schema is stored normalized.
    let spaced = serde_json::to_string_pretty(&order_v1()).expect("JSON");
    assert_eq!(registry.register_body("orders-value", &json!({"schema": spaced})), 1);
    assert_eq!(registry.get("/subjects/orders-value/versions"), (200, json!([1])));

    assert_eq!(registry.register("orders-value", &order_v2()), 2);
    assert_eq!(registry.register("orders-copy", &order_v1()), 1, "same schema under two subjects, same id");
    assert_eq!(registry.get("/subjects/orders-value/versions"), (200, json!([1, 2])), "versions are dense");
    assert_eq!(registry.get("/subjects"), (200, json!(["orders-copy", "orders-value"])));
    assert_eq!(registry.get("/subjects?subjectPrefix=orders-v"), (200, json!(["orders-value"])));

    let (status, schema) = registry.get("/schemas/ids/1");
    assert_eq!(status, 200, "{schema}");
    let text = schema["schema"].as_str().expect("schema text");
    let read_back = serde_json::from_str::<Value>(text).expect("JSON text");
    assert_eq!((&read_back["name"], &read_back["namespace"]), (&json!("Order"), &json!("weft.test")));
    assert!(schema.get("schemaType").is_none(), "AVRO is implied: {schema}");
    assert!(schema.get("maxId").is_none(), "{schema}");
    assert_eq!(registry.get("/schemas/ids/1?subject=orders-value&format=").1, schema);
    let (_, with_max) = registry.get("/schemas/ids/1?fetchMaxId=true");
    assert_eq!(with_max["maxId"], 2);
    assert_eq!(registry.get_text("/schemas/ids/1/schema"), (200, text.to_string()));
    assert_eq!(
        registry.get("/schemas/ids/1/versions"),
        (200, json!([{"subject": "orders-copy", "version": 1}, {"subject": "orders-value", "version": 1}]))
    );
    assert_eq!(registry.get("/schemas/ids/1/subjects"), (200, json!(["orders-copy", "orders-value"])));
    assert_eq!(code(&registry.get("/schemas/ids/99")), (404, 40403));
    assert_eq!(code(&registry.get("/schemas/ids/0")), (404, 40403));
    assert_eq!(code(&registry.get("/schemas/ids/99/versions")), (404, 40403));

    let (status, latest) = registry.get("/subjects/orders-value/versions/latest");
    assert_eq!(status, 200);
    assert_eq!(
        (latest["subject"].as_str(), latest["version"].as_u64(), latest["id"].as_u64()),
        (Some("orders-value"), Some(2), Some(2))
    );
    assert_eq!(registry.get("/subjects/orders-value/versions/-1").1, latest);
    assert_eq!(registry.get("/subjects/orders-value/versions/2").1, latest);
    let (status, raw) = registry.get_text("/subjects/orders-value/versions/1/schema");
    assert_eq!((status, raw.as_str()), (200, text));

    let (status, all) = registry.get("/schemas");
    assert_eq!(status, 200);
    assert_eq!(all.as_array().map(Vec::len), Some(3), "{all}");
    let (_, latest_only) = registry.get("/schemas?latestOnly=true&subjectPrefix=orders-value");
    assert_eq!(latest_only, json!([latest]));
    assert_eq!(registry.get("/schemas?offset=1&limit=1").1.as_array().map(Vec::len), Some(1));

    // Lookup: which version of a subject holds a schema.
    let (status, found) = registry.post("/subjects/orders-value", &json!({"schema": order_v1().to_string()}));
    assert_eq!(status, 200, "{found}");
    assert_eq!((found["version"].as_u64(), found["id"].as_u64()), (Some(1), Some(1)));
    let other = record("Other", json!([{"name": "x", "type": "int"}]));
    assert_eq!(code(&registry.post("/subjects/orders-value", &json!({"schema": other.to_string()}))), (404, 40403));
    assert_eq!(code(&registry.post("/subjects/nope", &json!({"schema": order_v1().to_string()}))), (404, 40401));

    // JSON Schema, every accepted request content type, and `normalize`.
    let payment = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
    let body = json!({"schemaType": "JSON", "schema": payment.to_string()}).to_string();
    for content_type in [Some(V1), Some("application/vnd.schemaregistry+json"), Some("application/json")] {
        let answer =
            registry.post_raw("/subjects/payments-value/versions?normalize=true", content_type, body.as_bytes());
        assert_eq!(answer, (200, json!({"id": 3})), "content type {content_type:?}");
    }
    // A body without a JSON content type (none, text/plain, a form) could come from a cross-origin
    // page without a CORS preflight: refused, in Confluent's error shape.
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let answer = registry.post_raw("/subjects/payments-value/versions", content_type, body.as_bytes());
        assert_eq!(code(&answer), (415, 41501), "content type {content_type:?}: {}", answer.1);
    }
    let (_, payment_schema) = registry.get("/schemas/ids/3");
    assert_eq!(payment_schema["schemaType"], "JSON");
    assert_eq!(registry.get("/subjects/payments-value/versions"), (200, json!([1])));
}

#[test]
fn schemas_read_back_as_confluent_answers_them() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    // Confluent answers an Avro schema as Avro's Java library writes it (`Schema.toString()`): compact,
    // `type` first, `name` and `namespace` apart however the author wrote the name.
    let authored = r#"{"namespace": "weft.test", "name": "Order", "type": "record", "doc": "An order",
        "fields": [{"name": "id", "type": "long"}, {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                   {"name": "line", "type": {"type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}},
                   {"name": "lines", "type": {"type": "array", "items": "Line"}, "default": []}]}"#;
    let java = concat!(
        r#"{"type":"record","name":"Order","namespace":"weft.test","doc":"An order","fields":["#,
        r#"{"name":"id","type":"long"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},"#,
        r#"{"name":"line","type":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"}]}},"#,
        r#"{"name":"lines","type":{"type":"array","items":"Line"},"default":[]}]}"#
    );
    let id = registry.register_body("orders-value", &json!({"schema": authored}));
    assert_eq!(registry.get(&format!("/schemas/ids/{id}")), (200, json!({"schema": java})));
    assert_eq!(registry.get_text(&format!("/schemas/ids/{id}/schema")), (200, java.to_string()));
    let (_, version) = registry.get("/subjects/orders-value/versions/1");
    assert_eq!(version["schema"], java);
    assert_eq!(registry.get_text("/subjects/orders-value/versions/latest/schema"), (200, java.to_string()));
    assert_eq!(registry.get("/schemas").1[0]["schema"], java);
    // The same schema written with a full name and other spacing is the same schema, read back as first registered.
    let full_name = r#"{"type":"record","name":"weft.test.Order","doc":"An order","fields":[{"name":"id","type":"long"},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"line","type":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"}]}},
        {"name":"lines","type":{"type":"array","items":"weft.test.Line"},"default":[]}]}"#;
    assert_eq!(registry.register_body("orders-value", &json!({"schema": full_name})), id);
    let (status, found) = registry.post("/subjects/orders-value?normalize=true", &json!({"schema": full_name}));
    assert_eq!((status, &found["schema"]), (200, &json!(java)), "{found}");

    // `normalize=true`: the canonical text (full names, as Confluent's normalized Avro) is kept instead.
    let payment = r#"{"type": "record", "namespace": "weft.test", "name": "Payment", "fields": [{"name": "id", "type": "string"}]}"#;
    let (status, answer) =
        registry.post("/subjects/payments-value/versions?normalize=true", &json!({"schema": payment}));
    assert_eq!(status, 200, "{answer}");
    let (_, normalized) = registry.get(&format!("/schemas/ids/{}", answer["id"]));
    let text: Value = serde_json::from_str(normalized["schema"].as_str().expect("text")).expect("JSON");
    assert_eq!((&text["name"], text.get("namespace")), (&json!("weft.test.Payment"), None), "{text}");

    // JSON Schema: compact, members in the order written (Jackson's `writeValueAsString`).
    let event = "{ \"type\": \"object\",\n  \"required\": [\"id\"], \"properties\": {\"id\": {\"type\": \"string\"}} }";
    let (_, answer) = registry.post("/subjects/events-value/versions", &json!({"schemaType": "JSON", "schema": event}));
    let (_, info) = registry.get(&format!("/schemas/ids/{}", answer["id"]));
    assert_eq!(info["schema"], r#"{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}"#);

    // Read back the same after a restart: the text is in the log, not derived again.
    let mut server = server;
    server.restart();
    let registry = Registry::new(&server);
    assert_eq!(registry.get(&format!("/schemas/ids/{id}")), (200, json!({"schema": java})));
}

#[test]
fn deleted_listings_pages_and_metadata() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    registry.register("s", &order_v1());
    registry.register("s", &order_v2());
    registry.register("t", &order_v1());
    assert_eq!(registry.delete("/subjects/s/versions/1"), (200, json!(1)));
    assert_eq!(registry.delete("/subjects/t"), (200, json!([1])));

    // Versions: live, with deleted ones, deleted only (which wins over `deleted`), deleted as negative.
    assert_eq!(registry.get("/subjects/s/versions"), (200, json!([2])));
    assert_eq!(registry.get("/subjects/s/versions?deleted=true"), (200, json!([1, 2])));
    assert_eq!(registry.get("/subjects/s/versions?deletedOnly=true"), (200, json!([1])));
    assert_eq!(registry.get("/subjects/s/versions?deleted=true&deletedOnly=true"), (200, json!([1])));
    assert_eq!(registry.get("/subjects/s/versions?deletedAsNegative=true"), (200, json!([-1, 2])));
    assert_eq!(registry.get("/subjects/s/versions?deleted=true&offset=1&limit=5"), (200, json!([2])));
    assert_eq!(registry.get("/subjects/s/versions?deleted=true&limit=-1"), (200, json!([1, 2])));
    // A subject whose versions are all soft-deleted is found only when deleted ones are asked for.
    assert_eq!(code(&registry.get("/subjects/t/versions")), (404, 40401));
    assert_eq!(registry.get("/subjects/t/versions?deletedOnly=true"), (200, json!([1])));
    assert_eq!(code(&registry.get("/subjects/nope/versions?deleted=true")), (404, 40401));
    assert_eq!(code(&registry.get("/subjects/s/versions?offset=x")), (400, 400));

    // Subjects: the same flags, and pages.
    assert_eq!(registry.get("/subjects"), (200, json!(["s"])));
    assert_eq!(registry.get("/subjects?deleted=true"), (200, json!(["s", "t"])));
    assert_eq!(registry.get("/subjects?deletedOnly=true"), (200, json!(["t"])));
    assert_eq!(registry.get("/subjects?deleted=true&offset=1"), (200, json!(["t"])));
    assert_eq!(registry.get("/subjects?deleted=true&limit=1"), (200, json!(["s"])));

    // Schema ids: the versions and subjects using one, deleted ones on request.
    assert_eq!(registry.get("/schemas/ids/1/versions"), (200, json!([])));
    assert_eq!(
        registry.get("/schemas/ids/1/versions?deleted=true"),
        (200, json!([{"subject": "s", "version": 1}, {"subject": "t", "version": 1}]))
    );
    assert_eq!(registry.get("/schemas/ids/2/versions"), (200, json!([{"subject": "s", "version": 2}])));
    assert_eq!(registry.get("/schemas/ids/1/subjects?deleted=true"), (200, json!(["s", "t"])));

    // Metadata: Weft keeps none, so no version matches (Confluent's answer for schemas without any).
    assert_eq!(code(&registry.get("/subjects/s/metadata?key=owner&value=alice")), (404, 40403));
    assert_eq!(code(&registry.get("/subjects/nope/metadata?key=owner&value=alice")), (404, 40401));
    assert_eq!(code(&registry.get("/subjects/t/metadata")), (404, 40401));
    assert_eq!(code(&registry.get("/subjects/t/metadata?deleted=true")), (404, 40403));
}

#[test]
fn subject_names_are_url_decoded() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    for subject in ["team/a:orders value", "café-ümlaut", "with%percent", "a.b_c~d"] {
        let id = registry.register(subject, &order_v1());
        assert_eq!(id, 1, "{subject}");
        let (status, latest) = registry.get(&format!("/subjects/{}/versions/latest", encode(subject)));
        assert_eq!((status, latest["subject"].as_str()), (200, Some(subject)));
    }
    let (_, subjects) = registry.get("/subjects");
    assert_eq!(subjects.as_array().map(Vec::len), Some(4), "{subjects}");
}

#[test]
fn soft_and_permanent_deletes() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    registry.register("s", &order_v1());
    registry.register("s", &order_v2());
    let third = record("Order", json!([{"name": "id", "type": "long"}]));
    assert_eq!(registry.register("s", &third), 3);

    // A permanent delete needs a soft delete first.
    assert_eq!(code(&registry.delete("/subjects/s/versions/1?permanent=true")), (404, 40407));
    assert_eq!(code(&registry.delete("/subjects/s?permanent=true")), (404, 40405));

    assert_eq!(registry.delete("/subjects/s/versions/1"), (200, json!(1)));
    assert_eq!(code(&registry.delete("/subjects/s/versions/1")), (404, 40406));
    assert_eq!(registry.get("/subjects/s/versions"), (200, json!([2, 3])));
    assert_eq!(registry.get("/subjects/s/versions?deleted=true"), (200, json!([1, 2, 3])));
    assert_eq!(code(&registry.get("/subjects/s/versions/1")), (404, 40402));
    let (status, deleted) = registry.get("/subjects/s/versions/1?deleted=true");
    assert_eq!((status, deleted["id"].as_u64()), (200, Some(1)));
    // A soft-deleted version's schema is still served by id.
    assert_eq!(registry.get("/schemas/ids/1").0, 200);
    assert_eq!(registry.get("/schemas/ids/1/versions"), (200, json!([])));
    assert_eq!(registry.get("/schemas/ids/1/versions?deleted=true"), (200, json!([{"subject": "s", "version": 1}])));
    // Lookups see soft-deleted versions only with deleted=true.
    let v1 = json!({"schema": order_v1().to_string()});
    assert_eq!(code(&registry.post("/subjects/s", &v1)), (404, 40403));
    assert_eq!(registry.post("/subjects/s?deleted=true", &v1).1["version"], 1);

    assert_eq!(registry.delete("/subjects/s/versions/1?permanent=true"), (200, json!(1)));
    assert_eq!(code(&registry.get("/subjects/s/versions/1?deleted=true")), (404, 40402));
    assert_eq!(code(&registry.get("/schemas/ids/1")), (404, 40403), "no version uses id 1 any more");
    assert_eq!(code(&registry.delete("/subjects/s/versions/9")), (404, 40402));
    assert_eq!(code(&registry.delete("/subjects/nope/versions/1")), (404, 40401));

    // Deleting `latest` deletes the highest live version.
    assert_eq!(registry.delete("/subjects/s/versions/latest"), (200, json!(3)));
    assert_eq!(registry.get("/subjects/s/versions/latest").1["version"], 2);

    assert_eq!(registry.delete("/subjects/s"), (200, json!([2])));
    assert_eq!(code(&registry.delete("/subjects/s")), (404, 40404));
    assert_eq!(code(&registry.get("/subjects/s/versions")), (404, 40401));
    assert_eq!(registry.get("/subjects"), (200, json!([])));
    assert_eq!(registry.get("/subjects?deleted=true"), (200, json!(["s"])));
    assert_eq!(registry.delete("/subjects/s?permanent=true"), (200, json!([2, 3])));
    assert_eq!(registry.get("/subjects?deleted=true"), (200, json!([])));
    assert_eq!(code(&registry.delete("/subjects/s?permanent=true")), (404, 40401));

    // Ids are never given to another schema: a new schema gets a new id, and the schema of id 1 gets
    // id 1 back (as in Confluent).
    let fourth = record("Fourth", json!([{"name": "x", "type": "int"}]));
    assert_eq!(registry.register("s", &fourth), 4);
    assert_eq!(registry.register("t", &order_v1()), 1);
}

#[test]
fn compatibility_levels_global_and_per_subject() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    assert_eq!(registry.get("/config"), (200, json!({"compatibilityLevel": "BACKWARD"})));
    registry.register("orders", &order_v1());

    let v2 = json!({"schema": order_v2().to_string()});
    let bad = json!({"schema": order_bad().to_string()});
    assert_eq!(
        registry.post("/compatibility/subjects/orders/versions/latest", &v2),
        (200, json!({"is_compatible": true}))
    );
    assert_eq!(registry.post("/compatibility/subjects/orders/versions/1", &v2), (200, json!({"is_compatible": true})));
    assert_eq!(registry.post("/compatibility/subjects/orders/versions", &v2), (200, json!({"is_compatible": true})));
    assert_eq!(
        registry.post("/compatibility/subjects/orders/versions/latest", &bad),
        (200, json!({"is_compatible": false}))
    );
    let (status, verbose) = registry.post("/compatibility/subjects/orders/versions/latest?verbose=true", &bad);
    assert_eq!((status, &verbose["is_compatible"]), (200, &json!(false)));
    let messages: Vec<&str> =
        verbose["messages"].as_array().expect("messages").iter().filter_map(Value::as_str).collect();
    assert!(
        messages.iter().any(|m| m.contains("READER_FIELD_MISSING_DEFAULT_VALUE") && m.contains("customer")),
        "{messages:?}"
    );
    assert!(messages.contains(&"{oldSchemaVersion: 1}"), "{messages:?}");
    assert!(messages.contains(&"{compatibility: 'BACKWARD'}"), "{messages:?}");
    let (_, compatible_verbose) = registry.post("/compatibility/subjects/orders/versions?verbose=true", &v2);
    assert_eq!(compatible_verbose, json!({"is_compatible": true, "messages": []}));

    let (status, refused) = registry.post("/subjects/orders/versions", &bad);
    assert_eq!((status, refused["error_code"].as_u64()), (409, Some(409)), "{refused}");
    assert!(refused["message"].as_str().unwrap_or_default().contains("customer"), "{refused}");

    // Versions and subjects that do not exist, versions that do not parse.
    assert_eq!(code(&registry.post("/compatibility/subjects/orders/versions/9", &v2)), (404, 40402));
    assert_eq!(code(&registry.post("/compatibility/subjects/nope/versions/latest", &v2)), (404, 40401));
    assert_eq!(registry.post("/compatibility/subjects/nope/versions", &v2), (200, json!({"is_compatible": true})));
    for version in ["abc", "0", "-2", "2147483648"] {
        let answer = registry.post(&format!("/compatibility/subjects/orders/versions/{version}"), &v2);
        assert_eq!(code(&answer), (422, 42202), "{version}: {}", answer.1);
        assert_eq!(code(&registry.get(&format!("/subjects/orders/versions/{version}"))), (422, 42202));
    }

    // Per subject, with and without defaultToGlobal.
    assert_eq!(code(&registry.get("/config/orders")), (404, 40408));
    assert_eq!(registry.get("/config/orders?defaultToGlobal=true"), (200, json!({"compatibilityLevel": "BACKWARD"})));
    assert_eq!(
        registry.put("/config/orders", &json!({"compatibility": "none"})),
        (200, json!({"compatibility": "NONE"}))
    );
    assert_eq!(registry.get("/config/orders"), (200, json!({"compatibilityLevel": "NONE"})));
    assert_eq!(
        registry.post("/compatibility/subjects/orders/versions/latest", &bad),
        (200, json!({"is_compatible": true}))
    );
    assert_eq!(registry.delete("/config/orders"), (200, json!({"compatibilityLevel": "NONE"})));
    assert_eq!(code(&registry.delete("/config/orders")), (404, 40408));
    assert_eq!(code(&registry.delete("/config/nope")), (404, 40401));
    assert_eq!(code(&registry.put("/config/orders", &json!({"compatibility": "SOMETIMES"}))), (422, 42203));
    assert_eq!(code(&registry.put("/config", &json!({"compatibility": ""}))), (422, 42203));

    // Global level.
    assert_eq!(
        registry.put("/config", &json!({"compatibility": "FORWARD"})),
        (200, json!({"compatibility": "FORWARD"}))
    );
    assert_eq!(registry.get("/config"), (200, json!({"compatibilityLevel": "FORWARD"})));
    assert_eq!(registry.get("/config/orders?defaultToGlobal=true"), (200, json!({"compatibilityLevel": "FORWARD"})));
    assert_eq!(registry.delete("/config"), (200, json!({"compatibilityLevel": "FORWARD"})));
    assert_eq!(registry.get("/config"), (200, json!({"compatibilityLevel": "BACKWARD"})));
}

#[test]
fn transitive_levels_check_every_version() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    let v1 = record("User", json!([{"name": "id", "type": "long"}, {"name": "name", "type": "string"}]));
    let v2 = record("User", json!([{"name": "id", "type": "long"}]));
    // Reads v2 data (no `name`: the default fills it), but not v1 data (`name` was a string).
    let v3 = record("User", json!([{"name": "id", "type": "long"}, {"name": "name", "type": "int", "default": 0}]));
    registry.register("users", &v1);
    registry.register("users", &v2);
    let body = json!({"schema": v3.to_string()});

    assert_eq!(registry.post("/compatibility/subjects/users/versions", &body), (200, json!({"is_compatible": true})));
    registry.put("/config/users", &json!({"compatibility": "BACKWARD_TRANSITIVE"}));
    let (_, verdict) = registry.post("/compatibility/subjects/users/versions?verbose=true", &body);
    assert_eq!(verdict["is_compatible"], false, "{verdict}");
    let messages = verdict["messages"].to_string();
    assert!(messages.contains("{oldSchemaVersion: 1}") && !messages.contains("{oldSchemaVersion: 2}"), "{messages}");
    assert!(messages.contains("BACKWARD_TRANSITIVE"), "{messages}");
    // Against one given version, transitivity has nothing more to look at.
    assert_eq!(registry.post("/compatibility/subjects/users/versions/2", &body), (200, json!({"is_compatible": true})));
    assert_eq!(code(&registry.post("/subjects/users/versions", &body)), (409, 409));

    registry.put("/config/users", &json!({"compatibility": "BACKWARD"}));
    assert_eq!(registry.register_body("users", &body), 3);
}

#[test]
fn references_and_referenced_by() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    let address = record("Address", json!([{"name": "city", "type": "string"}]));
    assert_eq!(registry.register("address", &address), 1);
    let customer = record("Customer", json!([{"name": "address", "type": "weft.test.Address"}]));
    let body = json!({
        "schema": customer.to_string(),
        "references": [{"name": "weft.test.Address", "subject": "address", "version": 1}],
    });
    assert_eq!(registry.register_body("customer", &body), 2);
    assert_eq!(registry.get("/subjects/address/versions/1/referencedby"), (200, json!([2])));
    assert_eq!(registry.get("/subjects/address/versions/latest/referencedby"), (200, json!([2])));
    let (_, with_refs) = registry.get("/subjects/customer/versions/1");
    assert_eq!(with_refs["references"], body["references"]);
    assert_eq!(code(&registry.delete("/subjects/address/versions/1")), (422, 42206));
    // Without the reference, the type is unknown.
    let unresolved = registry.post("/subjects/other/versions", &json!({"schema": customer.to_string()}));
    assert_eq!(code(&unresolved), (422, 42201));
}

#[test]
fn modes_read_only_and_import() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    assert_eq!(registry.get("/mode"), (200, json!({"mode": "READWRITE"})));
    registry.register("s", &order_v1());

    assert_eq!(registry.put("/mode", &json!({"mode": "READONLY"})), (200, json!({"mode": "READONLY"})));
    let (status, refused) = registry.post("/subjects/s/versions", &json!({"schema": order_v2().to_string()}));
    assert_eq!((status, refused["error_code"].as_u64()), (422, Some(42205)), "{refused}");
    assert_eq!(code(&registry.delete("/subjects/s")), (422, 42205));
    assert_eq!(code(&registry.delete("/subjects/s/versions/1")), (422, 42205));
    // Reads still work.
    assert_eq!(registry.get("/subjects/s/versions"), (200, json!([1])));
    assert_eq!(registry.delete("/mode"), (200, json!({"mode": "READONLY"})));
    assert_eq!(registry.get("/mode"), (200, json!({"mode": "READWRITE"})));

    // Per subject.
    assert_eq!(code(&registry.get("/mode/s")), (404, 40409));
    assert_eq!(registry.get("/mode/s?defaultToGlobal=true"), (200, json!({"mode": "READWRITE"})));
    assert_eq!(registry.put("/mode/s", &json!({"mode": "READONLY"})), (200, json!({"mode": "READONLY"})));
    assert_eq!(code(&registry.post("/subjects/s/versions", &json!({"schema": order_v2().to_string()}))), (422, 42205));
    assert_eq!(registry.register("other", &order_v2()), 2, "other subjects stay writable");
    assert_eq!(registry.delete("/mode/s"), (200, json!({"mode": "READONLY"})));
    assert_eq!(code(&registry.delete("/mode/s")), (404, 40409));
    assert_eq!(code(&registry.put("/mode", &json!({"mode": "SOMETIMES"}))), (422, 42204));

    // IMPORT needs an empty registry, or force=true; then ids and versions come from the request.
    assert_eq!(code(&registry.put("/mode", &json!({"mode": "IMPORT"}))), (422, 42205));
    assert_eq!(registry.put("/mode?force=true", &json!({"mode": "IMPORT"})), (200, json!({"mode": "IMPORT"})));
    let imported = json!({"schema": order_bad().to_string(), "id": 100, "version": 5});
    assert_eq!(registry.register_body("imported", &imported), 100);
    let (_, version) = registry.get("/subjects/imported/versions/5");
    assert_eq!((version["id"].as_u64(), version["version"].as_u64()), (Some(100), Some(5)));
    let overwrite = record("Overwrite", json!([{"name": "x", "type": "int"}]));
    let clash = json!({"schema": overwrite.to_string(), "id": 100, "version": 6});
    assert_eq!(code(&registry.post("/subjects/imported/versions", &clash)), (422, 42205));
    let taken = json!({"schema": order_v1().to_string(), "id": 200});
    assert_eq!(code(&registry.post("/subjects/imported/versions", &taken)), (422, 42207));
    registry.put("/mode", &json!({"mode": "READWRITE"}));
    // Outside IMPORT, new ids continue after the highest one.
    let next = record("Next", json!([{"name": "z", "type": "int"}]));
    assert_eq!(registry.register("next", &next), 101);
    assert_eq!(
        code(&registry.post("/subjects/next/versions", &json!({"schema": next.to_string(), "id": 7}))),
        (422, 42207)
    );
}

#[test]
fn bad_inputs_answer_confluent_errors() {
    let server = TestServer::start();
    let registry = Registry::new(&server);

    // Bodies that are not JSON, or not the right JSON (Confluent's REST layer: 400 / 422).
    let malformed = registry.post_raw("/subjects/s/versions", Some(V1), b"{\"schema\": ");
    assert_eq!(code(&malformed), (400, 400), "{}", malformed.1);
    assert!(malformed.1["message"].as_str().unwrap_or_default().contains("line 1"), "{}", malformed.1);
    assert_eq!(code(&registry.post_raw("/subjects/s/versions", Some(V1), b"")), (422, 422));
    assert_eq!(code(&registry.post("/subjects/s/versions", &json!({"schemaType": "AVRO"}))), (422, 422));
    assert_eq!(code(&registry.post("/subjects/s/versions", &json!({"schema": {"type": "string"}}))), (400, 400));
    assert_eq!(code(&registry.post("/subjects/s/versions", &json!([]))), (400, 400));
    assert_eq!(code(&registry.put("/config", &json!({"level": "NONE"}))), (422, 422));
    assert_eq!(code(&registry.post_raw("/compatibility/subjects/s/versions", Some(V1), b"nope")), (400, 400));

    // Schemas that do not parse: 42201 with the parser's message.
    let (status, invalid) = registry.post(
        "/subjects/s/versions",
        &json!({"schema": record("X", json!([{"name": "a", "type": "nonsense"}])).to_string()}),
    );
    assert_eq!((status, invalid["error_code"].as_u64()), (422, Some(42201)), "{invalid}");
    assert!(invalid["message"].as_str().unwrap_or_default().contains("nonsense"), "{invalid}");
    assert_eq!(code(&registry.post("/subjects/s/versions", &json!({"schema": "{not json"}))), (422, 42201));
    let bad_json_schema = json!({"schemaType": "JSON", "schema": json!({"type": 12}).to_string()});
    assert_eq!(code(&registry.post("/subjects/s/versions", &bad_json_schema)), (422, 42201));
    let protobuf = json!({"schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";"});
    assert_eq!(code(&registry.post("/subjects/s/versions", &protobuf)), (422, 42201));
    assert_eq!(code(&registry.post("/subjects/s/versions", &json!({"schemaType": "XML", "schema": "x"}))), (400, 400));

    // Unknown things.
    assert_eq!(code(&registry.get("/subjects/nope/versions")), (404, 40401));
    assert_eq!(code(&registry.get("/subjects/nope/versions/1")), (404, 40401));
    registry.register("s", &order_v1());
    assert_eq!(code(&registry.get("/subjects/s/versions/2")), (404, 40402));
    assert_eq!(code(&registry.get("/subjects/s/versions/2/schema")), (404, 40402));
    assert_eq!(code(&registry.get("/schemas/ids/2")), (404, 40403));
    assert_eq!(code(&registry.get("/schemas/ids/2/schema")), (404, 40403));
    assert_eq!(code(&registry.get("/schemas/ids/2/subjects")), (404, 40403));
    assert_eq!(code(&registry.get("/subjects/s/versions/2/referencedby")), (404, 40402));
    assert_eq!(code(&registry.get("/schemas?offset=x")), (400, 400));

    // A subject name that is too long.
    let long = "x".repeat(300);
    assert_eq!(
        code(&registry.post(&format!("/subjects/{long}/versions"), &json!({"schema": "\"int\""}))),
        (422, 42208)
    );
}

#[test]
fn state_survives_a_restart() {
    let mut server = TestServer::start();
    let snapshot = |server: &TestServer| {
        let registry = Registry::new(server);
        let paths = [
            "/subjects",
            "/subjects?deleted=true",
            "/schemas?deleted=true",
            "/subjects/orders/versions?deleted=true",
            "/subjects/orders/versions/latest",
            "/schemas/ids/1",
            "/schemas/ids/2",
            "/schemas/ids/3",
            "/schemas/ids/3/versions?deleted=true",
            "/config",
            "/config/orders",
            "/config/users",
            "/mode",
            "/mode/users",
        ];
        paths.iter().map(|path| (path.to_string(), registry.get(path))).collect::<Vec<_>>()
    };
    {
        let registry = Registry::new(&server);
        registry.register("orders", &order_v1());
        registry.register("orders", &order_v2());
        registry.register("users", &order_v1());
        let third = record("Third", json!([{"name": "x", "type": "int"}]));
        registry.register("third", &third);
        registry.delete("/subjects/third");
        registry.delete("/subjects/third?permanent=true");
        registry.delete("/subjects/orders/versions/1");
        registry.put("/config", &json!({"compatibility": "FULL"}));
        registry.put("/config/orders", &json!({"compatibility": "NONE"}));
        registry.put("/mode/users", &json!({"mode": "READONLY"}));
    }
    let before = snapshot(&server);
    server.restart();
    let after = snapshot(&server);
    assert_eq!(before, after);
    let registry = Registry::new(&server);
    assert_eq!(code(&registry.get("/schemas/ids/3")), (404, 40403));
    let next = record("Next", json!([{"name": "y", "type": "int"}]));
    assert_eq!(registry.register("next", &next), 4, "ids continue after the highest, even a hard-deleted one");
    assert_eq!(
        code(&registry.post("/subjects/users/versions", &json!({"schema": order_v2().to_string()}))),
        (422, 42205)
    );
}

#[test]
fn protobuf_schemas_are_served_and_accepted_as_serialized_descriptors() {
    let server = TestServer::start();
    let registry = Registry::new(&server);
    let event = "syntax = \"proto3\";\npackage events;\nmessage Event { int64 timestamp = 1; }\n";
    let logistics = "syntax = \"proto3\";\npackage logistics;\nimport \"event.proto\";\n\
                     message Logistics { events.Event event = 1; string carrier = 2; }\n";
    let event_id = registry.register_body("event.proto", &json!({"schemaType": "PROTOBUF", "schema": event}));
    let reference = json!([{"name": "event.proto", "subject": "event.proto", "version": 1}]);
    let logistics_body = json!({"schemaType": "PROTOBUF", "schema": logistics, "references": reference});
    let id = registry.register_body("logistics", &logistics_body);

    // What Confluent's Python and .NET deserializers ask for: the base64 FileDescriptorProto, the
    // file named `default` (field 1, length 7, first in prost's field order), by id and by version.
    let (status, served) = registry.get(&format!("/schemas/ids/{id}?format=serialized"));
    assert_eq!(status, 200, "{served}");
    assert_eq!(served["references"], reference);
    let serialized = served["schema"].as_str().expect("a schema string").to_string();
    let bytes = base64::engine::general_purpose::STANDARD.decode(&serialized).expect("base64");
    assert_eq!(bytes[..9], [&[0x0a, 7][..], b"default"].concat());
    let by_version = registry.get("/subjects/logistics/versions/latest?format=serialized");
    assert_eq!(by_version.1["schema"], served["schema"]);
    assert_eq!(registry.get_text(&format!("/schemas/ids/{id}/schema?format=serialized")), (200, serialized.clone()));
    assert_eq!(registry.get_text("/subjects/logistics/versions/1/schema?format=serialized"), (200, serialized.clone()));
    let (_, event_served) = registry.get("/subjects/event.proto/versions/1?format=serialized");
    assert!(!event_served["schema"].as_str().unwrap().contains("message"), "{event_served}");

    // Without a format (and for one Confluent does not serve for Protobuf) the stored .proto text.
    for query in ["", "?format=resolved"] {
        let (_, text) = registry.get(&format!("/schemas/ids/{id}{query}"));
        assert_eq!(text["schema"], logistics, "{query}");
    }

    // The descriptor is a schema in its own right, kept as the .proto text printed from it: the same
    // schema (same id) where the text names no types; type names print fully qualified, so a text
    // that writes them relative is another text (another id), as the same descriptor sent again is not.
    let (_, event_serialized) = registry.get(&format!("/schemas/ids/{event_id}?format=serialized"));
    let copy = json!({"schemaType": "PROTOBUF", "schema": event_serialized["schema"]});
    assert_eq!(registry.register_body("event-copy", &copy), event_id);
    let body = json!({"schemaType": "PROTOBUF", "schema": serialized, "references": reference});
    let copy_id = registry.register_body("logistics-copy", &body);
    assert_eq!(registry.register_body("logistics-copy", &body), copy_id);
    let (_, found) = registry.post("/subjects/logistics-copy", &body);
    assert_eq!(found["id"], json!(copy_id), "{found}");
    let (_, printed) = registry.get(&format!("/schemas/ids/{copy_id}"));
    let printed = printed["schema"].as_str().unwrap();
    assert!(printed.contains("message Logistics {") && printed.contains(".events.Event event = 1;"), "{printed}");
    assert_eq!(printed.lines().next(), Some("syntax = \"proto3\";"));
    // A client reading it back as a descriptor gets the same file.
    let (_, again) = registry.get(&format!("/schemas/ids/{copy_id}?format=serialized"));
    assert_eq!(again["schema"], json!(serialized));

    // A descriptor that is not one: Confluent's invalid-schema code, saying why.
    let garbage = json!({"schemaType": "PROTOBUF", "schema": "QUJD"});
    let refused = registry.post("/subjects/garbage/versions", &garbage);
    assert_eq!(code(&refused), (422, 42201));
    assert!(refused.1["message"].as_str().unwrap().contains("not a FileDescriptorProto"), "{}", refused.1);

    // Other schema types ignore the format.
    let avro_id = registry.register("orders", &order_v1());
    let (_, avro) = registry.get(&format!("/schemas/ids/{avro_id}?format=serialized"));
    assert_eq!(avro["schema"], registry.get(&format!("/schemas/ids/{avro_id}")).1["schema"]);
}
