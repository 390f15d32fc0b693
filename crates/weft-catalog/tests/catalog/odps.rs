//! ODPS import and export: round trips field by field, unknown fields kept, precise refusals.

use weft_catalog::odps::{self, OdpsDocument};
use weft_catalog::{CatalogError, Lifecycle, PortStatus, Status};

use crate::common::*;

/// A document in Weft's canonical order (Weft's custom properties first), with unknown fields at every level.
const FULL: &str = r##"
apiVersion: v1.0.0
kind: DataProduct
id: orders.order-events
name: Order events
version: 2.1.0
status: active
domain: orders
tenant: RetailCorp
productCreatedTs: "2023-01-15T10:30:00Z"
x-weft-test:
  nested: [1, 2.5, true, null, {deep: "yes"}]
description:
  purpose: Every order placed, as it happens.
  limitations: No refunds.
  usage: Join with payments on order_id.
tags: [orders, sales, real-time]
inputPorts:
  - name: payments
    version: 1.0.0
    contractId: dbb7b1eb-7628-436e-8914-2a00638ba6db
    customProperties:
      - property: product
        value: payments.payment-events
      - property: port
        value: events
      - property: note
        value: 42
outputPorts:
  - name: events
    version: 1.0.0
    description: Order events, Avro
    type: topic
    contractId: c2798941-1b7e-4b03-9e0d-955b1a872b32
    sbom:
      - type: external
        url: https://example.com/sbom
    customProperties:
      - property: topic
        value: orders.order-events.v1
      - property: schemaSubject
        value: orders.order-events.v1-value
      - property: format
        value: avro
      - property: portStatus
        value: deprecated
  - name: events
    version: 2.0.0
    customProperties:
      - property: topic
        value: orders.order-events.v2
      - property: schemaSubject
        value: orders.order-events.v2-value
      - property: format
        value: json
customProperties:
  - property: owner
    value: alice
  - property: documentation
    value: "# Order events\n\nOne record per order."
  - property: qualityTier
    value: authoritative
  - property: slaTier
    value: gold
  - property: freshnessObjective
    value: 15m
  - property: costCenter
    value: CC-42
    description: Who pays
    id: cp-1
team:
  - username: alice
    role: owner
    dateIn: "2023-01-15"
support:
  - channel: "#orders"
    url: https://chat.example.com/orders
"##;

fn yaml_value(s: &str) -> serde_json::Value {
    serde_saphyr::from_str(s).expect("yaml")
}

#[test]
fn document_round_trip_is_lossless() {
    let doc = odps::parse(FULL).unwrap();
    let (spec, lifecycle) = doc.to_product().unwrap();
    assert_eq!(spec.owner, "alice");
    assert_eq!(spec.quality_tier, Some(weft_catalog::QualityTier::Authoritative));
    assert_eq!(spec.freshness_objective.map(|f| f.seconds), Some(900));
    assert_eq!(spec.output_ports[0].status, PortStatus::Deprecated);
    assert_eq!(spec.output_ports[1].format, weft_catalog::Format::Json);
    assert_eq!(spec.input_ports[0].product, Some(id("payments.payment-events")));
    assert_eq!(spec.custom_properties.len(), 1);
    assert_eq!(spec.extensions["tenant"], "RetailCorp");
    assert_eq!(spec.description_extensions["usage"], "Join with payments on order_id.");
    assert_eq!(lifecycle, Lifecycle::Published);

    let product = weft_catalog::Product { spec, lifecycle, revision: 1, created_at: 0, updated_at: 0 };
    let exported = odps::to_yaml(&OdpsDocument::from_product(&product)).unwrap();
    let again = odps::parse(&exported).unwrap();
    assert_eq!(again, doc, "typed documents differ:\n{exported}");

    // Field by field on the raw YAML: every key of the original is in the export with the same value.
    let (original, exported) = (yaml_value(FULL), yaml_value(&exported));
    let (serde_json::Value::Object(original), serde_json::Value::Object(exported)) = (original, exported) else {
        panic!("not mappings")
    };
    for (key, value) in &original {
        assert_eq!(exported.get(key), Some(value), "field {key:?}");
    }
    assert_eq!(original.len(), exported.len());
}

