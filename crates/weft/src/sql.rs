//! `weft sql`: runs ksqlDB statements through the server's `POST /ksql`, and queries through
//! `POST /query-stream` (push and pull) or `POST /query` (`PRINT`).
//!
//! Without `-e` or `-f` it is an interactive prompt (`weft> `, `   > ` while a statement is not yet
//! ended by `;`), line editing and a history file from `rustyline`. Each complete statement goes to
//! the server on its own; an error is printed and the session goes on. Ctrl-C while a push query
//! streams ends that query (`POST /close-query`), not the session; `exit`, `quit` or Ctrl-D leave.
//! When standard input is not a terminal the same loop reads statements from it, without prompts.
//!
//! `SET 'name' = 'value';` and `UNSET 'name';` are the CLI's own, as in ksqlDB's CLI: they change the
//! properties sent with the statements and queries after them (`streamsProperties`, `properties`),
//! in the prompt and in `-e`/`-f` texts alike, and change nothing on the server.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rustyline::error::ReadlineError;
use serde_json::{json, Map, Value};

use crate::client::Client;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Statements to run (`CREATE ...; SHOW STREAMS;`), or one query (`SELECT ... EMIT CHANGES LIMIT 3;`,
    /// `PRINT ...;`), which is streamed. Without -e or -f, an interactive prompt.
    #[arg(short = 'e', long = "execute", conflicts_with = "file")]
    execute: Option<String>,
    /// A file of statements, run in order through `POST /ksql`.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Start queries at the earliest records (`auto.offset.reset=earliest`) instead of the latest.
    #[arg(long)]
    earliest: bool,
    /// The prompt's history file [default: ~/.weft_sql_history].
    #[arg(long, value_name = "FILE", conflicts_with_all = ["execute", "file"])]
    history: Option<PathBuf>,
}

/// The prompt, and the one shown while a statement continues on the next line.
const PROMPT: &str = "weft> ";
const CONTINUATION_PROMPT: &str = "   > ";

/// How often a streaming query looks for a Ctrl-C while no row arrives.
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

/// A statement without its leading blanks and comments.
fn skip_comments(text: &str) -> &str {
    let mut rest = text.trim_start();
    loop {
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after).trim_start();
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after).trim_start();
        } else {
            return rest;
        }
    }
}

/// The first word of a statement, upper-cased, after any leading comments.
fn first_word(text: &str) -> String {
    let rest = skip_comments(text);
    let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
    rest[..end].to_ascii_uppercase()
}

/// Whether `text` is a query for `/query` (`SELECT` or `PRINT`) rather than statements for `/ksql`.
fn is_query(text: &str) -> bool {
    matches!(first_word(text).as_str(), "SELECT" | "PRINT")
}

/// A change to the session's properties: `SET 'name' = 'value'` or `UNSET 'name'`.
#[derive(Debug, PartialEq, Eq)]
enum PropertyChange {
    Set(String, String),
    Unset(String),
}

/// The property change `statement` makes; `None` when it is no `SET` or `UNSET`.
fn property_change(statement: &str) -> Option<Result<PropertyChange>> {
    let word = first_word(statement);
    if word != "SET" && word != "UNSET" {
        return None;
    }
    let rest = skip_comments(statement)[word.len()..].trim().trim_end_matches(';').trim();
    let parsed = (|| {
        let (name, rest) = quoted(rest)?;
        if word == "UNSET" {
            return rest.trim().is_empty().then_some(PropertyChange::Unset(name));
        }
        let (value, rest) = quoted(rest.trim_start().strip_prefix('=')?.trim_start())?;
        rest.trim().is_empty().then_some(PropertyChange::Set(name, value))
    })();
    Some(parsed.ok_or_else(|| {
        anyhow!(
            "cannot read '{}': write SET 'name' = 'value'; or UNSET 'name'; (names and values in single quotes)",
            statement.trim()
        )
    }))
}

/// A single-quoted SQL string at the start of `text` (`''` is a quote inside it), and what follows.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('\'')?.char_indices().peekable();
    let mut value = String::new();
    while let Some((at, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
        } else if chars.peek().is_some_and(|&(_, next)| next == '\'') {
            chars.next();
            value.push('\'');
        } else {
            return Some((value, &text[at + 2..]));
        }
    }
    None
}

