//! The relay's hub thread: owns the sync [`Hub`] (with the relay's [`RelayAccess`] policy) and
//! the store, takes connection events from the WebSocket tasks, and runs each batch of them in
//! a fixed order, writing the batch's changes in one transaction (group commit) before sending
//! anything that follows them.
//!
//! This module only runs the loop and sequences the parts; each part owns its state and takes
//! the hub and the store as arguments:
//!
//! | part            | owns                                                              |
//! |-----------------|-------------------------------------------------------------------|
//! | [`conns`]       | the open connections, their queues and back-pressure              |
//! | [`auth`]        | who a connection is: proofs, nonces, tokens, peer ids, staff      |
//! | [`requests`]    | the control requests, one function each                           |
//! | [`rosters`]     | each group's roster document, its working copies and pushes       |
//! | [`derived`]     | the campaign index, the county boards, the canvassers' briefs     |
//! | [`retention`]   | erasing contacts past their group's retention                     |
//! | [`health`]      | whether the store takes changes (the one owner of refusing them)  |
//! | [`offers`]      | offering each connection what it may read                         |
//! | [`peers`]       | other relay nodes' change log (PostgreSQL)                        |
//! | [`residency`]   | what is in memory: documents, groups' access rows                 |
//! | [`timers`]      | the one timer table the loop sleeps on                            |
//!
//! The order of a batch is [`HubThread::drive`]'s, numbered there and in ARCHITECTURE.md.

mod auth;
mod clock;
mod conns;
mod derived;
mod health;
mod offers;
mod peers;
mod requests;
mod residency;
mod retention;
mod rosters;
mod timers;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use groundwork_core::sync::control::Control;
use groundwork_core::sync::hub::{ConnId, Effect, Hub};
use groundwork_core::sync::wire::PeerMetadata;

use crate::access::{Principal, RelayAccess};
use crate::channel::Inbound;
use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError, Write};

pub use clock::Clock;
use conns::Connections;
use derived::Briefs;
use health::{Probe, StorageHealth};
use offers::Offers;
use peers::Peers;
use residency::Residency;
use retention::Retention;
use rosters::Rosters;
use timers::{Timer, TimerTable};

/// How the hub thread runs.
pub struct Options {
    /// This relay's storage id (its peer id follows from it).
    pub storage_id: String,
    /// Documents no connection syncs leave memory after this long.
    pub unload_after: Duration,
    /// The operator's sign-up code, if creating groups needs one.
    pub signup_code: Option<String>,
    /// Documents one connection may sync.
    pub max_docs_per_connection: usize,
    /// Member devices one group may have; an invite past it is refused.
    pub max_group_members: usize,
    /// Invite redemptions per address.
    pub redemptions: Arc<crate::limits::RateLimit>,
    /// The most bytes one connection may have waiting to be sent; past it the peer is not
    /// reading and is cut off.
    pub max_queued_bytes: usize,
    /// The audiences this relay answers to (its `--public-url`s): a connection proof made for
    /// any other is refused, and devices are told these are one relay.
    pub audiences: Vec<String>,
}

/// What the hub thread was configured with and does not change.
struct Config {
    /// This relay's storage id, for a hub made afresh.
    storage_id: String,
    /// The operator's sign-up code, for a hub made afresh.
    signup_code: Option<String>,
    /// Member devices one group may have.
    max_group_members: usize,
    /// Invite redemptions per address.
    redemptions: Arc<crate::limits::RateLimit>,
    /// The audiences connection proofs must name ([`Options::audiences`]).
    audiences: Vec<String>,
}

/// The hub thread's state: the sync hub and the store, and the parts.
struct HubThread {
    hub: Hub<RelayAccess>,
    store: RelayStore,
    metrics: Arc<Metrics>,
    config: Config,
    /// Where time comes from (the hub counts milliseconds from its start).
    clock: Clock,
    /// How often the tick runs.
    tick: Duration,
    conns: Connections,
    health: StorageHealth,
    offers: Offers,
    rosters: Rosters,
    briefs: Briefs,
    retention: Retention,
    residency: Residency,
    /// This node's place in the change log (`None` on SQLite, where it is the only node).
    peers: Option<Peers>,
    /// Whether the change log is to be read on this turn (a notification came, or its timer).
    log_due: bool,
    timers: TimerTable,
}

