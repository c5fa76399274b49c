//! The plan document: one per group, co-edited by leads and members. Profile, targets, meetings,
//! action items and the officials' answers rule by rule.
//!
//! Every edit is a method on [`Plan`] that checks its input and changes the typed value; the
//! caller hydrates the plan, calls the method and reconciles it back, so the same code runs on a
//! device, in the property tests and (later) anywhere else a plan is edited.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

use crate::error::{Error, Result};
use crate::rules::RuleCode;
use crate::schema::vocab::{
    ExistingPolicy, Level, MeetingKind, MeetingStatus, Office, Position, Visibility,
};
use crate::schema::{SCHEMA_VERSION, non_empty};

/// A group's plan: everything the group decides together.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Plan {
    /// The schema version that wrote this document.
    #[autosurgeon(hydrate = "crate::schema::lenient::uint_or_int")]
    pub schema: u64,
    /// The group this plan belongs to.
    pub group_id: String,
    /// Who the group is.
    pub profile: Profile,
    /// Officials the group asks to adopt the rules, by id.
    pub targets: BTreeMap<String, Target>,
    /// Meetings, organizing and official, by id.
    pub meetings: BTreeMap<String, Meeting>,
    /// Action items, by id.
    pub actions: BTreeMap<String, ActionItem>,
    /// What each target answered for each rule, keyed by [`response_key`].
    pub responses: BTreeMap<String, RuleResponse>,
}

/// Who the group is.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Profile {
    /// The group's name.
    pub name: String,
    /// The place the group works in, e.g. "Travis County, TX".
    #[autosurgeon(missing = "Default::default")]
    pub jurisdiction: Option<String>,
    /// The device that created the group.
    pub created_by: String,
    /// Its name, as its owner gave it: the relay's name for the group's first lead (the name
    /// its canvassers see).
    #[autosurgeon(missing = "Default::default")]
    pub created_by_name: Option<String>,
    /// When the group was created (Unix milliseconds).
    pub created_at: i64,
    /// Whether the group shares with the campaign (its targets, its official meetings' status
    /// and time, its rule responses, counts of its canvassing). On unless a lead turns it off;
    /// groups from before the setting share, as groups do by default.
    #[autosurgeon(missing = "shares_by_default")]
    pub shares: bool,
    /// How many months of contacts the group keeps (the current month and those before it):
    /// older contacts documents are erased on the relay and every device. `None`: kept until
    /// a lead sets it. A lead's setting.
    #[autosurgeon(hydrate = "crate::schema::lenient::opt_uint_or_int")]
    pub retention_months: Option<u64>,
    /// The group's IANA time zone, for its meetings with no county to take one from (its own
    /// organizing meetings): set from its jurisdiction when that names one county. `None` in
    /// plans from before zones, read as the same default ([`Plan::group_zone`]).
    #[autosurgeon(missing = "Default::default")]
    pub zone: Option<String>,
}

fn shares_by_default() -> bool {
    true
}

/// An official the group asks to adopt the model rules.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Target {
    /// Its id in [`Plan::targets`].
    pub id: String,
    /// The official's name.
    pub name: String,
    /// Their title, e.g. "Sheriff".
    pub title: String,
    /// Their agency, e.g. "Travis County Sheriff's Office".
    #[autosurgeon(missing = "Default::default")]
    pub agency: Option<String>,
    /// The jurisdiction they answer for.
    #[autosurgeon(missing = "Default::default")]
    pub jurisdiction: Option<String>,
    /// The level of government of that jurisdiction.
    pub level: Level,
    /// The county the office is in, by its 5-digit FIPS code (see [`crate::places`]).
    #[autosurgeon(missing = "Default::default")]
    pub county: Option<String>,
    /// The office held.
    #[autosurgeon(missing = "Default::default")]
    pub office: Option<Office>,
    /// The city or precinct, for offices below the county (a police chief's city).
    #[autosurgeon(missing = "Default::default")]
    pub place: Option<String>,
}

impl Target {
    /// The key of "the same official" across groups (see [`official_key`]), for targets that
    /// name their county and office; `None` for free-text targets written before codes.
    pub fn official_key(&self) -> Option<String> {
        Some(official_key(
            self.county.as_deref()?,
            self.office?,
            self.place.as_deref(),
        ))
    }
}

