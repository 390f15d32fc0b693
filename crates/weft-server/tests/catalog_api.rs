//! End-to-end tests of the stream catalog's REST API (`/api/v1/domains`, `/api/v1/products`) and of
//! reading a product's data through its output port, through real HTTP.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{receive, Api, TestServer};
use serde_json::{json, Value};

const ORDER_SCHEMA: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "string", "doc": "The order number"},
    {"name": "amount", "type": "double"},
    {"name": "quantity", "type": "long"},
    {"name": "paid", "type": "boolean"},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}], "default": null}
]}"#;

fn today() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    weft_catalog::IsoDate::from_epoch_ms(now).to_string()
}

fn domain(name: &str) -> Value {
    json!({"name": name, "description": format!("The {name} domain"), "owningTeam": format!("team-{name}"),
           "contact": "#data", "members": [{"user": "alice", "role": "owner"}, {"user": "bob", "role": "member"}]})
}

fn product(id: &str, topic: &str) -> Value {
    json!({
        "id": id, "name": format!("Product {id}"), "owner": "alice",
        "description": "Every order placed in the shop, as it happens",
        "qualityTier": "curated", "tags": ["orders", "pii"],
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": topic,
                         "schemaSubject": format!("{topic}-value"), "format": "json"}]
    })
}

fn create_domain(api: &Api, name: &str) {
    let (status, body) = api.post("/api/v1/domains", &domain(name));
    assert_eq!(status, 201, "{body}");
}

fn create_product(api: &Api, spec: &Value) -> Value {
    let (status, body) = api.post("/api/v1/products", spec);
    assert_eq!(status, 201, "{body}");
    body
}

/// Registers `schema` under `subject` through the Confluent registry routes.
fn register_schema(api: &Api, subject: &str, schema: &str) {
    let (status, body) = api.post(&format!("/registry/subjects/{subject}/versions"), &json!({"schema": schema}));
    assert_eq!(status, 200, "{body}");
}

