//! The fast path of JSON Schema validation: checking JSON bytes while they are parsed, without building
//! a `serde_json::Value` and without allocating.
//!
//! Each compiled node gets a [`Plan`]: keywords that look at one value once (types, bounds, lengths,
//! patterns, formats, scalar enums, properties, required, items) are checked as the parser visits the
//! value; a node with keywords that need the whole value (`anyOf`, `oneOf`, `not`, `if`, `contains`,
//! `uniqueItems`, ...) materializes just that value and runs the exact validator on it. The fast path only
//! answers "valid or not"; a rejection is explained by the exact validator.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::{Check, JsonSchema, Node, Quick, ARRAY, BOOLEAN, INTEGER, NULL, NUMBER, OBJECT, STRING};
use crate::validation::InstancePath;
use crate::MAX_DEPTH;

/// How one node is checked while parsing.
#[derive(Debug)]
pub(super) enum Plan {
    /// No keyword: anything goes.
    Any,
    /// `false`.
    Reject,
    /// Only a `$ref`: check the target.
    Delegate(usize),
    /// Check the keywords while visiting; `keys` finds a property's schema and `required` bit.
    Visit { keys: KeyTable, required_mask: u64 },
    /// Build the value and run the exact validator.
    Materialize,
}

pub(super) fn plan(node: &Node) -> Plan {
    match node.checks.as_slice() {
        [] => return Plan::Any,
        [Check::False] => return Plan::Reject,
        [Check::Ref(target)] => return Plan::Delegate(*target),
        _ => {}
    }
    let mut required = Vec::new();
    for check in &node.checks {
        let streamable = match check {
            Check::Type(_)
            | Check::Minimum(_)
            | Check::Maximum(_)
            | Check::ExclusiveMinimum(_)
            | Check::ExclusiveMaximum(_)
            | Check::MultipleOf(_)
            | Check::MinLength(_)
            | Check::MaxLength(_)
            | Check::Pattern(_)
            | Check::Format(_)
            // Not minProperties: duplicate keys would count twice here but once in a parsed value.
            | Check::MaxProperties(_)
            | Check::Items { .. }
            | Check::MinItems(_)
            | Check::MaxItems(_) => true,
            Check::Enum(values) => values.iter().all(is_scalar),
            Check::Const(value) => is_scalar(value),
            Check::Properties { patterns, .. } => patterns.is_empty(),
            Check::Required(names) => {
                required.extend(names.iter().cloned());
                true
            }
            _ => false,
        };
        if !streamable {
            return Plan::Materialize;
        }
    }
    required.sort();
    required.dedup();
    if required.len() > 64 {
        return Plan::Materialize;
    }
    let required_mask = if required.len() == 64 { u64::MAX } else { (1u64 << required.len()) - 1 };
    let props = node.checks.iter().find_map(|c| match c {
        Check::Properties { props, .. } => Some(props.as_slice()),
        _ => None,
    });
    Plan::Visit { keys: KeyTable::new(props.unwrap_or(&[]), &required), required_mask }
}

/// Property names with their declared schema and `required` bit. Small tables are scanned by a
/// fingerprint of length, first and last byte (no hashing, no dependent loads), large ones by hash; a
/// key usually costs one string comparison.
#[derive(Debug, Default)]
pub(super) struct KeyTable {
    /// Sorted by hash.
    entries: Vec<KeyEntry>,
    /// For small tables: the fingerprint of each entry, in `entries` order.
    fingerprints: Vec<u32>,
}

/// Above this many names, lookups go by hash.
const SCAN_LIMIT: usize = 24;

fn fingerprint(key: &str) -> u32 {
    let bytes = key.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => ((bytes.len().min(0xffff) as u32) << 16) | ((*first as u32) << 8) | *last as u32,
        _ => 0,
    }
}

#[derive(Debug)]
pub(super) struct KeyEntry {
    hash: u64,
    name: String,
    pub(super) node: Option<usize>,
    required_bit: u64,
}

fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

