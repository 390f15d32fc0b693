//! End-to-end tests of the REST API: a real server on 127.0.0.1:0 over a temporary data directory,
//! exercised through real HTTP.

mod common;

use std::time::Duration;

use common::{receive, TestServer};
use serde_json::{json, Value};

#[test]
fn health_unknown_routes_and_wrong_methods_answer_json() {
    let server = TestServer::start();
    let api = &server.api;
    assert_eq!(api.get("/health"), (200, json!({"status": "ok"})));

    let (status, body) = api.get("/api/v1/nothing-here");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40400)));
    assert!(body["message"].as_str().unwrap().contains("/api/v1/nothing-here"), "{body}");

    let (status, body) = api.delete("/api/v1/topics");
    assert_eq!((status, body["error_code"].as_u64()), (405, Some(40500)), "{body}");
    let (status, body) = api.put("/health", &json!({}));
    assert_eq!((status, body["error_code"].as_u64()), (405, Some(40500)), "{body}");
}

#[test]
fn topic_lifecycle() {
    let server = TestServer::start();
    let api = &server.api;
    assert_eq!(api.get("/api/v1/topics"), (200, json!({"topics": []})));

    let (status, body) = api.post(
        "/api/v1/topics",
        &json!({"name": "orders", "partitions": 3, "config": {"retention.ms": 3600000, "cleanup.policy": "delete", "segment.bytes": "1048576"}}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "orders");
    assert_eq!(body["partition_count"], 3);
    assert_eq!(body["config"]["retention.ms"], "3600000");
    assert_eq!(body["config"]["segment.bytes"], "1048576");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "orders"}));
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40901)), "{body}");

    api.create_topic("audit", 1);
    assert_eq!(api.get("/api/v1/topics"), (200, json!({"topics": ["audit", "orders"]})));

    let (status, body) = api.get("/api/v1/topics/orders");
    assert_eq!(status, 200, "{body}");
    let partitions = body["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3);
    for (i, partition) in partitions.iter().enumerate() {
        assert_eq!(partition["partition"], i);
        assert_eq!(partition["earliest_offset"], 0);
        assert_eq!(partition["latest_offset"], 0);
        assert!(partition["size_bytes"].is_u64() && partition["segments"].is_u64(), "{partition}");
    }
    assert_eq!(body["config"]["retention.ms"], "3600000");
    assert_eq!(body["config"]["cleanup.policy"], "delete");
    assert_eq!(body["config"]["message.timestamp.type"], "CreateTime");

    let (status, body) = api.delete("/api/v1/topics/orders");
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = api.get("/api/v1/topics/orders");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("orders"));
    let (status, body) = api.delete("/api/v1/topics/orders");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)), "{body}");
    assert_eq!(api.get("/api/v1/topics"), (200, json!({"topics": ["audit"]})));
}

#[test]
fn create_topic_rejects_bad_input() {
    let server = TestServer::start();
    let api = &server.api;

    let (status, body) = api.post_raw("/api/v1/topics", b"{\"name\": \"t\",\n \"partitions\": ");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("line 2"), "{body}");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "has space"}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42202)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("has space"), "{body}");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "t", "config": {"colour": "red"}}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42203)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("colour"), "{body}");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "t", "config": {"retention.ms": "soon"}}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42203)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("retention.ms"), "{body}");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "t", "partitions": 0}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42203)), "{body}");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "t", "partitions": -2}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("partitions"), "{body}");

    let (status, body) = api.post("/api/v1/topics", &json!({"name": "t", "replicas": 3}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("replicas"), "{body}");

    assert_eq!(api.get("/api/v1/topics"), (200, json!({"topics": []})), "nothing was created");
}

