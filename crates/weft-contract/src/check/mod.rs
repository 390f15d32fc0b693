//! Compiled contracts: the checks of one schema object, run on every record written.
//!
//! A [`Checker`] is built once per contract version and object ([`crate::Contract::compile`]) and
//! checks records as JSON values (an Avro record is checked as its JSON mapping). It never
//! allocates for a record that passes, except for the values its SQL rules read and the values of
//! its uniqueness rules. Rules are evaluated in the order [`Checker::rules`] lists them, and every
//! failing rule is reported (not only the first).
//!
//! Which rules are checked at write time: everything a single record can break (required, logical
//! types, `logicalTypeOptions`, `unique`, and the quality rules that tolerate no bad record:
//! `nullValues`, `missingValues`, `invalidValues` and `duplicateValues` whose operator admits a count
//! of zero only, such as `mustBe: 0` or `mustBeLessThan: 1`, plus Weft's SQL rules). Rules about the
//! whole dataset are listed with `checked_at_write: false`: `rowCount`, `type: sql` queries, counts
//! that tolerate some bad records (`mustBeLessThan: 5`, any percentage above zero), `type: text`,
//! and custom rules of other engines (Soda, Great Expectations...).
//!
//! # Uniqueness
//! `unique: true` and `duplicateValues` rules remember the values written, bounded: a time window
//! and a number of values, both set by custom properties (on the quality rule, the property, the
//! schema object or the contract, the nearest winning):
//!
//! ```yaml
//! customProperties:
//!   - property: weftUniqueWindow     # a duration: 90s, 15m, 24h, 7d, ISO-8601 (PT1H), or milliseconds
//!     value: 24h                     # default 24h
//!   - property: weftUniqueMaxValues  # how many values are remembered
//!     value: 100000                  # default 100000
//! ```
//!
//! When more values fall within the window than `weftUniqueMaxValues`, the oldest are forgotten
//! first: uniqueness then holds over the most recent values only ([`Checker::unique_windows`] counts
//! what was forgotten early). The window lives in memory and starts empty when the checker is built;
//! [`Checker::remember`] fills it from records already written (after a restart, say).
//!
//! # Concurrency
//! [`Checker`] is `Send + Sync` and checks with `&self`; the windows are behind one mutex per
//! checker, taken once per record that has unique values. [`Checker::check`] checks and remembers
//! a record atomically. A write of several records uses a [`Batch`]: its checks see the values of
//! the batch's earlier passing records, and it remembers them only when [`Batch::commit`] is called
//! after the write succeeded, so a refused or failed write leaves no trace. Two batches open at
//! once on one checker do not see each other's values: the caller serializes batch, write and
//! commit per checker (the write path holds one lock per product for that).

mod build;
mod sql;
mod unique;
mod value;

use std::collections::HashSet;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

pub(crate) use build::{build, Located};
pub use unique::{DEFAULT_UNIQUE_MAX_VALUES, DEFAULT_UNIQUE_WINDOW_MS};
pub(crate) use value::shown as shown_value;

use sql::{Outcome, SqlRule};
use unique::{hash_values, Window};
use value::{shown, TypeCheck, ValueCheck};

/// The custom property that sets the window of uniqueness rules.
pub const UNIQUE_WINDOW_PROPERTY: &str = "weftUniqueWindow";
/// The custom property that sets how many values uniqueness rules remember.
pub const UNIQUE_MAX_VALUES_PROPERTY: &str = "weftUniqueMaxValues";

/// A rule a record broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Named apart in the OpenAPI document from the mesh's `Violation` (which adds the port's schema).
#[cfg_attr(feature = "openapi", schema(as = ContractRuleViolation))]
pub struct Violation {
    /// The rule's id ([`RuleInfo::id`]): the contract's own `id` or `name` for a quality rule that has
    /// one, else a path such as `properties.amount.minimum`.
    pub rule: String,
    /// The field, as a path in the record (`customer.email`, `lines[2].sku`), when the rule is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why, with the offending value (truncated).
    pub reason: String,
}

/// What kind of rule a [`RuleInfo`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RuleKind {
    /// `required: true`.
    Required,
    /// `logicalType` (and the `format` of a temporal type).
    LogicalType,
    Minimum,
    Maximum,
    ExclusiveMinimum,
    ExclusiveMaximum,
    MultipleOf,
    /// A string `format` (`email`, `uuid`...) or a number's (`i32`, `f32`).
    Format,
    MinLength,
    MaxLength,
    Pattern,
    MinItems,
    MaxItems,
    UniqueItems,
    MinProperties,
    MaxProperties,
    /// An object's `logicalTypeOptions.required`.
    RequiredMembers,
    /// `unique: true`.
    Unique,
    NullValues,
    MissingValues,
    InvalidValues,
    DuplicateValues,
    RowCount,
    /// A library metric the standard does not define.
    OtherMetric,
    /// `type: sql`: a query over the dataset.
    Sql,
    /// `type: custom`, `engine: weft`: a per-record SQL expression.
    Expression,
    /// `type: custom` for another engine.
    Custom,
    /// `type: text`.
    Text,
}