impl KeyTable {
    pub(super) fn new(props: &[(String, usize)], required: &[String]) -> KeyTable {
        let bit = |name: &str| required.iter().position(|r| r == name).map_or(0, |i| 1u64 << i);
        let mut entries: Vec<KeyEntry> = props
            .iter()
            .map(|(name, node)| KeyEntry {
                hash: fnv1a(name),
                name: name.clone(),
                node: Some(*node),
                required_bit: bit(name),
            })
            .collect();
        for name in required {
            if !props.iter().any(|(p, _)| p == name) {
                entries.push(KeyEntry { hash: fnv1a(name), name: name.clone(), node: None, required_bit: bit(name) });
            }
        }
        entries.sort_by_key(|e| e.hash);
        let fingerprints = if entries.len() <= SCAN_LIMIT {
            entries.iter().map(|e| fingerprint(&e.name)).collect()
        } else {
            Vec::new()
        };
        KeyTable { entries, fingerprints }
    }

    pub(super) fn get(&self, key: &str) -> Option<&KeyEntry> {
        if self.entries.len() <= SCAN_LIMIT {
            let print = fingerprint(key);
            return self
                .fingerprints
                .iter()
                .zip(&self.entries)
                .find(|(p, e)| **p == print && e.name == key)
                .map(|(_, e)| e);
        }
        let hash = fnv1a(key);
        let start = self.entries.partition_point(|e| e.hash < hash);
        self.entries[start..].iter().take_while(|e| e.hash == hash).find(|e| e.name == key)
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Whether `bytes` hold one JSON document valid for `schema` (false also when unsure).
pub(super) fn quick_check(schema: &JsonSchema, bytes: &[u8]) -> bool {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Seed { schema, node: schema.root, depth: 0 }.deserialize(&mut deserializer).is_ok() && deserializer.end().is_ok()
}

fn reject<T, E: serde::de::Error>() -> Result<T, E> {
    Err(E::custom("invalid"))
}

#[derive(Clone, Copy)]
struct Seed<'s> {
    schema: &'s JsonSchema,
    node: usize,
    /// Nodes entered above this one, as the exact validator counts them: deeper than [`MAX_DEPTH`] is
    /// left to it (it refuses, and says so).
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth >= MAX_DEPTH {
            return reject();
        }
        match &self.schema.plans[self.node] {
            Plan::Any => IgnoredAny::deserialize(deserializer).map(|_| ()),
            Plan::Reject => reject(),
            Plan::Delegate(target) => {
                Seed { schema: self.schema, node: *target, depth: self.depth + 1 }.deserialize(deserializer)
            }
            Plan::Materialize => {
                let value = Value::deserialize(deserializer)?;
                match self.schema.eval::<Quick>(self.node, &value, &InstancePath::Root, self.depth) {
                    Ok(()) => Ok(()),
                    Err(()) => reject(),
                }
            }
            Plan::Visit { keys, required_mask } => deserializer.deserialize_any(NodeVisitor {
                schema: self.schema,
                node: self.node,
                depth: self.depth,
                keys,
                required_mask: *required_mask,
            }),
        }
    }
}

/// A scalar as the parser hands it over.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a str),
}

impl Scalar<'_> {
    fn bits(&self) -> u8 {
        match self {
            Scalar::Null => NULL,
            Scalar::Bool(_) => BOOLEAN,
            Scalar::Int(_) | Scalar::Uint(_) => NUMBER | INTEGER,
            Scalar::Float(f) if f.fract() == 0.0 && f.is_finite() => NUMBER | INTEGER,
            Scalar::Float(_) => NUMBER,
            Scalar::Str(_) => STRING,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Uint(u) => Some(*u as f64),
            Scalar::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// JSON equality with a scalar value (numbers by value, as `json_equal`).
    fn equals(&self, value: &Value) -> bool {
        match (self, value) {
            (Scalar::Null, Value::Null) => true,
            (Scalar::Bool(a), Value::Bool(b)) => a == b,
            (Scalar::Str(a), Value::String(b)) => a == b,
            (Scalar::Int(a), Value::Number(n)) => {
                n.as_i64().map_or_else(|| n.as_f64() == Some(*a as f64) && !n.is_u64(), |b| b == *a)
            }
            (Scalar::Uint(a), Value::Number(n)) => {
                n.as_u64().map_or_else(|| n.as_f64() == Some(*a as f64) && !n.is_i64(), |b| b == *a)
            }
            (Scalar::Float(a), Value::Number(n)) => n.as_f64() == Some(*a),
            _ => false,
        }
    }
}

struct NodeVisitor<'s> {
    schema: &'s JsonSchema,
    node: usize,
    depth: usize,
    keys: &'s KeyTable,
    required_mask: u64,
}

