//! What people want to see about a product's data, computed through the read path from its output
//! port's records: a profile of each field over the most recent records, and throughput and freshness.
//!
//! - [`Mesh::profile`]: the newest `limit` records (at most [`MAX_PROFILE_RECORDS`]) across the port's
//!   partitions, decoded as every reader sees them (Avro through its schema); per field (nested objects
//!   flattened to dotted paths): the JSON types seen, how many records have a value and how many a null
//!   or nothing, the distinct values (exact within the sample), min/max/mean and a histogram for
//!   numbers, string lengths, and the most frequent values; the schema's type and documentation for
//!   fields the port's subject declares.
//! - [`Mesh::stats`]: records held, the last record's time (freshness), and records per minute over
//!   the last `window_minutes` from the records' timestamps, in buckets aligned to whole minutes.
//!   Reading stops after [`MAX_WINDOW_RECORDS`] records and says so (`truncated`).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use weft_catalog::{FieldInfo, SchemaLookup};
use weft_log::ReadLimits;

use crate::context::{now_ms, RequestContext};
use crate::data::DataPlane;
use crate::error::MeshError;
use crate::read::{Resolved, READ_MAX_BYTES};
use crate::records::DataRecord;
use crate::schemas::RegistrySchemas;
use crate::Mesh;

/// The most records a profile reads.
pub const MAX_PROFILE_RECORDS: usize = 10_000;
/// The most records a stats window counts; beyond, the answer is `truncated`.
pub const MAX_WINDOW_RECORDS: usize = 1_000_000;
/// The longest stats window (a day of minutes).
pub const MAX_WINDOW_MINUTES: u32 = 1440;
const MINUTE_MS: i64 = 60_000;
/// Most frequent values reported per field.
const TOP_VALUES: usize = 10;
/// Histogram bins of a numeric field.
const BINS: usize = 10;
/// Nested objects deeper than this are profiled as one `object` field.
const MAX_DEPTH: usize = 4;

/// A profile of a product port's newest records.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub product: String,
    pub port: String,
    pub topic: String,
    /// Records profiled.
    pub records: usize,
    /// Oldest and newest timestamps of the records profiled.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub fields: Vec<FieldProfile>,
}

/// Records held, freshness and throughput of a product port.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub product: String,
    pub port: String,
    pub topic: String,
    pub partitions: u32,
    /// Records held: the offsets between each partition's earliest and latest (compaction may have
    /// removed some of them).
    pub records: u64,
    /// The newest timestamp among the partitions' last records; `null` when the port holds no records.
    pub last_record_at: Option<i64>,
    /// Milliseconds between the last record and now.
    pub freshness_ms: Option<i64>,
    /// The product's freshness objective in seconds, when it declares one.
    pub freshness_objective_seconds: Option<u64>,
    /// Whether the newest record is older than the objective, or there is none (`None`: no objective).
    pub stale: Option<bool>,
    /// The window: `[from, to)` in epoch milliseconds, minute-aligned.
    pub from: i64,
    pub to: i64,
    pub bucket_ms: i64,
    /// One bucket per minute of the window, oldest first.
    pub throughput: Vec<Bucket>,
    /// Records counted in the window.
    pub window_records: u64,
    /// Whether counting stopped at the limit of records read (the counts are then lower bounds).
    pub truncated: bool,
}