#[test]
fn produce_and_consume_round_trip() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("events", 1);
    let records = json!([
        {"key": "user-1", "value": {"amount": 12.5, "items": [1, 2, 3], "note": null}, "headers": {"source": "test", "empty": null}},
        {"key": null, "value": "plain string", "timestamp": 1_000},
        {"value": 42},
        {"key": {"composite": [1, "a"]}, "value": null},
        {"key": true, "value": [true, false]}
    ]);
    let offsets = api.produce("events", records.clone());
    assert_eq!(offsets.len(), 5);
    for (i, offset) in offsets.iter().enumerate() {
        assert_eq!(offset["partition"], 0);
        assert_eq!(offset["offset"], i);
        assert!(offset["timestamp"].is_i64(), "{offset}");
    }
    assert_eq!(offsets[1]["timestamp"], 1_000, "a producer timestamp is kept under CreateTime");

    let (status, body) = api.get("/api/v1/topics/events/records?from=earliest");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["next_offset"], 5);
    assert_eq!(body["high_watermark"], 5);
    let read = body["records"].as_array().unwrap();
    assert_eq!(read.len(), 5);
    for (i, (record, sent)) in read.iter().zip(records.as_array().unwrap()).enumerate() {
        assert_eq!(record["partition"], 0);
        assert_eq!(record["offset"], i);
        assert_eq!(record["timestamp"], offsets[i]["timestamp"]);
        // Keys are Kafka's bytes: a string is its UTF-8, so it reads back as that string; an object
        // or array reads back as JSON; other JSON (here `true`) as its text.
        let key = match sent.get("key") {
            Some(Value::Bool(flag)) => Value::String(flag.to_string()),
            other => other.cloned().unwrap_or(Value::Null),
        };
        assert_eq!(record["key"], key, "key of record {i}");
        assert_eq!(record["value"], sent.get("value").cloned().unwrap_or(Value::Null), "value of record {i}");
        assert!(record.get("value_encoding").is_none());
    }
    assert_eq!(read[0]["headers"], json!({"source": "test", "empty": null}));
    assert_eq!(read[1]["headers"], json!({}));

    // Default start is the earliest offset; offset= and limit= page through.
    let (_, body) = api.get("/api/v1/topics/events/records?limit=2");
    assert_eq!(body["records"].as_array().unwrap().len(), 2);
    assert_eq!(body["next_offset"], 2);
    let (_, body) = api.get("/api/v1/topics/events/records?offset=3&limit=10&partition=0");
    let read = body["records"].as_array().unwrap();
    assert_eq!(read.iter().map(|r| r["offset"].as_u64().unwrap()).collect::<Vec<_>>(), vec![3, 4]);
    let (_, body) = api.get("/api/v1/topics/events/records?from=latest");
    assert_eq!(body["records"], json!([]));
    assert_eq!(body["next_offset"], 5);
    assert_eq!(body["high_watermark"], 5);

    // By timestamp: the record stamped 1000 is the first at or after 500 only if no earlier-offset record
    // is at or after it; every other record carries the current time, so 500 finds offset 0.
    let (_, body) = api.get("/api/v1/topics/events/records?timestamp=500&limit=1");
    assert_eq!(body["records"][0]["offset"], 0, "{body}");
    let (_, body) = api.get("/api/v1/topics/events/records?timestamp=99999999999999");
    assert_eq!(body["records"], json!([]), "nothing is that new");
    assert_eq!(body["next_offset"], 5);

    for bad in ["limit=0", "limit=10001", "from=middle", "offset=-1", "offset=1&from=earliest", "colour=red"] {
        let (status, body) = api.get(&format!("/api/v1/topics/events/records?{bad}"));
        assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{bad}: {body}");
    }
    let (status, body) = api.get("/api/v1/topics/events/records?offset=99");
    assert_eq!((status, body["error_code"].as_u64()), (416, Some(41601)), "{body}");
    let (status, body) = api.get("/api/v1/topics/events/records?partition=1");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40402)), "{body}");
    let (status, body) = api.get("/api/v1/topics/nope/records");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)), "{body}");
}

#[test]
fn log_append_time_topics_report_the_append_time() {
    let server = TestServer::start();
    let api = &server.api;
    let (status, body) =
        api.post("/api/v1/topics", &json!({"name": "stamped", "config": {"message.timestamp.type": "LogAppendTime"}}));
    assert_eq!(status, 201, "{body}");
    let offsets = api.produce("stamped", json!([{"value": 1, "timestamp": 5}, {"value": 2}]));
    let (_, body) = api.get("/api/v1/topics/stamped/records");
    for (offset, record) in offsets.iter().zip(body["records"].as_array().unwrap()) {
        assert_ne!(offset["timestamp"], 5, "the producer's timestamp is replaced");
        assert_eq!(offset["timestamp"], record["timestamp"]);
    }
}

