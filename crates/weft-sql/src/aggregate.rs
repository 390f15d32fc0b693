//! `GROUP BY` aggregations, windowed (TUMBLING, HOPPING, SESSION) or not.
//!
//! State is one entry per group (and window) in memory, mirrored to a compacted changelog topic
//! `_weft_sql_<query id>_changelog` (one partition); a restarted query rebuilds its state by reading
//! it (see `runtime` for how this keeps output exactly-once). Changelog records:
//! - key: the group values as JSON, each followed by a 0 byte, then for windows the start and end as
//!   8-byte big-endian integers; value: the entry in the binary encoding of `changelog` (version 1),
//!   or null when the entry went away (a merged session). Changelogs written before that encoding
//!   hold `{"g": [group values], "w": [start, end] | null, "a": [accumulator states], "t": max
//!   timestamp, "e": emitted (EMIT FINAL), "h": HAVING passed}`, which restore still reads;
//! - key `\0stream-time`: the stream time as decimal text; this record closes every flush and
//!   carries the `weft.sql` origin header of the last input applied.
//!
//! Semantics follow ksqlDB (Kafka Streams): windows are by event time (ROWTIME or the TIMESTAMP
//! column); stream time is the largest timestamp seen; a record whose window ended at or before
//! `stream time - grace` is late and dropped (grace defaults to 24 hours, to none with `EMIT
//! FINAL`); `EMIT CHANGES` emits the updated row for every input, `EMIT FINAL` emits each window
//! once, when stream time passes its end plus grace, unless stream time jumped past the window's
//! retention (`max(RETENTION, size + grace)` after its start, counted from the start of the newest
//! window: Kafka Streams' store no longer returns it); a row that fails `HAVING` is emitted as a tombstone; merged session windows are deleted
//! (tombstones) and the merged session emitted.

mod changelog;
mod state;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use weft_log::{EventLog, ReadLimits, Record, TopicConfig};

use crate::ast::{Emit, Expr, Query, WindowKind, WindowSpec};
use crate::error::{Result, SqlError};
use crate::expr::{compile, Compiled, Scope, ScopeColumn};
use crate::format::{from_json_value, to_json_value, write_json, WindowBounds, WindowType};
use crate::metastore::{Decoded, Kind, SourceDef, WindowInfo, ROWTIME, WINDOWEND, WINDOWSTART};
use crate::plan::{
    check_output_names, column_expr, expand_select, key_missing, keys_first, permute, unqualified, NamedItem, Operator,
    OutputColumn, Plan, PlannedQuery, Purpose,
};
use crate::runtime::{origin_header, parse_origin, Change, Origin, RowSink};
use crate::types::{SqlType, Value};
use state::State;

/// The hasher of the per-record maps (state, dirty keys): several lookups per input record made
/// SipHash a visible share of an aggregation's time; foldhash is seeded per map, so keys built from
/// input values still cannot be chosen to collide.
type FastHash = foldhash::fast::RandomState;

/// Kafka Streams' default grace period (24 hours), which ksqlDB keeps when none is given.
pub const DEFAULT_GRACE_MS: i64 = 24 * 3600 * 1000;
/// The grace period of a window: the given one, else none for `EMIT FINAL` (ksqlDB emits a final
/// window at its end when no grace is given, suppress.json) and Kafka Streams' default otherwise.
fn effective_grace(window: Option<&WindowSpec>, emit_final: bool) -> i64 {
    match window.and_then(|w| w.grace) {
        Some(g) => g,
        None if emit_final => 0,
        None => DEFAULT_GRACE_MS,
    }
}

/// The start of the newest time window a record at `stream_time` falls in: the time of Kafka
/// Streams' window store, from which its retention is counted.
fn newest_window_start(kind: WindowKind, stream_time: i64) -> i64 {
    let advance = match kind {
        WindowKind::Tumbling { size } => size,
        WindowKind::Hopping { advance, .. } => advance,
        WindowKind::Session { .. } => return stream_time,
    };
    if advance > 0 {
        stream_time - stream_time.rem_euclid(advance)
    } else {
        stream_time
    }
}

/// COLLECT_LIST / COLLECT_SET keep at most this many values (ksqlDB's default limit).
const COLLECT_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggKind {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    CountDistinct,
    Latest,
    Earliest,
    CollectList,
    CollectSet,
    TopK(usize),
    TopKDistinct(usize),
    /// STDDEV_SAMPLE: the sample standard deviation (`true`); STDDEV_SAMP: the sample variance
    /// (`false`), which is what ksqlDB's older name returns, and users' numbers depend on.
    StddevSamp(bool),
    /// SUM_LIST: the sum of every element of every array.
    SumList,
    /// CORRELATION(x, y): Pearson's correlation of the pairs with neither value null.
    Correlation,
    /// HISTOGRAM(s): how often each distinct string occurs.
    Histogram,
}

#[derive(Debug)]
struct AggSpec {
    kind: AggKind,
    arg: Option<Compiled>,
    arg_type: SqlType,
    result_type: SqlType,
    /// LATEST_BY_OFFSET / EARLIEST_BY_OFFSET: skip null values (ksqlDB's default) or keep them.
    ignore_nulls: bool,
    /// LATEST_BY_OFFSET / EARLIEST_BY_OFFSET with `n`: an array of up to `n` values, oldest first.
    by_offset_n: Option<usize>,
    /// COLLECT_LIST / COLLECT_SET: the most values kept (`ksql.functions.collect_list.limit`).
    collect_limit: usize,
}

/// One accumulator's state.
#[derive(Debug, Clone, PartialEq)]
enum Acc {
    Count(i64),
    Sum(Value),
    Avg {
        sum: f64,
        count: i64,
    },
    Extreme(Value),
    Distinct(BTreeSet<String>),
    ByOffset {
        value: Value,
        offset: i64,
    },
    /// Up to `n` values with their offsets, in offset order.
    ByOffsetN(Vec<(i64, Value)>),
    List(Vec<Value>),
    /// Count, mean and sum of squared deviations (Welford's), for STDDEV_SAMP.
    Moments {
        count: i64,
        mean: f64,
        m2: f64,
    },
    /// Pair count and the sums x, y, xy, xx, yy, for CORRELATION (plain sums, as ksqlDB keeps
    /// them, so results agree to the last bit; a table row's pair is subtracted back out).
    Sums {
        count: i64,
        sums: [f64; 5],
    },
    /// HISTOGRAM's count per distinct value.
    Counts(BTreeMap<String, i64>),
}

impl AggSpec {
    /// A DECIMAL SUM whose total no longer fits its precision fails the query, as ksqlDB's
    /// DecimalSumKudaf does ("Numeric field overflow").
    fn check_overflow(&self, acc: &Acc) -> Result<()> {
        let (AggKind::Sum, SqlType::Decimal { precision, .. }, Acc::Sum(Value::Decimal(d))) =
            (self.kind, &self.result_type, acc)
        else {
            return Ok(());
        };
        let digits = d.unscaled.unsigned_abs().checked_ilog10().map_or(1, |l| l + 1);
        if digits > u32::from(*precision) {
            return Err(SqlError::Processing(format!(
                "Numeric field overflow: SUM of {} is {d}, more digits than its precision",
                self.result_type
            )));
        }
        Ok(())
    }

    fn init(&self) -> Acc {
        match self.kind {
            AggKind::CountStar | AggKind::Count => Acc::Count(0),
            AggKind::StddevSamp(_) => Acc::Moments { count: 0, mean: 0.0, m2: 0.0 },
            AggKind::Correlation => Acc::Sums { count: 0, sums: [0.0; 5] },
            AggKind::Histogram => Acc::Counts(BTreeMap::new()),
            AggKind::Sum | AggKind::SumList => Acc::Sum(match self.result_type {
                SqlType::Int => Value::Int(0),
                SqlType::Bigint => Value::Bigint(0),
                SqlType::Decimal { scale, .. } => Value::Decimal(crate::types::Decimal { unscaled: 0, scale }),
                _ => Value::Double(0.0),
            }),
            AggKind::Avg => Acc::Avg { sum: 0.0, count: 0 },
            AggKind::Min | AggKind::Max => Acc::Extreme(Value::Null),
            AggKind::CountDistinct => Acc::Distinct(BTreeSet::new()),
            AggKind::Latest | AggKind::Earliest if self.by_offset_n.is_some() => Acc::ByOffsetN(Vec::new()),
            AggKind::Latest | AggKind::Earliest => Acc::ByOffset { value: Value::Null, offset: -1 },
            AggKind::CollectList | AggKind::CollectSet | AggKind::TopK(_) | AggKind::TopKDistinct(_) => {
                Acc::List(Vec::new())
            }
        }
    }

