//! The planner: turns a parsed `SELECT` into a [`PlannedQuery`], an executable operator plus a
//! printable [`Plan`] (what `EXPLAIN` shows).
//!
//! Key rules follow ksqlDB: the key of a derived stream or table is the source key (no change),
//! the `PARTITION BY` expressions, or the `GROUP BY` expressions, and the projection must name
//! every key column, so that the output schema says which columns are the key.

use std::fmt;

use crate::aggregate::{plan_aggregate, AggregateOp};
use crate::ast::{Expr, Query, SelectItem};
use crate::error::{Result, SqlError};
use crate::expr::{compile, Compiled, Scope};
use crate::format::Column;
use crate::join::{plan_join, JoinOp};
use crate::metastore::{Kind, SourceDef, WindowInfo, RESERVED_COLUMNS};
use crate::types::SqlType;

/// A printable query plan: one line per step, sink first, source last (as ksqlDB prints its
/// logical plan).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Plan {
    pub steps: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (depth, step) in self.steps.iter().rev().enumerate() {
            writeln!(f, "{}> [ {step} ]", " ".repeat(depth * 2))?;
        }
        Ok(())
    }
}

/// A column of the query's result, in projection order.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: SqlType,
    pub is_key: bool,
}

/// What runs the query.
#[derive(Debug)]
pub enum Operator {
    Stateless(Box<StatelessOp>),
    Aggregate(Box<AggregateOp>),
    Join(Box<JoinOp>),
    /// A join whose rows feed an aggregation (`... JOIN ... GROUP BY`).
    JoinAggregate(Box<JoinOp>, Box<AggregateOp>),
}

/// Filter and projection (and re-keying) of one stream or table: no state.
#[derive(Debug)]
pub struct StatelessOp {
    pub source_kind: Kind,
    pub filter: Option<Compiled>,
    /// Projection in select order.
    pub items: Vec<Compiled>,
    /// Row index of ROWTIME in the source row.
    pub rowtime: usize,
    /// Row indexes of WINDOWSTART / WINDOWEND for windowed sources.
    pub window_bounds: Option<(usize, usize)>,
    /// Table functions (`EXPLODE(array)`): their arguments over the source row. Each input row
    /// gives as many output rows as the longest array; the items read element `i` of each array
    /// (NULL past its end) as the extra row column `table_fn_base + k`.
    pub table_fns: Vec<Compiled>,
    pub table_fn_base: usize,
    /// Per item: NULL in the record a stream's null value passes on as. A PARTITION BY key
    /// computed from value columns or pseudo-columns is, as ksqlDB evaluates it over the missing
    /// value; one computed from key columns only is evaluated.
    pub tombstone_nulls: Vec<bool>,
}

/// A planned query, ready to run.
#[derive(Debug)]
pub struct PlannedQuery {
    pub inputs: Vec<SourceDef>,
    pub operator: Operator,
    pub columns: Vec<OutputColumn>,
    pub kind: Kind,
    pub window: Option<WindowInfo>,
    pub limit: Option<u64>,
    pub plan: Plan,
    /// The result's key columns are its input's key, passed through: where the input had no key
    /// (all its key columns null), neither has the output (ksqlDB writes the null key it read).
    pub key_from_source: bool,
}

impl PlannedQuery {
    pub fn key_columns(&self) -> Vec<Column> {
        self.columns.iter().filter(|c| c.is_key).map(|c| Column { name: c.name.clone(), ty: c.ty.clone() }).collect()
    }

    pub fn value_columns(&self) -> Vec<Column> {
        self.columns.iter().filter(|c| !c.is_key).map(|c| Column { name: c.name.clone(), ty: c.ty.clone() }).collect()
    }
}

/// The order that moves the key columns of a persistent query's result to the front, in the order
/// of `key_positions` (indexes into the result), the value columns keeping theirs: ksqlDB's sink
/// schema lists the key columns first, in the order of the GROUP BY or PARTITION BY expressions
/// (`GROUP BY f2, f1` keys by `f2, f1` whatever the projection's order). Apply it with [`permute`].
pub(crate) fn keys_first(len: usize, key_positions: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = key_positions.to_vec();
    order.extend((0..len).filter(|i| !key_positions.contains(i)));
    order
}

