//! Protobuf schemas as Confluent's serializers register them: the text of one `.proto` file (proto2
//! or proto3), or the base64 of its `FileDescriptorProto` as the Python and .NET serializers send it
//! (printed as `.proto` text first: [`descriptor`]), its imports resolved from the schema's references
//! (by the name the `import` uses), from the well-known `google/protobuf/*.proto` files and from the
//! few files Confluent resolves without references ([`imports`]).
//!
//! Parsing and checking are protox's (a pure-Rust protobuf compiler); the descriptors and dynamic
//! messages are prost-reflect's. What is Weft's stays here: errors located by file, line and column,
//! the nesting bound, the canonical text the registry deduplicates on, and the Confluent framing of
//! Protobuf payloads, whose header is followed by the *message indexes* (which message of the file
//! the payload is: a zigzag varint count, then one zigzag varint index per level of nesting; the
//! first top-level message is the single byte `0`).

mod descriptor;
mod imports;

use std::collections::HashMap;

use base64::Engine;
use prost_reflect::prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor};

use crate::{ValidationError, MAX_DEPTH};

pub use prost_reflect;

/// The name the registered file has among its imports (a reference may not use it).
const MAIN_FILE: &str = "__weft_registered__.proto";

/// The file name of a schema served as a descriptor (`?format=serialized`): Confluent's
/// (`ProtobufSchema.DEFAULT_NAME`); its clients rename the file anyway.
const SERIALIZED_FILE: &str = "default";

/// Why a `.proto` text is not a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// A syntax or semantic error, located where the compiler located it.
    #[error("{message}{}", location_suffix(file, *line, *column))]
    Invalid { message: String, file: Option<String>, line: Option<usize>, column: Option<usize> },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("the schema nests deeper than {MAX_DEPTH} levels at line {line}")]
    TooDeep { line: usize },
    /// The file declares no message (Confluent's serializers always name one).
    #[error("the schema declares no message")]
    NoMessage,
    /// A schema (or the reference `file`) sent as base64 that is not a `FileDescriptorProto`, or holds
    /// what cannot be printed as `.proto` text.
    #[error(
        "{}the schema is neither .proto text nor a usable base64 FileDescriptorProto: {reason}",
        reference_prefix(file)
    )]
    Descriptor { file: Option<String>, reason: String },
}

fn reference_prefix(file: &Option<String>) -> String {
    file.as_ref().map(|f| format!("reference '{f}': ")).unwrap_or_default()
}

fn location_suffix(file: &Option<String>, line: Option<usize>, column: Option<usize>) -> String {
    let file = match file.as_deref() {
        None | Some(MAIN_FILE) => String::new(),
        Some(f) => format!(" in '{f}'"),
    };
    match (line, column) {
        (Some(l), Some(c)) => format!("{file} (line {l}, column {c})"),
        _ => file,
    }
}

/// Why a framed Protobuf payload is not a message of its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the message indexes after the schema id are truncated or malformed")]
    BadIndexes,
    #[error("the message indexes {0:?} name no message of the schema")]
    UnknownMessage(Vec<i32>),
    #[error("not a {message} message: {reason}")]
    Decode { message: String, reason: String },
}

impl From<PayloadError> for ValidationError {
    fn from(e: PayloadError) -> ValidationError {
        ValidationError { path: String::new(), message: e.to_string() }
    }
}

/// A parsed `.proto` file with everything it imports.
#[derive(Debug, Clone)]
pub struct ProtobufSchema {
    pool: DescriptorPool,
    file: FileDescriptor,
    text: String,
}

impl ProtobufSchema {
    /// Parses a `.proto` text without references.
    pub fn parse(text: &str) -> Result<ProtobufSchema, ProtobufError> {
        Self::parse_with_references(text, &[])
    }

