//! Restarts: identical state after a clean restart, after a kill, and after a crash in the middle of
//! writing an update; a corrupt event stops the start with a precise error.

use std::io::Write;

use weft_catalog::{CatalogError, EventEnvelope, FieldEdge, FieldRef, SearchRequest, Transition, CATALOG_TOPIC};
use weft_log::EventLog;

use crate::common::*;

/// Everything observable about a catalog.
fn snapshot(fx: &Fixture) -> String {
    let c = &fx.catalog;
    let mut out = String::new();
    out += &serde_json::to_string(&c.domains()).unwrap();
    let products = c.products(None).unwrap();
    out += &serde_json::to_string(&products).unwrap();
    for p in &products {
        out += &serde_json::to_string(&c.product_history(p.id().as_str()).unwrap()).unwrap();
        out += &serde_json::to_string(&c.field_lineage(p.id().as_str()).unwrap()).unwrap();
        out += &serde_json::to_string(&c.downstream(p.id().as_str(), None).unwrap()).unwrap();
    }
    for d in c.domains() {
        out += &serde_json::to_string(&c.domain_history(d.name().as_str()).unwrap()).unwrap();
    }
    for q in ["", "events", "orders sales"] {
        let r = c.search(&SearchRequest { text: q.into(), ..SearchRequest::default() }).unwrap();
        out += &serde_json::to_string(&r).unwrap();
    }
    out
}

fn busy_catalog() -> Fixture {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.domain("billing");
    fx.domain("gone");
    fx.catalog.delete_domain(ACTOR, "gone").unwrap();
    fx.published("orders.events", &[("order_id", "The order"), ("amount", "")]);
    let mut invoices = fx.publishable("billing.invoices", &[("invoice_id", ""), ("order_id", "")]);
    invoices.input_ports = vec![input_port("orders.events")];
    invoices.tags = vec!["sales".into()];
    fx.catalog.create_product(ACTOR, invoices).unwrap();
    fx.catalog
        .set_field_lineage(
            "bob",
            "billing.invoices",
            vec![FieldEdge {
                from: FieldRef { product: id("orders.events"), field: "order_id".into() },
                to: FieldRef { product: id("billing.invoices"), field: "order_id".into() },
            }],
        )
        .unwrap();
    fx.published("orders.old", &[]);
    fx.catalog
        .transition(
            ACTOR,
            "orders.old",
            Transition::Deprecate { reason: "r".into(), sunset: future(), successor: Some(id("orders.events")) },
            None,
        )
        .unwrap();
    fx.published("orders.tmp", &[]);
    fx.catalog
        .transition(
            ACTOR,
            "orders.tmp",
            Transition::Deprecate { reason: "r".into(), sunset: today(), successor: None },
            None,
        )
        .unwrap();
    fx.catalog.transition(ACTOR, "orders.tmp", Transition::Retire, None).unwrap();
    fx.catalog.delete_product(ACTOR, "orders.tmp", true).unwrap();
    fx
}

#[test]
fn identical_state_after_restart_and_after_kill() {
    let fx = busy_catalog();
    let before = snapshot(&fx);
    let fx = fx.restart();
    assert_eq!(snapshot(&fx), before);
    assert_eq!(fx.catalog.open_stats().products, 3);
    let fx = fx.crash();
    assert_eq!(snapshot(&fx), before);
    // Deleted entities keep their history across restarts.
    assert_eq!(fx.catalog.product_history("orders.tmp").unwrap().len(), 5);
    assert_eq!(fx.catalog.domain_history("gone").unwrap().len(), 2);
}

fn catalog_segment(fx: &Fixture) -> std::path::PathBuf {
    fx.dir.path().join("topics").join(CATALOG_TOPIC).join("0").join(format!("{:020}.log", 0))
}

#[test]
fn a_crash_while_writing_an_update_leaves_the_state_before_it() {
    let fx = busy_catalog();
    let before = snapshot(&fx);
    let path = catalog_segment(&fx);
    let length_before = std::fs::metadata(&path).unwrap().len();
    let mut spec = fx.catalog.product("orders.events").unwrap().spec;
    spec.description = "changed just before the crash".into();
    fx.catalog.update_product(ACTOR, "orders.events", spec, None).unwrap();
    let Fixture { dir, log, schemas, catalog } = fx;
    drop(catalog);
    drop(log);
    // The update's batch was only half written when the machine went down.
    let length_after = std::fs::metadata(&path).unwrap().len();
    assert!(length_after > length_before);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(length_before + (length_after - length_before) / 2).unwrap();
    drop(file);
    let fx = Fixture::reopen(dir, schemas);
    assert_eq!(snapshot(&fx), before);
    // And the catalog goes on from there.
    let mut spec = fx.catalog.product("orders.events").unwrap().spec;
    spec.description = "after the crash".into();
    assert_eq!(fx.catalog.update_product(ACTOR, "orders.events", spec, None).unwrap().revision, 3);
}

