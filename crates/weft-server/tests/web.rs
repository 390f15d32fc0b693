//! End-to-end tests of the web application's serving (embedded files, page requests, caching, the
//! `WEFT_WEB_DIR` override, traversal) and of the endpoints it needs (`/profile`, `/stats`), through real HTTP.

mod common;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Api, TestServer};
use serde_json::{json, Value};
use weft_server::web::{self, WebSource};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[test]
fn every_file_under_web_is_embedded_and_served_byte_for_byte_with_its_content_type() {
    let server = TestServer::start();
    let embedded: Vec<&str> = web::embedded_paths().collect();
    for required in ["index.html", "app.js", "app.css", "lib/api.js", "lib/dom.js", "lib/charts.js", "pages/explore.js"]
    {
        assert!(embedded.contains(&required), "{required} is not embedded: {embedded:?}");
    }
    for path in &embedded {
        let reply = server.api.send("GET", &format!("/ui/{path}"), &[], None);
        assert_eq!(reply.status, 200, "/ui/{path}");
        let on_disk = std::fs::read(web_dir().join(path)).expect("the embedded file exists on disk");
        // A mismatch means the binary is older than the file (rebuild), or build.rs missed a change.
        assert!(
            reply.body == on_disk,
            "/ui/{path} differs from web/{path} ({} vs {} bytes)",
            reply.body.len(),
            on_disk.len()
        );
        let expected = match path.rsplit_once('.').map(|(_, ext)| ext) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("html") => "text/html; charset=utf-8",
            Some("svg") => "image/svg+xml",
            _ => continue,
        };
        assert_eq!(reply.header("content-type"), Some(expected), "/ui/{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
}

/// What a browser sends when it navigates to a page.
const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

#[test]
fn a_browser_asking_for_any_page_gets_the_index_and_the_router_decides() {
    let server = TestServer::start();
    let index = std::fs::read_to_string(web_dir().join("index.html")).expect("index.html");
    // The server keeps no list of pages (app.js does): known pages, deep links with queries, and
    // unknown pages alike get the index, whose router renders the page or its "page not found".
    for path in [
        "/",
        "/explore",
        "/explore?q=orders&tier=curated&tag=a&tag=b",
        "/products/sales.orders",
        "/products/sales.orders?tab=schema",
        "/manage/sales.orders",
        "/governance",
        "/products/a.b/extra",
        "/nowhere",
    ] {
        for method in ["GET", "HEAD"] {
            let reply = server.api.send(method, path, &[BROWSER], None);
            assert_eq!(reply.status, 200, "{method} {path}");
            assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{method} {path}");
            if method == "GET" {
                assert_eq!(reply.text(), index, "{path}");
            }
            let csp = reply.header("content-security-policy").unwrap_or_default();
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        }
    }
    // Below the server's own paths a miss is the API's JSON 404, even for a browser.
    for path in
        ["/api/v1/nowhere", "/api", "/ui/no-such-file.js", "/ksql/x", "/query-stream/x", "/health/x", "/metrics/x"]
    {
        let reply = server.api.send("GET", path, &[BROWSER], None);
        assert_eq!(reply.code(), (404, Some(40400)), "{path}");
    }
    // The registry answers its misses in Confluent's shape.
    let reply = server.api.send("GET", "/registry/nowhere", &[BROWSER], None);
    let body: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!((reply.status, body["error_code"].as_u64()), (404, Some(404)), "{body}");
    // Clients that do not ask for HTML (API clients, curl's */*) get the JSON 404, and so does any
    // method but GET and HEAD.
    for accept in [None, Some("application/json"), Some("*/*"), Some("text/htmlx")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        for path in ["/nowhere", "/explore", "/"] {
            let reply = server.api.send("GET", path, &headers, None);
            assert_eq!(reply.code(), (404, Some(40400)), "{path} with Accept {accept:?}");
        }
    }
    let reply = server.api.send("POST", "/explore", &[BROWSER, ("content-type", "application/json")], Some(b"{}"));
    assert_eq!(reply.code(), (404, Some(40400)));
    // A route that exists keeps its own answer: /ksql takes POST only.
    assert_eq!(server.api.send("GET", "/ksql", &[BROWSER], None).code(), (405, Some(40500)));
}

#[test]
fn unchanged_files_are_revalidated_with_etags() {
    let server = TestServer::start();
    let first = server.api.send("GET", "/ui/app.js", &[], None);
    let etag = first.header("etag").expect("an ETag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong ETag: {etag}");
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let again = server.api.send("GET", "/ui/app.js", &[("if-none-match", &etag)], None);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let weak = format!("\"other\", W/{etag}");
    assert_eq!(server.api.send("GET", "/ui/app.js", &[("if-none-match", &weak)], None).status, 304);
    let stale = server.api.send("GET", "/ui/app.js", &[("if-none-match", "\"stale\"")], None);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, first.body);
    // Different files have different tags; the index has one too.
    let css = server.api.send("GET", "/ui/app.css", &[], None);
    assert_ne!(css.header("etag"), Some(etag.as_str()));
    let page = server.api.send("GET", "/explore", &[BROWSER], None);
    let page_tag = page.header("etag").expect("index ETag").to_string();
    assert_eq!(server.api.send("GET", "/domains/x", &[BROWSER, ("if-none-match", &page_tag)], None).status, 304);
}

