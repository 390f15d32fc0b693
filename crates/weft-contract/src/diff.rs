//! What changed between two versions of a contract, each change breaking or not.
//!
//! A change is breaking when records or data that met the old contract may fail the new one, or
//! when something consumers read goes away: a schema object or property removed, a property
//! retyped, newly required or newly unique, a bound, length, count, pattern, format or list of
//! valid values tightened, a new rule that checks data. Loosened rules, new optional properties,
//! removed rules and changes of description, classification, tags, examples, SLA, team, roles,
//! servers, pricing, support and other metadata are not. Where Weft cannot tell whether a change
//! tightens (a new pattern, a changed SQL condition), it counts as breaking.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{self, Metric, Property, QualityKind, QualityRule, Threshold};
use crate::Contract;

/// One difference between two contracts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// Where: `status`, `orders` (a schema object), `orders.customer.email` (a property),
    /// `orders.amount.logicalTypeOptions.minimum`, `orders.amount.quality[amount_positive]`.
    pub path: String,
    pub breaking: bool,
    /// What changed, in a sentence.
    pub message: String,
}

/// The differences between two contracts, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractDiff {
    pub changes: Vec<Change>,
}

impl ContractDiff {
    /// Whether any change is breaking.
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.breaking)
    }

    /// The breaking changes.
    pub fn breaking(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.breaking)
    }
}

/// Compares two versions of a contract.
pub fn diff(old: &Contract, new: &Contract) -> ContractDiff {
    let mut d = Differ { changes: Vec::new() };
    let (old_doc, new_doc) = (old.to_json(), new.to_json());
    d.members("", old_doc.as_object(), new_doc.as_object(), &["schema"]);
    let (old_objects, new_objects) = (model::objects(old_doc), model::objects(new_doc));
    for o in &old_objects {
        match new_objects.iter().find(|n| n.name == o.name) {
            None => d.push(o.name, true, format!("the schema object {} was removed", o.name)),
            Some(n) => d.object(o, n),
        }
    }
    for n in new_objects.iter().filter(|n| !old_objects.iter().any(|o| o.name == n.name)) {
        d.push(n.name, false, format!("the schema object {} was added", n.name));
    }
    ContractDiff { changes: d.changes }
}

struct Differ {
    changes: Vec<Change>,
}

/// Members of a property or object compared on their own (the rest is metadata).
const STRUCTURE: [&str; 8] =
    ["properties", "items", "quality", "logicalType", "logicalTypeOptions", "required", "unique", "name"];

/// Members of a quality rule that describe it without changing what it checks.
const RULE_METADATA: [&str; 13] = [
    "id",
    "name",
    "description",
    "dimension",
    "severity",
    "businessImpact",
    "tags",
    "authoritativeDefinitions",
    "customProperties",
    "schedule",
    "scheduler",
    "method",
    "unit",
];

const LOWER_BOUNDS: [&str; 5] = ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"];
const UPPER_BOUNDS: [&str; 5] = ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"];

impl Differ {
    fn push(&mut self, path: impl Into<String>, breaking: bool, message: String) {
        self.changes.push(Change { path: path.into(), breaking, message });
    }

