//! Joins of two sources: stream-table, table-table and stream-stream (`WITHIN`).
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
//! State is rebuilt after a restart from the inputs themselves: table sides by re-reading the table
//! topics up to the committed positions, stream-stream buffers by replaying (without output) the
//! input records of the last `before + after + grace` before the committed positions.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::ast::{BinaryOp, Expr, JoinKind, Query, SelectItem, Within};
use crate::error::{Result, SqlError};
use crate::expr::{compile, Compiled, Scope};
use crate::format::write_json;
use crate::metastore::{Decoded, Kind, SourceDef};
use crate::plan::{
    check_output_names, column_expr, expand_select, NamedItem, Operator, OutputColumn, Plan, PlannedQuery, Purpose,
};
use crate::runtime::{Change, Origin, RowSink};
use crate::types::{SqlType, Value};

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
    /// Stream-table joins: the tables, in join order (input `i + 1` is `sides[i]`).
    sides: Vec<TableSide>,
    /// The joined row ends with the synthetic `ROWKEY` column.
    synthetic_key: bool,
    /// Foreign-key joins: the left table's primary key, and the left keys referring to each right key.
    left_pk: Option<Compiled>,
    fk_index: HashMap<Vec<u8>, std::collections::BTreeSet<Vec<u8>>>,
}

