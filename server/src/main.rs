//! `groundwork-relay --listen ADDR --data DIR`: the relay server.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use groundwork_relay::key::KeySource;
use groundwork_relay::store::Location;
use groundwork_relay::{Config, serve};

/// The Groundwork relay: devices sync their groups' documents through it.
#[derive(Parser, Debug)]
#[command(name = "groundwork-relay", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: String,
    /// Data directory (holds relay.db).
    #[arg(long, default_value = "./relay-data")]
    data: PathBuf,
    /// Largest accepted frame, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_frame_bytes: usize,
    /// Seconds an idle document stays in memory.
    #[arg(long, default_value_t = 2)]
    unload_idle_secs: u64,
    /// Require this code (`groundwork signup CODE`) before a device may create groups. Off by
    /// default, for local use.
    #[arg(long, env = "GROUNDWORK_SIGNUP_CODE")]
    signup_code: Option<String>,
    /// Connection handshakes one address may make per minute (0: no limit).
    #[arg(long, default_value_t = 300)]
    handshakes_per_minute: u32,
    /// Invite redemptions one address may attempt per minute (0: no limit).
    #[arg(long, default_value_t = 10)]
    redemptions_per_minute: u32,
    /// Documents one connection may sync.
    #[arg(long, default_value_t = 10_000)]
    max_docs_per_connection: usize,
    /// Member devices one group may have; an invite past it is refused.
    #[arg(long, default_value_t = groundwork_relay::DEFAULT_MAX_GROUP_MEMBERS)]
    max_group_members: usize,
    /// Open sockets one network address may hold (0: no cap).
    #[arg(long, default_value_t = 128)]
    max_connections_per_address: usize,
    /// Seconds a socket may send nothing before it is closed (the relay pings every third of
    /// it; devices answer).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Frames per second one device may send over all its connections (0: no limit); past it
    /// the relay reads its frames more slowly, refusing none.
    #[arg(long, default_value_t = 1_000)]
    frames_per_second: u32,
    /// Frames one device may send at once before its rate applies.
    #[arg(long, default_value_t = 5_000)]
    frame_burst: u32,
    /// MiB one connection may have waiting to be sent before it is cut off for not reading.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_queued_mib: u64,
    /// Serve TLS (wss://) with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The key file of the relay's files at rest (64 hex digits, mode 0600); made on the first
    /// start if missing. Default: relay.key in the data directory. The environment variable
    /// GROUNDWORK_RELAY_KEY (the 64 hex digits themselves) takes precedence over any file.
    #[arg(long, env = "GROUNDWORK_RELAY_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// The address devices dial this relay at, e.g. wss://relay.example.org (its web address
    /// https://relay.example.org means the same). Repeat it for each name the relay has; all
    /// nodes of one relay on PostgreSQL name the same ones. Connection proofs name the relay
    /// they were made for, and this relay refuses any made for another address. Default: the
    /// --listen address (and localhost for a loopback one); a relay listening on every
    /// address (0.0.0.0) or behind a proxy must name it.
    #[arg(
        long = "public-url",
        env = "GROUNDWORK_PUBLIC_URL",
        value_delimiter = ','
    )]
    public_url: Vec<String>,
    /// Keep everything in this PostgreSQL database instead of relay.db (a `postgres://` URL,
    /// or libpq's key=value form). Several relay nodes may share one database. The database
    /// must exist; the relay makes its tables.
    #[arg(long, env = "GROUNDWORK_DATABASE")]
    database: Option<String>,
    /// Make /metrics private: it then answers only `Authorization: Bearer TOKEN` (401
    /// otherwise). Pass it as GROUNDWORK_METRICS_TOKEN rather than on the command line, which
    /// any local user sees in `ps`. Without it /metrics is public: keep the port private or set
    /// this.
    #[arg(
        long,
        env = "GROUNDWORK_METRICS_TOKEN",
        hide_env_values = true,
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    metrics_token: Option<String>,
    /// Maintenance of the relay's data directory, instead of serving.
    #[command(subcommand)]
    command: Option<Admin>,
}

#[derive(clap::Subcommand, Debug)]
enum Admin {
    /// Campaign staff: devices that read every sharing group's officials, answers and meetings
    /// (never a group's own documents or contacts). Takes effect at once, on a running relay too.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// The most the relay's database may grow to. Past it the relay takes no changes (devices
    /// keep theirs and are told why; reads go on) and says so in /healthz and /metrics, as when
    /// the disk is full. Takes effect on a running relay within a second.
    #[command(subcommand)]
    Quota(QuotaCommand),
}

#[derive(clap::Subcommand, Debug)]
enum QuotaCommand {
    /// Set the quota, in MiB.
    Set {
        /// MiB (at least 1).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        mib: u64,
    },
    /// Remove it: only the disk limits the database.
    Clear,
    /// The quota and the database's present size.
    Show,
}

#[derive(clap::Subcommand, Debug)]
enum StaffCommand {
    /// Grant the staff role to a device (its id: `groundwork whoami` on it).
    Add {
        /// The device id.
        device: String,
    },
    /// Revoke it.
    Remove {
        /// The device id.
        device: String,
    },
    /// The staff devices.
    List,
}

/// Where the key comes from: the environment's key, the named file, or the default file.
fn key_source(key_file: Option<PathBuf>) -> anyhow::Result<KeySource> {
    if let Ok(hex) = std::env::var("GROUNDWORK_RELAY_KEY") {
        let key =
            groundwork_core::store::StoreKey::from_hex(&hex).context("GROUNDWORK_RELAY_KEY")?;
        return Ok(KeySource::Key(key));
    }
    Ok(key_file.map_or(KeySource::InDataDir, KeySource::File))
}