/// Reorders `v` so that its `i`-th element is the old `order[i]`-th.
pub(crate) fn permute<T>(v: &mut Vec<T>, order: &[usize]) {
    let mut old: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.iter().filter_map(|p| old.get_mut(*p).and_then(Option::take)));
}

/// `e` as ksqlDB prints it in messages: every column qualified by the source (or alias) it
/// resolves to in `scope` (`ABS(INPUT.ID)`); a column that does not resolve is left as written.
pub(crate) fn qualified_text(e: &Expr, scope: &Scope) -> String {
    let mut e = e.clone();
    e.rewrite(&mut |x| {
        if let Expr::Column { qualifier: qualifier @ None, name, .. } = x {
            if let Ok(i) = scope.resolve(None, name) {
                qualifier.clone_from(&scope.columns[i].qualifier);
            }
            return true;
        }
        false
    });
    e.to_string()
}

/// Joins names as ksqlDB's `GrammaticalJoiner` does: `A`, `A and B`, `A, B and C` (or `or`).
pub(crate) fn grammatical(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// ksqlDB's refusal of a persistent query whose projection lacks its key: `kind` names what the key
/// is made of (`key column`, `grouping expression`, `partitioning expression`, `join expression`);
/// with `require_all` every one of `keys` must be projected, else any one (joins). A synthetic join
/// key (`ROWKEY`) gets ksqlDB's explanation of where it comes from.
pub(crate) fn key_missing(sink: &str, kind: &str, keys: &[String], require_all: bool, synthetic: bool) -> SqlError {
    let plural = if keys.len() == 1 { "" } else { "s" };
    let joined = grammatical(keys, if require_all { "and" } else { "or" });
    let example = if require_all { keys.join(", ") } else { keys.first().cloned().unwrap_or_default() };
    let see = if synthetic { "See https://cnfl.io/2LV7ouS." } else { "" };
    let why = if synthetic {
        format!(
            "\n{joined} was added as a synthetic key column because the join criteria did not match any source \
             column. This expression must be included in the projection and may be aliased. "
        )
    } else {
        String::new()
    };
    SqlError::analysis(format!(
        "Key{plural} missing from projection (ie, SELECT). {see}\nThe query used to build `{sink}` must include the \
         {kind}{plural} {joined} in its projection (eg, SELECT {example}...).{why}"
    ))
}

/// Where a query's result goes, which decides the key checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// CREATE ... AS SELECT / INSERT INTO: the projection must include the key columns.
    Persistent,
    /// CREATE ... AS SELECT under ksqlDB's new planner (`ksql.new.query.planner.enabled`), which
    /// keys the result by the source's key columns it selects, none if it selects none, instead of
    /// refusing a projection without them.
    PersistentSelectedKeys,
    /// A push or pull query: rows go to a client.
    Transient,
}

impl Purpose {
    /// Whether the result goes to a sink (a persistent query).
    pub fn persistent(self) -> bool {
        self != Purpose::Transient
    }
}

/// One select item after `*` expansion, with its output name.
#[derive(Debug, Clone)]
pub struct NamedItem {
    pub name: String,
    pub expr: Expr,
    /// Whether `*` produced the item.
    pub from_star: bool,
    /// Whether the name was given with `AS`.
    pub aliased: bool,
}

