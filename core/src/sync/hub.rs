//! The sync state machine: documents on one side, connections to peers on the other, and the
//! automerge sync protocol between them. No IO, no clock, no randomness: the host feeds it
//! frames, time and storage results, and runs the effects it returns, in order.
//!
//! The host loop:
//! 1. Feed one input: [`Hub::connect`], [`Hub::handle_frame`], [`Hub::handle_disconnect`],
//!    [`Hub::handle_loaded`], [`Hub::handle_sync_states`], [`Hub::handle_local_change`],
//!    [`Hub::offer`] or [`Hub::handle_tick`].
//! 2. Drain [`Hub::poll_effect`] and run every effect in order. The order is the contract:
//!    a [`Effect::Persist`] comes before the [`Effect::Send`] that acknowledges it, so a host
//!    that finishes each persist before the sends after it never acknowledges what it could
//!    lose. A host may batch several persists into one transaction (group commit) as long as
//!    it commits before running the sends that follow them.
//!
//! The same machine runs on a device (one connection, [`Side::Client`]) and on the relay (many
//! connections, [`Side::Server`]). Which documents a peer may read or write is the host's
//! decision, asked of its [`Policy`] at every point where data would cross: before a document
//! is sent, before a peer's changes are kept, and when a peer brings a document nobody has. A
//! denied peer gets exactly the answer a missing document gets (`doc-unavailable`). A device's
//! hub trusts its relay ([`AllowAll`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};

use crate::ids::DocumentId;
use crate::schema;
use crate::sync::wire::{Message, PROTOCOL_VERSION, PeerId, PeerMetadata};

/// The host's name for a connection. Hosts choose them; the hub never invents one.
pub type ConnId = u64;

/// A document whose exchange with a peer has not settled (the peer does not report our heads)
/// after this long is offered again from a fresh sync state (milliseconds); each retry waits
/// twice as long as the one before, up to [`MAX_RESEND_AFTER_MS`], so a large transfer on a slow
/// link is not restarted forever. Over a WebSocket nothing is lost inside a connection; this
/// repairs what a lossy path, a lost acknowledgement or a peer's bug would otherwise stall.
pub const RESEND_AFTER_MS: u64 = 5_000;

/// The longest wait between two retries of one document.
pub const MAX_RESEND_AFTER_MS: u64 = 5 * 60_000;

/// A connection whose handshake has not finished after this long is closed (milliseconds).
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// The most a relay keeps of one document: twice what a device's own edits may grow one to
/// ([`crate::store::MAX_DOCUMENT_BYTES`]), room for other clients' encodings and for the
/// framing of the sync messages it counts; past it a change is refused, with the reason.
pub const MAX_HOSTED_DOCUMENT_BYTES: u64 = 2 * crate::store::MAX_DOCUMENT_BYTES;

/// The most documents one connection may be waiting for that the host does not have or will
/// not show it; past it the connection is closed. A device asks only for documents it has
/// heard of, which exist.
pub const MAX_WAITING_DOCS: usize = 1_000;

/// Which end of a connection this hub is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// We dialled: we send `join` and wait for `peer`.
    Client,
    /// We were dialled: we wait for `join` and answer `peer`.
    Server,
}

/// What a peer may do with a document, as the host's [`Policy`] decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Nothing; the peer must not even learn the document exists.
    Hidden,
    /// The host has no such document: the peer may bring it, if [`Policy::may_create`] agrees.
    Unknown,
    /// Read only: the peer is sent the document, and any change it sends is refused.
    Read,
    /// Read and write.
    Write,
}

impl Access {
    /// Whether the peer may be sent the document.
    pub fn reads(self) -> bool {
        matches!(self, Access::Read | Access::Write)
    }
}

/// The host's access decisions. Called synchronously from the hub's inputs, so answers must
/// come from memory.
pub trait Policy {
    /// What the peer on `conn` may do with `doc`.
    fn access(&self, conn: ConnId, doc: &DocumentId) -> Access;
    /// Whether the peer on `conn` may create `doc` (one the policy called [`Access::Unknown`])
    /// with this first content, or why not. A yes is the policy's cue to record the new
    /// document, so that [`Policy::access`] knows it from now on; the host persists that
    /// record with the changes.
    fn may_create(
        &mut self,
        conn: ConnId,
        doc: &DocumentId,
        content: &AutoCommit,
    ) -> Result<(), Refused>;
    /// Whether the `changes` a writer just made to `doc` (now `after`; it was at `before`) are
    /// its to make: a host whose writers may change only some fields (a member, not a group's
    /// sharing) checks them here. Yes by default.
    fn may_change(
        &mut self,
        conn: ConnId,
        doc: &DocumentId,
        before: &[automerge::ChangeHash],
        after: &AutoCommit,
        changes: &[automerge::Change],
    ) -> Result<(), Refused> {
        let _ = (conn, doc, before, after, changes);
        Ok(())
    }
    /// Whether the host can take changes at all now: `Some(reason)` while it cannot make them
    /// durable (its storage is full or failing). A writer's changes are then not kept (the
    /// document goes back to what is stored) and its connection is closed with the reason, so
    /// it keeps its changes and sends them again later; reads go on. `None` by default.
    fn refuses_changes(&self) -> Option<String> {
        None
    }
    /// Why the peer on `conn` may not change `doc`, which [`Policy::access`] called `access`
    /// (hidden or read-only), for the host's log. The default says only that much; a host
    /// that knows roles says more.
    fn why_not(&self, conn: ConnId, doc: &DocumentId, access: Access) -> Refused {
        let _ = (conn, doc);
        Refused(
            match access {
                Access::Read => "a reader's change: the peer may only read this document",
                _ => "the peer may not see this document",
            }
            .into(),
        )
    }
}

/// Why a peer's changes were refused: the rule that failed (not a member, a reader's change, a
/// document that fails its schema, the wrong canvasser...), for the host's log. It names the
/// rule, never the content, and is never sent to the peer, who is answered as if the document
/// did not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything is allowed: a device's policy towards its relay.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Policy for AllowAll {
    fn access(&self, _: ConnId, _: &DocumentId) -> Access {
        Access::Write
    }

    fn may_create(&mut self, _: ConnId, _: &DocumentId, _: &AutoCommit) -> Result<(), Refused> {
        Ok(())
    }
}

