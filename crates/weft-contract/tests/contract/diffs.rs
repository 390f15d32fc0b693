//! Diffs between contract versions: a table of (old, new, expected changes).

use weft_contract::{diff, Change};

use crate::common::*;

const BASE: &str = "\
- name: id
  logicalType: string
  required: true
- name: amount
  logicalType: number
  description: Total, taxes included.
  logicalTypeOptions:
    minimum: 0
    maximum: 1000
    multipleOf: 0.01
- name: code
  logicalType: string
  logicalTypeOptions:
    maxLength: 10
- name: currency
  logicalType: string
  quality:
    - id: currency_valid
      metric: invalidValues
      arguments:
        validValues: [EUR, USD]
      mustBe: 0
- name: placed
  logicalType: date
  logicalTypeOptions:
    minimum: \"2020-01-01\"
- name: note
  logicalType: string
  quality:
    - metric: nullValues
      mustBeLessThan: 5
";

const OBJECT_RULE: &str = "- id: positive\n  type: custom\n  engine: weft\n  implementation: amount >= 0";

fn change(path: &str, breaking: bool, message: &str) -> Change {
    Change { path: path.into(), breaking, message: message.into() }
}

#[test]
fn changes_are_classified_breaking_or_not() {
    let edit = |from: &str, to: &str| {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    };
    let cases: Vec<(String, &str, Vec<Change>)> = vec![
        (BASE.into(), OBJECT_RULE, vec![]),
        (edit("- name: code\n  logicalType: string\n  logicalTypeOptions:\n    maxLength: 10\n", ""), OBJECT_RULE, vec![change("orders.code", true, "the property orders.code was removed")]),
        (format!("{BASE}- name: extra\n  logicalType: string\n"), OBJECT_RULE, vec![change("orders.extra", false, "the optional property orders.extra was added")]),
        (
            format!("{BASE}- name: extra\n  logicalType: string\n  required: true\n"),
            OBJECT_RULE,
            vec![change("orders.extra", true, "the property orders.extra was added as required: records without it are now refused")],
        ),
        (edit("- name: note\n  logicalType: string", "- name: note\n  logicalType: integer"), OBJECT_RULE, vec![change("orders.note", true, "orders.note changed type from string to integer")]),
        (edit("- name: code\n  logicalType: string\n", "- name: code\n  logicalType: string\n  required: true\n"), OBJECT_RULE, vec![change("orders.code.required", true, "orders.code is now required")]),
        (edit("- name: id\n  logicalType: string\n  required: true\n", "- name: id\n  logicalType: string\n"), OBJECT_RULE, vec![change("orders.id.required", false, "orders.id is no longer required")]),
        (edit("- name: id\n  logicalType: string\n", "- name: id\n  logicalType: string\n  unique: true\n"), OBJECT_RULE, vec![change("orders.id.unique", true, "orders.id is now unique")]),
        (
            edit("    minimum: 0\n    maximum: 1000\n", "    minimum: 1\n    maximum: 500\n"),
            OBJECT_RULE,
            vec![
                change("orders.amount.logicalTypeOptions.minimum", true, "minimum of orders.amount changed from 0 to 1: values that passed may now be refused"),
                change("orders.amount.logicalTypeOptions.maximum", true, "maximum of orders.amount changed from 1000 to 500: values that passed may now be refused"),
            ],
        ),
        (
            edit("    minimum: 0\n    maximum: 1000\n    multipleOf: 0.01\n", "    minimum: -5\n    maximum: 2000\n    multipleOf: 0.005\n"),
            OBJECT_RULE,
            vec![
                change("orders.amount.logicalTypeOptions.minimum", false, "minimum of orders.amount changed from 0 to -5"),
                change("orders.amount.logicalTypeOptions.maximum", false, "maximum of orders.amount changed from 1000 to 2000"),
                change("orders.amount.logicalTypeOptions.multipleOf", false, "multipleOf of orders.amount changed from 0.01 to 0.005"),
            ],
        ),
        (edit("    multipleOf: 0.01\n", "    multipleOf: 0.02\n"), OBJECT_RULE, vec![change("orders.amount.logicalTypeOptions.multipleOf", true, "multipleOf of orders.amount changed from 0.01 to 0.02: values that passed may now be refused")]),
        (edit("    maxLength: 10\n", "    maxLength: 20\n    pattern: \"^[A-Z]+$\"\n"), OBJECT_RULE, vec![
            change("orders.code.logicalTypeOptions.maxLength", false, "maxLength of orders.code changed from 10 to 20"),
            change("orders.code.logicalTypeOptions.pattern", true, "orders.code now has pattern \"^[A-Z]+$\": values that passed may now be refused"),
        ]),
        (edit("  logicalTypeOptions:\n    maxLength: 10\n", ""), OBJECT_RULE, vec![change("orders.code.logicalTypeOptions.maxLength", false, "orders.code no longer has maxLength 10")]),
        (edit("    minimum: \"2020-01-01\"\n", "    minimum: \"2021-06-01\"\n"), OBJECT_RULE, vec![change("orders.placed.logicalTypeOptions.minimum", true, "minimum of orders.placed changed from \"2020-01-01\" to \"2021-06-01\": values that passed may now be refused")]),
        (edit("validValues: [EUR, USD]", "validValues: [EUR, USD, GBP]"), OBJECT_RULE, vec![change("orders.currency.quality[currency_valid]", false, "the rule currency_valid: valid values added: \"GBP\"")]),
        (edit("validValues: [EUR, USD]", "validValues: [EUR]"), OBJECT_RULE, vec![change("orders.currency.quality[currency_valid]", true, "the rule currency_valid: valid values removed: \"USD\": data that passed may now fail")]),
        (edit("      mustBeLessThan: 5\n", "      mustBeLessThan: 10\n"), OBJECT_RULE, vec![change("orders.note.quality[nullValues]", false, "the threshold of the rule nullValues changed from mustBeLessThan: 5 to mustBeLessThan: 10")]),
        (edit("      mustBeLessThan: 5\n", "      mustBeLessThan: 2\n"), OBJECT_RULE, vec![change("orders.note.quality[nullValues]", true, "the threshold of the rule nullValues changed from mustBeLessThan: 5 to mustBeLessThan: 2: data that passed may now fail")]),
        (edit("  quality:\n    - metric: nullValues\n      mustBeLessThan: 5\n", ""), OBJECT_RULE, vec![change("orders.note.quality[nullValues]", false, "the rule nullValues of orders.note was removed")]),
        (
            edit("- name: id\n  logicalType: string\n", "- name: id\n  logicalType: string\n  quality:\n    - metric: nullValues\n      mustBe: 0\n"),
            OBJECT_RULE,
            vec![change("orders.id.quality[nullValues]", true, "the rule nullValues was added to orders.id: data that passed may now fail")],
        ),
        (BASE.into(), "- id: positive\n  type: custom\n  engine: weft\n  implementation: amount > 0", vec![change("orders.quality[positive]", true, "the rule positive changed: data that passed may now fail")]),
        (BASE.into(), "- id: positive\n  type: custom\n  engine: weft\n  implementation: amount >= 0\n  description: No refunds here.", vec![change("orders.quality[positive]", false, "the description of the rule positive changed")]),
        (
            edit("  description: Total, taxes included.\n", "  description: Total, without taxes.\n  classification: confidential\n"),
            OBJECT_RULE,
            vec![
                change("orders.amount.description", false, "orders.amount.description changed from \"Total, taxes included.\" to \"Total, without taxes.\""),
                change("orders.amount.classification", false, "orders.amount.classification was added"),
            ],
        ),
    ];
    let old = contract(&with_properties(BASE, OBJECT_RULE));
    for (properties, quality, expected) in cases {
        let new = contract(&with_properties(&properties, quality));
        let d = diff(&old, &new);
        assert_eq!(d.changes, expected, "{properties}{quality}");
        assert_eq!(d.is_breaking(), expected.iter().any(|c| c.breaking));
    }
}

