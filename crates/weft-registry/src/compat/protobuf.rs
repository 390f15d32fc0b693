//! Protobuf compatibility, by Confluent's rules (its `ProtobufSchema` checker, `SchemaDiff`): the
//! writer's file (the *original*) is compared with the reader's (the *update*) message by message,
//! fields by number, and only the differences Confluent counts as incompatible are returned.
//!
//! Compatible, so never reported: added or removed messages' *moves*, enums and their constants,
//! added and removed optional fields, renamed fields, `string` and `bytes` swapped, added and
//! removed oneofs, fields added to a oneof, one field moved into a new oneof. Incompatible: a changed
//! package, a removed message, a field number reused with another kind (scalar, message, map) or
//! scalar group (the wire types of the Protobuf language guide: `int32`/`int64`/`uint32`/`uint64`/
//! `bool`/enums, `sint32`/`sint64`, `string`/`bytes`, `fixed32`/`sfixed32`, `fixed64`/`sfixed64`,
//! `float`, `double`) or another message type, a required field added or removed, a field removed
//! from a oneof, several fields moved into one oneof, a field moved into a oneof that already had
//! fields.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use weft_schema::protobuf::prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};
use weft_schema::protobuf::ProtobufSchema;
use weft_schema::MAX_DEPTH;

/// The kind of an incompatible difference, named as Confluent's Protobuf `Difference.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtobufChange {
    PackageChanged,
    MessageRemoved,
    FieldKindChanged,
    FieldScalarKindChanged,
    FieldNamedTypeChanged,
    RequiredFieldAdded,
    RequiredFieldRemoved,
    OneofFieldRemoved,
    MultipleFieldsMovedToOneof,
    FieldMovedToExistingOneof,
}

impl ProtobufChange {
    pub fn as_str(&self) -> &'static str {
        use ProtobufChange::*;
        match self {
            PackageChanged => "PACKAGE_CHANGED",
            MessageRemoved => "MESSAGE_REMOVED",
            FieldKindChanged => "FIELD_KIND_CHANGED",
            FieldScalarKindChanged => "FIELD_SCALAR_KIND_CHANGED",
            FieldNamedTypeChanged => "FIELD_NAMED_TYPE_CHANGED",
            RequiredFieldAdded => "REQUIRED_FIELD_ADDED",
            RequiredFieldRemoved => "REQUIRED_FIELD_REMOVED",
            OneofFieldRemoved => "ONEOF_FIELD_REMOVED",
            MultipleFieldsMovedToOneof => "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
            FieldMovedToExistingOneof => "FIELD_MOVED_TO_EXISTING_ONEOF",
        }
    }
}

/// One incompatible difference: what changed, where (Confluent's path: `#/` then message names,
/// oneof names and field numbers) and the two sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtobufIncompatibility {
    pub change: ProtobufChange,
    pub path: String,
    /// What the writer's schema has there.
    pub writer: String,
    /// What the reader's schema has there.
    pub reader: String,
}

impl ProtobufIncompatibility {
    /// The description Weft answers with, naming the schemas `reader_label` and `writer_label`.
    pub fn describe(&self, reader_label: &str, writer_label: &str) -> String {
        use ProtobufChange::*;
        let (path, w, r) = (&self.path, &self.writer, &self.reader);
        match self.change {
            PackageChanged => format!("The package changed from '{w}' in the {writer_label} schema to '{r}' in the {reader_label} schema"),
            MessageRemoved => format!("The message '{w}' at '{path}' in the {writer_label} schema is missing in the {reader_label} schema"),
            FieldKindChanged => format!("The field at '{path}' is {w} in the {writer_label} schema and {r} in the {reader_label} schema"),
            FieldScalarKindChanged => format!("The field at '{path}' is of type {w} in the {writer_label} schema and {r} in the {reader_label} schema, which are not wire-compatible"),
            FieldNamedTypeChanged => format!("The field at '{path}' is of message type '{w}' in the {writer_label} schema and '{r}' in the {reader_label} schema"),
            RequiredFieldAdded => format!("The required field '{r}' at '{path}' in the {reader_label} schema is missing in the {writer_label} schema"),
            RequiredFieldRemoved => format!("The required field '{w}' at '{path}' in the {writer_label} schema is missing in the {reader_label} schema"),
            OneofFieldRemoved => format!("The field '{w}' at '{path}' of a oneof in the {writer_label} schema is missing in the {reader_label} schema"),
            MultipleFieldsMovedToOneof => format!("The fields {w} of the {writer_label} schema are in one oneof '{r}' at '{path}' in the {reader_label} schema"),
            FieldMovedToExistingOneof => format!("The field {w} of the {writer_label} schema moved into the oneof '{r}' at '{path}' of the {reader_label} schema, which had fields already"),
        }
    }
}

