//! What people want to see about a product's data: a live profile of its output port's records,
//! maintained as they are written, with freshness and throughput.
//!
//! - [`sketch`]: the bounded, mergeable summaries and their stated errors (HyperLogLog distinct
//!   counts, a log-bucketed histogram, Misra-Gries top values).
//! - [`state`]: a product's profile as data, and one write's records summarised before merging.
//! - [`live`]: the store the write path feeds, its snapshots in the `_weft_profiles` topic, the
//!   catch-up from the log, and the worker that keeps both going.
//!
//! Answers ([`Mesh::profile`], [`Mesh::stats`]) are read from the live state, caught up with the log
//! first when it has not been since the server started; nothing is recomputed from records per
//! request.

pub mod live;
pub mod sketch;
pub mod state;

use serde::Serialize;
use serde_json::Value;
use weft_catalog::{FieldInfo, SchemaLookup};

use crate::context::{now_ms, RequestContext};
use crate::error::MeshError;
use crate::read::Resolved;
use crate::schemas::RegistrySchemas;
use crate::Mesh;
use live::LiveView;
use sketch::{HISTOGRAM_RELATIVE_ACCURACY, HLL_REGISTERS, HLL_STANDARD_ERROR, TOP_COUNTERS};
use state::{kinds, FieldState, MINUTE_MS};

/// The longest stats window (a day of minutes, what the live profile keeps).
pub const MAX_WINDOW_MINUTES: u32 = state::THROUGHPUT_MINUTES as u32;
/// Minutes of throughput in a profile.
pub const PROFILE_WINDOW_MINUTES: u32 = 60;
/// Most frequent values reported per field.
const TOP_VALUES: usize = 10;
/// Histogram bins of a numeric field.
const BINS: usize = 10;

/// The live profile of a product port's records.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub product: String,
    pub port: String,
    pub topic: String,
    /// Records profiled (tombstones included): every record written since the profile began, or,
    /// when `partial`, since the newest records it was rebuilt from.
    pub records: u64,
    /// Records without a value.
    pub tombstones: u64,
    /// Bytes of keys, values and headers of the records profiled.
    pub bytes: u64,
    /// Oldest and newest timestamps of the records profiled.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// The newest record's timestamp (as `to`), its age, the objective and whether it is missed.
    pub last_record_at: Option<i64>,
    pub freshness_ms: Option<i64>,
    pub freshness_objective_seconds: Option<u64>,
    /// `None`: the product declares no objective.
    pub stale: Option<bool>,
    /// Records per minute of record time over the last hour, oldest first.
    pub throughput: Vec<Bucket>,
    /// Records that failed the product's contract and were dead-lettered (not in `records`).
    pub dead_lettered: u64,
    /// `deadLettered / (records + deadLettered)`: the share of records received that failed the
    /// contract (0 when none were received).
    pub dead_lettered_share: f64,
    /// Whether records held in the log are missing from the profile: a rebuild without a snapshot
    /// reads only the newest records (1,000,000 split between partitions), and retention may remove
    /// records before they are read.
    pub partial: bool,
    /// How many records held in the log the profile leaves out.
    pub not_profiled: u64,
    /// Per partition, the offset ranges profiled.
    pub coverage: Vec<Coverage>,
    /// The errors the sketches are built to (see `sketches` in the API documentation).
    pub sketches: Sketches,
    /// Values of fields beyond the 256 kept per product, not profiled.
    pub untracked_values: u64,
    /// Schema fields first, in schema order, then the others as first seen.
    pub fields: Vec<FieldProfile>,
    /// The reader holds no grant on the product: values seen in its data (top values, minimum and
    /// maximum, quantiles, histograms) are left out; counts, nulls, types and distinct counts stay.
    pub values_hidden: bool,
}

/// The offsets of one partition a profile took in.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coverage {
    pub partition: u32,
    /// `[from, to)` ranges.
    pub ranges: Vec<[u64; 2]>,
}

