//! The relays under test, each a child process on loopback with a fresh data directory:
//! starting them, their URLs, and their CPU time and memory read from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use groundwork_core::identity::Identity;
use groundwork_core::time::now_ms;

/// Which relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `groundwork-relay`: signed devices, joined by invite, SQLite store.
    Groundwork,
    /// `groundwork-relay --database`: the same, its store on PostgreSQL (a throw-away cluster
    /// of Debian's server this harness starts; a fresh database each run).
    GroundworkPostgres,
    /// `@automerge/automerge-repo-sync-server` (Node.js), its filesystem storage.
    SyncServer,
    /// `samod-relay`: samod's axum acceptor and filesystem storage.
    Samod,
}

impl Kind {
    /// Whether it is ours (signed devices, invites, control messages), on either store.
    pub fn is_groundwork(self) -> bool {
        matches!(self, Kind::Groundwork | Kind::GroundworkPostgres)
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Groundwork => "groundwork-relay",
            Kind::GroundworkPostgres => "groundwork-relay on PostgreSQL",
            Kind::SyncServer => "automerge-repo-sync-server",
            Kind::Samod => "samod",
        }
    }
}

/// Where a device connects.
#[derive(Clone, Debug)]
pub struct Target {
    /// Which relay it is.
    pub kind: Kind,
    url: String,
}

impl Target {
    /// The URL `who` connects with: signed with its key for our relay, plain for the others.
    pub fn url_for(&self, who: &Identity) -> anyhow::Result<String> {
        Ok(if self.kind.is_groundwork() {
            format!(
                "{}?{}",
                self.url,
                who.connect_proof(&self.url, now_ms())?.to_query()
            )
        } else {
            self.url.clone()
        })
    }
}

/// A running relay; killed when dropped.
pub struct Relay {
    child: Child,
    /// Where devices connect.
    pub target: Target,
    /// Its database server's processes (PostgreSQL), measured with it.
    database: Vec<u32>,
}

/// Options for starting a relay.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Extra flags for `groundwork-relay`.
    pub groundwork_args: Vec<String>,
}

/// The PostgreSQL cluster the PostgreSQL runs use, started on first use; [`stop_database`]
/// stops it (a static is never dropped).
static CLUSTER: std::sync::Mutex<Option<groundwork_tests::pg::Cluster>> =
    std::sync::Mutex::new(None);

/// A fresh database on the harness's cluster (started if it is not yet), and the cluster's
/// processes.
fn fresh_database() -> anyhow::Result<(String, Vec<u32>)> {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut cluster = CLUSTER
        .lock()
        .map_err(|_| anyhow::anyhow!("the cluster's lock is poisoned"))?;
    if cluster.is_none() {
        *cluster = Some(
            groundwork_tests::pg::Cluster::start()
                .map_err(|e| anyhow::anyhow!("starting PostgreSQL: {e}"))?,
        );
    }
    let cluster = cluster.as_ref().context("no cluster")?;
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = cluster
        .create_database(&format!("run{n}"))
        .map_err(|e| anyhow::anyhow!("creating a database: {e}"))?;
    Ok((url, cluster.pids()))
}

/// Stops the harness's PostgreSQL cluster, if one was started.
pub fn stop_database() {
    if let Ok(mut cluster) = CLUSTER.lock() {
        cluster.take();
    }
}

