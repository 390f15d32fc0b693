//! `weft consume` and `weft product tail`: records as JSON lines on standard output, read page by page
//! or followed live, optionally as a consumer group that commits where it got to and resumes there.

use std::io::{BufRead, BufReader, Write};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

/// Records asked for per request when reading history.
const PAGE: usize = 1000;
/// A following group commits at most this many records late...
const COMMIT_EVERY_RECORDS: usize = 100;
/// ...or this long after the first record it has not committed (checked on every record and every
/// keep-alive of the server, which sends one every few seconds when idle).
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// Where to start (`--from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    /// An offset of one partition.
    Offset(u64),
    /// Where a previous read stopped: a cursor such as `0:12,1:40` (a tail's event id, a page's `next`).
    Cursor(String),
    /// The first record at or after this time (epoch milliseconds).
    Time(i64),
}

impl FromStr for Start {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "earliest" => return Ok(Start::Earliest),
            "latest" => return Ok(Start::Latest),
            _ => {}
        }
        if let Ok(offset) = s.parse() {
            return Ok(Start::Offset(offset));
        }
        // A date has dashes; a cursor never does.
        if s.contains('-') && s.contains(':') {
            return crate::time::parse_iso(s).map(Start::Time);
        }
        if s.contains(':') {
            return parse_cursor(s).map(|_| Start::Cursor(s.replace(' ', "")));
        }
        if let Some(ago) = parse_ago(s) {
            return Ok(Start::Time(crate::now_ms() - ago));
        }
        Err(format!(
            "expected earliest, latest, an offset (42), a cursor (0:12,1:40), a time (2026-12-06T23:00:00Z) or how \
             long ago (15m, 2h, 1d), not '{s}'"
        ))
    }
}

impl Start {
    fn query(&self) -> String {
        match self {
            Start::Earliest => "from=earliest".into(),
            Start::Latest => "from=latest".into(),
            Start::Offset(offset) => format!("offset={offset}"),
            Start::Cursor(cursor) => format!("cursor={}", encode(cursor)),
            Start::Time(ms) => format!("timestamp={ms}"),
        }
    }
}

