//! The value of a changelog record: one state entry, in a compact binary encoding written once per
//! changed entry and batch (the hot path of every stateful query), read only on restore.
//!
//! Version 1 (the first byte; a value of the older JSON encoding starts with `{`, which restore still
//! reads, so changelogs written before this encoding replay as they are):
//!
//! ```text
//! 0x01  flags (1 = emitted, 2 = HAVING passed, 4 = windowed)  max timestamp: i64
//! [window start: i64  window end: i64]   when windowed
//! one accumulator per aggregate of the query, in SELECT order:
//!   COUNT            i64
//!   AVG              sum: f64, count: i64
//!   STDDEV_*         count: i64, mean: f64, m2: f64
//!   CORRELATION      count: i64, then the sums x, y, xy, xx, yy: f64 each
//!   SUM, MIN, MAX    value
//!   *_BY_OFFSET      value, offset: i64
//!   the others       u32 length, then the accumulator's JSON (as the JSON encoding wrote it)
//! value: a tag, then 0 null | 1 BOOLEAN u8 | 2 INT i32 | 3 BIGINT i64 | 4 DOUBLE f64 bits |
//!        5 STRING u32 length, UTF-8 | 255 u32 length, the value's JSON as ksqlDB writes it
//! ```
//!
//! Integers are little-endian. The group values are not repeated: they are the record's key (each
//! group value's JSON followed by a 0 byte, which JSON text cannot contain, then the window bounds).

use super::{Acc, AggSpec, Entry};
use crate::format::{from_json_slice, write_json, WindowBounds};
use crate::types::{SqlType, Value};

/// The first byte of a version-1 value.
pub(super) const VERSION_1: u8 = 1;

const EMITTED: u8 = 1;
const HAVING_PASSED: u8 = 2;
const WINDOWED: u8 = 4;

/// Appends `entry` (without its group values, which the key holds) to `buf`.
pub(super) fn encode(buf: &mut Vec<u8>, entry: &Entry, aggs: &[AggSpec]) {
    let mut flags = 0;
    if entry.emitted {
        flags |= EMITTED;
    }
    if entry.having_passed {
        flags |= HAVING_PASSED;
    }
    if entry.window.is_some() {
        flags |= WINDOWED;
    }
    buf.extend_from_slice(&[VERSION_1, flags]);
    buf.extend_from_slice(&entry.max_ts.to_le_bytes());
    if let Some(w) = entry.window {
        buf.extend_from_slice(&w.start.to_le_bytes());
        buf.extend_from_slice(&w.end.to_le_bytes());
    }
    for (spec, acc) in aggs.iter().zip(&entry.accs) {
        match acc {
            Acc::Count(n) => buf.extend_from_slice(&n.to_le_bytes()),
            Acc::Avg { sum, count } => {
                buf.extend_from_slice(&sum.to_bits().to_le_bytes());
                buf.extend_from_slice(&count.to_le_bytes());
            }
            Acc::Moments { count, mean, m2 } => {
                buf.extend_from_slice(&count.to_le_bytes());
                buf.extend_from_slice(&mean.to_bits().to_le_bytes());
                buf.extend_from_slice(&m2.to_bits().to_le_bytes());
            }
            Acc::Sums { count, sums } => {
                buf.extend_from_slice(&count.to_le_bytes());
                for x in sums {
                    buf.extend_from_slice(&x.to_bits().to_le_bytes());
                }
            }
            Acc::Sum(v) => write_value(buf, v, &spec.result_type),
            Acc::Extreme(v) => write_value(buf, v, &spec.arg_type),
            Acc::ByOffset { value, offset } => {
                write_value(buf, value, &spec.arg_type);
                buf.extend_from_slice(&offset.to_le_bytes());
            }
            Acc::Distinct(_) | Acc::ByOffsetN(_) | Acc::List(_) | Acc::Counts(_) => {
                let json = serde_json::to_vec(&spec.to_json(acc)).unwrap_or_default();
                write_len(buf, json.len());
                buf.extend_from_slice(&json);
            }
        }
    }
}

