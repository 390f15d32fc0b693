//! End-to-end engine tests: crashes between the steps of a batch, push queries, background
//! queries and catalog replay.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_log::{
    AppendResult, CommittedOffset, Durability, EmbeddedLog, EventLog, LogError, LogOptions, ReadLimits, ReadResult,
    Record, TopicConfig, TopicDescription,
};
use weft_sql::{Engine, EngineOptions, StartFrom, StatementResult};

/// Delegates to a real log, failing chosen calls once their budget runs out (a crash mid-batch).
struct FlakyLog {
    inner: Arc<EmbeddedLog>,
    /// Successful query commits left before commits fail.
    commits_left: AtomicUsize,
    /// Successful appends to topics containing `fail_topic` left before they fail.
    appends_left: AtomicUsize,
    fail_topic: String,
    /// Appends to one topic that take a while, to hold writes in flight.
    slow: Option<SlowTopic>,
}

struct SlowTopic {
    topic: String,
    delay: std::time::Duration,
    appends: AtomicUsize,
}

impl FlakyLog {
    fn fail(&self) -> LogError {
        LogError::Closed
    }
}

impl EventLog for FlakyLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> weft_log::Result<TopicDescription> {
        self.inner.create_topic(name, config)
    }
    fn delete_topic(&self, name: &str) -> weft_log::Result<()> {
        self.inner.delete_topic(name)
    }
    fn list_topics(&self) -> Vec<String> {
        self.inner.list_topics()
    }
    fn describe_topic(&self, name: &str) -> weft_log::Result<TopicDescription> {
        self.inner.describe_topic(name)
    }
    fn topic_config(&self, name: &str) -> weft_log::Result<TopicConfig> {
        self.inner.topic_config(name)
    }
    fn append(&self, topic: &str, partition: u32, records: Vec<Record>) -> weft_log::Result<AppendResult> {
        if !self.fail_topic.is_empty() && topic.contains(&self.fail_topic) {
            let left = self.appends_left.load(Ordering::SeqCst);
            if left == 0 {
                return Err(self.fail());
            }
            self.appends_left.store(left - 1, Ordering::SeqCst);
        }
        if let Some(slow) = self.slow.as_ref().filter(|slow| slow.topic == topic) {
            slow.appends.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(slow.delay);
        }
        self.inner.append(topic, partition, records)
    }
    fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> weft_log::Result<ReadResult> {
        self.inner.read(topic, partition, offset, limits)
    }
    fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp: i64) -> weft_log::Result<Option<u64>> {
        self.inner.offset_for_timestamp(topic, partition, timestamp)
    }
    fn offsets(&self, topic: &str, partition: u32) -> weft_log::Result<(u64, u64)> {
        self.inner.offsets(topic, partition)
    }
    fn subscribe(&self, topic: &str, partition: u32) -> weft_log::Result<tokio::sync::watch::Receiver<u64>> {
        self.inner.subscribe(topic, partition)
    }
    fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> weft_log::Result<CommittedOffset> {
        if group.starts_with("_weft_sql_") {
            let left = self.commits_left.load(Ordering::SeqCst);
            if left == 0 {
                return Err(self.fail());
            }
            self.commits_left.store(left - 1, Ordering::SeqCst);
        }
        self.inner.commit_offset(group, topic, partition, offset, metadata)
    }
    fn committed_offsets(&self, group: &str) -> weft_log::Result<Vec<CommittedOffset>> {
        self.inner.committed_offsets(group)
    }
    fn run_maintenance(&self) -> weft_log::Result<()> {
        self.inner.run_maintenance()
    }
    fn shutdown(&self) -> weft_log::Result<()> {
        self.inner.shutdown()
    }
}

fn open_log(dir: &std::path::Path) -> Arc<EmbeddedLog> {
    let mut options = LogOptions::new(dir);
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(1) };
    EmbeddedLog::open(options).expect("open log")
}

fn options(background: bool) -> EngineOptions {
    EngineOptions { default_offset_reset: StartFrom::Earliest, background, ..EngineOptions::default() }
}

fn produce(log: &dyn EventLog, topic: &str, key: &str, value: &str, ts: i64) {
    let record = Record {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp: Some(ts),
    };
    log.append(topic, 0, vec![record]).expect("produce");
}

/// Every record of `topic`, partition by partition, as (key, value).
fn values(log: &dyn EventLog, topic: &str) -> Vec<(String, serde_json::Value)> {
    let partitions = log.describe_topic(topic).expect("topic").partitions.len() as u32;
    let mut out = Vec::new();
    for p in 0..partitions {
        let mut offset = 0;
        loop {
            let r = log.read(topic, p, offset, ReadLimits::default()).expect("read");
            if r.records.is_empty() {
                break;
            }
            for rec in r.records {
                let key = rec.key.map(|k| String::from_utf8_lossy(&k).to_string()).unwrap_or_default();
                let value = rec.value.map_or(serde_json::Value::Null, |v| serde_json::from_slice(&v).expect("json"));
                out.push((key, value));
            }
            offset = r.next_offset;
        }
    }
    out
}

const DDL: &str = "CREATE STREAM S (ID STRING KEY, V INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);";

/// `n` records of key `a` and value `{"V": 1}`, at times 0, 1, 2, ...
fn ones_of_key_a(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            key: Some(b"a".to_vec()),
            value: Some(b"{\"V\": 1}".to_vec()),
            headers: Vec::new(),
            timestamp: Some(i as i64),
        })
        .collect()
}

fn shm_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("tempdir")
}

#[test]
fn crash_after_output_before_commit_neither_loses_nor_duplicates() {
    let dir = shm_dir();
    {
        let real = open_log(dir.path());
        // One commit: the query's initial position; the first batch's commit then fails.
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(1),
            appends_left: AtomicUsize::new(0),
            fail_topic: String::new(),
            slow: None,
        });
        let engine = Engine::open(flaky, options(false)).expect("engine");
        engine.execute(DDL).expect("ddl");
        engine.execute("CREATE STREAM O AS SELECT ID, V FROM S WHERE V > 0;").expect("csas");
        for i in 0..5 {
            produce(real.as_ref(), "s", &format!("k{i}"), &format!("{{\"V\": {}}}", i + 1), i);
        }
        assert!(engine.run_until_idle().is_err(), "the commit must fail");
        assert_eq!(values(real.as_ref(), "O").len(), 5, "the output was written before the failed commit");
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("reopen");
    produce(log.as_ref(), "s", "k5", "{\"V\": 6}", 5);
    engine.run_until_idle().expect("run");
    let out = values(log.as_ref(), "O");
    let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["k0", "k1", "k2", "k3", "k4", "k5"]);
}

#[test]
fn aggregation_crash_before_changelog_and_before_commit() {
    for (commits, appends) in [(1usize, 0usize), (1, 1)] {
        // (1, 0): the changelog append fails after the output append.
        // (1, 1): the changelog append succeeds, then the commit fails.
        let dir = shm_dir();
        {
            let real = open_log(dir.path());
            let flaky = Arc::new(FlakyLog {
                inner: real.clone(),
                commits_left: AtomicUsize::new(commits),
                appends_left: AtomicUsize::new(appends),
                fail_topic: "_changelog".into(),
                slow: None,
            });
            let engine = Engine::open(flaky, options(false)).expect("engine");
            engine.execute(DDL).expect("ddl");
            engine.execute("CREATE TABLE O AS SELECT ID, COUNT(*) AS C FROM S GROUP BY ID;").expect("ctas");
            for i in 0..3 {
                produce(real.as_ref(), "s", "a", "{\"V\": 1}", i);
            }
            assert!(engine.run_until_idle().is_err(), "case {commits}/{appends} must crash");
        }
        let log = open_log(dir.path());
        let engine = Engine::open(log.clone(), options(false)).expect("reopen");
        produce(log.as_ref(), "s", "a", "{\"V\": 1}", 3);
        engine.run_until_idle().expect("run");
        let counts: Vec<i64> = values(log.as_ref(), "O").iter().map(|(_, v)| v["C"].as_i64().unwrap_or(-1)).collect();
        assert_eq!(counts, vec![1, 2, 3, 4], "case {commits}/{appends}");
    }
}

