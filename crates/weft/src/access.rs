//! `weft access ...`: ask for access to a data product, and decide about requests as its owner.

use std::io::Write;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Ask to consume a product (as --actor / WEFT_ACTOR).
    Request {
        /// The product id, DOMAIN.NAME.
        product: String,
        /// Why the data is needed.
        #[arg(long)]
        purpose: String,
        /// The team or domain that will consume it.
        #[arg(long)]
        consumer: Option<String>,
    },
    /// List requests: id, status, product, requester, purpose.
    List {
        /// Only requests this user made.
        #[arg(long)]
        requester: Option<String>,
        /// Only requests this user may decide about (owner of the product or its domain).
        #[arg(long)]
        approver: Option<String>,
        #[arg(long, value_enum)]
        status: Option<AccessStatus>,
        /// Only requests for this product.
        #[arg(long)]
        product: Option<String>,
    },
    /// Approve a pending request (as an owner of the product or its domain).
    Approve {
        /// The request id, ar-N.
        request: String,
        #[arg(long)]
        reason: Option<String>,
        /// The grant ends by itself after this long (90m, 12h, 30d); default: until revoked.
        #[arg(long, value_parser = crate::security::parse_duration)]
        expires_in: Option<u64>,
    },
    /// Deny a pending request.
    Deny {
        request: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke an approved request.
    Revoke {
        request: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessStatus {
    Pending,
    Approved,
    Denied,
    Revoked,
}

impl AccessStatus {
    fn as_str(self) -> &'static str {
        match self {
            AccessStatus::Pending => "pending",
            AccessStatus::Approved => "approved",
            AccessStatus::Denied => "denied",
            AccessStatus::Revoked => "revoked",
        }
    }
}

fn line(request: &Value) -> String {
    let text = |field: &str| request[field].as_str().unwrap_or("-").to_string();
    format!("{}\t{}\t{}\t{}\t{}", text("id"), text("status"), text("product"), text("requester"), text("purpose"))
}

pub fn run(client: &Client, actor: &str, command: AccessCommand, out: &mut impl Write) -> Result<()> {
    let (request, decision, reason, expires_in) = match command {
        AccessCommand::Request { product, purpose, consumer } => {
            let body = serde_json::to_vec(&json!({"purpose": purpose, "consumer": consumer}))?;
            let path = format!("/api/v1/products/{}/access-requests", encode(&product));
            let made = client.send("POST", &path, actor, Some(("application/json", &body)))?;
            writeln!(out, "requested access to '{product}': {} (pending)", made["id"].as_str().unwrap_or_default())?;
            return Ok(());
        }
        AccessCommand::List { requester, approver, status, product } => {
            let pairs = [
                ("requester", requester),
                ("approver", approver),
                ("status", status.map(|s| s.as_str().to_string())),
                ("product", product),
            ];
            let query: Vec<String> =
                pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
            let path = if query.is_empty() {
                "/api/v1/access-requests".to_string()
            } else {
                format!("/api/v1/access-requests?{}", query.join("&"))
            };
            for request in array(&client.get(&path)?, "requests")? {
                writeln!(out, "{}", line(request))?;
            }
            return Ok(());
        }
        AccessCommand::Approve { request, reason, expires_in } => (request, "approve", reason, expires_in),
        AccessCommand::Deny { request, reason } => (request, "deny", reason, None),
        AccessCommand::Revoke { request, reason } => (request, "revoke", reason, None),
    };
    let expires_at = expires_in.map(|seconds| crate::now_ms() + seconds as i64 * 1000);
    let body = serde_json::to_vec(&json!({"reason": reason, "expiresAt": expires_at}))?;
    let path = format!("/api/v1/access-requests/{}/{decision}", encode(&request));
    let decided = client.send("POST", &path, actor, Some(("application/json", &body)))?;
    writeln!(
        out,
        "{request} is {} ({} for {})",
        decided["status"].as_str().unwrap_or_default(),
        decided["product"].as_str().unwrap_or_default(),
        decided["requester"].as_str().unwrap_or_default()
    )?;
    Ok(())
}
