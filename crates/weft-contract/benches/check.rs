//! Records checked per second on one core: ~200-byte JSON records against a contract of 10 rules
//! checked at write time (required, unique within a window, three logical types, an email format,
//! a minimum, two lists of valid values and a SQL condition), next to parsing the same records
//! (what the write path does anyway).
//! Rates are per second of the thread's CPU time. Run: `cargo bench -p weft-contract --bench check`
//! (an argument runs only the cases naming it).

use std::hint::black_box;
use std::time::Duration;

use serde_json::Value;
use weft_contract::Contract;

const CONTRACT: &str = r#"
apiVersion: v3.1.0
kind: DataContract
id: bench
version: 1.0.0
status: active
schema:
  - name: orders
    properties:
      - name: order_id
        required: true
        unique: true
      - name: customer
      - name: email
        logicalType: string
        logicalTypeOptions:
          format: email
      - name: amount
        logicalType: number
        logicalTypeOptions:
          minimum: 0
      - name: currency
        quality:
          - metric: invalidValues
            arguments:
              validValues: [EUR, USD, GBP]
            mustBe: 0
      - name: status
        quality:
          - metric: invalidValues
            arguments:
              validValues: [NEW, PAID, SHIPPED, CANCELLED]
            mustBe: 0
      - name: items
      - name: created_at
      - name: express
        logicalType: boolean
      - name: note
    quality:
      - type: custom
        engine: weft
        implementation: NOT express OR amount < 500
"#;

fn records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"order_id":"o-{}","customer":"c-{:06}","email":"user{}@example.com","amount":{}.{:02},"currency":"EUR","status":"PAID","items":{},"created_at":"2026-01-15T10:{:02}:30Z","express":{},"note":null}}"#,
                100_000 + i,
                i % 1000,
                i % 97,
                i % 500,
                i % 100,
                i % 9 + 1,
                i % 60,
                i % 2 == 0
            )
            .into_bytes()
        })
        .collect()
}

fn filtered_out(name: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str()))
}

/// The CPU time this thread has used: on a shared 2-core machine, wall time also counts the time
/// other processes had the core.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` over the inputs (each call gets a counter, for unique values) for about a second and a
/// half of this thread's CPU time, and prints records per CPU second (`per_input` records in each
/// input).
fn measure<T>(name: &str, inputs: &[T], per_input: u64, mut f: impl FnMut(u64, &T)) -> f64 {
    if filtered_out(name) {
        return 0.0;
    }
    let mut n = 0u64;
    for input in inputs.iter().take(1000) {
        f(n, input);
        n += 1;
    }
    let budget = Duration::from_millis(1500);
    let start = thread_cpu_time();
    let mut count = 0u64;
    while thread_cpu_time() - start < budget {
        for input in inputs {
            f(n, input);
            n += 1;
        }
        count += inputs.len() as u64 * per_input;
    }
    let rate = count as f64 / (thread_cpu_time() - start).as_secs_f64();
    println!("{name:<60} {:>10.0} records/s  {:>6.0} ns/record", rate, 1e9 / rate);
    rate
}

fn main() {
    let contract = Contract::from_yaml(CONTRACT).expect("contract");
    let checker = contract.compile(None).expect("checker");
    let checked = checker.rules().iter().filter(|r| r.checked_at_write).count();
    // The first rule is implicit (a record is an object); the contract's own are the others.
    println!("{} rules checked at write time (the contract's {} and `a record is an object`)", checked, checked - 1);
    let raw = records(4096);
    let average = raw.iter().map(Vec::len).sum::<usize>() / raw.len();
    println!("{} distinct records of {average} bytes on average, one thread\n", raw.len());
    let values: Vec<Value> = raw.iter().map(|b| serde_json::from_slice(b).expect("record")).collect();
    for (i, v) in values.iter().enumerate() {
        let found = checker.check(v, i as i64);
        assert!(found.is_empty(), "{found:?}");
    }
    let checker = contract.compile(None).expect("checker");

    let parse = measure("serde_json parse only (what the write path does anyway)", &raw, 1, |_, b| {
        black_box(serde_json::from_slice::<Value>(b).ok());
    });
    // Each call gives its record a new id, so uniqueness is checked and remembered each time (the
    // window fills to its bound of 100000 values and then forgets the oldest). Cloning the record to
    // do so is measured apart and subtracted.
    let fresh = |n: u64, v: &Value| {
        let mut v = v.clone();
        v["order_id"] = Value::String(format!("o-{n}"));
        v
    };
    let check = measure("contract: check a parsed record (10 rules)", &values, 1, |n, v| {
        black_box(checker.check(&fresh(n, v), n as i64));
    });
    let clone_only = measure("  of which: cloning the record and giving it a new id", &values, 1, |n, v| {
        black_box(fresh(n, v));
    });
    let batched = contract.compile(None).expect("checker");
    let chunks: Vec<&[Value]> = values.chunks(100).collect();
    measure("contract: batches of 100 records, committed", &chunks, 100, |n, chunk| {
        let chunk: Vec<Value> = chunk.iter().enumerate().map(|(i, v)| fresh(n * 100 + i as u64, v)).collect();
        let mut batch = batched.batch();
        for v in &chunk {
            black_box(batch.check(v, n as i64));
        }
        batch.commit();
    });
    if !filtered_out("contract: parse + check") {
        let both = contract.compile(None).expect("checker");
        measure("contract: parse + check (10 rules)", &raw, 1, |n, b| {
            let mut v: Value = serde_json::from_slice(b).expect("record");
            v["order_id"] = Value::String(format!("o-{n}"));
            black_box(both.check(&v, n as i64));
        });
    }
    let mut bad = values[0].clone();
    bad["amount"] = Value::from(-3);
    bad["currency"] = Value::from("XXX");
    let bad = vec![bad; 64];
    let failing = contract.compile(None).expect("checker");
    measure("contract: a record failing 2 rules (violations built)", &bad, 1, |n, v| {
        black_box(failing.check(&fresh(n, v), n as i64));
    });
    if check > 0.0 && clone_only > 0.0 && parse > 0.0 {
        let per_check = 1e9 / check - 1e9 / clone_only;
        println!("\nthe check alone: about {per_check:.0} ns per record; parsing it costs {:.0} ns", 1e9 / parse);
    }
}
