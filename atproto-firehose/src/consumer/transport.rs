//! How a consumer opens the byte stream under the WebSocket: TCP, with
//! rustls for `wss://`, or anything a caller supplies (a proxy, an
//! in-memory pipe in tests).

use core::future::Future;
use core::pin::Pin;
use std::boxed::Box;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::url::SubscribeUrl;

/// A byte stream a WebSocket runs over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxedIo = Box<dyn Io>;

/// What [`Transport::connect`] returns.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = std::io::Result<BoxedIo>> + Send + 'a>>;

/// Opens the stream to a `subscribeRepos` server; the consumer then runs
/// the WebSocket handshake over it. [`TcpTransport`] is the default.
pub trait Transport: Send + Sync + 'static {
    /// A stream to `url`'s host and port (TLS already set up for `wss`).
    fn connect<'a>(&'a self, url: &'a SubscribeUrl) -> ConnectFuture<'a>;
}

/// TCP, with TLS (rustls, the ring provider, the webpki root certificates)
/// for `wss://`.
#[derive(Clone, Default)]
pub struct TcpTransport {
    /// Built on the first `wss://` connection unless given.
    tls: OnceLock<tokio_rustls::TlsConnector>,
}

impl core::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpTransport").finish_non_exhaustive()
    }
}

impl TcpTransport {
    /// A transport that trusts the webpki roots for `wss://`.
    pub fn new() -> Self {
        TcpTransport::default()
    }

    /// A transport using this rustls client configuration for `wss://`
    /// (other roots, client certificates).
    pub fn with_tls_config(config: Arc<rustls::ClientConfig>) -> Self {
        TcpTransport {
            tls: OnceLock::from(tokio_rustls::TlsConnector::from(config)),
        }
    }

    fn connector(&self) -> std::io::Result<tokio_rustls::TlsConnector> {
        if let Some(tls) = self.tls.get() {
            return Ok(tls.clone());
        }
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // ring, not aws-lc: the provider reqwest uses in atproto-xrpc (the
        // same call), so one TLS stack serves the whole workspace.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        Ok(self.tls.get_or_init(|| connector).clone())
    }
}

impl Transport for TcpTransport {
    fn connect<'a>(&'a self, url: &'a SubscribeUrl) -> ConnectFuture<'a> {
        Box::pin(async move {
            let host = url.host();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let tcp = TcpStream::connect((bare, url.port())).await?;
            tcp.set_nodelay(true)?;
            if !url.is_tls() {
                return Ok(Box::new(tcp) as BoxedIo);
            }
            let name = rustls::pki_types::ServerName::try_from(std::string::String::from(bare))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = self.connector()?.connect(name, tcp).await?;
            Ok(Box::new(tls) as BoxedIo)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tls_setup_builds_once_and_is_reused() {
        let transport = TcpTransport::new();
        assert!(
            transport.tls.get().is_none(),
            "built on the first wss:// use"
        );
        transport.connector().unwrap();
        assert!(transport.tls.get().is_some());
        transport.connector().unwrap();
    }

    #[tokio::test]
    async fn plain_ws_connects_over_tcp() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = SubscribeUrl::parse(&std::format!("ws://{addr}")).unwrap();
        let transport = TcpTransport::new();
        let (accepted, connected) = tokio::join!(listener.accept(), transport.connect(&url));
        accepted.unwrap();
        connected.unwrap();
    }
}
