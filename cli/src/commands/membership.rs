//! Who is in a group: `invite`, `join`, `member`, and the two requests that give access
//! (`token`, `signup`).

use anyhow::{Context, Result};
use groundwork_core::Device;
use groundwork_core::identity::{Invite, invite_link, join_link};
use groundwork_core::requests::{MintToken, RemoveMember, SignUp, Token};
use serde_json::json;

use super::names::{remote_group, remote_member};
use super::{Output, ask, group_name, runtime};
use crate::render::{self, count};
use crate::{InviteCommand, MemberCommand, RelayArg};

/// `invite create|own-device`: signs an invite, offline.
pub(super) fn invite(device: &Device, command: InviteCommand, json: bool) -> Result<Output> {
    match command {
        InviteCommand::Create {
            group,
            role,
            uses,
            expires,
            link,
        } => {
            let valid_for = parse_duration_ms(&expires)?;
            let (invite, code) =
                device.create_invite(&group, role, uses, valid_for, link.relay.as_deref())?;
            invite_output(device, &invite, &code, link.qr, json)
        }
        InviteCommand::OwnDevice {
            group,
            expires,
            link,
        } => {
            let valid_for = parse_duration_ms(&expires)?;
            let (invite, code) =
                device.create_own_device_invite(&group, valid_for, link.relay.as_deref())?;
            invite_output(device, &invite, &code, link.qr, json)
        }
    }
}

/// `join LINK [--relay URL]`: core's join flow, then a sync that brings the group.
pub(super) fn join(device: &mut Device, code: &str, relay: Option<&str>) -> Result<Output> {
    // Core checks the link first: a forged or altered link (its relay changed, say) is refused
    // before this device connects anywhere.
    let groundwork_core::Joined {
        group_id: group,
        role,
        checked_by,
        relay,
    } = runtime()?.block_on(groundwork_core::net::join(
        &mut *device,
        code,
        relay,
        std::time::Duration::from_secs(30),
    ))?;
    // Receive the group at once; a failure here leaves the membership for the next sync.
    let synced = runtime()?
        .block_on(groundwork_core::net::sync_once(
            &mut *device,
            &relay,
            std::time::Duration::from_secs(30),
        ))
        .map(|s| s.synced)
        .unwrap_or(false);
    // The group's name arrives with its plan (or, for a canvasser, its brief): known after the
    // sync above, unless that failed.
    let name = device
        .group(&group)
        .map(|g| g.name)
        .ok()
        .filter(|n| !n.is_empty());
    Ok(Output::new(
        json!({
            "group_id": group,
            "name": name,
            "role": role,
            "synced": synced,
            "checked_by": checked_by,
            "relay": relay,
        }),
        format!(
            "joined {} as {role}\n",
            render::clean_line(name.as_deref().unwrap_or(&group))
        ),
    ))
}

/// `member list|remove`.
pub(super) fn member(device: &mut Device, command: MemberCommand) -> Result<Output> {
    Ok(match command {
        MemberCommand::List { group } => {
            let members = device.members(&group)?;
            let rows: Vec<_> = members
                .iter()
                .map(|(id, m)| {
                    json!({
                        "device_id": id,
                        "name": m.name,
                        "role": m.role,
                        "joined_at": m.joined_at,
                        "removed_at": m.removed_at,
                    })
                })
                .collect();
            let text = render::members(&members);
            Output::new(json!(rows), text)
        }
        MemberCommand::Remove {
            group,
            device: target,
            relay,
        } => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            let group = remote_group(device, &group)?;
            let target = remote_member(device, &group, &target)?;
            let who = device
                .members(&group)
                .ok()
                .and_then(|m| m.into_iter().find(|(id, _)| *id == target))
                .map(|(_, m)| m.name)
                .filter(|n| !n.is_empty())
                .map_or_else(
                    || target.clone(),
                    |n| format!("{} ({target})", render::clean_line(&n)),
                );
            let flow = RemoveMember {
                group: group.clone(),
                device: target.clone(),
            };
            ask(device, &relay, &flow)?;
            Output::new(
                json!({ "removed": target, "group_id": group }),
                format!("removed {who}\n"),
            )
        }
    })
}

/// `token GROUP`: a token for a plain automerge-repo client.
pub(super) fn token(
    device: &mut Device,
    group: &str,
    relay: &RelayArg,
    ttl: u64,
) -> Result<Output> {
    let relay = device.relay_or(relay.relay.as_deref())?;
    let group = remote_group(device, group)?;
    let flow = MintToken {
        group,
        ttl_secs: ttl,
    };
    let Token { token, expires_at } = ask(device, &relay, &flow)?;
    Ok(Output::new(
        json!({ "token": token, "expires_at": expires_at }),
        format!("{}\n", render::clean_line(&token)),
    ))
}

/// `signup CODE`: the relay operator's code, which lets this device create groups.
pub(super) fn sign_up(device: &mut Device, code: String, relay: &RelayArg) -> Result<Output> {
    let relay = device.relay_or(relay.relay.as_deref())?;
    ask(device, &relay, &SignUp { code })?;
    Ok(Output::new(json!({ "signed_up": true }), "signed up\n"))
}

/// An invite as `invite create` prints it: the join link (which `join` takes, as it takes the
/// bare code) on the first line, then what it admits (role, uses, expiry), and with `--qr` the
/// link drawn for a phone's camera. With `--json` the QR code goes to stderr, so stdout stays
/// one JSON value.
fn invite_output(
    device: &Device,
    invite: &Invite,
    code: &str,
    qr: bool,
    json: bool,
) -> Result<Output> {
    let link = invite_link(invite, code);
    if invite.relay.is_none() {
        eprintln!(
            "note: this invite names no relay (this device has not reached one yet): the joiner \
             must pass --relay URL; pass --relay here to sign it in"
        );
    }
    let mut text = format!(
        "{link}\nadmits {} as {} to {}, until {}\n",
        count(invite.uses as usize, "device"),
        invite.role,
        group_name(device, &invite.group),
        crate::local::when(invite.expires_at, &crate::local::zone())
    );
    if qr {
        let drawn = render::qr(&link)?;
        if json {
            eprint!("{drawn}");
        } else {
            text.push_str(&drawn);
        }
    }
    Ok(Output::new(
        json!({
            "code": code,
            "link": link,
            "app_link": join_link(code),
            "relay": invite.relay,
            "role": invite.role,
            "uses": invite.uses,
            "expires_at": invite.expires_at,
        }),
        text,
    ))
}

/// `30s`, `15m`, `24h`, `7d` in milliseconds.
fn parse_duration_ms(text: &str) -> Result<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .with_context(|| format!("invalid duration {text:?}: expected e.g. 30m, 24h, 7d"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => anyhow::bail!("invalid duration {text:?}: the unit must be s, m, h or d"),
    };
    n.checked_mul(unit_ms)
        .with_context(|| format!("invalid duration {text:?}: too long"))
}
