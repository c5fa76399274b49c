//! One simulated device on the wire: core's own protocol machine ([`Hub`]) on one WebSocket, the
//! same code a phone runs, without its SQLite store (the load generator measures relays, and a
//! store per simulated device would make it the bottleneck). Thousands run on a few threads.
//!
//! The device speaks automerge-repo's protocol v1, so the same peer drives every relay; only
//! the URL differs (a signed proof of the device's key for `groundwork-relay`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::{AutoCommit, ChangeHash};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use groundwork_core::identity::Identity;
use groundwork_core::ids::DocumentId;
use groundwork_core::sync::control::{Answer, Control, Request};
use groundwork_core::sync::hub::{ConnId, Effect, Hub, Side};
use groundwork_core::sync::wire::PeerMetadata;
use groundwork_core::time::now_ms;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::relays::Target;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connections made again after one failed, since the process started (see [`Peer::until`]).
pub static RECONNECTS: AtomicU64 = AtomicU64::new(0);

/// The hub's only connection.
const CONN: ConnId = 1;
/// How often the hub's timers run when nothing arrives.
const TICK: Duration = Duration::from_millis(500);

/// Something the device heard.
#[derive(Debug)]
pub enum Event {
    /// A document received changes.
    Changed {
        /// The document.
        doc: DocumentId,
        /// The changes it received.
        changes: Vec<automerge::Change>,
    },
    /// A control message from a Groundwork relay.
    Control(Control),
}

/// Bytes on the wire, as WebSocket payloads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wire {
    /// Sent by this device.
    pub sent: u64,
    /// Received by it.
    pub received: u64,
}

/// A device connected to a relay, past the handshake.
pub struct Peer {
    hub: Hub,
    sink: SplitSink<Socket, Ws>,
    stream: SplitStream<Socket>,
    /// Bytes so far.
    pub wire: Wire,
    events: VecDeque<Event>,
    next_request: u64,
    last_tick: Instant,
}

