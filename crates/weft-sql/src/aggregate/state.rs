//! The entries of an aggregation's state, windowed ones grouped by window end.
//!
//! A windowed state is a map from window end to a bucket of the windows ending then. Records only
//! reach the windows that are still open (stream time less the grace has not passed their end), the
//! few newest buckets, so each record's lookup is in a small map that stays in the caches however
//! many closed windows the state keeps for late data and pull queries; windows close (`EMIT FINAL`)
//! and expire (retention) a whole bucket at a time, in order of end, with no per-window index to
//! keep. A flat map by group keeps an unwindowed state.
//!
//! Keys are the state keys of `aggregate` (the group bytes, then for windows the start and end as
//! 8-byte big-endian integers); a bucket keys its windows by the group bytes and the start, the end
//! being the bucket's.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::{Entry, FastHash};

type Map = HashMap<Box<[u8]>, Entry, FastHash>;

/// The most windows a bucket keeps in a list rather than a hash map.
const FEW: usize = 8;

/// The windows ending at one time, by group bytes and start. Time windows fill a bucket per end
/// with a window per group, but sessions end anywhere, mostly one to a bucket: those stay a short
/// list (a hash map's smallest table holds four entries, and per session that would be most of the
/// state).
#[derive(Debug)]
enum Bucket {
    Few(Vec<(Box<[u8]>, Entry)>),
    Many(Map),
}

impl Bucket {
    fn get(&self, key: &[u8]) -> Option<&Entry> {
        match self {
            Bucket::Few(list) => list.iter().find(|(k, _)| **k == *key).map(|(_, e)| e),
            Bucket::Many(map) => map.get(key),
        }
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        match self {
            Bucket::Few(list) => list.iter_mut().find(|(k, _)| **k == *key).map(|(_, e)| e),
            Bucket::Many(map) => map.get_mut(key),
        }
    }

    /// Adds or replaces the entry of `key`; returns it and whether it is new.
    fn insert(&mut self, key: &[u8], entry: Entry) -> (&mut Entry, bool) {
        if let Bucket::Few(list) = self {
            if list.len() >= FEW && !list.iter().any(|(k, _)| **k == *key) {
                let mut map = Map::with_capacity_and_hasher(2 * FEW, FastHash::default());
                map.extend(list.drain(..));
                *self = Bucket::Many(map);
            }
        }
        match self {
            Bucket::Few(list) => match list.iter().position(|(k, _)| **k == *key) {
                Some(i) => {
                    list[i].1 = entry;
                    (&mut list[i].1, false)
                }
                None => {
                    list.push((key.into(), entry));
                    let last = list.len() - 1;
                    (&mut list[last].1, true)
                }
            },
            Bucket::Many(map) => match map.entry(key.into()) {
                Slot::Occupied(mut o) => {
                    o.insert(entry);
                    (o.into_mut(), false)
                }
                Slot::Vacant(v) => (v.insert(entry), true),
            },
        }
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        match self {
            Bucket::Few(list) => {
                let i = list.iter().position(|(k, _)| **k == *key)?;
                Some(list.swap_remove(i).1)
            }
            Bucket::Many(map) => map.remove(key),
        }
    }

