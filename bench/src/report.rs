//! The sitting's report: a markdown table per scenario, each relay's figures and our ratio to
//! each peer, and who was the limit (the relay, or this load generator).

use std::fmt::Write;

use crate::relays::Kind;
use crate::{canvass, coedit, documents, idle, large_group};

const MIB: f64 = 1024.0 * 1024.0;

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / MIB)
}

/// Who limited a phase: CPU cores each side used on average.
fn limit(secs: f64, relay_cpu: f64, load_cpu: f64) -> String {
    let (r, l) = (relay_cpu / secs, load_cpu / secs);
    let who = if l > r && l > 1.2 {
        "**load generator**"
    } else if r > 0.8 {
        "relay"
    } else {
        "neither (waiting)"
    };
    format!("{who} ({r:.2} / {l:.2})")
}

/// A peer's figure over ours, as "Nx" (how many times ours is better when > 1).
fn times(ours: f64, theirs: f64) -> String {
    if ours <= 0.0 || !ours.is_finite() || !theirs.is_finite() {
        return "n/a".into();
    }
    format!("{:.1}x", theirs / ours)
}

/// Canvass day.
pub fn canvass(out: &mut String, runs: &[(Kind, Result<canvass::Figures, String>)]) {
    let Some(f0) = runs.iter().find_map(|(_, r)| r.as_ref().ok()) else {
        let _ = writeln!(out, "No relay finished.\n");
        return;
    };
    let _ = writeln!(
        out,
        "{} canvassing devices in groups of 10 with a lead each, {} contacts in all \
         (automerge's compressed size {} MiB), reconnecting over 2 s.\n",
        f0.devices,
        f0.contacts,
        mib(f0.compressed)
    );
    let _ = writeln!(
        out,
        "| relay | every lead has all (s) | contacts/s acknowledged | relay CPU (s) | relay CPU per contact (µs) | peak RSS (MiB) | settled RSS (MiB) | wire (MiB) | wire / floor | reconnects | busy: relay / load cores |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (kind, r) in runs {
        match r {
            Ok(f) => {
                let wire = f.wire.sent + f.wire.received;
                let _ = writeln!(
                    out,
                    "| {} | {:.2} | {:.0} | {:.2} | {:.0} | {} | {} | {} | {:.2} | {} | {} |",
                    kind.name(),
                    f.leads_secs,
                    f.contacts as f64 / f.acked_secs,
                    f.metered.relay_cpu,
                    f.metered.relay_cpu * 1e6 / f.contacts as f64,
                    mib(f.metered.relay_peak),
                    mib(f.settled_rss),
                    mib(wire),
                    wire as f64 / (2.0 * f.compressed as f64),
                    f.reconnects,
                    limit(f.metered.secs, f.metered.relay_cpu, f.metered.load_cpu),
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "| {} | failed: {} ||||||||||",
                    kind.name(),
                    one_line(e)
                );
            }
        }
    }
    for (kind, r) in runs {
        if let Ok(f) = r
            && f.metered.database_cpu > 0.0
        {
            let _ = writeln!(
                out,
                "\n{}: of its {:.2} CPU seconds, the database server's were {:.2} ({:.0} µs a \
                 contact) and the relay process's {:.2} ({:.0} µs a contact).",
                kind.name(),
                f.metered.relay_cpu,
                f.metered.database_cpu,
                f.metered.database_cpu * 1e6 / f.contacts as f64,
                f.metered.relay_cpu - f.metered.database_cpu,
                (f.metered.relay_cpu - f.metered.database_cpu) * 1e6 / f.contacts as f64,
            );
        }
    }
    let ours = runs
        .iter()
        .find(|(k, _)| *k == Kind::Groundwork)
        .and_then(|(_, r)| r.as_ref().ok());
    if let Some(o) = ours {
        let _ = writeln!(out, "\nOurs against each peer (how many times better):\n");
        let _ = writeln!(
            out,
            "| peer | throughput | relay CPU per contact | peak RSS | time until leads have all |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (kind, r) in runs.iter().filter(|(k, _)| *k != Kind::Groundwork) {
            // The same relay on PostgreSQL is compared the same way: how many times better
            // the SQLite store is (below 1: PostgreSQL is better).
            if let Ok(p) = r {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    kind.name(),
                    times(
                        p.contacts as f64 / p.acked_secs,
                        o.contacts as f64 / o.acked_secs
                    ),
                    times(o.metered.relay_cpu, p.metered.relay_cpu),
                    times(o.metered.relay_peak as f64, p.metered.relay_peak as f64),
                    times(o.leads_secs, p.leads_secs),
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nThe wire floor is each contacts document's compressed size twice (up from its \
         canvasser, down to its lead). Only groundwork-relay acknowledges a change after it is \
         committed to disk; the peers acknowledge what they hold in memory and write later. \
         A device whose connection fails (no handshake answer within 10 s, a dropped socket) \
         connects again after a pause, as a phone does: \"reconnects\" counts those.\n"
    );
}

/// Co-editing.
pub fn coedit(out: &mut String, runs: &[(Kind, Result<coedit::Figures, String>)]) {
    let _ = writeln!(
        out,
        "| relay | devices | edits | deliveries timed | missing | edit-to-peer p50 (ms) | p99 (ms) | relay CPU (s) | busy: relay / load cores |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (kind, r) in runs {
        match r {
            Ok(f) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.2} | {} |",
                    kind.name(),
                    f.devices,
                    f.edits,
                    f.deliveries,
                    f.missing,
                    f.p50_ms,
                    f.p99_ms,
                    f.relay_cpu,
                    limit(f.secs, f.relay_cpu, f.load_cpu),
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| {} | failed: {} ||||||||", kind.name(), one_line(e));
            }
        }
    }
    out.push('\n');
}

