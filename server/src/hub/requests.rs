//! The control requests devices make of the relay, one function per request: the router
//! ([`control`]) checks who may ask and whether the store takes changes, each handler does its
//! work and says what to answer (`Ok(Err(reason))` is a refusal sent back; `Err` a store
//! failure, which fails the batch).

use groundwork_core::identity::{Invite, Role};
use groundwork_core::sync::control::{Answer, Control, Request};
use groundwork_core::sync::hub::ConnId;

use crate::access::Principal;
use crate::store::{StoreError, Write};

use super::HubThread;
use super::auth::token_hash;
use super::offers::offer_readable_boards;
use super::residency::hold_groups;

/// A handler's outcome: the answer, or the refusal to send back.
type Outcome = Result<Result<Answer, String>, StoreError>;

/// The refusal of a campaign request from a device without the staff role.
const NOT_STAFF: &str = "not campaign staff: the relay's operator grants the role \
    (groundwork-relay staff add DEVICE)";

/// The longest a token lives.
const MAX_TOKEN_SECS: u64 = 3600;

/// A control message from a device.
pub(super) fn control(
    t: &mut HubThread,
    conn: ConnId,
    body: &str,
    now: u64,
) -> Result<(), StoreError> {
    if !t.conns.is_open(conn) {
        // Sent before its connection was dropped (a removal closes the device's
        // connections at once): nobody is left to answer or refuse.
        tracing::debug!(
            conn,
            "a control message from a closed connection was dropped"
        );
        return Ok(());
    }
    let device = match t.hub.policy().principal(conn) {
        Some(Principal::Device(d)) => d.clone(),
        _ => {
            t.refuse(conn, "control messages need a device's signed connection");
            return Ok(());
        }
    };
    let message = match Control::from_json(body) {
        Ok(m) => m,
        Err(e) => {
            t.refuse(conn, &e.to_string());
            return Ok(());
        }
    };
    match message {
        Control::Request { id, request }
            if t.health.refusing().is_some()
                && !matches!(
                    request,
                    Request::CampaignOfficials { .. } | Request::CampaignOfficial { .. }
                ) =>
        {
            // Every other request writes: refused with the reason, the connection kept.
            let error = t.health.refusing().map(str::to_owned);
            t.hub.send_control(
                conn,
                Control::Response {
                    id,
                    ok: None,
                    error,
                }
                .to_json(),
            );
        }
        Control::Wiped { .. } if t.health.refusing().is_some() => {
            // Not recorded now: the device is told to wipe again, harmlessly, next time.
        }
        Control::Request { id, request } => {
            let limited = matches!(request, Request::Redeem { .. })
                && t.conns
                    .addr(conn)
                    .is_some_and(|addr| !t.config.redemptions.allow(addr));
            let result = if limited {
                Ok(Err(
                    "too many invite redemptions from this address; wait a minute".into(),
                ))
            } else {
                handle(t, &device, request, now)
            }?;
            let (ok, error) = match result {
                Ok(answer) => (Some(answer), None),
                Err(reason) => {
                    tracing::info!(%reason, "refused a request");
                    (None, Some(reason))
                }
            };
            t.hub
                .send_control(conn, Control::Response { id, ok, error }.to_json());
        }
        Control::Wiped { group } => {
            if let Some(w) = t.hub.policy_mut().wiped(&group, &device) {
                t.store.commit(&[Write::Access(w)])?;
                tracing::info!("a removed device confirmed its wipe");
            }
        }
        Control::Response { .. }
        | Control::Wipe { .. }
        | Control::Addresses { .. }
        | Control::Offered => {
            t.refuse(conn, "that control message goes from the relay to devices");
        }
    }
    Ok(())
}

/// Carries out a device's request.
fn handle(t: &mut HubThread, device: &str, request: Request, now: u64) -> Outcome {
    match request {
        Request::SignUp { code } => sign_up(t, device, &code),
        Request::Redeem { invite, name } => redeem(t, device, &invite, &name, now),
        Request::CampaignOfficials { filter } => campaign_officials(t, device, &filter),
        Request::CampaignOfficial { key } => campaign_official(t, device, &key),
        Request::DashboardLink => dashboard_link(t, device),
        Request::FollowBoard { county, follow } => follow_board(t, device, &county, follow, now),
        Request::RemoveMember {
            group,
            device: target,
        } => remove(t, device, &group, &target),
        Request::MintToken { group, ttl_secs } => mint_token(t, device, group, ttl_secs),
    }
}

/// Lets `device` create groups, with the operator's sign-up code (or without, where the relay
/// needs none).
fn sign_up(t: &mut HubThread, device: &str, code: &str) -> Outcome {
    Ok(match t.hub.policy().signup_code() {
        None => Ok(Answer::Done),
        Some(expected) if expected == code => {
            let w = t.hub.policy_mut().add_creator(device);
            t.store.commit(&[Write::Access(w)])?;
            Ok(Answer::Done)
        }
        Some(_) => Err("wrong sign-up code".into()),
    })
}

