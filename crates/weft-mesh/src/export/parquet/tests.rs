use std::io::Write as _;

use parquet::basic::{LogicalType, Repetition, TimeUnit as ParquetUnit, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{json, Value};
use weft_schema::{FieldType, TimeUnit, TypedField};

use super::*;
use crate::records::Decoded;

fn field(name: &str, ty: FieldType, nullable: bool) -> TypedField {
    TypedField { name: name.into(), ty, nullable }
}

fn column(name: &str, ty: FieldType) -> Column {
    Column { name: name.into(), field: Some(name.into()), ty }
}

fn record(offset: u64, value: Value) -> DataRecord {
    let decoded = |json| Decoded { json, base64: false, schema_id: None };
    DataRecord {
        partition: 0,
        offset,
        timestamp: 1_700_000_000_000,
        key: decoded(json!(offset)),
        value: decoded(value),
        headers: Vec::new(),
    }
}

/// Writes `values` under `columns` to a Parquet file and reads it back: the file's reader.
fn export(columns: &[Column], values: Vec<Value>) -> (SerializedFileReader<std::fs::File>, BTreeMap<String, u64>) {
    let mut bytes = Vec::new();
    let mut writer = Writer::new(&mut bytes, columns).expect("writer");
    for (i, value) in values.into_iter().enumerate() {
        writer.push(&record(i as u64, value)).expect("push");
    }
    let unfit = writer.finish().expect("finish");
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(&bytes).expect("write");
    (SerializedFileReader::new(file).expect("a Parquet file"), unfit)
}

/// A value read back, as JSON a test can state: dates, times and decimals tagged with their type.
fn json_of(field: &Field) -> Value {
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => json!(b),
        Field::Int(n) => json!(n),
        Field::Long(n) => json!(n),
        Field::Float(f) => json!(f),
        Field::Double(f) => json!(f),
        Field::Str(s) => json!(s),
        Field::Bytes(b) => json!({ "bytes": b.data() }),
        Field::Date(d) => json!({ "date": d }),
        Field::TimeMillis(t) => json!({ "time_ms": t }),
        Field::TimeMicros(t) => json!({ "time_us": t }),
        Field::TimestampMillis(t) => json!({ "ts_ms": t }),
        Field::TimestampMicros(t) => json!({ "ts_us": t }),
        Field::Decimal(d) => {
            let unscaled = unscaled_of_bytes(d.data()).expect("decimal bytes");
            json!({ "decimal": unscaled.to_string(), "scale": d.scale() })
        }
        Field::Group(row) => Value::Object(row.get_column_iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
        Field::ListInternal(list) => Value::Array(list.elements().iter().map(json_of).collect()),
        Field::MapInternal(map) => Value::Object(
            map.entries()
                .iter()
                .map(|(k, v)| (json_of(k).as_str().unwrap_or_default().to_string(), json_of(v)))
                .collect(),
        ),
        other => json!(format!("unexpected {other:?}")),
    }
}

/// The value columns of every row read back.
fn rows(reader: &SerializedFileReader<std::fs::File>) -> Vec<Value> {
    reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| {
            let row = row.expect("row");
            Value::Object(
                row.get_column_iter()
                    .filter(|(name, _)| !["partition", "offset", "timestamp", "key"].contains(&name.as_str()))
                    .map(|(k, v)| (k.clone(), json_of(v)))
                    .collect(),
            )
        })
        .collect()
}

fn unfit_metadata(reader: &SerializedFileReader<std::fs::File>) -> Value {
    let kv = reader.metadata().file_metadata().key_value_metadata().expect("key-value metadata");
    let entry = kv.iter().find(|kv| kv.key == UNFIT_KEY).expect("the unfit counts");
    serde_json::from_str(entry.value.as_deref().unwrap_or_default()).expect("JSON")
}

