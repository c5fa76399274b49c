//! Interop with JavaScript automerge-repo (npm `@automerge/automerge-repo` 2.5 and its
//! WebSocket adapter), both ways: JavaScript clients sync through our relay, and our client
//! syncs through the published `@automerge/automerge-repo-sync-server` 0.2.8. Needs Node.js and `npm install` in tests/interop (the
//! README's test command does it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use groundwork_tests::bin;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn interop_dir() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !dir.join("node_modules/@automerge/automerge-repo").exists() {
        return Err(format!(
            "run `npm install` in {} first (scripts/test does)",
            dir.display()
        ));
    }
    Ok(dir)
}

/// A child process killed when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server and returns it with the first line it printed.
fn start(mut cmd: Command) -> Result<(Guard, String), Box<dyn std::error::Error>> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    Ok((guard, line.trim().to_owned()))
}

/// Runs the CLI on one device directory.
fn gw(root: &Path, dir: &str, args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
    let out = Command::new(bin("groundwork"))
        .arg("--data")
        .arg(root.join(dir))
        .args(args)
        .arg("--json")
        .output()?;
    if !out.status.success() {
        return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn text(v: &Value, key: &str) -> Result<String, String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key} in {v}"))
}

#[test]
fn javascript_clients_sync_through_our_relay() -> TestResult {
    let interop = interop_dir()?;
    let root = tempfile::tempdir()?;
    let root = root.path();
    let mut relay = Command::new(bin("groundwork-relay"));
    relay
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(root.join("relay"));
    let (_relay, line) = start(relay)?;
    let addr = line.strip_prefix("listening on ").ok_or(line.clone())?;
    let url = format!("ws://{addr}/v1/sync");

    // A lead and a member, each of whom mints a token for a JavaScript client.
    gw(root, "lead", &["init", "--name", "Lead"])?;
    gw(root, "member", &["init", "--name", "Member"])?;
    let group = text(
        &gw(root, "lead", &["group", "create", "--name", "Via JS"])?,
        "group_id",
    )?;
    gw(root, "lead", &["sync", "--relay", &url, "--once"])?;
    let code = text(
        &gw(
            root,
            "lead",
            &["invite", "create", &group, "--role", "member"],
        )?,
        "code",
    )?;
    gw(root, "member", &["join", &code, "--relay", &url])?;
    let token = |dir: &str| -> Result<String, Box<dyn std::error::Error>> {
        let t = text(
            &gw(root, dir, &["token", &group, "--relay", &url])?,
            "token",
        )?;
        Ok(format!("{url}?token={t}"))
    };
    let (url_a, url_b) = (token("lead")?, token("member")?);

    let out = Command::new("node")
        .arg(interop.join("js-client.mjs"))
        .args([&url_a, &url_b, &group])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "js client failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(result["ok"], true);
    assert_eq!(result["doc"]["interop"], serde_json::json!(["one", "two"]));
    assert_eq!(result["doc"]["group_id"], group.as_str());

    // The devices still read the plan the JavaScript clients edited (unknown fields are kept).
    let synced = gw(root, "lead", &["sync", "--relay", &url, "--once"])?;
    assert_eq!(synced["synced"], true, "{synced}");
    assert_eq!(gw(root, "lead", &["group", "list"])?[0]["name"], "Via JS");

    // Without a token a JavaScript client reads nothing: the plan is "unavailable".
    let out = Command::new("node")
        .arg(interop.join("js-client.mjs"))
        .args([&url, &url, &group])
        .env("INTEROP_DEADLINE_MS", "3000")
        .output()?;
    assert!(!out.status.success(), "an anonymous client read the plan");
    Ok(())
}