impl Relay {
    /// Starts `kind` on a free loopback port with its data in `data` (made fresh).
    pub fn start(kind: Kind, data: &Path, options: &Options) -> anyhow::Result<Relay> {
        let data = &std::path::absolute(data)?;
        if data.exists() {
            std::fs::remove_dir_all(data)?;
        }
        std::fs::create_dir_all(data)?;
        let mut database = Vec::new();
        let mut command = match kind {
            Kind::Groundwork | Kind::GroundworkPostgres => {
                let mut c = Command::new(sibling("groundwork-relay")?);
                c.args(["--listen", "127.0.0.1:0", "--data"]).arg(data);
                if kind == Kind::GroundworkPostgres {
                    let (url, pids) = fresh_database()?;
                    c.arg("--database").arg(url);
                    database = pids;
                }
                // One loopback address stands for a whole campaign's phones here: the
                // per-address guards would measure themselves.
                c.args([
                    "--handshakes-per-minute",
                    "0",
                    "--redemptions-per-minute",
                    "0",
                    "--max-connections-per-address",
                    "1000000",
                ]);
                c.args(&options.groundwork_args);
                c.env("GROUNDWORK_LOG", "warn");
                c
            }
            Kind::Samod => {
                let mut c = Command::new(sibling("samod-relay")?);
                c.args(["--listen", "127.0.0.1:0", "--data"]).arg(data);
                c
            }
            Kind::SyncServer => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port();
                let mut c = Command::new("node");
                c.arg(sync_server_script()?)
                    .current_dir(data)
                    .env("PORT", port.to_string())
                    .env("DATA_DIR", data.join("amrg"));
                c
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data.join("stderr.log"))?)
            .spawn()
            .with_context(|| format!("starting {}", kind.name()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        // The rest of its output goes to a file beside its data: a closed pipe would kill the
        // process at its next line (Node.js logs as it serves).
        let mut log = std::fs::File::create(data.join("stdout.log"))?;
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut log));
        let line = line.trim();
        let url = match kind {
            Kind::Groundwork | Kind::GroundworkPostgres => match line.strip_prefix("listening on ")
            {
                Some(addr) => format!("ws://{addr}/v1/sync"),
                None => bail!("groundwork-relay said {line:?}"),
            },
            Kind::Samod => match line.strip_prefix("listening on ") {
                Some(addr) => format!("ws://{addr}/"),
                None => bail!("samod-relay said {line:?}"),
            },
            Kind::SyncServer => match line.strip_prefix("Listening on port ") {
                Some(port) => format!("ws://127.0.0.1:{port}/"),
                None => bail!("the sync server said {line:?}"),
            },
        };
        Ok(Relay {
            child,
            target: Target { kind, url },
            database,
        })
    }

    /// `n` nodes of `groundwork-relay` on one fresh PostgreSQL database, each with a data
    /// directory of its own under `data`.
    pub fn start_nodes(n: usize, data: &Path) -> anyhow::Result<Vec<Relay>> {
        let (url, pids) = fresh_database()?;
        (0..n)
            .map(|i| {
                let options = Options {
                    groundwork_args: vec!["--database".into(), url.clone()],
                };
                let mut relay =
                    Relay::start(Kind::Groundwork, &data.join(format!("node{i}")), &options)?;
                relay.target.kind = Kind::GroundworkPostgres;
                // The database server is measured once, with the first node.
                if i == 0 {
                    relay.database = pids.clone();
                }
                Ok(relay)
            })
            .collect()
    }

    /// Its processes, for CPU and memory: the relay's, and on PostgreSQL the database
    /// server's too (its connections to the relay are new processes, so they are listed now).
    pub fn process(&self) -> Process {
        let mut pids = vec![self.child.id()];
        if let Some(&postmaster) = self.database.first() {
            pids.push(postmaster);
            pids.extend(children_of(postmaster));
        }
        Process(pids)
    }
}

impl Relay {
    /// One of `groundwork-relay`'s metrics (`None` for the other relays, which have none).
    pub async fn metric(&self, name: &str) -> anyhow::Result<Option<f64>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if !self.target.kind.is_groundwork() {
            return Ok(None);
        }
        let rest = self.target.url.trim_start_matches("ws://");
        let addr = rest.split('/').next().unwrap_or(rest);
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut body = String::new();
        s.read_to_string(&mut body).await?;
        let value = body
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .with_context(|| format!("no {name} in /metrics"))?;
        Ok(Some(value))
    }
}