/// ksqlDB's naming in joins: an unaliased `Q.NAME` is called `Q_NAME` when several joined sources
/// have a column `NAME`.
pub(crate) fn disambiguate_join_names(items: &mut [NamedItem], sources: &[(&str, &SourceDef)]) {
    for item in items.iter_mut().filter(|i| !i.from_star && !i.aliased) {
        let Expr::Column { qualifier, name, .. } = &item.expr else { continue };
        // Every source has the pseudo-columns (ROWTIME, ...): `S.ROWTIME` is called `S_ROWTIME`.
        let pseudo = RESERVED_COLUMNS.contains(&name.as_str());
        let owners: Vec<&str> = sources
            .iter()
            .filter(|(_, s)| pseudo || s.key_columns.iter().chain(&s.value_columns).any(|c| &c.name == name))
            .map(|(q, _)| *q)
            .collect();
        if owners.len() > 1 {
            if let Some(q) = qualifier.as_deref().or(owners.first().copied()) {
                item.name = format!("{q}_{name}");
            }
        }
    }
}

/// Expands `*` and names every item (alias, column or field name, else `KSQL_COL_n`).
pub fn expand_select(
    select: &[SelectItem],
    star: &dyn Fn(Option<&str>) -> Result<Vec<NamedItem>>,
) -> Result<Vec<NamedItem>> {
    let mut out: Vec<NamedItem> = Vec::new();
    let mut generated = 0;
    // A generated name skips the source's column names as well as the aliases (ksqlDB's
    // ColumnNames: `KSQL_COL_n` of a source column is taken).
    let source_names: Vec<String> =
        star(None).map(|items| items.into_iter().map(|i| i.name).collect()).unwrap_or_default();
    for item in select {
        match item {
            SelectItem::Wildcard => out.extend(star(None)?.into_iter().map(|i| NamedItem { from_star: true, ..i })),
            SelectItem::QualifiedWildcard(q) => {
                out.extend(star(Some(q))?.into_iter().map(|i| NamedItem { from_star: true, ..i }))
            }
            SelectItem::StructAll(e) => {
                return Err(SqlError::analysis(format!("internal error: {e}->* was not expanded before planning")));
            }
            SelectItem::Expr { expr, alias } => {
                let name = match alias.clone().or_else(|| expr.implicit_name()) {
                    Some(n) => n,
                    None => {
                        let mut n;
                        loop {
                            n = format!("KSQL_COL_{generated}");
                            generated += 1;
                            let taken = source_names.contains(&n)
                                || select
                                    .iter()
                                    .any(|s| matches!(s, SelectItem::Expr { alias: Some(a), .. } if *a == n));
                            if !taken {
                                break;
                            }
                        }
                        n
                    }
                };
                // A struct field named like an earlier column or a source column takes the first
                // free `_n` suffix (ksqlDB's simple-struct.json: `B, A->B, C->B` are B, B_1, B_2,
                // and `ITEMID->ITEMID` is ITEMID_1).
                let name = if alias.is_none() && matches!(expr, Expr::Field { .. }) {
                    let taken = |n: &str| out.iter().any(|o| o.name == n) || source_names.iter().any(|s| s == n);
                    let mut unique = name.clone();
                    let mut n = 0;
                    while taken(&unique) {
                        n += 1;
                        unique = format!("{name}_{n}");
                    }
                    unique
                } else {
                    name
                };
                out.push(NamedItem { name, expr: expr.clone(), from_star: false, aliased: alias.is_some() });
            }
        }
    }
    Ok(out)
}

/// Refuses two output columns with the same name.
pub fn check_unique_names(items: &[NamedItem]) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].iter().any(|o| o.name == item.name) {
            return Err(SqlError::analysis(format!(
                "duplicate column name '{}' in the projection: give one of them an alias with AS",
                item.name
            )));
        }
    }
    Ok(())
}

pub(crate) fn column_expr(qualifier: Option<&str>, name: &str) -> Expr {
    Expr::Column { qualifier: qualifier.map(str::to_string), name: name.to_string(), pos: Default::default() }
}

