//! The holes an outside tester walked through, each tried again as they tried it, with real
//! processes: a real relay, real CLI devices, a trap server that captures what a device sends
//! to a wrong address, and stock WebSocket clients replaying it (SECURITY.md names each).
//!
//! 1. A proof a device gave another server is refused at its relay (it names its audience).
//! 2. A removal revokes everything: old multi-use invites and old tokens stop working.
//! 3. A device with groups dials only its relay; `relay move` is the one way to another.
//! 4. Devices and invites from before: what happens to them, said clearly.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ed25519_dalek::Signer;
use groundwork_core::time::now_ms;
use groundwork_tests::{Device, Relay, Res, field, relay_documents};

/// A server at a wrong address: it accepts every connection, keeps the request's first line
/// (where a device's connection proof travels) and answers 400, so nothing goes further.
struct Trap {
    addr: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Trap {
    fn start() -> Res<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        // Ends with the test process (it blocks in accept).
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if let Ok(mut all) = seen.lock() {
                    all.push(line);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Ok(Trap { addr, requests })
    }

    fn url(&self) -> String {
        format!("ws://{}/v1/sync", self.addr)
    }

    /// How many connections it has had.
    fn connections(&self) -> Res<usize> {
        Ok(self.requests.lock().map_err(|e| e.to_string())?.len())
    }

    /// The query of the last request it had (`aud=...&device=...&sig=...`).
    fn last_query(&self) -> Res<String> {
        let all = self.requests.lock().map_err(|e| e.to_string())?;
        let line = all.last().ok_or("the trap had no request")?;
        let target = line.split(' ').nth(1).ok_or("no request target")?;
        Ok(target
            .split_once('?')
            .ok_or("the request had no query")?
            .1
            .to_owned())
    }
}

/// Opens a WebSocket to `url` and returns the relay's refusal (status and body), or an error
/// if it accepted the socket.
fn refusal(url: &str) -> Res<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(tokio_tungstenite::connect_async(url)) {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Ok((
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Ok(_) => Err(format!("the relay accepted {url}").into()),
        Err(e) => Err(format!("connecting to {url}: {e}").into()),
    }
}

/// Whether the relay accepts a WebSocket at `url`.
fn accepted(url: &str) -> Res<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime
        .block_on(tokio_tungstenite::connect_async(url))
        .is_ok())
}

/// A lead with a group made offline and synced to `relay`: (lead, group).
fn lead_with_group(root: &Path, relay: &Relay) -> Res<(Device, String)> {
    let lead = Device::new(root, "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Riverside Freedom City"])?,
        "group_id",
    )?;
    assert_eq!(lead.sync(relay)?["synced"], true);
    Ok((lead, group))
}

/// An invite signed as a device of the previous version signed them: no time of issue (and,
/// when `relay` is `None`, no relay).
fn old_invite(
    lead: &Device,
    group: &str,
    role: &str,
    expires_at: i64,
    uses: u32,
    relay: Option<&str>,
) -> Res<String> {
    let key = ed25519_dalek::SigningKey::from_bytes(&lead.identity()?.secret());
    let mut payload = serde_json::json!({
        "id": "old-invite-1",
        "group": group,
        "role": role,
        "expires_at": expires_at,
        "uses": uses,
        "issuer": lead.id()?,
    });
    if let Some(relay) = relay {
        payload["relay"] = relay.into();
    }
    let payload = serde_json::to_vec(&payload)?;
    let mut message = b"groundwork invite v1\n".to_vec();
    message.extend_from_slice(&payload);
    let sig = key.sign(&message);
    Ok(format!(
        "gw1.{}.{}",
        bs58::encode(&payload).into_string(),
        bs58::encode(sig.to_bytes()).into_string()
    ))
}

