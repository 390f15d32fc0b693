//! End-to-end tests of the `weft` binary against a real server started in the test.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{start, Env};

impl Env {
    fn weft(&self, args: &[&str]) -> Output {
        self.weft_with_stdin(args, "")
    }

    fn weft_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_URL", self.server.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft runs");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("weft finishes")
    }

    /// Runs `weft`, asserting success, and returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.weft(args);
        assert!(output.status.success(), "weft {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Runs `weft`, asserting failure, and returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.weft(args);
        assert!(!output.status.success(), "weft {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8(output.stderr).expect("UTF-8 output")
    }

    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path.to_string_lossy().into_owned()
    }
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))).collect()
}

#[test]
fn topic_create_list_describe_delete() {
    let env = start();
    let out = env.ok(&["topic", "create", "orders", "--partitions", "2", "--config", "retention.ms=60000"]);
    assert!(out.contains("created topic 'orders' with 2 partitions"), "{out}");
    env.ok(&["topic", "create", "audit"]);
    assert_eq!(env.ok(&["topic", "list"]), "audit\norders\n");

    let description: Value = serde_json::from_str(&env.ok(&["topic", "describe", "orders"])).expect("JSON");
    assert_eq!(description["partition_count"], 2);
    assert_eq!(description["config"]["retention.ms"], "60000");

    let error = env.fails(&["topic", "create", "orders"]);
    assert!(error.contains("already exists") && error.contains("40901"), "{error}");
    let error = env.fails(&["topic", "create", "bad", "--config", "colour=red"]);
    assert!(error.contains("colour"), "{error}");
    let error = env.fails(&["topic", "create", "bad", "--config", "novalue"]);
    assert!(error.contains("KEY=VALUE"), "{error}");

    assert!(env.ok(&["topic", "delete", "orders"]).contains("deleted topic 'orders'"));
    assert_eq!(env.ok(&["topic", "list"]), "audit\n");
    let error = env.fails(&["topic", "describe", "orders"]);
    assert!(error.contains("topic 'orders' does not exist"), "{error}");
}

/// On a server without authentication, every command acts as `--actor` / `WEFT_ACTOR`: the audit
/// log names whoever the command said, not `anonymous`.
#[test]
fn every_command_acts_as_the_named_actor() {
    let env = start();
    env.ok(&["--actor", "bob", "topic", "create", "bobs"]);
    env.ok_as("carol", &["topic", "delete", "bobs"]);
    let audit = env.ok(&["audit", "--limit", "50"]);
    let lines: Vec<&str> = audit.lines().collect();
    let made_by = |action: &str| {
        lines
            .iter()
            .find(|l| l.contains(action))
            .unwrap_or_else(|| panic!("no entry for {action}: {audit}"))
            .to_string()
    };
    assert!(made_by("POST /api/v1/topics").contains("bob"), "{audit}");
    assert!(made_by("DELETE /api/v1/topics").contains("carol"), "{audit}");
}

#[test]
fn produce_a_file_and_consume_it() {
    let env = start();
    env.ok(&["topic", "create", "people", "--partitions", "3"]);
    let lines = (0..25).map(|i| format!("{{\"id\": \"p{i}\", \"n\": {i}}}")).collect::<Vec<_>>().join("\n");
    let file = env.file("people.jsonl", &format!("{lines}\n\n"));
    let out = env.ok(&["produce", "people", "--file", &file, "--key-field", "id", "--batch", "4"]);
    assert!(out.contains("produced 25 records to 'people'"), "{out}");

    let records = json_lines(&env.ok(&["consume", "people"]));
    assert_eq!(records.len(), 25);
    let mut numbers: Vec<i64> = records.iter().map(|r| r["value"]["n"].as_i64().expect("n")).collect();
    numbers.sort();
    assert_eq!(numbers, (0..25).collect::<Vec<_>>());
    for record in &records {
        assert_eq!(record["key"], record["value"]["id"], "the key comes from --key-field");
    }
    // Same key, same partition.
    let partition_of = |id: &str| records.iter().find(|r| r["key"] == id).map(|r| r["partition"].clone());
    env.ok(&["produce", "people", "--key-field", "id"]);
    let more = env.weft_with_stdin(&["produce", "people", "--key-field", "id"], "{\"id\": \"p3\", \"n\": 100}\n");
    assert!(more.status.success(), "{}", String::from_utf8_lossy(&more.stderr));
    let p3 = partition_of("p3").expect("p3").as_u64().expect("partition");
    let tail = json_lines(&env.ok(&["consume", "people", "--partition", &p3.to_string(), "--from", "latest"]));
    assert!(tail.is_empty(), "from latest prints nothing");
    let all = json_lines(&env.ok(&["consume", "people", "--partition", &p3.to_string()]));
    assert_eq!(all.last().expect("records")["value"]["n"], 100);

    let limited = json_lines(&env.ok(&["consume", "people", "--partition", "0", "--from", "1", "--limit", "2"]));
    assert_eq!(limited.iter().map(|r| r["offset"].as_u64().expect("offset")).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn full_records_from_stdin() {
    let env = start();
    env.ok(&["topic", "create", "raw", "--partitions", "2"]);
    let input =
        "{\"key\": 1, \"value\": \"one\", \"headers\": {\"h\": \"v\"}, \"partition\": 1, \"timestamp\": 77}\n\"two\"\n";
    let output = env.weft_with_stdin(&["produce", "raw", "--records"], input);
    assert!(!output.status.success(), "a plain value is not a record");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("line 2:") && error.contains("record object"), "{error}");
    assert!(error.contains("(0 records before it were produced)"), "{error}");

    let output =
        env.weft_with_stdin(&["produce", "raw", "--records", "--batch", "1"], input.lines().next().unwrap_or_default());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let records = json_lines(&env.ok(&["consume", "raw", "--partition", "1"]));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["key"], "1", "a number key is stored as its text and reads back as text");
    assert_eq!(records[0]["value"], "one");
    assert_eq!(records[0]["headers"], json!({"h": "v"}));
    assert_eq!(records[0]["timestamp"], 77);
}

