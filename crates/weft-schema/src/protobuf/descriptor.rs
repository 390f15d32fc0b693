//! Protobuf schemas sent as Confluent's Python and .NET serializers send them: the base64 of a
//! serialized `FileDescriptorProto` instead of `.proto` text. Confluent's registry tries the text
//! first and then the descriptor, and keeps `.proto` text either way; so does Weft, by printing the
//! descriptor as `.proto` text here and compiling that text like any other. Everything downstream
//! (canonical text, compatibility, SQL) sees text only.
//!
//! The printer writes what a `FileDescriptorProto` can say in proto2 and proto3 text: syntax, package,
//! imports (`public`, `weak`), every option `descriptor.proto` itself defines for files (`java_package`,
//! `go_package`, `optimize_for`, ...), messages, fields (`packed`, `deprecated`, `ctype`, `jstype`,
//! ...), enums (`allow_alias`), enum values, services and methods (`idempotency_level`), nested
//! messages and enums, labels (proto3 `optional` through its synthetic oneof), map fields (their
//! generated entry type printed as `map<K, V>`), oneofs, proto2 defaults, `json_name` when it is not
//! the default, extension ranges, reserved ranges and names, and streaming methods. Type names are
//! printed as the descriptor holds them (protoc writes them fully qualified, with a leading dot).
//! Nested messages and map fields are interleaved so that the compiled file lists nested types in
//! the descriptor's order: Confluent's message indexes count them, map entries included. Comments
//! (`source_code_info`) are not printed.
//!
//! Refused, with the element named: editions, extensions (`extend`), groups, custom options
//! (uninterpreted, or as unknown fields of an options message: printing would drop them silently),
//! and names that are not identifiers (a name is printed into the text, where anything else could
//! declare what the descriptor does not).

use base64::Engine;
use prost_reflect::prost::Message;
use prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
use prost_reflect::prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
};

use super::ProtobufError;

/// One past the largest field number (`max` in a range).
const FIELD_NUMBER_END: i32 = 536_870_912;

/// True when `text` can only be a base64 descriptor: every `.proto` file that declares a message
/// holds a `{`, which base64 never does, so the two forms cannot be confused.
pub(super) fn is_base64(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The `.proto` text of a base64 `FileDescriptorProto`; `file` names a reference in errors.
pub(super) fn to_proto_text(text: &str, file: Option<&str>) -> Result<String, ProtobufError> {
    let error = |reason: String| ProtobufError::Descriptor { file: file.map(str::to_string), reason };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| error(format!("it is not valid base64 ({e})")))?;
    let descriptor = FileDescriptorProto::decode(bytes.as_slice())
        .map_err(|e| error(format!("the bytes are not a FileDescriptorProto ({e})")))?;
    // prost skips fields it does not know; what it skipped are custom options, editions features or
    // newer descriptor fields, which printing would drop without a word.
    let known = descriptor.encoded_len();
    if known != bytes.len() {
        return Err(error(format!(
            "{} of its {} bytes are fields Weft does not read (custom options such as (confluent.field_meta), \
             editions features or newer descriptor fields); they would be lost",
            bytes.len().abs_diff(known),
            bytes.len()
        )));
    }
    print(&descriptor).map_err(error)
}

/// Prints a descriptor as `.proto` text; the error names the element that cannot be printed.
pub(super) fn print(file: &FileDescriptorProto) -> Result<String, String> {
    let mut out = Printer { text: String::new(), proto3: false };
    out.file(file)?;
    Ok(out.text)
}

struct Printer {
    text: String,
    proto3: bool,
}

