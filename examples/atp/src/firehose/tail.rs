//! `atp firehose tail URL [--cursor N] [--save FILE] [--idle-exit SECONDS]`:
//! follows a `subscribeRepos` firehose with `atproto_firehose`'s consumer.
//!
//! URL is `ws://host:port` or `wss://…`; the
//! `/xrpc/com.atproto.sync.subscribeRepos` path is added when absent.
//! Prints one JSON line per event: `seq`, `type`, `repo` (a `#commit`, with
//! its `ops` as `{"action","path","cid"}`) or `did` (`#sync`, `#identity`,
//! `#account`); an `#info` as `{"type","name","message"}`. `--save` appends
//! every frame, unchanged, to FILE in the capture format (`unsigned LEB128
//! length ‖ bytes`) before printing it. A dropped connection is retried
//! with jittered exponential backoff from the last seq saved: no frame lost,
//! none twice (a note on stderr each time). `--idle-exit` exits 0 after
//! that many seconds without a frame, reconnection time included. An error
//! frame (e.g. `FutureCursor`) ends the command: `error: NAME: MESSAGE` on
//! stderr, exit 1. A message that is not a frame: exit 1; a bad URL, a save
//! file or standard output that cannot be written: exit 2.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use atproto_firehose::consumer::{
    Consumer, ConsumerConfig, ConsumerError, Event, HandlerError, MemoryCursor, Status,
};
use atproto_firehose::{CaptureWriter, Frame};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::xrpc::runtime;
use crate::{CmdError, CmdResult, one_line};

/// Arguments of `atp firehose tail`.
#[derive(clap::Args)]
pub struct Args {
    /// The firehose, `ws://host:port` or `wss://host` (the subscribeRepos
    /// path is added when absent).
    url: String,
    /// Start after this seq (default: live, new events only).
    #[arg(long, value_name = "N")]
    cursor: Option<i64>,
    /// Append every frame, unchanged, to FILE (`LEB128 length ‖ bytes`).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Exit 0 after this many seconds without a frame (reconnecting included).
    #[arg(long, value_name = "SECONDS")]
    idle_exit: Option<f64>,
}

/// What the handler writes to.
struct Output {
    save: Option<CaptureWriter<File>>,
    stdout: std::io::Stdout,
    /// When the last frame came.
    last_frame: Instant,
}

/// Runs `atp firehose tail`.
pub fn run(args: Args) -> CmdResult {
    let idle = match args.idle_exit {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(CmdError::Setup(format!(
                "--idle-exit {s}: not a positive number of seconds"
            )));
        }
    };
    let save = match &args.save {
        None => None,
        Some(path) => Some(CaptureWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| CmdError::Setup(format!("cannot open {}: {e}", path.display())))?,
        )),
    };
    let consumer = Consumer::new(&args.url, MemoryCursor::new(args.cursor))
        .map_err(|e| CmdError::Setup(e.to_string()))?;
    let mut config = ConsumerConfig::default();
    // One shard: every event printed and saved in the order it came.
    config.shards = 1;
    config.backoff_max = Duration::from_secs(30);
    let consumer = consumer.with_config(config).on_status(|status| {
        if let Status::Disconnected { reason, retry_in } = status {
            eprintln!(
                "note: {}; reconnecting in {:.1} s",
                one_line(reason),
                retry_in.as_secs_f64()
            );
        }
    });
    runtime()?.block_on(async move {
        let output = Arc::new(Mutex::new(Output {
            save,
            stdout: std::io::stdout(),
            last_frame: Instant::now(),
        }));
        let watched = output.clone();
        let stop = async move {
            let Some(idle) = idle else {
                return std::future::pending().await;
            };
            loop {
                let deadline = lock(&watched).last_frame + idle;
                if Instant::now() >= deadline {
                    return;
                }
                tokio::time::sleep_until(deadline).await;
            }
        };
        let handler = move |event: Event| {
            let output = output.clone();
            async move { write_event(&mut lock(&output), &event) }
        };
        match consumer.run_until(handler, stop).await {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e @ (ConsumerError::Server { .. } | ConsumerError::Frame { .. })) => {
                Err(CmdError::No(e.to_string()))
            }
            Err(e) => Err(CmdError::Setup(e.to_string())),
        }
    })
}

fn lock(output: &Mutex<Output>) -> std::sync::MutexGuard<'_, Output> {
    output.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Saves then prints one event.
fn write_event(out: &mut Output, event: &Event) -> Result<(), HandlerError> {
    out.last_frame = Instant::now();
    if let Some(save) = &mut out.save {
        save.write_message(&event.message)
            .map_err(|e| format!("cannot append to the save file: {e}"))?;
    }
    let mut line = serde_json::to_string(&summary(event))?;
    line.push('\n');
    out.stdout
        .write_all(line.as_bytes())
        .and_then(|()| out.stdout.flush())
        .map_err(|e| format!("cannot write standard output: {e}"))?;
    Ok(())
}

/// The JSON line of one event.
fn summary(event: &Event) -> Value {
    let mut v = json!({ "type": event.frame.type_name() });
    if let Some(seq) = event.seq {
        v["seq"] = json!(seq);
    }
    match &event.frame {
        Frame::Commit(c) => {
            v["repo"] = json!(c.repo);
            v["ops"] = c
                .ops
                .iter()
                .map(|op| {
                    json!({
                        "action": op.action.as_str(),
                        "path": op.path,
                        "cid": op.cid.map(|c| c.to_string()),
                    })
                })
                .collect();
        }
        Frame::Info(i) => {
            v["name"] = json!(i.name);
            v["message"] = json!(i.message);
        }
        _ => {
            if let Some(did) = event.account() {
                v["did"] = json!(did);
            }
        }
    }
    v
}
