//! What the relay writes, as one type ([`Write`]), and the SQL that makes each write inside a
//! batch's transaction: chunks, access changes, the campaign index, nonces and tokens.

use groundwork_core::ids::DocumentId;

use crate::access::AccessChange;
use crate::db::{DbError, Engine, Sql};

/// One write the relay must make durable before it acknowledges anything after it.
#[derive(Clone, Debug)]
pub enum Write {
    /// New changes of a document.
    Chunk(DocumentId, Vec<u8>),
    /// A change to the access tables (a group, a member, a document's record, a board...):
    /// other relay nodes on the database apply it too, from the change log.
    Access(AccessChange),
    /// The campaign index now holds every group stored before it existed.
    CampaignBuilt(i64),
    /// What a group shares with the campaign now (`None`: nothing; it stopped sharing).
    Campaign {
        /// The group.
        group: String,
        /// Its shared officials, meetings and answers.
        shared: Option<Box<groundwork_core::campaign::Shared>>,
        /// When.
        at: i64,
    },
    /// The results and support levels of contacts a change touched (sharing groups only).
    Canvass {
        /// The contacts document.
        doc: DocumentId,
        /// Its group.
        group: String,
        /// Its period (YYYY-MM).
        period: String,
        /// (contact id, result, support).
        contacts: Vec<(
            String,
            groundwork_core::schema::vocab::ContactResult,
            Option<u8>,
        )>,
    },
    /// A connection nonce, remembered until it expires.
    Nonce(String, i64),
    /// A token (its hash) for a device in a group.
    Token {
        /// SHA-256 of the token, hex.
        hash: String,
        /// The device it acts for.
        device: String,
        /// The one group it opens.
        group: String,
        /// When it stops working.
        expires_at: i64,
    },
}

impl Write {
    /// What of this write other relay nodes apply from the change log, if anything (chunks
    /// travel as rows of their own; nonces, tokens and the campaign's counts are read from the
    /// database where they are needed).
    pub(super) fn access_change(&self) -> Option<AccessChange> {
        match self {
            Write::Access(change) => Some(change.clone()),
            Write::Campaign { group, shared, .. } => {
                let mut counties: Vec<String> = shared
                    .iter()
                    .flat_map(|s| s.officials.iter().map(|o| o.county.clone()))
                    .collect();
                counties.sort();
                counties.dedup();
                Some(AccessChange::Counties {
                    group: group.clone(),
                    counties,
                })
            }
            Write::Chunk(..)
            | Write::CampaignBuilt(_)
            | Write::Canvass { .. }
            | Write::Nonce(..)
            | Write::Token { .. } => None,
        }
    }
}

/// Makes one write in the transaction `tx`.
pub(super) fn write(tx: &mut dyn Sql, w: &Write) -> Result<(), DbError> {
    match w {
        Write::Chunk(doc, bytes) => {
            match tx.engine() {
                Engine::Sqlite => tx.execute(
                    "INSERT INTO chunks (doc_id, seq, bytes) VALUES ($1,
                     (SELECT COALESCE(MAX(seq), 0) + 1 FROM chunks WHERE doc_id = $1), $2)",
                    &[&doc.to_string(), bytes],
                )?,
                // Keyed by content, so two nodes writing the same bytes never conflict.
                Engine::Postgres => tx.execute(
                    "INSERT INTO chunks (doc_id, hash, bytes) VALUES ($1, $2, $3)
                     ON CONFLICT (doc_id, hash) DO NOTHING",
                    &[&doc.to_string(), &crate::cluster::chunk_hash(bytes), bytes],
                )?,
            };
        }
        Write::Access(change) => write_access(tx, change)?,
        Write::CampaignBuilt(at) => crate::campaign::mark_built(tx, *at)?,
        Write::Campaign { group, shared, at } => {
            crate::campaign::write_group(tx, group, shared.as_deref(), *at)?;
        }
        Write::Canvass {
            doc,
            group,
            period,
            contacts,
        } => crate::campaign::write_canvass(tx, &doc.to_string(), group, period, contacts)?,
        // Nonces kept in memory while the store failed: one another node recorded meanwhile
        // is already refused, and stays so.
        Write::Nonce(nonce, expires_at) => {
            tx.execute(
                "INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[nonce, expires_at],
            )?;
        }
        Write::Token {
            hash,
            device,
            group,
            expires_at,
        } => {
            tx.execute(
                "INSERT INTO tokens (token_hash, device_id, group_id, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[hash, device, group, expires_at],
            )?;
        }
    }
    Ok(())
}