#[test]
fn paths_outside_the_web_directory_are_refused() {
    let server = TestServer::start();
    for path in [
        "/ui/%2e%2e/Cargo.toml",
        "/ui/..%2fCargo.toml",
        "/ui/lib/%2e%2e/%2e%2e/Cargo.toml",
        "/ui/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/ui/..%5cCargo.toml",
        "/ui/.hidden",
        "/ui/lib//api.js",
        "/ui/%00",
    ] {
        let reply = server.api.send("GET", path, &[], None);
        assert!(matches!(reply.status, 404 | 422), "{path}: {}", reply.status);
        assert!(!reply.text().contains("[package]"), "{path} leaked a file");
        reply.json();
    }
    let missing = server.api.send("GET", "/ui/no-such-file.js", &[], None);
    assert_eq!(missing.code(), (404, Some(40400)));
}

/// A router serving only the UI from `dir`, on its own runtime.
struct DiskServer {
    api: Api,
    _runtime: tokio::runtime::Runtime,
}

fn serve_from_disk(dir: &Path) -> DiskServer {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("address");
    let router: axum::Router = web::routes(WebSource::Disk(dir.to_path_buf()));
    runtime.spawn(async move { axum::serve(listener, router).await });
    DiskServer { api: Api::new(&format!("http://{addr}")), _runtime: runtime }
}

#[test]
fn a_web_dir_on_disk_is_read_on_every_request_and_confined() {
    let root = tempfile::tempdir().expect("temp dir");
    let web = root.path().join("web");
    std::fs::create_dir_all(web.join("pages")).expect("mkdir");
    std::fs::write(web.join("index.html"), "<main id=main>v1</main>").expect("write");
    std::fs::write(web.join("pages/new.js"), "export const v = 1;").expect("write");
    std::fs::write(root.path().join("secret.txt"), "TOP-SECRET-CONTENT").expect("write");
    let server = serve_from_disk(&web);

    let first = server.api.send("GET", "/ui/pages/new.js", &[], None);
    assert_eq!((first.status, first.text().as_str()), (200, "export const v = 1;"));
    assert_eq!(first.header("content-type"), Some("text/javascript; charset=utf-8"));
    // An edit shows at once, with a new ETag, and the old tag no longer matches.
    std::fs::write(web.join("pages/new.js"), "export const v = 2;").expect("write");
    let old_tag = first.header("etag").expect("etag").to_string();
    let second = server.api.send("GET", "/ui/pages/new.js", &[("if-none-match", &old_tag)], None);
    assert_eq!((second.status, second.text().as_str()), (200, "export const v = 2;"));
    assert_ne!(second.header("etag"), Some(old_tag.as_str()));
    let page = server.api.send("GET", "/products/a.b", &[BROWSER], None);
    assert_eq!((page.status, page.text().as_str()), (200, "<main id=main>v1</main>"));
    assert_eq!(server.api.send("GET", "/api/v1/topics", &[BROWSER], None).code(), (404, Some(40400)));

    // A symlink out of the directory is not followed.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.path().join("secret.txt"), web.join("link.txt")).expect("symlink");
        let reply = server.api.send("GET", "/ui/link.txt", &[], None);
        assert_eq!(reply.status, 404);
        assert!(!reply.text().contains("TOP-SECRET"));
    }
    let reply = server.api.send("GET", "/ui/%2e%2e/secret.txt", &[], None);
    assert_eq!(reply.status, 422);
    assert!(!reply.text().contains("TOP-SECRET"));
}

