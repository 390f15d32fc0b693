//! End-to-end tests of `weft domain ...` and `weft product ...` against a real server.

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

    fn post(&self, path: &str, body: &Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response = agent.post(format!("{}{path}", self.server.url())).send_json(body).expect("request");
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
    }
}

const ODPS: &str = "apiVersion: v1.0.0
kind: DataProduct
id: orders.placed
name: Placed orders
status: active
description:
  purpose: Every order placed in the shop
tags: [orders]
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
fn domains_and_products_through_the_cli() {
    let env = start();
    let out = env.ok(&["domain", "create", "orders", "--team", "team-orders", "--owner", "alice", "--member", "bob"]);
    assert_eq!(out, "created domain 'orders'\n");
    assert!(env.fails(&["domain", "create", "orders", "--team", "t", "--owner", "a"]).contains("already exists"));
    assert!(env.fails(&["domain", "create", "billing", "--team", "t"]).contains("--owner"));
    env.ok(&["domain", "create", "finance", "--team", "team-finance", "--owner", "erin"]);
    assert_eq!(
        env.ok(&["domain", "list"]),
        "finance\tteam-finance\terin (owner)\norders\tteam-orders\talice (owner), bob (member)\n"
    );
    let out = env.ok(&["domain", "update", "orders", "--description", "Orders and carts"]);
    assert_eq!(out, "updated domain 'orders' (revision 2)\n");
    assert_eq!(
        env.ok(&["domain", "update", "orders", "--description", "Orders and carts"]),
        "domain 'orders' unchanged\n"
    );
    let domain: Value = serde_json::from_str(&env.ok(&["domain", "get", "orders"])).expect("JSON");
    assert_eq!(domain["spec"]["description"], "Orders and carts");

    // apply -f: create, then nothing to change.
    env.post("/api/v1/topics", &json!({"name": "orders.placed"}));
    env.post(
        "/registry/subjects/orders.placed-value/versions",
        &json!({"schema": r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"amount","type":"double"}]}"#}),
    );
    let file = env.path("product.yaml");
    std::fs::write(&file, ODPS).expect("write ODPS");
    assert_eq!(env.ok(&["product", "apply", "-f", &file]), "created product 'orders.placed' (published)\n");
    assert_eq!(env.ok(&["product", "apply", "-f", &file]), "product 'orders.placed' unchanged\n");
    std::fs::write(&file, ODPS.replace("tags: [orders]", "tags: [orders, shop]")).expect("write ODPS");
    assert_eq!(env.ok(&["product", "apply", "-f", &file]), "updated product 'orders.placed' (published)\n");
    std::fs::write(&file, "kind: DataProduct\nid: [oops\n").expect("write ODPS");
    let error = env.fails(&["product", "apply", "-f", &file]);
    assert!(error.contains("invalid ODPS document") && error.contains("line"), "{error}");
    // The export is the standard's YAML, and applies as no change.
    let exported = env.ok(&["product", "get", "orders.placed", "--odps"]);
    assert!(exported.starts_with("apiVersion: v1.0.0\nkind: DataProduct\nid: orders.placed\n"), "{exported}");
    std::fs::write(&file, &exported).expect("write ODPS");
    assert_eq!(env.ok(&["product", "apply", "-f", &file]), "product 'orders.placed' unchanged\n");
    // A document foreign to Weft's conventions: the mapping is printed, note by note.
    let foreign = "apiVersion: v1.0.0\nkind: DataProduct\nid: 9b2e0c4e-uuid\nname: Raw Clicks\nstatus: proposed\n\
                   outputPorts:\n  - name: clicks\n    version: v1.0.0\n";
    std::fs::write(&file, foreign).expect("write ODPS");
    let error = env.fails(&["product", "apply", "-f", &file]);
    assert!(error.contains("names no domain"), "{error}");
    let out = env.ok(&["product", "apply", "-f", &file, "--domain", "orders"]);
    assert!(
        out.starts_with(
            "created product 'orders.raw-clicks' (draft)\n  note: id: '9b2e0c4e-uuid' is not a Weft product id"
        ),
        "{out}"
    );
    assert!(out.contains("  note: outputPorts[0]: ") && out.contains("topic 'orders.raw-clicks.clicks.v1'"), "{out}");
    let out = env.ok(&["product", "apply", "-f", &file, "--id", "orders.clicks"]);
    assert!(out.starts_with("created product 'orders.clicks' (draft)\n"), "{out}");

    let out = env.ok(&[
        "product",
        "create",
        "finance.revenue",
        "--owner",
        "erin",
        "--description",
        "Daily revenue",
        "--quality-tier",
        "authoritative",
        "--tag",
        "money",
        "--topic",
        "finance.revenue",
    ]);
    assert_eq!(out, "created product 'finance.revenue' (draft)\n");
    let spec = env.path("report.json");
    std::fs::write(
        &spec,
        json!({"id": "finance.report", "name": "Report", "owner": "erin",
               "inputPorts": [{"name": "revenue", "product": "finance.revenue"}, {"name": "orders", "product": "orders.placed"}]})
        .to_string(),
    )
    .expect("write spec");
    env.ok(&["product", "create", "-f", &spec]);
    let product: Value = serde_json::from_str(&env.ok(&["product", "get", "finance.revenue"])).expect("JSON");
    assert_eq!(product["spec"]["outputPorts"][0]["schemaSubject"], "finance.revenue-value");
    assert_eq!(
        env.ok(&["product", "list", "--domain", "finance"]),
        "finance.report\tdraft\t-\tReport\nfinance.revenue\tdraft\tauthoritative\tfinance.revenue\n"
    );
    let out = env.ok(&["product", "search", "orders", "--status", "published"]);
    assert!(out.starts_with("orders.placed\tpublished\tcurated\tPlaced orders\n1 matching\n"), "{out}");
    assert!(out.contains("domain: orders (1)"), "{out}");
    let out = env.ok(&["product", "lineage", "orders.placed", "--downstream"]);
    assert_eq!(out, "downstream:\n  finance.report (draft, erin)\n");
    let out = env.ok(&["product", "lineage", "finance.report", "--depth", "1"]);
    assert!(
        out.starts_with("upstream:\n  ")
            && out.contains("finance.revenue (draft, erin)")
            && out.ends_with("downstream:\n"),
        "{out}"
    );

    // Data out through the product.
    env.post("/api/v1/topics/orders.placed/records", &json!([{"key": "o1", "value": {"id": "o1", "amount": 2.5}}]));
    let lines = env.ok(&["product", "export", "orders.placed"]);
    let record: Value = serde_json::from_str(lines.trim()).expect("a JSON line");
    assert_eq!(record["value"]["amount"], 2.5);
    let csv = env.path("orders.csv");
    env.ok(&["product", "export", "orders.placed", "--format", "csv", "--output", &csv]);
    let text = std::fs::read_to_string(&csv).expect("CSV written");
    assert!(text.starts_with("partition,offset,timestamp,key,id,amount\r\n0,0,"), "{text}");
    assert!(text.ends_with(",o1,o1,2.5\r\n"), "{text}");

    // The lifecycle, with refusals as clear errors.
    assert!(env.fails(&["product", "retire", "orders.placed"]).contains("deprecate it first"));
    assert!(env.fails(&["product", "publish", "finance.revenue"]).contains("registered schema"));
    env.ok(&["product", "deprecate", "orders.placed", "--reason", "replaced", "--sunset", "2999-01-01"]);
    assert!(env.fails(&["product", "retire", "orders.placed"]).contains("sunset date 2999-01-01 has not come yet"));
    assert_eq!(env.ok(&["product", "retire", "finance.report"]), "retired product 'finance.report'\n");
    assert!(env.fails(&["product", "delete", "finance.report"]).contains("--yes"));
    assert_eq!(env.ok(&["product", "delete", "finance.report", "--yes"]), "deleted product 'finance.report'\n");
    assert!(env.fails(&["product", "get", "finance.report"]).contains("error 40404"));
    assert!(env.fails(&["domain", "delete", "finance"]).contains("finance.revenue"));
    env.post(
        "/registry/subjects/finance.revenue-value/versions",
        &json!({"schema": r#"{"type":"record","name":"Revenue","fields":[{"name":"total","type":"double"}]}"#}),
    );
    assert_eq!(env.ok(&["product", "publish", "finance.revenue"]), "published product 'finance.revenue'\n");
    env.ok(&["domain", "create", "scratch", "--team", "t", "--owner", "alice"]);
    assert_eq!(env.ok(&["domain", "delete", "scratch"]), "deleted domain 'scratch'\n");
    assert!(env.fails(&["domain", "get", "scratch"]).contains("error 40403"));

    let history: Value = serde_json::from_str(&env.ok(&["domain", "get", "orders"])).expect("JSON");
    assert_eq!(history["revision"], 2);
}

#[test]
fn a_product_is_made_from_a_derived_stream() {
    let env = start();
    env.ok(&["domain", "create", "sales", "--team", "team-sales", "--owner", "alice"]);
    env.ok(&[
        "sql",
        "-e",
        "CREATE STREAM CLICKS (ID STRING KEY, URL STRING) WITH (kafka_topic='clicks', value_format='JSON', \
         partitions=1); CREATE STREAM PAGES AS SELECT ID, UCASE(URL) AS PAGE FROM CLICKS;",
    ]);
    let out = env.ok(&["product", "from-sql", "PAGES", "--id", "pages", "--domain", "sales", "--tag", "web"]);
    assert_eq!(
        out,
        "created product 'sales.pages' (draft) from PAGES\n  input topic clicks\n  0 field lineage edge(s)\n\
         publishing still needs:\n  qualityTier is not set (raw, curated or authoritative): \
         run `weft product update sales.pages --quality-tier raw|curated|authoritative`\n\
         recommended:\n  no SLA tier: run `weft product update sales.pages --sla-tier bronze|silver|gold`\n  \
         no freshness objective: run `weft product update sales.pages --freshness-objective 15m`\n"
    );
    let product: Value = serde_json::from_str(&env.ok(&["product", "get", "sales.pages"])).expect("JSON");
    assert_eq!(product["spec"]["outputPorts"][0]["topic"], "PAGES");
    assert_eq!(product["spec"]["owner"], "alice");
    let error = env.fails(&["product", "from-sql", "CLICKS", "--id", "clicks", "--domain", "sales"]);
    assert!(error.contains("not written by a persistent query"), "{error}");
    // Doing what it said is enough to publish.
    env.ok(&["product", "update", "sales.pages", "--quality-tier", "curated"]);
    assert_eq!(env.ok(&["product", "publish", "sales.pages"]), "published product 'sales.pages'\n");
    // With everything given, the product is ready at once.
    env.ok(&["sql", "-e", "CREATE STREAM VISITS AS SELECT ID, URL FROM CLICKS;"]);
    let out = env.ok(&[
        "product",
        "from-sql",
        "VISITS",
        "--id",
        "visits",
        "--domain",
        "sales",
        "--quality-tier",
        "raw",
        "--tag",
        "web",
    ]);
    assert!(!out.contains("publishing still needs:"), "{out}");
    assert!(out.contains("\nready to publish: run `weft product publish sales.visits`\n"), "{out}");
}

#[test]
fn access_is_requested_and_decided_through_the_cli() {
    let env = start();
    env.ok(&["domain", "create", "sales", "--team", "team-sales", "--owner", "alice"]);
    env.ok(&["product", "create", "sales.orders", "--owner", "alice"]);
    let as_dave = |args: &[&str]| {
        let output = env.weft_as("dave", args);
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, _) =
        as_dave(&["access", "request", "sales.orders", "--purpose", "Revenue report", "--consumer", "finance"]);
    assert!(ok);
    assert_eq!(out, "requested access to 'sales.orders': ar-1 (pending)\n");
    let (ok, _, error) = as_dave(&["access", "approve", "ar-1"]);
    assert!(!ok && error.contains("may not approve"), "{error}");
    assert_eq!(
        env.ok(&["access", "list", "--approver", "alice", "--status", "pending"]),
        "ar-1\tpending\tsales.orders\tdave\tRevenue report\n"
    );
    assert_eq!(env.ok(&["access", "approve", "ar-1", "--reason", "ok"]), "ar-1 is approved (sales.orders for dave)\n");
    assert!(env.fails(&["access", "deny", "ar-1"]).contains("only a pending request can be denied"));
    assert_eq!(env.ok(&["access", "revoke", "ar-1"]), "ar-1 is revoked (sales.orders for dave)\n");
    assert_eq!(
        env.ok(&["access", "list", "--requester", "dave"]),
        "ar-1\trevoked\tsales.orders\tdave\tRevenue report\n"
    );
}

#[test]
fn a_products_live_profile_through_the_cli() {
    let env = start();
    env.ok(&["domain", "create", "shop", "--team", "team-shop", "--owner", "alice"]);
    env.post("/api/v1/topics", &json!({"name": "orders", "partitions": 2}));
    env.ok(&["product", "create", "shop.orders", "--owner", "alice", "--topic", "orders"]);
    let records: Vec<Value> = (0..5)
        .map(|i| json!({"value": {"status": if i < 3 { "paid" } else { "placed" }, "amount": i as f64 + 0.5}}))
        .collect();
    env.post("/api/v1/topics/orders/records", &Value::Array(records));

    let table = env.ok(&["product", "profile", "shop.orders"]);
    assert!(table.starts_with("product shop.orders (port events, topic orders)\nrecords: 5 ("), "{table}");
    assert!(table.contains("dead-lettered: 0 (0% of records received)"), "{table}");
    assert!(table.contains("| amount | number | 5     | 0     | ~5       | 0.5 | 4.5 | 2.5  |"), "{table}");
    assert!(
        table.contains("| status | string | 5     | 0     | ~2       |     |     |      | paid (3), placed (2) |"),
        "{table}"
    );

    let answer: Value = serde_json::from_str(&env.ok(&["product", "profile", "shop.orders", "--json"])).expect("JSON");
    assert_eq!((answer["records"].as_u64(), answer["partial"].as_bool()), (Some(5), Some(false)));
    assert!(env.fails(&["product", "profile", "shop.nothing"]).contains("shop.nothing"));
    assert!(env.fails(&["product", "profile", "shop.orders", "--port", "nope"]).contains("nope"));
}
