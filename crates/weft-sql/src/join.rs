//! Joins: stream-table, table-table (on primary keys, or foreign-key) and stream-stream
//! (`WITHIN`), and chains of them (ksqlDB's n-way joins: `a JOIN b ON ... JOIN c ON ...`).
//!
//! The joined row is the left source row followed by the right source row (nulls for a missing
//! side); `WHERE` and the projection are evaluated over it. Semantics follow ksqlDB:
//! - stream-table (INNER, LEFT): each stream record looks up the table's current row by key; table
//!   updates change the state and emit nothing;
//! - table-table (INNER, LEFT, FULL OUTER) on primary keys: an update on either side emits the new
//!   joined row, or a tombstone when the join has no result for that key;
//! - stream-stream (INNER, LEFT, FULL OUTER) `WITHIN (before, after)`: records join with the other
//!   side's records whose time is within the window; output time is the later of the two. With a
//!   `GRACE PERIOD`, an unmatched LEFT/OUTER row is emitted with nulls once its window closes; without
//!   one it is emitted at once (ksqlDB's semantics before grace periods).
//!
//! A chain is a left-deep tree of two-sided joins: each [`JoinOp`] may hold the join whose result
//! is its left side (`inner`), which emits every column of the sources joined so far plus its key
//! and timestamp into the next join (tombstones included, so table-table chains retract).
//!
//! State is rebuilt after a restart from the inputs themselves: table sides by re-reading the table
//! topics up to the committed positions, stream-stream buffers by replaying (without output) the
//! input records of the last `before + after + grace` before the committed positions.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::ast::{BinaryOp, Expr, Join, JoinKind, Query, SelectItem, Within};
use crate::error::{Result, SqlError};
use crate::expr::{compile, Compiled, Scope};
use crate::format::{write_json, Format, WindowBounds, WindowType};
use crate::metastore::{
    Decoded, Kind, SourceDef, RESERVED_COLUMNS, ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART,
};
use crate::plan::{
    check_output_names, column_expr, compile_where, expand_select, joined_star, qualified_text, NamedItem, Operator,
    OutputColumn, Plan, PlannedQuery, Purpose,
};
use crate::runtime::{Change, Origin, RowSink};
use crate::types::{SqlType, Value};

/// A WHERE type error over a join names columns as the joined schema does (`I1_BAR` for
/// `I1.BAR`), as ksqlDB's messages do.
fn joined_names_in(err: SqlError, scope: &Scope) -> SqlError {
    match err {
        SqlError::Analysis(m) if m.contains("Cannot compare ") => {
            let mut m = m;
            for c in &scope.columns {
                if let Some(q) = &c.qualifier {
                    m = m.replace(&format!("{q}.{} ", c.name), &format!("{q}_{} ", c.name));
                }
            }
            SqlError::Analysis(m)
        }
        other => other,
    }
}

/// ksqlDB's default grace for stream-stream joins given without one is "eager" (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    StreamTable,
    TableTable,
    /// A table joined with another table on a non-key column of the left one (ksqlDB's foreign-key
    /// join): keyed by the left table's primary key.
    ForeignKey,
    StreamStream(Within),
}

#[derive(Debug)]
struct Buffered {
    id: u64,
    key: Value,
    ts: i64,
    row: Vec<Value>,
}

/// A running join.
#[derive(Debug)]
pub struct JoinOp {
    shape: Shape,
    kind: JoinKind,
    left_key: Compiled,
    right_key: Compiled,
    key_type: SqlType,
    left_width: usize,
    right_width: usize,
    left_rowtime: usize,
    right_rowtime: usize,
    filter: Option<Compiled>,
    items: Vec<Compiled>,
    key_items: Vec<bool>,
    left_table: HashMap<Vec<u8>, Vec<Value>>,
    right_table: HashMap<Vec<u8>, Vec<Value>>,
    left_buf: HashMap<Vec<u8>, Vec<Buffered>>,
    right_buf: HashMap<Vec<u8>, Vec<Buffered>>,
    /// Stream-stream outer joins with a grace period: records of an outer side not joined yet.
    pending: BTreeMap<u64, (usize, Buffered)>,
    /// Largest timestamp seen per side (each side's store retention follows it).
    side_time: [i64; 2],
    next_id: u64,
    stream_time: i64,
    joined: Vec<Value>,
    /// The bytes of the key a stream-table join probes a table with (reused from record to record).
    probe_key: Vec<u8>,
    /// Stream-table joins: the tables, in join order (input `i + 1` is `sides[i]`).
    sides: Vec<TableSide>,
    /// The joined row ends with the synthetic `ROWKEY` column.
    synthetic_key: bool,
    /// Foreign-key joins: the left table's primary key, and the left keys referring to each right key.
    left_pk: Option<Compiled>,
    fk_index: HashMap<Vec<u8>, std::collections::BTreeSet<Vec<u8>>>,
    /// n-way joins: the join whose result is this join's left side. Its inputs come first (global
    /// inputs `0..n`), this join's right side is input `n`.
    inner: Option<Box<JoinOp>>,
    /// The join feeds another: each output row ends with the join key (set in tombstones too), then
    /// the output timestamp is appended by [`ChainSink`].
    append_key: bool,
    /// Stream-stream joins of windowed sources: per side, the row indexes of the window bounds that
    /// are part of the key (the start of time windows, start and end of sessions), as a windowed
    /// key's bytes hold them in Kafka.
    window_key: Option<[Vec<usize>; 2]>,
    /// Joins of windowed sources: per side, the row indexes of WINDOWSTART and WINDOWEND; the result
    /// is in the window of its left row (of the right one when an outer join lacks the left).
    window_bounds: Option<[(usize, usize); 2]>,
}

/// Where a global input index of a join chain goes.
enum Route {
    /// To the inner join, with this index.
    Inner(usize),
    /// To this join: 0 is the left side, 1.. the right side(s).
    Own(usize),
}

/// Feeds an inner join's output into the next join of the chain as its left rows.
struct ChainSink<'a> {
    outer: &'a mut JoinOp,
    sink: &'a mut dyn RowSink,
    /// Restoring state: fold the rows into the outer join without emitting.
    load_only: bool,
}

impl RowSink for ChainSink<'_> {
    fn emit(&mut self, change: Change<'_>, origin: Origin) -> Result<()> {
        let mut row: Vec<Value> = Vec::with_capacity(change.cols.len() + 1);
        row.extend(change.cols.iter().map(|c| c.clone().into_owned()));
        row.push(Value::Bigint(change.timestamp));
        let decoded = if change.tombstone { Decoded::Tombstone } else { Decoded::Row };
        if self.load_only {
            self.outer.load_own(0, &row, decoded);
            Ok(())
        } else {
            self.outer.process_own(0, &row, decoded, origin, self.sink)
        }
    }
}

/// Discards what it is given (state restores).
struct Discard;

impl RowSink for Discard {
    fn emit(&mut self, _change: Change<'_>, _origin: Origin) -> Result<()> {
        Ok(())
    }
}

/// The name of ksqlDB's synthetic join key column.
pub const SYNTHETIC_KEY: &str = "ROWKEY";

/// The name of a join's synthetic key column: `ROWKEY`, or as ksqlDB generates it when a joined
/// source has a column of that name, the first of `ROWKEY_1`, `ROWKEY_2`, ... no column has.
fn synthetic_key_name(scope: &Scope) -> String {
    let taken = |n: &str| scope.columns.iter().any(|c| c.name == n);
    if !taken(SYNTHETIC_KEY) {
        return SYNTHETIC_KEY.to_string();
    }
    (1..).map(|i| format!("{SYNTHETIC_KEY}_{i}")).find(|n| !taken(n)).unwrap_or_default()
}

/// One table of a stream-table join chain.
#[derive(Debug)]
struct TableSide {
    kind: JoinKind,
    /// The join expression over the row joined so far (stream row and earlier tables).
    probe: Compiled,
    /// The table's primary key over its own row.
    own_key: Compiled,
    key_type: SqlType,
    width: usize,
    /// Hashed with foldhash: one probe per stream record (SipHash showed in profiles).
    rows: HashMap<Vec<u8>, Vec<Value>, foldhash::fast::RandomState>,
}

fn key_bytes_of(v: &Value, ty: &SqlType) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16);
    write_json(&mut buf, v, ty);
    buf
}

impl JoinOp {
    /// The output columns of a joined row; a key column that evaluates to null (the other side
    /// was missing in an outer join) takes the join key, as ksqlDB's output keys do.
    fn project<'a>(&'a self, joined: &'a [Value], key: &Value) -> Vec<Cow<'a, Value>> {
        let mut out: Vec<Cow<'a, Value>> = Vec::with_capacity(self.items.len() + usize::from(self.append_key));
        out.extend(self.items.iter().zip(&self.key_items).map(|(c, is_key)| {
            let v = c.eval(joined);
            if *is_key && v.is_null() {
                Cow::Owned(key.clone())
            } else {
                v
            }
        }));
        if self.append_key {
            out.push(Cow::Owned(key.clone()));
        }
        out
    }

    /// How many inputs the join chain ending here reads.
    fn input_count(&self) -> usize {
        let own = match self.shape {
            Shape::StreamTable => 1 + self.sides.len(),
            _ => 2,
        };
        match &self.inner {
            Some(inner) => inner.input_count() + own - 1,
            None => own,
        }
    }

    fn route(&self, input: usize) -> Route {
        match &self.inner {
            Some(inner) => {
                let n = inner.input_count();
                if input < n {
                    Route::Inner(input)
                } else {
                    Route::Own(input - n + 1)
                }
            }
            None => Route::Own(input),
        }
    }

    /// Runs `input` through the inner join, whose output feeds this one.
    fn through_inner(
        &mut self,
        input: usize,
        row: &[Value],
        decoded: Decoded,
        origin: Origin,
        sink: &mut dyn RowSink,
        load_only: bool,
    ) -> Result<()> {
        let Some(mut inner) = self.inner.take() else { return Ok(()) };
        let result = inner.process(input, row, decoded, origin, &mut ChainSink { outer: self, sink, load_only });
        self.inner = Some(inner);
        result
    }

    fn key_bytes(&self, v: &Value) -> Vec<u8> {
        let mut buf = Vec::with_capacity(16);
        write_json(&mut buf, v, &self.key_type);
        buf
    }

