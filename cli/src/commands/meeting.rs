//! `meeting`: a group's meetings, their agenda and notes, and who sees them.

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::schema::plan::NewMeeting;
use groundwork_core::schema::vocab::Visibility;
use serde_json::json;

use super::Output;
use crate::MeetingCommand;
use crate::render;

pub(super) fn run(device: &mut Device, command: MeetingCommand) -> Result<Output> {
    Ok(match command {
        MeetingCommand::Create {
            group,
            kind,
            title,
            target,
            at,
            zone,
            location,
        } => {
            // A time without an offset is read in the zone the meeting will have.
            let new = NewMeeting {
                kind,
                title,
                target,
                at: None,
                location,
            };
            let meeting_id =
                device.create_meeting_local(&group, new, at.as_deref(), zone.as_deref())?;
            Output::new(
                json!({ "meeting_id": meeting_id }),
                format!("{meeting_id}\n"),
            )
        }
        MeetingCommand::Edit { meeting, at, zone } => {
            let m = device.set_meeting_time(&meeting, at.as_deref(), zone.as_deref())?;
            Output::new(
                render::meeting_json(&m),
                format!("{meeting}: {}\n", render::when(m.at, m.zone.as_deref())),
            )
        }
        MeetingCommand::Agenda { meeting, add } => {
            let item_id = device.add_agenda_item(&meeting, &add)?;
            Output::new(
                json!({ "meeting_id": meeting, "item_id": item_id }),
                format!("{item_id}\n"),
            )
        }
        MeetingCommand::Notes { meeting, append } => {
            device.append_notes(&meeting, &append)?;
            Output::new(json!({ "meeting_id": meeting }), "notes saved\n")
        }
        MeetingCommand::Status { meeting, status } => {
            device.set_meeting_status(&meeting, status)?;
            Output::new(
                json!({ "meeting_id": meeting, "status": status }),
                format!("{}: {status}\n", meeting_title(device, &meeting)),
            )
        }
        MeetingCommand::Share {
            meeting,
            visibility,
        } => {
            device.set_meeting_visibility(&meeting, visibility)?;
            let m = device.meeting(&meeting)?;
            let mut text = format!("{}: {visibility}\n", render::clean_line(&m.title));
            let mut on_map = false;
            if visibility == Visibility::Public {
                let missing = off_the_public_map(device, &meeting, &m)?;
                on_map = missing.is_empty();
                if !on_map {
                    text.push_str(&format!(
                        "not on the public map yet: {}\n",
                        missing.join("; ")
                    ));
                }
            }
            Output::new(
                json!({
                    "meeting_id": meeting,
                    "visibility": visibility,
                    "on_public_map": on_map,
                }),
                text,
            )
        }
        MeetingCommand::Canvassers { meeting, setting } => {
            let shown = setting == "show";
            device.set_meeting_canvassers(&meeting, shown)?;
            Output::new(
                json!({ "meeting_id": meeting, "canvassers": shown }),
                format!(
                    "{}: {} canvassers\n",
                    meeting_title(device, &meeting),
                    if shown { "shown to" } else { "hidden from" }
                ),
            )
        }
        MeetingCommand::JoinBoard {
            meeting,
            board_meeting,
        } => {
            let joins = (board_meeting != "none").then_some(board_meeting.as_str());
            device.join_board_meeting(&meeting, joins)?;
            let title = meeting_title(device, &meeting);
            Output::new(
                json!({ "meeting_id": meeting, "joins": joins }),
                match joins {
                    Some(other) => format!(
                        "{title} is the same meeting as {}\n",
                        render::clean_line(other)
                    ),
                    None => format!("{title} is its own meeting again\n"),
                },
            )
        }
        MeetingCommand::Show { meeting } => {
            let m = device.meeting(&meeting)?;
            let with = match &m.target {
                Some(target) => {
                    let group = device.group_of_meeting(&meeting)?;
                    device
                        .targets(&group)?
                        .into_iter()
                        .find(|t| &t.target_id == target)
                }
                None => None,
            };
            Output::new(render::meeting_json(&m), render::meeting(&m, with.as_ref()))
        }
        MeetingCommand::List { group } => {
            let rows = device.meetings(&group)?;
            let text = render::meetings(&rows);
            Output::new(render::meetings_json(&rows), text)
        }
    })
}

/// A meeting's title for a sentence, or its id if the index has no row for it.
fn meeting_title(device: &Device, meeting: &str) -> String {
    device
        .group_of_meeting(meeting)
        .and_then(|group| device.meetings(&group))
        .ok()
        .and_then(|rows| rows.into_iter().find(|m| m.meeting_id == meeting))
        .map_or_else(
            || render::clean_line(meeting).to_string(),
            |m| render::clean_line(&m.title).to_string(),
        )
}

/// Why a public meeting is not on the relay's public map (yet), each with what would put it
/// there; empty when it is (once synced). The map shows official meetings with a time, with
/// an official named by county, requested, scheduled or held, of groups that share.
fn off_the_public_map(
    device: &Device,
    meeting_id: &str,
    m: &groundwork_core::schema::plan::Meeting,
) -> Result<Vec<String>> {
    use groundwork_core::schema::vocab::{MeetingKind, MeetingStatus};
    let group = device.group_of_meeting(meeting_id)?;
    let mut missing = Vec::new();
    if m.kind == MeetingKind::Organizing {
        missing.push(
            "an organizing meeting is never on it (the map shows meetings with officials)"
                .to_owned(),
        );
    } else {
        let county = m.target.as_deref().and_then(|t| {
            device
                .targets(&group)
                .ok()?
                .into_iter()
                .find(|row| row.target_id == t)?
                .county
        });
        if county.is_none() {
            missing.push(
                "its official has no county, so the map cannot place it (`target add GROUP \
                 --county FIPS --office ...`)"
                    .to_owned(),
            );
        }
    }
    match m.status {
        MeetingStatus::Requested | MeetingStatus::Scheduled | MeetingStatus::Held => {}
        MeetingStatus::Draft => missing.push(
            "it is a draft; it appears on the public map once scheduled (or requested): \
             `meeting status MEETING scheduled`"
                .to_owned(),
        ),
        other => missing.push(format!(
            "it is {other}; the map shows requested, scheduled and held meetings"
        )),
    }
    if m.at.is_none() {
        missing.push("it has no time yet".to_owned());
    }
    if !device.group(&group)?.shares {
        missing
            .push("the group does not share with the campaign (`group share GROUP on`)".to_owned());
    }
    Ok(missing)
}
