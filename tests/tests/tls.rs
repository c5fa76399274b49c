//! TLS end to end: the real relay serves `wss://` with a certificate, and the real CLI syncs
//! through it only when it can verify that certificate.

use std::process::Command;

use groundwork_tests::{Relay, bin};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn devices_sync_over_tls_and_refuse_a_certificate_they_cannot_verify() -> TestResult {
    let root = tempfile::tempdir()?;
    // A certificate for 127.0.0.1, self-signed: trusted only through GROUNDWORK_CA_FILE.
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
    let cert_file = root.path().join("relay.pem");
    let key_file = root.path().join("relay.key");
    std::fs::write(&cert_file, cert.cert.pem())?;
    std::fs::write(&key_file, cert.key_pair.serialize_pem())?;

    let relay = Relay::options(&root.path().join("relay"))
        .arg("--tls-cert")
        .arg(&cert_file)
        .arg("--tls-key")
        .arg(&key_file)
        .start()?;
    let addr = relay.addr.clone();
    let url = format!("wss://{addr}/v1/sync");

    let gw =
        |dir: &str, args: &[&str], trust: bool| -> Result<std::process::Output, std::io::Error> {
            let mut c = Command::new(bin("groundwork"));
            c.arg("--data")
                .arg(root.path().join(dir))
                .args(args)
                .arg("--json");
            if trust {
                c.env("GROUNDWORK_CA_FILE", &cert_file);
            } else {
                c.env_remove("GROUNDWORK_CA_FILE");
            }
            c.output()
        };
    let ok = |out: std::process::Output| -> Result<Value, Box<dyn std::error::Error>> {
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    ok(gw("a", &["init", "--name", "A"], false)?)?;
    let group = ok(gw("a", &["group", "create", "--name", "Over TLS"], false)?)?["group_id"]
        .as_str()
        .ok_or("no group")?
        .to_owned();

    // Without the certificate's CA the device refuses the relay.
    let refused = gw(
        "a",
        &["sync", "--relay", &url, "--once", "--timeout", "10"],
        false,
    )?;
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.to_lowercase().contains("certificate"), "{why}");

    // Trusting it, the device syncs, and a second device joins through TLS too.
    let synced = ok(gw(
        "a",
        &["sync", "--relay", &url, "--once", "--timeout", "10"],
        true,
    )?)?;
    assert_eq!(synced["synced"], true, "{synced}");
    ok(gw("b", &["init", "--name", "B"], true)?)?;
    let code = ok(gw(
        "a",
        &["invite", "create", &group, "--role", "member"],
        true,
    )?)?["code"]
        .as_str()
        .ok_or("no code")?
        .to_owned();
    let joined = ok(gw("b", &["join", &code, "--relay", &url], true)?)?;
    assert_eq!(joined["synced"], true, "{joined}");
    assert_eq!(
        ok(gw("b", &["group", "list"], true)?)?[0]["name"],
        "Over TLS"
    );
    relay.kill()?;
    Ok(())
}
