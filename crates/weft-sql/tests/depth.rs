//! Deep expressions are answered or refused, never a stack overflow.
//!
//! Every case runs on a thread with a 2 MiB stack (tokio's blocking pool and `std::thread` default
//! to 2 MiB, and tests run debug builds, whose frames are largest). At the limit the whole pipeline
//! must work: parsing, planning (`EXPLAIN`), a persistent query evaluating a record, lineage, and
//! dropping the trees; one past it the parser refuses with a located error naming the limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, ReadLimits, Record};
use weft_sql::parser::{parse_expression, parse_statements, MAX_EXPR_DEPTH, MAX_NESTING};
use weft_sql::{Engine, EngineOptions, SqlError, StartFrom};

const STACK: usize = 2 << 20;

/// Runs `f` on a thread with a 2 MiB stack; an overflow there aborts the test binary.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::Builder::new().stack_size(STACK).spawn(f).expect("spawn a thread");
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Types nest at most this deep in a column definition (`ARRAY<` is one level of brackets).
const TYPE_DEPTH: usize = MAX_NESTING;

fn nested_struct(depth: usize) -> String {
    format!("{}INT{}", "STRUCT<A ".repeat(depth), ">".repeat(depth))
}

fn nested_array(depth: usize) -> String {
    format!("{}INT{}", "ARRAY<".repeat(depth), ">".repeat(depth))
}

fn nested_json(depth: usize, open: &str, close: &str) -> String {
    format!("{}7{}", open.repeat(depth), close.repeat(depth))
}

/// An engine with stream `S` and one record: `I` = 1, `B` = true, `S` = 'x', `ST` a struct nested
/// `TYPE_DEPTH` deep, `ARR` an array nested as deep, both holding 7 at the bottom.
struct Fixture {
    _dir: tempfile::TempDir,
    log: Arc<EmbeddedLog>,
    engine: Arc<Engine>,
}

fn fixture() -> Fixture {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("tempdir");
    let mut options = LogOptions::new(dir.path());
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(1) };
    let log = EmbeddedLog::open(options).expect("log");
    let engine = Engine::open(
        log.clone(),
        EngineOptions { background: false, default_offset_reset: StartFrom::Earliest, ..EngineOptions::default() },
    )
    .expect("engine");
    let ddl = format!(
        "CREATE STREAM S (ID STRING KEY, I INT, B BOOLEAN, S STRING, ST {}, ARR {}) \
         WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        nested_struct(TYPE_DEPTH),
        nested_array(TYPE_DEPTH)
    );
    engine.execute(&ddl).expect("the deepest column types are accepted");
    let value = format!(
        r#"{{"I":1,"B":true,"S":"x","ST":{},"ARR":{}}}"#,
        nested_json(TYPE_DEPTH, r#"{"A":"#, "}"),
        nested_json(TYPE_DEPTH, "[", "]")
    );
    let record =
        Record { key: Some(b"k".to_vec()), value: Some(value.into_bytes()), headers: vec![], timestamp: Some(1) };
    log.append("s", 0, vec![record]).expect("produce");
    Fixture { _dir: dir, log, engine: Arc::new(engine) }
}

/// Runs `expr` through the whole pipeline on a small stack and returns the value it computed for
/// the one record of `S`.
fn run(fx: &Fixture, name: &str, expr: &str) -> serde_json::Value {
    let engine = fx.engine.clone();
    let (statement, explain) = (
        format!("CREATE STREAM {name} AS SELECT ID, {expr} AS X FROM S;"),
        format!("EXPLAIN SELECT ID, {expr} AS X FROM S EMIT CHANGES;"),
    );
    let sink = name.to_string();
    let topic = on_small_stack(move || {
        let parsed = parse_statements(&statement).expect("parses");
        drop(parsed);
        engine.execute(&explain).unwrap_or_else(|e| panic!("EXPLAIN: {e}"));
        engine.execute(&statement).unwrap_or_else(|e| panic!("CREATE STREAM: {e}"));
        engine.run_until_idle().expect("the query evaluates its record");
        let lineage = engine.lineage(&sink).expect("lineage");
        assert!(!lineage.columns.is_empty());
        lineage.sink_topic
    });
    let read = fx.log.read(&topic, 0, 0, ReadLimits::default()).expect("read the sink");
    let value = read.records.first().and_then(|r| r.value.as_ref()).expect("one output record");
    let row: serde_json::Value = serde_json::from_slice(value).expect("JSON");
    row["X"].clone()
}

