//! `weft product ...`: data products in the catalog, their lifecycle, lineage and data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Create a draft product: from a ProductSpec JSON file (-f), or from flags with one output port.
    Create {
        /// The product id, DOMAIN.NAME (not needed with -f).
        id: Option<String>,
        /// A ProductSpec as JSON.
        #[arg(short = 'f', long = "file", conflicts_with_all = ["name", "owner"])]
        file: Option<PathBuf>,
        /// The display name [default: the id].
        #[arg(long)]
        name: Option<String>,
        /// The accountable person or team.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// raw, curated or authoritative.
        #[arg(long)]
        quality_tier: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The topic of an output port named "events", version 1.0.0.
        #[arg(long)]
        topic: Option<String>,
        /// The port's schema subject [default: TOPIC-value].
        #[arg(long, requires = "topic")]
        schema_subject: Option<String>,
        /// The port's record format: avro, json or protobuf.
        #[arg(long, default_value = "json", requires = "topic")]
        format: String,
    },
    /// Create a draft product from a stream or table a persistent query writes: its output port is the
    /// source's topic, its inputs and field lineage come from the query.
    FromSql {
        /// The stream or table, as SQL names it (e.g. ORDERS_ENRICHED).
        source: String,
        /// The product id: NAME within --domain, or DOMAIN.NAME.
        #[arg(long)]
        id: String,
        /// The domain that will own the product.
        #[arg(long)]
        domain: String,
        /// The display name [default: the source's name].
        #[arg(long)]
        name: Option<String>,
        /// The accountable person or team [default: the acting user].
        #[arg(long)]
        owner: Option<String>,
        /// What the product holds [default: a sentence naming the source and its inputs].
        #[arg(long)]
        description: Option<String>,
        /// raw, curated or authoritative.
        #[arg(long)]
        quality_tier: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Show a product as JSON, or as its ODPS YAML document (valid against the ODPS schema).
    Get {
        id: String,
        /// Print the product's ODPS document instead.
        #[arg(long)]
        odps: bool,
    },
    /// List products: id, status, quality tier, name.
    List {
        #[arg(long)]
        domain: Option<String>,
    },
    /// Full-text search with filters; prints hits, then facet counts.
    Search {
        /// Words to look for ("exact phrase", +must, -not); nothing lists everything.
        query: Option<String>,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        quality_tier: Option<String>,
        #[arg(long)]
        status: Option<String>,
        /// Every tag given must be on the product (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// draft -> published (needs a description, a quality tier and a registered schema).
    Publish { id: String },
    /// published -> deprecated: consumers should move away before the sunset date.
    Deprecate {
        id: String,
        #[arg(long)]
        reason: String,
        /// YYYY-MM-DD, today or later.
        #[arg(long)]
        sunset: String,
        /// The product consumers should move to.
        #[arg(long)]
        successor: Option<String>,
    },
    /// deprecated -> retired (on or after the sunset date), or abandon a draft.
    Retire { id: String },
    /// Delete a retired product from the catalog.
    Delete {
        id: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
        /// Also delete its output ports' topics.
        #[arg(long)]
        delete_topics: bool,
    },
    /// Show the products upstream and downstream (or one direction) of a product.
    Lineage {
        id: String,
        #[arg(long, conflicts_with = "downstream")]
        upstream: bool,
        #[arg(long)]
        downstream: bool,
        /// How many edges away to go [default: all].
        #[arg(long)]
        depth: Option<usize>,
    },
    /// Write a product's records to a file (or standard output) as JSON lines, CSV or Parquet.
    Export {
        id: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// The file to write [default: standard output].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only records at or after this time (epoch milliseconds).
        #[arg(long)]
        from: Option<i64>,
        /// Only records before this time (epoch milliseconds).
        #[arg(long)]
        to: Option<i64>,
        /// The output port to read [default: the latest major version].
        #[arg(long)]
        port: Option<String>,
    },
    /// Show the live profile of a product's data: per field the count, nulls, distinct values (~: an
    /// estimate), min, max, mean and most frequent values; records, throughput, freshness, dead letters.
    Profile {
        id: String,
        /// The output port to read [default: the latest major version].
        #[arg(long)]
        port: Option<String>,
        /// Print the server's answer as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create or update a product from an ODPS YAML file (any the ODPS schema accepts); applying the
    /// same file again changes nothing. Prints what the document did not say in Weft's terms.
    Apply {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The product the document is for, DOMAIN.NAME [default: the document's id, or one made from
        /// its domain and name].
        #[arg(long, conflicts_with = "domain")]
        id: Option<String>,
        /// The domain of a document that names none and whose id is not DOMAIN.NAME.
        #[arg(long)]
        domain: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Parquet,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
        }
    }
}

/// `name=value` pairs as a query string (values percent-encoded), or "" when there are none.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", encode(v)))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn product_path(id: &str) -> String {
    format!("/api/v1/products/{}", encode(id))
}

pub fn run(client: &Client, actor: &str, command: ProductCommand, out: &mut impl Write) -> Result<()> {
    match command {
        ProductCommand::Create {
            id,
            file,
            name,
            owner,
            description,
            quality_tier,
            tags,
            topic,
            schema_subject,
            format,
        } => {
            let spec: Value = match file {
                Some(file) => {
                    let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", file.display()))?
                }
                None => {
                    let Some(id) = id else { bail!("give the product id DOMAIN.NAME, or a spec file with -f") };
                    let Some(owner) = owner else { bail!("a product needs an owner: give --owner") };
                    let ports: Vec<Value> = topic
                        .iter()
                        .map(|topic| {
                            json!({"name": "events", "version": "1.0.0", "topic": topic, "format": format,
                                   "schemaSubject": schema_subject.clone().unwrap_or_else(|| format!("{topic}-value"))})
                        })
                        .collect();
                    json!({"id": id, "name": name.unwrap_or_else(|| id.clone()), "owner": owner,
                           "description": description.unwrap_or_default(), "qualityTier": quality_tier,
                           "tags": tags, "outputPorts": ports})
                }
            };
            let body = serde_json::to_vec(&spec)?;
            let created = client.send("POST", "/api/v1/products", actor, Some(("application/json", &body)))?;
            writeln!(out, "created product '{}' (draft)", created["spec"]["id"].as_str().unwrap_or_default())?;
        }
        ProductCommand::FromSql { source, id, domain, name, owner, description, quality_tier, tags } => {
            let body = serde_json::to_vec(&json!({"source": source, "id": id, "domain": domain, "name": name,
                "owner": owner, "description": description, "qualityTier": quality_tier, "tags": tags}))?;
            let made = client.send("POST", "/api/v1/products/from-sql", actor, Some(("application/json", &body)))?;
            let product = &made["product"]["spec"];
            writeln!(out, "created product '{}' (draft) from {source}", product["id"].as_str().unwrap_or_default())?;
            for port in product["inputPorts"].as_array().into_iter().flatten() {
                let from = port["product"].as_str().or(port["topic"].as_str()).unwrap_or_default();
                let kind = if port["product"].is_string() { "product" } else { "topic" };
                writeln!(out, "  input {kind} {from}")?;
            }
            let edges = made["fieldEdges"].as_array().map_or(0, Vec::len);
            writeln!(out, "  {edges} field lineage edge(s)")?;
        }
        ProductCommand::Get { id, odps: true } => {
            client.download(&format!("{}/odps", product_path(&id)), out)?;
        }
        ProductCommand::Get { id, odps: false } => {
            writeln!(out, "{}", serde_json::to_string_pretty(&client.get(&product_path(&id))?)?)?;
        }
        ProductCommand::List { domain } => {
            let answer = client.get(&format!("/api/v1/products{}", query(&[("domain", domain)])))?;
            for product in array(&answer, "products")? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    product["spec"]["id"].as_str().unwrap_or_default(),
                    product["lifecycle"]["status"].as_str().unwrap_or_default(),
                    product["spec"]["qualityTier"].as_str().unwrap_or("-"),
                    product["spec"]["name"].as_str().unwrap_or_default()
                )?;
            }
        }
        ProductCommand::Search { query: text, domain, quality_tier, status, tags, owner, limit } => {
            let mut pairs = vec![
                ("q", text),
                ("domain", domain),
                ("qualityTier", quality_tier),
                ("status", status),
                ("owner", owner),
                ("limit", Some(limit.to_string())),
            ];
            pairs.extend(tags.into_iter().map(|tag| ("tag", Some(tag))));
            let answer = client.get(&format!("/api/v1/products/search{}", query(&pairs)))?;
            for hit in array(&answer, "hits")? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    hit["id"].as_str().unwrap_or_default(),
                    hit["status"].as_str().unwrap_or_default(),
                    hit["qualityTier"].as_str().unwrap_or("-"),
                    hit["name"].as_str().unwrap_or_default()
                )?;
            }
            writeln!(out, "{} matching", answer["total"])?;
            if let Some(facets) = answer["facets"].as_object() {
                for (facet, counts) in facets {
                    let counts: Vec<String> = counts
                        .as_object()
                        .map(|c| c.iter().map(|(value, n)| format!("{value} ({n})")).collect())
                        .unwrap_or_default();
                    if !counts.is_empty() {
                        writeln!(out, "{facet}: {}", counts.join(", "))?;
                    }
                }
            }
        }
        ProductCommand::Publish { id } => {
            client.send("POST", &format!("{}/publish", product_path(&id)), actor, None)?;
            writeln!(out, "published product '{id}'")?;
        }
        ProductCommand::Deprecate { id, reason, sunset, successor } => {
            let body = serde_json::to_vec(&json!({"reason": reason, "sunset": sunset, "successor": successor}))?;
            client.send(
                "POST",
                &format!("{}/deprecate", product_path(&id)),
                actor,
                Some(("application/json", &body)),
            )?;
            writeln!(out, "deprecated product '{id}' (sunset {sunset})")?;
        }
        ProductCommand::Retire { id } => {
            client.send("POST", &format!("{}/retire", product_path(&id)), actor, None)?;
            writeln!(out, "retired product '{id}'")?;
        }
        ProductCommand::Delete { id, yes, delete_topics } => {
            if !yes {
                bail!("deleting product '{id}' cannot be undone: add --yes to confirm");
            }
            let path = format!("{}?confirm=true&deleteTopics={delete_topics}", product_path(&id));
            let deleted = client.send("DELETE", &path, actor, None)?;
            writeln!(out, "deleted product '{id}'")?;
            for topic in deleted["deletedTopics"].as_array().into_iter().flatten() {
                writeln!(out, "deleted topic '{}'", topic.as_str().unwrap_or_default())?;
            }
        }
        ProductCommand::Lineage { id, upstream, downstream, depth } => {
            let directions: &[&str] = match (upstream, downstream) {
                (true, _) => &["upstream"],
                (_, true) => &["downstream"],
                _ => &["upstream", "downstream"],
            };
            for direction in directions {
                let path = format!(
                    "{}/lineage/{direction}{}",
                    product_path(&id),
                    query(&[("depth", depth.map(|d| d.to_string()))])
                );
                let graph = client.get(&path)?;
                writeln!(out, "{direction}:")?;
                for node in array(&graph, "nodes")?.iter().skip(1) {
                    let indent = "  ".repeat(node["depth"].as_u64().unwrap_or(1) as usize);
                    writeln!(
                        out,
                        "{indent}{} ({}, {})",
                        node["id"].as_str().unwrap_or_default(),
                        node["status"].as_str().unwrap_or_default(),
                        node["owner"].as_str().unwrap_or_default()
                    )?;
                }
            }
        }
        ProductCommand::Export { id, format, output, from, to, port } => {
            let path = format!(
                "{}/export{}",
                product_path(&id),
                query(&[
                    ("format", Some(format.as_str().to_string())),
                    ("from", from.map(|f| f.to_string())),
                    ("to", to.map(|t| t.to_string())),
                    ("port", port),
                ])
            );
            match output {
                Some(file) => {
                    let mut writer =
                        BufWriter::new(File::create(&file).with_context(|| format!("creating {}", file.display()))?);
                    let bytes = client.download(&path, &mut writer)?;
                    writer.flush()?;
                    eprintln!("wrote {bytes} bytes to {}", file.display());
                }
                None => {
                    client.download(&path, out)?;
                }
            }
        }
        ProductCommand::Profile { id, port, json } => {
            let profile = client.get(&format!("{}/profile{}", product_path(&id), query(&[("port", port)])))?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&profile)?)?;
            } else {
                write_profile(out, &profile, crate::now_ms())?;
            }
        }
        ProductCommand::Apply { file, id, domain } => {
            let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let body = Some(("application/yaml", text.as_slice()));
            let applied = match id {
                Some(id) => client.send("PUT", &format!("{}/odps", product_path(&id)), actor, body)?,
                None => {
                    let path = format!("/api/v1/products:apply{}", query(&[("domain", domain)]));
                    client.send("POST", &path, actor, body)?
                }
            };
            let id = applied["product"]["spec"]["id"].as_str().unwrap_or_default();
            let status = applied["product"]["lifecycle"]["status"].as_str().unwrap_or_default();
            match applied["result"].as_str() {
                Some("unchanged") => writeln!(out, "product '{id}' unchanged")?,
                Some(result) => writeln!(out, "{result} product '{id}' ({status})")?,
                None => bail!("the server's answer has no result: {applied}"),
            }
            for note in applied["notes"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let field = note["field"].as_str().unwrap_or_default();
                let message = note["message"].as_str().unwrap_or_default();
                writeln!(
                    out,
                    "  note: {}{message}",
                    if field.is_empty() { String::new() } else { format!("{field}: ") }
                )?;
            }
        }
    }
    Ok(())
}