// ----- profile and stats -----

const ORDER_SCHEMA: &str = r#"{"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "string", "doc": "The order number"},
    {"name": "amount", "type": "double"},
    {"name": "quantity", "type": "long"},
    {"name": "status", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": null}
]}"#;

/// A published product `shop.orders` over topic `orders` (`partitions` partitions).
fn orders_product(api: &Api, partitions: u32) {
    let (status, body) = api.post(
        "/api/v1/domains",
        &json!({"name": "shop", "owningTeam": "team-shop", "members": [{"user": "alice", "role": "owner"}]}),
    );
    assert_eq!(status, 201, "{body}");
    api.create_topic("orders", partitions);
    let (status, body) = api.post("/registry/subjects/orders-value/versions", &json!({"schema": ORDER_SCHEMA}));
    assert_eq!(status, 200, "{body}");
    let spec = json!({
        "id": "shop.orders", "name": "Orders", "owner": "alice", "description": "Orders", "qualityTier": "curated",
        "freshnessObjective": "15m",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "orders", "schemaSubject": "orders-value", "format": "json"}]
    });
    let (status, body) = api.post("/api/v1/products", &spec);
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.send("POST", "/api/v1/products/shop.orders/publish", &[], None).status, 200);
}

fn field<'a>(profile: &'a Value, name: &str) -> &'a Value {
    profile["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no field {name} in {profile}"))
}

