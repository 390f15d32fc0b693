//! Lineage: a diamond graph, cycles refused with their path, depth limits, field lineage and impact.

use weft_catalog::{CatalogError, Certainty, FieldEdge, FieldInfo, FieldRef};

use crate::common::*;

fn field(product: &str, field: &str) -> FieldRef {
    FieldRef { product: id(product), field: field.into() }
}

fn edge(from: (&str, &str), to: (&str, &str)) -> FieldEdge {
    FieldEdge { from: field(from.0, from.1), to: field(to.0, to.1) }
}

/// mesh.a -> mesh.b -> mesh.d and mesh.a -> mesh.c -> mesh.d (a diamond), owners a: alice, b: bob, c: carol, d: dave.
fn diamond() -> Fixture {
    let fx = Fixture::new();
    fx.domain("mesh");
    for (name, owner, inputs, fields) in [
        ("mesh.a", "alice", vec![], vec!["order_id", "amount", "note"]),
        ("mesh.b", "bob", vec!["mesh.a"], vec!["order_id"]),
        ("mesh.c", "carol", vec!["mesh.a"], vec!["total"]),
        ("mesh.d", "dave", vec!["mesh.b", "mesh.c"], vec!["order_id", "total"]),
    ] {
        let mut spec = publishable_spec(name);
        spec.owner = owner.into();
        spec.input_ports = inputs.into_iter().map(input_port).collect();
        fx.schemas.register(
            &spec.output_ports[0].schema_subject,
            fields.into_iter().map(|f| FieldInfo::new(f, "string", None)).collect(),
        );
        fx.catalog.create_product(ACTOR, spec).unwrap();
    }
    fx
}

fn node_ids(g: &weft_catalog::LineageGraph) -> Vec<(String, usize)> {
    g.nodes.iter().map(|n| (n.id.to_string(), n.depth)).collect()
}

fn edges(g: &weft_catalog::LineageGraph) -> Vec<(String, String)> {
    g.edges.iter().map(|e| (e.from.to_string(), e.to.to_string())).collect()
}

#[test]
fn diamond_walks_visit_each_product_once() {
    let fx = diamond();
    let down = fx.catalog.downstream("mesh.a", None).unwrap();
    assert_eq!(
        node_ids(&down),
        [("mesh.a".into(), 0), ("mesh.b".into(), 1), ("mesh.c".into(), 1), ("mesh.d".into(), 2)]
    );
    assert_eq!(edges(&down).len(), 4);

    let up = fx.catalog.upstream("mesh.d", None).unwrap();
    assert_eq!(node_ids(&up), [("mesh.d".into(), 0), ("mesh.b".into(), 1), ("mesh.c".into(), 1), ("mesh.a".into(), 2)]);
    assert_eq!(edges(&up), edges(&down));

    let shallow = fx.catalog.downstream("mesh.a", Some(1)).unwrap();
    assert_eq!(node_ids(&shallow).len(), 3);
    assert_eq!(edges(&shallow), [("mesh.a".to_string(), "mesh.b".to_string()), ("mesh.a".into(), "mesh.c".into())]);
    assert_eq!(node_ids(&fx.catalog.downstream("mesh.a", Some(0)).unwrap()), [("mesh.a".to_string(), 0)]);
    assert_eq!(kind(&fx.catalog.upstream("mesh.x", None).unwrap_err()), "ProductNotFound");
}

#[test]
fn cycles_are_refused_with_their_path() {
    let fx = diamond();
    let mut a = fx.catalog.product("mesh.a").unwrap().spec;
    a.input_ports = vec![input_port("mesh.d")];
    let err = fx.catalog.update_product(ACTOR, "mesh.a", a.clone(), None).unwrap_err();
    assert_eq!(kind(&err), "LineageCycle");
    assert_eq!(err.to_string(), "lineage cycle: mesh.d -> mesh.a -> mesh.b -> mesh.d");
    let CatalogError::LineageCycle { path } = err else { panic!() };
    assert_eq!(path.first(), path.last());

    a.input_ports = vec![input_port("mesh.a")];
    let err = fx.catalog.update_product(ACTOR, "mesh.a", a, None).unwrap_err();
    assert_eq!(err.to_string(), "lineage cycle: mesh.a -> mesh.a");

    let mut b = fx.catalog.product("mesh.b").unwrap().spec;
    b.input_ports.push(input_port("mesh.d"));
    let err = fx.catalog.update_product(ACTOR, "mesh.b", b, None).unwrap_err();
    assert_eq!(err.to_string(), "lineage cycle: mesh.d -> mesh.b -> mesh.d");
    // Nothing changed.
    assert_eq!(edges(&fx.catalog.downstream("mesh.a", None).unwrap()).len(), 4);
}

