//! ODPS import and export against the standard: documents using every part of ODPS round-trip
//! without losing a field, every kind of product exports to a document the standard's JSON Schema
//! accepts, documents foreign to Weft's conventions import with notes, and documents the standard
//! refuses are refused with their field and line.
//!
//! Validity is judged by the standard's schema file compiled here, straight from `spec/`, with
//! `weft-schema`'s validator: not through the code under test.

use serde_json::Value;
use weft_catalog::odps::{self, ImportContext, Imported, OdpsDocument, Placement};
use weft_catalog::{
    CatalogError, CustomProperty, DerivedLineage, DomainName, IsoDate, Lifecycle, PortStatus, Product, ProductSpec,
    Status, Transition,
};
use weft_schema::json_schema::JsonSchema;

use crate::common::*;

const FULL: &str = include_str!("odps_fixtures/full.odps.yaml");
const FOREIGN: &str = include_str!("odps_fixtures/foreign.odps.yaml");

fn standard() -> JsonSchema {
    JsonSchema::parse(include_str!("../../spec/odps-json-schema-v1.0.0.json")).expect("the standard's schema")
}

fn yaml_value(s: &str) -> Value {
    serde_saphyr::from_str(s).expect("yaml")
}

/// Fails unless the standard's schema accepts the YAML text.
fn assert_standard(yaml: &str) {
    if let Err(e) = standard().validate(&yaml_value(yaml)) {
        panic!("the ODPS schema refuses {}: {}\n{yaml}", e.path, e.message);
    }
}

fn today() -> IsoDate {
    IsoDate::parse("2030-06-01").unwrap()
}

fn cx() -> ImportContext<'static> {
    ImportContext { product: None, domain: None, actor: "importer", today: today() }
}

fn product(imported: &Imported) -> Product {
    Product {
        spec: imported.spec.clone(),
        lifecycle: imported.lifecycle.clone(),
        revision: 1,
        created_at: 0,
        updated_at: 0,
    }
}

fn export(product: &Product) -> String {
    odps::to_yaml(&OdpsDocument::from_product(product, &|_| None).expect("export")).expect("yaml")
}

/// Every key of `original` is in `exported` with the same value, at the same place; lists are
/// compared item by item, except custom properties, where export may add Weft's own: each original
/// one must be there.
fn assert_kept(original: &Value, exported: &Value, at: &str) {
    match (original, exported) {
        (Value::Object(o), Value::Object(e)) => {
            for (key, value) in o {
                let Some(there) = e.get(key) else { panic!("{at}/{key} is lost") };
                assert_kept(value, there, &format!("{at}/{key}"));
            }
        }
        (Value::Array(o), Value::Array(e)) if at.ends_with("/customProperties") => {
            for item in o {
                assert!(e.contains(item), "{at}: {item} is lost from {exported}");
            }
        }
        (Value::Array(o), Value::Array(e)) => {
            assert_eq!(o.len(), e.len(), "{at}: {original} became {exported}");
            for (i, (a, b)) in o.iter().zip(e).enumerate() {
                assert_kept(a, b, &format!("{at}/{i}"));
            }
        }
        _ => assert_eq!(original, exported, "{at}"),
    }
}

#[test]
fn the_fixtures_are_valid_odps() {
    assert_standard(FULL);
    assert_standard(FOREIGN);
}

#[test]
fn every_part_of_the_standard_survives_a_round_trip() {
    for (name, fixture) in [("full", FULL), ("foreign", FOREIGN)] {
        let imported = odps::parse(fixture).unwrap().to_product(&cx()).unwrap();
        let exported = export(&product(&imported));
        assert_standard(&exported);
        assert_kept(&yaml_value(fixture), &yaml_value(&exported), name);
        // Imported again, the export is the same product, and exports the same text.
        let again = odps::parse(&exported).unwrap().to_product(&cx()).unwrap();
        assert_eq!(again.spec, imported.spec, "{name}:\n{exported}");
        assert_eq!(again.lifecycle, imported.lifecycle, "{name}");
        assert_eq!(export(&product(&again)), exported, "{name}");
    }
}

