//! Multi-process tests of Groundwork: real processes, real SQLite files, real crashes. The
//! tests live in `tests/`; the helper programs they start live in `src/bin/`; what the tests
//! share lives here.

pub mod pg;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use groundwork_core::identity::Identity;
use groundwork_core::ids::DocumentId;
use serde_json::Value;

/// What the helpers here return.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The path of a binary of this workspace (`groundwork`, `groundwork-relay`), built once per
/// test process: they belong to other packages, so cargo does not build them for these tests.
///
/// # Panics
/// If building them fails: no test here can run without them.
pub fn bin(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "-q",
            "-p",
            "groundwork-cli",
            "-p",
            "groundwork-relay",
        ]);
        // Cargo sets these for the test process; a build script that watches one (ring's
        // watches CARGO_MANIFEST_DIR) would rebuild half the workspace on every test run.
        for (var, _) in std::env::vars_os() {
            let name = var.to_string_lossy();
            if [
                "CARGO_MANIFEST",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
                "CARGO_TARGET_TMPDIR",
            ]
            .iter()
            .any(|p| name.starts_with(p))
            {
                build.env_remove(&var);
            }
        }
        let status = build.status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "building the binaries failed"
        );
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join(name)
}

/// The store key tests use for stores they open directly (never a real key).
pub fn test_key() -> groundwork_core::store::StoreKey {
    groundwork_core::store::StoreKey::from_bytes([7; 32])
}

/// The key of a store the CLI made in `dir` (its `store.key` file).
pub fn cli_key(dir: &Path) -> groundwork_core::store::StoreKey {
    groundwork_core::store::StoreKey::read_file(&dir.join("store.key"))
        .unwrap_or_else(|_| test_key())
}

/// A real relay process on a loopback port, killed (SIGKILL) when dropped.
pub struct Relay {
    child: std::process::Child,
    /// `HOST:PORT` it listens on, from its first line of output.
    pub addr: String,
    /// Its data directory.
    pub data: PathBuf,
}

/// How a test starts a relay: `Relay::options(data).arg(..).log_to(..).start()`.
pub struct RelayOptions {
    data: PathBuf,
    program: Option<PathBuf>,
    listen: String,
    args: Vec<std::ffi::OsString>,
    log: Option<PathBuf>,
}

impl RelayOptions {
    /// Listen on this address instead of an ephemeral port (a restart on the same port).
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = addr.to_owned();
        self
    }

    /// Runs this relay binary instead of the workspace's (a copy pinned for a long run, which
    /// a rebuild meanwhile must not swap under it).
    pub fn program(mut self, path: &Path) -> Self {
        self.program = Some(path.to_owned());
        self
    }

    /// One more command-line argument.
    pub fn arg(mut self, arg: impl Into<std::ffi::OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The addresses it answers at (`--public-url`, each): every node of one relay names all
    /// of them, so that devices take the nodes for one relay.
    pub fn public_urls(mut self, urls: &[String]) -> Self {
        for url in urls {
            self.args.push("--public-url".into());
            self.args.push(url.into());
        }
        self
    }

    /// Writes the relay's log (stderr, at `warn`) to `file` instead of the test's stderr.
    pub fn log_to(mut self, file: &Path) -> Self {
        self.log = Some(file.to_owned());
        self
    }

    /// Starts it and waits for its "listening on" line.
    pub fn start(self) -> Result<Relay, Box<dyn std::error::Error>> {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let stderr = match &self.log {
            Some(file) => Stdio::from(std::fs::File::create(file)?),
            None => Stdio::inherit(),
        };
        let program = self.program.unwrap_or_else(|| bin("groundwork-relay"));
        let mut child = Command::new(program)
            .args(["--listen", &self.listen])
            .args(&self.args)
            .arg("--data")
            .arg(&self.data)
            .env("GROUNDWORK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        Ok(Relay {
            child,
            addr,
            data: self.data,
        })
    }
}

/// `n` free loopback addresses (`127.0.0.1:PORT`), for relay nodes that must each name every
/// node's address before any starts: each port is bound (port 0) and let go. Another process
/// could take one meanwhile; on a test machine's loopback that is rare, and the start fails
/// loudly then.
pub fn free_addrs(n: usize) -> Res<Vec<String>> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    Ok(held
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<_, _>>()?)
}

/// The sync URL of a relay listening on `addr` (`HOST:PORT`).
pub fn sync_url(addr: &str) -> String {
    format!("ws://{addr}/v1/sync")
}

