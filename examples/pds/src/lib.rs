//! An AT Protocol PDS on embedded SQLite, assembled from the public
//! atproto-* crates. The binary (`src/main.rs`) reads the [`config`],
//! opens the server and prints one ready line; the modules are the server's
//! parts, testable on their own:
//!
//! - [`config`]: the `PDS_*` variables (or flags), checked;
//! - [`server`]: the XRPC router.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::server::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Binding the listening socket failed.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The router could not be built.
    #[error("router: {0}")]
    Router(#[from] atproto_xrpc::server::RouterError),
}

/// A PDS bound to its port, ready to serve.
#[derive(Debug)]
pub struct Pds {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
}

impl Pds {
    /// Binds `127.0.0.1:<config.port>` and prepares the server.
    ///
    /// # Errors
    /// See [`SetupError`].
    pub async fn open(config: Config) -> Result<Pds, SetupError> {
        let port = config.port;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| SetupError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SetupError::Bind { port, source })?;
        let public_url = config.public_url(addr.port());
        let state = AppState {
            config: Arc::new(config),
            public_url: public_url.into(),
        };
        Ok(Pds {
            listener,
            addr,
            state,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL it answers on (loopback).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The state its handlers share.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The ready line: one JSON object with the URL, the public URL and the
    /// service DID.
    pub fn ready_line(&self) -> String {
        serde_json::json!({
            "url": self.url(),
            "publicUrl": &*self.state.public_url,
            "did": self.state.config.service_did.as_str(),
        })
        .to_string()
    }

    /// Serves until `shutdown` completes, then finishes the requests in
    /// flight.
    ///
    /// # Errors
    /// The router could not be built, or the server failed.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = server::router(self.state)?;
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Io)
    }
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The router could not be built.
    #[error("router: {0}")]
    Router(#[from] atproto_xrpc::server::RouterError),
    /// The listener failed.
    #[error("server: {0}")]
    Io(std::io::Error),
}
