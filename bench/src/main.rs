//! `groundwork-load`: one workload driven through `groundwork-relay`,
//! `@automerge/automerge-repo-sync-server` and a samod relay alike, each started here as a child
//! process on loopback with a fresh data directory, measured from /proc. The simulated devices
//! run core's own protocol machine ([`peer`]), lean enough that thousands share this process; the
//! report gives its CPU beside each relay's, so it says when it, not the relay, was the limit.
//!
//! `groundwork-load sitting` runs every scenario on every relay and writes BENCHMARKS.md
//! (`scripts/bench` builds everything and runs it); each scenario also runs alone.

mod canvass;
mod coedit;
mod documents;
mod idle;
mod large_group;
mod peer;
mod relays;
mod report;
mod setup;
mod workload;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::relays::{Kind, Options, Relay};

#[derive(Parser)]
struct Args {
    /// Where the relays keep their data while they run (emptied first).
    #[arg(long, default_value = "target/bench-work")]
    work: PathBuf,
    /// Which relays, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["groundwork", "sync-server", "samod"])]
    relays: Vec<Kind>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Canvass day: contacts logged offline, then every device reconnects within 2 s.
    Canvass {
        /// Canvassing devices, in groups of 10 with a lead each.
        #[arg(long, default_value_t = 500)]
        devices: usize,
        /// Contacts each logged offline.
        #[arg(long, default_value_t = 200)]
        contacts: usize,
    },
    /// Co-editing: every device of many groups of 10 appends to its group's meeting notes.
    Coedit {
        /// Groups of 10 devices.
        #[arg(long, default_value_t = 100)]
        groups: usize,
        /// Milliseconds between one device's edits.
        #[arg(long, default_value_t = 2000)]
        every_ms: u64,
        /// Seconds of editing.
        #[arg(long, default_value_t = 20)]
        secs: u64,
    },
    /// Idle fleet: every device of many groups of 10 connects, syncs and stays idle.
    Idle {
        /// Groups of 10 devices.
        #[arg(long, default_value_t = 1000)]
        groups: usize,
    },
    /// Many documents: each touched once by a device of its own, then left idle.
    Documents {
        /// Documents.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// The longest each relay is given to touch them, in seconds (the sitting gives 180).
        #[arg(long, default_value_t = DOCUMENTS_BUDGET.as_secs())]
        budget_secs: u64,
    },
    /// A large group: members join one by one, everyone who joined staying online (ours only).
    LargeGroup {
        /// Devices in the end, the lead included.
        #[arg(long, default_value_t = 500)]
        members: usize,
    },
    /// The relay on PostgreSQL: canvass day on one node on SQLite and one on PostgreSQL, then
    /// co-editing through two nodes on one database, timing edits from one node to the other.
    Postgres {
        /// Canvassing devices.
        #[arg(long, default_value_t = 500)]
        devices: usize,
        /// Contacts each logged offline.
        #[arg(long, default_value_t = 200)]
        contacts: usize,
        /// Groups of 10 co-editing devices, spread over the two nodes.
        #[arg(long, default_value_t = 10)]
        groups: usize,
        /// Milliseconds between one device's edits.
        #[arg(long, default_value_t = 2000)]
        every_ms: u64,
        /// Seconds of editing.
        #[arg(long, default_value_t = 20)]
        secs: u64,
    },
    /// Every scenario on every relay; writes the report.
    Sitting {
        /// Where the report goes.
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        /// Small sizes, to try the harness (not for the report).
        #[arg(long)]
        quick: bool,
    },
}

/// A scenario's sizes.
struct Sizes {
    canvass_devices: usize,
    canvass_contacts: usize,
    coedit_groups: usize,
    coedit_every: Duration,
    coedit_secs: Duration,
    idle_groups: usize,
    documents: usize,
    large_group: usize,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        canvass_devices: 500,
        canvass_contacts: 200,
        coedit_groups: 100,
        coedit_every: Duration::from_secs(2),
        coedit_secs: Duration::from_secs(20),
        idle_groups: 1000,
        documents: 100_000,
        large_group: 500,
    };
    const QUICK: Sizes = Sizes {
        canvass_devices: 50,
        canvass_contacts: 20,
        coedit_groups: 5,
        coedit_every: Duration::from_millis(500),
        coedit_secs: Duration::from_secs(3),
        idle_groups: 10,
        documents: 200,
        large_group: 30,
    };
}

/// The longest a relay is given documents to touch (samod took 27 ms a document here: 100,000
/// would take 45 minutes); the report gives the count each was given.
const DOCUMENTS_BUDGET: Duration = Duration::from_secs(180);