fn publish(api: &Api, id: &str) -> Value {
    let reply = api.send("POST", &format!("/api/v1/products/{id}/publish"), &[], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// A published product over a new topic with a registered schema.
fn published_product(api: &Api, id: &str, topic: &str, partitions: u32) {
    api.create_topic(topic, partitions);
    register_schema(api, &format!("{topic}-value"), ORDER_SCHEMA);
    create_product(api, &product(id, topic));
    publish(api, id);
}

#[test]
fn domains_are_created_read_updated_and_deleted_with_history() {
    let server = TestServer::start();
    let api = &server.api;
    assert_eq!(api.get("/api/v1/domains"), (200, json!({"domains": []})));

    let reply = api.send(
        "POST",
        "/api/v1/domains",
        &[("content-type", "application/json"), ("x-weft-actor", "carol")],
        Some(domain("orders").to_string().as_bytes()),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    assert_eq!(created["spec"]["owningTeam"], "team-orders");
    assert_eq!(created["revision"], 1);

    let (status, body) = api.post("/api/v1/domains", &domain("orders"));
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40901)), "{body}");
    // An invalid name in a body is a body error naming the field; in a path, the catalog's 42202.
    let (status, body) = api.post("/api/v1/domains", &domain("Orders"));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("at name: invalid domain name 'Orders'"), "{body}");
    assert!(body["message"].as_str().unwrap().contains("use lowercase"), "{body}");
    let (status, body) = api.get("/api/v1/domains/Orders");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42202)), "{body}");
    let mut no_owner = domain("payments");
    no_owner["members"] = json!([{"user": "bob", "role": "member"}]);
    let (status, body) = api.post("/api/v1/domains", &no_owner);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");

    let (status, body) = api.get("/api/v1/domains/orders");
    assert_eq!((status, &body), (200, &created));
    let (status, body) = api.get("/api/v1/domains/nowhere");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40403)), "{body}");

    let mut changed = domain("orders");
    changed["description"] = json!("Orders, carts and checkouts");
    let body = changed.to_string();
    let stale = api.send(
        "PUT",
        "/api/v1/domains/orders",
        &[("content-type", "application/json"), ("if-match", "\"7\"")],
        Some(body.as_bytes()),
    );
    assert_eq!(stale.code(), (409, Some(40902)), "{}", stale.text());
    let (status, body) = api.put("/api/v1/domains/orders?ifRevision=1", &changed);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["revision"].as_u64(), body["spec"]["description"].as_str()),
        (Some(2), Some("Orders, carts and checkouts"))
    );
    let (status, body) = api.put("/api/v1/domains/payments", &changed);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) = api.put("/api/v1/domains/orders?ifRevision=x", &changed);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");

    create_product(api, &product("orders.placed", "orders.placed.v1"));
    let (status, body) = api.get("/api/v1/domains/orders/products");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["products"][0]["spec"]["id"], "orders.placed");
    let (status, body) = api.delete("/api/v1/domains/orders");
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40903)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("orders.placed"), "{body}");

    let (status, body) = api.post("/api/v1/products/orders.placed/retire", &json!(null));
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.delete("/api/v1/products/orders.placed?confirm=true");
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.delete("/api/v1/domains/orders");
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.get("/api/v1/domains/orders");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40403)), "{body}");

    let (status, body) = api.get("/api/v1/domains/orders/history");
    assert_eq!(status, 200, "{body}");
    let history = body["history"].as_array().unwrap();
    let kinds: Vec<&str> = history.iter().map(|e| e["event"]["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["DomainCreated", "DomainUpdated", "DomainDeleted"]);
    assert_eq!(history[0]["actor"], "carol");
    assert_eq!(history[1]["actor"], "anonymous");
    assert_eq!(history[1]["changed"], json!(["description"]));
}

#[test]
fn the_product_lifecycle_is_enforced_with_codes() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    api.create_topic("orders.placed.v1", 1);

    let (status, body) = api.post("/api/v1/products", &product("billing.x", "t"));
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40403)), "{body}");
    let (status, body) = api.post("/api/v1/products", &product("orders", "t"));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("expected DOMAIN.NAME"), "{body}");
    let mut bad_port = product("orders.placed", "orders.placed.v1");
    bad_port["outputPorts"][0]["topic"] = json!("bad topic");
    let (status, body) = api.post("/api/v1/products", &bad_port);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("outputPorts[0].topic"), "{body}");

    let created = create_product(api, &product("orders.placed", "orders.placed.v1"));
    assert_eq!(created["lifecycle"]["status"], "draft");
    let (status, body) = api.post("/api/v1/products", &product("orders.placed", "orders.placed.v1"));
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40901)), "{body}");

    // Publishing needs a registered schema for an output port.
    let reply = api.send("POST", "/api/v1/products/orders.placed/publish", &[], None);
    assert_eq!(reply.code(), (422, Some(42207)), "{}", reply.text());
    assert!(reply.text().contains("orders.placed.v1-value"), "{}", reply.text());
    let (status, body) =
        api.post("/api/v1/products/orders.placed/deprecate", &json!({"reason": "r", "sunset": today()}));
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40305)), "{body}");

    register_schema(api, "orders.placed.v1-value", ORDER_SCHEMA);
    let stale = api.send("POST", "/api/v1/products/orders.placed/publish", &[("if-match", "9")], None);
    assert_eq!(stale.code(), (409, Some(40902)), "{}", stale.text());
    let published = publish(api, "orders.placed");
    assert_eq!(published["lifecycle"]["status"], "published");
    assert_eq!(published["revision"], 2);

    let reply = api.send("POST", "/api/v1/products/orders.placed/publish", &[], None);
    assert_eq!(reply.code(), (403, Some(40305)), "{}", reply.text());
    let reply = api.send("POST", "/api/v1/products/orders.placed/retire", &[], None);
    assert_eq!(reply.code(), (403, Some(40305)), "{}", reply.text());
    assert!(reply.text().contains("deprecate it first"), "{}", reply.text());

    // A published product's served port keeps its topic.
    let mut moved = product("orders.placed", "orders.placed.v2");
    moved["outputPorts"][0]["schemaSubject"] = json!("orders.placed.v1-value");
    let (status, body) = api.put("/api/v1/products/orders.placed", &moved);
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40303)), "{body}");
    let mut described = product("orders.placed", "orders.placed.v1");
    described["documentation"] = json!("# Orders\nOne event per order.");
    let (status, body) = api.put("/api/v1/products/orders.placed?ifRevision=2", &described);
    assert_eq!((status, body["revision"].as_u64()), (200, Some(3)), "{body}");
    let (status, body) = api.put("/api/v1/products/orders.other", &described);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");

    let (status, body) =
        api.post("/api/v1/products/orders.placed/deprecate", &json!({"reason": "replaced", "sunset": "2001-01-01"}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) =
        api.post("/api/v1/products/orders.placed/deprecate", &json!({"reason": "replaced", "sunset": "soon"}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) =
        api.post("/api/v1/products/orders.placed/deprecate", &json!({"reason": "replaced by v2", "sunset": today()}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["lifecycle"]["status"], "deprecated");

    let (status, body) = api.delete("/api/v1/products/orders.placed?confirm=true");
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40302)), "{body}");
    let reply = api.send("POST", "/api/v1/products/orders.placed/retire", &[("x-weft-actor", "dave")], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = api.send("POST", "/api/v1/products/orders.placed/retire", &[], None);
    assert_eq!(reply.code(), (403, Some(40305)), "{}", reply.text());
    let (status, body) = api.put("/api/v1/products/orders.placed", &described);
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40302)), "{body}");

    let (status, body) = api.delete("/api/v1/products/orders.placed");
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40306)), "{body}");
    let (status, body) = api.delete("/api/v1/products/orders.placed?confirm=true&deleteTopics=true");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deletedTopics"], json!(["orders.placed.v1"]));
    let (status, body) = api.get("/api/v1/topics/orders.placed.v1");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)), "{body}");
    let (status, body) = api.get("/api/v1/products/orders.placed");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{body}");

    let (status, body) = api.get("/api/v1/products/orders.placed/history");
    assert_eq!(status, 200, "{body}");
    let history = body["history"].as_array().unwrap();
    let kinds: Vec<&str> = history.iter().map(|e| e["event"]["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ProductCreated",
            "ProductStatusChanged",
            "ProductUpdated",
            "ProductStatusChanged",
            "ProductStatusChanged",
            "ProductDeleted"
        ]
    );
    assert_eq!(history[4]["actor"], "dave");
    let (status, body) = api.get("/api/v1/products/orders.never/history");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{body}");
}

