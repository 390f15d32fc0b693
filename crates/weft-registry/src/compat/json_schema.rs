//! JSON Schema compatibility, by Confluent's rules: whether every document a writer schema accepts is
//! accepted by a reader schema, reported as Confluent reports JSON Schema differences (open vs closed
//! content models, added and removed properties, `required`, narrowed types, enums, ranges, lengths,
//! patterns, items, combined types). Only the incompatible differences are returned.
//!
//! JSON Schema defines no schema resolution, so unlike Avro's (in `weft-schema`) these rules are the
//! registry's: they compare the two schema documents, following `$ref`s with
//! [`JsonSchema::resolve_ref`], and never look inside the compiled validator.

use std::collections::HashSet;

use serde_json::{Map, Value};
use weft_schema::json::{json_equal, pointer_escape, preview};
use weft_schema::json_schema::{Draft, JsonSchema};

/// The kind of an incompatible difference, named as Confluent's JSON Schema `Difference.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonSchemaChange {
    TypeChanged,
    TypeNarrowed,
    FalseSchemaAdded,
    EnumArrayNarrowed,
    EnumArrayAdded,
    ConstChanged,
    MaxLengthAdded,
    MaxLengthDecreased,
    MinLengthAdded,
    MinLengthIncreased,
    PatternAdded,
    PatternChanged,
    MaximumAdded,
    MaximumDecreased,
    MinimumAdded,
    MinimumIncreased,
    MultipleOfAdded,
    MultipleOfChanged,
    PropertyAddedToOpenContentModel,
    PropertyAddedNotCoveredByPartiallyOpenContentModel,
    RequiredPropertyAddedToUnopenContentModel,
    PropertyRemovedFromClosedContentModel,
    PropertyRemovedNotCoveredByPartiallyOpenContentModel,
    RequiredAttributeAdded,
    AdditionalPropertiesRemoved,
    AdditionalPropertiesNarrowed,
    MinPropertiesAdded,
    MinPropertiesIncreased,
    MaxPropertiesAdded,
    MaxPropertiesDecreased,
    ItemRemovedFromClosedContentModel,
    ItemAddedToOpenContentModel,
    MinItemsAdded,
    MinItemsIncreased,
    MaxItemsAdded,
    MaxItemsDecreased,
    UniqueItemsAdded,
    SumTypeNarrowed,
    CombinedTypeChanged,
    NotTypeNarrowed,
    DependencyAdded,
    /// A keyword whose effect this checker does not analyse (`if`, `contains`, ...) was added or changed:
    /// reported rather than assumed harmless.
    KeywordChanged,
}

impl JsonSchemaChange {
    pub fn as_str(&self) -> &'static str {
        use JsonSchemaChange::*;
        match self {
            TypeChanged => "TYPE_CHANGED",
            TypeNarrowed => "TYPE_NARROWED",
            FalseSchemaAdded => "FALSE_SCHEMA_ADDED",
            EnumArrayNarrowed => "ENUM_ARRAY_NARROWED",
            EnumArrayAdded => "ENUM_ARRAY_ADDED",
            ConstChanged => "CONST_CHANGED",
            MaxLengthAdded => "MAX_LENGTH_ADDED",
            MaxLengthDecreased => "MAX_LENGTH_DECREASED",
            MinLengthAdded => "MIN_LENGTH_ADDED",
            MinLengthIncreased => "MIN_LENGTH_INCREASED",
            PatternAdded => "PATTERN_ADDED",
            PatternChanged => "PATTERN_CHANGED",
            MaximumAdded => "MAXIMUM_ADDED",
            MaximumDecreased => "MAXIMUM_DECREASED",
            MinimumAdded => "MINIMUM_ADDED",
            MinimumIncreased => "MINIMUM_INCREASED",
            MultipleOfAdded => "MULTIPLE_OF_ADDED",
            MultipleOfChanged => "MULTIPLE_OF_CHANGED",
            PropertyAddedToOpenContentModel => "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
            PropertyAddedNotCoveredByPartiallyOpenContentModel => {
                "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            }
            RequiredPropertyAddedToUnopenContentModel => "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
            PropertyRemovedFromClosedContentModel => "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            PropertyRemovedNotCoveredByPartiallyOpenContentModel => {
                "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            }
            RequiredAttributeAdded => "REQUIRED_ATTRIBUTE_ADDED",
            AdditionalPropertiesRemoved => "ADDITIONAL_PROPERTIES_REMOVED",
            AdditionalPropertiesNarrowed => "ADDITIONAL_PROPERTIES_NARROWED",
            MinPropertiesAdded => "MIN_PROPERTIES_ADDED",
            MinPropertiesIncreased => "MIN_PROPERTIES_INCREASED",
            MaxPropertiesAdded => "MAX_PROPERTIES_ADDED",
            MaxPropertiesDecreased => "MAX_PROPERTIES_DECREASED",
            ItemRemovedFromClosedContentModel => "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            ItemAddedToOpenContentModel => "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
            MinItemsAdded => "MIN_ITEMS_ADDED",
            MinItemsIncreased => "MIN_ITEMS_INCREASED",
            MaxItemsAdded => "MAX_ITEMS_ADDED",
            MaxItemsDecreased => "MAX_ITEMS_DECREASED",
            UniqueItemsAdded => "UNIQUE_ITEMS_ADDED",
            SumTypeNarrowed => "SUM_TYPE_NARROWED",
            CombinedTypeChanged => "COMBINED_TYPE_CHANGED",
            NotTypeNarrowed => "NOT_TYPE_NARROWED",
            DependencyAdded => "DEPENDENCY_ADDED",
            KeywordChanged => "KEYWORD_CHANGED",
        }
    }
}

