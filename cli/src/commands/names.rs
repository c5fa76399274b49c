//! Names to ids, for every command: a group, official, meeting, action item or member may be
//! given by its name (or the start of its name or id).

use anyhow::Result;
use groundwork_core::Device;

use crate::{
    ActionCommand, Command, ContactCommand, GroupCommand, InviteCommand, LogContact,
    MeetingCommand, MemberCommand, ResponseCommand, TargetCommand,
};

/// Names to ids, in one place: every group, official, meeting and action item a command takes
/// may be given by its name (or the start of its name or id, in any case), and becomes the id
/// it means before the command runs; an id is taken as it always was. The two commands the
/// relay answers for groups this device may not hold (`token`, `member remove`) resolve in
/// their own functions, after naming their relay, with [`remote_group`] and [`remote_member`].
pub(super) fn resolve(device: &Device, command: &mut Command) -> Result<()> {
    match command {
        Command::Group(
            GroupCommand::Retention { group, .. }
            | GroupCommand::Share { group, .. }
            | GroupCommand::Zone { group, .. },
        )
        | Command::Invite(
            InviteCommand::Create { group, .. } | InviteCommand::OwnDevice { group, .. },
        )
        | Command::Member(MemberCommand::List { group })
        | Command::Target(TargetCommand::Add { group, .. } | TargetCommand::List { group })
        | Command::Meeting(MeetingCommand::List { group })
        | Command::Action(ActionCommand::Add { group, .. } | ActionCommand::List { group })
        | Command::Contact(
            ContactCommand::Log(LogContact { group, .. })
            | ContactCommand::List { group, .. }
            | ContactCommand::Export { group, .. },
        ) => *group = device.resolve_group(group)?,
        Command::Meeting(MeetingCommand::Create { group, target, .. })
        | Command::Scorecard { group, target } => {
            *group = device.resolve_group(group)?;
            if let Some(target) = target {
                *target = device.resolve_target(group, target)?;
            }
        }
        Command::Response(ResponseCommand::Record(r)) => {
            r.group = device.resolve_group(&r.group)?;
            r.target = device.resolve_target(&r.group, &r.target)?;
            if let Some(meeting) = &mut r.meeting {
                *meeting = device.resolve_meeting(Some(&r.group), meeting)?;
            }
        }
        Command::Meeting(
            MeetingCommand::Agenda { meeting, .. }
            | MeetingCommand::Notes { meeting, .. }
            | MeetingCommand::Status { meeting, .. }
            | MeetingCommand::Share { meeting, .. }
            | MeetingCommand::Canvassers { meeting, .. }
            | MeetingCommand::JoinBoard { meeting, .. }
            | MeetingCommand::Edit { meeting, .. }
            | MeetingCommand::Show { meeting },
        ) => *meeting = device.resolve_meeting(None, meeting)?,
        Command::Action(ActionCommand::Done { id }) => *id = device.resolve_action(None, id)?,
        _ => {}
    }
    Ok(())
}

/// A group for a request the relay answers, resolved as everywhere; an id this device does not
/// hold goes to the relay as it is, which decides, as it always did.
pub(super) fn remote_group(device: &Device, text: &str) -> Result<String> {
    match device.resolve_group(text) {
        Err(groundwork_core::Error::NoMatch { .. })
            if text.parse::<groundwork_core::ids::DocumentId>().is_ok() =>
        {
            Ok(text.to_owned())
        }
        other => Ok(other?),
    }
}

/// A member for `member remove`, by name or id from the group's roster as last synced. A
/// device id the roster here does not list (not synced yet; a canvasser's device knows only
/// the leads) goes to the relay as it is, which decides.
pub(super) fn remote_member(device: &mut Device, group: &str, text: &str) -> Result<String> {
    if device.group(group).is_err() {
        return Ok(text.to_owned());
    }
    match device.resolve_member(group, text) {
        Err(groundwork_core::Error::NoMatch { .. })
            if groundwork_core::identity::verifying_key(text).is_ok() =>
        {
            Ok(text.to_owned())
        }
        other => Ok(other?),
    }
}
