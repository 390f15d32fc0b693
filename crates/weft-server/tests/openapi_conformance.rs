//! The OpenAPI document against the standard and against the server it describes:
//! `tests/python/test_openapi.py` validates it with openapi-spec-validator, then runs schemathesis
//! over every `/api/v1` operation of a seeded server (a domain, a published Avro product with
//! records), with the venv `scripts/test` builds in `target/pyenv`. Any 5xx, or any response whose
//! status, content type or body the document does not describe, fails the test.

mod common;

use common::{python_script, shop_orders_avro_product, TestServer};
use serde_json::json;

const ORDER: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"}, {"name": "amount", "type": "double"}]}"#;

#[test]
fn the_document_is_valid_and_the_server_keeps_to_it() {
    let server = TestServer::start();
    let api = &server.api;
    shop_orders_avro_product(api, ORDER, 1);
    api.produce("shop.orders", json!([{"key": "1", "value": {"id": 1, "amount": 9.5}}]));
    let (status, body) = api.post("/api/v1/products/shop.orders/publish", &json!({}));
    assert_eq!(status, 200, "{body}");

    let output = python_script("test_openapi.py")
        .arg(&server.api.base)
        .current_dir(server.dir.path())
        .output()
        .expect("the Python checks run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the OpenAPI checks failed ({}); the report is above", output.status);
    assert!(stdout.contains("all OpenAPI checks passed"), "{stdout}");
}