/// Makes one change to the access tables in the transaction `tx`.
fn write_access(tx: &mut dyn Sql, change: &AccessChange) -> Result<(), DbError> {
    match change {
        AccessChange::Document {
            doc,
            group,
            kind,
            owner,
        } => {
            tx.execute(
                "INSERT INTO documents (doc_id, group_id, kind, owner) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (doc_id) DO UPDATE SET group_id = excluded.group_id,
                     kind = excluded.kind, owner = excluded.owner",
                &[&doc.to_string(), group, &kind.as_str(), owner],
            )?;
        }
        AccessChange::Group {
            group,
            roster,
            created_by,
            at,
        } => {
            tx.execute(
                "INSERT INTO groups (group_id, roster_doc, created_by, created_at)
                 VALUES ($1, $2, $3, $4)",
                &[group, &roster.to_string(), created_by, at],
            )?;
        }
        AccessChange::Member {
            group,
            device,
            role,
            name,
            person,
            at,
        } => {
            tx.execute(
                "INSERT INTO members (group_id, device_id, role, name, joined_at, person)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (group_id, device_id) DO UPDATE SET role = excluded.role,
                     name = excluded.name, joined_at = excluded.joined_at,
                     person = excluded.person, removed_at = NULL, wiped_at = NULL",
                &[group, device, &role.as_str(), name, at, person],
            )?;
        }
        AccessChange::Removed { group, device, at } => {
            tx.execute(
                "UPDATE members SET removed_at = $3 WHERE group_id = $1 AND device_id = $2",
                &[group, device, at],
            )?;
            // A removal revokes everything of the device in the group: its tokens go with it
            // (one minted before the removal must not work again after a re-admission).
            tx.execute(
                "DELETE FROM tokens WHERE group_id = $1 AND device_id = $2",
                &[group, device],
            )?;
        }
        AccessChange::Wiped { group, device, at } => {
            tx.execute(
                "UPDATE members SET wiped_at = $3 WHERE group_id = $1 AND device_id = $2",
                &[group, device, at],
            )?;
        }
        AccessChange::Board { county, doc, at } => {
            crate::campaign::set_board_doc(tx, county, &doc.to_string(), *at)?;
        }
        AccessChange::Period { doc, period } => {
            tx.execute(
                "UPDATE documents SET period = $2 WHERE doc_id = $1",
                &[&doc.to_string(), period],
            )?;
        }
        AccessChange::Dropped { doc } => {
            let doc = doc.to_string();
            tx.execute("DELETE FROM chunks WHERE doc_id = $1", &[&doc])?;
            tx.execute("DELETE FROM campaign_canvass WHERE doc_id = $1", &[&doc])?;
            tx.execute("DELETE FROM documents WHERE doc_id = $1", &[&doc])?;
        }
        AccessChange::Creator { device } => {
            tx.execute(
                "INSERT INTO creators (device_id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[device],
            )?;
        }
        AccessChange::Follow {
            device,
            county,
            follow: true,
            at,
        } => {
            tx.execute(
                "INSERT INTO board_followers (device_id, county, followed_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[device, county, at],
            )?;
        }
        AccessChange::Follow {
            device,
            county,
            follow: false,
            ..
        } => {
            tx.execute(
                "DELETE FROM board_followers WHERE device_id = $1 AND county = $2",
                &[device, county],
            )?;
        }
        // Derived from the campaign index as it is written; nothing of its own to store.
        AccessChange::Counties { .. } => {}
    }
    Ok(())
}
