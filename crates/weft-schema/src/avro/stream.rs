//! The fast path of JSON validation: checking JSON bytes against an Avro schema while they are parsed,
//! without building a `serde_json::Value` and without allocating.
//!
//! It only answers "valid or not". It never accepts what [`super::json::validate`] rejects: where the
//! two could differ (a union whose value fits a later branch, Avro's `{"branch": value}` encoding, an
//! escaped key) it rejects, and the caller asks the exact validator, which also explains the rejection.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::json::accepts_null;
use super::{AvroSchema, AvroType, LogicalType, NamedKind};
use crate::json_schema::format::is_uuid;
use crate::MAX_DEPTH;

/// Whether `bytes` hold one JSON document valid for `schema` (false also when unsure).
pub(super) fn quick_check(schema: &AvroSchema, bytes: &[u8]) -> bool {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Seed { schema, ty: &schema.root, depth: 0 }.deserialize(&mut deserializer).is_ok() && deserializer.end().is_ok()
}

#[derive(Clone, Copy)]
struct Seed<'s> {
    schema: &'s AvroSchema,
    ty: &'s AvroType,
    /// Values above this one; deeper than [`MAX_DEPTH`] is left to the exact validator, which refuses it.
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth >= MAX_DEPTH {
            return reject();
        }
        deserializer.deserialize_any(self)
    }
}

fn reject<E: serde::de::Error>() -> Result<(), E> {
    Err(E::custom("invalid"))
}

impl<'s> Seed<'s> {
    fn child(&self, ty: &'s AvroType) -> Seed<'s> {
        Seed { schema: self.schema, ty, depth: self.depth + 1 }
    }

    /// The branches to consider: the union's, or the type itself.
    fn branches(&self) -> &[AvroType] {
        match self.ty {
            AvroType::Union(branches) => branches,
            other => std::slice::from_ref(other),
        }
    }

    fn number_fits(ty: &AvroType, int: Option<i64>) -> bool {
        match ty {
            AvroType::Int(_) => int.is_some_and(|i| i32::try_from(i).is_ok()),
            AvroType::Long(_) => int.is_some(),
            AvroType::Float | AvroType::Double => true,
            _ => false,
        }
    }

    fn string_fits(&self, ty: &AvroType, s: &str) -> bool {
        match ty {
            AvroType::String(Some(LogicalType::Uuid)) => is_uuid(s),
            AvroType::String(_) => true,
            AvroType::Bytes(_) => s.chars().all(|c| (c as u32) < 256),
            AvroType::Named(i) => match &self.schema.named_type(*i).kind {
                NamedKind::Enum { .. } => self.schema.named_type(*i).symbol(s).is_some(),
                NamedKind::Fixed { size, .. } => s.chars().all(|c| (c as u32) < 256) && s.chars().count() == *size,
                NamedKind::Record { .. } => false,
            },
            _ => false,
        }
    }

    fn number<E: serde::de::Error>(self, int: Option<i64>) -> Result<(), E> {
        if self.branches().iter().any(|b| Self::number_fits(b, int)) {
            Ok(())
        } else {
            reject()
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value of the schema")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if accepts_null(self.ty) {
            Ok(())
        } else {
            reject()
        }
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        if self.branches().iter().any(|b| matches!(b, AvroType::Boolean)) {
            Ok(())
        } else {
            reject()
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.number(Some(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.number(i64::try_from(v).ok())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.number(None)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        if self.branches().iter().any(|b| self.string_fits(b, v)) {
            Ok(())
        } else {
            reject()
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(AvroType::Array(items)) = self.branches().iter().find(|b| matches!(b, AvroType::Array(_))) else {
            return reject();
        };
        while seq.next_element_seed(self.child(items))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let schema = self.schema;
        let object_branch = self.branches().iter().find(|b| match b {
            AvroType::Map(_) => true,
            AvroType::Named(i) => matches!(schema.named_type(*i).kind, NamedKind::Record { .. }),
            _ => false,
        });
        match object_branch {
            Some(AvroType::Map(values)) => {
                while map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value_seed(self.child(values))?;
                }
                Ok(())
            }
            Some(AvroType::Named(i)) => {
                let def = schema.named_type(*i);
                let NamedKind::Record { fields, .. } = &def.kind else { return reject() };
                if fields.len() > 64 {
                    // Too many fields to track in a bitmask: check the materialized value instead.
                    let value = map_to_value(map)?;
                    let fits = super::json::fits(schema, &AvroType::Named(*i), &value, self.depth);
                    return if fits { Ok(()) } else { reject() };
                }
                let mut present = 0u64;
                let mut hint = 0;
                while let Some(index) = map.next_key_seed(FieldSeed { def, hint })? {
                    hint = index + 1;
                    let bit = 1u64 << index;
                    if present & bit != 0 {
                        return reject();
                    }
                    present |= bit;
                    map.next_value_seed(self.child(&fields[index].ty))?;
                }
                for (index, field) in fields.iter().enumerate() {
                    if present & (1u64 << index) == 0 && field.default.is_none() && !accepts_null(&field.ty) {
                        return reject();
                    }
                }
                Ok(())
            }
            _ => reject(),
        }
    }
}

fn map_to_value<'de, A: MapAccess<'de>>(mut map: A) -> Result<Value, A::Error> {
    let mut object = serde_json::Map::new();
    while let Some(key) = map.next_key::<String>()? {
        let value = map.next_value::<Value>()?;
        object.insert(key, value);
    }
    Ok(Value::Object(object))
}

/// Reads a record key as the index of the field of that name (not alias: the JSON mapping uses names).
struct FieldSeed<'s> {
    def: &'s super::NamedType,
    /// Where the field is likely to be: keys usually come in field order.
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<usize, E> {
        let NamedKind::Record { fields, .. } = &self.def.kind else { return Err(E::custom("invalid")) };
        if fields.get(self.hint).is_some_and(|f| f.name == key) {
            return Ok(self.hint);
        }
        match self.def.field(key) {
            Some((index, _)) => Ok(index),
            None => Err(E::custom("invalid")),
        }
    }
}
