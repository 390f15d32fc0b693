//! Whether a reader schema can read data written with a writer schema (Avro spec: "Schema Resolution"),
//! reporting every incompatibility with its location, as Avro's Java `SchemaCompatibility` does. How
//! they are worded to a registry's clients is the registry's business.

use std::collections::HashSet;

use super::{AvroSchema, AvroType, NamedKind};
use crate::MAX_DEPTH;

/// The kinds of incompatibility, named as Avro's `SchemaIncompatibilityType` (and so as Confluent reports them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvroIncompatibilityKind {
    NameMismatch,
    FixedSizeMismatch,
    MissingEnumSymbols,
    ReaderFieldMissingDefaultValue,
    TypeMismatch,
    MissingUnionBranch,
}

impl AvroIncompatibilityKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            AvroIncompatibilityKind::NameMismatch => "NAME_MISMATCH",
            AvroIncompatibilityKind::FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
            AvroIncompatibilityKind::MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
            AvroIncompatibilityKind::ReaderFieldMissingDefaultValue => "READER_FIELD_MISSING_DEFAULT_VALUE",
            AvroIncompatibilityKind::TypeMismatch => "TYPE_MISMATCH",
            AvroIncompatibilityKind::MissingUnionBranch => "MISSING_UNION_BRANCH",
        }
    }
}

/// One reason a reader cannot read a writer's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvroIncompatibility {
    pub kind: AvroIncompatibilityKind,
    /// Location in the reader schema, as Avro reports it (e.g. `/fields/1/type/symbols`).
    pub path: String,
    /// The field name, missing symbols or types involved.
    pub detail: String,
}

pub(super) fn check(reader: &AvroSchema, writer: &AvroSchema) -> Vec<AvroIncompatibility> {
    let mut checker = Checker {
        reader,
        writer,
        in_progress: HashSet::new(),
        known_compatible: HashSet::new(),
        path: Vec::new(),
        found: Vec::new(),
        depth: 0,
    };
    checker.check(&reader.root, &writer.root);
    checker.found
}

struct Checker<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    /// Pairs of named types being compared: a recursive type is compatible with itself by induction.
    in_progress: HashSet<(usize, usize)>,
    /// Pairs of named types already found compatible, so shared types are compared once.
    known_compatible: HashSet<(usize, usize)>,
    path: Vec<String>,
    found: Vec<AvroIncompatibility>,
    /// Comparisons in progress, one inside the other (named types referring to others nest them).
    depth: usize,
}

