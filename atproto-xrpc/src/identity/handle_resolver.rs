//! Handle resolution (feature `resolve`): the [`HandleResolver`] trait and
//! its implementations.
//!
//! - [`DnsTxtResolver`]: the TXT record `_atproto.<handle>`, which must hold
//!   exactly one `did=<did>` value (several different values are
//!   [`ResolveError::AmbiguousDns`]; repeats of one value count once);
//! - [`WellKnownResolver`]: `GET https://<handle>/.well-known/atproto-did`,
//!   whose first line, trimmed, must be a DID (body at most
//!   [`MAX_WELL_KNOWN_BYTES`]);
//! - [`DefaultHandleResolver`]: both at once, as the reference resolver
//!   (`packages/identity`) does: the DNS answer wins whenever there is one
//!   (also when HTTPS answered first, or differently); the HTTPS answer is
//!   used only when DNS gave none (no record, ambiguous, failed or timed out);
//!   each method has its own time limit;
//! - [`XrpcHandleResolver`]: asks a service
//!   (`com.atproto.identity.resolveHandle`), for clients that trust their PDS
//!   or AppView;
//! - [`MemoryHandleResolver`]: a fixed table.
//!
//! Handles are compared and looked up in lowercase. A handle with a
//! disallowed TLD (`.local`, `.arpa`, `.internal`, …) is not resolved
//! ([`ResolveError::InvalidIdentifier`]).

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use atproto_core::{Did, Handle};

use crate::identity::did_resolver::{
    ResolveError, forward_resolver, http_get, http_resolver, is_loopback_host, origin,
};
use crate::identity::dns::{TxtLookup, TxtLookupError};
use crate::transport::{BoxFuture, HttpClient};

/// Largest `/.well-known/atproto-did` body read by [`WellKnownResolver`].
pub const MAX_WELL_KNOWN_BYTES: usize = 4096;

/// Default time limit of each method in [`DefaultHandleResolver`]: 3 s, as
/// the reference.
pub const DEFAULT_HANDLE_TIMEOUT: Duration = Duration::from_secs(3);

/// The DNS label under the handle that holds the TXT record.
pub const ATPROTO_TXT_LABEL: &str = "_atproto";

/// Resolves a handle to a DID (the forward direction only: the DID document
/// is not checked; [`IdentityResolver`](crate::identity::IdentityResolver)
/// does that). Object safe.
pub trait HandleResolver: Send + Sync {
    /// The DID `handle` points to.
    ///
    /// # Errors
    /// A [`ResolveError`].
    fn resolve_handle<'a>(&'a self, handle: &'a Handle)
    -> BoxFuture<'a, Result<Did, ResolveError>>;

    /// As [`resolve_handle`](Self::resolve_handle), bypassing any cache.
    ///
    /// # Errors
    /// A [`ResolveError`].
    fn refresh_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        self.resolve_handle(handle)
    }
}

forward_resolver!(HandleResolver, resolve_handle, refresh_handle, Handle, Did);

/// Refuses handles with a disallowed TLD unless `allow` says otherwise.
fn check_resolvable(handle: &Handle, allow: bool) -> Result<(), ResolveError> {
    if handle.is_disallowed_tld() && !allow {
        return Err(ResolveError::InvalidIdentifier(handle.as_str().to_owned()));
    }
    Ok(())
}

/// Picks the DID out of the TXT records of `_atproto.<handle>`.
fn did_from_txt(handle: &Handle, records: &[String]) -> Result<Did, ResolveError> {
    let mut values: Vec<&str> = Vec::new();
    for value in records.iter().filter_map(|r| r.strip_prefix("did=")) {
        if !values.contains(&value) {
            values.push(value);
        }
    }
    match values.as_slice() {
        [] => Err(ResolveError::NotFound(format!(
            "DNS TXT did= record for handle {handle}"
        ))),
        [one] => one.parse().map_err(|e| ResolveError::InvalidResponse {
            url: format!("dns:{ATPROTO_TXT_LABEL}.{handle}"),
            reason: format!("{one:?} is not a DID: {e}"),
        }),
        _ => Err(ResolveError::AmbiguousDns {
            handle: handle.as_str().to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }),
    }
}

/// Resolves a handle through the DNS TXT record `_atproto.<handle>`.
#[derive(Debug, Clone)]
pub struct DnsTxtResolver<L> {
    lookup: L,
}

impl<L: TxtLookup> DnsTxtResolver<L> {
    /// A resolver over `lookup` (e.g.
    /// [`HickoryTxtLookup`](crate::identity::HickoryTxtLookup)).
    pub fn new(lookup: L) -> Self {
        DnsTxtResolver { lookup }
    }

    async fn resolve(&self, handle: &Handle) -> Result<Did, ResolveError> {
        let handle = handle.normalized();
        check_resolvable(&handle, false)?;
        let name = format!("{ATPROTO_TXT_LABEL}.{handle}.");
        match self.lookup.txt(&name).await {
            Ok(records) => did_from_txt(&handle, &records),
            Err(TxtLookupError::NoRecords) => Err(ResolveError::NotFound(format!(
                "DNS TXT record {ATPROTO_TXT_LABEL}.{handle}"
            ))),
            Err(e) => Err(ResolveError::Dns {
                name,
                message: e.to_string(),
            }),
        }
    }
}

