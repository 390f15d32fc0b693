//! Catalog benchmark: search latency over 100,000 products, and start-up (rebuild from the log) time.
//!
//! Run with `cargo bench -p weft-catalog --bench search` (`-- --products N` to change the size). It
//! writes generated catalog events to a real embedded log in a temporary directory, opens the catalog
//! over it (replay + index build, timed), then runs a mix of typical queries (one word, two words, a
//! word with a facet filter, a filter alone) and prints p50/p95/p99 latencies; then does the same
//! start-up with 10,000 products, the cold-start goal (under 1 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_catalog::{
    Catalog, CatalogEvent, Domain, DomainName, DomainSpec, EventEnvelope, FieldInfo, Format, InMemorySchemas,
    Lifecycle, Member, OutputPort, PortStatus, Product, ProductId, ProductSpec, QualityTier, Role, SearchRequest,
    SemVer, Status, CATALOG_TOPIC,
};
use weft_log::{EmbeddedLog, EventLog, LogOptions, TopicConfig};

const DOMAINS: usize = 50;
const TAGS: usize = 120;
const OWNERS: usize = 400;
const QUERIES: usize = 3000;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const COMMON: [&str; 40] = [
    "order",
    "customer",
    "payment",
    "invoice",
    "shipment",
    "inventory",
    "price",
    "refund",
    "account",
    "product",
    "stock",
    "warehouse",
    "carrier",
    "parcel",
    "discount",
    "coupon",
    "basket",
    "checkout",
    "session",
    "click",
    "ledger",
    "balance",
    "transfer",
    "settlement",
    "fraud",
    "risk",
    "score",
    "review",
    "rating",
    "supplier",
    "contract",
    "employee",
    "payroll",
    "tax",
    "currency",
    "exchange",
    "region",
    "store",
    "channel",
    "campaign",
];

struct Vocabulary {
    words: Vec<String>,
}

impl Vocabulary {
    fn new(rng: &mut Rng) -> Self {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ra", "te", "zu", "po", "ne", "si", "va", "do", "ri", "ba", "ge", "fu", "ha", "jo", "ly",
            "qu", "wi", "xo", "ye", "cu", "th",
        ];
        let mut words: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
        while words.len() < 5000 {
            let n = 2 + rng.below(3);
            words.push((0..n).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect());
        }
        Vocabulary { words }
    }

    /// A skewed distribution: 10% of words are from a small common set (each in roughly a quarter of
    /// the products), the rest favour the start of a 5,000-word vocabulary (each in 0.1% to 5%).
    fn word(&self, rng: &mut Rng) -> &str {
        let i = if rng.below(10) == 0 {
            rng.below(COMMON.len())
        } else {
            let rare = self.words.len() - COMMON.len();
            let upper = 1 + rng.below(rare);
            COMMON.len() + rng.below(upper)
        };
        &self.words[i]
    }

    fn sentence(&self, rng: &mut Rng, n: usize) -> String {
        (0..n).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }
}

/// Makes one query of a kind.
type QueryMaker<'a> = Box<dyn Fn(&mut Rng) -> SearchRequest + 'a>;

fn domain_name(i: usize) -> String {
    format!("domain{i:02}")
}

fn tag(i: usize) -> String {
    format!("tag{i:03}")
}

fn owner(i: usize) -> String {
    format!("user{i:03}@example.com")
}

