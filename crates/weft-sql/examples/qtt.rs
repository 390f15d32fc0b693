//! Runs ksqlDB's own query-validation tests (QTT) against the engine, to measure conformance.
//!
//! ```text
//! cargo run -p weft-sql --example qtt -- DIR_OR_FILE... [--filter SUBSTRING] [--verbose]
//! ```
//!
//! The files are ksqlDB's `ksqldb-functional-tests/src/test/resources/query-validation-tests/*.json`
//! (not kept in this repository). Each case is translated into a declarative case of
//! `tests/harness` and run on a fresh engine and log: `format` lists expand `{FORMAT}`,
//! `expectedException.message` must be contained in the error, `topics` pre-create topics (with
//! their partition counts, else their statement's) and pre-register their `valueSchema`/`keySchema`
//! (after placeholders for the schemas ksqlDB's driver registers first, when statements pin schema
//! ids); as in ksqlDB's
//! driver, only the topics that expected records name are compared. Input records carry their
//! `headers`. Not checked: `post` conditions (source schemas, topic lists), output record headers,
//! schema ids. Protobuf schemas (`valueFormat`/`keyFormat` `PROTOBUF`) are registered as their
//! text. Left out and counted as skipped, never as passed: cases with `"enabled": false`, cases
//! that need schema ids or references. Prints one line per failing case (all cases with `--verbose`), a
//! total per file and an overall total.

#[allow(dead_code)]
#[path = "../tests/harness/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Map, Value as Json};

/// A case that runs longer than this is counted as failed (and its thread left behind).
const CASE_TIMEOUT: Duration = Duration::from_secs(30);

enum Outcome {
    Pass,
    Fail(String),
    Skip(&'static str),
}

fn main() {
    let mut paths = Vec::new();
    let mut filter = None;
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--filter" => filter = args.next(),
            "--verbose" => verbose = true,
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        eprintln!("usage: qtt DIR_OR_FILE... [--filter SUBSTRING] [--verbose]");
        std::process::exit(2);
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> =
                std::fs::read_dir(&p).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
            found.retain(|f| f.extension().is_some_and(|e| e == "json"));
            found.sort();
            files.extend(found);
        } else {
            files.push(p);
        }
    }
    // Quiet the default hook: a panic in a case is reported as that case's failure.
    std::panic::set_hook(Box::new(|_| {}));
    let mut totals = [[0usize; 3]; 2];
    for file in &files {
        let file_totals = run_file(file, filter.as_deref(), verbose);
        for (total, counts) in totals.iter_mut().zip(file_totals) {
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
    }
    let line = |[pass, fail, skip]: [usize; 3]| {
        format!("{pass} passed, {fail} failed, {skip} skipped of {} attempted", pass + fail)
    };
    let [other, protobuf] = totals;
    println!("TOTAL: {}", line([other[0] + protobuf[0], other[1] + protobuf[1], other[2] + protobuf[2]]));
    // Protobuf runs (a case whose text names PROTOBUF) apart, to compare with runs before the
    // formats existed, when they were all skipped.
    println!("PROTOBUF: {}", line(protobuf));
    println!("NON-PROTOBUF: {}", line(other));
}

/// Passed, failed and skipped runs of a file: `[other runs, Protobuf runs]`.
fn run_file(file: &Path, filter: Option<&str>, verbose: bool) -> [[usize; 3]; 2] {
    let fname = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            println!("FILE {fname}: cannot read: {e}");
            return [[0; 3]; 2];
        }
    };
    let mut doc: Json = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            println!("FILE {fname}: not JSON, skipped: {e}");
            return [[0; 3]; 2];
        }
    };
    attach_value_texts(&mut doc, &text);
    let mut counts = [[0usize; 3]; 2];
    for case in doc.get("tests").and_then(Json::as_array).into_iter().flatten() {
        for (name, case) in expand_formats(case) {
            if filter.is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let kind = usize::from(case.to_string().to_uppercase().contains("PROTOBUF"));
            match run_one(&case) {
                Outcome::Pass => {
                    counts[kind][0] += 1;
                    if verbose {
                        println!("PASS {fname} / {name}");
                    }
                }
                Outcome::Fail(why) => {
                    counts[kind][1] += 1;
                    let why =
                        if verbose { why } else { why.lines().next().unwrap_or_default().chars().take(300).collect() };
                    println!("FAIL {fname} / {name}: {why}");
                }
                Outcome::Skip(why) => {
                    counts[kind][2] += 1;
                    if verbose {
                        println!("SKIP {fname} / {name}: {why}");
                    }
                }
            }
        }
    }
    let [pass, fail, skip] = [0, 1, 2].map(|i| counts[0][i] + counts[1][i]);
    println!("FILE {fname}: {pass} passed, {fail} failed, {skip} skipped");
    counts
}