impl Peer {
    /// Connects as `who` holding `docs`, and finishes the handshake; syncing of every document
    /// held starts at once.
    pub async fn connect(
        target: &Target,
        who: &Identity,
        docs: Vec<(DocumentId, AutoCommit)>,
    ) -> anyhow::Result<Peer> {
        let url = target.url_for(who)?;
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(60),
            // Nagle off, as a device's own connection has it (see core's `net`).
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .context("connecting took over 60 s")?
        .context("connecting")?;
        let (sink, stream) = ws.split();
        let mut hub = Hub::new(who.device_id(), PeerMetadata::default());
        for (id, doc) in docs {
            hub.insert_doc(id, doc);
        }
        hub.connect(CONN, Side::Client, now_ms() as u64);
        let mut peer = Peer {
            hub,
            sink,
            stream,
            wire: Wire::default(),
            events: VecDeque::new(),
            next_request: 1,
            last_tick: Instant::now(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while peer.hub.peer_of(CONN).is_none() {
            peer.step(deadline).await?;
        }
        peer.flush().await?;
        Ok(peer)
    }

    /// Connects as `who` holding `docs()` and steps until `done`, connecting again after a
    /// pause whenever the connection fails (an overloaded relay that answers no handshake
    /// within the hub's 10 s, or drops the socket), as a phone does; gives up at `deadline`.
    /// Each new attempt counts in [`RECONNECTS`].
    pub async fn until(
        target: &Target,
        who: &Identity,
        docs: impl Fn() -> anyhow::Result<Vec<(DocumentId, AutoCommit)>>,
        deadline: Instant,
        mut done: impl FnMut(&mut Peer) -> bool,
    ) -> anyhow::Result<Peer> {
        let mut pause = Duration::from_millis(500);
        loop {
            let attempt = async {
                let mut peer = Peer::connect(target, who, docs()?).await?;
                while !done(&mut peer) {
                    peer.step(deadline).await?;
                }
                anyhow::Ok(peer)
            };
            match attempt.await {
                Ok(peer) => return Ok(peer),
                Err(e) if Instant::now() + pause >= deadline => return Err(e),
                Err(_) => {
                    RECONNECTS.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(8));
                }
            }
        }
    }

    /// Waits until the relay answers a handshake (the sync server prints that it listens before
    /// its repo takes connections: one accepted earlier is never answered, then cut off).
    pub async fn wait_ready(target: &Target) -> anyhow::Result<()> {
        let probe = Identity::generate()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                Peer::connect(target, &probe, Vec::new()),
            )
            .await;
            match attempt {
                Ok(Ok(peer)) => {
                    peer.close().await;
                    return Ok(());
                }
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(Err(e)) => return Err(e).context("the relay never answered a handshake"),
                Err(_) => bail!("the relay never answered a handshake"),
            }
        }
    }

    /// Sends what the hub queued, then waits for one frame (or the next tick) and handles it.
    /// Events heard go to [`Peer::events`].
    pub async fn step(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let now = Instant::now();
        if now >= deadline {
            bail!("timed out");
        }
        self.wait(deadline - now).await
    }

    /// As [`Peer::step`], waiting at most `wait` for a frame, and no error when none came.
    pub async fn wait(&mut self, wait: Duration) -> anyhow::Result<()> {
        self.flush().await?;
        let wait = TICK.min(wait);
        match tokio::time::timeout(wait, self.stream.next()).await {
            Ok(Some(Ok(Ws::Binary(frame)))) => {
                self.wire.received += frame.len() as u64;
                self.hub.handle_frame(CONN, &frame, now_ms() as u64);
            }
            Ok(Some(Ok(Ws::Close(c)))) => bail!("the relay closed the connection: {c:?}"),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(e).context("reading"),
            Ok(None) => bail!("the relay closed the connection"),
            Err(_) => {}
        }
        if self.last_tick.elapsed() >= TICK {
            self.last_tick = Instant::now();
            self.hub.handle_tick(now_ms() as u64);
        }
        self.flush().await
    }

    /// Sends every frame the hub queued and collects what it heard.
    async fn flush(&mut self) -> anyhow::Result<()> {
        let mut sent = false;
        while let Some(effect) = self.hub.poll_effect() {
            match effect {
                Effect::Send { frame, .. } => {
                    self.wire.sent += frame.len() as u64;
                    self.sink.feed(Ws::Binary(frame.into())).await?;
                    sent = true;
                }
                Effect::Close { reason, .. } => bail!("the device's hub closed: {reason}"),
                Effect::PeerReady { .. } => {
                    self.hub
                        .handle_sync_states(CONN, Vec::new(), now_ms() as u64)
                }
                // A document the relay offered: this device has nothing stored.
                Effect::Load { doc } => self.hub.handle_loaded(doc, None, now_ms() as u64),
                Effect::DocChanged { doc, changes, .. } => {
                    self.events.push_back(Event::Changed { doc, changes })
                }
                Effect::Control { body, .. } => self
                    .events
                    .push_back(Event::Control(Control::from_json(&body)?)),
                // A document the relay does not have (yet): the hub asks again on its timer.
                Effect::Unavailable { .. }
                | Effect::Persist { .. }
                | Effect::SaveSyncState { .. }
                | Effect::Subscribed { .. } => {}
            }
        }
        if sent {
            self.sink.flush().await?;
        }
        Ok(())
    }

    /// What the device heard since the last call.
    pub fn events(&mut self) -> impl Iterator<Item = Event> + '_ {
        self.events.drain(..)
    }

    /// A document's heads on this device, sorted (empty when it has none).
    pub fn heads(&mut self, id: &DocumentId) -> Vec<ChangeHash> {
        let mut h = self.hub.heads(id).unwrap_or_default();
        h.sort();
        h
    }

    /// Whether the relay has told us it holds everything we have of `id`.
    pub fn relay_has(&mut self, id: &DocumentId) -> bool {
        self.hub.status(CONN, id).is_some_and(|s| s.synced())
    }

    /// The hub, for edits ([`Hub::handle_local_change`]) and reads.
    pub fn hub(&mut self) -> &mut Hub {
        &mut self.hub
    }

    /// Asks a Groundwork relay to do something and waits for its answer (other events heard
    /// meanwhile are kept).
    pub async fn request(&mut self, request: Request) -> anyhow::Result<Answer> {
        let id = self.next_request;
        self.next_request += 1;
        self.hub
            .send_control(CONN, Control::Request { id, request }.to_json());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.step(deadline).await?;
            let answer = self.events.iter().position(
                |e| matches!(e, Event::Control(Control::Response { id: got, .. }) if *got == id),
            );
            if let Some(at) = answer
                && let Some(Event::Control(Control::Response { ok, error, .. })) =
                    self.events.remove(at)
            {
                return match (ok, error) {
                    (Some(answer), _) => Ok(answer),
                    (None, error) => bail!("refused: {}", error.unwrap_or_default()),
                };
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) -> Wire {
        let _ = self.flush().await;
        let _ = self.sink.send(Ws::Close(None)).await;
        self.wire
    }
}
