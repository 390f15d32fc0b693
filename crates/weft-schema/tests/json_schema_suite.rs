//! The official JSON-Schema-Test-Suite against Weft's validator: drafts 4, 6, 7, 2019-09 and 2020-12,
//! every required test and the optional ones, vendored under `tests/suite/` with the suite's LICENSE
//! (`tests/suite/README.md` says from which commit).
//!
//! Remote references (`http://localhost:1234/...`) are served from the vendored `remotes/` directory as
//! the schemas' references, the way the registry hands a schema its Confluent references: nothing is
//! fetched. Required tests run with `format` as the specification says ([`FormatMode::Specification`]);
//! `optional/format/` runs with formats asserted, as the suite asks and as Weft does by default.
//!
//! Every required test and every test of `optional/format/` must pass, except those listed in
//! [`SKIPPED`] with the reason; the other optional tests (big numbers, ECMAScript regular expressions,
//! ...) are counted and printed (`cargo nextest run -p weft-schema --test json_schema_suite
//! --no-capture`), not required.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use weft_schema::json_schema::{FormatMode, JsonSchema, JsonSchemaOptions};

const DRAFTS: [(&str, &str); 5] = [
    ("draft4", "http://json-schema.org/draft-04/schema#"),
    ("draft6", "http://json-schema.org/draft-06/schema#"),
    ("draft7", "http://json-schema.org/draft-07/schema#"),
    ("draft2019-09", "https://json-schema.org/draft/2019-09/schema"),
    ("draft2020-12", "https://json-schema.org/draft/2020-12/schema"),
];

/// Tests deliberately not passed: (file under `tests/<draft>/`, group description, test description,
/// why). An entry whose test passes fails the run, so the list cannot go stale.
const SKIPPED: &[(&str, &str, &str, &str)] = &[];

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        fs::read_dir(dir).expect("suite directory").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// The remotes, named by the URI the suite's schemas use for them.
fn remotes() -> Vec<(String, String)> {
    let root = suite_dir().join("remotes");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    files
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("under remotes").to_string_lossy().replace('\\', "/");
            (format!("http://localhost:1234/{relative}"), fs::read_to_string(path).expect("remote"))
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Tally {
    passed: usize,
    total: usize,
}

struct Failure {
    file: String,
    group: String,
    test: String,
    detail: String,
}

#[test]
fn the_official_suite_passes() {
    let remotes = remotes();
    let references: Vec<(&str, &str)> = remotes.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let mut failures = Vec::new();
    let mut table: BTreeMap<(usize, &str), (Tally, Tally, Tally)> = BTreeMap::new();
    for (order, (draft, metaschema)) in DRAFTS.iter().enumerate() {
        let dir = suite_dir().join("tests").join(draft);
        let mut files = Vec::new();
        json_files(&dir, &mut files);
        let row = table.entry((order, draft)).or_default();
        for path in files {
            let file = path.strip_prefix(&dir).expect("under the draft").to_string_lossy().replace('\\', "/");
            let optional = file.starts_with("optional/");
            let format = file.starts_with("optional/format/");
            let options =
                JsonSchemaOptions { format: if format { FormatMode::Assert } else { FormatMode::Specification } };
            let groups: Vec<Value> = serde_json::from_str(&fs::read_to_string(&path).expect("file")).expect("JSON");
            for group in groups {
                let mut schema = group["schema"].clone();
                // The suite's files say which draft their schemas are written in; Weft's default is draft-07.
                if let Value::Object(map) = &mut schema {
                    if !map.contains_key("$schema") && !file.ends_with("no-schema.json") {
                        map.insert("$schema".into(), Value::String(metaschema.to_string()));
                    }
                }
                let compiled = JsonSchema::parse_with(&schema.to_string(), &references, options);
                let description = group["description"].as_str().unwrap_or_default();
                for test in group["tests"].as_array().expect("tests") {
                    let name = test["description"].as_str().unwrap_or_default();
                    let expected = test["valid"].as_bool().expect("valid");
                    let outcome = match &compiled {
                        Ok(schema) => {
                            let verdict = schema.validate(&test["data"]);
                            // The bytes of the payload get the same verdict as the parsed value.
                            let bytes = schema.validate_bytes(test["data"].to_string().as_bytes());
                            assert_eq!(verdict, bytes, "{draft}/{file}: {description}: {name}");
                            assert_eq!(schema.is_valid(&test["data"]), verdict.is_ok(), "{draft}/{file}: {name}");
                            match verdict {
                                Ok(()) if expected => Ok(()),
                                Ok(()) => Err("accepted".to_string()),
                                Err(_) if !expected => Ok(()),
                                Err(e) => Err(format!("refused: {e}")),
                            }
                        }
                        Err(e) => Err(format!("schema refused: {e}")),
                    };
                    let tally = if format {
                        &mut row.2
                    } else if optional {
                        &mut row.1
                    } else {
                        &mut row.0
                    };
                    tally.total += 1;
                    let skip = SKIPPED.iter().position(|(f, g, t, _)| {
                        format!("{draft}/{f}") == format!("{draft}/{file}") && *g == description && *t == name
                    });
                    match outcome {
                        Ok(()) => {
                            tally.passed += 1;
                            if skip.is_some() {
                                panic!("{draft}/{file}: {description}: {name} passes; remove it from SKIPPED");
                            }
                        }
                        Err(detail) => {
                            if skip.is_none() && (!optional || format) {
                                failures.push(Failure {
                                    file: format!("{draft}/{file}"),
                                    group: description.to_string(),
                                    test: name.to_string(),
                                    detail,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    println!("| draft | required | optional/format | other optional |");
    println!("|---|---|---|---|");
    for ((_, draft), (required, other, format)) in &table {
        let cell = |t: &Tally| format!("{} / {}", t.passed, t.total);
        println!("| {draft} | {} | {} | {} |", cell(required), cell(format), cell(other));
    }
    for failure in &failures {
        println!("FAILED {}: {}: {}: {}", failure.file, failure.group, failure.test, failure.detail);
    }
    assert!(failures.is_empty(), "{} required or format tests failed (listed above)", failures.len());
}
