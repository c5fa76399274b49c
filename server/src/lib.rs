//! groundwork-relay: the server every device syncs with. It merges the edits of many devices,
//! persists every change before acknowledging it, and fans changes out to the devices of the
//! same group.
//!
//! Shape: [`serve`] runs an axum server. Each WebSocket connection is a task that forwards
//! frames to one hub thread ([`hub`]) and writes back what the hub sends; the hub thread owns
//! the sans-IO sync hub of groundwork-core and the store ([`store`]: SQLite, or PostgreSQL
//! shared by several relay nodes).

pub mod access;
pub mod campaign;
pub mod channel;
pub mod cluster;
pub mod db;
pub mod guard;
pub mod hub;
pub mod key;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod session;
mod socket;
pub mod store;
pub mod tls;
pub mod web;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::tls::PeerAddr;

use crate::channel::Inbound;
use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError};

/// How the relay runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where `relay.db` lives.
    pub data: PathBuf,
    /// The largest frame accepted; a larger one closes its connection with an error.
    pub max_frame_bytes: usize,
    /// Documents no connection syncs leave memory after this long.
    pub unload_idle_after: Duration,
    /// When set, a device must present this code before it may create groups.
    pub signup_code: Option<String>,
    /// Connection handshakes one address may make per minute (0: no limit).
    pub handshakes_per_minute: u32,
    /// Invite redemptions one address may attempt per minute (0: no limit).
    pub redemptions_per_minute: u32,
    /// Documents one connection may sync; past it the connection is closed with an error.
    pub max_docs_per_connection: usize,
    /// Member devices one group may have ([`DEFAULT_MAX_GROUP_MEMBERS`]); an invite past it is
    /// refused with the reason.
    pub max_group_members: usize,
    /// Open sockets one network address may hold (0: no cap); more are dropped as they come.
    pub max_connections_per_address: usize,
    /// A socket whose peer sends nothing for this long is closed (the relay pings live
    /// connections every third of it, and devices answer).
    pub idle_timeout: Duration,
    /// The most bytes one connection may have waiting to be sent; past it the peer is not
    /// reading and is cut off.
    pub max_queued_bytes: usize,
    /// Frames per second one device may send over all its connections, sustained (0: no
    /// limit); bursts of [`Config::frame_burst`] go at once. Past it the relay reads its
    /// frames more slowly; none is refused.
    pub frames_per_second: u32,
    /// Frames one device may send at once, past its rate.
    pub frame_burst: u32,
    /// Serve TLS with this certificate chain and private key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Where the key of the relay's files at rest comes from.
    pub key: key::KeySource,
    /// A PostgreSQL database (`postgres://...`) to keep everything in instead of `relay.db`:
    /// several relay nodes may share one. `data` then holds nothing the relay needs.
    pub database: Option<String>,
    /// The addresses devices dial this relay at (`wss://relay.example.org`; any form of a
    /// relay URL, or its web address). Connection proofs name the relay they were made for,
    /// and one made for any other address is refused. Empty: the listening address itself
    /// ([`audiences`]), which a relay behind a proxy or listening on every address cannot
    /// know.
    pub public_urls: Vec<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer` with this token (401
    /// otherwise): its figures (connections per address, failures) are for the operator.
    /// Unset, it is public, as tests and the benchmarks read it.
    pub metrics_token: Option<String>,
}

impl Config {
    /// Defaults for a data directory: 16 MiB frames, documents unloaded after 2 s idle (memory
    /// follows active documents; reloading one is a single SQLite read).
    pub fn new(data: PathBuf) -> Self {
        Self {
            data,
            max_frame_bytes: 16 * 1024 * 1024,
            unload_idle_after: Duration::from_secs(2),
            signup_code: None,
            handshakes_per_minute: 300,
            redemptions_per_minute: 10,
            max_docs_per_connection: 10_000,
            max_group_members: DEFAULT_MAX_GROUP_MEMBERS,
            max_connections_per_address: 128,
            idle_timeout: Duration::from_secs(90),
            max_queued_bytes: 64 * 1024 * 1024,
            frames_per_second: 1_000,
            frame_burst: 5_000,
            tls: None,
            key: key::KeySource::default(),
            database: None,
            public_urls: Vec::new(),
            metrics_token: None,
        }
    }

    /// Where the store is: the PostgreSQL database if one is named, else `relay.db` in the
    /// data directory with its key (resolved now: a wrong or missing key is refused here).
    pub fn location(&self) -> Result<store::Location, StoreError> {
        Ok(match &self.database {
            Some(url) => store::Location::Postgres { url: url.clone() },
            None => store::Location::Sqlite {
                dir: self.data.clone(),
                key: self.key.resolve(&self.data)?,
            },
        })
    }
}

/// The most member devices a group has by default (a person's second phone counts): groups
/// are tens of people; the largest campaign groups a few hundred. The figure is the one the
/// test suite and the benchmarks hold the relay to (README, "Limits").
pub const DEFAULT_MAX_GROUP_MEMBERS: usize = 500;

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The configuration cannot be served as given; the message says what to change.
    #[error("{0}")]
    Config(String),
}

/// The audiences a relay answers to: those of `public_urls`, or when none is given, its own
/// listening address (`ws://` or, with TLS, `wss://`; on a loopback address `localhost` too,
/// which is how people type it). A relay listening on every address (`0.0.0.0`, `[::]`)
/// cannot tell which name devices dial it by, and asks for `--public-url`.
pub fn audiences(
    public_urls: &[String],
    listening: std::net::SocketAddr,
    tls: bool,
) -> Result<Vec<String>, RelayError> {
    let mut out = Vec::new();
    for url in public_urls {
        out.push(
            groundwork_core::relay::audience(url)
                .map_err(|e| RelayError::Config(format!("--public-url: {e}")))?,
        );
    }
    if out.is_empty() {
        let scheme = if tls { "wss" } else { "ws" };
        let ip = listening.ip();
        if ip.is_unspecified() {
            return Err(RelayError::Config(format!(
                "listening on every address ({listening}): name the address devices dial this \
                 relay at with --public-url (e.g. --public-url {scheme}://relay.example.org; \
                 repeat it for each name), so that a connection proof made for another server \
                 is refused here"
            )));
        }
        let port = listening.port();
        let host = match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let mut hosts = vec![host];
        if ip.is_loopback() {
            hosts.push("localhost".into());
        }
        for host in hosts {
            let aud = groundwork_core::relay::audience(&format!("{scheme}://{host}:{port}"))
                .map_err(|e| RelayError::Config(e.to_string()))?;
            out.push(aud);
        }
    }
    // In the order given: the first is the one the relay names at start and on `/`.
    let mut seen = std::collections::HashSet::new();
    out.retain(|a| seen.insert(a.clone()));
    Ok(out)
}

