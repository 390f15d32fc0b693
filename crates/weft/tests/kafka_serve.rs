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
