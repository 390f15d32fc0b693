//! `weft token ...`, `weft user ...`, `weft audit` and `weft whoami`: identities, API tokens and the
//! audit log.

use std::io::{BufRead, BufReader, Write};

use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token (printed once: store it now; only its hash is kept).
    Create {
        /// For another user or service account (platform admins only; default: yourself).
        #[arg(long = "for", value_name = "NAME")]
        principal: Option<String>,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        /// read or write (repeatable; default: both).
        #[arg(long = "scope", value_enum)]
        scopes: Vec<Scope>,
        /// Lifetime: seconds, or with a unit (90m, 12h, 30d).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<u64>,
    },
    /// List tokens (yours; a platform admin sees everyone's, or one identity's with --for).
    List {
        #[arg(long = "for", value_name = "NAME")]
        principal: Option<String>,
    },
    /// Revoke a token by id: it stops working at once.
    Revoke { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    Read,
    Write,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create or replace a user or service account (platform admins only).
    Set {
        name: String,
        /// A team (group) the identity is in (repeatable); a domain's owning team's members are its members.
        #[arg(long = "team")]
        teams: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// Make it a platform admin.
        #[arg(long)]
        admin: bool,
        /// A program rather than a person: signs in with tokens only.
        #[arg(long)]
        service_account: bool,
        /// Disabled identities cannot sign in.
        #[arg(long)]
        disabled: bool,
    },
    /// List users and service accounts.
    List,
    /// Show one identity.
    Get { name: String },
    /// Delete an identity and revoke its tokens (platform admins only).
    Delete { name: String },
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only this principal's entries.
    #[arg(long)]
    principal: Option<String>,
    /// Only entries whose object contains this (a product id, a topic, a path).
    #[arg(long)]
    object: Option<String>,
    /// Only entries whose action contains this (DELETE, /publish, ...).
    #[arg(long)]
    action: Option<String>,
    /// ok, refused or failed.
    #[arg(long)]
    outcome: Option<String>,
    /// Only entries of the last DURATION (90m, 12h, 7d).
    #[arg(long, value_parser = parse_duration)]
    since: Option<u64>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Keep printing new entries as they happen.
    #[arg(long)]
    follow: bool,
}

/// `90`, `90s`, `30m`, `12h`, `7d` as seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| format!("'{text}' is not a duration such as 90m, 12h or 30d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{text}': the unit must be s, m, h or d")),
    };
    n.checked_mul(factor).filter(|s| *s > 0).ok_or_else(|| format!("'{text}' must be a positive duration"))
}

