//! The device's side of one connection to its relay, with no IO: the [`Hub`] holding every
//! document the device syncs, the effects it asks for run against the [`Device`] store, and what
//! the connection has reached so far. A host owns the socket and the clock: the native dialer
//! (`net.rs`, tokio-tungstenite) and the browser's bindings (a `WebSocket` in a worker) both feed
//! it frames and send what [`Session::step`] returns.
//!
//! Storage effects always run before the frames that follow them are returned, so the device
//! never tells the relay it has a change it has not stored.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::ChangeHash;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::ids::DocumentId;
use crate::sync::control::Control;
use crate::sync::hub::{Effect, Hub, Side};
use crate::sync::wire::{Message, PeerMetadata, RELAY_PEER_PREFIX};
use crate::time::now_ms;

/// The one connection a device has, in the hub's numbering.
const CONN: u64 = 1;

/// What one [`Session::step`] produced.
#[derive(Debug, Default)]
pub struct Step {
    /// Frames to send to the relay, in order.
    pub frames: Vec<Vec<u8>>,
    /// Control messages the session does not handle itself (answers to requests).
    pub answers: Vec<Control>,
    /// `None` until the relay's handshake arrived; then the documents not yet synced both ways.
    pub pending: Option<Vec<DocumentId>>,
}

/// One connection's sync state, from the first frame to the disconnect.
pub struct Session {
    relay: String,
    hub: Hub,
    started_ms: i64,
    /// Milliseconds since the start as a simulator set them ([`Session::set_clock`]); `None`:
    /// the system's clock.
    manual_ms: Option<u64>,
    /// The relay's peer id, once its handshake arrived and the saved sync states were loaded.
    peer: Option<String>,
    unavailable: BTreeSet<DocumentId>,
    /// The relay's heads of each document as last written to the store.
    recorded: HashMap<DocumentId, Vec<ChangeHash>>,
    frames_sent: u64,
    frames_received: u64,
    bytes_sent: u64,
    bytes_received: u64,
    received_changes: usize,
    sends_per_doc: BTreeMap<DocumentId, u32>,
    /// Documents the relay changed here since the host last took them.
    changed: Vec<DocumentId>,
    /// Control messages from the relay not yet handled.
    controls: Vec<String>,
    /// Groups wiped on the relay's order since the host last took them.
    wiped: Vec<String>,
    /// The documents of wiped groups: whatever of them still arrives (answers to messages sent
    /// before the wipe) is dropped, so nothing of a wiped group is written again.
    gone: BTreeSet<DocumentId>,
    /// Whether the relay said it has offered every document this device may read.
    offered: bool,
}

impl Session {
    /// Starts a connection to `relay`: a hub holding every document the device syncs, its
    /// handshake queued for the first [`Session::step`].
    pub fn start(device: &mut Device, relay: &str) -> Result<Self> {
        // A fresh peer id per connection, as automerge-repo's own peers do: `DEVICE.SESSION`. A
        // JavaScript server keeps (in memory, and on disk under a storage id) the sync state of a
        // peer id it saw before; reconnecting under the same one with nothing new, it never
        // answers, and `sync --once` could not tell "in sync" from "not heard". This device
        // keeps its own sync states, keyed by the server's peer id. The relay checks the DEVICE
        // part.
        let session = bs58::encode(crate::ids::random_bytes::<8>()?).into_string();
        let me = format!("{}.{session}", device.info().device_id);
        let mut hub = Hub::new(
            me,
            PeerMetadata {
                storage_id: None,
                is_ephemeral: false,
            },
        );
        for (id, bytes) in device.sync_documents()? {
            let mut doc = crate::schema::new_doc();
            if let Some(bytes) = bytes {
                doc.load_incremental(&bytes)?;
            }
            hub.insert_doc(id, doc);
        }
        hub.connect(CONN, Side::Client, 0);
        Ok(Session {
            relay: relay.to_owned(),
            hub,
            started_ms: now_ms(),
            manual_ms: None,
            peer: None,
            unavailable: BTreeSet::new(),
            recorded: HashMap::new(),
            frames_sent: 0,
            frames_received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            received_changes: 0,
            sends_per_doc: BTreeMap::new(),
            changed: Vec::new(),
            controls: Vec::new(),
            wiped: Vec::new(),
            gone: BTreeSet::new(),
            offered: false,
        })
    }

