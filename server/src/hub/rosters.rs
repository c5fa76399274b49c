//! Each group's roster document, which the relay alone writes: the change a join or a removal
//! makes (on a working copy, so a large roster is not copied per join), and its pushes to the
//! roster's readers, spaced so a burst of joins to a large group costs each a constant share.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use groundwork_core::ids::DocumentId;
use groundwork_core::schema::roster::Roster;
use groundwork_core::sync::hub::Hub;

use crate::access::RelayAccess;
use crate::store::{RelayStore, StoreError};

use super::residency::hold_groups;

/// The fewest devices on a roster whose working copy the relay keeps between writes.
const ROSTER_COPY_KEPT_FROM: usize = 50;

/// How many of a roster's readers a push may reach per second, spread (see [`Rosters::push`]).
const ROSTER_PUSH_READERS_PER_SEC: u64 = 100;

/// The longest a roster change waits for its push.
const ROSTER_PUSH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// The rosters' working copies and pushes.
#[derive(Default)]
pub(super) struct Rosters {
    /// Rosters changed in memory whose readers have not been sent the change yet.
    due: BTreeSet<DocumentId>,
    /// When each roster pushed lately was last pushed.
    pushed: HashMap<DocumentId, Instant>,
    /// The relay's working copies of rosters it writes, while the hub holds them (see
    /// [`Rosters::change`]).
    copies: HashMap<DocumentId, Box<automerge::AutoCommit>>,
}

impl Rosters {
    /// The change that brings a group's roster document up to date with the access tables
    /// (`device`: the one device whose entry changed, if only one did).
    pub(super) fn change(
        &mut self,
        hub: &mut Hub<RelayAccess>,
        store: &RelayStore,
        group: &str,
        device: Option<&str>,
    ) -> Result<Option<(DocumentId, Vec<u8>)>, StoreError> {
        hold_groups(hub.policy_mut(), store, &[group.to_owned()])?;
        let Some(doc_id) = hub.policy().roster_doc(group) else {
            return Ok(None);
        };
        // The change is written on the relay's working copy of the roster: the hub's own takes
        // it only once it is stored. The copy is kept while its heads are the hub's, so a join
        // to a large group no longer copies the whole roster document (only another node's
        // change, or a failed commit, makes it copy again).
        let hub_heads = hub.heads(&doc_id);
        let current = match (self.copies.get_mut(&doc_id), &hub_heads) {
            (Some(copy), Some(heads)) => copy.get_heads() == *heads,
            _ => false,
        };
        if !current {
            let copy = match hub.doc(&doc_id) {
                Some(d) => d.clone(),
                None => {
                    let mut d = groundwork_core::schema::new_doc();
                    if let Some(bytes) = store.load(&doc_id)?
                        && let Err(e) =
                            groundwork_core::schema::guarded(|| d.load_incremental(&bytes))
                    {
                        tracing::error!(error = %e, "a stored roster cannot be loaded");
                        return Ok(None);
                    }
                    d
                }
            };
            self.copies.insert(doc_id, Box::new(copy));
        }
        let Some(doc) = self.copies.get_mut(&doc_id) else {
            return Ok(None);
        };
        let policy = hub.policy();
        let id = doc_id.to_string();
        // A join or a removal writes that device's entry alone: rewriting the whole roster made
        // each join cost in proportion to the group (500 members: 13x the 10th's).
        let entry = device
            .filter(|_| Roster::has_members(doc))
            .and_then(|d| Some((d, policy.roster_entry(group, d)?)));
        let written = match entry {
            Some((device, entry)) => Roster::write_entry(doc, &id, device, &entry, policy.now()),
            None => match policy.roster(group) {
                Some(roster) => roster.write(doc, &id, policy.now()),
                None => return Ok(None),
            },
        };
        // A small roster costs little to copy again: only a large one's copy is kept (a burst
        // of new groups would otherwise hold a copy of each until its roster unloads).
        if policy.roster_len(group) < ROSTER_COPY_KEPT_FROM {
            self.copies.remove(&doc_id);
        }
        match written {
            Ok(change) => Ok(change.map(|c| (doc_id, c))),
            Err(e) => {
                // What the failed write left in the copy is not the hub's: copy again.
                self.copies.remove(&doc_id);
                tracing::error!(error = %e, "writing a roster failed");
                Ok(None)
            }
        }
    }

    /// Roster changes, once stored, go to the roster in memory; its readers are sent them at
    /// the next tick ([`Rosters::push`]), all of a second's joins in one message each. Sending
    /// each join to every member at once made the 500th join of a group cost 13 times the
    /// 10th's. A joiner is offered the roster straight away, its own entry in it.
    pub(super) fn apply(
        &mut self,
        hub: &mut Hub<RelayAccess>,
        rosters: Vec<(DocumentId, Vec<u8>)>,
    ) {
        for (doc, change) in rosters {
            if hub.doc(&doc).is_none() {
                continue;
            }
            match hub.apply_local_change(doc, &change) {
                Ok(()) => {
                    self.due.insert(doc);
                }
                Err(e) => tracing::error!(error = %e, "applying a roster change failed"),
            }
        }
    }

    /// Sends the rosters that changed to their readers: each at most once a second, and a
    /// roster read by many at most once per [`ROSTER_PUSH_READERS_PER_SEC`] of its readers
    /// (5 s for 500). A push costs a message to and from every reader, so spacing it so keeps
    /// a group's roster traffic to about that many messages a second however large the group,
    /// and a burst of joins to a large group costs each join a constant share of it. Members
    /// see a newcomer on the roster within seconds; the newcomer gets the roster at once.
    pub(super) fn push(&mut self, hub: &mut Hub<RelayAccess>, now: u64, at: Instant) {
        let due: Vec<DocumentId> = self.due.iter().copied().collect();
        for doc in due {
            let readers = hub.subscriber_count(&doc) as u64;
            let every = Duration::from_millis(1000 * readers / ROSTER_PUSH_READERS_PER_SEC)
                .clamp(Duration::from_secs(1), ROSTER_PUSH_AT_MOST_EVERY);
            if self
                .pushed
                .get(&doc)
                .is_some_and(|last| at.duration_since(*last) < every)
            {
                continue;
            }
            self.due.remove(&doc);
            self.pushed.insert(doc, at);
            hub.push(doc, now);
        }
        self.pushed
            .retain(|_, last| at.duration_since(*last) < ROSTER_PUSH_AT_MOST_EVERY);
    }

    /// Lets go of the working copies of rosters the hub unloaded.
    pub(super) fn trim(&mut self, hub: &Hub<RelayAccess>) {
        self.copies.retain(|doc, _| hub.doc(doc).is_some());
        // A burst of new groups grew the map: its room goes back once they have gone.
        if self.copies.capacity() > 4 * self.copies.len().max(16) {
            self.copies.shrink_to_fit();
        }
    }
}
