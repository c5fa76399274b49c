//! `action`: a group's action items.

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::schema::plan::NewAction;
use serde_json::json;

use super::Output;
use crate::ActionCommand;
use crate::render;

pub(super) fn run(device: &mut Device, command: ActionCommand) -> Result<Output> {
    Ok(match command {
        ActionCommand::Add {
            group,
            title,
            assignee,
            due,
        } => {
            let new = NewAction {
                title,
                assignee,
                due,
            };
            let action_id = device.add_action(&group, new)?;
            Output::new(json!({ "action_id": action_id }), format!("{action_id}\n"))
        }
        ActionCommand::Done { id } => {
            device.set_action_done(&id, true)?;
            Output::new(
                json!({ "action_id": id, "done": true }),
                format!("{id}: done\n"),
            )
        }
        ActionCommand::List { group } => {
            let rows = device.actions(&group)?;
            let text = render::actions(&rows);
            Output::new(json!(rows), text)
        }
    })
}