/// One way the reader rejects documents the writer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonIncompatibility {
    pub change: JsonSchemaChange,
    /// Location in the schemas, as a URI fragment (`#/properties/address/properties/zip`).
    pub path: String,
    pub detail: String,
}

impl JsonIncompatibility {
    /// A description naming the reader and writer schemas ("new", "old").
    pub fn describe(&self, reader: &str, writer: &str) -> String {
        use JsonSchemaChange::*;
        let what = match self.change {
            TypeChanged => format!("The {reader} schema changed the type"),
            TypeNarrowed => format!("The {reader} schema narrowed the type"),
            FalseSchemaAdded => format!("The {reader} schema accepts nothing"),
            EnumArrayNarrowed => format!("The {reader} schema allows fewer enum values than the {writer} schema"),
            EnumArrayAdded => format!("The {reader} schema added an enum where the {writer} schema had none"),
            ConstChanged => format!("The {reader} schema requires a different constant"),
            MaxLengthAdded => format!("The {reader} schema added maxLength"),
            MaxLengthDecreased => format!("The {reader} schema decreased maxLength"),
            MinLengthAdded => format!("The {reader} schema added minLength"),
            MinLengthIncreased => format!("The {reader} schema increased minLength"),
            PatternAdded => format!("The {reader} schema added a pattern"),
            PatternChanged => format!("The {reader} schema changed the pattern"),
            MaximumAdded => format!("The {reader} schema added a maximum"),
            MaximumDecreased => format!("The {reader} schema decreased the maximum"),
            MinimumAdded => format!("The {reader} schema added a minimum"),
            MinimumIncreased => format!("The {reader} schema increased the minimum"),
            MultipleOfAdded => format!("The {reader} schema added multipleOf"),
            MultipleOfChanged => format!("The {reader} schema changed multipleOf"),
            PropertyAddedToOpenContentModel => format!(
                "The {writer} schema has an open content model and the {reader} schema constrains a property the {writer} schema does not declare"
            ),
            PropertyAddedNotCoveredByPartiallyOpenContentModel => format!(
                "The {reader} schema has a property that the {writer} schema's additionalProperties/patternProperties allow with other values"
            ),
            RequiredPropertyAddedToUnopenContentModel => {
                format!("The {reader} schema added a required property that the {writer} schema does not have")
            }
            PropertyRemovedFromClosedContentModel => format!(
                "The {reader} schema has a closed content model and lacks a property of the {writer} schema"
            ),
            PropertyRemovedNotCoveredByPartiallyOpenContentModel => format!(
                "The {reader} schema lacks a property of the {writer} schema and its additionalProperties/patternProperties do not accept its values"
            ),
            RequiredAttributeAdded => format!("The {reader} schema made a property required"),
            AdditionalPropertiesRemoved => {
                format!("The {reader} schema does not allow additional properties that the {writer} schema allows")
            }
            AdditionalPropertiesNarrowed => format!("The {reader} schema narrowed additionalProperties"),
            MinPropertiesAdded => format!("The {reader} schema added minProperties"),
            MinPropertiesIncreased => format!("The {reader} schema increased minProperties"),
            MaxPropertiesAdded => format!("The {reader} schema added maxProperties"),
            MaxPropertiesDecreased => format!("The {reader} schema decreased maxProperties"),
            ItemRemovedFromClosedContentModel => {
                format!("The {reader} schema has a closed tuple and lacks an item of the {writer} schema")
            }
            ItemAddedToOpenContentModel => format!(
                "The {writer} schema has an open tuple and the {reader} schema constrains an item the {writer} schema does not declare"
            ),
            MinItemsAdded => format!("The {reader} schema added minItems"),
            MinItemsIncreased => format!("The {reader} schema increased minItems"),
            MaxItemsAdded => format!("The {reader} schema added maxItems"),
            MaxItemsDecreased => format!("The {reader} schema decreased maxItems"),
            UniqueItemsAdded => format!("The {reader} schema added uniqueItems"),
            SumTypeNarrowed => format!("The {reader} schema lacks a branch of the {writer} schema's anyOf/oneOf"),
            CombinedTypeChanged => format!("No branch of the {reader} schema's combined type accepts the {writer} schema's values"),
            NotTypeNarrowed => format!("The {reader} schema's 'not' rejects values the {writer} schema accepts"),
            DependencyAdded => format!("The {reader} schema added a dependency"),
            KeywordChanged => format!(
                "The {reader} schema adds or changes a keyword whose effect is not analysed, so it may reject {writer} data"
            ),
        };
        format!("{what} at path '{}': {}", self.path, self.detail)
    }
}

