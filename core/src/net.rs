//! The device's side of the network, natively: dials the relay over WebSocket (rustls for
//! `wss://`) and drives a sans-IO [`Session`] against the device store, either once until every
//! document is synced ([`sync_once`]) or for as long as the app wants it, pushing local edits as
//! they are stored and reconnecting with jittered exponential backoff when the relay is lost
//! ([`run`]). The browser drives the same [`Session`] over its own `WebSocket`.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::device::Device;
use crate::error::{Error, Result};
use crate::ids::DocumentId;
use crate::requests::{Flow, Joined};
use crate::sync::connection::{Backoff, ConnectionRecord, ConnectionState, HEARTBEAT_MS};
use crate::sync::control::{Answer, Control, Request};
use crate::sync::session::{Session, Step};
use crate::time::now_ms;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one `sync --once` did.
#[derive(Clone, Debug, Serialize)]
pub struct SyncSummary {
    /// The relay dialled.
    pub relay: String,
    /// Whether every document ended synced both ways.
    pub synced: bool,
    /// Documents synced.
    pub documents: usize,
    /// Documents the relay does not have (yet) and this device has nothing of.
    pub unavailable: Vec<String>,
    /// Documents not synced when the run ended.
    pub pending: Vec<String>,
    /// Network round trips: the handshake plus the longest exchange of any one document (the
    /// documents are pipelined, so this is what the run costs in latency).
    pub round_trips: u32,
    /// Frames sent and received.
    pub frames_sent: u64,
    /// Frames received.
    pub frames_received: u64,
    /// Documents that changed here because of the relay.
    pub received_changes: usize,
    /// How long it took, in milliseconds.
    pub millis: u64,
    /// Groups this device was removed from, whose data it deleted on the relay's order.
    pub wiped: Vec<String>,
    /// The documents that changed here because of the relay (for observers; not printed).
    #[serde(skip)]
    pub changed: Vec<String>,
}

/// How far a [`sync_once`] has got, reported as it goes (for a progress line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    /// Documents known so far (the relay may still offer more until it says it is done).
    pub documents: usize,
    /// Of those, documents synced both ways.
    pub synced: usize,
    /// Bytes sent to the relay.
    pub bytes_sent: u64,
    /// Bytes received from the relay.
    pub bytes_received: u64,
}

fn relay_error(relay: &str, reason: impl std::fmt::Display) -> Error {
    Error::Relay {
        relay: relay.to_owned(),
        reason: reason.to_string(),
    }
}

/// Dials `url` (the relay's URL with this device's signed connection proof).
async fn dial(relay: &str, url: &str, timeout: Duration) -> Result<Ws> {
    // Another part of the process may have installed a provider already; either one will do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    crate::relay::check(relay)?;
    let connector = tls_connector(relay)?;
    // Nagle off (`disable_nagle`): a sync message is one small frame, and with Nagle on, an
    // edit written while the previous frame's acknowledgement is still delayed waits for it
    // (up to 40 ms on Linux), on every edit. The relay sets the same on its side.
    let connect = tokio_tungstenite::connect_async_tls_with_config(url, None, true, connector);
    let (ws, _) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| relay_error(relay, "timed out connecting"))?
        .map_err(|e| dial_error(relay, e))?;
    Ok(ws)
}

/// A failed upgrade, said so that the person can fix it: a 404 is a URL without the relay's
/// sync path far more often than a missing relay.
fn dial_error(relay: &str, e: tokio_tungstenite::tungstenite::Error) -> Error {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e {
        WsError::Http(response) if response.status() == 404 => {
            let reason = if crate::relay::has_no_path(relay) {
                format!(
                    "no sync endpoint at {relay}; the relay's is {}",
                    crate::relay::with_sync_path(relay)
                )
            } else {
                format!("no sync endpoint at {relay} (HTTP 404 Not Found)")
            };
            relay_error(relay, reason)
        }
        e => relay_error(relay, e),
    }
}