/// A profile as text: a summary of the product's records, then one table row per field.
fn write_profile(out: &mut impl Write, p: &Value, now: i64) -> Result<()> {
    let n = |v: &Value| v.as_u64().unwrap_or_default();
    writeln!(
        out,
        "product {} (port {}, topic {})",
        p["product"].as_str().unwrap_or_default(),
        p["port"].as_str().unwrap_or_default(),
        p["topic"].as_str().unwrap_or_default()
    )?;
    writeln!(out, "records: {} ({} bytes, {} tombstones)", n(&p["records"]), n(&p["bytes"]), n(&p["tombstones"]))?;
    let last = match p["lastRecordAt"].as_i64() {
        Some(at) => format!("{at} ({} ago)", age(now.saturating_sub(at))),
        None => "none yet".to_string(),
    };
    let objective = match (p["freshnessObjectiveSeconds"].as_u64(), p["stale"].as_bool()) {
        (Some(seconds), Some(true)) => format!("; stale against its objective of {}", age(seconds as i64 * 1000)),
        (Some(seconds), _) => format!("; within its objective of {}", age(seconds as i64 * 1000)),
        (None, _) => String::new(),
    };
    writeln!(out, "last record: {last}{objective}")?;
    let hour: u64 = p["throughput"].as_array().map_or(0, |b| b.iter().map(|b| n(&b["count"])).sum());
    writeln!(out, "last hour: {hour} records ({} per minute)", number(hour as f64 / 60.0))?;
    writeln!(
        out,
        "dead-lettered: {} ({}% of records received)",
        n(&p["deadLettered"]),
        number(p["deadLetteredShare"].as_f64().unwrap_or_default() * 100.0)
    )?;
    if p["partial"].as_bool() == Some(true) {
        writeln!(
            out,
            "partial: {} records held in the log are not profiled (the profile was rebuilt from the newest)",
            n(&p["notProfiled"])
        )?;
    }
    let rows: Vec<Vec<String>> = p["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let optional = |v: &Value| v.as_f64().map(number).unwrap_or_default();
            let top: Vec<String> = f["topValues"]
                .as_array()
                .into_iter()
                .flatten()
                .take(3)
                .map(|v| {
                    let value = v["value"].as_str().map_or_else(|| v["value"].to_string(), str::to_string);
                    format!("{} ({})", cut(&value, 24), n(&v["count"]))
                })
                .collect();
            vec![
                f["name"].as_str().unwrap_or_default().to_string(),
                f["schemaType"].as_str().or(f["type"].as_str()).unwrap_or_default().to_string(),
                n(&f["count"]).to_string(),
                n(&f["nulls"]).to_string(),
                format!("~{}", n(&f["distinct"])),
                optional(&f["min"]),
                optional(&f["max"]),
                optional(&f["mean"]),
                top.join(", "),
            ]
        })
        .collect();
    crate::sql::write_table(
        out,
        &["FIELD", "TYPE", "COUNT", "NULLS", "DISTINCT", "MIN", "MAX", "MEAN", "TOP VALUES"],
        &rows,
    )?;
    let error = p["sketches"]["distinctStandardError"].as_f64().unwrap_or_default();
    writeln!(
        out,
        "~ distinct values are estimates (HyperLogLog, standard error {}%); exact up to 512",
        number(error * 100.0)
    )?;
    Ok(())
}

