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

/// Schema ids stay unique when both servers register at once and when the leader stops among the
/// registrations: the follower forwards them to the leader, and once the leader is gone the
/// survivor is elected and takes them itself. A registration whose answer was lost with the leader
/// is retried by its client, and registering the same schema again answers the same id.
///
/// The leader stops gracefully (SIGTERM): after a SIGKILL, tansu 0.6's group coordinator on its
/// SQLite store panics when the survivor rejoins (`UpdateGroup` ... `SendError`, then "entered
/// unreachable code" in tansu-storage's service.rs), and no member is ever assigned again.
#[test]
fn registrations_on_two_servers_get_distinct_ids_even_when_the_leader_stops() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let first = serve(&broker, &dir.path().join("first"));
    within(30, "the first server leading", || leader_named_by(&first, &first.url));
    let second = serve(&broker, &dir.path().join("second"));
    // The second server forwards ordered writes to the first, and says so.
    within(30, "the second server forwarding to the first", || leader_named_by(&second, &first.url));

    let mut ids = std::collections::BTreeMap::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let server = if i % 2 == 0 { &first } else { &second };
                scope.spawn(move || (i, register(&server.url, i, 30)))
            })
            .collect();
        for handle in handles {
            let (i, id) = handle.join().expect("a registration thread");
            ids.insert(i, id);
        }
    });

    // The leader stops while the second server takes more registrations.
    let second_url = second.url.clone();
    let registering =
        std::thread::spawn(move || (10..20).map(|i| (i, register(&second_url, i, 60))).collect::<Vec<_>>());
    std::thread::sleep(std::time::Duration::from_millis(300));
    first.stop();
    for (i, id) in registering.join().expect("the registrations through the survivor") {
        ids.insert(i, id);
    }
    let distinct: std::collections::BTreeSet<u32> = ids.values().copied().collect();
    assert_eq!(distinct.len(), 20, "two schemas share an id: {ids:?}");
    // And the survivor serves each id with its own schema.
    for (i, id) in &ids {
        let body = http(&second.url, "GET", &format!("/registry/schemas/ids/{id}"), None).1;
        assert!(body.contains(&format!("Schema{i}")), "id {id} is not schema {i}: {body}");
    }
    second.kill();
}

/// Registers the record schema `Schema{i}` under `s{i}-value` through `url`, retrying refusals
/// (503: the leadership is moving) and lost answers for up to `seconds`; its id.
fn register(url: &str, i: u32, seconds: u64) -> u32 {
    let schema = format!(r#"{{"type":"record","name":"Schema{i}","fields":[{{"name":"f","type":"string"}}]}}"#);
    let body = serde_json::json!({ "schema": schema }).to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let (status, answer) = http(url, "POST", &format!("/registry/subjects/s{i}-value/versions"), Some(&body));
        if status == 200 {
            let answer: serde_json::Value = serde_json::from_str(&answer).expect("a JSON answer");
            return answer["id"].as_u64().expect("an id") as u32;
        }
        assert!(std::time::Instant::now() < deadline, "registration {i} never succeeded: {status} {answer}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Whether a change sent to `server` is answered by the leader at `leader` (a follower names it in
/// `x-weft-leader`; the leader answers itself, without the header). The change is harmless: the
/// global compatibility level set to its default.
fn leader_named_by(server: &ServeProcess, leader: &str) -> bool {
    let agent = ureq_agent();
    let answer = agent
        .put(format!("{}/registry/config", server.url))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .header("host", "localhost")
        .send(r#"{"compatibility":"BACKWARD"}"#);
    let Ok(answer) = answer else { return false };
    if answer.status() != 200 {
        return false;
    }
    match answer.headers().get("x-weft-leader").and_then(|v| v.to_str().ok()) {
        Some(named) => named == leader,
        None => server.url == leader,
    }
}

fn ureq_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .into()
}

/// One request to the server; its status and body (status 0 when it did not answer).
fn http(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let agent = ureq_agent();
    let url = format!("{base}{path}");
    let answer = match body {
        Some(body) => agent
            .post(&url)
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .header("host", "localhost")
            .header("x-weft-actor", "tester")
            .send(body),
        None => agent.get(&url).header("host", "localhost").header("x-weft-actor", "tester").call(),
    };
    assert!(method == "POST" || body.is_none());
    match answer {
        Ok(mut answer) => (answer.status().as_u16(), answer.body_mut().read_to_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// Waits up to `seconds` for `condition`.
fn within(seconds: u64, what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within {seconds} s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
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
