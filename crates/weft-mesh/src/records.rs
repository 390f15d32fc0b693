//! The one place where records cross between JSON and the log's bytes.
//!
//! Writing JSON records (REST produce, the CLI, the demo's generators):
//! - a **key** that is a JSON string is stored as its UTF-8 bytes, as Kafka's `StringSerializer` writes
//!   it and ksqlDB's default `KAFKA` key format reads it; any other JSON key is stored as its JSON text;
//!   `null` is no key;
//! - a **value** is encoded as the output port governing the topic declares ([`ValueEncoder`]): Avro in
//!   the Confluent wire format (magic byte 0, the schema id, the Avro datum) with the subject's latest
//!   schema, as Confluent's REST Proxy and serializers write it; JSON checked against the subject's
//!   JSON Schema and stored as its text (ksqlDB's `JSON` format); on a topic no product serves, its
//!   JSON text. `null` is no value (a tombstone).
//!
//! Reading ([`Decoder`]): bytes in the Confluent wire format whose schema id the registry knows are
//! decoded with that schema (Avro to JSON; JSON Schema payloads parsed), whoever wrote them (Weft, a
//! SQL sink, a Kafka client with Confluent's serializers); other values that are JSON come back as
//! that JSON; keys come back as JSON only when they are a JSON object or array (string keys are the
//! Kafka norm, so `"42"` written as a string reads back as a string), else as text; anything that is
//! not UTF-8 comes back as base64, flagged with `"key_encoding"` / `"value_encoding": "base64"`.
//! Headers are UTF-8 strings, or base64 flagged in `"header_encodings"`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};
use weft_catalog::{Format, TopicPort};
use weft_log::{Header, StoredRecord};
use weft_registry::{wire, ParsedSchema, Registry, SchemaType, VersionSpec};

use crate::error::{MeshError, Result};
use crate::raw_json::RawJsonRecord;

/// A record as JSON clients write it (the element of a REST produce request).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JsonRecord {
    /// Any JSON. A string is stored as its UTF-8 bytes (as Kafka's StringSerializer writes keys), any
    /// other JSON as its JSON text.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub key: Option<Value>,
    /// Any JSON: encoded as the topic's data product port declares (Avro in the Confluent wire format,
    /// JSON checked against its JSON Schema), else stored as its JSON text.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub value: Option<Value>,
    /// Header names to string values (`null` for a header without a value).
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// Epoch milliseconds; the server's clock when absent.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Target partition; otherwise Kafka's default partitioner: the key's partition, or one partition
    /// for all the request's records without a key.
    #[serde(default)]
    pub partition: Option<u32>,
}

/// A raw key as stored, as [`encode_key`] stores the same key parsed: a string without escapes is
/// its text between the quotes, borrowed.
fn encode_raw_key(key: Option<&str>) -> std::result::Result<Option<Cow<'_, [u8]>>, serde_json::Error> {
    let Some(text) = key else { return Ok(None) };
    if let Some(inner) = text.strip_prefix('"').and_then(|text| text.strip_suffix('"')) {
        if !inner.contains('\\') {
            return Ok(Some(Cow::Borrowed(inner.as_bytes())));
        }
    }
    Ok(encode_key(Some(serde_json::from_str::<Value>(text)?)).map(Cow::Owned))
}

/// A record of a produce call as the write path checks it: its key encoded (borrowed from the
/// request where it is stored as sent), its value as the caller gave it.
pub(crate) struct Incoming<'a> {
    pub key: Option<Cow<'a, [u8]>>,
    pub value: ValueInput<'a>,
    pub headers: BTreeMap<String, Option<String>>,
    pub timestamp: Option<i64>,
    pub partition: Option<u32>,
}

