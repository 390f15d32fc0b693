//! Windowed aggregation against a reference model written here from the semantics (ksqlDB's, as
//! `aggregate.rs` documents them), on random inputs: out-of-order and late records, several keys,
//! TUMBLING, HOPPING and SESSION windows, EMIT CHANGES and EMIT FINAL, grace and retention. Also
//! that EMIT FINAL emits each window once, that expired windows leave the state, and that a state
//! restored from its changelog goes on as the live one does.

use std::collections::{BTreeMap, BTreeSet};

use weft_log::{EmbeddedLog, EventLog, LogOptions, StoredRecord};
use weft_sql::ast::Statement;
use weft_sql::metastore::{Decoded, SourceDef};
use weft_sql::parser::parse_statements;
use weft_sql::plan::{plan_query, Operator, Purpose};
use weft_sql::runtime::{Change, Origin, RowSink};
use weft_sql::types::Value;
use weft_sql::{Engine, EngineOptions};

fn source() -> SourceDef {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("log");
    let engine = Engine::open(log, EngineOptions { background: false, ..EngineOptions::default() }).expect("engine");
    engine
        .execute("CREATE STREAM S (ID STRING KEY, V INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);")
        .expect("ddl");
    engine.source("S").expect("source")
}

fn operator(source: &SourceDef, window: &str, emit_final: bool) -> Operator {
    let sql = format!(
        "CREATE TABLE O AS SELECT ID, COUNT(*) AS C, SUM(V) AS T FROM S WINDOW {window} GROUP BY ID{};",
        if emit_final { " EMIT FINAL" } else { "" }
    );
    let query = match parse_statements(&sql).expect("parse").remove(0).statement {
        Statement::CreateAsSelect(c) => c.query,
        other => panic!("not a query: {other:?}"),
    };
    let s = source.clone();
    plan_query(&query, &move |_| Ok(s.clone()), Purpose::Persistent, Some("O")).expect("plan").operator
}

/// One output row: key, window, count and sum (`None` for a tombstone), timestamp.
type Out = (String, i64, i64, Option<(i64, i64)>, i64);

#[derive(Default)]
struct Collect(Vec<Out>);

impl RowSink for Collect {
    fn emit(&mut self, change: Change<'_>, _origin: Origin) -> weft_sql::Result<()> {
        let Value::String(key) = &*change.cols[0] else { panic!("key {:?}", change.cols[0]) };
        let window = change.window.expect("windowed");
        let aggs = if change.tombstone {
            None
        } else {
            let (Value::Bigint(c), Value::Int(t)) = (&*change.cols[1], &*change.cols[2]) else {
                panic!("aggregates {:?}", change.cols)
            };
            Some((*c, i64::from(*t)))
        };
        self.0.push((key.clone(), window.start, window.end, aggs, change.timestamp));
        Ok(())
    }
}

