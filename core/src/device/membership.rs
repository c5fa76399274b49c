//! Membership on the device: joining with an invite (checked and placed here, offline; the
//! request itself is [`crate::requests::Join`]), the relay-written roster, a wipe on the
//! relay's order, this device's key and the invites it signs.

use rusqlite::params;

use crate::error::{Error, Result};
use crate::identity::{Identity, Invite, Role};
use crate::ids::DocumentId;
use crate::requests::Join;
use crate::schema::DocKind;
use crate::schema::roster::{Roster, RosterMember};
use crate::time::now_ms;

use super::{Device, catch_up};

/// Where a join is redeemed, decided before anything is dialled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRelay {
    /// The relay to redeem the invite at.
    pub relay: String,
    /// Whether a plain automerge-repo server (which checks nothing) may stand in for a
    /// Groundwork relay there: only when the person named the relay themselves, never for a
    /// relay an invite named (anyone can sign an invite; only a Groundwork relay checks that
    /// its issuer leads the group).
    pub plain_allowed: bool,
}

impl Device {
    /// Starts joining with `link` (a join link or a bare code): checks its signature here,
    /// before anything is dialled (a link whose relay was changed is refused as forged), and
    /// decides where to redeem it ([`Device::join_relay`]).
    pub fn begin_join(&self, link: &str, explicit: Option<&str>) -> Result<Join> {
        let invite = Invite::verify_code(link)?;
        let code = crate::identity::invite_code(link)?.to_owned();
        let JoinRelay {
            relay,
            plain_allowed,
        } = self.join_relay(explicit, &invite)?;
        Ok(Join {
            invite,
            code,
            relay,
            plain_allowed,
        })
    }

    /// Decides where to redeem `invite`: the relay named here (`explicit`: a flag, the
    /// environment), else the invite's own, else the one this device remembers. A device
    /// syncs every group it has with one relay, so an invite naming another relay than the
    /// one this device's groups live on is refused: following it would send every group here
    /// to that relay.
    pub fn join_relay(&self, explicit: Option<&str>, invite: &Invite) -> Result<JoinRelay> {
        if let Some(relay) = explicit {
            // An invite that names its relay is redeemed there and nowhere else: its code sent
            // to another server (a wrong GROUNDWORK_RELAY) is a code that server can use.
            if let Some(named) = invite.relay.as_deref()
                && crate::relay::audience(named)? != crate::relay::audience(relay)?
            {
                return Err(Error::NotAllowed {
                    reason: format!(
                        "the invite is for the relay {named}, and --relay (or GROUNDWORK_RELAY) \
                         names {relay}: its code is sent only to its own relay. Leave --relay \
                         out to join there"
                    ),
                });
            }
            // The same rule as every other dial: a device with groups joins on its own relay.
            return Ok(JoinRelay {
                relay: self.relay_or(Some(relay))?,
                plain_allowed: true,
            });
        }
        let remembered = self.relay()?;
        let Some(named) = invite.relay.as_deref() else {
            return Ok(JoinRelay {
                relay: self.relay_or(None)?,
                plain_allowed: true,
            });
        };
        crate::relay::check(named)?;
        if let Some(mine) = remembered.as_deref()
            && !self.is_home_relay(mine, named)?
            && !self.groups()?.is_empty()
        {
            return Err(Error::NotAllowed {
                reason: format!(
                    "this device's groups sync with {mine}, and the invite is for {named}: a \
                     device syncs with one relay, so joining would send every group on it to \
                     {named}. Join on a device (or data directory) of its own, or, if {named} is \
                     where this device's groups belong now, move them first: groundwork relay \
                     move {named}"
                ),
            });
        }
        Ok(JoinRelay {
            relay: named.to_owned(),
            plain_allowed: false,
        })
    }

