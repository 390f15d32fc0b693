//! Avro datums to and from JSON values (the mapping [`super::AvroSchema::validate_json`] accepts): the
//! generic encoder and decoder, over the primitives of [`super::binary`].

use serde_json::{Map, Number, Value};

use super::binary::{write_boolean, write_double, write_float, write_long, write_string, DecodeError, Reader};
use super::json::{accepts_null, describe, union_branch, union_mismatch};
use super::{AvroSchema, AvroType, Field, NamedKind};
use crate::json::{kind, preview};
use crate::validation::{InstancePath, ValidationError};
use crate::MAX_DEPTH;

pub(super) fn encode(schema: &AvroSchema, value: &Value, out: &mut Vec<u8>) -> Result<(), ValidationError> {
    encode_as(schema, &schema.root, value, out)
}

pub(super) fn encode_as(
    schema: &AvroSchema,
    ty: &AvroType,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), ValidationError> {
    Encoder { schema }.encode(ty, value, &InstancePath::Root, out, 0)
}

struct Encoder<'a> {
    schema: &'a AvroSchema,
}

impl Encoder<'_> {
    fn mismatch(&self, ty: &AvroType, value: &Value, path: &InstancePath) -> ValidationError {
        path.error(format!("expected {}, found {} {}", describe(self.schema, ty), kind(value), preview(value)))
    }

    fn encode(
        &self,
        ty: &AvroType,
        value: &Value,
        path: &InstancePath,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), ValidationError> {
        if depth >= MAX_DEPTH {
            return Err(path.error(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        // Each kind of value has a function of its own, so that the frames of the recursion (one or two
        // per level of the value) stay small.
        match (ty, value) {
            (AvroType::Array(items), Value::Array(values)) => self.encode_array(items, values, path, out, depth),
            (AvroType::Map(item_type), Value::Object(entries)) => self.encode_map(item_type, entries, path, out, depth),
            (AvroType::Union(branches), _) => {
                let Some((index, inner)) = union_branch(self.schema, branches, value, depth) else {
                    return Err(union_mismatch(self.schema, ty, value, path, depth));
                };
                write_long(index as i64, out);
                self.encode(&branches[index], inner, path, out, depth)
            }
            (AvroType::Named(index), Value::Object(map)) => match &self.schema.named_type(*index).kind {
                NamedKind::Record { fields, .. } => self.encode_record(*index, fields, map, path, out, depth),
                _ => Err(self.mismatch(ty, value, path)),
            },
            _ => self.encode_leaf(ty, value, path, out, depth),
        }
    }

    fn encode_array(
        &self,
        items: &AvroType,
        values: &[Value],
        path: &InstancePath,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), ValidationError> {
        if !values.is_empty() {
            write_long(values.len() as i64, out);
            for (i, item) in values.iter().enumerate() {
                self.encode(items, item, &path.index(i), out, depth + 1)?;
            }
        }
        out.push(0);
        Ok(())
    }

    fn encode_map(
        &self,
        item_type: &AvroType,
        entries: &Map<String, Value>,
        path: &InstancePath,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), ValidationError> {
        if !entries.is_empty() {
            write_long(entries.len() as i64, out);
            for (key, item) in entries {
                write_string(key, out);
                self.encode(item_type, item, &path.key(key), out, depth + 1)?;
            }
        }
        out.push(0);
        Ok(())
    }

    fn encode_record(
        &self,
        index: usize,
        fields: &[Field],
        map: &Map<String, Value>,
        path: &InstancePath,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let mut present = 0;
        for field in fields {
            let field_path = path.key(&field.name);
            match (map.get(&field.name), &field.default) {
                (Some(v), _) => {
                    present += 1;
                    self.encode(&field.ty, v, &field_path, out, depth + 1)?
                }
                (None, Some(default)) => self.encode(&field.ty, default, &field_path, out, depth + 1)?,
                (None, None) if accepts_null(&field.ty) => {
                    self.encode(&field.ty, &Value::Null, &field_path, out, depth + 1)?
                }
                (None, None) => {
                    return Err(path.error(format!(
                        "missing required field '{}' (of type {}, without a default)",
                        field.name,
                        describe(self.schema, &field.ty)
                    )))
                }
            }
        }
        if present < map.len() {
            let def = self.schema.named_type(index);
            if let Some(unknown) = map.keys().find(|k| def.field(k).is_none()) {
                return Err(path.key(unknown).error(format!("unknown field '{unknown}'")));
            }
        }
        Ok(())
    }

    /// Values without values inside them: primitives, enums and fixed.
    fn encode_leaf(
        &self,
        ty: &AvroType,
        value: &Value,
        path: &InstancePath,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), ValidationError> {
        match (ty, value) {
            (AvroType::Null, Value::Null) => {}
            (AvroType::Boolean, Value::Bool(b)) => write_boolean(*b, out),
            (AvroType::Int(_), Value::Number(n)) => match n.as_i64().filter(|i| i32::try_from(*i).is_ok()) {
                Some(i) => write_long(i, out),
                None => return Err(self.mismatch(ty, value, path)),
            },
            (AvroType::Long(_), Value::Number(n)) => match n.as_i64() {
                Some(i) => write_long(i, out),
                None => return Err(self.mismatch(ty, value, path)),
            },
            (AvroType::Float, Value::Number(n)) => write_float(n.as_f64().unwrap_or(0.0) as f32, out),
            (AvroType::Double, Value::Number(n)) => write_double(n.as_f64().unwrap_or(0.0), out),
            (AvroType::Bytes(_), Value::String(s)) => {
                write_long(s.chars().count() as i64, out);
                self.latin1(s, path, out)?;
            }
            (AvroType::String(_), Value::String(s)) => {
                super::json::fits(self.schema, ty, value, depth)
                    .then_some(())
                    .ok_or_else(|| self.mismatch(ty, value, path))?;
                write_string(s, out);
            }
            (AvroType::Named(index), Value::String(s)) => {
                let def = self.schema.named_type(*index);
                match &def.kind {
                    NamedKind::Enum { .. } => match def.symbol(s) {
                        Some(i) => write_long(i as i64, out),
                        None => {
                            return Err(path.error(format!(
                                "{} is not a symbol of enum '{}'",
                                preview(value),
                                def.name
                            )))
                        }
                    },
                    NamedKind::Fixed { size, .. } => {
                        let len = s.chars().count();
                        if len != *size {
                            return Err(
                                path.error(format!("fixed '{}' holds exactly {size} bytes, found {len}", def.name))
                            );
                        }
                        self.latin1(s, path, out)?;
                    }
                    NamedKind::Record { .. } => return Err(self.mismatch(ty, value, path)),
                }
            }
            _ => return Err(self.mismatch(ty, value, path)),
        }
        Ok(())
    }

    fn latin1(&self, s: &str, path: &InstancePath, out: &mut Vec<u8>) -> Result<(), ValidationError> {
        for c in s.chars() {
            let code = c as u32;
            if code > 255 {
                return Err(path.error(format!("bytes are written as code points 0 to 255, found U+{code:04X}")));
            }
            out.push(code as u8);
        }
        Ok(())
    }
}

/// Decodes one datum into JSON; the whole input must be consumed.
pub(super) fn decode(schema: &AvroSchema, bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = Reader::new(bytes);
    let value = Decoder { schema }.value(&mut reader, &schema.root)?;
    reader.finish()?;
    Ok(value)
}

/// Checks that `bytes` are exactly one datum of the schema, without building anything.
pub(super) fn validate(schema: &AvroSchema, bytes: &[u8]) -> Result<(), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.skip(schema, &schema.root)?;
    reader.finish()
}

struct Decoder<'a> {
    schema: &'a AvroSchema,
}