/// Every incompatible difference between what `writer` wrote and what `reader` reads.
pub fn incompatibilities(reader: &ProtobufSchema, writer: &ProtobufSchema) -> Vec<ProtobufIncompatibility> {
    let mut ctx = Context::default();
    let (original, update) = (writer.file(), reader.file());
    if original.package_name() != update.package_name() {
        ctx.add(ProtobufChange::PackageChanged, original.package_name(), update.package_name());
    }
    compare_messages(&mut ctx, original.messages().collect(), update.messages().collect());
    ctx.found
}

#[derive(Default)]
struct Context {
    path: Vec<String>,
    /// The (writer, reader) message pairs being compared: a recursive message is compared once.
    open: HashSet<(String, String)>,
    found: Vec<ProtobufIncompatibility>,
}

impl Context {
    fn add(&mut self, change: ProtobufChange, writer: impl Into<String>, reader: impl Into<String>) {
        let path = format!("#/{}", self.path.join("/"));
        self.found.push(ProtobufIncompatibility { change, path, writer: writer.into(), reader: reader.into() });
    }

    fn scoped<T>(&mut self, segment: impl ToString, f: impl FnOnce(&mut Context) -> T) -> T {
        self.path.push(segment.to_string());
        let out = f(self);
        self.path.pop();
        out
    }
}

/// Messages of one scope (a file's top level, or a message's nested ones) matched by name; map
/// entries are the fields' business, not messages of their own.
fn compare_messages(ctx: &mut Context, original: Vec<MessageDescriptor>, update: Vec<MessageDescriptor>) {
    let by_name = |list: Vec<MessageDescriptor>| -> BTreeMap<String, MessageDescriptor> {
        list.into_iter().filter(|m| !m.is_map_entry()).map(|m| (m.name().to_string(), m)).collect()
    };
    let (original, mut update) = (by_name(original), by_name(update));
    for (name, o) in original {
        ctx.scoped(&name, |ctx| match update.remove(&name) {
            None => ctx.add(ProtobufChange::MessageRemoved, o.full_name(), ""),
            Some(u) => compare_message(ctx, &o, &u),
        });
    }
}

fn real_oneof(field: &FieldDescriptor) -> Option<String> {
    field.containing_oneof().filter(|o| !o.is_synthetic()).map(|o| o.name().to_string())
}

fn compare_message(ctx: &mut Context, original: &MessageDescriptor, update: &MessageDescriptor) {
    let pair = (original.full_name().to_string(), update.full_name().to_string());
    if ctx.path.len() <= MAX_DEPTH && ctx.open.insert(pair.clone()) {
        compare_fields(ctx, original, update);
        ctx.open.remove(&pair);
    }
    compare_messages(ctx, original.child_messages().collect(), update.child_messages().collect());
}