#[test]
fn search_returns_hits_and_facets() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    create_domain(api, "payments");
    let mut raw = product("orders.clicks", "orders.clicks");
    raw["name"] = json!("Shop clicks");
    raw["description"] = json!("Raw click stream of the web shop");
    raw["qualityTier"] = json!("raw");
    raw["tags"] = json!(["web"]);
    create_product(api, &raw);
    create_product(api, &product("orders.placed", "orders.placed"));
    let mut refunds = product("payments.refunds", "payments.refunds");
    refunds["name"] = json!("Refunds");
    refunds["description"] = json!("Refunds of paid orders");
    refunds["owner"] = json!("bob");
    refunds["tags"] = json!(["pii", "money"]);
    create_product(api, &refunds);

    let (status, body) = api.get("/api/v1/products/search?q=orders");
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(body["total"], 2, "{body}");
    assert!(ids.contains(&"orders.placed") && ids.contains(&"payments.refunds"), "{ids:?}");
    assert_eq!(body["facets"]["domain"], json!({"orders": 1, "payments": 1}), "{body}");

    let (status, body) = api.get("/api/v1/products/search");
    assert_eq!((status, body["total"].as_u64()), (200, Some(3)), "{body}");
    assert_eq!(body["facets"]["qualityTier"], json!({"curated": 2, "raw": 1}), "{body}");
    assert_eq!(body["facets"]["tags"]["pii"], 2, "{body}");
    assert_eq!(body["facets"]["owner"], json!({"alice": 2, "bob": 1}), "{body}");
    assert_eq!(body["facets"]["status"], json!({"draft": 3}), "{body}");

    let (_, body) = api.get("/api/v1/products/search?tag=pii&tag=money");
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["hits"][0]["id"], "payments.refunds");
    let (_, body) = api.get("/api/v1/products/search?domain=orders&qualityTier=raw&status=draft&owner=alice");
    assert_eq!(body["hits"][0]["id"], "orders.clicks", "{body}");
    assert_eq!(body["total"], 1, "{body}");
    let (_, body) = api.get("/api/v1/products/search?limit=1&offset=1");
    assert_eq!((body["total"].as_u64(), body["hits"].as_array().map(Vec::len)), (Some(3), Some(1)), "{body}");
    let (_, body) = api.get("/api/v1/products/search?q=%22click%20stream%22");
    assert_eq!(body["hits"][0]["id"], "orders.clicks", "{body}");

    for bad in ["limit=0", "limit=abc", "status=gone", "qualityTier=gold", "colour=red", "offset=-1"] {
        let (status, body) = api.get(&format!("/api/v1/products/search?{bad}"));
        assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{bad}: {body}");
    }
    let (_, body) = api.get("/api/v1/products?domain=payments");
    assert_eq!(body["products"].as_array().map(Vec::len), Some(1), "{body}");
    let (_, body) = api.get("/api/v1/products");
    assert_eq!(body["products"].as_array().map(Vec::len), Some(3), "{body}");
    let (status, body) = api.get("/api/v1/products?domain=nowhere");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40403)), "{body}");
    let (status, body) = api.get("/api/v1/products?owner=alice");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
}

