//! The README's quick start, run as written (its `sh` blocks, in order) against a real relay on
//! fresh data directories: what a newcomer pastes must work, with names and no other tools.

use std::process::Command;

use groundwork_tests::{Relay, Res, bin};

/// The section the test runs.
const QUICK_START: &str = "Quick start";

/// The `sh` blocks of the README section titled `heading`, in order.
fn sh_blocks(readme: &str, heading: &str) -> Res<Vec<String>> {
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .ok_or_else(|| format!("no section {heading:?} in README.md"))?;
    let rest = &readme[start + heading.len() + 5..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    Ok(blocks)
}

#[test]
fn the_readme_quick_start_works_as_written() -> Res<()> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))?;
    // The two commands CI and newcomers copy: the relay on its embedded store, every test.
    for command in [
        "cargo run --release -p groundwork-relay -- --listen 127.0.0.1:7878 --data ./relay-data",
        "./scripts/test",
    ] {
        assert!(
            readme.contains(&format!("```sh\n{command}\n```")),
            "README.md lost its copy-pasteable `{command}`"
        );
    }
    let blocks = sh_blocks(&readme, QUICK_START)?;
    assert!(blocks.len() >= 5, "{blocks:?}");
    // The first block starts the relay and the second builds the release binary; the test
    // starts a relay of its own and has the debug binaries built already, on PATH instead.
    assert!(
        blocks[0].starts_with("cargo run --release -p groundwork-relay"),
        "{}",
        blocks[0]
    );
    assert!(
        blocks[1].contains("cargo build --release -p groundwork-cli"),
        "{}",
        blocks[1]
    );
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let relay_data = relay.data.to_string_lossy().into_owned();
    let script = format!(
        "set -euo pipefail\n{}\n",
        blocks[2..]
            .join("\n")
            .replace("127.0.0.1:7878", &relay.addr)
            .replace("./relay-data", &relay_data)
    );
    // A link alone joins, names stand for ids, and nothing beyond the shell is needed.
    let commands: Vec<&str> = script.lines().map(str::trim_start).collect();
    assert!(
        commands
            .iter()
            .any(|l| l.starts_with("groundwork join \"$LINK\"") && !l.contains("--relay")),
        "the quick start joins with a link alone"
    );
    assert!(
        commands
            .iter()
            .any(|l| l.starts_with("groundwork sync --once"))
    );
    assert!(
        !script.contains("python") && !script.contains("jq "),
        "{script}"
    );
    let bin_dir = bin("groundwork").parent().ok_or("no bin dir")?.to_owned();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let work = root.path().join("work");
    std::fs::create_dir(&work)?;
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("TMPDIR", &work)
        .env_remove("GROUNDWORK_DATA")
        .env_remove("GROUNDWORK_RELAY")
        .env_remove("GROUNDWORK_STORE_KEY")
        .env_remove("GROUNDWORK_KEY_FILE")
        .env_remove("GROUNDWORK_RELAY_KEY")
        .env_remove("GROUNDWORK_RELAY_KEY_FILE")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the quick start failed:\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for expected in [
        "created Riverside Freedom City (",
        "06065  Riverside, CA (California)",
        "joined Riverside Freedom City as member",
        "Sheriff of Riverside, CA R1: none / will-support",
        "staff added",
        &format!("http://{}/campaign/login?code=", relay.addr),
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    // Ana's scorecard has Ben's answer, brought by her one sync.
    let r1 = stdout
        .lines()
        .filter(|l| l.starts_with("Sheriff of Riverside, CA R1 "))
        .count();
    assert_eq!(
        r1, 1,
        "Ana's scorecard has no R1 row with Ben's answer:\n{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("Sheriff of Riverside, CA R1 ") && l.contains("will-support")),
        "{stdout}"
    );
    assert!(work.join("ana").is_dir() && work.join("ben").is_dir());
    Ok(())
}
