//! Two engines on one log, as several servers on one Kafka cluster run: each follows the statements
//! the other records ([`Engine::refresh`]), and a persistent query runs where the query gate says,
//! moving between them with its output exactly once and its aggregation state intact.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, ReadLimits, Record};
use weft_sql::engine::QueryGate;
use weft_sql::{Engine, EngineOptions, StartFrom};

fn open_log(dir: &std::path::Path) -> Arc<EmbeddedLog> {
    let mut options = LogOptions::new(dir);
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(1) };
    EmbeddedLog::open(options).expect("open log")
}

/// An engine running its queries in the background while `gate` is set.
fn engine(log: &Arc<EmbeddedLog>, gate: &Arc<AtomicBool>) -> Engine {
    let gate = gate.clone();
    let options = EngineOptions {
        default_offset_reset: StartFrom::Earliest,
        background: true,
        query_gate: Some(QueryGate(Arc::new(move |_, _| gate.load(Ordering::SeqCst)))),
        ..EngineOptions::default()
    };
    let log: Arc<dyn EventLog> = log.clone();
    Engine::open(log, options).expect("engine")
}

fn produce(log: &dyn EventLog, range: std::ops::Range<i64>) {
    let records = range
        .map(|i| Record {
            key: Some(format!("k{}", i % 3).into_bytes()),
            value: Some(format!(r#"{{"V": {i}}}"#).into_bytes()),
            headers: Vec::new(),
            timestamp: Some(i),
        })
        .collect();
    log.append("s", 0, records).expect("produce");
}

/// Every record of partition 0 of `topic`: key and value as JSON (null for a tombstone).
fn records(log: &dyn EventLog, topic: &str) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = log.read(topic, 0, offset, ReadLimits::default()).expect("read");
        if r.records.is_empty() {
            return out;
        }
        for rec in r.records {
            let key = rec.key.map(|k| String::from_utf8_lossy(&k).into_owned()).unwrap_or_default();
            let value = rec.value.map_or(serde_json::Value::Null, |v| serde_json::from_slice(&v).expect("JSON"));
            out.push((key, value));
        }
        offset = r.next_offset;
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const STATEMENTS: &str = "CREATE STREAM S (ID STRING KEY, V INT) WITH (kafka_topic='s', value_format='JSON', \
     partitions=1); \
     CREATE STREAM COPY AS SELECT ID, V FROM S; \
     CREATE TABLE TOTALS AS SELECT ID, COUNT(*) AS N, SUM(V) AS TOTAL FROM S GROUP BY ID;";

#[test]
fn an_engine_follows_the_statements_another_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(dir.path());
    let closed = Arc::new(AtomicBool::new(false));
    let (first, second) = (engine(&log, &closed), engine(&log, &closed));
    first.execute(STATEMENTS).expect("statements");
    assert!(second.source("COPY").is_none(), "not applied before a refresh");
    assert_eq!(second.refresh().expect("refresh"), 3, "three commands to apply");
    let names: Vec<String> = second.sources().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["COPY", "S", "TOTALS"]);
    let ids = |e: &Engine| e.queries().into_iter().map(|q| q.id).collect::<Vec<_>>();
    assert_eq!(ids(&second), ids(&first), "the same queries under the same ids");
    assert_eq!(second.refresh().expect("refresh"), 0, "nothing new");

    // The next statement, wherever it runs, takes the next sequence number: its query id is new.
    second.execute("CREATE STREAM BIG AS SELECT ID, V FROM S WHERE V > 10;").expect("on the second engine");
    assert_eq!(first.refresh().expect("refresh"), 1);
    let big: Vec<String> = ids(&first).into_iter().filter(|id| id.contains("BIG")).collect();
    assert_eq!(big.len(), 1, "{big:?}");
    assert!(!ids(&first).iter().filter(|id| !id.contains("BIG")).any(|id| *id == big[0]));
    // A drop recorded by one is applied by the other; its own refresh skips what it recorded itself.
    first.execute("DROP STREAM BIG;").expect("drop");
    assert_eq!(first.refresh().expect("refresh"), 0, "its own commands are not applied twice");
    assert_eq!(second.refresh().expect("refresh"), 1);
    assert!(second.source("BIG").is_none());
}

#[test]
fn a_query_runs_where_the_gate_says_and_moves_with_its_output_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(dir.path());
    let (first_leads, second_leads) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (first, second) = (engine(&log, &first_leads), engine(&log, &second_leads));
    first.execute(STATEMENTS).expect("statements");
    second.refresh().expect("refresh");
    produce(log.as_ref(), 0..300);

    // Neither runs the queries while its gate is closed.
    std::thread::sleep(Duration::from_millis(500));
    assert!(records(log.as_ref(), "COPY").is_empty(), "no server runs them yet");
    // The first made the queries (a new query opens at once, to pin its start); the second
    // opens a task only when it runs it.
    let open = |e: &Engine| e.queries().iter().map(|q| (q.tasks, q.tasks_here, q.tasks_open)).collect::<Vec<_>>();
    assert_eq!(open(&first), [(1, 0, 1), (1, 0, 1)]);
    assert_eq!(open(&second), [(1, 0, 0), (1, 0, 0)]);

    first_leads.store(true, Ordering::SeqCst);
    wait_for("the first engine copying", || records(log.as_ref(), "COPY").len() == 300);
    // Handed over: the first stops, the second reopens the queries from the log and goes on.
    first_leads.store(false, Ordering::SeqCst);
    second_leads.store(true, Ordering::SeqCst);
    produce(log.as_ref(), 300..600);
    wait_for("the second engine copying", || records(log.as_ref(), "COPY").len() >= 600);
    wait_for("the second engine's tasks running", || open(&second) == [(1, 1, 1), (1, 1, 1)]);
    // And back, while records keep coming.
    produce(log.as_ref(), 600..700);
    second_leads.store(false, Ordering::SeqCst);
    first_leads.store(true, Ordering::SeqCst);
    produce(log.as_ref(), 700..900);
    wait_for("the first engine copying again", || records(log.as_ref(), "COPY").len() >= 900);
    std::thread::sleep(Duration::from_millis(300));

    let mut copied: Vec<i64> = records(log.as_ref(), "COPY").iter().map(|(_, v)| v["V"].as_i64().expect("V")).collect();
    copied.sort_unstable();
    assert_eq!(copied, (0..900).collect::<Vec<_>>(), "every record copied exactly once");

    let mut latest = BTreeMap::new();
    wait_for("the aggregation catching up", || {
        latest.clear();
        for (key, value) in records(log.as_ref(), "TOTALS") {
            latest.insert(key, (value["N"].as_i64().unwrap_or(-1), value["TOTAL"].as_i64().unwrap_or(-1)));
        }
        latest.values().map(|(n, _)| n).sum::<i64>() >= 900
    });
    let expected: BTreeMap<String, (i64, i64)> = (0..3)
        .map(|k| {
            let values: Vec<i64> = (0..900).filter(|i| i % 3 == k).collect();
            (format!("k{k}"), (values.len() as i64, values.iter().sum()))
        })
        .collect();
    assert_eq!(latest, expected, "counted once each across both engines");
}
