//! `weft demo`: the whole server plus a small, live data mesh to explore.
//!
//! The server runs in this process exactly as `weft serve` runs it; the mesh is then built through its
//! own REST API (over loopback), as a domain team would build it: domains, topics, schemas, source
//! products, SQL-derived products, access requests. Everything is created only when missing, so a
//! second start on the same data directory reuses what is there: the catalog, the registry and the SQL
//! engine rebuild themselves from the log, persistent queries resume on their own, and the generators
//! carry on numbering orders after the last one written.
//!
//! The generators are one thread writing every domain's events at a realistic pace (about fifteen
//! events a second in all) with keys that agree across domains: orders name customers and SKUs that
//! exist, payments follow orders, shipments follow captured payments. They write through the mesh's
//! one write path (as a producer inside the platform would), so what each product's port declares is
//! what lands on its topic: Avro in the Confluent wire format for orders, payments and shipments, JSON
//! checked against its JSON Schema for the others, string keys as their UTF-8 bytes. A few events a
//! minute are deliberately defective (see [`Defect`]): those that break their product's schema are
//! refused by the write path, the others (a negative amount) wait for data contracts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use weft_mesh::records::JsonRecord;
use weft_mesh::{Mesh, MeshError, RequestContext};
use weft_server::{Server, ServerConfig};

use crate::client::{encode, Client};
use crate::now_ms;

/// The actor the demo's platform-level changes are made as (and the web app's default actor).
const ADMIN: &str = "admin";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its data; start again on the same directory to carry on.
    #[arg(long, default_value = "weft-demo")]
    data_dir: PathBuf,
    /// Address to listen on (`--addr` is the older spelling).
    #[arg(long, alias = "addr", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Delete the data directory first and build the demo mesh afresh.
    #[arg(long)]
    reset: bool,
    /// Run the demo mesh on this Kafka cluster (bootstrap servers, host:port[,host:port...]); the data
    /// directory then keeps only the people's tokens. Start again on the same cluster to carry on.
    #[cfg(feature = "kafka")]
    #[arg(long, value_name = "BOOTSTRAP", conflicts_with = "reset")]
    kafka: Option<String>,
    /// A librdkafka property of the Kafka clients, e.g. security.protocol=SASL_SSL (repeatable).
    #[cfg(feature = "kafka")]
    #[arg(long = "kafka-config", value_name = "KEY=VALUE", requires = "kafka")]
    kafka_config: Vec<String>,
    /// "tokens" (sign in with the printed tokens) or "none" (development: act as anyone by name).
    #[arg(long, default_value = "tokens")]
    auth: weft_server::AuthMode,
}

/// The server on the configuration's log: the Kafka cluster it names, else the data directory.
async fn bind(config: &ServerConfig) -> Result<Server> {
    #[cfg(feature = "kafka")]
    if let Some(kafka) = &config.kafka {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {} for the demo's tokens", config.data_dir.display()))?;
        let log = crate::kafka::connect(kafka).await?;
        // As `weft serve --kafka` does, so that servers joining the demo's cluster share its work
        // rather than repeat it.
        return crate::cluster::bind(config, log, None).await;
    }
    Ok(Server::bind(config).await?)
}

/// Runs the server with the demo mesh until Ctrl-C or SIGTERM.
pub fn run(args: DemoArgs) -> Result<()> {
    if args.reset && args.data_dir.exists() {
        std::fs::remove_dir_all(&args.data_dir)
            .with_context(|| format!("deleting {} for --reset", args.data_dir.display()))?;
    }
    let mut config = ServerConfig::new(&args.data_dir);
    config.listen = args.listen;
    config.auth = args.auth;
    #[cfg(feature = "kafka")]
    if let Some(layer) = crate::kafka::flags(args.kafka, &args.kafka_config)? {
        let layered = weft_server::ConfigLayer { kafka: Some(layer), ..weft_server::ConfigLayer::default() };
        config.kafka = ServerConfig::resolve(layered, weft_server::ConfigLayer::default())?.kafka;
    }
    // The demo speaks through its banner; the platform's own lines (one per request, one per change,
    // and the web app polls) would drown it. WEFT_LOG=info shows them.
    weft_server::init_logging(config.log_format, "warn,weft::demo=info");
    crate::raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        let mut server = bind(&config).await?;
        // A cluster never held a demo from before the mesh (the Kafka backend came after it).
        if config.kafka.is_none() && is_pre_mesh_demo(&server.mesh()) {
            server.run(std::future::ready(())).await?;
            let kept = set_aside(&config.data_dir)?;
            eprintln!(
                "weft demo: {} held a demo made by an earlier Weft, whose SQL streams read the Avro products as \
                 JSON; it is kept as {} (`weft serve --data-dir {}` serves it) and the demo starts afresh",
                config.data_dir.display(),
                kept.display(),
                kept.display()
            );
            server = Server::bind(&config).await?;
        }
        let mesh = server.mesh();
        let tokens = match config.auth {
            weft_server::AuthMode::Tokens => {
                let tokens = demo_tokens(&mesh).context("signing in the demo's people")?;
                write_tokens(&config.data_dir, &tokens)?;
                tokens
            }
            weft_server::AuthMode::None => BTreeMap::new(),
        };
        let addr = server.local_addr()?;
        let url = format!("http://{addr}");
        match &config.kafka {
            Some(kafka) => eprintln!("weft demo: server listening on {url} (Kafka cluster {})", kafka.bootstrap),
            None => eprintln!("weft demo: server listening on {url} (data dir {})", config.data_dir.display()),
        }

        // Generators stop as soon as shutdown begins, so they do not hold connections the server drains.
        let stopping = Arc::new(AtomicBool::new(false));
        let (abort, aborted) = tokio::sync::oneshot::channel::<()>();
        let signal_stopping = stopping.clone();
        let server_task = tokio::spawn(server.run(async move {
            tokio::select! {
                _ = weft_server::shutdown_signal() => {}
                _ = aborted => {}
            }
            signal_stopping.store(true, Ordering::SeqCst);
        }));

        let setup_url = url.clone();
        let setup_tokens = tokens.clone();
        let setup = tokio::task::spawn_blocking(move || setup(&Api::new(&setup_url, &setup_tokens))).await;
        let summary = match setup {
            Ok(Ok(summary)) => summary,
            Ok(Err(error)) => {
                let _ = abort.send(());
                let _ = server_task.await;
                return Err(error.context("setting up the demo mesh"));
            }
            Err(join) => {
                let _ = abort.send(());
                let _ = server_task.await;
                bail!("the demo setup thread failed: {join}");
            }
        };
        print_banner(&url, &summary, &tokens);

        let generator_stopping = stopping.clone();
        let generator = std::thread::Builder::new()
            .name("weft-demo-generators".into())
            .spawn(move || generate(&mesh, summary.next_order, &generator_stopping))
            .context("starting the generators")?;

        let served = server_task.await.context("the server task failed")?;
        stopping.store(true, Ordering::SeqCst);
        let _ = generator.join();
        served?;
        eprintln!("weft demo stopped; start it again with the same --data-dir to carry on");
        Ok::<(), anyhow::Error>(())
    })
}

/// A demo directory from before the mesh's write path declared its SQL sources over the Avro products
/// as JSON (their topics held JSON then). Now that the topics hold what the ports declare, those
/// streams and the published products derived from them cannot follow, and the drop guard rightly
/// refuses to drop them; the log is append-only, so the directory cannot be rewritten in place either.
fn is_pre_mesh_demo(mesh: &Mesh) -> bool {
    mesh.sql().source("ORDERS").is_some_and(|orders| orders.value_format != weft_mesh::weft_sql::format::Format::Avro)
}

/// Moves a directory aside to the first free `<dir>.pre-mesh[.N]` beside it, so nothing in it is lost.
fn set_aside(data_dir: &std::path::Path) -> Result<PathBuf> {
    let base = data_dir.as_os_str().to_os_string();
    for n in 0..1000 {
        let mut name = base.clone();
        name.push(if n == 0 { ".pre-mesh".to_string() } else { format!(".pre-mesh.{n}") });
        let kept = PathBuf::from(name);
        if !kept.exists() {
            std::fs::rename(data_dir, &kept)
                .with_context(|| format!("moving {} aside to {}", data_dir.display(), kept.display()))?;
            return Ok(kept);
        }
    }
    bail!("{} cannot be moved aside: {}.pre-mesh.0 to .999 all exist", data_dir.display(), data_dir.display())
}

