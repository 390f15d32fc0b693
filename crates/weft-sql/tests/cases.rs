//! Runs every declarative case in `tests/cases/*.json` (format described in `harness/mod.rs`).
//!
//! `WEFT_SQL_CASE=substring` runs only the cases whose name contains the substring.

mod harness;

use std::path::Path;

#[test]
fn declarative_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let filter = std::env::var("WEFT_SQL_CASE").ok();
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("cases dir").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(file).expect("read case file");
        let cases: harness::CaseFile = match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: invalid case file: {e}", file.display()));
                continue;
            }
        };
        for case in &cases.tests {
            if filter.as_ref().is_some_and(|f| !case.name.contains(f.as_str())) {
                continue;
            }
            total += 1;
            if let Err(e) = harness::run_case(case) {
                let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                failures.push(format!("{name} / {}: {e}", case.name));
            }
        }
    }
    println!("ran {total} declarative cases, {} failed", failures.len());
    assert!(failures.is_empty(), "{} of {total} cases failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
