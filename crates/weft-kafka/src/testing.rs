//! Kafka-protocol brokers for tests (cargo feature `testing`): [`Broker`], a `tansu` process on a
//! free loopback port with its own SQLite store in a temporary directory, and [`Cluster`], several
//! tansu brokers sharing one PostgreSQL store; both killed when dropped.
//!
//! `scripts/test` installs tansu (with its `postgres` feature) into `target/tools/bin` of the
//! workspace, and Debian's PostgreSQL; `WEFT_TANSU` names another tansu binary, `WEFT_POSTGRES_BIN`
//! another directory of PostgreSQL's programs. Tests never skip without them: they fail saying how
//! to install them.
//! `WEFT_TANSU_LOG=DIR` keeps each broker's output in DIR (with `RUST_LOG=tansu_broker=debug`,
//! what its group coordinator decided).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The install command `scripts/test` runs; repeated in the failure when tansu is missing.
pub const INSTALL: &str = "cargo install --locked tansu@0.6.0 --features dynostore,libsql,postgres --root target/tools";

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
        let child = spawn(store.path(), address, SQLITE, false);
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
        broker.child = spawn(broker._store.path(), broker.address, SQLITE, true);
        broker.wait_until_listening();
        broker
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.address.to_string()
    }

    fn wait_until_listening(&mut self) {
        wait_until_listening(&mut self.child, self.address, "");
    }
}

