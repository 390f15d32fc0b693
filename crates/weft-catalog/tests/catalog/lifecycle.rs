//! Every lifecycle transition, allowed and refused, and the rules on updates and deletion.

use weft_catalog::{CatalogError, Lifecycle, PortStatus, SemVer, Status, Transition};

use crate::common::*;

fn deprecate(sunset: weft_catalog::IsoDate, successor: Option<&str>) -> Transition {
    Transition::Deprecate { reason: "replaced by v2".into(), sunset, successor: successor.map(id) }
}

fn forbidden(err: CatalogError) -> (String, &'static str, &'static str, String) {
    match err {
        CatalogError::ForbiddenTransition { product, from, to, reason } => (product, from, to, reason),
        other => panic!("expected a forbidden transition, got {other:?}"),
    }
}

#[test]
fn draft_to_published_to_deprecated_to_retired() {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.published("orders.v2", &[("id", "")]);
    let spec = fx.publishable("orders.events", &[("order_id", "The order")]);
    let created = fx.catalog.create_product(ACTOR, spec).unwrap();
    assert_eq!(created.lifecycle, Lifecycle::Draft);
    assert_eq!(created.revision, 1);

    let published = fx.catalog.transition(ACTOR, "orders.events", Transition::Publish, Some(1)).unwrap();
    assert_eq!(published.lifecycle, Lifecycle::Published);
    assert_eq!(published.revision, 2);

    let sunset = today();
    let deprecated = fx.catalog.transition(ACTOR, "orders.events", deprecate(sunset, Some("orders.v2")), None).unwrap();
    assert_eq!(
        deprecated.lifecycle,
        Lifecycle::Deprecated { reason: "replaced by v2".into(), sunset, successor: Some(id("orders.v2")) }
    );

    // The sunset date is today, so it may retire now.
    let retired = fx.catalog.transition(ACTOR, "orders.events", Transition::Retire, None).unwrap();
    assert_eq!(retired.lifecycle, Lifecycle::Retired);
    assert_eq!(retired.revision, 4);

    let history = fx.catalog.product_history("orders.events").unwrap();
    assert_eq!(history.len(), 4);
    assert!(history.iter().all(|h| h.actor == ACTOR));
    assert!(history.windows(2).all(|w| w[0].offset < w[1].offset && w[0].at <= w[1].at));
    assert_eq!(history[1].changed, ["lifecycle"]);
}

#[test]
fn publishing_lists_every_missing_requirement() {
    let fx = Fixture::new();
    fx.domain("orders");
    let mut spec = publishable_spec("orders.events");
    spec.description = "  ".into();
    spec.quality_tier = None;
    fx.catalog.create_product(ACTOR, spec).unwrap();
    let err = fx.catalog.transition(ACTOR, "orders.events", Transition::Publish, None).unwrap_err();
    assert_eq!(kind(&err), "PublishRequirements");
    let CatalogError::PublishRequirements { product, gaps } = &err else { panic!("{err:?}") };
    assert_eq!(product, "orders.events");
    let gaps: Vec<(&str, &str, &str)> =
        gaps.iter().map(|g| (g.field.as_str(), g.rule.as_str(), g.message.as_str())).collect();
    assert_eq!(
        gaps,
        [
            ("description", "description-required", "description is empty"),
            ("qualityTier", "quality-tier-required", "qualityTier is not set (raw, curated or authoritative)"),
            (
                "outputPorts[0].schemaSubject",
                "schema-registered",
                "no output port has a registered schema (register one of the subjects: orders.events.events.v1-value)"
            ),
        ]
    );
    // The same rules, asked without changing anything.
    let spec = fx.catalog.product("orders.events").unwrap().spec;
    let checked: Vec<String> = fx.catalog.publish_check(&spec).into_iter().map(|g| g.rule).collect();
    assert_eq!(checked, ["description-required", "quality-tier-required", "schema-registered"]);
    assert!(err.to_string().starts_with("data product 'orders.events' does not meet the publishing requirements: "));
    // Nothing was recorded.
    assert_eq!(fx.catalog.product("orders.events").unwrap().revision, 1);

    let mut spec = publishable_spec("orders.noports");
    spec.output_ports.clear();
    fx.catalog.create_product(ACTOR, spec).unwrap();
    let err = fx.catalog.transition(ACTOR, "orders.noports", Transition::Publish, None).unwrap_err();
    assert!(err.to_string().contains("it has no output port that is not retired"), "{err}");
}