impl Incoming<'_> {
    pub fn from_json(record: JsonRecord) -> Incoming<'static> {
        Incoming {
            key: encode_key(record.key).map(Cow::Owned),
            value: ValueInput::Tree(record.value),
            headers: record.headers,
            timestamp: record.timestamp,
            partition: record.partition,
        }
    }

    /// `Err` is why the key is not JSON a tree holds (which [`RawJsonRecord::parse_request`] rules out).
    pub fn from_raw(record: RawJsonRecord<'_>) -> std::result::Result<Incoming<'_>, serde_json::Error> {
        Ok(Incoming {
            key: encode_raw_key(record.key)?,
            value: match record.value {
                None | Some("null") => ValueInput::Tree(None),
                Some(text) => ValueInput::Text { text, tree: None },
            },
            headers: record.headers,
            timestamp: record.timestamp,
            partition: record.partition,
        })
    }
}

/// A value of a produce call: a JSON tree (`None`: no value), or JSON text as a request sent it, parsed
/// only when a check needs the tree.
pub(crate) enum ValueInput<'a> {
    Tree(Option<Value>),
    Text { text: &'a str, tree: Option<Value> },
}

impl<'a> ValueInput<'a> {
    /// Builds the tree of a text value (once).
    pub fn parse(&mut self) -> std::result::Result<(), serde_json::Error> {
        if let ValueInput::Text { text, tree: tree @ None } = self {
            *tree = Some(serde_json::from_str(text)?);
        }
        Ok(())
    }

    /// The value's tree, when it has one and is not `null` (a tombstone); a text value only once parsed.
    pub fn tree(&self) -> Option<&Value> {
        match self {
            ValueInput::Tree(tree) | ValueInput::Text { tree, .. } => tree.as_ref().filter(|tree| !tree.is_null()),
        }
    }

    /// The value's JSON text: as sent, or written out from the tree (`None`: no value).
    pub fn json_bytes(&self) -> Option<Vec<u8>> {
        self.json_text().map(Cow::into_owned)
    }

    /// [`ValueInput::json_bytes`], borrowing the text as sent.
    pub fn json_text(&self) -> Option<Cow<'a, [u8]>> {
        match self {
            ValueInput::Tree(tree) => tree.as_ref().map(|tree| Cow::Owned(tree.to_string().into_bytes())),
            ValueInput::Text { text, .. } => Some(Cow::Borrowed(text.as_bytes())),
        }
    }

    /// What readers of the stored value will see, when known without decoding it (`Some(Null)` for a
    /// tombstone); a text value not parsed is decoded from the stored bytes if it is needed.
    pub fn into_view(self, encoder: &ValueEncoder) -> Option<Value> {
        match self {
            ValueInput::Tree(None) => Some(Value::Null),
            ValueInput::Tree(Some(tree)) | ValueInput::Text { tree: Some(tree), .. } => {
                encoder.reads_back_as_written(&tree).then_some(tree)
            }
            ValueInput::Text { tree: None, .. } => None,
        }
    }
}

/// A key as stored: see the module documentation.
pub fn encode_key(key: Option<Value>) -> Option<Vec<u8>> {
    match key {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.into_bytes()),
        Some(other) => Some(other.to_string().into_bytes()),
    }
}

/// Headers as stored: UTF-8 values.
pub fn encode_headers(headers: BTreeMap<String, Option<String>>) -> Vec<Header> {
    headers.into_iter().map(|(key, value)| Header { key, value: value.map(String::into_bytes) }).collect()
}

/// How the values written to one topic are encoded.
pub enum ValueEncoder {
    /// No product serves the topic: values are stored as their JSON text.
    Plain,
    /// Avro in the Confluent wire format, with the schema registered under `id`.
    Avro { id: u32, schema: Arc<ParsedSchema> },
    /// JSON text, checked against the JSON Schema registered under the port's subject.
    CheckedJson { schema: Arc<ParsedSchema> },
}

