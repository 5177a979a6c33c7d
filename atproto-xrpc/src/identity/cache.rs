//! Caching resolvers (feature `resolve`): [`CachingDidResolver`] and
//! [`CachingHandleResolver`] wrap any [`DidResolver`] / [`HandleResolver`].
//!
//! Each answer is kept under its DID or (lowercased) handle:
//!
//! - an answer younger than [`CacheConfig::ttl`] is served as it is;
//! - an answer older than that but within [`CacheConfig::stale_ttl`] more is
//!   *stale*: it is served at once, and one refresh is started in the
//!   background with `tokio::spawn` (one at a time per key). Outside a Tokio
//!   runtime there is nowhere to spawn, so the call refreshes inline and
//!   returns the new answer (the stale one if the refresh fails);
//! - older answers are dropped and resolved again;
//! - "does not exist" answers ([`ResolveError::is_not_found`]) are kept for
//!   [`CacheConfig::negative_ttl`] (shorter); other failures are never
//!   cached, and a failed refresh leaves the stale answer in place;
//! - at most [`CacheConfig::max_entries`] are held: to make room, entries
//!   past their age are dropped first, then the least recently used one.
//!
//! `refresh_did` / `refresh_handle` bypass the cache and store the new
//! answer: that is the "force refresh" path, used by the service-auth key
//! resolvers when a cached key fails to verify a signature (see [`DidKeyResolver`](crate::identity::DidKeyResolver)).
//!
//! Time comes from a [`Clock`] ([`SystemClock`] by default, [`ManualClock`]
//! in tests).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use atproto_core::{Did, Handle};

use crate::identity::did_doc::DidDocument;
use crate::identity::did_resolver::{DidResolver, ResolveError};
use crate::identity::handle_resolver::HandleResolver;
use crate::transport::BoxFuture;

/// A source of the current time, for caches.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]), for
/// tests.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at the moment it was made.
    #[must_use]
    pub fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = offset.saturating_add(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        self.base + offset
    }
}

/// How long answers are kept; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long an answer is served without refreshing. Default 1 hour (the
    /// reference's `staleTTL`).
    pub ttl: Duration,
    /// How long after `ttl` an answer is still served (stale) while it is
    /// refreshed. Default 23 hours (the reference keeps answers 24 hours).
    pub stale_ttl: Duration,
    /// How long a "does not exist" answer is kept. Default 1 minute.
    pub negative_ttl: Duration,
    /// The most entries held (0: nothing is cached). Default 10 000.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(60 * 60),
            stale_ttl: Duration::from_secs(23 * 60 * 60),
            negative_ttl: Duration::from_secs(60),
            max_entries: 10_000,
        }
    }
}

/// What a cache resolves (a private bridge over the two resolver traits).
trait Source: Send + Sync + 'static {
    type Key: Clone + Send + Sync + 'static;
    type Value: Clone + Send + Sync + 'static;
    fn cache_key(key: &Self::Key) -> String;
    fn fetch<'a>(&'a self, key: &'a Self::Key) -> BoxFuture<'a, Result<Self::Value, ResolveError>>;
}

struct DidSource<R>(R);

impl<R: DidResolver + 'static> Source for DidSource<R> {
    type Key = Did;
    type Value = DidDocument;
    fn cache_key(key: &Did) -> String {
        key.as_str().to_owned()
    }
    fn fetch<'a>(&'a self, key: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        self.0.refresh_did(key)
    }
}

struct HandleSource<R>(R);

impl<R: HandleResolver + 'static> Source for HandleSource<R> {
    type Key = Handle;
    type Value = Did;
    fn cache_key(key: &Handle) -> String {
        key.normalized().into_string()
    }
    fn fetch<'a>(&'a self, key: &'a Handle) -> BoxFuture<'a, Result<Did, ResolveError>> {
        self.0.refresh_handle(key)
    }
}

struct Entry<V> {
    result: Result<V, ResolveError>,
    stored: Instant,
    last_used: u64,
    refreshing: bool,
}

enum Lookup<V> {
    Hit(Result<V, ResolveError>),
    /// A stale value; `true` if the caller must start the refresh.
    Stale(V, bool),
    Miss,
}

struct Core<S: Source> {
    source: S,
    clock: Arc<dyn Clock>,
    config: CacheConfig,
    entries: Mutex<HashMap<String, Entry<S::Value>>>,
    uses: AtomicU64,
}

