//! `atp lexicon check|validate`: Lexicon schema documents and records.
//!
//! - `check DIR`: every `*.json` file under DIR (recursively) is a Lexicon
//!   document, and all of them form one catalog. Prints one `PATH: REASON`
//!   line per invalid document (sorted by path), then `N documents, M
//!   invalid`; exits 1 when M > 0, else 0.
//! - `validate [--schemas DIR] --nsid NSID [--rkey RKEY] [FILE]`: validates
//!   the ATProto JSON record in FILE (standard input when absent or `-`) as a
//!   record of type NSID. Prints `valid` (exit 0) or `invalid: PATH: REASON`
//!   (exit 1). Without `--schemas`, the catalog is the upstream `com.atproto`,
//!   `app.bsky`, `chat.bsky` and `tools.ozone` documents built into `atp`
//!   (`atproto_lexicon::bundled`); no file is read.
//!
//! A document is invalid when it is not JSON, breaks the Lexicon rules on its
//! own, repeats an `id` an earlier file (in path order) already has, or
//! cannot be compiled into the catalog of the valid documents: a reference
//! that does not resolve, including one into a document that is itself
//! invalid. `validate --schemas` uses the same catalog of valid documents and
//! warns on stderr about each document it leaves out.
//!
//! Setup errors (DIR cannot be read, NSID names no usable record type, FILE
//! cannot be read) print `error: MESSAGE` on stderr and exit 2, as usage
//! errors do, so that exit 1 always means "invalid".

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use atproto_lexicon::{Catalog, LexiconDoc, LexiconError, LookupError, SchemaErrorKind};

use crate::{CmdError, CmdResult};

/// Subcommands of `atp lexicon`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check every `*.json` Lexicon document under DIR as one catalog.
    Check {
        /// The directory of Lexicon documents (searched recursively).
        dir: PathBuf,
    },
    /// Validate an ATProto JSON record against a record type.
    Validate {
        /// The directory of Lexicon documents (searched recursively); without
        /// it, the upstream com.atproto, app.bsky, chat.bsky and tools.ozone
        /// documents built into atp.
        #[arg(long)]
        schemas: Option<PathBuf>,
        /// The record type's NSID.
        #[arg(long)]
        nsid: String,
        /// Also check this record key against the record type's `key`.
        #[arg(long)]
        rkey: Option<String>,
        /// The record (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
}

/// Runs `atp lexicon`.
pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Check { dir } => check(&dir),
        Command::Validate {
            schemas,
            nsid,
            rkey,
            file,
        } => validate(schemas.as_deref(), &nsid, rkey.as_deref(), file.as_deref()),
    }
}

/// A usage or setup error: `main` prints the message on stderr, exit code 2.
fn setup_error(message: &str) -> CmdResult {
    Err(CmdError::Setup(message.to_owned()))
}

/// A document file left out of the catalog, and why.
struct Invalid {
    path: PathBuf,
    /// The document's `id` as written, when the file has one.
    id: Option<String>,
    reason: String,
}

/// A directory of documents, loaded as far as it goes.
struct Loaded {
    /// How many `*.json` files there are.
    total: usize,
    /// The catalog of every valid document.
    catalog: Catalog,
    /// The others, sorted by path.
    invalid: Vec<Invalid>,
}

impl Loaded {
    /// The invalid document whose `id` is `nsid`, if there is one.
    fn invalid_doc(&self, nsid: &str) -> Option<&Invalid> {
        self.invalid.iter().find(|d| d.id.as_deref() == Some(nsid))
    }
}

/// The `id` string of a document that did not parse, if its JSON has one.
fn raw_id(bytes: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    json.get("id")?.as_str().map(str::to_owned)
}

