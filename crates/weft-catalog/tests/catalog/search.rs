//! Search: relevance, facets, filters, and the index following changes.

use weft_catalog::{FieldInfo, QualityTier, SearchRequest, Status, Transition};

use crate::common::*;

fn text(t: &str) -> SearchRequest {
    SearchRequest { text: t.into(), ..SearchRequest::default() }
}

fn ids(fx: &Fixture, request: &SearchRequest) -> Vec<String> {
    fx.catalog.search(request).unwrap().hits.into_iter().map(|h| h.id.to_string()).collect()
}

fn seeded() -> Fixture {
    let fx = Fixture::new();
    for d in ["orders", "payments", "shipping"] {
        fx.domain(d);
    }
    let mut a = fx.publishable("orders.order-events", &[("order_id", "Unique id of the order"), ("amount", "")]);
    a.name = "Order events".into();
    a.description = "Every order placed in the web shop".into();
    a.tags = vec!["sales".into(), "pii".into()];
    a.quality_tier = Some(QualityTier::Authoritative);
    fx.catalog.create_product(ACTOR, a).unwrap();
    fx.catalog.transition(ACTOR, "orders.order-events", Transition::Publish, None).unwrap();

    let mut b =
        fx.publishable("payments.settlements", &[("settlement_id", ""), ("customer_id", "The paying customer")]);
    b.name = "Settlements".into();
    b.description = "Daily settlements; each settlement refers to an order".into();
    b.tags = vec!["finance".into()];
    b.owner = "carol".into();
    fx.catalog.create_product(ACTOR, b).unwrap();

    let mut c = fx.publishable("shipping.parcels", &[("parcel_id", "")]);
    c.name = "Parcels".into();
    c.description = "Parcels handed to carriers".into();
    c.documentation = "# Parcels\n\nWeights are in grams. Related to the order through the shipment.".into();
    c.tags = vec!["sales".into(), "logistics".into()];
    c.quality_tier = Some(QualityTier::Raw);
    fx.catalog.create_product(ACTOR, c).unwrap();
    fx
}

#[test]
fn name_matches_rank_above_description_and_documentation_matches() {
    let fx = seeded();
    let hits = ids(&fx, &text("order"));
    assert_eq!(hits, ["orders.order-events", "payments.settlements", "shipping.parcels"]);
    let results = fx.catalog.search(&text("order")).unwrap();
    assert_eq!(results.total, 3);
    assert!(results.hits[0].score > results.hits[1].score);
}

#[test]
fn tags_and_schema_fields_are_searched() {
    let fx = seeded();
    assert_eq!(ids(&fx, &text("logistics")), ["shipping.parcels"]);
    // A field name (split on '_') and a field's documentation.
    assert_eq!(ids(&fx, &text("customer")), ["payments.settlements"]);
    assert_eq!(ids(&fx, &text("paying")), ["payments.settlements"]);
    assert_eq!(ids(&fx, &text("grams")), ["shipping.parcels"]);
    // The id's local name.
    assert_eq!(ids(&fx, &text("settlements")), ["payments.settlements"]);
    assert!(ids(&fx, &text("nothing-matches-this")).is_empty());
    // Two words: products with both rank first.
    let two = ids(&fx, &text("sales parcels"));
    assert_eq!(two[0], "shipping.parcels");
    assert_eq!(two.len(), 2);
}

#[test]
fn facets_count_the_matches_and_filters_narrow_them() {
    let fx = seeded();
    let all = fx.catalog.search(&SearchRequest::default()).unwrap();
    assert_eq!(all.total, 3);
    let f = &all.facets;
    assert_eq!(f["domain"].get("orders"), Some(&1));
    assert_eq!(f["status"].get("published"), Some(&1));
    assert_eq!(f["status"].get("draft"), Some(&2));
    assert_eq!(f["tags"].get("sales"), Some(&2));
    assert_eq!(f["owner"].get("carol"), Some(&1));
    assert_eq!(f["owner"].get(ACTOR), Some(&2));
    assert_eq!(f["qualityTier"].get("raw"), Some(&1));
    assert_eq!(f["qualityTier"].get("curated"), Some(&1));

    let sales = SearchRequest { tags: vec!["sales".into()], ..SearchRequest::default() };
    let r = fx.catalog.search(&sales).unwrap();
    assert_eq!(r.total, 2);
    assert_eq!(r.facets["domain"].len(), 2);
    assert_eq!(r.facets["tags"].get("logistics"), Some(&1));

    let narrowed = SearchRequest {
        text: "order".into(),
        domain: Some("shipping".into()),
        status: Some(Status::Draft),
        quality_tier: Some(QualityTier::Raw),
        owner: Some(ACTOR.into()),
        tags: vec!["sales".into(), "logistics".into()],
        ..SearchRequest::default()
    };
    assert_eq!(ids(&fx, &narrowed), ["shipping.parcels"]);
    let none = SearchRequest { domain: Some("nope/../x".into()), ..SearchRequest::default() };
    assert_eq!(fx.catalog.search(&none).unwrap().total, 0);
}

