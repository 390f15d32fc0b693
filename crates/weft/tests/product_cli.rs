//! End-to-end tests of a product's life through the CLI alone: `weft product update`, `sample`,
//! `tail`, `schema`, and `weft consume --group`, against a real server.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{start, Env};

impl Env {
    fn ok(&self, args: &[&str]) -> String {
        self.ok_as("alice", args)
    }

    fn fails(&self, args: &[&str]) -> String {
        self.fails_as("alice", args)
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut response = agent.post(format!("{}{path}", self.server.url())).send_json(body).expect("request");
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.body_mut().read_json().unwrap_or(Value::Null)
    }

    fn product(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["product", "get", id])).expect("product JSON")
    }

    /// A domain `shop` and a draft product `shop.orders` on topic `orders` (two partitions) with a
    /// registered JSON Schema.
    fn shop(&self) {
        self.ok(&["domain", "create", "shop", "--team", "team-shop", "--owner", "alice"]);
        self.post("/api/v1/topics", &json!({"name": "orders", "partitions": 2}));
        let schema = json!({"type": "object", "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}});
        self.post(
            "/registry/subjects/orders-value/versions",
            &json!({"schemaType": "JSON", "schema": schema.to_string()}),
        );
        self.ok(&[
            "product",
            "create",
            "shop.orders",
            "--owner",
            "alice",
            "--description",
            "Orders",
            "--topic",
            "orders",
        ]);
    }

    fn produce(&self, topic: &str, values: &[Value]) {
        let records: Vec<Value> = values.iter().map(|v| json!({"key": v["id"].to_string(), "value": v})).collect();
        self.post(&format!("/api/v1/topics/{topic}/records"), &Value::Array(records));
    }
}

/// The `value`s of JSON lines of records.
fn values(lines: &str) -> Vec<Value> {
    lines.lines().map(|l| serde_json::from_str::<Value>(l).expect("a JSON record")["value"].clone()).collect()
}

fn ids(lines: &str) -> BTreeSet<i64> {
    values(lines).iter().map(|v| v["id"].as_i64().expect("an id")).collect()
}

#[test]
fn update_changes_only_the_fields_given_and_refuses_bad_values_by_flag() {
    let env = start();
    env.shop();
    let before = env.product("shop.orders");
    assert_eq!(before["spec"]["qualityTier"], Value::Null);

    let out = env.ok(&[
        "product",
        "update",
        "shop.orders",
        "--quality-tier",
        "curated",
        "--sla-tier",
        "gold",
        "--freshness-objective",
        "15m",
        "--add-tag",
        "sales",
        "--add-tag",
        "orders",
    ]);
    assert_eq!(out, format!("updated product 'shop.orders' (revision {})\n", before["revision"].as_u64().unwrap() + 1));
    let after = env.product("shop.orders");
    assert_eq!(after["spec"]["qualityTier"], "curated");
    assert_eq!(after["spec"]["slaTier"], "gold");
    assert_eq!(after["spec"]["freshnessObjective"], "15m");
    assert_eq!(after["spec"]["tags"], json!(["sales", "orders"]));
    // What was not given stayed.
    for field in ["name", "owner", "description", "documentation", "version", "outputPorts"] {
        assert_eq!(after["spec"][field], before["spec"][field], "{field}");
    }

    // The same values again change nothing (no new revision).
    let out = env.ok(&["product", "update", "shop.orders", "--quality-tier", "curated", "--add-tag", "sales"]);
    assert_eq!(out, "product 'shop.orders' unchanged\n");
    let doc = env.path("doc.md");
    std::fs::write(&doc, "# Orders\nOne record per order.\n").expect("write doc");
    env.ok(&[
        "product",
        "update",
        "shop.orders",
        "--documentation-file",
        &doc,
        "--name",
        "Shop orders",
        "--version",
        "1.1.0",
        "--remove-tag",
        "orders",
        "--sla-tier",
        "none",
    ]);
    let after = env.product("shop.orders");
    assert_eq!(after["spec"]["documentation"], "# Orders\nOne record per order.\n");
    assert_eq!(
        (after["spec"]["name"].as_str(), after["spec"]["version"].as_str()),
        (Some("Shop orders"), Some("1.1.0"))
    );
    assert_eq!((&after["spec"]["tags"], &after["spec"]["slaTier"]), (&json!(["sales"]), &Value::Null));
    assert_eq!(after["spec"]["qualityTier"], "curated");

    // Refusals name the flag, and change nothing.
    let error = env.fails(&["product", "update", "shop.orders", "--freshness-objective", "soon"]);
    assert!(error.contains("--freshness-objective: ") && error.contains("'soon' is not a duration"), "{error}");
    let error = env.fails(&["product", "update", "shop.orders", "--version", "1.x"]);
    assert!(error.contains("--version: ") && error.contains("not a semantic version"), "{error}");
    let error = env.fails(&["product", "update", "shop.orders", "--quality-tier", "gold"]);
    assert!(error.contains("'gold'") && error.contains("raw, curated, authoritative, none"), "{error}");
    let error = env.fails(&["product", "update", "shop.orders", "--remove-tag", "nope"]);
    assert!(error.contains("--remove-tag nope: the product has no tag 'nope'"), "{error}");
    assert!(env.fails(&["product", "update", "shop.orders"]).contains("nothing to change"));
    assert!(env.fails(&["product", "update", "shop.nothing", "--owner", "bob"]).contains("shop.nothing"));
    assert_eq!(env.product("shop.orders")["revision"], after["revision"]);

    // With the tier set, the product publishes.
    assert_eq!(env.ok(&["product", "publish", "shop.orders"]), "published product 'shop.orders'\n");
}

#[test]
fn sample_schema_and_tail_read_a_products_port() {
    let env = start();
    env.shop();
    env.produce("orders", &(1..=3).map(|i| json!({"id": i, "status": "paid"})).collect::<Vec<_>>());

    let sample = env.ok(&["product", "sample", "shop.orders", "--limit", "2"]);
    assert_eq!(sample.lines().count(), 2, "{sample}");
    assert_eq!(ids(&env.ok(&["product", "sample", "shop.orders"])), BTreeSet::from([1, 2, 3]));
    assert!(env.fails(&["product", "sample", "shop.orders", "--limit", "0"]).contains("limit"));

    let schema: Value = serde_json::from_str(&env.ok(&["product", "schema", "shop.orders"])).expect("schema JSON");
    assert_eq!(schema["properties"]["status"], json!({"type": "string"}));
    let answer: Value =
        serde_json::from_str(&env.ok(&["product", "schema", "shop.orders", "--json"])).expect("answer JSON");
    assert_eq!((answer["subject"].as_str(), answer["version"].as_u64()), (Some("orders-value"), Some(1)));
    assert!(env.fails(&["product", "schema", "shop.orders", "--port", "nope"]).contains("nope"));

    // `get` shows the SQL stream over the port, declared on first use and queryable.
    let product = env.product("shop.orders");
    assert_eq!(product["sqlSource"]["name"], "SHOP_ORDERS", "{product}");
    assert_eq!(product["sqlSource"]["created"], true);
    assert_eq!(env.product("shop.orders")["sqlSource"]["created"], false);
    let described = env.ok(&["sql", "-e", "DESCRIBE SHOP_ORDERS;"]);
    assert!(described.contains("STATUS") && described.contains("orders"), "{described}");

    // From the beginning, a cursor, a time.
    assert_eq!(ids(&env.ok(&["product", "tail", "shop.orders", "--from", "earliest", "--limit", "3"])).len(), 3);
    let first = env.ok(&["product", "tail", "shop.orders", "--from", "2000-01-01T00:00:00Z", "--limit", "3"]);
    assert_eq!(ids(&first), BTreeSet::from([1, 2, 3]));
    let error = env.fails(&["product", "tail", "shop.orders", "--from", "yesterday"]);
    assert!(error.contains("expected earliest, latest"), "{error}");

    // From now: the tail sees a record produced after it started. It may not be connected when the
    // first is produced, so records keep coming until it prints one.
    let mut tail = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["product", "tail", "shop.orders", "--limit", "1"])
        .env("WEFT_URL", env.server.url())
        .env("WEFT_ACTOR", "alice")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tail starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut live = 100;
    let status = loop {
        if let Some(status) = tail.try_wait().expect("tail") {
            break status;
        }
        assert!(Instant::now() < deadline, "the tail printed nothing in 30 s");
        env.produce("orders", &[json!({"id": live, "status": "live"})]);
        live += 1;
        std::thread::sleep(Duration::from_millis(300));
    };
    let mut out = String::new();
    tail.stdout.take().expect("stdout").read_to_string(&mut out).expect("read");
    assert!(status.success(), "{out}");
    let seen = values(&out);
    assert_eq!(seen.len(), 1, "{out}");
    assert_eq!(seen[0]["status"], "live", "the tail started at the end, not at the old records: {out}");
}

