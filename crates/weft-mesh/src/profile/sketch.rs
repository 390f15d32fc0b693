//! The bounded, mergeable summaries a live profile keeps per field, each with its stated error:
//!
//! - [`Hll`]: HyperLogLog with 2^12 = 4096 registers of a 64-bit hash and Ertl's improved raw estimator
//!   ("New cardinality estimation algorithms for HyperLogLog sketches", 2017, algorithm 6), which needs
//!   no bias tables and no switch to linear counting: the relative standard error is
//!   1.04/sqrt(4096) ≈ 1.6% over the whole range. Up to [`HLL_EXACT_MAX`] distinct values the sketch
//!   holds their hashes instead, and counts exactly; a field costs at most 4 KiB either way.
//! - [`GridHistogram`]: numbers in at most [`GRID_BINS`] equal-width bins whose width is a power of two,
//!   aligned to its multiples: adaptive bins, because a profile cannot know a field's range in advance.
//!   When values no longer fit, the width doubles and pairs of bins merge exactly, so the bins are a
//!   function of the values alone (the smallest such width that spans them), whatever their order and
//!   grouping: a rebuild from the log equals the live state, and merging is exact. Display histograms
//!   (10 equal-width bins between min and max) are drawn from it: a value within half a grid bin (at
//!   most 1/64 of the range) of a display bin's edge may be counted in the neighbouring bin.
//! - [`LogHistogram`]: numbers in logarithmic buckets (DDSketch's mapping, "DDSketch: a fast and
//!   fully-mergeable quantile sketch with relative-error guarantees", Masson et al., 2019) with a
//!   relative accuracy of 1%: any quantile is within 1% of a value of that rank, which the grid cannot
//!   promise for skewed data (latencies from 1 ms to 10 s). Buckets are fixed by the value alone, so it
//!   too is order-independent. At most [`MAX_BUCKETS`] buckets per sign: beyond, the smallest
//!   magnitudes are folded together (only data spanning more than 10^17 gets there). A quantile is
//!   answered by whichever of the two bounds its error tighter: 1% of the value, or half a grid bin
//!   (timestamps, whose range is tiny next to their magnitude, need the grid).
//! - [`TopValues`]: a Misra-Gries summary of [`TOP_COUNTERS`] counters, merged batch by batch as
//!   Agarwal et al. merge them ("Mergeable summaries", 2012). Every value more frequent than
//!   N/(k+1) of the N values seen is kept; a reported count is never above the true count and at
//!   most [`TopValues::max_error`] (≤ N/(k+1)) below it.
//!
//! Hashes ([`hash_value`]) are this module's own, fixed, so sketches persisted in snapshots stay
//! comparable across restarts and releases.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::Value;

// ----- hashing -----

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;
const K2: u64 = 0x8ebc_6af0_9c88_c6e3;

/// The 128-bit product of two words folded to 64 bits (wyhash's mixing step).
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A stable 64-bit hash, fed words and byte strings.
struct StableHasher(u64);

impl StableHasher {
    fn new(tag: u64) -> Self {
        StableHasher(fold(tag ^ K0, K1))
    }

    fn word(&mut self, word: u64) {
        self.0 = fold(self.0 ^ word, K1);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(word));
        }
        self.0 = fold(self.0 ^ bytes.len() as u64, K2);
    }

    fn finish(self) -> u64 {
        fmix64(self.0)
    }
}

/// The hash of a JSON value for distinct counting: two values hash alike when their JSON texts are
/// equal (`1` and `1.0` differ, as their texts do; object members in key order).
pub fn hash_value(value: &Value) -> u64 {
    match value {
        Value::Null => StableHasher::new(0).finish(),
        Value::Bool(b) => {
            let mut h = StableHasher::new(1);
            h.word(u64::from(*b));
            h.finish()
        }
        Value::Number(n) => {
            let mut h;
            if let Some(i) = n.as_i64() {
                h = StableHasher::new(2);
                h.word(i as u64);
            } else if let Some(u) = n.as_u64() {
                h = StableHasher::new(3);
                h.word(u);
            } else {
                h = StableHasher::new(4);
                h.word(n.as_f64().unwrap_or_default().to_bits());
            }
            h.finish()
        }
        Value::String(s) => hash_str(s),
        Value::Array(items) => {
            let mut h = StableHasher::new(6);
            for item in items {
                h.word(hash_value(item));
            }
            h.word(items.len() as u64);
            h.finish()
        }
        Value::Object(members) => {
            let mut h = StableHasher::new(7);
            for (key, member) in members {
                h.bytes(key.as_bytes());
                h.word(hash_value(member));
            }
            h.word(members.len() as u64);
            h.finish()
        }
    }
}

/// A hasher for keys that are [`hash_value`]s already: it keeps the key as it is.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by value hashes.
pub type HashedMap<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// The hash of a JSON string value (as [`hash_value`] of `Value::String`).
pub fn hash_str(text: &str) -> u64 {
    let mut h = StableHasher::new(5);
    h.bytes(text.as_bytes());
    h.finish()
}

// ----- HyperLogLog -----

