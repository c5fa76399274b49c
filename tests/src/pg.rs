//! A throw-away PostgreSQL cluster for tests: Debian's server binaries, `initdb` into a
//! temporary directory and `pg_ctl` on a Unix socket there (no TCP port, nothing shared with
//! the machine's own clusters), stopped and deleted when dropped. As root (CI), the cluster
//! runs as the unprivileged `postgres` user (`nobody` where there is none): initdb refuses root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Res;

/// The socket's port number (it only names the socket file in our private directory); a
/// cluster on TCP names its socket by its TCP port.
const PORT: u16 = 5432;

/// A running cluster.
pub struct Cluster {
    /// Holds the data directory, the socket and the log; deleted on drop.
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The OS user the server runs as (`None`: as this process's user).
    run_as: Option<String>,
    /// The superuser role (the OS user that ran initdb).
    role: String,
    /// A TCP port on 127.0.0.1 it also listens on, with TLS (`None`: its socket only).
    tcp: Option<u16>,
}

/// Where Debian's server binaries are: `GROUNDWORK_PG_BIN`, else the newest
/// `/usr/lib/postgresql/N/bin`, else wherever `initdb` is on the PATH.
fn bin_dir() -> Res<PathBuf> {
    if let Some(dir) = std::env::var_os("GROUNDWORK_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    match Path::new(&path).parent() {
        Some(dir) if found.status.success() && !path.is_empty() => Ok(dir.to_owned()),
        _ => Err(
            "PostgreSQL's server is not installed (Debian: apt-get install postgresql); \
                  scripts/test installs it"
                .into(),
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The uid and gid of an OS user.
fn ids_of(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

impl Cluster {
    /// Makes a cluster and starts it; waits until it takes connections.
    pub fn start() -> Res<Self> {
        Self::make(None)
    }

    /// A cluster that also listens on a TCP port of 127.0.0.1 with TLS, serving `cert_pem`
    /// with `key_pem` (and its socket, as always); the port is [`Cluster::tcp_port`].
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> Res<Self> {
        Self::make(Some((cert_pem, key_pem)))
    }

    /// The TCP port, for a cluster started with TLS.
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp
    }

    /// The superuser role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    fn make(tls: Option<(&str, &str)>) -> Res<Self> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new().prefix("groundwork-pg").tempdir()?;
        let (run_as, role) = if is_root() {
            let user = ["postgres", "nobody"]
                .into_iter()
                .find(|u| ids_of(u).is_some())
                .ok_or("no unprivileged user to run PostgreSQL as")?;
            let (uid, gid) = ids_of(user).ok_or("no such user")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
            (Some(user.to_owned()), user.to_owned())
        } else {
            let user = std::env::var("USER").unwrap_or_else(|_| "postgres".into());
            (None, user)
        };
        let tcp = match tls {
            Some(_) => Some(
                std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port(),
            ),
            None => None,
        };
        let cluster = Cluster {
            dir,
            bin,
            run_as,
            role,
            tcp,
        };
        cluster.run(
            "initdb",
            &[
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
                "-D",
                &cluster.data().to_string_lossy(),
            ],
        )?;
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            // The server reads them as its own user; the key must be private to it.
            for (name, pem, mode) in [("server.crt", cert, 0o644), ("server.key", key, 0o600)] {
                let path = cluster.data().join(name);
                std::fs::write(&path, pem)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
                if let Some(user) = &cluster.run_as {
                    let (uid, gid) = ids_of(user).ok_or("no such user")?;
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
                }
            }
        }
        cluster.start_server()?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs one of the server's programs as the cluster's user.
    fn run(&self, program: &str, args: &[&str]) -> Res<()> {
        let path = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output()?;
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            return Err(format!(
                "{program} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }

    /// Starts the server (again) and waits until it takes connections.
    pub fn start_server(&self) -> Res<()> {
        let listen = match self.tcp {
            Some(port) => format!("-c listen_addresses=127.0.0.1 -p {port} -c ssl=on"),
            None => format!("-c listen_addresses= -p {PORT}"),
        };
        let options = format!(
            "-k {} {listen} -c max_connections=200 -c fsync=on",
            self.socket_dir().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-o",
                &options,
                "-l",
                &self.dir.path().join("server.log").to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// Stops the server at once (`immediate`: no checkpoint, as a crash would).
    pub fn stop_immediately(&self) -> Res<()> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    /// The server's postmaster (its backends are its children, and come and go with
    /// connections).
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse().ok())
            .into_iter()
            .collect()
    }

    /// The connection string of database `db` (libpq's key=value form, over the socket).
    pub fn url(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} dbname={db}",
            self.socket_dir().display(),
            self.tcp.unwrap_or(PORT),
            self.role
        )
    }

    /// A connection to the maintenance database, as the superuser.
    pub fn admin(&self) -> Res<postgres::Client> {
        self.admin_of("postgres")
    }

    /// A connection to database `db`, as the superuser (a test's own hand in it).
    pub fn admin_of(&self, db: &str) -> Res<postgres::Client> {
        Ok(postgres::Client::connect(&self.url(db), postgres::NoTls)?)
    }

    /// Makes a fresh, empty database; its connection string.
    pub fn create_database(&self, name: &str) -> Res<String> {
        self.admin()?
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(name))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop_immediately();
    }
}
