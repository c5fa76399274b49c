//! Co-editing: every device of many groups appends to its group's meeting notes at a steady
//! rate, all at once; each edit is timed from the moment it was made to the moment each other
//! device of its group holds it (edit-to-peer latency under load). Given several relay nodes
//! on one database, a group's devices are spread over them and only deliveries from one node
//! to another are timed (edit-to-other-node latency).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::{
    AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, Value, transaction::Transactable,
};
use groundwork_core::identity::{Identity, Role};
use groundwork_core::time::now_ms;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::peer::{Event, Peer};
use crate::relays::{Meter, Relay, Target};
use crate::setup;
use crate::workload::{self, Group};

/// What one relay did with the edits.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Devices editing.
    pub devices: usize,
    /// Edits made.
    pub edits: usize,
    /// Deliveries timed (edit x other device of its group).
    pub deliveries: usize,
    /// Deliveries still missing at the end.
    pub missing: usize,
    /// Edit-to-peer latency, median and 99th percentile, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Relay CPU seconds over the editing.
    pub relay_cpu: f64,
    /// Load generator CPU seconds over the editing.
    pub load_cpu: f64,
    /// Wall seconds of the editing.
    pub secs: f64,
}

/// When each edit was made, by which group and through which node, by change hash.
type Sent = Mutex<HashMap<ChangeHash, (Instant, usize, usize)>>;

/// What the editors share.
struct Shared {
    sent: Sent,
    /// Everyone connects and syncs first (and says so here); the editing starts together.
    ready: mpsc::Sender<anyhow::Result<()>>,
    start: watch::Receiver<bool>,
    /// Editors past their editing period.
    done_editing: AtomicUsize,
    devices: usize,
}

/// Every device of `groups` edits every `every` for `duration`, device `d` of a group through
/// node `d % relays.len()`.
pub async fn run(
    relays: &[Relay],
    groups: &Arc<Vec<Group>>,
    every: Duration,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let relay = relays.first().context("no relay")?;
    for r in relays {
        Peer::wait_ready(&r.target).await?;
    }
    setup::make_groups(&relay.target, groups, Role::Member).await?;
    let nodes = relays.len();
    let devices: usize = groups.iter().map(|g| 1 + g.canvassers.len()).sum();
    let (ready, mut readied) = mpsc::channel(devices.max(1));
    let (go, start) = watch::channel(false);
    let shared = Arc::new(Shared {
        sent: Mutex::new(HashMap::new()),
        ready,
        start,
        done_editing: AtomicUsize::new(0),
        devices,
    });
    let mut set = JoinSet::new();
    for g in 0..groups.len() {
        for d in 0..=groups[g].canvassers.len() {
            let node = Node {
                target: relays[d % nodes].target.clone(),
                index: d % nodes,
                of: nodes,
            };
            let (groups, shared) = (groups.clone(), shared.clone());
            set.spawn(async move { editor(&node, &groups, g, d, &shared, every, duration).await });
        }
    }
    for _ in 0..devices {
        readied.recv().await.context("an editor ended early")??;
    }
    go.send(true)?;
    let meter = Meter::start(crate::relays::Process(
        relays.iter().flat_map(|r| r.process().0).collect(),
    ))?;
    let mut latencies = Vec::new();
    let mut missing = 0;
    while let Some(done) = set.join_next().await {
        let (l, m) = done??;
        latencies.extend(l);
        missing += m;
    }
    let metered = meter.read()?;
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let edits = shared
        .sent
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .len();
    Ok(Figures {
        devices,
        edits,
        deliveries: latencies.len(),
        missing,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        relay_cpu: metered.relay_cpu,
        load_cpu: metered.load_cpu,
        secs: metered.secs,
    })
}

/// The node a device talks to.
struct Node {
    target: Target,
    /// Which of the nodes.
    index: usize,
    /// How many there are (one: every delivery is timed; more: those from another node).
    of: usize,
}

impl Node {
    /// Whether an edit made through node `from` is timed when it arrives here.
    fn times(&self, from: usize) -> bool {
        self.of == 1 || from != self.index
    }
}

