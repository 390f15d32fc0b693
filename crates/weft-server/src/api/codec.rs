//! The one place where records cross between JSON and the log's bytes.
//!
//! - On produce, a record's `key` and `value` are stored as their JSON text (`serde_json::to_vec`), so
//!   they read back as the same JSON; JSON `null` is no bytes at all. Headers are UTF-8 strings.
//! - On read, bytes that are valid JSON come back as that JSON value, other UTF-8 as a JSON string, and
//!   anything else as base64 with `"key_encoding"` / `"value_encoding": "base64"` beside it (headers:
//!   `"header_encodings": {"name": "base64"}`), so records written by other clients are readable too.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use weft_log::{Header, Record, StoredRecord};

/// JSON fields of one record to the log's record (the inverse of [`record_json`]).
pub fn to_log_record(
    key: Option<Value>,
    value: Option<Value>,
    headers: BTreeMap<String, Option<String>>,
    timestamp: Option<i64>,
) -> Result<Record, String> {
    let encode = |field: &str, json: Option<Value>| -> Result<Option<Vec<u8>>, String> {
        match json {
            None | Some(Value::Null) => Ok(None),
            Some(json) => serde_json::to_vec(&json).map(Some).map_err(|e| format!("{field}: {e}")),
        }
    };
    Ok(Record {
        key: encode("key", key)?,
        value: encode("value", value)?,
        headers: headers.into_iter().map(|(key, value)| Header { key, value: value.map(String::into_bytes) }).collect(),
        timestamp,
    })
}

/// Bytes of key, value and headers (what the produced-bytes metric counts).
pub fn record_size(record: &Record) -> usize {
    let bytes = |field: &Option<Vec<u8>>| field.as_ref().map_or(0, Vec::len);
    bytes(&record.key)
        + bytes(&record.value)
        + record.headers.iter().map(|header| header.key.len() + bytes(&header.value)).sum::<usize>()
}

/// A stored record as JSON: `{"partition","offset","timestamp","key","value","headers"}` (see the module documentation).
pub fn record_json(partition: u32, record: &StoredRecord) -> Value {
    let mut object = Map::new();
    object.insert("partition".into(), partition.into());
    object.insert("offset".into(), record.offset.into());
    object.insert("timestamp".into(), record.timestamp.into());
    for (field, bytes) in [("key", &record.key), ("value", &record.value)] {
        let (json, base64) = decode_bytes(bytes.as_deref());
        object.insert(field.into(), json);
        if base64 {
            object.insert(format!("{field}_encoding"), "base64".into());
        }
    }
    let mut headers = Map::new();
    let mut encodings = Map::new();
    for header in &record.headers {
        let value = match header.value.as_deref().map(std::str::from_utf8) {
            None => Value::Null,
            Some(Ok(text)) => Value::String(text.to_string()),
            Some(Err(_)) => {
                encodings.insert(header.key.clone(), "base64".into());
                Value::String(base64_encode(header.value.as_deref().unwrap_or_default()))
            }
        };
        headers.insert(header.key.clone(), value);
    }
    object.insert("headers".into(), Value::Object(headers));
    if !encodings.is_empty() {
        object.insert("header_encodings".into(), Value::Object(encodings));
    }
    Value::Object(object)
}

/// The JSON for stored bytes, and whether it is base64.
fn decode_bytes(bytes: Option<&[u8]>) -> (Value, bool) {
    let Some(bytes) = bytes else { return (Value::Null, false) };
    if let Ok(json) = serde_json::from_slice::<Value>(bytes) {
        return (json, false);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(base64_encode(bytes)), true),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn stored_bytes_decode_as_json_then_text_then_base64() {
        let record = StoredRecord {
            offset: 7,
            timestamp: 1,
            key: Some(b"plain text".to_vec()),
            value: Some(vec![0xff, 0x00]),
            headers: vec![
                Header { key: "a".into(), value: Some(b"x".to_vec()) },
                Header { key: "b".into(), value: Some(vec![0xc3]) },
                Header { key: "c".into(), value: None },
            ],
        };
        let json = record_json(2, &record);
        assert_eq!(json["partition"], 2);
        assert_eq!(json["offset"], 7);
        assert_eq!(json["key"], "plain text");
        assert!(json.get("key_encoding").is_none());
        assert_eq!(json["value"], "/wA=");
        assert_eq!(json["value_encoding"], "base64");
        assert_eq!(json["headers"], serde_json::json!({"a": "x", "b": "ww==", "c": null}));
        assert_eq!(json["header_encodings"], serde_json::json!({"b": "base64"}));
    }

    #[test]
    fn json_fields_round_trip_through_log_bytes() {
        let key = serde_json::json!({"id": 1});
        let value = serde_json::json!(["a", 2.5, null, {"nested": true}]);
        let record = to_log_record(Some(key.clone()), Some(value.clone()), BTreeMap::new(), None).unwrap();
        let stored = StoredRecord { offset: 0, timestamp: 0, key: record.key, value: record.value, headers: vec![] };
        let json = record_json(0, &stored);
        assert_eq!(json["key"], key);
        assert_eq!(json["value"], value);
        let string_value = to_log_record(None, Some(Value::String("42".into())), BTreeMap::new(), None).unwrap();
        assert_eq!(string_value.value.as_deref(), Some(&b"\"42\""[..]), "a JSON string stays a string");
        assert_eq!(to_log_record(None, Some(Value::Null), BTreeMap::new(), None).unwrap().value, None);
    }
}