#[test]
fn a_document_in_weft_terms_maps_field_by_field_without_notes() {
    let imported = odps::parse(FULL).unwrap().to_product(&cx()).unwrap();
    assert_eq!(imported.notes, [], "{:?}", imported.notes);
    let spec = &imported.spec;
    assert_eq!(spec.id.as_str(), "orders.order-events");
    assert_eq!(spec.owner, "alice");
    assert_eq!(spec.quality_tier, Some(weft_catalog::QualityTier::Authoritative));
    assert_eq!(spec.freshness_objective.map(|f| f.seconds), Some(900));
    assert_eq!(spec.output_ports[0].status, PortStatus::Deprecated);
    assert_eq!(spec.output_ports[0].contract_id.as_deref(), Some("c2798941-1b7e-4b03-9e0d-955b1a872b32"));
    assert_eq!(spec.output_ports[1].format, weft_catalog::Format::Json);
    assert_eq!(spec.input_ports[0].product, Some(id("payments.payment-events")));
    assert_eq!(spec.input_ports[0].contract_id.as_deref(), Some("dbb7b1eb-7628-436e-8914-2a00638ba6db"));
    // `latest` follows the upstream; a `weft:` reference is recomputed, not kept.
    assert_eq!((spec.input_ports[1].version.as_ref(), spec.input_ports[1].contract_id.as_ref()), (None, None));
    assert_eq!(
        spec.custom_properties.iter().map(|p| p.property.as_str()).collect::<Vec<_>>(),
        ["costCenter", "regions", "limits"]
    );
    assert_eq!(spec.extensions["tenant"], "RetailCorp");
    assert_eq!(spec.description_extensions["usage"], "Join with payments on order_id.");
    assert_eq!(imported.lifecycle, Lifecycle::Published);
}

fn property<'a>(props: &'a [CustomProperty], name: &str) -> Option<&'a str> {
    props.iter().find(|p| p.property == name).and_then(|p| p.value.as_str())
}

#[test]
fn a_foreign_document_is_mapped_and_says_how() {
    let imported = odps::parse(FOREIGN).unwrap().to_product(&cx()).unwrap();
    let spec = &imported.spec;
    // The id: from the domain and the name, the document's own kept.
    assert_eq!(spec.id.as_str(), "seller.customer-data-product");
    assert_eq!(property(&spec.custom_properties, "odpsId"), Some("fbe8d147-28db-4f1d-bedf-a3fe9f458427"));
    assert_eq!(property(&spec.custom_properties, "odpsDomain"), Some("Seller"));
    // proposed is a draft; v2.1 is 2.1.0.
    assert_eq!(imported.lifecycle, Lifecycle::Draft);
    assert_eq!(property(&spec.custom_properties, "odpsStatus"), Some("proposed"));
    assert_eq!(spec.version.to_string(), "2.1.0");
    assert_eq!(property(&spec.custom_properties, "odpsVersion"), Some("v2.1"));
    // The owner is the team member whose role is owner (whatever its case).
    assert_eq!(spec.owner, "john.doe@retailcorp.com");
    // Input ports of one name are told apart; their contracts are theirs.
    let inputs: Vec<(&str, String)> = spec
        .input_ports
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_ref().map(ToString::to_string).unwrap_or_default()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("payments", "1.0.0".into()),
            ("payments@2.0.0", "1.0.0".replace('1', "2")),
            ("onlinetransactions", "1.1.0".into())
        ]
    );
    assert_eq!(property(&spec.input_ports[1].custom_properties, "odpsName"), Some("payments"));
    assert_eq!(property(&spec.input_ports[2].custom_properties, "odpsVersion"), Some("1.1"));
    assert_eq!(spec.input_ports[1].contract_id.as_deref(), Some("dbb7b1eb-7628-436e-8914-2a00638ba6da"));
    // Output ports without Weft's custom properties get a topic by the documented rule.
    let ports: Vec<(&str, String, &str, &str, &str)> = spec
        .output_ports
        .iter()
        .map(|p| {
            (p.name.as_str(), p.version.to_string(), p.topic.as_str(), p.schema_subject.as_str(), p.format.as_str())
        })
        .collect();
    assert_eq!(
        ports,
        [
            (
                "rawtransactions",
                "1.0.0".into(),
                "seller.customer-data-product.rawtransactions.v1",
                "seller.customer-data-product.rawtransactions.v1-value",
                "json"
            ),
            (
                "rawtransactions",
                "2.0.0".into(),
                "seller.customer-data-product.rawtransactions.v2",
                "seller.customer-data-product.rawtransactions.v2-value",
                "json"
            ),
            (
                "Consolidated Transactions",
                "1.0.0".into(),
                "seller.customer-data-product.consolidated-transactions.v1",
                "seller.customer-data-product.consolidated-transactions.v1-value",
                "json"
            ),
            (
                "fulltransactionswithreturns",
                "0.3.0".into(),
                "seller.customer-data-product.fulltransactionswithreturns.v0",
                "seller.customer-data-product.fulltransactionswithreturns.v0-value",
                "avro"
            ),
        ]
    );
    assert_eq!(property(&spec.output_ports[0].custom_properties, "odpsVersion"), Some("v1.0.0"));
    // Every mapping is noted, on the field it is about.
    let fields: Vec<&str> = imported.notes.iter().map(|n| n.field.as_str()).collect();
    for field in ["id", "team", "inputPorts[1].name", "outputPorts[0]", "outputPorts[2]", "outputPorts[3]"] {
        assert!(fields.contains(&field), "no note on {field}: {:?}", imported.notes);
    }
    let on =
        |field: &str| imported.notes.iter().find(|n| n.field == field).map(|n| n.message.clone()).unwrap_or_default();
    assert!(on("id").contains("'seller.customer-data-product'") && on("id").contains("odpsId"), "{}", on("id"));
    assert!(
        on("outputPorts[3]").contains("seller.customer-data-product.fulltransactionswithreturns.v0"),
        "{}",
        on("outputPorts[3]")
    );
    assert!(!on("outputPorts[3]").contains("format json"), "its format was given: {}", on("outputPorts[3]"));

    // Exported, the document's own spellings come back, and Weft's id travels as weftId.
    let exported = yaml_value(&export(&product(&imported)));
    assert_eq!(exported["id"], "fbe8d147-28db-4f1d-bedf-a3fe9f458427");
    assert_eq!(exported["domain"], "Seller");
    assert_eq!((exported["status"].as_str(), exported["version"].as_str()), (Some("proposed"), Some("v2.1")));
    assert_eq!(
        exported["customProperties"][0],
        serde_json::json!({"property": "weftId", "value": "seller.customer-data-product"})
    );
    assert_eq!(exported["inputPorts"][1]["name"], "payments");
    assert_eq!(exported["outputPorts"][0]["version"], "v1.0.0");
    assert!(!exported.to_string().contains("odpsId"), "{exported}");
}