#[test]
fn a_crash_anywhere_in_the_batch_pipeline_neither_loses_nor_duplicates() {
    // Three batches (5000, 5000, 2000 records): batch N's output is appended with batch N-1's
    // changelog and batch N-2's commit, so each failure below hits a write that runs concurrently
    // with others of other batches.
    const RECORDS: usize = 2 * weft_sql::runtime::BATCH_RECORDS + 2000;
    let cases = [
        (usize::MAX, 0, "the first changelog append, beside the second batch's output"),
        (usize::MAX, 1, "the second changelog append, beside the third batch's output"),
        (1, usize::MAX, "the first batch's commit, beside the third batch's output"),
        (2, usize::MAX, "the second batch's commit, when the query runs out of input"),
    ];
    for (commits, appends, what) in cases {
        let dir = shm_dir();
        {
            let real = open_log(dir.path());
            let records = ones_of_key_a(RECORDS);
            let engine = Engine::open(
                Arc::new(FlakyLog {
                    inner: real.clone(),
                    // The query's initial position takes one commit.
                    commits_left: AtomicUsize::new(commits.saturating_add(1)),
                    appends_left: AtomicUsize::new(appends),
                    fail_topic: "_changelog".into(),
                    slow: None,
                }),
                options(false),
            )
            .expect("engine");
            engine.execute(DDL).expect("ddl");
            real.append("s", 0, records).expect("produce");
            engine.execute("CREATE TABLE O AS SELECT ID, COUNT(*) AS C FROM S GROUP BY ID;").expect("ctas");
            assert!(engine.run_until_idle().is_err(), "{what} must fail");
        }
        let log = open_log(dir.path());
        let engine = Engine::open(log.clone(), options(false)).expect("reopen");
        produce(log.as_ref(), "s", "a", "{\"V\": 1}", RECORDS as i64);
        engine.run_until_idle().expect("run");
        let counts: Vec<i64> = values(log.as_ref(), "O").iter().map(|(_, v)| v["C"].as_i64().unwrap_or(-1)).collect();
        let expected: Vec<i64> = (1..=RECORDS as i64 + 1).collect();
        assert_eq!(counts.len(), expected.len(), "failing {what}: one update per input");
        assert!(counts == expected, "failing {what}: the updates count 1, 2, 3, ... without gap or repeat");
    }
}

/// Batches processed while the write before them is in flight queue up and go as one write, so a
/// query does not wait for each of its writes: with every output append held for 30 ms, six
/// batches take fewer output appends than batches, and the updates still count 1, 2, 3, ... When
/// the changelog append of merged batches fails, nothing queued behind it is written, and the
/// query reopened from the log carries on without a gap or a repeat.
#[test]
fn batches_queued_behind_a_slow_write_are_merged_and_keep_exactly_once() {
    const BATCHES: usize = 6;
    const RECORDS: usize = BATCHES * weft_sql::runtime::BATCH_RECORDS;
    for changelog_appends in [usize::MAX, 1] {
        let dir = shm_dir();
        let real = open_log(dir.path());
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(usize::MAX),
            appends_left: AtomicUsize::new(changelog_appends),
            fail_topic: "_changelog".into(),
            slow: Some(SlowTopic { topic: "O".into(), delay: Duration::from_millis(30), appends: AtomicUsize::new(0) }),
        });
        let engine = Engine::open(flaky.clone(), options(false)).expect("engine");
        engine.execute(DDL).expect("ddl");
        let records = ones_of_key_a(RECORDS);
        real.append("s", 0, records).expect("produce");
        engine.execute("CREATE TABLE O AS SELECT ID, COUNT(*) AS C FROM S GROUP BY ID;").expect("ctas");
        if changelog_appends != usize::MAX {
            assert!(engine.run_until_idle().is_err(), "the second changelog append must fail the query");
            flaky.appends_left.store(usize::MAX, Ordering::SeqCst);
        }
        engine.run_until_idle().expect("run");
        let counts: Vec<i64> = values(real.as_ref(), "O").iter().map(|(_, v)| v["C"].as_i64().unwrap_or(-1)).collect();
        let expected: Vec<i64> = (1..=RECORDS as i64).collect();
        assert_eq!(counts.len(), expected.len(), "changelog appends {changelog_appends}: one update per input");
        assert!(
            counts == expected,
            "changelog appends {changelog_appends}: updates count 1, 2, 3, ... without gap or repeat"
        );
        if changelog_appends == usize::MAX {
            let output_appends = flaky.slow.as_ref().map_or(0, |slow| slow.appends.load(Ordering::SeqCst));
            assert!(
                (1..BATCHES).contains(&output_appends),
                "{BATCHES} batches took {output_appends} output appends: those processed during a write go as one"
            );
        }
    }
}

/// A query of one partition reads and decodes the two ranges of records after its batch at once;
/// over offsets that compaction left sparse (the ranges then hold fewer records than a batch),
/// every record is read once and in order.
#[test]
fn read_ahead_ranges_cover_a_sparse_partition_once_and_in_order() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let config = TopicConfig {
        partitions: 1,
        cleanup_policy: weft_log::CleanupPolicy::Compact,
        segment_bytes: 64 * 1024,
        ..TopicConfig::default()
    };
    log.create_topic("c", config).expect("topic");
    // Three passes over 40,000 keys, each key updated in some passes only: compaction keeps a
    // key's last record, leaving runs of removed offsets of every length.
    let mut i = 0u64;
    for pass in 0..3u64 {
        let records: Vec<Record> = (0..40_000u64)
            .filter(|k| (k * 7 + pass * 3) % 5 != 0)
            .map(|k| {
                i += 1;
                Record {
                    key: Some(format!("k{k}").into_bytes()),
                    value: Some(format!("{{\"V\": {i}}}").into_bytes()),
                    headers: Vec::new(),
                    timestamp: Some(i as i64),
                }
            })
            .collect();
        log.append("c", 0, records).expect("produce");
    }
    log.run_maintenance().expect("compact");
    let kept: Vec<i64> = values(log.as_ref(), "c").iter().map(|(_, v)| v["V"].as_i64().unwrap_or(-1)).collect();
    let end = log.offsets("c", 0).expect("offsets").1;
    assert!(
        kept.len() > 4 * weft_sql::runtime::BATCH_RECORDS && end > 2 * kept.len() as u64,
        "compaction must leave the offsets sparse over several batches: {} records kept of {end}",
        kept.len()
    );

    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine
        .execute("CREATE STREAM C (ID STRING KEY, V BIGINT) WITH (kafka_topic='c', value_format='JSON');")
        .expect("ddl");
    engine.execute("CREATE STREAM O AS SELECT ID, V FROM C;").expect("csas");
    engine.run_until_idle().expect("run");
    let copied: Vec<i64> = values(log.as_ref(), "O").iter().map(|(_, v)| v["V"].as_i64().unwrap_or(-1)).collect();
    assert_eq!(copied.len(), kept.len(), "every record once");
    assert!(copied == kept, "in the input's order");
}