/// One rule of a compiled contract, for listing (the UI, `weft contract test`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleInfo {
    /// Stable within a contract: the quality rule's `id` or `name` when it has one, else a path such
    /// as `properties.amount.minimum` (`.2`, `.3`... appended when ids repeat).
    pub id: String,
    /// The field the rule is about (`customer.email`, `lines[].sku`), if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub kind: RuleKind,
    /// The rule's own `description` when it has one, else what it requires; for rules not checked at
    /// write time, also why.
    pub description: String,
    /// Whether records are checked against the rule as they are written.
    pub checked_at_write: bool,
    /// The quality rule's `severity`, as the contract gives it (`info`, `warning`, `error`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

/// The state of one uniqueness rule's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UniqueWindowInfo {
    pub rule: String,
    pub window_ms: i64,
    pub max_values: usize,
    /// How many values are remembered now.
    pub remembered: usize,
    /// Values forgotten before their window ended, because `max_values` was reached: while this
    /// grows, uniqueness holds over fewer values than the window.
    pub forgotten_early: u64,
}

/// What a value in the record must satisfy when it is absent or null.
#[derive(Debug)]
enum NullRule {
    Required,
    /// `nullValues`.
    NotNull,
    /// `missingValues` listing null.
    Missing,
}

/// The checks of one property (or of an array's items), in a tree like the contract's.
#[derive(Debug, Default)]
struct Node {
    /// The member of the enclosing object (unused for items).
    member: String,
    /// The field's path (`customer.id`), for the violations of uniqueness rules (never in arrays).
    path: String,
    null_rules: Vec<(usize, NullRule)>,
    ty: Option<(usize, TypeCheck)>,
    checks: Vec<(usize, ValueCheck)>,
    children: Vec<Node>,
    items: Option<Box<Node>>,
    /// Uniqueness rules: (rule, window slot).
    unique: Vec<(usize, usize)>,
}

/// A rule about the whole record.
#[derive(Debug)]
enum RecordRule {
    Sql {
        rule: usize,
        field: Option<String>,
        sql: Box<SqlRule>,
    },
    /// `duplicateValues` over several properties: each a path of members.
    Unique {
        rule: usize,
        slot: usize,
        members: Vec<Vec<String>>,
        names: Vec<String>,
    },
}

/// The checks of one schema object of a contract. `Send + Sync`; see the module docs.
#[derive(Debug)]
pub struct Checker {
    object: String,
    rules: Vec<RuleInfo>,
    /// The rule that a record is an object (the first rule).
    record_rule: usize,
    root: Vec<Node>,
    record_rules: Vec<RecordRule>,
    /// The windows of the uniqueness rules, by slot.
    windows: Mutex<Vec<Window>>,
    /// The rule of each slot.
    window_rules: Vec<usize>,
}

/// A value of a uniqueness rule found in a record. What a violation would say is kept by reference
/// and written only if there is one.
struct Found<'a> {
    rule: usize,
    slot: usize,
    hash: u64,
    field: Option<&'a str>,
    value: FoundValue<'a>,
}

enum FoundValue<'a> {
    One(&'a Value),
    /// A combination: the property names and their values.
    Tuple(&'a [String], Vec<&'a Value>),
}

impl Found<'_> {
    fn shown(&self) -> String {
        match &self.value {
            FoundValue::One(value) => shown(value),
            FoundValue::Tuple(names, values) => {
                let parts: Vec<String> = names.iter().zip(values).map(|(n, v)| format!("{n}={}", shown(v))).collect();
                format!("({})", parts.join(", "))
            }
        }
    }
}

/// Where a value is in the record, as a list on the stack (rendered only for a violation).
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => crate::model::join(&parent.render(), key),
            At::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