/// What about `reader` rejects data that `writer` accepts; empty when `reader` accepts everything `writer`
/// does.
pub fn incompatibilities(reader: &JsonSchema, writer: &JsonSchema) -> Vec<JsonIncompatibility> {
    let mut checker = Checker { reader, writer, visiting: HashSet::new(), found: Vec::new() };
    checker.check(Loc { doc: 0, value: writer.document() }, Loc { doc: 0, value: reader.document() }, "#");
    checker.found
}

use weft_schema::json_schema::types::{type_bit, type_names, value_bits, ARRAY, INTEGER, NUMBER, OBJECT, STRING};

#[derive(Clone, Copy)]
struct Loc<'a> {
    doc: usize,
    value: &'a Value,
}

static TRUE: Value = Value::Bool(true);
/// Comparisons nested deeper than this (through `$ref` chains) are reported rather than followed.
use weft_schema::MAX_DEPTH;
static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// Keywords that constrain documents; a schema with none of them accepts everything.
const ASSERTIONS: [&str; 40] = [
    "$ref",
    "$recursiveRef",
    "$dynamicRef",
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "minProperties",
    "maxProperties",
    "propertyNames",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "items",
    "prefixItems",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "format",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentMediaType",
];

fn accepts_everything(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Object(map) => !ASSERTIONS.iter().any(|k| map.contains_key(*k)),
        _ => false,
    }
}

fn is_false(value: &Value) -> bool {
    matches!(value, Value::Bool(false))
}

/// Type bits a schema allows (all when it has no `type`); `number` includes `integer`.
fn type_bits(map: &Map<String, Value>) -> u8 {
    let bits = match map.get("type") {
        Some(Value::String(name)) => type_bit(name).unwrap_or(0),
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).filter_map(type_bit).fold(0, |a, b| a | b),
        _ => {
            // An enum or const without a type allows the types of its values.
            match (map.get("enum"), map.get("const")) {
                (Some(Value::Array(values)), _) => values.iter().fold(0, |a, v| a | value_bits(v)),
                (_, Some(value)) => value_bits(value),
                _ => 0x7f,
            }
        }
    };
    if bits & NUMBER != 0 {
        bits | INTEGER
    } else {
        bits
    }
}

impl<'a> Checker<'a> {
    fn report(&mut self, change: JsonSchemaChange, path: &str, detail: impl Into<String>) {
        self.found.push(JsonIncompatibility { change, path: path.to_string(), detail: detail.into() });
    }