    fn update(&self, acc: &mut Acc, row: &[Value], offset: i64) {
        let v = match &self.arg {
            Some(a) => a.eval(row),
            None => Cow::Owned(Value::Null),
        };
        // COUNT(*), COLLECT_LIST and COLLECT_SET see nulls; every other aggregate skips them.
        let keeps_nulls = matches!(self.kind, AggKind::CountStar | AggKind::CollectList | AggKind::CollectSet)
            || (matches!(self.kind, AggKind::Latest | AggKind::Earliest) && !self.ignore_nulls);
        if v.is_null() && !keeps_nulls {
            return;
        }
        // TOPK with other columns skips a row whose sort column is null.
        if let (AggKind::TopK(_), Value::Struct(fields)) = (self.kind, &*v) {
            if fields.first().is_some_and(Value::is_null) {
                return;
            }
        }
        match (self.kind, acc) {
            (AggKind::CountStar | AggKind::Count, Acc::Count(n)) => *n += 1,
            (AggKind::Latest | AggKind::Earliest, Acc::ByOffsetN(items)) => {
                items.push((offset, v.into_owned()));
                self.keep_n(items);
            }
            (AggKind::Sum, Acc::Sum(s)) => *s = add(s, &v),
            (AggKind::Avg, Acc::Avg { sum, count }) => {
                *sum += v.as_f64().unwrap_or(0.0);
                *count += 1;
            }
            (AggKind::Min, Acc::Extreme(cur)) if cur.is_null() || v.sql_cmp(cur) == Some(std::cmp::Ordering::Less) => {
                *cur = v.into_owned();
            }
            (AggKind::Max, Acc::Extreme(cur))
                if cur.is_null() || v.sql_cmp(cur) == Some(std::cmp::Ordering::Greater) =>
            {
                *cur = v.into_owned();
            }
            (AggKind::CountDistinct, Acc::Distinct(set)) => {
                set.insert(crate::functions::to_display_string(&v));
            }
            (AggKind::Latest, Acc::ByOffset { value, offset: o }) if offset >= *o => {
                *value = v.into_owned();
                *o = offset;
            }
            (AggKind::Earliest, Acc::ByOffset { value, offset: o }) if *o < 0 || offset < *o => {
                *value = v.into_owned();
                *o = offset;
            }
            (AggKind::CollectList, Acc::List(items)) if items.len() < self.collect_limit => items.push(v.into_owned()),
            (AggKind::CollectSet, Acc::List(items)) if items.len() < self.collect_limit && !items.contains(&v) => {
                items.push(v.into_owned())
            }
            (AggKind::SumList, Acc::Sum(s)) => {
                if let Value::Array(items) = &*v {
                    for x in items.iter().filter(|x| !x.is_null()) {
                        *s = add(s, x);
                    }
                }
            }
            (AggKind::StddevSamp(_), Acc::Moments { count, mean, m2 }) => {
                if let Some(x) = v.as_f64() {
                    *count += 1;
                    let delta = x - *mean;
                    *mean += delta / *count as f64;
                    *m2 += delta * (x - *mean);
                }
            }
            // ksqlDB keeps at most 1000 distinct values; later new ones are not counted.
            (AggKind::Histogram, Acc::Counts(counts)) => {
                if let Value::String(s) = &*v {
                    if counts.len() < COLLECT_LIMIT || counts.contains_key(s) {
                        *counts.entry(s.clone()).or_insert(0) += 1;
                    }
                }
            }
            (AggKind::Correlation, Acc::Sums { count, sums }) => {
                if let Some([x, y]) = pair(&v) {
                    *count += 1;
                    for (s, d) in sums.iter_mut().zip([x, y, x * y, x * x, y * y]) {
                        *s += d;
                    }
                }
            }
            (AggKind::TopKDistinct(k), Acc::List(items)) if !items.contains(&v) => {
                items.push(v.into_owned());
                items.sort_by(|a, b| b.total_cmp(a));
                items.truncate(k);
            }
            (AggKind::TopK(k), Acc::List(items)) => {
                items.push(v.into_owned());
                items.sort_by(|a, b| topk_order(b, a));
                items.truncate(k);
            }
            _ => {}
        }
    }

    /// Removes a row's contribution (a table row that changed or went away).
    fn undo(&self, acc: &mut Acc, row: &[Value]) {
        let v = match &self.arg {
            Some(a) => a.eval(row),
            None => Cow::Owned(Value::Null),
        };
        let keeps_nulls = matches!(self.kind, AggKind::CountStar | AggKind::CollectList | AggKind::CollectSet);
        if v.is_null() && !keeps_nulls {
            return;
        }
        match (self.kind, acc) {
            (AggKind::CountStar | AggKind::Count, Acc::Count(n)) => *n -= 1,
            (AggKind::Sum, Acc::Sum(s)) => *s = subtract(s, &v),
            (AggKind::Avg, Acc::Avg { sum, count }) => {
                *sum -= v.as_f64().unwrap_or(0.0);
                *count -= 1;
            }
            (AggKind::CollectList | AggKind::CollectSet, Acc::List(items)) => {
                if let Some(i) = items.iter().position(|x| *x == *v) {
                    items.remove(i);
                }
            }
            (AggKind::Histogram, Acc::Counts(counts)) => {
                if let Value::String(s) = &*v {
                    if let Some(n) = counts.get_mut(s) {
                        *n -= 1;
                        if *n <= 0 {
                            counts.remove(s);
                        }
                    }
                }
            }
            (AggKind::Correlation, Acc::Sums { count, sums }) => {
                if let Some([x, y]) = pair(&v) {
                    *count -= 1;
                    for (s, d) in sums.iter_mut().zip([x, y, x * y, x * x, y * y]) {
                        *s -= d;
                    }
                }
            }
            _ => {}
        }
    }

    /// Merges `other` (a later session) into `acc`.
    fn merge(&self, acc: &mut Acc, other: Acc) {
        match (acc, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Sum(a), Acc::Sum(b)) => *a = add(a, &b),
            (Acc::Avg { sum, count }, Acc::Avg { sum: s2, count: c2 }) => {
                *sum += s2;
                *count += c2;
            }
            (Acc::Extreme(a), Acc::Extreme(b)) => {
                let ord = b.sql_cmp(a);
                let take = !b.is_null()
                    && (a.is_null()
                        || (self.kind == AggKind::Min && ord == Some(std::cmp::Ordering::Less))
                        || (self.kind == AggKind::Max && ord == Some(std::cmp::Ordering::Greater)));
                if take {
                    *a = b;
                }
            }
            (Acc::Distinct(a), Acc::Distinct(b)) => a.extend(b),
            (Acc::ByOffsetN(a), Acc::ByOffsetN(b)) => {
                a.extend(b);
                self.keep_n(a);
            }
            (Acc::ByOffset { value, offset }, Acc::ByOffset { value: v2, offset: o2 }) => {
                let take = o2 >= 0
                    && (*offset < 0
                        || (self.kind == AggKind::Latest && o2 > *offset)
                        || (self.kind == AggKind::Earliest && o2 < *offset));
                if take {
                    *value = v2;
                    *offset = o2;
                }
            }
            (Acc::Moments { count, mean, m2 }, Acc::Moments { count: c2, mean: mean2, m2: m2b }) => {
                // Chan et al.'s parallel combination of two sets of moments.
                let n = *count + c2;
                if n > 0 {
                    let delta = mean2 - *mean;
                    *m2 += m2b + delta * delta * (*count as f64) * (c2 as f64) / n as f64;
                    *mean += delta * c2 as f64 / n as f64;
                    *count = n;
                }
            }
            (Acc::Counts(a), Acc::Counts(b)) => {
                for (k, n) in b {
                    *a.entry(k).or_insert(0) += n;
                }
            }
            (Acc::Sums { count, sums }, Acc::Sums { count: c2, sums: s2 }) => {
                *count += c2;
                for (s, d) in sums.iter_mut().zip(s2) {
                    *s += d;
                }
            }
            (Acc::List(a), Acc::List(b)) => {
                for v in b {
                    if matches!(self.kind, AggKind::CollectSet | AggKind::TopKDistinct(_)) && a.contains(&v) {
                        continue;
                    }
                    a.push(v);
                }
                if let AggKind::TopK(k) | AggKind::TopKDistinct(k) = self.kind {
                    a.sort_by(|x, y| topk_order(y, x));
                    a.truncate(k);
                } else {
                    a.truncate(self.collect_limit);
                }
            }
            _ => {}
        }
    }

    fn result(&self, acc: &Acc) -> Value {
        match acc {
            Acc::Count(n) => Value::Bigint(*n),
            Acc::Sum(v) => v.clone(),
            Acc::Avg { sum, count } => Value::Double(if *count == 0 { 0.0 } else { sum / *count as f64 }),
            Acc::Extreme(v) => v.clone(),
            Acc::Distinct(s) => Value::Bigint(s.len() as i64),
            Acc::ByOffset { value, .. } => value.clone(),
            Acc::ByOffsetN(items) => Value::Array(items.iter().map(|(_, v)| v.clone()).collect()),
            Acc::List(items) => Value::Array(items.clone()),
            // ksqlDB's STDDEV_SAMP and STDDEV_SAMPLE are 0 below two values.
            Acc::Moments { count, m2, .. } => {
                let variance = if *count < 2 { 0.0 } else { m2 / (*count - 1) as f64 };
                Value::Double(if self.kind == AggKind::StddevSamp(true) { variance.sqrt() } else { variance })
            }
            Acc::Counts(counts) => Value::map(counts.iter().map(|(k, n)| (k.clone(), Value::Bigint(*n))).collect()),
            // NaN below two pairs or for a constant side (0 / 0), as in ksqlDB.
            Acc::Sums { count, sums: [x, y, xy, xx, yy] } => {
                let n = *count as f64;
                Value::Double((n * xy - x * y) / ((n * xx - x * x) * (n * yy - y * y)).sqrt())
            }
        }
    }

    fn to_json(&self, acc: &Acc) -> serde_json::Value {
        use serde_json::json;
        match acc {
            Acc::Count(n) => json!(n),
            Acc::Sum(v) => to_json_value(v, &self.result_type),
            Acc::Avg { sum, count } => json!([sum, count]),
            Acc::Extreme(v) => to_json_value(v, &self.arg_type),
            Acc::Distinct(s) => json!(s),
            Acc::ByOffset { value, offset } => json!([to_json_value(value, &self.arg_type), offset]),
            Acc::ByOffsetN(items) => serde_json::Value::Array(
                items.iter().map(|(o, v)| json!([to_json_value(v, &self.arg_type), o])).collect(),
            ),
            Acc::List(items) => {
                serde_json::Value::Array(items.iter().map(|v| to_json_value(v, &self.arg_type)).collect())
            }
            Acc::Moments { count, mean, m2 } => json!([count, mean, m2]),
            Acc::Sums { count, sums } => json!([count, sums[0], sums[1], sums[2], sums[3], sums[4]]),
            Acc::Counts(counts) => json!(counts),
        }
    }

    fn acc_from_json(&self, j: &serde_json::Value) -> Option<Acc> {
        let mut acc = self.init();
        match &mut acc {
            Acc::Count(n) => *n = j.as_i64()?,
            Acc::Sum(v) => *v = from_json_value(j, &self.result_type).ok()?,
            Acc::Avg { sum, count } => {
                *sum = j.get(0)?.as_f64()?;
                *count = j.get(1)?.as_i64()?;
            }
            Acc::Extreme(v) => *v = from_json_value(j, &self.arg_type).ok()?,
            Acc::Distinct(s) => {
                *s = j.as_array()?.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
            }
            Acc::ByOffset { value, offset } => {
                *value = from_json_value(j.get(0)?, &self.arg_type).ok()?;
                *offset = j.get(1)?.as_i64()?;
            }
            Acc::ByOffsetN(items) => {
                for pair in j.as_array()? {
                    items.push((pair.get(1)?.as_i64()?, from_json_value(pair.get(0)?, &self.arg_type).ok()?));
                }
            }
            Acc::Moments { count, mean, m2 } => {
                *count = j.get(0)?.as_i64()?;
                *mean = j.get(1)?.as_f64()?;
                *m2 = j.get(2)?.as_f64()?;
            }
            Acc::List(items) => {
                *items = j.as_array()?.iter().filter_map(|x| from_json_value(x, &self.arg_type).ok()).collect();
            }
            Acc::Counts(counts) => {
                for (k, n) in j.as_object()? {
                    counts.insert(k.clone(), n.as_i64()?);
                }
            }
            Acc::Sums { count, sums } => {
                *count = j.get(0)?.as_i64()?;
                for (i, s) in sums.iter_mut().enumerate() {
                    *s = j.get(i + 1)?.as_f64()?;
                }
            }
        }
        Some(acc)
    }
}

