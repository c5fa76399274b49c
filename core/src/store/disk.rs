//! The file system beside SQLite: where a store may live, whether its file is there, and the
//! checks that name a damaged, truncated or read-only file before SQLite half-opens it. In the
//! browser the store lives in OPFS behind SQLite's `opfs-sahpool` VFS, where no `std::fs` call
//! reaches: there SQLite itself answers whether the file exists, and the rest is SQLite's own
//! checks (the `browser` module).

#[cfg(not(browser))]
pub use native::*;

#[cfg(browser)]
pub use browser::*;

#[cfg(not(browser))]
mod native {
    use std::path::Path;

    use rusqlite::Connection;

    use crate::error::{Error, Result};
    use crate::store::STORE_FILE;

    /// Write-ahead logging: queries run while a write is in progress.
    pub(in crate::store) const JOURNAL_MODE: &str = "wal";

    /// Whether a store file is at `path`.
    pub(in crate::store) fn exists(path: &Path) -> bool {
        path.exists()
    }

    /// Makes the data directory (and its parents).
    pub fn create_data_dir(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "creating directory",
            path: dir.to_owned(),
            source,
        })
    }

    /// Checks that `dir` can be a data directory: the first of it and its parents that exists is
    /// a directory ([`Error::NotADirectory`] names the file in the way otherwise).
    pub fn check_data_dir(dir: &Path) -> Result<()> {
        for ancestor in dir.ancestors() {
            if let Ok(meta) = std::fs::metadata(ancestor) {
                if meta.is_dir() {
                    return Ok(());
                }
                return Err(Error::NotADirectory {
                    path: ancestor.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Why the store at `path` cannot be written, if that is the trouble: its directory (SQLite
    /// creates its write-ahead log beside it) or the file itself is read-only for this user. Only
    /// asked after SQLite failed; the directory is tested by creating (and removing) a file in
    /// it, since permission bits alone do not say what this user, or a read-only mount, allows.
    pub(in crate::store) fn read_only(path: &Path) -> Option<Error> {
        let refused = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            )
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let probe = dir.join(format!(
            ".{STORE_FILE}-write-test-{}",
            crate::ids::new_entity_id().unwrap_or_default()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) if refused(&e) => {
                return Some(Error::ReadOnly {
                    what: "data directory",
                    path: dir.to_owned(),
                });
            }
            Err(_) => {}
        }
        match std::fs::OpenOptions::new().write(true).open(path) {
            Err(e) if refused(&e) => Some(Error::ReadOnly {
                what: "store file",
                path: path.to_owned(),
            }),
            _ => None,
        }
    }

    /// A file too short to hold one page is no store (checked before SQLite sees it).
    pub(in crate::store) fn check_size(path: &Path) -> Result<()> {
        let len = std::fs::metadata(path)
            .map_err(|source| Error::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            })?
            .len();
        if len < 512 {
            return Err(Error::CorruptStore {
                path: path.to_owned(),
                reason: format!("the file is {len} bytes, too short for a store"),
            });
        }
        Ok(())
    }

    /// Whether the file starts like an unencrypted SQLite database.
    pub(in crate::store) fn plaintext_sqlite(path: &Path) -> bool {
        use std::io::Read;
        let mut header = [0u8; 16];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut header))
            .is_ok()
            && &header == b"SQLite format 3\0"
    }

    /// Compares the page count the (decrypted) header records with the bytes on disk (the file
    /// and its write-ahead log): fewer bytes than pages means the file was cut short.
    pub(in crate::store) fn check_not_truncated(conn: &Connection, path: &Path) -> Result<()> {
        let pages = conn.pragma_query_value(None, "page_count", |r| r.get::<_, i64>(0))? as u64;
        // SQLCipher answers `page_size` as text.
        let page_size: u64 = conn
            .pragma_query_value(None, "page_size", |r| r.get::<_, String>(0))?
            .parse()
            .unwrap_or(4096);
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let len = size(path) + size(Path::new(&wal));
        if pages * page_size > len {
            return Err(Error::CorruptStore {
                path: path.to_owned(),
                reason: format!(
                    "the file is truncated: {len} bytes, but its header says {pages} pages of {page_size}"
                ),
            });
        }
        Ok(())
    }
}

#[cfg(browser)]
mod browser {
    use std::path::Path;

    use rusqlite::{Connection, OpenFlags};

    use crate::error::{Error, Result};

    /// `opfs-sahpool` has no shared memory, so no write-ahead log: a rollback journal,
    /// truncated rather than deleted after each commit (cheaper on OPFS).
    pub(in crate::store) const JOURNAL_MODE: &str = "truncate";

    /// Whether a store file is at `path`: SQLite opens it read-only, which fails for a file
    /// that is not there.
    pub(in crate::store) fn exists(path: &Path) -> bool {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).is_ok()
    }

    /// Every name is a place for a store in OPFS.
    pub fn check_data_dir(_dir: &Path) -> Result<()> {
        Ok(())
    }

    /// The VFS keeps its files flat: there is no directory to make.
    pub fn create_data_dir(_dir: &Path) -> Result<()> {
        Ok(())
    }

    /// OPFS files are always this origin's to write.
    pub(in crate::store) fn read_only(_path: &Path) -> Option<Error> {
        None
    }

    /// SQLite's own checks (a wrong key, a damaged page) name a bad file here.
    pub(in crate::store) fn check_size(_path: &Path) -> Result<()> {
        Ok(())
    }

    /// A store in OPFS is only ever written by this app, encrypted.
    pub(in crate::store) fn plaintext_sqlite(_path: &Path) -> bool {
        false
    }

    /// The VFS's files are not reachable to measure; SQLite notices a missing page on reading.
    pub(in crate::store) fn check_not_truncated(_conn: &Connection, _path: &Path) -> Result<()> {
        Ok(())
    }
}
