//! [`Subscription`]: one subscriber's stream of frame messages.

use std::collections::VecDeque;
use std::pin::Pin;
use std::string::String;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::frame::{ErrorMessage, Frame, InfoMessage};
use crate::producer::error::EndReason;
use crate::producer::log::{EventLog, StoredEvent};
use crate::producer::sequencer::{Next, Shared};
use crate::producer::{CONSUMER_TOO_SLOW, FUTURE_CURSOR, OUTDATED_CURSOR};

/// Where a new subscription starts.
pub(crate) enum Start {
    /// Live after this `seq`.
    Live(i64),
    /// Replay after this `seq`.
    Replay(i64),
    /// `#info OutdatedCursor`, then replay after this `seq`.
    Outdated(i64),
    /// The `FutureCursor` error frame, then the end.
    Future,
}

enum State {
    /// Serving events after `pos` from the log (a page at a time) or from
    /// the live buffer; not yet caught up, so not yet held to the buffer.
    Replay {
        pos: i64,
        page: VecDeque<StoredEvent>,
    },
    /// Caught up once: serving events after `pos` from the live buffer
    /// only; falling out of it is `ConsumerTooSlow`.
    Live { pos: i64 },
    /// Over.
    Done,
}

/// One subscriber: a [`Stream`] of whole frame messages (header ‖ body),
/// each to be sent as one binary WebSocket message. `Bytes` handles on the
/// stored frames: nothing is re-encoded or copied per subscriber.
///
/// A subscription holds no queue: it keeps the `seq` it reached and reads
/// the next event from the sequencer's shared live buffer or, while it
/// replays, from the log (holding at most one page). A subscriber that
/// stops reading costs the same memory as one that keeps up.
///
/// The stream ends after an error frame (`FutureCursor`, `ConsumerTooSlow`),
/// when the sequencer shuts down, or when the log fails; then
/// [`end_reason`](Subscription::end_reason) says which.
pub struct Subscription<L: EventLog> {
    shared: Arc<Shared<L>>,
    id: u64,
    /// A frame to send before anything else (`#info`, or the error frame
    /// that ends the stream).
    first: Option<Bytes>,
    state: State,
    end: Option<EndReason>,
}

impl<L: EventLog> core::fmt::Debug for Subscription<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("position", &self.position())
            .field("live", &self.is_live())
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<L: EventLog> Subscription<L> {
    pub(crate) fn new(shared: Arc<Shared<L>>, id: u64, start: Start) -> Subscription<L> {
        let mut sub = Subscription {
            shared,
            id,
            first: None,
            state: State::Done,
            end: None,
        };
        match start {
            Start::Live(pos) => sub.state = State::Live { pos },
            Start::Replay(pos) => sub.state = replay(pos),
            Start::Outdated(pos) => {
                sub.first = Some(info_frame(
                    OUTDATED_CURSOR,
                    "Requested cursor exceeded limit. Possibly missing events",
                ));
                sub.state = replay(pos);
            }
            Start::Future => sub.fail(EndReason::FutureCursor),
        }
        sub
    }

    /// Why the stream ended; `None` while it goes on.
    pub fn end_reason(&self) -> Option<&EndReason> {
        self.end.as_ref()
    }

    /// The `seq` of the last event it yielded (or the cursor it started
    /// after); `None` once it ended.
    pub fn position(&self) -> Option<i64> {
        match &self.state {
            State::Replay { pos, .. } | State::Live { pos } => Some(*pos),
            State::Done => None,
        }
    }

    /// Whether it caught up with the newest event and now reads only the
    /// live buffer (where falling behind means `ConsumerTooSlow`).
    pub fn is_live(&self) -> bool {
        matches!(self.state, State::Live { .. })
    }

    /// Ends the stream for `reason`, queueing its error frame if it has one.
    fn fail(&mut self, reason: EndReason) {
        self.first = match &reason {
            EndReason::FutureCursor => Some(error_frame(FUTURE_CURSOR, "Cursor in the future.")),
            EndReason::ConsumerTooSlow => {
                Some(error_frame(CONSUMER_TOO_SLOW, "Stream consumer too slow"))
            }
            EndReason::ShutDown | EndReason::Log(_) => None,
        };
        self.state = State::Done;
        self.end = Some(reason);
        self.shared.forget(self.id);
    }

    fn next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            if let Some(frame) = self.first.take() {
                return Poll::Ready(Some(frame));
            }
            if matches!(self.state, State::Done) {
                return Poll::Ready(None);
            }
            if self.shared.is_closed() {
                self.fail(EndReason::ShutDown);
                continue;
            }
            match &mut self.state {
                State::Done => {}
                State::Replay { pos, page } => {
                    if let Some(e) = page.pop_front() {
                        *pos = e.seq;
                        return Poll::Ready(Some(e.frame));
                    }
                    let pos = *pos;
                    match self.shared.next_after(pos, None) {
                        Next::Event(seq, frame) => {
                            self.state = replay(seq);
                            return Poll::Ready(Some(frame));
                        }
                        Next::CaughtUp => self.state = State::Live { pos },
                        Next::Behind => match self.shared.log_page(pos) {
                            // Nothing in the log after `pos` but the buffer
                            // moved on: the live check below decides.
                            Ok(page) if page.is_empty() => self.state = State::Live { pos },
                            Ok(page) => {
                                self.state = State::Replay {
                                    pos,
                                    page: page.into(),
                                }
                            }
                            Err(reason) => self.fail(reason),
                        },
                    }
                }
                State::Live { pos } => {
                    match self.shared.next_after(*pos, Some((self.id, cx.waker()))) {
                        Next::Event(seq, frame) => {
                            *pos = seq;
                            return Poll::Ready(Some(frame));
                        }
                        // A shutdown between the check above and the waker's
                        // registration would wake nobody: look again.
                        Next::CaughtUp if self.shared.is_closed() => {}
                        Next::CaughtUp => return Poll::Pending,
                        Next::Behind => self.fail(EndReason::ConsumerTooSlow),
                    }
                }
            }
        }
    }
}

impl<L: EventLog> Stream for Subscription<L> {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.get_mut().next_frame(cx)
    }
}

impl<L: EventLog> Drop for Subscription<L> {
    fn drop(&mut self) {
        self.shared.forget(self.id);
    }
}

fn replay(pos: i64) -> State {
    State::Replay {
        pos,
        page: VecDeque::new(),
    }
}

fn error_frame(error: &str, message: &str) -> Bytes {
    Bytes::from(
        Frame::Error(ErrorMessage {
            error: String::from(error),
            message: Some(String::from(message)),
            extra: Default::default(),
        })
        .encode(),
    )
}

fn info_frame(name: &str, message: &str) -> Bytes {
    let info = InfoMessage {
        name: String::from(name),
        message: Some(String::from(message)),
        extra: Default::default(),
    };
    Bytes::from(Frame::Info(info).encode())
}
