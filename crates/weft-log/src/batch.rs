//! The one place where records are encoded: the on-disk batch format.
//!
//! A segment file is a sequence of batches. All integers are little-endian.
//!
//! ```text
//! batch header (HEADER_LEN = 44 bytes)
//!   0  u64  base_offset        offset of the first record in the batch
//!   8  u32  length             bytes that follow this field (32 + records)
//!  12  u32  crc                CRC32C of base_offset followed by every byte after this field
//!  16  u8   magic              FORMAT_MAGIC
//!  17  u8   attributes         reserved, 0
//!  18  u16  reserved           0
//!  20  u32  record_count       at least 1
//!  24  i64  min_timestamp
//!  32  i64  max_timestamp
//!  40  u32  last_offset_delta  offset of the last record minus base_offset
//! records, record_count times
//!      u32  offset_delta       strictly increasing within a batch (compaction leaves gaps)
//!      i64  timestamp
//!      i32  key length, -1 for null; then the key bytes
//!      i32  value length, -1 for null; then the value bytes
//!      u32  header count; per header: u32 name length, name (UTF-8), i32 value length (-1 null), value
//! ```
//!
//! A batch is valid only when its length fits the file, its CRC matches and its records decode to
//! exactly `length` bytes; anything else at the tail of the active segment is a torn write.

use crate::{Header, StoredRecord};

pub(crate) const HEADER_LEN: usize = 44;
pub(crate) const FORMAT_MAGIC: u8 = 1;
/// Bytes of the header covered by `length` (everything after the length field itself).
const LENGTH_PREFIX: usize = 12;

/// The fixed fields of a decoded batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub base_offset: u64,
    /// Total size of the batch on disk, header included.
    pub total_len: usize,
    pub crc: u32,
    pub record_count: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    pub last_offset_delta: u32,
}

impl BatchHeader {
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// Parses the fixed header; `None` when the bytes cannot be a header (torn or corrupt).
    pub fn parse(bytes: &[u8]) -> Option<BatchHeader> {
        if bytes.len() < HEADER_LEN || bytes[16] != FORMAT_MAGIC {
            return None;
        }
        let length = u32_at(bytes, 8) as usize;
        if length < HEADER_LEN - LENGTH_PREFIX {
            return None;
        }
        let header = BatchHeader {
            base_offset: u64_at(bytes, 0),
            total_len: length + LENGTH_PREFIX,
            crc: u32_at(bytes, 12),
            record_count: u32_at(bytes, 20),
            min_timestamp: u64_at(bytes, 24) as i64,
            max_timestamp: u64_at(bytes, 32) as i64,
            last_offset_delta: u32_at(bytes, 40),
        };
        (header.record_count > 0).then_some(header)
    }

    /// Whether `batch` (exactly `total_len` bytes) matches its checksum.
    pub fn checksum_ok(&self, batch: &[u8]) -> bool {
        batch.len() == self.total_len && batch_crc(batch) == self.crc
    }
}

/// The checksum covers the base offset too, so a batch moved to the wrong offset is caught.
fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&batch[0..8]), &batch[16..])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(buf)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(buf)
}

/// The size one record takes in a batch.
pub(crate) fn encoded_record_len(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
    4 + 8
        + 4
        + key.map_or(0, <[u8]>::len)
        + 4
        + value.map_or(0, <[u8]>::len)
        + 4
        + headers.iter().map(|h| 4 + h.key.len() + 4 + h.value.as_ref().map_or(0, Vec::len)).sum::<usize>()
}

/// Builds batches into a reusable buffer, so appending allocates nothing once warmed up.
#[derive(Default)]
pub(crate) struct BatchBuilder {
    buf: Vec<u8>,
    record_count: u32,
    min_timestamp: i64,
    max_timestamp: i64,
    last_offset_delta: u32,
}

impl BatchBuilder {
    pub fn start(&mut self, base_offset: u64, expected_len: usize) {
        self.buf.clear();
        self.buf.reserve(HEADER_LEN + expected_len);
        self.buf.extend_from_slice(&base_offset.to_le_bytes());
        self.buf.resize(HEADER_LEN, 0);
        self.record_count = 0;
        self.min_timestamp = i64::MAX;
        self.max_timestamp = i64::MIN;
        self.last_offset_delta = 0;
    }

