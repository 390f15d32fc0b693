//! Parquet exports read by pyarrow (`tests/python/read_parquet.py`, from the venv `scripts/test` builds
//! in `target/pyenv`): the columns carry the product schema's types (Avro and JSON Schema), nested
//! records, lists and maps included, and the values read back are the ones produced.

mod common;

use common::{python_script, Api, TestServer};
use serde_json::{json, Value};

/// Every type the export maps, as an Avro schema.
const AVRO_SCHEMA: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "string"},
    {"name": "lines", "type": "int"},
    {"name": "sequence", "type": "long"},
    {"name": "ratio", "type": "float"},
    {"name": "amount", "type": "double"},
    {"name": "paid", "type": "boolean"},
    {"name": "raw", "type": "bytes"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "total", "type": {"type": "fixed", "name": "Total", "size": 12, "logicalType": "decimal", "precision": 24, "scale": 3}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "seen", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": null},
    {"name": "channel", "type": {"type": "enum", "name": "Channel", "symbols": ["web", "store"]}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
        {"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "string"], "default": null}]}], "default": null},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "counts", "type": {"type": "map", "values": "long"}},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
        {"name": "sku", "type": "string"}, {"name": "quantity", "type": "int"}]}}}
]}"#;

/// A JSON Schema with the formats that carry types.
const JSON_SCHEMA: &str = r#"{"type": "object", "required": ["id", "at", "day", "count", "customer"], "properties": {
    "id": {"type": "string"},
    "at": {"type": "string", "format": "date-time"},
    "day": {"type": "string", "format": "date"},
    "count": {"type": "integer"},
    "score": {"type": ["number", "null"]},
    "customer": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "vip": {"type": "boolean"}}},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
}}"#;

/// Latin-1 text of bytes: Avro's JSON encoding of `bytes` and `fixed`.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// A domain, a topic, a schema and a product serving the topic under it.
fn product(api: &Api, id: &str, schema_type: &str, schema: &str, format: &str) {
    let domain = id.split('.').next().expect("a domain");
    let body = json!({"name": domain, "description": "Exports", "owningTeam": "team",
                      "members": [{"user": "alice", "role": "owner"}]});
    let (status, answer) = api.post("/api/v1/domains", &body);
    assert!(status == 201 || status == 409, "{answer}");
    api.create_topic(id, 1);
    let subject = format!("{id}-value");
    let (status, answer) = api
        .post(&format!("/registry/subjects/{subject}/versions"), &json!({"schemaType": schema_type, "schema": schema}));
    assert_eq!(status, 200, "{answer}");
    let spec = json!({
        "id": id, "name": id, "owner": "alice", "description": "Exports.", "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": id, "schemaSubject": subject, "format": format}],
    });
    let (status, answer) = api.post("/api/v1/products", &spec);
    assert_eq!(status, 201, "{answer}");
}