#[test]
fn catalog_and_query_ids_survive_a_restart() {
    let dir = shm_dir();
    {
        let log = open_log(dir.path());
        let engine = Engine::open(log, options(false)).expect("engine");
        engine.execute(DDL).expect("ddl");
        let r = engine.execute("CREATE STREAM O AS SELECT ID, V FROM S;").expect("csas");
        assert!(matches!(&r[0], StatementResult::Status { query_id: Some(id), .. } if id == "CSAS_O_1"));
        engine.execute("CREATE STREAM GONE AS SELECT ID, V FROM S; DROP STREAM GONE;").expect("drop");
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log, options(false)).expect("reopen");
    let ids: Vec<String> = engine.queries().into_iter().map(|q| q.id).collect();
    assert_eq!(ids, vec!["CSAS_O_1".to_string()]);
    assert!(engine.source("GONE").is_none());
    match &engine.execute("DESCRIBE O;").expect("describe")[0] {
        StatementResult::Description { source, .. } => {
            assert_eq!(source.fields.len(), 2);
            assert_eq!(source.write_queries, vec!["CSAS_O_1".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    match &engine.execute("DESCRIBE EXTENDED O;").expect("describe extended")[0] {
        StatementResult::Description { queries, extended: true, .. } => {
            assert_eq!(queries.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(), vec!["CSAS_O_1"]);
        }
        other => panic!("{other:?}"),
    }
    // The next query id continues after the replayed commands.
    let r = engine.execute("CREATE STREAM O2 AS SELECT ID, V FROM S;").expect("csas");
    assert!(matches!(&r[0], StatementResult::Status { query_id: Some(id), .. } if id == "CSAS_O2_4"), "{r:?}");
}

#[test]
fn push_query_streams_rows_until_its_limit() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("engine");
    engine.execute(DDL).expect("ddl");
    produce(log.as_ref(), "s", "before", "{\"V\": 1}", 0);
    let props = BTreeMap::from([("auto.offset.reset".to_string(), "earliest".to_string())]);
    let mut push =
        engine.push_query("SELECT ID, V * 10 AS X FROM S WHERE V > 0 EMIT CHANGES LIMIT 3;", &props).expect("push");
    assert_eq!(push.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["ID", "X"]);
    assert!(push.id.starts_with("transient_S_"), "{}", push.id);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..5 {
                std::thread::sleep(Duration::from_millis(20));
                produce(log.as_ref(), "s", &format!("k{i}"), &format!("{{\"V\": {i}}}"), i);
            }
        })
    };
    let mut rows = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !push.is_done() && Instant::now() < deadline {
        rows.extend(push.next_rows(Duration::from_millis(200)).expect("rows"));
    }
    writer.join().expect("writer");
    assert!(push.is_done());
    let got: Vec<String> = rows.iter().map(|r| format!("{:?}", r)).collect();
    assert_eq!(rows.len(), 3, "{got:?}");
    assert_eq!(rows[0], vec![weft_sql::types::Value::String("before".into()), weft_sql::types::Value::Int(10)]);
    assert_eq!(rows[1][1], weft_sql::types::Value::Int(10));
    assert_eq!(rows[2][1], weft_sql::types::Value::Int(20));
}

#[test]
fn background_queries_process_new_input() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("engine");
    engine.execute(DDL).expect("ddl");
    engine.execute("CREATE TABLE O AS SELECT ID, SUM(V) AS T FROM S GROUP BY ID;").expect("ctas");
    for i in 1..=4 {
        produce(log.as_ref(), "s", "a", &format!("{{\"V\": {i}}}"), i);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = values(log.as_ref(), "O");
        if out.last().is_some_and(|(_, v)| v["T"] == 10) {
            break;
        }
        assert!(Instant::now() < deadline, "no result in time: {out:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, rows) = engine.pull("SELECT T FROM O WHERE ID = 'a';").expect("pull");
    assert_eq!(rows, vec![vec![serde_json::json!(10)]]);
    engine.execute("TERMINATE ALL;").expect("terminate");
    assert!(engine.queries().is_empty());
}

#[test]
fn errors_carry_positions_and_nothing_runs_after_a_syntax_error() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log, options(false)).expect("engine");
    let err = engine.execute(&format!("{DDL}\nCREATE STREAM X AS SELEC * FROM S;")).expect_err("syntax");
    // ksqlDB ends a syntax error with the statement it is in.
    assert_eq!(
        err.to_string(),
        "line 2:20: Syntax Error\nexpected 'SELECT' but found 'SELEC'\nStatement: CREATE STREAM X AS SELEC * FROM S;"
    );
    assert!(engine.source("S").is_none(), "a syntax error anywhere runs nothing");
    let results =
        engine.execute(&format!("{DDL} SHOW STREAMS; EXPLAIN SELECT ID FROM S WHERE V > 1 EMIT CHANGES;")).expect("ok");
    match &results[2] {
        StatementResult::Explain { plan, .. } => {
            assert_eq!(
                plan, "> [ PROJECT ID AS ID KEY ]\n  > [ FILTER (V > 1) ]\n    > [ SOURCE STREAM S (topic: s) ]\n",
                "{plan}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn print_shows_records_from_the_beginning() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine.execute(DDL).expect("ddl");
    produce(log.as_ref(), "s", "k1", "{\"V\": 1}", 1_600_000_000_000);
    produce(log.as_ref(), "s", "k2", "{\"V\": 2}", 1_600_000_000_001);
    let mut print = engine.print_topic("PRINT S FROM BEGINNING LIMIT 1;").expect("print");
    let lines = print.next_lines(Duration::from_millis(100)).expect("lines");
    assert_eq!(lines, vec!["rowtime: 2020/09/13 12:26:40.000 Z, key: k1, value: {\"V\": 1}, partition: 0".to_string()]);
    assert!(print.is_done());
    assert!(engine.print_topic("PRINT nope;").is_err());
}

#[test]
fn query_endpoint_runs_pull_push_and_print() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine.execute(DDL).expect("ddl");
    produce(log.as_ref(), "s", "a", "{\"V\": 3}", 0);
    let err = engine.execute("SELECT * FROM S EMIT CHANGES;").expect_err("push via execute");
    assert_eq!(err.error_code(), 40002);
    assert_eq!(engine.execute("SELEC 1;").expect_err("syntax").error_code(), 40001);
    let earliest = BTreeMap::from([("auto.offset.reset".to_string(), "earliest".to_string())]);
    match engine.query("SELECT ID, V FROM S;", &earliest).expect("pull") {
        weft_sql::QueryHandle::Pull { columns, rows } => {
            assert_eq!(weft_sql::schema_text_of(&columns), "`ID` STRING KEY, `V` INTEGER");
            assert_eq!(weft_sql::row_to_json(&rows[0], &columns), vec![serde_json::json!("a"), serde_json::json!(3)]);
        }
        _ => panic!("expected a pull result"),
    }
    match engine.query("SELECT ID, COUNT(*) AS C FROM S GROUP BY ID EMIT CHANGES;", &earliest).expect("push") {
        weft_sql::QueryHandle::Push(mut push) => {
            let rows = push.next_rows(Duration::from_millis(200)).expect("rows");
            assert_eq!(rows, vec![vec![weft_sql::types::Value::String("a".into()), weft_sql::types::Value::Bigint(1)]]);
        }
        _ => panic!("expected a push query"),
    }
    assert!(matches!(engine.query("PRINT 's' FROM BEGINNING;", &earliest), Ok(weft_sql::QueryHandle::Print(_))));
    let err = engine.execute("CREATE STREAM O AS SELECT * FROM S LIMIT 1;").expect_err("limit");
    assert!(err.to_string().contains("don't support LIMIT"), "{err}");
}

/// ksqlDB resolves `ksql.streams.auto.offset.reset` and `auto.offset.reset` to one property: in a
/// push query's properties, in a request's and in `SET`/`UNSET`.
#[test]
fn the_offset_reset_property_is_read_under_ksqldbs_full_name_too() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine =
        Engine::open(log.clone(), EngineOptions { background: false, ..EngineOptions::default() }).expect("engine");
    engine.execute(DDL).expect("ddl");
    produce(log.as_ref(), "s", "before", "{\"V\": 1}", 0);
    let full = BTreeMap::from([("ksql.streams.auto.offset.reset".to_string(), "earliest".to_string())]);
    let mut push = engine.push_query("SELECT ID, V FROM S EMIT CHANGES LIMIT 1;", &full).expect("push");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rows = Vec::new();
    while !push.is_done() && Instant::now() < deadline {
        rows.extend(push.next_rows(Duration::from_millis(100)).expect("rows"));
    }
    assert_eq!(rows, vec![vec![weft_sql::types::Value::String("before".into()), weft_sql::types::Value::Int(1)]]);
    // Without it the default (latest) holds: the row written before is not seen.
    let mut push = engine.push_query("SELECT ID, V FROM S EMIT CHANGES;", &BTreeMap::new()).expect("push");
    assert!(push.next_rows(Duration::from_millis(200)).expect("rows").is_empty());

    let shown = |engine: &Engine| match engine.execute("SHOW PROPERTIES;").expect("show").remove(0) {
        StatementResult::Properties { properties, .. } => properties,
        other => panic!("expected properties, got {other:?}"),
    };
    engine.execute("SET 'ksql.streams.auto.offset.reset' = 'earliest';").expect("set");
    assert_eq!(shown(&engine).get("auto.offset.reset").map(String::as_str), Some("earliest"));
    engine.execute("UNSET 'auto.offset.reset';").expect("unset");
    assert!(shown(&engine).is_empty(), "{:?}", shown(&engine));
}