    /// Records that the relay accepted this device into a group with `role` (after redeeming
    /// an invite), so that the next sync receives the group's documents.
    pub fn joined_group(&mut self, group_id: &str, role: Role) -> Result<()> {
        let _: DocumentId = group_id.parse()?;
        let tx = self.store.begin()?;
        tx.execute(
            "INSERT INTO groups (group_id, plan_doc, name, jurisdiction, role, joined_at)
             VALUES (?1, ?1, '', NULL, ?2, ?3)
             ON CONFLICT (group_id) DO UPDATE SET role = excluded.role",
            params![group_id, role.as_str(), now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes everything of a group from this device: its documents and their chunks, index
    /// rows and sync states, and the group itself. Returns how many documents were deleted.
    /// The relay orders this when the device was removed from the group.
    pub fn wipe_group(&mut self, group_id: &str) -> Result<usize> {
        let docs: Vec<DocumentId> = self
            .documents()?
            .into_iter()
            .filter(|d| d.group_id.as_deref() == Some(group_id))
            .map(|d| d.doc_id)
            .collect();
        let tx = self.store.begin()?;
        for doc in &docs {
            crate::store::erase_document(&tx, &doc.to_string())?;
        }
        crate::store::erase_group_index(&tx, group_id)?;
        tx.execute("DELETE FROM groups WHERE group_id = ?1", [group_id])?;
        tx.commit()?;
        for doc in &docs {
            self.docs.remove(doc);
        }
        // The group's counties' boards go too, unless another reason to hold them remains.
        self.drop_unreached_boards()?;
        // Freed pages are overwritten with zeros (secure_delete) and the file shrinks, so the
        // group's data does not linger in the file.
        self.store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        tracing::info!(documents = docs.len(), "group wiped");
        Ok(docs.len())
    }

    /// A group's members, from its roster (empty until the roster has arrived from the relay).
    /// A canvasser's device has no roster: it knows the group's leads alone, from its brief.
    pub fn members(&mut self, group_id: &str) -> Result<Vec<(String, RosterMember)>> {
        self.group(group_id)?;
        let documents = self.documents()?;
        let of_kind = |kind| {
            documents
                .iter()
                .find(|d| d.group_id.as_deref() == Some(group_id) && d.kind == kind)
        };
        if let Some(record) = of_kind(DocKind::Roster) {
            let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &record.doc_id)?;
            let roster = Roster::read(&loaded.doc, &record.doc_id.to_string())?;
            return Ok(roster.members.into_iter().collect());
        }
        if let Some(record) = of_kind(DocKind::Brief) {
            let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &record.doc_id)?;
            let brief = crate::schema::brief::Brief::read(&loaded.doc, &record.doc_id.to_string())?;
            return Ok(brief
                .leads
                .into_iter()
                .map(|(device, name)| {
                    let lead = RosterMember {
                        name,
                        role: Role::Lead,
                        joined_at: 0,
                        removed_at: None,
                    };
                    (device, lead)
                })
                .collect());
        }
        Ok(Vec::new())
    }

    /// This device's key pair.
    pub fn identity(&self) -> Result<Identity> {
        let secret: Vec<u8> = self.store.conn().query_row(
            "SELECT signing_key FROM device WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        Identity::from_secret(&secret)
    }

    /// Signs an invite to a group this device leads, naming `relay` (or, without one, the
    /// relay this device remembers) as where it is redeemed.
    pub fn create_invite(
        &self,
        group_id: &str,
        role: Role,
        uses: u32,
        valid_for_ms: i64,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        let group = self.group(group_id)?;
        if group.role != Role::Lead {
            return Err(Error::NotAllowed {
                reason: format!(
                    "only a lead can invite; this device is a {} in group {group_id}",
                    group.role
                ),
            });
        }
        let expires_at = expires_at(valid_for_ms)?;
        let relay = self.invite_relay(relay)?;
        self.identity()?
            .invite(group_id, role, expires_at, uses, relay.as_deref())
    }

    fn invite_relay(&self, explicit: Option<&str>) -> Result<Option<String>> {
        match explicit {
            Some(relay) => Ok(Some(relay.to_owned())),
            None => self.relay(),
        }
    }

    /// Signs a one-use invite for another device of this device's own person, at this
    /// device's role (any member may). Either device can later report the other lost.
    pub fn create_own_device_invite(
        &self,
        group_id: &str,
        valid_for_ms: i64,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        let group = self.group(group_id)?;
        let role = group.role;
        let expires_at = expires_at(valid_for_ms)?;
        let relay = self.invite_relay(relay)?;
        self.identity()?
            .own_device_invite(group_id, role, expires_at, relay.as_deref())
    }
}

/// When an invite valid for `valid_for_ms` from now expires (Unix ms).
fn expires_at(valid_for_ms: i64) -> Result<i64> {
    let invalid = |reason: &str| Error::Invalid {
        what: "invite expiry",
        reason: reason.into(),
    };
    if valid_for_ms <= 0 {
        return Err(invalid("it must be in the future"));
    }
    now_ms()
        .checked_add(valid_for_ms)
        .ok_or_else(|| invalid("it is too far in the future"))
}
