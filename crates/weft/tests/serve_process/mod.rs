//! A real `weft serve` process for the crash tests: started on a free loopback port over a data
//! directory, its address read from its first log line, killed with SIGKILL when a test says so.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `weft serve`.
pub struct ServeProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The log line it announced its address with (it names the log it serves).
    #[allow(dead_code)] // Only the Kafka test reads it.
    pub banner: String,
}

impl ServeProcess {
    /// Starts `weft serve --listen 127.0.0.1:0 --fsync 1 --auth none ARGS --data-dir DIR` and waits for its address.
    pub fn start(data_dir: &Path, args: &[&str]) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            // The crash tests are about durability: their clients act by name.
            .args(["serve", "--listen", "127.0.0.1:0", "--fsync", "1", "--auth", "none"])
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let (url, banner) = loop {
            let line = lines.next().expect("weft serve printed its address").expect("stderr is text");
            if let Some(rest) = line.strip_prefix("weft listening on ") {
                break (rest.split_whitespace().next().expect("an address").to_string(), line);
            }
        };
        // Its log is drained so that it never blocks on a full pipe; WEFT_SERVE_LOG=1 shows it
        // (with `--no-capture`) when a test needs explaining.
        let show = std::env::var_os("WEFT_SERVE_LOG").is_some();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if show {
                    eprintln!("[serve] {line}");
                }
            }
        });
        ServeProcess { child, url, banner }
    }

    /// SIGKILL, and reap it.
    #[allow(dead_code)] // Not every test that uses the module kills through it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the killed server is reaped");
    }
}
