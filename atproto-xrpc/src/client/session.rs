//! An account's session ([`Session`]) and the client that uses it
//! ([`SessionClient`]): login, resume, logout, and the access token sent
//! with every call and refreshed when it expires.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::transport::{HttpClient, ReqwestClient};

use super::XrpcClient;
use super::call::{CallOptions, Upload, XrpcCall, XrpcRequest, XrpcResponse, XrpcStreamResponse};
use super::error::{ClientError, is_dead_refresh};
use super::store::SessionStore;

const CREATE_SESSION: &str = "com.atproto.server.createSession";
const GET_SESSION: &str = "com.atproto.server.getSession";
const REFRESH_SESSION: &str = "com.atproto.server.refreshSession";
const DELETE_SESSION: &str = "com.atproto.server.deleteSession";

/// A logged-in account: the output of `com.atproto.server.createSession`
/// (JSON field names as there: `did`, `handle`, `accessJwt`, `refreshJwt`,
/// `email`, …) plus the `service` it was created on. Debug output hides the
/// tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The account's DID.
    pub did: String,
    /// The account's handle.
    pub handle: String,
    /// The access token, sent as `Authorization: Bearer` with every call.
    pub access_jwt: String,
    /// The refresh token, sent only to refresh or delete the session.
    pub refresh_jwt: String,
    /// The service URL the session belongs to.
    #[serde(default)]
    pub service: String,
    /// The account's email, if the server told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_confirmed: Option<bool>,
    /// Whether login asks for an emailed code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_auth_factor: Option<bool>,
    /// Whether the account is active (absent means active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Why the account is not active (`takendown`, `suspended`,
    /// `deactivated`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("access_jwt", &"<hidden>")
            .field("refresh_jwt", &"<hidden>")
            .field("service", &self.service)
            .field("email", &self.email)
            .field("email_confirmed", &self.email_confirmed)
            .field("email_auth_factor", &self.email_auth_factor)
            .field("active", &self.active)
            .field("status", &self.status)
            .finish()
    }
}

impl Session {
    /// Takes the tokens, DID and handle of a refresh answer (and the
    /// account status when it tells), keeping the rest.
    fn refreshed(&self, answer: Session) -> Session {
        let (active, status) = match answer.active {
            Some(_) => (answer.active, answer.status),
            None => (self.active, self.status.clone()),
        };
        Session {
            did: answer.did,
            handle: answer.handle,
            access_jwt: answer.access_jwt,
            refresh_jwt: answer.refresh_jwt,
            active,
            status,
            ..self.clone()
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateSessionInput<'a> {
    identifier: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_factor_token: Option<&'a str>,
}

/// `com.atproto.server.getSession`'s output: the session without tokens.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionInfo {
    did: String,
    handle: String,
    email: Option<String>,
    email_confirmed: Option<bool>,
    email_auth_factor: Option<bool>,
    active: Option<bool>,
    status: Option<String>,
}

/// An [`XrpcClient`] with an account's session: every call through its
/// [`XrpcCall`] methods carries the access token, and an expired token is
/// refreshed once (for all concurrent callers) and the call retried. A call
/// with a streamed upload ([`XrpcCall::send_streaming`] with an
/// [`Upload`]) carries the token too but is not retried: its stream is spent,
/// so the `ExpiredToken` error is returned for the caller to
/// [`refresh`](Self::refresh) and send a new stream.
///
/// Refresh follows the reference agent (`@atproto/api`'s
/// `CredentialSession`): a call answered with `ExpiredToken` (status 400, or
/// 401) triggers `com.atproto.server.refreshSession` with the refresh JWT,
/// the new tokens are stored, and the call is sent once more. If the refresh
/// is refused with `ExpiredToken` or `InvalidToken`, the session is cleared
/// (in memory and in the store) and the call fails with
/// [`ClientError::SessionExpired`]; any other refresh failure (the network,
/// a 5xx) is returned as it is and the session kept.
///
/// Refreshes are single flight: callers that see their token expire at the
/// same time queue on one lock; the first refreshes, and the others, finding
/// that the token they were refused is no longer the current one, retry with
/// the new token without refreshing again. A refresh that fails without
/// ending the session (the network, a 5xx) is not tried again by the
/// callers that were waiting on it: the refreshing caller gets the refresh's
/// error and the others the `ExpiredToken` answer of their own call, as with
/// the reference agent's shared refresh promise. The reference PDS rotates the
/// refresh token at each refresh and honours a used one only within a short
/// grace period, so parallel refreshes would be wasteful at best.
///
/// Not done here: the reference agent also moves to the PDS named in the
/// `didDoc` of the session answers; this client keeps the service it was
/// built for.
pub struct SessionClient<H: HttpClient = ReqwestClient> {
    client: XrpcClient<H>,
    store: Arc<dyn SessionStore>,
    session: Mutex<Option<Session>>,
    refresh_lock: tokio::sync::Mutex<()>,
    /// Refreshes finished so far, successful or not.
    refresh_attempts: AtomicU64,
}

impl<H: HttpClient> fmt::Debug for SessionClient<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionClient")
            .field("client", &self.client)
            .field("session", &self.session())
            .finish_non_exhaustive()
    }
}