/// Whether any file under `dir` (read whole, raw bytes) contains `needle`: for checks that
/// something is not stored, in plain text or in any document's bytes.
pub fn files_contain(dir: &Path, needle: &str) -> Res<bool> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if files_contain(&path, needle)? {
                return Ok(true);
            }
        } else if std::fs::read(&path)?
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a device's store in `dir` holds `needle` anywhere, read as an attacker with the
/// device's key would read it: every text and blob of every table, decrypted, and the whole
/// history of every document (each change decoded, values and all). A scan of the raw files
/// alone would prove nothing: they are encrypted.
pub fn store_contains(dir: &Path, needle: &str) -> Res<bool> {
    let path = dir.join(groundwork_core::store::STORE_FILE);
    db_contains(
        &groundwork_core::store::connect_raw(&path, &cli_key(dir))?,
        needle,
    )
}

/// [`store_contains`] for the relay's store in `data`.
pub fn relay_contains(data: &Path, needle: &str) -> Res<bool> {
    db_contains(&relay_db(data)?, needle)
}

/// Every text and blob of every table, and the whole decoded history of every document in
/// `chunks`.
fn db_contains(conn: &rusqlite::Connection, needle: &str) -> Res<bool> {
    let has = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..columns {
                if let rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) =
                    row.get_ref(i)?
                    && has(b)
                {
                    return Ok(true);
                }
            }
        }
    }
    let mut docs: std::collections::BTreeMap<String, automerge::AutoCommit> = Default::default();
    let mut stmt = conn.prepare("SELECT doc_id, bytes FROM chunks ORDER BY doc_id, seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(1)?;
        docs.entry(row.get(0)?)
            .or_default()
            .load_incremental(&bytes)?;
    }
    for doc in docs.values_mut() {
        for change in doc.get_changes(&[]) {
            if format!("{:?}", change.decode()).contains(needle) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A plain HTTP/1.1 GET of `path` on `addr` (`HOST:PORT`): the status code and the body.
pub fn http_get(addr: &str, path: &str) -> Res<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {reply:?}"))?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// A connection to the relay's store in `data` (`relay.db`), unlocked with its key file
/// (`relay.key`, which the relay made on its first start): for checks of what it stored.
pub fn relay_db(data: &Path) -> Res<rusqlite::Connection> {
    let key = groundwork_core::store::StoreKey::read_file(&data.join("relay.key"))?;
    let conn = groundwork_core::store::connect_raw(&data.join("relay.db"), &key)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

impl Relay {
    /// A relay on an ephemeral loopback port with its data in `data`.
    pub fn start(data: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        Self::options(data).start()
    }

    /// Options for a relay with its data in `data`.
    pub fn options(data: &Path) -> RelayOptions {
        RelayOptions {
            data: data.to_owned(),
            program: None,
            listen: "127.0.0.1:0".into(),
            args: Vec::new(),
            log: None,
        }
    }

    /// Its sync endpoint, `ws://HOST:PORT/v1/sync`.
    pub fn url(&self) -> String {
        sync_url(&self.addr)
    }

    /// SIGKILLs it and waits for it to be gone.
    pub fn kill(mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(|_| ())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device driven through the real `groundwork` binary, with its data in `dir`.
pub struct Device {
    /// Its data directory.
    pub dir: PathBuf,
}

impl Device {
    /// Runs `init` for a new device named `name` in `root/name`.
    pub fn new(root: &Path, name: &str) -> Res<Self> {
        let d = Device {
            dir: root.join(name),
        };
        d.run(&["init", "--name", name])?;
        Ok(d)
    }

    /// Runs a command with `--json`.
    pub fn cmd(&self, args: &[&str]) -> Res<std::process::Output> {
        Ok(Command::new(bin("groundwork"))
            .arg("--data")
            .arg(&self.dir)
            .args(args)
            .arg("--json")
            .output()?)
    }

    /// Runs a command with `--json` that must succeed, and returns its JSON.
    pub fn run(&self, args: &[&str]) -> Res<Value> {
        let out = self.cmd(args)?;
        if !out.status.success() {
            return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Runs a command that must fail, and returns its error message.
    pub fn refused(&self, args: &[&str]) -> Res<String> {
        let out = self.cmd(args)?;
        if out.status.success() {
            return Err(format!(
                "{args:?} succeeded: {}",
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// `sync --once` with the relay.
    pub fn sync(&self, relay: &Relay) -> Res<Value> {
        self.run(&["sync", "--relay", &relay.url(), "--once", "--timeout", "20"])
    }

    /// Its key pair, read from its store.
    pub fn identity(&self) -> Res<Identity> {
        Ok(groundwork_core::Device::open(&self.dir, &cli_key(&self.dir))?.identity()?)
    }

    /// The stored bytes of one of this device's documents.
    pub fn document(&self, doc: &DocumentId) -> Res<Vec<u8>> {
        Ok(groundwork_core::Device::open(&self.dir, &cli_key(&self.dir))?.document_bytes(doc)?)
    }

    /// Its device id.
    pub fn id(&self) -> Res<String> {
        Ok(self.identity()?.device_id())
    }
}

/// A string field of a JSON value, or an error naming it.
pub fn field(v: &Value, key: &str) -> Res<String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key} in {v}").into())
}

/// One document as a store holds it, decoded from its chunks: for comparing replicas.
#[derive(Clone, Debug)]
pub struct StoredDoc {
    /// plan | contacts | roster | brief | board.
    pub kind: String,
    /// Its group (none for a board).
    pub group: Option<String>,
    /// The device that writes it (contacts).
    pub owner: Option<String>,
    /// Its heads, sorted, as hex.
    pub heads: Vec<String>,
    /// Its current content as JSON (text objects as strings): where a value can be looked for
    /// once, instead of decoding the store again per value.
    pub content: String,
}

/// Every document of the device store in `dir` (its `documents` and `chunks` tables, read
/// with the device's key), by document id.
pub fn device_documents(dir: &Path) -> Res<std::collections::BTreeMap<String, StoredDoc>> {
    let path = dir.join(groundwork_core::store::STORE_FILE);
    stored_documents(&groundwork_core::store::connect_raw(&path, &cli_key(dir))?)
}

/// Every document of the relay's store in `data`, by document id. Safe while the relay
/// runs (a reader of its write-ahead log).
pub fn relay_documents(data: &Path) -> Res<std::collections::BTreeMap<String, StoredDoc>> {
    stored_documents(&relay_db(data)?)
}

/// Device and relay stores share the shape read here: `documents(doc_id, group_id, kind,
/// owner)` and `chunks(doc_id, seq, bytes)`, a document being its chunks applied in order.
fn stored_documents(
    conn: &rusqlite::Connection,
) -> Res<std::collections::BTreeMap<String, StoredDoc>> {
    // One read transaction, so that a relay writing meanwhile cannot show a record without
    // its chunks or the reverse.
    conn.execute_batch("BEGIN")?;
    let result = (|| -> Res<_> {
        let mut docs = conn.prepare("SELECT doc_id, group_id, kind, owner FROM documents")?;
        let mut rows = docs.query([])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            records.push((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?));
        }
        let mut chunks = conn.prepare("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
        decoded(records, |id| {
            let mut rows = chunks.query([id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(row.get(0)?);
            }
            Ok(out)
        })
    })();
    conn.execute_batch("COMMIT")?;
    result
}

/// Every document of a relay's PostgreSQL database (`url`), as [`relay_documents`] reads
/// SQLite's: one snapshot of the tables, while nodes write.
pub fn relay_documents_pg(url: &str) -> Res<std::collections::BTreeMap<String, StoredDoc>> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()?;
    let records = tx
        .query("SELECT doc_id, group_id, kind, owner FROM documents", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let out = decoded(records, |id| {
        Ok(tx
            .query(
                "SELECT bytes FROM chunks WHERE doc_id = $1 ORDER BY seq",
                &[&id],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    })?;
    tx.commit()?;
    Ok(out)
}

/// Documents from their records (id, group, kind, owner) and chunks.
#[allow(clippy::type_complexity)]
fn decoded(
    records: Vec<(String, Option<String>, String, Option<String>)>,
    mut chunks: impl FnMut(&str) -> Res<Vec<Vec<u8>>>,
) -> Res<std::collections::BTreeMap<String, StoredDoc>> {
    let mut out = std::collections::BTreeMap::new();
    for (id, group, kind, owner) in records {
        let mut doc = automerge::AutoCommit::new();
        for bytes in chunks(&id)? {
            doc.load_incremental(&bytes)?;
        }
        let mut heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
        heads.sort();
        let content = serde_json::to_string(&automerge::AutoSerde::from(&doc))?;
        out.insert(
            id,
            StoredDoc {
                kind,
                group,
                owner,
                heads,
                content,
            },
        );
    }
    Ok(out)
}

/// A long-running `groundwork sync` and the JSON events it prints, one per line.
pub struct RunningSync {
    /// The `groundwork sync` process.
    pub child: std::process::Child,
    events: std::sync::mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl RunningSync {
    /// Starts `groundwork --data DIR sync --relay URL --json`.
    pub fn start(dir: &Path, url: &str) -> Res<Self> {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut child = Command::new(bin("groundwork"))
            .arg("--data")
            .arg(dir)
            .args(["sync", "--relay", url, "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            events,
            seen: Vec::new(),
        })
    }

    /// The next event matching `want`; the timeout only guards against a hang.
    pub fn wait_for(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Res<Value> {
        loop {
            match self.events.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if want(&event) {
                        return Ok(event);
                    }
                }
                Err(e) => return Err(format!("no {what} event ({e}); saw {:?}", self.seen).into()),
            }
        }
    }

    /// The next connection event in `state`.
    pub fn state(&mut self, state: &str) -> Res<Value> {
        self.wait_for(state, |e| e["event"] == "connection" && e["state"] == state)
    }

    /// The next `synced` event.
    pub fn synced(&mut self) -> Res<Value> {
        self.wait_for("synced", |e| e["event"] == "synced")
    }
}

impl Drop for RunningSync {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