/// CORRELATION's argument, a struct of x and y: both as doubles, unless either is null.
fn pair(v: &Value) -> Option<[f64; 2]> {
    match v {
        Value::Struct(xy) => Some([xy.first()?.as_f64()?, xy.get(1)?.as_f64()?]),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

impl AggSpec {
    /// Keeps the `n` latest (or earliest) values by offset, in offset order.
    fn keep_n(&self, items: &mut Vec<(i64, Value)>) {
        let n = self.by_offset_n.unwrap_or(1);
        items.sort_by_key(|(o, _)| *o);
        if items.len() > n {
            if self.kind == AggKind::Latest {
                items.drain(..items.len() - n);
            } else {
                items.truncate(n);
            }
        }
    }
}

fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), _) => Value::Int(x.wrapping_add(b.as_i64().unwrap_or(0) as i32)),
        (Value::Bigint(x), _) => Value::Bigint(x.wrapping_add(b.as_i64().unwrap_or(0))),
        (Value::Decimal(x), Value::Decimal(y)) => {
            let scale = x.scale;
            match y.rescale(scale) {
                Some(y) => Value::Decimal(crate::types::Decimal { unscaled: x.unscaled + y.unscaled, scale }),
                None => a.clone(),
            }
        }
        _ => Value::Double(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
    }
}

fn subtract(a: &Value, b: &Value) -> Value {
    match b {
        Value::Int(x) => add(a, &Value::Int(x.wrapping_neg())),
        Value::Bigint(x) => add(a, &Value::Bigint(x.wrapping_neg())),
        Value::Double(x) => add(a, &Value::Double(-x)),
        Value::Decimal(d) => add(a, &Value::Decimal(crate::types::Decimal { unscaled: -d.unscaled, scale: d.scale })),
        _ => a.clone(),
    }
}

/// One group (and window) of state. Its group values are not held: the key holds them (as
/// JSON), and the records that update an entry carry them; only a closing window and a pull query
/// read them back from the key (one decode per window instead of a copy kept per window).
#[derive(Debug, Clone)]
struct Entry {
    window: Option<WindowBounds>,
    accs: Vec<Acc>,
    /// Largest input timestamp folded in.
    max_ts: i64,
    /// EMIT FINAL: already emitted.
    emitted: bool,
    /// HAVING: the last row emitted for this entry passed it. Kafka Streams' table filter, which
    /// ksqlDB's HAVING is, sends a tombstone only when the old row passed and the new one fails.
    having_passed: bool,
}

/// The running aggregation.
#[derive(Debug)]
pub struct AggregateOp {
    source_kind: Kind,
    filter: Option<Compiled>,
    group_by: Vec<Compiled>,
    group_types: Vec<SqlType>,
    aggs: Vec<AggSpec>,
    having: Option<Compiled>,
    items: Vec<Compiled>,
    window: Option<WindowSpec>,
    emit_final: bool,
    rowtime: usize,
    /// Every group (and window): the windows by end, to close and expire them in order.
    state: State,
    /// Session windows per group key.
    sessions: HashMap<Vec<u8>, Vec<WindowBounds>>,
    stream_time: i64,
    /// Table sources: the current row of every input key, to undo it when it changes.
    table_rows: HashMap<Vec<u8>, Vec<Value>>,
    key_width: usize,
    changelog: Option<String>,
    /// The partition of `changelog` this instance writes and restores.
    changelog_partition: u32,
    /// The keys changed since the last changelog flush, and whether each is still in the state;
    /// sorted when taken (the changelog is written in key order).
    dirty: HashMap<Box<[u8]>, bool, FastHash>,
    last_origin: Option<Origin>,
    query_id: String,
    out_row: Vec<Value>,
    /// Scratch buffers for the group bytes and state key of each record (no allocation per record
    /// for groups already in the state).
    group_buf: Vec<u8>,
    key_buf: Vec<u8>,
    /// Scratch lists of the windows that closed with the last record: their start, end and key
    /// (a range of `closed_keys`).
    closed_buf: Vec<(i64, i64, Range<usize>)>,
    closed_keys: Vec<u8>,
}

const STREAM_TIME_KEY: &[u8] = b"\x00stream-time";

impl AggregateOp {
    /// Caps COLLECT_LIST and COLLECT_SET at `list` and `set` values, as ksqlDB's
    /// `ksql.functions.collect_list.limit` and `ksql.functions.collect_set.limit` do.
    pub fn set_collect_limits(&mut self, list: usize, set: usize) {
        for agg in &mut self.aggs {
            match agg.kind {
                AggKind::CollectList => agg.collect_limit = list,
                AggKind::CollectSet => agg.collect_limit = set,
                _ => {}
            }
        }
    }

    /// Marks the source-row columns the aggregation reads.
    pub fn mark_columns(&self, mask: &mut [bool]) {
        if let Some(f) = &self.filter {
            f.mark_columns(mask);
        }
        self.group_by.iter().for_each(|g| g.mark_columns(mask));
        self.aggs.iter().filter_map(|a| a.arg.as_ref()).for_each(|a| a.mark_columns(mask));
    }

    fn grace(&self) -> i64 {
        effective_grace(self.window.as_ref(), self.emit_final)
    }

    fn group_bytes(group: &[Cow<Value>], types: &[SqlType]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(32);
        Self::write_group_bytes(&mut buf, group, types);
        buf
    }

    fn write_group_bytes(buf: &mut Vec<u8>, group: &[Cow<Value>], types: &[SqlType]) {
        for (v, t) in group.iter().zip(types) {
            write_json(buf, v, t);
            buf.push(0);
        }
    }

    fn write_state_key(buf: &mut Vec<u8>, group: &[u8], window: Option<WindowBounds>) {
        buf.clear();
        buf.extend_from_slice(group);
        if let Some(w) = window {
            buf.extend_from_slice(&w.start.to_be_bytes());
            buf.extend_from_slice(&w.end.to_be_bytes());
        }
    }

    fn state_key(group: &[u8], window: Option<WindowBounds>) -> Vec<u8> {
        let mut k = group.to_vec();
        if let Some(w) = window {
            k.extend_from_slice(&w.start.to_be_bytes());
            k.extend_from_slice(&w.end.to_be_bytes());
        }
        k
    }

    /// Whether the aggregated source is a table (its rows are rebuilt from the topic on restart).
    pub fn aggregates_table(&self) -> bool {
        self.source_kind == Kind::Table
    }

    /// Writes the group of `row` to `buf` (as the state's keys hold it), for the repartition stage
    /// of a query whose groups span its input's partitions; `false` when the aggregation would
    /// drop the row (its WHERE fails, or a grouping value is null).
    pub fn write_group_of(&self, row: &[Value], buf: &mut Vec<u8>) -> bool {
        if self.filter.as_ref().is_some_and(|f| !f.test(row)) {
            return false;
        }
        let group: Vec<Cow<Value>> = self.group_by.iter().map(|g| g.eval(row)).collect();
        if group.iter().any(|g| g.is_null()) {
            return false;
        }
        buf.clear();
        Self::write_group_bytes(buf, &group, &self.group_types);
        true
    }

    /// Whether every group lies within one key of the input: the grouping columns include all of
    /// the input's key columns (as plain columns), so that records of a group share a key and,
    /// with the input partitioned by key (as Kafka's producers and ksqlDB assume), a partition.
    pub fn groups_within_input_keys(&self) -> bool {
        self.source_kind == Kind::Stream
            && self.key_width > 0
            && (0..self.key_width).all(|k| self.group_by.iter().any(|g| g.as_column() == Some(k)))
    }

    fn table_key(&self, row: &[Value]) -> Vec<u8> {
        let mut buf = Vec::new();
        for v in &row[..self.key_width.min(row.len())] {
            write_json(&mut buf, v, &SqlType::Null);
            buf.push(0);
        }
        buf
    }

    /// Records a table row without aggregating it (restoring the table snapshot after a restart).
    pub fn load_table_row(&mut self, row: &[Value], decoded: Decoded) {
        let key = self.table_key(row);
        match decoded {
            Decoded::Row => {
                self.table_rows.insert(key, row.to_vec());
            }
            Decoded::Tombstone => {
                self.table_rows.remove(&key);
            }
        }
    }

    /// A table update: the old row leaves its group, the new one joins its group (Kafka Streams'
    /// subtractor then adder); each changed group emits.
    fn process_table(&mut self, row: &[Value], decoded: Decoded, origin: Origin, sink: &mut dyn RowSink) -> Result<()> {
        let key = self.table_key(row);
        let old = self.table_rows.remove(&key);
        let new = (decoded == Decoded::Row && self.filter.as_ref().is_none_or(|f| f.test(row))).then(|| row.to_vec());
        if let Some(n) = &new {
            self.table_rows.insert(key, n.clone());
        }
        let ts = row.get(self.rowtime).and_then(Value::as_i64).unwrap_or(0);
        self.last_origin = Some(origin);
        let group_of = |op: &AggregateOp, r: &[Value]| -> Option<(Vec<u8>, Vec<Value>)> {
            let g: Vec<Cow<Value>> = op.group_by.iter().map(|e| e.eval(r)).collect();
            if g.iter().any(|v| v.is_null()) {
                return None;
            }
            Some((Self::group_bytes(&g, &op.group_types), g.into_iter().map(Cow::into_owned).collect()))
        };
        let old_group = old.as_ref().and_then(|r| group_of(self, r));
        let new_group = new.as_ref().and_then(|r| group_of(self, r));
        if let (Some(o), Some((ob, og))) = (&old, &old_group) {
            if let Some(entry) = self.state.get_mut(ob.as_slice()) {
                for (spec, acc) in self.aggs.iter().zip(entry.accs.iter_mut()) {
                    spec.undo(acc, o);
                }
                entry.max_ts = entry.max_ts.max(ts);
            }
            self.mark(ob, true);
            let same = new_group.as_ref().is_some_and(|(nb, _)| nb == ob);
            if !same {
                let out_ts = self.state.get(ob.as_slice()).map_or(ts, |e| e.max_ts);
                let og: Vec<Cow<Value>> = og.iter().map(Cow::Borrowed).collect();
                self.emit_entry(ob, Some(&og), out_ts, origin, sink)?;
            }
        }
        if let (Some(n), Some((nb, ng))) = (&new, &new_group) {
            // Kafka Streams' table aggregation: a group only added to takes the record's timestamp;
            // one subtracted from as well keeps the larger of the two.
            let subtracted = old_group.as_ref().is_some_and(|(ob, _)| ob == nb);
            if !subtracted {
                if let Some(entry) = self.state.get_mut(nb.as_slice()) {
                    entry.max_ts = ts;
                }
            }
            let ng: Vec<Cow<Value>> = ng.iter().map(Cow::Borrowed).collect();
            self.update_entry(nb, &ng, None, n, ts, origin.offset as i64, origin, sink)?;
        }
        Ok(())
    }

