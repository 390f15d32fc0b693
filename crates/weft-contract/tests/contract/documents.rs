//! Reading, validating and writing contracts.

use serde_json::json;
use weft_contract::{Contract, ContractError};

use crate::common::*;

#[test]
fn the_full_contract_round_trips_without_losing_a_field() {
    let first = contract(FULL);
    let yaml = first.to_yaml();
    let second = contract(&yaml);
    assert_eq!(first.to_json(), second.to_json(), "{yaml}");
    assert_eq!(second.to_yaml(), yaml, "writing is stable");
    // The document as read, value by value (what a lossy reader would drop or retype).
    let doc = first.to_json();
    let nested = &doc["customProperties"][2]["value"];
    assert_eq!(nested["yes"], json!("no"));
    assert_eq!(nested["octal"], json!("0755"));
    assert_eq!(nested["empty"], json!(""));
    assert_eq!(nested["nothing"], json!(null));
    assert_eq!(nested["big"], json!(12345678901234567890u64));
    assert_eq!(nested["float"], json!(1.5e300));
    assert_eq!(nested["list"], json!([1, "two", {"three": 3}]));
    assert_eq!(doc["schema"][0]["quality"][3]["implementation"]["kwargs"]["maxValue"], json!(1_000_000));
    assert_eq!(doc["slaProperties"][6]["driver"], json!("analytics"));
    assert_eq!(doc["servers"][0]["roles"][0]["role"], json!("orders_reader"));
    assert_eq!(doc["team"]["members"][1]["replacedByUsername"], json!("alan"));
    assert_eq!(doc["version"], json!("2.1.0"), "a version stays text");
    // The writer puts the standard's fundamentals first.
    assert!(
        yaml.starts_with("apiVersion: v3.1.0\nkind: DataContract\nid: orders-placed-contract\nname: Orders placed\n"),
        "{yaml}"
    );
}

#[test]
fn the_accessors_read_the_fundamentals() {
    let c = contract(FULL);
    assert_eq!(
        (c.id(), c.version(), c.status(), c.name(), c.api_version()),
        ("orders-placed-contract", "2.1.0", "active", Some("Orders placed"), "v3.1.0")
    );
    assert_eq!(c.objects(), vec!["orders"]);
    let c = contract(V3_0);
    assert_eq!((c.id(), c.status(), c.name()), ("shipments-contract", "draft", None));
}

#[test]
fn a_v3_0_contract_is_read_against_its_own_schema() {
    let c = contract(V3_0);
    assert_eq!(contract(&c.to_yaml()).to_json(), c.to_json());
    // The same document under v3.1.0 is refused: `rule:` forms are v3.0's.
    let as_3_1 = V3_0.replace("apiVersion: v3.0.2", "apiVersion: v3.1.0");
    let found = problems(&as_3_1);
    assert!(found.iter().any(|p| p.message.contains("v3.1.0")), "{found:?}");
}

#[test]
fn the_standards_own_examples_import_round_trip_and_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/standard");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let c = Contract::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = Contract::from_yaml(&c.to_yaml()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(again.to_json(), c.to_json(), "{}", path.display());
        for object in c.objects() {
            c.compile(Some(object)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        seen += 1;
    }
    assert_eq!(seen, 17);
}

#[test]
fn json_documents_are_read_like_yaml_ones() {
    let c = contract(FULL);
    let from_json = Contract::from_json(c.to_json().clone()).unwrap();
    assert_eq!(from_json, c);
    let mut bad = c.to_json().clone();
    bad["schema"][0]["properties"][2]["logicalType"] = json!("money");
    let Err(ContractError::Invalid { problems }) = Contract::from_json(bad) else { panic!("accepted") };
    assert_eq!(problems[0].path, "schema[0].properties[2].logicalType");
    assert_eq!(problems[0].line, None);
    assert!(Contract::from_json(json!([1])).is_err());
}