/// Idle fleet.
pub fn idle(out: &mut String, runs: &[(Kind, Result<idle::Figures, String>)]) {
    let _ = writeln!(
        out,
        "| relay | devices | groups | empty RSS (MiB) | idle RSS (MiB) | per device (KiB) | connect all (s) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (kind, r) in runs {
        match r {
            Ok(f) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {:.1} | {:.1} |",
                    kind.name(),
                    f.devices,
                    f.groups,
                    mib(f.empty_rss),
                    mib(f.idle_rss),
                    f.idle_rss.saturating_sub(f.empty_rss) as f64 / 1024.0 / f.devices as f64,
                    f.connect_secs,
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| {} | failed: {} ||||||", kind.name(), one_line(e));
            }
        }
    }
    out.push('\n');
}

/// Many documents.
pub fn documents(out: &mut String, runs: &[(Kind, Result<documents::Figures, String>)]) {
    let _ = writeln!(
        out,
        "| relay | documents | empty RSS (MiB) | peak RSS (MiB) | RSS idle after (MiB) | idle / empty | touch all (s) | relay CPU (s) | documents still loaded |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (kind, r) in runs {
        match r {
            Ok(f) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {:.1}x | {:.1} | {:.1} | {} |",
                    kind.name(),
                    f.documents,
                    mib(f.empty_rss),
                    mib(f.peak_rss),
                    mib(f.idle_rss),
                    f.idle_rss as f64 / f.empty_rss as f64,
                    f.secs,
                    f.relay_cpu,
                    f.loaded.map_or("not reported".into(), |n| format!("{n}")),
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| {} | failed: {} ||||||||", kind.name(), one_line(e));
            }
        }
    }
    out.push('\n');
}

/// A large group.
pub fn large(out: &mut String, r: &Result<large_group::Figures, String>) {
    match r {
        Ok(f) => {
            let _ = writeln!(
                out,
                "| joins | join wall, median (ms) | relay CPU of a join, median (ms) |"
            );
            let _ = writeln!(out, "|---|---|---|");
            let w = large_group::WINDOW;
            let _ = writeln!(out, "| 1-{w} | {:.1} | {:.2} |", f.early_ms, f.early_cpu_ms);
            let _ = writeln!(
                out,
                "| {}-{} | {:.1} | {:.2} |",
                f.members - w,
                f.members - 1,
                f.late_ms,
                f.late_cpu_ms
            );
            let s = large_group::SPREAD_WINDOW;
            let _ = writeln!(
                out,
                "\nWith the roster pushes to everyone online spread over the joins (relay CPU per \
                 join, joins 1-{s} against the last {s}): {:.2} ms against {:.2} ms.\n",
                f.early_spread_cpu_ms, f.late_spread_cpu_ms
            );
            let _ = writeln!(
                out,
                "The last joins against the first: wall {:.1}x, a join's relay CPU {:.1}x, with \
                 the pushes spread {:.1}x.\n",
                f.late_ms / f.early_ms,
                f.late_cpu_ms / f.early_cpu_ms.max(f64::MIN_POSITIVE),
                f.late_spread_cpu_ms / f.early_spread_cpu_ms.max(f64::MIN_POSITIVE)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "Failed: {}\n", one_line(e));
        }
    }
}

fn one_line(e: &str) -> String {
    e.replace(['\n', '|'], " ")
}

/// The report's opening: when, on what, which versions.
pub fn header() -> anyhow::Result<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo")?;
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let mem_kib: f64 = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0);
    let command = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Benchmarks: our relay beside the relays a team would pick instead\n"
    );
    let _ = writeln!(
        out,
        "Written by `scripts/bench` (`groundwork-load sitting`) on {} at commit {}. Every figure \
         below comes from that one sitting on one machine; it is shared and noisy, so compare \
         figures within this file, not across sittings.\n",
        command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        command("git", &["rev-parse", "--short", "HEAD"]),
    );
    let _ = writeln!(
        out,
        "- Machine: {model}, {cores} cores, {:.0} GiB.",
        mem_kib / 1024.0 / 1024.0
    );
    let _ = writeln!(
        out,
        "- groundwork-relay {} (release build, SQLite store encrypted at rest, default limits \
         but for the per-address ones: every simulated device shares one loopback address).",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "- @automerge/automerge-repo-sync-server 0.2.8 (automerge-repo 1.2.1) on Node.js {}, \
         its filesystem storage.",
        command("node", &["--version"])
    );
    let _ = writeln!(
        out,
        "- samod 0.16.0 (automerge 0.12): `samod-relay`, samod's axum acceptor and filesystem \
         storage, announcing nothing (as the sync server)."
    );
    let _ = writeln!(
        out,
        "- The load generator, `groundwork-load`: each simulated device is core's own protocol \
         machine on one WebSocket, with no store; thousands share two threads. \"busy\" gives the \
         CPU cores the relay and the load generator used on average: when the load generator's \
         figure is the larger and above 1.2, it was the limit, not the relay.\n"
    );
    Ok(out)
}
