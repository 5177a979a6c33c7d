//! `pds`: reads the configuration from `PDS_*` variables (or flags), serves
//! on 127.0.0.1 and prints one JSON ready line on stdout. Logs go to stderr.
//! Exit codes: 0 after a clean shutdown (Ctrl-C, SIGTERM), 1 when the server
//! fails, 2 for a configuration or setup error.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use pds::Pds;
use pds::config::{Args, Config};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("pds: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pds: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pds: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    tracing::info!(?config, "starting");
    let pds = match Pds::open(config).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pds: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", pds.ready_line());
    tracing::info!(url = %pds.url(), "ready");
    match pds.serve(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pds: {e}");
            ExitCode::from(1)
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
