//! `atp firehose tail` against a loopback frames server: the saved file is
//! the served frames byte for byte, a server that drops the connection
//! midway loses nothing, an error frame is exit 1.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../../../atproto-firehose/tests/support/frames_server.rs"]
mod frames_server;
#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use frames_server::{FramesServer, Mode, capture_messages};

fn capture_path() -> PathBuf {
    interop::firehose_dir().join("ref-pds-dev.frames")
}

/// A frames server on a runtime of its own; the runtime must outlive the
/// command.
fn serve(server: Arc<FramesServer>) -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(server.listen());
    (rt, addr)
}

fn atp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atp"))
        .args(args)
        .output()
        .expect("atp runs")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atp-firehose-tail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// The whole capture, served from cursor 0: the saved file is the capture
/// file itself, byte for byte, and stdout one JSON line per frame.
#[test]
fn saved_frames_are_the_served_frames_byte_for_byte() {
    let server = FramesServer::new(capture_messages(&capture_path()), Mode::Serve);
    let (_rt, addr) = serve(server.clone());
    let save = temp("whole.frames");
    let out = atp(&[
        "firehose",
        "tail",
        &format!("ws://{addr}"),
        "--cursor",
        "0",
        "--save",
        save.to_str().unwrap(),
        "--idle-exit",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(&save).unwrap() == std::fs::read(capture_path()).unwrap(),
        "the saved capture differs from the served frames"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), server.messages.len());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], i as i64 + 1);
    }
    let commit = lines
        .iter()
        .find(|l| l["type"] == "#commit" && l["ops"].as_array().is_some_and(|o| !o.is_empty()))
        .unwrap();
    assert!(commit["repo"].as_str().unwrap().starts_with("did:"));
    let op = &commit["ops"][0];
    assert!(op["action"].is_string() && op["path"].is_string());
    let account = lines.iter().find(|l| l["type"] == "#account").unwrap();
    assert!(account["did"].as_str().unwrap().starts_with("did:"));
    let conns = server.connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].path, "/xrpc/com.atproto.sync.subscribeRepos");
    assert_eq!(conns[0].cursor, Some(0));
}

/// A server that drops every connection after 600 frames: `tail`
/// reconnects from the last seq saved each time and the file still equals
/// the capture (the backoff steps 1, 2, 4 s stay under `--idle-exit`).
#[test]
fn a_server_dropping_the_connection_midway_loses_nothing() {
    let server = FramesServer::new(capture_messages(&capture_path()), Mode::DropAfter(600));
    let (_rt, addr) = serve(server.clone());
    let save = temp("dropped.frames");
    let out = atp(&[
        "firehose",
        "tail",
        &format!("ws://{addr}/xrpc/com.atproto.sync.subscribeRepos"),
        "--cursor",
        "0",
        "--save",
        save.to_str().unwrap(),
        "--idle-exit",
        "10",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        std::fs::read(&save).unwrap() == std::fs::read(capture_path()).unwrap(),
        "the saved capture differs from the served frames"
    );
    let cursors: Vec<Option<i64>> = server.connections().iter().map(|c| c.cursor).collect();
    assert_eq!(cursors[..4], [Some(0), Some(600), Some(1200), Some(1800)]);
    assert!(stderr.contains("reconnecting in"), "{stderr}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        server.messages.len()
    );
}

/// A cursor past the server's last seq: `FutureCursor`, exit 1, the error
/// on stderr as `error: NAME: MESSAGE`.
#[test]
fn future_cursor_is_exit_1_with_name_and_message() {
    let messages = capture_messages(&capture_path())[..10].to_vec();
    let server = FramesServer::new(messages, Mode::Serve);
    let (_rt, addr) = serve(server);
    let out = atp(&[
        "firehose",
        "tail",
        &format!("ws://{addr}"),
        "--cursor",
        "11",
        "--idle-exit",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: FutureCursor: Cursor in the future.\n"
    );
    assert!(out.stdout.is_empty());
}

/// No cursor: live (the request has none); a bad URL or `--idle-exit` is
/// a usage error.
#[test]
fn live_without_cursor_and_usage_errors() {
    let messages = capture_messages(&capture_path())[..3].to_vec();
    let server = FramesServer::new(messages, Mode::Serve);
    let (_rt, addr) = serve(server.clone());
    let out = atp(&[
        "firehose",
        "tail",
        &format!("ws://{addr}"),
        "--idle-exit",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.connections()[0].cursor, None);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3);

    for (args, want) in [
        (vec!["http://host"], "scheme"),
        (vec!["ws://host", "--idle-exit", "0"], "idle-exit"),
        (vec!["ws://host", "--cursor", "x"], "cursor"),
    ] {
        let mut all = vec!["firehose", "tail"];
        all.extend(args);
        let out = atp(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("error: ") && stderr.contains(want) && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
}

/// Nothing listening: `tail` keeps reconnecting, and `--idle-exit` counts
/// that time, exiting 0.
#[test]
fn idle_exit_counts_the_time_spent_reconnecting() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let out = atp(&[
        "firehose",
        "tail",
        &format!("ws://127.0.0.1:{port}"),
        "--idle-exit",
        "2",
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(out.stdout.is_empty());
}