#[test]
fn ids_domains_statuses_and_versions_in_any_spelling() {
    let doc = |extra: &str| format!("apiVersion: v1.0.0\nkind: DataProduct\n{extra}");
    let import = |yaml: &str, cx: &ImportContext| odps::parse(yaml).and_then(|d| d.to_product(cx));
    // No domain and an id that is not DOMAIN.NAME: the caller says where it goes.
    let bare = doc("id: 064c4630-8aad-4dc0-ba95-0f69940e6b18\nstatus: active\nversion: \"1\"\n");
    let err = import(&bare, &cx()).unwrap_err();
    assert!(err.to_string().contains("names no domain"), "{err}");
    let sales = DomainName::parse("sales").unwrap();
    let imported = import(&bare, &ImportContext { domain: Some(&sales), ..cx() }).unwrap();
    assert_eq!(imported.spec.id.as_str(), "sales.product-064c4630-8aad-4dc0-ba95-0f69940e6b18");
    assert_eq!(imported.spec.version.to_string(), "1.0.0");
    assert_eq!(imported.spec.owner, "importer", "nobody named: whoever imports owns it");
    assert!(imported.slug_id);
    let target = id("sales.simple");
    let imported = import(&bare, &ImportContext { product: Some(&target), ..cx() }).unwrap();
    assert_eq!((imported.spec.id.as_str(), imported.slug_id), ("sales.simple", false));
    // A Weft id sent to another product is refused; an id agreeing with a spelled-out domain is Weft's.
    let weft = doc("id: orders.placed\nstatus: ACTIVE\ndomain: Orders\n");
    let err = import(&weft, &ImportContext { product: Some(&target), ..cx() }).unwrap_err();
    assert!(
        err.to_string().contains("describes product 'orders.placed' but was sent to product 'sales.simple'"),
        "{err}"
    );
    let imported = import(&weft, &cx()).unwrap();
    assert_eq!(imported.spec.id.as_str(), "orders.placed");
    assert_eq!(imported.lifecycle, Lifecycle::Published);
    assert_eq!(property(&imported.spec.custom_properties, "odpsStatus"), Some("ACTIVE"));
    // A status Weft does not know is a draft, noted; deprecated without details gets defaults.
    let odd = import(&doc("id: a.b\nstatus: in review\n"), &cx()).unwrap();
    assert_eq!(odd.lifecycle, Lifecycle::Draft);
    assert!(odd.notes.iter().any(|n| n.field == "status" && n.message.contains("'in review'")), "{:?}", odd.notes);
    let deprecated = import(&doc("id: a.b\nstatus: deprecated\n"), &cx()).unwrap();
    assert!(deprecated.default_deprecation);
    assert!(matches!(deprecated.lifecycle, Lifecycle::Deprecated { sunset, .. } if sunset == today()));
    // Versions: what Weft reads, and what it cannot (kept, at 1.0.0).
    for (version, weft) in [("v3.2.1", "3.2.1"), ("3.2", "3.2.0"), ("V4", "4.0.0"), ("2024-Q1", "1.0.0")] {
        let imported = import(&doc(&format!("id: a.b\nstatus: draft\nversion: \"{version}\"\n")), &cx()).unwrap();
        assert_eq!(imported.spec.version.to_string(), weft, "{version}");
        assert_eq!(property(&imported.spec.custom_properties, "odpsVersion"), Some(version), "{version}");
        let exported = yaml_value(&export(&product(&imported)));
        assert_eq!(exported["version"], version);
    }
}