/// Gives each input record of `doc` (the file `text` parsed) its value's JSON text with the object
/// fields in the file's order, as `value_text`: `serde_json::Value` sorts them, and ksqlDB reads
/// the record as written (a STRUCT read into a STRING column keeps its fields' order, a map's
/// iteration order follows its insertion order).
fn attach_value_texts(doc: &mut Json, text: &str) {
    let Ok(ordered) = serde_json::from_str::<OrderedFile>(text) else { return };
    let cases = doc.get_mut("tests").and_then(Json::as_array_mut).into_iter().flatten();
    for (case, ordered) in cases.zip(ordered.tests) {
        let inputs = case.get_mut("inputs").and_then(Json::as_array_mut).into_iter().flatten();
        for (input, ordered) in inputs.zip(ordered.inputs) {
            if let (Some(record), Some(JsonText(value))) = (input.as_object_mut(), ordered.value) {
                record.insert("value_text".into(), Json::String(value));
            }
        }
    }
}

/// Only what [`attach_value_texts`] needs of a QTT file.
#[derive(serde::Deserialize)]
struct OrderedFile {
    #[serde(default)]
    tests: Vec<OrderedCase>,
}

#[derive(serde::Deserialize)]
struct OrderedCase {
    #[serde(default)]
    inputs: Vec<OrderedInput>,
}

#[derive(serde::Deserialize)]
struct OrderedInput {
    #[serde(default)]
    value: Option<JsonText>,
}

/// A JSON value as compact JSON text, object fields in their order.
struct JsonText(String);

impl<'de> serde::Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<JsonText, D::Error> {
        let mut text = String::new();
        serde::de::DeserializeSeed::deserialize(weft_sql::format::CompactJson(&mut text), d)?;
        Ok(JsonText(text))
    }
}

/// ksqlDB runs a case with a `format` list once per format, `{FORMAT}` replaced.
fn expand_formats(case: &Json) -> Vec<(String, Json)> {
    let name = case.get("name").and_then(Json::as_str).unwrap_or("?").to_string();
    let Some(formats) = case.get("format").and_then(Json::as_array) else {
        return vec![(name, case.clone())];
    };
    formats
        .iter()
        .filter_map(Json::as_str)
        .filter_map(|f| {
            // The expansion runs in one format: the list goes.
            let mut one = case.clone();
            if let Some(m) = one.as_object_mut() {
                m.remove("format");
            }
            let text = one.to_string().replace("{FORMAT}", f);
            serde_json::from_str(&text).ok().map(|c| (format!("{name} - {f}"), c))
        })
        .collect()
}

fn run_one(qtt: &Json) -> Outcome {
    let case = match translate(qtt) {
        Ok(c) => c,
        Err(why) => return Outcome::Skip(why),
    };
    let case: harness::Case = match serde_json::from_value(case) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(format!("cannot translate case: {e}")),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness::run_case(&case)));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(Ok(Ok(()))) => Outcome::Pass,
        Ok(Ok(Err(e))) => Outcome::Fail(e),
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Outcome::Fail(format!("panicked: {msg}"))
        }
        Err(_) => Outcome::Fail("timed out".into()),
    }
}

