//! A typed view of a contract's schema objects, properties and quality rules, borrowed from the
//! document: what compiling, listing fields, generating a JSON Schema and diffing all read, so that
//! the standard is interpreted in one place.

use serde_json::{Map, Value};

/// ODCS `logicalType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogicalType {
    String,
    Date,
    Timestamp,
    Time,
    Number,
    Integer,
    Object,
    Array,
    Boolean,
}

impl LogicalType {
    pub(crate) fn parse(name: &str) -> Option<LogicalType> {
        Some(match name {
            "string" => LogicalType::String,
            "date" => LogicalType::Date,
            "timestamp" => LogicalType::Timestamp,
            "time" => LogicalType::Time,
            "number" => LogicalType::Number,
            "integer" => LogicalType::Integer,
            "object" => LogicalType::Object,
            "array" => LogicalType::Array,
            "boolean" => LogicalType::Boolean,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            LogicalType::String => "string",
            LogicalType::Date => "date",
            LogicalType::Timestamp => "timestamp",
            LogicalType::Time => "time",
            LogicalType::Number => "number",
            LogicalType::Integer => "integer",
            LogicalType::Object => "object",
            LogicalType::Array => "array",
            LogicalType::Boolean => "boolean",
        }
    }

    pub(crate) fn is_temporal(self) -> bool {
        matches!(self, LogicalType::Date | LogicalType::Timestamp | LogicalType::Time)
    }
}

/// A schema element with properties: a schema object, or a property of `logicalType: object`.
/// Properties are read from `properties`; an array's element is its `items`.
#[derive(Debug, Clone)]
pub(crate) struct Property<'a> {
    pub map: &'a Map<String, Value>,
    /// The property's name; `[]` for an array's items.
    pub name: &'a str,
    /// Where its values are in a record: `customer.email`, `lines[].sku` (empty for the object itself).
    pub path: String,
    /// Where it is in the contract document (a JSON pointer).
    pub pointer: String,
    /// Whether it is inside an array's items (its values are many per record).
    pub in_array: bool,
}

impl<'a> Property<'a> {
    /// A schema object, as the root of its properties.
    pub(crate) fn object(map: &'a Map<String, Value>, pointer: String) -> Property<'a> {
        Property {
            map,
            name: map.get("name").and_then(Value::as_str).unwrap_or_default(),
            path: String::new(),
            pointer,
            in_array: false,
        }
    }

    pub(crate) fn str(&self, member: &str) -> Option<&'a str> {
        self.map.get(member).and_then(Value::as_str)
    }

    pub(crate) fn logical_type(&self) -> Option<LogicalType> {
        self.str("logicalType").and_then(LogicalType::parse)
    }

    pub(crate) fn options(&self) -> Option<&'a Map<String, Value>> {
        self.map.get("logicalTypeOptions").and_then(Value::as_object)
    }

    pub(crate) fn option(&self, name: &str) -> Option<&'a Value> {
        self.options().and_then(|o| o.get(name))
    }

    /// `required: true`: the value may be neither absent nor null.
    pub(crate) fn required(&self) -> bool {
        self.map.get("required").and_then(Value::as_bool).unwrap_or(false)
    }

    pub(crate) fn unique(&self) -> bool {
        self.map.get("unique").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The element's own properties (`properties`), with their paths.
    pub(crate) fn children(&self) -> Vec<Property<'a>> {
        let Some(Value::Array(items)) = self.map.get("properties") else { return Vec::new() };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let map = item.as_object()?;
                let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
                Some(Property {
                    map,
                    name,
                    path: join(&self.path, name),
                    pointer: format!("{}/properties/{i}", self.pointer),
                    in_array: self.in_array,
                })
            })
            .collect()
    }

    /// An array's element (`items`).
    pub(crate) fn items(&self) -> Option<Property<'a>> {
        let map = self.map.get("items")?.as_object()?;
        Some(Property {
            map,
            name: "[]",
            path: format!("{}[]", self.path),
            pointer: format!("{}/items", self.pointer),
            in_array: true,
        })
    }

    /// The element's quality rules, with their pointers.
    pub(crate) fn quality(&self) -> Vec<QualityRule<'a>> {
        let Some(Value::Array(items)) = self.map.get("quality") else { return Vec::new() };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some(QualityRule::read(item.as_object()?, format!("{}/quality/{i}", self.pointer))))
            .collect()
    }
}