/// The key two groups asking the same official share: `FIPS/office` or `FIPS/office/place`,
/// the place folded to lower case with runs of anything but letters and digits as one `-`
/// ("St. Louis" and "st louis" are one place).
pub fn official_key(county: &str, office: Office, place: Option<&str>) -> String {
    let place = place.map(fold_place).filter(|p| !p.is_empty());
    match place {
        Some(p) => format!("{county}/{office}/{p}"),
        None => format!("{county}/{office}"),
    }
}

fn fold_place(place: &str) -> String {
    place
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// A meeting: the group's own, or one requested with an official.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Meeting {
    /// Its id in [`Plan::meetings`].
    pub id: String,
    /// Organizing or official.
    pub kind: MeetingKind,
    /// A short title.
    pub title: String,
    /// The official met, for official meetings.
    #[autosurgeon(missing = "Default::default")]
    pub target: Option<String>,
    /// When it is (Unix milliseconds), once known.
    #[autosurgeon(missing = "Default::default")]
    pub at: Option<i64>,
    /// Its IANA time zone (`America/Los_Angeles`): the zone its time is shown in, and the one
    /// a time typed without an offset means. Set when it is created, from its official's
    /// county, else the group's zone, unless a lead gives another. `None` in meetings from
    /// before zones, read as that same default ([`Plan::meeting_zone`]); `None` there too: UTC.
    #[autosurgeon(missing = "Default::default")]
    pub zone: Option<String>,
    /// Where it is.
    #[autosurgeon(missing = "Default::default")]
    pub location: Option<String>,
    /// Who hosts it.
    #[autosurgeon(missing = "Default::default")]
    pub host: Option<String>,
    /// Roles (facilitator, note taker, ...) to the person who takes them.
    #[autosurgeon(missing = "Default::default")]
    pub roles: BTreeMap<String, String>,
    /// The agenda, in order.
    #[autosurgeon(missing = "Default::default")]
    pub agenda: Vec<AgendaItem>,
    /// Who came, or is coming.
    #[autosurgeon(missing = "Default::default")]
    pub attendees: Vec<String>,
    /// Where it stands.
    pub status: MeetingStatus,
    /// Who beyond the group may see it (and its place).
    #[autosurgeon(missing = "Default::default")]
    pub visibility: Visibility,
    /// Whether the group's canvassers are shown it (its title, time, place and status: see
    /// [`crate::schema::brief`]); shared and public meetings are shown them anyway.
    #[autosurgeon(missing = "Default::default")]
    pub canvassers: bool,
    /// The meeting on the county's board (`GROUP/MEETING`) this one is the same as, when the
    /// office combined several groups' requests into one meeting.
    #[autosurgeon(missing = "Default::default")]
    pub joins: Option<String>,
    /// Notes that the members write together, merged character by character.
    #[autosurgeon(missing = "Default::default")]
    pub notes: Text,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
}

/// One item of a meeting's agenda.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct AgendaItem {
    /// Its id, so that concurrent inserts and moves merge item by item.
    #[key]
    pub id: String,
    /// What is to be discussed.
    pub text: String,
}

/// A task someone in the group took on.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct ActionItem {
    /// Its id in [`Plan::actions`].
    pub id: String,
    /// What is to be done.
    pub title: String,
    /// Who does it.
    #[autosurgeon(missing = "Default::default")]
    pub assignee: Option<String>,
    /// By when, as an ISO date (YYYY-MM-DD).
    #[autosurgeon(missing = "Default::default")]
    pub due: Option<String>,
    /// Whether it is done.
    pub done: bool,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
}

/// What one target answered for one rule.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct RuleResponse {
    /// The target who answered.
    pub target: String,
    /// The rule.
    pub rule: RuleCode,
    /// Whether the rule is already policy.
    pub existing: ExistingPolicy,
    /// What the official said they will do.
    pub position: Position,
    /// Conditions they named ("would sign if 'shall' read 'should'").
    #[autosurgeon(missing = "Default::default")]
    pub conditions: Option<String>,
    /// The legal basis they cited.
    #[autosurgeon(missing = "Default::default")]
    pub legal_basis: Option<String>,
    /// The meeting where they answered.
    #[autosurgeon(missing = "Default::default")]
    pub meeting: Option<String>,
    /// The device that recorded the answer.
    pub recorded_by: String,
    /// When it was recorded (Unix milliseconds).
    pub recorded_at: i64,
}

