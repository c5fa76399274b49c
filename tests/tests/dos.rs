//! Denial of service: one abusive client, from an address of its own, floods the relay with
//! frames asking for thousands of documents (reconnecting each time it is cut off) and holds a
//! thousand sockets half-open, while 50 honest devices in five groups of ten log contacts and
//! sync. The honest devices' sync time stays within 2x of the quiet figure, every honest sync
//! completes, and the relay shows what held the abuse back: its flood waited in its own socket
//! and was cut off at its limit of documents waited for, its sockets past the per-address cap
//! were dropped, the silent ones timed out.
//!
//! Real parts: the relay binary, 50 device stores made by the CLI, real WebSockets. The honest
//! devices sync in this process (`groundwork_core::net::sync_once`), so that their time is
//! the relay's answer and not 50 process starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use automerge::sync::SyncDoc;
use futures_util::{SinkExt, StreamExt};
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::vocab::ContactResult;
use groundwork_core::sync::wire::{Message, PeerMetadata};
use groundwork_tests::{Device, Relay, Res, cli_key, field, http_get};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const GROUPS: usize = 5;
const PER_GROUP: usize = 10;
const ROUNDS: usize = 3;
const CONTACTS_PER_ROUND: usize = 4;
const HALF_OPEN: usize = 1000;
/// The relay's idle timeout in this test (90 s by default), so that the half-open sockets
/// are seen to close within it.
const IDLE_SECS: u64 = 3;

