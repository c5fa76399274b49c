//! The web app in a real browser, against a real relay serving it at `/app/`: Debian's
//! chromium at a phone's size, driven by playwright-core (`tests/interop/app.mjs`). The core runs
//! in the page's worker as WebAssembly, its SQLCipher store in OPFS. A lead on the CLI makes a
//! canvasser invite; its link opens the app, which joins and shows the brief;
//! 20 doors logged offline; a new page opened offline loads from the service worker's copy and
//! lists all 20, "not sent"; back online they reach the relay by themselves, every field as
//! typed, and the lead's CLI lists them. Screenshots (English and Spanish) go to target/app-screenshots/ (printed).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use groundwork_tests::{Device, Relay, Res, field, free_addrs, http_get, relay_documents};

#[test]
fn a_canvasser_logs_doors_offline_in_the_browser_and_they_reach_the_relay() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    // A fixed address: the relay is stopped and started again where the app knows it.
    let addr = free_addrs(1)?.remove(0);
    let start = || Relay::options(&data).listen(&addr).start();
    let mut relay = Some(start()?);

    // A lead on the CLI: a group, a meeting shown to canvassers, a canvasser invite.
    let lead = Device::new(root.path(), "Ana")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Maple Street canvass"])?,
        "group_id",
    )?;
    lead.run(&["group", "zone", &group, "America/Los_Angeles"])?;
    let kickoff = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Canvass kickoff",
            "--location",
            "Library steps",
            "--at",
            "2026-12-15T18:30",
        ])?,
        "meeting_id",
    )?;
    lead.run(&["meeting", "canvassers", &kickoff, "show"])?;
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
    assert!(
        link.starts_with(&format!("http://{addr}/join#gw1.")),
        "{link}"
    );

    let (code, page) = http_get(&addr, "/app/")?;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("app.js"), "{page}");
    let (code, _) = http_get(&addr, "/join")?;
    assert_eq!(code, 303, "/join leads to the app");

    let base = format!("http://{addr}");
    let seen = drive("app.mjs", &[&base, &link], |line| {
        match line {
            "STOP" => {
                if let Some(r) = relay.take() {
                    r.kill()?;
                }
            }
            "START" => relay = Some(start()?),
            "REMOVE" => {
                let up = relay.as_ref().ok_or("the relay is down")?;
                lead.sync(up)?;
                lead.run(&[
                    "member",
                    "remove",
                    &group,
                    "Test Canvasser",
                    "--relay",
                    &up.url(),
                ])?;
            }
            _ => return Ok(None),
        }
        Ok(Some(String::new()))
    })?;

    // The app runs its own code and WebAssembly, talks to its relay alone, and did.
    let policy = seen["policy"].as_str().unwrap_or("");
    for rule in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(rule), "{rule} in {policy}");
    }
    assert_eq!(
        seen["foreign"],
        serde_json::json!([]),
        "nothing from elsewhere"
    );
    assert_eq!(seen["errors"], serde_json::json!([]), "no script errors");
    assert_eq!(seen["wasm_encoding"], "br", "the core arrives compressed");
    let reopened = &seen["offline_reopened"];
    assert_eq!(reopened["contacts"], 20, "{reopened}");
    let texts = reopened["texts"].to_string();
    assert!(texts.contains("Test Neighbour Seven"), "{texts}");
    assert!(
        reopened["status"]
            .as_str()
            .unwrap_or("")
            .contains("20 contacts not sent yet"),
        "offline, it says what waits: {reopened}"
    );
    assert!(
        seen["online_status"]
            .as_str()
            .unwrap_or("")
            .contains("Everything is sent"),
        "{seen}"
    );
    assert!(
        seen["spanish_status"]
            .as_str()
            .unwrap_or("")
            .contains("Todo está enviado"),
        "{seen}"
    );

    // The link opened the app, which said what the invite grants, joined, and showed the
    // brief: the group, its lead, the kickoff in Los Angeles time.
    assert!(
        seen["landed"].as_str().unwrap_or("").contains("/app/#gw1."),
        "{seen}"
    );
    assert!(
        seen["invite_text"]
            .as_str()
            .unwrap_or("")
            .contains("canvasser"),
        "{seen}"
    );
    let brief = seen["brief"].as_str().unwrap_or("");
    for shown in [
        "Leads: Ana",
        "Canvass kickoff",
        "6:30",
        "PST",
        "Library steps",
    ] {
        assert!(brief.contains(shown), "{shown} in the brief: {brief}");
    }
    assert_eq!(seen["group"], group.as_str());

    // Removed by the lead, the app said so and erased everything: the sealed key's database is
    // gone, and every OPFS file is an empty pool slot (its 4 KiB header, nothing after).
    assert!(
        seen["removed_text"]
            .as_str()
            .unwrap_or("")
            .contains("Nothing of Groundwork is left"),
        "{seen}"
    );
    let after = &seen["after_removal"];
    assert!(
        !after["keys"].to_string().contains("groundwork-keys"),
        "{after}"
    );
    let files = after["files"].as_array().ok_or("no files listed")?;
    assert!(!files.is_empty(), "the pool's slots stay: {after}");
    for f in files {
        assert!(f["size"].as_u64().unwrap_or(u64::MAX) <= 4096, "{f}");
    }

    // The lead, on the CLI, lists every door the browser logged, with the consented details.
    lead.sync(relay.as_ref().ok_or("no relay")?)?;
    let listed = lead.run(&["contact", "list", &group, "--all"])?.to_string();
    for i in 1..=20 {
        assert!(
            listed.contains(&format!("Maple St {}", 100 + i)),
            "{listed}"
        );
    }
    for typed in ["Test Neighbour Seven", "555-0107", "seven@example.invalid"] {
        assert!(listed.contains(typed), "{typed} in {listed}");
    }

    // The relay holds the browser's contacts document with every door, the consented details
    // as typed.
    let docs = relay_documents(&data)?;
    let contacts: Vec<_> = docs
        .values()
        .filter(|d| d.kind == "contacts" && d.group.as_deref() == Some(group.as_str()))
        .collect();
    assert_eq!(contacts.len(), 1, "one contacts document: {docs:?}");
    let content = &contacts[0].content;
    for i in 1..=20 {
        assert!(
            content.contains(&format!("Maple St {}", 100 + i)),
            "{content}"
        );
    }
    for typed in [
        "Test Neighbour Seven",
        "555-0107",
        "seven@example.invalid",
        "Asked about the next meeting",
    ] {
        assert!(content.contains(typed), "{typed} in {content}");
    }
    Ok(())
}

