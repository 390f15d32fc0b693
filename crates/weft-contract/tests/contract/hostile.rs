//! Hostile contracts and records: refused or checked in bounded time and stack, never a panic.

use std::time::{Duration, Instant};

use serde_json::json;
use weft_contract::{Contract, ContractError};

use crate::common::*;

/// Runs `f` on a thread with a 2 MiB stack (a server worker's), failing if it takes over `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let start = Instant::now();
    let out = std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().unwrap();
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
    out
}

fn yaml_error(yaml: String) -> (Option<usize>, String) {
    bounded(Duration::from_secs(5), move || match Contract::from_yaml(&yaml) {
        Err(ContractError::Yaml { line, message }) => (line, message),
        other => panic!("not refused as YAML: {other:?}"),
    })
}

#[test]
fn billion_laughs_are_refused_at_the_line_that_crosses_the_limit() {
    let mut yaml = String::from("apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n");
    yaml.push_str(&format!("l0: &l0 [{}]\n", ["lol"; 10].join(", ")));
    for level in 1..9 {
        yaml.push_str(&format!("l{level}: &l{level} [{}]\n", vec![format!("*l{}", level - 1); 10].join(", ")));
    }
    assert!(yaml.len() < 2048);
    let (line, message) = yaml_error(yaml);
    assert_eq!(line, Some(11), "{message}");
    assert!(message.contains("more than 200000 nodes"), "{message}");
}