fn compare_fields(ctx: &mut Context, original: &MessageDescriptor, update: &MessageDescriptor) {
    // Fields outside oneofs, by number; oneofs by name, their fields by number.
    let mut original_top: BTreeMap<u32, FieldDescriptor> = BTreeMap::new();
    let mut update_top: BTreeMap<u32, FieldDescriptor> = BTreeMap::new();
    let mut original_oneofs: BTreeMap<String, BTreeMap<u32, FieldDescriptor>> = BTreeMap::new();
    let mut update_oneofs: BTreeMap<String, BTreeMap<u32, FieldDescriptor>> = BTreeMap::new();
    for f in original.fields() {
        match real_oneof(&f) {
            Some(o) => original_oneofs.entry(o).or_default().insert(f.number(), f),
            None => original_top.insert(f.number(), f),
        };
    }
    for f in update.fields() {
        match real_oneof(&f) {
            Some(o) => update_oneofs.entry(o).or_default().insert(f.number(), f),
            None => update_top.insert(f.number(), f),
        };
    }
    let original_in_oneofs: BTreeSet<u32> = original_oneofs.values().flat_map(|m| m.keys().copied()).collect();
    let update_all: BTreeSet<u32> = update.fields().map(|f| f.number()).collect();

    // Fields moved into a oneof: one is fine (its data keeps its meaning), several are not (the
    // reader keeps only the last of them), nor is one joining fields that were a oneof already.
    let unmoved_original_top = original_top.clone();
    for (name, fields) in &update_oneofs {
        let moved: Vec<String> =
            fields.keys().filter(|n| original_top.remove(n).is_some()).map(|n| n.to_string()).collect();
        let existing = fields.keys().filter(|n| original_in_oneofs.contains(n)).count();
        ctx.scoped(name, |ctx| {
            if moved.len() > 1 {
                ctx.add(ProtobufChange::MultipleFieldsMovedToOneof, moved.join(", "), name.clone());
            } else if moved.len() == 1 && existing > 0 {
                ctx.add(ProtobufChange::FieldMovedToExistingOneof, moved.join(""), name.clone());
            }
        });
    }
    for (name, o_fields) in &original_oneofs {
        let Some(u_fields) = update_oneofs.get(name) else { continue };
        ctx.scoped(name, |ctx| {
            for (number, o) in o_fields {
                ctx.scoped(number, |ctx| match u_fields.get(number) {
                    None if !update_all.contains(number) => {
                        ctx.add(ProtobufChange::OneofFieldRemoved, o.name(), "");
                    }
                    None => {}
                    Some(u) => compare_field(ctx, o, u),
                });
            }
        });
    }
    let numbers: BTreeSet<u32> = original_top.keys().chain(update_top.keys()).copied().collect();
    for number in numbers {
        ctx.scoped(number, |ctx| match (original_top.get(&number), update_top.get(&number)) {
            (Some(o), None) if o.cardinality() == Cardinality::Required => {
                ctx.add(ProtobufChange::RequiredFieldRemoved, o.name(), "");
            }
            (None, Some(u)) if u.cardinality() == Cardinality::Required => {
                ctx.add(ProtobufChange::RequiredFieldAdded, "", u.name());
            }
            (Some(o), Some(u)) => compare_field(ctx, o, u),
            _ => {}
        });
    }
    // Fields whose oneof changed (moved in, out, or between oneofs) are compared by number too.
    let oneof_of =
        |top: &BTreeMap<u32, FieldDescriptor>, oneofs: &BTreeMap<String, BTreeMap<u32, FieldDescriptor>>, n: u32| {
            if top.contains_key(&n) {
                return Some((None, top[&n].clone()));
            }
            oneofs.iter().find_map(|(name, fields)| fields.get(&n).map(|f| (Some(name.clone()), f.clone())))
        };
    for number in update_all {
        let Some((o_oneof, o)) = oneof_of(&unmoved_original_top, &original_oneofs, number) else { continue };
        let Some((u_oneof, u)) = oneof_of(&update_top, &update_oneofs, number) else { continue };
        if o_oneof != u_oneof {
            ctx.scoped(number, |ctx| compare_field(ctx, &o, &u));
        }
    }
}