#[test]
fn leaf_types_map_to_parquet_physical_and_logical_types() {
    let columns = vec![
        column("flag", FieldType::Boolean),
        column("qty", FieldType::Int),
        column("n", FieldType::Long),
        column("ratio", FieldType::Float),
        column("amount", FieldType::Double),
        column("name", FieldType::String),
        column("raw", FieldType::Bytes),
        column("small", FieldType::Decimal { precision: 9, scale: 2 }),
        column("medium", FieldType::Decimal { precision: 18, scale: 4 }),
        column("large", FieldType::Decimal { precision: 30, scale: 3 }),
        column("day", FieldType::Date),
        column("at", FieldType::Time(TimeUnit::Millis)),
        column("placed", FieldType::Timestamp { unit: TimeUnit::Millis, utc: true }),
        column("seen", FieldType::Timestamp { unit: TimeUnit::Micros, utc: false }),
        column("other", FieldType::Json),
    ];
    let (reader, _) = export(&columns, Vec::new());
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let leaves: Vec<(String, Physical, Option<LogicalType>, Repetition)> = schema
        .columns()
        .iter()
        .map(|c| {
            (
                c.name().to_string(),
                c.physical_type(),
                c.logical_type_ref().cloned(),
                c.self_type().get_basic_info().repetition(),
            )
        })
        .collect();
    let optional = Repetition::OPTIONAL;
    let string = Some(LogicalType::String);
    assert_eq!(
        leaves,
        vec![
            ("partition".into(), Physical::INT32, None, Repetition::REQUIRED),
            ("offset".into(), Physical::INT64, None, Repetition::REQUIRED),
            (
                "timestamp".into(),
                Physical::INT64,
                Some(LogicalType::timestamp(true, ParquetUnit::MILLIS)),
                Repetition::REQUIRED
            ),
            ("key".into(), Physical::BYTE_ARRAY, string.clone(), optional),
            ("flag".into(), Physical::BOOLEAN, None, optional),
            ("qty".into(), Physical::INT32, None, optional),
            ("n".into(), Physical::INT64, None, optional),
            ("ratio".into(), Physical::FLOAT, None, optional),
            ("amount".into(), Physical::DOUBLE, None, optional),
            ("name".into(), Physical::BYTE_ARRAY, string.clone(), optional),
            ("raw".into(), Physical::BYTE_ARRAY, None, optional),
            ("small".into(), Physical::INT32, Some(LogicalType::decimal(2, 9)), optional),
            ("medium".into(), Physical::INT64, Some(LogicalType::decimal(4, 18)), optional),
            ("large".into(), Physical::BYTE_ARRAY, Some(LogicalType::decimal(3, 30)), optional),
            ("day".into(), Physical::INT32, Some(LogicalType::Date), optional),
            ("at".into(), Physical::INT32, Some(LogicalType::time(true, ParquetUnit::MILLIS)), optional),
            ("placed".into(), Physical::INT64, Some(LogicalType::timestamp(true, ParquetUnit::MILLIS)), optional),
            ("seen".into(), Physical::INT64, Some(LogicalType::timestamp(false, ParquetUnit::MICROS)), optional),
            ("other".into(), Physical::BYTE_ARRAY, string, optional),
        ]
    );
}

#[test]
fn leaf_values_read_back_as_written() {
    let columns = vec![
        column("flag", FieldType::Boolean),
        column("qty", FieldType::Int),
        column("n", FieldType::Long),
        column("name", FieldType::String),
        column("raw", FieldType::Bytes),
        column("small", FieldType::Decimal { precision: 9, scale: 2 }),
        column("large", FieldType::Decimal { precision: 30, scale: 3 }),
        column("day", FieldType::Date),
        column("placed", FieldType::Timestamp { unit: TimeUnit::Millis, utc: true }),
        column("when", FieldType::Timestamp { unit: TimeUnit::Micros, utc: true }),
        column("other", FieldType::Json),
    ];
    // Avro's JSON form of decimal bytes: 0x04d2 = 1234, i.e. 12.34 at scale 2; 0xff85 = -123, i.e. -0.123.
    let values = vec![
        json!({"flag": true, "qty": 7, "n": 9_007_199_254_740_993_i64, "name": "Zoë", "raw": "\u{0}\u{ff}",
               "small": "\u{4}\u{d2}", "large": "\u{ff}\u{85}", "day": "2024-02-29",
               "placed": 1_714_566_600_123_i64, "when": "2024-05-01T12:30:00.123456+02:00", "other": {"a": [1]}}),
        json!({"flag": null, "small": 12.5, "large": "12345678901234567890123.456", "day": 19_782,
               "placed": "1970-01-01T00:00:01Z", "when": "1969-12-31T23:59:59.5Z", "other": "text"}),
    ];
    let (reader, unfit) = export(&columns, values);
    assert_eq!(
        rows(&reader),
        vec![
            json!({"flag": true, "qty": 7, "n": 9_007_199_254_740_993_i64, "name": "Zoë", "raw": {"bytes": [0, 255]},
                   "small": {"decimal": "1234", "scale": 2}, "large": {"decimal": "-123", "scale": 3},
                   "day": {"date": 19_782}, "placed": {"ts_ms": 1_714_566_600_123_i64},
                   "when": {"ts_us": 1_714_559_400_123_456_i64}, "other": "{\"a\":[1]}"}),
            // A decimal's text is bytes in Avro's JSON form: "12345...456" is 27 bytes, too many.
            json!({"flag": null, "qty": null, "n": null, "name": null, "raw": null,
                   "small": {"decimal": "1250", "scale": 2}, "large": null,
                   "day": {"date": 19_782}, "placed": {"ts_ms": 1000}, "when": {"ts_us": -500_000}, "other": "text"}),
        ]
    );
    assert_eq!(unfit, BTreeMap::from([("large".to_string(), 1)]));
}

