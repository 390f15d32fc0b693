//! Uniqueness within a window: `unique: true` and `duplicateValues`, bounded in time and count.

use std::sync::Arc;

use serde_json::json;
use weft_contract::UniqueWindowInfo;

use crate::common::*;

const HOUR: i64 = 3_600_000;

#[test]
fn a_value_repeats_only_within_its_window() {
    let c = checker(
        "- name: id\n  unique: true\n  customProperties:\n    - property: weftUniqueWindow\n      value: 2h\n- name: other",
        "",
    );
    assert!(c.check(&json!({"id": "a"}), 0).is_empty());
    assert_eq!(
        c.check(&json!({"id": "a"}), HOUR)[0].reason,
        "\"a\" was already written 1 h earlier (unique within 2 h)"
    );
    // Out of time order: a record an hour older is as near.
    assert_eq!(
        c.check(&json!({"id": "a"}), -HOUR)[0].reason,
        "\"a\" was already written 1 h later (unique within 2 h)"
    );
    assert!(c.check(&json!({"id": "a"}), 2 * HOUR + 1).is_empty(), "outside the window");
    // Null and absent values are never duplicates (as in SQL).
    for _ in 0..2 {
        assert!(c.check(&json!({"id": null}), 0).is_empty());
        assert!(c.check(&json!({"other": 1}), 0).is_empty());
    }
    // Numbers repeat by value.
    assert!(c.check(&json!({"id": 1}), 0).is_empty());
    assert_eq!(c.check(&json!({"id": 1.0}), 0).len(), 1);
}

#[test]
fn a_batch_remembers_its_records_only_when_committed() {
    let c = checker(
        "- name: id\n  unique: true\n- name: amount\n  logicalType: number\n  logicalTypeOptions:\n    minimum: 0",
        "",
    );
    let mut batch = c.batch();
    assert!(batch.check(&json!({"id": "a", "amount": 1}), 0).is_empty());
    assert_eq!(
        batch.check(&json!({"id": "a", "amount": 2}), 0)[0].reason,
        "\"a\" appears more than once in this write"
    );
    // A record failing another rule is not remembered: its id may come again, fixed.
    assert_eq!(batch.check(&json!({"id": "b", "amount": -1}), 0).len(), 1);
    assert!(batch.check(&json!({"id": "b", "amount": 1}), 0).is_empty());
    // The write failed: nothing is remembered.
    drop(batch);
    assert!(c.check(&json!({"id": "a"}), 0).is_empty());
    let mut batch = c.batch();
    assert!(batch.check(&json!({"id": "c"}), 0).is_empty());
    batch.commit();
    assert_eq!(
        c.check(&json!({"id": "c"}), 1)[0].reason,
        "\"c\" was already written 1 ms earlier (unique within 24 h)"
    );
    assert_eq!(c.check(&json!({"id": "a"}), 1)[0].rule, "properties.id.unique");
}

#[test]
fn combinations_of_properties_are_unique_together() {
    let c = checker(
        "- name: tenant\n- name: order\n  logicalType: object\n  properties:\n    - name: id",
        "- id: per_tenant\n  metric: duplicateValues\n  mustBe: 0\n  arguments:\n    properties: [tenant, order.id]",
    );
    assert!(c.check(&json!({"tenant": "t1", "order": {"id": 1}}), 0).is_empty());
    assert!(c.check(&json!({"tenant": "t2", "order": {"id": 1}}), 0).is_empty());
    let found = c.check(&json!({"tenant": "t1", "order": {"id": 1}}), 5);
    assert_eq!((found[0].rule.as_str(), found[0].field.as_deref()), ("per_tenant", None));
    assert_eq!(found[0].reason, "(tenant=\"t1\", order.id=1) was already written 5 ms earlier (unique within 24 h)");
    // A combination with a null part is no duplicate.
    assert!(c.check(&json!({"tenant": "t1"}), 0).is_empty());
    assert!(c.check(&json!({"tenant": "t1"}), 0).is_empty());
}

#[test]
fn the_number_of_values_remembered_is_bounded() {
    // Set on the schema object, for every uniqueness rule of it.
    let yaml = with_properties("- name: id\n  unique: true", "").replace(
        "  - name: orders\n",
        "  - name: orders\n    customProperties:\n      - property: weftUniqueMaxValues\n        value: 3\n",
    );
    let c = contract(&yaml).compile(None).unwrap();
    for id in ["a", "b", "c", "d"] {
        assert!(c.check(&json!({ "id": id }), 0).is_empty());
    }
    // "a" was forgotten early to keep three values: it passes again, and the state says so.
    assert!(c.check(&json!({"id": "a"}), 0).is_empty());
    assert_eq!(c.check(&json!({"id": "d"}), 0).len(), 1);
    assert_eq!(
        c.unique_windows(),
        vec![UniqueWindowInfo {
            rule: "properties.id.unique".into(),
            window_ms: 24 * HOUR,
            max_values: 3,
            remembered: 3,
            forgotten_early: 2
        }]
    );
}

#[test]
fn windows_can_be_filled_from_records_already_written() {
    let c = checker("- name: id\n  unique: true\n  logicalType: integer", "");
    // Records already in the topic are remembered even when they would fail today's contract.
    c.remember(&json!({"id": 7}), 0);
    c.remember(&json!({"id": "x"}), 0);
    assert_eq!(c.check(&json!({"id": 7}), 10).len(), 1);
}

#[test]
fn concurrent_writers_never_both_get_a_value() {
    let c = Arc::new(checker("- name: id\n  unique: true", ""));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || (0..2000).filter(|i| c.check(&json!({ "id": i }), 0).is_empty()).count())
        })
        .collect();
    let accepted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(accepted, 2000);
}

#[test]
fn a_record_refused_for_one_value_leaves_its_other_values_unremembered() {
    let c = checker("- name: id\n  unique: true\n- name: email\n  unique: true", "");
    assert!(c.check(&json!({"id": "a", "email": "x"}), 0).is_empty());
    let found = c.check(&json!({"id": "b", "email": "x"}), 0);
    assert_eq!((found.len(), found[0].rule.as_str()), (1, "properties.email.unique"));
    // "b" came with a refused record: it was never written, so it is free.
    assert!(c.check(&json!({"id": "b", "email": "y"}), 0).is_empty());
    assert_eq!(c.check(&json!({"id": "b", "email": "z"}), 0)[0].field.as_deref(), Some("id"));
}

#[test]
fn the_nearest_custom_property_sets_the_window() {
    // Contract level: 1 hour; the property's own setting wins over it.
    let yaml = with_properties(
        "- name: a\n  unique: true\n- name: b\n  unique: true\n  customProperties:\n    - property: weftUniqueWindow\n      value: 90s",
        "",
    )
    .replace("status: active\n", "status: active\ncustomProperties:\n  - property: weftUniqueWindow\n    value: 1h\n");
    let c = contract(&yaml).compile(None).unwrap();
    let windows: Vec<(String, i64)> = c.unique_windows().into_iter().map(|w| (w.rule, w.window_ms)).collect();
    assert_eq!(windows, vec![("properties.a.unique".to_string(), HOUR), ("properties.b.unique".to_string(), 90_000)]);
}