/// Runs the hub thread until every sender of `rx` is gone; returns after the last write.
pub fn run(store: RelayStore, rx: Receiver<Inbound>, metrics: Arc<Metrics>, options: Options) {
    let mut relay = Relay::start(store, metrics, options, Clock::system());
    loop {
        match rx.recv_timeout(relay.wait()) {
            Ok(first) => {
                relay.input(first);
                // Everything already queued joins this batch, and so this group commit.
                for next in rx.try_iter().take(1024) {
                    relay.input(next);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        relay.turn();
    }
    tracing::info!("hub thread stopped");
}

/// The relay's host logic with no thread and no channel of its own: what the hub thread runs
/// ([`run`] feeds it the WebSocket tasks' events and calls [`Relay::turn`]), and what the
/// relay simulator drives with its own clock and network (server/tests/sim.rs).
pub struct Relay(HubThread);

impl Relay {
    /// Starts on `store`: reads the access tables, checks the briefs, builds the campaign
    /// index if the store predates it.
    pub fn start(store: RelayStore, metrics: Arc<Metrics>, options: Options, clock: Clock) -> Self {
        let Options {
            storage_id,
            unload_after,
            signup_code,
            max_docs_per_connection,
            max_group_members,
            redemptions,
            max_queued_bytes,
            audiences,
        } = options;
        // The cursor first: whatever commits while the tables are read is read again from the
        // log.
        let peers = Peers::start(&store).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot find where the change log starts");
            None
        });
        let mut hub = fresh_hub(&store, &storage_id, signup_code.clone());
        hub.policy_mut().set_time(clock.wall_ms());
        // Ticks (retries, unloading idle documents) run on time, busy or not.
        let tick = Duration::from_secs(1).min(unload_after.max(Duration::from_millis(50)));
        let mut t = HubThread {
            hub,
            store,
            metrics,
            config: Config {
                storage_id,
                signup_code,
                max_group_members,
                redemptions,
                audiences,
            },
            clock,
            tick,
            conns: Connections::new(max_queued_bytes, max_docs_per_connection),
            health: StorageHealth::default(),
            offers: Offers::default(),
            rosters: Rosters::default(),
            briefs: Briefs::default(),
            retention: Retention::default(),
            residency: Residency::new(unload_after),
            peers,
            log_due: false,
            timers: TimerTable::default(),
        };
        let start = t.clock.instant();
        for timer in [Timer::Tick, Timer::Retention, Timer::Purge] {
            t.timers
                .set(timer, timer.every(tick).map(|every| start + every));
        }
        if t.peers.is_some() {
            for timer in [Timer::ReadLog, Timer::PruneLog] {
                t.timers
                    .set(timer, timer.every(tick).map(|every| start + every));
            }
        }
        // Every group's brief is checked once at startup (written for groups from before
        // briefs; unchanged ones cost a comparison).
        match t.store.group_ids() {
            Ok(groups) => t.briefs.all_due(groups),
            Err(e) => tracing::error!(error = %e, "cannot list the groups to check their briefs"),
        }
        t.check_storage();
        let built = derived::build_campaign_index(&mut t.hub, &t.store)
            .and_then(|()| derived::record_periods(&mut t.hub, &t.store));
        if let Err(e) = built {
            tracing::error!(error = %e, "building the campaign index failed; it fills as plans change");
            t.storage_failed(&e);
        }
        Relay(t)
    }

    /// How long until the earliest timer falls due.
    pub fn wait(&self) -> Duration {
        let t = &self.0;
        t.timers
            .next()
            .map_or(t.tick, |at| at.saturating_duration_since(t.clock.instant()))
    }

    /// One event from a connection's task; it takes effect at the next [`Relay::turn`].
    pub fn input(&mut self, event: Inbound) {
        self.0.input(event);
    }

    /// One turn: the timers due, other nodes' changes, then the batch of everything input
    /// since the last turn (committed, then sent).
    pub fn turn(&mut self) {
        let t = &mut self.0;
        t.hub.policy_mut().set_time(t.clock.wall_ms());
        let due = t.timers.expired(t.clock.instant(), t.tick);
        // Other nodes' changes first, then the tick's work, then the batch.
        if due.contains(&Timer::ReadLog) {
            t.log_due = true;
        }
        if t.log_due {
            t.catch_up();
        }
        let mut ticked = false;
        for timer in due {
            match timer {
                Timer::Tick => {
                    t.tick();
                    ticked = true;
                }
                // Read above; offers fall due in the batch below.
                Timer::ReadLog | Timer::Offers => {}
                Timer::Retention => t.retention.due(),
                Timer::Purge => auth::purge(&mut t.health, &t.store, t.clock.wall_ms()),
                Timer::PruneLog => Peers::prune(&t.store),
            }
        }
        match t.drive() {
            Err(e) => t.storage_failed(&e),
            // After the batch's commit, so a group let go is read back with all it wrote.
            Ok(()) if ticked => {
                t.residency
                    .evict_groups(t.hub.policy_mut(), t.briefs.pending(), &t.metrics)
            }
            Ok(()) => {}
        }
        let now = t.now();
        let due = t.offers.next_due_in(now).map(|d| t.clock.instant() + d);
        t.timers.set(Timer::Offers, due);
    }

    /// Stops, giving back the store with everything committed (a simulated crash drops the
    /// rest).
    pub fn into_store(self) -> RelayStore {
        self.0.store
    }
}

/// A hub whose access tables and boards are read from the store, as at startup.
fn fresh_hub(
    store: &RelayStore,
    storage_id: &str,
    signup_code: Option<String>,
) -> Hub<RelayAccess> {
    let rows = match store.access_rows() {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the access tables; refusing everyone");
            Default::default()
        }
    };
    let mut hub = Hub::with_policy(
        format!(
            "{}{storage_id}",
            groundwork_core::sync::wire::RELAY_PEER_PREFIX
        ),
        PeerMetadata {
            storage_id: Some(storage_id.to_owned()),
            is_ephemeral: false,
        },
        RelayAccess::from_rows(rows, signup_code),
    );
    match store.campaign(|c| {
        Ok((
            crate::campaign::board_docs(c)?,
            crate::campaign::county_groups(c)?,
        ))
    }) {
        Ok((boards, pairs)) => {
            let boards = boards
                .into_iter()
                .filter_map(|(county, doc)| Some((county, doc.parse().ok()?)))
                .collect();
            hub.policy_mut().set_boards(boards, pairs);
        }
        Err(e) => tracing::error!(error = %e, "cannot read the boards; none are served"),
    }
    hub
}

