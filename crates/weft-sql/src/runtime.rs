//! Running queries over the log: reading input partitions, driving an [`Operator`], writing the
//! output topic, and committing progress so a restarted query neither loses nor duplicates output.
//!
//! Exactly-once effect, without transactions:
//! 1. every output append carries, on its last record, a `weft.sql` header naming the query and the
//!    input record (input, partition, offset) that produced it;
//! 2. stateful operators write their changelog *after* the output and mark it the same way;
//! 3. input positions are committed last, as consumer-group offsets of the group `_weft_sql_<id>`,
//!    with the output and changelog end offsets at that moment as commit metadata.
//!
//! Each step only has to become durable *after* the one before it for the same batch: a changelog
//! durable before its output would make a restart skip input whose output was lost, a commit
//! before its changelog would lose state, but a late or lost commit only means a restart replays
//! from the one before. So a batch waits for one group commit, not three in a row: its output is
//! appended together with the previous batch's changelog (whose output is durable) and the commits
//! of the batch before that (whose changelog is durable); the changelog records are taken when the
//! batch ends, so they describe the state after it and no later input. These writes run on a thread
//! of their own while the query reads and processes the next batch; one write is in flight at a
//! time, in order, and the batches processed meanwhile queue behind it and go as one write (their
//! outputs and changelogs concatenated in order, the later positions), so the query waits for a
//! write only when several batches are queued. A write's failure is a later batch's (or
//! [`PersistentQuery::commit_pending`]'s); what was queued behind it is dropped, and the query is
//! reopened from the log. A query out of input finishes the pipeline
//! ([`PersistentQuery::commit_pending`]).
//!
//! Input records are read and output records written through the query's [`DataPath`] (the
//! platform's one read and write path, as the principal that started the query); the changelog,
//! the commits and the scan of the query's own output on restart use the log directly.
//!
//! On restart the query resumes from the committed input positions, reads the output written since
//! the commit to learn, per output partition, the last input offset already written, and drops
//! re-derived output up to it; stateful operators likewise skip input their restored changelog has
//! already applied. Processing is deterministic, so the replayed prefix is exactly what was written.
//!
//! Formats (all UTF-8):
//! - `weft.sql` header value: `<query id>|<input index>|<input partition>|<input offset>`, on the
//!   last record each input partition contributed to an append;
//! - commit metadata (consumer group `_weft_sql_<query id>`, one commit per input partition):
//!   `{"outputs": [<end offset of output partition 0>, ...], "changelog": <end offset or null>}`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

use weft_log::{partition_for, EventLog, Header, ReadLimits, Record};

use crate::access::{DataPath, Routed};
use crate::error::{Result, SqlError};
use crate::format::{KeyCodec, ValueCodec, WindowBounds};
use crate::metastore::{DecodeError, Decoded, Kind, SourceDef, SourceReader};
use crate::plan::{Operator, PlannedQuery, StatelessOp};
use crate::types::Value;

mod repartition;
mod worker;

pub use repartition::{repartition_topic, Repartitioner, SharedRebuild};

/// One running part of a persistent query, as the engine drives it: an instance of the query
/// ([`PersistentQuery`]) or the repartition stage of an aggregation ([`Repartitioner`]).
pub trait QueryTask: Send {
    /// Processes what input is available (up to `max_records` per partition); returns how many
    /// input records were consumed.
    fn poll(&mut self, max_records: usize) -> Result<usize>;
    /// Drains all available input.
    fn run_until_idle(&mut self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.poll(BATCH_RECORDS)?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
    /// Makes what was processed durable and committed.
    fn commit_pending(&mut self) -> Result<()>;
    /// Throws the in-memory state away and reopens the task from the log, as a restart would.
    fn recover(&mut self) -> Result<()>;
    /// The topics and partitions it reads, for waiting on new input.
    fn input_partitions(&self) -> Vec<(String, u32)>;
    fn stats(&self) -> &QueryStats;
    fn stats_mut(&mut self) -> &mut QueryStats;
    /// What it adds to its query's counters (records of the query's input read, records of its
    /// output written).
    fn query_stats(&self) -> QueryStats;
    /// The rows of the table an aggregation maintains that this task holds; `None` when the task
    /// cannot say (the table's topic is the answer then).
    fn table_snapshot(&self) -> Option<Vec<Row>>;
    /// Whether its state is open (restored) on this server.
    fn is_open(&self) -> bool {
        true
    }
}

/// Input records read per partition and batch: one output append and one commit per batch.
pub const BATCH_RECORDS: usize = 5000;

/// The header that marks output and changelog appends with their origin.
pub const ORIGIN_HEADER: &str = "weft.sql";

/// The input record a change derives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub input: u8,
    pub partition: u32,
    pub offset: u64,
}

/// One change of a query's result: columns in projection order.
pub struct Change<'a> {
    pub cols: &'a [Cow<'a, Value>],
    /// A deletion of the key (only key columns are meaningful).
    pub tombstone: bool,
    pub timestamp: i64,
    pub window: Option<WindowBounds>,
}

