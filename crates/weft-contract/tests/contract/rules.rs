//! Every kind of rule, with records that pass and records that fail, the violations written by hand.

use serde_json::json;
use weft_contract::RuleKind;

use crate::common::*;

#[test]
fn required_properties_nested_objects_and_array_items() {
    let c = checker(
        "- name: id\n  logicalType: string\n  required: true\n\
         - name: customer\n  logicalType: object\n  properties:\n    - name: email\n      required: true\n\
         - name: lines\n  logicalType: array\n  items:\n    logicalType: object\n    properties:\n      - name: sku\n        required: true",
        "",
    );
    assert_eq!(violations(&c, json!({"id": "a", "customer": {"email": "x"}, "lines": [{"sku": "s"}]})), vec![]);
    // An optional parent that is absent or null does not require its children.
    assert_eq!(violations(&c, json!({"id": "a"})), vec![]);
    assert_eq!(violations(&c, json!({"id": "a", "customer": null})), vec![]);
    assert_eq!(
        violations(&c, json!({"customer": {}, "lines": [{"sku": "s"}, {}, {"sku": null}]})),
        vec![
            v("properties.id.required", Some("id"), "is required but absent"),
            v("properties.customer.email.required", Some("customer.email"), "is required but absent"),
            v("properties.lines[].sku.required", Some("lines[1].sku"), "is required but absent"),
            v("properties.lines[].sku.required", Some("lines[2].sku"), "is required but null"),
        ]
    );
    assert_eq!(
        violations(&c, json!({"id": null})),
        vec![v("properties.id.required", Some("id"), "is required but null")]
    );
    assert_eq!(violations(&c, json!([1])), vec![v("logicalType", None, "a record must be an object, found [1]")]);
}

#[test]
fn logical_types() {
    let c = checker(
        "- name: s\n  logicalType: string\n- name: i\n  logicalType: integer\n- name: n\n  logicalType: number\n\
         - name: b\n  logicalType: boolean\n- name: o\n  logicalType: object\n- name: a\n  logicalType: array\n\
         - name: d\n  logicalType: date\n- name: t\n  logicalType: timestamp\n- name: tm\n  logicalType: time",
        "",
    );
    let good = json!({"s": "x", "i": 3, "n": 2.5, "b": true, "o": {}, "a": [], "d": "2024-02-29", "t": "2024-05-01T10:00:00Z", "tm": "10:30:00"});
    assert_eq!(violations(&c, good), vec![]);
    // Integral numbers are integers; epoch numbers are temporal values (days for dates, ms otherwise).
    assert_eq!(
        violations(&c, json!({"i": 3.0, "n": 7, "d": 19_000, "t": 1_714_557_600_000i64, "tm": 37_800_000})),
        vec![]
    );
    assert_eq!(
        violations(
            &c,
            json!({"s": 1, "i": 2.5, "n": "1", "b": "true", "o": [], "a": {}, "d": "2023-02-29", "t": "May 1st", "tm": "25:00:00"})
        ),
        vec![
            v("properties.s.logicalType", Some("s"), "expected a string, found 1"),
            v("properties.i.logicalType", Some("i"), "expected an integer, found 2.5"),
            v("properties.n.logicalType", Some("n"), "expected a number, found \"1\""),
            v("properties.b.logicalType", Some("b"), "expected a boolean, found \"true\""),
            v("properties.o.logicalType", Some("o"), "expected an object, found []"),
            v("properties.a.logicalType", Some("a"), "expected an array, found {}"),
            v(
                "properties.d.logicalType",
                Some("d"),
                "expected an ISO-8601 date (2024-05-01) or a number of days, found \"2023-02-29\""
            ),
            v(
                "properties.t.logicalType",
                Some("t"),
                "expected an ISO-8601 timestamp (2024-05-01T10:30:00Z) or epoch milliseconds, found \"May 1st\""
            ),
            v(
                "properties.tm.logicalType",
                Some("tm"),
                "expected an ISO-8601 time (10:30:00) or milliseconds of the day, found \"25:00:00\""
            ),
        ]
    );
}

