//! Retention on the relay: contacts documents past their group's retention are erased whole
//! (chunks, record and campaign counts in one transaction), withdrawn from the devices syncing
//! them, and the files compacted so their bytes leave the disk. Devices erase their copies by
//! the same rule.

use groundwork_core::sync::hub::Hub;

use crate::access::{AccessChange, RelayAccess};
use crate::store::{RelayStore, StoreError, Write};

use super::residency::{Residency, hold_groups};

/// Whether contacts past their retention are to be looked for on this turn.
#[derive(Debug)]
pub(super) struct Retention {
    due: bool,
}

impl Default for Retention {
    /// Due at startup: months may have turned over while the relay was down.
    fn default() -> Self {
        Self { due: true }
    }
}

impl Retention {
    /// A group's retention changed, or a month may have turned over: look on this turn.
    pub(super) fn due(&mut self) {
        self.due = true;
    }

    /// Whether a look is due.
    pub(super) fn is_due(&self) -> bool {
        self.due
    }

    /// Erases every contacts document past its group's retention, if a look is due.
    pub(super) fn enforce(
        &mut self,
        hub: &mut Hub<RelayAccess>,
        store: &RelayStore,
        residency: &mut Residency,
    ) -> Result<(), StoreError> {
        if !std::mem::take(&mut self.due) {
            return Ok(());
        }
        let groups = hub.policy().retention_groups();
        hold_groups(hub.policy_mut(), store, &groups)?;
        let expired = hub.policy().expired_contacts();
        if expired.is_empty() {
            return Ok(());
        }
        let writes: Vec<Write> = expired
            .iter()
            .map(|d| Write::Access(AccessChange::Dropped { doc: *d }))
            .collect();
        store.commit(&writes)?;
        for doc in &expired {
            hub.withdraw(doc);
            hub.policy_mut().forget_doc(doc);
            residency.forget(doc);
        }
        store.compact_files()?;
        tracing::info!(
            documents = expired.len(),
            "contacts past their group's retention erased"
        );
        Ok(())
    }
}