#[test]
fn objects_are_named_when_there_is_not_exactly_one() {
    let two = FULL.replace("price:\n", "  - name: refunds\n    properties: []\nprice:\n");
    let c = contract(&two);
    assert_eq!(c.objects(), vec!["orders", "refunds"]);
    let err = c.compile(None).unwrap_err();
    assert!(matches!(&err, ContractError::ObjectRequired { objects } if objects.len() == 2), "{err}");
    let err = c.compile(Some("returns")).unwrap_err();
    assert_eq!(err.to_string(), "the contract has no schema object 'returns' (it has: orders, refunds)");
    assert_eq!(c.compile(Some("refunds")).unwrap().object(), "refunds");
    assert!(c.fields("returns").is_err());
}

/// Each invalid document: the path, line and part of the message of the problem expected first.
#[test]
fn invalid_documents_are_refused_with_path_line_and_reason() {
    let p = |properties: &str| with_properties(properties, "");
    let q = |properties: &str, quality: &str| with_properties(properties, quality);
    let base = "apiVersion: v3.1.0\nkind: DataContract\nid: test\nversion: 1.0.0\nstatus: active\n";
    let cases: Vec<(String, &str, Option<usize>, &str)> = vec![
        // Against the standard's JSON Schema.
        ("apiVersion: v3.1.0\nkind: DataContract\nversion: 1.0.0\nstatus: active\n".into(), "", Some(1), "missing required property 'id'"),
        (format!("{base}x-owner: me\n"), "x-owner", Some(6), "custom data goes in customProperties"),
        (base.replace("kind: DataContract", "kind: Contract"), "kind", Some(2), "DataContract"),
        (p("- name: a\n  logicalType: decimal"), "schema[0].properties[0].logicalType", Some(10), "decimal"),
        (p("- name: a\n  logicalType: integer\n  logicalTypeOptions:\n    minLength: 1"), "schema[0].properties[0].logicalTypeOptions.minLength", Some(12), "not allowed"),
        (p("- name: a\n  quality:\n    - metric: bogus\n      mustBe: 0"), "schema[0].properties[0].quality[0].metric", Some(11), "bogus"),
        (p("- name: a\n  required: yes"), "schema[0].properties[0].required", Some(10), "boolean"),
        (p("- logicalType: string"), "schema[0].properties[0]", Some(9), "name"),
        // Weft's own checks.
        (p("- name: a\n  logicalType: string\n  logicalTypeOptions:\n    pattern: \"(?<=x)y\""), "schema[0].properties[0].logicalTypeOptions.pattern", Some(12), "look-around"),
        (p("- name: a\n  logicalType: number\n  logicalTypeOptions:\n    minimum: 10\n    maximum: 5"), "schema[0].properties[0].logicalTypeOptions", Some(11), "the minimum 10 is above the maximum 5"),
        (p("- name: a\n  logicalType: integer\n  logicalTypeOptions:\n    exclusiveMinimum: 5\n    maximum: 5"), "schema[0].properties[0].logicalTypeOptions", Some(11), "no value can pass"),
        (p("- name: a\n  logicalType: string\n  logicalTypeOptions:\n    minLength: 5\n    maxLength: 2"), "schema[0].properties[0].logicalTypeOptions", Some(11), "minLength is above maxLength"),
        (p("- name: a\n  logicalType: array\n  logicalTypeOptions:\n    minItems: 5\n    maxItems: 2"), "schema[0].properties[0].logicalTypeOptions", Some(11), "minItems is above maxItems"),
        (p("- name: a\n  logicalType: date\n  logicalTypeOptions:\n    minimum: yesterday"), "schema[0].properties[0].logicalTypeOptions.minimum", Some(12), "'yesterday' is not an ISO-8601 date"),
        (p("- name: a\n  logicalType: date\n  logicalTypeOptions:\n    minimum: \"2024-02-01\"\n    maximum: \"2024-01-01\""), "schema[0].properties[0].logicalTypeOptions", Some(11), "is after the maximum"),
        (p("- name: a\n  logicalType: object\n  logicalTypeOptions:\n    required: [b, c]\n  properties:\n    - name: b"), "schema[0].properties[0].logicalTypeOptions.required[1]", Some(12), "'c' is not a property of a"),
        (p("- name: a\n- name: b\n- name: a"), "schema[0].properties[2].name", Some(11), "already defined"),
        (p("- name: a\n  logicalType: object\n  properties:\n    - name: x\n    - name: x"), "schema[0].properties[0].properties[1].name", Some(13), "already defined"),
        (q("- name: a", "- metric: duplicateValues\n  mustBe: 0\n  arguments:\n    properties: [a, b.c]"), "schema[0].quality[0].arguments.properties[1]", Some(14), "'b.c' names no property"),
        (q("- name: a", "- metric: nullValues\n  mustBe: 0"), "schema[0].quality[0]", Some(11), "put it in that property's quality"),
        (q("- name: amount\n  logicalType: number", "- type: custom\n  engine: weft\n  implementation: amount > 0 AND price > 0"), "schema[0].quality[0].implementation", Some(14), "'PRICE' cannot be resolved"),
        (q("- name: amount\n  logicalType: number", "- type: custom\n  engine: weft\n  implementation: amount >"), "schema[0].quality[0].implementation", Some(14), "does not parse"),
        (q("- name: amount\n  logicalType: number", "- type: custom\n  engine: weft\n  implementation: amount + 1"), "schema[0].quality[0].implementation", Some(14), "not a condition"),
        (q("- name: amount\n  logicalType: number", "- type: custom\n  engine: WEFT\n  implementation: \"{property} > 0\""), "schema[0].quality[0].implementation", Some(14), "{property} names no property"),
        (p("- name: a\n  unique: true\n  customProperties:\n    - property: weftUniqueWindow\n      value: soon"), "schema[0].properties[0].customProperties[0].value", Some(13), "weftUniqueWindow: 'soon' is not a duration"),
        (p("- name: a\n  quality:\n    - metric: invalidValues\n      mustBe: 0\n      arguments:\n        validValues: nope"), "schema[0].properties[0].quality[0].arguments.validValues", Some(14), "validValues must be a list"),
        (format!("{base}schema:\n  - name: o\n  - name: o\n"), "schema[1].name", Some(8), "already defined"),
    ];
    for (yaml, path, line, message) in cases {
        let found = problems(&yaml);
        let first = &found[0];
        assert_eq!(first.path, path, "{yaml}\n{found:#?}");
        assert_eq!(first.line, line, "{yaml}\n{found:#?}");
        assert!(first.message.contains(message), "expected '{message}' in {found:#?}\n{yaml}");
    }
}

