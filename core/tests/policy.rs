//! The hub's access gate, without IO: a relay hub with a policy, and device hubs wired to it
//! in memory. A hidden document is answered exactly as a missing one, a reader's changes are
//! never persisted, and a document nobody has is created only when the policy agrees.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc};
use groundwork_core::ids::DocumentId;
use groundwork_core::sync::hub::{Access, ConnId, Effect, Hub, Policy, Refused, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};

/// Per connection: what it may do with every document; `creators` may create new ones.
#[derive(Default)]
struct Table {
    access: BTreeMap<(ConnId, DocumentId), Access>,
    known: Vec<DocumentId>,
    creators: Vec<ConnId>,
}

impl Policy for Table {
    fn access(&self, conn: ConnId, doc: &DocumentId) -> Access {
        match self.access.get(&(conn, *doc)) {
            Some(a) => *a,
            None if self.known.contains(doc) => Access::Hidden,
            None => Access::Unknown,
        }
    }

    fn may_create(
        &mut self,
        conn: ConnId,
        doc: &DocumentId,
        _: &AutoCommit,
    ) -> Result<(), Refused> {
        if !self.creators.contains(&conn) {
            return Err(Refused("not a creator".into()));
        }
        self.known.push(*doc);
        self.access.insert((conn, *doc), Access::Write);
        Ok(())
    }
}

struct World {
    relay: Hub<Table>,
    devices: BTreeMap<ConnId, Hub>,
    /// Everything the relay persisted, in order.
    persisted: Vec<DocumentId>,
    /// The relay's storage.
    disk: BTreeMap<DocumentId, Vec<u8>>,
    /// Frames the relay sent, by connection.
    sent: Vec<(ConnId, Message)>,
}

fn meta() -> PeerMetadata {
    PeerMetadata::default()
}

impl World {
    fn new(devices: &[ConnId]) -> Self {
        let mut w = World {
            relay: Hub::with_policy("relay".into(), meta(), Table::default()),
            devices: BTreeMap::new(),
            persisted: Vec::new(),
            disk: BTreeMap::new(),
            sent: Vec::new(),
        };
        for &c in devices {
            w.devices.insert(c, Hub::new(format!("device-{c}"), meta()));
            w.relay.connect(c, Side::Server, 0);
            if let Some(d) = w.devices.get_mut(&c) {
                d.connect(1, Side::Client, 0);
            }
        }
        w.pump();
        w
    }