impl Drop for Relay {
    /// Asks it to stop (SIGTERM, so that a profiler it runs under writes its report), then
    /// kills it after 10 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary built beside this one (`cargo build --release -p groundwork-relay -p
/// groundwork-bench` puts them together). `GROUNDWORK_LOAD_RELAY` names another program to run
/// as `groundwork-relay` (a script running it under a profiler).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    if name == "groundwork-relay"
        && let Some(program) = std::env::var_os("GROUNDWORK_LOAD_RELAY")
    {
        return Ok(program.into());
    }
    let me = std::env::current_exe()?;
    let path = me.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p groundwork-relay -p groundwork-bench`",
            path.display()
        );
    }
    Ok(path)
}

/// The published sync server, installed by `npm install --prefix tests/interop`.
fn sync_server_script() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script =
        root.join("tests/interop/node_modules/@automerge/automerge-repo-sync-server/src/index.js");
    if !script.exists() {
        bail!(
            "{} is missing: run `npm install --prefix tests/interop`",
            script.display()
        );
    }
    Ok(script)
}

/// The processes whose children are `parent`'s (PostgreSQL's backends under its postmaster).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1.to_owned();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// A relay's processes (one, or the relay and its database server's), their CPU time and
/// memory summed, from /proc. A process gone meanwhile counts nothing.
#[derive(Clone, Debug)]
pub struct Process(pub Vec<u32>);

/// Linux's clock ticks per second for /proc's CPU times (`getconf CLK_TCK`: 100 on every
/// architecture Linux supports today).
const TICKS_PER_SECOND: f64 = 100.0;

impl Process {
    /// This process.
    pub fn me() -> Process {
        Process(vec![std::process::id()])
    }

    /// CPU seconds used so far, user and system (and, for a parent, its reaped children's).
    pub fn cpu_secs(&self) -> anyhow::Result<f64> {
        let mut total = 0.0;
        for (i, pid) in self.0.iter().enumerate() {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                if i == 0 {
                    bail!("process {pid} is gone");
                }
                continue;
            };
            // The command name (field 2) may hold spaces; the fields after its ')' are plain.
            let rest = stat.rsplit_once(')').context("odd /proc stat")?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            for f in [11, 12, 13, 14] {
                total += fields.get(f).context("short /proc stat")?.parse::<f64>()?;
            }
        }
        Ok(total / TICKS_PER_SECOND)
    }

    /// CPU seconds its threads have run so far, to the nanosecond (the scheduler's own count,
    /// per thread in /proc/PID/task/*/schedstat), where [`Process::cpu_secs`] counts 10 ms
    /// ticks: for figures of a few milliseconds. Threads that ended are not counted, so this
    /// is for a stretch in which the process keeps its threads.
    pub fn cpu_secs_fine(&self) -> anyhow::Result<f64> {
        let mut nanos: u64 = 0;
        for pid in &self.0 {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for task in tasks.flatten() {
                let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                    continue;
                };
                nanos += stat
                    .split_whitespace()
                    .next()
                    .context("empty schedstat")?
                    .parse::<u64>()?;
            }
        }
        Ok(nanos as f64 / 1e9)
    }

    fn status(&self, key: &str) -> anyhow::Result<u64> {
        let mut total = 0;
        for (i, pid) in self.0.iter().enumerate() {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                if i == 0 {
                    bail!("process {pid} is gone");
                }
                continue;
            };
            let kib: u64 = status
                .lines()
                .find_map(|l| {
                    l.strip_prefix(key)?
                        .trim()
                        .strip_suffix("kB")?
                        .trim()
                        .parse()
                        .ok()
                })
                .with_context(|| format!("no {key} in /proc status"))?;
            total += kib * 1024;
        }
        Ok(total)
    }

    /// For one relay's list: the processes after the first (its database server's), none for
    /// a relay on its embedded store.
    pub fn database(&self) -> Process {
        // The first stands for the whole list when it is gone, so an empty rest is a list of
        // one process that counts nothing.
        Process(self.0.get(1..).map_or_else(Vec::new, <[u32]>::to_vec))
    }

    /// Resident memory now, in bytes (PostgreSQL's shared buffers count in each process
    /// that touched them: the sum overstates the server's memory).
    pub fn rss(&self) -> anyhow::Result<u64> {
        self.status("VmRSS:")
    }

    /// The most resident memory since the last [`Process::reset_peak`], in bytes (summed over
    /// the processes: each one's own peak).
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        self.status("VmHWM:")
    }

    /// Starts a new peak measure (`clear_refs` 5 resets VmHWM to the current RSS).
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        for pid in &self.0 {
            std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
                .context("resetting the peak RSS")?;
        }
        Ok(())
    }
}

/// CPU used by the relay and by the load generator over one phase.
pub struct Meter {
    relay: Process,
    relay_cpu: f64,
    database_cpu: f64,
    me_cpu: f64,
    started: std::time::Instant,
}

/// What a [`Meter`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Metered {
    /// Wall seconds.
    pub secs: f64,
    /// Relay CPU seconds.
    pub relay_cpu: f64,
    /// Load generator CPU seconds.
    pub load_cpu: f64,
    /// Relay peak RSS over the phase, bytes.
    pub relay_peak: u64,
    /// Of the relay CPU, its database server's (PostgreSQL; 0 for an embedded store).
    pub database_cpu: f64,
}

impl Meter {
    /// Starts measuring (and a new peak RSS).
    pub fn start(relay: Process) -> anyhow::Result<Meter> {
        relay.reset_peak()?;
        Ok(Meter {
            relay_cpu: relay.cpu_secs()?,
            database_cpu: relay.database().cpu_secs()?,
            relay,
            me_cpu: Process::me().cpu_secs()?,
            started: std::time::Instant::now(),
        })
    }

    /// What was used since the start.
    pub fn read(&self) -> anyhow::Result<Metered> {
        Ok(Metered {
            secs: self.started.elapsed().as_secs_f64(),
            relay_cpu: self.relay.cpu_secs()? - self.relay_cpu,
            load_cpu: Process::me().cpu_secs()? - self.me_cpu,
            relay_peak: self.relay.peak_rss()?,
            database_cpu: self.relay.database().cpu_secs()? - self.database_cpu,
        })
    }
}
