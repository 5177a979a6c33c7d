//! Reading a command's input from a file or standard input.

use std::io::Read;
use std::path::Path;

use crate::CmdError;

/// The whole content of `file`, or of standard input when it is `None` or `-`.
///
/// # Errors
/// [`CmdError::Setup`] when it cannot be read.
pub fn read_all(file: Option<&Path>) -> Result<Vec<u8>, CmdError> {
    match file {
        Some(path) if path != Path::new("-") => std::fs::read(path)
            .map_err(|e| CmdError::Setup(format!("cannot read {}: {e}", path.display()))),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| CmdError::Setup(format!("cannot read standard input: {e}")))?;
            Ok(buf)
        }
    }
}