fn run(op: &mut Operator, source: &SourceDef, events: &[(String, i64, i32)]) -> Vec<Out> {
    let reader = source.reader().expect("reader");
    let mut sink = Collect::default();
    let mut row = Vec::new();
    for (i, (key, ts, v)) in events.iter().enumerate() {
        let rec = StoredRecord {
            offset: i as u64,
            timestamp: *ts,
            key: Some(key.clone().into_bytes()),
            value: Some(format!(r#"{{"V":{v}}}"#).into_bytes()),
            headers: Vec::new(),
        };
        assert_eq!(reader.decode(&rec, 0, &mut row).expect("decode"), Decoded::Row);
        let origin = Origin { input: 0, partition: 0, offset: i as u64 };
        op.process(0, &row, Decoded::Row, origin, &mut sink).expect("process");
    }
    sink.0
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tumbling { size: i64 },
    Hopping { size: i64, advance: i64 },
    Session { gap: i64 },
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    kind: Kind,
    grace: i64,
    retention: Option<i64>,
    emit_final: bool,
}

impl Spec {
    fn sql(&self) -> String {
        let mut clauses = match self.kind {
            Kind::Tumbling { size } => vec![format!("SIZE {size} MILLISECONDS")],
            Kind::Hopping { size, advance } => {
                vec![format!("SIZE {size} MILLISECONDS"), format!("ADVANCE BY {advance} MILLISECONDS")]
            }
            Kind::Session { gap } => vec![format!("{gap} MILLISECONDS")],
        };
        if let Some(r) = self.retention {
            clauses.push(format!("RETENTION {r} MILLISECONDS"));
        }
        clauses.push(format!("GRACE PERIOD {} MILLISECONDS", self.grace));
        let kind = match self.kind {
            Kind::Tumbling { .. } => "TUMBLING",
            Kind::Hopping { .. } => "HOPPING",
            Kind::Session { .. } => "SESSION",
        };
        format!("{kind} ({})", clauses.join(", "))
    }
}

/// A window of the model's state.
#[derive(Clone, Copy, Debug)]
struct Agg {
    count: i64,
    sum: i64,
    max_ts: i64,
    emitted: bool,
}

/// The semantics, plainly: every window kept in an ordered map, scanned as needed.
fn model(spec: Spec, events: &[(String, i64, i32)]) -> Vec<Out> {
    // (key, start, end) -> aggregate
    let mut state: BTreeMap<(String, i64, i64), Agg> = BTreeMap::new();
    let mut stream_time = i64::MIN / 2;
    let mut out = Vec::new();
    // Sessions are kept until no record can merge with them any more (Kafka Streams' retention).
    let reach = match spec.kind {
        Kind::Session { gap } => spec.grace + gap,
        _ => spec.grace,
    };
    let keep_for = spec.retention.unwrap_or(0).max(reach);
    for (key, ts, v) in events {
        let (ts, v) = (*ts, i64::from(*v));
        stream_time = stream_time.max(ts);
        let close = stream_time - spec.grace;
        let fold = |state: &mut BTreeMap<(String, i64, i64), Agg>, start: i64, end: i64, out: &mut Vec<Out>| {
            if end <= close {
                return;
            }
            let a =
                state.entry((key.clone(), start, end)).or_insert(Agg { count: 0, sum: 0, max_ts: ts, emitted: false });
            a.count += 1;
            a.sum += v;
            a.max_ts = a.max_ts.max(ts);
            if !spec.emit_final {
                out.push((key.clone(), start, end, Some((a.count, a.sum)), a.max_ts));
            }
        };
        match spec.kind {
            Kind::Tumbling { size } => {
                let start = ts - ts.rem_euclid(size);
                fold(&mut state, start, start + size, &mut out);
            }
            Kind::Hopping { size, advance } => {
                let mut starts: Vec<i64> = Vec::new();
                let mut s = ts - ts.rem_euclid(advance);
                while s > ts - size && s >= 0 {
                    starts.push(s);
                    s -= advance;
                }
                for start in starts.into_iter().rev() {
                    fold(&mut state, start, start + size, &mut out);
                }
            }
            Kind::Session { gap } => {
                let merging: Vec<(i64, i64)> = state
                    .keys()
                    .filter(|(k, s, e)| k == key && ts >= s - gap && ts <= e + gap)
                    .map(|(_, s, e)| (*s, *e))
                    .collect();
                let start = merging.iter().map(|m| m.0).chain([ts]).min().unwrap_or(ts);
                let end = merging.iter().map(|m| m.1).chain([ts]).max().unwrap_or(ts);
                // A session takes records until stream time passes its end plus gap and grace.
                if end >= close - gap {
                    let mut merged = Agg { count: 1, sum: v, max_ts: ts, emitted: false };
                    for (s, e) in merging {
                        let Some(old) = state.remove(&(key.clone(), s, e)) else { continue };
                        merged.count += old.count;
                        merged.sum += old.sum;
                        merged.max_ts = merged.max_ts.max(old.max_ts);
                        if (s, e) != (start, end) && !spec.emit_final {
                            out.push((key.clone(), s, e, None, old.max_ts));
                        }
                    }
                    state.insert((key.clone(), start, end), merged);
                    if !spec.emit_final {
                        out.push((key.clone(), start, end, Some((merged.count, merged.sum)), merged.max_ts));
                    }
                }
            }
        }
        if spec.emit_final {
            // Kafka Streams reads final results from the window store, whose time is the start of
            // the newest window written and which returns no time window that started more than
            // max(RETENTION, size + grace) before it: a window that stream time jumped past closes
            // without a result.
            let step = match spec.kind {
                Kind::Tumbling { size } => Some(size),
                Kind::Hopping { advance, .. } => Some(advance),
                Kind::Session { .. } => None,
            };
            let gone = |s: i64, e: i64| match step {
                Some(step) => {
                    let newest_start = stream_time - stream_time.rem_euclid(step);
                    s < newest_start - spec.retention.unwrap_or(0).max(e - s + spec.grace)
                }
                None => false,
            };
            // A session is final once it can take no record.
            let final_at = match spec.kind {
                Kind::Session { gap } => close - gap - 1,
                _ => close,
            };
            let mut due: Vec<(i64, i64, String)> = state
                .iter()
                .filter(|((_, _, e), a)| *e <= final_at && !a.emitted)
                .map(|((k, s, e), _)| (*s, *e, k.clone()))
                .collect();
            due.sort();
            for (s, e, k) in due {
                if let Some(a) = state.get_mut(&(k.clone(), s, e)) {
                    a.emitted = true;
                    if !gone(s, e) {
                        out.push((k, s, e, Some((a.count, a.sum)), a.max_ts));
                    }
                }
            }
        }
        state.retain(|(_, _, e), _| *e > stream_time - keep_for);
    }
    out
}

/// xorshift64*: a fixed sequence per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Mostly increasing timestamps with jitter, some records far behind (late), a few jumps ahead.
fn events(seed: u64, n: usize) -> Vec<(String, i64, i32)> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut now = 1_000i64;
    (0..n)
        .map(|_| {
            now += rng.below(40) as i64;
            if rng.below(50) == 0 {
                now += rng.below(2_000) as i64;
            }
            let ts = match rng.below(10) {
                0 => (now - rng.below(1_500) as i64).max(0),
                1..=2 => (now - rng.below(120) as i64).max(0),
                _ => now,
            };
            (format!("k{}", rng.below(6)), ts, rng.below(100) as i32 - 20)
        })
        .collect()
}

fn specs() -> Vec<Spec> {
    let kinds = [
        Kind::Tumbling { size: 100 },
        Kind::Tumbling { size: 1_000 },
        Kind::Hopping { size: 300, advance: 100 },
        Kind::Hopping { size: 250, advance: 100 },
        Kind::Session { gap: 50 },
        Kind::Session { gap: 400 },
    ];
    let mut specs = Vec::new();
    for kind in kinds {
        for (grace, retention) in [(0, None), (150, None), (0, Some(700)), (400, Some(100)), (2_000, None)] {
            for emit_final in [false, true] {
                specs.push(Spec { kind, grace, retention, emit_final });
            }
        }
    }
    specs
}

#[test]
fn windowed_aggregations_match_the_reference_model_on_random_inputs() {
    let source = source();
    let mut outputs = 0;
    for (i, spec) in specs().into_iter().enumerate() {
        for seed in 0..4u64 {
            let input = events(seed * 1_000 + i as u64, 600);
            let mut op = operator(&source, &spec.sql(), spec.emit_final);
            let got = run(&mut op, &source, &input);
            let want = model(spec, &input);
            assert_eq!(got.len(), want.len(), "{spec:?} seed {seed}: row count");
            for (n, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "{spec:?} seed {seed}: row {n}");
            }
            outputs += got.len();
        }
    }
    assert!(outputs > 10_000, "the inputs exercise the windows: {outputs} rows");
}