#[test]
fn numeric_options() {
    let c = checker(
        "- name: amount\n  logicalType: number\n  logicalTypeOptions:\n    minimum: 0\n    exclusiveMaximum: 100\n    multipleOf: 0.01\n    format: f32\n\
         - name: qty\n  logicalType: integer\n  logicalTypeOptions:\n    exclusiveMinimum: 0\n    maximum: 10\n    format: u8\n\
         - name: small\n  logicalType: integer\n  logicalTypeOptions:\n    format: i8",
        "",
    );
    assert_eq!(violations(&c, json!({"amount": 0, "qty": 10, "small": -128})), vec![]);
    assert_eq!(violations(&c, json!({"amount": 99.99, "qty": 1, "small": 127})), vec![]);
    assert_eq!(
        violations(&c, json!({"amount": -0.5, "qty": 0, "small": 128})),
        vec![
            v("properties.amount.minimum", Some("amount"), "-0.5 is less than the minimum 0"),
            v("properties.qty.exclusiveMinimum", Some("qty"), "0 must be greater than 0"),
            v("properties.small.format", Some("small"), "128 does not fit i8 (-128 to 127)"),
        ]
    );
    assert_eq!(
        violations(&c, json!({"amount": 100, "qty": 11})),
        vec![
            v("properties.amount.exclusiveMaximum", Some("amount"), "100 must be less than 100"),
            v("properties.qty.maximum", Some("qty"), "11 is greater than the maximum 10"),
        ]
    );
    assert_eq!(
        violations(&c, json!({"amount": 1.005})),
        vec![v("properties.amount.multipleOf", Some("amount"), "1.005 is not a multiple of 0.01")]
    );
    assert_eq!(violations(&c, json!({"qty": -1})).len(), 2, "below the exclusive minimum, and not a u8");
}

#[test]
fn v3_0_exclusive_flags_qualify_the_bounds() {
    let c = contract(V3_0).compile(None).unwrap();
    assert_eq!(violations(&c, json!({"shipment_id": "s1", "weight": 0.1, "carrier": "DHL"})), vec![]);
    assert_eq!(
        violations(&c, json!({"shipment_id": "s2", "weight": 0, "carrier": "DPD"})),
        vec![
            v(
                "properties.carrier.invalidValues",
                Some("carrier"),
                "\"DPD\" is not one of the valid values [\"DHL\",\"UPS\",\"FEDEX\"]"
            ),
            v("properties.weight.minimum", Some("weight"), "0 must be greater than 0"),
        ]
    );
    // `rule: duplicateCount` with `mustBeLessThan: 1` is v3.0's uniqueness.
    assert_eq!(
        violations(&c, json!({"shipment_id": "s1"})),
        vec![v(
            "no duplicate shipments",
            Some("shipment_id"),
            "\"s1\" was already written at the same time (unique within 24 h)"
        )]
    );
    let unknown = c.rules().iter().find(|r| r.kind == RuleKind::OtherMetric).unwrap();
    assert_eq!(unknown.id, "properties.notes.nullCheck");
    assert!(!unknown.checked_at_write);
    assert!(unknown.description.contains("'nullCheck' is not a metric of the standard"), "{}", unknown.description);
}