/// Evaluates `items` over `row` and hands the values to `f`, on the stack for the usual few
/// columns (no allocation per record).
pub(crate) fn with_evaluated<'a, R>(
    items: &'a [crate::expr::Compiled],
    row: &'a [Value],
    f: impl FnOnce(&[Cow<'a, Value>]) -> R,
) -> R {
    const STACK: usize = 8;
    const NULL: Cow<'static, Value> = Cow::Owned(Value::Null);
    if items.len() <= STACK {
        let mut cols: [Cow<'a, Value>; STACK] = [NULL; STACK];
        for (slot, c) in cols.iter_mut().zip(items) {
            *slot = c.eval(row);
        }
        f(&cols[..items.len()])
    } else {
        let cols: Vec<Cow<Value>> = items.iter().map(|c| c.eval(row)).collect();
        f(&cols)
    }
}

/// Receives a query's changes.
pub trait RowSink {
    fn emit(&mut self, change: Change<'_>, origin: Origin) -> Result<()>;
}

impl StatelessOp {
    pub fn process(&self, row: &[Value], decoded: Decoded, origin: Origin, sink: &mut dyn RowSink) -> Result<()> {
        let timestamp = row.get(self.rowtime).and_then(Value::as_i64).unwrap_or(0);
        let window = self.window_bounds.map(|(s, e)| WindowBounds {
            start: row.get(s).and_then(Value::as_i64).unwrap_or(0),
            end: row.get(e).and_then(Value::as_i64).unwrap_or(0),
        });
        let pass = decoded == Decoded::Row && self.filter.as_ref().is_none_or(|f| f.test(row));
        if !pass {
            // A table row that is deleted or no longer matches is deleted downstream. A stream record
            // with a null value passes through as one unless a WHERE clause drops it (ksqlDB).
            let forward = self.source_kind == Kind::Table || (decoded == Decoded::Tombstone && self.filter.is_none());
            if forward {
                let tombstone = decoded == Decoded::Tombstone;
                let cols: Vec<Cow<Value>> = (self.items.iter().zip(&self.tombstone_nulls))
                    .map(|(c, null)| if tombstone && *null { Cow::Owned(Value::Null) } else { c.eval(row) })
                    .collect();
                return sink.emit(Change { cols: &cols, tombstone: true, timestamp, window }, origin);
            }
            return Ok(());
        }
        if !self.table_fns.is_empty() {
            return self.explode(row, timestamp, window, origin, sink);
        }
        with_evaluated(&self.items, row, |cols| sink.emit(Change { cols, tombstone: false, timestamp, window }, origin))
    }

    /// One output row per array element (the longest array's length; shorter ones give NULL).
    fn explode(
        &self,
        row: &[Value],
        timestamp: i64,
        window: Option<WindowBounds>,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let arrays: Vec<Cow<Value>> = self.table_fns.iter().map(|c| c.eval(row)).collect();
        let len_of = |v: &Value| if let Value::Array(a) = v { a.len() } else { 0 };
        let n = arrays.iter().map(|a| len_of(a)).max().unwrap_or(0);
        let base = self.table_fn_base;
        let mut ext: Vec<Value> = row.iter().take(base).cloned().collect();
        ext.resize(base + arrays.len(), Value::Null);
        for i in 0..n {
            for (k, a) in arrays.iter().enumerate() {
                ext[base + k] = match a.as_ref() {
                    Value::Array(items) => items.get(i).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
            }
            let cols: Vec<Cow<Value>> = self.items.iter().map(|c| c.eval(&ext)).collect();
            sink.emit(Change { cols: &cols, tombstone: false, timestamp, window }, origin)?;
        }
        Ok(())
    }
}

impl Operator {
    /// The source-row columns of input `input` the operator reads (`None`: all of them).
    pub fn needed_columns(&self, input: usize, width: usize) -> Option<Vec<bool>> {
        let mut mask = vec![false; width];
        match self {
            Operator::Stateless(op) => {
                if let Some(f) = &op.filter {
                    f.mark_columns(&mut mask);
                }
                op.items.iter().for_each(|c| c.mark_columns(&mut mask));
                op.table_fns.iter().for_each(|c| c.mark_columns(&mut mask));
            }
            Operator::Aggregate(op) => op.mark_columns(&mut mask),
            Operator::Join(op) | Operator::JoinAggregate(op, _) if input == 0 => return op.needed_left_columns(width),
            Operator::Join(_) | Operator::JoinAggregate(..) => return None,
        }
        Some(mask)
    }

    /// Feeds one decoded input row.
    pub fn process(
        &mut self,
        input: usize,
        row: &[Value],
        decoded: Decoded,
        origin: Origin,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        match self {
            Operator::Stateless(op) => op.process(row, decoded, origin, sink),
            Operator::Aggregate(op) => op.process(row, decoded, origin, sink),
            Operator::Join(op) => op.process(input, row, decoded, origin, sink),
            Operator::JoinAggregate(join, aggregate) => {
                join.process(input, row, decoded, origin, &mut FeedAggregate { aggregate, sink })
            }
        }
    }

    /// The join of a join or join-then-aggregate query.
    pub fn join_mut(&mut self) -> Option<&mut crate::join::JoinOp> {
        match self {
            Operator::Join(op) | Operator::JoinAggregate(op, _) => Some(op),
            _ => None,
        }
    }

    /// The aggregation of an aggregate or join-then-aggregate query.
    pub fn aggregate_mut(&mut self) -> Option<&mut crate::aggregate::AggregateOp> {
        match self {
            Operator::Aggregate(op) | Operator::JoinAggregate(_, op) => Some(op),
            _ => None,
        }
    }
}

/// Feeds joined rows into an aggregation.
struct FeedAggregate<'a> {
    aggregate: &'a mut crate::aggregate::AggregateOp,
    sink: &'a mut dyn RowSink,
}

impl RowSink for FeedAggregate<'_> {
    fn emit(&mut self, change: Change<'_>, origin: Origin) -> Result<()> {
        // A tombstone (a table-table join's result going away) retracts the key's row; a stream
        // aggregation ignores it.
        let decoded = if change.tombstone { Decoded::Tombstone } else { Decoded::Row };
        let row: Vec<Value> = change.cols.iter().map(|c| c.clone().into_owned()).collect();
        self.aggregate.process(&row, decoded, origin, self.sink)
    }
}

impl Operator {}

/// Writes changes to a topic in the sink's formats.
pub struct TopicSink {
    log: Arc<dyn EventLog>,
    data: DataPath,
    pub topic: String,
    partitions: u32,
    key_codec: KeyCodec,
    value_codec: ValueCodec,
    key_idx: Vec<usize>,
    value_idx: Vec<usize>,
    /// The TIMESTAMP column giving each record's time, and the format of a text one.
    timestamp_idx: Option<(usize, Option<String>)>,
    query_id: String,
    /// Tables live in compacted topics, where a record without a key cannot be written.
    requires_key: bool,
    /// See [`PlannedQuery::key_from_source`].
    key_from_source: bool,
    /// Changes dropped because a table row had a null key, or its TIMESTAMP column no valid time.
    pub dropped: u64,
    pending: Vec<Vec<Record>>,
    /// Per output partition: the index in `pending` of the last record of each input partition.
    last_origin: Vec<Vec<(Origin, usize)>>,
    /// Per (input, partition): per output partition, the last input offset already written.
    written: WrittenOrigins,
    pub records_written: u64,
    /// The buffer size for the next encoded value (the last one's size, rounded up).
    value_capacity: usize,
}

/// Hands `f` the columns `idx` picks out of `cols`, on the stack for the usual few.
fn with_picked<'a, R>(idx: &[usize], cols: &'a [Cow<'a, Value>], f: impl FnOnce(&[&'a Value]) -> R) -> R {
    const STACK: usize = 8;
    static NULL: Value = Value::Null;
    if idx.len() <= STACK {
        let mut picked: [&Value; STACK] = [&NULL; STACK];
        for (slot, i) in picked.iter_mut().zip(idx) {
            *slot = cols.get(*i).map_or(&NULL, |c| &**c);
        }
        f(&picked[..idx.len()])
    } else {
        let picked: Vec<&Value> = idx.iter().map(|i| cols.get(*i).map_or(&NULL, |c| &**c)).collect();
        f(&picked)
    }
}

impl TopicSink {
    pub fn new(
        log: Arc<dyn EventLog>,
        data: DataPath,
        query_id: &str,
        planned: &PlannedQuery,
        sink: &SourceDef,
    ) -> Result<TopicSink> {
        data.check_write(&sink.topic)?;
        let mut key_idx = Vec::new();
        let mut value_idx = Vec::new();
        for (i, c) in planned.columns.iter().enumerate() {
            if c.is_key {
                key_idx.push(i);
            } else {
                value_idx.push(i);
            }
        }
        // INSERT INTO: map the query's columns onto the target's by name.
        let key_idx = map_by_name(&sink.key_columns, &planned.columns, &key_idx)?;
        let value_idx = map_by_name(&sink.value_columns, &planned.columns, &value_idx)?;
        let timestamp_idx = sink
            .timestamp_column
            .as_ref()
            .and_then(|t| planned.columns.iter().position(|c| &c.name == t))
            .map(|i| (i, sink.timestamp_format.clone()));
        let partitions = log.describe_topic(&sink.topic)?.partitions.len().max(1) as u32;
        // ksqlDB registers a sink's key and value schemas (`<topic>-key`, `<topic>-value`) when the
        // query starts, so consumers find them before the first record.
        let key_codec = sink.key_codec();
        key_codec.register_schema()?;
        let value_codec = sink.value_codec();
        value_codec.register_schema()?;
        Ok(TopicSink {
            log,
            data,
            topic: sink.topic.clone(),
            partitions,
            key_codec,
            value_codec,
            key_idx,
            value_idx,
            timestamp_idx,
            query_id: query_id.to_string(),
            requires_key: sink.kind == Kind::Table,
            key_from_source: planned.key_from_source && sink.key_columns.len() > 1,
            dropped: 0,
            pending: vec![Vec::new(); partitions as usize],
            last_origin: vec![Vec::new(); partitions as usize],
            written: HashMap::new(),
            records_written: 0,
            value_capacity: 128,
        })
    }

    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// Learns what a previous run already wrote, scanning each output partition from `from[p]`.
    pub fn recover(&mut self, from: &[u64]) -> Result<()> {
        self.written = written_origins(self.log.as_ref(), &self.topic, self.partitions, from, &self.query_id)?;
        Ok(())
    }

    /// Writes pending records through the write path (see [`TopicSink::take_routed`]).
    pub fn flush(&mut self) -> Result<()> {
        let routed = self.take_routed();
        if routed.is_empty() {
            return Ok(());
        }
        self.data.write_output(&self.topic, routed)
    }

    /// The pending records, each routed to its partition, with each partition's last record of an
    /// input partition marked with its origin. The partitions were chosen in [`RowSink::emit`] (the
    /// deduplication on restart depends on them), so every record goes where it was planned.
    fn take_routed(&mut self) -> Vec<Routed> {
        let mut routed = Vec::with_capacity(self.pending.iter().map(Vec::len).sum());
        for p in 0..self.partitions as usize {
            if self.pending[p].is_empty() {
                continue;
            }
            // Drained, not taken: the pending list keeps its capacity for the next batch (regrowing
            // it batch after batch faulted fresh pages in on every one).
            let records = &mut self.pending[p];
            for (origin, index) in self.last_origin[p].drain(..) {
                if let Some(r) = records.get_mut(index) {
                    r.headers.push(origin_header(&self.query_id, origin));
                }
            }
            self.records_written += records.len() as u64;
            routed.extend(records.drain(..).map(|r| (Some(p as u32), r)));
        }
        routed
    }

    /// The end offset of every output partition.
    pub fn end_offsets(&self) -> Result<Vec<u64>> {
        (0..self.partitions).map(|p| Ok(self.log.offsets(&self.topic, p)?.1)).collect()
    }
}

fn map_by_name(
    target: &[crate::format::Column],
    cols: &[crate::plan::OutputColumn],
    own: &[usize],
) -> Result<Vec<usize>> {
    if target.len() == own.len() && target.iter().zip(own).all(|(t, i)| t.name == cols[*i].name) {
        return Ok(own.to_vec());
    }
    target
        .iter()
        .map(|t| {
            cols.iter().position(|c| c.name == t.name).ok_or_else(|| {
                SqlError::analysis(format!("the query does not produce column '{}' of the target", t.name))
            })
        })
        .collect()
}

/// Per input (input, partition), per output partition, the highest input offset whose output the
/// output partition holds.
type WrittenOrigins = HashMap<(u8, u32), Vec<Option<u64>>>;