#[test]
fn records_lists_and_maps_are_groups_with_the_schemas_nullability() {
    let address =
        FieldType::Record(vec![field("city", FieldType::String, false), field("zip", FieldType::String, true)]);
    let columns = vec![
        column("address", address),
        column("tags", FieldType::Array(Box::new(field("element", FieldType::String, true)))),
        column("scores", FieldType::Map(Box::new(field("value", FieldType::Long, false)))),
        column(
            "lines",
            FieldType::Array(Box::new(field(
                "element",
                FieldType::Record(vec![
                    field("sku", FieldType::String, false),
                    field("sizes", FieldType::Array(Box::new(field("element", FieldType::Int, false))), false),
                ]),
                false,
            ))),
        ),
    ];
    let values = vec![
        json!({"address": {"city": "Oslo", "zip": "0150"}, "tags": ["a", null, "b"], "scores": {"x": 1, "y": 2},
               "lines": [{"sku": "s1", "sizes": [1, 2]}, {"sku": "s2", "sizes": []}]}),
        json!({"address": {"city": "Rome"}, "tags": [], "scores": {}, "lines": []}),
        json!({"address": null, "tags": null}),
        Value::Null,
    ];
    let (reader, unfit) = export(&columns, values);
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let levels: Vec<(String, i16, i16)> =
        schema.columns().iter().skip(4).map(|c| (c.path().string(), c.max_def_level(), c.max_rep_level())).collect();
    assert_eq!(
        levels,
        vec![
            ("address.city".into(), 1, 0),
            ("address.zip".into(), 2, 0),
            ("tags.list.element".into(), 3, 1),
            ("scores.key_value.key".into(), 2, 1),
            ("scores.key_value.value".into(), 2, 1),
            ("lines.list.element.sku".into(), 2, 1),
            ("lines.list.element.sizes.list.element".into(), 3, 2),
        ]
    );
    let tags = schema.root_schema().get_fields()[5].clone();
    assert_eq!(tags.get_basic_info().logical_type_ref(), Some(&LogicalType::List));
    assert_eq!(
        rows(&reader),
        vec![
            json!({"address": {"city": "Oslo", "zip": "0150"}, "tags": ["a", null, "b"], "scores": {"x": 1, "y": 2},
                   "lines": [{"sku": "s1", "sizes": [1, 2]}, {"sku": "s2", "sizes": []}]}),
            json!({"address": {"city": "Rome", "zip": null}, "tags": [], "scores": {}, "lines": []}),
            json!({"address": null, "tags": null, "scores": null, "lines": null}),
            json!({"address": null, "tags": null, "scores": null, "lines": null}),
        ]
    );
    assert!(unfit.is_empty());
    assert_eq!(unfit_metadata(&reader), json!({}));
}