#[test]
fn deep_nesting_is_refused() {
    let head = "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n";
    for (yaml, at) in [
        (format!("{head}x: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)), 6),
        (format!("{head}x:\n{}1\n", "- ".repeat(100_000)), 7),
    ] {
        let (line, message) = yaml_error(yaml);
        assert_eq!(line, Some(at), "{message}");
        assert!(message.contains("nest deeper than 64 levels"), "{message}");
    }
}

#[test]
fn a_ten_megabyte_document_is_refused_by_its_size() {
    let yaml = format!("apiVersion: v3.1.0\ndescription:\n  purpose: \"{}\"\n", "x".repeat(10 << 20));
    let (line, message) = yaml_error(yaml);
    assert_eq!(line, None);
    assert!(message.starts_with("the document is 10485"), "{message}");
    assert!(message.ends_with("bytes; the limit is 4194304"), "{message}");
}

/// A contract whose properties nest `depth` objects deep, and a record as deep with a wrong leaf.
fn nested(depth: usize) -> (String, serde_json::Value) {
    let mut properties = String::new();
    let mut record = json!("leaf");
    for level in (0..depth).rev() {
        let indent = "  ".repeat(level * 2);
        let inner = if properties.is_empty() {
            format!("{indent}    - name: leaf\n{indent}      logicalType: integer\n")
        } else {
            properties
        };
        properties = format!(
            "{indent}- name: n{level}\n{indent}  logicalType: object\n{indent}  required: true\n{indent}  properties:\n{inner}"
        );
        record = json!({ format!("n{level}"): record });
    }
    (with_properties(&properties, ""), record)
}

#[test]
fn nested_properties_as_deep_as_yaml_allows_are_validated_and_checked() {
    // 29 levels of nested objects: the deepest a contract's YAML can hold (64 levels of collections),
    // validated against the standard's schema, compiled and checked on a worker's stack.
    let (yaml, record) = nested(29);
    let found = bounded(Duration::from_secs(10), move || {
        let c = Contract::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}"));
        c.compile(None).unwrap().check(&record, 0)
    });
    assert_eq!(found.len(), 1);
    assert!(found[0].field.as_deref().unwrap().ends_with("n27.n28"), "{found:?}");
    assert_eq!(found[0].reason, "expected an object, found \"leaf\"");
    // Deeper is refused with where and why.
    let (yaml, _) = nested(30);
    let (line, message) = yaml_error(yaml);
    assert_eq!(line, Some(129), "{message}");
    assert!(message.contains("collections nest deeper than 64 levels"), "{message}");
}

#[test]
fn huge_and_catastrophic_patterns() {
    // A pattern whose program would be gigabytes is refused when the contract is read...
    let yaml = with_properties(
        "- name: a\n  logicalType: string\n  logicalTypeOptions:\n    pattern: \"(\\\\w{1000}){1000}\"",
        "",
    );
    let found = bounded(Duration::from_secs(10), move || problems(&yaml));
    assert!(found[0].message.contains("compiles to more than 1048576 bytes"), "{found:?}");
    // ...and a pattern that backtracks exponentially elsewhere is linear here.
    let c = checker("- name: a\n  logicalType: string\n  logicalTypeOptions:\n    pattern: \"^(a+)+$\"", "");
    let value = json!({ "a": format!("{}b", "a".repeat(100_000)) });
    let found = bounded(Duration::from_secs(2), move || c.check(&value, 0));
    assert_eq!(found.len(), 1);
    // The reason quotes the value, cut short.
    assert_eq!(found[0].reason, format!("\"{}... does not match the pattern ^(a+)+$", "a".repeat(63)));
}

#[test]
fn expressions_too_deep_are_refused_not_overflowed() {
    let long = vec!["amount > 0"; 10_000].join(" OR ");
    let nested = format!("{}amount > 0{}", "(".repeat(10_000), ")".repeat(10_000));
    let right = format!("{}1{}", "(amount + ".repeat(5_000), ")".repeat(5_000));
    for expression in [long, nested, format!("{right} > 0")] {
        let yaml = with_properties(
            "- name: amount\n  logicalType: number",
            &format!("- type: custom\n  engine: weft\n  implementation: \"{expression}\""),
        );
        let found = bounded(Duration::from_secs(10), move || problems(&yaml));
        assert_eq!(found[0].path, "schema[0].quality[0].implementation");
        let message = &found[0].message;
        assert!(
            message.contains("deeper than 512 levels") || message.contains("nested more than 64 levels"),
            "{message}"
        );
    }
}

#[test]
fn huge_records_cost_no_more_than_their_checked_parts() {
    let c = checker(
        "- name: id\n  logicalType: string\n- name: tags\n  logicalType: array\n  items:\n    logicalType: string",
        "",
    );
    // A million-item array where a string is expected: the reason quotes 64 characters of it.
    let record = json!({ "id": vec![1; 1_000_000], "tags": ["a"] });
    let found = bounded(Duration::from_secs(5), move || c.check(&record, 0));
    assert_eq!(
        found[0].reason,
        format!(
            "expected a string, found [{}...",
            "1,".repeat(32).trim_end_matches(',').chars().take(63).collect::<String>()
        )
    );
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "[a-zA-Z0-9:@. -]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![Just("o-12"), Just("2024-02-30"), Just("12:00:00"), Just("EUR"), Just("N/A"), Just("")]
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let names = prop_oneof![
            Just("order_id"),
            Just("amount"),
            Just("customer"),
            Just("id"),
            Just("lines"),
            Just("sku"),
            Just("qty"),
            Just("placed_at"),
            Just("email"),
            Just("express"),
            Just("address"),
            Just("x"),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(names.prop_map(str::to_string), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Whatever the record, checking answers (never panics), and names only the checker's rules.
    #[test]
    fn any_record_is_checked_without_panicking(record in any_json(), timestamp in proptest::prelude::any::<i64>()) {
        use std::sync::OnceLock;
        static CHECKER: OnceLock<weft_contract::Checker> = OnceLock::new();
        let checker = CHECKER.get_or_init(|| contract(FULL).compile(None).unwrap());
        for violation in checker.check(&record, timestamp) {
            proptest::prop_assert!(checker.rules().iter().any(|r| r.id == violation.rule && r.checked_at_write), "{violation:?}");
            proptest::prop_assert!(!violation.reason.is_empty());
        }
    }
}