/// The expression with column qualifiers of `source` removed, for matching GROUP BY and PARTITION BY
/// expressions against projection items written with or without qualifiers.
pub(crate) fn unqualified(e: &Expr) -> String {
    let mut e = e.clone();
    // Qualifiers are dropped through operators, casts, fields, subscripts and calls only (predicates,
    // CASE and constructors keep theirs), as ksqlDB's matching does. `rewrite` is iterative.
    e.rewrite(&mut |x| match x {
        Expr::Column { qualifier, .. } => {
            *qualifier = None;
            true
        }
        Expr::Negate(_)
        | Expr::Not(_)
        | Expr::Binary { .. }
        | Expr::Cast { .. }
        | Expr::Field { .. }
        | Expr::Subscript { .. }
        | Expr::Call { .. } => false,
        _ => true,
    });
    e.to_string()
}

/// Plans a query over the sources `lookup` resolves.
pub fn plan_query(
    query: &Query,
    lookup: &dyn Fn(&str) -> Result<SourceDef>,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let expanded;
    let query = if query.select.iter().any(|s| matches!(s, SelectItem::StructAll(_))) {
        expanded = expand_struct_all(query, lookup)?;
        &expanded
    } else {
        query
    };
    let planned = plan_any(query, lookup, purpose, sink_name)?;
    // A sink record must have a value: ksqlDB refuses a persistent query that projects only keys.
    if purpose.persistent() && planned.columns.iter().all(|c| c.is_key) {
        return Err(SqlError::analysis("The projection contains no value columns."));
    }
    Ok(planned)
}

/// The query with each `s->*` replaced by one `s->field` item per field of the struct `s`.
fn expand_struct_all(query: &Query, lookup: &dyn Fn(&str) -> Result<SourceDef>) -> Result<Query> {
    let mut scope = Scope::default();
    for from in std::iter::once(&query.from).chain(query.joins.iter().map(|j| &j.source)) {
        scope.columns.extend(lookup(&from.name)?.scope(from.qualifier()).columns);
    }
    let mut select = Vec::with_capacity(query.select.len());
    for item in &query.select {
        let SelectItem::StructAll(e) = item else {
            select.push(item.clone());
            continue;
        };
        let SqlType::Struct(fields) = compile(e, &scope)?.ty else {
            return Err(SqlError::analysis(format!("'->*' needs a STRUCT but {e} is not one")));
        };
        select.extend(fields.into_iter().map(|(field, _)| SelectItem::Expr {
            expr: Expr::Field { expr: Box::new(e.clone()), field },
            alias: None,
        }));
    }
    Ok(Query { select, ..query.clone() })
}

fn plan_any(
    query: &Query,
    lookup: &dyn Fn(&str) -> Result<SourceDef>,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    if select_has_table_functions(query) {
        if !query.group_by.is_empty() || select_has_aggregates(query) {
            return Err(SqlError::analysis("Table functions cannot be used with aggregations."));
        }
        if !query.joins.is_empty() {
            return Err(SqlError::Unsupported("table functions (EXPLODE) in a join".into()));
        }
    }
    if !query.joins.is_empty() {
        if !query.group_by.is_empty() || query.window.is_some() || select_has_aggregates(query) {
            return crate::join::plan_join_aggregate(query, lookup, purpose, sink_name);
        }
        return plan_join(query, lookup, purpose, sink_name);
    }
    let source = lookup(&query.from.name)?;
    let qualifier = query.from.qualifier().to_string();
    let scope = source.scope(&qualifier);
    if !query.group_by.is_empty() || select_has_aggregates(query) {
        if source.value_format == crate::format::Format::Kafka {
            return Err(SqlError::analysis(format!(
                "Source(s) {} are using the 'KAFKA' value format. This format does not yet support GROUP BY.",
                source.name
            )));
        }
        return plan_aggregate(query, source, scope, purpose, sink_name);
    }
    if query.window.is_some() {
        return Err(SqlError::analysis("WINDOW clause requires a GROUP BY clause."));
    }
    if purpose.persistent() && source.kind == Kind::Table && source.window.is_some() {
        return Err(SqlError::analysis("KSQL does not support persistent queries on windowed tables."));
    }
    if query.having.is_some() {
        return Err(SqlError::analysis("HAVING clause requires a GROUP BY clause"));
    }
    plan_stateless(query, source, &scope, purpose, sink_name)
}

