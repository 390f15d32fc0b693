//! `weft contract ...`: data contracts (ODCS v3 YAML): apply, list, get, export, attach to a product's
//! port, test against a product's recent data (for CI, with JUnit XML), and diff two versions.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{array, encode, Client};

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Store a contract version from an ODCS v3 YAML file (applying the same file again changes nothing).
    Apply {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// List contracts: id, newest version, status, name, the ports that enforce one.
    List,
    /// Show a contract version as JSON: its document and its rules.
    Get {
        id: String,
        /// The version [default: the newest].
        #[arg(long)]
        version: Option<String>,
    },
    /// Write a contract version as ODCS YAML, every field as it came.
    Export {
        id: String,
        #[arg(long)]
        version: Option<String>,
        /// The file to write [default: standard output].
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Make a product's output port check every record written to it against a contract version.
    Attach {
        /// The product id, DOMAIN.NAME.
        product: String,
        /// The contract id.
        contract: String,
        #[arg(long)]
        version: Option<String>,
        /// The schema object describing the port's records [default: the contract's only one].
        #[arg(long)]
        object: Option<String>,
        /// The output port [default: the product's only port].
        #[arg(long)]
        port: Option<String>,
    },
    /// Stop a product's output port checking records against its contract.
    Detach {
        product: String,
        #[arg(long)]
        port: Option<String>,
    },
    /// Check a contract against a product's newest records, rule by rule, writing nothing; exits 1 when
    /// a rule fails.
    Test {
        /// The contract id.
        id: String,
        /// The product whose records are checked.
        #[arg(long)]
        product: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        object: Option<String>,
        /// How many of the newest records.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Also write the result as JUnit XML (one test case per rule) to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Compare two contract files (no server needed): every change, breaking or not; exits 1 when a
    /// change is breaking (data that met the old contract may fail the new one, or a field goes away).
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `weft contract test` found rules that records broke, or `diff` a breaking change: exit code 1, the
/// report already printed.
#[derive(Debug)]
pub struct ChecksFailed;

impl std::fmt::Display for ChecksFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the contract's checks failed")
    }
}

impl std::error::Error for ChecksFailed {}

pub fn run(client: &Client, actor: &str, command: ContractCommand, out: &mut impl Write) -> Result<()> {
    match command {
        ContractCommand::Apply { file } => {
            let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let answer = client
                .send("POST", "/api/v1/contracts", actor, Some(("application/yaml", &text)))
                .with_context(|| format!("applying {}", file.display()))?;
            let c = &answer["contract"];
            writeln!(
                out,
                "{} contract {} version {}",
                text_of(&answer["result"]),
                text_of(&c["id"]),
                text_of(&c["version"])
            )?;
        }
        ContractCommand::List => {
            let list = client.get("/api/v1/contracts")?;
            for c in array(&list, "contracts")? {
                let ports: Vec<String> = c["ports"].as_array().into_iter().flatten().map(text_of).collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    text_of(&c["id"]),
                    text_of(&c["version"]),
                    text_of(&c["status"]),
                    text_of(&c["name"]),
                    if ports.is_empty() { "-".to_string() } else { ports.join(",") }
                )?;
            }
        }
        ContractCommand::Get { id, version } => {
            let query = version.map(|v| format!("?version={}", encode(&v))).unwrap_or_default();
            let view = client.get(&format!("/api/v1/contracts/{}{query}", encode(&id)))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?;
        }
        ContractCommand::Export { id, version, output } => {
            let query = version.map(|v| format!("?version={}", encode(&v))).unwrap_or_default();
            let path = format!("/api/v1/contracts/{}/odcs{query}", encode(&id));
            match output {
                Some(file) => {
                    let mut sink =
                        std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?;
                    client.download(&path, &mut sink)?;
                }
                None => {
                    client.download(&path, out)?;
                }
            }
        }
        ContractCommand::Attach { product, contract, version, object, port } => {
            let body =
                serde_json::to_vec(&json!({"id": contract, "version": version, "object": object, "port": port}))?;
            let path = format!("/api/v1/products/{}/contract", encode(&product));
            let answer = client.send("PUT", &path, actor, Some(("application/json", &body)))?;
            writeln!(
                out,
                "{product} port {} now checks contract {} version {} (policy {})",
                text_of(&answer["port"]),
                text_of(&answer["contract"]["id"]),
                text_of(&answer["contract"]["version"]),
                text_of(&answer["policy"])
            )?;
        }
        ContractCommand::Detach { product, port } => {
            let query = port.map(|p| format!("?port={}", encode(&p))).unwrap_or_default();
            let path = format!("/api/v1/products/{}/contract{query}", encode(&product));
            let answer = client.send("DELETE", &path, actor, None)?;
            writeln!(out, "{product} port {} checks no contract now", text_of(&answer["port"]))?;
        }
        ContractCommand::Diff { old, new, json } => {
            let read = |path: &PathBuf| -> Result<weft_contract::Contract> {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                weft_contract::Contract::from_yaml(&text)
                    .with_context(|| format!("{} is not a valid contract", path.display()))
            };
            let diff = weft_contract::diff(&read(&old)?, &read(&new)?);
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&diff)?)?;
            } else {
                for change in &diff.changes {
                    let kind = if change.breaking { "BREAKING" } else { "compatible" };
                    writeln!(out, "{kind}\t{}\t{}", change.path, change.message)?;
                }
                let breaking = diff.breaking().count();
                writeln!(out, "{} changes, {breaking} breaking", diff.changes.len())?;
            }
            if diff.is_breaking() {
                return Err(ChecksFailed.into());
            }
        }
        ContractCommand::Test { id, product, version, object, limit, junit } => {
            let mut query = vec![format!("product={}", encode(&product)), format!("limit={limit}")];
            if let Some(version) = version {
                query.push(format!("version={}", encode(&version)));
            }
            if let Some(object) = object {
                query.push(format!("object={}", encode(&object)));
            }
            let report = client.get(&format!("/api/v1/contracts/{}/test?{}", encode(&id), query.join("&")))?;
            print_test(&report, out)?;
            if let Some(file) = junit {
                std::fs::write(&file, junit_xml(&report)?).with_context(|| format!("writing {}", file.display()))?;
            }
            if report["passed"] != json!(true) {
                return Err(ChecksFailed.into());
            }
        }
    }
    Ok(())
}

