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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_encode_values_and_skip_absent_ones() {
        assert_eq!(
            query(&[("q", Some("a b".into())), ("domain", None), ("tag", Some("x&y".into()))]),
            "?q=a%20b&tag=x%26y"
        );
        assert_eq!(query(&[("domain", None)]), "");
    }
}