pub fn run_token(client: &Client, command: TokenCommand, out: &mut impl Write) -> Result<()> {
    match command {
        TokenCommand::Create { principal, description, scopes, expires_in } => {
            let scopes: Vec<&str> = scopes
                .iter()
                .map(|s| match s {
                    Scope::Read => "read",
                    Scope::Write => "write",
                })
                .collect();
            let created = client.post(
                "/api/v1/tokens",
                &json!({"principal": principal, "description": description, "scopes": scopes, "expiresInSeconds": expires_in}),
            )?;
            writeln!(out, "{}", created["token"].as_str().unwrap_or_default())?;
            eprintln!(
                "token {} for {} (scopes {}{}): shown once, store it now",
                created["id"].as_str().unwrap_or_default(),
                created["principal"].as_str().unwrap_or_default(),
                scope_list(&created),
                created["expiresAt"]
                    .as_i64()
                    .map(|at| format!(", expires {}", crate::time::iso(at)))
                    .unwrap_or_default()
            );
        }
        TokenCommand::List { principal } => {
            let path = match principal {
                Some(p) => format!("/api/v1/tokens?principal={}", encode(&p)),
                None => "/api/v1/tokens".to_string(),
            };
            let answer = client.get(&path)?;
            writeln!(
                out,
                "{:<17} {:<20} {:<11} {:<10} {:<25} DESCRIPTION",
                "ID", "PRINCIPAL", "SCOPES", "STATE", "EXPIRES"
            )?;
            for token in array(&answer, "tokens")? {
                let state = if token["revokedAt"].is_i64() {
                    "revoked"
                } else if token["expiresAt"].as_i64().is_some_and(|at| at <= crate::now_ms()) {
                    "expired"
                } else {
                    "active"
                };
                writeln!(
                    out,
                    "{:<17} {:<20} {:<11} {:<10} {:<25} {}",
                    token["id"].as_str().unwrap_or_default(),
                    token["principal"].as_str().unwrap_or_default(),
                    scope_list(token),
                    state,
                    token["expiresAt"].as_i64().map(crate::time::iso).unwrap_or_else(|| "never".into()),
                    token["description"].as_str().unwrap_or_default()
                )?;
            }
        }
        TokenCommand::Revoke { id } => {
            let revoked = client.delete(&format!("/api/v1/tokens/{}", encode(&id)))?;
            writeln!(out, "revoked token {} of {}", id, revoked["principal"].as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

fn scope_list(token: &Value) -> String {
    token["scopes"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

pub fn run_user(client: &Client, command: UserCommand, out: &mut impl Write) -> Result<()> {
    match command {
        UserCommand::Set { name, teams, display_name, admin, service_account, disabled } => {
            let kind = if service_account { "service-account" } else { "user" };
            let body = json!({"name": name, "kind": kind, "displayName": display_name.unwrap_or_default(),
                "teams": teams, "admin": admin, "disabled": disabled});
            let user = client.send(
                "PUT",
                &format!("/api/v1/users/{}", encode(&name)),
                "",
                Some(("application/json", body.to_string().as_bytes())),
            )?;
            writeln!(out, "{} {} (teams: {})", user["kind"].as_str().unwrap_or("user"), name, join(&user["teams"]))?;
        }
        UserCommand::List => {
            let answer = client.get("/api/v1/users")?;
            writeln!(out, "{:<24} {:<16} {:<6} {:<9} TEAMS", "NAME", "KIND", "ADMIN", "STATE")?;
            for user in array(&answer, "users")? {
                writeln!(
                    out,
                    "{:<24} {:<16} {:<6} {:<9} {}",
                    user["name"].as_str().unwrap_or_default(),
                    user["kind"].as_str().unwrap_or_default(),
                    if user["admin"].as_bool() == Some(true) { "yes" } else { "no" },
                    if user["disabled"].as_bool() == Some(true) { "disabled" } else { "active" },
                    join(&user["teams"])
                )?;
            }
        }
        UserCommand::Get { name } => {
            let user = client.get(&format!("/api/v1/users/{}", encode(&name)))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&user)?)?;
        }
        UserCommand::Delete { name } => {
            client.delete(&format!("/api/v1/users/{}", encode(&name)))?;
            writeln!(out, "deleted {name} and revoked its tokens")?;
        }
    }
    Ok(())
}

fn join(list: &Value) -> String {
    list.as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

pub fn run_whoami(client: &Client, out: &mut impl Write) -> Result<()> {
    let session = client.get("/api/v1/session")?;
    if session["signedIn"].as_bool() != Some(true) {
        bail!("not signed in: pass --token or set WEFT_TOKEN (a token from `weft token create`, or the one the server printed)");
    }
    let identity = &session["identity"];
    writeln!(
        out,
        "{} ({}{}) teams: {} scopes: {}",
        identity["name"].as_str().unwrap_or_default(),
        identity["kind"].as_str().unwrap_or_default(),
        if identity["admin"].as_bool() == Some(true) { ", platform admin" } else { "" },
        join(&identity["teams"]),
        scope_list(identity)
    )?;
    Ok(())
}

pub fn run_audit(client: &Client, args: AuditArgs, out: &mut impl Write) -> Result<()> {
    let mut query = vec![format!("limit={}", args.limit)];
    for (key, value) in
        [("principal", &args.principal), ("object", &args.object), ("action", &args.action), ("outcome", &args.outcome)]
    {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(value)));
        }
    }
    if let Some(seconds) = args.since {
        query.push(format!("since={}", crate::now_ms() - seconds as i64 * 1000));
    }
    let page = client.get(&format!("/api/v1/audit?{}", query.join("&")))?;
    let mut entries = array(&page, "entries")?.clone();
    entries.reverse();
    for entry in &entries {
        print_entry(entry, out)?;
    }
    if args.follow {
        out.flush()?;
        let reader = BufReader::new(client.stream("/api/v1/audit/stream")?);
        for line in reader.lines() {
            let line = line?;
            if let Some(data) = line.strip_prefix("data:") {
                let entry: Value = serde_json::from_str(data.trim())?;
                let wanted = args.principal.as_ref().is_none_or(|p| entry["principal"] == **p)
                    && args
                        .object
                        .as_ref()
                        .is_none_or(|o| entry["object"].as_str().unwrap_or_default().contains(o.as_str()))
                    && args
                        .action
                        .as_ref()
                        .is_none_or(|a| entry["action"].as_str().unwrap_or_default().contains(a.as_str()))
                    && args.outcome.as_ref().is_none_or(|o| entry["outcome"] == **o);
                if wanted {
                    print_entry(&entry, out)?;
                    out.flush()?;
                }
            }
        }
    }
    Ok(())
}

fn print_entry(entry: &Value, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "{}  {:<8} {:<16} {} {}{}",
        entry["at"].as_i64().map(crate::time::iso).unwrap_or_default(),
        entry["outcome"].as_str().unwrap_or_default(),
        entry["principal"].as_str().unwrap_or_default(),
        entry["action"].as_str().unwrap_or_default(),
        entry["object"].as_str().unwrap_or_default(),
        entry["status"].as_u64().map(|s| format!(" [{s}]")).unwrap_or_default()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_with_units() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("x").is_err());
    }
}
