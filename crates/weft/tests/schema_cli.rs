//! `weft schema ...` against a real server started in the test.

use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;

use common::{start, Env};

impl Env {
    fn weft(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_URL", self.server.url())
            .output()
            .expect("weft runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.weft(args);
        assert!(output.status.success(), "weft {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    fn file(&self, name: &str, contents: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents.to_string()).expect("write file");
        path.to_string_lossy().into_owned()
    }
}

fn order(extra: Value) -> Value {
    let mut fields = vec![json!({"name": "id", "type": "long"})];
    if !extra.is_null() {
        fields.push(extra);
    }
    json!({"type": "record", "name": "Order", "fields": fields})
}

#[test]
fn register_get_list_and_check() {
    let env = start();
    let v1 = env.file("order.avsc", &order(Value::Null));
    let out = env.ok(&["schema", "register", "orders-value", "--file", &v1]);
    assert_eq!(out, "registered schema id 1 as version 1 of subject 'orders-value'\n");
    let again = env.ok(&["schema", "register", "orders-value", "--file", &v1]);
    assert_eq!(again, out, "registering again changes nothing");

    let payment = json!({"type": "object", "properties": {"id": {"type": "string"}}});
    let payment_file = env.file("payment.json", &payment);
    let out = env.ok(&["schema", "register", "payments/value", "--file", &payment_file]);
    assert_eq!(out, "registered schema id 2 as version 1 of subject 'payments/value'\n");
    // --type overrides the extension: this .json file is an Avro schema.
    let avro_in_json = env.file("order.json", &order(json!({"name": "note", "type": "string", "default": ""})));
    let out = env.ok(&["schema", "register", "orders-value", "--file", &avro_in_json, "--type", "avro"]);
    assert_eq!(out, "registered schema id 3 as version 2 of subject 'orders-value'\n");

    let latest: Value = serde_json::from_str(&env.ok(&["schema", "get", "orders-value"])).expect("JSON");
    assert_eq!((latest["version"].as_u64(), latest["id"].as_u64()), (Some(2), Some(3)));
    assert_eq!(latest["schema"]["name"], "Order", "the schema is shown as JSON: {latest}");
    let first: Value =
        serde_json::from_str(&env.ok(&["schema", "get", "orders-value", "--version", "1"])).expect("JSON");
    assert_eq!(first["id"], 1);
    let by_id: Value = serde_json::from_str(&env.ok(&["schema", "get", "--id", "2"])).expect("JSON");
    assert_eq!((by_id["schemaType"].as_str(), &by_id["schema"]), (Some("JSON"), &payment));

    assert_eq!(
        env.ok(&["schema", "list"]),
        "orders-value\tversion 2\tid 3\tAVRO\npayments/value\tversion 1\tid 2\tJSON\n"
    );

    let compatible = env.file("compatible.avsc", &order(json!({"name": "note", "type": "string", "default": "x"})));
    assert_eq!(
        env.ok(&["schema", "check", "orders-value", "--file", &compatible]),
        "compatible with the latest version of 'orders-value'\n"
    );
    let breaking = env.file("breaking.avsc", &order(json!({"name": "customer", "type": "string"})));
    let output = env.weft(&["schema", "check", "orders-value", "--file", &breaking]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("NOT compatible with the latest version of 'orders-value':\n"), "{stdout}");
    assert!(stdout.contains("READER_FIELD_MISSING_DEFAULT_VALUE") && stdout.contains("customer"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not compatible"));

    // Server-side errors come back with Confluent's message and code.
    let output = env.weft(&["schema", "get", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Subject 'nope' not found.") && stderr.contains("40401"), "{stderr}");
    let invalid =
        env.file("invalid.avsc", &json!({"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}));
    let stderr =
        String::from_utf8_lossy(&env.weft(&["schema", "register", "x", "--file", &invalid]).stderr).to_string();
    assert!(stderr.contains("42201"), "{stderr}");
    let stderr = String::from_utf8_lossy(&env.weft(&["schema", "get"]).stderr).to_string();
    assert!(stderr.contains("<SUBJECT>"), "{stderr}");
}
