//! `samod-relay`: the smallest relay a team would build on the `samod` crate, for measuring
//! ours beside it (bench only, never shipped). An axum server whose one route hands each
//! WebSocket to samod's acceptor; documents persist through samod's filesystem storage (the
//! layout automerge-repo's nodefs storage uses). Like `automerge-repo-sync-server`, it announces
//! nothing: a peer gets the documents it asks for by id.
//!
//! It prints `listening on ADDR` once ready, as `groundwork-relay` does.

use anyhow::Context;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::routing::get;
use clap::Parser;
use samod::{Repo, ShareConfig};

#[derive(Parser)]
struct Args {
    /// Where to listen (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Where documents are stored.
    #[arg(long)]
    data: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.data).context("creating the data directory")?;
    let repo = Repo::build_tokio()
        .with_peer_id("samod-relay".into())
        .with_storage(samod::storage::TokioFilesystemStorage::new(&args.data))
        .with_share_policy(ShareConfig::read_write().with_announce(false))
        .load()
        .await;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let acceptor = repo.make_acceptor(format!("ws://{addr}/").parse()?)?;
    let app = Router::new().route(
        "/",
        get(move |upgrade: WebSocketUpgrade| {
            let acceptor = acceptor.clone();
            async move {
                upgrade.on_upgrade(move |socket| async move {
                    // Only fails once the repo has stopped, and then the socket just closes.
                    let _ = acceptor.accept_axum(socket, None);
                })
            }
        }),
    );
    println!("listening on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
