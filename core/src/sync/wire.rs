//! automerge-repo's wire protocol, version 1: one CBOR map per WebSocket binary frame.
//!
//! Decoding reads fields by name and ignores fields it does not know, as the JavaScript
//! implementation does, so newer peers stay readable. Every decoding failure names what was wrong.

use ciborium::Value;

use crate::ids::DocumentId;

/// The protocol version we speak.
pub const PROTOCOL_VERSION: &str = "1";

/// A Groundwork relay's peer id starts with this; any other server is a plain automerge-repo
/// peer, which has no invites, roles or control messages.
pub const RELAY_PEER_PREFIX: &str = "groundwork-relay-";

/// The `type` of Groundwork's control messages.
pub const CONTROL_TYPE: &str = "groundwork-control";

/// A peer's id on the wire (for devices: bs58 of the Ed25519 public key).
pub type PeerId = String;

/// What a peer says about itself in `join` and `peer`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    /// The id of the peer's storage, if it stores documents.
    pub storage_id: Option<String>,
    /// Whether the peer keeps no data (a browser tab, a test client).
    pub is_ephemeral: bool,
}

/// One message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Client -> server: the first frame of a connection.
    Join {
        /// Who is connecting.
        sender: PeerId,
        /// About them.
        metadata: PeerMetadata,
        /// Versions they speak.
        versions: Vec<String>,
    },
    /// Server -> client: the handshake's answer.
    Peer {
        /// The server.
        sender: PeerId,
        /// The client.
        target: PeerId,
        /// About the server.
        metadata: PeerMetadata,
        /// The version chosen.
        version: String,
    },
    /// An error; the connection closes after it.
    Error {
        /// What went wrong.
        message: String,
    },
    /// The sender is leaving.
    Leave {
        /// Who leaves.
        sender: PeerId,
    },
    /// "I do not have this document; send it if you do", with a first sync message.
    Request {
        /// From.
        sender: PeerId,
        /// To.
        target: PeerId,
        /// The document.
        document: DocumentId,
        /// An automerge sync message.
        data: Vec<u8>,
    },
    /// An automerge sync message for a document.
    Sync {
        /// From.
        sender: PeerId,
        /// To.
        target: PeerId,
        /// The document.
        document: DocumentId,
        /// An automerge sync message.
        data: Vec<u8>,
    },
    /// "I do not have this document (or you may not have it)."
    DocUnavailable {
        /// From.
        sender: PeerId,
        /// To.
        target: PeerId,
        /// The document.
        document: DocumentId,
    },
    /// Application messages that are not stored (presence, cursors). Relayed, never persisted.
    Ephemeral {
        /// From.
        sender: PeerId,
        /// To.
        target: PeerId,
        /// The document it concerns.
        document: DocumentId,
        /// The sender's session.
        session: String,
        /// A counter per session, to drop duplicates.
        count: u64,
        /// The payload.
        data: Vec<u8>,
    },
    /// Groundwork's own control messages between a device and its relay (joining, removing a
    /// member, telling a removed device to wipe a group): a JSON text, see
    /// [`crate::sync::control`]. Plain automerge-repo peers never send or receive them.
    Control {
        /// The JSON body.
        body: String,
    },
    /// A message type this build does not handle (e.g. `remote-heads-changed`), kept by name.
    Other {
        /// Its `type`.
        kind: String,
    },
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not CBOR at all.
    #[error("frame is not CBOR: {0}")]
    NotCbor(String),
    /// CBOR, but not a map.
    #[error("frame is not a CBOR map")]
    NotAMap,
    /// A field is missing or has the wrong type.
    #[error("{kind} message: field {field:?} is missing or not a {expected}")]
    Field {
        /// The message type.
        kind: String,
        /// The field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// A document id is malformed.
    #[error("{kind} message: malformed documentId {value:?}")]
    DocumentId {
        /// The message type.
        kind: String,
        /// The value given.
        value: String,
    },
}

