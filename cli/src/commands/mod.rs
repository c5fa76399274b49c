//! Runs one parsed command against the device store and shapes its output. This file opens
//! the store and dispatches; each family of commands lives in its own module, and the requests
//! the relay answers run core's flows ([`groundwork_core::requests`]).

mod action;
mod board;
mod campaign;
mod contact;
mod device;
mod group;
mod meeting;
mod membership;
mod names;
mod reference;
mod sync;
mod target;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use groundwork_core::Device;
use groundwork_core::requests::Flow;
use groundwork_core::store::{STORE_FILE, StoreKey};

use crate::render;
use crate::{Cli, Command};

/// What a command prints: one JSON value for `--json`, text otherwise; nothing more for a
/// command that streamed its output as it went.
pub struct Output {
    pub json: serde_json::Value,
    pub text: String,
    pub streamed: bool,
}

impl Output {
    fn new(json: serde_json::Value, text: impl Into<String>) -> Self {
        Self {
            json,
            text: text.into(),
            streamed: false,
        }
    }

    fn streamed() -> Self {
        Self {
            json: serde_json::Value::Null,
            text: String::new(),
            streamed: true,
        }
    }
}

fn data_dir(cli_data: Option<PathBuf>) -> Result<PathBuf> {
    match cli_data {
        Some(dir) => Ok(dir),
        None => dirs::data_dir()
            .map(|d| d.join("groundwork"))
            .context("this platform has no data directory; pass --data DIR"),
    }
}

/// Where the store key comes from: `GROUNDWORK_STORE_KEY` (64 hex digits) if set, else a key
/// file only its owner can read (`--key-file`, default `DIR/store.key`), made by `init`.
fn store_key(dir: &Path, key_file: Option<PathBuf>, create: bool) -> Result<StoreKey> {
    if let Ok(hex) = std::env::var("GROUNDWORK_STORE_KEY") {
        return StoreKey::from_hex(&hex).context("GROUNDWORK_STORE_KEY");
    }
    let path = key_file.unwrap_or_else(|| dir.join("store.key"));
    if create && !path.exists() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        return Ok(StoreKey::create_file(&path)?);
    }
    Ok(StoreKey::read_file(&path)?)
}

pub fn run(cli: Cli) -> Result<Output> {
    let json = cli.json;
    let dir = data_dir(cli.data)?;
    // Before a key file is made in it or looked for: a file in the way is named as such.
    groundwork_core::store::check_data_dir(&dir)?;
    let mut command = match cli.command {
        Command::Init { name } => return device::init(&dir, cli.key_file, &name),
        Command::Rules => return Ok(reference::rules()),
        Command::Places(command) => return reference::places(command),
        command => command,
    };
    let key = if dir.join(STORE_FILE).exists() {
        store_key(&dir, cli.key_file, false)?
    } else {
        // Device::open names the missing store.
        StoreKey::from_bytes([0; 32])
    };
    let mut device = Device::open(&dir, &key)?;
    names::resolve(&device, &mut command)?;
    let d = &mut device;
    match command {
        Command::Init { .. }
        | Command::Rules
        | Command::Places(_)
        | Command::Completions { .. }
        | Command::Man { .. } => {
            unreachable!("handled before the store is opened")
        }
        Command::Whoami { id } => Ok(device::whoami(d, id)),
        Command::Store(c) => device::store(d, c),
        Command::Group(c) => group::run(d, c),
        Command::Invite(c) => membership::invite(d, c, json),
        Command::Join { code, relay } => membership::join(d, &code, relay.as_deref()),
        Command::Member(c) => membership::member(d, c),
        Command::Token { group, relay, ttl } => membership::token(d, &group, &relay, ttl),
        Command::Signup { code, relay } => membership::sign_up(d, code, &relay),
        Command::Sync {
            relay,
            once,
            timeout,
        } => sync::sync(device, &relay, once, timeout, json),
        Command::Relay(c) => sync::relay(device, c),
        Command::Status => sync::status(d),
        Command::Board(c) => board::run(d, c),
        Command::Campaign(c) => campaign::run(d, c),
        Command::Dashboard(c) => campaign::dashboard(d, c),
        Command::Target(c) => target::run(d, c),
        Command::Response(c) => target::response(d, c),
        Command::Scorecard { group, target } => target::scorecard(d, &group, target.as_deref()),
        Command::Meeting(c) => meeting::run(d, c),
        Command::Action(c) => action::run(d, c),
        Command::Contact(c) => contact::run(d, c, json),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs one of core's request flows with the relay: core sends the request, judges the
/// answer and records what it means on the device.
fn ask<F: Flow>(device: &mut Device, relay: &str, flow: &F) -> Result<F::Output> {
    Ok(runtime()?.block_on(groundwork_core::net::ask(
        device,
        relay,
        flow,
        std::time::Duration::from_secs(30),
    ))?)
}

/// A group's name for a sentence, or its id while the name is not known (joined, not synced).
fn group_name(device: &Device, group: &str) -> String {
    match device.group(group) {
        Ok(g) if !g.name.is_empty() => render::clean_line(&g.name).to_string(),
        _ => render::clean_line(group).to_string(),
    }
}