/// Runs a maintenance command against the relay's store.
fn admin(location: &Location, command: Admin) -> anyhow::Result<()> {
    let store = groundwork_relay::store::RelayStore::open_at(location)?;
    let now = groundwork_core::time::now_ms();
    let command = match command {
        Admin::Staff(command) => command,
        Admin::Quota(command) => {
            let quota = match command {
                QuotaCommand::Set { mib } => Some(mib),
                QuotaCommand::Clear => None,
                QuotaCommand::Show => {
                    let size = store.size_bytes()?;
                    let what = match location {
                        Location::Sqlite { .. } => "relay.db",
                        Location::Postgres { .. } => "the database",
                    };
                    match store.quota_mib()? {
                        Some(mib) => println!("quota {mib} MiB; {what} is {} KiB", size / 1024),
                        None => println!("no quota; {what} is {} KiB", size / 1024),
                    }
                    return Ok(());
                }
            };
            store.set_quota_mib(quota)?;
            println!(
                "{}",
                if quota.is_some() {
                    "quota set"
                } else {
                    "quota cleared"
                }
            );
            return Ok(());
        }
    };
    match command {
        StaffCommand::Add { device } => {
            groundwork_core::identity::verifying_key(&device)?;
            let added =
                store.campaign(|c| groundwork_relay::campaign::set_staff(c, &device, true, now))?;
            println!(
                "{}",
                if added {
                    "staff added"
                } else {
                    "already staff"
                }
            );
        }
        StaffCommand::Remove { device } => {
            let removed = store
                .campaign(|c| groundwork_relay::campaign::set_staff(c, &device, false, now))?;
            anyhow::ensure!(removed, "{device} is not staff");
            println!("staff removed");
        }
        StaffCommand::List => {
            for (device, at) in store.campaign(groundwork_relay::campaign::staff)? {
                println!(
                    "{device}  since {}",
                    groundwork_core::time::format_rfc3339(at)
                );
            }
        }
    }
    Ok(())
}

/// Logs go to stderr (stdout carries the "listening on" line that scripts read), at
/// `GROUNDWORK_LOG`'s levels (default info), with the dependencies that would print sync frames
/// or connection proofs held below their most verbose levels whatever it asks (as on devices:
/// `groundwork_core::logging`).
fn init_logging() {
    use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let wanted =
        EnvFilter::try_from_env("GROUNDWORK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            groundwork_core::logging::DEPENDENCY_LOG_CAPS
                .iter()
                .copied(),
        );
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a person at a terminal; a log file gets plain text.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(wanted.and(caps)),
        )
        .init();
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let mut args = Args::parse();
    // The key is settled before the port is bound: a wrong or missing key stops the relay
    // before anything could connect. A PostgreSQL store has no key of ours.
    let location = match args.database.take() {
        Some(url) => Location::Postgres { url },
        None => Location::Sqlite {
            key: key_source(args.key_file.take())?.resolve(&args.data)?,
            dir: args.data.clone(),
        },
    };
    if let Some(command) = args.command.take() {
        return admin(&location, command);
    }
    // Opened (and migrated, or encrypted if it is from before encryption at rest) once before
    // the port is bound, so a wrong key, a damaged file or an unreachable database stops the
    // relay with its reason before anything could connect; `serve` opens it again for the hub.
    // (Before the async runtime starts: PostgreSQL's blocking client must not run on it.)
    drop(groundwork_relay::store::RelayStore::open_at(&location)?);
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(run(args, location))
}

/// Binds the port and serves until a shutdown signal.
async fn run(args: Args, location: Location) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    // Settled before the "listening on" line: a relay that could not tell its own address
    // stops here with what to add.
    let audiences = groundwork_relay::audiences(
        &args.public_url,
        listener.local_addr()?,
        args.tls_cert.is_some(),
    )?;
    // Tests and scripts read the bound address (useful with port 0) from the first line; the
    // next say where people go.
    // Written, not `println!`ed: a script that read the first line and closed the pipe must not
    // stop the relay (a failed print panics).
    let mut said = format!("listening on {}\n", listener.local_addr()?);
    if let Some(primary) = audiences.first() {
        let web = groundwork_relay::web_origin(primary);
        let sync = groundwork_core::relay::SYNC_PATH;
        said.push_str(&format!(
            "devices sync at {primary}{sync}\n\
             the campaign dashboard (staff): {web}/campaign\n\
             the public map of meetings: {web}/map\n\
             this relay's front page: {web}/\n"
        ));
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(said.as_bytes()).and_then(|()| out.flush());
    }
    let mut config = Config::new(args.data);
    config.max_frame_bytes = args.max_frame_bytes;
    config.unload_idle_after = std::time::Duration::from_secs(args.unload_idle_secs);
    config.signup_code = args.signup_code;
    config.handshakes_per_minute = args.handshakes_per_minute;
    config.redemptions_per_minute = args.redemptions_per_minute;
    config.max_docs_per_connection = args.max_docs_per_connection;
    config.max_connections_per_address = args.max_connections_per_address;
    config.max_group_members = args.max_group_members;
    config.frames_per_second = args.frames_per_second;
    config.frame_burst = args.frame_burst;
    config.idle_timeout = std::time::Duration::from_secs(args.idle_timeout_secs);
    config.max_queued_bytes =
        usize::try_from(args.max_queued_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    config.tls = args.tls_cert.zip(args.tls_key);
    config.metrics_token = args.metrics_token;
    config.public_urls = args.public_url;
    match location {
        Location::Sqlite { key, .. } => config.key = KeySource::Key(key),
        Location::Postgres { url } => config.database = Some(url),
    }
    serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