#[test]
fn produce_partitions_by_key_explicit_partition_and_round_robin() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("keyed", 4);

    let keyed: Vec<Value> = (0..40).map(|i| json!({"key": format!("k{}", i % 8), "value": i})).collect();
    let offsets = api.produce("keyed", Value::Array(keyed.clone()));
    let mut partition_of_key = std::collections::BTreeMap::new();
    for (record, offset) in keyed.iter().zip(&offsets) {
        // A string key is hashed as its UTF-8 bytes, exactly as Kafka's default partitioner does.
        let key = record["key"].as_str().unwrap().as_bytes();
        let expected = weft_log::partition_for_key(key, 4);
        assert_eq!(offset["partition"], expected, "record {record}");
        let previous = partition_of_key.insert(record["key"].to_string(), expected);
        assert!(previous.is_none() || previous == Some(expected));
    }
    // Offsets within a partition are dense and in request order.
    for partition in 0..4u64 {
        let in_partition: Vec<u64> =
            offsets.iter().filter(|o| o["partition"] == partition).map(|o| o["offset"].as_u64().unwrap()).collect();
        assert_eq!(in_partition, (0..in_partition.len() as u64).collect::<Vec<_>>());
    }

    let explicit =
        api.produce("keyed", json!([{"value": "a", "partition": 3}, {"key": "k1", "value": "b", "partition": 2}]));
    assert_eq!((explicit[0]["partition"].as_u64(), explicit[1]["partition"].as_u64()), (Some(3), Some(2)));

    // Records with neither key nor partition share one partition per request, rotating across requests.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let offsets = api.produce("keyed", json!([{"value": 1}, {"value": 2}, {"value": 3}]));
        let partitions: Vec<&Value> = offsets.iter().map(|o| &o["partition"]).collect();
        assert!(partitions.windows(2).all(|w| w[0] == w[1]), "one partition per request: {partitions:?}");
        seen.insert(partitions[0].as_u64().unwrap());
    }
    assert_eq!(seen.len(), 4, "round-robin visits every partition: {seen:?}");

    let total: u64 = api.latest_offsets("keyed").iter().sum();
    assert_eq!(total, 40 + 2 + 12);

    // Without a partition, a read covers every partition, merged by timestamp, and says where each
    // partition's next page starts.
    let (status, body) = api.get("/api/v1/topics/keyed/records?limit=10000");
    assert_eq!(status, 200, "{body}");
    let read = body["records"].as_array().unwrap();
    assert_eq!(read.len() as u64, total);
    let stamps: Vec<i64> = read.iter().map(|r| r["timestamp"].as_i64().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "merged oldest first: {stamps:?}");
    let next: Vec<String> =
        api.latest_offsets("keyed").iter().enumerate().map(|(p, end)| format!("{p}:{end}")).collect();
    assert_eq!(body["next"], next.join(","));
    assert!(body.get("next_offset").is_none(), "one next offset only for a one-partition read: {body}");
    // The cursor pages on from there: nothing is left.
    let (_, body) = api.get(&format!("/api/v1/topics/keyed/records?cursor={}", next.join(",")));
    assert_eq!(body["records"], json!([]));
    let (status, body) = api.get("/api/v1/topics/keyed/records?offset=3");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("partition"), "{body}");
    let (status, body) =
        api.get(&format!("/api/v1/topics/keyed/records?partition=3&offset={}&limit=1", explicit[0]["offset"]));
    assert_eq!(status, 200);
    assert_eq!(body["records"][0]["value"], "a");
    assert_eq!(body["records"][0]["partition"], 3);
}