    /// Milliseconds since the session started: the hub's clock.
    fn now(&self) -> u64 {
        self.manual_ms
            .unwrap_or_else(|| u64::try_from(now_ms() - self.started_ms).unwrap_or(0))
    }

    /// Moves the session's clock by hand from now on: `ms` since it started (a simulator's,
    /// so that a seeded run's retries fall at the same moments every time).
    pub fn set_clock(&mut self, ms: u64) {
        self.manual_ms = Some(ms);
    }

    /// Runs what the last frames and edits asked for: stores the relay's changes, carries out
    /// wipe orders, and returns the frames to send and where the sync stands.
    pub fn step(&mut self, device: &mut Device) -> Result<Step> {
        let mut frames = self.drain(device)?;
        let answers = self.handle_controls(device)?;
        frames.extend(self.drain(device)?);
        let pending = match self.peer {
            Some(_) => Some(self.settle(device)?),
            None => None,
        };
        for frame in &frames {
            self.frames_sent += 1;
            self.bytes_sent += frame.len() as u64;
            if let Ok(Message::Sync { document, .. } | Message::Request { document, .. }) =
                Message::decode(frame)
            {
                *self.sends_per_doc.entry(document).or_default() += 1;
            }
        }
        Ok(Step {
            frames,
            answers,
            pending,
        })
    }

    /// Takes in one binary frame from the relay. [`Session::step`] runs what it asks for.
    pub fn receive(&mut self, frame: &[u8]) {
        self.frames_received += 1;
        self.bytes_received += frame.len() as u64;
        let now = self.now();
        self.hub.handle_frame(CONN, frame, now);
        self.hub.handle_tick(now);
    }

    /// Lets the hub's timers run (retries of unanswered requests).
    pub fn tick(&mut self) {
        let now = self.now();
        self.hub.handle_tick(now);
    }

    /// Hands the hub what the store has that it does not: edits stored since it last looked
    /// (by this process or another) and documents new to this device. Does nothing before the
    /// relay's handshake.
    pub fn push_local(&mut self, device: &mut Device) -> Result<()> {
        if self.peer.is_none() {
            return Ok(());
        }
        let now = self.now();
        for (id, stored) in device.sync_document_ids()? {
            match self.hub.heads(&id) {
                // Asked for, nothing stored here yet (a member's plan on its way after a
                // join): nothing to hand over. Reading it would fail, and fail the session,
                // on every push until it arrived (found by the relay simulator: on a link
                // slower than the push interval a new member never got its plan).
                Some(_) if !stored => {}
                Some(heads) => {
                    if let Some(changes) = device.changes_since(&id, &heads)? {
                        self.hub.handle_local_change(id, &changes, now)?;
                    }
                }
                None => {
                    if stored {
                        if let Some(changes) = device.changes_since(&id, &[])? {
                            self.hub.handle_local_change(id, &changes, now)?;
                        }
                    } else {
                        self.hub.insert_doc(id, crate::schema::new_doc());
                    }
                    self.hub.offer(CONN, id, now);
                }
            }
        }
        Ok(())
    }

    /// Sends a control message (a request) to the relay with the next step's frames.
    pub fn send_control(&mut self, control: &Control) {
        self.hub.send_control(CONN, control.to_json());
    }