/// `15m`, `30s`, `2h`, `1d` as milliseconds.
fn parse_ago(s: &str) -> Option<i64> {
    let unit = match s.chars().last()? {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let number: i64 = s[..s.len() - 1].parse().ok().filter(|n| *n > 0)?;
    number.checked_mul(unit)
}

/// A cursor's (partition, next offset) pairs.
fn parse_cursor(cursor: &str) -> Result<Vec<(u32, u64)>, String> {
    cursor
        .split(',')
        .map(|pair| {
            let pair = pair.trim();
            pair.split_once(':')
                .and_then(|(p, o)| Some((p.parse().ok()?, o.parse().ok()?)))
                .ok_or_else(|| format!("'{pair}' is not PARTITION:OFFSET (a cursor looks like 0:12,1:40)"))
        })
        .collect()
}

/// What is read: a topic, or a product's output port (the records routes of either).
pub struct Source {
    /// `/api/v1/topics/NAME/records` or `/api/v1/products/ID/records`.
    records: String,
    /// Query parameters every request carries (`port=...`).
    fixed: Vec<String>,
}

impl Source {
    pub fn topic(name: &str) -> Source {
        Source { records: format!("/api/v1/topics/{}/records", encode(name)), fixed: Vec::new() }
    }

    pub fn product(id: &str, port: Option<&str>) -> Source {
        Source {
            records: format!("/api/v1/products/{}/records", encode(id)),
            fixed: port.map(|p| format!("port={}", encode(p))).into_iter().collect(),
        }
    }

    fn path(&self, stream: bool, mut query: Vec<String>) -> String {
        query.extend(self.fixed.iter().cloned());
        format!("{}{}?{}", self.records, if stream { "/stream" } else { "" }, query.join("&"))
    }
}

/// A consumer group reading one topic: where it stopped, and its commits as it goes (at least once:
/// a record is committed after it is printed, so a crash in between prints it again next time).
pub struct Group {
    name: String,
    topic: String,
    /// The cursor after the last record printed, not committed yet.
    pending: Option<String>,
    pending_records: usize,
    pending_since: Option<Instant>,
}

impl Group {
    pub fn new(name: &str, topic: &str) -> Group {
        Group {
            name: name.to_string(),
            topic: topic.to_string(),
            pending: None,
            pending_records: 0,
            pending_since: None,
        }
    }

    fn offsets_path(&self) -> String {
        format!("/api/v1/groups/{}/offsets", encode(&self.name))
    }

    /// Where the group resumes: its committed offsets in the topic (one partition's, with `partition`),
    /// or `otherwise` when it has committed none there.
    pub fn resume_from(&self, client: &Client, partition: Option<u32>, otherwise: Start) -> Result<Start> {
        let answer = client.get(&self.offsets_path())?;
        let committed: Vec<(u32, u64)> = array(&answer, "offsets")?
            .iter()
            .filter(|o| o["topic"].as_str() == Some(self.topic.as_str()))
            .filter_map(|o| Some((u32::try_from(o["partition"].as_u64()?).ok()?, o["offset"].as_u64()?)))
            .filter(|(p, _)| partition.is_none_or(|only| only == *p))
            .collect();
        Ok(match (partition, committed.as_slice()) {
            (_, []) => otherwise,
            (Some(_), [(_, offset), ..]) => Start::Offset(*offset),
            // Partitions the group never committed start at their beginning (Kafka's `earliest` reset).
            (None, pairs) => Start::Cursor(pairs.iter().map(|(p, o)| format!("{p}:{o}")).collect::<Vec<_>>().join(",")),
        })
    }

    /// Notes that everything before `cursor` was printed; commits when enough has piled up.
    fn printed(&mut self, client: &Client, cursor: &str, records: usize) -> Result<()> {
        self.pending = Some(cursor.to_string());
        self.pending_records += records;
        let since = *self.pending_since.get_or_insert_with(Instant::now);
        if self.pending_records >= COMMIT_EVERY_RECORDS || since.elapsed() >= COMMIT_EVERY {
            self.commit(client)?;
        }
        Ok(())
    }

    /// Commits what was printed and is not committed yet.
    pub fn commit(&mut self, client: &Client) -> Result<()> {
        let Some(cursor) = self.pending.take() else { return Ok(()) };
        let pairs = parse_cursor(&cursor).map_err(anyhow::Error::msg).context("the server's cursor")?;
        let offsets: Vec<Value> = pairs
            .iter()
            .map(|(partition, offset)| json!({"topic": self.topic, "partition": partition, "offset": offset}))
            .collect();
        client
            .post(&self.offsets_path(), &json!({"offsets": offsets}))
            .with_context(|| format!("committing the offsets of group '{}'", self.name))?;
        self.pending_records = 0;
        self.pending_since = None;
        Ok(())
    }
}

/// Prints up to `limit` records of one partition, or of every partition merged by timestamp when
/// `partition` is `None`, up to the end the source had when it was read. With a group, commits after
/// each page. Returns how many were printed.
pub fn history(
    client: &Client,
    source: &Source,
    partition: Option<u32>,
    from: Start,
    limit: Option<usize>,
    mut group: Option<&mut Group>,
    out: &mut impl Write,
) -> Result<usize> {
    let only: Vec<String> = partition.map(|p| format!("partition={p}")).into_iter().collect();
    let mut position = from.query();
    let mut printed = 0;
    loop {
        let page = match limit {
            Some(limit) if printed >= limit => return Ok(printed),
            Some(limit) => PAGE.min(limit - printed),
            None => PAGE,
        };
        let mut query = only.clone();
        query.push(position);
        query.push(format!("limit={page}"));
        let answer = client.get(&source.path(false, query))?;
        let records = array(&answer, "records")?;
        for record in records {
            writeln!(out, "{record}")?;
        }
        printed += records.len();
        let next = answer["next"].as_str().context("the answer has no next cursor")?;
        if let Some(group) = group.as_deref_mut() {
            if !records.is_empty() {
                out.flush()?;
                group.pending = Some(next.to_string());
                group.commit(client)?;
            }
        }
        // A short page is the end of what the source held when it was read.
        if records.len() < page {
            return Ok(printed);
        }
        position = format!("cursor={}", encode(next));
    }
}

/// Follows the live tail (server-sent events) and prints each record until `limit` records; the
/// server ending the stream first is an error, so scripts notice. With a group, commits as it goes
/// (every [`COMMIT_EVERY_RECORDS`] records or [`COMMIT_EVERY`]) and when it stops.
pub fn follow(
    client: &Client,
    source: &Source,
    partition: Option<u32>,
    from: Start,
    limit: Option<usize>,
    mut group: Option<&mut Group>,
    out: &mut impl Write,
) -> Result<usize> {
    let mut query = vec![from.query()];
    if let Some(partition) = partition {
        query.push(format!("partition={partition}"));
    }
    let reader = BufReader::new(client.stream(&source.path(true, query))?);
    let mut printed = 0;
    if limit == Some(0) {
        return Ok(0);
    }
    // Server-sent events (HTML Living Standard §9.2): `field: value` lines, a blank line dispatches the
    // event, lines starting with ':' are comments (keep-alives).
    let (mut event, mut id, mut data) = (String::new(), String::new(), None::<String>);
    for line in reader.lines() {
        let line = line.context("reading the live tail")?;
        if line.starts_with(':') {
            if let Some(group) = group.as_deref_mut() {
                // Idle: what was printed is all there is for now.
                group.commit(client)?;
            }
        } else if !line.is_empty() {
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = value.to_string(),
                "id" => id = value.to_string(),
                "data" => data = Some(value.to_string()),
                _ => {}
            }
        } else if let Some(data) = data.take() {
            if event == "error" {
                let error: Value = serde_json::from_str(&data).unwrap_or(Value::String(data.clone()));
                bail!("the live tail ended: {}", error["message"].as_str().unwrap_or(&data));
            }
            event.clear();
            writeln!(out, "{data}")?;
            out.flush()?;
            printed += 1;
            let done = limit.is_some_and(|limit| printed >= limit);
            if let Some(group) = group.as_deref_mut() {
                if !id.is_empty() {
                    group.printed(client, &id, 1)?;
                }
                if done {
                    group.commit(client)?;
                }
            }
            if done {
                return Ok(printed);
            }
        } else {
            event.clear();
        }
    }
    if let Some(group) = group {
        group.commit(client)?;
    }
    bail!("the server closed the live tail after {printed} records (it may be shutting down)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parses_positions_offsets_cursors_and_times() {
        assert_eq!("earliest".parse(), Ok(Start::Earliest));
        assert_eq!("latest".parse(), Ok(Start::Latest));
        assert_eq!("42".parse(), Ok(Start::Offset(42)));
        assert_eq!("0:12, 1:40".parse(), Ok(Start::Cursor("0:12,1:40".into())));
        assert_eq!("2026-12-06T23:04:05Z".parse(), Ok(Start::Time(1_796_598_245_000)));
        assert_eq!("2026-12-06 23:04:05Z".parse(), Ok(Start::Time(1_796_598_245_000)));
        assert!("2026-12-06T23:04Z".parse::<Start>().expect_err("no seconds").contains("hh:mm:ss"));
        let Ok(Start::Time(ago)) = "15m".parse::<Start>() else { panic!("15m is a time") };
        assert!((crate::now_ms() - ago - 900_000).abs() < 60_000);
        assert!("-1".parse::<Start>().is_err());
        assert!("0:x".parse::<Start>().expect_err("bad cursor").contains("PARTITION:OFFSET"));
        assert!("soon".parse::<Start>().expect_err("bad").contains("expected earliest"));
        assert_eq!(Start::Offset(3).query(), "offset=3");
        assert_eq!(Start::Cursor("0:1,1:2".into()).query(), "cursor=0%3A1%2C1%3A2");
        assert_eq!(Start::Time(5).query(), "timestamp=5");
    }

    #[test]
    fn product_sources_name_their_port() {
        let source = Source::product("shop.orders", Some("events@2"));
        assert_eq!(
            source.path(true, vec!["from=latest".into()]),
            "/api/v1/products/shop.orders/records/stream?from=latest&port=events%402"
        );
        assert_eq!(Source::topic("a b").path(false, vec![]), "/api/v1/topics/a%20b/records?");
    }
}