/// A member in the browser and a member on the CLI add to the same meeting's agenda and notes,
/// both without a signal; after both sync, each shows the merged agenda and notes, the same
/// character for character, with neither's edits lost.
#[test]
fn a_member_in_the_browser_and_one_on_the_cli_merge_a_meetings_agenda_and_notes() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let addr = free_addrs(1)?.remove(0);
    let start = || Relay::options(&data).listen(&addr).start();
    let mut relay = Some(start()?);
    let up = |relay: &Option<Relay>| -> Res<String> {
        Ok(relay.as_ref().ok_or("the relay is down")?.url())
    };

    // A lead's meeting with an agenda and notes; a member invite for the browser, one for Ben
    // on the CLI.
    let lead = Device::new(root.path(), "Ana")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Oak Street committee"])?,
        "group_id",
    )?;
    let title = "Planning meeting";
    let meeting = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            title,
        ])?,
        "meeting_id",
    )?;
    lead.run(&[
        "meeting",
        "agenda",
        &meeting,
        "--add",
        "Welcome and introductions",
    ])?;
    lead.run(&[
        "meeting",
        "notes",
        &meeting,
        "--append",
        "Opening notes from Ana.",
    ])?;
    lead.sync(relay.as_ref().ok_or("no relay")?)?;
    let invite = |uses: &str| -> Res<String> {
        field(
            &lead.run(&[
                "invite", "create", &group, "--role", "member", "--uses", uses,
            ])?,
            "link",
        )
    };
    let browser_link = invite("1")?;
    let ben = Device::new(root.path(), "Ben")?;
    ben.run(&["join", &invite("1")?, "--relay", &up(&relay)?])?;
    ben.sync(relay.as_ref().ok_or("no relay")?)?;

    let cli_item = "Rides to the sheriff's office (CLI)";
    let cli_notes = "From the CLI: Ben brings the sign-up sheets, ñ and all.";
    let base = format!("http://{addr}");
    let seen = drive("app_coedit.mjs", &[&base, &browser_link, title], |line| {
        match line {
            "STOP" => {
                if let Some(r) = relay.take() {
                    r.kill()?;
                }
            }
            // Ben edits on his own copy, not syncing: the same meeting, at the same time.
            "CLI_EDIT" => {
                ben.run(&["meeting", "agenda", &meeting, "--add", cli_item])?;
                ben.run(&["meeting", "notes", &meeting, "--append", cli_notes])?;
            }
            "START" => {
                relay = Some(start()?);
                ben.sync(relay.as_ref().ok_or("no relay")?)?;
            }
            "CLI_SYNC" => {
                ben.sync(relay.as_ref().ok_or("no relay")?)?;
            }
            _ => return Ok(None),
        }
        Ok(Some(String::new()))
    })?;
    assert_eq!(seen["errors"], serde_json::json!([]), "no script errors");

    // Both show everything, identically: the agenda item by item, the notes to the character.
    let shown = ben.run(&["meeting", "show", &meeting])?;
    let cli_agenda: Vec<&str> = shown["agenda"]
        .as_array()
        .ok_or("no agenda")?
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect();
    let browser_agenda: Vec<&str> = seen["agenda"]
        .as_array()
        .ok_or("no agenda seen")?
        .iter()
        .filter_map(|i| i.as_str())
        .collect();
    assert_eq!(browser_agenda, cli_agenda);
    let browser_item = seen["browser_item"].as_str().ok_or("no item")?;
    for item in ["Welcome and introductions", cli_item, browser_item] {
        assert!(cli_agenda.contains(&item), "{item} in {cli_agenda:?}");
    }
    let cli_text = shown["notes"].as_str().ok_or("no notes")?;
    assert_eq!(seen["notes"].as_str(), Some(cli_text), "the same notes");
    for part in [
        "Opening notes from Ana.",
        cli_notes,
        seen["browser_notes"].as_str().ok_or("no notes typed")?,
    ] {
        assert!(cli_text.contains(part), "{part} in {cli_text}");
    }
    Ok(())
}