#[test]
fn field_impact_follows_field_lineage() {
    let fx = diamond();
    fx.catalog.set_field_lineage(ACTOR, "mesh.b", vec![edge(("mesh.a", "order_id"), ("mesh.b", "order_id"))]).unwrap();
    fx.catalog.set_field_lineage(ACTOR, "mesh.c", vec![edge(("mesh.a", "amount"), ("mesh.c", "total"))]).unwrap();
    fx.catalog
        .set_field_lineage(
            ACTOR,
            "mesh.d",
            vec![edge(("mesh.b", "order_id"), ("mesh.d", "order_id")), edge(("mesh.c", "total"), ("mesh.d", "total"))],
        )
        .unwrap();

    let impact = fx.catalog.impact("mesh.a", Some("order_id")).unwrap();
    let got: Vec<_> =
        impact.affected.iter().map(|a| (a.id.to_string(), a.depth, a.certainty, a.fields.clone())).collect();
    assert_eq!(
        got,
        [
            ("mesh.b".to_string(), 1, Certainty::Known, vec!["order_id".to_string()]),
            ("mesh.d".to_string(), 2, Certainty::Known, vec!["order_id".to_string()]),
        ]
    );
    assert_eq!(impact.owners, ["bob", "dave"]);

    let impact = fx.catalog.impact("mesh.a", Some("amount")).unwrap();
    let got: Vec<_> = impact.affected.iter().map(|a| (a.id.to_string(), a.fields.clone())).collect();
    assert_eq!(
        got,
        [("mesh.c".to_string(), vec!["total".to_string()]), ("mesh.d".to_string(), vec!["total".to_string()])]
    );

    // A field nothing derives from affects nobody; an unknown field is an error.
    assert!(fx.catalog.impact("mesh.a", Some("note")).unwrap().affected.is_empty());
    let err = fx.catalog.impact("mesh.a", Some("nope")).unwrap_err();
    assert_eq!((kind(&err), err.to_string()), ("FieldNotFound", "data product 'mesh.a' has no field 'nope'".into()));

    // The whole product: everyone downstream, owners once each.
    let impact = fx.catalog.impact("mesh.a", None).unwrap();
    assert_eq!(impact.affected.len(), 3);
    assert!(impact.affected.iter().all(|a| a.certainty == Certainty::Known));
    assert_eq!(impact.owners, ["bob", "carol", "dave"]);

    // A consumer without field lineage is possibly affected, and so is what it feeds.
    let mut e = publishable_spec("mesh.e");
    e.owner = "erin".into();
    e.input_ports = vec![input_port("mesh.a")];
    fx.catalog.create_product(ACTOR, e).unwrap();
    let impact = fx.catalog.impact("mesh.a", Some("note")).unwrap();
    let got: Vec<_> = impact.affected.iter().map(|a| (a.id.to_string(), a.certainty)).collect();
    assert_eq!(got, [("mesh.e".to_string(), Certainty::Possible)]);

    let graph = fx.catalog.downstream("mesh.a", None).unwrap();
    assert_eq!(graph.field_edges.len(), 4);
}

#[test]
fn field_lineage_is_validated() {
    let fx = diamond();
    let cases = [
        (edge(("mesh.a", "order_id"), ("mesh.c", "total")), "InvalidInput", "invalid edges[0].to.product"),
        (edge(("mesh.d", "order_id"), ("mesh.b", "order_id")), "InvalidInput", "'mesh.d' is not an input of 'mesh.b'"),
        (
            edge(("mesh.a", "missing"), ("mesh.b", "order_id")),
            "FieldNotFound",
            "data product 'mesh.a' has no field 'missing'",
        ),
        (edge(("mesh.a", "order_id"), ("mesh.b", "")), "InvalidInput", "invalid edges[0].to.field"),
    ];
    for (e, code, message) in cases {
        let err = fx.catalog.set_field_lineage(ACTOR, "mesh.b", vec![e]).unwrap_err();
        assert_eq!(kind(&err), code, "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }
    // Removing an input drops the field lineage that came from it, in the same change.
    fx.catalog.set_field_lineage(ACTOR, "mesh.d", vec![edge(("mesh.b", "order_id"), ("mesh.d", "order_id"))]).unwrap();
    let mut d = fx.catalog.product("mesh.d").unwrap().spec;
    d.input_ports.retain(|p| p.name != "mesh.b");
    fx.catalog.update_product(ACTOR, "mesh.d", d, None).unwrap();
    assert!(fx.catalog.field_lineage("mesh.d").unwrap().is_empty());
    assert_eq!(node_ids(&fx.catalog.upstream("mesh.d", None).unwrap()).len(), 3);
}