impl ValueEncoder {
    /// The encoder the output port governing a topic asks for (`None`: no product serves the topic).
    pub fn for_port(registry: &Registry, port: Option<&TopicPort>) -> Result<ValueEncoder> {
        let Some(TopicPort { product, port, .. }) = port else { return Ok(ValueEncoder::Plain) };
        let missing = || MeshError::PortSchemaMissing {
            product: product.to_string(),
            topic: port.topic.clone(),
            subject: port.schema_subject.clone(),
            format: port.format.to_string(),
        };
        match port.format {
            Format::Avro => {
                let latest =
                    registry.version(&port.schema_subject, VersionSpec::Latest, false).map_err(|_| missing())?;
                let schema = registry.parsed_schema(latest.id)?;
                if schema.schema_type() != SchemaType::Avro {
                    return Err(MeshError::InvalidRequest(format!(
                        "data product '{product}' declares avro records, but subject '{}' holds a {} schema",
                        port.schema_subject,
                        schema.schema_type().as_str()
                    )));
                }
                Ok(ValueEncoder::Avro { id: latest.id, schema })
            }
            Format::Json => match registry.version(&port.schema_subject, VersionSpec::Latest, false) {
                Ok(latest) => {
                    let schema = registry.parsed_schema(latest.id)?;
                    match schema.schema_type() {
                        SchemaType::Json => Ok(ValueEncoder::CheckedJson { schema }),
                        // A JSON port described by another kind of schema: keep the JSON as it is.
                        _ => Ok(ValueEncoder::Plain),
                    }
                }
                // A draft JSON port without a schema yet takes JSON as it is; publishing needs one.
                Err(_) => Ok(ValueEncoder::Plain),
            },
            Format::Protobuf => Err(MeshError::UnsupportedFormat {
                product: product.to_string(),
                topic: port.topic.clone(),
                format: port.format.to_string(),
            }),
        }
    }

    /// Whether encoding a value needs its tree (a JSON value is otherwise stored as its text).
    pub(crate) fn needs_tree(&self) -> bool {
        !matches!(self, ValueEncoder::Plain)
    }

    /// [`ValueEncoder::encode`] of a produce call's value; a text value is stored as sent (borrowed)
    /// where the encoding is JSON. A text value must have been parsed when [`ValueEncoder::needs_tree`].
    pub(crate) fn encode_input<'a>(
        &self,
        value: &ValueInput<'a>,
    ) -> std::result::Result<Option<Cow<'a, [u8]>>, (String, String)> {
        let tree = match (self, value) {
            (_, ValueInput::Tree(tree)) => return self.encode(tree.as_ref()).map(|bytes| bytes.map(Cow::Owned)),
            (ValueEncoder::Plain, ValueInput::Text { .. }) => return Ok(value.json_text()),
            (_, ValueInput::Text { tree: Some(tree), .. }) => tree,
            (_, ValueInput::Text { tree: None, .. }) => {
                return Err(("value".to_string(), "the value was not read as JSON".to_string()))
            }
        };
        match self {
            ValueEncoder::CheckedJson { schema } if !tree.is_null() => {
                schema.validate_json(tree).map_err(|e| (field_path(&e.path), e.message.clone()))?;
                Ok(value.json_text())
            }
            _ => self.encode(Some(tree)).map(|bytes| bytes.map(Cow::Owned)),
        }
    }

    /// The stored bytes of one value; `Err` is the reason it does not fit, with the field's path.
    pub fn encode(&self, value: Option<&Value>) -> std::result::Result<Option<Vec<u8>>, (String, String)> {
        let value = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        match self {
            ValueEncoder::Plain => Ok(Some(value.to_string().into_bytes())),
            ValueEncoder::Avro { id, schema } => {
                let avro = schema.as_avro().ok_or_else(|| ("value".to_string(), "not an Avro schema".to_string()))?;
                let mut out = Vec::with_capacity(64);
                wire::write_header(*id, &mut out);
                avro.encode_json(value, &mut out).map_err(|e| (field_path(&e.path), e.message.clone()))?;
                Ok(Some(out))
            }
            ValueEncoder::CheckedJson { schema } => {
                schema.validate_json(value).map_err(|e| (field_path(&e.path), e.message.clone()))?;
                Ok(Some(value.to_string().into_bytes()))
            }
        }
    }

    /// Whether readers of the encoded `value` will see `value` itself: always for JSON, whose text is
    /// stored; for Avro when decoding gives it back (every field present, unions plain, doubles as
    /// floats: see `AvroSchema::round_trips`), which is what well-formed writers send.
    pub fn reads_back_as_written(&self, value: &Value) -> bool {
        match self {
            ValueEncoder::Plain | ValueEncoder::CheckedJson { .. } => true,
            ValueEncoder::Avro { schema, .. } => schema.as_avro().is_some_and(|avro| avro.round_trips(value)),
        }
    }
}