/// A lead in the browser: starts a group, invites a member by link (a QR code too), sees the
/// member's answer, action item and contact arrive, records an answer and ticks the item off,
/// downloads the contacts as CSV made on the phone, and removes the member; the CLI member
/// receives the lead's edits and then loses the group.
#[test]
fn a_lead_in_the_browser_invites_a_member_works_with_them_and_removes_them() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let cora = Device::new(root.path(), "Cora")?;
    let mut group = String::new();
    let mut after_sync = serde_json::Value::Null;
    let base = format!("http://{}", relay.addr);
    let seen = drive("app_lead.mjs", &[&base], |line| {
        if let Some(link) = line.strip_prefix("JOIN ") {
            // The browser's invite, redeemed on the CLI; then the member's work, synced.
            let joined = cora.run(&["join", link])?;
            group = field(&joined, "group_id")?;
            let target = field(
                &cora.run(&[
                    "target", "add", &group, "--county", "06065", "--office", "sheriff",
                ])?,
                "target_id",
            )?;
            cora.run(&[
                "response",
                "record",
                &group,
                "--target",
                &target,
                "--rule",
                "R1",
                "--existing",
                "partial",
                "--position",
                "will-support",
            ])?;
            cora.run(&["action", "add", &group, "--title", "Print flyers (CLI)"])?;
            // More doors than the app's first page of contacts (50).
            for n in 100..160 {
                let place = format!("Elm St {n}");
                cora.run(&[
                    "contact", "log", &group, "--result", "not-home", "--place", &place,
                ])?;
            }
            cora.run(&[
                "contact",
                "log",
                &group,
                "--result",
                "talked",
                "--place",
                "Elm St 12",
            ])?;
            cora.sync(&relay)?;
            return Ok(Some(String::new()));
        }
        // Cora's own group, with the browser invited as a canvasser: the browser will be in
        // two groups, and removed from this one only.
        if line == "INVITE_ME" {
            let own = field(
                &cora.run(&["group", "create", "--name", "Cora's group"])?,
                "group_id",
            )?;
            cora.sync(&relay)?;
            let invite = cora.run(&["invite", "create", &own, "--role", "canvasser"])?;
            return Ok(Some(field(&invite, "link")?));
        }
        if line == "REMOVE_ME" {
            cora.sync(&relay)?;
            cora.run(&[
                "member",
                "remove",
                "Cora's group",
                "Elm Lead in Cora's group",
                "--relay",
                &relay.url(),
            ])?;
            return Ok(Some(String::new()));
        }
        if line == "CLI_SYNC" {
            cora.sync(&relay)?;
            after_sync = serde_json::json!({
                "scorecard": cora.run(&["scorecard", &group])?,
                "actions": cora.run(&["action", "list", &group])?,
                "meeting": cora.run(&["meeting", "show", "Neighbours' meeting"])?,
            });
            return Ok(Some(String::new()));
        }
        Ok(None)
    })?;
    assert_eq!(seen["errors"], serde_json::json!([]), "no script errors");

    // Every screen passes axe-core's WCAG 2.1 A/AA and best-practice rules: labels, names,
    // contrast, landmarks, headings.
    let audits = seen["a11y"].as_object().ok_or("no accessibility audits")?;
    assert!(audits.len() >= 8, "{audits:?}");
    for (screen, violations) in audits {
        assert_eq!(violations, &serde_json::json!([]), "{screen}");
    }

    // The invite: what it admits, and its link drawn as a QR code.
    let invite = seen["invite_text"].as_str().unwrap_or("");
    assert!(invite.contains("Admits 1 as member"), "{invite}");
    assert!(seen["qr_modules"].as_u64().unwrap_or(0) > 100, "{seen}");

    // The scorecard: the member's answer, the lead's, and the rules explained.
    let card = seen["scorecard"].as_str().unwrap_or("");
    for shown in [
        "Will support",
        "Opposes",
        "Conditions: Only with a budget vote",
        "R6 · Privacy Protection",
        "no handing out addresses",
        "No answer yet",
    ] {
        assert!(card.contains(shown), "{shown} in {card}");
    }
    let card_es = seen["scorecard_es"].as_str().unwrap_or("");
    assert!(
        card_es.contains("R1 · Orden judicial") && card_es.contains("La apoyará"),
        "{card_es}"
    );

    // The county's board, from the relay: the group asking Riverside's sheriff, and its answer.
    let board = seen["board"].as_str().unwrap_or("");
    for shown in [
        "Riverside",
        "Asked by: Elm Street group",
        "R1 · Judicial Warrant",
    ] {
        assert!(board.contains(shown), "{shown} in {board}");
    }

    // The lead's edits reached the member on the CLI.
    let position = |rule: &str| {
        after_sync["scorecard"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["rule"] == rule))
            .map(|r| (r["position"].clone(), r["conditions"].clone()))
    };
    assert_eq!(
        position("R2"),
        Some(("opposes".into(), "Only with a budget vote".into())),
        "{after_sync}"
    );
    let actions = after_sync["actions"].to_string();
    assert!(actions.contains("Call the sheriff's office"), "{actions}");
    let flyers = after_sync["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["title"] == "Print flyers (CLI)"))
        .ok_or("no flyers item")?;
    assert_eq!(flyers["done"], true, "{flyers}");

    // The meeting the lead made in the browser, in the phone's zone (Chicago), reached the CLI
    // at that instant: 18:00 CST is midnight UTC.
    let shown = seen["meeting"].as_str().unwrap_or("");
    assert!(
        shown.contains("6:00 PM CST") && shown.contains("Elm Street library"),
        "{shown}"
    );
    let meeting = &after_sync["meeting"];
    assert_eq!(meeting["zone"], "America/Chicago", "{meeting}");
    assert!(
        meeting["at"]
            .as_str()
            .unwrap_or("")
            .starts_with("2026-12-21T00:00:00"),
        "{meeting}"
    );

    // 61 contacts: the newest 50 first, the rest a page later.
    assert_eq!(seen["contacts_first"], 50, "{seen}");
    assert_eq!(seen["contacts_all"], 61, "{seen}");
    assert!(
        seen["contacts_heading"]
            .as_str()
            .unwrap_or("")
            .contains("(61)"),
        "{seen}"
    );

    // The CSV, made on the phone: the member's door, by name.
    let csv = seen["csv"].as_str().unwrap_or("");
    assert!(
        csv.starts_with("contact_id,time,canvasser,canvasser_name,"),
        "{csv}"
    );
    assert!(csv.contains("Elm St 12") && csv.contains(",Cora,"), "{csv}");
    assert!(
        seen["csv_name"]
            .as_str()
            .unwrap_or("")
            .starts_with("Elm-Street-group-contacts-"),
        "{seen}"
    );

    // Removed from one of its two groups, the app erased that group, said so, and kept the
    // other (and the store and its key).
    let partly = seen["partly_removed"].as_str().unwrap_or("");
    assert!(partly.contains("Removed from the group"), "{partly}");
    assert!(
        !partly.contains("Nothing of Groundwork is left"),
        "{partly}"
    );
    let left = seen["groups_left"].as_str().unwrap_or("");
    assert!(
        left.contains("Elm Street group") && !left.contains("Cora's group"),
        "{left}"
    );

    // On plain http (not a secure context) the app says why it cannot run, in a page.
    let plain = seen["plain_http"].as_str().unwrap_or("");
    assert!(
        plain.contains("needs a secure connection (https)"),
        "{plain}"
    );

    // Removed: the app said so, and the member's next sync takes the group off the CLI.
    assert!(
        seen["members"].as_str().unwrap_or("").contains("Cora"),
        "{seen}"
    );
    let after = seen["members_after"].as_str().unwrap_or("");
    assert!(
        after.contains("Cora was removed.") && after.contains("removed"),
        "{after}"
    );
    cora.sync(&relay)?;
    let groups = cora.run(&["group", "list"])?;
    assert!(!groups.to_string().contains(&group), "{groups}");
    Ok(())
}