/// Index bits of the hash: 2^12 registers.
pub const HLL_PRECISION: u32 = 12;
/// Registers of a sketch.
pub const HLL_REGISTERS: usize = 1 << HLL_PRECISION;
/// The relative standard error of a distinct estimate: 1.04 / sqrt(registers).
pub const HLL_STANDARD_ERROR: f64 = 1.04 / 64.0;
/// Bits of the hash left after the index; a register holds 0..=Q+1.
const Q: u32 = 64 - HLL_PRECISION;
/// Distinct hashes kept exactly before the sketch turns into registers.
pub const HLL_EXACT_MAX: usize = 512;

/// A HyperLogLog sketch of distinct values (see the module documentation for its error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "HllRepr", try_from = "HllRepr")]
pub struct Hll {
    registers: Registers,
}

#[derive(Debug, Clone, PartialEq)]
enum Registers {
    /// Up to [`HLL_EXACT_MAX`] distinct hashes, sorted: the count is exact (bar 64-bit collisions).
    Exact(Vec<u64>),
    Dense(Box<[u8]>),
}

impl Default for Hll {
    fn default() -> Self {
        Hll { registers: Registers::Exact(Vec::new()) }
    }
}

/// The register and rank of a 64-bit hash: the first 12 bits choose the register, the rank is one
/// more than the leading zeros of the other 52 (capped at 53).
fn point(hash: u64) -> (usize, u8) {
    let index = (hash >> Q) as usize;
    let rest = hash << HLL_PRECISION;
    let rank = (rest.leading_zeros() + 1).min(Q + 1) as u8;
    (index, rank)
}

impl Hll {
    pub fn insert_hash(&mut self, hash: u64) {
        match &mut self.registers {
            Registers::Dense(registers) => {
                let (index, rank) = point(hash);
                registers[index] = registers[index].max(rank);
            }
            Registers::Exact(hashes) => {
                if let Err(at) = hashes.binary_search(&hash) {
                    hashes.insert(at, hash);
                }
                if hashes.len() > HLL_EXACT_MAX {
                    let mut dense = vec![0u8; HLL_REGISTERS].into_boxed_slice();
                    for &h in hashes.iter() {
                        let (index, rank) = point(h);
                        dense[index] = dense[index].max(rank);
                    }
                    self.registers = Registers::Dense(dense);
                }
            }
        }
    }

    /// The union of two sketches.
    pub fn merge(&mut self, other: &Hll) {
        match &other.registers {
            Registers::Exact(hashes) => hashes.iter().for_each(|&h| self.insert_hash(h)),
            Registers::Dense(theirs) => {
                if let Registers::Exact(hashes) = &self.registers {
                    let mut dense = theirs.clone();
                    for &h in hashes {
                        let (index, rank) = point(h);
                        dense[index] = dense[index].max(rank);
                    }
                    self.registers = Registers::Dense(dense);
                } else if let Registers::Dense(mine) = &mut self.registers {
                    mine.iter_mut().zip(theirs.iter()).for_each(|(a, &b)| *a = (*a).max(b));
                }
            }
        }
    }

    /// The number of distinct values: exact while few, else Ertl's estimate (2017, algorithm 6).
    pub fn estimate(&self) -> f64 {
        let registers = match &self.registers {
            Registers::Exact(hashes) => return hashes.len() as f64,
            Registers::Dense(registers) => registers,
        };
        let mut counts = [0u32; Q as usize + 2];
        registers.iter().for_each(|&r| counts[usize::from(r)] += 1);
        let m = HLL_REGISTERS as f64;
        let q = Q as usize;
        let mut z = m * tau((m - f64::from(counts[q + 1])) / m);
        for k in (1..=q).rev() {
            z = 0.5 * (z + f64::from(counts[k]));
        }
        z += m * sigma(f64::from(counts[0]) / m);
        // α∞ = 1 / (2 ln 2)
        let alpha = 0.5 / std::f64::consts::LN_2;
        alpha * m * m / z
    }
}

/// Ertl's σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// Ertl's τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))^2 2^-k) / 3.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// How a sketch is stored in a snapshot: its exact hashes (little-endian, base64) while few, else
/// its 4096 registers (base64).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HllRepr {
    precision: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dense: Option<String>,
}

impl From<Hll> for HllRepr {
    fn from(hll: Hll) -> Self {
        let (exact, dense) = match hll.registers {
            Registers::Exact(hashes) => {
                let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
                (Some(crate::records::base64_encode(&bytes)), None)
            }
            Registers::Dense(registers) => (None, Some(crate::records::base64_encode(&registers))),
        };
        HllRepr { precision: HLL_PRECISION, exact, dense }
    }
}

impl TryFrom<HllRepr> for Hll {
    type Error = String;

