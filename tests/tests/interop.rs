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

#[test]
fn javascript_clients_sync_through_our_relay() -> TestResult {
    let interop = interop_dir()?;
    let data = tempfile::tempdir()?;
    let mut relay = Command::new(bin("groundwork-relay"));
    relay
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data.path());
    let (_relay, line) = start(relay)?;
    let addr = line.strip_prefix("listening on ").ok_or(line.clone())?;
    let out = Command::new("node")
        .arg(interop.join("js-client.mjs"))
        .arg(format!("ws://{addr}/v1/sync"))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "js client failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(result["ok"], true);
    assert_eq!(result["doc"]["items"], serde_json::json!(["one", "two"]));
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
    gw("b", &["group", "add", &group])?;
    assert_eq!(
        gw("b", &["sync", "--relay", &url, "--once", "--timeout", "20"])?["synced"],
        true
    );
    assert_eq!(gw("b", &["meeting", "list", &group])?[0]["title"], "Via JS");
    Ok(())
}