#[test]
fn emit_final_emits_every_window_once_when_it_closes() {
    let source = source();
    for window in [
        // A retention past the closer keeps every window for its final result.
        "TUMBLING (SIZE 100 MILLISECONDS, RETENTION 2000000000 MILLISECONDS, GRACE PERIOD 50 MILLISECONDS)",
        "HOPPING (SIZE 300 MILLISECONDS, ADVANCE BY 100 MILLISECONDS, RETENTION 2000000000 MILLISECONDS, GRACE PERIOD 0 \
         MILLISECONDS)",
    ] {
        let mut input = events(7, 2_000);
        let mut op = operator(&source, window, true);
        // Every window that took a record: what a record is accepted into is decided by the model.
        let grace = if window.contains("50 MILLI") { 50 } else { 0 };
        let kind = if window.starts_with("TUMBLING") {
            Kind::Tumbling { size: 100 }
        } else {
            Kind::Hopping { size: 300, advance: 100 }
        };
        let spec = Spec { kind, grace, retention: None, emit_final: false };
        let updated: BTreeSet<(String, i64, i64)> =
            model(spec, &input).into_iter().map(|(k, s, e, _, _)| (k, s, e)).collect();
        // A record far ahead closes every window.
        input.push(("closer".into(), 1_000_000_000, 0));
        let got = run(&mut op, &source, &input);
        let mut seen = BTreeSet::new();
        for (k, s, e, aggs, _) in &got {
            assert!(aggs.is_some(), "EMIT FINAL writes no tombstones");
            assert!(seen.insert((k.clone(), *s, *e)), "{window}: window {k} [{s}, {e}) emitted twice");
        }
        assert_eq!(seen, updated, "{window}: every window with a record, once");
    }
}

