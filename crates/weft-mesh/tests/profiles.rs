//! Live profiles against exact computations over the same records, read back through the read path
//! (what every reader sees): counts, nulls, min, max and mean exact; distinct estimates within three
//! standard errors; the true top values found. Then restarts, concurrent writers, a product created
//! on a topic that already holds data, bounded rebuilds, dead letters and a re-created topic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use weft_mesh::catalog::{DomainSpec, ProductSpec};
use weft_mesh::log::{LogOptions, TopicConfig};
use weft_mesh::profile::sketch::HLL_STANDARD_ERROR;
use weft_mesh::profile::Profile;
use weft_mesh::read::Target;
use weft_mesh::records::JsonRecord;
use weft_mesh::{Mesh, MeshOptions, RequestContext};

const PRODUCT: &str = "shop.orders";
const TOPIC: &str = "orders";

fn ctx() -> RequestContext {
    RequestContext::of("alice")
}

fn open(dir: &Path, adjust: impl FnOnce(&mut MeshOptions)) -> Mesh {
    let mut options = MeshOptions::new(LogOptions::new(dir));
    options.run_queries = false;
    adjust(&mut options);
    Mesh::open(options).expect("mesh opens")
}

fn create_topic(mesh: &Mesh, topic: &str, partitions: u32) {
    mesh.create_topic(&ctx(), topic, TopicConfig { partitions, ..TopicConfig::default() }).expect("topic");
}

/// The domain `shop` and a draft product serving `topic` (format `format`, subject `TOPIC-value`).
fn create_product(mesh: &Mesh, topic: &str, format: &str) {
    if mesh.catalog().domain("shop").is_err() {
        let domain: DomainSpec = serde_json::from_value(
            json!({"name": "shop", "owningTeam": "team-shop", "members": [{"user": "alice", "role": "owner"}]}),
        )
        .expect("domain spec");
        mesh.create_domain(&ctx(), domain).expect("domain");
    }
    let spec: ProductSpec = serde_json::from_value(json!({
        "id": PRODUCT, "name": "Orders", "owner": "alice", "description": "Orders", "freshnessObjective": "15m",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": topic, "schemaSubject": format!("{topic}-value"),
                         "format": format}]
    }))
    .expect("product spec");
    mesh.create_product(&ctx(), spec).expect("product");
}

fn produce(mesh: &Mesh, topic: &str, values: impl IntoIterator<Item = (i64, Value)>) {
    let records: Vec<JsonRecord> = values
        .into_iter()
        .map(|(timestamp, value)| JsonRecord {
            value: (!value.is_null()).then_some(value),
            timestamp: Some(timestamp),
            ..JsonRecord::default()
        })
        .collect();
    mesh.produce(&ctx(), topic, records).expect("produce");
}

fn profile(mesh: &Mesh) -> Profile {
    let resolved = mesh.data().resolve(&Target::Product { id: PRODUCT.into(), port: None }).expect("resolves");
    mesh.profile(&ctx(), &resolved).expect("profile")
}

/// The values of every record of the topic, read back as readers see them.
fn read_back(mesh: &Mesh, topic: &str) -> Vec<(i64, Value)> {
    let mut values = Vec::new();
    mesh.data()
        .scan::<weft_mesh::MeshError>("test", topic, None, None, |record| {
            values.push((record.timestamp, record.value.json));
            Ok(())
        })
        .expect("scan");
    values
}

/// One field computed exactly, by a flattening written independently of the profile's.
#[derive(Default, Debug)]
struct Exact {
    count: u64,
    distinct: HashSet<String>,
    numbers: Vec<f64>,
    frequencies: HashMap<String, u64>,
}

fn exact(values: &[(i64, Value)]) -> BTreeMap<String, Exact> {
    fn walk(prefix: &str, object: &Map<String, Value>, depth: usize, fields: &mut BTreeMap<String, Exact>) {
        for (key, value) in object {
            let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            let field = fields.entry(name.clone()).or_default();
            if !value.is_null() {
                field.count += 1;
                field.distinct.insert(value.to_string());
                if let Some(x) = value.as_f64() {
                    field.numbers.push(x);
                }
                if value.is_string() || value.is_boolean() {
                    *field.frequencies.entry(value.to_string()).or_default() += 1;
                }
            }
            if let Value::Object(inner) = value {
                if depth < 4 && !inner.is_empty() {
                    walk(&name, inner, depth + 1, fields);
                }
            }
        }
    }
    let mut fields = BTreeMap::new();
    for (_, value) in values {
        if let Value::Object(object) = value {
            walk("", object, 1, &mut fields);
        }
    }
    fields
}

