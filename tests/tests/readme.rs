//! The README's walkthrough, run as written (its `sh` blocks, in order) against a real relay on
//! a fresh data directory: what a newcomer pastes must work.

use std::process::Command;

use groundwork_tests::{Relay, Res, bin};

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
fn the_readme_walkthrough_works_as_written() -> Res<()> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))?;
    let blocks = sh_blocks(&readme, "A walkthrough")?;
    assert!(blocks.len() >= 3, "{blocks:?}");
    // The first block builds the release binary and puts it on PATH; the test has the debug
    // one built already and puts that on PATH instead.
    assert!(
        blocks[0].contains("cargo build --release -p groundwork-cli"),
        "{}",
        blocks[0]
    );
    let root = tempfile::tempdir()?;
    // The walkthrough's relay is the one "started as above", on 127.0.0.1:7878.
    let relay = Relay::start(&root.path().join("relay"))?;
    let script = format!(
        "set -euo pipefail\n{}\n",
        blocks[1..]
            .join("\n")
            .replace("127.0.0.1:7878", &relay.addr)
    );
    // A link alone joins, and sync needs no relay once the device has one.
    let commands: Vec<&str> = script.lines().map(str::trim_start).collect();
    assert!(
        commands
            .iter()
            .any(|l| l.starts_with("groundwork join \"$LINK\"") && !l.contains("--relay")),
        "the walkthrough joins with a link alone"
    );
    assert!(
        commands
            .iter()
            .any(|l| l.starts_with("groundwork sync --once"))
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
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed:\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for expected in [
        "with:  Sheriff Example, Sheriff",
        "groundwork://join?invite=gw1.",
        "joined ",
        "removed from group ",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    assert!(work.join("contacts.csv").exists());
    Ok(())
}