/// The statements of a text (`-e`, `-f`), the last one's `;` optional.
fn split_statements(text: &str) -> Vec<String> {
    let mut buffer = StatementBuffer::default();
    let mut statements = buffer.push_line(text);
    if !buffer.is_blank() {
        statements.push(buffer.text.trim().to_string());
    }
    statements
}

pub fn run(client: &Client, args: SqlArgs, out: &mut impl Write) -> Result<()> {
    let mut properties = Map::new();
    if args.earliest {
        properties.insert("auto.offset.reset".to_string(), json!("earliest"));
    }
    let text = match (&args.execute, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        (None, None) => return prompt(client, args.history, properties, out),
    };
    let session = Session { client, properties: RefCell::new(properties), interrupts: None };
    session.script(&text, out)
}

/// Runs statements through `/ksql` and prints each result.
fn run_statements(client: &Client, text: &str, properties: &Map<String, Value>, out: &mut impl Write) -> Result<()> {
    let entities = client.post("/ksql", &json!({"ksql": text, "streamsProperties": properties}))?;
    for entity in entities.as_array().map(Vec::as_slice).unwrap_or_default() {
        print_entity(entity, out)?;
    }
    Ok(())
}

/// What one statement runs with.
struct Session<'a> {
    client: &'a Client,
    /// The properties sent with each statement and query: `--earliest`, then `SET` and `UNSET`.
    properties: RefCell<Map<String, Value>>,
    /// Counts Ctrl-C presses (the prompt only); a change while a query streams ends the query.
    interrupts: Option<Arc<Interrupts>>,
}

/// SIGINT as a counter instead of the default exit, so that Ctrl-C can end a query and keep the prompt.
struct Interrupts {
    count: AtomicU64,
    /// A query is streaming (Ctrl-C ends it); otherwise, with standard input not a terminal, Ctrl-C
    /// ends the session as it would end any other program reading a pipe.
    streaming: AtomicBool,
}

impl Interrupts {
    #[cfg(unix)]
    fn install(exit_when_idle: bool) -> Result<Arc<Interrupts>> {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupts = Arc::new(Interrupts { count: AtomicU64::new(0), streaming: AtomicBool::new(false) });
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_io().build().context("starting the Ctrl-C handler")?;
        // Registered here, before the first statement, so no Ctrl-C can meet the default handler.
        let mut sigint = {
            let _entered = runtime.enter();
            signal(SignalKind::interrupt()).context("handling Ctrl-C")?
        };
        let shared = interrupts.clone();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                while sigint.recv().await.is_some() {
                    shared.count.fetch_add(1, Ordering::SeqCst);
                    if exit_when_idle && !shared.streaming.load(Ordering::SeqCst) {
                        std::process::exit(130);
                    }
                }
            });
        });
        Ok(interrupts)
    }

    #[cfg(not(unix))]
    fn install(_exit_when_idle: bool) -> Result<Arc<Interrupts>> {
        Ok(Arc::new(Interrupts { count: AtomicU64::new(0), streaming: AtomicBool::new(false) }))
    }
}

/// Marks a query as streaming for as long as it lives.
struct Streaming<'a>(Option<&'a Interrupts>);

impl Drop for Streaming<'_> {
    fn drop(&mut self) {
        if let Some(interrupts) = self.0 {
            interrupts.streaming.store(false, Ordering::SeqCst);
        }
    }
}