    fn compatible(&mut self, writer: Loc<'a>, reader: Loc<'a>) -> bool {
        let before = self.found.len();
        self.check(writer, reader, "#");
        let ok = self.found.len() == before;
        self.found.truncate(before);
        ok
    }

    /// Follows `$ref`s (ignoring their siblings, as draft-07 does).
    fn deref(&self, schema: &'a JsonSchema, mut loc: Loc<'a>) -> Loc<'a> {
        for _ in 0..32 {
            let Some(reference) = loc.value.get("$ref").and_then(Value::as_str) else { return loc };
            let Some((doc, value)) = schema.resolve_ref(loc.doc, reference) else { return loc };
            loc = Loc { doc, value };
        }
        loc
    }

    fn check(&mut self, writer: Loc<'a>, reader: Loc<'a>, path: &str) {
        let writer = self.deref(self.writer, writer);
        let reader = self.deref(self.reader, reader);
        if accepts_everything(reader.value) || is_false(writer.value) {
            return;
        }
        if !self.visiting.insert((writer.value as *const Value as usize, reader.value as *const Value as usize)) {
            return;
        }
        if self.visiting.len() > MAX_DEPTH {
            self.report(JsonSchemaChange::CombinedTypeChanged, path, "the schemas nest too deeply to compare");
        } else {
            self.check_schemas(writer, reader, path);
        }
        self.visiting.remove(&(writer.value as *const Value as usize, reader.value as *const Value as usize));
    }

    fn check_schemas(&mut self, writer: Loc<'a>, reader: Loc<'a>, path: &str) {
        let Value::Object(r) = reader.value else {
            self.report(JsonSchemaChange::FalseSchemaAdded, path, "the schema is false");
            return;
        };
        let w = match writer.value {
            Value::Object(map) => map,
            _ => &*EMPTY,
        };
        // Sum types (Confluent: SUM_TYPE_*): every writer branch must be read by the reader.
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = w.get(keyword) {
                for (i, branch) in branches.iter().enumerate() {
                    let branch = Loc { doc: writer.doc, value: branch };
                    let branch_path = format!("{path}/{keyword}/{i}");
                    if let Some(reader_branches) = r.get("anyOf").or_else(|| r.get("oneOf")).and_then(Value::as_array) {
                        if !reader_branches.iter().any(|rb| self.compatible(branch, Loc { doc: reader.doc, value: rb }))
                        {
                            self.report(
                                JsonSchemaChange::SumTypeNarrowed,
                                &branch_path,
                                "no reader branch accepts this branch",
                            );
                        }
                    } else {
                        self.check(branch, reader, &branch_path);
                    }
                }
                return;
            }
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = r.get(keyword) {
                if !branches.iter().any(|rb| self.compatible(writer, Loc { doc: reader.doc, value: rb })) {
                    self.report(
                        JsonSchemaChange::CombinedTypeChanged,
                        &format!("{path}/{keyword}"),
                        format!("none of the {} branches accepts the old values", branches.len()),
                    );
                }
            }
        }
        if let Some(Value::Array(parts)) = r.get("allOf") {
            for (i, part) in parts.iter().enumerate() {
                self.check(writer, Loc { doc: reader.doc, value: part }, &format!("{path}/allOf/{i}"));
            }
        }
        if let Some(Value::Array(parts)) = w.get("allOf") {
            // A writer conjunction: it is enough that one conjunct, or the writer's own keywords, fit.
            if !parts.iter().any(|p| self.compatible(Loc { doc: writer.doc, value: p }, reader))
                && !has_own_constraints(w)
            {
                if let Some(first) = parts.first() {
                    self.check(Loc { doc: writer.doc, value: first }, reader, &format!("{path}/allOf/0"));
                }
                return;
            }
            if !has_own_constraints(w) {
                return;
            }
        }
        if let Some(not) = r.get("not") {
            let ok = match w.get("not") {
                Some(wnot) => {
                    self.compatible(Loc { doc: reader.doc, value: not }, Loc { doc: writer.doc, value: wnot })
                }
                None => false,
            };
            if !ok {
                self.report(
                    JsonSchemaChange::NotTypeNarrowed,
                    &format!("{path}/not"),
                    "the new 'not' excludes more values",
                );
            }
        }
        if !has_own_constraints(r) {
            return;
        }
        for keyword in UNANALYSED {
            if let Some(rv) = r.get(*keyword) {
                if !w.get(*keyword).is_some_and(|wv| json_equal(wv, rv)) {
                    self.report(JsonSchemaChange::KeywordChanged, &format!("{path}/{keyword}"), format!("'{keyword}'"));
                }
            }
        }

        let wt = type_bits(w);
        let rt = type_bits(r);
        if wt & !rt != 0 {
            let change = if wt & rt != 0 { JsonSchemaChange::TypeNarrowed } else { JsonSchemaChange::TypeChanged };
            self.report(
                change,
                &format!("{path}/type"),
                format!("old allows {}, new allows {}", type_names(wt), type_names(rt)),
            );
            return;
        }
        self.check_enum(w, r, path);
        if wt & STRING != 0 {
            self.check_strings(w, r, path);
        }
        if wt & NUMBER != 0 || wt & INTEGER != 0 {
            self.check_numbers(w, r, path);
        }
        if wt & OBJECT != 0 {
            self.check_objects(writer, reader, w, r, path);
        }
        if wt & ARRAY != 0 {
            self.check_arrays(writer, reader, w, r, path);
        }
    }

    fn check_enum(&mut self, w: &Map<String, Value>, r: &Map<String, Value>, path: &str) {
        let writer_values: Option<Vec<&Value>> = match (w.get("const"), w.get("enum")) {
            (Some(c), _) => Some(vec![c]),
            (None, Some(Value::Array(values))) => Some(values.iter().collect()),
            _ => None,
        };
        let reader_values: Option<Vec<&Value>> = match (r.get("const"), r.get("enum")) {
            (Some(c), _) => Some(vec![c]),
            (None, Some(Value::Array(values))) => Some(values.iter().collect()),
            _ => None,
        };
        let Some(reader_values) = reader_values else { return };
        let keyword = if r.contains_key("const") { "const" } else { "enum" };
        match writer_values {
            None => self.report(
                if keyword == "const" { JsonSchemaChange::ConstChanged } else { JsonSchemaChange::EnumArrayAdded },
                &format!("{path}/{keyword}"),
                "the old schema allowed any value",
            ),
            Some(writer_values) => {
                let missing: Vec<String> = writer_values
                    .iter()
                    .filter(|wv| !reader_values.iter().any(|rv| json_equal(wv, rv)))
                    .map(|v| preview(v))
                    .collect();
                if !missing.is_empty() {
                    let change = if keyword == "const" {
                        JsonSchemaChange::ConstChanged
                    } else {
                        JsonSchemaChange::EnumArrayNarrowed
                    };
                    self.report(
                        change,
                        &format!("{path}/{keyword}"),
                        format!("values no longer allowed: {}", missing.join(", ")),
                    );
                }
            }
        }
    }

    fn check_strings(&mut self, w: &Map<String, Value>, r: &Map<String, Value>, path: &str) {
        let get = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_f64);
        if let Some(rmax) = get(r, "maxLength") {
            match get(w, "maxLength") {
                None => self.report(
                    JsonSchemaChange::MaxLengthAdded,
                    &format!("{path}/maxLength"),
                    format!("maxLength {rmax}"),
                ),
                Some(wmax) if rmax < wmax => self.report(
                    JsonSchemaChange::MaxLengthDecreased,
                    &format!("{path}/maxLength"),
                    format!("{wmax} -> {rmax}"),
                ),
                _ => {}
            }
        }
        if let Some(rmin) = get(r, "minLength").filter(|m| *m > 0.0) {
            match get(w, "minLength") {
                None => self.report(
                    JsonSchemaChange::MinLengthAdded,
                    &format!("{path}/minLength"),
                    format!("minLength {rmin}"),
                ),
                Some(wmin) if rmin > wmin => self.report(
                    JsonSchemaChange::MinLengthIncreased,
                    &format!("{path}/minLength"),
                    format!("{wmin} -> {rmin}"),
                ),
                _ => {}
            }
        }
        if let Some(rpattern) = r.get("pattern") {
            match w.get("pattern") {
                None => self.report(
                    JsonSchemaChange::PatternAdded,
                    &format!("{path}/pattern"),
                    format!("pattern {}", preview(rpattern)),
                ),
                Some(wpattern) if wpattern != rpattern => self.report(
                    JsonSchemaChange::PatternChanged,
                    &format!("{path}/pattern"),
                    format!("{} -> {}", preview(wpattern), preview(rpattern)),
                ),
                _ => {}
            }
        }
    }

    fn check_numbers(&mut self, w: &Map<String, Value>, r: &Map<String, Value>, path: &str) {
        // Bounds as (value, exclusive); draft-04's boolean exclusives are folded in.
        let bound = |m: &Map<String, Value>, inclusive: &str, exclusive: &str, upper: bool| -> Option<(f64, bool)> {
            let inc = m.get(inclusive).and_then(Value::as_f64);
            let exc = match m.get(exclusive) {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::Bool(true)) => return inc.map(|v| (v, true)),
                _ => None,
            };
            match (inc, exc) {
                (Some(i), Some(e)) => {
                    let tighter_is_exclusive = if upper { e <= i } else { e >= i };
                    Some(if tighter_is_exclusive { (e, true) } else { (i, false) })
                }
                (Some(i), None) => Some((i, false)),
                (None, Some(e)) => Some((e, true)),
                (None, None) => None,
            }
        };
        for (inclusive, exclusive, upper) in
            [("maximum", "exclusiveMaximum", true), ("minimum", "exclusiveMinimum", false)]
        {
            let Some((rv, rex)) = bound(r, inclusive, exclusive, upper) else { continue };
            let keyword = if rex { exclusive } else { inclusive };
            let (added, narrowed) = if upper {
                (JsonSchemaChange::MaximumAdded, JsonSchemaChange::MaximumDecreased)
            } else {
                (JsonSchemaChange::MinimumAdded, JsonSchemaChange::MinimumIncreased)
            };
            match bound(w, inclusive, exclusive, upper) {
                None => self.report(added, &format!("{path}/{keyword}"), format!("{keyword} {rv}")),
                Some((wv, wex)) => {
                    let covers = if upper {
                        rv > wv || (rv == wv && (!rex || wex))
                    } else {
                        rv < wv || (rv == wv && (!rex || wex))
                    };
                    if !covers {
                        self.report(narrowed, &format!("{path}/{keyword}"), format!("{wv} -> {rv}"));
                    }
                }
            }
        }
        if let Some(rm) = r.get("multipleOf").and_then(Value::as_f64) {
            match w.get("multipleOf").and_then(Value::as_f64) {
                None => self.report(
                    JsonSchemaChange::MultipleOfAdded,
                    &format!("{path}/multipleOf"),
                    format!("multipleOf {rm}"),
                ),
                Some(wm) => {
                    let q = wm / rm;
                    if (q - q.round()).abs() > 1e-9 {
                        self.report(
                            JsonSchemaChange::MultipleOfChanged,
                            &format!("{path}/multipleOf"),
                            format!("{wm} -> {rm}"),
                        );
                    }
                }
            }
        }
    }

    fn check_objects(
        &mut self,
        writer: Loc<'a>,
        reader: Loc<'a>,
        w: &'a Map<String, Value>,
        r: &'a Map<String, Value>,
        path: &str,
    ) {
        let wp = w.get("properties").and_then(Value::as_object).unwrap_or(&*EMPTY);
        let rp = r.get("properties").and_then(Value::as_object).unwrap_or(&*EMPTY);
        let w_required = required(w);
        let r_required = required(r);
        for (name, rschema) in rp {
            let at = format!("{path}/properties/{}", pointer_escape(name));
            let rloc = Loc { doc: reader.doc, value: rschema };
            match wp.get(name) {
                Some(wschema) => self.check(Loc { doc: writer.doc, value: wschema }, rloc, &at),
                None => {
                    // The writer never declared this property: what may it have written under that name?
                    let newly_required = r_required.contains(&name.as_str());
                    match extra_schema(w, name) {
                        None => {
                            if newly_required {
                                self.report(
                                    JsonSchemaChange::RequiredPropertyAddedToUnopenContentModel,
                                    &at,
                                    format!("property '{name}'"),
                                );
                            }
                        }
                        Some(wextra) => {
                            if newly_required {
                                self.report(
                                    JsonSchemaChange::RequiredAttributeAdded,
                                    &at,
                                    format!("property '{name}'"),
                                );
                            } else if accepts_everything(wextra) {
                                if !accepts_everything(rschema) {
                                    self.report(
                                        JsonSchemaChange::PropertyAddedToOpenContentModel,
                                        &at,
                                        format!("property '{name}'"),
                                    );
                                }
                            } else if !self.compatible(Loc { doc: writer.doc, value: wextra }, rloc) {
                                self.report(
                                    JsonSchemaChange::PropertyAddedNotCoveredByPartiallyOpenContentModel,
                                    &at,
                                    format!("property '{name}'"),
                                );
                            }
                        }
                    }
                }
            }
        }
        for (name, wschema) in wp {
            if rp.contains_key(name) {
                continue;
            }
            let at = format!("{path}/properties/{}", pointer_escape(name));
            match extra_schema(r, name) {
                None => self.report(
                    JsonSchemaChange::PropertyRemovedFromClosedContentModel,
                    &at,
                    format!("property '{name}'"),
                ),
                Some(rextra) if accepts_everything(rextra) => {}
                Some(rextra) => {
                    if !self.compatible(Loc { doc: writer.doc, value: wschema }, Loc { doc: reader.doc, value: rextra })
                    {
                        self.report(
                            JsonSchemaChange::PropertyRemovedNotCoveredByPartiallyOpenContentModel,
                            &at,
                            format!("property '{name}'"),
                        );
                    }
                }
            }
        }
        for name in &r_required {
            if !w_required.contains(name) && wp.contains_key(*name) {
                self.report(
                    JsonSchemaChange::RequiredAttributeAdded,
                    &format!("{path}/required"),
                    format!("property '{name}' is now required"),
                );
            }
        }
        // Properties neither schema declares.
        let w_additional = w.get("additionalProperties").unwrap_or(&TRUE);
        let r_additional = r.get("additionalProperties").unwrap_or(&TRUE);
        if !is_false(w_additional) && !accepts_everything(r_additional) {
            let at = format!("{path}/additionalProperties");
            if is_false(r_additional) {
                self.report(
                    JsonSchemaChange::AdditionalPropertiesRemoved,
                    &at,
                    "additional properties are no longer allowed",
                );
            } else if !self
                .compatible(Loc { doc: writer.doc, value: w_additional }, Loc { doc: reader.doc, value: r_additional })
            {
                self.report(
                    JsonSchemaChange::AdditionalPropertiesNarrowed,
                    &at,
                    "additional properties are constrained more",
                );
            }
        }
        self.check_count(w, r, "minProperties", path, false);
        self.check_count(w, r, "maxProperties", path, true);
        for keyword in ["dependentRequired", "dependencies"] {
            if let Some(Value::Object(deps)) = r.get(keyword) {
                for (trigger, dep) in deps {
                    let same = w.get(keyword).and_then(|d| d.get(trigger)).is_some_and(|wd| json_equal(wd, dep));
                    if !same && dep.is_array() {
                        self.report(
                            JsonSchemaChange::DependencyAdded,
                            &format!("{path}/{keyword}/{}", pointer_escape(trigger)),
                            format!("dependency of '{trigger}'"),
                        );
                    }
                }
            }
        }
    }

    fn check_count(&mut self, w: &Map<String, Value>, r: &Map<String, Value>, keyword: &str, path: &str, is_max: bool) {
        use JsonSchemaChange::*;
        let Some(rv) = r.get(keyword).and_then(Value::as_f64) else { return };
        if !is_max && rv == 0.0 {
            return;
        }
        let (added, narrowed) = match keyword {
            "minProperties" => (MinPropertiesAdded, MinPropertiesIncreased),
            "maxProperties" => (MaxPropertiesAdded, MaxPropertiesDecreased),
            "minItems" => (MinItemsAdded, MinItemsIncreased),
            _ => (MaxItemsAdded, MaxItemsDecreased),
        };
        let at = format!("{path}/{keyword}");
        match w.get(keyword).and_then(Value::as_f64) {
            None => self.report(added, &at, format!("{keyword} {rv}")),
            Some(wv) if (is_max && rv < wv) || (!is_max && rv > wv) => {
                self.report(narrowed, &at, format!("{wv} -> {rv}"))
            }
            _ => {}
        }
    }

    fn check_arrays(
        &mut self,
        writer: Loc<'a>,
        reader: Loc<'a>,
        w: &'a Map<String, Value>,
        r: &'a Map<String, Value>,
        path: &str,
    ) {
        let (w_prefix, w_rest, _) = tuple(w, self.writer.draft());
        let (r_prefix, r_rest, (r_prefix_key, r_rest_key)) = tuple(r, self.reader.draft());
        let mut closed_reported = false;
        for i in 0..w_prefix.len().max(r_prefix.len()) {
            let wi = w_prefix.get(i).copied().unwrap_or(w_rest);
            if is_false(wi) {
                break;
            }
            let (ri, at) = match r_prefix.get(i) {
                Some(ri) => (*ri, format!("{path}/{r_prefix_key}/{i}")),
                None => (r_rest, format!("{path}/{r_rest_key}")),
            };
            if is_false(ri) {
                self.report(JsonSchemaChange::ItemRemovedFromClosedContentModel, &at, format!("item {i}"));
                closed_reported = true;
                break;
            }
            if w_prefix.get(i).is_none() && accepts_everything(wi) && !accepts_everything(ri) {
                self.report(JsonSchemaChange::ItemAddedToOpenContentModel, &at, format!("item {i}"));
                continue;
            }
            self.check(Loc { doc: writer.doc, value: wi }, Loc { doc: reader.doc, value: ri }, &at);
        }
        if !is_false(w_rest) && !closed_reported {
            let at = format!("{path}/{r_rest_key}");
            if is_false(r_rest) {
                self.report(JsonSchemaChange::ItemRemovedFromClosedContentModel, &at, "items after the tuple");
            } else {
                self.check(Loc { doc: writer.doc, value: w_rest }, Loc { doc: reader.doc, value: r_rest }, &at);
            }
        }
        self.check_count(w, r, "minItems", path, false);
        self.check_count(w, r, "maxItems", path, true);
        if r.get("uniqueItems").and_then(Value::as_bool) == Some(true)
            && w.get("uniqueItems").and_then(Value::as_bool) != Some(true)
        {
            self.report(JsonSchemaChange::UniqueItemsAdded, &format!("{path}/uniqueItems"), "items must now be unique");
        }
    }
}

