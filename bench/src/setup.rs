//! Making a sitting's groups on a relay before the measure: on `groundwork-relay` as in life
//! (each lead's plan creates its group, then each device redeems the lead's invite); on the
//! plain relays, which know no groups, the lead only uploads its plan.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use groundwork_core::identity::{Identity, Role};
use groundwork_core::sync::control::{Answer, Request};
use groundwork_core::time::now_ms;
use tokio::task::JoinSet;

use crate::peer::Peer;
use crate::relays::{Kind, Target};
use crate::workload::{self, Group};

/// Makes the groups on a Groundwork relay: each lead's plan creates its group, then each
/// canvasser redeems the lead's invite. A few groups at a time.
pub async fn make_groups(
    target: &Target,
    groups: &Arc<Vec<Group>>,
    role: Role,
) -> anyhow::Result<()> {
    const AT_ONCE: usize = 8;
    let mut set = JoinSet::new();
    for g in 0..groups.len() {
        if set.len() >= AT_ONCE {
            set.join_next().await.context("no task")???;
        }
        let (target, groups) = (target.clone(), groups.clone());
        set.spawn(async move { make_group(&target, &groups[g], role).await });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

async fn make_group(target: &Target, group: &Group, role: Role) -> anyhow::Result<()> {
    let plan = workload::load(&group.plan_bytes)?;
    // On a plain relay a device of its own uploads the plan: the sync server keeps its sync
    // state with a peer across connections, so the lead, reconnecting later with a fresh one,
    // would be told nothing (it has everything, the server knows) and never hear the server's
    // heads. A phone keeps its sync state; the load generator's devices start fresh.
    let uploader = match target.kind {
        Kind::Groundwork | Kind::GroundworkPostgres => None,
        Kind::SyncServer | Kind::Samod => Some(Identity::generate()?),
    };
    let mut lead = Peer::connect(
        target,
        uploader.as_ref().unwrap_or(&group.lead),
        vec![(group.plan, plan)],
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lead.relay_has(&group.plan) {
        lead.step(deadline).await?;
    }
    let (_, code) = group.lead.invite(
        &group.plan.to_string(),
        role,
        now_ms() + 3_600_000,
        group.canvassers.len().max(1) as u32,
        None,
    )?;
    lead.close().await;
    if !target.kind.is_groundwork() {
        return Ok(());
    }
    for (i, c) in group.canvassers.iter().enumerate() {
        let mut peer = Peer::connect(target, &c.who, Vec::new()).await?;
        let answer = peer
            .request(Request::Redeem {
                invite: code.clone(),
                name: format!("Device {i}"),
            })
            .await?;
        if !matches!(answer, Answer::Joined { .. }) {
            bail!("redeeming gave {answer:?}");
        }
        peer.close().await;
    }
    Ok(())
}
