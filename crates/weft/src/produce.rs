//! `weft produce`: JSON lines to produce requests.
//!
//! A file is read twice: first every line is checked (so a bad line is reported as `line N: <why>` and
//! nothing is written), then the records are sent in batches. Standard input cannot be read twice, so it
//! is sent batch by batch as it arrives, and a bad line stops the command after the batches before it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::Path;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};

use crate::client::{encode, Client};

/// Fields a full record (`--records`) may have; the server documents their meaning.
const RECORD_FIELDS: [&str; 5] = ["key", "value", "headers", "timestamp", "partition"];
/// A batch is sent early once its JSON reaches this size, to stay under the server's body limit.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Files larger than this get a progress bar (when standard error is a terminal).
const PROGRESS_MIN_BYTES: u64 = 4 * 1024 * 1024;

/// How each input line becomes a record.
#[derive(Debug, Clone)]
pub enum LineFormat {
    /// Each line is a record object: `{"key": .., "value": .., "headers": {..}, "timestamp": .., "partition": ..}`.
    Records,
    /// Each line is a value; the key is the value's field `key_field` when given, else null.
    Values { key_field: Option<String> },
}

/// Turns one line into a produce-request record; `None` for a blank line. `partitions` bounds `partition`.
pub fn parse_line(line: &str, format: &LineFormat, partitions: u32) -> Result<Option<Value>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let parsed: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let record = match format {
        LineFormat::Records => {
            let Value::Object(record) = parsed else {
                return Err("expected a record object like {\"key\": ..., \"value\": ...}".into());
            };
            check_record(&record, partitions)?;
            Value::Object(record)
        }
        LineFormat::Values { key_field: None } => serde_json::json!({ "value": parsed }),
        LineFormat::Values { key_field: Some(field) } => {
            let key = match parsed.get(field) {
                Some(key) => key.clone(),
                None if parsed.is_object() => return Err(format!("the value has no field '{field}' (--key-field)")),
                None => return Err(format!("expected a JSON object with the field '{field}' (--key-field)")),
            };
            serde_json::json!({ "key": key, "value": parsed })
        }
    };
    Ok(Some(record))
}

/// The checks the server would make, done before anything is sent so a file is all or nothing.
fn check_record(record: &Map<String, Value>, partitions: u32) -> Result<(), String> {
    if let Some(field) = record.keys().find(|field| !RECORD_FIELDS.contains(&field.as_str())) {
        return Err(format!("unknown field '{field}'; a record has {}", RECORD_FIELDS.join(", ")));
    }
    if let Some(headers) = record.get("headers").filter(|h| !h.is_null()) {
        let Value::Object(headers) = headers else { return Err("headers: expected an object of strings".into()) };
        if let Some((name, _)) = headers.iter().find(|(_, value)| !(value.is_string() || value.is_null())) {
            return Err(format!("headers.{name}: header values must be strings"));
        }
    }
    if let Some(timestamp) = record.get("timestamp").filter(|t| !t.is_null()) {
        if timestamp.as_i64().is_none_or(|t| t < 0) {
            return Err(format!("timestamp: expected epoch milliseconds (a non-negative integer), got {timestamp}"));
        }
    }
    if let Some(partition) = record.get("partition").filter(|p| !p.is_null()) {
        match partition.as_u64() {
            Some(p) if p < u64::from(partitions) => {}
            _ => return Err(format!("partition: expected 0 to {}, got {partition}", partitions.saturating_sub(1))),
        }
    }
    Ok(())
}

/// Lines of `reader` with their 1-based numbers; invalid UTF-8 is reported per line.
fn for_each_line(
    reader: impl BufRead,
    mut each: impl FnMut(usize, Result<&str, String>, usize) -> Result<()>,
) -> Result<()> {
    let mut reader = reader;
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer).context("reading the input")?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let line = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8: {e}"));
        each(number, text, read)?;
    }
}

/// Sends records in batches and counts them.
struct Sender<'a> {
    client: &'a Client,
    path: String,
    batch_size: usize,
    body: Vec<u8>,
    count: usize,
    first_line: usize,
    last_line: usize,
    produced: usize,
}

