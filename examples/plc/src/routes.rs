//! The HTTP API, as the reference directory serves it: `POST /{did}` takes
//! a signed operation; `GET /{did}` the DID document, `/{did}/data`,
//! `/{did}/log`, `/{did}/log/audit`, `/{did}/log/last`; `GET /export` the
//! operations as JSON lines; `GET /_health`. Every error is
//! `{"message": "..."}` with its status.

use std::sync::Arc;
use std::time::Instant;

use atproto_core::Did;
use atproto_xrpc::identity::plc::{Operation, PlcState, parse_operation};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::constraints;
use crate::store::{Store, StoreError, Stored, SubmitError};

/// Largest request body read, in bytes; larger ones get 413. (Operations
/// over [`atproto_xrpc::identity::plc::MAX_OPERATION_JSON`] bytes of JSON
/// or [`constraints::MAX_OP_BYTES`] of DAG-CBOR get 400.)
pub const MAX_BODY: usize = 64 * 1024;
/// The most operations one `/export` page holds (and the default).
pub const MAX_EXPORT_COUNT: u32 = 1000;

/// An error answer: a status and `{"message": ...}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_registered(did: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("DID not registered: {did}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failed");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "message": self.message }).to_string();
        Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from(body))
            .unwrap_or_else(|_| self.status.into_response())
    }
}

type Shared = Arc<Store>;
type ApiResult = Result<Response, ApiError>;

/// Runs `f` with the store on the blocking pool (SQLite calls block).
async fn blocking<T: Send + 'static>(
    store: &Shared,
    f: impl FnOnce(&Store) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|error| {
            tracing::error!(%error, "store task failed");
            ApiError::internal()
        })
}

fn json_response(status: StatusCode, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// 200 with `value` as JSON of type `content_type`.
fn ok_json_as(content_type: &str, value: &impl serde::Serialize) -> ApiResult {
    let body = serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "cannot write JSON");
        ApiError::internal()
    })?;
    Ok(json_response(StatusCode::OK, content_type, body))
}

/// 200 with `value` as `application/json`.
fn ok_json(value: &impl serde::Serialize) -> ApiResult {
    ok_json_as("application/json; charset=utf-8", value)
}

/// The router over `store`.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/_health", get(health))
        .route("/export", get(export))
        .route("/{did}", get(document).post(submit))
        .route("/{did}/data", get(data))
        .route("/{did}/log", get(log))
        .route("/{did}/log/audit", get(audit))
        .route("/{did}/log/last", get(last))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Not Found") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(trace))
        .with_state(store)
}

/// Logs each request: method, path, status, time.
async fn trace(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn health(State(store): State<Shared>) -> ApiResult {
    let version = env!("CARGO_PKG_VERSION");
    match blocking(&store, |s| s.health()).await? {
        Ok(()) => ok_json(&json!({ "version": version })),
        Err(error) => {
            tracing::error!(%error, "health check failed");
            Ok(json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "application/json; charset=utf-8",
                json!({ "version": version, "error": "Service Unavailable" }).to_string(),
            ))
        }
    }
}

/// The current state of `did`: its last operation, or 404 when unknown.
async fn current(store: &Shared, did: String) -> Result<(Did, Option<Stored>), ApiError> {
    let parsed: Did = did.parse().map_err(|_| ApiError::not_registered(&did))?;
    let last = blocking(store, move |s| s.last(&did)).await??;
    Ok((parsed, last))
}

/// The data of an active DID; 404 unknown, 410 tombstoned.
async fn active_data(
    store: &Shared,
    did: String,
) -> Result<(Did, atproto_xrpc::identity::PlcData), ApiError> {
    let (parsed, last) = current(store, did).await?;
    let Some(last) = last else {
        return Err(ApiError::not_registered(parsed.as_str()));
    };
    match last.operation.data() {
        Some(data) => Ok((parsed, data)),
        None => Err(ApiError::new(
            StatusCode::GONE,
            format!("DID not available: {parsed}"),
        )),
    }
}

async fn document(State(store): State<Shared>, Path(did): Path<String>) -> ApiResult {
    let (did, data) = active_data(&store, did).await?;
    ok_json_as(
        "application/did+ld+json; charset=utf-8",
        &data.to_did_document(&did),
    )
}

async fn data(State(store): State<Shared>, Path(did): Path<String>) -> ApiResult {
    let (did, data) = active_data(&store, did).await?;
    ok_json(&json!({
        "did": did.as_str(),
        "verificationMethods": data.verification_methods,
        "rotationKeys": data.rotation_keys,
        "alsoKnownAs": data.also_known_as,
        "services": data.services,
    }))
}

