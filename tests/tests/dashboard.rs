//! The dashboard in a real browser: a real relay seeded through real devices (two groups ask
//! their sheriffs, one shares a public meeting), a staff device's `dashboard login` link,
//! and Debian's chromium driven by playwright-core (`tests/interop/dashboard.mjs`): sign-in
//! and sign-out posted from pages on other origins refused, sign in through the link, the
//! matrix and the map with the seeded officials, a county then an official's page, the CSV,
//! `/map` signed out, and nothing fetched from anywhere else.
//! Full-page screenshots go to target/dashboard-screenshots/ (printed).

use std::path::Path;
use std::process::Command;

use groundwork_tests::{Device, Relay, Res, field};

#[test]
fn staff_sign_in_and_see_the_campaign_in_a_real_browser() -> Res<()> {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !interop.join("node_modules/playwright-core").exists() {
        return Err("run `npm install` in tests/interop first (scripts/test does)".into());
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("Debian's chromium is not installed (scripts/test installs it with apt-get)")?;

    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let riverside = Device::new(root.path(), "riverside")?;
    let group = field(
        &riverside.run(&["group", "create", "--name", "Riverside Rises"])?,
        "group_id",
    )?;
    let sheriff = field(
        &riverside.run(&[
            "target",
            "add",
            &group,
            "--county",
            "06065",
            "--office",
            "sheriff",
            "--name",
            "Chad Example",
        ])?,
        "target_id",
    )?;
    for (rule, position) in [
        ("R1", "will-support"),
        ("R2", "opposes"),
        ("R6", "will-consider"),
    ] {
        riverside.run(&[
            "response",
            "record",
            &group,
            "--target",
            &sheriff,
            "--rule",
            rule,
            "--existing",
            "partial",
            "--position",
            position,
        ])?;
    }
    let when =
        groundwork_core::time::format_rfc3339(groundwork_core::time::now_ms() + 7 * 86_400_000);
    let meeting = field(
        &riverside.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "official",
            "--title",
            "Town hall with the sheriff",
            "--target",
            &sheriff,
            "--at",
            &when,
            "--location",
            "Central Library, room 1",
        ])?,
        "meeting_id",
    )?;
    riverside.run(&["meeting", "status", &meeting, "scheduled"])?;
    riverside.run(&["meeting", "share", &meeting, "public"])?;
    riverside.run(&[
        "contact",
        "log",
        &group,
        "--result",
        "talked",
        "--consent",
        "--name",
        "Marker-Browser-Contact",
    ])?;
    riverside.sync(&relay)?;
    let travis = Device::new(root.path(), "travis")?;
    let other = field(
        &travis.run(&["group", "create", "--name", "Travis Together"])?,
        "group_id",
    )?;
    travis.run(&[
        "target", "add", &other, "--county", "48453", "--office", "sheriff",
    ])?;
    travis.sync(&relay)?;

    // A staff device asks for a one-time link; a non-staff device may not.
    let organizer = Device::new(root.path(), "organizer")?;
    let refused = organizer.refused(&["dashboard", "login", "--relay", &relay.url()])?;
    assert!(refused.contains("not campaign staff"), "{refused}");
    let granted = Command::new(groundwork_tests::bin("groundwork-relay"))
        .arg("--data")
        .arg(&relay.data)
        .args(["staff", "add", &organizer.id()?])
        .output()?;
    assert!(granted.status.success(), "{granted:?}");
    let login = organizer.run(&["dashboard", "login", "--relay", &relay.url()])?;
    let link = field(&login, "link")?;
    let base = format!("http://{}", relay.addr);
    assert!(
        link.starts_with(&format!("{base}/campaign/login?code=")),
        "{link}"
    );

    let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/dashboard-screenshots")
        .canonicalize()
        .or_else(|_| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
            std::fs::create_dir_all(&p).and_then(|()| p.canonicalize())
        })?;
    let out = Command::new("node")
        .arg(interop.join("dashboard.mjs"))
        .args([&base, &link])
        .arg(&shots)
        .env("CHROMIUM", chromium)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)?;

    // Login CSRF and forced sign-out: every post from another origin's page was refused, no
    // session started (and the link stayed unspent: the real sign-in after it worked), and
    // the session outlived the sign-out attempts.
    let csrf = &seen["csrf"];
    for attempt in [
        "login_form_cross_site",
        "login_fetch_cross_site",
        "login_form_same_site",
        "logout_form_same_site",
        "logout_fetch_same_site",
    ] {
        assert_eq!(csrf[attempt], 403, "{attempt}: {csrf}");
    }
    assert_eq!(csrf["cookie_after_login_attacks"], false, "{csrf}");
    assert_eq!(csrf["signed_in_after_logout_attacks"], 200, "{csrf}");

    // What the browser saw: the seeded officials, in words.
    let matrix = seen["matrix_text"].as_str().unwrap_or("");
    assert_eq!(seen["matrix_rows"], 2, "{matrix}");
    assert!(matrix.contains("Sheriff Chad Example"), "{matrix}");
    assert!(matrix.contains("Will support") && matrix.contains("Opposes"));
    assert!(matrix.contains("Travis, TX"));
    assert_eq!(seen["matrix_ca_rows"], 1);
    assert_eq!(
        seen["map_links"], 2,
        "two asked counties link to their pages"
    );
    let official = seen["official_text"].as_str().unwrap_or("");
    assert!(official.contains("Asked by Riverside Rises"), "{official}");
    assert!(official.contains("Central Library, room 1"));
    let public = seen["public_text"].as_str().unwrap_or("");
    assert!(public.contains("Town hall with the sheriff"), "{public}");
    assert!(!public.contains("Opposes") && !public.contains("Marker"));
    // The CSV the browser downloaded: one row per official and rule, as the index has them.
    let csv = std::fs::read_to_string(seen["csv"].as_str().ok_or("no csv")?)?;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with("06065/sheriff,06065,\"Riverside, CA\",CA,sheriff,,Chad Example"));
    assert!(!csv.contains("Marker"));
    for page in [
        "signin", "overview", "matrix", "map", "county", "official", "public",
    ] {
        let file = seen[page].as_str().ok_or(format!("no {page} screenshot"))?;
        assert!(
            std::fs::metadata(file)?.len() > 10_000,
            "{file} is nearly empty"
        );
        println!("screenshot of {page}: {file}");
    }
    // The matrix and the public pages fit a 390-px phone and a 1280-px laptop with no sideways
    // scroll of the page (the matrix scrolls in its own box on a phone), and the matrix's last
    // rule column shows whole at 1280 px.
    for page in [
        "matrix-390",
        "matrix-1280",
        "public-map-390",
        "public-map-1280",
        "front-page-390",
        "front-page-1280",
    ] {
        let layout = &seen["layout"][page];
        assert_eq!(layout["overflow"], 0, "{page} scrolls sideways: {layout}");
        println!("screenshot of {page}: {}", layout["shot"]);
    }
    let last = seen["matrix_last_column_right"]
        .as_f64()
        .ok_or("no R1373 column")?;
    assert!(last <= 0.0, "R1373 ends {last} px past a 1280-px window");
    Ok(())
}