#[test]
fn refused_transitions_say_why() {
    let fx = Fixture::new();
    fx.domain("orders");
    let spec = fx.publishable("orders.draft", &[]);
    fx.catalog.create_product(ACTOR, spec).unwrap();

    // draft -> deprecated
    let (product, from, to, reason) =
        forbidden(fx.catalog.transition(ACTOR, "orders.draft", deprecate(future(), None), None).unwrap_err());
    assert_eq!((product.as_str(), from, to), ("orders.draft", "draft", "deprecated"));
    assert!(reason.contains("only a published product can be deprecated"), "{reason}");

    // published -> published, published -> retired
    fx.published("orders.pub", &[]);
    let (_, from, to, reason) =
        forbidden(fx.catalog.transition(ACTOR, "orders.pub", Transition::Publish, None).unwrap_err());
    assert_eq!((from, to, reason.as_str()), ("published", "published", "it is already published"));
    let err = fx.catalog.transition(ACTOR, "orders.pub", Transition::Retire, None).unwrap_err();
    assert_eq!(kind(&err), "ForbiddenTransition");
    assert_eq!(
        err.to_string(),
        "data product 'orders.pub' cannot go from published to retired: deprecate it first, with a reason and a \
         sunset date, so its consumers can move away"
    );

    // deprecated -> published, deprecated -> deprecated, deprecated -> retired before the sunset
    fx.catalog.transition(ACTOR, "orders.pub", deprecate(future(), None), None).unwrap();
    let (_, from, to, reason) =
        forbidden(fx.catalog.transition(ACTOR, "orders.pub", Transition::Publish, None).unwrap_err());
    assert_eq!((from, to), ("deprecated", "published"));
    assert!(reason.contains("publish its successor instead"));
    let (_, _, to, reason) =
        forbidden(fx.catalog.transition(ACTOR, "orders.pub", deprecate(future(), None), None).unwrap_err());
    assert_eq!(to, "deprecated");
    assert_eq!(reason, "it is already deprecated, with sunset date 2999-12-31");
    let (_, from, to, reason) =
        forbidden(fx.catalog.transition(ACTOR, "orders.pub", Transition::Retire, None).unwrap_err());
    assert_eq!((from, to), ("deprecated", "retired"));
    assert!(reason.starts_with("its sunset date 2999-12-31 has not come yet"), "{reason}");

    // retired -> anything
    fx.catalog.transition(ACTOR, "orders.draft", Transition::Retire, None).unwrap();
    for t in [Transition::Publish, deprecate(future(), None), Transition::Retire] {
        let (_, from, _, reason) = forbidden(fx.catalog.transition(ACTOR, "orders.draft", t, None).unwrap_err());
        assert_eq!((from, reason.as_str()), ("retired", "a retired product is final"));
    }
}