/// A duration in milliseconds as people say it: 42s, 5m, 3h, 2d.
fn age(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// A number without needless digits: integers as integers, others to at most four decimals.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let text = format!("{x:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_print_as_a_summary_and_a_table_of_fields() {
        let profile = json!({
            "product": "shop.orders", "port": "events", "topic": "orders", "records": 3, "bytes": 120,
            "tombstones": 0, "lastRecordAt": 1_000_000, "freshnessObjectiveSeconds": 900, "stale": false,
            "throughput": [{"start": 0, "count": 2}, {"start": 60_000, "count": 1}],
            "deadLettered": 1, "deadLetteredShare": 0.25, "partial": false, "notProfiled": 0,
            "sketches": {"distinctStandardError": 0.01625},
            "fields": [
                {"name": "amount", "type": "number", "schemaType": "double", "count": 2, "nulls": 1, "distinct": 2,
                 "min": 1.5, "max": 4.0, "mean": 2.75, "topValues": []},
                {"name": "status", "type": "string", "count": 3, "nulls": 0, "distinct": 2,
                 "topValues": [{"value": "paid", "count": 2}, {"value": "a very long status value indeed", "count": 1}]}
            ]
        });
        let mut out = Vec::new();
        write_profile(&mut out, &profile, 1_065_000).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.starts_with(
                "product shop.orders (port events, topic orders)
records: 3 (120 bytes, 0 tombstones)
"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "last record: 1000000 (65s ago); within its objective of 15m
"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "last hour: 3 records (0.05 per minute)
"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "dead-lettered: 1 (25% of records received)
"
            ),
            "{text}"
        );
        assert!(text.contains("| amount | double | 2     | 1     | ~2       | 1.5 | 4   | 2.75 |"), "{text}");
        assert!(text.contains("paid (2), a very long status valu… (1)"), "{text}");
        assert!(
            text.ends_with(
                "(HyperLogLog, standard error 1.625%); exact up to 512
"
            ),
            "{text}"
        );
    }

    #[test]
    fn queries_encode_values_and_skip_absent_ones() {
        assert_eq!(
            query(&[("q", Some("a b".into())), ("domain", None), ("tag", Some("x&y".into()))]),
            "?q=a%20b&tag=x%26y"
        );
        assert_eq!(query(&[("domain", None)]), "");
    }
}
