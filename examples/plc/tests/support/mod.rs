//! Runs the real `plc` binary on a free loopback port (`--port 0`, the
//! ready line says which), and talks HTTP to it with atproto-xrpc's
//! transport.

// Test support: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atproto_core::{Curve, Keypair};
use atproto_xrpc::HttpClient;
use atproto_xrpc::identity::plc::{AuditEntry, Operation, PlcData, parse_audit_log};
use atproto_xrpc::transport::ReqwestClient;
use bytes::Bytes;
use serde_json::Value;

/// A running directory; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Plc {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory.
    pub dir: PathBuf,
    http: ReqwestClient,
}

/// A fresh folder under the system temp folder, removed when dropped.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh data directory under the system temp folder (not created).
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("plc-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TempDir(dir)
}

impl Plc {
    /// Starts the directory on `dir`.
    pub fn start(dir: &Path) -> Plc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plc"))
            .args(["--port", "0", "--data-dir"])
            .arg(dir)
            .env("PLC_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start plc");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the ready line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("ready line {line:?} is not JSON: {e}"));
        assert_eq!(ready["ready"], true, "{line}");
        let url = ready["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Plc {
            child: Some(child),
            url,
            dir: dir.to_owned(),
            http: ReqwestClient::new().unwrap(),
        }
    }

    /// Stops the directory with SIGTERM and waits for a clean exit (code 0).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0), "plc exits cleanly on SIGTERM");
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("plc did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, Bytes) {
        let request = http::Request::get(format!("{}{path}", self.url))
            .body(Bytes::new())
            .unwrap();
        let response = self.http.send(request).await.unwrap();
        (response.status().as_u16(), response.into_body())
    }

    /// `GET path`, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// `POST path` with `body` as JSON: status and body.
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> (u16, Bytes) {
        let request = http::Request::post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .unwrap();
        let response = self.http.send(request).await.unwrap();
        (response.status().as_u16(), response.into_body())
    }

    /// Submits `op` for `did`: the status and, for an error, its message.
    pub async fn submit(&self, did: &str, op: &Operation) -> (u16, String) {
        let (status, body) = self
            .post_bytes(&format!("/{did}"), serde_json::to_vec(op).unwrap())
            .await;
        (status, message(&body))
    }

    /// Submits `op` for `did` and expects 200.
    pub async fn accept(&self, did: &str, op: &Operation) {
        let (status, message) = self.submit(did, op).await;
        assert_eq!(status, 200, "{did}: {message}");
    }

    /// The audit log of `did`, parsed.
    pub async fn audit(&self, did: &str) -> Vec<AuditEntry> {
        let (status, body) = self.get(&format!("/{did}/log/audit")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        parse_audit_log(&body).unwrap()
    }
}

impl Drop for Plc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `message` of an error body (the whole body if it is not one).
pub fn message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// A k256 key from a one-byte seed.
pub fn key(seed: u8) -> Keypair {
    Keypair::from_private_bytes(Curve::K256, &[seed; 32]).unwrap()
}

/// ATProto data: handle `handle`, PDS `pds`, signing key `signing`,
/// rotation keys in order.
pub fn data(handle: &str, pds: &str, signing: &Keypair, rotation: &[&Keypair]) -> PlcData {
    let keys: Vec<_> = rotation.iter().map(|k| k.public_key()).collect();
    PlcData::atproto(&signing.public_key(), &handle.parse().unwrap(), pds, &keys)
}
