//! `weft policy get|set`: the platform's global governance policies.
//!
//! The file `set -f` reads is YAML or JSON (JSON is YAML), the document `GET
//! /api/v1/governance/policies` answers under `policies`; every part optional, each with its
//! `enforcement` (`block` or `warn`):
//!
//! ```yaml
//! requiredMetadata:     {fields: [description, owner], enforcement: block}
//! minimumCompatibility: {level: BACKWARD, enforcement: block}
//! classification:       {restricted: [pii], enforcement: warn}
//! naming:               {productId: '[a-z]+\.[a-z0-9-]+', topic: '[a-z0-9._-]+', enforcement: warn}
//! contractRequired:     {qualityTiers: [authoritative], enforcement: block}
//! ```
//!
//! `get` prints that document as JSON (which `set -f` reads back). Only platform admins may set it
//! (today the actor `admin`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::Value;

use crate::client::Client;

/// The largest policies file read, and how far it may expand (aliases) or nest.
const LIMITS: weft_yaml::Limits = weft_yaml::Limits {
    max_document_bytes: 1 << 20,
    max_depth: 32,
    max_expanded_nodes: 100_000,
    max_expanded_bytes: 1 << 20,
};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the policies in force as JSON (the document `set -f` reads), then who set them and when.
    Get {
        /// Print the server's whole answer (version, author, history) instead of the document.
        #[arg(long)]
        full: bool,
    },
    /// Replace the policies with a YAML or JSON file (platform admins only); a bad document is refused
    /// whole, naming the field and why.
    Set {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Refuse the change if the policies moved past this version.
        #[arg(long)]
        if_version: Option<u64>,
    },
}

pub fn run(client: &Client, actor: &str, command: PolicyCommand, out: &mut impl Write) -> Result<()> {
    match command {
        PolicyCommand::Get { full } => {
            let answer = client.get("/api/v1/governance/policies")?;
            if full {
                writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
            } else {
                writeln!(out, "{}", serde_json::to_string_pretty(&answer["policies"])?)?;
            }
        }
        PolicyCommand::Set { file, if_version } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let document: Value = weft_yaml::from_str(&text, &LIMITS)
                .with_context(|| format!("reading {} as YAML or JSON", file.display()))?;
            let body = serde_json::to_vec(&document)?;
            let path = match if_version {
                Some(version) => format!("/api/v1/governance/policies?ifVersion={version}"),
                None => "/api/v1/governance/policies".to_string(),
            };
            let answer = client
                .send("PUT", &path, actor, Some(("application/json", &body)))
                .with_context(|| format!("setting the policies from {}", file.display()))?;
            writeln!(
                out,
                "policies version {} set by {}",
                answer["version"],
                answer["principal"].as_str().unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