/// The stated errors of the profile's summaries.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Sketches {
    /// Distinct counts are HyperLogLog estimates (4096 registers, Ertl's estimator) with this relative
    /// standard error (1.04 / sqrt(4096) ≈ 0.016): 99.7% of estimates lie within three of it.
    pub distinct_standard_error: f64,
    pub distinct_registers: usize,
    /// Quantiles are within this share of a value of that rank (logarithmic buckets), or within half
    /// a histogram grid bin of it when that is tighter.
    pub histogram_relative_accuracy: f64,
    /// Histograms are drawn from at most this many adaptive equal-width bins (a power-of-two width
    /// spanning the values): a value within half a bin (at most 1/64 of the range) of a histogram bin's
    /// edge may be counted in the neighbouring bin.
    pub histogram_grid_bins: usize,
    /// Top values are a Misra-Gries summary of this many counters: every value more frequent than
    /// N / (counters + 1) is listed, and each count is at most the field's `topValuesMaxError` below
    /// the true count (never above).
    pub top_values_counters: usize,
}

impl Default for Sketches {
    fn default() -> Self {
        Sketches {
            distinct_standard_error: HLL_STANDARD_ERROR,
            distinct_registers: HLL_REGISTERS,
            histogram_relative_accuracy: HISTOGRAM_RELATIVE_ACCURACY,
            histogram_grid_bins: sketch::GRID_BINS,
            top_values_counters: TOP_COUNTERS,
        }
    }
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
    /// The newest record timestamp of the live profile; `null` when the port holds no records.
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
    /// One bucket per minute of the window, oldest first (record time).
    pub throughput: Vec<Bucket>,
    /// Records counted in the window.
    pub window_records: u64,
    /// Always false: counts come from the live profile, which counts every record (kept for clients
    /// of the earlier answer, counted from a bounded read).
    pub truncated: bool,
    /// Records that failed the product's contract and were dead-lettered.
    pub dead_lettered: u64,
    /// Whether the profile behind these numbers is partial (see the profile's `partial`).
    pub partial: bool,
}