#[test]
fn a_proof_captured_by_another_server_opens_nothing_at_the_relay() -> Res<()> {
    let root = tempfile::tempdir()?;
    let log = root.path().join("relay.log");
    let relay = Relay::options(&root.path().join("relay"))
        .log_to(&log)
        .start()?;
    let (lead, group) = lead_with_group(root.path(), &relay)?;
    let trap = Trap::start()?;

    // 1. A sync dialled at the trap by mistake (a device with no groups may try any relay):
    //    the trap keeps the proof and replays it at the real relay, which refuses it, says
    //    why, and logs it.
    let stray = Device::new(root.path(), "stray")?;
    stray.refused(&["sync", "--once", "--relay", &trap.url(), "--timeout", "5"])?;
    let captured = trap.last_query()?;
    assert!(captured.contains("aud="), "{captured}");
    let (status, body) = refusal(&format!("{}?{captured}", relay.url()))?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("made for another relay"), "{body}");

    // 2. A redemption: an invite that names no relay, redeemed at the trap. The trap's copy of
    //    the connection proof is refused at the relay just the same.
    let no_relay = old_invite(&lead, &group, "member", now_ms() + 3_600_000, 2, None)?;
    let joiner = Device::new(root.path(), "joiner")?;
    joiner.refused(&["join", &no_relay, "--relay", &trap.url()])?;
    let (status, body) = refusal(&format!("{}?{}", relay.url(), trap.last_query()?))?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("made for another relay"), "{body}");
    // An invite that names its relay is never sent anywhere else: refused before dialling.
    let link = field(
        &lead.run(&["invite", "create", &group, "--role", "member"])?,
        "link",
    )?;
    let before = trap.connections()?;
    let err = joiner.refused(&["join", &link, "--relay", &trap.url()])?;
    assert!(err.contains("sent only to its own relay"), "{err}");
    assert_eq!(trap.connections()?, before);

    // 3. A dashboard sign-in asked of the trap: the same.
    stray.refused(&["dashboard", "login", "--relay", &trap.url()])?;
    let (status, body) = refusal(&format!("{}?{}", relay.url(), trap.last_query()?))?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("made for another relay"), "{body}");

    // The relay's log says why, three times, and names no device's data.
    let logged = std::fs::read_to_string(&log)?;
    assert_eq!(
        logged.matches("made for another relay").count(),
        3,
        "{logged}"
    );
    // The joiner still joins where the invite says, and the relay still serves the lead.
    joiner.run(&["join", &link])?;
    assert_eq!(lead.sync(&relay)?["synced"], true);
    Ok(())
}

#[test]
fn a_removal_revokes_old_invites_and_tokens_and_a_new_invite_readmits() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let (lead, group) = lead_with_group(root.path(), &relay)?;
    let member = Device::new(root.path(), "member")?;
    let link = field(
        &lead.run(&[
            "invite", "create", &group, "--role", "member", "--uses", "5",
        ])?,
        "link",
    )?;
    member.run(&["join", &link])?;
    assert_eq!(member.sync(&relay)?["synced"], true);
    let token = field(&member.run(&["token", &group])?, "token")?;
    let with_token = format!("{}?token={token}", relay.url());
    assert!(accepted(&with_token)?);

    // The lead removes the member; its next sync wipes the group.
    let member_id = member.id()?;
    lead.run(&["member", "remove", &group, &member_id])?;
    let wiped = member.run(&["sync", "--once", "--timeout", "20"])?;
    assert_eq!(wiped["wiped"][0], group.as_str(), "{wiped}");

    // The old five-use link (four uses left) and the old token are refused.
    let err = member.refused(&["join", &link])?;
    assert!(err.contains("removed from the group"), "{err}");
    assert!(err.contains("new invite"), "{err}");
    let (status, body) = refusal(&with_token)?;
    assert_eq!(status, 401, "{body}");
    // So is an invite from before invites said when they were made.
    let old = old_invite(&lead, &group, "member", now_ms() + 3_600_000, 3, None)?;
    let err = member.refused(&["join", &old, "--relay", &relay.url()])?;
    assert!(err.contains("removed from the group"), "{err}");

    // A new invite made after the removal re-admits it, explicitly; the old token stays dead.
    let again = field(
        &lead.run(&["invite", "create", &group, "--role", "member"])?,
        "link",
    )?;
    member.run(&["join", &again])?;
    assert_eq!(member.sync(&relay)?["synced"], true);
    assert!(member.run(&["group", "list"])?.to_string().contains(&group));
    let (status, _) = refusal(&with_token)?;
    assert_eq!(status, 401);
    // Anyone else may still use the old link's remaining uses.
    let newcomer = Device::new(root.path(), "newcomer")?;
    newcomer.run(&["join", &link])?;
    Ok(())
}

#[test]
fn invites_past_the_caps_are_refused_by_the_device_and_by_the_relay() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let (lead, group) = lead_with_group(root.path(), &relay)?;
    let err = lead.refused(&[
        "invite",
        "create",
        &group,
        "--role",
        "member",
        "--expires",
        "100000000d",
    ])?;
    assert!(err.contains("at most 90 days"), "{err}");
    let err = lead.refused(&[
        "invite", "create", &group, "--role", "member", "--uses", "100000",
    ])?;
    assert!(err.contains("more than the 500"), "{err}");
    // Signed by an older device, which knew no caps: the relay refuses it, naming the cap.
    let forever = old_invite(
        &lead,
        &group,
        "member",
        now_ms() + 3_650 * 86_400_000,
        1,
        None,
    )?;
    let joiner = Device::new(root.path(), "joiner")?;
    let err = joiner.refused(&["join", &forever, "--relay", &relay.url()])?;
    assert!(err.contains("more than the 90 days"), "{err}");
    // An older invite within the caps still works for a newcomer.
    let old = old_invite(&lead, &group, "member", now_ms() + 3_600_000, 1, None)?;
    let joined = joiner.run(&["join", &old, "--relay", &relay.url()])?;
    assert_eq!(joined["group_id"], group.as_str());
    Ok(())
}