/// What a previous run of `tag` already wrote to `topic`: per input (input, partition), per
/// partition of `topic`, the highest input offset whose output it holds, by the origin headers of
/// the records from `from[p]` on in each partition `p`.
pub(crate) fn written_origins(
    log: &dyn EventLog,
    topic: &str,
    partitions: u32,
    from: &[u64],
    tag: &str,
) -> Result<WrittenOrigins> {
    let mut written = WrittenOrigins::new();
    for p in 0..partitions {
        let mut offset = from.get(p as usize).copied().unwrap_or(0);
        loop {
            let r = match log.read(topic, p, offset, ReadLimits { max_records: 2000, ..ReadLimits::default() }) {
                Ok(r) => r,
                Err(weft_log::LogError::OffsetOutOfRange { earliest, .. }) if earliest > offset => {
                    offset = earliest;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if r.records.is_empty() {
                break;
            }
            for rec in &r.records {
                if let Some(origin) = parse_origin(&rec.headers, tag) {
                    let slot = written
                        .entry((origin.input, origin.partition))
                        .or_insert_with(|| vec![None; partitions as usize]);
                    let cur = &mut slot[p as usize];
                    *cur = Some(cur.map_or(origin.offset, |c| c.max(origin.offset)));
                }
            }
            offset = r.next_offset;
        }
    }
    Ok(written)
}

pub(crate) fn origin_header(query_id: &str, o: Origin) -> Header {
    Header {
        key: ORIGIN_HEADER.to_string(),
        value: Some(format!("{query_id}|{}|{}|{}", o.input, o.partition, o.offset).into_bytes()),
    }
}

pub(crate) fn parse_origin(headers: &[Header], query_id: &str) -> Option<Origin> {
    let h = headers.iter().find(|h| h.key == ORIGIN_HEADER)?;
    let text = std::str::from_utf8(h.value.as_deref()?).ok()?;
    let mut parts = text.rsplitn(4, '|');
    let offset = parts.next()?.parse().ok()?;
    let partition = parts.next()?.parse().ok()?;
    let input = parts.next()?.parse().ok()?;
    (parts.next()? == query_id).then_some(Origin { input, partition, offset })
}

impl RowSink for TopicSink {
    fn emit(&mut self, change: Change<'_>, origin: Origin) -> Result<()> {
        let timestamp = match &self.timestamp_idx {
            Some((i, format)) => match crate::metastore::column_timestamp(&change.cols[*i], format.as_deref()) {
                Ok(ms) => ms,
                // A deletion carries no columns to take a time from.
                Err(_) if change.tombstone => change.timestamp,
                // As Kafka Streams does, a row without a valid time is not written.
                Err(_) => {
                    self.dropped += 1;
                    return Ok(());
                }
            },
            None => change.timestamp,
        };
        let key = with_picked(&self.key_idx, change.cols, |vals| {
            // A key passed through from the input stays null when all its columns are (ksqlDB).
            if self.key_from_source && change.window.is_none() && vals.iter().all(|v| v.is_null()) {
                Ok(None)
            } else {
                self.key_codec.encode(vals, change.window)
            }
        })?;
        if key.is_none() && self.requires_key {
            self.dropped += 1;
            return Ok(());
        }
        // Kafka's default partitioner, with the input partition as the sticky partition of keyless
        // output: deterministic, so a replayed change lands where the first run wrote it.
        let p = partition_for(key.as_deref(), self.partitions, origin.partition);
        if let Some(slot) = self.written.get(&(origin.input, origin.partition)) {
            if slot[p as usize].is_some_and(|w| origin.offset <= w) {
                return Ok(());
            }
        }
        // An unwrapped single value that is null is a record without a value, as Kafka's
        // serializers write null (ksqlDB's `WRAP_SINGLE_VALUE=false`).
        let null_single =
            self.value_codec.unwrapped && self.value_idx.first().is_some_and(|i| change.cols[*i].is_null());
        let value = if change.tombstone || null_single {
            None
        } else {
            // Sized as the last value was: one allocation per record, no growth.
            let mut buf = Vec::with_capacity(self.value_capacity);
            with_picked(&self.value_idx, change.cols, |vals| self.value_codec.encode(vals, &mut buf))?;
            self.value_capacity = buf.len().next_power_of_two().max(16);
            Some(buf)
        };
        let pending = &mut self.pending[p as usize];
        pending.push(Record { key, value, headers: Vec::new(), timestamp: Some(timestamp) });
        let index = pending.len() - 1;
        let marks = &mut self.last_origin[p as usize];
        match marks.iter_mut().find(|(o, _)| o.input == origin.input && o.partition == origin.partition) {
            Some(m) => *m = (origin, index),
            None => marks.push((origin, index)),
        }
        Ok(())
    }
}

/// Where a query starts reading when it has no committed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    Earliest,
    Latest,
}

impl StartFrom {
    pub fn from_property(value: Option<&str>, default: StartFrom) -> StartFrom {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "earliest" => StartFrom::Earliest,
            Some(v) if v == "latest" => StartFrom::Latest,
            _ => default,
        }
    }
}

/// Which part of a query's input one instance processes: Kafka Streams' tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Every partition of every input: one instance runs the whole query.
    Whole,
    /// Some partitions of a stateless query's one input; the output keeps its exactly-once effect
    /// because each output record names the input partition it came from and each partition's
    /// position is committed on its own.
    Partitions(Vec<u32>),
    /// One partition of an aggregation's one input whose records are partitioned by the grouping
    /// key, so the groups of different partitions never meet: the instance holds the state of its
    /// partition's groups, in partition `p` of the changelog topic (which has one partition per
    /// input partition), and its own stream time, as a Kafka Streams task does.
    Keyed(u32),
}

impl Part {
    /// The input partitions this part processes, of `partitions` in all.
    fn partitions(&self, partitions: u32) -> Vec<u32> {
        match self {
            Part::Whole => (0..partitions).collect(),
            Part::Partitions(owned) => owned.clone(),
            Part::Keyed(p) => vec![*p],
        }
    }

    /// Whether input partition `p` belongs to this part.
    fn owns(&self, p: u32) -> bool {
        match self {
            Part::Whole => true,
            Part::Partitions(owned) => owned.contains(&p),
            Part::Keyed(own) => *own == p,
        }
    }
}

/// Read positions over one input source.
struct InputCursor {
    topic: String,
    reader: SourceReader,
    positions: Vec<u64>,
    /// The row slots the operator reads (see [`warm_rows`]).
    read_slots: Vec<usize>,
}

impl InputCursor {
    fn open(
        log: &dyn EventLog,
        data: &DataPath,
        source: &SourceDef,
        start: StartFrom,
        needed: Option<Vec<bool>>,
    ) -> Result<InputCursor> {
        data.check_read(&source.topic)?;
        let partitions = log.describe_topic(&source.topic)?.partitions.len() as u32;
        let mut positions = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let (earliest, latest) = log.offsets(&source.topic, p)?;
            positions.push(if start == StartFrom::Earliest { earliest } else { latest });
        }
        let mut reader = source.reader()?;
        let read_slots = match &needed {
            Some(mask) => mask.iter().enumerate().filter(|(_, n)| **n).map(|(i, _)| i).collect(),
            None => (0..source.row_width()).collect(),
        };
        if let Some(mask) = needed {
            reader.set_needed(&mask);
        }
        Ok(InputCursor { topic: source.topic.clone(), reader, positions, read_slots })
    }
}

/// Rows warmed at a time, ahead of the operator.
const WARM_ROWS: usize = 256;

/// Reads a byte of every slot the operator reads in `rows` (and the first byte of its text). The
/// rows were decoded on a read thread, so their first touch here misses this core's caches: in the
/// operator, one row at a time, each miss stalled it (half of a filter's task thread sat on the
/// first load of each row); touched in this short loop, the misses of many rows overlap.
fn warm_rows(rows: &[Vec<Value>], slots: &[usize]) {
    let mut seen = 0usize;
    for row in rows {
        for slot in slots {
            seen = seen.wrapping_add(match row.get(*slot) {
                Some(Value::String(s)) => usize::from(s.as_bytes().first().copied().unwrap_or(0)),
                Some(v) => usize::from(v.is_null()),
                None => 0,
            });
        }
    }
    std::hint::black_box(seen);
}

/// Feeds a join its table side from the start of the topic up to the cursor's positions.
fn load_table_state(
    log: &dyn EventLog,
    data: &DataPath,
    input: &InputCursor,
    part: &Part,
    load: &mut dyn FnMut(&[Value], Decoded),
) -> Result<()> {
    let mut row = Vec::new();
    for (p, end) in input.positions.iter().enumerate().filter(|(p, _)| part.owns(*p as u32)) {
        let (mut offset, _) = log.offsets(&input.topic, p as u32)?;
        while offset < *end {
            let r =
                data.read(&input.topic, p as u32, offset, ReadLimits { max_records: 5000, ..ReadLimits::default() })?;
            if r.records.is_empty() {
                break;
            }
            for rec in r.records.iter().filter(|r| r.offset < *end) {
                if let Ok(decoded) = input.reader.decode(rec, p as u32, &mut row) {
                    load(&row, decoded);
                }
            }
            offset = r.next_offset;
        }
    }
    Ok(())
}

/// Discards what it is given (state rebuilds).
struct Discard;

impl RowSink for Discard {
    fn emit(&mut self, _change: Change<'_>, _origin: Origin) -> Result<()> {
        Ok(())
    }
}

