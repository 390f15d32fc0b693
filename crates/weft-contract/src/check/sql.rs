//! Per-record SQL rules: `type: custom`, `engine: weft`, whose `implementation` is a boolean SQL
//! expression over the record's fields, parsed, type-checked and evaluated by the SQL engine's own
//! expression compiler (`weft_sql::parser::parse_expression`, `weft_sql::expr::compile`).
//!
//! The record's top-level properties are the expression's columns, typed from their logical types
//! (string STRING, integer BIGINT, number DOUBLE, boolean BOOLEAN, date DATE, timestamp TIMESTAMP,
//! time TIME, object STRUCT of its properties, array ARRAY of its items; no logical type STRING).
//! As in ksqlDB, unquoted names are upper-cased (`amount` reads the property `amount`, or `AMOUNT`
//! when the contract has such a property), and back-quoted names are exact (`` `Amount` ``); nested
//! members are read with `->`. A record fails the rule when the expression is false or null (a
//! condition that cannot be decided does not pass, as in a `WHERE` clause). As in ksqlDB, a
//! comparison, `BETWEEN`, `IN` or `LIKE` with a null operand is false, so an absent value fails
//! `amount > 0`; write `amount IS NULL OR amount > 0` to let absent values pass.

use std::borrow::Cow;

use serde_json::Value;
use weft_sql::expr::{Compiled, Scope, ScopeColumn};
use weft_sql::types::{SqlType, Value as Sql};

use super::value::{shown, Temporal};
use crate::model::{LogicalType, Property};

/// One column of the expression's scope: the record member it reads and how.
#[derive(Debug, Clone)]
struct Column {
    member: String,
    ty: SqlType,
    /// For temporal columns: how their text is read.
    shape: Shape,
}

/// How a JSON value becomes a SQL value of a column's type, following the contract's properties.
#[derive(Debug, Clone)]
enum Shape {
    Scalar,
    Temporal(Temporal),
    Struct(Vec<(String, Shape, SqlType)>),
    Array(Box<Shape>, SqlType),
}

/// The columns every expression of one schema object sees.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordScope {
    scope: Scope,
    columns: Vec<Column>,
}

impl RecordScope {
    /// The scope of an object's top-level properties.
    pub(crate) fn of(object: &Property<'_>) -> RecordScope {
        let children = object.children();
        let mut out = RecordScope::default();
        let mut push = |name: &str, member: &str, ty: SqlType, shape: Shape| {
            out.scope.columns.push(ScopeColumn { qualifier: None, name: name.to_string(), ty: ty.clone() });
            out.columns.push(Column { member: member.to_string(), ty, shape });
        };
        let exact: Vec<&str> = children.iter().map(|p| p.name).collect();
        for property in &children {
            let (ty, shape) = sql_type(property, 0);
            push(property.name, property.name, ty.clone(), shape.clone());
            // Unquoted names reach the property as ksqlDB upper-cases them, unless that would be
            // ambiguous with another property's name.
            let upper = property.name.to_ascii_uppercase();
            let clashes = exact.contains(&upper.as_str())
                || children.iter().filter(|p| p.name.to_ascii_uppercase() == upper).count() > 1;
            if upper != property.name && !clashes {
                push(&upper, property.name, ty, shape);
            }
        }
        out
    }
}

/// Nested properties deeper than this are typed STRING (their JSON text) in SQL.
const MAX_SQL_NESTING: usize = 16;