/// The name of ksqlDB's synthetic join key column.
pub const SYNTHETIC_KEY: &str = "ROWKEY";

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
    rows: HashMap<Vec<u8>, Vec<Value>>,
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
        self.items
            .iter()
            .zip(&self.key_items)
            .map(|(c, is_key)| {
                let v = c.eval(joined);
                if *is_key && v.is_null() {
                    Cow::Owned(key.clone())
                } else {
                    v
                }
            })
            .collect()
    }

    fn key_bytes(&self, v: &Value) -> Vec<u8> {
        let mut buf = Vec::with_capacity(16);
        write_json(&mut buf, v, &self.key_type);
        buf
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
        let pass = !tombstone && self.filter.as_ref().is_none_or(|f| f.test(&joined));
        let result = if pass || matches!(self.shape, Shape::TableTable | Shape::ForeignKey) {
            // The key column takes the join key even when its side is missing (outer joins).
            let cols = self.project(&joined, key);
            sink.emit(Change { cols: &cols, tombstone: !pass, timestamp: ts, window: None }, origin)
        } else {
            Ok(())
        };
        self.joined = joined;
        result
    }

    /// Folds a table record into the join state without emitting (restoring after a restart).
    pub fn load_table(&mut self, input: usize, row: &[Value], decoded: Decoded) {
        if let (Shape::ForeignKey, 0, Some(pk_expr)) = (self.shape, input, &self.left_pk) {
            let pk = pk_expr.eval(row).into_owned();
            if pk.is_null() {
                return;
            }
            let pkb = key_bytes_of(&pk, &SqlType::Null);
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
    /// rebuilds the buffers by replaying that much input.
    pub fn replay_span(&self) -> Option<i64> {
        match self.shape {
            Shape::StreamStream(w) => Some(w.before + w.after + w.grace.unwrap_or(crate::aggregate::DEFAULT_GRACE_MS)),
            _ => None,
        }
    }

    /// Whether input `input` is a table side (state rebuilt from its topic).
    pub fn is_table_input(&self, input: usize) -> bool {
        match self.shape {
            Shape::StreamTable => input >= 1,
            Shape::TableTable | Shape::ForeignKey => true,
            Shape::StreamStream(_) => false,
        }
    }

    pub fn process(
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
                    self.load_table(input, row, decoded);
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
                for (i, side) in self.sides.iter().enumerate() {
                    let key = side.probe.eval(&joined).into_owned();
                    let found = if key.is_null() { None } else { side.rows.get(&key_bytes_of(&key, &side.key_type)) };
                    if i == 0 {
                        first_key = key;
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
                self.load_table(input, row, decoded);
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
                    Some(true) => self.emit(l.as_deref(), r.as_deref(), out_ts, &key, false, origin, sink),
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
            let kb = self.key_bytes(&key);
            let others: Vec<(u64, i64, Vec<Value>)> = {
                let other = if input == 0 { &self.right_buf } else { &self.left_buf };
                other
                    .get(&kb)
                    .map(|list| {
                        list.iter()
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
            if others.is_empty() && outer_side {
                if within.grace.is_none() {
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
        self.load_table(input, row, decoded);
        if input == 0 {
            let pk = pk_expr.eval(row).into_owned();
            if pk.is_null() {
                return Ok(());
            }
            if decoded == Decoded::Tombstone {
                return self.emit(None, None, ts, &pk, true, origin, sink);
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
                (None, _) => self.emit(None, None, ts, &pk, true, origin, sink),
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
                (Decoded::Tombstone, _) => self.emit(None, None, out_ts, &pk, true, origin, sink)?,
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

/// `ON a = b`: the left and right join expressions.
fn split_on(on: &Expr, left: &Scope, right: &Scope) -> Result<(Compiled, Compiled, Expr, Expr)> {
    let Expr::Binary { op: BinaryOp::Eq, left: a, right: b } = on else {
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
                "Invalid join type: {kind} join not supported for stream-table join. Got {} {} JOIN {}.",
                stream.name,
                join.kind.name(),
                table.name
            )));
        }
        let table_scope = table.scope(&q);
        let (probe, own_key, probe_expr, own_expr) = split_on(&join.on, &scope, &table_scope)?;
        if probe.ty != own_key.ty {
            return Err(SqlError::analysis(format!(
                "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
                probe_expr, probe.ty, own_expr, own_key.ty
            )));
        }
        if !is_primary_key(&own_expr, table) {
            return Err(SqlError::analysis(format!(
                "Invalid join condition: stream-table joins require to join on the table's primary key. Got {} = {}.",
                probe_expr, own_expr
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
            rows: HashMap::new(),
        });
        scope.columns.extend(table_scope.columns);
        qualifiers.push(q);
    }
    let synthetic_key = !scope.columns.iter().any(|c| c.name == SYNTHETIC_KEY);
    if synthetic_key {
        let ty = sides[0].key_type.clone();
        scope.columns.push(crate::expr::ScopeColumn { qualifier: None, name: SYNTHETIC_KEY.into(), ty });
    }
    let filter = match &query.filter {
        Some(f) => {
            let c = compile(f, &scope)?;
            if !matches!(c.ty, SqlType::Boolean | SqlType::Null) {
                return Err(SqlError::analysis(format!("WHERE clause must be a BOOLEAN expression, found {}", c.ty)));
            }
            steps.push(format!("FILTER {f}"));
            Some(c)
        }
        None => None,
    };
    let mut all = vec![stream.clone()];
    all.extend(tables.iter().cloned());
    let (all2, quals2) = (all.clone(), qualifiers.clone());
    let star = move |q: Option<&str>| -> Result<Vec<NamedItem>> {
        if let Some(q) = q {
            if !quals2.iter().any(|x| x == q) {
                return Err(SqlError::analysis(format!("unknown source '{q}' in '{q}.*'")));
            }
        }
        let mut out = Vec::new();
        for (src, qual) in all2.iter().zip(&quals2) {
            if q.is_some_and(|q| q != qual.as_str()) {
                continue;
            }
            for c in src.key_columns.iter().chain(&src.value_columns) {
                out.push(NamedItem {
                    name: format!("{qual}_{}", c.name),
                    expr: column_expr(Some(qual), &c.name),
                    from_star: false,
                    aliased: false,
                });
            }
        }
        Ok(out)
    };
    let mut items = expand_select(&query.select, &star)?;
    let named: Vec<(&str, &SourceDef)> = qualifiers.iter().map(String::as_str).zip(all.iter()).collect();
    crate::plan::disambiguate_join_names(&mut items, &named);
    check_output_names(&items, purpose)?;
    // The key is the first join's expression, named by any projected column it refers to.
    let key_targets: Vec<Option<usize>> = join_exprs[..2]
        .iter()
        .map(|e| match e {
            Expr::Column { qualifier, name, .. } => scope.resolve(qualifier.as_deref(), name).ok(),
            _ => None,
        })
        .chain(std::iter::once(synthetic_key.then(|| scope.columns.len() - 1)))
        .collect();
    let mut compiled = Vec::new();
    let mut columns = Vec::new();
    let mut key_found = false;
    for item in &items {
        let c = compile(&item.expr, &scope)?;
        let is_key = !key_found && c.as_column().is_some() && key_targets.contains(&c.as_column());
        key_found |= is_key;
        columns.push(OutputColumn { name: item.name.clone(), ty: c.ty.clone(), is_key });
        compiled.push(c);
    }
    if purpose == Purpose::Persistent && !key_found {
        return Err(SqlError::analysis(format!(
            "The query used to build `{}` must include the join expressions {} or {} in its projection (eg, SELECT {}...).",
            sink_name.unwrap_or("the sink"),
            join_exprs[0],
            join_exprs[1],
            join_exprs[0]
        )));
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
        sides,
        synthetic_key,
        left_pk: None,
        fk_index: HashMap::new(),
    };
    Ok(PlannedQuery {
        inputs: all,
        operator: Operator::Join(Box::new(op)),
        columns,
        kind: Kind::Stream,
        window: None,
        limit: query.limit,
        plan: Plan { steps },
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
    if joined.kind != Kind::Stream {
        return Err(SqlError::Unsupported("aggregating a table-table join".into()));
    }
    let Operator::Join(join_op) = joined.operator else {
        return Err(SqlError::analysis("expected a join"));
    };
    let rowtime = scope
        .resolve(Some(&sources[0].0), crate::metastore::ROWTIME)
        .map_err(|_| SqlError::analysis("the joined rows have no ROWTIME"))?;
    let input = crate::aggregate::AggInput {
        kind: Kind::Stream,
        rowtime,
        key_width: 0,
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

/// Plans a query with one JOIN.
pub fn plan_join(
    query: &Query,
    lookup: &dyn Fn(&str) -> Result<SourceDef>,
    purpose: Purpose,
    sink_name: Option<&str>,
) -> Result<PlannedQuery> {
    let first = lookup(&query.from.name)?;
    let joined: Vec<SourceDef> = query.joins.iter().map(|j| lookup(&j.source.name)).collect::<Result<_>>()?;
    for join in &query.joins {
        check_join_sides(&join.on)?;
    }
    if first.kind == Kind::Stream
        && joined.iter().all(|s| s.kind == Kind::Table)
        && query.joins.iter().all(|j| j.within.is_none())
    {
        return plan_stream_tables(query, first, joined, purpose, sink_name);
    }
    if query.joins.len() > 1 {
        return Err(SqlError::Unsupported(
            "joins of more than two sources, except a stream joined with several tables".into(),
        ));
    }
    let join = &query.joins[0];
    let left = lookup(&query.from.name)?;
    let right = lookup(&join.source.name)?;
    let (lq, rq) = (query.from.qualifier().to_string(), join.source.qualifier().to_string());
    if lq == rq {
        return Err(SqlError::analysis(format!("both sides of the join are called {lq}: give them different aliases")));
    }
    let shape = match (left.kind, right.kind, join.within) {
        (Kind::Stream, Kind::Stream, Some(w)) => Shape::StreamStream(w),
        (Kind::Stream, Kind::Stream, None) => {
            return Err(SqlError::analysis(
                "Stream-Stream joins must have a WITHIN clause specified. None was provided.",
            ))
        }
        (_, _, Some(_)) => return Err(SqlError::analysis("A WITHIN clause is only valid in a stream-stream join")),
        // Planned by `plan_stream_tables`.
        (Kind::Stream, Kind::Table, None) => return plan_stream_tables(query, left, vec![right], purpose, sink_name),
        (Kind::Table, Kind::Table, None) => Shape::TableTable,
        (Kind::Table, Kind::Stream, None) => {
            return Err(SqlError::analysis(format!(
                "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {} {} JOIN {}.",
                left.name,
                join.kind.name(),
                right.name
            )))
        }
    };
    let left_scope = left.scope(&lq);
    let right_scope = right.scope(&rq);
    let (left_key, right_key, left_expr, right_expr) = split_on(&join.on, &left_scope, &right_scope)?;
    if left_key.ty != right_key.ty {
        return Err(SqlError::analysis(format!(
            "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
            left_expr, left_key.ty, right_expr, right_key.ty
        )));
    }
    if right.kind == Kind::Table && !is_primary_key(&right_expr, &right) {
        return Err(SqlError::analysis(format!(
            "Invalid join condition: table-table joins require to join on the primary key of the right input table. \
             Got {left_expr} = {right_expr}. The table {} must be joined on its PRIMARY KEY.",
            right.name
        )));
    }
    // A table joined on a non-key column of the left table: a foreign-key join (INNER or LEFT).
    let foreign_key = shape == Shape::TableTable && !is_primary_key(&left_expr, &left);
    let shape = if foreign_key {
        if !matches!(join.kind, JoinKind::Inner | JoinKind::Left) {
            return Err(SqlError::analysis(format!(
                "Invalid join type: foreign-key table-table joins support only INNER and LEFT joins. Got {} {} JOIN {}.",
                left.name,
                join.kind.name(),
                right.name
            )));
        }
        Shape::ForeignKey
    } else {
        shape
    };
    let left_pk = if foreign_key {
        let pk = left.key_columns.first().ok_or_else(|| SqlError::analysis("the left table has no PRIMARY KEY"))?;
        Some(compile(&column_expr(Some(&lq), &pk.name), &left_scope)?)
    } else {
        None
    };
    if left.kind == Kind::Table && !foreign_key && !is_primary_key(&left_expr, &left) {
        return Err(SqlError::analysis(format!(
            "Invalid join condition: table-table joins require to join on the primary key of the left input table. \
             Got {left_expr} = {right_expr}. The table {} must be joined on its PRIMARY KEY.",
            left.name
        )));
    }
    let mut scope = left_scope.clone();
    scope.columns.extend(right_scope.columns.iter().cloned());
    // ksqlDB's synthetic key column `ROWKEY`: the join key, whichever side has it.
    let synthetic_key = !scope.columns.iter().any(|c| c.name == SYNTHETIC_KEY);
    if synthetic_key {
        scope.columns.push(crate::expr::ScopeColumn {
            qualifier: None,
            name: SYNTHETIC_KEY.into(),
            ty: left_key.ty.clone(),
        });
    }
    let filter = match &query.filter {
        Some(f) => {
            let c = compile(f, &scope)?;
            if !matches!(c.ty, SqlType::Boolean | SqlType::Null) {
                return Err(SqlError::analysis(format!("WHERE clause must be a BOOLEAN expression, found {}", c.ty)));
            }
            Some(c)
        }
        None => None,
    };
    let (l2, r2, lq2, rq2) = (left.clone(), right.clone(), lq.clone(), rq.clone());
    let full_outer = join.kind == JoinKind::FullOuter && synthetic_key;
    let star = move |q: Option<&str>| -> Result<Vec<NamedItem>> {
        let mut out = Vec::new();
        // A full outer join is keyed by the synthetic ROWKEY, which `*` includes (ksqlDB).
        if full_outer && q.is_none() {
            out.push(NamedItem {
                name: SYNTHETIC_KEY.to_string(),
                expr: column_expr(None, SYNTHETIC_KEY),
                from_star: false,
                aliased: false,
            });
        }
        for (src, qual) in [(&l2, &lq2), (&r2, &rq2)] {
            if q.is_some_and(|q| q != qual.as_str()) {
                continue;
            }
            for c in src.key_columns.iter().chain(&src.value_columns) {
                out.push(NamedItem {
                    name: format!("{qual}_{}", c.name),
                    expr: column_expr(Some(qual), &c.name),
                    from_star: false,
                    aliased: false,
                });
            }
        }
        if let Some(q) = q {
            if q != lq2 && q != rq2 {
                return Err(SqlError::analysis(format!("unknown source '{q}' in '{q}.*'")));
            }
        }
        Ok(out)
    };
    let mut items = expand_select(&query.select, &star)?;
    crate::plan::disambiguate_join_names(&mut items, &[(lq.as_str(), &left), (rq.as_str(), &right)]);
    check_output_names(&items, purpose)?;
    // The key is the join expression of either side (or the synthetic ROWKEY), as a bare column; a
    // full outer join is keyed by ROWKEY only, since either side may be missing.
    let column_targets: Vec<usize> = [&left_expr, &right_expr]
        .iter()
        .filter_map(|e| match e {
            Expr::Column { qualifier, name, .. } => scope.resolve(qualifier.as_deref(), name).ok(),
            _ => None,
        })
        .collect();
    let synthetic_index = synthetic_key.then(|| scope.columns.len() - 1);
    let left_pk_index = match (&left_pk, left.key_columns.first()) {
        (Some(_), Some(pk)) => scope.resolve(Some(&lq), &pk.name).ok(),
        _ => None,
    };
    let key_targets: Vec<usize> = if let Some(i) = left_pk_index {
        vec![i]
    } else if full_outer {
        synthetic_index.into_iter().collect()
    } else {
        column_targets.iter().copied().chain(synthetic_index).collect()
    };
    let mut compiled = Vec::new();
    let mut columns = Vec::new();
    let mut key_found: Option<(String, bool)> = None;
    for item in &items {
        let c = compile(&item.expr, &scope)?;
        let is_join_column = c.as_column().is_some_and(|i| key_targets.contains(&i));
        let is_key = match (&key_found, is_join_column) {
            (None, true) => {
                key_found = Some((item.name.clone(), item.from_star));
                true
            }
            (Some((first, false)), true) if purpose == Purpose::Persistent && !item.from_star => {
                let mut names = [first.clone(), item.name.clone()];
                names.sort();
                return Err(SqlError::analysis(format!(
                    "The projection contains a key column (`{first}`) more than once, aliased as: {} and {}.",
                    names[0], names[1]
                )));
            }
            _ => false,
        };
        columns.push(OutputColumn { name: item.name.clone(), ty: c.ty.clone(), is_key });
        compiled.push(c);
    }
    if purpose == Purpose::Persistent && key_found.is_none() {
        let sink = sink_name.unwrap_or("the sink");
        return Err(SqlError::analysis(if let (Some(_), Some(pk)) = (left_pk_index, left.key_columns.first()) {
            format!(
                "The query used to build `{sink}` must include the primary key {lq}.{} of the left table in its \
                 projection (eg, SELECT {lq}.{}...).",
                pk.name, pk.name
            )
        } else if full_outer || column_targets.is_empty() {
            format!(
                "The query used to build `{sink}` must include the join expression ROWKEY in its projection (eg, SELECT \
                 ROWKEY...).\nROWKEY was added as a synthetic key column because the join criteria did not match any \
                 source column."
            )
        } else if column_targets.len() == 1 {
            let e = if matches!(left_expr, Expr::Column { .. }) { &left_expr } else { &right_expr };
            format!("The query used to build `{sink}` must include the join expression {e} in its projection (eg, SELECT {e}...).")
        } else {
            format!(
                "The query used to build `{sink}` must include the join expressions {left_expr} or {right_expr} in its \
                 projection (eg, SELECT {left_expr}...)."
            )
        }));
    }
    let kind_out = if matches!(shape, Shape::TableTable | Shape::ForeignKey) { Kind::Table } else { Kind::Stream };
    let mut steps = vec![
        format!("SOURCE {} {} AS {lq} (topic: {})", left.kind.name(), left.name, left.topic),
        format!("SOURCE {} {} AS {rq} (topic: {})", right.kind.name(), right.name, right.topic),
    ];
    let shape_text = match shape {
        Shape::StreamTable => "STREAM-TABLE".to_string(),
        Shape::TableTable => "TABLE-TABLE".to_string(),
        Shape::ForeignKey => "TABLE-TABLE FOREIGN KEY".to_string(),
        Shape::StreamStream(w) => {
            format!(
                "STREAM-STREAM WITHIN ({} ms, {} ms){}",
                w.before,
                w.after,
                w.grace.map(|g| format!(" GRACE {g} ms")).unwrap_or_default()
            )
        }
    };
    steps.push(format!("{} JOIN {shape_text} ON {} = {}", join.kind.name(), left_expr, right_expr));
    if let Some(f) = &query.filter {
        steps.push(format!("FILTER {f}"));
    }
    let proj: Vec<String> = items
        .iter()
        .zip(&columns)
        .map(|(i, c)| format!("{} AS {}{}", i.expr, i.name, if c.is_key { " KEY" } else { "" }))
        .collect();
    steps.push(format!("PROJECT {}", proj.join(", ")));
    let op = JoinOp {
        shape,
        kind: join.kind,
        key_type: left_key.ty.clone(),
        left_key,
        right_key,
        left_width: left.row_width(),
        right_width: right.row_width(),
        left_rowtime: left.rowtime_index(),
        right_rowtime: right.rowtime_index(),
        filter,
        items: compiled,
        key_items: columns.iter().map(|c| c.is_key).collect(),
        left_table: HashMap::new(),
        right_table: HashMap::new(),
        left_buf: HashMap::new(),
        right_buf: HashMap::new(),
        pending: BTreeMap::new(),
        side_time: [i64::MIN / 2; 2],
        next_id: 0,
        stream_time: i64::MIN / 2,
        joined: Vec::new(),
        sides: Vec::new(),
        synthetic_key,
        left_pk,
        fk_index: HashMap::new(),
    };
    Ok(PlannedQuery {
        inputs: vec![left, right],
        operator: Operator::Join(Box::new(op)),
        columns,
        kind: kind_out,
        window: None,
        limit: query.limit,
        plan: Plan { steps },
    })
}
