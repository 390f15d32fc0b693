//! The windows of an aggregation's state in order of their end, so that the windows that close
//! (`EMIT FINAL`) and the windows that expire (retention) are found at the front instead of by
//! scanning the state. Stream time only moves forward, so both are cursors over this order: an event
//! that closes or expires nothing costs two comparisons, and each window costs O(log n) when it is
//! added, when it closes and when it expires, however large the state.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

/// A key of the aggregation's state (group bytes, then the window bounds), shared with the state map
/// so the order costs no copy of it.
pub(super) type StateKey = Arc<[u8]>;

#[derive(Debug)]
pub(super) struct Timeline {
    by_end: BTreeSet<(i64, StateKey)>,
    /// Every window ending at or before this was handed out by [`Timeline::closing`].
    closed_through: i64,
    /// No window ending in `(closed_through, next_close)` is held: `closing` up to there is free.
    next_close: i64,
    /// No window ends before this: `expire` up to there is free.
    earliest: i64,
    /// The smallest key of any end (empty), for range bounds.
    lowest: StateKey,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            by_end: BTreeSet::new(),
            closed_through: i64::MIN,
            next_close: i64::MAX,
            earliest: i64::MAX,
            lowest: Arc::from(&[][..]),
        }
    }
}

impl Timeline {
    /// Adds a window of the state.
    pub(super) fn insert(&mut self, end: i64, key: StateKey) {
        if end <= self.closed_through {
            // Not expected (a late record's window is dropped before it is added), but such a window
            // must still be handed out by the next `closing`, with the ones after it again.
            self.closed_through = end.saturating_sub(1);
        }
        self.next_close = self.next_close.min(end);
        self.earliest = self.earliest.min(end);
        self.by_end.insert((end, key));
    }

    /// Removes a window that left the state (a merged session).
    pub(super) fn remove(&mut self, end: i64, key: &StateKey) {
        self.by_end.remove(&(end, key.clone()));
    }

    /// Appends to `out`, in order of end, the windows ending after the previous call's `close` and
    /// at or before this one's: each window once, the first time `close` reaches its end (unless a
    /// window was inserted behind the close, see [`Timeline::insert`]).
    pub(super) fn closing(&mut self, close: i64, out: &mut Vec<StateKey>) {
        if close < self.next_close || close <= self.closed_through {
            self.closed_through = self.closed_through.max(close);
            return;
        }
        // `closed_through < close`, so `+ 1` cannot overflow. Keys of one end sort after the empty
        // key, so `(end, [])` is the first position of `end`.
        let from = Bound::Included((self.closed_through + 1, self.lowest.clone()));
        let to = match close.checked_add(1) {
            Some(next) => Bound::Excluded((next, self.lowest.clone())),
            None => Bound::Unbounded,
        };
        out.extend(self.by_end.range((from, to)).map(|(_, k)| k.clone()));
        self.closed_through = close;
        self.next_close = match close.checked_add(1) {
            Some(next) => self
                .by_end
                .range((Bound::Included((next, self.lowest.clone())), Bound::Unbounded))
                .next()
                .map_or(i64::MAX, |(end, _)| *end),
            None => i64::MAX,
        };
    }

    /// Removes the windows ending at or before `horizon` and appends them to `out`, oldest first.
    pub(super) fn expire(&mut self, horizon: i64, out: &mut Vec<(i64, StateKey)>) {
        if horizon < self.earliest {
            return;
        }
        while let Some(first) = self.by_end.first() {
            if first.0 > horizon {
                break;
            }
            if let Some(window) = self.by_end.pop_first() {
                out.push(window);
            }
        }
        self.earliest = self.by_end.first().map_or(i64::MAX, |(end, _)| *end);
    }

    /// Forgets what was handed out and everything held (a state rebuilt from its changelog).
    pub(super) fn clear(&mut self) {
        *self = Timeline::default();
    }

    /// How many windows are held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_end.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StateKey {
        Arc::from(s.as_bytes())
    }

    fn names(keys: &[StateKey]) -> Vec<String> {
        keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect()
    }

    #[test]
    fn closing_hands_out_each_window_once_in_order_of_end() {
        let mut t = Timeline::default();
        t.insert(20, key("b"));
        t.insert(10, key("a"));
        t.insert(20, key("a"));
        t.insert(30, key("c"));
        let mut out = Vec::new();
        t.closing(5, &mut out);
        assert!(out.is_empty());
        t.closing(20, &mut out);
        assert_eq!(names(&out), ["a", "a", "b"]);
        out.clear();
        t.closing(20, &mut out);
        t.closing(29, &mut out);
        assert!(out.is_empty(), "nothing new closed: {:?}", names(&out));
        t.closing(i64::MAX, &mut out);
        assert_eq!(names(&out), ["c"]);
        assert_eq!(t.len(), 4, "closing does not remove");
    }

    #[test]
    fn a_window_added_behind_the_close_is_still_handed_out() {
        let mut t = Timeline::default();
        t.insert(10, key("a"));
        let mut out = Vec::new();
        t.closing(10, &mut out);
        assert_eq!(names(&out), ["a"]);
        out.clear();
        t.insert(8, key("late"));
        t.closing(10, &mut out);
        assert_eq!(names(&out), ["late", "a"], "the windows after it come again");
    }

    #[test]
    fn removed_windows_neither_close_nor_expire() {
        let mut t = Timeline::default();
        t.insert(10, key("a"));
        t.insert(10, key("b"));
        t.remove(10, &key("a"));
        let mut out = Vec::new();
        t.closing(10, &mut out);
        assert_eq!(names(&out), ["b"]);
        let mut expired = Vec::new();
        t.expire(10, &mut expired);
        assert_eq!(expired.len(), 1);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn expire_takes_what_ends_at_or_before_the_horizon() {
        let mut t = Timeline::default();
        for (end, k) in [(30, "c"), (10, "a"), (20, "b"), (20, "a")] {
            t.insert(end, key(k));
        }
        let mut out = Vec::new();
        t.expire(9, &mut out);
        assert!(out.is_empty());
        t.expire(20, &mut out);
        let got: Vec<(i64, String)> = out.iter().map(|(e, k)| (*e, String::from_utf8_lossy(k).into_owned())).collect();
        assert_eq!(got, [(10, "a".to_string()), (20, "a".to_string()), (20, "b".to_string())]);
        assert_eq!(t.len(), 1);
        out.clear();
        t.insert(15, key("d"));
        t.expire(20, &mut out);
        assert_eq!(out.len(), 1, "a window added below the old front expires too");
    }
}