struct Fields<'a> {
    kind: String,
    map: &'a [(Value, Value)],
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .map(|(_, v)| v)
    }

    fn err(&self, field: &'static str, expected: &'static str) -> WireError {
        WireError::Field {
            kind: self.kind.clone(),
            field,
            expected,
        }
    }

    fn text(&self, field: &'static str) -> Result<String, WireError> {
        self.get(field)
            .and_then(Value::as_text)
            .map(str::to_owned)
            .ok_or_else(|| self.err(field, "text string"))
    }

    fn bytes(&self, field: &'static str) -> Result<Vec<u8>, WireError> {
        self.get(field)
            .and_then(Value::as_bytes)
            .cloned()
            .ok_or_else(|| self.err(field, "byte string"))
    }

    fn document(&self) -> Result<DocumentId, WireError> {
        // samod sends the id's 16 bytes; JavaScript sends the bs58check text.
        if let Some(bytes) = self.get("documentId").and_then(Value::as_bytes) {
            let bytes: [u8; 16] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| WireError::DocumentId {
                        kind: self.kind.clone(),
                        value: format!("{} bytes", bytes.len()),
                    })?;
            return Ok(DocumentId::from(bytes));
        }
        let text = self.text("documentId")?;
        text.parse().map_err(|_| WireError::DocumentId {
            kind: self.kind.clone(),
            value: text,
        })
    }

    fn metadata(&self) -> PeerMetadata {
        let Some(map) = self.get("peerMetadata").and_then(Value::as_map) else {
            return PeerMetadata::default();
        };
        let field = |name: &str| map.iter().find(|(k, _)| k.as_text() == Some(name));
        PeerMetadata {
            storage_id: field("storageId")
                .and_then(|(_, v)| v.as_text())
                .map(str::to_owned),
            is_ephemeral: field("isEphemeral")
                .and_then(|(_, v)| v.as_bool())
                .unwrap_or(false),
        }
    }
}

impl Message {
    /// Decodes one frame.
    pub fn decode(frame: &[u8]) -> Result<Self, WireError> {
        let value: Value =
            ciborium::from_reader(frame).map_err(|e| WireError::NotCbor(e.to_string()))?;
        let map = value.as_map().ok_or(WireError::NotAMap)?;
        let mut f = Fields {
            kind: String::new(),
            map,
        };
        f.kind = f.text("type").map_err(|_| WireError::Field {
            kind: "a".into(),
            field: "type",
            expected: "text string",
        })?;
        Ok(match f.kind.as_str() {
            "join" => Message::Join {
                sender: f.text("senderId")?,
                metadata: f.metadata(),
                versions: f
                    .get("supportedProtocolVersions")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_text)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            "peer" => Message::Peer {
                sender: f.text("senderId")?,
                target: f.text("targetId")?,
                metadata: f.metadata(),
                version: f.text("selectedProtocolVersion")?,
            },
            "error" => Message::Error {
                message: f.text("message")?,
            },
            "leave" => Message::Leave {
                sender: f.text("senderId")?,
            },
            "request" | "sync" => {
                let sender = f.text("senderId")?;
                let target = f.text("targetId")?;
                let document = f.document()?;
                let data = f.bytes("data")?;
                if f.kind == "request" {
                    Message::Request {
                        sender,
                        target,
                        document,
                        data,
                    }
                } else {
                    Message::Sync {
                        sender,
                        target,
                        document,
                        data,
                    }
                }
            }
            "doc-unavailable" => Message::DocUnavailable {
                sender: f.text("senderId")?,
                target: f.text("targetId")?,
                document: f.document()?,
            },
            "ephemeral" => Message::Ephemeral {
                sender: f.text("senderId")?,
                target: f.text("targetId")?,
                document: f.document()?,
                session: f.text("sessionId")?,
                // cbor-x may write whole numbers as floats.
                count: match f.get("count") {
                    Some(Value::Integer(i)) => u64::try_from(*i).ok(),
                    Some(Value::Float(x)) if *x >= 0.0 && x.fract() == 0.0 => Some(*x as u64),
                    _ => None,
                }
                .ok_or_else(|| f.err("count", "unsigned integer"))?,
                data: f.bytes("data")?,
            },
            CONTROL_TYPE => Message::Control {
                body: f.text("body")?,
            },
            other => Message::Other {
                kind: other.to_owned(),
            },
        })
    }