    fn len(&self) -> usize {
        match self {
            Bucket::Few(list) => list.len(),
            Bucket::Many(map) => map.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn for_each<'a>(&'a self, f: &mut impl FnMut(&[u8], &'a Entry)) {
        match self {
            Bucket::Few(list) => list.iter().for_each(|(k, e)| f(k, e)),
            Bucket::Many(map) => map.iter().for_each(|(k, e)| f(k, e)),
        }
    }
}

/// The bytes of a window's end at the tail of a state key.
const END_LEN: usize = 8;
/// The bytes of a window's bounds at the tail of a state key.
const BOUNDS_LEN: usize = 16;

#[derive(Debug)]
pub(super) struct State {
    windowed: bool,
    /// An unwindowed state's entries, by group bytes.
    flat: Map,
    /// A windowed state's entries, by window end.
    by_end: BTreeMap<i64, Bucket>,
    /// Windows held in `by_end`.
    windows: usize,
    /// Every window ending at or before this was handed out by [`State::closing`].
    closed_through: i64,
    /// No window ending in `(closed_through, next_close)` is held: `closing` up to there is free.
    next_close: i64,
    /// An expired bucket's hash map, emptied, for the next new end: a map grown from empty
    /// rehashes as it fills, and a freshly allocated table is paged in and zeroed by the kernel,
    /// which together cost more than the windows' own updates.
    spare: Option<Map>,
}

impl State {
    pub(super) fn new(windowed: bool) -> State {
        State {
            windowed,
            flat: Map::default(),
            by_end: BTreeMap::new(),
            windows: 0,
            closed_through: i64::MIN,
            next_close: i64::MAX,
            spare: None,
        }
    }

    /// The end of a windowed key and the rest of it (group bytes and start), the bucket's key;
    /// `None` for a key too short to hold window bounds.
    fn split(key: &[u8]) -> Option<(i64, &[u8])> {
        if key.len() < BOUNDS_LEN {
            return None;
        }
        let (inner, end) = key.split_at(key.len() - END_LEN);
        Some((i64::from_be_bytes(end.try_into().ok()?), inner))
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<&Entry> {
        if !self.windowed {
            return self.flat.get(key);
        }
        let (end, inner) = Self::split(key)?;
        self.by_end.get(&end)?.get(inner)
    }

    pub(super) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if !self.windowed {
            return self.flat.get_mut(key);
        }
        let (end, inner) = Self::split(key)?;
        self.by_end.get_mut(&end)?.get_mut(inner)
    }

    /// Adds or replaces the entry of `key`; returns it, or `None` (and adds nothing) when a
    /// windowed state is given a key without window bounds.
    pub(super) fn insert(&mut self, key: &[u8], entry: Entry) -> Option<&mut Entry> {
        if !self.windowed {
            return Some(match self.flat.entry(key.into()) {
                Slot::Occupied(mut o) => {
                    o.insert(entry);
                    o.into_mut()
                }
                Slot::Vacant(v) => v.insert(entry),
            });
        }
        let (end, inner) = Self::split(key)?;
        if !self.by_end.contains_key(&end) {
            let bucket = self.new_bucket();
            self.by_end.insert(end, bucket);
        }
        let (entry, new) = self.by_end.get_mut(&end)?.insert(inner, entry);
        if new {
            self.windows += 1;
            if end <= self.closed_through {
                // Not expected (a late record's window is dropped before it is added), but such a
                // window must still be handed out by the next `closing`, with the ones after it
                // again.
                self.closed_through = end.saturating_sub(1);
            }
            self.next_close = self.next_close.min(end);
        }
        Some(entry)
    }

    /// An empty bucket for a new end, sized as the newest bucket is: windows of one size over the
    /// same groups fill their buckets alike.
    fn new_bucket(&mut self) -> Bucket {
        let like = self.by_end.last_key_value().map_or(0, |(_, b)| b.len());
        if like <= FEW {
            // Room for one: a first push would make room for four, mostly unused by sessions.
            return Bucket::Few(Vec::with_capacity(1));
        }
        // A spare far larger than needed would hold its memory for as long as the window it is given.
        Bucket::Many(match self.spare.take() {
            Some(spare) if spare.capacity() <= 2 * like => spare,
            _ => Map::with_capacity_and_hasher(like, FastHash::default()),
        })
    }

    pub(super) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        if !self.windowed {
            return self.flat.remove(key);
        }
        let (end, inner) = Self::split(key)?;
        let bucket = self.by_end.get_mut(&end)?;
        let entry = bucket.remove(inner)?;
        self.windows -= 1;
        if bucket.is_empty() {
            self.by_end.remove(&end);
        }
        Some(entry)
    }

    /// How many entries are held.
    pub(super) fn len(&self) -> usize {
        if self.windowed {
            self.windows
        } else {
            self.flat.len()
        }
    }

    /// Calls `f` with the full key (written to `key`) and the entry of every entry, in no order.
    pub(super) fn for_each<'a>(&'a self, key: &mut Vec<u8>, mut f: impl FnMut(&[u8], &'a Entry)) {
        if !self.windowed {
            self.flat.iter().for_each(|(k, e)| f(k, e));
            return;
        }
        for (end, bucket) in &self.by_end {
            bucket.for_each(&mut |inner, e| {
                key.clear();
                key.extend_from_slice(inner);
                key.extend_from_slice(&end.to_be_bytes());
                f(key, e);
            });
        }
    }

    /// Calls `f` with the full key (written to `key`) and the entry of every window ending after
    /// the previous call's `close` and at or before this one's, a bucket at a time in order of end:
    /// each window once, the first time `close` reaches its end (unless a window was inserted
    /// behind the close, see [`State::insert`]).
    pub(super) fn closing(&mut self, close: i64, key: &mut Vec<u8>, mut f: impl FnMut(&[u8], &Entry)) {
        if close < self.next_close || close <= self.closed_through {
            self.closed_through = self.closed_through.max(close);
            return;
        }
        // `closed_through < close`, so `+ 1` cannot overflow.
        for (end, bucket) in self.by_end.range((Bound::Included(self.closed_through + 1), Bound::Included(close))) {
            bucket.for_each(&mut |inner, e| {
                key.clear();
                key.extend_from_slice(inner);
                key.extend_from_slice(&end.to_be_bytes());
                f(key, e);
            });
        }
        self.closed_through = close;
        self.next_close = match close.checked_add(1) {
            Some(next) => self.by_end.range(next..).next().map_or(i64::MAX, |(end, _)| *end),
            None => i64::MAX,
        };
    }

    /// Removes the windows ending at or before `horizon`, oldest end first, calling `f` with each
    /// one's group bytes and entry as it goes.
    pub(super) fn expire(&mut self, horizon: i64, mut f: impl FnMut(&[u8], &Entry)) {
        while let Some(entry) = self.by_end.first_entry() {
            if *entry.key() > horizon {
                break;
            }
            let bucket = entry.remove();
            self.windows -= bucket.len();
            bucket.for_each(&mut |inner, e| f(&inner[..inner.len().saturating_sub(END_LEN)], e));
            if let Bucket::Many(mut map) = bucket {
                map.clear();
                self.spare = Some(map);
            }
        }
    }

    /// Forgets which windows were handed out by [`State::closing`], so that the next call hands
    /// out every window up to its close again (a state rebuilt from its changelog, whose entries
    /// say themselves whether they were emitted).
    pub(super) fn reopen(&mut self) {
        self.closed_through = i64::MIN;
        self.next_close = self.by_end.keys().next().copied().unwrap_or(i64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::WindowBounds;

    /// The state key of group `g`'s window `[start, end)`.
    fn key(g: &str, start: i64, end: i64) -> Vec<u8> {
        let mut k = g.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&start.to_be_bytes());
        k.extend_from_slice(&end.to_be_bytes());
        k
    }

    fn entry(start: i64, end: i64, max_ts: i64) -> Entry {
        Entry {
            window: Some(WindowBounds { start, end }),
            accs: Vec::new(),
            max_ts,
            emitted: false,
            having_passed: false,
        }
    }

    fn add(s: &mut State, g: &str, start: i64, end: i64) {
        assert!(s.insert(&key(g, start, end), entry(start, end, start)).is_some());
    }

    /// The windows `closing(close)` hands out, as (group, end), in the order given.
    fn closing(s: &mut State, close: i64) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        s.closing(close, &mut Vec::new(), |k, e| {
            assert_eq!(k, key(group_of(k), e.window.expect("window").start, e.window.expect("window").end));
            out.push((group_of(k).to_string(), e.window.expect("window").end));
        });
        out
    }

    fn group_of(k: &[u8]) -> &str {
        std::str::from_utf8(&k[..k.iter().position(|b| *b == 0).expect("group")]).expect("utf-8")
    }

    fn expire(s: &mut State, horizon: i64) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        s.expire(horizon, |g, e| {
            out.push((group_of(g).to_string(), e.window.expect("window").end));
        });
        out
    }

