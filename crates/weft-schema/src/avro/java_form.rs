//! The text Avro's Java library writes for a schema (`Schema.toString()`), which is what Confluent's
//! Schema Registry stores and answers for an Avro schema registered without `normalize`: compact,
//! `type` first, then `name` apart from `namespace` (the namespace only where it differs from the
//! enclosing one, `""` to leave one), `doc`, the members of the kind (an enum's `default` after its symbols), the custom
//! attributes, the aliases; a named type defined earlier is referred to by its name relative to the enclosing
//! namespace (Avro 1.11 `Schema.toJson`, `Name.writeName`, `Field` order: name, type, doc, default,
//! order, aliases, attributes).

use super::{AvroSchema, AvroType, FieldOrder, LogicalType, NamedKind};
use crate::json::{write_canonical, write_string};

pub(super) fn java_form(schema: &AvroSchema) -> String {
    let mut writer = Writer { schema, out: String::new(), defined: vec![false; schema.named.len()] };
    for flag in writer.defined.iter_mut().take(schema.first_own_named) {
        *flag = true;
    }
    writer.write(&schema.root, None);
    writer.out
}

struct Writer<'a> {
    schema: &'a AvroSchema,
    out: String,
    defined: Vec<bool>,
}

impl Writer<'_> {
    /// `space` is the enclosing namespace: `None` at the top, as Java's `Names` starts.
    fn write(&mut self, ty: &AvroType, space: Option<&str>) {
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
                self.write(items, space);
                self.out.push('}');
            }
            AvroType::Map(values) => {
                self.out.push_str("{\"type\":\"map\",\"values\":");
                self.write(values, space);
                self.out.push('}');
            }
            AvroType::Union(branches) => {
                self.out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.write(branch, space);
                }
                self.out.push(']');
            }
            AvroType::Named(index) => self.named(*index, space),
        }
    }

    fn primitive(&mut self, name: &str, logical: &Option<LogicalType>) {
        match logical {
            Some(logical) => {
                self.out.push_str("{\"type\":");
                write_string(name, &mut self.out);
                self.logical(logical);
                self.out.push('}');
            }
            None => write_string(name, &mut self.out),
        }
    }

    fn logical(&mut self, logical: &LogicalType) {
        self.out.push_str(",\"logicalType\":");
        write_string(logical.name(), &mut self.out);
        if let LogicalType::Decimal { precision, scale } = logical {
            self.out.push_str(&format!(",\"precision\":{precision},\"scale\":{scale}"));
        }
    }

    fn named(&mut self, index: usize, space: Option<&str>) {
        let def = &self.schema.named[index];
        let own = def.namespace().unwrap_or("");
        if self.defined[index] {
            // Java's `Name.getQualified(space)`: the short name within its own namespace.
            let name = if space.unwrap_or("") == own { def.short_name() } else { def.name.as_str() };
            write_string(name, &mut self.out);
            return;
        }
        self.defined[index] = true;
        let kind = match def.kind {
            NamedKind::Record { is_error: true, .. } => "error",
            _ => def.kind_name(),
        };
        self.out.push_str("{\"type\":");
        write_string(kind, &mut self.out);
        self.out.push_str(",\"name\":");
        write_string(def.short_name(), &mut self.out);
        match (own, space) {
            ("", None) | ("", Some("")) => {}
            ("", Some(_)) => self.out.push_str(",\"namespace\":\"\""),
            (own, space) if space != Some(own) => {
                self.out.push_str(",\"namespace\":");
                write_string(own, &mut self.out);
            }
            _ => {}
        }
        if let Some(doc) = &def.doc {
            self.out.push_str(",\"doc\":");
            write_string(doc, &mut self.out);
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
                    self.write(&field.ty, Some(own));
                    if let Some(doc) = &field.doc {
                        self.out.push_str(",\"doc\":");
                        write_string(doc, &mut self.out);
                    }
                    if let Some(default) = &field.default {
                        self.out.push_str(",\"default\":");
                        write_canonical(default, &mut self.out);
                    }
                    match field.order {
                        Some(FieldOrder::Descending) => self.out.push_str(",\"order\":\"descending\""),
                        Some(FieldOrder::Ignore) => self.out.push_str(",\"order\":\"ignore\""),
                        Some(FieldOrder::Ascending) | None => {}
                    }
                    self.aliases(&field.aliases, None);
                    self.props(&field.props);
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
                if let Some(default) = default {
                    self.out.push_str(",\"default\":");
                    write_string(default, &mut self.out);
                }
            }
            NamedKind::Fixed { size, logical } => {
                self.out.push_str(&format!(",\"size\":{size}"));
                if let Some(logical) = logical {
                    self.logical(logical);
                }
            }
        }
        self.props(&def.props);
        self.aliases(&def.aliases, Some(own));
        self.out.push('}');
    }

    /// Aliases of a named type are written relative to its namespace, as Java qualifies them.
    fn aliases(&mut self, aliases: &[String], namespace: Option<&str>) {
        if aliases.is_empty() {
            return;
        }
        self.out.push_str(",\"aliases\":[");
        for (i, alias) in aliases.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let relative = namespace
                .filter(|ns| !ns.is_empty())
                .and_then(|ns| alias.strip_prefix(ns))
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|short| !short.contains('.'));
            write_string(relative.unwrap_or(alias), &mut self.out);
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