fn sql_type(property: &Property<'_>, depth: usize) -> (SqlType, Shape) {
    let temporal = |ty: LogicalType| {
        let format = property
            .option("format")
            .and_then(Value::as_str)
            .filter(|f| super::value::readable_date_pattern(f))
            .map(str::to_string);
        Shape::Temporal(Temporal { ty, format })
    };
    match property.logical_type() {
        Some(LogicalType::Integer) => (SqlType::Bigint, Shape::Scalar),
        Some(LogicalType::Number) => (SqlType::Double, Shape::Scalar),
        Some(LogicalType::Boolean) => (SqlType::Boolean, Shape::Scalar),
        Some(LogicalType::Date) => (SqlType::Date, temporal(LogicalType::Date)),
        Some(LogicalType::Timestamp) => (SqlType::Timestamp, temporal(LogicalType::Timestamp)),
        Some(LogicalType::Time) => (SqlType::Time, temporal(LogicalType::Time)),
        Some(LogicalType::Object) if depth < MAX_SQL_NESTING => {
            let mut types = Vec::new();
            let mut shapes = Vec::new();
            for child in property.children() {
                let (ty, shape) = sql_type(&child, depth + 1);
                types.push((child.name.to_string(), ty.clone()));
                shapes.push((child.name.to_string(), shape, ty));
            }
            (SqlType::Struct(types), Shape::Struct(shapes))
        }
        Some(LogicalType::Array) if depth < MAX_SQL_NESTING => {
            let (ty, shape) = match property.items() {
                Some(items) => sql_type(&items, depth + 1),
                None => (SqlType::String, Shape::Scalar),
            };
            (SqlType::Array(Box::new(ty.clone())), Shape::Array(Box::new(shape), ty))
        }
        _ => (SqlType::String, Shape::Scalar),
    }
}

/// A compiled SQL rule.
#[derive(Debug)]
pub(crate) struct SqlRule {
    pub text: String,
    compiled: Compiled,
    columns: Vec<Column>,
    /// The columns the expression reads (only these are converted for each record).
    used: Vec<usize>,
}

/// How a record fares under a SQL rule.
pub(crate) enum Outcome {
    Pass,
    False,
    Null,
}

impl SqlRule {
    /// Parses and type-checks `text` against `scope`; the error is the engine's, for the contract's
    /// author.
    pub(crate) fn compile(text: &str, scope: &RecordScope) -> Result<SqlRule, String> {
        let expr =
            weft_sql::parser::parse_expression(text).map_err(|e| format!("the SQL expression does not parse: {e}"))?;
        let compiled = weft_sql::expr::compile(&expr, &scope.scope).map_err(|e| format!("the SQL expression: {e}"))?;
        if !matches!(compiled.ty, SqlType::Boolean | SqlType::Null) {
            return Err(format!("the SQL expression is of type {}, not a condition (BOOLEAN)", compiled.ty));
        }
        let mut mask = vec![false; scope.columns.len()];
        compiled.mark_columns(&mut mask);
        let used = mask.iter().enumerate().filter(|(_, used)| **used).map(|(i, _)| i).collect();
        Ok(SqlRule { text: text.to_string(), compiled, columns: scope.columns.clone(), used })
    }

    pub(crate) fn eval(&self, record: &Value) -> Outcome {
        let mut row = vec![Sql::Null; self.columns.len()];
        for &i in &self.used {
            let column = &self.columns[i];
            if let Some(value) = record.get(&column.member) {
                row[i] = to_sql(value, &column.ty, &column.shape);
            }
        }
        match self.compiled.eval(&row) {
            Cow::Borrowed(Sql::Bool(true)) => Outcome::Pass,
            Cow::Owned(Sql::Bool(true)) => Outcome::Pass,
            Cow::Borrowed(Sql::Null) | Cow::Owned(Sql::Null) => Outcome::Null,
            _ => Outcome::False,
        }
    }

