//! What the catalog needs from the SQL layer: the column lineage of persistent queries, and a hook
//! that lets the catalog veto dropping a source its data products depend on.
//!
//! Lineage is derived from the query's syntax tree and the definitions of its inputs, not from run
//! time: for each output column of the sink, the input columns its expression reads (through
//! operators, functions, `CASE`, casts, struct fields and aggregates). A column that is a join key
//! also derives from the key it is joined with (ksqlDB's join output key is whichever side has it),
//! and ksqlDB's synthetic `ROWKEY` of a join derives from both sides' keys. Pseudo-columns
//! (`ROWTIME`, `WINDOWSTART`, ...) and literals derive from no input column. `WHERE` and `HAVING`
//! choose rows but compute no column, so they add no lineage.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ast::{BinaryOp, Expr, Query};
use crate::join::SYNTHETIC_KEY;
use crate::metastore::{SourceDef, RESERVED_COLUMNS};
use crate::plan::{disambiguate_join_names, expand_select, joined_star, star_of, NamedItem};

/// An input of a persistent query.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct InputSource {
    /// The stream or table name.
    pub name: String,
    pub topic: String,
}

/// A column of an input source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ColumnRef {
    /// The input stream or table name.
    pub source: String,
    pub column: String,
}

/// One output column and the input columns it is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnLineage {
    pub name: String,
    /// Whether the column is (part of) the sink's key.
    pub key: bool,
    /// Sorted, each once; empty for literals, window bounds and other pseudo-columns.
    pub inputs: Vec<ColumnRef>,
}

/// The lineage of a stream or table written by persistent queries (its `CREATE ... AS SELECT` and
/// any `INSERT INTO ... SELECT`): the union over those queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryLineage {
    pub sink: String,
    pub sink_topic: String,
    /// Ids of the running queries writing the sink (empty once they were terminated).
    pub query_ids: Vec<String>,
    /// The inputs, in the order the queries name them, each once.
    pub inputs: Vec<InputSource>,
    /// The sink's columns: key columns first, then value columns.
    pub columns: Vec<ColumnLineage>,
}

/// Asked before `DROP STREAM` / `DROP TABLE` runs (never while the engine replays its command log,
/// since a drop that happened must happen again): the ids of what still depends on the source. A
/// non-empty answer refuses the drop. The catalog implements it; the engine does not know products.
pub trait DropGuard: Send + Sync {
    /// What depends on the source `name` whose records are in `topic` (data product ids, sorted).
    fn dependents(&self, name: &str, topic: &str) -> Vec<String>;
}

/// The lineage of one query writing `sink`, over the sources `lookup` knows. Inputs that no longer
/// exist are left out (a terminated query's input may have been dropped since).
pub(crate) fn lineage_of(
    query: &Query,
    sink: &SourceDef,
    lookup: &dyn Fn(&str) -> Option<SourceDef>,
) -> (Vec<InputSource>, Vec<ColumnLineage>) {
    let mut sources: Vec<(String, SourceDef)> = Vec::new();
    if let Some(s) = lookup(&query.from.name) {
        sources.push((query.from.qualifier().to_string(), s));
    }
    for join in &query.joins {
        if let Some(s) = lookup(&join.source.name) {
            sources.push((join.source.qualifier().to_string(), s));
        }
    }
    let inputs = sources.iter().map(|(_, s)| InputSource { name: s.name.clone(), topic: s.topic.clone() }).collect();
    let resolver = Resolver { sources: &sources, join_pairs: join_pairs(query) };
    let items = named_items(query, &sources);
    let columns = sink
        .key_columns
        .iter()
        .map(|c| (c, true))
        .chain(sink.value_columns.iter().map(|c| (c, false)))
        .map(|(column, key)| {
            let mut found = BTreeSet::new();
            match items.iter().find(|i| i.name == column.name) {
                Some(item) => resolver.expr_inputs(&item.expr, &mut found),
                // A key the planner added (`SELECT *` re-keyed by an expression it lacks) or a name
                // this mirror of the planner's naming missed: a same-named input column is the
                // best evidence there is.
                None => match query.partition_by.iter().find(|p| p.implicit_name().as_deref() == Some(&column.name)) {
                    Some(p) => resolver.expr_inputs(p, &mut found),
                    None => resolver.column_inputs(None, &column.name, &mut found),
                },
            }
            ColumnLineage { name: column.name.clone(), key, inputs: found.into_iter().collect() }
        })
        .collect();
    (inputs, columns)
}