    fn try_from(repr: HllRepr) -> Result<Self, Self::Error> {
        if repr.precision != HLL_PRECISION {
            return Err(format!("a sketch of precision {} (this build keeps {HLL_PRECISION})", repr.precision));
        }
        let decode = |text: &str| crate::records::base64_decode(text).ok_or("a sketch that is not base64");
        let mut hll = Hll::default();
        match (repr.exact, repr.dense) {
            (Some(text), None) => {
                let bytes = decode(&text)?;
                if !bytes.len().is_multiple_of(8) || bytes.len() / 8 > HLL_EXACT_MAX {
                    return Err(format!("{} bytes of exact hashes", bytes.len()));
                }
                for chunk in bytes.chunks_exact(8) {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    hll.insert_hash(u64::from_le_bytes(word));
                }
            }
            (None, Some(text)) => {
                let registers = decode(&text)?;
                if registers.len() != HLL_REGISTERS || registers.iter().any(|&r| u32::from(r) > Q + 1) {
                    return Err(format!("{} registers, or a rank above {}", registers.len(), Q + 1));
                }
                hll.registers = Registers::Dense(registers.into_boxed_slice());
            }
            _ => return Err("a sketch needs either exact hashes or registers".into()),
        }
        Ok(hll)
    }
}

// ----- numbers -----

/// The relative accuracy of [`LogHistogram`]'s buckets (and so of its quantiles).
pub const HISTOGRAM_RELATIVE_ACCURACY: f64 = 0.01;
/// Buckets kept per sign.
pub const MAX_BUCKETS: usize = 2048;
/// Magnitudes below this count as zero.
const MIN_MAGNITUDE: f64 = 1e-9;

/// A bucket: how many values fell in it and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub count: u64,
    #[serde(with = "lossy_f64")]
    pub sum: f64,
}

impl Bucket {
    fn add(&mut self, other: Bucket) {
        self.count += other.count;
        self.sum += other.sum;
    }
}

/// Numbers in buckets of 1% relative width (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogHistogram {
    #[serde(default)]
    zero: Bucket,
    /// Positive values by bucket index: bucket i holds (γ^(i-1), γ^i].
    #[serde(default)]
    positive: BTreeMap<i32, Bucket>,
    /// Negative values by the index of their magnitude.
    #[serde(default)]
    negative: BTreeMap<i32, Bucket>,
}

/// γ = (1 + α) / (1 - α)
fn gamma() -> f64 {
    (1.0 + HISTOGRAM_RELATIVE_ACCURACY) / (1.0 - HISTOGRAM_RELATIVE_ACCURACY)
}

fn bucket_index(magnitude: f64) -> i32 {
    (magnitude.ln() / gamma().ln()).ceil() as i32
}

/// The value that represents bucket `index` within the relative accuracy: 2γ^i / (γ + 1).
fn bucket_value(index: i32) -> f64 {
    let g = gamma();
    2.0 * g.powi(index) / (g + 1.0)
}

impl LogHistogram {
    /// Adds a finite value (others are ignored).
    pub fn insert(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let one = Bucket { count: 1, sum: value };
        if value.abs() < MIN_MAGNITUDE {
            self.zero.add(one);
        } else if value > 0.0 {
            Self::add_to(&mut self.positive, bucket_index(value), one);
        } else {
            Self::add_to(&mut self.negative, bucket_index(-value), one);
        }
    }

    fn add_to(store: &mut BTreeMap<i32, Bucket>, index: i32, bucket: Bucket) {
        store.entry(index).or_default().add(bucket);
        if store.len() > MAX_BUCKETS {
            // Fold the two smallest magnitudes together: only data spanning more than γ^2048 ≈ 10^17.7
            // gets here, and then its smallest values lose their precision first (DDSketch's
            // collapsing store).
            if let Some((_, smallest)) = store.pop_first() {
                if let Some((_, next)) = store.iter_mut().next() {
                    next.add(smallest);
                }
            }
        }
    }