/// The officials sharing groups ask, for campaign staff.
fn campaign_officials(
    t: &mut HubThread,
    device: &str,
    filter: &groundwork_core::campaign::OfficialFilter,
) -> Outcome {
    if !t.store.campaign(|c| crate::campaign::is_staff(c, device))? {
        return Ok(Err(NOT_STAFF.into()));
    }
    let officials = t
        .store
        .campaign(|c| crate::campaign::officials(c, filter))?;
    Ok(Ok(Answer::Officials { officials }))
}

/// One official's answers, rule by rule, for campaign staff.
fn campaign_official(t: &mut HubThread, device: &str, key: &str) -> Outcome {
    if !t.store.campaign(|c| crate::campaign::is_staff(c, device))? {
        return Ok(Err(NOT_STAFF.into()));
    }
    Ok(
        match t.store.campaign(|c| crate::campaign::official(c, key))? {
            Some(detail) => Ok(Answer::Official {
                detail: Box::new(detail),
            }),
            None => Err(format!("no sharing group asks an official {key:?}")),
        },
    )
}

/// A one-time link that signs campaign staff in to the dashboard.
fn dashboard_link(t: &mut HubThread, device: &str) -> Outcome {
    if !t.hub.policy().is_staff(device)
        && !t.store.campaign(|c| crate::campaign::is_staff(c, device))?
    {
        return Ok(Err(NOT_STAFF.into()));
    }
    let now = t.hub.policy().now();
    Ok(
        match t
            .store
            .campaign(|c| crate::session::create_link(c, device, now))?
        {
            Some((code, expires_at)) => Ok(Answer::DashboardLink { code, expires_at }),
            None => Err("the relay has no randomness".into()),
        },
    )
}

/// Follows (or stops following) a county's board; the boards now readable are offered at once.
fn follow_board(t: &mut HubThread, device: &str, county: &str, follow: bool, now: u64) -> Outcome {
    if let Err(e) = groundwork_core::places::county(county) {
        return Ok(Err(e.to_string()));
    }
    if let Err(reason) = t.hub.policy().may_follow(device) {
        return Ok(Err(reason));
    }
    let w = t.hub.policy_mut().follow(device, county, follow);
    t.store.commit(&[Write::Access(w)])?;
    if follow {
        offer_readable_boards(&mut t.hub, &t.store, device, now);
    }
    Ok(Ok(Answer::Following {
        counties: t.hub.policy().followed(device),
    }))
}

/// A token for a plain automerge-repo client to read `group` as this device, for a while.
fn mint_token(t: &mut HubThread, device: &str, group: String, ttl_secs: u64) -> Outcome {
    if t.hub.policy().role(&group, device).is_none() {
        return Ok(Err(format!(
            "cannot mint a token for group {group}: this device is not a member"
        )));
    }
    let ttl_ms = (ttl_secs.clamp(1, MAX_TOKEN_SECS) * 1000) as i64;
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        return Ok(Err("the relay has no randomness".into()));
    }
    let token = bs58::encode(bytes).into_string();
    let expires_at = t.hub.policy().now() + ttl_ms;
    t.store.commit(&[Write::Token {
        hash: token_hash(&token),
        device: device.to_owned(),
        group,
        expires_at,
    }])?;
    Ok(Ok(Answer::Token { token, expires_at }))
}