    pub fn process(&mut self, row: &[Value], decoded: Decoded, origin: Origin, sink: &mut dyn RowSink) -> Result<()> {
        if self.source_kind == Kind::Table {
            return self.process_table(row, decoded, origin, sink);
        }
        if decoded != Decoded::Row {
            return Ok(());
        }
        if let Some(f) = &self.filter {
            if !f.test(row) {
                return Ok(());
            }
        }
        // The group values may borrow constants of the GROUP BY expressions: hold those apart from
        // `self` while the state is updated.
        let group_by = std::mem::take(&mut self.group_by);
        let result = self.process_stream(&group_by, row, origin, sink);
        self.group_by = group_by;
        result
    }

    fn process_stream(
        &mut self,
        group_by: &[Compiled],
        row: &[Value],
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let ts = row.get(self.rowtime).and_then(Value::as_i64).unwrap_or(0);
        let group: Vec<Cow<Value>> = group_by.iter().map(|g| g.eval(row)).collect();
        // ksqlDB drops records whose grouping key is null.
        if group.iter().any(|g| g.is_null()) {
            return Ok(());
        }
        let mut gbytes = std::mem::take(&mut self.group_buf);
        gbytes.clear();
        Self::write_group_bytes(&mut gbytes, &group, &self.group_types);
        let result = self.process_group(&gbytes, &group, row, ts, origin, sink);
        self.group_buf = gbytes;
        result
    }