/// Rebuilds stream-stream join buffers: replays, in timestamp order and without output, the input
/// records from `span` ms before the latest committed record up to the committed positions.
fn replay_join_buffers(
    log: &dyn EventLog,
    data: &DataPath,
    inputs: &[InputCursor],
    part: &Part,
    span: i64,
    op: &mut crate::join::JoinOp,
) -> Result<()> {
    let mut latest = i64::MIN;
    for (_, input) in inputs.iter().enumerate().filter(|(idx, _)| !op.is_table_input(*idx)) {
        for (p, pos) in input.positions.iter().enumerate().filter(|(p, _)| part.owns(*p as u32)) {
            if *pos == 0 {
                continue;
            }
            let r =
                data.read(&input.topic, p as u32, pos - 1, ReadLimits { max_records: 1, ..ReadLimits::default() })?;
            if let Some(rec) = r.records.first() {
                latest = latest.max(rec.timestamp);
            }
        }
    }
    if latest == i64::MIN {
        return Ok(());
    }
    let horizon = latest.saturating_sub(span);
    let mut records: Vec<(i64, usize, u32, weft_log::StoredRecord)> = Vec::new();
    // Table inputs of a join chain are already loaded up to the committed positions.
    for (idx, input) in inputs.iter().enumerate().filter(|(idx, _)| !op.is_table_input(*idx)) {
        for (p, end) in input.positions.iter().enumerate().filter(|(p, _)| part.owns(*p as u32)) {
            let (earliest, _) = log.offsets(&input.topic, p as u32)?;
            let mut offset = log.offset_for_timestamp(&input.topic, p as u32, horizon)?.unwrap_or(*end).max(earliest);
            while offset < *end {
                let r = data.read(
                    &input.topic,
                    p as u32,
                    offset,
                    ReadLimits { max_records: 5000, ..ReadLimits::default() },
                )?;
                if r.records.is_empty() {
                    break;
                }
                for rec in r.records.into_iter().filter(|r| r.offset < *end) {
                    records.push((rec.timestamp, idx, p as u32, rec));
                }
                offset = r.next_offset;
            }
        }
    }
    records.sort_by_key(|(ts, idx, p, rec)| (*ts, *idx, *p, rec.offset));
    let mut row = Vec::new();
    for (_, idx, p, rec) in records {
        if let Ok(decoded) = inputs[idx].reader.decode(&rec, p, &mut row) {
            let origin = Origin { input: idx as u8, partition: p, offset: rec.offset };
            op.process(idx, &row, decoded, origin, &mut Discard)?;
        }
    }
    Ok(())
}

/// Counters of a running query.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct QueryStats {
    pub records_read: u64,
    pub records_written: u64,
    /// Input records that could not be decoded or processed (ksqlDB's processing log).
    pub errors: u64,
    pub last_error: Option<String>,
    /// The last poll failed (the log refused a read, append or commit); it is retried.
    pub failing: bool,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct CommitMeta {
    outputs: Vec<u64>,
    #[serde(default)]
    changelog: Option<u64>,
}

/// A persistent query: input topics to an output topic, resumable.
pub struct PersistentQuery {
    pub id: String,
    log: Arc<dyn EventLog>,
    data: DataPath,
    inputs: Vec<InputCursor>,
    operator: Operator,
    sink: TopicSink,
    row: Vec<Value>,
    /// Per (input, partition): the last input offset whose state change is already in the changelog.
    applied: HashMap<(u8, u32), u64>,
    pub stats: QueryStats,
    /// Plans the query again, for [`PersistentQuery::recover`].
    rebuild: Option<Rebuild>,
    sink_def: Option<SourceDef>,
    /// Writes batches and keeps those written but not yet committed (see the module docs); `None`
    /// while a batch is being written on `in_flight`.
    writer: Option<BatchWriter>,
    /// The last batch being written on `write_worker`, while the next one is processed.
    in_flight: Option<worker::Pending<(BatchWriter, Result<()>)>>,
    /// Batches processed while `in_flight` was still being written, merged into the next write
    /// (with how many they are), so a query never waits for a write while it has input to process.
    queued: Option<(WrittenBatch, usize)>,
    /// The threads that write batches and read ahead, kept for the query's life.
    write_worker: worker::Worker,
    /// Two, so that two batches of one partition are decoded at once (see [`READ_AHEAD`]).
    read_workers: [worker::Worker; READ_AHEAD],
    /// How many read-aheads were started: the next runs on `read_workers[n % READ_AHEAD]`.
    read_aheads_started: usize,
    /// The next batch of input, being read and decoded while this one is processed.
    prefetched: VecDeque<ReadAhead>,
    /// The buffers of the last batch processed, for the next read.
    spare_batches: Vec<DecodedBatch>,
    /// The part of the input this instance processes.
    part: Part,
    /// Its input is the query's input (not an internal repartition topic), so the records it
    /// reads count as the query's.
    reads_query_input: bool,
    /// `ksql.timestamp.throw.on.invalid`: a record whose TIMESTAMP column gives no time stops the
    /// query instead of being skipped.
    throw_on_invalid_timestamp: bool,
}

/// Input records of one partition, decoded: each record's offset and how it decoded, its row at
/// the same index of `rows`. Kept from batch to batch, so the rows' slots (and their strings) are
/// reused.
#[derive(Default)]
struct DecodedBatch {
    records: Vec<(u64, std::result::Result<Decoded, DecodeError>)>,
    rows: Vec<Vec<Value>>,
    next_offset: u64,
    /// The partition held more durable records than this batch took.
    more: bool,
    /// The partition's high watermark when it was read.
    high_watermark: u64,
}

impl DecodedBatch {
    /// Reads up to `max` records of `topic`, partition `p`, from `offset` and decodes them; with
    /// `until`, only records before it (the batch then ends at `until` at the latest, where the
    /// read-ahead of the range after it starts).
    #[allow(clippy::too_many_arguments)]
    fn fill(
        mut self,
        data: &DataPath,
        topic: &str,
        reader: &SourceReader,
        p: u32,
        offset: u64,
        max: usize,
        until: Option<u64>,
    ) -> Result<DecodedBatch> {
        let read = data.read(topic, p, offset, ReadLimits { max_records: max, ..ReadLimits::default() })?;
        let records = match until {
            Some(until) => &read.records[..read.records.partition_point(|r| r.offset < until)],
            None => &read.records[..],
        };
        self.records.clear();
        if self.rows.len() < records.len() {
            self.rows.resize_with(records.len(), Vec::new);
        }
        for (rec, row) in records.iter().zip(self.rows.iter_mut()) {
            self.records.push((rec.offset, reader.decode(rec, p, row)));
        }
        self.next_offset = until.map_or(read.next_offset, |until| read.next_offset.min(until));
        self.high_watermark = read.high_watermark;
        self.more = self.next_offset < read.high_watermark;
        Ok(self)
    }
}

/// A batch being read ahead: where it starts (input, partition, offset), where it ends at the
/// latest, and its thread.
struct ReadAhead {
    at: (usize, u32, u64),
    until: Option<u64>,
    handle: worker::Pending<Result<DecodedBatch>>,
}

/// How many batches of a query's input are read and decoded ahead at most, each on a thread of
/// its own: decoding is most of a stateless query's work, so a query of one partition decodes two
/// batches at once (the ranges `[a, a + max)` and `[a + max, a + 2 max)` of the partition).
const READ_AHEAD: usize = 2;

