//! `weft product ...`: data products in the catalog, their lifecycle, lineage and data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::client::{array, encode, Client, ServerError};
use crate::consume::{self, Source, Start};

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
    /// Show a product as JSON, with the SQL stream over its output port as `sqlSource` (declared on
    /// first use), or as its ODPS YAML document (valid against the ODPS schema).
    Get {
        id: String,
        /// Print the product's ODPS document instead.
        #[arg(long)]
        odps: bool,
    },
    /// Change a product's metadata: only the fields given change (as the web app's Manage form does;
    /// an ODPS file through `apply` changes everything at once).
    Update {
        id: String,
        /// The display name.
        #[arg(long)]
        name: Option<String>,
        /// What the product holds and what it is for.
        #[arg(long)]
        description: Option<String>,
        /// Markdown for consumers ("" for none).
        #[arg(long, conflicts_with = "documentation_file")]
        documentation: Option<String>,
        /// The documentation, from a Markdown file.
        #[arg(long)]
        documentation_file: Option<PathBuf>,
        /// The accountable person or team.
        #[arg(long)]
        owner: Option<String>,
        /// raw, curated or authoritative; none to unset.
        #[arg(long, value_enum)]
        quality_tier: Option<QualityTierArg>,
        /// bronze, silver or gold; none to unset.
        #[arg(long, value_enum)]
        sla_tier: Option<SlaTierArg>,
        /// How old the newest record may be: a number and s, m, h or d (e.g. 15m); none to unset.
        #[arg(long)]
        freshness_objective: Option<String>,
        /// The product's semantic version, MAJOR.MINOR.PATCH.
        #[arg(long)]
        version: Option<String>,
        /// The tags, replacing the current ones (repeatable).
        #[arg(long = "tag", conflicts_with = "clear_tags")]
        tags: Vec<String>,
        /// Add a tag (repeatable).
        #[arg(long = "add-tag")]
        add_tags: Vec<String>,
        /// Remove a tag (repeatable).
        #[arg(long = "remove-tag")]
        remove_tags: Vec<String>,
        /// Remove every tag.
        #[arg(long)]
        clear_tags: bool,
    },
    /// Print the latest records of a product's output port as JSON lines, oldest first.
    Sample {
        id: String,
        /// How many records (1 to 1000).
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// The output port, NAME or NAME@MAJOR [default: the latest major version].
        #[arg(long)]
        port: Option<String>,
    },
    /// Print a product's records as they arrive (JSON lines), from the live tail of its output port.
    Tail {
        id: String,
        /// earliest, latest, an offset (42), a cursor (0:12,1:40), a time (2026-12-06T23:00:00Z) or how
        /// long ago (15m, 2h, 1d) [default: latest].
        #[arg(long)]
        from: Option<Start>,
        /// Only this partition.
        #[arg(long)]
        partition: Option<u32>,
        /// Stop after this many records.
        #[arg(long)]
        limit: Option<usize>,
        /// The output port, NAME or NAME@MAJOR [default: the latest major version].
        #[arg(long)]
        port: Option<String>,
    },
    /// Print the schema of a product's output port as registered (JSON schemas pretty-printed).
    Schema {
        id: String,
        /// The output port, NAME or NAME@MAJOR [default: the latest major version].
        #[arg(long)]
        port: Option<String>,
        /// Print the server's whole answer (subject, version, id, fields) as JSON instead.
        #[arg(long)]
        json: bool,
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

/// `--quality-tier` of `update`: a tier, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QualityTierArg {
    Raw,
    Curated,
    Authoritative,
    None,
}

/// `--sla-tier` of `update`: a tier, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlaTierArg {
    Bronze,
    Silver,
    Gold,
    None,
}