    /// The joined row of `left` and `right` (either missing in outer joins: nulls), with the
    /// synthetic key last when the join has one; built in the reused buffer, to be put back.
    fn joined_row(&mut self, left: Option<&[Value]>, right: Option<&[Value]>, key: &Value) -> Vec<Value> {
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        match left {
            Some(l) => joined.extend_from_slice(l),
            None => joined.resize(self.left_width, Value::Null),
        }
        match right {
            Some(r) => joined.extend_from_slice(r),
            None => joined.resize(self.left_width + self.right_width, Value::Null),
        }
        if self.synthetic_key {
            joined.push(key.clone());
        }
        joined
    }

    /// Whether the joined row of `left` and `right` (either missing in outer joins) passes WHERE.
    fn result_passes(&mut self, left: Option<&[Value]>, right: Option<&[Value]>, key: &Value) -> bool {
        if self.filter.is_none() {
            return true;
        }
        let joined = self.joined_row(left, right, key);
        let pass = self.filter.as_ref().is_none_or(|filter| filter.test(&joined));
        self.joined = joined;
        pass
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        left: Option<&[Value]>,
        right: Option<&[Value]>,
        ts: i64,
        key: &Value,
        tombstone: bool,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let joined = self.joined_row(left, right, key);
        let pass = !tombstone && self.filter.as_ref().is_none_or(|f| f.test(&joined));
        let result = if pass || matches!(self.shape, Shape::TableTable | Shape::ForeignKey) {
            // The key column takes the join key even when its side is missing (outer joins).
            let cols = self.project(&joined, key);
            let window = self.window_bounds.and_then(|[(ls, le), (rs, re)]| {
                let (row, s, e) = match (left, right) {
                    (Some(l), _) => (l, ls, le),
                    (None, Some(r)) => (r, rs, re),
                    (None, None) => return None,
                };
                Some(WindowBounds { start: row.get(s)?.as_i64()?, end: row.get(e)?.as_i64()? })
            });
            sink.emit(Change { cols: &cols, tombstone: !pass, timestamp: ts, window }, origin)
        } else {
            Ok(())
        };
        self.joined = joined;
        result
    }

    /// Whether [`JoinOp::table_results`] can give the result table: a two-table join on keys.
    pub fn rebuilds_result_table(&self) -> bool {
        self.shape == Shape::TableTable && self.inner.is_none()
    }

    /// The rows of a table-table join's result table as its state holds them (what `emit` gives
    /// for each key with a result): an aggregation over the result restores its table from them.
    /// None for other joins, whose results are not rebuilt from state.
    pub fn table_results(&mut self) -> Option<Vec<Vec<Value>>> {
        struct Collect(Vec<Vec<Value>>);
        impl RowSink for Collect {
            fn emit(&mut self, change: Change<'_>, _origin: Origin) -> Result<()> {
                if !change.tombstone {
                    self.0.push(change.cols.iter().map(|c| c.clone().into_owned()).collect());
                }
                Ok(())
            }
        }
        if !self.rebuilds_result_table() {
            return None;
        }
        let mut keys: Vec<Vec<u8>> = self.left_table.keys().chain(self.right_table.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        let mut out = Collect(Vec::new());
        let origin = Origin { input: 0, partition: 0, offset: 0 };
        for kb in keys {
            let l = self.left_table.get(&kb).cloned();
            let r = self.right_table.get(&kb).cloned();
            let present = match self.kind {
                JoinKind::Inner => l.is_some() && r.is_some(),
                JoinKind::Left => l.is_some(),
                JoinKind::Right => r.is_some(),
                JoinKind::FullOuter => l.is_some() || r.is_some(),
            };
            let key = match (&l, &r) {
                (Some(row), _) => self.left_key.eval(row).into_owned(),
                (None, Some(row)) => self.right_key.eval(row).into_owned(),
                (None, None) => continue,
            };
            if present {
                self.emit(l.as_deref(), r.as_deref(), 0, &key, false, origin, &mut out).ok()?;
            }
        }
        Some(out.0)
    }

    /// Folds a table record of input `input` into the join state without emitting (restoring after
    /// a restart). In a chain, a table feeding an inner join also updates the state the inner
    /// join's result is held in by the joins after it.
    pub fn load_table(&mut self, input: usize, row: &[Value], decoded: Decoded) {
        match self.route(input) {
            Route::Own(local) => self.load_own(local, row, decoded),
            Route::Inner(i) => {
                let origin = Origin { input: i as u8, partition: 0, offset: 0 };
                // Nothing reaches the sink: the chain only folds rows into state.
                let _ = self.through_inner(i, row, decoded, origin, &mut Discard, true);
            }
        }
    }

    /// [`JoinOp::load_table`] for this join's own inputs (0 left, 1.. right).
    fn load_own(&mut self, input: usize, row: &[Value], decoded: Decoded) {
        if let (Shape::ForeignKey, 0, Some(pk_expr)) = (self.shape, input, &self.left_pk) {
            let pk = pk_expr.eval(row).into_owned();
            if pk.is_null() {
                return;
            }
            let pkb = key_bytes_of(&pk, &pk_expr.ty);
            if let Some(old) = self.left_table.remove(&pkb) {
                let old_fk = self.left_key.eval(&old).into_owned();
                let fkb = key_bytes_of(&old_fk, &self.key_type);
                if let Some(set) = self.fk_index.get_mut(&fkb) {
                    set.remove(&pkb);
                    if set.is_empty() {
                        self.fk_index.remove(&fkb);
                    }
                }
            }
            if decoded == Decoded::Row {
                let fk = self.left_key.eval(row).into_owned();
                if !fk.is_null() {
                    self.fk_index.entry(key_bytes_of(&fk, &self.key_type)).or_default().insert(pkb.clone());
                }
                self.left_table.insert(pkb, row.to_vec());
            }
            return;
        }
        if self.shape == Shape::StreamTable {
            let Some(side) = input.checked_sub(1).and_then(|i| self.sides.get_mut(i)) else { return };
            let key = side.own_key.eval(row).into_owned();
            if key.is_null() {
                return;
            }
            let kb = key_bytes_of(&key, &side.key_type);
            match decoded {
                Decoded::Row => {
                    side.rows.insert(kb, row.to_vec());
                }
                Decoded::Tombstone => {
                    side.rows.remove(&kb);
                }
            }
            return;
        }
        let key_expr = if input == 0 { &self.left_key } else { &self.right_key };
        let key = key_expr.eval(row).into_owned();
        if key.is_null() {
            return;
        }
        let kb = self.key_bytes(&key);
        let table = if input == 0 { &mut self.left_table } else { &mut self.right_table };
        match decoded {
            Decoded::Row => {
                table.insert(kb, row.to_vec());
            }
            Decoded::Tombstone => {
                table.remove(&kb);
            }
        }
    }

    /// For stream-stream joins: how far back (ms) records can still join or emit, so a restart
    /// rebuilds the buffers by replaying that much input (in a chain, the spans add up: a record
    /// reaches the last join through every window before it).
    pub fn replay_span(&self) -> Option<i64> {
        let own = match self.shape {
            Shape::StreamStream(w) => Some(w.before + w.after + w.grace.unwrap_or(crate::aggregate::DEFAULT_GRACE_MS)),
            _ => None,
        };
        match (own, self.inner.as_ref().and_then(|i| i.replay_span())) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        }
    }

    /// The columns of the stream row (input 0) a stream-table join reads, out of `width`; `None`
    /// when it may read them all (other shapes, and chains, whose inner joins see whole rows). The
    /// stream row is copied into every joined row, so columns nobody reads are better never decoded.
    pub fn needed_left_columns(&self, width: usize) -> Option<Vec<bool>> {
        if !matches!(self.shape, Shape::StreamTable) || self.inner.is_some() {
            return None;
        }
        let mut mask = vec![false; width];
        if let Some(f) = &self.filter {
            f.mark_columns(&mut mask);
        }
        self.items.iter().for_each(|c| c.mark_columns(&mut mask));
        self.sides.iter().for_each(|s| s.probe.mark_columns(&mut mask));
        let mut bounds = [self.left_rowtime].to_vec();
        if let Some([(start, end), _]) = self.window_bounds {
            bounds.extend([start, end]);
        }
        for i in bounds {
            if let Some(slot) = mask.get_mut(i) {
                *slot = true;
            }
        }
        Some(mask)
    }

    /// Whether input `input` is a table side (state rebuilt from its topic).
    /// Whether the join matches rows on the whole key of each input (a single key column on both
    /// sides, no foreign key, no chain, no windowed keys): then equal keys, serialized alike, lie in
    /// the same partition of co-partitioned inputs, and each partition pair joins on its own.
    pub fn joins_on_keys(&self) -> bool {
        if self.inner.is_some() || self.left_pk.is_some() || self.window_key.is_some() {
            return false;
        }
        match self.shape {
            Shape::StreamTable => {
                self.sides.len() == 1
                    && self.sides[0].probe.as_column() == Some(0)
                    && self.sides[0].own_key.as_column() == Some(0)
            }
            Shape::TableTable | Shape::StreamStream(_) => {
                self.left_key.as_column() == Some(0) && self.right_key.as_column() == Some(0)
            }
            Shape::ForeignKey => false,
        }
    }

    pub fn is_table_input(&self, input: usize) -> bool {
        match self.route(input) {
            Route::Inner(i) => self.inner.as_ref().is_some_and(|inner| inner.is_table_input(i)),
            Route::Own(local) => match self.shape {
                Shape::StreamTable => local >= 1,
                Shape::TableTable | Shape::ForeignKey => true,
                Shape::StreamStream(_) => false,
            },
        }
    }

    /// Feeds one record of input `input` (the sources in FROM order).
    pub fn process(
        &mut self,
        input: usize,
        row: &[Value],
        decoded: Decoded,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        match self.route(input) {
            Route::Own(local) => self.process_own(local, row, decoded, origin, sink),
            Route::Inner(i) => self.through_inner(i, row, decoded, origin, sink, false),
        }
    }