/// `a` and `b` as a dotted path.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The library metrics of ODCS v3.1, with v3.0's rule names mapped to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    NullValues,
    MissingValues,
    InvalidValues,
    DuplicateValues,
    RowCount,
}

impl Metric {
    pub(crate) fn parse(name: &str) -> Option<Metric> {
        Some(match name {
            "nullValues" => Metric::NullValues,
            "missingValues" => Metric::MissingValues,
            // v3.0 named these `validValues` and `duplicateCount`.
            "invalidValues" | "validValues" => Metric::InvalidValues,
            "duplicateValues" | "duplicateCount" => Metric::DuplicateValues,
            "rowCount" => Metric::RowCount,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::NullValues => "nullValues",
            Metric::MissingValues => "missingValues",
            Metric::InvalidValues => "invalidValues",
            Metric::DuplicateValues => "duplicateValues",
            Metric::RowCount => "rowCount",
        }
    }
}

/// What a quality rule is, by its `type` (`library` when absent and a `metric` or `rule` is given).
#[derive(Debug, Clone)]
pub(crate) enum QualityKind<'a> {
    Text,
    /// `metric` (v3.1) or `rule` (v3.0); `None` for a name the standard does not define.
    Library {
        name: &'a str,
        metric: Option<Metric>,
    },
    Sql,
    /// `type: custom`: `engine` and `implementation`.
    Custom {
        engine: &'a str,
        implementation: Option<&'a Value>,
    },
    /// A `type` the standard does not define (the v3.0.2 schema admits any string).
    Other(&'a str),
}

/// One entry of a `quality` list.
#[derive(Debug, Clone)]
pub(crate) struct QualityRule<'a> {
    pub map: &'a Map<String, Value>,
    pub pointer: String,
    pub kind: QualityKind<'a>,
}

/// The engine name of Weft's own per-record SQL rules (`type: custom`, `engine: weft`).
pub(crate) const WEFT_ENGINE: &str = "weft";

impl<'a> QualityRule<'a> {
    fn read(map: &'a Map<String, Value>, pointer: String) -> QualityRule<'a> {
        let str = |m: &str| map.get(m).and_then(Value::as_str);
        let library = || {
            let name = str("metric").or_else(|| str("rule")).unwrap_or_default();
            QualityKind::Library { name, metric: Metric::parse(name) }
        };
        let kind = match str("type") {
            Some("library") => library(),
            Some("text") => QualityKind::Text,
            Some("sql") => QualityKind::Sql,
            Some("custom") => QualityKind::Custom {
                engine: str("engine").unwrap_or_default(),
                implementation: map.get("implementation"),
            },
            Some(other) => QualityKind::Other(other),
            None if map.contains_key("metric") || map.contains_key("rule") => library(),
            None => QualityKind::Text,
        };
        QualityRule { map, pointer, kind }
    }

    /// The rule's own identifier: `id`, else `name`.
    pub(crate) fn given_id(&self) -> Option<&'a str> {
        self.map.get("id").or_else(|| self.map.get("name")).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// An argument of a library metric: `arguments.NAME`, or (v3.0) the member `NAME` itself.
    pub(crate) fn argument(&self, name: &str) -> Option<&'a Value> {
        self.map.get("arguments").and_then(|a| a.get(name)).or_else(|| self.map.get(name))
    }

    /// The comparison the rule's count must pass.
    pub(crate) fn threshold(&self) -> Threshold {
        let mut ops = Vec::new();
        let mut unreadable = false;
        for (name, value) in self.map {
            let number = value.as_f64();
            let pair = value.as_array().and_then(|a| match a.as_slice() {
                [lo, hi] => Some((lo.as_f64()?, hi.as_f64()?)),
                _ => None,
            });
            let op = match (name.as_str(), number, pair) {
                ("mustBe", Some(x), _) => Op::Eq(x),
                ("mustNotBe", Some(x), _) => Op::Ne(x),
                ("mustBeGreaterThan", Some(x), _) => Op::Gt(x),
                ("mustBeGreaterOrEqualTo", Some(x), _) => Op::Ge(x),
                ("mustBeLessThan", Some(x), _) => Op::Lt(x),
                ("mustBeLessOrEqualTo", Some(x), _) => Op::Le(x),
                ("mustBeBetween", _, Some((lo, hi))) => Op::Between(lo, hi),
                ("mustNotBeBetween", _, Some((lo, hi))) => Op::NotBetween(lo, hi),
                (
                    "mustBe"
                    | "mustNotBe"
                    | "mustBeGreaterThan"
                    | "mustBeGreaterOrEqualTo"
                    | "mustBeLessThan"
                    | "mustBeLessOrEqualTo"
                    | "mustBeBetween"
                    | "mustNotBeBetween",
                    _,
                    _,
                ) => {
                    unreadable = true;
                    continue;
                }
                _ => continue,
            };
            ops.push(op);
        }
        let unit = match self.map.get("unit").and_then(Value::as_str) {
            None | Some("rows") => Unit::Rows,
            Some("percent") => Unit::Percent,
            Some(_) => Unit::Other,
        };
        Threshold { ops, unit, unreadable }
    }