/// The parser's error for `SELECT expr`, run on a small stack.
fn refusal(expr: &str) -> (u32, u32, String) {
    let text = format!("SELECT ID, {expr} AS X FROM S;");
    on_small_stack(move || match parse_statements(&text) {
        Err(SqlError::Parse { line, column, message }) => (line, column, message),
        other => panic!("expected a parse error, got {:?}", other.map(|s| s.len())),
    })
}

fn assert_too_deep(expr: &str) {
    let (line, column, message) = refusal(expr);
    assert!(message.contains(&format!("deeper than {MAX_EXPR_DEPTH} levels")), "{message}");
    assert_eq!(line, 1);
    assert!(column > 1, "the error points into the expression: {column}");
}

fn assert_too_nested(expr: &str) {
    let (_, _, message) = refusal(expr);
    assert!(message.contains(&format!("nested more than {MAX_NESTING} levels")), "{message}");
}

/// `n` terms joined by `op`: `n` levels high for a leaf term.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

#[test]
fn binary_chains_of_every_operator_class() {
    let fx = fixture();
    // Leaf terms: `n` terms make a tree `n` levels high.
    let n = MAX_EXPR_DEPTH as i64;
    let arithmetic = [("ADD", " + ", n), ("SUB", " - ", 1 - (n - 1)), ("MUL", " * ", 1), ("DIV", " / ", 1)];
    for (name, op, expected) in arithmetic {
        let x = run(&fx, name, &chain("I", op, MAX_EXPR_DEPTH));
        assert_eq!(x, serde_json::json!(expected), "{name}");
        assert_too_deep(&chain("I", op, MAX_EXPR_DEPTH + 1));
    }
    let x = run(&fx, "MODULO", &chain("I", " % ", MAX_EXPR_DEPTH));
    assert_eq!(x, serde_json::json!(0));
    let x = run(&fx, "CONCAT", &chain("S", " + ", MAX_EXPR_DEPTH));
    assert_eq!(x, serde_json::json!("x".repeat(MAX_EXPR_DEPTH)));
    assert_too_deep(&chain("S", " + ", MAX_EXPR_DEPTH + 1));
    // Comparisons are two levels high, so one term fewer fits.
    let x = run(&fx, "ORS", &(chain("I = 2", " OR ", MAX_EXPR_DEPTH - 2) + " OR I = 1"));
    assert_eq!(x, serde_json::json!(true));
    assert_too_deep(&chain("I = 1", " OR ", MAX_EXPR_DEPTH));
    let x = run(&fx, "ANDS", &chain("I = 1", " AND ", MAX_EXPR_DEPTH - 1));
    assert_eq!(x, serde_json::json!(true));
    assert_too_deep(&chain("I = 1", " AND ", MAX_EXPR_DEPTH));
    // Mixed precedence: a + b * c ... stays within the same height.
    let x = run(&fx, "MIXED", &chain("I * I", " + ", MAX_EXPR_DEPTH - 1));
    assert_eq!(x, serde_json::json!(MAX_EXPR_DEPTH - 1));
}

#[test]
fn chains_in_where_having_and_group_by_are_bounded_too() {
    let fx = fixture();
    let engine = fx.engine.clone();
    let fits = chain("I = 1", " OR ", MAX_EXPR_DEPTH - 1);
    let sum = chain("I", " + ", MAX_EXPR_DEPTH - 1);
    let counts = chain("COUNT(*) > 0", " OR ", MAX_EXPR_DEPTH - 1);
    on_small_stack(move || {
        engine
            .execute(&format!("CREATE STREAM W AS SELECT ID, I FROM S WHERE {fits};"))
            .unwrap_or_else(|e| panic!("WHERE: {e}"));
        engine
            .execute(&format!(
                "CREATE TABLE G AS SELECT {sum} AS K, COUNT(*) AS C FROM S GROUP BY {sum} HAVING {counts};"
            ))
            .unwrap_or_else(|e| panic!("GROUP BY: {e}"));
        engine.run_until_idle().expect("run");
        let lineage = engine.lineage("G").expect("lineage of G");
        assert!(!lineage.columns.is_empty());
    });
    let topic = fx.engine.source("W").expect("W exists").topic;
    let read = fx.log.read(&topic, 0, 0, ReadLimits::default()).expect("read");
    assert_eq!(read.records.len(), 1, "the WHERE chain let the record through");
    assert_too_deep(&format!("I FROM S WHERE {}", chain("I = 1", " OR ", MAX_EXPR_DEPTH)));
}