/// For `wss://`: the public web roots, plus the certificates in `GROUNDWORK_CA_FILE` (PEM) when
/// it is set (a relay with a private CA or a self-signed certificate). Certificates are always
/// verified.
fn tls_connector(relay: &str) -> Result<Option<tokio_tungstenite::Connector>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let Some(ca) = std::env::var_os("GROUNDWORK_CA_FILE") else {
        return Ok(None);
    };
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let path = std::path::PathBuf::from(ca);
    let certs = CertificateDer::pem_file_iter(&path)
        .and_then(|i| i.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| relay_error(relay, format!("GROUNDWORK_CA_FILE {}: {e}", path.display())))?;
    for cert in certs {
        roots.add(cert).map_err(|e| {
            relay_error(relay, format!("GROUNDWORK_CA_FILE {}: {e}", path.display()))
        })?;
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(tokio_tungstenite::Connector::Rustls(
        std::sync::Arc::new(config),
    )))
}

/// One connection: the sans-IO [`Session`] and the socket it is driven over.
struct Link {
    session: Session,
    sink: SplitSink<Ws, WsMessage>,
    stream: SplitStream<Ws>,
    relay: String,
}

impl Link {
    fn new(relay: &str, session: Session, ws: Ws) -> Self {
        let (sink, stream) = ws.split();
        Link {
            session,
            sink,
            stream,
            relay: relay.to_owned(),
        }
    }

    async fn send(&mut self, frames: Vec<Vec<u8>>) -> Result<()> {
        for frame in frames {
            self.sink
                .send(WsMessage::Binary(frame.into()))
                .await
                .map_err(|e| relay_error(&self.relay, e))?;
        }
        Ok(())
    }