impl HubThread {
    /// The hub's clock: milliseconds since the thread started.
    fn now(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// One event from a WebSocket task.
    fn input(&mut self, event: Inbound) {
        let now = self.now();
        self.hub.policy_mut().set_time(self.clock.wall_ms());
        match event {
            Inbound::Authenticate {
                proof,
                token,
                reply,
            } => {
                let (answer, failed) = auth::authenticate(
                    proof,
                    token,
                    &self.config.audiences,
                    &mut self.hub,
                    &self.store,
                    &mut self.health,
                );
                if let Some(e) = failed
                    && self.health.refusing().is_none()
                {
                    self.storage_failed(&e);
                }
                let _ = reply.send(answer);
            }
            Inbound::Open {
                conn,
                tx,
                principal,
                addr,
            } => {
                self.conns.open(conn, tx, addr, &self.metrics);
                // Whether a device is staff is read again as it connects, so a grant or a
                // revocation holds from its next connection on (the tick catches live ones).
                if let Principal::Device(device) = &principal {
                    match self
                        .store
                        .campaign(|c| crate::campaign::is_staff(c, device))
                    {
                        Ok(staff) => self.hub.policy_mut().set_one_staff(device, staff),
                        Err(e) => tracing::warn!(error = %e, "reading campaign staff failed"),
                    }
                }
                // Every group of a connected device is held (the access tables' invariant).
                let held = match principal.device() {
                    Some(device) => {
                        residency::hold_groups_of(self.hub.policy_mut(), &self.store, device)
                    }
                    None => Ok(()),
                };
                self.hub.policy_mut().connect(conn, principal);
                self.hub
                    .connect(conn, groundwork_core::sync::hub::Side::Server, now);
                if let Err(e) = held {
                    tracing::error!(error = %e, "reading a device's groups failed");
                    self.refuse(conn, "relay storage failure");
                }
            }
            Inbound::Frame { conn, bytes, .. } => {
                self.metrics.messages_in.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .bytes_in
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.hub.handle_frame(conn, &bytes, now);
                self.conns.busy(conn);
            }
            Inbound::Closed { conn } => self.drop_conn(conn),
            Inbound::LogChanged => self.log_due = true,
        }
    }

    /// The periodic tick: the hub's retries, roster pushes, unloading idle documents, expired
    /// tokens, staff read again, the store's health.
    fn tick(&mut self) {
        let now = self.now();
        self.hub.handle_tick(now);
        let at = self.clock.instant();
        self.rosters.push(&mut self.hub, now, at);
        self.residency
            .unload_idle(&mut self.hub, &self.store, &self.metrics, at);
        self.rosters.trim(&self.hub);
        for conn in auth::expired_token_conns(self.hub.policy()) {
            self.close(conn, "the token expired: mint a new one");
        }
        let quiet = self.health.refusing().is_some();
        if let Some(change) = auth::refresh_staff(self.hub.policy_mut(), &self.store, quiet) {
            for device in change.revoked {
                tracing::info!("a campaign staff role was revoked; closing its connections");
                for conn in self.hub.policy().conns_of(&device) {
                    self.refuse(conn, "the campaign staff role of this device was revoked");
                }
            }
            for device in change.added {
                offers::offer_readable_boards(&mut self.hub, &self.store, &device, now);
            }
        }
        self.check_storage();
    }

    /// Applies the operator's quota, and while the store takes no changes, whether it can
    /// again; when it can on a cluster, memory is read afresh first (other nodes went on).
    fn check_storage(&mut self) {
        if self.health.check(&self.store, &self.metrics) != Probe::Recovered {
            return;
        }
        if self.peers.is_some() {
            // The tables in memory were read while the database was out of reach, and other
            // nodes went on meanwhile: read everything again, from a new place in the log.
            match Peers::start(&self.store) {
                Ok(peers) => self.peers = peers,
                Err(e) => {
                    tracing::debug!(error = %e, "the database is not back yet");
                    return;
                }
            }
            self.close_all("the relay is back on its database: connect again");
            self.hub = fresh_hub(
                &self.store,
                &self.config.storage_id,
                self.config.signup_code.clone(),
            );
        }
        self.health
            .recovered(&self.store, self.hub.policy_mut(), &self.metrics);
    }

    /// A write failed: nothing of its batch was acknowledged (sends follow commits), but the
    /// hub's documents and access tables in memory may be ahead of the store. Every
    /// connection is closed with the reason and the hub is made afresh from the store, so
    /// memory is what is stored again; from now on changes are refused, with the reason,
    /// while reads go on, until a probe write succeeds ([`StorageHealth::check`]).
    fn storage_failed(&mut self, e: &StoreError) {
        let reason = self.health.failed(e, self.hub.policy_mut(), &self.metrics);
        self.close_all(&reason);
        self.hub = fresh_hub(
            &self.store,
            &self.config.storage_id,
            self.config.signup_code.clone(),
        );
        self.health.reapply(self.hub.policy_mut());
    }

    /// Reads the change log other nodes on this database write and applies it. A read that
    /// fails because the database is out of reach stops this node taking changes, as a failed
    /// write does.
    fn catch_up(&mut self) {
        self.log_due = false;
        let now = self.now();
        let Some(peers) = self.peers.as_mut() else {
            return;
        };
        let logged = match peers.read(&self.hub, &self.store, &self.metrics) {
            Ok(logged) => logged,
            Err(e) => {
                if self.health.refusing().is_none() {
                    self.storage_failed(&e);
                }
                return;
            }
        };
        for item in logged {
            match item {
                peers::Logged::Chunk(doc, hash) => {
                    peers::apply_chunk(&mut self.hub, &self.store, &doc, &hash, now)
                }
                peers::Logged::Change(change) => {
                    let close =
                        peers::apply(&mut self.hub, &self.store, &mut self.residency, change, now);
                    for (conn, reason) in close {
                        self.close(conn, reason);
                    }
                }
            }
        }
    }

    /// Closes `conn` after what is queued, saying why, and forgets it.
    fn close(&mut self, conn: ConnId, reason: &str) {
        self.conns.close(conn, reason);
        self.drop_conn(conn);
    }

    /// Sends `conn` a protocol error and forgets it.
    fn refuse(&mut self, conn: ConnId, reason: &str) {
        tracing::warn!(conn, %reason, "refusing a connection");
        self.conns.refuse(conn, reason);
        self.drop_conn(conn);
    }

    /// Forgets `conn` everywhere it is known.
    fn drop_conn(&mut self, conn: ConnId) {
        self.conns.forget(conn, &self.metrics);
        self.offers.forget(conn);
        self.hub.handle_disconnect(conn);
        self.hub.policy_mut().disconnect(conn);
    }

    /// Refuses every connection with `reason` and forgets them all.
    fn close_all(&mut self, reason: &str) {
        self.conns.close_all(reason, &self.metrics);
        self.offers.clear();
        self.residency.clear(&self.metrics);
    }

    /// Runs a batch: its effects until there are none, then the limits and the offers that
    /// fell due, and their effects.
    fn drive(&mut self) -> Result<(), StoreError> {
        self.run_effects()?;
        for (conn, reason) in self.conns.over_limits(&self.hub) {
            match reason {
                Some(reason) => self.refuse(conn, &reason),
                None => self.drop_conn(conn),
            }
        }
        let now = self.now();
        self.offers.flush(&mut self.hub, &self.store, now);
        self.run_effects()
    }

    /// Runs effects until there are none, each round in this order (ARCHITECTURE.md, "A batch
    /// on the relay"):
    ///
    /// 1. take the hub's effects and the policy's pending access writes;
    /// 2. derive: the campaign index rows for the plans and contacts that changed (a change
    ///    of meeting notes alone derives nothing), new groups' rosters;
    /// 3. commit every write of the round in one transaction;
    /// 4. write the boards of the counties touched and the briefs due, each in its own
    ///    transaction, reading what step 3 committed; erase contacts past retention;
    /// 5. offer new documents to their readers, except to a connection whose `peer` answer is
    ///    among this round's effects (a document message before it makes a device drop the
    ///    connection);
    /// 6. load what the offers need, then send: the offers' first messages, then the round's
    ///    own effects in order;
    /// 7. last, apply the relay's own changes (rosters, boards) to the hub, so their messages
    ///    follow everything queued before them (a message with older heads after a change's
    ///    would leave a peer waiting for ever).
    fn run_effects(&mut self) -> Result<(), StoreError> {
        loop {
            // 1.
            let mut effects: Vec<Effect> = std::iter::from_fn(|| self.hub.poll_effect()).collect();
            let (access, new_groups) = self.hub.policy_mut().take_pending();
            let mut writes: Vec<Write> = access.into_iter().map(Write::Access).collect();
            if effects.is_empty()
                && writes.is_empty()
                && self.briefs.pending().is_empty()
                && !self.retention.is_due()
            {
                break;
            }
            // 2.
            let mut offers: Vec<(ConnId, DocumentId)> = Vec::new();
            let mut changed: Vec<(DocumentId, Vec<automerge::Change>)> = Vec::new();
            for e in &mut effects {
                match e {
                    Effect::Persist { doc, changes } => {
                        writes.push(Write::Chunk(*doc, std::mem::take(changes)));
                    }
                    Effect::DocChanged {
                        doc, new, changes, ..
                    } => {
                        if *new {
                            // A new document goes to everyone connected who may read it.
                            for conn in self.hub.policy().readers(doc) {
                                offers.push((conn, *doc));
                            }
                        }
                        changed.push((*doc, std::mem::take(changes)));
                    }
                    _ => {}
                }
            }
            // A plan change that wrote only meetings' notes (most of co-editing) changes neither
            // the campaign index nor the canvassers' brief, which never hold notes: neither is
            // derived again, and the group's place on the boards does not move for it.
            changed.retain(|(doc, changes)| !derived::notes_only(&self.hub, doc, changes));
            // The campaign index changes in the same transaction as the changes it reflects.
            let (campaign, counties) =
                derived::campaign_writes(&mut self.hub, &self.store, &changed, &writes)?;
            writes.extend(campaign);
            // The changes' work is done: only which documents changed is needed below.
            let changed: Vec<DocumentId> = changed.into_iter().map(|(doc, _)| doc).collect();
            let mut rosters = Vec::new();
            for group in &new_groups {
                if let Some((roster, change)) =
                    self.rosters
                        .change(&mut self.hub, &self.store, group, None)?
                {
                    writes.push(Write::Chunk(roster, change.clone()));
                    rosters.push((roster, change));
                    for conn in self.hub.policy().readers(&roster) {
                        offers.push((conn, roster));
                    }
                }
            }
            // 3.
            if !writes.is_empty() {
                let start = Instant::now();
                self.health.batch(
                    writes
                        .iter()
                        .map(|w| match w {
                            Write::Chunk(_, bytes) => bytes.len() as u64,
                            _ => 64,
                        })
                        .sum(),
                );
                self.store.commit(&writes)?;
                self.metrics.persist_batches.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .persist_micros
                    .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            // 4.
            let (board_changes, board_offers) =
                derived::write_boards(&mut self.hub, &self.store, &counties)?;
            offers.extend(board_offers);
            for doc in &changed {
                if let Some((group, DocKind::Plan)) = self.hub.policy().doc_kind(doc) {
                    self.briefs.due(group);
                }
            }
            let (brief_offers, retention_changed) =
                self.briefs.write(&mut self.hub, &self.store)?;
            offers.extend(brief_offers);
            if retention_changed {
                self.retention.due();
            }
            self.retention
                .enforce(&mut self.hub, &self.store, &mut self.residency)?;
            rosters.extend(board_changes);
            // 5.
            let now = self.now();
            let joined: BTreeSet<ConnId> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::PeerReady { conn, .. } => Some(*conn),
                    _ => None,
                })
                .collect();
            for (conn, doc) in offers {
                if !joined.contains(&conn) && !self.hub.syncing(conn, &doc) {
                    self.hub.offer(conn, doc, now);
                }
            }
            // 6.
            let mut first = Vec::new();
            while let Some(e) = self.hub.poll_effect() {
                match e {
                    Effect::Load { doc } => {
                        let bytes = self.store.load(&doc)?;
                        self.hub.handle_loaded(doc, bytes.as_deref(), now);
                    }
                    other => first.push(other),
                }
            }
            for e in first.into_iter().chain(effects) {
                self.execute(e, now)?;
            }
            // 7. Their sends run on the next round of this loop.
            for (doc, change) in rosters {
                if self.hub.doc(&doc).is_some()
                    && let Err(e) = self.hub.handle_local_change(doc, &change, now)
                {
                    tracing::error!(error = %e, "applying a roster change failed");
                }
            }
        }
        residency::count_loaded(&self.hub, &self.metrics);
        self.metrics
            .unreadable_records
            .fetch_add(self.hub.policy_mut().take_unreadable(), Ordering::Relaxed);
        self.metrics
            .sync_messages_reused
            .store(self.hub.sync_messages_reused(), Ordering::Relaxed);
        Ok(())
    }

