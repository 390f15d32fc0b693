//! The first stage of an aggregation whose groups span its input's partitions (its grouping
//! columns are not the input's key): input records are copied, as they are, to the query's
//! repartition topic (`_weft_sql_<id>_repartition`, as many partitions as the input), each to the
//! partition of its group, so that each partition of that topic holds whole groups and the
//! aggregation runs as one task per partition of it (`Part::Keyed`), as ksqlDB repartitions a
//! `GROUP BY` through an internal topic.
//!
//! Copying the bytes (not the decoded row) keeps the second stage's input exactly the first's: the
//! same format, schema ids, key and timestamp; only `ROWPARTITION` and `ROWOFFSET` name the
//! repartition topic's, as in ksqlDB. Records the aggregation would drop (its WHERE fails, a
//! grouping value is null, the record does not decode) are not copied.
//!
//! Exactly once, as the module docs of `runtime` describe for a query's output: the last record an
//! input partition contributes to an append carries an origin header (tagged `<id>/repartition`),
//! input positions are committed after the appends (consumer group `_weft_sql_<id>_repartition`)
//! with the repartition topic's end offsets as metadata, and a reopened stage scans the topic from
//! there and skips what it already copied.

use std::collections::HashMap;
use std::sync::Arc;

use weft_log::{partition_for, EventLog, ReadLimits, Record};

use super::ORIGIN_HEADER;
use super::{origin_header, CommitMeta, InputCursor, Origin, QueryStats, QueryTask, Row, StartFrom};
use crate::access::DataPath;
use crate::aggregate::AggregateOp;
use crate::error::{Result, SqlError};
use crate::metastore::Decoded;
use crate::plan::Operator;
use crate::types::Value;

/// The repartition topic of query `id`.
pub fn repartition_topic(id: &str) -> String {
    format!("_weft_sql_{id}_repartition")
}

/// Copies some partitions of an aggregation's input to its repartition topic.
pub struct Repartitioner {
    id: String,
    /// The origin tag of its appends (distinct from the query's own, which marks its output).
    tag: String,
    group: String,
    log: Arc<dyn EventLog>,
    data: DataPath,
    input: InputCursor,
    grouping: Box<AggregateOp>,
    topic: String,
    partitions: u32,
    owned: Vec<u32>,
    /// Per input partition: per repartition partition, the last input offset already copied
    /// (learnt on opening, for the records a previous run copied but did not commit).
    copied: HashMap<u32, Vec<Option<u64>>>,
    row: Vec<Value>,
    group_buf: Vec<u8>,
    stats: QueryStats,
    rebuild: SharedRebuild,
    /// See [`super::PersistentQuery::throw_on_invalid_timestamp`].
    throw_on_invalid_timestamp: bool,
}

/// Plans the aggregation again, for each opening of its stages.
pub type SharedRebuild = Arc<dyn Fn() -> Result<crate::plan::PlannedQuery> + Send + Sync>;

impl Repartitioner {
    /// Opens the stage for the input partitions `owned` of the aggregation `rebuild` plans,
    /// resuming from its committed positions when it has any; the first stage of a new query pins
    /// its start for every input partition.
    pub fn open(
        id: &str,
        log: Arc<dyn EventLog>,
        data: DataPath,
        rebuild: SharedRebuild,
        owned: Vec<u32>,
        start: StartFrom,
    ) -> Result<Repartitioner> {
        let planned = rebuild()?;
        let (Some(source), Operator::Aggregate(grouping)) = (planned.inputs.first(), planned.operator) else {
            return Err(SqlError::analysis(format!("query {id}: only an aggregation of one input is repartitioned")));
        };
        let mut mask = vec![false; source.row_width()];
        grouping.mark_columns(&mut mask);
        let mut input = InputCursor::open(log.as_ref(), &data, source, start, Some(mask))?;
        let topic = repartition_topic(id);
        let partitions = log.describe_topic(&topic)?.partitions.len() as u32;
        let group = format!("_weft_sql_{id}_repartition");
        let tag = format!("{id}/repartition");
        let all_committed = log.committed_offsets(&group)?;
        let mut copied = HashMap::new();
        if all_committed.is_empty() {
            let meta = commit_meta(log.as_ref(), &topic, partitions)?;
            for (p, pos) in input.positions.iter().enumerate() {
                log.commit_offset(&group, &input.topic, p as u32, *pos, &meta)?;
            }
        } else {
            let mut scan_from: Option<Vec<u64>> = None;
            for c in all_committed.iter().filter(|c| c.topic == input.topic && owned.contains(&c.partition)) {
                if let Some(pos) = input.positions.get_mut(c.partition as usize) {
                    *pos = c.offset;
                }
                let meta: CommitMeta = serde_json::from_str(&c.metadata).unwrap_or_default();
                scan_from = Some(match scan_from {
                    None => meta.outputs,
                    Some(prev) => prev
                        .iter()
                        .zip(meta.outputs.iter().chain(std::iter::repeat(&0)))
                        .map(|(a, b)| *a.min(b))
                        .collect(),
                });
            }
            let scan_from = scan_from.unwrap_or_default();
            // One input: the origins differ by partition alone.
            copied = super::written_origins(log.as_ref(), &topic, partitions, &scan_from, &tag)?
                .into_iter()
                .map(|((_, partition), offsets)| (partition, offsets))
                .collect();
        }
        Ok(Repartitioner {
            id: id.to_string(),
            tag,
            group,
            log,
            data,
            input,
            grouping,
            topic,
            partitions,
            owned,
            copied,
            row: Vec::new(),
            group_buf: Vec::new(),
            stats: QueryStats::default(),
            rebuild,
            throw_on_invalid_timestamp: false,
        })
    }