async fn log(State(store): State<Shared>, Path(did): Path<String>) -> ApiResult {
    let key = did.clone();
    let ops = blocking(&store, move |s| s.log(&key)).await??;
    if ops.is_empty() {
        return Err(ApiError::not_registered(&did));
    }
    let ops: Vec<&Operation> = ops.iter().map(|o| &o.operation).collect();
    ok_json(&ops)
}

async fn audit(State(store): State<Shared>, Path(did): Path<String>) -> ApiResult {
    let key = did.clone();
    let ops = blocking(&store, move |s| s.audit_log(&key)).await??;
    if ops.is_empty() {
        return Err(ApiError::not_registered(&did));
    }
    let entries: Vec<_> = ops.iter().map(Stored::audit_entry).collect();
    ok_json(&entries)
}

async fn last(State(store): State<Shared>, Path(did): Path<String>) -> ApiResult {
    let (did, last) = current(&store, did).await?;
    match last {
        Some(last) => ok_json(&last.operation),
        None => Err(ApiError::not_registered(did.as_str())),
    }
}

async fn submit(State(store): State<Shared>, Path(did): Path<String>, body: Bytes) -> ApiResult {
    let did: Did = did
        .parse()
        .ok()
        .filter(|d: &Did| d.check_plc_form().is_ok())
        .ok_or_else(|| ApiError::bad_request(format!("Improperly formatted did: {did}")))?;
    let op = parse_operation(&body)
        .map_err(|e| ApiError::bad_request(format!("Not a valid operation: {e}")))?;
    constraints::check(&op).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let key = did.clone();
    let accepted = blocking(&store, move |s| s.submit(&key, &op)).await?;
    match accepted {
        Ok(accepted) => {
            let kind = match (&accepted.stored.operation, accepted.stored.operation.prev()) {
                (Operation::Tombstone(_), _) => "tombstone",
                (_, None) => "genesis",
                _ if !accepted.nullified.is_empty() => "recovery",
                _ => "update",
            };
            tracing::info!(
                did = %did,
                cid = %accepted.stored.cid,
                seq = accepted.stored.seq,
                kind,
                nullified = accepted.nullified.len(),
                tombstoned = matches!(accepted.state, PlcState::Tombstoned),
                "operation accepted"
            );
            Ok(StatusCode::OK.into_response())
        }
        Err(SubmitError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::info!(did = %did, error = %e, "operation refused");
            Err(ApiError::bad_request(e.to_string()))
        }
    }
}

/// `/export` parameters: `count` (1 to 1000, default 1000) and `after` (a
/// `seq` number, or a datetime).
#[derive(Debug, Deserialize)]
struct ExportParams {
    count: Option<String>,
    after: Option<String>,
}

async fn export(State(store): State<Shared>, Query(params): Query<ExportParams>) -> ApiResult {
    let count = match params.count.as_deref() {
        None | Some("") => MAX_EXPORT_COUNT,
        Some(c) => c
            .parse::<u64>()
            .ok()
            .filter(|c| *c >= 1)
            .map(|c| u32::try_from(c.min(u64::from(MAX_EXPORT_COUNT))).unwrap_or(MAX_EXPORT_COUNT))
            .ok_or_else(|| ApiError::bad_request("Invalid count parameter"))?,
    };
    let after = params.after.filter(|a| !a.is_empty());
    let by_seq = after
        .as_deref()
        .is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit()));
    let lines: Vec<Value> = if by_seq {
        let after: i64 = after
            .as_deref()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| ApiError::bad_request("Invalid after parameter"))?;
        let ops = blocking(&store, move |s| s.export_by_seq(count, after)).await??;
        ops.iter()
            .map(|o| {
                json!({
                    "seq": o.seq,
                    "type": "sequenced_op",
                    "did": o.did,
                    "operation": o.operation,
                    "cid": o.cid,
                    "createdAt": o.created_at(),
                })
            })
            .collect()
    } else {
        let after_ms = match after.as_deref() {
            None => None,
            Some(a) => Some(
                a.parse::<atproto_core::syntax::Datetime>()
                    .map(|d| d.timestamp_micros().div_euclid(1000))
                    .map_err(|_| ApiError::bad_request("Invalid after parameter"))?,
            ),
        };
        let ops = blocking(&store, move |s| s.export_by_time(count, after_ms)).await??;
        ops.iter()
            .map(|o| serde_json::to_value(o.audit_entry()).unwrap_or(Value::Null))
            .collect()
    };
    let body: Vec<String> = lines.iter().map(Value::to_string).collect();
    Ok(json_response(
        StatusCode::OK,
        "application/jsonlines",
        body.join("\n"),
    ))
}