/// The values of one write as every reader will see them (their JSON, `Null` for a tombstone), in the
/// write's order: handed over by a caller that holds them already (REST produce, for each value that
/// [`ValueEncoder::reads_back_as_written`]), the others decoded from the stored bytes, once, by the
/// first check of the write path that needs them.
#[derive(Debug, Default)]
pub struct ValueViews {
    views: Option<Vec<Value>>,
    /// Records whose view is still to be decoded, in order.
    missing: Vec<usize>,
}

impl ValueViews {
    /// The views the caller has, one per record of the write (`None`: decode that one if needed).
    pub fn given(views: Vec<Option<Value>>) -> Self {
        let missing = views.iter().enumerate().filter(|(_, v)| v.is_none()).map(|(i, _)| i).collect();
        ValueViews { views: Some(views.into_iter().map(Option::unwrap_or_default).collect()), missing }
    }

    /// The views, decoding from `values` (the records' stored values, in order) those not known.
    pub fn get<'r>(&mut self, registry: &Registry, values: impl Iterator<Item = Option<&'r [u8]>>) -> &[Value] {
        let mut decoder = Decoder::new(registry);
        match &mut self.views {
            None => self.views = Some(values.map(|value| decoder.value(value).json).collect()),
            Some(views) => {
                let mut missing = self.missing.iter().copied().peekable();
                for (i, value) in values.enumerate() {
                    if missing.peek() == Some(&i) {
                        missing.next();
                        if let Some(view) = views.get_mut(i) {
                            *view = decoder.value(value).json;
                        }
                    }
                }
            }
        }
        self.missing.clear();
        self.views.as_deref().unwrap_or_default()
    }

    /// The views, when all are known (given, or decoded by [`ValueViews::get`]).
    pub fn known(&self) -> Option<&[Value]> {
        self.views.as_deref().filter(|_| self.missing.is_empty())
    }
}

/// `value.amount` from a validation error's instance path (`/amount`, `$.amount` or empty).
fn field_path(path: &str) -> String {
    let trimmed = path.trim_start_matches('$').trim_start_matches('/').trim_start_matches('.');
    if trimmed.is_empty() {
        "value".to_string()
    } else {
        format!("value.{}", trimmed.replace('/', "."))
    }
}

/// A key or value as read: its JSON form, and how its bytes were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub json: Value,
    /// The bytes are not UTF-8 and `json` is their base64 text.
    pub base64: bool,
    /// The bytes were in the Confluent wire format with this schema id, and `json` is the decoded datum.
    pub schema_id: Option<u32>,
}

impl Decoded {
    fn plain(json: Value) -> Decoded {
        Decoded { json, base64: false, schema_id: None }
    }
}

/// A header value as read.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedHeader {
    pub name: String,
    pub value: Option<String>,
    /// `value` is base64 (the bytes are not UTF-8).
    pub base64: bool,
}

/// A record as the read path serves it: where it is, and its key, value and headers decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRecord {
    pub partition: u32,
    pub offset: u64,
    /// Epoch milliseconds.
    pub timestamp: i64,
    pub key: Decoded,
    pub value: Decoded,
    pub headers: Vec<DecodedHeader>,
}