    /// The record's values of the members the expression reads, for reasons: `amount=-5, currency="GBP"`.
    pub(crate) fn inputs(&self, record: &Value) -> String {
        let mut members: Vec<&str> = self.used.iter().map(|&i| self.columns[i].member.as_str()).collect();
        members.dedup();
        members
            .iter()
            .map(|m| match record.get(*m) {
                Some(v) => format!("{m}={}", shown(v)),
                None => format!("{m} absent"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A JSON value as a SQL value of `ty`; null when it does not fit (the logical type check reports that).
fn to_sql(value: &Value, ty: &SqlType, shape: &Shape) -> Sql {
    match (ty, shape, value) {
        (_, _, Value::Null) => Sql::Null,
        (SqlType::String, _, Value::String(s)) => Sql::String(s.clone()),
        (SqlType::String, _, other) => Sql::String(other.to_string()),
        (SqlType::Bigint, _, Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Sql::Bigint(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Sql::Bigint(f as i64),
            _ => Sql::Null,
        },
        (SqlType::Double, _, Value::Number(n)) => n.as_f64().map_or(Sql::Null, Sql::Double),
        (SqlType::Boolean, _, Value::Bool(b)) => Sql::Bool(*b),
        (SqlType::Date, Shape::Temporal(t), v) => {
            t.millis(v).map_or(Sql::Null, |ms| Sql::Date(ms.div_euclid(86_400_000) as i32))
        }
        (SqlType::Timestamp, Shape::Temporal(t), v) => t.millis(v).map_or(Sql::Null, Sql::Timestamp),
        (SqlType::Time, Shape::Temporal(t), v) => t.millis(v).map_or(Sql::Null, Sql::Time),
        (SqlType::Struct(_), Shape::Struct(fields), Value::Object(map)) => Sql::Struct(
            fields.iter().map(|(name, shape, ty)| map.get(name).map_or(Sql::Null, |v| to_sql(v, ty, shape))).collect(),
        ),
        (SqlType::Array(_), Shape::Array(shape, ty), Value::Array(items)) => {
            Sql::Array(items.iter().map(|v| to_sql(v, ty, shape)).collect())
        }
        _ => Sql::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(properties: Value) -> RecordScope {
        let object = json!({"name": "o", "properties": properties});
        let map: &'static serde_json::Map<String, Value> = Box::leak(Box::new(object.as_object().unwrap().clone()));
        RecordScope::of(&Property::object(map, "/schema/0".into()))
    }

    #[test]
    fn expressions_read_typed_members_of_the_record() {
        let scope = scope(json!([
            {"name": "amount", "logicalType": "number"},
            {"name": "currency", "logicalType": "string"},
            {"name": "placed", "logicalType": "timestamp"},
            {"name": "customer", "logicalType": "object", "properties": [{"name": "tier", "logicalType": "integer"}]},
            {"name": "Mixed", "logicalType": "integer"}
        ]));
        let rule = SqlRule::compile(
            "amount >= 0 AND currency IN ('EUR', 'USD') AND placed > '2024-01-01' AND customer->tier < 3 AND mixed = 1 AND `Mixed` = 1",
            &scope,
        )
        .unwrap();
        let good = json!({"amount": 5, "currency": "EUR", "placed": "2024-06-01T10:00:00Z", "customer": {"tier": 1}, "Mixed": 1});
        assert!(matches!(rule.eval(&good), Outcome::Pass));
        let bad = json!({"amount": -5, "currency": "EUR", "placed": "2024-06-01T10:00:00Z", "customer": {"tier": 1}, "Mixed": 1});
        assert!(matches!(rule.eval(&bad), Outcome::False));
        // Epoch milliseconds read as timestamps; a null operand makes a comparison false (ksqlDB).
        let epoch = json!({"amount": 1, "currency": "EUR", "placed": 1_717_236_000_000i64, "customer": {"tier": 1}, "Mixed": 1});
        assert!(matches!(rule.eval(&epoch), Outcome::Pass));
        let unknown = json!({"amount": null, "currency": "EUR", "placed": 1_717_236_000_000i64, "customer": {"tier": 1}, "Mixed": 1});
        assert!(matches!(rule.eval(&unknown), Outcome::False));
        assert_eq!(
            rule.inputs(&bad),
            "amount=-5, currency=\"EUR\", placed=\"2024-06-01T10:00:00Z\", customer={\"tier\":1}, Mixed=1"
        );
    }

    #[test]
    fn unknown_members_and_non_conditions_are_refused() {
        let scope = scope(json!([{"name": "amount", "logicalType": "number"}]));
        let err = SqlRule::compile("amount > 0 AND price > 0", &scope).unwrap_err();
        assert!(err.contains("PRICE"), "{err}");
        let err = SqlRule::compile("amount + 1", &scope).unwrap_err();
        assert!(err.contains("not a condition"), "{err}");
        let err = SqlRule::compile("amount >", &scope).unwrap_err();
        assert!(err.contains("does not parse"), "{err}");
    }
}