#[test]
fn a_bad_line_names_its_number_and_nothing_is_written() {
    let env = start();
    env.ok(&["topic", "create", "strict"]);
    let file = env.file("bad.jsonl", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": \n{\"a\": 4}\n");
    let error = env.fails(&["produce", "strict", "--file", &file, "--batch", "1"]);
    assert!(error.contains("line 3: invalid JSON"), "{error}");
    assert!(env.ok(&["consume", "strict"]).is_empty(), "nothing was produced");

    let file = env.file("records.jsonl", "{\"value\": 1}\n{\"value\": 2, \"partition\": 5}\n");
    let error = env.fails(&["produce", "strict", "--file", &file, "--records"]);
    assert!(error.contains("line 2: partition"), "{error}");
    let file = env.file("keys.jsonl", "{\"id\": 1}\n{\"other\": 2}\n");
    let error = env.fails(&["produce", "strict", "--file", &file, "--key-field", "id"]);
    assert!(error.contains("line 2:") && error.contains("'id'"), "{error}");
    assert!(env.ok(&["consume", "strict"]).is_empty(), "nothing was produced");

    let error = env.fails(&["produce", "missing", "--file", &file]);
    assert!(error.contains("topic 'missing' does not exist"), "{error}");
}

#[test]
fn consume_follow_prints_records_as_they_arrive() {
    let env = start();
    env.ok(&["topic", "create", "live"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["consume", "live", "--follow", "--from", "earliest", "--limit", "3"])
        .env("WEFT_URL", env.server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft runs");
    let file = env.file("live.jsonl", "1\n2\n");
    env.ok(&["produce", "live", "--file", &file]);
    std::thread::sleep(Duration::from_millis(200));
    let file = env.file("live2.jsonl", "3\n");
    env.ok(&["produce", "live", "--file", &file]);

    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "--follow --limit 3 did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let records = json_lines(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(records.iter().map(|r| r["value"].clone()).collect::<Vec<_>>(), vec![json!(1), json!(2), json!(3)]);
}

#[test]
fn group_commit_and_offsets() {
    let env = start();
    env.ok(&["topic", "create", "t", "--partitions", "2"]);
    let out = env.ok(&["group", "commit", "readers", "t", "1", "42", "--metadata", "note"]);
    assert!(out.contains("committed offset 42"), "{out}");
    let offsets: Value = serde_json::from_str(&env.ok(&["group", "offsets", "readers"])).expect("JSON");
    assert_eq!(offsets["offsets"][0]["topic"], "t");
    assert_eq!(offsets["offsets"][0]["partition"], 1);
    assert_eq!(offsets["offsets"][0]["offset"], 42);
    assert_eq!(offsets["offsets"][0]["metadata"], "note");
    let error = env.fails(&["group", "commit", "readers", "t", "2", "1"]);
    assert!(error.contains("no partition 2"), "{error}");
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["--url", &format!("http://127.0.0.1:{port}"), "topic", "list"])
        .output()
        .expect("weft runs");
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("cannot reach the Weft server"), "{error}");
}

#[test]
fn serve_runs_until_sigterm_and_reads_its_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:0\"\nlisten_backlog = 5\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["serve", "--config", &bad.to_string_lossy()])
        .output()
        .expect("weft runs");
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("listen_backlog") && error.contains("line 2"), "{error}");

    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let config = dir.path().join("weft.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:1\"\nfsync = \"batch\"\nauth = \"none\"\n").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["serve", "--config", &config.to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
        .env("WEFT_DATA_DIR", dir.path().join("data"))
        .env("WEFT_LISTEN", "127.0.0.1:2")
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft serve runs");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut banner = String::new();
    stderr.read_line(&mut banner).expect("banner");
    assert!(banner.contains(&format!("http://127.0.0.1:{port}")), "the flag beats env and file: {banner}");
    assert!(banner.contains("fsync batch"), "the file gives fsync: {banner}");
    assert!(banner.contains(&dir.path().join("data").display().to_string()), "env gives the data dir: {banner}");

    let url = format!("http://127.0.0.1:{port}");
    let created = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["--url", &url, "topic", "create", "kept"])
        .output()
        .expect("weft runs");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "weft serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("stderr");
    assert!(status.success(), "exit status {status}: {rest}");
    assert!(rest.contains("weft stopped"), "{rest}");
    assert!(dir.path().join("data").exists());
}
