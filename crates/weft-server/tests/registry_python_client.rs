//! Confluent's Python client (`confluent-kafka`: `SchemaRegistryClient`, Avro and JSON Schema
//! serializers) against a real Weft server: `tests/python/test_registry_client.py`, run with the venv
//! that `scripts/test` builds in `target/pyenv` from the pinned `tests/python/requirements.txt`.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

#[test]
fn confluent_python_client_works_against_the_registry() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.ancestors().nth(2).expect("the repository root holds crates/weft-server");
    let python = root.join("target/pyenv/bin/python");
    let script = root.join("tests/python/test_registry_client.py");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (it creates the Python venv with confluent-kafka this test needs)",
        python.display()
    );
    let server = TestServer::start();
    let url = format!("{}/registry", server.api.base);
    let output = Command::new(&python).arg(&script).arg(&url).output().expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the Python client test failed ({}); its output is above", output.status);
    assert!(stdout.contains("checks passed"), "{stdout}");
}
