//! Chaos with real processes: 24 devices (real `groundwork` CLI processes, each with its own
//! store) in three groups of leads, members and canvassers log contacts, create meetings,
//! append to their notes and show meetings to canvassers, while the real `groundwork-relay` is
//! SIGKILLed at random moments and restarted on the same port and data, `sync --once`
//! processes are SIGKILLed mid-sync, long-running `sync` processes (which stay connected and
//! reconnect by themselves) are SIGKILLed and restarted, and now and then an edit's own
//! process is SIGKILLed mid-call. Afterwards, with the relay up, every device syncs until
//! nothing moves, and this proves:
//!
//! 1. every edit whose process exited 0 is in the relay's store (read after a last SIGKILL);
//! 2. it is on every device allowed to read it (contacts: their writer and the group's leads;
//!    the plan: leads and members; a meeting shown to canvassers: every canvasser's brief), and
//!    what a device may not read is not on it;
//! 3. every replica of every document has the relay's heads, and every device holds exactly
//!    the documents it may read;
//! 4. no process panicked, none logged a warning or an error (but the relay's warnings about
//!    changes it refused, which are tallied), no sync failed but as the relay's deaths
//!    explain, and every store passes SQLite's integrity check.
//!
//! The schedule comes from a seeded generator (`GROUNDWORK_CHAOS_SEED`, printed at the start
//! and in every failure), each thread drawing from its own stream, so a seed replays the same
//! draws: which device does what, which processes are killed and after how long, when the
//! relay dies and for how long. What a draw lands on (the meetings made so far, the instruction
//! a kill interrupts) still depends on the scheduler, which is the point; a failing seed
//! replayed a few times reproduces it if the bug is not one rare interleaving.
//! `GROUNDWORK_CHAOS_SECS` sets how long the chaos lasts (default: a short run for CI); the
//! figures line at the end says what happened, lost edits included (which must be 0).
//!
//! The same chaos runs a second time across two relay nodes on one PostgreSQL database (a
//! throw-away cluster): each node is SIGKILLed and restarted on its own schedule, one-off syncs
//! go to either node, long-running ones each to their own, and at the end devices settle
//! through different nodes, which must agree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use groundwork_tests::{
    Device, Relay, Res, StoredDoc, bin, device_documents, field, relay_db, relay_documents,
    relay_documents_pg,
};

/// How long the chaos lasts by default: the whole test then takes about half a minute on two
/// cores, setup and checks included.
const DEFAULT_SECS: u64 = 15;
/// Groups, and in each: leads, members, canvassers.
const GROUPS: usize = 3;
const LEADS: usize = 2;
const MEMBERS: usize = 3;
const CANVASSERS: usize = 3;
/// Threads making edits and one-off syncs at once.
const WORKERS: u64 = 3;
/// How a sync fails when the relay is down or dies under it: expected, tallied.
const EXPECTED_SYNC_FAILURES: &[&str] = &[
    "Connection refused",
    "Connection reset",
    "Broken pipe",
    "Handshake not finished",
    "the relay closed the connection",
];
/// Every marker starts so; the fixed-width number after it makes none a prefix of another.
const MARKER: &str = "Chaos-";

/// xorshift64*, as in crash.rs: reproducible from a seed.
struct Rng(u64);

impl Rng {
    /// Stream `n` of `seed`, so each thread draws the same choices on every replay.
    fn stream(seed: u64, n: u64) -> Self {
        let mut rng = Rng((seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        // The first outputs of nearby states are alike; let them diverge.
        for _ in 0..8 {
            rng.next();
        }
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Lead,
    Member,
    Canvasser,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Lead => "lead",
            Role::Member => "member",
            Role::Canvasser => "canvasser",
        }
    }

    fn reads_plan(self) -> bool {
        self != Role::Canvasser
    }
}

/// One device of the run.
struct Dev {
    name: String,
    cli: Device,
    id: String,
    group: usize,
    role: Role,
    /// Synced by a long-running `groundwork sync` (killed and restarted by the chaos) rather
    /// than by `sync --once` calls.
    daemon: bool,
    /// One edit process at a time per device, so the ledger's order per device is the order
    /// of its calls. (The store would take more: each edit is an IMMEDIATE transaction that
    /// first reads what other processes wrote; syncs run alongside edits for that reason.)
    editing: Mutex<()>,
    /// One sync process at a time per device, as an app has one connection.
    syncing: Mutex<()>,
}

impl std::fmt::Display for Dev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.role.as_str(), self.id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `contact log` with the marker as its note.
    Contact,
    /// `meeting create` with the marker as its title.
    Meeting,
    /// `meeting notes --append` of the marker.
    Notes,
    /// `meeting canvassers show` of a meeting whose title is the marker.
    Shown,
}

/// An edit whose process exited 0.
struct Edit {
    marker: String,
    device: usize,
    kind: Kind,
}

