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
//! An XRPC error prints `error: NAME: MESSAGE` and exits 1; a service that
//! cannot be reached, a missing password or an unreadable file exit 2.

use std::path::PathBuf;
use std::process::ExitCode;

use atproto_lexicon::EndpointKind;
use atproto_xrpc::client::{
    ClientError, FileSessionStore, SessionClient, SessionStore, XrpcCall, XrpcClient, XrpcRequest,
    XrpcResponse,
};
use atproto_xrpc::{Method, MethodKind, QueryParams};

use crate::{CmdError, CmdResult};

/// The environment variable `atp xrpc login` reads the password from.
pub const PASSWORD_VAR: &str = "ATP_PASSWORD";

/// Subcommands of `atp xrpc`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Log in with com.atproto.server.createSession (password from
    /// ATP_PASSWORD) and save the session to a file (mode 0600).
    Login {
        /// The service's URL, e.g. https://pds.example.com.
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

async fn call(args: CallArgs) -> CmdResult {
    let method = method(&args.nsid, args.procedure)?;
    let mut request = XrpcRequest::new(method.clone()).with_params(params(&args.params)?);
    match (&args.input, method.kind) {
        (Some(path), MethodKind::Procedure) => {
            let body = crate::input::read_all(Some(path))?;
            let encoding = args
                .encoding
                .clone()
                .unwrap_or_else(|| "application/json".to_owned());
            if encoding == "application/json" {
                serde_json::from_slice::<serde_json::Value>(&body).map_err(|e| {
                    CmdError::Setup(format!("--input is not JSON ({e}); set --encoding"))
                })?;
            }
            request = request.with_body(body, encoding);
        }
        (Some(_), _) => {
            return Err(CmdError::Setup(format!(
                "{} is a query: it takes no --input",
                args.nsid
            )));
        }
        (None, _) => {}
    }
    let response = match (&args.service, &args.session) {
        (Some(service), _) => {
            let client = XrpcClient::new(service).map_err(client_error)?;
            client.send(request).await
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
            agent.send(request).await
        }
        (None, None) => return Err(CmdError::Setup("give --service or --session".to_owned())),
    }
    .map_err(client_error)?;
    print_response(&args, &response)
}

fn print_response(args: &CallArgs, response: &XrpcResponse) -> CmdResult {
    if let Some(path) = &args.output {
        std::fs::write(path, &response.body)
            .map_err(|e| CmdError::Setup(format!("cannot write {}: {e}", path.display())))?;
        println!(
            "{}",
            serde_json::json!({
                "output": path.display().to_string(),
                "contentType": response.content_type(),
                "bytes": response.body.len(),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
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