/// The JSON of a tier flag: its name, or null for `none`.
fn tier(value: impl ValueEnum) -> Value {
    match value.to_possible_value().map(|v| v.get_name().to_string()) {
        Some(name) if name != "none" => Value::String(name),
        _ => Value::Null,
    }
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
            let check = client.post("/api/v1/products:check", product)?;
            write_publish_check(out, product, &check)?;
        }
        ProductCommand::Get { id, odps: true } => {
            client.download(&format!("{}/odps", product_path(&id)), out)?;
        }
        ProductCommand::Get { id, odps: false } => {
            let mut product = client.get(&product_path(&id))?;
            let serves = product["spec"]["outputPorts"].as_array().is_some_and(|ports| !ports.is_empty())
                && product["lifecycle"]["status"] != "retired";
            if serves {
                // The stream SQL names the product by (declared on first use, as ksqlDB users expect one
                // per topic); a product it cannot be declared for yet is still shown.
                let path = format!("{}/sql-source", product_path(&id));
                product["sqlSource"] = match client.send("POST", &path, actor, None) {
                    Ok(source) => source,
                    Err(error) => {
                        eprintln!("no SQL stream for '{id}' yet: {error:#}");
                        Value::Null
                    }
                };
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&product)?)?;
        }
        ProductCommand::Update {
            id,
            name,
            description,
            documentation,
            documentation_file,
            owner,
            quality_tier,
            sla_tier,
            freshness_objective,
            version,
            tags,
            add_tags,
            remove_tags,
            clear_tags,
        } => {
            let documentation = match documentation_file {
                Some(file) => {
                    Some(std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?)
                }
                None => documentation,
            };
            let mut changes: Vec<(&str, Value)> = Vec::new();
            let text = |field, value: Option<String>, changes: &mut Vec<(&str, Value)>| {
                if let Some(value) = value {
                    changes.push((field, Value::String(value)));
                }
            };
            text("name", name, &mut changes);
            text("description", description, &mut changes);
            text("documentation", documentation, &mut changes);
            text("owner", owner, &mut changes);
            text("version", version, &mut changes);
            if let Some(value) = quality_tier {
                changes.push(("qualityTier", tier(value)));
            }
            if let Some(value) = sla_tier {
                changes.push(("slaTier", tier(value)));
            }
            if let Some(value) = freshness_objective {
                let value = if value.trim() == "none" { Value::Null } else { Value::String(value) };
                changes.push(("freshnessObjective", value));
            }
            let retag = clear_tags || !tags.is_empty() || !add_tags.is_empty() || !remove_tags.is_empty();
            if changes.is_empty() && !retag {
                bail!(
                    "nothing to change: give at least one of --name, --description, --documentation, --owner, \
                     --quality-tier, --sla-tier, --freshness-objective, --version, --tag, --add-tag, --remove-tag, \
                     --clear-tags"
                );
            }
            let product = client.get(&product_path(&id))?;
            let revision = product["revision"].as_u64().context("the product has no revision")?;
            let mut spec = product["spec"].clone();
            let Some(fields) = spec.as_object_mut() else { bail!("the server's product has no spec: {product}") };
            for (field, value) in changes {
                fields.insert(field.to_string(), value);
            }
            if retag {
                let current: Vec<String> = fields
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|t| t.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let tags = retagged(current, clear_tags, tags, add_tags, &remove_tags)
                    .map_err(|e| anyhow::anyhow!("product '{id}': {e}"))?;
                fields.insert("tags".into(), json!(tags));
            }
            if spec == product["spec"] {
                writeln!(out, "product '{id}' unchanged")?;
                return Ok(());
            }
            let body = serde_json::to_vec(&spec)?;
            let path = format!("{}?ifRevision={revision}", product_path(&id));
            let updated = client
                .send("PUT", &path, actor, Some(("application/json", &body)))
                .map_err(|error| with_flag(error, UPDATE_FLAGS))?;
            writeln!(out, "updated product '{id}' (revision {})", updated["revision"])?;
        }
        ProductCommand::Sample { id, limit, port } => {
            let path =
                format!("{}/sample{}", product_path(&id), query(&[("limit", Some(limit.to_string())), ("port", port)]));
            for record in array(&client.get(&path)?, "records")? {
                writeln!(out, "{record}")?;
            }
        }
        ProductCommand::Tail { id, from, partition, limit, port } => {
            let source = Source::product(&id, port.as_deref());
            consume::follow(client, &source, partition, from.unwrap_or(Start::Latest), limit, None, out)?;
        }
        ProductCommand::Schema { id, port, json } => {
            let answer = client.get(&format!("{}/schema{}", product_path(&id), query(&[("port", port)])))?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
            } else {
                let text = answer["schema"].as_str().context("the server's answer has no schema")?;
                match serde_json::from_str::<Value>(text) {
                    Ok(schema) => writeln!(out, "{}", serde_json::to_string_pretty(&schema)?)?,
                    Err(_) => writeln!(out, "{text}")?,
                }
                eprintln!(
                    "subject {} version {} (id {}, {}), port {} of {}",
                    answer["subject"].as_str().unwrap_or_default(),
                    answer["version"],
                    answer["id"],
                    answer["schemaType"].as_str().or(answer["schema_type"].as_str()).unwrap_or_default(),
                    answer["port"].as_str().unwrap_or_default(),
                    answer["product"].as_str().unwrap_or_default()
                );
            }
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