#[test]
fn deprecation_needs_valid_details() {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.published("orders.events", &[]);
    let cases = [
        (
            Transition::Deprecate { reason: " ".into(), sunset: future(), successor: None },
            "invalid reason: a deprecation needs a reason (1 to 2000 characters)",
        ),
        (
            deprecate(weft_catalog::IsoDate::parse("2000-01-01").unwrap(), None),
            "invalid sunset: 2000-01-01 is in the past",
        ),
        (deprecate(future(), Some("orders.events")), "invalid successor: a product cannot succeed itself"),
        (deprecate(future(), Some("orders.nope")), "invalid successor: data product 'orders.nope' does not exist"),
    ];
    for (t, expected) in cases {
        let err = fx.catalog.transition(ACTOR, "orders.events", t, None).unwrap_err();
        assert_eq!(kind(&err), "InvalidInput", "{err}");
        assert!(err.to_string().starts_with(expected), "{err}");
    }
    let draft = fx.publishable("orders.retired", &[]);
    fx.catalog.create_product(ACTOR, draft).unwrap();
    fx.catalog.transition(ACTOR, "orders.retired", Transition::Retire, None).unwrap();
    let err =
        fx.catalog.transition(ACTOR, "orders.events", deprecate(future(), Some("orders.retired")), None).unwrap_err();
    assert!(err.to_string().contains("'orders.retired' is retired and cannot be the successor"), "{err}");
    assert_eq!(fx.catalog.product("orders.events").unwrap().status(), Status::Published);
}

#[test]
fn unknown_products_and_stale_revisions() {
    let fx = Fixture::new();
    fx.domain("orders");
    let err = fx.catalog.transition(ACTOR, "orders.nope", Transition::Publish, None).unwrap_err();
    assert_eq!((kind(&err), err.to_string()), ("ProductNotFound", "data product 'orders.nope' does not exist".into()));
    let err = fx.catalog.transition(ACTOR, "nope", Transition::Publish, None).unwrap_err();
    assert_eq!(kind(&err), "InvalidId");

    fx.published("orders.events", &[]);
    let err = fx.catalog.transition(ACTOR, "orders.events", deprecate(future(), None), Some(1)).unwrap_err();
    assert_eq!(kind(&err), "RevisionConflict");
    assert_eq!(
        err.to_string(),
        "data product 'orders.events' is at revision 2, but the change was based on revision 1: reload it and retry"
    );

    let err = fx.catalog.create_product(ACTOR, publishable_spec("nodomain.x")).unwrap_err();
    assert_eq!((kind(&err), err.to_string()), ("DomainNotFound", "domain 'nodomain' does not exist".into()));
    let err = fx.catalog.create_product(ACTOR, publishable_spec("orders.events")).unwrap_err();
    assert_eq!(kind(&err), "ProductExists");
    let err = fx.catalog.create_product("", publishable_spec("orders.other")).unwrap_err();
    assert!(err.to_string().starts_with("invalid actor"), "{err}");
}