    fn process_group(
        &mut self,
        gbytes: &[u8],
        group_owned: &[Cow<Value>],
        row: &[Value],
        ts: i64,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        self.stream_time = self.stream_time.max(ts);
        self.last_origin = Some(origin);
        let offset = origin.offset as i64;
        match self.window.map(|w| w.kind) {
            None => self.update_entry(gbytes, group_owned, None, row, ts, offset, origin, sink)?,
            Some(WindowKind::Tumbling { size }) => {
                let start = ts - ts.rem_euclid(size);
                let w = WindowBounds { start, end: start + size };
                if w.end > self.stream_time - self.grace() {
                    self.update_entry(gbytes, group_owned, Some(w), row, ts, offset, origin, sink)?;
                }
            }
            Some(WindowKind::Hopping { size, advance }) => {
                let last = ts - ts.rem_euclid(advance);
                let mut starts = Vec::new();
                let mut s = last;
                while s > ts - size && s >= 0 {
                    starts.push(s);
                    s -= advance;
                }
                for start in starts.into_iter().rev() {
                    let w = WindowBounds { start, end: start + size };
                    if w.end > self.stream_time - self.grace() {
                        self.update_entry(gbytes, group_owned, Some(w), row, ts, offset, origin, sink)?;
                    }
                }
            }
            Some(WindowKind::Session { gap }) => {
                self.update_session(gbytes, group_owned, gap, row, ts, offset, origin, sink)?
            }
        }
        if self.window.is_some() {
            if self.emit_final {
                self.emit_closed(origin, sink)?;
            }
            self.expire();
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn update_entry(
        &mut self,
        gbytes: &[u8],
        group: &[Cow<Value>],
        window: Option<WindowBounds>,
        row: &[Value],
        ts: i64,
        offset: i64,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let mut key = std::mem::take(&mut self.key_buf);
        Self::write_state_key(&mut key, gbytes, window);
        let result = self.update_keyed(&key, group, window, row, ts, offset, origin, sink);
        self.key_buf = key;
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn update_keyed(
        &mut self,
        key: &[u8],
        group: &[Cow<Value>],
        window: Option<WindowBounds>,
        row: &[Value],
        ts: i64,
        offset: i64,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let aggs = &self.aggs;
        // Look up before inserting: the key and group values are only copied for a new entry.
        let entry = match self.state.get_mut(key) {
            Some(e) => e,
            None => {
                let entry = Entry {
                    window,
                    accs: aggs.iter().map(AggSpec::init).collect(),
                    max_ts: ts,
                    emitted: false,
                    having_passed: false,
                };
                match self.state.insert(key, entry) {
                    Some(e) => e,
                    // Not reached: `update_entry` writes the bounds of every window into its key.
                    None => return Ok(()),
                }
            }
        };
        for (spec, acc) in aggs.iter().zip(entry.accs.iter_mut()) {
            spec.update(acc, row, offset);
            spec.check_overflow(acc)?;
        }
        entry.max_ts = entry.max_ts.max(ts);
        // Kafka Streams stamps an aggregate with the largest timestamp folded into it.
        let out_ts = entry.max_ts;
        self.mark(key, true);
        if !self.emit_final {
            self.emit_entry(key, Some(group), out_ts, origin, sink)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn update_session(
        &mut self,
        gbytes: &[u8],
        group: &[Cow<Value>],
        gap: i64,
        row: &[Value],
        ts: i64,
        offset: i64,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let grace = self.grace();
        let sessions = self.sessions.entry(gbytes.to_vec()).or_default();
        // Sessions within the gap of the new record merge with it.
        let (merging, keep): (Vec<WindowBounds>, Vec<WindowBounds>) =
            sessions.iter().partition(|s| ts >= s.start - gap && ts <= s.end + gap);
        let mut merged = WindowBounds { start: ts, end: ts };
        for s in &merging {
            merged.start = merged.start.min(s.start);
            merged.end = merged.end.max(s.end);
        }
        // Kafka Streams closes a session its gap plus the grace after its end: a record is late
        // when the session it would make ends before that (session-windows.json).
        if merged.end < self.stream_time - grace - gap {
            return Ok(());
        }
        *sessions = keep;
        sessions.push(merged);
        let mut accs: Vec<Acc> = self.aggs.iter().map(AggSpec::init).collect();
        let mut max_ts = ts;
        let mut olds = merging.clone();
        olds.sort_by_key(|s| s.start);
        for old in &olds {
            let key = Self::state_key(gbytes, Some(*old));
            if let Some(e) = self.state.remove(&key) {
                for ((spec, acc), other) in self.aggs.iter().zip(accs.iter_mut()).zip(e.accs) {
                    spec.merge(acc, other);
                }
                max_ts = max_ts.max(e.max_ts);
                self.mark(&key, false);
                if *old != merged && !self.emit_final {
                    // The merged-away session is deleted downstream.
                    self.emit_tombstone(group, *old, e.max_ts, origin, sink)?;
                }
            }
        }
        for (spec, acc) in self.aggs.iter().zip(accs.iter_mut()) {
            spec.update(acc, row, offset);
            spec.check_overflow(acc)?;
        }
        let key = Self::state_key(gbytes, Some(merged));
        self.state.insert(&key, Entry { window: Some(merged), accs, max_ts, emitted: false, having_passed: false });
        self.mark(&key, true);
        if !self.emit_final {
            self.emit_entry(&key, Some(group), max_ts, origin, sink)?;
        }
        Ok(())
    }

    fn mark(&mut self, key: &[u8], live: bool) {
        if self.changelog.is_some() {
            // Most records update an entry already dirty in this batch: no copy of its key then.
            match self.dirty.get_mut(key) {
                Some(slot) => *slot = live,
                None => {
                    self.dirty.insert(key.into(), live);
                }
            }
        }
    }

    /// The group values of a state key (`None` if its bytes are not this query's group).
    fn group_of_key(&self, key: &[u8]) -> Option<Vec<Value>> {
        let bounds = if self.window.is_some() { 16 } else { 0 };
        changelog::group_values(key.get(..key.len().checked_sub(bounds)?)?, &self.group_types)
    }

    /// Fills `out_row` with the entry of `key`, whose group values are `group` (read from the key
    /// when not given); returns its window.
    fn fill_row(&mut self, key: &[u8], group: Option<&[Cow<Value>]>) -> Option<Option<WindowBounds>> {
        match group {
            Some(group) => {
                // Group values are copied into the previous row's slots, reusing their string buffers.
                self.out_row.truncate(group.len());
                for (i, v) in group.iter().enumerate() {
                    match (self.out_row.get_mut(i), &**v) {
                        (Some(Value::String(dst)), Value::String(src)) => dst.clone_from(src),
                        (Some(slot), v) => *slot = v.clone(),
                        (None, v) => self.out_row.push(v.clone()),
                    }
                }
            }
            None => {
                let values = self.group_of_key(key)?;
                self.out_row.clear();
                self.out_row.extend(values);
            }
        }
        let entry = self.state.get(key)?;
        for (spec, acc) in self.aggs.iter().zip(&entry.accs) {
            self.out_row.push(spec.result(acc));
        }
        let (ws, we) =
            entry.window.map_or((Value::Null, Value::Null), |w| (Value::Bigint(w.start), Value::Bigint(w.end)));
        self.out_row.push(ws);
        self.out_row.push(we);
        self.out_row.push(Value::Bigint(entry.max_ts));
        Some(entry.window)
    }

    /// The current table as rows of the sink's source layout (key columns, value columns, ROWTIME,
    /// ROWPARTITION, ROWOFFSET, and window bounds when windowed), for pull queries. `key_idx` and
    /// `value_idx` pick the sink's columns out of the projection.
    pub fn snapshot(&self, key_idx: &[usize], value_idx: &[usize], windowed: bool) -> Vec<Vec<Value>> {
        let mut entries: Vec<(Vec<u8>, &Entry)> = Vec::with_capacity(self.state.len());
        self.state.for_each(&mut Vec::new(), |key, entry| entries.push((key.to_vec(), entry)));
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (key, entry) in &entries {
            if self.emit_final && !entry.emitted {
                continue;
            }
            let Some(mut row) = self.group_of_key(key) else { continue };
            row.extend(self.aggs.iter().zip(&entry.accs).map(|(spec, acc)| spec.result(acc)));
            let (ws, we) =
                entry.window.map_or((Value::Null, Value::Null), |w| (Value::Bigint(w.start), Value::Bigint(w.end)));
            row.extend([ws.clone(), we.clone(), Value::Bigint(entry.max_ts)]);
            if !self.having.as_ref().is_none_or(|h| h.test(&row)) {
                continue;
            }
            let cols: Vec<Value> = self.items.iter().map(|c| c.eval(&row).into_owned()).collect();
            let pick = |i: &usize| cols.get(*i).cloned().unwrap_or(Value::Null);
            let mut source_row: Vec<Value> = key_idx.iter().map(pick).chain(value_idx.iter().map(pick)).collect();
            source_row.extend([Value::Bigint(entry.max_ts), Value::Int(0), Value::Bigint(0)]);
            if windowed {
                source_row.extend([ws, we]);
            }
            out.push(source_row);
        }
        out
    }

    fn emit_entry(
        &mut self,
        key: &[u8],
        group: Option<&[Cow<Value>]>,
        ts: i64,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let Some(window) = self.fill_row(key, group) else {
            return Ok(());
        };
        let row = std::mem::take(&mut self.out_row);
        let pass = self.having.as_ref().is_none_or(|h| h.test(&row));
        if self.having.is_some() {
            let Some(entry) = self.state.get_mut(key) else {
                self.out_row = row;
                return Ok(());
            };
            let was_out = std::mem::replace(&mut entry.having_passed, pass);
            if !pass && !was_out {
                // Neither the old nor the new row passed: nothing downstream to delete.
                self.out_row = row;
                return Ok(());
            }
        }
        let r = crate::runtime::with_evaluated(&self.items, &row, |cols| {
            sink.emit(Change { cols, tombstone: !pass, timestamp: ts, window }, origin)
        });
        self.out_row = row;
        r
    }

    fn emit_tombstone(
        &mut self,
        group: &[Cow<Value>],
        window: WindowBounds,
        ts: i64,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let mut row: Vec<Value> = group.iter().map(|g| g.clone().into_owned()).collect();
        row.extend(self.aggs.iter().map(|_| Value::Null));
        row.push(Value::Bigint(window.start));
        row.push(Value::Bigint(window.end));
        row.push(Value::Bigint(ts));
        let cols: Vec<Cow<Value>> = self.items.iter().map(|c| c.eval(&row)).collect();
        sink.emit(Change { cols: &cols, tombstone: true, timestamp: ts, window: Some(window) }, origin)
    }

    /// EMIT FINAL: emits windows that closed (end + grace <= stream time), by start, end and key.
    ///
    /// Time windows that stream time jumped past are dropped, not emitted: Kafka Streams emits
    /// final results from the aggregation's window store, whose time is the start of the newest
    /// window written (that of the stream-time record), and which no longer returns a window
    /// starting more than its retention (`max(RETENTION, size + grace)`, the default being
    /// `size + grace`) before that. So a window is emitted when the record closing it falls in
    /// the windows right after it (the steady case), and dropped when stream time jumps further:
    /// ksqlDB's suppress.json (size 2, grace 1, records at 0, 1, 2, 1, 0, 5 emit `[2,4)` only;
    /// size 2, no grace, records at 0, 1, 2 emit `[0,2)`). Measured from stream time itself the
    /// same retention would drop nearly every window on real data.
    fn emit_closed(&mut self, origin: Origin, sink: &mut dyn RowSink) -> Result<()> {
        let (close, time_windows) = match self.window.map(|w| w.kind) {
            // A session is final once no record can reach it: its end is before stream time less
            // the grace and the gap (the records it still takes, `update_session`).
            Some(WindowKind::Session { gap }) => (self.stream_time - self.grace() - gap - 1, false),
            _ => (self.stream_time - self.grace(), true),
        };
        let mut due = std::mem::take(&mut self.closed_buf);
        let mut keys = std::mem::take(&mut self.closed_keys);
        due.clear();
        keys.clear();
        let mut key_buf = std::mem::take(&mut self.key_buf);
        self.state.closing(close, &mut key_buf, |key, e| {
            if let (false, Some(w)) = (e.emitted, e.window) {
                let at = keys.len();
                keys.extend_from_slice(key);
                due.push((w.start, w.end, at..keys.len()));
            }
        });
        self.key_buf = key_buf;
        let result = self.emit_due(&mut due, &keys, time_windows, origin, sink);
        self.closed_buf = due;
        self.closed_keys = keys;
        result
    }

    /// Emits the closed windows `due` (start, end and key, a range of `keys`) in order of start, end
    /// and key, but for those stream time jumped past (see [`AggregateOp::emit_closed`]).
    fn emit_due(
        &mut self,
        due: &mut Vec<(i64, i64, Range<usize>)>,
        keys: &[u8],
        time_windows: bool,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        if let (true, Some(spec)) = (time_windows, self.window) {
            let grace = self.grace();
            let store_time = newest_window_start(spec.kind, self.stream_time);
            let retention = spec.retention.unwrap_or(0);
            let expired = |start: i64, end: i64| start < store_time - retention.max(end - start + grace);
            for (_, _, k) in due.iter().filter(|(start, end, _)| expired(*start, *end)) {
                let key = &keys[k.clone()];
                if let Some(e) = self.state.get_mut(key) {
                    e.emitted = true;
                }
                self.mark(key, true);
            }
            due.retain(|(start, end, _)| !expired(*start, *end));
        }
        due.sort_unstable_by(|a, b| (a.0, a.1, &keys[a.2.clone()]).cmp(&(b.0, b.1, &keys[b.2.clone()])));
        for (_, _, k) in due.iter() {
            let key = &keys[k.clone()];
            let ts = self.state.get(key).map_or(0, |e| e.max_ts);
            self.emit_entry(key, None, ts, origin, sink)?;
            if let Some(e) = self.state.get_mut(key) {
                e.emitted = true;
            }
            self.mark(key, true);
        }
        Ok(())
    }

    pub fn on_idle(&mut self, _sink: &mut dyn RowSink) -> Result<usize> {
        Ok(0)
    }

    fn changelog_topic(id: &str) -> String {
        format!("_weft_sql_{id}_changelog")
    }

    /// The changelog topic, once [`AggregateOp::init_changelog`] made it.
    pub fn changelog_topic_name(&self) -> Option<&str> {
        self.changelog.as_deref()
    }

    /// Opens the changelog of query `id` (creating its topic, with `partitions` partitions, for a
    /// new query): this instance writes and restores partition `partition` of it. A topic of
    /// another partition count belongs to another layout of the query and is refused.
    pub fn init_changelog(&mut self, log: &dyn EventLog, id: &str, partition: u32, partitions: u32) -> Result<()> {
        let topic = Self::changelog_topic(id);
        self.query_id = id.to_string();
        let existing = match log.describe_topic(&topic) {
            Ok(info) => Some(info.partitions.len() as u32),
            Err(_) => match log.create_topic(&topic, TopicConfig::compacted(partitions)) {
                Ok(_) => None,
                Err(weft_log::LogError::TopicExists(_)) => Some(log.describe_topic(&topic)?.partitions.len() as u32),
                Err(e) => return Err(e.into()),
            },
        };
        if let Some(found) = existing.filter(|found| *found != partitions) {
            return Err(SqlError::analysis(format!(
                "query {id}: its changelog topic {topic} has {found} partitions where this instance needs {partitions}"
            )));
        }
        self.changelog = Some(topic);
        self.changelog_partition = partition;
        Ok(())
    }

    /// The number of partitions of query `id`'s changelog topic, if it has one.
    pub fn changelog_partitions(log: &dyn EventLog, id: &str) -> Option<u32> {
        log.describe_topic(&Self::changelog_topic(id)).ok().map(|info| info.partitions.len() as u32)
    }

    /// Rebuilds state from this instance's changelog partition (see
    /// [`AggregateOp::init_changelog`]); returns, per input partition, the last input offset the
    /// changelog already reflects.
    pub fn restore(&mut self, log: &dyn EventLog) -> Result<HashMap<(u8, u32), u64>> {
        let Some(topic) = self.changelog.clone() else {
            return Err(SqlError::analysis(format!(
                "query {}: restored before its changelog was opened",
                self.query_id
            )));
        };
        let (id, partition) = (self.query_id.clone(), self.changelog_partition);
        let mut applied: HashMap<(u8, u32), u64> = HashMap::new();
        let (mut offset, end) = log.offsets(&topic, partition)?;
        while offset < end {
            let r = log.read(&topic, partition, offset, ReadLimits { max_records: 5000, ..ReadLimits::default() })?;
            if r.records.is_empty() {
                break;
            }
            for rec in &r.records {
                if let Some(o) = parse_origin(&rec.headers, &id) {
                    let slot = applied.entry((o.input, o.partition)).or_insert(o.offset);
                    *slot = (*slot).max(o.offset);
                }
                let Some(key) = rec.key.clone() else { continue };
                if key == STREAM_TIME_KEY {
                    if let Some(v) = &rec.value {
                        if let Ok(t) = std::str::from_utf8(v).unwrap_or("").parse::<i64>() {
                            self.stream_time = self.stream_time.max(t);
                        }
                    }
                    continue;
                }
                match &rec.value {
                    None => {
                        self.state.remove(&key);
                    }
                    Some(v) => {
                        let entry = match v.first() {
                            Some(&changelog::VERSION_1) => changelog::decode(&key, v, &self.aggs, &self.group_types),
                            _ => self.entry_from_json(&key, v),
                        };
                        if let Some(entry) = entry {
                            // A windowed query's key without window bounds is no entry of it: skipped.
                            self.state.insert(&key, entry);
                        }
                    }
                }
            }
            offset = r.next_offset;
        }
        // Rebuild the session index; every window not yet emitted closes again.
        self.sessions.clear();
        self.state.reopen();
        if let Some(WindowKind::Session { .. }) = self.window.map(|w| w.kind) {
            let sessions = &mut self.sessions;
            self.state.for_each(&mut Vec::new(), |key, e| {
                if let (Some(w), Some(split)) = (e.window, key.len().checked_sub(16)) {
                    sessions.entry(key[..split].to_vec()).or_default().push(w);
                }
            });
        }
        // The changelog keeps expired windows until it is compacted.
        self.expire();
        Ok(applied)
    }

    /// An entry in the JSON encoding of changelogs written before version 1 (see the module docs).
    fn entry_from_json(&self, key: &[u8], bytes: &[u8]) -> Option<Entry> {
        let j: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        // The group values are read back from the key (as for version 1): both must be this query's.
        j["g"]
            .as_array()?
            .iter()
            .zip(&self.group_types)
            .map(|(v, t)| from_json_value(v, t).ok())
            .collect::<Option<Vec<_>>>()?;
        self.group_of_key(key)?;
        let window = j["w"]
            .as_array()
            .and_then(|w| Some(WindowBounds { start: w.first()?.as_i64()?, end: w.get(1)?.as_i64()? }));
        let accs =
            j["a"].as_array()?.iter().zip(&self.aggs).map(|(a, s)| s.acc_from_json(a)).collect::<Option<Vec<_>>>()?;
        Some(Entry {
            window,
            accs,
            max_ts: j["t"].as_i64()?,
            emitted: j["e"].as_bool().unwrap_or(false),
            // State written before the flag existed: assume the row was out, so a tombstone follows.
            having_passed: j["h"].as_bool().unwrap_or(true),
        })
    }

    /// The changelog records of what changed since the last call (the changed entries, then the
    /// stream time marked with the last input applied), as they are now; `None` when nothing
    /// changed or the query has no changelog. The runtime appends them once the output derived from
    /// the same input is durable (see `runtime`).
    pub fn take_changelog(&mut self) -> Option<(String, Vec<Record>)> {
        let topic = self.changelog.clone()?;
        if self.dirty.is_empty() {
            return None;
        }
        let mut dirty: Vec<(Box<[u8]>, bool)> = self.dirty.drain().collect();
        dirty.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut records = Vec::with_capacity(dirty.len() + 1);
        for (key, live) in dirty {
            let value = if live {
                self.state.get(&key).map(|e| {
                    let mut buf = Vec::with_capacity(64);
                    changelog::encode(&mut buf, e, &self.aggs);
                    buf
                })
            } else {
                None
            };
            records.push(Record { key: Some(key.to_vec()), value, headers: Vec::new(), timestamp: None });
        }
        records.push(Record {
            key: Some(STREAM_TIME_KEY.to_vec()),
            value: Some(self.stream_time.to_string().into_bytes()),
            headers: self.last_origin.map(|o| vec![origin_header(&self.query_id, o)]).unwrap_or_default(),
            timestamp: None,
        });
        Some((topic, records))
    }

    /// Drops the windows that ended `max(retention, grace)` before stream time from memory (for
    /// sessions, `max(retention, grace + gap)`): no record can reach them any more (it would be
    /// late, or too far from a session to merge with it, as Kafka Streams keeps sessions) and EMIT
    /// FINAL emitted them when they closed. Their changelog entries stay until compacted; a restore
    /// drops them again.
    fn expire(&mut self) {
        let Some(spec) = self.window else { return };
        let reach = match spec.kind {
            WindowKind::Session { gap } => self.grace().saturating_add(gap),
            _ => self.grace(),
        };
        let keep_for = spec.retention.unwrap_or(0).max(reach);
        let horizon = self.stream_time.saturating_sub(keep_for);
        if !matches!(spec.kind, WindowKind::Session { .. }) {
            self.state.expire(horizon, |_, _| {});
            return;
        }
        let sessions = &mut self.sessions;
        self.state.expire(horizon, |group, entry| {
            let Some(w) = entry.window else { return };
            if let Some(held) = sessions.get_mut(group) {
                held.retain(|s| *s != w);
                if held.is_empty() {
                    sessions.remove(group);
                }
            }
        });
    }
}

struct Rewriter<'a> {
    groups: &'a [String],
    aggs: Vec<(String, Expr)>,
    /// Columns met outside the GROUP BY expressions and aggregate calls since the last reset.
    loose: Vec<String>,
}

impl Rewriter<'_> {
    /// The expression over the aggregation's output row: group expressions and aggregate calls
    /// become columns. Rewritten in place by the iterative `Expr::rewrite`, parents first, so the
    /// first error met is the one a left-to-right reading finds.
    fn rewrite(&mut self, e: &Expr) -> Result<Expr> {
        let mut out = e.clone();
        let mut failure = None;
        out.rewrite(&mut |x| {
            if failure.is_some() {
                return true;
            }
            match self.replacement(x) {
                Ok(Some(column)) => {
                    *x = column;
                    true
                }
                Ok(None) => false,
                Err(err) => {
                    failure = Some(err);
                    true
                }
            }
        });
        match failure {
            Some(err) => Err(err),
            None => Ok(out),
        }
    }

    /// The column that replaces `e`, if any; `None` to look at its children.
    fn replacement(&mut self, e: &Expr) -> Result<Option<Expr>> {
        let text = unqualified(e);
        if let Some(i) = self.groups.iter().position(|g| *g == text) {
            return Ok(Some(column_expr(None, &format!("KSQL_GRP_{i}"))));
        }
        match e {
            Expr::Call { name, args, .. } if crate::functions::is_aggregate(name) => {
                if args.iter().any(contains_aggregate) {
                    return Err(SqlError::analysis(format!("Aggregate functions can not be nested: {e}")));
                }
                let j = match self.aggs.iter().position(|(t, _)| *t == text) {
                    Some(j) => j,
                    None => {
                        self.aggs.push((text, e.clone()));
                        self.aggs.len() - 1
                    }
                };
                Ok(Some(column_expr(None, &format!("KSQL_AGG_{j}"))))
            }
            Expr::Column { name, .. } if name == WINDOWSTART || name == WINDOWEND || name == ROWTIME => {
                Ok(Some(column_expr(None, name)))
            }
            Expr::Column { name, .. } => {
                if !self.loose.contains(name) {
                    self.loose.push(name.clone());
                }
                Ok(Some(e.clone()))
            }
            _ => Ok(None),
        }
    }
}

/// TOPK's order: by value, or for TOPK with other columns (a struct per row) by the sort column
/// alone; a stable sort keeps equal rows in arrival order.
fn topk_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Struct(x), Value::Struct(y)) => match (x.first(), y.first()) {
            (Some(p), Some(q)) => p.total_cmp(q),
            _ => std::cmp::Ordering::Equal,
        },
        _ => a.total_cmp(b),
    }
}

