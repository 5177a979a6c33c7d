//! A `subscribeRepos` server for tests that serves a fixed list of frames
//! with cursor semantics: no cursor → every frame; a cursor → the frames
//! with a greater seq; a cursor past the last seq → a `FutureCursor` error
//! frame, then close. After the last frame it holds the connection open
//! (sending nothing) or closes it. Built on tokio-tungstenite's
//! `accept_hdr_async` over any byte stream: TCP for the end-to-end tests,
//! an in-memory pipe for the paused-clock ones.
//!
//! Included by `#[path]` from the firehose consumer tests and the `atp
//! firehose tail` tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use atproto_firehose::{CaptureReader, ErrorMessage, Frame};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// What the server does on each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Serve the frames after the cursor, then hold the connection open.
    Serve,
    /// Serve them, then close the connection.
    ServeThenClose,
    /// Serve at most this many frames, then drop the connection (no close
    /// handshake), as a crashing server would.
    DropAfter(usize),
    /// Complete the handshake and send nothing (the liveness test).
    Silent,
}

/// One accepted connection.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The `cursor` query parameter, if any.
    pub cursor: Option<i64>,
    /// The request path.
    pub path: String,
    /// When the handshake request arrived (tokio's clock: paused in tests).
    pub at: tokio::time::Instant,
}

/// The server's frames and what it saw.
pub struct FramesServer {
    /// Each message, as sent.
    pub messages: Vec<Bytes>,
    seqs: Vec<Option<i64>>,
    mode: Mutex<Mode>,
    /// Every connection, in order.
    pub connections: Mutex<Vec<Connection>>,
    /// Frames written to a socket so far, over all connections.
    pub sent: AtomicUsize,
}

/// The reference PDS capture, as messages.
pub fn capture_messages(path: &std::path::Path) -> Vec<Bytes> {
    let data = Bytes::from(std::fs::read(path).expect("capture readable"));
    let mut reader = CaptureReader::new(data);
    let mut out = Vec::new();
    while let Some(record) = reader.next_message() {
        out.push(record.expect("capture record").1);
    }
    out
}

/// An error frame.
pub fn error_frame(name: &str, message: &str) -> Bytes {
    Bytes::from(
        Frame::Error(ErrorMessage {
            error: name.into(),
            message: Some(message.into()),
            extra: Default::default(),
        })
        .encode(),
    )
}

impl FramesServer {
    /// A server of these messages (each must decode).
    pub fn new(messages: Vec<Bytes>, mode: Mode) -> Arc<Self> {
        let seqs = messages
            .iter()
            .map(|m| Frame::decode(m).expect("a frame").seq())
            .collect();
        Arc::new(FramesServer {
            messages,
            seqs,
            mode: Mutex::new(mode),
            connections: Mutex::new(Vec::new()),
            sent: AtomicUsize::new(0),
        })
    }

    /// Changes what later connections get.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The last seq.
    pub fn head(&self) -> i64 {
        self.seqs.iter().flatten().copied().max().unwrap_or(0)
    }

    /// The accepted connections so far.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections.lock().unwrap().clone()
    }

    /// Serves one connection on `stream`.
    pub async fn serve<S>(self: Arc<Self>, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let callback = move |req: &Request, resp: Response| {
            *record.lock().unwrap() = Some((
                req.uri().path().to_string(),
                req.uri().query().map(String::from),
            ));
            Ok(resp)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
            return;
        };
        let (path, query) = seen.lock().unwrap().clone().unwrap_or_default();
        let cursor = query.as_deref().unwrap_or("").split('&').find_map(|p| {
            p.strip_prefix("cursor=")
                .map(|c| c.parse::<i64>().expect("numeric cursor"))
        });
        self.connections.lock().unwrap().push(Connection {
            cursor,
            path,
            at: tokio::time::Instant::now(),
        });
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Silent {
            while ws.next().await.is_some() {}
            return;
        }
        if cursor.is_some_and(|c| c > self.head()) {
            let _ = ws
                .send(Message::Binary(error_frame(
                    "FutureCursor",
                    "Cursor in the future.",
                )))
                .await;
            let _ = ws.close(None).await;
            return;
        }
        let mut served = 0;
        for (message, seq) in self.messages.iter().zip(&self.seqs) {
            if let (Some(c), Some(seq)) = (cursor, seq)
                && *seq <= c
            {
                continue;
            }
            if mode == Mode::DropAfter(served) {
                return;
            }
            if ws.send(Message::Binary(message.clone())).await.is_err() {
                return;
            }
            served += 1;
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        if mode == Mode::ServeThenClose {
            let _ = ws.close(None).await;
        }
        // Hold the connection until the client goes.
        while ws.next().await.is_some() {}
    }

    /// Listens on a loopback port, serving every connection.
    pub async fn listen(self: Arc<Self>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(self.clone().serve(tcp));
            }
        });
        addr
    }
}

/// A TCP proxy in front of `upstream` that cuts each connection (both
/// directions, no close handshake) after a random number of bytes from the
/// server, drawn from a generator seeded with `seed`, up to `cuts` times;
/// later connections pass through whole. Returns its address and the cut
/// counter.
pub async fn cutting_proxy(
    upstream: SocketAddr,
    seed: u64,
    max_bytes: u64,
    cuts: usize,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    tokio::spawn(async move {
        let mut state = seed;
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let limit = if done.load(Ordering::SeqCst) < cuts {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                Some(1 + (state >> 33) % max_bytes)
            } else {
                None
            };
            let done = done.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut left = limit;
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let n = match left {
                        Some(l) if (n as u64) >= l => {
                            let _ = cw.write_all(&buf[..l as usize]).await;
                            done.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Some(l) => {
                            left = Some(l - n as u64);
                            n
                        }
                        None => n,
                    };
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    (addr, counter)
}