/// The longest any one relay's run of one scenario may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(1200);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Two workers: the machine is shared with the relay under test, and the report says how
    // much of it this process took.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let work = args.work.clone();
    let kinds = args.relays.clone();
    let mut out = String::new();
    match args.scenario {
        Scenario::Canvass { devices, contacts } => {
            let r = canvass_all(&rt, &work, &kinds, devices, contacts)?;
            report::canvass(&mut out, &r);
        }
        Scenario::Coedit {
            groups,
            every_ms,
            secs,
        } => {
            let r = coedit_all(
                &rt,
                &work,
                &kinds,
                groups,
                Duration::from_millis(every_ms),
                Duration::from_secs(secs),
            )?;
            report::coedit(&mut out, &r);
        }
        Scenario::Idle { groups } => {
            let r = idle_all(&rt, &work, &kinds, groups)?;
            report::idle(&mut out, &r);
        }
        Scenario::Documents { count, budget_secs } => {
            let budget = Duration::from_secs(budget_secs);
            let r = documents_all(&rt, &work, &kinds, count, budget)?;
            report::documents(&mut out, &r);
        }
        Scenario::LargeGroup { members } => {
            let r = large_group(&rt, &work, members)?;
            report::large(&mut out, &r);
        }
        Scenario::Postgres {
            devices,
            contacts,
            groups,
            every_ms,
            secs,
        } => {
            let sizes = Sizes {
                canvass_devices: devices,
                canvass_contacts: contacts,
                coedit_groups: groups,
                coedit_every: Duration::from_millis(every_ms),
                coedit_secs: Duration::from_secs(secs),
                ..Sizes::FULL
            };
            let done = postgres(&rt, &work, &sizes, &mut out);
            relays::stop_database();
            done?;
        }
        Scenario::Sitting { out: path, quick } => {
            let s = if quick { &Sizes::QUICK } else { &Sizes::FULL };
            let done = sitting(&rt, &work, &kinds, s, &path);
            relays::stop_database();
            done?;
            eprintln!("wrote {}", path.display());
            return Ok(());
        }
    }
    print!("{out}");
    Ok(())
}

/// Runs one scenario on one fresh relay, with a time limit; a failure is reported, not fatal.
fn on_relay<T, F, Fut>(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kind: Kind,
    options: &Options,
    run: F,
) -> anyhow::Result<Result<T, String>>
where
    F: FnOnce(Relay) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    eprintln!("  {}", kind.name());
    let relay = Relay::start(kind, &work.join("relay"), options)?;
    let result = rt.block_on(async {
        match tokio::time::timeout(RUN_TIMEOUT, run(relay)).await {
            Ok(r) => r.map_err(|e| format!("{e:#}")),
            Err(_) => Err(format!("did not finish in {} s", RUN_TIMEOUT.as_secs())),
        }
    });
    if let Err(e) = &result {
        eprintln!("  {} failed: {e}", kind.name());
    }
    Ok(result)
}

type Runs<T> = Vec<(Kind, Result<T, String>)>;

/// Runs one scenario on each relay in turn, a fresh one each time, over the same workload
/// (made once, so that every relay is sent the same bytes).
fn on_each<W, T, F, Fut>(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kinds: &[Kind],
    workload: W,
    run: F,
) -> anyhow::Result<Runs<T>>
where
    W: Clone,
    F: Fn(Relay, W) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    kinds
        .iter()
        .map(|&k| {
            let w = workload.clone();
            let r = on_relay(rt, work, k, &Options::default(), |relay| run(relay, w))?;
            Ok((k, r))
        })
        .collect()
}

fn canvass_all(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kinds: &[Kind],
    devices: usize,
    contacts: usize,
) -> anyhow::Result<Runs<canvass::Figures>> {
    eprintln!("canvass day: {devices} devices x {contacts} contacts");
    let groups = Arc::new(workload::groups(devices.div_ceil(10), 10, contacts)?);
    on_each(rt, work, kinds, groups, |relay, g| async move {
        canvass::run(&relay, &g, Duration::from_secs(2), Duration::from_secs(300)).await
    })
}

fn coedit_all(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kinds: &[Kind],
    groups: usize,
    every: Duration,
    secs: Duration,
) -> anyhow::Result<Runs<coedit::Figures>> {
    eprintln!("co-editing: {groups} groups of 10");
    let made = Arc::new(workload::groups(groups, 9, 0)?);
    on_each(rt, work, kinds, made, |relay, g| async move {
        coedit::run(std::slice::from_ref(&relay), &g, every, secs).await
    })
}

fn idle_all(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kinds: &[Kind],
    groups: usize,
) -> anyhow::Result<Runs<idle::Figures>> {
    eprintln!("idle fleet: {groups} groups of 10");
    let made = Arc::new(workload::groups(groups, 9, 0)?);
    on_each(rt, work, kinds, made, |relay, g| async move {
        idle::run(&relay, &g).await
    })
}

