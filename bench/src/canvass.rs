//! Canvass day: every canvasser logged its contacts offline; all reconnect within a window, and
//! each group's lead waits until it holds every contact of its group.
//!
//! On `groundwork-relay` the groups are made first as in life (each lead's plan creates its
//! group; each canvasser redeems the lead's invite), outside the measure. The plain relays know
//! no groups: there the lead simply asks for its canvassers' documents by id.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use groundwork_core::identity::Role;
use groundwork_core::schema;
use tokio::task::JoinSet;

use crate::peer::{Peer, RECONNECTS, Wire};
use crate::relays::{Meter, Metered, Relay, Target};
use crate::setup;
use crate::workload::{self, Group};

/// What one relay did on canvass day.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Canvassing devices.
    pub devices: usize,
    /// Contacts they logged.
    pub contacts: usize,
    /// Seconds until the relay had acknowledged every canvasser's contacts.
    pub acked_secs: f64,
    /// Seconds until every lead held every contact of its group.
    pub leads_secs: f64,
    /// CPU and peak memory over the phase.
    pub metered: Metered,
    /// The relay's resident memory a few seconds after.
    pub settled_rss: u64,
    /// Bytes on every device's socket.
    pub wire: Wire,
    /// The compressed size of the contacts documents (automerge's saved form).
    pub compressed: u64,
    /// Connections made again after one failed (the wire bytes of failed ones are not counted).
    pub reconnects: u64,
}

/// Runs canvass day on `relay`: canvassers connect spread evenly over `window`.
pub async fn run(
    relay: &Relay,
    groups: &Arc<Vec<Group>>,
    window: Duration,
    timeout: Duration,
) -> anyhow::Result<Figures> {
    Peer::wait_ready(&relay.target).await?;
    setup::make_groups(&relay.target, groups, Role::Canvasser).await?;
    let devices: usize = groups.iter().map(|g| g.canvassers.len()).sum();
    let meter = Meter::start(relay.process())?;
    let reconnects = RECONNECTS.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + timeout;
    let mut leads = JoinSet::new();
    for g in 0..groups.len() {
        let (target, groups) = (relay.target.clone(), groups.clone());
        leads.spawn(async move { lead(&target, &groups[g], started, deadline).await });
    }
    let mut canvassers = JoinSet::new();
    let mut n = 0;
    for g in 0..groups.len() {
        for c in 0..groups[g].canvassers.len() {
            let at = started + window.mul_f64(n as f64 / devices.max(1) as f64);
            n += 1;
            let (target, groups) = (relay.target.clone(), groups.clone());
            canvassers.spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                canvasser(&target, &groups[g], c, started, deadline).await
            });
        }
    }
    let mut wire = Wire::default();
    let mut acked_secs: f64 = 0.0;
    while let Some(done) = canvassers.join_next().await {
        let (secs, w) = done??;
        acked_secs = acked_secs.max(secs);
        wire.sent += w.sent;
        wire.received += w.received;
    }
    let mut leads_secs: f64 = 0.0;
    while let Some(done) = leads.join_next().await {
        let (secs, w) = done??;
        leads_secs = leads_secs.max(secs);
        wire.sent += w.sent;
        wire.received += w.received;
    }
    let metered = meter.read()?;
    // Long enough for our relay to unload idle documents (2 s by default) and for the
    // others to finish writing.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let settled_rss = relay.process().rss()?;
    let contacts = groups
        .iter()
        .flat_map(|g| &g.canvassers)
        .map(|c| workload::load(&c.bytes).map(|mut d| d.get_changes(&[]).len().saturating_sub(1)))
        .sum::<anyhow::Result<usize>>()?;
    let compressed = groups
        .iter()
        .flat_map(|g| &g.canvassers)
        .map(|c| c.bytes.len() as u64)
        .sum();
    Ok(Figures {
        devices,
        contacts,
        acked_secs,
        leads_secs,
        metered,
        settled_rss,
        wire,
        compressed,
        reconnects: RECONNECTS.load(Ordering::Relaxed) - reconnects,
    })
}

/// A canvasser: connects with its contacts and stays until the relay has them all.
async fn canvasser(
    target: &Target,
    group: &Group,
    c: usize,
    started: Instant,
    deadline: Instant,
) -> anyhow::Result<(f64, Wire)> {
    let me = &group.canvassers[c];
    let peer = Peer::until(
        target,
        &me.who,
        || Ok(vec![(me.doc, workload::load(&me.bytes)?)]),
        deadline,
        |p| p.relay_has(&me.doc),
    )
    .await
    .with_context(|| format!("canvasser {c} syncing its contacts"))?;
    let secs = started.elapsed().as_secs_f64();
    Ok((secs, peer.close().await))
}

/// A lead: asks for each canvasser's document and waits until it holds all of them.
async fn lead(
    target: &Target,
    group: &Group,
    started: Instant,
    deadline: Instant,
) -> anyhow::Result<(f64, Wire)> {
    let wanted: Vec<_> = group.canvassers.iter().map(|c| (c.doc, &c.heads)).collect();
    let peer = Peer::until(
        target,
        &group.lead,
        || {
            Ok(wanted
                .iter()
                .map(|(id, _)| (*id, schema::new_doc()))
                .collect())
        },
        deadline,
        |p| {
            p.events().for_each(drop);
            wanted.iter().all(|(id, heads)| &&p.heads(id) == heads)
        },
    )
    .await
    .context("a lead waiting for its group's contacts")?;
    let secs = started.elapsed().as_secs_f64();
    Ok((secs, peer.close().await))
}