#[test]
fn each_problem_of_a_document_is_reported() {
    // Three mistakes in three places: each is listed with its own line.
    let yaml = with_properties(
        "- name: a\n  logicalType: decimal\n- name: b\n  required: maybe\n- name: c\n  logicalType: string",
        "",
    )
    .replace("status: active\n", "status: active\nx-extra: 1\n");
    let found = problems(&yaml);
    let located: Vec<(&str, Option<usize>)> = found.iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert_eq!(
        located,
        vec![
            ("x-extra", Some(6)),
            ("schema[0].properties[0].logicalType", Some(11)),
            ("schema[0].properties[1].required", Some(13))
        ]
    );
    let text = ContractError::Invalid { problems: found }.to_string();
    assert!(text.starts_with("invalid data contract: line 6: x-extra: "), "{text}");
    // Weft's own checks list every problem too.
    let yaml = with_properties(
        "- name: a\n  logicalType: string\n  logicalTypeOptions:\n    pattern: \"(\"\n- name: b\n  logicalType: integer\n  logicalTypeOptions:\n    minimum: 3\n    maximum: 1",
        "",
    );
    let found = problems(&yaml);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[1].line, Some(15));
}

#[test]
fn yaml_that_is_not_yaml_or_not_a_mapping_is_refused() {
    let err = Contract::from_yaml("apiVersion: v3.1.0\nkind: [DataContract\nid: x\n").unwrap_err();
    assert!(matches!(err, ContractError::Yaml { line: Some(_), .. }), "{err:?}");
    let found = problems("- 1\n- 2\n");
    assert_eq!(found[0].message, "a data contract is a mapping of members, found a list");
}