/// Loads every document under `dir`: each is checked on its own first, then
/// the valid ones are compiled together. The catalog builder reports only the
/// first error, tagged with its document's `id`, so each failing document is
/// taken out in turn and the rest compiled again until they compile.
///
/// # Errors
/// Only setup errors: a directory that cannot be listed.
fn load(dir: &Path) -> Result<Loaded, String> {
    let files = atproto_lexicon::json_files(dir).map_err(|e| e.to_string())?;
    let total = files.len();
    let bar = crate::progress::counter("checking documents", total as u64);

    let mut invalid = Vec::new();
    let mut good: Vec<(PathBuf, LexiconDoc)> = Vec::new();
    let mut first_with_id: HashMap<String, PathBuf> = HashMap::new();
    for path in files {
        bar.inc(1);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                invalid.push(Invalid {
                    path,
                    id: None,
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match LexiconDoc::from_slice(&bytes) {
            Err(e) => invalid.push(Invalid {
                path,
                id: raw_id(&bytes),
                reason: e.to_string(),
            }),
            Ok(doc) => {
                let id = doc.id.as_str().to_owned();
                if let Some(first) = first_with_id.get(&id) {
                    let reason = format!(
                        "{id}: two documents with id {id:?} (the first is {})",
                        first.display()
                    );
                    invalid.push(Invalid {
                        path,
                        id: Some(id),
                        reason,
                    });
                } else {
                    first_with_id.insert(id, path.clone());
                    good.push((path, doc));
                }
            }
        }
    }
    bar.finish_and_clear();

    let spinner = crate::progress::spinner("compiling the catalog");
    let catalog = loop {
        let mut builder = Catalog::builder();
        for (_, doc) in &good {
            // Already checked, and ids are distinct: this cannot fail.
            builder.add_doc(doc.clone()).map_err(|e| e.to_string())?;
        }
        let err = match builder.build() {
            Ok(catalog) => break catalog,
            Err(err) => err,
        };
        let at = err
            .id()
            .and_then(|id| good.iter().position(|(_, d)| d.id.as_str() == id))
            .ok_or_else(|| format!("cannot compile the catalog: {err}"))?;
        let (path, doc) = good.remove(at);
        let mut reason = err.to_string();
        if let SchemaErrorKind::UnresolvedRef(r) = err.kind() {
            let target = r.split('#').next().unwrap_or_default();
            if let Some(bad) = invalid.iter().find(|d| d.id.as_deref() == Some(target)) {
                reason.push_str(&format!(
                    " ({target} is in {}, which is invalid)",
                    bad.path.display()
                ));
            }
        }
        invalid.push(Invalid {
            path,
            id: Some(doc.id.as_str().to_owned()),
            reason,
        });
    };
    spinner.finish_and_clear();
    invalid.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Loaded {
        total,
        catalog,
        invalid,
    })
}

fn check(dir: &Path) -> CmdResult {
    let loaded = match load(dir) {
        Ok(loaded) => loaded,
        Err(message) => return setup_error(&message),
    };
    for doc in &loaded.invalid {
        println!("{}: {}", doc.path.display(), doc.reason);
    }
    println!(
        "{} documents, {} invalid",
        loaded.total,
        loaded.invalid.len()
    );
    Ok(if loaded.invalid.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn validate(
    schemas: Option<&Path>,
    nsid: &str,
    rkey: Option<&str>,
    file: Option<&Path>,
) -> CmdResult {
    let loaded = match schemas.map(load).transpose() {
        Ok(loaded) => loaded,
        Err(message) => return setup_error(&message),
    };
    let catalog = match (&loaded, schemas) {
        (Some(loaded), Some(dir)) => {
            if loaded.total == 0 {
                return setup_error(&format!(
                    "no lexicon documents (*.json) under {}",
                    dir.display()
                ));
            }
            &loaded.catalog
        }
        _ => atproto_lexicon::bundled::catalog(),
    };
    let validator = match catalog.record(nsid) {
        Ok(v) => v,
        Err(e) => {
            let invalid = loaded.as_ref().and_then(|l| l.invalid_doc(nsid));
            let message = match (&e, invalid, schemas) {
                (LookupError::NotFound(_), Some(doc), _) => format!(
                    "no record type {nsid:?}: its document {} is invalid: {}",
                    doc.path.display(),
                    doc.reason
                ),
                (_, _, Some(dir)) => format!("{e} in {}", dir.display()),
                (_, _, None) => format!(
                    "{e} in the bundled lexicons ({}); use --schemas DIR for others",
                    atproto_lexicon::bundled::NAMESPACES.join(", ")
                ),
            };
            return setup_error(&message);
        }
    };
    for doc in loaded.iter().flat_map(|l| &l.invalid) {
        eprintln!(
            "warning: left out of the catalog: {}: {}",
            doc.path.display(),
            doc.reason
        );
    }
    let input = crate::input::read_all(file)?;
    let verdict = match std::str::from_utf8(&input) {
        Err(e) => Err(format!("not UTF-8 at byte {}", e.valid_up_to())),
        Ok(text) => rkey
            .map_or(Ok(()), |k| validator.check_rkey(k))
            .map_err(LexiconError::from)
            .and_then(|()| validator.validate_json(text).map(drop))
            .map_err(|e| match e {
                // Without the "invalid data: " prefix: it is `PATH: REASON` too.
                LexiconError::Json(e) => e.to_string(),
                e => e.to_string(),
            }),
    };
    match verdict {
        Ok(()) => {
            println!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            println!("invalid: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}