/// Input ports of every kind a derived product has, and the upstreams they read.
fn derived_catalog() -> Fixture {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.domain("payments");
    // A source product whose port keeps a contract, and one without.
    let mut upstream = fx.publishable("payments.payment-events", &[("id", "")]);
    upstream.output_ports[0].contract_id = Some("payments-contract-7".into());
    fx.catalog.create_product(ACTOR, upstream).unwrap();
    fx.catalog.transition(ACTOR, "payments.payment-events", Transition::Publish, None).unwrap();
    fx.published("orders.placed", &[("id", "")]);
    fx
}

#[test]
fn every_kind_of_product_exports_to_a_valid_document() {
    let fx = derived_catalog();
    // Derived from products (with and without contracts, pinned and not) and from a bare topic, by hand.
    let mut spec = fx.publishable("orders.enriched", &[("id", "")]);
    let mut pinned = input_port("orders.placed");
    pinned.version = Some(weft_catalog::SemVer::new(1, 0, 0));
    spec.input_ports = vec![input_port("payments.payment-events"), pinned];
    let mut topic = input_port("orders.placed");
    topic.name = "clicks".into();
    (topic.product, topic.port, topic.topic) = (None, None, Some("web.clicks".into()));
    let mut external = topic.clone();
    external.name = "crm".into();
    external.topic = None;
    spec.input_ports.extend([topic, external]);
    fx.catalog.create_product(ACTOR, spec).unwrap();
    // Derived by a streaming query: inputs found from the topics it reads.
    let mut sql = ProductSpec::new(id("orders.joined"), "Joined", ACTOR);
    sql.output_ports = vec![output_port(&id("orders.joined"), "joined", 1)];
    let lineage =
        DerivedLineage { input_topics: vec!["orders.placed.events.v1".into(), "raw.visits".into()], fields: vec![] };
    fx.catalog.create_derived_product(ACTOR, sql, &lineage).unwrap();
    // Deprecated with a successor, then a retired one; a draft without ports or schema.
    fx.published("orders.legacy", &[("id", "")]);
    let deprecate =
        Transition::Deprecate { reason: "replaced".into(), sunset: future(), successor: Some(id("orders.placed")) };
    fx.catalog.transition(ACTOR, "orders.legacy", deprecate, None).unwrap();
    fx.catalog.create_product(ACTOR, ProductSpec::new(id("orders.gone"), "Gone", ACTOR)).unwrap();
    fx.catalog.transition(ACTOR, "orders.gone", Transition::Retire, None).unwrap();
    fx.catalog.create_product(ACTOR, publishable_spec("orders.unregistered")).unwrap();

    let products = fx.catalog.products(None).unwrap();
    assert_eq!(products.len(), 7);
    for p in &products {
        let yaml = fx.catalog.export_odps(p.id().as_str(), &|_, _| None).unwrap();
        assert_standard(&yaml);
    }
    let doc = yaml_value(&fx.catalog.export_odps("orders.enriched", &|_, _| None).unwrap());
    let inputs = doc["inputPorts"].as_array().unwrap();
    let contract = |i: usize| inputs[i]["contractId"].as_str().unwrap().to_string();
    let version = |i: usize| inputs[i]["version"].as_str().unwrap().to_string();
    // The upstream port's contract; else references to what is read.
    assert_eq!((contract(0), version(0)), ("payments-contract-7".into(), "latest".into()));
    assert_eq!((contract(1), version(1)), ("weft:product/orders.placed/port/events/v1".into(), "1.0.0".into()));
    assert_eq!(contract(2), "weft:topic/web.clicks");
    assert_eq!(contract(3), "weft:product/orders.enriched/input/crm");
    let joined = yaml_value(&fx.catalog.export_odps("orders.joined", &|_, _| None).unwrap());
    assert_eq!(joined["inputPorts"][1]["contractId"], "weft:topic/raw.visits");
    let legacy = yaml_value(&fx.catalog.export_odps("orders.legacy", &|_, _| None).unwrap());
    assert_eq!(legacy["status"], "deprecated");
    assert!(legacy["customProperties"].as_array().unwrap().iter().any(|p| p["property"] == "successor"), "{legacy}");
    assert_eq!(yaml_value(&fx.catalog.export_odps("orders.gone", &|_, _| None).unwrap())["status"], "retired");

    // Each export, applied again, changes nothing: the upstream's contract is not pinned on the way.
    for p in &products {
        let yaml = fx.catalog.export_odps(p.id().as_str(), &|_, _| None).unwrap();
        let applied = fx.catalog.import_odps(ACTOR, &yaml, &Placement::default(), &|_, _| None).unwrap();
        assert_eq!(applied.previous_revision, Some(applied.product.revision), "{}: {yaml}", p.id());
        assert_eq!(applied.notes, [], "{}", p.id());
    }
}