/// A meeting whose creation returned.
struct Meeting {
    id: String,
    title: String,
    group: usize,
    creator: usize,
    /// A `show` was attempted (returned or not: a killed one may have been saved).
    shown: bool,
}

/// A long-running `groundwork sync`, SIGKILLed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How a CLI process ended.
enum Outcome {
    Ok(String),
    Failed(String),
    Killed,
}

#[derive(Default)]
struct Figures {
    relay_kills: AtomicU64,
    once_syncs: AtomicU64,
    once_ok: AtomicU64,
    once_killed: AtomicU64,
    daemon_kills: AtomicU64,
    daemon_connects: Arc<AtomicU64>,
    edit_kills: AtomicU64,
    notes_unknown_meeting: AtomicU64,
}

/// One relay node: restarted on the same port and data each time.
struct Node {
    data: PathBuf,
    addr: String,
    url: String,
    relay: Mutex<Option<Relay>>,
}

/// Everything the threads of the run share.
struct Chaos {
    seed: u64,
    root: PathBuf,
    cli_bin: PathBuf,
    relay_bin: PathBuf,
    /// The relay nodes: one on SQLite, or several on one PostgreSQL database.
    nodes: Vec<Node>,
    /// The nodes' database, when they share one.
    database: Option<String>,
    /// Every node's sync URL: each node answers at all of them (`--public-url`).
    public_urls: Vec<String>,
    relay_starts: AtomicU64,
    devs: Vec<Dev>,
    groups: Vec<String>,
    daemons: Vec<Mutex<Option<Daemon>>>,
    ledger: Mutex<Vec<Edit>>,
    /// Every marker an edit was attempted with, and by which device: a killed edit may have
    /// been saved, and must not then count as a leak.
    attempts: Mutex<HashMap<String, usize>>,
    meetings: Mutex<Vec<Meeting>>,
    next_marker: AtomicU64,
    stop: AtomicBool,
    problems: Mutex<Vec<String>>,
    sync_failures: Mutex<BTreeMap<String, u64>>,
    fig: Figures,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Relay flags for the run: every device dials from 127.0.0.1, so the per-address limits
/// (meant for one phone or one abuser per address) would throttle the whole test as one.
fn relay_options(
    program: &Path,
    data: &Path,
    listen: &str,
    public: &[String],
    log: &Path,
) -> groundwork_tests::RelayOptions {
    Relay::options(data)
        .program(program)
        .listen(listen)
        .public_urls(public)
        .arg("--handshakes-per-minute")
        .arg("0")
        .arg("--redemptions-per-minute")
        .arg("0")
        .log_to(log)
}

impl Chaos {
    fn problem(&self, what: String) {
        eprintln!("seed {}: {what}", self.seed);
        lock(&self.problems).push(what);
    }

    /// Looks through what a device's process logged (at `warn`): a panic, a warning or an
    /// error is a problem (a relay's document message before its handshake's answer was one,
    /// found so: `tests/tests/peer_order.rs`).
    fn check_log(&self, who: &str, log: &str) {
        if log.contains("panicked") {
            self.problem(format!("{who} panicked: {log}"));
            return;
        }
        for line in log
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        {
            self.problem(format!("{who} logged: {line}"));
        }
    }