#[test]
fn expired_windows_leave_the_state() {
    let source = source();
    // Windows of 100 ms kept 1 s after they end (retention beyond the grace period).
    let window = "TUMBLING (SIZE 100 MILLISECONDS, RETENTION 1000 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS)";
    let mut op = operator(&source, window, false);
    let input: Vec<(String, i64, i32)> = (0..50_000).map(|i| (format!("k{}", i % 100), i64::from(i) / 10, 1)).collect();
    run(&mut op, &source, &input);
    let snapshot = |op: &mut Operator| op.aggregate_mut().expect("aggregation").snapshot(&[0], &[1, 2], true).len();
    // Stream time 4999: windows ending after 3999 remain (10 ends from 4000 to 4900, and the
    // current one ending at 5000), for each of the 100 keys.
    assert_eq!(snapshot(&mut op), 11 * 100);
    // Without a retention the grace period (0) keeps only the open window... and the default grace
    // of 24 hours keeps them all.
    let mut op = operator(&source, "TUMBLING (SIZE 100 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS)", false);
    run(&mut op, &source, &input);
    assert_eq!(snapshot(&mut op), 100);
    let mut op = operator(&source, "TUMBLING (SIZE 100 MILLISECONDS)", false);
    run(&mut op, &source, &input);
    assert_eq!(snapshot(&mut op), 50 * 100);
    // Session windows expire too (a grace of 0 would drop every one-record session: its end is the
    // stream time, which closes it).
    let mut op =
        operator(&source, "SESSION (10 MILLISECONDS, RETENTION 100 MILLISECONDS, GRACE PERIOD 1 MILLISECONDS)", false);
    let sessions: Vec<(String, i64, i32)> =
        (0..2_000).map(|i| (format!("k{}", i % 20), i64::from(i) * 20, 1)).collect();
    run(&mut op, &source, &sessions);
    // One event per key every 400 ms, gap 10 ms: one session per event; stream time 39980 keeps
    // the sessions ending after 39880, the last five events'.
    assert_eq!(snapshot(&mut op), 5);
}

#[test]
fn emit_final_without_retention_emits_every_window_of_a_steady_stream() {
    let source = source();
    // One record every 30 ms over 20 keys, in order: no gap reaches a window's default retention
    // (size + grace), so every window but the still open last one gets its final result.
    let input: Vec<(String, i64, i32)> = (0..3_000).map(|i| (format!("k{}", i % 20), i64::from(i) * 30, 1)).collect();
    for (window, size, advance) in [
        ("TUMBLING (SIZE 100 MILLISECONDS)", 100, 100),
        ("HOPPING (SIZE 300 MILLISECONDS, ADVANCE BY 100 MILLISECONDS)", 300, 100),
    ] {
        let mut op = operator(&source, window, true);
        let got = run(&mut op, &source, &input);
        let last = 2_999 * 30;
        // Every window [s, s + size) with a record that closed by the last record's time.
        let mut want = BTreeSet::new();
        for (k, ts, _) in &input {
            let mut s = ts - ts.rem_euclid(advance);
            while s > ts - size && s >= 0 {
                if s + size <= last {
                    want.insert((k.clone(), s, s + size));
                }
                s -= advance;
            }
        }
        let seen: BTreeSet<(String, i64, i64)> = got.iter().map(|(k, s, e, _, _)| (k.clone(), *s, *e)).collect();
        assert_eq!(got.len(), seen.len(), "{window}: each window once");
        assert_eq!(seen, want, "{window}: every closed window");
    }
}

#[test]
fn a_state_restored_from_its_changelog_goes_on_as_the_live_one() {
    let source = source();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("log");
    let table = |op: &mut Operator| op.aggregate_mut().expect("aggregation").snapshot(&[0], &[1, 2], true);
    for (i, spec) in specs().into_iter().enumerate() {
        let id = format!("q{i}");
        let input = events(100 + i as u64, 3_000);
        let (before, after) = input.split_at(1_700);
        let mut live = operator(&source, &spec.sql(), spec.emit_final);
        live.aggregate_mut().expect("aggregation").init_changelog(&*log, &id, 0, 1).expect("changelog");
        // The runtime writes the changelog once per batch of input.
        for batch in before.chunks(97) {
            run(&mut live, &source, batch);
            if let Some((topic, records)) = live.aggregate_mut().expect("aggregation").take_changelog() {
                log.append(&topic, 0, records).expect("append");
            }
        }
        let mut restored = operator(&source, &spec.sql(), spec.emit_final);
        let agg = restored.aggregate_mut().expect("aggregation");
        agg.init_changelog(&*log, &id, 0, 1).expect("changelog");
        agg.restore(&*log).expect("restore");
        assert_eq!(table(&mut restored), table(&mut live), "{spec:?}: the restored table");
        let want = run(&mut live, &source, after);
        assert_eq!(run(&mut restored, &source, after), want, "{spec:?}: the output after the restore");
        assert_eq!(table(&mut restored), table(&mut live), "{spec:?}: the table at the end");
    }
}