/// One device: syncs the plan, then edits on its schedule while timing everyone else's edits.
/// Returns its latencies (ms) and how many of its group's edits it never received.
async fn editor(
    node: &Node,
    groups: &[Group],
    g: usize,
    d: usize,
    shared: &Shared,
    every: Duration,
    duration: Duration,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let group = &groups[g];
    let who: &Identity = match d {
        0 => &group.lead,
        d => &group.canvassers[d - 1].who,
    };
    let mut peer = match synced(&node.target, who, group).await {
        Ok(peer) => {
            let _ = shared.ready.send(Ok(())).await;
            peer
        }
        Err(e) => {
            let _ = shared.ready.send(Err(e)).await;
            return Ok((Vec::new(), 0));
        }
    };
    // The device edits the hub's own copy: a second copy kept beside it applied every change
    // twice, a quarter of this generator's CPU at 1,000 devices.
    let notes = match peer.hub().doc(&group.plan) {
        Some(plan) => notes_of(plan, &group.meeting)?,
        None => bail!("the synced plan is not in memory"),
    };
    let mut start = shared.start.clone();
    start.wait_for(|go| *go).await?;
    let began = Instant::now();
    let end = began + duration;
    // Each device starts at its own point of the period, drawn (seeded, so every run and every
    // relay sees the same schedule) uniformly from the period, as people who edit when they
    // will. Spread by position in the group alone, device d of every group edited at the same
    // instant: bursts of one edit per group, which timed the burst, not the relay.
    let mut next_edit = began + every.mul_f64(phase(g, d));
    let mut editing = true;
    let mut made = 0;
    let mut latencies = Vec::new();
    let mut missing = 0;
    loop {
        let now = Instant::now();
        if editing && now >= end {
            editing = false;
            shared.done_editing.fetch_add(1, Ordering::SeqCst);
        }
        if editing && now >= next_edit {
            edit(&mut peer, &notes, g, node.index, group, &shared.sent)?;
            made += 1;
            next_edit += every;
        }
        if !editing && shared.done_editing.load(Ordering::SeqCst) == shared.devices {
            let expected = shared
                .sent
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .values()
                .filter(|(_, from, through)| *from == g && node.times(*through))
                .count()
                - if node.times(node.index) { made } else { 0 };
            if latencies.len() >= expected {
                break;
            }
            if now >= end + Duration::from_secs(30) {
                missing = expected - latencies.len();
                break;
            }
        }
        // Awake at least once a second to see whether everyone is done: a device waking every
        // 50 ms cost this generator 20,000 wake-ups a second at 1,000 devices, half its CPU.
        let until = next_edit.min(now + Duration::from_millis(1000));
        peer.wait(until.saturating_duration_since(now)).await?;
        let changed: Vec<_> = peer
            .events()
            .filter_map(|e| match e {
                Event::Changed { doc, changes } if doc == group.plan => Some(changes),
                _ => None,
            })
            .collect();
        for changes in changed {
            let arrived = Instant::now();
            {
                let sent = shared
                    .sent
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?;
                for c in &changes {
                    if let Some((at, _, through)) = sent.get(&c.hash())
                        && node.times(*through)
                    {
                        latencies.push((arrived - *at).as_secs_f64() * 1000.0);
                    }
                }
            }
        }
    }
    peer.close().await;
    Ok((latencies, missing))
}

/// Where in the editing period device `d` of group `g` makes its first edit, in [0, 1): a
/// fixed pseudo-random draw (splitmix64 of the pair).
fn phase(g: usize, d: usize) -> f64 {
    let mut z = ((g as u64) << 32 | d as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Connects holding the group's plan and waits until the relay and this device agree.
async fn synced(target: &Target, who: &Identity, group: &Group) -> anyhow::Result<Peer> {
    Peer::until(
        target,
        who,
        || Ok(vec![(group.plan, workload::load(&group.plan_bytes)?)]),
        Instant::now() + Duration::from_secs(600),
        |p| p.relay_has(&group.plan),
    )
    .await
    .context("an editor syncing its plan")
}

fn edit(
    peer: &mut Peer,
    notes: &ObjId,
    g: usize,
    through: usize,
    group: &Group,
    sent: &Sent,
) -> anyhow::Result<()> {
    let edited = peer.hub().edit(group.plan, now_ms() as u64, |plan| {
        let len = plan.length(notes);
        plan.splice_text(notes, len, 0, "Noted. ")?;
        // Timed from the commit: the hub sends the change straight after.
        anyhow::Ok((plan.commit(), Instant::now()))
    });
    let (Some(hash), at) = edited.context("the plan is not in memory")?? else {
        bail!("an edit made no change");
    };
    sent.lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .insert(hash, (at, g, through));
    Ok(())
}

/// The meeting's notes (a text object) in a plan.
fn notes_of(plan: &AutoCommit, meeting: &str) -> anyhow::Result<ObjId> {
    let obj = |parent: &ObjId, key: &str| -> anyhow::Result<ObjId> {
        match plan.get(parent, key)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => bail!("the plan has no {key}"),
        }
    };
    let meetings = obj(&automerge::ROOT, "meetings")?;
    let meeting = obj(&meetings, meeting)?;
    let notes = obj(&meeting, "notes")?;
    if plan.object_type(&notes)? != ObjType::Text {
        bail!("the meeting's notes are not text");
    }
    Ok(notes)
}
