//! `atp xrpc login` and `atp xrpc call`: XRPC from the command line, through
//! `atproto_xrpc`'s client and sessions.
//!
//! - `login --service URL --identifier HANDLE_OR_DID --session FILE`: the
//!   password comes from `ATP_PASSWORD` (never argv). Calls
//!   `com.atproto.server.createSession`, writes the session to FILE (JSON with
//!   `service`, `did`, `handle`, `accessJwt`, `refreshJwt`; mode 0600) and
//!   prints `{"did","handle"}`.
//! - `call (--service URL | --session FILE) NSID [KEY=VALUE …] [--input
//!   FILE|-] [--encoding MIME] [--output FILE] [--procedure]`: a query (GET)
//!   or procedure (POST) as the bundled lexicons say (`--procedure` forces
//!   POST for an NSID they do not know). A repeated KEY is an array. Prints a
//!   JSON answer on one line, or writes the body to `--output` and prints
//!   `{"output","contentType","bytes"}`. With `--session`, the access token
//!   is sent as Bearer; an `ExpiredToken` answer refreshes the session once,
//!   rewrites FILE and retries.
//!
//! Large bodies are streamed, never held whole: `--output` writes the body
//! to the file chunk by chunk as it arrives (a repository CAR from
//! `com.atproto.sync.getRepo`), and an `--input` file with a non-JSON
//! `--encoding` is read from disk as it is sent (a video for
//! `com.atproto.repo.uploadBlob`). JSON input, which is checked first, and
//! standard input are read whole.
//!
//! An XRPC error prints `error: NAME: MESSAGE` and exits 1; a service that
//! cannot be reached, a missing password or an unreadable file exit 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use atproto_lexicon::EndpointKind;
use atproto_xrpc::client::{
    ClientError, FileSessionStore, RequestBody, SessionClient, SessionStore, Upload, XrpcCall,
    XrpcClient, XrpcRequest, XrpcResponse, XrpcStreamResponse,
};
use atproto_xrpc::transport::{DEFAULT_MAX_RESPONSE_BYTES, reader_stream};
use atproto_xrpc::{Method, MethodKind, QueryParams};
use futures_util::StreamExt;

use crate::{CmdError, CmdResult};

/// The environment variable `atp xrpc login` reads the password from.
pub const PASSWORD_VAR: &str = "ATP_PASSWORD";

/// Subcommands of `atp xrpc`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Log in with com.atproto.server.createSession (password from
    /// ATP_PASSWORD) and save the session to a file (mode 0600).
    Login {
        /// The service's base URL: https or http, host and optional port.
        #[arg(long)]
        service: String,
        /// The account's handle, DID or email.
        #[arg(long)]
        identifier: String,
        /// The session file to write.
        #[arg(long)]
        session: PathBuf,
    },
    /// Call a query or procedure and print its JSON answer.
    Call(CallArgs),
}

/// Arguments of `atp xrpc call`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["service", "session"]))]
pub struct CallArgs {
    /// Call this service without authentication.
    #[arg(long)]
    service: Option<String>,
    /// Call the session's service with its access token (refreshed and
    /// rewritten in the file when it has expired).
    #[arg(long)]
    session: Option<PathBuf>,
    /// The method's NSID.
    nsid: String,
    /// Query parameters as KEY=VALUE; a repeated KEY is an array.
    params: Vec<String>,
    /// The procedure's body: a file, or - for standard input.
    #[arg(long)]
    input: Option<PathBuf>,
    /// The body's MIME type (default application/json).
    #[arg(long, requires = "input")]
    encoding: Option<String>,
    /// Write the response body to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Send as a procedure (POST) even if the bundled lexicons do not know
    /// the NSID.
    #[arg(long)]
    procedure: bool,
}

/// Runs `atp xrpc`.
pub fn run(cmd: Command) -> CmdResult {
    let runtime = runtime()?;
    match cmd {
        Command::Login {
            service,
            identifier,
            session,
        } => runtime.block_on(login(&service, &identifier, session)),
        Command::Call(args) => runtime.block_on(call(args)),
    }
}

