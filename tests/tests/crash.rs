//! Saved means saved: a process logging contacts is killed with SIGKILL at random moments; every
//! contact whose call returned is in the store afterwards, and the store opens cleanly.
//!
//! The kill points come from a seeded generator (`GROUNDWORK_CRASH_SEED`, printed on failure);
//! the exact instruction a kill lands on still depends on the scheduler, which is the point.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use groundwork_core::Device;
use groundwork_core::store::STORE_FILE;
use groundwork_core::store::index::ContactQuery;

/// xorshift64*: enough randomness for kill points, and reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn contacts_whose_call_returned_survive_sigkill() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::var("GROUNDWORK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let rounds: usize = std::env::var("GROUNDWORK_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    println!("seed {seed}, {rounds} rounds");
    let mut rng = Rng(seed | 1);
    let dir = std::env::temp_dir().join(format!("groundwork-crash-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let group = {
        let mut device = Device::init(&dir, "crash test", &groundwork_tests::test_key())?;
        device.create_group("Crash test group", None)?
    };

    let mut confirmed: Vec<String> = Vec::new();
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-logger"))
            .arg(&dir)
            .arg(&group)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // Wait for a random number of confirmed contacts (0 kills it during open), then a
        // random extra moment, so the kill lands anywhere in the next call.
        let wait_for = rng.below(80);
        let mut this_round = 0;
        while this_round < wait_for {
            match lines.next() {
                Some(line) => {
                    confirmed.push(line?);
                    this_round += 1;
                }
                None => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        child.kill()?; // SIGKILL on Unix
        // Ids printed before the kill count too: their calls returned.
        for line in lines {
            confirmed.push(line?);
            this_round += 1;
        }
        let status = child.wait()?;
        assert!(
            !status.success(),
            "round {round}: the logger exited on its own: {status}"
        );
        println!("round {round}: {this_round} contacts confirmed before SIGKILL");
    }

    // The store opens cleanly...
    let conn =
        groundwork_core::store::connect_raw(&dir.join(STORE_FILE), &groundwork_tests::test_key())?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok", "seed {seed}");
    drop(conn);
    let mut device = Device::open(&dir, &groundwork_tests::test_key())?;
    // ...every confirmed contact is in the index...
    let listed = device.contacts(
        &group,
        &ContactQuery {
            limit: u32::MAX,
            ..ContactQuery::default()
        },
    )?;
    let listed: std::collections::HashSet<String> =
        listed.into_iter().map(|c| c.contact_id).collect();
    for id in &confirmed {
        assert!(
            listed.contains(id),
            "seed {seed}: contact {id} was confirmed but is gone"
        );
    }
    // ...and in the documents: the index rebuilt from them holds them all too.
    let before = device.index_dump()?;
    device.rebuild_index()?;
    assert_eq!(
        device.index_dump()?,
        before,
        "seed {seed}: index and documents disagree"
    );
    println!(
        "{} contacts confirmed, {} stored (the difference committed just before a kill)",
        confirmed.len(),
        listed.len()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