    /// [`JoinOp::process`] for this join's own inputs (0 left, 1.. right).
    fn process_own(
        &mut self,
        input: usize,
        row: &[Value],
        decoded: Decoded,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        match self.shape {
            Shape::StreamTable => {
                if input >= 1 {
                    self.load_own(input, row, decoded);
                    return Ok(());
                }
                if decoded != Decoded::Row {
                    return Ok(());
                }
                let ts = row.get(self.left_rowtime).and_then(Value::as_i64).unwrap_or(0);
                // Probe the tables in order; each join sees the row joined so far.
                let mut joined = std::mem::take(&mut self.joined);
                joined.clear();
                joined.extend_from_slice(row);
                let mut first_key = Value::Null;
                let probe = &mut self.probe_key;
                for (i, side) in self.sides.iter().enumerate() {
                    let key = side.probe.eval(&joined);
                    let found = if key.is_null() {
                        None
                    } else {
                        probe.clear();
                        write_json(probe, &key, &side.key_type);
                        side.rows.get(probe.as_slice())
                    };
                    if i == 0 {
                        first_key = key.into_owned();
                    }
                    match (found, side.kind) {
                        (Some(r), _) => joined.extend_from_slice(r),
                        (None, JoinKind::Left) => joined.resize(joined.len() + side.width, Value::Null),
                        _ => {
                            self.joined = joined;
                            return Ok(());
                        }
                    }
                }
                if self.synthetic_key {
                    joined.push(first_key.clone());
                }
                let result = if self.filter.as_ref().is_none_or(|f| f.test(&joined)) {
                    let cols = self.project(&joined, &first_key);
                    sink.emit(Change { cols: &cols, tombstone: false, timestamp: ts, window: None }, origin)
                } else {
                    Ok(())
                };
                self.joined = joined;
                result
            }
            Shape::TableTable => {
                let ts = row
                    .get(if input == 0 { self.left_rowtime } else { self.right_rowtime })
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let key_expr = if input == 0 { &self.left_key } else { &self.right_key };
                let key = key_expr.eval(row).into_owned();
                if key.is_null() {
                    return Ok(());
                }
                let kb = self.key_bytes(&key);
                let other_present =
                    if input == 0 { self.right_table.contains_key(&kb) } else { self.left_table.contains_key(&kb) };
                // WHERE filters the join's result table: a key's result that fails it becomes a
                // tombstone only when the key's previous result passed (ksqlDB's joins.json).
                let old_passed = match self.filter {
                    None => true,
                    Some(_) => {
                        let l = self.left_table.get(&kb).cloned();
                        let r = self.right_table.get(&kb).cloned();
                        let existed = match self.kind {
                            JoinKind::Inner => l.is_some() && r.is_some(),
                            JoinKind::Left => l.is_some(),
                            JoinKind::Right => r.is_some(),
                            JoinKind::FullOuter => l.is_some() || r.is_some(),
                        };
                        existed && self.result_passes(l.as_deref(), r.as_deref(), &key)
                    }
                };
                self.load_own(input, row, decoded);
                let l = self.left_table.get(&kb).cloned();
                let r = self.right_table.get(&kb).cloned();
                // Kafka Streams' KTable-KTable joins: no output when the side that decides the result is
                // missing; a tombstone when the result goes away.
                let this_present = decoded == Decoded::Row;
                let outcome = match self.kind {
                    JoinKind::Inner => match (this_present, other_present) {
                        (_, false) => None,
                        (true, true) => Some(true),
                        (false, true) => Some(false),
                    },
                    JoinKind::Left | JoinKind::Right => {
                        let outer_input = if self.kind == JoinKind::Left { 0 } else { 1 };
                        let outer_present = if outer_input == 0 { l.is_some() } else { r.is_some() };
                        if input == outer_input {
                            Some(this_present)
                        } else if outer_present {
                            Some(true)
                        } else {
                            None
                        }
                    }
                    JoinKind::FullOuter => Some(l.is_some() || r.is_some()),
                };
                let ts_of =
                    |row: &Option<Vec<Value>>, i: usize| row.as_ref().and_then(|r| r.get(i)).and_then(Value::as_i64);
                let out_ts =
                    ts.max(ts_of(&l, self.left_rowtime).unwrap_or(ts)).max(ts_of(&r, self.right_rowtime).unwrap_or(ts));
                match outcome {
                    None => Ok(()),
                    Some(true) if !old_passed && !self.result_passes(l.as_deref(), r.as_deref(), &key) => Ok(()),
                    Some(true) => self.emit(l.as_deref(), r.as_deref(), out_ts, &key, false, origin, sink),
                    Some(false) if !old_passed => Ok(()),
                    Some(false) => self.emit(None, None, ts, &key, true, origin, sink),
                }
            }
            Shape::ForeignKey => self.process_foreign_key(input, row, decoded, origin, sink),
            Shape::StreamStream(within) => {
                if decoded != Decoded::Row {
                    return Ok(());
                }
                self.process_stream_stream(within, input, row, origin, sink)
            }
        }
    }

