//! Names for ids: what a person types for a group, an official, a meeting, an action item or a
//! member (a name or its start, an id or its start, in any case) resolved to the id, from the
//! index and, for members, the group's roster. Every client (the CLI, the SDKs) resolves with
//! the same rules, so "Riverside" means the same group everywhere.
//!
//! The rules, in order: an exact id is that one (ids keep working exactly as they always did);
//! a name equal to the text (ignoring case) is that one; otherwise the one whose name or id
//! starts with the text (ignoring case). Several fitting is [`Error::Ambiguous`], listing them;
//! none is [`Error::NoMatch`], listing what there is.

use crate::error::{Candidate, Error, Result};

use super::Device;

impl Device {
    /// The id of the group `text` names: its id, its name, or the start of either.
    pub fn resolve_group(&self, text: &str) -> Result<String> {
        let candidates = self
            .groups()?
            .into_iter()
            .map(|g| Candidate {
                name: g.name,
                id: g.group_id,
                group: None,
            })
            .collect();
        pick("group", text, candidates)
    }

    /// The id of the official (target) of `group_id` that `text` names.
    pub fn resolve_target(&self, group_id: &str, text: &str) -> Result<String> {
        let candidates = self
            .targets(group_id)?
            .into_iter()
            .map(|t| Candidate {
                name: t.name,
                id: t.target_id,
                group: None,
            })
            .collect();
        pick("target", text, candidates)
    }

    /// The id of the meeting `text` names (by its title), in `group_id`, or in any group on
    /// this device when `None` (commands that take a meeting alone).
    pub fn resolve_meeting(&self, group_id: Option<&str>, text: &str) -> Result<String> {
        let mut candidates = Vec::new();
        for (group, name) in self.groups_to_search(group_id)? {
            candidates.extend(self.meetings(&group)?.into_iter().map(|m| Candidate {
                name: m.title,
                id: m.meeting_id,
                group: name.clone(),
            }));
        }
        pick("meeting", text, candidates)
    }

    /// The id of the action item `text` names (by its title), in `group_id`, or in any group
    /// on this device when `None`.
    pub fn resolve_action(&self, group_id: Option<&str>, text: &str) -> Result<String> {
        let mut candidates = Vec::new();
        for (group, name) in self.groups_to_search(group_id)? {
            candidates.extend(self.actions(&group)?.into_iter().map(|a| Candidate {
                name: a.title,
                id: a.action_id,
                group: name.clone(),
            }));
        }
        pick("action item", text, candidates)
    }

    /// The device id of the member of `group_id` that `text` names (by the name their device
    /// gave, or its id), from the group's roster as last synced; removed devices are left
    /// out. A canvasser's device knows the group's leads alone.
    pub fn resolve_member(&mut self, group_id: &str, text: &str) -> Result<String> {
        let candidates = self
            .members(group_id)?
            .into_iter()
            .filter(|(_, m)| m.removed_at.is_none())
            .map(|(id, m)| Candidate {
                name: m.name,
                id,
                group: None,
            })
            .collect();
        pick("member", text, candidates)
    }

    /// The groups a search covers, each with its name when there are several (so that the
    /// candidates of different groups can be told apart).
    fn groups_to_search(&self, group_id: Option<&str>) -> Result<Vec<(String, Option<String>)>> {
        match group_id {
            Some(group) => {
                self.group(group)?;
                Ok(vec![(group.to_owned(), None)])
            }
            None => {
                let groups = self.groups()?;
                let several = groups.len() > 1;
                Ok(groups
                    .into_iter()
                    .map(|g| (g.group_id, several.then_some(g.name)))
                    .collect())
            }
        }
    }
}

/// Picks the one candidate `text` names, by the rules in the module's comment.
fn pick(kind: &'static str, text: &str, candidates: Vec<Candidate>) -> Result<String> {
    if let Some(exact) = candidates.iter().find(|c| c.id == text) {
        return Ok(exact.id.clone());
    }
    let wanted = text.trim().to_lowercase();
    if wanted.is_empty() {
        return Err(Error::Invalid {
            what: kind,
            reason: "nothing was given: type its name (or the start of it) or its id".into(),
        });
    }
    let named: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.name.trim().to_lowercase() == wanted)
        .collect();
    let fitting: Vec<&Candidate> = if named.is_empty() {
        candidates
            .iter()
            .filter(|c| {
                c.name.trim().to_lowercase().starts_with(&wanted)
                    || c.id.to_lowercase().starts_with(&wanted)
            })
            .collect()
    } else {
        named
    };
    match fitting.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(Error::NoMatch {
            kind,
            text: text.to_owned(),
            known: candidates,
        }),
        several => Err(Error::Ambiguous {
            kind,
            text: text.to_owned(),
            candidates: several.iter().map(|c| (*c).clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, id: &str) -> Candidate {
        Candidate {
            name: name.into(),
            id: id.into(),
            group: None,
        }
    }

    fn all() -> Vec<Candidate> {
        vec![
            c("Riverside Freedom City", "5ZbPq1"),
            c("Riverside North", "7Hk2a9"),
            c("Travis", "9xYz"),
            c("", "Qq77"),
        ]
    }

    #[test]
    fn an_id_a_name_or_the_start_of_either_in_any_case() {
        for (text, id) in [
            ("5ZbPq1", "5ZbPq1"),
            ("travis", "9xYz"),
            ("TRAV", "9xYz"),
            ("riverside n", "7Hk2a9"),
            ("5zb", "5ZbPq1"),
            ("qq", "Qq77"),
            ("riverside freedom city", "5ZbPq1"),
        ] {
            assert_eq!(
                pick("group", text, all()).ok().as_deref(),
                Some(id),
                "{text}"
            );
        }
    }

    #[test]
    fn a_name_equal_to_the_text_wins_over_longer_names_it_starts() {
        let groups = vec![c("Riverside", "a1"), c("Riverside North", "b2")];
        assert_eq!(
            pick("group", "riverside", groups).ok().as_deref(),
            Some("a1")
        );
    }

    #[test]
    fn several_fitting_are_listed_and_none_fitting_lists_what_there_is() {
        let err = pick("group", "river", all()).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "\"river\" could be any of 2 groups: Riverside Freedom City (5ZbPq1), \
                 Riverside North (7Hk2a9); give more of the name, or the id"
            )
        );
        let err = pick("group", "austin", all()).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "no group with id \"austin\" on this device, nor one whose name starts with it; \
                 the groups here: Riverside Freedom City (5ZbPq1), Riverside North (7Hk2a9), \
                 Travis (9xYz), Qq77"
            )
        );
        let err = pick("target", "x", Vec::new()).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.ends_with("there are no targets here yet")));
        assert!(pick("group", "  ", all()).is_err());
    }
}