#[test]
fn published_products_change_compatibly() {
    let fx = Fixture::new();
    fx.domain("orders");
    let product = fx.published("orders.events", &[("id", "")]);
    let base = product.spec.clone();

    // Metadata changes are fine and bump the revision.
    let mut spec = base.clone();
    spec.tags = vec!["sales".into()];
    spec.version = SemVer::new(1, 1, 0);
    let updated = fx.catalog.update_product(ACTOR, "orders.events", spec.clone(), Some(2)).unwrap();
    assert_eq!(updated.revision, 3);
    let last = fx.catalog.product_history("orders.events").unwrap().pop().unwrap();
    assert_eq!(last.changed, ["tags", "version"]);
    let weft_catalog::CatalogEvent::ProductUpdated { before, after } = last.event else { panic!() };
    assert!(before.spec.tags.is_empty());
    assert_eq!(after.spec.tags, ["sales"]);
    // The same spec again records nothing.
    assert_eq!(fx.catalog.update_product(ACTOR, "orders.events", spec.clone(), None).unwrap().revision, 3);

    // Removing the description breaks governance.
    let mut bad = spec.clone();
    bad.description.clear();
    let err = fx.catalog.update_product(ACTOR, "orders.events", bad, None).unwrap_err();
    assert_eq!(kind(&err), "PublishRequirements");

    // Versions never go down.
    let mut bad = spec.clone();
    bad.version = SemVer::new(1, 0, 0);
    let err = fx.catalog.update_product(ACTOR, "orders.events", bad, None).unwrap_err();
    assert_eq!(err.to_string(), "invalid version: 1.0.0 is lower than the current version 1.1.0");

    // A served port keeps its schema subject.
    let mut bad = spec.clone();
    bad.output_ports[0].schema_subject = "other-value".into();
    let err = fx.catalog.update_product(ACTOR, "orders.events", bad, None).unwrap_err();
    assert_eq!(kind(&err), "BreakingChange");
    assert!(
        err.to_string().contains(
            "changing the schema subject of output port 'events' v1 from 'orders.events.events.v1-value' to \
             'other-value' would break its consumers: add output port 'events' v2"
        ),
        "{err}"
    );

    // A served port cannot be removed.
    let mut bad = spec.clone();
    bad.output_ports.clear();
    let err = fx.catalog.update_product(ACTOR, "orders.events", bad, None).unwrap_err();
    assert!(err.to_string().contains("output port 'events' v1 still serves consumers"), "{err}");

    // A new major port needs a new major product version...
    let mut v2 = spec.clone();
    let new_port = output_port(&id("orders.events"), "events", 2);
    fx.schemas.register(&new_port.schema_subject, vec![]);
    v2.output_ports.push(new_port);
    v2.version = SemVer::new(1, 2, 0);
    let err = fx.catalog.update_product(ACTOR, "orders.events", v2.clone(), None).unwrap_err();
    assert!(err.to_string().contains("output port 'events' v2 is a new major version of the port"), "{err}");
    // ... and with it the old port keeps serving next to the new one.
    v2.version = SemVer::new(2, 0, 0);
    let updated = fx.catalog.update_product(ACTOR, "orders.events", v2.clone(), None).unwrap();
    assert_eq!(updated.spec.output_ports.len(), 2);

    // The old port is retired, then removed.
    let mut retire_old = v2.clone();
    retire_old.output_ports[0].status = PortStatus::Retired;
    fx.catalog.update_product(ACTOR, "orders.events", retire_old.clone(), None).unwrap();
    let mut back = retire_old.clone();
    back.output_ports[0].status = PortStatus::Active;
    let err = fx.catalog.update_product(ACTOR, "orders.events", back, None).unwrap_err();
    assert!(err.to_string().contains("cannot become active again"), "{err}");
    let mut removed = retire_old;
    removed.output_ports.remove(0);
    let updated = fx.catalog.update_product(ACTOR, "orders.events", removed, None).unwrap();
    assert_eq!(updated.spec.output_ports[0].version.major, 2);
}

#[test]
fn drafts_change_freely_and_retired_products_are_read_only() {
    let fx = Fixture::new();
    fx.domain("orders");
    let spec = fx.publishable("orders.events", &[]);
    fx.catalog.create_product(ACTOR, spec.clone()).unwrap();
    let mut changed = spec.clone();
    changed.output_ports[0].schema_subject = "anything".into();
    changed.version = SemVer::new(0, 1, 0);
    fx.catalog.update_product(ACTOR, "orders.events", changed.clone(), None).unwrap();

    let mut wrong_id = changed.clone();
    wrong_id.id = id("orders.other");
    let err = fx.catalog.update_product(ACTOR, "orders.events", wrong_id, None).unwrap_err();
    assert!(err.to_string().contains("the body describes product 'orders.other'"), "{err}");

    fx.catalog.transition(ACTOR, "orders.events", Transition::Retire, None).unwrap();
    changed.description = "new".into();
    let err = fx.catalog.update_product(ACTOR, "orders.events", changed, None).unwrap_err();
    assert_eq!(kind(&err), "Forbidden");
    assert_eq!(err.to_string(), "data product 'orders.events': a retired product is read-only");
}

