//! `weft demo` end to end: the mesh it builds over the REST API, live data, and a restart on the same
//! data directory that reuses everything and carries on.

mod demo_process;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use demo_process::{free_port, temp_data_dir, Demo};
use serde_json::Value;

const DOMAINS: [&str; 5] = ["customers", "inventory", "orders", "payments", "shipping"];
const SOURCES: [&str; 6] = [
    "customers.profiles",
    "inventory.items",
    "inventory.stock-movements",
    "orders.placed",
    "payments.transactions",
    "shipping.shipments",
];
const DERIVED: [&str; 2] = ["orders.enriched", "payments.volume-by-method"];

fn record_count(demo: &Demo, topic: &str) -> u64 {
    let description = demo.get(&format!("/api/v1/topics/{topic}"));
    description["partitions"].as_array().expect("partitions").iter().map(|p| p["latest_offset"].as_u64().unwrap()).sum()
}

/// Waits until `topic` holds more than `than` records.
fn wait_for_growth(demo: &Demo, topic: &str, than: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let count = record_count(demo, topic);
        if count > than {
            return count;
        }
        assert!(Instant::now() < deadline, "'{topic}' did not grow past {than} records within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn strings(value: &Value, pointer: &str) -> BTreeSet<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .expect(pointer)
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

/// What a start must show, whether it built the mesh or found it.
fn check_mesh(demo: &Demo) {
    let domains = demo.get("/api/v1/domains");
    let names: Vec<&str> =
        domains["domains"].as_array().unwrap().iter().map(|d| d["spec"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, DOMAINS, "exactly the five domains, once each");
    for domain in domains["domains"].as_array().unwrap() {
        let members = domain["spec"]["members"].as_array().unwrap();
        assert!(members.iter().any(|m| m["role"] == "owner"), "{domain}");
        assert!(!domain["spec"]["contact"].as_str().unwrap().is_empty());
    }

    let products = demo.get("/api/v1/products");
    let products = products["products"].as_array().unwrap();
    let ids: Vec<&str> = products.iter().map(|p| p["spec"]["id"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = SOURCES.iter().chain(DERIVED.iter()).copied().collect();
    expected.sort();
    assert_eq!(ids, expected, "every product once");
    for product in products {
        let id = product["spec"]["id"].as_str().unwrap();
        assert_eq!(product["lifecycle"]["status"], "published", "{id}");
        assert!(product["spec"]["qualityTier"].is_string(), "{id} has a quality tier");
        assert!(product["spec"]["slaTier"].is_string(), "{id} has an SLA");
        assert!(!product["spec"]["tags"].as_array().unwrap().is_empty(), "{id} has tags");
        assert!(product["spec"]["documentation"].as_str().unwrap().starts_with("# "), "{id} has documentation");
        // One schema version per subject: registering again on a restart added none.
        let subject = product["spec"]["outputPorts"][0]["schemaSubject"].as_str().unwrap();
        let versions = demo.get(&format!("/registry/subjects/{subject}/versions"));
        assert_eq!(versions, serde_json::json!([1]), "{subject}");
    }

    // Schemas carry field docs, in Avro and in JSON Schema.
    let avro = demo.get("/registry/subjects/orders.placed-value/versions/latest");
    assert_eq!(avro["schemaType"].as_str().unwrap_or("AVRO"), "AVRO");
    assert!(avro["schema"].as_str().unwrap().contains("\"doc\""));
    let json_schema = demo.get("/registry/subjects/customers.profiles-value/versions/latest");
    assert_eq!(json_schema["schemaType"], "JSON");
    assert!(json_schema["schema"].as_str().unwrap().contains("\"description\""));

    // Derived products: input ports make product lineage, and fields have lineage too.
    let upstream = demo.get("/api/v1/products/orders.enriched/lineage/upstream");
    let text = upstream.to_string();
    assert!(text.contains("orders.placed") && text.contains("customers.profiles"), "{upstream}");
    let downstream = demo.get("/api/v1/products/payments.transactions/lineage/downstream");
    assert!(downstream.to_string().contains("payments.volume-by-method"), "{downstream}");
    let fields = demo.get("/api/v1/products/orders.enriched/lineage/fields");
    let fields_text = fields.to_string();
    assert!(fields_text.contains("loyalty_tier") && fields_text.contains("LOYALTY_TIER"), "{fields}");

    // The two persistent queries, once each.
    let queries = demo.post("/ksql", &serde_json::json!({"ksql": "SHOW QUERIES;"}));
    let sinks: Vec<String> =
        queries[0]["queries"].as_array().expect("queries").iter().flat_map(|q| strings(q, "/sinks")).collect();
    let mut sorted = sinks.clone();
    sorted.sort();
    assert_eq!(sorted, ["ORDERS_ENRICHED", "PAYMENT_VOLUME_BY_METHOD"], "{queries}");
}

/// Every order id of `orders.placed` (the demo's topics are small enough to read whole).
fn order_ids(demo: &Demo) -> Vec<String> {
    let mut ids = Vec::new();
    for partition in 0..3 {
        let mut offset = 0;
        loop {
            let page = demo
                .get(&format!("/api/v1/topics/orders.placed/records?partition={partition}&offset={offset}&limit=1000"));
            let records = page["records"].as_array().unwrap();
            ids.extend(records.iter().filter_map(|r| r["value"]["order_id"].as_str().map(String::from)));
            if records.is_empty() || page["next_offset"] == page["high_watermark"] {
                break;
            }
            offset = page["next_offset"].as_u64().unwrap();
        }
    }
    ids
}

#[test]
fn the_demo_builds_a_live_mesh_and_carries_on_after_a_restart() {
    let (_dir, data) = temp_data_dir();
    let port = free_port();

    let demo = Demo::start(&data, port);
    check_mesh(&demo);
    let orders = wait_for_growth(&demo, "orders.placed", 0, Duration::from_secs(5));
    let orders = wait_for_growth(&demo, "orders.placed", orders, Duration::from_secs(5));
    // Payments and shipments follow orders; derived products compute from the sources.
    wait_for_growth(&demo, "payments.transactions", 0, Duration::from_secs(10));
    wait_for_growth(&demo, "orders.enriched", 0, Duration::from_secs(10));
    wait_for_growth(&demo, "payments.volume-by-method", 0, Duration::from_secs(10));
    let enriched = demo.get("/api/v1/products/orders.enriched/sample?limit=5");
    let sample = enriched.to_string();
    assert!(sample.contains("CUSTOMER_NAME") && sample.contains("LOYALTY_TIER"), "{enriched}");
    assert!(record_count(&demo, "customers.profiles") >= 240, "reference data was seeded");
    let status = demo.stop();
    assert!(status.success(), "a clean stop on SIGINT: {status}");

    let demo = Demo::start(&data, port);
    assert!(
        demo.log.iter().any(|line| line.contains("everything already existed")),
        "the second start creates nothing:\n{}",
        demo.log.join("\n")
    );
    check_mesh(&demo);
    let before = record_count(&demo, "orders.placed");
    assert!(before >= orders, "nothing was lost");
    wait_for_growth(&demo, "orders.placed", before, Duration::from_secs(5));
    let enriched = record_count(&demo, "orders.enriched");
    wait_for_growth(&demo, "orders.enriched", enriched, Duration::from_secs(10));

    let ids = order_ids(&demo);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "order ids carry on after the restart instead of starting over");
    assert!(demo.stop().success());
}

/// The Create page's templates (`crates/weft-server/web/lib/templates.json`, one list the page and
/// this test read) are ready queries against this mesh: each must validate and, previewed from the
/// earliest record as the page previews it, yield rows. A change to the demo that breaks one fails here,
/// without a browser.
#[test]
fn every_create_template_validates_and_previews_rows_on_the_demo() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../weft-server/web/lib/templates.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("templates.json")).expect("JSON");
    let templates = file["templates"].as_array().expect("a list of templates");
    let ids: Vec<&str> = templates.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["filter", "enrich", "windowed-having", "region-split", "top-n"], "the gallery's templates");

    let (_dir, data) = temp_data_dir();
    let demo = Demo::start(&data, free_port());
    for template in templates {
        let id = template["id"].as_str().unwrap_or_default();
        for member in ["title", "description", "output", "sql"] {
            assert!(template[member].as_str().is_some_and(|s| !s.trim().is_empty()), "template {id} lacks {member}");
        }
        let answer = demo.post("/api/v1/sql/validate", &serde_json::json!({"sql": template["sql"]}));
        assert_eq!(answer["valid"], true, "template {id} does not validate on the demo: {answer}");
        let statement = &answer["statements"][0];
        assert_eq!(answer["statements"].as_array().map(Vec::len), Some(1), "template {id} is one statement");
        let select = statement["select"].as_str().unwrap_or_else(|| panic!("template {id} has no query: {answer}"));
        for input in template["inputs"].as_array().expect("inputs") {
            let input = input.as_str().expect("an input name");
            assert!(select.contains(input), "template {id} lists {input} as an input but does not read it");
        }
        let output = statement["name"].as_str().expect("the created source's name");
        assert!(
            template["output"].as_str().unwrap_or_default().contains(output),
            "template {id} names its output {output}"
        );

        // New records keep arriving, so a template whose rows need a few of them still ends.
        let query = format!("{select} LIMIT 1;");
        let properties = serde_json::json!({"auto.offset.reset": "earliest"});
        let rows = demo.post("/query", &serde_json::json!({"ksql": query, "streamsProperties": properties}));
        let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(rows.iter().any(|item| item.get("row").is_some()), "template {id} previews no row: {rows:?}");
    }
    assert!(demo.stop().success());
}

/// A demo directory from before the mesh layer (its SQL source over the Avro orders declared as JSON) is
/// moved aside, whole, and the demo starts afresh beside it.
#[test]
fn a_demo_directory_from_before_the_mesh_is_kept_aside_and_the_demo_starts_afresh() {
    let (_dir, data) = temp_data_dir();
    // What the earlier demo left: the ORDERS stream read as JSON, and an order on its topic.
    let old = server_on(&data);
    let statements = "CREATE STREAM ORDERS (ORDER_ID VARCHAR KEY, TOTAL_AMOUNT DOUBLE) \
                      WITH (KAFKA_TOPIC='orders.placed', VALUE_FORMAT='JSON', PARTITIONS=1); \
                      INSERT INTO ORDERS (ORDER_ID, TOTAL_AMOUNT) VALUES ('o-1', 12.5);";
    let answer: Value = ureq::post(format!("{}/ksql", old.url()))
        .send_json(serde_json::json!({ "ksql": statements }))
        .expect("the statements run")
        .body_mut()
        .read_json()
        .expect("JSON");
    assert!(answer.is_array(), "every statement succeeds: {answer}");
    old.stop().expect("server stops");

    let demo = Demo::start(&data, free_port());
    let kept = data.with_file_name("demo.pre-mesh");
    assert!(
        demo.log.iter().any(|line| line.contains("earlier Weft") && line.contains(&kept.display().to_string())),
        "the demo says where the old directory went:\n{}",
        demo.log.join("\n")
    );
    check_mesh(&demo);
    assert!(demo.stop().success());

    // The old directory is whole: its stream and its order are still there.
    let old = server_on(&kept);
    let streams: Value = ureq::post(format!("{}/ksql", old.url()))
        .send_json(serde_json::json!({ "ksql": "DESCRIBE ORDERS;" }))
        .expect("DESCRIBE runs")
        .body_mut()
        .read_json()
        .expect("JSON");
    assert_eq!(streams[0]["sourceDescription"]["valueFormat"], "JSON", "{streams}");
    let records = demo_process::get(&old.url(), "/api/v1/topics/orders.placed/records?partition=0&offset=0");
    assert_eq!(records["records"][0]["key"], "o-1", "{records}");
    assert_eq!(records["records"][0]["value"]["TOTAL_AMOUNT"], 12.5, "{records}");
    old.stop().expect("server stops");
}

/// `weft serve`'s server in-process on a free loopback port.
fn server_on(data_dir: &std::path::Path) -> weft_server::BackgroundServer {
    let mut config = weft_server::ServerConfig::new(data_dir);
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.auth = weft_server::AuthMode::None;
    weft_server::BackgroundServer::start(config).expect("server starts")
}
