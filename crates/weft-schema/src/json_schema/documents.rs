//! The schema document and the documents of its references, as data: where a `$ref` points, for tools
//! that read schemas rather than validate with them (the registry's compatibility rules). Validation
//! resolves references itself, by the specification's rules (see [`super::references`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::json::pointer_escape;

fn child(pointer: &str, segment: &str) -> String {
    format!("{pointer}/{}", pointer_escape(segment))
}

/// Resolves a JSON pointer (with `%`-escapes, as URI fragments carry them) in a document.
pub(super) fn resolve_pointer<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.contains('%') {
        doc.pointer(&percent_decode(pointer))
    } else {
        doc.pointer(pointer)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The schema document (index 0) and the documents of its references, with their anchors.
#[derive(Debug)]
pub(super) struct Documents {
    docs: Vec<(String, Value)>,
    /// Per document, its anchors to their JSON pointers, found in one walk the first time a `$ref`
    /// names an anchor: each such `$ref` is then a lookup, not a search of the whole document.
    anchors: Vec<OnceLock<HashMap<String, String>>>,
}

impl Documents {
    pub(super) fn new(docs: Vec<(String, Value)>) -> Documents {
        let anchors = docs.iter().map(|_| OnceLock::new()).collect();
        Documents { docs, anchors }
    }

    pub(super) fn get(&self, doc: usize) -> &Value {
        &self.docs[doc].1
    }

    /// Finds where a `$ref` points: `(document index, JSON pointer)`.
    pub(super) fn resolve_ref(&self, current: usize, reference: &str) -> Option<(usize, String)> {
        let (base, fragment) = match reference.find('#') {
            Some(hash) => (&reference[..hash], &reference[hash + 1..]),
            None => (reference, ""),
        };
        let doc = if base.is_empty() {
            current
        } else {
            self.docs.iter().position(|(name, value)| {
                name == base
                    || value
                        .get("$id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.trim_end_matches('#') == base || id.rsplit('/').next() == Some(base))
            })?
        };
        if fragment.is_empty() || fragment.starts_with('/') {
            let pointer = fragment.to_string();
            resolve_pointer(self.get(doc), &pointer)?;
            return Some((doc, if pointer.contains('%') { percent_decode(&pointer) } else { pointer }));
        }
        let anchors = self.anchors[doc].get_or_init(|| {
            let mut anchors = HashMap::new();
            collect_anchors(self.get(doc), String::new(), &mut anchors);
            anchors
        });
        anchors.get(fragment).map(|pointer| (doc, pointer.clone()))
    }
}

/// Records where `$anchor: name` (2019-09+), `$dynamicAnchor: name` or `$id: "#name"` (draft-07 and
/// before) are, keeping the first location of each name in document order. Documents come from JSON
/// text, so this recursion nests no deeper than the JSON parser allows.
fn collect_anchors(value: &Value, pointer: String, out: &mut HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            let names = [
                map.get("$anchor").and_then(Value::as_str),
                map.get("$dynamicAnchor").and_then(Value::as_str),
                map.get("$id").and_then(Value::as_str).and_then(|id| id.strip_prefix('#')),
            ];
            for name in names.into_iter().flatten() {
                out.entry(name.to_string()).or_insert_with(|| pointer.clone());
            }
            for (k, v) in map {
                collect_anchors(v, child(&pointer, k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_anchors(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}