/// Every field of `profile` agrees with the exact computation over `values`.
fn assert_matches_exact(profile: &Profile, values: &[(i64, Value)]) {
    let records = values.len() as u64;
    assert_eq!(profile.records, records);
    assert_eq!(profile.tombstones, values.iter().filter(|(_, v)| v.is_null()).count() as u64);
    assert_eq!(profile.from, values.iter().map(|(t, _)| *t).min());
    assert_eq!(profile.to, values.iter().map(|(t, _)| *t).max());
    let exact = exact(values);
    let names: HashSet<&str> = profile.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, exact.keys().map(String::as_str).collect::<HashSet<_>>(), "the same fields");
    for field in &profile.fields {
        let truth = &exact[&field.name];
        let name = &field.name;
        assert_eq!((field.count, field.nulls), (truth.count, records - truth.count), "{name}: count and nulls");
        let distinct = truth.distinct.len() as f64;
        if distinct <= 512.0 {
            assert_eq!(field.distinct as f64, distinct, "{name}: few distinct values are counted exactly");
        } else {
            let error = (field.distinct as f64 - distinct).abs() / distinct;
            assert!(error <= 3.0 * HLL_STANDARD_ERROR, "{name}: {} distinct estimated for {distinct}", field.distinct);
        }
        if truth.numbers.is_empty() {
            assert_eq!((field.min, field.max, field.mean), (None, None, None), "{name}");
        } else {
            let min = truth.numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let max = truth.numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = truth.numbers.iter().sum::<f64>() / truth.numbers.len() as f64;
            assert_eq!((field.min, field.max), (Some(min), Some(max)), "{name}: min and max");
            let got = field.mean.expect("a mean");
            assert!((got - mean).abs() <= 1e-9 * mean.abs().max(1.0), "{name}: mean {got} vs {mean}");
            assert_eq!(field.histogram.iter().map(|b| b.count).sum::<u64>(), truth.numbers.len() as u64, "{name}");
        }
        if !truth.frequencies.is_empty() {
            let mut ranked: Vec<(&String, &u64)> = truth.frequencies.iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            // Of the top three, each found with a count at most the stated error below the truth.
            for (text, &count) in ranked.iter().take(3).filter(|(_, &count)| count > records / 65) {
                let found = field
                    .top_values
                    .iter()
                    .find(|v| &v.value.to_string() == *text)
                    .unwrap_or_else(|| panic!("{name}: top value {text} not found in {:?}", field.top_values));
                assert!(found.count <= count && count - found.count <= field.top_values_max_error, "{name}: {text}");
            }
        }
    }
}

/// A skewed status (Zipf-like over 50 values), ids unique for the first 100,000 records then
/// repeated, amounts with nulls and negatives, nested objects, booleans, and a few tombstones.
fn generated(n: usize, seed: u64) -> Vec<(i64, Value)> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let weights: Vec<u64> = (1..=50).map(|i| 10_000 / i).collect();
    let total: u64 = weights.iter().sum();
    (0..n)
        .map(|i| {
            let timestamp = 1_700_000_000_000 + i as i64 * 10;
            if i % 997 == 3 {
                return (timestamp, Value::Null);
            }
            let mut pick = next() % total;
            let status = weights
                .iter()
                .position(|&w| {
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0);
            let amount = if i % 7 == 0 { Value::Null } else { json!((next() % 100_000) as f64 / 100.0 - 200.0) };
            let mut value = json!({
                "id": format!("order-{}", i % 100_000),
                "status": format!("s{}", status + 1),
                "amount": amount,
                "paid": next() % 3 == 0,
                "customer": {"tier": (next() % 4) as i64, "region": format!("r{}", next() % 20)},
            });
            if i % 5 == 0 {
                value["coupon"] = json!("SPRING");
            }
            (timestamp, value)
        })
        .collect()
}

