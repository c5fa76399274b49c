//! A deterministic simulation of the sync protocol: many devices and a relay on one thread, a
//! seeded network that drops, duplicates, reorders, delays and partitions messages, and devices
//! and relay that crash and restart from what they stored. Every run must converge to identical
//! heads everywhere, and no change the relay acknowledged may be lost.
//!
//! `GROUNDWORK_SIM_SEEDS=N` runs N seeds (default 300, the slice the test command runs) from `GROUNDWORK_SIM_FIRST` (default 0); `GROUNDWORK_SIM_SEED=S` replays one
//! seed exactly. A failure names its seed.

// A failed unwrap here is a failed run, reported with its seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ChangeHash};
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::contacts::{Contact, ContactsDoc, NewContact, insert_contact};
use groundwork_core::schema::plan::{NewTarget, Plan};
use groundwork_core::schema::vocab::ContactResult;
use groundwork_core::schema::{self, DocKind};
use groundwork_core::sync::hub::{ConnId, Effect, Hub, RESEND_AFTER_MS, Side};
use groundwork_core::sync::wire::PeerMetadata;

/// xorshift64*: the only source of randomness in a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// How hostile the network is while the devices work.
#[derive(Clone, Copy)]
struct Weather {
    drop: u64,
    duplicate: u64,
    max_delay: u64,
    cut: u64,
    crash_device: u64,
    crash_relay: u64,
}

const STORMY: Weather = Weather {
    drop: 20,
    duplicate: 20,
    max_delay: 80,
    cut: 5,
    crash_device: 2,
    crash_relay: 2,
};

const CALM: Weather = Weather {
    drop: 0,
    duplicate: 0,
    max_delay: 20,
    cut: 0,
    crash_device: 0,
    crash_relay: 0,
};

/// What a node keeps across crashes.
#[derive(Default, Clone)]
struct Disk {
    chunks: BTreeMap<DocumentId, Vec<Vec<u8>>>,
    sync_states: BTreeMap<(String, DocumentId), Vec<u8>>,
}

impl Disk {
    fn load(&self, id: &DocumentId) -> Option<AutoCommit> {
        let chunks = self.chunks.get(id)?;
        let mut doc = schema::new_doc();
        for c in chunks {
            doc.load_incremental(c).unwrap();
        }
        Some(doc)
    }
}

struct Device {
    name: String,
    hub: Hub,
    disk: Disk,
    /// The device's own copy of its documents (what its store holds).
    local: BTreeMap<DocumentId, AutoCommit>,
    conn: Option<ConnId>,
    /// Partitioned until this time.
    offline_until: u64,
    /// Heads the relay acknowledged, per document: they must never be lost.
    acked: BTreeMap<DocumentId, BTreeSet<ChangeHash>>,
}

impl Device {
    /// A document this device made: committed, stored, and handed to its hub.
    fn store_local(&mut self, id: DocumentId, mut doc: AutoCommit) {
        doc.commit();
        self.disk.chunks.entry(id).or_default().push(doc.save());
        self.hub.insert_doc(id, doc.fork());
        self.local.insert(id, doc);
    }
}

struct Relay {
    hub: Hub,
    disk: Disk,
    /// The documents exactly as on `disk` (every persisted chunk applied), kept so that
    /// checking the disk does not reload it each time. Survives relay crashes, as the disk does.
    on_disk: BTreeMap<DocumentId, AutoCommit>,
}

enum Event {
    Frame {
        to_relay: bool,
        conn: ConnId,
        frame: Vec<u8>,
    },
    Closed {
        to_relay: bool,
        conn: ConnId,
    },
}

struct Sim {
    rng: Rng,
    now: u64,
    weather: Weather,
    devices: Vec<Device>,
    relay: Relay,
    /// conn -> device index, for live connections.
    links: BTreeMap<ConnId, usize>,
    next_conn: ConnId,
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    plan: DocumentId,
    seed: u64,
}

fn device_hub(name: &str) -> Hub {
    Hub::new(
        name.to_owned(),
        PeerMetadata {
            storage_id: Some(name.into()),
            is_ephemeral: false,
        },
    )
}

fn relay_hub() -> Hub {
    Hub::new(
        "relay".into(),
        PeerMetadata {
            storage_id: Some("relay".into()),
            is_ephemeral: false,
        },
    )
}

