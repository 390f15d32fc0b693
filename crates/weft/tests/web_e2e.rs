//! The web application in a real browser: `weft demo` on a free port, then the Playwright flows of
//! `tests/e2e/flows.mjs` (playwright-core from npm, driving the system Chromium). Every page's
//! screenshot lands in `target/e2e-screenshots/`; any browser console error or page error fails the
//! run. `scripts/test` installs what this needs (Chromium, `npm ci`); when something is missing the
//! test fails and says how to install it: it never skips.

mod demo_process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use demo_process::{free_port, temp_data_dir, Demo};

/// The flows take about a minute; this bounds a hung browser.
const FLOWS_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

fn chromium() -> PathBuf {
    std::env::var_os("WEFT_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Everything the flows need, or a failure that says how to get it.
fn check_prerequisites(root: &Path) {
    let fix = "run scripts/test once (it installs them), or by hand:";
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => {}
        _ => panic!("node is not installed; {fix} sudo apt-get install -y nodejs npm"),
    }
    let e2e = root.join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core/package.json").is_file(),
        "tests/e2e/node_modules is missing playwright-core; {fix} (cd tests/e2e && npm ci)"
    );
    assert!(
        chromium().is_file(),
        "{} is missing; {fix} sudo apt-get install -y chromium chromium-driver (or set WEFT_CHROMIUM)",
        chromium().display()
    );
}

#[test]
fn browser_flows_on_the_demo_mesh() {
    let root = repo_root();
    check_prerequisites(&root);
    let screenshots = root.join("target/e2e-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);

    let (_dir, data) = temp_data_dir();
    // The flows sign in as the demo's people with the tokens it wrote.
    let mut demo = Demo::start(&data, free_port());
    let tokens = serde_json::to_string(&demo.tokens).expect("tokens as JSON");

    let mut flows = Command::new("node")
        .arg(root.join("tests/e2e/flows.mjs"))
        .arg(&demo.url)
        .arg(&screenshots)
        // `WEFT_E2E_FLOWS="create templates"` runs only those flows (while working on them).
        .args(std::env::var("WEFT_E2E_FLOWS").unwrap_or_default().split_whitespace())
        .current_dir(&root)
        .env("WEFT_CHROMIUM", chromium())
        .env("WEFT_DEMO_TOKENS", tokens)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = flows.try_wait().expect("waiting for node") {
            break status;
        }
        if started.elapsed() > FLOWS_TIMEOUT {
            let _ = flows.kill();
            let _ = flows.wait();
            panic!("the browser flows did not finish within {FLOWS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    demo.drain();
    assert!(
        status.success(),
        "the browser flows failed ({status}); screenshots in {}\nweft demo said:\n{}",
        screenshots.display(),
        demo.log.join("\n")
    );
    assert!(demo.stop().success(), "weft demo stops cleanly after the flows");
}