impl Checker {
    /// Checks one record and, when it passes, remembers its unique values at once, atomically: of
    /// two threads checking records with the same unique value, one passes. `timestamp_ms` is the
    /// record's timestamp (uniqueness windows are measured in it).
    pub fn check(&self, value: &Value, timestamp_ms: i64) -> Vec<Violation> {
        let (mut out, found) = self.evaluate(value);
        if found.is_empty() {
            return out;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let ([f], true) = (found.as_slice(), out.is_empty()) {
            // The common case: one unique value in a record that passes the other rules, judged and
            // remembered with one lookup.
            if let Some(at) = windows[f.slot].check_and_remember(f.hash, timestamp_ms) {
                out.push(self.repeated(f, timestamp_ms, at, &windows[f.slot]));
            }
            return out;
        }
        self.judge(&found, timestamp_ms, &windows, None, &mut out);
        if out.is_empty() {
            for f in found {
                windows[f.slot].remember(f.hash, timestamp_ms);
            }
        }
        out
    }

    /// A batch of records checked together and remembered only on [`Batch::commit`].
    pub fn batch(&self) -> Batch<'_> {
        Batch { checker: self, pending: Vec::new(), pending_set: HashSet::new() }
    }

    /// Every rule of the object, in the order they are checked.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The schema object the checker checks.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// Remembers the unique values of a record already written, without checking it (to fill the
    /// windows from recent records after a restart).
    pub fn remember(&self, value: &Value, timestamp_ms: i64) {
        let (_, found) = self.evaluate(value);
        if found.is_empty() {
            return;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for f in found {
            windows[f.slot].remember(f.hash, timestamp_ms);
        }
    }

    /// The state of each uniqueness rule's window.
    pub fn unique_windows(&self) -> Vec<UniqueWindowInfo> {
        let windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        windows
            .iter()
            .zip(&self.window_rules)
            .map(|(w, &rule)| UniqueWindowInfo {
                rule: self.rules[rule].id.clone(),
                window_ms: w.config.window_ms,
                max_values: w.config.max_values,
                remembered: w.len(),
                forgotten_early: w.forgotten_early(),
            })
            .collect()
    }

    fn violation(&self, rule: usize, field: Option<String>, reason: String) -> Violation {
        Violation { rule: self.rules[rule].id.clone(), field, reason }
    }

    /// Every rule but the windows of uniqueness: the violations, and the unique values found.
    fn evaluate<'a>(&'a self, value: &'a Value) -> (Vec<Violation>, Vec<Found<'a>>) {
        let mut out = Vec::new();
        let mut found = Vec::new();
        let Value::Object(map) = value else {
            let reason = format!("a record must be an object, found {}", shown(value));
            return (vec![self.violation(self.record_rule, None, reason)], found);
        };
        let root = At::Root;
        for node in &self.root {
            let at = At::Key(&root, &node.member);
            self.check_node(node, map.get(&node.member), &at, &mut out, &mut found);
        }
        for rule in &self.record_rules {
            match rule {
                RecordRule::Sql { rule, field, sql } => {
                    let reason = match sql.eval(value) {
                        Outcome::Pass => continue,
                        Outcome::False => format!("`{}` is false for {}", sql.text, sql.inputs(value)),
                        Outcome::Null => format!("`{}` is null (undecided) for {}", sql.text, sql.inputs(value)),
                    };
                    out.push(self.violation(*rule, field.clone(), reason));
                }
                RecordRule::Unique { rule, slot, members, names } => {
                    let values: Vec<&Value> =
                        members.iter().map(|path| lookup(value, path).unwrap_or(&Value::Null)).collect();
                    // As in SQL, a combination with a null part is no duplicate of anything.
                    if values.iter().any(|v| v.is_null()) {
                        continue;
                    }
                    let hash = hash_values(values.iter().copied());
                    found.push(Found {
                        rule: *rule,
                        slot: *slot,
                        hash,
                        field: None,
                        value: FoundValue::Tuple(names, values),
                    });
                }
            }
        }
        (out, found)
    }

    /// The violations of uniqueness among `found`: values remembered within their window, or
    /// (`pending`) already in the batch.
    fn judge(
        &self,
        found: &[Found],
        timestamp_ms: i64,
        windows: &[Window],
        pending: Option<&HashSet<(usize, u64)>>,
        out: &mut Vec<Violation>,
    ) {
        for f in found {
            let window = &windows[f.slot];
            if let Some(at) = window.seen_near(f.hash, timestamp_ms) {
                out.push(self.repeated(f, timestamp_ms, at, window));
            } else if pending.is_some_and(|p| p.contains(&(f.slot, f.hash))) {
                let reason = format!("{} appears more than once in this write", f.shown());
                out.push(self.violation(f.rule, f.field.map(str::to_string), reason));
            }
        }
    }

    /// The violation of a value already written at `at`.
    fn repeated(&self, f: &Found, timestamp_ms: i64, at: i64, window: &Window) -> Violation {
        let reason = format!(
            "{} was already written {} (unique within {})",
            f.shown(),
            ago(timestamp_ms.saturating_sub(at)),
            duration(window.config.window_ms)
        );
        self.violation(f.rule, f.field.map(str::to_string), reason)
    }