/// The interactive loop.
fn prompt(
    client: &Client,
    history: Option<PathBuf>,
    properties: Map<String, Value>,
    out: &mut impl Write,
) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let history = history.or_else(default_history);
    let mut editor = rustyline::DefaultEditor::new().context("opening the prompt")?;
    if let Some(path) = &history {
        match editor.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("warning: cannot read the history file {}: {e}", path.display()),
        }
    }
    let session =
        Session { client, properties: RefCell::new(properties), interrupts: Some(Interrupts::install(!terminal)?) };
    if terminal {
        writeln!(out, "Weft SQL (end statements with ';'; Ctrl-C ends a running query; exit or Ctrl-D leaves)")?;
    }
    let mut pending = StatementBuffer::default();
    loop {
        let prompt = if pending.is_blank() { PROMPT } else { CONTINUATION_PROMPT };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            // Ctrl-C at the prompt drops the statement being typed, as shells do.
            Err(ReadlineError::Interrupted) => {
                pending = StatementBuffer::default();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(anyhow!("reading the prompt: {e}")),
        };
        if pending.is_blank() && is_exit(&line) {
            break;
        }
        for statement in pending.push_line(&line) {
            let _ = editor.add_history_entry(statement.as_str());
            if let Some(path) = &history {
                if let Err(e) = editor.save_history(path) {
                    eprintln!("warning: cannot write the history file {}: {e}", path.display());
                }
            }
            if let Err(e) = session.statement(&statement, out) {
                // A reader that stopped reading our output ends the session; any other error is the
                // statement's, and the session goes on.
                if is_broken_pipe(&e) {
                    return Err(e);
                }
                out.flush()?;
                eprintln!("error: {e:#}");
            }
        }
        out.flush()?;
    }
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

fn default_history() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|home| !home.is_empty()).map(|home| PathBuf::from(home).join(".weft_sql_history"))
}

fn is_exit(line: &str) -> bool {
    let word = line.trim().trim_end_matches(';').trim();
    word.eq_ignore_ascii_case("exit") || word.eq_ignore_ascii_case("quit")
}

