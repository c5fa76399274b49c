//! The device store's encryption key: 32 random bytes, supplied by the caller (Keychain or
//! Keystore on a phone; a 0600 key file or an environment variable for the CLI). The store is
//! SQLCipher: every page is encrypted and authenticated with it.

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::ids::random_bytes;

/// A store key. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; 32]);

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl StoreKey {
    /// A new random key.
    pub fn generate() -> Result<Self> {
        Ok(Self(random_bytes()?))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's 32 bytes, to hand to the platform's keystore.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = || Error::Invalid {
            what: "store key",
            reason: "expected 64 hex digits (32 bytes)".into(),
        };
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The `PRAGMA key` statement for this key (a raw key: no key derivation, since it is
    /// already random).
    pub fn pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", self.to_hex())
    }

    /// Reads a key file (64 hex digits). On Unix the file must be readable by its owner only.
    pub fn read_file(path: &Path) -> Result<Self> {
        check_private(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "reading the store key from",
            path: path.to_owned(),
            source,
        })?;
        Self::from_hex(&text)
    }

    /// Writes a new random key to a file only its owner can read (0600), refusing to
    /// overwrite one.
    pub fn create_file(path: &Path) -> Result<Self> {
        use std::io::Write;
        let key = Self::generate()?;
        let io = |source| Error::Io {
            action: "writing the store key to",
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(key.to_hex().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(key)
    }
}

/// Refuses a key file others can read.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            action: "reading the store key from",
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Invalid {
                what: "store key file",
                reason: format!(
                    "{} is readable by others (mode {mode:o}); run `chmod 600` on it",
                    path.display()
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex_and_files() -> Result<()> {
        let key = StoreKey::generate()?;
        assert_eq!(StoreKey::from_hex(&key.to_hex())?, key);
        assert!(StoreKey::from_hex("abc").is_err());
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
        let dir = std::env::temp_dir().join(format!("gw-key-{}", key.to_hex()));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            action: "creating",
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("store.key");
        let made = StoreKey::create_file(&path)?;
        assert_eq!(StoreKey::read_file(&path)?, made);
        assert!(StoreKey::create_file(&path).is_err(), "overwrote a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
            let e = StoreKey::read_file(&path).err().map(|e| e.to_string());
            assert!(e.is_some_and(|e| e.contains("chmod 600")));
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
