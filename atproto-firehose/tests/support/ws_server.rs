//! A `subscribeRepos` WebSocket server over a [`Sequencer`], for tests: what
//! a PDS's route does, with tokio-tungstenite's `accept_hdr_async` on
//! loopback. Each connection subscribes with the request's `cursor` query
//! parameter and sends every frame of its stream as one binary message;
//! after an error frame it closes with 1008 and the error's name, after a
//! shutdown with 1001.
//!
//! Used by the producer tests and by the consumer's tests (include it with
//! `#[path = "../support/ws_server.rs"] mod ws_server;` or similar).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use atproto_firehose::producer::{EndReason, EventLog, Sequencer};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The path the server answers on (any path is accepted; this is the one
/// clients are expected to use).
pub const PATH: &str = "/xrpc/com.atproto.sync.subscribeRepos";

/// A running server; dropping it stops accepting and closes every
/// connection.
pub struct WsServer {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl WsServer {
    /// Serves `sequencer` on a free loopback port.
    pub async fn start<L: EventLog>(sequencer: Sequencer<L>) -> std::io::Result<WsServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            let mut served = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                served.spawn(serve(tcp, sequencer.clone()));
                while served.try_join_next().is_some() {}
            }
        });
        Ok(WsServer {
            addr,
            connections,
            task,
        })
    }

    /// `ws://127.0.0.1:PORT` (no path).
    pub fn base_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The full `subscribeRepos` URL, with `?cursor=` when given.
    pub fn url(&self, cursor: Option<i64>) -> String {
        match cursor {
            Some(c) => format!("ws://{}{PATH}?cursor={c}", self.addr),
            None => format!("ws://{}{PATH}", self.addr),
        }
    }

    /// How many TCP connections it has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `cursor` query parameter of a request path, if it is an integer.
fn cursor_of(request: &Request) -> Option<i64> {
    let query = request.uri().query()?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
        .and_then(|v| v.parse().ok())
}

async fn serve<L: EventLog>(tcp: TcpStream, sequencer: Sequencer<L>) {
    let mut cursor = None;
    let callback = |request: &Request, response: Response| {
        cursor = cursor_of(request);
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let Ok(mut frames) = sequencer.subscribe(cursor) else {
        let _ = ws.close(Some(close(CloseCode::Away, ""))).await;
        return;
    };
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(bytes) => {
                    if ws.send(Message::Binary(bytes)).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            // The client went away (or sent something): stop when it closes.
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
    let frame = match frames.end_reason().and_then(EndReason::error_name) {
        Some(name) => close(CloseCode::Policy, name),
        None => close(CloseCode::Away, ""),
    };
    let _ = ws.close(Some(frame)).await;
}

fn close(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}
