//! Global governance policies through the real server: set by the platform admin only, refused
//! whole with the field when invalid, kept across a restart, each policy kind listed as a violation
//! and, under `block`, refusing publication (42207 with gaps) or a breaking registration (409).

mod common;

use common::{Api, TestServer};
use serde_json::{json, Value};

const ADMIN: &str = "admin";

const ORDER_V1: &str = r#"{"type":"record","name":"Order","fields":[
    {"name":"order_id","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"email","type":["null","string"],"default":null,"classification":"PII"}]}"#;
/// Drops `amount` and adds `currency` without a default: new readers cannot read old records.
const ORDER_BREAKING: &str = r#"{"type":"record","name":"Order","fields":[
    {"name":"order_id","type":"string"},
    {"name":"currency","type":"string"},
    {"name":"email","type":["null","string"],"default":null,"classification":"PII"}]}"#;
const ORDER_COMPATIBLE: &str = r#"{"type":"record","name":"Order","fields":[
    {"name":"order_id","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"email","type":["null","string"],"default":null,"classification":"PII"},
    {"name":"note","type":["null","string"],"default":null}]}"#;

const CONTRACT: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: shop-orders
name: Shop orders
version: 1.0.0
status: active
schema:
  - name: orders
    logicalType: object
    properties:
      - name: order_id
        logicalType: string
        required: true
      - name: amount
        logicalType: number
        required: true
      - name: email
        logicalType: string
        classification: pii
"#;

fn send_json(api: &Api, method: &str, path: &str, actor: &str, body: &Value) -> (u16, Value) {
    let bytes = body.to_string();
    let reply = api.send(
        method,
        path,
        &[("content-type", "application/json"), ("x-weft-actor", actor)],
        Some(bytes.as_bytes()),
    );
    (reply.status, reply.json())
}

/// Registers a schema through Confluent's route (its 409 carries the bare code, so no API shape check).
fn register(api: &Api, subject: &str, schema: &str) -> (u16, Value) {
    let body = json!({"schema": schema}).to_string();
    let reply = api.send(
        "POST",
        &format!("/registry/subjects/{subject}/versions"),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    (reply.status, serde_json::from_str(&reply.text()).expect("a JSON answer"))
}

fn set_policies(api: &Api, document: Value) -> Value {
    let (status, body) = send_json(api, "PUT", "/api/v1/governance/policies", ADMIN, &document);
    assert_eq!(status, 200, "{body}");
    body
}

/// A domain `shop`, a topic and subject `shop.orders`, and a draft product on it.
fn draft(api: &Api, id: &str, tier: &str) {
    if api.get("/api/v1/domains/shop").0 == 404 {
        let domain = json!({"name": "shop", "description": "The shop", "owningTeam": "team-shop",
                            "members": [{"user": "alice", "role": "owner"}]});
        assert_eq!(api.post("/api/v1/domains", &domain).0, 201);
    }
    api.create_topic(id, 1);
    let (status, body) = api.post(&format!("/registry/subjects/{id}-value/versions"), &json!({"schema": ORDER_V1}));
    assert_eq!(status, 200, "{body}");
    let spec = json!({
        "id": id, "name": "Orders", "owner": "alice", "description": "Orders.", "qualityTier": tier,
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": id,
                         "schemaSubject": format!("{id}-value"), "format": "avro"}],
    });
    let (status, body) = api.post("/api/v1/products", &spec);
    assert_eq!(status, 201, "{body}");
}

fn publish(api: &Api, id: &str) -> (u16, Value) {
    api.post(&format!("/api/v1/products/{id}/publish"), &json!({}))
}

/// The violations of one product, as (kind, enforcement, blocks, details).
fn violations_of(api: &Api, id: &str) -> Vec<(String, String, bool, String)> {
    let (status, body) = api.get(&format!("/api/v1/governance/violations?product={id}"));
    assert_eq!(status, 200, "{body}");
    body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["product"], id);
            (
                v["kind"].as_str().unwrap().to_string(),
                v["enforcement"].as_str().unwrap_or("").to_string(),
                v["blocks"].as_bool().unwrap(),
                v["details"].to_string(),
            )
        })
        .collect()
}

