//! The producer side of `com.atproto.sync.subscribeRepos` (feature
//! `producer`, std): a [`Sequencer`] that numbers events and stores them in
//! an [`EventLog`], and one [`Subscription`] stream per connected consumer.
//!
//! # Publishing
//!
//! [`Sequencer::publish`] takes a typed [`Frame`](crate::Frame) (its `seq` is
//! overwritten), gives it the next `seq` (strictly increasing, from 1, or
//! after the log's last `seq` when a sequencer is built on an existing log),
//! encodes it once, checks the encoded frame decodes within the limits of
//! [`crate::limits`], appends it to the log and only then makes it visible
//! to subscribers. [`Sequencer::publish_batch`] does the same for several
//! events in one atomic append. Every subscriber gets a `Bytes` handle on
//! that one encoding.
//!
//! # Publishing inside the caller's transaction
//!
//! A server that keeps its events in the same database as the change they
//! describe (a PDS: a repo write's blocks, its record index rows and its
//! `#commit` event) must store both in one transaction, and no subscriber
//! may see an event whose transaction did not commit. (Appending the event
//! in a transaction of its own, as the reference PDS does, lets a crash
//! between the two publish a commit whose repo change is gone.)
//! [`Sequencer::publish_batch_with`] is the two-phase form for this: under
//! the publish lock it assigns the next `seq`s and encodes the frames, then
//! calls the caller's `persist` with the [`StoredEvent`]s. `persist` inserts
//! them into the table the [`EventLog`] reads, inside the caller's open
//! transaction, and commits it. Only when it returns `Ok` do the events
//! become visible and the `seq`s count as used; on `Err` nothing is visible
//! and the next publish reuses the same `seq`s. [`EventLog::append`] is not
//! called for such events.
//!
//! ```
//! use atproto_firehose::producer::{MemoryLog, PublishWithError, Sequencer, SequencerConfig};
//! use atproto_firehose::{AccountMessage, Frame};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let account = |did: &str| Frame::Account(AccountMessage {
//! #     seq: 0, did: did.into(), time: "2024-01-01T00:00:00.000Z".into(),
//! #     active: true, status: None, extra: Default::default(),
//! # });
//! let sequencer = Sequencer::new(MemoryLog::default(), SequencerConfig::default())?;
//! // The transaction fails to commit: nothing is published.
//! let failed = sequencer.publish_batch_with([account("did:plc:a")], |_events| {
//!     Err(std::io::Error::other("disk full"))
//! });
//! assert!(matches!(failed, Err(PublishWithError::Persist(e)) if e.to_string() == "disk full"));
//! assert_eq!(sequencer.last_seq(), 0);
//! // It commits: the same seq is used, and the event is visible.
//! let seqs = sequencer.publish_batch_with([account("did:plc:a")], |events| {
//!     assert_eq!(events[0].seq, 1); // insert `events` and commit here
//!     Ok::<_, std::io::Error>(())
//! })?;
//! assert_eq!((seqs, sequencer.last_seq()), (vec![1], 1));
//! # Ok(())
//! # }
//! ```
//!
//! # Subscribing: the cursor cases
//!
//! [`Sequencer::subscribe`] takes the request's `cursor` and gives a stream
//! of whole frame messages, each one binary WebSocket message:
//!
//! | cursor | the stream |
//! | --- | --- |
//! | none | live: every event published after the call |
//! | greater than the last `seq` | the `FutureCursor` error frame, then the end |
//! | inside the replay window | every event with `seq > cursor`, then live |
//! | older than the window | `#info OutdatedCursor`, every event of the window, then live |
//! | `0` | as any cursor: the whole window, then live |
//!
//! "Older than the window" follows the reference PDS: the first event after
//! the cursor is older than [`SequencerConfig::replay_window`] (default 72
//! hours), or the log has trimmed events after the cursor
//! ([`EventLog::trimmed_through`]). The window then starts at the first
//! event not older than it. For cursor `0` this means: the whole window,
//! preceded by `#info OutdatedCursor` only if events after `0` are gone or
//! out of the window, exactly as the reference PDS answers `cursor=0`. A
//! negative cursor is treated as `0` (both are below every `seq`).
//! Replay is `seq > cursor`, as in the reference PDS: a consumer passes the
//! last `seq` it processed.
//!
//! # No gap, no duplicate at the replay→live switch
//!
//! A subscription holds no queue of its own, only the `seq` it reached.
//! It reads the event after that `seq` from the sequencer's shared live
//! buffer (the newest events, in `seq` order), or, while replaying and
//! behind that buffer, a page of the log. Because every lookup is by `seq`
//! in a store that holds every event after its floor, the switch from the
//! log to the live buffer cannot skip or repeat an event, however fast
//! other tasks publish. (The reference PDS and others switch to a bounded
//! per-subscriber queue filled while they replay; a burst at that moment
//! drops the consumer.)
//!
//! # Slow consumers and memory
//!
//! A subscriber is live once it has caught up with the newest event. A live
//! subscriber may fall behind by at most the live buffer
//! ([`SequencerConfig::live_buffer_events`], default 10,000 events, and
//! [`SequencerConfig::live_buffer_bytes`], default 64 MiB); when the event
//! after its position leaves the buffer, its stream yields the
//! `ConsumerTooSlow` error frame and ends. The buffer is shared, so its bound
//! is the whole live memory however many subscribers there are; a
//! subscriber that stops reading holds nothing but its position. A
//! replaying subscriber holds at most one page of the log
//! ([`SequencerConfig::replay_page`], default 500 events); if the log trims
//! events it has not read yet, it gets `ConsumerTooSlow` too.
//!
//! | what | bound |
//! | --- | --- |
//! | shared live buffer | `live_buffer_events` events and `live_buffer_bytes` bytes (the newest event is always kept) |
//! | per subscriber | its position and a waker; while replaying, one page of at most `replay_page` events |
//! | [`MemoryLog`] | its [`Retention`]: default 72 h, 100,000 events, 256 MiB |
//! | `seq` | `1 ..= 2^53 - 1` ([`MAX_SEQ`]) |
//!
//! With [`MemoryLog`] the log and the live buffer share the frames' bytes
//! (`Bytes` handles), so the live buffer costs only its index.
//!
//! # Serving it
//!
//! The stream is runtime-agnostic (`futures_core::Stream`, no tokio
//! runtime needed). A WebSocket handler sends each item as a binary
//! message; when the stream ends, [`Subscription::end_reason`] says how to
//! close: after an error frame ([`EndReason::error_name`]) with code 1008
//! (policy) and the error's name as reason, as the reference does; after
//! [`Sequencer::shutdown`] (or once the last `Sequencer` handle is dropped)
//! with 1001 (going away). For example with axum
//! (not a dependency of this crate):
//!
//! ```ignore
//! async fn subscribe_repos(
//!     State(sequencer): State<Sequencer<MyLog>>,
//!     Query(q): Query<CursorParam>,
//!     ws: WebSocketUpgrade,
//! ) -> Response {
//!     let Ok(mut frames) = sequencer.subscribe(q.cursor) else {
//!         return StatusCode::SERVICE_UNAVAILABLE.into_response();
//!     };
//!     ws.on_upgrade(move |mut socket| async move {
//!         while let Some(frame) = frames.next().await {
//!             if socket.send(Message::Binary(frame)).await.is_err() {
//!                 return; // the consumer left: dropping `frames` is all
//!             }
//!         }
//!         let close = match frames.end_reason().and_then(EndReason::error_name) {
//!             Some(name) => CloseFrame { code: 1008, reason: name.into() },
//!             None => CloseFrame { code: 1001, reason: "".into() },
//!         };
//!         let _ = socket.send(Message::Close(Some(close))).await;
//!     })
//! }
//! ```
//!
//! The test suite's `tests/support/ws_server.rs` does the same with
//! tokio-tungstenite's `accept_hdr_async`.
//!
//! # Example
//!
//! ```
//! use atproto_firehose::producer::{MemoryLog, Retention, Sequencer, SequencerConfig};
//! use atproto_firehose::{AccountMessage, Frame};
//! use futures_util::StreamExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let account = |did: &str| {
//!     Frame::Account(AccountMessage {
//!         seq: 0, // set by the sequencer
//!         did: did.into(),
//!         time: "2024-01-01T00:00:00.000Z".into(),
//!         active: true,
//!         status: None,
//!         extra: Default::default(),
//!     })
//! };
//! let log = MemoryLog::new(Retention::default());
//! let sequencer = Sequencer::new(log, SequencerConfig::default())?;
//! assert_eq!(sequencer.publish(account("did:plc:a"))?, 1);
//!
//! // A consumer that saw nothing yet: cursor 0 replays seq 1, then live.
//! let mut frames = sequencer.subscribe(Some(0))?;
//! assert_eq!(sequencer.publish(account("did:plc:b"))?, 2);
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! let seqs = runtime.block_on(async {
//!     let mut seqs = Vec::new();
//!     for _ in 0..2 {
//!         let Some(bytes) = frames.next().await else { break };
//!         seqs.push(Frame::decode(&bytes)?.seq());
//!     }
//!     Ok::<_, atproto_firehose::FrameError>(seqs)
//! })?;
//! assert_eq!(seqs, [Some(1), Some(2)]);
//!
//! // A cursor past the last seq: one `FutureCursor` error frame, then the end.
//! let mut frames = sequencer.subscribe(Some(3))?;
//! let ended = runtime.block_on(async {
//!     let Some(bytes) = frames.next().await else { return Ok(None) };
//!     let Frame::Error(error) = Frame::decode(&bytes)? else { return Ok(None) };
//!     assert!(frames.next().await.is_none());
//!     Ok::<_, atproto_firehose::FrameError>(Some(error.error))
//! })?;
//! assert_eq!(ended.as_deref(), Some("FutureCursor"));
//!
//! // Shutting down ends every stream, so a server's send loops finish.
//! sequencer.shutdown();
//! # Ok(())
//! # }
//! ```

mod error;
mod log;
mod sequencer;
mod subscription;

use std::time::Duration;

pub use error::{EndReason, LogError, PublishError, PublishWithError, SubscribeError};
pub use log::{EventLog, MemoryLog, MemoryLogError, Retention, StoredEvent};
pub use sequencer::{Clock, LiveBufferStats, Sequencer, SequencerConfig, SystemClock};
pub use subscription::Subscription;

/// The default replay window: 72 hours (SPEC-NOTES §5, the reference PDS).
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(72 * 60 * 60);

/// The greatest `seq` the protocol allows: 2^53 - 1.
pub const MAX_SEQ: i64 = (1 << 53) - 1;

/// The error frame sent for a cursor greater than the last `seq`.
pub const FUTURE_CURSOR: &str = "FutureCursor";

/// The error frame sent to a subscriber that fell too far behind.
pub const CONSUMER_TOO_SLOW: &str = "ConsumerTooSlow";

/// The `#info` name sent before replaying the window to a cursor older
/// than it.
pub const OUTDATED_CURSOR: &str = "OutdatedCursor";