/// What setup found or made, for the banner and the generators.
struct Summary {
    created: Vec<String>,
    products: usize,
    next_order: u64,
}

/// The demo's people (the admin, each domain's owner and member, the consumers who asked for access,
/// and one consumer with no grant) as users, in their domain's team, each with a fresh API token; the
/// tokens of an earlier start are revoked. Made in-process: the demo is the platform's own work.
fn demo_tokens(mesh: &Mesh) -> Result<BTreeMap<String, String>> {
    use weft_mesh::security::identities::{PrincipalKind, UserSpec};
    use weft_mesh::security::TokenRequest;
    let ctx = weft_mesh::RequestContext::system("demo");
    let mut people: Vec<(&str, Vec<String>, bool)> = vec![(ADMIN, Vec::new(), true)];
    for domain in &DOMAINS {
        people.push((domain.owner, vec![domain.team.to_string()], false));
        people.push((domain.member, vec![domain.team.to_string()], false));
    }
    for (requester, _, consumer, _) in ACCESS_REQUESTS {
        if !people.iter().any(|(name, _, _)| *name == requester) {
            people.push((requester, vec![consumer.to_string()], false));
        }
    }
    people.push((CONSUMER, vec!["analytics".to_string()], false));
    for old in mesh.tokens(&ctx, None)?.into_iter().filter(|t| t.description == DEMO_TOKEN && t.revoked_at.is_none()) {
        mesh.revoke_token(&ctx, &old.id)?;
    }
    let mut tokens = BTreeMap::new();
    for (name, teams, admin) in people {
        let known = mesh.user(name).ok();
        let mut all_teams = known.as_ref().map(|u| u.teams.clone()).unwrap_or_default();
        all_teams.extend(teams);
        all_teams.sort();
        all_teams.dedup();
        let spec = UserSpec {
            name: name.to_string(),
            kind: PrincipalKind::User,
            display_name: known.as_ref().map(|u| u.display_name.clone()).unwrap_or_default(),
            teams: all_teams,
            admin: admin || known.as_ref().is_some_and(|u| u.admin),
            disabled: false,
        };
        mesh.set_user(&ctx, spec)?;
        let request = TokenRequest {
            principal: Some(name.to_string()),
            description: DEMO_TOKEN.to_string(),
            ..TokenRequest::default()
        };
        tokens.insert(name.to_string(), mesh.create_token(&ctx, request)?.token);
    }
    Ok(tokens)
}

/// The demo's tokens as `{"name": "token"}` in `<data dir>/demo-tokens.json` (readable by its owner
/// only), for scripts: `export WEFT_TOKEN=$(jq -r .alice weft-demo/demo-tokens.json)`.
fn write_tokens(data_dir: &std::path::Path, tokens: &BTreeMap<String, String>) -> Result<()> {
    let path = data_dir.join(DEMO_TOKENS_FILE);
    let text = serde_json::to_string_pretty(tokens)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Where the demo writes its people's tokens, in its data directory.
pub const DEMO_TOKENS_FILE: &str = "demo-tokens.json";

/// The description of the demo's tokens (revoked on the next start).
const DEMO_TOKEN: &str = "weft demo";

/// A consumer with no grant: what someone new to the mesh sees.
const CONSUMER: &str = "casey";

fn print_banner(url: &str, summary: &Summary, tokens: &BTreeMap<String, String>) {
    let made = if summary.created.is_empty() {
        "everything already existed; carrying on".to_string()
    } else {
        format!("created {}", summary.created.join(", "))
    };
    println!(
        "\nWeft demo mesh ready ({made}).\n\n  Web app:   {url}/\n  REST API:  {url}/api/v1  (OpenAPI: {url}/api/v1/openapi.json)\n  \
         Registry:  {url}/registry\n  ksqlDB:    {url}/ksql\n\n  {} data products in 5 domains; live events are being generated.\n\n  \
         People and their API tokens (sign in to the web app with one, or `export WEFT_TOKEN=...` for the CLI;\n  \
         new tokens on every start):\n",
        summary.products
    );
    let token = |name: &str| tokens.get(name).cloned().unwrap_or_default();
    println!("    {ADMIN:<8} platform administrator\n             {}", token(ADMIN));
    for domain in DOMAINS {
        println!(
            "    {:<8} owner of the {} domain ({})\n             {}",
            domain.owner,
            domain.name,
            domain.team,
            token(domain.owner)
        );
    }
    println!("    {CONSUMER:<8} a consumer with no grants yet\n             {}", token(CONSUMER));
    println!();
    for (requester, product, _, _) in ACCESS_REQUESTS {
        let owner = owner_of(domain_of(product));
        println!("  {requester} asked for access to {product}: sign in as {owner} and open {url}/access to decide.");
    }
    if tokens.is_empty() {
        println!(
            "\n  Authentication is OFF (--auth none): act as anyone with the web app's actor menu or X-Weft-Actor."
        );
    } else {
        println!("\n  Every person's token is also in {DEMO_TOKENS_FILE} in the data directory.");
    }
    println!("\n  Stop with Ctrl-C; start again with the same --data-dir to carry on.\n");
}

// ---------------------------------------------------------------------------------------------------
// The mesh: domains, source products and their schemas, derived products.

struct DomainDef {
    name: &'static str,
    team: &'static str,
    description: &'static str,
    contact: &'static str,
    owner: &'static str,
    member: &'static str,
}

const DOMAINS: [DomainDef; 5] = [
    DomainDef {
        name: "customers",
        team: "Customer Experience",
        description: "Who our customers are: profiles, segments and loyalty tiers.",
        contact: "#cx-data (customers-data@example.com)",
        owner: "carol",
        member: "heidi",
    },
    DomainDef {
        name: "inventory",
        team: "Supply Chain",
        description: "What we sell and how much of it we hold: the SKU catalogue and every stock movement.",
        contact: "#inventory (inventory-data@example.com)",
        owner: "dave",
        member: "ivan",
    },
    DomainDef {
        name: "orders",
        team: "Checkout",
        description: "Orders as customers place them on the web shop, the mobile app and in stores.",
        contact: "#checkout (orders-data@example.com)",
        owner: "alice",
        member: "frank",
    },
    DomainDef {
        name: "payments",
        team: "Payments",
        description: "Payment attempts for orders, by method, with their outcome.",
        contact: "#payments (payments-data@example.com)",
        owner: "bob",
        member: "grace",
    },
    DomainDef {
        name: "shipping",
        team: "Fulfilment",
        description: "Shipments of paid orders, from label to doorstep.",
        contact: "#fulfilment (shipping-data@example.com)",
        owner: "erin",
        member: "judy",
    },
];

fn owner_of(domain: &str) -> &'static str {
    DOMAINS.iter().find(|d| d.name == domain).map_or(ADMIN, |d| d.owner)
}

#[derive(Clone, Copy)]
enum SchemaKind {
    Avro,
    Json,
}

/// A source product: a topic the domain writes, its schema, and its catalog entry.
struct SourceDef {
    /// The product id, also the topic name.
    id: &'static str,
    name: &'static str,
    partitions: u32,
    /// Keyed reference data keeps only the latest record per key.
    compacted: bool,
    kind: SchemaKind,
    schema: fn() -> Value,
    description: &'static str,
    documentation: &'static str,
    quality_tier: &'static str,
    sla_tier: &'static str,
    freshness: &'static str,
    tags: &'static [&'static str],
}