    /// The histogram of `values` (finite ones), bucketed in one pass over them sorted by bucket.
    pub fn of(values: &[f64]) -> LogHistogram {
        let mut keyed: Vec<(i8, i32, f64)> = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| {
                if v.abs() < MIN_MAGNITUDE {
                    (0, 0, v)
                } else if v > 0.0 {
                    (1, bucket_index(v), v)
                } else {
                    (-1, bucket_index(-v), v)
                }
            })
            .collect();
        keyed.sort_unstable_by_key(|&(sign, index, _)| (sign, index));
        let mut histogram = LogHistogram::default();
        for run in keyed.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let bucket = Bucket { count: run.len() as u64, sum: run.iter().map(|r| r.2).sum() };
            let (sign, index) = (run[0].0, run[0].1);
            match sign {
                0 => histogram.zero.add(bucket),
                1 => Self::add_to(&mut histogram.positive, index, bucket),
                _ => Self::add_to(&mut histogram.negative, index, bucket),
            }
        }
        histogram
    }

    pub fn merge(&mut self, other: &LogHistogram) {
        self.zero.add(other.zero);
        for (&i, &b) in &other.positive {
            Self::add_to(&mut self.positive, i, b);
        }
        for (&i, &b) in &other.negative {
            Self::add_to(&mut self.negative, i, b);
        }
    }

    pub fn count(&self) -> u64 {
        self.zero.count
            + self.positive.values().map(|b| b.count).sum::<u64>()
            + self.negative.values().map(|b| b.count).sum::<u64>()
    }

    /// Buckets from the smallest value to the largest, each with its representative value (for
    /// quantiles) and the mean of its values (for placing it in a display bin).
    fn ascending(&self) -> impl Iterator<Item = (f64, Bucket)> + '_ {
        let negative = self.negative.iter().rev().map(|(&i, &b)| (-bucket_value(i), b));
        let zero = std::iter::once((0.0, self.zero)).filter(|(_, b)| b.count > 0);
        let positive = self.positive.iter().map(|(&i, &b)| (bucket_value(i), b));
        negative.chain(zero).chain(positive)
    }

    /// The value of rank `q` (0 to 1), within the relative accuracy, clamped to `[min, max]`.
    pub fn quantile(&self, q: f64, min: f64, max: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (total - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (value, bucket) in self.ascending() {
            seen += bucket.count;
            if seen > rank {
                return Some(value.clamp(min, max));
            }
        }
        Some(max)
    }

    /// `bins` equal-width bins over `[min, max]` (the last one includes `max`); integer data with a
    /// span below `bins` gets one bin per integer. Each bucket goes to the bin of the mean of its
    /// values, so a value lands in a neighbouring bin only when it lies within 1% of a bin's edge.
    pub fn display_bins(&self, min: f64, max: f64, integers: bool, bins: usize) -> Vec<(f64, f64, u64)> {
        let total = self.count();
        if total == 0 || bins == 0 {
            return Vec::new();
        }
        if max <= min {
            return vec![(min, max, total)];
        }
        let span = max - min;
        let per_integer = integers && span < bins as f64;
        let (bins, width) = if per_integer { (span as usize + 1, 1.0) } else { (bins, span / bins as f64) };
        let mut counts = vec![0u64; bins];
        for (_, bucket) in self.ascending() {
            let mean = (bucket.sum / bucket.count.max(1) as f64).clamp(min, max);
            let at = if per_integer { mean.round() - min } else { mean - min };
            let index = ((at / width).max(0.0) as usize).min(bins - 1);
            counts[index] += bucket.count;
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, count)| {
                let from = min + width * i as f64;
                let to = if i == bins - 1 && !per_integer { max } else { from + width };
                (from, to, count)
            })
            .collect()
    }
}

/// Most bins of a [`GridHistogram`].
pub const GRID_BINS: usize = 128;
/// The finest grid: bins of 2^-64.
const GRID_MIN_EXP: i32 = -64;

/// Numbers in adaptive equal-width bins (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GridHistogram {
    /// Bins are `[k·2^exp, (k+1)·2^exp)`; `None` before the first value.
    exp: Option<i32>,
    bins: BTreeMap<i64, u64>,
}

/// The finest grid a value allows: a bin narrower than the value's last bit (2^-52 of it) tells
/// nothing, and keeps bin numbers within an `i64`.
fn precision_exp(x: f64) -> i32 {
    if x == 0.0 {
        return GRID_MIN_EXP;
    }
    let exponent = ((x.abs().to_bits() >> 52) & 0x7ff) as i32 - 1023;
    (exponent - 52).max(GRID_MIN_EXP)
}

fn grid_key(x: f64, exp: i32) -> i64 {
    (x / 2f64.powi(exp)).floor() as i64
}

impl GridHistogram {
    /// The histogram of `values` (finite ones).
    pub fn of(values: &[f64]) -> GridHistogram {
        let mut grid = GridHistogram::default();
        let finite = || values.iter().copied().filter(|v| v.is_finite());
        let (Some(min), Some(max)) = (finite().reduce(f64::min), finite().reduce(f64::max)) else { return grid };
        let mut exp = finite().map(precision_exp).max().unwrap_or(GRID_MIN_EXP);
        while (grid_key(max, exp) - grid_key(min, exp)) as usize >= GRID_BINS {
            exp += 1;
        }
        let mut keys: Vec<i64> = finite().map(|v| grid_key(v, exp)).collect();
        keys.sort_unstable();
        for run in keys.chunk_by(|a, b| a == b) {
            *grid.bins.entry(run[0]).or_default() += run.len() as u64;
        }
        grid.exp = Some(exp);
        grid
    }

    /// Makes bins `2^(exp - self.exp)` times wider: bin k becomes k >> shift (floor division).
    fn coarsen(&mut self, exp: i32) {
        let Some(current) = self.exp else {
            self.exp = Some(exp);
            return;
        };
        if exp <= current {
            return;
        }
        let shift = (exp - current).min(63) as u32;
        let mut wider = BTreeMap::new();
        for (k, count) in std::mem::take(&mut self.bins) {
            *wider.entry(k >> shift).or_default() += count;
        }
        self.bins = wider;
        self.exp = Some(exp);
    }

    pub fn merge(&mut self, other: &GridHistogram) {
        let Some(theirs) = other.exp else { return };
        let mut other = other.clone();
        let exp = self.exp.map_or(theirs, |mine| mine.max(theirs));
        self.coarsen(exp);
        other.coarsen(exp);
        for (k, count) in other.bins {
            *self.bins.entry(k).or_default() += count;
        }
        while let (Some((&first, _)), Some((&last, _))) = (self.bins.first_key_value(), self.bins.last_key_value()) {
            if ((last - first) as usize) < GRID_BINS {
                break;
            }
            self.coarsen(self.exp.unwrap_or(GRID_MIN_EXP) + 1);
        }
    }