impl Session<'_> {
    fn statement(&self, text: &str, out: &mut impl Write) -> Result<()> {
        if let Some(change) = property_change(text) {
            self.change_property(change?, out)
        } else if is_query(text) {
            self.query(text, out)
        } else {
            run_statements(self.client, text, &self.properties.borrow(), out)
        }
    }

    /// Runs a text of statements in order, stopping at the first that fails. Statements between
    /// property changes and queries go to `/ksql` together, so that a text of plain statements is
    /// one request, which runs nothing when any of it does not parse.
    fn script(&self, text: &str, out: &mut impl Write) -> Result<()> {
        let mut batch: Vec<String> = Vec::new();
        for statement in split_statements(text) {
            if property_change(&statement).is_none() && !is_query(&statement) {
                batch.push(statement);
                continue;
            }
            if !batch.is_empty() {
                run_statements(self.client, &batch.join("\n"), &self.properties.borrow(), out)?;
                batch.clear();
            }
            self.statement(&statement, out)?;
        }
        if !batch.is_empty() {
            run_statements(self.client, &batch.join("\n"), &self.properties.borrow(), out)?;
        }
        Ok(())
    }

    fn change_property(&self, change: PropertyChange, out: &mut impl Write) -> Result<()> {
        let mut properties = self.properties.borrow_mut();
        match change {
            PropertyChange::Set(name, value) => {
                writeln!(out, "Successfully changed local property '{name}' to '{value}'.")?;
                properties.insert(name, Value::String(value));
            }
            PropertyChange::Unset(name) => {
                if properties.remove(&name).is_some() {
                    writeln!(out, "Successfully unset local property '{name}'.")?;
                } else {
                    writeln!(out, "Local property '{name}' was not set.")?;
                }
            }
        }
        Ok(())
    }

    /// Streams a query: `PRINT` from `/query`, push and pull queries from `/query-stream`.
    fn query(&self, text: &str, out: &mut impl Write) -> Result<()> {
        let first = text.split_whitespace().next().unwrap_or_default();
        if first.eq_ignore_ascii_case("PRINT") {
            let body = json!({"ksql": text, "streamsProperties": *self.properties.borrow()});
            let lines = read_lines(self.client.post_stream("/query", &body)?);
            if self.follow(lines, out, |line, _| Ok(Some(line.to_string())))? == Ended::Interrupted {
                writeln!(out, "Query terminated")?;
            }
            return Ok(());
        }
        let body = json!({"sql": text, "properties": *self.properties.borrow()});
        let lines = read_lines(self.client.post_stream("/query-stream", &body)?);
        let mut pull_rows: Option<Vec<Vec<String>>> = None;
        let mut header = Vec::new();
        let ended = self.follow(lines, out, |line, query_id| {
            let item: Value = serde_json::from_str(line)
                .with_context(|| format!("the server sent a line that is not JSON: {line}"))?;
            match item {
                Value::Array(values) => {
                    let cells: Vec<String> = values.iter().map(cell).collect();
                    match &mut pull_rows {
                        Some(rows) => {
                            rows.push(cells);
                            Ok(None)
                        }
                        None => Ok(Some(format!("| {} |", cells.join(" | ")))),
                    }
                }
                Value::Object(ref fields) if fields.contains_key("columnNames") => {
                    header = item["columnNames"]
                        .as_array()
                        .map(|names| names.iter().map(cell).collect())
                        .unwrap_or_default();
                    match item["queryId"].as_str() {
                        Some(id) => {
                            *query_id = Some(id.to_string());
                            Ok(Some(format!("| {} |", header.join(" | "))))
                        }
                        None => {
                            pull_rows = Some(Vec::new());
                            Ok(None)
                        }
                    }
                }
                other if other["message"].is_string() => {
                    bail!("the query failed: {}", other["message"].as_str().unwrap_or_default())
                }
                other => Ok(Some(other.to_string())),
            }
        })?;
        if let Some(rows) = pull_rows {
            let headers: Vec<&str> = header.iter().map(String::as_str).collect();
            write_table(out, &headers, &rows)?;
            writeln!(out, "{} row{}", rows.len(), if rows.len() == 1 { "" } else { "s" })?;
        } else if ended == Ended::Interrupted {
            writeln!(out, "Query terminated")?;
        }
        Ok(())
    }

    /// Prints what `render` makes of each line until the stream ends or Ctrl-C; on Ctrl-C a push
    /// query (its id set by `render`) is closed on the server.
    fn follow(
        &self,
        lines: mpsc::Receiver<std::io::Result<String>>,
        out: &mut impl Write,
        mut render: impl FnMut(&str, &mut Option<String>) -> Result<Option<String>>,
    ) -> Result<Ended> {
        let interrupts = self.interrupts.as_deref();
        let seen = interrupts.map(|i| {
            i.streaming.store(true, Ordering::SeqCst);
            i.count.load(Ordering::SeqCst)
        });
        let _streaming = Streaming(interrupts);
        let interrupted = || interrupts.zip(seen).is_some_and(|(i, seen)| i.count.load(Ordering::SeqCst) != seen);
        let mut query_id = None;
        loop {
            if interrupted() {
                if let Some(id) = &query_id {
                    self.client.post("/close-query", &json!({"queryId": id})).context("closing the query")?;
                }
                return Ok(Ended::Interrupted);
            }
            match lines.recv_timeout(INTERRUPT_CHECK) {
                Ok(Ok(line)) if line.trim().is_empty() => {}
                Ok(Ok(line)) => {
                    if let Some(text) = render(line.trim(), &mut query_id)? {
                        writeln!(out, "{text}")?;
                        out.flush()?;
                    }
                }
                Ok(Err(e)) => return Err(e).context("reading the query's rows"),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(Ended::ByItself),
            }
        }
    }
}

/// How a streamed query ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The server ended it (LIMIT, a pull query's last row, an error).
    ByItself,
    Interrupted,
}

/// A response body's lines, read on their own thread so that waiting for one can be interrupted.
fn read_lines(body: impl Read + Send + 'static) -> mpsc::Receiver<std::io::Result<String>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(body).lines() {
            let failed = line.is_err();
            if sender.send(line).is_err() || failed {
                return;
            }
        }
    });
    receiver
}

/// A value as a table cell: strings without their quotes, everything else as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// A bordered table, columns as wide as their widest cell.
pub(crate) fn write_table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let rule: String = widths.iter().map(|w| format!("+{}", "-".repeat(w + 2))).collect::<String>() + "+";
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut text: String =
            widths.iter().map(|w| format!("| {:<w$} ", cells.next().unwrap_or_default(), w = *w)).collect();
        text.push('|');
        text
    };
    writeln!(out, "{rule}")?;
    writeln!(out, "{}", line(&mut headers.iter().copied()))?;
    writeln!(out, "{rule}")?;
    for row in rows {
        writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
    }
    writeln!(out, "{rule}")
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => cell(other),
    }
}