/// The select items with their output names, named as the planner names them.
fn named_items(query: &Query, sources: &[(String, SourceDef)]) -> Vec<NamedItem> {
    let joined = !query.joins.is_empty();
    let named: Vec<(&str, &SourceDef)> = sources.iter().map(|(q, s)| (q.as_str(), s)).collect();
    let star = |q: Option<&str>| -> crate::Result<Vec<NamedItem>> {
        if joined {
            return joined_star(&named, q);
        }
        let wanted = sources.iter().filter(|(qualifier, _)| q.is_none_or(|q| q == qualifier));
        Ok(wanted.flat_map(|(qualifier, source)| star_of(source, qualifier)).collect())
    };
    let mut items = expand_select(&query.select, &star).unwrap_or_default();
    if joined {
        disambiguate_join_names(&mut items, &named);
    }
    items
}

/// The `a = b` column pairs of the join conditions.
fn join_pairs(query: &Query) -> Vec<(Expr, Expr)> {
    let mut pairs = Vec::new();
    for join in &query.joins {
        join.on.walk(&mut |e| {
            if let Expr::Binary { op: BinaryOp::Eq, left, right } = e {
                if matches!(**left, Expr::Column { .. }) && matches!(**right, Expr::Column { .. }) {
                    pairs.push(((**left).clone(), (**right).clone()));
                }
            }
        });
    }
    pairs
}

struct Resolver<'a> {
    sources: &'a [(String, SourceDef)],
    join_pairs: Vec<(Expr, Expr)>,
}

