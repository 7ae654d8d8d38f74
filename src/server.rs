//! Start-up and shutdown of `casebook serve` and `casebook migrate`: the data
//! directory, the listening socket, the database (external, or the embedded
//! cluster), migrations, and the HTTP server. Each failure becomes one clear
//! [`StartupError`] that says what to do.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use actix_web::HttpServer;
use nix::sys::signal::Signal;

use crate::app::{self, AppState};
use crate::config::Config;
use crate::db::cluster::{Cluster, ClusterError, Layout, Options};
use crate::db::{self, ConnectError, MigrationError};

/// The database the embedded cluster serves Casebook from.
const EMBEDDED_DB: &str = "casebook";
const POOL_SIZE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "the data directory {dir} is not writable ({reason}); choose another --data-dir \
         (CASEBOOK_DATA_DIR) or fix its permissions"
    )]
    DataDir { dir: String, reason: String },
    #[error(
        "there is no Casebook installation in {dir} (no database there); pass --data-dir \
         (CASEBOOK_DATA_DIR) naming the directory `casebook serve` uses, or --database-url; \
         only `casebook serve` and `casebook migrate` create an installation"
    )]
    NoInstallation { dir: String },
    #[error(
        "cannot listen on {addr}: the port is already in use; stop the program using it or \
         choose another --listen (CASEBOOK_LISTEN)"
    )]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {reason}; choose another --listen (CASEBOOK_LISTEN)")]
    Listen { addr: SocketAddr, reason: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error("could not create the embedded database: {0}")]
    CreateDatabase(String),
    #[error("could not set up the connection pool: {0}")]
    Pool(String),
    #[error("{0}")]
    Invalid(#[from] crate::domain::FieldError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("{0}")]
    Command(String),
    #[error("the HTTP server failed: {0}")]
    Server(#[from] io::Error),
}

impl From<crate::db::users::WriteError> for StartupError {
    fn from(e: crate::db::users::WriteError) -> Self {
        match e {
            crate::db::users::WriteError::Field(f) => StartupError::Invalid(f),
            crate::db::users::WriteError::Database(d) => StartupError::Database(d),
        }
    }
}

/// The database Casebook runs on, and the embedded cluster when it owns one.
pub struct Database {
    pub url: String,
    cluster: Option<Cluster>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster.
    ///
    /// Must be called on the main thread: the embedded server's parent-death
    /// signal is tied to the thread that starts it.
    pub async fn open(config: &Config, share_running: bool) -> Result<Self, StartupError> {
        if let Some(url) = &config.database_url {
            db::connect(url).await?;
            return Ok(Self {
                url: url.clone(),
                cluster: None,
            });
        }
        let layout = Layout::in_data_dir(&config.data_dir);
        let cluster = Cluster::start(&Options {
            layout: layout.clone(),
            bin_dir: config.pg_bin_dir.clone(),
            on_parent_death: Some(Signal::SIGINT),
            throwaway: false,
            share_running,
        })?;
        let mut admin = db::connect(&layout.url("postgres")).await?;
        db::create_database_if_missing(&mut admin, EMBEDDED_DB)
            .await
            .map_err(|e| StartupError::CreateDatabase(e.to_string()))?;
        Ok(Self {
            url: layout.url(EMBEDDED_DB),
            cluster: Some(cluster),
        })
    }

    /// Stops the embedded cluster, if there is one.
    pub fn close(self) -> Result<(), ClusterError> {
        match self.cluster {
            Some(cluster) => cluster.stop(),
            None => Ok(()),
        }
    }
}

/// For one-off commands (everything but `serve` and `migrate`): the
/// embedded database must already exist in the data directory. Run from
/// another directory without `--data-dir`, a command would otherwise
/// create a second, empty installation there and load data into it.
pub fn existing_installation(config: &Config) -> Result<(), StartupError> {
    if config.database_url.is_some() {
        return Ok(());
    }
    let layout = Layout::in_data_dir(&config.data_dir);
    if layout.pgdata.join("PG_VERSION").is_file() {
        return Ok(());
    }
    let dir = std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    Err(StartupError::NoInstallation {
        dir: dir.display().to_string(),
    })
}

pub fn ensure_writable(dir: &Path) -> Result<(), StartupError> {
    let failed = |e: io::Error| StartupError::DataDir {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let probe = dir.join(".casebook-write-check");
    std::fs::write(&probe, b"ok").map_err(failed)?;
    std::fs::remove_file(&probe).map_err(failed)
}

pub fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => StartupError::PortInUse { addr },
        _ => StartupError::Listen {
            addr,
            reason: e.to_string(),
        },
    })
}