fn documents_all(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kinds: &[Kind],
    count: usize,
    budget: Duration,
) -> anyhow::Result<Runs<documents::Figures>> {
    eprintln!("many documents: {count}");
    let made = Arc::new(workload::groups(count, 0, 0)?);
    on_each(rt, work, kinds, made, move |relay, g| async move {
        documents::run(&relay, &g, 32, budget).await
    })
}

fn large_group(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    members: usize,
) -> anyhow::Result<Result<large_group::Figures, String>> {
    eprintln!("a large group: {members} devices");
    let made = workload::groups(1, members.saturating_sub(1), 0)?;
    let options = Options {
        groundwork_args: vec!["--max-group-members".into(), members.to_string()],
    };
    on_relay(rt, work, Kind::Groundwork, &options, |relay| async move {
        large_group::run(&relay, &made[0]).await
    })
}

/// Every scenario, the report rewritten at `path` after each one (a sitting cut short keeps
/// the figures it has).
fn sitting(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    kinds: &[Kind],
    s: &Sizes,
    path: &Path,
) -> anyhow::Result<()> {
    let mut out = report::header()?;
    let save = |out: &str| {
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
    };
    out.push_str("## Canvass day\n\n");
    let r = canvass_all(rt, work, kinds, s.canvass_devices, s.canvass_contacts)?;
    report::canvass(&mut out, &r);
    save(&out)?;
    out.push_str("## Co-editing\n\n");
    out.push_str(&format!(
        "{} groups of 10 devices; each device appends to its group's meeting notes every {} ms \
         for {} s, all at once.\n\n",
        s.coedit_groups,
        s.coedit_every.as_millis(),
        s.coedit_secs.as_secs()
    ));
    let r = coedit_all(
        rt,
        work,
        kinds,
        s.coedit_groups,
        s.coedit_every,
        s.coedit_secs,
    )?;
    report::coedit(&mut out, &r);
    save(&out)?;
    out.push_str("## Idle fleet\n\n");
    let r = idle_all(rt, work, kinds, s.idle_groups)?;
    report::idle(&mut out, &r);
    save(&out)?;
    out.push_str("## Many documents, touched once then idle\n\n");
    let r = documents_all(rt, work, kinds, s.documents, DOCUMENTS_BUDGET)?;
    report::documents(&mut out, &r);
    save(&out)?;
    out.push_str("## A large group, joining one by one (groundwork-relay only)\n\n");
    let r = large_group(rt, work, s.large_group)?;
    report::large(&mut out, &r);
    save(&out)?;
    postgres(rt, work, s, &mut out)?;
    save(&out)
}

/// Groups of 10 co-editing through two relay nodes on one PostgreSQL database.
const CLUSTER_NODES: usize = 2;

/// The relay on PostgreSQL beside the relay on SQLite, and two nodes on one database.
fn postgres(
    rt: &tokio::runtime::Runtime,
    work: &Path,
    s: &Sizes,
    out: &mut String,
) -> anyhow::Result<()> {
    out.push_str("## On PostgreSQL\n\n");
    out.push_str(&format!(
        "Canvass day, {} devices x {} contacts, on one node on SQLite and one on PostgreSQL \
         (Debian's server, a throw-away cluster on this machine, fsync on). The PostgreSQL \
         row's CPU and memory are the relay's and the database server's together (memory \
         summed over its processes, so the server's shared buffers count once in each \
         process that touched them: an overstatement).\n\n",
        s.canvass_devices, s.canvass_contacts
    ));
    let r = canvass_all(
        rt,
        work,
        &[Kind::Groundwork, Kind::GroundworkPostgres],
        s.canvass_devices,
        s.canvass_contacts,
    )?;
    report::canvass(out, &r);
    out.push_str(&format!(
        "\nCo-editing through {CLUSTER_NODES} nodes on one database: {} groups of 10, a \
         group's devices spread over the nodes, each appending to its meeting's notes every \
         {} ms for {} s; only deliveries from one node to the other are timed.\n\n",
        s.coedit_groups,
        s.coedit_every.as_millis(),
        s.coedit_secs.as_secs()
    ));
    eprintln!(
        "two nodes on one database: {} groups of 10",
        s.coedit_groups
    );
    let made = Arc::new(workload::groups(s.coedit_groups, 9, 0)?);
    let nodes = Relay::start_nodes(CLUSTER_NODES, &work.join("relay"))?;
    let r = rt.block_on(async {
        match tokio::time::timeout(
            RUN_TIMEOUT,
            coedit::run(&nodes, &made, s.coedit_every, s.coedit_secs),
        )
        .await
        {
            Ok(r) => r.map_err(|e| format!("{e:#}")),
            Err(_) => Err(format!("did not finish in {} s", RUN_TIMEOUT.as_secs())),
        }
    });
    report::coedit(out, &[(Kind::GroundworkPostgres, r)]);
    Ok(())
}