#[test]
fn push_query_over_a_stream_table_join() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine
        .execute(
            "CREATE STREAM O (ID STRING KEY, UID STRING) WITH (kafka_topic='o', value_format='JSON', partitions=1);
             CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='u', value_format='JSON', partitions=1);",
        )
        .expect("ddl");
    produce(log.as_ref(), "u", "u1", "{\"NAME\": \"alice\"}", 0);
    let mut push = engine
        .push_query("SELECT O.UID AS UID, U.NAME FROM O JOIN U ON O.UID = U.ID EMIT CHANGES;", &BTreeMap::new())
        .expect("push");
    produce(log.as_ref(), "o", "o1", "{\"UID\": \"u1\"}", 5);
    let rows = push.next_rows(Duration::from_secs(2)).expect("rows");
    assert_eq!(
        rows,
        vec![vec![weft_sql::types::Value::String("u1".into()), weft_sql::types::Value::String("alice".into())]]
    );
}

#[test]
fn concurrent_statements_do_not_collide() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Arc::new(Engine::open(log, options(false)).expect("engine"));
    engine.execute(DDL).expect("ddl");
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    let _ = engine.execute(&format!("CREATE STREAM D{t}_{i} AS SELECT ID, V FROM S;"));
                    let _ = engine.execute("CREATE STREAM SAME AS SELECT ID, V FROM S;");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let ids: Vec<String> = engine.queries().into_iter().map(|q| q.id).collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "query ids are unique: {ids:?}");
    assert_eq!(ids.len(), 21, "20 distinct streams and one SAME: {ids:?}");
}

#[test]
fn a_failed_batch_is_recovered_in_process_without_duplicates() {
    for (fail_topic, appends) in [("", 0usize), ("_changelog", 0)] {
        let dir = shm_dir();
        let real = open_log(dir.path());
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(1),
            appends_left: AtomicUsize::new(appends),
            fail_topic: fail_topic.to_string(),
            slow: None,
        });
        let engine = Engine::open(flaky.clone(), options(false)).expect("engine");
        engine.execute(DDL).expect("ddl");
        engine.execute("CREATE TABLE O AS SELECT ID, COUNT(*) AS C FROM S GROUP BY ID;").expect("ctas");
        for i in 0..3 {
            produce(real.as_ref(), "s", "a", "{\"V\": 1}", i);
        }
        assert!(engine.run_until_idle().is_err(), "the batch must fail");
        // The log heals; the engine reopens the query from the log and carries on.
        flaky.commits_left.store(usize::MAX, Ordering::SeqCst);
        flaky.appends_left.store(usize::MAX, Ordering::SeqCst);
        engine.run_until_idle().expect("recovered");
        produce(real.as_ref(), "s", "a", "{\"V\": 1}", 3);
        engine.run_until_idle().expect("run");
        let counts: Vec<i64> = values(real.as_ref(), "O").iter().map(|(_, v)| v["C"].as_i64().unwrap_or(-1)).collect();
        assert_eq!(counts, vec![1, 2, 3, 4], "failing {fail_topic:?}");
        let q = &engine.queries()[0];
        assert_eq!(q.state, "RUNNING");
    }
}

#[test]
fn aggregation_over_several_partitions() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine
        .execute("CREATE STREAM P (ID STRING KEY, G STRING) WITH (kafka_topic='p', value_format='JSON', partitions=3);")
        .expect("ddl");
    engine.execute("CREATE TABLE T AS SELECT G, COUNT(*) AS C FROM P GROUP BY G;").expect("ctas");
    for i in 0..60 {
        let key = format!("k{i}");
        let partition = weft_log::partition_for_key(key.as_bytes(), 3);
        let record = Record {
            key: Some(key.into_bytes()),
            value: Some(format!("{{\"G\": \"g{}\"}}", i % 4).into_bytes()),
            headers: Vec::new(),
            timestamp: Some(i),
        };
        log.append("p", partition, vec![record]).expect("produce");
    }
    engine.run_until_idle().expect("run");
    let (_, rows) = engine.pull("SELECT G, C FROM T;").expect("pull");
    let mut rows: Vec<(String, i64)> =
        rows.iter().map(|r| (r[0].as_str().unwrap_or("").to_string(), r[1].as_i64().unwrap_or(0))).collect();
    rows.sort();
    let expected: Vec<(String, i64)> = (0..4).map(|g| (format!("g{g}"), 15)).collect();
    assert_eq!(rows, expected);
    assert_eq!(engine.queries()[0].records_read, 60);
}