/// Work for the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send a frame on a connection.
    Send {
        /// The connection.
        conn: ConnId,
        /// One binary WebSocket frame.
        frame: Vec<u8>,
    },
    /// Close a connection (after sending what was queued for it).
    Close {
        /// The connection.
        conn: ConnId,
        /// Why, for logs.
        reason: String,
    },
    /// Load a document from storage, then call [`Hub::handle_loaded`].
    Load {
        /// The document.
        doc: DocumentId,
    },
    /// Store new changes of a document (a chunk for `load_incremental`). Must be durable before
    /// the effects after it run.
    Persist {
        /// The document.
        doc: DocumentId,
        /// The changes.
        changes: Vec<u8>,
    },
    /// A connection finished its handshake. A client host must now call
    /// [`Hub::handle_sync_states`] with what it saved for this peer; a server host decides what
    /// to [`Hub::offer`].
    PeerReady {
        /// The connection.
        conn: ConnId,
        /// Who is on the other end.
        peer: PeerId,
    },
    /// Save the sync state of a document with a peer, for the next connection.
    SaveSyncState {
        /// The peer.
        peer: PeerId,
        /// The document.
        doc: DocumentId,
        /// `sync::State::encode`.
        state: Vec<u8>,
    },
    /// A document received changes from a connection (or was created by one).
    DocChanged {
        /// The document.
        doc: DocumentId,
        /// The connection the changes came from.
        from: ConnId,
        /// Whether the hub had never had the document before.
        new: bool,
        /// Its heads before these changes, so a host can see what they changed
        /// (`AutoCommit::diff`) in work proportional to them.
        before: Vec<automerge::ChangeHash>,
        /// The changes themselves (what [`Effect::Persist`] holds, decoded): automerge builds
        /// a change from its op set at some cost, so the hub builds each once for both.
        changes: Vec<automerge::Change>,
    },
    /// A connection sent its first message about a document. A relay decides here whether the
    /// peer may have it (and which other documents to offer it).
    Subscribed {
        /// The connection.
        conn: ConnId,
        /// The document.
        doc: DocumentId,
    },
    /// A peer said it does not have a document we asked for (or we may not have it).
    Unavailable {
        /// The connection.
        conn: ConnId,
        /// The document.
        doc: DocumentId,
    },
    /// A Groundwork control message arrived (see [`crate::sync::control`]); the host answers
    /// with [`Hub::send_control`].
    Control {
        /// The connection.
        conn: ConnId,
        /// Its JSON body.
        body: String,
    },
}

enum DocState {
    /// Waiting for storage; messages for it wait here, in order.
    Loading(Vec<(ConnId, Message)>),
    /// In memory (boxed: a document is large, a waiting list small).
    Ready(Box<AutoCommit>),
}

struct Doc {
    state: DocState,
    /// Connections syncing this document.
    subscribers: BTreeSet<ConnId>,
    /// A relay's measure of its size: the bytes stored when it was loaded, plus the sync
    /// messages that changed it since (an over-count, which the next load puts right).
    bytes: u64,
    /// automerge's recent answers for this document, reused for peers in the same state.
    memo: Memo,
}

/// The most answers a document's [`Memo`] keeps.
const MEMO_ENTRIES: usize = 4;

/// The largest message a [`Memo`] keeps (bytes); a larger one (a whole document for a new
/// peer) is built again for each peer rather than held in memory.
const MEMO_MAX_BYTES: usize = 64 * 1024;

/// automerge's answers to `generate_sync_message`, kept while the document stays as it was.
///
/// Why: after one change, a relay asks automerge what each subscriber lacks, and then hears
/// each subscriber's acknowledgement and asks again. Subscribers that were in step before the
/// change are in identical sync states, and `generate_sync_message` is a pure function of the
/// document and the state, so one answer serves them all. Without this, a change to a group
/// of n online members ran automerge 2n times, each walking the document's history; with it,
/// about twice. The memo is emptied whenever the document may have changed (new changes, or
/// changes queued for missing dependencies, which the answer also depends on), and is keyed by
/// the heads besides; every tick empties it too, so quiet documents hold none.
#[derive(Default)]
struct Memo {
    heads: Vec<ChangeHash>,
    answers: Vec<Answer>,
}

/// One answer: the state before, the state after, and the encoded message, if any.
struct Answer {
    before: sync::State,
    after: sync::State,
    message: Option<Vec<u8>>,
}

impl Memo {
    /// Forgets every answer: the document changed.
    fn clear(&mut self) {
        self.heads.clear();
        self.answers.clear();
    }

    /// The answer for a peer in `state` at `heads`, if one was kept.
    fn find(&self, heads: &[ChangeHash], state: &sync::State) -> Option<&Answer> {
        if self.heads != heads {
            return None;
        }
        self.answers.iter().find(|a| a.before == *state)
    }

    /// Keeps an answer, the oldest going first when full.
    fn keep(&mut self, heads: &[ChangeHash], answer: Answer) {
        if self.heads != heads {
            self.answers.clear();
            self.heads = heads.to_vec();
        }
        if answer
            .message
            .as_ref()
            .is_some_and(|m| m.len() > MEMO_MAX_BYTES)
        {
            return;
        }
        if self.answers.len() == MEMO_ENTRIES {
            self.answers.remove(0);
        }
        self.answers.push(answer);
    }
}

#[derive(PartialEq, Eq)]
enum Phase {
    /// Server: waiting for `join`.
    AwaitJoin,
    /// Client: waiting for `peer`.
    AwaitPeer,
    /// Client: waiting for the host's saved sync states.
    AwaitStates,
    /// Syncing.
    Ready,
}

struct PeerDoc {
    /// automerge's bookkeeping of what the peer has.
    sync: sync::State,
    /// When we last sent or received anything for this document on this connection.
    last_activity: u64,
    /// While the exchange is unsettled: when to start it again, and how long the wait was.
    retry: Option<(u64, u64)>,
    /// Whether we told this peer the document is unavailable (said once per connection).
    told_unavailable: bool,
}

