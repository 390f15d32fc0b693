//! Access requests and grants: who decides, which decisions each status allows, and replay.

use weft_catalog::{AccessDecision, AccessFilter, AccessStatus, Transition};

use crate::common::{id, kind, Fixture, ACTOR};

fn codes(e: weft_catalog::CatalogError) -> &'static str {
    kind(&e)
}

#[test]
fn owners_decide_and_the_rules_hold_across_a_restart() {
    let f = Fixture::new();
    f.domain("orders"); // owner alice, member bob
    f.published("orders.placed", &[("id", "")]);
    let c = &f.catalog;

    let r1 = c.request_access("dave", "orders.placed", "Monthly revenue report", Some("finance")).expect("request");
    assert_eq!((r1.id.as_str(), r1.status), ("ar-1", AccessStatus::Pending));
    assert_eq!(r1.consumer.as_deref(), Some("finance"));
    // One pending request per requester and product; others may ask too.
    let dup = c.request_access("dave", "orders.placed", "again", None).unwrap_err();
    assert_eq!(codes(dup), "AccessConflict");
    let r2 = c.request_access("erin", "orders.placed", "Fraud model", None).expect("request");
    assert_eq!(r2.id, "ar-2");
    assert_eq!(codes(c.request_access("dave", "orders.placed", " ", None).unwrap_err()), "InvalidInput");
    assert_eq!(codes(c.request_access("dave", "orders.nope", "x", None).unwrap_err()), "ProductNotFound");

    // A domain member who is not an owner may not decide; the requester neither.
    let err = c.decide_access("bob", "ar-1", AccessDecision::Approve, None).unwrap_err();
    assert!(err.to_string().contains("only the owner of 'orders.placed'"), "{err}");
    assert_eq!(codes(err), "NotAllowed");
    assert_eq!(codes(c.decide_access("dave", "ar-1", AccessDecision::Approve, None).unwrap_err()), "NotAllowed");
    // A revoke needs an approval first.
    assert_eq!(codes(c.decide_access(ACTOR, "ar-1", AccessDecision::Revoke, None).unwrap_err()), "AccessConflict");

    let approved = c.decide_access(ACTOR, "ar-1", AccessDecision::Approve, Some("ok for reporting")).expect("approve");
    assert_eq!(approved.status, AccessStatus::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some(ACTOR));
    assert_eq!(approved.reason.as_deref(), Some("ok for reporting"));
    assert_eq!(codes(c.decide_access(ACTOR, "ar-1", AccessDecision::Deny, None).unwrap_err()), "AccessConflict");
    c.decide_access(ACTOR, "ar-2", AccessDecision::Deny, Some("no PII for models")).expect("deny");
    assert_eq!(codes(c.decide_access(ACTOR, "ar-9", AccessDecision::Deny, None).unwrap_err()), "AccessRequestNotFound");
    assert_eq!(
        codes(c.decide_access(ACTOR, "bogus", AccessDecision::Deny, None).unwrap_err()),
        "AccessRequestNotFound"
    );

    let grants = c.grants("orders.placed").expect("grants");
    assert_eq!(grants.iter().map(|g| g.requester.as_str()).collect::<Vec<_>>(), ["dave"]);
    // A denied requester may ask again.
    let r3 = c.request_access("erin", "orders.placed", "Fraud model, aggregated", None).expect("request");
    assert_eq!(r3.id, "ar-3");

    // The product's history holds the requests and decisions.
    let history = c.product_history("orders.placed").expect("history");
    let access: Vec<&str> =
        history.iter().filter(|h| h.changed == ["accessRequests"]).map(|h| h.actor.as_str()).collect();
    assert_eq!(access, ["dave", "erin", ACTOR, ACTOR, "erin"]);

    let f = f.restart();
    let c = &f.catalog;
    assert_eq!(c.access_request("ar-1").expect("ar-1"), approved);
    let pending = AccessFilter { status: Some(AccessStatus::Pending), ..AccessFilter::default() };
    assert_eq!(c.access_requests(&pending).iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["ar-3"]);
    let mine = AccessFilter { requester: Some("erin".into()), ..AccessFilter::default() };
    assert_eq!(c.access_requests(&mine).len(), 2);
    let inbox = AccessFilter { approver: Some(ACTOR.into()), ..AccessFilter::default() };
    assert_eq!(c.access_requests(&inbox).len(), 3);
    let none = AccessFilter { approver: Some("bob".into()), ..AccessFilter::default() };
    assert!(c.access_requests(&none).is_empty());
    let on_product = AccessFilter { product: Some(id("orders.placed")), ..AccessFilter::default() };
    assert_eq!(c.access_requests(&on_product).len(), 3);
    // The next id continues after the replay.
    assert_eq!(c.request_access("frank", "orders.placed", "Dashboards", None).expect("request").id, "ar-4");
    c.decide_access(ACTOR, "ar-1", AccessDecision::Revoke, Some("project ended")).expect("revoke");
    assert!(c.grants("orders.placed").expect("grants").is_empty());
}

#[test]
fn the_product_owner_decides_and_retired_products_take_no_requests() {
    let f = Fixture::new();
    f.domain("orders");
    let mut spec = f.publishable("orders.placed", &[("id", "")]);
    spec.owner = "carol".into(); // not a member of the domain
    f.catalog.create_product(ACTOR, spec).expect("create");
    let c = &f.catalog;
    c.request_access("dave", "orders.placed", "Reports", None).expect("request");
    c.decide_access("carol", "ar-1", AccessDecision::Approve, None).expect("the product owner approves");
    c.request_access("erin", "orders.placed", "Reports", None).expect("request");
    c.transition(ACTOR, "orders.placed", Transition::Retire, None).expect("retire the draft");
    let err = c.request_access("frank", "orders.placed", "Reports", None).unwrap_err();
    assert_eq!(codes(err), "Forbidden");
    assert_eq!(codes(c.decide_access(ACTOR, "ar-2", AccessDecision::Approve, None).unwrap_err()), "Forbidden");
    c.decide_access(ACTOR, "ar-2", AccessDecision::Deny, None).expect("deny still works");
    c.decide_access("carol", "ar-1", AccessDecision::Revoke, None).expect("revoke still works");
}
