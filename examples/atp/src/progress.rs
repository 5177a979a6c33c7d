//! Progress output on stderr for long loads and exports: shown only when
//! stderr is a terminal, so scripts that capture output never see it.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::CmdError;

/// Whether progress should be drawn.
fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner with `message` and the elapsed time (hidden when stderr is not a terminal).
pub fn spinner(message: &str) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A bar counting `total` items (hidden when stderr is not a terminal).
pub fn counter(message: &str, total: u64) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total).with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} [{elapsed}]") {
        bar.set_style(style);
    }
    bar
}

/// Reads a whole file, with a byte progress bar for large files on a terminal.
///
/// # Errors
/// [`CmdError::Setup`] when it cannot be read.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CmdError> {
    let err = |e: std::io::Error| CmdError::Setup(format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let bar = if enabled() && len > 8 << 20 {
        let bar = ProgressBar::new(len).with_message(format!("reading {}", path.display()));
        if let Ok(style) =
            ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut out = Vec::with_capacity(len as usize);
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut chunk).map_err(err)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}