/// A stateless query of a four-partition stream runs as two instances, each with two partitions
/// (`EngineOptions::query_tasks`): every record is written once, also when a commit fails in the
/// middle and the instances are reopened from the log, in process and after a restart.
#[test]
fn a_stateless_query_shares_its_partitions_among_instances_and_keeps_exactly_once() {
    let dir = shm_dir();
    let produce_range = |log: &dyn EventLog, range: std::ops::Range<usize>| {
        for i in range {
            let key = format!("k{i}");
            let partition = weft_log::partition_for_key(key.as_bytes(), 4);
            let record = Record {
                key: Some(key.into_bytes()),
                value: Some(format!("{{\"V\": {i}}}").into_bytes()),
                headers: Vec::new(),
                timestamp: Some(i as i64),
            };
            log.append("p", partition, vec![record]).expect("produce");
        }
    };
    let tasks = |background| EngineOptions { query_tasks: 2, ..options(background) };
    let sorted = |log: &dyn EventLog| {
        let mut v: Vec<i64> = values(log, "O").iter().map(|(_, v)| v["V"].as_i64().expect("V")).collect();
        v.sort_unstable();
        v
    };
    {
        let real = open_log(dir.path());
        // The initial positions (four partitions) take four commits, then two more succeed.
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(6),
            appends_left: AtomicUsize::new(0),
            fail_topic: String::new(),
            slow: None,
        });
        let engine = Engine::open(flaky.clone(), tasks(false)).expect("engine");
        engine
            .execute(
                "CREATE STREAM P (ID STRING KEY, V INT) WITH (kafka_topic='p', value_format='JSON', partitions=4);",
            )
            .expect("ddl");
        engine.execute("CREATE STREAM O AS SELECT ID, V FROM P;").expect("csas");
        produce_range(real.as_ref(), 0..400);
        assert!(engine.run_until_idle().is_err(), "a commit fails");
        flaky.commits_left.store(usize::MAX, Ordering::SeqCst);
        engine.run_until_idle().expect("reopened in process");
        assert_eq!(sorted(real.as_ref()), (0..400).collect::<Vec<_>>(), "once each after the in-process reopening");
        assert_eq!(engine.queries()[0].records_written, 400, "the instances' counters add up");
        produce_range(real.as_ref(), 400..500);
        flaky.commits_left.store(1, Ordering::SeqCst);
        assert!(engine.run_until_idle().is_err(), "a commit fails again");
    }
    // A restart: both instances resume from their own partitions' positions.
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), tasks(true)).expect("reopen");
    produce_range(log.as_ref(), 500..600);
    let deadline = Instant::now() + Duration::from_secs(20);
    while values(log.as_ref(), "O").len() < 600 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sorted(log.as_ref()), (0..600).collect::<Vec<_>>(), "once each after the restart");
    // Two threads run the query (Linux names threads by their first 15 bytes).
    let id = engine.queries()[0].id.clone();
    let name: String = format!("weft-sql-{id}").chars().take(15).collect();
    let threads = std::fs::read_dir("/proc/self/task")
        .expect("the process's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == name)
        .count();
    assert_eq!(threads, 2, "threads named {name}");
    engine.shutdown();
}

/// For each key of the output, the counts (`C`) and sums (`S`) of its updates, in the order written.
fn updates_by_key(log: &dyn EventLog, topic: &str) -> BTreeMap<String, Vec<(i64, i64)>> {
    let mut by_key: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for (key, v) in values(log, topic) {
        by_key.entry(key).or_default().push((v["C"].as_i64().unwrap_or(-1), v["S"].as_i64().unwrap_or(-1)));
    }
    by_key
}

/// An aggregation of a four-partition stream grouped by its key runs as one instance per
/// partition, each with its groups' state in its own changelog partition (Kafka Streams' tasks):
/// every key's updates are written once each and in order, when changelog appends and commits fail
/// in the middle and the instances are reopened from the log, and after a restart in background
/// mode, where four threads run it.
#[test]
fn an_aggregation_grouped_by_key_runs_one_instance_per_partition_exactly_once() {
    const KEYS: usize = 13;
    let dir = shm_dir();
    let produce_range = |log: &dyn EventLog, range: std::ops::Range<usize>| {
        for i in range {
            let key = format!("k{}", i % KEYS);
            let partition = weft_log::partition_for_key(key.as_bytes(), 4);
            let record = Record {
                key: Some(key.into_bytes()),
                value: Some(format!("{{\"V\": {i}}}").into_bytes()),
                headers: Vec::new(),
                timestamp: Some(i as i64),
            };
            log.append("p", partition, vec![record]).expect("produce");
        }
    };
    // Every update of every key, computed from the input alone.
    let expected = |n: usize| {
        let mut by_key: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
        for i in 0..n {
            let updates = by_key.entry(format!("k{}", i % KEYS)).or_default();
            let (c, s) = updates.last().copied().unwrap_or((0, 0));
            updates.push((c + 1, s + i as i64));
        }
        by_key
    };
    {
        let real = open_log(dir.path());
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(usize::MAX),
            appends_left: AtomicUsize::new(usize::MAX),
            fail_topic: "_changelog".into(),
            slow: None,
        });
        let engine = Engine::open(flaky.clone(), options(false)).expect("engine");
        engine
            .execute(
                "CREATE STREAM P (ID STRING KEY, V INT) WITH (kafka_topic='p', value_format='JSON', partitions=4);",
            )
            .expect("ddl");
        engine.execute("CREATE TABLE T AS SELECT ID, COUNT(*) AS C, SUM(V) AS S FROM P GROUP BY ID;").expect("ctas");
        let id = engine.queries()[0].id.clone();
        let changelog = format!("_weft_sql_{id}_changelog");
        assert_eq!(
            real.describe_topic(&changelog).expect("changelog").partitions.len(),
            4,
            "a changelog partition each"
        );
        produce_range(real.as_ref(), 0..400);
        flaky.appends_left.store(2, Ordering::SeqCst);
        assert!(engine.run_until_idle().is_err(), "a changelog append fails");
        flaky.appends_left.store(usize::MAX, Ordering::SeqCst);
        flaky.commits_left.store(0, Ordering::SeqCst);
        produce_range(real.as_ref(), 400..450);
        assert!(engine.run_until_idle().is_err(), "a commit fails");
        flaky.commits_left.store(usize::MAX, Ordering::SeqCst);
        engine.run_until_idle().expect("reopened in process");
        assert_eq!(updates_by_key(real.as_ref(), "T"), expected(450), "once each after the in-process reopenings");
        let (_, rows) = engine.pull("SELECT ID, C FROM T;").expect("pull");
        assert_eq!(rows.len(), KEYS, "a pull query sees the groups of every instance: {rows:?}");
        produce_range(real.as_ref(), 450..500);
        flaky.commits_left.store(1, Ordering::SeqCst);
        assert!(engine.run_until_idle().is_err(), "a commit fails again");
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("reopen");
    produce_range(log.as_ref(), 500..600);
    let deadline = Instant::now() + Duration::from_secs(20);
    while values(log.as_ref(), "T").len() < 600 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(updates_by_key(log.as_ref(), "T"), expected(600), "once each after the restart");
    let id = engine.queries()[0].id.clone();
    let name: String = format!("weft-sql-{id}").chars().take(15).collect();
    let threads = std::fs::read_dir("/proc/self/task")
        .expect("the process's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == name)
        .count();
    assert_eq!(threads, 4, "threads named {name}");
    engine.shutdown();
}