    /// Stream-stream joins, following Kafka Streams: each side keeps its records in a window store
    /// whose retention (`before + after + grace`) is enforced per side and by segments (half the
    /// retention, at least a minute), so a record older than its side's store keeps is not stored;
    /// a new record joins the other side's stored records within the window. With a grace period, a
    /// record of an outer side that never joined is emitted with nulls once the shared stream time
    /// passes its window end plus the grace; without one, at once.
    fn process_stream_stream(
        &mut self,
        within: Within,
        input: usize,
        row: &[Value],
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let rowtime = if input == 0 { self.left_rowtime } else { self.right_rowtime };
        let ts = row.get(rowtime).and_then(Value::as_i64).unwrap_or(0);
        self.stream_time = self.stream_time.max(ts);
        self.side_time[input] = self.side_time[input].max(ts);
        let key_expr = if input == 0 { &self.left_key } else { &self.right_key };
        let key = key_expr.eval(row).into_owned();
        if !key.is_null() {
            let mut kb = self.key_bytes(&key);
            if let Some(sides) = &self.window_key {
                for i in &sides[input] {
                    kb.extend_from_slice(&row.get(*i).and_then(Value::as_i64).unwrap_or(0).to_be_bytes());
                }
            }
            // Kafka Streams' window stores return no record older than their retention before the
            // store's stream time, whatever segments still hold (strict retention): a record after
            // the grace period finds nothing to join.
            let oldest = self.side_time[1 - input].saturating_sub(Self::retention(within)) + 1;
            let others: Vec<(u64, i64, Vec<Value>)> = {
                let other = if input == 0 { &self.right_buf } else { &self.left_buf };
                other
                    .get(&kb)
                    .map(|list| {
                        list.iter()
                            .filter(|b| b.ts >= oldest)
                            // left.ts - before <= right.ts <= left.ts + after
                            .filter(|b| {
                                if input == 0 {
                                    b.ts >= ts - within.before && b.ts <= ts + within.after
                                } else {
                                    ts >= b.ts - within.before && ts <= b.ts + within.after
                                }
                            })
                            .map(|b| (b.id, b.ts, b.row.clone()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for (id, other_ts, other_row) in &others {
                // A pending outer row that found its match is no longer emitted with nulls.
                self.pending.remove(id);
                let out_ts = ts.max(*other_ts);
                if input == 0 {
                    self.emit(Some(row), Some(other_row), out_ts, &key, false, origin, sink)?;
                } else {
                    self.emit(Some(other_row), Some(row), out_ts, &key, false, origin, sink)?;
                }
            }
            let outer_side = match self.kind {
                JoinKind::Left => input == 0,
                JoinKind::Right => input == 1,
                JoinKind::FullOuter => true,
                JoinKind::Inner => false,
            };
            self.next_id += 1;
            let id = self.next_id;
            // A row whose window already ended (by stream time) cannot be joined any more: with
            // or without a grace period it goes out with nulls at once.
            let reach = if input == 0 { within.after } else { within.before };
            if others.is_empty() && outer_side {
                if within.grace.is_none() || ts.saturating_add(reach) < self.stream_time {
                    // Eager emission: the row with nulls now, the joined rows when matches come.
                    if input == 0 {
                        self.emit(Some(row), None, ts, &key, false, origin, sink)?;
                    } else {
                        self.emit(None, Some(row), ts, &key, false, origin, sink)?;
                    }
                } else {
                    self.pending.insert(id, (input, Buffered { id, key: key.clone(), ts, row: row.to_vec() }));
                }
            }
            if self.live(within, input, ts) {
                let buf = if input == 0 { &mut self.left_buf } else { &mut self.right_buf };
                buf.entry(kb).or_default().push(Buffered { id, key, ts, row: row.to_vec() });
            }
        }
        self.expire(within, origin, sink)
    }

    fn retention(within: Within) -> i64 {
        within.before + within.after + within.grace.unwrap_or(crate::aggregate::DEFAULT_GRACE_MS)
    }

    /// Whether a record at `ts` is still within its side's store (Kafka Streams' segmented stores).
    fn live(&self, within: Within, side: usize, ts: i64) -> bool {
        let retention = Self::retention(within);
        let segment = (retention / 2).max(60_000);
        ts.div_euclid(segment) >= (self.side_time[side] - retention + 1).div_euclid(segment)
    }

    /// Foreign-key joins: a left update (re)joins that row; a right update rejoins every left row
    /// referring to it. A result that goes away is a tombstone keyed by the left primary key.
    fn process_foreign_key(
        &mut self,
        input: usize,
        row: &[Value],
        decoded: Decoded,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let Some(pk_expr) = self.left_pk.clone() else { return Ok(()) };
        let rowtime = if input == 0 { self.left_rowtime } else { self.right_rowtime };
        let ts = row.get(rowtime).and_then(Value::as_i64).unwrap_or(0);
        // Kafka Streams sends a new left key's subscription as "propagate only if the foreign row
        // is there": an inner join of a key seen for the first time with no match writes nothing.
        let had_left = input == 0 && {
            let pk = pk_expr.eval(row);
            !pk.is_null() && self.left_table.contains_key(&key_bytes_of(&pk, &pk_expr.ty))
        };
        self.load_own(input, row, decoded);
        if input == 0 {
            let pk = pk_expr.eval(row).into_owned();
            if pk.is_null() {
                return Ok(());
            }
            // Tombstones carry the left row: its key columns give the result's key, however many.
            if decoded == Decoded::Tombstone {
                return self.emit(Some(row), None, ts, &pk, true, origin, sink);
            }
            let fk = self.left_key.eval(row).into_owned();
            let right = if fk.is_null() { None } else { self.right_table.get(&self.key_bytes(&fk)).cloned() };
            return match (right, self.kind) {
                (Some(r), _) => {
                    let out_ts = ts.max(r.get(self.right_rowtime).and_then(Value::as_i64).unwrap_or(ts));
                    self.emit(Some(row), Some(&r), out_ts, &pk, false, origin, sink)
                }
                (None, JoinKind::Left) => self.emit(Some(row), None, ts, &pk, false, origin, sink),
                // The row may have joined before under another foreign key.
                (None, _) if had_left => self.emit(Some(row), None, ts, &pk, true, origin, sink),
                (None, _) => Ok(()),
            };
        }
        let rk = self.right_key.eval(row).into_owned();
        if rk.is_null() {
            return Ok(());
        }
        let lefts: Vec<Vec<u8>> =
            self.fk_index.get(&self.key_bytes(&rk)).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        for pkb in lefts {
            let Some(left) = self.left_table.get(&pkb).cloned() else { continue };
            let pk = pk_expr.eval(&left).into_owned();
            let out_ts = ts.max(left.get(self.left_rowtime).and_then(Value::as_i64).unwrap_or(ts));
            match (decoded, self.kind) {
                (Decoded::Row, _) => self.emit(Some(&left), Some(row), out_ts, &pk, false, origin, sink)?,
                (Decoded::Tombstone, JoinKind::Left) => {
                    self.emit(Some(&left), None, out_ts, &pk, false, origin, sink)?
                }
                (Decoded::Tombstone, _) => self.emit(Some(&left), None, out_ts, &pk, true, origin, sink)?,
            }
        }
        Ok(())
    }

    /// Drops stored records their side's store no longer keeps, and emits pending outer rows whose
    /// window closed (oldest first).
    fn expire(&mut self, within: Within, origin: Origin, sink: &mut dyn RowSink) -> Result<()> {
        for side in 0..2 {
            let retention = Self::retention(within);
            let segment = (retention / 2).max(60_000);
            let min_segment = (self.side_time[side] - retention + 1).div_euclid(segment);
            let buf = if side == 0 { &mut self.left_buf } else { &mut self.right_buf };
            for list in buf.values_mut() {
                list.retain(|b| b.ts.div_euclid(segment) >= min_segment);
            }
            buf.retain(|_, l| !l.is_empty());
        }
        let Some(grace) = within.grace else { return Ok(()) };
        let stream_time = self.stream_time;
        let mut due: Vec<(i64, u64)> = self
            .pending
            .iter()
            .filter(|(_, (side, b))| {
                // A left record joins right records up to `after` later; a right one left records up
                // to `before` later.
                let reach = if *side == 0 { within.after } else { within.before };
                b.ts + reach + grace < stream_time
            })
            .map(|(id, (_, b))| (b.ts, *id))
            .collect();
        due.sort();
        for (_, id) in due {
            let Some((side, b)) = self.pending.remove(&id) else { continue };
            if side == 0 {
                self.emit(Some(&b.row), None, b.ts, &b.key, false, origin, sink)?;
            } else {
                self.emit(None, Some(&b.row), b.ts, &b.key, false, origin, sink)?;
            }
        }
        Ok(())
    }
}

/// Rejects `ON a = b` where a side references no column (ksqlDB checks this before the join shape).
fn check_join_sides(on: &Expr) -> Result<()> {
    let Expr::Binary { op: BinaryOp::Eq, left: a, right: b } = on else {
        return Ok(());
    };
    for side in [a, b] {
        let mut has_column = false;
        side.walk(&mut |e| has_column |= matches!(e, Expr::Column { .. }));
        if !has_column {
            return Err(SqlError::analysis(format!(
                "Invalid comparison expression '{side}' in join '{on}'. Each side of the join comparision must contain \
                 references from exactly one source."
            )));
        }
    }
    Ok(())
}

/// A join type as ksqlDB writes it in its refusals, optional words in brackets.
fn written(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => "[INNER] JOIN",
        JoinKind::Left => "LEFT [OUTER] JOIN",
        JoinKind::Right => "RIGHT [OUTER] JOIN",
        JoinKind::FullOuter => "[FULL] OUTER JOIN",
    }
}

/// `ON a = b` as ksqlDB prints it in its refusals: as written, each column qualified by its source.
fn on_text(on: &Expr, left: &Scope, right: &Scope) -> String {
    let mut scope = left.clone();
    scope.columns.extend(right.columns.iter().cloned());
    match on {
        Expr::Binary { op: BinaryOp::Eq, left: a, right: b } => {
            format!("{} = {}", qualified_text(a, &scope), qualified_text(b, &scope))
        }
        other => qualified_text(other, &scope),
    }
}

/// A source's window type as ksqlDB names it when refusing to join incompatible windows.
fn window_type_name(source: &SourceDef) -> &'static str {
    match source.window {
        Some(w) if w.kind == WindowType::Session => "SESSION",
        Some(w) if w.hopping => "HOPPING",
        Some(_) => "TUMBLING",
        None => "NONE",
    }
}

/// How ksqlDB names a source's windowing in its join refusals (hopping and tumbling windows are
/// both `TIME` here: a source keeps only whether its windows are sessions).
fn window_name(source: &SourceDef) -> &'static str {
    match source.window.map(|w| w.kind) {
        Some(WindowType::Session) => "SESSION",
        Some(_) => "TIME",
        None => "NONE",
    }
}

/// ksqlDB's refusals of joined sources, made before the join's shape is looked at: a source joined
/// to itself, sources in the `KAFKA` value format, ON columns that do not resolve, and windowed
/// sources that cannot meet (windowed with non-windowed, sessions with time windows, or a windowed
/// source joined on anything but its key, which would need a repartition).
fn check_join_sources(query: &Query, first: &SourceDef, joined: &[SourceDef]) -> Result<()> {
    let all: Vec<&SourceDef> = std::iter::once(first).chain(joined).collect();
    // A source twice in an n-way join is refused later, with ksqlDB's n-way wording.
    if let [right] = joined {
        if first.name == right.name {
            let left = first;
            return Err(SqlError::analysis(format!(
                "Can not join '{}' to '{}': self joins are not yet supported.",
                left.name, right.name
            )));
        }
    }
    let kafka: Vec<&str> = all.iter().filter(|s| s.value_format == Format::Kafka).map(|s| s.name.as_str()).collect();
    if !kafka.is_empty() {
        return Err(SqlError::analysis(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support JOIN.",
            kafka.join(", ")
        )));
    }
    // Qualifiers are checked for the whole statement before any column is resolved.
    let known: Vec<String> = std::iter::once(query.from.qualifier().to_string())
        .chain(query.joins.iter().map(|j| j.source.qualifier().to_string()))
        .collect();
    for join in &query.joins {
        let mut unknown = None;
        join.on.walk(&mut |e| {
            if let Expr::Column { qualifier: Some(q), .. } = e {
                if unknown.is_none() && !known.contains(q) {
                    unknown = Some(q.clone());
                }
            }
        });
        if let Some(q) = unknown {
            return Err(SqlError::analysis(format!(
                "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
            )));
        }
    }
    let mut qualifiers = vec![query.from.qualifier().to_string()];
    let mut scope = first.scope(&qualifiers[0]);
    for (join, right) in query.joins.iter().zip(joined) {
        let rq = join.source.qualifier().to_string();
        if qualifiers.contains(&rq) {
            // Refused by the join planning, with its wording.
            return Ok(());
        }
        scope.columns.extend(right.scope(&rq).columns);
        qualifiers.push(rq);
        let mut failure = None;
        join.on.walk(&mut |e| {
            let Expr::Column { qualifier, name, pos } = e else { return };
            if failure.is_some() {
                return;
            }
            let at = format!("Line: {}, Col: {}: ", pos.line, pos.column);
            if let Some(q) = qualifier {
                if !qualifiers.contains(q) {
                    failure = Some(format!("{at}'{q}' is not a valid stream/table name or alias."));
                    return;
                }
            }
            let owners: Vec<&str> = scope
                .columns
                .iter()
                .filter(|c| c.name == *name && (qualifier.is_none() || c.qualifier == *qualifier))
                .filter_map(|c| c.qualifier.as_deref())
                .collect();
            let shown = match qualifier {
                Some(q) => format!("{q}.{name}"),
                None => name.clone(),
            };
            match owners.as_slice() {
                [] => failure = Some(format!("{at}JOIN ON column '{shown}' cannot be resolved.")),
                [_] => {}
                [a, b, ..] => {
                    failure = Some(format!(
                        "Exception while preparing statement: {at}Column '{name}' is ambiguous. Could be {a}.{name} \
                         or {b}.{name}."
                    ))
                }
            }
        });
        if let Some(f) = failure {
            return Err(SqlError::analysis(f));
        }
    }
    // A stream joined to a table on both keys meets it partition by partition: ksqlDB wants equal
    // counts (a join off a key repartitions; table-table joins are not checked, as in ksqlDB's
    // joins.json table join pipeline).
    let named: Vec<(String, &SourceDef)> = std::iter::once((query.from.qualifier().to_string(), first))
        .chain(query.joins.iter().zip(joined).map(|(j, s)| (j.source.qualifier().to_string(), s)))
        .collect();
    let key_source = |e: &Expr| -> Option<&SourceDef> {
        let Expr::Column { qualifier, name, .. } = e else { return None };
        let is_key = |s: &SourceDef| s.key_columns.len() == 1 && s.key_columns[0].name == *name;
        let mut owners = named.iter().filter(|(q, s)| qualifier.as_ref().is_none_or(|x| x == q) && is_key(s));
        match (owners.next(), owners.next()) {
            (Some((_, s)), None) => Some(*s),
            _ => None,
        }
    };
    for join in &query.joins {
        let Expr::Binary { op: BinaryOp::Eq, left: a, right: b } = &join.on else { continue };
        if let (Some(x), Some(y)) = (key_source(a), key_source(b)) {
            if x.name != y.name && x.kind != y.kind && x.partitions != y.partitions {
                let (l, r) = if joined.iter().any(|s| s.name == x.name) && !joined.iter().any(|s| s.name == y.name) {
                    (y, x)
                } else {
                    (x, y)
                };
                return Err(SqlError::analysis(format!(
                    "Can't join `{}` with `{}` since the number of partitions don't match. `{}` partitions = {}; `{}` \
                     partitions = {}. Please repartition either one so that the number of partitions match.",
                    l.name, r.name, l.name, l.partitions, r.name, r.partitions
                )));
            }
        }
    }
    if let ([join], [right]) = (query.joins.as_slice(), joined) {
        match (first.window.is_some(), right.window.is_some()) {
            (true, false) | (false, true) => {
                let (w, n) = if first.window.is_some() { (first, right) } else { (right, first) };
                return Err(SqlError::analysis(format!(
                    "Can not join windowed source to non-windowed source.\n`{}` is {} windowed\n`{}` is not windowed",
                    w.name,
                    window_name(w),
                    n.name
                )));
            }
            (true, true) => {
                let sessions = |s: &SourceDef| s.window.is_some_and(|w| w.kind == WindowType::Session);
                if sessions(first) != sessions(right) {
                    return Err(SqlError::analysis(format!(
                        "Incompatible windowed sources.\nLeft source: {}\nRight source: {}\nSession windowed sources \
                         can only be joined to other session windowed sources, and may still not result in expected \
                         behaviour as session bounds must be an exact match for the join to work\nHopping and \
                         tumbling windowed sources can only be joined to other hopping and tumbling windowed sources",
                        window_type_name(first),
                        window_type_name(right)
                    )));
                }
                // KAFKA-format keys of time windows of different sizes are different key formats:
                // one side would have to be repartitioned, which ksqlDB does not do for windowed
                // sources. (ksqlDB's joins.json joins the same windows with JSON_SR keys.)
                let size = |s: &SourceDef| s.window.and_then(|w| w.size_ms);
                let kafka_keys = first.key_format == Format::Kafka && right.key_format == Format::Kafka;
                if kafka_keys && size(first) != size(right) {
                    return Err(SqlError::analysis(
                        "Implicit repartitioning of windowed sources is not supported. See \
                         https://github.com/confluentinc/ksql/issues/4385.",
                    ));
                }
                let lq = query.from.qualifier().to_string();
                let rq = join.source.qualifier().to_string();
                let on_key = |e: &Expr| match e {
                    Expr::Column { qualifier, name, .. } => {
                        let key_of = |s: &SourceDef| s.key_columns.len() == 1 && s.key_columns[0].name == *name;
                        match qualifier.as_deref() {
                            Some(q) if q == lq => key_of(first),
                            Some(q) if q == rq => key_of(right),
                            Some(_) => false,
                            None => key_of(first) || key_of(right),
                        }
                    }
                    _ => false,
                };
                let keyed = match &join.on {
                    Expr::Binary { op: BinaryOp::Eq, left, right } => on_key(left) && on_key(right),
                    _ => false,
                };
                if !keyed {
                    return Err(SqlError::analysis(
                        "Implicit repartitioning of windowed sources is not supported. See \
                         https://github.com/confluentinc/ksql/issues/4385.",
                    ));
                }
            }
            (false, false) => {}
        }
    }
    Ok(())
}

/// `ON a = b`: the left and right join expressions.
fn split_on(on: &Expr, left: &Scope, right: &Scope) -> Result<(Compiled, Compiled, Expr, Expr)> {
    let Expr::Binary { op: BinaryOp::Eq, left: a, right: b } = on else {
        if matches!(on, Expr::Binary { op: BinaryOp::And, .. }) {
            return Err(SqlError::analysis(format!(
                "Invalid join condition: joins on multiple conditions are not yet supported. Got {on}."
            )));
        }
        return Err(SqlError::analysis(format!(
            "Unsupported join expression: {on}: joins need an equality of the two sides"
        )));
    };
    check_join_sides(on)?;
    if let (Ok(l), Ok(r)) = (compile(a, left), compile(b, right)) {
        return Ok((l, r, (**a).clone(), (**b).clone()));
    }
    if let (Ok(l), Ok(r)) = (compile(b, left), compile(a, right)) {
        return Ok((l, r, (**b).clone(), (**a).clone()));
    }
    Err(SqlError::analysis(format!(
        "Invalid join condition: {on}: each side of the '=' must refer to one of the joined sources"
    )))
}

fn is_primary_key(e: &Expr, source: &SourceDef) -> bool {
    matches!(e, Expr::Column { name, .. } if source.key_columns.len() == 1 && source.key_columns[0].name == *name)
}

/// Plans `stream JOIN table [JOIN table ...]`: each table is looked up by its primary key with an
/// expression over the row joined so far.
fn plan_stream_tables(
    query: &Query,
    stream: SourceDef,
    tables: Vec<SourceDef>,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let mut qualifiers = vec![query.from.qualifier().to_string()];
    let mut scope = stream.scope(&qualifiers[0]);
    let mut sides = Vec::new();
    let mut join_exprs: Vec<Expr> = Vec::new();
    let mut steps =
        vec![format!("SOURCE {} {} AS {} (topic: {})", stream.kind.name(), stream.name, qualifiers[0], stream.topic)];
    for (join, table) in query.joins.iter().zip(&tables) {
        let q = join.source.qualifier().to_string();
        if qualifiers.contains(&q) {
            return Err(SqlError::analysis(format!("two joined sources are called {q}: give them different aliases")));
        }
        if matches!(join.kind, JoinKind::FullOuter | JoinKind::Right) {
            let kind = if join.kind == JoinKind::FullOuter { "full-outer" } else { "right" };
            return Err(SqlError::analysis(format!(
                "Invalid join type: {kind} join not supported for stream-table join. Got {} {} {}.",
                stream.name,
                written(join.kind),
                table.name
            )));
        }
        let table_scope = table.scope(&q);
        let (probe, own_key, probe_expr, own_expr) = split_on(&join.on, &scope, &table_scope)?;
        if probe.ty != own_key.ty {
            return Err(SqlError::analysis(format!(
                "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
                qualified_text(&probe_expr, &scope),
                probe.ty,
                qualified_text(&own_expr, &table_scope),
                own_key.ty
            )));
        }
        if !is_primary_key(&own_expr, table) {
            return Err(SqlError::analysis(format!(
                "Invalid join condition: stream-table joins require to join on the table's primary key. Got {}.",
                on_text(&join.on, &scope, &table_scope)
            )));
        }
        steps.push(format!("SOURCE {} {} AS {q} (topic: {})", table.kind.name(), table.name, table.topic));
        steps.push(format!("{} JOIN STREAM-TABLE ON {} = {}", join.kind.name(), probe_expr, own_expr));
        join_exprs.push(probe_expr);
        join_exprs.push(own_expr);
        sides.push(TableSide {
            kind: join.kind,
            key_type: probe.ty.clone(),
            probe,
            own_key,
            width: table.row_width(),
            rows: HashMap::default(),
        });
        scope.columns.extend(table_scope.columns);
        qualifiers.push(q);
    }
    let synthetic_key = true;
    let ty = sides[0].key_type.clone();
    scope.columns.push(crate::expr::ScopeColumn { qualifier: None, name: synthetic_key_name(&scope), ty });
    let filter = match &query.filter {
        Some(f) => {
            let c = compile_where(f, &scope).map_err(|e| joined_names_in(e, &scope))?;
            steps.push(format!("FILTER {f}"));
            Some(c)
        }
        None => None,
    };
    let mut all = vec![stream.clone()];
    all.extend(tables.iter().cloned());
    let named: Vec<(&str, &SourceDef)> = qualifiers.iter().map(String::as_str).zip(all.iter()).collect();
    let mut items = expand_select(&query.select, &|q: Option<&str>| joined_star(&named, q))?;
    crate::plan::disambiguate_join_names(&mut items, &named);
    check_output_names(&items, purpose)?;
    // The key is the first join's expression, named by any projected column it refers to, or the
    // column PARTITION BY names.
    let key_targets: Vec<Option<usize>> = match query.partition_by.as_slice() {
        [] => join_exprs[..2]
            .iter()
            .map(|e| match e {
                Expr::Column { qualifier, name, .. } => scope.resolve(qualifier.as_deref(), name).ok(),
                _ => None,
            })
            .chain(std::iter::once(synthetic_key.then(|| scope.columns.len() - 1)))
            .collect(),
        [p] => match compile(p, &scope)?.as_column() {
            Some(i) => vec![Some(i)],
            None => return Err(SqlError::Unsupported("PARTITION BY an expression of a join's columns".into())),
        },
        _ => return Err(SqlError::Unsupported("PARTITION BY several expressions of a join".into())),
    };
    let mut compiled = Vec::new();
    let mut columns = Vec::new();
    let mut key_found = false;
    for item in &items {
        let c = crate::plan::compile_select(&item.expr, &scope)?;
        let is_key = !key_found && c.as_column().is_some() && key_targets.contains(&c.as_column());
        key_found |= is_key;
        columns.push(OutputColumn { name: item.name.clone(), ty: c.ty.clone(), is_key });
        compiled.push(c);
    }
    if purpose.persistent() && !key_found {
        if let [p] = query.partition_by.as_slice() {
            let keys = [qualified_text(p, &scope)];
            let sink = sink_name.unwrap_or("the sink");
            return Err(crate::plan::key_missing(sink, "partitioning expression", &keys, true, false));
        }
        let keys = [join_exprs[0].to_string(), join_exprs[1].to_string()];
        return Err(crate::plan::key_missing(sink_name.unwrap_or("the sink"), "join expression", &keys, false, false));
    }
    let proj: Vec<String> = items
        .iter()
        .zip(&columns)
        .map(|(i, c)| format!("{} AS {}{}", i.expr, i.name, if c.is_key { " KEY" } else { "" }))
        .collect();
    steps.push(format!("PROJECT {}", proj.join(", ")));
    let dummy = sides[0].probe.clone();
    let op = JoinOp {
        shape: Shape::StreamTable,
        kind: query.joins[0].kind,
        key_type: sides[0].key_type.clone(),
        left_key: dummy.clone(),
        right_key: dummy,
        left_width: stream.row_width(),
        right_width: 0,
        left_rowtime: stream.rowtime_index(),
        right_rowtime: 0,
        filter,
        key_items: columns.iter().map(|c| c.is_key).collect(),
        items: compiled,
        left_table: HashMap::new(),
        right_table: HashMap::new(),
        left_buf: HashMap::new(),
        right_buf: HashMap::new(),
        pending: BTreeMap::new(),
        side_time: [i64::MIN / 2; 2],
        next_id: 0,
        stream_time: i64::MIN / 2,
        joined: Vec::new(),
        probe_key: Vec::new(),
        sides,
        synthetic_key,
        left_pk: None,
        fk_index: HashMap::new(),
        inner: None,
        append_key: false,
        window_key: None,
        window_bounds: None,
    };
    Ok(PlannedQuery {
        inputs: all,
        operator: Operator::Join(Box::new(op)),
        columns,
        kind: Kind::Stream,
        window: None,
        limit: query.limit,
        plan: Plan { steps },
        key_from_source: false,
    })
}

/// Plans `... JOIN ... GROUP BY ...`: the join produces every column of the joined sources, and
/// the aggregation groups those rows.
pub fn plan_join_aggregate(
    query: &Query,
    lookup: &dyn Fn(&str) -> Result<SourceDef>,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let mut sources = vec![(query.from.qualifier().to_string(), lookup(&query.from.name)?)];
    for j in &query.joins {
        sources.push((j.source.qualifier().to_string(), lookup(&j.source.name)?));
    }
    // ksqlDB does not resolve window bounds in the projection of an aggregated join.
    if sources.iter().all(|(_, s)| s.window.is_none()) {
        for item in &query.select {
            let SelectItem::Expr { expr, .. } = item else { continue };
            let mut bound = None;
            expr.walk(&mut |e| {
                if let Expr::Column { name, .. } = e {
                    if bound.is_none() && (name == WINDOWSTART || name == WINDOWEND) {
                        bound = Some(name.clone());
                    }
                }
            });
            if let Some(b) = bound {
                return Err(SqlError::analysis(format!("SELECT column '{b}' cannot be resolved.")));
            }
        }
    }
    let mut select = Vec::new();
    let mut scope = Scope::default();
    for (q, source) in &sources {
        for c in source.scope(q).columns {
            select
                .push(SelectItem::Expr { expr: column_expr(Some(q), &c.name), alias: Some(format!("{q}_{}", c.name)) });
            scope.columns.push(c);
        }
    }
    let inner = Query {
        select,
        from: query.from.clone(),
        joins: query.joins.clone(),
        window: None,
        filter: query.filter.clone(),
        group_by: Vec::new(),
        partition_by: Vec::new(),
        having: None,
        emit: None,
        limit: None,
    };
    let joined = plan_join(&inner, lookup, Purpose::Transient, None)?;
    // A table-table join's result is a table keyed as its left table: the aggregation replaces a
    // key's previous row (the joined row starts with the left table's key columns).
    let key_width = if joined.kind == Kind::Table { sources[0].1.key_columns.len() } else { 0 };

    let Operator::Join(join_op) = joined.operator else {
        return Err(SqlError::analysis("expected a join"));
    };
    if joined.kind == Kind::Table && !join_op.rebuilds_result_table() {
        // Only a two-table join on keys rebuilds its result table for the aggregation on restart.
        return Err(SqlError::Unsupported("aggregating a foreign-key or multi-way table join".into()));
    }
    let rowtime = scope
        .resolve(Some(&sources[0].0), crate::metastore::ROWTIME)
        .map_err(|_| SqlError::analysis("the joined rows have no ROWTIME"))?;
    let input = crate::aggregate::AggInput {
        kind: joined.kind,
        rowtime,
        key_width,
        star: Box::new(|_| Err(SqlError::analysis("SELECT * cannot be used with GROUP BY"))),
        steps: joined.plan.steps,
        inputs: joined.inputs,
    };
    let mut outer = query.clone();
    // WHERE already ran in the join.
    outer.filter = None;
    let planned = crate::aggregate::plan_aggregate_input(&outer, input, scope, purpose, sink_name)?;
    let Operator::Aggregate(agg_op) = planned.operator else {
        return Err(SqlError::analysis("expected an aggregation"));
    };
    Ok(PlannedQuery { operator: Operator::JoinAggregate(join_op, agg_op), ..planned })
}

/// The left side of one join of a chain: a source, or the result of the joins before it
/// (`a JOIN b ON ... JOIN c ON ...` joins `c` with the result of `a JOIN b`).
struct LeftSide {
    /// The sources joined so far, in FROM order, with their qualifiers.
    sources: Vec<(String, SourceDef)>,
    /// The columns of a left row: every column of every source so far, then (for an intermediate
    /// result) the hidden key and timestamp columns of each join before.
    scope: Scope,
    kind: Kind,
    /// Expressions over the left row whose value is the left row's key (ksqlDB's key equivalence:
    /// after `a.x = b.y` both `a.x` and `b.y` are the key).
    key_set: Vec<Expr>,
    /// An intermediate result's hidden key and timestamp columns (row indexes).
    hidden: Option<(usize, usize)>,
    rowtime: usize,
    width: usize,
    /// The join producing an intermediate left side.
    inner: Option<Box<JoinOp>>,
    steps: Vec<String>,
}

/// The qualifier of the hidden columns an intermediate join result carries.
const HIDDEN_QUALIFIER: &str = "__JOIN";

impl LeftSide {
    fn source(qualifier: String, source: SourceDef) -> LeftSide {
        let key_set = match source.key_columns.as_slice() {
            [k] => vec![column_expr(Some(&qualifier), &k.name)],
            _ => Vec::new(),
        };
        LeftSide {
            scope: source.scope(&qualifier),
            kind: source.kind,
            key_set,
            hidden: None,
            rowtime: source.rowtime_index(),
            width: source.row_width(),
            inner: None,
            steps: vec![format!(
                "SOURCE {} {} AS {qualifier} (topic: {})",
                source.kind.name(),
                source.name,
                source.topic
            )],
            sources: vec![(qualifier, source)],
        }
    }