#[test]
fn profiles_match_exact_computations_over_the_same_records() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = open(dir.path(), |_| {});
    create_topic(&mesh, TOPIC, 4);
    create_product(&mesh, TOPIC, "json");
    let values = generated(130_000, 1);
    for chunk in values.chunks(1000) {
        produce(&mesh, TOPIC, chunk.iter().cloned());
    }
    let profile = profile(&mesh);
    let read = read_back(&mesh, TOPIC);
    assert_matches_exact(&profile, &read);
    // The 100,000 ids are estimated, the 50 statuses exact, and the skewed top three found.
    let id = profile.fields.iter().find(|f| f.name == "id").expect("id");
    assert!((id.distinct as f64 - 100_000.0).abs() <= 3.0 * HLL_STANDARD_ERROR * 100_000.0, "{}", id.distinct);
    let status = profile.fields.iter().find(|f| f.name == "status").expect("status");
    let top: Vec<&str> = status.top_values.iter().take(3).map(|v| v.value.as_str().unwrap_or_default()).collect();
    assert_eq!(top, ["s1", "s2", "s3"]);
    assert_eq!(status.distinct, 50);
    assert!(!profile.partial && profile.not_profiled == 0);
    assert_eq!(
        profile.bytes,
        read.iter().map(|(_, v)| if v.is_null() { 0 } else { v.to_string().len() as u64 }).sum::<u64>()
    );
    mesh.shutdown().expect("shutdown");
}

#[test]
fn avro_ports_are_profiled_as_readers_see_the_decoded_records() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = open(dir.path(), |_| {});
    create_topic(&mesh, "payments", 2);
    let schema = r#"{"type":"record","name":"Payment","fields":[
        {"name":"id","type":"string"},{"name":"amount","type":"double"},
        {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD"]}},
        {"name":"coupon","type":["null","string"],"default":null}]}"#;
    let request = weft_mesh::registry::RegisterRequest::new(weft_mesh::registry::SchemaDefinition::avro(schema));
    mesh.register_schema(&ctx(), "payments-value", &request).expect("schema");
    create_product(&mesh, "payments", "avro");
    // Integers written to a double read back as doubles; a missing optional field reads as null. Some
    // values read back as written (handed to the profile as they are), the others are decoded.
    let values: Vec<(i64, Value)> = (0..2000)
        .map(|i| {
            let amount = if i % 2 == 0 { json!(i % 10) } else { json!((i % 10) as f64 + 0.5) };
            let currency = if i % 3 == 0 { "USD" } else { "EUR" };
            let mut value = json!({"id": format!("p{i}"), "amount": amount, "currency": currency});
            match i % 4 {
                1 => value["coupon"] = json!("C"),
                3 => value["coupon"] = Value::Null,
                _ => {}
            }
            (1_000 + i, value)
        })
        .collect();
    for chunk in values.chunks(300) {
        produce(&mesh, "payments", chunk.iter().cloned());
    }
    let profile = profile(&mesh);
    assert_matches_exact(&profile, &read_back(&mesh, "payments"));
    let amount = profile.fields.iter().find(|f| f.name == "amount").expect("amount");
    assert_eq!((amount.kind.as_str(), amount.schema_type.as_deref()), ("number", Some("double")));
    let coupon = profile.fields.iter().find(|f| f.name == "coupon").expect("coupon");
    assert_eq!((coupon.count, coupon.nulls), (500, 1500), "a missing optional field is read as null");
    let amounts = profile.fields.iter().find(|f| f.name == "amount").expect("amount");
    assert_eq!(amounts.types, ["number"], "integers written to a double are read as doubles");
    mesh.shutdown().expect("shutdown");
}

#[test]
fn a_restart_keeps_the_profile_and_adds_what_follows() {
    let dir = tempfile::tempdir().expect("dir");
    let values = generated(20_000, 2);
    let before = {
        let mesh = open(dir.path(), |_| {});
        create_topic(&mesh, TOPIC, 3);
        create_product(&mesh, TOPIC, "json");
        for chunk in values[..12_000].chunks(500) {
            produce(&mesh, TOPIC, chunk.iter().cloned());
        }
        mesh.data().profiles().note_dead_letters(TOPIC, 7);
        let before = serde_json::to_value(profile(&mesh)).expect("json");
        mesh.shutdown().expect("shutdown");
        before
    };
    let mesh = open(dir.path(), |_| {});
    let after = serde_json::to_value(profile(&mesh)).expect("json");
    for key in ["records", "bytes", "from", "to", "fields", "coverage", "deadLettered", "deadLetteredShare", "partial"]
    {
        assert_eq!(after[key], before[key], "{key} after a restart");
    }
    assert_eq!(after["deadLettered"], 7);
    for chunk in values[12_000..].chunks(500) {
        produce(&mesh, TOPIC, chunk.iter().cloned());
    }
    let profile = profile(&mesh);
    assert_matches_exact(&profile, &read_back(&mesh, TOPIC));
    assert_eq!(profile.dead_lettered, 7);
    assert!((profile.dead_lettered_share - 7.0 / 20_007.0).abs() < 1e-12);
    mesh.shutdown().expect("shutdown");
}