#[test]
fn lineage_walks_impact_and_field_lineage() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    create_domain(api, "finance");
    register_schema(api, "orders.placed-value", ORDER_SCHEMA);
    register_schema(
        api,
        "finance.revenue-value",
        r#"{"type": "record", "name": "Revenue", "fields": [{"name": "total", "type": "double"}, {"name": "day", "type": "string"}]}"#,
    );
    create_product(api, &product("orders.placed", "orders.placed"));
    let mut revenue = product("finance.revenue", "finance.revenue");
    revenue["inputPorts"] = json!([{"name": "orders", "product": "orders.placed", "port": "events"}]);
    create_product(api, &revenue);
    let mut report = product("finance.report", "finance.report");
    report["owner"] = json!("erin");
    report["inputPorts"] = json!([{"name": "revenue", "product": "finance.revenue"}]);
    create_product(api, &report);

    let (status, body) = api.get("/api/v1/products/orders.placed/lineage/downstream");
    assert_eq!(status, 200, "{body}");
    let nodes: Vec<(&str, u64)> = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["depth"].as_u64().unwrap()))
        .collect();
    assert_eq!(nodes, [("orders.placed", 0), ("finance.revenue", 1), ("finance.report", 2)]);
    let (_, body) = api.get("/api/v1/products/orders.placed/lineage/downstream?depth=1");
    assert_eq!(body["nodes"].as_array().map(Vec::len), Some(2), "{body}");
    let (_, body) = api.get("/api/v1/products/finance.report/lineage/upstream");
    assert_eq!(
        body["edges"],
        json!([{"from": "finance.revenue", "to": "finance.report"}, {"from": "orders.placed", "to": "finance.revenue"}])
    );
    let (status, body) = api.get("/api/v1/products/finance.report/lineage/upstream?depth=x");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) = api.get("/api/v1/products/orders.nope/lineage/upstream");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{body}");

    let edges = json!({"edges": [{"from": {"product": "orders.placed", "field": "amount"}, "to": {"product": "finance.revenue", "field": "total"}}]});
    let (status, body) = api.put("/api/v1/products/finance.revenue/lineage/fields", &edges);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, edges);
    assert_eq!(api.get("/api/v1/products/finance.revenue/lineage/fields"), (200, edges.clone()));
    let unknown_field = json!({"edges": [{"from": {"product": "orders.placed", "field": "colour"}, "to": {"product": "finance.revenue", "field": "total"}}]});
    let (status, body) = api.put("/api/v1/products/finance.revenue/lineage/fields", &unknown_field);
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40405)), "{body}");
    let not_an_input = json!({"edges": [{"from": {"product": "finance.report", "field": "total"}, "to": {"product": "finance.revenue", "field": "total"}}]});
    let (status, body) = api.put("/api/v1/products/finance.revenue/lineage/fields", &not_an_input);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");

    let (status, body) = api.get("/api/v1/products/orders.placed/impact?field=amount");
    assert_eq!(status, 200, "{body}");
    let affected: Vec<(&str, &str)> = body["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap(), a["certainty"].as_str().unwrap()))
        .collect();
    assert_eq!(affected, [("finance.revenue", "known"), ("finance.report", "possible")], "{body}");
    assert_eq!(body["owners"], json!(["alice", "erin"]));
    let (status, body) = api.get("/api/v1/products/orders.placed/impact?field=colour");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40405)), "{body}");

    // orders.placed consuming finance.report would close a cycle.
    let mut cyclic = product("orders.placed", "orders.placed");
    cyclic["inputPorts"] = json!([{"name": "report", "product": "finance.report"}]);
    let (status, body) = api.put("/api/v1/products/orders.placed", &cyclic);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42208)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("orders.placed -> "), "{body}");
}

const ODPS: &str = "apiVersion: v1.0.0
kind: DataProduct
id: orders.placed
name: Placed orders
status: active
domain: orders
tags: [orders]
description:
  purpose: Every order placed in the shop
  usage: Join on id
outputPorts:
  - name: events
    version: 1.0.0
    customProperties:
      - property: topic
        value: orders.placed
      - property: schemaSubject
        value: orders.placed-value
      - property: format
        value: json
customProperties:
  - property: owner
    value: alice
  - property: qualityTier
    value: curated
";

#[test]
fn odps_documents_apply_idempotently_and_export_as_yaml() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    register_schema(api, "orders.placed-value", ORDER_SCHEMA);
    let yaml = [("content-type", "application/yaml")];

    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(ODPS.as_bytes()));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["result"], "created");
    assert_eq!(body["product"]["lifecycle"]["status"], "published");
    let revision = body["product"]["revision"].clone();
    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(ODPS.as_bytes()));
    assert_eq!((reply.status, reply.json()["result"].as_str()), (200, Some("unchanged")), "{}", reply.text());
    assert_eq!(reply.json()["product"]["revision"], revision);
    let reply = api.send("PUT", "/api/v1/products/orders.placed/odps", &yaml, Some(ODPS.as_bytes()));
    assert_eq!((reply.status, reply.json()["result"].as_str()), (200, Some("unchanged")), "{}", reply.text());

    let exported = api.send("GET", "/api/v1/products/orders.placed/odps", &[], None);
    assert_eq!(exported.status, 200);
    assert_eq!(exported.header("content-type"), Some("application/yaml"));
    let text = exported.text();
    assert!(text.contains("id: orders.placed") && text.contains("usage: Join on id"), "{text}");
    // The export applies as no change at all.
    let reply = api.send("PUT", "/api/v1/products/orders.placed/odps", &yaml, Some(text.as_bytes()));
    assert_eq!((reply.status, reply.json()["result"].as_str()), (200, Some("unchanged")), "{}", reply.text());

    let changed = ODPS.replace("tags: [orders]", "tags: [orders, shop]");
    let reply = api.send("PUT", "/api/v1/products/orders.placed/odps", &yaml, Some(changed.as_bytes()));
    assert_eq!((reply.status, reply.json()["result"].as_str()), (200, Some("updated")), "{}", reply.text());

    let reply = api.send("PUT", "/api/v1/products/orders.other/odps", &yaml, Some(ODPS.as_bytes()));
    assert_eq!(reply.code(), (422, Some(42206)), "{}", reply.text());
    let broken = "apiVersion: v1.0.0\nkind: DataProduct\nid: [orders.placed\n";
    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(broken.as_bytes()));
    assert_eq!(reply.code(), (422, Some(42206)), "{}", reply.text());
    assert!(reply.json()["message"].as_str().unwrap().contains("line"), "{}", reply.text());
    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(&[0xff, 0xfe]));
    assert_eq!(reply.code(), (422, Some(42206)), "{}", reply.text());
    let reply = api.send("GET", "/api/v1/products/orders.nope/odps", &[], None);
    assert_eq!(reply.code(), (404, Some(40404)), "{}", reply.text());
}