/// The qualifier of the extra row columns that carry table function results.
const TABLE_FN_QUALIFIER: &str = "__TABLE_FN";

pub(crate) fn is_table_function(name: &str) -> bool {
    name.eq_ignore_ascii_case("EXPLODE") || name.eq_ignore_ascii_case("CUBE_EXPLODE")
}

fn select_has_table_functions(query: &Query) -> bool {
    let mut found = false;
    for item in &query.select {
        if let SelectItem::Expr { expr, .. } = item {
            expr.walk(&mut |e| found |= matches!(e, Expr::Call { name, .. } if is_table_function(name)));
        }
    }
    found
}

pub(crate) fn select_has_aggregates(query: &Query) -> bool {
    let mut found = false;
    for item in &query.select {
        if let SelectItem::Expr { expr, .. } = item {
            expr.walk(&mut |e| {
                if let Expr::Call { name, .. } = e {
                    if crate::functions::is_aggregate(name) {
                        found = true;
                    }
                }
            });
        }
    }
    found
}

/// `*` over one source: key columns then value columns (and window bounds of windowed sources).
pub(crate) fn star_of(source: &SourceDef, qualifier: &str) -> Vec<NamedItem> {
    let mut items: Vec<NamedItem> = source
        .key_columns
        .iter()
        .map(|c| NamedItem {
            name: c.name.clone(),
            expr: column_expr(Some(qualifier), &c.name),
            from_star: false,
            aliased: false,
        })
        .collect();
    if source.window.is_some() {
        for name in [crate::metastore::WINDOWSTART, crate::metastore::WINDOWEND] {
            items.push(NamedItem {
                name: name.to_string(),
                expr: column_expr(Some(qualifier), name),
                from_star: false,
                aliased: false,
            });
        }
    }
    items.extend(source.value_columns.iter().map(|c| NamedItem {
        name: c.name.clone(),
        expr: column_expr(Some(qualifier), &c.name),
        from_star: false,
        aliased: false,
    }));
    items
}

/// `*` over joined sources as ksqlDB names it: every key and value column of each source (or of the
/// one `only` names, for `Q.*`) as `QUALIFIER_COLUMN`.
pub(crate) fn joined_star(sources: &[(&str, &SourceDef)], only: Option<&str>) -> Result<Vec<NamedItem>> {
    if let Some(q) = only {
        if !sources.iter().any(|(qualifier, _)| *qualifier == q) {
            return Err(SqlError::analysis(format!("'{q}' is not a valid stream/table name or alias.")));
        }
    }
    let wanted = sources.iter().filter(|(qualifier, _)| only.is_none_or(|q| q == *qualifier));
    Ok(wanted
        .flat_map(|(qualifier, source)| {
            // A windowed source's window bounds are columns of its rows, after the key.
            let bounds: &[&str] = if source.window.is_some() {
                &[crate::metastore::WINDOWSTART, crate::metastore::WINDOWEND]
            } else {
                &[]
            };
            let names = source
                .key_columns
                .iter()
                .map(|c| c.name.as_str())
                .chain(bounds.iter().copied())
                .chain(source.value_columns.iter().map(|c| c.name.as_str()));
            names.map(move |name| NamedItem {
                name: format!("{qualifier}_{name}"),
                expr: column_expr(Some(qualifier), name),
                from_star: false,
                aliased: false,
            })
        })
        .collect())
}

/// An unknown column in a clause, named as ksqlDB names it (`WHERE column 'X' cannot be
/// resolved.`); other errors pass unchanged.
pub(crate) fn in_clause(err: SqlError, clause: &str) -> SqlError {
    match &err {
        SqlError::Analysis(m) => {
            match m.strip_prefix("column '").and_then(|r| r.strip_suffix("' cannot be resolved")) {
                Some(column) => SqlError::analysis(format!("{clause} column '{column}' cannot be resolved.")),
                None => err,
            }
        }
        _ => err,
    }
}