    /// Encodes one frame.
    pub fn encode(&self) -> Vec<u8> {
        let text = |s: &str| Value::Text(s.to_owned());
        let entry = |k: &str, v: Value| (text(k), v);
        let metadata = |m: &PeerMetadata| {
            let mut fields = vec![entry("isEphemeral", Value::Bool(m.is_ephemeral))];
            if let Some(id) = &m.storage_id {
                fields.push(entry("storageId", text(id)));
            }
            Value::Map(fields)
        };
        let fields = match self {
            Message::Join {
                sender,
                metadata: m,
                versions,
            } => vec![
                entry("type", text("join")),
                entry("senderId", text(sender)),
                entry("peerMetadata", metadata(m)),
                entry(
                    "supportedProtocolVersions",
                    Value::Array(versions.iter().map(|v| text(v)).collect()),
                ),
            ],
            Message::Peer {
                sender,
                target,
                metadata: m,
                version,
            } => vec![
                entry("type", text("peer")),
                entry("senderId", text(sender)),
                entry("targetId", text(target)),
                entry("peerMetadata", metadata(m)),
                entry("selectedProtocolVersion", text(version)),
            ],
            Message::Error { message } => {
                vec![
                    entry("type", text("error")),
                    entry("message", text(message)),
                ]
            }
            Message::Leave { sender } => {
                vec![
                    entry("type", text("leave")),
                    entry("senderId", text(sender)),
                ]
            }
            Message::Request {
                sender,
                target,
                document,
                data,
            }
            | Message::Sync {
                sender,
                target,
                document,
                data,
            } => vec![
                entry(
                    "type",
                    text(if matches!(self, Message::Request { .. }) {
                        "request"
                    } else {
                        "sync"
                    }),
                ),
                entry("senderId", text(sender)),
                entry("targetId", text(target)),
                entry("documentId", text(&document.to_string())),
                entry("data", Value::Bytes(data.clone())),
            ],
            Message::DocUnavailable {
                sender,
                target,
                document,
            } => vec![
                entry("type", text("doc-unavailable")),
                entry("senderId", text(sender)),
                entry("targetId", text(target)),
                entry("documentId", text(&document.to_string())),
            ],
            Message::Ephemeral {
                sender,
                target,
                document,
                session,
                count,
                data,
            } => vec![
                entry("type", text("ephemeral")),
                entry("senderId", text(sender)),
                entry("targetId", text(target)),
                entry("documentId", text(&document.to_string())),
                entry("sessionId", text(session)),
                entry("count", Value::Integer((*count).into())),
                entry("data", Value::Bytes(data.clone())),
            ],
            Message::Control { body } => {
                vec![entry("type", text(CONTROL_TYPE)), entry("body", text(body))]
            }
            Message::Other { kind } => vec![entry("type", text(kind))],
        };
        let mut out = Vec::new();
        // Writing CBOR into a Vec cannot fail: the only errors ciborium reports are the
        // writer's, and a Vec's writes always succeed.
        let _ = ciborium::into_writer(&Value::Map(fields), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> DocumentId {
        DocumentId::from([3u8; 16])
    }

    #[test]
    fn every_message_round_trips() {
        let messages = vec![
            Message::Join {
                sender: "a".into(),
                metadata: PeerMetadata {
                    storage_id: Some("s".into()),
                    is_ephemeral: false,
                },
                versions: vec!["1".into()],
            },
            Message::Peer {
                sender: "r".into(),
                target: "a".into(),
                metadata: PeerMetadata::default(),
                version: "1".into(),
            },
            Message::Error {
                message: "no".into(),
            },
            Message::Leave { sender: "a".into() },
            Message::Request {
                sender: "a".into(),
                target: "r".into(),
                document: doc(),
                data: vec![1, 2],
            },
            Message::Sync {
                sender: "a".into(),
                target: "r".into(),
                document: doc(),
                data: vec![3],
            },
            Message::DocUnavailable {
                sender: "r".into(),
                target: "a".into(),
                document: doc(),
            },
            Message::Ephemeral {
                sender: "a".into(),
                target: "r".into(),
                document: doc(),
                session: "x".into(),
                count: 7,
                data: vec![9],
            },
        ];
        for m in messages {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn bad_frames_are_named() {
        assert!(matches!(
            Message::decode(b"\xff\x00garbage"),
            Err(WireError::NotCbor(_))
        ));
        let mut not_map = Vec::new();
        let _ = ciborium::into_writer(&Value::Integer(3.into()), &mut not_map);
        assert_eq!(Message::decode(&not_map), Err(WireError::NotAMap));
        let bad_id = Message::Other {
            kind: "sync".into(),
        }
        .encode();
        assert_eq!(
            Message::decode(&bad_id)
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("sync message: field \"senderId\" is missing or not a text string")
        );
    }
}