struct Checker<'a> {
    reader: &'a JsonSchema,
    writer: &'a JsonSchema,
    visiting: HashSet<(usize, usize)>,
    found: Vec<JsonIncompatibility>,
}

/// Keywords that can only narrow what a schema accepts and that the checker does not analyse in depth.
const UNANALYSED: &[&str] = &[
    "if",
    "then",
    "else",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "patternProperties",
];

fn has_own_constraints(map: &Map<String, Value>) -> bool {
    ASSERTIONS.iter().any(|k| !matches!(*k, "allOf" | "anyOf" | "oneOf" | "not") && map.contains_key(*k))
}

fn required(map: &Map<String, Value>) -> Vec<&str> {
    map.get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The schema an object schema applies to a property it does not declare: a matching
/// `patternProperties` schema, else `additionalProperties` (absent means any value); `None` when the
/// property is not allowed at all (a closed content model).
fn extra_schema<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    if let Some(Value::Object(patterns)) = map.get("patternProperties") {
        for (pattern, schema) in patterns {
            if regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().is_ok_and(|re| re.is_match(name)) {
                return Some(schema);
            }
        }
    }
    match map.get("additionalProperties") {
        None => Some(&TRUE),
        Some(Value::Bool(false)) => None,
        Some(schema) => Some(schema),
    }
}

/// An array schema as (tuple item schemas, schema of the items after them, and their keywords).
type Keywords = (&'static str, &'static str);

fn tuple(map: &Map<String, Value>, draft: Draft) -> (Vec<&Value>, &Value, Keywords) {
    if draft >= Draft::Draft2020_12 || map.contains_key("prefixItems") {
        let prefix = map.get("prefixItems").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        return (prefix, map.get("items").unwrap_or(&TRUE), ("prefixItems", "items"));
    }
    match map.get("items") {
        Some(Value::Array(items)) => {
            (items.iter().collect(), map.get("additionalItems").unwrap_or(&TRUE), ("items", "additionalItems"))
        }
        Some(schema) => (Vec::new(), schema, ("items", "items")),
        None => (Vec::new(), &TRUE, ("items", "items")),
    }
}

#[cfg(test)]
mod tests;