impl DataRecord {
    /// The one JSON shape of a record: `{"partition", "offset", "timestamp", "key", "value",
    /// "headers"}`, plus `key_encoding` / `value_encoding` (`"base64"`), `key_schema_id` /
    /// `value_schema_id` and `header_encodings` when they apply.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("partition".into(), self.partition.into());
        object.insert("offset".into(), self.offset.into());
        object.insert("timestamp".into(), self.timestamp.into());
        for (field, decoded) in [("key", &self.key), ("value", &self.value)] {
            object.insert(field.into(), decoded.json.clone());
            if decoded.base64 {
                object.insert(format!("{field}_encoding"), "base64".into());
            }
            if let Some(id) = decoded.schema_id {
                object.insert(format!("{field}_schema_id"), id.into());
            }
        }
        let mut headers = Map::new();
        let mut encodings = Map::new();
        for header in &self.headers {
            headers.insert(header.name.clone(), header.value.clone().map_or(Value::Null, Value::String));
            if header.base64 {
                encodings.insert(header.name.clone(), "base64".into());
            }
        }
        object.insert("headers".into(), Value::Object(headers));
        if !encodings.is_empty() {
            object.insert("header_encodings".into(), Value::Object(encodings));
        }
        Value::Object(object)
    }
}

/// Decodes stored records; remembers the schemas it looked up, so a read resolves each id once.
pub struct Decoder<'a> {
    registry: &'a Registry,
    schemas: HashMap<u32, Option<Arc<ParsedSchema>>>,
    /// Keys and values as their stored bytes (base64), decoded no further.
    raw: bool,
}

impl<'a> Decoder<'a> {
    pub fn new(registry: &'a Registry) -> Self {
        Decoder { registry, schemas: HashMap::new(), raw: false }
    }

    /// A decoder that gives keys and values as the stored bytes, base64: what a Kafka consumer
    /// receives, for clients that decode the wire format themselves.
    pub fn raw(registry: &'a Registry) -> Self {
        Decoder { registry, schemas: HashMap::new(), raw: true }
    }

    pub fn record(&mut self, partition: u32, record: &StoredRecord) -> DataRecord {
        DataRecord {
            partition,
            offset: record.offset,
            timestamp: record.timestamp,
            key: self.key(record.key.as_deref()),
            value: self.value(record.value.as_deref()),
            headers: record.headers.iter().map(decode_header).collect(),
        }
    }

    pub fn key(&mut self, bytes: Option<&[u8]>) -> Decoded {
        let Some(bytes) = bytes else { return Decoded::plain(Value::Null) };
        if self.raw {
            return Decoded { json: Value::String(base64_encode(bytes)), base64: true, schema_id: None };
        }
        if let Some(decoded) = self.wire(bytes) {
            return decoded;
        }
        if matches!(bytes.first(), Some(b'{' | b'[')) {
            if let Ok(json) = serde_json::from_slice::<Value>(bytes) {
                return Decoded::plain(json);
            }
        }
        text_or_base64(bytes)
    }

    pub fn value(&mut self, bytes: Option<&[u8]>) -> Decoded {
        let Some(bytes) = bytes else { return Decoded::plain(Value::Null) };
        if self.raw {
            return Decoded { json: Value::String(base64_encode(bytes)), base64: true, schema_id: None };
        }
        if let Some(decoded) = self.wire(bytes) {
            return decoded;
        }
        if let Ok(json) = serde_json::from_slice::<Value>(bytes) {
            return Decoded::plain(json);
        }
        text_or_base64(bytes)
    }

    /// A value as data: the datum of Confluent-framed bytes with a schema the registry holds, else
    /// JSON text; `None` when the bytes are neither (the read path would serve them as text or base64).
    pub fn data(&mut self, bytes: &[u8]) -> Option<Value> {
        match self.wire(bytes) {
            Some(decoded) => Some(decoded.json),
            None => serde_json::from_slice::<Value>(bytes).ok(),
        }
    }