/// Prints one ksqlDB entity: tables for listings and descriptions, the message for the others.
fn print_entity(entity: &Value, out: &mut impl Write) -> Result<()> {
    let list = |field: &str| entity[field].as_array().cloned().unwrap_or_default();
    match entity["@type"].as_str() {
        Some("currentStatus") => {
            let status = &entity["commandStatus"];
            let message = text(&status["message"]);
            match status["queryId"].as_str() {
                Some(id) if !message.contains(id) => writeln!(out, "{message} (query {id})")?,
                _ => writeln!(out, "{message}")?,
            }
        }
        Some(kind @ ("streams" | "tables")) => {
            let name = if kind == "streams" { "Stream Name" } else { "Table Name" };
            let rows: Vec<Vec<String>> = list(kind)
                .iter()
                .map(|s| {
                    ["name", "topic", "keyFormat", "valueFormat", "isWindowed"].iter().map(|f| text(&s[*f])).collect()
                })
                .collect();
            write_table(out, &[name, "Kafka Topic", "Key Format", "Value Format", "Windowed"], &rows)?;
        }
        Some("queries") => {
            let rows: Vec<Vec<String>> = list("queries")
                .iter()
                .map(|q| {
                    let sinks = q["sinks"].as_array().map(|s| s.iter().map(text).collect::<Vec<_>>().join(","));
                    vec![text(&q["id"]), text(&q["state"]), sinks.unwrap_or_default(), text(&q["queryString"])]
                })
                .collect();
            write_table(out, &["Query ID", "Status", "Sink Name", "Query String"], &rows)?;
        }
        Some("kafka_topics") => {
            let rows: Vec<Vec<String>> = list("topics")
                .iter()
                .map(|t| vec![text(&t["name"]), t["replicaInfo"].as_array().map_or(0, Vec::len).to_string()])
                .collect();
            write_table(out, &["Kafka Topic", "Partitions"], &rows)?;
        }
        Some("sourceDescription") => {
            let d = &entity["sourceDescription"];
            for (label, field) in [
                ("Name", "name"),
                ("Type", "type"),
                ("Kafka topic", "topic"),
                ("Key format", "keyFormat"),
                ("Value format", "valueFormat"),
            ] {
                writeln!(out, "{label:<14}: {}", text(&d[field]))?;
            }
            let rows: Vec<Vec<String>> = d["fields"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    let key = if f["type"] == "KEY" { " (key)" } else { "" };
                    vec![text(&f["name"]), format!("{}{key}", text(&f["schema"]["type"]))]
                })
                .collect();
            write_table(out, &["Field", "Type"], &rows)?;
            for (label, field) in [("Statistics", "statistics"), ("Errors", "errorStats")] {
                if d[field].as_str().is_some_and(|s| !s.is_empty()) {
                    writeln!(out, "{label:<14}: {}", text(&d[field]))?;
                }
            }
        }
        Some("properties") => {
            let rows: Vec<Vec<String>> =
                list("properties").iter().map(|p| vec![text(&p["name"]), text(&p["value"])]).collect();
            write_table(out, &["Property", "Value"], &rows)?;
        }
        Some("function_names") => {
            let rows: Vec<Vec<String>> =
                list("functions").iter().map(|f| vec![text(&f["name"]), text(&f["type"])]).collect();
            write_table(out, &["Function Name", "Type"], &rows)?;
        }
        Some("queryDescription") => {
            let d = &entity["queryDescription"];
            if let Some(id) = d["id"].as_str() {
                writeln!(out, "Query ID: {id}")?;
            }
            writeln!(out, "{}", text(&d["executionPlan"]))?;
        }
        _ => writeln!(out, "{}", serde_json::to_string_pretty(entity)?)?,
    }
    Ok(())
}

/// Gathers typed lines into statements: text up to a `;` that is not inside a string, a quoted
/// identifier or a comment (the lexer's rules: `'...'` with `''` inside, `` `...` ``, `"..."`,
/// `-- ...` to the end of the line, `/* ... */`).
#[derive(Debug, Default)]
struct StatementBuffer {
    text: String,
}