#[test]
fn contracts_attached_outside_the_catalog_are_the_ports_and_their_readers() {
    let fx = derived_catalog();
    let mut spec = fx.publishable("orders.enriched", &[("id", "")]);
    spec.input_ports = vec![input_port("orders.placed")];
    fx.catalog.create_product(ACTOR, spec).unwrap();
    // The governance store (the mesh's) enforces a contract on orders.placed's port.
    let attached = |product: &weft_catalog::ProductId, port: &str| {
        (product.as_str() == "orders.placed" && port == "events").then(|| "orders-placed-contract".to_string())
    };
    let placed = yaml_value(&fx.catalog.export_odps("orders.placed", &attached).unwrap());
    assert_eq!(placed["outputPorts"][0]["contractId"], "orders-placed-contract");
    let enriched = yaml_value(&fx.catalog.export_odps("orders.enriched", &attached).unwrap());
    assert_eq!(enriched["inputPorts"][0]["contractId"], "orders-placed-contract");
    // Applied again, neither export stores the attached contract as its own.
    for id in ["orders.placed", "orders.enriched"] {
        let yaml = fx.catalog.export_odps(id, &attached).unwrap();
        assert_standard(&yaml);
        let applied = fx.catalog.import_odps(ACTOR, &yaml, &Placement::default(), &attached).unwrap();
        assert_eq!(applied.previous_revision, Some(applied.product.revision), "{id}");
    }
    let placed = fx.catalog.product("orders.placed").unwrap();
    assert_eq!(placed.spec.output_ports[0].contract_id, None);
}

#[test]
fn fields_the_standard_has_no_place_for_are_refused_when_written() {
    let fx = Fixture::new();
    fx.domain("orders");
    let mut spec = publishable_spec("orders.x");
    spec.extensions.insert("x-internal".into(), "yes".into());
    let err = fx.catalog.create_product(ACTOR, spec.clone()).unwrap_err();
    let CatalogError::InvalidInput { field, reason } = &err else { panic!("{err}") };
    assert_eq!(field, "x-internal");
    assert!(reason.contains("is not allowed"), "{reason}");
    spec.extensions.clear();
    spec.output_ports[0].extensions.insert("sbom".into(), serde_json::json!([{"url": "not a url"}]));
    let err = fx.catalog.create_product(ACTOR, spec.clone()).unwrap_err();
    assert!(matches!(&err, CatalogError::InvalidInput { field, .. } if field == "outputPorts[0].sbom[0].url"), "{err}");
    spec.output_ports[0].extensions.clear();
    spec.input_ports.push(input_port("orders.x"));
    spec.input_ports[0].extensions.insert("contractId".into(), "c-1".into());
    let err = fx.catalog.create_product(ACTOR, spec.clone()).unwrap_err();
    assert!(
        matches!(&err, CatalogError::InvalidInput { field, .. } if field == "inputPorts[0].extensions.contractId"),
        "{err}"
    );
    spec.input_ports.clear();
    spec.custom_properties.push(CustomProperty {
        property: "odpsId".into(),
        value: 7.into(),
        description: None,
        extensions: Default::default(),
    });
    let err = fx.catalog.create_product(ACTOR, spec).unwrap_err();
    assert!(err.to_string().contains("customProperties[0].value"), "{err}");
}