#[test]
fn one_abusive_client_cannot_starve_fifty_honest_ones() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::options(&root.path().join("relay"))
        // Fifty devices on one loopback address make more handshakes than a phone would.
        .arg("--handshakes-per-minute")
        .arg("2000")
        .arg("--redemptions-per-minute")
        .arg("0")
        .arg("--idle-timeout-secs")
        .arg(IDLE_SECS.to_string())
        .start()?;
    let url = relay.url();
    let (dirs, token) = make_groups(root.path(), &url)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut devices = dirs
        .iter()
        .map(|(dir, group)| {
            Ok((
                groundwork_core::Device::open(dir, &cli_key(dir))?,
                group.clone(),
            ))
        })
        .collect::<Res<Vec<_>>>()?;
    // Untimed: every device gets its group's documents first.
    sync_round(&rt, &mut devices, &url, 0)?;

    let mut quiet = Vec::new();
    let mut abused = Vec::new();
    let mut abuse_figures = Vec::new();
    let mut loaded_under_abuse = 0.0f64;
    let mut rss_first_abuse = 0.0;
    for round in 0..ROUNDS {
        quiet.push(sync_round(&rt, &mut devices, &url, 2 * round + 1)?);
        let slowed = metric(&relay, "groundwork_frames_slowed_total")?;
        let abuser = Abuser::start(relay.addr.parse()?, token.clone());
        // The abuse is under way before the honest devices start, past the burst any device
        // may send at once (an honest one's first sync): the relay is reading the flood at
        // the device's rate when the honest devices come.
        abuser.wait_until_flooding();
        let since = Instant::now();
        while metric(&relay, "groundwork_frames_slowed_total")? <= slowed {
            if since.elapsed() > Duration::from_secs(60) {
                return Err("the flood was never slowed to its device's rate".into());
            }
            // Polling the relay's own count, not a sleep standing in for an event.
            std::thread::sleep(Duration::from_millis(10));
        }
        abused.push(sync_round(&rt, &mut devices, &url, 2 * round + 2)?);
        // While the flood is still asking for documents by the thousand: a document nobody may
        // read costs the relay no state (it is answered unavailable and forgotten).
        loaded_under_abuse = loaded_under_abuse.max(metric(&relay, "groundwork_documents_loaded")?);
        abuse_figures.push(abuser.stop()?);
        if round == 0 {
            rss_first_abuse = metric(&relay, "groundwork_resident_memory_bytes")?;
        }
    }
    // A device's sync time: the median device of each round, then the median round (this
    // machine is shared; one slow process start should not decide it).
    let median = |v: &[RoundTime], f: fn(&RoundTime) -> Duration| {
        let mut t: Vec<Duration> = v.iter().map(f).collect();
        t.sort();
        t[t.len() / 2]
    };
    let (q, a) = (median(&quiet, |r| r.median), median(&abused, |r| r.median));
    let (q_last, a_last) = (
        median(&quiet, |r| r.slowest),
        median(&abused, |r| r.slowest),
    );
    let ratio = a.as_secs_f64() / q.as_secs_f64();
    let metrics = http_get(&relay.addr, "/metrics")?.1;
    let figure = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(-1.0)
    };
    let flood_frames: u64 = abuse_figures.iter().map(|f| f.frames).sum();
    let reconnects: u64 = abuse_figures.iter().map(|f| f.connections).sum();
    println!(
        "50 honest devices, {CONTACTS_PER_ROUND} contacts each per round: a device's sync quiet \
         {q:?}, under abuse {a:?}, ratio {ratio:.2} (the round's slowest: {q_last:?} and \
         {a_last:?}); abuser: {flood_frames} frames on {reconnects} \
         connections, {HALF_OPEN} half-open sockets per round; relay: {} sockets refused, {} \
         timed out, {} frames held in their socket, {} read late (over the device's rate), \
         {loaded_under_abuse} documents in memory \
         under the flood, {:.0} MiB resident after the first round of abuse, {:.0} MiB at the end",
        figure("groundwork_sockets_refused_total"),
        figure("groundwork_sockets_timed_out_total"),
        figure("groundwork_inbound_waits_total"),
        figure("groundwork_frames_slowed_total"),
        rss_first_abuse / 1048576.0,
        figure("groundwork_resident_memory_bytes") / 1048576.0,
    );
    assert!(
        ratio <= 2.0,
        "honest sync under abuse took {a:?}, more than twice the quiet {q:?}"
    );
    // What held the abuse back, each seen to work.
    assert!(
        figure("groundwork_sockets_refused_total") > 0.0,
        "sockets past the cap refused"
    );
    assert!(
        figure("groundwork_inbound_waits_total") > 0.0,
        "the flood waited in its own socket"
    );
    // Past 1,000 documents it waits for that nobody gives it, a connection is closed, and
    // what it asked for leaves memory with it.
    assert!(
        reconnects > ROUNDS as u64,
        "the flood was cut off at its limit of documents waited for, and came back"
    );
    assert!(
        flood_frames > 10_000 && loaded_under_abuse < 5000.0,
        "{flood_frames} requests for documents the abuser may not read left {loaded_under_abuse} \
         documents in memory"
    );
    for f in &abuse_figures {
        assert_eq!(
            f.half_open_closed, f.half_open,
            "every half-open socket closed by the relay within the idle timeout"
        );
    }
    assert!(
        figure("groundwork_resident_memory_bytes") < 512.0 * 1048576.0,
        "the relay's memory stays bounded"
    );
    Ok(())
}

/// Five groups of ten (a lead, four members, five canvassers) made with the CLI; returns each
/// device's directory and group, and a token minted by a member of the first group for the
/// abuser (a member turned malicious, the worst case: it may read its group).
type Made = (Vec<(std::path::PathBuf, String)>, String);

fn make_groups(root: &std::path::Path, url: &str) -> Res<Made> {
    let made: Vec<Result<Made, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..GROUPS)
            .map(|g| s.spawn(move || make_group(root, url, g).map_err(|e| e.to_string())))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a setup thread panicked".into()))
            })
            .collect()
    });
    let mut dirs = Vec::new();
    let mut token = String::new();
    for m in made {
        let (d, t) = m?;
        dirs.extend(d);
        if !t.is_empty() {
            token = t;
        }
    }
    Ok((dirs, token))
}

