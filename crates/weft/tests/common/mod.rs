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
    let server = BackgroundServer::start(config).expect("server starts");
    Env { server, dir }
}