/// Valid ODPS, foreign to Weft's conventions: no domain, a UUID id, an output port without Weft's topic.
const FOREIGN_ODPS: &str = "apiVersion: v1.0.0
kind: DataProduct
id: 064c4630-8aad-4dc0-ba95-0f69940e6b18
status: active
name: Simple Data Product
version: v1.0.0
description:
  purpose: Simple test data product
inputPorts:
  - name: source-data
    version: 1.0.0
    contractId: 12345678-1234-1234-1234-123456789abc
outputPorts:
  - name: processed-data
    type: tables
    version: 1.0.0
    contractId: 87654321-4321-4321-4321-cba987654321
customProperties:
  - property: qualityTier
    value: raw
";

#[test]
fn foreign_odps_documents_apply_with_notes_and_refusals_name_field_and_line() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    register_schema(api, "orders.simple-data-product.processed-data.v1-value", ORDER_SCHEMA);
    let yaml = [("content-type", "application/yaml"), ("x-weft-actor", "carol")];

    // No domain and no Weft id: the caller says which domain.
    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(FOREIGN_ODPS.as_bytes()));
    assert_eq!(reply.code(), (422, Some(42206)), "{}", reply.text());
    assert!(reply.json()["message"].as_str().unwrap().contains("names no domain"), "{}", reply.text());
    let reply = api.send("POST", "/api/v1/products:apply?domain=orders", &yaml, Some(FOREIGN_ODPS.as_bytes()));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["product"]["spec"]["id"], "orders.simple-data-product");
    assert_eq!(body["product"]["spec"]["owner"], "carol");
    assert_eq!(body["product"]["lifecycle"]["status"], "published");
    assert_eq!(body["product"]["spec"]["outputPorts"][0]["topic"], "orders.simple-data-product.processed-data.v1");
    let notes = body["notes"].as_array().unwrap();
    let fields: Vec<&str> = notes.iter().map(|n| n["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"id") && fields.contains(&"outputPorts[0]"), "{notes:?}");

    // The export is valid ODPS that gives the document back, and applies as no change.
    let exported = api.send("GET", "/api/v1/products/orders.simple-data-product/odps", &[], None).text();
    assert!(exported.contains("id: 064c4630-8aad-4dc0-ba95-0f69940e6b18"), "{exported}");
    assert!(exported.contains("contractId: 12345678-1234-1234-1234-123456789abc"), "{exported}");
    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(exported.as_bytes()));
    assert_eq!((reply.status, reply.json()["result"].as_str()), (200, Some("unchanged")), "{}", reply.text());

    // PUT names the product a foreign document is for.
    let draft = FOREIGN_ODPS.replace("status: active", "status: draft");
    let reply = api.send("PUT", "/api/v1/products/orders.chosen/odps", &yaml, Some(draft.as_bytes()));
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["product"]["spec"]["id"], "orders.chosen");

    // A document the standard refuses: 42206 with the field and the line.
    let broken = FOREIGN_ODPS.replace("    version: 1.0.0\n    contractId: 1234", "    contractId: 1234");
    let reply = api.send("POST", "/api/v1/products:apply?domain=orders", &yaml, Some(broken.as_bytes()));
    assert_eq!(reply.code(), (422, Some(42206)), "{}", reply.text());
    let body = reply.json();
    assert_eq!((body["field"].as_str(), body["line"].as_u64()), (Some("inputPorts[0]"), Some(10)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("missing required property 'version'"), "{body}");
    let reply = api.send("POST", "/api/v1/products:apply?domain=Not%20A%20Domain", &yaml, Some(draft.as_bytes()));
    assert_eq!(reply.status, 422, "{}", reply.text());
}

#[test]
fn malformed_bodies_and_unknown_products_answer_with_codes() {
    let server = TestServer::start();
    let api = &server.api;
    let (status, body) = api.post_raw("/api/v1/domains", b"{\"name\": \"orders\",\n \"owningTeam\": ");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("line 2"), "{body}");
    let (status, body) = api.post_raw("/api/v1/products", b"{\"id\": \"orders.x\", \"name\": 5}");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("name"), "{body}");
    for path in ["", "/history", "/sample", "/records", "/export?format=csv", "/lineage/fields", "/impact"] {
        let (status, body) = api.get(&format!("/api/v1/products/orders.nope{path}"));
        assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{path}: {body}");
    }
    let (status, body) = api.get("/api/v1/products/not-an-id");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42202)), "{body}");
    let reply = api.send(
        "POST",
        "/api/v1/domains",
        &[("content-type", "application/json"), ("x-weft-actor", " ")],
        Some(domain("orders").to_string().as_bytes()),
    );
    assert_eq!(reply.code(), (422, Some(42201)), "{}", reply.text());
    let (status, body) = api.get("/api/v1/products/orders.x/export?format=xml");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
}

