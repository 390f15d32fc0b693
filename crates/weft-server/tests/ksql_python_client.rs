//! ksqlDB's Python client (`ksql-python-ng`), which speaks HTTP/2 for queries and inserts, against a
//! real Weft server: `tests/python/test_ksql_client.py`, run with the venv that `scripts/test` builds
//! in `target/pyenv` from the pinned `tests/python/requirements.txt`.

mod common;

use common::{python_script, TestServer};

#[test]
fn ksql_python_client_queries_and_inserts_over_http2() {
    let server = TestServer::start();
    let output = python_script("test_ksql_client.py").arg(&server.api.base).output().expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the Python client test failed ({}); its output is above", output.status);
    assert!(stdout.contains("checks passed"), "{stdout}");
}
