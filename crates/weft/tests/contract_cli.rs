//! End-to-end tests of `weft contract ...` and `weft dead-letters ...` against a real server: a
//! contract applied from a file, attached, enforced, tested against the data with a JUnit report,
//! and the dead letters listed, replayed and dropped.

use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;

use common::{start, Env};

const CONTRACT: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: payments
name: Payments
version: 1.0.0
status: active
schema:
  - name: payments
    properties:
      - name: payment_id
        logicalType: string
        required: true
      - name: amount
        logicalType: number
        required: true
        logicalTypeOptions:
          minimum: 0
"#;

impl Env {
    fn weft(&self, args: &[&str]) -> Output {
        self.weft_as("alice", args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_as("alice", args)
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server.url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .expect("request");
        let mut response = agent.run(request).expect("exchange");
        let text = response.body_mut().read_to_string().expect("body");
        assert!(response.status().is_success(), "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// A JSON product `pay.payments` on topic `pay.payments` with a JSON Schema.
fn product(env: &Env) {
    env.call(
        "POST",
        "/api/v1/domains",
        &json!({"name": "pay", "description": "Payments", "owningTeam": "team-pay",
        "members": [{"user": "alice", "role": "owner"}]}),
    );
    env.call("POST", "/api/v1/topics", &json!({"name": "pay.payments", "partitions": 1}));
    let schema =
        json!({"type": "object", "properties": {"payment_id": {"type": "string"}, "amount": {"type": "number"}}});
    env.call(
        "POST",
        "/registry/subjects/pay.payments-value/versions",
        &json!({"schemaType": "JSON", "schema": schema.to_string()}),
    );
    env.call(
        "POST",
        "/api/v1/products",
        &json!({"id": "pay.payments", "name": "Payments", "owner": "alice",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "pay.payments",
                         "schemaSubject": "pay.payments-value", "format": "json"}]}),
    );
}

#[test]
fn contracts_from_the_command_line_from_apply_to_a_junit_report() {
    let env = start();
    product(&env);
    // Records written before any contract: one of them would break it.
    env.call(
        "POST",
        "/api/v1/topics/pay.payments/records",
        &json!([
            {"key": "p-1", "value": {"payment_id": "p-1", "amount": 5}},
            {"key": "p-2", "value": {"payment_id": "p-2", "amount": -3}},
        ]),
    );
    let file = env.path("payments.odcs.yaml");
    std::fs::write(&file, CONTRACT).expect("write the contract");
    assert_eq!(env.ok(&["contract", "apply", "-f", &file]).trim(), "created contract payments version 1.0.0");
    assert_eq!(env.ok(&["contract", "apply", "-f", &file]).trim(), "unchanged contract payments version 1.0.0");
    let list = env.ok(&["contract", "list"]);
    assert!(list.starts_with("payments\t1.0.0\tactive\tPayments"), "{list}");

    // Tested against the data before it is enforced: the negative amount fails, exit code 1, JUnit.
    let junit = env.path("report.xml");
    let output = env.weft(&["contract", "test", "payments", "--product", "pay.payments", "--junit", &junit]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("FAIL (1 records)") && report.contains("1 rules failed"), "{report}");
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    assert!(xml.contains("<testsuite name=\"payments@1.0.0 on pay.payments\""), "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");

    // Enforced, with dead letters: the bad one waits, is listed with its rule, and dropped.
    let attached = env.ok(&["contract", "attach", "pay.payments", "payments"]);
    assert!(attached.contains("now checks contract payments version 1.0.0 (policy reject)"), "{attached}");
    assert!(env.ok(&["dead-letters", "policy", "pay.payments", "dead-letter"]).contains("dead-letter"));
    env.call(
        "POST",
        "/api/v1/topics/pay.payments/records",
        &json!([{"key": "p-3", "value": {"payment_id": "p-3", "amount": -1}}]),
    );
    let listed = env.ok(&["dead-letters", "list", "pay.payments"]);
    assert!(listed.contains("\"p-3\"") && listed.contains("value.amount"), "{listed}");
    assert!(listed.contains("1 dead letters, 1 unresolved"), "{listed}");
    let replayed = env.ok(&["dead-letters", "replay", "pay.payments"]);
    assert!(replayed.contains("replayed 0 into pay.payments; 1 still break its rules"), "{replayed}");
    let dropped = env.ok(&["dead-letters", "drop", "pay.payments", "--reason", "a refund, sent to the wrong product"]);
    assert_eq!(dropped.trim(), "dropped 1 dead letters of pay.payments");

    // The export is the file as it came.
    let exported = env.ok(&["contract", "export", "payments"]);
    for line in ["id: payments", "minimum: 0", "logicalType: number"] {
        assert!(exported.contains(line), "{line} in {exported}");
    }
    assert!(env.ok(&["contract", "detach", "pay.payments"]).contains("checks no contract now"));
}

#[test]
fn contract_diff_tells_breaking_from_compatible_changes_without_a_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = dir.path().join("old.yaml");
    let loose = dir.path().join("loose.yaml");
    let tight = dir.path().join("tight.yaml");
    std::fs::write(&old, CONTRACT).expect("write");
    std::fs::write(
        &loose,
        CONTRACT.replace("version: 1.0.0", "version: 1.1.0").replace("name: Payments\n", "name: Payments made\n"),
    )
    .expect("write");
    std::fs::write(&tight, CONTRACT.replace("version: 1.0.0", "version: 2.0.0").replace("minimum: 0", "minimum: 1"))
        .expect("write");
    let diff = |new: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["contract", "diff", old.to_str().expect("path"), new.to_str().expect("path")])
            .env("WEFT_URL", "http://127.0.0.1:9")
            .output()
            .expect("weft runs")
    };
    let output = diff(&loose);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("0 breaking") && !text.contains("BREAKING"), "{text}");
    let output = diff(&tight);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.lines().any(|l| l.starts_with("BREAKING") && l.contains("amount") && l.contains("minimum")), "{text}");
}