/// Runs the node driver `script` (in tests/interop) with Debian's chromium, as
/// `node SCRIPT ARGS... SCREENSHOTS_DIR`. Each line it prints that `handle` takes (returning
/// `Some(reply)` once done) is answered on its stdin with `OK`, followed by the reply if there
/// is one; its last other line is the JSON of what it saw, returned here.
fn drive(
    script: &str,
    args: &[&str],
    mut handle: impl FnMut(&str) -> Res<Option<String>>,
) -> Res<serde_json::Value> {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !interop.join("node_modules/playwright-core").exists() {
        return Err("run `npm install` in tests/interop first (scripts/test does)".into());
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("Debian's chromium is not installed (scripts/test installs it with apt-get)")?;
    let shots = std::env::var("GROUNDWORK_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .or_else(|_| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/app-screenshots");
            std::fs::create_dir_all(&p).and_then(|()| p.canonicalize())
        })?;
    let mut node = Command::new("node")
        .arg(interop.join(script))
        .args(args)
        .arg(&shots)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut to_node = node.stdin.take().ok_or("no stdin")?;
    let mut last = String::new();
    for line in BufReader::new(node.stdout.take().ok_or("no stdout")?).lines() {
        let line = line?;
        match handle(&line)? {
            Some(reply) if reply.is_empty() => writeln!(to_node, "OK")?,
            Some(reply) => writeln!(to_node, "OK {reply}")?,
            None => last = line,
        }
    }
    let out = node.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stderr}");
    println!("screenshots: {}", shots.display());
    Ok(serde_json::from_str(&last)?)
}
