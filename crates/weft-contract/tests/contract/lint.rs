//! Contracts written by Weft pass `datacontract lint` (datacontract-cli, the Data Contract CLI),
//! run from the venv `scripts/test` builds in `target/pyenv` from `tests/python/requirements.txt`.

use std::path::Path;
use std::process::Command;

use crate::common::*;

#[test]
fn exported_contracts_pass_datacontract_lint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository root holds crates/");
    let datacontract = root.join("target/pyenv/bin/datacontract");
    assert!(
        datacontract.exists(),
        "{} is missing: run scripts/test (it creates the Python venv with datacontract-cli this test needs)",
        datacontract.display()
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, text, standard) in [("full", FULL, "ODCS v3.1.0"), ("v3_0", V3_0, "ODCS v3.0.2")] {
        let path = dir.path().join(format!("{name}.odcs.yaml"));
        std::fs::write(&path, contract(text).to_yaml()).unwrap();
        let output = Command::new(&datacontract).arg("lint").arg(&path).output().expect("datacontract runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("{name}:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "datacontract lint refused {name} ({}); its output is above", output.status);
        // The table wraps its cells: compare the words alone.
        let words = stdout
            .split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(words.contains(&format!("passed Data contract is valid against {standard}")), "{words}");
        assert!(!words.contains("failed"), "{words}");
    }
}