#[test]
fn string_options_and_formats() {
    let c = checker(
        "- name: code\n  logicalType: string\n  logicalTypeOptions:\n    minLength: 2\n    maxLength: 4\n    pattern: \"^[A-Z]+$\"\n\
         - name: email\n  logicalType: string\n  logicalTypeOptions:\n    format: email\n\
         - name: id\n  logicalType: string\n  logicalTypeOptions:\n    format: uuid\n\
         - name: secret\n  logicalType: string\n  logicalTypeOptions:\n    format: password",
        "",
    );
    assert_eq!(
        violations(
            &c,
            json!({"code": "ÄBC", "email": "a@b.example", "id": "7f1b7e42-3a1c-4b7e-9a52-2b9f1d0c4e11", "secret": "x"})
        )
        .len(),
        1,
        "Ä is no A-Z"
    );
    assert_eq!(
        violations(
            &c,
            json!({"code": "AB", "email": "a@b.example", "id": "7f1b7e42-3a1c-4b7e-9a52-2b9f1d0c4e11", "secret": "x"})
        ),
        vec![]
    );
    assert_eq!(
        violations(&c, json!({"code": "a", "email": "not-an-email", "id": "42"})),
        vec![
            v("properties.code.minLength", Some("code"), "\"a\" is 1 characters long, shorter than the minimum 2"),
            v("properties.code.pattern", Some("code"), "\"a\" does not match the pattern ^[A-Z]+$"),
            v("properties.email.format", Some("email"), "\"not-an-email\" is not a valid email"),
            v("properties.id.format", Some("id"), "\"42\" is not a valid uuid"),
        ]
    );
    // Lengths count characters, not bytes.
    assert_eq!(
        violations(&c, json!({"code": "ÉÉÉÉÉ"}))[0].2,
        "\"ÉÉÉÉÉ\" is 5 characters long, longer than the maximum 4"
    );
    let password = c.rules().iter().find(|r| r.id == "properties.secret.format").unwrap();
    assert!(!password.checked_at_write);
}

#[test]
fn temporal_options_and_formats() {
    let c = checker(
        "- name: d\n  logicalType: date\n  logicalTypeOptions:\n    format: dd/MM/yyyy\n    minimum: 01/01/2020\n    exclusiveMaximum: 01/01/2030\n\
         - name: t\n  logicalType: timestamp\n  logicalTypeOptions:\n    exclusiveMinimum: \"2020-01-01T00:00:00Z\"\n    maximum: \"2030-01-01T00:00:00+01:00\"\n\
         - name: tm\n  logicalType: time\n  logicalTypeOptions:\n    minimum: \"08:00:00\"\n    maximum: \"18:00:00\"\n\
         - name: odd\n  logicalType: timestamp\n  logicalTypeOptions:\n    format: yyyy-MM-ddTHH:mm:ssZ",
        "",
    );
    assert_eq!(
        violations(&c, json!({"d": "31/12/2029", "t": "2029-12-31T23:00:00Z", "tm": "08:00:00", "odd": "anything"})),
        vec![]
    );
    assert_eq!(
        violations(&c, json!({"d": "31/12/2019", "t": "2020-01-01T00:00:00Z", "tm": "18:00:01", "odd": 5})),
        vec![
            v("properties.d.minimum", Some("d"), "\"31/12/2019\" is before the minimum 01/01/2020"),
            v(
                "properties.t.exclusiveMinimum",
                Some("t"),
                "\"2020-01-01T00:00:00Z\" must be after 2020-01-01T00:00:00Z"
            ),
            v("properties.tm.maximum", Some("tm"), "\"18:00:01\" is after the maximum 18:00:00"),
            v("properties.odd.logicalType", Some("odd"), "expected a timestamp, found 5"),
        ]
    );
    assert_eq!(
        violations(&c, json!({"d": "2024-01-01", "t": "2030-01-01T00:00:00Z"})),
        vec![
            v("properties.d.logicalType", Some("d"), "expected a date in the format dd/MM/yyyy, found \"2024-01-01\""),
            v(
                "properties.t.maximum",
                Some("t"),
                "\"2030-01-01T00:00:00Z\" is after the maximum 2030-01-01T00:00:00+01:00"
            ),
        ]
    );
    let odd = c.rules().iter().find(|r| r.id == "properties.odd.logicalType").unwrap();
    assert!(odd.description.contains("pattern letters Weft does not read"), "{}", odd.description);
}