fn gaps(body: &Value) -> Vec<(String, String)> {
    body["gaps"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|g| (g["rule"].as_str().unwrap().to_string(), g["field"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn only_the_platform_admin_sets_policies_and_they_survive_a_restart() {
    let mut server = TestServer::start();
    let (status, body) = server.api.get("/api/v1/governance/policies");
    assert_eq!(status, 200);
    assert_eq!((body["version"].clone(), body["policies"].clone()), (json!(0), json!({})));
    assert_eq!(body["editable"], false, "anonymous is no admin");

    let document = json!({"requiredMetadata": {"fields": ["tags"], "enforcement": "warn"}});
    let (status, body) = send_json(&server.api, "PUT", "/api/v1/governance/policies", "alice", &document);
    assert_eq!((status, body["error_code"].clone()), (403, json!(40304)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("platform admin"), "{body}");

    let set = set_policies(&server.api, document.clone());
    assert_eq!(
        (set["version"].clone(), set["principal"].clone(), set["editable"].clone()),
        (json!(1), json!(ADMIN), json!(true))
    );
    let second = json!({"naming": {"productId": "[a-z]+\\.[a-z-]+", "enforcement": "block"}});
    set_policies(&server.api, second.clone());
    // A change based on an older version is refused.
    let (status, body) = send_json(&server.api, "PUT", "/api/v1/governance/policies?ifVersion=1", ADMIN, &document);
    assert_eq!((status, body["error_code"].clone()), (409, json!(40902)), "{body}");

    server.restart();
    let (_, body) = server.api.get("/api/v1/governance/policies");
    assert_eq!(body["version"], 2);
    assert_eq!(body["policies"], second);
    let history: Vec<(u64, String)> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["version"].as_u64().unwrap(), h["principal"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(history, vec![(1, ADMIN.to_string()), (2, ADMIN.to_string())]);
}

#[test]
fn invalid_documents_are_refused_with_the_field_and_nothing_changes() {
    let server = TestServer::start();
    let api = &server.api;
    set_policies(api, json!({"requiredMetadata": {"fields": ["owner"], "enforcement": "block"}}));
    let cases = [
        (
            json!({"requiredMetadata": {"fields": ["owner", "colour"], "enforcement": "block"}}),
            "requiredMetadata.fields[1]",
            "colour",
        ),
        (
            json!({"minimumCompatibility": {"level": "BACKWARDS", "enforcement": "block"}}),
            "minimumCompatibility.level",
            "BACKWARDS",
        ),
        (
            json!({"classification": {"restricted": ["pii"], "enforcement": "maybe"}}),
            "classification.enforcement",
            "block or warn",
        ),
        (json!({"naming": {"topic": "(", "enforcement": "warn"}}), "naming.topic", "regular expression"),
        (
            json!({"contractRequired": {"qualityTiers": ["platinum"], "enforcement": "block"}}),
            "contractRequired.qualityTiers[0]",
            "platinum",
        ),
        (json!({"contractsRequired": {}}), "contractsRequired", "unknown field"),
        (json!(["not", "an", "object"]), "(document)", "object"),
    ];
    for (document, field, reason) in cases {
        let (status, body) = send_json(api, "PUT", "/api/v1/governance/policies", ADMIN, &document);
        assert_eq!((status, body["error_code"].clone()), (422, json!(42201)), "{document}: {body}");
        assert_eq!(body["field"], field, "{document}: {body}");
        assert!(body["message"].as_str().unwrap().contains(reason), "{document}: {body}");
    }
    let (_, body) = api.get("/api/v1/governance/policies");
    assert_eq!(body["version"], 1, "no refused document was kept");
}

#[test]
fn required_metadata_blocks_publication_with_the_gap_shape_and_warn_only_lists() {
    let server = TestServer::start();
    let api = &server.api;
    draft(api, "shop.orders", "curated");
    set_policies(api, json!({"requiredMetadata": {"fields": ["tags", "slaTier"], "enforcement": "block"}}));

    let (status, body) = api.post("/api/v1/products:check", &json!({
        "id": "shop.orders", "name": "Orders", "owner": "alice", "description": "Orders.", "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "shop.orders", "schemaSubject": "shop.orders-value", "format": "avro"}]}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        gaps(&body),
        vec![("required-metadata".into(), "tags".into()), ("required-metadata".into(), "slaTier".into())]
    );

    let (status, body) = publish(api, "shop.orders");
    assert_eq!((status, body["error_code"].clone()), (422, json!(42207)), "{body}");
    assert_eq!(
        gaps(&body),
        vec![("required-metadata".into(), "tags".into()), ("required-metadata".into(), "slaTier".into())]
    );
    assert!(body["message"].as_str().unwrap().contains("requiredMetadata"), "{body}");
    let listed = violations_of(api, "shop.orders");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].0.as_str(), listed[0].1.as_str(), listed[0].2), ("required-metadata", "block", true));

    set_policies(api, json!({"requiredMetadata": {"fields": ["tags", "slaTier"], "enforcement": "warn"}}));
    let (status, body) = publish(api, "shop.orders");
    assert_eq!(status, 200, "warn does not block: {body}");
    let listed = violations_of(api, "shop.orders");
    assert!(listed.iter().any(|v| v.0 == "required-metadata" && v.1 == "warn" && !v.2), "{listed:?}");
}

#[test]
fn a_breaking_schema_is_refused_on_a_published_subject_set_to_none() {
    let server = TestServer::start();
    let api = &server.api;
    draft(api, "shop.orders", "curated");
    assert_eq!(publish(api, "shop.orders").0, 200);
    set_policies(api, json!({"minimumCompatibility": {"level": "BACKWARD", "enforcement": "block"}}));

    let (status, body) = api.put("/registry/config/shop.orders-value", &json!({"compatibility": "NONE"}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = register(api, "shop.orders-value", ORDER_BREAKING);
    assert_eq!((status, body["error_code"].clone()), (409, json!(409)), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("minimumCompatibility BACKWARD") && message.contains("shop.orders"), "{message}");
    assert!(message.contains("currency"), "the incompatibility is named: {message}");
    let (_, versions) = api.get("/registry/subjects/shop.orders-value/versions");
    assert_eq!(versions, json!([1]), "nothing was registered");

    let (status, body) = register(api, "shop.orders-value", ORDER_COMPATIBLE);
    assert_eq!(status, 200, "a compatible schema passes: {body}");
    let listed = violations_of(api, "shop.orders");
    assert!(
        listed.iter().any(|v| v.0 == "minimum-compatibility" && v.2 && v.3.contains("NONE")),
        "the subject's own level below the minimum is listed: {listed:?}"
    );

    // The way out: a new major version of the port is a new subject, free of the old versions.
    let (status, body) = register(api, "shop.orders.v2-value", ORDER_BREAKING);
    assert_eq!(status, 200, "{body}");
    // A draft's subject is not held to the minimum.
    draft(api, "shop.drafts", "curated");
    api.put("/registry/config/shop.drafts-value", &json!({"compatibility": "NONE"}));
    let (status, body) = register(api, "shop.drafts-value", ORDER_BREAKING);
    assert_eq!(status, 200, "{body}");
    // Under warn, the subject's own level decides.
    set_policies(api, json!({"minimumCompatibility": {"level": "BACKWARD", "enforcement": "warn"}}));
    let (status, body) = register(api, "shop.orders-value", ORDER_BREAKING);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn pii_needs_restricted_access_from_the_schema_or_the_contract() {
    let server = TestServer::start();
    let api = &server.api;
    draft(api, "shop.orders", "curated");
    set_policies(api, json!({"classification": {"restricted": ["pii"], "enforcement": "block"}}));
    let (status, body) = publish(api, "shop.orders");
    assert_eq!(status, 422, "{body}");
    assert_eq!(gaps(&body), vec![("classification".into(), "customProperties".into())]);
    assert!(body["message"].as_str().unwrap().contains("email (pii)"), "{body}");

    // Restricted access (the custom property access: restricted) satisfies it.
    let (_, product) = api.get("/api/v1/products/shop.orders");
    let mut spec = product["spec"].clone();
    spec["customProperties"] = json!([{"property": "access", "value": "restricted"}]);
    let (status, body) = api.put("/api/v1/products/shop.orders", &spec);
    assert_eq!(status, 200, "{body}");
    assert!(violations_of(api, "shop.orders").is_empty());
    assert_eq!(publish(api, "shop.orders").0, 200);

    // A contract's classification counts too, for a schema that says nothing of it.
    api.create_topic("shop.plain", 1);
    let plain = r#"{"type":"record","name":"Order","fields":[{"name":"order_id","type":"string"},
        {"name":"amount","type":"double"},{"name":"email","type":["null","string"],"default":null}]}"#;
    assert_eq!(register(api, "shop.plain-value", plain).0, 200);
    let spec = json!({"id": "shop.plain", "name": "Plain", "owner": "alice", "description": "Orders.", "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "shop.plain", "schemaSubject": "shop.plain-value", "format": "avro"}]});
    assert_eq!(api.post("/api/v1/products", &spec).0, 201);
    assert!(violations_of(api, "shop.plain").is_empty(), "no field is classified yet");
    let reply =
        api.send("POST", "/api/v1/contracts", &[("content-type", "application/yaml")], Some(CONTRACT.as_bytes()));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let (status, body) = api.put("/api/v1/products/shop.plain/contract", &json!({"id": "shop-orders"}));
    assert_eq!(status, 200, "{body}");
    let listed = violations_of(api, "shop.plain");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, "classification");
    assert!(listed[0].3.contains("email (pii)"), "{listed:?}");
}

#[test]
fn naming_conventions_apply_to_product_ids_and_topics() {
    let server = TestServer::start();
    let api = &server.api;
    draft(api, "shop.orders", "curated");
    set_policies(
        api,
        json!({"naming": {"productId": "[a-z]+\\.[a-z]+", "topic": "[a-z]+\\.[a-z]+\\.v[0-9]+", "enforcement": "block"}}),
    );
    let (status, body) = publish(api, "shop.orders");
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        gaps(&body),
        vec![("naming".into(), "outputPorts[0].topic".into())],
        "the id matches, the topic does not"
    );
    set_policies(api, json!({"naming": {"productId": "[a-z]+\\.[a-z]+-[a-z]+", "enforcement": "block"}}));
    let (status, body) = publish(api, "shop.orders");
    assert_eq!(gaps(&body), vec![("naming".into(), "id".into())], "{status} {body}");
    set_policies(
        api,
        json!({"naming": {"productId": "[a-z]+\\.[a-z]+", "topic": "shop\\..*", "enforcement": "block"}}),
    );
    assert_eq!(publish(api, "shop.orders").0, 200);
}

#[test]
fn a_quality_tier_can_require_a_contract_on_every_port() {
    let server = TestServer::start();
    let api = &server.api;
    draft(api, "shop.orders", "authoritative");
    draft(api, "shop.raw", "raw");
    set_policies(api, json!({"contractRequired": {"qualityTiers": ["authoritative"], "enforcement": "block"}}));
    let (status, body) = publish(api, "shop.orders");
    assert_eq!(status, 422, "{body}");
    assert_eq!(gaps(&body), vec![("contract-required".into(), "outputPorts[0]".into())]);
    assert_eq!(publish(api, "shop.raw").0, 200, "another tier is free of it");

    let (status, body) = api.get("/api/v1/governance/violations");
    assert_eq!(status, 200);
    assert_eq!(body["counts"]["contract-required"], 1, "{body}");

    let reply =
        api.send("POST", "/api/v1/contracts", &[("content-type", "application/yaml")], Some(CONTRACT.as_bytes()));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let (status, body) = api.put("/api/v1/products/shop.orders/contract", &json!({"id": "shop-orders"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(publish(api, "shop.orders").0, 200);

    // The contract failures across the mesh: the product with its contract, no dead letter yet.
    let (status, body) = api.get("/api/v1/governance/dead-letters");
    assert_eq!(status, 200, "{body}");
    let products = body["products"].as_array().unwrap();
    assert_eq!(products.len(), 1, "{body}");
    assert_eq!(products[0]["product"], "shop.orders");
    assert_eq!(products[0]["contracts"], json!(["shop-orders@1.0.0"]));
    assert_eq!((products[0]["total"].clone(), products[0]["unresolved"].clone()), (json!(0), json!(0)));
}

#[test]
fn contract_failures_count_unresolved_dead_letters_by_rule() {
    let server = TestServer::start();
    let api = &server.api;
    draft(api, "shop.orders", "curated");
    let (status, body) = api.put("/api/v1/products/shop.orders/governance", &json!({"policy": "dead-letter"}));
    assert_eq!(status, 200, "{body}");
    let produced = api.post(
        "/api/v1/topics/shop.orders/records",
        &json!([{"value": {"order_id": "o-1", "amount": 1.0}}, {"value": {"order_id": "o-2", "amount": "lots"}},
                {"value": {"order_id": "o-3"}}]),
    );
    assert_eq!(produced.0, 200, "{}", produced.1);
    let (status, body) = api.get("/api/v1/governance/dead-letters");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unresolved"], 2, "{body}");
    let product = &body["products"][0];
    assert_eq!((product["product"].clone(), product["total"].clone()), (json!("shop.orders"), json!(2)));
    assert_eq!(product["by_rule"], json!({"schema": 2}));
    assert_eq!(product["contracts"], json!([]));
}
