//! The connection to the relay: `sync`, `status`, and `relay show|move`.

use anyhow::{Context, Result};
use groundwork_core::Device;
use serde_json::json;

use super::{Output, runtime};
use crate::render::{self, count};
use crate::{RelayArg, RelayCommand};

/// `sync [--once]`, with the relay named or remembered.
pub(super) fn sync(
    device: Device,
    relay: &RelayArg,
    once: bool,
    timeout: u64,
    json: bool,
) -> Result<Output> {
    let relay = device.relay_or(relay.relay.as_deref())?;
    sync_with(device, &relay, once, timeout, json)
}

/// `relay show|move`.
pub(super) fn relay(device: Device, command: RelayCommand) -> Result<Output> {
    match command {
        RelayCommand::Show => {
            let relay = device.relay()?;
            let aliases = device.relay_aliases()?;
            let mut text = match &relay {
                Some(r) => format!("{}\n", render::clean_line(r)),
                None => "no relay yet: a join or a sync with --relay sets it\n".to_owned(),
            };
            if !aliases.is_empty() {
                text.push_str(&format!(
                    "also answers at: {}\n",
                    render::clean_line(&aliases.join(", "))
                ));
            }
            Ok(Output::new(
                json!({ "relay": relay, "aliases": aliases }),
                text,
            ))
        }
        RelayCommand::Move { url, yes, timeout } => move_relay(device, &url, yes, timeout),
    }
}

/// `status`: the connection as last recorded, and each document's standing.
pub(super) fn status(device: &mut Device) -> Result<Output> {
    let docs = device.sync_status()?;
    let connection = device.connection()?;
    let synced = docs.iter().filter(|d| d.synced).count();
    let text = render::status(connection.as_ref(), &docs);
    Ok(Output::new(
        json!({
            "connection": connection,
            "documents": docs,
            "synced": synced,
            "total": docs.len(),
        }),
        text,
    ))
}

/// `sync`: once, or forever with jittered exponential backoff between failed rounds.
fn sync_with(
    mut device: Device,
    relay: &str,
    once: bool,
    timeout: u64,
    json: bool,
) -> Result<Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let timeout = std::time::Duration::from_secs(timeout);
    if once {
        let mut progress = render::Progress::new(!json);
        let summary = runtime.block_on(groundwork_core::net::sync_once_reporting(
            &mut device,
            relay,
            timeout,
            &mut |p| progress.show(p),
        ));
        progress.finish();
        let summary = summary?;
        if !summary.synced {
            anyhow::bail!(
                "not everything is synced: {}",
                serde_json::to_string(&summary).unwrap_or_default()
            );
        }
        let mut text = format!(
            "synced {} with {} in {}\n",
            count(summary.documents, "document"),
            render::clean_line(&summary.relay),
            count(summary.round_trips as usize, "round trip")
        );
        for group in &summary.wiped {
            text.push_str(&format!(
                "removed from group {}: its data was deleted from this device\n",
                render::clean_line(group)
            ));
        }
        return Ok(Output::new(json!(summary), text));
    }
    // Stay connected until interrupted: a line per event on stdout (one JSON value a line
    // with --json).
    let mut options = groundwork_core::net::RunOptions::new(relay);
    options.connect_timeout = timeout;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let lines = crate::watch::EventLines::new(&device)?;
    let shared = std::sync::Mutex::new(device);
    let result = runtime.block_on(async {
        let running = groundwork_core::net::run(&shared, options, stop, |event| {
            if json {
                println!("{}", json!(event));
            } else {
                println!("{}", lines.line(event));
            }
        });
        tokio::pin!(running);
        tokio::select! {
            result = &mut running => result,
            () = wait_for_interrupt() => {
                // Let the connection save its sync states and record "offline".
                let _ = stop_tx.send(true);
                running.await
            }
        }
    });
    result?;
    Ok(Output::new(json!({ "stopped": true }), "sync stopped\n"))
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn wait_for_interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `relay move URL [--yes]`: what a move would send, or the move itself (a sync with the new
/// relay, which it remembers once it accepts the connection; nothing moves if it does not).
fn move_relay(mut device: Device, url: &str, yes: bool, timeout: u64) -> Result<Output> {
    groundwork_core::relay::check(url)?;
    let from = device.relay()?;
    // What the new relay would receive: every document this device holds, by group.
    let docs = device.documents()?;
    let mut groups = Vec::new();
    for g in device.groups()? {
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        // Only the group's own documents travel: a relay writes rosters, briefs and boards.
        let own = |d: &&groundwork_core::store::DocRecord| {
            d.group_id.as_deref() == Some(&g.group_id)
                && !matches!(d.kind.as_str(), "roster" | "brief" | "board")
        };
        for d in docs.iter().filter(own) {
            *kinds.entry(d.kind.as_str()).or_default() += 1;
        }
        groups.push(json!({
            "group_id": g.group_id,
            "name": g.name,
            "role": g.role,
            "documents": kinds,
        }));
    }
    let described: Vec<String> = groups
        .iter()
        .map(|g| {
            let kinds = g["documents"]
                .as_object()
                .map(|k| {
                    k.iter()
                        .map(|(kind, n)| format!("{n} {kind}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "  {} ({}): {}",
                render::clean_line(g["name"].as_str().unwrap_or_default()),
                g["role"].as_str().unwrap_or_default(),
                if kinds.is_empty() {
                    "nothing stored yet".to_owned()
                } else {
                    kinds
                }
            )
        })
        .collect();
    if !yes {
        anyhow::bail!(
            "not moved: moving this device to {url} sends it every document this device holds \
             ({} groups{}), and from then on this device syncs only with {url}, not {}.\n{}\n\
             Run again with --yes to move.",
            groups.len(),
            if groups.is_empty() { "" } else { ":" },
            from.as_deref().unwrap_or("(no relay yet)"),
            described.join("\n")
        );
    }
    // What the old relay wrote (rosters, briefs, boards) the new one writes anew.
    device.forget_relay_written()?;
    let summary = runtime()?.block_on(groundwork_core::net::sync_once(
        &mut device,
        url,
        std::time::Duration::from_secs(timeout),
    ))?;
    let moved = device.relay()?.is_some_and(|r| {
        groundwork_core::relay::audience(&r).ok() == groundwork_core::relay::audience(url).ok()
    });
    if !moved {
        anyhow::bail!("not moved: {url} did not accept this device's connection");
    }
    let text = format!(
        "moved to {url} (from {}): sent {} documents{}\n{}\n",
        from.as_deref().unwrap_or("no relay"),
        summary.documents,
        if summary.synced {
            ", all synced"
        } else {
            "; not everything is synced yet: run `groundwork sync`"
        },
        described.join("\n")
    );
    Ok(Output::new(
        json!({
            "moved": true,
            "from": from,
            "to": url,
            "groups": groups,
            "documents": summary.documents,
            "synced": summary.synced,
            "pending": summary.pending,
        }),
        text,
    ))
}