impl<L: TxtLookup> HandleResolver for DnsTxtResolver<L> {
    fn resolve_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        Box::pin(self.resolve(handle))
    }
}

/// Resolves a handle through `https://<handle>/.well-known/atproto-did`.
#[derive(Debug, Clone)]
pub struct WellKnownResolver<C> {
    client: C,
    allow_http_loopback: bool,
    timeout: Option<Duration>,
}

impl<C: HttpClient> WellKnownResolver<C> {
    /// A resolver that uses `https://` only.
    pub fn new(client: C) -> Self {
        WellKnownResolver {
            client,
            allow_http_loopback: false,
            timeout: None,
        }
    }

    /// With `allow`, a loopback handle (`localhost`-style names, which need a
    /// disallowed TLD) is fetched over plain `http://` and its TLD allowed.
    /// Off by default.
    #[must_use]
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    async fn resolve(&self, handle: &Handle) -> Result<Did, ResolveError> {
        let handle = handle.normalized();
        let loopback = self.allow_http_loopback && is_loopback_host(handle.as_str());
        check_resolvable(&handle, loopback)?;
        let url = format!(
            "{}/.well-known/atproto-did",
            origin(handle.as_str(), self.allow_http_loopback)
        );
        let response = http_get(&self.client, &url, "text/plain", self.timeout).await?;
        let status = response.status().as_u16();
        if status == 404 {
            return Err(ResolveError::NotFound(format!(
                "handle {handle} (HTTPS well-known)"
            )));
        }
        if !(200..300).contains(&status) {
            return Err(ResolveError::BadStatus { url, status });
        }
        let body = response.body();
        let invalid = |reason: String| ResolveError::InvalidResponse {
            url: url.clone(),
            reason,
        };
        if body.len() > MAX_WELL_KNOWN_BYTES {
            return Err(invalid(format!(
                "body is {} bytes (at most {MAX_WELL_KNOWN_BYTES})",
                body.len()
            )));
        }
        let text = std::str::from_utf8(body).map_err(|_| invalid("body is not UTF-8".into()))?;
        let first = text.lines().next().unwrap_or("").trim();
        first
            .parse::<Did>()
            .map_err(|e| invalid(format!("first line {first:?} is not a DID: {e}")))
    }
}

http_resolver!(WellKnownResolver, HandleResolver::resolve_handle(Handle) -> Did);

/// Runs a DNS and an HTTPS resolver in parallel, each with a time limit; the
/// DNS answer wins (see the [module docs](self)).
///
/// When both fail: if both failures are transient (time-outs, network and
/// DNS failures), or both refused the handle (a disallowed TLD), the DNS one
/// is returned; otherwise the handle is [`ResolveError::NotFound`], with
/// both reasons in its text.
#[derive(Debug, Clone)]
pub struct DefaultHandleResolver<D, H> {
    dns: D,
    http: H,
    dns_timeout: Duration,
    http_timeout: Duration,
}

impl<L: TxtLookup, C: HttpClient> DefaultHandleResolver<DnsTxtResolver<L>, WellKnownResolver<C>> {
    /// DNS through `lookup`, HTTPS through `client`, each limited to
    /// [`DEFAULT_HANDLE_TIMEOUT`].
    pub fn new(lookup: L, client: C) -> Self {
        Self::from_parts(DnsTxtResolver::new(lookup), WellKnownResolver::new(client))
    }
}

impl<D: HandleResolver, H: HandleResolver> DefaultHandleResolver<D, H> {
    /// From any two resolvers: `dns` is preferred, `http` the fallback.
    pub fn from_parts(dns: D, http: H) -> Self {
        DefaultHandleResolver {
            dns,
            http,
            dns_timeout: DEFAULT_HANDLE_TIMEOUT,
            http_timeout: DEFAULT_HANDLE_TIMEOUT,
        }
    }

    /// Sets the time limits of the DNS and the HTTPS lookups.
    #[must_use]
    pub fn with_timeouts(mut self, dns: Duration, http: Duration) -> Self {
        self.dns_timeout = dns;
        self.http_timeout = http;
        self
    }