    /// Takes in one message from the socket.
    fn receive(
        &mut self,
        next: Option<std::result::Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<()> {
        match next {
            None => Err(relay_error(&self.relay, "the relay closed the connection")),
            Some(Err(e)) => Err(relay_error(&self.relay, e)),
            Some(Ok(WsMessage::Binary(bytes))) => {
                self.session.receive(&bytes);
                Ok(())
            }
            Some(Ok(WsMessage::Close(frame))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                Err(relay_error(
                    &self.relay,
                    format!("the relay closed the connection: {reason}"),
                ))
            }
            Some(Ok(_)) => Ok(()),
        }
    }

    /// Closes the socket politely; the relay may already be gone.
    async fn goodbye(mut self) {
        let _ = self.sink.send(WsMessage::Close(None)).await;
    }
}

/// Connects to `relay`, syncs every document of this device both ways, and returns when all
/// are synced (or `timeout` passes, or a document the device has nothing of is unavailable).
pub async fn sync_once(
    device: impl DeviceAccess,
    relay: &str,
    timeout: Duration,
) -> Result<SyncSummary> {
    sync_once_reporting(device, relay, timeout, &mut |_| {}).await
}

/// [`sync_once`], telling `on_progress` how far it has got after each exchange with the relay
/// (a lead's first sync of a large group takes a while).
pub async fn sync_once_reporting(
    mut device: impl DeviceAccess,
    relay: &str,
    timeout: Duration,
    on_progress: &mut (dyn FnMut(&SyncProgress) + Send),
) -> Result<SyncSummary> {
    let result = sync_once_inner(&mut device, relay, timeout, on_progress).await;
    // `status` reports how the last sync ended.
    let now = now_ms();
    let record = ConnectionRecord {
        relay: relay.to_owned(),
        state: ConnectionState::Offline,
        since: now,
        attempt: u32::from(result.is_err()),
        last_error: result.as_ref().err().map(|e| e.to_string()),
        retry_at: None,
        heartbeat: now,
    };
    device.with(|d| d.record_connection(&record))?;
    result
}

async fn sync_once_inner(
    device: &mut impl DeviceAccess,
    relay: &str,
    timeout: Duration,
    on_progress: &mut (dyn FnMut(&SyncProgress) + Send),
) -> Result<SyncSummary> {
    let started = Instant::now();
    let (session, url) =
        device.with(|d| -> Result<_> { Ok((Session::start(d, relay)?, d.connect_url(relay)?)) })?;
    let ws = dial(relay, &url, timeout).await?;
    let mut link = Link::new(relay, session, ws);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut summary = SyncSummary {
        relay: relay.to_owned(),
        synced: false,
        documents: 0,
        unavailable: Vec::new(),
        pending: Vec::new(),
        round_trips: 0,
        frames_sent: 0,
        frames_received: 0,
        received_changes: 0,
        millis: 0,
        wiped: Vec::new(),
        changed: Vec::new(),
    };
    loop {
        let step = device.with(|d| link.session.step(d))?;
        if !step.answers.is_empty() {
            tracing::debug!("ignored an unexpected control answer");
        }
        link.send(step.frames).await?;
        let (_, _, bytes_sent, bytes_received) = link.session.traffic();
        let mut progress = SyncProgress {
            documents: link.session.documents(),
            synced: 0,
            bytes_sent,
            bytes_received,
        };
        // A Groundwork relay says when it has offered everything this device may read; until
        // then a document the device has never heard of may still be on its way.
        match step.pending {
            Some(pending) if link.session.heard_all() => {
                progress.synced = progress.documents.saturating_sub(pending.len());
                on_progress(&progress);
                summary.pending = pending.iter().map(|d| d.to_string()).collect();
                if pending.is_empty() {
                    // A document erased meanwhile (past its group's retention) is no longer
                    // waited for.
                    let held: BTreeSet<DocumentId> = device
                        .with(|d| d.documents())?
                        .into_iter()
                        .map(|d| d.doc_id)
                        .collect();
                    let unavailable = link.session.unavailable_among(&held);
                    summary.unavailable = unavailable.iter().map(|d| d.to_string()).collect();
                    summary.synced = unavailable.is_empty();
                    break;
                }
            }
            _ => on_progress(&progress),
        }
        match tokio::time::timeout_at(deadline, link.stream.next()).await {
            Err(_) => break,
            Ok(next) => link.receive(next)?,
        }
    }
    let session = &mut link.session;
    let (frames_sent, frames_received, _, _) = session.traffic();
    summary.documents = session.documents();
    summary.round_trips = session.round_trips();
    summary.frames_sent = frames_sent;
    summary.frames_received = frames_received;
    summary.received_changes = session.received_changes();
    summary.wiped = session.take_wiped();
    let mut changed: Vec<String> = session
        .take_changed()
        .iter()
        .map(ToString::to_string)
        .collect();
    changed.sort();
    changed.dedup();
    summary.changed = changed;
    device.with(|d| session.disconnect(d))?;
    link.goodbye().await;
    summary.millis = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// How [`run`] keeps a device synced.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The relay's WebSocket URL.
    pub relay: String,
    /// How long dialling may take before the attempt counts as failed.
    pub connect_timeout: Duration,
    /// How often the store is checked for edits to push (edits made by other processes, or by
    /// this one without a nudge).
    pub poll: Duration,
    /// The first wait after a failure; it doubles with each failure in a row.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_cap: Duration,
    /// Seeds the backoff's jitter (tests replay it; apps pass something random).
    pub seed: u64,
}

impl RunOptions {
    /// Defaults for a phone or a laptop: poll every half second, back off from 1 s to 5 min.
    pub fn new(relay: &str) -> Self {
        RunOptions {
            relay: relay.to_owned(),
            connect_timeout: Duration::from_secs(10),
            poll: Duration::from_millis(500),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            seed: u64::from(std::process::id()) ^ now_ms() as u64,
        }
    }
}

/// What [`run`] reports as it goes.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum SyncEvent {
    /// The connection changed state (also recorded in the store for `status`).
    Connection(ConnectionRecord),
    /// This device was removed from a group, and deleted everything of it.
    Wiped {
        /// The group.
        group: String,
    },
    /// Changes from the relay were stored in a document.
    Changed {
        /// The document.
        document: String,
    },
    /// Every document is synced both ways with the relay.
    Synced {
        /// Documents synced.
        documents: usize,
        /// Documents that changed here because of the relay on this connection so far.
        received_changes: usize,
    },
}

