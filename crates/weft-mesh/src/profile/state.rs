//! A product's live profile as data: what is kept per product and per field ([`ProfileState`]), and
//! one write's records summarised before they are merged ([`Batch`]).
//!
//! The work per record (flattening the value, hashing, bucketing) is done while building a [`Batch`],
//! outside any lock; [`ProfileState::merge`] only adds a batch's pre-aggregated summaries, so the
//! per-product lock is held for a time that depends on the batch's distinct fields, not its records.
//!
//! Every summary is mergeable and, except where a bound forces a fold (see [`super::sketch`]), the same
//! whatever the order and grouping of the records: a profile rebuilt from the log equals the one
//! maintained as the records were written, up to the rounding of sums and the tail of the top values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::sketch::{hash_str, hash_value, GridHistogram, HashedMap, Hll, LogHistogram, TopBatch, TopKey, TopValues};

/// Fields kept per product; leaves beyond are counted in [`ProfileState::untracked_values`].
pub const MAX_FIELDS: usize = 256;
/// Nested objects deeper than this are profiled as one `object` field.
pub const MAX_DEPTH: usize = 4;
/// The name of the one field of values that are not objects.
pub const VALUE_FIELD: &str = "(value)";
/// Minutes of throughput kept (a day): the longest window `/stats` answers.
pub const THROUGHPUT_MINUTES: usize = 1440;
pub const MINUTE_MS: i64 = 60_000;

/// The JSON types a field was seen with, as bits.
pub mod kinds {
    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const INTEGER: u8 = 4;
    pub const NUMBER: u8 = 8;
    pub const STRING: u8 = 16;
    pub const ARRAY: u8 = 32;
    pub const OBJECT: u8 = 64;
    /// Names in the order answers list them.
    pub const NAMES: [(u8, &str); 7] = [
        (NULL, "null"),
        (BOOLEAN, "boolean"),
        (INTEGER, "integer"),
        (NUMBER, "number"),
        (STRING, "string"),
        (ARRAY, "array"),
        (OBJECT, "object"),
    ];
}

fn kind_of(value: &Value) -> u8 {
    match value {
        Value::Null => kinds::NULL,
        Value::Bool(_) => kinds::BOOLEAN,
        Value::Number(n) if n.is_i64() || n.is_u64() => kinds::INTEGER,
        Value::Number(_) => kinds::NUMBER,
        Value::String(_) => kinds::STRING,
        Value::Array(_) => kinds::ARRAY,
        Value::Object(_) => kinds::OBJECT,
    }
}

/// A sum with Neumaier's compensation, so a mean over millions of values keeps its digits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sum {
    pub sum: f64,
    pub compensation: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn merge(&mut self, other: Sum) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// What is known of a field's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub sum: Sum,
    /// For quantiles within 1% of the value.
    pub histogram: LogHistogram,
    /// For display histograms, and quantiles where its bins are finer than 1% of the value.
    #[serde(default)]
    pub grid: GridHistogram,
}

impl Numbers {
    fn new() -> Self {
        Numbers {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: Sum::default(),
            histogram: LogHistogram::default(),
            grid: GridHistogram::default(),
        }
    }

    /// Counts `x` but leaves the histograms to [`Batch::seal`], which buckets a batch's numbers at once.
    fn add_unbucketed(&mut self, x: f64) {
        self.count += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.sum.add(x);
    }

    fn merge(&mut self, other: &Numbers) {
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum.merge(other.sum);
        self.histogram.merge(&other.histogram);
        self.grid.merge(&other.grid);
    }

    /// The value of rank `q` (0 to 1), from whichever summary bounds the error tighter there.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let relative = self.histogram.quantile(q, self.min, self.max)?;
        let grid = self.grid.quantile(q, self.min, self.max)?;
        let relative_error = relative.abs() * super::sketch::HISTOGRAM_RELATIVE_ACCURACY;
        Some(if self.grid.width() / 2.0 < relative_error { grid } else { relative })
    }
}

/// The live summary of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldState {
    /// Dotted path (`address.city`), or [`VALUE_FIELD`].
    pub name: String,
    /// [`kinds`] seen, nulls included.
    pub kinds: u8,
    /// Records with a non-null value.
    pub present: u64,
    pub distinct: Hll,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Numbers>,
    /// Shortest and longest string, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengths: Option<(u64, u64)>,
    /// Strings and booleans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<TopValues>,
}

impl FieldState {
    /// A field with no values yet.
    pub fn new(name: String) -> Self {
        FieldState { name, kinds: 0, present: 0, distinct: Hll::default(), numbers: None, lengths: None, top: None }
    }
}