    /// Moves frames both ways until nothing moves.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            let conns: Vec<ConnId> = self.devices.keys().copied().collect();
            for c in conns {
                let mut to_relay = Vec::new();
                if let Some(d) = self.devices.get_mut(&c) {
                    while let Some(e) = d.poll_effect() {
                        match e {
                            Effect::Send { frame, .. } => to_relay.push(frame),
                            Effect::PeerReady { .. } => d.handle_sync_states(1, Vec::new(), 0),
                            _ => {}
                        }
                    }
                }
                for f in to_relay {
                    moved = true;
                    self.relay.handle_frame(c, &f, 0);
                }
            }
            while let Some(e) = self.relay.poll_effect() {
                match e {
                    Effect::Send { conn, frame } => {
                        moved = true;
                        if let Ok(m) = Message::decode(&frame) {
                            self.sent.push((conn, m));
                        }
                        if let Some(d) = self.devices.get_mut(&conn) {
                            d.handle_frame(1, &frame, 0);
                        }
                    }
                    Effect::Persist { doc, changes } => {
                        self.persisted.push(doc);
                        self.disk.entry(doc).or_default().extend(changes);
                    }
                    Effect::Load { doc } => {
                        let stored = self.disk.get(&doc).cloned();
                        self.relay.handle_loaded(doc, stored.as_deref(), 0);
                    }
                    _ => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn edit(&mut self, conn: ConnId, doc: DocumentId, key: &str) {
        let Some(d) = self.devices.get_mut(&conn) else {
            return;
        };
        let mut am = d
            .doc(&doc)
            .cloned()
            .unwrap_or_else(groundwork_core::schema::new_doc);
        let before = am.get_heads();
        let _ = am.put(automerge::ROOT, key, "x");
        let changes = am.save_after(&before);
        let _ = d.handle_local_change(doc, &changes, 0);
        d.offer(1, doc, 0);
    }

    fn unavailable_to(&self, conn: ConnId, doc: DocumentId) -> bool {
        self.sent.iter().any(|(c, m)| {
            *c == conn && matches!(m, Message::DocUnavailable { document, .. } if *document == doc)
        })
    }

    fn has(&self, conn: ConnId, doc: DocumentId, key: &str) -> bool {
        self.devices
            .get(&conn)
            .and_then(|d| d.doc(&doc))
            .and_then(|a| a.get(automerge::ROOT, key).ok().flatten())
            .is_some()
    }
}

#[test]
fn only_allowed_peers_create_read_and_write() -> Result<(), Box<dyn std::error::Error>> {
    let (writer, reader, stranger) = (1, 2, 3);
    let mut w = World::new(&[writer, reader, stranger, 4, 5]);
    let doc = DocumentId::random()?;

    // A stranger may not create a document: nothing is persisted, and it is told "unavailable".
    w.edit(stranger, doc, "by-stranger");
    w.pump();
    assert!(w.persisted.is_empty());
    assert!(w.unavailable_to(stranger, doc));

    // The writer may.
    w.relay.policy_mut().creators.push(writer);
    w.edit(writer, doc, "by-writer");
    w.pump();
    assert_eq!(w.persisted, vec![doc]);
    assert!(!w.unavailable_to(writer, doc));

    // The reader is sent it once allowed to read; the stranger never is.
    w.relay
        .policy_mut()
        .access
        .insert((reader, doc), Access::Read);
    w.relay.offer(reader, doc, 0);
    w.relay.offer(stranger, doc, 0);
    w.pump();
    assert!(w.has(reader, doc, "by-writer"));
    assert!(!w.has(stranger, doc, "by-writer"));

    // The reader's own change is refused and not persisted; it is answered as for a missing
    // document, and the writer never sees the change.
    w.sent.clear();
    w.edit(reader, doc, "by-reader");
    w.pump();
    assert_eq!(w.persisted, vec![doc]);
    assert!(w.unavailable_to(reader, doc));
    assert!(!w.has(writer, doc, "by-reader"));

    // Asking for a document one may not see gets the answer asking for a missing one gets.
    let missing = DocumentId::random()?;
    for (asker, id) in [(4, doc), (5, missing)] {
        if let Some(d) = w.devices.get_mut(&asker) {
            d.insert_doc(id, groundwork_core::schema::new_doc());
            d.offer(1, id, 0);
        }
    }
    w.sent.clear();
    w.pump();
    let answers: Vec<String> = [4, 5]
        .iter()
        .map(|asker| {
            w.sent
                .iter()
                .filter(|(c, _)| c == asker)
                .map(|(_, m)| match m {
                    Message::DocUnavailable { sender, .. } => {
                        format!("doc-unavailable from {sender}")
                    }
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    assert_eq!(answers[0], "doc-unavailable from relay");
    assert_eq!(answers[0], answers[1]);
    Ok(())
}

#[test]
fn a_change_past_the_most_the_relay_keeps_of_a_document_is_refused_with_the_reason()
-> Result<(), Box<dyn std::error::Error>> {
    use groundwork_core::sync::hub::MAX_HOSTED_DOCUMENT_BYTES;
    let mut w = World::new(&[1]);
    w.relay.policy_mut().creators.push(1);
    let doc = DocumentId::random()?;
    w.edit(1, doc, "small");
    w.pump();
    let stored = w
        .disk
        .get(&doc)
        .map(Vec::len)
        .ok_or("the document was not stored")?;

    // Bytes that do not compress, a little past the limit, in one change.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..MAX_HOSTED_DOCUMENT_BYTES + 1024)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let d = w.devices.get_mut(&1).ok_or("no device")?;
    let mut am = d.doc(&doc).cloned().ok_or("the device lost its document")?;
    let before = am.get_heads();
    am.put(automerge::ROOT, "big", automerge::ScalarValue::Bytes(big))?;
    d.handle_local_change(doc, &am.save_after(&before), 0)?;
    d.offer(1, doc, 0);
    w.pump();

    let refusal = w.sent.iter().find_map(|(c, m)| match m {
        Message::Error { message } if *c == 1 => Some(message.clone()),
        _ => None,
    });
    let refusal = refusal.ok_or("the relay said nothing")?;
    assert!(
        refusal.contains("the relay keeps of one document") && refusal.contains("not kept"),
        "the refusal names the limit: {refusal}"
    );
    assert_eq!(
        w.disk.get(&doc).map(Vec::len),
        Some(stored),
        "nothing of the change was stored"
    );
    // What the relay holds in memory is what it stored: a new reader gets the small version.
    let relay_doc = w
        .relay
        .doc(&doc)
        .cloned()
        .ok_or("the relay dropped the document")?;
    assert!(relay_doc.get(automerge::ROOT, "big")?.is_none());
    assert!(relay_doc.get(automerge::ROOT, "small")?.is_some());
    Ok(())
}

/// A change to a document many peers read is built once for every reader in step: the relay
/// reuses automerge's answer, and every reader still ends up with exactly the writer's document.
#[test]
fn a_change_fanned_out_to_readers_in_step_is_built_once() -> Result<(), Box<dyn std::error::Error>>
{
    let writer = 1;
    let readers: Vec<ConnId> = (2..=10).collect();
    let mut all = vec![writer];
    all.extend(&readers);
    let mut w = World::new(&all);
    let doc = DocumentId::random()?;
    w.relay.policy_mut().creators.push(writer);
    w.edit(writer, doc, "first");
    w.pump();
    for &r in &readers {
        w.relay.policy_mut().access.insert((r, doc), Access::Read);
        w.relay.offer(r, doc, 0);
    }
    w.pump();
    assert!(readers.iter().all(|&r| w.has(r, doc, "first")));

    for (round, key) in ["second", "third", "fourth"].into_iter().enumerate() {
        let reused = w.relay.sync_messages_reused();
        w.edit(writer, doc, key);
        w.pump();
        let writer_heads = w.devices[&writer].doc(&doc).map(|d| d.clone().get_heads());
        for &r in &readers {
            assert!(w.has(r, doc, key), "reader {r} lacks {key}");
            let heads = w.devices[&r].doc(&doc).map(|d| d.clone().get_heads());
            assert_eq!(heads, writer_heads, "reader {r} after round {round}");
        }
        // Nine readers in step: the change goes out built once and reused eight times, and
        // their nine acknowledgements are answered (with nothing) once and reused eight times.
        let now_reused = w.relay.sync_messages_reused() - reused;
        assert!(
            now_reused >= 2 * (readers.len() as u64 - 1),
            "round {round}: only {now_reused} answers reused"
        );
    }
    Ok(())
}