impl Checker<'_> {
    fn report(&mut self, kind: AvroIncompatibilityKind, detail: String) {
        let mut path = String::from("/");
        path.push_str(&self.path.join("/"));
        self.found.push(AvroIncompatibility { kind, path, detail });
    }

    fn at<T>(&mut self, segments: &[&str], f: impl FnOnce(&mut Self) -> T) -> T {
        let depth = self.path.len();
        self.path.extend(segments.iter().map(|s| s.to_string()));
        let result = f(self);
        self.path.truncate(depth);
        result
    }

    /// Whether the pair is compatible, without reporting (for choosing union branches).
    fn compatible(&mut self, reader: &AvroType, writer: &AvroType) -> bool {
        let before = self.found.len();
        let path = std::mem::take(&mut self.path);
        self.check(reader, writer);
        self.path = path;
        let ok = self.found.len() == before;
        self.found.truncate(before);
        ok
    }

    /// Whether some branch of a reader union reads the writer's type. Only branches that can match are
    /// compared (Avro spec: the same named type, else the same kind, else a promotion), in order.
    fn union_reads(&mut self, reader_branches: &[AvroType], writer: &AvroType) -> bool {
        use AvroType as T;
        reader_branches.iter().any(|r| {
            let candidate = match (r, writer) {
                (T::Named(ri), T::Named(wi)) => {
                    let (rn, wn) = (self.reader.named_type(*ri), self.writer.named_type(*wi));
                    rn.kind_name() == wn.kind_name()
                        && (rn.short_name() == wn.short_name() || rn.aliases.contains(&wn.name))
                }
                (T::Named(_), _) | (_, T::Named(_)) => false,
                (T::Long(_), T::Int(_)) | (T::Float, T::Int(_) | T::Long(_)) => true,
                (T::Double, T::Int(_) | T::Long(_) | T::Float) => true,
                (T::Bytes(_), T::String(_)) | (T::String(_), T::Bytes(_)) => true,
                (r, w) => std::mem::discriminant(r) == std::mem::discriminant(w),
            };
            candidate && self.compatible(r, writer)
        })
    }

    fn check(&mut self, reader: &AvroType, writer: &AvroType) {
        // Types nest only as deep as the parser allows, but named types chain them without end:
        // stay off the stack's edge.
        if self.depth >= MAX_DEPTH {
            self.report(
                AvroIncompatibilityKind::TypeMismatch,
                format!("the schemas nest too deeply to compare (deeper than {MAX_DEPTH} levels)"),
            );
            return;
        }
        self.depth += 1;
        self.check_types(reader, writer);
        self.depth -= 1;
    }

    fn check_types(&mut self, reader: &AvroType, writer: &AvroType) {
        use AvroType as T;
        // A writer union is readable when every branch it may have written is.
        if let T::Union(writer_branches) = writer {
            if let T::Union(reader_branches) = reader {
                for (i, branch) in writer_branches.iter().enumerate() {
                    if !self.union_reads(reader_branches, branch) {
                        let name = self.writer.type_name(branch).to_string();
                        self.at(&[&i.to_string()], |c| {
                            c.report(
                                AvroIncompatibilityKind::MissingUnionBranch,
                                format!("reader union lacking writer type: {}", name.to_uppercase()),
                            )
                        });
                    }
                }
            } else {
                for (i, branch) in writer_branches.iter().enumerate() {
                    if !self.compatible(reader, branch) {
                        let name = self.writer.type_name(branch).to_string();
                        let reader_name = self.reader.type_name(reader).to_string();
                        self.at(&[&i.to_string()], |c| {
                            c.report(
                                AvroIncompatibilityKind::TypeMismatch,
                                format!(
                                    "reader type: {} not compatible with writer type: {}",
                                    reader_name.to_uppercase(),
                                    name.to_uppercase()
                                ),
                            )
                        });
                    }
                }
            }
            return;
        }
        match (reader, writer) {
            (T::Null, T::Null) | (T::Boolean, T::Boolean) => {}
            (T::Int(_), T::Int(_)) => {}
            (T::Long(_), T::Int(_) | T::Long(_)) => {}
            (T::Float, T::Int(_) | T::Long(_) | T::Float) => {}
            (T::Double, T::Int(_) | T::Long(_) | T::Float | T::Double) => {}
            (T::Bytes(_), T::Bytes(_) | T::String(_)) => {}
            (T::String(_), T::String(_) | T::Bytes(_)) => {}
            (T::Array(r), T::Array(w)) => self.at(&["items"], |c| c.check(r, w)),
            (T::Map(r), T::Map(w)) => self.at(&["values"], |c| c.check(r, w)),
            (T::Union(branches), w) => {
                if !self.union_reads(branches, w) {
                    let name = self.writer.type_name(w).to_uppercase();
                    self.report(
                        AvroIncompatibilityKind::MissingUnionBranch,
                        format!("reader union lacking writer type: {name}"),
                    );
                }
            }
            (T::Named(r), T::Named(w)) => self.check_named(*r, *w),
            (r, w) => {
                let detail = format!(
                    "reader type: {} not compatible with writer type: {}",
                    self.reader.type_name(r).to_uppercase(),
                    self.writer.type_name(w).to_uppercase()
                );
                self.report(AvroIncompatibilityKind::TypeMismatch, detail);
            }
        }
    }

    fn check_named(&mut self, r: usize, w: usize) {
        if self.known_compatible.contains(&(r, w)) || !self.in_progress.insert((r, w)) {
            return;
        }
        let reported_before = self.found.len();
        let reader = self.reader.named_type(r);
        let writer = self.writer.named_type(w);
        // As Avro's Java `SchemaCompatibility` (and so Confluent): the unqualified names are equal, or a
        // reader alias is the writer's full name. Moving a type to another namespace stays compatible.
        let names_match = reader.short_name() == writer.short_name() || reader.aliases.contains(&writer.name);
        match (&reader.kind, &writer.kind) {
            (NamedKind::Record { fields: reader_fields, .. }, NamedKind::Record { .. }) => {
                if !names_match {
                    let detail = format!("expected: {}", writer.name);
                    self.at(&["name"], |c| c.report(AvroIncompatibilityKind::NameMismatch, detail));
                }
                for (i, field) in reader_fields.iter().enumerate() {
                    // Avro spec: a writer field of the reader field's name, else of one of its aliases.
                    let writer_field = writer
                        .field(&field.name)
                        .or_else(|| field.aliases.iter().find_map(|alias| writer.field(alias)))
                        .map(|(_, wf)| wf);
                    match writer_field {
                        Some(wf) => self.at(&["fields", &i.to_string(), "type"], |c| c.check(&field.ty, &wf.ty)),
                        None if field.default.is_some() => {}
                        None => {
                            let name = field.name.clone();
                            self.at(&["fields", &i.to_string()], |c| {
                                c.report(AvroIncompatibilityKind::ReaderFieldMissingDefaultValue, name)
                            })
                        }
                    }
                }
            }
            (NamedKind::Enum { default, .. }, NamedKind::Enum { symbols: writer_symbols, .. }) => {
                if !names_match {
                    let detail = format!("expected: {}", writer.name);
                    self.at(&["name"], |c| c.report(AvroIncompatibilityKind::NameMismatch, detail));
                }
                let missing: Vec<&String> = writer_symbols.iter().filter(|s| reader.symbol(s).is_none()).collect();
                // Avro 1.9+: a reader enum default stands in for symbols it does not know.
                if !missing.is_empty() && default.is_none() {
                    let detail = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                    self.at(&["symbols"], |c| {
                        c.report(AvroIncompatibilityKind::MissingEnumSymbols, format!("[{detail}]"))
                    });
                }
            }
            (NamedKind::Fixed { size: reader_size, .. }, NamedKind::Fixed { size: writer_size, .. }) => {
                if !names_match {
                    let detail = format!("expected: {}", writer.name);
                    self.at(&["name"], |c| c.report(AvroIncompatibilityKind::NameMismatch, detail));
                }
                if reader_size != writer_size {
                    let detail = format!("expected: {writer_size}, found: {reader_size}");
                    self.at(&["size"], |c| c.report(AvroIncompatibilityKind::FixedSizeMismatch, detail));
                }
            }
            _ => {
                let detail = format!(
                    "reader type: {} not compatible with writer type: {}",
                    reader.kind_name().to_uppercase(),
                    writer.kind_name().to_uppercase()
                );
                self.report(AvroIncompatibilityKind::TypeMismatch, detail);
            }
        }
        self.in_progress.remove(&(r, w));
        // Remembered only when no enclosing comparison was assumed compatible along the way.
        if self.found.len() == reported_before && self.in_progress.is_empty() {
            self.known_compatible.insert((r, w));
        }
    }
}
