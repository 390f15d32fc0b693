//! Registry tests over an in-memory event log with fault injection and compaction
//! ([`crate::test_support::MemoryLog`]); the same behaviour over the embedded log is checked in
//! `tests/embedded_log.rs`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::*;
use crate::json_schema::FormatMode;
use crate::test_support::{MemoryLog, APPEND_FAILS, APPEND_LANDS_BUT_FAILS};

fn record_schema(name: &str, fields: &[(&str, &str)]) -> SchemaDefinition {
    let fields: Vec<String> = fields.iter().map(|(n, t)| format!(r#"{{"name":"{n}","type":{t}}}"#)).collect();
    SchemaDefinition::avro(format!(r#"{{"type":"record","name":"{name}","fields":[{}]}}"#, fields.join(",")))
}

fn open(log: &Arc<MemoryLog>) -> Registry {
    Registry::open(log.clone()).unwrap()
}

fn register(registry: &Registry, subject: &str, schema: &SchemaDefinition) -> Result<SchemaId> {
    registry.register(subject, &RegisterRequest::from(schema.clone()))
}

fn code(result: Result<impl std::fmt::Debug>) -> u32 {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.status_and_code().1,
    }
}

/// Everything observable, as text, to compare states.
fn snapshot(registry: &Registry) -> String {
    let mut out = String::new();
    let state = registry.state();
    writeln!(out, "max id {}", state.max_id()).unwrap();
    writeln!(out, "config {:?} mode {:?}", state.config(None, false), state.mode(None, false)).unwrap();
    for subject in state.subjects(None, true) {
        writeln!(
            out,
            "{subject}: config {:?} mode {:?}",
            state.config(Some(&subject), false),
            state.mode(Some(&subject), false)
        )
        .unwrap();
        for version in state.versions(&subject, true).unwrap() {
            let v = state.version(&subject, VersionSpec::Number(version), true).unwrap();
            let live = state.version(&subject, VersionSpec::Number(version), false).is_ok();
            writeln!(out, "  v{version} id {} live {live} {}", v.id, v.schema).unwrap();
        }
    }
    out
}

#[test]
fn ids_are_dense_and_shared_across_subjects() {
    let log = MemoryLog::new();
    let registry = open(&log);
    let a = record_schema("A", &[("x", "\"int\"")]);
    let b = record_schema("B", &[("x", "\"int\"")]);
    let c = record_schema("C", &[("x", "\"int\"")]);
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    assert_eq!(register(&registry, "s1", &a).unwrap(), 1);
    assert_eq!(register(&registry, "s1", &b).unwrap(), 2);
    assert_eq!(register(&registry, "s2", &a).unwrap(), 1, "the same schema has one id whatever the subject");
    assert_eq!(register(&registry, "s2", &c).unwrap(), 3);
    // Registering again, even with another layout, changes nothing.
    let a_spaced =
        SchemaDefinition::avro(r#"{ "fields": [ {"type": "int", "name": "x"} ], "name": "A", "type": "record" }"#);
    assert_eq!(register(&registry, "s1", &a_spaced).unwrap(), 1);
    assert_eq!(registry.versions("s1", false).unwrap(), vec![1, 2]);
    assert_eq!(registry.versions("s2", false).unwrap(), vec![1, 2]);
    assert_eq!(registry.subjects(None, false), vec!["s1", "s2"]);
    assert_eq!(registry.subjects(Some("s2"), false), vec!["s2"]);
    let v = registry.version("s1", VersionSpec::Latest, false).unwrap();
    assert_eq!((v.version, v.id), (2, 2));
    // Read back as Avro's Java library writes the first registration (what Confluent answers).
    assert_eq!(
        registry.schema_by_id(1).unwrap().schema,
        r#"{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}"#
    );
    assert_eq!(
        registry.versions_of_id(1, false).unwrap(),
        vec![SubjectVersion { subject: "s1".into(), version: 1 }, SubjectVersion { subject: "s2".into(), version: 1 }]
    );
    assert_eq!(registry.subjects_of_id(1, false).unwrap(), vec!["s1", "s2"]);
    let listed: Vec<(String, u32, SchemaId)> =
        registry.schemas(None, false, false).into_iter().map(|s| (s.subject, s.version, s.id)).collect();
    assert_eq!(listed, vec![("s1".into(), 1, 1), ("s1".into(), 2, 2), ("s2".into(), 1, 1), ("s2".into(), 2, 3)]);
    let latest: Vec<SchemaId> = registry.schemas(Some("s2"), false, true).into_iter().map(|s| s.id).collect();
    assert_eq!(latest, vec![3]);
    assert_eq!(code(registry.schema_by_id(99)), 40403);
    assert_eq!(registry.schema_types(), vec![SchemaType::Avro, SchemaType::Json, SchemaType::Protobuf]);
}

#[test]
fn compatibility_is_enforced_on_register() {
    let log = MemoryLog::new();
    let registry = open(&log);
    let v1 = record_schema("R", &[("a", "\"int\"")]);
    let v2_bad = record_schema("R", &[("a", "\"int\""), ("b", "\"string\"")]);
    let v2_good = SchemaDefinition::avro(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#,
    );
    register(&registry, "orders-value", &v1).unwrap();
    let err = register(&registry, "orders-value", &v2_bad).unwrap_err();
    assert_eq!(err.status_and_code(), (409, 409));
    let RegistryError::IncompatibleSchema { messages, .. } = &err else { panic!() };
    assert!(messages[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "{messages:?}");
    assert!(messages.contains(&"{oldSchemaVersion: 1}".to_string()));
    assert_eq!(registry.versions("orders-value", false).unwrap(), vec![1], "nothing registered");
    assert_eq!(register(&registry, "orders-value", &v2_good).unwrap(), 2);
    // The subject's own level wins over the global one.
    registry.set_config(Some("orders-value"), CompatibilityLevel::None).unwrap();
    assert_eq!(register(&registry, "orders-value", &SchemaDefinition::avro(r#""string""#)).unwrap(), 3);
    assert_eq!(code(register(&registry, "orders-value", &SchemaDefinition::avro(r#""strin""#))), 42201);
    assert_eq!(
        code(register(&registry, "x", &SchemaDefinition::new(SchemaType::Protobuf, "syntax = \"proto3\";"))),
        42201
    );
}

#[test]
fn compatibility_checks_without_registering() {
    let registry = open(&MemoryLog::new());
    let v1 = record_schema("R", &[("a", "\"int\"")]);
    let v2_bad = record_schema("R", &[("a", "\"int\""), ("b", "\"string\"")]);
    assert!(registry.check_compatibility("new-subject", None, &v2_bad).unwrap().is_compatible);
    assert_eq!(code(registry.check_compatibility("new-subject", Some(VersionSpec::Latest), &v2_bad)), 40401);
    register(&registry, "s", &v1).unwrap();
    let result = registry.check_compatibility("s", Some(VersionSpec::Latest), &v2_bad).unwrap();
    assert!(!result.is_compatible);
    assert!(result.messages[0].contains("'/fields/1'"), "{:?}", result.messages);
    assert!(!registry.check_compatibility("s", None, &v2_bad).unwrap().is_compatible);
    assert_eq!(code(registry.check_compatibility("s", Some(VersionSpec::Number(7)), &v2_bad)), 40402);
    assert!(registry.check_compatibility("s", Some(VersionSpec::Number(1)), &v1).unwrap().is_compatible);
}

#[test]
fn soft_and_hard_deletes_follow_confluent_rules() {
    let log = MemoryLog::new();
    let registry = open(&log);
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    let a = SchemaDefinition::avro(r#""int""#);
    let b = SchemaDefinition::avro(r#""long""#);
    register(&registry, "s", &a).unwrap();
    register(&registry, "s", &b).unwrap();

    // A version must be soft-deleted before it can be hard-deleted.
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(1), true)), 40407);
    assert_eq!(registry.delete_version("s", VersionSpec::Number(1), false).unwrap(), 1);
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(1), false)), 40406);
    assert_eq!(registry.versions("s", false).unwrap(), vec![2]);
    assert_eq!(registry.versions("s", true).unwrap(), vec![1, 2]);
    assert_eq!(code(registry.version("s", VersionSpec::Number(1), false)), 40402);
    assert_eq!(registry.version("s", VersionSpec::Number(1), true).unwrap().id, 1);
    assert_eq!(registry.schema_by_id(1).unwrap().schema, "\"int\"", "soft-deleted schemas stay readable by id");
    assert_eq!(code(registry.delete_version("s", VersionSpec::Number(9), false)), 40402);

    // Re-registering a soft-deleted schema makes a new version with the same id.
    assert_eq!(register(&registry, "s", &a).unwrap(), 1);
    assert_eq!(registry.versions("s", false).unwrap(), vec![2, 3]);
    assert_eq!(registry.delete_version("s", VersionSpec::Number(1), true).unwrap(), 1);
    assert_eq!(registry.versions("s", true).unwrap(), vec![2, 3]);

    // A subject too.
    assert_eq!(code(registry.delete_subject("s", true)), 40405);
    assert_eq!(registry.delete_subject("s", false).unwrap(), vec![2, 3]);
    assert_eq!(code(registry.delete_subject("s", false)), 40404);
    assert_eq!(code(registry.versions("s", false)), 40401);
    assert_eq!(registry.subjects(None, false), Vec::<String>::new());
    assert_eq!(registry.subjects(None, true), vec!["s"]);
    assert_eq!(registry.delete_subject("s", true).unwrap(), vec![2, 3]);
    assert_eq!(code(registry.delete_subject("s", true)), 40401);
    assert_eq!(code(registry.versions("s", true)), 40401);
    assert_eq!(code(registry.schema_by_id(2)), 40403, "no version uses it any more");

    // Ids are never reused: a new schema gets a fresh id, a known one its old id; versions restart.
    let c = SchemaDefinition::avro(r#""string""#);
    assert_eq!(register(&registry, "s", &c).unwrap(), 3);
    assert_eq!(register(&registry, "s", &b).unwrap(), 2);
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 2]);
}

#[test]
fn lookup_finds_the_version_holding_a_schema() {
    let registry = open(&MemoryLog::new());
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    let a = SchemaDefinition::avro(r#""int""#);
    let b = SchemaDefinition::avro(r#""long""#);
    register(&registry, "s", &a).unwrap();
    register(&registry, "s", &b).unwrap();
    let found = registry.lookup("s", &SchemaDefinition::avro(r#"{"type": "int"}"#), false).unwrap();
    assert_eq!((found.subject.as_str(), found.version, found.id), ("s", 1, 1));
    assert_eq!(code(registry.lookup("s", &SchemaDefinition::avro(r#""string""#), false)), 40403);
    assert_eq!(code(registry.lookup("nope", &a, false)), 40401);
    assert_eq!(code(registry.lookup("s", &SchemaDefinition::avro("{"), false)), 42201);
    registry.delete_version("s", VersionSpec::Number(1), false).unwrap();
    assert_eq!(code(registry.lookup("s", &a, false)), 40403);
    assert_eq!(registry.lookup("s", &a, true).unwrap().version, 1);
}

#[test]
fn version_specs_parse_like_confluent() {
    assert_eq!("latest".parse::<VersionSpec>().unwrap(), VersionSpec::Latest);
    assert_eq!("-1".parse::<VersionSpec>().unwrap(), VersionSpec::Latest);
    assert_eq!("3".parse::<VersionSpec>().unwrap(), VersionSpec::Number(3));
    for bad in ["0", "-2", "abc", "2147483648", ""] {
        assert_eq!(bad.parse::<VersionSpec>().unwrap_err().status_and_code(), (422, 42202), "{bad}");
    }
    assert_eq!("import".parse::<Mode>().unwrap(), Mode::Import);
    assert_eq!("WRITEONLY".parse::<Mode>().unwrap_err().status_and_code(), (422, 42204));
    assert_eq!(serde_json::to_string(&Mode::ReadWrite).unwrap(), "\"READWRITE\"");
}

#[test]
fn config_global_and_per_subject() {
    let registry = open(&MemoryLog::new());
    assert_eq!(registry.config(None, false).unwrap(), CompatibilityLevel::Backward);
    assert_eq!(code(registry.config(Some("s"), false)), 40408);
    assert_eq!(registry.config(Some("s"), true).unwrap(), CompatibilityLevel::Backward);
    registry.set_config(None, CompatibilityLevel::Full).unwrap();
    registry.set_config(Some("s"), CompatibilityLevel::ForwardTransitive).unwrap();
    assert_eq!(registry.config(Some("s"), false).unwrap(), CompatibilityLevel::ForwardTransitive);
    assert_eq!(registry.config(Some("t"), true).unwrap(), CompatibilityLevel::Full);
    assert_eq!(registry.delete_config(Some("s")).unwrap(), CompatibilityLevel::ForwardTransitive);
    assert_eq!(code(registry.config(Some("s"), false)), 40408);
    assert_eq!(code(registry.delete_config(Some("never-seen"))), 40401);
    assert_eq!(registry.delete_config(None).unwrap(), CompatibilityLevel::Full);
    assert_eq!(registry.config(None, false).unwrap(), CompatibilityLevel::Backward);
    assert_eq!(code(registry.set_config(Some(""), CompatibilityLevel::None)), 42208);
}

#[test]
fn modes_restrict_writes_and_import_takes_ids() {
    let log = MemoryLog::new();
    let registry = open(&log);
    let a = SchemaDefinition::avro(r#""int""#);
    register(&registry, "s", &a).unwrap();

    registry.set_mode(Some("s"), Mode::ReadOnly, false).unwrap();
    assert_eq!(code(register(&registry, "s", &SchemaDefinition::avro(r#""long""#))), 42205);
    assert_eq!(code(registry.delete_subject("s", false)), 42205);
    assert_eq!(registry.mode(Some("s"), false).unwrap(), Mode::ReadOnly);
    assert_eq!(registry.mode(None, false).unwrap(), Mode::ReadWrite);
    assert_eq!(code(registry.mode(Some("t"), false)), 40409);
    assert_eq!(registry.mode(Some("t"), true).unwrap(), Mode::ReadWrite);
    assert_eq!(registry.delete_mode(Some("s")).unwrap(), Mode::ReadOnly);
    assert_eq!(code(registry.delete_mode(Some("s"))), 40409);

    // IMPORT needs an empty registry unless forced.
    assert_eq!(code(registry.set_mode(None, Mode::Import, false)), 42205);
    registry.set_mode(Some("imported"), Mode::Import, false).unwrap();
    let mut request = RegisterRequest::from(SchemaDefinition::avro(r#""string""#));
    request.id = Some(100);
    request.version = Some(5);
    assert_eq!(registry.register("imported", &request).unwrap(), 100);
    let v = registry.version("imported", VersionSpec::Latest, false).unwrap();
    assert_eq!((v.version, v.id), (5, 100));
    // An id holds one schema forever.
    let mut clash = RegisterRequest::from(SchemaDefinition::avro(r#""bytes""#));
    clash.id = Some(100);
    assert_eq!(code(registry.register("imported", &clash)), 42205);
    assert!(registry
        .register("imported", &clash)
        .unwrap_err()
        .to_string()
        .contains("Overwrite new schema with id 100"));
    // A schema already registered keeps its id.
    let mut other_id = RegisterRequest::from(SchemaDefinition::avro(r#""string""#));
    other_id.id = Some(7);
    assert_eq!(code(registry.register("imported", &other_id)), 42207);
    assert_eq!(code(registry.register("imported2", &other_id)), 42207);
    // Outside IMPORT, ids cannot be chosen, and new ids continue after the highest imported one.
    assert_eq!(code(registry.register("s", &clash)), 42205);
    assert_eq!(register(&registry, "s", &SchemaDefinition::avro(r#""long""#)).unwrap(), 101);
    registry.set_mode(None, Mode::Import, true).unwrap();
    assert_eq!(registry.mode(Some("t"), true).unwrap(), Mode::Import);
}

#[test]
fn references_resolve_and_protect_what_they_point_to() {
    let registry = open(&MemoryLog::new());
    let address = SchemaDefinition::avro(
        r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#,
    );
    let address_id = register(&registry, "address", &address).unwrap();
    let customer = SchemaDefinition::avro(
        r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"Address"}]}"#,
    )
    .with_references(vec![SchemaReference {
        name: "com.acme.Address".into(),
        subject: "address".into(),
        version: 1,
    }]);
    let customer_id = register(&registry, "customer", &customer).unwrap();
    assert_eq!(customer_id, address_id + 1);
    let stored = registry.version("customer", VersionSpec::Latest, false).unwrap();
    assert_eq!(stored.references, customer.references);
    assert_eq!(registry.referenced_by("address", VersionSpec::Number(1)).unwrap(), vec![customer_id]);
    assert_eq!(code(registry.delete_version("address", VersionSpec::Number(1), false)), 42206);
    assert_eq!(code(registry.delete_subject("address", false)), 42206);
    // The parsed schema validates payloads, using the referenced type.
    let parsed = registry.parsed_schema(customer_id).unwrap();
    parsed.validate_json(&serde_json::json!({"home": {"city": "Oslo"}})).unwrap();
    assert_eq!(parsed.validate_json(&serde_json::json!({"home": {"city": 1}})).unwrap_err().path, "/home/city");
    // A reference to nothing is an invalid schema.
    let dangling = customer.clone().with_references(vec![SchemaReference {
        name: "com.acme.Address".into(),
        subject: "address".into(),
        version: 9,
    }]);
    assert_eq!(code(register(&registry, "customer2", &dangling)), 42201);
    // Once the referrer is gone, the referenced version can go too.
    registry.delete_subject("customer", false).unwrap();
    assert_eq!(registry.referenced_by("address", VersionSpec::Number(1)).unwrap(), Vec::<SchemaId>::new());
    registry.delete_version("address", VersionSpec::Number(1), false).unwrap();
    assert_eq!(
        code(registry.delete_version("address", VersionSpec::Number(1), true)),
        42206,
        "still referenced by a soft-deleted version"
    );
    registry.delete_subject("customer", true).unwrap();
    registry.delete_version("address", VersionSpec::Number(1), true).unwrap();
}

#[test]
fn json_schemas_register_and_dedup() {
    let registry = open(&MemoryLog::new());
    let a = SchemaDefinition::json(
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
    );
    let a_reordered = SchemaDefinition::json(
        r#"{"additionalProperties":false, "properties":{"a":{"type":"string"}}, "type":"object"}"#,
    );
    let ab = SchemaDefinition::json(
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"#,
    );
    assert_eq!(register(&registry, "j", &a).unwrap(), 1);
    assert_eq!(register(&registry, "j", &a_reordered).unwrap(), 1);
    assert_eq!(register(&registry, "j", &ab).unwrap(), 2);
    registry.set_config(Some("j"), CompatibilityLevel::Forward).unwrap();
    // Old readers with a closed content model cannot read a property they do not know.
    let added = SchemaDefinition::json(
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{}},"additionalProperties":false}"#,
    );
    let err = register(&registry, "j", &added).unwrap_err();
    let RegistryError::IncompatibleSchema { messages, .. } = err else { panic!() };
    assert!(messages[0].contains("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"), "{messages:?}");
    // Same text under another type is another schema.
    let same_text_avro = SchemaDefinition::avro(r#"{"type":"string"}"#);
    let same_text_json = SchemaDefinition::json(r#"{"type":"string"}"#);
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    assert_ne!(register(&registry, "x", &same_text_avro).unwrap(), register(&registry, "y", &same_text_json).unwrap());
    assert_eq!(registry.version("y", VersionSpec::Latest, false).unwrap().schema_type, SchemaType::Json);
}

#[test]
fn restart_rebuilds_identical_state_even_after_compaction() {
    let log = MemoryLog::new();
    let before = {
        let registry = open(&log);
        registry.set_config(None, CompatibilityLevel::None).unwrap();
        registry.set_config(Some("b"), CompatibilityLevel::BackwardTransitive).unwrap();
        registry.set_mode(Some("c"), Mode::ReadOnly, false).unwrap();
        for (subject, schema) in
            [("a", r#""int""#), ("a", r#""long""#), ("b", r#""int""#), ("b", r#""long""#), ("d", r#""bytes""#)]
        {
            register(&registry, subject, &SchemaDefinition::avro(schema)).unwrap();
        }
        registry.delete_version("a", VersionSpec::Number(1), false).unwrap();
        registry.delete_version("a", VersionSpec::Number(1), true).unwrap();
        registry.delete_subject("d", false).unwrap();
        registry.delete_subject("d", true).unwrap();
        registry.delete_config(None).unwrap();
        snapshot(&registry)
    };
    assert!(before.contains("max id 3"), "{before}");
    assert_eq!(snapshot(&open(&log)), before);
    let records = log.record_count(SCHEMAS_TOPIC);
    log.compact(SCHEMAS_TOPIC);
    assert!(log.record_count(SCHEMAS_TOPIC) < records);
    let registry = open(&log);
    assert_eq!(snapshot(&registry), before);
    // Schema 3 ("bytes") was hard-deleted and is the highest id: it is still never reused.
    assert_eq!(register(&registry, "e", &SchemaDefinition::avro(r#""float""#)).unwrap(), 4);
}

#[test]
fn failed_appends_leave_the_state_unchanged() {
    let log = MemoryLog::new();
    let registry = open(&log);
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    log.next_append.store(APPEND_FAILS, Ordering::SeqCst);
    assert_eq!(code(register(&registry, "s", &SchemaDefinition::avro(r#""int""#))), 50001);
    assert_eq!(code(registry.versions("s", false)), 40401);
    assert_eq!(
        register(&registry, "s", &SchemaDefinition::avro(r#""long""#)).unwrap(),
        1,
        "the failed write used no id"
    );

    // A write that landed although the log reported an error is picked up before the next write.
    log.next_append.store(APPEND_LANDS_BUT_FAILS, Ordering::SeqCst);
    assert_eq!(code(register(&registry, "s", &SchemaDefinition::avro(r#""string""#))), 50001);
    assert_eq!(register(&registry, "s", &SchemaDefinition::avro(r#""string""#)).unwrap(), 2, "already registered");
    assert_eq!(register(&registry, "s", &SchemaDefinition::avro(r#""bytes""#)).unwrap(), 3);
    assert_eq!(registry.versions("s", false).unwrap(), vec![1, 2, 3]);
    assert_eq!(snapshot(&open(&log)), snapshot(&registry));
}

#[test]
fn concurrent_registrations_get_distinct_dense_ids() {
    let registry = Arc::new(open(&MemoryLog::new()));
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let registry = registry.clone();
            std::thread::spawn(move || {
                (0..20)
                    .map(|i| {
                        let schema =
                            SchemaDefinition::avro(format!(r#"{{"type":"enum","name":"E{t}_{i}","symbols":["A"]}}"#));
                        // Half the threads share a subject, so versions race too.
                        let subject = if t % 2 == 0 { "shared".to_string() } else { format!("own-{t}") };
                        register(&registry, &subject, &schema).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<SchemaId> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=160).collect::<Vec<_>>());
    assert_eq!(registry.versions("shared", false).unwrap(), (1..=80).collect::<Vec<_>>());
}

#[test]
fn apply_is_a_pure_transition() {
    let mut state = RegistryState::new();
    let events = [
        RegistryEvent::SchemaCreated { id: 1, schema: SchemaDefinition::avro("\"int\""), text: None },
        RegistryEvent::VersionWritten { subject: "s".into(), version: 1, id: 1, deleted: false },
        RegistryEvent::VersionWritten { subject: "s".into(), version: 1, id: 1, deleted: true },
        RegistryEvent::ConfigSet { subject: Some("s".into()), compatibility: CompatibilityLevel::Full },
    ];
    for event in &events {
        state.apply(event);
    }
    assert_eq!(state.versions("s", true).unwrap(), vec![1]);
    assert_eq!(code(state.versions("s", false)), 40401);
    assert_eq!(state.config(Some("s"), false).unwrap(), CompatibilityLevel::Full);
    // Planning does not change the state.
    let (id, planned) = state.plan_register("t", &RegisterRequest::from(SchemaDefinition::avro("\"int\""))).unwrap();
    assert_eq!(id, 1);
    assert_eq!(planned, vec![RegistryEvent::VersionWritten { subject: "t".into(), version: 1, id: 1, deleted: false }]);
    assert_eq!(code(state.versions("t", true)), 40401);
    state.apply(&RegistryEvent::VersionPurged { subject: "s".into(), version: 1 });
    assert_eq!(state.subjects(None, true), Vec::<String>::new());
}

#[test]
fn responses_serialize_like_confluent() {
    let registered = RegisteredSchema {
        subject: "s".into(),
        version: 1,
        id: 7,
        schema_type: SchemaType::Avro,
        schema: "\"int\"".into(),
        references: Vec::new(),
    };
    assert_eq!(serde_json::to_string(&registered).unwrap(), r#"{"subject":"s","version":1,"id":7,"schema":"\"int\""}"#);
    let json = SchemaInfo { schema_type: SchemaType::Json, schema: "{}".into(), references: Vec::new() };
    assert_eq!(serde_json::to_string(&json).unwrap(), r#"{"schemaType":"JSON","schema":"{}"}"#);
    let request: RegisterRequest = serde_json::from_str(
        r#"{"schema":"{}","schemaType":"JSON","references":[{"name":"a.json","subject":"a","version":1}],"id":3}"#,
    )
    .unwrap();
    assert_eq!(request.schema_type, SchemaType::Json);
    assert_eq!(request.references[0].subject, "a");
    assert_eq!(request.id, Some(3));
    let default: RegisterRequest = serde_json::from_str(r#"{"schema":"\"int\""}"#).unwrap();
    assert_eq!(default.schema_type, SchemaType::Avro);
}

#[test]
fn framed_payloads_validate_against_their_schema() {
    let registry = open(&MemoryLog::new());
    let avro_id = register(&registry, "a", &record_schema("R", &[("x", "\"int\"")])).unwrap();
    let json_id = register(&registry, "j", &SchemaDefinition::json(r#"{"type":"object","required":["x"]}"#)).unwrap();
    let avro = registry.parsed_schema(avro_id).unwrap();
    let mut payload = Vec::new();
    avro.as_avro().unwrap().encode_json(&serde_json::json!({"x": 5}), &mut payload).unwrap();
    let message = crate::wire::frame(avro_id, &payload);
    let (id, body) = crate::wire::split(&message).unwrap();
    assert_eq!(id, avro_id);
    registry.parsed_schema(id).unwrap().validate_payload(body).unwrap();
    assert!(registry.parsed_schema(id).unwrap().validate_payload(&body[..0]).is_err());
    let json = registry.parsed_schema(json_id).unwrap();
    json.validate_payload(br#"{"x": 1}"#).unwrap();
    assert!(json.validate_payload(b"{}").unwrap_err().message.contains("'x'"));
}

#[test]
fn json_schema_references_resolve_by_subject_and_version_for_validation() {
    let registry = open(&MemoryLog::new());
    let money = SchemaDefinition::json(
        r#"{"$id":"https://acme.example/money.json","type":"object","properties":{"amount":{"type":"number"}},"required":["amount"]}"#,
    );
    register(&registry, "money", &money).unwrap();
    // The address refers to money by its $id; the order refers to both, address by a relative name.
    let address = SchemaDefinition::json(
        r#"{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"},"fee":{"$ref":"https://acme.example/money.json"}}}"#,
    )
    .with_references(vec![SchemaReference {
        name: "https://acme.example/money.json".into(),
        subject: "money".into(),
        version: 1,
    }]);
    register(&registry, "address", &address).unwrap();
    let order = SchemaDefinition::json(
        r#"{"$id":"https://acme.example/orders/order.json","type":"object","properties":{"ship_to":{"$ref":"address.json"},"total":{"$ref":"https://acme.example/money.json"}}}"#,
    )
    .with_references(vec![SchemaReference { name: "address.json".into(), subject: "address".into(), version: 1 }]);
    let id = register(&registry, "order", &order).unwrap();
    let parsed = registry.parsed_schema(id).unwrap();
    parsed
        .validate_json(&serde_json::json!({"ship_to": {"zip": "12345", "fee": {"amount": 2}}, "total": {"amount": 9}}))
        .unwrap();
    let err = parsed.validate_json(&serde_json::json!({"ship_to": {"zip": "1", "fee": {"amount": 2}}})).unwrap_err();
    assert_eq!(err.path, "/ship_to/zip");
    let err = parsed.validate_json(&serde_json::json!({"ship_to": {"fee": {}}})).unwrap_err();
    assert_eq!((err.path.as_str(), err.message.as_str()), ("/ship_to/fee", "missing required property 'amount'"));
    // Without the reference, the name resolves to nothing, and the error says which $ref.
    let alone = SchemaDefinition::json(r#"{"properties":{"ship_to":{"$ref":"address.json"}}}"#);
    let err = registry.register("order2", &RegisterRequest::from(alone)).unwrap_err();
    assert_eq!(err.status_and_code().1, 42201);
    assert!(err.to_string().contains("/properties/ship_to/$ref") && err.to_string().contains("address.json"), "{err}");
}

#[test]
fn json_schema_format_asserts_unless_the_registry_follows_the_specification() {
    let schema = SchemaDefinition::json(
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"at":{"type":"string","format":"date-time"}}}"#,
    );
    let payload = serde_json::json!({"at": "yesterday"});
    let confluent = open(&MemoryLog::new());
    let id = register(&confluent, "s", &schema).unwrap();
    let err = confluent.parsed_schema(id).unwrap().validate_json(&payload).unwrap_err();
    assert_eq!((err.path.as_str(), err.message.as_str()), ("/at", r#""yesterday" is not a valid date-time (format)"#));
    let log = MemoryLog::new();
    let options =
        RegistryOptions { json_schema: crate::json_schema::JsonSchemaOptions { format: FormatMode::Specification } };
    let spec = Registry::open_with(log.clone(), options).unwrap();
    let id = register(&spec, "s", &schema).unwrap();
    spec.parsed_schema(id).unwrap().validate_json(&payload).unwrap();
}

#[test]
fn a_compatibility_floor_holds_when_the_subject_is_set_to_none() {
    let registry = open(&MemoryLog::new());
    let v1 = record_schema("Order", &[("id", r#""string""#), ("amount", r#""double""#)]);
    // Dropping `amount` and adding a field without a default: new readers cannot read old data.
    let breaking = record_schema("Order", &[("id", r#""string""#), ("currency", r#""string""#)]);
    let compatible = record_schema(
        "Order",
        &[("id", r#""string""#), ("amount", r#""double""#), ("note", r#"["null","string"],"default":null"#)],
    );
    register(&registry, "orders-value", &v1).unwrap();
    registry.set_config(Some("orders-value"), CompatibilityLevel::None).unwrap();

    let floor = Some(CompatibilityLevel::Backward);
    let refused = registry.register_with_floor("orders-value", &RegisterRequest::from(breaking.clone()), floor);
    let Err(RegistryError::BelowCompatibilityFloor { floor: f, level, messages, .. }) = &refused else {
        panic!("expected the floor to refuse, got {refused:?}")
    };
    assert_eq!((*f, *level), (CompatibilityLevel::Backward, CompatibilityLevel::None));
    assert!(messages.iter().any(|m| m.contains("currency")), "{messages:?}");
    assert_eq!(code(refused), 409);
    assert_eq!(registry.versions("orders-value", false).unwrap(), vec![1], "nothing was registered");

    registry.register_with_floor("orders-value", &RegisterRequest::from(compatible), floor).unwrap();
    // Without a floor the subject's own level (NONE) decides.
    registry.register_with_floor("orders-value", &RegisterRequest::from(breaking), None).unwrap();
    assert_eq!(registry.versions("orders-value", false).unwrap(), vec![1, 2, 3]);
}

#[test]
fn a_schema_reads_back_as_registered_or_normalized_on_request() {
    let registry = open(&MemoryLog::new());
    let authored = SchemaDefinition::avro(
        r#"{"namespace": "shop", "name": "Order", "type": "record", "fields": [{"name": "id", "type": "long"}]}"#,
    );
    let id = register(&registry, "orders", &authored).unwrap();
    let as_java = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"}]}"#;
    assert_eq!(registry.schema_by_id(id).unwrap().schema, as_java);
    assert_eq!(registry.version("orders", VersionSpec::Latest, false).unwrap().schema, as_java);

    let mut normalized = RegisterRequest::from(SchemaDefinition::avro(
        r#"{"namespace": "shop", "name": "Payment", "type": "record", "fields": [{"name": "id", "type": "long"}]}"#,
    ));
    normalized.normalize = true;
    let id = registry.register("payments", &normalized).unwrap();
    assert_eq!(
        registry.schema_by_id(id).unwrap().schema,
        r#"{"name":"shop.Payment","type":"record","fields":[{"name":"id","type":"long"}]}"#
    );
}

#[test]
fn deleted_filters_follow_confluents_flags() {
    // (deleted, deletedOnly, deletedAsNegative) -> filter; deletedOnly wins over deleted, as in Confluent.
    let table = [
        ((false, false, false), DeletedFilter::Live),
        ((true, false, false), DeletedFilter::Include),
        ((false, true, false), DeletedFilter::Only),
        ((true, true, false), DeletedFilter::Only),
        ((false, false, true), DeletedFilter::AsNegative),
        ((true, true, true), DeletedFilter::AsNegative),
    ];
    for ((deleted, only, negative), expected) in table {
        assert_eq!(DeletedFilter::from_flags(deleted, only, negative), expected);
    }
    let registry = open(&MemoryLog::new());
    registry.set_config(None, CompatibilityLevel::None).unwrap();
    register(&registry, "s", &record_schema("A", &[("x", "\"int\"")])).unwrap();
    register(&registry, "s", &record_schema("B", &[("x", "\"int\"")])).unwrap();
    registry.delete_version("s", VersionSpec::Number(1), false).unwrap();
    assert_eq!(registry.versions_filtered("s", DeletedFilter::Live).unwrap(), vec![2]);
    assert_eq!(registry.versions_filtered("s", DeletedFilter::Only).unwrap(), vec![1]);
    assert_eq!(registry.versions_filtered("s", DeletedFilter::AsNegative).unwrap(), vec![-1, 2]);
    assert_eq!(code(registry.versions_filtered("nope", DeletedFilter::Include)), 40401);
    assert_eq!(registry.subjects_filtered(None, DeletedFilter::Only), Vec::<String>::new());
    assert_eq!(code(registry.latest_with_metadata("s", false)), 40403);
    assert_eq!(code(registry.latest_with_metadata("nope", true)), 40401);
}

#[test]
fn protobuf_schemas_register_with_references_and_are_checked() {
    let registry = open(&MemoryLog::new());
    let event =
        SchemaDefinition::new(SchemaType::Protobuf, "syntax = \"proto3\";\nmessage Event { int64 timestamp = 1; }");
    let event_id = register(&registry, "event", &event).unwrap();
    // As Confluent's serializer registers an importing schema: the import names the reference.
    let logistics_text = "syntax = \"proto3\";\nimport \"event.proto\";\nimport \"google/protobuf/timestamp.proto\";\n\
                          message Logistics {\n  Event event = 1;\n  google.protobuf.Timestamp at = 2;\n}\n";
    let logistics = SchemaDefinition::new(SchemaType::Protobuf, logistics_text)
        .with_references(vec![SchemaReference { name: "event.proto".into(), subject: "event".into(), version: 1 }]);
    let id = register(&registry, "logistics-value", &logistics).unwrap();
    assert_eq!(id, event_id + 1);
    // Read back as submitted; the same schema laid out differently is the same id.
    assert_eq!(registry.schema_by_id(id).unwrap().schema, logistics_text);
    let relaid = SchemaDefinition::new(
        SchemaType::Protobuf,
        "syntax=\"proto3\"; import \"event.proto\"; import \"google/protobuf/timestamp.proto\"; // moved\n\
         message Logistics { Event event = 1; google.protobuf.Timestamp at = 2; }",
    )
    .with_references(logistics.references.clone());
    assert_eq!(register(&registry, "logistics-value", &relaid).unwrap(), id);
    assert_eq!(registry.versions("logistics-value", false).unwrap(), vec![1]);
    // Without its reference the import is not found: an invalid schema, located.
    let err = register(&registry, "x", &SchemaDefinition::new(SchemaType::Protobuf, logistics_text)).unwrap_err();
    assert_eq!(err.status_and_code().1, 42201);
    assert!(err.to_string().contains("event.proto") && err.to_string().contains("line 2"), "{err}");
    // BACKWARD (the default): reusing field number 1 for a string is refused, nothing registered.
    let reused = SchemaDefinition::new(
        SchemaType::Protobuf,
        "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nmessage Logistics { string event = 1; google.protobuf.Timestamp at = 2; }",
    );
    let err = register(&registry, "logistics-value", &reused).unwrap_err();
    assert_eq!(err.status_and_code(), (409, 409));
    let RegistryError::IncompatibleSchema { messages, .. } = &err else { panic!("{err:?}") };
    assert!(messages[0].contains("FIELD_KIND_CHANGED") && messages[0].contains("#/Logistics/1"), "{messages:?}");
    assert_eq!(registry.versions("logistics-value", false).unwrap(), vec![1]);
    // Adding a field is compatible.
    let added = SchemaDefinition::new(
        SchemaType::Protobuf,
        logistics_text.replace(
            "  google.protobuf.Timestamp at = 2;\n",
            "  google.protobuf.Timestamp at = 2;\n  string note = 3;\n",
        ),
    )
    .with_references(logistics.references.clone());
    assert_eq!(register(&registry, "logistics-value", &added).unwrap(), id + 1);
    // Framed payloads validate against the message their indexes name.
    let parsed = registry.parsed_schema(id).unwrap();
    // Logistics { event: Event { timestamp: 7 } }
    parsed.validate_payload(&[0, 0x0a, 0x02, 0x08, 0x07]).unwrap();
    assert!(parsed.validate_payload(&[0, 0x0a, 0x05, 0x08]).is_err());
    assert!(parsed.validate_payload(&[2, 4]).is_err(), "no second message");
}
