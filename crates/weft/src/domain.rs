//! `weft domain ...`: the catalog's domains.

use std::io::Write;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Create a domain owned by a team, with at least one owner.
    Create {
        name: String,
        #[command(flatten)]
        fields: DomainFields,
    },
    /// Show a domain as JSON.
    Get { name: String },
    /// List domains: name, owning team, members.
    List,
    /// Change a domain's description, team, contact or members (what is not given stays).
    Update {
        name: String,
        #[command(flatten)]
        fields: DomainFields,
        /// Replace the members with the --owner and --member users given (otherwise they are added).
        #[arg(long)]
        replace_members: bool,
    },
    /// Delete a domain that has no products left.
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct DomainFields {
    /// The team that owns the domain (required to create).
    #[arg(long)]
    team: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// How to reach the domain (an e-mail address, a chat channel...).
    #[arg(long)]
    contact: Option<String>,
    /// A member with the owner role (repeatable).
    #[arg(long = "owner", value_name = "USER")]
    owners: Vec<String>,
    /// A member with the member role (repeatable).
    #[arg(long = "member", value_name = "USER")]
    members: Vec<String>,
}

impl DomainFields {
    fn members(&self) -> Vec<Value> {
        let owners = self.owners.iter().map(|user| json!({"user": user, "role": "owner"}));
        let members = self.members.iter().map(|user| json!({"user": user, "role": "member"}));
        owners.chain(members).collect()
    }
}

pub fn run(client: &Client, actor: &str, command: DomainCommand, out: &mut impl Write) -> Result<()> {
    match command {
        DomainCommand::Create { name, fields } => {
            let Some(team) = &fields.team else { bail!("a domain needs its owning team: give --team") };
            if fields.owners.is_empty() {
                bail!("a domain needs at least one owner: give --owner USER");
            }
            let spec = json!({
                "name": name, "owningTeam": team, "description": fields.description.clone().unwrap_or_default(),
                "contact": fields.contact.clone().unwrap_or_default(), "members": fields.members(),
            });
            let body = serde_json::to_vec(&spec)?;
            client.send("POST", "/api/v1/domains", actor, Some(("application/json", &body)))?;
            writeln!(out, "created domain '{name}'")?;
        }
        DomainCommand::Get { name } => {
            let domain = client.get(&format!("/api/v1/domains/{}", encode(&name)))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&domain)?)?;
        }
        DomainCommand::List => {
            for domain in array(&client.get("/api/v1/domains")?, "domains")? {
                let spec = &domain["spec"];
                let members: Vec<String> = spec["members"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .map(|m| {
                                format!("{} ({})", m["user"].as_str().unwrap_or("?"), m["role"].as_str().unwrap_or("?"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    spec["name"].as_str().unwrap_or_default(),
                    spec["owningTeam"].as_str().unwrap_or_default(),
                    members.join(", ")
                )?;
            }
        }
        DomainCommand::Update { name, fields, replace_members } => {
            let path = format!("/api/v1/domains/{}", encode(&name));
            let current = client.get(&path)?;
            let mut spec = current["spec"].clone();
            if let Some(team) = &fields.team {
                spec["owningTeam"] = json!(team);
            }
            if let Some(description) = &fields.description {
                spec["description"] = json!(description);
            }
            if let Some(contact) = &fields.contact {
                spec["contact"] = json!(contact);
            }
            let given = fields.members();
            if replace_members {
                spec["members"] = Value::Array(given);
            } else if !given.is_empty() {
                let mut members = spec["members"].as_array().cloned().unwrap_or_default();
                for member in given {
                    members.retain(|m| m["user"] != member["user"]);
                    members.push(member);
                }
                spec["members"] = Value::Array(members);
            }
            let revision = current["revision"].as_u64().unwrap_or_default();
            let body = serde_json::to_vec(&spec)?;
            let updated = client.send(
                "PUT",
                &format!("{path}?ifRevision={revision}"),
                actor,
                Some(("application/json", &body)),
            )?;
            if updated["revision"].as_u64() == Some(revision) {
                writeln!(out, "domain '{name}' unchanged")?;
            } else {
                writeln!(out, "updated domain '{name}' (revision {})", updated["revision"])?;
            }
        }
        DomainCommand::Delete { name } => {
            client.send("DELETE", &format!("/api/v1/domains/{}", encode(&name)), actor, None)?;
            writeln!(out, "deleted domain '{name}'")?;
        }
    }
    Ok(())
}