    fn is_key(&self, e: &Expr) -> bool {
        let text = canonical(e, &self.scope);
        self.key_set.iter().any(|k| canonical(k, &self.scope) == text)
    }
}

/// An expression with every column qualified by the source it resolves to, so that `ID` and
/// `T.ID` compare equal.
fn canonical(e: &Expr, scope: &Scope) -> String {
    let mut e = e.clone();
    e.rewrite(&mut |x| {
        if let Expr::Column { qualifier, name, .. } = x {
            if let Ok(i) = scope.resolve(qualifier.as_deref(), name) {
                qualifier.clone_from(&scope.columns[i].qualifier);
            }
            return true;
        }
        false
    });
    e.to_string()
}

/// One join of a chain, analysed: what runs and what the result is keyed by.
struct Stage {
    shape: Shape,
    kind: JoinKind,
    left_key: Compiled,
    right_key: Compiled,
    left_expr: Expr,
    right_expr: Expr,
    left_pk: Option<Compiled>,
    /// The left row's columns, the right row's, then the synthetic `ROWKEY` when there is one.
    scope: Scope,
    synthetic_key: bool,
    /// A full outer join is keyed by the synthetic `ROWKEY` only: either side may be missing.
    full_outer: bool,
    /// Expressions equal to the result's key.
    key_set: Vec<Expr>,
    /// The type of the result's key.
    key_type: SqlType,
    right_width: usize,
    right_rowtime: usize,
    window_key: Option<[Vec<usize>; 2]>,
    window_bounds: Option<[(usize, usize); 2]>,
}

/// The sources each side of `ON a = b` refers to (`left` are the sources joined before `rq`).
fn referenced_sources(e: &Expr, left: &[(String, SourceDef)], rq: &str, right: &SourceDef) -> Vec<String> {
    let has = |s: &SourceDef, name: &str| {
        s.key_columns.iter().chain(&s.value_columns).any(|c| c.name == name) || RESERVED_COLUMNS.contains(&name)
    };
    let mut out: Vec<String> = Vec::new();
    e.walk(&mut |x| {
        let Expr::Column { qualifier, name, .. } = x else { return };
        let owner = match qualifier {
            Some(q) => Some(q.clone()),
            None if has(right, name) => Some(rq.to_string()),
            None => left.iter().find(|(_, s)| has(s, name)).map(|(q, _)| q.clone()),
        };
        if let Some(o) = owner {
            if !out.contains(&o) {
                out.push(o);
            }
        }
    });
    out
}

/// ksqlDB's checks that a join's criteria compare the joined source with the sources before it
/// (made for every join before any is planned, as ksqlDB's analyzer does).
fn check_join_references(on: &Expr, left: &[(String, SourceDef)], rq: &str, right: &SourceDef) -> Result<()> {
    let Expr::Binary { op: BinaryOp::Eq, left: a, right: b } = on else { return Ok(()) };
    let (ra, rb) = (referenced_sources(a, left, rq, right), referenced_sources(b, left, rq, right));
    if let ([x], [y]) = (ra.as_slice(), rb.as_slice()) {
        if x == y {
            return Err(SqlError::analysis(format!(
                "Each side of the join must reference exactly one source and not the same source. Left side \
                 references `{x}` and right references `{y}`"
            )));
        }
        if x != rq && y != rq {
            return Err(SqlError::analysis(format!(
                "A join criteria is expected to reference the source (`{rq}`) in the FROM clause, instead the right \
                 source references `{y}` and the left source references `{x}`"
            )));
        }
    }
    Ok(())
}

/// Analyses the join of `right` onto `left`: its shape (which ksqlDB allows which), its key
/// expressions, and the key of its result.
fn plan_stage(left: &LeftSide, join: &Join, rq: &str, right: &SourceDef) -> Result<Stage> {
    let left_name = left.sources[0].1.name.clone();
    if left.sources.iter().any(|(q, _)| q == rq) {
        return Err(SqlError::analysis(if left.sources.len() == 1 {
            format!("both sides of the join are called {rq}: give them different aliases")
        } else {
            format!("N-way joins do not support multiple occurrences of the same source. Source: '{rq}'")
        }));
    }
    let right_scope = right.scope(rq);
    let shape = match (left.kind, right.kind, join.within) {
        (Kind::Stream, Kind::Stream, Some(w)) => Shape::StreamStream(w),
        (Kind::Stream, Kind::Stream, None) => {
            return Err(SqlError::analysis(
                "Stream-Stream joins must have a WITHIN clause specified. None was provided.",
            ))
        }
        (_, _, Some(_)) => return Err(SqlError::analysis("A WITHIN clause is only valid in a stream-stream join")),
        (Kind::Stream, Kind::Table, None) => Shape::StreamTable,
        (Kind::Table, Kind::Table, None) => Shape::TableTable,
        (Kind::Table, Kind::Stream, None) => {
            return Err(SqlError::analysis(format!(
                "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {left_name} {} \
                 {}.",
                written(join.kind),
                right.name
            )))
        }
    };
    if shape == Shape::StreamTable && matches!(join.kind, JoinKind::FullOuter | JoinKind::Right) {
        let kind = if join.kind == JoinKind::FullOuter { "full-outer" } else { "right" };
        return Err(SqlError::analysis(format!(
            "Invalid join type: {kind} join not supported for stream-table join. Got {left_name} {} {}.",
            written(join.kind),
            right.name
        )));
    }
    let (left_key, right_key, left_expr, right_expr) = split_on(&join.on, &left.scope, &right_scope)?;
    // The join key becomes a key column (named `SOURCE_COLUMN` when it is a column): ksqlDB refuses
    // maps there before anything else.
    if let Expr::Column { .. } = &left_expr {
        let name = qualified_text(&left_expr, &left.scope).replace('.', "_");
        crate::engine::check_key_type(&name, &left_key.ty)?;
    }
    if left_key.ty != right_key.ty {
        return Err(SqlError::analysis(format!(
            "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
            qualified_text(&left_expr, &left.scope),
            left_key.ty,
            qualified_text(&right_expr, &right_scope),
            right_key.ty
        )));
    }
    if right.kind == Kind::Table && !is_primary_key(&right_expr, right) {
        let on = on_text(&join.on, &left.scope, &right_scope);
        return Err(SqlError::analysis(if shape == Shape::StreamTable {
            format!("Invalid join condition: stream-table joins require to join on the table's primary key. Got {on}.")
        } else {
            format!(
                "Invalid join condition: table-table joins require to join on the primary key of the right input \
                 table. Got {on}. The table {} must be joined on its PRIMARY KEY.",
                right.name
            )
        }));
    }
    let left_is_key = left.is_key(&left_expr);
    // A table joined on a non-key column of the left table: a foreign-key join (INNER or LEFT),
    // keyed by the left table's primary key.
    let foreign_key = shape == Shape::TableTable && !left_is_key;
    // ksqlDB plans a foreign-key join only as the first join of a chain.
    if foreign_key && left.sources.len() > 1 {
        return Err(SqlError::analysis(format!(
            "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got {}.",
            on_text(&join.on, &left.scope, &right_scope)
        )));
    }
    if foreign_key && !matches!(join.kind, JoinKind::Inner | JoinKind::Left) {
        return Err(SqlError::analysis(format!(
            "{} JOIN on a foreign key is not supported: foreign-key table-table joins support only INNER and LEFT \
             joins. Got {left_name} {} {}.",
            join.kind.name(),
            written(join.kind),
            right.name
        )));
    }
    let hidden_key = |scope: &Scope| -> Result<Option<Compiled>> {
        match left.hidden {
            Some((k, _)) => {
                let col = &scope.columns[k];
                Ok(Some(compile(&column_expr(col.qualifier.as_deref(), &col.name), scope)?))
            }
            None => Ok(None),
        }
    };
    // The left side is a single table here (a foreign-key join later in a chain was refused).
    let left_pk = if foreign_key {
        let (lq, source) = &left.sources[0];
        // A compound primary key identifies a left row by all its columns together.
        let pk = match source.key_columns.as_slice() {
            [] => return Err(SqlError::analysis("the left table has no PRIMARY KEY")),
            [one] => column_expr(Some(lq), &one.name),
            several => Expr::Struct(several.iter().map(|c| (c.name.clone(), column_expr(Some(lq), &c.name))).collect()),
        };
        Some(compile(&pk, &left.scope)?)
    } else {
        None
    };
    // An intermediate result is probed through its key column when the join expression is its key:
    // that column is set even in tombstones and in rows an outer join padded with nulls.
    let left_key = match (left_is_key, hidden_key(&left.scope)?) {
        (true, Some(k)) => k,
        _ => left_key,
    };
    let mut scope = left.scope.clone();
    scope.columns.extend(right_scope.columns);
    // ksqlDB's synthetic key column `ROWKEY`: the join key, whichever side has it.
    let synthetic_key = true;
    let synthetic_name = synthetic_key_name(&scope);
    scope.columns.push(crate::expr::ScopeColumn { qualifier: None, name: synthetic_name, ty: left_key.ty.clone() });
    let full_outer = join.kind == JoinKind::FullOuter;
    let key_set = if left_pk.is_some() {
        match left.sources.as_slice() {
            // A foreign-key join is keyed by the left table's primary key, every column of it.
            [(lq, source)] if left.key_set.is_empty() => {
                source.key_columns.iter().map(|c| column_expr(Some(lq), &c.name)).collect()
            }
            _ => left.key_set.clone(),
        }
    } else if full_outer {
        Vec::new()
    } else {
        let mut set: Vec<Expr> = if left_is_key { left.key_set.clone() } else { Vec::new() };
        for e in [&left_expr, &right_expr] {
            let text = canonical(e, &scope);
            if !set.iter().any(|k| canonical(k, &scope) == text) {
                set.push(e.clone());
            }
        }
        set
    };
    let shape = if foreign_key { Shape::ForeignKey } else { shape };
    let key_type = left_pk.as_ref().map_or_else(|| left_key.ty.clone(), |pk| pk.ty.clone());
    // Windowed streams meet on their windowed keys: the same key in the same window.
    let window_key = match (shape, left.sources.as_slice(), right.window) {
        (Shape::StreamStream(_), [(lq, l)], Some(w)) if l.window.is_some() => {
            let names: &[&str] = if w.kind == WindowType::Session { &[WINDOWSTART, WINDOWEND] } else { &[WINDOWSTART] };
            let bounds = |scope: &Scope, q: &str| -> Result<Vec<usize>> {
                names.iter().map(|n| scope.resolve(Some(q), n)).collect()
            };
            // The right row's columns follow the left row's in the joined scope, but each side's
            // key is read from its own row.
            Some([bounds(&left.scope, lq)?, bounds(&right.scope(rq), rq)?])
        }
        _ => None,
    };
    let window_bounds = match (&window_key, left.sources.as_slice()) {
        (Some(_), [(lq, _)]) => {
            let both = |scope: &Scope, q: &str| -> Result<(usize, usize)> {
                Ok((scope.resolve(Some(q), WINDOWSTART)?, scope.resolve(Some(q), WINDOWEND)?))
            };
            Some([both(&left.scope, lq)?, both(&right.scope(rq), rq)?])
        }
        _ => None,
    };
    Ok(Stage {
        shape,
        kind: join.kind,
        left_key,
        right_key,
        left_expr,
        right_expr,
        left_pk,
        scope,
        synthetic_key,
        full_outer,
        key_set,
        key_type,
        right_width: right.row_width(),
        right_rowtime: right.rowtime_index(),
        window_key,
        window_bounds,
    })
}

impl Stage {
    fn step(&self, rq: &str, right: &SourceDef) -> [String; 2] {
        let shape_text = match self.shape {
            Shape::StreamTable => "STREAM-TABLE".to_string(),
            Shape::TableTable => "TABLE-TABLE".to_string(),
            Shape::ForeignKey => "TABLE-TABLE FOREIGN KEY".to_string(),
            Shape::StreamStream(w) => format!(
                "STREAM-STREAM WITHIN ({} ms, {} ms){}",
                w.before,
                w.after,
                w.grace.map(|g| format!(" GRACE {g} ms")).unwrap_or_default()
            ),
        };
        [
            format!("SOURCE {} {} AS {rq} (topic: {})", right.kind.name(), right.name, right.topic),
            format!("{} JOIN {shape_text} ON {} = {}", self.kind.name(), self.left_expr, self.right_expr),
        ]
    }

