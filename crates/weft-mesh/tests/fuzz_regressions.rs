//! Inputs the fuzz targets (`fuzz/fuzz_targets`, run by `scripts/fuzz`) found to break an invariant,
//! kept so that the bug stays fixed. Each test names its target and the invariant it checks.

use weft_mesh::records::{Decoder, JsonRecord, ValueEncoder};
use weft_registry::Registry;

/// Target `produce`: a JSON value reads back as it was written. JSON numbers were parsed to a double
/// one step away from the nearest for some texts; the value's own text (written by the shortest
/// round-trip formatting) then read back as a different number. Minimized input: `[{"value":2222e222}]`.
#[test]
fn a_produced_number_reads_back_as_the_same_number() {
    let dir = tempfile::tempdir().expect("dir");
    let log = weft_log::EmbeddedLog::open(weft_log::LogOptions::new(dir.path())).expect("log");
    let registry = Registry::open(log).expect("registry");
    let body = br#"[{"value":2222e222},{"value":{"amount":22222222222222222222222222222222222222222222222222220.01}},
        {"value":[0.1,1e-320,1.7976931348623157e308,2.2250738585072011e-308]}]"#;
    let records: Vec<JsonRecord> = serde_json::from_slice(body).expect("body");
    for record in records {
        let written = record.value.clone().expect("a value");
        let stored = ValueEncoder::Plain.encode(record.value.as_ref()).expect("encode").expect("bytes");
        let read = Decoder::new(&registry).value(Some(&stored));
        assert_eq!(read.json, written, "stored as {}", String::from_utf8_lossy(&stored));
    }
}