/// The flag of `update` that sets each spec field.
const UPDATE_FLAGS: &[(&str, &str)] = &[
    ("name", "--name"),
    ("description", "--description"),
    ("documentation", "--documentation"),
    ("owner", "--owner"),
    ("qualityTier", "--quality-tier"),
    ("slaTier", "--sla-tier"),
    ("freshnessObjective", "--freshness-objective"),
    ("version", "--version"),
    ("tags", "--tag"),
];

/// The spec field a field path is about: `outputPorts[0].schemaSubject` is `outputPorts`.
fn top_field(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// A refusal of a field the user gave as a flag names the flag: `--freshness-objective: ...`.
fn with_flag(error: anyhow::Error, flags: &[(&str, &str)]) -> anyhow::Error {
    let Some(refusal) = error.downcast_ref::<ServerError>() else { return error };
    let flag = refusal.field().and_then(|field| flags.iter().find(|(f, _)| *f == top_field(field)));
    match flag {
        Some((_, flag)) => anyhow::anyhow!("{flag}: {refusal}"),
        None => error,
    }
}

/// The tags after `update`'s tag flags: replaced (or cleared), then added to, then removed from; a
/// tag to remove that the product does not have is refused, as a typo would otherwise pass unnoticed.
fn retagged(
    current: Vec<String>,
    clear: bool,
    replace: Vec<String>,
    add: Vec<String>,
    remove: &[String],
) -> Result<Vec<String>, String> {
    let mut tags = if clear || !replace.is_empty() { replace } else { current };
    for tag in add {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    for tag in remove {
        let Some(at) = tags.iter().position(|t| t == tag) else {
            return Err(format!("--remove-tag {tag}: the product has no tag '{tag}' (its tags: {})", tags.join(", ")));
        };
        tags.remove(at);
    }
    Ok(tags)
}

/// What publishing `product` still needs (the server's `products:check`), each with the command that
/// supplies it, then what governance recommends; or that it is ready.
fn write_publish_check(out: &mut impl Write, product: &Value, check: &Value) -> Result<()> {
    let id = product["id"].as_str().unwrap_or_default();
    let gaps = array(check, "gaps")?;
    if gaps.is_empty() {
        writeln!(out, "ready to publish: run `weft product publish {id}`")?;
    } else {
        writeln!(out, "publishing still needs:")?;
        for gap in gaps {
            writeln!(out, "  {}: run `{}`", gap["message"].as_str().unwrap_or_default(), fix_for(product, gap))?;
        }
    }
    let recommended = array(check, "recommendations")?;
    if !recommended.is_empty() {
        writeln!(out, "recommended:")?;
        for gap in recommended {
            writeln!(out, "  {}: run `{}`", gap["message"].as_str().unwrap_or_default(), fix_for(product, gap))?;
        }
    }
    Ok(())
}

/// The command that fills a publishing gap or recommendation of `product` (a spec).
fn fix_for(product: &Value, gap: &Value) -> String {
    let id = product["id"].as_str().unwrap_or_default();
    let field = gap["field"].as_str().unwrap_or_default();
    let rule = gap["rule"].as_str().unwrap_or_default();
    let update = |flags: &str| format!("weft product update {id} {flags}");
    // The port a gap about `outputPorts[N]...` names.
    let port = || {
        let index: usize = field.split_once('[')?.1.split_once(']')?.0.parse().ok()?;
        product["outputPorts"].get(index)
    };
    match (top_field(field), rule) {
        ("id", _) => {
            let domain = id.split('.').next().unwrap_or_default();
            format!("weft domain create {domain} --team TEAM --owner OWNER")
        }
        ("name", _) => update("--name NAME"),
        ("description", _) => update("--description TEXT"),
        ("documentation", _) => update("--documentation-file FILE.md"),
        ("owner", _) => update("--owner OWNER"),
        ("qualityTier", _) => update("--quality-tier raw|curated|authoritative"),
        ("slaTier", _) => update("--sla-tier bronze|silver|gold"),
        ("freshnessObjective", _) => update("--freshness-objective 15m"),
        ("version", _) => update("--version MAJOR.MINOR.PATCH"),
        ("tags", _) => update("--add-tag TAG"),
        (_, "contract-required") => format!("weft contract attach {id} CONTRACT"),
        ("outputPorts", "schema-registered") => {
            let subject = port().and_then(|p| p["schemaSubject"].as_str()).unwrap_or("SUBJECT");
            format!("weft schema register {subject} --file SCHEMA")
        }
        // Ports, inputs and custom properties are set by a whole document.
        _ => format!("weft product apply -f ODPS.yaml --id {id}"),
    }
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
    fn tag_flags_replace_add_and_remove() {
        let now = || vec!["a".to_string(), "b".to_string()];
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(retagged(now(), false, vec![], strings(&["c", "a"]), &strings(&["b"])), Ok(strings(&["a", "c"])));
        assert_eq!(retagged(now(), false, strings(&["x"]), vec![], &[]), Ok(strings(&["x"])));
        assert_eq!(retagged(now(), true, vec![], strings(&["y"]), &[]), Ok(strings(&["y"])));
        let error = retagged(now(), false, vec![], vec![], &strings(&["zz"])).expect_err("no such tag");
        assert_eq!(error, "--remove-tag zz: the product has no tag 'zz' (its tags: a, b)");
    }

    #[test]
    fn each_publishing_gap_names_the_command_that_fills_it() {
        let spec = json!({"id": "sales.orders", "outputPorts": [{"name": "events", "schemaSubject": "orders-value"}]});
        let check = json!({
            "gaps": [
                {"field": "qualityTier", "rule": "quality-tier-required", "message": "qualityTier is not set"},
                {"field": "outputPorts[0].schemaSubject", "rule": "schema-registered", "message": "no schema"},
                {"field": "id", "rule": "domain-exists", "message": "its domain 'sales' does not exist"},
                {"field": "outputPorts[0]", "rule": "contract-required", "message": "no contract"},
                {"field": "inputPorts[1].product", "rule": "input-not-retired", "message": "input retired"}
            ],
            "recommendations": [{"field": "slaTier", "rule": "sla-tier-recommended", "message": "no SLA tier"}]
        });
        let mut out = Vec::new();
        write_publish_check(&mut out, &spec, &check).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "publishing still needs:
  qualityTier is not set: run `weft product update sales.orders --quality-tier raw|curated|authoritative`
  no schema: run `weft schema register orders-value --file SCHEMA`
  its domain 'sales' does not exist: run `weft domain create sales --team TEAM --owner OWNER`
  no contract: run `weft contract attach sales.orders CONTRACT`
  input retired: run `weft product apply -f ODPS.yaml --id sales.orders`
recommended:
  no SLA tier: run `weft product update sales.orders --sla-tier bronze|silver|gold`
"
        );
        let mut out = Vec::new();
        write_publish_check(&mut out, &spec, &json!({"gaps": [], "recommendations": []})).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "ready to publish: run `weft product publish sales.orders`\n"
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