    /// The width of a bin (0 before the first value).
    pub fn width(&self) -> f64 {
        self.exp.map_or(0.0, |exp| 2f64.powi(exp))
    }

    pub fn count(&self) -> u64 {
        self.bins.values().sum()
    }

    /// The middle of the bin holding rank `q` (0 to 1), clamped to `[min, max]`: within half a bin of
    /// a value of that rank.
    pub fn quantile(&self, q: f64, min: f64, max: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (total - 1) as f64).floor() as u64;
        let width = self.width();
        let mut seen = 0;
        for (&k, &count) in &self.bins {
            seen += count;
            if seen > rank {
                return Some(((k as f64 + 0.5) * width).clamp(min, max));
            }
        }
        Some(max)
    }

    /// `bins` equal-width bins over `[min, max]` (the last one includes `max`); integer data with a
    /// span below `bins` gets one bin per integer. Each grid bin goes to the display bin of its middle.
    pub fn display_bins(&self, min: f64, max: f64, integers: bool, bins: usize) -> Vec<(f64, f64, u64)> {
        let total = self.count();
        if total == 0 || bins == 0 {
            return Vec::new();
        }
        if max <= min {
            return vec![(min, max, total)];
        }
        let span = max - min;
        let width = self.width();
        // One display bin per integer needs grid bins no wider than 1, which a span this small gives.
        let per_integer = integers && span < bins as f64 && width <= 1.0;
        let (bins, display) = if per_integer { (span as usize + 1, 1.0) } else { (bins, span / bins as f64) };
        let mut counts = vec![0u64; bins];
        for (&k, &count) in &self.bins {
            let at = if per_integer {
                // The one integer in [k·w, (k+1)·w) when w ≤ 1.
                (k as f64 * width).ceil() - min
            } else {
                ((k as f64 + 0.5) * width).clamp(min, max) - min
            };
            let index = ((at / display).max(0.0) as usize).min(bins - 1);
            counts[index] += count;
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, count)| {
                let from = min + display * i as f64;
                let to = if i == bins - 1 && !per_integer { max } else { from + display };
                (from, to, count)
            })
            .collect()
    }
}

/// Sums survive a snapshot even when they overflowed: non-finite numbers are written as strings.
mod lossy_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_str(&value.to_string())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Number {
            Finite(f64),
            Text(String),
        }
        match Number::deserialize(deserializer)? {
            Number::Finite(f) => Ok(f),
            Number::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

// ----- top values -----

/// Counters of a [`TopValues`] summary.
pub const TOP_COUNTERS: usize = 64;
/// The longest string kept as a top value, in bytes (longer ones are cut at a character boundary).
pub const MAX_TOP_VALUE_BYTES: usize = 256;

/// A counted value of a [`TopValues`] summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopEntry {
    pub hash: u64,
    /// The value (a string cut to [`MAX_TOP_VALUE_BYTES`], or a boolean).
    pub value: Value,
    pub count: u64,
}

/// A Misra-Gries summary of the most frequent values (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopValues {
    entries: Vec<TopEntry>,
    /// What every reduction subtracted: the most any reported count is below the true one.
    max_error: u64,
}

/// A value a batch counts, borrowed from the batch's records.
#[derive(Debug, Clone, Copy)]
pub enum TopKey<'a> {
    Str(&'a str),
    Bool(bool),
}

impl TopKey<'_> {
    fn to_value(self) -> Value {
        match self {
            TopKey::Bool(b) => Value::Bool(b),
            TopKey::Str(s) if s.len() <= MAX_TOP_VALUE_BYTES => Value::String(s.to_string()),
            TopKey::Str(s) => {
                let mut end = MAX_TOP_VALUE_BYTES;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Value::String(format!("{}…", &s[..end]))
            }
        }
    }
}

/// One batch's values reduced to at most [`TOP_COUNTERS`] counters, ready to merge under a lock.
#[derive(Debug, Default)]
pub struct TopBatch<'a> {
    entries: Vec<(u64, u64, TopKey<'a>)>,
    subtracted: u64,
}

