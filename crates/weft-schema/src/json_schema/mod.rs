//! JSON Schema (draft-04, -06, -07, 2019-09 and 2020-12): parsing with precise errors, a canonical text
//! and a compiled validator.
//!
//! The public surface is deliberately narrow (compile a schema, validate a value or bytes, located
//! errors, and the documents for tools that read them), so that the validator can be replaced without
//! its users noticing. Whether one schema accepts what another does is not a question JSON Schema
//! answers; the registry answers it by Confluent's rules, from [`JsonSchema::document`] and
//! [`JsonSchema::resolve_ref`].
//!
//! A schema is compiled once into a flat list of nodes, each a list of keyword checks with its
//! subschemas and `$ref`s resolved to node indices, so validating a payload walks the payload and those
//! nodes without allocating unless the payload is rejected. Payload bytes are checked while they are
//! parsed ([`JsonSchema::validate_bytes`]), without building a value at all.
//!
//! `format` is asserted for `date-time`, `date`, `time`, `email`, `uuid`, `ipv4`, `ipv6`, `hostname` and
//! `uri`, as Confluent's validator does; other formats are annotations. `pattern` uses Rust's `regex`
//! syntax (no look-around or back-references; a schema using them is refused with the reason).

pub(crate) mod format;
mod stream;

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::json::{canonical, first_duplicate, json_equal, kind, parse_json, pointer_escape, preview};
use crate::validation::{InstancePath, ValidationError};
use crate::MAX_DEPTH;
use format::Format;

/// The JSON Schema dialect a schema is written in, from its `$schema` (draft-07 when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Draft {
    Draft4,
    Draft6,
    Draft7,
    Draft2019_09,
    Draft2020_12,
}

/// Why a text is not a valid JSON Schema, and where (a JSON pointer into the schema document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", crate::avro::located(path))]
pub struct JsonSchemaError {
    pub path: String,
    pub message: String,
}

/// JSON's types as bits, so a `type` keyword's set of types is one byte: what the validator checks
/// values against and what the registry's compatibility rules compare between schema versions.
pub mod types {
    use serde_json::Value;

    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const OBJECT: u8 = 4;
    pub const ARRAY: u8 = 8;
    pub const NUMBER: u8 = 16;
    pub const STRING: u8 = 32;
    pub const INTEGER: u8 = 64;

    /// The bit of a type name, `None` for a name JSON Schema does not define.
    pub fn type_bit(name: &str) -> Option<u8> {
        Some(match name {
            "null" => NULL,
            "boolean" => BOOLEAN,
            "object" => OBJECT,
            "array" => ARRAY,
            "number" => NUMBER,
            "string" => STRING,
            "integer" => INTEGER,
            _ => return None,
        })
    }

    /// `string or null`, for messages.
    pub fn type_names(bits: u8) -> String {
        let names: Vec<&str> = ["null", "boolean", "object", "array", "number", "string", "integer"]
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        names.join(" or ")
    }

    /// A number with no fractional part is an integer (JSON Schema counts `1.0` as one).
    pub fn is_integer(n: &serde_json::Number) -> bool {
        n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.is_finite())
    }

    /// The type bits of a value (an integral number is both `number` and `integer`).
    pub fn value_bits(value: &Value) -> u8 {
        match value {
            Value::Null => NULL,
            Value::Bool(_) => BOOLEAN,
            Value::Object(_) => OBJECT,
            Value::Array(_) => ARRAY,
            Value::String(_) => STRING,
            Value::Number(n) if is_integer(n) => NUMBER | INTEGER,
            Value::Number(_) => NUMBER,
        }
    }
}

use types::{type_bit, type_names, value_bits, ARRAY, BOOLEAN, INTEGER, NULL, NUMBER, OBJECT, STRING};

#[derive(Debug)]
enum Check {
    False,
    Type(u8),
    Enum(Vec<Value>),
    Const(Value),
    Minimum(f64),
    Maximum(f64),
    ExclusiveMinimum(f64),
    ExclusiveMaximum(f64),
    MultipleOf(f64),
    MinLength(usize),
    MaxLength(usize),
    Pattern(Regex),
    Format(Format),
    Properties {
        props: Vec<(String, usize)>,
        /// `props` by hash, for lookups without string comparisons.
        index: stream::KeyTable,
        patterns: Vec<(Regex, usize)>,
        additional: Option<usize>,
    },
    Required(Vec<String>),
    MinProperties(usize),
    MaxProperties(usize),
    PropertyNames(usize),
    DependentRequired(Vec<(String, Vec<String>)>),
    DependentSchemas(Vec<(String, usize)>),
    Items {
        prefix: Vec<usize>,
        rest: Option<usize>,
    },
    MinItems(usize),
    MaxItems(usize),
    UniqueItems,
    Contains {
        schema: usize,
        min: usize,
        max: Option<usize>,
    },
    AllOf(Vec<usize>),
    AnyOf(Vec<usize>),
    OneOf(Vec<usize>),
    Not(usize),
    Ref(usize),
    IfThenElse {
        condition: usize,
        then: Option<usize>,
        otherwise: Option<usize>,
    },
    /// 2019-09+: properties no other keyword of this schema (or its in-place subschemas) evaluated.
    UnevaluatedProperties(usize),
    /// 2019-09+: items no other keyword evaluated.
    UnevaluatedItems(usize),
}

impl Check {
    /// Whether the keyword applies subschemas (to the value or to values inside it): the recursive ones.
    fn applies_subschemas(&self) -> bool {
        matches!(
            self,
            Check::Properties { .. }
                | Check::PropertyNames(_)
                | Check::DependentSchemas(_)
                | Check::Items { .. }
                | Check::Contains { .. }
                | Check::AllOf(_)
                | Check::AnyOf(_)
                | Check::OneOf(_)
                | Check::Not(_)
                | Check::Ref(_)
                | Check::UnevaluatedProperties(_)
                | Check::UnevaluatedItems(_)
                | Check::IfThenElse { .. }
        )
    }
}

#[derive(Debug, Default)]
struct Node {
    checks: Vec<Check>,
}

/// A parsed JSON Schema, compiled into a validator.
#[derive(Debug)]
pub struct JsonSchema {
    draft: Draft,
    /// The schema document (index 0) and the documents of its references, by reference name.
    docs: Documents,
    nodes: Vec<Node>,
    /// How each node is checked on the fast path, while parsing.
    plans: Vec<stream::Plan>,
    root: usize,
}

