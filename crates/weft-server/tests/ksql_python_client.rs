//! ksqlDB's Python client (`ksql-python-ng`), which speaks HTTP/2 for queries and inserts, against a
//! real Weft server: `tests/python/test_ksql_client.py`, run with the venv that `scripts/test` builds
//! in `target/pyenv` from the pinned `tests/python/requirements.txt`.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

#[test]
fn ksql_python_client_queries_and_inserts_over_http2() {
    let server = TestServer::start();
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.ancestors().nth(2).expect("the repository root holds crates/weft-server");
    let python = root.join("target/pyenv/bin/python");
    let script = root.join("tests/python/test_ksql_client.py");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (it creates the Python venv with ksql-python-ng this test needs)",
        python.display()
    );
    let output = Command::new(&python).arg(&script).arg(&server.api.base).output().expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the Python client test failed ({}); its output is above", output.status);
    assert!(stdout.contains("checks passed"), "{stdout}");
}