    async fn resolve(&self, handle: &Handle, fresh: bool) -> Result<Did, ResolveError> {
        let handle = handle.normalized();
        let (dns_fut, http_fut) = if fresh {
            (
                self.dns.refresh_handle(&handle),
                self.http.refresh_handle(&handle),
            )
        } else {
            (
                self.dns.resolve_handle(&handle),
                self.http.resolve_handle(&handle),
            )
        };
        let mut dns = pin!(limited(
            format!("handle {handle} (DNS)"),
            self.dns_timeout,
            dns_fut
        ));
        let mut http = pin!(limited(
            format!("handle {handle} (HTTPS)"),
            self.http_timeout,
            http_fut
        ));
        let mut dns_result = None;
        let mut http_result = None;
        poll_fn(|cx| {
            if dns_result.is_none()
                && let Poll::Ready(r) = dns.as_mut().poll(cx)
            {
                dns_result = Some(r);
            }
            if http_result.is_none()
                && let Poll::Ready(r) = http.as_mut().poll(cx)
            {
                http_result = Some(r);
            }
            match (&dns_result, &http_result) {
                // DNS answered: done, whatever HTTPS says or is still doing.
                (Some(Ok(_)), _) => Poll::Ready(()),
                // DNS failed: HTTPS decides.
                (Some(Err(_)), Some(_)) => Poll::Ready(()),
                _ => Poll::Pending,
            }
        })
        .await;
        match (dns_result, http_result) {
            (Some(Ok(did)), _) | (_, Some(Ok(did))) => Ok(did),
            (Some(Err(dns)), Some(Err(http))) => {
                let refused = |e: &ResolveError| matches!(e, ResolveError::InvalidIdentifier(_));
                if (dns.is_transient() && http.is_transient()) || (refused(&dns) && refused(&http))
                {
                    Err(dns)
                } else {
                    Err(ResolveError::NotFound(format!(
                        "handle {handle} (DNS: {dns}; HTTPS: {http})"
                    )))
                }
            }
            _ => Err(ResolveError::NotFound(format!("handle {handle}"))),
        }
    }
}

/// `future`, or [`ResolveError::Timeout`] after `limit`.
async fn limited(
    what: String,
    limit: Duration,
    future: BoxFuture<'_, Result<Did, ResolveError>>,
) -> Result<Did, ResolveError> {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or(Err(ResolveError::Timeout(what)))
}

impl<D: HandleResolver, H: HandleResolver> HandleResolver for DefaultHandleResolver<D, H> {
    fn resolve_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        Box::pin(self.resolve(handle, false))
    }

    fn refresh_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        Box::pin(self.resolve(handle, true))
    }
}

/// Resolves handles by asking a service:
/// `GET {service}/xrpc/com.atproto.identity.resolveHandle?handle=<handle>`.
///
/// A 400 answer (the method's error for an unknown handle) is
/// [`ResolveError::NotFound`].
#[derive(Debug, Clone)]
pub struct XrpcHandleResolver<C> {
    client: C,
    service: String,
    timeout: Option<Duration>,
}

impl<C: HttpClient> XrpcHandleResolver<C> {
    /// A resolver asking the service at `service` (e.g.
    /// `https://public.api.bsky.app`); a trailing `/` is ignored.
    pub fn new(client: C, service: &str) -> Self {
        XrpcHandleResolver {
            client,
            service: service.trim_end_matches('/').to_owned(),
            timeout: None,
        }
    }

    async fn resolve(&self, handle: &Handle) -> Result<Did, ResolveError> {
        #[derive(serde::Deserialize)]
        struct Output {
            did: String,
        }
        let handle = handle.normalized();
        let mut query = crate::params::QueryParams::new();
        query.push("handle", handle.as_str());
        let url = format!(
            "{}/xrpc/com.atproto.identity.resolveHandle?{}",
            self.service,
            query.encode()
        );
        let response = http_get(&self.client, &url, "application/json", self.timeout).await?;
        match response.status().as_u16() {
            200 => {}
            400 | 404 => {
                return Err(ResolveError::NotFound(format!(
                    "handle {handle} (at {})",
                    self.service
                )));
            }
            status => return Err(ResolveError::BadStatus { url, status }),
        }
        let invalid = |reason: String| ResolveError::InvalidResponse {
            url: url.clone(),
            reason,
        };
        let output: Output =
            serde_json::from_slice(response.body()).map_err(|e| invalid(e.to_string()))?;
        output
            .did
            .parse()
            .map_err(|e| invalid(format!("{:?} is not a DID: {e}", output.did)))
    }
}

http_resolver!(XrpcHandleResolver, HandleResolver::resolve_handle(Handle) -> Did);

/// A fixed table of handles (case-insensitive); unknown handles are
/// [`ResolveError::NotFound`]. Shareable (`&self` methods).
#[derive(Debug, Default)]
pub struct MemoryHandleResolver {
    entries: Mutex<HashMap<String, Did>>,
}

impl MemoryHandleResolver {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Points `handle` at `did`.
    pub fn insert(&self, handle: &Handle, did: Did) {
        self.lock().insert(handle.normalized().into_string(), did);
    }

    /// Removes `handle`.
    pub fn remove(&self, handle: &Handle) {
        self.lock().remove(handle.normalized().as_str());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Did>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl HandleResolver for MemoryHandleResolver {
    fn resolve_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        let result = self
            .lock()
            .get(handle.normalized().as_str())
            .cloned()
            .ok_or_else(|| ResolveError::NotFound(format!("handle {handle}")));
        Box::pin(async move { result })
    }
}
