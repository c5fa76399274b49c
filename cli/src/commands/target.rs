//! The officials a group asks and what they answered: `target`, `response`, `scorecard`.

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::schema::plan::{NewResponse, NewTarget};
use serde_json::json;

use super::Output;
use crate::render;
use crate::{ResponseCommand, TargetCommand};

/// `target add|list`.
pub(super) fn run(device: &mut Device, command: TargetCommand) -> Result<Output> {
    Ok(match command {
        TargetCommand::Add {
            group,
            name,
            title,
            agency,
            jurisdiction,
            level,
            county,
            office,
            place,
        } => {
            let new = NewTarget {
                name: name.unwrap_or_default(),
                title: title.unwrap_or_default(),
                agency,
                jurisdiction,
                level,
                county,
                office,
                place,
            };
            let target_id = device.add_target(&group, new)?;
            let official = device
                .targets(&group)?
                .into_iter()
                .find(|t| t.target_id == target_id)
                .map_or_else(String::new, |t| render::official_name(&t.name, &t.title));
            Output::new(
                json!({ "target_id": target_id }),
                format!("added {official} ({target_id})\n"),
            )
        }
        TargetCommand::List { group } => {
            let rows = device.targets(&group)?;
            let text = render::targets(&rows);
            Output::new(json!(rows), text)
        }
    })
}

/// `response record`: an official's answer on one rule, and whether it leaves the group.
pub(super) fn response(device: &mut Device, command: ResponseCommand) -> Result<Output> {
    let ResponseCommand::Record(r) = command;
    let new = NewResponse {
        target: r.target.clone(),
        rule: r.rule,
        existing: r.existing,
        position: r.position,
        conditions: r.conditions,
        legal_basis: r.legal_basis,
        meeting: r.meeting,
    };
    device.record_response(&r.group, new)?;
    let target = device
        .targets(&r.group)?
        .into_iter()
        .find(|t| t.target_id == r.target);
    let official = target.as_ref().map_or_else(
        || render::clean_line(&r.target).to_string(),
        |t| render::official_name(&t.name, &t.title),
    );
    let mut text = format!("{official} {}: {} / {}\n", r.rule, r.existing, r.position);
    // Answers reach the county's board and the campaign only through an official
    // named by county and office, from a group that shares: say when one cannot.
    let by_county = target.as_ref().is_some_and(|t| t.county.is_some());
    let shares = device.group(&r.group)?.shares;
    if !by_county {
        text.push_str(
            "this official has no county, so the answer stays in the group: no county \
             board or campaign dashboard shows it (name officials by county and office: \
             `target add GROUP --county FIPS --office sheriff`)\n",
        );
    } else if !shares {
        text.push_str(
            "the group does not share with the campaign, so the answer stays in the \
             group (`group share GROUP on` shares it)\n",
        );
    }
    Ok(Output::new(
        json!({
            "target_id": r.target,
            "rule": r.rule,
            "existing": r.existing,
            "position": r.position,
            "shared_with_campaign": by_county && shares,
        }),
        text,
    ))
}

/// `scorecard GROUP [TARGET]`: every target's answer on every rule.
pub(super) fn scorecard(device: &Device, group: &str, target: Option<&str>) -> Result<Output> {
    let rows = device.scorecard(group, target)?;
    let text = render::scorecard(&rows);
    Ok(Output::new(json!(rows), text))
}