    /// Parses a `.proto` text; `references` are `(import name, text)` of the files it imports
    /// (Confluent schema references, transitively).
    pub fn parse_with_references(text: &str, references: &[(&str, &str)]) -> Result<ProtobufSchema, ProtobufError> {
        // Confluent's registry reads base64 descriptors too, and keeps them as `.proto` text: so
        // does this, printing them before anything else looks at them.
        let printed = descriptor::is_base64(text).then(|| descriptor::to_proto_text(text, None)).transpose()?;
        let text = printed.as_deref().unwrap_or(text);
        let mut reference_texts: Vec<(&str, String, bool)> = Vec::with_capacity(references.len());
        for (name, t) in references {
            if descriptor::is_base64(t) {
                reference_texts.push((*name, descriptor::to_proto_text(t, Some(name))?, true));
            } else {
                reference_texts.push((*name, (*t).to_string(), false));
            }
        }
        let references: Vec<(&str, &str)> = reference_texts.iter().map(|(n, t, _)| (*n, t.as_str())).collect();
        let references = references.as_slice();
        check_depth(text)?;
        for (_, t) in references {
            check_depth(t)?;
        }
        let mut files: HashMap<String, String> = HashMap::new();
        for (name, t) in references {
            files.insert((*name).to_string(), (*t).to_string());
        }
        // Confluent's parser reads its own `(confluent.field_meta)` options (ksqlDB writes them for
        // decimals) without their import; the import is added at the end, where it moves no line.
        let source = if text.contains("(confluent.") && !text.contains("confluent/meta.proto") {
            format!("{text}\nimport \"confluent/meta.proto\";\n")
        } else {
            text.to_string()
        };
        files.insert(MAIN_FILE.to_string(), source);
        let mut resolver = protox::file::ChainFileResolver::new();
        resolver.add(Sources(files));
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler.open_file(MAIN_FILE).map_err(|e| {
            let error = located(&e, text, references);
            let printed_file = match &error {
                ProtobufError::Invalid { file: None, .. } => printed.is_some(),
                ProtobufError::Invalid { file: Some(f), .. } if f == MAIN_FILE => printed.is_some(),
                ProtobufError::Invalid { file: Some(f), .. } => {
                    reference_texts.iter().any(|(n, _, p)| *p && *n == f.as_str())
                }
                _ => false,
            };
            if printed_file {
                printed_line_context(error, text, references)
            } else {
                error
            }
        })?;
        let pool = compiler.descriptor_pool();
        let file = pool.get_file_by_name(MAIN_FILE).ok_or(ProtobufError::NoMessage)?;
        if file.messages().len() == 0 {
            return Err(ProtobufError::NoMessage);
        }
        Ok(ProtobufSchema { pool, file, text: text.to_string() })
    }

    /// The registered file as Confluent's `?format=serialized` serves it: the base64 of its
    /// `FileDescriptorProto` (named `default`, its imports by the names the references give).
    pub fn serialized(&self) -> String {
        let mut proto = self.file.file_descriptor_proto().clone();
        proto.name = Some(SERIALIZED_FILE.to_string());
        // Spans of the stored text: of no use to a client, and Confluent sends none.
        proto.source_code_info = None;
        base64::engine::general_purpose::STANDARD.encode(proto.encode_to_vec())
    }

    /// The registered file's descriptor.
    pub fn file(&self) -> &FileDescriptor {
        &self.file
    }