    /// 4: the logs of the running syncs (as [`Chaos::check_log`]) and of every relay
    /// incarnation: a relay that panicked or logged an error is a problem; its warnings (the
    /// changes it refused, and why) are tallied.
    fn check_logs(&self) -> Res<()> {
        for dev in &self.devs {
            if dev.daemon {
                let log = std::fs::read_to_string(dev.cli.dir.join("sync-daemon.log"))?;
                self.check_log(&format!("the running sync of {dev}"), &log);
            }
        }
        let mut warnings: BTreeMap<String, u64> = BTreeMap::new();
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "log") {
                continue;
            }
            let log = std::fs::read_to_string(&path)?;
            if log.contains("panicked") {
                self.problem(format!("the relay panicked ({}): {log}", path.display()));
            }
            for line in log.lines() {
                if line.contains(" ERROR ") {
                    self.problem(format!("the relay logged ({}): {line}", path.display()));
                } else if let Some((_, reason)) = line.split_once(" reason=") {
                    *warnings.entry(reason.to_owned()).or_default() += 1;
                }
            }
        }
        println!("the relay's warnings, by reason:");
        for (reason, n) in &warnings {
            println!("  {n:6}  {reason}");
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps to space chaos events, waking early when the run stops.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn marker(&self, kind: Kind) -> String {
        let n = self.next_marker.fetch_add(1, Ordering::SeqCst);
        let letter = match kind {
            Kind::Contact => 'C',
            Kind::Meeting | Kind::Shown => 'T',
            Kind::Notes => 'N',
        };
        format!("{MARKER}{letter}-{n:07}")
    }

    /// Starts node `i` again on its port and data (its key file, or its database, is
    /// reused), each incarnation logging to its own file.
    fn start_relay(&self, i: usize) -> Res<Relay> {
        let n = self.relay_starts.fetch_add(1, Ordering::SeqCst);
        let log = self.root.join(format!("relay-{i}-{n:04}.log"));
        let node = &self.nodes[i];
        let mut last = String::new();
        // The port is free once the killed process is reaped; a few tries cover another
        // process briefly holding it.
        for _ in 0..50 {
            let mut options = relay_options(
                &self.relay_bin,
                &node.data,
                &node.addr,
                &self.public_urls,
                &log,
            );
            if let Some(url) = &self.database {
                options = options.arg("--database").arg(url);
            }
            match options.start() {
                Ok(relay) => return Ok(relay),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("seed {}: the relay did not restart: {last}", self.seed).into())
    }

    fn command(&self, dev: &Dev, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cli_bin);
        cmd.arg("--data")
            .arg(&dev.cli.dir)
            .args(args)
            .arg("--json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a CLI process, SIGKILLing it after `kill_after` if given. A process that exited 0
    /// before the kill landed counts as returned: its call did.
    fn run(&self, mut cmd: Command, kill_after: Option<Duration>) -> Res<Outcome> {
        let mut child = cmd.spawn()?;
        if let Some(after) = kill_after {
            std::thread::sleep(after);
            child.kill()?;
        }
        let out = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        self.check_log("a CLI process", &stderr);
        Ok(if out.status.success() {
            Outcome::Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else if out.status.signal() == Some(9) {
            Outcome::Killed
        } else {
            Outcome::Failed(stderr)
        })
    }

    /// One random edit on device `d`, ledgered if its process exited 0.
    fn edit(&self, rng: &mut Rng, d: usize) -> Res<()> {
        let dev = &self.devs[d];
        let Ok(_editing) = dev.editing.try_lock() else {
            return Ok(());
        };
        let group = &self.groups[dev.group];
        let roll = rng.below(100);
        // Plan edits need a meeting to write to; what cannot be done becomes a contact.
        let pick_meeting = |rng: &mut Rng, own_unshown: bool| -> Option<(String, String)> {
            let meetings = lock(&self.meetings);
            let fits: Vec<&Meeting> = meetings
                .iter()
                .filter(|m| m.group == dev.group && (!own_unshown || (m.creator == d && !m.shown)))
                .collect();
            if fits.is_empty() {
                return None;
            }
            let m = fits[rng.below(fits.len() as u64) as usize];
            Some((m.id.clone(), m.title.clone()))
        };
        let mut kind = Kind::Contact;
        let mut meeting = None;
        if dev.role.reads_plan() {
            if roll < 12 {
                kind = Kind::Meeting;
            } else if roll < 45 {
                meeting = pick_meeting(rng, false);
                if meeting.is_some() {
                    kind = Kind::Notes;
                }
            } else if roll < 50 && dev.role == Role::Lead {
                meeting = pick_meeting(rng, true);
                if meeting.is_some() {
                    kind = Kind::Shown;
                }
            }
        }
        let marker = match (&kind, &meeting) {
            (Kind::Shown, Some((_, title))) => title.clone(),
            _ => self.marker(kind),
        };
        let results = ["talked", "not-home", "refused", "moved", "other"];
        let result = results[rng.below(results.len() as u64) as usize];
        let args: Vec<&str> = match (&kind, &meeting) {
            (Kind::Contact, _) => vec![
                "contact", "log", group, "--result", result, "--note", &marker,
            ],
            (Kind::Meeting, _) => vec![
                "meeting",
                "create",
                group,
                "--kind",
                "organizing",
                "--title",
                &marker,
            ],
            (Kind::Notes, Some((id, _))) => vec!["meeting", "notes", id, "--append", &marker],
            (Kind::Shown, Some((id, _))) => vec!["meeting", "canvassers", id, "show"],
            _ => return Err("a plan edit without its meeting".into()),
        };
        if kind == Kind::Shown {
            let mut meetings = lock(&self.meetings);
            if let Some(m) = meetings.iter_mut().find(|m| m.title == marker) {
                m.shown = true;
            }
        } else {
            lock(&self.attempts).insert(marker.clone(), d);
        }
        let kill = rng.percent(4).then(|| rng.millis(0, 40));
        match self.run(self.command(dev, &args), kill)? {
            Outcome::Ok(stdout) => {
                if kind == Kind::Meeting {
                    let v: serde_json::Value = serde_json::from_str(&stdout)?;
                    lock(&self.meetings).push(Meeting {
                        id: field(&v, "meeting_id")?,
                        title: marker.clone(),
                        group: dev.group,
                        creator: d,
                        shown: false,
                    });
                }
                lock(&self.ledger).push(Edit {
                    marker,
                    device: d,
                    kind,
                });
            }
            Outcome::Killed => {
                self.fig.edit_kills.fetch_add(1, Ordering::Relaxed);
            }
            // Another device's meeting this one has not received yet: a refusal, not a loss.
            Outcome::Failed(e)
                if kind == Kind::Notes
                    && e.contains("no meeting with id")
                    && lock(&self.meetings).iter().any(|m| {
                        Some(&m.id) == meeting.as_ref().map(|(id, _)| id) && m.creator != d
                    }) =>
            {
                self.fig
                    .notes_unknown_meeting
                    .fetch_add(1, Ordering::Relaxed);
            }
            // Edits are offline: nothing the network or the relay does may make one fail.
            Outcome::Failed(e) => self.problem(format!(
                "{kind:?} edit {marker} on {dev} failed: {args:?}: {e}"
            )),
        }
        Ok(())
    }

    /// One `sync --once` on device `d`, SIGKILLed mid-sync at times.
    fn sync_once(&self, rng: &mut Rng, d: usize) -> Res<()> {
        let dev = &self.devs[d];
        let Ok(_syncing) = dev.syncing.try_lock() else {
            return Ok(());
        };
        let kill = rng.percent(30).then(|| rng.millis(5, 150));
        self.fig.once_syncs.fetch_add(1, Ordering::Relaxed);
        let node = &self.nodes[rng.below(self.nodes.len() as u64) as usize];
        let cmd = self.command(
            dev,
            &["sync", "--relay", &node.url, "--once", "--timeout", "10"],
        );
        match self.run(cmd, kill)? {
            Outcome::Ok(_) => {
                self.fig.once_ok.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Killed => {
                self.fig.once_killed.fetch_add(1, Ordering::Relaxed);
            }
            // Expected while the relay is down or dies mid-sync; tallied by reason.
            Outcome::Failed(e) => {
                self.check_log(&format!("sync --once on {dev}"), &e);
                if !EXPECTED_SYNC_FAILURES.iter().any(|r| e.contains(r)) {
                    self.problem(format!("sync --once on {dev} failed unexpectedly: {e}"));
                }
                *lock(&self.sync_failures)
                    .entry(failure_reason(&e))
                    .or_default() += 1
            }
        }
        Ok(())
    }

    /// A worker: random devices, random edits and one-off syncs, until the run stops.
    fn worker(&self, n: u64) -> Res<()> {
        let mut rng = Rng::stream(self.seed, n);
        while !self.stopping() {
            let d = rng.below(self.devs.len() as u64) as usize;
            if !self.devs[d].daemon && rng.percent(20) {
                self.sync_once(&mut rng, d)?;
            } else {
                self.edit(&mut rng, d)?;
            }
        }
        Ok(())
    }

    /// SIGKILLs relay node `i` at random moments and restarts it after a random pause.
    fn relay_killer(&self, i: usize) -> Res<()> {
        let mut rng = Rng::stream(self.seed, 100 + i as u64);
        loop {
            self.pause(rng.millis(800, 4000));
            if self.stopping() {
                return Ok(());
            }
            if let Some(relay) = lock(&self.nodes[i].relay).take() {
                relay.kill()?;
                self.fig.relay_kills.fetch_add(1, Ordering::Relaxed);
            }
            // Down for a while: devices' syncs fail meanwhile, edits go on.
            std::thread::sleep(rng.millis(0, 1500));
            *lock(&self.nodes[i].relay) = Some(self.start_relay(i)?);
        }
    }

    /// The node device `d` keeps to (its long-running sync, and the final rounds).
    fn home(&self, d: usize) -> &Node {
        &self.nodes[d % self.nodes.len()]
    }

    /// Every document the relay nodes store.
    fn relay_documents(&self) -> Res<BTreeMap<String, StoredDoc>> {
        match &self.database {
            Some(url) => relay_documents_pg(url),
            None => relay_documents(&self.nodes[0].data),
        }
    }

    fn start_daemon(&self, d: usize) -> Res<Daemon> {
        let dev = &self.devs[d];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dev.cli.dir.join("sync-daemon.log"))?;
        let mut child = Command::new(&self.cli_bin)
            .arg("--data")
            .arg(&dev.cli.dir)
            .args(["sync", "--relay", &self.home(d).url, "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let connects = Arc::clone(&self.fig.daemon_connects);
        // Its events, one JSON line each, until it dies: each "connected" is a reconnection.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"state\":\"connected\"") {
                    connects.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(Daemon(child))
    }

    /// SIGKILLs a random long-running sync now and then and starts it again after a pause.
    fn daemon_killer(&self) -> Res<()> {
        let mut rng = Rng::stream(self.seed, 200);
        let daemons: Vec<usize> = (0..self.devs.len())
            .filter(|d| self.devs[*d].daemon)
            .collect();
        loop {
            self.pause(rng.millis(700, 3000));
            if self.stopping() {
                return Ok(());
            }
            let d = daemons[rng.below(daemons.len() as u64) as usize];
            drop(lock(&self.daemons[d]).take());
            self.fig.daemon_kills.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(rng.millis(0, 1500));
            *lock(&self.daemons[d]) = Some(self.start_daemon(d)?);
        }
    }

    /// `sync --once` until it exits 0 (the relay is up: a few tries cover a connection the
    /// relay is still setting up); the number of documents the relay changed here.
    fn settle_device(&self, d: usize) -> Res<Option<u64>> {
        let dev = &self.devs[d];
        let mut last = String::new();
        for _ in 0..5 {
            let cmd = self.command(
                dev,
                &[
                    "sync",
                    "--relay",
                    &self.home(d).url,
                    "--once",
                    "--timeout",
                    "20",
                ],
            );
            match self.run(cmd, None)? {
                Outcome::Ok(stdout) => {
                    let v: serde_json::Value = serde_json::from_str(&stdout)?;
                    let received = v["received_changes"]
                        .as_u64()
                        .ok_or_else(|| format!("no received_changes in {v}"))?;
                    return Ok(Some(received));
                }
                Outcome::Failed(e) => last = e,
                Outcome::Killed => last = "killed".into(),
            }
        }
        self.problem(format!("{dev} cannot sync with the relay up: {last}"));
        Ok(None)
    }

    /// Rounds of every device syncing, until a round in which no device received anything
    /// and the relay's heads did not move: then every device synced with the relay's final
    /// state. Returns the rounds it took.
    fn converge(&self) -> Res<Option<usize>> {
        for round in 1..=12 {
            let before = heads(&self.relay_documents()?);
            let received = AtomicU64::new(0);
            let failed = AtomicBool::new(false);
            std::thread::scope(|s| -> Res<()> {
                let threads: Vec<_> = (0..WORKERS as usize)
                    .map(|t| {
                        let (received, failed) = (&received, &failed);
                        s.spawn(move || -> Result<(), String> {
                            for d in (t..self.devs.len()).step_by(WORKERS as usize) {
                                match self.settle_device(d).map_err(|e| e.to_string())? {
                                    Some(n) => {
                                        received.fetch_add(n, Ordering::SeqCst);
                                    }
                                    None => failed.store(true, Ordering::SeqCst),
                                }
                            }
                            Ok(())
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().map_err(|_| "a sync thread panicked")??;
                }
                Ok(())
            })?;
            if failed.load(Ordering::SeqCst) {
                // Named in the problems; the checks say what it left behind.
                return Ok(None);
            }
            let after = heads(&self.relay_documents()?);
            if received.load(Ordering::SeqCst) == 0 && before == after {
                return Ok(Some(round));
            }
        }
        self.problem("the devices did not converge in 12 rounds".into());
        Ok(None)
    }
}

/// Each document's heads.
fn heads(docs: &BTreeMap<String, StoredDoc>) -> BTreeMap<String, Vec<String>> {
    docs.iter()
        .map(|(id, d)| (id.clone(), d.heads.clone()))
        .collect()
}

/// Every marker in a document's content.
fn markers(content: &str) -> impl Iterator<Item = &str> {
    // "C-0000012": a letter, a dash, seven digits.
    content
        .match_indices(MARKER)
        .filter_map(|(i, _)| content.get(i..i + MARKER.len() + 9))
}

/// A sync failure's reason without what varies (ids, numbers), to tally.
fn failure_reason(stderr: &str) -> String {
    let text: String = stderr
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    let text = text.trim();
    let cut = text.char_indices().nth(110).map_or(text.len(), |(i, _)| i);
    text[..cut].to_owned()
}

/// Makes the three groups: each lead creates a group, syncs it, and invites the others, who
/// join (online, as a phone scanning a code would).
fn setup(root: &Path, relay: &Relay) -> Res<(Vec<String>, Vec<Dev>)> {
    let made: Vec<Res<(String, Vec<Dev>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..GROUPS)
            .map(|g| s.spawn(move || setup_group(root, relay, g).map_err(|e| e.to_string())))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("setting up a group panicked".into()))
                    .map_err(Into::into)
            })
            .collect()
    });
    let mut groups = Vec::new();
    let mut devs = Vec::new();
    for group in made {
        let (id, members) = group?;
        groups.push(id);
        devs.extend(members);
    }
    Ok((groups, devs))
}

fn setup_group(root: &Path, relay: &Relay, g: usize) -> Res<(String, Vec<Dev>)> {
    let number = g + 1;
    let dev = |name: String, role: Role, daemon: bool| -> Res<Dev> {
        let cli = Device::new(root, &name)?;
        let id = cli.id()?;
        Ok(Dev {
            name,
            cli,
            id,
            group: g,
            role,
            daemon,
            editing: Mutex::new(()),
            syncing: Mutex::new(()),
        })
    };
    let first = dev(format!("Lead-{number}-1"), Role::Lead, false)?;
    let group = field(
        &first.cli.run(&[
            "group",
            "create",
            "--name",
            &format!("Chaos Group {number}"),
        ])?,
        "group_id",
    )?;
    first.cli.sync(relay)?;
    let mut devs = vec![first];
    let others = (2..=LEADS)
        .map(|i| (format!("Lead-{number}-{i}"), Role::Lead))
        .chain((1..=MEMBERS).map(|i| (format!("Member-{number}-{i}"), Role::Member)))
        .chain((1..=CANVASSERS).map(|i| (format!("Canvasser-{number}-{i}"), Role::Canvasser)));
    for (name, role) in others {
        // The second lead, the first member and the first canvasser stay connected.
        let daemon = (role == Role::Lead && name.ends_with("-2")) || name.ends_with("-1");
        let invite = field(
            &devs[0].cli.run(&[
                "invite",
                "create",
                &group,
                "--role",
                role.as_str(),
                "--relay",
                &relay.url(),
            ])?,
            "link",
        )?;
        let d = dev(name, role, daemon)?;
        d.cli.run(&["join", &invite])?;
        devs.push(d);
    }
    Ok((group, devs))
}

#[test]
fn every_returned_edit_survives_chaos_on_every_replica() -> Res<()> {
    chaos(1, None)
}

#[test]
fn every_returned_edit_survives_chaos_across_two_nodes_on_postgresql() -> Res<()> {
    let cluster = groundwork_tests::pg::Cluster::start()?;
    let url = cluster.create_database("chaos")?;
    chaos(2, Some(url))
}

/// The chaos run on `nodes` relay nodes (several need a `database` to share).
fn chaos(nodes: usize, database: Option<String>) -> Res<()> {
    let seed: u64 = std::env::var("GROUNDWORK_CHAOS_SEED")
        .ok()
        .and_then(|s| {
            s.strip_prefix("0x")
                .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
        })
        .unwrap_or(0xc4a0_5eed);
    let secs: u64 = std::env::var("GROUNDWORK_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    println!("chaos: seed {seed} (GROUNDWORK_CHAOS_SEED={seed}), {secs} s of chaos");
    let started = Instant::now();
    // Under the target directory, so that the binaries can be hard-linked in beside it.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let root = tmp.path().to_owned();
    // The binaries under test, pinned for the run: a rebuild of the workspace meanwhile (on a
    // shared machine, during a ten-minute run) replaces the files in target/, not these.
    // Cargo's check that they are fresh is timed with the setup.
    let pin = |name: &str| -> Res<PathBuf> {
        let pinned = root.join(name);
        if std::fs::hard_link(bin(name), &pinned).is_err() {
            std::fs::copy(bin(name), &pinned)?;
        }
        Ok(pinned)
    };
    let (cli_bin, relay_bin) = (pin("groundwork")?, pin("groundwork-relay")?);
    let built = started.elapsed().as_secs_f64();
    let mut started_nodes = Vec::new();
    // Every node answers at every node's address, as the nodes behind one relay's address do.
    let addrs = groundwork_tests::free_addrs(nodes)?;
    let public_urls: Vec<String> = addrs
        .iter()
        .map(|a| groundwork_tests::sync_url(a))
        .collect();
    for (i, addr) in addrs.iter().enumerate() {
        let data = root.join(format!("relay-{i}"));
        let mut options = relay_options(
            &relay_bin,
            &data,
            addr,
            &public_urls,
            &root.join(format!("relay-{i}-setup.log")),
        );
        if let Some(url) = &database {
            options = options.arg("--database").arg(url);
        }
        started_nodes.push((data, options.start()?));
    }
    let (groups, devs) = setup(&root, &started_nodes[0].1)?;
    let setup_secs = started.elapsed().as_secs_f64();
    println!("setup: {setup_secs:.1} s ({built:.1} s of it making sure the binaries are built)");
    let chaos = Chaos {
        seed,
        root: root.clone(),
        cli_bin,
        relay_bin,
        nodes: started_nodes
            .into_iter()
            .map(|(data, relay)| Node {
                data,
                addr: relay.addr.clone(),
                url: relay.url(),
                relay: Mutex::new(Some(relay)),
            })
            .collect(),
        database,
        public_urls,
        relay_starts: AtomicU64::new(0),
        daemons: devs.iter().map(|_| Mutex::new(None)).collect(),
        devs,
        groups,
        ledger: Mutex::new(Vec::new()),
        attempts: Mutex::new(HashMap::new()),
        meetings: Mutex::new(Vec::new()),
        next_marker: AtomicU64::new(1),
        stop: AtomicBool::new(false),
        problems: Mutex::new(Vec::new()),
        sync_failures: Mutex::new(BTreeMap::new()),
        fig: Figures::default(),
    };
    let result = run_and_check(&chaos, secs, setup_secs, started).map_err(|e| {
        let e = e.to_string();
        let seeded = format!("seed {seed}");
        if e.contains(&seeded) {
            e.into()
        } else {
            Box::<dyn std::error::Error>::from(format!("{seeded}: {e}"))
        }
    });
    if result.is_err() || std::env::var_os("GROUNDWORK_CHAOS_KEEP").is_some() {
        // Kept for a look: stores, relay logs, daemons' logs.
        println!(
            "seed {seed}: the run's files are kept in {}",
            tmp.keep().display()
        );
    }
    result
}

fn run_and_check(chaos: &Chaos, secs: u64, setup_secs: f64, started: Instant) -> Res<()> {
    let seed = chaos.seed;
    for d in 0..chaos.devs.len() {
        if chaos.devs[d].daemon {
            *lock(&chaos.daemons[d]) = Some(chaos.start_daemon(d)?);
        }
    }
    let chaos_started = Instant::now();
    std::thread::scope(|s| -> Res<()> {
        let mut threads = Vec::new();
        for n in 0..WORKERS {
            threads.push(s.spawn(move || chaos.worker(n).map_err(|e| e.to_string())));
        }
        for i in 0..chaos.nodes.len() {
            threads.push(s.spawn(move || chaos.relay_killer(i).map_err(|e| e.to_string())));
        }
        threads.push(s.spawn(|| chaos.daemon_killer().map_err(|e| e.to_string())));
        std::thread::sleep(Duration::from_secs(secs));
        chaos.stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join()
                .map_err(|_| format!("seed {seed}: a chaos thread panicked"))??;
        }
        Ok(())
    })?;
    let chaos_secs = chaos_started.elapsed().as_secs_f64();
    // The end: connected syncs SIGKILLed like the rest, the relay up, every device synced
    // until nothing moves.
    for daemon in &chaos.daemons {
        drop(lock(daemon).take());
    }
    for (i, node) in chaos.nodes.iter().enumerate() {
        let mut relay = lock(&node.relay);
        if relay.is_none() {
            *relay = Some(chaos.start_relay(i)?);
        }
    }
    let rounds = chaos.converge()?;
    // What the relay has stored after one last SIGKILL is what it acknowledged.
    for node in &chaos.nodes {
        if let Some(relay) = lock(&node.relay).take() {
            relay.kill()?;
        }
    }
    chaos.check_logs()?;
    check(chaos, rounds, chaos_secs, setup_secs, started)
}

/// The final checks; every failure names the seed, the marker and the device.
fn check(
    chaos: &Chaos,
    rounds: Option<usize>,
    chaos_secs: f64,
    setup_secs: f64,
    started: Instant,
) -> Res<()> {
    let seed = chaos.seed;
    let devs = &chaos.devs;
    let mut lost: BTreeSet<String> = BTreeSet::new();
    let mut problems = std::mem::take(&mut *lock(&chaos.problems));
    let relay = chaos.relay_documents()?;
    if chaos.database.is_none() {
        let integrity: String =
            relay_db(&chaos.nodes[0].data)?
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            problems.push(format!(
                "the relay's store fails its integrity check: {integrity}"
            ));
        }
    }
    let mut on_devices = Vec::new();
    for dev in devs {
        let path = dev.cli.dir.join(groundwork_core::store::STORE_FILE);
        let conn =
            groundwork_core::store::connect_raw(&path, &groundwork_tests::cli_key(&dev.cli.dir))?;
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            problems.push(format!(
                "{dev}: its store fails its integrity check: {integrity}"
            ));
        }
        on_devices.push(device_documents(&dev.cli.dir)?);
    }
    // The markers in each store's documents, by what holds them.
    type Found = BTreeMap<(Option<String>, String, Option<String>), HashSet<String>>;
    let found = |docs: &BTreeMap<String, StoredDoc>| -> Found {
        let mut out: Found = BTreeMap::new();
        for d in docs.values() {
            let set = out
                .entry((d.group.clone(), d.kind.clone(), d.owner.clone()))
                .or_default();
            set.extend(markers(&d.content).map(str::to_owned));
        }
        out
    };
    let holds = |f: &Found, group: &str, kind: &str, owner: Option<&str>, marker: &str| {
        f.iter().any(|((g, k, o), set)| {
            g.as_deref() == Some(group)
                && k == kind
                && (owner.is_none() || o.as_deref() == owner)
                && set.contains(marker)
        })
    };
    let on_relay = found(&relay);
    let on_device: Vec<Found> = on_devices.iter().map(found).collect();

    // 1 and 2: every returned edit on the relay and on every device that may read it.
    let ledger = lock(&chaos.ledger);
    let mut by_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for edit in ledger.iter() {
        *by_kind.entry(edit.kind).or_default() += 1;
        let writer = &devs[edit.device];
        let group = chaos.groups[writer.group].as_str();
        let (kind, owner) = match edit.kind {
            Kind::Contact => ("contacts", Some(writer.id.as_str())),
            Kind::Meeting | Kind::Notes => ("plan", None),
            Kind::Shown => ("brief", None),
        };
        let what = format!("{:?} edit {} by {writer}", edit.kind, edit.marker);
        let plan_reader = |r: &Dev| r.role.reads_plan();
        if !holds(&on_relay, group, kind, owner, &edit.marker) {
            problems.push(format!("{what}: not in the relay's {kind}"));
            lost.insert(edit.marker.clone());
        }
        for (r, reader) in devs.iter().enumerate() {
            if reader.group != writer.group {
                continue;
            }
            let may_read = match edit.kind {
                Kind::Contact => r == edit.device || reader.role == Role::Lead,
                Kind::Meeting | Kind::Notes => plan_reader(reader),
                Kind::Shown => reader.role == Role::Canvasser,
            };
            if may_read && !holds(&on_device[r], group, kind, owner, &edit.marker) {
                problems.push(format!("{what}: not on {reader}, which may read it"));
                lost.insert(edit.marker.clone());
            }
        }
    }
    // 2, the other way: what a device may not read is not on it.
    let attempts = lock(&chaos.attempts);
    let shown: HashSet<String> = lock(&chaos.meetings)
        .iter()
        .filter(|m| m.shown)
        .map(|m| m.title.clone())
        .collect();
    for (r, reader) in devs.iter().enumerate() {
        for ((_, kind, _), set) in &on_device[r] {
            for marker in set {
                // Whose edit it was: only a marker of this device's group may be here at all.
                let Some(&writer) = attempts.get(marker.as_str()) else {
                    problems.push(format!("{reader} holds {marker}, which no edit made"));
                    continue;
                };
                let allowed = devs[writer].group == reader.group
                    && match marker.as_bytes().get(MARKER.len()) {
                        Some(b'C') => reader.role == Role::Lead || writer == r,
                        Some(b'T') => reader.role.reads_plan() || shown.contains(marker),
                        _ => reader.role.reads_plan(),
                    };
                if !allowed {
                    problems.push(format!(
                        "{marker} is on {reader} (in its {kind}), which may not read it"
                    ));
                }
            }
        }
    }
    // 3: every replica has the relay's heads, and each device holds exactly what it may read.
    for (r, dev) in devs.iter().enumerate() {
        let group = chaos.groups[dev.group].as_str();
        for (id, doc) in &on_devices[r] {
            match relay.get(id) {
                None => problems.push(format!(
                    "{dev} holds {} {id}, which the relay does not",
                    doc.kind
                )),
                Some(theirs) if theirs.heads != doc.heads => problems.push(format!(
                    "{dev}: {} {id} has heads {:?}, the relay's are {:?}",
                    doc.kind, doc.heads, theirs.heads
                )),
                Some(_) => {}
            }
        }
        for (id, doc) in &relay {
            if doc.group.as_deref() != Some(group) {
                continue;
            }
            let may_read = match doc.kind.as_str() {
                "plan" | "roster" => dev.role.reads_plan(),
                "brief" => dev.role == Role::Canvasser,
                "contacts" => dev.role == Role::Lead || doc.owner.as_deref() == Some(&dev.id),
                _ => false,
            };
            let held = on_devices[r].contains_key(id);
            if may_read && !held {
                problems.push(format!("{dev} lacks {} {id}, which it may read", doc.kind));
            }
            if !may_read && held {
                problems.push(format!(
                    "{dev} holds {} {id}, which it may not read",
                    doc.kind
                ));
            }
        }
    }
    let fig = &chaos.fig;
    let count = |k: Kind| by_kind.get(&k).copied().unwrap_or(0);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!("sync --once failures by reason (expected while the relay is down or dies):");
    for (reason, n) in lock(&chaos.sync_failures).iter() {
        println!("  {n:6}  {reason}");
    }
    println!(
        "chaos figures: seed {seed}, {chaos_secs:.0} s of chaos ({:.0} s in all, setup {setup_secs:.0} s), \
         {} groups, {} devices, edits made {} (contacts {}, meetings {}, notes {}, meetings shown \
         to canvassers {}), relay kills {}, device kills mid-sync {} (sync --once {}, running \
         sync {}), edit processes killed {}, notes refused for a meeting not yet received {}, syncs {} ({} ok, {} one-off, {} reconnections of \
         running syncs), converged in {} rounds, lost {}",
        started.elapsed().as_secs_f64(),
        chaos.groups.len(),
        devs.len(),
        ledger.len(),
        count(Kind::Contact),
        count(Kind::Meeting),
        count(Kind::Notes),
        count(Kind::Shown),
        load(&fig.relay_kills),
        load(&fig.once_killed) + load(&fig.daemon_kills),
        load(&fig.once_killed),
        load(&fig.daemon_kills),
        load(&fig.edit_kills),
        load(&fig.notes_unknown_meeting),
        load(&fig.once_syncs) + load(&fig.daemon_connects),
        load(&fig.once_ok),
        load(&fig.once_syncs),
        load(&fig.daemon_connects),
        rounds.map_or("no".into(), |r| r.to_string()),
        lost.len(),
    );
    if !problems.is_empty() {
        // One line each (an error's Debug, which the test harness prints, would escape them).
        for p in &problems {
            eprintln!("seed {seed}: {p}");
        }
        return Err(format!(
            "seed {seed} (replay: GROUNDWORK_CHAOS_SEED={seed}): {} problems, {} edits lost; \
             the first: {}",
            problems.len(),
            lost.len(),
            problems[0]
        )
        .into());
    }
    Ok(())
}