impl PeerDoc {
    /// A document exchange that has not started.
    fn fresh(now: u64) -> Self {
        PeerDoc {
            sync: sync::State::new(),
            last_activity: now,
            retry: None,
            told_unavailable: false,
        }
    }
}

struct Conn {
    side: Side,
    /// When the connection opened, for the handshake timeout.
    opened: u64,
    peer: Option<PeerId>,
    phase: Phase,
    docs: BTreeMap<DocumentId, PeerDoc>,
}

/// The sync state machine. See the module documentation for the host loop.
pub struct Hub<P: Policy = AllowAll> {
    /// Our peer id, sent in every message.
    me: PeerId,
    /// What we say about ourselves in the handshake.
    metadata: PeerMetadata,
    /// Documents in memory or loading. A `BTreeMap`, so iteration (and so every run) is
    /// deterministic.
    docs: BTreeMap<DocumentId, Doc>,
    /// Open connections.
    conns: BTreeMap<ConnId, Conn>,
    /// Effects not yet polled.
    effects: VecDeque<Effect>,
    /// Who may read and write what.
    policy: P,
    /// Documents in the order the host inserted them: a client offers them in this order, so
    /// that a group's plan reaches the relay before the documents that depend on it.
    order: Vec<DocumentId>,
    /// Sync messages answered from a document's [`Memo`] instead of by automerge.
    reused: u64,
}

/// How far a document is synced with the peer on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocSyncStatus {
    /// Our heads.
    pub ours: Vec<ChangeHash>,
    /// The heads the peer last told us, if it has.
    pub theirs: Option<Vec<ChangeHash>>,
}

impl DocSyncStatus {
    /// Whether the peer has everything we have.
    pub fn synced(&self) -> bool {
        self.theirs
            .as_ref()
            .is_some_and(|theirs| self.ours.iter().all(|h| theirs.contains(h)))
    }
}

impl Hub<AllowAll> {
    /// A hub for peer `me` that allows every peer everything (a device's).
    pub fn new(me: PeerId, metadata: PeerMetadata) -> Self {
        Self::with_policy(me, metadata, AllowAll)
    }
}

impl<P: Policy> Hub<P> {
    /// A hub for peer `me` whose access decisions are `policy`'s.
    pub fn with_policy(me: PeerId, metadata: PeerMetadata, policy: P) -> Self {
        Self {
            me,
            metadata,
            docs: BTreeMap::new(),
            conns: BTreeMap::new(),
            effects: VecDeque::new(),
            policy,
            order: Vec::new(),
            reused: 0,
        }
    }

    /// The access policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The access policy, to change (a member removed, a group created).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// Sends a control message on a connection whose handshake is done.
    pub fn send_control(&mut self, conn: ConnId, body: String) {
        if self.conns.get(&conn).is_some_and(|c| c.peer.is_some()) {
            self.send(conn, &Message::Control { body });
        }
    }

    /// How many sync messages were answered from memory rather than built again by automerge
    /// (peers in the same state after a change share one answer), since the hub started.
    pub fn sync_messages_reused(&self) -> u64 {
        self.reused
    }

    /// Our peer id.
    pub fn peer_id(&self) -> &str {
        &self.me
    }

    /// The next effect to run, if any.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Puts a document in memory (a device's documents, before it connects).
    pub fn insert_doc(&mut self, id: DocumentId, doc: AutoCommit) {
        if !self.docs.contains_key(&id) {
            self.order.push(id);
        }
        self.docs.insert(
            id,
            Doc {
                state: DocState::Ready(Box::new(doc)),
                subscribers: BTreeSet::new(),
                bytes: 0,
                memo: Memo::default(),
            },
        );
    }

    /// The changes of a document the hub holds that are not in `before`'s history (what a
    /// [`Effect::DocChanged`] brought), found from the change graph: work proportional to
    /// them, not to the document.
    pub fn changes_since(
        &mut self,
        id: &DocumentId,
        before: &[automerge::ChangeHash],
    ) -> Vec<automerge::Change> {
        match self.docs.get_mut(id).map(|d| &mut d.state) {
            Some(DocState::Ready(doc)) => doc.get_changes(before),
            _ => Vec::new(),
        }
    }

    /// A document in memory.
    pub fn doc(&self, id: &DocumentId) -> Option<&AutoCommit> {
        match self.docs.get(id).map(|d| &d.state) {
            Some(DocState::Ready(doc)) => Some(doc),
            _ => None,
        }
    }

    /// The heads of a document in memory (`None` if it is not, or is still loading).
    pub fn heads(&mut self, id: &DocumentId) -> Option<Vec<automerge::ChangeHash>> {
        match self.docs.get_mut(id).map(|d| &mut d.state) {
            Some(DocState::Ready(doc)) => Some(doc.get_heads()),
            _ => None,
        }
    }

    /// The documents in memory.
    pub fn doc_ids(&self) -> impl Iterator<Item = &DocumentId> {
        self.docs.keys()
    }

    /// Forgets a document entirely (a device that wiped a group): it is no longer synced on
    /// any connection.
    pub fn forget(&mut self, id: &DocumentId) {
        self.docs.remove(id);
        for c in self.conns.values_mut() {
            c.docs.remove(id);
        }
    }

