//! WebSocket subscriptions: a producer's stream of already-encoded binary
//! frames, sent one WebSocket binary message per item.
//!
//! This module knows nothing of frame formats (the firehose crate produces
//! the bytes). The producer is called before the upgrade, so it can refuse
//! a request (a bad cursor, say) with an ordinary XRPC error over HTTP.
//! After the upgrade:
//!
//! - each item is sent as one binary message, in order; the next item is
//!   not polled until the socket accepted the previous one (backpressure:
//!   nothing is buffered beyond the socket's own buffer);
//! - when the stream ends, a normal close (1000) is sent;
//! - when the client closes or goes away (a close frame, a read error, the
//!   connection dropped, a failed send), the stream is dropped and nothing
//!   more is produced.
//!
//! Client messages other than close are ignored (pings are answered by the
//! WebSocket layer).

use std::future::Future;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRequestParts, State, ws::rejection::WebSocketUpgradeRejection};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use http::request::Parts;

use super::extract::read_params;
use crate::error::{ErrorName, XrpcError};
use crate::params::QueryParams;

/// What a subscription producer is called with.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRequest {
    /// The query parameters as sent.
    pub params: QueryParams,
    /// The parameters typed, validated and with defaults filled by the
    /// catalog, when the router has one that defines the subscription.
    pub typed: Option<atproto_core::Value>,
    /// The `cursor` parameter, if given (it must be an integer).
    pub cursor: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for SubscriptionRequest {
    type Rejection = XrpcError;

    /// # Errors
    /// `400 InvalidRequest` for a query string that does not decode,
    /// parameters the catalog refuses, or a `cursor` that is not an
    /// integer.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, XrpcError> {
        let (params, typed) = read_params(parts)?;
        let cursor = match typed.as_ref().and_then(|t| t.get("cursor")) {
            Some(v) => v.as_i64(),
            None => params
                .get("cursor")
                .map(|c| {
                    c.parse::<i64>().map_err(|_| {
                        XrpcError::new(
                            ErrorName::InvalidRequest,
                            format!("cursor must be an integer, not {c:?}"),
                        )
                    })
                })
                .transpose()?,
        };
        Ok(SubscriptionRequest {
            params,
            typed,
            cursor,
        })
    }
}

/// Answers a WebSocket upgrade by sending each item of `frames` as one
/// binary message (see the [module docs](self)).
pub fn stream_frames<St>(ws: WebSocketUpgrade, frames: St) -> Response
where
    St: Stream<Item = Bytes> + Send + 'static,
{
    ws.on_upgrade(move |socket| pump(socket, frames))
}

async fn pump<St>(socket: WebSocket, frames: St)
where
    St: Stream<Item = Bytes> + Send + 'static,
{
    let (mut tx, mut rx) = socket.split();
    let mut frames = std::pin::pin!(frames);
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(bytes) => {
                    if tx.send(Message::Binary(bytes)).await.is_err() {
                        return;
                    }
                }
                None => {
                    let close = CloseFrame { code: close_code::NORMAL, reason: "".into() };
                    // The client may already be gone; nothing more to do then.
                    let _ = tx.send(Message::Close(Some(close))).await;
                    return;
                }
            },
            incoming = rx.next() => match incoming {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

type Upgrade = Result<WebSocketUpgrade, WebSocketUpgradeRejection>;
type Request = Result<SubscriptionRequest, XrpcError>;
type BoxedResponse = std::pin::Pin<Box<dyn Future<Output = Response> + Send>>;

fn not_upgrade(rejection: &WebSocketUpgradeRejection) -> XrpcError {
    XrpcError::new(
        ErrorName::InvalidRequest,
        format!("a subscription is a WebSocket upgrade: {rejection}"),
    )
}

/// The route handler [`XrpcRouter::subscription`](super::XrpcRouter::subscription)
/// mounts for a producer.
pub(crate) fn producer_handler<S, P, Fut, St>(
    producer: P,
) -> impl Clone + Send + Sync + 'static + Fn(Upgrade, State<S>, Request) -> BoxedResponse
where
    S: Clone + Send + Sync + 'static,
    P: Fn(SubscriptionRequest, S) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<St, XrpcError>> + Send + 'static,
    St: Stream<Item = Bytes> + Send + 'static,
{
    move |ws, State(state), request| {
        let producer = producer.clone();
        Box::pin(async move {
            let ws = match ws {
                Ok(ws) => ws,
                Err(rejection) => return not_upgrade(&rejection).into_response(),
            };
            let request = match request {
                Ok(r) => r,
                Err(e) => return e.into_response(),
            };
            match producer(request, state).await {
                Ok(frames) => stream_frames(ws, frames),
                Err(e) => e.into_response(),
            }
        })
    }
}
