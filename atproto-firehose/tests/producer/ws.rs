//! Subscriptions served over real loopback WebSockets
//! (`tests/support/ws_server.rs`), read by a tokio-tungstenite client.

use std::time::Duration;

use atproto_firehose::producer::{MemoryLog, Sequencer, SequencerConfig};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::ws_server::WsServer;
use crate::{Seen, account, error, events, publish_n, seen};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads `n` binary frames.
async fn read_frames(client: &mut Client, n: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    while out.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("no frame within 10 s")
            .expect("connection ended")
            .unwrap();
        match message {
            Message::Binary(bytes) => out.push(seen(&bytes)),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?} after {out:?}"),
        }
    }
    out
}

/// Reads until the server closes; returns the close code and reason.
async fn read_close(client: &mut Client) -> Option<(CloseCode, String)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("no close within 10 s")
        {
            Some(Ok(Message::Close(frame))) => {
                return frame.map(|f| (f.code, f.reason.to_string()));
            }
            Some(Ok(Message::Binary(b))) => panic!("frame {:?} before the close", seen(&b)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_then_live_over_a_websocket() {
    let s = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    publish_n(&s, 20);
    let server = WsServer::start(s.clone()).await.unwrap();
    let mut client = connect(&server.url(Some(5))).await;
    assert_eq!(read_frames(&mut client, 15).await, events(6, 20));
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..500 {
                s.publish(account(i)).unwrap();
                if i % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    assert_eq!(read_frames(&mut client, 500).await, events(21, 520));
    writer.await.unwrap();
    // A second client, live only.
    let mut live = connect(&server.url(None)).await;
    // Let the server subscribe before publishing.
    while server.connections() < 2 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.publish(account(0)).unwrap();
    assert_eq!(read_frames(&mut live, 1).await, events(521, 521));
    assert_eq!(read_frames(&mut client, 1).await, events(521, 521));
    // Shutdown: both connections close with 1001.
    s.shutdown();
    assert_eq!(
        read_close(&mut client).await.map(|c| c.0),
        Some(CloseCode::Away)
    );
    assert_eq!(
        read_close(&mut live).await.map(|c| c.0),
        Some(CloseCode::Away)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_cursor_over_a_websocket_is_an_error_frame_and_a_policy_close() {
    let s = Sequencer::new(MemoryLog::default(), SequencerConfig::default()).unwrap();
    publish_n(&s, 3);
    let server = WsServer::start(s).await.unwrap();
    let mut client = connect(&server.url(Some(99))).await;
    assert_eq!(
        read_frames(&mut client, 1).await,
        vec![error("FutureCursor")]
    );
    assert_eq!(
        read_close(&mut client).await,
        Some((CloseCode::Policy, "FutureCursor".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_with_consumer_too_slow() {
    let config = SequencerConfig {
        live_buffer_events: 50,
        ..SequencerConfig::default()
    };
    let s = Sequencer::new(MemoryLog::default(), config).unwrap();
    let server = WsServer::start(s.clone()).await.unwrap();
    let mut client = connect(&server.url(Some(0))).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ~55 MB while the client does not read: the socket buffers fill, the
    // server's send blocks, the subscription falls out of the live buffer.
    for _ in 0..5_000 {
        s.publish(crate::sync_event(9_000)).unwrap();
    }
    let mut frames = 0usize;
    let mut last = None;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .unwrap();
        match message {
            Some(Ok(Message::Binary(b))) => {
                frames += 1;
                last = Some(seen(&b));
            }
            Some(Ok(Message::Close(frame))) => {
                let frame = frame.unwrap();
                assert_eq!(frame.code, CloseCode::Policy);
                assert_eq!(frame.reason.as_str(), "ConsumerTooSlow");
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(last, Some(error("ConsumerTooSlow")));
    assert!(frames < 5_000, "{frames} frames");
}