impl Resolver<'_> {
    fn expr_inputs(&self, expr: &Expr, found: &mut BTreeSet<ColumnRef>) {
        expr.walk(&mut |e| {
            if let Expr::Column { qualifier, name, .. } = e {
                self.column_inputs(qualifier.as_deref(), name, found);
            }
        });
        // A bare join key also derives from the key it is joined with.
        if let Expr::Column { .. } = expr {
            let own: BTreeSet<ColumnRef> = found.clone();
            for (a, b) in &self.join_pairs {
                for (this, other) in [(a, b), (b, a)] {
                    let Expr::Column { qualifier, name, .. } = this else { continue };
                    let mut side = BTreeSet::new();
                    self.column_inputs(qualifier.as_deref(), name, &mut side);
                    if !side.is_empty() && side.is_subset(&own) {
                        self.expr_inputs_plain(other, found);
                    }
                }
            }
        }
    }

    fn expr_inputs_plain(&self, expr: &Expr, found: &mut BTreeSet<ColumnRef>) {
        expr.walk(&mut |e| {
            if let Expr::Column { qualifier, name, .. } = e {
                self.column_inputs(qualifier.as_deref(), name, found);
            }
        });
    }

    fn column_inputs(&self, qualifier: Option<&str>, name: &str, found: &mut BTreeSet<ColumnRef>) {
        if RESERVED_COLUMNS.contains(&name) {
            return;
        }
        let has = |s: &SourceDef| s.key_columns.iter().chain(&s.value_columns).any(|c| c.name == name);
        let mut matched = false;
        for (q, source) in self.sources {
            if qualifier.is_none_or(|want| want == q) && has(source) {
                found.insert(ColumnRef { source: source.name.clone(), column: name.to_string() });
                matched = true;
            }
        }
        if !matched && name == SYNTHETIC_KEY && self.sources.len() > 1 {
            // The synthetic key of a join is the join key, whichever side had it.
            for (a, b) in &self.join_pairs {
                self.expr_inputs_plain(a, found);
                self.expr_inputs_plain(b, found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use weft_log::{EmbeddedLog, EventLog, LogOptions};

    use super::*;
    use crate::{Engine, EngineOptions};

    fn engine(dir: &std::path::Path) -> Engine {
        let log: Arc<dyn EventLog> = EmbeddedLog::open(LogOptions::new(dir)).expect("open log");
        Engine::open(log, EngineOptions { background: false, ..EngineOptions::default() }).expect("engine")
    }

    const ORDERS: &str = "CREATE STREAM ORDERS (ID STRING KEY, CUSTOMER_ID STRING, AMOUNT DOUBLE, \
                          ADDRESS STRUCT<CITY STRING>) WITH (kafka_topic='orders', value_format='JSON', partitions=1);";
    const CUSTOMERS: &str = "CREATE TABLE CUSTOMERS (ID STRING PRIMARY KEY, NAME STRING, TIER STRING) \
                             WITH (kafka_topic='customers', value_format='JSON', partitions=1);";

    fn r(source: &str, column: &str) -> ColumnRef {
        ColumnRef { source: source.into(), column: column.into() }
    }

    fn inputs_of(l: &QueryLineage, column: &str) -> Vec<ColumnRef> {
        l.columns
            .iter()
            .find(|c| c.name == column)
            .unwrap_or_else(|| panic!("no column {column} in {l:?}"))
            .inputs
            .clone()
    }

    #[test]
    fn projection_aliases_and_expressions() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.execute(ORDERS).unwrap();
        e.execute(
            "CREATE STREAM BIG WITH (kafka_topic='big') AS SELECT ID, AMOUNT * 1.2 AS GROSS, \
             CASE WHEN AMOUNT > 100 THEN UCASE(CUSTOMER_ID) ELSE 'small' END AS LABEL, ADDRESS->CITY, \
             'x' AS CONST, ROWTIME AS TS FROM ORDERS WHERE AMOUNT > 10;",
        )
        .unwrap();
        let l = e.lineage("BIG").expect("lineage");
        assert_eq!(l.sink_topic, "big");
        assert_eq!(l.inputs, [InputSource { name: "ORDERS".into(), topic: "orders".into() }]);
        assert_eq!(l.query_ids.len(), 1);
        let names: Vec<(&str, bool)> = l.columns.iter().map(|c| (c.name.as_str(), c.key)).collect();
        assert_eq!(
            names,
            [("ID", true), ("GROSS", false), ("LABEL", false), ("CITY", false), ("CONST", false), ("TS", false)]
        );
        assert_eq!(inputs_of(&l, "ID"), [r("ORDERS", "ID")]);
        assert_eq!(inputs_of(&l, "GROSS"), [r("ORDERS", "AMOUNT")]);
        assert_eq!(inputs_of(&l, "LABEL"), [r("ORDERS", "AMOUNT"), r("ORDERS", "CUSTOMER_ID")]);
        assert_eq!(inputs_of(&l, "CITY"), [r("ORDERS", "ADDRESS")]);
        assert!(inputs_of(&l, "CONST").is_empty());
        assert!(inputs_of(&l, "TS").is_empty());
        // A source not written by a query has no lineage, nor has an unknown name.
        assert_eq!(e.lineage("ORDERS"), None);
        assert_eq!(e.lineage("NOPE"), None);
    }

    #[test]
    fn star_and_insert_into_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.execute(ORDERS).unwrap();
        e.execute(
            "CREATE STREAM ORDERS2 (ID STRING KEY, CUSTOMER_ID STRING, AMOUNT DOUBLE, ADDRESS STRUCT<CITY STRING>) \
             WITH (kafka_topic='orders2', value_format='JSON', partitions=1);",
        )
        .unwrap();
        e.execute("CREATE STREAM ALL_ORDERS AS SELECT * FROM ORDERS;").unwrap();
        e.execute("INSERT INTO ALL_ORDERS SELECT * FROM ORDERS2;").unwrap();
        let l = e.lineage("ALL_ORDERS").expect("lineage");
        assert_eq!(l.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["ORDERS", "ORDERS2"]);
        assert_eq!(l.query_ids.len(), 2);
        assert_eq!(inputs_of(&l, "AMOUNT"), [r("ORDERS", "AMOUNT"), r("ORDERS2", "AMOUNT")]);
    }

    #[test]
    fn aggregates_and_group_keys() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.execute(ORDERS).unwrap();
        e.execute(
            "CREATE TABLE SPEND AS SELECT CUSTOMER_ID, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL, \
             WINDOWSTART AS WS FROM ORDERS WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY CUSTOMER_ID;",
        )
        .unwrap();
        let l = e.lineage("SPEND").expect("lineage");
        assert_eq!(inputs_of(&l, "CUSTOMER_ID"), [r("ORDERS", "CUSTOMER_ID")]);
        assert!(l.columns.iter().any(|c| c.name == "CUSTOMER_ID" && c.key));
        assert!(inputs_of(&l, "N").is_empty());
        assert_eq!(inputs_of(&l, "TOTAL"), [r("ORDERS", "AMOUNT")]);
        assert!(inputs_of(&l, "WS").is_empty());
    }

    #[test]
    fn joins_follow_keys_to_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.execute(ORDERS).unwrap();
        e.execute(CUSTOMERS).unwrap();
        e.execute(
            "CREATE STREAM ENRICHED AS SELECT O.CUSTOMER_ID AS CUSTOMER_ID, O.ID AS ORDER_ID, C.NAME, \
             CONCAT(C.TIER, '-', O.ID) AS TAG, O.AMOUNT FROM ORDERS O JOIN CUSTOMERS C ON O.CUSTOMER_ID = C.ID;",
        )
        .unwrap();
        let l = e.lineage("ENRICHED").expect("lineage");
        assert_eq!(l.inputs.iter().map(|i| i.topic.as_str()).collect::<Vec<_>>(), ["orders", "customers"]);
        assert_eq!(inputs_of(&l, "CUSTOMER_ID"), [r("CUSTOMERS", "ID"), r("ORDERS", "CUSTOMER_ID")]);
        assert!(l.columns.iter().any(|c| c.name == "CUSTOMER_ID" && c.key));
        assert_eq!(inputs_of(&l, "ORDER_ID"), [r("ORDERS", "ID")]);
        assert_eq!(inputs_of(&l, "NAME"), [r("CUSTOMERS", "NAME")]);
        assert_eq!(inputs_of(&l, "TAG"), [r("CUSTOMERS", "TIER"), r("ORDERS", "ID")]);
        assert_eq!(inputs_of(&l, "AMOUNT"), [r("ORDERS", "AMOUNT")]);
    }

    struct Deny;

    impl DropGuard for Deny {
        fn dependents(&self, name: &str, topic: &str) -> Vec<String> {
            if topic == "orders" {
                vec![format!("sales.{}", name.to_lowercase())]
            } else {
                Vec::new()
            }
        }
    }

    #[test]
    fn the_drop_guard_refuses_and_names_the_dependents() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.execute(ORDERS).unwrap();
        e.execute(CUSTOMERS).unwrap();
        e.set_drop_guard(Arc::new(Deny));
        let err = e.execute("DROP STREAM ORDERS;").unwrap_err();
        assert_eq!(err.error_code(), 40001);
        assert_eq!(err.to_string(), "Cannot drop ORDERS: published data products depend on it: sales.orders");
        assert!(e.source("ORDERS").is_some());
        e.execute("DROP TABLE CUSTOMERS;").unwrap();
        // `IF EXISTS` on a missing source is still fine.
        e.execute("DROP STREAM IF EXISTS NOPE;").unwrap();
    }
}