/// A projection item, with ksqlDB's wording for what is wrong with it.
pub(crate) fn compile_select(e: &Expr, scope: &Scope) -> Result<Compiled> {
    let c = compile(e, scope).map_err(|err| match in_clause(err, "SELECT") {
        SqlError::Analysis(m) if m.starts_with("Cast of ") => SqlError::Analysis(format!("Invalid Select: {m}")),
        other => other,
    })?;
    if c.ty == SqlType::Null {
        return Err(SqlError::analysis(
            "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).",
        ));
    }
    Ok(c)
}

/// A `WHERE` clause, which must be a boolean (or NULL) expression.
pub(crate) fn compile_where(filter: &Expr, scope: &Scope) -> Result<Compiled> {
    // ksqlDB's wording, which names the clause an expression error is in.
    let c = compile(filter, scope).map_err(|e| match in_clause(e, "WHERE") {
        SqlError::Analysis(m) if !m.starts_with("WHERE column ") => {
            SqlError::Analysis(format!("Error in WHERE expression: {m}"))
        }
        other => other,
    })?;
    if !matches!(c.ty, SqlType::Boolean | SqlType::Null) {
        return Err(SqlError::analysis(format!(
            "Type error in WHERE expression: Should evaluate to boolean but is {filter} ({}) instead.",
            c.ty
        )));
    }
    Ok(c)
}

pub(crate) fn check_output_names(items: &[NamedItem], purpose: Purpose) -> Result<()> {
    check_unique_names(items)?;
    if purpose.persistent() {
        for item in items {
            if RESERVED_COLUMNS.contains(&item.name.as_str()) {
                // ksqlDB's two wordings: an alias that is reserved, or a column selected as it is.
                // `l.ROWTIME AS ROWTIME` selects the column as it is.
                let renamed = item.aliased && !matches!(&item.expr, Expr::Column { name, .. } if *name == item.name);
                return Err(SqlError::analysis(if renamed {
                    format!("`{}` is a reserved column name. You cannot use it as an alias for a column.", item.name)
                } else {
                    format!("Reserved column name in select: `{}`. Please remove or alias the column.", item.name)
                }));
            }
        }
    }
    Ok(())
}