/// A single-threaded runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CmdError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CmdError::Setup(format!("cannot start the async runtime: {e}")))
}

/// A client error as the exit-code convention has it: the server's "no" is
/// exit 1 (`NAME: MESSAGE`), not reaching it or a local problem exit 2.
pub fn client_error(e: ClientError) -> CmdError {
    match e {
        ClientError::Xrpc(x) | ClientError::SessionExpired(x) => CmdError::No(x.to_string()),
        ClientError::Decode { .. } | ClientError::SessionMismatch { .. } => {
            CmdError::No(e.to_string())
        }
        other => CmdError::Setup(other.to_string()),
    }
}

async fn login(service: &str, identifier: &str, session: PathBuf) -> CmdResult {
    let password = std::env::var(PASSWORD_VAR).map_err(|_| {
        CmdError::Setup(format!(
            "set the password in the environment variable {PASSWORD_VAR}"
        ))
    })?;
    let client = XrpcClient::new(service).map_err(client_error)?;
    let agent = SessionClient::new(client, FileSessionStore::new(session));
    let session = agent
        .login(identifier, &password, None)
        .await
        .map_err(client_error)?;
    println!(
        "{}",
        serde_json::json!({"did": session.did, "handle": session.handle})
    );
    Ok(ExitCode::SUCCESS)
}

/// The method `nsid` names: its kind from the bundled lexicons, or a query
/// (a procedure with `--procedure`) for one they do not know.
fn method(nsid: &str, force_procedure: bool) -> Result<Method, CmdError> {
    let parsed = nsid
        .parse()
        .map_err(|e| CmdError::Setup(format!("{nsid:?} is not an NSID: {e}")))?;
    let known = atproto_lexicon::bundled::catalog().endpoint_kind(nsid);
    let kind = match (known, force_procedure) {
        (Some(EndpointKind::Subscription), _) => {
            return Err(CmdError::Setup(format!(
                "{nsid} is a subscription (WebSocket), not a query or procedure"
            )));
        }
        (Some(EndpointKind::Query), true) => {
            return Err(CmdError::Setup(format!(
                "{nsid} is a query: --procedure does not apply"
            )));
        }
        (Some(EndpointKind::Procedure), _) | (None, true) => MethodKind::Procedure,
        _ => MethodKind::Query,
    };
    Ok(Method::new(parsed, kind))
}

fn params(pairs: &[String]) -> Result<QueryParams, CmdError> {
    let mut params = QueryParams::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| CmdError::Setup(format!("parameter {pair:?} is not KEY=VALUE")))?;
        if key.is_empty() {
            return Err(CmdError::Setup(format!("parameter {pair:?} has no name")));
        }
        params.push(key, value);
    }
    Ok(params)
}

/// The body of `--input`: JSON (checked, so held whole) or standard input
/// goes in the request; a file of another encoding is streamed from disk.
enum Input {
    /// In the request already, or none.
    Held,
    /// A file streamed as the body, reopened for a resend.
    Streamed { path: PathBuf, encoding: String },
}