const SOURCES: [SourceDef; 6] = [
    SourceDef {
        id: "customers.profiles",
        name: "Customer profiles",
        partitions: 3,
        compacted: true,
        kind: SchemaKind::Json,
        schema: customer_schema,
        description: "The current profile of every customer, keyed by customer id: name, e-mail, country, \
                      segment and loyalty tier.",
        documentation: "# Customer profiles\n\nOne record per change to a customer's profile, keyed by \
                        `customer_id`; the topic is compacted, so it always holds the latest profile of every \
                        customer. Read it as a table.\n\n- `segment` is `consumer` or `business`.\n- \
                        `loyalty_tier` moves between `bronze`, `silver` and `gold` as customers order.\n\n\
                        Personal data (name, e-mail): request access and state your purpose.",
        quality_tier: "authoritative",
        sla_tier: "gold",
        freshness: "1m",
        tags: &["customers", "pii", "reference-data"],
    },
    SourceDef {
        id: "inventory.items",
        name: "SKU catalogue",
        partitions: 1,
        compacted: true,
        kind: SchemaKind::Json,
        schema: item_schema,
        description: "Every SKU we sell: its name, category and list price, keyed by SKU.",
        documentation: "# SKU catalogue\n\nThe master list of sellable items, keyed by `sku` \
                        (`SKU-<CATEGORY>-<NNN>`). Prices are list prices in EUR, VAT included.",
        quality_tier: "authoritative",
        sla_tier: "silver",
        freshness: "1d",
        tags: &["inventory", "reference-data", "products"],
    },
    SourceDef {
        id: "inventory.stock-movements",
        name: "Stock movements",
        partitions: 3,
        compacted: false,
        kind: SchemaKind::Json,
        schema: stock_movement_schema,
        description: "Every change to the stock of a SKU in a warehouse: reservations for orders, restocks \
                      and adjustments.",
        documentation: "# Stock movements\n\nKeyed by `sku`. `quantity` is negative for reservations (an \
                        order took the items) and positive for restocks. Summing movements per SKU and \
                        warehouse gives the stock level.",
        quality_tier: "curated",
        sla_tier: "silver",
        freshness: "1m",
        tags: &["inventory", "stock", "warehouse"],
    },
    SourceDef {
        id: "orders.placed",
        name: "Orders placed",
        partitions: 3,
        compacted: false,
        kind: SchemaKind::Avro,
        schema: order_schema,
        description: "Every order customers place on the web shop, the mobile app and in stores, with its \
                      lines and total.",
        documentation: "# Orders placed\n\nOne event per order, keyed by `order_id`, written when the \
                        customer confirms the basket. `customer_id` refers to `customers.profiles`; each \
                        line's `sku` to `inventory.items`. Amounts are in `currency` (EUR).\n\nPayments \
                        follow in `payments.transactions`, shipments in `shipping.shipments`.",
        quality_tier: "authoritative",
        sla_tier: "gold",
        freshness: "1m",
        tags: &["orders", "sales", "revenue"],
    },
    SourceDef {
        id: "payments.transactions",
        name: "Payment transactions",
        partitions: 3,
        compacted: false,
        kind: SchemaKind::Avro,
        schema: payment_schema,
        description: "Payment attempts for orders: amount, method (card, PayPal, bank transfer, Klarna) and \
                      whether they were captured or declined.",
        documentation: "# Payment transactions\n\nOne event per payment attempt, keyed by `payment_id`, a \
                        few seconds after the order. `status` is `captured` or `declined`; only captured \
                        payments lead to a shipment.",
        quality_tier: "authoritative",
        sla_tier: "gold",
        freshness: "1m",
        tags: &["payments", "finance", "revenue"],
    },
    SourceDef {
        id: "shipping.shipments",
        name: "Shipments",
        partitions: 3,
        compacted: false,
        kind: SchemaKind::Avro,
        schema: shipment_schema,
        description: "The journey of every shipment of a paid order: label created, in transit, delivered.",
        documentation: "# Shipments\n\nOne event per status change, keyed by `shipment_id`. A shipment \
                        is created for every captured payment and moves `label_created` -> `in_transit` -> \
                        `delivered`.",
        quality_tier: "curated",
        sla_tier: "silver",
        freshness: "5m",
        tags: &["shipping", "logistics", "delivery"],
    },
];

fn avro_field(name: &str, ty: Value, doc: &str) -> Value {
    json!({"name": name, "type": ty, "doc": doc})
}

fn order_schema() -> Value {
    json!({
        "type": "record", "name": "OrderPlaced", "namespace": "com.example.orders",
        "doc": "An order a customer placed.",
        "fields": [
            avro_field("order_id", json!("string"), "The order's id, o-NNNNNNN."),
            avro_field("customer_id", json!("string"), "The customer who placed it (customers.profiles)."),
            avro_field("placed_at", json!({"type": "long", "logicalType": "timestamp-millis"}), "When it was placed."),
            avro_field("channel", json!({"type": "enum", "name": "Channel", "symbols": ["web", "mobile", "store"]}),
                "Where it was placed."),
            avro_field("currency", json!("string"), "ISO 4217 currency of every amount."),
            avro_field("items", json!({"type": "array", "items": {
                "type": "record", "name": "OrderLine", "doc": "One SKU of the order.",
                "fields": [
                    avro_field("sku", json!("string"), "The item (inventory.items)."),
                    avro_field("category", json!("string"), "The item's category."),
                    avro_field("quantity", json!("int"), "How many."),
                    avro_field("unit_price", json!("double"), "Price of one, VAT included."),
                ]}}), "The order lines."),
            avro_field("total_amount", json!("double"), "Sum of the lines, VAT included."),
        ]
    })
}

fn payment_schema() -> Value {
    json!({
        "type": "record", "name": "PaymentTransaction", "namespace": "com.example.payments",
        "doc": "One payment attempt for an order.",
        "fields": [
            avro_field("payment_id", json!("string"), "The payment's id."),
            avro_field("order_id", json!("string"), "The order paid (orders.placed)."),
            avro_field("customer_id", json!("string"), "The paying customer (customers.profiles)."),
            avro_field("amount", json!("double"), "The amount charged; never negative."),
            avro_field("currency", json!("string"), "ISO 4217 currency."),
            avro_field("method", json!({"type": "enum", "name": "Method",
                "symbols": ["card", "paypal", "bank_transfer", "klarna"]}), "How the customer paid."),
            avro_field("status", json!({"type": "enum", "name": "PaymentStatus", "symbols": ["captured", "declined"]}),
                "The outcome."),
            avro_field("processed_at", json!({"type": "long", "logicalType": "timestamp-millis"}),
                "When the payment provider answered."),
        ]
    })
}

fn shipment_schema() -> Value {
    json!({
        "type": "record", "name": "ShipmentEvent", "namespace": "com.example.shipping",
        "doc": "A shipment's status change.",
        "fields": [
            avro_field("shipment_id", json!("string"), "The shipment's id."),
            avro_field("order_id", json!("string"), "The order shipped (orders.placed)."),
            avro_field("customer_id", json!("string"), "The recipient (customers.profiles)."),
            avro_field("carrier", json!({"type": "enum", "name": "Carrier", "symbols": ["dhl", "ups", "dpd", "postnl"]}),
                "The carrier delivering it."),
            avro_field("status", json!({"type": "enum", "name": "ShipmentStatus",
                "symbols": ["label_created", "in_transit", "delivered"]}), "Where the shipment is."),
            avro_field("warehouse", json!("string"), "The warehouse it left from."),
            avro_field("country", json!("string"), "ISO 3166 country it goes to."),
            avro_field("updated_at", json!({"type": "long", "logicalType": "timestamp-millis"}), "When the status changed."),
        ]
    })
}

fn json_schema(title: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#", "title": title, "description": description,
        "type": "object", "properties": properties, "required": required,
    })
}

fn customer_schema() -> Value {
    json_schema(
        "CustomerProfile",
        "The current profile of a customer.",
        json!({
            "customer_id": {"type": "string", "description": "The customer's id, c-NNNN."},
            "name": {"type": "string", "description": "Full name (personal data)."},
            "email": {"type": "string", "format": "email", "description": "Contact e-mail (personal data)."},
            "country": {"type": "string", "description": "ISO 3166 alpha-2 country of residence."},
            "segment": {"type": "string", "enum": ["consumer", "business"], "description": "Customer segment."},
            "loyalty_tier": {"type": "string", "enum": ["bronze", "silver", "gold"], "description": "Loyalty tier."},
            "signed_up_at": {"type": "integer", "description": "When the customer signed up (epoch ms)."},
        }),
        &["customer_id", "name", "email", "country", "segment", "loyalty_tier"],
    )
}

fn item_schema() -> Value {
    json_schema(
        "Item",
        "A sellable item.",
        json!({
            "sku": {"type": "string", "description": "Stock keeping unit, SKU-<CATEGORY>-<NNN>."},
            "name": {"type": "string", "description": "Display name."},
            "category": {"type": "string", "description": "Category, e.g. electronics or garden."},
            "unit_price": {"type": "number", "minimum": 0, "description": "List price in EUR, VAT included."},
            "currency": {"type": "string", "description": "ISO 4217 currency of the price."},
        }),
        &["sku", "name", "category", "unit_price", "currency"],
    )
}

