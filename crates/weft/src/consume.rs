//! `weft consume`: records as JSON lines on standard output, read page by page or followed live.

use std::io::{BufRead, BufReader, Write};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::client::{array, encode, Client};

/// Records asked for per request when reading history.
const PAGE: usize = 1000;

/// Where to start (`--from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    Offset(u64),
}

impl FromStr for Start {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "earliest" => Ok(Start::Earliest),
            "latest" => Ok(Start::Latest),
            _ => s.parse().map(Start::Offset).map_err(|_| format!("expected earliest, latest or an offset, not '{s}'")),
        }
    }
}

impl Start {
    fn query(self) -> String {
        match self {
            Start::Earliest => "from=earliest".into(),
            Start::Latest => "from=latest".into(),
            Start::Offset(offset) => format!("offset={offset}"),
        }
    }
}

/// Prints up to `limit` records of one partition, or of every partition merged by timestamp when
/// `partition` is `None`, up to the end the topic had when it was read. Returns how many were printed.
pub fn history(
    client: &Client,
    topic: &str,
    partition: Option<u32>,
    from: Start,
    limit: Option<usize>,
    out: &mut impl Write,
) -> Result<usize> {
    let path = format!("/api/v1/topics/{}/records", encode(topic));
    let only = partition.map(|p| format!("partition={p}&")).unwrap_or_default();
    let mut position = from.query();
    let mut printed = 0;
    loop {
        let page = match limit {
            Some(limit) if printed >= limit => return Ok(printed),
            Some(limit) => PAGE.min(limit - printed),
            None => PAGE,
        };
        let answer = client.get(&format!("{path}?{only}{position}&limit={page}"))?;
        let records = array(&answer, "records")?;
        for record in records {
            writeln!(out, "{record}")?;
        }
        printed += records.len();
        // A short page is the end of what the topic held when it was read.
        if records.len() < page {
            return Ok(printed);
        }
        let next = answer["next"].as_str().context("the answer has no next cursor")?;
        position = format!("cursor={}", encode(next));
    }
}

/// Follows the live tail (server-sent events) and prints each record until `limit` records; the
/// server ending the stream first is an error, so scripts notice.
pub fn follow(
    client: &Client,
    topic: &str,
    partition: Option<u32>,
    from: Start,
    limit: Option<usize>,
    out: &mut impl Write,
) -> Result<usize> {
    let mut query = vec![from.query()];
    if let Some(partition) = partition {
        query.push(format!("partition={partition}"));
    }
    let path = format!("/api/v1/topics/{}/records/stream?{}", encode(topic), query.join("&"));
    let reader = BufReader::new(client.stream(&path)?);
    let mut printed = 0;
    let mut event = String::new();
    if limit == Some(0) {
        return Ok(0);
    }
    // Server-sent events (HTML Living Standard §9.2): `field: value` lines, a blank line ends an event,
    // lines starting with ':' are comments (keep-alives).
    for line in reader.lines() {
        let line = line.context("reading the live tail")?;
        if line.is_empty() {
            event.clear();
        } else if let Some(name) = line.strip_prefix("event:") {
            event = name.trim().to_string();
        } else if let Some(data) = line.strip_prefix("data:") {
            let data = data.strip_prefix(' ').unwrap_or(data);
            if event == "error" {
                let error: Value = serde_json::from_str(data).unwrap_or(Value::String(data.to_string()));
                bail!("the live tail ended: {}", error["message"].as_str().unwrap_or(data));
            }
            writeln!(out, "{data}")?;
            out.flush()?;
            printed += 1;
            if limit.is_some_and(|limit| printed >= limit) {
                return Ok(printed);
            }
        }
    }
    bail!("the server closed the live tail after {printed} records (it may be shutting down)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parses_positions_and_offsets() {
        assert_eq!("earliest".parse(), Ok(Start::Earliest));
        assert_eq!("latest".parse(), Ok(Start::Latest));
        assert_eq!("42".parse(), Ok(Start::Offset(42)));
        assert!("-1".parse::<Start>().is_err());
        assert_eq!(Start::Offset(3).query(), "offset=3");
    }
}
