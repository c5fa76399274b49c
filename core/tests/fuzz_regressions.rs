//! Every crash the fuzzers found (fuzz/regressions/TARGET/*), replayed as a plain test, so it
//! stays fixed without libFuzzer: each input is refused with an error, never a panic.

use std::path::Path;

use groundwork_core::ids::DocumentId;
use groundwork_core::schema;
use groundwork_core::sync::hub::{AllowAll, Effect, Hub, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};

type Res = Result<(), Box<dyn std::error::Error>>;

fn inputs(target: &str) -> Result<Vec<Vec<u8>>, std::io::Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        out.push(std::fs::read(entry?.path())?);
    }
    Ok(out)
}

/// A change bundle that made automerge 0.12 panic (a truncated column): loading it is an
/// error, and a peer sending it in a sync message has its connection closed, with the hub
/// (the relay's, and so the relay) still serving everyone else.
#[test]
fn malformed_documents_are_refused_not_panicked_on() -> Res {
    let bundles = inputs("document")?;
    assert!(!bundles.is_empty(), "the regression inputs are missing");
    for bytes in &bundles {
        assert!(schema::load(bytes).is_err(), "a malformed document loaded");
        for side in [Side::Server, Side::Client] {
            let mut hub = Hub::with_policy("hub".into(), PeerMetadata::default(), AllowAll);
            hub.connect(1, side, 0);
            hub.connect(2, side, 0);
            let hello = |n: u64| match side {
                Side::Server => Message::Join {
                    sender: format!("peer-{n}"),
                    metadata: PeerMetadata::default(),
                    versions: vec!["1".into()],
                },
                Side::Client => Message::Peer {
                    sender: "relay".into(),
                    target: "hub".into(),
                    metadata: PeerMetadata::default(),
                    version: "1".into(),
                },
            };
            hub.handle_frame(1, &hello(1).encode(), 0);
            hub.handle_frame(2, &hello(2).encode(), 0);
            let doc = DocumentId::random()?;
            let sync = automerge::sync::Message {
                heads: Vec::new(),
                need: Vec::new(),
                have: Vec::new(),
                changes: bytes.clone().into(),
                flags: None,
                version: automerge::sync::MessageVersion::V1,
            };
            let frame = Message::Sync {
                sender: match side {
                    Side::Server => "peer-1".into(),
                    Side::Client => "relay".into(),
                },
                target: "hub".into(),
                document: doc,
                data: sync.encode(),
            };
            hub.handle_frame(1, &frame.encode(), 0);
            let mut closed = Vec::new();
            while let Some(e) = hub.poll_effect() {
                match e {
                    Effect::Close { conn, reason } => closed.push((conn, reason)),
                    Effect::Load { doc } => hub.handle_loaded(doc, None, 0),
                    _ => {}
                }
            }
            assert_eq!(closed.len(), 1, "{closed:?}");
            assert_eq!(closed[0].0, 1);
            assert!(
                closed[0].1.contains("automerge rejected"),
                "{}",
                closed[0].1
            );
            // The other connection is served still.
            hub.handle_frame(
                2,
                &Message::Leave {
                    sender: "peer-2".into(),
                }
                .encode(),
                0,
            );
        }
    }
    Ok(())
}