/// The one freshness rule: a product is stale when it has no record, or its newest is older than its
/// objective.
pub fn is_stale(last_record_at: Option<i64>, objective_seconds: u64, now: i64) -> bool {
    match last_record_at {
        None => true,
        Some(at) => now.saturating_sub(at) > i64::try_from(objective_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
    }
}

impl Mesh {
    /// A profile of each field over the newest `limit` records of a product's output port.
    pub fn profile(&self, ctx: &RequestContext, resolved: &Resolved, limit: usize) -> Result<Profile, MeshError> {
        if !(1..=MAX_PROFILE_RECORDS).contains(&limit) {
            return Err(MeshError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_PROFILE_RECORDS}, not {limit}"
            )));
        }
        let records = self.data().newest(ctx.principal(), &resolved.topic, limit)?;
        let (product, port, subject) = match &resolved.served {
            Some(s) => (s.product.id().to_string(), s.port.name.clone(), s.port.schema_subject.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        let schema = if subject.is_empty() {
            Vec::new()
        } else {
            RegistrySchemas::new(self.registry_arc()).latest_fields(&subject).unwrap_or_default()
        };
        Ok(Profile {
            product,
            port,
            topic: resolved.topic.clone(),
            records: records.len(),
            from: records.iter().map(|r| r.timestamp).min(),
            to: records.iter().map(|r| r.timestamp).max(),
            fields: profile_records(&records, &schema),
        })
    }

    /// Records held, freshness and records per minute over the last `window_minutes`.
    pub fn stats(&self, ctx: &RequestContext, resolved: &Resolved, window_minutes: u32) -> Result<Stats, MeshError> {
        if !(1..=MAX_WINDOW_MINUTES).contains(&window_minutes) {
            return Err(MeshError::InvalidRequest(format!(
                "windowMinutes must be between 1 and {MAX_WINDOW_MINUTES}, not {window_minutes}"
            )));
        }
        let now = now_ms();
        let to = (now.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
        let from = to - i64::from(window_minutes) * MINUTE_MS;
        let counted = count_window(self.data(), ctx.principal(), &resolved.topic, from, to, window_minutes as usize)?;
        let Counted { partitions, records, last_record_at, buckets, window_records, truncated } = counted;
        let (product, port, objective) = match &resolved.served {
            Some(s) => {
                (s.product.id().to_string(), s.port.name.clone(), s.product.spec.freshness_objective.map(|f| f.seconds))
            }
            None => (String::new(), String::new(), None),
        };
        Ok(Stats {
            product,
            port,
            topic: resolved.topic.clone(),
            partitions,
            records,
            last_record_at,
            freshness_ms: last_record_at.map(|at| (now - at).max(0)),
            freshness_objective_seconds: objective,
            stale: objective.map(|seconds| is_stale(last_record_at, seconds, now)),
            from,
            to,
            bucket_ms: MINUTE_MS,
            throughput: buckets
                .into_iter()
                .enumerate()
                .map(|(i, count)| Bucket { start: from + i as i64 * MINUTE_MS, count })
                .collect(),
            window_records,
            truncated,
        })
    }
}

/// A value and how often it occurs.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: Value,
    pub count: u64,
}

/// One histogram bin: values in `[from, to)` (the last bin includes `to`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub count: u64,
}

/// The profile of one field.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldProfile {
    /// Dotted path for nested fields (`address.city`); `(value)` when values are not objects.
    pub name: String,
    /// The JSON type seen: string, integer, number, boolean, object, array; `mixed` when several
    /// (listed in `types`); `null` when only nulls were seen.
    #[serde(rename = "type")]
    pub kind: String,
    pub types: Vec<String>,
    /// The type the port's schema declares, when it declares this field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// Records with a non-null value.
    pub count: u64,
    /// Records where the field is null or absent.
    pub nulls: u64,
    /// Distinct non-null values (exact within the sample).
    pub distinct: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The most frequent values, most frequent first (ties by value).
    pub top_values: Vec<ValueCount>,
    /// Numeric fields only.
    pub histogram: Vec<Bin>,
}

/// What is gathered about one field while scanning.
#[derive(Default)]
struct Accumulator {
    present: u64,
    types: Vec<&'static str>,
    /// Canonical JSON text of each value to its count and the value.
    values: HashMap<String, (u64, Value)>,
    numbers: Vec<f64>,
    min_length: Option<usize>,
    max_length: Option<usize>,
}