/// The key of a target's response to a rule in [`Plan::responses`]: one answer per pair, so two
/// members recording the same answer concurrently converge on one entry.
pub fn response_key(target: &str, rule: RuleCode) -> String {
    format!("{target}/{rule}")
}

/// The fields of a new target.
#[derive(Clone, Debug, Default)]
pub struct NewTarget {
    /// The official's name.
    pub name: String,
    /// Their title.
    pub title: String,
    /// Their agency.
    pub agency: Option<String>,
    /// Their jurisdiction.
    pub jurisdiction: Option<String>,
    /// Its level; the office's, else `other`, when not given.
    pub level: Option<Level>,
    /// The county, by FIPS code; checked against the directory.
    pub county: Option<String>,
    /// The office held (needs a county).
    pub office: Option<Office>,
    /// The city or precinct, for offices below the county.
    pub place: Option<String>,
}

/// The fields of a new meeting.
#[derive(Clone, Debug)]
pub struct NewMeeting {
    /// Organizing or official.
    pub kind: MeetingKind,
    /// A short title.
    pub title: String,
    /// The official met (required for official meetings).
    pub target: Option<String>,
    /// When (Unix milliseconds).
    pub at: Option<i64>,
    /// Where.
    pub location: Option<String>,
}
// A new meeting's zone is its official's county's or the group's ([`Plan::create_meeting`]);
// a lead's choice is given beside it ([`Plan::create_meeting_in`]): a field here would change
// the mobile bindings' record for what only the command line sets so far.

/// The fields of a new action item.
#[derive(Clone, Debug, Default)]
pub struct NewAction {
    /// What is to be done.
    pub title: String,
    /// Who does it.
    pub assignee: Option<String>,
    /// By when, as an ISO date (YYYY-MM-DD).
    pub due: Option<String>,
}

/// A rule response as recorded by a member.
#[derive(Clone, Debug)]
pub struct NewResponse {
    /// The target who answered.
    pub target: String,
    /// The rule.
    pub rule: RuleCode,
    /// Whether the rule is already policy.
    pub existing: ExistingPolicy,
    /// What the official said they will do.
    pub position: Position,
    /// Conditions they named.
    pub conditions: Option<String>,
    /// The legal basis they cited.
    pub legal_basis: Option<String>,
    /// The meeting where they answered.
    pub meeting: Option<String>,
}

impl Plan {
    /// A new plan for a group.
    pub fn new(
        group_id: &str,
        name: &str,
        jurisdiction: Option<String>,
        created_by: &str,
        now: i64,
    ) -> Result<Self> {
        let mut plan = Plan {
            schema: SCHEMA_VERSION,
            group_id: group_id.to_owned(),
            profile: Profile {
                name: non_empty("group name", name)?,
                jurisdiction: optional(jurisdiction),
                created_by: created_by.to_owned(),
                created_by_name: None,
                created_at: now,
                retention_months: None,
                shares: true,
                zone: None,
            },
            targets: BTreeMap::new(),
            meetings: BTreeMap::new(),
            actions: BTreeMap::new(),
            responses: BTreeMap::new(),
        };
        plan.profile.zone = plan.group_zone().map(str::to_owned);
        Ok(plan)
    }

    /// The group's time zone: the one it set, else its jurisdiction's when that names one
    /// county ([`crate::places::jurisdiction_county`]), else none (times in UTC).
    pub fn group_zone(&self) -> Option<&str> {
        match &self.profile.zone {
            Some(zone) => Some(zone),
            None => crate::places::jurisdiction_county(self.profile.jurisdiction.as_deref()?)
                .map(|c| c.zone),
        }
    }