impl JsonSchema {
    /// Parses and compiles a schema text.
    pub fn parse(text: &str) -> Result<JsonSchema, JsonSchemaError> {
        Self::parse_with_references(text, &[])
    }

    /// Parses a schema whose `$ref`s may name referenced schemas (Confluent schema references) by their
    /// reference name, e.g. `"$ref": "address.json"` or `"$ref": "address.json#/$defs/street"`.
    pub fn parse_with_references(text: &str, references: &[(&str, &str)]) -> Result<JsonSchema, JsonSchemaError> {
        let value = parse_json(text).map_err(|message| JsonSchemaError { path: String::new(), message })?;
        let mut docs = vec![(String::new(), value)];
        for (name, reference) in references {
            let value = parse_json(reference).map_err(|message| JsonSchemaError {
                path: String::new(),
                message: format!("referenced schema '{name}': {message}"),
            })?;
            docs.push((name.to_string(), value));
        }
        Self::compile(Documents::new(docs))
    }

    fn compile(docs: Documents) -> Result<JsonSchema, JsonSchemaError> {
        let draft = match docs.get(0).get("$schema") {
            None => Draft::Draft7,
            Some(Value::String(uri)) => draft_of(uri).ok_or_else(|| JsonSchemaError {
                path: "/$schema".into(),
                message: format!(
                    "unsupported $schema '{uri}'; supported: draft-04, draft-06, draft-07, 2019-09 and 2020-12"
                ),
            })?,
            Some(other) => {
                return Err(JsonSchemaError {
                    path: "/$schema".into(),
                    message: format!("$schema must be a string, found {}", kind(other)),
                })
            }
        };
        let mut compiler =
            Compiler { docs: &docs, draft, nodes: Vec::new(), memo: HashMap::new(), pending: Vec::new() };
        let root = compiler.compile(0, String::new())?;
        compiler.compile_pending()?;
        compiler.refuse_cycles()?;
        let mut nodes = compiler.nodes;
        let root = skip_pure_refs(&mut nodes, root);
        let plans = nodes.iter().map(stream::plan).collect();
        Ok(JsonSchema { draft, docs, nodes, plans, root })
    }

    pub fn draft(&self) -> Draft {
        self.draft
    }

    /// The schema document.
    pub fn document(&self) -> &Value {
        self.docs.get(0)
    }

    /// The text the registry stores and deduplicates on: compact JSON with object keys sorted.
    pub fn canonical_text(&self) -> String {
        canonical(self.docs.get(0))
    }

    /// Checks a payload; the error names the first violation and where it is.
    pub fn validate(&self, value: &Value) -> Result<(), ValidationError> {
        self.eval::<Detailed>(self.root, value, &InstancePath::Root, 0)
    }

    /// Parses and checks a payload. Valid payloads are checked while parsed, without building a value or
    /// allocating; a rejected payload is parsed again to say exactly what is wrong.
    pub fn validate_bytes(&self, bytes: &[u8]) -> Result<(), ValidationError> {
        if stream::quick_check(self, bytes) {
            return Ok(());
        }
        self.validate(&crate::validation::parse_payload(bytes)?)
    }

    /// Whether a payload is valid, without describing why not (cheaper on invalid payloads).
    pub fn is_valid(&self, value: &Value) -> bool {
        self.eval::<Quick>(self.root, value, &InstancePath::Root, 0).is_ok()
    }

    /// Where a `$ref` written in document `from` points: the document (0 is this schema, then its
    /// references in the order they were given) and the subschema there. For tools that read the schema
    /// documents themselves, such as a compatibility check.
    pub fn resolve_ref(&self, from: usize, reference: &str) -> Option<(usize, &Value)> {
        let (doc, pointer) = self.docs.resolve_ref(from, reference)?;
        Some((doc, resolve_pointer(self.docs.get(doc), &pointer)?))
    }

    fn eval<M: Mode>(&self, node: usize, value: &Value, path: &InstancePath, depth: usize) -> Result<(), M::Err> {
        // Each subschema applied to a value and each value inside it is one level: deep payloads and long
        // chains of `$ref`s both stop here.
        if depth >= MAX_DEPTH {
            return Err(M::fail(path, || {
                format!("validation nests deeper than {MAX_DEPTH} levels (of the payload, or of subschemas and $refs)")
            }));
        }
        for check in &self.nodes[node].checks {
            self.eval_check::<M>(node, check, value, path, depth)?;
        }
        Ok(())
    }