fn contains_aggregate(e: &Expr) -> bool {
    first_aggregate(e).is_some()
}

/// The name of the first aggregate function called in `e`.
fn first_aggregate(e: &Expr) -> Option<String> {
    let mut found = None;
    e.walk(&mut |x| {
        if let Expr::Call { name, .. } = x {
            if found.is_none() && crate::functions::is_aggregate(name) {
                found = Some(name.clone());
            }
        }
    });
    found
}

/// The first window bound (`WINDOWSTART`, `WINDOWEND`) `e` refers to.
fn window_bound(e: &Expr) -> Option<String> {
    let mut found = None;
    e.walk(&mut |x| {
        if let Expr::Column { name, .. } = x {
            if found.is_none() && (name == WINDOWSTART || name == WINDOWEND) {
                found = Some(name.clone());
            }
        }
    });
    found
}

/// ksqlDB's checks of an aggregation's clauses, made before anything is compiled so that its
/// messages win over type errors: window bounds only in the SELECT of a windowed aggregation, no
/// aggregate in GROUP BY, no GROUP BY expression twice, and an aggregate somewhere.
fn check_aggregation_clauses(query: &Query, items: &[NamedItem], scope: &Scope) -> Result<()> {
    let mut unknown_fn = None;
    let exprs = items.iter().map(|i| &i.expr).chain(&query.group_by).chain(&query.having);
    for e in exprs {
        e.walk(&mut |x| {
            if let Expr::Call { name, .. } = x {
                if unknown_fn.is_none() && !crate::functions::exists(name) {
                    unknown_fn = Some(name.clone());
                }
            }
        });
    }
    if let Some(name) = unknown_fn {
        return Err(SqlError::analysis(format!("Can't find any functions with the name '{name}'")));
    }
    // A windowed source has its window bounds as columns; otherwise they exist only in the result.
    let unknown = |b: &String| scope.resolve(None, b).is_err();
    if let Some(b) = query.filter.as_ref().and_then(window_bound).filter(unknown) {
        return Err(SqlError::analysis(format!("Error in WHERE expression: Unknown column {b}.")));
    }
    // Without a window, a window bound selected as it is names a reserved column.
    if query.window.is_none() {
        let bound = items.iter().find(|i| {
            !i.aliased
                && (i.name == WINDOWSTART || i.name == WINDOWEND)
                && unknown(&i.name)
                && matches!(&i.expr, Expr::Column { .. })
        });
        if let Some(b) = bound {
            return Err(SqlError::analysis(format!(
                "Reserved column name in select: `{}`. Please remove or alias the column.",
                b.name
            )));
        }
    }
    let bound_outside_select = query.group_by.iter().chain(query.having.iter()).find_map(window_bound).or_else(|| {
        let mut found = None;
        for item in items {
            item.expr.walk(&mut |x| {
                if let Expr::Call { name, args, .. } = x {
                    if found.is_none() && crate::functions::is_aggregate(name) {
                        found = args.iter().find_map(window_bound);
                    }
                }
            });
        }
        found
    });
    if let Some(b) = bound_outside_select.filter(unknown) {
        return Err(SqlError::analysis(format!(
            "Window bounds column {b} can only be used in the SELECT clause of windowed aggregations"
        )));
    }
    if let Some(name) = query.group_by.iter().find_map(first_aggregate) {
        return Err(SqlError::analysis(format!(
            "GROUP BY does not support aggregate functions: {name} is an aggregate function."
        )));
    }
    for (i, g) in query.group_by.iter().enumerate() {
        let text = unqualified(g);
        if query.group_by[..i].iter().any(|h| unqualified(h) == text) {
            return Err(SqlError::analysis(format!(
                "Duplicate GROUP BY expression: {}",
                crate::plan::qualified_text(g, scope)
            )));
        }
    }
    let has_aggregate =
        items.iter().any(|i| contains_aggregate(&i.expr)) || query.having.as_ref().is_some_and(contains_aggregate);
    if !query.group_by.is_empty() && !has_aggregate {
        return Err(SqlError::analysis("GROUP BY requires aggregate functions in either the SELECT or HAVING clause."));
    }
    Ok(())
}