/// Writes `products` generated products (with their domains) as catalog events to a fresh log.
fn generate(products: usize, seed: u64) -> (tempfile::TempDir, Arc<InMemorySchemas>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("open log");
    log.create_topic(CATALOG_TOPIC, TopicConfig { partitions: 1, retention_ms: None, ..TopicConfig::default() })
        .expect("create topic");
    let schemas = Arc::new(InMemorySchemas::new());
    let mut rng = Rng(seed);
    let vocabulary = Vocabulary::new(&mut rng);
    let at = 1_700_000_000_000;
    let mut batch = Vec::new();
    let flush = |batch: &mut Vec<EventEnvelope>, force: bool| {
        if batch.len() >= 1000 || (force && !batch.is_empty()) {
            let records = batch.iter().map(|e| e.to_record().expect("encode")).collect();
            log.append(CATALOG_TOPIC, 0, records).expect("append");
            batch.clear();
        }
    };
    for d in 0..DOMAINS {
        let spec = DomainSpec {
            name: DomainName::parse(&domain_name(d)).expect("domain"),
            description: vocabulary.sentence(&mut rng, 10),
            owning_team: format!("team-{d}"),
            contact: format!("team-{d}@example.com"),
            members: vec![Member { user: owner(d), role: Role::Owner }],
        };
        let event = CatalogEvent::DomainCreated { after: Domain { spec, revision: 1, created_at: at, updated_at: at } };
        batch.push(EventEnvelope { actor: "bench".into(), at, event });
    }
    for i in 0..products {
        let domain = DomainName::parse(&domain_name(rng.below(DOMAINS))).expect("domain");
        let id = ProductId::new(&domain, &format!("product-{i}")).expect("id");
        let subject = format!("{id}-value");
        let fields = (0..4 + rng.below(8))
            .map(|_| {
                let name = format!("{}_{}", vocabulary.word(&mut rng), vocabulary.word(&mut rng));
                let doc = (rng.below(2) == 0).then(|| vocabulary.sentence(&mut rng, 6));
                FieldInfo::new(name, "string", doc.as_deref())
            })
            .collect();
        schemas.register(&subject, fields);
        let mut spec = {
            let words = 2 + rng.below(2);
            let name = vocabulary.sentence(&mut rng, words);
            ProductSpec::new(id.clone(), name, owner(rng.below(OWNERS)))
        };
        let words = 15 + rng.below(15);
        spec.description = vocabulary.sentence(&mut rng, words);
        let words = 40 + rng.below(60);
        spec.documentation = vocabulary.sentence(&mut rng, words);
        let mut tags: Vec<String> = (0..1 + rng.below(3)).map(|_| tag(rng.below(TAGS))).collect();
        tags.sort();
        tags.dedup();
        spec.tags = tags;
        spec.quality_tier = Some([QualityTier::Raw, QualityTier::Curated, QualityTier::Authoritative][rng.below(3)]);
        spec.version = SemVer::new(1, rng.below(5) as u64, 0);
        spec.output_ports = vec![OutputPort {
            name: "events".into(),
            version: SemVer::new(1, 0, 0),
            description: String::new(),
            topic: format!("{id}.v1"),
            schema_subject: subject,
            format: Format::Avro,
            status: PortStatus::Active,
            contract_id: None,
            custom_properties: vec![],
            extensions: Default::default(),
        }];
        let product = Product { spec, lifecycle: Lifecycle::Draft, revision: 1, created_at: at, updated_at: at };
        batch.push(EventEnvelope { actor: "bench".into(), at, event: CatalogEvent::ProductCreated { after: product } });
        if rng.below(10) < 7 {
            let event = CatalogEvent::ProductStatusChanged {
                id,
                revision: 2,
                before: Lifecycle::Draft,
                after: Lifecycle::Published,
            };
            batch.push(EventEnvelope { actor: "bench".into(), at, event });
        }
        flush(&mut batch, false);
    }
    flush(&mut batch, true);
    log.shutdown().expect("shutdown");
    (dir, schemas)
}

fn open(dir: &std::path::Path, schemas: Arc<InMemorySchemas>) -> (Arc<EmbeddedLog>, Catalog, Duration) {
    let started = Instant::now();
    let log = EmbeddedLog::open(LogOptions::new(dir)).expect("open log");
    let catalog = Catalog::open(log.clone(), schemas).expect("open catalog");
    (log, catalog, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn report(name: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "  {name:<28} n={:<5} p50 {:>10}  p95 {:>10}  p99 {:>10}  max {:>10}",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.95)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
    );
}

