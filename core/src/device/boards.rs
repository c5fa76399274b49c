//! County boards on the device: the relay writes them, the device keeps what it is offered,
//! reads them offline, and drops one the relay no longer serves (a board a group left is
//! replaced by a fresh document, and the old one must not stay here either).

use rusqlite::params;

use crate::error::Result;
use crate::ids::DocumentId;
use crate::schema::DocKind;
use crate::schema::board::Board;

use super::{Device, catch_up};

impl Device {
    /// Every board on this device, by county.
    pub fn boards(&mut self) -> Result<Vec<Board>> {
        Ok(self.boards_by_id()?.into_iter().map(|(_, b)| b).collect())
    }

    /// Every board on this device and its document, by county.
    fn boards_by_id(&mut self) -> Result<Vec<(DocumentId, Board)>> {
        let ids: Vec<DocumentId> = self
            .documents()?
            .into_iter()
            .filter(|d| d.kind == DocKind::Board)
            .map(|d| d.doc_id)
            .collect();
        let mut out = Vec::new();
        for id in ids {
            let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &id)?;
            out.push((id, Board::read(&loaded.doc, &id.to_string())?));
        }
        out.sort_by(|(_, a), (_, b)| a.board_of.cmp(&b.board_of));
        Ok(out)
    }

    /// The board of a county (its FIPS code), as last synced.
    pub fn board(&mut self, county: &str) -> Result<Board> {
        self.boards()?
            .into_iter()
            .find(|b| b.board_of == county)
            .ok_or_else(|| crate::Error::NotFound {
                kind: "board (sync first; boards are for counties where a group of this device \
                       shares an official, and counties it follows: `board follow FIPS`)",
                id: county.to_owned(),
            })
    }

    /// The counties this device follows, as the relay last confirmed (FIPS, sorted).
    pub fn followed_counties(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .store
            .conn()
            .prepare_cached("SELECT county FROM followed_counties ORDER BY county")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records the counties the relay says this device follows (its answer to a follow
    /// request), and drops the boards of counties no longer followed that no group of this
    /// device asks an official in.
    pub fn set_followed_counties(&mut self, counties: &[String]) -> Result<()> {
        for county in counties {
            crate::places::county(county)?;
        }
        let tx = self.store.begin()?;
        tx.execute("DELETE FROM followed_counties", [])?;
        for county in counties {
            tx.execute(
                "INSERT INTO followed_counties (county, followed_at) VALUES (?1, ?2)",
                params![county, crate::time::now_ms()],
            )?;
        }
        tx.commit()?;
        self.drop_unreached_boards()
    }

    /// Drops every board of a county that neither a group of this device asks an official in
    /// nor this device follows: what a wipe or an unfollow leaves behind. (Campaign staff,
    /// who read every board, get them back at the next sync.)
    pub(super) fn drop_unreached_boards(&mut self) -> Result<()> {
        let reached: std::collections::BTreeSet<String> = {
            let mut stmt = self.store.conn().prepare(
                "SELECT county FROM idx_targets WHERE county IS NOT NULL
                 UNION SELECT county FROM followed_counties
                 WHERE EXISTS (SELECT 1 FROM groups WHERE role IN ('lead', 'member'))",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (doc, board) in self.boards_by_id()? {
            if !reached.contains(&board.board_of) {
                self.drop_replaced(&doc)?;
            }
        }
        Ok(())
    }

    /// Deletes a document the relay writes and no longer serves (a board, or a canvassers'
    /// brief, replaced by a fresh one); `false` if `doc` is neither here.
    pub fn drop_replaced(&mut self, doc: &DocumentId) -> Result<bool> {
        let id = doc.to_string();
        let tx = self.store.begin()?;
        let replaceable = tx
            .query_row(
                "SELECT 1 FROM documents WHERE doc_id = ?1 AND kind IN ('board', 'brief')",
                [&id],
                |_| Ok(()),
            )
            .ok()
            .is_some();
        if !replaceable {
            return Ok(false);
        }
        crate::store::erase_document(&tx, &id)?;
        tx.commit()?;
        self.docs.remove(doc);
        tracing::info!("a document the relay replaced was dropped");
        Ok(true)
    }
}