impl NodeVisitor<'_> {
    fn checks(&self) -> &[Check] {
        &self.schema.nodes[self.node].checks
    }

    /// Whether an array or object (`bits`) may pass this node's checks of the value as a whole. The
    /// plan streams `enum` and `const` only when their values are scalars, which no array or object
    /// equals.
    fn type_allows(&self, bits: u8) -> bool {
        self.checks().iter().all(|c| match c {
            Check::Type(allowed) => allowed & bits != 0,
            Check::Enum(_) | Check::Const(_) => false,
            _ => true,
        })
    }

    fn scalar<E: serde::de::Error>(&self, value: Scalar<'_>) -> Result<(), E> {
        let bits = value.bits();
        for check in self.checks() {
            let ok = match check {
                Check::Type(allowed) => allowed & bits != 0,
                Check::Enum(values) => values.iter().any(|v| value.equals(v)),
                Check::Const(expected) => value.equals(expected),
                Check::Minimum(min) => value.as_f64().is_none_or(|n| n >= *min),
                Check::Maximum(max) => value.as_f64().is_none_or(|n| n <= *max),
                Check::ExclusiveMinimum(min) => value.as_f64().is_none_or(|n| n > *min),
                Check::ExclusiveMaximum(max) => value.as_f64().is_none_or(|n| n < *max),
                Check::MultipleOf(m) => value.as_f64().is_none_or(|n| {
                    let q = n / m;
                    q.is_finite() && (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
                }),
                Check::MinLength(min) => match value {
                    Scalar::Str(s) => s.len() >= *min && s.chars().count() >= *min,
                    _ => true,
                },
                Check::MaxLength(max) => match value {
                    Scalar::Str(s) => s.len() <= *max || s.chars().count() <= *max,
                    _ => true,
                },
                Check::Pattern(regex) => match value {
                    Scalar::Str(s) => regex.is_match(s),
                    _ => true,
                },
                Check::Format(format) => match value {
                    Scalar::Str(s) => format.check(s),
                    _ => true,
                },
                _ => true,
            };
            if !ok {
                return reject();
            }
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for NodeVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value of the schema")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Scalar::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Scalar::Uint(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(Scalar::Float(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.type_allows(ARRAY) {
            return reject();
        }
        let (mut prefix, mut rest): (&[usize], Option<usize>) = (&[], None);
        let (mut min, mut max) = (0, usize::MAX);
        for check in self.checks() {
            match check {
                Check::Items { prefix: p, rest: r } => (prefix, rest) = (p, *r),
                Check::MinItems(n) => min = *n,
                Check::MaxItems(n) => max = *n,
                _ => {}
            }
        }
        let mut count = 0;
        loop {
            let node = prefix.get(count).copied().or(rest);
            let more = match node {
                Some(node) => {
                    seq.next_element_seed(Seed { schema: self.schema, node, depth: self.depth + 1 })?.is_some()
                }
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                break;
            }
            count += 1;
        }
        if count < min || count > max {
            return reject();
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if !self.type_allows(OBJECT) {
            return reject();
        }
        let mut additional = None;
        let mut max = usize::MAX;
        for check in self.checks() {
            match check {
                Check::Properties { additional: a, .. } => additional = *a,
                Check::MaxProperties(n) => max = *n,
                _ => {}
            }
        }
        let mut seen = 0u64;
        let mut count = 0;
        while let Some(key) = map.next_key_seed(KeySeed { keys: self.keys })? {
            count += 1;
            seen |= key.required_bit;
            match key.node.or(additional) {
                Some(node) => map.next_value_seed(Seed { schema: self.schema, node, depth: self.depth + 1 })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen & self.required_mask != self.required_mask || count > max {
            return reject();
        }
        Ok(())
    }
}

struct Key {
    node: Option<usize>,
    required_bit: u64,
}

/// Reads an object key as the schema of its declared property and its `required` bit.
struct KeySeed<'s> {
    keys: &'s KeyTable,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match self.keys.get(key) {
            Some(entry) => Key { node: entry.node, required_bit: entry.required_bit },
            None => Key { node: None, required_bit: 0 },
        })
    }
}
