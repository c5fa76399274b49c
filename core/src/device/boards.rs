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
        let ids: Vec<DocumentId> = self
            .documents()?
            .into_iter()
            .filter(|d| d.kind == DocKind::Board)
            .map(|d| d.doc_id)
            .collect();
        let mut out = Vec::new();
        for id in ids {
            let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &id)?;
            out.push(Board::read(&loaded.doc, &id.to_string())?);
        }
        out.sort_by(|a, b| a.board_of.cmp(&b.board_of));
        Ok(out)
    }

    /// The board of a county (its FIPS code), as last synced.
    pub fn board(&mut self, county: &str) -> Result<Board> {
        self.boards()?
            .into_iter()
            .find(|b| b.board_of == county)
            .ok_or_else(|| crate::Error::NotFound {
                kind: "board (sync first; boards are for counties where a group of this device shares an official)",
                id: county.to_owned(),
            })
    }

    /// Deletes a board the relay no longer serves; `false` if `doc` is not a board here.
    pub fn drop_board(&mut self, doc: &DocumentId) -> Result<bool> {
        let id = doc.to_string();
        let tx = self.store.begin()?;
        let is_board = tx
            .query_row(
                "SELECT 1 FROM documents WHERE doc_id = ?1 AND kind = 'board'",
                [&id],
                |_| Ok(()),
            )
            .ok()
            .is_some();
        if !is_board {
            return Ok(false);
        }
        for table in ["chunks", "sync_states", "sync_status", "documents"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE doc_id = ?1"),
                params![id],
            )?;
        }
        tx.commit()?;
        self.docs.remove(doc);
        tracing::info!("a board the relay replaced was dropped");
        Ok(true)
    }
}