    /// Runs one effect that is not a write (writes were committed before).
    fn execute(&mut self, effect: Effect, now: u64) -> Result<(), StoreError> {
        match effect {
            Effect::Send { conn, frame } => self.conns.send(conn, frame, &self.metrics),
            Effect::Close { conn, reason } => {
                self.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                self.conns.close(conn, &reason);
            }
            Effect::Load { doc } => {
                let bytes = self.store.load(&doc)?;
                self.hub.handle_loaded(doc, bytes.as_deref(), now);
            }
            Effect::PeerReady { conn, peer } => self.peer_ready(conn, &peer, now),
            Effect::Control { conn, body } => requests::control(self, conn, &body, now)?,
            _ => {}
        }
        Ok(())
    }

    /// After the handshake: a device must use its own key as its peer id; it is told the
    /// relay's addresses and to wipe the groups it was removed from, and offered every
    /// document it may read once it has said what it has.
    fn peer_ready(&mut self, conn: ConnId, peer: &str, now: u64) {
        let principal = self.hub.policy().principal(conn).cloned();
        if let Err(reason) = auth::check_peer_id(principal.as_ref(), peer) {
            self.refuse(conn, reason);
            return;
        }
        if let Some(Principal::Device(device)) = &principal {
            self.hub.send_control(
                conn,
                Control::Addresses {
                    urls: self.config.audiences.clone(),
                }
                .to_json(),
            );
            for group in self.hub.policy().wipes_owed(device) {
                self.hub
                    .send_control(conn, Control::Wipe { group }.to_json());
            }
        }
        self.offers.after_handshake(conn, now);
    }
}