#[test]
fn struct_dereference_and_subscript_chains() {
    let fx = fixture();
    // As deep as the column's type goes, the chain reads the innermost value.
    let x = run(&fx, "FIELDS", &format!("ST{}", "->A".repeat(TYPE_DEPTH)));
    assert_eq!(x, serde_json::json!(7));
    let x = run(&fx, "ITEMS", &format!("ARR{}", "[1]".repeat(TYPE_DEPTH)));
    assert_eq!(x, serde_json::json!(7));
    // Deeper chains up to the height limit are type errors, found without overflowing.
    let engine = fx.engine.clone();
    let (fields, items) =
        (format!("ST{}", "->A".repeat(MAX_EXPR_DEPTH - 1)), format!("ARR{}", "[1]".repeat(MAX_EXPR_DEPTH - 1)));
    on_small_stack(move || {
        let e = engine.execute(&format!("EXPLAIN SELECT {fields} FROM S EMIT CHANGES;")).expect_err("not a struct");
        assert!(e.to_string().contains("'->' needs a STRUCT"), "{e}");
        let e = engine.execute(&format!("EXPLAIN SELECT {items} FROM S EMIT CHANGES;")).expect_err("not an array");
        assert!(e.to_string().contains("'[]' needs an ARRAY or a MAP"), "{e}");
    });
    assert_too_deep(&format!("ST{}", "->A".repeat(MAX_EXPR_DEPTH)));
    assert_too_deep(&format!("ARR{}", "[1]".repeat(MAX_EXPR_DEPTH)));
}

#[test]
fn unary_chains() {
    let fx = fixture();
    // `n` prefixes over a leaf make a tree n + 1 high.
    let x = run(&fx, "NOTS", &format!("{}B", "NOT ".repeat(MAX_EXPR_DEPTH - 1)));
    assert_eq!(x, serde_json::json!(false));
    assert_too_deep(&format!("{}B", "NOT ".repeat(MAX_EXPR_DEPTH)));
    let x = run(&fx, "NEGS", &format!("{}I", "- ".repeat(MAX_EXPR_DEPTH - 1)));
    assert_eq!(x, serde_json::json!(-1));
    assert_too_deep(&format!("{}I", "- ".repeat(MAX_EXPR_DEPTH)));
    // Signs folded into a literal count too.
    assert_too_deep(&format!("{}1", "- ".repeat(MAX_EXPR_DEPTH)));
}

#[test]
fn bracketed_nesting_case_calls_casts_subscripts_and_parentheses() {
    let fx = fixture();
    // The select item itself is one level of nesting.
    let n = MAX_NESTING - 1;
    let case = |n: usize| format!("{}I{}", "CASE WHEN B THEN ".repeat(n), " ELSE 0 END".repeat(n));
    let calls = |n: usize| format!("{}I{}", "ABS(".repeat(n), ")".repeat(n));
    let casts = |n: usize| format!("{}I{}", "CAST(".repeat(n), " AS BIGINT)".repeat(n));
    let indexes = |n: usize| format!("{}1{}", "ARRAY[1][".repeat(n), "]".repeat(n));
    let parens = |n: usize| format!("{}I{}", "(".repeat(n), " + 1)".repeat(n));
    assert_eq!(run(&fx, "CASES", &case(n)), serde_json::json!(1));
    assert_eq!(run(&fx, "CALLS", &calls(n)), serde_json::json!(1));
    assert_eq!(run(&fx, "CASTS", &casts(n)), serde_json::json!(1));
    assert_eq!(run(&fx, "INDEXES", &indexes(n)), serde_json::json!(1));
    assert_eq!(run(&fx, "PARENS", &parens(n)), serde_json::json!(1 + n));
    for too_deep in [case(n + 1), calls(n + 1), casts(n + 1), indexes(n + 1), parens(n + 1)] {
        assert_too_nested(&too_deep);
    }
    // Brackets do not reset the height: chains inside nested calls add up.
    let inside = format!("{}{}{}", "ABS(".repeat(n), chain("I", " + ", MAX_EXPR_DEPTH), ")".repeat(n));
    assert_too_deep(&inside);
}