#[test]
fn catalog_import_export_and_restart_keep_every_field() {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.domain("payments");
    let mut upstream = publishable_spec("payments.payment-events");
    upstream.output_ports[0].name = "events".into();
    fx.catalog.create_product(ACTOR, upstream).unwrap();
    fx.schemas.register("orders.order-events.v2-value", vec![]);

    let imported = fx.catalog.import_odps(ACTOR, FULL).unwrap();
    assert_eq!(imported.status(), Status::Published);
    // Created then published: two events, one batch.
    assert_eq!(fx.catalog.product_history("orders.order-events").unwrap().len(), 2);
    let exported = fx.catalog.export_odps("orders.order-events").unwrap();
    assert_eq!(odps::parse(&exported).unwrap(), odps::parse(FULL).unwrap());

    // Importing the same document again changes nothing.
    fx.catalog.import_odps(ACTOR, FULL).unwrap();
    assert_eq!(fx.catalog.product_history("orders.order-events").unwrap().len(), 2);

    let fx = fx.restart();
    assert_eq!(fx.catalog.export_odps("orders.order-events").unwrap(), exported);
}

#[test]
fn custom_properties_in_any_order_compare_as_sets() {
    let shuffled = FULL.replace(
        "customProperties:\n  - property: owner\n    value: alice\n",
        "customProperties:\n  - property: zeta\n    value: [1]\n  - property: owner\n    value: alice\n",
    );
    let doc = odps::parse(&shuffled).unwrap();
    let (spec, lifecycle) = doc.to_product().unwrap();
    let product = weft_catalog::Product { spec, lifecycle, revision: 1, created_at: 0, updated_at: 0 };
    let back = OdpsDocument::from_product(&product);
    let set = |d: &OdpsDocument| {
        let mut v: Vec<String> = d.custom_properties.iter().map(|p| serde_json::to_string(p).unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(set(&back), set(&doc));
    let mut back_sorted = back.clone();
    let mut doc_sorted = doc.clone();
    back_sorted.custom_properties.clear();
    doc_sorted.custom_properties.clear();
    assert_eq!(back_sorted, doc_sorted);
}

#[test]
fn a_standard_document_takes_its_owner_from_the_team() {
    let yaml = r#"
apiVersion: v1.1.0
kind: DataProduct
id: seller.customer
name: Customer Data Product
domain: seller
status: draft
team:
  name: seller-team
  members:
    - username: john.doe@retailcorp.com
      role: owner
managementPorts:
  - content: dictionary
    type: topic
    name: tpc-dict-update
"#;
    let (spec, lifecycle) = odps::parse(yaml).unwrap().to_product().unwrap();
    assert_eq!(spec.owner, "john.doe@retailcorp.com");
    assert_eq!(lifecycle, Lifecycle::Draft);
    assert_eq!(spec.extensions["apiVersion"], "v1.1.0");
    let product = weft_catalog::Product { spec, lifecycle, revision: 1, created_at: 0, updated_at: 0 };
    let back = OdpsDocument::from_product(&product);
    assert_eq!(back.api_version, "v1.1.0");
    assert!(back.extensions.contains_key("managementPorts"));
    assert!(back.extensions.contains_key("team"));
}

#[test]
fn refusals_are_precise() {
    let cases: [(&str, &str); 9] = [
        ("kind: [", "invalid ODPS document: "),
        (
            "apiVersion: v1.0.0\nkind: DataProduct\nid: fbe8d147-28db-4f1d-bedf-a3fe9f458427\n",
            "id: invalid product id 'fbe8d147-28db-4f1d-bedf-a3fe9f458427': expected DOMAIN.NAME",
        ),
        ("apiVersion: v1.0.0\nkind: DataContract\nid: a.b\n", "kind is 'DataContract'"),
        ("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\ndomain: c\n", "domain is 'c' but the id 'a.b'"),
        ("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\n", "the product has no owner"),
        (
            "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: proposed\ncustomProperties: [{property: owner, value: x}]\n",
            "status 'proposed' is not one Weft knows",
        ),
        (
            "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: deprecated\ncustomProperties: [{property: owner, value: x}]\n",
            "status is deprecated: add customProperties 'deprecationReason'",
        ),
        (
            "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\ncustomProperties: [{property: owner, value: x}]\noutputPorts: [{name: p, customProperties: [{property: topic, value: t}]}]\n",
            "outputPorts[0] (p): add customProperties 'schemaSubject'",
        ),
        (
            "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\ncustomProperties: [{property: owner, value: x}, {property: qualityTier, value: shiny}]\n",
            "customProperties qualityTier: invalid qualityTier: 'shiny' is not one of raw, curated, authoritative",
        ),
    ];
    for (yaml, expected) in cases {
        let err = odps::parse(yaml).and_then(|d| d.to_product()).unwrap_err();
        assert_eq!(kind(&err), "InvalidOdps", "{err}");
        assert!(err.to_string().contains(expected), "{yaml}\n=> {err}");
    }
}

#[test]
fn import_validates_everything_before_recording_anything() {
    let fx = Fixture::new();
    fx.domain("orders");
    // Asks for "active" without a registered schema: the create must not be recorded either.
    let yaml = FULL
        .replace("  - name: payments\n", "  - name: payments-x\n")
        .replace("payments.payment-events", "orders.nope");
    let err = fx.catalog.import_odps(ACTOR, &yaml).unwrap_err();
    assert!(err.to_string().contains("data product 'orders.nope' does not exist"), "{err}");
    let no_inputs = FULL.split("inputPorts:").next().unwrap().to_string()
        + "outputPorts:"
        + FULL.split("outputPorts:").nth(1).unwrap();
    let err = fx.catalog.import_odps(ACTOR, &no_inputs).unwrap_err();
    assert!(matches!(err, CatalogError::PublishRequirements { .. }), "{err}");
    assert_eq!(kind(&fx.catalog.product("orders.order-events").unwrap_err()), "ProductNotFound");
    assert!(fx.catalog.product_history("orders.order-events").is_err());

    // With the schema registered it goes through, and a later document cannot move it back to draft.
    fx.schemas.register("orders.order-events.v1-value", vec![]);
    fx.catalog.import_odps(ACTOR, &no_inputs).unwrap();
    let draft = no_inputs.replace("status: active", "status: draft");
    let err = fx.catalog.import_odps(ACTOR, &draft).unwrap_err();
    assert_eq!(kind(&err), "ForbiddenTransition");
    assert!(err.to_string().contains("cannot go from published to draft"), "{err}");

    // Deprecating through a document: the deprecation details travel as custom properties.
    let deprecated = no_inputs.replace("status: active", "status: deprecated").replace(
        "customProperties:\n  - property: owner",
        "customProperties:\n  - property: deprecationReason\n    value: v3 is out\n  - property: sunsetDate\n    value: 2999-01-31\n  - property: owner",
    );
    let product = fx.catalog.import_odps(ACTOR, &deprecated).unwrap();
    assert!(matches!(product.lifecycle, Lifecycle::Deprecated { ref reason, .. } if reason == "v3 is out"));
    let exported = fx.catalog.export_odps("orders.order-events").unwrap();
    assert!(exported.contains("sunsetDate"), "{exported}");
}

#[test]
fn hostile_yaml_is_refused_without_panicking() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    let deep =
        format!("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nx: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let odd_keys = "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\ncustomProperties: [{property: owner, value: x}]\nx: {1: one, [a]: list}\n";
    let tagged = "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\ncustomProperties: [{property: owner, value: x}]\nx: !custom {a: 1}\n";
    let huge = "x".repeat(odps::MAX_DOCUMENT_BYTES + 1);
    for yaml in [bomb, deep.as_str(), odd_keys, tagged, huge.as_str(), "", "~", "[1, 2]", "id: 5"] {
        // Either refused with a 422, or (for odd but valid YAML) accepted: never a panic or a hang.
        if let Err(err) = odps::parse(yaml).and_then(|d| d.to_product()) {
            assert_eq!(kind(&err), "InvalidOdps", "{err}");
        }
    }
}

/// A "billion laughs" document: each level repeats the one before `width` times.
fn laughs(levels: usize, width: usize) -> String {
    let mut yaml = String::from("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\n");
    yaml.push_str(&format!("l0: &l0 [{}]\n", vec!["\"lol\""; width].join(", ")));
    for level in 1..levels {
        let prev = format!("*l{}", level - 1);
        yaml.push_str(&format!("l{level}: &l{level} [{}]\n", vec![prev.as_str(); width].join(", ")));
    }
    yaml
}

fn refusal(yaml: &str) -> String {
    let start = std::time::Instant::now();
    let err = odps::parse(yaml).expect_err("refused");
    // Linear work on a few hundred kilobytes: far below this even in a debug build.
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(kind(&err), "InvalidOdps", "{err}");
    err.to_string()
}

#[test]
fn alias_expansion_is_counted_across_the_whole_document() {
    // 8 KB that expands to 10^8 nodes: refused where the total crosses the limit, on the line of
    // the first level whose expansion does not fit.
    let bomb = laughs(9, 10);
    assert!(bomb.len() < 8 * 1024);
    let message = refusal(&bomb);
    let limit = format!("more than {} nodes", odps::MAX_EXPANDED_NODES);
    assert!(message.contains(&limit), "{message}");
    assert!(message.contains("line 9:"), "{message}");
    // Wide anchors: many aliases each within any per-alias cap, too many in total.
    let wide = format!(
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nx: &x [{}]\n{}",
        vec!["1"; 1000].join(", "),
        (0..300).map(|i| format!("y{i}: *x\n")).collect::<String>()
    );
    let message = refusal(&wide);
    assert!(message.contains(&limit), "{message}");
    // Few nodes, many bytes: a long scalar repeated.
    let long = format!(
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\ntext: &t \"{}\"\ncopies: [{}]\n",
        "x".repeat(1 << 20),
        vec!["*t"; 20].join(", ")
    );
    let message = refusal(&long);
    assert!(message.contains(&format!("more than {} bytes", odps::MAX_EXPANDED_BYTES)), "{message}");
    assert!(message.contains("line 5:"), "{message}");
    // An alias of a deep collection placed deep inside another.
    let deep_alias = format!(
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nd: &d {}1{}\ne: {}*d{}\n",
        "[".repeat(20),
        "]".repeat(20),
        "[".repeat(20),
        "]".repeat(20)
    );
    let message = refusal(&deep_alias);
    assert!(message.contains(&format!("deeper than {} levels (aliases expanded)", odps::MAX_DEPTH)), "{message}");
}

#[test]
fn deep_nesting_is_refused_in_linear_time() {
    let head = "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\n";
    let flow = format!("{head}x: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let block_sequences = format!("{head}x:\n{}1\n", "- ".repeat(100_000));
    let flow_maps = format!("{head}x: {}1{}\n", "{a: ".repeat(50_000), "}".repeat(50_000));
    let indented: String = (0..650).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    let indented = format!("{head}{indented}{}v: 1\n", " ".repeat(650));
    for yaml in [flow, block_sequences, flow_maps, indented] {
        assert!(yaml.len() >= 200_000, "{}", yaml.len());
        let message = refusal(&yaml);
        assert!(message.contains(&format!("nest deeper than {} levels", odps::MAX_DEPTH)), "{message}");
        assert!(message.starts_with("invalid ODPS document: line "), "{message}");
    }
}

#[test]
fn moderate_anchors_and_yaml_1_1_spellings_import_as_before() {
    // Anchors that stay within the bounds are expanded; `yes`, `0755` and `1_000` stay strings and
    // `<<` is an ordinary key, as serde_yaml read them, so documents imported before keep their values.
    let yaml = format!(
        "{}x-shared: &shared {{region: eu, tier: 2}}\nx-copies: [*shared, *shared]\n\
         x-spellings: {{approved: yes, mode: 0755, count: 1_000, real: true, <<: *shared}}\n",
        FULL.trim_start()
    );
    let doc = odps::parse(&yaml).unwrap();
    assert_eq!(doc.extensions["x-copies"][1]["region"], "eu");
    let spellings = &doc.extensions["x-spellings"];
    assert_eq!(spellings["approved"], "yes");
    assert_eq!(spellings["mode"], "0755");
    assert_eq!(spellings["count"], "1_000");
    assert_eq!(spellings["real"], true);
    assert_eq!(spellings["<<"]["tier"], 2);
    // Exported and read again, the values are the same.
    let (spec, lifecycle) = doc.to_product().unwrap();
    let product = weft_catalog::Product { spec, lifecycle, revision: 1, created_at: 0, updated_at: 0 };
    let exported = odps::to_yaml(&OdpsDocument::from_product(&product)).unwrap();
    assert_eq!(odps::parse(&exported).unwrap(), doc, "{exported}");
}