impl Sender<'_> {
    fn push(&mut self, line: usize, record: &Value) -> Result<()> {
        if self.count == 0 {
            self.first_line = line;
            self.body.clear();
            self.body.push(b'[');
        } else {
            self.body.push(b',');
        }
        serde_json::to_writer(&mut self.body, record)?;
        self.count += 1;
        self.last_line = line;
        if self.count >= self.batch_size || self.body.len() >= MAX_BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        self.body.push(b']');
        let sent = self.client.post_raw(&self.path, &self.body);
        sent.with_context(|| {
            let lines = match (self.first_line, self.last_line) {
                (first, last) if first == last => format!("line {first} was"),
                (first, last) => format!("lines {first}-{last} were"),
            };
            format!("{lines} not written ({} records before them were produced)", self.produced)
        })?;
        self.produced += self.count;
        self.count = 0;
        Ok(())
    }
}

pub fn run(client: &Client, topic: &str, file: Option<&Path>, batch: usize, format: &LineFormat) -> Result<usize> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let description = client.get(&format!("/api/v1/topics/{}", encode(topic)))?;
    let partitions = description["partition_count"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(1);
    let mut sender = Sender {
        client,
        path: format!("/api/v1/topics/{}/records", encode(topic)),
        batch_size: batch,
        body: Vec::new(),
        count: 0,
        first_line: 0,
        last_line: 0,
        produced: 0,
    };
    match file.filter(|path| path.as_os_str() != "-") {
        Some(path) => {
            let open = || File::open(path).with_context(|| format!("cannot open {}", path.display()));
            // First pass: every line must be a valid record before anything is sent.
            for_each_line(BufReader::new(open()?), |number, line, _| {
                line.and_then(|line| parse_line(line, format, partitions).map(|_| ()))
                    .map_err(|why| anyhow::anyhow!("line {number}: {why}"))
            })?;
            let size = open()?.metadata().map(|m| m.len()).unwrap_or(0);
            let progress = (size > PROGRESS_MIN_BYTES && io::stderr().is_terminal()).then(|| progress_bar(size));
            for_each_line(BufReader::new(open()?), |number, line, bytes| {
                let line = line.map_err(|why| anyhow::anyhow!("line {number}: {why}"))?;
                if let Some(record) =
                    parse_line(line, format, partitions).map_err(|why| anyhow::anyhow!("line {number}: {why}"))?
                {
                    sender.push(number, &record)?;
                }
                if let Some(progress) = &progress {
                    progress.inc(bytes as u64);
                }
                Ok(())
            })?;
            sender.flush()?;
            if let Some(progress) = progress {
                progress.finish_and_clear();
            }
        }
        None => {
            let stdin = io::stdin();
            // Standard input is read once, so records are sent as they come: a bad line stops the run
            // after what came before it was produced, and the error says how much that was.
            for_each_line(stdin.lock(), |number, line, _| {
                let record = line.and_then(|line| parse_line(line, format, partitions)).map_err(|why| {
                    anyhow::anyhow!("line {number}: {why} ({} records before it were produced)", sender.produced)
                })?;
                match record {
                    Some(record) => sender.push(number, &record),
                    None => Ok(()),
                }
            })?;
            sender.flush()?;
        }
    }
    Ok(sender.produced)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_become_records() {
        let plain = LineFormat::Values { key_field: None };
        assert_eq!(parse_line("{\"a\":1}", &plain, 1), Ok(Some(json!({"value": {"a": 1}}))));
        assert_eq!(parse_line("   ", &plain, 1), Ok(None));
        let keyed = LineFormat::Values { key_field: Some("id".into()) };
        assert_eq!(
            parse_line("{\"id\":7,\"x\":0}", &keyed, 1),
            Ok(Some(json!({"key": 7, "value": {"id": 7, "x": 0}})))
        );
        assert!(parse_line("{\"x\":0}", &keyed, 1).unwrap_err().contains("'id'"));
        assert!(parse_line("[1]", &keyed, 1).unwrap_err().contains("object"));
        assert!(parse_line("{\"a\":", &plain, 1).unwrap_err().contains("invalid JSON"));
    }

    #[test]
    fn full_records_are_checked_like_the_server_does() {
        let records = LineFormat::Records;
        let ok = "{\"key\":\"k\",\"value\":1,\"headers\":{\"h\":\"v\"},\"timestamp\":5,\"partition\":1}";
        assert!(parse_line(ok, &records, 2).unwrap().is_some());
        for (line, fragment) in [
            ("{\"colour\":1}", "colour"),
            ("{\"headers\":{\"h\":1}}", "headers.h"),
            ("{\"timestamp\":-1}", "timestamp"),
            ("{\"partition\":2}", "partition"),
            ("3", "record object"),
        ] {
            let error = parse_line(line, &records, 2).unwrap_err();
            assert!(error.contains(fragment), "{line}: {error}");
        }
    }
}