/// Records per minute of record time, for the last [`THROUGHPUT_MINUTES`] minutes of the newest
/// records: slot `minute % 1440` holds the newest minute that fell in it and its count, so the ring is
/// the same whatever the order records arrive in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "Vec<(i64, u64)>", from = "Vec<(i64, u64)>")]
pub struct MinuteRing {
    slots: Vec<(i64, u64)>,
}

impl MinuteRing {
    pub fn add(&mut self, minute: i64, count: u64) {
        if self.slots.is_empty() {
            self.slots = vec![(i64::MIN, 0); THROUGHPUT_MINUTES];
        }
        let slot = &mut self.slots[minute.rem_euclid(THROUGHPUT_MINUTES as i64) as usize];
        if slot.0 == minute {
            slot.1 += count;
        } else if minute > slot.0 {
            *slot = (minute, count);
        }
    }

    /// Counts of the minutes `[from, from + n)`; minutes the ring no longer (or never) held count 0.
    pub fn counts(&self, from_minute: i64, n: usize) -> Vec<u64> {
        (0..n as i64)
            .map(|i| {
                let minute = from_minute + i;
                match self.slots.get(minute.rem_euclid(THROUGHPUT_MINUTES as i64) as usize) {
                    Some(&(m, count)) if m == minute => count,
                    _ => 0,
                }
            })
            .collect()
    }
}

impl From<MinuteRing> for Vec<(i64, u64)> {
    fn from(ring: MinuteRing) -> Self {
        ring.slots.into_iter().filter(|s| s.1 > 0).collect()
    }
}

impl From<Vec<(i64, u64)>> for MinuteRing {
    fn from(minutes: Vec<(i64, u64)>) -> Self {
        let mut ring = MinuteRing::default();
        for (minute, count) in minutes {
            ring.add(minute, count);
        }
        ring
    }
}

/// A product's live profile: the records of its port's topic, and each field of their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileState {
    /// Records profiled, tombstones included.
    pub records: u64,
    /// Records without a value.
    pub tombstones: u64,
    /// Bytes of keys, values and headers.
    pub bytes: u64,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
    pub throughput: MinuteRing,
    /// Records that failed the product's contract (counted by the write path, not in `records`).
    pub dead_lettered: u64,
    /// Values of fields beyond [`MAX_FIELDS`], not profiled.
    pub untracked_values: u64,
    /// In order of first appearance.
    pub fields: Vec<FieldState>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl ProfileState {
    /// Rebuilds the index after reading a snapshot.
    pub fn reindexed(mut self) -> Self {
        self.index = self.fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        self
    }

    /// Adds a batch's summaries.
    pub fn merge(&mut self, batch: &Batch<'_>) {
        self.records += batch.records;
        self.tombstones += batch.tombstones;
        self.bytes += batch.bytes;
        self.first_at = min_option(self.first_at, batch.first_at);
        self.last_at = max_option(self.last_at, batch.last_at);
        for &(minute, count) in &batch.minutes {
            self.throughput.add(minute, count);
        }
        for field in &batch.fields {
            let index = match self.index.get(field.name.as_str()) {
                Some(&index) => index,
                None if self.fields.len() < MAX_FIELDS => {
                    self.index.insert(field.name.clone(), self.fields.len());
                    self.fields.push(FieldState::new(field.name.clone()));
                    self.fields.len() - 1
                }
                None => {
                    self.untracked_values += field.present;
                    continue;
                }
            };
            let state = &mut self.fields[index];
            state.kinds |= field.kinds;
            state.present += field.present;
            for &hash in &field.hashes {
                state.distinct.insert_hash(hash);
            }
            if let Some(numbers) = &field.numbers {
                state.numbers.get_or_insert_with(Numbers::new).merge(numbers);
            }
            if let Some((shortest, longest)) = field.lengths {
                let (a, b) = state.lengths.unwrap_or((shortest, longest));
                state.lengths = Some((a.min(shortest), b.max(longest)));
            }
            if let Some(top) = &field.top_batch {
                state.top.get_or_insert_with(TopValues::default).merge(top);
            }
        }
    }
}