/// Redeems an invite: every rule an invite must meet, checked here whoever signed it, then one
/// use taken and the member and roster entry written together.
fn redeem(t: &mut HubThread, device: &str, code: &str, name: &str, now: u64) -> Outcome {
    let invite = match Invite::verify_code(code) {
        Ok(i) => i,
        Err(e) => return Ok(Err(format!("invite refused: {e}"))),
    };
    hold_groups(
        t.hub.policy_mut(),
        &t.store,
        std::slice::from_ref(&invite.group),
    )?;
    let policy = t.hub.policy();
    if !policy.group_exists(&invite.group) {
        return Ok(Err("invite refused: its group is not on this relay".into()));
    }
    if let Some(role) = policy.role(&invite.group, device) {
        // Already in: nothing to use up.
        return Ok(Ok(Answer::Joined {
            group: invite.group,
            role,
        }));
    }
    if t.hub.policy().now() > invite.expires_at {
        return Ok(Err(format!(
            "invite refused: it expired at {}",
            groundwork_core::time::format_rfc3339(invite.expires_at)
        )));
    }
    // The caps devices apply when they sign (an invite from before them, or from a device
    // that skips them, meets them here).
    let lifetime = invite.expires_at - invite.issued_at.unwrap_or(policy.now());
    if lifetime > groundwork_core::identity::MAX_INVITE_LIFETIME_MS {
        return Ok(Err(format!(
            "invite refused: it stays valid for more than the {} days an invite may; a lead \
             can make a new one",
            groundwork_core::identity::MAX_INVITE_LIFETIME_MS / 86_400_000
        )));
    }
    if invite.uses > groundwork_core::identity::MAX_INVITE_USES {
        return Ok(Err(format!(
            "invite refused: it allows {} uses, more than the {} an invite may; a lead can \
             make a new one",
            invite.uses,
            groundwork_core::identity::MAX_INVITE_USES
        )));
    }
    // A removal revokes every invite made before it: the removed device comes back only
    // through a lead's new invite. (An invite from before invites said when they were
    // made counts as made before.)
    if let Some(removed_at) = policy
        .roster_entry(&invite.group, device)
        .and_then(|m| m.removed_at)
        && invite.issued_at.is_none_or(|t| t <= removed_at)
    {
        return Ok(Err(format!(
            "invite refused: this device was removed from the group at {}, after the invite \
             was made; a lead can re-admit it with a new invite",
            groundwork_core::time::format_rfc3339(removed_at)
        )));
    }
    let issuer_role = policy.role(&invite.group, &invite.issuer);
    // A lead invites anyone; a member invites only another device of their own, at their
    // own role.
    let person = if invite.same_person {
        if issuer_role != Some(invite.role) {
            return Ok(Err(
                "invite refused: an own-device invite must carry its issuer's current role".into(),
            ));
        }
        policy
            .person(&invite.group, &invite.issuer)
            .unwrap_or_else(|| invite.issuer.clone())
    } else {
        if issuer_role != Some(Role::Lead) {
            return Ok(Err(
                "invite refused: its issuer is not a lead of the group (any more)".into(),
            ));
        }
        device.to_owned()
    };
    let members = policy.members_of(&invite.group).len();
    if members >= t.config.max_group_members {
        return Ok(Err(format!(
            "invite refused: the group has {members} member devices, the most a group may \
             have on this relay; a lead can remove devices no longer used"
        )));
    }
    // Taking a use is the check: of two relay nodes redeeming the last use at once, the
    // database gives it to one. (Taken before the member is written: a failure between
    // the two spends a use, never grants one too many.)
    if !t.store.take_invite_use(&invite.id, invite.uses)? {
        let used = t.store.invite_uses(&invite.id)?;
        return Ok(Err(format!(
            "invite refused: it was already used {used} of {} times",
            invite.uses
        )));
    }
    let name = name.trim();
    let name = if name.is_empty() { "(unnamed)" } else { name };
    let member = t
        .hub
        .policy_mut()
        .add_member(&invite.group, device, invite.role, name, &person);
    let mut writes = vec![Write::Access(member)];
    let roster = t
        .rosters
        .change(&mut t.hub, &t.store, &invite.group, Some(device))?;
    if let Some((doc, change)) = &roster {
        writes.push(Write::Chunk(*doc, change.clone()));
    }
    t.store.commit(&writes)?;
    t.rosters.apply(&mut t.hub, roster.into_iter().collect());
    // The brief names the group's leads and no other member.
    if invite.role == Role::Lead {
        t.briefs.due(&invite.group);
    }
    tracing::info!(role = %invite.role, "a device joined a group");
    for conn in t.hub.policy().conns_of(device) {
        for doc in t.hub.policy().readable(conn) {
            t.hub.offer(conn, doc, now);
        }
    }
    Ok(Ok(Answer::Joined {
        group: invite.group,
        role: invite.role,
    }))
}

/// Removes `target` from `group` (a lead's order, or a member reporting their own device
/// lost); its connections close at once and it is told to wipe the group when it comes back.
fn remove(t: &mut HubThread, requester: &str, group: &str, target: &str) -> Outcome {
    let policy = t.hub.policy();
    match policy.role(group, requester) {
        Some(Role::Lead) => {}
        // Anyone may report their own other device lost.
        Some(_) if policy.same_person(group, requester, target) => {}
        Some(role) => {
            return Ok(Err(format!(
                "only a lead can remove members (or report their own device lost); \
                 this device is a {role} in the group"
            )));
        }
        None => return Ok(Err("this device is not a member of the group".into())),
    }
    if policy.role(group, target).is_none() {
        return Ok(Err(format!("device {target} is not a member of the group")));
    }
    let removed = t.hub.policy_mut().remove_member(group, target);
    let mut writes = vec![Write::Access(removed)];
    let roster = t
        .rosters
        .change(&mut t.hub, &t.store, group, Some(target))?;
    if let Some((doc, change)) = &roster {
        writes.push(Write::Chunk(*doc, change.clone()));
    }
    t.store.commit(&writes)?;
    t.rosters.apply(&mut t.hub, roster.into_iter().collect());
    t.briefs.due(group);
    tracing::info!("a device was removed from a group");
    // Service stops at once: the device's connections are dropped. When it comes back it
    // is told to wipe the group.
    for conn in t.hub.policy().conns_of(target) {
        t.close(conn, "removed from a group");
    }
    Ok(Ok(Answer::Done))
}