fn plan_stateless(
    query: &Query,
    source: SourceDef,
    scope: &Scope,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let qualifier = query.from.qualifier().to_string();
    let src = source.clone();
    let q2 = qualifier.clone();
    let rekeyed = !query.partition_by.is_empty();
    let star = move |q: Option<&str>| -> Result<Vec<NamedItem>> {
        if let Some(q) = q {
            if q != q2 {
                return Err(SqlError::analysis(format!("'{q}' is not a valid stream/table name or alias.")));
            }
        }
        let mut items = star_of(&src, &q2);
        if rekeyed {
            // ksqlDB moves the old key into the value, after the other columns.
            items.rotate_left(src.key_columns.len());
        }
        Ok(items)
    };
    let mut items = expand_select(&query.select, &star)?;
    // Window bounds of a windowed source are part of its key in ksqlDB; keep them as values here.
    let windowed_source = source.window.is_some();
    if windowed_source && query.select.iter().any(|s| matches!(s, SelectItem::Wildcard)) && purpose.persistent() {
        items.retain(|i| i.name != crate::metastore::WINDOWSTART && i.name != crate::metastore::WINDOWEND);
    }
    check_output_names(&items, purpose)?;
    let filter = query.filter.as_ref().map(|f| compile_where(f, scope)).transpose()?;
    let kind = source.kind;
    if !query.partition_by.is_empty() && kind == Kind::Table {
        return Err(SqlError::analysis(
            "PARTITION BY is only supported on streams: tables are keyed by their PRIMARY KEY",
        ));
    }
    // PARTITION BY NULL leaves the output without key columns (ksqlDB's KEY_FORMAT NONE).
    let is_null = |e: &Expr| matches!(e, Expr::Literal(crate::ast::Literal::Null));
    let partition_null = matches!(query.partition_by.as_slice(), [p] if is_null(p));
    if query.partition_by.len() > 1 && query.partition_by.iter().any(is_null) {
        return Err(SqlError::analysis("Cannot PARTITION BY multiple columns including NULL"));
    }
    // PARTITION BY applies to the input: its columns are the source's, not the projection's.
    for p in &query.partition_by {
        compile(p, scope).map_err(|e| {
            let e = in_clause(e, "PARTITION BY");
            match (&e, p) {
                (SqlError::Analysis(m), Expr::Column { qualifier: None, name, .. })
                    if m.starts_with("PARTITION BY column") && items.iter().any(|i| i.name == *name) =>
                {
                    SqlError::analysis(format!(
                        "{m} '{name}' must be a column in the source schema since PARTITION BY is applied on the \
                         input."
                    ))
                }
                _ => e,
            }
        })?;
    }
    let key_exprs: Vec<String> = if partition_null {
        Vec::new()
    } else if query.partition_by.is_empty() {
        // As projection items print them: a lower-case key column is `id`, quoted.
        source.key_columns.iter().map(|c| unqualified(&column_expr(None, &c.name))).collect()
    } else {
        query.partition_by.iter().map(unqualified).collect()
    };
    // `SELECT *` re-keyed by an expression it does not contain gets that expression as its key.
    if query.select.iter().any(|s| matches!(s, SelectItem::Wildcard)) && !partition_null {
        let mut generated = 0;
        for (p, text) in query.partition_by.iter().zip(&key_exprs) {
            if items.iter().any(|i| unqualified(&i.expr) == *text) {
                continue;
            }
            let name = p.implicit_name().unwrap_or_else(|| {
                let n = format!("KSQL_COL_{generated}");
                generated += 1;
                n
            });
            items.insert(0, NamedItem { name, expr: p.clone(), from_star: false, aliased: false });
        }
    }
    // Table functions become extra columns after the source row.
    let table_fn_base = scope.columns.len();
    let mut table_fns: Vec<Compiled> = Vec::new();
    let mut ext_scope = scope.clone();
    let mut rewritten: Vec<Expr> = Vec::with_capacity(items.len());
    for item in &items {
        let mut e = item.expr.clone();
        let mut failure = None;
        e.rewrite(&mut |x| {
            let Expr::Call { name, args, pos, .. } = x else { return false };
            if !is_table_function(name) {
                return false;
            }
            let arg = match args.as_slice() {
                // CUBE_EXPLODE is EXPLODE over the array of its argument's combinations.
                [a] if name.eq_ignore_ascii_case("CUBE_EXPLODE") => {
                    let cube =
                        Expr::Call { name: "CUBE_EXPLODE".into(), args: vec![a.clone()], star: false, pos: *pos };
                    compile(&cube, scope)
                }
                [a] => compile(a, scope),
                _ => Err(SqlError::analysis(format!("Function 'explode' takes 1 argument, got {}", args.len()))),
            };
            match arg {
                Ok(c) => match c.ty.clone() {
                    SqlType::Array(elem) => {
                        let col = format!("__TABLE_FN_{}", table_fns.len());
                        ext_scope.columns.push(crate::expr::ScopeColumn {
                            qualifier: Some(TABLE_FN_QUALIFIER.into()),
                            name: col.clone(),
                            ty: *elem,
                        });
                        table_fns.push(c);
                        *x = Expr::Column { qualifier: Some(TABLE_FN_QUALIFIER.into()), name: col, pos: *pos };
                    }
                    other => {
                        failure.get_or_insert(SqlError::analysis(format!(
                            "Function 'explode' does not accept parameters ({other}).\nValid alternatives are:\n\
                             explode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)"
                        )));
                    }
                },
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
            true
        });
        if let Some(err) = failure {
            return Err(err);
        }
        rewritten.push(e);
    }
    if !table_fns.is_empty() && kind == Kind::Table {
        return Err(SqlError::analysis("Table source is not supported with table functions"));
    }
    let mut compiled = Vec::with_capacity(items.len());
    let mut columns = Vec::with_capacity(items.len());
    let mut key_found: Vec<Option<(String, bool)>> = vec![None; key_exprs.len()];
    for (item, expr) in items.iter().zip(&rewritten) {
        let c = compile_select(expr, &ext_scope)?;
        let text = unqualified(&item.expr);
        let is_key = match key_exprs.iter().position(|k| *k == text) {
            Some(p) => match &key_found[p] {
                // Naming a key twice explicitly is an error; a copy next to `*` is a value column.
                Some((first, false)) if purpose.persistent() && !item.from_star => {
                    return Err(SqlError::analysis(format!(
                        "The projection contains a key column (`{text}`) more than once, aliased as: {first} and {}.",
                        item.name
                    )));
                }
                Some(_) => false,
                None => {
                    key_found[p] = Some((item.name.clone(), item.from_star));
                    true
                }
            },
            None => false,
        };
        columns.push(OutputColumn { name: item.name.clone(), ty: c.ty.clone(), is_key });
        compiled.push(c);
    }
    if purpose.persistent() {
        if purpose == Purpose::PersistentSelectedKeys && query.partition_by.is_empty() {
            // The keys not selected are not the result's (the new planner's SelectNode).
            key_found.retain(Option::is_some);
        }
        if key_found.iter().any(Option::is_none) {
            let sink = sink_name.unwrap_or("the sink");
            return Err(if query.partition_by.is_empty() {
                key_missing(sink, "key column", &key_exprs, true, false)
            } else {
                let keys: Vec<String> = query.partition_by.iter().map(|p| qualified_text(p, scope)).collect();
                key_missing(sink, "partitioning expression", &keys, true, false)
            });
        }
        // The key positions: each key expression's column, in the key's order.
        let positions: Vec<usize> = key_found
            .iter()
            .filter_map(|f| f.as_ref())
            .filter_map(|(name, _)| columns.iter().position(|c| c.is_key && c.name == *name))
            .collect();
        let order = keys_first(columns.len(), &positions);
        permute(&mut columns, &order);
        permute(&mut compiled, &order);
        permute(&mut items, &order);
    }
    let mut steps = vec![format!("SOURCE {} {} (topic: {})", kind.name(), source.name, source.topic)];
    if let Some(f) = &query.filter {
        steps.push(format!("FILTER {f}"));
    }
    if !query.partition_by.is_empty() {
        let keys: Vec<String> = query.partition_by.iter().map(|e| e.to_string()).collect();
        steps.push(format!("REPARTITION BY {}", keys.join(", ")));
    }
    let proj: Vec<String> = items
        .iter()
        .zip(&columns)
        .map(|(i, c)| format!("{} AS {}{}", i.expr, i.name, if c.is_key { " KEY" } else { "" }))
        .collect();
    steps.push(format!("PROJECT {}", proj.join(", ")));
    let rowtime = source.rowtime_index();
    let window_bounds = source.window.map(|_| (rowtime + 3, rowtime + 4));
    let key_only = |e: &Expr| {
        let mut only = true;
        e.walk(&mut |x| {
            if let Expr::Column { name, .. } = x {
                only &= source.key_columns.iter().any(|k| &k.name == name);
            }
        });
        only
    };
    let tombstone_nulls = items
        .iter()
        .zip(&columns)
        .map(|(i, c)| kind == Kind::Stream && !query.partition_by.is_empty() && c.is_key && !key_only(&i.expr))
        .collect();
    Ok(PlannedQuery {
        window: if query.partition_by.is_empty() { source.window } else { None },
        inputs: vec![source],
        operator: Operator::Stateless(Box::new(StatelessOp {
            source_kind: kind,
            filter,
            items: compiled,
            rowtime,
            window_bounds,
            table_fns,
            table_fn_base,
            tombstone_nulls,
        })),
        columns,
        kind,
        limit: query.limit,
        plan: Plan { steps },
        key_from_source: query.partition_by.is_empty(),
    })
}
