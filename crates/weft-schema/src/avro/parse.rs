//! Avro schema declarations to [`AvroSchema`] (Avro spec: "Schema Declaration", "Names").

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{AvroSchema, AvroType, Field, FieldOrder, LogicalType, NamedKind, NamedType};
use crate::json::{kind, parse_json, pointer_escape, preview};
use crate::MAX_DEPTH;

/// Why a schema text is not a valid Avro schema, and where (a JSON pointer into the schema document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", located(path))]
pub struct AvroParseError {
    pub path: String,
    pub message: String,
}

/// The `at /pointer: ` prefix of a located message (nothing for the document itself).
pub(crate) fn located(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

const PRIMITIVES: [&str; 8] = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

/// Attributes the specification gives a meaning to, per kind of declaration; the rest are custom props.
const NAMED_ATTRIBUTES: [&str; 8] = ["type", "name", "namespace", "doc", "aliases", "fields", "symbols", "default"];

pub(super) fn parse(text: &str, references: &[&str]) -> Result<AvroSchema, AvroParseError> {
    let mut parser = Parser { named: Vec::new(), names: HashMap::new(), path: Vec::new(), depth: 0 };
    for (i, reference) in references.iter().enumerate() {
        let value = parse_json(reference)
            .map_err(|message| AvroParseError { path: String::new(), message: format!("reference {i}: {message}") })?;
        parser.parse_type(&value, None).map_err(|e| AvroParseError {
            path: e.path,
            message: format!("in referenced schema {i}: {}", e.message),
        })?;
    }
    let first_own_named = parser.named.len();
    let value = parse_json(text).map_err(|message| AvroParseError { path: String::new(), message })?;
    let root = parser.parse_type(&value, None)?;
    Ok(AvroSchema { root, named: parser.named, first_own_named })
}

struct Parser {
    named: Vec<NamedType>,
    names: HashMap<String, usize>,
    path: Vec<String>,
    /// Type declarations being parsed, one inside the other.
    depth: usize,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> AvroParseError {
        let mut path = String::new();
        for segment in &self.path {
            path.push('/');
            path.push_str(&pointer_escape(segment));
        }
        AvroParseError { path, message: message.into() }
    }

    fn error_at(&self, extra: &[String], message: impl Into<String>) -> AvroParseError {
        let mut error = self.error(message);
        for segment in extra {
            error.path.push('/');
            error.path.push_str(&pointer_escape(segment));
        }
        error
    }

    fn within<T>(
        &mut self,
        segment: impl ToString,
        f: impl FnOnce(&mut Self) -> Result<T, AvroParseError>,
    ) -> Result<T, AvroParseError> {
        self.path.push(segment.to_string());
        let result = f(self);
        self.path.pop();
        result
    }

    fn parse_type(&mut self, value: &Value, namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        // Every recursion of the parser goes through here; so do the walks of the parsed tree later
        // (canonical forms, encoding, decoding), which therefore nest no deeper than this allows.
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("the schema nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let parsed = self.parse_declaration(value, namespace);
        self.depth -= 1;
        parsed
    }

    fn parse_declaration(&mut self, value: &Value, namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        match value {
            Value::String(name) => self.type_by_name(name, namespace),
            Value::Array(branches) => self.parse_union(branches, namespace),
            Value::Object(map) => self.parse_object(map, namespace),
            other => Err(self.error(format!(
                "expected a type name, a type declaration (object) or a union (array), found {} {}",
                kind(other),
                preview(other)
            ))),
        }
    }

    fn type_by_name(&self, name: &str, namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        if let Some(ty) = primitive(name) {
            return Ok(ty);
        }
        if let Some(index) = self.lookup(name, namespace) {
            return Ok(AvroType::Named(index));
        }
        let full = full_name(name, namespace);
        let hint = match closest(name, PRIMITIVES.iter().copied().chain(self.names.keys().map(String::as_str))) {
            Some(candidate) => format!(" (did you mean '{candidate}'?)"),
            None => String::new(),
        };
        if full != name {
            Err(self.error(format!("unknown type '{name}': no primitive type and no named type '{full}' or '{name}' is defined before this point{hint}")))
        } else {
            Err(self.error(format!(
                "unknown type '{name}': no primitive type and no named type of that name is defined before this point{hint}"
            )))
        }
    }

    fn lookup(&self, name: &str, namespace: Option<&str>) -> Option<usize> {
        if name.contains('.') {
            return self.names.get(name).copied();
        }
        if let Some(ns) = namespace.filter(|ns| !ns.is_empty()) {
            if let Some(index) = self.names.get(&format!("{ns}.{name}")) {
                return Some(*index);
            }
        }
        self.names.get(name).copied()
    }

    fn parse_union(&mut self, branches: &[Value], namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        let mut types = Vec::with_capacity(branches.len());
        let mut seen: HashSet<String> = HashSet::with_capacity(branches.len());
        for (i, branch) in branches.iter().enumerate() {
            let ty = self.within(i, |p| p.parse_type(branch, namespace))?;
            if matches!(ty, AvroType::Union(_)) {
                return Err(self.error_at(&[i.to_string()], "a union may not immediately contain another union"));
            }
            let key = match &ty {
                AvroType::Named(index) => self.named[*index].name.clone(),
                other => primitive_kind_name(other).to_string(),
            };
            if seen.contains(&key) {
                return Err(self.error_at(
                    &[i.to_string()],
                    format!("the union already has a branch of type '{key}'; union branches must differ"),
                ));
            }
            seen.insert(key);
            types.push(ty);
        }
        Ok(AvroType::Union(types))
    }

    fn parse_object(&mut self, map: &Map<String, Value>, namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        let Some(type_value) = map.get("type") else {
            return Err(self.error("a type declaration needs a \"type\" attribute"));
        };
        let type_name = match type_value {
            Value::String(s) => s.as_str(),
            // `{"type": {...}}` and `{"type": [...]}` wrap another declaration.
            Value::Object(_) | Value::Array(_) => return self.within("type", |p| p.parse_type(type_value, namespace)),
            other => {
                return Err(self.error_at(
                    &["type".to_string()],
                    format!("\"type\" must be a string, found {} {}", kind(other), preview(other)),
                ))
            }
        };
        match type_name {
            "record" | "error" => self.parse_record(map, namespace, type_name == "error"),
            "enum" => self.parse_enum(map, namespace),
            "fixed" => self.parse_fixed(map, namespace),
            "array" => {
                let items = map.get("items").ok_or_else(|| self.error("an array declaration needs \"items\""))?;
                let items = self.within("items", |p| p.parse_type(items, namespace))?;
                Ok(AvroType::Array(Box::new(items)))
            }
            "map" => {
                let values = map.get("values").ok_or_else(|| self.error("a map declaration needs \"values\""))?;
                let values = self.within("values", |p| p.parse_type(values, namespace))?;
                Ok(AvroType::Map(Box::new(values)))
            }
            name => {
                let ty = self.within("type", |p| p.type_by_name(name, namespace))?;
                Ok(annotate(ty, map))
            }
        }
    }

    /// Registers a named type's full name and aliases; the definition is filled in by the caller.
    fn declare(
        &mut self,
        map: &Map<String, Value>,
        namespace: Option<&str>,
        what: &str,
    ) -> Result<(usize, String), AvroParseError> {
        let name = match map.get("name") {
            Some(Value::String(name)) => name.as_str(),
            Some(other) => {
                return Err(
                    self.error_at(&["name".to_string()], format!("the name must be a string, found {}", kind(other)))
                )
            }
            None => return Err(self.error(format!("a {what} declaration needs a \"name\""))),
        };
        let own_namespace = match map.get("namespace") {
            Some(Value::String(ns)) => {
                if !ns.is_empty() {
                    self.within("namespace", |p| p.check_name(ns, "namespace"))?;
                }
                Some(ns.as_str())
            }
            Some(Value::Null) | None => None,
            Some(other) => {
                return Err(self.error_at(
                    &["namespace".to_string()],
                    format!("the namespace must be a string, found {}", kind(other)),
                ))
            }
        };
        self.within("name", |p| p.check_name(name, "name"))?;
        let full = if name.contains('.') { name.to_string() } else { full_name(name, own_namespace.or(namespace)) };
        if PRIMITIVES.contains(&full.as_str()) || PRIMITIVES.contains(&name) {
            return Err(
                self.error_at(&["name".to_string()], format!("'{name}' is a primitive type and cannot be redefined"))
            );
        }
        if self.names.contains_key(&full) {
            return Err(self.error_at(&["name".to_string()], format!("the type '{full}' is already defined")));
        }
        let type_namespace = full.rfind('.').map(|dot| full[..dot].to_string());
        let aliases = self.parse_aliases(map, type_namespace.as_deref())?;
        let doc = self.parse_doc(map)?;
        let index = self.named.len();
        self.named.push(NamedType {
            name: full.clone(),
            aliases,
            doc,
            kind: NamedKind::Fixed { size: 0, logical: None },
            props: custom_props(map, &NAMED_ATTRIBUTES),
            index: HashMap::new(),
        });
        self.names.insert(full.clone(), index);
        Ok((index, full))
    }

    fn parse_aliases(
        &mut self,
        map: &Map<String, Value>,
        namespace: Option<&str>,
    ) -> Result<Vec<String>, AvroParseError> {
        let Some(value) = map.get("aliases") else { return Ok(Vec::new()) };
        let Value::Array(items) = value else {
            return Err(self.error_at(&["aliases".to_string()], "aliases must be an array of names"));
        };
        let mut aliases = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Value::String(alias) = item else {
                return Err(self.error_at(&["aliases".to_string(), i.to_string()], "an alias must be a string"));
            };
            self.within("aliases", |p| p.within(i, |p| p.check_name(alias, "alias")))?;
            aliases.push(full_name(alias, namespace));
        }
        Ok(aliases)
    }

    fn parse_doc(&mut self, map: &Map<String, Value>) -> Result<Option<String>, AvroParseError> {
        match map.get("doc") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(doc)) => Ok(Some(doc.clone())),
            Some(other) => {
                Err(self.error_at(&["doc".to_string()], format!("doc must be a string, found {}", kind(other))))
            }
        }
    }

    fn check_name(&self, name: &str, what: &str) -> Result<(), AvroParseError> {
        // Avro spec "Names": each dot-separated part matches [A-Za-z_][A-Za-z0-9_]*.
        for part in name.split('.') {
            let mut chars = part.chars();
            let valid = match chars.next() {
                Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
                _ => false,
            };
            if !valid {
                return Err(self.error(format!(
                    "invalid {what} '{name}': each dot-separated part must start with a letter or '_' and contain only letters, digits and '_'"
                )));
            }
        }
        Ok(())
    }

    fn parse_record(
        &mut self,
        map: &Map<String, Value>,
        namespace: Option<&str>,
        is_error: bool,
    ) -> Result<AvroType, AvroParseError> {
        let (index, full) = self.declare(map, namespace, "record")?;
        let inner_namespace = full.rfind('.').map(|dot| full[..dot].to_string());
        let fields_value = match map.get("fields") {
            Some(Value::Array(fields)) => fields,
            Some(other) => {
                return Err(self
                    .error_at(&["fields".to_string()], format!("\"fields\" must be an array, found {}", kind(other))))
            }
            None => return Err(self.error(format!("the record '{full}' needs \"fields\""))),
        };
        let mut fields: Vec<Field> = Vec::with_capacity(fields_value.len());
        // Names and aliases by hash: a record of n fields is checked in O(n), not O(n²).
        let mut field_index: HashMap<String, usize> = HashMap::with_capacity(fields_value.len());
        for (i, field_value) in fields_value.iter().enumerate() {
            let field =
                self.within("fields", |p| p.within(i, |p| p.parse_field(field_value, inner_namespace.as_deref())))?;
            if field_index.get(&field.name).is_some_and(|&j| fields[j].name == field.name) {
                return Err(self.error_at(
                    &["fields".to_string(), i.to_string()],
                    format!("the record '{full}' already has a field named '{}'", field.name),
                ));
            }
            field_index.insert(field.name.clone(), i);
            for alias in &field.aliases {
                field_index.entry(alias.clone()).or_insert(i);
            }
            fields.push(field);
        }
        let named = &mut self.named[index];
        named.kind = NamedKind::Record { fields, is_error };
        named.index = field_index;
        // Defaults are checked once the record is complete, so a default may mention the record itself.
        if let NamedKind::Record { fields, .. } = &self.named[index].kind {
            for (i, field) in fields.iter().enumerate() {
                let Some(default) = &field.default else { continue };
                if let Err(reason) = check_default(&self.named, &field.ty, default, 0) {
                    return Err(self.error_at(
                        &["fields".to_string(), i.to_string(), "default".to_string()],
                        format!("invalid default for field '{}': {reason}", field.name),
                    ));
                }
            }
        }
        Ok(AvroType::Named(index))
    }

    fn parse_field(&mut self, value: &Value, namespace: Option<&str>) -> Result<Field, AvroParseError> {
        let Value::Object(map) = value else {
            return Err(self.error(format!("a field must be an object, found {}", kind(value))));
        };
        let name = match map.get("name") {
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(self.error_at(&["name".to_string()], "a field name must be a string")),
            None => return Err(self.error("a field needs a \"name\"")),
        };
        self.within("name", |p| p.check_name(&name, "field name"))?;
        if name.contains('.') {
            return Err(
                self.error_at(&["name".to_string()], format!("invalid field name '{name}': '.' is not allowed"))
            );
        }
        let Some(type_value) = map.get("type") else {
            return Err(self.error(format!("the field '{name}' needs a \"type\"")));
        };
        let ty = self.within("type", |p| p.parse_type(type_value, namespace))?;
        let order = match map.get("order") {
            None => None,
            Some(Value::String(s)) if s == "ascending" => Some(FieldOrder::Ascending),
            Some(Value::String(s)) if s == "descending" => Some(FieldOrder::Descending),
            Some(Value::String(s)) if s == "ignore" => Some(FieldOrder::Ignore),
            Some(other) => {
                return Err(self.error_at(
                    &["order".to_string()],
                    format!("order must be \"ascending\", \"descending\" or \"ignore\", found {}", preview(other)),
                ))
            }
        };
        let mut aliases = Vec::new();
        if let Some(value) = map.get("aliases") {
            let Value::Array(items) = value else {
                return Err(self.error_at(&["aliases".to_string()], "aliases must be an array of names"));
            };
            for (i, item) in items.iter().enumerate() {
                let Value::String(alias) = item else {
                    return Err(self.error_at(&["aliases".to_string(), i.to_string()], "an alias must be a string"));
                };
                self.within("aliases", |p| p.within(i, |p| p.check_name(alias, "field alias")))?;
                aliases.push(alias.clone());
            }
        }
        let doc = self.parse_doc(map)?;
        Ok(Field {
            name,
            doc,
            aliases,
            default: map.get("default").cloned(),
            order,
            ty,
            props: custom_props(map, &["name", "type", "doc", "default", "order", "aliases"]),
        })
    }

    fn parse_enum(&mut self, map: &Map<String, Value>, namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        let (index, full) = self.declare(map, namespace, "enum")?;
        let symbols_value = match map.get("symbols") {
            Some(Value::Array(symbols)) => symbols,
            Some(_) => return Err(self.error_at(&["symbols".to_string()], "\"symbols\" must be an array of strings")),
            None => return Err(self.error(format!("the enum '{full}' needs \"symbols\""))),
        };
        let mut symbols: Vec<String> = Vec::with_capacity(symbols_value.len());
        // Symbols by hash: duplicates are found, and symbols later looked up, without scanning.
        let mut symbol_index: HashMap<String, usize> = HashMap::with_capacity(symbols_value.len());
        for (i, symbol) in symbols_value.iter().enumerate() {
            let Value::String(symbol) = symbol else {
                return Err(self.error_at(&["symbols".to_string(), i.to_string()], "a symbol must be a string"));
            };
            self.within("symbols", |p| p.within(i, |p| p.check_name(symbol, "symbol")))?;
            if symbol.contains('.') {
                return Err(self.error_at(
                    &["symbols".to_string(), i.to_string()],
                    format!("invalid symbol '{symbol}': '.' is not allowed"),
                ));
            }
            if symbol_index.insert(symbol.clone(), i).is_some() {
                return Err(self.error_at(
                    &["symbols".to_string(), i.to_string()],
                    format!("the enum '{full}' already has the symbol '{symbol}'"),
                ));
            }
            symbols.push(symbol.clone());
        }
        // Avro spec, "Enums": the default, if given, must be one of the symbols.
        let default = match map.get("default") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) if symbol_index.contains_key(d) => Some(d.clone()),
            Some(other) => {
                return Err(self.error_at(
                    &["default".to_string()],
                    format!("the enum default {} is not one of the symbols", preview(other)),
                ))
            }
        };
        self.named[index].kind = NamedKind::Enum { symbols, default };
        self.named[index].index = symbol_index;
        Ok(AvroType::Named(index))
    }

    fn parse_fixed(&mut self, map: &Map<String, Value>, namespace: Option<&str>) -> Result<AvroType, AvroParseError> {
        let (index, full) = self.declare(map, namespace, "fixed")?;
        let size = match map.get("size") {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|s| s <= u32::MAX as u64) => {
                n.as_u64().unwrap_or(0) as usize
            }
            Some(other) => {
                return Err(self.error_at(
                    &["size".to_string()],
                    format!("size must be a non-negative integer, found {}", preview(other)),
                ))
            }
            None => return Err(self.error(format!("the fixed type '{full}' needs a \"size\""))),
        };
        let logical = match map.get("logicalType").and_then(Value::as_str) {
            Some("decimal") => decimal(map).filter(|d| match d {
                LogicalType::Decimal { precision, .. } => size > 0 && (*precision as f64) <= max_fixed_precision(size),
                _ => false,
            }),
            Some("duration") if size == 12 => Some(LogicalType::Duration),
            _ => None,
        };
        self.named[index].kind = NamedKind::Fixed { size, logical };
        self.named[index].props.retain(|(k, _)| !matches!(k.as_str(), "size" | "logicalType" | "precision" | "scale"));
        Ok(AvroType::Named(index))
    }
}