    fn check_node<'a>(
        &'a self,
        node: &'a Node,
        value: Option<&'a Value>,
        at: &At<'_>,
        out: &mut Vec<Violation>,
        found: &mut Vec<Found<'a>>,
    ) {
        let value = match value {
            None | Some(Value::Null) => {
                for (rule, kind) in &node.null_rules {
                    let state = if value.is_none() { "absent" } else { "null" };
                    let reason = match kind {
                        NullRule::Required => format!("is required but {state}"),
                        NullRule::NotNull => format!("is {state}: null values are not allowed"),
                        NullRule::Missing => format!("is {state}, a missing value"),
                    };
                    out.push(self.violation(*rule, Some(at.render()), reason));
                }
                return;
            }
            Some(value) => value,
        };
        let typed = match &node.ty {
            Some((rule, check)) => match check.check(value) {
                None => true,
                Some(reason) => {
                    out.push(self.violation(*rule, Some(at.render()), reason));
                    false
                }
            },
            None => true,
        };
        for (rule, check) in &node.checks {
            if typed || check.any_type() {
                if let Some(reason) = check.check(value) {
                    out.push(self.violation(*rule, Some(at.render()), reason));
                }
            }
        }
        for &(rule, slot) in &node.unique {
            let hash = hash_values([value]);
            found.push(Found { rule, slot, hash, field: Some(&node.path), value: FoundValue::One(value) });
        }
        if !typed {
            return;
        }
        if let (false, Value::Object(map)) = (node.children.is_empty(), value) {
            for child in &node.children {
                let at = At::Key(at, &child.member);
                self.check_node(child, map.get(&child.member), &at, out, found);
            }
        }
        if let (Some(items), Value::Array(values)) = (&node.items, value) {
            for (i, item) in values.iter().enumerate() {
                let at = At::Index(at, i);
                self.check_node(items, Some(item), &at, out, found);
            }
        }
    }
}

/// The value at a path of members, if every step is an object that has it.
fn lookup<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, member| v.get(member))
}

/// Records checked together: see [`Checker::batch`].
pub struct Batch<'c> {
    checker: &'c Checker,
    /// Unique values of the batch's passing records: (slot, hash, timestamp).
    pending: Vec<(usize, u64, i64)>,
    pending_set: HashSet<(usize, u64)>,
}

impl Batch<'_> {
    /// Checks one record against every rule, uniqueness against the values remembered and those of
    /// the batch's earlier passing records. A record with no violation joins the batch.
    pub fn check(&mut self, value: &Value, timestamp_ms: i64) -> Vec<Violation> {
        let checker = self.checker;
        let (mut out, found) = checker.evaluate(value);
        if found.is_empty() {
            return out;
        }
        {
            let windows = checker.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            checker.judge(&found, timestamp_ms, &windows, Some(&self.pending_set), &mut out);
        }
        if out.is_empty() {
            for f in found {
                self.pending_set.insert((f.slot, f.hash));
                self.pending.push((f.slot, f.hash, timestamp_ms));
            }
        }
        out
    }

    /// Remembers the unique values of the batch's passing records: call it once they are written.
    /// Dropping the batch instead forgets them.
    pub fn commit(self) {
        if self.pending.is_empty() {
            return;
        }
        let mut windows = self.checker.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (slot, hash, timestamp_ms) in self.pending {
            windows[slot].remember(hash, timestamp_ms);
        }
    }
}

/// `3.2 s earlier`, `at the same time`, `2 min later`.
fn ago(ms: i64) -> String {
    match ms {
        0 => "at the same time".to_string(),
        ms if ms > 0 => format!("{} earlier", duration(ms)),
        ms => format!("{} later", duration(ms.saturating_neg())),
    }
}

/// A duration in the largest unit that keeps it readable: `250 ms`, `3.2 s`, `15 min`, `24 h`, `7 d`.
pub(crate) fn duration(ms: i64) -> String {
    let trim = |x: f64| {
        let text = format!("{x:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    };
    let x = ms as f64;
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", trim(x / 1000.0))
    } else if ms < 3_600_000 {
        format!("{} min", trim(x / 60_000.0))
    } else if ms < 2 * 86_400_000 {
        format!("{} h", trim(x / 3_600_000.0))
    } else {
        format!("{} d", trim(x / 86_400_000.0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn checkers_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Checker>();
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(250), "250 ms");
        assert_eq!(super::duration(3200), "3.2 s");
        assert_eq!(super::duration(15 * 60_000), "15 min");
        assert_eq!(super::duration(86_400_000), "24 h");
        assert_eq!(super::duration(7 * 86_400_000), "7 d");
    }
}