fn stock_movement_schema() -> Value {
    json_schema(
        "StockMovement",
        "A change to a SKU's stock in a warehouse.",
        json!({
            "movement_id": {"type": "string", "description": "The movement's id."},
            "sku": {"type": "string", "description": "The item (inventory.items)."},
            "warehouse": {"type": "string", "description": "The warehouse, e.g. AMS-1."},
            "quantity": {"type": "integer", "description": "Items added (positive) or taken (negative)."},
            "reason": {"type": "string", "enum": ["reservation", "restock", "adjustment"], "description": "Why."},
            "order_id": {"type": ["string", "null"], "description": "The order a reservation is for."},
            "moved_at": {"type": "integer", "description": "When it happened (epoch ms)."},
        }),
        &["movement_id", "sku", "warehouse", "quantity", "reason", "moved_at"],
    )
}

/// The demo's data contracts, by the product whose port enforces each.
const CONTRACTS: [(&str, &str); 4] = [
    ("customers.profiles", include_str!("../demo/contracts/customers-profiles.odcs.yaml")),
    ("orders.placed", include_str!("../demo/contracts/orders-placed.odcs.yaml")),
    ("payments.transactions", include_str!("../demo/contracts/payments-transactions.odcs.yaml")),
    ("shipping.shipments", include_str!("../demo/contracts/shipping-shipments.odcs.yaml")),
];

/// The SQL sources over the source topics, and the persistent queries behind the derived products.
/// `IF NOT EXISTS` makes every statement a no-op the second time.
const SQL_SOURCES: &str = "
CREATE TABLE IF NOT EXISTS CUSTOMERS (CUSTOMER_ID STRING PRIMARY KEY, NAME STRING, EMAIL STRING, COUNTRY STRING,
    SEGMENT STRING, LOYALTY_TIER STRING)
  WITH (KAFKA_TOPIC='customers.profiles', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');
CREATE STREAM IF NOT EXISTS ORDERS (ORDER_ID STRING KEY, CUSTOMER_ID STRING, CHANNEL STRING, CURRENCY STRING,
    TOTAL_AMOUNT DOUBLE, PLACED_AT TIMESTAMP)
  WITH (KAFKA_TOPIC='orders.placed', KEY_FORMAT='KAFKA', VALUE_FORMAT='AVRO');
CREATE STREAM IF NOT EXISTS PAYMENTS (PAYMENT_ID STRING KEY, ORDER_ID STRING, AMOUNT DOUBLE, CURRENCY STRING,
    METHOD STRING, STATUS STRING)
  WITH (KAFKA_TOPIC='payments.transactions', KEY_FORMAT='KAFKA', VALUE_FORMAT='AVRO');
";

/// A product derived with SQL: the statement that creates its stream or table, and its catalog entry.
struct DerivedDef {
    id: &'static str,
    /// The SQL source the statement creates.
    source: &'static str,
    sql: &'static str,
    name: &'static str,
    description: &'static str,
    documentation: &'static str,
    quality_tier: &'static str,
    tags: &'static [&'static str],
    /// The fields of the output's schema: (field, JSON type, doc).
    fields: &'static [(&'static str, &'static str, &'static str)],
}