/// What a field's values are, as Confluent compares them.
enum FieldKind {
    Scalar(&'static str, ScalarGroup),
    Message(MessageDescriptor),
    Map(FieldDescriptor, FieldDescriptor),
}

/// The groups of scalars that read each other's bytes (the Protobuf language guide, "Updating A
/// Message Type"), as Confluent groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarGroup {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

fn kind_of(field: &FieldDescriptor) -> FieldKind {
    use ScalarGroup::*;
    if field.is_map() {
        if let Kind::Message(entry) = field.kind() {
            return FieldKind::Map(entry.map_entry_key_field(), entry.map_entry_value_field());
        }
    }
    let (name, group) = match field.kind() {
        Kind::Message(m) => return FieldKind::Message(m),
        Kind::Enum(_) => ("an enum", GeneralNumber),
        Kind::Int32 => ("int32", GeneralNumber),
        Kind::Int64 => ("int64", GeneralNumber),
        Kind::Uint32 => ("uint32", GeneralNumber),
        Kind::Uint64 => ("uint64", GeneralNumber),
        Kind::Bool => ("bool", GeneralNumber),
        Kind::Sint32 => ("sint32", SignedNumber),
        Kind::Sint64 => ("sint64", SignedNumber),
        Kind::String => ("string", StringOrBytes),
        Kind::Bytes => ("bytes", StringOrBytes),
        Kind::Fixed32 => ("fixed32", Fixed32),
        Kind::Sfixed32 => ("sfixed32", Fixed32),
        Kind::Fixed64 => ("fixed64", Fixed64),
        Kind::Sfixed64 => ("sfixed64", Fixed64),
        Kind::Float => ("float", Float),
        Kind::Double => ("double", Double),
    };
    FieldKind::Scalar(name, group)
}

fn kind_name(kind: &FieldKind) -> String {
    match kind {
        FieldKind::Scalar(name, _) => format!("a scalar ({name})"),
        FieldKind::Message(m) => format!("a message ({})", m.full_name()),
        FieldKind::Map(..) => "a map".to_string(),
    }
}

fn compare_field(ctx: &mut Context, original: &FieldDescriptor, update: &FieldDescriptor) {
    compare_kinds(ctx, kind_of(original), kind_of(update));
}

fn compare_kinds(ctx: &mut Context, original: FieldKind, update: FieldKind) {
    match (&original, &update) {
        (FieldKind::Scalar(o, og), FieldKind::Scalar(u, ug)) => {
            if og != ug {
                ctx.add(ProtobufChange::FieldScalarKindChanged, *o, *u);
            }
        }
        (FieldKind::Map(ok, ov), FieldKind::Map(uk, uv)) => {
            compare_kinds(ctx, kind_of(ok), kind_of(uk));
            compare_kinds(ctx, kind_of(ov), kind_of(uv));
        }
        (FieldKind::Message(o), FieldKind::Message(u)) => compare_message_types(ctx, o, u),
        _ => ctx.add(ProtobufChange::FieldKindChanged, kind_name(&original), kind_name(&update)),
    }
}

/// Message-typed fields: the same name within their packages, and the two messages compatible.
fn compare_message_types(ctx: &mut Context, original: &MessageDescriptor, update: &MessageDescriptor) {
    let local = |m: &MessageDescriptor| {
        let package = m.package_name();
        m.full_name().strip_prefix(&format!("{package}.")).unwrap_or(m.full_name()).to_string()
    };
    if local(original) != local(update) {
        ctx.add(ProtobufChange::FieldNamedTypeChanged, original.full_name(), update.full_name());
        return;
    }
    let before = ctx.found.len();
    let saved = std::mem::replace(&mut ctx.path, vec![local(original)]);
    if ctx.open.len() <= MAX_DEPTH {
        compare_message(ctx, original, update);
    }
    ctx.path = saved;
    if ctx.found.len() > before {
        ctx.add(ProtobufChange::FieldNamedTypeChanged, original.full_name(), update.full_name());
    }
}