fn agg_spec(call: &Expr, scope: &Scope) -> Result<AggSpec> {
    let Expr::Call { name, args, star, .. } = call else {
        return Err(SqlError::analysis("expected an aggregate call"));
    };
    let compiled: Vec<Compiled> = args.iter().map(|a| compile(a, scope)).collect::<Result<_>>()?;
    let arity = |n: usize| -> Result<()> {
        if compiled.len() == n {
            Ok(())
        } else {
            Err(crate::functions::no_signature(name, &compiled.iter().map(|c| c.ty.clone()).collect::<Vec<_>>()))
        }
    };
    let arg_type = compiled.first().map(|c| c.ty.clone()).unwrap_or(SqlType::Null);
    let mut ignore_nulls = true;
    let mut by_offset_n = None;
    let (kind, result_type) =
        match name.as_str() {
            "COUNT" if *star || compiled.is_empty() => (AggKind::CountStar, SqlType::Bigint),
            "COUNT" => {
                arity(1)?;
                (AggKind::Count, SqlType::Bigint)
            }
            "SUM" | "AVG" => {
                arity(1)?;
                if !arg_type.is_numeric() {
                    return Err(crate::functions::no_signature(name, std::slice::from_ref(&arg_type)));
                }
                if name == "SUM" {
                    (AggKind::Sum, arg_type.clone())
                } else {
                    (AggKind::Avg, SqlType::Double)
                }
            }
            "MIN" | "MAX" => {
                arity(1)?;
                if matches!(arg_type, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) | SqlType::Boolean) {
                    return Err(crate::functions::no_signature(name, std::slice::from_ref(&arg_type)));
                }
                (if name == "MIN" { AggKind::Min } else { AggKind::Max }, arg_type.clone())
            }
            "COUNT_DISTINCT" => {
                arity(1)?;
                (AggKind::CountDistinct, SqlType::Bigint)
            }
            "LATEST_BY_OFFSET" | "EARLIEST_BY_OFFSET" => {
                // ksqlDB's signatures: (col), (col, ignoreNulls), (col, n), (col, n, ignoreNulls), the
                // extra arguments literals; with `n` the result is an array of up to n values.
                let types: Vec<SqlType> = compiled.iter().map(|c| c.ty.clone()).collect();
                let bad = || crate::functions::no_signature(name, &types);
                let rest: Vec<&SqlType> = types.iter().skip(1).collect();
                let constant = |i: usize| compiled.get(i).and_then(Compiled::as_const);
                if let Some(i) = (1..compiled.len()).find(|i| constant(*i).is_none()) {
                    return Err(SqlError::analysis(format!(
                        "Parameter {} passed to function {name} must be a literal constant, but was expression: '{}'",
                        i + 1,
                        args[i]
                    )));
                }
                let (n, ignore) = match rest.as_slice() {
                    [] => (None, true),
                    [SqlType::Boolean] => (None, constant(1).and_then(as_bool).ok_or_else(bad)?),
                    [SqlType::Int] => (Some(constant(1).and_then(Value::as_i64).ok_or_else(bad)?), true),
                    [SqlType::Int, SqlType::Boolean] => (
                        Some(constant(1).and_then(Value::as_i64).ok_or_else(bad)?),
                        constant(2).and_then(as_bool).ok_or_else(bad)?,
                    ),
                    _ => return Err(bad()),
                };
                if n.is_some_and(|n| n < 1) {
                    return Err(SqlError::analysis(format!("{name} must be called with a positive number of values")));
                }
                ignore_nulls = ignore;
                by_offset_n = n.map(|n| n as usize);
                let kind = if name == "LATEST_BY_OFFSET" { AggKind::Latest } else { AggKind::Earliest };
                let ty = if n.is_some() { SqlType::Array(Box::new(arg_type.clone())) } else { arg_type.clone() };
                (kind, ty)
            }
            "COLLECT_LIST" | "COLLECT_SET" => {
                arity(1)?;
                (
                    if name == "COLLECT_LIST" { AggKind::CollectList } else { AggKind::CollectSet },
                    SqlType::Array(Box::new(arg_type.clone())),
                )
            }
            "HISTOGRAM" => {
                arity(1)?;
                if !matches!(arg_type, SqlType::String | SqlType::Null) {
                    return Err(crate::functions::no_signature(name, std::slice::from_ref(&arg_type)));
                }
                (AggKind::Histogram, SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint)))
            }
            "CORRELATION" => {
                arity(2)?;
                let types: Vec<SqlType> = compiled.iter().map(|c| c.ty.clone()).collect();
                if !types.iter().all(|t| matches!(t, SqlType::Int | SqlType::Bigint | SqlType::Double)) {
                    return Err(crate::functions::no_signature(name, &types));
                }
                let xy = Expr::Struct(vec![("X".into(), args[0].clone()), ("Y".into(), args[1].clone())]);
                let row = compile(&xy, scope)?;
                let arg_type = row.ty.clone();
                return Ok(AggSpec {
                    kind: AggKind::Correlation,
                    arg: Some(row),
                    arg_type,
                    result_type: SqlType::Double,
                    ignore_nulls,
                    by_offset_n,
                    collect_limit: COLLECT_LIMIT,
                });
            }
            "TOPKDISTINCT" => {
                arity(2)?;
                let k = compiled[1].as_const().and_then(Value::as_i64).filter(|k| *k > 0).ok_or_else(|| {
                    SqlError::analysis("TOPKDISTINCT needs a positive integer literal as its second argument")
                })?;
                (AggKind::TopKDistinct(k as usize), SqlType::Array(Box::new(arg_type.clone())))
            }
            "STDDEV_SAMP" | "STDDEV_SAMPLE" => {
                arity(1)?;
                if !matches!(arg_type, SqlType::Int | SqlType::Bigint | SqlType::Double) {
                    return Err(crate::functions::no_signature(name, std::slice::from_ref(&arg_type)));
                }
                (AggKind::StddevSamp(name == "STDDEV_SAMPLE"), SqlType::Double)
            }
            "SUM_LIST" => {
                arity(1)?;
                let SqlType::Array(inner) = &arg_type else {
                    return Err(crate::functions::no_signature(name, std::slice::from_ref(&arg_type)));
                };
                if !matches!(**inner, SqlType::Int | SqlType::Bigint | SqlType::Double) {
                    return Err(crate::functions::no_signature(name, std::slice::from_ref(&arg_type)));
                }
                (AggKind::SumList, (**inner).clone())
            }
            "TOPK" if compiled.len() > 2 => {
                // TOPK(sort, c0, c1, ..., k): the k rows with the largest `sort`, as structs
                // `sort_col, col0, col1, ...` (ksqlDB's TopkKudaf with other columns).
                let k =
                    compiled[compiled.len() - 1].as_const().and_then(Value::as_i64).filter(|k| *k > 0).ok_or_else(
                        || SqlError::analysis("TOPK needs a positive integer literal as its last argument"),
                    )?;
                let fields = args[..args.len() - 1]
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (if i == 0 { "sort_col".to_string() } else { format!("col{}", i - 1) }, a.clone()))
                    .collect();
                let row = compile(&Expr::Struct(fields), scope)?;
                let result = SqlType::Array(Box::new(row.ty.clone()));
                let arg_type = row.ty.clone();
                return Ok(AggSpec {
                    kind: AggKind::TopK(k as usize),
                    arg: Some(row),
                    arg_type,
                    result_type: result,
                    ignore_nulls,
                    by_offset_n,
                    collect_limit: COLLECT_LIMIT,
                });
            }
            "TOPK" => {
                arity(2)?;
                let k = compiled[1].as_const().and_then(Value::as_i64).filter(|k| *k > 0).ok_or_else(|| {
                    SqlError::analysis("TOPK needs a positive integer literal as its second argument")
                })?;
                (AggKind::TopK(k as usize), SqlType::Array(Box::new(arg_type.clone())))
            }
            other => return Err(SqlError::Unsupported(format!("aggregate function {other}"))),
        };
    Ok(AggSpec {
        kind,
        arg: compiled.into_iter().next(),
        arg_type,
        result_type,
        ignore_nulls,
        by_offset_n,
        collect_limit: COLLECT_LIMIT,
    })
}

/// Plans a `GROUP BY` query over one stream.
/// Expands `*` in a select list (for a qualifier, or for all sources).
pub type StarExpander = Box<dyn Fn(Option<&str>) -> Result<Vec<NamedItem>>>;

/// What an aggregation reads: one source, or the joined rows of a join.
pub struct AggInput {
    pub kind: Kind,
    /// Row index of the record time.
    pub rowtime: usize,
    /// Table sources: how many leading row columns are the key.
    pub key_width: usize,
    /// `*` expansion.
    pub star: StarExpander,
    /// Plan steps up to the aggregation.
    pub steps: Vec<String>,
    pub inputs: Vec<SourceDef>,
}

/// Plans a `GROUP BY` query over one stream or table.
pub fn plan_aggregate(
    query: &Query,
    source: SourceDef,
    scope: Scope,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let qualifier = query.from.qualifier().to_string();
    let src = source.clone();
    let input = AggInput {
        kind: source.kind,
        rowtime: source.rowtime_index(),
        key_width: source.key_columns.len(),
        star: Box::new(move |_: Option<&str>| -> Result<Vec<NamedItem>> { Ok(crate::plan::star_of(&src, &qualifier)) }),
        steps: vec![format!("SOURCE {} {} (topic: {})", source.kind.name(), source.name, source.topic)],
        inputs: vec![source],
    };
    plan_aggregate_input(query, input, scope, purpose, sink_name)
}

