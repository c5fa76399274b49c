//! Seeds for the fuzzers (`fuzz/`), from real traffic: a device syncs a plan and a contacts
//! document with a relay hub in memory; every frame either way, each stored change, the
//! control messages, an invite and a connection proof are what the fuzz targets start from.
//! Always checks the exchange (it converges and every frame decodes); with
//! `GROUNDWORK_FUZZ_CORPUS=DIR` it also writes the seeds under `DIR/TARGET/` (scripts/fuzz
//! does).

use std::path::PathBuf;

use groundwork_core::identity::Identity;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::contacts::{Contact, ContactsDoc, NewContact, insert_contact};
use groundwork_core::schema::plan::{NewMeeting, NewTarget, Plan};
use groundwork_core::schema::vocab::{ContactResult, MeetingKind, Office};
use groundwork_core::schema::{self, DocKind};
use groundwork_core::sync::control::{Control, Request};
use groundwork_core::sync::hub::{AllowAll, Effect, Hub, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};

type Res = Result<(), Box<dyn std::error::Error>>;

/// Where the seeds go, if anywhere.
fn corpus() -> Option<PathBuf> {
    std::env::var_os("GROUNDWORK_FUZZ_CORPUS").map(PathBuf::from)
}

fn seed(target: &str, name: &str, bytes: &[u8]) -> Res {
    if let Some(dir) = corpus() {
        let dir = dir.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// A hub script (see fuzz/fuzz_targets/common.rs) that replays `frames` on connection 0.
fn script(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0u8]; // no built-in handshake: the frames carry it
    for f in frames {
        out.push(3 << 2);
        out.extend((f.len().min(u16::MAX as usize) as u16).to_le_bytes());
        out.extend(&f[..f.len().min(u16::MAX as usize)]);
    }
    out
}

#[test]
fn a_real_exchange_seeds_the_fuzzers() -> Res {
    let group = DocumentId::random()?;
    let mut plan = Plan::new(
        &group.to_string(),
        "Riverside",
        Some("Riverside County".into()),
        "d",
        1,
    )?;
    plan.add_target(
        "t1",
        NewTarget {
            county: Some("06065".into()),
            office: Some(Office::Sheriff),
            ..Default::default()
        },
    )?;
    plan.create_meeting(
        "m1",
        NewMeeting {
            kind: MeetingKind::Official,
            title: "Ask the sheriff".into(),
            target: Some("t1".into()),
            at: Some(1_796_000_000_000),
            location: Some("County building".into()),
        },
        2,
    )?;
    plan.append_notes("m1", "Bring the rules")?;
    let mut plan_doc = schema::new_doc();
    schema::reconcile(&mut plan_doc, &plan, &group.to_string(), DocKind::Plan)?;
    plan_doc.commit();
    let contacts_id = DocumentId::random()?;
    let contacts = ContactsDoc::new(&group.to_string(), "d", "2026-12");
    let mut new = NewContact::new(ContactResult::Talked);
    new.support = Some(4);
    new.note = Some("Asked about R1".into());
    let mut contacts_doc = schema::new_doc();
    schema::reconcile(
        &mut contacts_doc,
        &contacts,
        &contacts_id.to_string(),
        DocKind::Contacts,
    )?;
    insert_contact(
        &mut contacts_doc,
        &Contact::new("c1", "d", new, 3)?,
        &contacts_id.to_string(),
    )?;
    contacts_doc.commit();
    seed("document", "plan", &plan_doc.save())?;
    seed("document", "contacts", &contacts_doc.save())?;

    let mut device = Hub::with_policy("device".into(), PeerMetadata::default(), AllowAll);
    let mut relay = Hub::with_policy("relay".into(), PeerMetadata::default(), AllowAll);
    device.insert_doc(group, plan_doc);
    device.insert_doc(contacts_id, contacts_doc);
    relay.connect(1, Side::Server, 0);
    device.connect(1, Side::Client, 0);
    let (mut to_relay, mut to_device) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let mut moved = false;
        while let Some(e) = device.poll_effect() {
            match e {
                Effect::Send { frame, .. } => to_relay.push(frame),
                Effect::PeerReady { .. } => {
                    device.handle_sync_states(1, Vec::new(), 0);
                    device.offer(1, group, 0);
                    device.offer(1, contacts_id, 0);
                }
                _ => {}
            }
        }
        let pending: Vec<Vec<u8>> = std::mem::take(&mut to_relay);
        for f in &pending {
            moved = true;
            relay.handle_frame(1, f, 0);
        }
        to_device.extend(pending.iter().cloned().map(|f| (true, f)));
        while let Some(e) = relay.poll_effect() {
            match e {
                Effect::Send { frame, .. } => {
                    moved = true;
                    device.handle_frame(1, &frame, 0);
                    to_device.push((false, frame));
                }
                Effect::Persist { changes, .. } => {
                    let n = to_device.len();
                    seed("document", &format!("stored-{n}"), &changes)?;
                }
                Effect::Load { doc } => relay.handle_loaded(doc, None, 0),
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    // The relay holds both documents, as the device has them.
    for doc in [group, contacts_id] {
        let (Some(a), Some(b)) = (device.doc(&doc), relay.doc(&doc)) else {
            return Err(format!("document {doc} missing").into());
        };
        assert_eq!(a.clone().get_heads(), b.clone().get_heads());
    }
    let (from_device, from_relay): (Vec<_>, Vec<_>) = to_device.into_iter().partition(|(d, _)| *d);
    let from_device: Vec<Vec<u8>> = from_device.into_iter().map(|(_, f)| f).collect();
    let from_relay: Vec<Vec<u8>> = from_relay.into_iter().map(|(_, f)| f).collect();
    assert!(
        from_device.len() >= 3 && from_relay.len() >= 2,
        "a real exchange"
    );
    for (i, f) in from_device.iter().chain(&from_relay).enumerate() {
        Message::decode(f)?;
        seed("frame", &format!("frame-{i}"), f)?;
    }
    seed("hub_server", "device-session", &script(&from_device))?;
    seed("hub_client", "relay-session", &script(&from_relay))?;

    // Control messages, credentials and query strings as devices and browsers send them.
    let id = Identity::generate()?;
    let controls = [
        Control::Request {
            id: 1,
            request: Request::Redeem {
                invite: "CODE".into(),
                name: "Ana".into(),
            },
        },
        Control::Request {
            id: 2,
            request: Request::FollowBoard {
                county: "06065".into(),
                follow: true,
            },
        },
        Control::Wipe {
            group: group.to_string(),
        },
        Control::Offered,
    ];
    for (i, c) in controls.iter().enumerate() {
        let json = c.to_json();
        assert_eq!(Control::from_json(&json)?, *c);
        seed("control", &format!("control-{i}"), json.as_bytes())?;
    }
    let (_, code) = id.invite(
        &group.to_string(),
        groundwork_core::identity::Role::Member,
        groundwork_core::time::now_ms() + 86_400_000,
        1,
        Some("ws://127.0.0.1:7878/v1/sync"),
    )?;
    seed("credentials", "invite", code.as_bytes())?;
    seed(
        "credentials",
        "link",
        groundwork_core::identity::join_link(&code).as_bytes(),
    )?;
    seed(
        "credentials",
        "proof",
        id.connect_proof("ws://127.0.0.1:7878/v1/sync", 1_796_000_000_000)?
            .to_query()
            .as_bytes(),
    )?;
    seed(
        "http_query",
        "matrix",
        b"state=CA&office=sheriff&position=opposes&sort=support&page=2",
    )?;
    seed(
        "http_query",
        "map",
        b"state=TX&county=48453&from=2026-12-01&to=2027-01-31",
    )?;
    Ok(())
}
