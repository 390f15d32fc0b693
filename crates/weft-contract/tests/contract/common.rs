//! Helpers shared by the tests.

use weft_contract::{Contract, ContractError, Problem};

pub const FULL: &str = include_str!("../fixtures/full.odcs.yaml");
pub const V3_0: &str = include_str!("../fixtures/v3_0.odcs.yaml");

/// A contract, or the test fails with its problems.
pub fn contract(yaml: &str) -> Contract {
    match Contract::from_yaml(yaml) {
        Ok(contract) => contract,
        Err(e) => panic!("{e}"),
    }
}

/// The problems of a refused contract.
pub fn problems(yaml: &str) -> Vec<Problem> {
    match Contract::from_yaml(yaml) {
        Err(ContractError::Invalid { problems }) => problems,
        Err(other) => panic!("refused, but not as invalid: {other}"),
        Ok(_) => panic!("accepted:\n{yaml}"),
    }
}

/// A minimal valid contract whose single schema object `orders` has the given properties (YAML
/// written at the indentation of a `properties` list item) and object-level quality rules.
pub fn with_properties(properties: &str, quality: &str) -> String {
    let mut yaml = String::from(
        "apiVersion: v3.1.0\nkind: DataContract\nid: test\nversion: 1.0.0\nstatus: active\nschema:\n  - name: orders\n    properties:\n",
    );
    for line in properties.trim_matches('\n').lines() {
        yaml.push_str("      ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    if !quality.trim().is_empty() {
        yaml.push_str("    quality:\n");
        for line in quality.trim_matches('\n').lines() {
            yaml.push_str("      ");
            yaml.push_str(line);
            yaml.push('\n');
        }
    }
    yaml
}

/// The checker of the only object of a contract with these properties and object-level rules.
pub fn checker(properties: &str, quality: &str) -> weft_contract::Checker {
    let yaml = with_properties(properties, quality);
    contract(&yaml).compile(None).unwrap_or_else(|e| panic!("{e}"))
}

/// The violations of a record as (rule, field, reason) triples.
pub fn violations(
    checker: &weft_contract::Checker,
    record: serde_json::Value,
) -> Vec<(String, Option<String>, String)> {
    checker.check(&record, 0).into_iter().map(|v| (v.rule, v.field, v.reason)).collect()
}

/// A (rule, field, reason) triple, for expected violations.
pub fn v(rule: &str, field: Option<&str>, reason: &str) -> (String, Option<String>, String) {
    (rule.to_string(), field.map(str::to_string), reason.to_string())
}