/// The one freshness rule: a product is stale when it has no record, or its newest is older than its
/// objective.
pub fn is_stale(last_record_at: Option<i64>, objective_seconds: u64, now: i64) -> bool {
    match last_record_at {
        None => true,
        Some(at) => now.saturating_sub(at) > i64::try_from(objective_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
    }
}

/// Who a resolved target is: product id, port name, freshness objective.
fn served(resolved: &Resolved) -> (String, String, Option<u64>, String) {
    match &resolved.served {
        Some(s) => (
            s.product.id().to_string(),
            s.port.name.clone(),
            s.product.spec.freshness_objective.map(|f| f.seconds),
            s.port.schema_subject.clone(),
        ),
        None => (String::new(), String::new(), None, String::new()),
    }
}

/// A minute-aligned window ending with the current minute.
fn window(now: i64, minutes: u32) -> (i64, i64) {
    let to = (now.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
    (to - i64::from(minutes) * MINUTE_MS, to)
}

fn buckets(view: &LiveView, from: i64, minutes: u32) -> Vec<Bucket> {
    view.state
        .throughput
        .counts(from / MINUTE_MS, minutes as usize)
        .into_iter()
        .enumerate()
        .map(|(i, count)| Bucket { start: from + i as i64 * MINUTE_MS, count })
        .collect()
}

impl Mesh {
    /// The live profile of a product's output port (caught up with the log first if need be).
    pub fn profile(&self, ctx: &RequestContext, resolved: &Resolved) -> Result<Profile, MeshError> {
        let values_hidden = self.data().check_read(ctx.principal(), &resolved.topic).is_err();
        let view = self.data().profiles().profile(self.data(), &resolved.topic)?.view();
        let (product, port, objective, subject) = served(resolved);
        let schema = if subject.is_empty() {
            Vec::new()
        } else {
            RegistrySchemas::new(self.registry_arc()).latest_fields(&subject).unwrap_or_default()
        };
        let now = now_ms();
        let (from, _) = window(now, PROFILE_WINDOW_MINUTES);
        let state = &view.state;
        let received = state.records + state.dead_lettered;
        Ok(Profile {
            product,
            port,
            topic: resolved.topic.clone(),
            records: state.records,
            tombstones: state.tombstones,
            bytes: state.bytes,
            from: state.first_at,
            to: state.last_at,
            last_record_at: state.last_at,
            freshness_ms: state.last_at.map(|at| (now - at).max(0)),
            freshness_objective_seconds: objective,
            stale: objective.map(|seconds| is_stale(state.last_at, seconds, now)),
            throughput: buckets(&view, from, PROFILE_WINDOW_MINUTES),
            dead_lettered: state.dead_lettered,
            dead_lettered_share: if received == 0 { 0.0 } else { state.dead_lettered as f64 / received as f64 },
            partial: view.not_profiled > 0,
            not_profiled: view.not_profiled,
            coverage: view
                .coverage
                .iter()
                .enumerate()
                .map(|(p, c)| Coverage { partition: p as u32, ranges: c.ranges.iter().map(|&(a, b)| [a, b]).collect() })
                .collect(),
            sketches: Sketches::default(),
            untracked_values: state.untracked_values,
            fields: field_profiles(&state.fields, state.records, &schema)
                .into_iter()
                .map(|field| if values_hidden { hide_values(field) } else { field })
                .collect(),
            values_hidden,
        })
    }

    /// Records held, freshness and records per minute over the last `window_minutes`, from the
    /// live profile.
    pub fn stats(&self, _ctx: &RequestContext, resolved: &Resolved, window_minutes: u32) -> Result<Stats, MeshError> {
        if !(1..=MAX_WINDOW_MINUTES).contains(&window_minutes) {
            return Err(MeshError::InvalidRequest(format!(
                "windowMinutes must be between 1 and {MAX_WINDOW_MINUTES}, not {window_minutes}"
            )));
        }
        let view = self.data().profiles().profile(self.data(), &resolved.topic)?.view();
        let now = now_ms();
        let (from, to) = window(now, window_minutes);
        let log = &self.data().log;
        let partitions = log.topic_config(&resolved.topic)?.partitions;
        let mut records = 0;
        for partition in 0..partitions {
            let (earliest, end) = log.offsets(&resolved.topic, partition)?;
            records += end.saturating_sub(earliest);
        }
        let (product, port, objective, _) = served(resolved);
        let last = view.state.last_at;
        let throughput = buckets(&view, from, window_minutes);
        Ok(Stats {
            product,
            port,
            topic: resolved.topic.clone(),
            partitions,
            records,
            last_record_at: last,
            freshness_ms: last.map(|at| (now - at).max(0)),
            freshness_objective_seconds: objective,
            stale: objective.map(|seconds| is_stale(last, seconds, now)),
            from,
            to,
            bucket_ms: MINUTE_MS,
            window_records: throughput.iter().map(|b| b.count).sum(),
            throughput,
            truncated: false,
            dead_lettered: view.state.dead_lettered,
            partial: view.not_profiled > 0,
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

/// Estimated quantiles of a numeric field (within 1% of a value of that rank, or half a grid bin).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
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
    /// Records where the field is null or absent (tombstones included).
    pub nulls: u64,
    /// Distinct non-null values: a HyperLogLog estimate (see `sketches.distinctStandardError`),
    /// rounded, never above `count`.
    pub distinct: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Numeric fields only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantiles: Option<Quantiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// The most frequent strings and booleans, most frequent first (ties by value).
    pub top_values: Vec<ValueCount>,
    /// The most a top value's count can be below its true count (0: the counts are exact).
    pub top_values_max_error: u64,
    /// Numeric fields only: equal-width bins between min and max (one per integer when an integer
    /// field spans fewer than 10).
    pub histogram: Vec<Bin>,
}

/// A field's profile without the values seen in the data.
fn hide_values(field: FieldProfile) -> FieldProfile {
    FieldProfile {
        min: None,
        max: None,
        mean: None,
        quantiles: None,
        top_values: Vec::new(),
        top_values_max_error: 0,
        histogram: Vec::new(),
        ..field
    }
}

fn field_profile(field: &FieldState, records: u64, schema: Option<&FieldInfo>) -> FieldProfile {
    let seen: Vec<&str> =
        kinds::NAMES.iter().filter(|(bit, _)| field.kinds & bit != 0).map(|(_, name)| *name).collect();
    let non_null: Vec<&str> = seen.iter().copied().filter(|t| *t != "null").collect();
    let kind = match non_null.as_slice() {
        [] => "null".to_string(),
        [one] => one.to_string(),
        // Integers among numbers are still numbers.
        several if several.iter().all(|t| *t == "integer" || *t == "number") => "number".to_string(),
        _ => "mixed".to_string(),
    };
    let numbers = field.numbers.as_ref().filter(|n| n.count > 0);
    let mean = numbers.map(|n| n.sum.value() / n.count as f64).filter(|m| m.is_finite());
    let quantiles =
        numbers.and_then(|n| Some(Quantiles { p50: n.quantile(0.5)?, p90: n.quantile(0.9)?, p99: n.quantile(0.99)? }));
    let histogram = numbers
        .map(|n| {
            n.grid
                .display_bins(n.min, n.max, kind == "integer", BINS)
                .into_iter()
                .map(|(from, to, count)| Bin { from, to, count })
                .collect()
        })
        .unwrap_or_default();
    let (top_values, top_values_max_error) = match &field.top {
        Some(top) => (
            top.top(TOP_VALUES).into_iter().map(|(value, count)| ValueCount { value, count }).collect(),
            top.max_error(),
        ),
        None => (Vec::new(), 0),
    };
    FieldProfile {
        name: field.name.clone(),
        kind,
        types: seen.iter().map(|t| t.to_string()).collect(),
        schema_type: schema.map(|f| f.field_type.clone()),
        doc: schema.and_then(|f| f.doc.clone()),
        count: field.present,
        nulls: records.saturating_sub(field.present),
        distinct: (field.distinct.estimate().round() as u64).min(field.present),
        min: numbers.map(|n| n.min),
        max: numbers.map(|n| n.max),
        mean,
        quantiles,
        min_length: field.lengths.map(|l| l.0),
        max_length: field.lengths.map(|l| l.1),
        top_values,
        top_values_max_error,
        histogram,
    }
}

/// The fields of a profile: schema fields first and in schema order, so the profile reads like the
/// schema (a schema field without values yet is listed with none), then the others as first seen.
fn field_profiles(fields: &[FieldState], records: u64, schema: &[FieldInfo]) -> Vec<FieldProfile> {
    let by_name: std::collections::HashMap<&str, &FieldInfo> = schema.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut out = Vec::with_capacity(fields.len());
    let mut listed = std::collections::HashSet::new();
    for info in schema {
        if !listed.insert(info.name.as_str()) {
            continue;
        }
        match fields.iter().find(|f| f.name == info.name) {
            Some(field) => out.push(field_profile(field, records, Some(info))),
            None => out.push(field_profile(&FieldState::new(info.name.clone()), records, Some(info))),
        }
    }
    for field in fields {
        if listed.insert(field.name.as_str()) {
            out.push(field_profile(field, records, by_name.get(field.name.as_str()).copied()));
        }
    }
    out
}

/// Records whose timestamps fall in one minute.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bucket {
    /// The minute's start, epoch milliseconds.
    pub start: i64,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_is_no_record_or_one_older_than_the_objective() {
        assert!(is_stale(None, 60, 1_000_000));
        assert!(!is_stale(Some(1_000_000 - 60_000), 60, 1_000_000), "exactly the objective is within it");
        assert!(is_stale(Some(1_000_000 - 60_001), 60, 1_000_000));
        assert!(!is_stale(Some(2_000_000), 60, 1_000_000), "a record from the future is fresh");
    }
}