/// An aggregation of a four-partition stream grouped by a value column goes through its
/// repartition topic: the input is copied there by group, and one instance per partition of it
/// aggregates whole groups. Each group's counts are written once each, in order, and its sum is
/// exact, through failed copies, failed commits, in-process reopenings and a restart; TERMINATE
/// removes the internal topics.
#[test]
fn an_aggregation_grouped_by_a_value_is_repartitioned_and_keeps_exactly_once() {
    const GROUPS: usize = 7;
    let dir = shm_dir();
    let produce_range = |log: &dyn EventLog, range: std::ops::Range<usize>| {
        for i in range {
            let key = format!("k{i}");
            let partition = weft_log::partition_for_key(key.as_bytes(), 4);
            let record = Record {
                key: Some(key.into_bytes()),
                value: Some(format!("{{\"G\": \"g{}\", \"V\": {i}}}", i % GROUPS).into_bytes()),
                headers: Vec::new(),
                timestamp: Some(i as i64),
            };
            log.append("p", partition, vec![record]).expect("produce");
        }
    };
    // Per group: the counts 1..=n, each once and in order, and the sum of its values.
    let check = |log: &dyn EventLog, n: usize, when: &str| {
        let mut by_group: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
        for (key, v) in values(log, "T") {
            by_group.entry(key).or_default().push((v["C"].as_i64().unwrap_or(-1), v["S"].as_i64().unwrap_or(-1)));
        }
        assert_eq!(by_group.len(), GROUPS, "{when}: every group");
        for g in 0..GROUPS {
            let updates = &by_group[&format!("g{g}")];
            let members: Vec<i64> = (0..n).filter(|i| i % GROUPS == g).map(|i| i as i64).collect();
            let counts: Vec<i64> = updates.iter().map(|u| u.0).collect();
            assert_eq!(counts, (1..=members.len() as i64).collect::<Vec<_>>(), "{when}: group g{g}'s counts");
            assert_eq!(updates.last().map(|u| u.1), Some(members.iter().sum()), "{when}: group g{g}'s sum");
        }
    };
    let id;
    {
        let real = open_log(dir.path());
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(usize::MAX),
            appends_left: AtomicUsize::new(usize::MAX),
            fail_topic: "_repartition".into(),
            slow: None,
        });
        let engine = Engine::open(flaky.clone(), options(false)).expect("engine");
        engine
            .execute(
                "CREATE STREAM P (ID STRING KEY, G STRING, V INT) \
                 WITH (kafka_topic='p', value_format='JSON', partitions=4);",
            )
            .expect("ddl");
        engine.execute("CREATE TABLE T AS SELECT G, COUNT(*) AS C, SUM(V) AS S FROM P GROUP BY G;").expect("ctas");
        id = engine.queries()[0].id.clone();
        for internal in [format!("_weft_sql_{id}_repartition"), format!("_weft_sql_{id}_changelog")] {
            assert_eq!(real.describe_topic(&internal).expect("internal topic").partitions.len(), 4, "{internal}");
        }
        produce_range(real.as_ref(), 0..400);
        flaky.appends_left.store(2, Ordering::SeqCst);
        assert!(engine.run_until_idle().is_err(), "a copy to the repartition topic fails");
        flaky.appends_left.store(usize::MAX, Ordering::SeqCst);
        engine.run_until_idle().expect("reopened in process");
        check(real.as_ref(), 400, "after a failed copy");
        flaky.commits_left.store(0, Ordering::SeqCst);
        produce_range(real.as_ref(), 400..450);
        assert!(engine.run_until_idle().is_err(), "a commit fails");
        flaky.commits_left.store(usize::MAX, Ordering::SeqCst);
        engine.run_until_idle().expect("reopened in process");
        check(real.as_ref(), 450, "after a failed commit");
        let (_, rows) = engine.pull("SELECT G, C FROM T;").expect("pull");
        assert_eq!(rows.len(), GROUPS, "a pull query sees the groups of every instance: {rows:?}");
        produce_range(real.as_ref(), 450..500);
        flaky.commits_left.store(1, Ordering::SeqCst);
        assert!(engine.run_until_idle().is_err(), "a commit fails again");
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("reopen");
    produce_range(log.as_ref(), 500..600);
    let deadline = Instant::now() + Duration::from_secs(20);
    while values(log.as_ref(), "T").len() < 600 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    check(log.as_ref(), 600, "after the restart");
    engine.execute(&format!("TERMINATE {id};")).expect("terminate");
    let topics = log.list_topics();
    assert!(!topics.iter().any(|t| t.starts_with(&format!("_weft_sql_{id}_"))), "internal topics left: {topics:?}");
    engine.shutdown();
}

/// A join of a stream and a table partitioned alike by their key (three partitions each) runs as
/// one task per partition pair: every stream record is joined once, with the table row of its
/// key, through a failed commit, an in-process reopening and a restart.
#[test]
fn a_join_of_co_partitioned_inputs_runs_one_task_per_partition_exactly_once() {
    const USERS: usize = 11;
    let dir = shm_dir();
    let append = |log: &dyn EventLog, topic: &str, key: String, value: String, ts: i64| {
        let partition = weft_log::partition_for_key(key.as_bytes(), 3);
        let record = Record {
            key: Some(key.into_bytes()),
            value: Some(value.into_bytes()),
            headers: Vec::new(),
            timestamp: Some(ts),
        };
        log.append(topic, partition, vec![record]).expect("produce");
    };
    let clicks = |log: &dyn EventLog, range: std::ops::Range<usize>| {
        for i in range {
            append(log, "clicks", format!("u{}", i % USERS), format!("{{\"N\": {i}}}"), 1000 + i as i64);
        }
    };
    // (N, NAME) of every joined row, sorted.
    let joined = |log: &dyn EventLog| {
        let mut rows: Vec<(i64, String)> = values(log, "ENRICHED")
            .iter()
            .map(|(_, v)| (v["N"].as_i64().unwrap_or(-1), v["NAME"].as_str().unwrap_or("").to_string()))
            .collect();
        rows.sort();
        rows
    };
    let expected = |n: usize| (0..n).map(|i| (i as i64, format!("name{}", i % USERS))).collect::<Vec<_>>();
    {
        let real = open_log(dir.path());
        let flaky = Arc::new(FlakyLog {
            inner: real.clone(),
            commits_left: AtomicUsize::new(usize::MAX),
            appends_left: AtomicUsize::new(usize::MAX),
            fail_topic: String::new(),
            slow: None,
        });
        let engine = Engine::open(flaky.clone(), options(false)).expect("engine");
        engine
            .execute(
                "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) \
                 WITH (kafka_topic='users', value_format='JSON', partitions=3); \
                 CREATE STREAM CLICKS (ID STRING KEY, N INT) WITH (kafka_topic='clicks', value_format='JSON', partitions=3); \
                 CREATE STREAM ENRICHED AS SELECT C.ID AS ID, C.N AS N, U.NAME AS NAME FROM CLICKS C JOIN USERS U ON C.ID = U.ID;",
            )
            .expect("statements");
        for u in 0..USERS {
            append(real.as_ref(), "users", format!("u{u}"), format!("{{\"NAME\": \"name{u}\"}}"), u as i64);
        }
        clicks(real.as_ref(), 0..300);
        engine.run_until_idle().expect("run");
        assert_eq!(joined(real.as_ref()), expected(300));
        flaky.commits_left.store(0, Ordering::SeqCst);
        clicks(real.as_ref(), 300..400);
        assert!(engine.run_until_idle().is_err(), "a commit fails");
        flaky.commits_left.store(usize::MAX, Ordering::SeqCst);
        engine.run_until_idle().expect("reopened in process");
        assert_eq!(joined(real.as_ref()), expected(400), "once each after the reopening");
        clicks(real.as_ref(), 400..450);
        flaky.commits_left.store(1, Ordering::SeqCst);
        assert!(engine.run_until_idle().is_err(), "a commit fails again");
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("reopen");
    clicks(log.as_ref(), 450..500);
    let deadline = Instant::now() + Duration::from_secs(20);
    while values(log.as_ref(), "ENRICHED").len() < 500 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(joined(log.as_ref()), expected(500), "once each after the restart");
    let query = engine.queries().into_iter().find(|q| q.sink == "ENRICHED").expect("the join's query");
    assert_eq!(query.tasks, 3, "a task per partition pair");
    engine.shutdown();
}

/// A query whose changelog an earlier version made with one partition keeps running as one
/// instance over a multi-partition input: its state is where that changelog says.
#[test]
fn an_aggregation_with_a_one_partition_changelog_stays_whole() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine
        .execute("CREATE STREAM P (ID STRING KEY, V INT) WITH (kafka_topic='p', value_format='JSON', partitions=3);")
        .expect("ddl");
    // The id the next query gets (ksqlDB's scheme: CTAS_<sink>_<sequence>).
    let probe_dir = shm_dir();
    let probe = Engine::open(open_log(probe_dir.path()), options(false)).expect("probe");
    probe
        .execute("CREATE STREAM P (ID STRING KEY, V INT) WITH (kafka_topic='p', value_format='JSON', partitions=1);")
        .expect("ddl");
    probe.execute("CREATE TABLE T AS SELECT ID, COUNT(*) AS C, SUM(V) AS S FROM P GROUP BY ID;").expect("ctas");
    let id = probe.queries()[0].id.clone();
    log.create_topic(&format!("_weft_sql_{id}_changelog"), TopicConfig::compacted(1)).expect("old changelog");
    engine.execute("CREATE TABLE T AS SELECT ID, COUNT(*) AS C, SUM(V) AS S FROM P GROUP BY ID;").expect("ctas");
    assert_eq!(engine.queries()[0].id, id);
    for i in 0..30 {
        let key = format!("k{}", i % 5);
        let partition = weft_log::partition_for_key(key.as_bytes(), 3);
        let record = Record {
            key: Some(key.into_bytes()),
            value: Some(format!("{{\"V\": {i}}}").into_bytes()),
            headers: Vec::new(),
            timestamp: Some(i),
        };
        log.append("p", partition, vec![record]).expect("produce");
    }
    engine.run_until_idle().expect("run");
    let last: BTreeMap<String, (i64, i64)> =
        updates_by_key(log.as_ref(), "T").into_iter().map(|(k, u)| (k, u[u.len() - 1])).collect();
    let expected: BTreeMap<String, (i64, i64)> =
        (0..5).map(|k| (format!("k{k}"), (6, (0..30).filter(|i| i % 5 == k).sum::<i64>()))).collect();
    assert_eq!(last, expected);
    assert_eq!(log.describe_topic(&format!("_weft_sql_{id}_changelog")).expect("changelog").partitions.len(), 1);
}