    /// Metadata members of a mapping, compared one by one (none of them breaking). Lists whose items
    /// have a name (`property`, `name`, `id`, `role`, `server`, `url`, `channel`) are compared by it.
    fn members(&mut self, at: &str, old: Option<&Map<String, Value>>, new: Option<&Map<String, Value>>, skip: &[&str]) {
        let empty = Map::new();
        let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
        let mut keys: Vec<&String> = old.keys().chain(new.keys().filter(|k| !old.contains_key(*k))).collect();
        keys.retain(|k| !skip.contains(&k.as_str()));
        for key in keys {
            let path = model::join(at, key);
            match (old.get(key), new.get(key)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(Value::Array(a)), Some(Value::Array(b))) if keyed(a).is_some() && keyed(b).is_some() => {
                    self.keyed_lists(&path, a, b)
                }
                (Some(Value::String(a)), Some(Value::String(b))) => {
                    self.push(&path, false, format!("{path} changed from {} to {}", short(a), short(b)))
                }
                (Some(_), Some(_)) => self.push(&path, false, format!("{path} changed")),
                (Some(_), None) => self.push(&path, false, format!("{path} was removed")),
                (None, Some(_)) => self.push(&path, false, format!("{path} was added")),
                (None, None) => {}
            }
        }
    }

    fn keyed_lists(&mut self, path: &str, old: &[Value], new: &[Value]) {
        let (old, new) = (entries(old), entries(new));
        for (key, a) in &old {
            match new.iter().find(|(k, _)| k == key) {
                None => self.push(format!("{path}[{key}]"), false, format!("{path} {key} was removed")),
                Some((_, b)) if a != b => {
                    let detail = match (a.get("value"), b.get("value")) {
                        (Some(x), Some(y)) if x != y => format!(" from {} to {}", value_text(x), value_text(y)),
                        _ => String::new(),
                    };
                    self.push(format!("{path}[{key}]"), false, format!("{path} {key} changed{detail}"))
                }
                Some(_) => {}
            }
        }
        for (key, _) in new.iter().filter(|(k, _)| !old.iter().any(|(o, _)| o == k)) {
            self.push(format!("{path}[{key}]"), false, format!("{path} {key} was added"));
        }
    }

    fn object(&mut self, old: &Property<'_>, new: &Property<'_>) {
        let at = old.name.to_string();
        self.members(&at, Some(old.map), Some(new.map), &STRUCTURE);
        self.properties(&at, old, new);
        self.quality(&at, old, new);
    }

    fn properties(&mut self, at: &str, old: &Property<'_>, new: &Property<'_>) {
        let (old_children, new_children) = (old.children(), new.children());
        for o in &old_children {
            let path = model::join(at, o.name);
            match new_children.iter().find(|n| n.name == o.name) {
                None => self.push(&path, true, format!("the property {path} was removed")),
                Some(n) => self.property(&path, o, n),
            }
        }
        for n in new_children.iter().filter(|n| !old_children.iter().any(|o| o.name == n.name)) {
            let path = model::join(at, n.name);
            if n.required() {
                self.push(
                    &path,
                    true,
                    format!("the property {path} was added as required: records without it are now refused"),
                );
            } else {
                self.push(&path, false, format!("the optional property {path} was added"));
            }
        }
    }

    fn property(&mut self, path: &str, old: &Property<'_>, new: &Property<'_>) {
        match (old.str("logicalType"), new.str("logicalType")) {
            (a, b) if a == b => {}
            (Some(a), Some(b)) => self.push(path, true, format!("{path} changed type from {a} to {b}")),
            (None, Some(b)) => self.push(path, true, format!("{path} is now typed {b}")),
            (Some(a), None) => self.push(path, false, format!("{path} is no longer typed {a}")),
            (None, None) => {}
        }
        for (flag, tighter) in [("required", "required"), ("unique", "unique")] {
            let (a, b) = (flag_of(old.map, flag), flag_of(new.map, flag));
            if a != b {
                let message =
                    if b { format!("{path} is now {tighter}") } else { format!("{path} is no longer {tighter}") };
                self.push(format!("{path}.{flag}"), b, message);
            }
        }
        self.options(path, old, new);
        self.members(path, Some(old.map), Some(new.map), &STRUCTURE);
        self.properties(path, old, new);
        match (old.items(), new.items()) {
            (Some(a), Some(b)) => self.property(&format!("{path}[]"), &a, &b),
            (Some(_), None) => {
                self.push(format!("{path}[]"), true, format!("the items of {path} are no longer described"))
            }
            (None, Some(_)) => self.push(format!("{path}[]"), true, format!("the items of {path} are now described")),
            (None, None) => {}
        }
        self.quality(path, old, new);
    }

    fn options(&mut self, path: &str, old: &Property<'_>, new: &Property<'_>) {
        let empty = Map::new();
        let (a, b) = (old.options().unwrap_or(&empty), new.options().unwrap_or(&empty));
        let mut names: Vec<&String> = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))).collect();
        names.sort_by_key(|n| option_rank(n));
        for name in names {
            let at = format!("{path}.logicalTypeOptions.{name}");
            let (x, y) = (a.get(name), b.get(name));
            if x == y {
                continue;
            }
            let shown = |v: Option<&Value>| v.map(value_text).unwrap_or_default();
            let (breaking, message) = match (x, y) {
                (None, Some(v)) => (tightens_when_added(name, v), format!("{path} now has {name} {}", value_text(v))),
                (Some(v), None) => (false, format!("{path} no longer has {name} {}", value_text(v))),
                (Some(x), Some(y)) => {
                    let breaking = match order(x, y) {
                        Some(ord) if LOWER_BOUNDS.contains(&name.as_str()) => ord == std::cmp::Ordering::Less,
                        Some(ord) if UPPER_BOUNDS.contains(&name.as_str()) => ord == std::cmp::Ordering::Greater,
                        _ => match (name.as_str(), x, y) {
                            ("multipleOf", Value::Number(x), Value::Number(y)) => {
                                // A divisor of the old step admits every old value.
                                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                                y == 0.0 || ((x / y) - (x / y).round()).abs() > 1e-9
                            }
                            ("uniqueItems" | "timezone", Value::Bool(_), Value::Bool(y)) => *y && name == "uniqueItems",
                            ("exclusiveMinimum" | "exclusiveMaximum", Value::Bool(_), Value::Bool(y)) => *y,
                            ("required", Value::Array(x), Value::Array(y)) => y.iter().any(|n| !x.contains(n)),
                            ("defaultTimezone", ..) => false,
                            _ => true,
                        },
                    };
                    (breaking, format!("{name} of {path} changed from {} to {}", shown(Some(x)), shown(Some(y))))
                }
                (None, None) => continue,
            };
            let message = if breaking { format!("{message}: values that passed may now be refused") } else { message };
            self.push(at, breaking, message);
        }
    }

    fn quality(&mut self, at: &str, old: &Property<'_>, new: &Property<'_>) {
        let (old_rules, new_rules) = (keyed_rules(old.quality()), keyed_rules(new.quality()));
        for (key, o) in &old_rules {
            let path = format!("{at}.quality[{key}]");
            match new_rules.iter().find(|(k, _)| k == key) {
                None => self.push(&path, false, format!("the rule {key} of {} was removed", at)),
                Some((_, n)) => self.rule(&path, key, o, n),
            }
        }
        for (key, n) in new_rules.iter().filter(|(k, _)| !old_rules.iter().any(|(o, _)| o == k)) {
            let path = format!("{at}.quality[{key}]");
            let breaking = !matches!(n.kind, QualityKind::Text);
            let message = if breaking {
                format!("the rule {key} was added to {}: data that passed may now fail", at)
            } else {
                format!("the text rule {key} was added to {}", at)
            };
            self.push(&path, breaking, message);
        }
    }

    fn rule(&mut self, path: &str, key: &str, old: &QualityRule<'_>, new: &QualityRule<'_>) {
        if old.map == new.map {
            return;
        }
        let checks = |r: &QualityRule<'_>| -> Map<String, Value> {
            r.map
                .iter()
                .filter(|(k, _)| !RULE_METADATA.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let (a, b) = (checks(old), checks(new));
        if a == b && old.map.get("unit") == new.map.get("unit") {
            return self.push(path, false, format!("the description of the rule {key} changed"));
        }
        // What differs once operators and value lists are set aside.
        let rest = |m: &Map<String, Value>| -> Map<String, Value> {
            m.iter()
                .filter(|(k, _)| !k.starts_with("must") && k.as_str() != "arguments" && k.as_str() != "validValues")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let same_otherwise = rest(&a) == rest(&b) && old.map.get("unit") == new.map.get("unit");
        let metric = match old.kind {
            QualityKind::Library { metric, .. } => metric,
            _ => None,
        };
        let list = |r: &QualityRule<'_>, name: &str| r.argument(name).and_then(Value::as_array).cloned();
        let other_arguments_same = |skip: &str| {
            let args = |r: &QualityRule<'_>| -> Option<Map<String, Value>> {
                r.map.get("arguments").and_then(Value::as_object).map(|m| {
                    m.iter().filter(|(k, _)| k.as_str() != skip).map(|(k, v)| (k.clone(), v.clone())).collect()
                })
            };
            args(old) == args(new)
        };
        let thresholds_loosen = loosens(&old.threshold(), &new.threshold());
        let (breaking, message) = match metric {
            Some(Metric::InvalidValues) if same_otherwise && other_arguments_same("validValues") => {
                let (x, y) =
                    (list(old, "validValues").unwrap_or_default(), list(new, "validValues").unwrap_or_default());
                let removed: Vec<&Value> = x.iter().filter(|v| !y.contains(v)).collect();
                let added: Vec<&Value> = y.iter().filter(|v| !x.contains(v)).collect();
                let mut parts = Vec::new();
                if !added.is_empty() {
                    parts.push(format!("valid values added: {}", values_text(&added)));
                }
                if !removed.is_empty() {
                    parts.push(format!("valid values removed: {}", values_text(&removed)));
                }
                if parts.is_empty() {
                    parts.push("its threshold changed".into());
                }
                (!removed.is_empty() || !thresholds_loosen, format!("the rule {key}: {}", parts.join("; ")))
            }
            Some(Metric::MissingValues) if same_otherwise && other_arguments_same("missingValues") => {
                let (x, y) =
                    (list(old, "missingValues").unwrap_or_default(), list(new, "missingValues").unwrap_or_default());
                let added: Vec<&Value> = y.iter().filter(|v| !x.contains(v)).collect();
                (!added.is_empty() || !thresholds_loosen, format!("the rule {key}: missing values changed"))
            }
            _ if same_otherwise && old.map.get("arguments") == new.map.get("arguments") => (
                !thresholds_loosen,
                format!(
                    "the threshold of the rule {key} changed from {} to {}",
                    old.threshold_text(),
                    new.threshold_text()
                ),
            ),
            _ => (true, format!("the rule {key} changed")),
        };
        let message = if breaking { format!("{message}: data that passed may now fail") } else { message };
        self.push(path, breaking, message);
    }
}

