//! The device's side of the network: dials the relay over WebSocket (rustls for `wss://`) and
//! drives the sync [`Hub`] against the device store until every document is synced.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::ids::DocumentId;
use crate::sync::hub::{Effect, Hub, Side};
use crate::sync::wire::PeerMetadata;

/// The one connection a device has, in the hub's numbering.
const CONN: u64 = 1;

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
}

fn net_error(relay: &str, e: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: "relay connection",
        reason: format!("{relay}: {e}"),
    }
}

/// Connects to `relay`, syncs every document of this device both ways, and returns when all
/// are synced (or `timeout` passes, or a document the device has nothing of is unavailable).
pub async fn sync_once(device: &mut Device, relay: &str, timeout: Duration) -> Result<SyncSummary> {
    let started = Instant::now();
    let me = device.info().device_id.clone();
    let mut hub = Hub::new(
        me.clone(),
        PeerMetadata {
            storage_id: Some(me.clone()),
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
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (ws, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(relay))
        .await
        .map_err(|_| net_error(relay, "timed out connecting"))?
        .map_err(|e| net_error(relay, e))?;
    let (mut sink, mut stream) = ws.split();
    let now = |started: Instant| started.elapsed().as_millis() as u64;
    hub.connect(CONN, Side::Client, now(started));

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
    };
    let mut ready = false;
    let mut unavailable: std::collections::BTreeSet<DocumentId> = Default::default();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut sends_per_doc: std::collections::BTreeMap<DocumentId, u32> = Default::default();
    loop {
        while let Some(effect) = hub.poll_effect() {
            match effect {
                Effect::Send { frame, .. } => {
                    summary.frames_sent += 1;
                    if let Ok(
                        crate::sync::wire::Message::Sync { document, .. }
                        | crate::sync::wire::Message::Request { document, .. },
                    ) = crate::sync::wire::Message::decode(&frame)
                    {
                        *sends_per_doc.entry(document).or_default() += 1;
                    }
                    sink.send(WsMessage::Binary(frame.into()))
                        .await
                        .map_err(|e| net_error(relay, e))?;
                }
                Effect::Close { reason, .. } => {
                    return Err(net_error(relay, format!("connection closed: {reason}")));
                }
                Effect::PeerReady { peer, .. } => {
                    let states = device.sync_states(&peer)?;
                    hub.handle_sync_states(CONN, states, now(started));
                    ready = true;
                }
                Effect::Persist { doc, changes } => {
                    device.apply_remote_changes(&doc, &changes)?;
                    summary.received_changes += 1;
                    unavailable.remove(&doc);
                }
                Effect::SaveSyncState { peer, doc, state } => {
                    device.save_sync_state(&peer, &doc, &state)?;
                }
                Effect::Unavailable { doc, .. } => {
                    unavailable.insert(doc);
                }
                Effect::Load { .. } | Effect::DocChanged { .. } | Effect::Subscribed { .. } => {}
            }
        }
        if ready {
            let ids: Vec<DocumentId> = hub.doc_ids().copied().collect();
            let mut pending = Vec::new();
            for id in &ids {
                let status = hub.status(CONN, id);
                let done = status.as_ref().is_some_and(|s| {
                    s.synced() && s.theirs.as_ref().is_some_and(|t| t.len() == s.ours.len())
                }) || (unavailable.contains(id)
                    && status.as_ref().is_some_and(|s| s.ours.is_empty()));
                if done {
                    if let Some(s) = status
                        && !s.ours.is_empty()
                    {
                        device.record_relay_heads(id, &s.ours)?;
                        unavailable.remove(id);
                    }
                } else {
                    pending.push(id.to_string());
                }
            }
            if pending.is_empty() {
                summary.documents = ids.len();
                summary.unavailable = unavailable.iter().map(|d| d.to_string()).collect();
                summary.synced = unavailable.is_empty();
                break;
            }
            summary.pending = pending;
        }
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Err(_) => {
                summary.documents = hub.doc_ids().count();
                break;
            }
            Ok(None) => return Err(net_error(relay, "the relay closed the connection")),
            Ok(Some(Err(e))) => return Err(net_error(relay, e)),
            Ok(Some(Ok(WsMessage::Binary(bytes)))) => {
                summary.frames_received += 1;
                hub.handle_frame(CONN, &bytes, now(started));
                hub.handle_tick(now(started));
            }
            Ok(Some(Ok(WsMessage::Close(frame)))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return Err(net_error(
                    relay,
                    format!("the relay closed the connection: {reason}"),
                ));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    // Save what each document's exchange reached, for the next connection.
    hub.handle_disconnect(CONN);
    while let Some(effect) = hub.poll_effect() {
        if let Effect::SaveSyncState { peer, doc, state } = effect {
            device.save_sync_state(&peer, &doc, &state)?;
        }
    }
    let _ = sink.send(WsMessage::Close(None)).await;
    if summary.synced {
        summary.pending.clear();
    }
    summary.round_trips = 1 + sends_per_doc.values().copied().max().unwrap_or(0);
    summary.millis = started.elapsed().as_millis() as u64;
    Ok(summary)
}
