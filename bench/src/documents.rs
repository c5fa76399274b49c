//! Many documents: each group's plan is created and synced once by a device of its own, then
//! left idle; the relay's memory is read at its peak and again once it could have let them go.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;

use crate::peer::Peer;
use crate::relays::{Meter, Relay, Target};
use crate::workload::{self, Group};

/// What one relay kept.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Documents touched.
    pub documents: usize,
    /// Resident memory before.
    pub empty_rss: u64,
    /// The most resident memory while they were touched.
    pub peak_rss: u64,
    /// Resident memory after they were left idle.
    pub idle_rss: u64,
    /// Seconds to touch them all.
    pub secs: f64,
    /// Relay CPU seconds.
    pub relay_cpu: f64,
    /// Documents still in the relay's memory at the end, where it says.
    pub loaded: Option<f64>,
}

/// How long documents are left idle before the memory is read again (our relay unloads a
/// document idle for 2 s by default).
const IDLE: Duration = Duration::from_secs(15);

/// Touches every group's plan once, `parallel` at a time, for at most `budget` (a relay that
/// takes longer is reported with the documents it was given by then).
pub async fn run(
    relay: &Relay,
    groups: &Arc<Vec<Group>>,
    parallel: usize,
    budget: Duration,
) -> anyhow::Result<Figures> {
    Peer::wait_ready(&relay.target).await?;
    let empty_rss = relay.process().rss()?;
    let meter = Meter::start(relay.process())?;
    let mut set = JoinSet::new();
    let until = Instant::now() + budget;
    let mut touched = 0;
    for g in 0..groups.len() {
        if Instant::now() >= until {
            break;
        }
        touched += 1;
        if set.len() >= parallel {
            set.join_next().await.context("no task")???;
        }
        let (target, groups) = (relay.target.clone(), groups.clone());
        set.spawn(async move { touch(&target, &groups[g]).await });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    let metered = meter.read()?;
    tokio::time::sleep(IDLE).await;
    Ok(Figures {
        documents: touched,
        empty_rss,
        peak_rss: metered.relay_peak,
        idle_rss: relay.process().rss()?,
        secs: metered.secs,
        relay_cpu: metered.relay_cpu,
        loaded: relay.metric("groundwork_documents_loaded").await?,
    })
}

/// A group's lead creates its plan on the relay and leaves.
async fn touch(target: &Target, group: &Group) -> anyhow::Result<()> {
    let plan = workload::load(&group.plan_bytes)?;
    let mut peer = Peer::connect(target, &group.lead, vec![(group.plan, plan)]).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !peer.relay_has(&group.plan) {
        peer.step(deadline).await.context("creating a plan")?;
    }
    peer.close().await;
    Ok(())
}