#[test]
fn paging_and_odd_input() {
    let fx = seeded();
    let page = SearchRequest { limit: 1, offset: 1, ..text("order") };
    assert_eq!(ids(&fx, &page), ["payments.settlements"]);
    let r = fx.catalog.search(&page).unwrap();
    assert_eq!(r.total, 3);
    for odd in ["\"unbalanced", "a AND (", "name:", "+-", "*", "órder ünïcode", "field:[a TO"] {
        assert!(fx.catalog.search(&text(odd)).is_ok(), "{odd}");
    }
    // Phrases match where positions are kept (name, tags, description).
    assert_eq!(ids(&fx, &text("\"order events\"")), ["orders.order-events"]);
    assert_eq!(ids(&fx, &text("\"handed to carriers\"")), ["shipping.parcels"]);
    let err = fx.catalog.search(&text(&"word ".repeat(300))).unwrap_err();
    assert_eq!(err.to_string(), "invalid text: a search is at most 1000 characters");
    let huge = SearchRequest { limit: usize::MAX, offset: usize::MAX, ..SearchRequest::default() };
    assert!(fx.catalog.search(&huge).unwrap().hits.is_empty());
}

#[test]
fn the_index_follows_changes_and_schema_versions() {
    let fx = seeded();
    let mut spec = fx.catalog.product("shipping.parcels").unwrap().spec;
    spec.tags = vec!["freight".into()];
    fx.catalog.update_product(ACTOR, "shipping.parcels", spec, None).unwrap();
    assert_eq!(ids(&fx, &text("freight")), ["shipping.parcels"]);
    assert!(ids(&fx, &text("logistics")).is_empty());
    let status = SearchRequest { status: Some(Status::Retired), ..SearchRequest::default() };
    fx.catalog.transition(ACTOR, "shipping.parcels", Transition::Retire, None).unwrap();
    assert_eq!(ids(&fx, &status), ["shipping.parcels"]);
    fx.catalog.delete_product(ACTOR, "shipping.parcels", true).unwrap();
    assert!(ids(&fx, &text("freight")).is_empty());

    // A new schema version: the product is found by its new field once re-indexed.
    let subject = fx.catalog.product("orders.order-events").unwrap().spec.output_ports[0].schema_subject.clone();
    fx.schemas.register(&subject, vec![FieldInfo::new("coupon_code", "string", None)]);
    assert!(ids(&fx, &text("coupon")).is_empty());
    assert_eq!(fx.catalog.schema_changed(&subject).unwrap(), 1);
    assert_eq!(ids(&fx, &text("coupon")), ["orders.order-events"]);

    // And after a restart, the rebuilt index answers the same.
    let before = fx.catalog.search(&text("order")).unwrap();
    let fx = fx.restart();
    assert_eq!(fx.catalog.search(&text("order")).unwrap(), before);
}

#[test]
fn the_word_being_typed_matches_as_a_prefix_below_whole_words() {
    let fx = seeded();
    // "settl" is no word of any product, but "settlements" (name) and "settlement_id" (field) start with it.
    assert_eq!(ids(&fx, &text("settl")), ["payments.settlements"]);
    assert_eq!(ids(&fx, &text("Logis")), ["shipping.parcels"]);
    // Words combine as with whole words (either matches, both rank first): "sales" is on two products,
    // only one of them also has a word starting with "parc".
    assert_eq!(ids(&fx, &text("sales parc")), ["shipping.parcels", "orders.order-events"]);
    // A finished word (trailing space) is no prefix any more; one letter is too short to expand.
    assert!(ids(&fx, &text("settl ")).is_empty());
    assert!(ids(&fx, &text("s")).is_empty());
    // A whole-word match ranks above a product matched only by the prefix.
    let mut d = fx.publishable("shipping.orderly", &[("x", "")]);
    d.name = "Orderly".into();
    d.description = "Nothing else".into();
    fx.catalog.create_product(ACTOR, d).unwrap();
    let hits = ids(&fx, &text("order"));
    assert_eq!(hits.first().map(String::as_str), Some("orders.order-events"));
    assert_eq!(hits.last().map(String::as_str), Some("shipping.orderly"));
}
