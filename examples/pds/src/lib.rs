//! An AT Protocol PDS on embedded SQLite, assembled from the public
//! atproto-* crates. The binary (`src/main.rs`) reads the [`config`],
//! opens the server and prints one ready line; the modules are the server's
//! parts, testable on their own:
//!
//! - [`config`]: the `PDS_*` variables (or flags), checked;
//! - [`server`]: the XRPC router;
//! - [`store`]: the SQLite database (schema, repo blocks, event log);
//! - [`writer`]: the one thread that writes, with group commit.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod server;
pub mod store;
pub mod writer;

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
    /// The database could not be opened.
    #[error("{0}")]
    Open(#[from] store::OpenError),
    /// The blob directory could not be created.
    #[error("cannot create {}: {source}", dir.display())]
    BlobDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The firehose sequencer could not read the event log.
    #[error("firehose: {0}")]
    Sequencer(#[from] atproto_firehose::producer::SubscribeError),
    /// The writer thread could not start.
    #[error("cannot start the writer: {0}")]
    Writer(std::io::Error),
}

/// The database, the firehose sequencer and the writer, opened on a data
/// directory: what the handlers work on.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The database.
    pub db: store::Database,
    /// Read connections.
    pub reads: Arc<store::ReadPool>,
    /// The writer (and through it the sequencer).
    pub writer: writer::WriterHandle,
}

/// How many read connections the server opens.
const READ_CONNECTIONS: usize = 4;

impl Storage {
    /// Opens (or creates) the database in `dir`, builds the sequencer on
    /// its event log (continuing its sequence) and starts the writer.
    ///
    /// # Errors
    /// See [`SetupError`].
    pub fn open(
        dir: &std::path::Path,
        config: writer::WriterConfig,
    ) -> Result<Storage, SetupError> {
        let (db, conn) = store::Database::open(dir)?;
        let reads = Arc::new(
            db.read_pool(READ_CONNECTIONS)
                .map_err(store::OpenError::from)?,
        );
        let log = store::events::SqlEventLog::new(&db, Arc::clone(&reads))
            .map_err(store::OpenError::from)?;
        let sequencer = atproto_firehose::producer::Sequencer::new(
            log,
            atproto_firehose::producer::SequencerConfig::default(),
        )?;
        let (writer, _thread) =
            writer::WriterHandle::start(conn, sequencer, config).map_err(SetupError::Writer)?;
        Ok(Storage { db, reads, writer })
    }
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
        let storage = Storage::open(&config.data_directory, writer::WriterConfig::default())?;
        std::fs::create_dir_all(&config.blob_directory).map_err(|source| SetupError::BlobDir {
            dir: config.blob_directory.clone(),
            source,
        })?;
        let public_url = config.public_url(addr.port());
        let state = AppState {
            config: Arc::new(config),
            public_url: public_url.into(),
            storage,
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