/// Whether every count the old threshold admits, the new one admits too. Thresholds are unions of
/// intervals bounded by their operators' values, so testing those values, points between them and
/// beyond them decides it exactly.
fn loosens(old: &Threshold, new: &Threshold) -> bool {
    if old.unit != new.unit || new.unreadable {
        return false;
    }
    let mut points: Vec<f64> = Vec::new();
    for op in old.ops.iter().chain(&new.ops) {
        match *op {
            model::Op::Eq(x)
            | model::Op::Ne(x)
            | model::Op::Gt(x)
            | model::Op::Ge(x)
            | model::Op::Lt(x)
            | model::Op::Le(x) => points.push(x),
            model::Op::Between(a, b) | model::Op::NotBetween(a, b) => points.extend([a, b]),
        }
    }
    points.push(0.0);
    points.sort_by(f64::total_cmp);
    let mut candidates = points.clone();
    for pair in points.windows(2) {
        candidates.push((pair[0] + pair[1]) / 2.0);
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        candidates.extend([first - 1.0, last + 1.0]);
    }
    candidates.iter().all(|&n| !old.allows(n) || new.allows(n))
}

/// Quality rules by a key stable across versions: their `id` or `name`, else their kind and how
/// many of that kind came before (`nullValues`, `nullValues#2`).
fn keyed_rules(rules: Vec<QualityRule<'_>>) -> Vec<(String, QualityRule<'_>)> {
    let mut out: Vec<(String, QualityRule<'_>)> = Vec::new();
    for rule in rules {
        let key = match rule.given_id() {
            Some(id) => id.to_string(),
            None => {
                let kind = match &rule.kind {
                    QualityKind::Library { name, metric } => metric.map_or(*name, |m| m.name()).to_string(),
                    QualityKind::Text => "text".into(),
                    QualityKind::Sql => "sql".into(),
                    QualityKind::Custom { engine, .. } => format!("custom:{engine}"),
                    QualityKind::Other(t) => (*t).to_string(),
                };
                let n = out.iter().filter(|(k, _)| k == &kind || k.starts_with(&format!("{kind}#"))).count();
                if n == 0 {
                    kind
                } else {
                    format!("{kind}#{}", n + 1)
                }
            }
        };
        out.push((key, rule));
    }
    out
}

fn flag_of(map: &Map<String, Value>, name: &str) -> bool {
    map.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// Whether adding option `name` with `value` can refuse values that passed.
fn tightens_when_added(name: &str, value: &Value) -> bool {
    match (name, value) {
        ("uniqueItems" | "timezone" | "exclusiveMinimum" | "exclusiveMaximum", Value::Bool(b)) => {
            *b && name != "timezone"
        }
        ("defaultTimezone", _) => false,
        _ => true,
    }
}

/// How two bounds compare: numbers by value, dates and times (ISO-8601 text) by instant.
fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => {
            let parse = |s: &str| {
                weft_sql::functions::parse_iso_timestamp(s)
                    .or_else(|| weft_sql::functions::parse_millis(s, "HH:mm:ss", 0))
                    .or_else(|| weft_sql::functions::parse_millis(s, "HH:mm:ss.SSS", 0))
            };
            Some(parse(x)?.cmp(&parse(y)?))
        }
        _ => None,
    }
}