/// The web origin of an audience (`ws://h:1` -> `http://h:1`, `wss://h` -> `https://h`): where
/// people open the dashboard and the public map.
pub fn web_origin(audience: &str) -> String {
    match audience.strip_prefix("wss://") {
        Some(rest) => format!("https://{rest}"),
        None => format!(
            "http://{}",
            audience.strip_prefix("ws://").unwrap_or(audience)
        ),
    }
}

/// What every connection's task shares: the way to the hub thread, the limits, the counters.
#[derive(Clone)]
pub(crate) struct App {
    inbound: std::sync::mpsc::Sender<Inbound>,
    metrics: Arc<Metrics>,
    next_conn: Arc<AtomicU64>,
    max_frame: usize,
    idle: Duration,
    admission: Arc<guard::Admission>,
    frame_rate: Arc<limits::FrameRate>,
    handshakes: Arc<limits::RateLimit>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Serves until `shutdown` completes, then closes every connection and returns once the hub
/// thread has written everything it acknowledged. The caller binds the listener (tests bind
/// port 0).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let location = config.location()?;
    let audiences = audiences(
        &config.public_urls,
        listener.local_addr()?,
        config.tls.is_some(),
    )?;
    let metrics = Arc::new(Metrics::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let hub_metrics = metrics.clone();
    let mut options = hub::Options {
        storage_id: String::new(),
        unload_after: config.unload_idle_after,
        signup_code: config.signup_code.clone(),
        max_docs_per_connection: config.max_docs_per_connection,
        max_group_members: config.max_group_members,
        redemptions: Arc::new(limits::RateLimit::new(config.redemptions_per_minute)),
        // Room for the largest frame twice over, so a big first sync is never cut off.
        max_queued_bytes: config.max_queued_bytes.max(2 * config.max_frame_bytes),
        audiences: audiences.clone(),
    };
    // The hub thread opens the store itself: it owns it from the first statement to the last,
    // and PostgreSQL's blocking client must never run on the async runtime's threads.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let hub_location = location.clone();
    let hub = std::thread::Builder::new()
        .name("groundwork-hub".into())
        .spawn(move || {
            let opened = RelayStore::open_at(&hub_location).and_then(|store| {
                // Nodes sharing a database are one storage to devices: its id lives there.
                let id = match &hub_location {
                    store::Location::Sqlite { dir, .. } => storage_id(dir),
                    store::Location::Postgres { .. } => store.shared_storage_id()?,
                };
                Ok((store, id))
            });
            match opened {
                Ok((store, id)) => {
                    let _ = ready_tx.send(Ok(store.node().to_owned()));
                    options.storage_id = id;
                    hub::run(store, rx, hub_metrics, options);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
    let node = ready_rx
        .await
        .map_err(|_| std::io::Error::other("the hub thread stopped while opening the store"))??;
    // Nodes on one PostgreSQL database hear of each other's commits on a connection of their
    // own; the hub reads the change log when told (and on a timer, in case a hint is lost).
    let stop_listener = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener_thread = match &location {
        store::Location::Postgres { url } => {
            let inbound = tx.clone();
            Some(cluster::listen(
                url.clone(),
                node,
                stop_listener.clone(),
                move || inbound.send(Inbound::LogChanged).is_ok(),
            )?)
        }
        store::Location::Sqlite { .. } => None,
    };
    let admission = guard::Admission::new(config.max_connections_per_address, config.idle_timeout);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = App {
        inbound: tx,
        metrics,
        next_conn: Arc::new(AtomicU64::new(1)),
        max_frame: config.max_frame_bytes,
        idle: config.idle_timeout,
        admission: admission.clone(),
        frame_rate: Arc::new(limits::FrameRate::new(
            config.frames_per_second,
            config.frame_burst,
        )),
        handshakes: Arc::new(limits::RateLimit::new(config.handshakes_per_minute)),
        shutdown: stop_rx,
    };
    let sync_url = audiences
        .first()
        .map(|a| format!("{a}{}", groundwork_core::relay::SYNC_PATH))
        .unwrap_or_default();
    let web = web::Web::open(&location, config.tls.is_some())?.with_sync_url(&sync_url);
    let router = Router::new()
        .route("/v1/sync", get(socket::sync_ws))
        .route("/healthz", get(healthz))
        .route("/metrics", metrics_route(config.metrics_token.as_deref()))
        .with_state(app.clone())
        .merge(web::router(web));
    // Under TLS every response, the sync endpoint's and /healthz's too, says to use only https.
    let router = if config.tls.is_some() {
        router.layer(axum::middleware::from_fn(web::protect::strict_transport))
    } else {
        router
    };
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        tls = config.tls.is_some(),
        accepts = %audiences.join(" "),
        "relay serving (connection proofs must name one of the addresses it accepts)"
    );
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let listener = guard::GuardedListener::new(listener, admission);
    match &config.tls {
        Some((cert, key)) => {
            let tls = tls::TlsListener::new(listener, tls::server_config(cert, key)?)?;
            axum::serve(
                tls,
                router.into_make_service_with_connect_info::<PeerAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await?;
        }
        None => {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<PeerAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await?;
        }
    }
    // Every connection task has ended; the listener stops (it holds a sender too), and
    // dropping the last sender lets the hub thread finish.
    stop_listener.store(true, Ordering::Relaxed);
    if let Some(thread) = listener_thread {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    drop(app);
    let _ = tokio::task::spawn_blocking(move || hub.join()).await;
    tracing::info!("relay stopped");
    Ok(())
}

/// A stable id for this relay's storage, kept in the data directory.
fn storage_id(dir: &std::path::Path) -> String {
    let path = dir.join("storage-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return id.trim().to_owned();
    }
    let id = groundwork_core::ids::DocumentId::random()
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "relay".into());
    let _ = std::fs::write(&path, &id);
    id
}

/// `ok` while the relay takes changes; 503 with the reason while its store does not (it still
/// serves reads then).
async fn healthz(State(app): State<App>) -> Response {
    match app.metrics.storage_problem() {
        None => "ok\n".into_response(),
        Some(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {problem}\n"),
        )
            .into_response(),
    }
}

/// `/metrics`, behind the bearer token when there is one.
fn metrics_route(token: Option<&str>) -> axum::routing::MethodRouter<App> {
    let route = get(metrics_text);
    match token {
        Some(token) => route.route_layer(axum::middleware::from_fn_with_state(
            Arc::new(web::protect::BearerToken::new(token)),
            web::protect::require_bearer,
        )),
        None => route,
    }
}

async fn metrics_text(State(app): State<App>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        app.metrics.render() + &app.admission.render(),
    )
}
