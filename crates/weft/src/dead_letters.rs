//! `weft dead-letters ...`: what a product's port does with records that break its rules (`policy`),
//! and its dead letters: list, replay after a fix, drop with a reason.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Show, or set, what a product's output port does with a record that breaks its schema or
    /// contract: reject the request, or dead-letter the record and write the others.
    Policy {
        /// The product id, DOMAIN.NAME.
        product: String,
        /// The new policy; without it, the current one is shown.
        #[arg(value_enum)]
        policy: Option<Policy>,
        /// The output port [default: the product's only port].
        #[arg(long)]
        port: Option<String>,
    },
    /// List a product's unresolved dead letters (oldest first) with the rules they broke, and counts.
    List {
        product: String,
        #[command(flatten)]
        selection: Selection,
        /// Also those already replayed or dropped.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print the server's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the selected dead letters again through the write path (checked again): those that pass
    /// land in the product, the others stay.
    Replay {
        product: String,
        #[command(flatten)]
        selection: Selection,
    },
    /// Give up the selected dead letters, for a reason (they stay in the topic, marked dropped).
    Drop {
        product: String,
        #[command(flatten)]
        selection: Selection,
        /// Why (kept with them).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Policy {
    Reject,
    DeadLetter,
}

/// Which dead letters: every criterion given must hold; none given means all unresolved ones.
#[derive(Debug, Args)]
pub struct Selection {
    /// Only these offsets of the dead-letter topic (comma-separated).
    #[arg(long, value_delimiter = ',')]
    offsets: Vec<u64>,
    /// Only those that broke this rule (schema, or a contract rule's id).
    #[arg(long)]
    rule: Option<String>,
    /// Only those refused at or after this time (epoch milliseconds).
    #[arg(long)]
    from: Option<i64>,
    /// Only those refused before this time (epoch milliseconds).
    #[arg(long)]
    to: Option<i64>,
}

impl Selection {
    fn to_json(&self) -> Value {
        let mut body = json!({});
        if !self.offsets.is_empty() {
            body["offsets"] = json!(self.offsets);
        }
        for (key, value) in [
            ("rule", self.rule.as_ref().map(|r| json!(r))),
            ("from", self.from.map(|t| json!(t))),
            ("to", self.to.map(|t| json!(t))),
        ] {
            if let Some(value) = value {
                body[key] = value;
            }
        }
        body
    }
}

pub fn run(client: &Client, actor: &str, command: DeadLetterCommand, out: &mut impl Write) -> Result<()> {
    match command {
        DeadLetterCommand::Policy { product, policy, port } => {
            let path = format!("/api/v1/products/{}/governance", encode(&product));
            let answer = match policy {
                None => {
                    let query = port.map(|p| format!("?port={}", encode(&p))).unwrap_or_default();
                    client.get(&format!("{path}{query}"))?
                }
                Some(policy) => {
                    let policy = match policy {
                        Policy::Reject => "reject",
                        Policy::DeadLetter => "dead-letter",
                    };
                    let body = serde_json::to_vec(&json!({"port": port, "policy": policy}))?;
                    client.send("PUT", &path, actor, Some(("application/json", &body)))?
                }
            };
            let contract = match &answer["contract"] {
                Value::Object(c) => format!(", contract {} {}", text(&c["id"]), text(&c["version"])),
                _ => String::new(),
            };
            writeln!(out, "{} port {}: {}{contract}", product, text(&answer["port"]), text(&answer["policy"]))?;
        }
        DeadLetterCommand::List { product, selection, all, limit, json } => {
            let mut query = vec![format!("limit={limit}")];
            let body = selection.to_json();
            if let Some(offsets) = body["offsets"].as_array() {
                let list: Vec<String> = offsets.iter().map(Value::to_string).collect();
                query.push(format!("offsets={}", list.join(",")));
            }
            for key in ["rule", "from", "to"] {
                match &body[key] {
                    Value::String(s) => query.push(format!("{key}={}", encode(s))),
                    Value::Number(n) => query.push(format!("{key}={n}")),
                    _ => {}
                }
            }
            if all {
                query.push("include_resolved=true".into());
            }
            let page =
                client.get(&format!("/api/v1/products/{}/dead-letters?{}", encode(&product), query.join("&")))?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
                return Ok(());
            }
            for entry in array(&page, "entries")? {
                let rules: Vec<String> = array(entry, "violations")?
                    .iter()
                    .map(|v| match v["field"].as_str() {
                        Some(field) => format!("{} ({field}): {}", text(&v["rule"]), text(&v["reason"])),
                        None => format!("{}: {}", text(&v["rule"]), text(&v["reason"])),
                    })
                    .collect();
                let state = entry["resolution"]["action"].as_str().unwrap_or("unresolved");
                writeln!(out, "{}\t{}\t{}\t{}", entry["offset"], state, entry["key"], rules.join("; "))?;
            }
            let by_rule: Vec<String> = page["by_rule"]
                .as_object()
                .map(|rules| rules.iter().map(|(rule, n)| format!("{rule}: {n}")).collect())
                .unwrap_or_default();
            writeln!(
                out,
                "{} dead letters, {} unresolved{}",
                page["total"],
                page["unresolved"],
                if by_rule.is_empty() { String::new() } else { format!(" ({})", by_rule.join(", ")) }
            )?;
        }
        DeadLetterCommand::Replay { product, selection } => {
            let body = serde_json::to_vec(&selection.to_json())?;
            let path = format!("/api/v1/products/{}/dead-letters:replay", encode(&product));
            let report = client.send("POST", &path, actor, Some(("application/json", &body)))?;
            for failure in array(&report, "failed")? {
                let rules: Vec<&str> =
                    array(failure, "violations")?.iter().filter_map(|v| v["rule"].as_str()).collect();
                writeln!(out, "{}\tstill breaks {}", failure["offset"], rules.join(", "))?;
            }
            writeln!(
                out,
                "replayed {} into {product}; {} still break its rules and stay",
                array(&report, "replayed")?.len(),
                array(&report, "failed")?.len()
            )?;
        }
        DeadLetterCommand::Drop { product, selection, reason } => {
            let mut body = selection.to_json();
            body["reason"] = json!(reason);
            let body = serde_json::to_vec(&body)?;
            let path = format!("/api/v1/products/{}/dead-letters:drop", encode(&product));
            let answer = client.send("POST", &path, actor, Some(("application/json", &body)))?;
            writeln!(out, "dropped {} dead letters of {product}", array(&answer, "dropped")?.len())?;
        }
    }
    Ok(())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