impl Sim {
    fn new(seed: u64, n: usize) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let plan =
            DocumentId::from((rng.next() as u128 | ((rng.next() as u128) << 64)).to_le_bytes());
        let mut devices = Vec::new();
        for i in 0..n {
            let name = format!("device-{i}");
            let mut d = Device {
                hub: device_hub(&name),
                name: name.clone(),
                disk: Disk::default(),
                local: BTreeMap::new(),
                conn: None,
                offline_until: 0,
                acked: BTreeMap::new(),
            };
            if i == 0 {
                // The lead creates the group's plan.
                let mut doc = schema::new_doc();
                let mut p = Plan::new(&plan.to_string(), "Group", None, &name, 0).unwrap();
                p.add_target(
                    "t0",
                    NewTarget {
                        name: "Sheriff".into(),
                        title: "Sheriff".into(),
                        ..Default::default()
                    },
                )
                .unwrap();
                schema::reconcile(&mut doc, &p, "plan", DocKind::Plan).unwrap();
                d.store_local(plan, doc);
            } else {
                // Members join by the group's id: they ask for the plan.
                d.hub.insert_doc(plan, schema::new_doc());
            }
            // Each canvasser has a contacts document of their own.
            let contacts =
                DocumentId::from((rng.next() as u128 | ((rng.next() as u128) << 64)).to_le_bytes());
            let mut doc = schema::new_doc();
            let c = ContactsDoc::new(&plan.to_string(), &name, "2026-11");
            schema::reconcile(&mut doc, &c, "contacts", DocKind::Contacts).unwrap();
            d.store_local(contacts, doc);
            devices.push(d);
        }
        Sim {
            rng,
            now: 0,
            weather: STORMY,
            devices,
            relay: Relay {
                hub: relay_hub(),
                disk: Disk::default(),
                on_disk: BTreeMap::new(),
            },
            links: BTreeMap::new(),
            next_conn: 1,
            queue: BTreeMap::new(),
            seq: 0,
            plan,
            seed,
        }
    }

    fn schedule(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), event);
    }

    fn connect(&mut self, i: usize) {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.links.insert(conn, i);
        self.devices[i].conn = Some(conn);
        self.relay.hub.connect(conn, Side::Server, self.now);
        self.devices[i].hub.connect(conn, Side::Client, self.now);
        self.run_device(i);
    }

    /// Cuts a connection: each end learns of it after a delay.
    fn cut(&mut self, conn: ConnId) {
        if let Some(i) = self.links.remove(&conn) {
            self.devices[i].conn = None;
            let d1 = 1 + self.rng.below(30);
            let d2 = 1 + self.rng.below(30);
            self.schedule(
                d1,
                Event::Closed {
                    to_relay: true,
                    conn,
                },
            );
            self.schedule(
                d2,
                Event::Closed {
                    to_relay: false,
                    conn,
                },
            );
        }
    }

    fn transmit(&mut self, to_relay: bool, conn: ConnId, frame: Vec<u8>) {
        if !self.links.contains_key(&conn) {
            return;
        }
        if self.rng.chance(self.weather.drop) {
            return;
        }
        let copies = if self.rng.chance(self.weather.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = 1 + self.rng.below(self.weather.max_delay);
            self.schedule(
                delay,
                Event::Frame {
                    to_relay,
                    conn,
                    frame: frame.clone(),
                },
            );
        }
    }

    fn run_relay(&mut self) {
        while let Some(effect) = self.relay.hub.poll_effect() {
            match effect {
                Effect::Send { conn, frame } => self.transmit(false, conn, frame),
                Effect::Close { conn, .. } => self.cut(conn),
                Effect::Load { doc } => {
                    let bytes = self.relay.disk.chunks.get(&doc).map(|c| c.concat());
                    self.relay
                        .hub
                        .handle_loaded(doc, bytes.as_deref(), self.now);
                }
                Effect::Persist { doc, changes } => {
                    self.relay
                        .on_disk
                        .entry(doc)
                        .or_insert_with(schema::new_doc)
                        .load_incremental(&changes)
                        .unwrap();
                    self.relay.disk.chunks.entry(doc).or_default().push(changes);
                }
                Effect::PeerReady { conn, .. } => {
                    // One group: every member may read every document of it.
                    let mut docs: BTreeSet<DocumentId> =
                        self.relay.disk.chunks.keys().copied().collect();
                    docs.extend(self.relay.hub.doc_ids().copied());
                    for doc in docs {
                        self.relay.hub.offer(conn, doc, self.now);
                    }
                }
                Effect::DocChanged { doc, new: true, .. } => {
                    let conns: Vec<ConnId> = self.links.keys().copied().collect();
                    for conn in conns {
                        self.relay.hub.offer(conn, doc, self.now);
                    }
                }
                Effect::Subscribed { .. }
                | Effect::DocChanged { .. }
                | Effect::SaveSyncState { .. }
                | Effect::Unavailable { .. }
                | Effect::Control { .. } => {}
            }
        }
    }

    fn run_device(&mut self, i: usize) {
        while let Some(effect) = self.devices[i].hub.poll_effect() {
            match effect {
                Effect::Send { conn, frame } => self.transmit(true, conn, frame),
                Effect::Close { conn, .. } => self.cut(conn),
                Effect::Load { doc } => {
                    let bytes = self.devices[i].disk.chunks.get(&doc).map(|c| c.concat());
                    self.devices[i]
                        .hub
                        .handle_loaded(doc, bytes.as_deref(), self.now);
                }
                Effect::Persist { doc, changes } => {
                    let d = &mut self.devices[i];
                    d.disk.chunks.entry(doc).or_default().push(changes.clone());
                    d.local
                        .entry(doc)
                        .or_insert_with(schema::new_doc)
                        .load_incremental(&changes)
                        .unwrap();
                }
                Effect::PeerReady { conn, peer } => {
                    let d = &mut self.devices[i];
                    let states = d
                        .disk
                        .sync_states
                        .iter()
                        .filter(|((p, _), _)| *p == peer)
                        .map(|((_, doc), s)| (*doc, s.clone()))
                        .collect();
                    d.hub.handle_sync_states(conn, states, self.now);
                }
                Effect::SaveSyncState { peer, doc, state } => {
                    self.devices[i].disk.sync_states.insert((peer, doc), state);
                }
                Effect::DocChanged { .. }
                | Effect::Unavailable { .. }
                | Effect::Subscribed { .. }
                | Effect::Control { .. } => {}
            }
        }
        self.record_acks(i);
    }

    /// What the relay has acknowledged to device `i`: every head it reports having.
    fn record_acks(&mut self, i: usize) {
        let Some(conn) = self.devices[i].conn else {
            return;
        };
        let ids: Vec<DocumentId> = self.devices[i].local.keys().copied().collect();
        for id in ids {
            if let Some(status) = self.devices[i].hub.status(conn, &id)
                && let Some(theirs) = status.theirs
            {
                let acked = self.devices[i].acked.entry(id).or_default();
                acked.extend(theirs.into_iter().filter(|h| status.ours.contains(h)));
            }
        }
    }

    fn edit(&mut self, i: usize) {
        let n = self.now;
        let d = &mut self.devices[i];
        let contacts_id = *d.local.keys().find(|id| **id != self.plan).unwrap();
        let (id, changes) = if self.rng.chance(500) || !d.local.contains_key(&self.plan) {
            let doc = d.local.get_mut(&contacts_id).unwrap();
            let mut c = NewContact::new(ContactResult::ALL[(n % 8) as usize]);
            c.note = Some(format!("note {n}"));
            let cid = format!("{}-{n}-{}", d.name, self.rng.below(1 << 30));
            let contact = Contact::new(&cid, &d.name, c, n as i64).unwrap();
            let before = doc.get_heads();
            insert_contact(doc, &contact, "c").unwrap();
            doc.commit();
            (contacts_id, doc.save_after(&before))
        } else {
            let doc = d.local.get_mut(&self.plan).unwrap();
            let before = doc.get_heads();
            let mut plan: Plan = schema::hydrate(doc, "plan", DocKind::Plan).unwrap();
            let meeting = plan.meetings.keys().next().cloned();
            match (self.rng.below(3), meeting) {
                (0, Some(m)) => plan
                    .append_notes(&m, &format!("{} says {n}", d.name))
                    .unwrap(),
                (1, Some(m)) => plan
                    .add_agenda_item(&m, &format!("{}-{n}", d.name), "item")
                    .unwrap(),
                _ => {
                    let id = format!("{}-m{n}", d.name);
                    let new = groundwork_core::schema::plan::NewMeeting {
                        kind: groundwork_core::schema::vocab::MeetingKind::Organizing,
                        title: "Meet".into(),
                        target: None,
                        at: None,
                        location: None,
                    };
                    plan.create_meeting(&id, new, n as i64).unwrap();
                }
            }
            schema::reconcile(doc, &plan, "plan", DocKind::Plan).unwrap();
            doc.commit();
            (self.plan, doc.save_after(&before))
        };
        if changes.is_empty() {
            return;
        }
        d.disk.chunks.entry(id).or_default().push(changes.clone());
        d.hub.handle_local_change(id, &changes, n).unwrap();
        self.run_device(i);
    }

    fn crash_device(&mut self, i: usize) {
        if let Some(conn) = self.devices[i].conn {
            self.cut(conn);
        }
        let d = &mut self.devices[i];
        d.hub = device_hub(&d.name);
        d.local.clear();
        let ids: Vec<DocumentId> = d.disk.chunks.keys().copied().collect();
        for id in ids {
            let doc = d.disk.load(&id).unwrap();
            d.local.insert(id, doc.clone());
            d.hub.insert_doc(id, doc);
        }
        if !d.local.contains_key(&self.plan) {
            d.hub.insert_doc(self.plan, schema::new_doc());
        }
    }

    fn crash_relay(&mut self) {
        let conns: Vec<ConnId> = self.links.keys().copied().collect();
        for conn in conns {
            self.cut(conn);
        }
        self.relay.hub = relay_hub();
        self.check_acked_on_relay_disk("relay restart");
    }

    fn check_acked_on_relay_disk(&mut self, when: &str) {
        for d in &self.devices {
            for (id, hashes) in &d.acked {
                let mut empty = schema::new_doc();
                let doc = match self.relay.on_disk.get_mut(id) {
                    Some(doc) => doc,
                    None => &mut empty,
                };
                for h in hashes {
                    assert!(
                        doc.get_change_by_hash(h).is_some(),
                        "seed {}: at {when}, change {h} of {id} acknowledged to {} is not on the relay's disk",
                        self.seed,
                        d.name
                    );
                }
            }
        }
    }

    fn deliver(&mut self, event: Event) {
        match event {
            Event::Frame {
                to_relay: true,
                conn,
                frame,
            } => {
                if self.links.contains_key(&conn) {
                    self.relay.hub.handle_frame(conn, &frame, self.now);
                    self.run_relay();
                }
            }
            Event::Frame {
                to_relay: false,
                conn,
                frame,
            } => {
                if let Some(&i) = self.links.get(&conn) {
                    self.devices[i].hub.handle_frame(conn, &frame, self.now);
                    self.run_device(i);
                }
            }
            Event::Closed {
                to_relay: true,
                conn,
            } => {
                self.relay.hub.handle_disconnect(conn);
                self.run_relay();
            }
            Event::Closed {
                to_relay: false,
                conn,
            } => {
                for i in 0..self.devices.len() {
                    self.devices[i].hub.handle_disconnect(conn);
                    self.run_device(i);
                }
            }
        }
    }

    /// One step of the world: the next event, or a device's action when nothing is due.
    fn step(&mut self, actions: bool) {
        self.now += 1;
        while let Some((&(at, seq), _)) = self.queue.first_key_value() {
            if at > self.now {
                break;
            }
            let event = self.queue.remove(&(at, seq)).unwrap();
            self.deliver(event);
        }
        let i = self.rng.below(self.devices.len() as u64) as usize;
        if self.devices[i].conn.is_none() && self.now >= self.devices[i].offline_until {
            self.connect(i);
        }
        if actions {
            if self.rng.chance(60) {
                self.edit(i);
            }
            if self.rng.chance(self.weather.cut)
                && let Some(conn) = self.devices[i].conn
            {
                self.cut(conn);
                self.devices[i].offline_until = self.now + self.rng.below(500);
            }
            if self.rng.chance(self.weather.crash_device) {
                self.crash_device(i);
            }
            if self.rng.chance(self.weather.crash_relay) {
                self.crash_relay();
            }
            if self.rng.chance(20) {
                // Memory follows activity: idle documents leave the relay's memory.
                for id in self.relay.hub.idle_docs() {
                    self.relay.hub.unload(&id);
                }
            }
        }
        if self.now.is_multiple_of(RESEND_AFTER_MS / 5) {
            self.relay.hub.handle_tick(self.now);
            self.run_relay();
            for i in 0..self.devices.len() {
                self.devices[i].hub.handle_tick(self.now);
                self.run_device(i);
            }
        }
    }

    fn dump(&mut self) {
        let ids: BTreeSet<DocumentId> = self
            .devices
            .iter()
            .flat_map(|d| d.local.keys().copied())
            .collect();
        for id in ids {
            let relay_disk = self.relay.disk.load(&id).map(|mut d| d.get_heads());
            let relay_mem = self.relay.hub.doc(&id).map(|d| d.clone().get_heads());
            eprintln!(
                "doc {id}: relay disk {:?} mem {:?}",
                relay_disk.map(|h| h.len()),
                relay_mem.map(|h| h.len())
            );
            for d in &mut self.devices {
                let local = d.local.get_mut(&id).map(|doc| doc.get_heads());
                let st = d.conn.and_then(|c| d.hub.status(c, &id));
                eprintln!(
                    "  {} local {:?} status {:?}",
                    d.name,
                    local.map(|h| h
                        .iter()
                        .map(|x| x.to_string()[..6].to_owned())
                        .collect::<Vec<_>>()),
                    st.map(|s| (s.ours.len(), s.theirs.map(|t| t.len())))
                );
            }
        }
    }

    fn converged(&mut self) -> bool {
        let mut ids: BTreeSet<DocumentId> = BTreeSet::new();
        for d in &self.devices {
            ids.extend(d.local.keys().copied());
        }
        for id in ids {
            let Some(reference) = self.relay.on_disk.get_mut(&id) else {
                return false;
            };
            let heads = reference.get_heads();
            for d in &mut self.devices {
                let Some(doc) = d.local.get_mut(&id) else {
                    return false;
                };
                if doc.get_heads() != heads {
                    return false;
                }
            }
        }
        true
    }
}