    fn result_kind(&self) -> Kind {
        if matches!(self.shape, Shape::TableTable | Shape::ForeignKey) {
            Kind::Table
        } else {
            Kind::Stream
        }
    }

    /// The running join of this stage, fed by `left.inner` (if any).
    fn into_op(
        self,
        left: &mut LeftSide,
        items: Vec<Compiled>,
        key_items: Vec<bool>,
        filter: Option<Compiled>,
        append_key: bool,
    ) -> JoinOp {
        let sides = if self.shape == Shape::StreamTable {
            vec![TableSide {
                kind: self.kind,
                probe: self.left_key.clone(),
                own_key: self.right_key.clone(),
                key_type: self.left_key.ty.clone(),
                width: self.right_width,
                rows: HashMap::default(),
            }]
        } else {
            Vec::new()
        };
        JoinOp {
            shape: self.shape,
            kind: self.kind,
            key_type: self.left_key.ty.clone(),
            left_key: self.left_key,
            right_key: self.right_key,
            left_width: left.width,
            right_width: self.right_width,
            left_rowtime: left.rowtime,
            right_rowtime: self.right_rowtime,
            filter,
            items,
            key_items,
            left_table: HashMap::new(),
            right_table: HashMap::new(),
            left_buf: HashMap::new(),
            right_buf: HashMap::new(),
            pending: BTreeMap::new(),
            side_time: [i64::MIN / 2; 2],
            next_id: 0,
            stream_time: i64::MIN / 2,
            joined: Vec::new(),
            probe_key: Vec::new(),
            sides,
            synthetic_key: self.synthetic_key,
            left_pk: self.left_pk,
            fk_index: HashMap::new(),
            inner: left.inner.take(),
            append_key,
            window_bounds: self.window_key.as_ref().and(self.window_bounds),
            window_key: self.window_key,
        }
    }
}

/// Plans a query with joins: `a JOIN b ON ...` and chains of them (ksqlDB's n-way joins), each
/// join's left side being the result of the joins before it.
///
/// Which combinations are allowed, and the key of each result, follow ksqlDB: stream-stream joins
/// need `WITHIN`; a table is joined on its primary key (or, table-table, on a column of the left
/// table: a foreign-key join); a result is keyed by its join expression, and the expressions the
/// join made equal to it (`a.x = b.x` makes `a.x` and `b.x` the key, and a later join on `a.x`
/// keeps both), or by the synthetic `ROWKEY` for full outer joins. The result of a join feeding
/// another carries every column of the sources joined so far plus hidden key and timestamp
/// columns; `WHERE` and the projection run after the last join.
pub fn plan_join(
    query: &Query,
    lookup: &dyn Fn(&str) -> Result<SourceDef>,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let first = lookup(&query.from.name)?;
    let joined: Vec<SourceDef> = query.joins.iter().map(|j| lookup(&j.source.name)).collect::<Result<_>>()?;
    check_join_sources(query, &first, &joined)?;
    for join in &query.joins {
        check_join_sides(&join.on)?;
    }
    let mut before = vec![(query.from.qualifier().to_string(), first.clone())];
    for (join, right) in query.joins.iter().zip(&joined) {
        let rq = join.source.qualifier().to_string();
        check_join_references(&join.on, &before, &rq, right)?;
        before.push((rq, right.clone()));
    }
    if let ([join], [table]) = (query.joins.as_slice(), joined.as_slice()) {
        if first.kind == Kind::Stream && table.kind == Kind::Table && join.within.is_none() {
            return plan_stream_tables(query, first, joined, purpose, sink_name);
        }
    }
    let mut left = LeftSide::source(query.from.qualifier().to_string(), first);
    let last = query.joins.len() - 1;
    for (k, (join, right)) in query.joins.iter().zip(joined).enumerate() {
        let rq = join.source.qualifier().to_string();
        let stage = plan_stage(&left, join, &rq, &right)?;
        left.steps.extend(stage.step(&rq, &right));
        if k == last {
            return finish_join(query, left, stage, rq, right, purpose, sink_name);
        }
        if stage.left_pk.as_ref().is_some_and(|pk| matches!(pk.ty, SqlType::Struct(_))) {
            return Err(SqlError::Unsupported(
                "a foreign-key join on a compound primary key followed by further joins".into(),
            ));
        }
        left = intermediate(left, stage, rq, right, k);
    }
    Err(SqlError::analysis("a join needs at least one JOIN clause"))
}

/// The result of a join that feeds another: every column of the sources so far, then its key
/// and timestamp as hidden columns.
fn intermediate(mut left: LeftSide, stage: Stage, rq: String, right: SourceDef, k: usize) -> LeftSide {
    let width = left.scope.columns.len() + right.row_width();
    // Every column but the stage's own synthetic ROWKEY: the next joins see their own.
    let items: Vec<Compiled> =
        stage.scope.columns[..width].iter().enumerate().map(|(i, c)| Compiled::column(i, c.ty.clone())).collect();
    let mut scope = Scope { columns: stage.scope.columns[..width].to_vec() };
    scope.columns.push(crate::expr::ScopeColumn {
        qualifier: Some(HIDDEN_QUALIFIER.into()),
        name: format!("KEY_{k}"),
        ty: stage.key_type.clone(),
    });
    scope.columns.push(crate::expr::ScopeColumn {
        qualifier: Some(HIDDEN_QUALIFIER.into()),
        name: format!("ROWTIME_{k}"),
        ty: SqlType::Bigint,
    });
    let kind = stage.result_kind();
    let key_set = stage.key_set.clone();
    let key_items = vec![false; items.len()];
    let op = stage.into_op(&mut left, items, key_items, None, true);
    let mut sources = std::mem::take(&mut left.sources);
    sources.push((rq, right));
    LeftSide {
        sources,
        kind,
        key_set,
        hidden: Some((width, width + 1)),
        rowtime: width + 1,
        width: width + 2,
        inner: Some(Box::new(op)),
        steps: std::mem::take(&mut left.steps),
        scope,
    }
}

/// The last join of a query: `WHERE`, the projection and the result's key.
fn finish_join(
    query: &Query,
    mut left: LeftSide,
    stage: Stage,
    rq: String,
    right: SourceDef,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let scope = stage.scope.clone();
    let filter = match &query.filter {
        Some(f) => {
            let c = compile_where(f, &scope).map_err(|e| joined_names_in(e, &scope))?;
            left.steps.push(format!("FILTER {f}"));
            Some(c)
        }
        None => None,
    };
    let mut sources = left.sources.clone();
    sources.push((rq.clone(), right.clone()));
    let full_outer = stage.full_outer;
    let synthetic = scope.columns.last().filter(|_| stage.synthetic_key).map(|c| c.name.clone());
    let synthetic = synthetic.unwrap_or_else(|| SYNTHETIC_KEY.to_string());
    let named: Vec<(&str, &SourceDef)> = sources.iter().map(|(q, s)| (q.as_str(), s)).collect();
    // A full outer join, or one whose join expressions are no columns (`ON A.S->F = B.T->G`), is
    // keyed by the synthetic ROWKEY, which `*` includes (ksqlDB).
    let synthetic_keyed =
        full_outer || (stage.left_pk.is_none() && !stage.key_set.iter().any(|e| matches!(e, Expr::Column { .. })));
    let star = |q: Option<&str>| -> Result<Vec<NamedItem>> {
        let mut out = Vec::new();
        if synthetic_keyed && q.is_none() {
            out.push(NamedItem {
                name: synthetic.clone(),
                expr: column_expr(None, &synthetic),
                from_star: false,
                aliased: false,
            });
        }
        if query.partition_by.is_empty() {
            out.extend(joined_star(&named, q)?);
            return Ok(out);
        }
        // Re-partitioned, ksqlDB's `*` over a join also has each source's pseudo-columns
        // (`L_ROWTIME`, `L_ROWPARTITION`, `L_ROWOFFSET`), as partition-by.json expects.
        if let Some(q) = q {
            // Refuses an unknown qualifier as the plain expansion does.
            joined_star(&named, Some(q))?;
        }
        for (sq, _) in named.iter().filter(|(sq, _)| q.is_none_or(|q| q == *sq)) {
            out.extend(joined_star(&named, Some(sq))?);
            out.extend([ROWTIME, ROWPARTITION, ROWOFFSET].into_iter().map(|name| NamedItem {
                name: format!("{sq}_{name}"),
                expr: column_expr(Some(sq), name),
                from_star: false,
                aliased: false,
            }));
        }
        Ok(out)
    };
    let mut items = expand_select(&query.select, &star)?;
    crate::plan::disambiguate_join_names(&mut items, &named);
    check_output_names(&items, purpose)?;
    // The key is any column the result's key expressions name, or the synthetic ROWKEY; a full
    // outer join is keyed by ROWKEY only, a foreign-key join by the left primary key.
    let key_columns: Vec<&Expr> = stage.key_set.iter().filter(|e| matches!(e, Expr::Column { .. })).collect();
    let column_targets: Vec<usize> = key_columns
        .iter()
        .filter_map(|e| match e {
            Expr::Column { qualifier, name, .. } => scope.resolve(qualifier.as_deref(), name).ok(),
            _ => None,
        })
        .collect();
    let synthetic_index = stage.synthetic_key.then(|| scope.columns.len() - 1);
    let foreign_key = stage.left_pk.is_some();
    // PARTITION BY re-keys the joined stream by a column of the joined row.
    let partition_target = match query.partition_by.as_slice() {
        [] => None,
        [p] if stage.result_kind() == Kind::Stream => match compile(p, &scope)?.as_column() {
            Some(i) => Some(i),
            None => return Err(SqlError::Unsupported("PARTITION BY an expression of a join's columns".into())),
        },
        [_] => {
            return Err(SqlError::analysis(
                "PARTITION BY is only supported on streams: tables are keyed by their PRIMARY KEY",
            ))
        }
        _ => return Err(SqlError::Unsupported("PARTITION BY several expressions of a join".into())),
    };
    let key_targets: Vec<usize> = if let Some(p) = partition_target {
        vec![p]
    } else if foreign_key {
        column_targets.clone()
    } else if full_outer {
        synthetic_index.into_iter().collect()
    } else {
        column_targets.iter().copied().chain(synthetic_index).collect()
    };
    let mut compiled = Vec::new();
    let mut columns = Vec::new();
    // The first projected key column is the key; another column equal to the key (`b.x` next to
    // `a.x` after `ON a.x = b.x`) is a value column, but the same column twice is refused.
    let mut key_found: Option<(String, bool, Option<usize>)> = None;
    let compiled_items =
        items.iter().map(|i| crate::plan::compile_select(&i.expr, &scope)).collect::<Result<Vec<_>>>()?;
    // A foreign-key join on a compound primary key is keyed by every one of its columns.
    let compound = foreign_key && key_targets.len() > 1;
    let mut compound_seen: Vec<usize> = Vec::new();
    // Of several projected key-equivalent columns, the key is the one of the earliest key
    // expression (the FROM source's before the joined one's), as ksqlDB picks it (joins.json
    // "inner join with stars and duplicates"; `SELECT t.*, tt.* FROM tt JOIN t ON t.id = tt.id` is
    // keyed by `TT_ID`); the others stay value columns.
    let preferred = key_targets.iter().copied().find(|t| compiled_items.iter().any(|c| c.as_column() == Some(*t)));
    for (item, c) in items.iter().zip(compiled_items) {
        let is_join_column = match c.as_column() {
            Some(i) if compound => key_targets.contains(&i),
            Some(i) => Some(i) == preferred,
            None => false,
        };
        let is_key = match (&key_found, is_join_column) {
            _ if compound => match c.as_column() {
                Some(i) if is_join_column && !compound_seen.contains(&i) => {
                    compound_seen.push(i);
                    true
                }
                _ => false,
            },
            (None, true) => {
                key_found = Some((item.name.clone(), item.from_star, c.as_column()));
                true
            }
            (Some((first, false, index)), true)
                if purpose.persistent() && !item.from_star && *index == c.as_column() =>
            {
                let mut names = [first.clone(), item.name.clone()];
                names.sort();
                // ksqlDB names the key column by its source: `SOURCE_COLUMN`.
                let key = c.as_column().and_then(|i| scope.columns.get(i)).map_or_else(
                    || first.clone(),
                    |col| match &col.qualifier {
                        Some(q) => format!("{q}_{}", col.name),
                        None => col.name.clone(),
                    },
                );
                return Err(SqlError::analysis(format!(
                    "The projection contains a key column (`{key}`) more than once, aliased as: {} and {}.",
                    names[0], names[1]
                )));
            }
            _ => false,
        };
        columns.push(OutputColumn { name: item.name.clone(), ty: c.ty.clone(), is_key });
        compiled.push(c);
    }
    let missing_key = if compound { compound_seen.len() < key_targets.len() } else { key_found.is_none() };
    if purpose.persistent() && missing_key {
        let sink = sink_name.unwrap_or("the sink");
        if let [p] = query.partition_by.as_slice() {
            let keys = [qualified_text(p, &scope)];
            return Err(crate::plan::key_missing(sink, "partitioning expression", &keys, true, false));
        }
        let names: Vec<String> = key_columns.iter().map(|e| qualified_text(e, &scope)).collect();
        return Err(match names.as_slice() {
            [_, ..] if foreign_key => {
                let (_, left_source) = &sources[0];
                let missing: Vec<String> = key_columns
                    .iter()
                    .zip(&column_targets)
                    .filter(|(_, i)| !compound_seen.contains(i))
                    .filter_map(|(e, _)| match e {
                        Expr::Column { name, .. } => Some(format!("`{name}`")),
                        _ => None,
                    })
                    .collect();
                let s = if missing.len() == 1 { "" } else { "s" };
                SqlError::analysis(format!(
                    "Primary key column{s} missing in projection. For foreign-key table-table joins, the projection \
                     must include all primary key columns from the left input table (`{}`). Missing column{s}: {}.",
                    left_source.name,
                    missing.join(", ")
                ))
            }
            [] => crate::plan::key_missing(sink, "join expression", std::slice::from_ref(&synthetic), false, true),
            _ if full_outer => {
                crate::plan::key_missing(sink, "join expression", std::slice::from_ref(&synthetic), false, true)
            }
            _ => crate::plan::key_missing(sink, "join expression", &names, false, false),
        });
    }
    let kind_out = stage.result_kind();
    let proj: Vec<String> = items
        .iter()
        .zip(&columns)
        .map(|(i, c)| format!("{} AS {}{}", i.expr, i.name, if c.is_key { " KEY" } else { "" }))
        .collect();
    left.steps.push(format!("PROJECT {}", proj.join(", ")));
    let key_items = columns.iter().map(|c| c.is_key).collect();
    // A join of windowed streams is windowed as its left source is.
    let window = if stage.window_key.is_some() { sources[0].1.window } else { None };
    let op = stage.into_op(&mut left, compiled, key_items, filter, false);
    Ok(PlannedQuery {
        inputs: sources.into_iter().map(|(_, s)| s).collect(),
        operator: Operator::Join(Box::new(op)),
        columns,
        kind: kind_out,
        window,
        limit: query.limit,
        plan: Plan { steps: left.steps },
        key_from_source: false,
    })
}
