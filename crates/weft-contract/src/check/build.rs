//! Compiling one schema object into a [`Checker`], collecting every problem of the contract on the way
//! (the same pass is Weft's semantic check of a contract at import, so a contract that imports
//! always compiles).

use std::collections::HashSet;
use std::sync::Mutex;

use regex::{Regex, RegexBuilder};
use serde_json::Value;
use weft_schema::json_schema::JsonSchema;

use super::sql::{RecordScope, SqlRule};
use super::unique::{Window, WindowConfig, DEFAULT_UNIQUE_MAX_VALUES, DEFAULT_UNIQUE_WINDOW_MS};
use super::value::{number, readable_date_pattern, shown, Temporal, TypeCheck, ValueCheck};
use super::{
    duration, Checker, Node, NullRule, RecordRule, RuleInfo, RuleKind, UNIQUE_MAX_VALUES_PROPERTY,
    UNIQUE_WINDOW_PROPERTY,
};
use crate::model::{LogicalType, Metric, Property, QualityKind, QualityRule, WEFT_ENGINE};

/// A problem found while compiling: a JSON pointer into the contract and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub pointer: String,
    pub message: String,
}

/// The largest compiled program a contract's pattern may become (the `regex` crate's size limit):
/// matching is linear in the text whatever the pattern, and this bounds the memory.
const MAX_PATTERN_SIZE: usize = 1 << 20;

/// The string formats weft-schema's JSON Schema validator asserts.
const ASSERTED_FORMATS: [&str; 9] = ["date-time", "date", "time", "email", "uuid", "ipv4", "ipv6", "hostname", "uri"];

/// Compiles the schema object `object` of a contract whose contract-level custom properties are
/// `contract_custom`.
pub(crate) fn build(object: &Property<'_>, contract_custom: Option<&Value>) -> Result<Checker, Vec<Located>> {
    let mut b = Builder {
        object,
        contract_custom,
        scope: RecordScope::of(object),
        rules: Vec::new(),
        ids: HashSet::new(),
        problems: Vec::new(),
        windows: Vec::new(),
        window_rules: Vec::new(),
        record_rules: Vec::new(),
    };
    let record_rule = b.rule(
        None,
        "logicalType".into(),
        None,
        RuleKind::LogicalType,
        format!("a record of {} is an object", object.name),
        true,
        None,
    );
    let root: Vec<Node> = object.children().iter().map(|p| b.property(p)).collect();
    let names: Vec<&str> = object.children().iter().map(|c| c.name).collect();
    b.sibling_names(&object.pointer, &names);
    for rule in object.quality() {
        b.object_quality(&rule);
    }
    if !b.problems.is_empty() {
        return Err(b.problems);
    }
    Ok(Checker {
        object: object.name.to_string(),
        rules: b.rules,
        record_rule,
        root,
        record_rules: b.record_rules,
        windows: Mutex::new(b.windows.into_iter().map(Window::new).collect()),
        window_rules: b.window_rules,
    })
}

struct Builder<'a, 'c> {
    object: &'a Property<'c>,
    contract_custom: Option<&'c Value>,
    scope: RecordScope,
    rules: Vec<RuleInfo>,
    ids: HashSet<String>,
    problems: Vec<Located>,
    windows: Vec<WindowConfig>,
    window_rules: Vec<usize>,
    record_rules: Vec<RecordRule>,
}

/// How a quality rule is listed: its id, description and severity as the contract gives them.
struct Given<'q> {
    id: Option<&'q str>,
    description: Option<&'q str>,
    severity: Option<String>,
}