/// Waits until the broker `child` listens on `address`; panics when it exits first (adding `hint`)
/// or takes over 30 s.
fn wait_until_listening(child: &mut Child, address: SocketAddr, hint: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("tansu exited before listening on {address}: {status}{hint}");
        }
        assert!(Instant::now() < deadline, "tansu did not listen on {address} within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A broker's own SQLite store, in its working directory. SQLite storage rather than `memory://`:
/// tansu's in-memory engine answers ListOffsets from its objects' modification times and batch base
/// offsets, not from records (timestamp lookups and the high watermark come out wrong); its SQL
/// engines keep Kafka's meaning.
const SQLITE: &str = "sqlite://tansu.db";

/// Runs tansu on `address` in the directory `dir` with the storage engine `storage`;
/// `authentication`: clients must sign in with SASL.
fn spawn(dir: &Path, address: SocketAddr, storage: &str, authentication: bool) -> Child {
    let binary = tansu();
    let url = format!("tcp://{address}");
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
        .args(["--storage-engine", storage])
        .current_dir(dir)
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

/// A free loopback address (a port the OS just handed out and released).
fn free_address() -> SocketAddr {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Several tansu brokers on one PostgreSQL store: what one broker writes, every other serves, so
/// any of them can take over when one dies.
///
/// tansu brokers are stateless: records, offsets, consumer groups (versioned rows updated
/// optimistically) and producer ids all live in the store, and every broker answers for every
/// partition. They all call themselves node 111 (tansu 0.6.0 hard-codes the id), each with its own
/// address: metadata lists one broker, at the address of whichever broker answered. A client
/// bootstrapped with several brokers therefore follows node 111 to a surviving broker when one
/// dies; a client bootstrapped with one broker talks to that broker only. (Two brokers on one
/// SQLite file are no cluster: started together, one exits on `database is locked`; started one
/// after the other, writes racing between them fail the same way now and then, closing the
/// client's connection.)
pub struct Cluster {
    brokers: Vec<ClusterBroker>,
    store: Postgres,
}

struct ClusterBroker {
    child: Child,
    address: SocketAddr,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts PostgreSQL with tansu's schema and `brokers` brokers on it, each on its own free
    /// loopback port advertising itself, and waits until they all listen; panics (a test failure)
    /// naming what went wrong.
    pub fn start(brokers: usize) -> Cluster {
        let store = Postgres::start();
        let brokers = (0..brokers)
            .map(|_| {
                let dir = tempfile::tempdir().expect("a temporary directory for the broker");
                let address = free_address();
                let mut child = spawn(dir.path(), address, &store.url(), false);
                wait_until_listening(&mut child, address, POSTGRES_HINT);
                ClusterBroker { child, address, dir }
            })
            .collect();
        Cluster { brokers, store }
    }

    /// Every broker's `127.0.0.1:PORT`, comma-separated, for `bootstrap.servers`: the client goes
    /// on through the others when one dies.
    pub fn bootstrap(&self) -> String {
        self.brokers.iter().map(|b| b.address.to_string()).collect::<Vec<_>>().join(",")
    }

    /// Broker `index`'s `127.0.0.1:PORT` alone: a client bootstrapped with it talks to it only.
    pub fn broker(&self, index: usize) -> String {
        self.brokers[index].address.to_string()
    }

    /// How many brokers the cluster has (running or killed).
    pub fn len(&self) -> usize {
        self.brokers.len()
    }

    /// Whether the cluster has no broker at all.
    pub fn is_empty(&self) -> bool {
        self.brokers.is_empty()
    }

    /// Kills broker `index` with SIGKILL (no goodbye to its clients) and waits for it to exit.
    pub fn kill(&mut self, index: usize) {
        let broker = &mut self.brokers[index];
        let _ = broker.child.kill();
        let _ = broker.child.wait();
    }

    /// Starts broker `index` again on its address (after [`Cluster::kill`]); waits until it listens.
    pub fn restart(&mut self, index: usize) {
        let url = self.store.url();
        let broker = &mut self.brokers[index];
        if let Ok(None) = broker.child.try_wait() {
            panic!("broker {index} at {} is still running", broker.address);
        }
        broker.child = spawn(broker.dir.path(), broker.address, &url, false);
        wait_until_listening(&mut broker.child, broker.address, POSTGRES_HINT);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for broker in &mut self.brokers {
            let _ = broker.child.kill();
            let _ = broker.child.wait();
        }
    }
}

/// Why a cluster's broker may exit at once: a tansu built without PostgreSQL storage.
const POSTGRES_HINT: &str = " (a Cluster needs tansu built with its `postgres` feature, which scripts/test installs: \
     `WEFT_TANSU_LOG=DIR` keeps the broker's output)";

/// tansu 0.6.0's PostgreSQL schema (its `etc/initdb.d/010-schema.sql`, not in the crate: tansu's
/// PostgreSQL engine expects the tables to exist).
const TANSU_SCHEMA: &str = include_str!("testing/tansu-postgres-schema.sql");

/// A PostgreSQL server of its own on a free loopback port, its data in a temporary directory,
/// with tansu's schema in the `postgres` database; stopped (immediate mode) when dropped.
struct Postgres {
    dir: tempfile::TempDir,
    address: SocketAddr,
}

impl Postgres {
    fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("a temporary directory for PostgreSQL");
        if as_root() {
            // PostgreSQL refuses to run as root: its programs run as `postgres`, which must own
            // the directory.
            run(Command::new("chown").args(["postgres:postgres"]).arg(dir.path()), "chown the data directory");
        }
        let data = dir.path().join("data");
        run(
            postgres_program("initdb").arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]),
            "initdb",
        );
        let address = free_address();
        // No fsync: a test's store dies with the test.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            address.port(),
            dir.path().display()
        );
        let postgres = Postgres { dir, address };
        run(
            postgres_program("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-w", "-t", "60", "-o", &options, "-l"])
                .arg(postgres.dir.path().join("postgres.log"))
                .arg("start"),
            "pg_ctl start",
        );
        let mut psql = postgres_program("psql");
        psql.args(["-h", "127.0.0.1", "-p", &address.port().to_string(), "-U", "postgres", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = psql.spawn().unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        child
            .stdin
            .take()
            .expect("psql's standard input")
            .write_all(TANSU_SCHEMA.as_bytes())
            .expect("write tansu's schema to psql");
        let status = child.wait().expect("psql runs");
        assert!(status.success(), "creating tansu's schema failed: {status}");
        postgres
    }

    /// The store's URL for tansu's `--storage-engine`.
    fn url(&self) -> String {
        format!("postgres://postgres@{}/postgres", self.address)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = postgres_program("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether this process runs as root (then PostgreSQL's programs run as `postgres`).
fn as_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| out.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// A PostgreSQL program (`initdb`, `pg_ctl`, `psql`) from `WEFT_POSTGRES_BIN`, else the newest
/// `/usr/lib/postgresql/VERSION/bin` (Debian's layout, not on `PATH`), run as `postgres` when this
/// process is root.
fn postgres_program(name: &str) -> Command {
    let dir = match std::env::var_os("WEFT_POSTGRES_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| Some((entry.file_name().to_str()?.parse::<u32>().ok()?, entry.path().join("bin"))))
            .max()
            .map(|(_, bin)| bin)
            .unwrap_or_else(|| {
                panic!(
                    "the Kafka cluster tests need PostgreSQL (Debian's `postgresql`, which scripts/test installs) \
                     under /usr/lib/postgresql, or WEFT_POSTGRES_BIN naming the directory of initdb and pg_ctl"
                )
            }),
    };
    let program = dir.join(name);
    if as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs `command` to success, its output kept for the failure.
fn run(command: &mut Command, what: &str) {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
