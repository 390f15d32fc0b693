//! Cost per event of a windowed aggregation as its state grows (no criterion):
//! `cargo bench -p weft-sql --bench window_state [-- SIZES...] [--events N] [--final | --changes]
//! [--session]`.
//!
//! A tumbling 10-second COUNT/SUM by key over 5,000 keys, events 1 ms apart in time order (two per
//! key and window), grace 0; the retention is chosen so the state holds SIZE windows once it is
//! full (default sizes: 100k, 1M and 10M windows). With `--session`, session windows of a 1-second
//! gap instead: each event is a session of its own, ending at a time of its own. The state is filled first (untimed), then
//! `--events` more events (default 1M) are timed while windows keep closing and expiring at the
//! rate they are created. Events are decoded from JSON outside the timed part, so the figure is
//! the aggregation's own cost per event: it should not depend on the size of the state. Besides the
//! elapsed time, the time the thread ran (`cpu`, from /proc/thread-self/schedstat) is shown: on a
//! machine shared with other work the elapsed time also counts the time the thread waited.

use std::time::{Duration, Instant};

use weft_log::{EmbeddedLog, LogOptions, StoredRecord};
use weft_sql::ast::Statement;
use weft_sql::metastore::{Decoded, SourceDef};
use weft_sql::parser::parse_statements;
use weft_sql::plan::{plan_query, Operator, Purpose};
use weft_sql::runtime::{Change, Origin, RowSink};
use weft_sql::types::Value;
use weft_sql::{Engine, EngineOptions};

// The allocator of the `weft` binary, whose queries this measures: glibc's malloc spends a growing
// share of a large state's time on its free lists (`unlink_chunk`), which the server never does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 5_000;
const WINDOW_MS: u64 = 10_000;
const STEP_MS: i64 = 1;
const CHUNK: u64 = 10_000;

fn source() -> SourceDef {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("log");
    let engine = Engine::open(log, EngineOptions { background: false, ..EngineOptions::default() }).expect("engine");
    engine
        .execute(
            "CREATE STREAM EVENTS (ID STRING KEY, USER STRING, BYTES BIGINT) \
             WITH (kafka_topic='events', value_format='JSON', partitions=1);",
        )
        .expect("ddl");
    engine.source("EVENTS").expect("source")
}

fn operator(source: &SourceDef, windows: u64, emit_final: bool, session: bool) -> Operator {
    // Windows per key kept once closed: the state then holds about KEYS * (that + 1) windows.
    let kept = (windows / KEYS).saturating_sub(1).max(1);
    let window = if session {
        // A session per event, one event a millisecond: the retention in milliseconds is the
        // number of sessions held.
        format!("SESSION (1000 MILLISECONDS, RETENTION {windows} MILLISECONDS, GRACE PERIOD 0 MILLISECONDS)")
    } else {
        format!(
            "TUMBLING (SIZE {WINDOW_MS} MILLISECONDS, RETENTION {} MILLISECONDS, GRACE PERIOD 0 MILLISECONDS)",
            kept * WINDOW_MS
        )
    };
    let sql = format!(
        "CREATE TABLE OUT AS SELECT USER, COUNT(*) AS C, SUM(BYTES) AS B FROM EVENTS WINDOW {window} GROUP BY USER{};",
        if emit_final { " EMIT FINAL" } else { "" }
    );
    let query = match parse_statements(&sql).expect("parse").remove(0).statement {
        Statement::CreateAsSelect(c) => c.query,
        other => panic!("not a query: {other:?}"),
    };
    let s = source.clone();
    plan_query(&query, &move |_| Ok(s.clone()), Purpose::Persistent, Some("OUT")).expect("plan").operator
}

fn record(i: u64) -> StoredRecord {
    let user = i % KEYS;
    StoredRecord {
        offset: i,
        timestamp: i as i64 * STEP_MS,
        key: Some(format!("k{user}").into_bytes()),
        value: Some(format!(r#"{{"USER":"user-{user:05}","BYTES":{}}}"#, 1000 + i % 5000).into_bytes()),
        headers: Vec::new(),
    }
}

struct CountSink(u64);

impl RowSink for CountSink {
    fn emit(&mut self, _change: Change<'_>, _origin: Origin) -> weft_sql::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

/// The time this thread has run, in nanoseconds (0 where /proc does not say).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Feeds events `from..to`, decoding each chunk untimed; returns the time spent processing and the
/// part of it the thread ran.
fn feed(op: &mut Operator, source: &SourceDef, sink: &mut CountSink, from: u64, to: u64) -> (Duration, Duration) {
    let reader = source.reader().expect("reader");
    let mut spent = Duration::ZERO;
    let mut ran = 0u64;
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(CHUNK as usize);
    let mut at = from;
    while at < to {
        let end = (at + CHUNK).min(to);
        rows.clear();
        for i in at..end {
            let mut row = Vec::new();
            assert_eq!(reader.decode(&record(i), 0, &mut row).expect("decode"), Decoded::Row);
            rows.push(row);
        }
        let cpu = thread_cpu_ns();
        let start = Instant::now();
        for (i, row) in (at..end).zip(&rows) {
            op.process(0, row, Decoded::Row, Origin { input: 0, partition: 0, offset: i }, sink).expect("process");
        }
        spent += start.elapsed();
        ran += thread_cpu_ns().saturating_sub(cpu);
        at = end;
    }
    (spent, Duration::from_nanos(ran))
}

fn rss_mb() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()))
        .unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sizes = Vec::new();
    let mut events = 1_000_000u64;
    let mut modes = vec![true, false];
    let mut session = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--events" => {
                i += 1;
                events = args.get(i).and_then(|n| n.parse().ok()).expect("--events N");
            }
            "--final" => modes = vec![true],
            "--changes" => modes = vec![false],
            "--session" => session = true,
            "--bench" => {}
            n => sizes.push(n.parse::<u64>().unwrap_or_else(|_| panic!("not a size: {n}"))),
        }
        i += 1;
    }
    if sizes.is_empty() {
        sizes = vec![100_000, 1_000_000, 10_000_000];
    }
    let source = source();
    for emit_final in modes {
        for &windows in &sizes {
            let mut op = operator(&source, windows, emit_final, session);
            let mut sink = CountSink(0);
            // Two events per key and window: the state is full after 2 * windows events (sessions:
            // one event per window).
            let fill = if session { windows } else { 2 * windows };
            let (fill_time, _) = feed(&mut op, &source, &mut sink, 0, fill);
            let filled_rows = sink.0;
            let (spent, ran) = feed(&mut op, &source, &mut sink, fill, fill + events);
            println!(
                "{} {windows:>9} windows: {:.0} ns/event (cpu {:.0}) over {events} events ({} rows out; fill {:.0} \
                 ns/event); rss {:.0} MB",
                if emit_final { "EMIT FINAL  " } else { "EMIT CHANGES" },
                spent.as_nanos() as f64 / events as f64,
                ran.as_nanos() as f64 / events as f64,
                sink.0 - filled_rows,
                fill_time.as_nanos() as f64 / fill as f64,
                rss_mb()
            );
        }
    }
}
