//! Data contracts through the real server: applied from ODCS YAML (refused with path and line when
//! invalid), read back and exported whole, attached to a product's port, and checked on every write
//! under the port's policy.

mod common;

use common::{Api, TestServer};
use serde_json::{json, Value};

const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
    {"name":"order_id","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"currency","type":"string"}]}"#;

const CONTRACT: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: shop-orders
name: Shop orders
version: 1.0.0
status: active
tags: [shop, kept-as-written]
schema:
  - name: orders
    logicalType: object
    properties:
      - name: order_id
        logicalType: string
        required: true
        logicalTypeOptions:
          pattern: "^o-[0-9]+$"
      - name: amount
        logicalType: number
        required: true
        logicalTypeOptions:
          minimum: 0
      - name: currency
        logicalType: string
        required: true
        quality:
          - id: currency_valid
            metric: invalidValues
            arguments:
              validValues: [EUR, USD]
            mustBe: 0
    quality:
      - id: big_orders_in_eur
        type: custom
        engine: weft
        implementation: "amount < 1000 OR currency = 'EUR'"
        description: Large orders are taken in euros only.
customProperties:
  - property: reviewedBy
    value: governance-board
"#;

fn apply(api: &Api, yaml: &str) -> (u16, Value) {
    let reply = api.send("POST", "/api/v1/contracts", &[("content-type", "application/yaml")], Some(yaml.as_bytes()));
    let status = reply.status;
    (status, reply.json())
}

fn avro_product(api: &Api) {
    common::shop_orders_avro_product(api, ORDER_SCHEMA, 1);
}

#[test]
fn contracts_are_applied_read_and_exported_whole_and_refused_with_path_and_line() {
    let mut server = TestServer::start();
    let api = &server.api;
    let (status, body) = apply(api, CONTRACT);
    assert_eq!((status, body["result"].as_str()), (201, Some("created")), "{body}");
    let (status, body) = apply(api, CONTRACT);
    assert_eq!((status, body["result"].as_str()), (200, Some("unchanged")), "the same document again: {body}");
    let changed = CONTRACT.replace("name: Shop orders", "name: Orders of the shop");
    let (status, body) = apply(api, &changed);
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40901)), "a version never changes: {body}");
    let (status, body) = apply(api, &changed.replace("version: 1.0.0", "version: 1.1.0"));
    assert_eq!((status, body["result"].as_str()), (201, Some("updated")), "{body}");

    let (status, list) = api.get("/api/v1/contracts");
    assert_eq!(status, 200);
    assert_eq!(list["contracts"][0]["version"], "1.1.0");
    assert_eq!(list["contracts"][0]["versions"], json!(["1.0.0", "1.1.0"]));
    let (status, view) = api.get("/api/v1/contracts/shop-orders?version=1.0.0");
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["document"]["customProperties"][0]["value"], "governance-board");
    let rules: Vec<&str> =
        view["rules"]["orders"].as_array().expect("rules").iter().filter_map(|r| r["id"].as_str()).collect();
    assert!(rules.contains(&"currency_valid") && rules.contains(&"big_orders_in_eur"), "{rules:?}");

    // The export is the document as it came: every field, custom ones included.
    let (status, yaml) = api.get_text("/api/v1/contracts/shop-orders/odcs?version=1.0.0");
    assert_eq!(status, 200);
    for kept in ["kept-as-written", "reviewedBy", "governance-board", "amount < 1000 OR currency = 'EUR'"] {
        assert!(yaml.contains(kept), "{kept} in {yaml}");
    }
    let (status, body) = apply(api, &yaml);
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("unchanged")),
        "the export reads back as the same: {body}"
    );

    // Refusals name where and why.
    let broken = CONTRACT.replace("logicalType: number", "logicalType: numeric");
    let (status, body) = apply(api, &broken);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42211)), "{body}");
    let problem = &body["problems"][0];
    assert!(problem["path"].as_str().is_some_and(|p| p.contains("logicalType")), "{body}");
    assert_eq!(problem["line"], 18, "the line of `logicalType: numeric`: {body}");
    let (status, body) = apply(api, &CONTRACT.replace("currency = 'EUR'", "curency = 'EUR'"));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42211)), "an unknown field in a rule: {body}");
    let (status, body) = api.get("/api/v1/contracts/nope");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40409)), "{body}");

    server.restart();
    let (_, list) = server.api.get("/api/v1/contracts");
    assert_eq!(list["contracts"][0]["versions"], json!(["1.0.0", "1.1.0"]), "contracts live in the log");
}