fn run(seed: u64, devices: usize) {
    let mut sim = Sim::new(seed, devices);
    for k in 0..CHAOS_STEPS {
        sim.step(true);
        if std::env::var("SIM_DEBUG").is_ok() && k % 100 == 0 {
            eprintln!(
                "chaos {k}: queue {} links {} seq {}",
                sim.queue.len(),
                sim.links.len(),
                sim.seq
            );
        }
    }
    sim.weather = CALM;
    let mut steps = 0;
    if std::env::var("SIM_DEBUG").is_ok() {
        eprintln!("chaos done at {} ms; queue {}", sim.now, sim.queue.len());
    }
    while steps % 1000 != 0 || !sim.converged() {
        sim.step(false);
        steps += 1;
        if std::env::var("SIM_DEBUG").is_ok() && steps % 20_000 == 0 {
            sim.dump();
        }
        if std::env::var("SIM_DEBUG").is_ok() && steps % 20_000 == 0 {
            eprintln!(
                "step {steps}: queue {} links {}",
                sim.queue.len(),
                sim.links.len()
            );
        }
        assert!(
            steps < 200_000,
            "seed {seed}: no convergence after the network healed"
        );
    }
    sim.check_acked_on_relay_disk("the end");
    // What every device stored reloads to the same heads as its memory.
    for d in &mut sim.devices {
        for (id, doc) in &mut d.local {
            let mut stored = d.disk.load(id).unwrap();
            assert_eq!(
                stored.get_heads(),
                doc.get_heads(),
                "seed {seed}: {} disk != memory",
                d.name
            );
        }
    }
    // And the documents are readable as what they are.
    let mut plan = sim.relay.disk.load(&sim.plan).unwrap();
    let _: Plan = schema::hydrate(&plan, "plan", DocKind::Plan).unwrap();
    assert!(!plan.get_heads().is_empty());
}

/// How long the devices work under the storm, in simulated milliseconds.
const CHAOS_STEPS: u64 = 2_000;

/// Devices per run.
const DEVICES: usize = 10;

/// Runs the seeds of `0..N` that are `part` modulo `parts` (the test harness runs the parts on
/// parallel threads).
fn run_part(part: u64, parts: u64) {
    if let Some(seed) = std::env::var("GROUNDWORK_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        if seed % parts == part {
            run(seed, DEVICES);
            println!("seed {seed} converged");
        }
        return;
    }
    let seeds: u64 = std::env::var("GROUNDWORK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let first: u64 = std::env::var("GROUNDWORK_SIM_FIRST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut n = 0;
    for seed in (first..first + seeds).filter(|s| s % parts == part) {
        run(seed, DEVICES);
        n += 1;
    }
    println!("{n} seeds converged with {DEVICES} devices each");
}

#[test]
fn seeds_converge_and_lose_no_acknowledged_change_part_0() {
    run_part(0, 2);
}

#[test]
fn seeds_converge_and_lose_no_acknowledged_change_part_1() {
    run_part(1, 2);
}