/// The coverage of the newest snapshot of `topic` in `_weft_profiles`: records it holds.
fn snapshot_covers(mesh: &Mesh, topic: &str) -> u64 {
    let profiles = weft_mesh::profile::live::PROFILES_TOPIC;
    let read = mesh
        .data()
        .read_partition("test", profiles, 0, 0, weft_mesh::log::ReadLimits { max_records: 10_000, max_bytes: 1 << 26 })
        .expect("read");
    let last = read.records.iter().rev().find(|r| r.key.as_deref() == Some(topic.as_bytes())).expect("a snapshot");
    let snapshot: Value = serde_json::from_slice(last.value.as_deref().expect("a value")).expect("JSON");
    snapshot["coverage"]
        .as_array()
        .expect("coverage")
        .iter()
        .flat_map(|c| c["ranges"].as_array().expect("ranges").iter())
        .map(|r| r[1].as_u64().expect("end") - r[0].as_u64().expect("start"))
        .sum()
}

#[test]
fn records_after_the_last_snapshot_are_caught_up_from_the_log_on_start() {
    let dir = tempfile::tempdir().expect("dir");
    let values = generated(9_000, 3);
    {
        let mesh = open(dir.path(), |_| {});
        create_topic(&mesh, TOPIC, 2);
        create_product(&mesh, TOPIC, "json");
        for chunk in values[..6000].chunks(600) {
            produce(&mesh, TOPIC, chunk.iter().cloned());
        }
        mesh.shutdown().expect("shutdown snapshots");
    }
    {
        // Records written, then the process gone without its shutdown (no snapshot after them).
        let mesh = open(dir.path(), |o| o.profile_snapshot_interval = std::time::Duration::from_secs(3600));
        for chunk in values[6000..8000].chunks(700) {
            produce(&mesh, TOPIC, chunk.iter().cloned());
        }
        assert_eq!(snapshot_covers(&mesh, TOPIC), 6000, "the log's snapshot predates the last 2000 records");
        drop(mesh);
    }
    let mesh = open(dir.path(), |_| {});
    produce(&mesh, TOPIC, values[8000..].iter().cloned());
    assert_matches_exact(&profile(&mesh), &read_back(&mesh, TOPIC));
    mesh.shutdown().expect("shutdown");
}

#[test]
fn periodic_snapshots_are_written_while_records_arrive() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = open(dir.path(), |o| o.profile_snapshot_interval = std::time::Duration::from_millis(10));
    create_topic(&mesh, TOPIC, 1);
    create_product(&mesh, TOPIC, "json");
    produce(&mesh, TOPIC, generated(500, 5));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let profiles = weft_mesh::profile::live::PROFILES_TOPIC;
    while mesh.describe_topic(profiles).expect("topic").partitions[0].latest_offset == 0 {
        assert!(std::time::Instant::now() < deadline, "no snapshot within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(snapshot_covers(&mesh, TOPIC), 500);
    mesh.shutdown().expect("shutdown");
}

#[test]
fn concurrent_producers_are_each_counted_once() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = Arc::new(open(dir.path(), |_| {}));
    create_topic(&mesh, TOPIC, 4);
    create_product(&mesh, TOPIC, "json");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let mesh = mesh.clone();
            std::thread::spawn(move || {
                for batch in 0..40 {
                    let values = (0..250).map(|i| {
                        let n = (t * 40 + batch) * 250 + i;
                        (n as i64, json!({"id": format!("c{n}"), "writer": t, "n": n}))
                    });
                    produce(&mesh, TOPIC, values);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer");
    }
    let profile = profile(&mesh);
    assert_eq!(profile.records, 40_000);
    assert_matches_exact(&profile, &read_back(&mesh, TOPIC));
    let ends = mesh.describe_topic(TOPIC).expect("topic").partitions;
    for (coverage, partition) in profile.coverage.iter().zip(ends) {
        assert_eq!(coverage.ranges, [[0, partition.latest_offset]], "every offset once, no gap");
    }
    Arc::try_unwrap(mesh).ok().expect("the only owner").shutdown().expect("shutdown");
}

#[test]
fn a_product_on_a_topic_with_data_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().expect("dir");
    let values = generated(3000, 4);
    let mesh = open(dir.path(), |_| {});
    create_topic(&mesh, TOPIC, 2);
    // No product yet: nothing is profiled while these are written.
    produce(&mesh, TOPIC, values[..2000].iter().cloned());
    create_product(&mesh, TOPIC, "json");
    produce(&mesh, TOPIC, values[2000..].iter().cloned());
    let profile = profile(&mesh);
    assert!(!profile.partial);
    assert_matches_exact(&profile, &read_back(&mesh, TOPIC));
    mesh.shutdown().expect("shutdown");
}

#[test]
fn a_rebuild_reads_only_the_newest_records_and_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = open(dir.path(), |o| o.profile_rebuild_records = 1000);
    create_topic(&mesh, TOPIC, 2);
    // Keyless writes go to one partition each, the next write to the next: 1500 records in each.
    for chunk in generated(3000, 6).chunks(100) {
        produce(&mesh, TOPIC, chunk.iter().cloned());
    }
    create_product(&mesh, TOPIC, "json");
    let profile = profile(&mesh);
    assert!(profile.partial);
    assert_eq!((profile.records, profile.not_profiled), (1000, 2000));
    // Exactly the newest 500 of each partition.
    let mut newest = Vec::new();
    for partition in mesh.describe_topic(TOPIC).expect("topic").partitions {
        let from = partition.latest_offset - 500;
        let limits = weft_mesh::log::ReadLimits { max_records: 1000, max_bytes: 1 << 26 };
        let read = mesh.data().read_partition("test", TOPIC, partition.partition, from, limits).expect("read");
        let mut decoder = weft_mesh::records::Decoder::new(mesh.registry());
        newest.extend(read.records.iter().map(|r| (r.timestamp, decoder.value(r.value.as_deref()).json)));
        assert_eq!(profile.coverage[partition.partition as usize].ranges, [[from, partition.latest_offset]]);
    }
    assert_matches_exact(&profile, &newest);
    mesh.shutdown().expect("shutdown");
}