impl Accumulator {
    fn add(&mut self, value: &Value) {
        let kind = json_kind(value);
        if !self.types.contains(&kind) {
            self.types.push(kind);
        }
        if value.is_null() {
            return;
        }
        self.present += 1;
        match value {
            Value::Number(n) => {
                if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                    self.numbers.push(f);
                }
            }
            Value::String(s) => {
                let length = s.chars().count();
                self.min_length = Some(self.min_length.map_or(length, |m| m.min(length)));
                self.max_length = Some(self.max_length.map_or(length, |m| m.max(length)));
            }
            _ => {}
        }
        let text = value.to_string();
        self.values.entry(text).or_insert_with(|| (0, value.clone())).0 += 1;
    }

    fn finish(self, name: String, records: u64, schema: Option<&FieldInfo>) -> FieldProfile {
        let non_null: Vec<&str> = self.types.iter().copied().filter(|t| *t != "null").collect();
        let kind = match non_null.as_slice() {
            [] => "null".to_string(),
            [one] => one.to_string(),
            // Integers among numbers are still numbers.
            several if several.iter().all(|t| *t == "integer" || *t == "number") => "number".to_string(),
            _ => "mixed".to_string(),
        };
        let (min, max, mean) = if self.numbers.is_empty() {
            (None, None, None)
        } else {
            let min = self.numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let max = self.numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = self.numbers.iter().sum::<f64>() / self.numbers.len() as f64;
            (Some(min), Some(max), Some(mean))
        };
        let histogram = match (min, max) {
            (Some(min), Some(max)) => histogram(&self.numbers, min, max, kind == "integer"),
            _ => Vec::new(),
        };
        let distinct = self.values.len() as u64;
        let mut top: Vec<(String, u64, Value)> =
            self.values.into_iter().map(|(text, (count, value))| (text, count, value)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let top_values = top
            .into_iter()
            .take(TOP_VALUES)
            // Objects and arrays are rarely informative as "top values" and can be large.
            .filter(|(_, _, value)| !value.is_object() && !value.is_array())
            .map(|(_, count, value)| ValueCount { value, count })
            .collect();
        FieldProfile {
            name,
            kind,
            types: self.types.iter().map(|t| t.to_string()).collect(),
            schema_type: schema.map(|f| f.field_type.clone()),
            doc: schema.and_then(|f| f.doc.clone()),
            count: self.present,
            nulls: records.saturating_sub(self.present),
            distinct,
            min,
            max,
            mean,
            min_length: self.min_length,
            max_length: self.max_length,
            top_values,
            histogram,
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Equal-width bins over `[min, max]`; integer fields with a small range get one bin per value.
fn histogram(numbers: &[f64], min: f64, max: f64, integers: bool) -> Vec<Bin> {
    if numbers.is_empty() {
        return Vec::new();
    }
    if max <= min {
        return vec![Bin { from: min, to: max, count: numbers.len() as u64 }];
    }
    let span = max - min;
    let (bins, width) =
        if integers && span < BINS as f64 { (span as usize + 1, 1.0) } else { (BINS, span / BINS as f64) };
    let mut counts = vec![0u64; bins];
    for &n in numbers {
        let index = (((n - min) / width) as usize).min(bins - 1);
        counts[index] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| {
            let from = min + width * i as f64;
            let to = if i == bins - 1 && !integers { max } else { from + width };
            Bin { from, to, count }
        })
        .collect()
}

/// Visits every leaf of `value` (objects flattened to dotted paths, up to [`MAX_DEPTH`]).
fn visit<'a>(prefix: &str, object: &'a Map<String, Value>, depth: usize, out: &mut Vec<(String, &'a Value)>) {
    for (key, value) in object {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            // The object itself is a field too (present or null), and so is each of its leaves.
            Value::Object(inner) if depth < MAX_DEPTH && !inner.is_empty() => {
                out.push((path.clone(), value));
                visit(&path, inner, depth + 1, out);
            }
            _ => out.push((path, value)),
        }
    }
}

/// The profile of `records` (pure: the handler reads, this computes).
pub fn profile_records(records: &[DataRecord], schema: &[FieldInfo]) -> Vec<FieldProfile> {
    let mut order: Vec<String> = Vec::new();
    let mut fields: HashMap<String, Accumulator> = HashMap::new();
    // Schema fields first and in schema order, so the profile reads like the schema.
    for field in schema {
        if !fields.contains_key(&field.name) {
            order.push(field.name.clone());
            fields.insert(field.name.clone(), Accumulator::default());
        }
    }
    for record in records {
        let mut leaves = Vec::new();
        match &record.value.json {
            Value::Object(object) => visit("", object, 1, &mut leaves),
            other => leaves.push(("(value)".to_string(), other)),
        }
        for (name, leaf) in &leaves {
            if !fields.contains_key(name) {
                order.push(name.clone());
                fields.insert(name.clone(), Accumulator::default());
            }
            if let Some(accumulator) = fields.get_mut(name) {
                accumulator.add(leaf);
            }
        }
    }
    let by_name: HashMap<&str, &FieldInfo> = schema.iter().map(|f| (f.name.as_str(), f)).collect();
    order
        .into_iter()
        .filter_map(|name| {
            let accumulator = fields.remove(&name)?;
            let schema = by_name.get(name.as_str()).copied();
            Some(accumulator.finish(name, records.len() as u64, schema))
        })
        .collect()
}

/// Records whose timestamps fall in one minute.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bucket {
    /// The minute's start, epoch milliseconds.
    pub start: i64,
    pub count: u64,
}

struct Counted {
    partitions: u32,
    records: u64,
    last_record_at: Option<i64>,
    buckets: Vec<u64>,
    window_records: u64,
    truncated: bool,
}

/// Counts records by minute in `[from, to)`, starting each partition at its first record at or after
/// `from` (the log's time index); records out of timestamp order before `from` are skipped.
fn count_window(
    data: &DataPlane,
    principal: &str,
    topic: &str,
    from: i64,
    to: i64,
    buckets: usize,
) -> Result<Counted, MeshError> {
    let log = data.log.as_ref();
    let partitions = log.topic_config(topic)?.partitions;
    let mut counted = Counted {
        partitions,
        records: 0,
        last_record_at: None,
        buckets: vec![0; buckets],
        window_records: 0,
        truncated: false,
    };
    let mut read_total = 0usize;
    for partition in 0..partitions {
        let (earliest, end) = log.offsets(topic, partition)?;
        counted.records += end.saturating_sub(earliest);
        if end > earliest {
            // The last offset may be gone (compaction); read forward from a little before it.
            let read = data.read_partition(
                principal,
                topic,
                partition,
                end.saturating_sub(1).max(earliest),
                ReadLimits { max_records: 1, max_bytes: 1 },
            )?;
            if let Some(last) = read.records.last() {
                counted.last_record_at = Some(counted.last_record_at.map_or(last.timestamp, |t| t.max(last.timestamp)));
            }
        }
        let Some(mut next) = log.offset_for_timestamp(topic, partition, from)? else { continue };
        while next < end && !counted.truncated {
            let max_records = (MAX_WINDOW_RECORDS - read_total).min(5000);
            let limits = ReadLimits { max_records, max_bytes: READ_MAX_BYTES };
            let read = data.read_partition(principal, topic, partition, next, limits)?;
            if read.records.is_empty() {
                break;
            }
            next = read.next_offset;
            read_total += read.records.len();
            for record in &read.records {
                if record.timestamp >= from && record.timestamp < to {
                    let index = ((record.timestamp - from) / MINUTE_MS) as usize;
                    if let Some(bucket) = counted.buckets.get_mut(index) {
                        *bucket += 1;
                        counted.window_records += 1;
                    }
                }
            }
            if read_total >= MAX_WINDOW_RECORDS && next < end {
                counted.truncated = true;
            }
        }
    }
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: u64, value: &str) -> DataRecord {
        let json = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
        let decoded = |json| crate::records::Decoded { json, base64: false, schema_id: None };
        DataRecord {
            partition: 0,
            offset,
            timestamp: offset as i64,
            key: decoded(Value::Null),
            value: decoded(json),
            headers: vec![],
        }
    }

    #[test]
    fn fields_are_profiled_with_counts_nulls_and_distributions() {
        let records = vec![
            record(0, r#"{"id":"a","amount":1.5,"n":1,"address":{"city":"Oslo"}}"#),
            record(1, r#"{"id":"b","amount":2.5,"n":2,"address":{"city":"Oslo"}}"#),
            record(2, r#"{"id":"c","amount":null,"n":2}"#),
            record(3, r#"{"id":"c","amount":4,"n":3,"extra":true}"#),
        ];
        let schema = vec![FieldInfo::new("id", "string", Some("The id")), FieldInfo::new("amount", "double", None)];
        let fields = profile_records(&records, &schema);
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        // Schema fields in schema order, then the others as first seen (serde_json orders object keys).
        assert_eq!(names, ["id", "amount", "address", "address.city", "n", "extra"]);
        let id = &fields[0];
        assert_eq!((id.kind.as_str(), id.count, id.nulls, id.distinct), ("string", 4, 0, 3));
        assert_eq!(id.doc.as_deref(), Some("The id"));
        assert_eq!(id.schema_type.as_deref(), Some("string"));
        assert_eq!(id.top_values[0].value, Value::String("c".into()));
        assert_eq!(id.top_values[0].count, 2);
        assert_eq!((id.min_length, id.max_length), (Some(1), Some(1)));
        let amount = &fields[1];
        assert_eq!((amount.kind.as_str(), amount.count, amount.nulls), ("number", 3, 1));
        assert_eq!((amount.min, amount.max), (Some(1.5), Some(4.0)));
        assert_eq!(amount.mean, Some(8.0 / 3.0));
        assert_eq!(amount.histogram.iter().map(|b| b.count).sum::<u64>(), 3);
        let n = &fields[4];
        assert_eq!(n.kind, "integer");
        // A small integer range gets one bin per value.
        let bins: Vec<(f64, u64)> = n.histogram.iter().map(|b| (b.from, b.count)).collect();
        assert_eq!(bins, [(1.0, 1), (2.0, 2), (3.0, 1)]);
        let address = &fields[2];
        assert_eq!((address.kind.as_str(), address.count, address.nulls), ("object", 2, 2));
        assert!(address.top_values.is_empty(), "objects are not listed as top values");
        let city = &fields[3];
        assert_eq!((city.count, city.nulls, city.distinct), (2, 2, 1));
        assert_eq!((fields[5].count, fields[5].nulls), (1, 3));
    }

    #[test]
    fn staleness_is_no_record_or_one_older_than_the_objective() {
        assert!(is_stale(None, 60, 1_000_000));
        assert!(!is_stale(Some(1_000_000 - 60_000), 60, 1_000_000), "exactly the objective is within it");
        assert!(is_stale(Some(1_000_000 - 60_001), 60, 1_000_000));
        assert!(!is_stale(Some(2_000_000), 60, 1_000_000), "a record from the future is fresh");
    }

    #[test]
    fn values_that_are_not_objects_are_one_field() {
        let records = vec![record(0, "1"), record(1, "\"x\""), record(2, "not json")];
        let fields = profile_records(&records, &[]);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].name, "(value)");
        assert_eq!(fields[0].kind, "mixed");
        assert_eq!(fields[0].count, 3);
    }
}