#[test]
fn an_event_appended_but_not_applied_before_a_crash_is_applied_on_start() {
    let fx = busy_catalog();
    // As if the process died between the append and applying it in memory.
    let before = fx.catalog.product("orders.events").unwrap();
    let mut after = before.clone();
    after.spec.description = "appended, then crashed".into();
    after.revision += 1;
    let envelope = EventEnvelope {
        actor: "crasher".into(),
        at: 1,
        event: weft_catalog::CatalogEvent::ProductUpdated { before, after: after.clone() },
    };
    fx.log.append(CATALOG_TOPIC, 0, vec![envelope.to_record().unwrap()]).unwrap();
    let fx = fx.crash();
    assert_eq!(fx.catalog.product("orders.events").unwrap(), after);
    assert_eq!(fx.catalog.product_history("orders.events").unwrap().last().unwrap().actor, "crasher");
}

#[test]
fn an_unreadable_event_stops_the_start_with_its_offset() {
    let fx = busy_catalog();
    let garbage = weft_log::Record { value: Some(b"{not json".to_vec()), ..weft_log::Record::default() };
    let appended = fx.log.append(CATALOG_TOPIC, 0, vec![garbage]).unwrap();
    let Fixture { dir, log, schemas, catalog } = fx;
    drop(catalog);
    drop(log);
    let log = open_log(dir.path());
    let err = match weft_catalog::Catalog::open(log, schemas) {
        Err(e) => e,
        Ok(_) => panic!("opened over a corrupt event"),
    };
    assert_eq!(kind(&err), "CorruptEvent");
    let CatalogError::CorruptEvent { offset, .. } = err else { panic!("{err:?}") };
    assert_eq!(offset, appended.base_offset);
}

#[test]
fn concurrent_writers_are_serialized() {
    let fx = busy_catalog();
    let catalog = &fx.catalog;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..10 {
                    let mut spec = catalog.product("billing.invoices").unwrap().spec;
                    spec.documentation = format!("writer {t} change {i}");
                    catalog.update_product(&format!("writer-{t}"), "billing.invoices", spec, None).unwrap();
                }
            });
        }
    });
    let revision = fx.catalog.product("billing.invoices").unwrap().revision;
    assert_eq!(revision, 1 + 40);
    let before = snapshot(&fx);
    let fx = fx.restart();
    assert_eq!(snapshot(&fx), before);
    let _ = std::io::stdout().flush();
}

#[test]
fn a_catalog_topic_that_would_lose_history_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    log.create_topic(CATALOG_TOPIC, weft_log::TopicConfig::compacted(1)).unwrap();
    let err = match weft_catalog::Catalog::open(log, std::sync::Arc::new(weft_catalog::InMemorySchemas::new())) {
        Err(e) => e,
        Ok(_) => panic!("opened over a compacted catalog topic"),
    };
    assert!(err.to_string().contains("must have one partition and keep every event"), "{err}");
}

#[test]
fn a_crash_while_writing_a_multi_event_command_loses_all_of_it() {
    let fx = busy_catalog();
    let before = snapshot(&fx);
    let path = catalog_segment(&fx);
    let length_before = std::fs::metadata(&path).unwrap().len();
    // An import that creates, publishes and deprecates: three events, one batch.
    let mut spec = fx.publishable("orders.imported", &[]);
    spec.description = "imported".into();
    let product = weft_catalog::Product {
        spec,
        lifecycle: weft_catalog::Lifecycle::Deprecated { reason: "old".into(), sunset: future(), successor: None },
        revision: 1,
        created_at: 0,
        updated_at: 0,
    };
    let document = weft_catalog::odps::OdpsDocument::from_product(&product, &|_| None).unwrap();
    let yaml = weft_catalog::odps::to_yaml(&document).unwrap();
    fx.catalog.import_odps(ACTOR, &yaml, &Default::default(), &|_, _| None).unwrap();
    assert_eq!(fx.catalog.product_history("orders.imported").unwrap().len(), 3);
    let Fixture { dir, log, schemas, catalog } = fx;
    drop(catalog);
    drop(log);
    let length_after = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    // Cut inside the batch, past its first event: none of the three survives.
    file.set_len(length_after - 10).unwrap();
    drop(file);
    assert!(length_after - 10 > length_before);
    let fx = Fixture::reopen(dir, schemas);
    assert_eq!(snapshot(&fx), before);
    assert!(fx.catalog.product("orders.imported").is_err());
}