/// Exports `id` as Parquet and reads it with pyarrow: `{types, nullable, rows, unfit}`.
fn read_with_pyarrow(server: &TestServer, id: &str) -> Value {
    let reply = server.api.send("GET", &format!("/api/v1/products/{id}/export?format=parquet"), &[], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let file = server.dir.path().join(format!("{id}.parquet"));
    std::fs::write(&file, &reply.body).expect("write the export");
    let output = python_script("read_parquet.py").arg(&file).output().expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "pyarrow could not read the export: {stderr}");
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

#[test]
fn pyarrow_reads_an_avro_products_export_with_the_schemas_types() {
    let server = TestServer::start();
    let api = &server.api;
    product(api, "shop.orders", "AVRO", AVRO_SCHEMA, "avro");
    // 12.34 at scale 2 is 1234 = 0x04d2; -1.5 at scale 3 is -1500 = 0xfa24 (sign-extended to 12 bytes).
    let total = [[0xff_u8; 10].as_slice(), &[0xfa, 0x24]].concat();
    let first = json!({
        "id": "o1", "lines": 2, "sequence": 9_007_199_254_740_993_i64, "ratio": 0.5, "amount": 10.25, "paid": true,
        "raw": latin1(&[0, 255]), "price": latin1(&[0x04, 0xd2]), "total": latin1(&total),
        "day": 19_782, "placed": 1_714_566_600_123_i64, "seen": 1_714_566_600_123_456_i64, "channel": "web",
        "note": "fragile", "address": {"city": "Lyon", "zip": "69001"}, "tags": ["a", "b"],
        "counts": {"x": 1}, "items": [{"sku": "s1", "quantity": 3}],
    });
    let second = json!({
        "id": "o2", "lines": 0, "sequence": -1, "ratio": 1.0, "amount": 0.0, "paid": false,
        "raw": "", "price": latin1(&[0xff]), "total": latin1(&[0; 12]),
        "day": 0, "placed": 0, "seen": null, "channel": "store",
        "note": null, "address": null, "tags": [], "counts": {}, "items": [],
    });
    api.produce("shop.orders", json!([{"key": "o1", "value": first}, {"key": "o2", "value": second}]));

    let read = read_with_pyarrow(&server, "shop.orders");
    assert_eq!(
        read["types"],
        json!({
            "partition": "int32", "offset": "int64", "timestamp": "timestamp[ms, tz=UTC]", "key": "string",
            "id": "string", "lines": "int32", "sequence": "int64", "ratio": "float", "amount": "double",
            "paid": "bool", "raw": "binary", "price": "decimal128(9, 2)", "total": "decimal128(24, 3)",
            "day": "date32[day]", "placed": "timestamp[ms, tz=UTC]", "seen": "timestamp[us, tz=UTC]",
            "channel": "string", "note": "string",
            "address": "struct<city: string not null, zip: string>",
            "tags": "list<element: string not null>",
            "counts": "map<string, int64 not null>",
            "items": "list<element: struct<sku: string not null, quantity: int32 not null> not null>",
        })
    );
    let nullable = read["nullable"].as_object().expect("nullability");
    let required: Vec<&str> = nullable.iter().filter(|(_, n)| **n == json!(false)).map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        required,
        ["offset", "partition", "timestamp"],
        "record columns are required; value columns may be absent"
    );
    let rows = read["rows"].as_array().expect("rows");
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("row {id} in {read}")).clone();
    let o1 = row("o1");
    let expected = json!({
        "lines": 2, "sequence": 9_007_199_254_740_993_i64, "ratio": 0.5, "amount": 10.25, "paid": true,
        "raw": {"hex": "00ff"}, "price": "12.34", "total": "-1.500", "day": "2024-02-29",
        "placed": "2024-05-01T12:30:00.123000+00:00", "seen": "2024-05-01T12:30:00.123456+00:00", "channel": "web",
        "note": "fragile", "address": {"city": "Lyon", "zip": "69001"}, "tags": ["a", "b"],
        "counts": [["x", 1]], "items": [{"sku": "s1", "quantity": 3}], "key": "o1",
    });
    for (name, value) in expected.as_object().expect("an object") {
        assert_eq!(&o1[name], value, "o1's {name} in {o1}");
    }
    let o2 = row("o2");
    let expected = json!({
        "sequence": -1, "raw": {"hex": ""}, "price": "-0.01", "total": "0.000", "day": "1970-01-01",
        "placed": "1970-01-01T00:00:00+00:00", "seen": null, "note": null, "address": null, "tags": [], "counts": [],
        "items": [],
    });
    for (name, value) in expected.as_object().expect("an object") {
        assert_eq!(&o2[name], value, "o2's {name} in {o2}");
    }
    assert_eq!(read["unfit"], "{}", "every value fit its type");
}

#[test]
fn pyarrow_reads_a_json_schema_products_export_with_formats_as_types() {
    let server = TestServer::start();
    let api = &server.api;
    product(api, "crm.visits", "JSON", JSON_SCHEMA, "json");
    api.produce(
        "crm.visits",
        json!([
            {"key": "v1", "value": {"id": "v1", "at": "2024-05-01T12:30:00.5+02:00", "day": "2024-05-01", "count": 3,
                                    "score": 0.75, "customer": {"name": "Ada", "vip": true}, "labels": {"src": "ad"}}},
            {"key": "v2", "value": {"id": "v2", "at": "1970-01-01T00:00:00Z", "day": "1970-01-02", "count": -4,
                                    "customer": {"name": "Bo"}}},
        ]),
    );
    let read = read_with_pyarrow(&server, "crm.visits");
    let types = &read["types"];
    let value_types: Vec<(&str, &str)> = ["at", "count", "customer", "day", "id", "labels", "score"]
        .iter()
        .map(|name| (*name, types[*name].as_str().unwrap_or_else(|| panic!("no column {name}: {read}"))))
        .collect();
    assert_eq!(
        value_types,
        [
            ("at", "timestamp[us, tz=UTC]"),
            ("count", "int64"),
            ("customer", "struct<name: string not null, vip: bool>"),
            ("day", "date32[day]"),
            ("id", "string"),
            ("labels", "map<string, string not null>"),
            ("score", "double"),
        ]
    );
    let rows = read["rows"].as_array().expect("rows");
    let v1 = rows.iter().find(|r| r["id"] == "v1").expect("v1");
    assert_eq!(v1["at"], "2024-05-01T10:30:00.500000+00:00");
    assert_eq!(v1["day"], "2024-05-01");
    assert_eq!((&v1["count"], &v1["score"]), (&json!(3), &json!(0.75)));
    assert_eq!(v1["customer"], json!({"name": "Ada", "vip": true}));
    assert_eq!(v1["labels"], json!([["src", "ad"]]));
    let v2 = rows.iter().find(|r| r["id"] == "v2").expect("v2");
    assert_eq!(
        (&v2["at"], &v2["day"], &v2["count"]),
        (&json!("1970-01-01T00:00:00+00:00"), &json!("1970-01-02"), &json!(-4))
    );
    assert_eq!((&v2["score"], &v2["labels"]), (&Value::Null, &Value::Null));
    assert_eq!(v2["customer"], json!({"name": "Bo", "vip": null}));
}