impl<S: Source> Core<S> {
    fn new(source: S, config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        Core {
            source,
            clock,
            config,
            entries: Mutex::new(HashMap::new()),
            uses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry<S::Value>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an entry stored at `stored` with `result` is past its age.
    fn expired(&self, entry: &Entry<S::Value>, now: Instant) -> bool {
        let age = now.saturating_duration_since(entry.stored);
        match entry.result {
            Ok(_) => age >= self.config.ttl.saturating_add(self.config.stale_ttl),
            Err(_) => age >= self.config.negative_ttl,
        }
    }

    fn lookup(&self, key: &str) -> Lookup<S::Value> {
        let now = self.clock.now();
        let tick = self.uses.fetch_add(1, Ordering::Relaxed);
        let mut map = self.lock();
        let Some(entry) = map.get_mut(key) else {
            return Lookup::Miss;
        };
        if self.expired(entry, now) {
            map.remove(key);
            return Lookup::Miss;
        }
        entry.last_used = tick;
        let age = now.saturating_duration_since(entry.stored);
        match &entry.result {
            Ok(value) if age >= self.config.ttl => {
                let start = !entry.refreshing;
                entry.refreshing = true;
                Lookup::Stale(value.clone(), start)
            }
            result => Lookup::Hit(result.clone()),
        }
    }

    fn store(&self, key: String, result: &Result<S::Value, ResolveError>) {
        let now = self.clock.now();
        let tick = self.uses.fetch_add(1, Ordering::Relaxed);
        let mut map = self.lock();
        let cacheable = match result {
            Ok(_) => true,
            Err(e) => e.is_not_found(),
        };
        if !cacheable {
            // A transient failure: keep whatever answer was there.
            if let Some(entry) = map.get_mut(&key) {
                entry.refreshing = false;
            }
            return;
        }
        if self.config.max_entries == 0 {
            return;
        }
        if !map.contains_key(&key) && map.len() >= self.config.max_entries {
            map.retain(|_, entry| !self.expired(entry, now));
            if map.len() >= self.config.max_entries
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, entry)| entry.last_used)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key,
            Entry {
                result: result.clone(),
                stored: now,
                last_used: tick,
                refreshing: false,
            },
        );
    }

    async fn refresh(&self, key: &S::Key) -> Result<S::Value, ResolveError> {
        let result = self.source.fetch(key).await;
        self.store(S::cache_key(key), &result);
        result
    }

    async fn get(self: Arc<Self>, key: &S::Key) -> Result<S::Value, ResolveError> {
        match self.lookup(&S::cache_key(key)) {
            Lookup::Hit(result) => result,
            Lookup::Miss => self.refresh(key).await,
            Lookup::Stale(value, false) => Ok(value),
            Lookup::Stale(value, true) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let key = key.clone();
                    let core = Arc::clone(&self);
                    runtime.spawn(async move {
                        // The outcome is stored (or, for a transient
                        // failure, the stale answer kept).
                        let _ = core.refresh(&key).await;
                    });
                    Ok(value)
                } else {
                    Ok(self.refresh(key).await.unwrap_or(value))
                }
            }
        }
    }

    fn invalidate(&self, key: &str) {
        self.lock().remove(key);
    }

    fn is_refreshing(&self, key: &str) -> bool {
        self.lock().get(key).is_some_and(|e| e.refreshing)
    }
}

macro_rules! cache_common {
    ($name:ident, $source:ident, $bound:ident, $key:ty) => {
        impl<R: $bound + 'static> Clone for $name<R> {
            fn clone(&self) -> Self {
                $name {
                    core: Arc::clone(&self.core),
                }
            }
        }

        impl<R: $bound + 'static> std::fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("config", &self.core.config)
                    .field("entries", &self.core.lock().len())
                    .finish_non_exhaustive()
            }
        }

        impl<R: $bound + 'static> $name<R> {
            /// A cache over `resolver` with the system clock.
            pub fn new(resolver: R, config: CacheConfig) -> Self {
                Self::with_clock(resolver, config, Arc::new(SystemClock))
            }

            /// A cache over `resolver` reading time from `clock`.
            pub fn with_clock(resolver: R, config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
                $name {
                    core: Arc::new(Core::new($source(resolver), config, clock)),
                }
            }

            /// The wrapped resolver.
            pub fn inner(&self) -> &R {
                &self.core.source.0
            }

            /// The configuration.
            pub fn config(&self) -> &CacheConfig {
                &self.core.config
            }

            /// The number of entries held (expired ones included until they
            /// are looked up or evicted).
            pub fn len(&self) -> usize {
                self.core.lock().len()
            }

            /// Whether no entries are held.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Drops every entry.
            pub fn clear(&self) {
                self.core.lock().clear();
            }

            /// Drops the entry of `key`.
            pub fn invalidate(&self, key: &$key) {
                self.core.invalidate(&$source::<R>::cache_key(key));
            }

            /// Whether a background refresh of `key` is under way.
            pub fn is_refreshing(&self, key: &$key) -> bool {
                self.core.is_refreshing(&$source::<R>::cache_key(key))
            }
        }
    };
}

/// A cache in front of a [`DidResolver`]; see the [module docs](self).
/// Cloning shares the cache.
pub struct CachingDidResolver<R: DidResolver + 'static> {
    core: Arc<Core<DidSource<R>>>,
}

cache_common!(CachingDidResolver, DidSource, DidResolver, Did);

impl<R: DidResolver + 'static> DidResolver for CachingDidResolver<R> {
    fn resolve_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        Box::pin(Arc::clone(&self.core).get(did))
    }

    fn refresh_did<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        Box::pin(self.core.refresh(did))
    }
}

/// A cache in front of a [`HandleResolver`], keyed by the lowercased handle;
/// see the [module docs](self). Cloning shares the cache.
pub struct CachingHandleResolver<R: HandleResolver + 'static> {
    core: Arc<Core<HandleSource<R>>>,
}

cache_common!(CachingHandleResolver, HandleSource, HandleResolver, Handle);

impl<R: HandleResolver + 'static> HandleResolver for CachingHandleResolver<R> {
    fn resolve_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        let core = Arc::clone(&self.core);
        Box::pin(async move { core.get(&handle.normalized()).await })
    }

    fn refresh_handle<'a>(
        &'a self,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<Did, ResolveError>> {
        Box::pin(async move { self.core.refresh(&handle.normalized()).await })
    }
}