#[test]
fn background_queries_resume_after_a_restart() {
    let dir = shm_dir();
    let wait_for = |log: &dyn EventLog, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while values(log, "O").len() < n {
            assert!(Instant::now() < deadline, "only {} of {n} outputs", values(log, "O").len());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    {
        let log = open_log(dir.path());
        let engine = Engine::open(log.clone(), options(true)).expect("engine");
        engine.execute(DDL).expect("ddl");
        engine
            .execute("CREATE STREAM O AS SELECT ID, V FROM S; CREATE STREAM GONE AS SELECT ID, V FROM S;")
            .expect("csas");
        engine.execute("DROP STREAM GONE DELETE TOPIC;").expect("drop");
        produce(log.as_ref(), "s", "a", "{\"V\": 1}", 0);
        wait_for(log.as_ref(), 1);
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("reopen");
    produce(log.as_ref(), "s", "b", "{\"V\": 2}", 1);
    wait_for(log.as_ref(), 2);
    let keys: Vec<String> = values(log.as_ref(), "O").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec!["a", "b"]);
    assert!(!log.list_topics().contains(&"GONE".to_string()));
    assert_eq!(engine.queries().len(), 1);
}

#[test]
fn handles_cross_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    send::<weft_sql::PushQuery>();
    send::<weft_sql::PrintQuery>();
    send::<weft_sql::QueryHandle>();
    send_sync::<StatementResult>();
}

#[test]
fn push_query_explodes_arrays_and_explain_shows_the_table_function() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    engine
        .execute(
            "CREATE STREAM A (ID STRING KEY, XS ARRAY<INT>) WITH (kafka_topic='a', value_format='JSON', partitions=1);",
        )
        .expect("ddl");
    produce(log.as_ref(), "a", "k", "{\"XS\": [1, 2, 3]}", 5);
    produce(log.as_ref(), "a", "empty", "{\"XS\": []}", 6);
    let props = BTreeMap::from([("auto.offset.reset".to_string(), "earliest".to_string())]);
    let mut push = engine.push_query("SELECT ID, EXPLODE(XS) AS X FROM A EMIT CHANGES LIMIT 3;", &props).expect("push");
    let mut rows = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !push.is_done() && Instant::now() < deadline {
        rows.extend(push.next_rows(Duration::from_millis(100)).expect("rows"));
    }
    let xs: Vec<weft_sql::types::Value> = rows.iter().map(|r| r[1].clone()).collect();
    assert_eq!(xs, [1, 2, 3].map(weft_sql::types::Value::Int).to_vec());
    let explained = engine.execute("EXPLAIN SELECT ID, EXPLODE(XS) AS X FROM A EMIT CHANGES;").expect("explain");
    let text = serde_json::to_string(&explained).expect("json");
    assert!(text.contains("EXPLODE(XS)"), "{text}");
}

