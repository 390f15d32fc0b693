//! Uniqueness within a window: the values a checker remembers, bounded in time and in number.
//!
//! Values are remembered as 64-bit hashes (SipHash of their canonical form), with the timestamp of
//! the record that carried them. A value repeats when a record carries it within `window_ms` of the
//! remembered one (either side, so records out of time order are judged alike). Two bounds keep the
//! memory fixed: entries older than the window (behind the newest timestamp seen) are dropped, and
//! beyond `max_values` entries the oldest remembered are forgotten first, so uniqueness then holds
//! over the most recent `max_values` values only; [`Window::forgotten_early`] counts those. Two
//! distinct values collide with probability about n²/2⁶⁵ (one in 3.7·10⁷ for a million values),
//! when a new value would be taken for a repeat.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use serde_json::Value;

/// The default window of uniqueness checks: one day.
pub const DEFAULT_UNIQUE_WINDOW_MS: i64 = 24 * 3_600_000;
/// The default number of values a uniqueness check remembers.
pub const DEFAULT_UNIQUE_MAX_VALUES: usize = 100_000;

/// The bounds of one uniqueness rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowConfig {
    pub window_ms: i64,
    pub max_values: usize,
}

/// The values one uniqueness rule remembers.
#[derive(Debug)]
pub(crate) struct Window {
    pub config: WindowConfig,
    /// Each remembered hash and the newest timestamp it was seen at. The keys are hashes already,
    /// so the map uses them as they are.
    seen: HashMap<u64, i64, BuildHasherDefault<Prehashed>>,
    /// Hashes in the order they were remembered, with the timestamp of that time (stale entries,
    /// superseded by a later sighting, are skipped when they come out).
    order: VecDeque<(u64, i64)>,
    newest: i64,
    forgotten_early: u64,
}

impl Window {
    pub(crate) fn new(config: WindowConfig) -> Window {
        Window { config, seen: HashMap::default(), order: VecDeque::new(), newest: i64::MIN, forgotten_early: 0 }
    }

    /// [`Window::seen_near`] and, when the value is not a repeat, [`Window::remember`], with one
    /// lookup: what a single record's check does.
    pub(crate) fn check_and_remember(&mut self, hash: u64, timestamp_ms: i64) -> Option<i64> {
        match self.seen.entry(hash) {
            Entry::Occupied(entry) => {
                let at = *entry.get();
                if timestamp_ms.abs_diff(at) <= self.config.window_ms.unsigned_abs() {
                    return Some(at);
                }
                let entry = entry.into_mut();
                *entry = (*entry).max(timestamp_ms);
            }
            Entry::Vacant(entry) => {
                entry.insert(timestamp_ms);
            }
        }
        self.record(hash, timestamp_ms);
        None
    }

    /// When the value of `hash` was last seen, if that is within the window of `timestamp_ms`.
    pub(crate) fn seen_near(&self, hash: u64, timestamp_ms: i64) -> Option<i64> {
        let at = *self.seen.get(&hash)?;
        (timestamp_ms.abs_diff(at) <= self.config.window_ms.unsigned_abs()).then_some(at)
    }

    pub(crate) fn remember(&mut self, hash: u64, timestamp_ms: i64) {
        let entry = self.seen.entry(hash).or_insert(timestamp_ms);
        *entry = (*entry).max(timestamp_ms);
        self.record(hash, timestamp_ms);
    }

    /// Appends a sighting to the order of remembering, then drops what the bounds exclude.
    fn record(&mut self, hash: u64, timestamp_ms: i64) {
        self.order.push_back((hash, timestamp_ms));
        self.newest = self.newest.max(timestamp_ms);
        let horizon = self.newest.saturating_sub(self.config.window_ms);
        while let Some(&(hash, at)) = self.order.front() {
            let expired = at < horizon;
            if !expired && self.order.len() <= self.config.max_values {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&hash) == Some(&at) {
                self.seen.remove(&hash);
                if !expired {
                    self.forgotten_early += 1;
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    /// Values forgotten before their window ended, because `max_values` was reached.
    pub(crate) fn forgotten_early(&self) -> u64 {
        self.forgotten_early
    }
}

/// A hasher for keys that are hashes already: it passes the `u64` through.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (by `u64` keys); anything else is folded in, for completeness.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The hash of a tuple of values (one for a property, several for a combination of properties).
/// Numbers hash by value (`1` and `1.0` alike), members of objects in key order.
pub(crate) fn hash_values<'a>(values: impl IntoIterator<Item = &'a Value>) -> u64 {
    let mut hasher = DefaultHasher::new();
    for value in values {
        hash_value(value, &mut hasher);
    }
    hasher.finish()
}

fn hash_value(value: &Value, h: &mut DefaultHasher) {
    match value {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            2u8.hash(h);
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i128::from(i).hash(h),
                (_, Some(u), _) => i128::from(u).hash(h),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e38 => (f as i128).hash(h),
                (_, _, Some(f)) => f.to_bits().hash(h),
                _ => {}
            }
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|item| hash_value(item, h));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            for (k, v) in map {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_hash_by_value() {
        assert_eq!(hash_values([&json!(1)]), hash_values([&json!(1.0)]));
        assert_ne!(hash_values([&json!(1)]), hash_values([&json!("1")]));
        assert_ne!(hash_values([&json!("a"), &json!("bc")]), hash_values([&json!("ab"), &json!("c")]));
    }

    #[test]
    fn the_window_forgets_by_age_and_by_count() {
        let mut w = Window::new(WindowConfig { window_ms: 1000, max_values: 3 });
        w.remember(1, 0);
        assert_eq!(w.seen_near(1, 1000), Some(0));
        assert_eq!(w.seen_near(1, 1001), None);
        // A newer record pushes the first out of the window.
        w.remember(2, 1500);
        assert_eq!(w.len(), 1);
        assert_eq!(w.forgotten_early(), 0);
        w.remember(3, 1501);
        w.remember(4, 1502);
        w.remember(5, 1503);
        // Four values within the window, three remembered: the oldest went early.
        assert_eq!(w.len(), 3);
        assert_eq!(w.forgotten_early(), 1);
        assert_eq!(w.seen_near(2, 1503), None);
        assert_eq!(w.seen_near(5, 1503), Some(1503));
    }
}
