//! Campaign staff's requests of the relay: `campaign officials|official|export` and
//! `dashboard login`.

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::campaign::OfficialFilter;
use groundwork_core::requests::{CampaignOfficial, CampaignOfficials, DashboardLink};
use groundwork_core::time::format_rfc3339;
use serde_json::json;

use super::{Output, ask};
use crate::render::{self, count};
use crate::{CampaignCommand, DashboardCommand, RelayArg};

/// `campaign ...`: staff requests of the relay.
pub(super) fn run(device: &mut Device, command: CampaignCommand) -> Result<Output> {
    let officials = |device: &mut Device, relay: &RelayArg, filter: OfficialFilter| {
        let relay = device.relay_or(relay.relay.as_deref())?;
        ask(device, &relay, &CampaignOfficials { filter })
    };
    Ok(match command {
        CampaignCommand::Officials {
            state,
            office,
            position,
            relay,
        } => {
            let filter = OfficialFilter {
                state: state.map(|s| s.trim().to_uppercase()),
                office,
                position,
            };
            let found = officials(device, &relay, filter)?;
            Output::new(json!(found), render::officials(&found))
        }
        CampaignCommand::Official { key, relay } => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            let detail = ask(device, &relay, &CampaignOfficial { key })?;
            Output::new(json!(detail), render::official(&detail))
        }
        CampaignCommand::Export { csv, relay } => {
            let found = officials(device, &relay, OfficialFilter::default())?;
            let rows = render::write_officials_csv(&found, &csv)?;
            Output::new(
                json!({ "exported": rows, "officials": found.len(), "file": csv }),
                format!(
                    "{} ({}) written to {}\n",
                    count(rows, "row"),
                    count(found.len(), "official"),
                    csv.display()
                ),
            )
        }
    })
}

/// `dashboard login`: a one-time link that signs a browser in to the relay's dashboard.
pub(super) fn dashboard(device: &mut Device, command: DashboardCommand) -> Result<Output> {
    let DashboardCommand::Login { relay } = command;
    let relay = device.relay_or(relay.relay.as_deref())?;
    let sign_in = ask(device, &relay, &DashboardLink)?;
    let link = sign_in.link(&relay)?;
    Ok(Output::new(
        json!({ "link": link, "expires_at": format_rfc3339(sign_in.expires_at) }),
        format!(
            "{}\nopen it in your browser; it works once, until {}\n",
            render::clean_line(&link),
            crate::local::when(sign_in.expires_at, &crate::local::zone())
        ),
    ))
}
