//! Idle fleet: every device of many groups connects, syncs its group's plan, and stays
//! connected doing nothing; the relay's memory is read once they all have.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use groundwork_core::identity::Role;
use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;

use crate::peer::Peer;
use crate::relays::{Relay, Target};
use crate::setup;
use crate::workload::{self, Group};

/// What one relay held for the idle fleet.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Devices connected.
    pub devices: usize,
    /// Groups.
    pub groups: usize,
    /// Resident memory before any device connected.
    pub empty_rss: u64,
    /// Resident memory with every device connected and synced, then idle for a few seconds.
    pub idle_rss: u64,
    /// Seconds for all of them to connect and sync.
    pub connect_secs: f64,
}

/// Connects every lead and member of `groups` and holds them.
pub async fn run(relay: &Relay, groups: &Arc<Vec<Group>>) -> anyhow::Result<Figures> {
    Peer::wait_ready(&relay.target).await?;
    let empty_rss = relay.process().rss()?;
    setup::make_groups(&relay.target, groups, Role::Member).await?;
    let devices: usize = groups.iter().map(|g| 1 + g.canvassers.len()).sum();
    // Every device connects, syncs, then waits here until the memory has been read.
    let hold = Arc::new(Barrier::new(devices + 1));
    let started = Instant::now();
    let (synced_tx, mut synced_rx) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(devices);
    // A few hundred handshakes at once at most: a fleet comes online over minutes.
    let connecting = Arc::new(Semaphore::new(256));
    let mut set = JoinSet::new();
    for g in 0..groups.len() {
        for d in 0..=groups[g].canvassers.len() {
            let (target, groups, hold, synced, connecting) = (
                relay.target.clone(),
                groups.clone(),
                hold.clone(),
                synced_tx.clone(),
                connecting.clone(),
            );
            set.spawn(async move {
                let group = &groups[g];
                let who = match d {
                    0 => &group.lead,
                    d => &group.canvassers[d - 1].who,
                };
                let permit = connecting.acquire().await;
                let joined = member(&target, group, who).await;
                drop(permit);
                match joined {
                    Ok(peer) => {
                        let _ = synced.send(Ok(())).await;
                        hold.wait().await;
                        peer.close().await;
                    }
                    Err(e) => {
                        let _ = synced.send(Err(e)).await;
                    }
                }
            });
        }
    }
    drop(synced_tx);
    for _ in 0..devices {
        synced_rx
            .recv()
            .await
            .context("a device task ended early")??;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rss = relay.process().rss()?;
    hold.wait().await;
    while set.join_next().await.is_some() {}
    Ok(Figures {
        devices,
        groups: groups.len(),
        empty_rss,
        idle_rss,
        connect_secs,
    })
}

/// One device: connects holding its group's plan and waits until the relay and it agree.
async fn member(
    target: &Target,
    group: &Group,
    who: &groundwork_core::identity::Identity,
) -> anyhow::Result<Peer> {
    Peer::until(
        target,
        who,
        || Ok(vec![(group.plan, workload::load(&group.plan_bytes)?)]),
        Instant::now() + Duration::from_secs(600),
        |p| p.relay_has(&group.plan),
    )
    .await
    .context("an idle device syncing its plan")
}
