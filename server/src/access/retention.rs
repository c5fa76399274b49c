//! How long each group keeps its contacts: a lead sets it in the plan; documents of periods
//! before the oldest kept are erased, and new ones refused.

use std::collections::HashMap;

/// Each group's retention in months, where a lead set one.
#[derive(Debug, Default)]
pub(super) struct Retention {
    pub(super) months: HashMap<String, u64>,
}

impl Retention {
    /// The groups that set a retention (their contacts past it are erased).
    pub(super) fn retention_groups(&self) -> Vec<String> {
        self.months.keys().cloned().collect()
    }

    /// Records a group's retention (`None`: it keeps everything); whether it changed.
    pub(super) fn set_retention(&mut self, group: &str, months: Option<u64>) -> bool {
        let before = match months {
            Some(m) => self.months.insert(group.to_owned(), m),
            None => self.months.remove(group),
        };
        before != months
    }

    /// The oldest period `group` keeps now, if it set a retention.
    pub(super) fn oldest_kept(&self, group: &str, now: i64) -> Option<String> {
        let months = *self.months.get(group)?;
        Some(groundwork_core::time::oldest_kept_period(now, months))
    }
}
