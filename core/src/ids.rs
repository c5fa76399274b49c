//! Identifiers: document ids (automerge-repo's bs58check of 16 bytes) and entity ids.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Fills `buf` with random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Random(e.to_string()))?;
    Ok(buf)
}

/// The id of an automerge document: 16 bytes, written as bs58check, as automerge-repo does, so
/// that JavaScript automerge-repo peers can name our documents.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    /// A new random document id: a version 4 UUID, as automerge-repo makes them. The version
    /// and variant bits matter: automerge-repo 1.x refuses ids that are not valid UUIDs.
    pub fn random() -> Result<Self> {
        let mut bytes: [u8; 16] = random_bytes()?;
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Ok(Self(bytes))
    }

    /// The id's raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl From<[u8; 16]> for DocumentId {
    fn from(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|e| Error::Invalid {
                what: "document id",
                reason: format!("{s:?} is not bs58check: {e}"),
            })?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|b: Vec<u8>| Error::Invalid {
            what: "document id",
            reason: format!("{s:?} holds {} bytes, expected 16", b.len()),
        })?;
        Ok(Self(bytes))
    }
}

/// A new id for an entity inside a document (a target, meeting, contact...): 12 random bytes in
/// bs58, short enough to type and wide enough that devices never collide.
pub fn new_entity_id() -> Result<String> {
    Ok(bs58::encode(random_bytes::<12>()?).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_id_round_trips_through_bs58check() {
        let id = DocumentId::from([7u8; 16]);
        let text = id.to_string();
        assert_eq!(text.parse::<DocumentId>().ok(), Some(id));
    }

    #[test]
    fn document_id_rejects_a_bad_checksum_and_names_it() {
        let mut text = DocumentId::from([7u8; 16]).to_string();
        text.pop();
        text.push('z');
        let err = text.parse::<DocumentId>().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("document id")));
    }

    #[test]
    fn random_document_ids_are_version_4_uuids() -> Result<()> {
        for _ in 0..64 {
            let id = DocumentId::random()?;
            let b = id.as_bytes();
            assert_eq!(b[6] >> 4, 4, "version nibble of {id}");
            assert_eq!(b[8] >> 6, 0b10, "variant bits of {id}");
        }
        Ok(())
    }
}