    fn sorted(mut v: Vec<(String, i64)>) -> Vec<(String, i64)> {
        v.sort();
        v
    }

    #[test]
    fn entries_are_found_by_key_across_buckets() {
        let mut s = State::new(true);
        add(&mut s, "a", 0, 10);
        add(&mut s, "b", 0, 10);
        add(&mut s, "a", 10, 20);
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(&key("a", 10, 20)).map(|e| e.max_ts), Some(10));
        assert!(s.get(&key("a", 10, 30)).is_none(), "another end is another window");
        assert!(s.get(&key("a", 5, 20)).is_none(), "another start is another window");
        assert!(s.get(b"short").is_none(), "a key without bounds is no window");
        assert!(s.insert(b"short", entry(0, 10, 0)).is_none(), "nor is it added");
        s.get_mut(&key("b", 0, 10)).expect("held").max_ts = 7;
        assert!(s.insert(&key("b", 0, 10), entry(0, 10, 9)).is_some(), "replaced");
        assert_eq!(s.len(), 3, "a replaced entry counts once");
        assert_eq!(s.get(&key("b", 0, 10)).map(|e| e.max_ts), Some(9));
        assert_eq!(s.remove(&key("a", 0, 10)).map(|e| e.max_ts), Some(0));
        assert!(s.remove(&key("a", 0, 10)).is_none());
        assert_eq!(s.len(), 2);
        let mut all = Vec::new();
        s.for_each(&mut Vec::new(), |k, _| all.push(k.to_vec()));
        all.sort();
        assert_eq!(all, [key("a", 10, 20), key("b", 0, 10)]);
    }

    #[test]
    fn an_unwindowed_state_keys_entries_by_group_alone() {
        let mut s = State::new(false);
        assert!(s.insert(b"g\0", entry(0, 0, 1)).is_some());
        assert!(s.get(b"g\0").is_some());
        assert_eq!(s.len(), 1);
        assert!(expire(&mut s, i64::MAX).is_empty(), "nothing of an unwindowed state expires");
        assert!(s.remove(b"g\0").is_some());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn closing_hands_out_each_window_once_in_order_of_end() {
        let mut s = State::new(true);
        add(&mut s, "b", 10, 20);
        add(&mut s, "a", 0, 10);
        add(&mut s, "a", 10, 20);
        add(&mut s, "c", 20, 30);
        assert!(closing(&mut s, 5).is_empty());
        let got = closing(&mut s, 20);
        assert_eq!(got[0], ("a".to_string(), 10), "the earlier end first");
        assert_eq!(sorted(got), [("a".to_string(), 10), ("a".to_string(), 20), ("b".to_string(), 20)]);
        assert!(closing(&mut s, 20).is_empty());
        assert!(closing(&mut s, 29).is_empty(), "nothing new closed");
        assert_eq!(closing(&mut s, i64::MAX), [("c".to_string(), 30)]);
        assert_eq!(s.len(), 4, "closing does not remove");
    }

    #[test]
    fn a_window_added_behind_the_close_is_still_handed_out() {
        let mut s = State::new(true);
        add(&mut s, "a", 0, 10);
        assert_eq!(closing(&mut s, 10), [("a".to_string(), 10)]);
        add(&mut s, "late", 0, 8);
        assert_eq!(
            closing(&mut s, 10),
            [("late".to_string(), 8), ("a".to_string(), 10)],
            "the windows after it come again"
        );
    }

    #[test]
    fn reopened_state_hands_out_every_window_again() {
        let mut s = State::new(true);
        add(&mut s, "a", 0, 10);
        add(&mut s, "a", 10, 20);
        assert_eq!(closing(&mut s, 20).len(), 2);
        s.reopen();
        assert_eq!(closing(&mut s, 15), [("a".to_string(), 10)]);
        assert_eq!(closing(&mut s, 20), [("a".to_string(), 20)]);
    }

    #[test]
    fn removed_windows_neither_close_nor_expire() {
        let mut s = State::new(true);
        add(&mut s, "a", 0, 10);
        add(&mut s, "b", 0, 10);
        assert!(s.remove(&key("a", 0, 10)).is_some());
        assert_eq!(closing(&mut s, 10), [("b".to_string(), 10)]);
        assert_eq!(expire(&mut s, 10), [("b".to_string(), 10)]);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn expire_takes_what_ends_at_or_before_the_horizon_oldest_first() {
        let mut s = State::new(true);
        for (g, end) in [("c", 30), ("a", 10), ("b", 20), ("a", 20)] {
            add(&mut s, g, end - 10, end);
        }
        assert!(expire(&mut s, 9).is_empty());
        let got = expire(&mut s, 20);
        assert_eq!(got[0], ("a".to_string(), 10), "the oldest end first");
        assert_eq!(sorted(got), [("a".to_string(), 10), ("a".to_string(), 20), ("b".to_string(), 20)]);
        assert_eq!(s.len(), 1);
        assert!(s.get(&key("a", 10, 20)).is_none(), "expired windows leave the state");
        add(&mut s, "d", 5, 15);
        assert_eq!(expire(&mut s, 20), [("d".to_string(), 15)], "a window added below the old front expires too");
        assert_eq!(s.get(&key("c", 20, 30)).map(|e| e.max_ts), Some(20), "later windows stay");
    }

    #[test]
    fn windows_in_many_buckets_close_and_expire_in_order_of_end() {
        let mut s = State::new(true);
        // Hopping windows of size 30 every 10 over three groups, added newest first.
        for end in (1..=50).rev().map(|i| i * 10) {
            for g in ["x", "y", "z"] {
                add(&mut s, g, end - 30, end);
            }
        }
        assert_eq!(s.len(), 150);
        let mut closed = Vec::new();
        for close in [95, 95, 250, 251, 499, 500] {
            closed.extend(closing(&mut s, close));
        }
        let ends: Vec<i64> = closed.iter().map(|(_, e)| *e).collect();
        assert!(ends.windows(2).all(|w| w[0] <= w[1]), "in order of end: {ends:?}");
        assert_eq!(sorted(closed.clone()).len(), 150);
        closed.sort();
        closed.dedup();
        assert_eq!(closed.len(), 150, "each window once");
        let mut expired = Vec::new();
        for horizon in [0, 100, 100, 333, 600] {
            expired.extend(expire(&mut s, horizon));
            let left = 150 - expired.len();
            assert_eq!(s.len(), left);
            assert_eq!(left, 3 * (50 - (horizon.max(0) / 10).min(50)) as usize, "after expiring to {horizon}");
        }
        let ends: Vec<i64> = expired.iter().map(|(_, e)| *e).collect();
        assert!(ends.windows(2).all(|w| w[0] <= w[1]), "in order of end: {ends:?}");
    }

    #[test]
    fn a_bucket_of_many_windows_finds_replaces_and_removes_each() {
        let mut s = State::new(true);
        let groups: Vec<String> = (0..3 * FEW).map(|i| format!("g{i}")).collect();
        for (i, g) in groups.iter().enumerate() {
            add(&mut s, g, 0, 10);
            assert_eq!(s.len(), i + 1);
            for earlier in &groups[..=i] {
                assert!(s.get(&key(earlier, 0, 10)).is_some(), "{earlier} after adding {g}");
            }
        }
        assert!(s.insert(&key("g3", 0, 10), entry(0, 10, 99)).is_some());
        assert_eq!(s.len(), groups.len(), "replacing adds nothing");
        assert_eq!(s.get(&key("g3", 0, 10)).map(|e| e.max_ts), Some(99));
        for g in groups.iter().step_by(2) {
            assert!(s.remove(&key(g, 0, 10)).is_some());
        }
        assert_eq!(s.len(), groups.len() / 2);
        for (i, g) in groups.iter().enumerate() {
            assert_eq!(s.get(&key(g, 0, 10)).is_some(), i % 2 == 1, "{g}");
        }
        let mut closed = closing(&mut s, 10);
        closed.sort();
        let mut want: Vec<(String, i64)> = groups.iter().skip(1).step_by(2).map(|g| (g.clone(), 10)).collect();
        want.sort();
        assert_eq!(closed, want);
        assert_eq!(expire(&mut s, 10).len(), groups.len() / 2);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn buckets_of_one_end_after_another_keep_every_window() {
        // Full buckets (reusing an expired bucket's table), then one window per end (as sessions
        // are), then full ones again.
        let mut s = State::new(true);
        let mut held = Vec::new();
        for end in 1..=60 {
            let groups = if (20..40).contains(&end) { 1 } else { 30 };
            for g in 0..groups {
                let k = format!("g{g}");
                add(&mut s, &k, end - 1, end);
                held.push((k, end));
            }
            if end % 10 == 0 {
                let gone = expire(&mut s, end - 5);
                held.retain(|(_, e)| *e > end - 5);
                assert!(gone.iter().all(|(_, e)| *e <= end - 5));
            }
            assert_eq!(s.len(), held.len());
            for (g, e) in &held {
                assert!(s.get(&key(g, e - 1, *e)).is_some(), "{g} ending {e}");
            }
        }
    }
}