#[test]
fn objects_and_contract_members_are_compared() {
    let old = contract(FULL);
    let new_yaml = FULL
        .replace("version: 2.1.0", "version: 3.0.0")
        .replace("status: active", "status: deprecated")
        .replace("  - property: retention\n    value: 7\n", "  - property: retention\n    value: 3\n")
        .replace("  - property: weftPolicy\n    value: dead-letter\n", "  - property: weftPolicy\n    value: reject\n")
        .replace(
            "schema:\n  - id: orders_obj\n    name: orders\n",
            "schema:\n  - id: orders_obj\n    name: purchases\n",
        );
    let d = diff(&old, &contract(&new_yaml));
    assert_eq!(
        d.changes,
        vec![
            change(
                "customProperties[weftPolicy]",
                false,
                "customProperties weftPolicy changed from \"dead-letter\" to \"reject\""
            ),
            change("slaProperties[retention]", false, "slaProperties retention changed from 7 to 3"),
            change("status", false, "status changed from \"active\" to \"deprecated\""),
            change("version", false, "version changed from \"2.1.0\" to \"3.0.0\""),
            change("orders", true, "the schema object orders was removed"),
            change("purchases", false, "the schema object purchases was added"),
        ]
    );
    assert!(d.is_breaking());
    assert_eq!(d.breaking().count(), 1);
    assert_eq!(diff(&old, &old).changes, vec![]);
}

#[test]
fn repeated_list_entries_are_matched_in_order() {
    // The full contract has two `timeOfAvailability` SLA entries; changing the second names it.
    let old = contract(FULL);
    let new = contract(&FULL.replace("value: \"08:00-08:00\"", "value: \"07:00-08:00\""));
    assert_eq!(
        diff(&old, &new).changes,
        vec![change(
            "slaProperties[timeOfAvailability#2]",
            false,
            "slaProperties timeOfAvailability#2 changed from \"08:00-08:00\" to \"07:00-08:00\""
        )]
    );
}
