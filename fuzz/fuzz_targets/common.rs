//! Shared by the hub targets: turns fuzz bytes into a sequence of hub inputs.

use groundwork_core::sync::hub::{Effect, Hub, Policy, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};

/// Reads `data` as a script: each step is a byte choosing the connection (low 2 bits) and
/// the action (the rest), then for a frame a length byte pair and that many bytes. A valid
/// `join` (or `peer`) opens each connection first half the time, so the fuzzer reaches the
/// sync states behind the handshake.
pub fn drive<P: Policy>(hub: &mut Hub<P>, side: Side, mut data: &[u8]) {
    let mut now = 0u64;
    let handshake = data.first().is_some_and(|b| b & 1 == 1);
    for conn in 0..4u64 {
        hub.connect(conn, side, now);
        if handshake {
            let hello = match side {
                Side::Server => Message::Join {
                    sender: format!("peer-{conn}"),
                    metadata: PeerMetadata::default(),
                    versions: vec!["1".into()],
                },
                Side::Client => Message::Peer {
                    sender: "relay".into(),
                    target: "device".into(),
                    metadata: PeerMetadata::default(),
                    version: "1".into(),
                },
            };
            hub.handle_frame(conn, &hello.encode(), now);
        }
    }
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let conn = u64::from(op & 3);
        match op >> 2 {
            0 => hub.handle_disconnect(conn),
            1 => hub.connect(conn, side, now),
            2 => {
                now += 1000;
                hub.handle_tick(now);
            }
            _ => {
                let Some((len, rest)) = data.split_first_chunk::<2>() else {
                    return;
                };
                let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
                let (frame, rest) = rest.split_at(len);
                data = rest;
                hub.handle_frame(conn, frame, now);
            }
        }
        // Loads are answered from nothing, as for documents nobody has.
        let loads: Vec<_> = std::iter::from_fn(|| hub.poll_effect())
            .filter_map(|e| match e {
                Effect::Load { doc } => Some(doc),
                _ => None,
            })
            .collect();
        for doc in loads {
            hub.handle_loaded(doc, None, now);
        }
    }
}
