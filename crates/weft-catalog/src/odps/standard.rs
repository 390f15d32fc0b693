//! The standard's own JSON Schema, the judge of what is ODPS: imports are checked against it before
//! they are read, exports after they are written.
//!
//! The schema is ODPS's file, vendored unchanged (`spec/odps-json-schema-v1.0.0.json`, see
//! `spec/README.md`), compiled once by `weft-schema`'s JSON Schema validator (draft 2019-09, with
//! `format`s `uri`, `date` and `date-time` asserted, as the standard's CI does with ajv-formats).
//! A refusal names the JSON pointer the validator found and the line of the YAML text it was
//! written on.

use std::sync::OnceLock;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser};
use weft_schema::json_schema::JsonSchema;

use crate::CatalogError;

/// The ODPS release whose JSON Schema is vendored and checked.
pub const ODPS_SCHEMA_VERSION: &str = "v1.0.0";

/// The standard's JSON Schema, as published.
pub const ODPS_SCHEMA: &str = include_str!("../../spec/odps-json-schema-v1.0.0.json");

/// The compiled schema (compiled at first use; a failure to compile is a defect of this build).
pub fn schema() -> Result<&'static JsonSchema, CatalogError> {
    static SCHEMA: OnceLock<Result<JsonSchema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| JsonSchema::parse(ODPS_SCHEMA).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| CatalogError::Internal(format!("the vendored ODPS JSON Schema does not compile: {e}")))
}

/// Whether the standard accepts `value`; the refusal names the field (a JSON pointer) and why.
pub fn validate(value: &Value) -> Result<(), weft_schema::ValidationError> {
    match schema() {
        Ok(schema) => schema.validate(value),
        Err(e) => Err(weft_schema::ValidationError { path: String::new(), message: e.to_string() }),
    }
}

/// Refuses a document (`value`, read from `yaml`) the standard refuses, with the line it was written on.
pub(crate) fn check_document(yaml: &str, value: &Value) -> Result<(), CatalogError> {
    schema()?.validate(value).map_err(|e| CatalogError::NotOdps {
        field: field_path(&e.path),
        line: line_of(yaml, &e.path),
        reason: e.message,
    })
}

/// A JSON pointer as the catalog writes field paths: `/outputPorts/0/version` as `outputPorts[0].version`.
pub(crate) fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1).map(unescape) {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A collection open while walking the YAML events.
enum Frame {
    Sequence {
        next: usize,
    },
    /// The pending key and its line, once read (`None`: the next node is a key).
    Mapping {
        key: Option<(String, usize)>,
    },
}

/// The line (1-based) the node at `pointer` was written on: for a mapping's value, its key's line.
/// A node inside an alias has no line of its own: the nearest ancestor's (the alias) answers.
pub(crate) fn line_of(yaml: &str, pointer: &str) -> Option<usize> {
    let target: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
    // Each open collection, whether it lies on the way to the target (so its children may too), and
    // whether it counts in `depth_on_path` (the root has no segment of its own).
    let mut open: Vec<(Frame, bool, bool)> = Vec::new();
    let mut depth_on_path = 0usize;
    let mut best = None;
    // Levels of a collection used as a mapping key, whose nodes are no JSON value.
    let mut in_complex_key = 0usize;
    for event in Parser::new_from_str(yaml) {
        let Ok((event, span)) = event else { break };
        let opens = match event {
            Event::Scalar(..) | Event::Alias(_) => false,
            Event::SequenceStart(..) | Event::MappingStart(..) => true,
            Event::SequenceEnd | Event::MappingEnd => {
                if in_complex_key > 0 {
                    in_complex_key -= 1;
                } else if let Some((_, _, true)) = open.pop() {
                    depth_on_path -= 1;
                }
                continue;
            }
            _ => continue,
        };
        if in_complex_key > 0 {
            in_complex_key += usize::from(opens);
            continue;
        }
        let line = span.start.line();
        // Where this node sits: its segment under its parent (on the key's line for a value).
        let (segment, line, parent_on_path) = match open.last_mut() {
            None => (None, line, true),
            Some((Frame::Sequence { next }, on_path, _)) => {
                *next += 1;
                (Some((*next - 1).to_string()), line, *on_path)
            }
            Some((Frame::Mapping { key }, on_path, _)) => match key.take() {
                Some((key, key_line)) => (Some(key), key_line, *on_path),
                None => {
                    let name = match &event {
                        Event::Scalar(value, ..) => value.to_string(),
                        _ => String::from("\u{0}"),
                    };
                    *key = Some((name, line));
                    in_complex_key = usize::from(opens);
                    continue;
                }
            },
        };
        let on_path = parent_on_path
            && match &segment {
                None => true,
                Some(segment) => target.get(depth_on_path).is_some_and(|t| t == segment),
            };
        if on_path {
            let depth = depth_on_path + usize::from(segment.is_some());
            best = Some(line);
            if depth == target.len() {
                return best;
            }
        }
        if opens {
            let frame = match event {
                Event::SequenceStart(..) => Frame::Sequence { next: 0 },
                _ => Frame::Mapping { key: None },
            };
            let counted = on_path && segment.is_some();
            depth_on_path += usize::from(counted);
            open.push((frame, on_path, counted));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_schema_compiles() {
        assert!(schema().is_ok());
    }

    #[test]
    fn pointers_find_their_lines() {
        let yaml = "a: 1\nb:\n  - x\n  - c: 2\n    d:\n      - e\nf: {g: [1, 2]}\n";
        let cases = [
            ("", Some(1)),
            ("/a", Some(1)),
            ("/b", Some(2)),
            ("/b/0", Some(3)),
            ("/b/1", Some(4)),
            ("/b/1/c", Some(4)),
            ("/b/1/d", Some(5)),
            ("/b/1/d/0", Some(6)),
            ("/f/g/1", Some(7)),
            // Missing nodes answer their nearest ancestor's line.
            ("/b/1/zzz", Some(4)),
            ("/nope", Some(1)),
        ];
        for (pointer, line) in cases {
            assert_eq!(line_of(yaml, pointer), line, "{pointer}");
        }
        assert_eq!(line_of("x: &a {y: 1}\nz: *a\n", "/z/y"), Some(2));
        assert_eq!(line_of("? [k]\n: v\nw: 1\n", "/w"), Some(3));
        assert_eq!(line_of("a/b: 1\nc~d: 2\n", "/c~0d"), Some(2));
    }

    #[test]
    fn pointers_read_as_field_paths() {
        assert_eq!(field_path(""), "");
        assert_eq!(field_path("/outputPorts/0/version"), "outputPorts[0].version");
        assert_eq!(field_path("/team/members/2/dateIn"), "team.members[2].dateIn");
        assert_eq!(field_path("/a~1b"), "a/b");
    }
}