/// Internal `_weft*` topics hold platform state: SQL may read them, but no statement writes them
/// (INSERT VALUES, `/inserts-stream`'s insert_json, CREATE ... AS SELECT into one, INSERT INTO ...
/// SELECT), and nothing reaches the topic.
#[test]
fn no_statement_writes_an_internal_topic() {
    let dir = tempfile::tempdir().expect("dir");
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("engine");
    log.create_topic("_weft_state", TopicConfig::default()).expect("topic");
    produce(log.as_ref(), "_weft_state", "k", r#"{"V": 1}"#, 1);
    log.create_topic("plain", TopicConfig::default()).expect("topic");
    produce(log.as_ref(), "plain", "k", r#"{"V": 2}"#, 2);
    engine
        .execute(
            "CREATE STREAM STATE (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='_weft_state', VALUE_FORMAT='JSON');
             CREATE STREAM PLAIN (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='plain', VALUE_FORMAT='JSON');",
        )
        .expect("declaring a stream over an internal topic is reading, which is allowed");

    let forbidden = |result: Result<Vec<StatementResult>, weft_sql::SqlError>, what: &str| match result {
        Err(e) => {
            assert_eq!(e.error_code(), 40301, "{what}: {e}");
            assert!(e.to_string().contains("_weft"), "{what}: {e}");
        }
        Ok(_) => panic!("{what} wrote an internal topic"),
    };
    forbidden(engine.execute("INSERT INTO STATE (ID, V) VALUES ('x', 9);"), "INSERT VALUES");
    forbidden(engine.execute("INSERT INTO STATE SELECT * FROM PLAIN;"), "INSERT INTO ... SELECT");
    forbidden(
        engine.execute("CREATE STREAM SNEAKY WITH (KAFKA_TOPIC='_weft_sneaky') AS SELECT * FROM PLAIN;"),
        "CREATE STREAM AS SELECT",
    );
    let row = serde_json::json!({"ID": "x", "V": 9});
    let error = engine.insert_json("STATE", row.as_object().expect("object")).expect_err("insert_json");
    assert_eq!(error.error_code(), 40301, "{error}");
    engine.run_until_idle().expect("run");

    assert_eq!(values(log.as_ref(), "_weft_state").len(), 1, "only the record the platform wrote");
    assert!(!log.list_topics().contains(&"_weft_sneaky".to_string()), "no topic made for the refused sink");
    assert!(engine.source("SNEAKY").is_none() && engine.queries().is_empty());
    // Reading the internal topic still works.
    let (_, rows) = engine.pull("SELECT V FROM STATE;").expect("pull");
    assert_eq!(rows, vec![vec![serde_json::json!(1)]]);
}

/// Changelogs written before the binary encoding of state hold JSON values: a restarted query
/// still restores its state from them.
#[test]
fn state_restores_from_a_changelog_in_the_json_encoding() {
    let dir = shm_dir();
    {
        let log = open_log(dir.path());
        let engine = Engine::open(log.clone(), options(false)).expect("engine");
        engine.execute(DDL).expect("ddl");
        engine.execute("CREATE TABLE O AS SELECT ID, COUNT(*) AS C, SUM(V) AS T FROM S GROUP BY ID;").expect("ctas");
        produce(log.as_ref(), "s", "a", "{\"V\": 1}", 0);
        engine.run_until_idle().expect("run");
        // Group "a" with COUNT 10 and SUM 100, as the JSON encoding wrote an entry.
        let changelog = log.list_topics().into_iter().find(|t| t.ends_with("_changelog")).expect("changelog topic");
        let legacy = r#"{"g":["a"],"w":null,"a":[10,100],"t":0,"e":false,"h":true}"#;
        let record = Record {
            key: Some(b"\"a\"\0".to_vec()),
            value: Some(legacy.as_bytes().to_vec()),
            headers: Vec::new(),
            timestamp: None,
        };
        log.append(&changelog, 0, vec![record]).expect("append");
    }
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(false)).expect("reopen");
    produce(log.as_ref(), "s", "a", "{\"V\": 5}", 1);
    engine.run_until_idle().expect("run");
    let (_, last) = values(log.as_ref(), "O").pop().expect("output");
    assert_eq!((last["C"].as_i64(), last["T"].as_i64()), (Some(11), Some(105)), "{last}");
}

/// Every kind of accumulator goes through the changelog's encoding and back: a query restarted
/// between two inputs writes what one that ran through writes.
#[test]
fn every_accumulator_survives_a_restart() {
    const DDL2: &str = "CREATE STREAM S2 (ID STRING KEY, V INT, W STRING, D DOUBLE, B BIGINT) \
                        WITH (kafka_topic='s2', value_format='JSON', partitions=1);";
    const QUERY: &str = "CREATE TABLE O AS SELECT ID, COUNT(*) AS N, COUNT(V) AS CV, SUM(V) AS SV, SUM(D) AS SD, \
        SUM(B) AS SB, AVG(D) AS A, MIN(V) AS MI, MAX(W) AS MA, COUNT_DISTINCT(W) AS CD, LATEST_BY_OFFSET(W) AS L, \
        EARLIEST_BY_OFFSET(V, 2) AS E2, COLLECT_LIST(W) AS CL, COLLECT_SET(V) AS CS, STDDEV_SAMP(D) AS SS, \
        TOPK(B, 2) AS TK FROM S2 WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ID HAVING COUNT(*) > 1;";
    let input: Vec<(String, String, i64)> = (0..24i64)
        .map(|i| {
            let v = if i % 5 == 0 { "null".to_string() } else { (i * 7 % 11).to_string() };
            let w = if i % 4 == 0 { "null".to_string() } else { format!("\"w{}\"", i % 3) };
            let value = format!(r#"{{"V": {v}, "W": {w}, "D": {}, "B": {}}}"#, i as f64 / 4.0, 1_000_000_000_000 + i);
            (format!("k{}", i % 3), value, i * 9_000)
        })
        .collect();
    let run = |restart_at: Option<usize>| {
        let dir = shm_dir();
        let mut from = 0;
        for stop in restart_at.into_iter().chain([input.len()]) {
            let log = open_log(dir.path());
            let engine = Engine::open(log.clone(), options(false)).expect("engine");
            if from == 0 {
                engine.execute(DDL2).expect("ddl");
                engine.execute(QUERY).expect("ctas");
            }
            for (key, value, ts) in &input[from..stop] {
                produce(log.as_ref(), "s2", key, value, *ts);
            }
            engine.run_until_idle().expect("run");
            from = stop;
        }
        let log = open_log(dir.path());
        values(log.as_ref(), "O")
    };
    let through = run(None);
    assert!(through.len() > 10, "{through:?}");
    for restart_at in [5, 13] {
        assert_eq!(run(Some(restart_at)), through, "restarted after {restart_at} inputs");
    }
}

#[test]
fn describe_function_knows_table_and_lambda_functions() {
    let dir = shm_dir();
    let engine = Engine::open(open_log(dir.path()), options(false)).expect("engine");
    for name in ["EXPLODE", "CUBE_EXPLODE", "TRANSFORM", "CORRELATION", "HISTOGRAM", "REGEXP_EXTRACT"] {
        engine.execute(&format!("DESCRIBE FUNCTION {name};")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let err = engine.execute("DESCRIBE FUNCTION NOPE;").expect_err("unknown");
    assert_eq!(err.to_string(), "Can't find any functions with the name 'NOPE'");
}

#[test]
fn a_stream_table_join_decodes_only_the_stream_columns_it_reads() {
    let dir = shm_dir();
    let log = open_log(dir.path());
    let engine = Engine::open(log.clone(), options(true)).expect("engine");
    engine
        .execute(
            "CREATE STREAM PV (ID STRING KEY, URL STRING, N INT, AGENT STRING) \
             WITH (kafka_topic='pv', value_format='JSON', partitions=1);",
        )
        .expect("stream");
    engine
        .execute(
            "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) \
             WITH (kafka_topic='users', value_format='JSON', partitions=1);",
        )
        .expect("table");
    produce(log.as_ref(), "users", "a", r#"{"NAME": "Ann"}"#, 1);
    engine
        .execute("CREATE STREAM J AS SELECT P.ID AS ID, P.URL, U.NAME FROM PV P JOIN USERS U ON P.ID = U.ID;")
        .expect("csas");
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = values(log.as_ref(), "J");
            if out.len() >= n {
                return out;
            }
            assert!(Instant::now() < deadline, "no result in time: {out:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    produce(log.as_ref(), "pv", "a", r#"{"URL": "/first", "N": 1, "AGENT": "x"}"#, 2);
    wait_for(1);
    // N is not an INT here, but the join never reads N: the record joins as the others do.
    produce(log.as_ref(), "pv", "a", r#"{"URL": "/second", "N": "not a number", "AGENT": "y"}"#, 3);
    produce(log.as_ref(), "pv", "a", r#"{"URL": "/third", "N": 3}"#, 4);
    let out = wait_for(3);
    let rows: Vec<(String, serde_json::Value)> = out.into_iter().collect();
    assert_eq!(
        rows,
        vec![
            ("a".to_string(), serde_json::json!({"URL": "/first", "NAME": "Ann"})),
            ("a".to_string(), serde_json::json!({"URL": "/second", "NAME": "Ann"})),
            ("a".to_string(), serde_json::json!({"URL": "/third", "NAME": "Ann"})),
        ]
    );
    engine.execute("TERMINATE ALL;").expect("terminate");
}

#[test]
fn a_query_failing_on_every_attempt_backs_off_and_still_stops_at_once() {
    let dir = shm_dir();
    let real = open_log(dir.path());
    // The query's initial position is committed; every commit after it fails, so each attempt
    // (reopen, re-read, commit) fails the same way.
    let flaky = Arc::new(FlakyLog {
        inner: real.clone(),
        commits_left: AtomicUsize::new(1),
        appends_left: AtomicUsize::new(0),
        fail_topic: String::new(),
        slow: None,
    });
    let engine = Engine::open(flaky, options(true)).expect("engine");
    engine.execute(DDL).expect("ddl");
    produce(real.as_ref(), "s", "a", "{\"V\": 1}", 0);
    engine.execute("CREATE STREAM O AS SELECT ID, V FROM S;").expect("csas");
    let errors = || engine.queries().first().map_or(0, |q| q.errors);
    let deadline = Instant::now() + Duration::from_secs(20);
    while errors() == 0 {
        assert!(Instant::now() < deadline, "the commit never failed");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(4_500));
    // Attempts half a second apart would have failed about ten times by now; pauses doubling from
    // half a second (0.5, 1, 2, 4 s) leave four failures.
    let failed = errors();
    assert!((2..=5).contains(&failed), "{failed} failed attempts in 4.5 s");
    let query = engine.queries().remove(0);
    assert_eq!(query.state, "ERROR", "{query:?}");
    // The query is in its 4-second pause: TERMINATE wakes it rather than waiting.
    let terminating = Instant::now();
    engine.execute(&format!("TERMINATE {};", query.id)).expect("terminate");
    assert!(terminating.elapsed() < Duration::from_secs(2), "TERMINATE took {:?}", terminating.elapsed());
    assert!(engine.queries().is_empty());
}