#[test]
fn deep_trees_clone_compare_print_and_drop_on_a_small_stack() {
    let text = chain("a", " + ", MAX_EXPR_DEPTH);
    on_small_stack(move || {
        let e = parse_expression(&text).expect("parses");
        let copy = e.clone();
        assert_eq!(copy, e);
        let printed = e.to_string();
        assert_eq!(printed.matches('+').count(), MAX_EXPR_DEPTH - 1);
        assert!(format!("{e:?}").len() > printed.len());
        drop(copy);
    });
}

#[test]
fn a_hundred_thousand_terms_are_refused_quickly() {
    let shapes = [
        chain("I", " + ", 100_000),
        chain("I = 1", " OR ", 100_000),
        chain("I = 1", " AND ", 100_000),
        format!("ST{}", "->A".repeat(100_000)),
        format!("ARR{}", "[1]".repeat(100_000)),
        format!("{}B", "NOT ".repeat(100_000)),
        format!("{}I", "- ".repeat(100_000)),
        format!("{}I{}", "ABS(".repeat(100_000), ")".repeat(100_000)),
        format!("{}I{}", "(".repeat(100_000), ")".repeat(100_000)),
    ];
    for expr in shapes {
        let start = Instant::now();
        let (_, _, message) = refusal(&expr);
        assert!(message.contains("levels"), "{message}");
        // Debug build, shared machine: linear work takes well under this.
        assert!(start.elapsed() < Duration::from_secs(5), "{:?} for {} bytes", start.elapsed(), expr.len());
    }
}

mod generated {
    //! Generated deep and wide expressions: parse and plan answer or refuse, never panic.

    use proptest::prelude::*;

    use super::*;

    /// A random expression over `S`'s columns, built bottom-up so that depth can reach past the
    /// limits: each step wraps or combines what was built so far.
    fn expression() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("I".to_string()),
            Just("B".to_string()),
            Just("S".to_string()),
            Just("1".to_string()),
            Just("NULL".to_string()),
            Just("ARR[1]".to_string()),
            Just("ST->A".to_string()),
        ];
        let step = (0..14u8, 1..40usize, leaf.clone());
        (leaf, proptest::collection::vec(step, 0..40)).prop_map(|(start, steps)| {
            let mut e = start;
            for (kind, n, other) in steps {
                let ops = [" + ", " * ", " OR ", " AND ", " = ", " - ", " / "];
                e = match kind {
                    0..=6 => format!("{e}{}", format!("{}{other}", ops[kind as usize]).repeat(n)),
                    7 => format!("{}{e}", "NOT ".repeat(n)),
                    8 => format!("{}{e}", "- ".repeat(n)),
                    9 => format!("({e})"),
                    10 => format!("ABS({e})"),
                    11 => format!("CASE WHEN {e} THEN {other} ELSE {e} END"),
                    12 => format!("{e}{}", "->A".repeat(n)),
                    _ => format!("CAST({e} AS STRING) IN ({})", vec![other.as_str(); n].join(", ")),
                };
            }
            e
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn parse_and_plan_answer_or_refuse(expr in expression()) {
            static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
            let engine = FIXTURE.get_or_init(fixture).engine.clone();
            let text = format!("EXPLAIN SELECT ID, {expr} AS X FROM S WHERE {expr} IS NULL EMIT CHANGES;");
            let outcome = on_small_stack(move || engine.execute(&text).map(|_| ()).map_err(|e| e.to_string()));
            if let Err(message) = outcome {
                prop_assert!(!message.is_empty());
            }
        }
    }
}