#[test]
fn a_value_that_does_not_fit_is_null_at_the_nearest_nullable_level_and_counted() {
    let address = FieldType::Record(vec![field("city", FieldType::String, false), field("zip", FieldType::Int, true)]);
    let columns = vec![
        column("n", FieldType::Long),
        column("address", address),
        column("tags", FieldType::Array(Box::new(field("element", FieldType::Long, false)))),
        column("day", FieldType::Date),
        column("placed", FieldType::Timestamp { unit: TimeUnit::Micros, utc: true }),
        column("price", FieldType::Decimal { precision: 4, scale: 2 }),
    ];
    let values = vec![
        json!({"n": "12", "address": {"city": 5, "zip": 1}, "tags": [1, "two"], "day": "2023-02-29",
               "placed": "yesterday", "price": 100.0}),
        json!({"n": 1.5, "address": {"city": "Oslo", "zip": "0150"}, "tags": "1", "day": "2023-02-28",
               "placed": "2023-02-28T00:00:00", "price": 0.125}),
        json!({"n": 2.0, "address": {"zip": 1}, "tags": [3], "price": 99.99}),
    ];
    let (reader, unfit) = export(&columns, values);
    assert_eq!(
        rows(&reader),
        vec![
            json!({"n": null, "address": null, "tags": null, "day": null, "placed": null, "price": null}),
            // The city fits, so only the zip is nulled; a timestamp needs its zone.
            json!({"n": null, "address": {"city": "Oslo", "zip": null}, "tags": null, "day": {"date": 19_416},
                   "placed": null, "price": null}),
            json!({"n": 2, "address": null, "tags": [3], "day": null, "placed": null,
                   "price": {"decimal": "9999", "scale": 2}}),
        ]
    );
    let expected = BTreeMap::from(
        [("n", 2), ("address", 2), ("address.zip", 1), ("tags", 2), ("day", 1), ("placed", 2), ("price", 2)]
            .map(|(k, v)| (k.to_string(), v)),
    );
    assert_eq!(unfit, expected);
    assert_eq!(unfit_metadata(&reader), serde_json::to_value(&expected).expect("JSON"));
}

#[test]
fn row_groups_split_every_batch() {
    let columns = vec![column("tags", FieldType::Array(Box::new(field("element", FieldType::Long, false))))];
    let values: Vec<Value> = (0..EXPORT_BATCH as i64 + 3).map(|i| json!({"tags": [i, i + 1]})).collect();
    let (reader, _) = export(&columns, values);
    assert_eq!(reader.metadata().num_row_groups(), 2);
    let all = rows(&reader);
    assert_eq!(all.len(), EXPORT_BATCH + 3);
    assert_eq!(all[EXPORT_BATCH + 2], json!({"tags": [EXPORT_BATCH as i64 + 2, EXPORT_BATCH as i64 + 3]}));
}

#[test]
fn decimal_text_is_read_exactly_or_not_at_all() {
    assert_eq!(unscaled_of_text("12.5", 2), Some(1250));
    assert_eq!(unscaled_of_text("-0.125", 3), Some(-125));
    assert_eq!(unscaled_of_text("1e2", 1), Some(1000));
    assert_eq!(unscaled_of_text("1.5E-1", 2), Some(15));
    assert_eq!(unscaled_of_text("100.0", 0), Some(100));
    assert_eq!(unscaled_of_text("0.125", 2), None);
    assert_eq!(unscaled_of_text("abc", 2), None);
    assert_eq!(minimal_bytes(1234), vec![0x04, 0xd2]);
    assert_eq!(minimal_bytes(-123), vec![0x85]);
    assert_eq!(minimal_bytes(128), vec![0x00, 0x80]);
    assert_eq!(minimal_bytes(-129), vec![0xff, 0x7f]);
    assert_eq!(unscaled_of_bytes(&[0xff, 0x7f]), Some(-129));
    assert_eq!(unscaled_of_bytes(&[]), None);
}

#[test]
fn timestamps_and_dates_parse_rfc_3339() {
    assert_eq!(parse_date("1970-01-01"), Some(0));
    assert_eq!(parse_date("2000-03-01"), Some(11_017));
    assert_eq!(parse_date("2001-02-29"), None);
    assert_eq!(parse_date("2001-1-01"), None);
    assert_eq!(parse_timestamp_micros("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_timestamp_micros("1970-01-01t01:00:00.25+01:00"), Some(250_000));
    assert_eq!(parse_timestamp_micros("2000-03-01 00:00:00.1234567z"), Some(11_017 * 86_400_000_000 + 123_456));
    assert_eq!(parse_timestamp_micros("1970-01-01T00:00:00"), None, "a zone is required");
    assert_eq!(parse_timestamp_micros("1970-01-01T24:00:00Z"), None);
    assert_eq!(parse_timestamp_micros("1970-01-01T00:00:00.Z"), None);
}
