//! `weft serve` with authentication (the default) through the real binaries: the bootstrap admin's
//! token printed once on the first start, and `weft user`, `weft token`, `weft whoami` and `weft audit`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Serve {
    child: Child,
    url: String,
    /// What the server printed after its address (the bootstrap token's paragraph on a first start).
    banner: Vec<String>,
    /// Keeps the reader of its standard error draining it (a closed pipe would fail its writes).
    _log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &std::path::Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["serve", "--listen", "127.0.0.1:0", "--fsync", "1", "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft serve starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut url = None;
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(300)) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("weft listening on ") {
                    url = Some(rest.split_whitespace().next().expect("an address").to_string());
                } else if url.is_some() {
                    banner.push(line);
                }
            }
            // Quiet for a moment after the address: the banner is complete.
            Err(_) if url.is_some() => break,
            Err(_) => {}
        }
    }
    Serve { child, url: url.expect("weft serve printed its address"), banner, _log: rx }
}

fn weft(url: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command.args(args).env("WEFT_URL", url).env_remove("WEFT_TOKEN").env_remove("WEFT_ACTOR");
    if let Some(token) = token {
        command.env("WEFT_TOKEN", token);
    }
    command.output().expect("weft runs")
}

fn ok(url: &str, token: Option<&str>, args: &[&str]) -> String {
    let output = weft(url, token, args);
    assert!(output.status.success(), "weft {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn fails(url: &str, token: Option<&str>, args: &[&str]) -> String {
    let output = weft(url, token, args);
    assert!(!output.status.success(), "weft {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn the_first_start_prints_the_admin_token_once_and_the_cli_manages_identities_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve(&dir.path().join("data"));
    let admin = server
        .banner
        .iter()
        .find_map(|line| line.trim().strip_prefix("weft_").map(|rest| format!("weft_{rest}")))
        .unwrap_or_else(|| panic!("no token in the first start's banner: {:?}", server.banner));
    let url = server.url.clone();

    // Without a token nothing but health answers.
    let error = fails(&url, None, &["topic", "list"]);
    assert!(error.contains("not signed in") && error.contains("40101"), "{error}");
    assert!(ok(&url, Some(&admin), &["whoami"]).contains("admin (user, platform admin)"));

    ok(&url, Some(&admin), &["user", "set", "pat", "--team", "orders-team"]);
    let pat = ok(&url, Some(&admin), &["token", "create", "--for", "pat", "--description", "ci", "--expires-in", "1d"]);
    let pat = pat.trim().to_string();
    assert!(pat.starts_with("weft_"), "{pat}");
    assert!(ok(&url, Some(&pat), &["whoami"]).starts_with("pat (user) teams: orders-team"));
    // Pat is no admin: no users for pat to make, no tokens for others.
    let error = fails(&url, Some(&pat), &["user", "set", "eve", "--admin"]);
    assert!(error.contains("only platform admins"), "{error}");
    let error = fails(&url, Some(&pat), &["token", "create", "--for", "admin"]);
    assert!(error.contains("40304"), "{error}");

    let listed = ok(&url, Some(&admin), &["token", "list"]);
    let line = listed.lines().find(|l| l.contains(" pat ")).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("read,write") && line.contains("active") && line.contains("ci"), "{line}");
    assert!(!listed.contains(&pat[22..]), "secrets are never listed");
    let id = line.split_whitespace().next().expect("an id").to_string();
    ok(&url, Some(&pat), &["token", "revoke", &id]);
    let error = fails(&url, Some(&pat), &["whoami"]);
    assert!(error.contains("not signed in"), "{error}");

    // The audit log has the changes and the refusals, with who made them.
    let audit = ok(&url, Some(&admin), &["audit", "--limit", "200"]);
    assert!(
        audit.lines().any(|l| l.contains("ok") && l.contains("admin") && l.contains("PUT /api/v1/users/{name}")),
        "{audit}"
    );
    assert!(
        audit.lines().any(|l| l.contains("refused") && l.contains("pat") && l.contains("PUT /api/v1/users/{name}")),
        "{audit}"
    );
    let refused = ok(&url, Some(&admin), &["audit", "--outcome", "refused", "--principal", "pat"]);
    assert!(refused.lines().count() >= 2 && refused.lines().all(|l| l.contains("refused")), "{refused}");

    // A second start prints no token: the admin exists.
    drop(server);
    let again = serve(&dir.path().join("data"));
    assert!(!again.banner.iter().any(|l| l.contains("weft_")), "{:?}", again.banner);
    assert!(ok(&again.url, Some(&admin), &["whoami"]).contains("admin"));
}

#[test]
fn without_authentication_the_server_keeps_to_loopback_unless_told_otherwise() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["serve", "--auth", "none", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("weft serve runs");
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("loopback") && error.contains("--insecure-dev"), "{error}");
}
