//! The server every CLI test runs the `weft` binary against.

use weft_server::{BackgroundServer, FsyncPolicy, ServerConfig};

/// A real server on a free loopback port over a temporary data directory.
pub struct Env {
    pub server: BackgroundServer,
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
}

pub fn start() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.fsync = FsyncPolicy::GroupCommit { interval_ms: 1 };
    // Commands act as the user WEFT_ACTOR names; the security tests sign in with tokens.
    config.auth = weft_server::AuthMode::None;
    config.rate_limit = 0;
    let server = BackgroundServer::start(config).expect("server starts");
    Env { server, dir }
}

/// Running the `weft` binary against the server as a named user (the tests of catalog and
/// governance commands, whose changes record who made them).
#[allow(dead_code)] // Each test crate compiles this module and uses some of it.
impl Env {
    pub fn weft_as(&self, actor: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_URL", self.server.url())
            .env("WEFT_ACTOR", actor)
            .output()
            .expect("weft runs")
    }

    /// Runs `weft` as `actor`, asserting success, and returns its standard output.
    pub fn ok_as(&self, actor: &str, args: &[&str]) -> String {
        let output = self.weft_as(actor, args);
        assert!(output.status.success(), "weft {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Runs `weft` as `actor`, asserting failure, and returns its standard error.
    pub fn fails_as(&self, actor: &str, args: &[&str]) -> String {
        let output = self.weft_as(actor, args);
        assert!(!output.status.success(), "weft {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8(output.stderr).expect("UTF-8 output")
    }

    /// A path in the test's temporary directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}
