//! The web app's store under a real crash, and its files at rest, in Debian's chromium against a
//! real relay (`tests/interop/app_crash.mjs`). The browser is started as a child process and
//! driven over the DevTools protocol, so that its whole process group can be SIGKILLed.
//!
//! A canvasser joins through a CLI lead's invite link; with the relay stopped, two doors are
//! logged with consented details, every field a planted marker; the moment the app says the
//! second is "Saved on this phone", the browser is killed. Reopened on the same profile, with
//! the relay started again: the raw bytes of every OPFS file (read from a page of the relay
//! that is not the app, so nothing holds them open; and here, every file of the browser's
//! profile on disk) hold no marker, as UTF-8 or UTF-16, while the store is there (its pages,
//! and the pool's plain-text file names, which show the scan reads what is there); the group
//! screen lists both doors, the markers decrypted; and they reach the relay, every field as
//! typed: the markers were in the store, sealed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use groundwork_tests::{Device, Relay, Res, field, free_addrs, relay_documents};

#[test]
fn a_door_saved_just_before_the_browser_is_killed_is_there_on_reopen_and_sealed_in_opfs() -> Res<()>
{
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !interop.join("node_modules/playwright-core").exists() {
        return Err("run `npm install` in tests/interop first (scripts/test does)".into());
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("Debian's chromium is not installed (scripts/test installs it with apt-get)")?;
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    // A fixed address: the app's origin (and so its storage) stays the same across restarts.
    let addr = free_addrs(1)?.remove(0);
    let start = || Relay::options(&data).listen(&addr).start();
    let mut relay = Some(start()?);

    let lead = Device::new(root.path(), "Test Lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Crash Street canvass"])?,
        "group_id",
    )?;
    lead.sync(relay.as_ref().ok_or("no relay")?)?;
    let invite = lead.run(&[
        "invite",
        "create",
        &group,
        "--role",
        "canvasser",
        "--uses",
        "1",
    ])?;
    let link = field(&invite, "link")?;

    let profile = root.path().join("chromium-profile");
    let mut node = Command::new("node")
        .arg(interop.join("app_crash.mjs"))
        .arg(format!("http://{addr}"))
        .arg(&link)
        .arg(&profile)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut to_node = node.stdin.take().ok_or("no stdin")?;
    let mut last = String::new();
    for line in BufReader::new(node.stdout.take().ok_or("no stdout")?).lines() {
        let line = line?;
        match line.as_str() {
            "STOP" => {
                if let Some(r) = relay.take() {
                    r.kill()?;
                }
                writeln!(to_node, "OK")?;
            }
            "START" => {
                relay = Some(start()?);
                writeln!(to_node, "OK")?;
            }
            _ => last = line,
        }
    }
    let out = node.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{stderr}");
    let seen: serde_json::Value = serde_json::from_str(&last)?;
    assert_eq!(seen["errors"], serde_json::json!([]), "no script errors");
    assert_eq!(seen["failed"], serde_json::json!([]), "no failed requests");
    assert_eq!(seen["group"], group.as_str());
    let markers: Vec<&str> = seen["markers"]
        .as_array()
        .ok_or("no markers")?
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert_eq!(markers.len(), 10, "five fields of two doors: {markers:?}");

    // The whole browser was killed, at once, the moment the second door was saved.
    let crash = &seen["crash"];
    assert_eq!(crash["signal"], "SIGKILL", "{crash}");
    assert_eq!(
        crash["survivors"],
        serde_json::json!([]),
        "no browser process outlived the kill: {crash}"
    );

    // Reopened: both doors, from the store alone (the relay was down from before the first
    // save until after the kill), decrypted: the markers the canvasser typed, as typed.
    let reopened = &seen["reopened"];
    assert_eq!(reopened["contacts"], 2, "{reopened}");
    let texts = reopened["texts"].to_string();
    for shown in [
        "MARKER-PLACE-1-7f3a",
        "MARKER-NAME-1-7f3a",
        "MARKER-PLACE-2-7f3a",
        "MARKER-NAME-2-7f3a",
    ] {
        assert!(texts.contains(shown), "{shown} listed: {texts}");
    }
    assert!(
        seen["status"]
            .as_str()
            .unwrap_or("")
            .contains("Everything is sent"),
        "{seen}"
    );

    // The OPFS files, read raw in the page with no worker holding them: no marker, as UTF-8 or
    // UTF-16, in any of them; the pool's header names its files in plain text (so the scan
    // does see plain text where there is some); and the store's pages are there.
    let raw = &seen["raw"];
    assert_eq!(raw["ok"], true, "{raw}");
    assert_eq!(raw["found"], serde_json::json!([]), "no marker readable");
    assert_eq!(
        raw["controlSeen"], true,
        "the scan reads the pool's headers"
    );
    let files = raw["files"].as_array().ok_or("no files")?;
    // Each pool file is a 4 KiB header and its SQLite file; the store holds the device, the
    // group's documents and the two doors.
    let stored: u64 = files
        .iter()
        .map(|f| f["size"].as_u64().unwrap_or(0).saturating_sub(4096))
        .sum();
    assert!(stored >= 64 * 1024, "the store is in OPFS: {raw}");
    // Chromium lets a page read them while the worker holds its access handles, too: the same.
    let open = &seen["read_while_open"];
    println!(
        "read while the worker held the files: {}",
        if open["ok"] == true { "yes" } else { "refused" }
    );
    if open["ok"] == true {
        assert_eq!(open["found"], serde_json::json!([]), "{open}");
    }

    // As a thief of the disk reads them: the origin's OPFS files in the profile hold the pool
    // (its plain-text names), and nothing anywhere in the browser's profile (OPFS, IndexedDB,
    // caches, session files) holds a marker.
    let opfs = profile.join("Default").join("File System");
    assert!(
        !found_in_files(&opfs, &["/groundwork/"])?.is_empty(),
        "the pool's files are on disk under {}",
        opfs.display()
    );
    let needles: Vec<&str> = markers.iter().copied().chain(["MARKER-"]).collect();
    let found = found_in_files(&profile, &needles)?;
    assert!(found.is_empty(), "markers on disk: {found:?}");

    // The relay holds both doors, every field as typed: the markers were in the store.
    let docs = relay_documents(&data)?;
    let contacts: Vec<_> = docs
        .values()
        .filter(|d| d.kind == "contacts" && d.group.as_deref() == Some(group.as_str()))
        .collect();
    assert_eq!(contacts.len(), 1, "one contacts document: {docs:?}");
    for marker in &markers {
        assert!(
            contacts[0].content.contains(marker),
            "{marker} in {}",
            contacts[0].content
        );
    }
    Ok(())
}

/// Every regular file under `dir` (symbolic links, such as chromium's dangling `Singleton*`
/// ones after a kill, and sockets are passed over) that holds one of `needles`, as UTF-8 or as
/// UTF-16 (little-endian): each (file, needle, encoding) found.
fn found_in_files(dir: &Path, needles: &[&str]) -> Res<Vec<(String, String, &'static str)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            found.extend(found_in_files(&entry.path(), needles)?);
        } else if kind.is_file() {
            let bytes = std::fs::read(entry.path())?;
            for needle in needles {
                let utf16: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
                for (encoding, pattern) in [("utf-8", needle.as_bytes()), ("utf-16le", &utf16)] {
                    if bytes.windows(pattern.len()).any(|w| w == pattern) {
                        found.push((
                            entry.path().display().to_string(),
                            needle.to_string(),
                            encoding,
                        ));
                    }
                }
            }
        }
    }
    Ok(found)
}
