//! `board`: the county boards on this device, and following one.

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::requests::FollowBoard;
use serde_json::json;

use super::{Output, ask};
use crate::render::{self, count};
use crate::{BoardCommand, RelayArg};

pub(super) fn run(device: &mut Device, command: BoardCommand) -> Result<Output> {
    Ok(match command {
        BoardCommand::List => list(device)?,
        BoardCommand::Follow { county, relay } => follow(device, &county, &relay, true)?,
        BoardCommand::Unfollow { county, relay } => follow(device, &county, &relay, false)?,
        BoardCommand::Show { county } => {
            let board = device.board(&county)?;
            Output::new(render::board_json(&board), render::board(&board))
        }
    })
}

/// `board list`: the boards held here and the counties followed, with or without a board.
fn list(device: &mut Device) -> Result<Output> {
    let boards = device.boards()?;
    let followed = device.followed_counties()?;
    let mut rows: Vec<_> = boards
        .iter()
        .map(|b| {
            json!({
                "county": b.board_of,
                "county_name": b.county_name,
                "officials": b.officials.len(),
                "groups": b.groups().len(),
                "followed": followed.contains(&b.board_of),
            })
        })
        .collect();
    let mut text = String::new();
    for b in &boards {
        text.push_str(&format!(
            "{}  {}  {}, {}{}\n",
            render::clean_line(&b.board_of),
            render::clean_line(&b.county_name),
            count(b.officials.len(), "official"),
            count(b.groups().len(), "group"),
            if followed.contains(&b.board_of) {
                "  (followed)"
            } else {
                ""
            }
        ));
    }
    // A county followed before any sharing group asks an official there has no
    // board yet; say so rather than leave it out.
    for county in followed
        .iter()
        .filter(|c| !boards.iter().any(|b| b.board_of == **c))
    {
        let place = groundwork_core::places::county(county)?;
        text.push_str(&format!(
            "{county}  {place}  followed; no board yet (no sharing group asks an \
             official there, or not synced since)\n"
        ));
        rows.push(json!({
            "county": county,
            "county_name": place.to_string(),
            "officials": 0,
            "groups": 0,
            "followed": true,
        }));
    }
    if boards.is_empty() && followed.is_empty() {
        text.push_str(
            "no boards yet: sync, with a target named by county, or `board follow FIPS`\n",
        );
    }
    Ok(Output::new(json!(rows), text))
}

/// `board follow|unfollow FIPS`: asks the relay, and keeps the list it answers with.
fn follow(device: &mut Device, county: &str, relay: &RelayArg, follow: bool) -> Result<Output> {
    // Checked here too, so that a typo is named before anything is dialled.
    let flow = FollowBoard::new(county, follow)?;
    let place = flow.place();
    let relay = device.relay_or(relay.relay.as_deref())?;
    let counties = ask(device, &relay, &flow)?;
    let text = if follow {
        format!("following the board of {place} ({county}); `sync` brings it\n")
    } else {
        format!("no longer following the board of {place} ({county})\n")
    };
    Ok(Output::new(
        json!({ "county": county, "following": follow, "followed": counties }),
        text,
    ))
}
