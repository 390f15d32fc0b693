//! A product's live profile survives the server being killed (SIGKILL) while four producers write,
//! again and again: after the last restart it equals the profile a server builds from the whole log
//! with no snapshot at all (the data directory copied without `_weft_profiles`). Nothing counted twice,
//! nothing lost, whatever landed between snapshots (taken every 200 ms of change here).

use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod serve_process;

use serde_json::{json, Value};
use serve_process::ServeProcess;

const WRITERS: usize = 4;
const BATCH: usize = 100;
const STATUSES: [&str; 5] = ["placed", "paid", "shipped", "returned", "lost"];

/// A `weft serve` process on a data directory.
struct Server {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let ServeProcess { child, url, .. } = ServeProcess::start(data_dir, &["--profile-snapshot-ms", "200"]);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Server { child, url, agent }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the killed server is reaped");
    }

    /// SIGTERM, and wait for the graceful shutdown.
    fn stop(mut self) {
        // SAFETY: signalling a child process this test started and has not reaped.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM sent");
        let status = self.child.wait().expect("the server exits");
        assert!(status.success(), "a clean shutdown: {status}");
    }

    /// A request; `Err` when the server is gone or answers an error.
    fn try_call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.url);
        let response = match body {
            Some(body) => self.agent.post(&url).send_json(body),
            None if method == "GET" => self.agent.get(&url).call(),
            None => self.agent.post(&url).send_empty(),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text =
            response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().map_err(|e| e.to_string())?;
        if !(200..300).contains(&status) {
            return Err(format!("{method} {path}: HTTP {status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn profile(&self) -> Value {
        self.call("GET", "/api/v1/products/shop.orders/profile", None)
    }

    /// Records the newest snapshot of `orders` in `_weft_profiles` covers.
    fn snapshot_covers(&self) -> Option<u64> {
        let read = self.call("GET", "/api/v1/topics/_weft_profiles/records?partition=0&offset=0&limit=10000", None);
        let last = read["records"].as_array()?.iter().rev().find(|r| r["key"] == "orders")?.clone();
        let ranges = last["value"]["coverage"]
            .as_array()?
            .iter()
            .flat_map(|c| c["ranges"].as_array().cloned().unwrap_or_default());
        Some(ranges.map(|r| r[1].as_u64().unwrap_or(0) - r[0].as_u64().unwrap_or(0)).sum())
    }

    fn records_held(&self) -> u64 {
        let topic = self.call("GET", "/api/v1/topics/orders", None);
        topic["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .map(|p| p["latest_offset"].as_u64().unwrap_or(0))
            .sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Batch `n` of writer `w`: ids unique across writers and batches, a few statuses, amounts, flags.
fn batch(w: usize, n: usize) -> Value {
    let records: Vec<Value> = (0..BATCH)
        .map(|i| {
            let seq = (n * BATCH + i) * WRITERS + w;
            let amount = if seq.is_multiple_of(11) { Value::Null } else { json!((seq % 1000) as f64 / 8.0) };
            json!({"key": format!("k{seq}"), "timestamp": 1_700_000_000_000i64 + seq as i64,
                   "value": {"id": format!("o{seq}"), "status": STATUSES[seq % 5], "amount": amount, "paid": seq.is_multiple_of(3)}})
        })
        .collect();
    Value::Array(records)
}

fn set_up(server: &Server) {
    server.call(
        "POST",
        "/api/v1/domains",
        Some(&json!({"name": "shop", "owningTeam": "team-shop",
        "members": [{"user": "alice", "role": "owner"}]})),
    );
    server.call("POST", "/api/v1/topics", Some(&json!({"name": "orders", "partitions": 3})));
    server.call(
        "POST",
        "/api/v1/products",
        Some(&json!({"id": "shop.orders", "name": "Orders", "owner": "alice",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "orders", "schemaSubject": "orders-value",
                         "format": "json"}]})),
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The parts of a profile that must be equal however it was built: all but the mean's last digits
/// (sums in another order) and the top values at or below the larger of the two error bounds. The
/// bound grows with each batch merged, and a rebuild merges fewer, larger batches; a value counted
/// above both bounds is a heavy hitter both must list with the same count, but which values at the
/// bound survive depends on the batches (with every id unique, one build may list ten ids counted
/// once and the other none).
fn comparable(profile: &Value, other: &Value) -> Value {
    let mut fields = profile["fields"].clone();
    let bound = |p: &Value, name: &Value| {
        p["fields"]
            .as_array()
            .and_then(|fields| fields.iter().find(|f| &f["name"] == name))
            .map_or(0, |f| f["topValuesMaxError"].as_u64().unwrap_or_default())
    };
    for field in fields.as_array_mut().expect("fields") {
        let bound = bound(profile, &field["name"]).max(bound(other, &field["name"]));
        let Some(object) = field.as_object_mut() else { continue };
        object.remove("topValuesMaxError");
        if let Some(Value::Array(top)) = object.get_mut("topValues") {
            top.retain(|entry| entry["count"].as_u64().unwrap_or_default() > bound);
        }
        if let Some(mean) = object.remove("mean") {
            object.insert("mean".into(), json!(format!("{:.9}", mean.as_f64().unwrap_or_default())));
        }
    }
    json!({
        "records": profile["records"], "bytes": profile["bytes"], "from": profile["from"], "to": profile["to"],
        "coverage": profile["coverage"], "partial": profile["partial"], "fields": fields,
    })
}

#[test]
fn the_live_profile_after_repeated_sigkill_equals_one_rebuilt_from_the_log() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    set_up(&server);
    let mut next_batch = [0usize; WRITERS];
    let mut behind = 0;
    let mut acknowledged = 0u64;
    for round in 0..6 {
        let url = server.url.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (url, stop, first) = (url.clone(), stop.clone(), next_batch[w]);
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(10)))
                        .build()
                        .into();
                    let mut n = first;
                    let mut done = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let sent = agent.post(format!("{url}/api/v1/topics/orders/records")).send_json(batch(w, n));
                        // A batch the kill cut short may or may not be in the log: the log decides.
                        n += 1;
                        match sent {
                            Ok(response) if response.status().is_success() => done += BATCH as u64,
                            _ => break,
                        }
                    }
                    (n, done)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis([300, 1300, 700, 2100, 1600, 450][round]));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for (w, writer) in writers.into_iter().enumerate() {
            let (n, done) = writer.join().expect("writer");
            next_batch[w] = n;
            acknowledged += done;
        }
        server = Server::start(&data);
        // Before the restarted server's first snapshot (its worker ticks once a second).
        let held = server.records_held();
        if server.snapshot_covers().is_some_and(|covered| covered < held) {
            behind += 1;
        }
    }
    server.call("POST", "/api/v1/topics/orders/records", Some(&batch(0, next_batch[0])));
    let live = server.profile();
    let held = server.records_held();
    assert_eq!(live["records"].as_u64(), Some(held), "every record in the log, once");
    assert!(held >= acknowledged + BATCH as u64, "{held} records held, {acknowledged} acknowledged before the kills");
    assert!(behind >= 1, "no kill landed after records its snapshot had not covered");
    server.stop();

    // The same log with no profile snapshot at all: the profile is rebuilt from every record.
    let copy = dir.path().join("copy");
    copy_dir(&data, &copy);
    std::fs::remove_dir_all(copy.join("topics/_weft_profiles")).expect("the snapshots topic exists");
    let rebuilt = Server::start(&copy);
    let reference = rebuilt.profile();
    let (live, reference) = (comparable(&live, &reference), comparable(&reference, &live));
    for key in ["records", "bytes", "from", "to", "coverage", "partial"] {
        assert_eq!(live[key], reference[key], "{key}: the live profile equals the rebuilt one");
    }
    let fields = |p: &Value| p["fields"].as_array().cloned().unwrap_or_default();
    assert_eq!(fields(&live).len(), fields(&reference).len());
    for (a, b) in fields(&live).iter().zip(fields(&reference).iter()) {
        assert_eq!(a, b, "field {}: the live profile equals the rebuilt one", a["name"]);
    }
    let id = reference["fields"].as_array().expect("fields").iter().find(|f| f["name"] == "id").expect("id").clone();
    let error = (id["distinct"].as_f64().unwrap_or_default() - held as f64).abs() / held as f64;
    assert!(error <= 3.0 * 1.04 / 64.0, "ids are unique: {} estimated for {held}", id["distinct"]);
    rebuilt.kill();
    eprintln!("6 kills ({behind} behind their snapshot), {held} records compared in {:?}", started.elapsed());
}