impl Printer {
    fn line(&mut self, depth: usize, line: &str) {
        for _ in 0..depth {
            self.text.push_str("  ");
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn file(&mut self, file: &FileDescriptorProto) -> Result<(), String> {
        match file.syntax.as_deref() {
            None | Some("") | Some("proto2") => self.line(0, "syntax = \"proto2\";"),
            Some("proto3") => {
                self.proto3 = true;
                self.line(0, "syntax = \"proto3\";");
            }
            Some("editions") => {
                return Err("editions (syntax = \"editions\") are not supported; use proto2 or proto3".into())
            }
            Some(other) => return Err(format!("unknown syntax '{other}'")),
        }
        let package = file.package();
        if !package.is_empty() {
            check_dotted(package, || "the package".into())?;
            self.line(0, &format!("package {package};"));
        }
        for (i, dependency) in file.dependency.iter().enumerate() {
            let index = i32::try_from(i).unwrap_or(i32::MAX);
            let kind = if file.public_dependency.contains(&index) {
                "public "
            } else if file.weak_dependency.contains(&index) {
                "weak "
            } else {
                ""
            };
            self.line(0, &format!("import {kind}{};", quote(dependency)));
        }
        for index in file.public_dependency.iter().chain(&file.weak_dependency) {
            if usize::try_from(*index).map_or(true, |i| i >= file.dependency.len()) {
                return Err(format!("public or weak dependency {index} names no import"));
            }
        }
        if let Some(field) = file.extension.first() {
            return Err(format!(
                "extensions are not supported: field '{}' extends '{}'",
                field.name(),
                field.extendee()
            ));
        }
        if let Some(options) = &file.options {
            no_custom_options(&options.uninterpreted_option, || "the file options".into())?;
            let strings = [
                ("java_package", &options.java_package),
                ("java_outer_classname", &options.java_outer_classname),
                ("go_package", &options.go_package),
                ("objc_class_prefix", &options.objc_class_prefix),
                ("csharp_namespace", &options.csharp_namespace),
                ("swift_prefix", &options.swift_prefix),
                ("php_class_prefix", &options.php_class_prefix),
                ("php_namespace", &options.php_namespace),
                ("php_metadata_namespace", &options.php_metadata_namespace),
                ("ruby_package", &options.ruby_package),
            ];
            for (name, value) in strings {
                if let Some(value) = value {
                    self.line(0, &format!("option {name} = {};", quote(value)));
                }
            }
            // Deprecated in descriptor.proto, still accepted by protoc: a file that sets it keeps it.
            #[allow(deprecated)]
            let flags = [
                ("java_multiple_files", options.java_multiple_files),
                ("java_generate_equals_and_hash", options.java_generate_equals_and_hash),
                ("java_string_check_utf8", options.java_string_check_utf8),
                ("cc_generic_services", options.cc_generic_services),
                ("java_generic_services", options.java_generic_services),
                ("py_generic_services", options.py_generic_services),
                ("php_generic_services", options.php_generic_services),
                ("deprecated", options.deprecated),
                ("cc_enable_arenas", options.cc_enable_arenas),
            ];
            self.flags(0, &flags);
            if let Some(mode) = options.optimize_for {
                let mode = match mode {
                    1 => "SPEED",
                    2 => "CODE_SIZE",
                    3 => "LITE_RUNTIME",
                    other => return Err(format!("the file option optimize_for has no mode {other}")),
                };
                self.line(0, &format!("option optimize_for = {mode};"));
            }
        }
        let scope = if package.is_empty() { String::new() } else { format!("{package}.") };
        for message in &file.message_type {
            self.message(0, &scope, message)?;
        }
        for e in &file.enum_type {
            self.enumeration(0, &scope, e)?;
        }
        for service in &file.service {
            self.service(&scope, service)?;
        }
        Ok(())
    }

    fn flags(&mut self, depth: usize, flags: &[(&str, Option<bool>)]) {
        for (name, value) in flags {
            if let Some(value) = value {
                self.line(depth, &format!("option {name} = {value};"));
            }
        }
    }

    fn message(&mut self, depth: usize, scope: &str, message: &DescriptorProto) -> Result<(), String> {
        let name = message.name();
        let full = format!("{scope}{name}");
        check_identifier(name, || format!("message '{full}'"))?;
        let at = |what: String| format!("message '{full}': {what}");
        if let Some(field) = message.extension.first() {
            return Err(at(format!(
                "extensions are not supported: field '{}' extends '{}'",
                field.name(),
                field.extendee()
            )));
        }
        self.line(depth, &format!("message {name} {{"));
        let inner = depth + 1;
        if let Some(options) = &message.options {
            no_custom_options(&options.uninterpreted_option, || at("its options".into()))?;
            if options.map_entry == Some(true) {
                return Err(at("a map entry type is only printed as the map field that uses it".into()));
            }
            self.flags(
                inner,
                &[
                    ("message_set_wire_format", options.message_set_wire_format),
                    ("no_standard_descriptor_accessor", options.no_standard_descriptor_accessor),
                    ("deprecated", options.deprecated),
                ],
            );
        }
        let nested_scope = format!("{full}.");
        let mut body = Body::new(full.clone(), message);
        if let Some(empty) = (0..message.oneof_decl.len()).find(|i| !body.has_members(*i)) {
            return Err(at(format!("oneof '{}' has no fields", message.oneof_decl[empty].name())));
        }
        let mut fields = message.field.iter();
        // Nested messages in the descriptor's order; a map entry's place is taken by the fields up to
        // the map field that generates it.
        for (i, nested) in message.nested_type.iter().enumerate() {
            if body.entries[i].is_none() {
                self.message(inner, &nested_scope, nested)?;
                continue;
            }
            for field in fields.by_ref() {
                self.field_or_oneof(inner, &mut body, field)?;
                if body.entry_of(field) == Some(i) {
                    break;
                }
            }
        }
        for field in fields {
            self.field_or_oneof(inner, &mut body, field)?;
        }
        if let Some(i) = (0..body.entries.len()).find(|i| body.entries[*i].is_some() && !body.used_entries[*i]) {
            return Err(at(format!("the map entry type '{}' is used by no map field", message.nested_type[i].name())));
        }
        for e in &message.enum_type {
            self.enumeration(inner, &nested_scope, e)?;
        }
        for range in &message.extension_range {
            if range.options.as_ref().is_some_and(|o| !o.uninterpreted_option.is_empty()) {
                return Err(at("extension range options are not supported".into()));
            }
            self.line(
                inner,
                &format!(
                    "extensions {};",
                    range_text(range.start(), range.end().saturating_sub(1), FIELD_NUMBER_END - 1)
                ),
            );
        }
        if !message.reserved_range.is_empty() {
            let ranges: Vec<String> = message
                .reserved_range
                .iter()
                .map(|r| range_text(r.start(), r.end().saturating_sub(1), FIELD_NUMBER_END - 1))
                .collect();
            self.line(inner, &format!("reserved {};", ranges.join(", ")));
        }
        self.reserved_names(inner, &message.reserved_name, &at)?;
        self.line(depth, "}");
        Ok(())
    }

    /// A field, or the whole oneof it is the first printed member of.
    fn field_or_oneof(
        &mut self,
        depth: usize,
        body: &mut Body<'_>,
        field: &FieldDescriptorProto,
    ) -> Result<(), String> {
        let full = body.full.as_str();
        let oneof = field.oneof_index.and_then(|i| usize::try_from(i).ok());
        if field.oneof_index.is_some() && oneof.is_none_or(|i| i >= body.message.oneof_decl.len()) {
            return Err(format!(
                "message '{full}': field '{}' names oneof {} which does not exist",
                field.name(),
                field.oneof_index()
            ));
        }
        match oneof.filter(|i| body.real_oneof[*i]) {
            None => {
                let entry = body.entry_of(field);
                if let Some(i) = entry {
                    body.used_entries[i] = true;
                }
                self.field(depth, full, field, false, entry.and_then(|i| body.entries[i]))
            }
            Some(i) if body.printed_oneofs[i] => Ok(()),
            Some(i) => {
                body.printed_oneofs[i] = true;
                let decl = &body.message.oneof_decl[i];
                check_identifier(decl.name(), || format!("message '{full}': oneof '{}'", decl.name()))?;
                if decl.options.as_ref().is_some_and(|o| !o.uninterpreted_option.is_empty()) {
                    return Err(format!("message '{full}': oneof '{}': custom options are not supported", decl.name()));
                }
                self.line(depth, &format!("oneof {} {{", decl.name()));
                for member in body.message.field.iter().filter(|f| f.oneof_index == Some(i as i32)) {
                    self.field(depth + 1, full, member, true, None)?;
                }
                self.line(depth, "}");
                Ok(())
            }
        }
    }

    fn field(
        &mut self,
        depth: usize,
        full: &str,
        field: &FieldDescriptorProto,
        in_oneof: bool,
        map_entry: Option<&DescriptorProto>,
    ) -> Result<(), String> {
        let name = field.name();
        let at = |what: &str| format!("message '{full}': field '{name}': {what}");
        check_identifier(name, || format!("message '{full}': field '{name}'"))?;
        if field.extendee.is_some() {
            return Err(at("extensions are not supported"));
        }
        let number = field.number.ok_or_else(|| at("it has no number"))?;
        let label = match field.label {
            None => Label::Optional,
            Some(l) => Label::try_from(l).map_err(|_| at(&format!("unknown label {l}")))?,
        };
        let type_text = match map_entry {
            Some(entry) => {
                let key = entry.field.iter().find(|f| f.number == Some(1));
                let value = entry.field.iter().find(|f| f.number == Some(2));
                match (key, value) {
                    (Some(key), Some(value)) => {
                        format!(
                            "map<{}, {}>",
                            type_text(key).map_err(|e| at(&e))?,
                            type_text(value).map_err(|e| at(&e))?
                        )
                    }
                    _ => return Err(at("its map entry type lacks the key (1) or the value (2)")),
                }
            }
            None => type_text(field).map_err(|e| at(&e))?,
        };
        let label = if in_oneof || map_entry.is_some() {
            ""
        } else {
            match label {
                Label::Repeated => "repeated ",
                Label::Required => "required ",
                Label::Optional if field.proto3_optional() || !self.proto3 => "optional ",
                Label::Optional => "",
            }
        };
        let mut options = Vec::new();
        if let Some(default) = &field.default_value {
            options.push(format!("default = {}", default_text(field, default).map_err(|e| at(&e))?));
        }
        if let Some(json_name) = &field.json_name {
            if *json_name != default_json_name(name) {
                options.push(format!("json_name = {}", quote(json_name)));
            }
        }
        if let Some(o) = &field.options {
            no_custom_options(&o.uninterpreted_option, || at("its options"))?;
            for (option, value) in
                [("packed", o.packed), ("lazy", o.lazy), ("deprecated", o.deprecated), ("weak", o.weak)]
            {
                if let Some(value) = value {
                    options.push(format!("{option} = {value}"));
                }
            }
            if let Some(ctype) = o.ctype {
                let ctype = match ctype {
                    0 => "STRING",
                    1 => "CORD",
                    2 => "STRING_PIECE",
                    other => return Err(at(&format!("unknown ctype {other}"))),
                };
                options.push(format!("ctype = {ctype}"));
            }
            if let Some(jstype) = o.jstype {
                let jstype = match jstype {
                    0 => "JS_NORMAL",
                    1 => "JS_STRING",
                    2 => "JS_NUMBER",
                    other => return Err(at(&format!("unknown jstype {other}"))),
                };
                options.push(format!("jstype = {jstype}"));
            }
        }
        let options = if options.is_empty() { String::new() } else { format!(" [{}]", options.join(", ")) };
        self.line(depth, &format!("{label}{type_text} {name} = {number}{options};"));
        Ok(())
    }

    fn enumeration(&mut self, depth: usize, scope: &str, e: &EnumDescriptorProto) -> Result<(), String> {
        let name = e.name();
        let at = |what: String| format!("enum '{scope}{name}': {what}");
        check_identifier(name, || format!("enum '{scope}{name}'"))?;
        self.line(depth, &format!("enum {name} {{"));
        let inner = depth + 1;
        if let Some(options) = &e.options {
            no_custom_options(&options.uninterpreted_option, || at("its options".into()))?;
            self.flags(inner, &[("allow_alias", options.allow_alias), ("deprecated", options.deprecated)]);
        }
        for value in &e.value {
            check_identifier(value.name(), || at(format!("value '{}'", value.name())))?;
            let mut options = String::new();
            if let Some(o) = &value.options {
                no_custom_options(&o.uninterpreted_option, || at(format!("value '{}': its options", value.name())))?;
                if let Some(deprecated) = o.deprecated {
                    options = format!(" [deprecated = {deprecated}]");
                }
            }
            let number = value.number.ok_or_else(|| at(format!("value '{}' has no number", value.name())))?;
            self.line(inner, &format!("{} = {number}{options};", value.name()));
        }
        if !e.reserved_range.is_empty() {
            // Enum reserved ranges are inclusive, unlike a message's.
            let ranges: Vec<String> =
                e.reserved_range.iter().map(|r| range_text(r.start(), r.end(), i32::MAX)).collect();
            self.line(inner, &format!("reserved {};", ranges.join(", ")));
        }
        self.reserved_names(inner, &e.reserved_name, &|what| at(what))?;
        self.line(depth, "}");
        Ok(())
    }

    fn reserved_names(&mut self, depth: usize, names: &[String], at: &dyn Fn(String) -> String) -> Result<(), String> {
        if names.is_empty() {
            return Ok(());
        }
        for name in names {
            check_identifier(name, || at(format!("reserved name '{name}'")))?;
        }
        let quoted: Vec<String> = names.iter().map(|n| quote(n)).collect();
        self.line(depth, &format!("reserved {};", quoted.join(", ")));
        Ok(())
    }

    fn service(&mut self, scope: &str, service: &ServiceDescriptorProto) -> Result<(), String> {
        let name = service.name();
        let at = |what: String| format!("service '{scope}{name}': {what}");
        check_identifier(name, || format!("service '{scope}{name}'"))?;
        self.line(0, &format!("service {name} {{"));
        if let Some(options) = &service.options {
            no_custom_options(&options.uninterpreted_option, || at("its options".into()))?;
            self.flags(1, &[("deprecated", options.deprecated)]);
        }
        for method in &service.method {
            let method_at = |what: &str| at(format!("method '{}': {what}", method.name()));
            check_identifier(method.name(), || method_at("not an identifier"))?;
            check_dotted(method.input_type(), || method_at("input type"))?;
            check_dotted(method.output_type(), || method_at("output type"))?;
            let stream = |on: bool| if on { "stream " } else { "" };
            let signature = format!(
                "rpc {}({}{}) returns ({}{})",
                method.name(),
                stream(method.client_streaming()),
                method.input_type(),
                stream(method.server_streaming()),
                method.output_type()
            );
            let mut body = Vec::new();
            if let Some(options) = &method.options {
                no_custom_options(&options.uninterpreted_option, || method_at("its options"))?;
                if let Some(deprecated) = options.deprecated {
                    body.push(format!("option deprecated = {deprecated};"));
                }
                if let Some(level) = options.idempotency_level {
                    let level = match level {
                        0 => "IDEMPOTENCY_UNKNOWN",
                        1 => "NO_SIDE_EFFECTS",
                        2 => "IDEMPOTENT",
                        other => return Err(method_at(&format!("unknown idempotency level {other}"))),
                    };
                    body.push(format!("option idempotency_level = {level};"));
                }
            }
            if body.is_empty() {
                self.line(1, &format!("{signature};"));
            } else {
                self.line(1, &format!("{signature} {{"));
                for line in body {
                    self.line(2, &line);
                }
                self.line(1, "}");
            }
        }
        self.line(0, "}");
        Ok(())
    }
}

/// What printing a message's fields needs to know about the message as a whole.
struct Body<'a> {
    full: String,
    message: &'a DescriptorProto,
    /// Per oneof: false for the synthetic oneof of a proto3 `optional` field (not printed).
    real_oneof: Vec<bool>,
    /// Per nested type: the type itself when it is a map entry.
    entries: Vec<Option<&'a DescriptorProto>>,
    printed_oneofs: Vec<bool>,
    used_entries: Vec<bool>,
}

impl<'a> Body<'a> {
    fn new(full: String, message: &'a DescriptorProto) -> Body<'a> {
        let oneofs = message.oneof_decl.len();
        // A oneof is synthetic when its fields are all proto3 optional (protoc gives each its own).
        let real_oneof = (0..oneofs)
            .map(|i| message.field.iter().filter(|f| f.oneof_index == Some(i as i32)).any(|f| !f.proto3_optional()))
            .collect();
        let entries: Vec<Option<&DescriptorProto>> = message
            .nested_type
            .iter()
            .map(|n| n.options.as_ref().and_then(|o| o.map_entry).unwrap_or(false).then_some(n))
            .collect();
        let used_entries = vec![false; entries.len()];
        Body { full, message, real_oneof, entries, printed_oneofs: vec![false; oneofs], used_entries }
    }

    fn has_members(&self, oneof: usize) -> bool {
        self.message.field.iter().any(|f| f.oneof_index == Some(oneof as i32))
    }

    /// The map entry type a repeated message field is the map of, by the name protoc gives it
    /// (fully qualified, or the bare entry name).
    fn entry_of(&self, field: &FieldDescriptorProto) -> Option<usize> {
        if field.label() != Label::Repeated || field.r#type() != Type::Message {
            return None;
        }
        let type_name = field.type_name().trim_start_matches('.');
        self.entries.iter().position(|e| {
            e.is_some_and(|e| {
                type_name == e.name()
                    || type_name.strip_suffix(e.name()).and_then(|s| s.strip_suffix('.')) == Some(self.full.as_str())
            })
        })
    }
}

/// The type a field is declared with: a scalar keyword, or the message or enum name as written.
fn type_text(field: &FieldDescriptorProto) -> Result<String, String> {
    let scalar = match field.r#type {
        None => None,
        Some(t) => match Type::try_from(t).map_err(|_| format!("unknown type {t}"))? {
            Type::Double => Some("double"),
            Type::Float => Some("float"),
            Type::Int64 => Some("int64"),
            Type::Uint64 => Some("uint64"),
            Type::Int32 => Some("int32"),
            Type::Fixed64 => Some("fixed64"),
            Type::Fixed32 => Some("fixed32"),
            Type::Bool => Some("bool"),
            Type::String => Some("string"),
            Type::Bytes => Some("bytes"),
            Type::Uint32 => Some("uint32"),
            Type::Sfixed32 => Some("sfixed32"),
            Type::Sfixed64 => Some("sfixed64"),
            Type::Sint32 => Some("sint32"),
            Type::Sint64 => Some("sint64"),
            Type::Group => return Err("groups are not supported".into()),
            Type::Message | Type::Enum => None,
        },
    };
    match scalar {
        Some(scalar) => Ok(scalar.to_string()),
        None => {
            let name = field.type_name();
            if name.is_empty() {
                return Err("it has neither a type nor a type name".into());
            }
            check_dotted(name, || "its type name".into())?;
            Ok(name.to_string())
        }
    }
}