impl Input {
    /// The upload, if the body is streamed: the file from its start.
    fn upload(&self) -> Result<Option<Upload>, CmdError> {
        let Input::Streamed { path, encoding } = self else {
            return Ok(None);
        };
        let cannot =
            |e: std::io::Error| CmdError::Setup(format!("cannot read {}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(cannot)?;
        let length = file.metadata().map_err(cannot)?.len();
        Ok(Some(Upload::new(
            reader_stream(file, UPLOAD_CHUNK),
            encoding.clone(),
            Some(length),
        )))
    }
}

/// The size of the chunks a streamed `--input` file is read in.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// Adds `--input` to `request`: held whole when it is JSON (checked here)
/// or standard input, else streamed from the file.
fn input(args: &CallArgs, kind: MethodKind, request: &mut XrpcRequest) -> Result<Input, CmdError> {
    let Some(path) = &args.input else {
        return Ok(Input::Held);
    };
    if kind != MethodKind::Procedure {
        return Err(CmdError::Setup(format!(
            "{} is a query: it takes no --input",
            args.nsid
        )));
    }
    let encoding = args
        .encoding
        .clone()
        .unwrap_or_else(|| "application/json".to_owned());
    if encoding != "application/json" && path != Path::new("-") {
        return Ok(Input::Streamed {
            path: path.clone(),
            encoding,
        });
    }
    let body = crate::input::read_all(Some(path))?;
    if encoding == "application/json" {
        serde_json::from_slice::<serde_json::Value>(&body)
            .map_err(|e| CmdError::Setup(format!("--input is not JSON ({e}); set --encoding")))?;
    }
    request.body = Some(RequestBody {
        bytes: body.into(),
        content_type: encoding,
    });
    Ok(Input::Held)
}

async fn call(args: CallArgs) -> CmdResult {
    let method = method(&args.nsid, args.procedure)?;
    let kind = method.kind;
    let mut request = XrpcRequest::new(method).with_params(params(&args.params)?);
    let input = input(&args, kind, &mut request)?;
    let response = match (&args.service, &args.session) {
        (Some(service), _) => {
            let client = XrpcClient::new(service).map_err(client_error)?;
            client.send_streaming(request, input.upload()?).await
        }
        (None, Some(file)) => {
            let store = FileSessionStore::new(file);
            let session = store
                .load()
                .map_err(|e| CmdError::Setup(e.to_string()))?
                .ok_or_else(|| {
                    CmdError::Setup(format!(
                        "{} holds no session: run `atp xrpc login` first",
                        file.display()
                    ))
                })?;
            let client = XrpcClient::new(&session.service).map_err(client_error)?;
            let agent = SessionClient::new(client, store);
            agent.set_session(session).map_err(client_error)?;
            match agent.send_streaming(request.clone(), input.upload()?).await {
                // A streamed body is not resent by the client: refresh and
                // stream the file again here.
                Err(e) if e.is_expired_token() && matches!(input, Input::Streamed { .. }) => {
                    agent.refresh().await.map_err(client_error)?;
                    agent.send_streaming(request, input.upload()?).await
                }
                other => other,
            }
        }
        (None, None) => return Err(CmdError::Setup("give --service or --session".to_owned())),
    }
    .map_err(client_error)?;
    match &args.output {
        Some(path) => write_output(path, response).await,
        None => print_response(
            &response
                .collect(DEFAULT_MAX_RESPONSE_BYTES)
                .await
                .map_err(client_error)?,
        ),
    }
}

/// Writes the body to `path` chunk by chunk (removing the file if the body
/// breaks off) and prints `{"output","contentType","bytes"}`.
async fn write_output(path: &Path, response: XrpcStreamResponse) -> CmdResult {
    let content_type = response.content_type().map(str::to_owned);
    let cannot =
        |e: std::io::Error| CmdError::Setup(format!("cannot write {}: {e}", path.display()));
    let mut file = std::fs::File::create(path).map_err(cannot)?;
    let mut body = response.body;
    let mut bytes = 0u64;
    let written: Result<(), CmdError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| CmdError::Setup(e.to_string()))?;
            file.write_all(&chunk).map_err(cannot)?;
            bytes += chunk.len() as u64;
        }
        file.flush().map_err(cannot)
    }
    .await;
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    println!(
        "{}",
        serde_json::json!({
            "output": path.display().to_string(),
            "contentType": content_type,
            "bytes": bytes,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn print_response(response: &XrpcResponse) -> CmdResult {
    if response.body.is_empty() {
        println!("{{}}");
        return Ok(ExitCode::SUCCESS);
    }
    if !response.is_json() {
        return Err(CmdError::Setup(format!(
            "the answer is {} ({} bytes), not JSON: give --output FILE",
            response.content_type().unwrap_or("untyped"),
            response.body.len()
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body)
        .map_err(|e| CmdError::No(format!("the answer is not valid JSON: {e}")))?;
    println!("{value}");
    Ok(ExitCode::SUCCESS)
}
