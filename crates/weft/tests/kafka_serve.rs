//! `weft serve --kafka`: the mesh on a Kafka-protocol broker (tansu, started for the test), used
//! through the CLI and its REST API like the embedded one. Built with the `kafka` feature only.
#![cfg(feature = "kafka")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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

    let server = Serve::start(&broker, dir.path());
    server.ok(&["topic", "create", "people", "--partitions", "2"]);
    let out = server.ok(&["produce", "people", "--file", &file, "--key-field", "id"]);
    assert!(out.contains("produced 10 records to 'people'"), "{out}");
    drop(server);

    // A new server on the same cluster finds the topic and its records there.
    let server = Serve::start(&broker, dir.path());
    assert!(server.ok(&["topic", "list"]).lines().any(|l| l == "people"));
    let consumed = server.ok(&["consume", "people"]);
    let mut numbers: Vec<i64> = consumed
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("a JSON line per record");
            record["value"]["n"].as_i64().expect("the value's n")
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (0..10).collect::<Vec<_>>());
}

/// `weft serve --kafka BOOTSTRAP` on a free loopback port, killed when dropped.
struct Serve {
    child: std::process::Child,
    url: String,
}

impl Serve {
    fn start(broker: &Broker, dir: &std::path::Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["serve", "--listen", "127.0.0.1:0", "--auth", "none", "--kafka", &broker.bootstrap()])
            .args(["--kafka-config", "client.id=weft-test"])
            .arg("--data-dir")
            .arg(dir.join("unused"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let url = loop {
            let line = lines.next().expect("weft serve printed its address").expect("stderr is text");
            if let Some(rest) = line.strip_prefix("weft listening on ") {
                assert!(line.contains("Kafka cluster"), "not serving on Kafka: {line}");
                break rest.split_whitespace().next().expect("an address").to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Serve { child, url }
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_URL", &self.url)
            .env("WEFT_ACTOR", "tester")
            .output()
            .expect("weft runs");
        assert!(output.status.success(), "weft {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SIGTERM would be cleaner, but std has only kill; what the server acknowledged is in the
        // broker already (acks=all), so nothing acknowledged depends on a clean stop.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