#[test]
fn rejected_produce_requests_write_nothing() {
    let server = TestServer::start_with(|config| config.max_records_per_request = 5);
    let api = &server.api;
    api.create_topic("strict", 2);
    let path = "/api/v1/topics/strict/records";
    let ok = json!({"key": "k", "value": 1});

    let cases: Vec<(Value, u16, u64, &[&str])> = vec![
        (json!([ok, ok, {"value": 1, "partition": 2}]), 404, 40402, &["[2]", "partition", "2"]),
        (json!([ok, {"value": 1, "headers": {"trace": 7}}]), 422, 42201, &["[1]", "headers.trace"]),
        (json!([ok, ok, ok, {"value": 1, "colour": "red"}]), 422, 42201, &["[3]", "colour"]),
        (json!([{"value": 1, "timestamp": "yesterday"}]), 422, 42201, &["[0]", "timestamp"]),
        (json!([ok, {"value": 1, "timestamp": -5}]), 422, 42204, &["[1]", "timestamp"]),
        (json!([ok, {"value": 1, "partition": -1}]), 422, 42201, &["[1]", "partition"]),
        (json!({"value": 1}), 422, 42201, &["sequence"]),
        (json!([ok, "not a record"]), 422, 42201, &["[1]"]),
        (json!([]), 422, 42204, &["no records"]),
        (json!([ok, ok, ok, ok, ok, ok]), 413, 41302, &["6", "5"]),
    ];
    for (body, status, code, fragments) in cases {
        let (got_status, error) = api.post(path, &body);
        assert_eq!((got_status, error["error_code"].as_u64()), (status, Some(code)), "{body}: {error}");
        let message = error["message"].as_str().unwrap();
        for fragment in fragments {
            assert!(message.contains(fragment), "{body}: message {message:?} lacks {fragment:?}");
        }
    }

    let (status, error) = api.post_raw(path, b"[{\"value\": 1},\n {\"value\": ]");
    assert_eq!((status, error["error_code"].as_u64()), (400, Some(40001)), "{error}");
    assert!(error["message"].as_str().unwrap().contains("line 2"), "{error}");

    let (status, error) = api.post("/api/v1/topics/missing/records", &json!([ok]));
    assert_eq!((status, error["error_code"].as_u64()), (404, Some(40401)), "{error}");

    assert_eq!(api.latest_offsets("strict"), vec![0, 0], "no rejected request wrote anything");
    assert!(api.get_text("/metrics").1.contains("weft_produced_records_total 0\n"));
}

#[test]
fn oversized_body_is_413_json() {
    let server = TestServer::start_with(|config| config.max_body_bytes = 16 * 1024);
    let api = &server.api;
    api.create_topic("big", 1);
    let large = json!([{"value": "x".repeat(20 * 1024)}]);
    let (status, body) = api.post("/api/v1/topics/big/records", &large);
    assert_eq!((status, body["error_code"].as_u64()), (413, Some(41301)), "{body}");
    let (status, body) = api.post("/api/v1/topics", &json!({"name": "x".repeat(20 * 1024)}));
    assert_eq!((status, body["error_code"].as_u64()), (413, Some(41301)), "{body}");
    assert_eq!(api.latest_offsets("big"), vec![0]);
    api.produce("big", json!([{"value": "x".repeat(1024)}]));
    assert_eq!(api.latest_offsets("big"), vec![1]);
}

#[test]
fn consumer_group_offsets() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("a", 2);
    api.create_topic("b", 1);
    assert_eq!(api.get("/api/v1/groups/readers/offsets"), (200, json!({"group": "readers", "offsets": []})));

    let (status, body) = api.post(
        "/api/v1/groups/readers/offsets",
        &json!({"offsets": [{"topic": "b", "partition": 0, "offset": 7}, {"topic": "a", "partition": 1, "offset": 3, "metadata": "m"}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["group"], "readers");
    assert_eq!(body["offsets"].as_array().unwrap().len(), 2);

    let (status, body) = api.get("/api/v1/groups/readers/offsets");
    assert_eq!(status, 200);
    let offsets = body["offsets"].as_array().unwrap();
    let summary: Vec<(String, u64, u64, String)> = offsets
        .iter()
        .map(|o| {
            assert!(o["commit_timestamp"].as_i64().unwrap() > 0);
            (
                o["topic"].as_str().unwrap().into(),
                o["partition"].as_u64().unwrap(),
                o["offset"].as_u64().unwrap(),
                o["metadata"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(summary, vec![("a".into(), 1, 3, "m".into()), ("b".into(), 0, 7, String::new())], "sorted by topic");

    // A request with one bad entry commits nothing.
    let (status, body) = api.post(
        "/api/v1/groups/readers/offsets",
        &json!({"offsets": [{"topic": "b", "partition": 0, "offset": 100}, {"topic": "a", "partition": 2, "offset": 1}]}),
    );
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40402)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("offsets[1]"), "{body}");
    let (status, body) = api.post(
        "/api/v1/groups/readers/offsets",
        &json!({"offsets": [{"topic": "b", "partition": 0, "offset": 100}, {"topic": "zzz", "partition": 0, "offset": 1}]}),
    );
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)), "{body}");
    let (status, body) = api
        .post("/api/v1/groups/readers/offsets", &json!({"offsets": [{"topic": "b", "partition": 0, "offset": "ten"}]}));
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("offsets[0].offset"), "{body}");
    let (status, _) = api.post("/api/v1/groups/readers/offsets", &json!({"offsets": []}));
    assert_eq!(status, 422);
    let (status, _) = api.post_raw("/api/v1/groups/readers/offsets", b"{");
    assert_eq!(status, 400);
    let (_, body) = api.get("/api/v1/groups/readers/offsets");
    assert_eq!(body["offsets"][1]["offset"], 7, "unchanged after rejected commits");
}

