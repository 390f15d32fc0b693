//! Avro binary encoding (Avro spec: "Binary Encoding") of JSON values, and decoding back to JSON.
//!
//! int and long are zig-zag varints; float and double are little-endian IEEE 754; bytes and string are a
//! long length then the bytes; arrays and maps are blocks (a long count, negative when followed by the
//! block's byte size, then the items), ended by a zero count; a union is the branch index then the value;
//! an enum is the symbol index; fixed is its bytes; a record is its fields in order.

use serde_json::{Map, Number, Value};

use super::json::{accepts_null, describe, union_branch};
use super::{AvroSchema, AvroType, NamedKind};
use crate::json::{kind, preview};
use crate::validation::{InstancePath, ValidationError};

/// Why bytes are not a datum of the schema, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Avro data at byte {position}: {message}")]
pub struct DecodeError {
    pub position: usize,
    pub message: String,
}

pub(crate) fn write_long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub(super) fn encode(schema: &AvroSchema, value: &Value, out: &mut Vec<u8>) -> Result<(), ValidationError> {
    Encoder { schema }.encode(&schema.root, value, &InstancePath::Root, out)
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
    ) -> Result<(), ValidationError> {
        match (ty, value) {
            (AvroType::Null, Value::Null) => {}
            (AvroType::Boolean, Value::Bool(b)) => out.push(*b as u8),
            (AvroType::Int(_), Value::Number(n)) => match n.as_i64().filter(|i| i32::try_from(*i).is_ok()) {
                Some(i) => write_long(i, out),
                None => return Err(self.mismatch(ty, value, path)),
            },
            (AvroType::Long(_), Value::Number(n)) => match n.as_i64() {
                Some(i) => write_long(i, out),
                None => return Err(self.mismatch(ty, value, path)),
            },
            (AvroType::Float, Value::Number(n)) => {
                out.extend_from_slice(&(n.as_f64().unwrap_or(0.0) as f32).to_le_bytes());
            }
            (AvroType::Double, Value::Number(n)) => out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_le_bytes()),
            (AvroType::Bytes(_), Value::String(s)) => {
                write_long(s.chars().count() as i64, out);
                self.latin1(s, path, out)?;
            }
            (AvroType::String(_), Value::String(s)) => {
                super::json::fits(self.schema, ty, value)
                    .then_some(())
                    .ok_or_else(|| self.mismatch(ty, value, path))?;
                write_long(s.len() as i64, out);
                out.extend_from_slice(s.as_bytes());
            }
            (AvroType::Array(items), Value::Array(values)) => {
                if !values.is_empty() {
                    write_long(values.len() as i64, out);
                    for (i, item) in values.iter().enumerate() {
                        self.encode(items, item, &path.index(i), out)?;
                    }
                }
                out.push(0);
            }
            (AvroType::Map(item_type), Value::Object(entries)) => {
                if !entries.is_empty() {
                    write_long(entries.len() as i64, out);
                    for (key, item) in entries {
                        write_long(key.len() as i64, out);
                        out.extend_from_slice(key.as_bytes());
                        self.encode(item_type, item, &path.key(key), out)?;
                    }
                }
                out.push(0);
            }
            (AvroType::Union(branches), _) => {
                let Some((index, inner)) = union_branch(self.schema, branches, value) else {
                    return Err(self.mismatch(ty, value, path));
                };
                write_long(index as i64, out);
                self.encode(&branches[index], inner, path, out)?;
            }
            (AvroType::Named(index), _) => {
                let def = self.schema.named_type(*index);
                match (&def.kind, value) {
                    (NamedKind::Record { fields, .. }, Value::Object(map)) => {
                        let mut present = 0;
                        for field in fields {
                            let field_path = path.key(&field.name);
                            match (map.get(&field.name), &field.default) {
                                (Some(v), _) => {
                                    present += 1;
                                    self.encode(&field.ty, v, &field_path, out)?
                                }
                                (None, Some(default)) => self.encode(&field.ty, default, &field_path, out)?,
                                (None, None) if accepts_null(&field.ty) => {
                                    self.encode(&field.ty, &Value::Null, &field_path, out)?
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
                            if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|f| f.name == **k)) {
                                return Err(path.key(unknown).error(format!("unknown field '{unknown}'")));
                            }
                        }
                    }
                    (NamedKind::Enum { symbols, .. }, Value::String(s)) => match symbols.iter().position(|x| x == s) {
                        Some(i) => write_long(i as i64, out),
                        None => {
                            return Err(path.error(format!(
                                "{} is not a symbol of enum '{}'",
                                preview(value),
                                def.name
                            )))
                        }
                    },
                    (NamedKind::Fixed { size, .. }, Value::String(s)) => {
                        let len = s.chars().count();
                        if len != *size {
                            return Err(
                                path.error(format!("fixed '{}' holds exactly {size} bytes, found {len}", def.name))
                            );
                        }
                        self.latin1(s, path, out)?;
                    }
                    _ => return Err(self.mismatch(ty, value, path)),
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

/// Decoding stops at this nesting depth, so a hostile payload cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

pub(super) fn decode(schema: &AvroSchema, bytes: &[u8]) -> Result<Value, DecodeError> {
    // Items that take no bytes (null, empty records) could otherwise make a 10-byte payload claim
    // 2^63 array items: the total number of items decoded is bounded by the input size.
    let budget = bytes.len().saturating_mul(2).saturating_add(1 << 16);
    let mut decoder = Decoder { schema, bytes, pos: 0, budget, depth: 0 };
    let value = decoder.value(&schema.root)?;
    if decoder.pos != bytes.len() {
        return Err(decoder.error(format!("{} trailing bytes after the datum", bytes.len() - decoder.pos)));
    }
    Ok(value)
}

/// Checks that `bytes` are exactly one datum of the schema, without building anything.
pub(super) fn validate(schema: &AvroSchema, bytes: &[u8]) -> Result<(), DecodeError> {
    let budget = bytes.len().saturating_mul(2).saturating_add(1 << 16);
    let mut decoder = Decoder { schema, bytes, pos: 0, budget, depth: 0 };
    decoder.skip(&schema.root)?;
    if decoder.pos != bytes.len() {
        return Err(decoder.error(format!("{} trailing bytes after the datum", bytes.len() - decoder.pos)));
    }
    Ok(())
}

struct Decoder<'a> {
    schema: &'a AvroSchema,
    bytes: &'a [u8],
    pos: usize,
    budget: usize,
    depth: usize,
}

impl Decoder<'_> {
    fn error(&self, message: impl Into<String>) -> DecodeError {
        DecodeError { position: self.pos, message: message.into() }
    }

    fn long(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        let mut z: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(DecodeError { position: start, message: "the input ends inside a varint".into() });
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError { position: start, message: "varint longer than 64 bits".into() });
            }
            z |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError { position: start, message: "varint longer than 64 bits".into() });
            }
        }
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn int(&mut self) -> Result<i32, DecodeError> {
        let start = self.pos;
        let n = self.long()?;
        i32::try_from(n).map_err(|_| DecodeError { position: start, message: format!("{n} does not fit an int") })
    }

    fn take(&mut self, len: usize) -> Result<&[u8], DecodeError> {
        if self.bytes.len() - self.pos < len {
            return Err(self.error(format!("{len} bytes announced but only {} remain", self.bytes.len() - self.pos)));
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    fn length(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let n = self.long()?;
        usize::try_from(n).map_err(|_| DecodeError { position: start, message: format!("negative length {n}") })
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.length()?;
        let start = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => {
                Err(DecodeError { position: start + e.valid_up_to(), message: "invalid UTF-8 in a string".into() })
            }
        }
    }

    fn block_count(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let count = self.long()?;
        let count = if count < 0 {
            self.long()?; // the block's size in bytes, which a decoder may use to skip it
            count.unsigned_abs()
        } else {
            count as u64
        };
        if count > self.budget as u64 {
            return Err(DecodeError {
                position: start,
                message: format!("block of {count} items is larger than the input allows"),
            });
        }
        self.budget -= count as usize;
        Ok(count as usize)
    }

    /// Reads past one datum, checking it as [`Decoder::value`] does.
    fn skip(&mut self, ty: &AvroType) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH}")));
        }
        let result = self.skip_inner(ty);
        self.depth -= 1;
        result
    }

    fn skip_inner(&mut self, ty: &AvroType) -> Result<(), DecodeError> {
        match ty {
            AvroType::Null => {}
            AvroType::Boolean => {
                if self.take(1)?[0] > 1 {
                    return Err(DecodeError { position: self.pos - 1, message: "invalid boolean byte".into() });
                }
            }
            AvroType::Int(_) => {
                self.int()?;
            }
            AvroType::Long(_) => {
                self.long()?;
            }
            AvroType::Float => {
                self.take(4)?;
            }
            AvroType::Double => {
                self.take(8)?;
            }
            AvroType::Bytes(_) => {
                let len = self.length()?;
                self.take(len)?;
            }
            AvroType::String(_) => self.skip_string()?,
            AvroType::Array(items) => loop {
                let count = self.block_count()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    self.skip(items)?;
                }
            },
            AvroType::Map(values) => loop {
                let count = self.block_count()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    self.skip_string()?;
                    self.skip(values)?;
                }
            },
            AvroType::Union(branches) => {
                let start = self.pos;
                let index = self.long()?;
                let branch = usize::try_from(index).ok().and_then(|i| branches.get(i)).ok_or_else(|| DecodeError {
                    position: start,
                    message: format!("union branch {index} does not exist (the union has {})", branches.len()),
                })?;
                self.skip(branch)?;
            }
            AvroType::Named(index) => {
                let schema = self.schema;
                let def = schema.named_type(*index);
                match &def.kind {
                    NamedKind::Record { fields, .. } => {
                        for field in fields {
                            self.skip(&field.ty)?;
                        }
                    }
                    NamedKind::Enum { symbols, .. } => {
                        let start = self.pos;
                        let i = self.int()?;
                        if usize::try_from(i).ok().is_none_or(|i| i >= symbols.len()) {
                            return Err(DecodeError {
                                position: start,
                                message: format!("enum '{}' has no symbol {i}", def.name),
                            });
                        }
                    }
                    NamedKind::Fixed { size, .. } => {
                        self.take(*size)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn skip_string(&mut self) -> Result<(), DecodeError> {
        let len = self.length()?;
        let start = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(|_| ())
            .map_err(|e| DecodeError { position: start + e.valid_up_to(), message: "invalid UTF-8 in a string".into() })
    }

    fn value(&mut self, ty: &AvroType) -> Result<Value, DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH}")));
        }
        let result = self.value_inner(ty);
        self.depth -= 1;
        result
    }

    fn value_inner(&mut self, ty: &AvroType) -> Result<Value, DecodeError> {
        Ok(match ty {
            AvroType::Null => Value::Null,
            AvroType::Boolean => match self.take(1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(DecodeError { position: self.pos - 1, message: format!("invalid boolean byte {b}") }),
            },
            AvroType::Int(_) => Value::from(self.int()?),
            AvroType::Long(_) => Value::from(self.long()?),
            AvroType::Float => {
                let raw = self.take(4)?;
                let f = f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
                self.number(f as f64)?
            }
            AvroType::Double => {
                let raw = self.take(8)?;
                let mut array = [0u8; 8];
                array.copy_from_slice(raw);
                self.number(f64::from_le_bytes(array))?
            }
            AvroType::Bytes(_) => {
                let len = self.length()?;
                Value::String(self.take(len)?.iter().map(|&b| b as char).collect())
            }
            AvroType::String(_) => Value::String(self.string()?),
            AvroType::Array(items) => {
                let mut values = Vec::new();
                loop {
                    let count = self.block_count()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        values.push(self.value(items)?);
                    }
                }
                Value::Array(values)
            }
            AvroType::Map(item_type) => {
                let mut entries = Map::new();
                loop {
                    let count = self.block_count()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        let key = self.string()?;
                        let item = self.value(item_type)?;
                        entries.insert(key, item);
                    }
                }
                Value::Object(entries)
            }
            AvroType::Union(branches) => {
                let start = self.pos;
                let index = self.long()?;
                let branch = usize::try_from(index).ok().and_then(|i| branches.get(i)).ok_or_else(|| DecodeError {
                    position: start,
                    message: format!("union branch {index} does not exist (the union has {})", branches.len()),
                })?;
                self.value(branch)?
            }
            AvroType::Named(index) => {
                let schema = self.schema;
                let def = schema.named_type(*index);
                match &def.kind {
                    NamedKind::Record { fields, .. } => {
                        let mut map = Map::new();
                        for field in fields {
                            let v = self.value(&field.ty)?;
                            map.insert(field.name.clone(), v);
                        }
                        Value::Object(map)
                    }
                    NamedKind::Enum { symbols, .. } => {
                        let start = self.pos;
                        let i = self.int()?;
                        let symbol = usize::try_from(i).ok().and_then(|i| symbols.get(i)).ok_or_else(|| {
                            DecodeError { position: start, message: format!("enum '{}' has no symbol {i}", def.name) }
                        })?;
                        Value::String(symbol.clone())
                    }
                    NamedKind::Fixed { size, .. } => {
                        Value::String(self.take(*size)?.iter().map(|&b| b as char).collect())
                    }
                }
            }
        })
    }

    fn number(&self, f: f64) -> Result<Value, DecodeError> {
        Number::from_f64(f).map(Value::Number).ok_or_else(|| self.error(format!("{f} cannot be represented in JSON")))
    }
}