fn print_test(report: &Value, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "contract {} {} on {} ({} records of {})",
        text_of(&report["contract"]),
        text_of(&report["version"]),
        text_of(&report["product"]),
        report["records"],
        text_of(&report["topic"])
    )?;
    for outcome in array(report, "rules")? {
        let rule = &outcome["rule"];
        let state = if rule["checkedAtWrite"] == json!(false) {
            "skip".to_string()
        } else if outcome["failed"] == json!(0) {
            "pass".to_string()
        } else {
            format!("FAIL ({} records)", outcome["failed"])
        };
        writeln!(out, "{state}\t{}\t{}", text_of(&rule["id"]), text_of(&rule["description"]))?;
        for example in outcome["examples"].as_array().into_iter().flatten() {
            writeln!(out, "\t  {}:{} {}", example["partition"], example["offset"], text_of(&example["reason"]))?;
        }
    }
    let failed = report["rules"].as_array().into_iter().flatten().filter(|o| o["failed"] != json!(0)).count();
    writeln!(out, "{}", if failed == 0 { "passed".to_string() } else { format!("{failed} rules failed") })?;
    Ok(())
}

/// The report as JUnit XML: one test suite (the contract on the product), one test case per rule,
/// `<failure>` for a rule some records broke, `<skipped>` for one not checked at write time.
fn junit_xml(report: &Value) -> Result<String> {
    let rules = array(report, "rules")?;
    let failures = rules.iter().filter(|o| o["failed"] != json!(0)).count();
    let skipped = rules.iter().filter(|o| o["rule"]["checkedAtWrite"] == json!(false)).count();
    let suite =
        format!("{}@{} on {}", text_of(&report["contract"]), text_of(&report["version"]), text_of(&report["product"]));
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        escape(&suite),
        rules.len()
    ));
    for outcome in rules {
        let rule = &outcome["rule"];
        xml.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\">",
            escape(&suite),
            escape(&text_of(&rule["id"]))
        ));
        if rule["checkedAtWrite"] == json!(false) {
            xml.push_str(&format!("<skipped message=\"{}\"/>", escape(&text_of(&rule["description"]))));
        } else if outcome["failed"] != json!(0) {
            let examples: Vec<String> = outcome["examples"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| format!("{}:{} {}", e["partition"], e["offset"], text_of(&e["reason"])))
                .collect();
            xml.push_str(&format!(
                "<failure message=\"{} of {} records broke {}\">{}</failure>",
                outcome["failed"],
                report["records"],
                escape(&text_of(&rule["id"])),
                escape(&examples.join("\n"))
            ));
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("</testsuite></testsuites>\n");
    if rules.is_empty() {
        bail!("the contract has no rules to report");
    }
    Ok(xml)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