/// A QTT case as a `tests/harness` case, or why it is left out.
fn translate(qtt: &Json) -> Result<Json, &'static str> {
    if qtt.get("enabled").and_then(Json::as_bool) == Some(false) {
        return Err("disabled in ksqlDB");
    }
    let mut out = Map::new();
    out.insert("name".into(), qtt.get("name").cloned().unwrap_or(Json::Null));
    out.insert("statements".into(), qtt.get("statements").cloned().unwrap_or(json!([])));
    let mut props = Map::new();
    for (k, v) in qtt.get("properties").and_then(Json::as_object).into_iter().flatten() {
        let v = match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        props.insert(k.clone(), Json::String(v));
    }
    out.insert("properties".into(), Json::Object(props));
    let records = |field: &str| -> Json {
        let list = qtt.get(field).and_then(Json::as_array).cloned().unwrap_or_default();
        Json::Array(
            list.into_iter()
                .map(|r| {
                    let mut m = Map::new();
                    for k in ["topic", "key", "value", "value_text", "timestamp", "window", "headers"] {
                        if let Some(v) = r.get(k) {
                            m.insert(k.into(), v.clone());
                        }
                    }
                    Json::Object(m)
                })
                .collect(),
        )
    };
    out.insert("inputs".into(), records("inputs"));
    out.insert("outputs".into(), records("outputs"));
    // ksqlDB's TestExecutor reads and compares only the topics its expected records name.
    out.insert("only_named_outputs".into(), Json::Bool(true));
    if let Some(e) = qtt.get("expectedException") {
        let message = e.get("message").and_then(Json::as_str).unwrap_or("");
        out.insert("expected_error".into(), json!({ "message": message }));
    }
    let statements: Vec<&str> =
        qtt.get("statements").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
    let mut schemas = reserved_schema_ids(qtt, &statements);
    let mut topics = Vec::new();
    for t in qtt.get("topics").and_then(Json::as_array).into_iter().flatten() {
        let Some(name) = t.get("name").and_then(Json::as_str) else { continue };
        if t.get("valueSchemaId").is_some()
            || t.get("keySchemaId").is_some()
            || t.get("valueSchemaReferences").is_some()
        {
            return Err("schema ids or references");
        }
        // Key schema first, as ksqlDB's driver registers them (cases name the ids it gets).
        for (field, suffix) in [("keySchema", "key"), ("valueSchema", "value")] {
            if let Some(s) = t.get(field) {
                let format = if suffix == "key" { "keyFormat" } else { "valueFormat" };
                let protobuf = t.get(format).and_then(Json::as_str).is_some_and(|f| f.eq_ignore_ascii_case("PROTOBUF"));
                let schema = match s {
                    Json::String(_) if protobuf => s.clone(),
                    Json::String(text) => serde_json::from_str(text).unwrap_or_else(|_| s.clone()),
                    other => other.clone(),
                };
                let schema_type = if protobuf { json!("PROTOBUF") } else { Json::Null };
                schemas
                    .push(json!({"subject": format!("{name}-{suffix}"), "schema": schema, "schema_type": schema_type}));
            }
        }
        // Without a count of its own, a topic has the one its statement asks for (ksqlDB's driver
        // creates it from the statement).
        let from_statement = || {
            statements.iter().find_map(|stmt| {
                property(stmt, "kafka_topic")
                    .filter(|topic| topic == name)
                    .and_then(|_| property(stmt, "partitions"))
                    .and_then(|p| p.parse::<u64>().ok())
            })
        };
        let partitions = t.get("partitions").and_then(Json::as_u64).or_else(from_statement).unwrap_or(1);
        topics.push(json!({"name": name, "partitions": partitions}));
    }
    // ksqlDB's driver creates the topics that statements name and that records use before the
    // statements run; with one partition here, as its test driver processes them as one.
    let declared: Vec<String> = topics.iter().filter_map(|t| t["name"].as_str().map(str::to_string)).collect();
    let mut implied: Vec<(String, u64)> = Vec::new();
    for stmt in qtt.get("statements").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str) {
        if let Some(topic) = property(stmt, "kafka_topic") {
            let partitions = property(stmt, "partitions").and_then(|p| p.parse().ok()).unwrap_or(1);
            implied.push((topic, partitions));
        }
    }
    for field in ["inputs", "outputs"] {
        for r in qtt.get(field).and_then(Json::as_array).into_iter().flatten() {
            if let Some(t) = r.get("topic").and_then(Json::as_str) {
                implied.push((t.to_string(), 1));
            }
        }
    }
    let mut seen = declared;
    for (name, partitions) in implied {
        if !seen.contains(&name) {
            topics.push(json!({"name": name, "partitions": partitions}));
            seen.push(name);
        }
    }
    out.insert("schemas".into(), Json::Array(schemas));
    out.insert("topics".into(), Json::Array(topics));
    Ok(Json::Object(out))
}

/// Placeholders for the schemas ksqlDB's driver registers, before the listed topics' schemas, for
/// the sources the statements declare with columns: a case whose statements pin schema ids
/// (`VALUE_SCHEMA_ID=2`) counts on those ids, which come after them. The engine registers its own
/// schemas for those sources when it runs the statements; nothing reads the placeholders.
fn reserved_schema_ids(qtt: &Json, statements: &[&str]) -> Vec<Json> {
    if !statements.iter().any(|s| s.to_ascii_uppercase().contains("_SCHEMA_ID")) {
        return Vec::new();
    }
    let listed: Vec<&str> =
        qtt.get("topics").and_then(Json::as_array).into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    let mut out = Vec::new();
    for stmt in statements {
        let upper = stmt.to_ascii_uppercase();
        let declares_columns = upper.trim_start().starts_with("CREATE")
            && !upper.contains(" AS SELECT")
            && upper.split(" WITH").next().is_some_and(|head| head.contains('('));
        let Some(topic) = property(stmt, "kafka_topic").filter(|t| declares_columns && !listed.contains(&t.as_str()))
        else {
            continue;
        };
        let format = property(stmt, "format");
        let key_format = property(stmt, "key_format").or_else(|| format.clone()).unwrap_or_default();
        let value_format = property(stmt, "value_format").or(format).unwrap_or_default();
        let has_key = upper.contains(" KEY,") || upper.contains(" KEY)") || upper.contains("PRIMARY KEY");
        for (part, format, present) in [("key", key_format, has_key), ("value", value_format, true)] {
            let placeholder = match format.to_ascii_uppercase().as_str() {
                "AVRO" => json!("null"),
                "JSON_SR" => json!({}),
                _ => continue,
            };
            if present {
                out.push(json!({"subject": format!("{topic}-{part}"), "schema": placeholder}));
            }
        }
    }
    out
}

/// The value of `name = 'value'` (or `name = value`) in a statement's WITH clause, case-insensitive.
fn property(stmt: &str, name: &str) -> Option<String> {
    let upper = stmt.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find(&name.to_ascii_uppercase()) {
        let at = from + i;
        from = at + name.len();
        let before = upper[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = stmt[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else { continue };
        let rest = rest.trim_start();
        let value: String = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.chars().take_while(|c| *c != '\'').collect(),
            None => rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect(),
        };
        return Some(value);
    }
    None
}
