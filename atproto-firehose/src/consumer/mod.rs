//! A `subscribeRepos` consumer (feature `consumer`): connects to a
//! firehose, hands every event to a [`Handler`] (parallel across accounts,
//! in order within each), keeps its cursor in a [`CursorStore`], and
//! reconnects when the connection drops, fails or goes quiet.
//!
//! - **Cursor.** The stored cursor is a low-water mark: every event up to
//!   it has been processed (its handler call returned `Ok`). A run starts
//!   from the stored cursor (none: live).
//! - **Reconnection.** Refused or failed connections, a dropped or closed
//!   connection and the liveness timeout (no message for
//!   [`ConsumerConfig::liveness_timeout`]) all lead to a new connection
//!   after a [`Backoff`] delay, with `cursor` = the highest seq read so far.
//!   Any event with a seq at or below it is skipped, so within a run no
//!   event is lost and none is handed over twice (seqs may skip: a gap is
//!   not an error). Across runs, events above the stored mark that had been
//!   processed before a crash come again (at least once).
//! - **Memory.** At most [`ConsumerConfig::shard_queue`] events wait per
//!   shard and at most [`ConsumerConfig::window`] seqs lie between the mark
//!   and the newest event read; when handlers are slow the reader stops
//!   reading the socket (TCP backpressure reaches the server) rather than
//!   queue more.
//! - **Stops.** An error frame (`FutureCursor`, `ConsumerTooSlow`) ends
//!   the run with [`ConsumerError::Server`], after the events already read
//!   are processed; a message that is not a frame ends it with
//!   [`ConsumerError::Frame`]; a handler error with
//!   [`ConsumerError::Handler`]. `#info` messages go to the handler (seq
//!   `None`).
//!
//! Time is `tokio::time` throughout: tests run the reconnection logic on a
//! paused clock, over an in-memory [`Transport`].

mod backoff;
mod cursor;
mod dispatch;
mod error;
mod transport;
mod url;

use core::future::Future;
use core::time::Duration;
use std::string::{String, ToString};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

pub use backoff::Backoff;
pub use cursor::{CursorStore, FileCursor, MemoryCursor};
pub use dispatch::{Event, Handler};
pub use error::{ConsumerError, HandlerError};
pub use transport::{BoxedIo, ConnectFuture, Io, TcpTransport, Transport};
pub use url::{SUBSCRIBE_REPOS_PATH, SubscribeUrl};

use crate::error::FrameError;
use crate::frame::Frame;
use crate::limits::MAX_FRAME_BYTES;
use dispatch::Pool;

/// How a [`Consumer`] paces itself. Start from [`Default`] and change
/// fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// The first reconnection delay step (default 1 s).
    pub backoff_min: Duration,
    /// The largest step (default 60 s).
    pub backoff_max: Duration,
    /// A connection that stayed up this long resets the backoff to
    /// `backoff_min` when it drops (default 30 s).
    pub healthy_after: Duration,
    /// No message (of any kind) for this long, or a connection not
    /// established in this long: reconnect (default 60 s).
    pub liveness_timeout: Duration,
    /// How many handler calls may run at once, each on its own set of
    /// accounts (default 8; 1 hands every event over in the order read).
    pub shards: usize,
    /// Events waiting per shard (default 32).
    pub shard_queue: usize,
    /// Most seqs handed out and not yet below the low-water mark
    /// (default 1024): bounds the work ahead of a slow account.
    pub window: usize,
    /// How often the cursor is stored while it moves (default 1 s); it is
    /// stored once more when the consumer stops.
    pub persist_interval: Duration,
    /// The backoff jitter's seed (default: a random one).
    pub jitter_seed: Option<u64>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
            liveness_timeout: Duration::from_secs(60),
            shards: 8,
            shard_queue: 32,
            window: 1024,
            persist_interval: Duration::from_secs(1),
            jitter_seed: None,
        }
    }
}

/// What the consumer is doing, for logs ([`Consumer::on_status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Opening a connection to this address.
    Connecting {
        /// The address, with its cursor.
        url: String,
    },
    /// The WebSocket handshake succeeded.
    Connected {
        /// The address.
        url: String,
    },
    /// The connection failed or dropped; the next attempt is in `retry_in`.
    Disconnected {
        /// What happened.
        reason: String,
        /// The backoff delay.
        retry_in: Duration,
    },
}

/// A status callback.
type StatusFn = Arc<dyn Fn(&Status) + Send + Sync>;

/// A firehose consumer; see the [module documentation](self).
pub struct Consumer {
    url: SubscribeUrl,
    config: ConsumerConfig,
    cursor: Arc<dyn CursorStore>,
    transport: Arc<dyn Transport>,
    status: Option<StatusFn>,
}