    /// The datum of Confluent-framed bytes, when the registry knows the id and the payload decodes.
    /// (JSON text never starts with a NUL byte, so a JSON value is never mistaken for a frame.)
    fn wire(&mut self, bytes: &[u8]) -> Option<Decoded> {
        let (id, payload) = wire::split(bytes).ok()?;
        let registry = self.registry;
        let schema = self.schemas.entry(id).or_insert_with(|| registry.parsed_schema(id).ok()).clone()?;
        let json = match schema.as_avro() {
            Some(avro) => avro.decode_to_json(payload).ok()?,
            None => serde_json::from_slice::<Value>(payload).ok()?,
        };
        Some(Decoded { json, base64: false, schema_id: Some(id) })
    }
}

fn text_or_base64(bytes: &[u8]) -> Decoded {
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded::plain(Value::String(text.to_string())),
        Err(_) => Decoded { json: Value::String(base64_encode(bytes)), base64: true, schema_id: None },
    }
}

fn decode_header(header: &Header) -> DecodedHeader {
    match header.value.as_deref().map(std::str::from_utf8) {
        None => DecodedHeader { name: header.key.clone(), value: None, base64: false },
        Some(Ok(text)) => DecodedHeader { name: header.key.clone(), value: Some(text.to_string()), base64: false },
        Some(Err(_)) => DecodedHeader {
            name: header.key.clone(),
            value: Some(base64_encode(header.value.as_deref().unwrap_or_default())),
            base64: true,
        },
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

/// The bytes of standard padded base64 text, or `None` when it is not that.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let sextet = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (i, chunk) in text.chunks(4).enumerate() {
        let last = i + 1 == text.len() / 4;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - padding] {
            n = (n << 6) | u32::from(sextet(c)?);
        }
        n <<= 6 * padding as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - padding]);
    }
    Some(out)
}

/// Bytes of key, value and headers (what the produced-bytes metric counts).
pub fn record_size(record: &weft_log::Record) -> usize {
    record_ref_size(&record.into())
}