    /// Sets the group's time zone (an IANA name), or (`None`) goes back to its jurisdiction's.
    pub fn set_group_zone(&mut self, zone: Option<&str>) -> Result<()> {
        self.profile.zone = zone.map(crate::time::zone).transpose()?;
        Ok(())
    }

    /// The zone a new meeting with `target` is in: `zone` if given (checked), else the
    /// target's county's, else the group's ([`Plan::group_zone`]); `None`: UTC.
    pub fn new_meeting_zone(
        &self,
        target: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Option<String>> {
        if let Some(zone) = zone {
            return crate::time::zone(zone).map(Some);
        }
        let county = target
            .and_then(|t| self.targets.get(t))
            .and_then(|t| t.county.as_deref())
            .and_then(|fips| crate::places::county(fips).ok());
        Ok(county
            .map(|c| c.zone)
            .or_else(|| self.group_zone())
            .map(str::to_owned))
    }

    /// A meeting's zone: its own, else (a meeting from before zones) the one it would be
    /// given now, from its official's county or the group; `None`: UTC.
    pub fn meeting_zone(&self, meeting: &Meeting) -> Option<String> {
        match &meeting.zone {
            Some(zone) => Some(zone.clone()),
            None => self
                .new_meeting_zone(meeting.target.as_deref(), None)
                .ok()
                .flatten(),
        }
    }

    /// Adds an official to ask. With a county and an office, the name and title may be left
    /// empty: they default to the office and the county ("Sheriff", "Sheriff of Travis, TX").
    pub fn add_target(&mut self, id: &str, new: NewTarget) -> Result<&Target> {
        let county = match optional(new.county) {
            Some(fips) => Some(crate::places::county(fips.trim())?),
            None => None,
        };
        let place = optional(new.place);
        let (name, title) = match (county, new.office) {
            (Some(_), None) => {
                return Err(Error::Invalid {
                    what: "target",
                    reason: "a county needs an office (sheriff, police-chief, ...)".into(),
                });
            }
            (None, Some(_)) => {
                return Err(Error::Invalid {
                    what: "target",
                    reason: "an office needs its county (--county FIPS; `places search` finds it)"
                        .into(),
                });
            }
            (Some(c), Some(office)) => {
                let title = match optional(Some(new.title)) {
                    Some(t) => t,
                    None => office.title().to_owned(),
                };
                let name = match optional(Some(new.name)) {
                    Some(n) => n,
                    None => match &place {
                        Some(p) => format!("{title} of {p}, {}", c.state),
                        None => format!("{title} of {c}"),
                    },
                };
                (name, title)
            }
            (None, None) => (
                non_empty("target name", &new.name)?,
                non_empty("target title", &new.title)?,
            ),
        };
        if place.is_some() && county.is_none() {
            return Err(Error::Invalid {
                what: "target",
                reason: "a city or precinct needs its county and office".into(),
            });
        }
        let target = Target {
            id: id.to_owned(),
            name,
            title,
            agency: optional(new.agency),
            jurisdiction: optional(new.jurisdiction).or_else(|| county.map(|c| c.to_string())),
            level: new
                .level
                .or(new.office.map(Office::level))
                .unwrap_or(Level::Other),
            county: county.map(|c| c.fips.to_owned()),
            office: new.office,
            place,
        };
        Ok(self.targets.entry(id.to_owned()).or_insert(target))
    }

    /// Creates a meeting in `draft` status, in its official's county's time zone, else the
    /// group's ([`Plan::new_meeting_zone`]).
    pub fn create_meeting(&mut self, id: &str, new: NewMeeting, now: i64) -> Result<&Meeting> {
        self.create_meeting_in(id, new, None, now)
    }

    /// Creates a meeting in `draft` status in `zone` (a lead's choice, checked), else as
    /// [`Plan::create_meeting`] does. `new.at` is an instant: a time typed without an offset
    /// is read in the same zone first ([`Plan::new_meeting_zone`], [`crate::time::parse_local`]).
    pub fn create_meeting_in(
        &mut self,
        id: &str,
        new: NewMeeting,
        zone: Option<&str>,
        now: i64,
    ) -> Result<&Meeting> {
        let title = non_empty("meeting title", &new.title)?;
        match (new.kind, &new.target) {
            (MeetingKind::Official, None) => {
                return Err(Error::Invalid {
                    what: "meeting",
                    reason: "an official meeting needs a target (the official to meet)".into(),
                });
            }
            (_, Some(target)) => {
                self.target(target)?;
            }
            (MeetingKind::Organizing, None) => {}
        }
        let zone = self.new_meeting_zone(new.target.as_deref(), zone)?;
        let meeting = Meeting {
            id: id.to_owned(),
            kind: new.kind,
            title,
            target: new.target,
            at: new.at,
            zone,
            location: optional(new.location),
            host: None,
            roles: BTreeMap::new(),
            agenda: Vec::new(),
            attendees: Vec::new(),
            status: MeetingStatus::Draft,
            visibility: Visibility::Private,
            canvassers: false,
            joins: None,
            notes: Text::default(),
            created_at: now,
        };
        Ok(self.meetings.entry(id.to_owned()).or_insert(meeting))
    }

    /// Sets when a meeting is, as a person types it, and in which zone. `at` without an
    /// offset is local to the meeting's zone (the new one, if `zone` is given):
    /// [`crate::time::parse_local`]. `zone` alone moves the meeting's time to that zone at the
    /// same clock time (a lead correcting the zone of a meeting typed as 18:30 means 18:30
    /// there). Returns the meeting.
    pub fn set_meeting_time(
        &mut self,
        meeting: &str,
        at: Option<&str>,
        zone: Option<&str>,
    ) -> Result<&Meeting> {
        let m = self.meeting(meeting)?;
        let old_zone = self.meeting_zone(m);
        let new_zone = match zone {
            Some(z) => Some(crate::time::zone(z)?),
            None => old_zone.clone(),
        };
        let new_at = match (at, m.at) {
            (Some(text), _) => Some(crate::time::parse_local(text, new_zone.as_deref())?),
            (None, Some(ms)) if new_zone != old_zone => Some(crate::time::same_local_time(
                ms,
                old_zone.as_deref(),
                new_zone.as_deref(),
            )?),
            (None, kept) => kept,
        };
        let m = self.meeting_mut(meeting)?;
        m.at = new_at;
        m.zone = new_zone;
        Ok(m)
    }

    /// Appends an item to a meeting's agenda.
    pub fn add_agenda_item(&mut self, meeting: &str, item_id: &str, text: &str) -> Result<()> {
        let text = non_empty("agenda item", text)?;
        self.meeting_mut(meeting)?.agenda.push(AgendaItem {
            id: item_id.to_owned(),
            text,
        });
        Ok(())
    }

    /// Appends a paragraph to a meeting's notes: an insertion at the end of the shared text, so
    /// it merges with what others write at the same time.
    pub fn append_notes(&mut self, meeting: &str, text: &str) -> Result<()> {
        let text = non_empty("notes", text)?;
        let notes = &mut self.meeting_mut(meeting)?.notes;
        let end = notes.as_str().len();
        if end == 0 || notes.as_str().ends_with('\n') {
            notes.splice(end, 0, text);
        } else {
            notes.splice(end, 0, format!("\n{text}"));
        }
        Ok(())
    }

    /// Sets how many months of contacts the group keeps (`None`: all), between 1 and 120.
    pub fn set_retention(&mut self, months: Option<u64>) -> Result<()> {
        if let Some(m) = months
            && !(1..=120).contains(&m)
        {
            return Err(Error::Invalid {
                what: "retention",
                reason: format!("{m} months is outside 1 to 120"),
            });
        }
        self.profile.retention_months = months;
        Ok(())
    }

    /// Turns sharing with the campaign on or off.
    pub fn set_sharing(&mut self, on: bool) {
        self.profile.shares = on;
    }

    /// Sets who beyond the group may see a meeting.
    pub fn set_meeting_visibility(&mut self, meeting: &str, visibility: Visibility) -> Result<()> {
        self.meeting_mut(meeting)?.visibility = visibility;
        Ok(())
    }

    /// Shows a meeting to the group's canvassers, or stops.
    pub fn set_meeting_canvassers(&mut self, meeting: &str, shown: bool) -> Result<()> {
        self.meeting_mut(meeting)?.canvassers = shown;
        Ok(())
    }

    /// Marks an official meeting as the same as another group's meeting on the board
    /// (`GROUP/MEETING`), or (`None`) as its own again.
    pub fn join_board_meeting(&mut self, meeting: &str, board_meeting: Option<&str>) -> Result<()> {
        let group = self.group_id.clone();
        let m = self.meeting_mut(meeting)?;
        if m.kind != MeetingKind::Official {
            return Err(Error::Invalid {
                what: "meeting",
                reason: "only a meeting with an official can join one on the board".into(),
            });
        }
        if let Some(other) = board_meeting {
            let Some((other_group, other_meeting)) = other.split_once('/') else {
                return Err(Error::Invalid {
                    what: "board meeting",
                    reason: format!("{other:?} is not GROUP/MEETING (see `board show --json`)"),
                });
            };
            if other_group == group || other_meeting.is_empty() {
                return Err(Error::Invalid {
                    what: "board meeting",
                    reason: "a meeting joins another group's meeting, not its own group's".into(),
                });
            }
        }
        m.joins = board_meeting.map(str::to_owned);
        Ok(())
    }

    /// Moves a meeting to `status`.
    pub fn set_meeting_status(&mut self, meeting: &str, status: MeetingStatus) -> Result<()> {
        self.meeting_mut(meeting)?.status = status;
        Ok(())
    }

    /// Adds an action item.
    pub fn add_action(&mut self, id: &str, new: NewAction, now: i64) -> Result<&ActionItem> {
        if let Some(due) = &new.due {
            crate::time::parse_date(due)?;
        }
        let action = ActionItem {
            id: id.to_owned(),
            title: non_empty("action title", &new.title)?,
            assignee: optional(new.assignee),
            due: new.due,
            done: false,
            created_at: now,
        };
        Ok(self.actions.entry(id.to_owned()).or_insert(action))
    }

    /// Marks an action item done (or not done).
    pub fn set_action_done(&mut self, id: &str, done: bool) -> Result<()> {
        let action = self.actions.get_mut(id).ok_or_else(|| Error::NotFound {
            kind: "action item",
            id: id.to_owned(),
        })?;
        action.done = done;
        Ok(())
    }

    /// Records (or replaces) what a target answered for a rule.
    pub fn record_response(
        &mut self,
        new: NewResponse,
        recorded_by: &str,
        now: i64,
    ) -> Result<&RuleResponse> {
        self.target(&new.target)?;
        if let Some(meeting) = &new.meeting {
            self.meeting(meeting)?;
        }
        let key = response_key(&new.target, new.rule);
        let response = RuleResponse {
            target: new.target,
            rule: new.rule,
            existing: new.existing,
            position: new.position,
            conditions: optional(new.conditions),
            legal_basis: optional(new.legal_basis),
            meeting: new.meeting,
            recorded_by: recorded_by.to_owned(),
            recorded_at: now,
        };
        self.responses.insert(key.clone(), response);
        Ok(&self.responses[&key])
    }

    /// The target with this id.
    pub fn target(&self, id: &str) -> Result<&Target> {
        self.targets.get(id).ok_or_else(|| Error::NotFound {
            kind: "target",
            id: id.to_owned(),
        })
    }

    /// The meeting with this id.
    pub fn meeting(&self, id: &str) -> Result<&Meeting> {
        self.meetings.get(id).ok_or_else(|| Error::NotFound {
            kind: "meeting",
            id: id.to_owned(),
        })
    }

    fn meeting_mut(&mut self, id: &str) -> Result<&mut Meeting> {
        self.meetings.get_mut(id).ok_or_else(|| Error::NotFound {
            kind: "meeting",
            id: id.to_owned(),
        })
    }
}

/// `None` for an absent or blank optional text, trimmed text otherwise.
fn optional(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{self, DocKind};

    fn plan() -> Plan {
        Plan::new("g", "G", None, "d", 0).unwrap_or_else(|e| panic!("{e}"))
    }

    fn by_office(county: &str, office: Office, place: Option<&str>) -> NewTarget {
        NewTarget {
            county: Some(county.into()),
            office: Some(office),
            place: place.map(Into::into),
            ..NewTarget::default()
        }
    }

    #[test]
    fn a_target_by_county_and_office_names_the_same_official_in_every_group() -> Result<()> {
        let mut p = plan();
        let sheriff = p.add_target("t1", by_office("48453", Office::Sheriff, None))?;
        assert_eq!(sheriff.name, "Sheriff of Travis, TX");
        assert_eq!(sheriff.title, "Sheriff");
        assert_eq!(sheriff.level, Level::County);
        assert_eq!(sheriff.jurisdiction.as_deref(), Some("Travis, TX"));
        assert_eq!(sheriff.official_key().as_deref(), Some("48453/sheriff"));
        // The place folds: spelled two ways, one official.
        let a = p
            .add_target(
                "t2",
                by_office("29510", Office::PoliceChief, Some("St. Louis")),
            )?
            .official_key();
        let b = p
            .add_target(
                "t3",
                by_office("29510", Office::PoliceChief, Some(" st  louis ")),
            )?
            .official_key();
        assert_eq!(a.as_deref(), Some("29510/police-chief/st-louis"));
        assert_eq!(a, b);
        // A name and title given are kept.
        let named = NewTarget {
            name: "Sally Hernandez".into(),
            ..by_office("48453", Office::Sheriff, None)
        };
        assert_eq!(p.add_target("t4", named)?.name, "Sally Hernandez");
        Ok(())
    }

    #[test]
    fn a_half_named_official_is_refused_by_name() {
        let mut p = plan();
        let refused = |p: &mut Plan, new: NewTarget| {
            p.add_target("t", new)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let no_office = NewTarget {
            county: Some("48453".into()),
            ..NewTarget::default()
        };
        assert!(refused(&mut p, no_office).contains("needs an office"));
        let no_county = NewTarget {
            office: Some(Office::Sheriff),
            name: "X".into(),
            title: "Y".into(),
            ..NewTarget::default()
        };
        assert!(refused(&mut p, no_county).contains("needs its county"));
        assert!(refused(&mut p, by_office("99999", Office::Sheriff, None)).contains("99999"));
        let place_alone = NewTarget {
            place: Some("Austin".into()),
            name: "X".into(),
            title: "Y".into(),
            ..NewTarget::default()
        };
        assert!(refused(&mut p, place_alone).contains("needs its county"));
        assert!(p.targets.is_empty());
    }

    fn meeting(target: Option<&str>) -> NewMeeting {
        NewMeeting {
            kind: if target.is_some() {
                MeetingKind::Official
            } else {
                MeetingKind::Organizing
            },
            title: "Ask".into(),
            target: target.map(Into::into),
            at: None,
            location: None,
        }
    }

    #[test]
    fn a_meeting_is_in_its_officials_county_else_the_groups_zone() -> Result<()> {
        let mut p = Plan::new("g", "G", Some("Maricopa County, AZ".into()), "d", 0)?;
        assert_eq!(p.profile.zone.as_deref(), Some("America/Phoenix"));
        p.add_target("yolo", by_office("06113", Office::Sheriff, None))?;
        let m = p.create_meeting("m1", meeting(Some("yolo")), 1)?;
        assert_eq!(m.zone.as_deref(), Some("America/Los_Angeles"));
        let m = p.create_meeting("m2", meeting(None), 1)?;
        assert_eq!(m.zone.as_deref(), Some("America/Phoenix"));
        let m = p.create_meeting_in("m3", meeting(Some("yolo")), Some("america/denver"), 1)?;
        assert_eq!(m.zone.as_deref(), Some("America/Denver"));
        assert!(
            p.create_meeting_in("m4", meeting(None), Some("Mars/Olympus"), 1)
                .is_err()
        );
        // A group whose jurisdiction names no one county: UTC.
        let mut q = plan();
        assert_eq!(q.create_meeting("m", meeting(None), 1)?.zone, None);
        q.set_group_zone(Some("America/New_York"))?;
        assert_eq!(
            q.create_meeting("n", meeting(None), 1)?.zone.as_deref(),
            Some("America/New_York")
        );
        Ok(())
    }

    #[test]
    fn a_meetings_time_is_typed_in_its_zone() -> Result<()> {
        let mut p = plan();
        p.add_target("yolo", by_office("06113", Office::Sheriff, None))?;
        p.create_meeting("m", meeting(Some("yolo")), 1)?;
        let m = p.set_meeting_time("m", Some("2026-12-15T18:30"), None)?;
        assert_eq!(
            m.at,
            crate::time::parse_rfc3339("2026-12-16T02:30:00Z").ok()
        );
        // The zone alone keeps the clock time: 18:30, now in Phoenix.
        let m = p.set_meeting_time("m", None, Some("America/Phoenix"))?;
        assert_eq!(
            m.at.map(|at| crate::time::format_local(at, m.zone.as_deref())),
            Some("Tue 15 Dec 2026, 18:30 MST".into())
        );
        // Both: the time is read in the new zone.
        let m = p.set_meeting_time("m", Some("2026-03-08 03:30"), Some("America/Los_Angeles"))?;
        assert_eq!(
            m.at,
            crate::time::parse_rfc3339("2026-03-08T10:30:00Z").ok()
        );
        let gap = p
            .set_meeting_time("m", Some("2026-03-08T02:30"), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            gap.contains("does not exist in America/Los_Angeles"),
            "{gap}"
        );
        Ok(())
    }

    #[test]
    fn a_meeting_from_before_zones_takes_its_default_zone() -> Result<()> {
        use automerge::ROOT;
        use automerge::transaction::Transactable;
        let mut p = Plan::new("g", "G", Some("Yolo County, CA".into()), "d", 0)?;
        p.add_target("t", by_office("04013", Office::Sheriff, None))?;
        p.create_meeting("official", meeting(Some("t")), 1)?;
        p.create_meeting("own", meeting(None), 1)?;
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &p, "g", DocKind::Plan)?;
        let get = |doc: &automerge::AutoCommit, obj: &automerge::ObjId, key: &str| {
            use automerge::ReadDoc;
            doc.get(obj, key)?
                .map(|(_, id)| id)
                .ok_or(Error::Random(format!("no {key}")))
        };
        let meetings = get(&doc, &ROOT, "meetings")?;
        for id in ["official", "own"] {
            let m = get(&doc, &meetings, id)?;
            doc.delete(&m, "zone")?;
        }
        let profile = get(&doc, &ROOT, "profile")?;
        doc.delete(&profile, "zone")?;
        let loaded: Plan = schema::hydrate(&doc, "g", DocKind::Plan)?;
        assert_eq!(loaded.meetings["own"].zone, None);
        assert_eq!(loaded.profile.zone, None);
        let zone = |id: &str| loaded.meeting_zone(&loaded.meetings[id]);
        assert_eq!(zone("official").as_deref(), Some("America/Phoenix"));
        assert_eq!(zone("own").as_deref(), Some("America/Los_Angeles"));
        Ok(())
    }

    #[test]
    fn a_target_written_before_codes_still_loads() -> Result<()> {
        use automerge::transaction::Transactable;
        use automerge::{ObjType, ROOT, ReadDoc};
        let mut p = plan();
        p.add_target(
            "t1",
            NewTarget {
                name: "Sheriff Example".into(),
                title: "Sheriff".into(),
                ..NewTarget::default()
            },
        )?;
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &p, "g", DocKind::Plan)?;
        // Take the new fields out, as a document from before them has none.
        let targets = doc
            .get(ROOT, "targets")?
            .map(|(_, id)| id)
            .ok_or(Error::Random("no targets".into()))?;
        let t1 = doc
            .get(&targets, "t1")?
            .map(|(_, id)| id)
            .ok_or(Error::Random("no t1".into()))?;
        for key in ["county", "office", "place"] {
            doc.delete(&t1, key)?;
        }
        assert_eq!(doc.object_type(&t1)?, ObjType::Map);
        assert!(doc.get(&t1, "county")?.is_none());
        let loaded: Plan = schema::hydrate(&doc, "g", DocKind::Plan)?;
        assert_eq!(loaded.targets["t1"].county, None);
        assert_eq!(loaded.targets["t1"].official_key(), None);
        assert_eq!(loaded, p);
        Ok(())
    }
}