    /// Saves what each document's exchange reached, for the next connection. Call it however
    /// the connection ended.
    pub fn disconnect(&mut self, device: &mut Device) -> Result<()> {
        self.hub.handle_disconnect(CONN);
        while let Some(effect) = self.hub.poll_effect() {
            if let Effect::SaveSyncState { peer, doc, state } = effect {
                device.save_sync_state(&peer, &doc, &state)?;
            }
        }
        Ok(())
    }

    /// The relay's peer id, once its handshake arrived.
    pub fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }

    /// Whether the relay this device speaks to is a Groundwork relay (it answers requests), as
    /// its handshake says; `None` before the handshake.
    pub fn is_groundwork_relay(&self) -> Option<bool> {
        self.peer
            .as_deref()
            .map(|p| p.starts_with(RELAY_PEER_PREFIX))
    }

    /// Whether every document this device may read has been offered: a Groundwork relay says
    /// so; any other server is taken at its handshake. Until then a document the device has
    /// never heard of may still be on its way.
    pub fn heard_all(&self) -> bool {
        self.offered || self.is_groundwork_relay() == Some(false)
    }

    /// Documents the relay does not have and this device has nothing of, among those it still
    /// holds (`held`); forgets the rest.
    pub fn unavailable_among(&mut self, held: &BTreeSet<DocumentId>) -> Vec<DocumentId> {
        self.unavailable.retain(|d| held.contains(d));
        self.unavailable.iter().copied().collect()
    }

    /// Documents the relay changed here since the last call.
    pub fn take_changed(&mut self) -> Vec<DocumentId> {
        std::mem::take(&mut self.changed)
    }

    /// Groups wiped on the relay's order since the last call.
    pub fn take_wiped(&mut self) -> Vec<String> {
        std::mem::take(&mut self.wiped)
    }

    /// Documents the session holds.
    pub fn documents(&self) -> usize {
        self.hub.doc_ids().count()
    }

    /// Frames sent and received, bytes sent and received.
    pub fn traffic(&self) -> (u64, u64, u64, u64) {
        (
            self.frames_sent,
            self.frames_received,
            self.bytes_sent,
            self.bytes_received,
        )
    }

    /// Documents that changed here because of the relay on this connection.
    pub fn received_changes(&self) -> usize {
        self.received_changes
    }

    /// Network round trips: the handshake plus the longest exchange of any one document (the
    /// documents are pipelined, so this is what a sync costs in latency).
    pub fn round_trips(&self) -> u32 {
        1 + self.sends_per_doc.values().copied().max().unwrap_or(0)
    }

    fn relay_error(&self, reason: impl std::fmt::Display) -> Error {
        Error::Relay {
            relay: self.relay.clone(),
            reason: reason.to_string(),
        }
    }

    /// Runs the hub's storage effects against the device and returns the frames to send.
    fn drain(&mut self, device: &mut Device) -> Result<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        while let Some(effect) = self.hub.poll_effect() {
            match effect {
                Effect::Persist { doc, .. }
                | Effect::SaveSyncState { doc, .. }
                | Effect::Unavailable { doc, .. }
                    if self.gone.contains(&doc) => {}
                Effect::Send { frame, .. } => frames.push(frame),
                Effect::Close { reason, .. } => {
                    return Err(self.relay_error(format!("protocol error: {reason}")));
                }
                Effect::PeerReady { peer, .. } => {
                    // The relay answered: this is the address to come back to.
                    device.remember_relay(&self.relay)?;
                    let states = device.sync_states(&peer)?;
                    let now = self.now();
                    self.hub.handle_sync_states(CONN, states, now);
                    self.peer = Some(peer);
                }
                Effect::Persist { doc, changes } => {
                    device.apply_remote_changes(&doc, &changes)?;
                    self.received_changes += 1;
                    self.unavailable.remove(&doc);
                    self.changed.push(doc);
                    // What that erased (a retention it brought, a canvasser's old plan) is not
                    // synced any more.
                    for gone in device.take_erased() {
                        self.forget(gone);
                    }
                }
                Effect::SaveSyncState { peer, doc, state } => {
                    device.save_sync_state(&peer, &doc, &state)?;
                }
                Effect::Unavailable { doc, .. } => {
                    // A board the relay no longer serves was replaced by a fresh one (or its
                    // county's groups stopped sharing), or a canvassers' brief by a newer one:
                    // drop it, as a wiped group's documents.
                    // One the relay offered and withdrew before any of it arrived is not this
                    // device's to wait for either: it asks only for what it has registered.
                    let ours = device.sync_document_ids()?.iter().any(|(d, _)| *d == doc);
                    if device.drop_replaced(&doc)? || device.erase_if_expired(&doc)? || !ours {
                        self.forget(doc);
                    } else {
                        self.unavailable.insert(doc);
                    }
                }
                Effect::Control { body, .. } => self.controls.push(body),
                Effect::Load { .. } | Effect::DocChanged { .. } | Effect::Subscribed { .. } => {}
            }
        }
        // A message about a wiped document that crossed the wipe order makes the hub hold it
        // again; let it go.
        for doc in &self.gone {
            self.hub.forget(doc);
        }
        Ok(frames)
    }

    /// Stops syncing a document this device no longer holds.
    fn forget(&mut self, doc: DocumentId) {
        self.hub.forget(&doc);
        self.recorded.remove(&doc);
        self.unavailable.remove(&doc);
        self.gone.insert(doc);
    }

    /// Handles the relay's control messages: a wipe order is carried out at once (and
    /// confirmed); the rest (answers to requests) are returned.
    fn handle_controls(&mut self, device: &mut Device) -> Result<Vec<Control>> {
        let mut rest = Vec::new();
        for body in std::mem::take(&mut self.controls) {
            match Control::from_json(&body)? {
                Control::Wipe { group } => {
                    // Everything the wipe deletes: the group's documents, and boards no other
                    // group (or follow) of this device still reaches.
                    let before: Vec<DocumentId> =
                        device.documents()?.into_iter().map(|d| d.doc_id).collect();
                    device.wipe_group(&group)?;
                    let after: BTreeSet<DocumentId> =
                        device.documents()?.into_iter().map(|d| d.doc_id).collect();
                    let docs: Vec<DocumentId> =
                        before.into_iter().filter(|d| !after.contains(d)).collect();
                    for doc in docs.into_iter().chain(group.parse::<DocumentId>().ok()) {
                        self.forget(doc);
                    }
                    self.send_control(&Control::Wiped {
                        group: group.clone(),
                    });
                    self.wiped.push(group);
                }
                Control::Offered => self.offered = true,
                Control::Addresses { urls } => device.remember_relay_aliases(&self.relay, &urls)?,
                other => rest.push(other),
            }
        }
        Ok(rest)
    }

    /// The documents not yet synced both ways. Records the relay's heads of each synced
    /// document when they changed.
    fn settle(&mut self, device: &mut Device) -> Result<Vec<DocumentId>> {
        let ids: Vec<DocumentId> = self.hub.doc_ids().copied().collect();
        let mut pending = Vec::new();
        for id in ids {
            let status = self.hub.status(CONN, &id);
            let both_ways = status.as_ref().is_some_and(|s| {
                s.synced() && s.theirs.as_ref().is_some_and(|t| t.len() == s.ours.len())
            });
            let nothing_anywhere = self.unavailable.contains(&id)
                && status.as_ref().is_some_and(|s| s.ours.is_empty());
            if !(both_ways || nothing_anywhere) {
                pending.push(id);
                continue;
            }
            if let Some(s) = status
                && !s.ours.is_empty()
                && self.recorded.get(&id) != Some(&s.ours)
            {
                device.record_relay_heads(&id, &s.ours)?;
                self.unavailable.remove(&id);
                self.recorded.insert(id, s.ours);
            }
        }
        Ok(pending)
    }
}