#[test]
fn a_products_data_is_read_through_its_output_port() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    published_product(api, "orders.placed", "orders.placed", 2);
    let records: Vec<Value> = (0..6)
        .map(|i| {
            json!({"key": format!("o{i}"), "partition": i % 2, "timestamp": 1_000 + i,
                   "value": {"id": format!("o{i}"), "amount": 9.5 + f64::from(i), "quantity": i, "paid": i % 2 == 0,
                             "note": if i == 1 { json!("fragile, \"handle\" with care\nplease") } else { Value::Null },
                             "address": {"city": "Lyon"}}})
        })
        .collect();
    api.produce("orders.placed", Value::Array(records));

    let (status, body) = api.get("/api/v1/products/orders.placed/sample?limit=3");
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["port"].as_str(), body["topic"].as_str()), (Some("events"), Some("orders.placed")));
    let offsets: Vec<u64> =
        body["records"].as_array().unwrap().iter().map(|r| r["timestamp"].as_u64().unwrap()).collect();
    assert_eq!(offsets, [1003, 1004, 1005]);
    let (_, topic_read) = api.get("/api/v1/topics/orders.placed/records?partition=1&offset=0&limit=10");
    let (status, body) = api.get("/api/v1/products/orders.placed/records?partition=1&offset=0&limit=10");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, topic_read, "the same records in the same shape as the topic route");
    assert_eq!(body["records"].as_array().map(Vec::len), Some(3));
    let (_, body) = api.get("/api/v1/products/orders.placed/records?partition=0&timestamp=1003");
    assert_eq!(body["records"][0]["timestamp"], 1004, "{body}");
    // Without a partition: every partition, merged by timestamp.
    let (status, body) = api.get("/api/v1/products/orders.placed/records");
    assert_eq!(status, 200, "{body}");
    let stamps: Vec<u64> =
        body["records"].as_array().unwrap().iter().map(|r| r["timestamp"].as_u64().unwrap()).collect();
    assert_eq!(stamps, [1000, 1001, 1002, 1003, 1004, 1005]);
    assert_eq!(body["next"], "0:3,1:3");
    let (_, body) = api.get("/api/v1/products/orders.placed/records?limit=4");
    let (_, rest) =
        api.get(&format!("/api/v1/products/orders.placed/records?cursor={}", body["next"].as_str().unwrap()));
    let stamps: Vec<u64> =
        rest["records"].as_array().unwrap().iter().map(|r| r["timestamp"].as_u64().unwrap()).collect();
    assert_eq!(stamps, [1004, 1005], "the cursor pages on where the first page stopped");
    let (status, body) = api.get("/api/v1/products/orders.placed/records?partition=0&limit=zero");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) = api.get("/api/v1/products/orders.placed/sample?port=nope");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40408)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("events v1.0.0"), "{body}");
    let (status, body) = api.get("/api/v1/products/orders.placed/sample?limit=5000");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");

    // The live tail through the product.
    let events = api.sse("/api/v1/products/orders.placed/records/stream?partition=0&from=earliest");
    let first = receive(&events, 3);
    assert_eq!(first.iter().map(|(id, _)| id.clone().unwrap()).collect::<Vec<_>>(), ["0:1", "0:2", "0:3"]);
    api.produce(
        "orders.placed",
        json!([{"partition": 0, "value": {"id": "late", "amount": 1.0, "quantity": 1, "paid": true}}]),
    );
    let late = receive(&events, 1);
    assert_eq!(late[0].1["value"]["id"], "late");

    // JSON lines: one record per line, the records' shape.
    let reply = api.send("GET", "/api/v1/products/orders.placed/export?format=jsonl", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment; filename=\"orders.placed-events-v1.jsonl\"")));
    let lines: Vec<Value> = reply.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0], topic_read_first(api));
    let reply = api.send("GET", "/api/v1/products/orders.placed/export?format=jsonl&from=1002&to=1004", &[], None);
    let stamps: Vec<u64> = reply
        .text()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["timestamp"].as_u64().unwrap())
        .collect();
    assert_eq!(stamps, [1002, 1003]);

    // CSV: RFC 4180, the value's top-level schema fields as columns.
    let reply = api.send("GET", "/api/v1/products/orders.placed/export?format=csv", &[], None);
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").is_some_and(|t| t.starts_with("text/csv")));
    let rows = parse_csv(&reply.text());
    assert_eq!(
        rows[0],
        ["partition", "offset", "timestamp", "key", "id", "amount", "quantity", "paid", "note", "address"]
    );
    assert_eq!(rows.len(), 8);
    let o1 = rows.iter().find(|r| r[4] == "o1").unwrap();
    assert_eq!(o1[..9], ["1", "0", "1001", "o1", "o1", "10.5", "1", "false", "fragile, \"handle\" with care\nplease"]);
    assert_eq!(o1[9], r#"{"city":"Lyon"}"#);
    let late_row = rows.iter().find(|r| r[4] == "late").unwrap();
    assert_eq!((late_row[3].as_str(), late_row[8].as_str()), ("", ""));

    // Parquet: typed columns, read back with the parquet crate (tests/export_pyarrow.rs reads every type
    // with pyarrow).
    let reply = api.send("GET", "/api/v1/products/orders.placed/export?format=parquet", &[], None);
    assert_eq!(reply.status, 200);
    let rows = read_parquet(&server, &reply.body);
    assert_eq!(rows.len(), 7);
    let o1 = rows.iter().find(|r| r["id"] == "o1").unwrap();
    assert_eq!(o1["partition"], 1);
    assert_eq!(o1["key"], "o1");
    assert_eq!(o1["amount"], 10.5);
    assert_eq!(o1["quantity"], 1);
    assert_eq!(o1["paid"], false);
    assert_eq!(o1["note"], "fragile, \"handle\" with care\nplease");
    assert_eq!(o1["address"], json!({"city": "Lyon"}), "a nested record is a group");
    let late_row = rows.iter().find(|r| r["id"] == "late").unwrap();
    assert_eq!((&late_row["key"], &late_row["note"]), (&Value::Null, &Value::Null));

    // Deprecated: served, with the headers; retired: refused.
    let (status, body) =
        api.post("/api/v1/products/orders.placed/deprecate", &json!({"reason": "moving", "sunset": "2999-12-31"}));
    assert_eq!(status, 200, "{body}");
    let reply = api.send("GET", "/api/v1/products/orders.placed/sample", &[], None);
    assert_eq!(reply.status, 200);
    let since: i64 =
        reply.header("deprecation").and_then(|d| d.strip_prefix('@')).and_then(|d| d.parse().ok()).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    assert!((now - 60..=now).contains(&since), "{since} vs {now}");
    assert_eq!(reply.header("sunset"), Some("Tue, 31 Dec 2999 00:00:00 GMT"));
}