impl ReadAhead {
    fn join(self) -> Result<DecodedBatch> {
        self.handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

/// Input positions reached by a batch: (input, partition, next offset).
type Positions = Vec<(usize, u32, u64)>;

/// Changelog records to append: (topic, records).
type ChangelogRecords = (String, Vec<Record>);

/// The stages of batches on their way to a commit.
#[derive(Default)]
struct Pipeline {
    /// The last batch whose output is durable and whose changelog is not written yet: its positions,
    /// the output ends after it, and its changelog (topic, records), if it changed any state.
    changelog_due: Option<(Positions, Vec<u64>, Option<ChangelogRecords>)>,
    /// Positions whose output and changelog are durable, with their commit metadata.
    commits_due: Vec<(usize, u32, u64, String)>,
}

/// A processed batch on its way to the log.
struct WrittenBatch {
    output: Vec<Routed>,
    /// Input positions the batch reached.
    positions: Positions,
    changelog: Option<ChangelogRecords>,
    stateful: bool,
}

/// How many processed batches may queue behind the write in flight before the query waits for it.
const MAX_QUEUED_BATCHES: usize = 4;

impl WrittenBatch {
    /// Appends the batch processed after this one, so both are written as one: the output in
    /// order, the positions the later one reached, and the changelog records in order (the later
    /// records of a key replace the earlier ones when applied, so the state is the later batch's).
    fn absorb(&mut self, later: WrittenBatch) {
        self.output.extend(later.output);
        for (input, partition, offset) in later.positions {
            match self.positions.iter_mut().find(|(i, p, _)| (*i, *p) == (input, partition)) {
                Some(position) => position.2 = offset,
                None => self.positions.push((input, partition, offset)),
            }
        }
        match (&mut self.changelog, later.changelog) {
            (Some((_, records)), Some((_, more))) => records.extend(more),
            (slot @ None, later) => *slot = later,
            (Some(_), None) => {}
        }
        self.stateful |= later.stateful;
    }
}

/// Writes a query's batches in order and keeps its [`Pipeline`]; owns what it needs, so it runs on
/// its own thread while the query processes the next batch.
struct BatchWriter {
    log: Arc<dyn EventLog>,
    data: DataPath,
    group: String,
    input_topics: Vec<String>,
    output_topic: String,
    output_partitions: u32,
    /// The aggregation's changelog topic (stateful queries), and the partition of it this
    /// instance writes.
    changelog_topic: Option<String>,
    changelog_partition: u32,
    pipeline: Pipeline,
}

impl BatchWriter {
    /// Writes `batch`'s output with the stages of earlier batches that are due (see the module
    /// docs): the previous batch's changelog and the commits whose changelog is durable, all
    /// waiting for the same group commit.
    fn write(&mut self, batch: WrittenBatch) -> Result<()> {
        let commits = std::mem::take(&mut self.pipeline.commits_due);
        let (previous, previous_changelog) = match self.pipeline.changelog_due.take() {
            Some((positions, outputs, changelog)) => (Some((positions, outputs)), changelog),
            None => (None, None),
        };
        let (log, group, inputs) = (&self.log, &self.group, &self.input_topics);
        let (data, topic) = (&self.data, &self.output_topic);
        let (output, appended, committed) = std::thread::scope(|scope| {
            let commit_threads: Vec<_> = commits
                .iter()
                .map(|(input, partition, offset, metadata)| {
                    let topic = &inputs[*input];
                    scope.spawn(move || log.commit_offset(group, topic, *partition, *offset, metadata))
                })
                .collect();
            let changelog_partition = self.changelog_partition;
            let previous_changelog = previous_changelog
                .map(|(topic, records)| scope.spawn(move || log.append(&topic, changelog_partition, records)));
            let output = if batch.output.is_empty() { Ok(()) } else { data.write_output(topic, batch.output) };
            let appended = previous_changelog.map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            let committed: Result<()> = commit_threads.into_iter().try_for_each(|t| {
                t.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?;
                Ok(())
            });
            (output, appended.transpose(), committed)
        });
        output?;
        let appended = appended?;
        committed?;
        // This batch's output is durable and nothing of ours was appended to it since.
        let outputs = self.output_ends()?;
        if let Some((previous_positions, previous_outputs)) = previous {
            let changelog_end = match appended {
                Some(r) => Some(r.last_offset + 1),
                None => self.changelog_end()?,
            };
            self.queue_commits(&previous_positions, previous_outputs, changelog_end);
        }
        if batch.stateful {
            self.pipeline.changelog_due = Some((batch.positions, outputs, batch.changelog));
        } else {
            self.queue_commits(&batch.positions, outputs, None);
        }
        Ok(())
    }

    /// Writes the last changelog, then every commit due, waiting for each.
    fn commit_pending(&mut self) -> Result<()> {
        if let Some((positions, outputs, changelog)) = self.pipeline.changelog_due.take() {
            let changelog_end = match changelog {
                Some((topic, records)) => {
                    Some(self.log.append(&topic, self.changelog_partition, records)?.last_offset + 1)
                }
                None => self.changelog_end()?,
            };
            self.queue_commits(&positions, outputs, changelog_end);
        }
        for (input, partition, offset, metadata) in std::mem::take(&mut self.pipeline.commits_due) {
            self.log.commit_offset(&self.group, &self.input_topics[input], partition, offset, &metadata)?;
        }
        Ok(())
    }

    /// The end offset of every output partition.
    fn output_ends(&self) -> Result<Vec<u64>> {
        (0..self.output_partitions).map(|p| Ok(self.log.offsets(&self.output_topic, p)?.1)).collect()
    }

    /// The changelog's end offset, for an aggregation that had nothing to add to it.
    fn changelog_end(&self) -> Result<Option<u64>> {
        match &self.changelog_topic {
            Some(topic) => Ok(Some(self.log.offsets(topic, self.changelog_partition)?.1)),
            None => Ok(None),
        }
    }

    fn queue_commits(&mut self, positions: &[(usize, u32, u64)], outputs: Vec<u64>, changelog: Option<u64>) {
        let metadata = serde_json::to_string(&CommitMeta { outputs, changelog }).unwrap_or_default();
        for &(input, partition, offset) in positions {
            self.pipeline.commits_due.push((input, partition, offset, metadata.clone()));
        }
    }
}

impl Drop for PersistentQuery {
    /// A batch being written finishes before the query goes (a restart must not race it).
    fn drop(&mut self) {
        let _ = self.settle();
    }
}

/// Plans a persistent query again (its operator state is rebuilt from the log afterwards).
pub type Rebuild = Box<dyn Fn() -> Result<PlannedQuery> + Send>;

impl PersistentQuery {
    /// Opens the query, resuming from its committed positions when it has any.
    pub fn open(
        id: &str,
        log: Arc<dyn EventLog>,
        data: DataPath,
        planned: PlannedQuery,
        sink_def: &SourceDef,
        start: StartFrom,
    ) -> Result<PersistentQuery> {
        PersistentQuery::open_part(id, log, data, planned, sink_def, start, Part::Whole)
    }

    /// Opens the instance of the query that processes `part` of its input, resuming from its
    /// committed positions when it has any. The instances of a new query pin its start for every
    /// partition when the first of them opens.
    pub fn open_part(
        id: &str,
        log: Arc<dyn EventLog>,
        data: DataPath,
        planned: PlannedQuery,
        sink_def: &SourceDef,
        start: StartFrom,
        part: Part,
    ) -> Result<PersistentQuery> {
        let group = format!("_weft_sql_{id}");
        let mut inputs = Vec::new();
        for (i, source) in planned.inputs.iter().enumerate() {
            let needed = planned.operator.needed_columns(i, source.row_width());
            inputs.push(InputCursor::open(log.as_ref(), &data, source, start, needed)?);
        }
        let shared = part != Part::Whole;
        let input_partitions = inputs.first().map_or(1, |i| i.positions.len() as u32);
        let co_partitioned = inputs.iter().all(|i| i.positions.len() as u32 == input_partitions);
        match (&part, &planned.operator) {
            (Part::Partitions(_), Operator::Stateless(_)) if inputs.len() == 1 => {}
            (Part::Whole, _) => {}
            (Part::Keyed(p), Operator::Aggregate(op))
                if inputs.len() == 1 && !op.aggregates_table() && *p < input_partitions => {}
            (Part::Keyed(p), Operator::Join(op)) if co_partitioned && op.joins_on_keys() && *p < input_partitions => {}
            _ => {
                return Err(SqlError::analysis(format!(
                    "query {id}: its operator cannot process {part:?} of its input on its own"
                )))
            }
        }
        let changelog_partition = match part {
            Part::Keyed(p) => p,
            _ => 0,
        };
        let changelog_partitions = if matches!(part, Part::Keyed(_)) { input_partitions } else { 1 };
        let mut sink = TopicSink::new(log.clone(), data.clone(), id, &planned, sink_def)?;
        let mut operator = planned.operator;
        if let Some(op) = operator.aggregate_mut() {
            op.init_changelog(log.as_ref(), id, changelog_partition, changelog_partitions)?;
        }
        let all_committed = log.committed_offsets(&group)?;
        let new_query = all_committed.is_empty();
        // Another part's commits are its own: its output and changelog positions say nothing of
        // this part's.
        let committed: Vec<_> = all_committed
            .into_iter()
            .filter(|c| !shared || (inputs.iter().any(|i| i.topic == c.topic) && part.owns(c.partition)))
            .collect();
        let mut applied = HashMap::new();
        if new_query {
            // A new query: pin its start so a restart before the first batch does not move it.
            let ends = sink.end_offsets()?;
            let changelog_topic = operator.aggregate_mut().and_then(|op| op.changelog_topic_name().map(str::to_string));
            for input in &inputs {
                for (p, pos) in input.positions.iter().enumerate() {
                    let changelog_end = match &changelog_topic {
                        Some(topic) => {
                            let cp = if changelog_partitions > 1 { p as u32 } else { 0 };
                            Some(log.offsets(topic, cp)?.1)
                        }
                        None => None,
                    };
                    let meta = serde_json::to_string(&CommitMeta { outputs: ends.clone(), changelog: changelog_end })
                        .unwrap_or_default();
                    log.commit_offset(&group, &input.topic, p as u32, *pos, &meta)?;
                }
            }
        } else {
            let mut output_from: Option<Vec<u64>> = None;
            for c in &committed {
                for input in inputs.iter_mut() {
                    if input.topic == c.topic {
                        if let Some(pos) = input.positions.get_mut(c.partition as usize) {
                            *pos = c.offset;
                        }
                    }
                }
                let meta: CommitMeta = serde_json::from_str(&c.metadata).unwrap_or_default();
                output_from = Some(match output_from {
                    None => meta.outputs,
                    Some(prev) => prev
                        .iter()
                        .zip(meta.outputs.iter().chain(std::iter::repeat(&0)))
                        .map(|(a, b)| *a.min(b))
                        .collect(),
                });
            }
            sink.recover(&output_from.unwrap_or_default())?;
            if let Some(op) = operator.aggregate_mut() {
                applied = op.restore(log.as_ref())?;
            }
        }
        if let Some(op) = operator.join_mut() {
            for (idx, input) in inputs.iter().enumerate() {
                if op.is_table_input(idx) {
                    load_table_state(log.as_ref(), &data, input, &part, &mut |row, d| op.load_table(idx, row, d))?;
                }
            }
        }
        if let (Some(op), false) = (operator.join_mut(), committed.is_empty()) {
            if let Some(span) = op.replay_span() {
                replay_join_buffers(log.as_ref(), &data, &inputs, &part, span, op)?;
            }
        }
        match &mut operator {
            Operator::Aggregate(op) if op.aggregates_table() => {
                // The snapshot must include rows the restored changelog already reflects.
                let mut input = InputCursor {
                    topic: inputs[0].topic.clone(),
                    reader: inputs[0].reader.clone(),
                    positions: inputs[0].positions.clone(),
                    read_slots: inputs[0].read_slots.clone(),
                };
                for (p, pos) in input.positions.iter_mut().enumerate() {
                    if let Some(a) = applied.get(&(0, p as u32)) {
                        *pos = (*pos).max(a + 1);
                    }
                }
                load_table_state(log.as_ref(), &data, &input, &Part::Whole, &mut |row, d| op.load_table_row(row, d))?;
            }
            // An aggregation of a table-table join replaces each key's previous joined row: that
            // table is the join's result, rebuilt from the join state loaded above.
            Operator::JoinAggregate(join, op) if op.aggregates_table() => {
                for row in join.table_results().unwrap_or_default() {
                    op.load_table_row(&row, Decoded::Row);
                }
            }
            _ => {}
        }
        let writer = BatchWriter {
            log: log.clone(),
            data: data.clone(),
            group,
            input_topics: inputs.iter().map(|i| i.topic.clone()).collect(),
            output_topic: sink.topic.clone(),
            output_partitions: sink.partitions,
            changelog_topic: operator.aggregate_mut().and_then(|op| op.changelog_topic_name().map(str::to_string)),
            changelog_partition,
            pipeline: Pipeline::default(),
        };
        Ok(PersistentQuery {
            id: id.to_string(),
            log,
            data,
            inputs,
            operator,
            sink,
            row: Vec::new(),
            applied,
            stats: QueryStats::default(),
            rebuild: None,
            sink_def: Some(sink_def.clone()),
            writer: Some(writer),
            in_flight: None,
            queued: None,
            write_worker: worker::Worker::new(format!("sql-write-{id}")),
            read_workers: [
                worker::Worker::new(format!("sql-read-{id}")),
                worker::Worker::new(format!("sql-read-{id}")),
            ],
            read_aheads_started: 0,
            prefetched: VecDeque::new(),
            spare_batches: Vec::new(),
            part,
            reads_query_input: true,
            throw_on_invalid_timestamp: false,
        })
    }

    /// `ksql.timestamp.throw.on.invalid`: a record whose TIMESTAMP column is null or not a time
    /// stops the query (ksqlDB's StreamsException) instead of being counted and skipped.
    pub fn throw_on_invalid_timestamp(&mut self) {
        self.throw_on_invalid_timestamp = true;
    }

    /// Marks an instance whose input is the query's repartition topic: the records it reads are
    /// counted where the query's input is read.
    pub fn reads_internal_input(&mut self) {
        self.reads_query_input = false;
    }

    /// The partitions of input 0 this instance processes, in polling order.
    fn polled_partitions(&self) -> Vec<u32> {
        self.part.partitions(self.inputs.first().map_or(0, |i| i.positions.len() as u32))
    }

    /// The part of the input this instance processes.
    pub fn part(&self) -> &Part {
        &self.part
    }

    /// Makes [`PersistentQuery::recover`] possible.
    pub fn set_rebuild(&mut self, rebuild: Rebuild) {
        self.rebuild = Some(rebuild);
    }

    /// After a failed poll (a batch may be half written), throws the in-memory state away and
    /// reopens the query from the log, exactly as a restart would; polling may then resume.
    pub fn recover(&mut self) -> Result<()> {
        // No write of the old state may land after the reopened query has read the log.
        let _ = self.settle();
        let (Some(rebuild), Some(sink)) = (self.rebuild.take(), self.sink_def.clone()) else {
            return Err(SqlError::analysis(format!("query {} cannot be rebuilt", self.id)));
        };
        let reopened = rebuild().and_then(|planned| {
            let (log, data, part) = (self.log.clone(), self.data.clone(), self.part.clone());
            PersistentQuery::open_part(&self.id, log, data, planned, &sink, StartFrom::Earliest, part)
        });
        match reopened {
            Ok(mut fresh) => {
                fresh.rebuild = Some(rebuild);
                fresh.reads_query_input = self.reads_query_input;
                fresh.throw_on_invalid_timestamp = self.throw_on_invalid_timestamp;
                // The counters go on from where they were (what the log already held is not
                // written again, so it is not counted again).
                fresh.sink.records_written = self.sink.records_written;
                fresh.stats = std::mem::take(&mut self.stats);
                fresh.stats.failing = false;
                *self = fresh;
                Ok(())
            }
            Err(e) => {
                self.rebuild = Some(rebuild);
                Err(e)
            }
        }
    }

    /// The table an aggregation maintains, as rows of its sink's layout (pull queries read it
    /// instead of scanning the sink topic); `None` for other queries.
    pub fn table_snapshot(&self) -> Option<Vec<Row>> {
        match &self.operator {
            Operator::Aggregate(op) => {
                Some(op.snapshot(&self.sink.key_idx, &self.sink.value_idx, self.sink.key_codec.window.is_some()))
            }
            _ => None,
        }
    }

    /// The topics and partitions this query reads, for waiting on new input.
    pub fn input_partitions(&self) -> Vec<(String, u32)> {
        if self.part != Part::Whole {
            let polled = self.polled_partitions();
            return self.inputs.iter().flat_map(|i| polled.iter().map(move |p| (i.topic.clone(), *p))).collect();
        }
        self.inputs.iter().flat_map(|i| (0..i.positions.len() as u32).map(move |p| (i.topic.clone(), p))).collect()
    }

    /// Processes what input is available (up to `max_records` per partition); returns how many
    /// input records were consumed.
    pub fn poll(&mut self, max_records: usize) -> Result<usize> {
        let mut total = 0;
        if self.inputs.len() > 1 {
            total = self.poll_merged(max_records)?;
        } else {
            for p in self.polled_partitions() {
                total += self.poll_partition(0, p, max_records)?;
            }
        }
        if total == 0 {
            // Time-driven output (EMIT FINAL, stream-stream join outer rows) may still be due.
            let n = match self.operator.aggregate_mut() {
                Some(op) => op.on_idle(&mut self.sink)?,
                None => 0,
            };
            if n > 0 {
                self.settle()?;
                self.sink.flush()?;
            }
            self.commit_pending()?;
        }
        Ok(total)
    }

    /// Writes what the pipeline holds (the batch being written, the last changelog, then every
    /// commit due), waiting for each: a query out of input, or stopping, calls it.
    pub fn commit_pending(&mut self) -> Result<()> {
        self.settle()?;
        match self.writer.as_mut() {
            Some(writer) => writer.commit_pending(),
            None => Ok(()),
        }
    }

    /// Waits until every processed batch is written (the one in flight, then those queued behind
    /// it); the first failure is this call's, and nothing queued behind a failed batch is written.
    fn settle(&mut self) -> Result<()> {
        self.finish_in_flight()?;
        if self.queued.is_some() {
            self.write_queued()?;
            self.finish_in_flight()?;
        }
        Ok(())
    }

    /// Waits for the batch being written, if any; its failure is this call's, and then the batches
    /// queued behind it are dropped: written after a lost batch, they would leave a hole in the
    /// output that the commits after them would hide. The query is reopened from the log instead.
    fn finish_in_flight(&mut self) -> Result<()> {
        let Some(handle) = self.in_flight.take() else { return Ok(()) };
        let (writer, result) = handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        self.writer = Some(writer);
        if result.is_err() {
            self.queued = None;
        }
        result
    }

    /// Starts writing the queued batches on the writer thread, as one batch.
    fn write_queued(&mut self) -> Result<()> {
        let Some((batch, _)) = self.queued.take() else { return Ok(()) };
        let Some(mut writer) = self.writer.take() else {
            return Err(SqlError::analysis(format!("query {} lost its writer", self.id)));
        };
        self.in_flight = Some(self.write_worker.run(move || {
            let result = writer.write(batch);
            (writer, result)
        }));
        Ok(())
    }

    /// Hands a processed batch that reached `positions` to the writer (see the module docs): its
    /// output, the previous batch's changelog and the commits whose changelog is durable are written
    /// on the query's writer thread while the next batch is read and processed. One write is in
    /// flight at a time, in order, so each step still follows the one it depends on; batches
    /// processed meanwhile queue up and go as one write, up to [`MAX_QUEUED_BATCHES`] of them, so a
    /// query waits for its writes only when they fall that far behind.
    fn write_batch(&mut self, positions: Positions) -> Result<()> {
        for &(input, partition, offset) in &positions {
            self.inputs[input].positions[partition as usize] = offset;
        }
        let stateful = self.operator.aggregate_mut().is_some();
        // Taken now: the state after this batch and no later input.
        let changelog = self.operator.aggregate_mut().and_then(|op| op.take_changelog());
        let output = self.sink.take_routed();
        self.stats.records_written = self.sink.records_written;
        let batch = WrittenBatch { output, positions, changelog, stateful };
        let queued = match self.queued.take() {
            Some((mut earlier, n)) => {
                earlier.absorb(batch);
                (earlier, n + 1)
            }
            None => (batch, 1),
        };
        let behind = queued.1 >= MAX_QUEUED_BATCHES;
        self.queued = Some(queued);
        if let Some(in_flight) = self.in_flight.as_mut() {
            if !behind && !in_flight.is_finished() {
                return Ok(());
            }
        }
        self.finish_in_flight()?;
        self.write_queued()
    }

    /// Several inputs (joins): one batch from every partition, processed in timestamp order, as
    /// Kafka Streams picks the record with the lowest timestamp among its inputs.
    fn poll_merged(&mut self, max_records: usize) -> Result<usize> {
        let mut batches: Vec<(usize, u32, std::collections::VecDeque<weft_log::StoredRecord>, u64)> = Vec::new();
        for idx in 0..self.inputs.len() {
            for p in (0..self.inputs[idx].positions.len()).filter(|p| self.part.owns(*p as u32)) {
                let input = &self.inputs[idx];
                let pos = input.positions[p];
                let limits = ReadLimits { max_records, ..ReadLimits::default() };
                match self.data.read(&input.topic, p as u32, pos, limits) {
                    Ok(r) if !r.records.is_empty() => batches.push((idx, p as u32, r.records.into(), r.next_offset)),
                    Ok(_) => {}
                    Err(SqlError::Log(weft_log::LogError::OffsetOutOfRange { earliest, .. })) if earliest > pos => {
                        self.inputs[idx].positions[p] = earliest;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let mut total = 0;
        loop {
            let next = batches
                .iter()
                .enumerate()
                .filter_map(|(i, b)| b.2.front().map(|r| (r.timestamp, b.0, i)))
                .min()
                .map(|(_, _, i)| i);
            let Some(i) = next else { break };
            let (idx, p) = (batches[i].0, batches[i].1);
            let Some(rec) = batches[i].2.pop_front() else { break };
            total += 1;
            self.process_record(idx, p, &rec)?;
        }
        if total == 0 {
            return Ok(0);
        }
        self.write_batch(batches.iter().map(|(idx, p, _, next)| (*idx, *p, *next)).collect())?;
        Ok(total)
    }

    fn process_record(&mut self, idx: usize, p: u32, rec: &weft_log::StoredRecord) -> Result<()> {
        let mut row = std::mem::take(&mut self.row);
        let decoded = self.inputs[idx].reader.decode(rec, p, &mut row);
        let result = self.process_decoded(idx, p, rec.offset, decoded, &row);
        self.row = row;
        result
    }

    /// Feeds one decoded input record (or counts its decoding error, as ksqlDB's processing log).
    fn process_decoded(
        &mut self,
        idx: usize,
        p: u32,
        offset: u64,
        decoded: std::result::Result<Decoded, DecodeError>,
        row: &[Value],
    ) -> Result<()> {
        self.stats.records_read += 1;
        if self.applied.get(&(idx as u8, p)).is_some_and(|a| offset <= *a) {
            return Ok(());
        }
        let origin = Origin { input: idx as u8, partition: p, offset };
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) if e.fails_query(self.throw_on_invalid_timestamp) => {
                return Err(e.into_query_error(&self.inputs[idx].topic, p, offset));
            }
            Err(e) => {
                self.stats.errors += 1;
                self.stats.last_error = Some(e.to_string());
                return Ok(());
            }
        };
        if let Err(e) = self.operator.process(idx, row, decoded, origin, &mut self.sink) {
            match e {
                // A function that fails the query (ksqlDB's StreamsException) stops it here.
                SqlError::Log(_) | SqlError::Processing(_) => return Err(e),
                other => {
                    self.stats.errors += 1;
                    self.stats.last_error = Some(other.to_string());
                }
            }
        }
        Ok(())
    }

    fn poll_partition(&mut self, idx: usize, p: u32, max_records: usize) -> Result<usize> {
        let pos = self.inputs[idx].positions[p as usize];
        let read = match self.prefetched.pop_front() {
            // A prefetched batch that found nothing may be stale: read again.
            Some(ahead) if ahead.at == (idx, p, pos) => match ahead.join() {
                Ok(batch) if batch.records.is_empty() => self.read_decoded(idx, p, pos, max_records, batch),
                other => other,
            },
            // Read-aheads that do not start here any more (the batch before ended early) are
            // dropped; their threads finish into buffers nobody takes.
            _ => {
                self.prefetched.clear();
                let spare = self.spare_batches.pop().unwrap_or_default();
                self.read_decoded(idx, p, pos, max_records, spare)
            }
        };
        let batch = match read {
            Ok(b) => b,
            Err(SqlError::Log(weft_log::LogError::OffsetOutOfRange { earliest, .. })) if earliest > pos => {
                self.inputs[idx].positions[p as usize] = earliest;
                self.prefetched.clear();
                return Ok(0);
            }
            Err(e) => {
                self.prefetched.clear();
                return Err(e);
            }
        };
        if batch.records.is_empty() {
            if batch.next_offset > pos {
                self.inputs[idx].positions[p as usize] = batch.next_offset;
            }
            self.spare_batches.push(batch);
            return Ok(0);
        }
        // What comes next is read and decoded while this batch is processed, into the buffers of
        // batches before (no allocation per record once warmed up): the next partition in polling
        // order, or, with one partition, the next ranges of it that the partition already holds.
        let polled = self.polled_partitions();
        let next = polled.iter().position(|q| *q == p).map_or(p, |i| polled[(i + 1) % polled.len()]);
        if next == p {
            // Ranges that the partition held when this batch was read, after those already started.
            let mut from = self.prefetched.back().map_or(Some(batch.next_offset), |ahead| ahead.until);
            while let Some(start) =
                from.filter(|f| batch.more && *f < batch.high_watermark && self.prefetched.len() < READ_AHEAD)
            {
                let until = start + max_records as u64;
                let spare = self.spare_batches.pop().unwrap_or_default();
                let ahead = self.read_ahead(idx, p, start, max_records, Some(until), spare);
                self.prefetched.push_back(ahead);
                from = Some(until);
            }
        } else if self.prefetched.is_empty() {
            // This partition's position moves past the batch only when the batch is written.
            let from = self.inputs[idx].positions[next as usize];
            let spare = self.spare_batches.pop().unwrap_or_default();
            let ahead = self.read_ahead(idx, next, from, max_records, None, spare);
            self.prefetched.push_back(ahead);
        }
        let n = batch.records.len();
        let rows = &batch.rows[..n];
        warm_rows(rows.get(..WARM_ROWS).unwrap_or(rows), &self.inputs[idx].read_slots);
        for (i, (offset, decoded)) in batch.records.iter().enumerate() {
            if i % WARM_ROWS == 0 {
                if let Some(ahead) = rows.get(i + WARM_ROWS..) {
                    warm_rows(&ahead[..ahead.len().min(WARM_ROWS)], &self.inputs[idx].read_slots);
                }
            }
            self.process_decoded(idx, p, *offset, decoded.clone(), &batch.rows[i])?;
        }
        let next_offset = batch.next_offset;
        self.spare_batches.push(batch);
        self.write_batch(vec![(idx, p, next_offset)])?;
        Ok(n)
    }

    /// Reads and decodes a batch of input `idx`, partition `p`, from `offset` on this thread.
    fn read_decoded(&self, idx: usize, p: u32, offset: u64, max: usize, buffers: DecodedBatch) -> Result<DecodedBatch> {
        let input = &self.inputs[idx];
        buffers.fill(&self.data, &input.topic, &input.reader, p, offset, max, None)
    }

    /// Starts reading and decoding the batch of input `idx`, partition `p`, from `offset` (and
    /// before `until`) on a read thread, the threads taking turns.
    fn read_ahead(
        &mut self,
        idx: usize,
        p: u32,
        offset: u64,
        max: usize,
        until: Option<u64>,
        buffers: DecodedBatch,
    ) -> ReadAhead {
        let input = &self.inputs[idx];
        let (data, topic, reader) = (self.data.clone(), input.topic.clone(), input.reader.clone());
        let worker = &mut self.read_workers[self.read_aheads_started % READ_AHEAD];
        self.read_aheads_started += 1;
        let handle = worker.run(move || buffers.fill(&data, &topic, &reader, p, offset, max, until));
        ReadAhead { at: (idx, p, offset), until, handle }
    }

    /// Drains all available input.
    pub fn run_until_idle(&mut self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.poll(BATCH_RECORDS)?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
}

impl QueryTask for PersistentQuery {
    fn poll(&mut self, max_records: usize) -> Result<usize> {
        PersistentQuery::poll(self, max_records)
    }

    fn commit_pending(&mut self) -> Result<()> {
        PersistentQuery::commit_pending(self)
    }

    fn recover(&mut self) -> Result<()> {
        PersistentQuery::recover(self)
    }

    fn input_partitions(&self) -> Vec<(String, u32)> {
        PersistentQuery::input_partitions(self)
    }

    fn stats(&self) -> &QueryStats {
        &self.stats
    }

    fn stats_mut(&mut self) -> &mut QueryStats {
        &mut self.stats
    }

    fn query_stats(&self) -> QueryStats {
        let mut stats = self.stats.clone();
        if !self.reads_query_input {
            stats.records_read = 0;
        }
        stats
    }

    fn table_snapshot(&self) -> Option<Vec<Row>> {
        PersistentQuery::table_snapshot(self)
    }
}

// ---- transient (push) queries ----

/// A row of a push or pull query, in projection order.
pub type Row = Vec<Value>;

struct Collector {
    rows: VecDeque<Row>,
    /// Tables: the latest row per key, so a push query over a table shows updates.
    include_tombstones: bool,
}

impl RowSink for Collector {
    fn emit(&mut self, change: Change<'_>, _origin: Origin) -> Result<()> {
        if change.tombstone && !self.include_tombstones {
            return Ok(());
        }
        self.rows.push_back(change.cols.iter().map(|c| c.clone().into_owned()).collect());
        Ok(())
    }
}

/// A push query (`SELECT ... EMIT CHANGES`): rows stream until the client stops or `LIMIT` is hit.
pub struct PushQuery {
    /// An id for the REST header (`transient_<SOURCE>_<n>`, ksqlDB style); set by the engine.
    pub id: String,
    data: DataPath,
    inputs: Vec<InputCursor>,
    operator: Operator,
    collector: Collector,
    row: Vec<Value>,
    limit: Option<u64>,
    emitted: u64,
    pub columns: Vec<crate::plan::OutputColumn>,
    receivers: Vec<tokio::sync::watch::Receiver<u64>>,
}

impl PushQuery {
    pub fn open(log: Arc<dyn EventLog>, data: DataPath, planned: PlannedQuery, start: StartFrom) -> Result<PushQuery> {
        let mut inputs = Vec::new();
        let mut receivers = Vec::new();
        for (i, source) in planned.inputs.iter().enumerate() {
            let needed = planned.operator.needed_columns(i, source.row_width());
            let cursor = InputCursor::open(log.as_ref(), &data, source, start, needed)?;
            for p in 0..cursor.positions.len() as u32 {
                receivers.push(log.subscribe(&source.topic, p)?);
            }
            inputs.push(cursor);
        }
        let mut operator = planned.operator;
        if let Some(op) = operator.join_mut() {
            for (idx, input) in inputs.iter().enumerate() {
                if op.is_table_input(idx) {
                    load_table_state(log.as_ref(), &data, input, &Part::Whole, &mut |row, d| {
                        op.load_table(idx, row, d)
                    })?;
                }
            }
        }
        Ok(PushQuery {
            id: String::new(),
            data,
            inputs,
            operator,
            collector: Collector { rows: VecDeque::new(), include_tombstones: false },
            row: Vec::new(),
            limit: planned.limit,
            emitted: 0,
            columns: planned.columns,
            receivers,
        })
    }

    /// Whether the query has produced its `LIMIT` of rows.
    pub fn is_done(&self) -> bool {
        self.limit.is_some_and(|l| self.emitted >= l)
    }

    /// The next rows, waiting up to `timeout` for input when none are ready. An empty result means
    /// no row arrived in time (or the query is done).
    pub fn next_rows(&mut self, timeout: Duration) -> Result<Vec<Row>> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_done() {
                return Ok(Vec::new());
            }
            self.pump()?;
            if !self.collector.rows.is_empty() {
                let mut out: Vec<Row> = self.collector.rows.drain(..).collect();
                if let Some(limit) = self.limit {
                    let room = (limit - self.emitted) as usize;
                    out.truncate(room);
                }
                self.emitted += out.len() as u64;
                return Ok(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            wait_for_change(&mut self.receivers, deadline - now);
        }
    }

    /// Every row the input available now produces (up to `LIMIT`): a scan, for pull queries over
    /// streams.
    /// Stops gathering past `max_rows` rows: an answer longer than `max_rows` says there were more.
    pub fn drain_available(&mut self, max_rows: usize) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        while !self.is_done() {
            let read = self.pump()?;
            let mut rows: Vec<Row> = self.collector.rows.drain(..).collect();
            if let Some(limit) = self.limit {
                rows.truncate((limit - self.emitted) as usize);
            }
            self.emitted += rows.len() as u64;
            out.extend(rows);
            if out.len() > max_rows {
                break;
            }
            if read == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// Processes one batch of every partition; returns how many records were read.
    fn pump(&mut self) -> Result<usize> {
        // One batch from every partition, processed in timestamp order (as persistent joins are).
        let mut records: Vec<(i64, usize, u32, weft_log::StoredRecord)> = Vec::new();
        for idx in 0..self.inputs.len() {
            for p in 0..self.inputs[idx].positions.len() {
                let input = &self.inputs[idx];
                let pos = input.positions[p];
                let read = match self.data.read(&input.topic, p as u32, pos, ReadLimits::default()) {
                    Ok(r) => r,
                    Err(SqlError::Log(weft_log::LogError::OffsetOutOfRange { earliest, .. })) if earliest > pos => {
                        self.inputs[idx].positions[p] = earliest;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                self.inputs[idx].positions[p] = read.next_offset.max(pos);
                records.extend(read.records.into_iter().map(|r| (r.timestamp, idx, p as u32, r)));
            }
        }
        if self.inputs.len() > 1 {
            records.sort_by_key(|(ts, idx, p, r)| (*ts, *idx, *p, r.offset));
        }
        for (_, idx, p, rec) in &records {
            let origin = Origin { input: *idx as u8, partition: *p, offset: rec.offset };
            let Ok(decoded) = self.inputs[*idx].reader.decode(rec, *p, &mut self.row) else { continue };
            // Evaluation problems drop the row, as in persistent queries.
            let _ = self.operator.process(*idx, &self.row, decoded, origin, &mut self.collector);
        }
        Ok(records.len())
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Blocks until one of `receivers` sees a new high watermark or `timeout` passes.
pub fn wait_for_change(receivers: &mut [tokio::sync::watch::Receiver<u64>], timeout: Duration) -> bool {
    if receivers.is_empty() {
        std::thread::sleep(timeout.min(Duration::from_millis(50)));
        return false;
    }
    let waker = Arc::new(ThreadWaker(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + timeout;
    type Changed<'a> =
        Pin<Box<dyn Future<Output = std::result::Result<(), tokio::sync::watch::error::RecvError>> + 'a>>;
    let mut futures: Vec<Changed<'_>> = receivers.iter_mut().map(|r| Box::pin(r.changed()) as Changed<'_>).collect();
    loop {
        for f in futures.iter_mut() {
            match f.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(())) => return true,
                Poll::Ready(Err(_)) => {
                    // The partition went away: do not spin.
                    std::thread::sleep(Duration::from_millis(10));
                    return true;
                }
                Poll::Pending => {}
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::park_timeout(deadline - now);
    }
}

/// Materializes a table's topic: the latest row per key (pull queries).
/// A table with more than `max_keys` keys is refused rather than held in memory whole.
pub fn materialize(
    log: &dyn EventLog,
    data: &DataPath,
    source: &SourceDef,
    max_keys: usize,
) -> Result<BTreeMap<Vec<u8>, Row>> {
    data.check_read(&source.topic)?;
    let reader = source.reader()?;
    let partitions = log.describe_topic(&source.topic)?.partitions.len() as u32;
    let mut out = BTreeMap::new();
    let mut row = Vec::new();
    for p in 0..partitions {
        let (mut offset, end) = log.offsets(&source.topic, p)?;
        while offset < end {
            let r = data.read(&source.topic, p, offset, ReadLimits { max_records: 5000, ..ReadLimits::default() })?;
            if r.records.is_empty() {
                break;
            }
            for rec in &r.records {
                let Some(key) = rec.key.clone() else { continue };
                match reader.decode(rec, p, &mut row) {
                    Ok(Decoded::Row) => {
                        out.insert(key, row.clone());
                        if out.len() > max_keys {
                            return Err(SqlError::analysis(format!(
                                "table {} has more than {max_keys} keys: a pull query over a table no persistent \
                                 query maintains reads its whole topic; derive it with CREATE TABLE ... AS SELECT",
                                source.name
                            )));
                        }
                    }
                    Ok(Decoded::Tombstone) => {
                        out.remove(&key);
                    }
                    Err(_) => {}
                }
            }
            offset = r.next_offset;
        }
    }
    Ok(out)
}