fn max_fixed_precision(size: usize) -> f64 {
    // Avro spec: a fixed of n bytes holds at most floor(log10(2^(8n-1) - 1)) digits.
    ((8 * size - 1) as f64 * 2f64.log10()).floor()
}

fn primitive(name: &str) -> Option<AvroType> {
    Some(match name {
        "null" => AvroType::Null,
        "boolean" => AvroType::Boolean,
        "int" => AvroType::Int(None),
        "long" => AvroType::Long(None),
        "float" => AvroType::Float,
        "double" => AvroType::Double,
        "bytes" => AvroType::Bytes(None),
        "string" => AvroType::String(None),
        _ => return None,
    })
}

pub(crate) fn primitive_kind_name(ty: &AvroType) -> &'static str {
    match ty {
        AvroType::Null => "null",
        AvroType::Boolean => "boolean",
        AvroType::Int(_) => "int",
        AvroType::Long(_) => "long",
        AvroType::Float => "float",
        AvroType::Double => "double",
        AvroType::Bytes(_) => "bytes",
        AvroType::String(_) => "string",
        AvroType::Array(_) => "array",
        AvroType::Map(_) => "map",
        AvroType::Union(_) => "union",
        AvroType::Named(_) => "named",
    }
}

/// Applies a `logicalType` attribute to a primitive, ignoring logical types that do not apply.
fn annotate(ty: AvroType, map: &Map<String, Value>) -> AvroType {
    let Some(logical) = map.get("logicalType").and_then(Value::as_str) else { return ty };
    match (ty, logical) {
        (AvroType::Int(_), "date") => AvroType::Int(Some(LogicalType::Date)),
        (AvroType::Int(_), "time-millis") => AvroType::Int(Some(LogicalType::TimeMillis)),
        (AvroType::Long(_), "time-micros") => AvroType::Long(Some(LogicalType::TimeMicros)),
        (AvroType::Long(_), "timestamp-millis") => AvroType::Long(Some(LogicalType::TimestampMillis)),
        (AvroType::Long(_), "timestamp-micros") => AvroType::Long(Some(LogicalType::TimestampMicros)),
        (AvroType::Long(_), "local-timestamp-millis") => AvroType::Long(Some(LogicalType::LocalTimestampMillis)),
        (AvroType::Long(_), "local-timestamp-micros") => AvroType::Long(Some(LogicalType::LocalTimestampMicros)),
        (AvroType::String(_), "uuid") => AvroType::String(Some(LogicalType::Uuid)),
        (AvroType::Bytes(_), "decimal") => AvroType::Bytes(decimal(map)),
        (ty, _) => ty,
    }
}