impl<'a> TopBatch<'a> {
    /// Reduces exact counts (hash → count and value) of one batch to a summary.
    pub fn reduce(counts: HashedMap<(u64, TopKey<'a>)>) -> TopBatch<'a> {
        let mut entries: Vec<(u64, u64, TopKey<'a>)> =
            counts.into_iter().map(|(hash, (count, key))| (hash, count, key)).collect();
        let subtracted = reduce_counts(&mut entries, |e| &mut e.1);
        TopBatch { entries, subtracted }
    }
}

/// Keeps the `TOP_COUNTERS` largest counts minus the next largest (Misra-Gries), dropping the
/// others; returns the amount subtracted.
fn reduce_counts<T>(entries: &mut Vec<T>, count: impl Fn(&mut T) -> &mut u64) -> u64 {
    if entries.len() <= TOP_COUNTERS {
        return 0;
    }
    let mut counts: Vec<u64> = entries.iter_mut().map(|e| *count(e)).collect();
    counts.select_nth_unstable_by(TOP_COUNTERS, |a, b| b.cmp(a));
    let cut = counts[TOP_COUNTERS];
    entries.retain_mut(|e| {
        let c = count(e);
        *c = c.saturating_sub(cut);
        *c > 0
    });
    cut
}

impl TopValues {
    /// Merges a batch's summary.
    pub fn merge(&mut self, batch: &TopBatch<'_>) {
        self.max_error += batch.subtracted;
        if batch.entries.is_empty() {
            return;
        }
        let mut at: HashedMap<usize> = self.entries.iter().enumerate().map(|(i, e)| (e.hash, i)).collect();
        for &(hash, count, key) in &batch.entries {
            match at.get(&hash) {
                Some(&i) => self.entries[i].count += count,
                None => {
                    at.insert(hash, self.entries.len());
                    self.entries.push(TopEntry { hash, value: key.to_value(), count });
                }
            }
        }
        self.max_error += reduce_counts(&mut self.entries, |e| &mut e.count);
    }

    /// The `n` largest counts, largest first (ties by value text).
    pub fn top(&self, n: usize) -> Vec<(Value, u64)> {
        let mut entries: Vec<&TopEntry> = self.entries.iter().collect();
        entries.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.to_string().cmp(&b.value.to_string())));
        entries.into_iter().take(n).map(|e| (e.value.clone(), e.count)).collect()
    }

    /// The most a reported count can be below the true count.
    pub fn max_error(&self) -> u64 {
        self.max_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator (SplitMix64), so that tests do not depend on a random crate.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn equal_json_texts_hash_alike_and_different_ones_do_not() {
        use serde_json::json;
        assert_eq!(hash_value(&json!("a")), hash_str("a"));
        assert_eq!(hash_value(&json!({"a": 1, "b": [true]})), hash_value(&json!({"b": [true], "a": 1})));
        let distinct =
            [json!(1), json!(1.0), json!("1"), json!(true), json!([1]), json!({"1": 1}), json!(null), json!(-1)];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(hash_value(a), hash_value(b), "{a} and {b}");
            }
        }
        // Fixed across builds: a snapshot's registers must stay meaningful.
        assert_eq!(hash_str(""), hash_str(""));
        assert_ne!(hash_str("abcdefgh"), hash_str("abcdefgh\0"));
    }

    #[test]
    fn distinct_estimates_stay_within_three_standard_errors() {
        for (seed, n) in [(1u64, 100_000usize), (2, 250_000), (3, 20_000), (4, 5_000)] {
            let mut hll = Hll::default();
            for i in 0..n {
                hll.insert_hash(hash_str(&format!("value-{seed}-{i}")));
                // Every value twice: repeats must not count.
                if i % 3 == 0 {
                    hll.insert_hash(hash_str(&format!("value-{seed}-{i}")));
                }
            }
            let error = (hll.estimate() - n as f64).abs() / n as f64;
            assert!(error < 3.0 * HLL_STANDARD_ERROR, "n={n}: estimate {} ({error:.4})", hll.estimate());
        }
    }

    #[test]
    fn the_mean_error_over_many_sketches_is_about_the_stated_one() {
        // 40 sketches of 30,000 values: their root mean square relative error is the standard error,
        // within the noise of 40 samples.
        let mut random = SplitMix(7);
        let n = 30_000;
        let mut squares = 0.0;
        for _ in 0..40 {
            let mut hll = Hll::default();
            for _ in 0..n {
                hll.insert_hash(random.next());
            }
            let error = (hll.estimate() - n as f64) / n as f64;
            squares += error * error;
        }
        let rms = (squares / 40.0).sqrt();
        assert!(rms < 1.5 * HLL_STANDARD_ERROR && rms > 0.4 * HLL_STANDARD_ERROR, "rms {rms}");
    }

    #[test]
    fn few_distinct_values_are_counted_exactly() {
        for n in [0usize, 1, 2, 3, 10, 100, 400, HLL_EXACT_MAX] {
            let mut hll = Hll::default();
            for i in 0..n {
                hll.insert_hash(hash_value(&serde_json::json!(i)));
                hll.insert_hash(hash_value(&serde_json::json!(i)));
            }
            assert_eq!(hll.estimate(), n as f64, "n={n}");
        }
        // One more and it estimates, close by.
        let mut hll = Hll::default();
        (0..=HLL_EXACT_MAX).for_each(|i| hll.insert_hash(hash_value(&serde_json::json!(i))));
        assert!(matches!(hll.registers, Registers::Dense(_)));
        let error = (hll.estimate() - 513.0).abs() / 513.0;
        assert!(error < 3.0 * HLL_STANDARD_ERROR, "{}", hll.estimate());
    }

    #[test]
    fn merging_is_the_union_whatever_the_representation() {
        // Either side exact or dense, in either order.
        let (mut a, mut b, mut both) = (Hll::default(), Hll::default(), Hll::default());
        for i in 0..3000u64 {
            let h = hash_value(&serde_json::json!(i));
            if i < 2000 {
                a.insert_hash(h);
            }
            if i >= 1000 {
                b.insert_hash(h);
            }
            both.insert_hash(h);
        }
        let mut small = Hll::default();
        small.insert_hash(hash_str("x"));
        a.merge(&b);
        assert_eq!(a, both);
        let mut with_small = both.clone();
        with_small.merge(&small);
        small.merge(&both);
        assert_eq!(with_small, small, "merging is commutative across sparse and dense");
    }