/// Group `g` of [`make_groups`].
fn make_group(root: &std::path::Path, url: &str, g: usize) -> Res<Made> {
    let lead = Device::new(root, &format!("lead-{g}"))?;
    let group = field(
        &lead.run(&["group", "create", "--name", &format!("Group {g}")])?,
        "group_id",
    )?;
    lead.run(&["sync", "--relay", url, "--once", "--timeout", "20"])?;
    let mut dirs = vec![(lead.dir.clone(), group.clone())];
    let mut token = String::new();
    for i in 1..PER_GROUP {
        let role = if i < 5 { "member" } else { "canvasser" };
        let link = field(
            &lead.run(&["invite", "create", &group, "--role", role, "--relay", url])?,
            "link",
        )?;
        let d = Device::new(root, &format!("{role}-{g}-{i}"))?;
        d.run(&["join", &link])?;
        if g == 0 && i == 1 {
            token = field(&d.run(&["token", &group, "--relay", url])?, "token")?;
        }
        dirs.push((d.dir, group.clone()));
    }
    Ok((dirs, token))
}

/// Every device logs its contacts for the round, then all sync at once; returns how long they
/// took. Every sync must end synced.
fn sync_round(
    rt: &tokio::runtime::Runtime,
    devices: &mut Vec<(groundwork_core::Device, String)>,
    url: &str,
    round: usize,
) -> Res<RoundTime> {
    for (n, (device, group)) in devices.iter_mut().enumerate() {
        let contacts = (0..CONTACTS_PER_ROUND)
            .map(|i| {
                let mut c = NewContact::new(ContactResult::Talked);
                c.note = Some(format!("round {round} device {n} contact {i}"));
                c
            })
            .collect();
        device.log_contacts(group, contacts)?;
    }
    let start = Instant::now();
    let taken = std::mem::take(devices);
    let results = rt.block_on(async {
        let tasks: Vec<_> = taken
            .into_iter()
            .map(|(mut device, group)| {
                let url = url.to_owned();
                tokio::spawn(async move {
                    let summary =
                        groundwork_core::net::sync_once(&mut device, &url, Duration::from_secs(60))
                            .await;
                    (device, group, summary, start.elapsed())
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    let mut times = Vec::new();
    for result in results {
        let (device, group, summary, took) = result?;
        let summary = summary?;
        if !summary.synced {
            return Err(format!(
                "round {round}: an honest device did not finish syncing: {} pending",
                summary.pending.len()
            )
            .into());
        }
        times.push(took);
        devices.push((device, group));
    }
    times.sort();
    Ok(RoundTime {
        median: times[times.len() / 2],
        slowest: times[times.len() - 1],
    })
}

/// How long a round's honest devices took to sync: the median device and the slowest.
#[derive(Clone, Copy, Debug)]
struct RoundTime {
    median: Duration,
    slowest: Duration,
}

/// What one round of abuse did.
struct AbuseFigures {
    frames: u64,
    connections: u64,
    half_open: usize,
    half_open_closed: usize,
}

/// The abusive client, on its own thread and runtime (and its own address, 127.0.0.2), so
/// that its work is not the honest devices' runtime's.
struct Abuser {
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Result<AbuseFigures, String>>,
}

impl Abuser {
    fn start(relay: SocketAddr, token: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let (s, f) = (stop.clone(), frames.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(abuse(relay, token, s, f))
                .map_err(|e| e.to_string())
        });
        Self {
            stop,
            frames,
            thread,
        }
    }

    /// Returns once the flood has sent its first thousand frames.
    fn wait_until_flooding(&self) {
        while self.frames.load(Ordering::Relaxed) < 1000 && !self.thread.is_finished() {
            std::thread::yield_now();
        }
    }

    fn stop(self) -> Res<AbuseFigures> {
        self.stop.store(true, Ordering::Relaxed);
        Ok(self
            .thread
            .join()
            .map_err(|_| "the abuser's thread panicked")??)
    }
}

/// A socket from one of the abuser's addresses (one machine with two: its flood comes from
/// 127.0.0.2, its silent sockets from 127.0.0.3, so that the cap per address it hits with the
/// one does not also hold back the other).
async fn connect_from(from: &str, relay: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(from.parse().map_err(std::io::Error::other)?)?;
    socket.connect(relay).await
}

async fn abuse(
    relay: SocketAddr,
    token: String,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
) -> Res<AbuseFigures> {
    // A thousand sockets that never say a word. The relay drops those past its cap per
    // address as they come and closes the others at its idle timeout.
    let mut silent = Vec::new();
    for _ in 0..HALF_OPEN {
        if let Ok(s) = connect_from("127.0.0.3:0", relay).await {
            silent.push(s);
        }
    }
    let watch_silent = tokio::spawn(async move {
        // Each must reach its end (closed by the relay) within the idle timeout and a margin.
        let mut closed = 0;
        let n = silent.len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(IDLE_SECS * 4);
        for mut s in silent {
            let mut buf = [0u8; 64];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout_at(deadline, tokio::io::AsyncReadExt::read(&mut s, &mut buf))
                    .await
            {
                closed += 1;
            }
        }
        (n, closed)
    });

    // The flood: a member's token, requests for random documents as fast as the relay takes
    // them; cut off at its documents limit, it comes straight back.
    let empty = automerge::AutoCommit::new()
        .sync()
        .generate_sync_message(&mut automerge::sync::State::new())
        .map(|m| m.encode())
        .unwrap_or_default();
    let mut connections = 0;
    let mut flood = Vec::new();
    let url = format!("ws://{relay}/v1/sync?token={token}");
    while !stop.load(Ordering::Relaxed) {
        let Ok(tcp) = connect_from("127.0.0.2:0", relay).await else {
            continue;
        };
        let Ok((ws, _)) = tokio_tungstenite::client_async(url.as_str(), tcp).await else {
            // Refused (its handshakes per minute spent): an abuser tries again at once.
            continue;
        };
        connections += 1;
        let (mut sink, mut stream) = ws.split();
        let me = "abuser".to_owned();
        let join = Message::Join {
            sender: me.clone(),
            metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            },
            versions: vec!["1".into()],
        };
        if sink
            .send(WsMessage::Binary(join.encode().into()))
            .await
            .is_err()
        {
            continue;
        }
        let relay_peer = match stream.next().await {
            Some(Ok(WsMessage::Binary(b))) => match Message::decode(&b) {
                Ok(Message::Peer { sender, .. }) => sender,
                _ => continue,
            },
            _ => continue,
        };
        // What the relay answers is read and dropped: this abuser floods, it does not stall.
        let drain = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        // Made once: the flood should cost this test's CPU little, as an abuser's own machine
        // would cost the relay's nothing.
        if flood.is_empty() {
            for _ in 0..5000 {
                let request = Message::Request {
                    sender: me.clone(),
                    target: relay_peer.clone(),
                    document: DocumentId::random()?,
                    data: empty.clone(),
                };
                flood.push(tokio_tungstenite::tungstenite::Bytes::from(
                    request.encode(),
                ));
            }
        }
        for frame in flood.iter().cycle() {
            if stop.load(Ordering::Relaxed)
                || sink.send(WsMessage::Binary(frame.clone())).await.is_err()
            {
                break;
            }
            frames.fetch_add(1, Ordering::Relaxed);
        }
        drain.abort();
    }
    let (half_open, half_open_closed) = watch_silent.await?;
    Ok(AbuseFigures {
        frames: frames.load(Ordering::Relaxed),
        connections,
        half_open,
        half_open_closed,
    })
}

/// One figure of the relay's `/metrics`.
fn metric(relay: &Relay, name: &str) -> Res<f64> {
    let text = http_get(&relay.addr, "/metrics")?.1;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .ok_or_else(|| format!("no {name} in /metrics").into())
}
