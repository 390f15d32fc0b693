//! The counting invariant under crashes: four producers write records, about one in eight breaking
//! the product's contract, into a port with the `dead-letter` policy, while the real `weft serve` is
//! killed with SIGKILL and restarted. Every acknowledged record must be where its answer said (a good
//! one in the product's topic, a broken one in its dead letters), no record may be stored twice, and
//! what is stored beyond the acknowledged is no more than the requests that were in flight at a kill.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

mod serve_process;

use serve_process::ServeProcess;

const PRODUCERS: usize = 4;
const BATCH: usize = 40;
const KILLS: usize = 3;

const CONTRACT: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: ledger
version: 1.0.0
status: active
schema:
  - name: entries
    properties:
      - name: id
        logicalType: string
        required: true
      - name: amount
        logicalType: number
        required: true
        logicalTypeOptions:
          minimum: 0
"#;

type Server = ServeProcess;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A call that must succeed.
fn call(url: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> Value {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("content-type", content_type)
        .body(body.to_vec())
        .expect("request");
    let mut response = agent().run(request).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let text = response.body_mut().with_config().limit(256 * 1024 * 1024).read_to_string().expect("body");
    assert!(response.status().is_success(), "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every record's `id` in a topic, read from the beginning.
fn ids(url: &str, topic: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/topics/{topic}/records?cursor={c}&limit=10000"),
            None => format!("/api/v1/topics/{topic}/records?limit=10000"),
        };
        let page = call(url, "GET", &path, "application/json", b"");
        let records = page["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            return out;
        }
        out.extend(records.iter().filter_map(|r| r["value"]["id"].as_str().map(String::from)));
        match page["next"].as_str() {
            Some(next) if cursor.as_deref() != Some(next) => cursor = Some(next.to_string()),
            _ => return out,
        }
    }
}

#[derive(Default)]
struct Tally {
    /// What each acknowledged record's answer said: true written, false dead-lettered.
    acknowledged: BTreeMap<String, bool>,
    /// Records of requests whose answer never came (the server died under them).
    in_flight: usize,
}

#[test]
fn accepted_plus_dead_lettered_equals_acknowledged_across_kills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Some(Server::start(dir.path(), &[]));
    let url = server.as_ref().expect("server").url.clone();
    call(
        &url,
        "POST",
        "/api/v1/domains",
        "application/json",
        json!({"name": "bank", "description": "Bank",
        "owningTeam": "team-bank", "members": [{"user": "alice", "role": "owner"}]})
        .to_string()
        .as_bytes(),
    );
    call(
        &url,
        "POST",
        "/api/v1/topics",
        "application/json",
        json!({"name": "bank.ledger", "partitions": 3}).to_string().as_bytes(),
    );
    let schema = json!({"type": "object", "properties": {"id": {"type": "string"}, "amount": {"type": "number"}}});
    call(
        &url,
        "POST",
        "/registry/subjects/bank.ledger-value/versions",
        "application/json",
        json!({"schemaType": "JSON", "schema": schema.to_string()}).to_string().as_bytes(),
    );
    call(&url, "POST", "/api/v1/products", "application/json", json!({"id": "bank.ledger", "name": "Ledger", "owner": "alice",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "bank.ledger", "schemaSubject": "bank.ledger-value",
                         "format": "json"}]}).to_string().as_bytes());
    call(&url, "POST", "/api/v1/contracts", "application/yaml", CONTRACT.as_bytes());
    call(&url, "PUT", "/api/v1/products/bank.ledger/contract", "application/json", br#"{"id": "ledger"}"#);
    call(&url, "PUT", "/api/v1/products/bank.ledger/governance", "application/json", br#"{"policy": "dead-letter"}"#);

    let tally = Arc::new(Mutex::new(Tally::default()));
    let url_now = Arc::new(Mutex::new(url));
    for round in 0..=KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (tally, url_now, stop) = (tally.clone(), url_now.clone(), stop.clone());
                std::thread::spawn(move || {
                    let url = url_now.lock().expect("url").clone();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let records: Vec<Value> = (0..BATCH)
                            .map(|i| {
                                let id = format!("r{round}-p{p}-{n}-{i}");
                                let amount = if (n * BATCH + i) % 8 == 3 { -1.0 } else { 1.5 };
                                json!({"key": id, "value": {"id": id, "amount": amount}})
                            })
                            .collect();
                        n += 1;
                        let body = Value::Array(records.clone()).to_string();
                        let request = ureq::http::Request::builder()
                            .method("POST")
                            .uri(format!("{url}/api/v1/topics/bank.ledger/records"))
                            .header("content-type", "application/json")
                            .body(body.into_bytes())
                            .expect("request");
                        let answer = agent().run(request).ok().and_then(|mut r| {
                            let ok = r.status().is_success();
                            let text = r.body_mut().read_to_string().ok()?;
                            ok.then(|| serde_json::from_str::<Value>(&text).ok()).flatten()
                        });
                        let mut tally = tally.lock().expect("tally");
                        match answer {
                            Some(answer) => {
                                let offsets = answer["offsets"].as_array().expect("offsets");
                                assert_eq!(offsets.len(), BATCH, "{answer}");
                                for (record, place) in records.iter().zip(offsets) {
                                    let id = record["value"]["id"].as_str().expect("id").to_string();
                                    tally.acknowledged.insert(id, place["dead_letter_topic"].is_null());
                                }
                            }
                            None => {
                                tally.in_flight += BATCH;
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(700));
        if round < KILLS {
            server.take().expect("a running server").kill();
        } else {
            stop.store(true, Ordering::Relaxed);
        }
        for producer in producers {
            producer.join().expect("producer");
        }
        if round < KILLS {
            let restarted = Server::start(dir.path(), &[]);
            *url_now.lock().expect("url") = restarted.url.clone();
            server = Some(restarted);
        }
    }

    let server = server.expect("the last server");
    let url = server.url.clone();
    let written = ids(&url, "bank.ledger");
    let dead = ids(&url, "_weft_dlq.bank.ledger");
    let tally = tally.lock().expect("tally");
    let mut seen = std::collections::BTreeSet::new();
    for id in written.iter().chain(&dead) {
        assert!(seen.insert(id.clone()), "{id} is stored twice");
    }
    let written: std::collections::BTreeSet<&String> = written.iter().collect();
    let dead: std::collections::BTreeSet<&String> = dead.iter().collect();
    let mut acknowledged_dead = 0;
    for (id, was_written) in &tally.acknowledged {
        if *was_written {
            assert!(written.contains(id), "acknowledged {id} is not in the product");
        } else {
            acknowledged_dead += 1;
            assert!(dead.contains(id), "acknowledged dead letter {id} is not in the dead letters");
        }
    }
    assert!(acknowledged_dead > 0 && tally.acknowledged.len() > 1000, "{} acknowledged", tally.acknowledged.len());
    let stored = written.len() + dead.len();
    assert!(
        stored >= tally.acknowledged.len() && stored <= tally.acknowledged.len() + tally.in_flight,
        "stored {stored}, acknowledged {}, in flight at kills {}",
        tally.acknowledged.len(),
        tally.in_flight
    );
    // The dead letters are listed with their rule.
    let page = call(&url, "GET", "/api/v1/products/bank.ledger/dead-letters?limit=1", "application/json", b"");
    assert_eq!(page["total"].as_u64(), Some(dead.len() as u64), "{page}");
    assert_eq!(page["by_rule"]["properties.amount.minimum"].as_u64(), Some(dead.len() as u64), "{page}");
    server.kill();
}