impl core::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("url", &self.url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How one connection ended.
enum ConnectionEnd {
    /// The caller's stop future completed.
    Stop,
    /// The run is over.
    Fatal(ConsumerError),
    /// Reconnect; why.
    Dropped(String),
}

impl Consumer {
    /// A consumer of `url` (`ws://host:port` or `wss://…`, see
    /// [`SubscribeUrl::parse`]) keeping its cursor in `cursor`, with the
    /// default configuration over [`TcpTransport`].
    ///
    /// # Errors
    /// [`ConsumerError::Url`].
    pub fn new(url: &str, cursor: impl CursorStore) -> Result<Consumer, ConsumerError> {
        Ok(Consumer {
            url: SubscribeUrl::parse(url)?,
            config: ConsumerConfig::default(),
            cursor: Arc::new(cursor),
            transport: Arc::new(TcpTransport::new()),
            status: None,
        })
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: ConsumerConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the transport (a proxy, an in-memory pipe, other TLS roots).
    pub fn with_transport(mut self, transport: impl Transport) -> Self {
        self.transport = Arc::new(transport);
        self
    }

    /// Calls `f` on each connection attempt, success and drop.
    pub fn on_status(mut self, f: impl Fn(&Status) + Send + Sync + 'static) -> Self {
        self.status = Some(Arc::new(f));
        self
    }

    /// The address (without cursor).
    pub fn url(&self) -> &SubscribeUrl {
        &self.url
    }

    /// Runs until an error ends it (it never returns `Ok`).
    ///
    /// # Errors
    /// As [`run_until`](Consumer::run_until).
    pub async fn run<H: Handler>(self, handler: H) -> Result<(), ConsumerError> {
        self.run_until(handler, core::future::pending()).await
    }

    /// Runs until `stop` completes (then `Ok`, once the events already read
    /// are processed and the cursor stored) or an error ends it. Must be
    /// called within a tokio runtime (the shards are spawned tasks).
    ///
    /// # Errors
    /// [`ConsumerError::Cursor`] (the store cannot be read or written),
    /// [`ConsumerError::Server`] (an error frame), [`ConsumerError::Frame`]
    /// (a message that is not a frame), [`ConsumerError::Handler`].
    pub async fn run_until<H: Handler>(
        self,
        handler: H,
        stop: impl Future<Output = ()>,
    ) -> Result<(), ConsumerError> {
        let start = self.cursor.load().map_err(ConsumerError::Cursor)?;
        let c = &self.config;
        let mut pool = Pool::start(handler, c.shards, c.shard_queue, c.window, start);
        let mut run = Run {
            consumer: &self,
            head: start,
            stored: start,
            persist: tokio::time::interval(c.persist_interval.max(Duration::from_millis(1))),
        };
        run.persist
            .set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut backoff = Backoff::new(
            c.backoff_min,
            c.backoff_max,
            c.jitter_seed.unwrap_or_else(backoff::random_seed),
        );
        let mut stop = core::pin::pin!(stop);
        let outcome = loop {
            let url = self.url.with_cursor(run.head);
            self.report(Status::Connecting { url: url.clone() });
            let opened = tokio::select! {
                biased;
                () = &mut stop => break Ok(()),
                e = pool.failed() => break Err(e),
                r = tokio::time::timeout(c.liveness_timeout, self.open(&url)) => r,
            };
            let reason = match opened {
                Err(_) => std::format!(
                    "no connection within {} s",
                    c.liveness_timeout.as_secs_f64()
                ),
                Ok(Err(e)) => e,
                Ok(Ok(ws)) => {
                    self.report(Status::Connected { url });
                    let since = Instant::now();
                    let end = run.read(ws, &mut pool, &mut stop).await;
                    if since.elapsed() >= c.healthy_after {
                        backoff.reset();
                    }
                    match end {
                        ConnectionEnd::Stop => break Ok(()),
                        ConnectionEnd::Fatal(e) => break Err(e),
                        ConnectionEnd::Dropped(reason) => reason,
                    }
                }
            };
            let retry_in = backoff.next_delay();
            self.report(Status::Disconnected { reason, retry_in });
            let wait = tokio::time::sleep(retry_in);
            let mut wait = core::pin::pin!(wait);
            let waited = loop {
                tokio::select! {
                    biased;
                    () = &mut stop => break Some(Ok(())),
                    e = pool.failed() => break Some(Err(e)),
                    () = &mut wait => break None,
                    _ = run.persist.tick() => {
                        if let Err(e) = run.store(pool.low_water()) {
                            break Some(Err(e));
                        }
                    }
                }
            };
            if let Some(outcome) = waited {
                break outcome;
            }
        };
        let drain = matches!(outcome, Ok(()) | Err(ConsumerError::Server { .. }));
        let (failure, low) = pool.finish(drain).await;
        let stored = run.store(low);
        match (outcome, failure) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => stored,
        }
    }

    fn report(&self, status: Status) {
        if let Some(f) = &self.status {
            f(&status);
        }
    }

    /// Connects and runs the WebSocket handshake.
    async fn open(&self, url: &str) -> Result<WebSocketStream<BoxedIo>, String> {
        let io = self
            .transport
            .connect(&self.url)
            .await
            .map_err(|e| std::format!("cannot connect: {e}"))?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME_BYTES))
            .max_frame_size(Some(MAX_FRAME_BYTES));
        let (ws, _response) = tokio_tungstenite::client_async_with_config(url, io, Some(config))
            .await
            .map_err(|e| std::format!("WebSocket handshake: {e}"))?;
        Ok(ws)
    }
}