    pub fn push(
        &mut self,
        offset_delta: u32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) {
        let buf = &mut self.buf;
        buf.extend_from_slice(&offset_delta.to_le_bytes());
        buf.extend_from_slice(&timestamp.to_le_bytes());
        for field in [key, value] {
            match field {
                Some(bytes) => {
                    buf.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                    buf.extend_from_slice(bytes);
                }
                None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        buf.extend_from_slice(&(headers.len() as u32).to_le_bytes());
        for header in headers {
            buf.extend_from_slice(&(header.key.len() as u32).to_le_bytes());
            buf.extend_from_slice(header.key.as_bytes());
            match &header.value {
                Some(v) => {
                    buf.extend_from_slice(&(v.len() as i32).to_le_bytes());
                    buf.extend_from_slice(v);
                }
                None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        self.record_count += 1;
        self.min_timestamp = self.min_timestamp.min(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.last_offset_delta = offset_delta;
    }

    #[cfg(test)]
    pub fn push_record(&mut self, offset_delta: u32, timestamp: i64, record: &crate::Record) {
        self.push(offset_delta, timestamp, record.key.as_deref(), record.value.as_deref(), &record.headers);
    }

    pub fn record_count(&self) -> u32 {
        self.record_count
    }

    /// Fills in the header and returns the finished batch.
    pub fn finish(&mut self) -> &[u8] {
        let length = (self.buf.len() - LENGTH_PREFIX) as u32;
        self.buf[8..12].copy_from_slice(&length.to_le_bytes());
        self.buf[16] = FORMAT_MAGIC;
        self.buf[17] = 0;
        self.buf[18..20].copy_from_slice(&0u16.to_le_bytes());
        self.buf[20..24].copy_from_slice(&self.record_count.to_le_bytes());
        self.buf[24..32].copy_from_slice(&self.min_timestamp.to_le_bytes());
        self.buf[32..40].copy_from_slice(&self.max_timestamp.to_le_bytes());
        self.buf[40..44].copy_from_slice(&self.last_offset_delta.to_le_bytes());
        let crc = batch_crc(&self.buf);
        self.buf[12..16].copy_from_slice(&crc.to_le_bytes());
        &self.buf
    }
}

/// A record decoded in place from a batch, borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: u32,
    /// Bytes the record takes in the batch.
    pub encoded_len: usize,
}

impl RecordView<'_> {
    pub fn headers(&self) -> Vec<Header> {
        let mut cursor = Cursor { bytes: self.headers, pos: 0 };
        (0..self.header_count)
            .filter_map(|_| {
                let key = cursor.bytes_field(false)?.unwrap_or_default();
                let value = cursor.bytes_field(true)?;
                Some(Header { key: String::from_utf8_lossy(key).into_owned(), value: value.map(<[u8]>::to_vec) })
            })
            .collect()
    }

    pub fn header_bytes(&self) -> (u32, &[u8]) {
        (self.header_count, self.headers)
    }

    pub fn to_stored(&self) -> StoredRecord {
        StoredRecord {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers(),
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32_at(b, 0))
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8).map(|b| u64_at(b, 0) as i64)
    }
    /// A length-prefixed field; `nullable` fields use length -1 for null.
    fn bytes_field(&mut self, nullable: bool) -> Option<Option<&'a [u8]>> {
        let len = self.u32()? as i32;
        if len == -1 && nullable {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        self.take(len).map(Some)
    }
}

/// Decodes every record of a batch whose checksum was verified. `None` when the records do not
/// decode to exactly the batch's length (which a valid checksum makes a bug or a forged batch).
pub(crate) fn decode_records<'a>(header: &BatchHeader, batch: &'a [u8]) -> Option<Vec<RecordView<'a>>> {
    let mut out = Vec::with_capacity(header.record_count as usize);
    for_each_record(header, batch, |r| {
        out.push(r);
        true
    })?;
    Some(out)
}

