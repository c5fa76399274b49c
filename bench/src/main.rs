//! `relay-load`: drives a running relay over loopback and reports its memory, read from the
//! relay's own `/metrics` (resident set size, documents in memory).
//!
//! - `idle --connections N`: N devices connect, finish the handshake, and stay idle.
//! - `documents --count N`: N groups' plans are each created and synced once (a short
//!   connection each, several at a time), then left idle until the relay unloads them (each new
//!   group also gets a roster document, written by the relay).
//!
//! Every connection is signed by a device key, as a device's would be.
//!
//! Every loop is bounded in count and time, and only loopback addresses are accepted.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use groundwork_core::identity::Identity;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use groundwork_core::schema::plan::Plan;
use groundwork_core::sync::hub::{Effect, Hub, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};
use groundwork_core::time::now_ms;
use tokio_tungstenite::tungstenite::Message as Ws;

#[derive(Parser)]
struct Args {
    /// The relay's address (loopback only), e.g. 127.0.0.1:7878
    #[arg(long, default_value = "127.0.0.1:7878")]
    relay: String,
    #[command(subcommand)]
    load: Load,
}

#[derive(Subcommand)]
enum Load {
    /// Hold N idle, handshaken connections and report the relay's memory.
    Idle {
        #[arg(long, default_value_t = 1000)]
        connections: usize,
    },
    /// Touch N documents once each, wait until the relay unloads them, report its memory.
    Documents {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Documents synced at once.
        #[arg(long, default_value_t = 32)]
        parallel: usize,
        /// Give up waiting for the relay to unload after this many seconds.
        #[arg(long, default_value_t = 120)]
        unload_wait: u64,
    },
}

/// Reads one metric from the relay's `/metrics` with a plain HTTP/1.0 request.
async fn metric(relay: &str, name: &str) -> anyhow::Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(relay).await?;
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {relay}\r\n\r\n").as_bytes())
        .await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .with_context(|| format!("no {name} in /metrics"))
}

async fn report(relay: &str, what: &str) -> anyhow::Result<()> {
    let rss = metric(relay, "groundwork_resident_memory_bytes").await?;
    let conns = metric(relay, "groundwork_connections").await?;
    let docs = metric(relay, "groundwork_documents_loaded").await?;
    println!(
        "{what}: relay RSS {:.1} MiB, {conns} connections, {docs} documents in memory",
        rss / 1048576.0
    );
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The relay URL with a fresh signed connection proof.
fn signed(url: &str, who: &Identity) -> anyhow::Result<String> {
    Ok(format!("{url}?{}", who.connect_proof(now_ms())?.to_query()))
}

async fn handshake(url: &str, peer: &str) -> anyhow::Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let join = Message::Join {
        sender: peer.to_owned(),
        metadata: PeerMetadata::default(),
        versions: vec!["1".into()],
    };
    ws.send(Ws::Binary(join.encode().into())).await?;
    match tokio::time::timeout(Duration::from_secs(30), ws.next()).await? {
        Some(Ok(Ws::Binary(b))) if matches!(Message::decode(&b), Ok(Message::Peer { .. })) => {
            Ok(ws)
        }
        other => bail!("no handshake answer: {other:?}"),
    }
}

/// Creates one group's plan and syncs it to the relay until the relay has it.
async fn touch(url: &str, who: &Identity, id: DocumentId, n: usize) -> anyhow::Result<()> {
    let device = who.device_id();
    let group = id.to_string();
    let plan = Plan::new(&group, &format!("Load group {n}"), None, &device, now_ms())?;
    let mut doc = groundwork_core::schema::new_doc();
    groundwork_core::schema::reconcile(&mut doc, &plan, &group, DocKind::Plan)?;
    doc.commit();
    let mut hub = Hub::new(format!("{device}.{n}"), PeerMetadata::default());
    hub.insert_doc(id, doc);
    let (ws, _) = tokio_tungstenite::connect_async(signed(url, who)?).await?;
    let (mut sink, mut stream) = ws.split();
    hub.connect(1, Side::Client, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        while let Some(e) = hub.poll_effect() {
            match e {
                Effect::Send { frame, .. } => sink.send(Ws::Binary(frame.into())).await?,
                Effect::PeerReady { .. } => hub.handle_sync_states(1, Vec::new(), 0),
                Effect::Close { reason, .. } => bail!("closed: {reason}"),
                _ => {}
            }
        }
        if hub.status(1, &id).is_some_and(|s| s.synced()) {
            break;
        }
        if Instant::now() > deadline {
            bail!("document {id} did not sync in 30 s");
        }
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await? {
            Some(Ok(Ws::Binary(b))) => hub.handle_frame(1, &b, 0),
            Some(Ok(_)) => {}
            other => bail!("connection ended: {other:?}"),
        }
    }
    let _ = sink.send(Ws::Close(None)).await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr: std::net::SocketAddr = args.relay.parse().context("--relay must be IP:PORT")?;
    if !addr.ip().is_loopback() {
        bail!("relay-load only drives a relay on a loopback address");
    }
    let url = format!("ws://{}/v1/sync", args.relay);
    report(&args.relay, "before").await?;
    match args.load {
        Load::Idle { connections } => {
            let mut held = Vec::with_capacity(connections);
            let who = Identity::generate()?;
            for i in 0..connections {
                let peer = format!("{}.{i}", who.device_id());
                held.push(handshake(&signed(&url, &who)?, &peer).await?);
            }
            report(&args.relay, &format!("{connections} idle connections")).await?;
            drop(held);
        }
        Load::Documents {
            count,
            parallel,
            unload_wait,
        } => {
            let started = Instant::now();
            let mut next = 0;
            while next < count {
                let batch: Vec<_> = (next..(next + parallel).min(count))
                    .map(|n| {
                        let url = url.clone();
                        tokio::spawn(async move {
                            // A device of its own per group, as in life: a device is in a
                            // few groups, and is offered all of their documents.
                            let who = Identity::generate()?;
                            let id = DocumentId::random()?;
                            touch(&url, &who, id, n).await
                        })
                    })
                    .collect();
                next += batch.len();
                for t in batch {
                    t.await??;
                }
            }
            println!(
                "{count} documents touched in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            report(&args.relay, "right after").await?;
            let until = Instant::now() + Duration::from_secs(unload_wait);
            while metric(&args.relay, "groundwork_documents_loaded").await? > 0.0 {
                if Instant::now() > until {
                    bail!("the relay still holds documents after {unload_wait} s");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            report(&args.relay, "after the documents were unloaded").await?;
        }
    }
    Ok(())
}