impl Decoder<'_> {
    fn value(&self, reader: &mut Reader<'_>, ty: &AvroType) -> Result<Value, DecodeError> {
        reader.enter()?;
        let value = self.value_inner(reader, ty);
        reader.leave();
        value
    }

    fn value_inner(&self, reader: &mut Reader<'_>, ty: &AvroType) -> Result<Value, DecodeError> {
        // As for encoding, values with values inside them have functions of their own (small frames).
        match ty {
            AvroType::Array(items) => self.array(reader, items),
            AvroType::Map(item_type) => self.map(reader, item_type),
            // The branch is this same value (a union never holds a union directly): no level of its own.
            AvroType::Union(branches) => {
                let branch = reader.branch(branches.len())?;
                self.value_inner(reader, &branches[branch])
            }
            AvroType::Named(index) => match &self.schema.named_type(*index).kind {
                NamedKind::Record { fields, .. } => self.record(reader, fields),
                _ => self.leaf(reader, ty),
            },
            _ => self.leaf(reader, ty),
        }
    }

    fn array(&self, reader: &mut Reader<'_>, items: &AvroType) -> Result<Value, DecodeError> {
        let mut values = Vec::new();
        loop {
            let count = reader.block()?;
            if count == 0 {
                break;
            }
            for _ in 0..count {
                values.push(self.value(reader, items)?);
            }
        }
        Ok(Value::Array(values))
    }

    fn map(&self, reader: &mut Reader<'_>, item_type: &AvroType) -> Result<Value, DecodeError> {
        let mut entries = Map::new();
        loop {
            let count = reader.block()?;
            if count == 0 {
                break;
            }
            for _ in 0..count {
                let key = reader.string()?.to_string();
                let item = self.value(reader, item_type)?;
                entries.insert(key, item);
            }
        }
        Ok(Value::Object(entries))
    }

    fn record(&self, reader: &mut Reader<'_>, fields: &[Field]) -> Result<Value, DecodeError> {
        let mut map = Map::new();
        for field in fields {
            let v = self.value(reader, &field.ty)?;
            map.insert(field.name.clone(), v);
        }
        Ok(Value::Object(map))
    }

    fn leaf(&self, reader: &mut Reader<'_>, ty: &AvroType) -> Result<Value, DecodeError> {
        Ok(match ty {
            AvroType::Null => Value::Null,
            AvroType::Boolean => Value::Bool(reader.boolean()?),
            AvroType::Int(_) => Value::from(reader.int()?),
            AvroType::Long(_) => Value::from(reader.long()?),
            AvroType::Float => {
                let f = reader.float()?;
                number(reader, f as f64)?
            }
            AvroType::Double => {
                let f = reader.double()?;
                number(reader, f)?
            }
            // Avro's JSON encoding of bytes: one code point 0-255 per byte.
            AvroType::Bytes(_) => Value::String(reader.bytes()?.iter().map(|&b| b as char).collect()),
            AvroType::String(logical) => Value::String(reader.string_of(*logical)?.to_string()),
            AvroType::Named(index) => {
                let def = self.schema.named_type(*index);
                match &def.kind {
                    NamedKind::Enum { symbols, .. } => {
                        Value::String(symbols[reader.symbol(&def.name, symbols.len())?].clone())
                    }
                    NamedKind::Fixed { size, .. } => {
                        Value::String(reader.fixed(*size)?.iter().map(|&b| b as char).collect())
                    }
                    NamedKind::Record { fields, .. } => self.record(reader, fields)?,
                }
            }
            AvroType::Array(_) | AvroType::Map(_) | AvroType::Union(_) => self.value_inner(reader, ty)?,
        })
    }
}

fn number(reader: &Reader<'_>, f: f64) -> Result<Value, DecodeError> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| reader.error(format!("{f} cannot be represented in JSON")))
}