#[test]
fn an_attached_contract_is_checked_on_every_write_under_the_ports_policy() {
    let server = TestServer::start();
    let api = &server.api;
    avro_product(api);
    assert_eq!(apply(api, CONTRACT).0, 201);
    let (status, body) = api.put("/api/v1/products/shop.orders/contract", &json!({"id": "shop-orders"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contract"]["version"], "1.0.0");
    let (status, body) =
        api.put("/api/v1/products/shop.orders/contract", &json!({"id": "shop-orders", "object": "nope"}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42211)), "{body}");

    let order = |id: &str, amount: f64, currency: &str| json!({"key": id, "value": {"order_id": id, "amount": amount, "currency": currency}});
    // Under reject: one bad record refuses the request, each broken rule named.
    let (status, body) = api.post(
        "/api/v1/topics/shop.orders/records",
        &json!([
            order("o-1", 10.0, "EUR"),
            order("o-2", -1.0, "EUR"),
            order("x-3", 5.0, "CHF"),
            order("o-4", 5000.0, "USD")
        ]),
    );
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42204)), "{body}");
    let broken: Vec<(u64, Vec<String>)> = body["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let mut rules: Vec<String> = r["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["rule"].as_str().map(String::from))
                .collect();
            rules.sort();
            (r["index"].as_u64().unwrap_or(99), rules)
        })
        .collect();
    assert_eq!(broken.len(), 3, "{body}");
    assert_eq!(broken[0].0, 1);
    assert!(broken[0].1.iter().any(|r| r.contains("minimum")), "a negative amount: {broken:?}");
    assert_eq!(broken[1].0, 2);
    assert!(
        broken[1].1.iter().any(|r| r.contains("pattern")) && broken[1].1.contains(&"currency_valid".to_string()),
        "{broken:?}"
    );
    assert_eq!(broken[2], (3, vec!["big_orders_in_eur".to_string()]), "the SQL rule");
    let field = &body["records"][0]["violations"][0]["field"];
    assert_eq!(field, "value.amount", "{body}");

    // Under dead-letter: the good one is written, each broken one waits with its rules.
    let (status, _) = api.put("/api/v1/products/shop.orders/governance", &json!({"policy": "dead-letter"}));
    assert_eq!(status, 200);
    let (status, body) = api.post(
        "/api/v1/topics/shop.orders/records",
        &json!([order("o-1", 10.0, "EUR"), order("o-2", -1.0, "EUR"), order("o-4", 5000.0, "USD")]),
    );
    assert_eq!((status, body["accepted"].as_u64(), body["dead_lettered"].as_u64()), (200, Some(1), Some(2)), "{body}");
    let (_, page) = api.get("/api/v1/products/shop.orders/dead-letters");
    assert_eq!(page["by_rule"]["big_orders_in_eur"], 1, "{page}");

    // Loosening the contract (a new version without the SQL rule) and replaying by rule lets it in.
    let loose = CONTRACT
        .replace("version: 1.0.0", "version: 1.1.0")
        .replace("amount < 1000 OR currency = 'EUR'", "amount < 100000");
    assert_eq!(apply(api, &loose).0, 201);
    let (status, body) =
        api.put("/api/v1/products/shop.orders/contract", &json!({"id": "shop-orders", "version": "1.1.0"}));
    assert_eq!(status, 200, "{body}");
    let (_, report) =
        api.post("/api/v1/products/shop.orders/dead-letters:replay", &json!({"rule": "big_orders_in_eur"}));
    assert_eq!(report["replayed"].as_array().map(Vec::len), Some(1), "{report}");
    let (_, report) = api.post("/api/v1/products/shop.orders/dead-letters:replay", &json!({}));
    assert_eq!(report["failed"].as_array().map(Vec::len), Some(1), "the negative amount still fails: {report}");

    // Detached: only the schema is checked.
    let (status, _) = api.delete("/api/v1/products/shop.orders/contract");
    assert_eq!(status, 200);
    let (_, body) = api.post("/api/v1/topics/shop.orders/records", &json!([order("o-9", -5.0, "CHF")]));
    assert_eq!(body["accepted"], 1, "{body}");
}

/// A contract and its port's schema are kept in step: a field the schema lacks, or a type it cannot
/// hold, refuses the attachment naming each field; a JSON port without a schema gets one generated
/// from the contract.
#[test]
fn a_contract_must_fit_its_ports_schema_or_gives_the_port_one() {
    let server = TestServer::start();
    let api = &server.api;
    avro_product(api);
    let misfit = r#"apiVersion: v3.1.0
kind: DataContract
id: misfit
version: 1.0.0
status: draft
schema:
  - name: orders
    properties:
      - name: coupon
        logicalType: string
      - name: order_id
        logicalType: string
      - name: currency
        logicalType: integer
"#;
    let (status, body) = apply(api, misfit);
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.put("/api/v1/products/shop.orders/contract", &json!({"id": "misfit"}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42212)), "{body}");
    let mismatches: Vec<(String, String)> = body["mismatches"]
        .as_array()
        .expect("mismatches")
        .iter()
        .map(|m| (m["field"].as_str().unwrap_or("").to_string(), m["kind"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(
        mismatches,
        vec![
            ("coupon".to_string(), "missingInSchema".to_string()),
            ("currency".to_string(), "typeDiffers".to_string())
        ]
    );
    let (_, body) = api.get("/api/v1/products/shop.orders/contract");
    assert!(body["contract"].is_null(), "nothing was attached: {body}");

    // A JSON port with no schema yet: the contract describes it.
    api.create_topic("shop.returns", 1);
    let spec = json!({"id": "shop.returns", "name": "Returns", "owner": "alice",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "shop.returns", "schemaSubject": "shop.returns-value", "format": "json"}]});
    assert_eq!(api.post("/api/v1/products", &spec).0, 201);
    assert_eq!(apply(api, CONTRACT).0, 201);
    let (status, body) = api.put("/api/v1/products/shop.returns/contract", &json!({"id": "shop-orders"}));
    assert_eq!(status, 200, "{body}");
    let (status, schema) = api.get("/registry/subjects/shop.returns-value/versions/latest");
    assert_eq!(status, 200, "a schema was registered: {schema}");
    let text: Value = serde_json::from_str(schema["schema"].as_str().unwrap_or("{}")).expect("JSON Schema");
    let mut required: Vec<&str> =
        text["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    required.sort_unstable();
    assert_eq!(required, vec!["amount", "currency", "order_id"], "{text}");
    let (_, body) = api.post(
        "/api/v1/topics/shop.returns/records",
        &json!([{"value": {"order_id": "o-1", "amount": "x", "currency": "EUR"}}]),
    );
    assert_eq!(body["error_code"], 42204, "the generated schema is checked: {body}");
}
