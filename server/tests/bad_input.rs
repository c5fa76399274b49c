//! Bad input on the relay: each malformed frame is answered with a clear error on that
//! connection alone, which then closes; the relay keeps serving everyone else, and nothing
//! stored changes.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use groundwork_core::Device;
use groundwork_core::store::StoreKey;
use groundwork_core::sync::wire::{Message, PeerMetadata};
use groundwork_relay::{Config, serve};
use tokio_tungstenite::tungstenite::Message as Ws;

type TestError = Box<dyn std::error::Error>;
type TestResult = Result<(), TestError>;

const LIMIT: usize = 64 * 1024;

/// Every stored chunk, as (document, seq, length), in order: what must not change.
fn stored(data: &Path) -> Result<Vec<(String, i64, usize)>, TestError> {
    let conn = groundwork_relay::store::RelayStore::connect_raw(
        data,
        &groundwork_relay::key::KeySource::InDataDir.resolve(data)?,
    )?;
    let mut stmt = conn.prepare("SELECT doc_id, seq, bytes FROM chunks ORDER BY doc_id, seq")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, Vec<u8>>(2)?.len()))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sends `frames` on a fresh connection (after a proper `join` if `join`), and returns the error
/// the relay answered with.
async fn answer_to(
    url: &str,
    join: bool,
    frames: Vec<Ws>,
) -> Result<String, Box<dyn std::error::Error>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    if join {
        let hello = Message::Join {
            sender: "bad-peer".into(),
            metadata: PeerMetadata::default(),
            versions: vec!["1".into()],
        };
        ws.send(Ws::Binary(hello.encode().into())).await?;
        match ws.next().await {
            Some(Ok(Ws::Binary(b))) => {
                assert!(matches!(Message::decode(&b)?, Message::Peer { .. }))
            }
            other => return Err(format!("no peer message: {other:?}").into()),
        }
    }
    for f in frames {
        ws.send(f).await?;
    }
    let mut error = None;
    while let Some(Ok(frame)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await? {
        match frame {
            Ws::Binary(b) => {
                if let Ok(Message::Error { message }) = Message::decode(&b) {
                    error = Some(message);
                }
            }
            Ws::Close(_) => break,
            _ => {}
        }
    }
    error.ok_or_else(|| "the relay closed without an error message".into())
}

