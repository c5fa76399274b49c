//! `groundwork-relay --listen ADDR --data DIR`: the relay server.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
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
    /// Serve TLS (wss://) with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr: stdout carries the "listening on" line that scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GROUNDWORK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    // Tests and scripts read the bound address (useful with port 0) from this line.
    println!("listening on {}", listener.local_addr()?);
    let mut config = Config::new(args.data);
    config.max_frame_bytes = args.max_frame_bytes;
    config.unload_idle_after = std::time::Duration::from_secs(args.unload_idle_secs);
    config.signup_code = args.signup_code;
    config.handshakes_per_minute = args.handshakes_per_minute;
    config.redemptions_per_minute = args.redemptions_per_minute;
    config.max_docs_per_connection = args.max_docs_per_connection;
    config.tls = args.tls_cert.zip(args.tls_key);
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