impl StatementBuffer {
    /// Nothing but blanks and comments typed since the last statement.
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Adds a line; returns the statements it completed, each ending with its `;`.
    fn push_line(&mut self, line: &str) -> Vec<String> {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(line);
        let mut done = Vec::new();
        while let Some(end) = statement_end(&self.text) {
            let statement = self.text[..=end].trim().to_string();
            self.text = self.text[end + 1..].to_string();
            if statement != ";" {
                done.push(statement);
            }
        }
        if is_only_comments(&self.text) {
            self.text.clear();
        }
        done
    }
}

/// The byte index of the first `;` outside strings, quoted identifiers and comments.
fn statement_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b';' => return Some(i),
            quote @ (b'\'' | b'`' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether `text` holds only blanks and complete `--` comments (nothing to wait a `;` for).
fn is_only_comments(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with("--")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_told_from_statements() {
        assert!(is_query("  select * from s emit changes;"));
        assert!(is_query("PRINT 's';"));
        assert!(!is_query("SHOW STREAMS;"));
        assert!(!is_query(""));
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        let mut buffer = StatementBuffer::default();
        assert_eq!(buffer.push_line("SHOW STREAMS; SHOW"), vec!["SHOW STREAMS;"]);
        assert!(!buffer.is_blank());
        assert_eq!(buffer.push_line("TABLES;"), vec!["SHOW\nTABLES;"]);
        assert!(buffer.is_blank());
        assert!(buffer.push_line("SELECT 'a;''b', `c;d` -- e;").is_empty());
        assert!(buffer.push_line("/* ; */ FROM S").is_empty());
        assert_eq!(buffer.push_line(";"), vec!["SELECT 'a;''b', `c;d` -- e;\n/* ; */ FROM S\n;"]);
        assert!(buffer.push_line("-- only a comment").is_empty());
        assert!(buffer.is_blank());
        assert!(buffer.push_line(";;").is_empty());
    }

    #[test]
    fn set_and_unset_are_read_as_ksqldb_writes_them() {
        let set = |name: &str, value: &str| Some(PropertyChange::Set(name.into(), value.into()));
        let read = |text: &str| property_change(text).map(|parsed| parsed.ok());
        assert_eq!(read("SET 'auto.offset.reset'='earliest';"), Some(set("auto.offset.reset", "earliest")));
        assert_eq!(read(" set 'a' = 'it''s' "), Some(set("a", "it's")));
        assert_eq!(read("-- reset\nSET 'a' = ';'"), Some(set("a", ";")));
        assert_eq!(read("UNSET 'a';"), Some(Some(PropertyChange::Unset("a".into()))));
        for malformed in ["SET a = 'b';", "SET 'a' 'b';", "SET 'a' = 'b' 'c';", "SET 'a = 'b", "UNSET 'a' 'b';"] {
            let error = property_change(malformed).expect("a SET").expect_err(malformed).to_string();
            assert!(error.contains("SET 'name' = 'value'"), "{malformed}: {error}");
        }
        assert!(property_change("SELECT 'SET' FROM S;").is_none());
        assert!(property_change("SETTINGS;").is_none());
    }

    #[test]
    fn texts_split_into_statements_the_last_semicolon_optional() {
        assert_eq!(
            split_statements("SET 'a'='b;c'; SELECT * FROM S EMIT CHANGES"),
            vec!["SET 'a'='b;c';", "SELECT * FROM S EMIT CHANGES"]
        );
        assert_eq!(split_statements("SHOW STREAMS;\n-- done\n"), vec!["SHOW STREAMS;"]);
        assert!(is_query("/* why */ -- note\n select 1 from s;"));
    }

    #[test]
    fn exit_words() {
        assert!(is_exit("exit"));
        assert!(is_exit(" QUIT; "));
        assert!(!is_exit("exits"));
    }

    #[test]
    fn tables_are_as_wide_as_their_cells() {
        let mut out = Vec::new();
        write_table(&mut out, &["A", "Long"], &[vec!["xyz".into(), "1".into()]]).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text, "+-----+------+\n| A   | Long |\n+-----+------+\n| xyz | 1    |\n+-----+------+\n");
    }
}