fn cbor(fields: Vec<(&str, ciborium::Value)>) -> Vec<u8> {
    let map = ciborium::Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (ciborium::Value::Text(k.into()), v))
            .collect(),
    );
    let mut out = Vec::new();
    ciborium::into_writer(&map, &mut out).unwrap_or_default();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_frame_closes_only_its_connection_and_changes_nothing() -> TestResult {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/v1/sync", listener.local_addr()?);
    let mut config = Config::new(data.clone());
    config.max_frame_bytes = LIMIT;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, config, async {
        let _ = stopped.await;
    }));

    // A device with a group syncs through the relay: the state that must survive.
    let dir = root.path().join("device");
    let mut device = Device::init(&dir, "good", &StoreKey::from_bytes([7; 32]))?;
    let group = device.create_group("Group", None)?;
    device.log_contact(
        &group,
        groundwork_core::schema::contacts::NewContact::new(
            groundwork_core::schema::vocab::ContactResult::Talked,
        ),
    )?;
    let summary =
        groundwork_core::net::sync_once(&mut device, &url, Duration::from_secs(10)).await?;
    assert!(summary.synced, "{summary:?}");
    let before = stored(&data)?;
    assert_eq!(
        before.len(),
        4,
        "a plan, its roster, its canvassers' brief and a contacts document"
    );

    let text = |s: &str| ciborium::Value::Text(s.into());
    let sync_frame = |doc: &str, data: Vec<u8>| {
        cbor(vec![
            ("type", text("sync")),
            ("senderId", text("bad-peer")),
            ("targetId", text("relay")),
            ("documentId", text(doc)),
            ("data", ciborium::Value::Bytes(data)),
        ])
    };
    let cases: Vec<(&str, bool, Vec<Ws>, &str)> = vec![
        (
            "non-CBOR frame",
            true,
            vec![Ws::Binary(b"\xff\xfe not cbor".to_vec().into())],
            "not CBOR",
        ),
        (
            "non-CBOR before join",
            false,
            vec![Ws::Binary(b"\xff".to_vec().into())],
            "not CBOR",
        ),
        (
            "unknown message type",
            true,
            vec![Ws::Binary(cbor(vec![("type", text("gossip"))]).into())],
            "unknown message type \"gossip\"",
        ),
        (
            "a frame over the size limit",
            true,
            vec![Ws::Binary(vec![0u8; LIMIT + 1].into())],
            "over the limit",
        ),
        (
            "a sync message automerge rejects",
            true,
            vec![Ws::Binary(
                sync_frame(&group, b"\x42garbage".to_vec()).into(),
            )],
            "bad sync message",
        ),
        (
            "a malformed document id",
            true,
            vec![Ws::Binary(sync_frame("not-a-document-id", vec![]).into())],
            "malformed documentId",
        ),
        (
            "a text frame",
            true,
            vec![Ws::Text("hello".into())],
            "text frames",
        ),
    ];
    for (name, join, frames, expected) in cases {
        let error = answer_to(&url, join, frames).await?;
        println!("{name}: relay answered {error:?}");
        assert!(
            error.contains(expected),
            "{name}: {error:?} should say {expected:?}"
        );
        assert_eq!(stored(&data)?, before, "{name} changed what is stored");
    }

    // The relay still serves: the device syncs a new contact.
    device.log_contact(
        &group,
        groundwork_core::schema::contacts::NewContact::new(
            groundwork_core::schema::vocab::ContactResult::NotHome,
        ),
    )?;
    let summary =
        groundwork_core::net::sync_once(&mut device, &url, Duration::from_secs(10)).await?;
    assert!(summary.synced, "{summary:?}");
    assert_eq!(stored(&data)?.len(), before.len() + 1);

    let _ = stop.send(());
    server.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_floods_from_one_address_and_oversized_connections() -> TestResult {
    let root = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/v1/sync", listener.local_addr()?);
    let mut config = Config::new(root.path().join("relay"));
    config.handshakes_per_minute = 4;
    config.max_docs_per_connection = 2;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, config, async {
        let _ = stopped.await;
    }));

    // A connection that asks about more documents than allowed is closed, saying why.
    let requests: Vec<Ws> = (0..3)
        .map(|_| {
            let doc = groundwork_core::ids::DocumentId::random()
                .map(|d| d.to_string())
                .unwrap_or_default();
            let text = |s: &str| ciborium::Value::Text(s.into());
            Ws::Binary(
                cbor(vec![
                    ("type", text("request")),
                    ("senderId", text("bad-peer")),
                    ("targetId", text("relay")),
                    ("documentId", text(&doc)),
                    ("data", ciborium::Value::Bytes(empty_sync_message())),
                ])
                .into(),
            )
        })
        .collect();
    let error = answer_to(&url, true, requests).await?;
    assert!(error.contains("more than 2 documents"), "{error}");

    // The fifth handshake within a minute from this address is refused with 429.
    for _ in 0..3 {
        drop(tokio_tungstenite::connect_async(&url).await?);
    }
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
        }
        other => return Err(format!("a fifth handshake was not refused: {other:?}").into()),
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// An automerge sync message from a peer that has nothing.
fn empty_sync_message() -> Vec<u8> {
    use automerge::sync::SyncDoc;
    let mut doc = groundwork_core::schema::new_doc();
    let mut state = automerge::sync::State::new();
    doc.sync()
        .generate_sync_message(&mut state)
        .map(|m| m.encode())
        .unwrap_or_default()
}