impl<H: HttpClient> SessionClient<H> {
    /// A client with no session yet, keeping sessions in `store`.
    pub fn new(client: XrpcClient<H>, store: impl SessionStore + 'static) -> Self {
        Self {
            client,
            store: Arc::new(store),
            session: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            refresh_attempts: AtomicU64::new(0),
        }
    }

    /// The client underneath (calls through it carry no session).
    pub fn client(&self) -> &XrpcClient<H> {
        &self.client
    }

    /// The current session, if any.
    pub fn session(&self) -> Option<Session> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, session: Session) -> Result<Session, ClientError> {
        self.store.save(&session)?;
        *self.lock() = Some(session.clone());
        Ok(session)
    }

    fn clear(&self) -> Result<(), ClientError> {
        *self.lock() = None;
        self.store.clear()?;
        Ok(())
    }

    /// Logs in with `com.atproto.server.createSession` (`identifier` is a
    /// handle, DID or email; `auth_factor_token` the emailed code when the
    /// account asks for one), stores the session and returns it.
    ///
    /// # Errors
    /// The call's error (e.g. 401 `AuthenticationRequired` for a wrong
    /// password, `AuthFactorTokenRequired`), or [`ClientError::Store`].
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
        auth_factor_token: Option<&str>,
    ) -> Result<Session, ClientError> {
        let input = CreateSessionInput {
            identifier,
            password,
            auth_factor_token,
        };
        let mut session: Session = self.client.procedure(CREATE_SESSION, &(), &input).await?;
        session.service = self.client.service().to_owned();
        self.set(session)
    }

    /// Takes `session` as the current one without asking the server, and
    /// stores it.
    ///
    /// # Errors
    /// [`ClientError::Store`].
    pub fn set_session(&self, session: Session) -> Result<(), ClientError> {
        self.set(session).map(drop)
    }

    /// Loads the stored session, if any, and makes it current without
    /// asking the server (the first call refreshes it if it has expired).
    ///
    /// # Errors
    /// [`ClientError::Store`].
    pub fn restore(&self) -> Result<Option<Session>, ClientError> {
        let session = self.store.load()?;
        *self.lock() = session.clone();
        Ok(session)
    }

    /// Resumes `session`: makes it current, then checks it with
    /// `com.atproto.server.getSession` (refreshing the tokens if the access
    /// token has expired) and takes the account fields from the answer.
    ///
    /// On failure there is no current session, as in the reference agent;
    /// the store is cleared too when the server refused the tokens
    /// (`ExpiredToken`, `InvalidToken`, a DID mismatch), and kept otherwise
    /// (a network failure, a 5xx), so that a later run can try again.
    ///
    /// # Errors
    /// [`ClientError::SessionMismatch`] if the server answers for another
    /// DID, [`ClientError::SessionExpired`] if the refresh token is refused,
    /// or the call's error.
    pub async fn resume(&self, session: Session) -> Result<Session, ClientError> {
        *self.lock() = Some(session);
        let info: SessionInfo = match self.query(GET_SESSION, &()).await {
            Ok(info) => info,
            Err(ClientError::Xrpc(e)) if is_dead_refresh(&e) => {
                self.clear()?;
                return Err(ClientError::Xrpc(e));
            }
            Err(e) => {
                *self.lock() = None;
                return Err(e);
            }
        };
        let current = self.session().ok_or(ClientError::NoSession)?;
        if info.did != current.did {
            self.clear()?;
            return Err(ClientError::SessionMismatch {
                expected: current.did,
                found: info.did,
            });
        }
        self.set(Session {
            handle: info.handle,
            email: info.email,
            email_confirmed: info.email_confirmed,
            email_auth_factor: info.email_auth_factor,
            active: info.active,
            status: info.status,
            ..current
        })
    }

    /// Logs out: `com.atproto.server.deleteSession` with the refresh token,
    /// then clears the session, in memory and in the store, whether the
    /// call succeeded or not.
    ///
    /// # Errors
    /// [`ClientError::NoSession`], the call's error, or
    /// [`ClientError::Store`].
    pub async fn logout(&self) -> Result<(), ClientError> {
        let session = self.session().ok_or(ClientError::NoSession)?;
        let result: Result<(), ClientError> = self
            .client
            .procedure_with(
                DELETE_SESSION,
                &(),
                &(),
                CallOptions::new().bearer(session.refresh_jwt),
            )
            .await;
        self.clear()?;
        result
    }

    /// Refreshes the tokens now with `com.atproto.server.refreshSession`,
    /// stores and returns the new session.
    ///
    /// # Errors
    /// As for a refresh after `ExpiredToken` (see the module docs).
    pub async fn refresh(&self) -> Result<Session, ClientError> {
        let _guard = self.refresh_lock.lock().await;
        self.refresh_locked().await
    }

    /// Refreshes unless another caller already replaced `failed_token`, or
    /// already tried to since the refused call was sent (when
    /// `attempts_seen` refreshes had finished). Whether the call should be
    /// sent again with the current token.
    async fn refresh_after(
        &self,
        failed_token: &str,
        attempts_seen: u64,
    ) -> Result<bool, ClientError> {
        let _guard = self.refresh_lock.lock().await;
        match self.session() {
            None => Err(ClientError::NoSession),
            Some(current) if current.access_jwt != failed_token => Ok(true),
            Some(_) if self.refresh_attempts.load(Ordering::SeqCst) != attempts_seen => Ok(false),
            Some(_) => self.refresh_locked().await.map(|_| true),
        }
    }

    async fn refresh_locked(&self) -> Result<Session, ClientError> {
        let current = self.session().ok_or(ClientError::NoSession)?;
        let answer: Result<Session, ClientError> = self
            .client
            .procedure_with(
                REFRESH_SESSION,
                &(),
                &(),
                CallOptions::new().bearer(current.refresh_jwt.clone()),
            )
            .await;
        // Counted once the outcome is known: a call sent while this refresh
        // was under way is answered by it.
        self.refresh_attempts.fetch_add(1, Ordering::SeqCst);
        match answer {
            Ok(answer) => self.set(current.refreshed(answer)),
            Err(ClientError::Xrpc(e)) if is_dead_refresh(&e) => {
                self.clear()?;
                Err(ClientError::SessionExpired(e))
            }
            Err(e) => Err(e),
        }
    }

    fn access_token(&self) -> Result<String, ClientError> {
        self.lock()
            .as_ref()
            .map(|s| s.access_jwt.clone())
            .ok_or(ClientError::NoSession)
    }

    /// Sends `request` through `send` with the session's access token; on
    /// `ExpiredToken`, refreshes once and sends it again.
    async fn authed<T, F>(
        &self,
        mut request: XrpcRequest,
        send: impl Fn(XrpcRequest) -> F,
    ) -> Result<T, ClientError>
    where
        F: Future<Output = Result<T, ClientError>>,
    {
        if request.options.bearer.is_some() {
            // The caller's own credentials (a service-auth token, say).
            return send(request).await;
        }
        let token = self.access_token()?;
        let attempts = self.refresh_attempts.load(Ordering::SeqCst);
        request.options.bearer = Some(token.clone());
        match send(request.clone()).await {
            Err(e) if e.is_expired_token() => {
                if !self.refresh_after(&token, attempts).await? {
                    // A refresh tried since this call was sent failed.
                    return Err(e);
                }
                request.options.bearer = Some(self.access_token()?);
                send(request).await
            }
            other => other,
        }
    }

    async fn send_streaming_authed(
        &self,
        mut request: XrpcRequest,
        upload: Option<Upload>,
    ) -> Result<XrpcStreamResponse, ClientError> {
        match upload {
            // A stream is sent once: no refresh and retry.
            Some(upload) => {
                if request.options.bearer.is_none() {
                    request.options.bearer = Some(self.access_token()?);
                }
                self.client.send_streaming(request, Some(upload)).await
            }
            None => {
                self.authed(request, |r| self.client.send_streaming(r, None))
                    .await
            }
        }
    }
}

impl<H: HttpClient> XrpcCall for SessionClient<H> {
    /// Sends the request with the session's access token; on
    /// `ExpiredToken`, refreshes once and sends it again. A request that
    /// already has a bearer token in its options is sent as it is, with no
    /// session (as the reference agent leaves an `authorization` header set
    /// by the caller alone).
    fn send(
        &self,
        request: XrpcRequest,
    ) -> impl std::future::Future<Output = Result<XrpcResponse, ClientError>> + Send {
        self.authed(request, |r| self.client.send(r))
    }

    /// Streams as [`XrpcClient`] does, with the session's access token. On
    /// `ExpiredToken`, a request without an upload is sent again after a
    /// refresh, as with [`send`](XrpcCall::send); a request with an upload
    /// is not (its stream is spent): the error is returned, and the caller
    /// refreshes ([`SessionClient::refresh`]) and sends a new stream.
    fn send_streaming(
        &self,
        request: XrpcRequest,
        upload: Option<Upload>,
    ) -> impl std::future::Future<Output = Result<XrpcStreamResponse, ClientError>> + Send {
        self.send_streaming_authed(request, upload)
    }
}