fn topic_read_first(api: &Api) -> Value {
    let (_, body) = api.get("/api/v1/topics/orders.placed/records?partition=0&offset=0&limit=1");
    body["records"][0].clone()
}

#[test]
fn the_latest_major_port_is_read_unless_another_is_named() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    api.create_topic("orders.v1", 1);
    api.create_topic("orders.v2", 1);
    let mut spec = product("orders.placed", "orders.v1");
    spec["outputPorts"] = json!([
        {"name": "events", "version": "1.2.0", "topic": "orders.v1", "schemaSubject": "orders.v1-value", "format": "json"},
        {"name": "events", "version": "2.0.0", "topic": "orders.v2", "schemaSubject": "orders.v2-value", "format": "json"},
        {"name": "audit", "version": "1.0.0", "topic": "orders.v1", "schemaSubject": "orders.v1-value", "format": "json", "status": "retired"}
    ]);
    create_product(api, &spec);
    api.produce("orders.v1", json!([{"value": "old"}]));
    api.produce("orders.v2", json!([{"value": "new"}]));
    let read = |query: &str| {
        let (status, body) = api.get(&format!("/api/v1/products/orders.placed/sample{query}"));
        assert_eq!(status, 200, "{body}");
        (body["topic"].as_str().unwrap().to_string(), body["records"][0]["value"].as_str().unwrap().to_string())
    };
    assert_eq!(read(""), ("orders.v2".to_string(), "new".to_string()));
    assert_eq!(read("?port=events"), ("orders.v2".to_string(), "new".to_string()));
    assert_eq!(read("?port=events%401"), ("orders.v1".to_string(), "old".to_string()));
    let (status, body) = api.get("/api/v1/products/orders.placed/sample?port=audit");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40408)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("events v1.2.0, events v2.0.0"), "{body}");
    let (status, body) = api.get("/api/v1/products/orders.placed/sample?port=events%403");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40408)), "{body}");
}

#[test]
fn a_deprecated_product_names_its_successor() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    published_product(api, "orders.placed", "orders.placed", 1);
    create_product(api, &product("orders.placed-v2", "orders.placed.v2"));
    let (status, body) = api.post(
        "/api/v1/products/orders.placed/deprecate",
        &json!({"reason": "v2 has currencies", "sunset": "2999-01-01", "successor": "orders.placed-v2"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["lifecycle"]["successor"], "orders.placed-v2");
    let reply = api.send("GET", "/api/v1/products/orders.placed/records", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("link"), Some("</api/v1/products/orders.placed-v2>; rel=\"successor-version\""));
    assert_eq!(reply.header("sunset"), Some("Tue, 01 Jan 2999 00:00:00 GMT"));
    let (status, body) = api.post(
        "/api/v1/products/orders.placed-v2/deprecate",
        &json!({"reason": "r", "sunset": "2999-01-01", "successor": "orders.placed-v2"}),
    );
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40305)), "{body}");
}

#[test]
fn a_retired_products_data_is_refused() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "orders");
    api.create_topic("orders.draft", 1);
    create_product(api, &product("orders.draft", "orders.draft"));
    api.produce("orders.draft", json!([{"value": "not an object", "timestamp": 5}]));
    // A draft's data is readable. Its subject has no schema, so the value is one `value` column.
    let reply = api.send("GET", "/api/v1/products/orders.draft/export?format=csv", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "partition,offset,timestamp,key,value\r\n0,0,5,,not an object\r\n");
    let reply = api.send("GET", "/api/v1/products/orders.draft/export?format=parquet", &[], None);
    let rows = read_parquet(&server, &reply.body);
    // Strings as they are (as in the CSV); other values as their JSON text.
    assert_eq!(rows[0]["value"], "not an object");

    let (status, body) = api.post("/api/v1/products/orders.draft/retire", &json!(null));
    assert_eq!(status, 200, "{body}");
    for path in ["sample", "records?partition=0", "records/stream", "export?format=jsonl"] {
        let (status, body) = api.get(&format!("/api/v1/products/orders.draft/{path}"));
        assert_eq!((status, body["error_code"].as_u64()), (403, Some(40302)), "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains("retired"), "{body}");
    }
}