const DERIVED: [DerivedDef; 2] = [
    DerivedDef {
        id: "orders.enriched",
        source: "ORDERS_ENRICHED",
        sql: "CREATE STREAM IF NOT EXISTS ORDERS_ENRICHED
  WITH (KAFKA_TOPIC='orders.enriched', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON', PARTITIONS=3) AS
  SELECT O.CUSTOMER_ID AS CUSTOMER_ID, O.ORDER_ID AS ORDER_ID, O.CHANNEL AS CHANNEL, O.TOTAL_AMOUNT AS TOTAL_AMOUNT,
         O.CURRENCY AS CURRENCY, C.NAME AS CUSTOMER_NAME, C.COUNTRY AS COUNTRY, C.SEGMENT AS SEGMENT,
         C.LOYALTY_TIER AS LOYALTY_TIER
  FROM ORDERS O JOIN CUSTOMERS C ON O.CUSTOMER_ID = C.CUSTOMER_ID
  EMIT CHANGES;",
        name: "Orders enriched with customers",
        description: "Every order with the customer's name, country, segment and loyalty tier joined in: the \
                      starting point for sales analytics by market and segment.",
        documentation: "# Orders enriched with customers\n\nA stream-table join of `orders.placed` with the \
                        latest `customers.profiles` at the time of the order, keyed by `CUSTOMER_ID`. \
                        Orders without a known customer are left out.",
        quality_tier: "curated",
        tags: &["orders", "customers", "sales", "derived"],
        fields: &[
            ("CUSTOMER_ID", "string", "The customer."),
            ("ORDER_ID", "string", "The order."),
            ("CHANNEL", "string", "Where it was placed."),
            ("TOTAL_AMOUNT", "number", "Order total, VAT included."),
            ("CURRENCY", "string", "ISO 4217 currency."),
            ("CUSTOMER_NAME", "string", "The customer's name (personal data)."),
            ("COUNTRY", "string", "The customer's country."),
            ("SEGMENT", "string", "consumer or business."),
            ("LOYALTY_TIER", "string", "bronze, silver or gold."),
        ],
    },
    DerivedDef {
        id: "payments.volume-by-method",
        source: "PAYMENT_VOLUME_BY_METHOD",
        sql: "CREATE TABLE IF NOT EXISTS PAYMENT_VOLUME_BY_METHOD
  WITH (KAFKA_TOPIC='payments.volume-by-method', KEY_FORMAT='JSON', VALUE_FORMAT='JSON', PARTITIONS=1) AS
  SELECT METHOD, WINDOWSTART AS WINDOW_START, WINDOWEND AS WINDOW_END, COUNT(*) AS PAYMENTS, SUM(AMOUNT) AS AMOUNT
  FROM PAYMENTS WINDOW TUMBLING (SIZE 1 MINUTE)
  WHERE STATUS = 'captured'
  GROUP BY METHOD
  EMIT CHANGES;",
        name: "Captured payment volume per method per minute",
        description: "How many payments were captured, and for how much, per payment method in each \
                      one-minute window; updated with every payment.",
        documentation: "# Captured payment volume per method per minute\n\nA windowed aggregate (tumbling, \
                        one minute) over `payments.transactions`, captured payments only. Each update \
                        replaces the previous value of its (method, window).",
        quality_tier: "curated",
        tags: &["payments", "finance", "aggregate", "derived"],
        fields: &[
            ("METHOD", "string", "The payment method."),
            ("WINDOW_START", "integer", "Start of the window (epoch ms)."),
            ("WINDOW_END", "integer", "End of the window (epoch ms)."),
            ("PAYMENTS", "integer", "Captured payments in the window."),
            ("AMOUNT", "number", "Sum of the captured amounts (EUR)."),
        ],
    },
];

/// Pending access requests: (requester, product, consuming team, purpose).
const ACCESS_REQUESTS: [(&str, &str, &str, &str); 2] = [
    (
        "erin",
        "customers.profiles",
        "shipping",
        "Print the recipient's name on shipping labels and notify them by e-mail.",
    ),
    (
        "bob",
        "orders.enriched",
        "payments",
        "Fraud scoring: compare payment amounts with the customer's segment and country.",
    ),
];

// ---------------------------------------------------------------------------------------------------
// Setup: create what is missing, through the REST API.

/// The demo's REST calls, each made as a named person signed in with their token.
struct Api {
    clients: BTreeMap<String, Client>,
    anonymous: Client,
}

impl Api {
    fn new(url: &str, tokens: &BTreeMap<String, String>) -> Api {
        let clients = tokens.iter().map(|(name, token)| (name.clone(), Client::with_token(url, Some(token)))).collect();
        Api { clients, anonymous: Client::new(url) }
    }

    fn client(&self, actor: &str) -> &Client {
        self.clients.get(actor).unwrap_or(&self.anonymous)
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.client(ADMIN).get(path)
    }

    fn post(&self, actor: &str, path: &str, body: &Value) -> Result<Value> {
        let bytes = serde_json::to_vec(body)?;
        self.client(actor).send("POST", path, actor, Some(("application/json", &bytes)))
    }

    fn put(&self, actor: &str, path: &str, body: &Value) -> Result<Value> {
        let bytes = serde_json::to_vec(body)?;
        self.client(actor).send("PUT", path, actor, Some(("application/json", &bytes)))
    }

    fn post_yaml(&self, actor: &str, path: &str, yaml: &str) -> Result<Value> {
        self.client(actor).send("POST", path, actor, Some(("application/yaml", yaml.as_bytes())))
    }

    fn ksql(&self, statements: &str) -> Result<Value> {
        // Derived products start from the beginning of their sources, so they hold history at once.
        self.post(ADMIN, "/ksql", &json!({"ksql": statements, "streamsProperties": {"auto.offset.reset": "earliest"}}))
    }

    /// Records in a topic (the sum of its partitions' end offsets; the demo's topics are never trimmed).
    fn record_count(&self, topic: &str) -> Result<u64> {
        let description = self.get(&format!("/api/v1/topics/{}", encode(topic)))?;
        let partitions = description["partitions"].as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(partitions.iter().map(|p| p["latest_offset"].as_u64().unwrap_or(0)).sum())
    }

    fn produce(&self, topic: &str, records: &[Value]) -> Result<()> {
        for chunk in records.chunks(500) {
            self.post(ADMIN, &format!("/api/v1/topics/{}/records", encode(topic)), &Value::from(chunk.to_vec()))?;
        }
        Ok(())
    }
}

fn names(list: &Value, field: &str, key: &dyn Fn(&Value) -> Option<String>) -> BTreeSet<String> {
    list[field].as_array().map(|items| items.iter().filter_map(key).collect()).unwrap_or_default()
}

fn setup(api: &Api) -> Result<Summary> {
    let mut created = Vec::new();

    let domains = names(&api.get("/api/v1/domains")?, "domains", &|d| d["spec"]["name"].as_str().map(String::from));
    for domain in DOMAINS.iter().filter(|d| !domains.contains(d.name)) {
        api.post(
            ADMIN,
            "/api/v1/domains",
            &json!({
                "name": domain.name, "description": domain.description, "owningTeam": domain.team,
                "contact": domain.contact,
                "members": [{"user": domain.owner, "role": "owner"}, {"user": domain.member, "role": "member"}],
            }),
        )
        .with_context(|| format!("creating the domain '{}'", domain.name))?;
        created.push(format!("domain {}", domain.name));
    }

    let topics = names(&api.get("/api/v1/topics")?, "topics", &|t| t.as_str().map(String::from));
    for source in SOURCES.iter().filter(|s| !topics.contains(s.id)) {
        let policy = if source.compacted { "compact" } else { "delete" };
        api.post(
            ADMIN,
            "/api/v1/topics",
            &json!({"name": source.id, "partitions": source.partitions, "config": {"cleanup.policy": policy}}),
        )
        .with_context(|| format!("creating the topic '{}'", source.id))?;
        created.push(format!("topic {}", source.id));
    }

    // Registering the same schema again returns its existing id and adds no version.
    for source in &SOURCES {
        let schema_type = match source.kind {
            SchemaKind::Avro => "AVRO",
            SchemaKind::Json => "JSON",
        };
        let body = json!({"schemaType": schema_type, "schema": (source.schema)().to_string()});
        api.post(ADMIN, &format!("/registry/subjects/{}/versions", encode(&subject(source.id))), &body)
            .with_context(|| format!("registering the schema of '{}'", source.id))?;
    }

    let existing = products(api)?;
    for source in &SOURCES {
        let domain = domain_of(source.id);
        let owner = owner_of(domain);
        if !existing.contains_key(source.id) {
            let format = match source.kind {
                SchemaKind::Avro => "avro",
                SchemaKind::Json => "json",
            };
            let spec = json!({
                "id": source.id, "name": source.name, "owner": owner, "description": source.description,
                "documentation": source.documentation, "qualityTier": source.quality_tier,
                "slaTier": source.sla_tier, "freshnessObjective": source.freshness, "tags": source.tags,
                "version": "1.0.0",
                "outputPorts": [{
                    "name": "events", "version": "1.0.0", "description": source.description,
                    "topic": source.id, "schemaSubject": subject(source.id), "format": format,
                }],
            });
            api.post(owner, "/api/v1/products", &spec)
                .with_context(|| format!("creating the product '{}'", source.id))?;
            created.push(format!("product {}", source.id));
        }
        publish_if_draft(api, owner, source.id, existing.get(source.id).map(String::as_str))?;
        // Event streams keep flowing past a bad record: it waits in the dead letters with why. Reference
        // data (compacted: customers, SKUs) is all or nothing: a bad record refuses its request.
        let policy = if source.compacted { "reject" } else { "dead-letter" };
        api.put(owner, &format!("/api/v1/products/{}/governance", encode(source.id)), &json!({"policy": policy}))
            .with_context(|| format!("setting the invalid-record policy of '{}'", source.id))?;
    }

    // Data contracts (crates/weft/demo/contracts, ODCS v3), attached to their products' ports: every
    // record is checked against them as it is written, and the generators' defective events end in
    // the dead letters with the rule they broke. Applying the same file again changes nothing.
    for (product, yaml) in CONTRACTS {
        let owner = owner_of(domain_of(product));
        let applied = api
            .post_yaml(owner, "/api/v1/contracts", yaml)
            .with_context(|| format!("applying the contract of '{product}'"))?;
        let contract = &applied["contract"];
        let path = format!("/api/v1/products/{}/contract", encode(product));
        let current = api.get(&path)?;
        if current["contract"]["id"] != contract["id"] || current["contract"]["version"] != contract["version"] {
            api.put(owner, &path, &json!({"id": contract["id"], "version": contract["version"]}))
                .with_context(|| format!("attaching its contract to '{product}'"))?;
            created.push(format!("contract {} on {product}", contract["id"].as_str().unwrap_or_default()));
        }
    }

    // Global policies, once (an admin's later changes stay): set on a mesh whose sources already
    // publish, as a platform team would introduce them, so the Governance page lists what they find
    // (an authoritative product without a contract); the derived products below publish under them.
    if api.get("/api/v1/governance/policies")?["version"] == 0 {
        api.put(ADMIN, "/api/v1/governance/policies", &demo_policies()).context("setting the global policies")?;
        created.push("global policies".to_string());
    }

    // Reference data, once, after the products: their ports decide how records are written. The
    // generators only ever refer to these customers and SKUs.
    if api.record_count("customers.profiles")? == 0 {
        let now = now_ms();
        let records: Vec<Value> = (1..=CUSTOMERS).map(|n| keyed(&customer_id(n), customer(n, now))).collect();
        api.produce("customers.profiles", &records)?;
        created.push(format!("{CUSTOMERS} customers"));
    }
    if api.record_count("inventory.items")? == 0 {
        let records: Vec<Value> = items().iter().map(|item| keyed(&item.sku, item.to_json())).collect();
        api.produce("inventory.items", &records)?;
        created.push(format!("{} SKUs", records.len()));
    }

    api.ksql(SQL_SOURCES).context("declaring the SQL sources over the source topics")?;
    for derived in &DERIVED {
        api.ksql(derived.sql).with_context(|| format!("creating the SQL query behind '{}'", derived.id))?;
        let owner = owner_of(domain_of(derived.id));
        if !existing.contains_key(derived.id) {
            create_derived(api, owner, derived)?;
            created.push(format!("derived product {}", derived.id));
        }
        publish_if_draft(api, owner, derived.id, existing.get(derived.id).map(String::as_str))?;
    }

    // A couple of requests waiting for their owners' decision, each made once (any status counts, so a
    // request decided in the web app is not asked again on the next start).
    for (requester, product, consumer, purpose) in ACCESS_REQUESTS {
        let path = format!("/api/v1/access-requests?requester={}&product={}", encode(requester), encode(product));
        let asked = api.get(&path)?["requests"].as_array().is_some_and(|requests| !requests.is_empty());
        if !asked {
            api.post(
                requester,
                &format!("/api/v1/products/{}/access-requests", encode(product)),
                &json!({"purpose": purpose, "consumer": consumer}),
            )
            .with_context(|| format!("requesting access to '{product}' as {requester}"))?;
            created.push(format!("access request of {requester} for {product}"));
        }
    }

    let products = products(api)?.len();
    let next_order = api.record_count("orders.placed")? + 1;
    Ok(Summary { created, products, next_order })
}

/// The demo's global policies (see `weft_mesh::policies` for the document).
fn demo_policies() -> Value {
    json!({
        "requiredMetadata": {"fields": ["description", "owner"], "enforcement": "block"},
        "minimumCompatibility": {"level": "BACKWARD", "enforcement": "block"},
        "classification": {"restricted": ["pii"], "enforcement": "warn"},
        "naming": {"productId": "[a-z][a-z0-9-]*\\.[a-z][a-z0-9-]*", "topic": "[a-z][a-z0-9._-]*", "enforcement": "warn"},
        "contractRequired": {"qualityTiers": ["authoritative"], "enforcement": "block"},
    })
}

/// Product id -> status.
fn products(api: &Api) -> Result<std::collections::BTreeMap<String, String>> {
    let list = api.get("/api/v1/products")?;
    let items = list["products"].as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|p| {
            let id = p["spec"]["id"].as_str()?;
            Some((id.to_string(), p["lifecycle"]["status"].as_str().unwrap_or("draft").to_string()))
        })
        .collect())
}

