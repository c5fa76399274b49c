//! Pipelining: a device with 50 documents, each with new changes, syncs in no more round trips
//! than a device with one.

use std::time::Duration;

use groundwork_core::Device;
use groundwork_core::schema::plan::NewAction;
use groundwork_core::store::StoreKey;
use groundwork_relay::{Config, serve};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn round_trips(device: &mut Device, url: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let s = groundwork_core::net::sync_once(device, url, Duration::from_secs(30)).await?;
    assert!(s.synced, "{s:?}");
    Ok(s.round_trips)
}

fn edit_every_group(device: &mut Device) -> Result<(), groundwork_core::Error> {
    for g in device.groups()? {
        let new = NewAction {
            title: "Call the sheriff's office".into(),
            ..NewAction::default()
        };
        device.add_action(&g.group_id, new)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_documents_take_no_more_round_trips_than_one() -> TestResult {
    let root = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/v1/sync", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        Config::new(root.path().join("relay")),
        async {
            let _ = stopped.await;
        },
    ));

    let mut one = Device::init(
        &root.path().join("one"),
        "one document",
        &StoreKey::from_bytes([7; 32]),
    )?;
    one.create_group("Only group", None)?;
    let mut fifty = Device::init(
        &root.path().join("fifty"),
        "fifty documents",
        &StoreKey::from_bytes([7; 32]),
    )?;
    for i in 0..50 {
        fifty.create_group(&format!("Group {i}"), None)?;
    }

    // First upload of brand-new documents, then a sync of new changes to known ones.
    let first = (
        round_trips(&mut one, &url).await?,
        round_trips(&mut fifty, &url).await?,
    );
    edit_every_group(&mut one)?;
    edit_every_group(&mut fifty)?;
    let again = (
        round_trips(&mut one, &url).await?,
        round_trips(&mut fifty, &url).await?,
    );
    println!(
        "new documents: 1 doc {} round trips, 50 docs {}",
        first.0, first.1
    );
    println!(
        "new changes:   1 doc {} round trips, 50 docs {}",
        again.0, again.1
    );
    assert!(first.1 <= first.0, "{first:?}");
    assert!(again.1 <= again.0, "{again:?}");

    let _ = stop.send(());
    server.await??;
    Ok(())
}
