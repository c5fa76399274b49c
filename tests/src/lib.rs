//! Multi-process tests of Groundwork: real processes, real SQLite files, real crashes. The
//! tests live in `tests/`; the helper programs they start live in `src/bin/`; what the tests
//! share lives here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

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
