//! The registry over the real embedded log: state survives restarts and maintenance (compaction), and
//! concurrent writers get dense, distinct ids.

use std::fmt::Write as _;
use std::sync::Arc;

use weft_log::{EmbeddedLog, EventLog, LogOptions};
use weft_registry::{
    CompatibilityLevel, Mode, RegisterRequest, Registry, SchemaDefinition, SchemaId, SchemaReference, VersionSpec,
    SCHEMAS_TOPIC,
};

fn open(dir: &std::path::Path) -> (Arc<EmbeddedLog>, Registry) {
    let log = EmbeddedLog::open(LogOptions::new(dir)).expect("open log");
    let registry = Registry::open(log.clone() as Arc<dyn EventLog>).expect("open registry");
    (log, registry)
}

fn register(registry: &Registry, subject: &str, schema: SchemaDefinition) -> SchemaId {
    registry.register(subject, &RegisterRequest::from(schema)).unwrap_or_else(|e| panic!("{subject}: {e}"))
}

/// Everything observable through the public API, as text.
fn snapshot(registry: &Registry) -> String {
    let mut out = String::new();
    let state = registry.state();
    writeln!(out, "max id {}", state.max_id()).unwrap();
    writeln!(out, "config {:?} mode {:?}", state.config(None, false), state.mode(None, false)).unwrap();
    for subject in state.subjects(None, true) {
        writeln!(out, "{subject}: {:?} {:?}", state.config(Some(&subject), false), state.mode(Some(&subject), false))
            .unwrap();
        for version in state.versions(&subject, true).unwrap() {
            let v = state.version(&subject, VersionSpec::Number(version), true).unwrap();
            let live = state.version(&subject, VersionSpec::Number(version), false).is_ok();
            writeln!(out, "  v{version} id {} live {live} refs {:?} {}", v.id, v.references, v.schema).unwrap();
        }
    }
    out
}

fn populate(registry: &Registry) {
    registry.set_config(Some("orders-value"), CompatibilityLevel::FullTransitive).unwrap();
    register(
        registry,
        "orders-value",
        SchemaDefinition::avro(r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#),
    );
    register(
        registry,
        "orders-value",
        SchemaDefinition::avro(
            r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#,
        ),
    );
    let address = register(
        registry,
        "address",
        SchemaDefinition::json(r#"{"type":"object","properties":{"city":{"type":"string"}}}"#),
    );
    assert_eq!(address, 3);
    register(
        registry,
        "customer",
        SchemaDefinition::json(r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#).with_references(
            vec![SchemaReference { name: "address.json".into(), subject: "address".into(), version: 1 }],
        ),
    );
    register(registry, "scratch", SchemaDefinition::avro(r#""string""#));
    registry.delete_subject("scratch", false).unwrap();
    registry.delete_subject("scratch", true).unwrap();
    register(registry, "old", SchemaDefinition::avro(r#""bytes""#));
    registry.delete_version("old", VersionSpec::Latest, false).unwrap();
    registry.set_mode(Some("customer"), Mode::ReadOnly, false).unwrap();
    registry.set_config(None, CompatibilityLevel::Forward).unwrap();
}

#[test]
fn restart_rebuilds_identical_state() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (log, registry) = open(dir.path());
        populate(&registry);
        let snapshot = snapshot(&registry);
        log.shutdown().unwrap();
        snapshot
    };
    assert!(before.contains("max id 6"), "{before}");
    let (log, registry) = open(dir.path());
    assert_eq!(snapshot(&registry), before);
    // Ids continue after the highest one ever given, although schema 5 was hard-deleted.
    assert_eq!(register(&registry, "next", SchemaDefinition::avro(r#""float""#)), 7);
    let parsed = registry.parsed_schema(4).unwrap();
    assert!(parsed.validate_json(&serde_json::json!({"home": {"city": 1}})).is_err());
    log.shutdown().unwrap();
}

#[test]
fn state_survives_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (log, registry) = open(dir.path());
        populate(&registry);
        log.run_maintenance().unwrap();
        let snapshot = snapshot(&registry);
        log.shutdown().unwrap();
        snapshot
    };
    let (log, registry) = open(dir.path());
    assert_eq!(snapshot(&registry), before);
    log.run_maintenance().unwrap();
    let (_, latest) = log.offsets(SCHEMAS_TOPIC, 0).unwrap();
    assert!(latest > 0);
    log.shutdown().unwrap();
    drop((log, registry));
    let (log, registry) = open(dir.path());
    assert_eq!(snapshot(&registry), before);
    log.shutdown().unwrap();
}

#[test]
fn concurrent_registrations_get_distinct_dense_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (log, registry) = open(dir.path());
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    let registry = Arc::new(registry);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let registry = registry.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let schema = format!(r#"{{"type":"fixed","name":"F{t}_{i}","size":{i}}}"#);
                        let subject = if t % 2 == 0 { "shared".to_string() } else { format!("own-{t}") };
                        let id = register(&registry, &subject, SchemaDefinition::avro(&schema));
                        // Registering the same schema elsewhere reuses its id.
                        assert_eq!(register(&registry, &format!("copy-{t}"), SchemaDefinition::avro(&schema)), id);
                        id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<SchemaId> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    assert_eq!(registry.versions("shared", false).unwrap(), (1..=100).collect::<Vec<_>>());
    let before = snapshot(&registry);
    log.shutdown().unwrap();
    drop((log, registry));
    let (log, registry) = open(dir.path());
    assert_eq!(snapshot(&registry), before);
    log.shutdown().unwrap();
}

fn files_ending_with(dir: &std::path::Path, suffix: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_ending_with(&path, suffix, out);
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
}

#[test]
fn a_torn_last_write_is_dropped_whole_and_ids_stay_dense() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, registry) = open(dir.path());
        registry.set_config(None, CompatibilityLevel::None).unwrap();
        assert_eq!(register(&registry, "s", SchemaDefinition::avro(r#""int""#)), 1);
        // One batch of two records: the schema and its version.
        assert_eq!(register(&registry, "s", SchemaDefinition::avro(r#""long""#)), 2);
        log.shutdown().unwrap();
    }
    // A crash in the middle of writing the last batch leaves it torn.
    let mut logs = Vec::new();
    files_ending_with(&dir.path().join("topics").join(SCHEMAS_TOPIC), ".log", &mut logs);
    logs.sort();
    let last = logs.last().expect("a segment of the schemas topic");
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(last).unwrap().set_len(len - 5).unwrap();

    let (log, registry) = open(dir.path());
    assert_eq!(registry.versions("s", false).unwrap(), vec![1], "the torn registration is gone entirely");
    assert_eq!(registry.state().max_id(), 1);
    assert!(registry.schema_by_id(2).is_err());
    assert_eq!(register(&registry, "s", SchemaDefinition::avro(r#""string""#)), 2);
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 2]);
    log.shutdown().unwrap();
}