fn main() {
    let mut products = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--products" {
            products = args.next().and_then(|n| n.parse().ok()).unwrap_or(products);
        }
    }

    println!("weft-catalog search benchmark");
    let started = Instant::now();
    let (dir, schemas) = generate(products, 42);
    println!("generated {products} products as catalog events in {:.2} s", started.elapsed().as_secs_f64());

    let (_log, catalog, total) = open(dir.path(), schemas);
    let stats = catalog.open_stats();
    println!(
        "load {} products ({} events): replay {} + index build {} = open {}",
        stats.products,
        stats.events,
        ms(stats.replay),
        ms(stats.index),
        ms(total)
    );

    let mut rng = Rng(7);
    let vocabulary = Vocabulary::new(&mut Rng(42));
    let word = |rng: &mut Rng| vocabulary.word(rng).to_string();
    let kinds: [(&str, QueryMaker); 4] = [
        ("one word", Box::new(|rng| SearchRequest { text: word(rng), ..SearchRequest::default() })),
        (
            "two words",
            Box::new(|rng| SearchRequest { text: format!("{} {}", word(rng), word(rng)), ..SearchRequest::default() }),
        ),
        (
            "word + facet filter",
            Box::new(|rng| {
                let mut r = SearchRequest { text: word(rng), ..SearchRequest::default() };
                match rng.below(3) {
                    0 => r.domain = Some(domain_name(rng.below(DOMAINS))),
                    1 => r.tags = vec![tag(rng.below(TAGS))],
                    _ => r.status = Some(Status::Published),
                }
                r
            }),
        ),
        (
            "facet filter only",
            Box::new(|rng| SearchRequest { domain: Some(domain_name(rng.below(DOMAINS))), ..SearchRequest::default() }),
        ),
    ];
    for _ in 0..200 {
        let (_, make) = &kinds[rng.below(kinds.len())];
        let _ = catalog.search(&make(&mut rng)).expect("search");
    }
    let mut all = Vec::new();
    let mut per_kind: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    let mut total_hits = 0usize;
    for _ in 0..QUERIES {
        let k = rng.below(kinds.len());
        let request = (kinds[k].1)(&mut rng);
        let started = Instant::now();
        let results = catalog.search(&request).expect("search");
        let elapsed = started.elapsed();
        total_hits += results.total;
        all.push(elapsed);
        per_kind[k].push(elapsed);
    }
    println!(
        "search latency over {products} products (top 20 + 5 facet counts; mean matches per query {}):",
        total_hits / QUERIES
    );
    for ((name, _), latencies) in kinds.iter().zip(per_kind) {
        report(name, latencies);
    }
    report("all queries", all);

    // A live write at this size: append to the log, apply, re-index and commit.
    let mut writes = Vec::new();
    for i in 0..50 {
        let id = catalog.products(Some(&domain_name(i % DOMAINS))).expect("list").remove(0).spec.id;
        let mut spec = catalog.product(id.as_str()).expect("product").spec;
        spec.documentation.push_str(" updated");
        let started = Instant::now();
        catalog.update_product("bench", id.as_str(), spec, None).expect("update");
        writes.push(started.elapsed());
    }
    println!("update latency (log append + apply + index commit) at {products} products:");
    report("update_product", writes);
    drop(catalog);
    drop(dir);

    let small = 10_000;
    let (dir, schemas) = generate(small, 43);
    let mut opens = Vec::new();
    for _ in 0..3 {
        let (log, catalog, total) = open(dir.path(), schemas.clone());
        let s = catalog.open_stats();
        println!(
            "rebuild {} products from the log on start: replay {} + index build {} = open {}",
            s.products,
            ms(s.replay),
            ms(s.index),
            ms(total)
        );
        opens.push(total);
        drop(catalog);
        log.shutdown().expect("shutdown");
    }
    opens.sort();
    println!("cold start with {small} products (median of 3): {} (goal: under 1 s)", ms(opens[1]));
}