#[test]
fn our_client_syncs_through_a_javascript_sync_server() -> TestResult {
    let interop = interop_dir()?;
    let root = tempfile::tempdir()?;
    // A free port for the JavaScript server (it takes a number, not port 0).
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // The published sync server, run as its package.json's `start` script runs it.
    let mut server = Command::new("node");
    server
        .arg(interop.join("node_modules/@automerge/automerge-repo-sync-server/src/index.js"))
        .current_dir(root.path())
        .env("PORT", port.to_string())
        .env("DATA_DIR", root.path().join("js-data"));
    let (_server, line) = start(server)?;
    assert_eq!(line, format!("Listening on port {port}"));
    let url = format!("ws://127.0.0.1:{port}");

    let gw = |dir: &str, args: &[&str]| -> Result<Value, Box<dyn std::error::Error>> {
        let out = Command::new(bin("groundwork"))
            .arg("--data")
            .arg(root.path().join(dir))
            .args(args)
            .arg("--json")
            .output()?;
        if !out.status.success() {
            return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    gw("a", &["init", "--name", "A"])?;
    gw("b", &["init", "--name", "B"])?;
    let group = gw("a", &["group", "create", "--name", "Through JS"])?["group_id"]
        .as_str()
        .ok_or("no group id")?
        .to_owned();
    gw(
        "a",
        &[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Via JS",
        ],
    )?;
    assert_eq!(
        gw("a", &["sync", "--relay", &url, "--once", "--timeout", "20"])?["synced"],
        true
    );
    // The published sync server knows nothing of invites or roles: the second device checks
    // the lead's invite itself (and says so), then syncs.
    let code = gw("a", &["invite", "create", &group, "--role", "member"])?["code"]
        .as_str()
        .ok_or("no code")?
        .to_owned();
    let joined = gw("b", &["join", &code, "--relay", &url])?;
    assert_eq!(joined["checked_by"], "device");
    assert_eq!(
        gw("b", &["sync", "--relay", &url, "--once", "--timeout", "20"])?["synced"],
        true
    );
    assert_eq!(gw("b", &["meeting", "list", &group])?[0]["title"], "Via JS");
    // Again, with nothing new: the server still answers, and the device reports synced.
    assert_eq!(
        gw("b", &["sync", "--relay", &url, "--once", "--timeout", "20"])?["synced"],
        true
    );
    Ok(())
}

/// Documents a stock JavaScript client writes with JavaScript's default types (text objects
/// for strings, signed integers) are read, not refused, on the relay and on devices; one that
/// does not fit the schema is refused, and the relay's log says why.
#[test]
fn documents_with_javascripts_default_types_are_read() -> TestResult {
    let interop = interop_dir()?;
    let root = tempfile::tempdir()?;
    let root = root.path();
    let log = root.join("relay.log");
    let mut relay = Command::new(bin("groundwork-relay"));
    relay
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(root.join("relay"))
        .env("GROUNDWORK_LOG", "warn")
        .stderr(std::fs::File::create(&log)?);
    let mut child = relay.stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let _relay = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or(line.clone())?;
    let url = format!("ws://{addr}/v1/sync");

    gw(root, "lead", &["init", "--name", "Lead"])?;
    let group = text(
        &gw(root, "lead", &["group", "create", "--name", "JS types"])?,
        "group_id",
    )?;
    gw(root, "lead", &["sync", "--relay", &url, "--once"])?;
    let device = text(&gw(root, "lead", &["whoami"])?, "device_id")?;
    let token = text(
        &gw(root, "lead", &["token", &group, "--relay", &url])?,
        "token",
    )?;
    let out = Command::new("node")
        .arg(interop.join("js-documents.mjs"))
        .args([&format!("{url}?token={token}"), &group, &device])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "js client failed: {stdout} {}\nrelay: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let result: Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(result["ok"], true, "{result}");

    // The device reads all of it: the JavaScript meeting and target in its plan, the contact in
    // its list (the JavaScript document is its own, as the token acts for it).
    let synced = gw(root, "lead", &["sync", "--relay", &url, "--once"])?;
    assert_eq!(synced["synced"], true, "{synced}");
    let meetings = gw(root, "lead", &["meeting", "list", &group])?.to_string();
    assert!(meetings.contains("Planned in JavaScript"), "{meetings}");
    let meeting = gw(root, "lead", &["meeting", "show", "js-meeting"])?.to_string();
    assert!(meeting.contains("Bring the model rules"), "{meeting}");
    let targets = gw(root, "lead", &["target", "list", &group])?.to_string();
    assert!(targets.contains("Chief From JavaScript"), "{targets}");
    let contacts = gw(root, "lead", &["contact", "list", &group])?;
    let listed = contacts.to_string();
    assert!(
        listed.contains("js-contact") && listed.contains("Oak St 1-99"),
        "{listed}"
    );
    // And edits on top of it: the lead changes the JavaScript meeting and appends to its notes.
    gw(root, "lead", &["meeting", "status", "js-meeting", "held"])?;
    gw(
        root,
        "lead",
        &["meeting", "notes", "js-meeting", "--append", "And a pen."],
    )?;
    let meeting = gw(root, "lead", &["meeting", "show", "js-meeting"])?;
    assert_eq!(
        meeting["notes"], "Bring the model rules\nAnd a pen.",
        "{meeting}"
    );
    assert_eq!(meeting["status"], "held", "{meeting}");
    let synced = gw(root, "lead", &["sync", "--relay", &url, "--once"])?;
    assert_eq!(synced["synced"], true, "{synced}");

    // The document that does not fit was refused by name, and the device never got it.
    let bad = text(&result, "bad")?;
    let said = std::fs::read_to_string(&log)?;
    let refusal = said
        .lines()
        .find(|l| l.contains(&bad) && l.contains("refused"))
        .ok_or_else(|| format!("no refusal of {bad} in the log:\n{said}"))?;
    assert!(
        refusal.contains("banana") && refusal.contains("contact result"),
        "{refusal}"
    );
    assert!(!gw(root, "lead", &["status"])?.to_string().contains(&bad));
    Ok(())
}
