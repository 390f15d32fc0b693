//! Two catalogs on one log, as two servers on one Kafka cluster are: each applies what the other
//! appended, when it refreshes and before every command it decides.

use weft_catalog::{Catalog, CatalogError, SearchRequest, Status};

use crate::common::*;

fn second_catalog(fx: &Fixture) -> Catalog {
    Catalog::open(fx.log.clone(), fx.schemas.clone()).expect("open a second catalog on the same log")
}

#[test]
fn a_refresh_applies_and_indexes_what_another_catalog_wrote() {
    let fx = Fixture::new();
    let other = second_catalog(&fx);
    fx.domain("orders");
    fx.published("orders.events", &[("order_id", "The order placed")]);
    assert!(other.domains().is_empty(), "nothing is applied before a refresh");

    other.refresh().expect("refresh");
    assert_eq!(other.domains().len(), 1);
    let product = other.product("orders.events").expect("the product is applied");
    assert_eq!(product.status(), Status::Published);
    let hits = other.search(&SearchRequest { text: "placed".into(), ..SearchRequest::default() }).expect("search");
    assert_eq!(hits.total, 1, "the product is in the other catalog's search index: {hits:?}");
    assert_eq!(
        other.product_history("orders.events").expect("history"),
        fx.catalog.product_history("orders.events").expect("history"),
    );
}

#[test]
fn a_command_decides_on_what_another_catalog_wrote_before_it() {
    let fx = Fixture::new();
    let other = second_catalog(&fx);
    fx.domain("orders");
    // No refresh: the command itself catches up, so it sees the domain and refuses a duplicate.
    let err = other.create_domain(ACTOR, domain_spec("orders")).expect_err("the domain exists");
    assert!(matches!(err, CatalogError::DomainExists(_)), "{err:?}");

    // Revisions are decided on the latest state: a change made on the first catalog makes the second
    // refuse an update based on the revision it had read.
    other.refresh().expect("refresh");
    let seen = other.domains()[0].revision;
    let mut spec = domain_spec("orders");
    spec.description = "Changed on the first server".into();
    fx.catalog.update_domain(ACTOR, "orders", spec.clone(), Some(seen)).expect("update on the first");
    spec.description = "Changed on the second server".into();
    let err = other.update_domain(ACTOR, "orders", spec, Some(seen)).expect_err("the revision it read is stale");
    assert!(matches!(err, CatalogError::RevisionConflict { .. }), "{err:?}");
    fx.published("orders.events", &[("order_id", "")]);

    // Both apply the log in one order, so both end with the same state.
    fx.catalog.refresh().expect("refresh");
    other.refresh().expect("refresh");
    let state = |catalog: &Catalog| {
        serde_json::to_string(&(catalog.domains(), catalog.products(None).expect("products"))).expect("json")
    };
    assert_eq!(state(&other), state(&fx.catalog));
    assert_eq!(other.domains()[0].spec.description, "Changed on the first server");
}