fn min_option(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_option(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One field's values in one batch.
pub struct FieldBatch<'a> {
    name: String,
    kinds: u8,
    present: u64,
    hashes: Vec<u64>,
    numbers: Option<Numbers>,
    /// The numbers, bucketed into `numbers.histogram` by [`Batch::seal`].
    raw: Vec<f64>,
    lengths: Option<(u64, u64)>,
    top: HashedMap<(u64, TopKey<'a>)>,
    top_batch: Option<TopBatch<'a>>,
}

/// Records of one write (or one read of the log), summarised: build with [`Batch::add`], then
/// [`Batch::seal`] before merging.
#[derive(Default)]
pub struct Batch<'a> {
    records: u64,
    tombstones: u64,
    bytes: u64,
    first_at: Option<i64>,
    last_at: Option<i64>,
    minutes: Vec<(i64, u64)>,
    fields: Vec<FieldBatch<'a>>,
    index: HashMap<String, usize>,
    /// The field expected next: records of a product mostly have the same fields in the same order,
    /// so a leaf is first compared with it before the index is searched.
    next: usize,
    /// The path being visited (reused, so a known field costs no allocation).
    path: String,
}

impl<'a> Batch<'a> {
    pub fn records(&self) -> u64 {
        self.records
    }

    /// One record: its timestamp, its size in bytes and its value as readers see it (`Null`: none).
    pub fn add(&mut self, timestamp: i64, bytes: u64, value: &'a Value) {
        self.records += 1;
        self.bytes += bytes;
        self.first_at = min_option(self.first_at, Some(timestamp));
        self.last_at = max_option(self.last_at, Some(timestamp));
        let minute = timestamp.div_euclid(MINUTE_MS);
        match self.minutes.iter_mut().rev().find(|(m, _)| *m == minute) {
            Some(entry) => entry.1 += 1,
            None => self.minutes.push((minute, 1)),
        }
        self.next = 0;
        match value {
            Value::Null => self.tombstones += 1,
            Value::Object(object) => {
                self.path.clear();
                self.visit(object, 1);
            }
            other => {
                self.path.clear();
                self.path.push_str(VALUE_FIELD);
                self.leaf(other);
            }
        }
    }

    /// Each member of `object` is a field (dotted path); a non-empty object is a field itself and,
    /// up to [`MAX_DEPTH`], so is each of its members.
    fn visit(&mut self, object: &'a Map<String, Value>, depth: usize) {
        let base = self.path.len();
        for (key, value) in object {
            self.path.truncate(base);
            if base > 0 {
                self.path.push('.');
            }
            self.path.push_str(key);
            self.leaf(value);
            if let Value::Object(inner) = value {
                if depth < MAX_DEPTH && !inner.is_empty() {
                    self.visit(inner, depth + 1);
                }
            }
        }
        self.path.truncate(base);
    }

    fn leaf(&mut self, value: &'a Value) {
        let expected = self.fields.get(self.next).filter(|f| f.name == self.path).map(|_| self.next);
        let index = match expected.or_else(|| self.index.get(self.path.as_str()).copied()) {
            Some(index) => index,
            None => {
                self.index.insert(self.path.clone(), self.fields.len());
                self.fields.push(FieldBatch {
                    name: self.path.clone(),
                    kinds: 0,
                    present: 0,
                    hashes: Vec::new(),
                    numbers: None,
                    raw: Vec::new(),
                    lengths: None,
                    top: HashedMap::default(),
                    top_batch: None,
                });
                self.fields.len() - 1
            }
        };
        self.next = index + 1;
        let field = &mut self.fields[index];
        field.kinds |= kind_of(value);
        if value.is_null() {
            return;
        }
        field.present += 1;
        let hash = match value {
            Value::String(text) => {
                let length = text.chars().count() as u64;
                let (a, b) = field.lengths.unwrap_or((length, length));
                field.lengths = Some((a.min(length), b.max(length)));
                let hash = hash_str(text);
                field.top.entry(hash).or_insert((0, TopKey::Str(text))).0 += 1;
                hash
            }
            Value::Bool(b) => {
                let hash = hash_value(value);
                field.top.entry(hash).or_insert((0, TopKey::Bool(*b))).0 += 1;
                hash
            }
            Value::Number(n) => {
                if let Some(x) = n.as_f64().filter(|x| x.is_finite()) {
                    field.numbers.get_or_insert_with(Numbers::new).add_unbucketed(x);
                    field.raw.push(x);
                }
                hash_value(value)
            }
            other => hash_value(other),
        };
        field.hashes.push(hash);
    }

    /// Buckets each field's numbers and reduces its value counts to a top-values summary (outside
    /// any lock).
    pub fn seal(&mut self) {
        for field in &mut self.fields {
            if let Some(numbers) = &mut field.numbers {
                numbers.histogram.merge(&LogHistogram::of(&field.raw));
                numbers.grid.merge(&GridHistogram::of(&field.raw));
                field.raw = Vec::new();
            }
            if !field.top.is_empty() {
                field.top_batch = Some(TopBatch::reduce(std::mem::take(&mut field.top)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state_of(values: &[(i64, Value)]) -> ProfileState {
        let mut state = ProfileState::default();
        let mut batch = Batch::default();
        for (timestamp, value) in values {
            batch.add(*timestamp, 10, value);
        }
        batch.seal();
        state.merge(&batch);
        state
    }

    #[test]
    fn fields_are_flattened_counted_and_typed() {
        let state = state_of(&[
            (0, json!({"id": "a", "amount": 1.5, "address": {"city": "Oslo", "geo": {}}})),
            (1, json!({"id": "b", "amount": null, "n": 2})),
            (2, Value::Null),
            (3, json!("text")),
        ]);
        assert_eq!((state.records, state.tombstones, state.bytes), (4, 1, 40));
        assert_eq!((state.first_at, state.last_at), (Some(0), Some(3)));
        let names: Vec<&str> = state.fields.iter().map(|f| f.name.as_str()).collect();
        // serde_json orders members by key; an empty object is a leaf.
        assert_eq!(names, ["address", "address.city", "address.geo", "amount", "id", "n", VALUE_FIELD]);
        let amount = &state.fields[3];
        assert_eq!((amount.kinds, amount.present), (kinds::NUMBER | kinds::NULL, 1));
        let numbers = amount.numbers.as_ref().expect("numbers");
        assert_eq!((numbers.count, numbers.min, numbers.max), (1, 1.5, 1.5));
        assert_eq!(state.fields[4].lengths, Some((1, 1)));
        assert_eq!(state.fields[6].kinds, kinds::STRING);
    }

    #[test]
    fn batches_merge_to_the_state_of_one_batch() {
        let values: Vec<(i64, Value)> = (0..500)
            .map(|i| {
                (i * 1000, json!({"k": format!("k{}", i % 37), "x": i % 11, "f": (i as f64) / 7.0, "b": i % 2 == 0}))
            })
            .collect();
        let whole = state_of(&values);
        let mut parts = ProfileState::default();
        for chunk in values.chunks(41).rev() {
            let mut batch = Batch::default();
            for (t, v) in chunk {
                batch.add(*t, 10, v);
            }
            batch.seal();
            parts.merge(&batch);
        }
        assert_eq!((parts.records, parts.bytes, parts.first_at, parts.last_at), (500, 5000, Some(0), Some(499_000)));
        assert_eq!(parts.throughput, whole.throughput);
        for name in ["b", "f", "k", "x"] {
            let a = whole.fields.iter().find(|f| f.name == name).expect("field");
            let b = parts.fields.iter().find(|f| f.name == name).expect("field");
            assert_eq!(
                (a.kinds, a.present, &a.distinct, a.lengths),
                (b.kinds, b.present, &b.distinct, b.lengths),
                "{name}"
            );
            assert_eq!(a.top.as_ref().map(|t| t.top(40)), b.top.as_ref().map(|t| t.top(40)), "{name}");
            if let (Some(x), Some(y)) = (&a.numbers, &b.numbers) {
                assert_eq!(
                    (x.count, x.min, x.max, &x.histogram.count()),
                    (y.count, y.min, y.max, &y.histogram.count())
                );
                assert_eq!(x.grid, y.grid, "{name}: the grid is the same however batched");
                assert!((x.sum.value() - y.sum.value()).abs() < 1e-9, "{name}");
            }
        }
    }

    #[test]
    fn fields_beyond_the_limit_are_counted_not_kept() {
        let mut object = Map::new();
        for i in 0..MAX_FIELDS + 10 {
            object.insert(format!("f{i:04}"), json!(i));
        }
        let state = state_of(&[(0, Value::Object(object))]);
        assert_eq!(state.fields.len(), MAX_FIELDS);
        assert_eq!(state.untracked_values, 10);
    }

    #[test]
    fn the_minute_ring_keeps_the_newest_minute_of_each_slot() {
        let mut ring = MinuteRing::default();
        ring.add(100, 2);
        ring.add(100 + THROUGHPUT_MINUTES as i64, 5);
        ring.add(100, 1);
        ring.add(101, 3);
        assert_eq!(ring.counts(100, 2), [0, 3]);
        assert_eq!(ring.counts(100 + THROUGHPUT_MINUTES as i64, 1), [5]);
        let back: MinuteRing = serde_json::from_value(serde_json::to_value(&ring).expect("json")).expect("back");
        assert_eq!(back, ring);
    }

    #[test]
    fn a_state_survives_its_snapshot_form() {
        let state = state_of(&[(0, json!({"a": "x", "b": 1.25, "c": true})), (60_001, json!({"a": "y", "b": -3}))]);
        let text = serde_json::to_string(&state).expect("json");
        let back: ProfileState = serde_json::from_str::<ProfileState>(&text).expect("back").reindexed();
        assert_eq!(back, state.clone().reindexed());
        let mut more = back;
        let mut batch = Batch::default();
        let value = json!({"a": "x"});
        batch.add(5, 1, &value);
        batch.seal();
        more.merge(&batch);
        assert_eq!(more.fields.len(), 3, "the index was rebuilt: no field twice");
    }
}
