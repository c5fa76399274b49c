//! The relay's hub thread: owns the sync [`Hub`] (with the relay's [`RelayAccess`] policy) and
//! the store, takes connection events from the WebSocket tasks, and runs the hub's effects,
//! writing each batch of changes in one transaction (group commit) before sending anything that
//! follows them. It also authenticates connections, answers devices' control requests (join,
//! remove a member, mint a token), and writes each group's roster document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use groundwork_core::identity::{ConnectProof, Invite, Role};
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::roster::Roster;
use groundwork_core::sync::control::{Answer, Control, Request};
use groundwork_core::sync::hub::{ConnId, Effect, Hub};
use groundwork_core::sync::wire::PeerMetadata;
use groundwork_core::time::now_ms;

use crate::access::{Principal, RelayAccess};
use crate::channel::{Inbound, Outlet};
use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError, Write};

struct HubThread {
    hub: Hub<RelayAccess>,
    store: RelayStore,
    metrics: Arc<Metrics>,
    started: Instant,
    /// Where each connection's frames go.
    conns: BTreeMap<ConnId, Outlet>,
    /// The most bytes one connection may have waiting to be sent.
    max_queued: usize,
    /// Connections cut off in this batch for not reading, to drop.
    not_reading: BTreeSet<ConnId>,
    /// When each idle document was first seen idle.
    idle_since: BTreeMap<DocumentId, Instant>,
    /// Documents no connection syncs leave memory after this long.
    unload_after: Duration,
    /// When expired nonces and tokens were last purged.
    last_purge: Instant,
    /// Each connection's network address.
    addrs: BTreeMap<ConnId, std::net::IpAddr>,
    /// Documents one connection may sync.
    max_docs_per_connection: usize,
    /// Member devices one group may have.
    max_group_members: usize,
    /// Invite redemptions per address.
    redemptions: Arc<crate::limits::RateLimit>,
    /// Connections that sent frames in this batch, to check against the limits.
    busy: BTreeSet<ConnId>,
    /// Connections whose readable documents are still to be offered: by when, and how many
    /// documents they had opened at the last look.
    pending_offers: BTreeMap<ConnId, (u64, usize)>,
    /// This relay's storage id, for a hub made afresh.
    storage_id: String,
    /// The operator's sign-up code, for a hub made afresh.
    signup_code: Option<String>,
    /// Why the store takes no changes now, while it does not.
    failing: Option<String>,
    /// The size of the batch being committed (after a failure: the one that failed, which
    /// the store must have room for before it takes changes again).
    batch_bytes: u64,
    /// The quota (MiB) applied to the store.
    quota: Option<u64>,
    /// Connection nonces seen while the store could not record them (replays stay refused).
    unrecorded_nonces: BTreeMap<String, i64>,
    /// Groups whose canvassers' brief may have changed (their plan or members did), to write
    /// on this turn.
    brief_due: BTreeSet<String>,
    /// Rosters changed in memory whose readers have not been sent the change yet.
    rosters_due: BTreeSet<DocumentId>,
    /// When each roster pushed lately was last pushed.
    roster_pushed: HashMap<DocumentId, Instant>,
    /// The relay's working copies of rosters it writes, while the hub holds them (see
    /// `roster_change`).
    roster_copies: HashMap<DocumentId, Box<automerge::AutoCommit>>,
    /// Gives the pages of unloaded documents back to the system.
    trimmer: crate::memory::Trimmer,
    /// Whether a group's retention changed since contacts were last erased by it.
    retention_due: bool,
    /// When contacts past their groups' retention were last looked for (months turn over).
    last_retention: Instant,
    /// Where this node is in the change log other nodes on its database write (`None` on
    /// SQLite, where it is the only node).
    log: Option<LogCursor>,
    /// Whether the change log is to be read on this turn (a notification came, or a tick).
    log_due: bool,
    /// When the change log was last pruned.
    last_prune: Instant,
    /// The audiences connection proofs must name ([`Options::audiences`]).
    audiences: Vec<String>,
}

/// A node's place in the change log.
struct LogCursor {
    /// Rows from transactions at or past this one are read next time.
    xmin: u64,
    /// Rows applied that may be read again (their transaction was at or past the cursor),
    /// with their transaction: forgotten once the cursor passes it.
    applied: BTreeMap<i64, u64>,
}

impl LogCursor {
    fn new(xmin: u64) -> Self {
        Self {
            xmin,
            applied: BTreeMap::new(),
        }
    }
}

/// How often a node reads the change log when no notification came (a lost NOTIFY, or a
/// listener reconnecting, costs at most this).
const LOG_EVERY: Duration = Duration::from_millis(500);

/// How long a node that stopped reading the log still holds back its pruning.
const LOG_LIVE_FOR: Duration = Duration::from_secs(300);

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