#[test]
fn array_and_object_options() {
    let c = checker(
        "- name: lines\n  logicalType: array\n  logicalTypeOptions:\n    minItems: 1\n    maxItems: 3\n    uniqueItems: true\n  items:\n    logicalType: integer\n    logicalTypeOptions:\n      minimum: 0\n\
         - name: attrs\n  logicalType: object\n  logicalTypeOptions:\n    minProperties: 1\n    maxProperties: 2\n    required: [kind]",
        "",
    );
    assert_eq!(violations(&c, json!({"lines": [1, 2, 3], "attrs": {"kind": "x"}})), vec![]);
    assert_eq!(
        violations(&c, json!({"lines": [], "attrs": {}})),
        vec![
            v("properties.lines.minItems", Some("lines"), "0 items, fewer than the minimum 1"),
            v("properties.attrs.minProperties", Some("attrs"), "0 members, fewer than the minimum 1"),
            v("properties.attrs.requiredMembers", Some("attrs"), "lacks the required member(s) kind"),
        ]
    );
    assert_eq!(
        violations(&c, json!({"lines": [1, -1, 1, "x"], "attrs": {"a": 1, "b": 2, "kind": 3}})),
        vec![
            v("properties.lines.maxItems", Some("lines"), "4 items, more than the maximum 3"),
            v("properties.lines.uniqueItems", Some("lines"), "items 0 and 2 are equal (1)"),
            v("properties.lines[].minimum", Some("lines[1]"), "-1 is less than the minimum 0"),
            v("properties.lines[].logicalType", Some("lines[3]"), "expected an integer, found \"x\""),
            v("properties.attrs.maxProperties", Some("attrs"), "3 members, more than the maximum 2"),
        ]
    );
}

#[test]
fn null_missing_and_invalid_values() {
    let c = checker(
        "- name: customer_id\n  quality:\n    - metric: nullValues\n      mustBe: 0\n\
         - name: email\n  quality:\n    - id: email_missing\n      metric: missingValues\n      arguments:\n        missingValues: [null, \"\", N/A]\n      mustBeLessThan: 1\n\
         - name: currency\n  quality:\n    - metric: invalidValues\n      arguments:\n        validValues: [EUR, USD]\n      mustBe: 0\n\
         - name: iban\n  quality:\n    - metric: invalidValues\n      arguments:\n        pattern: \"^[A-Z]{2}[0-9]{2}\"\n      mustBe: 0\n\
         - name: note\n  quality:\n    - metric: missingValues\n      mustBe: 0\n\
         - name: tolerant\n  quality:\n    - metric: nullValues\n      mustBeLessThan: 5\n    - metric: invalidValues\n      arguments:\n        validValues: [a]\n      mustBeLessThan: 1\n      unit: percent",
        "",
    );
    let good =
        json!({"customer_id": 1, "email": "a@b", "currency": "EUR", "iban": "DE89", "note": "n", "tolerant": "zzz"});
    assert_eq!(violations(&c, good), vec![]);
    assert_eq!(
        violations(&c, json!({"email": "N/A", "currency": "GBP", "iban": "89DE", "note": ""})),
        vec![
            v("properties.customer_id.nullValues", Some("customer_id"), "is absent: null values are not allowed"),
            v("email_missing", Some("email"), "\"N/A\" is a missing value"),
            v(
                "properties.currency.invalidValues",
                Some("currency"),
                "\"GBP\" is not one of the valid values [\"EUR\",\"USD\"]"
            ),
            v("properties.iban.invalidValues", Some("iban"), "\"89DE\" does not match the pattern ^[A-Z]{2}[0-9]{2}"),
            v("properties.note.missingValues", Some("note"), "\"\" is a missing value"),
        ]
    );
    // A null email is missing; a null currency or iban is not invalid (nullValues says whether it may be null).
    assert_eq!(
        violations(&c, json!({"customer_id": 1, "email": null, "currency": null, "iban": null, "note": "x"})),
        vec![v("email_missing", Some("email"), "is null, a missing value")]
    );
    let tolerant: Vec<_> = c.rules().iter().filter(|r| r.field.as_deref() == Some("tolerant")).collect();
    assert_eq!(tolerant.len(), 2);
    assert!(
        tolerant.iter().all(|r| !r.checked_at_write && r.description.contains("tolerates some bad records")),
        "{tolerant:#?}"
    );
}

