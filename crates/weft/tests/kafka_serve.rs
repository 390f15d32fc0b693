//! `weft serve --kafka`: the mesh on a Kafka-protocol broker (tansu, started for the test), used
//! through the CLI and its REST API like the embedded one. Built with the `kafka` feature only.
#![cfg(feature = "kafka")]

mod serve_process;

use std::process::Command;

use serve_process::ServeProcess;
use weft_kafka::testing::Broker;

/// Records produced through the REST API land in the broker and read back through it, and the
/// mesh's own state (the topic, consumer positions) survives a restart of the server.
#[test]
fn serve_on_kafka_produces_and_reads_records() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("people.jsonl");
    let lines: Vec<String> = (0..10).map(|i| format!("{{\"id\": \"p{i}\", \"n\": {i}}}")).collect();
    std::fs::write(&file, lines.join("\n") + "\n").expect("write the records");
    let file = file.to_string_lossy().into_owned();

    // SIGKILL: what the server acknowledged is in the broker already (acks=all).
    let server = serve(&broker, dir.path());
    ok(&server, &["topic", "create", "people", "--partitions", "2"]);
    let out = ok(&server, &["produce", "people", "--file", &file, "--key-field", "id"]);
    assert!(out.contains("produced 10 records to 'people'"), "{out}");
    server.kill();

    // A new server on the same cluster finds the topic and its records there.
    let server = serve(&broker, dir.path());
    assert!(ok(&server, &["topic", "list"]).lines().any(|l| l == "people"));
    let consumed = ok(&server, &["consume", "people"]);
    let mut numbers: Vec<i64> = consumed
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("a JSON line per record");
            record["value"]["n"].as_i64().expect("the value's n")
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (0..10).collect::<Vec<_>>());
    server.kill();
}

/// Two servers on one cluster serve one mesh: a schema registered on one is served by the other
/// under the same id, and a domain created on one is listed by the other, without a restart.
#[test]
fn two_servers_on_one_cluster_see_each_others_changes() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let first = serve(&broker, &dir.path().join("first"));
    let second = serve(&broker, &dir.path().join("second"));

    let schema = dir.path().join("order.avsc");
    std::fs::write(&schema, r#"{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}"#)
        .expect("write the schema");
    let registered = ok(&first, &["schema", "register", "orders-value", "--file", &schema.to_string_lossy()]);
    let id = registered
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .unwrap_or_else(|| panic!("no id in {registered:?}"))
        .to_string();
    let on_second = eventually(|| run(&second, &["schema", "get", "orders-value"]));
    assert!(on_second.contains("Order"), "the second server serves the schema: {on_second}");
    let by_id = ok(&second, &["schema", "get", "--id", &id]);
    assert!(by_id.contains("Order"), "the second server serves id {id}: {by_id}");

    // A second registration on the other server continues the same sequence of ids.
    let schema = dir.path().join("customer.avsc");
    std::fs::write(
        &schema,
        r#"{"type": "record", "name": "Customer", "fields": [{"name": "name", "type": "string"}]}"#,
    )
    .expect("write the schema");
    let registered = ok(&second, &["schema", "register", "customers-value", "--file", &schema.to_string_lossy()]);
    let next: u32 = id.parse::<u32>().expect("a numeric id") + 1;
    assert!(registered.contains(&format!("id {next}")), "the next id is {next}: {registered}");

    ok(&second, &["domain", "create", "sales", "--team", "Sales", "--owner", "tester"]);
    let domains = eventually(|| run(&first, &["domain", "list"]).filter(|out| out.contains("sales")));
    assert!(domains.contains("sales"), "{domains}");
    first.kill();
    second.kill();
}

/// Retries `attempt` for up to ten seconds (the servers follow each other through the broker's
/// offsets, which they poll), returning its first answer.
fn eventually(attempt: impl Fn() -> Option<String>) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(out) = attempt() {
            return out;
        }
        assert!(std::time::Instant::now() < deadline, "the other server never saw the change");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `weft ARGS` against `server`: its standard output when it succeeded.
fn run(server: &ServeProcess, args: &[&str]) -> Option<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("WEFT_URL", &server.url)
        .env("WEFT_ACTOR", "tester")
        .output()
        .expect("weft runs");
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `weft serve --kafka BOOTSTRAP` on a free loopback port (its data directory unused).
fn serve(broker: &Broker, dir: &std::path::Path) -> ServeProcess {
    let bootstrap = broker.bootstrap();
    let unused = dir.join("unused");
    let server = ServeProcess::start(&unused, &["--kafka", &bootstrap, "--kafka-config", "client.id=weft-test"]);
    assert!(server.banner.contains("Kafka cluster"), "not serving on Kafka: {}", server.banner);
    server
}

/// `weft ARGS` against `server`, which must succeed; its standard output.
fn ok(server: &ServeProcess, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("WEFT_URL", &server.url)
        .env("WEFT_ACTOR", "tester")
        .output()
        .expect("weft runs");
    assert!(output.status.success(), "weft {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}