/// Locks the device. A panic elsewhere while it was locked cannot have left the store half
/// written (every edit is one SQLite transaction, and the in-memory documents catch up from the
/// store by sequence number), so a poisoned lock is taken as it is.
fn lock(device: &Mutex<Device>) -> std::sync::MutexGuard<'_, Device> {
    device
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How the network code reaches the device store: for one store operation at a time, never
/// across a wait on the network. Shared (`&Mutex<Device>`, an SDK's store), a save made
/// meanwhile, a canvasser's Save on the app's main thread, waits for one step against the store
/// at most, never for a relay that does not answer. Owned (`&mut Device`, the CLI) nothing
/// else is waiting.
pub trait DeviceAccess {
    /// Runs `f` with the device.
    fn with<R>(&mut self, f: impl FnOnce(&mut Device) -> R) -> R;
}

impl DeviceAccess for &mut Device {
    fn with<R>(&mut self, f: impl FnOnce(&mut Device) -> R) -> R {
        f(self)
    }
}

impl DeviceAccess for &Mutex<Device> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Device) -> R) -> R {
        f(&mut lock(self))
    }
}

/// Keeps the device synced with its relay until `stop` turns true (or its sender is dropped):
/// connects, syncs everything, then stays connected, pushing local edits within `poll` of
/// their being stored and taking in the relay's as they come. A lost connection is retried
/// after a jittered, exponentially growing wait. Every state change is recorded in the store
/// (for `status`) and reported to `on_event`. Returns an error only for a failure of the
/// device store; network failures are retried.
pub async fn run(
    device: &Mutex<Device>,
    options: RunOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut on_event: impl FnMut(&SyncEvent) + Send,
) -> Result<()> {
    let mut backoff = Backoff::new(
        options.backoff_base.as_millis() as u64,
        options.backoff_cap.as_millis() as u64,
        options.seed,
    );
    let mut record = ConnectionRecord {
        relay: options.relay.clone(),
        state: ConnectionState::Connecting,
        since: now_ms(),
        attempt: 0,
        last_error: None,
        retry_at: None,
        heartbeat: now_ms(),
    };
    let report = |record: &mut ConnectionRecord,
                  state: ConnectionState,
                  on_event: &mut (dyn FnMut(&SyncEvent) + Send)|
     -> Result<()> {
        let now = now_ms();
        if record.state != state {
            record.since = now;
        }
        record.state = state;
        record.heartbeat = now;
        lock(device).record_connection(record)?;
        on_event(&SyncEvent::Connection(record.clone()));
        Ok(())
    };
    loop {
        if stopped(&stop) {
            break;
        }
        record.retry_at = None;
        record.attempt = backoff.failures();
        report(&mut record, ConnectionState::Connecting, &mut on_event)?;
        let outcome = connected(device, &options, &mut stop, &mut |event| match event {
            Connected::Ready => {
                backoff.reset();
                record.last_error = None;
                record.attempt = 0;
                report(&mut record, ConnectionState::Connected, &mut on_event)
            }
            Connected::Heartbeat => {
                record.heartbeat = now_ms();
                lock(device).record_connection(&record)
            }
            Connected::Event(event) => {
                on_event(&event);
                Ok(())
            }
        })
        .await;
        match outcome {
            Ok(()) => break,
            Err(Error::Relay { reason, .. }) => {
                let wait = backoff.next_delay_ms();
                tracing::info!(relay = %options.relay, %reason, wait_ms = wait, "relay connection lost; retrying");
                record.last_error = Some(reason);
                record.attempt = backoff.failures();
                record.retry_at = Some(now_ms() + wait as i64);
                report(&mut record, ConnectionState::Waiting, &mut on_event)?;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
    record.retry_at = None;
    report(&mut record, ConnectionState::Offline, &mut on_event)
}

/// What happens during one connection that [`run`] cares about.
enum Connected {
    /// The relay's handshake arrived: the connection is up.
    Ready,
    /// Time to refresh the connection record.
    Heartbeat,
    /// Something to pass on ([`SyncEvent::Changed`], [`SyncEvent::Synced`]).
    Event(SyncEvent),
}

/// One connection, from dialling until it fails (an `Error::Relay`) or `stop` is set (`Ok`).
async fn connected(
    device: &Mutex<Device>,
    options: &RunOptions,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    on: &mut (dyn FnMut(Connected) -> Result<()> + Send),
) -> Result<()> {
    let (session, url) = {
        let mut d = lock(device);
        (
            Session::start(&mut d, &options.relay)?,
            d.connect_url(&options.relay)?,
        )
    };
    let ws = tokio::select! {
        ws = dial(&options.relay, &url, options.connect_timeout) => ws?,
        _ = stop.changed() => return Ok(()),
    };
    let mut link = Link::new(&options.relay, session, ws);
    let mut poll = tokio::time::interval(options.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heartbeat = now_ms();
    let mut was_ready = false;
    let mut was_synced = false;
    let result = loop {
        let step = link.session.step(&mut lock(device));
        let Step {
            frames, pending, ..
        } = match step {
            Ok(step) => step,
            Err(e) => break Err(e),
        };
        if let Err(e) = link.send(frames).await {
            break Err(e);
        }
        let wiped = link.session.take_wiped();
        if let Some(Err(e)) = wiped
            .into_iter()
            .map(|group| on(Connected::Event(SyncEvent::Wiped { group })))
            .find(Result::is_err)
        {
            break Err(e);
        }
        let changed = link.session.take_changed();
        if let Some(Err(e)) = changed
            .into_iter()
            .map(|doc| {
                on(Connected::Event(SyncEvent::Changed {
                    document: doc.to_string(),
                }))
            })
            .find(Result::is_err)
        {
            break Err(e);
        }
        if let Some(pending) = pending {
            if !was_ready {
                was_ready = true;
                if let Err(e) = on(Connected::Ready) {
                    break Err(e);
                }
            }
            let synced = pending.is_empty();
            if synced && !was_synced {
                let event = SyncEvent::Synced {
                    documents: link.session.documents(),
                    received_changes: link.session.received_changes(),
                };
                if let Err(e) = on(Connected::Event(event)) {
                    break Err(e);
                }
            }
            was_synced = synced;
        }
        tokio::select! {
            next = link.stream.next() => {
                if let Err(e) = link.receive(next) {
                    break Err(e);
                }
            }
            _ = poll.tick() => {
                link.session.tick();
                if let Err(e) = link.session.push_local(&mut lock(device)) {
                    break Err(e);
                }
                if now_ms() - last_heartbeat >= HEARTBEAT_MS {
                    last_heartbeat = now_ms();
                    if let Err(e) = on(Connected::Heartbeat) {
                        break Err(e);
                    }
                }
            }
            _ = stop.changed() => break Ok(()),
        }
    };
    // Keep what the exchange reached even when the connection failed.
    let saved = link.session.disconnect(&mut lock(device));
    link.goodbye().await;
    result.and(saved)
}

/// Whether `run` was asked to stop (a dropped sender counts: nobody can ask any more).
fn stopped(stop: &tokio::sync::watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Connects to `relay` and makes one request of it (join with an invite, remove a member, mint
/// a token...), returning its answer. A refusal comes back as [`Error::NotAllowed`] with the
/// relay's reason. Wipe orders that arrive meanwhile are carried out. This is the one way the
/// device's requests reach a relay natively; [`ask`] and [`join`] run [`crate::requests`]'
/// flows over it.
pub async fn request(
    mut device: impl DeviceAccess,
    relay: &str,
    request: Request,
    timeout: Duration,
) -> Result<Answer> {
    exchange(&mut device, relay, request, timeout).await
}

/// Runs one of [`crate::requests`]' flows with `relay`: sends its request as [`request`] does,
/// and hands the answer (or why there was none) to the flow, which records what it means on
/// the device and returns what the request gives back.
pub async fn ask<F: Flow>(
    mut device: impl DeviceAccess,
    relay: &str,
    flow: &F,
    timeout: Duration,
) -> Result<F::Output> {
    let answer = exchange(&mut device, relay, flow.request(), timeout).await;
    device.with(|d| flow.finish(d, answer))
}

/// Joins a group with `link` (a join link or a bare code), as [`Device::begin_join`],
/// [`Join::request`] and [`Join::finish`] do it: the link is checked before anything is
/// dialled, redeemed at its relay (or `explicit`), in this device's name, and the membership
/// recorded. The group's documents arrive with the next sync.
///
/// [`Join::request`]: crate::requests::Join::request
/// [`Join::finish`]: crate::requests::Join::finish
pub async fn join(
    mut device: impl DeviceAccess,
    link: &str,
    explicit: Option<&str>,
    timeout: Duration,
) -> Result<Joined> {
    let (join, name) = device
        .with(|d| -> Result<_> { Ok((d.begin_join(link, explicit)?, d.info().name.clone())) })?;
    let answer = exchange(&mut device, &join.relay, join.request(&name), timeout).await;
    device.with(|d| join.finish(d, answer))
}

/// [`request`], borrowing the device access, so that a flow can take the answer after it.
async fn exchange<D: DeviceAccess>(
    device: &mut D,
    relay: &str,
    request: Request,
    timeout: Duration,
) -> Result<Answer> {
    let (session, url) =
        device.with(|d| -> Result<_> { Ok((Session::start(d, relay)?, d.connect_url(relay)?)) })?;
    let ws = dial(relay, &url, timeout).await?;
    let mut link = Link::new(relay, session, ws);
    let deadline = tokio::time::Instant::now() + timeout;
    const ID: u64 = 1;
    let mut sent = false;
    let answer = loop {
        let Step {
            mut frames,
            answers,
            ..
        } = device.with(|d| link.session.step(d))?;
        if let Some((ok, error)) = answers.into_iter().find_map(|c| match c {
            Control::Response { id: ID, ok, error } => Some((ok, error)),
            _ => None,
        }) {
            break match (ok, error) {
                (Some(answer), _) => Ok(answer),
                (None, reason) => Err(Error::NotAllowed {
                    reason: reason.unwrap_or_else(|| "the relay refused without a reason".into()),
                }),
            };
        }
        if let Some(groundwork) = link.session.is_groundwork_relay()
            && !sent
        {
            // A plain automerge-repo server would never answer.
            if !groundwork {
                break Err(Error::PlainRelay {
                    relay: relay.to_owned(),
                });
            }
            sent = true;
            link.session.send_control(&Control::Request {
                id: ID,
                request: request.clone(),
            });
            frames.extend(device.with(|d| link.session.step(d))?.frames);
        }
        link.send(frames).await?;
        match tokio::time::timeout_at(deadline, link.stream.next()).await {
            Err(_) => {
                break Err(relay_error(
                    relay,
                    "timed out waiting for the relay's answer",
                ));
            }
            Ok(next) => link.receive(next)?,
        }
    };
    device.with(|d| link.session.disconnect(d))?;
    link.goodbye().await;
    answer
}