    /// The properties of `map` that the keywords of `node` and its in-place subschemas (the valid ones,
    /// for `anyOf`/`oneOf`/`if`) evaluate (JSON Schema 2020-12: "unevaluatedProperties").
    fn evaluated_properties<'v>(
        &self,
        top: usize,
        node: usize,
        value: &'v Value,
        depth: usize,
        out: &mut HashSet<&'v str>,
    ) {
        let Value::Object(map) = value else { return };
        if depth >= MAX_DEPTH {
            return;
        }
        let valid = |n: usize| self.eval::<Quick>(n, value, &InstancePath::Root, depth + 1).is_ok();
        for check in &self.nodes[node].checks {
            match check {
                Check::Properties { index, patterns, additional, .. } => {
                    for key in map.keys() {
                        if additional.is_some()
                            || index.get(key).is_some_and(|e| e.node.is_some())
                            || patterns.iter().any(|(re, _)| re.is_match(key))
                        {
                            out.insert(key);
                        }
                    }
                }
                // A subschema's own unevaluatedProperties evaluates whatever it sees; this node's does not count.
                Check::UnevaluatedProperties(_) if node != top => out.extend(map.keys().map(String::as_str)),
                Check::AllOf(nodes) => {
                    nodes.iter().for_each(|n| self.evaluated_properties(top, *n, value, depth + 1, out))
                }
                Check::AnyOf(nodes) | Check::OneOf(nodes) => {
                    for n in nodes.iter().filter(|n| valid(**n)) {
                        self.evaluated_properties(top, *n, value, depth + 1, out);
                    }
                }
                Check::Ref(n) => self.evaluated_properties(top, *n, value, depth + 1, out),
                Check::DependentSchemas(dependencies) => {
                    for (trigger, n) in dependencies {
                        if map.contains_key(trigger) {
                            self.evaluated_properties(top, *n, value, depth + 1, out);
                        }
                    }
                }
                Check::IfThenElse { condition, then, otherwise } => {
                    if valid(*condition) {
                        self.evaluated_properties(top, *condition, value, depth + 1, out);
                        if let Some(then) = then {
                            self.evaluated_properties(top, *then, value, depth + 1, out);
                        }
                    } else if let Some(otherwise) = otherwise {
                        self.evaluated_properties(top, *otherwise, value, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// Which items of an array the keywords of `node` and its in-place subschemas evaluate.
    fn evaluated_items(&self, top: usize, node: usize, value: &Value, depth: usize, out: &mut [bool]) {
        let Value::Array(items) = value else { return };
        if depth >= MAX_DEPTH {
            return;
        }
        let valid = |n: usize, v: &Value| self.eval::<Quick>(n, v, &InstancePath::Root, depth + 1).is_ok();
        for check in &self.nodes[node].checks {
            match check {
                Check::Items { prefix, rest } => {
                    let upto = if rest.is_some() { items.len() } else { prefix.len().min(items.len()) };
                    out[..upto].iter_mut().for_each(|e| *e = true);
                }
                Check::UnevaluatedItems(_) if node != top => out.iter_mut().for_each(|e| *e = true),
                Check::Contains { schema, .. } => {
                    for (i, item) in items.iter().enumerate() {
                        if valid(*schema, item) {
                            out[i] = true;
                        }
                    }
                }
                Check::AllOf(nodes) => nodes.iter().for_each(|n| self.evaluated_items(top, *n, value, depth + 1, out)),
                Check::AnyOf(nodes) | Check::OneOf(nodes) => {
                    for n in nodes.iter().filter(|n| valid(**n, value)) {
                        self.evaluated_items(top, *n, value, depth + 1, out);
                    }
                }
                Check::Ref(n) => self.evaluated_items(top, *n, value, depth + 1, out),
                Check::IfThenElse { condition, then, otherwise } => {
                    if valid(*condition, value) {
                        self.evaluated_items(top, *condition, value, depth + 1, out);
                        if let Some(then) = then {
                            self.evaluated_items(top, *then, value, depth + 1, out);
                        }
                    } else if let Some(otherwise) = otherwise {
                        self.evaluated_items(top, *otherwise, value, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
    }

    fn eval_check<M: Mode>(
        &self,
        node: usize,
        check: &Check,
        value: &Value,
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        // Keywords that look at the value alone are checked in a function of their own, so that the
        // frames of the recursion (one per level of payload and of subschemas) stay small.
        if check.applies_subschemas() {
            self.eval_applicator::<M>(node, check, value, path, depth)
        } else {
            self.eval_assertion::<M>(check, value, path)
        }
    }

    fn eval_applicator<M: Mode>(
        &self,
        node: usize,
        check: &Check,
        value: &Value,
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        // The keywords with loops and locals of their own have functions of their own, for the same reason.
        match (check, value) {
            (Check::Properties { index, patterns, additional, .. }, Value::Object(map)) => {
                self.eval_properties::<M>(index, patterns, *additional, map, path, depth)
            }
            (Check::PropertyNames(schema), Value::Object(map)) => {
                self.eval_property_names::<M>(*schema, map, path, depth)
            }
            (Check::DependentSchemas(dependencies), Value::Object(map)) => {
                for (trigger, schema) in dependencies {
                    if map.contains_key(trigger) {
                        self.eval::<M>(*schema, value, path, depth + 1)?;
                    }
                }
                Ok(())
            }
            (Check::Items { prefix, rest }, Value::Array(items)) => {
                self.eval_items::<M>(prefix, *rest, items, path, depth)
            }
            (Check::Contains { schema, min, max }, Value::Array(items)) => {
                self.eval_contains::<M>(*schema, *min, *max, items, path, depth)
            }
            (Check::AllOf(schemas), _) => {
                for schema in schemas {
                    self.eval::<M>(*schema, value, path, depth + 1)?;
                }
                Ok(())
            }
            (Check::AnyOf(schemas), _) => {
                if schemas.iter().any(|s| self.eval::<Quick>(*s, value, path, depth + 1).is_ok()) {
                    Ok(())
                } else {
                    Err(M::fail(path, || self.explain_branches("anyOf", schemas, value, path, depth)))
                }
            }
            (Check::OneOf(schemas), _) => self.eval_one_of::<M>(schemas, value, path, depth),
            (Check::Not(schema), _) => {
                if self.eval::<Quick>(*schema, value, path, depth + 1).is_ok() {
                    Err(M::fail(path, || "the value matches the schema in 'not'".into()))
                } else {
                    Ok(())
                }
            }
            (Check::Ref(schema), _) => self.eval::<M>(*schema, value, path, depth + 1),
            (Check::UnevaluatedProperties(schema), Value::Object(map)) => {
                self.eval_unevaluated_properties::<M>(node, *schema, value, map, path, depth)
            }
            (Check::UnevaluatedItems(schema), Value::Array(items)) => {
                self.eval_unevaluated_items::<M>(node, *schema, value, items, path, depth)
            }
            (Check::IfThenElse { condition, then, otherwise }, _) => {
                let branch =
                    if self.eval::<Quick>(*condition, value, path, depth + 1).is_ok() { then } else { otherwise };
                match branch {
                    Some(branch) => self.eval::<M>(*branch, value, path, depth + 1),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn eval_properties<M: Mode>(
        &self,
        index: &stream::KeyTable,
        patterns: &[(Regex, usize)],
        additional: Option<usize>,
        map: &Map<String, Value>,
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        for (key, item) in map {
            let mut matched = false;
            if let Some(node) = index.get(key).and_then(|entry| entry.node) {
                matched = true;
                self.eval::<M>(node, item, &path.key(key), depth + 1)?;
            }
            for (regex, schema) in patterns {
                if regex.is_match(key) {
                    matched = true;
                    self.eval::<M>(*schema, item, &path.key(key), depth + 1)?;
                }
            }
            if let (false, Some(schema)) = (matched, additional) {
                if matches!(self.nodes[schema].checks.as_slice(), [Check::False]) {
                    return Err(M::fail(&path.key(key), || {
                        format!("property '{key}' is not allowed (additionalProperties is false)")
                    }));
                }
                self.eval::<M>(schema, item, &path.key(key), depth + 1)?;
            }
        }
        Ok(())
    }

    fn eval_property_names<M: Mode>(
        &self,
        schema: usize,
        map: &Map<String, Value>,
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        for key in map.keys() {
            let name = Value::String(key.clone());
            if self.eval::<Quick>(schema, &name, path, depth + 1).is_err() {
                return Err(M::fail(&path.key(key), || {
                    format!("the property name '{key}' is not allowed by propertyNames")
                }));
            }
        }
        Ok(())
    }

    fn eval_items<M: Mode>(
        &self,
        prefix: &[usize],
        rest: Option<usize>,
        items: &[Value],
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        for (i, item) in items.iter().enumerate() {
            let Some(schema) = prefix.get(i).copied().or(rest) else { break };
            if i >= prefix.len() && matches!(self.nodes[schema].checks.as_slice(), [Check::False]) {
                return Err(M::fail(&path.index(i), || format!("the array may hold at most {} items", prefix.len())));
            }
            self.eval::<M>(schema, item, &path.index(i), depth + 1)?;
        }
        Ok(())
    }

    fn eval_contains<M: Mode>(
        &self,
        schema: usize,
        min: usize,
        max: Option<usize>,
        items: &[Value],
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        let count = items
            .iter()
            .enumerate()
            .filter(|(i, item)| self.eval::<Quick>(schema, item, &path.index(*i), depth + 1).is_ok())
            .count();
        if count < min || max.is_some_and(|max| count > max) {
            return Err(M::fail(path, || {
                format!(
                    "{count} items match 'contains', expected at least {min}{}",
                    max.map(|m| format!(" and at most {m}")).unwrap_or_default()
                )
            }));
        }
        Ok(())
    }

    fn eval_one_of<M: Mode>(
        &self,
        schemas: &[usize],
        value: &Value,
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        let mut first_valid: Option<usize> = None;
        for (i, s) in schemas.iter().enumerate() {
            if self.eval::<Quick>(*s, value, path, depth + 1).is_ok() {
                if let Some(first) = first_valid {
                    return Err(M::fail(path, || {
                        format!("the value matches more than one schema of oneOf (branches {first} and {i})")
                    }));
                }
                first_valid = Some(i);
            }
        }
        if first_valid.is_none() {
            return Err(M::fail(path, || self.explain_branches("oneOf", schemas, value, path, depth)));
        }
        Ok(())
    }

    fn eval_unevaluated_properties<M: Mode>(
        &self,
        node: usize,
        schema: usize,
        value: &Value,
        map: &Map<String, Value>,
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        let mut evaluated = HashSet::new();
        self.evaluated_properties(node, node, value, depth, &mut evaluated);
        for (key, item) in map.iter().filter(|(k, _)| !evaluated.contains(k.as_str())) {
            if matches!(self.nodes[schema].checks.as_slice(), [Check::False]) {
                return Err(M::fail(&path.key(key), || {
                    format!("property '{key}' is not allowed (unevaluatedProperties is false)")
                }));
            }
            self.eval::<M>(schema, item, &path.key(key), depth + 1)?;
        }
        Ok(())
    }

    fn eval_unevaluated_items<M: Mode>(
        &self,
        node: usize,
        schema: usize,
        value: &Value,
        items: &[Value],
        path: &InstancePath,
        depth: usize,
    ) -> Result<(), M::Err> {
        let mut evaluated = vec![false; items.len()];
        self.evaluated_items(node, node, value, depth, &mut evaluated);
        for (i, item) in items.iter().enumerate().filter(|(i, _)| !evaluated[*i]) {
            if matches!(self.nodes[schema].checks.as_slice(), [Check::False]) {
                return Err(M::fail(&path.index(i), || format!("item {i} is not allowed (unevaluatedItems is false)")));
            }
            self.eval::<M>(schema, item, &path.index(i), depth + 1)?;
        }
        Ok(())
    }

    fn eval_assertion<M: Mode>(&self, check: &Check, value: &Value, path: &InstancePath) -> Result<(), M::Err> {
        match check {
            Check::False => return Err(M::fail(path, || "no value is allowed here (schema false)".into())),
            Check::Type(bits) => {
                if value_bits(value) & bits == 0 {
                    return Err(M::fail(path, || {
                        format!("expected {}, found {} {}", type_names(*bits), kind(value), preview(value))
                    }));
                }
            }
            Check::Enum(values) => {
                if !values.iter().any(|v| json_equal(v, value)) {
                    return Err(M::fail(path, || {
                        let allowed: Vec<String> = values.iter().map(preview).collect();
                        format!("{} is not one of the allowed values [{}]", preview(value), allowed.join(", "))
                    }));
                }
            }
            Check::Const(expected) => {
                if !json_equal(expected, value) {
                    return Err(M::fail(path, || {
                        format!("expected the constant {}, found {}", preview(expected), preview(value))
                    }));
                }
            }
            Check::Minimum(min) => {
                if let Some(n) = value.as_f64() {
                    if n < *min {
                        return Err(M::fail(path, || format!("{} is less than the minimum {min}", preview(value))));
                    }
                }
            }
            Check::Maximum(max) => {
                if let Some(n) = value.as_f64() {
                    if n > *max {
                        return Err(M::fail(path, || format!("{} is greater than the maximum {max}", preview(value))));
                    }
                }
            }
            Check::ExclusiveMinimum(min) => {
                if let Some(n) = value.as_f64() {
                    if n <= *min {
                        return Err(M::fail(path, || {
                            format!("{} is not greater than the exclusive minimum {min}", preview(value))
                        }));
                    }
                }
            }
            Check::ExclusiveMaximum(max) => {
                if let Some(n) = value.as_f64() {
                    if n >= *max {
                        return Err(M::fail(path, || {
                            format!("{} is not less than the exclusive maximum {max}", preview(value))
                        }));
                    }
                }
            }
            Check::MultipleOf(m) => {
                if let Some(n) = value.as_f64() {
                    let q = n / m;
                    if !q.is_finite() || (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
                        return Err(M::fail(path, || format!("{} is not a multiple of {m}", preview(value))));
                    }
                }
            }
            Check::MinLength(min) => {
                if let Value::String(s) = value {
                    if s.len() < *min || s.chars().count() < *min {
                        return Err(M::fail(path, || {
                            format!("the string is {} characters long, shorter than minLength {min}", s.chars().count())
                        }));
                    }
                }
            }
            Check::MaxLength(max) => {
                if let Value::String(s) = value {
                    if s.len() > *max && s.chars().count() > *max {
                        return Err(M::fail(path, || {
                            format!("the string is {} characters long, longer than maxLength {max}", s.chars().count())
                        }));
                    }
                }
            }
            Check::Pattern(regex) => {
                if let Value::String(s) = value {
                    if !regex.is_match(s) {
                        return Err(M::fail(path, || {
                            format!("{} does not match the pattern '{}'", preview(value), regex.as_str())
                        }));
                    }
                }
            }
            Check::Format(format) => {
                if let Value::String(s) = value {
                    if !format.check(s) {
                        return Err(M::fail(path, || format!("{} is not a valid {}", preview(value), format.name())));
                    }
                }
            }
            Check::Required(names) => {
                if let Value::Object(map) = value {
                    for name in names {
                        if !map.contains_key(name) {
                            return Err(M::fail(path, || format!("missing required property '{name}'")));
                        }
                    }
                }
            }
            Check::MinProperties(min) => {
                if let Value::Object(map) = value {
                    if map.len() < *min {
                        return Err(M::fail(path, || {
                            format!("{} properties, fewer than minProperties {min}", map.len())
                        }));
                    }
                }
            }
            Check::MaxProperties(max) => {
                if let Value::Object(map) = value {
                    if map.len() > *max {
                        return Err(M::fail(path, || {
                            format!("{} properties, more than maxProperties {max}", map.len())
                        }));
                    }
                }
            }
            Check::DependentRequired(dependencies) => {
                if let Value::Object(map) = value {
                    for (trigger, names) in dependencies {
                        if map.contains_key(trigger) {
                            if let Some(missing) = names.iter().find(|n| !map.contains_key(*n)) {
                                return Err(M::fail(path, || {
                                    format!("property '{missing}' is required when '{trigger}' is present")
                                }));
                            }
                        }
                    }
                }
            }
            Check::MinItems(min) => {
                if let Value::Array(items) = value {
                    if items.len() < *min {
                        return Err(M::fail(path, || format!("{} items, fewer than minItems {min}", items.len())));
                    }
                }
            }
            Check::MaxItems(max) => {
                if let Value::Array(items) = value {
                    if items.len() > *max {
                        return Err(M::fail(path, || format!("{} items, more than maxItems {max}", items.len())));
                    }
                }
            }
            Check::UniqueItems => {
                if let Value::Array(items) = value {
                    if let Some((i, j)) = first_duplicate(items) {
                        return Err(M::fail(path, || format!("items {i} and {j} are equal, but uniqueItems is set")));
                    }
                }
            }
            Check::Properties { .. }
            | Check::PropertyNames(_)
            | Check::DependentSchemas(_)
            | Check::Items { .. }
            | Check::Contains { .. }
            | Check::AllOf(_)
            | Check::AnyOf(_)
            | Check::OneOf(_)
            | Check::Not(_)
            | Check::Ref(_)
            | Check::UnevaluatedProperties(_)
            | Check::UnevaluatedItems(_)
            | Check::IfThenElse { .. } => {}
        }
        Ok(())
    }

    fn explain_branches(
        &self,
        keyword: &str,
        schemas: &[usize],
        value: &Value,
        path: &InstancePath,
        depth: usize,
    ) -> String {
        let reasons: Vec<String> = schemas
            .iter()
            .enumerate()
            .map(|(i, s)| match self.eval::<Detailed>(*s, value, path, depth + 1) {
                Err(e) => format!("branch {i}: {e}"),
                Ok(()) => format!("branch {i}: valid"),
            })
            .collect();
        format!("the value matches no schema of {keyword} ({})", reasons.join("; "))
    }
}

/// How a failed check is reported: [`Detailed`] builds the message, [`Quick`] builds nothing.
trait Mode {
    type Err;
    fn fail(path: &InstancePath, message: impl FnOnce() -> String) -> Self::Err;
}

struct Detailed;
impl Mode for Detailed {
    type Err = ValidationError;
    fn fail(path: &InstancePath, message: impl FnOnce() -> String) -> ValidationError {
        path.error(message())
    }
}

struct Quick;
impl Mode for Quick {
    type Err = ();
    fn fail(_: &InstancePath, _: impl FnOnce() -> String) {}
}

fn draft_of(uri: &str) -> Option<Draft> {
    if uri.contains("draft-04") {
        Some(Draft::Draft4)
    } else if uri.contains("draft-06") {
        Some(Draft::Draft6)
    } else if uri.contains("draft-07") {
        Some(Draft::Draft7)
    } else if uri.contains("2019-09") {
        Some(Draft::Draft2019_09)
    } else if uri.contains("2020-12") {
        Some(Draft::Draft2020_12)
    } else {
        None
    }
}

struct Compiler<'a> {
    docs: &'a Documents,
    draft: Draft,
    nodes: Vec<Node>,
    /// (document, JSON pointer) to node: each location is compiled once, which also ends `$ref` cycles.
    memo: HashMap<(usize, String), usize>,
    /// Locations given a node but not compiled yet: compiling is a loop over this list, not a recursion,
    /// so no `$ref` chain can exhaust the stack.
    pending: Vec<(usize, usize, String)>,
}

fn err(pointer: &str, message: impl Into<String>) -> JsonSchemaError {
    JsonSchemaError { path: pointer.to_string(), message: message.into() }
}

fn child(pointer: &str, segment: &str) -> String {
    format!("{pointer}/{}", pointer_escape(segment))
}

/// Resolves a JSON pointer (with `%`-escapes, as URI fragments carry them) in a document.
fn resolve_pointer<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.contains('%') {
        doc.pointer(&percent_decode(pointer))
    } else {
        doc.pointer(pointer)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The schema document (index 0) and the documents of its references, with their anchors.
#[derive(Debug)]
struct Documents {
    docs: Vec<(String, Value)>,
    /// Per document, its anchors to their JSON pointers, found in one walk the first time a `$ref`
    /// names an anchor: each such `$ref` is then a lookup, not a search of the whole document.
    anchors: Vec<OnceLock<HashMap<String, String>>>,
}

impl Documents {
    fn new(docs: Vec<(String, Value)>) -> Documents {
        let anchors = docs.iter().map(|_| OnceLock::new()).collect();
        Documents { docs, anchors }
    }

    fn get(&self, doc: usize) -> &Value {
        &self.docs[doc].1
    }

    /// Finds where a `$ref` points: `(document index, JSON pointer)`.
    fn resolve_ref(&self, current: usize, reference: &str) -> Option<(usize, String)> {
        let (base, fragment) = match reference.find('#') {
            Some(hash) => (&reference[..hash], &reference[hash + 1..]),
            None => (reference, ""),
        };
        let doc = if base.is_empty() {
            current
        } else {
            self.docs.iter().position(|(name, value)| {
                name == base
                    || value
                        .get("$id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.trim_end_matches('#') == base || id.rsplit('/').next() == Some(base))
            })?
        };
        if fragment.is_empty() || fragment.starts_with('/') {
            let pointer = fragment.to_string();
            resolve_pointer(self.get(doc), &pointer)?;
            return Some((doc, if pointer.contains('%') { percent_decode(&pointer) } else { pointer }));
        }
        let anchors = self.anchors[doc].get_or_init(|| {
            let mut anchors = HashMap::new();
            collect_anchors(self.get(doc), String::new(), &mut anchors);
            anchors
        });
        anchors.get(fragment).map(|pointer| (doc, pointer.clone()))
    }
}

/// Records where `$anchor: name` (2019-09+), `$dynamicAnchor: name` or `$id: "#name"` (draft-07 and
/// before) are, keeping the first location of each name in document order. Documents come from JSON
/// text, so this recursion nests no deeper than the JSON parser allows.
fn collect_anchors(value: &Value, pointer: String, out: &mut HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            let names = [
                map.get("$anchor").and_then(Value::as_str),
                map.get("$dynamicAnchor").and_then(Value::as_str),
                map.get("$id").and_then(Value::as_str).and_then(|id| id.strip_prefix('#')),
            ];
            for name in names.into_iter().flatten() {
                out.entry(name.to_string()).or_insert_with(|| pointer.clone());
            }
            for (k, v) in map {
                collect_anchors(v, child(&pointer, k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_anchors(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Points every reference to a node that is only a `$ref` at the node it refers to, so that following a
/// `$ref` costs no level of validation: a payload can nest as deep as [`MAX_DEPTH`] through a recursive
/// schema. Cycles of such nodes were refused before. Returns where the root now points.
fn skip_pure_refs(nodes: &mut [Node], root: usize) -> usize {
    let pure_ref = |node: &Node| match node.checks.as_slice() {
        [Check::Ref(target)] => Some(*target),
        _ => None,
    };
    let target: Vec<usize> = (0..nodes.len())
        .map(|start| {
            let mut n = start;
            // A chain is at most as long as there are nodes (cycles were refused).
            for _ in 0..nodes.len() {
                match pure_ref(&nodes[n]) {
                    Some(next) => n = next,
                    None => break,
                }
            }
            n
        })
        .collect();
    for node in nodes.iter_mut() {
        for check in &mut node.checks {
            let mut remap = |n: &mut usize| *n = target[*n];
            match check {
                Check::Properties { props, index, patterns, additional } => {
                    props.iter_mut().for_each(|(_, n)| remap(n));
                    patterns.iter_mut().for_each(|(_, n)| remap(n));
                    additional.iter_mut().for_each(&mut remap);
                    *index = stream::KeyTable::new(props, &[]);
                }
                Check::PropertyNames(n)
                | Check::Not(n)
                | Check::Ref(n)
                | Check::UnevaluatedProperties(n)
                | Check::UnevaluatedItems(n)
                | Check::Contains { schema: n, .. } => remap(n),
                Check::DependentSchemas(v) => v.iter_mut().for_each(|(_, n)| remap(n)),
                Check::Items { prefix, rest } => {
                    prefix.iter_mut().for_each(&mut remap);
                    rest.iter_mut().for_each(&mut remap);
                }
                Check::AllOf(v) | Check::AnyOf(v) | Check::OneOf(v) => v.iter_mut().for_each(&mut remap),
                Check::IfThenElse { condition, then, otherwise } => {
                    remap(condition);
                    then.iter_mut().chain(otherwise.iter_mut()).for_each(&mut remap);
                }
                _ => {}
            }
        }
    }
    target[root]
}

/// Subschemas a node applies to the same value (not to a child of it).
fn in_place(node: &Node) -> Vec<usize> {
    let mut out = Vec::new();
    for check in &node.checks {
        match check {
            Check::Ref(n) | Check::Not(n) => out.push(*n),
            Check::AllOf(v) | Check::AnyOf(v) | Check::OneOf(v) => out.extend(v),
            Check::DependentSchemas(v) => out.extend(v.iter().map(|(_, n)| *n)),
            Check::IfThenElse { condition, then, otherwise } => {
                out.push(*condition);
                out.extend(then.iter().chain(otherwise.iter()));
            }
            _ => {}
        }
    }
    out
}

impl Compiler<'_> {
    /// A `$ref` cycle that never descends into the payload (`{"$ref": "#"}`) would recurse forever.
    fn refuse_cycles(&self) -> Result<(), JsonSchemaError> {
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, in_place(&self.nodes[start]), 0usize)];
            state[start] = 1;
            while let Some((node, edges, next)) = stack.last_mut() {
                if let Some(&target) = edges.get(*next) {
                    *next += 1;
                    match state[target] {
                        0 => {
                            state[target] = 1;
                            let edges = in_place(&self.nodes[target]);
                            stack.push((target, edges, 0));
                        }
                        1 => {
                            let node = *node;
                            let location = self
                                .memo
                                .iter()
                                .find(|(_, n)| **n == node)
                                .map(|((_, pointer), _)| pointer.clone())
                                .unwrap_or_default();
                            return Err(err(
                                &location,
                                "this schema refers back to itself without descending into the value ($ref cycle)",
                            ));
                        }
                        _ => {}
                    }
                } else {
                    state[*node] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// The node of a schema location, queued for compilation the first time it is seen.
    fn compile(&mut self, doc: usize, pointer: String) -> Result<usize, JsonSchemaError> {
        if let Some(node) = self.memo.get(&(doc, pointer.clone())) {
            return Ok(*node);
        }
        let index = self.nodes.len();
        self.nodes.push(Node::default());
        self.memo.insert((doc, pointer.clone()), index);
        self.pending.push((index, doc, pointer));
        Ok(index)
    }

    fn compile_pending(&mut self) -> Result<(), JsonSchemaError> {
        while let Some((index, doc, pointer)) = self.pending.pop() {
            let docs = self.docs;
            let value = resolve_pointer(docs.get(doc), &pointer).ok_or_else(|| err(&pointer, "dangling location"))?;
            self.nodes[index].checks = self.compile_checks(doc, &pointer, value)?;
        }
        Ok(())
    }

    fn sub(&mut self, doc: usize, pointer: &str, segment: &str) -> Result<usize, JsonSchemaError> {
        self.compile(doc, child(pointer, segment))
    }

    fn compile_checks(&mut self, doc: usize, pointer: &str, value: &Value) -> Result<Vec<Check>, JsonSchemaError> {
        let map = match value {
            Value::Bool(true) => return Ok(Vec::new()),
            Value::Bool(false) => return Ok(vec![Check::False]),
            Value::Object(map) => map,
            other => {
                return Err(err(
                    pointer,
                    format!("a schema must be an object or a boolean, found {} {}", kind(other), preview(other)),
                ))
            }
        };
        let mut checks = Vec::new();
        if let Some(reference) = map.get("$ref").or_else(|| map.get("$recursiveRef")).or_else(|| map.get("$dynamicRef"))
        {
            let Value::String(reference) = reference else {
                return Err(err(&child(pointer, "$ref"), "$ref must be a string"));
            };
            let (target_doc, target) = self.docs.resolve_ref(doc, reference).ok_or_else(|| {
                err(
                    &child(pointer, "$ref"),
                    format!("cannot resolve $ref '{reference}': no such location in this schema or its references"),
                )
            })?;
            let node = self.compile(target_doc, target)?;
            checks.push(Check::Ref(node));
            // Before 2019-09, keywords beside $ref are ignored.
            if self.draft <= Draft::Draft7 {
                return Ok(checks);
            }
        }
        if let Some(types) = map.get("type") {
            let at = child(pointer, "type");
            let bits = match types {
                Value::String(name) => type_bit(name).ok_or_else(|| err(&at, format!("unknown type '{name}'")))?,
                Value::Array(names) => {
                    let mut bits = 0;
                    for (i, name) in names.iter().enumerate() {
                        let name =
                            name.as_str().ok_or_else(|| err(&format!("{at}/{i}"), "a type name must be a string"))?;
                        bits |= type_bit(name)
                            .ok_or_else(|| err(&format!("{at}/{i}"), format!("unknown type '{name}'")))?;
                    }
                    bits
                }
                other => return Err(err(&at, format!("type must be a string or an array, found {}", kind(other)))),
            };
            checks.push(Check::Type(bits));
        }
        if let Some(values) = map.get("enum") {
            let Value::Array(values) = values else {
                return Err(err(&child(pointer, "enum"), "enum must be an array"));
            };
            checks.push(Check::Enum(values.clone()));
        }
        if let Some(value) = map.get("const") {
            checks.push(Check::Const(value.clone()));
        }
        let number = |key: &str| -> Result<Option<f64>, JsonSchemaError> {
            match map.get(key) {
                None => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(other) => Err(err(&child(pointer, key), format!("{key} must be a number, found {}", kind(other)))),
            }
        };
        let count = |key: &str| -> Result<Option<usize>, JsonSchemaError> {
            match map.get(key) {
                None => Ok(None),
                Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().map(|n| n as usize)),
                Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0) => {
                    Ok(n.as_f64().map(|f| f as usize))
                }
                Some(other) => Err(err(
                    &child(pointer, key),
                    format!("{key} must be a non-negative integer, found {}", preview(other)),
                )),
            }
        };
        if self.draft == Draft::Draft4 {
            let exclusive = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
            if let Some(min) = number("minimum")? {
                checks.push(if exclusive("exclusiveMinimum") {
                    Check::ExclusiveMinimum(min)
                } else {
                    Check::Minimum(min)
                });
            }
            if let Some(max) = number("maximum")? {
                checks.push(if exclusive("exclusiveMaximum") {
                    Check::ExclusiveMaximum(max)
                } else {
                    Check::Maximum(max)
                });
            }
        } else {
            if let Some(min) = number("minimum")? {
                checks.push(Check::Minimum(min));
            }
            if let Some(max) = number("maximum")? {
                checks.push(Check::Maximum(max));
            }
            if let Some(min) = number("exclusiveMinimum")? {
                checks.push(Check::ExclusiveMinimum(min));
            }
            if let Some(max) = number("exclusiveMaximum")? {
                checks.push(Check::ExclusiveMaximum(max));
            }
        }
        if let Some(m) = number("multipleOf")? {
            if m <= 0.0 {
                return Err(err(&child(pointer, "multipleOf"), "multipleOf must be greater than 0"));
            }
            checks.push(Check::MultipleOf(m));
        }
        if let Some(min) = count("minLength")? {
            checks.push(Check::MinLength(min));
        }
        if let Some(max) = count("maxLength")? {
            checks.push(Check::MaxLength(max));
        }
        if let Some(pattern) = map.get("pattern") {
            checks.push(Check::Pattern(compile_regex(pattern, &child(pointer, "pattern"))?));
        }
        if let Some(Value::String(name)) = map.get("format") {
            if let Some(format) = Format::from_name(name) {
                checks.push(Check::Format(format));
            }
        }
        self.compile_object(doc, pointer, map, &mut checks, count)?;
        self.compile_array(doc, pointer, map, &mut checks)?;
        for (keyword, combine) in [("allOf", 0), ("anyOf", 1), ("oneOf", 2)] {
            if let Some(value) = map.get(keyword) {
                let at = child(pointer, keyword);
                let Value::Array(items) = value else {
                    return Err(err(&at, format!("{keyword} must be an array of schemas")));
                };
                if items.is_empty() {
                    return Err(err(&at, format!("{keyword} must not be empty")));
                }
                let nodes =
                    (0..items.len()).map(|i| self.sub(doc, &at, &i.to_string())).collect::<Result<Vec<_>, _>>()?;
                checks.push(match combine {
                    0 => Check::AllOf(nodes),
                    1 => Check::AnyOf(nodes),
                    _ => Check::OneOf(nodes),
                });
            }
        }
        if map.contains_key("not") {
            checks.push(Check::Not(self.sub(doc, pointer, "not")?));
        }
        if map.contains_key("if") && self.draft >= Draft::Draft7 {
            let condition = self.sub(doc, pointer, "if")?;
            let then = if map.contains_key("then") { Some(self.sub(doc, pointer, "then")?) } else { None };
            let otherwise = if map.contains_key("else") { Some(self.sub(doc, pointer, "else")?) } else { None };
            checks.push(Check::IfThenElse { condition, then, otherwise });
        }
        // Last: they look at what every other keyword of this schema evaluated.
        if self.draft >= Draft::Draft2019_09 {
            if map.contains_key("unevaluatedProperties") {
                checks.push(Check::UnevaluatedProperties(self.sub(doc, pointer, "unevaluatedProperties")?));
            }
            if map.contains_key("unevaluatedItems") {
                checks.push(Check::UnevaluatedItems(self.sub(doc, pointer, "unevaluatedItems")?));
            }
        }
        Ok(checks)
    }

    fn compile_object(
        &mut self,
        doc: usize,
        pointer: &str,
        map: &Map<String, Value>,
        checks: &mut Vec<Check>,
        count: impl Fn(&str) -> Result<Option<usize>, JsonSchemaError>,
    ) -> Result<(), JsonSchemaError> {
        let mut props = Vec::new();
        if let Some(value) = map.get("properties") {
            let at = child(pointer, "properties");
            let Value::Object(properties) = value else { return Err(err(&at, "properties must be an object")) };
            for name in properties.keys() {
                props.push((name.clone(), self.sub(doc, &at, name)?));
            }
            props.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut patterns = Vec::new();
        if let Some(value) = map.get("patternProperties") {
            let at = child(pointer, "patternProperties");
            let Value::Object(properties) = value else { return Err(err(&at, "patternProperties must be an object")) };
            for name in properties.keys() {
                let regex = compile_regex(&Value::String(name.clone()), &child(&at, name))?;
                patterns.push((regex, self.sub(doc, &at, name)?));
            }
        }
        let additional = if map.contains_key("additionalProperties") {
            Some(self.sub(doc, pointer, "additionalProperties")?)
        } else {
            None
        };
        if !props.is_empty() || !patterns.is_empty() || additional.is_some() {
            let index = stream::KeyTable::new(&props, &[]);
            checks.push(Check::Properties { props, index, patterns, additional });
        }
        if let Some(value) = map.get("required") {
            let at = child(pointer, "required");
            let Value::Array(names) = value else {
                return Err(err(&at, "required must be an array of property names"));
            };
            let names = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    n.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err(&format!("{at}/{i}"), "a property name must be a string"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !names.is_empty() {
                checks.push(Check::Required(names));
            }
        }
        if let Some(min) = count("minProperties")? {
            checks.push(Check::MinProperties(min));
        }
        if let Some(max) = count("maxProperties")? {
            checks.push(Check::MaxProperties(max));
        }
        if map.contains_key("propertyNames") {
            checks.push(Check::PropertyNames(self.sub(doc, pointer, "propertyNames")?));
        }
        let mut required = Vec::new();
        let mut schemas = Vec::new();
        for keyword in ["dependencies", "dependentRequired", "dependentSchemas"] {
            let Some(value) = map.get(keyword) else { continue };
            let at = child(pointer, keyword);
            let Value::Object(entries) = value else { return Err(err(&at, format!("{keyword} must be an object"))) };
            for (trigger, dependency) in entries {
                match dependency {
                    Value::Array(names) if keyword != "dependentSchemas" => {
                        let names = names
                            .iter()
                            .map(|n| {
                                n.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| err(&child(&at, trigger), "property names must be strings"))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        required.push((trigger.clone(), names));
                    }
                    _ if keyword != "dependentRequired" => {
                        schemas.push((trigger.clone(), self.sub(doc, &at, trigger)?))
                    }
                    _ => {
                        return Err(err(
                            &child(&at, trigger),
                            "dependentRequired values must be arrays of property names",
                        ))
                    }
                }
            }
        }
        if !required.is_empty() {
            checks.push(Check::DependentRequired(required));
        }
        if !schemas.is_empty() {
            checks.push(Check::DependentSchemas(schemas));
        }
        Ok(())
    }

    fn compile_array(
        &mut self,
        doc: usize,
        pointer: &str,
        map: &Map<String, Value>,
        checks: &mut Vec<Check>,
    ) -> Result<(), JsonSchemaError> {
        let mut prefix = Vec::new();
        let mut rest = None;
        if let Some(Value::Array(items)) = map.get("prefixItems") {
            let at = child(pointer, "prefixItems");
            for i in 0..items.len() {
                prefix.push(self.sub(doc, &at, &i.to_string())?);
            }
        }
        match map.get("items") {
            None => {}
            Some(Value::Array(items)) => {
                if self.draft >= Draft::Draft2020_12 {
                    return Err(err(
                        &child(pointer, "items"),
                        "in draft 2020-12 'items' is one schema; use 'prefixItems' for tuples",
                    ));
                }
                let at = child(pointer, "items");
                for i in 0..items.len() {
                    prefix.push(self.sub(doc, &at, &i.to_string())?);
                }
                if map.contains_key("additionalItems") {
                    rest = Some(self.sub(doc, pointer, "additionalItems")?);
                }
            }
            Some(_) => rest = Some(self.sub(doc, pointer, "items")?),
        }
        if !prefix.is_empty() || rest.is_some() {
            checks.push(Check::Items { prefix, rest });
        }
        let count = |key: &str| -> Result<Option<usize>, JsonSchemaError> {
            match map.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| err(&child(pointer, key), format!("{key} must be a non-negative integer"))),
            }
        };
        if let Some(min) = count("minItems")? {
            checks.push(Check::MinItems(min));
        }
        if let Some(max) = count("maxItems")? {
            checks.push(Check::MaxItems(max));
        }
        if map.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            checks.push(Check::UniqueItems);
        }
        if map.contains_key("contains") {
            let schema = self.sub(doc, pointer, "contains")?;
            let min = count("minContains")?.unwrap_or(1);
            let max = count("maxContains")?;
            checks.push(Check::Contains { schema, min, max });
        }
        Ok(())
    }
}

fn compile_regex(pattern: &Value, pointer: &str) -> Result<Regex, JsonSchemaError> {
    let Value::String(pattern) = pattern else { return Err(err(pointer, "a pattern must be a string")) };
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| err(pointer, format!("invalid regular expression '{pattern}': {}", first_line(&e.to_string()))))
}

fn first_line(text: &str) -> String {
    text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

#[cfg(test)]
mod tests;
