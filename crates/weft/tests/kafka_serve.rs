//! `weft serve --kafka`: the mesh on a Kafka-protocol broker (tansu, started for the test), used
//! through the CLI and its REST API like the embedded one. Built with the `kafka` feature only.
#![cfg(feature = "kafka")]

mod demo_process;
mod serve_process;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use demo_process::{free_port, temp_data_dir, Demo};
use serde_json::{json, Value};
use serve_process::ServeProcess;
use weft_kafka::testing::{Broker, Cluster};

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

/// A cluster that requires SASL sign-in, as managed clusters do: `weft serve` passes the librdkafka
/// properties of `--kafka-config` to every client it opens (the log's, the election's), and a wrong
/// password stops it at start with the broker's reason.
#[test]
fn serve_signs_in_to_a_cluster_that_requires_sasl() {
    let broker = Broker::start_with_scram_user("weft", "s3cret-pass");
    let dir = tempfile::tempdir().expect("temp dir");
    let sasl = |password: &str| {
        [
            "security.protocol=SASL_PLAINTEXT",
            "sasl.mechanism=SCRAM-SHA-256",
            "sasl.username=weft",
            &format!("sasl.password={password}"),
        ]
        .iter()
        .flat_map(|property| ["--kafka-config".to_string(), property.to_string()])
        .collect::<Vec<String>>()
    };
    let bootstrap = broker.bootstrap();
    let mut args = vec!["--kafka".to_string(), bootstrap.clone()];
    args.extend(sasl("s3cret-pass"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ServeProcess::start(&dir.path().join("unused"), &args);
    ok(&server, &["topic", "create", "signed-in"]);
    assert!(ok(&server, &["topic", "list"]).lines().any(|l| l == "signed-in"));
    server.kill();

    let mut refused = Command::new(env!("CARGO_BIN_EXE_weft"));
    refused.args(["serve", "--listen", "127.0.0.1:0", "--auth", "none", "--kafka", &bootstrap]).args(sasl("wrong"));
    let refused = refused
        .arg("--data-dir")
        .arg(dir.path().join("refused"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft serve starts");
    let output = refused.wait_with_output().expect("weft serve ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a wrong password does not serve");
    assert!(stderr.contains("SASL authentication error"), "the broker's reason: {stderr}");
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

/// Schema ids stay unique when both servers register at once and when the leader is killed
/// (SIGKILL) among the registrations: the follower forwards them to the leader, and once the
/// leader's session times out the survivor is elected and takes them itself. A registration whose
/// answer was lost with the leader is retried by its client, and registering the same schema again
/// answers the same id.
#[test]
fn registrations_on_two_servers_get_distinct_ids_even_when_the_leader_is_killed() {
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, second) = leader_and_follower(&cluster, dir.path());

    let mut ids = std::collections::BTreeMap::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10u32)
            .map(|i| {
                let server = if i.is_multiple_of(2) { &first } else { &second };
                scope.spawn(move || (i, register(&server.url, i, 30)))
            })
            .collect();
        for handle in handles {
            let (i, id) = handle.join().expect("a registration thread");
            ids.insert(i, id);
        }
    });

    // The leader is killed while the second server takes more registrations: no LeaveGroup, so
    // the coordinator moves the leadership only when the leader's session (6 s) times out.
    let second_url = second.url.clone();
    let registering =
        std::thread::spawn(move || (10..20).map(|i| (i, register(&second_url, i, 60))).collect::<Vec<_>>());
    std::thread::sleep(std::time::Duration::from_millis(300));
    first.kill();
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

/// Persistent queries run on the leader alone and move with the leadership. SQL statements sent to
/// the follower are relayed to the leader and known on both servers at once; the leader is
/// SIGKILLed in the middle of the input, and the survivor takes its queries over from their
/// committed positions: every input record is in the derived stream exactly once, and the per-key
/// aggregation ends with the exact counts and sums (nothing lost, nothing counted twice).
#[test]
fn persistent_queries_are_split_between_the_servers_and_move_to_the_survivor_when_one_is_killed() {
    const RECORDS: usize = 3000;
    const USERS: usize = 7;
    const GROUPS: usize = 5;
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, second) = leader_and_follower(&cluster, dir.path());
    ok(&second, &["topic", "create", "clicks", "--partitions", "2"]);

    let statements =
        "CREATE STREAM CLICKS (USERID STRING KEY, N INT, G STRING) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON'); \
        CREATE STREAM CLICKS_COPY AS SELECT USERID, N FROM CLICKS EMIT CHANGES; \
        CREATE TABLE PER_USER AS SELECT USERID, COUNT(*) AS C, SUM(N) AS TOTAL FROM CLICKS GROUP BY USERID \
        EMIT CHANGES; \
        CREATE TABLE PER_G AS SELECT G, COUNT(*) AS C, SUM(N) AS TOTAL FROM CLICKS GROUP BY G EMIT CHANGES;";
    let (status, leader, body) = ksql(&second.url, statements);
    assert_eq!(status, 200, "{body}");
    assert_eq!(leader.as_deref(), Some(first.url.as_str()), "the follower relays the statements: {body}");
    // Both servers know the new sources at once (the follower caught up before answering); a SHOW is
    // answered where it is asked.
    for server in [&first, &second] {
        let (status, leader, body) = ksql(&server.url, "SHOW STREAMS;");
        assert_eq!((status, leader), (200, None), "{body}");
        assert!(body.contains("CLICKS_COPY"), "{} lists the derived stream: {body}", server.url);
    }

    let api = Api::new(&second.url);
    let produce = |range: std::ops::Range<usize>| {
        for chunk in range.collect::<Vec<_>>().chunks(250) {
            let records: Vec<Value> = chunk
                .iter()
                .map(|i| json!({"key": format!("user{}", i % USERS), "value": {"N": i, "G": format!("g{}", i % GROUPS)}}))
                .collect();
            let (status, body) = api.post("/api/v1/topics/clicks/records", &Value::Array(records));
            assert_eq!(status, 200, "{body}");
        }
    };
    produce(0..RECORDS / 2);
    // Each server runs one partition's task of each query (the election's task slots): both read
    // input, and output appears.
    for server in [&first, &second] {
        within(60, "both servers running a task of each query", || {
            ["CLICKS_COPY", "PER_USER", "PER_G"].iter().all(|sink| records_handled_by(server, sink) > 0)
        });
    }
    within(60, "the derived stream", || !topic_records(&api, "CLICKS_COPY").is_empty());
    std::thread::scope(|scope| {
        scope.spawn(|| produce(RECORDS / 2..RECORDS));
        first.kill();
    });

    within(90, "the survivor finishing the derived stream", || topic_records(&api, "CLICKS_COPY").len() >= RECORDS);
    let mut copied: Vec<i64> =
        topic_records(&api, "CLICKS_COPY").iter().map(|r| r["value"]["N"].as_i64().expect("N")).collect();
    copied.sort_unstable();
    let distinct: std::collections::BTreeSet<i64> = copied.iter().copied().collect();
    let missing = (0..RECORDS as i64).filter(|n| !distinct.contains(n)).count();
    assert_eq!(
        (copied.len(), missing),
        (RECORDS, 0),
        "each input record exactly once in the derived stream: {} records, {} distinct, {missing} missing",
        copied.len(),
        distinct.len()
    );

    let expected: std::collections::BTreeMap<String, (i64, i64)> = (0..USERS)
        .map(|u| {
            let ns: Vec<i64> = (0..RECORDS).filter(|i| i % USERS == u).map(|i| i as i64).collect();
            (format!("user{u}"), (ns.len() as i64, ns.iter().sum()))
        })
        .collect();
    let table = |name: &str| {
        let mut latest = std::collections::BTreeMap::new();
        for r in topic_records(&api, name) {
            let key = r["key"].as_str().unwrap_or_default().to_string();
            latest.insert(key, (r["value"]["C"].as_i64().unwrap_or(-1), r["value"]["TOTAL"].as_i64().unwrap_or(-1)));
        }
        latest
    };
    let mut last = std::collections::BTreeMap::new();
    let settled = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < settled {
        last = table("PER_USER");
        if last.values().map(|(c, _)| c).sum::<i64>() >= RECORDS as i64 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(last, expected, "the per-key counts and sums after the handover");
    // The aggregation grouped by a value column goes through its repartition topic.
    let expected: std::collections::BTreeMap<String, (i64, i64)> = (0..GROUPS)
        .map(|g| {
            let ns: Vec<i64> = (0..RECORDS).filter(|i| i % GROUPS == g).map(|i| i as i64).collect();
            (format!("g{g}"), (ns.len() as i64, ns.iter().sum()))
        })
        .collect();
    within(60, "the per-group table complete", || {
        table("PER_G").values().map(|(c, _)| c).sum::<i64>() >= RECORDS as i64
    });
    assert_eq!(table("PER_G"), expected, "the per-group counts and sums after the handover");
    second.kill();
}

/// A server bootstrapped with both brokers of a cluster keeps taking writes, serving reads and
/// running a persistent query while the brokers are SIGKILLed one after the other (each restarted
/// before the other is killed): tansu's brokers are stateless over one store, so the surviving
/// broker serves every partition. Every acknowledged record is stored, and the derived stream holds
/// each stored input record exactly once. A write refused while the cluster moves (503) is retried,
/// as a client would; it may then be stored twice, and the derived stream follows the input.
#[test]
#[ignore = "on tansu 0.6 the server's admin and metadata clients stay on the dead broker's address (ARCHITECTURE.md, The Kafka backend)"]
fn a_server_on_both_brokers_survives_each_broker_being_killed() {
    let mut cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve_on(&cluster.bootstrap(), &dir.path().join("server"));
    ok(&server, &["topic", "create", "clicks", "--partitions", "2"]);
    let statements =
        "CREATE STREAM CLICKS (USERID STRING KEY, N INT) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON'); \
        CREATE STREAM CLICKS_COPY AS SELECT USERID, N FROM CLICKS EMIT CHANGES;";
    let (status, _, body) = ksql(&server.url, statements);
    assert_eq!(status, 200, "{body}");

    let api = Api::new(&server.url);
    // Chunks of 20 records, numbered from `from` for `seconds`; a refused chunk is posted again.
    // The numbers acknowledged on the first attempt, and those that needed more.
    let produce = |from: usize, seconds: u64| {
        let mut first_time = Vec::new();
        let mut retried = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut next = from;
        while Instant::now() < deadline {
            let numbers: Vec<usize> = (next..next + 20).collect();
            next += 20;
            let records: Vec<Value> =
                numbers.iter().map(|i| json!({"key": format!("user{}", i % 7), "value": {"N": i}})).collect();
            let mut attempts = 0;
            loop {
                attempts += 1;
                let (status, body) = api.post("/api/v1/topics/clicks/records", &Value::Array(records.clone()));
                if status == 200 {
                    break;
                }
                assert!(attempts < 60, "chunk from {} refused {attempts} times: {status} {body}", numbers[0]);
                std::thread::sleep(Duration::from_millis(500));
            }
            (if attempts == 1 { &mut first_time } else { &mut retried }).extend(numbers);
        }
        (first_time, retried, next)
    };
    let mut first_time = Vec::new();
    let mut retried = Vec::new();
    let mut next = 0;
    for broker in 0..2 {
        let (once, again, after) = std::thread::scope(|scope| {
            let producing = scope.spawn(|| produce(next, 8));
            std::thread::sleep(Duration::from_secs(3));
            cluster.kill(broker);
            producing.join().expect("the producing thread")
        });
        assert!(!once.is_empty(), "no chunk acknowledged at once around the kill of broker {broker}");
        first_time.extend(once);
        retried.extend(again);
        next = after;
        cluster.restart(broker);
    }
    eprintln!("{} records acknowledged at once, {} after a retry", first_time.len(), retried.len());

    let numbers = |topic: &str| -> Vec<i64> {
        let mut all: Vec<i64> =
            topic_records(&api, topic).iter().map(|r| r["value"]["N"].as_i64().expect("N")).collect();
        all.sort_unstable();
        all
    };
    let stored = numbers("clicks");
    let count = |n: usize| stored.iter().filter(|&&s| s == n as i64).count();
    for &n in &first_time {
        assert_eq!(count(n), 1, "record {n}, acknowledged at the first attempt, stored once");
    }
    for &n in &retried {
        assert!((1..=2).contains(&count(n)), "record {n}, posted again after a refusal, stored {} times", count(n));
    }
    assert_eq!(stored.len(), first_time.len() + retried.iter().map(|&n| count(n)).sum::<usize>(), "nothing else");
    within(90, "the derived stream catching up", || numbers("CLICKS_COPY").len() >= stored.len());
    assert_eq!(numbers("CLICKS_COPY"), stored, "each stored input record exactly once in the derived stream");
    server.kill();
}

/// The records the query writing `sink` has read from its input and written to its sink on
/// `server` (its tasks there: a repartitioned aggregation's copiers read, its aggregators write).
fn records_handled_by(server: &ServeProcess, sink: &str) -> u64 {
    let (status, _, body) = ksql(&server.url, &format!("DESCRIBE {sink} EXTENDED;"));
    assert_eq!(status, 200, "{body}");
    let described: Value = serde_json::from_str(&body).expect("a JSON answer");
    let statistics = described[0]["sourceDescription"]["statistics"].as_str().unwrap_or_default().to_string();
    let counter = |name: &str| -> u64 {
        statistics
            .split(name)
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    counter("records-read=") + counter("records-written=")
}

/// `POST /ksql` with `text` (offsets from the earliest): the status, the leader that answered when
/// the server relayed it (`x-weft-leader`), and the body.
fn ksql(url: &str, text: &str) -> (u16, Option<String>, String) {
    let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
    let answer = ureq_agent()
        .post(format!("{url}/ksql"))
        .header("content-type", "application/vnd.ksql.v1+json")
        .header("host", "localhost")
        .header("x-weft-actor", "tester")
        .send(&body);
    let mut answer = answer.expect("the server answers");
    let leader = answer.headers().get("x-weft-leader").and_then(|v| v.to_str().ok()).map(str::to_string);
    (answer.status().as_u16(), leader, answer.body_mut().read_to_string().unwrap_or_default())
}

/// Every record of `topic` (up to a page of 10,000), through the read path of the server `api` asks.
fn topic_records(api: &Api, topic: &str) -> Vec<Value> {
    let (status, page) = api.get(&format!("/api/v1/topics/{topic}/records?limit=10000"));
    if status != 200 {
        return Vec::new();
    }
    page["records"].as_array().cloned().unwrap_or_default()
}

/// Two servers on `cluster`, each talking to a broker of its own (so their election, offsets and
/// records cross from one broker to the other through the shared store): the first started leads,
/// and the second forwards ordered writes to it (and says so).
fn leader_and_follower(cluster: &Cluster, dir: &Path) -> (ServeProcess, ServeProcess) {
    let first = serve_on(&cluster.broker(0), &dir.join("first"));
    within(30, "the first server leading", || leader_named_by(&first, &first.url));
    let second = serve_on(&cluster.broker(1), &dir.join("second"));
    within(30, "the second server forwarding to the first", || leader_named_by(&second, &first.url));
    (first, second)
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
fn within(seconds: u64, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within {seconds} s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Retries `attempt` for up to ten seconds (the servers follow each other through the broker's
/// offsets, which they poll), returning its first answer.
fn eventually(attempt: impl Fn() -> Option<String>) -> String {
    let mut answer = None;
    within(10, "the other server seeing the change", || {
        answer = attempt();
        answer.is_some()
    });
    answer.unwrap_or_default()
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

/// `weft demo --kafka`: the demo mesh built on the cluster, live, and found there again by a second
/// start (with a fresh data directory: the cluster holds the mesh), which carries on numbering orders.
#[test]
fn the_demo_runs_on_kafka_and_carries_on_after_a_restart() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    let args = ["--kafka", bootstrap.as_str(), "--kafka-config", "client.id=weft-demo-test"];
    let (_dir, data) = temp_data_dir();
    let port = free_port();
    let demo = Demo::start_with_args(&data, port, "none", &args);
    assert!(demo.log.iter().any(|l| l.contains(&format!("Kafka cluster {bootstrap}"))), "{}", demo.log.join("\n"));
    let products = demo.get("/api/v1/products");
    let ids: Vec<&str> =
        products["products"].as_array().expect("products").iter().filter_map(|p| p["spec"]["id"].as_str()).collect();
    assert_eq!(ids.len(), 8, "six source and two derived products: {ids:?}");
    let orders = wait_for_orders(&demo, 0);
    wait_for_orders(&demo, orders);
    assert!(demo.stop().success(), "a clean stop on SIGINT");

    let (_dir, data) = temp_data_dir();
    let demo = Demo::start_with_args(&data, port, "none", &args);
    assert!(
        demo.log.iter().any(|line| line.contains("everything already existed")),
        "the second start finds the mesh on the cluster:\n{}",
        demo.log.join("\n")
    );
    let before = wait_for_orders(&demo, 0);
    assert!(before >= orders, "nothing was lost");
    wait_for_orders(&demo, before);
    let page = demo.get("/api/v1/products/orders.placed/records?limit=10000");
    let mut ids: Vec<String> = page["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["value"]["order_id"].as_str().map(str::to_string))
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "order ids carry on after the restart instead of starting over");
    assert!(demo.stop().success());
}

/// Waits (20 s at most) until `orders.placed` holds more than `than` records; how many it holds.
fn wait_for_orders(demo: &Demo, than: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let topic = demo.get("/api/v1/topics/orders.placed");
        let count: u64 = topic["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .filter_map(|p| p["latest_offset"].as_u64())
            .sum();
        if count > than {
            return count;
        }
        assert!(Instant::now() < deadline, "orders.placed did not grow past {than} records within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `weft serve --kafka BOOTSTRAP` with `broker`'s address, on a free loopback port (its data
/// directory unused).
fn serve(broker: &Broker, dir: &std::path::Path) -> ServeProcess {
    serve_on(&broker.bootstrap(), dir)
}

/// `weft serve --kafka BOOTSTRAP` on a free loopback port (its data directory unused).
fn serve_on(bootstrap: &str, dir: &std::path::Path) -> ServeProcess {
    let unused = dir.join("unused");
    let server = ServeProcess::start(&unused, &["--kafka", bootstrap, "--kafka-config", "client.id=weft-test"]);
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

const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
    {"name":"order_id","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"channel","type":{"type":"enum","name":"Channel","symbols":["web","store"]}},
    {"name":"coupon","type":["null","string"],"default":null}]}"#;

/// Issue 14's "Kafka clients work on the mesh", both ways, through the broker alone: what Weft writes
/// to an Avro port's topic is read by a plain confluent-kafka Consumer with `AvroDeserializer` given
/// Weft's registry, and what a plain Producer writes with `AvroSerializer` straight to the broker is
/// read by Weft: its live tail (started before), its pages, the catalog's sample and SQL.
#[test]
fn confluent_clients_read_and_write_an_avro_products_topic_through_the_broker() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve(&broker, dir.path());
    let api = Api::new(&server.url);
    avro_product(&api);
    let order = |i: usize| {
        let channel = ["web", "store"][i % 2];
        let coupon = if i.is_multiple_of(3) { json!("SPRING") } else { Value::Null };
        json!({"order_id": format!("o-{i}"), "amount": i as f64 * 1.5, "channel": channel, "coupon": coupon})
    };
    let by_weft: Vec<Value> = (0..5).map(order).collect();
    let by_python: Vec<Value> = (5..10).map(order).collect();

    // A live tail of the product from the start, following what anyone appends to the broker.
    let tail = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["product", "tail", "shop.orders", "--from", "earliest", "--limit", "10"])
        .env("WEFT_URL", &server.url)
        .env("WEFT_ACTOR", "tester")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft product tail starts");

    let records: Vec<Value> = by_weft.iter().map(|o| json!({"key": o["order_id"], "value": o})).collect();
    let (status, body) = api.post("/api/v1/topics/shop.orders/records", &Value::Array(records));
    assert_eq!(status, 200, "{body}");

    // Weft -> Kafka: a consumer group of confluent-kafka's, Confluent's deserializer, Weft's registry.
    let registry = format!("{}/registry", server.url);
    let bootstrap = broker.bootstrap();
    let out = python(&["consume", &bootstrap, &registry, "shop.orders", "5"], "");
    let consumed: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(sorted_values(&consumed), by_weft, "{out}");
    for record in &consumed {
        assert_eq!(record["schema_id"], 1, "{record}");
        assert_eq!(record["key"], record["value"]["order_id"], "{record}");
    }

    // Kafka -> Weft: a producer of confluent-kafka's with Confluent's serializer, straight to the broker.
    let input: String = by_python.iter().map(|o| format!("{}\n", json!({"key": o["order_id"], "value": o}))).collect();
    let produced = python(&["produce", &bootstrap, &registry, "shop.orders"], &input);
    assert_eq!(produced.trim(), r#"{"schema_id": 1}"#, "it used the port's schema");
    let everything: Vec<Value> = by_weft.iter().chain(&by_python).cloned().collect();

    // Pages through the read path decode the producer's records with the registry's schema.
    let (status, page) = api.get("/api/v1/topics/shop.orders/records?limit=100");
    assert_eq!(status, 200, "{page}");
    let read = page["records"].as_array().expect("records").clone();
    assert_eq!(sorted_values(&read), everything, "{page}");
    assert!(read.iter().all(|r| r["value_schema_id"] == 1), "{page}");

    // The catalog's sample of the product.
    let (status, sample) = api.get("/api/v1/products/shop.orders/sample?limit=20");
    assert_eq!(status, 200, "{sample}");
    let sampled = sample["records"].as_array().expect("records").clone();
    assert_eq!(sorted_values(&sampled), everything, "{sample}");

    // The live tail saw the producer's records arrive (appended by another client, not by this server).
    let tailed = finish_within(tail, Duration::from_secs(30));
    let tailed: Vec<Value> = tailed.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(sorted_values(&tailed), everything);

    // SQL reads the topic as AVRO, columns from the registry, the producer's rows included.
    let statement = "CREATE STREAM ORDERS (K STRING KEY) WITH (KAFKA_TOPIC='shop.orders', VALUE_FORMAT='AVRO');";
    let (status, body) = api.post("/ksql", &json!({"ksql": statement}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post("/query", &json!({"ksql": "SELECT ORDER_ID, CHANNEL FROM ORDERS;"}));
    assert_eq!(status, 200, "{body}");
    let mut rows: Vec<Value> =
        body.as_array().expect("rows").iter().filter_map(|r| r.get("row")).map(|r| r["columns"].clone()).collect();
    rows.sort_by_key(|r| r[0].as_str().map(str::to_string));
    let mut expected: Vec<Value> = everything.iter().map(|o| json!([o["order_id"], o["channel"]])).collect();
    expected.sort_by_key(|r| r[0].as_str().map(str::to_string));
    assert_eq!(rows, expected, "{body}");

    // The raw input topic: producers write there straight to the broker; Weft validates into the
    // product (Avro checked and kept, anything else dead-lettered with its reason).
    let (status, body) = api.post("/api/v1/topics", &json!({"name": "shop.orders.raw", "partitions": 1}));
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        api.put("/api/v1/products/shop.orders/governance", &json!({"raw_input_topic": "shop.orders.raw"}));
    assert_eq!(status, 200, "{body}");
    let raw_good: Vec<Value> = (20..22).map(order).collect();
    let mut input: String =
        raw_good.iter().map(|o| format!("{}\n", json!({"key": o["order_id"], "value": o}))).collect();
    input.push_str(&format!("{}\n", json!({"key": "o-bad-1", "raw": "neither Avro nor JSON"})));
    input.push_str(&format!("{}\n", json!({"key": "o-bad-2", "raw": "{\"order_id\": \"o-bad-2\"}"})));
    python(&["produce", &bootstrap, &registry, "shop.orders.raw", "shop.orders-value"], &input);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (validated, dead_letters) = loop {
        let (_, page) = api.get("/api/v1/topics/shop.orders/records?limit=100");
        let (_, dead_letters) = api.get("/api/v1/products/shop.orders/dead-letters");
        let records = page["records"].as_array().cloned().unwrap_or_default();
        if (records.len() == 12 && dead_letters["total"] == 2) || Instant::now() > deadline {
            break (records, dead_letters);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let expected: Vec<Value> = everything.iter().chain(&raw_good).cloned().collect();
    assert_eq!(
        sorted_values(&validated),
        sorted_values(&expected.iter().map(|v| json!({"value": v})).collect::<Vec<_>>())
    );
    let mut reasons: Vec<(String, String)> = dead_letters["entries"]
        .as_array()
        .expect("dead letters")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap_or("").to_string(),
                e["violations"][0]["field"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [("o-bad-1".to_string(), "value".to_string()), ("o-bad-2".to_string(), "value".to_string())],
        "{dead_letters}"
    );
    server.kill();
}

/// The domain `shop`, the topic `shop.orders` (2 partitions), its Avro schema (id 1) and a product
/// serving it through an Avro port.
fn avro_product(api: &Api) {
    let domain = json!({"name": "shop", "description": "The shop domain", "owningTeam": "team-shop",
                        "members": [{"user": "alice", "role": "owner"}]});
    let (status, body) = api.post("/api/v1/domains", &domain);
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.post("/api/v1/topics", &json!({"name": "shop.orders", "partitions": 2}));
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.post("/registry/subjects/shop.orders-value/versions", &json!({"schema": ORDER_SCHEMA}));
    assert_eq!((status, body["id"].as_u64()), (200, Some(1)), "{body}");
    let spec = json!({
        "id": "shop.orders", "name": "Orders", "owner": "alice", "description": "Orders.", "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "shop.orders",
                         "schemaSubject": "shop.orders-value", "format": "avro"}],
    });
    let (status, body) = api.post("/api/v1/products", &spec);
    assert_eq!(status, 201, "{body}");
}

/// The records' values, ordered by order id.
fn sorted_values(records: &[Value]) -> Vec<Value> {
    let mut values: Vec<Value> = records.iter().map(|r| r["value"].clone()).collect();
    values.sort_by_key(|v| v["order_id"].as_str().map(str::to_string));
    values
}

/// `tests/python/kafka_avro_clients.py ARGS` in the tests' venv, `stdin` on its standard input; its
/// standard output, which it must end successfully.
fn python(args: &[&str], stdin: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository root holds crates/weft");
    let interpreter = root.join("target/pyenv/bin/python");
    assert!(interpreter.exists(), "{} is missing: run scripts/test (it builds the tests' venv)", interpreter.display());
    let mut child = Command::new(interpreter)
        .arg(root.join("tests/python/kafka_avro_clients.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write to python");
    let output = child.wait_with_output().expect("python ends");
    assert!(output.status.success(), "python {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Waits for `child` to end successfully within `limit` (killing it otherwise); its standard output.
fn finish_within(mut child: Child, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("the child's status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("the killed child is reaped");
            panic!("still running after {limit:?}; it printed: {}", String::from_utf8_lossy(&output.stdout));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("the child's output");
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// JSON over HTTP to a Weft server, any status accepted.
struct Api {
    base: String,
    agent: ureq::Agent,
}

impl Api {
    fn new(base: &str) -> Api {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Api { base: base.to_string(), agent }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let answer = self.agent.get(format!("{}{path}", self.base)).header("x-weft-actor", "alice").call();
        Self::answer(answer)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let answer = self.agent.post(format!("{}{path}", self.base)).header("x-weft-actor", "alice").send_json(body);
        Self::answer(answer)
    }

    fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let answer = self.agent.put(format!("{}{path}", self.base)).header("x-weft-actor", "alice").send_json(body);
        Self::answer(answer)
    }

    fn answer(answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
        let mut answer = answer.expect("the server answers");
        let status = answer.status().as_u16();
        let text = answer.body_mut().read_to_string().expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}