#[test]
fn metrics_count_records_and_requests() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("m", 1);
    api.produce("m", json!([{"value": "abc"}, {"value": "de"}]));
    api.get("/api/v1/topics/m/records");
    api.get("/api/v1/topics/none");
    let (status, text) = api.get_text("/metrics");
    assert_eq!(status, 200);
    assert!(text.contains("weft_produced_records_total 2\n"), "{text}");
    // JSON text of "abc" and "de": 5 + 4 bytes.
    assert!(text.contains("weft_produced_bytes_total 9\n"), "{text}");
    assert!(text.contains("weft_consumed_records_total 2\n"), "{text}");
    assert!(text.contains("weft_append_duration_seconds_count 1\n"), "{text}");
    assert!(text.contains("weft_read_duration_seconds_count 1\n"), "{text}");
    assert!(text.contains("weft_append_duration_seconds_bucket{le=\"+Inf\"} 1\n"), "{text}");
    assert!(
        text.contains(
            "weft_http_requests_total{method=\"POST\",route=\"/api/v1/topics/{topic}/records\",status=\"200\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("weft_http_requests_total{method=\"GET\",route=\"/api/v1/topics/{topic}\",status=\"404\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("weft_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/topics\"} 1\n"),
        "{text}"
    );
}

#[test]
fn live_tail_delivers_records_produced_after_subscribing() {
    let mut server = TestServer::start();
    let api = &server.api;
    api.create_topic("live", 1);
    api.produce("live", json!([{"value": "before"}]));

    let tail = api.sse("/api/v1/topics/live/records/stream");
    let from_start = api.sse("/api/v1/topics/live/records/stream?from=earliest");
    let from_offset = api.sse("/api/v1/topics/live/records/stream?partition=0&offset=1");
    api.produce("live", json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}]));
    std::thread::sleep(Duration::from_millis(50));
    api.produce("live", json!([{"value": {"third": true}}]));

    let events = receive(&tail, 3);
    let ids: Vec<Option<String>> = events.iter().map(|(id, _)| id.clone()).collect();
    // The event id is the cursor right after the record: partition 0's next offset.
    assert_eq!(ids, vec![Some("0:2".into()), Some("0:3".into()), Some("0:4".into())], "no old records");
    assert_eq!(events[0].1["key"], "a");
    assert_eq!(events[1].1["value"], 2);
    assert_eq!(events[2].1["value"], json!({"third": true}));
    assert_eq!(events[2].1["partition"], 0);

    let events = receive(&from_start, 4);
    assert_eq!(events[0].1["value"], "before");
    assert_eq!(events[3].1["offset"], 3);
    let events = receive(&from_offset, 3);
    assert_eq!(events[0].1["offset"], 1);
    // A reconnecting EventSource resumes after the last event it saw (a cursor, or the offset a
    // one-partition tail's ids used to be).
    let resumed = api.sse_with_headers("/api/v1/topics/live/records/stream", &[("last-event-id", "0:3")]);
    assert_eq!(receive(&resumed, 1)[0].0.as_deref(), Some("0:4"));
    let resumed = api.sse_with_headers("/api/v1/topics/live/records/stream", &[("last-event-id", "2")]);
    assert_eq!(receive(&resumed, 1)[0].0.as_deref(), Some("0:4"));

    let (status, text) = api.get_text("/metrics");
    assert_eq!(status, 200);
    assert!(text.contains("weft_consumed_records_total 12\n"), "{text}");

    // Shutdown ends open tails instead of waiting for them forever.
    server.stop();
    assert!(tail.recv_timeout(Duration::from_secs(5)).is_err());
}

