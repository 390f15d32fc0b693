//! Validation of JSON values against an Avro schema, without allocating unless a value is rejected.

use serde_json::{Map, Value};

use super::{AvroSchema, AvroType, Field, LogicalType, NamedKind, NamedType};
use crate::json::{kind, preview};
use crate::json_schema::format::is_uuid;
use crate::validation::{InstancePath, ValidationError};
use crate::MAX_DEPTH;

pub(super) fn validate(schema: &AvroSchema, value: &Value) -> Result<(), ValidationError> {
    check(schema, &schema.root, value, &InstancePath::Root, 0)
}

/// Whether the value fits the type, for choosing a union branch: the same rules as `check`, but
/// without building an error, so trying branches allocates nothing. `depth` is the value's level in the
/// payload: values nested deeper than [`MAX_DEPTH`] do not fit. A union is no level of its own (the
/// branch is the same value), so that every walk of a payload counts levels alike.
pub(super) fn fits(schema: &AvroSchema, ty: &AvroType, value: &Value, depth: usize) -> bool {
    if depth >= MAX_DEPTH {
        return false;
    }
    match (ty, value) {
        (AvroType::Null, Value::Null) | (AvroType::Boolean, Value::Bool(_)) => true,
        (AvroType::Int(_), Value::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        (AvroType::Long(_), Value::Number(n)) => n.as_i64().is_some(),
        (AvroType::Float | AvroType::Double, Value::Number(_)) => true,
        (AvroType::Bytes(_), Value::String(s)) => s.chars().all(|c| (c as u32) < 256),
        (AvroType::String(Some(LogicalType::Uuid)), Value::String(s)) => is_uuid(s),
        (AvroType::String(_), Value::String(_)) => true,
        (AvroType::Array(items), Value::Array(values)) => values.iter().all(|v| fits(schema, items, v, depth + 1)),
        (AvroType::Map(values), Value::Object(entries)) => entries.values().all(|v| fits(schema, values, v, depth + 1)),
        (AvroType::Union(branches), _) => union_branch(schema, branches, value, depth).is_some(),
        (AvroType::Named(index), _) => match (&schema.named_type(*index).kind, value) {
            (NamedKind::Record { fields, .. }, Value::Object(map)) => {
                let mut present = 0;
                for field in fields {
                    match map.get(&field.name) {
                        Some(v) => {
                            present += 1;
                            if !fits(schema, &field.ty, v, depth + 1) {
                                return false;
                            }
                        }
                        None if field.default.is_some() || accepts_null(&field.ty) => {}
                        None => return false,
                    }
                }
                present == map.len()
            }
            (NamedKind::Enum { .. }, Value::String(s)) => schema.named_type(*index).symbol(s).is_some(),
            (NamedKind::Fixed { size, .. }, Value::String(s)) => {
                s.chars().all(|c| (c as u32) < 256) && s.chars().count() == *size
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether decoding the encoding of `value` gives `value` back (see [`AvroSchema::round_trips`]): the
/// value fits, and nothing about it is one of the forms encoding accepts but decoding does not give.
pub(super) fn round_trips(schema: &AvroSchema, ty: &AvroType, value: &Value, depth: usize) -> bool {
    if depth >= MAX_DEPTH {
        return false;
    }
    match (ty, value) {
        // Decoding gives floats of floats and doubles (ints and longs only fit as integers).
        (AvroType::Double, Value::Number(n)) => n.is_f64(),
        (AvroType::Float, Value::Number(n)) => n.as_f64().is_some_and(|f| n.is_f64() && f64::from(f as f32) == f),
        (AvroType::Array(items), Value::Array(values)) => {
            values.iter().all(|v| round_trips(schema, items, v, depth + 1))
        }
        (AvroType::Map(items), Value::Object(entries)) => {
            entries.values().all(|v| round_trips(schema, items, v, depth + 1))
        }
        // Encoding takes the first branch the plain value fits; a wrapped value decodes unwrapped.
        (AvroType::Union(branches), _) => branches
            .iter()
            .find(|b| fits(schema, b, value, depth))
            .is_some_and(|b| round_trips(schema, b, value, depth)),
        (AvroType::Named(index), Value::Object(map)) => match &schema.named_type(*index).kind {
            // Decoding gives every field, defaults and nulls included.
            NamedKind::Record { fields, .. } => {
                map.len() == fields.len()
                    && fields.iter().all(|f| map.get(&f.name).is_some_and(|v| round_trips(schema, &f.ty, v, depth + 1)))
            }
            _ => false,
        },
        _ => fits(schema, ty, value, depth),
    }
}

/// The branch of a union that a JSON value belongs to: the first branch the plain value fits, else the
/// branch Avro's JSON encoding (`{"branch name": value}`) names.
pub(super) fn union_branch<'v>(
    schema: &AvroSchema,
    branches: &[AvroType],
    value: &'v Value,
    depth: usize,
) -> Option<(usize, &'v Value)> {
    if let Some(i) = branches.iter().position(|b| fits(schema, b, value, depth)) {
        return Some((i, value));
    }
    if let Value::Object(map) = value {
        if map.len() == 1 {
            let (name, inner) = map.iter().next()?;
            let i = branches.iter().position(|b| {
                let branch_name = schema.type_name(b);
                branch_name == name || branch_name.rsplit('.').next() == Some(name.as_str())
            })?;
            if fits(schema, &branches[i], inner, depth) {
                return Some((i, inner));
            }
        }
    }
    None
}

pub(super) fn describe(schema: &AvroSchema, ty: &AvroType) -> String {
    match ty {
        AvroType::Union(branches) => {
            let names: Vec<&str> = branches.iter().map(|b| schema.type_name(b)).collect();
            format!("one of [{}]", names.join(", "))
        }
        AvroType::Named(i) => {
            let def = schema.named_type(*i);
            format!("{} '{}'", def.kind_name(), def.name)
        }
        AvroType::Int(Some(l)) | AvroType::Long(Some(l)) | AvroType::Bytes(Some(l)) | AvroType::String(Some(l)) => {
            format!("{} ({})", schema.type_name(ty), l.name())
        }
        other => schema.type_name(other).to_string(),
    }
}

/// Why no branch of a union takes the value: too deep a value fits none, and says so.
pub(super) fn union_mismatch(
    schema: &AvroSchema,
    ty: &AvroType,
    value: &Value,
    path: &InstancePath,
    depth: usize,
) -> ValidationError {
    if reaches(value, MAX_DEPTH.saturating_sub(depth)) {
        path.error(format!("the value nests deeper than {MAX_DEPTH} levels"))
    } else {
        mismatch(schema, ty, value, path)
    }
}

/// Whether `value` holds values `levels` levels below it.
fn reaches(value: &Value, levels: usize) -> bool {
    if levels == 0 {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().any(|v| reaches(v, levels - 1)),
        Value::Object(map) => map.values().any(|v| reaches(v, levels - 1)),
        _ => false,
    }
}

fn mismatch(schema: &AvroSchema, ty: &AvroType, value: &Value, path: &InstancePath) -> ValidationError {
    path.error(format!("expected {}, found {} {}", describe(schema, ty), kind(value), preview(value)))
}

fn check(
    schema: &AvroSchema,
    ty: &AvroType,
    value: &Value,
    path: &InstancePath,
    depth: usize,
) -> Result<(), ValidationError> {
    if depth >= MAX_DEPTH {
        return Err(path.error(format!("the value nests deeper than {MAX_DEPTH} levels")));
    }
    match (ty, value) {
        (AvroType::Null, Value::Null) => Ok(()),
        (AvroType::Boolean, Value::Bool(_)) => Ok(()),
        (AvroType::Int(_), Value::Number(n)) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => Ok(()),
            Some(_) => Err(path.error(format!("{n} is out of the range of an Avro int (32 bits)"))),
            None => Err(mismatch(schema, ty, value, path)),
        },
        (AvroType::Long(_), Value::Number(n)) => {
            if n.as_i64().is_some() {
                Ok(())
            } else if n.is_u64() {
                Err(path.error(format!("{n} is out of the range of an Avro long (64 bits)")))
            } else {
                Err(mismatch(schema, ty, value, path))
            }
        }
        (AvroType::Float | AvroType::Double, Value::Number(_)) => Ok(()),
        (AvroType::Bytes(_), Value::String(s)) => check_latin1(s, path),
        (AvroType::String(Some(LogicalType::Uuid)), Value::String(s)) => {
            if is_uuid(s) {
                Ok(())
            } else {
                Err(path.error(format!("{} is not a UUID", preview(value))))
            }
        }
        (AvroType::String(_), Value::String(_)) => Ok(()),
        (AvroType::Array(items), Value::Array(values)) => {
            for (i, item) in values.iter().enumerate() {
                check(schema, items, item, &path.index(i), depth + 1)?;
            }
            Ok(())
        }
        (AvroType::Map(values), Value::Object(entries)) => {
            for (key, item) in entries {
                check(schema, values, item, &path.key(key), depth + 1)?;
            }
            Ok(())
        }
        (AvroType::Union(branches), _) => {
            if union_branch(schema, branches, value, depth).is_some() {
                Ok(())
            } else {
                Err(union_mismatch(schema, ty, value, path, depth))
            }
        }
        (AvroType::Named(index), _) => {
            let def = schema.named_type(*index);
            match (&def.kind, value) {
                (NamedKind::Record { fields, .. }, Value::Object(map)) => {
                    check_record(schema, def, fields, map, path, depth)
                }
                (NamedKind::Enum { symbols, .. }, Value::String(s)) => {
                    if def.symbol(s).is_some() {
                        Ok(())
                    } else {
                        Err(path.error(format!(
                            "{} is not a symbol of enum '{}' (symbols: {})",
                            preview(value),
                            def.name,
                            symbols.join(", ")
                        )))
                    }
                }
                (NamedKind::Fixed { size, .. }, Value::String(s)) => {
                    check_latin1(s, path)?;
                    let len = s.chars().count();
                    if len == *size {
                        Ok(())
                    } else {
                        Err(path.error(format!("fixed '{}' holds exactly {size} bytes, found {len}", def.name)))
                    }
                }
                _ => Err(mismatch(schema, ty, value, path)),
            }
        }
        _ => Err(mismatch(schema, ty, value, path)),
    }
}

fn check_record(
    schema: &AvroSchema,
    def: &NamedType,
    fields: &[Field],
    map: &Map<String, Value>,
    path: &InstancePath,
    depth: usize,
) -> Result<(), ValidationError> {
    let mut present = 0;
    for field in fields {
        match map.get(&field.name) {
            Some(v) => {
                present += 1;
                check(schema, &field.ty, v, &path.key(&field.name), depth + 1)?;
            }
            None if field.default.is_some() || accepts_null(&field.ty) => {}
            None => {
                return Err(path.error(format!(
                    "missing required field '{}' (of type {}, without a default)",
                    field.name,
                    describe(schema, &field.ty)
                )))
            }
        }
    }
    if present < map.len() {
        if let Some(unknown) = map.keys().find(|k| def.field(k).is_none()) {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            return Err(path
                .key(unknown)
                .error(format!("unknown field '{unknown}' (the record has: {})", known.join(", "))));
        }
    }
    Ok(())
}

pub(super) fn accepts_null(ty: &AvroType) -> bool {
    match ty {
        AvroType::Null => true,
        AvroType::Union(branches) => branches.iter().any(|b| matches!(b, AvroType::Null)),
        _ => false,
    }
}

fn check_latin1(s: &str, path: &InstancePath) -> Result<(), ValidationError> {
    match s.chars().position(|c| c as u32 > 255) {
        None => Ok(()),
        Some(i) => Err(path.error(format!(
            "bytes are written as a string of code points 0 to 255, but character {i} is U+{:04X}",
            s.chars().nth(i).map(|c| c as u32).unwrap_or(0)
        ))),
    }
}
