//! Canonical texts of an Avro schema.
//!
//! - Parsing Canonical Form (Avro spec: "Parsing Canonical Form for Schemas"): primitives as plain names,
//!   full names without namespaces, only `name, type, fields, symbols, items, values, size` in that order,
//!   no whitespace. Two schemas with the same PCF read and write the same binary data.
//! - The stored form: the same shape and order, plus what PCF strips but a schema author cares about
//!   (doc, defaults, aliases, field order, logical types, custom attributes). Registering two texts with
//!   the same stored form yields the same schema id.

use super::{AvroSchema, AvroType, FieldOrder, LogicalType, NamedKind};
use crate::json::{write_canonical, write_string};

pub(super) fn parsing_canonical_form(schema: &AvroSchema) -> String {
    let mut writer = Writer { schema, out: String::new(), defined: vec![false; schema.named.len()], full: false };
    for flag in writer.defined.iter_mut().take(schema.first_own_named) {
        *flag = true;
    }
    writer.write(&schema.root, "");
    writer.out
}

pub(super) fn stored_form(schema: &AvroSchema) -> String {
    let mut writer = Writer { schema, out: String::new(), defined: vec![false; schema.named.len()], full: true };
    for flag in writer.defined.iter_mut().take(schema.first_own_named) {
        *flag = true;
    }
    writer.write(&schema.root, "");
    writer.out
}

struct Writer<'a> {
    schema: &'a AvroSchema,
    out: String,
    defined: Vec<bool>,
    /// Whether to keep the attributes PCF strips.
    full: bool,
}

impl Writer<'_> {
    fn write(&mut self, ty: &AvroType, enclosing_namespace: &str) {
        match ty {
            AvroType::Null => self.out.push_str("\"null\""),
            AvroType::Boolean => self.out.push_str("\"boolean\""),
            AvroType::Int(logical) => self.primitive("int", logical),
            AvroType::Long(logical) => self.primitive("long", logical),
            AvroType::Float => self.out.push_str("\"float\""),
            AvroType::Double => self.out.push_str("\"double\""),
            AvroType::Bytes(logical) => self.primitive("bytes", logical),
            AvroType::String(logical) => self.primitive("string", logical),
            AvroType::Array(items) => {
                self.out.push_str("{\"type\":\"array\",\"items\":");
                self.write(items, enclosing_namespace);
                self.out.push('}');
            }
            AvroType::Map(values) => {
                self.out.push_str("{\"type\":\"map\",\"values\":");
                self.write(values, enclosing_namespace);
                self.out.push('}');
            }
            AvroType::Union(branches) => {
                self.out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.write(branch, enclosing_namespace);
                }
                self.out.push(']');
            }
            AvroType::Named(index) => self.named(*index, enclosing_namespace),
        }
    }

    fn primitive(&mut self, name: &str, logical: &Option<LogicalType>) {
        match logical {
            Some(logical) if self.full => {
                self.out.push_str("{\"type\":");
                write_string(name, &mut self.out);
                self.logical(logical);
                self.out.push('}');
            }
            _ => write_string(name, &mut self.out),
        }
    }

    fn logical(&mut self, logical: &LogicalType) {
        self.out.push_str(",\"logicalType\":");
        write_string(logical.name(), &mut self.out);
        if let LogicalType::Decimal { precision, scale } = logical {
            self.out.push_str(&format!(",\"precision\":{precision},\"scale\":{scale}"));
        }
    }

    fn named(&mut self, index: usize, enclosing_namespace: &str) {
        let def = &self.schema.named[index];
        if self.defined[index] {
            write_string(&def.name, &mut self.out);
            return;
        }
        self.defined[index] = true;
        let own_namespace = def.namespace().unwrap_or("");
        self.out.push_str("{\"name\":");
        write_string(&def.name, &mut self.out);
        if self.full && own_namespace.is_empty() && !enclosing_namespace.is_empty() {
            // A full name without a dot inside a namespaced type would otherwise inherit that namespace.
            self.out.push_str(",\"namespace\":\"\"");
        }
        self.out.push_str(",\"type\":");
        let kind = match def.kind {
            NamedKind::Record { is_error: true, .. } if self.full => "error",
            _ => def.kind_name(),
        };
        write_string(kind, &mut self.out);
        if self.full {
            if let Some(doc) = &def.doc {
                self.out.push_str(",\"doc\":");
                write_string(doc, &mut self.out);
            }
        }
        match &def.kind {
            NamedKind::Record { fields, .. } => {
                self.out.push_str(",\"fields\":[");
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.out.push_str("{\"name\":");
                    write_string(&field.name, &mut self.out);
                    self.out.push_str(",\"type\":");
                    self.write(&field.ty, own_namespace);
                    if self.full {
                        if let Some(doc) = &field.doc {
                            self.out.push_str(",\"doc\":");
                            write_string(doc, &mut self.out);
                        }
                        if let Some(default) = &field.default {
                            self.out.push_str(",\"default\":");
                            write_canonical(default, &mut self.out);
                        }
                        if let Some(order) = field.order {
                            let order = match order {
                                FieldOrder::Ascending => "ascending",
                                FieldOrder::Descending => "descending",
                                FieldOrder::Ignore => "ignore",
                            };
                            self.out.push_str(",\"order\":");
                            write_string(order, &mut self.out);
                        }
                        self.aliases(&field.aliases);
                        self.props(&field.props);
                    }
                    self.out.push('}');
                }
                self.out.push(']');
            }
            NamedKind::Enum { symbols, default } => {
                self.out.push_str(",\"symbols\":[");
                for (i, symbol) in symbols.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    write_string(symbol, &mut self.out);
                }
                self.out.push(']');
                if let (true, Some(default)) = (self.full, default) {
                    self.out.push_str(",\"default\":");
                    write_string(default, &mut self.out);
                }
            }
            NamedKind::Fixed { size, logical } => {
                self.out.push_str(&format!(",\"size\":{size}"));
                if let (true, Some(logical)) = (self.full, logical) {
                    self.logical(logical);
                }
            }
        }
        if self.full {
            let aliases = def.aliases.clone();
            self.aliases(&aliases);
            let props = def.props.clone();
            self.props(&props);
        }
        self.out.push('}');
    }

    fn aliases(&mut self, aliases: &[String]) {
        if aliases.is_empty() {
            return;
        }
        self.out.push_str(",\"aliases\":[");
        for (i, alias) in aliases.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_string(alias, &mut self.out);
        }
        self.out.push(']');
    }

    fn props(&mut self, props: &[(String, serde_json::Value)]) {
        for (key, value) in props {
            self.out.push(',');
            write_string(key, &mut self.out);
            self.out.push(':');
            write_canonical(value, &mut self.out);
        }
    }
}

/// CRC-64-AVRO (Avro spec: "Schema Fingerprints").
pub(super) fn rabin_fingerprint(bytes: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let mut table = [0u64; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut fp = i as u64;
        for _ in 0..8 {
            fp = (fp >> 1) ^ (EMPTY & (0u64.wrapping_sub(fp & 1)));
        }
        *slot = fp;
    }
    let mut fp = EMPTY;
    for &b in bytes {
        fp = (fp >> 8) ^ table[((fp ^ b as u64) & 0xff) as usize];
    }
    fp
}
