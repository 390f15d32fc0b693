//! `weft schema ...`: the schema registry over its Confluent REST API (`/registry`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::client::{encode, Client};

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Register a schema under a subject and print its id and version.
    Register {
        subject: String,
        #[command(flatten)]
        schema: SchemaFile,
    },
    /// Print a version of a subject (default: the latest), or a schema by its global id.
    Get {
        #[arg(required_unless_present = "id", conflicts_with = "id")]
        subject: Option<String>,
        /// A version number, or "latest".
        #[arg(long, default_value = "latest")]
        version: String,
        /// A global schema id instead of a subject.
        #[arg(long)]
        id: Option<u32>,
    },
    /// List subjects with their latest version, id and type.
    List,
    /// Check a schema against the latest version of a subject under the subject's compatibility level;
    /// exits with 1 and prints why when it is not compatible.
    Check {
        subject: String,
        #[command(flatten)]
        schema: SchemaFile,
    },
}

/// A schema file and its type.
#[derive(Debug, Args)]
pub struct SchemaFile {
    /// The schema: an Avro schema (.avsc) or a JSON Schema (.json).
    #[arg(long)]
    file: PathBuf,
    /// The schema type [default: JSON for a .json file, else AVRO].
    #[arg(long = "type", value_enum, ignore_case = true)]
    schema_type: Option<SchemaType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SchemaType {
    Avro,
    Json,
}

impl SchemaFile {
    /// The request body of the Confluent API: `{"schemaType": ..., "schema": "<text>"}`.
    fn body(&self) -> Result<Value> {
        let text = std::fs::read_to_string(&self.file).with_context(|| format!("reading {}", self.file.display()))?;
        let schema_type = self.schema_type.unwrap_or_else(|| type_of(&self.file));
        let name = match schema_type {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
        };
        Ok(json!({"schemaType": name, "schema": text}))
    }
}

fn type_of(file: &Path) -> SchemaType {
    match file.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("json") => SchemaType::Json,
        _ => SchemaType::Avro,
    }
}

pub fn run(client: &Client, command: SchemaCommand, out: &mut impl Write) -> Result<()> {
    match command {
        SchemaCommand::Register { subject, schema } => {
            let body = schema.body()?;
            let subject_path = format!("/registry/subjects/{}", encode(&subject));
            let id = client.post(&format!("{subject_path}/versions"), &body)?["id"].clone();
            let registered = client.post(&subject_path, &body)?;
            writeln!(out, "registered schema id {id} as version {} of subject '{subject}'", registered["version"])?;
        }
        SchemaCommand::Get { id: Some(id), .. } => {
            let schema = client.get(&format!("/registry/schemas/ids/{id}"))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&readable(schema))?)?;
        }
        SchemaCommand::Get { subject, version, id: None } => {
            let Some(subject) = subject else { bail!("give a SUBJECT or --id") };
            let path = format!("/registry/subjects/{}/versions/{}", encode(&subject), encode(&version));
            writeln!(out, "{}", serde_json::to_string_pretty(&readable(client.get(&path)?))?)?;
        }
        SchemaCommand::List => {
            let latest = client.get("/registry/schemas?latestOnly=true")?;
            for schema in latest.as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "{}\tversion {}\tid {}\t{}",
                    schema["subject"].as_str().unwrap_or_default(),
                    schema["version"],
                    schema["id"],
                    schema["schemaType"].as_str().unwrap_or("AVRO"),
                )?;
            }
        }
        SchemaCommand::Check { subject, schema } => {
            let path = format!("/registry/compatibility/subjects/{}/versions/latest?verbose=true", encode(&subject));
            let verdict = client.post(&path, &schema.body()?)?;
            if verdict["is_compatible"].as_bool() == Some(true) {
                writeln!(out, "compatible with the latest version of '{subject}'")?;
            } else {
                writeln!(out, "NOT compatible with the latest version of '{subject}':")?;
                for message in verdict["messages"].as_array().into_iter().flatten() {
                    writeln!(out, "  {}", message.as_str().unwrap_or_default())?;
                }
                out.flush()?;
                bail!("the schema is not compatible with subject '{subject}'");
            }
        }
    }
    Ok(())
}

/// Shows the schema text as JSON rather than as one escaped string, when it is JSON.
fn readable(mut schema: Value) -> Value {
    if let Some(parsed) = schema["schema"].as_str().and_then(|text| serde_json::from_str::<Value>(text).ok()) {
        schema["schema"] = parsed;
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(type_of(Path::new("a/order.avsc")), SchemaType::Avro);
        assert_eq!(type_of(Path::new("payment.JSON")), SchemaType::Json);
        assert_eq!(type_of(Path::new("schema")), SchemaType::Avro);
    }

    #[test]
    fn schema_text_becomes_readable_json() {
        let shown = readable(json!({"id": 1, "schema": "{\"type\":\"string\"}"}));
        assert_eq!(shown, json!({"id": 1, "schema": {"type": "string"}}));
        let kept = readable(json!({"schema": "syntax = \"proto3\";"}));
        assert_eq!(kept["schema"], "syntax = \"proto3\";");
    }
}