#[test]
fn deletion_needs_retirement_and_the_flag() {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.published("orders.events", &[]);
    let err = fx.catalog.delete_product(ACTOR, "orders.events", true).unwrap_err();
    assert_eq!(kind(&err), "Forbidden");
    assert!(err.to_string().contains("only a retired product can be deleted, and it is published"), "{err}");

    fx.catalog.transition(ACTOR, "orders.events", deprecate(today(), None), None).unwrap();
    fx.catalog.transition(ACTOR, "orders.events", Transition::Retire, None).unwrap();
    let err = fx.catalog.delete_product(ACTOR, "orders.events", false).unwrap_err();
    assert_eq!(kind(&err), "ConfirmationRequired");
    assert!(err.to_string().contains("needs the explicit confirmation flag"), "{err}");

    let deleted = fx.catalog.delete_product(ACTOR, "orders.events", true).unwrap();
    assert_eq!(deleted.spec.output_ports[0].topic, "orders.events.events.v1");
    assert_eq!(kind(&fx.catalog.product("orders.events").unwrap_err()), "ProductNotFound");
    // The history outlives the product.
    let history = fx.catalog.product_history("orders.events").unwrap();
    assert_eq!(history.len(), 5);
    assert!(matches!(history[4].event, weft_catalog::CatalogEvent::ProductDeleted { .. }));
}

#[test]
fn consumed_products_and_non_empty_domains_are_not_deleted() {
    let fx = Fixture::new();
    fx.domain("orders");
    fx.domain("billing");
    let upstream = fx.publishable("orders.events", &[]);
    fx.catalog.create_product(ACTOR, upstream).unwrap();
    let mut downstream = publishable_spec("billing.invoices");
    downstream.input_ports = vec![input_port("orders.events")];
    fx.catalog.create_product(ACTOR, downstream).unwrap();
    fx.catalog.transition(ACTOR, "orders.events", Transition::Retire, None).unwrap();
    let err = fx.catalog.delete_product(ACTOR, "orders.events", true).unwrap_err();
    assert_eq!(kind(&err), "InUse");
    assert_eq!(
        err.to_string(),
        "data product 'orders.events' cannot be deleted: billing.invoices still list(s) it as an input port"
    );
    let err = fx.catalog.delete_domain(ACTOR, "orders").unwrap_err();
    assert!(err.to_string().contains("it still has 1 product(s) (orders.events)"), "{err}");
}

#[test]
fn domains_are_validated_updated_and_deleted() {
    let fx = Fixture::new();
    fx.domain("orders");
    let err = fx.catalog.create_domain(ACTOR, domain_spec("orders")).unwrap_err();
    assert_eq!((kind(&err), err.to_string()), ("DomainExists", "domain 'orders' already exists".into()));

    let mut spec = domain_spec("orders");
    spec.contact = "#orders".into();
    let updated = fx.catalog.update_domain("bob", "orders", spec.clone(), Some(1)).unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.role_of("bob"), Some(weft_catalog::Role::Member));
    let err = fx.catalog.update_domain("bob", "orders", spec.clone(), Some(1)).unwrap_err();
    assert_eq!(kind(&err), "RevisionConflict");

    let mut no_owner = spec.clone();
    no_owner.members.retain(|m| m.role != weft_catalog::Role::Owner);
    let err = fx.catalog.update_domain("bob", "orders", no_owner, None).unwrap_err();
    assert_eq!(kind(&err), "InvalidInput");

    fx.catalog.delete_domain(ACTOR, "orders").unwrap();
    assert_eq!(kind(&fx.catalog.domain("orders").unwrap_err()), "DomainNotFound");
    let history = fx.catalog.domain_history("orders").unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|h| match &h.event {
            weft_catalog::CatalogEvent::DomainCreated { .. } => "created",
            weft_catalog::CatalogEvent::DomainUpdated { before, after } => {
                assert_eq!(before.spec.contact, "orders@example.com");
                assert_eq!(after.spec.contact, "#orders");
                "updated"
            }
            weft_catalog::CatalogEvent::DomainDeleted { .. } => "deleted",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["created", "updated", "deleted"]);
    assert_eq!(history[1].changed, ["contact"]);
    assert_eq!(history[1].actor, "bob");
}