#[test]
fn a_deleted_and_recreated_topic_starts_a_new_profile() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = open(dir.path(), |_| {});
    create_topic(&mesh, "scratch", 1);
    create_product(&mesh, "scratch", "json");
    produce(&mesh, "scratch", (0..10).map(|i| (i, json!({"x": i}))));
    assert_eq!(profile(&mesh).records, 10);
    mesh.delete_topic(&ctx(), "scratch").expect("a draft's topic can go");
    create_topic(&mesh, "scratch", 1);
    produce(&mesh, "scratch", (0..3).map(|i| (100 + i, json!({"y": i}))));
    let profile = profile(&mesh);
    assert_eq!(profile.records, 3);
    assert_eq!(profile.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["y"]);
    mesh.shutdown().expect("shutdown");
}

#[test]
fn sql_writers_are_profiled_from_the_bytes_they_write() {
    let dir = tempfile::tempdir().expect("dir");
    let mesh = open(dir.path(), |_| {});
    let properties = BTreeMap::new();
    mesh.sql_execute(
        &ctx(),
        "CREATE STREAM clicks (id VARCHAR, n INT) WITH (kafka_topic='clicks', value_format='JSON', partitions=1);",
        &properties,
    )
    .expect("stream");
    create_product(&mesh, "clicks", "json");
    for i in 0..5 {
        mesh.sql_execute(&ctx(), &format!("INSERT INTO clicks (id, n) VALUES ('c{i}', {i});"), &properties)
            .expect("insert");
    }
    let profile = profile(&mesh);
    assert_matches_exact(&profile, &read_back(&mesh, "clicks"));
    let n = profile.fields.iter().find(|f| f.name == "N").expect("the N column");
    assert_eq!((n.count, n.min, n.max), (5, Some(0.0), Some(4.0)));
    mesh.shutdown().expect("shutdown");
}

#[test]
fn a_shutdown_during_a_rebuild_leaves_the_rest_to_the_next_start() {
    let dir = tempfile::tempdir().expect("dir");
    let values = generated(40_000, 7);
    {
        let mesh = open(dir.path(), |_| {});
        create_topic(&mesh, TOPIC, 2);
        for chunk in values.chunks(2000) {
            produce(&mesh, TOPIC, chunk.iter().cloned());
        }
        // Tracked from here: the worker starts reading the 40,000 records back within a second.
        create_product(&mesh, TOPIC, "json");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        mesh.shutdown().expect("shutdown, whether or not the rebuild was done");
    }
    let mesh = open(dir.path(), |_| {});
    assert_matches_exact(&profile(&mesh), &read_back(&mesh, TOPIC));
    mesh.shutdown().expect("shutdown");
}