/// Plans a `GROUP BY` over rows described by `input` and `scope`.
pub fn plan_aggregate_input(
    query: &Query,
    input: AggInput,
    scope: Scope,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let source_kind = input.kind;
    let mut items = expand_select(&query.select, &*input.star)?;
    check_aggregation_clauses(query, &items, &scope)?;
    let groups: Vec<String> = query.group_by.iter().map(unqualified).collect();
    let mut rewriter = Rewriter { groups: &groups, aggs: Vec::new(), loose: Vec::new() };
    // Every SELECT expression must be computable from the GROUP BY expressions and aggregates:
    // ksqlDB names each one that is not, as written.
    let mut rewritten = Vec::new();
    let mut loose_items = Vec::new();
    for item in &items {
        rewriter.loose.clear();
        rewritten.push(rewriter.rewrite(&item.expr)?);
        if !rewriter.loose.is_empty() {
            loose_items.push(unqualified(&item.expr));
        }
    }
    if !loose_items.is_empty() {
        return Err(SqlError::analysis(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or \
             remove them from the SELECT.",
            loose_items.join(", ")
        )));
    }
    if query.group_by.is_empty() {
        return Err(SqlError::analysis(if purpose.persistent() {
            let aggs: Vec<String> = rewriter
                .aggs
                .iter()
                .map(|(_, e)| match e {
                    // ksqlDB counts ROWTIME for COUNT(*).
                    Expr::Call { name, star: true, .. } => format!("{name}(ROWTIME)"),
                    other => other.to_string(),
                })
                .collect();
            format!(
                "CREATE TABLE AS SELECT statement does not support aggregate function [{}] without a GROUP BY clause.",
                aggs.join(", ")
            )
        } else {
            "aggregate functions need a GROUP BY clause (ksqlDB has no global aggregation)".to_string()
        }));
    }
    let having = match &query.having {
        Some(h) => {
            rewriter.loose.clear();
            let rewritten = rewriter.rewrite(h)?;
            if !rewriter.loose.is_empty() {
                return Err(SqlError::analysis(format!(
                    "Non-aggregate HAVING expression not part of GROUP BY: {}",
                    rewriter.loose.join(", ")
                )));
            }
            Some(rewritten)
        }
        None => None,
    };
    if source_kind == Kind::Table && query.window.is_some() {
        return Err(SqlError::analysis("Windowed aggregations are only supported on streams, not tables"));
    }
    if !query.partition_by.is_empty() {
        return Err(SqlError::analysis("PARTITION BY and GROUP BY cannot be used together"));
    }
    let filter = match &query.filter {
        Some(f) => Some(compile(f, &scope)?),
        None => None,
    };
    let mut group_by = Vec::new();
    let mut group_types = Vec::new();
    for g in &query.group_by {
        let c = compile(g, &scope)?;
        group_types.push(c.ty.clone());
        group_by.push(c);
    }
    let aggs: Vec<AggSpec> = rewriter.aggs.iter().map(|(_, e)| agg_spec(e, &scope)).collect::<Result<_>>()?;
    if let Err(e) = check_output_names(&items, purpose) {
        // An aggregate named like another column: ksqlDB names the value column and its type
        // (group-by.json: `DATA AS COUNT, COUNT(*) AS COUNT`).
        for (j, item) in items.iter().enumerate() {
            let clash = items.iter().enumerate().any(|(i, o)| i != j && o.name == item.name);
            let agg = match rewritten.get(j) {
                Some(Expr::Column { name, .. }) => name.strip_prefix("KSQL_AGG_").and_then(|n| n.parse::<usize>().ok()),
                _ => None,
            };
            if let (true, Some(spec)) = (clash, agg.and_then(|n| aggs.get(n))) {
                return Err(SqlError::analysis(format!(
                    "Duplicate value columns found in schema: `{}` {}",
                    item.name, spec.result_type
                )));
            }
        }
        return Err(e);
    }
    // ksqlDB keeps aggregation state in the source's value format: DELIMITED holds no struct or
    // array, which the state of these aggregates is (average-udaf.json, topk-group-by.json).
    let delimited = input.inputs.iter().any(|i| i.value_format == crate::format::Format::Delimited);
    let structured_state = |k: AggKind| {
        matches!(
            k,
            AggKind::Avg
                | AggKind::StddevSamp(_)
                | AggKind::TopK(_)
                | AggKind::TopKDistinct(_)
                | AggKind::CollectList
                | AggKind::CollectSet
                | AggKind::Latest
                | AggKind::Earliest
                | AggKind::CountDistinct
                | AggKind::Correlation
                | AggKind::Histogram
        )
    };
    if delimited && aggs.iter().any(|a| structured_state(a.kind)) {
        return Err(SqlError::analysis(
            "One of the functions used in the statement has an intermediate type that the value format can not \
             handle. Please remove the function or change the format.",
        ));
    }
    if source_kind == Kind::Table {
        // Only aggregations that can be undone can follow table updates (ksqlDB's TableUdaf).
        let undoable = |k: AggKind| {
            matches!(
                k,
                AggKind::CountStar
                    | AggKind::Count
                    | AggKind::Sum
                    | AggKind::Avg
                    | AggKind::CollectList
                    | AggKind::CollectSet
                    | AggKind::Correlation
                    | AggKind::Histogram
            )
        };
        let mut refused: Vec<String> = Vec::new();
        for ((_, e), a) in rewriter.aggs.iter().zip(&aggs) {
            let name = match e {
                Expr::Call { name, .. } => name.clone(),
                other => other.to_string(),
            };
            if !undoable(a.kind) && !refused.contains(&name) {
                refused.push(name);
            }
        }
        if !refused.is_empty() {
            let s = if refused.len() == 1 { "" } else { "s" };
            return Err(SqlError::analysis(format!(
                "The aggregation function{s} {} cannot be applied to a table source, only to a stream source.",
                crate::plan::grammatical(&refused, "and")
            )));
        }
    }
    let mut agg_scope = Scope::default();
    for (i, t) in group_types.iter().enumerate() {
        agg_scope.columns.push(ScopeColumn { qualifier: None, name: format!("KSQL_GRP_{i}"), ty: t.clone() });
    }
    for (j, a) in aggs.iter().enumerate() {
        agg_scope.columns.push(ScopeColumn {
            qualifier: None,
            name: format!("KSQL_AGG_{j}"),
            ty: a.result_type.clone(),
        });
    }
    for name in [WINDOWSTART, WINDOWEND, ROWTIME] {
        agg_scope.columns.push(ScopeColumn { qualifier: None, name: name.into(), ty: SqlType::Bigint });
    }
    if query.window.is_none() {
        for e in rewritten.iter().chain(having.iter()) {
            let mut bad = None;
            e.walk(&mut |x| {
                if let Expr::Column { name, .. } = x {
                    if name == WINDOWSTART || name == WINDOWEND {
                        bad = Some(name.clone());
                    }
                }
            });
            if let Some(b) = bad {
                return Err(SqlError::analysis(format!("{b} can only be used in a windowed aggregation")));
            }
        }
    }
    let mut compiled_items = Vec::new();
    let mut columns = Vec::new();
    // Per GROUP BY expression, the output column that carries it.
    let mut found: Vec<Option<usize>> = vec![None; groups.len()];
    for (item, e) in items.iter().zip(&rewritten) {
        let c = compile(e, &agg_scope)?;
        let is_key = match e {
            Expr::Column { name, .. } => match name.strip_prefix("KSQL_GRP_").and_then(|i| i.parse::<usize>().ok()) {
                Some(i) if found[i].is_none() => {
                    found[i] = Some(columns.len());
                    true
                }
                Some(i) if purpose.persistent() => {
                    let first: &OutputColumn = &columns[found[i].unwrap_or_default()];
                    return Err(SqlError::analysis(format!(
                        "The projection contains a key column more than once: `{}` and `{}`.",
                        first.name, item.name
                    )));
                }
                _ => false,
            },
            _ => false,
        };
        columns.push(OutputColumn { name: item.name.clone(), ty: c.ty.clone(), is_key });
        compiled_items.push(c);
    }
    if purpose.persistent() {
        if found.iter().any(Option::is_none) {
            let keys: Vec<String> =
                query.group_by.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(g, _)| g.to_string()).collect();
            return Err(key_missing(sink_name.unwrap_or("the sink"), "grouping expression", &keys, true, false));
        }
        let order = keys_first(columns.len(), &found.iter().flatten().copied().collect::<Vec<_>>());
        permute(&mut columns, &order);
        permute(&mut compiled_items, &order);
        permute(&mut items, &order);
    }
    let having = match having {
        Some(h) => {
            let c = compile(&h, &agg_scope).map_err(|e| match e {
                // ksqlDB names the aggregate calls, as written, where the rewrite has columns.
                SqlError::Analysis(m) if m.starts_with("Cannot compare ") => {
                    let mut m = m;
                    for (j, (_, agg)) in rewriter.aggs.iter().enumerate().rev() {
                        let mut shown = agg.clone();
                        shown.rewrite(&mut |x| {
                            if let Expr::Column { qualifier: Some(q), name, .. } = x {
                                *name = format!("{q}_{name}");
                                *x = column_expr(None, name);
                                return true;
                            }
                            false
                        });
                        m = m.replace(&format!("KSQL_AGG_{j}"), &shown.to_string());
                    }
                    SqlError::Analysis(format!("Error in HAVING expression: {m}"))
                }
                other => other,
            })?;
            if !matches!(c.ty, SqlType::Boolean | SqlType::Null) {
                return Err(SqlError::analysis("HAVING clause must be a BOOLEAN expression"));
            }
            Some(c)
        }
        None => None,
    };
    let window_info = query.window.map(|w| match w.kind {
        WindowKind::Tumbling { size } => WindowInfo { kind: WindowType::Time, size_ms: Some(size), hopping: false },
        WindowKind::Hopping { size, .. } => WindowInfo { kind: WindowType::Time, size_ms: Some(size), hopping: true },
        WindowKind::Session { .. } => WindowInfo { kind: WindowType::Session, size_ms: None, hopping: false },
    });
    let mut steps = input.steps;
    if let Some(f) = &query.filter {
        steps.push(format!("FILTER {f}"));
    }
    let mut agg_line = format!(
        "AGGREGATE GROUP BY {} COMPUTE {}",
        query.group_by.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", "),
        rewriter.aggs.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join(", ")
    );
    if let Some(w) = &query.window {
        let kind = match w.kind {
            WindowKind::Tumbling { size } => format!("TUMBLING SIZE {size} ms"),
            WindowKind::Hopping { size, advance } => format!("HOPPING SIZE {size} ms ADVANCE BY {advance} ms"),
            WindowKind::Session { gap } => format!("SESSION {gap} ms"),
        };
        let grace = effective_grace(Some(w), query.emit == Some(Emit::Final));
        agg_line.push_str(&format!(" WINDOW {kind} GRACE {grace} ms"));
    }
    steps.push(agg_line);
    if let Some(h) = &query.having {
        steps.push(format!("HAVING {h}"));
    }
    let proj: Vec<String> = items
        .iter()
        .zip(&columns)
        .map(|(i, c)| format!("{} AS {}{}", i.expr, i.name, if c.is_key { " KEY" } else { "" }))
        .collect();
    steps.push(format!("PROJECT {}", proj.join(", ")));
    if query.emit == Some(Emit::Final) {
        steps.push("SUPPRESS UNTIL WINDOW CLOSES".into());
    }
    let rowtime = input.rowtime;
    let op = AggregateOp {
        source_kind,
        filter,
        group_by,
        group_types,
        aggs,
        having,
        items: compiled_items,
        window: query.window,
        emit_final: query.emit == Some(Emit::Final),
        rowtime,
        state: State::new(query.window.is_some()),
        sessions: HashMap::new(),
        stream_time: i64::MIN / 2,
        table_rows: HashMap::new(),
        key_width: input.key_width,
        changelog: None,
        changelog_partition: 0,
        dirty: HashMap::default(),
        last_origin: None,
        query_id: String::new(),
        out_row: Vec::new(),
        group_buf: Vec::new(),
        key_buf: Vec::new(),
        closed_buf: Vec::new(),
        closed_keys: Vec::new(),
    };
    Ok(PlannedQuery {
        inputs: input.inputs,
        operator: Operator::Aggregate(Box::new(op)),
        columns,
        kind: Kind::Table,
        window: window_info,
        limit: query.limit,
        plan: Plan { steps },
        key_from_source: false,
    })
}