/// `casebook migrate`: apply pending migrations and stop.
pub async fn migrate(config: &Config) -> Result<Vec<String>, StartupError> {
    ensure_writable(&config.data_dir)?;
    let database = Database::open(config, true).await?;
    let result = db::migrate(&database.url, db::MIGRATIONS).await;
    database.close()?;
    Ok(result?)
}

/// `casebook serve`: everything above, then HTTP until SIGINT or SIGTERM,
/// then the embedded cluster is stopped in order.
pub async fn serve(config: Config) -> Result<(), StartupError> {
    ensure_writable(&config.data_dir)?;
    // Bind before starting the database, so a taken port fails fast.
    let listener = bind(config.listen)?;
    let metrics_listener = config.metrics_listen.map(bind).transpose()?;
    let database = Database::open(&config, false).await?;
    let served = run_http(config, &database.url, listener, metrics_listener).await;
    let closed = database.close();
    served?;
    Ok(closed?)
}

async fn run_http(
    config: Config,
    url: &str,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
) -> Result<(), StartupError> {
    let applied = db::migrate(url, db::MIGRATIONS).await?;
    if !applied.is_empty() {
        tracing::info!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    let pool = request_pool(url).await?;
    let addr = listener.local_addr()?;
    crate::web::setup::announce(&pool, &format!("http://{addr}"))
        .await
        .map_err(|e| StartupError::Pool(e.to_string()))?;
    let index_dir = config.data_dir.join("index");
    let search = crate::search::SearchIndex::open(&index_dir)
        .map_err(|e| StartupError::Command(e.to_string()))?;
    crate::search::triage::warm_in_background(&search);
    // The delivery worker has connections of its own: a slow relay holds
    // these, never the requests'.
    let delivery_pool = db::pool(url, 5).map_err(StartupError::Pool)?;
    let delivery_settings = config.delivery.clone();
    let state = AppState::new(pool.clone(), config, search.clone());
    let listener_task = crate::live::spawn_listener(url.to_owned(), state.hub.clone());
    let arrival_task =
        crate::tickets::arrival::spawn(pool.clone(), search.clone(), state.hub.arrivals.clone());
    // The alert applier has a connection of its own: a burst of requests
    // does not starve it (it is one writer at a time per cluster).
    let inbox_pool = db::pool(url, 1).map_err(StartupError::Pool)?;
    let inbox_task =
        crate::tickets::inbox::spawn(inbox_pool, state.metrics.clone(), state.hub.inbox.clone());
    let indexer_task = crate::search::indexer::spawn(search, pool, state.hub.outbox.clone());
    let delivery_task = crate::notify::worker::spawn(
        delivery_pool,
        delivery_settings,
        state.hub.deliveries.clone(),
    );
    tracing::info!("casebook is listening on http://{addr}/");
    let hub = state.hub.clone();
    let metrics_server = match metrics_listener {
        Some(listener) => {
            tracing::info!(
                "metrics are served on http://{}/metrics",
                listener.local_addr()?
            );
            let state = state.clone();
            let server = HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(actix_web::web::Data::new(state.clone()))
                    .route(
                        "/metrics",
                        actix_web::web::get().to(crate::web::metrics::serve_open),
                    )
            })
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
            Some(server)
        }
        None => None,
    };
    let metrics_handle = metrics_server.as_ref().map(|s| s.handle());
    let metrics_task = metrics_server.map(tokio::spawn);
    let server = HttpServer::new(move || app::build(state.clone()))
        .shutdown_timeout(10)
        // Signals are handled below, so open event streams can be ended
        // before the graceful stop waits for in-flight responses.
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    let stopper = tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        hub.close_streams();
        if let Some(metrics) = metrics_handle {
            metrics.stop(true).await;
        }
        handle.stop(true).await;
    });
    server.await?;
    stopper.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    listener_task.abort();
    indexer_task.abort();
    arrival_task.abort();
    inbox_task.abort();
    delivery_task.abort();
    tracing::info!("HTTP server stopped");
    // Give the pool's connections a moment to close before the server stops.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// The pool the requests (and the search indexer and arrival worker)
/// use, its connections opened before the first request (`db::warm`):
/// `serve` and the benchmarks start the same way.
pub async fn request_pool(url: &str) -> Result<db::DbPool, StartupError> {
    let pool = db::pool(url, POOL_SIZE).map_err(StartupError::Pool)?;
    let opened = db::warm(&pool).await;
    tracing::debug!("{opened} database connection(s) open");
    Ok(pool)
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch for SIGTERM ({e}); stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
