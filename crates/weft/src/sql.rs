//! `weft sql`: runs ksqlDB statements through the server's `POST /ksql` and streams queries from
//! `POST /query`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::client::Client;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Statements to run (`CREATE ...; SHOW STREAMS;`), or one query (`SELECT ... EMIT CHANGES LIMIT 3;`,
    /// `PRINT ...;`), which is streamed.
    #[arg(short = 'e', long = "execute", conflicts_with = "file")]
    execute: Option<String>,
    /// A file of statements, run in order through `POST /ksql`.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Start queries at the earliest records (`auto.offset.reset=earliest`) instead of the latest.
    #[arg(long)]
    earliest: bool,
}

/// Whether `text` is a query for `/query` (`SELECT` or `PRINT`) rather than statements for `/ksql`.
fn is_query(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
    first == "SELECT" || first == "PRINT"
}

pub fn run(client: &Client, args: SqlArgs, out: &mut impl Write) -> Result<()> {
    let (text, from_file) = match (&args.execute, &args.file) {
        (Some(text), _) => (text.clone(), false),
        (None, Some(path)) => {
            (std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?, true)
        }
        (None, None) => bail!("give statements with -e or a file with -f"),
    };
    let properties = if args.earliest { json!({"auto.offset.reset": "earliest"}) } else { json!({}) };
    let body = json!({"ksql": text, "streamsProperties": properties});
    if !from_file && is_query(&text) {
        return stream_query(client, &body, out);
    }
    let entities = client.post("/ksql", &body)?;
    for entity in entities.as_array().map(Vec::as_slice).unwrap_or_default() {
        print_entity(entity, out)?;
    }
    Ok(())
}

fn print_entity(entity: &Value, out: &mut impl Write) -> Result<()> {
    match entity["@type"].as_str() {
        Some("currentStatus") => {
            let status = &entity["commandStatus"];
            match status["queryId"].as_str() {
                Some(id) => writeln!(out, "{} (query {id})", status["message"].as_str().unwrap_or_default())?,
                None => writeln!(out, "{}", status["message"].as_str().unwrap_or_default())?,
            }
        }
        Some(kind @ ("streams" | "tables")) => {
            for source in entity[kind].as_array().map(Vec::as_slice).unwrap_or_default() {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    source["name"].as_str().unwrap_or_default(),
                    source["topic"].as_str().unwrap_or_default(),
                    source["keyFormat"].as_str().unwrap_or_default(),
                    source["valueFormat"].as_str().unwrap_or_default(),
                )?;
            }
        }
        _ => writeln!(out, "{}", serde_json::to_string_pretty(entity)?)?,
    }
    Ok(())
}

/// Prints the header's schema, then one JSON array of columns per row as they arrive.
fn stream_query(client: &Client, body: &Value, out: &mut impl Write) -> Result<()> {
    let reader = BufReader::new(client.post_stream("/query", body)?);
    for line in reader.lines() {
        let line = line.context("reading the query's rows")?;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        // A whole array (pull query) or one element of a streamed array (`[{...},`, `{...},`, `{...}]`).
        let items = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => items,
            Ok(other) => vec![other],
            Err(_) => {
                let element = trimmed.trim_start_matches('[').trim_end_matches([',', ']']);
                match serde_json::from_str::<Value>(element) {
                    Ok(value) => vec![value],
                    // PRINT answers text lines.
                    Err(_) => {
                        writeln!(out, "{line}")?;
                        out.flush()?;
                        continue;
                    }
                }
            }
        };
        for item in items {
            if let Some(header) = item.get("header") {
                writeln!(out, "{}", header["schema"].as_str().unwrap_or_default())?;
            } else if let Some(row) = item.get("row") {
                writeln!(out, "{}", row["columns"])?;
            } else if let Some(error) = item.get("errorMessage") {
                bail!("the query failed: {}", error["message"].as_str().unwrap_or_default());
            } else if let Some(message) = item.get("finalMessage") {
                writeln!(out, "{}", message.as_str().unwrap_or_default())?;
            }
        }
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_told_from_statements() {
        assert!(is_query("  select * from s emit changes;"));
        assert!(is_query("PRINT 's';"));
        assert!(!is_query("SHOW STREAMS;"));
        assert!(!is_query(""));
    }
}