    #[test]
    fn sketches_read_back_from_snapshots_and_refuse_garbage() {
        let mut hll = Hll::default();
        for i in 0..10 {
            hll.insert_hash(hash_value(&serde_json::json!(i)));
        }
        let exact = serde_json::to_string(&hll).expect("json");
        assert!(exact.contains("exact"), "{exact}");
        assert_eq!(serde_json::from_str::<Hll>(&exact).expect("back"), hll);
        for i in 0..10_000 {
            hll.insert_hash(hash_value(&serde_json::json!(i)));
        }
        let dense = serde_json::to_string(&hll).expect("json");
        assert!(dense.contains("dense") && dense.len() < 6000, "{}", dense.len());
        assert_eq!(serde_json::from_str::<Hll>(&dense).expect("back"), hll);
        let too_many = crate::records::base64_encode(&[0u8; 8 * (HLL_EXACT_MAX + 1)]);
        let high_rank = crate::records::base64_encode(&[60u8; HLL_REGISTERS]);
        for bad in [
            r#"{"precision":14,"exact":""}"#.to_string(),
            r#"{"precision":12,"exact":"AAAA"}"#.to_string(),
            format!(r#"{{"precision":12,"exact":"{too_many}"}}"#),
            format!(r#"{{"precision":12,"dense":"{high_rank}"}}"#),
            r#"{"precision":12,"dense":"AAAA"}"#.to_string(),
            r#"{"precision":12,"dense":"!!!!"}"#.to_string(),
            r#"{"precision":12}"#.to_string(),
        ] {
            assert!(serde_json::from_str::<Hll>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantiles_are_within_the_relative_accuracy() {
        let mut histogram = LogHistogram::default();
        let values: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.37).collect();
        for &v in values.iter().rev() {
            histogram.insert(v);
        }
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            let exact = values[(q * (values.len() - 1) as f64).floor() as usize];
            let estimate = histogram.quantile(q, 0.37, 3700.0).expect("values");
            assert!(
                (estimate - exact).abs() <= HISTOGRAM_RELATIVE_ACCURACY * exact + 1e-9,
                "q={q}: {estimate} vs {exact}"
            );
        }
        assert_eq!(histogram.count(), 10_000);
    }

    #[test]
    fn histograms_do_not_depend_on_order_or_grouping() {
        let values: Vec<f64> = (0..5000).map(|i| ((i * 7919) % 1000) as f64 - 300.0 + (i % 3) as f64 * 0.25).collect();
        let mut one = LogHistogram::default();
        values.iter().for_each(|&v| one.insert(v));
        let mut grouped = LogHistogram::default();
        for chunk in values.chunks(333).rev() {
            grouped.merge(&LogHistogram::of(chunk));
        }
        assert_eq!(one.positive.keys().collect::<Vec<_>>(), grouped.positive.keys().collect::<Vec<_>>());
        assert_eq!(one.count(), grouped.count());
        let bins =
            |h: &LogHistogram| h.display_bins(-300.0, 699.5, false, 10).into_iter().map(|b| b.2).collect::<Vec<_>>();
        assert_eq!(bins(&one), bins(&grouped));
    }

    #[test]
    fn display_bins_count_every_value_in_its_bin() {
        // Values away from the bins' edges land exactly where an exact equal-width histogram puts them.
        let values = [1.0, 2.0, 2.0, 4.1, 5.3, 7.0, 7.0, 7.0, 10.0, 0.5 + 3.0];
        let mut histogram = LogHistogram::default();
        values.iter().for_each(|&v| histogram.insert(v));
        let (min, max) = (1.0, 10.0);
        let bins = histogram.display_bins(min, max, false, 10);
        let mut exact = [0u64; 10];
        for v in values {
            exact[(((v - min) / 0.9) as usize).min(9)] += 1;
        }
        assert_eq!(bins.iter().map(|b| b.2).collect::<Vec<_>>(), exact);
        assert_eq!((bins[0].0, bins[9].1), (1.0, 10.0), "the last bin ends at the maximum");
        assert_eq!(exact[9], 1);
        let mut integers = LogHistogram::default();
        for v in [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, -2.0] {
            integers.insert(v);
        }
        let per_value: Vec<(f64, u64)> =
            integers.display_bins(-2.0, 3.0, true, 10).iter().map(|b| (b.0, b.2)).collect();
        assert_eq!(per_value, [(-2.0, 1), (-1.0, 0), (0.0, 1), (1.0, 2), (2.0, 2), (3.0, 2)]);
    }

    #[test]
    fn grid_histograms_do_not_depend_on_order_or_grouping_and_stay_bounded() {
        let values: Vec<f64> = (0..5000).map(|i| ((i * 7919) % 1000) as f64 * 0.37 - 50.0).collect();
        let whole = GridHistogram::of(&values);
        let mut grouped = GridHistogram::default();
        for chunk in values.chunks(97).rev() {
            grouped.merge(&GridHistogram::of(chunk));
        }
        assert_eq!(grouped, whole);
        assert!(whole.bins.len() <= GRID_BINS && whole.count() == 5000);
        // 369.63 wide: the smallest power of two giving at most 128 bins is 4 (2 would need 185).
        assert_eq!(whole.width(), 4.0);
        let mut one_by_one = GridHistogram::default();
        for &v in &values {
            one_by_one.merge(&GridHistogram::of(&[v]));
        }
        assert_eq!(one_by_one, whole);
    }

    #[test]
    fn grids_resolve_values_far_from_zero() {
        // Timestamps: a range of 30 s next to a magnitude of 10^12, which 1%-wide buckets cannot see.
        let values: Vec<f64> = (0..300).map(|i| 1_796_583_483_811.0 + f64::from(i) * 100.0).collect();
        let grid = GridHistogram::of(&values);
        let bins: Vec<u64> = grid.display_bins(values[0], values[299], true, 10).iter().map(|b| b.2).collect();
        // 30 values in each tenth; a grid bin (256 wide, 2 or 3 values) straddling an edge goes whole
        // to one side.
        assert_eq!(grid.width(), 256.0);
        assert!(bins.iter().all(|&c| c.abs_diff(30) <= 3) && bins.iter().sum::<u64>() == 300, "{bins:?}");
        let median = grid.quantile(0.5, values[0], values[299]).expect("values");
        assert!((median - values[149]).abs() <= grid.width() / 2.0, "{median} vs {}", values[149]);
        let integers = GridHistogram::of(&[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, -2.0]);
        let per_value: Vec<(f64, u64)> =
            integers.display_bins(-2.0, 3.0, true, 10).iter().map(|b| (b.0, b.2)).collect();
        assert_eq!(per_value, [(-2.0, 1), (-1.0, 0), (0.0, 1), (1.0, 2), (2.0, 2), (3.0, 2)]);
        assert_eq!(GridHistogram::of(&[f64::NAN]).count(), 0);
        assert_eq!(GridHistogram::of(&[5.0, 5.0]).display_bins(5.0, 5.0, false, 10), [(5.0, 5.0, 2)]);
    }

    #[test]
    fn a_huge_range_is_folded_into_bounded_buckets() {
        let mut histogram = LogHistogram::default();
        let mut v = 1e-8;
        while v < 1e300 {
            histogram.insert(v);
            v *= 1.01;
        }
        histogram.insert(f64::NAN);
        assert!(histogram.positive.len() <= MAX_BUCKETS);
        let max = histogram.quantile(1.0, 0.0, f64::MAX).expect("values");
        assert!(max > 0.98e300, "the largest values keep their precision: {max}");
    }

    #[test]
    fn top_values_find_the_heavy_hitters_of_a_skewed_stream() {
        // Zipf-like: value i occurs about 20000 / i times, i = 1..2000, fed in batches of 500.
        let texts: Vec<String> = (1..=2000).map(|i| format!("v{i}")).collect();
        let mut stream: Vec<&str> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            stream.extend(std::iter::repeat_n(text.as_str(), 20_000 / (i + 1)));
        }
        let mut random = SplitMix(11);
        for i in (1..stream.len()).rev() {
            stream.swap(i, (random.next() % (i as u64 + 1)) as usize);
        }
        let mut top = TopValues::default();
        for batch in stream.chunks(500) {
            let mut counts: HashedMap<(u64, TopKey)> = HashedMap::default();
            for &s in batch {
                counts.entry(hash_str(s)).or_insert((0, TopKey::Str(s))).0 += 1;
            }
            top.merge(&TopBatch::reduce(counts));
        }
        let n = stream.len() as u64;
        assert!(top.max_error() <= n / (TOP_COUNTERS as u64 + 1), "{} > N/(k+1)", top.max_error());
        let found = top.top(3);
        let names: Vec<&str> = found.iter().map(|(v, _)| v.as_str().unwrap_or_default()).collect();
        assert_eq!(names, ["v1", "v2", "v3"]);
        for ((_, count), exact) in found.iter().zip([20_000u64, 10_000, 6_666]) {
            assert!(*count <= exact && exact - count <= top.max_error(), "{count} vs {exact}");
        }
    }

    #[test]
    fn few_values_are_counted_exactly_and_long_ones_cut() {
        let long = "é".repeat(200);
        let mut counts: HashedMap<(u64, TopKey)> = HashedMap::default();
        for s in ["paid", "paid", "placed", long.as_str()] {
            counts.entry(hash_str(s)).or_insert((0, TopKey::Str(s))).0 += 1;
        }
        counts.insert(hash_value(&Value::Bool(true)), (5, TopKey::Bool(true)));
        let mut top = TopValues::default();
        top.merge(&TopBatch::reduce(counts));
        let found = top.top(10);
        assert_eq!(found[0], (Value::Bool(true), 5));
        assert_eq!(found[1], (Value::String("paid".into()), 2));
        assert_eq!(top.max_error(), 0);
        let cut = found.iter().find_map(|(v, _)| v.as_str().filter(|s| s.starts_with('é'))).expect("long value");
        assert!(cut.len() <= MAX_TOP_VALUE_BYTES + '…'.len_utf8() && cut.ends_with('…'));
    }
}
