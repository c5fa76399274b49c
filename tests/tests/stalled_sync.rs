//! A save never waits for the network, through the CLI: a device's `groundwork sync` (the
//! long-running one, and `sync --once`) is stalled on a relay that accepts the connection and
//! never answers, and meanwhile other `groundwork` commands on the same data directory log a
//! contact, create a meeting and list contacts. Each must return at once (measured; a
//! generous bound fails the test, the measured times are printed) with its edit saved. Then
//! the silent server goes, the real relay comes back on the same address, and the edits reach
//! it: sent by the same long-running `sync` once it reconnects, or by the next `sync --once`.
//!
//! The silent server stands where the device's own relay was (same address): a device with
//! groups dials only the relay it syncs with, so the stall is on the device's real relay
//! address, as when a relay hangs.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use groundwork_tests::{Device, Relay, Res, RunningSync, bin, field, relay_documents};

/// The most a local command may take while a sync is stalled before the test fails: far above
/// what one takes (the measured times are printed), far below SQLite's 10 s busy timeout or a
/// sync's 30 s network timeout, which are what a command waiting on the network would show.
const BOUND: Duration = Duration::from_secs(2);

/// A relay that accepts connections and never says a word: with `handshake`, it completes the
/// WebSocket upgrade first (the device is connected and waits for the relay's `peer` answer);
/// without, the upgrade request goes unanswered. Whatever the device sends is read and dropped.
struct Silent {
    stop: Arc<AtomicBool>,
    /// Connections accepted (and, with `handshake`, upgraded).
    connected: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

impl Silent {
    fn start(addr: &str, handshake: bool) -> Res<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(AtomicUsize::new(0));
        let accept = {
            let (stop, connected) = (stop.clone(), connected.clone());
            std::thread::spawn(move || {
                let mut held: Vec<JoinHandle<()>> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((tcp, _)) => {
                            let (stop, connected) = (stop.clone(), connected.clone());
                            held.push(std::thread::spawn(move || {
                                hold(tcp, handshake, &stop, &connected);
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                drop(listener);
                for h in held {
                    let _ = h.join();
                }
            })
        };
        Ok(Silent {
            stop,
            connected,
            accept: Some(accept),
        })
    }

    /// Waits until a device has connected (bounded, against a hang).
    fn wait_connected(&self) -> Res<()> {
        let start = Instant::now();
        while self.connected.load(Ordering::SeqCst) == 0 {
            if start.elapsed() > Duration::from_secs(60) {
                return Err("no device connected to the silent relay".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Closes every connection and the port.
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// One connection to the silent relay: upgraded (or not), then read from and never written to
/// until `stop`.
fn hold(tcp: TcpStream, handshake: bool, stop: &AtomicBool, connected: &AtomicUsize) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_nodelay(true);
    let mut tcp = if handshake {
        match tokio_tungstenite::tungstenite::accept(tcp) {
            // From here on the WebSocket is never read as one: no pong, no close, nothing.
            Ok(ws) => ws.into_inner(),
            Err(_) => return,
        }
    } else {
        tcp
    };
    connected.fetch_add(1, Ordering::SeqCst);
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(50)));
    let mut sink = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match tcp.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = tcp.shutdown(std::net::Shutdown::Both);
}

/// Runs a command on `device`, which must succeed within [`BOUND`]; returns its JSON and how
/// long it took.
fn timed(device: &Device, args: &[&str]) -> Res<(serde_json::Value, Duration)> {
    let start = Instant::now();
    let out = device.run(args);
    let took = start.elapsed();
    let out = out.map_err(|e| format!("{args:?} failed after {took:?}: {e}"))?;
    assert!(
        took < BOUND,
        "{args:?} took {took:?} while the sync was stalled"
    );
    Ok((out, took))
}

/// A lead with a group, synced once with `relay` (so that it is the device's relay).
fn lead(root: &std::path::Path, relay: &Relay) -> Res<(Device, String)> {
    let lead = Device::new(root, "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Stalled"])?,
        "group_id",
    )?;
    lead.sync(relay)?;
    Ok((lead, group))
}

/// How long each command took, by command.
type Times = Vec<(String, Duration)>;

/// The edits made while the sync is stalled, and a read: each timed. Returns the markers
/// (a contact's note, a meeting's title) and the times, as (what, took).
fn edits_while_stalled(lead: &Device, group: &str, tag: &str) -> Res<(Vec<String>, Times)> {
    let note = format!("Marker-Stalled-{tag}-Note");
    let title = format!("Marker-Stalled-{tag}-Meeting");
    let mut times = Vec::new();
    let (_, took) = timed(
        lead,
        &[
            "contact", "log", group, "--result", "talked", "--note", &note,
        ],
    )?;
    times.push(("contact log".to_owned(), took));
    let (meeting, took) = timed(
        lead,
        &[
            "meeting",
            "create",
            group,
            "--kind",
            "organizing",
            "--title",
            &title,
        ],
    )?;
    times.push(("meeting create".to_owned(), took));
    let (listed, took) = timed(lead, &["contact", "list", group])?;
    times.push(("contact list".to_owned(), took));
    assert!(listed.to_string().contains(&note), "not saved: {listed}");
    let (meetings, took) = timed(lead, &["meeting", "list", group])?;
    times.push(("meeting list".to_owned(), took));
    assert!(
        meetings.to_string().contains(&title),
        "not saved: {meetings}"
    );
    assert!(meeting["meeting_id"].is_string(), "{meeting}");
    Ok((vec![note, title], times))
}

/// Waits until the relay's store holds every one of `markers` (bounded).
fn relay_holds(relay: &Relay, markers: &[String]) -> Res<()> {
    let start = Instant::now();
    loop {
        let docs = relay_documents(&relay.data)?;
        let all: String = docs.values().map(|d| d.content.as_str()).collect();
        if markers.iter().all(|m| all.contains(m.as_str())) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(format!("the relay never received {markers:?}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn report(what: &str, times: &[(String, Duration)]) {
    for (command, took) in times {
        println!("{what}: `{command}` returned in {took:?}");
    }
}

/// The long-running `sync`, connected to a relay that never answers (the handshake done, or
/// not even that): the commands return at once, saved; the same `sync` sends them once the
/// real relay is back on the address.
fn long_running_sync_stalled(handshake: bool) -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let addr = relay.addr.clone();
    let (lead, group) = lead(root.path(), &relay)?;
    relay.kill()?;

    let silent = Silent::start(&addr, handshake)?;
    let mut running = RunningSync::start(&lead.dir, &groundwork_tests::sync_url(&addr))?;
    running.state("connecting")?;
    silent.wait_connected()?;
    // Give the sync a moment to reach its wait on the silent socket.
    std::thread::sleep(Duration::from_millis(300));
    let tag = if handshake { "Upgraded" } else { "Dialling" };
    let (markers, mut times) = edits_while_stalled(&lead, &group, tag)?;
    // Still stalled: the running sync recorded no connection (it is still connecting).
    let (status, took) = timed(&lead, &["status"])?;
    times.push(("status".to_owned(), took));
    assert_eq!(status["connection"]["state"], "connecting", "{status}");
    report(&format!("long-running sync stalled ({tag})"), &times);

    // The relay comes back where it was; the same `sync` reconnects and sends the edits.
    silent.stop();
    let relay = Relay::options(&data).listen(&addr).start()?;
    let started = Instant::now();
    running.synced()?;
    relay_holds(&relay, &markers)?;
    println!(
        "long-running sync stalled ({tag}): the edits reached the relay {:?} after it came back",
        started.elapsed()
    );
    // It stops when asked (SIGTERM), promptly.
    let stopping = Instant::now();
    Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()?;
    while running.child.try_wait()?.is_none() {
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "`sync` did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[test]
fn edits_return_at_once_while_a_long_running_sync_waits_on_a_silent_relay() -> Res<()> {
    long_running_sync_stalled(true)
}

#[test]
fn edits_return_at_once_while_a_long_running_sync_is_still_dialling() -> Res<()> {
    long_running_sync_stalled(false)
}

/// `sync --once` stalled the same way (the handshake done): the commands return at once; the
/// stalled run is stopped, and the next `sync --once` with the relay back sends the edits.
#[test]
fn edits_return_at_once_while_sync_once_waits_on_a_silent_relay() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let addr = relay.addr.clone();
    let (lead, group) = lead(root.path(), &relay)?;
    relay.kill()?;

    let silent = Silent::start(&addr, true)?;
    let mut once = Command::new(bin("groundwork"))
        .arg("--data")
        .arg(&lead.dir)
        .args(["sync", "--once", "--timeout", "60", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    silent.wait_connected()?;
    std::thread::sleep(Duration::from_millis(300));
    let (markers, times) = edits_while_stalled(&lead, &group, "Once")?;
    report("sync --once stalled", &times);
    assert!(
        once.try_wait()?.is_none(),
        "`sync --once` ended: it was not stalled"
    );
    once.kill()?;
    once.wait()?;

    silent.stop();
    let relay = Relay::options(&data).listen(&addr).start()?;
    assert_eq!(lead.sync(&relay)?["synced"], true);
    relay_holds(&relay, &markers)?;
    Ok(())
}