    /// Every file of the schema (the registered one and what it imports).
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The file's top-level messages, in the order written.
    pub fn messages(&self) -> impl Iterator<Item = MessageDescriptor> + '_ {
        self.file.messages()
    }

    /// The message `indexes` name: the first is a top-level message's position, each next one a
    /// nested message's position in the one before (Confluent's message indexes).
    pub fn message_at(&self, indexes: &[i32]) -> Option<MessageDescriptor> {
        let (first, rest) = indexes.split_first()?;
        let mut message = self.file.messages().nth(usize::try_from(*first).ok()?)?;
        for i in rest {
            let child = message.child_messages().nth(usize::try_from(*i).ok()?)?;
            message = child;
        }
        Some(message)
    }

    /// The message indexes of `message` (a message of this file).
    pub fn indexes_of(&self, message: &MessageDescriptor) -> Vec<i32> {
        let mut path = Vec::new();
        let mut current = message.clone();
        loop {
            match current.parent_message() {
                Some(parent) => {
                    path.push(parent.child_messages().position(|m| m == current).unwrap_or(0) as i32);
                    current = parent;
                }
                None => {
                    path.push(self.file.messages().position(|m| m == current).unwrap_or(0) as i32);
                    break;
                }
            }
        }
        path.reverse();
        path
    }

    /// A message of the file by its name, full (`pkg.Outer.Inner`) or without the package.
    pub fn message_named(&self, name: &str) -> Option<MessageDescriptor> {
        let package = self.file.package_name();
        let full = if package.is_empty() || name.starts_with(&format!("{package}.")) {
            name.to_string()
        } else {
            format!("{package}.{name}")
        };
        self.pool.get_message_by_name(&full).filter(|m| m.parent_file() == self.file)
    }

    /// The text this schema was parsed from (a descriptor's, as printed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text the registry deduplicates on: comments dropped, whitespace only where two words
    /// would otherwise run together.
    pub fn canonical_text(&self) -> String {
        canonical_text(&self.text)
    }

    /// Decodes a payload (what follows the 5-byte header): message indexes, then the message.
    pub fn decode_payload(&self, payload: &[u8]) -> Result<DynamicMessage, PayloadError> {
        let (indexes, bytes) = read_message_indexes(payload)?;
        let message = self.message_at(&indexes).ok_or(PayloadError::UnknownMessage(indexes))?;
        DynamicMessage::decode(message.clone(), bytes)
            .map_err(|e| PayloadError::Decode { message: message.full_name().to_string(), reason: e.to_string() })
    }

    /// Checks that a payload is a message of this schema.
    pub fn validate_payload(&self, payload: &[u8]) -> Result<(), ValidationError> {
        self.decode_payload(payload).map(|_| ()).map_err(ValidationError::from)
    }
}

/// Reads Confluent's message indexes from the front of a payload; returns them and the rest.
pub fn read_message_indexes(payload: &[u8]) -> Result<(Vec<i32>, &[u8]), PayloadError> {
    let (count, mut rest) = read_zigzag(payload).ok_or(PayloadError::BadIndexes)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    // Each index takes at least a byte: a count beyond what is left cannot be honest.
    let count =
        usize::try_from(count).ok().filter(|c| *c <= rest.len() && *c <= MAX_DEPTH).ok_or(PayloadError::BadIndexes)?;
    let mut indexes = Vec::with_capacity(count);
    for _ in 0..count {
        let (i, next) = read_zigzag(rest).ok_or(PayloadError::BadIndexes)?;
        indexes.push(i32::try_from(i).map_err(|_| PayloadError::BadIndexes)?);
        rest = next;
    }
    Ok((indexes, rest))
}

/// Appends Confluent's message indexes (`[0]`, the first message, as the single byte 0).
pub fn write_message_indexes(indexes: &[i32], out: &mut Vec<u8>) {
    if indexes == [0] {
        out.push(0);
        return;
    }
    write_zigzag(indexes.len() as i64, out);
    for i in indexes {
        write_zigzag(i64::from(*i), out);
    }
}

fn read_zigzag(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let decoded = ((value >> 1) as i64) ^ -((value & 1) as i64);
            return Some((decoded, &bytes[i + 1..]));
        }
    }
    None
}

