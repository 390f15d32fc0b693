//! Confluent's Python client (`confluent-kafka`: `SchemaRegistryClient`, Avro, JSON Schema and Protobuf
//! serializers) against a real Weft server: `tests/python/test_registry_client.py`, run with the venv
//! that `scripts/test` builds in `target/pyenv` from the pinned `tests/python/requirements.txt`.

mod common;

use common::{python_script, TestServer};

/// Runs the client script against `server`, with `user_info` (`user:token`) when given.
fn run_client(server: &TestServer, user_info: Option<&str>) {
    let url = format!("{}/registry", server.api.base);
    let mut command = python_script("test_registry_client.py");
    command.arg(&url);
    if let Some(user_info) = user_info {
        command.arg(user_info);
    }
    let output = command.output().expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the Python client test failed ({}); its output is above", output.status);
    assert!(stdout.contains("checks passed"), "{stdout}");
}

#[test]
fn confluent_python_client_works_against_the_registry() {
    run_client(&TestServer::start(), None);
}

#[test]
fn confluent_python_client_signs_in_with_basic_auth_and_a_token() {
    let server = TestServer::start_with(|config| config.auth = weft_server::AuthMode::Tokens);
    let admin = server.server.as_ref().and_then(|s| s.bootstrap_token()).expect("the admin token").to_string();
    run_client(&server, Some(&format!("admin:{admin}")));
}