    /// The member holding the rule's threshold, for messages: `mustBe: 0`.
    pub(crate) fn threshold_text(&self) -> String {
        self.map
            .iter()
            .filter(|(k, _)| k.starts_with("must"))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A comparison operator of a quality rule (ODCS "Valid Properties for Operator").
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq(f64),
    Ne(f64),
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
    /// "mustBeBetween is the equivalent to mustBeGreaterThan and mustBeLessThan" (the standard's words).
    Between(f64, f64),
    NotBetween(f64, f64),
}

impl Op {
    fn allows(self, n: f64) -> bool {
        match self {
            Op::Eq(x) => n == x,
            Op::Ne(x) => n != x,
            Op::Gt(x) => n > x,
            Op::Ge(x) => n >= x,
            Op::Lt(x) => n < x,
            Op::Le(x) => n <= x,
            Op::Between(lo, hi) => n > lo && n < hi,
            Op::NotBetween(lo, hi) => !(n > lo && n < hi),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Rows,
    Percent,
    Other,
}

/// The operators of a rule and the unit of the count they compare.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Threshold {
    pub ops: Vec<Op>,
    pub unit: Unit,
    /// An operator whose value is not a number (or a pair of numbers): nothing Weft can compare.
    pub unreadable: bool,
}

impl Threshold {
    /// Whether a count of `n` passes every operator.
    pub(crate) fn allows(&self, n: f64) -> bool {
        self.ops.iter().all(|op| op.allows(n))
    }

    /// Whether the rule tolerates no bad record at all: then it holds for a dataset exactly when it
    /// holds for each record, and can be checked as records are written. A rule without an operator
    /// (v3.0's `rule: validValues`) tolerates none.
    pub(crate) fn per_record(&self) -> bool {
        if self.unreadable {
            return false;
        }
        if self.ops.is_empty() {
            return true;
        }
        let smallest_failure = match self.unit {
            Unit::Rows => 1.0,
            // Any share above zero.
            Unit::Percent => f64::MIN_POSITIVE,
            Unit::Other => return false,
        };
        self.allows(0.0) && !self.allows(smallest_failure)
    }
}

/// The schema objects of a contract document, with their pointers.
pub(crate) fn objects(document: &Value) -> Vec<Property<'_>> {
    let Some(Value::Array(items)) = document.get("schema") else { return Vec::new() };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| Some(Property::object(item.as_object()?, format!("/schema/{i}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> Threshold {
        let map = value.as_object().unwrap().clone();
        let leaked: &'static Map<String, Value> = Box::leak(Box::new(map));
        QualityRule::read(leaked, String::new()).threshold()
    }

    #[test]
    fn only_rules_that_tolerate_no_bad_record_are_per_record() {
        let cases = [
            (json!({"metric": "nullValues", "mustBe": 0}), true),
            (json!({"metric": "nullValues", "mustBeLessThan": 1}), true),
            (json!({"metric": "nullValues", "mustBeLessOrEqualTo": 0}), true),
            (json!({"metric": "nullValues", "mustBeBetween": [-1, 1]}), true),
            (json!({"metric": "nullValues", "mustBe": 0, "unit": "percent"}), true),
            (json!({"metric": "nullValues", "mustBeLessThan": 1, "unit": "percent"}), false),
            (json!({"metric": "nullValues", "mustBeLessThan": 5}), false),
            (json!({"metric": "nullValues", "mustBeGreaterThan": 0}), false),
            (json!({"metric": "nullValues", "mustBe": 0, "unit": "bytes"}), false),
            (json!({"metric": "nullValues", "mustBe": "zero"}), false),
            (json!({"rule": "validValues", "validValues": ["a"]}), true),
        ];
        for (value, expected) in cases {
            assert_eq!(rule(value.clone()).per_record(), expected, "{value}");
        }
    }
}