#[test]
fn the_openapi_document_covers_every_route() {
    let server = TestServer::start();
    let api = &server.api;
    let (status, document) = api.get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", document["openapi"]);
    assert!(document["info"]["title"].is_string() && document["info"]["version"].is_string());
    let paths = document["paths"].as_object().unwrap();
    for expected in [
        "/api/v1/topics/{topic}/records",
        "/api/v1/products/{id}/export",
        "/api/v1/products/search",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    // Every documented operation is routed: probing it with unknown names gives anything but
    // "no route" (40400) or "method not allowed" (40500).
    let mut operations = 0;
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        let concrete = path
            .replace("{topic}", "no-such-topic")
            .replace("{group}", "g")
            .replace("{name}", "nowhere")
            .replace("{id}", "nowhere.nothing")
            .replace("{req}", "ar-999");
        for method in ["get", "post", "put", "delete"] {
            let Some(operation) = item.get(method) else { continue };
            // The audit feed has no unknown name to probe with: it streams until the client goes
            // (tests/security.rs follows it).
            if path == "/api/v1/audit/stream" {
                operations += 1;
                continue;
            }
            assert!(operation["responses"].is_object(), "{method} {path}");
            operations += 1;
            let body = matches!(method, "post" | "put").then_some(&b"{}"[..]);
            let reply = api.send(&method.to_uppercase(), &concrete, &[("content-type", "application/json")], body);
            let code = if reply.status >= 400 { reply.json()["error_code"].as_u64() } else { None };
            assert!(
                !matches!(code, Some(40400 | 40500)),
                "{method} {path} is documented but not routed: {}",
                reply.text()
            );
        }
    }
    assert!(operations >= 39, "{operations} operations");
}

#[test]
fn the_catalog_survives_a_restart() {
    let mut server = TestServer::start();
    create_domain(&server.api, "orders");
    published_product(&server.api, "orders.placed", "orders.placed", 1);
    server.api.produce("orders.placed", json!([{"value": {"id": "o1", "amount": 1.0, "quantity": 1, "paid": true}}]));
    let (_, before) = server.api.get("/api/v1/products/orders.placed");

    server.restart();
    let api = &server.api;
    assert_eq!(api.get("/api/v1/products/orders.placed"), (200, before));
    let (_, body) = api.get("/api/v1/products/search?q=orders");
    assert_eq!(body["hits"][0]["id"], "orders.placed", "{body}");
    let (_, body) = api.get("/api/v1/products/orders.placed/history");
    assert_eq!(body["history"].as_array().map(Vec::len), Some(2), "{body}");
    let (_, body) = api.get("/api/v1/products/orders.placed/sample");
    assert_eq!(body["records"][0]["value"]["id"], "o1", "{body}");
    // The catalog's log is an internal topic: readable, never writable by clients.
    let (status, body) = api.post("/api/v1/topics/_weft_catalog/records", &json!([{"value": {}}]));
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");
}

/// RFC 4180 rows (quoted cells may hold commas, doubled quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// A Parquet file's rows as JSON objects, read with the parquet crate's row reader.
fn read_parquet(server: &TestServer, bytes: &[u8]) -> Vec<Value> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let path = server.dir.path().join("export.parquet");
    std::fs::write(&path, bytes).expect("write the export");
    let file = std::fs::File::open(&path).expect("open the export");
    let reader = SerializedFileReader::new(file).expect("a Parquet file");
    let mut rows = Vec::new();
    for row in reader.get_row_iter(None).expect("rows") {
        let row = row.expect("a row");
        rows.push(parquet_row(&row));
    }
    rows
}

fn parquet_row(row: &parquet::record::Row) -> Value {
    use parquet::record::Field;
    let mut object = serde_json::Map::new();
    for (name, field) in row.get_column_iter() {
        let value = match field {
            Field::Null => Value::Null,
            Field::Bool(b) => json!(b),
            Field::Int(i) => json!(i),
            Field::Long(i) => json!(i),
            Field::Double(d) => json!(d),
            Field::Str(s) => json!(s),
            Field::TimestampMillis(t) => json!(t),
            Field::Group(group) => parquet_row(group),
            other => panic!("unexpected Parquet field {name}: {other:?}"),
        };
        object.insert(name.clone(), value);
    }
    Value::Object(object)
}

#[test]
fn search_follows_new_schema_versions_registered_through_the_registry_api() {
    let server = TestServer::start();
    let api = &server.api;
    create_domain(api, "sales");
    published_product(api, "sales.orders", "orders", 1);
    let (_, body) = api.get("/api/v1/products/search?q=loyaltyTier");
    assert_eq!(body["total"], 0, "{body}");

    let evolved = ORDER_SCHEMA.replace(
        r#"{"name": "paid", "type": "boolean"},"#,
        r#"{"name": "paid", "type": "boolean"}, {"name": "loyaltyTier", "type": ["null", "string"], "default": null},"#,
    );
    register_schema(api, "orders-value", &evolved);
    let (_, body) = api.get("/api/v1/products/search?q=loyaltyTier");
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["hits"][0]["id"], "sales.orders", "{body}");
}
