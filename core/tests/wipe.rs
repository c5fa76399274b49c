//! A wipe order that crosses the relay's answers to the device's opening messages: a scripted
//! relay on a real local WebSocket answers every document `doc-unavailable`, orders the wipe,
//! then answers them all again, with a sync and `doc-unavailable` (as a relay does when the
//! device's messages were already on their way). The device must wipe, report it, and neither count the wiped documents as missing nor
//! write anything of them again.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use groundwork_core::Device;
use groundwork_core::ids::DocumentId;
use groundwork_core::store::StoreKey;
use groundwork_core::sync::control::Control;
use groundwork_core::sync::wire::{Message, PeerMetadata, RELAY_PEER_PREFIX};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Res<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Plays the relay's side: the handshake, then the crossing answers around a wipe order.
async fn scripted_relay(listener: TcpListener, group: String, docs: Vec<DocumentId>) -> Res {
    let (tcp, _) = listener.accept().await?;
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    let me = format!("{RELAY_PEER_PREFIX}scripted");
    let send = |m: Message| WsMessage::Binary(m.encode().into());
    let mut device = String::new();
    let mut opened = 0;
    while let Some(frame) = ws.next().await {
        let bytes = match frame {
            Ok(WsMessage::Binary(bytes)) => bytes,
            Ok(_) => continue,
            // The device hangs up as soon as it is done (its close may race our reply to it).
            Err(_) => break,
        };
        match Message::decode(&bytes)? {
            Message::Join { sender, .. } => {
                device = sender.clone();
                ws.send(send(Message::Peer {
                    sender: me.clone(),
                    target: sender,
                    metadata: PeerMetadata::default(),
                    version: "1".into(),
                }))
                .await?;
            }
            Message::Request { .. } | Message::Sync { .. } => {
                // Answer once the device has opened every document (later messages of the
                // device, about documents it no longer has, need no answer).
                opened += 1;
                if opened != docs.len() {
                    continue;
                }
                let unavailable = |doc: &DocumentId| Message::DocUnavailable {
                    sender: me.clone(),
                    target: device.clone(),
                    document: *doc,
                };
                for doc in &docs {
                    ws.send(send(unavailable(doc))).await?;
                }
                let wipe = Control::Wipe {
                    group: group.clone(),
                };
                ws.send(send(Message::Control {
                    body: wipe.to_json(),
                }))
                .await?;
                for doc in &docs {
                    // What a relay says to a sync for a document the device may no longer
                    // read: an empty document's first sync message; then unavailable.
                    ws.send(send(Message::Sync {
                        sender: me.clone(),
                        target: device.clone(),
                        document: *doc,
                        data: empty_sync_message(),
                    }))
                    .await?;
                    ws.send(send(unavailable(doc))).await?;
                }
                ws.send(send(Message::Control {
                    body: Control::Offered.to_json(),
                }))
                .await?;
            }
            Message::Control { body } => {
                if let Control::Wiped { group: wiped } = Control::from_json(&body)? {
                    assert_eq!(wiped, group);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn empty_sync_message() -> Vec<u8> {
    use automerge::sync::SyncDoc;
    let mut state = automerge::sync::State::new();
    automerge::AutoCommit::new()
        .sync()
        .generate_sync_message(&mut state)
        .map(|m| m.encode())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_wipe_order_crossing_the_relays_answers_leaves_nothing_behind() -> Res {
    let dir = tempfile::tempdir()?;
    let key = StoreKey::generate()?;
    let mut device = Device::init(dir.path(), "phone", &key)?;
    let group = device.create_group("Quiet group", None)?;
    let docs: Vec<DocumentId> = device
        .sync_document_ids()?
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert!(!docs.is_empty());

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/v1/sync", listener.local_addr()?);
    let relay = tokio::spawn(scripted_relay(listener, group.clone(), docs));

    let summary =
        groundwork_core::net::sync_once(&mut device, &url, Duration::from_secs(20)).await?;
    assert_eq!(summary.wiped, vec![group.clone()], "{summary:?}");
    assert!(summary.unavailable.is_empty(), "{summary:?}");
    assert!(summary.synced, "{summary:?}");
    assert_eq!(summary.documents, 0, "{summary:?}");
    relay.await??;

    assert!(device.groups()?.is_empty());
    assert!(device.documents()?.is_empty());
    drop(device);
    let conn = groundwork_core::store::connect_raw(&dir.path().join("groundwork.db"), &key)?;
    for table in ["documents", "chunks", "sync_states"] {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        assert_eq!(n, 0, "{table} still has rows of the wiped group");
    }
    Ok(())
}
