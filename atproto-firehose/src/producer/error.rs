//! Why publishing or subscribing failed, and why a subscription ended.

use std::boxed::Box;

use crate::error::FrameError;

/// A store error, boxed so the sequencer's errors are not generic.
pub type LogError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why [`Sequencer::publish`](crate::producer::Sequencer::publish) stored
/// nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The sequencer was shut down.
    #[error("the sequencer is shut down")]
    ShutDown,
    /// The frame at `index` of the batch is not an event: `#info` and error
    /// frames are sent by the sequencer itself, not sequenced.
    #[error("frame {index} of the batch is {kind}, not a sequenced event")]
    NotAnEvent {
        /// Its index in the batch.
        index: usize,
        /// `#info` or `error frame`.
        kind: &'static str,
    },
    /// The frame at `index`, encoded with its `seq`, is one consumers would
    /// reject (over a limit of [`crate::limits`]).
    #[error("frame {index} of the batch: {error}")]
    Frame {
        /// Its index in the batch.
        index: usize,
        /// What the decoder says about the encoded frame.
        error: FrameError,
    },
    /// The next `seq` would be over 2^53 - 1, the largest the protocol
    /// allows.
    #[error("seq {0} is over the protocol's limit of 2^53 - 1")]
    SeqExhausted(i64),
    /// The event log failed to store the batch.
    #[error("event log append failed: {0}")]
    Log(#[source] LogError),
}

/// Why [`Sequencer::publish_batch_with`](crate::producer::Sequencer::publish_batch_with)
/// published nothing: the batch could not be sequenced, or the caller's
/// `persist` failed. Either way no event became visible and no `seq` was
/// consumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishWithError<E> {
    /// The batch could not be sequenced; `persist` was not called.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The caller's `persist` returned this error.
    #[error("persisting the batch failed: {0}")]
    Persist(#[source] E),
}

/// Why [`Sequencer::subscribe`](crate::producer::Sequencer::subscribe) gave
/// no subscription. A cursor in the future is not an error here: the
/// subscription then sends the `FutureCursor` error frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The sequencer was shut down.
    #[error("the sequencer is shut down")]
    ShutDown,
    /// The event log failed while the cursor was looked up.
    #[error("event log read failed: {0}")]
    Log(#[source] LogError),
}

/// Why a [`Subscription`](crate::producer::Subscription) stream ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndReason {
    /// The cursor was greater than the last `seq`; the stream sent the
    /// `FutureCursor` error frame.
    #[error("FutureCursor: the cursor is in the future")]
    FutureCursor,
    /// The subscriber fell too far behind; the stream sent the
    /// `ConsumerTooSlow` error frame.
    #[error("ConsumerTooSlow: the consumer fell behind the live buffer or the log")]
    ConsumerTooSlow,
    /// The sequencer was shut down ([`Sequencer::shutdown`](crate::producer::Sequencer::shutdown)).
    #[error("the sequencer shut down")]
    ShutDown,
    /// The event log failed while the subscriber replayed; no frame was
    /// sent (the reference PDS drops the connection then).
    #[error("event log read failed: {0}")]
    Log(#[source] LogError),
}

impl EndReason {
    /// The name of the error frame the stream sent last, if it sent one
    /// (`FutureCursor`, `ConsumerTooSlow`): a WebSocket server closes with
    /// code 1008 (policy) and this as the reason, as the reference does.
    pub fn error_name(&self) -> Option<&'static str> {
        match self {
            EndReason::FutureCursor => Some(crate::producer::FUTURE_CURSOR),
            EndReason::ConsumerTooSlow => Some(crate::producer::CONSUMER_TOO_SLOW),
            EndReason::ShutDown | EndReason::Log(_) => None,
        }
    }
}