#[test]
fn products_recorded_before_the_check_still_export_valid_documents() {
    let fx = Fixture::new();
    fx.domain("orders");
    // Written as an older Weft wrote it, straight into the catalog's topic: fields of a draft of
    // ODPS (a team as a list), unknown ones, on a custom property too, and an apiVersion it lacks.
    let mut spec = publishable_spec("orders.old");
    spec.extensions.insert("apiVersion".into(), "v1.1.0".into());
    spec.extensions.insert("team".into(), serde_json::json!([{"username": "alice", "role": "owner"}]));
    spec.extensions.insert("x-weft-test".into(), serde_json::json!({"nested": [1, 2]}));
    spec.description_extensions.insert("audience".into(), "analysts".into());
    spec.output_ports[0].extensions.insert("servers".into(), serde_json::json!(["kafka:9092"]));
    // Imports before contracts were typed kept the document's contractId as an extension.
    spec.output_ports[0].extensions.insert("contractId".into(), "orders-contract-1".into());
    spec.extensions.insert("status".into(), "shadowed".into());
    let mut cost =
        CustomProperty { property: "cost".into(), value: 3.into(), description: None, extensions: Default::default() };
    cost.extensions.insert("id".into(), "cp-1".into());
    spec.custom_properties.push(cost);
    let product = Product { spec, lifecycle: Lifecycle::Draft, revision: 1, created_at: 0, updated_at: 0 };
    let envelope = weft_catalog::EventEnvelope {
        actor: ACTOR.into(),
        at: 0,
        event: weft_catalog::CatalogEvent::ProductCreated { after: product },
    };
    use weft_log::EventLog;
    fx.log.append(weft_catalog::CATALOG_TOPIC, 0, vec![envelope.to_record().unwrap()]).unwrap();
    let fx = fx.restart();
    let yaml = fx.catalog.export_odps("orders.old", &|_, _| None).unwrap();
    assert_standard(&yaml);
    let doc = yaml_value(&yaml);
    assert_eq!(doc["apiVersion"], odps::ODPS_API_VERSION);
    let props: Vec<(String, Value)> = doc["customProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["property"].as_str().unwrap().to_string(), p["value"].clone()))
        .collect();
    for (name, value) in [
        ("apiVersion", serde_json::json!("v1.1.0")),
        ("team", serde_json::json!([{"username": "alice", "role": "owner"}])),
        ("x-weft-test", serde_json::json!({"nested": [1, 2]})),
        ("description.audience", serde_json::json!("analysts")),
        ("cost.id", serde_json::json!("cp-1")),
    ] {
        assert!(props.contains(&(name.to_string(), value.clone())), "{name} = {value} lost:\n{yaml}");
    }
    assert_eq!(doc["outputPorts"][0]["customProperties"][3]["property"], "servers", "{yaml}");
    assert_eq!(doc["outputPorts"][0]["contractId"], "orders-contract-1", "{yaml}");
    assert_eq!(doc["status"], "draft", "{yaml}");
    assert!(props.contains(&("status".to_string(), serde_json::json!("shadowed"))), "{yaml}");
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

    let applied = fx.catalog.import_odps(ACTOR, FULL, &Placement::default(), &|_, _| None).unwrap();
    assert_eq!((applied.product.status(), applied.previous_revision), (Status::Published, None));
    // Created then published: two events, one batch.
    assert_eq!(fx.catalog.product_history("orders.order-events").unwrap().len(), 2);
    let exported = fx.catalog.export_odps("orders.order-events", &|_, _| None).unwrap();
    assert_standard(&exported);
    assert_kept(&yaml_value(FULL), &yaml_value(&exported), "");

    // Importing the same document, or its export, again changes nothing.
    for yaml in [FULL, exported.as_str()] {
        let again = fx.catalog.import_odps(ACTOR, yaml, &Placement::default(), &|_, _| None).unwrap();
        assert_eq!(again.previous_revision, Some(again.product.revision));
    }
    assert_eq!(fx.catalog.product_history("orders.order-events").unwrap().len(), 2);

    let fx = fx.restart();
    assert_eq!(fx.catalog.export_odps("orders.order-events", &|_, _| None).unwrap(), exported);
}

#[test]
fn foreign_documents_land_where_their_slugs_say_and_never_on_another() {
    let fx = Fixture::new();
    fx.domain("seller");
    let applied = fx.catalog.import_odps(ACTOR, FOREIGN, &Placement::default(), &|_, _| None).unwrap();
    assert_eq!(applied.product.id().as_str(), "seller.customer-data-product");
    assert!(!applied.notes.is_empty());
    let exported = fx.catalog.export_odps("seller.customer-data-product", &|_, _| None).unwrap();
    assert_standard(&exported);
    assert_kept(&yaml_value(FOREIGN), &yaml_value(&exported), "");
    // The export applies as no change: its weftId names the product.
    let again = fx.catalog.import_odps(ACTOR, &exported, &Placement::default(), &|_, _| None).unwrap();
    assert_eq!(again.previous_revision, Some(again.product.revision));
    // Another document whose domain and name make the same slug is refused, not merged into it...
    let other = FOREIGN.replace("id: fbe8d147-28db-4f1d-bedf-a3fe9f458427", "id: another-uuid");
    let err = fx.catalog.import_odps(ACTOR, &other, &Placement::default(), &|_, _| None).unwrap_err();
    assert!(err.to_string().contains("holds the document 'fbe8d147-28db-4f1d-bedf-a3fe9f458427'"), "{err}");
    // ...unless the caller names the product it is for.
    let placement = Placement { product: Some(id("seller.customers-2")), domain: None };
    let applied = fx.catalog.import_odps(ACTOR, &other, &placement, &|_, _| None).unwrap();
    assert_eq!(applied.product.id().as_str(), "seller.customers-2");
    // A deprecated document without details deprecates with defaults once, then keeps them.
    fx.schemas.register("seller.customers-2.rawtransactions.v1-value", vec![]);
    let ready = other.replace("status: proposed", "status: active").replace(
        "tenant: RetailCorp",
        "tenant: RetailCorp\ncustomProperties:\n  - property: qualityTier\n    value: curated",
    );
    fx.catalog.import_odps(ACTOR, &ready, &placement, &|_, _| None).unwrap();
    let deprecated = ready.replace("status: active", "status: deprecated");
    let first = fx.catalog.import_odps(ACTOR, &deprecated, &placement, &|_, _| None).unwrap();
    assert!(matches!(first.product.lifecycle, Lifecycle::Deprecated { .. }));
    let second = fx.catalog.import_odps(ACTOR, &deprecated, &placement, &|_, _| None).unwrap();
    assert_eq!(second.previous_revision, Some(second.product.revision));
}

/// `(document, field, line, what the reason says)`: each refused by the standard's schema.
const NOT_ODPS: [(&str, &str, usize, &str); 9] = [
    ("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\n", "", 1, "missing required property 'status'"),
    ("apiVersion: v2.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\n", "apiVersion", 1, "not one of the allowed values"),
    ("apiVersion: v1.0.0\nkind: DataContract\nid: a.b\nstatus: draft\n", "kind", 2, "not one of the allowed values"),
    ("apiVersion: v1.0.0\nkind: DataProduct\nid: 5\nstatus: draft\n", "id", 3, "expected string"),
    ("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\nowner: alice\n", "owner", 5, "is not allowed"),
    (
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\noutputPorts:\n  - name: p\n    customProperties: []\n",
        "outputPorts[0]",
        6,
        "missing required property 'version'",
    ),
    (
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\ninputPorts:\n  - name: p\n    version: 1.0.0\n",
        "inputPorts[0]",
        6,
        "missing required property 'contractId'",
    ),
    (
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\nversion: 1.0\n",
        "version",
        5,
        "expected string",
    ),
    (
        "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\nsupport:\n  - channel: x\n    url: not a url\n",
        "support[0].url",
        7,
        "is not a valid uri",
    ),
];

#[test]
fn documents_the_standard_refuses_are_refused_with_field_and_line() {
    for (yaml, expected_field, expected_line, expected_reason) in NOT_ODPS {
        // The test's own judge agrees that the document is not ODPS.
        assert!(standard().validate(&yaml_value(yaml)).is_err(), "{yaml}");
        let err = odps::parse(yaml).unwrap_err();
        let CatalogError::NotOdps { field, line, reason } = &err else { panic!("{yaml}\n=> {err}") };
        assert_eq!((field.as_str(), *line), (expected_field, Some(expected_line)), "{yaml}\n=> {err}");
        assert!(reason.contains(expected_reason), "{yaml}\n=> {err}");
        assert!(err.to_string().contains(&format!("line {expected_line}: ")), "{err}");
    }
    // Each refused before anything is recorded.
    let fx = Fixture::new();
    fx.domain("a");
    for (yaml, ..) in NOT_ODPS {
        assert_eq!(
            kind(&fx.catalog.import_odps(ACTOR, yaml, &Placement::default(), &|_, _| None).unwrap_err()),
            "NotOdps"
        );
    }
    assert!(fx.catalog.products(None).unwrap().is_empty());
}

#[test]
fn weft_properties_with_values_weft_cannot_read_are_refused() {
    let head = "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\n";
    let cases = [
        ("customProperties: [{property: qualityTier, value: shiny}]", "customProperties qualityTier: invalid qualityTier: 'shiny' is not one of raw, curated, authoritative"),
        ("customProperties: [{property: owner, value: {name: x}}]", "customProperties 'owner' must be a string"),
        ("customProperties: [{property: a, value: 1}, {property: a, value: 2}]", "'a' is listed twice"),
        ("outputPorts: [{name: p, version: 1.0.0, customProperties: [{property: format, value: parquet}]}]", "outputPorts[0] (p): invalid format"),
        ("inputPorts: [{name: p, version: 1.0.0, contractId: c, customProperties: [{property: product, value: Not An Id}]}]", "inputPorts[0] (p): invalid product id"),
        ("status: deprecated\ncustomProperties: [{property: sunsetDate, value: soon}]", "customProperties sunsetDate"),
    ];
    for (tail, expected) in cases {
        let yaml = if tail.starts_with("status:") {
            head.replace("status: draft\n", &format!("{tail}\n"))
        } else {
            format!("{head}{tail}\n")
        };
        assert_standard(&yaml);
        let err = odps::parse(&yaml).and_then(|d| d.to_product(&cx())).unwrap_err();
        assert_eq!(kind(&err), "InvalidOdps", "{err}");
        assert!(err.to_string().contains(expected), "{yaml}\n=> {err}");
    }
}

#[test]
fn import_validates_everything_before_recording_anything() {
    let fx = Fixture::new();
    fx.domain("orders");
    // Asks for "active" with an input that does not exist: the create must not be recorded either.
    let yaml = FULL
        .replace("  - name: payments\n", "  - name: payments-x\n")
        .replace("payments.payment-events", "orders.nope");
    let err = fx.catalog.import_odps(ACTOR, &yaml, &Placement::default(), &|_, _| None).unwrap_err();
    assert!(err.to_string().contains("data product 'orders.nope' does not exist"), "{err}");
    let no_inputs = FULL.split("inputPorts:").next().unwrap().to_string()
        + "outputPorts:"
        + FULL.split("outputPorts:").nth(1).unwrap();
    let err = fx.catalog.import_odps(ACTOR, &no_inputs, &Placement::default(), &|_, _| None).unwrap_err();
    assert!(matches!(err, CatalogError::PublishRequirements { .. }), "{err}");
    assert_eq!(kind(&fx.catalog.product("orders.order-events").unwrap_err()), "ProductNotFound");
    assert!(fx.catalog.product_history("orders.order-events").is_err());

    // With the schema registered it goes through, and a later document cannot move it back to draft.
    fx.schemas.register("orders.order-events.v1-value", vec![]);
    fx.catalog.import_odps(ACTOR, &no_inputs, &Placement::default(), &|_, _| None).unwrap();
    let draft = no_inputs.replace("status: active", "status: draft");
    let err = fx.catalog.import_odps(ACTOR, &draft, &Placement::default(), &|_, _| None).unwrap_err();
    assert_eq!(kind(&err), "ForbiddenTransition");
    assert!(err.to_string().contains("cannot go from published to draft"), "{err}");

    // Deprecating through a document: the deprecation details travel as custom properties.
    let deprecated = no_inputs.replace("status: active", "status: deprecated").replace(
        "customProperties:\n  - property: owner",
        "customProperties:\n  - property: deprecationReason\n    value: v3 is out\n  - property: sunsetDate\n    value: 2999-01-31\n  - property: owner",
    );
    let applied = fx.catalog.import_odps(ACTOR, &deprecated, &Placement::default(), &|_, _| None).unwrap();
    assert!(matches!(applied.product.lifecycle, Lifecycle::Deprecated { ref reason, .. } if reason == "v3 is out"));
    let exported = fx.catalog.export_odps("orders.order-events", &|_, _| None).unwrap();
    assert!(exported.contains("sunsetDate"), "{exported}");
}

#[test]
fn hostile_yaml_is_refused_without_panicking() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    let deep =
        format!("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nx: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let odd_keys = "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\ncustomProperties: [{property: owner, value: {1: one, [a]: list}}]\n";
    let tagged = "apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\nstatus: draft\ncustomProperties: [{property: x, value: !custom {a: 1}}]\n";
    let huge = "x".repeat(odps::MAX_DOCUMENT_BYTES + 1);
    for yaml in [bomb, deep.as_str(), odd_keys, tagged, huge.as_str(), "", "~", "[1, 2]", "id: 5"] {
        // Either refused with a 422, or (for odd but valid YAML) accepted: never a panic or a hang.
        if let Err(err) = odps::parse(yaml).and_then(|d| d.to_product(&cx())) {
            assert!(matches!(kind(&err), "InvalidOdps" | "NotOdps"), "{err}");
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
        "{}\n  - property: shared\n    value: &shared {{region: eu, tier: 2}}\n  - property: copies\n    value: [*shared, *shared]\n  \
         - property: spellings\n    value: {{approved: yes, mode: 0755, count: 1_000, real: true, <<: *shared}}\n",
        FULL.split("\ntags:").next().unwrap().trim_start()
    ) + "tags:" + FULL.split("\ntags:").nth(1).unwrap();
    let doc = odps::parse(&yaml).unwrap();
    let value = |name: &str| doc.custom_properties.iter().find(|p| p.property == name).unwrap().value.clone();
    assert_eq!(value("copies")[1]["region"], "eu");
    let spellings = value("spellings");
    assert_eq!(spellings["approved"], "yes");
    assert_eq!(spellings["mode"], "0755");
    assert_eq!(spellings["count"], "1_000");
    assert_eq!(spellings["real"], true);
    assert_eq!(spellings["<<"]["tier"], 2);
    // Exported and read again, the values are the same.
    let imported = doc.to_product(&cx()).unwrap();
    let exported = export(&product(&imported));
    assert_eq!(odps::parse(&exported).unwrap().custom_properties, doc.custom_properties, "{exported}");
}
