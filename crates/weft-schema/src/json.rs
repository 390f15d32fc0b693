//! Small JSON helpers shared by both schema formats and by what reports on them: equality as JSON Schema
//! defines it, a canonical text, and short renderings of values for messages.

use serde_json::Value;

/// Parses a schema text, turning serde_json's error into one that says where.
pub(crate) fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("invalid JSON at line {} column {}: {}", e.line(), e.column(), strip_position(&e)))
}

fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Writes `value` as compact JSON with object keys sorted, whatever serde_json's map order is:
/// the canonical text two equal documents share.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(&map[key.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `value` as compact JSON with object keys sorted.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// A JSON text without the whitespace between its tokens, members in the order written (what
/// Jackson's `writeValueAsString` gives for a parsed document). `text` must be valid JSON.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push_str(&Value::String(s.to_string()).to_string());
}

/// JSON equality where numbers compare by value (`1` equals `1.0`), as JSON Schema's `enum` and `const` need.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                return x == y;
            }
            x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The JSON kind of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A short rendering of a value for messages: long values are cut.
pub fn preview(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_drops_whitespace_between_tokens_only() {
        let text = "{ \"b\" : [1, 2],\n\t\"a\": \"x y \\\" z\" }";
        assert_eq!(compact(text), r#"{"b":[1,2],"a":"x y \" z"}"#);
    }

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let a: Value = serde_json::from_str(r#"{ "b": [1, {"y":2,"x":1}], "a": "s" }"#).unwrap();
        assert_eq!(canonical(&a), r#"{"a":"s","b":[1,{"x":1,"y":2}]}"#);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(json_equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
        assert!(!json_equal(&json!(1), &json!("1")));
    }

    #[test]
    fn parse_errors_say_where() {
        let err = parse_json("{\n  \"a\": }").unwrap_err();
        assert!(err.starts_with("invalid JSON at line 2 column"), "{err}");
    }
}