fn publish_if_draft(api: &Api, owner: &str, id: &str, status: Option<&str>) -> Result<()> {
    if matches!(status, None | Some("draft")) {
        api.post(owner, &format!("/api/v1/products/{}/publish", encode(id)), &json!({}))
            .with_context(|| format!("publishing '{id}'"))?;
    }
    Ok(())
}

/// A derived product through `POST /api/v1/products/from-sql`, which takes its input ports and field
/// lineage from the query; then the metadata from-sql does not take, and a documented schema for its
/// JSON values (the engine registers schemas only for AVRO and JSON_SR outputs).
fn create_derived(api: &Api, owner: &str, derived: &DerivedDef) -> Result<()> {
    let mut properties = serde_json::Map::new();
    for (field, ty, doc) in derived.fields {
        properties.insert((*field).to_string(), json!({"type": [ty, "null"], "description": doc}));
    }
    let schema = json_schema(derived.source, derived.description, Value::Object(properties), &[]);
    api.post(
        ADMIN,
        &format!("/registry/subjects/{}/versions", encode(&subject(derived.id))),
        &json!({"schemaType": "JSON", "schema": schema.to_string()}),
    )
    .with_context(|| format!("registering the schema of '{}'", derived.id))?;

    let request = json!({
        "source": derived.source, "id": derived.id, "domain": domain_of(derived.id), "name": derived.name,
        "owner": owner, "description": derived.description, "qualityTier": derived.quality_tier,
        "tags": derived.tags,
    });
    let made = api
        .post(owner, "/api/v1/products/from-sql", &request)
        .with_context(|| format!("creating the product '{}' from SQL", derived.id))?;
    let mut spec = made["product"]["spec"].clone();
    let generated = spec["documentation"].as_str().unwrap_or_default().to_string();
    spec["documentation"] = format!("{}\n\n{generated}", derived.documentation).into();
    spec["slaTier"] = "silver".into();
    spec["freshnessObjective"] = "1m".into();
    let revision = made["product"]["revision"].as_u64().unwrap_or(1);
    api.put(owner, &format!("/api/v1/products/{}?ifRevision={revision}", encode(derived.id)), &spec)
        .with_context(|| format!("completing the metadata of '{}'", derived.id))?;
    Ok(())
}

fn subject(topic: &str) -> String {
    format!("{topic}-value")
}

fn domain_of(id: &str) -> &str {
    id.split_once('.').map_or(id, |(domain, _)| domain)
}

fn keyed(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value, "headers": {"producer": "weft-demo"}})
}

// ---------------------------------------------------------------------------------------------------
// Reference data, derived from indexes so every start agrees on it without reading it back.

const CUSTOMERS: u64 = 240;
const FIRST_NAMES: [&str; 24] = [
    "Emma", "Liam", "Sofia", "Noah", "Mila", "Lucas", "Julia", "Finn", "Sara", "Daan", "Lena", "Mateo", "Yara",
    "Elias", "Nora", "Hugo", "Amira", "Jonas", "Chloe", "Omar", "Ines", "Felix", "Zoe", "Ravi",
];
const LAST_NAMES: [&str; 20] = [
    "de Vries", "Jansen", "Müller", "Schmidt", "Dubois", "Martin", "Rossi", "Bianchi", "García", "López", "Novak",
    "Kowalski", "Nielsen", "Larsen", "O'Brien", "Murphy", "Silva", "Costa", "Bakker", "Visser",
];
const COUNTRIES: [&str; 8] = ["NL", "DE", "FR", "BE", "ES", "IT", "DK", "IE"];
const WAREHOUSES: [&str; 3] = ["AMS-1", "FRA-2", "MAD-1"];
const CARRIERS: [&str; 4] = ["dhl", "ups", "dpd", "postnl"];

fn customer_id(n: u64) -> String {
    format!("c-{n:04}")
}

fn customer(n: u64, signed_up_at: i64) -> Value {
    let mut rng = Rng::new(n.wrapping_mul(0x9E37_79B9));
    let first = rng.pick(&FIRST_NAMES);
    let last = rng.pick(&LAST_NAMES);
    let email_last: String = last.chars().filter(char::is_ascii_alphabetic).collect::<String>().to_lowercase();
    json!({
        "customer_id": customer_id(n), "name": format!("{first} {last}"),
        "email": format!("{}.{email_last}{n}@example.com", first.to_lowercase()),
        "country": rng.pick(&COUNTRIES), "segment": if rng.chance(0.15) { "business" } else { "consumer" },
        "loyalty_tier": *rng.pick(&["bronze", "bronze", "silver", "gold"]),
        "signed_up_at": signed_up_at - (n as i64) * 3_600_000,
    })
}

struct Item {
    sku: String,
    name: String,
    category: &'static str,
    unit_price: f64,
}

impl Item {
    fn to_json(&self) -> Value {
        json!({"sku": self.sku, "name": self.name, "category": self.category, "unit_price": self.unit_price,
            "currency": "EUR"})
    }
}

const CATEGORIES: [(&str, &str, [&str; 6], f64); 6] = [
    ("electronics", "EL", ["Headphones", "Charger", "Smart Speaker", "Keyboard", "Webcam", "Power Bank"], 79.0),
    ("home", "HO", ["Table Lamp", "Throw Blanket", "Coffee Mug", "Cutting Board", "Vase", "Doormat"], 24.0),
    ("garden", "GA", ["Trowel", "Watering Can", "Seed Pack", "Planter", "Hose", "Pruner"], 18.0),
    ("books", "BO", ["Cookbook", "Travel Guide", "Novel", "Atlas", "Poetry", "Field Guide"], 16.0),
    ("toys", "TO", ["Puzzle", "Building Set", "Plush Bear", "Board Game", "Kite", "Yo-yo"], 22.0),
    ("sports", "SP", ["Yoga Mat", "Water Bottle", "Jump Rope", "Tennis Balls", "Cycling Gloves", "Running Cap"], 27.0),
];
const STYLES: [&str; 2] = ["Classic", "Pro"];

fn items() -> Vec<Item> {
    let mut items = Vec::new();
    for (category, code, names, base) in CATEGORIES {
        for (i, name) in names.iter().enumerate() {
            for (s, style) in STYLES.iter().enumerate() {
                let n = i * STYLES.len() + s + 1;
                let price = base * (0.6 + 0.15 * i as f64) * if s == 1 { 1.8 } else { 1.0 };
                items.push(Item {
                    sku: format!("SKU-{code}-{n:03}"),
                    name: format!("{style} {name}"),
                    category,
                    // Whole cents ending in .x9, computed in cents so no float residue (34.010000000000005)
                    // reaches the records.
                    unit_price: ((price * 100.0).round() - 1.0) / 100.0,
                });
            }
        }
    }
    items
}

// ---------------------------------------------------------------------------------------------------
// The generators.

/// A small, fast pseudo-random generator (SplitMix64): enough for plausible demo data, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn between_ms(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low).max(1) as u64) as i64
    }
}