    /// See [`super::PersistentQuery::throw_on_invalid_timestamp`].
    pub fn throw_on_invalid_timestamp(&mut self) {
        self.throw_on_invalid_timestamp = true;
    }

    /// Copies one batch of input partition `p`; returns how many input records it read.
    fn poll_partition(&mut self, p: u32, max_records: usize) -> Result<usize> {
        let pos = self.input.positions[p as usize];
        let limits = ReadLimits { max_records, ..ReadLimits::default() };
        let read = match self.data.read(&self.input.topic, p, pos, limits) {
            Ok(r) => r,
            Err(SqlError::Log(weft_log::LogError::OffsetOutOfRange { earliest, .. })) if earliest > pos => {
                self.input.positions[p as usize] = earliest;
                return Ok(0);
            }
            Err(e) => return Err(e),
        };
        if read.records.is_empty() {
            self.input.positions[p as usize] = read.next_offset.max(pos);
            return Ok(0);
        }
        let n = read.records.len();
        let mut pending: Vec<Vec<Record>> = vec![Vec::new(); self.partitions as usize];
        let mut last_offset: Vec<Option<u64>> = vec![None; self.partitions as usize];
        let copied = self.copied.get(&p);
        for rec in read.records {
            self.stats.records_read += 1;
            match self.input.reader.decode(&rec, p, &mut self.row) {
                Ok(Decoded::Row) => {}
                // The aggregation of a stream ignores records without a value.
                Ok(_) => continue,
                Err(e) if e.fails_query(self.throw_on_invalid_timestamp) => {
                    return Err(e.into_query_error(&self.input.topic, p, rec.offset));
                }
                Err(e) => {
                    self.stats.errors += 1;
                    self.stats.last_error = Some(e.to_string());
                    continue;
                }
            }
            if !self.grouping.write_group_of(&self.row, &mut self.group_buf) {
                continue;
            }
            let q = partition_for(Some(&self.group_buf), self.partitions, 0) as usize;
            if copied.is_some_and(|c| c[q].is_some_and(|done| rec.offset <= done)) {
                continue;
            }
            // Origin headers are the platform's own marks: the copy carries this stage's alone.
            let headers = rec.headers.into_iter().filter(|h| h.key != ORIGIN_HEADER).collect();
            pending[q].push(Record { key: rec.key, value: rec.value, headers, timestamp: Some(rec.timestamp) });
            last_offset[q] = Some(rec.offset);
        }
        let (log, topic) = (&self.log, &self.topic);
        std::thread::scope(|scope| -> Result<()> {
            let appends: Vec<_> = pending
                .into_iter()
                .zip(&last_offset)
                .enumerate()
                .filter(|(_, (records, _))| !records.is_empty())
                .map(|(q, (mut records, last))| {
                    if let (Some(offset), Some(record)) = (last, records.last_mut()) {
                        let origin = Origin { input: 0, partition: p, offset: *offset };
                        record.headers.push(origin_header(&self.tag, origin));
                    }
                    scope.spawn(move || log.append(topic, q as u32, records))
                })
                .collect();
            for append in appends {
                append.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?;
            }
            Ok(())
        })?;
        self.stats.records_written += last_offset.iter().flatten().count() as u64;
        let meta = commit_meta(self.log.as_ref(), &self.topic, self.partitions)?;
        self.log.commit_offset(&self.group, &self.input.topic, p, read.next_offset, &meta)?;
        self.input.positions[p as usize] = read.next_offset;
        Ok(n)
    }
}

/// The commit metadata of a position: the repartition topic's end offsets now.
fn commit_meta(log: &dyn EventLog, topic: &str, partitions: u32) -> Result<String> {
    let outputs = (0..partitions).map(|q| Ok(log.offsets(topic, q)?.1)).collect::<Result<Vec<u64>>>()?;
    Ok(serde_json::to_string(&CommitMeta { outputs, changelog: None }).unwrap_or_default())
}

impl QueryTask for Repartitioner {
    fn poll(&mut self, max_records: usize) -> Result<usize> {
        let mut total = 0;
        for p in self.owned.clone() {
            total += self.poll_partition(p, max_records)?;
        }
        Ok(total)
    }

    fn commit_pending(&mut self) -> Result<()> {
        // Every batch is committed as it is copied.
        Ok(())
    }

    fn recover(&mut self) -> Result<()> {
        let (log, data, owned) = (self.log.clone(), self.data.clone(), self.owned.clone());
        let mut fresh = Repartitioner::open(&self.id, log, data, self.rebuild.clone(), owned, StartFrom::Earliest)?;
        fresh.stats = std::mem::take(&mut self.stats);
        fresh.stats.failing = false;
        fresh.throw_on_invalid_timestamp = self.throw_on_invalid_timestamp;
        *self = fresh;
        Ok(())
    }

    fn input_partitions(&self) -> Vec<(String, u32)> {
        self.owned.iter().map(|p| (self.input.topic.clone(), *p)).collect()
    }

    fn stats(&self) -> &QueryStats {
        &self.stats
    }

    fn stats_mut(&mut self) -> &mut QueryStats {
        &mut self.stats
    }

    /// The records of the query's input it read; what it writes is internal.
    fn query_stats(&self) -> QueryStats {
        QueryStats { records_written: 0, ..self.stats.clone() }
    }

    /// Holds none of the table's rows.
    fn table_snapshot(&self) -> Option<Vec<Row>> {
        Some(Vec::new())
    }
}
