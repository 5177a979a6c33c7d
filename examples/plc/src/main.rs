//! `plc`: a did:plc directory on embedded SQLite, for local networks and
//! tests: it accepts signed operations and serves DID documents, logs and
//! the export stream as the reference directory does.
//!
//! The rules are not written here: a submitted operation is checked by
//! replaying the DID's stored audit log plus the new entry with
//! [`atproto_xrpc::identity::plc::replay_audit_log`], the same code a client
//! uses to verify a directory (genesis hash, `prev` chain, rotation-key
//! signatures, forks within 72 hours by a higher-priority key, tombstones).
//! This binary adds the directory's own limits ([`constraints`]), the
//! storage ([`store`]) and the HTTP API ([`routes`]).
//!
//! Why these crates: rusqlite with `bundled` compiles SQLite in, so the
//! directory needs no database server and no system library, and WAL mode
//! gives durable single-writer transactions with reads that never wait;
//! axum (on tokio and hyper) is the HTTP stack the workspace's XRPC server
//! layer already builds on, so no second one enters the build.
//!
//! Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for a usage or
//! setup error (bad flags, a data directory or port that cannot be used).
//! Errors are one line on stderr.

#![forbid(unsafe_code)]

mod constraints;
mod routes;
mod store;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// A did:plc directory server on embedded SQLite, listening on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(name = "plc", version, about)]
struct Args {
    /// The port to listen on (0: any free port; the ready line says which).
    #[arg(long, env = "PLC_PORT", default_value_t = 2582)]
    port: u16,
    /// The folder holding the SQLite database (created if missing).
    #[arg(long, env = "PLC_DATA_DIRECTORY", default_value = "plc-data")]
    data_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PLC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let store = store::Store::open(&args.data_dir)
        .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(args, Arc::new(store)))
}

async fn serve(args: &Args, store: Arc<store::Store>) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let url = format!("http://{bound}");
    tracing::info!(%url, data_dir = %args.data_dir.display(), "plc directory listening");
    let ready = serde_json::json!({
        "ready": true,
        "url": url,
        "dataDirectory": args.data_dir.display().to_string(),
    });
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{ready}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write the ready line: {e}"))?;
    axum::serve(listener, routes::router(store))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("plc directory stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