/// Deliberately bad events, a few a minute, so that data contracts and dead letters have something to
/// catch. Each carries the header `demo-defect` naming what is wrong.
///
/// Data contracts plug in here: once the governance work adds them, these records should be refused
/// (or routed to the topic's dead letters) instead of reaching consumers.
#[derive(Clone, Copy, PartialEq)]
enum Defect {
    /// A payment with a negative amount (the schema's doc says never negative).
    NegativeAmount,
    /// An order without its required `customer_id`.
    MissingCustomer,
    /// A shipment without its required `carrier`.
    MissingCarrier,
}

impl Defect {
    fn name(self) -> &'static str {
        match self {
            Defect::NegativeAmount => "negative-amount",
            Defect::MissingCustomer => "missing-customer_id",
            Defect::MissingCarrier => "missing-carrier",
        }
    }
}

/// Events per second, on average.
const ORDERS_PER_SECOND: f64 = 3.0;
const PROFILE_UPDATES_PER_SECOND: f64 = 0.4;
const RESTOCKS_PER_SECOND: f64 = 0.5;
const DEFECTS_PER_SECOND: f64 = 3.0 / 60.0;
const TICK: Duration = Duration::from_millis(250);

struct Shipment {
    id: String,
    order_id: String,
    customer_id: String,
    carrier: &'static str,
    warehouse: &'static str,
    country: &'static str,
    /// Index into the status sequence of the status sent last.
    status: usize,
}

const SHIPMENT_STATUSES: [&str; 3] = ["label_created", "in_transit", "delivered"];

struct Generator {
    rng: Rng,
    items: Vec<Item>,
    next_order: u64,
    next_movement: u64,
    /// Orders waiting for their payment: (due, order).
    payments_due: VecDeque<(i64, Value)>,
    /// Shipments waiting for their next status: (due, shipment).
    shipments_due: Vec<(i64, Shipment)>,
    /// Fractional events carried from one tick to the next, per kind.
    carry: [f64; 4],
    /// Outgoing records per topic in this tick.
    out: Vec<(&'static str, Vec<JsonRecord>)>,
    /// This tick's defective records, each written on its own: the write path refuses those that break
    /// their product's schema, and a refusal must not take good records with it.
    defects: Vec<(&'static str, JsonRecord)>,
    /// A defect that is due but has not yet met an event of its kind: it waits for the next one, so the
    /// rate holds however the events fall into ticks.
    pending_defect: Option<Defect>,
}

impl Generator {
    fn new(next_order: u64) -> Generator {
        Generator::with_seed(next_order, now_ms() as u64 ^ (std::process::id() as u64) << 32)
    }

    fn with_seed(next_order: u64, seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            items: items(),
            next_order,
            next_movement: seed % 1_000_000_000,
            payments_due: VecDeque::new(),
            shipments_due: Vec::new(),
            carry: [0.0; 4],
            out: SOURCES.iter().map(|s| (s.id, Vec::new())).collect(),
            defects: Vec::new(),
            pending_defect: None,
        }
    }

    fn emit(&mut self, topic: &str, key: &str, value: Value, defect: Option<Defect>) {
        let mut headers = std::collections::BTreeMap::from([("producer".to_string(), Some("weft-demo".to_string()))]);
        if let Some(defect) = defect {
            headers.insert("demo-defect".to_string(), Some(defect.name().to_string()));
        }
        let record = JsonRecord { key: Some(key.into()), value: Some(value), headers, ..JsonRecord::default() };
        let Some((topic, records)) = self.out.iter_mut().find(|(t, _)| *t == topic) else { return };
        match defect {
            Some(_) => self.defects.push((topic, record)),
            None => records.push(record),
        }
    }

    /// How many events of `kind` happen in this tick at `rate` per second (randomized, averaging out).
    fn occurrences(&mut self, kind: usize, rate: f64, dt: f64) -> u32 {
        self.carry[kind] += rate * dt * (0.4 + 1.2 * self.rng.unit());
        let whole = self.carry[kind].floor();
        self.carry[kind] -= whole;
        whole as u32
    }

    /// The pending defect, when it is of `kind`; taking it clears it.
    fn take_defect(&mut self, kind: Defect) -> Option<Defect> {
        if self.pending_defect == Some(kind) {
            self.pending_defect.take()
        } else {
            None
        }
    }

    fn tick(&mut self, now: i64, dt: f64) {
        if self.occurrences(3, DEFECTS_PER_SECOND, dt) > 0 && self.pending_defect.is_none() {
            self.pending_defect =
                Some(*self.rng.pick(&[Defect::NegativeAmount, Defect::MissingCustomer, Defect::MissingCarrier]));
        }
        for _ in 0..self.occurrences(0, ORDERS_PER_SECOND, dt) {
            let missing = self.take_defect(Defect::MissingCustomer);
            self.order(now, missing);
        }
        while self.payments_due.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, order)) = self.payments_due.pop_front() {
                let negative = self.take_defect(Defect::NegativeAmount);
                self.payment(now, &order, negative);
            }
        }
        let mut shipments = std::mem::take(&mut self.shipments_due);
        let mut i = 0;
        while i < shipments.len() {
            if shipments[i].0 > now {
                i += 1;
                continue;
            }
            let (_, mut shipment) = shipments.swap_remove(i);
            let missing = self.take_defect(Defect::MissingCarrier);
            self.shipment_event(now, &shipment, missing);
            if shipment.status + 1 < SHIPMENT_STATUSES.len() {
                shipment.status += 1;
                let due = now + self.rng.between_ms(8_000, 30_000);
                self.shipments_due.push((due, shipment));
            }
        }
        self.shipments_due.append(&mut shipments);
        for _ in 0..self.occurrences(1, PROFILE_UPDATES_PER_SECOND, dt) {
            self.profile_update(now);
        }
        for _ in 0..self.occurrences(2, RESTOCKS_PER_SECOND, dt) {
            let sku = self.rng.pick(&self.items).sku.clone();
            let quantity = 20 + self.rng.below(180) as i64;
            self.movement(now, &sku, quantity, "restock", None);
        }
    }

    fn order(&mut self, now: i64, defect: Option<Defect>) {
        let order_id = format!("o-{:07}", self.next_order);
        self.next_order += 1;
        let customer = customer_id(1 + self.rng.below(CUSTOMERS));
        let mut lines = Vec::new();
        let mut total = 0.0;
        for _ in 0..1 + self.rng.below(3) {
            let item = self.rng.pick(&self.items);
            let quantity = 1 + self.rng.below(3);
            total += item.unit_price * quantity as f64;
            lines.push(json!({"sku": item.sku, "category": item.category, "quantity": quantity,
                "unit_price": item.unit_price}));
        }
        let channel = *self.rng.pick(&["web", "web", "web", "mobile", "mobile", "store"]);
        let mut order = json!({
            "order_id": order_id, "customer_id": customer, "placed_at": now, "channel": channel,
            "currency": "EUR", "items": lines, "total_amount": (total * 100.0).round() / 100.0,
        });
        if let (Some(Defect::MissingCustomer), Some(fields)) = (defect, order.as_object_mut()) {
            fields.remove("customer_id");
        }
        for line in order["items"].as_array().cloned().unwrap_or_default() {
            let sku = line["sku"].as_str().unwrap_or_default().to_string();
            let quantity = line["quantity"].as_i64().unwrap_or(1);
            self.movement(now, &sku, -quantity, "reservation", Some(&order_id));
        }
        self.emit("orders.placed", &order_id, order.clone(), defect);
        if defect.is_none() {
            let due = now + self.rng.between_ms(1_000, 4_000);
            self.payments_due.push_back((due, order));
        }
    }

    fn payment(&mut self, now: i64, order: &Value, defect: Option<Defect>) {
        let order_id = order["order_id"].as_str().unwrap_or_default().to_string();
        let customer = order["customer_id"].as_str().unwrap_or_default().to_string();
        let method = *self.rng.pick(&["card", "card", "card", "card", "paypal", "paypal", "bank_transfer", "klarna"]);
        let captured = !self.rng.chance(0.05);
        let amount = order["total_amount"].as_f64().unwrap_or(0.0);
        let amount = if defect.is_some() { -amount } else { amount };
        let payment_id = format!("p-{}", order_id.trim_start_matches("o-"));
        let value = json!({
            "payment_id": payment_id, "order_id": order_id, "customer_id": customer, "amount": amount,
            "currency": "EUR", "method": method, "status": if captured { "captured" } else { "declined" },
            "processed_at": now,
        });
        self.emit("payments.transactions", &payment_id, value, defect);
        if captured && defect.is_none() {
            let mut rng_country = Rng::new(customer.bytes().map(u64::from).sum::<u64>().wrapping_mul(0x9E37_79B9));
            let shipment = Shipment {
                id: format!("s-{}", order_id.trim_start_matches("o-")),
                order_id,
                customer_id: customer,
                carrier: CARRIERS[self.rng.below(CARRIERS.len() as u64) as usize],
                warehouse: WAREHOUSES[self.rng.below(WAREHOUSES.len() as u64) as usize],
                country: COUNTRIES[rng_country.below(COUNTRIES.len() as u64) as usize],
                status: 0,
            };
            let due = now + self.rng.between_ms(3_000, 10_000);
            self.shipments_due.push((due, shipment));
        }
    }

    fn shipment_event(&mut self, now: i64, shipment: &Shipment, defect: Option<Defect>) {
        let mut value = json!({
            "shipment_id": shipment.id, "order_id": shipment.order_id, "customer_id": shipment.customer_id,
            "carrier": shipment.carrier, "status": SHIPMENT_STATUSES[shipment.status],
            "warehouse": shipment.warehouse, "country": shipment.country, "updated_at": now,
        });
        if let (Some(Defect::MissingCarrier), Some(fields)) = (defect, value.as_object_mut()) {
            fields.remove("carrier");
        }
        let id = shipment.id.clone();
        self.emit("shipping.shipments", &id, value, defect);
    }

    fn profile_update(&mut self, now: i64) {
        let n = 1 + self.rng.below(CUSTOMERS);
        let mut profile = customer(n, now);
        profile["loyalty_tier"] = (*self.rng.pick(&["bronze", "silver", "silver", "gold"])).into();
        self.emit("customers.profiles", &customer_id(n), profile, None);
    }

    fn movement(&mut self, now: i64, sku: &str, quantity: i64, reason: &str, order_id: Option<&str>) {
        self.next_movement += 1;
        let id = format!("m-{}", self.next_movement);
        let warehouse = *self.rng.pick(&WAREHOUSES);
        let value = json!({
            "movement_id": id, "sku": sku, "warehouse": warehouse, "quantity": quantity, "reason": reason,
            "order_id": order_id, "moved_at": now,
        });
        self.emit("inventory.stock-movements", sku, value, None);
    }

    /// Writes this tick's records, one batch per topic, then each defective record on its own.
    fn flush(&mut self, mesh: &Mesh, ctx: &RequestContext) -> Result<()> {
        for (topic, records) in &mut self.out {
            if records.is_empty() {
                continue;
            }
            let batch = std::mem::take(records);
            let count = batch.len();
            mesh.produce(ctx, topic, batch).with_context(|| format!("writing {count} records to '{topic}'"))?;
        }
        for (topic, record) in std::mem::take(&mut self.defects) {
            match mesh.produce(ctx, topic, vec![record]) {
                Ok(produced) => {
                    for outcome in produced.outcomes {
                        if let weft_mesh::Outcome::DeadLettered { violations, .. } = outcome {
                            let rules: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
                            tracing::info!(topic, ?rules, "a defective demo record went to the dead letters");
                        }
                    }
                }
                // Under the reject policy the write path refuses the record, saying why.
                Err(refused @ (MeshError::InvalidRecord { .. } | MeshError::RecordsBreakRules { .. })) => {
                    tracing::info!(topic, reason = %refused, "the write path refused a defective demo record");
                }
                Err(error) => return Err(error).with_context(|| format!("writing a record to '{topic}'")),
            }
        }
        Ok(())
    }
}