fn write_zigzag(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Serves the registered text, its references and the built-in imports to the compiler.
struct Sources(HashMap<String, String>);

impl protox::file::FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.get(name).map(String::as_str).or_else(|| imports::builtin(name)) {
            Some(text) => protox::file::File::from_source(name, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// A compiler error with the line and column of its first label, in the file it names.
fn located(e: &protox::Error, text: &str, references: &[(&str, &str)]) -> ProtobufError {
    use miette::Diagnostic;
    let file = e.file().map(str::to_string);
    let source = match file.as_deref() {
        None | Some(MAIN_FILE) => Some(text),
        Some(name) => references.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).or_else(|| imports::builtin(name)),
    };
    let offset = e.labels().and_then(|mut labels| labels.next()).map(|l| l.offset());
    let (line, column) = match (source, offset) {
        (Some(src), Some(offset)) => {
            let (l, c) = line_column(src, offset);
            (Some(l), Some(c))
        }
        _ => (None, None),
    };
    ProtobufError::Invalid { message: e.to_string(), file, line, column }
}

/// A compiler error in text printed from a descriptor: the line and column are the printed text's,
/// which the client never saw, so the line itself goes into the message.
fn printed_line_context(error: ProtobufError, text: &str, references: &[(&str, &str)]) -> ProtobufError {
    match error {
        ProtobufError::Invalid { message, file, line, column } => {
            let source = match file.as_deref() {
                None | Some(MAIN_FILE) => Some(text),
                Some(name) => references.iter().find(|(n, _)| *n == name).map(|(_, t)| *t),
            };
            let printed = line.and_then(|l| source?.lines().nth(l.checked_sub(1)?)).map(str::trim);
            let message = match printed {
                Some(printed) => {
                    format!("the descriptor, printed as .proto text, does not compile: {message} (at `{printed}`)")
                }
                None => format!("the descriptor, printed as .proto text, does not compile: {message}"),
            };
            ProtobufError::Invalid { message, file, line, column }
        }
        other => other,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A lexical walk of `.proto` text: each code character with whether it is inside a string, comments
/// removed (replaced by a space, as they separate tokens).
fn code_chars(text: &str, mut visit: impl FnMut(char, bool) -> bool) {
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if !visit(c, true) {
                return;
            }
            if c == '\\' {
                if let Some(n) = chars.next() {
                    if !visit(n, true) {
                        return;
                    }
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                if !visit('\n', false) {
                    return;
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for n in chars.by_ref() {
                    if last == '*' && n == '/' {
                        break;
                    }
                    last = n;
                }
                if !visit(' ', false) {
                    return;
                }
            }
            ('"' | '\'', _) => {
                quote = Some(c);
                if !visit(c, true) {
                    return;
                }
            }
            _ => {
                if !visit(c, false) {
                    return;
                }
            }
        }
    }
}

/// Refuses text whose braces or brackets nest deeper than [`MAX_DEPTH`] before the (recursive)
/// parser sees it.
fn check_depth(text: &str) -> Result<(), ProtobufError> {
    let (mut depth, mut line, mut too_deep) = (0usize, 1usize, None);
    code_chars(text, |c, in_string| {
        if c == '\n' {
            line += 1;
        }
        if !in_string {
            match c {
                '{' | '<' | '(' | '[' => depth += 1,
                '}' | '>' | ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if depth > MAX_DEPTH {
            too_deep = Some(line);
            return false;
        }
        true
    });
    match too_deep {
        Some(line) => Err(ProtobufError::TooDeep { line }),
        None => Ok(()),
    }
}

fn canonical_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    code_chars(text, |c, in_string| {
        if !in_string && c.is_whitespace() {
            pending_space = true;
            return true;
        }
        if pending_space {
            let word = |x: char| x.is_alphanumeric() || x == '_' || x == '.' || x == '"' || x == '\'';
            if out.chars().next_back().is_some_and(word) && word(c) {
                out.push(' ');
            }
            pending_space = false;
        }
        out.push(c);
        true
    });
    out
}

#[cfg(test)]
mod descriptor_tests;
#[cfg(test)]
mod tests;