#[test]
fn a_device_with_groups_dials_only_its_relay_until_moved() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let (lead, group) = lead_with_group(root.path(), &relay)?;
    let trap = Trap::start()?;

    // Every command that dials is refused before any connection, naming both relays and the
    // command that moves.
    for args in [
        vec!["sync", "--once", "--relay", &trap.url()],
        vec!["token", &group, "--relay", &trap.url()],
        vec!["dashboard", "login", "--relay", &trap.url()],
        vec!["signup", "CODE", "--relay", &trap.url()],
        vec!["member", "remove", &group, "x", "--relay", &trap.url()],
    ] {
        let err = lead.refused(&args)?;
        assert!(err.contains("will not dial"), "{args:?}: {err}");
        assert!(err.contains(&relay.url()), "{args:?}: {err}");
        assert!(
            err.contains(&format!("groundwork relay move {}", trap.url())),
            "{args:?}: {err}"
        );
    }
    // The same through the environment.
    let out = std::process::Command::new(groundwork_tests::bin("groundwork"))
        .arg("--data")
        .arg(&lead.dir)
        .args(["sync", "--once", "--json"])
        .env("GROUNDWORK_RELAY", trap.url())
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("will not dial"));
    assert_eq!(trap.connections()?, 0, "the trap was dialled");
    // The device still syncs with its relay, by any form of its address.
    assert_eq!(lead.sync(&relay)?["synced"], true);
    let localhost = relay.url().replace("127.0.0.1", "localhost");
    assert_eq!(
        lead.run(&["sync", "--once", "--relay", &localhost, "--timeout", "20"])?["synced"],
        true
    );

    // `relay move` says what it would send, and sends nothing without --yes.
    let other = Relay::start(&root.path().join("other"))?;
    let err = lead.refused(&["relay", "move", &other.url()])?;
    assert!(err.contains("Run again with --yes"), "{err}");
    assert!(err.contains("Riverside Freedom City (lead)"), "{err}");
    assert!(relay_documents(&other.data)?.is_empty());
    // With --yes it moves, and says what it sent.
    let moved = lead.run(&["relay", "move", &other.url(), "--yes"])?;
    assert_eq!(moved["moved"], true, "{moved}");
    assert_eq!(moved["groups"][0]["name"], "Riverside Freedom City");
    assert!(
        moved["documents"].as_u64().is_some_and(|n| n >= 1),
        "{moved}"
    );
    assert_eq!(lead.run(&["relay", "show"])?["relay"], other.url().as_str());
    assert!(relay_documents(&other.data)?.contains_key(&group));
    // From then on the old relay is the other one.
    assert_eq!(
        lead.run(&["sync", "--once", "--timeout", "20"])?["synced"],
        true
    );
    let err = lead.refused(&["sync", "--once", "--relay", &relay.url()])?;
    assert!(err.contains("will not dial"), "{err}");
    Ok(())
}

#[test]
fn a_device_from_before_audiences_is_told_to_update() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let (lead, _group) = lead_with_group(root.path(), &relay)?;
    // The proof a device of the previous version signs: no audience.
    let key = ed25519_dalek::SigningKey::from_bytes(&lead.identity()?.secret());
    let device = lead.id()?;
    let (ts, nonce) = (now_ms(), "old-nonce-1");
    let sig = key.sign(format!("groundwork connect v1\n{device}\n{ts}\n{nonce}").as_bytes());
    let query = format!(
        "device={device}&ts={ts}&nonce={nonce}&sig={}",
        bs58::encode(sig.to_bytes()).into_string()
    );
    let (status, body) = refusal(&format!("{}?{query}", relay.url()))?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("update the Groundwork app or CLI"), "{body}");
    // The same device, updated, syncs with what it kept.
    assert_eq!(lead.sync(&relay)?["synced"], true);
    Ok(())
}

#[test]
fn a_token_session_ends_when_its_token_expires() -> Res<()> {
    use futures_util::StreamExt;
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let (lead, group) = lead_with_group(root.path(), &relay)?;
    let token = field(&lead.run(&["token", &group, "--ttl", "2"])?, "token")?;
    let url = format!("{}?token={token}", relay.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let closed = runtime.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
        // The relay closes the socket itself, within a tick of the expiry; nothing is sent.
        let waited = tokio::time::timeout(std::time::Duration::from_secs(15), async {
            while let Some(message) = ws.next().await {
                if let tokio_tungstenite::tungstenite::Message::Close(frame) = message? {
                    return Ok::<_, tokio_tungstenite::tungstenite::Error>(
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    );
                }
            }
            Ok(String::new())
        })
        .await;
        Ok::<_, Box<dyn std::error::Error>>(waited)
    })?;
    let reason = closed.map_err(|_| "the socket outlived its token")??;
    assert!(reason.contains("token expired"), "{reason:?}");
    Ok(())
}
