//! The key the relay's files are encrypted with at rest, and where it comes from.
//!
//! `relay.db` (and its write-ahead log) is SQLCipher, as the device store is: a copied disk or
//! backup without the key reveals nothing. The key is 32 random bytes, from the environment
//! (`GROUNDWORK_RELAY_KEY`, 64 hex digits, for a secret manager), a key file named by the
//! operator, or by default `relay.key` in the data directory (0600, made on the first start).
//! Keep the file off the disk that is backed up with the data if backups must be safe alone.

use std::path::{Path, PathBuf};

use groundwork_core::store::StoreKey;

use crate::store::{DB_FILE, StoreError};

/// The default key file's name, in the data directory.
pub const KEY_FILE: &str = "relay.key";

/// Where the relay's key comes from.
#[derive(Clone, Debug, Default)]
pub enum KeySource {
    /// `relay.key` in the data directory, made on the first start.
    #[default]
    InDataDir,
    /// A key file the operator names (made on the first start if it does not exist yet).
    File(PathBuf),
    /// The key itself (from the environment).
    Key(StoreKey),
}

impl KeySource {
    /// The key for the store in `data`. A key file is made (0600) only when there is no
    /// encrypted store there yet: a missing key for an existing encrypted store is an error
    /// naming the file, never a fresh key that would make the data unreadable.
    pub fn resolve(&self, data: &Path) -> Result<StoreKey, StoreError> {
        let path = match self {
            KeySource::Key(key) => return Ok(key.clone()),
            KeySource::InDataDir => data.join(KEY_FILE),
            KeySource::File(path) => path.clone(),
        };
        let key_err = |source| StoreError::Key {
            path: path.clone(),
            source: Box::new(source),
        };
        if path.exists() {
            return StoreKey::read_file(&path).map_err(key_err);
        }
        let db = data.join(DB_FILE);
        if db.exists() && !crate::store::is_plaintext(&db) {
            return Err(StoreError::KeyMissing { path, db });
        }
        std::fs::create_dir_all(data).map_err(|source| StoreError::Io {
            path: data.to_owned(),
            source,
        })?;
        tracing::info!(file = %path.display(), "made a new key for the relay's files");
        StoreKey::create_file(&path).map_err(key_err)
    }
}