#[test]
fn a_consumer_group_resumes_where_it_committed() {
    let env = start();
    env.shop();
    env.produce("orders", &(1..=5).map(|i| json!({"id": i, "status": "paid"})).collect::<Vec<_>>());

    let first = ids(&env.ok(&["consume", "orders", "--group", "billing", "--limit", "3"]));
    assert_eq!(first.len(), 3);
    let offsets: Value = serde_json::from_str(&env.ok(&["group", "offsets", "billing"])).expect("JSON");
    let committed: u64 =
        offsets["offsets"].as_array().expect("offsets").iter().map(|o| o["offset"].as_u64().unwrap()).sum();
    assert_eq!(committed, 3, "{offsets}");
    let second = ids(&env.ok(&["consume", "orders", "--group", "billing"]));
    assert_eq!(second.len(), 2);
    assert!(first.is_disjoint(&second), "{first:?} {second:?}");
    assert_eq!(first.union(&second).count(), 5);
    assert_eq!(env.ok(&["consume", "orders", "--group", "billing"]), "");
    // Another group starts from the beginning; a group's --from only applies where it committed nothing.
    assert_eq!(ids(&env.ok(&["consume", "orders", "--group", "audit"])).len(), 5);
    assert_eq!(env.ok(&["consume", "orders", "--group", "billing", "--from", "earliest"]), "");

    // Following, the group resumes at its commits (not at the end) and commits what it printed.
    env.produce("orders", &[json!({"id": 6, "status": "new"}), json!({"id": 7, "status": "new"})]);
    let followed = ids(&env.ok(&["consume", "orders", "--group", "billing", "--follow", "--limit", "2"]));
    assert_eq!(followed, BTreeSet::from([6, 7]));
    assert_eq!(env.ok(&["consume", "orders", "--group", "billing"]), "");
    // One partition of a group.
    assert_eq!(env.ok(&["consume", "orders", "--group", "billing", "--partition", "0"]), "");
    let error = env.fails(&["consume", "orders", "--group", "_weft_x"]);
    assert!(error.contains("40301") || error.contains("_weft"), "{error}");
}