/// The state of one run across its connections.
struct Run<'c> {
    consumer: &'c Consumer,
    /// The highest seq handed to the pool (or the starting cursor).
    head: Option<i64>,
    /// The cursor last stored.
    stored: Option<i64>,
    persist: tokio::time::Interval,
}

impl Run<'_> {
    /// Reads one connection until it ends.
    async fn read(
        &mut self,
        mut ws: WebSocketStream<BoxedIo>,
        pool: &mut Pool,
        stop: &mut core::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> ConnectionEnd {
        let liveness = self.consumer.config.liveness_timeout;
        let mut deadline = Instant::now() + liveness;
        loop {
            let message = tokio::select! {
                biased;
                () = &mut *stop => return ConnectionEnd::Stop,
                e = pool.failed() => return ConnectionEnd::Fatal(e),
                _ = self.persist.tick() => {
                    if let Err(e) = self.store(pool.low_water()) {
                        return ConnectionEnd::Fatal(e);
                    }
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => {
                    return ConnectionEnd::Dropped(std::format!(
                        "no message for {} s",
                        liveness.as_secs_f64()
                    ));
                }
                m = ws.next() => m,
            };
            let bytes = match message {
                None => return ConnectionEnd::Dropped("the connection ended".into()),
                Some(Err(tungstenite::Error::Capacity(
                    tungstenite::error::CapacityError::MessageTooLong { size, max_size },
                ))) => {
                    return ConnectionEnd::Fatal(ConsumerError::Frame {
                        after_seq: self.head,
                        error: FrameError::FrameTooLarge {
                            len: size,
                            max: max_size,
                        },
                    });
                }
                Some(Err(e)) => return ConnectionEnd::Dropped(e.to_string()),
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(Message::Close(frame))) => {
                    return ConnectionEnd::Dropped(match frame {
                        Some(f) => std::format!("closed by the server ({}: {})", f.code, f.reason),
                        None => "closed by the server".into(),
                    });
                }
                Some(Ok(Message::Text(_))) => {
                    return ConnectionEnd::Dropped(
                        "a text message (the firehose sends binary ones)".into(),
                    );
                }
                Some(Ok(_)) => {
                    // Ping, pong: the connection is alive.
                    deadline = Instant::now() + liveness;
                    continue;
                }
            };
            let frame = match Frame::decode(&bytes) {
                Ok(frame) => frame,
                Err(error) => {
                    return ConnectionEnd::Fatal(ConsumerError::Frame {
                        after_seq: self.head,
                        error,
                    });
                }
            };
            if let Frame::Error(e) = frame {
                return ConnectionEnd::Fatal(ConsumerError::Server {
                    name: e.error,
                    message: e.message,
                });
            }
            let seq = frame.seq();
            if let (Some(seq), Some(head)) = (seq, self.head)
                && seq <= head
            {
                // Already handed over (a replay after reconnecting).
                deadline = Instant::now() + liveness;
                continue;
            }
            let event = Event {
                seq,
                message: bytes,
                frame,
            };
            tokio::select! {
                biased;
                () = &mut *stop => return ConnectionEnd::Stop,
                r = pool.dispatch(event) => {
                    if let Err(e) = r {
                        return ConnectionEnd::Fatal(e);
                    }
                }
            }
            if seq.is_some() {
                self.head = seq;
            }
            deadline = Instant::now() + liveness;
        }
    }

    /// Stores the low-water mark `low` if it moved.
    fn store(&mut self, low: Option<i64>) -> Result<(), ConsumerError> {
        if let Some(seq) = low
            && low != self.stored
        {
            self.consumer
                .cursor
                .store(seq)
                .map_err(ConsumerError::Cursor)?;
            self.stored = low;
        }
        Ok(())
    }
}