fn decimal(map: &Map<String, Value>) -> Option<LogicalType> {
    let precision = map.get("precision")?.as_u64()?;
    let scale = match map.get("scale") {
        None => 0,
        Some(v) => v.as_u64()?,
    };
    if precision == 0 || scale > precision || precision > u32::MAX as u64 {
        return None;
    }
    Some(LogicalType::Decimal { precision: precision as u32, scale: scale as u32 })
}

fn custom_props(map: &Map<String, Value>, known: &[&str]) -> Vec<(String, Value)> {
    let mut props: Vec<(String, Value)> =
        map.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    props.sort_by(|a, b| a.0.cmp(&b.0));
    props
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() && !name.contains('.') => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let short = name.rsplit('.').next().unwrap_or(name);
    candidates
        .map(|c| (edit_distance(short, c.rsplit('.').next().unwrap_or(c)), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let current = row[j + 1];
            row[j + 1] = if ca == b[j] { previous } else { 1 + previous.min(row[j]).min(row[j + 1]) };
            previous = current;
        }
    }
    row[b.len()]
}

/// Checks a field default against its type (Avro spec 1.11, "Complex Types", records: a default is the
/// JSON encoding of a value of the field's type, and "default values for union fields correspond to the
/// first schema in the union"). `depth` counts the levels of the default value being checked.
pub(super) fn check_default(named: &[NamedType], ty: &AvroType, value: &Value, depth: usize) -> Result<(), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("the default nests deeper than {MAX_DEPTH} levels"));
    }
    let mismatch = |expected: &str| Err(format!("expected {expected}, found {}", preview(value)));
    match ty {
        AvroType::Null => {
            if value.is_null() {
                Ok(())
            } else {
                mismatch("null")
            }
        }
        AvroType::Boolean => {
            if value.is_boolean() {
                Ok(())
            } else {
                mismatch("a boolean")
            }
        }
        AvroType::Int(_) => match value.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(()),
            _ => mismatch("a 32-bit integer"),
        },
        AvroType::Long(_) => {
            if value.as_i64().is_some() {
                Ok(())
            } else {
                mismatch("a 64-bit integer")
            }
        }
        AvroType::Float | AvroType::Double => {
            if value.is_number() {
                Ok(())
            } else {
                mismatch("a number")
            }
        }
        AvroType::Bytes(_) => match value.as_str() {
            Some(s) if s.chars().all(|c| (c as u32) < 256) => Ok(()),
            _ => mismatch("a string of code points 0-255"),
        },
        AvroType::String(_) => {
            if value.is_string() {
                Ok(())
            } else {
                mismatch("a string")
            }
        }
        AvroType::Array(items) => match value {
            Value::Array(values) => {
                for (i, v) in values.iter().enumerate() {
                    check_default(named, items, v, depth + 1).map_err(|e| format!("item {i}: {e}"))?;
                }
                Ok(())
            }
            _ => mismatch("an array"),
        },
        AvroType::Map(values) => match value {
            Value::Object(entries) => {
                for (k, v) in entries {
                    check_default(named, values, v, depth + 1).map_err(|e| format!("entry '{k}': {e}"))?;
                }
                Ok(())
            }
            _ => mismatch("an object"),
        },
        AvroType::Union(branches) => {
            let Some(first) = branches.first() else { return mismatch("nothing (the union is empty)") };
            check_default(named, first, value, depth + 1).map_err(|reason| {
                let first_name = match first {
                    AvroType::Named(i) => named.get(*i).map_or("a named type", |def| def.name.as_str()),
                    other => primitive_kind_name(other),
                };
                format!("a union's default must be a value of its first branch ({first_name}): {reason}")
            })
        }
        AvroType::Named(index) => {
            let Some(def) = named.get(*index) else { return Ok(()) };
            match &def.kind {
                NamedKind::Enum { .. } => match value.as_str() {
                    Some(s) if def.symbol(s).is_some() => Ok(()),
                    _ => mismatch(&format!("one of the symbols of '{}'", def.name)),
                },
                NamedKind::Fixed { size, .. } => match value.as_str() {
                    Some(s) if s.chars().count() == *size && s.chars().all(|c| (c as u32) < 256) => Ok(()),
                    _ => mismatch(&format!("a string of {size} code points 0-255")),
                },
                NamedKind::Record { fields, .. } => {
                    let Value::Object(map) = value else { return mismatch("an object") };
                    for field in fields {
                        match map.get(&field.name) {
                            Some(v) => check_default(named, &field.ty, v, depth + 1)
                                .map_err(|e| format!("field '{}': {e}", field.name))?,
                            None if field.default.is_some() => {}
                            None => return Err(format!("field '{}' is missing and has no default", field.name)),
                        }
                    }
                    Ok(())
                }
            }
        }
    }
}