impl<'q> Given<'q> {
    fn of(rule: &QualityRule<'q>) -> Given<'q> {
        Given {
            id: rule.given_id(),
            description: rule.map.get("description").and_then(Value::as_str),
            severity: rule.map.get("severity").and_then(Value::as_str).map(str::to_string),
        }
    }
}

impl<'a, 'c> Builder<'a, 'c> {
    fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Located { pointer: pointer.into(), message: message.into() });
    }

    /// Adds a rule to the list and returns its index; ids are made unique by a suffix.
    #[allow(clippy::too_many_arguments)]
    fn rule(
        &mut self,
        given: Option<&str>,
        generated: String,
        field: Option<String>,
        kind: RuleKind,
        description: String,
        checked_at_write: bool,
        severity: Option<String>,
    ) -> usize {
        let base = given.map(str::to_string).unwrap_or(generated);
        let mut id = base.clone();
        let mut n = 2;
        while !self.ids.insert(id.clone()) {
            id = format!("{base}.{n}");
            n += 1;
        }
        self.rules.push(RuleInfo { id, field, kind, description, checked_at_write, severity });
        self.rules.len() - 1
    }

    /// A rule of the property `p` from its schema (not a quality rule).
    fn schema_rule(&mut self, p: &Property<'_>, suffix: &str, kind: RuleKind, description: String) -> usize {
        self.rule(None, format!("properties.{}.{suffix}", p.path), Some(p.path.clone()), kind, description, true, None)
    }

    /// A quality rule that is listed but not checked at write time, with why.
    fn unchecked(&mut self, given: &Given<'_>, generated: String, field: Option<String>, kind: RuleKind, why: &str) {
        let description = match given.description {
            Some(d) => format!("{d} (not checked at write time: {why})"),
            None => format!("not checked at write time: {why}"),
        };
        self.rule(given.id, generated, field, kind, description, false, given.severity.clone());
    }

    fn property(&mut self, p: &Property<'_>) -> Node {
        let mut node = Node { member: p.name.to_string(), path: p.path.clone(), ..Node::default() };
        let field = p.path.as_str();
        if p.required() {
            let rule = self.schema_rule(p, "required", RuleKind::Required, format!("{field} is present and not null"));
            node.null_rules.push((rule, NullRule::Required));
        }
        let logical = p.logical_type();
        let temporal = logical.filter(|t| t.is_temporal()).map(|ty| Temporal {
            ty,
            format: p.option("format").and_then(Value::as_str).filter(|f| readable_date_pattern(f)).map(str::to_string),
        });
        if let Some(ty) = logical {
            let format = p.option("format").and_then(Value::as_str);
            let (check, description) = match (&temporal, format) {
                (Some(_), Some(f)) if !readable_date_pattern(f) => (
                    TypeCheck::TemporalText(ty),
                    format!(
                        "{field} is a {} written as text (its format {f} uses pattern letters Weft does not read: only the text is checked)",
                        ty.name()
                    ),
                ),
                (Some(t), _) => (TypeCheck::Temporal(t.clone()), format!("{field} is {}", t.expected())),
                (None, _) => (TypeCheck::Plain(ty), format!("{field} is of logical type {}", ty.name())),
            };
            let rule = self.schema_rule(p, "logicalType", RuleKind::LogicalType, description);
            node.ty = Some((rule, check));
        }
        self.options(p, logical, temporal.as_ref(), &mut node);
        if p.unique() {
            let description = format!("{field} is unique");
            self.unique(p, None, &Given { id: None, description: None, severity: None }, description, &mut node);
        }
        for rule in p.quality() {
            self.property_quality(p, &rule, &mut node);
        }
        node.children = p.children().iter().map(|c| self.property(c)).collect();
        let names: Vec<&str> = p.children().iter().map(|c| c.name).collect();
        self.sibling_names(&p.pointer, &names);
        if logical == Some(LogicalType::Array) || p.map.contains_key("items") {
            node.items = p.items().map(|items| Box::new(self.property(&items)));
        }
        node
    }

    /// Refuses two properties of one name at one level.
    fn sibling_names(&mut self, pointer: &str, names: &[&str]) {
        for (i, name) in names.iter().enumerate() {
            if let Some(first) = names[..i].iter().position(|n| n == name) {
                self.problem(
                    format!("{pointer}/properties/{i}/name"),
                    format!("a property named '{name}' is already defined at this level (properties[{first}])"),
                );
            }
        }
    }

    fn options(
        &mut self,
        p: &Property<'_>,
        logical: Option<LogicalType>,
        temporal: Option<&Temporal>,
        node: &mut Node,
    ) {
        let Some(options) = p.options() else { return };
        let field = p.path.clone();
        let at = |name: &str| format!("{}/logicalTypeOptions/{name}", p.pointer);
        // v3.0 wrote exclusive bounds as booleans qualifying minimum and maximum.
        let exclusive_flag = |name: &str| options.get(name).and_then(Value::as_bool).unwrap_or(false);
        let mut numeric: [Option<(f64, bool)>; 2] = [None, None];
        let mut dates: [Option<(i64, bool, String)>; 2] = [None, None];
        let mut lengths: [Option<u64>; 2] = [None, None];
        let mut counts: [Option<u64>; 2] = [None, None];
        let mut members: [Option<u64>; 2] = [None, None];
        for name in [
            "minimum",
            "exclusiveMinimum",
            "maximum",
            "exclusiveMaximum",
            "multipleOf",
            "format",
            "minLength",
            "maxLength",
            "pattern",
            "minItems",
            "maxItems",
            "uniqueItems",
            "minProperties",
            "maxProperties",
            "required",
        ] {
            let Some(value) = options.get(name) else { continue };
            let lower = name.ends_with("inimum");
            let exclusive = name.starts_with("exclusive");
            let kind = match name {
                "minimum" => RuleKind::Minimum,
                "exclusiveMinimum" => RuleKind::ExclusiveMinimum,
                "maximum" => RuleKind::Maximum,
                _ => RuleKind::ExclusiveMaximum,
            };
            match (name, value) {
                ("minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum", Value::Number(n)) => {
                    let bound = n.as_f64().unwrap_or_default();
                    let exclusive =
                        exclusive || exclusive_flag(if lower { "exclusiveMinimum" } else { "exclusiveMaximum" });
                    let op = match (lower, exclusive) {
                        (true, false) => ">=",
                        (true, true) => ">",
                        (false, false) => "<=",
                        (false, true) => "<",
                    };
                    let rule = self.schema_rule(p, name, kind, format!("{field} {op} {}", number(bound)));
                    let check = if lower {
                        ValueCheck::Minimum { bound, exclusive }
                    } else {
                        ValueCheck::Maximum { bound, exclusive }
                    };
                    node.checks.push((rule, check));
                    let slot = &mut numeric[usize::from(!lower)];
                    // The tighter of minimum and exclusiveMinimum (or of the maxima) decides emptiness.
                    *slot = Some(match *slot {
                        Some(old) if (lower && old.0 > bound) || (!lower && old.0 < bound) => old,
                        _ => (bound, exclusive),
                    });
                }
                ("minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum", Value::String(text)) => {
                    let Some(temporal) = temporal else { continue };
                    let Some(bound) = temporal.parse(text) else {
                        self.problem(at(name), format!("'{text}' is not {}", temporal.expected()));
                        continue;
                    };
                    let op = match (lower, exclusive) {
                        (true, false) => ">=",
                        (true, true) => ">",
                        (false, false) => "<=",
                        (false, true) => "<",
                    };
                    let rule = self.schema_rule(p, name, kind, format!("{field} {op} {text}"));
                    let temporal = temporal.clone();
                    let text = text.clone();
                    let check = if lower {
                        ValueCheck::TemporalMinimum { temporal, bound, exclusive, text: text.clone() }
                    } else {
                        ValueCheck::TemporalMaximum { temporal, bound, exclusive, text: text.clone() }
                    };
                    node.checks.push((rule, check));
                    dates[usize::from(!lower)] = Some((bound, exclusive, text));
                }
                ("multipleOf", Value::Number(n)) => {
                    let m = n.as_f64().unwrap_or_default();
                    if m > 0.0 {
                        let rule = self.schema_rule(
                            p,
                            name,
                            RuleKind::MultipleOf,
                            format!("{field} is a multiple of {}", number(m)),
                        );
                        node.checks.push((rule, ValueCheck::MultipleOf(m)));
                    }
                }
                ("format", Value::String(format)) => self.format(p, logical, format, node),
                ("minLength" | "maxLength", Value::Number(n)) => {
                    let Some(n) = n.as_u64() else { continue };
                    let (kind, check, what) = if name == "minLength" {
                        (RuleKind::MinLength, ValueCheck::MinLength(n as usize), "at least")
                    } else {
                        (RuleKind::MaxLength, ValueCheck::MaxLength(n as usize), "at most")
                    };
                    let rule = self.schema_rule(p, name, kind, format!("{field} has {what} {n} characters"));
                    node.checks.push((rule, check));
                    lengths[usize::from(name == "maxLength")] = Some(n);
                }
                ("pattern", Value::String(pattern)) => {
                    if let Some(re) = self.regex(&at(name), pattern) {
                        let rule = self.schema_rule(p, name, RuleKind::Pattern, format!("{field} matches {pattern}"));
                        node.checks.push((rule, ValueCheck::Pattern(re)));
                    }
                }
                ("minItems" | "maxItems", Value::Number(n)) => {
                    let Some(n) = n.as_u64() else { continue };
                    let (kind, check, what) = if name == "minItems" {
                        (RuleKind::MinItems, ValueCheck::MinItems(n as usize), "at least")
                    } else {
                        (RuleKind::MaxItems, ValueCheck::MaxItems(n as usize), "at most")
                    };
                    let rule = self.schema_rule(p, name, kind, format!("{field} has {what} {n} items"));
                    node.checks.push((rule, check));
                    counts[usize::from(name == "maxItems")] = Some(n);
                }
                ("uniqueItems", Value::Bool(true)) => {
                    let rule =
                        self.schema_rule(p, name, RuleKind::UniqueItems, format!("{field} has no two equal items"));
                    node.checks.push((rule, ValueCheck::UniqueItems));
                }
                ("minProperties" | "maxProperties", Value::Number(n)) => {
                    let Some(n) = n.as_u64() else { continue };
                    let (kind, check, what) = if name == "minProperties" {
                        (RuleKind::MinProperties, ValueCheck::MinProperties(n as usize), "at least")
                    } else {
                        (RuleKind::MaxProperties, ValueCheck::MaxProperties(n as usize), "at most")
                    };
                    let rule = self.schema_rule(p, name, kind, format!("{field} has {what} {n} members"));
                    node.checks.push((rule, check));
                    members[usize::from(name == "maxProperties")] = Some(n);
                }
                ("required", Value::Array(names)) => {
                    let names: Vec<String> = names.iter().filter_map(Value::as_str).map(str::to_string).collect();
                    let known: Vec<&str> = p.children().iter().map(|c| c.name).collect();
                    if !known.is_empty() {
                        for (i, n) in names.iter().enumerate() {
                            if !known.contains(&n.as_str()) {
                                self.problem(
                                    format!("{}/{i}", at(name)),
                                    format!("'{n}' is not a property of {field} (it has: {})", known.join(", ")),
                                );
                            }
                        }
                    }
                    let rule = self.schema_rule(
                        p,
                        "requiredMembers",
                        RuleKind::RequiredMembers,
                        format!("{field} has the members {}", names.join(", ")),
                    );
                    node.checks.push((rule, ValueCheck::RequiredMembers(names)));
                }
                _ => {}
            }
        }
        let options_at = format!("{}/logicalTypeOptions", p.pointer);
        if let [Some((lo, lo_ex)), Some((hi, hi_ex))] = numeric {
            if lo > hi || (lo == hi && (lo_ex || hi_ex)) {
                self.problem(
                    &options_at,
                    format!("the minimum {} is above the maximum {}: no value can pass", number(lo), number(hi)),
                );
            }
        }
        if let [Some((lo, lo_ex, lo_text)), Some((hi, hi_ex, hi_text))] = &dates {
            if lo > hi || (lo == hi && (*lo_ex || *hi_ex)) {
                self.problem(
                    &options_at,
                    format!("the minimum {lo_text} is after the maximum {hi_text}: no value can pass"),
                );
            }
        }
        for (pair, what) in [
            (lengths, "minLength is above maxLength"),
            (counts, "minItems is above maxItems"),
            (members, "minProperties is above maxProperties"),
        ] {
            if let [Some(lo), Some(hi)] = pair {
                if lo > hi {
                    self.problem(&options_at, format!("{what} ({lo} > {hi}): no value can pass"));
                }
            }
        }
    }

    fn format(&mut self, p: &Property<'_>, logical: Option<LogicalType>, format: &str, node: &mut Node) {
        let field = p.path.clone();
        const INTEGERS: [(&str, i128, i128); 10] = [
            ("i8", i8::MIN as i128, i8::MAX as i128),
            ("i16", i16::MIN as i128, i16::MAX as i128),
            ("i32", i32::MIN as i128, i32::MAX as i128),
            ("i64", i64::MIN as i128, i64::MAX as i128),
            ("i128", i128::MIN, i128::MAX),
            ("u8", 0, u8::MAX as i128),
            ("u16", 0, u16::MAX as i128),
            ("u32", 0, u32::MAX as i128),
            ("u64", 0, u64::MAX as i128),
            ("u128", 0, i128::MAX),
        ];
        match logical {
            Some(t) if t.is_temporal() => {}
            Some(LogicalType::Integer) => {
                if let Some(&(name, min, max)) = INTEGERS.iter().find(|(n, ..)| *n == format) {
                    let rule = self.schema_rule(p, "format", RuleKind::Format, format!("{field} fits {name}"));
                    node.checks.push((rule, ValueCheck::IntegerRange { format: name.to_string(), min, max }));
                }
            }
            Some(LogicalType::Number) => {
                if format == "f32" {
                    let rule = self.schema_rule(p, "format", RuleKind::Format, format!("{field} fits f32"));
                    node.checks.push((rule, ValueCheck::Float32));
                }
            }
            _ if ASSERTED_FORMATS.contains(&format) => {
                let schema = JsonSchema::parse(&serde_json::json!({"type": "string", "format": format}).to_string());
                match schema {
                    Ok(schema) => {
                        let rule =
                            self.schema_rule(p, "format", RuleKind::Format, format!("{field} is a valid {format}"));
                        node.checks
                            .push((rule, ValueCheck::Format { name: format.to_string(), schema: Box::new(schema) }));
                    }
                    Err(e) => self.problem(format!("{}/logicalTypeOptions/format", p.pointer), e.to_string()),
                }
            }
            _ => {
                let description =
                    format!("{field} is in the format {format} (documentation: not checked at write time)");
                self.rule(
                    None,
                    format!("properties.{}.format", p.path),
                    Some(field),
                    RuleKind::Format,
                    description,
                    false,
                    None,
                );
            }
        }
    }

    fn regex(&mut self, pointer: &str, pattern: &str) -> Option<Regex> {
        match RegexBuilder::new(pattern).size_limit(MAX_PATTERN_SIZE).dfa_size_limit(MAX_PATTERN_SIZE).build() {
            Ok(re) => Some(re),
            Err(e) => {
                let detail = match e {
                    regex::Error::CompiledTooBig(_) => {
                        format!("the pattern compiles to more than {MAX_PATTERN_SIZE} bytes")
                    }
                    other => other.to_string(),
                };
                self.problem(
                    pointer,
                    format!(
                        "the pattern {} does not compile (Weft reads patterns with Rust's regex syntax: ECMA-262 without look-around or back-references): {detail}",
                        shown(&Value::String(pattern.to_string()))
                    ),
                );
                None
            }
        }
    }

    fn property_quality(&mut self, p: &Property<'_>, q: &QualityRule<'_>, node: &mut Node) {
        let given = Given::of(q);
        let field = Some(p.path.clone());
        let base = format!("properties.{}", p.path);
        match &q.kind {
            QualityKind::Library { name, metric } => {
                let generated = format!("{base}.{}", metric.map_or(*name, |m| m.name()));
                let Some(metric) = metric else {
                    let why = format!("'{name}' is not a metric of the standard");
                    return self.unchecked(&given, generated, field, RuleKind::OtherMetric, &why);
                };
                let kind = metric_kind(*metric);
                if *metric == Metric::RowCount {
                    return self.unchecked(&given, generated, field, kind, "it counts the rows of the whole dataset");
                }
                let threshold = q.threshold();
                if !threshold.per_record() {
                    let why = format!(
                        "it tolerates some bad records ({}), a count over the whole dataset",
                        q.threshold_text()
                    );
                    return self.unchecked(&given, generated, field, kind, &why);
                }
                if *metric == Metric::DuplicateValues {
                    let description = given.description.map_or_else(|| format!("{} is unique", p.path), str::to_string);
                    return self.unique(p, Some(q), &given, description, node);
                }
                self.value_metric(p, q, *metric, &given, generated, node);
            }
            QualityKind::Custom { engine, implementation } if engine.eq_ignore_ascii_case(WEFT_ENGINE) => {
                if p.in_array {
                    return self.problem(
                        &q.pointer,
                        "a Weft SQL rule inside an array's items is not supported: write it on the object, over the array",
                    );
                }
                let reference =
                    p.path.split('.').map(|m| format!("`{}`", m.replace('`', "``"))).collect::<Vec<_>>().join("->");
                self.expression(q, &given, format!("{base}.expression"), field, *implementation, Some(&reference));
            }
            _ => self.other_quality(q, &given, base, field),
        }
    }

    /// `nullValues`, `missingValues`, `invalidValues` of a property, per record.
    fn value_metric(
        &mut self,
        p: &Property<'_>,
        q: &QualityRule<'_>,
        metric: Metric,
        given: &Given<'_>,
        generated: String,
        node: &mut Node,
    ) {
        let field = p.path.as_str();
        let argument_at = |name: &str| {
            if q.map.get("arguments").and_then(|a| a.get(name)).is_some() {
                format!("{}/arguments/{name}", q.pointer)
            } else {
                format!("{}/{name}", q.pointer)
            }
        };
        let describe = |fallback: String| given.description.map_or(fallback, str::to_string);
        let kind = metric_kind(metric);
        match metric {
            Metric::NullValues => {
                let rule = self.rule(
                    given.id,
                    generated,
                    Some(field.into()),
                    kind,
                    describe(format!("{field} is never null")),
                    true,
                    given.severity.clone(),
                );
                node.null_rules.push((rule, NullRule::NotNull));
            }
            Metric::MissingValues => {
                let listed = match q.argument("missingValues") {
                    None => vec![Value::Null, Value::String(String::new())],
                    Some(Value::Array(values)) => values.clone(),
                    Some(other) => {
                        return self.problem(
                            argument_at("missingValues"),
                            format!("missingValues must be a list of values, found {}", shown(other)),
                        );
                    }
                };
                let description = describe(format!(
                    "{field} is never one of the missing values {}",
                    shown(&Value::Array(listed.clone()))
                ));
                let rule =
                    self.rule(given.id, generated, Some(field.into()), kind, description, true, given.severity.clone());
                if listed.iter().any(Value::is_null) {
                    node.null_rules.push((rule, NullRule::Missing));
                }
                let values: Vec<Value> = listed.into_iter().filter(|v| !v.is_null()).collect();
                if !values.is_empty() {
                    node.checks.push((rule, ValueCheck::MissingValues(values)));
                }
            }
            Metric::InvalidValues => {
                let valid = match q.argument("validValues") {
                    None => None,
                    Some(Value::Array(values)) => Some(values.clone()),
                    Some(other) => {
                        return self.problem(
                            argument_at("validValues"),
                            format!("validValues must be a list of values, found {}", shown(other)),
                        );
                    }
                };
                let pattern = match q.argument("pattern") {
                    None => None,
                    Some(Value::String(p)) => match self.regex(&argument_at("pattern"), p) {
                        Some(re) => Some(re),
                        None => return,
                    },
                    Some(other) => {
                        return self.problem(
                            argument_at("pattern"),
                            format!("pattern must be a string, found {}", shown(other)),
                        );
                    }
                };
                if valid.is_none() && pattern.is_none() {
                    return self.unchecked(
                        given,
                        generated,
                        Some(field.into()),
                        kind,
                        "it names neither validValues nor a pattern",
                    );
                }
                let mut what = Vec::new();
                if let Some(values) = &valid {
                    what.push(format!("one of {}", shown(&Value::Array(values.clone()))));
                }
                if let Some(re) = &pattern {
                    what.push(format!("matches {}", re.as_str()));
                }
                let description = describe(format!("{field} is {}", what.join(" and ")));
                let rule =
                    self.rule(given.id, generated, Some(field.into()), kind, description, true, given.severity.clone());
                if let Some(values) = valid {
                    let list = shown(&Value::Array(values.clone()));
                    node.checks.push((rule, ValueCheck::ValidValues(values, list)));
                }
                if let Some(re) = pattern {
                    node.checks.push((rule, ValueCheck::ValidPattern(re)));
                }
            }
            Metric::DuplicateValues | Metric::RowCount => {}
        }
    }

    /// `unique: true`, or a property's `duplicateValues` rule (`rule`).
    fn unique(
        &mut self,
        p: &Property<'_>,
        q: Option<&QualityRule<'_>>,
        given: &Given<'_>,
        description: String,
        node: &mut Node,
    ) {
        let (generated, kind) = match q {
            Some(_) => (format!("properties.{}.duplicateValues", p.path), RuleKind::DuplicateValues),
            None => (format!("properties.{}.unique", p.path), RuleKind::Unique),
        };
        if p.in_array {
            let why = "the values of an array's items are not compared across records";
            return self.unchecked(given, generated, Some(p.path.clone()), kind, why);
        }
        let config = self.window_config(&[
            q.map(|q| (q.map.get("customProperties"), q.pointer.clone())),
            Some((p.map.get("customProperties"), p.pointer.clone())),
        ]);
        let description = format!(
            "{description} within {} (at most {} values remembered)",
            duration(config.window_ms),
            config.max_values
        );
        let rule =
            self.rule(given.id, generated, Some(p.path.clone()), kind, description, true, given.severity.clone());
        node.unique.push((rule, self.window(rule, config)));
    }

    fn window(&mut self, rule: usize, config: WindowConfig) -> usize {
        self.windows.push(config);
        self.window_rules.push(rule);
        self.windows.len() - 1
    }

    /// The window of a uniqueness rule: the nearest of `sources` (each a `customProperties` list and
    /// the pointer of its owner), then the schema object, then the contract, then the defaults.
    fn window_config(&mut self, sources: &[Option<(Option<&Value>, String)>]) -> WindowConfig {
        let mut chain: Vec<(Option<&Value>, String)> = sources.iter().flatten().cloned().collect();
        chain.push((self.object.map.get("customProperties"), self.object.pointer.clone()));
        chain.push((self.contract_custom, String::new()));
        let mut config = WindowConfig { window_ms: DEFAULT_UNIQUE_WINDOW_MS, max_values: DEFAULT_UNIQUE_MAX_VALUES };
        for (name, parse) in [
            (UNIQUE_WINDOW_PROPERTY, parse_window as fn(&Value) -> Result<i64, String>),
            (UNIQUE_MAX_VALUES_PROPERTY, parse_max_values),
        ] {
            let found = chain.iter().find_map(|(list, owner)| {
                let items = (*list)?.as_array()?;
                let i = items.iter().position(|p| p.get("property").and_then(Value::as_str) == Some(name))?;
                Some((items[i].get("value")?, format!("{owner}/customProperties/{i}/value")))
            });
            let Some((value, pointer)) = found else { continue };
            match parse(value) {
                Ok(n) if name == UNIQUE_WINDOW_PROPERTY => config.window_ms = n,
                Ok(n) => config.max_values = n as usize,
                Err(why) => self.problem(pointer, format!("{name}: {why}")),
            }
        }
        config
    }

    fn object_quality(&mut self, q: &QualityRule<'_>) {
        let given = Given::of(q);
        match &q.kind {
            QualityKind::Library { name, metric } => {
                let generated = format!("quality.{}", metric.map_or(*name, |m| m.name()));
                let Some(metric) = metric else {
                    let why = format!("'{name}' is not a metric of the standard");
                    return self.unchecked(&given, generated, None, RuleKind::OtherMetric, &why);
                };
                let kind = metric_kind(*metric);
                match metric {
                    Metric::RowCount => {
                        self.unchecked(&given, generated, None, kind, "it counts the rows of the whole dataset")
                    }
                    Metric::DuplicateValues => self.object_duplicates(q, &given, generated),
                    other => self.problem(
                        &q.pointer,
                        format!(
                            "{} counts the values of one property: put it in that property's quality",
                            other.name()
                        ),
                    ),
                }
            }
            QualityKind::Custom { engine, implementation } if engine.eq_ignore_ascii_case(WEFT_ENGINE) => {
                self.expression(q, &given, "quality.expression".into(), None, *implementation, None);
            }
            _ => self.other_quality(q, &given, "quality".into(), None),
        }
    }

    /// `duplicateValues` of the schema object: a combination of properties (`arguments.properties`).
    fn object_duplicates(&mut self, q: &QualityRule<'_>, given: &Given<'_>, generated: String) {
        let kind = RuleKind::DuplicateValues;
        let threshold = q.threshold();
        if !threshold.per_record() {
            let why = format!("it tolerates some duplicates ({}), a count over the whole dataset", q.threshold_text());
            return self.unchecked(given, generated, None, kind, &why);
        }
        let names: Vec<String> = match q.argument("properties") {
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut names = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(name) => names.push(name.to_string()),
                        None => self.problem(
                            format!("{}/arguments/properties/{i}", q.pointer),
                            format!("a property name, found {}", shown(item)),
                        ),
                    }
                }
                names
            }
            Some(other) => {
                return self.problem(
                    format!("{}/arguments/properties", q.pointer),
                    format!("properties must be a list of property names, found {}", shown(other)),
                );
            }
            None => {
                return self.unchecked(given, generated, None, kind, "it names no properties (arguments.properties)")
            }
        };
        let mut members = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match self.resolve(name) {
                Ok(path) => members.push(path),
                Err(why) => self.problem(format!("{}/arguments/properties/{i}", q.pointer), why),
            }
        }
        let config = self.window_config(&[Some((q.map.get("customProperties"), q.pointer.clone()))]);
        let description = format!(
            "{} within {} (at most {} values remembered)",
            given
                .description
                .map_or_else(|| format!("the combination ({}) is unique", names.join(", ")), str::to_string),
            duration(config.window_ms),
            config.max_values
        );
        let rule = self.rule(given.id, generated, None, kind, description, true, given.severity.clone());
        let slot = self.window(rule, config);
        self.record_rules.push(RecordRule::Unique { rule, slot, members, names });
    }

    /// A dotted property name (`customer.id`) of the object as a path of members; not through arrays.
    fn resolve(&self, name: &str) -> Result<Vec<String>, String> {
        let mut level = self.object.children();
        let mut path = Vec::new();
        for (i, member) in name.split('.').enumerate() {
            let Some(found) = level.iter().find(|p| p.name == member) else {
                let known: Vec<&str> = level.iter().map(|p| p.name).collect();
                let at = if i == 0 { self.object.name.to_string() } else { path.join(".") };
                return Err(format!(
                    "'{name}' names no property: {at} has no '{member}' (it has: {})",
                    known.join(", ")
                ));
            };
            path.push(member.to_string());
            level = found.children();
        }
        Ok(path)
    }

    /// A Weft SQL rule (`type: custom`, `engine: weft`). `reference` is how `{property}` is written
    /// in SQL for a property-level rule.
    fn expression(
        &mut self,
        q: &QualityRule<'_>,
        given: &Given<'_>,
        generated: String,
        field: Option<String>,
        implementation: Option<&Value>,
        reference: Option<&str>,
    ) {
        let at = format!("{}/implementation", q.pointer);
        let Some(Value::String(text)) = implementation else {
            return self.problem(at, "a Weft rule's implementation is a SQL condition written as text");
        };
        let mut sql = text.trim().to_string();
        // ODCS writes `{property}` (v3.0 `${property}`) for the property a rule is on.
        for placeholder in ["${property}", "{property}"] {
            if sql.contains(placeholder) {
                match reference {
                    Some(reference) => sql = sql.replace(placeholder, reference),
                    None => {
                        return self
                            .problem(at, format!("{placeholder} names no property: the rule is not on a property"))
                    }
                }
            }
        }
        match SqlRule::compile(&sql, &self.scope) {
            Ok(compiled) => {
                let description =
                    given.description.map_or_else(|| format!("`{}` holds", compiled.text), str::to_string);
                let rule = self.rule(
                    given.id,
                    generated,
                    field.clone(),
                    RuleKind::Expression,
                    description,
                    true,
                    given.severity.clone(),
                );
                self.record_rules.push(RecordRule::Sql { rule, field, sql: Box::new(compiled) });
            }
            Err(why) => self.problem(at, why),
        }
    }

    /// Quality rules never checked at write time: text, SQL queries, other engines.
    fn other_quality(&mut self, q: &QualityRule<'_>, given: &Given<'_>, base: String, field: Option<String>) {
        match &q.kind {
            QualityKind::Text => {
                self.unchecked(given, format!("{base}.text"), field, RuleKind::Text, "a description for people")
            }
            QualityKind::Sql => {
                self.unchecked(given, format!("{base}.sql"), field, RuleKind::Sql, "a SQL query over the whole dataset")
            }
            QualityKind::Custom { engine, .. } => {
                let why = format!("a check for the engine '{engine}' (Weft runs engine '{WEFT_ENGINE}')");
                self.unchecked(given, format!("{base}.custom"), field, RuleKind::Custom, &why)
            }
            QualityKind::Other(kind) => {
                let why = format!("'{kind}' is not a rule type of the standard");
                self.unchecked(given, format!("{base}.{kind}"), field, RuleKind::Custom, &why)
            }
            QualityKind::Library { .. } => {}
        }
    }
}