/// Runs the hub thread until every sender of `rx` is gone; returns after the last write.
pub fn run(store: RelayStore, rx: Receiver<Inbound>, metrics: Arc<Metrics>, options: Options) {
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
    // The cursor first: whatever commits while the tables are read is read again from the log.
    let log = match store.log_cursor() {
        Ok(cursor) => cursor.map(LogCursor::new),
        Err(e) => {
            tracing::error!(error = %e, "cannot find where the change log starts");
            None
        }
    };
    let hub = fresh_hub(&store, &storage_id, signup_code.clone());
    let mut t = HubThread {
        hub,
        store,
        metrics,
        started: Instant::now(),
        conns: BTreeMap::new(),
        max_queued: max_queued_bytes,
        not_reading: BTreeSet::new(),
        idle_since: BTreeMap::new(),
        unload_after,
        last_purge: Instant::now(),
        addrs: BTreeMap::new(),
        max_docs_per_connection,
        max_group_members,
        redemptions,
        busy: BTreeSet::new(),
        pending_offers: BTreeMap::new(),
        storage_id,
        signup_code,
        failing: None,
        batch_bytes: 0,
        quota: None,
        unrecorded_nonces: BTreeMap::new(),
        brief_due: BTreeSet::new(),
        rosters_due: BTreeSet::new(),
        roster_pushed: HashMap::new(),
        roster_copies: HashMap::new(),
        trimmer: Default::default(),
        retention_due: true,
        last_retention: Instant::now(),
        log,
        log_due: false,
        last_prune: Instant::now(),
        audiences,
    };
    // Every group's brief is checked once at startup (written for groups from before briefs;
    // unchanged ones cost a comparison).
    match t.store.group_ids() {
        Ok(groups) => t.brief_due = groups.into_iter().collect(),
        Err(e) => tracing::error!(error = %e, "cannot list the groups to check their briefs"),
    }
    t.check_storage();
    if let Err(e) = t.build_campaign_index().and_then(|()| t.record_periods()) {
        tracing::error!(error = %e, "building the campaign index failed; it fills as plans change");
        t.storage_failed(&e);
    }
    // Ticks (retries, unloading idle documents) run on time, busy or not.
    let tick_every = Duration::from_secs(1).min(unload_after.max(Duration::from_millis(50)));
    let mut last_tick = Instant::now();
    let mut last_log = Instant::now();
    let mut evict_due = false;
    loop {
        // Awake for the tick, or sooner for a connection whose offers fall due (a new device
        // with nothing to say would otherwise wait for the tick: a canvasser's join took 1 s),
        // or for the change log's timer.
        let mut until_tick = tick_every.saturating_sub(last_tick.elapsed());
        if t.log.is_some() {
            until_tick = until_tick.min(LOG_EVERY.saturating_sub(last_log.elapsed()));
        }
        let wait = t.next_offer_in().map_or(until_tick, |d| d.min(until_tick));
        match rx.recv_timeout(wait) {
            Ok(first) => {
                t.input(first);
                // Everything already queued joins this batch, and so this group commit.
                for next in rx.try_iter().take(1024) {
                    t.input(next);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if t.log.is_some() && last_log.elapsed() >= LOG_EVERY {
            last_log = Instant::now();
            t.log_due = true;
        }
        if t.log_due {
            t.catch_up();
        }
        if last_tick.elapsed() >= tick_every {
            last_tick = Instant::now();
            let now = t.now();
            t.hub.handle_tick(now);
            t.push_rosters(now);
            t.unload_idle();
            evict_due = true;
            t.end_expired_tokens();
            t.purge();
            t.refresh_staff();
            t.check_storage();
            if t.last_retention.elapsed() >= RETENTION_EVERY {
                t.last_retention = Instant::now();
                t.retention_due = true;
            }
        }
        let driven = t.drive().and_then(|()| {
            t.enforce_limits();
            t.flush_offers();
            t.drive()
        });
        match driven {
            Err(e) => t.storage_failed(&e),
            // After the batch's commit, so a group let go is read back with all it wrote.
            Ok(()) if evict_due => t.evict_groups(),
            Ok(()) => {}
        }
        evict_due = false;
    }
    tracing::info!("hub thread stopped");
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

/// How often contacts past their groups' retention are looked for (months turn over while
/// nothing changes); a lead's new setting takes effect at once.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// What devices are told while the store takes no changes.
const FULL: &str = "the relay's storage is full, so it takes no changes now: yours are kept on \
                    this device and sent when the relay has room again";

impl HubThread {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A write failed: nothing of its batch was acknowledged (sends follow commits), but the
    /// hub's documents and access tables in memory may be ahead of the store. Every
    /// connection is closed with the reason and the hub is made afresh from the store, so
    /// memory is what is stored again; from now on changes are refused, with the reason,
    /// while reads go on, until a probe write succeeds ([`HubThread::check_storage`]).
    fn storage_failed(&mut self, e: &StoreError) {
        self.metrics
            .storage_failures
            .fetch_add(1, Ordering::Relaxed);
        let reason = if e.is_full() {
            FULL.to_owned()
        } else if e.is_unavailable() {
            format!("the relay cannot reach its database, so it takes no changes now: {e}")
        } else {
            format!("the relay's storage is failing, so it takes no changes now: {e}")
        };
        tracing::error!(error = %e, "a write to the relay's store failed; it takes no changes until one succeeds");
        self.close_all(&reason);
        self.hub = fresh_hub(&self.store, &self.storage_id, self.signup_code.clone());
        self.hub.policy_mut().set_read_only(Some(reason.clone()));
        self.metrics.set_storage_problem(Some(reason.clone()));
        self.failing = Some(reason);
    }

    /// Closes every connection with `reason` and forgets them.
    fn close_all(&mut self, reason: &str) {
        for tx in std::mem::take(&mut self.conns).into_values() {
            tx.refuse(reason);
        }
        self.not_reading.clear();
        self.metrics.connections.store(0, Ordering::Relaxed);
        self.addrs.clear();
        self.busy.clear();
        self.pending_offers.clear();
        self.idle_since.clear();
        self.metrics.documents_loaded.store(0, Ordering::Relaxed);
    }

    /// Reads the change log other nodes on this database write, from where this node was, and
    /// applies it: chunks of documents in memory reach the devices syncing them here; access
    /// records change who may read what here (a removed device is cut off at once). A read
    /// that fails because the database is unreachable stops this node taking changes, as a
    /// failed write does.
    fn catch_up(&mut self) {
        self.log_due = false;
        let Some(since) = self.log.as_ref().map(|l| l.xmin) else {
            return;
        };
        let (next, entries) = match self.store.read_log(since) {
            Ok(read) => read,
            Err(e) => {
                self.metrics.log_failures.fetch_add(1, Ordering::Relaxed);
                if e.is_unavailable() {
                    if self.failing.is_none() {
                        self.storage_failed(&e);
                    }
                } else {
                    tracing::warn!(error = %e, "reading the change log failed");
                }
                return;
            }
        };
        let now = self.now();
        for entry in entries {
            let fresh = self
                .log
                .as_mut()
                .is_some_and(|l| l.applied.insert(entry.id, entry.xid).is_none());
            if !fresh {
                continue;
            }
            self.metrics.log_applied.fetch_add(1, Ordering::Relaxed);
            if let Some((doc, hash)) = &entry.chunk
                && self.hub.doc(doc).is_some()
            {
                match self.store.chunk(doc, hash) {
                    // Another node's change: stored, so it may go to this node's devices.
                    Ok(Some(bytes)) => {
                        if let Err(e) = self.hub.handle_local_change(*doc, &bytes, now) {
                            tracing::warn!(doc = %doc, error = %e, "another node's chunk cannot be applied");
                        }
                    }
                    // Folded into a snapshot meanwhile (another node compacted the document):
                    // the stored document holds it, so what is stored is applied (what this
                    // node has already costs nothing).
                    Ok(None) => match self.store.load(doc) {
                        Ok(Some(bytes)) => {
                            if let Err(e) = self.hub.handle_local_change(*doc, &bytes, now) {
                                tracing::warn!(doc = %doc, error = %e, "a stored document cannot be applied");
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "reading a compacted document failed"),
                    },
                    Err(e) => tracing::warn!(error = %e, "reading another node's chunk failed"),
                }
            }
            if let Some(json) = &entry.record {
                match serde_json::from_str::<crate::cluster::Record>(json) {
                    Ok(record) => self.apply_record(record, now),
                    Err(e) => tracing::warn!(error = %e, "an unreadable change log record"),
                }
            }
        }
        if let Some(log) = self.log.as_mut() {
            log.applied.retain(|_, xid| *xid >= next);
            log.xmin = next;
        }
        if self.last_prune.elapsed() >= Duration::from_secs(60) {
            self.last_prune = Instant::now();
            match self.store.prune_log(LOG_LIVE_FOR) {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "change log pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning the change log failed"),
            }
        }
    }

    /// Applies what another node changed in the access tables, with what it implies here.
    fn apply_record(&mut self, record: crate::cluster::Record, now: u64) {
        use crate::cluster::Record;
        match &record {
            Record::Removed { device, .. } => {
                self.hub.policy_mut().apply_record(&record);
                // Service stops at once on every node: the device's connections here close,
                // and it is told to wipe the group when it comes back.
                for conn in self.hub.policy().conns_of(device) {
                    if let Some(tx) = self.conns.get(&conn) {
                        tx.close("removed from a group");
                    }
                    self.drop_conn(conn);
                }
            }
            Record::Document { doc, .. } | Record::Board { doc, .. } => {
                let old = match &record {
                    Record::Board { county, .. } => self.hub.policy().board(county),
                    _ => None,
                };
                self.hub.policy_mut().apply_record(&record);
                let Ok(doc) = doc.parse::<DocumentId>() else {
                    return;
                };
                if let Some(old) = old.filter(|old| *old != doc) {
                    self.hub.withdraw(&old);
                }
                for conn in self.hub.policy().readers(&doc) {
                    if !self.hub.syncing(conn, &doc) {
                        self.hub.offer(conn, doc, now);
                    }
                }
            }
            Record::Member { device, group, .. } => {
                // A group held here takes the record; one that is not is read whole (with it)
                // if the device is connected here, and otherwise waits until it is.
                if self
                    .hub
                    .policy()
                    .missing(std::slice::from_ref(group))
                    .is_empty()
                {
                    self.hub.policy_mut().apply_record(&record);
                } else if !self.hub.policy().conns_of(device).is_empty()
                    && let Err(e) = self.hold_groups(std::slice::from_ref(group))
                {
                    tracing::warn!(error = %e, "reading a group another node changed failed");
                }
                // A device connected here that joined through another node reads its group's
                // documents from now on, without connecting again.
                for conn in self.hub.policy().conns_of(device) {
                    for doc in self.hub.policy().readable(conn) {
                        if !self.hub.syncing(conn, &doc) {
                            self.hub.offer(conn, doc, now);
                        }
                    }
                }
            }
            Record::Dropped { doc } => {
                if let Ok(doc) = doc.parse::<DocumentId>() {
                    self.hub.withdraw(&doc);
                    self.idle_since.remove(&doc);
                }
                self.hub.policy_mut().apply_record(&record);
            }
            _ => self.hub.policy_mut().apply_record(&record),
        }
    }

    /// On each tick: applies the operator's quota if it changed, and while the store takes no
    /// changes, probes whether it can again (the disk has room, or the quota was raised).
    fn check_storage(&mut self) {
        match self.store.quota_mib() {
            Ok(quota) if quota != self.quota => match self.store.apply_quota(quota) {
                Ok(()) => {
                    tracing::info!(quota_mib = ?quota, "the store's quota applied");
                    self.quota = quota;
                    self.metrics.storage_quota_bytes.store(
                        quota.unwrap_or(0).saturating_mul(1024 * 1024),
                        Ordering::Relaxed,
                    );
                }
                Err(e) => tracing::warn!(error = %e, "applying the store's quota failed"),
            },
            Ok(_) => {}
            // While the database is out of reach this fails on every tick; the failure is
            // already reported (health, metrics, the error when it began).
            Err(e) if self.failing.is_some() => {
                tracing::debug!(error = %e, "reading the store's quota failed")
            }
            Err(e) => tracing::warn!(error = %e, "reading the store's quota failed"),
        }
        if self.failing.is_none() {
            return;
        }
        // Room for the batch that failed, not only for a small one: a relay that took small
        // changes and failed on that batch again at each retry would close every connection
        // each time.
        match self.store.probe_write(self.batch_bytes) {
            Ok(()) => {
                tracing::info!("the relay's store takes changes again");
                if self.log.is_some() {
                    // The tables in memory were read while the database was out of reach, and
                    // other nodes went on meanwhile: read everything again, from a new place
                    // in the change log.
                    match self.store.log_cursor() {
                        Ok(cursor) => self.log = cursor.map(LogCursor::new),
                        Err(e) => {
                            tracing::debug!(error = %e, "the database is not back yet");
                            return;
                        }
                    }
                    self.close_all("the relay is back on its database: connect again");
                    self.hub = fresh_hub(&self.store, &self.storage_id, self.signup_code.clone());
                }
                self.failing = None;
                self.hub.policy_mut().set_read_only(None);
                self.metrics.set_storage_problem(None);
                // Nonces kept in memory meanwhile are written now (best effort: they expire
                // within minutes anyway).
                let nonces: Vec<Write> = std::mem::take(&mut self.unrecorded_nonces)
                    .into_iter()
                    .map(|(n, e)| Write::Nonce(n, e))
                    .collect();
                if let Err(e) = self.store.commit(&nonces) {
                    tracing::warn!(error = %e, "recording nonces failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, "the relay's store still takes no changes"),
        }
    }

    fn input(&mut self, event: Inbound) {
        let now = self.now();
        match event {
            Inbound::Authenticate {
                proof,
                token,
                reply,
            } => {
                let answer = self.authenticate(proof, token);
                let _ = reply.send(answer);
            }
            Inbound::Open {
                conn,
                tx,
                principal,
                addr,
            } => {
                self.conns.insert(conn, tx);
                self.addrs.insert(conn, addr);
                self.metrics.connections.fetch_add(1, Ordering::Relaxed);
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
                    Some(device) => self.hold_groups_of(device),
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
                self.busy.insert(conn);
            }
            Inbound::Closed { conn } => self.drop_conn(conn),
            Inbound::LogChanged => self.log_due = true,
        }
    }

    /// Closes connections that went over their document limit in this batch, and drops those
    /// cut off for not reading.
    fn enforce_limits(&mut self) {
        for conn in std::mem::take(&mut self.not_reading) {
            self.drop_conn(conn);
        }
        for conn in std::mem::take(&mut self.busy) {
            if self.hub.docs_on(conn) > self.max_docs_per_connection {
                let reason = format!(
                    "more than {} documents on one connection",
                    self.max_docs_per_connection
                );
                self.refuse(conn, &reason);
            }
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        self.addrs.remove(&conn);
        self.pending_offers.remove(&conn);
        if self.conns.remove(&conn).is_some() {
            self.metrics.connections.fetch_sub(1, Ordering::Relaxed);
        }
        self.hub.handle_disconnect(conn);
        self.hub.policy_mut().disconnect(conn);
    }

    /// Decides who a connection request is: a device that proved its key (with a fresh
    /// nonce), a token's holder, or anonymous. Refusals say why.
    fn authenticate(
        &mut self,
        proof: Option<ConnectProof>,
        token: Option<String>,
    ) -> Result<Principal, String> {
        let now = now_ms();
        if let Some(proof) = proof {
            proof
                .verify(&self.audiences, now)
                .map_err(|e| e.to_string())?;
            let replayed = || {
                "replayed connection request: its nonce was already used; sign a new one".to_owned()
            };
            if self.unrecorded_nonces.contains_key(&proof.nonce) {
                return Err(replayed());
            }
            let expires = proof.ts + groundwork_core::identity::CONNECT_WINDOW_MS;
            // Recording the nonce is the check: of two relay nodes given the same request at
            // once, the database lets one record it.
            match self.store.use_nonce(&proof.nonce, expires) {
                Ok(true) => {}
                Ok(false) => return Err(replayed()),
                Err(e) => {
                    // A store that takes no writes may still serve reads: the nonce is
                    // checked there and remembered in memory meanwhile, so a replay is
                    // refused all the same.
                    let seen = self.store.nonce_seen(&proof.nonce).map_err(|e| {
                        tracing::error!(error = %e, "nonce lookup failed");
                        "relay storage failure".to_owned()
                    })?;
                    if seen {
                        return Err(replayed());
                    }
                    tracing::warn!(error = %e, "a connection nonce is kept in memory: the store takes no writes");
                    self.unrecorded_nonces.insert(proof.nonce.clone(), expires);
                    if self.failing.is_none() {
                        self.storage_failed(&e);
                    }
                }
            }
            return Ok(Principal::Device(proof.device));
        }
        if let Some(token) = token {
            let found = self.store.token(&token_hash(&token), now).map_err(|e| {
                tracing::error!(error = %e, "token lookup failed");
                "relay storage failure".to_owned()
            })?;
            let Some((device, group, expires_at)) = found else {
                return Err("unknown or expired token".into());
            };
            self.hold_groups(std::slice::from_ref(&group))
                .map_err(|e| {
                    tracing::error!(error = %e, "reading a token's group failed");
                    "relay storage failure".to_owned()
                })?;
            if self.hub.policy().role(&group, &device).is_none() {
                return Err("the token's device is no longer in its group".into());
            }
            return Ok(Principal::Token {
                device,
                group,
                expires_at,
            });
        }
        Ok(Principal::Anonymous)
    }

    /// A token's session ends with the token (within a tick of its expiry), as a device's ends
    /// with its removal: a token is a session's whole lifetime, not just its opening.
    fn end_expired_tokens(&mut self) {
        for conn in self.hub.policy().expired_token_conns(now_ms()) {
            if let Some(tx) = self.conns.get(&conn) {
                tx.close("the token expired: mint a new one");
            }
            self.drop_conn(conn);
        }
    }

    fn purge(&mut self) {
        if self.last_purge.elapsed() < Duration::from_secs(60) {
            return;
        }
        self.last_purge = Instant::now();
        let now = now_ms();
        self.unrecorded_nonces.retain(|_, expires| *expires >= now);
        if let Err(e) = self.store.purge_expired(now_ms()) {
            tracing::warn!(error = %e, "purging expired nonces and tokens failed");
        }
    }

    /// Reads the staff table again (the operator's `staff add|remove` writes it while the relay
    /// runs). New staff connected now are offered every board; a revoked one's connections
    /// close, so that its next sync drops the boards it may no longer read.
    fn refresh_staff(&mut self) {
        let staff = match self.store.staff() {
            Ok(s) => s.into_iter().collect::<std::collections::HashSet<_>>(),
            Err(e) => {
                if self.failing.is_none() {
                    tracing::warn!(error = %e, "reading campaign staff failed");
                }
                return;
            }
        };
        let added: Vec<String> = staff
            .iter()
            .filter(|d| !self.hub.policy().is_staff(d))
            .cloned()
            .collect();
        let revoked = self.hub.policy_mut().set_staff(staff);
        for device in revoked {
            tracing::info!("a campaign staff role was revoked; closing its connections");
            for conn in self.hub.policy().conns_of(&device) {
                self.refuse(conn, "the campaign staff role of this device was revoked");
            }
        }
        for device in added {
            self.offer_readable_boards(&device);
        }
    }

    /// Offers the boards `device` may read, on each of its connections, that it is not
    /// syncing yet (after it followed a county, or became staff).
    fn offer_readable_boards(&mut self, device: &str) {
        let now = self.now();
        for conn in self.hub.policy().conns_of(device) {
            for doc in self.hub.policy().readable(conn) {
                if self.hub.policy().is_board(&doc) && !self.hub.syncing(conn, &doc) {
                    if !self.hub.doc_ids().any(|d| *d == doc) {
                        self.load_into_hub(doc);
                    }
                    self.hub.offer(conn, doc, now);
                }
            }
        }
    }

    /// Runs effects until there are none: first every write of the batch in one transaction,
    /// then everything else, in order.
    fn drive(&mut self) -> Result<(), StoreError> {
        loop {
            let mut effects: Vec<Effect> = std::iter::from_fn(|| self.hub.poll_effect()).collect();
            let (mut writes, new_groups) = self.hub.policy_mut().take_pending();
            if effects.is_empty()
                && writes.is_empty()
                && self.brief_due.is_empty()
                && !self.retention_due
            {
                break;
            }
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
            changed.retain(|(doc, changes)| !self.notes_only(doc, changes));
            // The campaign index changes in the same transaction as the changes it reflects.
            let (campaign, counties) = self.campaign_writes(&changed, &writes)?;
            writes.extend(campaign);
            // The changes' work is done: only which documents changed is needed below.
            let changed: Vec<DocumentId> = changed.into_iter().map(|(doc, _)| doc).collect();
            let mut rosters = Vec::new();
            for group in &new_groups {
                if let Some((roster, change)) = self.roster_change(group, None)? {
                    writes.push(Write::Chunk(roster, change.clone()));
                    rosters.push((roster, change));
                    for conn in self.hub.policy().readers(&roster) {
                        offers.push((conn, roster));
                    }
                }
            }
            let start = Instant::now();
            if !writes.is_empty() {
                self.batch_bytes = writes
                    .iter()
                    .map(|w| match w {
                        Write::Chunk(_, bytes) => bytes.len() as u64,
                        _ => 64,
                    })
                    .sum();
                self.store.commit(&writes)?;
                self.metrics.persist_batches.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .persist_micros
                    .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            // Boards read the index as just committed, and go in a transaction of their own;
            // so do the briefs of groups whose plans changed.
            let (board_changes, board_offers) = self.write_boards(&counties)?;
            offers.extend(board_offers);
            for doc in &changed {
                if let Some((group, groundwork_core::schema::DocKind::Plan)) =
                    self.hub.policy().doc_kind(doc)
                {
                    self.brief_due.insert(group.to_owned());
                }
            }
            offers.extend(self.write_briefs()?);
            if self.retention_due {
                self.retention_due = false;
                self.enforce_retention()?;
            }
            rosters.extend(board_changes);
            let now = self.now();
            // Documents offered in this batch go out before the batch's own answers, so a
            // device learns of a group's new documents before it sees its own exchange settle.
            // Only exchanges that are new: a message of one already under way must not pass
            // the answers queued before it.
            // Not to a connection whose join this batch answered: its `peer` answer is among
            // the effects below, and a document message before it would make the device drop
            // the connection (automerge-repo's handshake order; found by the chaos test). It is
            // offered everything it may read once its handshake is done (`flush_offers`).
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
            // The relay's own changes (rosters, boards) go to the documents' peers after
            // everything this batch queued before them: a sync message generated earlier (its
            // heads from before the change) must not arrive after the change's, or the peer
            // keeps the older heads as the relay's and waits for ever (a board stayed
            // "pending" so in about one campaign test run in ten). Their sends run on the
            // next turn of this loop. A new group's roster goes to its lead at once.
            for (doc, change) in rosters {
                if self.hub.doc(&doc).is_some()
                    && let Err(e) = self.hub.handle_local_change(doc, &change, now)
                {
                    tracing::error!(error = %e, "applying a roster change failed");
                }
            }
        }
        let loaded = self.hub.doc_ids().count() as u64;
        self.metrics
            .documents_loaded
            .store(loaded, Ordering::Relaxed);
        self.metrics
            .sync_messages_reused
            .store(self.hub.sync_messages_reused(), Ordering::Relaxed);
        Ok(())
    }

    /// Runs one effect that is not a write (writes were committed before).
    fn execute(&mut self, effect: Effect, now: u64) -> Result<(), StoreError> {
        match effect {
            Effect::Send { conn, frame } => {
                if let Some(tx) = self.conns.get(&conn) {
                    self.metrics.messages_out.fetch_add(1, Ordering::Relaxed);
                    self.metrics
                        .bytes_out
                        .fetch_add(frame.len() as u64, Ordering::Relaxed);
                    if tx.frame(frame) > self.max_queued && self.not_reading.insert(conn) {
                        tracing::warn!(conn, "cutting off a connection that does not read");
                        self.metrics.slow_peers_cut.fetch_add(1, Ordering::Relaxed);
                        tx.cut();
                    }
                }
            }
            Effect::Close { conn, reason } => {
                self.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(tx) = self.conns.get(&conn) {
                    tx.close(&reason);
                }
            }
            Effect::Load { doc } => {
                let bytes = self.store.load(&doc)?;
                self.hub.handle_loaded(doc, bytes.as_deref(), now);
            }
            Effect::PeerReady { conn, peer } => self.peer_ready(conn, &peer, now),
            Effect::Control { conn, body } => self.control(conn, &body, now)?,
            _ => {}
        }
        Ok(())
    }

    /// After the handshake: a device must use its own key as its peer id; it is told to wipe
    /// groups it was removed from, and offered every document it may read.
    fn peer_ready(&mut self, conn: ConnId, peer: &str, now: u64) {
        let principal = self.hub.policy().principal(conn).cloned();
        if let Some(Principal::Device(device)) = &principal {
            // A device's peer id is its id, or its id and a session (`DEVICE.SESSION`).
            let own = peer == device
                || peer
                    .strip_prefix(device.as_str())
                    .is_some_and(|rest| rest.starts_with('.'));
            if !own {
                self.refuse(
                    conn,
                    "the join message's peer id is not the device that signed the connection",
                );
                return;
            }
            self.hub.send_control(
                conn,
                Control::Addresses {
                    urls: self.audiences.clone(),
                }
                .to_json(),
            );
            for group in self.hub.policy().wipes_owed(device) {
                self.hub
                    .send_control(conn, Control::Wipe { group }.to_json());
            }
        }
        // Offered once the peer has said what it has (see `flush_offers`).
        self.pending_offers.insert(conn, (now + OFFER_WAIT_MS, 0));
    }

    /// Offers each connection that finished its handshake the documents it may read, once its
    /// opening burst of document messages is over (a batch added none), or after
    /// `OFFER_WAIT_MS` if it sends none. A device opens every document it has at once;
    /// offering those too would cross its messages and cost their exchanges an extra round
    /// trip, so only the others are offered.
    /// How long until the first connection waiting for its offers is due them.
    fn next_offer_in(&self) -> Option<Duration> {
        let now = self.now();
        self.pending_offers
            .values()
            .map(|(due, _)| Duration::from_millis(due.saturating_sub(now)))
            .min()
    }

    fn flush_offers(&mut self) {
        let now = self.now();
        let mut ready = Vec::new();
        for (conn, (due, seen)) in self.pending_offers.iter_mut() {
            let count = self.hub.docs_on(*conn);
            if (count > 0 && count == *seen) || *due <= now {
                ready.push(*conn);
            }
            *seen = count;
        }
        for conn in ready {
            self.pending_offers.remove(&conn);
            for doc in self.hub.policy().readable(conn) {
                // Loaded first, so that its first sync message goes out before `Offered`
                // (a document still loading would answer after it, and a device would stop
                // waiting before it arrived).
                if !self.hub.doc_ids().any(|d| *d == doc) {
                    self.load_into_hub(doc);
                }
                if !self.hub.syncing(conn, &doc) {
                    self.hub.offer(conn, doc, now);
                }
            }
            if matches!(
                self.hub.policy().principal(conn),
                Some(Principal::Device(_))
            ) {
                self.hub.send_control(conn, Control::Offered.to_json());
            }
        }
    }

    /// Puts a stored document into the hub now (a failure leaves it to the hub's own load).
    fn load_into_hub(&mut self, doc: DocumentId) {
        let mut am = groundwork_core::schema::new_doc();
        match self.store.load(&doc) {
            Ok(Some(bytes))
                if groundwork_core::schema::guarded(|| am.load_incremental(&bytes)).is_ok() =>
            {
                self.hub.insert_doc(doc, am)
            }
            Ok(None) => {}
            _ => tracing::warn!(doc = %doc, "a stored document cannot be loaded to offer it"),
        }
    }

    fn refuse(&mut self, conn: ConnId, reason: &str) {
        tracing::warn!(conn, %reason, "refusing a connection");
        if let Some(tx) = self.conns.get(&conn) {
            tx.refuse(reason);
        }
        self.drop_conn(conn);
    }

    /// A control message from a device.
    fn control(&mut self, conn: ConnId, body: &str, now: u64) -> Result<(), StoreError> {
        if !self.conns.contains_key(&conn) {
            // Sent before its connection was dropped (a removal closes the device's
            // connections at once): nobody is left to answer or refuse.
            tracing::debug!(
                conn,
                "a control message from a closed connection was dropped"
            );
            return Ok(());
        }
        let device = match self.hub.policy().principal(conn) {
            Some(Principal::Device(d)) => d.clone(),
            _ => {
                self.refuse(conn, "control messages need a device's signed connection");
                return Ok(());
            }
        };
        let message = match Control::from_json(body) {
            Ok(m) => m,
            Err(e) => {
                self.refuse(conn, &e.to_string());
                return Ok(());
            }
        };
        match message {
            Control::Request { id, request }
                if self.failing.is_some()
                    && !matches!(
                        request,
                        Request::CampaignOfficials { .. } | Request::CampaignOfficial { .. }
                    ) =>
            {
                // Every other request writes: refused with the reason, the connection kept.
                let error = self.failing.clone();
                self.hub.send_control(
                    conn,
                    Control::Response {
                        id,
                        ok: None,
                        error,
                    }
                    .to_json(),
                );
            }
            Control::Wiped { .. } if self.failing.is_some() => {
                // Not recorded now: the device is told to wipe again, harmlessly, next time.
            }
            Control::Request { id, request } => {
                let limited = matches!(request, Request::Redeem { .. })
                    && self
                        .addrs
                        .get(&conn)
                        .is_some_and(|addr| !self.redemptions.allow(*addr));
                let result = if limited {
                    Ok(Err(
                        "too many invite redemptions from this address; wait a minute".into(),
                    ))
                } else {
                    self.request(&device, request, now)
                }?;
                let (ok, error) = match result {
                    Ok(answer) => (Some(answer), None),
                    Err(reason) => {
                        tracing::info!(%reason, "refused a request");
                        (None, Some(reason))
                    }
                };
                self.hub
                    .send_control(conn, Control::Response { id, ok, error }.to_json());
            }
            Control::Wiped { group } => {
                if let Some(w) = self.hub.policy_mut().wiped(&group, &device) {
                    self.store.commit(&[w])?;
                    tracing::info!("a removed device confirmed its wipe");
                }
            }
            Control::Response { .. }
            | Control::Wipe { .. }
            | Control::Addresses { .. }
            | Control::Offered => {
                self.refuse(conn, "that control message goes from the relay to devices");
            }
        }
        Ok(())
    }

    /// Carries out a device's request; `Err` is the refusal to send back.
    fn request(
        &mut self,
        device: &str,
        request: Request,
        now: u64,
    ) -> Result<Result<Answer, String>, StoreError> {
        Ok(match request {
            Request::SignUp { code } => match self.hub.policy().signup_code() {
                None => Ok(Answer::Done),
                Some(expected) if expected == code => {
                    let w = self.hub.policy_mut().add_creator(device);
                    self.store.commit(&[w])?;
                    Ok(Answer::Done)
                }
                Some(_) => Err("wrong sign-up code".into()),
            },
            Request::Redeem { invite, name } => self.redeem(device, &invite, &name, now)?,
            Request::CampaignOfficials { filter } => {
                if !self
                    .store
                    .campaign(|c| crate::campaign::is_staff(c, device))?
                {
                    return Ok(Err(NOT_STAFF.into()));
                }
                let officials = self
                    .store
                    .campaign(|c| crate::campaign::officials(c, &filter))?;
                Ok(Answer::Officials { officials })
            }
            Request::CampaignOfficial { key } => {
                if !self
                    .store
                    .campaign(|c| crate::campaign::is_staff(c, device))?
                {
                    return Ok(Err(NOT_STAFF.into()));
                }
                match self
                    .store
                    .campaign(|c| crate::campaign::official(c, &key))?
                {
                    Some(detail) => Ok(Answer::Official {
                        detail: Box::new(detail),
                    }),
                    None => Err(format!("no sharing group asks an official {key:?}")),
                }
            }
            Request::DashboardLink => {
                if !self.hub.policy().is_staff(device)
                    && !self
                        .store
                        .campaign(|c| crate::campaign::is_staff(c, device))?
                {
                    return Ok(Err(NOT_STAFF.into()));
                }
                match self
                    .store
                    .campaign(|c| crate::web::session::create_link(c, device, now_ms()))?
                {
                    Some((code, expires_at)) => Ok(Answer::DashboardLink { code, expires_at }),
                    None => Err("the relay has no randomness".into()),
                }
            }
            Request::FollowBoard { county, follow } => {
                if let Err(e) = groundwork_core::places::county(&county) {
                    return Ok(Err(e.to_string()));
                }
                if let Err(reason) = self.hub.policy().may_follow(device) {
                    return Ok(Err(reason));
                }
                let w = self.hub.policy_mut().follow(device, &county, follow);
                self.store.commit(&[w])?;
                if follow {
                    self.offer_readable_boards(device);
                }
                Ok(Answer::Following {
                    counties: self.hub.policy().followed(device),
                })
            }
            Request::RemoveMember {
                group,
                device: target,
            } => self.remove(device, &group, &target)?,
            Request::MintToken { group, ttl_secs } => {
                if self.hub.policy().role(&group, device).is_none() {
                    return Ok(Err(format!(
                        "cannot mint a token for group {group}: this device is not a member"
                    )));
                }
                let ttl_ms = (ttl_secs.clamp(1, MAX_TOKEN_SECS) * 1000) as i64;
                let mut bytes = [0u8; 32];
                if getrandom::fill(&mut bytes).is_err() {
                    return Ok(Err("the relay has no randomness".into()));
                }
                let token = bs58::encode(bytes).into_string();
                let expires_at = now_ms() + ttl_ms;
                self.store.commit(&[Write::Token {
                    hash: token_hash(&token),
                    device: device.to_owned(),
                    group,
                    expires_at,
                }])?;
                Ok(Answer::Token { token, expires_at })
            }
        })
    }

    fn redeem(
        &mut self,
        device: &str,
        code: &str,
        name: &str,
        now: u64,
    ) -> Result<Result<Answer, String>, StoreError> {
        let invite = match Invite::verify_code(code) {
            Ok(i) => i,
            Err(e) => return Ok(Err(format!("invite refused: {e}"))),
        };
        self.hold_groups(std::slice::from_ref(&invite.group))?;
        let policy = self.hub.policy();
        if !policy.group_exists(&invite.group) {
            return Ok(Err("invite refused: its group is not on this relay".into()));
        }
        if let Some(role) = policy.role(&invite.group, device) {
            // Already in: nothing to use up.
            return Ok(Ok(Answer::Joined {
                group: invite.group,
                role,
            }));
        }
        if now_ms() > invite.expires_at {
            return Ok(Err(format!(
                "invite refused: it expired at {}",
                groundwork_core::time::format_rfc3339(invite.expires_at)
            )));
        }
        // The caps devices apply when they sign (an invite from before them, or from a device
        // that skips them, meets them here).
        let lifetime = invite.expires_at - invite.issued_at.unwrap_or_else(now_ms);
        if lifetime > groundwork_core::identity::MAX_INVITE_LIFETIME_MS {
            return Ok(Err(format!(
                "invite refused: it stays valid for more than the {} days an invite may; a lead \
                 can make a new one",
                groundwork_core::identity::MAX_INVITE_LIFETIME_MS / 86_400_000
            )));
        }
        if invite.uses > groundwork_core::identity::MAX_INVITE_USES {
            return Ok(Err(format!(
                "invite refused: it allows {} uses, more than the {} an invite may; a lead can \
                 make a new one",
                invite.uses,
                groundwork_core::identity::MAX_INVITE_USES
            )));
        }
        // A removal revokes every invite made before it: the removed device comes back only
        // through a lead's new invite. (An invite from before invites said when they were
        // made counts as made before.)
        if let Some(removed_at) = policy
            .roster_entry(&invite.group, device)
            .and_then(|m| m.removed_at)
            && invite.issued_at.is_none_or(|t| t <= removed_at)
        {
            return Ok(Err(format!(
                "invite refused: this device was removed from the group at {}, after the invite \
                 was made; a lead can re-admit it with a new invite",
                groundwork_core::time::format_rfc3339(removed_at)
            )));
        }
        let issuer_role = policy.role(&invite.group, &invite.issuer);
        // A lead invites anyone; a member invites only another device of their own, at their
        // own role.
        let person = if invite.same_person {
            if issuer_role != Some(invite.role) {
                return Ok(Err(
                    "invite refused: an own-device invite must carry its issuer's current role"
                        .into(),
                ));
            }
            policy
                .person(&invite.group, &invite.issuer)
                .unwrap_or_else(|| invite.issuer.clone())
        } else {
            if issuer_role != Some(Role::Lead) {
                return Ok(Err(
                    "invite refused: its issuer is not a lead of the group (any more)".into(),
                ));
            }
            device.to_owned()
        };
        let members = policy.members_of(&invite.group).len();
        if members >= self.max_group_members {
            return Ok(Err(format!(
                "invite refused: the group has {members} member devices, the most a group may \
                 have on this relay; a lead can remove devices no longer used"
            )));
        }
        // Taking a use is the check: of two relay nodes redeeming the last use at once, the
        // database gives it to one. (Taken before the member is written: a failure between
        // the two spends a use, never grants one too many.)
        if !self.store.take_invite_use(&invite.id, invite.uses)? {
            let used = self.store.invite_uses(&invite.id)?;
            return Ok(Err(format!(
                "invite refused: it was already used {used} of {} times",
                invite.uses
            )));
        }
        let name = name.trim();
        let name = if name.is_empty() { "(unnamed)" } else { name };
        let member =
            self.hub
                .policy_mut()
                .add_member(&invite.group, device, invite.role, name, &person);
        let mut writes = vec![member];
        let roster = self.roster_change(&invite.group, Some(device))?;
        if let Some((doc, change)) = &roster {
            writes.push(Write::Chunk(*doc, change.clone()));
        }
        self.store.commit(&writes)?;
        self.apply_rosters(roster.into_iter().collect());
        // The brief names the group's leads and no other member.
        if invite.role == Role::Lead {
            self.brief_due.insert(invite.group.clone());
        }
        tracing::info!(role = %invite.role, "a device joined a group");
        for conn in self.hub.policy().conns_of(device) {
            for doc in self.hub.policy().readable(conn) {
                self.hub.offer(conn, doc, now);
            }
        }
        Ok(Ok(Answer::Joined {
            group: invite.group,
            role: invite.role,
        }))
    }

    fn remove(
        &mut self,
        requester: &str,
        group: &str,
        target: &str,
    ) -> Result<Result<Answer, String>, StoreError> {
        let policy = self.hub.policy();
        match policy.role(group, requester) {
            Some(Role::Lead) => {}
            // Anyone may report their own other device lost.
            Some(_) if policy.same_person(group, requester, target) => {}
            Some(role) => {
                return Ok(Err(format!(
                    "only a lead can remove members (or report their own device lost); \
                     this device is a {role} in the group"
                )));
            }
            None => return Ok(Err("this device is not a member of the group".into())),
        }
        if policy.role(group, target).is_none() {
            return Ok(Err(format!("device {target} is not a member of the group")));
        }
        let removed = self.hub.policy_mut().remove_member(group, target);
        let mut writes = vec![removed];
        let roster = self.roster_change(group, Some(target))?;
        if let Some((doc, change)) = &roster {
            writes.push(Write::Chunk(*doc, change.clone()));
        }
        self.store.commit(&writes)?;
        self.apply_rosters(roster.into_iter().collect());
        self.brief_due.insert(group.to_owned());
        tracing::info!("a device was removed from a group");
        // Service stops at once: the device's connections are dropped. When it comes back it
        // is told to wipe the group.
        for conn in self.hub.policy().conns_of(target) {
            if let Some(tx) = self.conns.get(&conn) {
                tx.close("removed from a group");
            }
            self.drop_conn(conn);
        }
        Ok(Ok(Answer::Done))
    }

    /// The change that brings a group's roster document up to date with the tables.
    fn roster_change(
        &mut self,
        group: &str,
        device: Option<&str>,
    ) -> Result<Option<(DocumentId, Vec<u8>)>, StoreError> {
        self.hold_groups(&[group.to_owned()])?;
        let Some(doc_id) = self.hub.policy().roster_doc(group) else {
            return Ok(None);
        };
        // The change is written on the relay's working copy of the roster: the hub's own takes
        // it only once it is stored. The copy is kept while its heads are the hub's, so a join
        // to a large group no longer copies the whole roster document (only another node's
        // change, or a failed commit, makes it copy again).
        let hub_heads = self.hub.heads(&doc_id);
        let current = match (self.roster_copies.get_mut(&doc_id), &hub_heads) {
            (Some(copy), Some(heads)) => copy.get_heads() == *heads,
            _ => false,
        };
        if !current {
            let copy = match self.hub.doc(&doc_id) {
                Some(d) => d.clone(),
                None => {
                    let mut d = groundwork_core::schema::new_doc();
                    if let Some(bytes) = self.store.load(&doc_id)?
                        && let Err(e) =
                            groundwork_core::schema::guarded(|| d.load_incremental(&bytes))
                    {
                        tracing::error!(error = %e, "a stored roster cannot be loaded");
                        return Ok(None);
                    }
                    d
                }
            };
            self.roster_copies.insert(doc_id, Box::new(copy));
        }
        let Some(doc) = self.roster_copies.get_mut(&doc_id) else {
            return Ok(None);
        };
        let policy = self.hub.policy();
        let id = doc_id.to_string();
        // A join or a removal writes that device's entry alone: rewriting the whole roster made
        // each join cost in proportion to the group (500 members: 13x the 10th's).
        let entry = device
            .filter(|_| Roster::has_members(doc))
            .and_then(|d| Some((d, policy.roster_entry(group, d)?)));
        let written = match entry {
            Some((device, entry)) => Roster::write_entry(doc, &id, device, &entry, now_ms()),
            None => match policy.roster(group) {
                Some(roster) => roster.write(doc, &id, now_ms()),
                None => return Ok(None),
            },
        };
        // A small roster costs little to copy again: only a large one's copy is kept (a burst
        // of new groups would otherwise hold a copy of each until its roster unloads).
        if policy.roster_len(group) < ROSTER_COPY_KEPT_FROM {
            self.roster_copies.remove(&doc_id);
        }
        match written {
            Ok(change) => Ok(change.map(|c| (doc_id, c))),
            Err(e) => {
                // What the failed write left in the copy is not the hub's: copy again.
                self.roster_copies.remove(&doc_id);
                tracing::error!(error = %e, "writing a roster failed");
                Ok(None)
            }
        }
    }

    /// Whether `changes` to `doc` are a plan's and wrote only its meetings' notes (see
    /// [`groundwork_core::campaign::only_meeting_notes`]).
    fn notes_only(&self, doc: &DocumentId, changes: &[automerge::Change]) -> bool {
        matches!(
            self.hub.policy().doc_kind(doc),
            Some((_, groundwork_core::schema::DocKind::Plan))
        ) && self
            .hub
            .doc(doc)
            .is_some_and(|am| groundwork_core::campaign::only_meeting_notes(am, changes))
    }

    /// What the campaign index must write for the documents this batch changed: a plan's
    /// group's shared rows (replaced, or deleted when it stopped sharing) and the contacts a
    /// change logged, for groups that share. A group that starts sharing has every contacts
    /// document counted.
    fn campaign_writes(
        &mut self,
        changed: &[(DocumentId, Vec<automerge::Change>)],
        pending: &[Write],
    ) -> Result<(Vec<Write>, BTreeSet<String>), StoreError> {
        use groundwork_core::campaign::{Shared, touched_contacts};
        use groundwork_core::schema::DocKind;
        let now = now_ms();
        let mut out = Vec::new();
        // Counties whose boards this batch changes: where a group's officials were or are.
        let mut counties = BTreeSet::new();
        // Groups whose sharing this batch decided, and whether they were counted whole.
        let mut sharing: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for (doc, _) in changed {
            let Some((group, DocKind::Plan)) = self.hub.policy().doc_kind(doc) else {
                continue;
            };
            let group = group.to_owned();
            if sharing.contains_key(&group) {
                continue;
            }
            let am = self.current(doc, pending)?;
            // A plan the index cannot read shares nothing until it can (fail closed). The
            // reason stays out of the log: it may quote what the group wrote.
            let shared = match am.as_deref().map(|am| Shared::of_doc(am, &group)) {
                Some(Ok(shared)) => shared,
                _ => {
                    tracing::warn!(doc = %doc, "a plan the campaign index cannot read: it shares nothing until it can");
                    None
                }
            };
            let was = self
                .store
                .campaign(|c| crate::campaign::shares(c, &group))?;
            let counted = shared.is_some() && !was;
            if counted {
                for contacts in self.hub.policy().group_docs(&group, DocKind::Contacts) {
                    out.extend(self.canvass_all(&contacts, &group)?);
                }
            }
            sharing.insert(group.clone(), (shared.is_some(), counted));
            let before = self
                .store
                .campaign(|c| crate::campaign::counties_of(c, &group))?;
            let after: BTreeSet<String> = shared
                .iter()
                .flat_map(|s| s.officials.iter().map(|o| o.county.clone()))
                .collect();
            counties.extend(before);
            counties.extend(after.iter().cloned());
            self.hub.policy_mut().set_group_counties(&group, after);
            out.push(Write::Campaign {
                group,
                shared: shared.map(Box::new),
                at: now,
            });
        }
        for (doc, changes) in changed {
            let Some((group, DocKind::Contacts)) = self.hub.policy().doc_kind(doc) else {
                continue;
            };
            let group = group.to_owned();
            let shares = match sharing.get(&group) {
                Some((_, true)) => continue,
                Some((shares, false)) => *shares,
                None => self
                    .store
                    .campaign(|c| crate::campaign::shares(c, &group))?,
            };
            if !shares {
                continue;
            }
            let Some(am) = self.current(doc, pending)? else {
                continue;
            };
            let contacts = touched_contacts(&am, changes);
            if contacts.is_empty() {
                continue;
            }
            out.push(Write::Canvass {
                doc: *doc,
                period: period_of_contacts(&am),
                group,
                contacts,
            });
        }
        Ok((out, counties))
    }

    /// Rewrites the boards of `counties` from the index: a change to each board that only
    /// gained or changed entries, or a fresh document (new id; the old one dropped, chunks and
    /// all) for a board a group has left. Returns the changes to boards in memory and the
    /// boards to offer to their readers.
    #[allow(clippy::type_complexity)]
    fn write_boards(
        &mut self,
        counties: &BTreeSet<String>,
    ) -> Result<(Vec<(DocumentId, Vec<u8>)>, Vec<(ConnId, DocumentId)>), StoreError> {
        use groundwork_core::schema::board::Board;
        let now = now_ms();
        let mut writes = Vec::new();
        let mut changes = Vec::new();
        let mut offers = Vec::new();
        for county in counties {
            let board = self.store.campaign(|c| crate::campaign::board(c, county))?;
            let existing = self.hub.policy().board(county);
            let mut fresh = existing.is_none();
            let mut doc = groundwork_core::schema::new_doc();
            if let Some(id) = existing {
                match self.current(&id, &[])? {
                    Some(am) => doc = am.into_owned(),
                    None => fresh = true,
                }
                let old = Board::read(&doc, &id.to_string()).ok();
                let left = old.is_none_or(|old| {
                    let now = board.groups();
                    old.groups().iter().any(|g| !now.contains(g))
                });
                if left {
                    fresh = true;
                }
            }
            if fresh {
                if board.officials.is_empty() && existing.is_none() {
                    continue;
                }
                let Ok(id) = DocumentId::random() else {
                    continue;
                };
                let mut new_doc = groundwork_core::schema::new_doc();
                let change = match board.write(&mut new_doc, &id.to_string(), now) {
                    Ok(Some(change)) => change,
                    _ => continue,
                };
                writes.push(Write::Document {
                    doc: id,
                    group: county.clone(),
                    kind: "board".into(),
                    owner: None,
                });
                writes.push(Write::Chunk(id, change));
                writes.push(Write::Board {
                    county: county.clone(),
                    doc: id,
                    at: now,
                });
                if let Some(old) = existing {
                    writes.push(Write::DropDocument(old));
                    self.hub.withdraw(&old);
                }
                self.hub.policy_mut().set_board(county, id);
                for conn in self.hub.policy().readers(&id) {
                    offers.push((conn, id));
                }
            } else if let Some(id) = existing {
                match board.write(&mut doc, &id.to_string(), now) {
                    Ok(Some(change)) => {
                        writes.push(Write::Chunk(id, change.clone()));
                        changes.push((id, change));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "writing a board failed"),
                }
                // Readers who joined the county since get it too.
                for conn in self.hub.policy().readers(&id) {
                    if !self.hub.syncing(conn, &id) {
                        offers.push((conn, id));
                    }
                }
            }
        }
        if !writes.is_empty() {
            self.store.commit(&writes)?;
        }
        Ok((changes, offers))
    }

    /// Writes the canvassers' brief of every group in `brief_due` whose brief no longer says
    /// what its plan and members do: always as a fresh document, the old one dropped and
    /// withdrawn, so a canvasser's phone never holds what was taken out of it. Returns the
    /// offers of the new briefs to the canvassers connected.
    fn write_briefs(&mut self) -> Result<Vec<(ConnId, DocumentId)>, StoreError> {
        use groundwork_core::schema::DocKind;
        use groundwork_core::schema::brief::Brief;
        use groundwork_core::schema::plan::Plan;
        let now = now_ms();
        let mut writes = Vec::new();
        let mut offers = Vec::new();
        for group in std::mem::take(&mut self.brief_due) {
            let Ok(plan_doc) = group.parse::<DocumentId>() else {
                continue;
            };
            self.hold_groups(std::slice::from_ref(&group))?;
            let Some(am) = self.current(&plan_doc, &[])? else {
                continue;
            };
            // A plan the relay cannot read briefs no one until it can (fail closed); the
            // reason stays out of the log, as it may quote what the group wrote.
            let Ok(plan) = groundwork_core::schema::hydrate::<Plan>(&am, &group, DocKind::Plan)
            else {
                tracing::warn!(doc = %plan_doc, "a plan the relay cannot read: its canvassers' brief waits");
                continue;
            };
            if self
                .hub
                .policy_mut()
                .set_retention(&group, plan.profile.retention_months)
            {
                self.retention_due = true;
            }
            let brief = Brief::of(&plan, self.hub.policy().members_of(&group));
            let old = self
                .hub
                .policy()
                .group_docs(&group, DocKind::Brief)
                .into_iter()
                .next();
            if let Some(old) = old {
                let same = self
                    .current(&old, &[])?
                    .and_then(|doc| Brief::read(&doc, &old.to_string()).ok())
                    .is_some_and(|b| b == brief);
                if same {
                    continue;
                }
            }
            let Ok(id) = DocumentId::random() else {
                continue;
            };
            let change = match brief.write_new(&id.to_string(), now) {
                Ok(change) => change,
                Err(e) => {
                    tracing::error!(error = %e, "writing a brief failed");
                    continue;
                }
            };
            writes.push(Write::Document {
                doc: id,
                group: group.clone(),
                kind: DocKind::Brief.as_str().into(),
                owner: None,
            });
            writes.push(Write::Chunk(id, change));
            if let Some(old) = old {
                writes.push(Write::DropDocument(old));
                self.hub.withdraw(&old);
            }
            self.hub.policy_mut().set_brief(&group, id, old);
            for conn in self.hub.policy().readers(&id) {
                offers.push((conn, id));
            }
        }
        if !writes.is_empty() {
            self.store.commit(&writes)?;
        }
        Ok(offers)
    }

    /// Erases every contacts document past its group's retention: chunks, record and campaign
    /// counts in one transaction, withdrawn from the devices syncing it, then the files
    /// compacted so their bytes leave the disk. Devices erase their copies by the same rule.
    fn enforce_retention(&mut self) -> Result<(), StoreError> {
        let groups = self.hub.policy().retention_groups();
        self.hold_groups(&groups)?;
        let expired = self.hub.policy().expired_contacts();
        if expired.is_empty() {
            return Ok(());
        }
        let writes: Vec<Write> = expired.iter().map(|d| Write::DropDocument(*d)).collect();
        self.store.commit(&writes)?;
        for doc in &expired {
            self.hub.withdraw(doc);
            self.hub.policy_mut().forget_doc(doc);
            self.idle_since.remove(doc);
        }
        self.store.compact_files()?;
        tracing::info!(
            documents = expired.len(),
            "contacts past their group's retention erased"
        );
        Ok(())
    }

    /// Once, on a relay from before contacts' periods were recorded: reads each one's period.
    fn record_periods(&mut self) -> Result<(), StoreError> {
        let docs = self.store.contacts_without_period()?;
        let mut writes = Vec::new();
        for doc in docs {
            if let Some(am) = self.current(&doc, &[])? {
                let period = period_of_contacts(&am);
                if !period.is_empty() {
                    self.hub.policy_mut().set_period(&doc, &period);
                    writes.push(Write::Period { doc, period });
                }
            }
        }
        if !writes.is_empty() {
            tracing::info!(
                documents = writes.len(),
                "recorded the periods of stored contacts"
            );
        }
        self.store.commit(&writes)
    }

    /// A document as it is with this batch's changes: the hub's copy, or (when a refusal sent
    /// it back to storage) the stored one with the batch's pending chunks applied.
    fn current(
        &self,
        doc: &DocumentId,
        pending: &[Write],
    ) -> Result<Option<std::borrow::Cow<'_, automerge::AutoCommit>>, StoreError> {
        if let Some(am) = self.hub.doc(doc) {
            return Ok(Some(std::borrow::Cow::Borrowed(am)));
        }
        let mut am = groundwork_core::schema::new_doc();
        let stored = self.store.load(doc)?;
        let chunks = stored
            .iter()
            .map(Vec::as_slice)
            .chain(pending.iter().filter_map(|w| match w {
                Write::Chunk(d, bytes) if d == doc => Some(bytes.as_slice()),
                _ => None,
            }));
        for bytes in chunks {
            if groundwork_core::schema::guarded(|| am.load_incremental(bytes)).is_err() {
                tracing::warn!(doc = %doc, "a stored document cannot be loaded for the campaign index");
                return Ok(None);
            }
        }
        Ok(Some(std::borrow::Cow::Owned(am)))
    }

    /// Once, on a relay whose store predates the campaign index: every stored group's plan and
    /// contacts go into it (work proportional to everything stored, this one time).
    fn build_campaign_index(&mut self) -> Result<(), StoreError> {
        if self.store.campaign(crate::campaign::built)? {
            return Ok(());
        }
        let groups = self.store.group_ids()?;
        let mut writes = Vec::new();
        let mut counties = BTreeSet::new();
        for group in &groups {
            let Ok(plan) = group.parse::<DocumentId>() else {
                continue;
            };
            self.hold_groups(std::slice::from_ref(group))?;
            let changed = [(plan, Vec::new())];
            // As if the whole plan had just arrived: a sharing group is counted whole.
            let (more, touched) = self.campaign_writes(&changed, &[])?;
            writes.extend(more);
            counties.extend(touched);
        }
        writes.push(Write::CampaignBuilt(now_ms()));
        self.store.commit(&writes)?;
        self.write_boards(&counties)?;
        tracing::info!(
            groups = groups.len(),
            "campaign index built from the stored groups"
        );
        Ok(())
    }

    /// Every contact of a contacts document, for a group that starts sharing.
    fn canvass_all(&mut self, doc: &DocumentId, group: &str) -> Result<Vec<Write>, StoreError> {
        let mut am = match self.hub.doc(doc) {
            Some(d) => d.clone(),
            None => {
                let mut d = groundwork_core::schema::new_doc();
                // Guarded: malformed stored bytes must not panic the hub thread.
                if let Some(bytes) = self.store.load(doc)?
                    && let Err(e) = groundwork_core::schema::guarded(|| d.load_incremental(&bytes))
                {
                    tracing::warn!(doc = %doc, error = %e, "a stored contacts document cannot be loaded");
                    return Ok(Vec::new());
                }
                d
            }
        };
        let changes = am.get_changes(&[]);
        let contacts = groundwork_core::campaign::touched_contacts(&am, &changes);
        Ok(vec![Write::Canvass {
            doc: *doc,
            period: period_of_contacts(&am),
            group: group.to_owned(),
            contacts,
        }])
    }

    /// Roster changes, once stored, go to the roster in memory; its readers are sent them at
    /// the next tick (`push_rosters`), all of a second's joins in one message each. Sending
    /// each join to every member at once made the 500th join of a group cost 13 times the
    /// 10th's. A joiner is offered the roster straight away, its own entry in it.
    fn apply_rosters(&mut self, rosters: Vec<(DocumentId, Vec<u8>)>) {
        for (doc, change) in rosters {
            if self.hub.doc(&doc).is_none() {
                continue;
            }
            match self.hub.apply_local_change(doc, &change) {
                Ok(()) => {
                    self.rosters_due.insert(doc);
                }
                Err(e) => tracing::error!(error = %e, "applying a roster change failed"),
            }
        }
    }

    /// Reads from the store those of `groups` the access tables do not hold.
    fn hold_groups(&mut self, groups: &[String]) -> Result<(), StoreError> {
        let missing = self.hub.policy().missing(groups);
        if missing.is_empty() {
            return Ok(());
        }
        let rows = self.store.group_rows(&missing)?;
        self.hub.policy_mut().admit(rows);
        Ok(())
    }

    /// Reads every group `device` is in (or was removed from) that the tables do not hold.
    fn hold_groups_of(&mut self, device: &str) -> Result<(), StoreError> {
        let groups = self.store.groups_of(device)?;
        self.hold_groups(&groups)
    }

    /// Lets go of the groups no connected device is in (and no brief is due for): a relay
    /// that served many groups once holds only those in use.
    fn evict_groups(&mut self) {
        let due = &self.brief_due;
        let policy = self.hub.policy_mut();
        if policy.evict_idle(|g| due.contains(g)) > 0 {
            self.trimmer.unloaded();
        }
        let held = self.hub.policy().groups_held() as u64;
        self.metrics.groups_held.store(held, Ordering::Relaxed);
    }

    /// Sends the rosters that changed to their readers: each at most once a second, and a
    /// roster read by many at most once per [`ROSTER_PUSH_READERS_PER_SEC`] of its readers
    /// (5 s for 500). A push costs a message to and from every reader, so spacing it so keeps
    /// a group's roster traffic to about that many messages a second however large the group,
    /// and a burst of joins to a large group costs each join a constant share of it. Members
    /// see a newcomer on the roster within seconds; the newcomer gets the roster at once.
    fn push_rosters(&mut self, now: u64) {
        let at = Instant::now();
        let due: Vec<DocumentId> = self.rosters_due.iter().copied().collect();
        for doc in due {
            let readers = self.hub.subscriber_count(&doc) as u64;
            let every = Duration::from_millis(1000 * readers / ROSTER_PUSH_READERS_PER_SEC)
                .clamp(Duration::from_secs(1), ROSTER_PUSH_AT_MOST_EVERY);
            if self
                .roster_pushed
                .get(&doc)
                .is_some_and(|last| at.duration_since(*last) < every)
            {
                continue;
            }
            self.rosters_due.remove(&doc);
            self.roster_pushed.insert(doc, at);
            self.hub.push(doc, now);
        }
        self.roster_pushed
            .retain(|_, last| at.duration_since(*last) < ROSTER_PUSH_AT_MOST_EVERY);
    }

    fn unload_idle(&mut self) {
        let now = Instant::now();
        let idle: BTreeSet<DocumentId> = self.hub.idle_docs().into_iter().collect();
        self.idle_since.retain(|d, _| idle.contains(d));
        for doc in idle {
            let since = *self.idle_since.entry(doc).or_insert(now);
            if now.duration_since(since) >= self.unload_after && self.hub.unload(&doc) {
                self.idle_since.remove(&doc);
                self.trimmer.unloaded();
                // Idle, so folding its chunks costs no one a wait; the next load reads one.
                if let Err(e) = self.store.compact(&doc, COMPACT_OVER) {
                    tracing::warn!(doc = %doc, error = %e, "compacting a document failed");
                }
            }
        }
        let hub = &self.hub;
        self.roster_copies.retain(|doc, _| hub.doc(doc).is_some());
        // A burst of new groups grew the map: its room goes back once they have gone.
        if self.roster_copies.capacity() > 4 * self.roster_copies.len().max(16) {
            self.roster_copies.shrink_to_fit();
        }
        self.trimmer.tick();
        let loaded = self.hub.doc_ids().count() as u64;
        self.metrics
            .documents_loaded
            .store(loaded, Ordering::Relaxed);
    }
}

/// A contacts document's period (YYYY-MM), read from the document ("" if it has none).
fn period_of_contacts(doc: &automerge::AutoCommit) -> String {
    use automerge::ReadDoc;
    match doc.get(automerge::ROOT, "period") {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

/// The fewest devices on a roster whose working copy the relay keeps between writes.
const ROSTER_COPY_KEPT_FROM: usize = 50;

/// How many of a roster's readers a push may reach per second, spread (see `push_rosters`).
const ROSTER_PUSH_READERS_PER_SEC: u64 = 100;

/// The longest a roster change waits for its push.
const ROSTER_PUSH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// A document unloaded with more chunks than this is folded into one snapshot.
const COMPACT_OVER: usize = 32;

/// How long the relay waits for a new connection's first document messages before offering it
/// its documents anyway (milliseconds).
const OFFER_WAIT_MS: u64 = 300;

/// The refusal of a campaign request from a device without the staff role.
const NOT_STAFF: &str = "not campaign staff: the relay's operator grants the role \
    (groundwork-relay staff add DEVICE)";

/// The longest a token lives.
const MAX_TOKEN_SECS: u64 = 3600;

/// How tokens are kept at rest: SHA-256, hex.
fn token_hash(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
