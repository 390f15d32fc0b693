//! Format checks: the `uuid` form the Avro side shares, and the validator's own checks of the formats
//! of draft 2020-12, for asserting them under the drafts that did not define them yet.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// Whether `text` is a valid `format` (as draft 2020-12 defines it, asserted); unknown formats accept.
pub(super) fn is_valid(format: &str, text: &str) -> bool {
    static CHECKS: OnceLock<HashMap<String, Option<jsonschema::Validator>>> = OnceLock::new();
    let checks = CHECKS.get_or_init(|| {
        super::LATER_FORMATS
            .iter()
            .map(|(name, _)| {
                let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "format": name});
                (name.to_string(), jsonschema::options().should_validate_formats(true).build(&schema).ok())
            })
            .collect()
    });
    match checks.get(format) {
        Some(Some(check)) => check.is_valid(&Value::String(text.to_string())),
        _ => true,
    }
}

/// RFC 4122 textual form: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_8_4_4_4_12_hex_digits() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