#[test]
fn sql_expression_rules() {
    let c = checker(
        "- name: amount\n  logicalType: number\n  quality:\n    - id: positive\n      type: custom\n      engine: weft\n      implementation: \"{property} > 0\"\n\
         - name: currency\n  logicalType: string\n\
         - name: customer\n  logicalType: object\n  properties:\n    - name: tier\n      logicalType: integer",
        "- id: eur_or_usd\n  type: custom\n  engine: weft\n  implementation: amount >= 0 AND currency IN ('EUR', 'USD')\n\
         - type: custom\n  engine: weft\n  implementation: customer->tier IS NULL OR customer->tier BETWEEN 1 AND 3",
    );
    assert_eq!(violations(&c, json!({"amount": 5, "currency": "EUR", "customer": {"tier": 2}})), vec![]);
    assert_eq!(violations(&c, json!({"amount": 5, "currency": "USD"})), vec![]);
    assert_eq!(
        violations(&c, json!({"amount": -5, "currency": "GBP", "customer": {"tier": 7}})),
        vec![
            v("positive", Some("amount"), "``amount` > 0` is false for amount=-5"),
            v(
                "eur_or_usd",
                None,
                "`amount >= 0 AND currency IN ('EUR', 'USD')` is false for amount=-5, currency=\"GBP\""
            ),
            v(
                "quality.expression",
                None,
                "`customer->tier IS NULL OR customer->tier BETWEEN 1 AND 3` is false for customer={\"tier\":7}"
            ),
        ]
    );
    // As in ksqlDB, a comparison with a null operand is false.
    assert_eq!(
        violations(&c, json!({"amount": 5})),
        vec![v(
            "eur_or_usd",
            None,
            "`amount >= 0 AND currency IN ('EUR', 'USD')` is false for amount=5, currency absent"
        )]
    );
    // Undecided (three-valued logic over a null condition) fails too, saying so.
    let undecided = checker(
        "- name: express\n  logicalType: boolean\n- name: amount\n  logicalType: number",
        "- type: custom\n  engine: weft\n  implementation: NOT express OR amount < 500",
    );
    assert_eq!(violations(&undecided, json!({"express": false})), vec![]);
    assert_eq!(
        violations(&undecided, json!({"amount": 900})),
        vec![v(
            "quality.expression",
            None,
            "`NOT express OR amount < 500` is null (undecided) for express absent, amount=900"
        )]
    );
    let rule = c.rules().iter().find(|r| r.id == "eur_or_usd").unwrap();
    assert_eq!((rule.kind, rule.checked_at_write), (RuleKind::Expression, true));
}

