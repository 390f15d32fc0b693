//! Products derived by streaming queries, and which products protect a topic from being dropped.

use weft_catalog::{DerivedField, DerivedLineage, FieldInfo, ProductSpec, Status, TopicColumn, Transition};

use crate::common::{future, id, kind, output_port, Fixture, ACTOR};

const ORDERS_TOPIC: &str = "orders.placed.events.v1";

fn from(topic: &str, column: &str) -> TopicColumn {
    TopicColumn { topic: topic.into(), column: column.into() }
}

/// `orders.enriched` on topic `enriched`, derived from the orders topic and the bare topic `customers`.
fn derived(f: &Fixture) -> (ProductSpec, DerivedLineage) {
    let pid = id("orders.enriched");
    let mut spec = ProductSpec::new(pid.clone(), "Enriched", ACTOR);
    let mut port = output_port(&pid, "events", 1);
    port.topic = "enriched".into();
    port.schema_subject = "enriched-value".into();
    spec.output_ports = vec![port];
    f.schemas.register(
        "enriched-value",
        ["ORDER_ID", "TOTAL", "NAME"].iter().map(|n| FieldInfo::new(*n, "string", None)).collect(),
    );
    let lineage = DerivedLineage {
        input_topics: vec![ORDERS_TOPIC.into(), "customers".into()],
        fields: vec![
            DerivedField { field: "ORDER_ID".into(), from: vec![from(ORDERS_TOPIC, "ID")] },
            DerivedField { field: "TOTAL".into(), from: vec![from(ORDERS_TOPIC, "AMOUNT"), from(ORDERS_TOPIC, "K")] },
            DerivedField { field: "NAME".into(), from: vec![from("customers", "NAME")] },
            // The key: not in the value schema, so no edge.
            DerivedField { field: "K".into(), from: vec![from(ORDERS_TOPIC, "K")] },
        ],
    };
    (spec, lineage)
}

#[test]
fn a_derived_product_gets_input_ports_and_field_lineage_in_schema_names() {
    let f = Fixture::new();
    f.domain("orders");
    f.published("orders.placed", &[("id", ""), ("amount", "")]);
    let (spec, lineage) = derived(&f);
    let (product, edges) = f.catalog.create_derived_product(ACTOR, spec.clone(), &lineage).expect("create");
    assert_eq!(product.status(), Status::Draft);
    let inputs = &product.spec.input_ports;
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert_eq!(inputs[0].product, Some(id("orders.placed")));
    assert_eq!(inputs[0].port.as_deref(), Some("events"));
    assert_eq!((inputs[1].product.as_ref(), inputs[1].topic.as_deref()), (None, Some("customers")));
    // SQL's upper-case columns map onto the upstream schema's own names; K is in no value schema.
    let pairs: Vec<(&str, &str)> = edges.iter().map(|e| (e.from.field.as_str(), e.to.field.as_str())).collect();
    assert_eq!(pairs, [("amount", "TOTAL"), ("id", "ORDER_ID")]);
    assert_eq!(f.catalog.field_lineage("orders.enriched").expect("lineage"), edges);
    // One atomic change: creation and lineage, in the product's history, replayed on restart.
    assert_eq!(f.catalog.product_history("orders.enriched").expect("history").len(), 2);
    let f = f.restart();
    assert_eq!(f.catalog.field_lineage("orders.enriched").expect("lineage"), edges);
    assert_eq!(f.catalog.product("orders.enriched").expect("product").spec.input_ports, product.spec.input_ports);
    // The same id again is refused, and nothing is recorded.
    let err = f.catalog.create_derived_product(ACTOR, spec, &lineage).unwrap_err();
    assert_eq!(kind(&err), "ProductExists");
    assert_eq!(f.catalog.product_history("orders.enriched").expect("history").len(), 2);
}

#[test]
fn only_published_and_deprecated_products_protect_their_topics() {
    let f = Fixture::new();
    f.domain("orders");
    f.published("orders.placed", &[("id", "")]);
    let (mut spec, lineage) = derived(&f);
    spec.description = "Orders with customers".into();
    spec.quality_tier = Some(weft_catalog::QualityTier::Curated);
    f.catalog.create_derived_product(ACTOR, spec, &lineage).expect("create");
    let on = |topic: &str| -> Vec<String> {
        f.catalog.products_depending_on_topic(topic).iter().map(|p| p.to_string()).collect()
    };
    // The draft protects neither its own topic nor its inputs.
    assert_eq!(on(ORDERS_TOPIC), ["orders.placed"]);
    assert!(on("enriched").is_empty());
    assert!(on("customers").is_empty());
    f.catalog.transition(ACTOR, "orders.enriched", Transition::Publish, None).expect("publish");
    assert_eq!(on(ORDERS_TOPIC), ["orders.enriched", "orders.placed"]);
    assert_eq!(on("enriched"), ["orders.enriched"]);
    assert_eq!(on("customers"), ["orders.enriched"]);
    assert!(on("elsewhere").is_empty());
    let deprecate = Transition::Deprecate { reason: "replaced".into(), sunset: future(), successor: None };
    f.catalog.transition(ACTOR, "orders.enriched", deprecate, None).expect("deprecate");
    assert_eq!(on("enriched"), ["orders.enriched"]);
}

#[test]
fn input_ports_on_bare_topics_survive_odps() {
    let f = Fixture::new();
    f.domain("orders");
    f.published("orders.placed", &[("id", "")]);
    let (spec, lineage) = derived(&f);
    f.catalog.create_derived_product(ACTOR, spec, &lineage).expect("create");
    let yaml = f.catalog.export_odps("orders.enriched", &|_, _| None).expect("export");
    assert!(yaml.contains("- property: topic\n    value: customers"), "{yaml}");
    let cx = weft_catalog::odps::ImportContext { product: None, domain: None, actor: ACTOR, today: future() };
    let parsed = weft_catalog::odps::parse(&yaml).expect("parse").to_product(&cx).expect("to product").spec;
    assert_eq!(parsed.input_ports, f.catalog.product("orders.enriched").expect("product").spec.input_ports);
    // A port naming both an upstream product and a topic is refused.
    let mut bad = parsed.clone();
    bad.input_ports[0].topic = Some("x".into());
    assert!(bad.validate().unwrap_err().to_string().contains("either an upstream product or a topic"));
}
