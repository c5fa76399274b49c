//! `group`: creating groups, listing them, and a lead's settings (sharing, time zone,
//! retention).

use anyhow::Result;
use groundwork_core::Device;
use serde_json::json;

use super::{Output, group_name};
use crate::GroupCommand;
use crate::render::{self, count};

pub(super) fn run(device: &mut Device, command: GroupCommand) -> Result<Output> {
    Ok(match command {
        GroupCommand::Create { name, jurisdiction } => {
            let group_id = device.create_group(&name, jurisdiction)?;
            let name = device.group(&group_id)?.name;
            Output::new(
                json!({ "group_id": group_id, "name": name }),
                format!("created {} ({group_id})\n", render::clean_line(&name)),
            )
        }
        GroupCommand::Share { group, setting } => {
            let on = setting == "on";
            device.set_group_sharing(&group, on)?;
            let name = group_name(device, &group);
            Output::new(
                json!({ "group_id": group, "shares": on }),
                if on {
                    format!("{name} shares with the campaign\n")
                } else {
                    format!("{name} no longer shares with the campaign\n")
                },
            )
        }
        GroupCommand::Zone { group, zone } => {
            let zone = (zone != "default").then_some(zone);
            device.set_group_zone(&group, zone.as_deref())?;
            let name = group_name(device, &group);
            let now = device.plan(&group)?.group_zone().map(str::to_owned);
            Output::new(
                json!({ "group_id": group, "zone": now }),
                match &now {
                    Some(z) => format!("{name}'s meetings without a county are in {z}\n"),
                    None => format!("{name}'s meetings without a county are shown in UTC\n"),
                },
            )
        }
        GroupCommand::Retention {
            group,
            months,
            export,
        } => {
            let months = match months.as_str() {
                "off" => None,
                m => Some(
                    m.parse::<u64>()
                        .map_err(|_| groundwork_core::Error::Invalid {
                            what: "retention",
                            reason: format!("{m:?} is not a number of months (or `off`)"),
                        })?,
                ),
            };
            let exported = device.set_retention(&group, months, export.as_deref())?;
            let name = group_name(device, &group);
            Output::new(
                json!({ "group_id": group, "retention_months": months, "exported": exported }),
                match months {
                    Some(m) => format!(
                        "{name} keeps {} of contacts ({} exported)\n",
                        count(m as usize, "month"),
                        count(exported, "contact")
                    ),
                    None => format!("{name} keeps every contact\n"),
                },
            )
        }
        GroupCommand::List => {
            let groups = device.groups()?;
            let text = render::groups(&groups);
            Output::new(json!(groups), text)
        }
    })
}