#[test]
fn rules_not_checked_at_write_time_are_listed_with_why() {
    let c = contract(FULL).compile(Some("orders")).unwrap();
    let listed: Vec<(&str, Option<&str>, RuleKind, bool)> =
        c.rules().iter().map(|r| (r.id.as_str(), r.field.as_deref(), r.kind, r.checked_at_write)).collect();
    let expected: Vec<(&str, Option<&str>, RuleKind, bool)> = vec![
        ("logicalType", None, RuleKind::LogicalType, true),
        ("properties.order_id.required", Some("order_id"), RuleKind::Required, true),
        ("properties.order_id.logicalType", Some("order_id"), RuleKind::LogicalType, true),
        ("properties.order_id.minLength", Some("order_id"), RuleKind::MinLength, true),
        ("properties.order_id.maxLength", Some("order_id"), RuleKind::MaxLength, true),
        ("properties.order_id.pattern", Some("order_id"), RuleKind::Pattern, true),
        ("properties.order_id.unique", Some("order_id"), RuleKind::Unique, true),
        ("order_id_not_null", Some("order_id"), RuleKind::NullValues, true),
        ("properties.customer_id.required", Some("customer_id"), RuleKind::Required, true),
        ("properties.customer_id.logicalType", Some("customer_id"), RuleKind::LogicalType, true),
        ("properties.amount.required", Some("amount"), RuleKind::Required, true),
        ("properties.amount.logicalType", Some("amount"), RuleKind::LogicalType, true),
        ("properties.amount.minimum", Some("amount"), RuleKind::Minimum, true),
        ("properties.amount.exclusiveMaximum", Some("amount"), RuleKind::ExclusiveMaximum, true),
        ("properties.amount.multipleOf", Some("amount"), RuleKind::MultipleOf, true),
        ("amount_positive", Some("amount"), RuleKind::Expression, true),
        ("properties.amount.text", Some("amount"), RuleKind::Text, false),
        ("properties.quantity.logicalType", Some("quantity"), RuleKind::LogicalType, true),
        ("properties.quantity.exclusiveMinimum", Some("quantity"), RuleKind::ExclusiveMinimum, true),
        ("properties.quantity.maximum", Some("quantity"), RuleKind::Maximum, true),
        ("properties.quantity.format", Some("quantity"), RuleKind::Format, true),
        ("properties.currency.required", Some("currency"), RuleKind::Required, true),
        ("properties.currency.logicalType", Some("currency"), RuleKind::LogicalType, true),
        ("currency_valid", Some("currency"), RuleKind::InvalidValues, true),
        ("properties.email.logicalType", Some("email"), RuleKind::LogicalType, true),
        ("properties.email.format", Some("email"), RuleKind::Format, true),
        ("email_present", Some("email"), RuleKind::MissingValues, true),
        ("email_duplicates", Some("email"), RuleKind::DuplicateValues, false),
        ("properties.status.logicalType", Some("status"), RuleKind::LogicalType, true),
        ("status_shape", Some("status"), RuleKind::InvalidValues, true),
        ("status_sql", Some("status"), RuleKind::Sql, false),
        ("properties.placed_at.required", Some("placed_at"), RuleKind::Required, true),
        ("properties.placed_at.logicalType", Some("placed_at"), RuleKind::LogicalType, true),
        ("properties.placed_at.minimum", Some("placed_at"), RuleKind::Minimum, true),
        ("properties.placed_at.exclusiveMaximum", Some("placed_at"), RuleKind::ExclusiveMaximum, true),
        ("properties.delivery_date.logicalType", Some("delivery_date"), RuleKind::LogicalType, true),
        ("properties.delivery_date.exclusiveMinimum", Some("delivery_date"), RuleKind::ExclusiveMinimum, true),
        ("properties.delivery_date.maximum", Some("delivery_date"), RuleKind::Maximum, true),
        ("properties.pickup_time.logicalType", Some("pickup_time"), RuleKind::LogicalType, true),
        ("properties.pickup_time.minimum", Some("pickup_time"), RuleKind::Minimum, true),
        ("properties.pickup_time.maximum", Some("pickup_time"), RuleKind::Maximum, true),
        ("properties.express.logicalType", Some("express"), RuleKind::LogicalType, true),
        ("properties.express.custom", Some("express"), RuleKind::Custom, false),
        ("properties.customer.required", Some("customer"), RuleKind::Required, true),
        ("properties.customer.logicalType", Some("customer"), RuleKind::LogicalType, true),
        ("properties.customer.minProperties", Some("customer"), RuleKind::MinProperties, true),
        ("properties.customer.maxProperties", Some("customer"), RuleKind::MaxProperties, true),
        ("properties.customer.requiredMembers", Some("customer"), RuleKind::RequiredMembers, true),
        ("properties.customer.id.required", Some("customer.id"), RuleKind::Required, true),
        ("properties.customer.id.logicalType", Some("customer.id"), RuleKind::LogicalType, true),
        ("properties.customer.id.unique", Some("customer.id"), RuleKind::Unique, true),
        ("properties.customer.name.logicalType", Some("customer.name"), RuleKind::LogicalType, true),
        ("properties.customer.address.logicalType", Some("customer.address"), RuleKind::LogicalType, true),
        ("properties.customer.address.city.required", Some("customer.address.city"), RuleKind::Required, true),
        ("properties.customer.address.city.logicalType", Some("customer.address.city"), RuleKind::LogicalType, true),
        (
            "properties.customer.address.country.logicalType",
            Some("customer.address.country"),
            RuleKind::LogicalType,
            true,
        ),
        ("properties.customer.address.country.minLength", Some("customer.address.country"), RuleKind::MinLength, true),
        ("properties.customer.address.country.maxLength", Some("customer.address.country"), RuleKind::MaxLength, true),
        ("properties.lines.required", Some("lines"), RuleKind::Required, true),
        ("properties.lines.logicalType", Some("lines"), RuleKind::LogicalType, true),
        ("properties.lines.minItems", Some("lines"), RuleKind::MinItems, true),
        ("properties.lines.maxItems", Some("lines"), RuleKind::MaxItems, true),
        ("properties.lines.uniqueItems", Some("lines"), RuleKind::UniqueItems, true),
        ("properties.lines[].logicalType", Some("lines[]"), RuleKind::LogicalType, true),
        ("properties.lines[].sku.required", Some("lines[].sku"), RuleKind::Required, true),
        ("properties.lines[].sku.logicalType", Some("lines[].sku"), RuleKind::LogicalType, true),
        ("properties.lines[].sku.pattern", Some("lines[].sku"), RuleKind::Pattern, true),
        ("properties.lines[].qty.required", Some("lines[].qty"), RuleKind::Required, true),
        ("properties.lines[].qty.logicalType", Some("lines[].qty"), RuleKind::LogicalType, true),
        ("properties.lines[].qty.minimum", Some("lines[].qty"), RuleKind::Minimum, true),
        ("properties.lines[].unit_price.logicalType", Some("lines[].unit_price"), RuleKind::LogicalType, true),
        ("properties.labels.logicalType", Some("labels"), RuleKind::LogicalType, true),
        ("properties.labels[].logicalType", Some("labels[]"), RuleKind::LogicalType, true),
        ("properties.labels[].maxLength", Some("labels[]"), RuleKind::MaxLength, true),
        ("orders_volume", None, RuleKind::RowCount, false),
        ("order_per_customer", None, RuleKind::DuplicateValues, true),
        ("express_is_cheap", None, RuleKind::Expression, true),
        ("quality.custom", None, RuleKind::Custom, false),
        ("quality.sql", None, RuleKind::Sql, false),
        ("quality.text", None, RuleKind::Text, false),
    ];
    assert_eq!(listed, expected);
    // Descriptions say what a rule requires, or why it is not checked.
    let description = |id: &str| c.rules().iter().find(|r| r.id == id).map(|r| r.description.clone()).unwrap();
    assert_eq!(description("properties.amount.minimum"), "amount >= 0");
    assert_eq!(
        description("properties.order_id.unique"),
        "order_id is unique within 2 h (at most 50000 values remembered)"
    );
    assert_eq!(
        description("properties.customer.id.unique"),
        "customer.id is unique within 30 min (at most 50000 values remembered)"
    );
    assert_eq!(description("orders_volume"), "not checked at write time: it counts the rows of the whole dataset");
    assert_eq!(description("express_is_cheap"), "Express delivery only for orders under 500.");
    assert_eq!(c.rules().iter().find(|r| r.id == "order_id_not_null").unwrap().severity.as_deref(), Some("error"));
}
