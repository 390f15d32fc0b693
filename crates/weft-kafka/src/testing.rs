//! A Kafka-protocol broker for tests (cargo feature `testing`): a `tansu` process on a free
//! loopback port, with its own SQLite store in a temporary directory, killed when dropped.
//!
//! `scripts/test` installs tansu into `target/tools/bin` of the workspace; `WEFT_TANSU` names
//! another binary. Tests never skip without it: they fail saying how to install it.
//! `WEFT_TANSU_LOG=DIR` keeps each broker's output in DIR (with `RUST_LOG=tansu_broker=debug`,
//! what its group coordinator decided).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The install command `scripts/test` runs; repeated in the failure when tansu is missing.
pub const INSTALL: &str = "cargo install --locked tansu@0.6.0 --features dynostore,libsql --root target/tools";

/// A running broker.
pub struct Broker {
    child: Child,
    address: SocketAddr,
    _store: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker with an empty store and waits until it listens; panics (a test failure)
    /// naming what went wrong.
    pub fn start() -> Broker {
        let store = tempfile::tempdir().expect("a temporary directory for the broker's store");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("a socket address");
        let child = spawn(store.path(), address, false);
        let mut broker = Broker { child, address, _store: store };
        broker.wait_until_listening();
        broker
    }

    /// Starts a broker that requires SASL authentication and knows one user, `user`, with SCRAM-SHA-256
    /// credentials for `password` (created through the broker before it requires them, then kept in
    /// its store across the restart).
    pub fn start_with_scram_user(user: &str, password: &str) -> Broker {
        let mut broker = Broker::start();
        let broker_url = format!("tcp://{}", broker.address);
        let status = Command::new(tansu())
            .args(["user", "create", "--broker", &broker_url, "--mechanism", "scram256", user, password])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("tansu user create runs");
        assert!(status.success(), "tansu user create failed: {status}");
        let _ = broker.child.kill();
        let _ = broker.child.wait();
        broker.child = spawn(broker._store.path(), broker.address, true);
        broker.wait_until_listening();
        broker
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.address.to_string()
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tansu exited before listening on {}: {status}", self.address);
            }
            assert!(Instant::now() < deadline, "tansu did not listen on {} within 30 s", self.address);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs tansu on `address` with its SQLite store in `store`; `authentication`: clients must sign in
/// with SASL.
fn spawn(store: &std::path::Path, address: SocketAddr, authentication: bool) -> Child {
    let binary = tansu();
    let url = format!("tcp://{address}");
    // SQLite storage rather than `memory://`: tansu's in-memory engine answers ListOffsets from
    // its objects' modification times and batch base offsets, not from records (timestamp
    // lookups and the high watermark come out wrong); its SQL engines keep Kafka's meaning.
    // `WEFT_TANSU_LOG=DIR` keeps the broker's output (its log at `RUST_LOG`'s level) in
    // DIR/tansu-PORT.log, to see what its group coordinator did.
    let (stdout, stderr) = match std::env::var_os("WEFT_TANSU_LOG") {
        Some(dir) => {
            let path = PathBuf::from(dir).join(format!("tansu-{}.log", address.port()));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|file| Ok((file.try_clone()?, file)))
                .unwrap_or_else(|e| panic!("cannot create the broker's log {}: {e}", path.display()));
            (Stdio::from(file.0), Stdio::from(file.1))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut command = Command::new(&binary);
    command
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "sqlite://tansu.db"])
        .current_dir(store)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    if authentication {
        command.arg("--authentication");
    }
    command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

/// The tansu binary: `WEFT_TANSU`, else `target/tools/bin/tansu` under the workspace root.
fn tansu() -> PathBuf {
    let path = match std::env::var_os("WEFT_TANSU") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/bin/tansu"),
    };
    assert!(
        path.is_file(),
        "the Kafka tests need the tansu broker at {}: run scripts/test, which installs it, or `{INSTALL}` \
         from the repository root (or set WEFT_TANSU to a tansu binary)",
        path.display()
    );
    path
}