/// [`record_size`] of a record borrowed for an append.
pub fn record_ref_size(record: &weft_log::RecordRef<'_>) -> usize {
    let bytes = |field: Option<&[u8]>| field.map_or(0, <[u8]>::len);
    bytes(record.key)
        + bytes(record.value)
        + record
            .headers
            .iter()
            .map(|header| header.key.len() + header.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
}

/// [`record_size`] of a record as read back.
pub fn stored_record_size(record: &StoredRecord) -> usize {
    stored_size(&record.key, &record.value, &record.headers)
}

fn stored_size(key: &Option<Vec<u8>>, value: &Option<Vec<u8>>, headers: &[Header]) -> usize {
    let bytes = |field: &Option<Vec<u8>>| field.as_ref().map_or(0, Vec::len);
    bytes(key) + bytes(value) + headers.iter().map(|header| header.key.len() + bytes(&header.value)).sum::<usize>()
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
            assert_eq!(base64_decode(expected).as_deref(), Some(input.as_bytes()));
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0x00]), "//4A");
        assert_eq!(base64_decode("//4A"), Some(vec![0xff, 0xfe, 0x00]));
        for bad in ["Zg=", "Zg=a", "Z===", "Zg==Zg==", "Zm9v!A==", "é123"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn string_keys_are_their_utf8_bytes_and_other_keys_their_json() {
        assert_eq!(encode_key(Some(Value::String("a".into()))), Some(b"a".to_vec()));
        assert_eq!(encode_key(Some(serde_json::json!(42))), Some(b"42".to_vec()));
        assert_eq!(encode_key(Some(serde_json::json!({"id": 1}))), Some(br#"{"id":1}"#.to_vec()));
        assert_eq!(encode_key(Some(Value::Null)), None);
        assert_eq!(encode_key(None), None);
    }

    fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().expect("dir");
        let log = weft_log::EmbeddedLog::open(weft_log::LogOptions::new(dir.path())).expect("log");
        (dir, Registry::open(log).expect("registry"))
    }

    #[test]
    fn stored_bytes_decode_as_wire_format_then_json_then_text_then_base64() {
        let (_dir, registry) = registry();
        let mut decoder = Decoder::new(&registry);
        let record = StoredRecord {
            offset: 7,
            timestamp: 1,
            key: Some(b"12".to_vec()),
            value: Some(vec![0xff, 0x00]),
            headers: vec![
                Header { key: "a".into(), value: Some(b"x".to_vec()) },
                Header { key: "b".into(), value: Some(vec![0xc3]) },
                Header { key: "c".into(), value: None },
            ],
        };
        let json = decoder.record(2, &record).to_json();
        assert_eq!(json["partition"], 2);
        assert_eq!(json["offset"], 7);
        assert_eq!(json["key"], "12", "a key that is not an object or array reads as text");
        assert!(json.get("key_encoding").is_none());
        assert_eq!(json["value"], "/wA=");
        assert_eq!(json["value_encoding"], "base64");
        assert_eq!(json["headers"], serde_json::json!({"a": "x", "b": "ww==", "c": null}));
        assert_eq!(json["header_encodings"], serde_json::json!({"b": "base64"}));
        assert_eq!(decoder.key(Some(br#"{"id":1}"#)).json, serde_json::json!({"id": 1}));
        assert_eq!(decoder.value(Some(b"42")).json, serde_json::json!(42));
        assert_eq!(decoder.value(Some(b"plain text")).json, serde_json::json!("plain text"));
        // A frame with an unknown id is not decoded: base64, since it is not UTF-8 text... or text.
        let unknown = decoder.value(Some(&[0, 0, 0, 0, 99, 2]));
        assert_eq!(unknown.schema_id, None);
    }

    #[test]
    fn views_not_given_are_decoded_once_and_only_those() {
        let (_dir, registry) = registry();
        let stored: Vec<Option<Vec<u8>>> = vec![Some(br#"{"a":1}"#.to_vec()), None, Some(b"[2]".to_vec())];
        let bytes = || stored.iter().map(|v| v.as_deref());
        let mut views = ValueViews::given(vec![Some(serde_json::json!("as given")), None, None]);
        assert!(views.known().is_none(), "two views are still to decode");
        let got = views.get(&registry, bytes()).to_vec();
        assert_eq!(got, [serde_json::json!("as given"), Value::Null, serde_json::json!([2])]);
        assert_eq!(views.known().map(<[Value]>::len), Some(3));
        let mut decoded = ValueViews::default();
        assert_eq!(decoded.get(&registry, bytes())[0], serde_json::json!({"a": 1}));
    }

    #[test]
    fn avro_values_round_trip_through_the_wire_format() {
        let (_dir, registry) = registry();
        let schema = r#"{"type":"record","name":"Order","fields":[
            {"name":"id","type":"string"},{"name":"amount","type":"double"},
            {"name":"coupon","type":["null","string"],"default":null}]}"#;
        let definition = weft_registry::SchemaDefinition::avro(schema);
        let id = registry.register("orders-value", &weft_registry::RegisterRequest::new(definition)).expect("register");
        let encoder = ValueEncoder::Avro { id, schema: registry.parsed_schema(id).expect("parsed") };
        let value = serde_json::json!({"id": "o-1", "amount": 12.5, "coupon": null});
        let bytes = encoder.encode(Some(&value)).expect("encode").expect("bytes");
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, id as u8], "magic byte and schema id");
        let decoded = Decoder::new(&registry).value(Some(&bytes));
        assert_eq!((decoded.json, decoded.schema_id), (value, Some(id)));
        let (field, reason) = encoder.encode(Some(&serde_json::json!({"id": "o-2", "amount": "lots"}))).unwrap_err();
        assert_eq!(field, "value.amount", "{reason}");
    }
}