#[test]
fn the_live_profile_describes_each_field_of_every_record() {
    let server = TestServer::start();
    let api = &server.api;
    orders_product(api, 2);
    let old: Vec<Value> = (0..10)
        .map(|i| {
            json!({"key": format!("old{i}"), "timestamp": 1_000 + i,
            "value": {"id": format!("old{i}"), "amount": 1000.0, "quantity": 99, "status": "old", "note": null}})
        })
        .collect();
    api.produce("orders", Value::Array(old));
    let amounts = [1.0, 2.0, 2.0, 4.0, 5.5, 10.0];
    let statuses = ["paid", "paid", "paid", "placed", "placed", "shipped"];
    let recent: Vec<Value> = (0..6)
        .map(|i| {
            let note = if i % 2 == 0 { Value::Null } else { json!(format!("n{i}")) };
            json!({"key": format!("k{i}"), "timestamp": 5_000 + i as i64,
                "value": {"id": format!("o{i}"), "amount": amounts[i], "quantity": i % 3 + 1, "status": statuses[i], "note": note}})
        })
        .collect();
    api.produce("orders", Value::Array(recent));

    let (status, profile) = api.get("/api/v1/products/shop.orders/profile");
    assert_eq!(status, 200, "{profile}");
    assert_eq!((profile["records"].as_u64(), profile["tombstones"].as_u64()), (Some(16), Some(0)));
    assert_eq!((profile["from"].as_i64(), profile["to"].as_i64()), (Some(1_000), Some(5_005)));
    assert_eq!((profile["partial"].as_bool(), profile["deadLettered"].as_u64()), (Some(false), Some(0)));
    assert_eq!(profile["deadLetteredShare"].as_f64(), Some(0.0));
    assert_eq!(profile["sketches"]["distinctStandardError"].as_f64(), Some(1.04 / 64.0));
    let covered: u64 = profile["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["ranges"].as_array().unwrap().iter())
        .map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap())
        .sum();
    assert_eq!(covered, 16);
    let names: Vec<&str> = profile["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["id", "amount", "quantity", "status", "note"], "schema order");

    let id = field(&profile, "id");
    assert_eq!(
        (id["type"].as_str(), id["schemaType"].as_str(), id["doc"].as_str()),
        (Some("string"), Some("string"), Some("The order number"))
    );
    assert_eq!((id["count"].as_u64(), id["nulls"].as_u64(), id["distinct"].as_u64()), (Some(16), Some(0), Some(16)));

    let amount = field(&profile, "amount");
    assert_eq!(amount["type"], "number");
    assert_eq!((amount["min"].as_f64(), amount["max"].as_f64()), (Some(1.0), Some(1000.0)));
    assert_eq!(amount["mean"].as_f64(), Some(10_024.5 / 16.0));
    assert_eq!(amount["distinct"], 6);
    let bins: Vec<u64> = amount["histogram"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).collect();
    assert_eq!(bins, [6, 0, 0, 0, 0, 0, 0, 0, 0, 10], "width 99.9 from 1 to 1000");
    let median = amount["quantiles"]["p50"].as_f64().unwrap();
    assert!((median - 1000.0).abs() <= 10.0, "the median of ten 1000s and six small amounts, within 1%: {median}");

    let quantity = field(&profile, "quantity");
    assert_eq!(quantity["type"], "integer");
    let (first, last) = (&quantity["histogram"][0], &quantity["histogram"][9]);
    assert_eq!((first["from"].as_f64(), first["count"].as_u64()), (Some(1.0), Some(6)));
    assert_eq!((last["to"].as_f64(), last["count"].as_u64()), (Some(99.0), Some(10)));

    let status_field = field(&profile, "status");
    assert_eq!(
        status_field["topValues"],
        json!([{"value": "old", "count": 10}, {"value": "paid", "count": 3}, {"value": "placed", "count": 2},
               {"value": "shipped", "count": 1}])
    );
    assert_eq!(status_field["topValuesMaxError"], 0);
    assert_eq!((status_field["minLength"].as_u64(), status_field["maxLength"].as_u64()), (Some(3), Some(7)));

    let note = field(&profile, "note");
    assert_eq!(
        (note["count"].as_u64(), note["nulls"].as_u64(), note["distinct"].as_u64()),
        (Some(3), Some(13), Some(3))
    );

    // The sampling `limit` of earlier releases is gone: refused as unknown, as any unknown parameter.
    assert_eq!(api.get("/api/v1/products/shop.orders/profile?limit=6").0, 422);
    assert_eq!(api.get("/api/v1/products/shop.orders/profile?bogus=1").0, 422);
    assert_eq!(api.get("/api/v1/products/shop.orders/profile?port=nope").0, 404);
    assert_eq!(api.get("/api/v1/products/shop.nothing/profile").1["error_code"], 40404);
}

#[test]
fn the_profile_survives_a_restart_and_counts_what_follows() {
    const STATUSES: [&str; 3] = ["a", "b", "c"];
    let mut server = TestServer::start();
    orders_product(&server.api, 3);
    let order = |i: usize| {
        json!({"key": format!("k{i}"), "timestamp": 10_000 + i as i64,
        "value": {"id": format!("o{i}"), "amount": i as f64 / 4.0, "quantity": i % 5, "status": STATUSES[i % 3]}})
    };
    server.api.produce("orders", Value::Array((0..300).map(order).collect()));
    let (_, before) = server.api.get("/api/v1/products/shop.orders/profile");
    server.restart();
    let (status, after) = server.api.get("/api/v1/products/shop.orders/profile");
    assert_eq!(status, 200, "{after}");
    for key in ["records", "bytes", "from", "to", "fields", "coverage"] {
        assert_eq!(after[key], before[key], "{key}");
    }
    server.api.produce("orders", Value::Array((300..400).map(order).collect()));
    let (_, more) = server.api.get("/api/v1/products/shop.orders/profile");
    assert_eq!(more["records"], 400);
    let amount = field(&more, "amount");
    assert_eq!((amount["count"].as_u64(), amount["max"].as_f64()), (Some(400), Some(99.75)));
    assert_eq!(amount["mean"].as_f64(), Some(399.0 / 8.0));
    assert_eq!(field(&more, "status")["topValues"][0], json!({"value": "a", "count": 134}));
}

#[test]
fn stats_count_records_per_minute_and_report_freshness() {
    let server = TestServer::start();
    let api = &server.api;
    orders_product(api, 2);
    let (status, empty) = api.get("/api/v1/products/shop.orders/stats");
    assert_eq!(status, 200, "{empty}");
    assert_eq!((empty["records"].as_u64(), empty["windowRecords"].as_u64()), (Some(0), Some(0)));
    assert!(empty["lastRecordAt"].is_null() && empty["freshnessMs"].is_null(), "{empty}");
    assert_eq!(empty["stale"], true, "no record yet misses any objective: {empty}");
    assert_eq!(empty["throughput"].as_array().map(Vec::len), Some(60));

    let now = now_ms();
    let value = json!({"id": "x", "amount": 1.0, "quantity": 1, "status": "paid"});
    let at = |offset_ms: i64, key: &str| json!({"key": key, "timestamp": now - offset_ms, "value": value});
    // Two hours ago (outside the window), 30 minutes ago (three records), 5 minutes ago (two).
    api.produce(
        "orders",
        json!([
            at(7_200_000, "a"),
            at(1_800_000, "b"),
            at(1_800_000, "c"),
            at(1_800_000, "d"),
            at(300_000, "e"),
            at(300_000, "f")
        ]),
    );
    let (status, stats) = api.get("/api/v1/products/shop.orders/stats");
    assert_eq!(status, 200, "{stats}");
    assert_eq!((stats["records"].as_u64(), stats["partitions"].as_u64()), (Some(6), Some(2)));
    assert_eq!(stats["windowRecords"], 5);
    assert_eq!(stats["lastRecordAt"].as_i64(), Some(now - 300_000));
    let freshness = stats["freshnessMs"].as_i64().unwrap();
    assert!((300_000..400_000).contains(&freshness), "{freshness}");
    assert_eq!(stats["freshnessObjectiveSeconds"], 900);
    assert_eq!(stats["stale"], false, "5 minutes old against a 15-minute objective");
    assert_eq!(stats["truncated"], false);
    let (from, to, bucket) =
        (stats["from"].as_i64().unwrap(), stats["to"].as_i64().unwrap(), stats["bucketMs"].as_i64().unwrap());
    assert_eq!((bucket, to - from, from % 60_000), (60_000, 3_600_000, 0));
    let buckets = stats["throughput"].as_array().unwrap();
    assert_eq!(buckets.len(), 60);
    let count_at = |t: i64| buckets[((t - from) / bucket) as usize]["count"].as_u64().unwrap();
    assert_eq!(count_at(now - 1_800_000), 3);
    assert_eq!(count_at(now - 300_000), 2);
    assert_eq!(buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), 5);
    assert_eq!(buckets[1]["start"].as_i64(), Some(from + 60_000));

    // A 3-hour window takes in the old record too.
    let (_, wide) = api.get("/api/v1/products/shop.orders/stats?windowMinutes=180");
    assert_eq!((wide["windowRecords"].as_u64(), wide["throughput"].as_array().map(Vec::len)), (Some(6), Some(180)));
    assert_eq!(api.get("/api/v1/products/shop.orders/stats?windowMinutes=0").0, 422);
    assert_eq!(api.get("/api/v1/products/shop.orders/stats?windowMinutes=1441").0, 422);
    assert_eq!(api.get("/api/v1/products/shop.orders/stats?port=nope").0, 404);
}

#[test]
fn a_retired_products_profile_and_stats_are_refused() {
    let server = TestServer::start();
    let api = &server.api;
    let (status, _) = api.post(
        "/api/v1/domains",
        &json!({"name": "shop", "owningTeam": "t", "members": [{"user": "alice", "role": "owner"}]}),
    );
    assert_eq!(status, 201);
    let spec = json!({"id": "shop.old", "name": "Old", "owner": "alice",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "old", "schemaSubject": "old-value", "format": "json"}]});
    assert_eq!(api.post("/api/v1/products", &spec).0, 201);
    assert_eq!(api.send("POST", "/api/v1/products/shop.old/retire", &[], None).status, 200);
    for path in ["/api/v1/products/shop.old/profile", "/api/v1/products/shop.old/stats"] {
        let (status, body) = api.get(path);
        assert_eq!((status, body["error_code"].as_u64()), (403, Some(40302)), "{path}: {body}");
    }
}