#[test]
fn live_tail_without_partition_follows_every_partition() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("wide", 3);
    let events = api.sse("/api/v1/topics/wide/records/stream");
    api.produce(
        "wide",
        json!([{"value": "p0", "partition": 0}, {"value": "p2", "partition": 2}, {"value": "p1", "partition": 1}]),
    );
    let mut values: Vec<String> =
        receive(&events, 3).into_iter().map(|(_, record)| record["value"].as_str().unwrap().to_string()).collect();
    values.sort();
    assert_eq!(values, vec!["p0", "p1", "p2"]);

    let (status, body) = api.get("/api/v1/topics/wide/records/stream?offset=0");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    let (status, body) = api.get("/api/v1/topics/wide/records/stream?partition=9");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40402)), "{body}");
    let (status, body) = api.get("/api/v1/topics/gone/records/stream");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)), "{body}");
}

#[test]
fn records_and_group_offsets_survive_a_restart() {
    let mut server = TestServer::start();
    server.api.create_topic("durable", 2);
    let offsets = server.api.produce(
        "durable",
        json!([{"key": "x", "value": {"n": 1}, "headers": {"h": "v"}}, {"value": "y", "partition": 1, "timestamp": 1234}]),
    );
    let (status, _) = server
        .api
        .post("/api/v1/groups/g1/offsets", &json!({"offsets": [{"topic": "durable", "partition": 1, "offset": 1}]}));
    assert_eq!(status, 200);

    server.restart();
    let api = &server.api;
    assert_eq!(api.get("/api/v1/topics"), (200, json!({"topics": ["durable"]})), "internal topics are hidden");
    let (_, all) = api.get("/api/v1/topics?internal=true");
    let all = all["topics"].as_array().unwrap();
    assert!(all.len() > 1 && all.iter().any(|t| t.as_str().unwrap().starts_with("_weft")), "{all:?}");
    let x_partition = offsets[0]["partition"].as_u64().unwrap();
    let (_, body) = api.get(&format!("/api/v1/topics/durable/records?partition={x_partition}"));
    let first = body["records"].as_array().unwrap().iter().find(|r| r["key"] == "x").cloned().expect("record x");
    assert_eq!(first["value"], json!({"n": 1}));
    assert_eq!(first["headers"], json!({"h": "v"}));
    let (_, body) = api.get("/api/v1/topics/durable/records?partition=1&from=earliest");
    let y = body["records"].as_array().unwrap().iter().find(|r| r["value"] == "y").cloned().expect("record y");
    assert_eq!(y["timestamp"], 1234);
    let (_, body) = api.get("/api/v1/groups/g1/offsets");
    assert_eq!(body["offsets"][0]["topic"], "durable");
    assert_eq!(body["offsets"][0]["offset"], 1);

    // The restarted server appends after what is already there.
    let more = api.produce("durable", json!([{"value": "z", "partition": 1}]));
    assert_eq!(more[0]["offset"], api.latest_offsets("durable")[1] - 1);
    assert!(more[0]["offset"].as_u64().unwrap() >= 1);
}

#[test]
fn live_tail_reports_a_deleted_topic_and_ends() {
    let server = TestServer::start();
    let api = &server.api;
    api.create_topic("doomed", 1);
    let events = api.sse("/api/v1/topics/doomed/records/stream?from=earliest");
    api.produce("doomed", json!([{"value": 1}]));
    assert_eq!(receive(&events, 1)[0].1["value"], 1);
    assert_eq!(api.delete("/api/v1/topics/doomed").0, 204);
    let (id, error) = receive(&events, 1).remove(0);
    assert_eq!(id, None);
    assert_eq!(error["error_code"], 40401, "{error}");
    assert!(events.recv_timeout(Duration::from_secs(5)).is_err(), "the stream ends after the error");
}

#[test]
fn internal_topics_can_be_read_but_not_written() {
    let server = TestServer::start();
    let api = &server.api;
    let (status, body) = api.post("/api/v1/topics", &json!({"name": "_weft_mine"}));
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");
    let (status, body) = api.post("/api/v1/topics/_weft_consumer_offsets/records", &json!([{"key": "g", "value": 1}]));
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");
    let (status, body) = api.delete("/api/v1/topics/_weft_consumer_offsets");
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40301)), "{body}");
    let (status, _) = api.get("/api/v1/topics/_weft_consumer_offsets/records?partition=0");
    assert_eq!(status, 200);
    let internal = api.get("/api/v1/topics?internal=true").1["topics"].as_array().unwrap().clone();
    assert!(internal.contains(&json!("_weft_consumer_offsets")), "{internal:?}");
    assert!(internal.iter().all(|t| t.as_str().unwrap().starts_with("_weft")), "{internal:?}");
}
