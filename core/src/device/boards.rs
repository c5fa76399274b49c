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
        if self.drop_unreached_boards()? > 0 {
            self.compact_file()?;
        }
        Ok(())
    }

    /// Drops every board of a county that neither a group of this device asks an official in
    /// nor this device follows: what a wipe or an unfollow leaves behind. (Campaign staff,
    /// who read every board, get them back at the next sync.) Returns how many it dropped;
    /// the caller compacts the file ([`Device::compact_file`]) once it is done erasing.
    pub(super) fn drop_unreached_boards(&mut self) -> Result<usize> {
        let reached: std::collections::BTreeSet<String> = {
            let mut stmt = self.store.conn().prepare(
                "SELECT county FROM idx_targets WHERE county IS NOT NULL
                 UNION SELECT county FROM followed_counties
                 WHERE EXISTS (SELECT 1 FROM groups WHERE role IN ('lead', 'member'))",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut dropped = 0;
        for (doc, board) in self.boards_by_id()? {
            if !reached.contains(&board.board_of) && self.erase_replaced(&doc)? {
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Deletes a document the relay writes and no longer serves (a board, or a canvassers'
    /// brief, replaced by a fresh one), and compacts the file so that its bytes do not linger
    /// in freed pages; `false` if `doc` is neither here.
    pub fn drop_replaced(&mut self, doc: &DocumentId) -> Result<bool> {
        let dropped = self.erase_replaced(doc)?;
        if dropped {
            self.compact_file()?;
        }
        Ok(dropped)
    }

    /// [`Device::drop_replaced`] without compacting the file.
    fn erase_replaced(&mut self, doc: &DocumentId) -> Result<bool> {
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

    /// Rewrites the store file after an erase: SQLite's `secure_delete = fast` zeroes what is
    /// deleted inside pages that stay in use, not pages that go to the free list (a document
    /// larger than a page's cell frees whole pages), so the erased bytes would stay in the
    /// file, encrypted, but readable with the key by anyone who decrypts its pages directly.
    /// VACUUM leaves no free page; the checkpoint first empties the write-ahead log.
    fn compact_file(&self) -> Result<()> {
        self.store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        Ok(())
    }
}
