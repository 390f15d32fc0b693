//! The `weft sql` prompt, driven through a pipe (standard input not a terminal) against a real server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::{start, Env};

const DDL: &str = "CREATE STREAM S (ID STRING, V INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);";

/// Runs one `weft sql` session on `input` and returns (success, stdout, stderr).
fn session(env: &Env, history: &std::path::Path, input: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["sql", "--earliest", "--history"])
        .arg(history)
        .env("WEFT_URL", env.server.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("weft finishes");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (output.status.success(), text(output.stdout), text(output.stderr))
}

#[test]
fn piped_statements_run_in_order_and_errors_do_not_end_the_session() {
    let env = start();
    let history = env.dir.path().join("history");
    let input = format!(
        "{DDL}\n\
         SHOW\n  STREAMS;\n\
         DESCRIBE NOPE;\n\
         SELEC 1;\n\
         INSERT INTO S (ID, V) VALUES ('a', 1); INSERT INTO S (ID, V) VALUES ('b', -2);\n\
         -- a comment alone is no statement\n\
         SELECT ID, V\n  FROM S EMIT CHANGES LIMIT 2;\n\
         DESCRIBE S;\n\
         exit\n\
         SHOW TABLES;\n"
    );
    let (ok, out, err) = session(&env, &history, &input);
    assert!(ok, "{err}");
    // Without a terminal there is no prompt and no banner: only results.
    assert!(!out.contains("weft>"), "{out}");
    assert!(out.starts_with("Stream created\n"), "{out}");
    assert!(out.contains("| Stream Name | Kafka Topic | Key Format | Value Format | Windowed |"), "{out}");
    assert!(out.contains("| S           | s           | KAFKA      | JSON         | false    |"), "{out}");
    // Both errors are reported, and the statements after them ran.
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(errors[0].contains("NOPE does not exist"), "{err}");
    assert!(errors[1].contains("line 1:1"), "{err}");
    // The push query streams its header and two rows, then ends at its LIMIT.
    let rows: Vec<&str> =
        out.lines().filter(|l| l.starts_with("| ID |") || l.starts_with("| a ") || l.starts_with("| b ")).collect();
    assert_eq!(rows, vec!["| ID | V |", "| a | 1 |", "| b | -2 |"], "{out}");
    assert!(out.contains("Name          : S") && out.contains("| V     | INTEGER |"), "{out}");
    // `exit` left: what came after it did not run.
    assert!(!out.contains("Table Name"), "{out}");

    // History keeps whole statements, across sessions.
    let (ok, out, err) = session(&env, &history, "SHOW TABLES;\n");
    assert!(ok, "{err}");
    assert!(out.contains("| Table Name |"), "{out}");
    let saved = std::fs::read_to_string(&history).expect("history file");
    for statement in ["DESCRIBE NOPE;", "SELEC 1;", "DESCRIBE S;", "SHOW TABLES;"] {
        assert!(saved.contains(statement), "{statement} not in history: {saved}");
    }
    assert!(saved.find("DESCRIBE S;") < saved.find("SHOW TABLES;"), "{saved}");
    assert!(!saved.contains("exit"), "{saved}");
}

/// A prompt whose output arrives line by line while the test writes statements.
struct Prompt {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Prompt {
    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Reads lines until one satisfies `wanted`; fails after 10 s.
    fn expect(&self, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => {
                    let done = wanted(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(e) => panic!("no expected line ({e}); got {seen:?}"),
            }
        }
    }

    fn interrupt(&self) {
        let status = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Prompt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctrl_c_ends_the_running_query_not_the_session() {
    let env = start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["sql", "--history"])
        .arg(env.dir.path().join("history"))
        .env("WEFT_URL", env.server.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("weft runs");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let stdin = child.stdin.take();
    let mut prompt = Prompt { child, stdin, lines };

    prompt.send(&format!("{DDL}\n"));
    prompt.expect(|l| l == "Stream created");
    // A push query without LIMIT, from the latest offset: it would run forever.
    prompt.send("SELECT ID FROM S EMIT CHANGES;\n");
    prompt.expect(|l| l == "| ID |");
    prompt.interrupt();
    prompt.expect(|l| l == "Query terminated");
    // The session goes on, and the ended query prints nothing more.
    prompt.send("INSERT INTO S (ID, V) VALUES ('late', 1);\nSHOW STREAMS;\n");
    let after = prompt.expect(|l| l.starts_with("| S "));
    assert!(!after.iter().any(|l| l.contains("late")), "{after:?}");

    // Closing standard input (Ctrl-D) ends the session normally.
    prompt.stdin = None;
    let status = prompt.child.wait().expect("weft finishes");
    assert!(status.success(), "{status}");
}

/// Runs `weft sql -e TEXT` and returns (success, stdout, stderr); a run that does not end in 60 s
/// (a push query waiting for rows it should have read from the start) fails the test.
fn execute(env: &Env, text: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["sql", "-e", text])
        .env("WEFT_URL", env.server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("weft sql -e {text:?} did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("weft finishes");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (output.status.success(), text(output.stdout), text(output.stderr))
}

#[test]
fn set_in_a_text_applies_to_the_statements_after_it_as_in_ksqldbs_cli() {
    let env = start();
    let (ok, _, err) =
        execute(&env, &format!("{DDL} INSERT INTO S (ID, V) VALUES ('a', 1); INSERT INTO S (ID, V) VALUES ('b', 2);"));
    assert!(ok, "{err}");
    // The rows are older than the query: only `earliest` reaches them, and LIMIT 2 ends it.
    let (ok, out, err) = execute(&env, "SET 'auto.offset.reset'='earliest'; SELECT ID, V FROM S EMIT CHANGES LIMIT 2;");
    assert!(ok, "{err}");
    assert!(out.starts_with("Successfully changed local property 'auto.offset.reset' to 'earliest'.\n"), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows, vec!["| ID | V |", "| a | 1 |", "| b | 2 |"], "{out}");

    // ksqlDB's full name, statements for /ksql between SET, UNSET and a query, and a persistent
    // query started with the property as it stood then.
    let text = "SET 'ksql.streams.auto.offset.reset' = 'earliest';\n\
                CREATE STREAM T AS SELECT ID, V * 10 AS W FROM S;\n\
                UNSET 'ksql.streams.auto.offset.reset';\n\
                SET 'auto.offset.reset' = 'earliest';\n\
                SELECT ID, W FROM T EMIT CHANGES LIMIT 2";
    let (ok, out, err) = execute(&env, text);
    assert!(ok, "{err}");
    assert!(out.contains("Successfully unset local property 'ksql.streams.auto.offset.reset'."), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows, vec!["| ID | W |", "| a | 10 |", "| b | 20 |"], "{out}");

    // The property was the CLI's: the server's own properties did not change.
    let (ok, out, err) = execute(&env, "SHOW PROPERTIES;");
    assert!(ok, "{err}");
    assert!(!out.contains("auto.offset.reset"), "{out}");

    // A SET the CLI cannot read stops the text before anything after it runs.
    let (ok, _, err) = execute(&env, "SET auto.offset.reset = 'earliest'; DROP STREAM T;");
    assert!(!ok);
    assert!(err.contains("SET 'name' = 'value'"), "{err}");
    let (_, out, _) = execute(&env, "SHOW STREAMS;");
    assert!(out.contains("| T "), "T was not dropped: {out}");
}
