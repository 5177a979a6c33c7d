//! Starting the `pds` binary for a test: a fresh data directory, port 0,
//! the ready line read from its stdout; killed (by its own process id) when
//! the guard drops.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A test rotation key (never used outside tests).
pub const ROTATION_KEY: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

/// The base environment of a test server in `dir`.
pub fn base_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PDS_PORT", "0".into()),
        ("PDS_HOSTNAME", "localhost".into()),
        ("PDS_DATA_DIRECTORY", dir.display().to_string()),
        ("PDS_JWT_SECRET", "test-jwt-secret".into()),
        ("PDS_ADMIN_PASSWORD", "test-admin".into()),
        (
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
            ROTATION_KEY.into(),
        ),
        ("PDS_DID_PLC_URL", "http://127.0.0.1:9".into()),
        ("PDS_INVITE_REQUIRED", "false".into()),
        ("PDS_DEV_MODE", "true".into()),
    ]
}

/// A running `pds` process.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub ready: serde_json::Value,
}

impl Server {
    /// Starts the binary with exactly `env` (PDS_* variables of the test's
    /// own environment removed) and waits for its ready line.
    pub fn start(env: &[(&str, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pds"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PDS_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn pds");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
        let url = ready["url"].as_str().unwrap().to_string();
        Server { child, url, ready }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary with `env` to its end: (exit code, stderr).
pub fn run_to_end(env: &[(&str, String)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pds"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PDS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
