//! `groundwork-load`: one workload driven through `groundwork-relay`,
//! `@automerge/automerge-repo-sync-server` and a samod relay alike, each started here as a child
//! process on loopback, measured from /proc. The simulated devices run core's own protocol
//! machine ([`peer`]), lean enough that thousands share this process; it reports its own CPU
//! beside each relay's and says when it, not the relay, was the limit.
//!
//! `groundwork-load sitting` runs every scenario on every relay and writes BENCHMARKS.md;
//! each scenario also runs alone (`groundwork-load canvass --help`).

mod canvass;
mod peer;
mod relays;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::relays::{Kind, Options, Relay};

#[derive(Parser)]
struct Args {
    /// Where the relays keep their data while they run (emptied first).
    #[arg(long, default_value = "target/bench-work")]
    work: PathBuf,
    /// Which relays, comma-separated (default: all three).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["groundwork", "sync-server", "samod"])]
    relays: Vec<Kind>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Canvass day: contacts logged offline, then every device reconnects within a window.
    Canvass {
        /// Canvassing devices (in groups of `--per-group`, each with a lead).
        #[arg(long, default_value_t = 500)]
        devices: usize,
        /// Canvassers per group.
        #[arg(long, default_value_t = 10)]
        per_group: usize,
        /// Contacts each logged offline.
        #[arg(long, default_value_t = 200)]
        contacts: usize,
        /// Seconds over which the devices reconnect.
        #[arg(long, default_value_t = 2.0)]
        window: f64,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kinds = args.relays.clone();
    // Two workers: the machine is shared with the relay under test, and the figures say how
    // much of it this process took.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.scenario {
        Scenario::Canvass {
            devices,
            per_group,
            contacts,
            window,
        } => {
            let groups = devices.div_ceil(per_group);
            eprintln!("making {groups} groups of {per_group} canvassers x {contacts} contacts");
            let made = Arc::new(workload::groups(groups, per_group, contacts)?);
            for kind in kinds {
                let relay = Relay::start(kind, &args.work.join("relay"), &Options::default())?;
                let f = rt.block_on(canvass::run(
                    &relay,
                    &made,
                    Duration::from_secs_f64(window),
                    Duration::from_secs(600),
                ))?;
                println!("{}: {f:#?}", kind.name());
            }
        }
    }
    Ok(())
}