fn option_rank(name: &str) -> usize {
    LOWER_BOUNDS.iter().chain(UPPER_BOUNDS.iter()).position(|n| *n == name).unwrap_or(usize::MAX)
}

/// The members that name a list's items, in the order they are tried.
const ITEM_NAMES: [&str; 8] = ["property", "name", "id", "role", "server", "channel", "url", "username"];

fn item_name(item: &Value) -> Option<&str> {
    ITEM_NAMES.iter().find_map(|k| item.get(*k).and_then(Value::as_str))
}

/// Whether every item of a list has a name (then lists are compared item by item).
fn keyed(items: &[Value]) -> Option<()> {
    items.iter().try_for_each(|item| item_name(item).map(|_| ()))
}

/// A list's items by name, a repeated name numbered from its second occurrence (`name#2`).
fn entries(items: &[Value]) -> Vec<(String, &Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    for item in items {
        let name = item_name(item).unwrap_or_default();
        let n = out.iter().filter(|(k, _)| k == name || k.starts_with(&format!("{name}#"))).count();
        let key = if n == 0 { name.to_string() } else { format!("{name}#{}", n + 1) };
        out.push((key, item));
    }
    out
}

fn value_text(v: &Value) -> String {
    crate::check::shown_value(v)
}

fn values_text(values: &[&Value]) -> String {
    values.iter().map(|v| value_text(v)).collect::<Vec<_>>().join(", ")
}

fn short(s: &str) -> String {
    crate::check::shown_value(&Value::String(s.to_string()))
}
