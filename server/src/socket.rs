//! One WebSocket connection's life on the relay: the upgrade (authenticated by the hub thread
//! before it is accepted), then a reader task that forwards frames to the hub within the
//! connection's budget and a writer task that sends what the hub queued, with pings.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use groundwork_core::identity::ConnectProof;
use std::collections::HashMap;

use crate::App;
use crate::access::Principal;
use crate::channel::{Inbound, Outbound};
use crate::tls::PeerAddr;

/// How many frames of one connection may wait in the hub's queue at once, when they are small
/// (a frame costs at least this share of the connection's budget, which is one largest frame
/// in bytes). Enough for a device opening hundreds of documents to keep the hub busy; few
/// enough that a flood waits in its own socket while the others' frames go first.
const FRAMES_IN_FLIGHT: usize = 64;

/// Authenticates a connection request, then upgrades it. A device signs the URL (`device`,
/// `ts`, `nonce`, `sig`); a plain automerge-repo client passes `token`; anyone else connects
/// anonymously and may read nothing. A bad proof or token is refused with 401 and the reason.
pub(crate) async fn sync_ws(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    State(app): State<App>,
) -> Response {
    if !app.handshakes.allow(peer.ip()) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from this address; wait a minute\n",
        )
            .into_response();
    }
    let proof = if query.contains_key("sig") || query.contains_key("device") {
        match ConnectProof::from_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(p) => Some(p),
            Err(e) => return (StatusCode::UNAUTHORIZED, format!("{e}\n")).into_response(),
        }
    } else {
        None
    };
    let token = query.get("token").cloned();
    let (reply, answer) = tokio::sync::oneshot::channel();
    if app
        .inbound
        .send(Inbound::Authenticate {
            proof,
            token,
            reply,
        })
        .is_err()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "relay stopping\n").into_response();
    }
    let principal = match answer.await {
        Ok(Ok(p)) => p,
        Ok(Err(reason)) => {
            // At warn: a replayed proof, or one made for another relay, is someone trying
            // what they should not (or a device the operator should hear about).
            tracing::warn!(%reason, "refused a connection request");
            return (StatusCode::UNAUTHORIZED, format!("{reason}\n")).into_response();
        }
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "relay stopping\n").into_response(),
    };
    // axum's own limit is set above ours, so that a frame a little too large is answered with
    // our error rather than a dropped socket.
    // Small buffers: an idle connection should cost little (tungstenite's defaults are 128 KiB
    // each way, which at 1,000 idle devices was most of the relay's memory). The read buffer
    // grows for a larger frame; 1 KiB instead of 4 took the 10,000-device idle fleet from 207
    // to 178 MiB, with canvass day's throughput the same within the machine's noise
    // (BENCHMARKS.md).
    ws.read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(app.max_frame * 2)
        .max_frame_size(app.max_frame * 2)
        .on_upgrade(move |socket| connection(socket, app, principal, peer.ip()))
        .into_response()
}

async fn connection(socket: WebSocket, app: App, principal: Principal, addr: std::net::IpAddr) {
    let conn = app.next_conn.fetch_add(1, Ordering::Relaxed);
    let rate_key = principal.rate_key(addr);
    let (outlet, mut intake) = crate::channel::outlet();
    if app
        .inbound
        .send(Inbound::Open {
            conn,
            tx: outlet.clone(),
            principal,
            addr,
        })
        .is_err()
    {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    let idle = app.idle;
    let mut writer = tokio::spawn(async move {
        // Pings keep a live but quiet device's socket within the idle timeout (its pong is
        // what the relay reads); a write that cannot finish within the timeout is a peer that
        // does not read.
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + idle / 3, idle / 3);
        loop {
            let message = tokio::select! {
                out = intake.recv() => match out {
                    Some(Outbound::Frame(bytes)) => WsMessage::Binary(bytes.into()),
                    Some(Outbound::Close(reason)) => {
                        let frame = CloseFrame {
                            code: 1008,
                            reason: truncate(&reason, 120).into(),
                        };
                        let _ = tokio::time::timeout(idle, sink.send(WsMessage::Close(Some(frame)))).await;
                        break;
                    }
                    None => break,
                },
                _ = ping.tick() => WsMessage::Ping(Default::default()),
            };
            match tokio::time::timeout(idle, sink.send(message)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::info!(conn, "closing a connection that does not read");
                    break;
                }
            }
        }
    });
    // A connection's frames in flight to the hub, in bytes: each frame holds its share until
    // the hub has handled it, and the task reads no further meanwhile (backpressure through
    // the socket onto the peer).
    let budget = Arc::new(tokio::sync::Semaphore::new(app.max_frame));
    let min_cost = (app.max_frame / FRAMES_IN_FLIGHT).max(1);
    let mut shutdown = app.shutdown.clone();
    let mut writer_done = false;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = &mut writer => {
                writer_done = true;
                break;
            }
            _ = shutdown.changed() => {
                outlet.close("relay shutting down");
                break;
            }
        };
        let Some(Ok(message)) = next else { break };
        match message {
            WsMessage::Binary(bytes) => {
                if bytes.len() > app.max_frame {
                    let reason = format!(
                        "frame of {} bytes is over the limit of {} bytes",
                        bytes.len(),
                        app.max_frame
                    );
                    tracing::warn!(%reason, "refusing a connection");
                    outlet.refuse(&reason);
                    break;
                }
                while let Some(wait) = app.frame_rate.take(&rate_key) {
                    app.metrics.frames_slowed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
                // The cost fits the budget: at most max_frame, which the semaphore holds.
                let cost = bytes.len().clamp(min_cost, app.max_frame) as u32;
                let permit = match budget.clone().try_acquire_many_owned(cost) {
                    Ok(permit) => permit,
                    Err(_) => {
                        app.metrics.inbound_waits.fetch_add(1, Ordering::Relaxed);
                        match budget.clone().acquire_many_owned(cost).await {
                            Ok(permit) => permit,
                            // The semaphore is never closed.
                            Err(_) => break,
                        }
                    }
                };
                let _ = app.inbound.send(Inbound::Frame {
                    conn,
                    bytes: bytes.to_vec(),
                    permit,
                });
            }
            WsMessage::Text(_) => {
                outlet
                    .refuse("text frames are not part of the protocol; send CBOR in binary frames");
                break;
            }
            WsMessage::Close(_) => break,
            WsMessage::Ping(_) | WsMessage::Pong(_) => {}
        }
    }
    let _ = app.inbound.send(Inbound::Closed { conn });
    drop(outlet);
    if !writer_done {
        // The writer ends once the hub has let go of the connection (or at its timeout).
        let _ = writer.await;
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.char_indices()
        .take_while(|(i, _)| *i < max)
        .map(|(_, c)| c)
        .collect()
}
