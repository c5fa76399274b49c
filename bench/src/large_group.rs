//! A large group: one lead, then members joining one by one while everyone who joined stays
//! connected. What a join costs (its wall time at the joiner, the relay's CPU) early and late.
//! Only `groundwork-relay` has groups to join.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use groundwork_core::identity::Role;
use groundwork_core::sync::control::{Answer, Request};
use groundwork_core::time::now_ms;
use tokio::task::JoinSet;

use crate::peer::Peer;
use crate::relays::Relay;
use crate::workload::{self, Group};

/// Joins compared at each end: a join's own cost is their median.
pub const WINDOW: usize = 10;

/// Joins averaged at each end for the cost with the roster pushes: the relay pushes a
/// changed roster to its readers at most every few seconds, so a window of ten joins holds a
/// push or not, and a hundred hold their share of them.
pub const SPREAD_WINDOW: usize = 100;

/// What joins cost, early and late.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Devices in the group at the end, the lead included.
    pub members: usize,
    /// Median wall milliseconds of the joins that made the group 2..=WINDOW+1 devices (around
    /// the 10th).
    pub early_ms: f64,
    /// Median wall milliseconds of the last WINDOW joins.
    pub late_ms: f64,
    /// Relay CPU milliseconds of a join, early: the median of the first WINDOW.
    pub early_cpu_ms: f64,
    /// Relay CPU milliseconds of a join, late: the median of the last WINDOW.
    pub late_cpu_ms: f64,
    /// Relay CPU milliseconds per join over the first SPREAD_WINDOW, the roster pushes that
    /// fell among them included.
    pub early_spread_cpu_ms: f64,
    /// The same over the last SPREAD_WINDOW.
    pub late_spread_cpu_ms: f64,
}

/// Grows `group` to its lead and all its devices, one join at a time.
pub async fn run(relay: &Relay, group: &Group) -> anyhow::Result<Figures> {
    Peer::wait_ready(&relay.target).await?;
    let target = &relay.target;
    let plan = workload::load(&group.plan_bytes)?;
    let mut lead = Peer::connect(target, &group.lead, vec![(group.plan, plan)]).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lead.relay_has(&group.plan) {
        lead.step(deadline).await?;
    }
    let (_, code) = group.lead.invite(
        &group.plan.to_string(),
        Role::Member,
        now_ms() + 3_600_000,
        group.canvassers.len() as u32,
        None,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut online = JoinSet::new();
    online.spawn(stay(lead, stop.clone()));
    let n = group.canvassers.len();
    let mut walls = Vec::with_capacity(n);
    let mut cpu = Vec::with_capacity(n);
    let relay_proc = relay.process();
    for (i, member) in group.canvassers.iter().enumerate() {
        let cpu_before = relay_proc.cpu_secs_fine()?;
        let started = Instant::now();
        let mut peer = Peer::connect(target, &member.who, Vec::new()).await?;
        let answer = peer
            .request(Request::Redeem {
                invite: code.clone(),
                name: format!("Member {i}"),
            })
            .await?;
        if !matches!(answer, Answer::Joined { .. }) {
            bail!("join {i} gave {answer:?}");
        }
        // Joined means holding the group's plan.
        let deadline = Instant::now() + Duration::from_secs(60);
        while peer.heads(&group.plan).is_empty() || !peer.relay_has(&group.plan) {
            peer.step(deadline)
                .await
                .with_context(|| format!("join {i} syncing the plan"))?;
        }
        walls.push(started.elapsed().as_secs_f64() * 1000.0);
        online.spawn(stay(peer, stop.clone()));
        // Let the relay finish this join's own work (its answers and offers) before the
        // next; the roster's push to everyone online comes on the relay's tick.
        tokio::time::sleep(Duration::from_millis(50)).await;
        cpu.push(relay_proc.cpu_secs_fine()? - cpu_before);
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = online.join_next().await {
        done??;
    }
    let w = WINDOW.min(n);
    let spread = SPREAD_WINDOW.min(n);
    Ok(Figures {
        members: n + 1,
        early_ms: median(&walls[..w]),
        late_ms: median(&walls[n - w..]),
        early_cpu_ms: median(&cpu[..w]) * 1000.0,
        late_cpu_ms: median(&cpu[n - w..]) * 1000.0,
        early_spread_cpu_ms: mean(&cpu[..spread]) * 1000.0,
        late_spread_cpu_ms: mean(&cpu[n - spread..]) * 1000.0,
    })
}

/// Keeps a device online (reading what the relay pushes) until `stop`.
async fn stay(mut peer: Peer, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    while !stop.load(Ordering::Relaxed) {
        peer.step(deadline).await.context("a member online")?;
        peer.events().for_each(drop);
    }
    peer.close().await;
    Ok(())
}

/// The median of some figures (0 when there are none).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}
