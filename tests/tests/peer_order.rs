//! The relay's answer to a device's join comes before any document message on that
//! connection: a device drops a connection whose first document message comes from a peer it
//! has not met yet (automerge-repo's handshake order).
//!
//! Found by the chaos test: a canvasser joining in the same relay batch as a lead's change
//! that rewrites the group's brief got the new brief's first sync message before the `peer`
//! answer, and its sync failed ("message from groundwork-relay-... on None's connection").
//! The relay's `drive` loop sent what the batch offers (new briefs, new documents, new
//! rosters) before the batch's other effects, among them that `peer` frame; it now offers
//! nothing in a batch to a connection whose join that batch answered (it is offered everything
//! once its handshake is done). Without that, about half the rounds here fail.

use automerge::sync::SyncDoc;
use futures_util::{SinkExt, StreamExt};
use groundwork_core::ids::DocumentId;
use groundwork_core::sync::wire::{Message, PeerMetadata};
use groundwork_tests::{Device, Relay, Res, cli_key, field};
use tokio_tungstenite::tungstenite::Message as Ws;

/// Rounds: with the bug, about half put a sync message first.
const ROUNDS: usize = 10;

fn frame(message: &Message) -> Ws {
    Ws::Binary(message.encode().into())
}

fn join(me: &str) -> Ws {
    frame(&Message::Join {
        sender: me.to_owned(),
        metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: false,
        },
        versions: vec!["1".into()],
    })
}

#[tokio::test]
async fn the_peer_answer_comes_before_any_document_message() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "Lead-P")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Peer order"])?,
        "group_id",
    )?;
    lead.sync(&relay)?;
    let canvasser = Device::new(root.path(), "Canvasser-P")?;
    let link = field(
        &lead.run(&[
            "invite",
            "create",
            &group,
            "--role",
            "canvasser",
            "--relay",
            &relay.url(),
        ])?,
        "link",
    )?;
    canvasser.run(&["join", &link])?;
    let plan: DocumentId = group.parse()?;
    let mut first_frames = Vec::new();
    for round in 0..ROUNDS {
        let meeting = field(
            &lead.run(&[
                "meeting",
                "create",
                &group,
                "--kind",
                "organizing",
                "--title",
                &format!("Meeting {round}"),
            ])?,
            "meeting_id",
        )?;
        lead.sync(&relay)?;
        // The lead, speaking the protocol itself: synced on its plan, so that the plan is in
        // the relay's memory and a change to it is handled at once.
        let mut lead_store = groundwork_core::Device::open(&lead.dir, &cli_key(&lead.dir))?;
        let me = lead_store.info().device_id.clone();
        let mut doc = automerge::AutoCommit::load(&lead_store.document_bytes(&plan)?)?;
        let mut state = automerge::sync::State::new();
        let (mut lead_ws, _) =
            tokio_tungstenite::connect_async(lead_store.connect_url(&relay.url())?).await?;
        lead_ws.send(join(&me)).await?;
        let _peer = lead_ws.next().await;
        let sync = |doc: &mut automerge::AutoCommit, state: &mut automerge::sync::State| {
            doc.sync().generate_sync_message(state).map(|m| {
                frame(&Message::Sync {
                    sender: me.clone(),
                    target: String::new(),
                    document: plan,
                    data: m.encode(),
                })
            })
        };
        if let Some(m) = sync(&mut doc, &mut state) {
            lead_ws.send(m).await?;
        }
        // Until the exchange is quiet (the relay offers nothing new after it).
        while let Ok(Some(Ok(Ws::Binary(bytes)))) =
            tokio::time::timeout(std::time::Duration::from_millis(300), lead_ws.next()).await
        {
            if let Message::Sync { document, data, .. } = Message::decode(&bytes)?
                && document == plan
            {
                let message = automerge::sync::Message::decode(&data)?;
                doc.sync().receive_sync_message(&mut state, message)?;
                if let Some(m) = sync(&mut doc, &mut state) {
                    lead_ws.send(m).await?;
                }
            }
        }
        // A change that rewrites the canvassers' brief, made in the lead's store.
        lead_store.set_meeting_canvassers(&meeting, true)?;
        doc.load_incremental(&lead_store.document_bytes(&plan)?)?;
        let change = sync(&mut doc, &mut state).ok_or("no change to send")?;
        // The canvasser's socket is open; its join goes at the same moment as the change, so
        // that the relay handles both in one batch (often, not always).
        let canvasser_store =
            groundwork_core::Device::open(&canvasser.dir, &cli_key(&canvasser.dir))?;
        let (mut canvasser_ws, _) =
            tokio_tungstenite::connect_async(canvasser_store.connect_url(&relay.url())?).await?;
        let sent = tokio::join!(
            lead_ws.send(change),
            canvasser_ws.send(join(&canvasser_store.info().device_id))
        );
        sent.0?;
        sent.1?;
        let Some(Ok(Ws::Binary(first))) = canvasser_ws.next().await else {
            return Err("the canvasser got no first frame".into());
        };
        match Message::decode(&first)? {
            Message::Peer { .. } => {}
            other => first_frames.push(format!("round {round}: {other:?}")),
        }
        let _ = canvasser_ws.close(None).await;
        let _ = lead_ws.close(None).await;
    }
    assert!(
        first_frames.is_empty(),
        "a document message came before the peer answer:\n{}",
        first_frames.join("\n")
    );
    Ok(())
}