fn metric_kind(metric: Metric) -> RuleKind {
    match metric {
        Metric::NullValues => RuleKind::NullValues,
        Metric::MissingValues => RuleKind::MissingValues,
        Metric::InvalidValues => RuleKind::InvalidValues,
        Metric::DuplicateValues => RuleKind::DuplicateValues,
        Metric::RowCount => RuleKind::RowCount,
    }
}

/// A duration: milliseconds as a number, or text: `90s`, `15m`, `24h`, `7d`, `500ms`, ISO-8601 `PT1H30M`, `P1D`.
pub(crate) fn parse_window(value: &Value) -> Result<i64, String> {
    let ms = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not a whole number of milliseconds"))?,
        Value::String(text) => parse_duration_text(text.trim()).ok_or_else(|| {
            format!("'{text}' is not a duration (write 90s, 15m, 24h, 7d, PT1H or a number of milliseconds)")
        })?,
        other => return Err(format!("a duration, found {}", shown(other))),
    };
    if ms <= 0 {
        return Err(format!("the window must be longer than zero, found {ms} ms"));
    }
    Ok(ms)
}

fn parse_duration_text(text: &str) -> Option<i64> {
    if let Some(iso) = text.strip_prefix('P') {
        let (days, time) = match iso.split_once('T') {
            Some((d, t)) => (d, t),
            None => (iso, ""),
        };
        let mut total: i64 = 0;
        let mut add = |part: &str, units: &[(char, i64)]| -> Option<()> {
            let mut rest = part;
            while !rest.is_empty() {
                let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
                let n: f64 = rest[..end].parse().ok()?;
                let unit = rest[end..].chars().next()?;
                let (_, ms) = units.iter().find(|(u, _)| *u == unit)?;
                total = total.checked_add((n * *ms as f64) as i64)?;
                rest = &rest[end + unit.len_utf8()..];
            }
            Some(())
        };
        add(days, &[('W', 7 * 86_400_000), ('D', 86_400_000)])?;
        add(time, &[('H', 3_600_000), ('M', 60_000), ('S', 1000)])?;
        return (total > 0 || !iso.is_empty()).then_some(total);
    }
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let n: f64 = text[..end].parse().ok()?;
    let unit = match text[end..].trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    let ms = n * unit as f64;
    (ms.is_finite() && ms < i64::MAX as f64).then_some(ms as i64)
}

fn parse_max_values(value: &Value) -> Result<i64, String> {
    match value.as_u64() {
        Some(n) if n > 0 && n <= 100_000_000 => Ok(n as i64),
        _ => Err(format!("a whole number of values from 1 to 100000000, found {}", shown(value))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn windows_are_written_as_durations() {
        for (text, ms) in [
            ("90s", 90_000),
            ("15m", 900_000),
            ("24h", 86_400_000),
            ("7d", 604_800_000),
            ("500ms", 500),
            ("PT1H30M", 5_400_000),
            ("P1D", 86_400_000),
            ("1.5h", 5_400_000),
        ] {
            assert_eq!(parse_window(&json!(text)), Ok(ms), "{text}");
        }
        assert_eq!(parse_window(&json!(60000)), Ok(60_000));
        for bad in [json!("soon"), json!("10 parsecs"), json!(0), json!(-5), json!(true), json!("P")] {
            assert!(parse_window(&bad).is_err(), "{bad}");
        }
    }
}
