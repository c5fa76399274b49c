//! The relay's files at rest: encrypted with the relay's key (SQLCipher, as on devices), so a
//! copied disk or backup without the key shows no contact's name or note; a wrong, missing or
//! exposed key is refused by name with nothing changed; a relay from before encryption is
//! encrypted in place and keeps everything.

use std::path::Path;
use std::process::Command;

use groundwork_tests::{Device, Relay, Res, bin, field, files_contain, relay_db};

const NAME: &str = "Marker-AtRest-Name";
const NOTE: &str = "Marker at rest note";

/// A lead with one contact holding both markers, synced to `relay`; returns its group.
fn lead_with_contact(root: &Path, relay: &Relay) -> Res<(Device, String)> {
    let lead = Device::new(root, "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "At rest"])?,
        "group_id",
    )?;
    lead.run(&[
        "contact",
        "log",
        &group,
        "--result",
        "talked",
        "--consent",
        "--name",
        NAME,
        "--note",
        NOTE,
    ])?;
    lead.sync(relay)?;
    Ok((lead, group))
}

/// The relay's store answers its chunk count (it opened with the key in the data directory).
fn chunks(data: &Path) -> Res<i64> {
    Ok(relay_db(data)?.query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get(0))?)
}

/// Runs the relay binary on `data` with `env`, expecting it to stop; returns its stderr.
fn relay_refuses(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Res<String> {
    let out = Command::new(bin("groundwork-relay"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .envs(env.iter().copied())
        .output()?;
    assert!(
        !out.status.success(),
        "the relay started: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "it bound its port before refusing"
    );
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

fn file_bytes(path: &Path) -> Res<Vec<u8>> {
    Ok(std::fs::read(path)?)
}

#[test]
fn the_relays_files_reveal_nothing_without_its_key() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let (_lead, _group) = lead_with_contact(root.path(), &relay)?;
    relay.kill()?; // SIGKILL: the write-ahead log is left as it was, and is scanned too

    for marker in [NAME, NOTE] {
        assert!(
            !files_contain(&data, marker)?,
            "{marker} in the relay's files"
        );
    }
    let header = file_bytes(&data.join("relay.db"))?;
    assert_ne!(
        &header[..16],
        b"SQLite format 3\0",
        "relay.db is plain SQLite"
    );
    // With its key, the store holds the group's documents.
    assert!(chunks(&data)? > 0);
    let key = data.join("relay.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600);
    }

    // A wrong key (from the environment) is refused by name before the port is bound, and
    // nothing changes.
    let before = file_bytes(&data.join("relay.db"))?;
    let wrong = "ab".repeat(32);
    let e = relay_refuses(&data, &[], &[("GROUNDWORK_RELAY_KEY", &wrong)])?;
    assert!(e.contains("cannot be opened with this key"), "{e}");
    assert_eq!(file_bytes(&data.join("relay.db"))?, before);
    // A malformed one names the variable.
    let e = relay_refuses(&data, &[], &[("GROUNDWORK_RELAY_KEY", "abc")])?;
    assert!(
        e.contains("GROUNDWORK_RELAY_KEY") && e.contains("64 hex digits"),
        "{e}"
    );
    // A key file others can read is refused, naming the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;
        let e = relay_refuses(&data, &[], &[])?;
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    }
    // The key file moved elsewhere: the relay will not make a fresh key for an encrypted
    // store; named with --key-file (or its variable), the store opens.
    let elsewhere = root.path().join("secrets");
    std::fs::create_dir_all(&elsewhere)?;
    std::fs::rename(&key, elsewhere.join("relay.key"))?;
    let e = relay_refuses(&data, &[], &[])?;
    assert!(
        e.contains("is encrypted and its key file") && e.contains("relay.key"),
        "{e}"
    );
    assert!(!key.exists(), "a fresh key was made");
    let moved = elsewhere.join("relay.key");
    let relay = Relay::options(&data)
        .arg("--key-file")
        .arg(&moved)
        .start()?;
    let reader = Device::new(root.path(), "fresh")?;
    reader.sync(&relay)?; // the relay serves from its store
    relay.kill()?;
    // The same key as the environment's variable works too.
    let hex = std::fs::read_to_string(&moved)?;
    let out = Command::new(bin("groundwork-relay"))
        .arg("--data")
        .arg(&data)
        .args(["staff", "list"])
        .env("GROUNDWORK_RELAY_KEY", hex.trim())
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn a_relay_from_before_encryption_is_encrypted_in_place_and_keeps_everything() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let (lead, group) = lead_with_contact(root.path(), &relay)?;
    let addr = relay.addr.clone();
    relay.kill()?;
    let stored = chunks(&data)?;

    // Decrypt it into the plain SQLite file an older relay kept, and lose the key.
    {
        let conn = relay_db(&data)?;
        let plain = data.join("plain.db");
        conn.execute(
            "ATTACH DATABASE ?1 AS plain KEY ''",
            [plain.to_string_lossy()],
        )?;
        conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        conn.execute_batch(&format!(
            "PRAGMA plain.user_version = {version}; DETACH DATABASE plain;"
        ))?;
    }
    for side in ["relay.db-wal", "relay.db-shm", "relay.key"] {
        let _ = std::fs::remove_file(data.join(side));
    }
    std::fs::rename(data.join("plain.db"), data.join("relay.db"))?;
    assert!(
        files_contain(&data, NAME)?,
        "the old store was not plain text"
    );

    // The relay starts, encrypts it with a new key, and serves what it held.
    let relay = Relay::options(&data).listen(&addr).start()?;
    assert!(data.join("relay.key").exists());
    assert_eq!(chunks(&data)?, stored);
    lead.run(&["contact", "log", &group, "--result", "not-home"])?;
    lead.sync(&relay)?;
    let member_link = field(
        &lead.run(&[
            "invite",
            "create",
            &group,
            "--role",
            "member",
            "--relay",
            &relay.url(),
        ])?,
        "link",
    )?;
    let member = Device::new(root.path(), "member")?;
    member.run(&["join", &member_link])?;
    member.sync(&relay)?;
    relay.kill()?;
    assert!(chunks(&data)? > stored);
    for marker in [NAME, NOTE] {
        assert!(
            !files_contain(&data, marker)?,
            "{marker} still in the relay's files"
        );
    }
    Ok(())
}