/// Writes the mesh's events until `stopping` is set. Failures (the server draining, a full disk) are
/// reported at most every ten seconds and retried with fresh events: a demo keeps going.
fn generate(mesh: &Mesh, next_order: u64, stopping: &AtomicBool) {
    let ctx = RequestContext::system("demo-generators");
    let mut generator = Generator::new(next_order);
    let mut last = Instant::now();
    let mut last_error: Option<Instant> = None;
    while !stopping.load(Ordering::SeqCst) {
        std::thread::sleep(TICK);
        let dt = last.elapsed().as_secs_f64().min(2.0);
        last = Instant::now();
        generator.tick(now_ms(), dt);
        if let Err(error) = generator.flush(mesh, &ctx) {
            if stopping.load(Ordering::SeqCst) {
                break;
            }
            if last_error.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                eprintln!("weft demo: generator: {error:#}");
                last_error = Some(Instant::now());
            }
            generator.out.iter_mut().for_each(|(_, records)| records.clear());
            generator.defects.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_data_is_stable_and_consistent() {
        let skus: BTreeSet<String> = items().into_iter().map(|i| i.sku).collect();
        assert_eq!(skus.len(), 72, "every SKU is distinct");
        assert_eq!(customer(7, 0), customer(7, 0), "a customer is the same on every start");
        assert_ne!(customer(7, 0)["email"], customer(8, 0)["email"]);
    }

    #[test]
    fn generated_events_refer_to_what_exists() {
        // Seeds the generator as a demo would (from the clock) in many ways; each must hold.
        for seed in (0..24).map(|n: u64| n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 1_700_000_000_000) {
            generated_events_of_one_seed_refer_to_what_exists(seed);
        }
    }

    fn generated_events_of_one_seed_refer_to_what_exists(seed: u64) {
        let mut generator = Generator::with_seed(1, seed);
        let skus: BTreeSet<String> = items().into_iter().map(|i| i.sku).collect();
        let mut now = 1_700_000_000_000;
        for _ in 0..400 {
            now += 250;
            generator.tick(now, 0.25);
        }
        let as_json = |r: &JsonRecord| json!({"key": r.key, "value": r.value, "headers": r.headers});
        // Every record of a topic, the defective ones (written on their own) included.
        let records = |topic: &str| -> Vec<Value> {
            let good = generator.out.iter().filter(|(t, _)| *t == topic).flat_map(|(_, r)| r.iter());
            let bad = generator.defects.iter().filter(|(t, _)| *t == topic).map(|(_, r)| r);
            good.chain(bad).map(as_json).collect()
        };
        let orders = records("orders.placed");
        let payments = records("payments.transactions");
        let shipments = records("shipping.shipments");
        assert!(
            generator.out.iter().flat_map(|(_, r)| r).all(|r| !r.headers.contains_key("demo-defect")),
            "defective records are kept apart from the batches"
        );
        // About 3 orders a second over 100 seconds.
        assert!((200..=400).contains(&orders.len()), "{} orders (seed {seed})", orders.len());
        let order_ids: BTreeSet<&str> = orders.iter().filter_map(|o| o["value"]["order_id"].as_str()).collect();
        assert_eq!(order_ids.len(), orders.len(), "order ids are unique");
        for order in &orders {
            for line in order["value"]["items"].as_array().unwrap() {
                assert!(skus.contains(line["sku"].as_str().unwrap()));
            }
            if order["headers"]["demo-defect"].is_null() {
                let customer = order["value"]["customer_id"].as_str().unwrap();
                let n: u64 = customer.trim_start_matches("c-").parse().unwrap();
                assert!((1..=CUSTOMERS).contains(&n), "{customer}");
            }
        }
        assert!(payments.len() > orders.len() * 8 / 10, "payments follow orders");
        for payment in &payments {
            assert!(order_ids.contains(payment["value"]["order_id"].as_str().unwrap()));
        }
        assert!(shipments.iter().any(|s| s["value"]["status"] == "delivered"), "shipments reach delivery");
        let defects = [&orders, &payments, &shipments]
            .iter()
            .flat_map(|records| records.iter())
            .filter(|r| !r["headers"]["demo-defect"].is_null())
            .count();
        assert!((1..=20).contains(&defects), "a few defects a minute, not none and not many: {defects} (seed {seed})");
        for payment in payments.iter().filter(|p| p["headers"]["demo-defect"] == "negative-amount") {
            assert!(payment["value"]["amount"].as_f64().unwrap() < 0.0);
        }
    }
}
