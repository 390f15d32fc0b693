//! Hostile input never panics: random statement text, random expressions over random rows, random
//! record bytes through every format.

use std::sync::Arc;

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, Record};
use weft_sql::{Engine, EngineOptions, StartFrom};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "*",
    "FROM",
    "S",
    "WHERE",
    "GROUP",
    "BY",
    "ID",
    "V",
    "NAME",
    ",",
    "(",
    ")",
    "[",
    "]",
    "->",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "<",
    ">=",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "IS",
    "IN",
    "LIKE",
    "BETWEEN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "AS",
    "INT",
    "STRING",
    "DECIMAL(3, 1)",
    "ARRAY",
    "MAP",
    "STRUCT",
    "COUNT(*)",
    "SUM(V)",
    "UCASE(NAME)",
    "SUBSTRING(NAME, -5, 99999999999)",
    "'x'",
    "'%_'",
    "1",
    "0",
    "-1",
    "2147483647",
    "9223372036854775807",
    "1.5",
    "1e308",
    "WINDOW",
    "TUMBLING",
    "(SIZE 1 SECOND)",
    "HOPPING",
    "SESSION",
    "EMIT",
    "CHANGES",
    "FINAL",
    "LIMIT",
    "JOIN",
    "T",
    "ON",
    "WITHIN",
    "PARTITION",
    "HAVING",
    "EXPLAIN",
    "CREATE",
    "STREAM",
    "TABLE",
    "WITH",
    "`q`",
    "\"",
    "--",
    "/*",
    ";",
    ":=",
    "ROWTIME",
    "WINDOWSTART",
    "LPAD(NAME, 100000000, 'x')",
    "ARR[0]",
    "M['k']",
    "S2->A",
    "EXPLODE(ARR)",
    "EXPLODE(M)",
    "EXPLODE(",
    "GENERATE_SERIES(-9223372036854775807, 9223372036854775807)",
    "SLICE(ARR, -1, 99)",
    "ARRAY_SORT(ARR, 'DESC')",
    "ARRAY_UNION(ARR, ARR)",
    "MASK(NAME, '', NULL)",
    "LOG(0, V)",
];

#[test]
fn random_statements_never_panic() {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("tempdir");
    let mut options = LogOptions::new(dir.path());
    options.durability = Durability::GroupCommit { interval: std::time::Duration::from_millis(1) };
    let log = EmbeddedLog::open(options).expect("log");
    let engine = Engine::open(
        log.clone(),
        EngineOptions { background: false, default_offset_reset: StartFrom::Earliest, ..EngineOptions::default() },
    )
    .expect("engine");
    engine
        .execute(
            "CREATE STREAM S (ID STRING KEY, NAME STRING, V INT, ARR ARRAY<INT>, M MAP<STRING, INT>, \
             S2 STRUCT<A INT>) WITH (kafka_topic='s', value_format='JSON', partitions=2); \
             CREATE TABLE T (ID STRING PRIMARY KEY, W DOUBLE) WITH (kafka_topic='t', value_format='JSON', partitions=1);",
        )
        .expect("ddl");
    let values: &[&[u8]] = &[
        br#"{"NAME":"abc","V":3,"ARR":[1,2],"M":{"k":1},"S2":{"A":1}}"#,
        br#"{"NAME":null,"V":-2147483648}"#,
        br#"{"V":"nope"}"#,
        b"not json",
        b"",
        br#"[1,2,3]"#,
        br#"{"NAME":{"deep":[1,{"x":null}]},"ARR":"x"}"#,
    ];
    for (i, v) in values.iter().enumerate() {
        let record = Record {
            key: if i % 3 == 0 { None } else { Some(vec![0xff, 0xfe, b'k']) },
            value: Some(v.to_vec()),
            headers: Vec::new(),
            timestamp: Some(i as i64 * 1000 - 2000),
        };
        log.append("s", (i % 2) as u32, vec![record]).expect("produce");
    }
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut accepted = 0;
    for n in 0..3000 {
        let len = 1 + rng.next() % 14;
        let mut text = String::new();
        for _ in 0..len {
            text.push_str(rng.pick(FRAGMENTS));
            text.push(' ');
        }
        // Half of the inputs start as a plausible query.
        let text = if n % 2 == 0 { format!("SELECT {text} FROM S;") } else { text };
        if let Ok(results) = engine.execute(&text) {
            accepted += results.len();
        }
        if n % 10 == 0 {
            let _ = engine.execute(&format!("CREATE STREAM X{n} AS SELECT ID, {} AS C FROM S;", rng.pick(FRAGMENTS)));
        }
    }
    engine.run_until_idle().expect("queries run");
    // Raw bytes of every kind, too.
    for seed in 0..500u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let bytes: Vec<u8> = (0..(rng.next() % 40)).map(|_| (rng.next() % 256) as u8).collect();
        let _ = engine.execute(&String::from_utf8_lossy(&bytes));
    }
    assert!(accepted > 0, "some random statements should parse and run");
    let _: Arc<dyn EventLog> = log;
}