/// A proto2 default as `.proto` text: the descriptor keeps strings unescaped, bytes C-escaped,
/// enum values by name and numbers as written.
fn default_text(field: &FieldDescriptorProto, default: &str) -> Result<String, String> {
    let bad = || format!("its default '{default}' is not a value of its type");
    match field.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::String) => Ok(quote(default)),
        Some(Type::Bytes) => {
            // Already escaped: it only has to stay inside its quotes.
            let mut escaped = false;
            for c in default.chars() {
                if !escaped && (c == '"' || c == '\n') {
                    return Err(bad());
                }
                escaped = !escaped && c == '\\';
            }
            if escaped {
                return Err(bad());
            }
            Ok(format!("\"{default}\""))
        }
        Some(Type::Bool) if default == "true" || default == "false" => Ok(default.to_string()),
        Some(Type::Double | Type::Float)
            if matches!(default, "inf" | "-inf" | "nan") || default.parse::<f64>().is_ok() =>
        {
            Ok(default.to_string())
        }
        Some(
            Type::Int64
            | Type::Uint64
            | Type::Int32
            | Type::Fixed64
            | Type::Fixed32
            | Type::Uint32
            | Type::Sfixed32
            | Type::Sfixed64
            | Type::Sint32
            | Type::Sint64,
        ) if default.parse::<i128>().is_ok() => Ok(default.to_string()),
        Some(Type::Enum) | None if is_identifier(default) => Ok(default.to_string()),
        _ => Err(bad()),
    }
}

/// protoc's default JSON name: underscores dropped, the letter after each one upper-cased.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `a`, `a to b`, or `a to max` (when `end` is the largest value `max` stands for).
fn range_text(start: i32, end: i32, max: i32) -> String {
    if end == start {
        start.to_string()
    } else if end == max {
        format!("{start} to max")
    } else {
        format!("{start} to {end}")
    }
}

fn no_custom_options<T>(uninterpreted: &[T], at: impl Fn() -> String) -> Result<(), String> {
    if uninterpreted.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: custom (uninterpreted) options are not supported", at()))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_identifier(name: &str, what: impl Fn() -> String) -> Result<(), String> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(format!("{}: '{name}' is not an identifier", what()))
    }
}

/// A package or type name: identifiers joined by dots, a leading dot allowed (fully qualified).
fn check_dotted(name: &str, what: impl Fn() -> String) -> Result<(), String> {
    if name.strip_prefix('.').unwrap_or(name).split('.').all(is_identifier) {
        Ok(())
    } else {
        Err(format!("{}: '{name}' is not a dotted name", what()))
    }
}

/// A string literal: backslash, quote and control characters escaped, the rest as is (UTF-8).
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