/// The entry of a version-1 value under `key`; `None` when the bytes do not describe one of this
/// query's entries (restore then skips the record, as it skips undecodable JSON).
pub(super) fn decode(key: &[u8], bytes: &[u8], aggs: &[AggSpec], group_types: &[SqlType]) -> Option<Entry> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION_1 {
        return None;
    }
    let flags = r.u8()?;
    let max_ts = r.i64()?;
    let window = if flags & WINDOWED != 0 { Some(WindowBounds { start: r.i64()?, end: r.i64()? }) } else { None };
    let mut accs = Vec::with_capacity(aggs.len());
    for spec in aggs {
        let mut acc = spec.init();
        match &mut acc {
            Acc::Count(n) => *n = r.i64()?,
            Acc::Avg { sum, count } => {
                *sum = r.f64()?;
                *count = r.i64()?;
            }
            Acc::Moments { count, mean, m2 } => {
                *count = r.i64()?;
                *mean = r.f64()?;
                *m2 = r.f64()?;
            }
            Acc::Sums { count, sums } => {
                *count = r.i64()?;
                for x in sums.iter_mut() {
                    *x = r.f64()?;
                }
            }
            Acc::Sum(v) => *v = r.value(&spec.result_type)?,
            Acc::Extreme(v) => *v = r.value(&spec.arg_type)?,
            Acc::ByOffset { value, offset } => {
                *value = r.value(&spec.arg_type)?;
                *offset = r.i64()?;
            }
            Acc::Distinct(_) | Acc::ByOffsetN(_) | Acc::List(_) | Acc::Counts(_) => {
                let json: serde_json::Value = serde_json::from_slice(r.sized()?).ok()?;
                acc = spec.acc_from_json(&json)?;
            }
        }
        accs.push(acc);
    }
    if !r.0.is_empty() {
        return None;
    }
    let group_bytes = if window.is_some() { key.get(..key.len().checked_sub(16)?)? } else { key };
    // The group values are read back from the key when needed; a key that holds none of this
    // query's groups is no entry of it.
    group_values(group_bytes, group_types)?;
    Some(Entry { window, accs, max_ts, emitted: flags & EMITTED != 0, having_passed: flags & HAVING_PASSED != 0 })
}

/// The group values of a state key's group bytes: each value's JSON, then a 0 byte.
pub(super) fn group_values(mut bytes: &[u8], types: &[SqlType]) -> Option<Vec<Value>> {
    let mut values = Vec::with_capacity(types.len());
    for ty in types {
        let end = bytes.iter().position(|b| *b == 0)?;
        values.push(from_json_slice(&bytes[..end], ty).ok()?);
        bytes = &bytes[end + 1..];
    }
    bytes.is_empty().then_some(values)
}

fn write_len(buf: &mut Vec<u8>, len: usize) {
    // Changelog values are far below 4 GiB (the log refuses larger batches); saturate rather than wrap.
    buf.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn write_value(buf: &mut Vec<u8>, v: &Value, ty: &SqlType) {
    match v {
        Value::Null => buf.push(0),
        Value::Bool(b) => buf.extend_from_slice(&[1, u8::from(*b)]),
        Value::Int(i) => {
            buf.push(2);
            buf.extend_from_slice(&i.to_le_bytes());
        }
        Value::Bigint(i) => {
            buf.push(3);
            buf.extend_from_slice(&i.to_le_bytes());
        }
        Value::Double(d) => {
            buf.push(4);
            buf.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            buf.push(5);
            write_len(buf, s.len());
            buf.extend_from_slice(s.as_bytes());
        }
        other => {
            buf.push(255);
            let at = buf.len();
            buf.extend_from_slice(&[0; 4]);
            write_json(buf, other, ty);
            let len = u32::try_from(buf.len() - at - 4).unwrap_or(u32::MAX);
            buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
        }
    }
}

/// A cursor over a value's bytes; every read is `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_bits(u64::from_le_bytes(self.take(8)?.try_into().ok()?)))
    }

    fn sized(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        self.take(usize::try_from(len).ok()?)
    }

    fn value(&mut self, ty: &SqlType) -> Option<Value> {
        Some(match self.u8()? {
            0 => Value::Null,
            1 => Value::Bool(self.u8()? != 0),
            2 => Value::Int(i32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            3 => Value::Bigint(self.i64()?),
            4 => Value::Double(self.f64()?),
            5 => Value::String(String::from_utf8(self.sized()?.to_vec()).ok()?),
            255 => from_json_slice(self.sized()?, ty).ok()?,
            _ => return None,
        })
    }
}