/// Visits the records of a verified batch in order until `visit` returns false.
/// Returns `None` when the batch's records are malformed.
pub(crate) fn for_each_record<'a>(
    header: &BatchHeader,
    batch: &'a [u8],
    mut visit: impl FnMut(RecordView<'a>) -> bool,
) -> Option<()> {
    let mut cursor = Cursor { bytes: batch, pos: HEADER_LEN };
    let mut previous_delta: Option<u32> = None;
    for _ in 0..header.record_count {
        let start = cursor.pos;
        let delta = cursor.u32()?;
        if previous_delta.is_some_and(|p| delta <= p) || delta > header.last_offset_delta {
            return None;
        }
        previous_delta = Some(delta);
        let timestamp = cursor.i64()?;
        let key = cursor.bytes_field(true)?;
        let value = cursor.bytes_field(true)?;
        let header_count = cursor.u32()?;
        let headers_start = cursor.pos;
        for _ in 0..header_count {
            cursor.bytes_field(false)?;
            cursor.bytes_field(true)?;
        }
        let view = RecordView {
            offset: header.base_offset + u64::from(delta),
            timestamp,
            key,
            value,
            headers: &batch[headers_start..cursor.pos],
            header_count,
            encoded_len: cursor.pos - start,
        };
        if !visit(view) {
            return Some(());
        }
    }
    (cursor.pos == batch.len() && previous_delta == Some(header.last_offset_delta)).then_some(())
}

/// Re-encodes selected records of a batch (compaction) with their original offsets.
pub(crate) fn push_view(builder: &mut BatchBuilder, base_offset: u64, record: &RecordView<'_>) {
    let (count, raw_headers) = record.header_bytes();
    let buf = &mut builder.buf;
    let delta = (record.offset - base_offset) as u32;
    buf.extend_from_slice(&delta.to_le_bytes());
    buf.extend_from_slice(&record.timestamp.to_le_bytes());
    for field in [record.key, record.value] {
        match field {
            Some(bytes) => {
                buf.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                buf.extend_from_slice(bytes);
            }
            None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
        }
    }
    buf.extend_from_slice(&count.to_le_bytes());
    buf.extend_from_slice(raw_headers);
    builder.record_count += 1;
    builder.min_timestamp = builder.min_timestamp.min(record.timestamp);
    builder.max_timestamp = builder.max_timestamp.max(record.timestamp);
    builder.last_offset_delta = delta;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    fn sample() -> Vec<Record> {
        vec![
            Record { key: Some(b"k1".to_vec()), value: Some(b"v1".to_vec()), headers: vec![], timestamp: Some(5) },
            Record {
                key: None,
                value: None,
                headers: vec![
                    Header { key: "trace".into(), value: Some(b"abc".to_vec()) },
                    Header { key: "empty".into(), value: None },
                ],
                timestamp: Some(3),
            },
        ]
    }

    #[test]
    fn round_trip() {
        let records = sample();
        let mut builder = BatchBuilder::default();
        builder.start(100, 0);
        for (i, r) in records.iter().enumerate() {
            builder.push_record(i as u32, r.timestamp.unwrap(), r);
        }
        let bytes = builder.finish().to_vec();
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.base_offset, 100);
        assert_eq!(header.total_len, bytes.len());
        assert_eq!((header.min_timestamp, header.max_timestamp), (3, 5));
        assert_eq!(header.last_offset(), 101);
        assert!(header.checksum_ok(&bytes));
        let decoded = decode_records(&header, &bytes).unwrap();
        assert_eq!(decoded.len(), 2);
        for (view, original) in decoded.iter().zip(&records) {
            let stored = view.to_stored();
            assert_eq!(stored.key, original.key);
            assert_eq!(stored.value, original.value);
            assert_eq!(stored.headers, original.headers);
            assert_eq!(Some(stored.timestamp), original.timestamp);
        }
        let expected_len: usize =
            records.iter().map(|r| encoded_record_len(r.key.as_deref(), r.value.as_deref(), &r.headers)).sum();
        assert_eq!(bytes.len(), HEADER_LEN + expected_len);
    }

    #[test]
    fn any_flipped_byte_is_detected() {
        let records = sample();
        let mut builder = BatchBuilder::default();
        builder.start(0, 0);
        for (i, r) in records.iter().enumerate() {
            builder.push_record(i as u32, 1, r);
        }
        let bytes = builder.finish().to_vec();
        for i in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[i] ^= 0x40;
            let intact = BatchHeader::parse(&corrupt)
                .is_some_and(|h| h.checksum_ok(&corrupt) && decode_records(&h, &corrupt).is_some());
            assert!(!intact, "flip at byte {i} went undetected");
        }
    }
}