    /// Withdraws a document the host will no longer serve (a relay's board replaced by a
    /// fresh one): every connection syncing it is told it is unavailable, then it is forgotten.
    pub fn withdraw(&mut self, id: &DocumentId) {
        let syncing: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.docs.contains_key(id))
            .map(|(conn, _)| *conn)
            .collect();
        for conn in syncing {
            if let Some(pd) = self.conns.get_mut(&conn).and_then(|c| c.docs.get_mut(id)) {
                pd.told_unavailable = false;
            }
            self.unavailable(conn, *id);
        }
        self.forget(id);
    }

    /// Drops an idle document from memory: one no connection syncs. Returns whether it did.
    pub fn unload(&mut self, id: &DocumentId) -> bool {
        let idle = self
            .docs
            .get(id)
            .is_some_and(|d| d.subscribers.is_empty() && matches!(d.state, DocState::Ready(_)));
        if idle {
            self.docs.remove(id);
        }
        idle
    }

    /// Documents no connection syncs (candidates for [`Hub::unload`]).
    pub fn idle_docs(&self) -> Vec<DocumentId> {
        self.docs
            .iter()
            .filter(|(_, d)| d.subscribers.is_empty() && matches!(d.state, DocState::Ready(_)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether a connection is already exchanging `doc` (it sent or was sent something of it).
    pub fn syncing(&self, conn: ConnId, doc: &DocumentId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.docs.contains_key(doc))
    }

    /// How many documents a connection has touched (synced, asked for, or been refused).
    pub fn docs_on(&self, conn: ConnId) -> usize {
        self.conns.get(&conn).map_or(0, |c| c.docs.len())
    }

    /// The peer on a connection, once the handshake is done.
    pub fn peer_of(&self, conn: ConnId) -> Option<&str> {
        self.conns.get(&conn).and_then(|c| c.peer.as_deref())
    }

    /// How far `doc` is synced on `conn`.
    pub fn status(&mut self, conn: ConnId, doc: &DocumentId) -> Option<DocSyncStatus> {
        let ours = match self.docs.get_mut(doc).map(|d| &mut d.state) {
            Some(DocState::Ready(d)) => d.get_heads(),
            _ => return None,
        };
        let theirs = self
            .conns
            .get(&conn)?
            .docs
            .get(doc)
            .and_then(|p| p.sync.their_heads.clone());
        Some(DocSyncStatus { ours, theirs })
    }

    /// A new connection. A client sends `join` at once.
    pub fn connect(&mut self, conn: ConnId, side: Side, now: u64) {
        let phase = match side {
            Side::Client => Phase::AwaitPeer,
            Side::Server => Phase::AwaitJoin,
        };
        self.conns.insert(
            conn,
            Conn {
                side,
                opened: now,
                peer: None,
                phase,
                docs: BTreeMap::new(),
            },
        );
        if side == Side::Client {
            let join = Message::Join {
                sender: self.me.clone(),
                metadata: self.metadata.clone(),
                versions: vec![PROTOCOL_VERSION.to_owned()],
            };
            self.send(conn, &join);
        }
    }

    /// A connection closed. A client saves its sync states for the next connection.
    pub fn handle_disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        for doc in self.docs.values_mut() {
            doc.subscribers.remove(&conn);
        }
        if c.side == Side::Server {
            // Documents it asked for that nobody has leave with it: an empty document kept
            // for no one would be memory an asker could grow by the thousand.
            for id in c.docs.keys() {
                let forget = self.docs.get_mut(id).is_some_and(|d| {
                    d.subscribers.is_empty()
                        && match &mut d.state {
                            DocState::Ready(doc) => doc.get_heads().is_empty(),
                            DocState::Loading(_) => false,
                        }
                });
                if forget {
                    self.docs.remove(id);
                }
            }
        }
        if let (Side::Client, Some(peer)) = (c.side, c.peer) {
            for (doc, pd) in c.docs {
                self.effects.push_back(Effect::SaveSyncState {
                    peer: peer.clone(),
                    doc,
                    state: pd.sync.encode(),
                });
            }
        }
    }

    /// The saved sync states for the peer a client connection reached (after
    /// [`Effect::PeerReady`]); starts syncing every document in memory.
    pub fn handle_sync_states(
        &mut self,
        conn: ConnId,
        states: Vec<(DocumentId, Vec<u8>)>,
        now: u64,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.phase != Phase::AwaitStates {
            return;
        }
        c.phase = Phase::Ready;
        for (doc, bytes) in states {
            // A state that no longer decodes only costs a fuller first exchange.
            if let Ok(state) = sync::State::decode(&bytes) {
                c.docs.insert(
                    doc,
                    PeerDoc {
                        sync: state,
                        last_activity: now,
                        retry: None,
                        told_unavailable: false,
                    },
                );
            }
        }
        self.order.retain(|id| self.docs.contains_key(id));
        let listed: BTreeSet<DocumentId> = self.order.iter().copied().collect();
        let mut ids = self.order.clone();
        ids.extend(self.docs.keys().filter(|id| !listed.contains(id)));
        for id in ids {
            self.offer(conn, id, now);
        }
    }

    /// Starts syncing `doc` with the peer on `conn` (loading it first if needed).
    pub fn offer(&mut self, conn: ConnId, doc: DocumentId, now: u64) {
        if !self
            .conns
            .get(&conn)
            .is_some_and(|c| c.phase == Phase::Ready)
            || !self.policy.access(conn, &doc).reads()
        {
            return;
        }
        match self.docs.get_mut(&doc) {
            Some(d) => {
                d.subscribers.insert(conn);
                if matches!(d.state, DocState::Ready(_)) {
                    self.sync_to(conn, doc, now);
                }
            }
            None => {
                self.docs.insert(
                    doc,
                    Doc {
                        state: DocState::Loading(Vec::new()),
                        subscribers: BTreeSet::from([conn]),
                        bytes: 0,
                        memo: Memo::default(),
                    },
                );
                self.effects.push_back(Effect::Load { doc });
            }
        }
    }

    /// Storage's answer to [`Effect::Load`]: the document's stored bytes, or `None` if it has
    /// none (then it starts empty, and arrives when someone sends it).
    pub fn handle_loaded(&mut self, id: DocumentId, stored: Option<&[u8]>, now: u64) {
        let Some(doc) = self.docs.get_mut(&id) else {
            return;
        };
        let loaded = match stored {
            Some(bytes) => match load(bytes) {
                Ok(d) => d,
                Err(e) => {
                    // Serving a document we cannot read would overwrite nothing but would hide
                    // it; refuse its peers instead, and keep the bytes for repair.
                    tracing::error!(doc = %id, error = %e, "stored document cannot be loaded");
                    let waiting = std::mem::replace(&mut doc.state, DocState::Loading(Vec::new()));
                    self.docs.remove(&id);
                    if let DocState::Loading(queued) = waiting {
                        for (conn, _) in queued {
                            self.unavailable(conn, id);
                        }
                    }
                    return;
                }
            },
            None => schema::new_doc(),
        };
        doc.bytes = stored.map_or(0, |b| b.len() as u64);
        doc.memo.clear();
        let DocState::Loading(queued) =
            std::mem::replace(&mut doc.state, DocState::Ready(Box::new(loaded)))
        else {
            return;
        };
        let subscribers: Vec<ConnId> = doc.subscribers.iter().copied().collect();
        for (conn, message) in queued {
            self.handle_doc_message(conn, message, now);
        }
        for conn in subscribers {
            self.sync_to(conn, id, now);
        }
    }

    /// Changes made on this side (a device's own edit) to a document in memory: they go to
    /// every connection syncing it. The host has already stored them.
    pub fn handle_local_change(
        &mut self,
        id: DocumentId,
        changes: &[u8],
        now: u64,
    ) -> Result<(), automerge::AutomergeError> {
        self.apply_local_change(id, changes)?;
        self.push(id, now);
        Ok(())
    }

    /// Changes made on this side, applied now but sent later: every connection syncing the
    /// document gets them at the next [`Hub::push`], or sooner when that connection next sends
    /// about it or is offered it. A relay gathers roster updates this way, so that a burst of
    /// joins costs one message to each member, not one per join. The host has already stored
    /// them.
    pub fn apply_local_change(
        &mut self,
        id: DocumentId,
        changes: &[u8],
    ) -> Result<(), automerge::AutomergeError> {
        match self.docs.get_mut(&id) {
            Some(Doc {
                state: DocState::Ready(doc),
                memo,
                ..
            }) => {
                memo.clear();
                doc.load_incremental(changes)?;
            }
            // Loading from storage, which already holds the changes.
            Some(_) => {}
            None => {
                let mut doc = schema::new_doc();
                doc.load_incremental(changes)?;
                self.insert_doc(id, doc);
            }
        }
        Ok(())
    }

    /// Edits a document in memory in place, then sends the edit to every connection syncing
    /// it; `None` if the document is not in memory. For a host that keeps no copy of its own
    /// (the load generator's simulated devices): a host with a store makes its change there,
    /// stores it, and hands it over with [`Hub::handle_local_change`].
    pub fn edit<T>(
        &mut self,
        id: DocumentId,
        now: u64,
        f: impl FnOnce(&mut AutoCommit) -> T,
    ) -> Option<T> {
        let Some(Doc {
            state: DocState::Ready(doc),
            memo,
            ..
        }) = self.docs.get_mut(&id)
        else {
            return None;
        };
        memo.clear();
        let out = f(doc);
        self.push(id, now);
        Some(out)
    }

    /// How many connections sync `id` now.
    pub fn subscriber_count(&self, id: &DocumentId) -> usize {
        self.docs.get(id).map_or(0, |d| d.subscribers.len())
    }

    /// Sends every connection syncing `id` whatever it lacks of it.
    pub fn push(&mut self, id: DocumentId, now: u64) {
        let Some(doc) = self.docs.get(&id) else {
            return;
        };
        if !matches!(doc.state, DocState::Ready(_)) {
            return;
        }
        let subscribers: Vec<ConnId> = doc.subscribers.iter().copied().collect();
        for conn in subscribers {
            self.sync_to(conn, id, now);
        }
    }

    /// Time passes: documents whose exchange stalled are offered again from a fresh state.
    pub fn handle_tick(&mut self, now: u64) {
        // A memo serves the burst of answers around one change (milliseconds); kept longer, a
        // relay with many quiet documents would hold up to four answers for each.
        for doc in self.docs.values_mut() {
            doc.memo.clear();
        }
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.phase != Phase::Ready && now.saturating_sub(c.opened) >= HANDSHAKE_TIMEOUT_MS
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in late {
            self.fail(conn, "handshake timed out".into());
        }
        let pairs: Vec<(ConnId, DocumentId)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase == Phase::Ready)
            .flat_map(|(conn, c)| c.docs.keys().map(move |doc| (*conn, *doc)))
            .collect();
        for (conn, id) in pairs {
            let Some(Doc {
                state: DocState::Ready(doc),
                ..
            }) = self.docs.get_mut(&id)
            else {
                continue;
            };
            let heads = doc.get_heads();
            let Some(pd) = self.conns.get_mut(&conn).and_then(|c| c.docs.get_mut(&id)) else {
                continue;
            };
            let settled = pd
                .sync
                .their_heads
                .as_ref()
                .is_some_and(|theirs| same_heads(theirs, &heads));
            match (settled, pd.retry) {
                (true, _) => pd.retry = None,
                (false, None) => pd.retry = Some((now + RESEND_AFTER_MS, RESEND_AFTER_MS)),
                (false, Some((at, _))) if now < at => {}
                (false, Some((_, wait))) => {
                    let wait = (wait * 2).min(MAX_RESEND_AFTER_MS);
                    pd.retry = Some((now + wait, wait));
                    pd.sync = sync::State::new();
                    self.sync_to(conn, id, now);
                }
            }
        }
    }

    /// One frame from a connection.
    pub fn handle_frame(&mut self, conn: ConnId, frame: &[u8], now: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let message = match Message::decode(frame) {
            Ok(m) => m,
            Err(e) => return self.fail(conn, e.to_string()),
        };
        match (&c.phase, message) {
            (
                Phase::AwaitJoin,
                Message::Join {
                    sender, versions, ..
                },
            ) => {
                if !versions.is_empty() && !versions.iter().any(|v| v == PROTOCOL_VERSION) {
                    return self.fail(conn, "unsupported protocol version".into());
                }
                let peer = Message::Peer {
                    sender: self.me.clone(),
                    target: sender.clone(),
                    metadata: self.metadata.clone(),
                    version: PROTOCOL_VERSION.to_owned(),
                };
                self.send(conn, &peer);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.peer = Some(sender.clone());
                    c.phase = Phase::Ready;
                }
                self.effects
                    .push_back(Effect::PeerReady { conn, peer: sender });
            }
            (Phase::AwaitJoin, other) => {
                self.fail(conn, format!("expected join, got {}", kind(&other)));
            }
            (Phase::AwaitPeer, Message::Peer { sender, .. }) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.peer = Some(sender.clone());
                    c.phase = Phase::AwaitStates;
                }
                self.effects
                    .push_back(Effect::PeerReady { conn, peer: sender });
            }
            (_, Message::Error { message }) => {
                self.effects.push_back(Effect::Close {
                    conn,
                    reason: format!("peer reported an error: {message}"),
                });
                self.handle_disconnect(conn);
            }
            (_, Message::Leave { .. }) => {
                self.effects.push_back(Effect::Close {
                    conn,
                    reason: "peer left".into(),
                });
                self.handle_disconnect(conn);
            }
            (Phase::AwaitStates | Phase::Ready, Message::Control { body }) => {
                self.effects.push_back(Effect::Control { conn, body });
            }
            (Phase::AwaitPeer | Phase::AwaitStates, other) => {
                // A client may get document messages queued before its states arrive: the
                // JavaScript server answers fast. Keep them for after.
                if matches!(other, Message::Sync { .. } | Message::Request { .. }) {
                    self.handle_doc_message(conn, other, now);
                }
            }
            (Phase::Ready, message) => self.handle_doc_message(conn, message, now),
        }
    }

    fn handle_doc_message(&mut self, conn: ConnId, message: Message, now: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let peer = c.peer.clone();
        let request = matches!(message, Message::Request { .. });
        match message {
            Message::Sync {
                sender,
                document,
                data,
                ..
            }
            | Message::Request {
                sender,
                document,
                data,
                ..
            } => {
                if peer.as_deref() != Some(sender.as_str()) {
                    return self.fail(
                        conn,
                        format!("message from {sender:?} on {peer:?}'s connection"),
                    );
                }
                let parsed = match sync::Message::decode(&data) {
                    Ok(m) => m,
                    Err(e) => {
                        return self
                            .fail(conn, format!("document {document}: bad sync message: {e}"));
                    }
                };
                self.receive(conn, document, parsed, request, data.len(), now);
            }
            Message::DocUnavailable { document, .. } => {
                if let Some(pd) = self
                    .conns
                    .get_mut(&conn)
                    .and_then(|c| c.docs.get_mut(&document))
                {
                    pd.last_activity = now;
                }
                self.effects.push_back(Effect::Unavailable {
                    conn,
                    doc: document,
                });
            }
            Message::Ephemeral {
                sender,
                document,
                session,
                count,
                data,
                ..
            } => {
                // The relay passes presence and cursors on to everyone else syncing the
                // document; they are never stored. A device has no one to pass them to.
                if self.conns.get(&conn).is_none_or(|c| c.side != Side::Server) {
                    return;
                }
                let Some(d) = self.docs.get(&document) else {
                    return;
                };
                // Only a peer syncing the document may speak about it, and only to peers
                // allowed to read it.
                if !d.subscribers.contains(&conn) || !self.policy.access(conn, &document).reads() {
                    return;
                }
                let others: Vec<ConnId> = d
                    .subscribers
                    .iter()
                    .copied()
                    .filter(|c| *c != conn && self.policy.access(*c, &document).reads())
                    .collect();
                for other in others {
                    let Some(target) = self.peer_of(other).map(str::to_owned) else {
                        continue;
                    };
                    let m = Message::Ephemeral {
                        sender: sender.clone(),
                        target,
                        document,
                        session: session.clone(),
                        count,
                        data: data.clone(),
                    };
                    self.send(other, &m);
                }
            }
            Message::Join { .. } | Message::Peer { .. } => {
                self.fail(conn, "handshake message after the handshake".into());
            }
            Message::Control { body } => {
                self.effects.push_back(Effect::Control { conn, body });
            }
            // Remote-heads gossip is optional in automerge-repo; we do not take part.
            Message::Other { kind }
                if kind == "remote-heads-changed" || kind == "remote-subscription-change" => {}
            Message::Other { kind } => {
                self.fail(conn, format!("unknown message type {kind:?}"));
            }
            Message::Error { .. } | Message::Leave { .. } => {}
        }
    }

    fn receive(
        &mut self,
        conn: ConnId,
        id: DocumentId,
        message: sync::Message,
        request: bool,
        incoming: usize,
        now: u64,
    ) {
        let access = self.policy.access(conn, &id);
        if access == Access::Hidden {
            return self.answer_as_missing(conn, id, message, request, now);
        }
        let new = !self.docs.contains_key(&id);
        let doc = self.docs.entry(id).or_insert_with(|| Doc {
            state: DocState::Loading(Vec::new()),
            subscribers: BTreeSet::new(),
            bytes: 0,
            memo: Memo::default(),
        });
        if doc.subscribers.insert(conn) {
            self.effects.push_back(Effect::Subscribed { conn, doc: id });
        }
        let side = self.conns.get(&conn).map(|c| c.side);
        if new {
            match side {
                // A relay looks in storage first.
                Some(Side::Server) => {
                    self.effects.push_back(Effect::Load { doc: id });
                }
                // A device that is sent a document it does not have starts it empty.
                _ => doc.state = DocState::Ready(Box::new(schema::new_doc())),
            }
        }
        let hosted = self.docs.get(&id).map_or(0, |d| d.bytes) + incoming as u64;
        let doc = match self.docs.get_mut(&id) {
            Some(Doc {
                state: DocState::Ready(doc),
                memo,
                ..
            }) => {
                // New changes, applied or queued for their dependencies, change automerge's
                // answers.
                if !message.changes.is_empty() {
                    memo.clear();
                }
                doc
            }
            Some(Doc {
                state: DocState::Loading(queued),
                ..
            }) => {
                let peer = self
                    .conns
                    .get(&conn)
                    .and_then(|c| c.peer.clone())
                    .unwrap_or_default();
                let (sender, target, document, data) =
                    (peer, self.me.clone(), id, message.encode());
                // Kept as it came: a `request` is answered `doc-unavailable` if nobody has it.
                queued.push((
                    conn,
                    if request {
                        Message::Request {
                            sender,
                            target,
                            document,
                            data,
                        }
                    } else {
                        Message::Sync {
                            sender,
                            target,
                            document,
                            data,
                        }
                    },
                ));
                return;
            }
            None => return,
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let pd = c.docs.entry(id).or_insert_with(|| PeerDoc::fresh(now));
        pd.last_activity = now;
        let before = doc.get_heads();
        let received = schema::guarded(|| doc.sync().receive_sync_message(&mut pd.sync, message));
        if let Err(e) = received {
            // What it may have half-applied goes; the document is read again from storage.
            self.forget_changes(id, before.is_empty());
            return self.fail(
                conn,
                format!("document {id}: automerge rejected the sync message: {e}"),
            );
        }
        let after = doc.get_heads();
        let changed = before != after;
        if changed && let Some(reason) = self.policy.refuses_changes() {
            self.forget_changes(id, before.is_empty());
            return self.fail(conn, reason);
        }
        if changed && side == Some(Side::Server) && hosted > MAX_HOSTED_DOCUMENT_BYTES {
            self.forget_changes(id, before.is_empty());
            return self.fail(
                conn,
                format!(
                    "document {id} would grow to about {hosted} bytes, past the \
                     {MAX_HOSTED_DOCUMENT_BYTES} the relay keeps of one document: the change \
                     was not kept"
                ),
            );
        }
        if changed {
            // The changes the peer's message added, read once: for the policy, then for the host.
            let changes = doc.get_changes(&before);
            let allowed = match access {
                Access::Write if before.is_empty() => Ok(()),
                Access::Write => self.policy.may_change(conn, &id, &before, doc, &changes),
                Access::Unknown if before.is_empty() => self.policy.may_create(conn, &id, doc),
                Access::Unknown => Err(Refused(
                    "a document the host does not know, changed on top of earlier content".into(),
                )),
                Access::Read | Access::Hidden => Err(self.policy.why_not(conn, &id, access)),
            };
            if let Err(why) = allowed {
                return self.refuse_changes(conn, id, before.is_empty(), &why);
            }
            // `save_after`, with the changes kept for the host.
            let mut bytes = Vec::with_capacity(changes.iter().map(|c| c.raw_bytes().len()).sum());
            for change in &changes {
                bytes.extend_from_slice(change.raw_bytes());
            }
            self.effects.push_back(Effect::Persist {
                doc: id,
                changes: bytes,
            });
            self.effects.push_back(Effect::DocChanged {
                doc: id,
                from: conn,
                new: before.is_empty(),
                before,
                changes,
            });
            if let Some(d) = self.docs.get_mut(&id) {
                d.bytes = hosted;
            }
        }
        let empty = after.is_empty();
        let subscribers: Vec<ConnId> = self.docs[&id].subscribers.iter().copied().collect();
        for other in subscribers {
            if other == conn || changed {
                self.sync_to(other, id, now);
            }
        }
        // Asked for a document we do not have: say so once, and keep the asker subscribed, so
        // it is sent the document the moment someone else brings it.
        if empty && request && side == Some(Side::Server) {
            self.unavailable(conn, id);
        }
        self.save_if_settled(conn, id);
    }

    fn save_if_settled(&mut self, conn: ConnId, id: DocumentId) {
        let Some(Doc {
            state: DocState::Ready(doc),
            ..
        }) = self.docs.get_mut(&id)
        else {
            return;
        };
        let heads = doc.get_heads();
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (Side::Client, Some(peer)) = (c.side, &c.peer) else {
            return;
        };
        if let Some(pd) = c.docs.get(&id)
            && pd
                .sync
                .their_heads
                .as_ref()
                .is_some_and(|t| same_heads(t, &heads))
        {
            self.effects.push_back(Effect::SaveSyncState {
                peer: peer.clone(),
                doc: id,
                state: pd.sync.encode(),
            });
        }
    }

    /// Answers a peer about a document it may not see exactly as a document nobody has would
    /// be answered (see [`Access::Unknown`]), without touching the real one: a `request` gets
    /// `doc-unavailable`; a `sync` from a peer that has some of it gets what an empty document
    /// would say; changes are refused with `doc-unavailable`. Nothing tells the two apart.
    fn answer_as_missing(
        &mut self,
        conn: ConnId,
        id: DocumentId,
        message: sync::Message,
        request: bool,
        now: u64,
    ) {
        if request {
            return self.unavailable(conn, id);
        }
        // Changes to a document the peer may not see are refused unread: automerge is never
        // run on them (it can be made to exhaust memory by a few hundred crafted bytes, found
        // by the `document` fuzz target; see SECURITY.md).
        if !message.changes.is_empty() {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.docs.remove(&id);
            }
            let why = self.policy.why_not(conn, &id, Access::Hidden);
            let peer = self
                .conns
                .get(&conn)
                .and_then(|c| c.peer.clone())
                .unwrap_or_default();
            tracing::warn!(conn, peer = %peer, doc = %id, reason = %why, "refused changes the peer may not make");
            return self.unavailable(conn, id);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(peer) = c.peer.clone() else { return };
        let pd = c.docs.entry(id).or_insert_with(|| PeerDoc::fresh(now));
        pd.last_activity = now;
        let mut empty = schema::new_doc();
        if let Err(e) = schema::guarded(|| empty.sync().receive_sync_message(&mut pd.sync, message))
        {
            return self.fail(
                conn,
                format!("document {id}: automerge rejected the sync message: {e}"),
            );
        }
        if !empty.get_heads().is_empty() {
            c.docs.remove(&id);
            let why = self.policy.why_not(conn, &id, Access::Hidden);
            tracing::warn!(conn, peer = %peer, doc = %id, reason = %why, "refused changes the peer may not make");
            return self.unavailable(conn, id);
        }
        if pd.sync.their_heads.as_ref().is_none_or(|h| h.is_empty()) {
            return;
        }
        if let Some(reply) = empty.sync().generate_sync_message(&mut pd.sync) {
            let m = Message::Sync {
                sender: self.me.clone(),
                target: peer,
                document: id,
                data: reply.encode(),
            };
            self.send(conn, &m);
        }
    }

    /// A peer sent changes it may not make: none are kept. The document in memory goes back to
    /// what is stored (empty, for a document that was never created), and the peer is answered
    /// as if the document did not exist.
    fn refuse_changes(&mut self, conn: ConnId, id: DocumentId, was_empty: bool, why: &Refused) {
        let peer = self
            .conns
            .get(&conn)
            .and_then(|c| c.peer.as_deref())
            .unwrap_or("-");
        tracing::warn!(conn, peer = %peer, doc = %id, reason = %why, "refused changes the peer may not make");
        if let Some(doc) = self.docs.get_mut(&id) {
            doc.subscribers.remove(&conn);
        }
        self.forget_changes(id, was_empty);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.docs.remove(&id);
        }
        self.unavailable(conn, id);
    }

    /// Puts a document that just took changes it must not keep back to what is stored (empty,
    /// for one that was never created): the other peers' exchanges never saw the changes.
    fn forget_changes(&mut self, id: DocumentId, was_empty: bool) {
        if let Some(doc) = self.docs.get_mut(&id) {
            doc.bytes = 0;
            doc.memo.clear();
            if was_empty {
                doc.state = DocState::Ready(Box::new(schema::new_doc()));
            } else {
                doc.state = DocState::Loading(Vec::new());
                self.effects.push_back(Effect::Load { doc: id });
            }
        }
    }

    fn unavailable(&mut self, conn: ConnId, id: DocumentId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(peer) = c.peer.clone() else { return };
        let pd = c.docs.entry(id).or_insert_with(|| PeerDoc::fresh(0));
        if pd.told_unavailable {
            return;
        }
        pd.told_unavailable = true;
        let waiting = c.docs.values().filter(|pd| pd.told_unavailable).count();
        let m = Message::DocUnavailable {
            sender: self.me.clone(),
            target: peer,
            document: id,
        };
        self.send(conn, &m);
        // Each document asked for and not given is remembered for the asker (it is sent the
        // document the moment someone brings it), so asking for documents by the thousand
        // would be memory without bound.
        if waiting > MAX_WAITING_DOCS {
            self.fail(
                conn,
                format!(
                    "asked for more than {MAX_WAITING_DOCS} documents that do not exist or are \
                     not yours to read"
                ),
            );
        }
    }

    /// Sends `conn` whatever automerge says it needs of `id`, as `request` when we have nothing
    /// yet and `sync` otherwise.
    fn sync_to(&mut self, conn: ConnId, id: DocumentId, now: u64) {
        let access = self.policy.access(conn, &id);
        let Some(Doc {
            state: DocState::Ready(doc),
            memo,
            subscribers,
            ..
        }) = self.docs.get_mut(&id)
        else {
            return;
        };
        // Only a document several peers sync can reuse an answer (a device's never does).
        let shared = subscribers.len() > 1;
        if !(access.reads() || access == Access::Unknown && doc.get_heads().is_empty()) {
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.phase != Phase::Ready {
            return;
        }
        let Some(peer) = c.peer.clone() else { return };
        let pd = c.docs.entry(id).or_insert_with(|| PeerDoc::fresh(now));
        // A document nobody has yet is empty here. Answer only a peer that has some of it (it
        // may be creating it), so that one asking for it hears exactly what it would hear of a
        // document it may not see: `doc-unavailable`, and nothing else.
        if access == Access::Unknown && pd.sync.their_heads.as_ref().is_none_or(|h| h.is_empty()) {
            return;
        }
        let heads = doc.get_heads();
        let data = match memo.find(&heads, &pd.sync).filter(|_| shared) {
            Some(answer) => {
                pd.sync.clone_from(&answer.after);
                self.reused += 1;
                answer.message.clone()
            }
            None if !shared => doc
                .sync()
                .generate_sync_message(&mut pd.sync)
                .map(sync::Message::encode),
            None => {
                let before = pd.sync.clone();
                let data = doc
                    .sync()
                    .generate_sync_message(&mut pd.sync)
                    .map(sync::Message::encode);
                memo.keep(
                    &heads,
                    Answer {
                        before,
                        after: pd.sync.clone(),
                        message: data.clone(),
                    },
                );
                data
            }
        };
        let Some(data) = data else {
            return;
        };
        pd.last_activity = now;
        let empty = heads.is_empty();
        let m = if empty && pd.sync.shared_heads.is_empty() && c.side == Side::Client {
            Message::Request {
                sender: self.me.clone(),
                target: peer,
                document: id,
                data,
            }
        } else {
            Message::Sync {
                sender: self.me.clone(),
                target: peer,
                document: id,
                data,
            }
        };
        self.send(conn, &m);
    }

    fn send(&mut self, conn: ConnId, message: &Message) {
        self.effects.push_back(Effect::Send {
            conn,
            frame: message.encode(),
        });
    }

    /// Refuses a connection: an error frame, then close. Nothing stored changes.
    fn fail(&mut self, conn: ConnId, reason: String) {
        tracing::warn!(conn, %reason, "closing connection");
        self.send(
            conn,
            &Message::Error {
                message: reason.clone(),
            },
        );
        self.effects.push_back(Effect::Close { conn, reason });
        self.handle_disconnect(conn);
    }
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Join { .. } => "join",
        Message::Peer { .. } => "peer",
        Message::Error { .. } => "error",
        Message::Leave { .. } => "leave",
        Message::Request { .. } => "request",
        Message::Sync { .. } => "sync",
        Message::DocUnavailable { .. } => "doc-unavailable",
        Message::Ephemeral { .. } => "ephemeral",
        Message::Control { .. } => "control",
        Message::Other { .. } => "another message",
    }
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

fn load(bytes: &[u8]) -> Result<AutoCommit, String> {
    schema::guarded(|| {
        let mut doc = schema::new_doc();
        doc.load_incremental(bytes)?;
        Ok(doc)
    })
}
